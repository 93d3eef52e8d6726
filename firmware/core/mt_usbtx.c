#include "mt_usbtx.h"

#include <string.h>

void mt_usbtx_init(mt_usbtx_t *q)
{
    q->len = 0;
    q->sent = 0;
    q->dropped = 0;
}

uint8_t mt_usbtx_offer(mt_usbtx_t *q, const uint8_t *frame, size_t n)
{
    if (q->sent < q->len || n > MT_USBTX_MAX) {
        q->dropped++;
        return 0;
    }
    memcpy(q->frame, frame, n);
    q->len = (uint16_t)n;
    q->sent = 0;
    return 1;
}

const uint8_t *mt_usbtx_next(const mt_usbtx_t *q, size_t room, size_t *n)
{
    size_t left = (size_t)(q->len - q->sent);
    *n = left < room ? left : room;
    return q->frame + q->sent;
}

void mt_usbtx_sent(mt_usbtx_t *q, size_t n)
{
    size_t left = (size_t)(q->len - q->sent);
    q->sent = (uint16_t)(q->sent + (n < left ? n : left));
}

void mt_usbtx_reset(mt_usbtx_t *q)
{
    q->len = 0;
    q->sent = 0;
}
