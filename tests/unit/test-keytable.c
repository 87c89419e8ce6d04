/*
 * test-keytable.c - the SignerTable and the KeyTable: loading what a key
 * line names (certificate, chain, seal, PIN file), the errors for every
 * kind of bad line ("FILE:LINE: what; fix"), the PIN file rules (mode,
 * owner, symbolic link, size) and keytable_match.  Files are written in a
 * temporary folder removed at the end; certificates come from pki.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keytable.h"
#include "../unit/pki.h"
#include "../unit/tap.h"

static char dir[256];
static char kpath[300], spath[300];     /* keys.table, signers.table */
static char err[1024];

/* A 1x1 transparent PNG. */
static const unsigned char png1[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
    0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f,
    0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60,
    0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x01, 0x7a, 0x5e, 0xab, 0x3f, 0x00, 0x00, 0x00, 0x00,
    0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82
};

/* at - DIR/NAME in one of a few rotating buffers. */
static const char *at(const char *name)
{
    static char bufs[8][300];
    static int i;
    char *b = bufs[i++ % 8];

    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

/* put - write LEN bytes (strlen when LEN is -1) of DATA to DIR/NAME with MODE. */
static void put(const char *name, const void *data, long len, mode_t mode)
{
    const char *path = at(name);
    FILE *f = fopen(path, "wb");

    if (f == NULL)
        pki_die(path);
    fwrite(data, 1, len < 0 ? strlen(data) : (size_t)len, f);
    fclose(f);
    if (chmod(path, mode) < 0)
        pki_die("chmod");
}

/* load - write the two tables (printf-style KEYS, then SIGNERS as given)
 * and load them with DAEMON_UID; err holds the message on failure. */
static keytable *load(uid_t uid, const char *signers, const char *keys, ...)
    __attribute__((format(printf, 3, 4)));
static keytable *load(uid_t uid, const char *signers, const char *keys, ...)
{
    char text[8192];
    va_list ap;

    va_start(ap, keys);
    vsnprintf(text, sizeof text, keys, ap);
    va_end(ap);
    put("keys.table", text, -1, 0644);
    put("signers.table", signers, -1, 0644);
    err[0] = '\0';
    return keytable_load(kpath, spath, uid, err, sizeof err);
}

/* fails - does loading fail with a message holding "FILE:LINE:" and each
 * of the NULL-terminated words?  The message is printed as a TAP comment. */
static int fails(keytable *kt, const char *file, int line, ...)
{
    char where[400];
    const char *w;
    va_list ap;
    int good = kt == NULL;

    keytable_free(kt);
    snprintf(where, sizeof where, "%s:%d: ", file, line);
    good = good && strncmp(err, where, strlen(where)) == 0;
    va_start(ap, line);
    while ((w = va_arg(ap, const char *)) != NULL)
        good = good && strstr(err, w) != NULL;
    va_end(ap);
    printf("# %s\n", err);
    return good;
}

/* The usual key line, printf'd with the folder four times. */
#define GOOD_KEY "org key=pkcs11:token=kyso;object=org cert=%s/org.pem chain=%s/ca.pem " \
    "seal=%s/seal.png pin=file:%s/pin-ok"
#define D4 dir, dir, dir, dir
#define GOOD_SIGNERS "vanthu@sotttt.example.gov.vn vanthu@sotttt.example.gov.vn org\n"

/* make_pki - the CA, the organisation's certificates and the key file. */
static void make_pki(void)
{
    EVP_PKEY *cak = pki_key_ec(), *k = pki_key_ec();
    X509 *ca = pki_cert("CN=Test Root CA/O=Bo TTTT", NULL, NULL, cak, 1, -PKI_DAY,
                        3650 * PKI_DAY, NULL, NULL);
    X509 *org = pki_cert("CN=So TTTT/O=S\xe1\xbb\x9f Th\xc3\xb4ng tin v\xc3\xa0 Truy\xe1\xbb\x81n "
                         "th\xc3\xb4ng", ca, cak, k, 2, -PKI_DAY, 365 * PKI_DAY, NULL, NULL);
    X509 *cn = pki_cert("CN=V\xc4\x83n ph\xc3\xb2ng UBND", ca, cak, k, 3, -PKI_DAY,
                        365 * PKI_DAY, NULL, NULL);
    X509 *old = pki_cert("CN=Old/O=Old Org", ca, cak, k, 4, -400 * PKI_DAY, -30 * PKI_DAY,
                         NULL, NULL);
    X509 *future = pki_cert("CN=New/O=New Org", ca, cak, k, 5, 10 * PKI_DAY, 400 * PKI_DAY,
                            NULL, NULL);
    X509 *anon = pki_cert("serialNumber=123", ca, cak, k, 6, -PKI_DAY, PKI_DAY, NULL, NULL);
    X509 *full[2] = { org, ca };
    FILE *f = fopen(at("org.key"), "w");

    pki_write_certs(at("ca.pem"), &ca, 1);
    pki_write_certs(at("org.pem"), &org, 1);
    pki_write_certs(at("full.pem"), full, 2);
    pki_write_certs(at("cn.pem"), &cn, 1);
    pki_write_certs(at("old.pem"), &old, 1);
    pki_write_certs(at("future.pem"), &future, 1);
    pki_write_certs(at("anon.pem"), &anon, 1);
    if (f == NULL || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL))
        pki_die("org.key");
    fclose(f);
    X509_free(ca), X509_free(org), X509_free(cn), X509_free(old), X509_free(future);
    X509_free(anon);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(k);
}

/* make_files - the seal, a non-PNG, a non-certificate and the PIN files. */
static void make_files(void)
{
    char big[300];

    put("seal.png", png1, sizeof png1, 0644);
    put("seal.gif", "GIF89a\x01\x00\x01\x00", 10, 0644);
    put("notcert.pem", "hello, this is not a certificate\n", -1, 0644);
    put("pin-ok", "123456\n", -1, 0600);
    put("pin-crlf", "2468\r\n", -1, 0400);
    put("pin-644", "123456\n", -1, 0644);
    put("pin-640", "123456\n", -1, 0640);
    put("pin-empty", "\n", -1, 0600);
    memset(big, '7', sizeof big);
    put("pin-big", big, sizeof big, 0600);
    put("pin-257", big, 257, 0600);
    put("pin-256", big, 256, 0600);
    put("pin-other", "999\n", -1, 0600);
    if (symlink(at("pin-ok"), at("pin-link")) < 0)
        pki_die("symlink");
}

/* test_good - a full table loads, with every field. */
static void test_good(void)
{
    keytable *kt = load((uid_t)-1,
        "# văn thư accounts\n"
        "\n"
        "vanthu@sotttt.example.gov.vn  vanthu@sotttt.example.gov.vn  org\r\n"
        "vanthu@sotttt.example.gov.vn  *@VP.sotttt.example.gov.vn    second  # second key\n"
        "lanhdao                       *@sotttt.example.gov.vn       org\n",
        "# organisation keys\n"
        GOOD_KEY " smime=yes alg=pss position=last:right\n"
        "\n"
        "second key=%s/org.key cert=%s/full.pem name=\"S\xe1\xbb\x9f \\\"TT&TT\\\" \\\\ "
        "H\xc3\xa0 N\xe1\xbb\x99i # 1\"   # comment\n"
        "cn\tkey=pkcs11:object=cn\tcert=%s/cn.pem name=Plain\n"
        "old key=pkcs11:object=a cert=%s/old.pem\n"
        "future key=pkcs11:object=a cert=%s/future.pem\n", D4, dir, dir, dir, dir, dir);
    const kt_key *k, *k2;

    ok(kt != NULL, "a good KeyTable and SignerTable load (%s)", err);
    if (kt == NULL)
        return;
    ok(kt->nkeys == 5 && kt->nsigners == 3, "5 keys, 3 signer rows (comments, blanks, CRLF)");
    k = keytable_find(kt, "org");
    ok(k != NULL && strcmp(k->key, "pkcs11:token=kyso;object=org") == 0 && k->cert != NULL,
       "org: PKCS#11 URI kept, certificate loaded");
    ok(k != NULL && sk_X509_num(k->chain) == 1 && strcmp(k->chain_path, at("ca.pem")) == 0,
       "org: chain of one certificate, path kept");
    ok(k != NULL && k->org_name != NULL && strcmp(k->org_name, "S\xe1\xbb\x9f Th\xc3\xb4ng tin "
       "v\xc3\xa0 Truy\xe1\xbb\x81n th\xc3\xb4ng") == 0,
       "org: organisation name from the certificate's O, UTF-8 (%s)", k ? k->org_name : "");
    ok(k != NULL && k->seal_len == sizeof png1 && memcmp(k->seal, png1, sizeof png1) == 0,
       "org: seal PNG bytes loaded");
    ok(k != NULL && k->pin != NULL && strcmp(k->pin, "123456") == 0
       && strcmp(k->pin_path, at("pin-ok")) == 0, "org: PIN read, newline cut, path kept");
    ok(k != NULL && k->smime == 1 && k->pss == 1 && strcmp(k->position, "last:right") == 0,
       "org: smime=yes, alg=pss, position kept");
    k2 = keytable_find(kt, "second");
    ok(k2 != NULL && k2->org_name != NULL
       && strcmp(k2->org_name, "S\xe1\xbb\x9f \"TT&TT\" \\ H\xc3\xa0 N\xe1\xbb\x99i # 1") == 0,
       "second: quoted Vietnamese name with \\\" \\\\ and # (%s)", k2 ? k2->org_name : "");
    ok(k2 != NULL && k2->key[0] == '/' && k2->pin == NULL && k2->seal == NULL && !k2->smime
       && !k2->pss && k2->position == NULL && k2->chain_path == NULL,
       "second: key file; no PIN, seal or position; defaults smime=no alg=rsa");
    ok(k2 != NULL && sk_X509_num(k2->chain) == 1,
       "second: the extra certificate of cert= goes to the chain");
    k = keytable_find(kt, "cn");
    ok(k != NULL && strcmp(k->org_name, "Plain") == 0, "cn: unquoted name= kept");
    ok(keytable_find(kt, "old") != NULL && keytable_find(kt, "future") != NULL,
       "expired and not-yet-valid certificates are not fatal");
    ok(keytable_find(kt, "nope") == NULL && keytable_find(NULL, "org") == NULL,
       "keytable_find: unknown name and NULL table give NULL");
    keytable_free(kt);
}

/* test_match - keytable_match over the rows of test_good's kind. */
static void test_match(void)
{
    keytable *kt = load((uid_t)-1,
        "vanthu@sotttt.example.gov.vn  vanthu@sotttt.example.gov.vn  org\n"
        "vanthu@sotttt.example.gov.vn  *@vp.sotttt.example.gov.vn    cn\n"
        "lanhdao                       *@sotttt.example.gov.vn       org\n"
        "lanhdao                       *@stc.example.gov.vn          cn\n",
        GOOD_KEY "\ncn key=pkcs11:object=cn cert=%s/cn.pem\n", D4, dir);
    const kt_key *org = keytable_find(kt, "org"), *cn = keytable_find(kt, "cn"), *k;
    const char *why = NULL;

    ok(kt != NULL && org != NULL && cn != NULL, "match tables load (%s)", err);
    k = keytable_match(kt, "vanthu@sotttt.example.gov.vn", "vanthu@sotttt.example.gov.vn", &why);
    ok(k == org, "exact user and exact From");
    k = keytable_match(kt, "vanthu@sotttt.example.gov.vn", "VanThu@SoTTTT.Example.GOV.vn", &why);
    ok(k == org, "From compared without case");
    k = keytable_match(kt, "vanthu@sotttt.example.gov.vn", "anyone@VP.sotttt.example.gov.vn",
                       &why);
    ok(k == cn, "the same account, a second row with a wildcard and another key");
    why = NULL;
    k = keytable_match(kt, "vanthu@sotttt.example.gov.vn", "giamdoc@sotttt.example.gov.vn", &why);
    ok(k == NULL && why != NULL && strcmp(why, "From address not allowed for this account") == 0,
       "an account sending as another address: \"%s\"", why ? why : "");
    k = keytable_match(kt, "lanhdao", "ai.do@sotttt.example.gov.vn", &why);
    ok(k == org, "*@domain matches any local part");
    k = keytable_match(kt, "lanhdao", "x@stc.example.gov.vn", &why);
    ok(k == cn, "a user with two wildcard rows, second key");
    k = keytable_match(kt, "lanhdao", "x@vp.sotttt.example.gov.vn", &why);
    ok(k == NULL && strcmp(why, "From address not allowed for this account") == 0,
       "*@domain does not match a subdomain");
    k = keytable_match(kt, "lanhdao", "x@xsotttt.example.gov.vn", &why);
    ok(k == NULL, "*@domain does not match a longer domain ending the same");
    k = keytable_match(kt, "lanhdao", "@sotttt.example.gov.vn", &why);
    ok(k == NULL, "*@domain needs a local part");
    k = keytable_match(kt, "LanhDao", "x@sotttt.example.gov.vn", &why);
    ok(k == NULL && strcmp(why, "account not in SignerTable") == 0,
       "AUTH-USER compared exactly: \"%s\"", why);
    k = keytable_match(kt, "khach", "x@sotttt.example.gov.vn", &why);
    ok(k == NULL && strcmp(why, "account not in SignerTable") == 0, "unknown account");
    why = NULL;
    k = keytable_match(kt, NULL, "x@sotttt.example.gov.vn", &why);
    ok(k == NULL && why != NULL && strcmp(why, "not authenticated") == 0, "NULL user");
    why = NULL;
    k = keytable_match(kt, "", "x@sotttt.example.gov.vn", &why);
    ok(k == NULL && why != NULL && strcmp(why, "not authenticated") == 0, "empty user");
    k = keytable_match(kt, "lanhdao", NULL, &why);
    ok(k == NULL && strcmp(why, "From address not allowed for this account") == 0,
       "no From address");
    keytable_free(kt);
}

/* test_key_errors - bad KeyTable lines. */
static void test_key_errors(void)
{
    ok(fails(load(-1, GOOD_SIGNERS, "# c\n" GOOD_KEY " crt=/x\n", D4), kpath, 2,
             "unknown option \"crt\"", "did you mean cert=?", NULL),
       "unknown option: did-you-mean");
    ok(fails(load(-1, GOOD_SIGNERS, GOOD_KEY " colour=red\n", D4), kpath, 1,
             "unknown option \"colour\"", "kyso-milter.conf(5)", NULL), "unknown option, far off");
    ok(fails(load(-1, GOOD_SIGNERS, "\n\norg cert=%s/org.pem\n", dir), kpath, 3,
             "key org has no key=", "add key=", NULL), "missing key=");
    ok(fails(load(-1, GOOD_SIGNERS, "org key=pkcs11:object=a\n"), kpath, 1,
             "no cert=", "add cert=", NULL), "missing cert=");
    ok(fails(load(-1, GOOD_SIGNERS, GOOD_KEY "\n#\norg key=pkcs11:x cert=%s/org.pem\n", D4, dir),
             kpath, 3, "key name \"org\" already defined at line 1", NULL), "duplicate key name");
    ok(fails(load(-1, GOOD_SIGNERS, GOOD_KEY " cert=/a\n", D4), kpath, 1,
             "cert= given twice", NULL), "an option given twice");
    ok(fails(load(-1, GOOD_SIGNERS, "org pkcs11:object=a cert=/a\n"), kpath, 1,
             "\"pkcs11:object=a\" is not OPTION=VALUE", NULL), "a value without its option");
    ok(fails(load(-1, GOOD_SIGNERS, "org key=pkcs11:a /etc/org.pem\n"), kpath, 1,
             "is not OPTION=VALUE", NULL), "a word without '='");
    ok(fails(load(-1, GOOD_SIGNERS, "key=pkcs11:a cert=/a\n"), kpath, 1,
             "must start with the KEY-NAME", NULL), "no KEY-NAME");
    ok(fails(load(-1, GOOD_SIGNERS, GOOD_KEY " position=\"a b\"\n", D4), kpath, 1,
             "only name= takes a quoted value", NULL), "a quoted value other than name=");
    ok(fails(load(-1, GOOD_SIGNERS, GOOD_KEY " name=\"S\xe1\xbb\x9f\n", D4), kpath, 1,
             "quoted value not closed", NULL), "unterminated quote");
    ok(fails(load(-1, GOOD_SIGNERS, GOOD_KEY " name=\"a\\nb\"\n", D4), kpath, 1,
             "backslash", NULL), "a bad escape");
    ok(fails(load(-1, GOOD_SIGNERS, GOOD_KEY " name=\"ab\"c\n", D4), kpath, 1,
             "after a closing quote", NULL), "text after the closing quote");
    ok(fails(load(-1, GOOD_SIGNERS, GOOD_KEY " name=\"a\xff\"\n", D4), kpath, 1,
             "UTF-8", NULL), "a name that is not UTF-8");
    ok(fails(load(-1, GOOD_SIGNERS, GOOD_KEY " smime=maybe\n", D4), kpath, 1,
             "smime=maybe is not valid", "yes or no", NULL), "smime= not yes or no");
    ok(fails(load(-1, GOOD_SIGNERS, GOOD_KEY " alg=ecdsa\n", D4), kpath, 1,
             "alg=ecdsa is not valid", "pss", NULL), "alg= not rsa or pss");
    ok(fails(load(-1, GOOD_SIGNERS, "org key=%s/nokey.pem cert=%s/org.pem\n", dir, dir), kpath,
             1, "nokey.pem", "No such file", NULL), "a key file that does not exist");
    ok(fails(load(-1, GOOD_SIGNERS, "org key=org.key cert=%s/org.pem\n", dir), kpath, 1,
             "PKCS#11 URI", "absolute path", NULL), "a relative key path");
}

/* test_file_errors - what a key line names cannot be used. */
static void test_file_errors(void)
{
    keytable *kt;

    ok(fails(load(-1, GOOD_SIGNERS, "\norg key=pkcs11:a cert=%s/missing.pem\n", dir), kpath, 2,
             "cert=", "missing.pem: cannot read", NULL), "an unreadable certificate file");
    ok(fails(load(-1, GOOD_SIGNERS, "org key=pkcs11:a cert=%s/notcert.pem\n", dir), kpath, 1,
             "is not a certificate", NULL), "a certificate file without a certificate");
    ok(fails(load(-1, GOOD_SIGNERS, "org key=pkcs11:a cert=%s/org.pem chain=%s/notcert.pem\n",
                  dir, dir), kpath, 1, "holds no certificate", NULL), "an empty chain file");
    ok(fails(load(-1, GOOD_SIGNERS, "org key=pkcs11:a cert=%s/org.pem seal=%s/seal.gif\n",
                  dir, dir), kpath, 1, "seal.gif is not a usable PNG", NULL), "a seal not a PNG");
    ok(fails(load(-1, GOOD_SIGNERS, "org key=pkcs11:a cert=%s/anon.pem\n", dir), kpath, 1,
             "no usable O or CN", "name=", NULL), "no O, no CN and no name=");
    kt = load(-1, GOOD_SIGNERS, "org key=pkcs11:a cert=%s/anon.pem name=\"X\"\n", dir);
    ok(kt != NULL, "no O or CN but name= given: loads (%s)", err);
    keytable_free(kt);
    put("world.table", "", -1, 0666);
    err[0] = '\0';
    ok(keytable_load(at("world.table"), spath, -1, err, sizeof err) == NULL
       && strstr(err, "writable by others") != NULL, "a table others may write (%s)", err);
    ok(keytable_load(at("none.table"), spath, -1, err, sizeof err) == NULL
       && strstr(err, "none.table") != NULL && strstr(err, "cannot read") != NULL,
       "a missing table (%s)", err);
}

/* test_pin - the PIN file rules. */
static void test_pin(void)
{
    char want[600];
    keytable *kt;

    ok(fails(load(-1, GOOD_SIGNERS, "org key=pkcs11:a cert=%s/org.pem pin=1234\n", dir), kpath,
             1, "only file:/PATH", NULL), "pin= other than file:");
    snprintf(want, sizeof want, "PIN file %s is readable by group or others (mode 0644); "
             "chmod 600 %s and chown it to the daemon user", at("pin-644"), at("pin-644"));
    ok(fails(load(-1, GOOD_SIGNERS, "#\norg key=pkcs11:a cert=%s/org.pem pin=file:%s/pin-644\n",
                  dir, dir), kpath, 2, want, NULL), "a PIN file readable by others: the message");
    ok(fails(load(-1, GOOD_SIGNERS, "org key=pkcs11:a cert=%s/org.pem pin=file:%s/pin-640\n",
                  dir, dir), kpath, 1, "(mode 0640)", NULL), "a PIN file readable by the group");
    ok(fails(load(-1, GOOD_SIGNERS, "org key=pkcs11:a cert=%s/org.pem pin=file:%s/pin-link\n",
                  dir, dir), kpath, 1, "not a regular file (a symbolic link)", NULL),
       "a PIN file that is a symbolic link");
    ok(fails(load(-1, GOOD_SIGNERS, "org key=pkcs11:a cert=%s/org.pem pin=file:%s/pin-empty\n",
                  dir, dir), kpath, 1, "is empty", NULL), "an empty PIN");
    ok(fails(load(-1, GOOD_SIGNERS, "org key=pkcs11:a cert=%s/org.pem pin=file:%s/pin-257\n",
                  dir, dir), kpath, 1, "larger than 256 bytes", NULL), "a PIN file of 257 bytes");
    kt = load(-1, GOOD_SIGNERS, "org key=pkcs11:a cert=%s/org.pem pin=file:%s/pin-256\n"
              "crlf key=pkcs11:a cert=%s/org.pem pin=file:%s/pin-crlf\n", dir, dir, dir, dir);
    ok(kt != NULL && strlen(keytable_find(kt, "org")->pin) == 256
       && strcmp(keytable_find(kt, "crlf")->pin, "2468") == 0,
       "a PIN of 256 bytes loads; CR LF cut; mode 0400 fine (%s)", err);
    keytable_free(kt);
    ok(fails(load(-1, GOOD_SIGNERS, "org key=pkcs11:a cert=%s/org.pem pin=file:%s/pin-no\n",
                  dir, dir), kpath, 1, "pin-no: cannot read", NULL), "a missing PIN file");
}

/* test_pin_owner - owner = the daemon user or root (needs root to chown). */
#define OTHER_LINE "org key=pkcs11:a cert=%s/org.pem pin=file:%s/pin-other\n"
static void test_pin_owner(void)
{
    keytable *kt;

    if (getuid() != 0) {
        ok(1, "# SKIP owner checks need root");
        return;
    }
    if (chown(at("pin-other"), 12345, 12345) < 0)
        pki_die("chown");
    ok(fails(load(0, GOOD_SIGNERS, OTHER_LINE, dir, dir), kpath, 1, "owned by uid 12345",
             "not by the daemon user (uid 0)", "chown", NULL),
       "a PIN file owned by another user than the daemon's");
    kt = load(12345, GOOD_SIGNERS, OTHER_LINE, dir, dir);
    ok(kt != NULL, "owned by the daemon user (uid 12345): loads (%s)", err);
    keytable_free(kt);
    kt = load((uid_t)-1, GOOD_SIGNERS, OTHER_LINE, dir, dir);
    ok(kt != NULL, "daemon uid -1 skips the owner check");
    keytable_free(kt);
    kt = load(12345, GOOD_SIGNERS, GOOD_KEY "\n", D4);
    ok(kt != NULL, "a root-owned PIN file with daemon uid 12345: loads (%s)", err);
    keytable_free(kt);
    ok(fails(load(54321, GOOD_SIGNERS, OTHER_LINE, dir, dir), kpath, 1, "owned by uid 12345",
             "(uid 54321)", NULL), "daemon uid 54321, file of uid 12345");
}

/* test_signer_errors - bad SignerTable lines. */
static void test_signer_errors(void)
{
    ok(fails(load(-1, "# x\n\nvanthu@a.vn vanthu@a.vn nokey\n", GOOD_KEY "\n", D4), spath, 3,
             "key 'nokey' is not in KeyTable ", kpath, NULL), "a row naming an unknown key");
    ok(fails(load(-1, "vanthu vanthu org\n", GOOD_KEY "\n", D4), spath, 1,
             "bad From pattern \"vanthu\"", "*@domain", NULL), "a From pattern without @");
    ok(fails(load(-1, "vanthu *@*.a.vn org\n", GOOD_KEY "\n", D4), spath, 1,
             "subdomains are not matched", NULL), "a From pattern for subdomains");
    ok(fails(load(-1, "vanthu a*b@a.vn org\n", GOOD_KEY "\n", D4), spath, 1,
             "bad From pattern", NULL), "a '*' inside a local part");
    ok(fails(load(-1, "vanthu x@bad_domain.vn org\n", GOOD_KEY "\n", D4), spath, 1,
             "bad From pattern", NULL), "a bad domain");
    ok(fails(load(-1, "vanthu <x@a.vn> org\n", GOOD_KEY "\n", D4), spath, 1,
             "bad From pattern", NULL), "an address in angle brackets");
    ok(fails(load(-1, "u x@A.vn org\nv x@a.vn org\nu X@a.VN org\n", GOOD_KEY "\n", D4), spath,
             3, "the same row as line 1", NULL), "a duplicate row (From compared in lower case)");
    ok(fails(load(-1, "u *@a.vn org\nu *@a.vn other\n",
                  GOOD_KEY "\nother key=pkcs11:b cert=%s/org.pem\n", D4, dir), spath, 2,
             "line 1 already gives u key org", NULL), "a row the first one shadows");
    ok(fails(load(-1, "u x@a.vn\n", GOOD_KEY "\n", D4), spath, 1,
             "want \"AUTH-USER FROM-PATTERN KEY-NAME\"", NULL), "two fields");
    ok(fails(load(-1, "u x@a.vn org extra\n", GOOD_KEY "\n", D4), spath, 1,
             "want \"AUTH-USER FROM-PATTERN KEY-NAME\"", NULL), "four fields");
}

/* rm_dir - remove the test folder and what it holds. */
static void rm_dir(void)
{
    static const char *const names[] = {
        "keys.table", "signers.table", "world.table", "ca.pem", "org.pem", "full.pem", "cn.pem",
        "old.pem", "future.pem", "anon.pem", "org.key", "seal.png", "seal.gif", "notcert.pem",
        "pin-ok", "pin-crlf", "pin-644", "pin-640", "pin-empty", "pin-big", "pin-257",
        "pin-256", "pin-other", "pin-link", NULL
    };
    size_t i;

    for (i = 0; names[i] != NULL; i++)
        unlink(at(names[i]));
    ok(rmdir(dir) == 0, "temporary folder removed");
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof dir, "%s/test-keytable.XXXXXX", tmp != NULL && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        pki_die("mkdtemp");
    snprintf(kpath, sizeof kpath, "%s/keys.table", dir);
    snprintf(spath, sizeof spath, "%s/signers.table", dir);
    make_pki();
    make_files();
    test_good();
    test_match();
    test_key_errors();
    test_file_errors();
    test_pin();
    test_pin_owner();
    test_signer_errors();
    keytable_free(NULL);
    rm_dir();
    return tap_done();
}
