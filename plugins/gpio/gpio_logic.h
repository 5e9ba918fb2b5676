/* The GPIO driver's pure logic, free of I/O and threads so unit tests can
 * drive it with made-up times: debouncing of input edges, the meaning of a
 * contact (normally open/closed, latching, toggling), and the on/off
 * patterns of lamps and buzzers.
 *
 * Times are CLOCK_MONOTONIC nanoseconds, the clock of the kernel's edge
 * time stamps (GPIO character device, uAPI v1, since Linux 5.7). */
#ifndef WG_GPIO_LOGIC_H
#define WG_GPIO_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GPIO_NEVER INT64_MAX

/* ---- debounce ----
 * A level counts once it has held for `hold_ns` since the edge that
 * started it; a bounce that returns to the stable level before then is
 * dropped. The change is dated at that first edge (its kernel time stamp). */
struct gpio_debounce {
    int64_t hold_ns;
    bool stable;  /* the level that counts */
    bool pending; /* a different level is waiting out hold_ns */
    int64_t since_ns;
    uint32_t bounces; /* edges dropped as bounce since start */
};

void gpio_debounce_init(struct gpio_debounce *debounce, int64_t hold_ns, bool level);
/* An edge to `level` at `ts_ns`. */
void gpio_debounce_edge(struct gpio_debounce *debounce, bool level, int64_t ts_ns);
/* When the pending level settles, GPIO_NEVER if none is pending. */
int64_t gpio_debounce_deadline(const struct gpio_debounce *debounce);
/* At `now_ns`: true when the pending level has settled; it is now `stable`
 * and *changed_at_ns is the time of the edge that started it. */
bool gpio_debounce_settle(struct gpio_debounce *debounce, int64_t now_ns, int64_t *changed_at_ns);

/* ---- what a contact means ---- */
enum gpio_contact_mode {
    GPIO_CONTACT_PLAIN = 0, /* value = contact state */
    GPIO_CONTACT_LATCH = 1, /* 1 stays until the device's reset button is pressed */
    GPIO_CONTACT_TOGGLE = 2 /* each press flips the value (a presence push button) */
};

struct gpio_contact {
    enum gpio_contact_mode mode;
    bool normally_closed; /* closed = normal (0): an open contact or a cut wire reads 1 */
    bool value;           /* the point value posted to the core */
};

/* The debounced line level changed to `active` (line asserted, after
 * active_low). Returns true when the point value changed. */
bool gpio_contact_level(struct gpio_contact *contact, bool active);
/* The device's reset button was pressed: a latched contact follows its
 * line again (`active`). Returns true when the point value changed. */
bool gpio_contact_reset(struct gpio_contact *contact, bool active);

/* ---- output patterns ----
 * A pattern is a cycle of durations in ms, starting "on" and alternating.
 * count 0 = always off; count 1 = always on (steady). */
struct gpio_pattern {
    const char *name;
    const uint16_t *steps_ms;
    size_t count;
};

/* Pattern of a door or corridor lamp's red line for a wg_lamp_code, and of
 * its green line (presence). Unknown codes return NULL. */
const struct gpio_pattern *gpio_lamp_pattern(int lamp_code);
const struct gpio_pattern *gpio_lamp_green_pattern(int lamp_code);
/* Pattern of a buzzer for a wg_buzzer_code; NULL for unknown codes. */
const struct gpio_pattern *gpio_buzzer_pattern(int buzzer_code);
/* Steady on or off. */
const struct gpio_pattern *gpio_level_pattern(bool on);

/* The level `elapsed_ns` after the pattern started; *next_ns (if not NULL) is
 * the elapsed time of the next change, GPIO_NEVER for a steady pattern. */
bool gpio_pattern_level(const struct gpio_pattern *pattern, int64_t elapsed_ns, int64_t *next_ns);
/* One cycle's length in ns; 0 for a steady pattern. */
int64_t gpio_pattern_period_ns(const struct gpio_pattern *pattern);

#endif
