/* Consistent Overhead Byte Stuffing, streaming encoder (no intermediate buffer) and decoder. */
#ifndef MT_COBS_H
#define MT_COBS_H

#include <stddef.h>
#include <stdint.h>

/* Worst-case encoded size of n bytes (without the 0x00 delimiter). */
#define MT_COBS_ENCODE_MAX(n) ((n) + ((n) / 254u) + 1u)

typedef struct {
    uint8_t *dst_ptr;
    size_t dst_cap;
    size_t len;      /* bytes written so far (including the open block's code byte) */
    size_t code_at;  /* index of the open block's code byte */
    uint8_t code;    /* 1 + bytes in the open block */
    uint8_t error;   /* set when dst_cap was too small */
} mt_cobs_enc_t;

/* Start encoding into dst (dst_cap bytes). */
void mt_cobs_enc_begin(mt_cobs_enc_t *enc, uint8_t *dst_ptr, size_t dst_cap);

/* Encode one more source byte. */
void mt_cobs_enc_put(mt_cobs_enc_t *enc, uint8_t byte);

/* Close the last block and append the 0x00 delimiter; returns total length or 0 on overflow. */
size_t mt_cobs_enc_end(mt_cobs_enc_t *enc);

/* Decode src (without delimiter) into dst; returns the decoded length or SIZE_MAX when the
 * input is not valid COBS or dst is too small. */
size_t mt_cobs_decode(const uint8_t *src_ptr, size_t src_len, uint8_t *dst_ptr, size_t dst_cap);

#endif
