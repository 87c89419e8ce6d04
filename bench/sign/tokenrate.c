/*
 * tokenrate.c - the raw signing rate of a key on a PKCS#11 token, measured
 * the way kyso's signer thread signs (lib/token.c): libp11 loads the
 * module, finds the token by label, logs in once, takes the private key by
 * its CKA_ID, then EVP_DigestSign (SHA-256, RSA PKCS#1 v1.5) of a
 * TBS-sized buffer N times in one process, so process start-up and the
 * login are outside the per-signature figure.
 *
 *   tokenrate MODULE TOKEN-LABEL PIN KEY-ID-HEX N [TBS-BYTES]
 *
 * Prints one line: "login_ms=L sign_ms=S" (S: wall time per signature,
 * the mean over N after one untimed signature).  Exit 0, or 1 with the
 * reason on stderr.  Built by bench/sign/run.sh:
 *   gcc -O2 tokenrate.c $(pkg-config --cflags --libs libp11 libcrypto)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libp11.h>
#include <openssl/err.h>
#include <openssl/evp.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what)
{
    fprintf(stderr, "tokenrate: %s\n", what);
    ERR_print_errors_fp(stderr);
    return 1;
}

/* sign_once - one EVP_DigestSign of TBS with KEY, as token_pkey_sign does. */
static int sign_once(EVP_PKEY *key, const unsigned char *tbs, size_t len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sig[1024];
    size_t n = sizeof sig;
    int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(md, sig, &n, tbs, len) == 1;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: tokenrate MODULE TOKEN-LABEL PIN KEY-ID-HEX N [TBS-BYTES]\n");
        return 64;
    }
    const char *module = argv[1], *label = argv[2], *pin = argv[3], *idhex = argv[4];
    int n = atoi(argv[5]);
    size_t tbslen = argc > 6 ? (size_t)atol(argv[6]) : 120;  /* signed attributes */
    unsigned char id[64];
    size_t idlen = strlen(idhex) / 2;
    if (n < 1 || idlen == 0 || idlen > sizeof id)
        return fail("bad N or key id");
    for (size_t i = 0; i < idlen; i++)
        sscanf(idhex + 2 * i, "%2hhx", &id[i]);

    double t0 = now();
    PKCS11_CTX *ctx = PKCS11_CTX_new();
    PKCS11_SLOT *slots = NULL, *slot = NULL;
    unsigned int nslots = 0, nkeys = 0;
    PKCS11_KEY *keys = NULL;
    if (ctx == NULL || PKCS11_CTX_load(ctx, module) < 0)
        return fail("cannot load the module");
    if (PKCS11_enumerate_slots(ctx, &slots, &nslots) < 0)
        return fail("cannot list slots");
    for (unsigned int i = 0; i < nslots && slot == NULL; i++)
        if (slots[i].token && strcmp(slots[i].token->label, label) == 0)
            slot = &slots[i];
    if (slot == NULL)
        return fail("no token with that label");
    PKCS11_open_session(slot, 0);
    if (PKCS11_login(slot, 0, pin) != 0)
        return fail("login refused");
    if (PKCS11_enumerate_keys(slot->token, &keys, &nkeys) < 0)
        return fail("cannot list keys");
    EVP_PKEY *key = NULL;
    for (unsigned int i = 0; i < nkeys && key == NULL; i++)
        if (keys[i].id_len == idlen && memcmp(keys[i].id, id, idlen) == 0)
            key = PKCS11_get_private_key(&keys[i]);
    if (key == NULL)
        return fail("no private key with that id");
    double t1 = now();

    unsigned char *tbs = malloc(tbslen);
    if (tbs == NULL)
        return fail("out of memory");
    memset(tbs, 0x31, tbslen);
    if (sign_once(key, tbs, tbslen) != 0)       /* warm-up */
        return fail("signing failed");
    double t2 = now();
    for (int i = 0; i < n; i++) {
        tbs[i % tbslen] ^= 1;                   /* a different TBS each time */
        if (sign_once(key, tbs, tbslen) != 0)
            return fail("signing failed");
    }
    double t3 = now();
    printf("login_ms=%.3f sign_ms=%.4f\n", (t1 - t0) * 1e3, (t3 - t2) * 1e3 / n);
    free(tbs);
    EVP_PKEY_free(key);
    PKCS11_logout(slot);
    PKCS11_release_all_slots(ctx, slots, nslots);
    PKCS11_CTX_unload(ctx);
    PKCS11_CTX_free(ctx);
    return 0;
}
