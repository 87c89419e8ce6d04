/*
 * json.h - a small strict JSON reader (RFC 8259) into a tree, for reading
 * back what we wrote ourselves: decision and audit records.  The text may
 * still have been edited or damaged on disk, so it is parsed as untrusted:
 * bounded size and nesting, UTF-8 checked, every error a message with its
 * byte offset, never a crash.  Thread-safe (no shared state); never prints.
 */
#ifndef KYSO_JSON_H
#define KYSO_JSON_H

#include <stddef.h>

#define JSON_MAX_SIZE   (1u << 20)  /* default bound on the text, bytes */
#define JSON_MAX_DEPTH  32          /* default bound on nested arrays and objects */

typedef enum json_type {
    JSON_NULL = 0,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_type;

typedef struct json_value json_value;
struct json_value {
    json_type type;
    size_t n;                   /* STRING: bytes of s; NUMBER: bytes of its text;
                                 * ARRAY, OBJECT: number of members */
    const char *s;              /* STRING: decoded UTF-8, NUL-terminated, never
                                 * holding a NUL; NUMBER: its text as written */
    double num;                 /* NUMBER: its value (exact for integers < 2^53) */
    const json_value *items;    /* ARRAY, OBJECT: the n members, in text order */
    const char *const *keys;    /* OBJECT: the key of each member (decoded) */
};

/* A parsed text: owns every value and string reachable from its root. */
typedef struct json_doc json_doc;

/* json_parse - parse the LEN bytes at TEXT (no NUL needed) as one JSON
 * value, with optional surrounding white space.  Refused: more than
 * MAX_SIZE bytes, nesting deeper than MAX_DEPTH (0 for either: the
 * defaults above), invalid UTF-8 anywhere, unescaped control characters,
 * lone surrogates, "\u0000", duplicate keys in an object, anything RFC
 * 8259 does not allow.  Returns the document, or NULL with "offset N: what
 * is wrong" (or "out of memory") in err. */
json_doc *json_parse(const char *text, size_t len, size_t max_size, unsigned max_depth,
                     char *err, size_t errlen);

/* json_root - the top value of D; never NULL for a parsed document. */
const json_value *json_root(const json_doc *d);

/* json_free - release D and everything in it; NULL is fine. */
void json_free(json_doc *d);

/* json_get - the member KEY of object V, or NULL when V is NULL, not an
 * object, or has no such key. */
const json_value *json_get(const json_value *v, const char *key);

/* json_get_string - the string member KEY of V, or NULL when it is
 * missing, null, or not a string. */
const char *json_get_string(const json_value *v, const char *key);

/* json_at - element I of array V, or NULL when V is not an array or I is
 * out of range. */
const json_value *json_at(const json_value *v, size_t i);

/* json_time_ms - the RFC 3339 date-time of our records (as decision.c
 * writes it: "2026-11-30T10:42:43.123+07:00"; any fraction length, 'Z' or
 * a numeric offset, 'T' or a space) in the N bytes at S, as milliseconds
 * since 1970 in *ms.  Returns 0, or -1 when S is not such a date-time
 * (a missing offset is refused: the instant would be ambiguous). */
int json_time_ms(const char *s, size_t n, long long *ms);

/* json_record_time - the "time" of the record in the N bytes at P, in *T
 * (ms since 1970).  The first key, as decision.c writes it, is read in
 * place; otherwise the record is parsed.  Returns 0, or -1 when the record
 * has no readable time. */
int json_record_time(const char *p, size_t n, long long *t);

#endif
