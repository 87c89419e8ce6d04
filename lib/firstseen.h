/*
 * firstseen.h - when a document was first seen with an undecidable
 * revocation status, so that the policy can tempfail it for
 * RevocationMaxDefer and then apply On-RevocationUnknown (the MTA retries
 * a tempfailed message; the retry must find the first time).  Keyed by 32
 * bytes (policy_doc_key), bounded, in process, thread-safe; a shared tier
 * (Redis) plugs in with firstseen_set_remote.  Never prints.
 */
#ifndef KYSO_FIRSTSEEN_H
#define KYSO_FIRSTSEEN_H

#include <stddef.h>
#include <time.h>

#define FIRSTSEEN_KEY_LEN 32

typedef struct kyso_firstseen kyso_firstseen;

/*
 * The shared tier.  note: store NOW under KEY unless a time is already
 * there (SET NX with expiry TTL seconds), and put the stored time (the
 * older one, or NOW) into *first; 0, or -1 on error (the in-process map
 * answers then).  Must be thread-safe and bounded in time.
 */
typedef struct firstseen_remote {
    void *ctx;
    int (*note)(void *ctx, const unsigned char key[FIRSTSEEN_KEY_LEN], time_t now,
                time_t ttl, time_t *first);
} firstseen_remote;

/* firstseen_new - a map of at most MAX entries (NULL when out of memory). */
kyso_firstseen *firstseen_new(size_t max);
/* firstseen_free - release F; NULL is fine. */
void firstseen_free(kyso_firstseen *f);
/* firstseen_set_remote - plug in (NULL: remove) the shared tier; call
 * before F is shared between threads. */
void firstseen_set_remote(kyso_firstseen *f, const firstseen_remote *r);

/*
 * firstseen_note - when KEY was first noted (NOW when it is new; it is then
 * remembered).  Entries older than TTL seconds are forgotten; when the map
 * is full the oldest go first.  Never fails: out of memory answers NOW.
 */
time_t firstseen_note(kyso_firstseen *f, const unsigned char key[FIRSTSEEN_KEY_LEN],
                      time_t now, time_t ttl);

#endif
