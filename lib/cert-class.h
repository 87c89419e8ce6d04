/*
 * cert-class.h - which kind of holder a certificate names: organisation,
 * personal, or unknown, by configurable rules (Government CA practice:
 * UID "MST:" tax code for organisations, "CMND:"/"CCCD:" identity numbers
 * for people), and the signer details we report.  Never prints.
 */
#ifndef KYSO_CERT_CLASS_H
#define KYSO_CERT_CLASS_H

#include <stddef.h>
#include <openssl/x509.h>
#include "result.h"

typedef struct kyso_class_rules kyso_class_rules;

/* class_rules_default - the documented default rules, or NULL when out of
 * memory:  UID prefix MST: -> organisation; CMND: or CCCD: -> personal;
 * otherwise CN equal to O with no personal e-mail -> organisation. */
kyso_class_rules *class_rules_default(void);
/* class_rules_add - add a rule "FIELD PREFIX CLASS" (FIELD: uid, cn, o, ou,
 * serialNumber, email; CLASS: organisation | personal), tried before the
 * defaults in the order added.  Returns 0, or -1 with err filled. */
int class_rules_add(kyso_class_rules *r, const char *field, const char *prefix,
                    const char *cls, char *err, size_t errlen);
void class_rules_free(kyso_class_rules *r);

/* cert_classify - the class of CERT under RULES (NULL: defaults). */
kyso_cert_class cert_classify(const kyso_class_rules *rules, X509 *cert);
/* cert_class_name - "organisation", "personal", "unknown". */
const char *cert_class_name(kyso_cert_class c);
/* cert_describe - fill S with subject, issuer, serial, e-mail, class and
 * validity of CERT.  Returns 0, or -1 when out of memory (S then holds
 * whatever was filled; free with result_free_signer). */
int cert_describe(const kyso_class_rules *rules, X509 *cert, kyso_signer *s);

#endif
