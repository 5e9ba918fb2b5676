/* A test driver whose descriptor names another driver than its file name. */
#include "drivers/plugin.h"

static int never_open(const struct wg_host *host, const struct wg_bus_view *bus, void **instance)
{
    (void)host, (void)bus, (void)instance;
    return -1;
}
static int never_start(void *instance)
{
    (void)instance;
    return -1;
}
static int never_write(void *instance, const struct wg_write_request *request)
{
    (void)instance, (void)request;
    return -1;
}
static void never_stop(void *instance, enum wg_stop_reason reason)
{
    (void)instance, (void)reason;
}
static void nothing(void *instance)
{
    (void)instance;
}

WG_PLUGIN_DEFINE(.name = "somebody_else", .version = "test", .open = never_open,
                 .start = never_start, .write = never_write, .stop = never_stop, .close = nothing);
