/* The sim driver's bus thread: polls each device at its poll_ms and posts
 * what the model (sim_model.c) makes of it, runs the script's steps and the
 * control FIFO's commands at their time, and applies the core's writes. */
#include "sim_driver.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

/* ---- the bus thread ---- */

int64_t sim_mono_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void apply_write(struct sim_bus *sim, const struct wg_write_request *request)
{
    struct sim_device *device = &sim->devices[request->device];
    if (device->silent) {
        sim->host->post_write_result(sim->host, request->request_id, false, "no reply (timeout)");
        return;
    }
    if (device->fail_writes) {
        sim->host->post_write_result(sim->host, request->request_id, false,
                                     "read-back differs from the written value");
        return;
    }
    sim_model_write(device, request->point, request->value);
    int64_t now = sim->host->now_ms(sim->host);
    /* Read-back: the output's new state is reported like any reading. */
    sim->host->post_reading(sim->host, request->device, request->point,
                            device->points[request->point].value, now);
    sim->host->post_write_result(sim->host, request->request_id, true, "");
}

/* Between repeats of a step: waits every_ms (not after the last one) and says
 * whether to go on (false once the bus is stopping). */
static bool pause_before_repeat(struct sim_bus *sim, const struct script_step *step, long long i)
{
    if (step->every_ms > 0 && i + 1 < step->repeat) {
        struct timespec pause = {step->every_ms / 1000, (step->every_ms % 1000) * 1000000};
        nanosleep(&pause, NULL);
    }
    pthread_mutex_lock(&sim->lock);
    bool stop = sim->stop;
    pthread_mutex_unlock(&sim->lock);
    return !stop;
}

static void run_step(struct sim_bus *sim, struct script_step *step)
{
    struct sim_device *device = &sim->devices[step->device];
    const struct wg_host *host = sim->host;
    switch (step->action) {
    case STEP_HEALTH: {
        /* With repeat, alternates between the given state and the other one. */
        enum wg_health health = step->health;
        for (long long i = 0; i < step->repeat; i++) {
            device->silent = health == WG_HEALTH_OFFLINE;
            /* A reason given in the script is the simulated device's own words. */
            host->post_health(host, step->device, health,
                              step->reason ? WG_REASON_OTHER : WG_REASON_SCRIPTED,
                              step->reason ? step->reason : "scripted");
            health = health == WG_HEALTH_OFFLINE ? WG_HEALTH_ONLINE : WG_HEALTH_OFFLINE;
            if (!pause_before_repeat(sim, step, i))
                break;
        }
        break;
    }
    case STEP_RELEASE:
        device->points[step->point].forced = false;
        break;
    case STEP_SET: {
        struct sim_point_state *state = &device->points[step->point];
        state->forced = true;
        double value = step->value;
        for (long long i = 0; i < step->repeat; i++) {
            state->value = value;
            host->post_reading(host, step->device, step->point, value, host->now_ms(host));
            value = (value != 0) ? 0 : (step->value != 0 ? step->value : 1);
            if (!pause_before_repeat(sim, step, i))
                break;
        }
        break;
    }
    }
}

static void poll_device(struct sim_bus *sim, uint32_t index, int64_t now_wall, int64_t dt_ms)
{
    struct sim_device *device = &sim->devices[index];
    if (device->silent)
        return;
    if (!device->announced) {
        sim->host->post_health(sim->host, index, WG_HEALTH_ONLINE, WG_REASON_ANSWERING,
                               "answering");
        device->announced = true;
    }
    sim_model_step(device, &sim->rates, &sim->rng, now_wall, dt_ms, sim->active);
    for (uint32_t p = 0; p < device->view->point_count; p++)
        sim->host->post_reading(sim->host, index, p, device->points[p].value, now_wall);
}

void *sim_thread(void *arg)
{
    struct sim_bus *sim = arg;
    int64_t start = sim->start_mono_ms;
    int64_t now_wall = sim->host->now_ms(sim->host);
    for (size_t d = 0; d < sim->bus->device_count; d++) {
        if (!sim->devices[d].has_state)
            sim_model_init(&sim->devices[d], &sim->rates, &sim->rng, now_wall, sim->active);
        sim->devices[d].has_state = true;
        /* Spread the first polls over up to a second, as a real bus would go
         * through its devices after start. */
        int spread_ms = sim->devices[d].view->poll_ms < 1000 ? sim->devices[d].view->poll_ms : 1000;
        sim->devices[d].next_poll_ms = start + (int64_t)(sim_random(&sim->rng) * spread_ms);
    }
    sim->model_ready = true;
    pthread_mutex_lock(&sim->lock);
    while (!sim->stop) {
        while (sim->write_count > 0) {
            struct wg_write_request request = sim->writes[0];
            memmove(sim->writes, sim->writes + 1, --sim->write_count * sizeof sim->writes[0]);
            pthread_mutex_unlock(&sim->lock);
            apply_write(sim, &request);
            pthread_mutex_lock(&sim->lock);
        }
        while (sim->control_count > 0 && !sim->stop) {
            struct control_cmd cmd = sim->control[0];
            memmove(sim->control, sim->control + 1, --sim->control_count * sizeof sim->control[0]);
            pthread_cond_signal(&sim->control_room);
            pthread_mutex_unlock(&sim->lock);
            cmd.step.reason = cmd.reason;
            run_step(sim, &cmd.step);
            pthread_mutex_lock(&sim->lock);
        }
        pthread_mutex_unlock(&sim->lock);

        int64_t now = sim_mono_ms();
        now_wall = sim->host->now_ms(sim->host);
        while (sim->script_next < sim->script_count &&
               sim->script[sim->script_next].at_ms <= now - start)
            run_step(sim, &sim->script[sim->script_next++]);
        for (size_t r = 0; r < sim->room_count; r++)
            sim_room_step(&sim->rooms[r], &sim->rng, now_wall);
        int64_t next = now + 1000;
        for (uint32_t d = 0; d < sim->bus->device_count; d++) {
            struct sim_device *device = &sim->devices[d];
            if (now >= device->next_poll_ms) {
                poll_device(sim, d, now_wall, device->view->poll_ms);
                device->next_poll_ms += device->view->poll_ms;
                if (device->next_poll_ms <= now)
                    device->next_poll_ms = now + device->view->poll_ms;
            }
            if (device->next_poll_ms < next)
                next = device->next_poll_ms;
        }
        if (sim->script_next < sim->script_count &&
            start + sim->script[sim->script_next].at_ms < next)
            next = start + sim->script[sim->script_next].at_ms;

        pthread_mutex_lock(&sim->lock);
        if (!sim->stop && sim->write_count == 0 && sim->control_count == 0 &&
            next > sim_mono_ms()) {
            struct timespec until = {next / 1000, (next % 1000) * 1000000};
            pthread_cond_timedwait(&sim->wake, &sim->lock, &until);
        }
    }
    pthread_mutex_unlock(&sim->lock);
    return NULL;
}
