#include "mt_scan.h"

void mt_scan_init(mt_scan_t *s, uint8_t n_emg, uint16_t battery_every, int32_t adc_mid, int32_t adc_max)
{
    s->n_emg = (n_emg > MT_MAX_CHANNELS) ? (uint8_t)MT_MAX_CHANNELS : n_emg;
    s->battery_in_scan = 0u;
    s->battery_every = battery_every ? battery_every : 1u;
    s->countdown = 0u;
    s->adc_mid = adc_mid;
    s->adc_max = adc_max;
    s->battery_raw = -1;
    s->battery_samples = 0u;
}

void mt_scan_set_battery_every(mt_scan_t *s, uint16_t battery_every)
{
    s->battery_every = battery_every ? battery_every : 1u;
    if (s->countdown >= s->battery_every) {
        s->countdown = (uint16_t)(s->battery_every - 1u);
    }
}

uint8_t mt_scan_begin(mt_scan_t *s)
{
    if (s->countdown == 0u) {
        s->countdown = (uint16_t)(s->battery_every - 1u);
        s->battery_in_scan = 1u;
        return (uint8_t)(s->n_emg + 1u);
    }
    s->countdown--;
    s->battery_in_scan = 0u;
    return s->n_emg;
}

void mt_scan_end(mt_scan_t *s, mt_device_t *d, const int16_t *results_ptr, uint8_t n_results)
{
    int32_t v[MT_MAX_CHANNELS];
    uint8_t c;
    for (c = 0u; c < s->n_emg; c++) {
        int32_t raw = (c < n_results) ? results_ptr[c] : s->adc_mid;
        if (raw <= 0 || raw >= s->adc_max) {
            d->saturated = 1u;
        }
        v[c] = raw - s->adc_mid;
    }
    if (s->battery_in_scan && n_results > s->n_emg) {
        s->battery_raw = results_ptr[s->n_emg];
        s->battery_samples++;
    }
    s->battery_in_scan = 0u;
    mt_device_sample(d, v);
}

int32_t mt_scan_battery_raw(const mt_scan_t *s)
{
    return s->battery_raw;
}
