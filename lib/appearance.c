/*
 * appearance.c - the visible organisation signature of Decree 30/2020
 * Annex I as PDF objects: a Form XObject that draws the seal (a PNG decoded
 * with libpng, written as an RGB image with a /DeviceGray /SMask for its
 * transparency) and the text lines in a subset of a TrueType font, embedded
 * as a Type0 / CIDFontType2 font (Identity-H, CID = GID) with /ToUnicode so
 * that the Vietnamese text can be extracted again.
 *
 * The parts, top to bottom: byte helpers; the TrueType reader and
 * subsetter (ttf_*: table directory, head, hhea/hmtx, cmap formats 4 and
 * 12, loca/glyf with composite glyphs, a new sfnt with fresh checksums);
 * UTF-8; the PNG decoder (ap_png_*); text layout (ap_layout_*); the PDF
 * objects; the interface.  Everything read from a file is bounds-checked.
 * No global mutable state (called from milter worker threads); never
 * prints; every failure is a one-line reason for the caller.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pthread.h>
#include <png.h>
#include <zlib.h>
#include <openssl/sha.h>
#include "appearance.h"
#include "buf.h"

#define AP_PNG_MAX_BYTES  (8u * 1024 * 1024)
#define AP_PNG_MAX_DIM    4096u
#define AP_FONT_MAX_BYTES (32u * 1024 * 1024)
#define AP_TEXT_MAX_CPS   2048u     /* code points in all the lines together */
#define AP_LEADING        1.2       /* baseline distance, in font sizes */
#define AP_PAD            2.0       /* inner margin of the box, points */
#define AP_MIN_SIZE       4.0       /* smallest font size before giving up */

/* ap_err - format a one-line reason into ERR (when there is room). */
__attribute__((format(printf, 3, 4)))
static void ap_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static int16_t rds16(const unsigned char *p) { return (int16_t)rd16(p); }
static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}
static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

/* in_range - do LEN bytes at OFF lie within TOTAL bytes?  Overflow-safe. */
static int in_range(size_t off, size_t len, size_t total)
{
    return off <= total && len <= total - off;
}

/* ---- TrueType: reading ------------------------------------------------ */

typedef struct ttf_table {
    const unsigned char *p;     /* NULL when the font has no such table */
    size_t len;
} ttf_table;

typedef struct ttf_font {
    const unsigned char *data;  /* the mapped file */
    size_t len;
    int shared;                 /* DATA belongs to the font file cache: not unmapped */
    ttf_table head, hhea, hmtx, loca, glyf, maxp, cmap, cvt, fpgm, prep, post, name, os2;
    unsigned upem, num_glyphs, num_hmetrics;
    int loca_long;
    int bbox[4];                /* font units */
    int ascent, descent, cap_height;
    double italic_angle;
    const unsigned char *cmap_sub;      /* the chosen Unicode subtable */
    size_t cmap_sub_len;                /* bytes to the end of the cmap table */
    int cmap_fmt;                       /* 4 or 12 */
} ttf_font;

/* ttf_find_table - fill *T with the table TAG of F (p NULL when absent).
 * Returns 0, or -1 when the directory entry points outside the file. */
static int ttf_find_table(ttf_font *f, const char *tag, ttf_table *t)
{
    unsigned n = rd16(f->data + 4);
    t->p = NULL;
    t->len = 0;
    for (unsigned i = 0; i < n; i++) {
        const unsigned char *r = f->data + 12 + 16 * (size_t)i;
        if (memcmp(r, tag, 4) != 0)
            continue;
        size_t off = rd32(r + 8), len = rd32(r + 12);
        if (!in_range(off, len, f->len))
            return -1;
        t->p = f->data + off;
        t->len = len;
        return 0;
    }
    return 0;
}

/* ttf_read_tables - locate the tables F needs and check the directory.
 * Returns 0, or -1 with the reason in ERR. */
static int ttf_read_tables(ttf_font *f, char *err, size_t errlen)
{
    if (f->len < 12) {
        ap_err(err, errlen, "font file is too short");
        return -1;
    }
    uint32_t ver = rd32(f->data);
    if (ver == 0x4F54544Fu || ver == 0x74746366u) {
        ap_err(err, errlen, "font is %s, not a single TrueType font",
               ver == 0x4F54544Fu ? "CFF-based OpenType" : "a font collection");
        return -1;
    }
    if (ver != 0x00010000u && ver != 0x74727565u) {
        ap_err(err, errlen, "font file is not a TrueType font");
        return -1;
    }
    unsigned n = rd16(f->data + 4);
    if (n == 0 || !in_range(12, 16 * (size_t)n, f->len)) {
        ap_err(err, errlen, "font has a bad table directory");
        return -1;
    }
    static const struct { const char *tag; size_t off; int need; } want[] = {
        { "head", offsetof(ttf_font, head), 1 }, { "hhea", offsetof(ttf_font, hhea), 1 },
        { "hmtx", offsetof(ttf_font, hmtx), 1 }, { "loca", offsetof(ttf_font, loca), 1 },
        { "glyf", offsetof(ttf_font, glyf), 1 }, { "maxp", offsetof(ttf_font, maxp), 1 },
        { "cmap", offsetof(ttf_font, cmap), 1 }, { "cvt ", offsetof(ttf_font, cvt), 0 },
        { "fpgm", offsetof(ttf_font, fpgm), 0 }, { "prep", offsetof(ttf_font, prep), 0 },
        { "post", offsetof(ttf_font, post), 0 }, { "name", offsetof(ttf_font, name), 0 },
        { "OS/2", offsetof(ttf_font, os2), 0 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ttf_table *t = (ttf_table *)(void *)((char *)f + want[i].off);
        if (ttf_find_table(f, want[i].tag, t) < 0) {
            ap_err(err, errlen, "font table '%s' lies outside the file", want[i].tag);
            return -1;
        }
        if (want[i].need && t->p == NULL) {
            ap_err(err, errlen, "font has no '%s' table", want[i].tag);
            return -1;
        }
    }
    return 0;
}

/* ttf_read_metrics - head, maxp, hhea, hmtx, loca, OS/2, post: the numbers.
 * Returns 0, or -1 with the reason in ERR. */
static int ttf_read_metrics(ttf_font *f, char *err, size_t errlen)
{
    const unsigned char *h = f->head.p;
    if (f->head.len < 54 || rd32(h + 12) != 0x5F0F3CF5u) {
        ap_err(err, errlen, "font has a bad 'head' table");
        return -1;
    }
    f->upem = rd16(h + 18);
    for (int i = 0; i < 4; i++)
        f->bbox[i] = rds16(h + 36 + 2 * i);
    f->loca_long = rds16(h + 50) == 1;
    if (f->upem < 16 || f->upem > 16384 || rds16(h + 50) < 0 || rds16(h + 50) > 1) {
        ap_err(err, errlen, "font has a bad 'head' table");
        return -1;
    }
    if (f->maxp.len < 6 || f->hhea.len < 36) {
        ap_err(err, errlen, "font has a bad 'maxp' or 'hhea' table");
        return -1;
    }
    f->num_glyphs = rd16(f->maxp.p + 4);
    f->num_hmetrics = rd16(f->hhea.p + 34);
    f->ascent = rds16(f->hhea.p + 4);
    f->descent = rds16(f->hhea.p + 6);
    size_t nlong = f->num_hmetrics, ng = f->num_glyphs;
    if (ng == 0 || nlong == 0 || nlong > ng || f->hmtx.len < 4 * nlong + 2 * (ng - nlong)) {
        ap_err(err, errlen, "font has a bad 'hmtx' table");
        return -1;
    }
    if (f->loca.len < (ng + 1) * (f->loca_long ? 4 : 2)) {
        ap_err(err, errlen, "font has a bad 'loca' table");
        return -1;
    }
    f->cap_height = f->ascent * 7 / 10;
    if (f->os2.p != NULL && f->os2.len >= 90 && rd16(f->os2.p) >= 2)
        f->cap_height = rds16(f->os2.p + 88);
    f->italic_angle = 0;
    if (f->post.p != NULL && f->post.len >= 32)
        f->italic_angle = (int32_t)rd32(f->post.p + 4) / 65536.0;
    return 0;
}

/* ttf_pick_cmap - choose the Unicode subtable of F: (3,10) or (0,x) format
 * 12 first, then (3,1) or (0,x) format 4.  0, or -1 with the reason. */
static int ttf_pick_cmap(ttf_font *f, char *err, size_t errlen)
{
    const unsigned char *c = f->cmap.p;
    size_t clen = f->cmap.len;
    int best = 0;
    if (clen < 4 || !in_range(4, 8 * (size_t)rd16(c + 2), clen)) {
        ap_err(err, errlen, "font has a bad 'cmap' table");
        return -1;
    }
    for (unsigned i = 0, n = rd16(c + 2); i < n; i++) {
        const unsigned char *r = c + 4 + 8 * (size_t)i;
        unsigned plat = rd16(r), enc = rd16(r + 2);
        size_t off = rd32(r + 4);
        if (!(plat == 0 || (plat == 3 && (enc == 1 || enc == 10))) || !in_range(off, 2, clen))
            continue;
        unsigned fmt = rd16(c + off);
        int score = fmt == 12 ? 2 : fmt == 4 ? 1 : 0;
        size_t need = fmt == 12 ? 16 : 14;
        if (score > best && in_range(off, need, clen)) {
            best = score;
            f->cmap_sub = c + off;
            f->cmap_sub_len = clen - off;
            f->cmap_fmt = (int)fmt;
        }
    }
    if (best == 0) {
        ap_err(err, errlen, "font has no Unicode 'cmap' subtable of format 4 or 12");
        return -1;
    }
    return 0;
}

/* ttf_cmap4 - the glyph of CP in the format 4 subtable S (LEN bytes), or 0. */
static unsigned ttf_cmap4(const unsigned char *s, size_t len, uint32_t cp)
{
    size_t segx2 = rd16(s + 6);
    if (cp > 0xFFFF || segx2 == 0 || !in_range(16, 4 * segx2, len))
        return 0;
    for (size_t i = 0; i < segx2; i += 2) {
        if (cp > rd16(s + 14 + i))
            continue;
        unsigned start = rd16(s + 16 + segx2 + i);
        unsigned delta = rd16(s + 16 + 2 * segx2 + i);
        size_t ro_pos = 16 + 3 * segx2 + i;
        unsigned ro = rd16(s + ro_pos);
        if (cp < start)
            return 0;
        if (ro == 0)
            return (cp + delta) & 0xFFFF;
        size_t pos = ro_pos + ro + 2 * (cp - start);
        if (!in_range(pos, 2, len))
            return 0;
        unsigned g = rd16(s + pos);
        return g == 0 ? 0 : (g + delta) & 0xFFFF;
    }
    return 0;
}

/* ttf_cmap12 - the glyph of CP in the format 12 subtable S, or 0. */
static unsigned ttf_cmap12(const unsigned char *s, size_t len, uint32_t cp)
{
    uint32_t n = rd32(s + 12);
    if (n > (len - 16) / 12)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *g = s + 16 + 12 * (size_t)i;
        uint32_t lo = rd32(g), hi = rd32(g + 4);
        if (cp >= lo && cp <= hi) {
            uint32_t gid = rd32(g + 8) + (cp - lo);
            return gid > 0xFFFF ? 0 : gid;
        }
    }
    return 0;
}

/* ttf_glyph_of - the glyph id for code point CP in F, 0 when there is none. */
static unsigned ttf_glyph_of(const ttf_font *f, uint32_t cp)
{
    unsigned g = f->cmap_fmt == 12 ? ttf_cmap12(f->cmap_sub, f->cmap_sub_len, cp)
                                   : ttf_cmap4(f->cmap_sub, f->cmap_sub_len, cp);
    return g < f->num_glyphs ? g : 0;
}

/* ttf_advance - the advance width of glyph G (< num_glyphs), font units. */
static unsigned ttf_advance(const ttf_font *f, unsigned g)
{
    size_t i = g < f->num_hmetrics ? g : f->num_hmetrics - 1;
    return rd16(f->hmtx.p + 4 * i);
}

/* ttf_glyph_loc - where glyph G's data lies in glyf.  0, or -1 when loca
 * is out of order or points past the glyf table. */
static int ttf_glyph_loc(const ttf_font *f, unsigned g, size_t *off, size_t *len)
{
    size_t a, b;
    if (f->loca_long) {
        a = rd32(f->loca.p + 4 * (size_t)g);
        b = rd32(f->loca.p + 4 * (size_t)g + 4);
    } else {
        a = 2 * (size_t)rd16(f->loca.p + 2 * (size_t)g);
        b = 2 * (size_t)rd16(f->loca.p + 2 * (size_t)g + 2);
    }
    if (b < a || b > f->glyf.len || (b > a && b - a < 10))
        return -1;
    *off = a;
    *len = b - a;
    return 0;
}

/* ttf_glyph_ybounds - widen *YMIN / *YMAX by glyph G's bounding box. */
static void ttf_glyph_ybounds(const ttf_font *f, unsigned g, int *ymin, int *ymax)
{
    size_t off, len;
    if (ttf_glyph_loc(f, g, &off, &len) < 0 || len == 0)
        return;
    int lo = rds16(f->glyf.p + off + 4), hi = rds16(f->glyf.p + off + 8);
    if (lo < *ymin)
        *ymin = lo;
    if (hi > *ymax)
        *ymax = hi;
}

/* ttf_close_composites - add to USED (one flag per glyph) every glyph that
 * a used composite glyph refers to, transitively.  STACK has room for
 * num_glyphs entries.  0, or -1 with the reason when a glyph is malformed. */
static int ttf_close_composites(const ttf_font *f, unsigned char *used, uint16_t *stack,
                                char *err, size_t errlen)
{
    size_t top = 0;
    for (unsigned g = 0; g < f->num_glyphs; g++)
        if (used[g])
            stack[top++] = (uint16_t)g;
    while (top > 0) {
        unsigned g = stack[--top];
        size_t off, len;
        if (ttf_glyph_loc(f, g, &off, &len) < 0)
            goto bad;
        if (len == 0 || rds16(f->glyf.p + off) >= 0)
            continue;
        const unsigned char *p = f->glyf.p + off;
        size_t q = 10;
        unsigned flags;
        do {
            if (!in_range(q, 4, len))
                goto bad;
            flags = rd16(p + q);
            unsigned c = rd16(p + q + 2);
            q += 4 + ((flags & 0x1) ? 4 : 2);
            q += (flags & 0x8) ? 2 : (flags & 0x40) ? 4 : (flags & 0x80) ? 8 : 0;
            if (q > len || c >= f->num_glyphs)
                goto bad;
            if (!used[c]) {
                used[c] = 1;
                stack[top++] = (uint16_t)c;
            }
        } while (flags & 0x20);
        continue;
bad:
        ap_err(err, errlen, "font has a malformed glyph %u", g);
        return -1;
    }
    return 0;
}

/* ttf_ps_name - the PostScript name of F (name id 6), restricted to
 * [A-Za-z0-9._-] and 63 bytes, into OUT; "Font" when it has none. */
static void ttf_ps_name(const ttf_font *f, char out[64])
{
    size_t k = 0;
    const unsigned char *t = f->name.p;
    if (t != NULL && f->name.len >= 6) {
        unsigned n = rd16(t + 2);
        size_t strs = rd16(t + 4);
        for (unsigned i = 0; i < n && k == 0 && in_range(6, 12 * ((size_t)i + 1), f->name.len);
             i++) {
            const unsigned char *r = t + 6 + 12 * (size_t)i;
            unsigned plat = rd16(r);
            size_t len = rd16(r + 8), off = strs + rd16(r + 10);
            if (rd16(r + 6) != 6 || (plat != 1 && plat != 3) || !in_range(off, len, f->name.len))
                continue;
            size_t step = plat == 3 ? 2 : 1;
            for (size_t j = step - 1; j < len && k < 63; j += step) {
                unsigned char c = t[off + j];
                if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.')
                    out[k++] = (char)c;
            }
        }
    }
    if (k == 0)
        memcpy(out, "Font", k = 4);
    out[k] = '\0';
}

/*
 * The font file is the same for every signature: the first mapping of each
 * file (path, inode, size, modification time) is kept for the life of the
 * process and lent to later calls.  At most TTF_CACHE files; beyond that,
 * each call maps its own.  A file changed on disk is mapped afresh.
 */
#define TTF_CACHE 4
static pthread_mutex_t ttf_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { char *path; dev_t dev; ino_t ino; off_t size; struct timespec mtime;
                const unsigned char *data; size_t len; } ttf_files[TTF_CACHE];

/* ttf_map_cached - the bytes of font file PATH into F: lent from the cache
 * (f->shared) or mapped for this call.  0, or buf_map_file's -1 / -2. */
static int ttf_map_cached(ttf_font *f, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return buf_map_file(path, AP_FONT_MAX_BYTES, &f->data, &f->len);
    pthread_mutex_lock(&ttf_lock);
    int i = 0, free_slot = -1;
    for (; i < TTF_CACHE; i++) {
        if (ttf_files[i].path == NULL) {
            if (free_slot < 0)
                free_slot = i;
        } else if (strcmp(ttf_files[i].path, path) == 0 && ttf_files[i].dev == st.st_dev &&
                   ttf_files[i].ino == st.st_ino && ttf_files[i].size == st.st_size &&
                   ttf_files[i].mtime.tv_sec == st.st_mtim.tv_sec &&
                   ttf_files[i].mtime.tv_nsec == st.st_mtim.tv_nsec) {
            break;
        }
    }
    int rc = 0;
    if (i < TTF_CACHE) {
        f->data = ttf_files[i].data;
        f->len = ttf_files[i].len;
        f->shared = 1;
    } else if ((rc = buf_map_file(path, AP_FONT_MAX_BYTES, &f->data, &f->len)) == 0 &&
               free_slot >= 0 && (ttf_files[free_slot].path = strdup(path)) != NULL) {
        ttf_files[free_slot].dev = st.st_dev;
        ttf_files[free_slot].ino = st.st_ino;
        ttf_files[free_slot].size = st.st_size;
        ttf_files[free_slot].mtime = st.st_mtim;
        ttf_files[free_slot].data = f->data;
        ttf_files[free_slot].len = f->len;
        f->shared = 1;
    }
    pthread_mutex_unlock(&ttf_lock);
    return rc;
}

/* ttf_close - release F's bytes (unless the cache lends them). */
static void ttf_close(ttf_font *f)
{
    if (f->data != NULL && !f->shared)
        buf_unmap_file(f->data, f->len);
    f->data = NULL;
}

/* ttf_open - map and parse the TrueType font at PATH into F (close with
 * ttf_close).  0, or -1 with the reason in ERR: unreadable, too big, not
 * a TrueType font, no Unicode cmap. */
static int ttf_open(ttf_font *f, const char *path, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    int rc = ttf_map_cached(f, path);
    if (rc == -2) {
        ap_err(err, errlen, "font %s is larger than %u MB", path, AP_FONT_MAX_BYTES >> 20);
        return -1;
    }
    if (rc < 0) {
        ap_err(err, errlen, "cannot read font %s: %s", path, strerror(errno));
        return -1;
    }
    char why[160];
    if (ttf_read_tables(f, why, sizeof why) < 0 || ttf_read_metrics(f, why, sizeof why) < 0 ||
        ttf_pick_cmap(f, why, sizeof why) < 0) {
        ap_err(err, errlen, "%s: %s", path, why);
        ttf_close(f);
        return -1;
    }
    return 0;
}

/* ---- TrueType: writing the subset ------------------------------------- */

typedef struct ttf_out_table {
    char tag[5];
    const unsigned char *p;
    size_t len;
} ttf_out_table;

/* ttf_checksum - the sfnt checksum of LEN bytes at P (zero-padded to 4). */
static uint32_t ttf_checksum(const unsigned char *p, size_t len)
{
    uint32_t sum = 0;
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        sum += (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 | (uint32_t)p[i + 2] << 8 | p[i + 3];
    if (i < len) {
        unsigned char w[4] = { 0, 0, 0, 0 };
        memcpy(w, p + i, len - i);
        sum += rd32(w);
    }
    return sum;
}

/* ttf_write_sfnt - lay out the N tables T (sorted by tag) as an sfnt file
 * into OUT, with checksums and head.checkSumAdjustment.  -1 when OOM. */
static int ttf_write_sfnt(const ttf_out_table *t, unsigned n, kyso_buf *out)
{
    unsigned char hdr[12 + 16 * 16];
    unsigned pow2 = 1, lg = 0;
    while (pow2 * 2 <= n) {
        pow2 *= 2;
        lg++;
    }
    wr32(hdr, 0x00010000u);
    wr16(hdr + 4, n);
    wr16(hdr + 6, pow2 * 16);
    wr16(hdr + 8, lg);
    wr16(hdr + 10, n * 16 - pow2 * 16);
    size_t off = 12 + 16 * (size_t)n, head_off = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned char *r = hdr + 12 + 16 * i;
        memcpy(r, t[i].tag, 4);
        wr32(r + 4, ttf_checksum(t[i].p, t[i].len));
        wr32(r + 8, (uint32_t)off);
        wr32(r + 12, (uint32_t)t[i].len);
        if (memcmp(t[i].tag, "head", 4) == 0)
            head_off = off;
        off += (t[i].len + 3) & ~(size_t)3;
    }
    static const unsigned char zero[4];
    buf_append(out, hdr, 12 + 16 * (size_t)n);
    for (unsigned i = 0; i < n; i++) {
        buf_append(out, t[i].p, t[i].len);
        buf_append(out, zero, ((t[i].len + 3) & ~(size_t)3) - t[i].len);
    }
    if (out->oom)
        return -1;
    uint32_t adj = 0xB1B0AFBAu - ttf_checksum((unsigned char *)out->p, out->len);
    wr32((unsigned char *)out->p + head_off + 8, adj);
    return 0;
}

/* ttf_subset - write into OUT a TrueType font with the glyphs of F marked
 * in USED (same glyph ids; the others empty): glyf and loca rebuilt (long
 * offsets), head/hhea/hmtx/maxp and cvt/fpgm/prep copied, post cut to
 * format 3.  0, or -1 when out of memory. */
static int ttf_subset(const ttf_font *f, const unsigned char *used, kyso_buf *out)
{
    size_t ng = f->num_glyphs, glen = 0;
    for (size_t g = 0; g < ng; g++) {
        size_t off, len;
        if (used[g] && ttf_glyph_loc(f, (unsigned)g, &off, &len) == 0)
            glen += (len + 3) & ~(size_t)3;
    }
    unsigned char *glyf = calloc(glen ? glen : 1, 1), *loca = malloc(4 * (ng + 1));
    unsigned char head[54], post[32];
    if (glyf == NULL || loca == NULL) {
        free(glyf);
        free(loca);
        return -1;
    }
    size_t pos = 0;
    for (size_t g = 0; g < ng; g++) {
        size_t off, len;
        wr32(loca + 4 * g, (uint32_t)pos);
        if (used[g] && ttf_glyph_loc(f, (unsigned)g, &off, &len) == 0) {
            memcpy(glyf + pos, f->glyf.p + off, len);
            pos += (len + 3) & ~(size_t)3;
        }
    }
    wr32(loca + 4 * ng, (uint32_t)pos);
    memcpy(head, f->head.p, 54);
    wr32(head + 8, 0);
    wr16(head + 50, 1);
    ttf_out_table t[10];
    unsigned n = 0;
#define TTF_ADD(tg, ptr, ln) do { if ((ptr) != NULL) { \
        memcpy(t[n].tag, tg, 5); t[n].p = (ptr); t[n].len = (ln); n++; } } while (0)
    TTF_ADD("cvt ", f->cvt.p, f->cvt.len);
    TTF_ADD("fpgm", f->fpgm.p, f->fpgm.len);
    TTF_ADD("glyf", glyf, pos);
    TTF_ADD("head", head, sizeof head);
    TTF_ADD("hhea", f->hhea.p, f->hhea.len);
    TTF_ADD("hmtx", f->hmtx.p, f->hmtx.len);
    TTF_ADD("loca", loca, 4 * (ng + 1));
    TTF_ADD("maxp", f->maxp.p, f->maxp.len);
    if (f->post.p != NULL && f->post.len >= 32) {
        memcpy(post, f->post.p, 32);
        wr32(post, 0x00030000u);
        TTF_ADD("post", post, sizeof post);
    }
    TTF_ADD("prep", f->prep.p, f->prep.len);
#undef TTF_ADD
    int rc = ttf_write_sfnt(t, n, out);
    free(glyf);
    free(loca);
    return rc;
}

/* ---- UTF-8 -------------------------------------------------------------- */

/* ap_utf8_decode - decode the NUL-terminated S into CP (room for MAX code
 * points), *N set to the count.  0; -1 on invalid UTF-8 (overlong forms,
 * surrogates and values past U+10FFFF included) or too long a text. */
static int ap_utf8_decode(const char *s, uint32_t *cp, size_t max, size_t *n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t k = 0;
    while (*p) {
        uint32_t c = *p, min;
        int more;
        if (c < 0x80) { more = 0; min = 0; }
        else if ((c & 0xE0) == 0xC0) { more = 1; min = 0x80; c &= 0x1F; }
        else if ((c & 0xF0) == 0xE0) { more = 2; min = 0x800; c &= 0x0F; }
        else if ((c & 0xF8) == 0xF0) { more = 3; min = 0x10000; c &= 0x07; }
        else return -1;
        p++;
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xC0) != 0x80)
                return -1;
            c = c << 6 | (*p & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF) || k == max)
            return -1;
        cp[k++] = c;
    }
    *n = k;
    return 0;
}

/* ---- PNG ---------------------------------------------------------------- */

typedef struct ap_png {
    png_structp png;
    png_infop info;
    const unsigned char *data;
    size_t len, pos;
    unsigned w, h, ch;          /* after the transformations: ch is 3 or 4 */
    unsigned char *pix;         /* h rows of w * ch bytes */
    png_bytep *rows;
    char msg[128];              /* libpng's reason */
} ap_png;

static void ap_png_error(png_structp png, png_const_charp msg)
{
    ap_png *d = png_get_error_ptr(png);
    snprintf(d->msg, sizeof d->msg, "%s", msg ? msg : "error");
    png_longjmp(png, 1);
}

static void ap_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void ap_png_read_fn(png_structp png, png_bytep out, size_t n)
{
    ap_png *d = png_get_io_ptr(png);
    if (!in_range(d->pos, n, d->len))
        png_error(png, "the file is truncated");
    memcpy(out, d->data + d->pos, n);
    d->pos += n;
}

/* ap_png_run - decode D->data into D->pix as 8-bit RGB or RGBA.  Everything
 * it allocates is kept in *D (not in locals, so a longjmp loses nothing);
 * the caller releases it.  0, or -1 with libpng's reason in D->msg. */
static int ap_png_run(ap_png *d)
{
    if (setjmp(png_jmpbuf(d->png)))
        return -1;
    png_set_read_fn(d->png, d, ap_png_read_fn);
    png_set_user_limits(d->png, AP_PNG_MAX_DIM, AP_PNG_MAX_DIM);
    png_set_chunk_malloc_max(d->png, AP_PNG_MAX_BYTES);
    png_read_info(d->png, d->info);
    int ct = png_get_color_type(d->png, d->info);
    png_set_expand(d->png);
    png_set_strip_16(d->png);
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(d->png);
    png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->info);
    d->w = png_get_image_width(d->png, d->info);
    d->h = png_get_image_height(d->png, d->info);
    d->ch = png_get_channels(d->png, d->info);
    if (png_get_bit_depth(d->png, d->info) != 8 || (d->ch != 3 && d->ch != 4) ||
        png_get_rowbytes(d->png, d->info) != (size_t)d->w * d->ch)
        png_error(d->png, "unexpected pixel layout");
    d->pix = malloc((size_t)d->w * d->h * d->ch);
    d->rows = malloc(d->h * sizeof *d->rows);
    if (d->pix == NULL || d->rows == NULL)
        png_error(d->png, "out of memory");
    for (size_t y = 0; y < d->h; y++)
        d->rows[y] = d->pix + y * d->w * d->ch;
    png_read_image(d->png, d->rows);
    png_read_end(d->png, NULL);
    return 0;
}

/* ap_png_decode - check and decode LEN bytes of PNG into *D (zeroed here;
 * release with ap_png_free).  0, or -1 with the reason in ERR: not a PNG,
 * more than 8 MB, wider or higher than 4096 pixels, corrupt, OOM. */
static int ap_png_decode(const unsigned char *png, size_t len, ap_png *d,
                         char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    if (png == NULL || len < 8 || png_sig_cmp(png, 0, 8) != 0) {
        ap_err(err, errlen, "seal image is not a PNG file");
        return -1;
    }
    if (len > AP_PNG_MAX_BYTES) {
        ap_err(err, errlen, "seal image is %zu bytes, more than the %u MB allowed", len,
               AP_PNG_MAX_BYTES >> 20);
        return -1;
    }
    if (len >= 24 && memcmp(png + 12, "IHDR", 4) == 0 &&
        (rd32(png + 16) > AP_PNG_MAX_DIM || rd32(png + 20) > AP_PNG_MAX_DIM)) {
        ap_err(err, errlen, "seal image is %lu x %lu pixels, more than %u allowed",
               (unsigned long)rd32(png + 16), (unsigned long)rd32(png + 20), AP_PNG_MAX_DIM);
        return -1;
    }
    d->data = png;
    d->len = len;
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, ap_png_error, ap_png_warning);
    if (d->png != NULL)
        d->info = png_create_info_struct(d->png);
    int rc = d->info != NULL ? ap_png_run(d) : -1;
    if (d->png != NULL)
        png_destroy_read_struct(&d->png, d->info ? &d->info : NULL, NULL);
    free(d->rows);
    d->rows = NULL;
    if (rc < 0) {
        free(d->pix);
        d->pix = NULL;
        ap_err(err, errlen, "seal image is not a valid PNG: %s",
               d->msg[0] ? d->msg : "out of memory");
    }
    return rc;
}

static void ap_png_free(ap_png *d)
{
    free(d->pix);
    d->pix = NULL;
}

/* ---- PDF helpers -------------------------------------------------------- */

/* ap_num - append V with at most 2 decimals, independent of the locale. */
static void ap_num(kyso_buf *b, double v)
{
    long long r = (long long)(v * 100 + (v < 0 ? -0.5 : 0.5));
    const char *sign = r < 0 ? "-" : "";
    if (r < 0)
        r = -r;
    if (r % 100 == 0)
        buf_printf(b, "%s%lld", sign, r / 100);
    else if (r % 10 == 0)
        buf_printf(b, "%s%lld.%lld", sign, r / 100, r % 100 / 10);
    else
        buf_printf(b, "%s%lld.%02lld", sign, r / 100, r % 100);
}

/* ap_compress - zlib-compress LEN bytes of P into a new buffer (*OUT,
 * *OLEN).  0, or -1 when out of memory. */
static int ap_compress(const void *p, size_t len, unsigned char **out, size_t *olen)
{
    if (len > ULONG_MAX / 2)
        return -1;
    uLongf n = compressBound((uLong)len);
    unsigned char *z = malloc(n);
    if (z == NULL)
        return -1;
    if (compress2(z, &n, p, (uLong)len, Z_DEFAULT_COMPRESSION) != Z_OK) {
        free(z);
        return -1;
    }
    *out = z;
    *olen = n;
    return 0;
}

/*
 * The same seal image and, for one organisation name, the same font subset
 * are compressed for every document signed: the last AP_ZCACHE results of
 * inputs of at least AP_ZCACHE_MIN bytes are kept, keyed by the SHA-256 of
 * the input.  Process-wide, guarded by a mutex; entries are never freed
 * while the process runs (a handful of small buffers).
 */
#define AP_ZCACHE 8
#define AP_ZCACHE_MIN 4096
static pthread_mutex_t ap_zlock = PTHREAD_MUTEX_INITIALIZER;
static struct { unsigned char key[32]; size_t len, zlen; unsigned char *z; unsigned long used; }
    ap_zcache[AP_ZCACHE];
static unsigned long ap_zclock;

/* ap_zcache_get - a copy of the cached compression of KEY (input LEN
 * bytes) into *OUT and *OLEN: 1; 0 when not cached (or out of memory). */
static int ap_zcache_get(const unsigned char key[32], size_t len, unsigned char **out,
                         size_t *olen)
{
    int hit = 0;
    pthread_mutex_lock(&ap_zlock);
    for (int i = 0; i < AP_ZCACHE && !hit; i++) {
        if (ap_zcache[i].z == NULL || ap_zcache[i].len != len ||
            memcmp(ap_zcache[i].key, key, 32) != 0)
            continue;
        if ((*out = malloc(ap_zcache[i].zlen)) != NULL) {
            memcpy(*out, ap_zcache[i].z, ap_zcache[i].zlen);
            *olen = ap_zcache[i].zlen;
            ap_zcache[i].used = ++ap_zclock;
            hit = 1;
        }
    }
    pthread_mutex_unlock(&ap_zlock);
    return hit;
}

/* ap_zcache_put - remember Z (ZLEN bytes) as the compression of KEY,
 * replacing the least recently used entry.  Nothing when out of memory. */
static void ap_zcache_put(const unsigned char key[32], size_t len, const unsigned char *z,
                          size_t zlen)
{
    unsigned char *copy = malloc(zlen);
    if (copy == NULL)
        return;
    memcpy(copy, z, zlen);
    pthread_mutex_lock(&ap_zlock);
    int victim = 0;
    for (int i = 1; i < AP_ZCACHE; i++)
        if (ap_zcache[i].used < ap_zcache[victim].used)
            victim = i;
    free(ap_zcache[victim].z);
    memcpy(ap_zcache[victim].key, key, 32);
    ap_zcache[victim].len = len;
    ap_zcache[victim].z = copy;
    ap_zcache[victim].zlen = zlen;
    ap_zcache[victim].used = ++ap_zclock;
    pthread_mutex_unlock(&ap_zlock);
}

/* ap_deflate - ap_compress, answered from the cache for inputs seen
 * before.  0, or -1 when out of memory. */
static int ap_deflate(const void *p, size_t len, unsigned char **out, size_t *olen)
{
    unsigned char key[32];
    int cacheable = len >= AP_ZCACHE_MIN && SHA256(p, len, key) != NULL;
    if (cacheable && ap_zcache_get(key, len, out, olen))
        return 0;
    if (ap_compress(p, len, out, olen) < 0)
        return -1;
    if (cacheable)
        ap_zcache_put(key, len, *out, *olen);
    return 0;
}

/* ap_stream - append to B a stream object: "<<DICT /Length n [/Filter]>>
 * stream ... endstream", Flate-compressed when FLATE.  -1 when OOM. */
static int ap_stream(kyso_buf *b, const char *dict, const void *p, size_t len, int flate)
{
    unsigned char *z = NULL;
    size_t zlen = len;
    if (flate && ap_deflate(p, len, &z, &zlen) < 0)
        return -1;
    buf_printf(b, "<<%s%s /Length %zu>>\nstream\n", dict, flate ? " /Filter /FlateDecode" : "",
               zlen);
    buf_append(b, z ? z : p, zlen);
    buf_printf(b, "\nendstream");
    free(z);
    return b->oom ? -1 : 0;
}

/* ---- text and layout ---------------------------------------------------- */

typedef struct ap_para {        /* one paragraph: glyphs and their characters */
    uint32_t *cp;
    uint16_t *gid;
    size_t n;
    size_t keep;                /* no line break at the spaces from here on */
} ap_para;

typedef struct ap_line {
    size_t para, start, end;
} ap_line;

typedef struct ap_text {
    ap_para para[4];
    size_t npara, nglyphs;
    ap_line *lines;             /* room for nglyphs + npara lines */
    size_t nlines;
    double size;                /* the font size chosen */
    int ymin, ymax;             /* vertical extent of the glyphs, font units */
} ap_text;

/* ap_text_add - decode the UTF-8 PREFIX followed by S as a new paragraph of
 * T, mapping each character to its glyph in F; when KEEP, S itself is kept
 * on one line if it can be.  0, or -1 with the reason: invalid UTF-8, a
 * control character, a character the font lacks, OOM. */
static int ap_text_add(ap_text *t, const ttf_font *f, const char *prefix, const char *s,
                       int keep, char *err, size_t errlen)
{
    size_t lp = strlen(prefix), ls = strlen(s), n1, n2;
    if (ls > AP_TEXT_MAX_CPS * 4 || t->nglyphs + lp + ls > AP_TEXT_MAX_CPS) {
        ap_err(err, errlen, "appearance text is too long");
        return -1;
    }
    ap_para *p = &t->para[t->npara];
    p->cp = malloc((lp + ls + 1) * sizeof *p->cp);
    p->gid = malloc((lp + ls + 1) * sizeof *p->gid);
    if (p->cp == NULL || p->gid == NULL) {
        free(p->cp);
        free(p->gid);
        ap_err(err, errlen, "out of memory");
        return -1;
    }
    t->npara++;
    if (ap_utf8_decode(prefix, p->cp, lp, &n1) < 0 ||
        ap_utf8_decode(s, p->cp + n1, lp + ls - n1, &n2) < 0) {
        ap_err(err, errlen, "appearance text is not valid UTF-8");
        return -1;
    }
    p->n = n1 + n2;
    p->keep = keep ? n1 : p->n;
    for (size_t i = 0; i < p->n; i++) {
        uint32_t c = p->cp[i] == 0xA0 ? 0x20 : p->cp[i];
        if (c < 0x20 || (c >= 0x7F && c < 0xA0)) {
            ap_err(err, errlen, "appearance text has the control character U+%04X",
                   (unsigned)c);
            return -1;
        }
        unsigned g = ttf_glyph_of(f, c);
        if (g == 0) {
            ap_err(err, errlen, "the font has no glyph for U+%04X", (unsigned)c);
            return -1;
        }
        p->cp[i] = c;
        p->gid[i] = (uint16_t)g;
        ttf_glyph_ybounds(f, g, &t->ymin, &t->ymax);
    }
    t->nglyphs += p->n;
    return 0;
}

static void ap_text_free(ap_text *t)
{
    for (size_t i = 0; i < t->npara; i++) {
        free(t->para[i].cp);
        free(t->para[i].gid);
    }
    free(t->lines);
    memset(t, 0, sizeof *t);
}

/* ap_wrap - break paragraph PI of T into lines no wider than MAXW font
 * units, appended to t->lines: at spaces, and inside a word only when
 * SPLIT.  0, or -1 when a word (or, with SPLIT, a glyph) does not fit. */
static int ap_wrap(ap_text *t, const ttf_font *f, size_t pi, double maxw, int split)
{
    const ap_para *p = &t->para[pi];
    size_t pos = 0;
    while (pos < p->n) {
        while (pos < p->n && p->cp[pos] == 0x20)
            pos++;
        if (pos == p->n)
            break;
        size_t start = pos, brk = 0, i;
        double w = 0;
        for (i = start; i < p->n; i++) {
            if (p->cp[i] == 0x20 && (i < p->keep || split))
                brk = i;
            double a = ttf_advance(f, p->gid[i]);
            if (w + a <= maxw || p->cp[i] == 0x20) {
                w += a;
                continue;
            }
            if (brk > start)
                i = brk;
            else if (!split || i == start)
                return -1;
            break;
        }
        size_t end = i;
        while (end > start && p->cp[end - 1] == 0x20)
            end--;
        t->lines[t->nlines++] = (ap_line){ pi, start, end };
        pos = i;
    }
    return 0;
}

/* ap_wrap_all - wrap all of T's paragraphs at font size S into a column TW
 * points wide (t->lines must have room).  Returns the height of the text
 * block in points, or -1 when a word (or a glyph, with SPLIT) is too wide. */
static double ap_wrap_all(ap_text *t, const ttf_font *f, double tw, double s, int split)
{
    t->nlines = 0;
    for (size_t i = 0; i < t->npara; i++)
        if (tw <= 0 || ap_wrap(t, f, i, tw * f->upem / s, split) < 0)
            return -1;
    if (t->nlines == 0)
        return 0;
    return (double)(t->nlines - 1) * AP_LEADING * s + (double)(t->ymax - t->ymin) / f->upem * s;
}

/* ap_layout - the largest font size, from MAXSIZE down to AP_MIN_SIZE by
 * quarter points, at which T's paragraphs wrap into a box of TW x TH
 * points, breaking words only when nothing else fits; sets t->size and
 * t->lines.  0; 1 when nothing fits; -1 when out of memory. */
static int ap_layout(ap_text *t, const ttf_font *f, double tw, double th, double maxsize)
{
    t->lines = malloc((t->nglyphs + t->npara + 1) * sizeof *t->lines);
    if (t->lines == NULL)
        return -1;
    for (int split = 0; split < 2; split++) {
        for (double s = maxsize; s >= AP_MIN_SIZE - 1e-9; s -= 0.25) {
            double bh = ap_wrap_all(t, f, tw, s, split);
            if (bh >= 0 && bh <= th) {
                t->size = s;
                return 0;
            }
        }
    }
    return 1;
}

/* ---- the PDF objects ---------------------------------------------------- */

enum { OBJ_FORM, OBJ_TYPE0, OBJ_CID, OBJ_DESC, OBJ_FILE, OBJ_TOUNI, OBJ_IMAGE, OBJ_SMASK,
       OBJ_COUNT };

typedef struct ap_ctx {
    const ap_spec *spec;
    ttf_font font;
    ap_text text;
    ap_png img;                 /* img.pix NULL: no seal image */
    int num[OBJ_COUNT];
    kyso_buf body[OBJ_COUNT];
    char *err;
    size_t errlen;
} ap_ctx;

/* ap_font_used - mark in USED the glyphs of c->text (and glyph 0), note
 * in UNI the first code point each stands for, and make the subset tag
 * ("ABCDEF+PostScriptName", from a hash of the glyphs) in TAGGED. */
static void ap_font_used(ap_ctx *c, unsigned char *used, uint32_t *uni, char *tagged, size_t n)
{
    const ttf_font *f = &c->font;
    uint32_t h = 2166136261u;
    char ps[64];
    for (size_t i = 0; i < c->text.npara; i++)
        for (size_t j = 0; j < c->text.para[i].n; j++) {
            unsigned g = c->text.para[i].gid[j];
            if (!uni[g])
                uni[g] = c->text.para[i].cp[j];
            used[g] = 1;
            h = (h ^ g) * 16777619u;
        }
    used[0] = 1;
    /* the time changes with every signature: keep its characters in every
     * subset, so that the subset of one organisation is always the same
     * bytes (and its compression is cached, see ap_deflate) */
    for (const char *k = "0123456789/:+-. "; *k; k++) {
        unsigned g = ttf_glyph_of(f, (uint32_t)(unsigned char)*k);
        if (g)
            used[g] = 1;
    }
    ttf_ps_name(f, ps);
    for (int i = 0; i < 6; i++, h /= 26)
        tagged[i] = (char)('A' + h % 26);
    snprintf(tagged + 6, n - 6, "+%s", ps);
}

/* ap_font_dicts - the FontDescriptor, the CIDFontType2 (with /W for the
 * glyphs of UNI) and the Type0 font dictionaries. */
static void ap_font_dicts(ap_ctx *c, const uint32_t *uni, const char *tagged)
{
    const ttf_font *f = &c->font;
    double k = 1000.0 / f->upem;
    kyso_buf *b = &c->body[OBJ_DESC];
    buf_printf(b, "<</Type /FontDescriptor /FontName /%s /Flags 4 /FontBBox [", tagged);
    for (int i = 0; i < 4; i++) {
        ap_num(b, f->bbox[i] * k);
        buf_printf(b, i < 3 ? " " : "] /ItalicAngle ");
    }
    ap_num(b, f->italic_angle);
    buf_printf(b, " /Ascent %.0f /Descent %.0f /CapHeight %.0f /StemV 80 /FontFile2 %d 0 R>>",
               f->ascent * k, f->descent * k, f->cap_height * k, c->num[OBJ_FILE]);

    b = &c->body[OBJ_CID];
    buf_printf(b, "<</Type /Font /Subtype /CIDFontType2 /BaseFont /%s /CIDSystemInfo "
               "<</Registry (Adobe) /Ordering (Identity) /Supplement 0>> /FontDescriptor "
               "%d 0 R /CIDToGIDMap /Identity /DW 1000 /W [", tagged, c->num[OBJ_DESC]);
    for (unsigned g = 0; g < f->num_glyphs; g++)
        if (uni[g]) {
            buf_printf(b, "%u [", g);
            ap_num(b, ttf_advance(f, g) * k);
            buf_printf(b, "] ");
        }
    buf_printf(b, "]>>");

    b = &c->body[OBJ_TYPE0];
    buf_printf(b, "<</Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H "
               "/DescendantFonts [%d 0 R] /ToUnicode %d 0 R>>", tagged, c->num[OBJ_CID],
               c->num[OBJ_TOUNI]);
}

/* ap_tounicode - the ToUnicode CMap stream mapping each glyph of UNI back
 * to its code point, so that the text can be copied and searched.  0, or
 * -1 when out of memory. */
static int ap_tounicode(ap_ctx *c, const uint32_t *uni)
{
    const ttf_font *f = &c->font;
    kyso_buf cm = { 0 };
    buf_printf(&cm, "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
               "/CIDSystemInfo <</Registry (Adobe) /Ordering (UCS) /Supplement 0>> def\n"
               "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
               "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n");
    for (unsigned g = 0, left = 0; g < f->num_glyphs; g++) {
        if (!uni[g])
            continue;
        if (left == 0) {
            unsigned m = 0;
            for (unsigned j = g; j < f->num_glyphs && m < 100; j++)
                m += uni[j] != 0;
            buf_printf(&cm, "%u beginbfchar\n", left = m);
        }
        uint32_t u = uni[g];
        if (u < 0x10000)
            buf_printf(&cm, "<%04X> <%04X>\n", g, (unsigned)u);
        else
            buf_printf(&cm, "<%04X> <%04X%04X>\n", g, (unsigned)(0xD800 + ((u - 0x10000) >> 10)),
                       (unsigned)(0xDC00 + ((u - 0x10000) & 0x3FF)));
        if (--left == 0)
            buf_printf(&cm, "endbfchar\n");
    }
    buf_printf(&cm, "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    int rc = cm.oom || ap_stream(&c->body[OBJ_TOUNI], "", cm.p, cm.len, 1) < 0 ? -1 : 0;
    buf_free(&cm);
    return rc;
}

/* ap_font_objects - the Type0 font, its CIDFontType2, descriptor, subset
 * font file and ToUnicode CMap for the glyphs of c->text.  0, or -1 with
 * c->err (out of memory, a composite glyph that cannot be followed). */
static int ap_font_objects(ap_ctx *c)
{
    const ttf_font *f = &c->font;
    unsigned char *used = calloc(f->num_glyphs, 1);
    uint32_t *uni = calloc(f->num_glyphs, sizeof *uni);
    uint16_t *stack = malloc(f->num_glyphs * sizeof *stack);
    kyso_buf sf = { 0 };
    char tagged[72], d[64];
    int rc = -1;
    if (used == NULL || uni == NULL || stack == NULL)
        goto oom;
    ap_font_used(c, used, uni, tagged, sizeof tagged);
    if (ttf_close_composites(f, used, stack, c->err, c->errlen) < 0)
        goto out;
    if (ttf_subset(f, used, &sf) < 0)
        goto oom;
    snprintf(d, sizeof d, " /Length1 %zu", sf.len);
    ap_stream(&c->body[OBJ_FILE], d, sf.p, sf.len, 1);
    ap_font_dicts(c, uni, tagged);
    if (ap_tounicode(c, uni) < 0)
        goto oom;
    rc = 0;
    goto out;
oom:
    ap_err(c->err, c->errlen, "out of memory");
out:
    free(used);
    free(uni);
    free(stack);
    buf_free(&sf);
    return rc;
}

/* ap_image_objects - the RGB image of c->img and, when it has an alpha
 * channel, its /DeviceGray soft mask.  0, or -1 when out of memory. */
static int ap_image_objects(ap_ctx *c)
{
    const ap_png *d = &c->img;
    size_t npix = (size_t)d->w * d->h;
    unsigned char *rgb = malloc(npix * 3), *alpha = d->ch == 4 ? malloc(npix) : NULL;
    char dict[160];
    int rc = -1;
    if (rgb == NULL || (d->ch == 4 && alpha == NULL))
        goto out;
    for (size_t i = 0; i < npix; i++) {
        memcpy(rgb + 3 * i, d->pix + d->ch * i, 3);
        if (alpha)
            alpha[i] = d->pix[d->ch * i + 3];
    }
    if (alpha) {
        snprintf(dict, sizeof dict, "/Type /XObject /Subtype /Image /Width %u /Height %u "
                 "/ColorSpace /DeviceGray /BitsPerComponent 8", d->w, d->h);
        if (ap_stream(&c->body[OBJ_SMASK], dict, alpha, npix, 1) < 0)
            goto out;
    }
    int k = snprintf(dict, sizeof dict, "/Type /XObject /Subtype /Image /Width %u /Height %u "
                     "/ColorSpace /DeviceRGB /BitsPerComponent 8", d->w, d->h);
    if (alpha)
        snprintf(dict + k, sizeof dict - (size_t)k, " /SMask %d 0 R", c->num[OBJ_SMASK]);
    rc = ap_stream(&c->body[OBJ_IMAGE], dict, rgb, npix * 3, 1);
out:
    if (rc < 0)
        ap_err(c->err, c->errlen, "out of memory");
    free(rgb);
    free(alpha);
    return rc;
}

/* ap_draw_text - append to B the BT..ET that shows c->text's lines in the
 * box at (X, Y) of W x H points, vertically centred, left-aligned. */
static void ap_draw_text(ap_ctx *c, kyso_buf *b, double x, double y, double h)
{
    const ap_text *t = &c->text;
    double s = t->size, up = c->font.upem;
    double block = (double)(t->nlines - 1) * AP_LEADING * s + (t->ymax - t->ymin) * s / up;
    double base = y + (h + block) / 2 - t->ymax * s / up;
    buf_printf(b, "BT\n%s rg\n/F1 ", c->spec->kind == AP_SEAL ? "0 0 0.55" : "0 0 0");
    ap_num(b, s);
    buf_printf(b, " Tf\n");
    for (size_t i = 0; i < t->nlines; i++, base -= AP_LEADING * s) {
        const ap_line *l = &t->lines[i];
        buf_printf(b, "1 0 0 1 ");
        ap_num(b, x);
        buf_printf(b, " ");
        ap_num(b, base);
        buf_printf(b, " Tm <");
        for (size_t j = l->start; j < l->end; j++)
            buf_printf(b, "%04X", t->para[l->para].gid[j]);
        buf_printf(b, "> Tj\n");
    }
    buf_printf(b, "ET\n");
}

/* ap_image_box - where the seal goes in a W x H box: fitting the height
 * (less the padding), at most 45% of the width, keeping the aspect ratio. */
static void ap_image_box(unsigned pw, unsigned ph, double w, double h, double *iw, double *ih)
{
    *ih = h - 2 * AP_PAD;
    *iw = *ih * pw / ph;
    if (*iw > 0.45 * w) {
        *iw = 0.45 * w;
        *ih = *iw * ph / pw;
    }
}

/* ap_form_object - lay out the text beside the seal (if any) and write the
 * Form XObject.  0, or -1 with the reason (text does not fit, OOM). */
static int ap_form_object(ap_ctx *c)
{
    const ap_spec *sp = c->spec;
    double tx = AP_PAD, iw = 0, ih = 0;
    if (c->img.pix != NULL) {
        ap_image_box(c->img.w, c->img.h, sp->w, sp->h, &iw, &ih);
        tx = AP_PAD + iw + 2 * AP_PAD;
    }
    int lr = ap_layout(&c->text, &c->font, sp->w - tx - AP_PAD, sp->h - 2 * AP_PAD, 10);
    if (lr != 0) {
        ap_err(c->err, c->errlen, lr < 0 ? "out of memory" : "appearance box %.0f x %.0f pt "
               "is too small for the text", sp->w, sp->h);
        return -1;
    }
    kyso_buf cs = { 0 };
    buf_printf(&cs, "q\n0 0 ");
    ap_num(&cs, sp->w);
    buf_printf(&cs, " ");
    ap_num(&cs, sp->h);
    buf_printf(&cs, " re W n\n");
    if (c->img.pix != NULL) {
        buf_printf(&cs, "q ");
        ap_num(&cs, iw);
        buf_printf(&cs, " 0 0 ");
        ap_num(&cs, ih);
        buf_printf(&cs, " ");
        ap_num(&cs, AP_PAD);
        buf_printf(&cs, " ");
        ap_num(&cs, (sp->h - ih) / 2);
        buf_printf(&cs, " cm /Im1 Do Q\n");
    }
    ap_draw_text(c, &cs, tx, AP_PAD, sp->h - 2 * AP_PAD);
    buf_printf(&cs, "Q\n");

    kyso_buf d = { 0 };
    buf_printf(&d, "/Type /XObject /Subtype /Form /BBox [0 0 ");
    ap_num(&d, sp->w);
    buf_printf(&d, " ");
    ap_num(&d, sp->h);
    buf_printf(&d, "] /Resources <</Font <</F1 %d 0 R>>", c->num[OBJ_TYPE0]);
    if (c->img.pix != NULL)
        buf_printf(&d, " /XObject <</Im1 %d 0 R>>", c->num[OBJ_IMAGE]);
    buf_printf(&d, ">>");
    int rc = -1;
    if (!cs.oom && !d.oom)
        rc = ap_stream(&c->body[OBJ_FORM], d.p, cs.p, cs.len, 1);
    if (rc < 0)
        ap_err(c->err, c->errlen, "out of memory");
    buf_free(&cs);
    buf_free(&d);
    return rc;
}

/* ap_collect_text - the paragraphs of SPEC's kind into c->text.  0, or -1. */
static int ap_collect_text(ap_ctx *c)
{
    const ap_spec *sp = c->spec;
    ap_text *t = &c->text;
    t->ymin = c->font.descent;
    t->ymax = c->font.ascent;
    if (sp->org_name == NULL || sp->org_name[0] == '\0') {
        ap_err(c->err, c->errlen, "no organisation name for the appearance");
        return -1;
    }
    if (sp->kind == AP_SEAL) {
        if (ap_text_add(t, &c->font, "Ký bởi: ", sp->org_name, 0, c->err, c->errlen) < 0)
            return -1;
        if (sp->time_text && ap_text_add(t, &c->font, "Thời gian ký: ", sp->time_text, 1,
                                         c->err, c->errlen) < 0)
            return -1;
        return 0;
    }
    if (sp->doc_number && ap_text_add(t, &c->font, "Số: ", sp->doc_number, 1,
                                      c->err, c->errlen) < 0)
        return -1;
    if (sp->time_text && ap_text_add(t, &c->font, "Thời gian ký: ", sp->time_text, 1,
                                     c->err, c->errlen) < 0)
        return -1;
    return ap_text_add(t, &c->font, "", sp->org_name, 0, c->err, c->errlen);
}

/* ap_commit - add the bodies of C to OUT under their numbers; on failure
 * take back what was added.  0, or -1 when out of memory. */
static int ap_commit(ap_ctx *c, pdfw_objs *out)
{
    size_t n0 = out->n;
    for (int i = 0; i < OBJ_COUNT; i++) {
        if (c->body[i].len == 0)
            continue;
        if (pdfw_add(out, c->num[i], c->body[i].p, c->body[i].len) < 0) {
            while (out->n > n0)
                free(out->v[--out->n].data);
            ap_err(c->err, c->errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* ---- the interface ------------------------------------------------------ */

int ap_build(const ap_spec *spec, pdfw_objs *out, int *xobject, char *err, size_t errlen)
{
    ap_ctx c;
    memset(&c, 0, sizeof c);
    c.spec = spec;
    c.err = err;
    c.errlen = errlen;
    if (spec->w < 10 || spec->h < 10 || spec->w > 14400 || spec->h > 14400) {
        ap_err(err, errlen, "appearance box %.0f x %.0f pt is out of range", spec->w, spec->h);
        return -1;
    }
    if (spec->kind == AP_SEAL && spec->png != NULL &&
        ap_png_decode(spec->png, spec->png_len, &c.img, err, errlen) < 0)
        return -1;
    int rc = -1, next0 = out->next_num;
    if (ttf_open(&c.font, spec->font_path ? spec->font_path : AP_DEFAULT_FONT, err, errlen) < 0)
        goto done;
    for (int i = 0; i < OBJ_COUNT; i++)
        c.num[i] = i < OBJ_IMAGE || (i == OBJ_IMAGE && c.img.pix) ||
                   (i == OBJ_SMASK && c.img.ch == 4) ? pdfw_new_num(out) : 0;
    if (ap_collect_text(&c) < 0 || ap_font_objects(&c) < 0 ||
        (c.img.pix != NULL && ap_image_objects(&c) < 0) || ap_form_object(&c) < 0 ||
        ap_commit(&c, out) < 0)
        goto done;
    *xobject = c.num[OBJ_FORM];
    rc = 0;
done:
    if (rc < 0)
        out->next_num = next0;
    for (int i = 0; i < OBJ_COUNT; i++)
        buf_free(&c.body[i]);
    ap_text_free(&c.text);
    ap_png_free(&c.img);
    ttf_close(&c.font);
    return rc;
}

/* ap_text_height - the height, in points, of SPEC's text at 10 pt in a
 * column TW points wide; -1 when its font or text cannot be used. */
static double ap_text_height(const ap_spec *spec, double tw)
{
    ap_ctx c;
    char why[200];
    double bh = -1;
    memset(&c, 0, sizeof c);
    c.spec = spec;
    c.err = why;
    c.errlen = sizeof why;
    if (ttf_open(&c.font, spec->font_path ? spec->font_path : AP_DEFAULT_FONT,
                 why, sizeof why) < 0)
        return -1;
    if (ap_collect_text(&c) == 0) {
        c.text.lines = malloc((c.text.nglyphs + c.text.npara + 1) * sizeof *c.text.lines);
        if (c.text.lines != NULL)
            bh = ap_wrap_all(&c.text, &c.font, tw, 10, 1);
    }
    ap_text_free(&c.text);
    ttf_close(&c.font);
    return bh;
}

void ap_default_size(const ap_spec *spec, double *w, double *h)
{
    if (spec->kind == AP_SEAL) {
        *w = spec->png ? 220 : 160;
        *h = 70;
        return;
    }
    double bh = ap_text_height(spec, 200 - 2 * AP_PAD);
    *w = 200;
    *h = bh < 0 ? 50 : (double)(long)(bh + 2 * AP_PAD + 1.99);
    if (*h < 30)
        *h = 30;
    if (*h > 200)
        *h = 200;
}

int ap_check_png(const unsigned char *png, size_t len, char *err, size_t errlen)
{
    ap_png d;
    if (ap_png_decode(png, len, &d, err, errlen) < 0)
        return -1;
    ap_png_free(&d);
    return 0;
}
