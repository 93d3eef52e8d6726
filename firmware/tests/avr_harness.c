/* Runs the AVR firmware in simavr: feeds a 5 Hz, 1 V sine into ADC0, injects host command
 * bytes into the UART after 50 ms, and writes every byte the firmware sends to a file.
 * Usage: avr_harness FIRMWARE.elf OUT.bin SECONDS [COMMANDS.bin]
 * The Python test decodes OUT.bin with the host decoder (tests/firmware/test_avr_sim.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "avr_adc.h"
#include "avr_uart.h"
#include "sim_avr.h"
#include "sim_elf.h"
#include "sim_irq.h"

static FILE *out;
static avr_t *avr;
static avr_irq_t *adc0;
static unsigned long bytes_out;

static void uart_out(struct avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)param;
    fputc((int)(value & 0xFF), out);
    bytes_out++;
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
    avr_irq_t *uart_in;
    if (argc < 4) {
        fprintf(stderr, "usage: %s FIRMWARE.elf OUT.bin SECONDS [COMMANDS.bin]\n", argv[0]);
        return 2;
    }
    if (elf_read_firmware(argv[1], &fw) != 0) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    seconds = atof(argv[3]);
    if (argc > 4) {
        FILE *c = fopen(argv[4], "rb");
        if (c) {
            n_cmd = fread(cmd, 1, sizeof cmd, c);
            fclose(c);
        }
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
            avr_raise_irq(uart_in, cmd[sent++]);
        }
    }
    fclose(out);
    fprintf(stderr, "simulated %.2f s, %lu bytes out\n", (double)avr->cycle / avr->frequency, bytes_out);
    return 0;
}
