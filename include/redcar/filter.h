/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event filters: the CloudEvents Subscriptions API filter dialects and the
 * CloudEvents SQL Expression Language (CESQL) v1.
 *
 * A filter is what a subscriber sends when it subscribes, in the
 * Subscriptions API's JSON shape: an array of filter expressions, all of
 * which must match, each an object with exactly one dialect:
 *
 *   [{"exact":  {"type": "com.example.a"}},
 *    {"prefix": {"subject": "orders/"}},
 *    {"any": [{"suffix": {"type": ".created"}}, {"not": {"exact": {"x": "1"}}}]},
 *    {"sql": "subject LIKE 'orders/%' AND size > 10"}]
 *
 * exact/prefix/suffix name one or more attributes (context attributes or
 * extensions; Integer and Boolean extensions compare by their canonical
 * string form "42", "true") and a non-empty string each; all must match
 * (case-sensitive), and a missing attribute never matches. all/any take a
 * non-empty array, not one filter, sql one CESQL expression. Everything is
 * checked when the filter is built: an unknown dialect, a CESQL syntax error,
 * a call to a function that does not exist, or an expression that can never
 * be a Boolean is refused then, with err naming the place and the rule.
 *
 * Trust boundary: the JSON and CESQL parsers take untrusted bytes from
 * subscribers. They never crash, never read past len, bound their own
 * recursion (RC_CESQL_MAX_DEPTH, RC_FILTER_MAX_DEPTH) and input sizes, and
 * evaluating an expression is bounded in time and memory whatever the event.
 *
 * Threads: a built rc_filter / rc_cesql is immutable; any number of threads
 * may match events against it at once. Building and freeing are the owner's.
 */
#ifndef REDCAR_FILTER_H
#define REDCAR_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "redcar/buf.h"
#include "redcar/event.h"
#include "redcar/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ------------------------------------------------------------- */
#define RC_FILTER_MAX_JSON   65536  /* bytes of filter JSON */
#define RC_FILTER_MAX_DEPTH  32     /* nesting of all/any/not */
#define RC_FILTER_MAX_NODES  1024   /* filter expressions in one filter */
#define RC_CESQL_MAX_LEN     16384  /* bytes of one CESQL expression */
#define RC_CESQL_MAX_DEPTH   128    /* nesting of the expression tree */

/* ---- filters ------------------------------------------------------------ */
typedef struct rc_filter rc_filter;

typedef enum {
    RC_FILTER_EXACT,
    RC_FILTER_PREFIX,
    RC_FILTER_SUFFIX
} rc_filter_attr_kind;

/* Parse len bytes of JSON: an array of filter expressions (all must match;
 * [] matches every event) or a single filter expression object. On success
 * *out is the caller's (rc_filter_free). On failure returns RC_INVALID (or
 * RC_TOO_LARGE, RC_NOMEM), *out is NULL and err->msg names the place, e.g.
 * "filters[1].sql: at byte 9: expected an expression, found end of input". */
int rc_filter_parse_json(const char *json, size_t len, rc_filter **out, rc_err *err);

/* Build filters without JSON (the doors' query parameters). Strings are
 * copied. The combinators take ownership of their arguments whether they
 * succeed or not (so a failed build leaks nothing). */
int rc_filter_new_attr(rc_filter_attr_kind kind, const char *attr, const char *value,
                       rc_filter **out, rc_err *err);
int rc_filter_new_sql(const char *expr, size_t len, rc_filter **out, rc_err *err);
/* all (and_ = 1) or any (and_ = 0) of n >= 1 filters; subs[] itself is not
 * kept. */
int rc_filter_new_all_any(int and_, rc_filter **subs, size_t n, rc_filter **out, rc_err *err);
int rc_filter_new_not(rc_filter *sub, rc_filter **out, rc_err *err);
void rc_filter_free(rc_filter *f);    /* NULL-safe */

/* 1 when ev passes the filter, else 0. Never fails: an error while
 * evaluating a sql expression makes that expression false (Subscriptions
 * API 3.2.4.1.2). NULL f matches everything. */
int rc_filter_match(const rc_filter *f, const rc_event *ev);

/* Append the filter as Subscriptions API JSON (always an array; sql
 * expressions in their original text), which rc_filter_parse_json reads
 * back into an equivalent filter. */
void rc_filter_to_json(const rc_filter *f, rc_buf *out);

/* ---- CESQL v1 ----------------------------------------------------------- */
typedef struct rc_cesql rc_cesql;

/* CESQL types (3.1). */
typedef enum {
    RC_CESQL_BOOL,
    RC_CESQL_INT,     /* int32 */
    RC_CESQL_STRING
} rc_cesql_type;

/* Evaluation errors (3.3), named as the CESQL TCK names them. */
#define RC_CESQL_ERROR_MAP(X)                                   \
    X(NONE,        "none")                                      \
    X(MATH,        "math")                                      \
    X(CAST,        "cast")                                      \
    X(MISSING_ATTR, "missingAttribute")                         \
    X(MISSING_FUNC, "missingFunction")                          \
    X(FUNC_EVAL,   "functionEvaluation")                        \
    X(GENERIC,     "generic")

typedef enum {
#define RC__CESQL_ERR(name, str) RC_CESQL_ERR_##name,
    RC_CESQL_ERROR_MAP(RC__CESQL_ERR)
#undef RC__CESQL_ERR
} rc_cesql_error;

const char *rc_cesql_error_name(int e);   /* "missingAttribute", ... */

/* A value. s is NUL-terminated, owned by the value (rc_cesql_value_free). */
typedef struct rc_cesql_value {
    rc_cesql_type type;
    int b;
    int32_t i;
    char *s;
    size_t len;
} rc_cesql_value;

void rc_cesql_value_free(rc_cesql_value *v);

/* Parse len bytes (no NUL needed) into an expression tree. RC_OK, or
 * RC_INVALID / RC_TOO_LARGE with err->msg "at byte N: expected X, found Y".
 * Calls to unknown functions parse (CESQL makes them an evaluation error,
 * MissingFunctionError); rc_cesql_check_filter refuses them. */
int rc_cesql_parse(const char *expr, size_t len, rc_cesql **out, rc_err *err);
void rc_cesql_free(rc_cesql *q);          /* NULL-safe */

/* The checks a subscription manager makes before it accepts an expression
 * as a filter: every function exists with that arity, and the expression
 * can evaluate to a Boolean (not `1 + 2`, not `'abc'`). RC_OK/RC_INVALID. */
int rc_cesql_check_filter(const rc_cesql *q, rc_err *err);

/* Evaluate against ev. Returns the first error that occurred
 * (RC_CESQL_ERR_NONE when none) and always fills *out (free it with
 * rc_cesql_value_free): the node that raises an error gives the value its
 * definition gives (5 / 0 is 0, ABS(-2147483648) is 2147483647), and every
 * operator or function above it gives its type's zero value, as for a
 * missing attribute (3.2), which is what the CESQL TCK expects; an
 * expression whose type is unknown (a lone missing attribute) is false. */
int rc_cesql_eval(const rc_cesql *q, const rc_event *ev, rc_cesql_value *out);

/* Filter semantics, fail-fast (1.2): 1 when the value is Boolean true (a
 * String or Integer result is coerced by the CESQL cast rules) and no error
 * occurred, else 0. */
int rc_cesql_match(const rc_cesql *q, const rc_event *ev);

/* Append the canonical text of the expression: keywords and function names
 * upper case, identifiers lower case, every operator group parenthesised,
 * strings single-quoted. Parsing it gives back the same tree. */
void rc_cesql_print(const rc_cesql *q, rc_buf *out);

#ifdef __cplusplus
}
#endif
#endif
