#include "mt_ring.h"

#include <stddef.h>

#define MASK ((MT_RING_INDEX_T)(MT_RING_CAPACITY - 1u))

/* Indices run freely and wrap at the index type's range; MT_RING_CAPACITY divides it, so
 * (head - tail) is the fill level. With an 8-bit index the capacity must be <= 128. */
typedef char mt_ring_capacity_fits_index[(MT_RING_CAPACITY <= ((1ul << (8u * sizeof(MT_RING_INDEX_T))) >> 1)) ? 1 : -1];

void mt_ring_init(mt_ring_t *ring)
{
    ring->head = 0u;
    ring->tail = 0u;
    ring->overruns = 0u;
}

uint8_t mt_ring_push(mt_ring_t *ring, uint32_t index, const int32_t *values_ptr, uint8_t n_channels)
{
    MT_RING_INDEX_T head = ring->head;
    mt_sample_set_t *slot;
    uint8_t c;
    if ((MT_RING_INDEX_T)(head - ring->tail) >= (MT_RING_INDEX_T)MT_RING_CAPACITY) {
        ring->overruns++;
        return 0u;
    }
    slot = &ring->slots[head & MASK];
    slot->index = index;
    for (c = 0; c < n_channels && c < MT_MAX_CHANNELS; c++) {
        slot->values[c] = values_ptr[c];
    }
    MT_BARRIER();
    ring->head = (MT_RING_INDEX_T)(head + 1u);
    return 1u;
}

uint16_t mt_ring_count(const mt_ring_t *ring)
{
    return (uint16_t)(MT_RING_INDEX_T)(ring->head - ring->tail);
}

const mt_sample_set_t *mt_ring_at(const mt_ring_t *ring, uint16_t k)
{
    MT_BARRIER();
    return &ring->slots[(MT_RING_INDEX_T)(ring->tail + k) & MASK];
}

uint8_t mt_ring_pop(mt_ring_t *ring, mt_sample_set_t *out)
{
    MT_RING_INDEX_T tail = ring->tail;
    if (ring->head == tail) {
        return 0u;
    }
    MT_BARRIER();
    *out = ring->slots[tail & MASK];
    MT_BARRIER();
    ring->tail = (MT_RING_INDEX_T)(tail + 1u);
    return 1u;
}
