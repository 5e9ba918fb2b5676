/* How the GPIO driver reaches lines: a small table of operations with two
 * implementations.
 *
 *   gpio_chardev.c    the kernel's GPIO character device through libgpiod
 *                     (the only file that includes gpiod.h, so moving to
 *                     the libgpiod v2 API touches this file alone);
 *   simulated_lines.c the "simulated" line backend, in memory, for the demo
 *                     and for machines without GPIO.
 *
 * Levels are logical: active_low is applied by the backend (by the kernel
 * for the character device). Errors return -1 (or NULL) with a readable
 * message in `why` that names the chip and the line. */
#ifndef WG_GPIO_BACKEND_H
#define WG_GPIO_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gpio_bias { GPIO_BIAS_AS_IS = 0, GPIO_BIAS_DISABLE, GPIO_BIAS_PULL_UP, GPIO_BIAS_PULL_DOWN };

struct gpio_line_request {
    unsigned offset;
    bool output;
    bool active_low;
    enum gpio_bias bias;
    bool initial; /* outputs: the level driven from the moment of the request */
};

struct gpio_edge {
    int64_t ts_ns; /* CLOCK_MONOTONIC, from the kernel */
    bool level;    /* the level after the edge (logical) */
};

struct gpio_chip_handle;
struct gpio_line_handle;

/* Settings of the simulated backend, from the bus's `simulated:` section. */
struct gpio_sim_step {
    int64_t at_ms; /* after start */
    unsigned line;
    bool high;       /* physical level: true = the contact pulls the line high */
    unsigned repeat; /* >1: toggles that many times, every_ms apart (a bouncing contact) */
    unsigned every_ms;
};

struct gpio_sim_settings {
    unsigned lines;    /* line count of the simulated chip */
    const char *trace; /* file recording every output change ("ms line level"), or NULL */
    const struct gpio_sim_step *steps;
    size_t step_count;
};

/* Chip handles are counted: open_chip and share_chip give one reference,
 * close_chip drops it, and every requested line holds one of its chip until
 * it is released. So a line handed from one driver instance to another (a
 * reload restarting the bus) keeps its chip open whoever closes first. The
 * count is thread-safe; a line handle is used by one thread at a time. */
struct gpio_backend {
    const char *name;
    /* `chip`: a name (gpiochip0), a path (/dev/gpiochip0), a label or a number. */
    struct gpio_chip_handle *(*open_chip)(const char *chip, const struct gpio_sim_settings *sim,
                                          char *why, size_t why_len);
    void (*close_chip)(struct gpio_chip_handle *chip);
    /* Another reference to an open chip. */
    struct gpio_chip_handle *(*share_chip)(struct gpio_chip_handle *chip);
    /* Whether `chip` (as open_chip takes it) and `sim` name this open chip. */
    bool (*is_chip)(struct gpio_chip_handle *open, const char *chip,
                    const struct gpio_sim_settings *sim);
    /* "gpiochip0 [wg-sim]": for messages. */
    const char *(*describe)(struct gpio_chip_handle *chip);
    unsigned (*line_count)(struct gpio_chip_handle *chip);
    /* Inputs are requested for both edges; outputs drive `initial` at once. */
    struct gpio_line_handle *(*request)(struct gpio_chip_handle *chip,
                                        const struct gpio_line_request *request,
                                        const char *consumer, char *why, size_t why_len);
    /* Lets go of the line (its level is then the hardware's: on gpio-sim and
     * the simulated backend it falls to its pull). */
    void (*release)(struct gpio_line_handle *line);
    /* Readable (POLLIN) while edges are waiting; POLLERR/POLLHUP when the chip went away. */
    int (*event_fd)(struct gpio_line_handle *line);
    /* Up to `max` waiting edges, without blocking; 0 when none, -1 on error (errno set). */
    int (*read_edges)(struct gpio_line_handle *line, struct gpio_edge *edges, size_t max);
    /* 0 or 1, -1 on error (errno set). */
    int (*get)(struct gpio_line_handle *line);
    int (*set)(struct gpio_line_handle *line, bool level);
};

extern const struct gpio_backend gpio_chardev_backend;
extern const struct gpio_backend gpio_simulated_backend;

/* Simulated backend only: sets a line's physical input level at CLOCK_MONOTONIC
 * `ts_ns`, as a wire would (an edge if it changes). Returns -1 for a bad line. */
int gpio_simulated_drive(struct gpio_chip_handle *chip, unsigned line, bool high, int64_t ts_ns);
/* Simulated backend only: the physical level of a line (what a relay would see). */
int gpio_simulated_level(struct gpio_chip_handle *chip, unsigned line);

#endif
