/* Host->device command stream: byte-at-a-time parser that resynchronises at every 0x00. */
#ifndef MT_CMD_H
#define MT_CMD_H

#include <stdint.h>

#include "mt_config.h"

typedef struct {
    uint16_t seq;
    uint8_t opcode;
    uint32_t argument; /* rate in Hz for SET_RATE, token for PING */
} mt_command_t;

typedef struct {
    uint8_t buf[MT_CMD_MAX_ENCODED];
    uint8_t len;
    uint8_t overflow;
    uint32_t commands;
    uint32_t cobs_errors, crc_errors, length_errors, field_errors;
} mt_cmd_parser_t;

/* Reset the parser and its counters. */
void mt_cmd_init(mt_cmd_parser_t *p);

/* Feed one received byte; returns 1 and fills *out when it completes a valid command. */
uint8_t mt_cmd_feed(mt_cmd_parser_t *p, uint8_t byte, mt_command_t *out);

#endif
