/*
 * smime-sign.h - the organisation's S/MIME signature over a whole message
 * (RFC 8551 3.5, RFC 1847): the message's MIME entity (its Content-*
 * header fields and its body) becomes the first part of a
 * multipart/signed, in canonical CRLF form, and a detached SignedData
 * made with cms_sign_detached (CMSS_SMIME) over exactly those bytes the
 * second, application/pkcs7-signature part.  Because a milter can only
 * edit header fields one by one and replace the body, the result is a
 * list of header edits plus the new body.  Never prints; thread-safe.
 */
#ifndef KYSO_SMIME_SIGN_H
#define KYSO_SMIME_SIGN_H

#include <stddef.h>
#include "cms-sign.h"

/* The message cannot be signed as it is (malformed header, bare CR,
 * binary content, ...): the reason for the sender is in ERR.  The other
 * failures are TOKEN_* codes (token.h): the signing function's, or
 * TOKEN_ECONFIG for an OpenSSL failure or out of memory. */
#define SMIME_EREFUSED  (-11)

/* Bounds: larger or deeper messages are refused. */
#define SMIME_MAX_INPUT     ((size_t)1 << 30)   /* bytes of the message */
#define SMIME_MAX_FIELDS    10000               /* header fields of the message */
#define SMIME_MAX_DEPTH     64                  /* MIME nesting inside the entity */

/*
 * One header edit, in the terms of smfi_chgheader / smfi_addheader:
 * INDEX counts from 1 the fields of that NAME (compared without case) in
 * the original header; VALUE NULL deletes that field, otherwise replaces
 * it; INDEX 0 adds a new field at the end of the header.  VALUE carries
 * no leading space and folds with "\n\t" (no CR), as libmilter wants.
 */
typedef struct smime_hdr_edit {
    char *name;
    int index;
    char *value;
} smime_hdr_edit;

typedef struct smime_output {
    smime_hdr_edit *edits;      /* deletions (highest index first), then changes, adds */
    size_t nedits;
    unsigned char *body;        /* the new body, CRLF line ends */
    size_t bodylen;
    size_t signed_off;          /* where the signed entity lies in BODY */
    size_t signed_len;
    int reencoded;              /* parts converted to quoted-printable or base64 */
} smime_output;

/*
 * smime_sign_message - sign MSG (LEN bytes: a whole RFC 5322 message,
 * header, blank line, body; CRLF or LF line ends) with S.  Every
 * "Content-*" field moves from the top into the signed part, in its order
 * and folding kept; the other fields (From, To, Subject, MIME-Version,
 * Received, ...) stay on top, and MIME-Version: 1.0 is added when
 * missing.  A message without Content-Type gets an explicit
 * "text/plain; charset=us-ascii" (RFC 2045 5.2) in the signed part.
 *
 * The signed part must survive relays without 8BITMIME (RFC 8551 3.1.2):
 * every leaf labelled 8bit, and every 7bit (or unlabelled) leaf that
 * holds 8-bit bytes, NULs or lines over 998 bytes, is re-encoded to
 * quoted-printable (with GMime; hard line breaks kept, so the decoded
 * content is the same); base64 or quoted-printable leaves with over-long
 * lines are re-encoded in their own encoding; multipart and message
 * containers labelled 8bit become 7bit.  Refused (SMIME_EREFUSED):
 * binary or uuencoded content that would need it, 8-bit bytes inside a
 * base64/quoted-printable part, re-encoding needed inside an already
 * signed or encrypted part, bare CRs, header lines over 998 bytes,
 * duplicate Content-Type / Content-Transfer-Encoding /
 * Content-Disposition, no blank line after the header, empty input, input
 * over SMIME_MAX_INPUT, and a signed part still holding a NUL or an
 * over-long line.  8-bit bytes in header fields of the signed part (RFC
 * 6532) are kept as they are.
 *
 * On TOKEN_OK (0) OUT holds the edits and the body (free with
 * smime_output_free); on failure OUT is empty and ERR says why.
 */
int smime_sign_message(const cms_signer *s, const unsigned char *msg, size_t len,
                       smime_output *out, char *err, size_t errlen);

/*
 * smime_apply - the whole new message: MSG's header with O's edits done
 * the way an MTA does them (kept fields byte for byte, CRLF), a blank
 * line, then O's body.  For tests and re-verification.  Returns 0 with
 * *res (malloc'd) and *reslen, SMIME_EREFUSED when MSG's header does not
 * parse, TOKEN_ECONFIG when out of memory; ERR says why.
 */
int smime_apply(const unsigned char *msg, size_t len, const smime_output *o,
                unsigned char **res, size_t *reslen, char *err, size_t errlen);

/* smime_output_free - release what O holds; O is zeroed. */
void smime_output_free(smime_output *o);

#endif
