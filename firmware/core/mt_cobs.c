#include "mt_cobs.h"

static void put_raw(mt_cobs_enc_t *enc, uint8_t b)
{
    if (enc->len >= enc->dst_cap) {
        enc->error = 1u;
        return;
    }
    enc->dst_ptr[enc->len++] = b;
}

static void open_block(mt_cobs_enc_t *enc)
{
    enc->code_at = enc->len;
    enc->code = 1u;
    put_raw(enc, 0u); /* placeholder for the code byte */
}

static void close_block(mt_cobs_enc_t *enc)
{
    if (!enc->error && enc->code_at < enc->dst_cap) {
        enc->dst_ptr[enc->code_at] = enc->code;
    }
}

void mt_cobs_enc_begin(mt_cobs_enc_t *enc, uint8_t *dst_ptr, size_t dst_cap)
{
    enc->dst_ptr = dst_ptr;
    enc->dst_cap = (dst_ptr == NULL) ? 0u : dst_cap;
    enc->len = 0u;
    enc->error = 0u;
    open_block(enc);
}

void mt_cobs_enc_put(mt_cobs_enc_t *enc, uint8_t byte)
{
    if (byte == 0u) {
        close_block(enc);
        open_block(enc);
        return;
    }
    put_raw(enc, byte);
    enc->code++;
    if (enc->code == 0xFFu) {
        close_block(enc);
        open_block(enc);
    }
}

size_t mt_cobs_enc_end(mt_cobs_enc_t *enc)
{
    close_block(enc);
    put_raw(enc, 0u);
    return enc->error ? 0u : enc->len;
}

size_t mt_cobs_decode(const uint8_t *src_ptr, size_t src_len, uint8_t *dst_ptr, size_t dst_cap)
{
    size_t i = 0u, out = 0u;
    if (src_ptr == NULL || dst_ptr == NULL) {
        return SIZE_MAX;
    }
    while (i < src_len) {
        uint8_t code = src_ptr[i];
        size_t end = i + code, j;
        if (code == 0u || end > src_len) {
            return SIZE_MAX;
        }
        for (j = i + 1u; j < end; j++) {
            if (src_ptr[j] == 0u || out >= dst_cap) {
                return SIZE_MAX;
            }
            dst_ptr[out++] = src_ptr[j];
        }
        i = end;
        if (code != 0xFFu && i < src_len) {
            if (out >= dst_cap) {
                return SIZE_MAX;
            }
            dst_ptr[out++] = 0u;
        }
    }
    return out;
}
