#include "mt_device.h"

static void queue_reply(mt_device_t *d, uint8_t kind, uint8_t opcode, uint8_t status, uint32_t token)
{
    if (d->n_replies < MT_REPLY_QUEUE) {
        mt_reply_t *r = &d->replies[d->n_replies++];
        r->kind = kind;
        r->opcode = opcode;
        r->status = status;
        r->token = token;
    }
}

void mt_device_init(mt_device_t *d, const mt_info_t *info, const mt_board_t *board, uint8_t frame_samples)
{
    d->info = *info;
    d->board = board;
    mt_ring_init(&d->ring);
    mt_cmd_init(&d->parser);
    d->counter = 0u;
    d->streaming = 0u;
    d->saturated = 0u;
    d->seq = 0u;
    mt_device_set_frame_samples(d, frame_samples);
    d->last_status_ms = 0u;
    d->n_replies = 0u;
}

void mt_device_set_frame_samples(mt_device_t *d, uint8_t frame_samples)
{
    d->frame_samples = (frame_samples == 0u) ? 1u : (frame_samples > MT_FRAME_SAMPLES_MAX ? MT_FRAME_SAMPLES_MAX : frame_samples);
}

void mt_device_sample(mt_device_t *d, const int32_t *values_ptr)
{
    uint32_t index = d->counter;
    d->counter = index + 1u;
    if (d->streaming) {
        (void)mt_ring_push(&d->ring, index, values_ptr, d->info.n_channels);
    }
}

static void handle(mt_device_t *d, const mt_command_t *c)
{
    switch (c->opcode) {
    case MT_CMD_START:
        d->streaming = 1u;
        d->info.streaming = 1u;
        queue_reply(d, MT_T_ACK, c->opcode, MT_ACK_OK, 0u);
        break;
    case MT_CMD_STOP:
        d->streaming = 0u;
        d->info.streaming = 0u;
        queue_reply(d, MT_T_ACK, c->opcode, MT_ACK_OK, 0u);
        break;
    case MT_CMD_SET_RATE:
        if (d->streaming) {
            queue_reply(d, MT_T_ACK, c->opcode, MT_ACK_BUSY, 0u);
        } else if (c->argument < 250u || c->argument > 4000u || d->board == NULL || d->board->set_rate == NULL ||
                   !d->board->set_rate(d->board->ctx, (uint16_t)c->argument)) {
            queue_reply(d, MT_T_ACK, c->opcode, MT_ACK_BAD_ARG, 0u);
        } else {
            d->info.sample_rate_hz = (uint16_t)c->argument;
            queue_reply(d, MT_T_ACK, c->opcode, MT_ACK_OK, 0u);
            queue_reply(d, MT_T_INFO, 0u, 0u, 0u);
        }
        break;
    case MT_CMD_PING:
        queue_reply(d, MT_T_PONG, 0u, 0u, c->argument);
        break;
    case MT_CMD_GET_INFO:
        queue_reply(d, MT_T_INFO, 0u, 0u, 0u);
        break;
    case MT_CMD_GET_STATUS:
        queue_reply(d, MT_T_STATUS, 0u, 0u, 0u);
        break;
    default:
        queue_reply(d, MT_T_ACK, c->opcode, MT_ACK_UNKNOWN, 0u);
        break;
    }
}

void mt_device_receive(mt_device_t *d, const uint8_t *data_ptr, size_t data_len)
{
    size_t i;
    mt_command_t c;
    for (i = 0; i < data_len; i++) {
        if (mt_cmd_feed(&d->parser, data_ptr[i], &c)) {
            handle(d, &c);
        }
    }
}

static size_t status_frame(mt_device_t *d, uint8_t *out_ptr, size_t out_cap)
{
    mt_status_t s;
    const mt_board_t *b = d->board;
    s.battery_mv = (b && b->battery_mv) ? b->battery_mv(b->ctx) : 0u;
    s.battery_pct = (b && b->battery_pct) ? b->battery_pct(b->ctx) : 255u;
    s.lead_off_mask = (b && b->lead_off_mask) ? b->lead_off_mask(b->ctx) : 0u;
    s.flags = (uint8_t)((d->streaming ? MT_STATUS_STREAMING : 0u) | (s.lead_off_mask ? MT_STATUS_LEAD_OFF : 0u) |
                        (d->saturated ? MT_STATUS_SATURATED : 0u));
    d->saturated = 0u;
    s.overruns = d->ring.overruns;
    s.sample_counter = d->counter;
    s.uptime_ms = (b && b->millis) ? b->millis(b->ctx) : 0u;
    return mt_frame_status(&s, d->seq++, out_ptr, out_cap);
}

size_t mt_device_poll(mt_device_t *d, uint8_t *out_ptr, size_t out_cap)
{
    int32_t counts[MT_FRAME_SAMPLES_MAX * MT_MAX_CHANNELS];
    mt_sample_set_t set;
    uint32_t first, now;
    uint16_t have, run = 0u;
    uint8_t n, c, nch = d->info.n_channels;
    if (d->n_replies > 0u) {
        mt_reply_t r = d->replies[0];
        size_t len = 0u;
        uint8_t i;
        for (i = 1u; i < d->n_replies; i++) {
            d->replies[i - 1u] = d->replies[i];
        }
        d->n_replies--;
        switch (r.kind) {
        case MT_T_ACK: len = mt_frame_ack(r.opcode, r.status, d->seq++, out_ptr, out_cap); break;
        case MT_T_PONG: len = mt_frame_pong(r.token, d->seq++, out_ptr, out_cap); break;
        case MT_T_INFO: len = mt_frame_info(&d->info, d->seq++, out_ptr, out_cap); break;
        default: len = status_frame(d, out_ptr, out_cap); break;
        }
        return len;
    }
    now = (d->board && d->board->millis) ? d->board->millis(d->board->ctx) : 0u;
    if (d->streaming && (uint32_t)(now - d->last_status_ms) >= 1000u) {
        d->last_status_ms = now;
        return status_frame(d, out_ptr, out_cap);
    }
    have = mt_ring_count(&d->ring);
    if (have == 0u) {
        return 0u;
    }
    /* a frame carries a contiguous run of sample indices; wait for a full frame unless an
     * overrun already broke the run inside the ring */
    first = mt_ring_at(&d->ring, 0u)->index;
    while (run < have && run < d->frame_samples && mt_ring_at(&d->ring, run)->index == first + run) {
        run++;
    }
    if (run < d->frame_samples && run == have) {
        return 0u;
    }
    for (n = 0u; n < run; n++) {
        (void)mt_ring_pop(&d->ring, &set);
        for (c = 0; c < nch; c++) {
            counts[(size_t)n * nch + c] = set.values[c];
        }
    }
    return mt_frame_samples(first, nch, d->info.sample_format, counts, (uint8_t)run, d->seq++, out_ptr, out_cap);
}

uint8_t mt_frame_samples_for_mtu(uint16_t mtu, uint8_t n_channels, uint8_t sample_format)
{
    /* notification payload = MTU - 3; frame = payload+13 bytes of overhead (header 4, samples
     * header 7, CRC 2) + COBS (1 per 254) + delimiter */
    uint16_t room = (uint16_t)(mtu > 23u ? mtu - 3u : 20u);
    uint16_t width = (uint16_t)((sample_format == MT_FMT_INT24 ? 3u : 2u) * (n_channels ? n_channels : 1u));
    uint16_t n;
    if (room < 16u + width) {
        return 1u;
    }
    n = (uint16_t)((room - 16u) / width);
    if (n > MT_FRAME_SAMPLES_MAX) {
        n = MT_FRAME_SAMPLES_MAX;
    }
    return (uint8_t)(n ? n : 1u);
}
