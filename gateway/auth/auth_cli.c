/* `wardgated --add-user NAME --role ROLE [--password-file F]` (auth.h): the
 * password from a file, from the terminal (twice, no echo, Ctrl-C safe) or
 * from one line of a non-terminal stdin, then the user added through the
 * auth module like the web's admin page does. The command is its own
 * process: its one write connection waits for the daemon's writer under
 * SQLite's locks (a busy timeout of CLI_BUSY_TIMEOUT_MS), so it may run
 * while the daemon does. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "auth/auth_internal.h"

/* The daemon's writer holds its lock for one transaction at a time (a few
 * ms; at most its own busy timeout, 2 s, while it waits for another
 * process), so this is plenty, and still an answer for a person waiting. */
#define CLI_BUSY_TIMEOUT_MS 10000

/* Reads one line from fd into buf (at most cap - 1 bytes kept). Returns its
 * length, -2 when it was longer than that, -3 at end of input before any
 * byte, -1 on error (errno). */
static ssize_t read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    bool too_long = false, any = false;
    for (;;) {
        char c;
        ssize_t got = read(fd, &c, 1);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        any = true;
        if (c == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = c;
        else
            too_long = true;
    }
    buf[n] = '\0';
    if (n && buf[n - 1] == '\r')
        buf[--n] = '\0';
    if (!any)
        return -3;
    return too_long ? -2 : (ssize_t)n;
}

/* Asks on the terminal (stdin) with echo off. 0, or -1 with a message.
 * Ctrl-C (and the other terminal signals) are blocked and watched through
 * a signalfd while echo is off, so the terminal is always restored and an
 * interrupt, even one typed together with Enter, adds no user. */
static int ask_password(const char *prompt, char *buf, size_t cap, char *err, size_t err_len)
{
    struct termios saved, quiet;
    if (tcgetattr(STDIN_FILENO, &saved) != 0) {
        auth_say(err, err_len, "cannot read the terminal's settings: %s", strerror(errno));
        return -1;
    }
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    sigset_t watched, old_mask;
    sigemptyset(&watched);
    sigaddset(&watched, SIGINT);
    sigaddset(&watched, SIGTERM);
    sigaddset(&watched, SIGQUIT);
    sigaddset(&watched, SIGHUP);
    sigaddset(&watched, SIGTSTP);
    if (pthread_sigmask(SIG_BLOCK, &watched, &old_mask) != 0) {
        auth_say(err, err_len, "cannot block signals");
        return -1;
    }
    int signal_fd = signalfd(-1, &watched, SFD_NONBLOCK | SFD_CLOEXEC);
    ssize_t n = -1;
    int saved_errno = 0;
    bool interrupted = false;
    if (signal_fd < 0) {
        saved_errno = errno;
    } else {
        fputs(prompt, stderr);
        fflush(stderr);
        if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
            saved_errno = errno;
        } else {
            struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                    {.fd = signal_fd, .events = POLLIN}};
            int ready;
            while ((ready = poll(fds, 2, -1)) < 0 && errno == EINTR)
                ;
            if (ready < 0)
                saved_errno = errno;
            else if (!(fds[1].revents & POLLIN))
                n = read_line(STDIN_FILENO, buf, cap); /* a whole line is there */
            saved_errno = ready < 0 ? saved_errno : errno;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        }
        struct signalfd_siginfo info;
        while (read(signal_fd, &info, sizeof info) == (ssize_t)sizeof info)
            interrupted = true; /* consumed: it would kill us once unblocked */
        close(signal_fd);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (interrupted) {
        fputc('\n', stderr);
        auth_say(err, err_len, "interrupted; no user added");
        n = -1;
    } else if (n == -1) {
        auth_say(err, err_len, "cannot read the password from the terminal: %s",
                 strerror(saved_errno ? saved_errno : EIO));
    } else if (n == -3) {
        fputc('\n', stderr);
        auth_say(err, err_len, "no password given; no user added");
    } else if (n == -2) {
        auth_say(err, err_len, "password: at most %d characters", PASSWORD_MAX);
    }
    if (n < 0)
        sodium_memzero(buf, cap);
    return n < 0 ? -1 : 0;
}

static int password_from_file(const char *path, char *buf, size_t cap, char *err, size_t err_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        auth_say(err, err_len, "password file %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = read_line(fd, buf, cap);
    int saved = errno;
    close(fd);
    if (n == -1)
        auth_say(err, err_len, "password file %s: %s", path, strerror(saved));
    else if (n == -3 || n == 0)
        auth_say(err, err_len, "password file %s: the first line is empty", path);
    else if (n == -2)
        auth_say(err, err_len, "password file %s: the password is longer than %d characters", path,
                 PASSWORD_MAX);
    else if (strlen(buf) != (size_t)n)
        auth_say(err, err_len, "password file %s: the first line holds a NUL byte", path);
    return n > 0 && strlen(buf) == (size_t)n ? 0 : -1;
}

static int password_from_stdin(char *buf, size_t cap, char *err, size_t err_len)
{
    if (isatty(STDIN_FILENO)) {
        char again[PASSWORD_MAX + 2];
        int rc = ask_password("Password: ", buf, cap, err, err_len);
        if (!rc)
            rc = ask_password("The same password again: ", again, sizeof again, err, err_len);
        if (!rc && (strlen(again) != strlen(buf) || sodium_memcmp(again, buf, strlen(buf)) != 0)) {
            auth_say(err, err_len, "the two passwords differ; no user added");
            rc = -1;
        }
        sodium_memzero(again, sizeof again);
        return rc;
    }
    ssize_t n = read_line(STDIN_FILENO, buf, cap);
    if (n == -1)
        auth_say(err, err_len, "cannot read the password from standard input: %s", strerror(errno));
    else if (n == -3 || n == 0)
        auth_say(err, err_len, "no password on standard input (one line is read)");
    else if (n == -2)
        auth_say(err, err_len, "password: at most %d characters", PASSWORD_MAX);
    else if (strlen(buf) != (size_t)n)
        auth_say(err, err_len, "the password on standard input holds a NUL byte");
    return n > 0 && strlen(buf) == (size_t)n ? 0 : -1;
}

int auth_add_user_main(const char *db_path, const char *username, const char *role,
                       const char *password_file)
{
    const char *role_text = role ? role : "nurse";
    int role_value = role_from_name(role_text);
    char err[PATH_MAX + 512];
    if (role_value < 0) {
        fprintf(stderr, "wardgated: unknown role \"%s\": station, nurse, manager or admin\n",
                role_text);
        return 1;
    }
    if (auth_check_name(username, err, sizeof err)) {
        fprintf(stderr, "wardgated: --add-user \"%s\": %s\n", username ? username : "", err);
        return 1;
    }
    if (!db_path) {
        fprintf(stderr, "wardgated: no database path\n");
        return 1;
    }
    char password[PASSWORD_MAX + 2] = "";
    if (password_file &&
        password_from_file(password_file, password, sizeof password, err, sizeof err) < 0) {
        fprintf(stderr, "wardgated: %s; no user added\n", err);
        return 1;
    }
    int rc = 1;
    struct wg_auth *auth = NULL;
    struct wg_store_calls *calls = NULL;
    /* The store's own opener creates and migrates the file; its connection
     * is this process's one writer (store_calls_new_inline), beside the
     * daemon's, under SQLite's locks (docs/storage.md). */
    struct wg_store_options options = {.path = db_path, .busy_timeout_ms = CLI_BUSY_TIMEOUT_MS};
    enum wg_store_status status;
    struct wg_store *store = store_open(&options, &status, err, sizeof err);
    if (!store) {
        fprintf(stderr, "wardgated: %s\n", err);
        goto out;
    }
    calls = store_calls_new_inline(store);
    auth = calls ? auth_open(db_path, calls, err, sizeof err) : NULL;
    if (!auth) {
        fprintf(stderr, "wardgated: %s\n", calls ? err : "out of memory");
        goto out;
    }
    json_t *existing = auth_get_user(auth, username);
    if (existing) {
        json_decref(existing);
        fprintf(stderr, "wardgated: user %s exists in %s\n", username, db_path);
        goto out;
    }
    if (!password_file && password_from_stdin(password, sizeof password, err, sizeof err) < 0) {
        fprintf(stderr, "wardgated: %s\n", err);
        goto out;
    }
    char actor[64];
    struct passwd *pw = getpwuid(getuid());
    if (pw && pw->pw_name && auth_name_ok(pw->pw_name))
        snprintf(actor, sizeof actor, "%s", pw->pw_name);
    else
        snprintf(actor, sizeof actor, "uid %u", (unsigned)getuid());
    int added = auth_add_user(auth, username, (enum wg_role)role_value, password, actor,
                              "command line", err, sizeof err);
    if (added == WG_AUTH_STORAGE) {
        fprintf(stderr, "wardgated: %s; no user added (%s)\n", err, store_last_error(store));
        goto out;
    }
    if (added != 0) {
        fprintf(stderr, "wardgated: %s; no user added\n", err);
        goto out;
    }
    printf("wardgated: user %s (%s) added to %s\n", username, role_text, db_path);
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    sodium_memzero(password, sizeof password);
    auth_close(auth);
    store_calls_free(calls);
    store_close(store);
    return rc;
}
