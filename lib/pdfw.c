/*
 * pdfw.c - the list of objects an incremental update adds (see pdfw.h).
 */
#include <stdlib.h>
#include <string.h>
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
