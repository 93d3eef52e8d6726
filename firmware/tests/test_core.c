/* Unit tests of the portable firmware core, run on the host under ASan/UBSan. */
#include <stdlib.h>
#include <string.h>

#include "../core/mt_cmd.h"
#include "../core/mt_cobs.h"
#include "../core/mt_crc16.h"
#include "../core/mt_device.h"
#include "../core/mt_frame.h"
#include "../core/mt_ring.h"
#include "check.h"

static uint32_t fake_ms;
static uint16_t rate_set;
static uint8_t set_rate(void *ctx, uint16_t hz) { (void)ctx; rate_set = hz; return hz <= 2000u; }
static uint16_t batt(void *ctx) { (void)ctx; return 3700u; }
static uint8_t pct(void *ctx) { (void)ctx; return 55u; }
static uint8_t leadoff(void *ctx) { (void)ctx; return 0u; }
static uint32_t millis(void *ctx) { (void)ctx; return fake_ms; }
static const mt_board_t board = {set_rate, batt, pct, leadoff, millis, NULL};

static void test_crc(void)
{
    CHECK(mt_crc16((const uint8_t *)"123456789", 9) == 0x29B1u);
    CHECK(mt_crc16(NULL, 0) == 0xFFFFu);
}

static void test_cobs_roundtrip(void)
{
    static uint8_t src[700], enc[MT_COBS_ENCODE_MAX(700) + 1], dec[700];
    size_t n, len, i, k;
    srand(1);
    for (n = 0; n < sizeof src; n += 37) {
        mt_cobs_enc_t e;
        for (i = 0; i < n; i++) {
            src[i] = (uint8_t)((rand() % 4 == 0) ? 0 : rand());
        }
        mt_cobs_enc_begin(&e, enc, sizeof enc);
        for (i = 0; i < n; i++) {
            mt_cobs_enc_put(&e, src[i]);
        }
        len = mt_cobs_enc_end(&e);
        CHECK(len > 0 && enc[len - 1] == 0);
        for (k = 0; k + 1 < len; k++) {
            if (enc[k] == 0) {
                break;
            }
        }
        CHECK(k == len - 1); /* no zero before the delimiter */
        CHECK(mt_cobs_decode(enc, len - 1, dec, sizeof dec) == n);
        CHECK(memcmp(src, dec, n) == 0);
    }
    /* a 254-byte run of non-zero bytes needs the 0xFF code */
    {
        mt_cobs_enc_t e;
        mt_cobs_enc_begin(&e, enc, sizeof enc);
        for (i = 0; i < 254; i++) {
            mt_cobs_enc_put(&e, 0x11);
        }
        len = mt_cobs_enc_end(&e);
        CHECK(enc[0] == 0xFF && len == 257);
        CHECK(mt_cobs_decode(enc, len - 1, dec, sizeof dec) == 254);
    }
    /* too small an output buffer is reported, not overrun */
    {
        mt_cobs_enc_t e;
        uint8_t tiny[4];
        mt_cobs_enc_begin(&e, tiny, sizeof tiny);
        for (i = 0; i < 10; i++) {
            mt_cobs_enc_put(&e, 7);
        }
        CHECK(mt_cobs_enc_end(&e) == 0);
    }
    CHECK(mt_cobs_decode((const uint8_t *)"\x05\x01", 2, dec, sizeof dec) == SIZE_MAX);
}

static void test_ring(void)
{
    static mt_ring_t r;
    mt_sample_set_t s;
    int32_t v[2] = {1, -1};
    uint32_t i;
    mt_ring_init(&r);
    CHECK(mt_ring_count(&r) == 0 && !mt_ring_pop(&r, &s));
    for (i = 0; i < MT_RING_CAPACITY; i++) {
        v[0] = (int32_t)i;
        CHECK(mt_ring_push(&r, i, v, 2));
    }
    CHECK(!mt_ring_push(&r, 999, v, 2));
    CHECK(r.overruns == 1);
    CHECK(mt_ring_count(&r) == MT_RING_CAPACITY);
    for (i = 0; i < 10; i++) {
        CHECK(mt_ring_pop(&r, &s) && s.index == i && s.values[0] == (int32_t)i && s.values[1] == -1);
    }
    /* wrap around many times */
    for (i = 0; i < 5000; i++) {
        v[0] = (int32_t)(i + 7);
        CHECK(mt_ring_push(&r, 1000 + i, v, 2));
        CHECK(mt_ring_pop(&r, &s));
    }
    CHECK(mt_ring_count(&r) == MT_RING_CAPACITY - 10);
}

static void test_cmd_parser(void)
{
    mt_cmd_parser_t p;
    mt_command_t c;
    uint8_t buf[32];
    size_t n, i;
    int got = 0;
    mt_cmd_init(&p);
    n = mt_frame_command(MT_CMD_SET_RATE, 2000, 42, buf, sizeof buf);
    CHECK(n > 0);
    for (i = 0; i < n; i++) {
        if (mt_cmd_feed(&p, buf[i], &c)) {
            got++;
            CHECK(c.opcode == MT_CMD_SET_RATE && c.argument == 2000 && c.seq == 42);
        }
    }
    CHECK(got == 1);
    buf[2] ^= 0x40; /* corrupt: CRC error, then resync on the next frame */
    for (i = 0; i < n; i++) {
        CHECK(!mt_cmd_feed(&p, buf[i], &c));
    }
    CHECK(p.crc_errors + p.cobs_errors == 1);
    n = mt_frame_command(MT_CMD_PING, 0xABCDEF01u, 43, buf, sizeof buf);
    got = 0;
    for (i = 0; i < n; i++) {
        got += mt_cmd_feed(&p, buf[i], &c);
    }
    CHECK(got == 1 && c.argument == 0xABCDEF01u);
    for (i = 0; i < 100; i++) { /* garbage longer than any command */
        mt_cmd_feed(&p, (uint8_t)(i | 1), &c);
    }
    CHECK(!mt_cmd_feed(&p, 0, &c) && p.length_errors == 1);
}

/* run the device, decode everything it sends */
static void test_device(void)
{
    static mt_device_t d;
    static mt_frame_t f;
    mt_info_t info;
    uint8_t out[600], scratch[600], cmd[32];
    size_t n, i;
    uint32_t expect = 0, got_samples = 0, lost = 0, frames = 0, acks = 0, infos = 0, statuses = 0;
    int32_t v[2];
    memset(&info, 0, sizeof info);
    info.protocol_version = 1;
    info.device_id = 0x1122334455667788ull;
    info.sample_rate_hz = 1000;
    info.n_channels = 2;
    info.sample_format = MT_FMT_INT16;
    info.uv_per_count = 0.25f;
    strcpy(info.labels[0], "gastroc");
    strcpy(info.labels[1], "soleus");
    mt_device_init(&d, &info, &board, mt_frame_samples_for_mtu(247, 2, MT_FMT_INT16));
    CHECK(d.frame_samples > 20 && d.frame_samples <= 64);
    n = mt_frame_command(MT_CMD_GET_INFO, 0, 0, cmd, sizeof cmd);
    mt_device_receive(&d, cmd, n);
    n = mt_frame_command(MT_CMD_START, 0, 1, cmd, sizeof cmd);
    mt_device_receive(&d, cmd, n);
    n = mt_frame_command(MT_CMD_SET_RATE, 500, 2, cmd, sizeof cmd); /* refused while streaming */
    mt_device_receive(&d, cmd, n);
    for (i = 0; i < 3000; i++) {
        v[0] = (int32_t)i;
        v[1] = -(int32_t)i;
        fake_ms = (uint32_t)i;
        if (i >= 1000 && i < 1000 + MT_RING_CAPACITY + 50) {
            mt_device_sample(&d, v); /* the main loop is stuck: the ring overflows */
            continue;
        }
        mt_device_sample(&d, v);
        while ((n = mt_device_poll(&d, out, sizeof out)) > 0) {
            mt_result_t r = mt_frame_decode(out, n - 1, scratch, sizeof scratch, &f);
            CHECK(r == MT_OK);
            CHECK(out[n - 1] == 0);
            frames++;
            if (f.type == MT_T_SAMPLES) {
                uint8_t k;
                if (f.u.samples.first != expect) {
                    lost += f.u.samples.first - expect;
                }
                for (k = 0; k < f.u.samples.n; k++) {
                    CHECK(f.u.samples.counts[2 * k] == (int32_t)(f.u.samples.first + k));
                    CHECK(f.u.samples.counts[2 * k + 1] == -(int32_t)(f.u.samples.first + k));
                }
                expect = f.u.samples.first + f.u.samples.n;
                got_samples += f.u.samples.n;
            } else if (f.type == MT_T_ACK) {
                acks++;
                CHECK(f.u.ack.opcode != MT_CMD_SET_RATE || f.u.ack.status == MT_ACK_BUSY);
            } else if (f.type == MT_T_INFO) {
                infos++;
                CHECK(f.u.info.n_channels == 2 && strcmp(f.u.info.labels[1], "soleus") == 0);
            } else if (f.type == MT_T_STATUS) {
                statuses++;
            }
        }
    }
    CHECK(acks == 2 && infos == 1 && statuses >= 2);
    /* the ring held up to one frame's worth when the loop stalled, so 50 or a few more were dropped */
    CHECK(d.ring.overruns >= 50 && d.ring.overruns < 50u + d.frame_samples);
    CHECK(lost == d.ring.overruns);               /* the host sees exactly the dropped samples */
    CHECK(got_samples + lost + mt_ring_count(&d.ring) == 3000);
    /* set rate after stop */
    n = mt_frame_command(MT_CMD_STOP, 0, 3, cmd, sizeof cmd);
    mt_device_receive(&d, cmd, n);
    n = mt_frame_command(MT_CMD_SET_RATE, 2000, 4, cmd, sizeof cmd);
    mt_device_receive(&d, cmd, n);
    CHECK(rate_set == 2000 && d.info.sample_rate_hz == 2000);
    n = mt_frame_command(MT_CMD_SET_RATE, 3000, 5, cmd, sizeof cmd); /* the board refuses */
    mt_device_receive(&d, cmd, n);
    CHECK(d.info.sample_rate_hz == 2000);
}

static void test_decode_rejects(void)
{
    uint8_t out[64], scratch[64];
    mt_frame_t *f = malloc(sizeof *f);
    size_t n = mt_frame_pong(7, 1, out, sizeof out);
    CHECK(mt_frame_decode(out, n - 1, scratch, sizeof scratch, f) == MT_OK && f->u.pong.token == 7);
    out[3] ^= 1;
    CHECK(mt_frame_decode(out, n - 1, scratch, sizeof scratch, f) != MT_OK);
    CHECK(mt_frame_decode(out, 2, scratch, sizeof scratch, f) != MT_OK);
    free(f);
}

int main(void)
{
    test_crc();
    test_cobs_roundtrip();
    test_ring();
    test_cmd_parser();
    test_device();
    test_decode_rejects();
    return CHECK_REPORT();
}
