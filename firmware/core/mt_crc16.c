#include "mt_crc16.h"

uint16_t mt_crc16_update(uint16_t crc, uint8_t byte)
{
    uint8_t i;
    crc ^= (uint16_t)((uint16_t)byte << 8);
    for (i = 0; i < 8u; i++) {
        crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    }
    return crc;
}

uint16_t mt_crc16(const uint8_t *data_ptr, size_t data_len)
{
    uint16_t crc = MT_CRC16_INIT;
    size_t i;
    if (data_ptr == NULL) {
        return crc;
    }
    for (i = 0; i < data_len; i++) {
        crc = mt_crc16_update(crc, data_ptr[i]);
    }
    return crc;
}
