/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CloudEvents v1.0.2 validator and the syntax checks it is made of
 * (RFC 3986 URI-references, RFC 2046 media types, extension names, UTF-8).
 *
 * Every check is a pure function of its input. The validator walks tables of
 * rules and stops at the first broken one; its message always starts with
 * the attribute's name, then the rule ("time: must be an RFC 3339
 * timestamp"), because that is what a producer needs to fix the event.
 * Attribute names quoted in messages come from untrusted input, so they are
 * cut short and stripped of non-printable bytes first.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event/event_internal.h"
#include "redcar/event.h"

/* ---- UTF-8 ------------------------------------------------------------------ */

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above
 * U+10FFFF. ASCII runs take the fast path. */
int rc_valid_utf8(const void *p, size_t n) {
    const unsigned char *s = p, *e = s + n;
    while (s < e) {
        unsigned c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) k = 1;
        else if (c == 0xE0) { k = 2; lo = 0xA0; }
        else if (c == 0xED) { k = 2; hi = 0x9F; }
        else if (c >= 0xE1 && c <= 0xEF) k = 2;
        else if (c == 0xF0) { k = 3; lo = 0x90; }
        else if (c == 0xF4) { k = 3; hi = 0x8F; }
        else if (c >= 0xF1 && c <= 0xF3) k = 3;
        else return 0;
        if ((size_t)(e - s) <= k) return 0;
        if (s[1] < lo || s[1] > hi) return 0;
        for (size_t j = 2; j <= k; j++)
            if ((s[j] & 0xC0) != 0x80) return 0;
        s += k + 1;
    }
    return 1;
}

/* A CloudEvents String is valid UTF-8 without U+0000-U+001F, U+007F-U+009F
 * (in UTF-8 the C1 controls are C2 80..C2 9F). One pass over the string,
 * as every attribute of every event goes through here; an invalid sequence
 * is reported before a control character, wherever each is. */
typedef enum { STR_OK, STR_BAD_UTF8, STR_CONTROL } str_class;

static str_class classify_string(const char *str, size_t *len) {
    const unsigned char *s = (const unsigned char *)str, *b = s;
    int control = 0;
    for (;;) {
        unsigned c = *s;
        if (c >= 0x20 && c < 0x7F) {
            s++;
            continue;
        }
        if (!c) break;
        if (c < 0x80) {
            control = 1;
            s++;
            continue;
        }
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) k = 1;
        else if (c == 0xE0) { k = 2; lo = 0xA0; }
        else if (c == 0xED) { k = 2; hi = 0x9F; }
        else if (c >= 0xE1 && c <= 0xEF) k = 2;
        else if (c == 0xF0) { k = 3; lo = 0x90; }
        else if (c == 0xF4) { k = 3; hi = 0x8F; }
        else if (c >= 0xF1 && c <= 0xF3) k = 3;
        else return STR_BAD_UTF8;
        /* The NUL ends the string: a sequence cut by it fails these tests. */
        if (s[1] < lo || s[1] > hi) return STR_BAD_UTF8;
        for (size_t j = 2; j <= k; j++)
            if ((s[j] & 0xC0) != 0x80) return STR_BAD_UTF8;
        if (c == 0xC2 && s[1] <= 0x9F) control = 1;
        s += k + 1;
    }
    *len = (size_t)(s - b);
    return control ? STR_CONTROL : STR_OK;
}

/* ---- RFC 3986 ----------------------------------------------------------------- */

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
/* Switches rather than strchr(): these run once per byte of every URI. */
static int is_unreserved(int c) {
    switch (c) {
    case '-': case '.': case '_': case '~': return 1;
    default: return is_alpha(c) || is_digit(c);
    }
}
static int is_subdelim(int c) {
    switch (c) {
    case '!': case '$': case '&': case '\'': case '(': case ')': case '*': case '+': case ',': case ';':
    case '=': return 1;
    default: return 0;
    }
}

/* Length of a pct-encoded triplet at s, or 0. */
static int pct(const char *s) { return s[0] == '%' && is_hex(s[1]) && is_hex(s[2]) ? 3 : 0; }

/* Consume *( allowed ) where allowed = unreserved / pct-encoded / sub-delims
 * plus the characters in extra. Returns the end. */
static const char *span(const char *s, const char *extra) {
    for (;;) {
        int c = (unsigned char)*s;
        if (is_unreserved(c) || is_subdelim(c) || (c && strchr(extra, c))) s++;
        else if (pct(s)) s += 3;
        else return s;
    }
}

static int valid_ip_literal(const char *s, size_t n) {
    /* "[" ( IPv6address / IPvFuture ) "]"; s points after "[", n excludes "]". */
    if (n > 1 && (s[0] == 'v' || s[0] == 'V')) {
        size_t i = 1;
        while (i < n && is_hex(s[i])) i++;
        if (i == 1 || i >= n || s[i] != '.') return 0;
        if (++i >= n) return 0;
        for (; i < n; i++)
            if (!is_unreserved(s[i]) && !is_subdelim(s[i]) && s[i] != ':') return 0;
        return 1;
    }
    char tmp[64];
    if (n == 0 || n >= sizeof tmp) return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    unsigned char addr[16];
    return inet_pton(AF_INET6, tmp, addr) == 1;
}

/* authority = [ userinfo "@" ] host [ ":" port ], s..e (no "/", "?", "#"). */
static int valid_authority(const char *s, const char *e) {
    const char *at = NULL;
    for (const char *p = s; p < e; p++)
        if (*p == '@') at = p;
    if (at) {
        if (span(s, ":") != at) return 0;
        s = at + 1;
    }
    const char *h;
    if (s < e && *s == '[') {
        const char *close = memchr(s, ']', (size_t)(e - s));
        if (!close || !valid_ip_literal(s + 1, (size_t)(close - s - 1))) return 0;
        h = close + 1;
    } else {
        /* reg-name also covers IPv4address. */
        h = span(s, "");
        if (h > e) h = e;
    }
    if (h == e) return 1;
    if (*h != ':') return 0;
    for (h++; h < e; h++)
        if (!is_digit(*h)) return 0;
    return 1;
}

/* The scheme length when s starts with `scheme ":"`, else 0. */
static size_t scheme_len(const char *s) {
    if (!is_alpha((unsigned char)s[0])) return 0;
    size_t i = 1;
    while (is_alpha((unsigned char)s[i]) || is_digit((unsigned char)s[i]) || s[i] == '+' ||
           s[i] == '-' || s[i] == '.')
        i++;
    return s[i] == ':' ? i : 0;
}

/* hier-part / relative-part [ "?" query ] [ "#" fragment ], after the scheme.
 * The path rules of RFC 3986 (path-abempty, -absolute, -rootless, -noscheme,
 * -empty) all reduce to pchar and "/" once the authority is taken off and
 * the caller has ruled out a colon in a relative reference's first segment. */
static int valid_after_scheme(const char *s) {
    if (s[0] == '/' && s[1] == '/') {
        const char *a = s + 2, *e = a + strcspn(a, "/?#");
        if (!valid_authority(a, e)) return 0;
        s = e;
    }
    s = span(s, ":@/");
    if (*s == '?') s = span(s + 1, ":@/?");
    if (*s == '#') s = span(s + 1, ":@/?");
    return *s == '\0';
}

int rc_valid_uri_ref(const char *s) {
    if (!s) return 0;
    size_t k = scheme_len(s);
    if (k) return valid_after_scheme(s + k + 1);
    /* relative-ref: a colon before the first "/", "?" or "#" would make the
     * first segment look like a scheme (path-noscheme forbids it). */
    size_t first = strcspn(s, "/?#");
    if (memchr(s, ':', first)) return 0;
    return valid_after_scheme(s);
}

/* URI (RFC 3986 section 3): a scheme is required. A fragment is accepted, as
 * JSON Schema's "uri" format and the CloudEvents SDKs accept it. */
int rc_valid_uri_abs(const char *s) {
    if (!s) return 0;
    size_t k = scheme_len(s);
    return k && valid_after_scheme(s + k + 1);
}

/* ---- names, media types, base64 ------------------------------------------------- */

int rc_valid_ext_name(const char *s) {
    if (!s || !*s) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || is_digit(*p))) return 0;
    return strcmp(s, "data") != 0;
}

/* tchar of RFC 7230, which RFC 6838 restricts further; the looser set keeps
 * real-world types (vnd.*, x-*, +json) working. */
static int is_tchar(int c) {
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~': return 1;
    default: return is_alpha(c) || is_digit(c);
    }
}

static const char *token(const char *s) {
    while (is_tchar((unsigned char)*s)) s++;
    return s;
}

static const char *ows(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

int rc__valid_media_type(const char *s) {
    if (!s) return 0;
    const char *p = token(s);
    if (p == s || *p != '/') return 0;
    const char *q = token(p + 1);
    if (q == p + 1) return 0;
    for (p = ows(q); *p; p = ows(p)) {
        if (*p != ';') return 0;
        p = ows(p + 1);
        q = token(p);
        if (q == p || *q != '=') return 0;
        p = q + 1;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1]) p++;
                else if ((unsigned char)*p < 0x20 || *p == 0x7F) return 0;
            }
            if (*p != '"') return 0;
            p++;
        } else {
            q = token(p);
            if (q == p) return 0;
            p = q;
        }
    }
    return 1;
}

/* Split "type/subtype; params" into the trimmed essence [*b, *e). */
static void essence(const char *s, const char **b, const char **e) {
    s = ows(s);
    const char *end = s + strcspn(s, ";");
    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
    *b = s;
    *e = end;
}

static int ends_with_ci(const char *b, const char *e, const char *suffix) {
    size_t n = strlen(suffix);
    return (size_t)(e - b) >= n && !strncasecmp(e - n, suffix, n);
}

static int equals_ci(const char *b, const char *e, const char *s) {
    size_t n = strlen(s);
    return (size_t)(e - b) == n && !strncasecmp(b, s, n);
}

int rc_is_json_ctype(const char *ctype) {
    if (!ctype) return 1;
    const char *b, *e;
    essence(ctype, &b, &e);
    return equals_ci(b, e, "application/json") || equals_ci(b, e, "text/json") ||
           (ends_with_ci(b, e, "+json") && memchr(b, '/', (size_t)(e - b)));
}

int rc__is_textual_ctype(const char *ctype) {
    static const char *const exact[] = {
        "application/xml",        "application/javascript", "application/ecmascript",
        "application/yaml",       "application/x-yaml",     "application/toml",
        "application/x-www-form-urlencoded", "application/sql", "application/graphql",
    };
    static const char *const suffix[] = {"+xml", "+yaml"};
    if (!ctype) return 0;
    const char *b, *e;
    essence(ctype, &b, &e);
    if ((size_t)(e - b) > 5 && !strncasecmp(b, "text/", 5)) return 1;
    if (rc_is_json_ctype(ctype)) return 1;
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (equals_ci(b, e, exact[i])) return 1;
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++)
        if (ends_with_ci(b, e, suffix[i])) return 1;
    return 0;
}

static int b64_val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int rc__valid_base64(const char *s, size_t n) {
    if (n % 4) return 0;
    size_t pad = 0;
    if (n && s[n - 1] == '=') pad++;
    if (n > 1 && s[n - 2] == '=') pad++;
    for (size_t i = 0; i < n - pad; i++)
        if (b64_val((unsigned char)s[i]) < 0) return 0;
    /* The bits the padding leaves over must be zero: one encoding per value. */
    if (pad == 1 && (b64_val((unsigned char)s[n - 2]) & 0x3)) return 0;
    if (pad == 2 && (b64_val((unsigned char)s[n - 3]) & 0xF)) return 0;
    return 1;
}

/* ---- unique names ---- */

static int cmp_ext_name(const void *a, const void *b) {
    const rc_ext *x = *(const rc_ext *const *)a, *y = *(const rc_ext *const *)b;
    int c = strcmp(x->name, y->name);
    /* Ties by position, so that the later of two duplicates is reported. */
    return c ? c : (x < y ? -1 : x > y);
}

long rc__ext_duplicate(const rc_event *ev) {
    size_t n = ev->n_ext;
    if (n <= 16) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (!strcmp(ev->ext[i].name, ev->ext[j].name)) return (long)i;
        return -1;
    }
    const rc_ext **v = malloc(n * sizeof *v);
    if (!v) return -2;
    for (size_t i = 0; i < n; i++) v[i] = &ev->ext[i];
    qsort(v, n, sizeof *v, cmp_ext_name);
    long dup = -1;
    for (size_t i = 1; i < n; i++)
        if (!strcmp(v[i]->name, v[i - 1]->name) && (dup < 0 || v[i] - ev->ext < dup)) dup = v[i] - ev->ext;
    free(v);
    return dup;
}

/* ---- the validator ------------------------------------------------------------ */

/* A printable, bounded copy of an untrusted attribute name for messages. */
static const char *label(const char *name, char *buf, size_t n) {
    size_t j = 0;
    const char *p = name;
    for (; *p && j + 4 < n; p++) buf[j++] = (*p > 0x20 && *p < 0x7F) ? *p : '?';
    if (*p) {
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j] = '\0';
    return buf;
}

static int invalid(rc_err *err, const char *attr, const char *rule) {
    char lb[48];
    return rc_err_set(err, RC_EVENT_INVALID, "%s: %s", label(attr, lb, sizeof lb), rule);
}

/* What a string attribute must satisfy, beyond being control-free UTF-8. */
typedef enum { R_NONEMPTY, R_URIREF, R_URI, R_TIME, R_MEDIA, R_BASE64, R_ANY } rule_kind;

static const char *check_string(const char *v, rule_kind k) {
    size_t len;
    switch (classify_string(v, &len)) {
    case STR_BAD_UTF8:
        return "must be valid UTF-8";
    case STR_CONTROL:
        return "must not contain control characters";
    case STR_OK:
        break;
    }
    int64_t ms;
    switch (k) {
    case R_NONEMPTY:
        return *v ? NULL : "must be a non-empty string";
    case R_URIREF:
        if (!*v) return "must be a non-empty URI-reference";
        return rc_valid_uri_ref(v) ? NULL : "must be a URI-reference (RFC 3986)";
    case R_URI:
        return rc_valid_uri_abs(v) ? NULL : "must be an absolute URI (RFC 3986)";
    case R_TIME:
        return rc_time_parse(v, &ms) == RC_OK ? NULL : "must be an RFC 3339 timestamp";
    case R_MEDIA:
        return rc__valid_media_type(v) ? NULL : "must be a media type (RFC 2046 type/subtype)";
    case R_BASE64:
        return rc__valid_base64(v, len) ? NULL : "must be base64 (RFC 4648)";
    case R_ANY:
        break;
    }
    return NULL;
}

static const struct {
    const char *name;
    size_t off;
    int required;
    rule_kind rule;
} attrs[] = {
    {"specversion", offsetof(rc_event, specversion), 1, R_NONEMPTY},
    {"id", offsetof(rc_event, id), 1, R_NONEMPTY},
    {"source", offsetof(rc_event, source), 1, R_URIREF},
    {"type", offsetof(rc_event, type), 1, R_NONEMPTY},
    {"datacontenttype", offsetof(rc_event, datacontenttype), 0, R_MEDIA},
    {"dataschema", offsetof(rc_event, dataschema), 0, R_URI},
    {"subject", offsetof(rc_event, subject), 0, R_NONEMPTY},
    {"time", offsetof(rc_event, time), 0, R_TIME},
};

/* Names an extension cannot take: the context attributes, the members of the
 * JSON format and Redcar's log position. */
static const char *const reserved[] = {
    "specversion", "id", "source", "type", "datacontenttype", "dataschema",
    "subject", "time", "data", "seq",
};

static const rule_kind ext_rule[] = {
    [RC_EXT_BOOL] = R_ANY, [RC_EXT_INT] = R_ANY, [RC_EXT_STRING] = R_ANY,
    [RC_EXT_BINARY] = R_BASE64, [RC_EXT_URI] = R_URI, [RC_EXT_URIREF] = R_URIREF,
    [RC_EXT_TIME] = R_TIME,
};

int rc_event_validate(const rc_event *ev, rc_err *err) {
    rc_err_clear(err);
    if (!ev) return rc_err_set(err, RC_EVENT_INVALID, "event: missing");
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        const char *v = *(char *const *)((const char *)ev + attrs[i].off);
        if (!v) {
            if (!attrs[i].required) continue;
            if (attrs[i].rule == R_URIREF) return invalid(err, attrs[i].name, "must be a non-empty URI-reference");
            return invalid(err, attrs[i].name, "must be a non-empty string");
        }
        const char *why = check_string(v, attrs[i].rule);
        if (why) return invalid(err, attrs[i].name, why);
    }
    if (strcmp(ev->specversion, "1.0")) return invalid(err, "specversion", "must be \"1.0\"");

    for (size_t i = 0; i < ev->n_ext; i++) {
        const rc_ext *x = &ev->ext[i];
        if (!x->name || !*x->name) return invalid(err, "(extension)", "name must not be empty");
        if (!rc_valid_ext_name(x->name)) {
            if (!strcmp(x->name, "data")) return invalid(err, x->name, "reserved name, not an extension");
            return invalid(err, x->name, "extension name must be lowercase a-z and 0-9 only");
        }
        for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++)
            if (x->name[0] == reserved[r][0] && !strcmp(x->name, reserved[r]))
                return invalid(err, x->name, "reserved name, not an extension");
        if ((unsigned)x->type > RC_EXT_TIME) return invalid(err, x->name, "unknown extension type");
        if (x->type == RC_EXT_INT) {
            if (x->i < INT32_MIN || x->i > INT32_MAX) return invalid(err, x->name, "integer out of int32 range");
        } else if (x->type != RC_EXT_BOOL) {
            if (!x->s) return invalid(err, x->name, "missing value");
            const char *why = check_string(x->s, ext_rule[x->type]);
            if (why) return invalid(err, x->name, why);
        }
    }

    long dup = rc__ext_duplicate(ev);
    if (dup == -2) return rc_err_set(err, RC_NOMEM, "out of memory");
    if (dup >= 0) return invalid(err, ev->ext[dup].name, "duplicate attribute");

    switch (ev->data_form) {
    case RC_DATA_NONE:
        if (ev->data_len) return invalid(err, "data", "has bytes but no form");
        break;
    case RC_DATA_JSON:
    case RC_DATA_TEXT:
    case RC_DATA_BINARY:
        if (!ev->data && ev->data_len) return invalid(err, "data", "missing bytes");
        break;
    default:
        return invalid(err, "data", "unknown data form");
    }
    return RC_OK;
}
