/* Build-time limits of the portable core. Boards may override them with -D flags. */
#ifndef MT_CONFIG_H
#define MT_CONFIG_H

#include <stdint.h>

#define MT_PROTOCOL_VERSION 1u

/* Channels per sample set kept in the ring buffer. */
#ifndef MT_MAX_CHANNELS
#define MT_MAX_CHANNELS 8u
#endif

/* Sample sets in the ring (power of two). */
#ifndef MT_RING_CAPACITY
#define MT_RING_CAPACITY 256u
#endif

/* Index type of the ring: must be read and written atomically by the target CPU
 * (uint8_t on 8-bit AVR, where a 16-bit access takes two instructions). */
#ifndef MT_RING_INDEX_T
#define MT_RING_INDEX_T uint16_t
#endif

/* Largest host->device frame accepted (COBS-encoded bytes, without the delimiter). */
#define MT_CMD_MAX_ENCODED 16u

/* Largest frame body (header + payload + CRC) the host accepts; encoders refuse more. */
#define MT_MAX_BODY 2048u

/* Barrier between writing a ring slot and publishing its index. */
#if defined(__arm__) || defined(__aarch64__)
#define MT_BARRIER() __asm__ __volatile__("dmb" ::: "memory")
#elif defined(__GNUC__)
#define MT_BARRIER() __asm__ __volatile__("" ::: "memory")
#else
#define MT_BARRIER() ((void)0)
#endif

#endif
