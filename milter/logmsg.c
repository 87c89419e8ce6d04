/*
 * logmsg.c - see logmsg.h.  Lines on standard error carry the time and the
 * severity, so that a foreground run reads like the syslog it replaces.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "logmsg.h"

static int log_syslog, log_stderr = 1;
static char log_last[512];          /* written at start-up only, before threads */

const char *log_last_error(void)
{
    return log_last;
}

void log_open(const char *ident, int to_syslog, int facility, int to_stderr)
{
    if (log_syslog)
        closelog();
    log_syslog = to_syslog;
    log_stderr = to_stderr;
    if (to_syslog)
        openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

void log_msg(int priority, const char *fmt, ...)
{
    static const char *const sev[] = {"emerg", "alert", "crit", "error", "warning",
                                      "notice", "info", "debug"};
    va_list ap;
    if (LOG_PRI(priority) <= LOG_ERR) {
        va_start(ap, fmt);
        vsnprintf(log_last, sizeof log_last, fmt, ap);
        va_end(ap);
    }
    if (log_syslog) {
        va_start(ap, fmt);
        vsyslog(priority, fmt, ap);
        va_end(ap);
    }
    if (log_stderr) {
        char ts[32];
        time_t now = time(NULL);
        struct tm tm;
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S%z", localtime_r(&now, &tm));
        flockfile(stderr);
        fprintf(stderr, "%s kyso-milter %s: ", ts, sev[LOG_PRI(priority)]);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        funlockfile(stderr);
    }
}
