/*
 * msgctx.h - what the milter knows about one SMTP connection and the
 * message in progress on it: client, macros, envelope, the headers that
 * matter, forged copies of our own headers, and the message bytes (a
 * spool).  Filled by callbacks.c, consumed by eom.c.
 */
#ifndef KYSO_MSGCTX_H
#define KYSO_MSGCTX_H

#include <stddef.h>
#include <sys/time.h>
#include "gen.h"
#include "spool.h"

typedef struct kyso_msg {
    kyso_gen *gen;                  /* generation this message started under */
    struct timeval start;
    char *queue_id;                 /* {i} */
    char *auth_user;                /* {auth_authen} */
    char *daemon;                   /* {daemon_name} */
    char *sender;                   /* envelope sender, "" for <> */
    char **rcpts;
    size_t nrcpts;
    char *hdr_from;                 /* first From header, raw value */
    int nfrom;                      /* From headers seen */
    char *subject, *message_id, *date;  /* raw header values */
    int auto_submitted;             /* Auto-Submitted other than "no", or a notice */
    /* forged copies to delete at the end: per-name occurrence indexes */
    int *forged_ar;                 /* Authentication-Results claiming our id */
    size_t nforged_ar;
    int *forged_doc;                /* X-Kyso-Document */
    size_t nforged_doc;
    int *forged_mon;                /* X-Kyso-Monitor */
    size_t nforged_mon;
    int nar, ndoc, nmon;            /* occurrences seen so far, per name */
    kyso_spool spool;               /* header block, blank line, body */
    int spool_failed;               /* an I/O error: the message must tempfail */
    char spool_err[160];
} kyso_msg;

typedef struct kyso_conn {
    char *client_addr;              /* "192.0.2.1", or NULL */
    char *client_name;
    kyso_msg *msg;                  /* NULL between messages */
    int leadspc;                    /* negotiated: header values keep their leading space */
    int nr_hdr, nr_body;            /* negotiated: no reply to headers, body chunks */
    int chgbody;                    /* negotiated: the body may be replaced */
} kyso_conn;

/* msg_new - a message under the current generation; NULL when out of
 * memory or no configuration is installed. */
kyso_msg *msg_new(void);

/* msg_free - release the message and its generation reference. */
void msg_free(kyso_msg *m);

/* msg_add_rcpt - append a recipient (copied); 0 or -1 (out of memory). */
int msg_add_rcpt(kyso_msg *m, const char *rcpt);

/* msg_add_header - remember what the header NAME: VALUE tells and append
 * it to the spool.  LEADSPC: VALUE keeps its leading space. */
void msg_add_header(kyso_msg *m, const char *name, const char *value, int leadspc);

/* msg_add_body - append body bytes to the spool (after msg_end_headers). */
void msg_add_body(kyso_msg *m, const unsigned char *data, size_t len);

/* msg_end_headers - the blank line between header and body. */
void msg_end_headers(kyso_msg *m);

/* msg_strip_addr - a copy of an SMTP path or From value reduced to the
 * bare address ("<a@b>" -> "a@b", "Name <a@b>" -> "a@b"), lower-cased
 * domain; "" for "<>"; NULL when out of memory. */
char *msg_strip_addr(const char *s);

#endif
