/* The ESPA 4.4.4 line's thread (espa_line.h): the tty opened with termios,
 * the control station's side of the protocol (select, block, ACK/NAK,
 * retries, EOT; polls when idle), and the bounded queue the core pushes
 * calls into. The thread owns the tty and its buffers; the queue and the
 * counters are shared under the mutex. */
#include "espa/espa_line.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define REOPEN_MS 2000 /* a tty that cannot be opened is tried again this often */

enum outcome { DONE = 0, FAILED = -1, LOST = -2, STOPPED = -3 };

struct espa_line {
    struct wg_espa settings;
    char device[256];
    pthread_t thread;
    int wake_fd;
    pthread_mutex_t lock; /* the queue, `stop` and the counters */
    struct espa_call queue[ESPA_QUEUE_MAX];
    size_t head, count;
    bool stop;
    struct espa_line_counters counters;
    /* The thread's own: */
    int fd;
    uint8_t in[256];
    size_t in_at, in_len;
    int state;            /* -1 unknown, 0 down, 1 up: transitions are logged */
    char open_error[160]; /* the last open failure logged, not to repeat it */
    char reason[384];     /* why the last transaction failed */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool stopping(struct espa_line *line)
{
    pthread_mutex_lock(&line->lock);
    bool stop = line->stop;
    pthread_mutex_unlock(&line->lock);
    return stop;
}

static void count(struct espa_line *line, uint64_t *counter, uint64_t by)
{
    pthread_mutex_lock(&line->lock);
    *counter += by;
    pthread_mutex_unlock(&line->lock);
}

/* The paging system answered (up) or not; changes are logged once. */
static void set_up(struct espa_line *line, bool up)
{
    pthread_mutex_lock(&line->lock);
    line->counters.up = up;
    line->counters.known = true;
    pthread_mutex_unlock(&line->lock);
    if (line->state == (int)up)
        return;
    if (up)
        wg_notice("espa: the paging system (address %c) answers on %s", line->settings.address,
                  line->device);
    else
        wg_err("espa: the paging system (address %c) on %s does not answer: %s; calls to pagers "
               "are not delivered (the phones and the wall still get them)",
               line->settings.address, line->device, line->reason);
    line->state = up;
}

/* ---- the tty ---- */

static speed_t speed_of(int baud)
{
    switch (baud) {
    case 1200:
        return B1200;
    case 2400:
        return B2400;
    case 4800:
        return B4800;
    case 19200:
        return B19200;
    case 38400:
        return B38400;
    case 57600:
        return B57600;
    case 115200:
        return B115200;
    default:
        return B9600;
    }
}

static void close_line(struct espa_line *line)
{
    if (line->fd >= 0)
        close(line->fd);
    line->fd = -1;
    line->in_at = line->in_len = 0;
}

/* Opens and sets up the tty: raw, the configured character format, no flow control. */
static bool open_line(struct espa_line *line)
{
    char error[160] = "";
    int fd = open(line->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    struct termios tio;
    if (fd < 0) {
        snprintf(error, sizeof error, "open: %s", strerror(errno));
    } else if (tcgetattr(fd, &tio) != 0) {
        snprintf(error, sizeof error, "not a serial line (tcgetattr: %s)", strerror(errno));
    } else {
        const struct wg_espa *s = &line->settings;
        cfmakeraw(&tio);
        tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
        tio.c_cflag |= (s->data_bits == 7 ? CS7 : CS8) | CLOCAL | CREAD;
        if (s->parity != 'N') {
            tio.c_cflag |= PARENB | (s->parity == 'O' ? PARODD : 0);
            tio.c_iflag |= INPCK | IGNPAR; /* a character with a parity error is dropped */
        }
        if (s->stop_bits == 2)
            tio.c_cflag |= CSTOPB;
        tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
        tio.c_cc[VMIN] = 0;
        tio.c_cc[VTIME] = 0;
        cfsetispeed(&tio, speed_of(s->baud));
        cfsetospeed(&tio, speed_of(s->baud));
        if (tcsetattr(fd, TCSANOW, &tio) != 0)
            snprintf(error, sizeof error, "tcsetattr: %s", strerror(errno));
    }
    if (error[0]) {
        if (fd >= 0)
            close(fd);
        snprintf(line->reason, sizeof line->reason, "%s: %s", line->device, error);
        if (strcmp(error, line->open_error) != 0)
            wg_err("espa: %s: %s; trying again every %d s", line->device, error, REOPEN_MS / 1000);
        snprintf(line->open_error, sizeof line->open_error, "%s", error);
        set_up(line, false);
        return false;
    }
    tcflush(fd, TCIOFLUSH);
    line->fd = fd;
    line->open_error[0] = '\0';
    wg_info("espa: %s open, %d baud, %d%c%d", line->device, line->settings.baud,
            line->settings.data_bits, line->settings.parity, line->settings.stop_bits);
    return true;
}

/* Waits for the tty (or the wake-up) until `deadline`; reads what came. A
 * wake-up only ends the wait when the line is stopping. Returns 1 when
 * bytes are in the buffer, 0 at the deadline, or an outcome. */
static int wait_input(struct espa_line *line, int64_t deadline)
{
    for (;;) {
        if (line->in_at < line->in_len)
            return 1;
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd fds[2] = {{.fd = line->wake_fd, .events = POLLIN},
                                {.fd = line->fd, .events = POLLIN}};
        int n = poll(fds, line->fd >= 0 ? 2 : 1, (int)left);
        if (n < 0 && errno != EINTR) {
            snprintf(line->reason, sizeof line->reason, "poll: %s", strerror(errno));
            return LOST;
        }
        if (n <= 0)
            continue;
        if (fds[0].revents) {
            uint64_t ignored;
            if (read(line->wake_fd, &ignored, sizeof ignored) < 0 && errno != EAGAIN)
                wg_debug("espa: wake-up: %s", strerror(errno));
            if (stopping(line))
                return STOPPED;
        }
        if (line->fd >= 0 && fds[1].revents) {
            ssize_t got = read(line->fd, line->in, sizeof line->in);
            if (got > 0) {
                line->in_at = 0;
                line->in_len = (size_t)got;
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                snprintf(line->reason, sizeof line->reason, "%s went away (%s)", line->device,
                         got == 0 ? "end of file" : strerror(errno));
                return LOST;
            }
        }
    }
}

/* One byte by `deadline`: 1, 0 at the deadline, or an outcome. */
static int read_byte(struct espa_line *line, int64_t deadline, uint8_t *byte)
{
    int got = wait_input(line, deadline);
    if (got == 1)
        *byte = line->in[line->in_at++];
    return got;
}

static int send_bytes(struct espa_line *line, const uint8_t *bytes, size_t len)
{
    int64_t deadline = now_ms() + line->settings.response_ms;
    while (len > 0) {
        ssize_t put = write(line->fd, bytes, len);
        if (put > 0) {
            bytes += put;
            len -= (size_t)put;
            continue;
        }
        if (put < 0 && errno != EAGAIN && errno != EINTR) {
            snprintf(line->reason, sizeof line->reason, "write to %s: %s", line->device,
                     strerror(errno));
            return LOST;
        }
        struct pollfd out = {.fd = line->fd, .events = POLLOUT};
        int64_t left = deadline - now_ms();
        if (left <= 0 || poll(&out, 1, (int)left) == 0) {
            snprintf(line->reason, sizeof line->reason, "%s does not take what is written",
                     line->device);
            return LOST;
        }
    }
    return DONE;
}

/* Discards what came before this exchange. */
static void flush_input(struct espa_line *line)
{
    tcflush(line->fd, TCIFLUSH);
    line->in_at = line->in_len = 0;
}

/* ACK, NAK or EOT within response_ms (anything else is garbage): the byte,
 * 0 at the deadline, or an outcome. */
static int await_answer(struct espa_line *line)
{
    int64_t deadline = now_ms() + line->settings.response_ms;
    for (;;) {
        uint8_t byte = 0;
        int got = read_byte(line, deadline, &byte);
        if (got != 1)
            return got;
        if (byte == ESPA_ACK || byte == ESPA_NAK || byte == ESPA_EOT)
            return byte;
        count(line, &line->counters.garbage, 1);
    }
}

static const char *answer_name(int answer)
{
    return answer == ESPA_NAK ? "NAK" : answer == ESPA_EOT ? "EOT" : "no answer";
}

/* Takes the line and selects the paging system: own ENQ, its ENQ -> ACK. */
static int select_station(struct espa_line *line)
{
    const uint8_t select[] = {(uint8_t)line->settings.own_address, ESPA_ENQ,
                              (uint8_t)line->settings.address, ESPA_ENQ};
    for (int attempt = 0; attempt < line->settings.retries; attempt++) {
        if (attempt)
            count(line, &line->counters.retries, 1);
        int rc = send_bytes(line, select, sizeof select);
        int answer = rc == DONE ? await_answer(line) : rc;
        if (answer == ESPA_ACK)
            return DONE;
        if (answer < 0)
            return answer;
        snprintf(line->reason, sizeof line->reason, "%s to its selection after %d attempts",
                 answer_name(answer), attempt + 1);
    }
    return FAILED;
}

static int send_call(struct espa_line *line, const struct espa_call *call)
{
    uint8_t block[ESPA_BLOCK_MAX];
    size_t len = espa_call_block(call, block, sizeof block);
    if (!len) {
        snprintf(line->reason, sizeof line->reason,
                 "not a valid call (a bug: the text or a "
                 "record)");
        return FAILED;
    }
    flush_input(line);
    int rc = select_station(line);
    for (int attempt = 0; rc == DONE && attempt < line->settings.retries; attempt++) {
        if (attempt)
            count(line, &line->counters.retries, 1);
        int sent = send_bytes(line, block, len);
        int answer = sent == DONE ? await_answer(line) : sent;
        if (answer < 0)
            return answer;
        if (answer == ESPA_ACK) {
            const uint8_t eot = ESPA_EOT;
            return send_bytes(line, &eot, 1);
        }
        snprintf(line->reason, sizeof line->reason, "%s to the call's block after %d attempts",
                 answer_name(answer), attempt + 1);
        if (attempt + 1 == line->settings.retries)
            rc = FAILED;
    }
    const uint8_t eot = ESPA_EOT; /* gives the line back */
    int ended = send_bytes(line, &eot, 1);
    return ended == DONE ? rc : ended;
}

/* A block the paging system sent us (status information): logged. */
static void log_block(struct espa_line *line, const struct espa_rx *rx)
{
    struct espa_block block;
    if (espa_parse_block(rx->body, rx->len, &block) != 0) {
        wg_warn("espa: the paging system sent a malformed block (%zu bytes); acknowledged, "
                "ignored",
                rx->len);
        return;
    }
    char text[256];
    size_t at = 0;
    for (size_t r = 0; r < block.record_count && at < sizeof text - 8; r++) {
        at += (size_t)snprintf(text + at, sizeof text - at, " %c=", block.records[r].id);
        for (size_t i = 0; i < block.records[r].len && at < sizeof text - 2; i++) {
            uint8_t c = block.records[r].data[i];
            text[at++] = c >= 0x20 && c < 0x7F ? (char)c : '?';
        }
        text[at] = '\0';
    }
    wg_info("espa: the paging system sent a block, header %c:%s", block.header,
            block.record_count ? text : " (no records)");
    (void)line;
}

/* The paging system selected us: ACK, its block (ACK or NAK), its EOT. */
static int receive_block(struct espa_line *line)
{
    const uint8_t ack = ESPA_ACK, nak = ESPA_NAK;
    int rc = send_bytes(line, &ack, 1);
    struct espa_rx rx;
    espa_rx_reset(&rx);
    int64_t deadline = now_ms() + line->settings.response_ms;
    int bad = 0;
    while (rc == DONE) {
        uint8_t byte = 0;
        int got = read_byte(line, deadline, &byte);
        if (got < 0)
            return got;
        if (got == 0) {
            snprintf(line->reason, sizeof line->reason,
                     "it selected us but sent no complete block");
            return FAILED;
        }
        if (byte == ESPA_EOT && rx.state == 0)
            return DONE; /* its transfer is over */
        enum espa_rx_result result = espa_rx_feed(&rx, byte);
        if (result == ESPA_RX_BLOCK) {
            log_block(line, &rx);
            rc = send_bytes(line, &ack, 1);
            deadline = now_ms() + line->settings.response_ms;
        } else if (result == ESPA_RX_BAD_BCC || result == ESPA_RX_OVERFLOW) {
            count(line, &line->counters.garbage, rx.len);
            if (++bad > line->settings.retries) {
                snprintf(line->reason, sizeof line->reason, "its blocks had bad BCCs");
                return FAILED;
            }
            rc = result == ESPA_RX_BAD_BCC ? send_bytes(line, &nak, 1) : DONE;
            deadline = now_ms() + line->settings.response_ms;
        }
    }
    return rc;
}

/* Polls the paging system: its address ENQ -> EOT, or it selects us. */
static int poll_station(struct espa_line *line)
{
    flush_input(line);
    const uint8_t poll_seq[] = {(uint8_t)line->settings.address, ESPA_ENQ};
    int rc = send_bytes(line, poll_seq, sizeof poll_seq);
    int64_t deadline = now_ms() + line->settings.response_ms;
    bool addressed = false; /* our address came: ENQ next selects us */
    while (rc == DONE) {
        uint8_t byte = 0;
        int got = read_byte(line, deadline, &byte);
        if (got < 0)
            return got;
        if (got == 0) {
            snprintf(line->reason, sizeof line->reason, "no answer to a poll");
            return FAILED;
        }
        if (byte == ESPA_EOT)
            return DONE;
        if (addressed && byte == ESPA_ENQ)
            return receive_block(line);
        addressed = byte == (uint8_t)line->settings.own_address;
        if (!addressed)
            count(line, &line->counters.garbage, 1);
    }
    return rc;
}

/* ---- the queue ---- */

static bool pop(struct espa_line *line, struct espa_call *call)
{
    pthread_mutex_lock(&line->lock);
    bool any = line->count > 0 && !line->stop;
    if (any) {
        *call = line->queue[line->head];
        line->head = (line->head + 1) % ESPA_QUEUE_MAX;
        line->count--;
        line->counters.queued = line->count;
    }
    pthread_mutex_unlock(&line->lock);
    return any;
}

/* Back at the front (the tty went away, or the line stops mid-call). */
static void push_front(struct espa_line *line, const struct espa_call *call)
{
    pthread_mutex_lock(&line->lock);
    if (line->count < ESPA_QUEUE_MAX) {
        line->head = (line->head + ESPA_QUEUE_MAX - 1) % ESPA_QUEUE_MAX;
        line->queue[line->head] = *call;
        line->count++;
        line->counters.queued = line->count;
    } else {
        line->counters.dropped++;
    }
    pthread_mutex_unlock(&line->lock);
}

void espa_line_push(struct espa_line *line, const struct espa_call *call)
{
    pthread_mutex_lock(&line->lock);
    if (line->count == ESPA_QUEUE_MAX) {
        const struct espa_call *oldest = &line->queue[line->head];
        wg_warn("espa: %d calls are waiting for the line; the oldest (to %s, \"%s\") is dropped",
                ESPA_QUEUE_MAX, oldest->number, oldest->text);
        line->head = (line->head + 1) % ESPA_QUEUE_MAX;
        line->count--;
        line->counters.dropped++;
    }
    line->queue[(line->head + line->count) % ESPA_QUEUE_MAX] = *call;
    line->count++;
    line->counters.queued = line->count;
    pthread_mutex_unlock(&line->lock);
    uint64_t one = 1;
    if (write(line->wake_fd, &one, sizeof one) < 0)
        wg_debug("espa: wake-up: %s", strerror(errno));
}

/* ---- the thread ---- */

static void idle(struct espa_line *line, int64_t until)
{
    int got = wait_input(line, until);
    if (got == 1) { /* nobody asked: not ours */
        count(line, &line->counters.garbage, line->in_len - line->in_at);
        line->in_at = line->in_len = 0;
    } else if (got == LOST) {
        wg_warn("espa: %s; reopening it", line->reason);
        close_line(line);
        set_up(line, false);
    }
}

static void *line_main(void *arg)
{
    struct espa_line *line = arg;
    int64_t reopen_at = 0, next_poll = 0;
    while (!stopping(line)) {
        int64_t now = now_ms();
        if (line->fd < 0) {
            if (now < reopen_at) {
                idle(line, reopen_at);
                continue;
            }
            reopen_at = now + REOPEN_MS;
            if (!open_line(line))
                continue;
            next_poll = now; /* a poll says at once whether anyone is there */
        }
        struct espa_call call;
        int rc = 1;
        if (pop(line, &call)) {
            rc = send_call(line, &call);
            if (rc == DONE) {
                count(line, &line->counters.sent, 1);
                wg_info("espa: called %s: \"%s\"", call.number, call.text);
            } else if (rc == FAILED) {
                count(line, &line->counters.failed, 1);
                wg_err("espa: the call to %s (\"%s\") was not delivered: %s", call.number,
                       call.text, line->reason);
            } else {
                push_front(line, &call);
            }
            if (line->settings.poll_s)
                next_poll = now_ms() + line->settings.poll_s * 1000;
        } else if (line->settings.poll_s && now >= next_poll) {
            rc = poll_station(line);
            next_poll = now_ms() + line->settings.poll_s * 1000;
        } else {
            idle(line, line->settings.poll_s ? next_poll : now + 60000);
            continue;
        }
        if (rc == DONE || rc == FAILED)
            set_up(line, rc == DONE);
        else if (rc == LOST) {
            wg_warn("espa: %s; reopening it", line->reason);
            close_line(line);
            set_up(line, false);
        }
    }
    close_line(line);
    return NULL;
}

struct espa_line *espa_line_start(const struct wg_espa *settings)
{
    struct espa_line *line = calloc(1, sizeof *line);
    if (!line) {
        wg_crit("espa: out of memory; calls to pagers are not sent");
        return NULL;
    }
    line->settings = *settings;
    snprintf(line->device, sizeof line->device, "%s", settings->device);
    line->settings.device = line->device; /* the config may be freed by a reload */
    line->settings.encoding = NULL;
    line->fd = -1;
    line->state = -1;
    pthread_mutex_init(&line->lock, NULL);
    line->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int err = line->wake_fd < 0 ? errno : pthread_create(&line->thread, NULL, line_main, line);
    if (err) {
        wg_crit("espa: cannot start the line's thread: %s; calls to pagers are not sent",
                strerror(err));
        if (line->wake_fd >= 0)
            close(line->wake_fd);
        pthread_mutex_destroy(&line->lock);
        free(line);
        return NULL;
    }
    return line;
}

size_t espa_line_stop(struct espa_line *line, struct espa_call *left, size_t max)
{
    if (!line)
        return 0;
    pthread_mutex_lock(&line->lock);
    line->stop = true;
    pthread_mutex_unlock(&line->lock);
    uint64_t one = 1;
    if (write(line->wake_fd, &one, sizeof one) < 0)
        wg_debug("espa: wake-up: %s", strerror(errno));
    pthread_join(line->thread, NULL);
    size_t kept = 0;
    for (size_t i = 0; i < line->count && kept < max; i++)
        left[kept++] = line->queue[(line->head + i) % ESPA_QUEUE_MAX];
    close(line->wake_fd);
    pthread_mutex_destroy(&line->lock);
    free(line);
    return kept;
}

void espa_line_counters(struct espa_line *line, struct espa_line_counters *out)
{
    pthread_mutex_lock(&line->lock);
    *out = line->counters;
    pthread_mutex_unlock(&line->lock);
}
