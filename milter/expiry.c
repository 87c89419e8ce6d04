/*
 * expiry.c - the certificate expiry warning (see expiry.h).  Whom to tell:
 * the SignerTable From addresses of the key that name one mailbox (not
 * "*@domain" patterns), and the postmaster (NoticeContact when it is an
 * address, else NoticeFrom).  The last day each key was announced is kept
 * in memory, so that reloads do not repeat the notice the same day.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include "expiry.h"
#include "logmsg.h"
#include "notice.h"

#define EXPIRY_MEMORY 64        /* keys remembered; more are simply told again */

static pthread_mutex_t expiry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { char name[64]; long day; } expiry_told[EXPIRY_MEMORY];

/* told_today - 1 when KEY was announced on DAY already, else remember it
 * and return 0. */
static int told_today(const char *key, long day)
{
    int hit = 0, free_slot = -1;
    pthread_mutex_lock(&expiry_lock);
    for (int i = 0; i < EXPIRY_MEMORY && !hit; i++) {
        if (strcmp(expiry_told[i].name, key) == 0) {
            hit = expiry_told[i].day == day;
            expiry_told[i].day = day;
            free_slot = -2;
        } else if (expiry_told[i].name[0] == '\0' && free_slot == -1) {
            free_slot = i;
        }
    }
    if (free_slot >= 0) {
        snprintf(expiry_told[free_slot].name, sizeof expiry_told[0].name, "%s", key);
        expiry_told[free_slot].day = day;
    }
    pthread_mutex_unlock(&expiry_lock);
    return hit;
}

/* tell - send the notice N to TO. */
static void tell(const kyso_config *cfg, kyso_expiry_notice *n, const char *to)
{
    char err[200];
    size_t len;
    n->to = to;
    char *msg = notice_compose_expiry(n, &len);
    if (msg == NULL || notice_send(cfg->mta_command, to, msg, len, 30, err, sizeof err) != 0)
        log_msg(LOG_ERR, "certificate expiry notice to <%s> not sent: %s", to,
                msg ? err : "out of memory");
    free(msg);
}

/* tell_key - the warning for key K of G, to its văn thư and the postmaster. */
static void tell_key(kyso_gen *g, const kt_key *k, long days, time_t not_after, time_t now)
{
    const kyso_config *cfg = g->cfg;
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(k->cert), NULL);
    char *serial = bn ? BN_bn2hex(bn) : NULL;
    BN_free(bn);
    kyso_expiry_notice n = { NULL, cfg->notice_from, cfg->node, k->org_name, k->name,
                             cfg->key_table, serial, not_after, days, now };
    const keytable *kt = g->ss->kt;
    for (size_t i = 0; i < kt->nsigners; i++)
        if (kt->signers[i].key == k && kt->signers[i].from[0] != '*')
            tell(cfg, &n, kt->signers[i].from);
    const char *pm = cfg->notice_contact && strchr(cfg->notice_contact, '@') &&
                     !strchr(cfg->notice_contact, ' ') ? cfg->notice_contact : cfg->notice_from;
    tell(cfg, &n, pm);
    OPENSSL_free(serial);
}

void expiry_check(kyso_gen *g, time_t now)
{
    if (g == NULL || g->ss == NULL || g->ss->kt == NULL || g->cfg->cert_expiry_warning == 0)
        return;
    for (size_t i = 0; i < g->ss->kt->nkeys; i++) {
        const kt_key *k = &g->ss->kt->keys[i];
        struct tm tm;
        int days = 0, secs = 0;
        if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(k->cert)) ||
            !ASN1_TIME_to_tm(X509_get0_notAfter(k->cert), &tm))
            continue;
        if (days > (int)g->cfg->cert_expiry_warning)
            continue;
        time_t not_after = timegm(&tm);
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
        log_msg(LOG_WARNING, "KeyTable %s key %s: the certificate %s on %s (%d days): renew it "
                "with the CA, then update cert= and reload", g->cfg->key_table, k->name,
                days < 0 || (days == 0 && secs < 0) ? "expired" : "expires", when, days);
        if (!told_today(k->name, (long)(now / 86400)))
            tell_key(g, k, days, not_after, now);
    }
}
