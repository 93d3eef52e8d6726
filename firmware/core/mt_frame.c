#include "mt_frame.h"

#include <string.h>

#include "mt_cobs.h"
#include "mt_crc16.h"

/* A frame under construction: bytes go through the CRC and the COBS encoder as they come. */
typedef struct {
    mt_cobs_enc_t cobs;
    uint16_t crc;
    size_t body_len;
} builder_t;

static void put(builder_t *b, uint8_t byte)
{
    b->crc = mt_crc16_update(b->crc, byte);
    mt_cobs_enc_put(&b->cobs, byte);
    b->body_len++;
}

static void put_u16(builder_t *b, uint16_t v) { put(b, (uint8_t)v); put(b, (uint8_t)(v >> 8)); }

static void put_u32(builder_t *b, uint32_t v)
{
    put_u16(b, (uint16_t)v);
    put_u16(b, (uint16_t)(v >> 16));
}

static void begin(builder_t *b, uint8_t type, uint16_t seq, uint8_t *out_ptr, size_t out_cap)
{
    b->crc = MT_CRC16_INIT;
    b->body_len = 0u;
    mt_cobs_enc_begin(&b->cobs, out_ptr, out_cap);
    put(b, (uint8_t)MT_PROTOCOL_VERSION);
    put(b, type);
    put_u16(b, seq);
}

static size_t end(builder_t *b)
{
    uint16_t crc = b->crc;
    mt_cobs_enc_put(&b->cobs, (uint8_t)crc);
    mt_cobs_enc_put(&b->cobs, (uint8_t)(crc >> 8));
    b->body_len += 2u;
    if (b->body_len > MT_MAX_BODY) {
        return 0u;
    }
    return mt_cobs_enc_end(&b->cobs);
}

size_t mt_frame_info(const mt_info_t *info, uint16_t seq, uint8_t *out_ptr, size_t out_cap)
{
    builder_t b;
    uint8_t i;
    uint32_t fbits;
    if (info == NULL || out_ptr == NULL || info->n_channels == 0u || info->n_channels > MT_MAX_CHANNELS) {
        return 0u;
    }
    begin(&b, MT_T_INFO, seq, out_ptr, out_cap);
    put(&b, info->protocol_version);
    put(&b, info->fw_major);
    put(&b, info->fw_minor);
    put(&b, info->fw_patch);
    put_u32(&b, (uint32_t)info->device_id);
    put_u32(&b, (uint32_t)(info->device_id >> 32));
    put_u16(&b, info->sample_rate_hz);
    put(&b, info->n_channels);
    put(&b, info->sample_format);
    memcpy(&fbits, &info->uv_per_count, sizeof fbits); /* IEEE-754 single, little-endian on the wire */
    put_u32(&b, fbits);
    put(&b, info->streaming ? 1u : 0u);
    for (i = 0; i < info->n_channels; i++) {
        size_t n = strlen(info->labels[i]), k;
        if (n > MT_LABEL_MAX) {
            n = MT_LABEL_MAX;
        }
        put(&b, (uint8_t)n);
        for (k = 0; k < n; k++) {
            put(&b, (uint8_t)info->labels[i][k]);
        }
    }
    return end(&b);
}

size_t mt_frame_samples(uint32_t first_sample, uint8_t n_channels, uint8_t sample_format,
                        const int32_t *counts_ptr, uint8_t n_samples, uint16_t seq, uint8_t *out_ptr, size_t out_cap)
{
    builder_t b;
    size_t i, total = (size_t)n_samples * n_channels;
    if (counts_ptr == NULL || out_ptr == NULL || n_samples == 0u || n_channels == 0u ||
        n_channels > MT_MAX_CHANNELS || (sample_format != MT_FMT_INT16 && sample_format != MT_FMT_INT24)) {
        return 0u;
    }
    begin(&b, MT_T_SAMPLES, seq, out_ptr, out_cap);
    put_u32(&b, first_sample);
    put(&b, n_channels);
    put(&b, sample_format);
    put(&b, n_samples);
    for (i = 0; i < total; i++) {
        uint32_t v = (uint32_t)counts_ptr[i];
        put(&b, (uint8_t)v);
        put(&b, (uint8_t)(v >> 8));
        if (sample_format == MT_FMT_INT24) {
            put(&b, (uint8_t)(v >> 16));
        }
    }
    return end(&b);
}

size_t mt_frame_status(const mt_status_t *s, uint16_t seq, uint8_t *out_ptr, size_t out_cap)
{
    builder_t b;
    if (s == NULL || out_ptr == NULL) {
        return 0u;
    }
    begin(&b, MT_T_STATUS, seq, out_ptr, out_cap);
    put_u16(&b, s->battery_mv);
    put(&b, s->battery_pct);
    put(&b, s->flags);
    put(&b, s->lead_off_mask);
    put_u32(&b, s->overruns);
    put_u32(&b, s->sample_counter);
    put_u32(&b, s->uptime_ms);
    return end(&b);
}

size_t mt_frame_pong(uint32_t token, uint16_t seq, uint8_t *out_ptr, size_t out_cap)
{
    builder_t b;
    if (out_ptr == NULL) {
        return 0u;
    }
    begin(&b, MT_T_PONG, seq, out_ptr, out_cap);
    put_u32(&b, token);
    return end(&b);
}

size_t mt_frame_ack(uint8_t opcode, uint8_t status, uint16_t seq, uint8_t *out_ptr, size_t out_cap)
{
    builder_t b;
    if (out_ptr == NULL) {
        return 0u;
    }
    begin(&b, MT_T_ACK, seq, out_ptr, out_cap);
    put(&b, opcode);
    put(&b, status);
    return end(&b);
}

size_t mt_frame_command(uint8_t opcode, uint32_t argument, uint16_t seq, uint8_t *out_ptr, size_t out_cap)
{
    builder_t b;
    if (out_ptr == NULL) {
        return 0u;
    }
    begin(&b, MT_T_COMMAND, seq, out_ptr, out_cap);
    put(&b, opcode);
    if (opcode == MT_CMD_SET_RATE) {
        put_u16(&b, (uint16_t)argument);
    } else if (opcode == MT_CMD_PING) {
        put_u32(&b, argument);
    }
    return end(&b);
}

/* -- decoding ------------------------------------------------------------------------------ */
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | ((uint32_t)rd16(p + 2) << 16); }

mt_result_t mt_command_parse(const uint8_t *p, size_t plen, uint8_t *opcode, uint32_t *argument)
{
    if (p == NULL || opcode == NULL || argument == NULL || plen < 1u) {
        return MT_ERR_FIELD;
    }
    *opcode = p[0];
    *argument = 0u;
    switch (p[0]) { /* a known command of the wrong length is damaged: dropped */
    case MT_CMD_SET_RATE:
        if (plen != 3u) {
            return MT_ERR_FIELD;
        }
        *argument = rd16(p + 1);
        break;
    case MT_CMD_PING:
        if (plen != 5u) {
            return MT_ERR_FIELD;
        }
        *argument = rd32(p + 1);
        break;
    case MT_CMD_START:
    case MT_CMD_STOP:
    case MT_CMD_GET_INFO:
    case MT_CMD_GET_STATUS:
        if (plen != 1u) {
            return MT_ERR_FIELD;
        }
        break;
    default: /* an opcode this firmware does not know is delivered, so the device can answer
              * ACK "unknown command" (a newer host's command), whatever its argument bytes */
        break;
    }
    return MT_OK;
}

static mt_result_t parse_info(const uint8_t *p, size_t n, mt_info_t *info)
{
    size_t i = 21u;
    uint8_t ch;
    uint32_t fbits;
    if (n < 21u) {
        return MT_ERR_LENGTH;
    }
    info->protocol_version = p[0];
    info->fw_major = p[1];
    info->fw_minor = p[2];
    info->fw_patch = p[3];
    info->device_id = (uint64_t)rd32(p + 4) | ((uint64_t)rd32(p + 8) << 32);
    info->sample_rate_hz = rd16(p + 12);
    info->n_channels = p[14];
    info->sample_format = p[15];
    fbits = rd32(p + 16);
    memcpy(&info->uv_per_count, &fbits, sizeof fbits);
    info->streaming = (uint8_t)(p[20] & 1u);
    if (info->n_channels == 0u || info->n_channels > MT_MAX_CHANNELS ||
        (info->sample_format != MT_FMT_INT16 && info->sample_format != MT_FMT_INT24) ||
        info->sample_rate_hz < 250u || info->sample_rate_hz > 4000u ||
        !(info->uv_per_count > 0.0f && info->uv_per_count < MT_MAX_UV_PER_COUNT)) { /* (NaN and +inf fail too) */
        return MT_ERR_FIELD;
    }
    for (ch = 0; ch < info->n_channels; ch++) {
        uint8_t len, k;
        if (i >= n) {
            return MT_ERR_FIELD;
        }
        len = p[i];
        if (len > MT_LABEL_MAX || i + 1u + len > n) {
            return MT_ERR_FIELD;
        }
        for (k = 0; k < len; k++) {
            if (p[i + 1u + k] > 0x7Fu) { /* labels are ASCII (PROTOCOL.md), as the host checks */
                return MT_ERR_FIELD;
            }
        }
        memcpy(info->labels[ch], p + i + 1u, len);
        info->labels[ch][len] = '\0';
        i += 1u + len;
    }
    return (i == n) ? MT_OK : MT_ERR_FIELD;
}

mt_result_t mt_frame_decode(const uint8_t *enc_ptr, size_t enc_len, uint8_t *scratch_ptr, size_t scratch_cap,
                            mt_frame_t *f)
{
    size_t n, plen, i;
    const uint8_t *p;
    if (enc_ptr == NULL || scratch_ptr == NULL || f == NULL) {
        return MT_ERR_ARG;
    }
    n = mt_cobs_decode(enc_ptr, enc_len, scratch_ptr, scratch_cap);
    if (n == SIZE_MAX) {
        return MT_ERR_COBS;
    }
    if (n < 6u || n > MT_MAX_BODY) { /* (a larger body is invalid however large the caller's scratch) */
        return MT_ERR_LENGTH;
    }
    if (mt_crc16(scratch_ptr, n - 2u) != rd16(scratch_ptr + n - 2u)) {
        return MT_ERR_CRC;
    }
    f->version = scratch_ptr[0];
    f->type = scratch_ptr[1];
    f->seq = rd16(scratch_ptr + 2);
    if (f->version != MT_PROTOCOL_VERSION) {
        return MT_ERR_FIELD;
    }
    p = scratch_ptr + 4;
    plen = n - 6u;
    switch (f->type) {
    case MT_T_INFO:
        return parse_info(p, plen, &f->u.info);
    case MT_T_SAMPLES: {
        size_t width, count;
        if (plen < 7u) {
            return MT_ERR_LENGTH;
        }
        f->u.samples.first = rd32(p);
        f->u.samples.n_channels = p[4];
        f->u.samples.format = p[5];
        f->u.samples.n = p[6];
        width = (p[5] == MT_FMT_INT16) ? 2u : (p[5] == MT_FMT_INT24 ? 3u : 0u);
        count = (size_t)p[6] * p[4];
        if (width == 0u || p[4] == 0u || p[4] > MT_MAX_CHANNELS || p[6] == 0u || plen != 7u + count * width ||
            count > MT_DECODE_MAX_COUNTS) {
            return MT_ERR_FIELD;
        }
        for (i = 0; i < count; i++) {
            const uint8_t *q = p + 7u + i * width;
            if (width == 2u) {
                f->u.samples.counts[i] = (int16_t)rd16(q);
            } else {
                uint32_t v = (uint32_t)q[0] | ((uint32_t)q[1] << 8) | ((uint32_t)q[2] << 16);
                f->u.samples.counts[i] = (v & 0x800000u) ? (int32_t)(v | 0xFF000000u) : (int32_t)v;
            }
        }
        return MT_OK;
    }
    case MT_T_STATUS:
        if (plen != 17u) {
            return MT_ERR_FIELD;
        }
        f->u.status.battery_mv = rd16(p);
        f->u.status.battery_pct = p[2];
        f->u.status.flags = p[3];
        f->u.status.lead_off_mask = p[4];
        f->u.status.overruns = rd32(p + 5);
        f->u.status.sample_counter = rd32(p + 9);
        f->u.status.uptime_ms = rd32(p + 13);
        return MT_OK;
    case MT_T_PONG:
        if (plen != 4u) {
            return MT_ERR_FIELD;
        }
        f->u.pong.token = rd32(p);
        return MT_OK;
    case MT_T_ACK:
        if (plen != 2u) {
            return MT_ERR_FIELD;
        }
        f->u.ack.opcode = p[0];
        f->u.ack.status = p[1];
        return MT_OK;
    case MT_T_COMMAND:
        return mt_command_parse(p, plen, &f->u.command.opcode, &f->u.command.argument);
    default:
        return MT_ERR_FIELD;
    }
}
