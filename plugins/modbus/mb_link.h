/* One Modbus RTU line (an RS-485 port) over libmodbus. All use of libmodbus
 * is in mb_link.c. (Modbus TCP endpoints run on the reactor, mb_reactor.h,
 * which frames Modbus TCP itself; the error kinds and counters here serve
 * both.)
 *
 * Calls block for at most the response timeout. The link (re)connects by
 * itself before a transaction, at most once per reconnect period, and sorts
 * every failure into one of the error kinds the driver counts per device. */
#ifndef WG_MB_LINK_H
#define WG_MB_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "drivers/plugin.h"

enum mb_error {
    MB_OK = 0,
    MB_ERR_TIMEOUT,    /* no (complete) reply in time */
    MB_ERR_CRC,        /* RTU frame with a bad checksum */
    MB_ERR_EXCEPTION,  /* the slave answered with an exception code */
    MB_ERR_BAD_REPLY,  /* wrong length, byte count, unit or function in the reply: garbage */
    MB_ERR_CONNECTION, /* port cannot be opened, connection refused or lost */
};

struct mb_link_config {
    bool rtu;
    /* RTU */
    const char *device;
    int baud;
    char parity; /* 'N', 'E', 'O' */
    int data_bits;
    int stop_bits;
    bool rs485;
    /* TCP (the reactor's endpoint takes these) */
    const char *host;
    int port;
    /* both */
    int timeout_ms;
    int reconnect_ms;
};

struct mb_link;

/* CLOCK_MONOTONIC in ms: reconnect pacing here, poll scheduling in the bus. */
static inline int64_t mb_monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Opens nothing yet: the line is opened before the first transaction. RTU only. */
struct mb_link *mb_link_new(const struct mb_link_config *config, char *error, size_t error_size);
void mb_link_free(struct mb_link *link);

/* Sets the reply timeout for the next transactions (per-device overrides). */
void mb_link_set_timeout(struct mb_link *link, int timeout_ms);

/* Reads `count` registers (function 3/4, into registers[]) or bits (1/2, into
 * bits[], one byte per bit). On MB_ERR_EXCEPTION *exception holds the code.
 * `detail` gets a short reason on failure ("timeout", "exception 2 (illegal
 * data address)", "connect: Connection refused"). */
enum mb_error mb_link_read(struct mb_link *link, int unit, int function, uint16_t start,
                           uint16_t count, uint16_t *registers, uint8_t *bits, int *exception,
                           char *detail, size_t detail_size);

/* Function 5 or 15: one coil. */
enum mb_error mb_link_write_bit(struct mb_link *link, int unit, int function, uint16_t address,
                                uint8_t bit, int *exception, char *detail, size_t detail_size);
/* Function 6 (count 1) or 16. */
enum mb_error mb_link_write_registers(struct mb_link *link, int unit, int function,
                                      uint16_t address, uint16_t count, const uint16_t *registers,
                                      int *exception, char *detail, size_t detail_size);

/* A one-time remark about the line (RS-485 mode refused), for the log. */
bool mb_link_take_notice(struct mb_link *link, char *notice, size_t notice_size);

/* The per-device counter an error adds to ("timeout", "crc_error", ...). */
const char *mb_error_counter(enum mb_error error);
/* The health reason code of an error (WG_REASON_ANSWERING for MB_OK). */
enum wg_health_reason mb_error_reason(enum mb_error error);

#endif
