/*
 * callbacks.c - the libmilter callbacks, kept thin: they move addresses,
 * macros, headers and body bytes into the connection and message contexts
 * (msgctx.c) and leave every decision to eom.c.  Out of memory anywhere is
 * a tempfail: the MTA tries again, nothing passes unchecked.
 */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "callbacks.h"
#include "eom.h"
#include "logmsg.h"
#include "msgctx.h"

/* conn_of - the connection context of CTX. */
static kyso_conn *conn_of(SMFICTX *ctx)
{
    return smfi_getpriv(ctx);
}

/* msg_end - forget the message in progress on C. */
static void msg_end(kyso_conn *c)
{
    msg_free(c->msg);
    c->msg = NULL;
}

static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                             unsigned long f2, unsigned long f3, unsigned long *pf0,
                             unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    (void)f2; (void)f3;
    unsigned long need = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_SETSYMLIST;
    if ((f0 & need) != need) {
        log_msg(LOG_ERR, "the MTA does not offer header changes and macro lists; "
                         "kyso-milter needs milter protocol 6 (Postfix >= 2.6)");
        return SMFIS_REJECT;
    }
    /* body replacement: only the organisation signature needs it */
    *pf0 = need | (f0 & (SMFIF_QUARANTINE | SMFIF_CHGBODY));
    /* Not SMFIP_NODATA: Postfix then still sends the DATA macros, expects
     * no reply, and its next packet waits on Nagle for our delayed ACK,
     * ~40 ms a message on inet: sockets.  Answering DATA costs nothing. */
    unsigned long want = SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_HDR_LEADSPC |
                         SMFIP_NR_HDR | SMFIP_NR_BODY;
    *pf1 = f1 & want;
    *pf2 = *pf3 = 0;
    kyso_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return SMFIS_TEMPFAIL;
    c->leadspc = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
    c->nr_hdr = (*pf1 & SMFIP_NR_HDR) != 0;
    c->nr_body = (*pf1 & SMFIP_NR_BODY) != 0;
    c->chgbody = (*pf0 & SMFIF_CHGBODY) != 0;
    smfi_setpriv(ctx, c);
    smfi_setsymlist(ctx, SMFIM_CONNECT, "{daemon_name}");
    smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen} {daemon_name}");
    smfi_setsymlist(ctx, SMFIM_EOH, "i");     /* Postfix knows it from DATA on */
    smfi_setsymlist(ctx, SMFIM_EOM, "i");
    return SMFIS_CONTINUE;
}

static sfsistat cb_connect(SMFICTX *ctx, char *host, struct sockaddr *sa)
{
    kyso_conn *c = conn_of(ctx);
    if (c == NULL && (c = calloc(1, sizeof *c)) == NULL)
        return SMFIS_TEMPFAIL;
    char addr[INET6_ADDRSTRLEN] = "";
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr, addr, sizeof addr);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr, addr, sizeof addr);
    c->client_addr = addr[0] ? strdup(addr) : NULL;
    c->client_name = host ? strdup(host) : NULL;
    smfi_setpriv(ctx, c);
    return SMFIS_CONTINUE;
}

/* dup_macro - a copy of macro NAME, or NULL. */
static char *dup_macro(SMFICTX *ctx, const char *name)
{
    const char *v = smfi_getsymval(ctx, (char *)name);
    return v && *v ? strdup(v) : NULL;
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
    kyso_conn *c = conn_of(ctx);
    if (c == NULL)
        return SMFIS_TEMPFAIL;
    msg_end(c);
    if ((c->msg = msg_new()) == NULL || (c->msg->sender = msg_strip_addr(argv[0])) == NULL) {
        msg_end(c);
        return SMFIS_TEMPFAIL;
    }
    c->msg->queue_id = dup_macro(ctx, "i");
    c->msg->auth_user = dup_macro(ctx, "{auth_authen}");
    c->msg->daemon = dup_macro(ctx, "{daemon_name}");
    return SMFIS_CONTINUE;
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
    kyso_conn *c = conn_of(ctx);
    if (c == NULL || c->msg == NULL || msg_add_rcpt(c->msg, argv[0]) < 0)
        return SMFIS_TEMPFAIL;
    return SMFIS_CONTINUE;
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
    kyso_conn *c = conn_of(ctx);
    if (c && c->msg)
        msg_add_header(c->msg, name, value, c->leadspc);
    return c && c->nr_hdr ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
    kyso_conn *c = conn_of(ctx);
    if (c == NULL || c->msg == NULL)
        return SMFIS_TEMPFAIL;
    if (eom_skip_at_eoh(ctx, c, c->msg)) {
        msg_end(c);
        return SMFIS_ACCEPT;
    }
    msg_end_headers(c->msg);
    return SMFIS_CONTINUE;
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
    kyso_conn *c = conn_of(ctx);
    if (c && c->msg)
        msg_add_body(c->msg, data, len);
    return c && c->nr_body ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat cb_eom(SMFICTX *ctx)
{
    kyso_conn *c = conn_of(ctx);
    if (c == NULL || c->msg == NULL)
        return SMFIS_TEMPFAIL;
    sfsistat rc = eom_run(ctx, c, c->msg);
    msg_end(c);
    return rc;
}

static sfsistat cb_abort(SMFICTX *ctx)
{
    kyso_conn *c = conn_of(ctx);
    if (c)
        msg_end(c);
    return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
    kyso_conn *c = conn_of(ctx);
    if (c) {
        msg_end(c);
        free(c->client_addr);
        free(c->client_name);
        free(c);
        smfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

struct smfiDesc *callbacks_descriptor(const char *name)
{
    static struct smfiDesc d = {
        .xxfi_version = SMFI_VERSION,
        .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST |
                      SMFIF_CHGBODY,
        .xxfi_connect = cb_connect,
        .xxfi_envfrom = cb_envfrom,
        .xxfi_envrcpt = cb_envrcpt,
        .xxfi_header = cb_header,
        .xxfi_eoh = cb_eoh,
        .xxfi_body = cb_body,
        .xxfi_eom = cb_eom,
        .xxfi_abort = cb_abort,
        .xxfi_close = cb_close,
        .xxfi_negotiate = cb_negotiate,
    };
    d.xxfi_name = (char *)name;
    return &d;
}
