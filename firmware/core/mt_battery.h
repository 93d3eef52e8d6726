/* Battery voltage from a raw ADC reading behind a resistor divider, and a charge estimate.
 * Pure arithmetic: the board decides when the ADC samples the battery (see mt_scan.h). */
#ifndef MT_BATTERY_H
#define MT_BATTERY_H

#include <stdint.h>

typedef struct {
    uint8_t resolution_bits;  /* ADC resolution, e.g. 12 */
    uint16_t full_scale_mv;   /* input voltage at full scale: reference / gain, e.g. 600 mV / (1/6) = 3600 */
    uint32_t r_top_ohm;       /* divider resistor from the battery to the ADC pin */
    uint32_t r_bottom_ohm;    /* divider resistor from the ADC pin to ground (through the enable switch) */
} mt_battery_divider_t;

/* Battery millivolts for a raw reading (negative readings, from offset error, count as 0). */
uint16_t mt_battery_mv(const mt_battery_divider_t *div, int32_t raw);

/* Single-cell LiPo charge estimate, 0..100 (linear between 3300 and 4150 mV); 255 = unknown (mv == 0). */
uint8_t mt_battery_pct(uint16_t mv);

#endif
