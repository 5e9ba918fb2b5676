/* What the conformance test driver (conform.c) records; tests reach it
 * through dlsym ("conform_instances", "conform_count", "conform_log"). */
#ifndef WG_TEST_CONFORM_H
#define WG_TEST_CONFORM_H

#include "drivers/plugin.h"

#define CONFORM_MAX       64
#define CONFORM_DEVICES   8
#define CONFORM_POINTS    8
#define CONFORM_LOG_BYTES 8192

enum conform_phase {
    CONFORM_OPEN,
    CONFORM_STARTED,
    CONFORM_START_FAILED,
    CONFORM_STOPPED,
    CONFORM_CLOSED
};

/* One instance. Its outputs hold what the core wrote (NAN: never); a stop
 * other than WG_STOP_SHUTDOWN keeps them, a take_over moves them by device id
 * and point name, a shutdown or a close clears what is still there (its stop
 * state). */
struct conform_instance {
    int serial;
    char bus[32];
    const struct wg_host *host;
    const struct wg_bus_view *view;
    enum conform_phase phase;
    enum wg_stop_reason stop_reason;
    int starts;     /* start calls: never more than one */
    int violations; /* lifecycle calls out of order */
    double outputs[CONFORM_DEVICES][CONFORM_POINTS];
    int taken_from[CONFORM_MAX]; /* serials offered in take_over, in order */
    int taken_count;
    bool fail_start;
};

#endif
