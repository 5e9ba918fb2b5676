/* Answering the district's commands (parsed by uplink_command.c): the
 * snapshot and the device list at once, the journal reads through
 * uplink_journal_reads.c; replies split to the broker's limit, a denial
 * when a command cannot be done. */
#include "uplink/uplink_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "uplink/uplink_encode.h"

json_t *uplink_snapshot_summary(struct wg_uplink_client *client)
{
    json_t *status = client->host.status ? client->host.status(client->host.ctx) : NULL;
    return status ? status : json_object();
}

json_t *uplink_snapshot_alarms(struct wg_uplink_client *client)
{
    json_t *records =
        client->host.active_alarms ? client->host.active_alarms(client->host.ctx) : NULL;
    json_t *alarms = json_array();
    size_t index;
    json_t *record;
    json_array_foreach(records, index, record)
        json_array_append_new(alarms, uplink_alarm_object(record, "snapshot"));
    json_decref(records);
    return alarms;
}

void uplink_send_reply(struct wg_uplink_client *client, const struct wg_reply *reply)
{
    char **parts = NULL;
    char why[200];
    int count = uplink_encode_reply(&client->identity, reply, uplink_wall_now(client),
                                    uplink_message_limit(client), &parts, why, sizeof why);
    if (count < 0) {
        wg_err("uplink: reply to %s (%s) cannot be sent: %s; a denial goes instead", reply->request,
               reply->command ? reply->command : "?", why);
        struct wg_reply denial = {
            .request = reply->request, .command = reply->command, .confirm = false, .reason = why};
        count = uplink_encode_reply(&client->identity, &denial, uplink_wall_now(client),
                                    uplink_message_limit(client), &parts, why, sizeof why);
        if (count < 0)
            return;
    }
    for (int i = 0; i < count; i++)
        uplink_publish_ephemeral(client, WG_LEAF_REPLY, parts[i], false);
    if (count > 1)
        wg_info("uplink: reply to %s sent in %d parts (broker limit %lld bytes)", reply->request,
                count, uplink_message_limit(client));
    uplink_free_parts(parts, count);
}

void uplink_handle_command(struct wg_uplink_client *client, const struct result *result)
{
    struct wg_command command;
    char why[256] = "";
    if (uplink_command_parse(result->payload, result->payload_len, client->commands,
                             uplink_wall_now(client), &command, why, sizeof why) != 0) {
        wg_warn("uplink: command %s%s denied: %s; nothing was done",
                command.request[0] ? "request " : "(no usable request id)", command.request, why);
        struct wg_reply denial = {.request = command.request,
                                  .command = uplink_command_name(command.kind),
                                  .confirm = false,
                                  .reason = why};
        uplink_send_reply(client, &denial);
        return;
    }
    const char *name = uplink_command_name(command.kind);
    wg_info("uplink: command %s from the platform (request %s)", name, command.request);
    struct wg_reply reply = {
        .request = command.request, .command = name, .confirm = true, .reason = ""};
    json_t *summary = NULL, *items = NULL;
    switch (command.kind) {
    case WG_COMMAND_SNAPSHOT:
        summary = uplink_snapshot_summary(client);
        items = uplink_snapshot_alarms(client);
        break;
    case WG_COMMAND_DEVICES:
        items = client->host.devices ? client->host.devices(client->host.ctx) : NULL;
        if (!items)
            snprintf(why, sizeof why, "the device list is not available");
        break;
    case WG_COMMAND_ALARM_HISTORY:
    case WG_COMMAND_RESPONSE_TIMES:
        /* Answered when a query worker has read the journal. */
        if (uplink_start_journal_read(client, &command, false, why, sizeof why))
            return;
        break;
    case WG_COMMAND_KIND_COUNT:
        break;
    }
    if (!summary && !items) {
        reply.confirm = false;
        wg_warn("uplink: command %s (request %s) failed: %s", name, command.request, why);
    }
    reply.reason = why;
    reply.summary = summary;
    reply.items = items;
    uplink_send_reply(client, &reply);
    json_decref(summary);
    json_decref(items);
}
