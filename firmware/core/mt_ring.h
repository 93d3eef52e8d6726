/* Lock-free single-producer / single-consumer ring of sample sets.
 *
 * Concurrency contract: exactly one producer (the sampling interrupt) calls mt_ring_push,
 * exactly one consumer (the main loop) calls mt_ring_pop/mt_ring_count. The producer
 * writes only `head`, the consumer only `tail`; each reads the other's index, which is why
 * MT_RING_INDEX_T must be a type the CPU reads and writes in one access. A slot is filled
 * before its index is published (MT_BARRIER). When the ring is full the new sample is
 * dropped and counted in `overruns`; its sample index is never reused, so the host sees
 * the exact gap. */
#ifndef MT_RING_H
#define MT_RING_H

#include <stdint.h>

#include "mt_config.h"

#if (MT_RING_CAPACITY & (MT_RING_CAPACITY - 1u)) != 0u
#error "MT_RING_CAPACITY must be a power of two"
#endif

typedef struct {
    uint32_t index;                  /* the device's running sample counter for this set */
    int32_t values[MT_MAX_CHANNELS]; /* ADC counts per channel */
} mt_sample_set_t;

typedef struct {
    mt_sample_set_t slots[MT_RING_CAPACITY];
    volatile MT_RING_INDEX_T head;   /* next slot to write (producer) */
    volatile MT_RING_INDEX_T tail;   /* next slot to read (consumer) */
    volatile uint32_t overruns;      /* samples dropped because the ring was full (producer) */
} mt_ring_t;

/* Empty the ring (call before the producer starts). */
void mt_ring_init(mt_ring_t *ring);

/* Producer: store a set; returns 1, or 0 (and counts an overrun) when full. */
uint8_t mt_ring_push(mt_ring_t *ring, uint32_t index, const int32_t *values_ptr, uint8_t n_channels);

/* Consumer: sets waiting to be read. */
uint16_t mt_ring_count(const mt_ring_t *ring);

/* Consumer: read the oldest set into *out; returns 1, or 0 when empty. */
uint8_t mt_ring_pop(mt_ring_t *ring, mt_sample_set_t *out);

/* Consumer: the k-th oldest set without removing it (k < mt_ring_count). */
const mt_sample_set_t *mt_ring_at(const mt_ring_t *ring, uint16_t k);

#endif
