/* The uplink's journal reads (the district's alarm history and response
 * times, and the periodic response figures): run on a query worker, never
 * on the core thread, and answered on the core thread when done. */
#include "uplink/uplink_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "alarm/response.h"
#include "common/log.h"
#include "store/store_read.h"
#include "uplink/uplink_encode.h"

/* What a command (or the periodic figures) asks of the journal. `run`
 * fills items/summary (or why) on the worker; `done` answers on the core
 * thread. */
struct journal_read {
    struct wg_query_job job; /* first: the service hands this back */
    struct wg_uplink_client *client;
    struct journal_read *next;
    struct wg_command command;
    bool periodic; /* the retained response figures, not a reply */
    json_t *summary, *items;
    char why[256];
};

struct history_ctx {
    json_t *items;
    int limit;
    bool truncated;
};

static int add_history_row(const struct wg_event_row *row, void *ctx)
{
    struct history_ctx *history = ctx;
    if ((int)json_array_size(history->items) >= history->limit) {
        history->truncated = true;
        return 1;
    }
    json_t *record = json_loads(row->body, 0, NULL);
    const char *phase = json_string_value(json_object_get(record, "phase"));
    json_t *alarm = record ? uplink_alarm_object(record, phase ? phase : "update") : NULL;
    json_decref(record);
    if (!alarm)
        return 0; /* not an alarm record; the journal keeps it */
    char ts[48];
    uplink_format_time(row->ts_ms, ts, sizeof ts);
    json_t *item = json_pack("{s:s, s:I, s:s, s:o}", "id", row->id, "seq", (json_int_t)row->seq,
                             "ts", ts, "alarm", alarm);
    if (item)
        json_array_append_new(history->items, item);
    return 0;
}

static json_t *history_items(struct wg_store_reader *reader, const struct wg_command *command,
                             char *why, size_t why_len)
{
    struct history_ctx history = {.items = json_array(), .limit = command->limit};
    if (!history.items || store_read_alarm_events(reader, command->from_ms, command->to_ms,
                                                  add_history_row, &history) != 0) {
        snprintf(why, why_len, "the gateway could not read its journal: %s",
                 history.items ? store_reader_error(reader) : "out of memory");
        json_decref(history.items);
        return NULL;
    }
    if (history.truncated)
        snprintf(why, why_len, "truncated: more than %d rows; ask for a shorter range",
                 command->limit);
    return history.items;
}

static json_t *time_range(const struct wg_command *command)
{
    char from[48], to[48];
    uplink_format_time(command->from_ms, from, sizeof from);
    uplink_format_time(command->to_ms, to, sizeof to);
    return json_pack("{s:s, s:s}", "from", from, "to", to);
}

#define UPLINK_FIGURE_ROOMS  500
#define UPLINK_FIGURE_CARERS 256

static json_t *response_figures(struct wg_store_reader *reader, int64_t from_ms, int64_t to_ms,
                                char *why, size_t why_len)
{
    struct wg_response_report report;
    /* Rooms and carers bounded so the figures stay well inside the default
     * 256 KiB message (~170 bytes a room, ~250 a carer). */
    struct wg_response_options options = {.max_rooms = UPLINK_FIGURE_ROOMS,
                                          .max_carers = UPLINK_FIGURE_CARERS};
    if (response_compute(reader, from_ms, to_ms, &options, &report, why, why_len) != 0)
        return NULL;
    json_t *figures = response_report_to_json(&report);
    response_report_free(&report);
    if (!figures)
        snprintf(why, why_len, "out of memory");
    return figures;
}

static enum wg_query_step journal_read_run(struct wg_query_job *job, struct wg_store_reader *reader)
{
    struct journal_read *read = (struct journal_read *)job;
    const struct wg_command *command = &read->command;
    if (command->kind == WG_COMMAND_ALARM_HISTORY) {
        read->summary = time_range(command);
        read->items = history_items(reader, command, read->why, sizeof read->why);
    } else {
        read->summary =
            response_figures(reader, command->from_ms, command->to_ms, read->why, sizeof read->why);
    }
    return WG_QUERY_DONE;
}

static void journal_read_free(struct wg_query_job *job)
{
    struct journal_read *read = (struct journal_read *)job;
    json_decref(read->summary);
    json_decref(read->items);
    free(read);
}

/* Core thread: the read is done; answer the platform. */
static bool journal_read_done(struct wg_query_job *job)
{
    struct journal_read *read = (struct journal_read *)job;
    struct wg_uplink_client *client = read->client;
    for (struct journal_read **p = &client->reads; *p; p = &(*p)->next)
        if (*p == read) {
            *p = read->next;
            break;
        }
    if (read->periodic) {
        client->figures_running = false;
        if (read->summary)
            uplink_publish_figures(client, read->summary, read->command.to_ms);
        else
            wg_err("uplink: response-time figures not published: %s", read->why);
        read->summary = NULL; /* taken */
        return false;
    }
    const char *name = uplink_command_name(read->command.kind);
    struct wg_reply reply = {.request = read->command.request,
                             .command = name,
                             .confirm = read->summary || read->items,
                             .reason = read->why,
                             .summary = read->summary,
                             .items = read->items};
    if (read->command.kind == WG_COMMAND_ALARM_HISTORY && !read->items) {
        reply.confirm = false;
        reply.summary = NULL;
    }
    if (!reply.confirm)
        wg_warn("uplink: command %s (request %s) failed: %s", name, read->command.request,
                read->why);
    uplink_send_reply(client, &reply);
    return false;
}

/* Hands a journal read to the query workers; false (with why) when it
 * cannot run now. */
bool uplink_start_journal_read(struct wg_uplink_client *client, const struct wg_command *command,
                               bool periodic, char *why, size_t why_len)
{
    struct journal_read *read = calloc(1, sizeof *read);
    if (!client->host.queries || !read) {
        free(read);
        snprintf(why, why_len, "the gateway cannot read its journal now");
        return false;
    }
    *read = (struct journal_read){
        .job = {.run = journal_read_run, .done = journal_read_done, .free = journal_read_free},
        .client = client,
        .command = *command,
        .periodic = periodic};
    if (query_submit(client->host.queries, &read->job) != 0) {
        snprintf(why, why_len, "the gateway is stopping"); /* the service freed it */
        return false;
    }
    /* Its `done` runs on this thread, so it cannot have run yet. */
    read->next = client->reads;
    client->reads = read;
    return true;
}

/* Journal reads still on the workers are not answered. */
void uplink_cancel_reads(struct wg_uplink_client *client)
{
    for (struct journal_read *read = client->reads, *next; read; read = next) {
        next = read->next;
        query_cancel(client->host.queries, &read->job);
    }
    client->reads = NULL;
}
