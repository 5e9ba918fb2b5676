/* Configuration changes from the manager UI: one at a time, the file edited,
 * checked and written on a query worker (config_edit.h), the reload on the
 * core thread, the previous file put back when the drivers refuse it. */
#include "web/api_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* ---- configuration changes: the file on a worker, the reload here ---- */

/* One change to the config file. Changes go one at a time (api->edits
 * waits): a query worker edits, checks and writes the file (config_edit.h:
 * the validation load and every fsync); then the core thread reloads; if
 * the drivers refuse the new file, a worker puts the previous one back. So
 * file and running config always agree, and the core thread neither touches
 * the file nor waits for the disk. */
struct edit_job {
    struct wg_query_job job; /* first: the service hands this back */
    struct wg_api *api;
    struct edit_job *next;         /* waiting in api->edits */
    struct wg_web_request request; /* who and from where; no query or body */
    enum wg_edit_op op;
    char *id;      /* NULL for an add */
    json_t *value; /* the body; NULL for a delete */
    char *path;
    char item[128];
    bool restoring; /* the next step: the drivers refused, put the file back */
    int rc;
    struct wg_edit_result result;
    struct wg_diag refusal; /* the reload's messages */
    char restore_error[320];
};

static enum wg_query_step edit_run(struct wg_query_job *base, struct wg_store_reader *reader)
{
    (void)reader;
    struct edit_job *job = (struct edit_job *)base;
    if (job->restoring)
        job->rc = config_edit_restore(job->path, job->restore_error, sizeof job->restore_error);
    else
        job->rc = config_edit_apply(job->path, job->op, job->id, job->value, &job->result);
    return WG_QUERY_DONE;
}

static void edit_free(struct wg_query_job *base)
{
    struct edit_job *job = (struct edit_job *)base;
    json_decref(job->value);
    config_edit_result_free(&job->result);
    diag_free(&job->refusal);
    free(job->id);
    free(job->path);
    free(job);
}

/* The next waiting change, if any, goes to a worker. */
static void edit_next(struct wg_api *api)
{
    api->editing = false;
    while (api->edits && !api->editing) {
        struct edit_job *job = api->edits;
        api->edits = job->next;
        if (!api->edits)
            api->edits_tail = NULL;
        uint64_t request_id = job->request.id;
        if (query_submit(api->queries, &job->job) == 0)
            api->editing = true;
        else /* the service freed it */
            api_reply_error(api, request_id, 503, NULL,
                            "the gateway is stopping; nothing was changed");
    }
}

/* Core thread: a step of a change is done. */
static bool edit_done(struct wg_query_job *base)
{
    struct edit_job *job = (struct edit_job *)base;
    struct wg_api *api = job->api;
    const struct wg_web_request *request = &job->request;
    if (job->restoring) {
        if (job->rc != 0)
            wg_crit("config: %s was changed but the daemon refused it, and %s; the running "
                    "configuration is the previous one",
                    job->path, job->restore_error);
        else
            wg_warn("config: the change to %s was refused at reload; the previous file is back",
                    job->path);
        api_reply_json(api, request->id, 422,
                       json_pack("{s:s, s:o}", "error",
                                 "the change passed the file checks but the drivers refused it; "
                                 "nothing was changed",
                                 "details", api_problems_json(&job->refusal, "driver_refused")));
    } else if (job->rc != 0) {
        struct wg_edit_result *result = &job->result;
        json_t *body = json_pack("{s:s}", "error", result->error);
        if (body && result->field[0])
            json_object_set_new(body, "field", json_string(result->field));
        if (body && result->details.count)
            json_object_set_new(body, "details",
                                api_problems_json(&result->details, "config_invalid"));
        api_reply_json(api, request->id, result->status >= 400 ? result->status : 500, body);
    } else if (bridge_core_reload(api->core, &job->refusal) != 0) {
        job->restoring = true;
        if (query_submit(api->queries, &job->job) == 0)
            return true; /* edit_done runs again when the file is back */
        wg_crit("config: the change to a file was refused at reload and cannot be undone: the "
                "gateway is stopping; <file>.prev holds the previous version");
        edit_next(api);
        return true; /* query_submit freed it */
    } else {
        api_audit(
            api, request, api_edit_action(job->op), job->item,
            json_pack("{s:O?, s:O?}", "before", job->result.before, "after", job->result.after));
        wg_notice("config: %s %s by %s from %s", api_edit_action(job->op), job->item,
                  request->username, request->client);
        api_reply_json(api, request->id, job->result.status ? job->result.status : 200,
                       api_edited_item(api, job->op, job->item));
    }
    edit_next(api);
    return false;
}

/* A change asked for: checked for JSON here, made by a worker in turn. */
void api_edit_config(struct wg_api *api, const struct wg_web_request *request, enum wg_edit_op op,
                     const char *id)
{
    json_t *value = NULL;
    if (op != WG_EDIT_DEVICE_DELETE && op != WG_EDIT_RESIDENT_DELETE) {
        value = api_request_body(api, request);
        if (!value)
            return;
    }
    if (!api->queries) {
        json_decref(value);
        api_reply_error(api, request->id, 503, NULL,
                        "configuration changes are unavailable (see the log at start-up)");
        return;
    }
    struct edit_job *job = calloc(1, sizeof *job);
    if (job) {
        *job = (struct edit_job){.job = {.run = edit_run, .done = edit_done, .free = edit_free},
                                 .api = api,
                                 .request = *request,
                                 .op = op,
                                 .id = id ? strdup(id) : NULL,
                                 .value = value,
                                 .path = strdup(bridge_core_config(api->core)->path)};
        job->request.query = job->request.body = NULL;
        job->request.body_len = 0;
        diag_init(&job->refusal);
        const char *item_id = id ? id : json_string_value(json_object_get(value, "id"));
        snprintf(job->item, sizeof job->item, "%s", item_id ? item_id : "");
    }
    if (!job || !job->path || (id && !job->id)) {
        if (job)
            edit_free(&job->job);
        else
            json_decref(value);
        api_reply_error(api, request->id, 500, NULL, "out of memory");
        return;
    }
    if (api->edits_tail)
        api->edits_tail->next = job;
    else
        api->edits = job;
    api->edits_tail = job;
    if (!api->editing)
        edit_next(api);
}

/* The changes still waiting their turn (the API is being freed). */
void api_edits_free(struct wg_api *api)
{
    while (api->edits) {
        struct edit_job *next = api->edits->next;
        edit_free(&api->edits->job);
        api->edits = next;
    }
}
