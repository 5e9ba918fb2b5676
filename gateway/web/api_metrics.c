/* /metrics in the Prometheus text format, on the core thread: device health
 * and error counters, alarms active and raised, the outbox, the queue, the
 * journal and storage, the core loop, the query workers and the displays'
 * dropped deltas, and what an attachment adds (the ESPA line's). The web thread adds its own
 * counters (web_replies.c). */
#include "web/api_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- /metrics ---- */

void api_set_extra_metrics(struct wg_api *api, void (*write)(FILE *out, void *ctx), void *ctx)
{
    if (!api)
        return;
    api->extra_metrics = write;
    api->extra_metrics_ctx = ctx;
}

static void metric_help(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \ " and newline escaped, as the text format wants. */
static void label_value(FILE *out, const char *text)
{
    for (const char *c = text ? text : ""; *c; c++) {
        if (*c == '\\' || *c == '"')
            fputc('\\', out);
        if (*c == '\n') {
            fputs("\\n", out);
            continue;
        }
        fputc(*c, out);
    }
}

void api_metrics(struct wg_api *api, const struct wg_web_request *request)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        api_reply_error(api, request->id, 500, NULL, "out of memory");
        return;
    }
    json_t *devices = core_devices_json(api->core, true);
    static const char *const states[] = {"online", "suspect", "offline", "unknown"};
    metric_help(out, "wardgate_device_health", "gauge", "1 for the device's current health state");
    size_t index;
    json_t *device;
    json_array_foreach(devices, index, device)
    {
        const char *health = json_string_value(json_object_get(device, "health"));
        for (size_t s = 0; s < 4; s++) {
            fputs("wardgate_device_health{device=\"", out);
            label_value(out, json_string_value(json_object_get(device, "id")));
            fputs("\",bus=\"", out);
            label_value(out, json_string_value(json_object_get(device, "bus")));
            fprintf(out, "\",state=\"%s\"} %d\n", states[s],
                    health && strcmp(health, states[s]) == 0);
        }
    }
    metric_help(out, "wardgate_device_errors_total", "counter",
                "driver error counters per device (timeout, crc_error, ...)");
    json_array_foreach(devices, index, device)
    {
        const char *name;
        json_t *count;
        json_object_foreach(json_object_get(device, "counters"), name, count)
        {
            fputs("wardgate_device_errors_total{device=\"", out);
            label_value(out, json_string_value(json_object_get(device, "id")));
            fputs("\",counter=\"", out);
            label_value(out, name);
            fprintf(out, "\"} %lld\n", (long long)json_integer_value(count));
        }
    }
    json_decref(devices);
    size_t active[WG_PRIO_FIRE + 1] = {0};
    json_t *alarms = core_active_alarms_json(api->core);
    json_t *alarm;
    json_array_foreach(alarms, index, alarm)
    {
        json_int_t level = json_integer_value(json_object_get(alarm, "priority_level"));
        if (level >= 0 && level <= WG_PRIO_FIRE)
            active[level]++;
    }
    json_decref(alarms);
    metric_help(out, "wardgate_alarms_active", "gauge", "active calls and alarms by priority");
    for (int p = WG_PRIO_FIRE; p >= 0; p--)
        fprintf(out, "wardgate_alarms_active{priority=\"%s\"} %zu\n",
                priority_name((enum wg_priority)p), active[p]);
    metric_help(out, "wardgate_alarms_raised_total", "counter",
                "calls and alarms raised since the daemon started, by priority");
    for (int p = WG_PRIO_FIRE; p >= 0; p--)
        fprintf(out, "wardgate_alarms_raised_total{priority=\"%s\"} %llu\n",
                priority_name((enum wg_priority)p), (unsigned long long)api->raised[p]);
    struct wg_web_core_stats stats;
    bridge_core_stats(api->core, &stats);
    metric_help(out, "wardgate_outbox_rows", "gauge", "events waiting for the district's PUBACK");
    fprintf(out, "wardgate_outbox_rows %lld\n", (long long)stats.outbox_rows);
    metric_help(out, "wardgate_outbox_bytes", "gauge", "bytes waiting in the outbox");
    fprintf(out, "wardgate_outbox_bytes %lld\n", (long long)stats.outbox_bytes);
    metric_help(out, "wardgate_core_queue_depth", "gauge", "driver messages waiting for the core");
    fprintf(out, "wardgate_core_queue_depth %zu\n", stats.queue_depth);
    metric_help(out, "wardgate_core_queue_high_water", "gauge", "the deepest the queue has been");
    fprintf(out, "wardgate_core_queue_high_water %zu\n", stats.queue_high_water);
    metric_help(out, "wardgate_events_committed_total", "counter", "journal events committed");
    fprintf(out, "wardgate_events_committed_total %llu\n",
            (unsigned long long)stats.events_committed);
    metric_help(out, "wardgate_events_pending", "gauge",
                "events held in memory because storage is failing");
    fprintf(out, "wardgate_events_pending %zu\n", stats.events_pending);
    metric_help(out, "wardgate_storage_failing", "gauge", "1 while commits fail");
    fprintf(out, "wardgate_storage_failing %d\n", stats.storage_failing);
    metric_help(out, "wardgate_storage_bytes", "gauge",
                "the database and its WAL on disk, against the bound (storage.max_mb)");
    fprintf(out, "wardgate_storage_bytes{file=\"db\"} %lld\n", (long long)stats.db_bytes);
    fprintf(out, "wardgate_storage_bytes{file=\"wal\"} %lld\n", (long long)stats.wal_bytes);
    fprintf(out, "wardgate_storage_bytes{file=\"bound\"} %lld\n", (long long)stats.bound_bytes);
    metric_help(out, "wardgate_storage_held_bytes", "gauge",
                "memory held for writes not yet committed (bounded, docs/storage.md)");
    fprintf(out, "wardgate_storage_held_bytes %zu\n", stats.held_bytes);
    metric_help(out, "wardgate_storage_dropped_total", "counter",
                "writes dropped at the memory bound while storage failed, by class");
    for (size_t c = 0; c < stats.dropped_classes; c++)
        fprintf(out, "wardgate_storage_dropped_total{class=\"%s\"} %llu\n", stats.dropped[c].name,
                (unsigned long long)stats.dropped[c].count);
    metric_help(out, "wardgate_storage_transaction_seconds_max", "gauge",
                "the writer's longest transaction since start");
    fprintf(out, "wardgate_storage_transaction_seconds_max %.3f\n",
            stats.longest_transaction_ms / 1000.0);
    metric_help(out, "wardgate_core_loop_seconds_max", "gauge",
                "the core loop's longest iteration: since start, and over the last minute");
    fprintf(out, "wardgate_core_loop_seconds_max{window=\"start\"} %.6f\n",
            stats.loop_max_us / 1e6);
    fprintf(out, "wardgate_core_loop_seconds_max{window=\"1m\"} %.6f\n",
            stats.loop_max_recent_us / 1e6);
    metric_help(out, "wardgate_query_backlog", "gauge",
                "api_history, export, report and config jobs waiting for or on a query worker");
    fprintf(out, "wardgate_query_backlog %zu\n",
            api->queries ? query_service_backlog(api->queries) : 0);
    metric_help(out, "wardgate_ws_broadcasts_dropped_total", "counter",
                "display deltas dropped because the web thread fell behind");
    fprintf(out, "wardgate_ws_broadcasts_dropped_total %llu\n",
            (unsigned long long)bridge_dropped_broadcasts(api->bridge));
    if (api->extra_metrics)
        api->extra_metrics(out, api->extra_metrics_ctx);
    fclose(out);
    api_post(api, request->id, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, NULL);
}
