/*
 * nullmilter.c - the mail-path benchmark's floor: a milter that takes the
 * whole message and does nothing with it.  It negotiates the same protocol
 * steps as kyso-milter (no HELO, no unknown commands, no replies to headers
 * or body chunks), reads every header and body chunk Postfix sends, adds
 * one header at end of message (as kyso-milter adds Authentication-Results)
 * and accepts.  What Postfix with this milter loses against no milter is
 * what handing the message to any milter that reads it costs, before the
 * milter does any work of its own.
 *
 * With -r it also keeps the body and gives it back unchanged with
 * smfi_replacebody at end of message: the floor of a milter that rewrites
 * the body (bench/sign compares kyso-milter's signing with it).
 *
 * Usage: nullmilter [-r] SOCKET   (a libmilter socket spec: local:/tmp/s)
 * Runs in the foreground until SIGTERM; exits 1 when the socket cannot be
 * set up.  Benchmark scaffolding only: never installed.
 */
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int replace_body;        /* -r */

/* The body kept for -r, per message. */
struct body {
    unsigned char *p;
    size_t len, cap;
};

static sfsistat null_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                               unsigned long f2, unsigned long f3, unsigned long *pf0,
                               unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    (void)ctx, (void)f2, (void)f3;
    *pf0 = f0 & (SMFIF_ADDHDRS | (replace_body ? SMFIF_CHGBODY : 0));
    *pf1 = f1 & (SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NR_HDR | SMFIP_NR_BODY |
                 SMFIP_HDR_LEADSPC);
    *pf2 = *pf3 = 0;
    return SMFIS_CONTINUE;
}

static sfsistat null_header(SMFICTX *ctx, char *name, char *value)
{
    (void)ctx, (void)name, (void)value;
    return SMFIS_CONTINUE;
}

/* null_body - nothing, or with -r append CHUNK to the message's body
 * (tempfail when out of memory). */
static sfsistat null_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    if (!replace_body)
        return SMFIS_CONTINUE;
    struct body *b = smfi_getpriv(ctx);
    if (b == NULL && (b = calloc(1, sizeof *b)) == NULL)
        return SMFIS_TEMPFAIL;
    smfi_setpriv(ctx, b);
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 20;
        while (cap < b->len + len)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (p == NULL)
            return SMFIS_TEMPFAIL;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, chunk, len);
    b->len += len;
    return SMFIS_CONTINUE;
}

/* null_free - release the body kept for -r. */
static void null_free(SMFICTX *ctx)
{
    struct body *b = smfi_getpriv(ctx);
    if (b) {
        free(b->p);
        free(b);
        smfi_setpriv(ctx, NULL);
    }
}

static sfsistat null_eom(SMFICTX *ctx)
{
    struct body *b = smfi_getpriv(ctx);
    sfsistat rc = SMFIS_ACCEPT;
    smfi_addheader(ctx, "Authentication-Results", " mx.null.test; none");
    if (b && b->len && smfi_replacebody(ctx, b->p, (int)b->len) != MI_SUCCESS)
        rc = SMFIS_TEMPFAIL;
    null_free(ctx);
    return rc;
}

static sfsistat null_abort(SMFICTX *ctx)
{
    null_free(ctx);
    return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
    struct smfiDesc d = {
        .xxfi_name = "nullmilter",
        .xxfi_version = SMFI_VERSION,
        .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGBODY,
        .xxfi_header = null_header,
        .xxfi_body = null_body,
        .xxfi_eom = null_eom,
        .xxfi_abort = null_abort,
        .xxfi_close = null_abort,
        .xxfi_negotiate = null_negotiate,
    };
    replace_body = argc == 3 && strcmp(argv[1], "-r") == 0;
    if (argc != 2 + replace_body) {
        fprintf(stderr, "usage: nullmilter [-r] SOCKET\n");
        return 64;
    }
    argv += replace_body;
    umask(0);                   /* Postfix's smtpd, not root, connects */
    if (smfi_setconn(argv[1]) != MI_SUCCESS || smfi_register(d) != MI_SUCCESS ||
        smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "nullmilter: cannot listen on %s\n", argv[1]);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
