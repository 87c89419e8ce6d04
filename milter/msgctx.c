/*
 * msgctx.c - per-message state (see msgctx.h).  Spool failures are kept
 * in the message (spool_failed) and turn into a tempfail at the end, never
 * into an accept of bytes that were not all seen.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "msgctx.h"

kyso_msg *msg_new(void)
{
    kyso_msg *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    if ((m->gen = gen_acquire()) == NULL) {
        free(m);
        return NULL;
    }
    gettimeofday(&m->start, NULL);
    const kyso_config *c = m->gen->cfg;
    spool_init(&m->spool, c->temp_dir, c->spool_threshold, c->lim.max_message_size);
    return m;
}

void msg_free(kyso_msg *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nrcpts; i++)
        free(m->rcpts[i]);
    free(m->rcpts);
    free(m->queue_id);
    free(m->auth_user);
    free(m->daemon);
    free(m->sender);
    free(m->hdr_from);
    free(m->subject);
    free(m->message_id);
    free(m->date);
    free(m->forged_ar);
    free(m->forged_doc);
    free(m->forged_mon);
    spool_free(&m->spool);
    gen_release(m->gen);
    free(m);
}

int msg_add_rcpt(kyso_msg *m, const char *rcpt)
{
    char *r = msg_strip_addr(rcpt);
    char **n = r ? realloc(m->rcpts, (m->nrcpts + 1) * sizeof *n) : NULL;
    if (n == NULL) {
        free(r);
        return -1;
    }
    m->rcpts = n;
    m->rcpts[m->nrcpts++] = r;
    return 0;
}

/* msg_spool - append to the spool, remembering the first failure. */
static void msg_spool(kyso_msg *m, const void *data, size_t len)
{
    if (!m->spool_failed &&
        spool_write(&m->spool, data, len, m->spool_err, sizeof m->spool_err) < 0)
        m->spool_failed = 1;
}

/* push_index - append IDX to the array *V of *N; failure marks the
 * spool failed (a forged header we cannot remember must not pass). */
static void push_index(kyso_msg *m, int **v, size_t *n, int idx)
{
    int *p = realloc(*v, (*n + 1) * sizeof *p);
    if (p == NULL) {
        m->spool_failed = 1;
        strcpy(m->spool_err, "out of memory");
        return;
    }
    p[(*n)++] = idx;
    *v = p;
}

/* ar_claims_us - does an Authentication-Results value name AUTHSERV as
 * its authserv-id (RFC 8601 5: such copies from outside are removed)? */
static int ar_claims_us(const char *value, const char *authserv)
{
    while (*value == ' ' || *value == '\t' || *value == '\r' || *value == '\n')
        value++;
    size_t n = strcspn(value, "; \t\r\n(");
    return n == strlen(authserv) && strncasecmp(value, authserv, n) == 0;
}

/* keep_value - replace *slot with a copy of VALUE without leading space. */
static void keep_value(char **slot, const char *value)
{
    while (*value == ' ' || *value == '\t')
        value++;
    free(*slot);
    *slot = strdup(value);
}

void msg_add_header(kyso_msg *m, const char *name, const char *value, int leadspc)
{
    if (strcasecmp(name, "Authentication-Results") == 0) {
        m->nar++;
        if (ar_claims_us(value, m->gen->cfg->authserv_id))
            push_index(m, &m->forged_ar, &m->nforged_ar, m->nar);
    } else if (strcasecmp(name, "X-Kyso-Document") == 0) {
        push_index(m, &m->forged_doc, &m->nforged_doc, ++m->ndoc);
    } else if (strcasecmp(name, "X-Kyso-Monitor") == 0) {
        push_index(m, &m->forged_mon, &m->nforged_mon, ++m->nmon);
    } else if (strcasecmp(name, "From") == 0) {
        if (m->nfrom++ == 0)
            keep_value(&m->hdr_from, value);
    } else if (strcasecmp(name, "Subject") == 0 && m->subject == NULL) {
        keep_value(&m->subject, value);
    } else if (strcasecmp(name, "Message-ID") == 0 && m->message_id == NULL) {
        keep_value(&m->message_id, value);
    } else if (strcasecmp(name, "Date") == 0 && m->date == NULL) {
        keep_value(&m->date, value);
    } else if (strcasecmp(name, "Auto-Submitted") == 0) {
        const char *v = value + strspn(value, " \t");
        if (strncasecmp(v, "no", 2) != 0 || isalnum((unsigned char)v[2]) || v[2] == '-')
            m->auto_submitted = 1;
    } else if (strcasecmp(name, "X-Kyso-Notice") == 0) {
        m->auto_submitted = 1;
    }
    msg_spool(m, name, strlen(name));
    msg_spool(m, leadspc ? ":" : ": ", leadspc ? 1 : 2);
    msg_spool(m, value, strlen(value));
    msg_spool(m, "\r\n", 2);
}

void msg_end_headers(kyso_msg *m)
{
    msg_spool(m, "\r\n", 2);
}

void msg_add_body(kyso_msg *m, const unsigned char *data, size_t len)
{
    msg_spool(m, data, len);
}

char *msg_strip_addr(const char *s)
{
    const char *lt = strrchr(s, '<'), *b = s, *e;
    if (lt) {
        b = lt + 1;
        e = strchr(b, '>');
        if (e == NULL)
            e = b + strlen(b);
    } else {
        while (*b == ' ' || *b == '\t')
            b++;
        e = b + strcspn(b, " \t\r\n");
    }
    char *r = strndup(b, (size_t)(e - b));
    char *at = r ? strrchr(r, '@') : NULL;
    for (char *p = at; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return r;
}
