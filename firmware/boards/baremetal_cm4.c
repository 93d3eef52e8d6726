/* Cortex-M4F link check and size budget for the portable core: a device with 2 channels at
 * 2 kHz fed by a fake ADC, its frames pushed to a sink. Built by `make arm`; not flashed. */
#include <stdint.h>
#include <string.h>

#include "../core/mt_device.h"

static mt_device_t dev;
static volatile uint32_t ticks;
static volatile uint8_t sink[600];

static uint8_t set_rate(void *ctx, uint16_t hz) { (void)ctx; return hz >= 250u && hz <= 4000u; }
static uint32_t millis(void *ctx) { (void)ctx; return ticks / 2u; }
static const mt_board_t board = {set_rate, 0, 0, 0, millis, 0};

void SysTick_Handler(void);
void SysTick_Handler(void) /* stands in for the sampling timer interrupt */
{
    int32_t v[2];
    ticks++;
    v[0] = (int32_t)(ticks & 0x3FFu) - 512;
    v[1] = -v[0];
    mt_device_sample(&dev, v);
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
    mt_device_init(&dev, &info, &board, mt_frame_samples_for_mtu(247u, 2u, MT_FMT_INT16));
    dev.streaming = 1u;
    for (;;) {
        size_t n = mt_device_poll(&dev, frame, sizeof frame), i;
        for (i = 0; i < n; i++) {
            sink[i % sizeof sink] = frame[i];
        }
        SysTick_Handler();
    }
}
