/* One ADC, one owner. The sampling interrupt converts the EMG channels on every tick and adds
 * the battery channel (last in the scan) on every Nth tick, so no other code ever needs the ADC
 * and a battery reading never delays or displaces an EMG sample. The board starts the scan
 * with the channel count mt_scan_begin() returns and hands the results to mt_scan_end(). */
#ifndef MT_SCAN_H
#define MT_SCAN_H

#include <stdint.h>

#include "mt_device.h"

typedef struct {
    uint8_t n_emg;                   /* EMG channels, converted on every tick */
    uint8_t battery_in_scan;         /* this tick's scan includes the battery channel */
    uint16_t battery_every;          /* ticks from one battery sample to the next (>= 1) */
    uint16_t countdown;              /* ticks until the next battery sample */
    int32_t adc_mid, adc_max;        /* EMG: code of 0 V input to the amplifier, largest code */
    volatile int32_t battery_raw;    /* latest battery reading; -1 until the first */
    volatile uint32_t battery_samples;
} mt_scan_t;

/* The first tick includes the battery, so a reading exists before the first STATUS frame. */
void mt_scan_init(mt_scan_t *s, uint8_t n_emg, uint16_t battery_every, int32_t adc_mid, int32_t adc_max);

/* Change the battery interval (e.g. with the sampling rate, to keep it at once a second). */
void mt_scan_set_battery_every(mt_scan_t *s, uint16_t battery_every);

/* Interrupt, start of a tick: the number of channels to convert (n_emg, or n_emg + 1). */
uint8_t mt_scan_begin(mt_scan_t *s);

/* Interrupt, end of a tick: results in scan order (EMG 0..n_emg-1, then the battery if it was
 * scanned). Gives the device one centred sample per EMG channel and flags rail hits. */
void mt_scan_end(mt_scan_t *s, mt_device_t *d, const int16_t *results_ptr, uint8_t n_results);

/* Main loop: the latest battery reading (-1: none yet). Never touches the ADC. */
int32_t mt_scan_battery_raw(const mt_scan_t *s);

#endif
