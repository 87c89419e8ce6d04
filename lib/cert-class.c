/*
 * cert-class.c - which kind of holder a certificate names (organisation,
 * personal, unknown) and the signer details we report about it.
 *
 * Rules: those added with class_rules_add first, in order; then the
 * Government CA defaults: subject UID "MST:" (tax code) -> organisation,
 * "CMND:" or "CCCD:" (identity numbers) -> personal; then CN equal to O
 * with no e-mail address in the certificate -> organisation; else unknown.
 *
 * Must never: print, or decide trust (a class says nothing about validity).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert-class.h"
#include "trust.h"

enum { FIELD_UID, FIELD_CN, FIELD_O, FIELD_OU, FIELD_SERIAL, FIELD_EMAIL };

typedef struct class_rule {
    int field;
    char *prefix;
    kyso_cert_class cls;
} class_rule;

struct kyso_class_rules {
    class_rule *v;
    size_t n;
};

static const struct { const char *name; int field; int nid; } class_fields[] = {
    { "uid", FIELD_UID, NID_userId },
    { "cn", FIELD_CN, NID_commonName },
    { "o", FIELD_O, NID_organizationName },
    { "ou", FIELD_OU, NID_organizationalUnitName },
    { "serialNumber", FIELD_SERIAL, NID_serialNumber },
    { "email", FIELD_EMAIL, NID_pkcs9_emailAddress },
};

/* class_rules_default - see cert-class.h (no extra rules yet). */
kyso_class_rules *class_rules_default(void)
{
    return calloc(1, sizeof(kyso_class_rules));
}

/* class_rules_add - see cert-class.h; FIELD and CLASS are case-insensitive,
 * PREFIX must not be empty.  R is unchanged on failure. */
int class_rules_add(kyso_class_rules *r, const char *field, const char *prefix,
                    const char *cls, char *err, size_t errlen)
{
    size_t i;
    class_rule rule, *nv;

    for (i = 0; i < sizeof(class_fields) / sizeof(class_fields[0]); i++)
        if (strcasecmp(field, class_fields[i].name) == 0)
            break;
    if (i == sizeof(class_fields) / sizeof(class_fields[0])) {
        snprintf(err, errlen, "unknown certificate field \"%s\" (uid, cn, o, ou, "
                 "serialNumber, email)", field);
        return -1;
    }
    rule.field = class_fields[i].field;
    if (strcasecmp(cls, "organisation") == 0 || strcasecmp(cls, "organization") == 0)
        rule.cls = CLASS_ORGANISATION;
    else if (strcasecmp(cls, "personal") == 0)
        rule.cls = CLASS_PERSONAL;
    else {
        snprintf(err, errlen, "unknown class \"%s\" (organisation, personal)", cls);
        return -1;
    }
    if (prefix == NULL || prefix[0] == '\0') {
        snprintf(err, errlen, "empty prefix");
        return -1;
    }
    if ((rule.prefix = strdup(prefix)) == NULL
        || (nv = realloc(r->v, (r->n + 1) * sizeof(*nv))) == NULL) {
        free(rule.prefix);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->v = nv;
    r->v[r->n++] = rule;
    return 0;
}

/* class_rules_free - releases R; NULL is a no-op. */
void class_rules_free(kyso_class_rules *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->n; i++)
        free(r->v[i].prefix);
    free(r->v);
    free(r);
}

/* class_name_has_prefix - does some NID entry of NAME start with PREFIX
 * (ASCII case-insensitive, compared as UTF-8)?  With EQUAL, the value must
 * equal PREFIX instead. */
static int class_name_has_prefix(const X509_NAME *name, int nid,
                                 const char *prefix, int equal)
{
    int idx = -1, hit = 0, len;
    size_t plen = strlen(prefix);
    unsigned char *u;

    while (!hit && (idx = X509_NAME_get_index_by_NID(name, nid, idx)) >= 0) {
        ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));

        if ((len = ASN1_STRING_to_UTF8(&u, s)) < 0)
            continue;
        hit = equal ? ((size_t)len == plen && memcmp(u, prefix, plen) == 0)
                    : ((size_t)len >= plen && strncasecmp((char *)u, prefix, plen) == 0);
        OPENSSL_free(u);
    }
    return hit;
}

/* class_first_utf8 - the first NID entry of NAME as malloc'd UTF-8, or NULL. */
static char *class_first_utf8(const X509_NAME *name, int nid)
{
    int idx = X509_NAME_get_index_by_NID(name, nid, -1), len;
    unsigned char *u;
    char *s;

    if (idx < 0)
        return NULL;
    len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
    if (len < 0)
        return NULL;
    s = strndup((char *)u, (size_t)len);
    OPENSSL_free(u);
    return s;
}

/* cert_email - the first SAN rfc822Name of CERT, else its subject
 * emailAddress, malloc'd; NULL when none (or out of memory). */
static char *cert_email(X509 *cert)
{
    GENERAL_NAMES *san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    char *s = NULL;
    int i;

    for (i = 0; san != NULL && s == NULL && i < sk_GENERAL_NAME_num(san); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);

        if (g->type == GEN_EMAIL)
            s = strndup((const char *)ASN1_STRING_get0_data(g->d.rfc822Name),
                        (size_t)ASN1_STRING_length(g->d.rfc822Name));
    }
    GENERAL_NAMES_free(san);
    if (s == NULL)
        s = class_first_utf8(X509_get_subject_name(cert), NID_pkcs9_emailAddress);
    return s;
}

/* class_rule_matches - does RULE match CERT? */
static int class_rule_matches(const class_rule *rule, X509 *cert)
{
    size_t i;
    char *email;
    int hit;

    if (rule->field == FIELD_EMAIL) {
        email = cert_email(cert);
        hit = email != NULL && strncasecmp(email, rule->prefix, strlen(rule->prefix)) == 0;
        free(email);
        if (hit)
            return 1;
    }
    for (i = 0; i < sizeof(class_fields) / sizeof(class_fields[0]); i++)
        if (class_fields[i].field == rule->field)
            return class_name_has_prefix(X509_get_subject_name(cert),
                                         class_fields[i].nid, rule->prefix, 0);
    return 0;
}

/* cert_classify - see cert-class.h; CLASS_UNKNOWN for a NULL CERT. */
kyso_cert_class cert_classify(const kyso_class_rules *rules, X509 *cert)
{
    const X509_NAME *subj;
    char *cn, *email;
    size_t i;
    int org;

    if (cert == NULL)
        return CLASS_UNKNOWN;
    for (i = 0; rules != NULL && i < rules->n; i++)
        if (class_rule_matches(&rules->v[i], cert))
            return rules->v[i].cls;
    subj = X509_get_subject_name(cert);
    /* a person's identity number first: the certificate of an agency's
     * employee often carries the agency's tax code (MST) too */
    if (class_name_has_prefix(subj, NID_userId, "CMND:", 0)
        || class_name_has_prefix(subj, NID_userId, "CCCD:", 0))
        return CLASS_PERSONAL;
    if (class_name_has_prefix(subj, NID_userId, "MST:", 0))
        return CLASS_ORGANISATION;
    cn = class_first_utf8(subj, NID_commonName);
    email = cert_email(cert);
    org = cn != NULL && email == NULL
        && class_name_has_prefix(subj, NID_organizationName, cn, 1);
    free(cn);
    free(email);
    return org ? CLASS_ORGANISATION : CLASS_UNKNOWN;
}

/* cert_class_name - "organisation", "personal", "unknown". */
const char *cert_class_name(kyso_cert_class c)
{
    return c == CLASS_ORGANISATION ? "organisation"
        : c == CLASS_PERSONAL ? "personal" : "unknown";
}

/* cert_name_string - NAME as RFC 2253 with UTF-8 kept readable, malloc'd;
 * NULL when out of memory. */
static char *cert_name_string(const X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL, *s = NULL;
    long n;

    if (b == NULL)
        return NULL;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0
        && (n = BIO_get_mem_data(b, &p)) >= 0)
        s = strndup(p != NULL ? p : "", (size_t)n);
    BIO_free(b);
    return s;
}

/* cert_serial_hex - the serial number of CERT in upper-case hex, malloc'd;
 * NULL when out of memory. */
static char *cert_serial_hex(X509 *cert)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *h = bn != NULL ? BN_bn2hex(bn) : NULL, *s;

    BN_free(bn);
    if (h == NULL)
        return NULL;
    s = strdup(h);
    OPENSSL_free(h);
    return s;
}

/* cert_describe - see cert-class.h.  Old strings in S are not freed:
 * S must be empty (zeroed) on entry. */
int cert_describe(const kyso_class_rules *rules, X509 *cert, kyso_signer *s)
{
    if (cert == NULL)
        return -1;
    s->subject = cert_name_string(X509_get_subject_name(cert));
    s->issuer = cert_name_string(X509_get_issuer_name(cert));
    s->serial = cert_serial_hex(cert);
    s->email = cert_email(cert);
    s->cls = cert_classify(rules, cert);
    if (trust_time_of(X509_get0_notBefore(cert), &s->not_before) < 0)
        s->not_before = 0;
    if (trust_time_of(X509_get0_notAfter(cert), &s->not_after) < 0)
        s->not_after = 0;
    return s->subject != NULL && s->issuer != NULL && s->serial != NULL ? 0 : -1;
}
