/* The sim driver's control FIFO: created at start (0600, a stale one
 * replaced), read by a thread of its own that turns each line into a
 * one-shot script step for the bus thread's queue, and removed at stop.
 * A bad line is logged with its text and ignored. */
#include "sim_driver.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the control FIFO ---- */

/* Parses one command line (already trimmed, not empty) into a one-shot step.
 * On error returns false with why in `error`. */
static bool parse_control(const struct sim_bus *sim, char *line, struct control_cmd *cmd,
                          char *error, size_t error_size)
{
    const char *const blanks = " \t";
    char *save = NULL;
    char *device_id = strtok_r(line, blanks, &save);
    char *verb = strtok_r(NULL, blanks, &save);
    *cmd = (struct control_cmd){.step = {.repeat = 1}};
    if (!device_id || !verb) {
        snprintf(error, error_size,
                 "expected DEVICE POINT VALUE, DEVICE release POINT or DEVICE health "
                 "online|offline [reason]");
        return false;
    }
    long device = sim_find_device(sim->bus, device_id);
    if (device < 0) {
        snprintf(error, error_size, "device \"%s\" is not on bus %s", device_id, sim->bus->id);
        return false;
    }
    cmd->step.device = (uint32_t)device;
    const struct wg_device_view *view = &sim->bus->devices[device];
    if (strcmp(verb, "health") == 0) {
        char *state = strtok_r(NULL, blanks, &save);
        char *reason = save ? save + strspn(save, blanks) : NULL;
        if (!state || (strcmp(state, "online") != 0 && strcmp(state, "offline") != 0)) {
            snprintf(error, error_size, "health: expected online or offline");
            return false;
        }
        cmd->step.action = STEP_HEALTH;
        cmd->step.health = strcmp(state, "online") == 0 ? WG_HEALTH_ONLINE : WG_HEALTH_OFFLINE;
        snprintf(cmd->reason, sizeof cmd->reason, "%s", reason && *reason ? reason : "control");
        return true;
    }
    bool release = strcmp(verb, "release") == 0;
    const char *point_name = release ? strtok_r(NULL, blanks, &save) : verb;
    const char *value_text = release ? NULL : strtok_r(NULL, blanks, &save);
    if (!point_name || (!release && !value_text) || strtok_r(NULL, blanks, &save)) {
        snprintf(error, error_size,
                 release ? "expected DEVICE release POINT" : "expected DEVICE POINT VALUE");
        return false;
    }
    long point = sim_find_point(view, point_name);
    if (point < 0) {
        snprintf(error, error_size, "device %s (profile %s) has no point \"%s\"", device_id,
                 view->profile_id, point_name);
        return false;
    }
    cmd->step.point = (uint32_t)point;
    cmd->step.action = release ? STEP_RELEASE : STEP_SET;
    if (!release) {
        char *end = NULL;
        errno = 0;
        cmd->step.value = strtod(value_text, &end);
        if (end == value_text || *end || errno == ERANGE || !isfinite(cmd->step.value)) {
            snprintf(error, error_size, "value: expected a number, got \"%s\"", value_text);
            return false;
        }
    }
    return true;
}

/* Queues a command for the bus thread; waits while the queue is full.
 * Returns false once the bus is stopping. */
static bool queue_control(struct sim_bus *sim, const struct control_cmd *cmd)
{
    pthread_mutex_lock(&sim->lock);
    while (sim->control_count == CONTROL_QUEUE && !sim->stop)
        pthread_cond_wait(&sim->control_room, &sim->lock);
    bool stopping = sim->stop;
    if (!stopping) {
        sim->control[sim->control_count++] = *cmd;
        pthread_cond_signal(&sim->wake);
    }
    pthread_mutex_unlock(&sim->lock);
    return !stopping;
}

/* One line from the FIFO, without its newline. Returns false once stopping. */
static bool sim_control_line(struct sim_bus *sim, char *line, size_t len, bool too_long)
{
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
        line[--len] = '\0';
    for (size_t i = 0; i < len; i++) /* the line goes to the log */
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = line[i] == '\t' ? ' ' : '?';
    char *start = line + strspn(line, " ");
    if (too_long) {
        sim->host->log(sim->host, WG_PLOG_WARNING,
                       "control: ignored a line of more than %d bytes: \"%.40s...\"",
                       CONTROL_LINE - 1, start);
        return true;
    }
    if (*start == '\0' || *start == '#')
        return true;
    char text[CONTROL_LINE];
    snprintf(text, sizeof text, "%s", start);
    struct control_cmd cmd;
    char error[160];
    if (!parse_control(sim, start, &cmd, error, sizeof error)) {
        sim->host->log(sim->host, WG_PLOG_WARNING, "control: ignored \"%s\": %s", text, error);
        return true;
    }
    sim->host->log(sim->host, WG_PLOG_INFO, "control: %s", text);
    return queue_control(sim, &cmd);
}

static void *sim_control_thread(void *arg)
{
    struct sim_bus *sim = arg;
    char *line = sim->control_line;
    for (;;) {
        struct pollfd fds[2] = {{.fd = sim->control_fd, .events = POLLIN},
                                {.fd = sim->control_stop[0], .events = POLLIN}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            sim->host->log(sim->host, WG_PLOG_ERR, "control: poll: %s; no more commands",
                           strerror(errno));
            break;
        }
        if (fds[1].revents)
            break;
        if (!fds[0].revents)
            continue;
        char chunk[512];
        ssize_t got = read(sim->control_fd, chunk, sizeof chunk);
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (got <= 0) { /* cannot happen while we hold a write end ourselves */
            sim->host->log(sim->host, WG_PLOG_ERR, "control: read: %s; no more commands",
                           got < 0 ? strerror(errno) : "end of file");
            break;
        }
        bool go_on = true;
        for (ssize_t i = 0; i < got && go_on; i++) {
            if (chunk[i] == '\n') {
                line[sim->control_len] = '\0';
                go_on = sim_control_line(sim, line, sim->control_len, sim->control_too_long);
                sim->control_len = 0;
                sim->control_too_long = false;
            } else if (sim->control_len + 1 < CONTROL_LINE) {
                line[sim->control_len++] = chunk[i];
            } else {
                sim->control_too_long = true;
            }
        }
        if (!go_on)
            break;
    }
    return NULL;
}

void sim_control_close(struct sim_bus *sim)
{
    int *fds[] = {&sim->control_fd, &sim->control_keep_fd, &sim->control_stop[0],
                  &sim->control_stop[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    /* Remove the FIFO only if it is still ours (a reload's next instance makes its own). */
    struct stat st;
    if (sim->control_ino && lstat(sim->control_path, &st) == 0 && st.st_dev == sim->control_dev &&
        st.st_ino == sim->control_ino)
        unlink(sim->control_path);
    sim->control_ino = 0;
}

/* Makes the FIFO (replacing a stale one) and starts its reader. */
int sim_control_open(struct sim_bus *sim)
{
    const char *path = sim->control_path;
    const struct wg_host *host = sim->host;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISFIFO(st.st_mode)) {
            host->log(host, WG_PLOG_ERR, "control: %s exists and is not a FIFO", path);
            return -1;
        }
        if (unlink(path) != 0) {
            host->log(host, WG_PLOG_ERR, "control: cannot remove the stale FIFO %s: %s", path,
                      strerror(errno));
            return -1;
        }
        host->log(host, WG_PLOG_INFO, "control: replaced the stale FIFO %s", path);
    }
    if (mkfifo(path, 0600) != 0) {
        host->log(host, WG_PLOG_ERR, "control: mkfifo %s: %s", path, strerror(errno));
        return -1;
    }
    sim->control_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (sim->control_fd >= 0 && fstat(sim->control_fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
        st.st_uid == geteuid()) {
        sim->control_dev = st.st_dev;
        sim->control_ino = st.st_ino;
    }
    if (sim->control_fd < 0 || !sim->control_ino) {
        host->log(host, WG_PLOG_ERR, "control: cannot open the FIFO %s: %s", path,
                  sim->control_fd < 0 ? strerror(errno) : "not the FIFO just made");
        sim_control_close(sim);
        return -1;
    }
    fchmod(sim->control_fd, 0600); /* whatever the umask left */
    sim->control_keep_fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (sim->control_keep_fd < 0 || pipe2(sim->control_stop, O_CLOEXEC | O_NONBLOCK) != 0) {
        host->log(host, WG_PLOG_ERR, "control: %s: %s", path, strerror(errno));
        sim_control_close(sim);
        return -1;
    }
    host->log(host, WG_PLOG_INFO, "control: reading commands from %s", path);
    return 0;
}

int sim_control_start(struct sim_bus *sim)
{
    int rc = pthread_create(&sim->control_thread, NULL, sim_control_thread, sim);
    if (rc != 0) {
        sim->host->log(sim->host, WG_PLOG_ERR, "control: cannot start the reader thread: %s",
                       strerror(rc));
        return -1;
    }
    sim->control_running = true;
    return 0;
}
