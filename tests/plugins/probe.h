/* What the probe test driver records per bus; tests reach it through dlsym
 * ("probe_buses", "probe_bus_count") and post from the test thread. */
#ifndef WG_TEST_PROBE_H
#define WG_TEST_PROBE_H

#include "drivers/plugin.h"

#define PROBE_MAX_BUSES 8

struct probe_bus {
    const struct wg_host *host;
    const struct wg_bus_view *bus;
    int started;
    int stopped;                     /* stop was called */
    enum wg_stop_reason stop_reason; /* ... with this reason */
    struct wg_write_request last_write;
    int write_count;
    bool fail_start;
    void *context; /* host->driver_context when opened */
};

#endif
