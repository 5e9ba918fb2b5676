/* A reload that changes the uplink settings while the link is busy, against
 * a real mosquitto (started here on a free loopback port): a command from the
 * district is waiting to be handled and a PUBLISH awaits its PUBACK at the
 * moment of the reload. The replaced client must not be driven on the core
 * thread during the reload (it used to be, for up to a second, answering the
 * command from device state the reload had already freed: run this under
 * SANITIZE=1). Afterwards the old client still answers the command, says
 * goodbye and is freed, and the new one connects. Takes about 5 s. */
#include "testutil.h"
#include "../plugins/probe.h"
#include "testconfig.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include "common/clock.h"
#include "config/config.h"
#include "core/core.h"
#include "store/store.h"
#include "uplink/uplink_attach.h"
#include "web/web_bridge_json.h"

struct fixture {
    struct wg_uplink_attachment *uplink; /* attached as main.c does */
    char *dir;
    char *config_path;
    int port;
    pid_t broker, sub;
    char reply_path[512];
    struct wg_clock clock;
    struct wg_core *core;
    struct probe_bus *probes;
    void *probe_handle;
    int timer_fd;
    int ticks;
    bool reloaded;
    int reload_rc;
    bool command_pending;
    char site_base[200];
};

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static pid_t spawn(char *const argv[], const char *out)
{
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* gone with the test, even when it aborts */
        if (out) {
            FILE *f = freopen(out, "w", stdout);
            (void)f;
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void write_site(struct fixture *f, int keepalive_s)
{
    char text[1024];
    snprintf(text, sizeof text,
             "buses:\n  - {id: p1, driver: probe}\n"
             "devices:\n"
             "  - {id: call-101A, bus: p1, address: 1, profile: call-point, bed: 101-A}\n"
             "  - {id: gas-k, bus: p1, address: 2, profile: gas-midas, room: \"102\"}\n"
             "uplink:\n"
             "  enabled: true\n"
             "  brokers: [tcp://127.0.0.1:%d]\n"
             "  keepalive_s: %d\n"
             "  heartbeat_s: 3600\n"
             "  telemetry_interval_s: 3600\n",
             f->port, keepalive_s);
    free(f->config_path);
    f->config_path = test_site_config(f->dir, text);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir();
    f->port = free_port();
    char conf[512], log[512];
    snprintf(conf, sizeof conf, "%s/mosquitto.conf", f->dir);
    snprintf(log, sizeof log, "%s/mosquitto.log", f->dir);
    FILE *c = fopen(conf, "w");
    assert_non_null(c);
    const struct passwd *me =
        getpwuid(getuid()); /* as root, mosquitto would drop to its own user */
    fprintf(c,
            "user %s\nlistener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "log_dest file %s\n",
            me ? me->pw_name : "root", f->port, log);
    fclose(c);
    f->broker = spawn((char *[]){"mosquitto", "-c", conf, NULL}, NULL);
    for (int i = 0; i < 200 && !port_open(f->port); i++)
        usleep(50 * 1000);
    if (!port_open(f->port)) {
        print_message("# mosquitto did not start (is it installed? tools/deps.sh)\n");
        return -1;
    }
    snprintf(f->site_base, sizeof f->site_base, "wardgate/v1/unit-district/unit-home");
    snprintf(f->reply_path, sizeof f->reply_path, "%s/reply.txt", f->dir);
    char port[16], topic[256];
    snprintf(port, sizeof port, "%d", f->port);
    snprintf(topic, sizeof topic, "%s/reply", f->site_base);
    f->sub = spawn((char *[]){"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-q", "1", "-t",
                              topic, "-C", "1", "-W", "30", NULL},
                   f->reply_path);
    write_site(f, 5);

    char *plugin_dir = test_plugin_dir();
    char probe_path[512];
    snprintf(probe_path, sizeof probe_path, "%s/probe.so", plugin_dir);
    f->probe_handle = dlopen(probe_path, RTLD_NOW);
    assert_non_null(f->probe_handle);
    f->probes = dlsym(f->probe_handle, "probe_buses");
    *(int *)dlsym(f->probe_handle, "probe_bus_count") = 0;
    f->clock = clock_real();
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *config = config_load(f->config_path, &diag);
    for (size_t i = 0; i < diag.count; i++)
        print_message("# config: %s\n", diag.messages[i]);
    assert_non_null(config);
    char db[512];
    snprintf(db, sizeof db, "%s/core.db", f->dir);
    struct wg_store *store = test_open_store(db);
    assert_non_null(store);
    struct wg_core_options core_options = {
        .config_path = f->config_path, .plugin_dir = plugin_dir, .clock = &f->clock};
    f->core = core_new(&core_options, config, store, &diag);
    assert_non_null(f->core);
    diag_free(&diag);
    free(plugin_dir);
    f->uplink = uplink_attach(f->core, NULL,
                              &(struct wg_uplink_views){.status = core_status_json,
                                                        .active_alarms = core_active_alarms_json,
                                                        .devices = core_device_summaries_json});
    assert_non_null(f->uplink);
    assert_int_equal(core_start(f->core), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    core_free(f->core);
    uplink_attachment_free(f->uplink);
    if (f->timer_fd > 0)
        close(f->timer_fd);
    pid_t children[] = {f->sub, f->broker};
    for (size_t i = 0; i < 2; i++)
        if (children[i] > 0) {
            kill(children[i], SIGTERM);
            waitpid(children[i], NULL, 0);
        }
    if (f->probe_handle)
        dlclose(f->probe_handle);
    test_rmtree(f->dir);
    free(f->dir);
    free(f->config_path);
    free(f);
    return 0;
}

/* Runs on the core thread, inside core_run, every 100 ms. */
static void tick(void *ctx)
{
    struct fixture *f = ctx;
    uint64_t expirations;
    ssize_t got = read(f->timer_fd, &expirations, sizeof expirations);
    (void)got;
    f->ticks++;
    if (f->ticks == 30 && !f->reloaded) {
        /* Connected and idle by now. The district asks for the devices... */
        char command[512];
        snprintf(command, sizeof command,
                 "mosquitto_pub -h 127.0.0.1 -p %d -q 1 -t %s/command "
                 "-m '{\"request\":\"r-devices\",\"command\":\"devices\"}'",
                 f->port, f->site_base);
        assert_int_equal(system(command), 0);
        /* ... and the MQTT library has handed it over, but the core has not
         * looked yet (this callback is the core thread). */
        struct pollfd ready = {.fd = uplink_attachment_fd(f->uplink), .events = POLLIN};
        f->command_pending = poll(&ready, 1, 10000) == 1;
        usleep(200 * 1000);
        /* A health change goes to the district: a PUBLISH awaiting its PUBACK. */
        const struct wg_host *host = f->probes[0].host;
        host->post_health(host, 1, WG_HEALTH_OFFLINE, WG_REASON_TIMEOUT, "timeout");
        core_process(f->core);
        /* The uplink settings change: the client is replaced. */
        write_site(f, 6);
        f->reload_rc = core_reload(f->core);
        f->reloaded = true;
    }
    if (f->ticks >= 80)
        core_request_stop(f->core);
}

static void test_reload_replacing_a_busy_uplink(void **state)
{
    struct fixture *f = *state;
    f->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec every = {{0, 100 * 1000 * 1000}, {0, 100 * 1000 * 1000}};
    assert_int_equal(timerfd_settime(f->timer_fd, 0, &every, NULL), 0);
    assert_int_equal(core_add_source(f->core, f->timer_fd, tick, f), 0);
    assert_int_equal(core_run(f->core, -1), 0);
    assert_true(f->reloaded);
    assert_true(f->command_pending);
    assert_int_equal(f->reload_rc, 0);
    assert_int_equal(core_config(f->core)->uplink.keepalive_s, 6);
    /* The replaced client still answered the command it had received. */
    int status = 0;
    assert_int_equal(waitpid(f->sub, &status, 0), f->sub);
    f->sub = 0;
    FILE *reply = fopen(f->reply_path, "r");
    assert_non_null(reply);
    char text[8192] = "";
    size_t n = fread(text, 1, sizeof text - 1, reply);
    text[n] = '\0';
    fclose(reply);
    assert_non_null(strstr(text, "\"request\":\"r-devices\""));
    assert_non_null(strstr(text, "gas-k"));
    struct wg_core_stats stats;
    core_stats(f->core, &stats);
    assert_true(stats.uplink_enabled);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reload_replacing_a_busy_uplink, setup, teardown),
    };
    return cmocka_run_group_tests_name("reload_uplink", tests, NULL, NULL);
}
