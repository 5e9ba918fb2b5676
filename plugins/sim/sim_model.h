/* Behaviour of simulated devices, by point meaning.
 *
 * The sim driver can stand in for any profile because it simulates what a
 * point *means*: a call point is pressed now and then and stays latched until
 * a carer's presence is logged and reset, a fall-risk bed empties at night, a
 * gas detector ramps through its low and high thresholds and falls again once
 * the valve is closed, meters count up. The model is stepped by the sim
 * thread; it never calls the host. */
#ifndef WG_SIM_MODEL_H
#define WG_SIM_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/plugin.h"

struct sim_rates {
    double call_every_min;        /* mean interval between calls, per call point */
    double cord_every_min;        /* per pull cord */
    double bed_exit_every_min;    /* per occupied bed, inside the night window */
    double gas_leak_every_min;    /* per gas detector */
    double fire_every_min;        /* per fire zone / smoke detector; 0 = never */
    double door_every_min;        /* per door contact */
    int staff_min_s, staff_max_s; /* how long a carer takes to arrive */
    int night_start_min, night_end_min;
};

struct sim_rng {
    uint64_t state;
};
double sim_random(struct sim_rng *rng); /* uniform in [0, 1) */

/* Per-point state of one simulated device. */
struct sim_point_state {
    double value;
    bool forced;           /* set by a script step: the model leaves it alone */
    int64_t until_ms;      /* episode end (0 = none) */
    int64_t next_event_ms; /* next random episode */
    double target;         /* gas peak, etc. */
};

struct sim_room; /* devices sharing a room, for presence and valve/gas coupling */

struct sim_device {
    const struct wg_device_view *view;
    struct sim_point_state *points;
    struct sim_room *room;
    int64_t next_poll_ms;
    bool silent;      /* never answers: a dead device */
    bool fail_writes; /* every write fails its read-back */
    bool announced;   /* health ONLINE posted */
    bool has_state;   /* set by sim_model_init, or taken over from the bus's previous instance */
};

struct sim_room {
    char *name;
    int64_t staff_arrive_ms; /* a carer is on the way (0 = nobody called) */
    int64_t staff_leave_ms;  /* the carer resets and leaves */
    bool staff_present;
    unsigned resets;   /* how many times a carer has reset the room's calls */
    bool valve_closed; /* the room's gas valve, as last written */
};

/* Sets plausible starting values; `active` enables random episodes. */
void sim_model_init(struct sim_device *device, const struct sim_rates *rates, struct sim_rng *rng,
                    int64_t now_ms, bool active);
/* Advances the device to now_ms; random episodes only when `active`. */
void sim_model_step(struct sim_device *device, const struct sim_rates *rates, struct sim_rng *rng,
                    int64_t now_ms, int64_t dt_ms, bool active);
/* Moves the room's carer along: arrives, logs presence, resets and leaves. */
void sim_room_step(struct sim_room *room, struct sim_rng *rng, int64_t now_ms);
/* Applies an accepted write to an output point (valve, fan, lamp, ...). */
void sim_model_write(struct sim_device *device, uint32_t point, double value);

#endif
