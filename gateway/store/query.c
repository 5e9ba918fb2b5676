/* Query workers: a queue of jobs run in turns by a few threads, each with a
 * read-only connection of its own; see query.h. One mutex guards the lists
 * (queued, parked, finished); a job is on at most one of them, or running. */
#include "store/query.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/log.h"

/* The workers' nice value: 10 gives them about a tenth of the CPU share
 * of the daemon's other threads when they compete. */
#define WORKER_NICE 10

enum job_state { QUEUED, RUNNING, PARKED, FINISHED };

struct worker {
    struct wg_query_service *service;
    struct wg_store_reader *reader;
    pthread_t thread;
    bool started;
    struct wg_query_job *current;
};

struct list {
    struct wg_query_job *head, *tail;
};

struct wg_query_service {
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct list queued, parked, finished;
    size_t queued_count, running_count;
    size_t limited, max_limited;
    bool stopping;
    int done_fd; /* eventfd: finished jobs wait for the core */
    struct worker *workers;
    size_t worker_count;
};

static void push(struct list *list, struct wg_query_job *job)
{
    job->next = NULL;
    if (list->tail)
        list->tail->next = job;
    else
        list->head = job;
    list->tail = job;
}

static struct wg_query_job *pop(struct list *list)
{
    struct wg_query_job *job = list->head;
    if (job) {
        list->head = job->next;
        if (!list->head)
            list->tail = NULL;
        job->next = NULL;
    }
    return job;
}

static bool unlink_job(struct list *list, struct wg_query_job *job)
{
    struct wg_query_job *previous = NULL;
    for (struct wg_query_job *j = list->head; j; previous = j, j = j->next) {
        if (j != job)
            continue;
        if (previous)
            previous->next = j->next;
        else
            list->head = j->next;
        if (list->tail == j)
            list->tail = previous;
        j->next = NULL;
        return true;
    }
    return false;
}

static void enqueue(struct wg_query_service *service, struct wg_query_job *job)
{
    job->state = QUEUED;
    push(&service->queued, job);
    service->queued_count++;
    pthread_cond_signal(&service->work);
}

/* With the lock held: the job will not run again. Returns true when the
 * caller must free it (after unlocking); false when it waits for the core. */
static bool finish(struct wg_query_service *service, struct wg_query_job *job)
{
    if (job->limited)
        service->limited--;
    if (!job->done || job->cancelled)
        return true;
    job->state = FINISHED;
    push(&service->finished, job);
    uint64_t one = 1;
    if (write(service->done_fd, &one, sizeof one) < 0) {
        /* The counter is at its maximum: the core is woken already. */
    }
    return false;
}

static void *worker_main(void *arg)
{
    struct worker *worker = arg;
    struct wg_query_service *service = worker->service;
    /* A query yields the CPU to the core, the drivers and the web thread:
     * on Linux a thread has a nice value of its own. */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), WORKER_NICE) != 0)
        wg_warn("queries: cannot lower a worker's priority: %s", strerror(errno));
    pthread_mutex_lock(&service->lock);
    for (;;) {
        while (!service->stopping && !service->queued.head)
            pthread_cond_wait(&service->work, &service->lock);
        if (service->stopping)
            break;
        struct wg_query_job *job = pop(&service->queued);
        service->queued_count--;
        service->running_count++;
        job->state = RUNNING;
        job->resume_pending = false;
        worker->current = job;
        bool cancelled = job->cancelled;
        pthread_mutex_unlock(&service->lock);

        enum wg_query_step step = cancelled ? WG_QUERY_DONE : job->run(job, worker->reader);

        pthread_mutex_lock(&service->lock);
        worker->current = NULL;
        service->running_count--;
        if (job->cancelled)
            step = WG_QUERY_DONE;
        if (step == WG_QUERY_MORE || (step == WG_QUERY_WAIT && job->resume_pending)) {
            enqueue(service, job);
        } else if (step == WG_QUERY_WAIT) {
            job->state = PARKED;
            push(&service->parked, job);
        } else if (finish(service, job)) {
            pthread_mutex_unlock(&service->lock);
            job->free(job);
            pthread_mutex_lock(&service->lock);
        }
    }
    pthread_mutex_unlock(&service->lock);
    return NULL;
}

int query_submit(struct wg_query_service *service, struct wg_query_job *job)
{
    pthread_mutex_lock(&service->lock);
    bool refused = service->stopping || (job->limited && service->limited >= service->max_limited);
    if (!refused) {
        if (job->limited)
            service->limited++;
        job->cancelled = job->resume_pending = false;
        enqueue(service, job);
    }
    pthread_mutex_unlock(&service->lock);
    if (refused)
        job->free(job);
    return refused ? -1 : 0;
}

void query_resume(struct wg_query_service *service, uint64_t key)
{
    if (!key)
        return;
    pthread_mutex_lock(&service->lock);
    for (struct wg_query_job *job = service->parked.head; job; job = job->next)
        if (job->key == key) {
            unlink_job(&service->parked, job);
            enqueue(service, job);
            pthread_mutex_unlock(&service->lock);
            return;
        }
    for (size_t i = 0; i < service->worker_count; i++)
        if (service->workers[i].current && service->workers[i].current->key == key)
            service->workers[i].current->resume_pending = true;
    pthread_mutex_unlock(&service->lock);
}

void query_cancel(struct wg_query_service *service, struct wg_query_job *job)
{
    pthread_mutex_lock(&service->lock);
    job->cancelled = true;
    bool free_now = false;
    if (job->state == FINISHED)
        free_now = unlink_job(&service->finished, job);
    else if (job->state == PARKED && unlink_job(&service->parked, job))
        free_now = finish(service, job);
    pthread_mutex_unlock(&service->lock);
    if (free_now)
        job->free(job);
    /* QUEUED or RUNNING: the worker frees it when its turn comes or ends. */
}

int query_service_fd(const struct wg_query_service *service)
{
    return service->done_fd;
}

void query_service_complete(void *ctx)
{
    struct wg_query_service *service = ctx;
    uint64_t count;
    if (read(service->done_fd, &count, sizeof count) < 0 && errno != EAGAIN)
        wg_warn("queries: reading the eventfd: %s", strerror(errno));
    pthread_mutex_lock(&service->lock);
    struct wg_query_job *job = service->finished.head;
    service->finished.head = service->finished.tail = NULL;
    pthread_mutex_unlock(&service->lock);
    while (job) {
        struct wg_query_job *next = job->next;
        /* Only finished jobs not cancelled are on the list. */
        if (!job->done(job))
            job->free(job); /* else it went on to its next step */
        job = next;
    }
}

size_t query_service_backlog(struct wg_query_service *service)
{
    pthread_mutex_lock(&service->lock);
    size_t count = service->queued_count + service->running_count;
    pthread_mutex_unlock(&service->lock);
    return count;
}

static void free_list(struct list *list)
{
    struct wg_query_job *job;
    while ((job = pop(list)))
        job->free(job);
}

void query_service_free(struct wg_query_service *service)
{
    if (!service)
        return;
    pthread_mutex_lock(&service->lock);
    service->stopping = true;
    pthread_cond_broadcast(&service->work);
    pthread_mutex_unlock(&service->lock);
    for (size_t i = 0; i < service->worker_count; i++) {
        if (service->workers[i].started)
            pthread_join(service->workers[i].thread, NULL);
        store_reader_close(service->workers[i].reader);
    }
    free_list(&service->queued);
    free_list(&service->parked);
    free_list(&service->finished);
    if (service->done_fd >= 0)
        close(service->done_fd);
    pthread_cond_destroy(&service->work);
    pthread_mutex_destroy(&service->lock);
    free(service->workers);
    free(service);
}

struct wg_query_service *query_service_new(const char *db_path, size_t workers, size_t max_limited,
                                           char *err, size_t err_len)
{
    struct wg_query_service *service = calloc(1, sizeof *service);
    if (!service) {
        snprintf(err, err_len, "queries: out of memory");
        return NULL;
    }
    pthread_mutex_init(&service->lock, NULL);
    pthread_cond_init(&service->work, NULL);
    service->max_limited = max_limited;
    size_t count = workers ? workers : 1;
    service->workers = calloc(count, sizeof *service->workers);
    if (service->workers)
        service->worker_count = count;
    service->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!service->workers || service->done_fd < 0) {
        snprintf(err, err_len, "queries: %s", service->workers ? strerror(errno) : "out of memory");
        query_service_free(service);
        return NULL;
    }
    for (size_t i = 0; i < service->worker_count; i++) {
        struct worker *worker = &service->workers[i];
        worker->service = service;
        worker->reader = store_reader_open(db_path, WG_READER_WAIT_MS, err, err_len);
        if (!worker->reader) {
            query_service_free(service);
            return NULL;
        }
        if (pthread_create(&worker->thread, NULL, worker_main, worker) != 0) {
            snprintf(err, err_len, "queries: cannot start a worker thread");
            query_service_free(service);
            return NULL;
        }
        worker->started = true;
    }
    return service;
}
