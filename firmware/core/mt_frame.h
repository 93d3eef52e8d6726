/* myotwitch frames (PROTOCOL.md): header (version, type, seq), payload, CRC-16, COBS, 0x00.
 * Encoders write straight into the caller's buffer; nothing is allocated. */
#ifndef MT_FRAME_H
#define MT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "mt_config.h"

enum {
    MT_T_INFO = 0x01, MT_T_SAMPLES = 0x02, MT_T_STATUS = 0x03, MT_T_PONG = 0x04, MT_T_ACK = 0x05,
    MT_T_COMMAND = 0x10
};
enum { MT_FMT_INT16 = 1, MT_FMT_INT24 = 2 };
enum {
    MT_CMD_START = 1, MT_CMD_STOP = 2, MT_CMD_SET_RATE = 3, MT_CMD_PING = 4, MT_CMD_GET_INFO = 5,
    MT_CMD_GET_STATUS = 6
};
enum { MT_ACK_OK = 0, MT_ACK_UNKNOWN = 1, MT_ACK_BAD_ARG = 2, MT_ACK_BUSY = 3 };
enum { MT_STATUS_LEAD_OFF = 1, MT_STATUS_SATURATED = 2, MT_STATUS_STREAMING = 4, MT_STATUS_USB_POWER = 8 };

/* Decode results. */
typedef enum {
    MT_OK = 0, MT_ERR_COBS = 1, MT_ERR_LENGTH = 2, MT_ERR_CRC = 3, MT_ERR_FIELD = 4, MT_ERR_ARG = 5
} mt_result_t;

#define MT_LABEL_MAX 16u
/* an INFO's scale must lie in (0, this) µV per count (PROTOCOL.md; host protocol.MAX_UV_PER_COUNT) */
#define MT_MAX_UV_PER_COUNT 1e6f

typedef struct {
    uint8_t protocol_version;
    uint8_t fw_major, fw_minor, fw_patch;
    uint64_t device_id;
    uint16_t sample_rate_hz;
    uint8_t n_channels;
    uint8_t sample_format;
    float uv_per_count;
    uint8_t streaming;
    char labels[MT_MAX_CHANNELS][MT_LABEL_MAX + 1u];
} mt_info_t;

typedef struct {
    uint16_t battery_mv;
    uint8_t battery_pct; /* 255 = unknown */
    uint8_t flags;
    uint8_t lead_off_mask;
    uint32_t overruns;
    uint32_t sample_counter;
    uint32_t uptime_ms;
} mt_status_t;

/* A decoded frame (any type). Sample data is only kept for up to MT_DECODE_MAX_COUNTS values. */
#ifndef MT_DECODE_MAX_COUNTS
#define MT_DECODE_MAX_COUNTS 512u
#endif
typedef struct {
    uint8_t version, type;
    uint16_t seq;
    union {
        mt_info_t info;
        mt_status_t status;
        struct { uint32_t first; uint8_t n_channels, format, n; int32_t counts[MT_DECODE_MAX_COUNTS]; } samples;
        struct { uint32_t token; } pong;
        struct { uint8_t opcode, status; } ack;
        struct { uint8_t opcode; uint32_t argument; } command;
    } u;
} mt_frame_t;

/* Worst-case encoded size of a frame with a payload of n bytes (incl. delimiter). */
#define MT_FRAME_ENCODED_MAX(n) ((n) + 6u + (((n) + 6u) / 254u) + 2u)

/* Each encoder returns the number of bytes written to out_ptr (frame + 0x00), 0 on error. */
size_t mt_frame_info(const mt_info_t *info, uint16_t seq, uint8_t *out_ptr, size_t out_cap);
size_t mt_frame_samples(uint32_t first_sample, uint8_t n_channels, uint8_t sample_format,
                        const int32_t *counts_ptr, uint8_t n_samples, uint16_t seq, uint8_t *out_ptr, size_t out_cap);
size_t mt_frame_status(const mt_status_t *status, uint16_t seq, uint8_t *out_ptr, size_t out_cap);
size_t mt_frame_pong(uint32_t token, uint16_t seq, uint8_t *out_ptr, size_t out_cap);
size_t mt_frame_ack(uint8_t opcode, uint8_t status, uint16_t seq, uint8_t *out_ptr, size_t out_cap);
size_t mt_frame_command(uint8_t opcode, uint32_t argument, uint16_t seq, uint8_t *out_ptr, size_t out_cap);

/* Parse a COMMAND payload (after the 4-byte header, before the CRC). */
mt_result_t mt_command_parse(const uint8_t *payload_ptr, size_t payload_len, uint8_t *opcode, uint32_t *argument);

/* Decode one COBS-encoded frame (without the delimiter) into *frame.
 * scratch_ptr/scratch_cap hold the decoded body. */
mt_result_t mt_frame_decode(const uint8_t *enc_ptr, size_t enc_len, uint8_t *scratch_ptr, size_t scratch_cap,
                            mt_frame_t *frame);

#endif
