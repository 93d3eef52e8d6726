/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection; check("123456789") = 0x29B1. */
#ifndef MT_CRC16_H
#define MT_CRC16_H

#include <stddef.h>
#include <stdint.h>

#define MT_CRC16_INIT 0xFFFFu

/* Continue a CRC over one more byte. */
uint16_t mt_crc16_update(uint16_t crc, uint8_t byte);

/* CRC of a whole buffer. */
uint16_t mt_crc16(const uint8_t *data_ptr, size_t data_len);

#endif
