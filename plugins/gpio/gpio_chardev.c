/* The GPIO character device backend, over libgpiod 1.6 (Debian 12). The only
 * file of wardgate that calls libgpiod: the move to the v2 API is this file. */
#include <errno.h>
#include <fcntl.h>
#include <gpiod.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio_backend.h"

struct gpio_chip_handle {
    struct gpiod_chip *chip;
    char description[96];
    atomic_uint refs; /* open_chip/share_chip and each requested line */
};

struct gpio_line_handle {
    struct gpio_chip_handle *chip;
    struct gpiod_line *line;
    bool output;
};

static struct gpio_chip_handle *
chardev_open_chip(const char *chip, const struct gpio_sim_settings *sim, char *why, size_t why_len)
{
    (void)sim;
    struct gpio_chip_handle *handle = calloc(1, sizeof *handle);
    if (!handle) {
        snprintf(why, why_len, "chip \"%s\": out of memory", chip);
        return NULL;
    }
    /* By name (gpiochip0), path (/dev/gpiochip0), label (wg-sim) or number. */
    handle->chip = gpiod_chip_open_lookup(chip);
    if (!handle->chip) {
        int err = errno;
        if (err == ENOENT || err == ENODEV || err == ENOTTY || err == EINVAL)
            snprintf(why, why_len,
                     "chip \"%s\": no such GPIO chip (looked up by name, /dev path, label and "
                     "number; see gpiodetect)",
                     chip);
        else
            snprintf(why, why_len, "chip \"%s\": cannot open: %s", chip, strerror(err));
        free(handle);
        return NULL;
    }
    snprintf(handle->description, sizeof handle->description, "%s [%s]",
             gpiod_chip_name(handle->chip), gpiod_chip_label(handle->chip));
    atomic_init(&handle->refs, 1);
    return handle;
}

static void chardev_close_chip(struct gpio_chip_handle *chip)
{
    if (!chip || atomic_fetch_sub(&chip->refs, 1) != 1)
        return;
    gpiod_chip_close(chip->chip);
    free(chip);
}

static struct gpio_chip_handle *chardev_share_chip(struct gpio_chip_handle *chip)
{
    atomic_fetch_add(&chip->refs, 1);
    return chip;
}

/* The same kernel chip: looked up the way open_chip does, compared by name. */
static bool chardev_is_chip(struct gpio_chip_handle *open, const char *chip,
                            const struct gpio_sim_settings *sim)
{
    (void)sim;
    struct gpiod_chip *other = gpiod_chip_open_lookup(chip);
    if (!other)
        return false;
    bool same = strcmp(gpiod_chip_name(other), gpiod_chip_name(open->chip)) == 0;
    gpiod_chip_close(other);
    return same;
}

static const char *chardev_describe(struct gpio_chip_handle *chip)
{
    return chip->description;
}

static unsigned chardev_line_count(struct gpio_chip_handle *chip)
{
    return gpiod_chip_num_lines(chip->chip);
}

static int request_flags(const struct gpio_line_request *request)
{
    int flags = request->active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    switch (request->bias) {
    case GPIO_BIAS_AS_IS:
        break;
    case GPIO_BIAS_DISABLE:
        flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE;
        break;
    case GPIO_BIAS_PULL_UP:
        flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP;
        break;
    case GPIO_BIAS_PULL_DOWN:
        flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN;
        break;
    }
    return flags;
}

static struct gpio_line_handle *chardev_request(struct gpio_chip_handle *chip,
                                                const struct gpio_line_request *request,
                                                const char *consumer, char *why, size_t why_len)
{
    unsigned count = gpiod_chip_num_lines(chip->chip);
    if (request->offset >= count) {
        snprintf(why, why_len, "chip %s line %u: out of range (the chip has %u lines, 0..%u)",
                 chip->description, request->offset, count, count ? count - 1 : 0);
        return NULL;
    }
    struct gpiod_line *line = gpiod_chip_get_line(chip->chip, request->offset);
    if (!line) {
        snprintf(why, why_len, "chip %s line %u: %s", chip->description, request->offset,
                 strerror(errno));
        return NULL;
    }
    struct gpiod_line_request_config config = {
        .consumer = consumer,
        .request_type = request->output ? GPIOD_LINE_REQUEST_DIRECTION_OUTPUT
                                        : GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES,
        .flags = request_flags(request),
    };
    if (gpiod_line_request(line, &config, request->initial ? 1 : 0) != 0) {
        int err = errno;
        if (err == EBUSY) {
            /* The kernel refreshed the line's info in gpiod_chip_get_line: name the holder. */
            const char *holder = gpiod_line_consumer(line);
            snprintf(why, why_len, "chip %s line %u: already in use by \"%s\"", chip->description,
                     request->offset, holder ? holder : "?");
        } else {
            snprintf(why, why_len, "chip %s line %u: cannot request as %s: %s", chip->description,
                     request->offset, request->output ? "output" : "input with edge events",
                     strerror(err));
        }
        return NULL;
    }
    struct gpio_line_handle *handle = calloc(1, sizeof *handle);
    if (!handle) {
        gpiod_line_release(line);
        snprintf(why, why_len, "chip %s line %u: out of memory", chip->description,
                 request->offset);
        return NULL;
    }
    handle->chip = chardev_share_chip(chip);
    handle->line = line;
    handle->output = request->output;
    if (!request->output) {
        /* Edges are read after poll() says so; never block the chip's thread on a read. */
        int fd = gpiod_line_event_get_fd(line);
        int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
            snprintf(why, why_len, "chip %s line %u: cannot make the event fd non-blocking: %s",
                     chip->description, request->offset, strerror(errno));
            gpiod_line_release(line);
            chardev_close_chip(handle->chip);
            free(handle);
            return NULL;
        }
    }
    return handle;
}

static void chardev_release(struct gpio_line_handle *line)
{
    if (!line)
        return;
    gpiod_line_release(line->line);
    chardev_close_chip(line->chip);
    free(line);
}

static int chardev_event_fd(struct gpio_line_handle *line)
{
    return line->output ? -1 : gpiod_line_event_get_fd(line->line);
}

static int chardev_read_edges(struct gpio_line_handle *line, struct gpio_edge *edges, size_t max)
{
    struct gpiod_line_event events[16];
    if (max > sizeof events / sizeof events[0])
        max = sizeof events / sizeof events[0];
    int count = gpiod_line_event_read_multiple(line->line, events, (unsigned)max);
    if (count < 0)
        return errno == EAGAIN ? 0 : -1;
    for (int i = 0; i < count; i++) {
        edges[i].ts_ns = (int64_t)events[i].ts.tv_sec * 1000000000 + events[i].ts.tv_nsec;
        edges[i].level = events[i].event_type == GPIOD_LINE_EVENT_RISING_EDGE;
    }
    return count;
}

static int chardev_get(struct gpio_line_handle *line)
{
    return gpiod_line_get_value(line->line);
}

static int chardev_set(struct gpio_line_handle *line, bool level)
{
    return gpiod_line_set_value(line->line, level ? 1 : 0);
}

const struct gpio_backend gpio_chardev_backend = {
    .name = "libgpiod",
    .open_chip = chardev_open_chip,
    .close_chip = chardev_close_chip,
    .share_chip = chardev_share_chip,
    .is_chip = chardev_is_chip,
    .describe = chardev_describe,
    .line_count = chardev_line_count,
    .request = chardev_request,
    .release = chardev_release,
    .event_fd = chardev_event_fd,
    .read_edges = chardev_read_edges,
    .get = chardev_get,
    .set = chardev_set,
};
