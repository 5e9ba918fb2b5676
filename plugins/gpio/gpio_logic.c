/* Debounce, contact meaning and output patterns of the GPIO driver; see gpio_logic.h. */
#include "gpio_logic.h"

#include "drivers/plugin.h"

/* ---- debounce ---- */

void gpio_debounce_init(struct gpio_debounce *debounce, int64_t hold_ns, bool level)
{
    *debounce = (struct gpio_debounce){.hold_ns = hold_ns, .stable = level};
}

void gpio_debounce_edge(struct gpio_debounce *debounce, bool level, int64_t ts_ns)
{
    if (level == debounce->stable) {
        if (debounce->pending)
            debounce->bounces++; /* back before it held: a bounce */
        debounce->pending = false;
        return;
    }
    if (debounce->pending)
        return; /* the same level again (an edge the kernel merged): keep the first time */
    debounce->pending = true;
    debounce->since_ns = ts_ns;
}

int64_t gpio_debounce_deadline(const struct gpio_debounce *debounce)
{
    return debounce->pending ? debounce->since_ns + debounce->hold_ns : GPIO_NEVER;
}

bool gpio_debounce_settle(struct gpio_debounce *debounce, int64_t now_ns, int64_t *changed_at_ns)
{
    if (!debounce->pending || now_ns < debounce->since_ns + debounce->hold_ns)
        return false;
    debounce->pending = false;
    debounce->stable = !debounce->stable;
    if (changed_at_ns)
        *changed_at_ns = debounce->since_ns;
    return true;
}

/* ---- contacts ---- */

bool gpio_contact_level(struct gpio_contact *contact, bool active)
{
    bool asserted = contact->normally_closed ? !active : active;
    bool before = contact->value;
    switch (contact->mode) {
    case GPIO_CONTACT_PLAIN:
        contact->value = asserted;
        break;
    case GPIO_CONTACT_LATCH:
        if (asserted)
            contact->value = true; /* released only by the reset button */
        break;
    case GPIO_CONTACT_TOGGLE:
        if (asserted)
            contact->value = !contact->value; /* on the press, not the release */
        break;
    }
    return contact->value != before;
}

bool gpio_contact_reset(struct gpio_contact *contact, bool active)
{
    if (contact->mode != GPIO_CONTACT_LATCH)
        return false;
    bool before = contact->value;
    contact->value = contact->normally_closed ? !active : active; /* a cord still pulled stays */
    return contact->value != before;
}

/* ---- patterns ----
 * Lamps: DIN VDE 0834 door-lamp patterns. Buzzers: bursts after the
 * IEC 60601-1-8 priorities (pulses of 150-200 ms; high = 3+2 pulses played
 * twice, medium = 3 pulses, low = 2 pulses), repeated with a pause so the
 * sound recurs well within UL 1069's 10 s. */

static const uint16_t steady_on[] = {1};
static const uint16_t flash_1s[] = {1000, 1000};
static const uint16_t flash_300ms[] = {300, 300};
static const uint16_t burst_high[] = {150, 100, 150, 100, 150, 400, 150, 100, 150, 1000,
                                      150, 100, 150, 100, 150, 400, 150, 100, 150, 3000};
static const uint16_t burst_medium[] = {200, 150, 200, 150, 200, 5000};
static const uint16_t burst_low[] = {200, 200, 200, 9400};

static const struct gpio_pattern pattern_off = {"off", NULL, 0};
static const struct gpio_pattern pattern_on = {"steady", steady_on, 1};
static const struct gpio_pattern pattern_flash_1s = {"flash 1 s/1 s", flash_1s, 2};
static const struct gpio_pattern pattern_flash_300ms = {"flash 0.3 s/0.3 s", flash_300ms, 2};
static const struct gpio_pattern pattern_burst_high = {"high burst", burst_high,
                                                       sizeof burst_high / sizeof burst_high[0]};
static const struct gpio_pattern pattern_burst_medium = {
    "medium burst", burst_medium, sizeof burst_medium / sizeof burst_medium[0]};
static const struct gpio_pattern pattern_burst_low = {"low burst", burst_low,
                                                      sizeof burst_low / sizeof burst_low[0]};

const struct gpio_pattern *gpio_lamp_pattern(int lamp_code)
{
    switch (lamp_code) {
    case WG_LAMP_OFF:
    case WG_LAMP_PRESENCE: /* green: the red line is off */
        return &pattern_off;
    case WG_LAMP_CALL:
        return &pattern_on;
    case WG_LAMP_EMERGENCY:
        return &pattern_flash_1s;
    case WG_LAMP_ALARM:
        return &pattern_flash_300ms;
    default:
        return NULL;
    }
}

const struct gpio_pattern *gpio_lamp_green_pattern(int lamp_code)
{
    if (!gpio_lamp_pattern(lamp_code))
        return NULL;
    return lamp_code == WG_LAMP_PRESENCE ? &pattern_on : &pattern_off;
}

const struct gpio_pattern *gpio_buzzer_pattern(int buzzer_code)
{
    switch (buzzer_code) {
    case WG_BUZZER_OFF:
        return &pattern_off;
    case WG_BUZZER_LOW:
        return &pattern_burst_low;
    case WG_BUZZER_MEDIUM:
        return &pattern_burst_medium;
    case WG_BUZZER_HIGH:
        return &pattern_burst_high;
    default:
        return NULL;
    }
}

const struct gpio_pattern *gpio_level_pattern(bool on)
{
    return on ? &pattern_on : &pattern_off;
}

int64_t gpio_pattern_period_ns(const struct gpio_pattern *pattern)
{
    if (pattern->count < 2)
        return 0;
    int64_t total = 0;
    for (size_t i = 0; i < pattern->count; i++)
        total += pattern->steps_ms[i];
    return total * 1000000;
}

bool gpio_pattern_level(const struct gpio_pattern *pattern, int64_t elapsed_ns, int64_t *next_ns)
{
    int64_t period = gpio_pattern_period_ns(pattern);
    if (period == 0) {
        if (next_ns)
            *next_ns = GPIO_NEVER;
        return pattern->count == 1;
    }
    if (elapsed_ns < 0)
        elapsed_ns = 0;
    int64_t cycle_start = elapsed_ns - elapsed_ns % period;
    int64_t at = cycle_start;
    for (size_t i = 0; i < pattern->count; i++) {
        int64_t end = at + (int64_t)pattern->steps_ms[i] * 1000000;
        if (elapsed_ns < end) {
            if (next_ns)
                *next_ns = end;
            return i % 2 == 0;
        }
        at = end;
    }
    if (next_ns) /* unreachable: elapsed % period lies inside the cycle */
        *next_ns = cycle_start + period;
    return false;
}
