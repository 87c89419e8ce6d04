/*
 * pdfw.h - the objects an incremental update adds to a PDF file: each one a
 * number and its body, written by pdf-sign.c as "N 0 obj BODY endobj".
 * Shared by the signature writer and the appearance builder; never prints.
 */
#ifndef KYSO_PDFW_H
#define KYSO_PDFW_H

#include <stddef.h>

typedef struct pdfw_obj {
    int num;                    /* object number; generation is always 0 */
    unsigned char *data;        /* "<<...>>", "[...]" or "<<...>>\nstream\n...\nendstream" */
    size_t len;
} pdfw_obj;

typedef struct pdfw_objs {
    pdfw_obj *v;
    size_t n, cap;
    int next_num;               /* the number the next new object gets */
} pdfw_objs;

/* pdfw_add - append a copy of LEN bytes of DATA as object NUM.
 * Returns 0, or -1 when out of memory (nothing added). */
int pdfw_add(pdfw_objs *o, int num, const void *data, size_t len);
/* pdfw_new_num - reserve the next free object number. */
int pdfw_new_num(pdfw_objs *o);
void pdfw_free(pdfw_objs *o);

struct kyso_buf;
/* pdfw_append_text - append UTF-8 S as a PDF text string: <FEFF...>, the
 * UTF-16BE hex form, which any text fits in; a byte that is not valid
 * UTF-8 becomes U+FFFD.  -1 when out of memory. */
int pdfw_append_text(struct kyso_buf *b, const char *s);

/* pdfw_utf8_next - decode one code point of UTF-8 at *S (advancing *S);
 * -1 (and *S past the bad byte) for a byte that is not valid UTF-8:
 * overlong forms, surrogates and values above U+10FFFF are invalid. */
long pdfw_utf8_next(const unsigned char **s);

#endif
