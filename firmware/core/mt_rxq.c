#include "mt_rxq.h"

#define RXQ_MASK ((uint8_t)(MT_RXQ_CAPACITY - 1u))

/* head and tail run freely and wrap at 256; the capacity divides 256, so (head - tail) is the
 * fill level. */

void mt_rxq_init(mt_rxq_t *q)
{
    q->head = 0u;
    q->tail = 0u;
    q->dropped = 0u;
}

uint8_t mt_rxq_put(mt_rxq_t *q, uint8_t byte)
{
    uint8_t head = q->head;
    if ((uint8_t)(head - q->tail) >= (uint8_t)MT_RXQ_CAPACITY) {
        if (q->dropped != 255u) {
            q->dropped = (uint8_t)(q->dropped + 1u);
        }
        return 0u;
    }
    q->bytes[head & RXQ_MASK] = byte;
    MT_BARRIER();
    q->head = (uint8_t)(head + 1u);
    return 1u;
}

uint8_t mt_rxq_get(mt_rxq_t *q, uint8_t *out)
{
    uint8_t tail = q->tail;
    if (q->head == tail) {
        return 0u;
    }
    MT_BARRIER();
    *out = q->bytes[tail & RXQ_MASK];
    MT_BARRIER();
    q->tail = (uint8_t)(tail + 1u);
    return 1u;
}
