#include "mt_notify.h"

#include "mt_frame.h"

uint16_t mt_notify_payload(uint16_t att_mtu)
{
    if (att_mtu < MT_ATT_MTU_MIN) {
        att_mtu = MT_ATT_MTU_MIN;
    }
    if (att_mtu > MT_ATT_MTU_MAX) {
        att_mtu = MT_ATT_MTU_MAX;
    }
    return (uint16_t)(att_mtu - 3u);
}

size_t mt_samples_frame_len(uint8_t n_samples, uint8_t n_channels, uint8_t sample_format)
{
    size_t width = (sample_format == MT_FMT_INT24) ? 3u : 2u;
    return MT_FRAME_ENCODED_MAX(7u + (size_t)n_samples * n_channels * width);
}

uint16_t mt_notify_count(size_t frame_len, uint16_t att_mtu)
{
    uint16_t p = mt_notify_payload(att_mtu);
    return (uint16_t)((frame_len + p - 1u) / p);
}

uint8_t mt_notify_frame_samples(uint16_t att_mtu, uint16_t rate_hz, uint8_t n_channels, uint8_t sample_format,
                                uint8_t max_samples)
{
    uint32_t limit = (uint32_t)rate_hz * MT_NOTIFY_MAX_LATENCY_MS / 1000u;
    uint32_t best_n = 1u, best_k = mt_notify_count(mt_samples_frame_len(1u, n_channels, sample_format), att_mtu);
    uint32_t n;
    if (limit > max_samples) {
        limit = max_samples;
    }
    for (n = 2u; n <= limit; n++) {
        uint32_t k = mt_notify_count(mt_samples_frame_len((uint8_t)n, n_channels, sample_format), att_mtu);
        if (k * best_n < best_k * n) { /* k/n < best_k/best_n: fewer notifications per sample */
            best_n = n;
            best_k = k;
        }
    }
    return (uint8_t)best_n;
}

void mt_notify_link_init(mt_notify_link_t *l)
{
    l->att_mtu = 0u;
    l->rate_hz = 0u;
}

uint16_t mt_notify_follow(mt_notify_link_t *l, mt_device_t *d, uint16_t att_mtu)
{
    uint16_t mtu = (uint16_t)(mt_notify_payload(att_mtu) + 3u);
    if (mtu != l->att_mtu || d->info.sample_rate_hz != l->rate_hz) {
        l->att_mtu = mtu;
        l->rate_hz = d->info.sample_rate_hz;
        mt_device_set_frame_samples(d, mt_notify_frame_samples(mtu, l->rate_hz, d->info.n_channels,
                                                               d->info.sample_format, (uint8_t)MT_FRAME_SAMPLES_MAX));
    }
    return mt_notify_payload(mtu);
}
