/* The firmware's BLE path on the host, for the Python tests (loaded with ctypes): the same
 * core calls the XIAO sketch makes -- SAADC scan with battery sub-sampling, device, frames
 * sized by mt_notify_follow() for the current MTU, each frame cut into notifications --
 * with a fake ADC (a ramp) and a settable MTU standing in for the radio. */
#include <string.h>

#include "../core/mt_battery.h"
#include "../core/mt_notify.h"
#include "../core/mt_scan.h"

static mt_device_t dev;
static mt_scan_t scan;
static mt_notify_link_t ble_link;
static uint16_t att_mtu;
static uint32_t now_ms, ticks;
static int16_t battery_counts;
static const mt_battery_divider_t divider = {12u, 3600u, 1000000u, 510000u};

static uint16_t battery_mv(void *ctx) { (void)ctx; return mt_battery_mv(&divider, mt_scan_battery_raw(&scan)); }
static uint8_t battery_pct(void *ctx) { return mt_battery_pct(battery_mv(ctx)); }
static uint32_t millis(void *ctx) { (void)ctx; return now_ms; }
static uint8_t set_rate(void *ctx, uint16_t hz) { (void)ctx; mt_scan_set_battery_every(&scan, hz); return 1u; }
static const mt_board_t board = {set_rate, battery_mv, battery_pct, NULL, millis, NULL};

int sim_open(uint16_t rate_hz, uint8_t n_channels, uint16_t mtu, int16_t battery_adc_counts);
void sim_set_mtu(uint16_t mtu);
void sim_receive(const uint8_t *data_ptr, size_t data_len);
size_t sim_step(uint32_t n_ticks, uint8_t *out_ptr, size_t out_cap, uint16_t *lens_ptr, size_t lens_cap);
uint8_t sim_frame_samples(void);

int sim_open(uint16_t rate_hz, uint8_t n_channels, uint16_t mtu, int16_t battery_adc_counts)
{
    mt_info_t info;
    memset(&info, 0, sizeof info);
    info.protocol_version = MT_PROTOCOL_VERSION;
    info.device_id = 0x5852F0u;
    info.sample_rate_hz = rate_hz;
    info.n_channels = n_channels;
    info.sample_format = MT_FMT_INT16;
    info.uv_per_count = 3600000.0f / 4096.0f / 1000.0f;
    strcpy(info.labels[0], "gastrocnemius");
    strcpy(info.labels[1], "soleus");
    if (n_channels == 0u || n_channels > 2u) {
        return -1;
    }
    mt_device_init(&dev, &info, &board, 1u);
    mt_scan_init(&scan, n_channels, rate_hz, 2048, 4095);
    mt_notify_link_init(&ble_link);
    att_mtu = mtu;
    now_ms = 0u;
    ticks = 0u;
    battery_counts = battery_adc_counts;
    return 0;
}

void sim_set_mtu(uint16_t mtu) { att_mtu = mtu; }

void sim_receive(const uint8_t *data_ptr, size_t data_len) { mt_device_receive(&dev, data_ptr, data_len); }

uint8_t sim_frame_samples(void) { return dev.frame_samples; }

/* Run n_ticks sampling interrupts, each followed by one pass of the main loop; returns the
 * notification bytes written to out_ptr, their lengths in lens_ptr (0-terminated). */
size_t sim_step(uint32_t n_ticks, uint8_t *out_ptr, size_t out_cap, uint16_t *lens_ptr, size_t lens_cap)
{
    static uint8_t frame[300];
    size_t used = 0u, n_lens = 0u, n, off;
    uint32_t t;
    for (t = 0u; t < n_ticks; t++) {
        int16_t results[3];
        uint8_t c, k = mt_scan_begin(&scan);
        for (c = 0u; c < dev.info.n_channels; c++) { /* ramp: channel 0 rises, channel 1 mirrors it */
            int32_t v = (int32_t)(ticks % 1500u) - 750;
            results[c] = (int16_t)(2048 + (c ? -v : v));
        }
        results[dev.info.n_channels] = battery_counts; /* read only when the scan includes it */
        mt_scan_end(&scan, &dev, results, k);
        ticks++;
        now_ms = (uint32_t)((uint64_t)ticks * 1000u / dev.info.sample_rate_hz);
        {
            uint16_t payload = mt_notify_follow(&ble_link, &dev, att_mtu);
            while ((n = mt_device_poll(&dev, frame, sizeof frame)) > 0u) {
                for (off = 0u; off < n; off += payload) {
                    size_t len = (n - off < payload) ? n - off : payload;
                    if (used + len > out_cap || n_lens + 1u >= lens_cap) {
                        return 0u; /* caller's buffers too small */
                    }
                    memcpy(out_ptr + used, frame + off, len);
                    used += len;
                    lens_ptr[n_lens++] = (uint16_t)len;
                }
            }
        }
    }
    lens_ptr[n_lens] = 0u;
    return used;
}
