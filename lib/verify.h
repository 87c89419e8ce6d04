/*
 * verify.h - the entry points of the verification engine: one document (a
 * PDF, a .p7s with its content, a .p7m) or a whole message, to a
 * kyso_doc_result.  Dispatches on sniff_kind(); never prints.
 */
#ifndef KYSO_VERIFY_H
#define KYSO_VERIFY_H

#include <stddef.h>
#include "result.h"
#include "verifier.h"

/* verify_buffer - verify one document held in BUF.  NAME and CTYPE help
 * sniffing (may be NULL).  DETACHED_CONTENT, when not NULL, is the content
 * a .p7s signs.  Fills OUT (zeroed first) and returns OUT->reason.  Never
 * fails without a reason: out of memory is REASON_INTERNAL_ERROR.  With
 * v->cache, a PDF or CMS document already checked is answered from the
 * cache (see vcache.h). */
kyso_reason verify_buffer(const kyso_verifier *v, const unsigned char *buf,
                          size_t len, const char *name, const char *ctype,
                          const unsigned char *detached_content,
                          size_t detached_len, kyso_doc_result *out);

/* verify_file - read PATH (bounded by v->lim) and verify it like
 * verify_buffer; a .p7s is checked against PATH without ".p7s", or against
 * CONTENT_PATH when given.  Returns OUT->reason, or -1 with err filled on
 * an I/O error (OUT is then empty). */
int verify_file(const kyso_verifier *v, const char *path,
                const char *content_path, kyso_doc_result *out,
                char *err, size_t errlen);

/* pdf_sig_verify - lib/pdf-sig.c: every signature of the PDF in BUF. */
kyso_reason pdf_sig_verify(const kyso_verifier *v, const unsigned char *buf,
                           size_t len, kyso_doc_result *out);

/* msg_verify - lib/msg-verify.c: a whole RFC 5322 message: S/MIME
 * (multipart/signed, application/pkcs7-mime signed-data, signer address
 * against From) and every document attachment, each as an entry of
 * out->atts (found by mime walk, verified with verify_buffer). out->kind is
 * KIND_MESSAGE; out->sigs holds the S/MIME signature, if any. */
kyso_reason msg_verify(const kyso_verifier *v, const unsigned char *buf,
                       size_t len, kyso_doc_result *out);

#endif
