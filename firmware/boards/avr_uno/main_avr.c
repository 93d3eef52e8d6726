/* myotwitch for Arduino Uno / Nano (ATmega328P @ 16 MHz): one EMG channel on A0, sampled by a
 * Timer1 interrupt, streamed as protocol frames over the UART at 250000 baud.
 *
 * Board layer only: everything testable lives in ../../core. Build with `make avr`, flash with
 *   avrdude -p m328p -c arduino -P /dev/ttyACM0 -b 115200 -U flash:w:build/myotwitch_uno.elf
 * The analog front end (e.g. BioAmp EXG Pill) outputs mid-supply at rest; see hardware.md for
 * the µV-per-count formula (FRONTEND_GAIN below). */
#include <avr/interrupt.h>
#include <avr/io.h>
#include <string.h>

#include "../../core/mt_device.h"
#include "../../core/mt_rxq.h"

#ifndef FRONTEND_GAIN
#define FRONTEND_GAIN 1000.0f /* BioAmp EXG Pill default gain is about 1000 */
#endif
#ifndef MT_DEVICE_ID
#define MT_DEVICE_ID 0x00A7000000000001ull
#endif
#define VREF_UV 5000000.0f /* AVCC reference, µV */
#define UART_UBRR 3u       /* 16 MHz / 16 / 250000 - 1: exact */

static mt_device_t dev;
static mt_rxq_t rx; /* command bytes from the UART receive interrupt */
static volatile uint16_t rate_hz = 1000u;
static volatile uint32_t ms;
static volatile uint16_t ms_acc;

static void timer_set(uint16_t hz)
{
    /* CTC mode, prescaler 8: 2 MHz timer clock */
    TCCR1A = 0;
    TCCR1B = (uint8_t)((1 << WGM12) | (1 << CS11));
    OCR1A = (uint16_t)(2000000UL / hz - 1u);
    TIMSK1 = (uint8_t)(1 << OCIE1A);
}

static uint8_t board_set_rate(void *ctx, uint16_t hz)
{
    (void)ctx;
    /* only rates the 2 MHz timer clock divides exactly: another one would run off the rate the
     * INFO frame states (3000 Hz: 666 ticks = 3003 Hz, 0.1 %: 29 s over an 8 h night) */
    if (hz < 250u || hz > 4000u || 2000000UL % hz != 0u) {
        return 0u;
    }
    cli();
    rate_hz = hz;
    timer_set(hz);
    sei();
    return 1u;
}

static uint32_t board_millis(void *ctx)
{
    uint32_t t;
    (void)ctx;
    cli();
    t = ms;
    sei();
    return t;
}

/* No battery (the Uno runs from USB) and no lead-off sensing: no hooks, so STATUS says
 * battery_mv 0 / battery_pct 255, the protocol's "not measured", and lead-off 0. */
static const mt_board_t board = {board_set_rate, 0, 0, 0, board_millis, 0};

ISR(TIMER1_COMPA_vect)
{
    int32_t v = (int32_t)ADC - 512; /* result of the conversion started one period ago */
    ADCSRA |= (uint8_t)(1 << ADSC);   /* start the next one now: sampling instants stay on the timer */
    if (v <= -512 || v >= 511) {
        dev.saturated = 1u;
    }
    mt_device_sample(&dev, &v);
    ms_acc += 1000u;
    while (ms_acc >= rate_hz) {
        ms_acc -= rate_hz;
        ms++;
    }
}

/* The UART holds only two received characters, and sending one frame keeps the main loop busy
 * for ~2 ms (47 bytes at 250000 baud), while a command arrives a character every 40 µs: every
 * received byte goes to a queue at once, and the main loop reads the queue between frames. */
ISR(USART_RX_vect)
{
    (void)mt_rxq_put(&rx, UDR0);
}

static void uart_init(void)
{
    mt_rxq_init(&rx);
    UBRR0H = 0;
    UBRR0L = UART_UBRR;
    UCSR0A = 0;
    UCSR0B = (uint8_t)((1 << RXCIE0) | (1 << RXEN0) | (1 << TXEN0));
    UCSR0C = (uint8_t)((1 << UCSZ01) | (1 << UCSZ00)); /* 8N1 */
}

static void uart_write(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        while (!(UCSR0A & (1 << UDRE0))) {
        }
        UDR0 = p[i];
    }
}

int main(void)
{
    static uint8_t frame[96];
    mt_info_t info;
    memset(&info, 0, sizeof info);
    info.protocol_version = MT_PROTOCOL_VERSION;
    info.fw_major = 0u;
    info.fw_minor = 1u;
    info.device_id = MT_DEVICE_ID;
    info.sample_rate_hz = rate_hz;
    info.n_channels = 1u;
    info.sample_format = MT_FMT_INT16;
    info.uv_per_count = VREF_UV / 1024.0f / FRONTEND_GAIN;
    strcpy(info.labels[0], "calf");
    mt_device_init(&dev, &info, &board, 16u);

    ADMUX = (uint8_t)(1 << REFS0);                                  /* AVCC reference, channel A0 */
    /* enable, ADC clock 16 MHz / 128 = 125 kHz: the datasheet wants 50-200 kHz for the full 10 bits
     * (/64 would be 250 kHz). A conversion is 13 ADC clocks = 104 µs (the first 25 = 200 µs),
     * inside the 250 µs period of the highest rate, 4 kHz, so each tick's conversion is done
     * before the next tick reads it. */
    ADCSRA = (uint8_t)((1 << ADEN) | (1 << ADPS2) | (1 << ADPS1) | (1 << ADPS0));
    ADCSRA |= (uint8_t)(1 << ADSC);
    uart_init();
    timer_set(rate_hz);
    sei();
    /* announce ourselves: a host that opens the port late asks with GET_INFO anyway */
    uart_write(frame, mt_frame_info(&dev.info, dev.seq++, frame, sizeof frame));
    for (;;) {
        size_t n;
        uint8_t b;
        while (mt_rxq_get(&rx, &b)) {
            mt_device_receive(&dev, &b, 1u);
        }
        n = mt_device_poll(&dev, frame, sizeof frame);
        if (n) {
            uart_write(frame, n);
        }
    }
}
