/*
 * config-fp.c - the configuration fingerprint (see config-fp.h): SHA-256
 * over a version line, the verifier's public settings written out field
 * by field (never raw struct bytes), the CertificateClass lines of the
 * configuration file, and for each trust key (TrustAnchors, Intermediates,
 * CRLs) the sorted SHA-256 digests of its files.  Reads files, never
 * writes; never prints.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include "config-fp.h"

#define FP_MAX_FILES 4096       /* files of one trust folder taken into account */

/* fp_file - the SHA-256 of the file at PATH into OUT.  0, or -1. */
static int fp_file(const char *path, unsigned char out[32])
{
    FILE *f = fopen(path, "rb");
    unsigned char buf[16384];
    size_t n;
    if (f == NULL)
        return -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
        ok = EVP_DigestUpdate(md, buf, n);
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
    fclose(f);
    return ok ? 0 : -1;
}

/* fp_cmp - qsort order of 32-byte digests. */
static int fp_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* fp_folder - the digests of the regular files of DIR into *D (malloc'd),
 * *N of them.  0, or -1. */
static int fp_folder(const char *dir, unsigned char (**d)[32], size_t *n)
{
    DIR *dp = opendir(dir);
    struct dirent *de;
    char path[4096];
    struct stat st;
    *n = 0;
    if (dp == NULL || (*d = calloc(FP_MAX_FILES, 32)) == NULL) {
        if (dp)
            closedir(dp);
        return -1;
    }
    int rc = 0;
    while (rc == 0 && *n < FP_MAX_FILES && (de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = fp_file(path, (*d)[(*n)++]);
    }
    closedir(dp);
    return rc;
}

/* fp_trust - the trust key TAG at PATH (file or folder, NULL: none) into
 * MD.  0, or -1 with err. */
static int fp_trust(EVP_MD_CTX *md, const char *tag, const char *path, char *err,
                    size_t errlen)
{
    unsigned char (*d)[32] = NULL;
    size_t n = 0;
    struct stat st;
    int rc = 0;
    EVP_DigestUpdate(md, tag, strlen(tag) + 1);
    if (path == NULL)
        return 0;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = fp_folder(path, &d, &n);
    } else if ((d = calloc(1, 32)) != NULL) {
        n = 1;
        rc = fp_file(path, d[0]);
    } else {
        rc = -1;
    }
    if (rc == 0) {
        qsort(d, n, 32, fp_cmp);
        EVP_DigestUpdate(md, d, n * 32);
    } else {
        snprintf(err, errlen, "%s %s: cannot read (%s)", tag, path, strerror(errno));
    }
    free(d);
    return rc;
}

/* fp_class_lines - the CertificateClass lines of the configuration file
 * PATH, blanks squeezed, into MD (their order matters: first match wins).
 * 0, or -1 with err. */
static int fp_class_lines(EVP_MD_CTX *md, const char *path, char *err, size_t errlen)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    char line[4096];
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot read (%s)", path ? path : "(no file)",
                 strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char *w = strtok(line, " \t\r\n");
        if (w == NULL || strcasecmp(w, "CertificateClass") != 0)
            continue;
        for (; w != NULL; w = strtok(NULL, " \t\r\n"))
            EVP_DigestUpdate(md, w, strlen(w) + 1);
        EVP_DigestUpdate(md, "\n", 1);
    }
    fclose(f);
    return 0;
}

/* fp_settings - the verifier's settings as text into MD. */
static void fp_settings(EVP_MD_CTX *md, const kyso_config *c, const kyso_verifier *v)
{
    char s[512];
    const kyso_limits *l = &v->lim;
    int n = snprintf(s, sizeof s, "kyso-fp 1 %s|%zu %zu %zu %zu %zu %zu %zu %zu %zu|%d %d %d|"
                     "%d %d|%lld\n", PACKAGE_VERSION, l->max_doc_size, l->max_message_size,
                     l->max_parts, l->max_depth, l->max_pdf_objects, l->max_signatures,
                     l->max_cms_size, l->max_cms_certs, l->max_pdf_nesting,
                     v->algo.min_rsa_bits, v->algo.min_ec_bits, v->algo.allow_sha1,
                     (int)v->rev_missing, (int)c->revcheck, (long long)v->at);
    EVP_DigestUpdate(md, s, (size_t)n < sizeof s ? (size_t)n : sizeof s - 1);
}

int config_fp(const kyso_config *c, const kyso_verifier *v, char hex[CONFIG_FP_HEX],
              char *err, size_t errlen)
{
    unsigned char d[32];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) ? 0 : -1;
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    if (rc == 0) {
        fp_settings(md, c, v);
        rc = fp_class_lines(md, c->path, err, errlen);
    }
    if (rc == 0)
        rc = fp_trust(md, "TrustAnchors", c->trust_anchors, err, errlen);
    if (rc == 0)
        rc = fp_trust(md, "Intermediates", c->intermediates, err, errlen);
    if (rc == 0)
        rc = fp_trust(md, "CRLs", c->crls, err, errlen);
    if (rc == 0 && !EVP_DigestFinal_ex(md, d, NULL)) {
        snprintf(err, errlen, "SHA-256 failed");
        rc = -1;
    }
    EVP_MD_CTX_free(md);
    for (size_t i = 0; rc == 0 && i < sizeof d; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return rc;
}
