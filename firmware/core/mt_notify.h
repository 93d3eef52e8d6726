/* Frames over BLE notifications. The notify characteristic carries the same COBS byte stream
 * as USB, cut into notifications of at most ATT_MTU - 3 bytes; the host reassembles frames at
 * the 0x00 delimiters, so a frame may span notifications. Each frame starts a new notification;
 * its size is chosen for the fewest notifications per second within MT_NOTIFY_MAX_LATENCY_MS,
 * because the radio's packet rate, not its byte rate, is what runs out at small MTUs.
 * See PROTOCOL.md, "BLE". */
#ifndef MT_NOTIFY_H
#define MT_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "mt_device.h"

#define MT_ATT_MTU_MIN 23u   /* BLE default: what every link has before (or without) an MTU exchange */
#define MT_ATT_MTU_MAX 247u  /* largest the nRF52 SoftDevice negotiates */
#ifndef MT_NOTIFY_MAX_LATENCY_MS
#define MT_NOTIFY_MAX_LATENCY_MS 20u
#endif

/* Notification payload for an ATT MTU (values outside 23..247 are clamped: 20..244 bytes). */
uint16_t mt_notify_payload(uint16_t att_mtu);

/* Worst-case encoded length (with COBS and delimiter) of a SAMPLES frame of n samples. */
size_t mt_samples_frame_len(uint8_t n_samples, uint8_t n_channels, uint8_t sample_format);

/* Samples per frame for a link: the n in 1..min(max_samples, MT_NOTIFY_MAX_LATENCY_MS at rate_hz)
 * with the fewest notifications per sample; among equals the smallest n (lowest latency). */
uint8_t mt_notify_frame_samples(uint16_t att_mtu, uint16_t rate_hz, uint8_t n_channels, uint8_t sample_format,
                                uint8_t max_samples);

/* Notifications needed to send a frame of frame_len bytes. */
uint16_t mt_notify_count(size_t frame_len, uint16_t att_mtu);

/* The link a device streams over: call mt_notify_follow() before each poll with the MTU the
 * connection reports now (MT_ATT_MTU_MIN when none is agreed yet); it re-sizes the device's
 * frames whenever the MTU or the sampling rate changed. Returns the notification payload. */
typedef struct {
    uint16_t att_mtu, rate_hz;
} mt_notify_link_t;
void mt_notify_link_init(mt_notify_link_t *l);
uint16_t mt_notify_follow(mt_notify_link_t *l, mt_device_t *d, uint16_t att_mtu);

#endif
