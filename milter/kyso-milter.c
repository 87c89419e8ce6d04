/*
 * kyso-milter.c - the daemon: options, configuration, socket, privileges,
 * pid file, and the signal loop.  SIGHUP reloads (a new generation is
 * built off to the side and swapped in only when complete; a broken file
 * keeps the running one), SIGTERM and SIGINT stop taking connections and
 * let messages in flight finish.
 *
 * libmilter runs its own signal thread that stops the milter on SIGHUP.
 * To keep SIGHUP for reloading, smfi_main() runs in a second thread and
 * the main thread waits for the signals itself: Linux hands a signal sent
 * to the process to its main thread first when that thread accepts it,
 * and the main thread only ever waits in sigtimedwait().  Reloads run in
 * a thread of their own so that the main thread is always waiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <malloc.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "callbacks.h"
#include "eom.h"
#include "expiry.h"
#include "firstseen.h"
#include "gen.h"
#include "logmsg.h"

#define DEFAULT_CONFIG "/etc/kyso/kyso-milter.conf"
#define DRAIN_SECONDS 60
#define KYSO_MILTER_MAX_PACKET (1024 * 1024 - 1)

static const char *conf_path = DEFAULT_CONFIG;
static volatile int milter_done, milter_failed;
static int ready_fd = -1;           /* daemon mode: tells the waiting parent */
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reload_cond = PTHREAD_COND_INITIALIZER;
static int reload_pending, reload_quit;

static void usage(void)
{
    fprintf(stderr, "usage: kyso-milter [-c FILE] [-n] [-f]\n"
                    "  -c FILE  configuration (default " DEFAULT_CONFIG ")\n"
                    "  -n       check the configuration and exit\n"
                    "  -f       stay in the foreground, log to standard error too\n");
}

/* same_str - are two optional strings equal? */
static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* warn_revcheck - say so when revocation is not checked at all. */
static void warn_revcheck(const kyso_config *c)
{
    if (c->revcheck == REVCHECK_NONE)
        log_msg(LOG_WARNING, "%s: RevocationCheck none: revoked certificates are accepted "
                "(for labs only); use ocsp,crl", c->path);
}

/* reload_once - build a new generation and install it, or keep the old. */
static void reload_once(void)
{
    char err[512];
    kyso_gen *old = gen_acquire(), *g = gen_load(conf_path, err, sizeof err);
    if (g == NULL || gen_open_store(g, err, sizeof err) < 0) {
        log_msg(LOG_ERR, "reload failed, still running generation %lu: %s",
                old ? old->id : 0, err);
        gen_release(g);
        gen_release(old);
        return;
    }
    if (old && (!same_str(old->cfg->socket, g->cfg->socket) ||
                !same_str(old->cfg->user_id, g->cfg->user_id) ||
                !same_str(old->cfg->pid_file, g->cfg->pid_file) ||
                old->cfg->socket_mode != g->cfg->socket_mode ||
                old->cfg->syslog != g->cfg->syslog ||
                old->cfg->syslog_facility != g->cfg->syslog_facility ||
                old->cfg->log_stderr != g->cfg->log_stderr))
        log_msg(LOG_WARNING, "Socket, SocketMode, UserID, PidFile, Syslog, SyslogFacility and "
                             "LogStderr changes take effect at restart");
    warn_revcheck(g->cfg);
    if (old && (old->cfg->notice_rate_max != g->cfg->notice_rate_max ||
                old->cfg->notice_rate_window != g->cfg->notice_rate_window))
        log_msg(LOG_WARNING, "NoticeRateLimit changes take effect at restart");
    gen_release(old);
    unsigned long id = g->id;
    gen_install(g);
    log_msg(LOG_INFO, "configuration %s reloaded: generation %lu", conf_path, id);
}

/* check_expiry - the certificate expiry warning on the current keys. */
static void check_expiry(void)
{
    kyso_gen *g = gen_acquire();
    expiry_check(g, time(NULL));
    gen_release(g);
}

/* reloader - the thread that performs reloads asked for by SIGHUP, and
 * checks the organisation certificates' expiry at start, after each
 * reload and once a day. */
static void *reloader(void *arg)
{
    (void)arg;
    check_expiry();
    struct timespec next;
    clock_gettime(CLOCK_REALTIME, &next);
    next.tv_sec += 86400;
    pthread_mutex_lock(&reload_lock);
    for (;;) {
        int rc = 0;
        while (!reload_pending && !reload_quit && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&reload_cond, &reload_lock, &next);
        if (reload_quit)
            break;
        int reload = reload_pending;
        reload_pending = 0;
        pthread_mutex_unlock(&reload_lock);
        if (reload)
            reload_once();
        if (rc == ETIMEDOUT) {
            clock_gettime(CLOCK_REALTIME, &next);
            next.tv_sec += 86400;
        }
        check_expiry();
        pthread_mutex_lock(&reload_lock);
    }
    pthread_mutex_unlock(&reload_lock);
    return NULL;
}

/* milter_thread - runs libmilter until it is stopped. */
static void *milter_thread(void *arg)
{
    (void)arg;
    if (smfi_main() != MI_SUCCESS) {
        log_msg(LOG_ERR, "libmilter stopped with an error");
        milter_failed = 1;
    }
    milter_done = 1;
    return NULL;
}

/* daemonize - detach from the terminal.  The parent stays until the
 * daemon says it is ready (exit 0) or why it is not (printed, exit 1), so
 * that "kyso-milter -c FILE" fails visibly when the socket cannot be
 * opened.  Returns 0 in the daemon, -1 when it could not detach. */
static int daemonize(void)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        char msg[600] = "";
        close(fds[1]);
        ssize_t n = read(fds[0], msg, sizeof msg - 1);
        msg[n > 0 ? n : 0] = '\0';
        if (strcmp(msg, "ok") == 0)
            _exit(0);
        fprintf(stderr, "kyso-milter: %s\n", msg[0] ? msg : "the daemon died while starting");
        _exit(1);
    }
    close(fds[0]);
    if (setsid() < 0 || (pid = fork()) < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    ready_fd = fds[1];
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    return chdir("/");
}

/* tell_parent - in daemon mode, "ok" or the reason start-up failed. */
static void tell_parent(int ok)
{
    if (ready_fd < 0)
        return;
    const char *msg = ok ? "ok" : log_last_error()[0] ? log_last_error() : "start-up failed";
    if (write(ready_fd, msg, strlen(msg)) < 0)
        log_msg(LOG_WARNING, "cannot tell the parent process: %s", strerror(errno));
    close(ready_fd);
    ready_fd = -1;
}

/* write_pid - the pid file; 0, or -1 after logging. */
static int write_pid(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
        log_msg(LOG_ERR, "PidFile %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* lookup_user - uid and gid of SPEC "user" or "user:group"; 0 or -1. */
static int lookup_user(const char *spec, uid_t *uid, gid_t *gid)
{
    char name[256];
    snprintf(name, sizeof name, "%s", spec);
    char *colon = strchr(name, ':');
    if (colon)
        *colon++ = '\0';
    struct passwd *pw = getpwnam(name);
    if (pw == NULL) {
        log_msg(LOG_ERR, "UserID %s: no such user; create it or change UserID", name);
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (colon) {
        struct group *gr = getgrnam(colon);
        if (gr == NULL) {
            log_msg(LOG_ERR, "UserID %s: no such group %s", spec, colon);
            return -1;
        }
        *gid = gr->gr_gid;
    }
    return 0;
}

/* drop_privileges - become UserID for good; 0, or -1 after logging. */
static int drop_privileges(const kyso_config *c, uid_t uid, gid_t gid)
{
    if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        log_msg(LOG_ERR, "UserID %s: cannot switch: %s", c->user_id, strerror(errno));
        return -1;
    }
    if (uid != 0 && setuid(0) == 0) {
        log_msg(LOG_ERR, "UserID %s: could regain root; refusing to run", c->user_id);
        return -1;
    }
    return 0;
}

/* set_nodelay - TCP_NODELAY on the listening TCP socket that libmilter
 * opened, so that every accepted connection inherits it (Linux copies it
 * to accepted sockets).  libmilter does not hand out the descriptor, so
 * it is found among ours: the one TCP socket that listens.  Without it,
 * Nagle's algorithm against the MTA's delayed ACKs can stall each milter
 * round trip by about 40 ms on inet: sockets. */
static void set_nodelay(void)
{
    for (int fd = 3; fd < 1024; fd++) {
        int listening = 0, one = 1;
        struct sockaddr_storage sa;
        socklen_t len = sizeof listening, salen = sizeof sa;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening ||
            getsockname(fd, (struct sockaddr *)&sa, &salen) < 0 ||
            (sa.ss_family != AF_INET && sa.ss_family != AF_INET6))
            continue;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
            log_msg(LOG_WARNING, "TCP_NODELAY on the milter socket: %s", strerror(errno));
    }
}

/* open_socket - hand the socket to libmilter and create it now (as root,
 * so that it may live in a root-owned folder); a local socket gets
 * SocketMode and the daemon user as owner.  0, or -1 after logging. */
static int open_socket(const kyso_config *c, int have_user, uid_t uid, gid_t gid)
{
    if (smfi_setconn(c->socket) != MI_SUCCESS || smfi_opensocket(1) != MI_SUCCESS) {
        log_msg(LOG_ERR, "Socket %s: cannot listen (in use, or folder missing?)", c->socket);
        return -1;
    }
    set_nodelay();
    if (strncmp(c->socket, "local:", 6) == 0 || strncmp(c->socket, "unix:", 5) == 0) {
        const char *path = strchr(c->socket, ':') + 1;
        if (chmod(path, c->socket_mode) < 0 ||
            (have_user && geteuid() == 0 && chown(path, uid, gid) < 0)) {
            log_msg(LOG_ERR, "Socket %s: %s", c->socket, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* check_store_dir - for -n: a "file:" store folder must exist and be
 * writable by whoever runs the check (run it as the daemon user:
 * runuser -u kyso -- kyso-milter -n); nothing is created.  Another store
 * (Redis) is opened and closed, which checks its address and credentials.
 * 0 or 1. */
static int check_store_dir(const kyso_config *c)
{
    struct stat st;
    char err[512];
    if (strncasecmp(c->store, "file:", 5) != 0) {
        kyso_store *s = store_open(c->store, err, sizeof err);
        if (s == NULL) {
            log_msg(LOG_ERR, "%s: %s", c->path, err);
            return 1;
        }
        store_close(s);
        return 0;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", (int)strcspn(c->store + 5, "?"), c->store + 5);
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) < 0) {
        log_msg(LOG_ERR, "%s: Store %s: %s; create the folder and give it to the UserID",
                c->path, c->store, errno ? strerror(errno) : "not a folder");
        return 1;
    }
    return 0;
}

/* signal_loop - wait for signals until told to stop or libmilter ends. */
static void signal_loop(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    struct timespec tick = {1, 0};
    while (!milter_done) {
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGHUP) {
            pthread_mutex_lock(&reload_lock);
            reload_pending = 1;
            pthread_cond_signal(&reload_cond);
            pthread_mutex_unlock(&reload_lock);
        } else if (sig == SIGTERM || sig == SIGINT) {
            log_msg(LOG_INFO, "stopping: no new connections, %d message(s) in flight",
                    gen_active());
            smfi_stop();
            break;
        }
    }
}

/* drain - wait for messages in flight, at most DRAIN_SECONDS. */
static void drain(void)
{
    for (int i = 0; i < DRAIN_SECONDS * 10 && gen_active() > 0; i++)
        usleep(100000);
    if (gen_active() > 0)
        log_msg(LOG_WARNING, "stopping with %d message(s) unfinished; the MTA will retry",
                gen_active());
}

/* start - everything between the configuration check and the signal
 * loop; 0, or -1 after logging. */
static int start(kyso_gen *g, int foreground)
{
    const kyso_config *c = g->cfg;
    uid_t uid = 0;
    gid_t gid = 0;
    int have_user = c->user_id != NULL;
    char err[512];
    if (have_user && lookup_user(c->user_id, &uid, &gid) < 0)
        return -1;
    if (!foreground && daemonize() < 0) {
        log_msg(LOG_ERR, "cannot become a daemon: %s", strerror(errno));
        return -1;
    }
    if (c->pid_file && write_pid(c->pid_file) < 0)
        return -1;
    /* the daemon user removes it at exit (its folder must let it) */
    if (c->pid_file && have_user && geteuid() == 0 && chown(c->pid_file, uid, gid) < 0)
        log_msg(LOG_WARNING, "PidFile %s: chown: %s", c->pid_file, strerror(errno));
    /* Postfix sends a header field as one packet: let through what its
     * header_size_limit (100 KB by default) allows, and then some. */
    smfi_setmaxdatasize(KYSO_MILTER_MAX_PACKET);
    if (smfi_register(*callbacks_descriptor("kyso-milter")) != MI_SUCCESS) {
        log_msg(LOG_ERR, "smfi_register failed");
        return -1;
    }
    if (open_socket(c, have_user, uid, gid) < 0)
        return -1;
    if (have_user && geteuid() == 0 && drop_privileges(c, uid, gid) < 0)
        return -1;
    if (gen_open_store(g, err, sizeof err) < 0) {
        log_msg(LOG_ERR, "%s", err);
        return -1;
    }
    kyso_ratelimit *rl = ratelimit_new(c->notice_rate_max, c->notice_rate_window);
    if (rl == NULL) {
        log_msg(LOG_ERR, "out of memory");
        return -1;
    }
    eom_set_ratelimit(rl);
    eom_set_firstseen(firstseen_new(100000));
    return 0;
}

int main(int argc, char **argv)
{
    int check_only = 0, foreground = 0, opt;
    while ((opt = getopt(argc, argv, "c:nfh")) != -1) {
        switch (opt) {
        case 'c': conf_path = optarg; break;
        case 'n': check_only = 1; break;
        case 'f': foreground = 1; break;
        default: usage(); return opt == 'h' ? 0 : 2;
        }
    }
    if (optind != argc) {
        usage();
        return 2;
    }
    char err[512];
    kyso_gen *g = gen_load(conf_path, err, sizeof err);
    if (g == NULL) {
        fprintf(stderr, "kyso-milter: %s\n", err);
        return 1;
    }
    const kyso_config *c = g->cfg;
    log_open("kyso-milter", c->syslog && !check_only, c->syslog_facility,
             check_only || foreground || c->log_stderr);
    warn_revcheck(c);
    if (check_only) {
        int rc = check_store_dir(c);
        if (rc == 0)
            printf("%s: configuration OK\n", conf_path);
        /* freed here, not in a thread of its own: the token threads must
         * log out before the process exits */
        gen_install(g);
        gen_install(NULL);
        return rc;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    /* Messages come and go in buffers of megabytes: keep them in the heap
     * for reuse instead of mapping and unmapping (and faulting in) fresh
     * pages for each one.  Still bounded: the heap gives memory back past
     * the trim threshold. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
    pthread_sigmask(SIG_BLOCK, &set, NULL);    /* every thread inherits this */
    if (start(g, foreground) < 0) {
        if (g->cfg->pid_file)
            unlink(g->cfg->pid_file);
        tell_parent(0);
        return 1;
    }
    gen_install(g);
    pthread_t mt, rt;
    if (pthread_create(&rt, NULL, reloader, NULL) != 0 ||
        pthread_create(&mt, NULL, milter_thread, NULL) != 0) {
        log_msg(LOG_ERR, "cannot start threads");
        return 1;
    }
    log_msg(LOG_INFO, "started on %s (configuration %s, generation 1)", c->socket, conf_path);
    tell_parent(1);
    signal_loop();
    pthread_join(mt, NULL);
    drain();
    pthread_mutex_lock(&reload_lock);
    reload_quit = 1;
    pthread_cond_signal(&reload_cond);
    pthread_mutex_unlock(&reload_lock);
    pthread_join(rt, NULL);
    kyso_gen *last = gen_acquire();
    if (last && last->cfg->pid_file)
        unlink(last->cfg->pid_file);
    if (last && strncmp(last->cfg->socket, "local:", 6) == 0)
        unlink(last->cfg->socket + 6);      /* as the daemon user: may fail, harmless */
    gen_release(last);
    gen_install(NULL);      /* frees it here: its store flushes what it still queues */
    log_msg(LOG_INFO, "stopped");
    return milter_failed ? 1 : 0;
}
