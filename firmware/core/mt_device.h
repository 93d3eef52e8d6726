/* The device's protocol logic, independent of the board: sampling hook, command handling,
 * and the frames to send. A board supplies a few hooks and calls three functions:
 *   mt_device_sample()  from the sampling timer interrupt,
 *   mt_device_receive() with bytes from USB/BLE/UART,
 *   mt_device_poll()    from the main loop, sending whatever frame it returns. */
#ifndef MT_DEVICE_H
#define MT_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "mt_cmd.h"
#include "mt_config.h"
#include "mt_frame.h"
#include "mt_ring.h"

#ifndef MT_FRAME_SAMPLES_MAX
#define MT_FRAME_SAMPLES_MAX 64u
#endif
#define MT_REPLY_QUEUE 4u

typedef struct {
    /* Change the sampling rate (only called while stopped); return 1 if the board can. */
    uint8_t (*set_rate)(void *ctx, uint16_t hz);
    uint16_t (*battery_mv)(void *ctx);
    uint8_t (*battery_pct)(void *ctx);   /* 255 = unknown */
    uint8_t (*lead_off_mask)(void *ctx); /* bit per channel */
    uint32_t (*millis)(void *ctx);
    void *ctx;
} mt_board_t;

typedef struct {
    uint8_t kind; /* MT_T_ACK, MT_T_PONG, MT_T_INFO, MT_T_STATUS */
    uint8_t opcode, status;
    uint32_t token;
} mt_reply_t;

typedef struct {
    mt_info_t info;
    const mt_board_t *board;
    mt_ring_t ring;
    mt_cmd_parser_t parser;
    volatile uint32_t counter;     /* running sample counter (interrupt writes) */
    volatile uint8_t streaming;
    uint8_t saturated;             /* set by the board when an ADC reading hit a rail */
    uint16_t seq;
    uint8_t frame_samples;
    uint32_t last_status_ms;
    mt_reply_t replies[MT_REPLY_QUEUE];
    uint8_t n_replies;
} mt_device_t;

/* Initialise with the device's identity; frame_samples = samples per channel per frame. */
void mt_device_init(mt_device_t *d, const mt_info_t *info, const mt_board_t *board, uint8_t frame_samples);

/* Change the samples per frame (main loop, e.g. when the BLE MTU changes); clamped to 1..MT_FRAME_SAMPLES_MAX. */
void mt_device_set_frame_samples(mt_device_t *d, uint8_t frame_samples);

/* Sampling interrupt: one reading per channel. Counts every sample; queues it when streaming. */
void mt_device_sample(mt_device_t *d, const int32_t *values_ptr);

/* Bytes received from the host (commands). */
void mt_device_receive(mt_device_t *d, const uint8_t *data_ptr, size_t data_len);

/* Main loop: writes the next frame to send into out_ptr and returns its length (0: nothing). */
size_t mt_device_poll(mt_device_t *d, uint8_t *out_ptr, size_t out_cap);

/* Samples per frame that keep one frame inside one BLE notification of the given ATT MTU. */
uint8_t mt_frame_samples_for_mtu(uint16_t mtu, uint8_t n_channels, uint8_t sample_format);

#endif
