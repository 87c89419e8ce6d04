/*
 * floor.c - the floor the issue sets for signing one document: SHA-256 of
 * the document and base64 of the result (as a mail part carries it: MIME
 * base64, 76 characters a line, CRLF), with OpenSSL's SHA-256 (the code
 * kyso uses).  Both files are read into memory once; the figures are pure
 * computation, the mean over N rounds after one untimed round.
 *
 *   floor N DOCUMENT [RESULT]
 *
 * RESULT (default DOCUMENT) is what is base64-encoded: the signed file.
 * Prints "sha256_ms=A base64_ms=B floor_ms=A+B".  Exit 0, or 1 with the
 * reason on stderr.  Built by bench/sign/run.sh:
 *   gcc -O2 floor.c $(pkg-config --cflags --libs libcrypto)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* slurp - the whole of PATH, malloc'd, its length in *n; NULL on error. */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *p = NULL;
    long len;
    if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (p = malloc((size_t)len)) != NULL && fread(p, 1, (size_t)len, f) == (size_t)len) {
        *n = (size_t)len;
    } else {
        free(p);
        p = NULL;
    }
    if (f)
        fclose(f);
    return p;
}

/* b64_mime - P base64-encoded into OUT in 76-character CRLF lines, as a
 * MIME encoder writes it (OpenSSL's encoder, 57 input bytes a line).
 * Returns the length written. */
static size_t b64_mime(const unsigned char *p, size_t n, unsigned char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 57) {
        size_t k = n - i < 57 ? n - i : 57;
        o += (size_t)EVP_EncodeBlock(out + o, p + i, (int)k);
        out[o++] = '\r';
        out[o++] = '\n';
    }
    return o;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: floor N DOCUMENT [RESULT]\n");
        return 64;
    }
    int n = atoi(argv[1]);
    size_t dlen = 0, rlen = 0;
    unsigned char *doc = slurp(argv[2], &dlen);
    unsigned char *res = argc > 3 ? slurp(argv[3], &rlen) : doc;
    if (argc <= 3)
        rlen = dlen;
    unsigned char *out = res ? malloc(rlen / 57 * 78 + 100) : NULL;
    if (n < 1 || doc == NULL || res == NULL || out == NULL) {
        fprintf(stderr, "floor: cannot read the files (or bad N)\n");
        return 1;
    }
    unsigned char md[32];
    volatile unsigned sink = 0;
    EVP_Digest(doc, dlen, md, NULL, EVP_sha256(), NULL);      /* warm-up */
    sink += (unsigned)b64_mime(res, rlen, out);
    double t0 = now();
    for (int i = 0; i < n; i++) {
        EVP_Digest(doc, dlen, md, NULL, EVP_sha256(), NULL);
        sink += md[0];
    }
    double t1 = now();
    for (int i = 0; i < n; i++)
        sink += (unsigned)b64_mime(res, rlen, out);
    double t2 = now();
    double a = (t1 - t0) * 1e3 / n, b = (t2 - t1) * 1e3 / n;
    printf("sha256_ms=%.3f base64_ms=%.3f floor_ms=%.3f\n", a, b, a + b);
    free(out);
    if (res != doc)
        free(res);
    free(doc);
    return sink == 0xdeadbeef;
}
