/*
 * http.h - bounded HTTP for revocation and time-stamping (libcurl): one
 * GET or POST, with a time limit, a size limit, no redirects to another
 * host, http and https only.  Thread-safe (one easy handle per call).
 * Never prints.
 */
#ifndef KYSO_HTTP_H
#define KYSO_HTTP_H

#include <stddef.h>

typedef struct http_req {
    const char *url;            /* http:// or https:// */
    const char *content_type;   /* POST body type ("application/ocsp-request"), or NULL */
    const unsigned char *body;  /* POST body, or NULL for GET */
    size_t body_len;
    long timeout_ms;            /* whole transfer, connection included */
    size_t max_size;            /* larger answers are cut off and refused */
} http_req;

/*
 * http_fetch - perform R.  On success (HTTP 200) returns 0 with the answer
 * in *out (malloc'd, caller frees) and *outlen, and its Content-Type (or
 * "") in CTYPE.  Otherwise -1 with one line in ERR: "timed out after N ms",
 * "answer larger than N bytes", "HTTP 404", "redirect to another host",
 * "cannot connect: ...".
 */
int http_fetch(const http_req *r, unsigned char **out, size_t *outlen,
               char *ctype, size_t ctypelen, char *err, size_t errlen);

#endif
