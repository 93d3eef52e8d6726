/* Lock-free single-producer / single-consumer byte queue for received command bytes.
 *
 * For links whose hardware holds only a byte or two (the ATmega328P's UART: a two-character
 * FIFO), so that bytes arriving while the main loop is busy sending a frame are kept: the
 * receive interrupt calls mt_rxq_put, the main loop mt_rxq_get and hands the bytes to
 * mt_device_receive(). The XIAO sketch queues the bytes its BLE write callback gets on another
 * task the same way, so that loop() alone touches the device's state. Same contract as
 * mt_ring.h: the producer writes only `head`, the consumer only `tail`; both are uint8_t, read
 * and written in one access on every CPU. A byte that finds the queue full is dropped and
 * counted (the host's command then fails its CRC and is answered by nothing, as on a noisy
 * line). */
#ifndef MT_RXQ_H
#define MT_RXQ_H

#include <stdint.h>

#include "mt_config.h"

/* Bytes the queue holds (power of two, at most 128). Default: four of the longest command. */
#ifndef MT_RXQ_CAPACITY
#define MT_RXQ_CAPACITY 64u
#endif

#if (MT_RXQ_CAPACITY & (MT_RXQ_CAPACITY - 1u)) != 0u || MT_RXQ_CAPACITY > 128u || MT_RXQ_CAPACITY < 2u
#error "MT_RXQ_CAPACITY must be a power of two from 2 to 128"
#endif

typedef struct {
    uint8_t bytes[MT_RXQ_CAPACITY];
    volatile uint8_t head;     /* next slot to write (producer) */
    volatile uint8_t tail;     /* next slot to read (consumer) */
    volatile uint8_t dropped;  /* bytes lost to a full queue (producer; saturates at 255) */
} mt_rxq_t;

/* Empty the queue (before the producer starts). */
void mt_rxq_init(mt_rxq_t *q);

/* Producer (receive interrupt): store one byte; 1, or 0 (counted in `dropped`) when full. */
uint8_t mt_rxq_put(mt_rxq_t *q, uint8_t byte);

/* Consumer (main loop): the oldest byte into *out; 1, or 0 when empty. */
uint8_t mt_rxq_get(mt_rxq_t *q, uint8_t *out);

#endif
