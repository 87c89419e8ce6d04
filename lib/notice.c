/*
 * notice.c - the notice to the sender of a refused message (REGULATIONS R3):
 * composes a UTF-8 text/plain mail, Vietnamese first then English, and pipes
 * it to the local MTA with a null envelope sender.
 *
 * It must never: print; run a shell; let a value taken from the refused
 * message (subject, date, ids, names, details) start a header line or carry
 * a control character into the notice; leave SIGPIPE able to kill the
 * daemon; leave a child process unreaped.  Safe to call from many threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "buf.h"
#include "config.h"
#include "notice.h"

extern char **environ;

#define NOTICE_MAX_RCPTS 20     /* recipients listed; the rest are counted */
#define CLEAN_SHORT 300         /* bytes kept of a subject, name, address */
#define CLEAN_LONG 600          /* bytes kept of a technical detail */
#define EW_CHUNK 39             /* UTF-8 bytes per encoded word: 12 + 52 columns */
#define HDR_WIDTH 78            /* fold header lines before this column */
#define QP_WIDTH 75             /* QP text columns; the soft break makes 76 */
#define MTA_MAX_ARGS 16

/* ------------------------------------------------------------------ */
/* Cleaning untrusted text                                             */

/* utf8_len - length of the well-formed UTF-8 sequence at S (N bytes
 * left), or 0 when it is not one (overlong, surrogate, truncated). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        lo = s[0] == 0xE0 ? 0xA0 : 0x80;
        hi = s[0] == 0xED ? 0x9F : 0xBF;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        lo = s[0] == 0xF0 ? 0x90 : 0x80;
        hi = s[0] == 0xF4 ? 0x8F : 0xBF;
    } else
        return 0;
    if (len > n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* utf8_is_blank - 1 when the sequence at S (LEN bytes) is a control, a
 * space, a line separator, or an invisible mark that can disguise a name
 * (C0/C1 controls, U+200B..U+200F, U+2028..U+202E, U+2060..U+206F, BOM). */
static int utf8_is_blank(const unsigned char *s, size_t len)
{
    if (len == 1)
        return s[0] <= 0x20 || s[0] == 0x7F;
    if (len == 2)
        return s[0] == 0xC2 && s[1] < 0xA0;
    if (len != 3)
        return 0;
    if (s[0] == 0xE2 && s[1] == 0x80)
        return (s[2] >= 0x8B && s[2] <= 0x8F) || (s[2] >= 0xA8 && s[2] <= 0xAE);
    if (s[0] == 0xE2 && s[1] == 0x81)
        return s[2] >= 0xA0 && s[2] <= 0xAF;
    return s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF;
}

/* text_clean - append S to B as one line: controls and invisible marks
 * become single spaces, leading and trailing blanks go, invalid UTF-8
 * becomes U+FFFD, and past MAX bytes the rest is cut (at a character
 * boundary) and "…" appended.  NULL appends nothing.  OOM sets b->oom. */
static void text_clean(kyso_buf *b, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = s ? strlen(s) : 0, i = 0, start = b->len;
    int blank = 1;
    while (i < n && !b->oom) {
        size_t len = utf8_len(p + i, n - i);
        const char *out = (const char *)p + i;
        size_t outlen = len;
        if (len == 0) {
            out = "\xEF\xBF\xBD";
            outlen = 3;
            len = 1;
        } else if (utf8_is_blank(p + i, len)) {
            if (!blank)
                buf_append(b, " ", 1);
            blank = 1;
            i += len;
            continue;
        }
        if (b->len - start + outlen > max) {
            buf_append(b, "\xE2\x80\xA6", 3);
            break;
        }
        buf_append(b, out, outlen);
        blank = 0;
        i += len;
    }
    while (!b->oom && b->len > start && b->p[b->len - 1] == ' ')
        b->p[--b->len] = '\0';
}

/* id_clean - append S to B keeping only RFC 5322 atext and '.', other
 * bytes becoming '_', at most MAX bytes; "unknown" when S is empty. */
static void id_clean(kyso_buf *b, const char *s, size_t max)
{
    size_t n = 0;
    for (; s && *s && n < max; s++, n++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                 || strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
        buf_append(b, ok ? &c : "_", 1);
    }
    if (n == 0)
        buf_append(b, "unknown", 7);
}

/* ------------------------------------------------------------------ */
/* Headers                                                             */

/* b64_append - append N bytes of S base64-encoded (no line breaks). */
static void b64_append(kyso_buf *b, const unsigned char *s, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        char q[4] = { tab[v >> 18 & 63], tab[v >> 12 & 63],
                      i + 1 < n ? tab[v >> 6 & 63] : '=', i + 2 < n ? tab[v & 63] : '=' };
        buf_append(b, q, 4);
    }
}

/* hdr_words - append UTF-8 text S as RFC 2047 "B" encoded words, never
 * splitting a character, folding between words so that no line passes
 * HDR_WIDTH columns.  COL is the column where the first word starts;
 * returns the column after the last one. */
static size_t hdr_words(kyso_buf *b, size_t col, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t take = 0;
        while (i + take < n) {
            size_t l = utf8_len(p + i + take, n - i - take);
            if (l == 0)
                l = 1;
            if (take + l > EW_CHUNK)
                break;
            take += l;
        }
        size_t width = 12 + (take + 2) / 3 * 4;
        if (i > 0) {
            int fold = col + 1 + width > HDR_WIDTH;
            buf_append(b, fold ? "\n " : " ", fold ? 2 : 1);
            col = fold ? 1 : col + 1;
        }
        buf_append(b, "=?UTF-8?B?", 10);
        b64_append(b, p + i, take);
        buf_append(b, "?=", 2);
        col += width;
        i += take;
    }
    return col;
}

/* is_ascii - 1 when S holds only 7-bit bytes. */
static int is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 0;
    return 1;
}

/* hdr_address - append "NAME: VALUE" for an address header.  VALUE is
 * cleaned; a non-ASCII display name before "<addr>" is RFC 2047 encoded. */
static void hdr_address(kyso_buf *b, const char *name, const char *value)
{
    kyso_buf v = {0};
    text_clean(&v, value, CLEAN_SHORT);
    const char *s = v.p ? v.p : "";
    const char *lt = strrchr(s, '<');
    buf_printf(b, "%s: ", name);
    if (is_ascii(s) || lt == NULL || lt == s) {
        buf_printf(b, "%s\n", s);
        buf_free(&v);
        return;
    }
    const char *a = s, *z = lt;
    while (a < z && (*a == ' ' || *a == '"'))
        a++;
    while (z > a && (z[-1] == ' ' || z[-1] == '"'))
        z--;
    kyso_buf phrase = {0};
    buf_append(&phrase, a, (size_t)(z - a));
    size_t col = hdr_words(b, strlen(name) + 2, phrase.p ? phrase.p : "");
    int fold = col + 1 + strlen(lt) > HDR_WIDTH;
    buf_printf(b, "%s%s\n", fold ? "\n " : " ", lt);
    buf_free(&phrase);
    buf_free(&v);
}

/* hdr_date - append "Date: " and T in RFC 5322 form, local time with its
 * offset; month and day names are English whatever the locale. */
static void hdr_date(kyso_buf *b, time_t t)
{
    static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    if (localtime_r(&t, &tm) == NULL && gmtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    buf_printf(b, "Date: %s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld\n",
               wd[(unsigned)tm.tm_wday % 7], tm.tm_mday, mo[(unsigned)tm.tm_mon % 12],
               tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
}

/* notice_is_held - 1 when the action keeps the message (quarantine). */
static int notice_is_held(const kyso_notice *n)
{
    return n->action && strcmp(n->action, "quarantine") == 0;
}

/* hdr_subject - "Subject: Thư bị từ chối / Message refused: <subject>",
 * encoded; "giữ lại / held" for a quarantined message. */
static void hdr_subject(kyso_buf *b, const kyso_notice *n)
{
    kyso_buf s = {0};
    buf_printf(&s, "%s", notice_is_held(n) ? "Thư bị giữ lại / Message held"
                                           : "Thư bị từ chối / Message refused");
    size_t before = s.len;
    buf_append(&s, ": ", 2);
    text_clean(&s, n->subject, CLEAN_SHORT);
    if (!s.oom && s.len == before + 2)
        s.p[s.len = before] = '\0';
    buf_append(b, "Subject: ", 9);
    if (!s.oom)
        hdr_words(b, 9, s.p);
    else
        b->oom = 1;
    buf_append(b, "\n", 1);
    buf_free(&s);
}

/* notice_headers - every header of the notice, each ending in LF. */
static void notice_headers(kyso_buf *b, const kyso_notice *n)
{
    hdr_address(b, "From", n->from);
    hdr_address(b, "To", n->to);
    hdr_subject(b, n);
    hdr_date(b, n->now);
    buf_append(b, "Message-ID: <", 13);
    id_clean(b, n->ref, 100);
    buf_append(b, ".notice@", 8);
    id_clean(b, n->node, 200);
    buf_append(b, ">\nAuto-Submitted: auto-replied\nX-Kyso-Notice: ", 46);
    id_clean(b, n->ref, 100);
    buf_printf(b, "\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
               "Content-Transfer-Encoding: quoted-printable\n");
}

/* ------------------------------------------------------------------ */
/* Body text                                                           */

/* What to do, per reason, in plain words.  Reasons sharing a remedy share
 * the strings, and each remedy is printed once. */
#define A_SIGN_VI "Ký số văn bản (bằng chữ ký số của cơ quan, tổ chức hoặc của người có " \
    "thẩm quyền) rồi gửi lại thư."
#define A_SIGN_EN "Sign the document digitally (with the organisation's or the competent " \
    "person's digital signature) and send the message again."
#define A_CHANGED_VI "Văn bản đã bị sửa sau khi ký. Ký lại bản gốc và không sửa văn bản sau " \
    "khi đã ký (kể cả thêm ghi chú, điền biểu mẫu, chèn trang), rồi gửi lại."
#define A_CHANGED_EN "The document was changed after it was signed. Sign the original again " \
    "and do not edit it after signing (no notes, form filling or added pages), then send it again."
#define A_RESIGN_VI "Ký lại văn bản bằng phần mềm ký số của cơ quan rồi gửi lại; nếu vẫn lỗi, " \
    "xin liên hệ địa chỉ hỗ trợ bên dưới."
#define A_RESIGN_EN "Sign the document again with your agency's signing software and send it " \
    "again; if the error remains, contact the support address below."
#define A_CERT_VI "Liên hệ tổ chức cung cấp dịch vụ chứng thực chữ ký số (Ban Cơ yếu Chính " \
    "phủ) để gia hạn hoặc cấp lại chứng thư số, rồi ký lại văn bản và gửi lại."
#define A_CERT_EN "Contact the certification service provider (the Government Cipher " \
    "Committee) to renew or reissue the digital certificate, then sign the document again " \
    "and send it again."
#define A_CLOCK_VI "Kiểm tra ngày giờ của máy tính dùng để ký, ký lại văn bản rồi gửi lại; nếu " \
    "vẫn lỗi, liên hệ tổ chức cung cấp dịch vụ chứng thực (Ban Cơ yếu Chính phủ)."
#define A_CLOCK_EN "Check the date and time of the computer used for signing, sign the " \
    "document again and send it again; if the error remains, contact the certification " \
    "service provider (the Government Cipher Committee)."
#define A_WEAK_VI "Ký lại văn bản bằng phần mềm ký số đã được cập nhật (dùng thuật toán SHA-256 " \
    "trở lên), rồi gửi lại."
#define A_WEAK_EN "Sign the document again with up-to-date signing software (SHA-256 or " \
    "stronger), then send it again."
#define A_EXPORT_VI "Xuất lại tệp PDF từ phần mềm soạn thảo (ví dụ trong Word: Lưu dưới dạng " \
    "PDF), ký số tệp mới rồi gửi lại."
#define A_EXPORT_EN "Export the PDF again from the editing software (for example in Word: " \
    "Save as PDF), sign the new file and send it again."
#define A_ORG_VI "Chuyển văn bản cho văn thư để ký số của cơ quan, tổ chức, rồi gửi lại."
#define A_ORG_EN "Have the records clerk (văn thư) apply the organisation's digital " \
    "signature, then send the document again."
#define A_PERS_VI "Văn bản phải có chữ ký số của người có thẩm quyền trước, sau đó mới đến chữ " \
    "ký số của cơ quan; ký đủ rồi gửi lại."
#define A_PERS_EN "The competent person must sign the document digitally first, then the " \
    "organisation; add the missing signature and send it again."
#define A_SIGNER_VI "Văn bản phải được ký bằng chứng thư số của chính cơ quan gửi thư; gửi từ " \
    "hộp thư của đơn vị đã ký, hoặc ký bằng chứng thư số của đơn vị mình."
#define A_SIGNER_EN "The document must be signed with the certificate of the sending agency " \
    "itself; send it from the mailbox of the agency that signed it, or sign it with your own."
#define A_PDF_VI "Gửi văn bản dưới dạng tệp PDF đã ký số."
#define A_PDF_EN "Send the document as a digitally signed PDF file."
#define A_SPLIT_VI "Chia nhỏ thư: gửi ít tệp hơn trong mỗi thư hoặc giảm kích thước tệp, rồi " \
    "gửi lại."
#define A_SPLIT_EN "Split the message: send fewer or smaller files in each message, then " \
    "send again."
#define A_ASK_VI "Xin liên hệ địa chỉ hỗ trợ bên dưới để được hướng dẫn."
#define A_ASK_EN "Please contact the support address below for help."

static const char *const advice_table[REASON__COUNT][2] = {
    [REASON_UNSIGNED] = { A_SIGN_VI, A_SIGN_EN },
    [REASON_MALFORMED] = { A_EXPORT_VI, A_EXPORT_EN },
    [REASON_BAD_BYTERANGE] = { A_CHANGED_VI, A_CHANGED_EN },
    [REASON_DIGEST_MISMATCH] = { A_CHANGED_VI, A_CHANGED_EN },
    [REASON_BAD_SIGNATURE] = { A_RESIGN_VI, A_RESIGN_EN },
    [REASON_MODIFIED_AFTER_SIGNING] = { A_CHANGED_VI, A_CHANGED_EN },
    [REASON_CERT_EXPIRED] = { A_CERT_VI, A_CERT_EN },
    [REASON_CERT_NOT_YET_VALID] = { A_CLOCK_VI, A_CLOCK_EN },
    [REASON_CERT_REVOKED] = { A_CERT_VI, A_CERT_EN },
    [REASON_UNTRUSTED_CHAIN] = { A_CERT_VI, A_CERT_EN },
    [REASON_BAD_KEY_USAGE] = { A_CERT_VI, A_CERT_EN },
    [REASON_WEAK_ALGORITHM] = { A_WEAK_VI, A_WEAK_EN },
    [REASON_TIMESTAMP_INVALID] = { A_RESIGN_VI, A_RESIGN_EN },
    [REASON_SIGNER_MISMATCH] = { A_SIGNER_VI, A_SIGNER_EN },
    [REASON_MISSING_ORG_SIGNATURE] = { A_ORG_VI, A_ORG_EN },
    [REASON_MISSING_PERSONAL_SIGNATURE] = { A_PERS_VI, A_PERS_EN },
    [REASON_LIMIT_EXCEEDED] = { A_SPLIT_VI, A_SPLIT_EN },
    [REASON_UNSUPPORTED_TYPE] = { A_PDF_VI, A_PDF_EN },
};

/* advice_text - the remedy for R in language LANG (0 vi, 1 en); never NULL. */
static const char *advice_text(kyso_reason r, int lang)
{
    const char *s = (unsigned)r < REASON__COUNT ? advice_table[r][lang] : NULL;
    return s ? s : lang == 0 ? A_ASK_VI : A_ASK_EN;
}

/* The words of one language of the body. */
typedef struct notice_lang {
    int idx;                                /* 0 vi, 1 en (advice_text) */
    const char *(*reason_text)(kyso_reason);
    const char *title, *title_held, *hello, *refused[2], *held[2];
    const char *info, *subject, *date, *rcpts, *and_n, *others, *other1, *msgid, *node, *ref;
    const char *faults, *file, *problem, *detail, *no_fault;
    const char *todo, *mistake1, *mistake2, *none, *unnamed, *automatic;
} notice_lang;

static const notice_lang lang_vi = {
    0, reason_text_vi, "THÔNG BÁO THƯ BỊ TỪ CHỐI (English version below)",
    "THÔNG BÁO THƯ BỊ GIỮ LẠI (English version below)",
    "Kính gửi người gửi thư,",
    { "Thư dưới đây đã bị từ chối vì văn bản đính kèm không đạt yêu cầu về chữ ký số.",
      "Thư của bạn CHƯA được gửi đến người nhận." },
    { "Thư dưới đây đã bị giữ lại vì văn bản đính kèm chưa đạt yêu cầu về chữ ký số.",
      "Thư của bạn đang được giữ lại để kiểm tra và CHƯA được gửi đến người nhận." },
    "THÔNG TIN THƯ", "Tiêu đề", "Ngày gửi", "Người nhận", "và", "người nhận khác",
    "người nhận khác", "Mã thư (Message-ID)", "Máy chủ kiểm tra", "Mã tra cứu",
    "VĂN BẢN KHÔNG ĐẠT YÊU CẦU", "Tệp", "Lỗi", "Chi tiết kỹ thuật",
    "Thư không đạt yêu cầu kiểm tra chữ ký số.",
    "CẦN LÀM GÌ", "Nếu bạn cho rằng đây là nhầm lẫn, xin liên hệ ",
    " và cho biết mã tra cứu ", "(không có)", "(không có tên)",
    "Đây là thư tự động do hệ thống kiểm tra chữ ký số gửi.",
};

static const notice_lang lang_en = {
    1, reason_text_en, "MESSAGE REFUSED NOTICE", "MESSAGE HELD NOTICE",
    "Dear sender,",
    { "The message below was refused because its attached documents do not meet the "
      "digital signature requirements.",
      "Your message has NOT been delivered to its recipients." },
    { "The message below was held because its attached documents do not meet the "
      "digital signature requirements.",
      "Your message is being held for inspection and has NOT been delivered to its "
      "recipients." },
    "THE MESSAGE", "Subject", "Date", "Recipients", "and", "other recipients",
    "other recipient", "Message-ID", "Checked by", "Reference",
    "DOCUMENTS THAT FAILED", "File", "Problem", "Technical detail",
    "The message did not pass the digital signature check.",
    "WHAT TO DO", "If you believe this is a mistake, contact ",
    " quoting the reference id ", "(none)", "(no name)",
    "This is an automatic message from the digital signature check.",
};

/* body_field - "  LABEL: value" with VALUE cleaned, or the "none" word. */
static void body_field(kyso_buf *b, const notice_lang *L, const char *label, const char *value)
{
    buf_printf(b, "  %s: ", label);
    size_t before = b->len;
    text_clean(b, value, CLEAN_SHORT);
    if (!b->oom && b->len == before)
        buf_printf(b, "%s", L->none);
    buf_append(b, "\n", 1);
}

/* body_info - which message: subject, date, recipients, ids, gateway. */
static void body_info(kyso_buf *b, const notice_lang *L, const kyso_notice *n)
{
    buf_printf(b, "%s\n", L->info);
    body_field(b, L, L->subject, n->subject);
    body_field(b, L, L->date, n->date);
    if (n->nrcpts == 0)
        buf_printf(b, "  %s: %s\n", L->rcpts, L->none);
    else
        buf_printf(b, "  %s:\n", L->rcpts);
    for (size_t i = 0; i < n->nrcpts && i < NOTICE_MAX_RCPTS; i++) {
        buf_append(b, "    - ", 6);
        text_clean(b, n->rcpts ? n->rcpts[i] : NULL, CLEAN_SHORT);
        buf_append(b, "\n", 1);
    }
    if (n->nrcpts > NOTICE_MAX_RCPTS) {
        size_t more = n->nrcpts - NOTICE_MAX_RCPTS;
        buf_printf(b, "    - %s %zu %s\n", L->and_n, more, more == 1 ? L->other1 : L->others);
    }
    body_field(b, L, L->msgid, n->message_id);
    body_field(b, L, L->node, n->node);
    body_field(b, L, L->ref, n->ref);
}

/* doc_is_fault - 1 when document D is to be listed as a fault. */
static int doc_is_fault(const kyso_doc_decision *d)
{
    return d->counted != 0 && d->reason != REASON_OK;
}

/* doc_detail - the technical line of D: its own, or its first failing
 * signature's; NULL when there is none. */
static const char *doc_detail(const kyso_doc_decision *d)
{
    if (d->doc == NULL)
        return NULL;
    if (d->doc->detail && *d->doc->detail)
        return d->doc->detail;
    for (size_t i = 0; i < d->doc->nsigs; i++)
        if (d->doc->sigs[i].reason != REASON_OK && d->doc->sigs[i].detail)
            return d->doc->sigs[i].detail;
    return NULL;
}

/* body_faults - one numbered entry per failing document; returns how many. */
static size_t body_faults(kyso_buf *b, const notice_lang *L, const kyso_notice *n)
{
    size_t k = 0;
    buf_printf(b, "%s\n", L->faults);
    for (size_t i = 0; i < n->ndocs; i++) {
        const kyso_doc_decision *d = &n->docs[i];
        if (!doc_is_fault(d))
            continue;
        buf_printf(b, "  %zu. %s: ", ++k, L->file);
        size_t before = b->len;
        text_clean(b, d->doc ? d->doc->name : NULL, CLEAN_SHORT);
        if (!b->oom && b->len == before)
            buf_printf(b, "%s", L->unnamed);
        buf_printf(b, "\n     %s: %s\n", L->problem, L->reason_text(d->reason));
        const char *detail = doc_detail(d);
        if (detail) {
            buf_printf(b, "     %s: ", L->detail);
            text_clean(b, detail, CLEAN_LONG);
            buf_append(b, "\n", 1);
        }
    }
    if (k == 0)
        buf_printf(b, "  %s\n", L->no_fault);
    return k;
}

/* body_todo - each distinct remedy once, then whom to ask. */
static void body_todo(kyso_buf *b, const notice_lang *L, const kyso_notice *n, size_t faults)
{
    const char *said[REASON__COUNT + 1];
    size_t nsaid = 0;
    buf_printf(b, "%s\n", L->todo);
    for (size_t i = 0; i <= n->ndocs; i++) {
        const char *a;
        if (i < n->ndocs && doc_is_fault(&n->docs[i]))
            a = advice_text(n->docs[i].reason, L->idx);
        else if (i == n->ndocs && faults == 0)
            a = advice_text(REASON_INTERNAL_ERROR, L->idx);
        else
            continue;
        size_t j = 0;
        while (j < nsaid && said[j] != a)
            j++;
        if (j < nsaid || nsaid == REASON__COUNT + 1)
            continue;
        said[nsaid++] = a;
        buf_printf(b, "  - %s\n", a);
    }
    buf_printf(b, "  - %s", L->mistake1);
    text_clean(b, n->contact ? n->contact : n->from, CLEAN_SHORT);
    buf_printf(b, "%s", L->mistake2);
    text_clean(b, n->ref, CLEAN_SHORT);
    buf_append(b, ".\n", 2);
}

/* body_lang - the whole body in one language. */
static void body_lang(kyso_buf *b, const notice_lang *L, const kyso_notice *n)
{
    int held = notice_is_held(n);
    const char *const *lead = held ? L->held : L->refused;
    buf_printf(b, "%s\n\n%s\n\n%s\n%s\n\n", held ? L->title_held : L->title, L->hello,
               lead[0], lead[1]);
    body_info(b, L, n);
    buf_append(b, "\n", 1);
    size_t faults = body_faults(b, L, n);
    buf_append(b, "\n", 1);
    body_todo(b, L, n, faults);
    buf_printf(b, "\n%s\n", L->automatic);
}

/* ------------------------------------------------------------------ */
/* Quoted-printable                                                    */

/* qp_token - the QP form of byte C at column COL of a line whose next byte
 * is NEXT ('\n' or 0 at the end); writes it into T and returns its length. */
static size_t qp_token(unsigned char c, unsigned char next, size_t col, const char *rest,
                       char *t)
{
    int enc = c == '=' || c >= 0x7F || (c < 0x20 && c != '\t')
              || ((c == ' ' || c == '\t') && (next == '\n' || next == '\0'))
              || (col == 0 && (c == '.' || (c == 'F' && strncmp(rest, "From ", 5) == 0)));
    if (!enc) {
        t[0] = (char)c;
        return 1;
    }
    snprintf(t, 4, "=%02X", c);
    return 3;
}

/* qp_append - append text S (N bytes, LF line ends) quoted-printable, LF
 * line ends, no line longer than 76 columns; '.' and "From " never start
 * a line. */
static void qp_append(kyso_buf *b, const char *s, size_t n)
{
    size_t col = 0;
    for (size_t i = 0; i < n && !b->oom; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            buf_append(b, "\n", 1);
            col = 0;
            continue;
        }
        char t[4];
        unsigned char next = i + 1 < n ? (unsigned char)s[i + 1] : '\0';
        size_t tl = qp_token(c, next, col, s + i, t);
        if (col + tl > QP_WIDTH) {
            buf_append(b, "=\n", 2);
            col = 0;
            tl = qp_token(c, next, col, s + i, t);
        }
        buf_append(b, t, tl);
        col += tl;
    }
    if (col > 0)
        buf_append(b, "\n", 1);
}

char *notice_compose(const kyso_notice *n, size_t *len)
{
    kyso_buf text = {0}, out = {0};
    body_lang(&text, &lang_vi, n);
    buf_printf(&text, "\n%s\n\n", "------------------------------------------------------------");
    body_lang(&text, &lang_en, n);
    notice_headers(&out, n);
    buf_append(&out, "\n", 1);
    if (text.oom)
        out.oom = 1;
    else
        qp_append(&out, text.p, text.len);
    buf_free(&text);
    size_t l = out.len;
    char *msg = buf_steal(&out);
    if (msg && len)
        *len = l;
    return msg;
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */

/* The words of the expiry warning, one set per language. */
typedef struct expiry_lang {
    const char *soon, *expired;             /* the opening sentence */
    const char *org, *key, *serial, *expires;    /* field labels */
    const char *days_pre, *days_post;       /* around the days left */
    const char *todo1, *todo2;              /* what to do, around the KeyTable path */
} expiry_lang;

static const expiry_lang expiry_vi = {
    "Chứng thư số của cơ quan, dùng để ký số văn bản gửi qua cổng thư điện tử, sắp hết hạn.",
    "Chứng thư số của cơ quan đã hết hạn.",
    "Cơ quan", "Khóa (KeyTable)", "Số hiệu chứng thư", "Hết hạn", "còn ", " ngày",
    "Việc cần làm: liên hệ tổ chức cung cấp dịch vụ chứng thực chữ ký số (Ban Cơ yếu Chính "
    "phủ) để gia hạn chứng thư số. Khi có chứng thư mới, quản trị thư điện tử cập nhật cert= "
    "trong tệp ",
    " và nạp lại cấu hình. Khi chứng thư hết hạn, thư có văn bản cần ký số của cơ quan sẽ "
    "không được gửi đi.",
};

static const expiry_lang expiry_en = {
    "The organisation certificate used to sign documents sent through the mail gateway "
    "expires soon.",
    "The organisation certificate has expired.",
    "Organisation", "Key (KeyTable)", "Certificate serial", "Expires", "in ", " days",
    "What to do: ask the certification service provider (the Government Cipher Committee) to "
    "renew the certificate. With the new certificate, the postmaster updates cert= in ",
    " and reloads the configuration. Once it has expired, mail whose documents need the "
    "organisation signature is not sent.",
};

/* expiry_lang_body - the warning N in the words of L; WHEN is the expiry
 * as text. */
static void expiry_lang_body(kyso_buf *b, const expiry_lang *L, const kyso_expiry_notice *n,
                             const char *when)
{
    buf_printf(b, "%s\n\n  %s: ", n->days_left >= 0 ? L->soon : L->expired, L->org);
    text_clean(b, n->org_name, CLEAN_SHORT);
    buf_printf(b, "\n  %s: ", L->key);
    text_clean(b, n->key_name, CLEAN_SHORT);
    buf_printf(b, "\n  %s: ", L->serial);
    text_clean(b, n->serial, CLEAN_SHORT);
    buf_printf(b, "\n  %s: %s, %s%ld%s", L->expires, when, L->days_pre,
               n->days_left < 0 ? 0 : n->days_left, L->days_post);
    buf_printf(b, "\n\n%s", L->todo1);
    text_clean(b, n->key_table, CLEAN_LONG);
    buf_printf(b, "%s\n\n", L->todo2);
}

/* expiry_body - the text of the expiry warning in Vietnamese then English. */
static void expiry_body(kyso_buf *b, const kyso_expiry_notice *n)
{
    time_t vn = n->not_after + 7 * 3600;
    struct tm tm;
    char when[64];
    gmtime_r(&vn, &tm);
    snprintf(when, sizeof when, "%02d/%02d/%04d %02d:%02d (+07:00)", tm.tm_mday, tm.tm_mon + 1,
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
    expiry_lang_body(b, &expiry_vi, n, when);
    buf_printf(b, "%s\n\n", "------------------------------------------------------------");
    expiry_lang_body(b, &expiry_en, n, when);
    buf_printf(b, "Gateway / Cổng: ");
    text_clean(b, n->node, CLEAN_SHORT);
    buf_append(b, "\n", 1);
}

char *notice_compose_expiry(const kyso_expiry_notice *n, size_t *len)
{
    kyso_buf text = {0}, out = {0}, subj = {0};
    expiry_body(&text, n);
    hdr_address(&out, "From", n->from);
    hdr_address(&out, "To", n->to);
    buf_printf(&subj, "Chứng thư số sắp hết hạn / Certificate expiring: ");
    text_clean(&subj, n->org_name, CLEAN_SHORT);
    buf_append(&out, "Subject: ", 9);
    if (subj.oom)
        out.oom = 1;
    else
        hdr_words(&out, 9, subj.p);
    buf_append(&out, "\n", 1);
    hdr_date(&out, n->now);
    buf_append(&out, "Message-ID: <expiry.", 20);
    id_clean(&out, n->key_name, 100);
    buf_printf(&out, ".%ld@", (long)n->now);
    id_clean(&out, n->node, 200);
    buf_printf(&out, ">\nAuto-Submitted: auto-generated\nMIME-Version: 1.0\n"
               "Content-Type: text/plain; charset=UTF-8\n"
               "Content-Transfer-Encoding: quoted-printable\n\n");
    if (text.oom)
        out.oom = 1;
    else
        qp_append(&out, text.p, text.len);
    buf_free(&text);
    buf_free(&subj);
    size_t l = out.len;
    char *msg = buf_steal(&out);
    if (msg && len)
        *len = l;
    return msg;
}

/* mta_split - split CMD in place on blanks into ARGV (at most
 * MTA_MAX_ARGS words); returns the count, or -1 when empty or too long. */
static int mta_split(char *cmd, char **argv)
{
    int n = 0;
    char *p = cmd;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        if (n == MTA_MAX_ARGS)
            return -1;
        argv[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n > 0 ? n : -1;
}

/* mta_rcpt_ok - 1 when TO can be given to the MTA as one recipient
 * argument: not empty, not an option, no blank or control, not huge. */
static int mta_rcpt_ok(const char *to)
{
    if (to == NULL || to[0] == '\0' || to[0] == '-' || strlen(to) > 998)
        return 0;
    for (const unsigned char *p = (const unsigned char *)to; *p; p++)
        if (*p <= 0x20 || *p == 0x7F)
            return 0;
    return 1;
}

/* What the child needs, prepared before fork: after fork in a threaded
 * process only async-signal-safe calls are allowed, so no malloc there. */
typedef struct mta_child {
    char **argv;
    int in, devnull, status;    /* stdin pipe, /dev/null, exec-error pipe */
    int maxfd;                  /* bound for the close loop fallback */
} mta_child;

/* mta_close_from - close every fd from LOW up (close_range, or a loop up
 * to MAXFD where it is missing).  Async-signal-safe. */
static void mta_close_from(int low, int maxfd)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    if (close_range((unsigned)low, ~0U, 0) == 0)
        return;
#endif
    for (int fd = low; fd < maxfd; fd++)
        (void)close(fd);
}

/* mta_child_exec - in the child: default signal mask and dispositions,
 * stdin from the pipe, stdout and stderr to /dev/null, every other fd
 * closed, then exec.  On failure writes errno to the status pipe and
 * exits 127.  Never returns. */
static void mta_child_exec(const mta_child *c)
{
    int report = c->status, in, dn, st;
    sigset_t none;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)sigaction(sig, &dfl, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* move everything above 0..3 first: any of them may be 0..3 already */
    if ((in = fcntl(c->in, F_DUPFD, 10)) < 0 || (dn = fcntl(c->devnull, F_DUPFD, 10)) < 0
        || (st = fcntl(c->status, F_DUPFD, 10)) < 0)
        goto fail;
    report = st;
    if (dup2(in, 0) < 0 || dup2(dn, 1) < 0 || dup2(dn, 2) < 0 || dup2(st, 3) < 0)
        goto fail;
    report = 3;
    if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
        goto fail;
    mta_close_from(4, c->maxfd);
    execve(c->argv[0], c->argv, environ);
fail:;
    int e = errno;
    (void)!write(report, &e, sizeof e);
    _exit(127);
}

/* ms_left - milliseconds from now until DEADLINE (monotonic), 0 if past. */
static int ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000
                   + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms <= 0 ? 0 : ms > 1000000 ? 1000000 : (int)ms + 1;
}

/* mta_wait_exec - 0 once the child has exec'd (the CLOEXEC status pipe
 * closed empty), the child's errno when exec failed, -1 at DEADLINE. */
static int mta_wait_exec(int fd, const struct timespec *deadline)
{
    for (;;) {
        int ms = ms_left(deadline);
        struct pollfd p = { fd, POLLIN, 0 };
        if (ms == 0)
            return -1;
        if (poll(&p, 1, ms) <= 0)
            continue;
        int e = 0;
        ssize_t r = read(fd, &e, sizeof e);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        return r == (ssize_t)sizeof e && e > 0 ? e : 0;
    }
}

/* mta_write_all - write LEN bytes of MSG to non-blocking FD before
 * DEADLINE.  0 when all was written, ETIMEDOUT, or the write errno. */
static int mta_write_all(int fd, const char *msg, size_t len, const struct timespec *deadline)
{
    size_t off = 0;
    while (off < len) {
        int ms = ms_left(deadline);
        struct pollfd p = { fd, POLLOUT, 0 };
        if (ms == 0)
            return ETIMEDOUT;
        int r = poll(&p, 1, ms);
        if (r < 0 && errno != EINTR)
            return errno;
        if (r <= 0)
            continue;
        size_t chunk = len - off > 65536 ? 65536 : len - off;
        ssize_t w = write(fd, msg + off, chunk);
        if (w < 0 && errno != EINTR && errno != EAGAIN)
            return errno;
        if (w > 0)
            off += (size_t)w;
    }
    return 0;
}

/* mta_write - mta_write_all without the risk of SIGPIPE.
 *
 * A write to a pipe whose reader has exited raises SIGPIPE, whose default
 * action kills the whole daemon.  Ignoring SIGPIPE would change a
 * process-wide disposition under the feet of other threads and libraries,
 * so it is not done.  Instead this thread alone blocks SIGPIPE
 * (pthread_sigmask is per thread) while it writes.  A SIGPIPE raised by
 * write() is directed at the writing thread, so it stays pending here and
 * write() fails with EPIPE; that signal is then consumed with a zero-timeout
 * sigtimedwait() (unless one was already pending before we began, which is
 * left alone) and the old mask is restored.  No other thread is affected. */
static int mta_write(int fd, const char *msg, size_t len, const struct timespec *deadline)
{
    sigset_t pipeset, old, pending;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeset, &old);
    sigemptyset(&pending);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE) == 1;
    int rc = mta_write_all(fd, msg, len, deadline);
    if (rc == EPIPE && !was_pending) {
        static const struct timespec zero = { 0, 0 };
        while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* mta_reap - wait for PID until DEADLINE, polling every 10 ms; past it
 * kill it with SIGKILL and reap it.  Returns 0 with *status set, 1 when it
 * was killed for the deadline, -1 with errno when waitpid failed. */
static int mta_reap(pid_t pid, const struct timespec *deadline, int *status)
{
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
        if (ms_left(deadline) == 0)
            break;
        struct timespec tick = { 0, 10 * 1000 * 1000 };
        nanosleep(&tick, NULL);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return 1;
}

/* mta_report - turn what happened into the return value and ERR. */
static int mta_report(const char *prog, int exec_err, int write_err, int reaped,
                      int status, int timeout, char *err, size_t errlen)
{
    char eb[128];
    if (exec_err > 0) {
        snprintf(err, errlen, "MTACommand %s: cannot run: %s", prog,
                 strerror_r(exec_err, eb, sizeof eb));
    } else if (reaped == 1 || exec_err < 0) {
        snprintf(err, errlen, "MTACommand %s: killed after %d s", prog, timeout);
    } else if (reaped < 0) {
        snprintf(err, errlen, "MTACommand %s: cannot wait: %s", prog,
                 strerror_r(errno, eb, sizeof eb));
    } else if (WIFSIGNALED(status)) {
        snprintf(err, errlen, "MTACommand %s: killed by signal %d", prog, WTERMSIG(status));
    } else if (WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "MTACommand %s: exit %d", prog, WEXITSTATUS(status));
    } else if (write_err != 0) {
        snprintf(err, errlen, "MTACommand %s: exit 0 without reading the whole message: %s",
                 prog, strerror_r(write_err, eb, sizeof eb));
    } else
        return 0;
    return -1;
}

/* mta_fail - report a failure before the child ran; closes the FDs >= 0. */
static int mta_fail(const char *prog, int e, const int *fds, int nfds, char *err, size_t errlen)
{
    char eb[128];
    for (int i = 0; i < nfds; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    snprintf(err, errlen, "MTACommand %s: cannot run: %s", prog, strerror_r(e, eb, sizeof eb));
    return -1;
}

/* mta_run - fork and exec ARGV, feed it MSG, wait for it; see notice_send. */
static int mta_run(char **argv, const char *msg, size_t len, int timeout,
                   char *err, size_t errlen)
{
    int fds[5] = { -1, -1, -1, -1, -1 };    /* in[0], in[1], st[0], st[1], devnull */
    struct rlimit rl;
    struct timespec deadline;
    if (pipe2(fds, O_CLOEXEC) < 0 || pipe2(fds + 2, O_CLOEXEC) < 0
        || (fds[4] = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0
        || fcntl(fds[1], F_SETFL, O_NONBLOCK) < 0)
        return mta_fail(argv[0], errno, fds, 5, err, errlen);
    mta_child c = { argv, fds[0], fds[4], fds[3], 65536 };
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        c.maxfd = rl.rlim_cur > (1 << 20) ? (1 << 20) : (int)rl.rlim_cur;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout;
    pid_t pid = fork();
    if (pid == 0)
        mta_child_exec(&c);
    if (pid < 0)
        return mta_fail(argv[0], errno, fds, 5, err, errlen);
    close(fds[0]);
    close(fds[3]);
    close(fds[4]);
    int exec_err = mta_wait_exec(fds[2], &deadline), write_err = 0, status = 0;
    close(fds[2]);
    if (exec_err == 0)
        write_err = mta_write(fds[1], msg, len, &deadline);
    close(fds[1]);
    int reaped = mta_reap(pid, &deadline, &status);
    return mta_report(argv[0], exec_err, write_err, reaped, status, timeout, err, errlen);
}

int notice_send(const char *mta_command, const char *to, const char *msg, size_t len,
                int timeout, char *err, size_t errlen)
{
    char *argv[MTA_MAX_ARGS + 6], dummy[1];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    char *cmd = strdup(mta_command ? mta_command : "");
    if (cmd == NULL) {
        snprintf(err, errlen, "MTACommand: out of memory");
        return -1;
    }
    int argc = mta_split(cmd, argv);
    int rc = -1;
    if (argc < 0)
        snprintf(err, errlen, "MTACommand \"%.200s\": empty or more than %d words",
                 mta_command ? mta_command : "", MTA_MAX_ARGS);
    else if (!mta_rcpt_ok(to))
        snprintf(err, errlen, "MTACommand %s: recipient refused (empty, starts with '-',"
                 " or contains a blank or control character)", argv[0]);
    else {
        argv[argc++] = "-oi";
        argv[argc++] = "-f";
        argv[argc++] = "<>";
        argv[argc++] = "--";
        argv[argc++] = (char *)to;
        argv[argc] = NULL;
        rc = mta_run(argv, msg, len, timeout > 0 ? timeout : 1, err, errlen);
    }
    free(cmd);
    return rc;
}
