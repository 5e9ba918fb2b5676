/* wardgated: command line, start-up and shutdown of the daemon.
 *
 *   wardgated -c FILE            run
 *   wardgated -c FILE --check    validate the config (and the drivers' sections), exit 0 or 1
 *   wardgated -c FILE --response-report [--days N]   response times per shift, then exit
 *   wardgated -c FILE --add-user NAME [--role ROLE] [--password-file F]   add a web user
 *   wardgated -c FILE --verify-audit   check the audit log's hash chain, exit 0 intact or 1
 *   wardgated --reload PID [--timeout S]   reload a running daemon and wait for its verdict
 *   wardgated --version
 *
 * Start-up order: config, the site's time zone (before any thread), signals,
 * store, drivers (validated), drivers started, READY=1. SIGTERM/SIGINT stop
 * cleanly with everything committed; SIGHUP reloads (validate, then apply, or
 * keep the running config). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "web/api.h"
#include "web/api_read.h"
#include "auth/auth.h"
#include "common/clock.h"
#include "config/config.h"
#include "core/core.h"
#include "common/log.h"
#include "drivers/plugin_host.h"
#include "store/audit_chain.h"
#include "store/query.h"
#include "core/queue.h"
#include "alarm/response.h"
#include "core/service.h"
#include "store/store.h"
#include "store/store_call.h"
#include "web/web.h"
#include "web/web_bridge.h"
#include "web/web_bridge_json.h"
#include "uplink/uplink_attach.h"
#include "espa/espa_attach.h"

/* Query workers (query.h): two, so a history page is answered while an
 * export runs on the other (and exports take turns). */
#define QUERY_WORKERS 2

struct cli_options {
    const char *config_path;
    const char *db_path;
    const char *plugin_dir;
    const char *web_root;
    const char *log_level;
    bool check_only;
    bool response_report;
    bool verify_audit;
    int report_days;
    const char *add_user, *role, *password_file;
    long reload_pid;   /* --reload: the daemon to reload (the unit's ExecReload=) */
    int reload_wait_s; /* --timeout */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: wardgated -c FILE [options]\n"
            "  -c, --config FILE     site configuration (YAML)\n"
            "      --check           validate the configuration and exit (0 = valid)\n"
            "      --response-report print call and alarm response times per shift and exit\n"
            "      --days N          days the report covers, up to now (default 7)\n"
            "      --verify-audit    check the audit log's hash chain and exit (0 = intact);\n"
            "                        names the first row that does not match\n"
            "      --add-user NAME   add a user of the web interface and exit; the password\n"
            "                        is asked twice on the terminal, or read from stdin\n"
            "      --role ROLE       station, nurse (default), manager or admin\n"
            "      --password-file F read the new user's password from F's first line\n"
            "      --reload PID      make the running daemon PID reload its configuration and\n"
            "                        wait for its verdict: exit 0 when applied, 1 when not\n"
            "                        (the unit's ExecReload=; needs RUNTIME_DIRECTORY)\n"
            "      --timeout S       how long --reload waits (default 60 s)\n"
            "      --db FILE         database file (overrides storage.path)\n"
            "      --plugin-dir DIR  driver directory (overrides plugins.dir; default %s)\n"
            "      --web-root DIR    the pages the web server serves (overrides web.root)\n"
            "  -l, --log-level LEVEL crit, error, warning, notice, info or debug\n"
            "  -V, --version         print the version and exit\n"
            "  -h, --help            this text\n",
            WG_PLUGIN_DIR);
}

/* Returns 0 to go on, 1 to exit successfully, 2 for a usage error. */
static int parse_args(int argc, char **argv, struct cli_options *cli)
{
    enum { OPT_CHECK = 1000, OPT_DB, OPT_PLUGIN_DIR, OPT_RESPONSE_REPORT, OPT_DAYS };
    enum { OPT_ADD_USER = 1100, OPT_ROLE, OPT_PASSWORD_FILE, OPT_WEB_ROOT };
    enum { OPT_RELOAD = 1200, OPT_TIMEOUT, OPT_VERIFY_AUDIT };
    static const struct option long_options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, OPT_CHECK},
        {"db", required_argument, NULL, OPT_DB},
        {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
        {"web-root", required_argument, NULL, OPT_WEB_ROOT},
        {"response-report", no_argument, NULL, OPT_RESPONSE_REPORT},
        {"days", required_argument, NULL, OPT_DAYS},
        {"verify-audit", no_argument, NULL, OPT_VERIFY_AUDIT},
        {"add-user", required_argument, NULL, OPT_ADD_USER},
        {"role", required_argument, NULL, OPT_ROLE},
        {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
        {"reload", required_argument, NULL, OPT_RELOAD},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"log-level", required_argument, NULL, 'l'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "c:l:Vh", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            cli->config_path = optarg;
            break;
        case OPT_CHECK:
            cli->check_only = true;
            break;
        case OPT_DB:
            cli->db_path = optarg;
            break;
        case OPT_PLUGIN_DIR:
            cli->plugin_dir = optarg;
            break;
        case OPT_WEB_ROOT:
            cli->web_root = optarg;
            break;
        case OPT_RESPONSE_REPORT:
            cli->response_report = true;
            break;
        case OPT_VERIFY_AUDIT:
            cli->verify_audit = true;
            break;
        case OPT_DAYS: {
            char *end = NULL;
            long days = strtol(optarg, &end, 10);
            if (end == optarg || *end || days < 1 || days > 3660) {
                fprintf(stderr, "wardgated: --days wants a whole number of days, 1 to 3660\n");
                return 2;
            }
            cli->report_days = (int)days;
            break;
        }
        case OPT_ADD_USER:
            cli->add_user = optarg;
            break;
        case OPT_ROLE:
            cli->role = optarg;
            break;
        case OPT_PASSWORD_FILE:
            cli->password_file = optarg;
            break;
        case OPT_RELOAD: {
            char *end = NULL;
            long pid = strtol(optarg, &end, 10);
            /* Never 0, 1 or negative: kill() would reach the group, init or everything. */
            if (end == optarg || *end || pid < 2) {
                fprintf(stderr, "wardgated: --reload wants the daemon's process id, got \"%s\"\n",
                        optarg);
                return 2;
            }
            cli->reload_pid = pid;
            break;
        }
        case OPT_TIMEOUT: {
            char *end = NULL;
            long seconds = strtol(optarg, &end, 10);
            if (end == optarg || *end || seconds < 1 || seconds > 3600) {
                fprintf(stderr,
                        "wardgated: --timeout wants a whole number of seconds, 1 to 3600\n");
                return 2;
            }
            cli->reload_wait_s = (int)seconds;
            break;
        }
        case 'l':
            if (wg_log_level_from_name(optarg) < 0) {
                fprintf(stderr, "wardgated: unknown log level \"%s\"\n", optarg);
                return 2;
            }
            cli->log_level = optarg;
            break;
        case 'V':
            printf("wardgated %s (plugin ABI %u)\n", WG_VERSION, WG_PLUGIN_ABI_VERSION);
            return 1;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "wardgated: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (cli->report_days && !cli->response_report) {
        fprintf(stderr, "wardgated: --days goes with --response-report\n");
        return 2;
    }
    if ((cli->role || cli->password_file) && !cli->add_user) {
        fprintf(stderr, "wardgated: --role and --password-file go with --add-user\n");
        return 2;
    }
    if ((cli->add_user != NULL) + cli->check_only + cli->response_report + cli->verify_audit > 1) {
        fprintf(stderr, "wardgated: --check, --response-report, --add-user and --verify-audit "
                        "each go alone\n");
        return 2;
    }
    if (cli->reload_wait_s && !cli->reload_pid) {
        fprintf(stderr, "wardgated: --timeout goes with --reload\n");
        return 2;
    }
    if (cli->reload_pid &&
        (cli->config_path || cli->check_only || cli->response_report || cli->verify_audit ||
         cli->add_user || cli->db_path || cli->plugin_dir || cli->web_root)) {
        fprintf(stderr,
                "wardgated: --reload goes alone (the daemon reads its own configuration)\n");
        return 2;
    }
    if (cli->reload_pid)
        return 0;
    if (!cli->config_path) {
        fprintf(stderr, "wardgated: no configuration given (-c FILE)\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* --check: the file and every driver's own sections; nothing is started. */
static int check_config(const struct cli_options *cli, struct wg_config *config)
{
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_queue *queue = queue_new(16);
    struct wg_clock clock = clock_real();
    struct wg_plugin_host *host =
        queue ? plugin_host_open(config, core_plugin_dir(cli->plugin_dir, config), queue, &clock,
                                 &diag)
              : NULL;
    int rc = 0;
    if (!host) {
        for (size_t i = 0; i < diag.count; i++)
            fprintf(stderr, "%s\n", diag.messages[i]);
        fprintf(stderr, "%s: %zu error(s)\n", cli->config_path, diag.count ? diag.count : 1);
        rc = 1;
    } else {
        printf("%s: configuration OK: %zu devices on %zu buses, %zu beds, %zu residents, "
               "%zu rules\n",
               cli->config_path, config->device_count, config->bus_count, config->bed_count,
               config->resident_count, config->rule_count);
    }
    plugin_host_close(host);
    queue_free(queue);
    diag_free(&diag);
    return rc;
}

static int open_signals(void)
{
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    /* Test hooks (WARDGATE_TEST_HOOKS=1), read and otherwise ignored by the core. */
    sigaddset(&signals, SIGUSR1);
    sigaddset(&signals, SIGUSR2);
    /* Blocked before any thread exists, so every driver thread inherits the mask. */
    if (pthread_sigmask(SIG_BLOCK, &signals, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* File descriptors the daemon needs besides its buses: the database and its
 * WAL on three connections, eventfds, the signalfd, the web server and its
 * clients, the MQTT link, logs. */
#define BASE_FDS    256
#define FDS_PER_BUS 2 /* a TCP socket or serial port, and room for a reconnect */

/* Raises the soft open-file limit to fit the buses (a Modbus TCP endpoint is
 * a bus of its own: 1,000 endpoints need over 1,000 descriptors, and the
 * usual soft limit is 1,024), up to the hard limit. */
static void raise_open_file_limit(const struct wg_config *config)
{
    rlim_t needed = BASE_FDS + (rlim_t)FDS_PER_BUS * config->bus_count;
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        wg_warn("open files: cannot read the limit: %s", strerror(errno));
        return;
    }
    if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed)
        return;
    rlim_t was = limit.rlim_cur;
    rlim_t wanted =
        limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed ? limit.rlim_max : needed;
    if (wanted > was) {
        limit.rlim_cur = wanted;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
            wg_warn("open files: %zu buses need about %llu descriptors; cannot raise the limit "
                    "of %llu: %s; raise LimitNOFILE in the unit",
                    config->bus_count, (unsigned long long)needed, (unsigned long long)was,
                    strerror(errno));
            return;
        }
    }
    if (wanted < needed)
        wg_warn("open files: %zu buses need about %llu descriptors, but the hard limit is %llu "
                "(raised to it from %llu); raise LimitNOFILE in the unit",
                config->bus_count, (unsigned long long)needed, (unsigned long long)wanted,
                (unsigned long long)was);
    else
        wg_info("open files: raised the limit from %llu to %llu for %zu buses",
                (unsigned long long)was, (unsigned long long)wanted, config->bus_count);
}

/* libmodbus waits for replies with select(), which takes only descriptors
 * below FD_SETSIZE (1024); glibc aborts on a higher one. With many buses the
 * daemon's own descriptors (database, web, uplink, eventfds) would take low
 * numbers first and push the last buses' sockets past 1024. So before
 * opening anything else, placeholders hold every free descriptor below
 * FD_SETSIZE, and they are closed just before the drivers start: the buses
 * get the low ones, everything else lives above. */
#define MANY_BUSES 64

struct low_descriptors {
    int *fds;
    size_t count;
};

static struct low_descriptors hold_low_descriptors(const struct wg_config *config)
{
    struct low_descriptors held = {0};
    struct rlimit limit;
    if (config->bus_count < MANY_BUSES || getrlimit(RLIMIT_NOFILE, &limit) != 0 ||
        limit.rlim_cur < FD_SETSIZE + BASE_FDS)
        return held;
    held.fds = malloc(FD_SETSIZE * sizeof *held.fds);
    while (held.fds && held.count < FD_SETSIZE) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        if (fd >= FD_SETSIZE) {
            close(fd);
            break;
        }
        held.fds[held.count++] = fd;
    }
    wg_info("open files: %zu descriptors below %d kept for the %zu buses", held.count, FD_SETSIZE,
            config->bus_count);
    return held;
}

static void release_low_descriptors(struct low_descriptors *held)
{
    for (size_t i = 0; i < held->count; i++)
        close(held->fds[i]);
    free(held->fds);
    *held = (struct low_descriptors){0};
}

static const char *database_path(const struct cli_options *cli, const struct wg_config *config)
{
    return cli->db_path ? cli->db_path
                        : (config->storage.path[0] ? config->storage.path : WG_DB_PATH);
}

/* root running --add-user or --response-report before the service's first
 * start would create the database as root, and the daemon (user wardgate)
 * could not write it. So a database that does not exist yet is created
 * empty, owned like its directory (wardgate-setup gives /var/lib/wardgate
 * to wardgate); SQLite then gives its -wal and -shm files the database's
 * owner. Returns false (with a message) when that fails. */
static bool database_owned_like_directory(const char *path)
{
    if (geteuid() != 0)
        return true;
    const char *slash = strrchr(path, '/');
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
             slash ? path : ".");
    struct stat dir_st;
    if (stat(dir, &dir_st) != 0 || dir_st.st_uid == 0)
        return true; /* root's directory, or none (the store says so) */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0 && errno == EEXIST)
        return true;
    if (fd < 0) {
        fprintf(stderr, "wardgated: cannot create %s: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = fchown(fd, dir_st.st_uid, dir_st.st_gid) == 0;
    if (!ok) {
        fprintf(stderr, "wardgated: cannot give %s to the owner of %s: %s\n", path, dir,
                strerror(errno));
        unlink(path);
    }
    close(fd);
    return ok;
}

static struct wg_store *open_store(const struct cli_options *cli, const struct wg_config *config)
{
    struct wg_store_options options = {
        .path = database_path(cli, config),
        .max_bytes = config->storage.max_bytes,
        .readings_bucket_s = config->storage.readings_bucket_s,
        .readings_retention_days = config->storage.readings_retention_days,
        .events_retention_days = config->storage.events_retention_days,
    };
    enum wg_store_status status;
    char err[512];
    struct wg_store *store = store_open(&options, &status, err, sizeof err);
    if (!store)
        wg_crit("storage: %s", err);
    else
        wg_info("storage: %s (schema %d, %lld bytes)", options.path, store_schema_version(store),
                (long long)store_size_bytes(store));
    return store;
}

int main(int argc, char **argv)
{
    struct cli_options cli = {0};
    int parsed = parse_args(argc, argv, &cli);
    if (parsed != 0)
        return parsed == 1 ? 0 : 2;
    if (cli.log_level)
        wg_log_set_level((enum wg_log_level)wg_log_level_from_name(cli.log_level));
    if (cli.reload_pid)
        return service_reload_request((pid_t)cli.reload_pid,
                                      (cli.reload_wait_s ? cli.reload_wait_s : 60) * 1000);

    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *config = config_load(cli.config_path, &diag);
    if (!config) {
        for (size_t i = 0; i < diag.count; i++)
            fprintf(stderr, "%s\n", diag.messages[i]);
        fprintf(stderr, "%s: %zu error(s); not started\n", cli.config_path, diag.count);
        diag_free(&diag);
        return 1;
    }
    diag_free(&diag);
    /* Local time is the site's from here on, whatever the host's zone; no
     * thread exists yet, so setting TZ cannot race (clock.h). */
    if (clock_use_timezone(config->site.timezone) != 0) {
        fprintf(stderr, "%s: the time zone \"%s\" cannot be used; not started\n", cli.config_path,
                config->site.timezone);
        config_free(config);
        return 1;
    }
    if (!cli.log_level && wg_log_level_from_name(config->log_level) >= 0)
        wg_log_set_level((enum wg_log_level)wg_log_level_from_name(config->log_level));
    if (cli.check_only) {
        for (size_t i = 0; i < config->warnings.count; i++)
            fprintf(stderr, "%s\n", config->warnings.messages[i]);
        int rc = check_config(&cli, config);
        config_free(config);
        return rc;
    }
    if ((cli.response_report || cli.add_user) &&
        !database_owned_like_directory(database_path(&cli, config))) {
        config_free(config);
        return 1;
    }
    if (cli.verify_audit) { /* read-only: never migrates or checkpoints */
        int rc = audit_chain_verify_main(database_path(&cli, config), stdout);
        config_free(config);
        return rc;
    }
    if (cli.response_report) {
        int rc = response_report_main(database_path(&cli, config),
                                      cli.report_days ? cli.report_days : 7, stdout);
        config_free(config);
        return rc;
    }

    if (cli.add_user) {
        int rc = auth_add_user_main(database_path(&cli, config), cli.add_user, cli.role,
                                    cli.password_file);
        config_free(config);
        return rc;
    }

    wg_notice("wardgated %s starting: site %s (%s), %zu devices, time zone %s", WG_VERSION,
              config->site.id, config->site.name, config->device_count, config->site.timezone);
    config_log_warnings(config);
    raise_open_file_limit(config);
    int signal_fd = open_signals();
    if (signal_fd < 0) {
        wg_crit("cannot set up signal handling");
        config_free(config);
        return 1;
    }
    struct low_descriptors low = hold_low_descriptors(config);
    struct wg_store *store = open_store(&cli, config);
    if (!store) {
        release_low_descriptors(&low);
        config_free(config);
        close(signal_fd);
        return 1;
    }
    /* Reads people and the district ask for run on these workers, never on
     * the core thread; without them the daemon still runs, and says so. */
    char query_err[512];
    struct wg_query_service *queries =
        query_service_new(database_path(&cli, config), QUERY_WORKERS, WG_EXPORTS_AT_ONCE, query_err,
                          sizeof query_err);
    if (!queries)
        wg_crit("history, reports and exports are unavailable: %s", query_err);
    struct wg_clock clock = clock_real();
    const char *hooks = getenv("WARDGATE_TEST_HOOKS");
    /* The web's auth writes through the store writer (store_call.h). */
    struct wg_store_calls *store_calls = store_calls_new();
    if (!store_calls)
        wg_crit("out of memory: logins and user changes will be refused");
    struct wg_core_options options = {.config_path = cli.config_path,
                                      .plugin_dir = cli.plugin_dir,
                                      .clock = &clock,
                                      .test_hooks = hooks && strcmp(hooks, "1") == 0,
                                      .queries = queries,
                                      .store_calls = store_calls};
    if (options.test_hooks)
        wg_warn("WARDGATE_TEST_HOOKS=1: SIGUSR1 and SIGUSR2 freeze the web and the core thread "
                "(for tests only)");
    diag_init(&diag);
    struct wg_core *core = core_new(&options, config, store, &diag);
    if (!core) {
        diag_log(&diag);
        wg_crit("drivers could not be loaded; not started");
        diag_free(&diag);
        query_service_free(queries);
        store_calls_free(store_calls);
        release_low_descriptors(&low);
        close(signal_fd);
        return 1;
    }
    diag_free(&diag);
    if (queries &&
        core_add_source(core, query_service_fd(queries), query_service_complete, queries) != 0)
        wg_crit("the core cannot watch the query workers; the district's history commands "
                "will not be answered");
    /* The uplink and the web API attach to the core the same way
     * (core/attach.h), before the drivers start, so no committed event is
     * missed. Without either the daemon still runs. */
    struct wg_uplink_attachment *uplink =
        uplink_attach(core, queries,
                      &(struct wg_uplink_views){.status = core_status_json,
                                                .active_alarms = core_active_alarms_json,
                                                .devices = core_device_summaries_json});
    /* Calls to pagers over an ESPA 4.4.4 line (espa:), on its own thread. */
    struct wg_espa_attachment *espa = espa_attach(core);
    struct wg_web_bridge *bridge = NULL;
    struct wg_api *api = NULL;
    struct wg_web_server *web = NULL;
    if (core_config(core)->web.enabled) {
        bridge = bridge_new(256, 8192, NULL, NULL);
        api = bridge ? api_new(core, bridge, queries) : NULL;
        api_set_extra_metrics(api, espa_write_metrics, espa);
        struct wg_web settings = core_config(core)->web;
        if (cli.web_root)
            settings.root = cli.web_root;
        if (api)
            web = web_start(&settings, database_path(&cli, core_config(core)), store_calls, bridge);
        if (!web)
            wg_crit("web: not started; the display and the manager UI are unavailable");
        else if (core_supervise(core, web_liveness(web)) != 0)
            wg_err("web: the watchdog cannot supervise the web thread");
    }
    release_low_descriptors(&low); /* for the buses, which connect now */
    if (core_start(core) != 0) {
        web_stop(web);
        core_free(core);
        uplink_attachment_free(uplink);
        espa_attachment_free(espa);
        query_service_free(queries);
        api_free(api);
        bridge_free(bridge);
        store_calls_free(store_calls);
        close(signal_fd);
        return 1;
    }
    wg_notice("ready: %zu devices on %zu buses", core_config(core)->device_count,
              core_config(core)->bus_count);
    service_ready("running");
    int rc = core_run(core, signal_fd);
    /* A wedged web thread is left behind (with the bridge it may still read),
     * so that the core still stops its drivers and commits. */
    bool web_stopped = web_stop(web);
    core_free(core);
    uplink_attachment_free(uplink);
    espa_attachment_free(espa);
    /* Before the bridge (a worker may still be replying), and only when the
     * web thread is gone (a stream's client leaving wakes its worker). */
    if (web_stopped)
        query_service_free(queries);
    api_free(api);
    if (web_stopped) {
        bridge_free(bridge);
        store_calls_free(store_calls); /* after the writer (core_free) and auth */
    }
    close(signal_fd);
    wg_notice("stopped");
    return rc == 0 ? 0 : 1;
}
