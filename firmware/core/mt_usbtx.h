/* A frame sender for a port the host may stop reading (USB CDC), that never blocks.
 *
 * The XIAO streams every frame over BLE and, when a program on the computer has its USB port
 * open, over USB as well. The core's USB write waits while the port's 256-byte FIFO is full,
 * for as long as the port stays open: a program that opens the port and stops reading (a
 * stalled terminal, a probe left behind) stopped loop(), and BLE with it. Frames go out here a
 * FIFO's room at a time instead: one frame is kept while it goes out, whole, and a frame that
 * comes while the last one is still going out is dropped and counted (the host sees the gap by
 * the sample counter). A frame is never cut: after `mt_usbtx_reset` (the port closed) the next
 * one starts at its first byte. */
#ifndef MT_USBTX_H
#define MT_USBTX_H

#include <stddef.h>
#include <stdint.h>

#ifndef MT_USBTX_MAX
#define MT_USBTX_MAX 300u  /* the longest frame the device sends */
#endif

typedef struct {
    uint8_t frame[MT_USBTX_MAX];
    uint16_t len;      /* the frame being sent (0: none) */
    uint16_t sent;     /* ... its bytes written so far */
    uint32_t dropped;  /* frames not sent: the last was still going out, or too long */
} mt_usbtx_t;

void mt_usbtx_init(mt_usbtx_t *q);

/* Take a frame to send: 1, or 0 (counted in `dropped`) while the last is still going out. */
uint8_t mt_usbtx_offer(mt_usbtx_t *q, const uint8_t *frame, size_t n);

/* The bytes to write now, at most `room` (the port's free FIFO space): a pointer and *n (0:
 * nothing to write). Tell `mt_usbtx_sent` how many the port took. */
const uint8_t *mt_usbtx_next(const mt_usbtx_t *q, size_t room, size_t *n);
void mt_usbtx_sent(mt_usbtx_t *q, size_t n);

/* The port closed: the part-sent frame is forgotten, so the next program reads whole frames. */
void mt_usbtx_reset(mt_usbtx_t *q);

#endif
