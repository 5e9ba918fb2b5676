/* The libmodbus wrapper for RTU lines: open and reopen, timeouts, and error
 * sorting. The only file of the driver that includes <modbus.h>. */
#include "mb_link.h"

#include "mb_frame.h"

#include <errno.h>
#include <fcntl.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

struct mb_link {
    modbus_t *ctx;
    bool rs485;
    bool connected;
    bool rs485_warned;
    char notice[128]; /* a one-time remark for the log, taken by mb_link_take_notice */
    int reconnect_ms;
    int64_t last_connect_ms;
    char last_connect_error[96];
};

struct mb_link *mb_link_new(const struct mb_link_config *config, char *error, size_t error_size)
{
    struct mb_link *link = calloc(1, sizeof *link);
    if (!link) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    if (!config->rtu) {
        /* Modbus TCP runs on the reactor (mb_reactor.c), not over libmodbus. */
        snprintf(error, error_size, "a libmodbus line is a serial line only");
        free(link);
        return NULL;
    }
    link->ctx = modbus_new_rtu(config->device, config->baud, config->parity, config->data_bits,
                               config->stop_bits);
    if (!link->ctx) {
        snprintf(error, error_size, "%s", modbus_strerror(errno));
        free(link);
        return NULL;
    }
    link->rs485 = config->rs485;
    link->reconnect_ms = config->reconnect_ms;
    link->last_connect_ms = INT64_MIN / 2;
    modbus_set_error_recovery(link->ctx, MODBUS_ERROR_RECOVERY_NONE);
    mb_link_set_timeout(link, config->timeout_ms);
    return link;
}

void mb_link_free(struct mb_link *link)
{
    if (!link)
        return;
    if (link->connected)
        modbus_close(link->ctx);
    modbus_free(link->ctx);
    free(link);
}

void mb_link_set_timeout(struct mb_link *link, int timeout_ms)
{
    uint32_t sec = (uint32_t)(timeout_ms / 1000), usec = (uint32_t)(timeout_ms % 1000) * 1000;
    modbus_set_response_timeout(link->ctx, sec, usec);
    /* A slave that stops mid-frame costs no more than a whole reply would. */
    modbus_set_byte_timeout(link->ctx, sec, usec);
}

static void disconnect(struct mb_link *link)
{
    if (link->connected)
        modbus_close(link->ctx);
    link->connected = false;
}

/* libmodbus waits with select(), which cannot take a descriptor of
 * FD_SETSIZE (1024) or more: glibc aborts the whole process. A descriptor up
 * there is moved below, or refused with EMFILE (the daemon keeps the low
 * descriptors for its buses, see main.c). */
static int low_descriptor(int fd)
{
    if (fd < 0 || fd < FD_SETSIZE)
        return fd;
    int low = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    if (low >= FD_SETSIZE) {
        close(low);
        low = -1;
    }
    if (low < 0)
        errno = EMFILE;
    return low;
}

static bool ensure_connected(struct mb_link *link, char *detail, size_t detail_size)
{
    if (link->connected)
        return true;
    int64_t now = mb_monotonic_ms();
    if (now - link->last_connect_ms < link->reconnect_ms) {
        snprintf(detail, detail_size, "%s", link->last_connect_error);
        return false;
    }
    link->last_connect_ms = now;
    bool connected = modbus_connect(link->ctx) == 0;
    if (connected) {
        int fd = low_descriptor(modbus_get_socket(link->ctx));
        modbus_set_socket(link->ctx, fd);
        connected = fd >= 0;
    }
    if (!connected) {
        if (errno == EMFILE)
            snprintf(link->last_connect_error, sizeof link->last_connect_error,
                     "%s: no file descriptor below %d left (libmodbus cannot wait on more)", "open",
                     FD_SETSIZE);
        else
            snprintf(link->last_connect_error, sizeof link->last_connect_error, "%s: %s", "open",
                     modbus_strerror(errno));
        snprintf(detail, detail_size, "%s", link->last_connect_error);
        return false;
    }
    if (link->rs485 && modbus_rtu_set_serial_mode(link->ctx, MODBUS_RTU_RS485) < 0) {
        /* Many USB adapters switch direction themselves and refuse the ioctl;
         * the driver says so once and carries on in plain mode. */
        if (!link->rs485_warned)
            snprintf(link->notice, sizeof link->notice,
                     "the port refused RS-485 mode (%s); continuing without it (most USB "
                     "adapters switch direction themselves)",
                     modbus_strerror(errno));
        link->rs485_warned = true;
    }
    link->connected = true;
    return true;
}

/* Sorts errno after a failed libmodbus call and brings the line back to a
 * clean state: late bytes flushed, a TCP stream that lost framing reconnected. */
static enum mb_error classify(struct mb_link *link, int error, int *exception, char *detail,
                              size_t detail_size)
{
    enum mb_error kind;
    if (error > MODBUS_ENOBASE && error < EMBXGTAR + 1) {
        *exception = error - MODBUS_ENOBASE;
        snprintf(detail, detail_size, "exception %d (%s)", *exception,
                 mb_exception_name(*exception));
        return MB_ERR_EXCEPTION;
    }
    switch (error) {
    case ETIMEDOUT:
        kind = MB_ERR_TIMEOUT;
        snprintf(detail, detail_size, "timeout");
        break;
    case EMBBADCRC:
        kind = MB_ERR_CRC;
        snprintf(detail, detail_size, "crc error");
        break;
    case EMBBADDATA:
    case EMBMDATA:
    case EMBBADEXC:
    case EMBBADSLAVE:
    case EMBUNKEXC:
        kind = MB_ERR_BAD_REPLY;
        snprintf(detail, detail_size, "bad reply: %s", modbus_strerror(error));
        break;
    default:
        kind = MB_ERR_CONNECTION;
        snprintf(detail, detail_size, "connection: %s", modbus_strerror(error));
        break;
    }
    if (kind == MB_ERR_CONNECTION) {
        disconnect(link);
    } else if (link->connected) {
        modbus_flush(link->ctx);
    }
    return kind;
}

static bool begin(struct mb_link *link, int unit, char *detail, size_t detail_size)
{
    if (!ensure_connected(link, detail, detail_size))
        return false;
    modbus_set_slave(link->ctx, unit);
    return true;
}

enum mb_error mb_link_read(struct mb_link *link, int unit, int function, uint16_t start,
                           uint16_t count, uint16_t *registers, uint8_t *bits, int *exception,
                           char *detail, size_t detail_size)
{
    *exception = 0;
    detail[0] = '\0';
    if (!begin(link, unit, detail, detail_size))
        return MB_ERR_CONNECTION;
    int got;
    switch (function) {
    case 1:
        got = modbus_read_bits(link->ctx, start, count, bits);
        break;
    case 2:
        got = modbus_read_input_bits(link->ctx, start, count, bits);
        break;
    case 3:
        got = modbus_read_registers(link->ctx, start, count, registers);
        break;
    case 4:
        got = modbus_read_input_registers(link->ctx, start, count, registers);
        break;
    default:
        snprintf(detail, detail_size, "function %d is not a read", function);
        return MB_ERR_BAD_REPLY;
    }
    if (got < 0)
        return classify(link, errno, exception, detail, detail_size);
    if (got != count) {
        snprintf(detail, detail_size, "bad reply: %d values for %u requested", got, count);
        return MB_ERR_BAD_REPLY;
    }
    return MB_OK;
}

enum mb_error mb_link_write_bit(struct mb_link *link, int unit, int function, uint16_t address,
                                uint8_t bit, int *exception, char *detail, size_t detail_size)
{
    *exception = 0;
    detail[0] = '\0';
    if (!begin(link, unit, detail, detail_size))
        return MB_ERR_CONNECTION;
    int rc = function == 5 ? modbus_write_bit(link->ctx, address, bit)
                           : modbus_write_bits(link->ctx, address, 1, &bit);
    if (rc < 0)
        return classify(link, errno, exception, detail, detail_size);
    return MB_OK;
}

enum mb_error mb_link_write_registers(struct mb_link *link, int unit, int function,
                                      uint16_t address, uint16_t count, const uint16_t *registers,
                                      int *exception, char *detail, size_t detail_size)
{
    *exception = 0;
    detail[0] = '\0';
    if (!begin(link, unit, detail, detail_size))
        return MB_ERR_CONNECTION;
    int rc = function == 6 ? modbus_write_register(link->ctx, address, registers[0])
                           : modbus_write_registers(link->ctx, address, count, registers);
    if (rc < 0)
        return classify(link, errno, exception, detail, detail_size);
    return MB_OK;
}

bool mb_link_take_notice(struct mb_link *link, char *notice, size_t notice_size)
{
    if (!link->notice[0])
        return false;
    snprintf(notice, notice_size, "%s", link->notice);
    link->notice[0] = '\0';
    return true;
}

enum wg_health_reason mb_error_reason(enum mb_error error)
{
    switch (error) {
    case MB_ERR_TIMEOUT:
        return WG_REASON_TIMEOUT;
    case MB_ERR_CRC:
        return WG_REASON_CRC;
    case MB_ERR_EXCEPTION:
        return WG_REASON_EXCEPTION;
    case MB_ERR_BAD_REPLY:
        return WG_REASON_BAD_REPLY;
    case MB_ERR_CONNECTION:
        return WG_REASON_CONNECTION;
    case MB_OK:
        break;
    }
    return WG_REASON_ANSWERING;
}

const char *mb_error_counter(enum mb_error error)
{
    switch (error) {
    case MB_ERR_TIMEOUT:
        return "timeout";
    case MB_ERR_CRC:
        return "crc_error";
    case MB_ERR_EXCEPTION:
        return "exception";
    case MB_ERR_BAD_REPLY:
        return "bad_reply";
    case MB_ERR_CONNECTION:
        return "connection_error";
    case MB_OK:
        break;
    }
    return "ok";
}
