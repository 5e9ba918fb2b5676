/* The conformance test driver: it checks the order of the lifecycle calls
 * the host makes (open -> [take_over]* -> start -> [write]* -> stop(reason)
 * -> close, start at most once, nothing after close), records them in a log
 * ("p1#3 open", "p1#3 stop bus changed", ...) and keeps the outputs the core
 * writes so tests can see whether a reload kept them. Bus settings:
 *   fail_start: true   start returns -1
 *   refuse: true       open refuses (a config error at the settings node)
 *   tag: TEXT          nothing; changing it changes the bus's section
 * The unit tests post from their own thread through the recorded host. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "conform.h"

__attribute__((visibility("default"))) struct conform_instance conform_instances[CONFORM_MAX];
__attribute__((visibility("default"))) int conform_count;
__attribute__((visibility("default"))) char conform_log[CONFORM_LOG_BYTES];

static void note(struct conform_instance *self, const char *what)
{
    size_t used = strlen(conform_log);
    snprintf(conform_log + used, sizeof conform_log - used, "%s#%d %s\n", self->bus, self->serial,
             what);
}

static void expect(struct conform_instance *self, bool ok, const char *call)
{
    if (ok)
        return;
    self->violations++;
    char text[96];
    snprintf(text, sizeof text, "VIOLATION %s in phase %d", call, self->phase);
    note(self, text);
}

static int conform_open(const struct wg_host *host, const struct wg_bus_view *bus, void **instance)
{
    if (conform_count == CONFORM_MAX || bus->device_count > CONFORM_DEVICES)
        return -1;
    bool refuse = false, fail_start = false;
    const char *tag = NULL;
    static const char *const keys[] = {"refuse", "fail_start", "tag", NULL};
    if (bus->settings && (!host->cfg_only_keys(host, bus->settings, keys) ||
                          !host->cfg_bool(host, bus->settings, "refuse", &refuse) ||
                          !host->cfg_bool(host, bus->settings, "fail_start", &fail_start) ||
                          !host->cfg_string(host, bus->settings, "tag", &tag)))
        return -1;
    if (refuse) {
        host->cfg_error(host, host->cfg_get(bus->settings, "refuse"),
                        "refuse: the conformance driver was told to refuse");
        return -1;
    }
    struct conform_instance *self = &conform_instances[conform_count];
    *self = (struct conform_instance){.serial = ++conform_count,
                                      .host = host,
                                      .view = bus,
                                      .phase = CONFORM_OPEN,
                                      .fail_start = fail_start};
    snprintf(self->bus, sizeof self->bus, "%s", bus->id);
    for (size_t d = 0; d < CONFORM_DEVICES; d++)
        for (size_t p = 0; p < CONFORM_POINTS; p++)
            self->outputs[d][p] = NAN;
    note(self, "open");
    /* Posting is refused until start. */
    if (bus->device_count > 0)
        expect(self, host->post_reading(host, 0, 0, 1, host->now_ms(host)) == WG_POST_CLOSED,
               "post accepted in open");
    *instance = self;
    return 0;
}

static int conform_take_over(void *instance, void *previous)
{
    struct conform_instance *self = instance, *old = previous;
    expect(self, self->phase == CONFORM_OPEN, "take_over");
    expect(self,
           old->phase == CONFORM_STOPPED || old->phase == CONFORM_START_FAILED ||
               old->phase == CONFORM_OPEN,
           "take_over of a running or closed instance");
    expect(self, old->phase != CONFORM_STOPPED || old->stop_reason != WG_STOP_SHUTDOWN,
           "take_over after a shutdown");
    self->taken_from[self->taken_count++] = old->serial;
    char text[64];
    snprintf(text, sizeof text, "take_over %s#%d", old->bus, old->serial);
    note(self, text);
    for (size_t d = 0; d < self->view->device_count; d++)
        for (size_t o = 0; o < old->view->device_count; o++) {
            const struct wg_device_view *now = &self->view->devices[d],
                                        *was = &old->view->devices[o];
            if (strcmp(now->id, was->id) != 0)
                continue;
            for (size_t p = 0; p < now->point_count && p < CONFORM_POINTS; p++)
                for (size_t q = 0; q < was->point_count && q < CONFORM_POINTS; q++)
                    if (strcmp(now->points[p].name, was->points[q].name) == 0 &&
                        !isnan(old->outputs[o][q])) {
                        self->outputs[d][p] = old->outputs[o][q];
                        old->outputs[o][q] = NAN;
                    }
        }
    return 0;
}

static int conform_start(void *instance)
{
    struct conform_instance *self = instance;
    expect(self, self->phase == CONFORM_OPEN && self->starts == 0, "start");
    self->starts++;
    if (self->fail_start) {
        self->phase = CONFORM_START_FAILED;
        note(self, "start failed");
        return -1;
    }
    self->phase = CONFORM_STARTED;
    note(self, "start");
    return 0;
}

static int conform_write(void *instance, const struct wg_write_request *request)
{
    struct conform_instance *self = instance;
    expect(self, self->phase == CONFORM_STARTED, "write");
    if (request->device >= CONFORM_DEVICES || request->point >= CONFORM_POINTS)
        return -1;
    self->outputs[request->device][request->point] = request->value;
    self->host->post_write_result(self->host, request->request_id, true, "");
    return 0;
}

static void clear_outputs(struct conform_instance *self)
{
    for (size_t d = 0; d < CONFORM_DEVICES; d++)
        for (size_t p = 0; p < CONFORM_POINTS; p++)
            self->outputs[d][p] = NAN;
}

static const char *reason_name(enum wg_stop_reason reason)
{
    return reason == WG_STOP_SHUTDOWN ? "shutdown"
           : reason == WG_STOP_RELOAD ? "reload"
                                      : "bus changed";
}

static void conform_stop(void *instance, enum wg_stop_reason reason)
{
    struct conform_instance *self = instance;
    expect(self, self->phase == CONFORM_STARTED, "stop");
    self->phase = CONFORM_STOPPED;
    self->stop_reason = reason;
    char text[64];
    snprintf(text, sizeof text, "stop %s", reason_name(reason));
    note(self, text);
    if (reason == WG_STOP_SHUTDOWN)
        clear_outputs(self);
}

static void conform_close(void *instance)
{
    struct conform_instance *self = instance;
    expect(self, self->phase != CONFORM_STARTED && self->phase != CONFORM_CLOSED, "close");
    self->phase = CONFORM_CLOSED;
    clear_outputs(self); /* what nobody took over goes to its stop state */
    note(self, "close");
}

WG_PLUGIN_DEFINE(.name = "conform", .version = "test", .open = conform_open, .start = conform_start,
                 .write = conform_write, .stop = conform_stop, .close = conform_close,
                 .take_over = conform_take_over);
