/* Golden vectors shared with the Python tests: decode every data/protocol .bin frame, print it
 * in the canonical one-line form of host/canonical.py and compare with vectors.txt; re-encode
 * each decoded frame and compare with the original bytes. */
#include <stdlib.h>
#include <string.h>

#include "../core/mt_frame.h"
#include "check.h"

static size_t canonical(const mt_frame_t *f, char *s, size_t cap)
{
    size_t n = 0;
    int i;
#define OUT(...) n += (size_t)snprintf(s + n, n < cap ? cap - n : 0, __VA_ARGS__)
    switch (f->type) {
    case MT_T_INFO:
        OUT("INFO seq=%u pv=%u fw=%u.%u.%u id=%016llx rate=%u ch=%u fmt=%u uvpc=%.9g streaming=%u labels=",
            f->seq, f->u.info.protocol_version, f->u.info.fw_major, f->u.info.fw_minor, f->u.info.fw_patch,
            (unsigned long long)f->u.info.device_id, f->u.info.sample_rate_hz, f->u.info.n_channels,
            f->u.info.sample_format, (double)f->u.info.uv_per_count, f->u.info.streaming);
        for (i = 0; i < f->u.info.n_channels; i++) {
            OUT("%s%s", i ? "|" : "", f->u.info.labels[i]);
        }
        break;
    case MT_T_SAMPLES:
        OUT("SAMPLES seq=%u first=%lu ch=%u fmt=%u n=%u data=", f->seq, (unsigned long)f->u.samples.first,
            f->u.samples.n_channels, f->u.samples.format, f->u.samples.n);
        for (i = 0; i < f->u.samples.n * f->u.samples.n_channels; i++) {
            OUT("%s%ld", i ? "," : "", (long)f->u.samples.counts[i]);
        }
        break;
    case MT_T_STATUS:
        OUT("STATUS seq=%u batt_mv=%u batt_pct=%u flags=%u leadoff=%u overruns=%lu counter=%lu uptime=%lu", f->seq,
            f->u.status.battery_mv, f->u.status.battery_pct, f->u.status.flags, f->u.status.lead_off_mask,
            (unsigned long)f->u.status.overruns, (unsigned long)f->u.status.sample_counter,
            (unsigned long)f->u.status.uptime_ms);
        break;
    case MT_T_PONG: OUT("PONG seq=%u token=%lu", f->seq, (unsigned long)f->u.pong.token); break;
    case MT_T_ACK: OUT("ACK seq=%u op=%u status=%u", f->seq, f->u.ack.opcode, f->u.ack.status); break;
    case MT_T_COMMAND:
        OUT("CMD seq=%u op=%u arg=%lu", f->seq, f->u.command.opcode, (unsigned long)f->u.command.argument);
        break;
    default: OUT("UNKNOWN"); break;
    }
#undef OUT
    return n;
}

static size_t reencode(const mt_frame_t *f, uint8_t *out, size_t cap)
{
    switch (f->type) {
    case MT_T_INFO: return mt_frame_info(&f->u.info, f->seq, out, cap);
    case MT_T_SAMPLES:
        return mt_frame_samples(f->u.samples.first, f->u.samples.n_channels, f->u.samples.format, f->u.samples.counts,
                                f->u.samples.n, f->seq, out, cap);
    case MT_T_STATUS: return mt_frame_status(&f->u.status, f->seq, out, cap);
    case MT_T_PONG: return mt_frame_pong(f->u.pong.token, f->seq, out, cap);
    case MT_T_ACK: return mt_frame_ack(f->u.ack.opcode, f->u.ack.status, f->seq, out, cap);
    case MT_T_COMMAND: return mt_frame_command(f->u.command.opcode, f->u.command.argument, f->seq, out, cap);
    default: return 0;
    }
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf;
    long size;
    if (!fp) {
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)size + 1);
    *len = fread(buf, 1, (size_t)size, fp);
    fclose(fp);
    return buf;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../data/protocol";
    char path[512], line[8192], current[256] = "", text[8192];
    static mt_frame_t frame;
    static uint8_t scratch[4096], again[4096];
    uint8_t *data = NULL;
    size_t len = 0, pos = 0;
    int files = 0;
    FILE *fp;
    snprintf(path, sizeof path, "%s/vectors.txt", dir);
    fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "cannot open %s\n", path);
        return 2;
    }
    while (fgets(line, sizeof line, fp)) {
        char *tab = strchr(line, '\t'), *nl;
        if (!tab) {
            continue;
        }
        *tab = '\0';
        nl = strchr(tab + 1, '\n');
        if (nl) {
            *nl = '\0';
        }
        if (strcmp(line, current) != 0) { /* next file: all frames of the previous one were expected */
            if (data) {
                CHECK(pos >= len);
                free(data);
            }
            strncpy(current, line, sizeof current - 1);
            snprintf(path, sizeof path, "%s/%s", dir, current);
            data = read_file(path, &len);
            CHECK(data != NULL);
            if (!data) {
                len = 0;
            }
            pos = 0;
            files++;
        }
        /* decode frames until one decodes (a corrupted frame in between is skipped, as a decoder must) */
        for (;;) {
            size_t end = pos;
            mt_result_t r;
            while (end < len && data[end] != 0) {
                end++;
            }
            if (end >= len) {
                fprintf(stderr, "%s: ran out of frames expecting: %s\n", current, tab + 1);
                CHECK(0);
                break;
            }
            r = mt_frame_decode(data + pos, end - pos, scratch, sizeof scratch, &frame);
            if (r != MT_OK) {
                pos = end + 1;
                continue;
            }
            canonical(&frame, text, sizeof text);
            if (strcmp(text, tab + 1) != 0) {
                fprintf(stderr, "%s:\n  C:        %s\n  expected: %s\n", current, text, tab + 1);
            }
            CHECK(strcmp(text, tab + 1) == 0);
            {
                size_t n = reencode(&frame, again, sizeof again);
                CHECK(n == end + 1 - pos && memcmp(again, data + pos, n) == 0);
            }
            pos = end + 1;
            break;
        }
    }
    if (data) {
        CHECK(pos >= len);
        free(data);
    }
    fclose(fp);
    CHECK(files >= 10);
    return CHECK_REPORT();
}
