/*
 * reply.h - the texts the client and the mail reader see: the SMTP reply
 * of a refusal (ASCII: Vietnamese without diacritics, then English), and
 * the values of the X-Kyso-Document and Authentication-Results headers.
 */
#ifndef KYSO_REPLY_H
#define KYSO_REPLY_H

#include <stddef.h>
#include "config.h"
#include "decision.h"
#include "result.h"

#define REPLY_LINE 400

typedef struct kyso_reply {
    const char *code;               /* "550", "451" */
    const char *xcode;              /* "5.7.1", ... */
    char vi[REPLY_LINE];            /* line 1, Vietnamese without diacritics */
    char en[REPLY_LINE];            /* line 2, English */
} kyso_reply;

/* reply_build - the reply for a reject or tempfail because of REASON,
 * naming the document DOCNAME (NULL: the message as a whole) and REF. */
void reply_build(kyso_reply *r, kyso_action action, kyso_reason reason, const char *docname,
                 const char *ref);

/* reply_ascii - UTF-8 IN folded to printable ASCII in OUT (Vietnamese
 * letters lose their diacritics, "đ" is "d", anything else is '?'; '%',
 * '"' and '\\' become '?' too, so the result is safe in an SMTP reply and
 * in a quoted header parameter).  At most LEN-1 bytes.  Returns OUT. */
char *reply_ascii(const char *in, char *out, size_t len);

/* reply_doc_header - the X-Kyso-Document value for DD (name, type,
 * required, verdict, reason, then per signature: signer, class, result,
 * numbered from the second on) with REF; malloc'd, NULL on failure. */
char *reply_doc_header(const kyso_doc_decision *dd, const char *ref);

/* reply_ar_header - the Authentication-Results value: AUTHSERV, the
 * documents' result (x-kyso) and, when the message carries S/MIME, the
 * smime method of RFC 7281.  malloc'd, NULL on failure. */
char *reply_ar_header(const char *authserv, const kyso_doc_result *msg,
                      const kyso_doc_decision *docs, size_t ndocs);

#endif
