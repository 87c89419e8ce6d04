/*
 * logmsg.h - the daemon's log: syslog (with a facility from the
 * configuration) and/or standard error, one line per call, thread-safe.
 */
#ifndef KYSO_LOGMSG_H
#define KYSO_LOGMSG_H

#include <syslog.h>

/* log_open - start logging as IDENT; TO_SYSLOG with FACILITY, TO_STDERR. */
void log_open(const char *ident, int to_syslog, int facility, int to_stderr);

/* log_last_error - the text of the last line logged at LOG_ERR or worse,
 * or "" (for telling the parent of a daemon why it could not start). */
const char *log_last_error(void);

/* log_msg - one line at PRIORITY (LOG_ERR, LOG_WARNING, LOG_INFO, ...). */
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
