/* Runs the AVR firmware in simavr: feeds a 5 Hz, 1 V sine into ADC0, injects host command
 * bytes into the UART, and writes every byte the firmware sends to a file.
 * Usage: avr_harness FIRMWARE.elf OUT.bin SECONDS [COMMANDS.bin [AT_SECONDS MORE.bin]...]
 *   COMMANDS.bin   from 50 ms on, one byte every 100 µs (well under the UART's pace);
 *   AT_SECONDS MORE.bin   from the first frame the firmware starts sending after AT_SECONDS,
 *                  back to back at the line rate: the command arrives while a frame goes out.
 * The receiver is modelled as the ATmega328P's: a two-character FIFO plus the shift register,
 * so a character that arrives while three wait unread is lost (data overrun); simavr itself
 * would buffer 64. Lost characters are counted on stderr ("rx overruns: N").
 * The Python test decodes OUT.bin with the host decoder (tests/firmware/test_firmware.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avr_adc.h"
#include "avr_uart.h"
#include "sim_avr.h"
#include "sim_elf.h"
#include "sim_irq.h"

#define MAX_BURSTS 8
#define HW_RX_HELD 3 /* UDR0's two-level FIFO + the receive shift register */

typedef struct {
    uint8_t bytes[256];
    size_t n, sent;
    avr_cycle_count_t after; /* wait for a frame start after this cycle */
    avr_cycle_count_t start; /* 0 until that frame start was seen */
} burst_t;

static FILE *out;
static avr_t *avr;
static avr_irq_t *adc0;
static unsigned long bytes_out, rx_overruns;
static int last_out = 0; /* the previous byte sent was a delimiter (the firmware starts with a frame) */
static burst_t bursts[MAX_BURSTS];
static int n_bursts;

static void uart_out(struct avr_irq_t *irq, uint32_t value, void *param)
{
    int i;
    (void)irq;
    (void)param;
    fputc((int)(value & 0xFF), out);
    bytes_out++;
    if (last_out == 0 && (value & 0xFF) != 0) { /* the first byte of a frame is on the wire */
        for (i = 0; i < n_bursts; i++) {
            if (!bursts[i].start && avr->cycle > bursts[i].after) {
                bursts[i].start = avr->cycle;
            }
        }
    }
    last_out = (int)(value & 0xFF);
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    FILE *c = fopen(path, "rb");
    if (c) {
        n = fread(buf, 1, cap, c);
        fclose(c);
    } else {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    return n;
}

static avr_uart_t *find_uart0(void)
{
    avr_io_t *io;
    for (io = avr->io_port; io; io = io->next) {
        if (io->kind && strcmp(io->kind, "uart") == 0 && ((avr_uart_t *)io)->name == '0') {
            return (avr_uart_t *)io;
        }
    }
    return NULL;
}

/* Characters received and not yet read by the firmware (simavr's input FIFO). */
static unsigned rx_waiting(const avr_uart_t *uart)
{
    return (unsigned)((uart->input.write + uart_fifo_fifo_size - uart->input.read) & (uart_fifo_fifo_size - 1));
}

/* One character reaches the receiver, unless three already wait unread (data overrun). */
static void uart_receive(avr_irq_t *uart_in, avr_uart_t *uart, uint8_t b)
{
    if (rx_waiting(uart) >= HW_RX_HELD) {
        rx_overruns++;
        return;
    }
    avr_raise_irq(uart_in, b);
}

static void adc_trigger(struct avr_irq_t *irq, uint32_t value, void *param)
{
    double t = (double)avr->cycle / (double)avr->frequency;
    (void)irq;
    (void)value;
    (void)param;
    avr_raise_irq(adc0, (uint32_t)(2500.0 + 1000.0 * sin(2.0 * M_PI * 5.0 * t)));
}

int main(int argc, char **argv)
{
    elf_firmware_t fw = {{0}};
    uint8_t cmd[256];
    size_t n_cmd = 0, sent = 0;
    double seconds;
    uint32_t flags = 0;
    int a;
    avr_irq_t *uart_in;
    avr_uart_t *uart;
    if (argc < 4 || (argc > 5 && (argc - 5) % 2 != 0) || (argc - 5) / 2 > MAX_BURSTS) {
        fprintf(stderr, "usage: %s FIRMWARE.elf OUT.bin SECONDS [COMMANDS.bin [AT_SECONDS MORE.bin]...]\n", argv[0]);
        return 2;
    }
    if (elf_read_firmware(argv[1], &fw) != 0) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    seconds = atof(argv[3]);
    if (argc > 4) {
        n_cmd = read_file(argv[4], cmd, sizeof cmd);
    }
    avr = avr_make_mcu_by_name("atmega328p");
    if (!avr) {
        return 2;
    }
    avr_init(avr);
    avr->frequency = 16000000;
    avr->vcc = avr->avcc = avr->aref = 5000; /* mV: AVCC is the ADC reference */
    avr->log = 0;
    avr_load_firmware(avr, &fw);
    out = fopen(argv[2], "wb");
    avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
    flags &= ~AVR_UART_FLAG_STDIO;
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), uart_out, NULL);
    uart_in = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    uart = find_uart0();
    if (!uart) {
        fprintf(stderr, "no UART0 in this simavr\n");
        return 2;
    }
    for (a = 5; a + 1 < argc; a += 2) {
        burst_t *b = &bursts[n_bursts++];
        b->after = (avr_cycle_count_t)(atof(argv[a]) * avr->frequency);
        b->n = read_file(argv[a + 1], b->bytes, sizeof b->bytes);
    }
    adc0 = avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_OUT_TRIGGER), adc_trigger, NULL);
    while ((double)avr->cycle < seconds * avr->frequency) {
        int state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed) {
            fprintf(stderr, "firmware stopped (state %d)\n", state);
            break;
        }
        /* one command byte every 100 µs after 50 ms (well under the UART's pace) */
        if (sent < n_cmd && avr->cycle > 800000ull + sent * 1600ull) {
            uart_receive(uart_in, uart, cmd[sent++]);
        }
        /* bursts: back to back, one character time (the UART's own, from UBRR0) apart */
        for (a = 0; a < n_bursts; a++) {
            burst_t *b = &bursts[a];
            if (b->start && b->sent < b->n && avr->cycle >= b->start + b->sent * uart->cycles_per_byte) {
                uart_receive(uart_in, uart, b->bytes[b->sent++]);
            }
        }
    }
    fclose(out);
    for (a = 0; a < n_bursts; a++) {
        if (bursts[a].sent < bursts[a].n) {
            fprintf(stderr, "burst %d: %lu of %lu bytes sent (no frame started after its time)\n", a,
                    (unsigned long)bursts[a].sent, (unsigned long)bursts[a].n);
        }
    }
    fprintf(stderr, "simulated %.2f s, %lu bytes out, rx overruns: %lu\n", (double)avr->cycle / avr->frequency,
            bytes_out, rx_overruns);
    return 0;
}
