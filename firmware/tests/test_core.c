/* Unit tests of the portable firmware core, run on the host under ASan/UBSan. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/mt_battery.h"
#include "../core/mt_cmd.h"
#include "../core/mt_cobs.h"
#include "../core/mt_crc16.h"
#include "../core/mt_device.h"
#include "../core/mt_frame.h"
#include "../core/mt_notify.h"
#include "../core/mt_ring.h"
#include "../core/mt_rxq.h"
#include "../core/mt_scan.h"
#include "../core/mt_usbtx.h"
#include "check.h"

static uint32_t fake_ms;
static uint16_t rate_set;
static uint8_t set_rate(void *ctx, uint16_t hz) { (void)ctx; rate_set = hz; return hz <= 2000u; }
static uint16_t batt(void *ctx) { (void)ctx; return 3700u; }
static uint8_t pct(void *ctx) { (void)ctx; return 55u; }
static uint8_t leadoff(void *ctx) { (void)ctx; return 0u; }
static uint32_t millis(void *ctx) { (void)ctx; return fake_ms; }
static const mt_board_t board = {set_rate, batt, pct, leadoff, millis, NULL};

/* A frame as a sender without the size checks would write it: the body's first len bytes, its
 * CRC appended (body needs 2 bytes of room past len), COBS-encoded into out; returns the encoded
 * length with its delimiter (0 when out is too small). */
static size_t frame_raw(uint8_t *body, size_t len, uint8_t *out, size_t room)
{
    uint16_t crc = mt_crc16(body, len);
    mt_cobs_enc_t c;
    size_t k;
    body[len++] = (uint8_t)crc;
    body[len++] = (uint8_t)(crc >> 8);
    mt_cobs_enc_begin(&c, out, room);
    for (k = 0; k < len; k++) {
        mt_cobs_enc_put(&c, body[k]);
    }
    return mt_cobs_enc_end(&c);
}

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

static void test_rxq(void)
{
    static mt_rxq_t q;
    uint8_t b = 0;
    unsigned i;
    mt_rxq_init(&q);
    CHECK(!mt_rxq_get(&q, &b));
    for (i = 0; i < MT_RXQ_CAPACITY; i++) {
        CHECK(mt_rxq_put(&q, (uint8_t)i));
    }
    CHECK(!mt_rxq_put(&q, 0xEE) && q.dropped == 1); /* full: dropped and counted */
    for (i = 0; i < MT_RXQ_CAPACITY; i++) {
        CHECK(mt_rxq_get(&q, &b) && b == (uint8_t)i); /* in order, the dropped byte absent */
    }
    CHECK(!mt_rxq_get(&q, &b));
    for (i = 0; i < 1000; i++) { /* the 8-bit indices wrap many times */
        CHECK(mt_rxq_put(&q, (uint8_t)(i * 7u)) && mt_rxq_put(&q, (uint8_t)(i * 7u + 1u)));
        CHECK(mt_rxq_get(&q, &b) && b == (uint8_t)(i * 7u));
        CHECK(mt_rxq_get(&q, &b) && b == (uint8_t)(i * 7u + 1u));
    }
    for (i = 0; i < MT_RXQ_CAPACITY + 300u; i++) {
        (void)mt_rxq_put(&q, 1u);
    }
    CHECK(q.dropped == 255); /* saturates */
}

/* A command whose bytes arrive while the main loop is busy sending frames (the receive
 * interrupt queues them) is answered once the loop drains the queue. */
static void test_rxq_keeps_a_command_that_arrives_mid_frame(void)
{
    static mt_device_t d;
    static mt_rxq_t q;
    static uint8_t out[600], scratch[600];
    static mt_frame_t f;
    uint8_t cmd[32], b;
    size_t n, k, len, replies = 0;
    int32_t v = 0;
    mt_info_t info;
    memset(&info, 0, sizeof info);
    info.protocol_version = MT_PROTOCOL_VERSION;
    info.sample_rate_hz = 1000;
    info.n_channels = 1;
    info.sample_format = MT_FMT_INT16;
    info.uv_per_count = 4.8828125f;
    mt_device_init(&d, &info, &board, 16);
    mt_rxq_init(&q);
    d.streaming = 1u;
    n = mt_frame_command(MT_CMD_PING, 777u, 5, cmd, sizeof cmd);
    for (k = 0; k < 64; k++) {
        mt_device_sample(&d, &v);
        if (k < n) {
            CHECK(mt_rxq_put(&q, cmd[k])); /* one byte per sample: the loop never looks meanwhile */
        }
    }
    while (mt_rxq_get(&q, &b)) {
        mt_device_receive(&d, &b, 1u);
    }
    while ((len = mt_device_poll(&d, out, sizeof out)) > 0) {
        CHECK(mt_frame_decode(out, len - 1, scratch, sizeof scratch, &f) == MT_OK);
        if (f.type == MT_T_PONG) {
            CHECK(f.u.pong.token == 777u);
            replies++;
        }
    }
    CHECK(replies == 1 && q.dropped == 0);
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
    while (mt_device_poll(&d, out, sizeof out) > 0) {
    }
    /* a command this firmware does not know (a newer host's) is answered ACK "unknown" */
    n = mt_frame_command(9, 0, 6, cmd, sizeof cmd);
    mt_device_receive(&d, cmd, n);
    n = mt_device_poll(&d, out, sizeof out);
    CHECK(n > 0 && mt_frame_decode(out, n - 1, scratch, sizeof scratch, &f) == MT_OK);
    CHECK(f.type == MT_T_ACK && f.u.ack.opcode == 9 && f.u.ack.status == MT_ACK_UNKNOWN);
    /* ... whatever its argument, up to the 8 bytes that fit MT_CMD_MAX_ENCODED (PROTOCOL.md); a
     * longer command is dropped unanswered */
    for (i = 8u; i <= 9u; i++) {
        uint8_t body[32] = {MT_PROTOCOL_VERSION, MT_T_COMMAND, 7, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        size_t answers = 0u;
        n = frame_raw(body, 5u + i, cmd, sizeof cmd);
        CHECK(n == (i == 8u ? MT_CMD_MAX_ENCODED : MT_CMD_MAX_ENCODED + 1u) + 1u);
        mt_device_receive(&d, cmd, n);
        while ((n = mt_device_poll(&d, out, sizeof out)) > 0) {
            answers += mt_frame_decode(out, n - 1, scratch, sizeof scratch, &f) == MT_OK && f.type == MT_T_ACK &&
                       f.u.ack.opcode == 9 && f.u.ack.status == MT_ACK_UNKNOWN;
        }
        CHECK(answers == (i == 8u ? 1u : 0u));
    }
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
    {   /* an INFO whose scale is not a number above 0 and under 1e6 µV per count (as the host) */
        static const float scales[] = {0.5f, 0.0f, -1.0f, MT_MAX_UV_PER_COUNT, INFINITY, NAN};
        uint8_t big[128], scratch2[128];
        mt_info_t info;
        size_t k;
        memset(&info, 0, sizeof info);
        info.protocol_version = 1;
        info.sample_rate_hz = 1000;
        info.n_channels = 1;
        info.sample_format = MT_FMT_INT16;
        for (k = 0; k < sizeof scales / sizeof scales[0]; k++) {
            info.uv_per_count = scales[k];
            n = mt_frame_info(&info, 1, big, sizeof big);
            CHECK(n > 0 && (mt_frame_decode(big, n - 1, scratch2, sizeof scratch2, f) == MT_OK) == (k == 0));
        }
        /* labels are ASCII: a byte over 0x7F makes the frame impossible, as on the host */
        info.uv_per_count = 0.5f;
        strcpy(info.labels[0], "ca\xE9" "f");
        n = mt_frame_info(&info, 1, big, sizeof big);
        CHECK(n > 0 && mt_frame_decode(big, n - 1, scratch2, sizeof scratch2, f) == MT_ERR_FIELD);
        strcpy(info.labels[0], "ca\x7F");
        n = mt_frame_info(&info, 1, big, sizeof big);
        CHECK(n > 0 && mt_frame_decode(big, n - 1, scratch2, sizeof scratch2, f) == MT_OK);
    }
    {   /* a body over MT_MAX_BODY is invalid even when the scratch could hold it: a COMMAND of an
         * opcode unknown here (delivered whatever its argument bytes) with 2043 zero bytes of
         * argument, body 2050 bytes, as an encoder without the size check would write it */
        static uint8_t body[2100], enc[2200], scratch3[4096];
        size_t m;
        memset(body, 0, sizeof body);
        body[0] = MT_PROTOCOL_VERSION;
        body[1] = MT_T_COMMAND;         /* seq 0 */
        body[4] = 9u;                   /* opcode */
        m = frame_raw(body, 4u + 1u + 2043u, enc, sizeof enc);  /* + CRC: 2050 bytes */
        CHECK(m > 0 && mt_frame_decode(enc, m - 1, scratch3, sizeof scratch3, f) == MT_ERR_LENGTH);
        /* the largest valid body, 2048 bytes, decodes */
        m = frame_raw(body, 4u + 1u + 2041u, enc, sizeof enc);
        CHECK(m > 0 && mt_frame_decode(enc, m - 1, scratch3, sizeof scratch3, f) == MT_OK && f->u.command.opcode == 9u);
    }
    free(f);
}

static const mt_battery_divider_t xiao_divider = {12u, 3600u, 1000000u, 510000u}; /* SAADC 0.6 V / (1/6), 1M over 510k */

static void test_battery(void)
{
    int32_t raw;
    for (raw = 1; raw <= 4096; raw++) { /* against the same formula in double precision */
        double exact = raw * 3600.0 / 4096.0 * 1510000.0 / 510000.0;
        CHECK(fabs(mt_battery_mv(&xiao_divider, raw) - exact) <= 0.5 + 1e-9);
    }
    /* a 3.7 V cell: 1.2497 V at the pin, 1421.8 counts */
    CHECK(abs((int)mt_battery_mv(&xiao_divider, 1422) - 3700) <= 2);
    CHECK(abs((int)mt_battery_mv(&xiao_divider, 1614) - 4200) <= 2);
    CHECK(mt_battery_mv(&xiao_divider, 0) == 0u && mt_battery_mv(&xiao_divider, -3) == 0u);
    CHECK(mt_battery_mv(&xiao_divider, 99999) == mt_battery_mv(&xiao_divider, 4096));
    CHECK(mt_battery_pct(0u) == 255u);
    CHECK(mt_battery_pct(3000u) == 0u && mt_battery_pct(3300u) == 0u);
    CHECK(mt_battery_pct(3725u) == 50u);
    CHECK(mt_battery_pct(4150u) == 100u && mt_battery_pct(4300u) == 100u);
}

/* A fake SAADC drives the scan like the TIMER2 interrupt does: every tick delivers one EMG
 * sample to the device; the battery rides along every Nth tick and never displaces EMG. */
static void test_scan_interleaves_battery(void)
{
    static mt_device_t d;
    static mt_frame_t f;
    mt_scan_t s;
    mt_info_t info;
    uint8_t out[600], scratch[600];
    size_t n;
    uint32_t t, battery_ticks = 0, scans_with_battery = 0, next = 0, values_ok = 1, first_battery_tick = 999;
    memset(&info, 0, sizeof info);
    info.sample_rate_hz = 1000;
    info.n_channels = 2;
    info.sample_format = MT_FMT_INT16;
    mt_device_init(&d, &info, &board, 10u);
    d.streaming = 1u;
    mt_scan_init(&s, 2u, 100u, 2048, 4095);
    CHECK(mt_scan_battery_raw(&s) == -1);
    for (t = 0; t < 2000; t++) {
        int16_t res[3];
        uint8_t k;
        if (t == 1000) {
            mt_scan_set_battery_every(&s, 250u); /* e.g. after a rate change */
        }
        k = mt_scan_begin(&s);
        CHECK(k == 2u || k == 3u);
        res[0] = (int16_t)(2048 + (int32_t)(t % 1000u) - 500);
        res[1] = (int16_t)(2048 - (int32_t)(t % 1000u) + 500);
        res[2] = (int16_t)(1000 + t); /* battery counts, only valid in a 3-channel scan */
        if (k == 3u) {
            scans_with_battery++;
            if (first_battery_tick == 999) {
                first_battery_tick = t;
            }
        }
        mt_scan_end(&s, &d, res, k);
        if (k == 3u) {
            battery_ticks++;
            CHECK(mt_scan_battery_raw(&s) == (int32_t)(1000 + t));
        }
        CHECK(d.counter == t + 1u); /* one sample per tick: the battery never stalls sampling */
        while ((n = mt_device_poll(&d, out, sizeof out)) > 0) {
            uint8_t j;
            CHECK(mt_frame_decode(out, n - 1, scratch, sizeof scratch, &f) == MT_OK);
            if (f.type != MT_T_SAMPLES) {
                continue;
            }
            CHECK(f.u.samples.first == next);
            for (j = 0; j < f.u.samples.n; j++) {
                uint32_t i = f.u.samples.first + j;
                values_ok &= f.u.samples.counts[2 * j] == (int32_t)(i % 1000u) - 500;
                values_ok &= f.u.samples.counts[2 * j + 1] == -((int32_t)(i % 1000u) - 500);
            }
            next = f.u.samples.first + f.u.samples.n;
        }
    }
    CHECK(values_ok);
    CHECK(next == 2000u);
    CHECK(first_battery_tick == 0u);           /* a reading exists from the first tick */
    CHECK(battery_ticks == 10u + 4u);          /* ticks 0,100..900, then 1000,1250,..,1750 */
    CHECK(scans_with_battery == battery_ticks && s.battery_samples == battery_ticks);
    CHECK(d.saturated == 0u);
    { /* a rail hit is flagged; a missing battery result is not taken from a short scan */
        int16_t res[3] = {0, 2048, 77};
        int32_t before = mt_scan_battery_raw(&s);
        mt_scan_end(&s, &d, res, 2u);
        CHECK(d.saturated == 1u && mt_scan_battery_raw(&s) == before);
    }
}

static void test_notify_sizes_frames_for_the_mtu(void)
{
    static const uint16_t mtus[] = {23u, 27u, 50u, 100u, 185u, 247u};
    static const uint16_t rates[] = {250u, 500u, 1000u, 2000u, 4000u};
    uint8_t out[400];
    int32_t counts[64 * 2];
    size_t m, r, i;
    uint8_t ch;
    for (i = 0; i < 128; i++) {
        counts[i] = 0x0101 * (int32_t)(i + 1); /* no zero bytes: the longest COBS encoding */
    }
    CHECK(mt_notify_payload(23u) == 20u && mt_notify_payload(185u) == 182u && mt_notify_payload(247u) == 244u);
    CHECK(mt_notify_payload(0u) == 20u && mt_notify_payload(512u) == 244u); /* fall back / cap */
    CHECK(mt_notify_count(95u, 23u) == 5u && mt_notify_count(20u, 23u) == 1u && mt_notify_count(21u, 23u) == 2u);
    /* the planned length bounds the real frame */
    for (i = 1; i <= 64; i++) {
        size_t real = mt_frame_samples(0x01010101u, 2u, MT_FMT_INT16, counts, (uint8_t)i, 0x0101u, out, sizeof out);
        CHECK(real > 0u && real <= mt_samples_frame_len((uint8_t)i, 2u, MT_FMT_INT16));
        CHECK(real + 1u >= mt_samples_frame_len((uint8_t)i, 2u, MT_FMT_INT16));
    }
    for (m = 0; m < sizeof mtus / sizeof mtus[0]; m++) {
        for (r = 0; r < sizeof rates / sizeof rates[0]; r++) {
            for (ch = 1u; ch <= 2u; ch++) {
                uint8_t best = mt_notify_frame_samples(mtus[m], rates[r], ch, MT_FMT_INT16, 64u);
                uint32_t limit = rates[r] / 50u > 64u ? 64u : rates[r] / 50u, k_best;
                size_t len = mt_frame_samples(1u, ch, MT_FMT_INT16, counts, best, 1u, out, sizeof out);
                CHECK(best >= 1u && best <= limit);
                CHECK(len > 0u && len <= 300u); /* the sketch's frame buffer */
                k_best = (uint32_t)((len + mt_notify_payload(mtus[m]) - 1u) / mt_notify_payload(mtus[m]));
                for (i = 1; i <= limit; i++) { /* no other size needs fewer notifications per sample */
                    size_t li = mt_frame_samples(1u, ch, MT_FMT_INT16, counts, (uint8_t)i, 1u, out, sizeof out);
                    uint32_t ki = (uint32_t)((li + mt_notify_payload(mtus[m]) - 1u) / mt_notify_payload(mtus[m]));
                    CHECK(ki * best >= k_best * i);
                }
            }
        }
    }
    /* large MTU: 20 ms in one notification; MTU 23: 16 samples in 4 full notifications */
    CHECK(mt_notify_frame_samples(247u, 1000u, 2u, MT_FMT_INT16, 64u) == 20u);
    CHECK(mt_notify_frame_samples(185u, 1000u, 2u, MT_FMT_INT16, 64u) == 20u);
    CHECK(mt_notify_frame_samples(23u, 1000u, 2u, MT_FMT_INT16, 64u) == 16u);
    CHECK(mt_notify_frame_samples(23u, 100u, 2u, MT_FMT_INT16, 64u) == 1u);
}

static void test_notify_follows_mtu_changes(void)
{
    static mt_device_t d;
    mt_info_t info;
    mt_notify_link_t l;
    memset(&info, 0, sizeof info);
    info.sample_rate_hz = 1000;
    info.n_channels = 2;
    info.sample_format = MT_FMT_INT16;
    mt_device_init(&d, &info, &board, 64u);
    mt_notify_link_init(&l);
    CHECK(mt_notify_follow(&l, &d, 23u) == 20u && d.frame_samples == 16u); /* before the exchange */
    CHECK(mt_notify_follow(&l, &d, 247u) == 244u && d.frame_samples == 20u);
    d.info.sample_rate_hz = 4000u; /* SET_RATE while stopped */
    CHECK(mt_notify_follow(&l, &d, 247u) == 244u && d.frame_samples == 57u);
    CHECK(mt_notify_follow(&l, &d, 185u) == 182u && d.frame_samples == 41u);
    CHECK(mt_notify_follow(&l, &d, 0u) == 20u); /* no connection: the smallest MTU */
    /* Bluefruit 1.1.8 reports the central's receive MTU after our request (e.g. 517): use 247 */
    CHECK(mt_notify_follow(&l, &d, 517u) == 244u && d.frame_samples == 57u);
}

/* A port with `room` bytes of FIFO space at each pump, written into `out`: what a USB host
 * reads. The sender must never block, send frames whole and in order, and drop (and count) the
 * frames that come while the host reads nothing. */
static size_t pump_usb(mt_usbtx_t *q, size_t room, uint8_t *out, size_t at)
{
    size_t n = 0;
    const uint8_t *p = mt_usbtx_next(q, room, &n);
    memcpy(out + at, p, n);
    mt_usbtx_sent(q, n);
    return at + n;
}

static void test_usbtx_never_blocks_and_sends_whole_frames(void)
{
    static mt_usbtx_t q;
    static uint8_t a[MT_USBTX_MAX], b[40], out[4 * MT_USBTX_MAX];
    size_t at = 0, n = 0, i;
    for (i = 0; i < sizeof a; i++) a[i] = (uint8_t)(i * 3u + 1u);
    for (i = 0; i < sizeof b; i++) b[i] = (uint8_t)(200u - i);
    mt_usbtx_init(&q);
    (void)mt_usbtx_next(&q, 64, &n);
    CHECK(n == 0); /* nothing to send */
    /* a 300-byte frame through 64 bytes of room at a time: five pumps, whole and in order */
    CHECK(mt_usbtx_offer(&q, a, sizeof a));
    for (i = 0; i < 5; i++) at = pump_usb(&q, 64, out, at);
    CHECK(at == sizeof a && memcmp(out, a, sizeof a) == 0 && q.dropped == 0);
    /* the host stops reading (no room): the frame waits, the next ones are dropped and counted */
    CHECK(mt_usbtx_offer(&q, b, sizeof b));
    at = pump_usb(&q, 10, out, at);
    for (i = 0; i < 1000; i++) {
        at = pump_usb(&q, 0, out, at);
        CHECK(!mt_usbtx_offer(&q, a, sizeof a));
    }
    CHECK(q.dropped == 1000 && at == sizeof a + 10);
    /* it reads again: the frame it had begun ends whole, then the next is taken */
    at = pump_usb(&q, 256, out, at);
    CHECK(at == sizeof a + sizeof b && memcmp(out + sizeof a, b, sizeof b) == 0);
    CHECK(mt_usbtx_offer(&q, b, sizeof b));
    /* the port closes mid-frame: the next program reads from a frame's first byte */
    at = pump_usb(&q, 7, out, 0);
    mt_usbtx_reset(&q);
    (void)mt_usbtx_next(&q, 64, &n);
    CHECK(n == 0 && mt_usbtx_offer(&q, a, sizeof a));
    at = pump_usb(&q, 256, out, 0);
    at = pump_usb(&q, 256, out, at);
    CHECK(at == sizeof a && memcmp(out, a, sizeof a) == 0);
    /* longer than any frame the device sends: refused and counted, never overrun */
    CHECK(!mt_usbtx_offer(&q, out, MT_USBTX_MAX + 1u) && q.dropped == 1001);
}

int main(void)
{
    test_crc();
    test_cobs_roundtrip();
    test_ring();
    test_rxq();
    test_rxq_keeps_a_command_that_arrives_mid_frame();
    test_cmd_parser();
    test_device();
    test_decode_rejects();
    test_battery();
    test_scan_interleaves_battery();
    test_notify_sizes_frames_for_the_mtu();
    test_notify_follows_mtu_changes();
    test_usbtx_never_blocks_and_sends_whole_frames();
    return CHECK_REPORT();
}
