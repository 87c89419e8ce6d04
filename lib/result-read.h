/*
 * result-read.h - a verification result read back from its JSON form
 * (lib/result-json.c writes it): what the shared verification cache
 * stores.  Kept apart from result.h so that reading and writing evolve in
 * their own files.  Never prints.
 */
#ifndef KYSO_RESULT_READ_H
#define KYSO_RESULT_READ_H

#include <stddef.h>
#include "json.h"
#include "result.h"

/* result_from_value - the document object V (as result_json_append_doc
 * writes it; a "file" key is ignored) into OUT (overwritten).  Returns 0,
 * or -1 when a field is missing, of the wrong type or unknown to this
 * version (a kind, reason or class name), or out of memory: OUT is then
 * empty.  Unknown keys are ignored: a caller that must not lose anything
 * writes OUT again and compares. */
int result_from_value(const json_value *v, kyso_doc_result *out);

/* result_from_json - the same from the LEN bytes at JSON.  0, or -1 with
 * the reason in err. */
int result_from_json(const char *json, size_t len, kyso_doc_result *out, char *err,
                     size_t errlen);

#endif
