/* Cortex-M4F link check and size budget for the portable core: a device with 2 channels at
 * 2 kHz fed by a fake ADC through the scan schedule (battery every 2000th tick), frames sized
 * for a BLE MTU and pushed to a sink. Built by `make arm`; not flashed. */
#include <stdint.h>
#include <string.h>

#include "../core/mt_battery.h"
#include "../core/mt_device.h"
#include "../core/mt_notify.h"
#include "../core/mt_scan.h"

static mt_device_t dev;
static mt_scan_t scan;
static const mt_battery_divider_t divider = {12u, 3600u, 1000000u, 510000u};
static volatile uint32_t ticks;
static volatile uint8_t sink[600];

static uint8_t set_rate(void *ctx, uint16_t hz) { (void)ctx; return hz >= 250u && hz <= 4000u; }
static uint32_t millis(void *ctx) { (void)ctx; return ticks / 2u; }
static uint16_t battery_mv(void *ctx) { (void)ctx; return mt_battery_mv(&divider, mt_scan_battery_raw(&scan)); }
static uint8_t battery_pct(void *ctx) { return mt_battery_pct(battery_mv(ctx)); }
static const mt_board_t board = {set_rate, battery_mv, battery_pct, 0, millis, 0};

void SysTick_Handler(void);
void SysTick_Handler(void) /* stands in for the sampling timer interrupt */
{
    int16_t r[3];
    uint8_t n = mt_scan_begin(&scan);
    ticks++;
    r[0] = (int16_t)(2048 + (int32_t)(ticks & 0x3FFu) - 512);
    r[1] = (int16_t)(4096 - r[0]);
    r[2] = 1422;
    mt_scan_end(&scan, &dev, r, n);
}

int main(void)
{
    mt_info_t info;
    uint8_t frame[600];
    memset(&info, 0, sizeof info);
    info.protocol_version = MT_PROTOCOL_VERSION;
    info.sample_rate_hz = 2000u;
    info.n_channels = 2u;
    info.sample_format = MT_FMT_INT16;
    info.uv_per_count = 0.5f;
    strcpy(info.labels[0], "gastroc");
    strcpy(info.labels[1], "soleus");
    mt_notify_link_t ble_link;
    mt_device_init(&dev, &info, &board, 1u);
    mt_scan_init(&scan, 2u, 2000u, 2048, 4095);
    mt_notify_link_init(&ble_link);
    dev.streaming = 1u;
    for (;;) {
        size_t n, i;
        (void)mt_notify_follow(&ble_link, &dev, (uint16_t)(23u + (ticks >> 20)));
        n = mt_device_poll(&dev, frame, sizeof frame);
        for (i = 0; i < n; i++) {
            sink[i % sizeof sink] = frame[i];
        }
        SysTick_Handler();
    }
}
