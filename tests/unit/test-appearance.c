/*
 * test-appearance.c - the signature appearance: builds seals (RGBA PNG,
 * palette PNG with tRNS, 16-bit gray PNG, no PNG) and an attachment
 * stamp, wraps each in a one-page PDF written here, and checks them with
 * qpdf --check, pdftotext (the Vietnamese comes back through ToUnicode),
 * pdffonts (an embedded CID TrueType subset) and pdftoppm (renders; the
 * PNG stays in tests/out/sign/ for a person to look at; the ink stays in
 * the box).  Checks the subset font file itself (checksums, size) and
 * the bad inputs (each leaves the object list as it was).  A check needing
 * a missing tool is reported as skipped.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <png.h>
#include <zlib.h>
#include "appearance.h"
#include "buf.h"
#include "../unit/tap.h"

#define ORG "Sở Thông tin và Truyền thông tỉnh Khánh Hòa"
#define ORG_LONG "Ủy ban nhân dân tỉnh Khánh Hòa, Sở Tài nguyên và Môi trường, " \
    "Văn phòng Đăng ký đất đai tỉnh Khánh Hòa, Chi nhánh Nha Trang"
#define TIME "30/11/2026 14:05:09 +07:00"

static char outdir[512];
static const char *font;        /* a font with Vietnamese, found in main() */

/* skip - report check text as skipped (the tool is missing). */
static void skip(const char *what)
{
    printf("ok %d - # SKIP %s\n", ++tap_n, what);
}

static int have(const char *tool)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

/* slurp - the whole file PATH, NUL-terminated (caller frees), or NULL. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    kyso_buf b = { 0 };
    char chunk[65536];
    size_t n;
    if (f == NULL)
        return NULL;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    if (len)
        *len = b.len;
    if (b.p == NULL)
        buf_append(&b, "", 0);
    return buf_steal(&b);
}

/* squash - collapse runs of white space in S to one space, in place. */
static void squash(char *s)
{
    char *w = s;
    int sp = 0;
    for (char *r = s; *r; r++) {
        if (*r == ' ' || *r == '\n' || *r == '\t' || *r == '\r' || *r == '\f') {
            sp = 1;
            continue;
        }
        if (sp && w > s)
            *w++ = ' ';
        sp = 0;
        *w++ = *r;
    }
    *w = '\0';
}

/* ---- PNGs made here ---------------------------------------------------- */

static void png_write_cb(png_structp png, png_bytep p, size_t n)
{
    buf_append(png_get_io_ptr(png), p, n);
}

static void png_flush_cb(png_structp png) { (void)png; }

/* seal_pixel - a red seal: ring, inner ring and a star-ish centre; 0 means
 * transparent, 1 red ink, 2 a lighter red. */
static int seal_pixel(int x, int y, int n)
{
    double cx = x - n / 2.0 + 0.5, cy = y - n / 2.0 + 0.5, r = n / 2.0;
    double d2 = cx * cx + cy * cy;
    if (d2 > r * r * 0.98)
        return 0;
    if (d2 > r * r * 0.80)
        return 1;
    if (d2 > r * r * 0.60 && d2 < r * r * 0.64)
        return 1;
    if (d2 < r * r * 0.06 || (cx > -2 && cx < 2 && d2 < r * r * 0.4) ||
        (cy > -2 && cy < 2 && d2 < r * r * 0.4))
        return 1;
    return ((x / 6 + y / 6) % 2) ? 0 : 2;
}

/* make_png - a N x N seal PNG: TYPE 0 RGBA, 1 palette + tRNS, 2 16-bit
 * gray, 3 interlaced RGB; into B.  Returns 0 or -1. */
static int make_png(int type, int n, kyso_buf *b)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    int bpp = type == 0 ? 4 : type == 1 ? 1 : type == 2 ? 2 : 3;
    unsigned char *pix = calloc((size_t)n * n, (size_t)bpp);
    png_bytep *rows = calloc((size_t)n, sizeof *rows);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(pix);
        free(rows);
        return -1;
    }
    png_set_write_fn(png, b, png_write_cb, png_flush_cb);
    static const int ct[] = { PNG_COLOR_TYPE_RGBA, PNG_COLOR_TYPE_PALETTE,
                              PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_RGB };
    png_set_IHDR(png, info, (png_uint_32)n, (png_uint_32)n, type == 2 ? 16 : 8, ct[type],
                 type == 3 ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (type == 1) {
        png_color pal[3] = { { 255, 255, 255 }, { 200, 16, 30 }, { 240, 140, 140 } };
        png_byte trns[1] = { 0 };
        png_set_PLTE(png, info, pal, 3);
        png_set_tRNS(png, info, trns, 1, NULL);
    }
    for (int y = 0; y < n; y++) {
        rows[y] = pix + (size_t)y * n * bpp;
        for (int x = 0; x < n; x++) {
            int v = seal_pixel(x, y, n);
            unsigned char *p = rows[y] + (size_t)x * bpp;
            if (type == 0) {
                p[0] = v == 1 ? 200 : 240; p[1] = v == 1 ? 16 : 140; p[2] = v == 1 ? 30 : 140;
                p[3] = v == 0 ? 0 : v == 1 ? 255 : 160;
            } else if (type == 1) {
                p[0] = (unsigned char)v;
            } else if (type == 2) {
                p[0] = v == 0 ? 255 : v == 1 ? 40 : 150; p[1] = 0x80;
            } else {
                p[0] = v == 0 ? 255 : 200; p[1] = v == 0 ? 255 : 16; p[2] = v == 0 ? 255 : 30;
            }
        }
    }
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(pix);
    free(rows);
    return b->oom ? -1 : 0;
}

/* ---- the PDF around it --------------------------------------------------- */

/* write_pdf - a one-page PDF at PATH showing form XOBJ of OBJS (box W x H)
 * at (20, 20) on a page 40 pt larger, with a thin grey frame 2 pt outside
 * the box.  Objects 1-4 are the catalog, pages, page and its content.
 * Returns 0 or -1. */
static int write_pdf(const char *path, const pdfw_objs *objs, int xobj, double w, double h)
{
    kyso_buf b = { 0 }, cs = { 0 };
    size_t off[256] = { 0 };
    int maxnum = 4;
    buf_printf(&cs, "q 0.75 G 0.5 w 18 18 %.2f %.2f re S Q\nq 1 0 0 1 20 20 cm /X0 Do Q\n",
               w + 4, h + 4);
    buf_printf(&b, "%%PDF-1.7\n%%\xe2\xe3\xcf\xd3\n");
    off[1] = b.len;
    buf_printf(&b, "1 0 obj\n<</Type /Catalog /Pages 2 0 R>>\nendobj\n");
    off[2] = b.len;
    buf_printf(&b, "2 0 obj\n<</Type /Pages /Kids [3 0 R] /Count 1>>\nendobj\n");
    off[3] = b.len;
    buf_printf(&b, "3 0 obj\n<</Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] "
               "/Resources <</XObject <</X0 %d 0 R>>>> /Contents 4 0 R>>\nendobj\n",
               w + 40, h + 40, xobj);
    off[4] = b.len;
    buf_printf(&b, "4 0 obj\n<</Length %zu>>\nstream\n%s\nendstream\nendobj\n", cs.len, cs.p);
    for (size_t i = 0; i < objs->n; i++) {
        int num = objs->v[i].num;
        if (num < 5 || num > 255)
            return -1;
        off[num] = b.len;
        if (num > maxnum)
            maxnum = num;
        buf_printf(&b, "%d 0 obj\n", num);
        buf_append(&b, objs->v[i].data, objs->v[i].len);
        buf_printf(&b, "\nendobj\n");
    }
    size_t xref = b.len;
    buf_printf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", maxnum + 1);
    for (int i = 1; i <= maxnum; i++) {
        if (off[i])
            buf_printf(&b, "%010zu 00000 n\r\n", off[i]);
        else
            buf_printf(&b, "0000000000 00000 f\r\n");
    }
    buf_printf(&b, "trailer\n<</Size %d /Root 1 0 R>>\nstartxref\n%zu\n%%%%EOF\n",
               maxnum + 1, xref);
    FILE *f = fopen(path, "wb");
    int rc = f && !b.oom && fwrite(b.p, 1, b.len, f) == b.len ? 0 : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    buf_free(&b);
    buf_free(&cs);
    return rc;
}

/* find_obj - the first object of OBJS whose body contains KEY, or NULL. */
static const pdfw_obj *find_obj(const pdfw_objs *o, const char *key)
{
    for (size_t i = 0; i < o->n; i++)
        if (memmem(o->v[i].data, o->v[i].len, key, strlen(key)))
            return &o->v[i];
    return NULL;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t sfnt_sum(const unsigned char *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i < len; i += 4) {
        unsigned char w[4] = { 0 };
        memcpy(w, p + i, len - i < 4 ? len - i : 4);
        s += be32(w);
    }
    return s;
}

/* check_fontfile - the FontFile2 of OBJS: Length1 matches the inflated
 * size, table and whole-file checksums hold, much smaller than the font. */
static void check_fontfile(const pdfw_objs *o, const char *name, const char *fontpath)
{
    const pdfw_obj *ff = find_obj(o, "/Length1 ");
    ok(ff != NULL, "%s: there is a FontFile2 stream", name);
    if (ff == NULL)
        return;
    const char *d = (const char *)ff->data;
    size_t len1 = strtoul(strstr(d, "/Length1 ") + 9, NULL, 10);
    size_t zlen = strtoul(strstr(d, "/Length ") + 8, NULL, 10);
    const char *st = strstr(d, "stream\n");
    uLongf n = len1;
    unsigned char *sf = malloc(len1 + 1);
    int zrc = st ? uncompress(sf, &n, (const unsigned char *)st + 7, zlen) : -1;
    ok(zrc == Z_OK && n == len1, "%s: FontFile2 inflates to /Length1 = %zu bytes", name, len1);
    struct stat sb;
    long full = stat(fontpath, &sb) == 0 ? (long)sb.st_size : 0;
    ok(zlen < 60000 && len1 < (size_t)full / 3, "%s: subset %zu bytes (%zu compressed) vs "
       "font %ld bytes", name, len1, zlen, full);
    int good = zrc == Z_OK && n >= 12 && sfnt_sum(sf, n) == 0xB1B0AFBAu;
    unsigned nt = good ? (unsigned)(sf[4] << 8 | sf[5]) : 0;
    int have_glyf = 0;
    for (unsigned i = 0; good && i < nt; i++) {
        const unsigned char *r = sf + 12 + 16 * i;
        uint32_t off = be32(r + 8), len = be32(r + 12);
        if (12 + 16 * (i + 1) > n || off > n || len > n - off) {
            good = 0;
            break;
        }
        have_glyf |= memcmp(r, "glyf", 4) == 0;
        if (memcmp(r, "head", 4) != 0 && sfnt_sum(sf + off, len) != be32(r + 4))
            good = 0;
    }
    ok(good && have_glyf, "%s: subset sfnt has valid checksums (%u tables)", name, nt);
    free(sf);
}

/* run - system(CMD), true when it exits 0. */
static int run(const char *cmd)
{
    int rc = system(cmd);
    return rc == 0;
}

/* check_pdf - the external tool checks of PDF (box W x H at 20,20):
 * TEXTS are what pdftotext must give back (white space squashed). */
static void check_pdf(const char *pdf, const char *name, double w, double h,
                      const char *const *texts, const char *fontname)
{
    char cmd[4096], path[700];
    if (have("qpdf")) {
        snprintf(cmd, sizeof cmd, "qpdf --check '%s' >'%s.qpdf' 2>&1", pdf, pdf);
        ok(run(cmd), "%s: qpdf --check passes", name);
    } else
        skip("qpdf missing");
    if (have("pdftotext")) {
        snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 '%s' '%s.txt' 2>'%s.err'", pdf, pdf, pdf);
        int rc = run(cmd);
        snprintf(path, sizeof path, "%s.txt", pdf);
        char *txt = slurp(path, NULL);
        if (txt)
            squash(txt);
        for (size_t i = 0; texts[i]; i++)
            ok(rc && txt && strstr(txt, texts[i]), "%s: pdftotext gives \"%s\"", name, texts[i]);
        if (txt && !strstr(txt, texts[0]))
            printf("# got: %s\n", txt);
        free(txt);
    } else
        skip("pdftotext missing");
    if (have("pdffonts")) {
        snprintf(cmd, sizeof cmd, "pdffonts '%s' >'%s.fonts' 2>&1", pdf, pdf);
        int rc = run(cmd);
        snprintf(path, sizeof path, "%s.fonts", pdf);
        char *out = slurp(path, NULL);
        char *line = out ? strstr(out, fontname) : NULL;
        int good = rc && line && line > out && line[-1] == '\n' && line[6] == '+' &&
                   strstr(line, "CID TrueType") && strstr(line, "Identity-H") &&
                   strstr(line, "yes yes yes");
        for (int i = 0; good && i < 6; i++)
            good = line[i] >= 'A' && line[i] <= 'Z';
        ok(good, "%s: pdffonts: %s CID TrueType, embedded subset, ToUnicode", name, fontname);
        if (!good && out)
            printf("# %s", out);
        free(out);
    } else
        skip("pdffonts missing");
    if (!have("pdftoppm")) {
        skip("pdftoppm missing");
        skip("pdftoppm missing");
        return;
    }
    snprintf(cmd, sizeof cmd, "pdftoppm -png -r 100 -singlefile '%s' '%s/%s' 2>'%s.err' && "
             "test ! -s '%s.err'", pdf, outdir, name, pdf, pdf);
    ok(run(cmd), "%s: pdftoppm renders it without complaint: %s/%s.png", name, outdir, name);
    /* the ink: at 72 dpi, everything more than 5 pixels from the box is white */
    snprintf(cmd, sizeof cmd, "pdftoppm -r 72 -singlefile '%s' '%s.r72'", pdf, pdf);
    snprintf(path, sizeof path, "%s.r72.ppm", pdf);
    size_t len = 0;
    char *ppm = run(cmd) ? slurp(path, &len) : NULL;
    int pw = 0, ph = 0, maxv = 0, hdr = 0;
    long inside = 0, outside = 0;
    if (ppm && sscanf(ppm, "P6 %d %d %d%n", &pw, &ph, &maxv, &hdr) == 3 && maxv == 255 &&
        (size_t)hdr + 1 + (size_t)pw * ph * 3 <= len) {
        const unsigned char *px = (const unsigned char *)ppm + hdr + 1;
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++) {
                const unsigned char *p = px + ((size_t)y * pw + x) * 3;
                int ink = p[0] < 250 || p[1] < 250 || p[2] < 250;
                double ux = x + 0.5, uy = ph - y - 0.5;     /* user space */
                if (ux > 21 && ux < 19 + w && uy > 21 && uy < 19 + h)
                    inside += ink;
                else if (ux < 15 || ux > 25 + w || uy < 15 || uy > 25 + h)
                    outside += ink;
            }
    }
    ok(ppm && inside > 200 && outside == 0, "%s: ink inside the box (%ld px), none outside "
       "(%ld px)", name, inside, outside);
    free(ppm);
}

/* build_case - ap_build SPEC (at its default size unless it has one), write
 * tests/out/sign/NAME.pdf and check it.  NOBJS is the expected count. */
static void build_case(ap_spec *spec, const char *name, size_t nobjs, const char *const *texts)
{
    pdfw_objs objs = { 0 };
    objs.next_num = 5;
    char err[256] = "", pdf[600];
    int x = -1;
    if (spec->font_path == NULL)
        spec->font_path = font;
    if (spec->w == 0)
        ap_default_size(spec, &spec->w, &spec->h);
    int rc = ap_build(spec, &objs, &x, err, sizeof err);
    ok(rc == 0 && x == 5 && objs.n == nobjs && objs.next_num == 5 + (int)nobjs,
       "%s: ap_build (%gx%g) gives %zu objects, form %d (%s)", name, spec->w, spec->h,
       objs.n, x, err);
    if (rc != 0) {
        pdfw_free(&objs);
        return;
    }
    const pdfw_obj *form = find_obj(&objs, "/Subtype /Form");
    char bbox[100];
    snprintf(bbox, sizeof bbox, "/BBox [0 0 %g %g]", spec->w, spec->h);
    ok(form && form->num == x && find_obj(&objs, bbox), "%s: form %s", name, bbox);
    const pdfw_obj *img = find_obj(&objs, "/DeviceRGB");
    if (spec->png && spec->kind == AP_SEAL)
        ok(img != NULL && (nobjs == 8) == (strstr((char *)img->data, "/SMask ") != NULL) &&
           (nobjs == 8) == (find_obj(&objs, "/DeviceGray") != NULL),
           "%s: RGB image, %s", name, nobjs == 8 ? "with a /DeviceGray /SMask" : "no SMask");
    else
        ok(img == NULL, "%s: no image", name);
    ok(find_obj(&objs, "/CIDToGIDMap /Identity") && find_obj(&objs, "/Encoding /Identity-H") &&
       find_obj(&objs, "/ToUnicode "), "%s: Type0 Identity-H font with ToUnicode", name);
    check_fontfile(&objs, name, spec->font_path);
    snprintf(pdf, sizeof pdf, "%s/%s.pdf", outdir, name);
    ok(write_pdf(pdf, &objs, x, spec->w, spec->h) == 0, "%s: wrote %s", name, pdf);
    const pdfw_obj *t0 = find_obj(&objs, "/Subtype /Type0");
    char fontname[80] = "?";
    if (t0)
        sscanf(strstr((char *)t0->data, "/BaseFont /") + 11, "%79[^ /]", fontname);
    check_pdf(pdf, name, spec->w, spec->h, texts, fontname);
    pdfw_free(&objs);
}

/* bad_case - ap_build must fail with a reason and leave OBJS as it was. */
static void bad_case(ap_spec *spec, const char *name, const char *want)
{
    pdfw_objs objs = { 0 };
    objs.next_num = 10;
    pdfw_add(&objs, 7, "<<>>", 4);
    pdfw_add(&objs, 8, "<<>>", 4);
    char err[256] = "";
    int x = -1;
    int rc = ap_build(spec, &objs, &x, err, sizeof err);
    ok(rc == -1 && err[0] && strstr(err, want) && objs.n == 2 && objs.next_num == 10 && x == -1,
       "%s: refused: %s", name, err);
    pdfw_free(&objs);
}

/* ihdr_png - a PNG signature and IHDR chunk for W x H, nothing else. */
static void ihdr_png(unsigned char out[33], uint32_t w, uint32_t h)
{
    static const unsigned char head[16] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
                                            0, 0, 0, 13, 'I', 'H', 'D', 'R' };
    memcpy(out, head, 16);
    unsigned char *p = out + 16;
    p[0] = (unsigned char)(w >> 24); p[1] = (unsigned char)(w >> 16);
    p[2] = (unsigned char)(w >> 8); p[3] = (unsigned char)w;
    p[4] = (unsigned char)(h >> 24); p[5] = (unsigned char)(h >> 16);
    p[6] = (unsigned char)(h >> 8); p[7] = (unsigned char)h;
    p[8] = 8; p[9] = 6; p[10] = 0; p[11] = 0; p[12] = 0;
    uLong crc = crc32(0, out + 12, 17);
    out[29] = (unsigned char)(crc >> 24); out[30] = (unsigned char)(crc >> 16);
    out[31] = (unsigned char)(crc >> 8); out[32] = (unsigned char)crc;
}

static void test_bad(const kyso_buf *good)
{
    char err[256];
    ap_spec s = { .kind = AP_SEAL, .w = 220, .h = 70, .org_name = ORG, .time_text = TIME,
                  .font_path = font };
    static const unsigned char gif[] = "GIF89a\x01\x00\x01\x00\x00\x00\x00;";
    s.png = gif;
    s.png_len = sizeof gif - 1;
    bad_case(&s, "not a PNG", "seal image is not a PNG file");
    ok(ap_check_png(gif, sizeof gif - 1, err, sizeof err) == -1 && strstr(err, "not a PNG"),
       "ap_check_png refuses a GIF: %s", err);
    s.png = (const unsigned char *)good->p;
    s.png_len = good->len / 2;
    bad_case(&s, "truncated PNG", "not a valid PNG");
    ok(ap_check_png(s.png, s.png_len, err, sizeof err) == -1 && strstr(err, "truncated"),
       "ap_check_png refuses a truncated PNG: %s", err);
    unsigned char big[33];
    ihdr_png(big, 10000, 10);
    s.png = big;
    s.png_len = sizeof big;
    bad_case(&s, "10000x10 PNG", "10000 x 10 pixels");
    ihdr_png(big, 10, 5000);
    ok(ap_check_png(big, sizeof big, err, sizeof err) == -1 && strstr(err, "4096"),
       "ap_check_png refuses 10x5000: %s", err);
    size_t huge = 8u * 1024 * 1024 + 1;
    unsigned char *h = calloc(huge, 1);
    memcpy(h, good->p, 33);
    s.png = h;
    s.png_len = huge;
    bad_case(&s, "PNG over 8 MB", "8 MB");
    free(h);
    s.png = (const unsigned char *)good->p;
    s.png_len = good->len;
    s.org_name = "S\xe1\xbb";
    bad_case(&s, "invalid UTF-8 organisation", "UTF-8");
    s.org_name = "S\xc0\xafo";
    bad_case(&s, "overlong UTF-8", "UTF-8");
    s.org_name = "Sở \xf0\x9f\x98\x80 vui";
    bad_case(&s, "emoji not in the font", "U+1F600");
    s.org_name = "Sở\nTTTT";
    bad_case(&s, "control character", "U+000A");
    s.org_name = "";
    bad_case(&s, "empty organisation", "organisation");
    s.org_name = ORG;
    s.font_path = "/nonexistent/font.ttf";
    bad_case(&s, "missing font", "/nonexistent/font.ttf");
    s.font_path = "/etc/hostname";
    bad_case(&s, "not a font", "font");
    s.font_path = font;
    s.w = 30;
    s.h = 12;
    bad_case(&s, "box too small", "too small");
}

/* test_bad_fonts - damaged copies of the font (bytes changed in the tables
 * that are parsed, or cut short): ap_build either works or gives a reason,
 * and never reads outside the file (run under ASan to see). */
static void test_bad_fonts(void)
{
    size_t len = 0;
    char *orig = slurp(font, &len), path[600], err[256];
    snprintf(path, sizeof path, "%s/damaged.ttf", outdir);
    uint32_t r = 12345;
    int bad = 0, fails = 0;
    for (int i = 0; orig && i < 60; i++) {
        char *f = malloc(len);
        memcpy(f, orig, len);
        size_t n = len;
        if (i % 6 == 5) {
            n = (size_t)(r % len);
        } else {
            for (int k = 0; k < 20; k++) {
                r = r * 1103515245u + 12345u;
                size_t span = len < 60000 ? len : 60000;
                size_t at = i % 3 == 0 ? 12 + (r >> 8) % 400 : (r >> 8) % span;
                f[at] = (char)(r >> 24);
            }
        }
        r = r * 1103515245u + 12345u;
        FILE *o = fopen(path, "wb");
        if (o) {
            fwrite(f, 1, n, o);
            fclose(o);
        }
        free(f);
        pdfw_objs objs = { 0 };
        int x;
        ap_spec s = { .kind = AP_ATTACHMENT, .w = 200, .h = 50, .org_name = ORG,
                      .time_text = TIME, .font_path = path };
        err[0] = '\0';
        int rc = ap_build(&s, &objs, &x, err, sizeof err);
        bad += rc == 0 ? objs.n != 6 : (err[0] == '\0' || objs.n != 0);
        fails += rc != 0;
        pdfw_free(&objs);
    }
    ok(orig && bad == 0, "60 damaged fonts: each built or refused with a reason (%d refused)",
       fails);
    free(orig);
}

int main(void)
{
    const char *top = getenv("top_builddir");
    snprintf(outdir, sizeof outdir, "%s/tests/out/sign", top && *top ? top : ".");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", outdir);
    if (system(cmd) != 0) {
        ok(0, "mkdir %s", outdir);
        return tap_done();
    }
    kyso_buf rgba = { 0 }, pal = { 0 }, gray = { 0 }, rgbi = { 0 };
    ok(make_png(0, 240, &rgba) == 0 && make_png(1, 200, &pal) == 0 &&
       make_png(2, 180, &gray) == 0 && make_png(3, 150, &rgbi) == 0, "made the test PNGs");
    char err[256] = "";
    static const char *fonts[] = {
        "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf", AP_DEFAULT_FONT,
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
    };
    pdfw_objs probe = { 0 };
    int x;
    ap_spec s = { .kind = AP_SEAL, .w = 200, .h = 70, .org_name = ORG, .time_text = TIME };
    int rc = ap_build(&s, &probe, &x, err, sizeof err);
    pdfw_free(&probe);
    if (rc == 0)
        ok(1, "the default font %s has Vietnamese", AP_DEFAULT_FONT);
    else
        printf("ok %d - # SKIP the default font: %s\n", ++tap_n, err);
    for (size_t i = 0; font == NULL && i < sizeof fonts / sizeof fonts[0]; i++) {
        s.font_path = fonts[i];
        if (ap_build(&s, &probe, &x, err, sizeof err) == 0)
            font = fonts[i];
        pdfw_free(&probe);
    }
    ok(font != NULL, "a font with Vietnamese: %s", font ? font : "none");
    err[0] = '\0';
    if (font == NULL)
        return tap_done();
    ok(ap_check_png((unsigned char *)rgba.p, rgba.len, err, sizeof err) == 0 &&
       ap_check_png((unsigned char *)pal.p, pal.len, err, sizeof err) == 0 &&
       ap_check_png((unsigned char *)gray.p, gray.len, err, sizeof err) == 0 &&
       ap_check_png((unsigned char *)rgbi.p, rgbi.len, err, sizeof err) == 0,
       "ap_check_png accepts RGBA, palette+tRNS, gray16, interlaced RGB (%s)", err);

    const char *seal_texts[] = { "Ký bởi: " ORG, "Thời gian ký: " TIME, NULL };
    s = (ap_spec){ .kind = AP_SEAL, .org_name = ORG, .time_text = TIME,
                  .png = (unsigned char *)rgba.p, .png_len = rgba.len };
    build_case(&s, "seal-rgba", 8, seal_texts);
    s = (ap_spec){ .kind = AP_SEAL, .org_name = ORG, .time_text = TIME,
                   .png = (unsigned char *)pal.p, .png_len = pal.len };
    build_case(&s, "seal-palette", 8, seal_texts);
    s = (ap_spec){ .kind = AP_SEAL, .org_name = ORG, .time_text = TIME,
                   .png = (unsigned char *)gray.p, .png_len = gray.len, .w = 260, .h = 60 };
    build_case(&s, "seal-gray16", 7, seal_texts);
    s = (ap_spec){ .kind = AP_SEAL, .org_name = ORG, .time_text = TIME,
                   .png = (unsigned char *)rgbi.p, .png_len = rgbi.len, .w = 300, .h = 90 };
    build_case(&s, "seal-interlaced-big", 7, seal_texts);
    s = (ap_spec){ .kind = AP_SEAL, .org_name = ORG, .time_text = TIME };
    build_case(&s, "seal-text-only", 6, seal_texts);
    const char *long_texts[] = { "Ký bởi: " ORG_LONG, "Thời gian ký: " TIME, NULL };
    s = (ap_spec){ .kind = AP_SEAL, .org_name = ORG_LONG, .time_text = TIME,
                   .png = (unsigned char *)rgba.p, .png_len = rgba.len };
    build_case(&s, "seal-long-name", 8, long_texts);
    const char *att_texts[] = { "Số: 123/QĐ-UBND", "Thời gian ký: " TIME, ORG, NULL };
    s = (ap_spec){ .kind = AP_ATTACHMENT, .org_name = ORG, .time_text = TIME,
                   .doc_number = "123/QĐ-UBND", .png = (unsigned char *)rgba.p,
                   .png_len = rgba.len };
    build_case(&s, "attachment", 6, att_texts);
    double w = 0, h = 0;
    ap_default_size(&s, &w, &h);
    ok(w >= 150 && w <= 260 && h >= 30 && h <= 45, "attachment default size %gx%g", w, h);
    /* another font: DejaVu Serif (cmap format 12 when it has one) */
    const char *dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf";
    s = (ap_spec){ .kind = AP_SEAL, .org_name = ORG, .time_text = TIME, .font_path = dejavu,
                   .png = (unsigned char *)rgba.p, .png_len = rgba.len };
    if (access(dejavu, R_OK) == 0)
        build_case(&s, "seal-dejavu", 8, seal_texts);
    else
        skip("DejaVu Serif missing");

    test_bad(&rgba);
    test_bad_fonts();
    buf_free(&rgba);
    buf_free(&pal);
    buf_free(&gray);
    buf_free(&rgbi);
    return tap_done();
}
