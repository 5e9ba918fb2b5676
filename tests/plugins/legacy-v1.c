/* A driver built against plugin ABI 1 (gateway/drivers/plugin_abi1.h is that header,
 * frozen): the v2 host loads it through its compatibility layer. It records
 * its host and bus so a test can post through the ABI 1 table. */
#include "drivers/plugin_abi1.h"

struct legacy {
    const struct wg_host_v1 *host;
    const struct wg_bus_view *bus;
    int started, stopped, closed, writes;
};

__attribute__((visibility("default"))) struct legacy legacy_instance;

static int legacy_open(const struct wg_host_v1 *host, const struct wg_bus_view *bus,
                       void **instance)
{
    legacy_instance = (struct legacy){.host = host, .bus = bus};
    *instance = &legacy_instance;
    return 0;
}

static int legacy_start(void *instance)
{
    ((struct legacy *)instance)->started++;
    return 0;
}

static int legacy_write(void *instance, const struct wg_write_request *request)
{
    struct legacy *self = instance;
    self->writes++;
    self->host->post_write_result(self->host, request->request_id, true, "");
    return 0;
}

static void legacy_stop(void *instance)
{
    ((struct legacy *)instance)->stopped++;
}

static void legacy_close(void *instance)
{
    ((struct legacy *)instance)->closed++;
}

__attribute__((visibility("default"))) const struct wg_plugin_descriptor_v1 wardgate_plugin = {
    .abi_version = 1,
    .struct_size = sizeof(struct wg_plugin_descriptor_v1),
    .name = "legacy-v1",
    .version = "0.1",
    .open = legacy_open,
    .start = legacy_start,
    .write = legacy_write,
    .stop = legacy_stop,
    .close = legacy_close,
};
