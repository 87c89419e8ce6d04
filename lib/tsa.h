/*
 * tsa.h - RFC 3161 time-stamping client: ask a time-stamping authority for
 * a TimeStampToken over some bytes (for us: the signature value, PAdES
 * B-T) and accept the answer only when it verifies.  Bounded in time and
 * size (http.h).  Thread-safe; never prints.
 */
#ifndef KYSO_TSA_H
#define KYSO_TSA_H

#include <stddef.h>

struct kyso_verifier;

#define TSA_TIMEOUT_MS  10000       /* default whole-transfer limit */
#define TSA_MAX_ANSWER  65536       /* default size limit of the answer */
#define TSA_TOKEN_MAX   16384       /* a token larger than this is refused: it
                                     * must fit the room reserved in a PDF */
#define TSA_MAX_SKEW    600         /* seconds genTime may be away from our clock */

typedef struct tsa_conf {
    const char *url;                /* http:// or https:// */
    long timeout_ms;                /* 0: TSA_TIMEOUT_MS */
    size_t max_size;                /* 0: TSA_MAX_ANSWER */
    const struct kyso_verifier *v;  /* anchors the TSA certificate must chain to */
} tsa_conf;

/*
 * tsa_stamp - a TimeStampToken (DER ContentInfo) over the SHA-256 of LEN
 * bytes of DATA from the TSA of C: TimeStampReq v1 with a SHA-256 imprint,
 * a 64-bit random nonce and certReq true, POSTed as
 * application/timestamp-query.  The answer must be a TimeStampResp with
 * status granted (or grantedWithMods), the same nonce and imprint, a
 * genTime within TSA_MAX_SKEW of our clock, at most TSA_TOKEN_MAX bytes of
 * token, and a token that cms_verify_timestamp accepts under C->v (TSA
 * certificate chained to an anchor with the critical timeStamping EKU).
 * Returns 0 with *token (malloc'd) and *toklen, or -1 with one line in
 * ERR naming the TSA and what went wrong (timed out, too large, HTTP
 * status, refused with its status text, does not verify); *token is NULL
 * then.
 */
int tsa_stamp(const tsa_conf *c, const unsigned char *data, size_t len,
              unsigned char **token, size_t *toklen, char *err, size_t errlen);

#endif
