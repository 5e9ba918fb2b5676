/* What the API's files share, and nothing outside gateway/web/api*.c may
 * include: the API's state on the core thread and the functions one part of
 * it calls in another. The public interface is api.h. */
#ifndef WG_API_PRIVATE_H
#define WG_API_PRIVATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/auth.h"
#include "common/clock.h"
#include "config/config_edit.h"
#include "web/api.h"
#include "web/api_parse.h"
#include "web/api_read.h"
#include "web/labels.h"
#include "web/web_bridge_json.h"

#define HEARTBEAT_MS      1000
#define HISTORY_MAX_LIMIT 1000
#define MAX_SEGMENTS      6

struct edit_job;

struct wg_api {
    struct wg_core *core;
    struct wg_web_bridge *bridge;
    struct wg_query_service *queries;
    struct edit_job *edits, *edits_tail; /* configuration changes waiting their turn */
    bool editing;                        /* one is with a worker or reloading */
    int heartbeat_fd;
    int64_t last_seq;
    uint64_t raised[WG_PRIO_FIRE + 1];
    void (*extra_metrics)(FILE *out, void *ctx); /* api_set_extra_metrics */
    void *extra_metrics_ctx;
};

/* api_request.c */
void api_post(struct wg_api *api, uint64_t request_id, int status, const char *type, char *body,
              size_t len, const char *disposition);
void api_reply_json(struct wg_api *api, uint64_t request_id, int status, json_t *value);
void api_reply_error(struct wg_api *api, uint64_t request_id, int status, const char *field,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
json_t *api_request_body(struct wg_api *api, const struct wg_web_request *request);
json_t *api_request_body_only(struct wg_api *api, const struct wg_web_request *request,
                              const char *const *allowed);
bool api_request_query(struct wg_api *api, const struct wg_web_request *request, char *buffer,
                       size_t buffer_len, struct query_param *params, size_t count);
bool api_request_int(struct wg_api *api, uint64_t request_id, const struct query_param *param,
                     long long low, long long high, long long *out);
/* A report's period from `days` (1-92, default 7) or `from`/`to` (ms);
 * false after replying 400. */
bool api_request_period(struct wg_api *api, const struct wg_web_request *request, int64_t *from_ms,
                        int64_t *to_ms);
void api_audit(struct wg_api *api, const struct wg_web_request *request, const char *action,
               const char *target, json_t *detail);

/* api_alarms.c */
/* Adds room_name, zone_name, resident_label and device_label to a record
 * with room, bed and device ids. */
void api_add_names(const struct wg_config *config, json_t *record);
json_t *api_active_alarms_json(struct wg_api *api);
json_t *api_snapshot_json(struct wg_api *api, const struct wg_web_request *request);
void api_on_event(const struct wg_event *event, void *ctx);
void api_heartbeat(void *ctx);
void api_acknowledge(struct wg_api *api, const struct wg_web_request *request, const char *alarm_id,
                     bool over_ws);
void api_reset_remote(struct wg_api *api, const struct wg_web_request *request,
                      const char *alarm_id);

/* api_config.c */
void api_meta(struct wg_api *api, const struct wg_web_request *request);
void api_list_residents(struct wg_api *api, const struct wg_web_request *request);
const char *api_edit_action(enum wg_edit_op op);
json_t *api_problems_json(const struct wg_diag *diag, const char *fallback);
json_t *api_edited_item(struct wg_api *api, enum wg_edit_op op, const char *id);

/* api_config_edit.c */
void api_edits_free(struct wg_api *api);
void api_edit_config(struct wg_api *api, const struct wg_web_request *request, enum wg_edit_op op,
                     const char *id);

/* api_history.c */
void api_history(struct wg_api *api, const struct wg_web_request *request);
void api_report(struct wg_api *api, const struct wg_web_request *request);
void api_audit_log(struct wg_api *api, const struct wg_web_request *request);

/* api_monthly.c */
void api_monthly_report(struct wg_api *api, const struct wg_web_request *request);

/* api_paging.c */
void api_page_answer(struct wg_api *api, const struct wg_web_request *request, const char *alarm_id,
                     const char *action);
/* The staff view with "me" (and the rooms of the home): NULL when paging is off. */
json_t *api_staff_json(struct wg_api *api, const char *user, bool with_rooms);
void api_staff(struct wg_api *api, const struct wg_web_request *request);
void api_staff_claim(struct wg_api *api, const struct wg_web_request *request);
void api_paged(void *ctx, const char *alarm_id, const char *user, int64_t ts_ms);
void api_staff_changed(void *ctx);

/* api_rounds.c */
void api_rounds(struct wg_api *api, const struct wg_web_request *request);
void api_round_checkin(struct wg_api *api, const struct wg_web_request *request);
void api_round_rooms(struct wg_api *api, const struct wg_web_request *request);
void api_round_qr(struct wg_api *api, const struct wg_web_request *request, const char *room);

/* api_records.c */
void api_handover_add(struct wg_api *api, const struct wg_web_request *request);
void api_drill_add(struct wg_api *api, const struct wg_web_request *request);

/* api_tests.c */
json_t *api_test_modes_json(struct wg_api *api);
void api_test_event(struct wg_api *api, const struct wg_event *event);
void api_test_mode_start(struct wg_api *api, const struct wg_web_request *request);
void api_test_mode_end(struct wg_api *api, const struct wg_web_request *request,
                       const char *target);
void api_test_report(struct wg_api *api, const struct wg_web_request *request);

/* api_metrics.c */
void api_metrics(struct wg_api *api, const struct wg_web_request *request);

#endif
