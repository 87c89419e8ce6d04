/*
 * appearance.h - the visible organisation signature (Decree 30/2020 Annex
 * I): a Form XObject with the seal image (PNG with transparency, as an
 * image with /SMask) and text in a subset-embedded TrueType font that
 * covers Vietnamese.  Builds PDF objects only; placement on the page is
 * pdf-sign.c's job.  Never prints.
 */
#ifndef KYSO_APPEARANCE_H
#define KYSO_APPEARANCE_H

#include <stddef.h>
#include "pdfw.h"

typedef enum {
    AP_SEAL,            /* the main document: seal image, organisation, time */
    AP_ATTACHMENT       /* a separate attached document: text only, 10 pt */
} ap_kind;

typedef struct ap_spec {
    ap_kind kind;
    double w, h;                /* the box, in points */
    const char *org_name;       /* UTF-8, e.g. "Sở Thông tin và Truyền thông" */
    const char *time_text;      /* UTF-8, "dd/mm/yyyy HH:MM:SS +07:00" */
    const char *doc_number;     /* UTF-8 number and symbol, or NULL when unknown */
    const unsigned char *png;   /* the seal PNG bytes (AP_SEAL), or NULL for text only */
    size_t png_len;
    const char *font_path;      /* TrueType file; NULL = AP_DEFAULT_FONT */
} ap_spec;

#define AP_DEFAULT_FONT "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"

/* ap_default_size - the box size, in points, that suits SPEC's kind and
 * text (the caller may then scale it to the page). */
void ap_default_size(const ap_spec *spec, double *w, double *h);

/*
 * ap_build - add to OUT the objects of the appearance of SPEC (the Form
 * XObject, its font objects, image and soft mask), taking new numbers with
 * pdfw_new_num; *xobject is set to the number of the Form XObject, whose
 * /BBox is [0 0 w h].  Returns 0; -1 with a one-line reason in ERR (a
 * PNG that is not a PNG or is too big, a font that cannot be read or lacks
 * a glyph for a character, out of memory), OUT then unchanged in count.
 */
int ap_build(const ap_spec *spec, pdfw_objs *out, int *xobject, char *err, size_t errlen);

/* ap_check_png - is LEN bytes of PNG a PNG we can use as a seal?  0, or -1
 * with the reason in ERR.  For checking configuration at load. */
int ap_check_png(const unsigned char *png, size_t len, char *err, size_t errlen);

#endif
