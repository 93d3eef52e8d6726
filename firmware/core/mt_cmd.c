#include "mt_cmd.h"

#include <stddef.h>

#include "mt_cobs.h"
#include "mt_crc16.h"
#include "mt_frame.h"

void mt_cmd_init(mt_cmd_parser_t *p)
{
    p->len = 0u;
    p->overflow = 0u;
    p->commands = 0u;
    p->cobs_errors = p->crc_errors = p->length_errors = p->field_errors = 0u;
}

static uint8_t finish(mt_cmd_parser_t *p, mt_command_t *out)
{
    uint8_t body[MT_CMD_MAX_ENCODED];
    size_t n = mt_cobs_decode(p->buf, p->len, body, sizeof body);
    if (n == SIZE_MAX) {
        p->cobs_errors++;
        return 0u;
    }
    if (n < 6u) {
        p->length_errors++;
        return 0u;
    }
    if (mt_crc16(body, n - 2u) != (uint16_t)(body[n - 2u] | (body[n - 1u] << 8))) {
        p->crc_errors++;
        return 0u;
    }
    if (body[0] != MT_PROTOCOL_VERSION || body[1] != MT_T_COMMAND ||
        mt_command_parse(body + 4, n - 6u, &out->opcode, &out->argument) != MT_OK) {
        p->field_errors++;
        return 0u;
    }
    out->seq = (uint16_t)(body[2] | (body[3] << 8));
    p->commands++;
    return 1u;
}

uint8_t mt_cmd_feed(mt_cmd_parser_t *p, uint8_t byte, mt_command_t *out)
{
    uint8_t ok = 0u;
    if (byte != 0u) {
        if (p->len < MT_CMD_MAX_ENCODED) {
            p->buf[p->len++] = byte;
        } else {
            p->overflow = 1u;
        }
        return 0u;
    }
    if (p->overflow) {
        p->length_errors++;
    } else if (p->len > 0u) {
        ok = finish(p, out);
    }
    p->len = 0u;
    p->overflow = 0u;
    return ok;
}
