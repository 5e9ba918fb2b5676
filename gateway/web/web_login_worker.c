/* The login worker: a thread of its own for what hashes passwords (login,
 * the first admin's setup, adding and changing users) and the user table.
 * The web thread queues a job; the worker runs it with auth_*, queues the
 * result and wakes the loop, which answers the waiting connection. */
#include "web/web_private.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the login worker ---- */

void web_post_job(struct wg_web_server *web, struct http_conn *conn, enum job_kind kind,
                  json_t *body, const char *target)
{
    struct job *job = calloc(1, sizeof *job);
    if (!job) {
        json_decref(body);
        web_respond_error(conn, 500, NULL, "out of memory");
        return;
    }
    job->kind = kind;
    job->id = conn->request_id = web->next_local_id++;
    conn->posted_ms = clock_mono_ms(&web->clock);
    job->body = body;
    snprintf(job->target, sizeof job->target, "%s", target ? target : "");
    snprintf(job->actor, sizeof job->actor, "%s", conn->has_session ? conn->session.username : "");
    snprintf(job->client, sizeof job->client, "%s", conn->client);
    pthread_mutex_lock(&web->jobs_lock);
    struct job **tail = &web->jobs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = job;
    pthread_cond_signal(&web->jobs_cond);
    pthread_mutex_unlock(&web->jobs_lock);
}

static const char *body_string(json_t *body, const char *key)
{
    return json_string_value(json_object_get(body, key));
}

/* An auth refusal as an API error; auth starts its messages with the field
 * at fault ("password: at least 10 characters"), which goes to "field". */
static json_t *user_error(const char *why)
{
    json_t *body = json_pack("{s:s}", "error", why);
    static const char *const fields[] = {"username", "password", "role"};
    for (size_t i = 0; body && i < 3; i++) {
        size_t n = strlen(fields[i]);
        if (strncmp(why, fields[i], n) == 0 && why[n] == ':')
            json_object_set_new(body, "field", json_string(fields[i]));
    }
    return body;
}

/* A change auth could not store (503): the words, and the cause for the
 * pages to put into their own (docs/api.md). */
static json_t *storage_error(const char *why)
{
    json_t *body = json_pack("{s:s}", "error", why);
    const char *reason = auth_storage_reason(why);
    if (body && reason) {
        json_object_set_new(body, "code", json_string("storage"));
        json_object_set_new(body, "args", json_pack("{s:s}", "reason", reason));
    }
    return body;
}

static void run_job(struct wg_web_server *web, struct job *job)
{
    char why[256] = "";
    struct wg_session session;
    int64_t now = clock_wall_ms(&web->clock);
    switch (job->kind) {
    case JOB_LOGIN:
    case JOB_SETUP: {
        enum wg_login_result result =
            job->kind == JOB_LOGIN
                ? auth_login(web->auth, body_string(job->body, "username"),
                             body_string(job->body, "password"), job->client, now, job->token,
                             &session, &job->retry_after, why, sizeof why)
                : auth_setup_admin(web->auth, body_string(job->body, "token"),
                                   body_string(job->body, "username"),
                                   body_string(job->body, "password"), job->client, now, job->token,
                                   &session, why, sizeof why);
        if (result == WG_LOGIN_OK) {
            job->status = 200;
            job->max_age_s = (session.expires_ms - now) / 1000;
            job->reply =
                web_json_text(json_pack("{s:s, s:s, s:s, s:I}", "username", session.username,
                                        "role", role_name(session.role), "csrf", session.csrf,
                                        "expires_ms", (json_int_t)session.expires_ms));
        } else {
            job->token[0] = '\0';
            job->status = result == WG_LOGIN_THROTTLED ? 429
                          : result == WG_LOGIN_ERROR   ? 503
                          : result == WG_LOGIN_INVALID ? 400
                          : job->kind == JOB_SETUP     ? 403
                                                       : 401;
            const char *refusal = why[0]                   ? why
                                  : job->kind == JOB_SETUP ? "the setup token is wrong or used, "
                                                             "or a user exists"
                                                           : "wrong user name or password";
            job->reply = web_json_text(result == WG_LOGIN_ERROR
                                           ? storage_error(refusal)
                                           : json_pack("{s:s}", "error", refusal));
        }
        return;
    }
    case JOB_USERS_LIST:
        job->status = 200;
        job->reply = web_json_text(auth_list_users(web->auth));
        return;
    case JOB_USER_ADD:
    case JOB_USER_UPDATE: {
        const char *name =
            job->kind == JOB_USER_ADD ? body_string(job->body, "username") : job->target;
        const char *role_text = body_string(job->body, "role");
        int role = role_text ? role_from_name(role_text) : WG_ROLE_NONE;
        int rc = -1;
        if (role < 0 || (job->kind == JOB_USER_ADD && !role_text))
            snprintf(why, sizeof why, "role: expected station, nurse, manager or admin");
        else if (job->kind == JOB_USER_ADD)
            rc = auth_add_user(web->auth, name, (enum wg_role)role,
                               body_string(job->body, "password"), job->actor, job->client, why,
                               sizeof why);
        else
            rc = auth_update_user(web->auth, name, (enum wg_role)role,
                                  body_string(job->body, "password"), job->actor, job->client, why,
                                  sizeof why);
        json_t *user = rc == 0 ? auth_get_user(web->auth, name) : NULL;
        job->status = rc == 0 ? (job->kind == JOB_USER_ADD ? 201 : 200) : rc < -1 ? -rc : 400;
        job->reply = rc == 0                 ? web_json_text(json_pack("{s:o*}", "user", user))
                     : rc == WG_AUTH_STORAGE ? web_json_text(storage_error(why))
                                             : web_json_text(user_error(why));
        return;
    }
    case JOB_USER_DELETE: {
        int rc = auth_delete_user(web->auth, job->target, job->actor, job->client, why, sizeof why);
        job->status = rc == 0 ? 200 : rc < -1 ? -rc : 409;
        job->reply = rc == 0                 ? strdup("{}")
                     : rc == WG_AUTH_STORAGE ? web_json_text(storage_error(why))
                                             : web_json_text(json_pack("{s:s}", "error", why));
        return;
    }
    }
}

void *web_worker_main(void *arg)
{
    struct wg_web_server *web = arg;
    pthread_mutex_lock(&web->jobs_lock);
    for (;;) {
        while (!web->jobs && !web->worker_stop)
            pthread_cond_wait(&web->jobs_cond, &web->jobs_lock);
        if (web->worker_stop)
            break;
        struct job *job = web->jobs;
        web->jobs = job->next;
        pthread_mutex_unlock(&web->jobs_lock);
        run_job(web, job);
        pthread_mutex_lock(&web->jobs_lock);
        job->next = web->done;
        web->done = job;
        pthread_mutex_unlock(&web->jobs_lock);
        web_wake(web);
        pthread_mutex_lock(&web->jobs_lock);
    }
    pthread_mutex_unlock(&web->jobs_lock);
    return NULL;
}

void web_job_free(struct job *job)
{
    json_decref(job->body);
    free(job->reply);
    sodium_memzero(job->token, sizeof job->token);
    free(job);
}

void web_take_done_jobs(struct wg_web_server *web)
{
    pthread_mutex_lock(&web->jobs_lock);
    struct job *done = web->done;
    web->done = NULL;
    pthread_mutex_unlock(&web->jobs_lock);
    while (done) {
        struct job *job = done;
        done = job->next;
        struct http_conn *conn = web_conn_by_request(web, job->id);
        if (conn) {
            if (job->token[0])
                web_session_cookie(web, conn, job->token, job->max_age_s);
            conn->retry_after = job->status == 429 ? job->retry_after : 0;
            char *reply = job->reply;
            job->reply = NULL;
            web_respond(conn, job->status, "application/json", reply, reply ? strlen(reply) : 0);
        }
        web_job_free(job);
    }
}
