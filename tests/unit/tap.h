/*
 * tap.h - the smallest TAP producer for unit tests: ok() prints one
 * "ok N - name" or "not ok N - name" line; tap_done() prints the plan and
 * returns the exit status (0 only when every check passed).
 */
#ifndef KYSO_TAP_H
#define KYSO_TAP_H
#include <stdio.h>

static int tap_n, tap_failed;

#define ok(cond, ...) do { \
        int tap_c_ = (cond) ? 1 : 0; \
        printf("%sok %d - ", tap_c_ ? "" : "not ", ++tap_n); \
        printf(__VA_ARGS__); \
        printf("\n"); \
        if (!tap_c_) { tap_failed++; printf("#   failed at %s:%d\n", __FILE__, __LINE__); } \
    } while (0)

static inline int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}
#endif
