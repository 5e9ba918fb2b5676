/* Private to the sim driver (sim.c, sim_config.c, sim_thread.c,
 * sim_control.c): one bus's state, its script and control commands, and
 * what each file offers the others. The model of a device is sim_model.h. */
#ifndef WG_SIM_DRIVER_H
#define WG_SIM_DRIVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "drivers/plugin.h"
#include "sim_model.h"

enum step_action { STEP_SET, STEP_RELEASE, STEP_HEALTH };

struct script_step {
    int64_t at_ms;
    uint32_t device;
    uint32_t point;
    enum step_action action;
    double value;
    long long repeat; /* STEP_SET: how many times, toggling */
    long long every_ms;
    enum wg_health health;
    const char *reason;
};

#define WRITE_QUEUE   64
#define CONTROL_QUEUE 64
#define CONTROL_LINE  256 /* longer lines are refused */

/* A command read from the control FIFO: a one-shot script step. */
struct control_cmd {
    struct script_step step;
    char reason[64];
};

struct sim_bus {
    const struct wg_host *host;
    const struct wg_bus_view *bus;
    struct sim_rates rates;
    bool active;
    struct sim_rng rng;
    struct sim_device *devices;
    struct sim_room *rooms;
    size_t room_count;
    struct script_step *script;
    size_t script_count;
    size_t script_next;

    int64_t start_mono_ms; /* when the script's time began */
    bool model_ready;      /* the bus thread has set the devices' starting state */
    bool script_adopted;   /* script progress and start time taken over */

    pthread_t thread;
    bool running;        /* started: stop has something to do */
    bool thread_running; /* the bus thread exists */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    struct wg_write_request writes[WRITE_QUEUE];
    size_t write_count;

    /* The control FIFO (control: PATH); control_path NULL when not set. */
    char *control_path;
    int control_fd;      /* read end */
    int control_keep_fd; /* our own write end: no EOF when the last writer closes */
    int control_stop[2]; /* a byte here ends the reader thread */
    dev_t control_dev;
    ino_t control_ino;
    pthread_t control_thread;
    bool control_running;
    pthread_cond_t control_room; /* the queue has room again */
    struct control_cmd control[CONTROL_QUEUE];
    size_t control_count;
    bool control_adopted; /* the FIFO was taken over: start does not make a new one */
    /* The line being read (a command may arrive in pieces). */
    char control_line[CONTROL_LINE];
    size_t control_len;
    bool control_too_long;
};

/* ---- settings (sim_config.c) ---- */

/* Reads the bus's settings (scenario, seed, rates, night, script, control),
 * and one device's; problems go to host->cfg_error. */
bool sim_read_bus_settings(struct sim_bus *sim);
bool sim_read_device_settings(struct sim_bus *sim, struct sim_device *device);
/* Groups the devices into rooms, the "zone/room" part of each one's location. */
bool sim_group_rooms(struct sim_bus *sim);
/* Indexes by id or name, or -1. */
long sim_find_device(const struct wg_bus_view *bus, const char *id);
long sim_find_point(const struct wg_device_view *device, const char *name);

/* ---- the bus thread (sim_thread.c) ---- */

int64_t sim_mono_ms(void);
void *sim_thread(void *arg);

/* ---- the control FIFO (sim_control.c) ---- */

/* Makes the FIFO (replacing a stale one) and opens it; 0 or -1. */
int sim_control_open(struct sim_bus *sim);
/* Starts the FIFO's reader thread; 0 or -1. */
int sim_control_start(struct sim_bus *sim);
/* Closes the FIFO's fds and removes it if it is still ours. */
void sim_control_close(struct sim_bus *sim);

#endif
