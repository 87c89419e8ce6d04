/*
 * http.c - one bounded HTTP transfer with libcurl (see http.h).  Redirects
 * are followed only within the same scheme and host, at most 3; the body is
 * collected into memory and the transfer aborted once it passes max_size.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include "buf.h"
#include "http.h"

struct sink {
    kyso_buf b;
    size_t max;
    int over;
};

/* sink_write - libcurl write callback: append, or stop past the limit. */
static size_t sink_write(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;
    if (s->b.len + len > s->max) {
        s->over = 1;
        return 0;
    }
    return buf_append(&s->b, p, len) == 0 ? len : 0;
}

/* same_origin - do URL A and B have the same scheme and host? */
static int same_origin(const char *a, const char *b)
{
    const char *ha = strstr(a, "://"), *hb = strstr(b, "://");
    if (!ha || !hb || (ha - a) != (hb - b) || strncasecmp(a, b, (size_t)(ha - a)) != 0)
        return 0;
    ha += 3;
    hb += 3;
    size_t la = strcspn(ha, "/?#"), lb = strcspn(hb, "/?#");
    return la == lb && strncasecmp(ha, hb, la) == 0;
}

/* http_setup - the options of one transfer. */
static void http_setup(CURL *c, const http_req *r, struct sink *s, struct curl_slist **hdrs)
{
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kyso-milter");
    if (r->max_size <= (size_t)LONG_MAX)
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)r->max_size);
    if (r->body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)r->body_len);
        if (r->content_type) {
            char h[200];
            snprintf(h, sizeof h, "Content-Type: %s", r->content_type);
            *hdrs = curl_slist_append(*hdrs, h);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
        }
    }
}

static pthread_once_t http_once = PTHREAD_ONCE_INIT;

/* http_global_init - libcurl's process-wide set-up, which is not
 * thread-safe by itself: done once, whichever thread comes first. */
static void http_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* http_now_ms - a monotonic clock in milliseconds. */
static long long http_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* http_fetch - see http.h.  The time limit covers every hop of the
 * redirects together; a limit of 0 or less is taken as 1 ms (libcurl
 * would read 0 as "no limit"). */
int http_fetch(const http_req *r, unsigned char **out, size_t *outlen,
               char *ctype, size_t ctypelen, char *err, size_t errlen)
{
    pthread_once(&http_once, http_global_init);
    http_req cur = *r;
    long long deadline = http_now_ms() + (r->timeout_ms > 0 ? r->timeout_ms : 1);
    char url[2048];
    *out = NULL;
    if (ctype && ctypelen)
        ctype[0] = '\0';
    for (int hop = 0; hop < 4; hop++) {
        struct sink s = { { 0 }, r->max_size, 0 };
        struct curl_slist *hdrs = NULL;
        CURL *c;
        if ((cur.timeout_ms = (long)(deadline - http_now_ms())) <= 0) {
            snprintf(err, errlen, "timed out after %ld ms", r->timeout_ms);
            return -1;
        }
        c = curl_easy_init();
        if (c == NULL) {
            snprintf(err, errlen, "cannot start libcurl");
            return -1;
        }
        http_setup(c, &cur, &s, &hdrs);
        CURLcode rc = curl_easy_perform(c);
        long code = 0;
        char *ct = NULL, *loc = NULL;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
        int status = -1, again = 0;
        if (s.over || rc == CURLE_FILESIZE_EXCEEDED)
            snprintf(err, errlen, "answer larger than %zu bytes", r->max_size);
        else if (rc == CURLE_OPERATION_TIMEDOUT)
            snprintf(err, errlen, "timed out after %ld ms", r->timeout_ms);
        else if (rc != CURLE_OK)
            snprintf(err, errlen, "cannot fetch %s: %s", cur.url, curl_easy_strerror(rc));
        else if (code >= 300 && code < 400 && loc && !same_origin(cur.url, loc))
            snprintf(err, errlen, "redirect to another host refused (%s)", loc);
        else if (code >= 300 && code < 400 && loc && hop < 3)
            again = snprintf(url, sizeof url, "%s", loc) < (int)sizeof url;
        else if (code != 200)
            snprintf(err, errlen, "HTTP %ld from %s", code, cur.url);
        else
            status = 0;
        if (status == 0 && ctype && ctypelen)
            snprintf(ctype, ctypelen, "%s", ct ? ct : "");
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(c);
        if (again) {
            buf_free(&s.b);
            cur.url = url;
            continue;
        }
        if (status == 0) {
            *outlen = s.b.len;
            *out = (unsigned char *)buf_steal(&s.b);
            if (*out == NULL && *outlen == 0)
                *out = calloc(1, 1);
            if (*out == NULL) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            return 0;
        }
        buf_free(&s.b);
        return -1;
    }
    snprintf(err, errlen, "too many redirects");
    return -1;
}
