/*
 * pdfw.c - the list of objects an incremental update adds (see pdfw.h).
 */
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "pdfw.h"

int pdfw_add(pdfw_objs *o, int num, const void *data, size_t len)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        pdfw_obj *v = realloc(o->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        o->v = v;
        o->cap = cap;
    }
    unsigned char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, data, len);
    o->v[o->n++] = (pdfw_obj){ num, copy, len };
    return 0;
}

int pdfw_new_num(pdfw_objs *o)
{
    return o->next_num++;
}

void pdfw_free(pdfw_objs *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->v[i].data);
    free(o->v);
    o->v = NULL;
    o->n = o->cap = 0;
}

long pdfw_utf8_next(const unsigned char **s)
{
    const unsigned char *p = *s;
    long c = *p++;
    int more = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
             : (c & 0xf8) == 0xf0 ? 3 : -1;
    static const long min[] = { 0, 0x80, 0x800, 0x10000 };
    if (more < 0) {
        *s = p;
        return -1;
    }
    c &= more ? 0x3f >> more : 0x7f;
    for (int i = 0; i < more; i++, p++) {
        if ((*p & 0xc0) != 0x80) {
            *s = p;
            return -1;
        }
        c = (c << 6) | (*p & 0x3f);
    }
    *s = p;
    if (c < min[more] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return -1;
    return c;
}

int pdfw_append_text(kyso_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    buf_append(b, "<FEFF", 5);
    while (*p) {
        long c = pdfw_utf8_next(&p);
        if (c < 0)
            c = 0xfffd;
        if (c >= 0x10000) {
            c -= 0x10000;
            buf_printf(b, "%04lX%04lX", 0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
        } else {
            buf_printf(b, "%04lX", c);
        }
    }
    return buf_append(b, ">", 1);
}
