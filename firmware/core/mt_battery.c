#include "mt_battery.h"

uint16_t mt_battery_mv(const mt_battery_divider_t *div, int32_t raw)
{
    uint64_t numerator, mv;
    uint32_t full = (uint32_t)1u << div->resolution_bits;
    if (raw <= 0 || div->r_bottom_ohm == 0u) {
        return 0u;
    }
    if ((uint32_t)raw > full) {
        raw = (int32_t)full;
    }
    /* mv = raw / 2^bits * full_scale * (top + bottom) / bottom, rounded to nearest */
    numerator = (uint64_t)(uint32_t)raw * div->full_scale_mv * ((uint64_t)div->r_top_ohm + div->r_bottom_ohm);
    mv = (numerator + ((uint64_t)full * div->r_bottom_ohm) / 2u) / ((uint64_t)full * div->r_bottom_ohm);
    return (uint16_t)(mv > 0xFFFFu ? 0xFFFFu : mv);
}

uint8_t mt_battery_pct(uint16_t mv)
{
    if (mv == 0u) {
        return 255u;
    }
    if (mv <= 3300u) {
        return 0u;
    }
    if (mv >= 4150u) {
        return 100u;
    }
    return (uint8_t)(((uint32_t)(mv - 3300u) * 100u + 425u) / 850u);
}
