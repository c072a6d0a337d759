/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Redis Streams over the event log (docs/streams.md).
 *
 * A stream is a subject: every event whose subject is the key, from either
 * door, is an entry, and its entry ID is "<seq>-0", so IDs order like the
 * log and are unique and increasing. XADD appends a CloudEvent: fields that
 * name CloudEvents attributes (id, source, type, time, datacontenttype,
 * dataschema, specversion) become attributes, "ce_<name>" fields become
 * extensions, the other fields become the data as a JSON object. Reading
 * maps back the same way: the attributes, the extensions as ce_<name>, then
 * the members of a JSON-object data (or one "data" field), so an entry that
 * XADD wrote reads back with its fields.
 *
 * The log is append-only: XDEL and XTRIM append tombstones
 * (io.redcar.stream.deleted with data {"seqs":[...]}, io.redcar.stream.trimmed
 * with data {"minseq":N}) with the stream's subject, and every read hides
 * what they name. Tombstones are not entries. DEL of a stream key is a
 * trimmed tombstone that hides everything and says {"removed":true}; the
 * key exists again at the next entry (streamkey.h). XGROUP CREATE MKSTREAM
 * makes an empty stream the same way, with a trimmed tombstone.
 *
 * Consumer groups are durable consumers (redcar/consumer.h) named
 * "xs.<key>.<group>" (escaped) with filter {"subject": key}, a lease of
 * 7 days (the longest; Redis never takes a pending entry back by itself)
 * and no delivery limit. Their operations run as transaction steps on the
 * store's writer thread (rc__r_txn), never blocking the loop.
 *
 * Blocking reads (XREAD/XREADGROUP BLOCK) park the command's reply slot:
 * a hub subscription on the keys marks the waiter, one process-wide waiter
 * thread re-reads and answers, times out, or gives up at shutdown. Whether
 * the client is still connected is asked on the loop thread through a
 * probe op every second (only the loop may look at a client).
 *
 * Trust boundary: arguments are untrusted and checked here; stored events
 * were validated when appended, but their JSON data is scanned defensively.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redcar/consumer.h"
#include "resp/door.h"
#include "resp/streamkey.h"

#define T_ENTRY "io.redcar.stream.entry"
#define T_DELETED "io.redcar.stream.deleted"
#define T_TRIMMED "io.redcar.stream.trimmed"
#define T_PREFIX "io.redcar.stream."
#define GROUP_LEASE_MS ((int64_t)7 * 24 * 3600 * 1000)
#define PROBE_MS 1000
#define MAX_COUNT RC_CONSUMER_FETCH_MAX

static const char ERR_ID[] = "ERR Invalid stream ID specified as stream command argument";

/* ---- IDs ------------------------------------------------------------------------ */

/* "<ms>-<seq>" or "<ms>"; *has_seq tells which. */
static int parse_id(const char *s, size_t n, uint64_t *ms, uint64_t *sq, int *has_seq) {
    const char *dash = memchr(s, '-', n);
    size_t a = dash ? (size_t)(dash - s) : n;
    if (a == 0 || a > 20) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < a; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    *ms = v;
    *sq = 0;
    *has_seq = dash != NULL;
    if (dash) {
        size_t b = n - a - 1;
        if (b == 0 || b > 20) return 0;
        v = 0;
        for (size_t i = a + 1; i < n; i++) {
            if (s[i] < '0' || s[i] > '9') return 0;
            unsigned d = (unsigned)(s[i] - '0');
            if (v > (UINT64_MAX - d) / 10) return 0;
            v = v * 10 + d;
        }
        *sq = v;
    }
    return 1;
}

/* Entry IDs are "<seq>-0". An ID names a position: first seq it admits
 * (range start), last seq (range end), or "after" (XREAD, XREADGROUP). */
enum { ID_START, ID_END, ID_AFTER };

/* RC_OK-like 1 and *seq, 0 on a bad ID. Start: first seq >= id; end: last
 * seq <= id; after: entries > id are those with seq > *seq. */
static int id_pos(const char *s, size_t n, int how, uint64_t *seq) {
    uint64_t ms, sq;
    int has;
    if (n == 1 && s[0] == '-') {
        *seq = how == ID_END ? 0 : 1;
        return how != ID_AFTER;
    }
    if (n == 1 && s[0] == '+') {
        *seq = UINT64_MAX;
        return how == ID_END;
    }
    int excl = n > 1 && s[0] == '(';
    if (excl) {
        s++;
        n--;
    }
    if (!parse_id(s, n, &ms, &sq, &has)) return 0;
    if (ms > (uint64_t)INT64_MAX) ms = (uint64_t)INT64_MAX;
    switch (how) {
    case ID_START: /* <seq>-0 >= ms-sq */
        *seq = (has && sq > 0) || excl ? ms + 1 : ms;
        if (*seq == 0) *seq = 1;
        break;
    case ID_END: /* <seq>-0 <= ms-sq ("ms" alone is ms-max) */
        if (excl) {
            if (has && sq > 0) *seq = ms;
            else *seq = ms ? ms - 1 : 0;
        } else {
            *seq = ms;
        }
        break;
    default: *seq = ms; break;
    }
    return 1;
}

static void w_id(rc_resp_w *w, uint64_t seq) {
    char b[32];
    int n = snprintf(b, sizeof b, "%" PRIu64 "-0", seq);
    rc_resp_w_bulk(w, b, (size_t)n);
}

/* The seq an ID names exactly ("<seq>-0" or "<seq>"), or 0. */
static uint64_t id_exact(const char *s, size_t n) {
    uint64_t ms, sq;
    int has;
    if (!parse_id(s, n, &ms, &sq, &has) || sq != 0 || ms == 0 || ms > (uint64_t)INT64_MAX) return 0;
    return ms;
}

/* ---- names of groups and consumers ------------------------------------------------ */

/* Consumer names allow [A-Za-z0-9._-]: keep [A-Za-z0-9-], write any other
 * byte as _HH. Reversible, and '.' never appears inside a part. */
static void esc(rc_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
            rc_buf_putc(b, (char)c);
        } else {
            rc_buf_putc(b, '_');
            rc_buf_putc(b, hex[c >> 4]);
            rc_buf_putc(b, hex[c & 15]);
        }
    }
}

static int hexv(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void unesc(rc_buf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '_' && i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
            rc_buf_putc(b, (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2])));
            i += 2;
        } else {
            rc_buf_putc(b, s[i]);
        }
    }
}

/* "xs.<key>.<group>": 0 and an error reply when it does not fit. */
static int group_name(rc_resp_w *w, rc_buf *out, const char *key, size_t klen, const char *g,
                      size_t glen) {
    rc_buf_reset(out);
    rc_buf_puts(out, "xs.");
    esc(out, key, klen);
    rc_buf_putc(out, '.');
    esc(out, g, glen);
    if (glen == 0 || out->len > RC_CONSUMER_NAME_MAX) {
        rc_resp_w_errorf(w, "ERR the stream key and group name must be 1..%d bytes together once "
                            "escaped (a Redcar consumer name)", RC_CONSUMER_NAME_MAX);
        return 0;
    }
    return 1;
}

static int member_name(rc_resp_w *w, rc_buf *out, const char *m, size_t n) {
    rc_buf_reset(out);
    esc(out, m, n);
    if (n == 0 || out->len > RC_CONSUMER_NAME_MAX) {
        rc_resp_w_errorf(w, "ERR consumer names must be 1..%d bytes once escaped",
                         RC_CONSUMER_NAME_MAX);
        return 0;
    }
    return 1;
}

static void w_member(rc_resp_w *w, const char *escaped) {
    rc_buf b = RC_BUF_INIT;
    unesc(&b, escaped, strlen(escaped));
    rc_resp_w_bulk(w, b.p ? b.p : "", b.len);
    rc_buf_free(&b);
}

static void err_nogroup(rc_resp_w *w, const char *key, const char *group, const char *cmd) {
    rc_resp_w_errorf(w, "NOGROUP No such key '%.100s' or consumer group '%.100s'%s%s", key, group,
                     cmd ? " in " : "", cmd ? cmd : "");
}

/* ---- known consumers (members) -----------------------------------------------------
 * Redis keeps consumers that hold nothing (XGROUP CREATECONSUMER, a read
 * that found nothing) until DELCONSUMER. Every read, claim and
 * CREATECONSUMER records its consumer with the durable consumer
 * (rc_consumer_txn_member_touch), in the same transaction, so members
 * survive restarts; XINFO CONSUMERS merges them with the pending list. */

/* ---- JSON data (trusted shape, scanned defensively) ------------------------------- */

static const char *jws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static void put_utf8(rc_buf *b, unsigned long cp) {
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    rc_buf_append(b, o, n);
}

static int hex4(const char *p, const char *e, unsigned long *v) {
    if (e - p < 4) return 0;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return 0;
        *v = *v * 16 + (unsigned long)d;
    }
    return 1;
}

/* A JSON string at p, unescaped into out (may be NULL: skip). Returns the
 * position after it, or NULL. */
static const char *jstr(const char *p, const char *e, rc_buf *out) {
    if (p >= e || *p != '"') return NULL;
    p++;
    while (p < e && *p != '"') {
        const char *q = p;
        while (q < e && *q != '"' && *q != '\\') q++;
        if (out && q > p) rc_buf_append(out, p, (size_t)(q - p));
        p = q;
        if (p >= e || *p == '"') break;
        if (++p >= e) return NULL; /* the escaped character */
        char c = *p++;
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *k = strchr(from, c);
        if (c && k) {
            if (out) rc_buf_putc(out, to[k - from]);
        } else if (c == 'u') {
            unsigned long cp, lo;
            if (!hex4(p, e, &cp)) return NULL;
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && e - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
                hex4(p + 2, e, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            if (out) put_utf8(out, cp);
        } else {
            return NULL;
        }
    }
    return p < e ? p + 1 : NULL;
}

/* Past one JSON value, or NULL. */
static const char *jskip(const char *p, const char *e) {
    p = jws(p, e);
    if (p >= e) return NULL;
    if (*p == '"') return jstr(p, e, NULL);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < e) {
            if (*p == '"') {
                if (!(p = jstr(p, e, NULL))) return NULL;
                continue;
            }
            if (*p == '{' || *p == '[') depth++;
            else if (*p == '}' || *p == ']') {
                if (--depth == 0) return p + 1;
            }
            p++;
        }
        return NULL;
    }
    while (p < e && !strchr(",}] \t\r\n", *p)) p++;
    return p;
}

/* Calls fn for each member of a JSON object: the key (unescaped) and the
 * raw value text. Returns 0, or -1 when text is not an object. */
typedef int (*jmember_fn)(void *arg, const char *k, size_t kl, const char *v, size_t vl);
static int jobject(const char *p, size_t n, jmember_fn fn, void *arg) {
    const char *e = p + n;
    rc_buf key = RC_BUF_INIT;
    int rc = -1;
    p = jws(p, e);
    if (p >= e || *p != '{') goto out;
    p = jws(p + 1, e);
    if (p < e && *p == '}') {
        rc = 0;
        goto out;
    }
    while (p < e) {
        rc_buf_reset(&key);
        if (!(p = jstr(p, e, &key))) goto out;
        p = jws(p, e);
        if (p >= e || *p != ':') goto out;
        const char *v = jws(p + 1, e), *ve = jskip(v, e);
        if (!ve) goto out;
        if (fn(arg, key.p ? key.p : "", key.len, v, (size_t)(ve - v))) break;
        p = jws(ve, e);
        if (p < e && *p == ',') {
            p = jws(p + 1, e);
            continue;
        }
        if (p < e && *p == '}') break;
        goto out;
    }
    rc = 0;
out:
    rc_buf_free(&key);
    return rc;
}

/* A member value as the bytes of a field: strings unescaped, {"base64":..}
 * decoded (how non-UTF-8 values are written), anything else its JSON text. */
typedef struct b64find {
    const char *v;
    size_t vl;
    int n;
} b64find;

static int b64_member(void *arg, const char *k, size_t kl, const char *v, size_t vl) {
    b64find *f = arg;
    f->n++;
    if (kl == 6 && !memcmp(k, "base64", 6) && vl && v[0] == '"') {
        f->v = v;
        f->vl = vl;
    }
    return 0;
}

static void jvalue_bytes(rc_buf *out, const char *v, size_t vl) {
    if (vl && v[0] == '"') {
        if (jstr(v, v + vl, out)) return;
        rc_buf_reset(out);
    } else if (vl && v[0] == '{') {
        b64find f = {0};
        if (jobject(v, vl, b64_member, &f) == 0 && f.n == 1 && f.v) {
            rc_buf t = RC_BUF_INIT;
            unsigned char *bin = NULL;
            size_t bl = 0;
            if (jstr(f.v, f.v + f.vl, &t) && rc_base64_decode(t.p ? t.p : "", t.len, &bin, &bl) == RC_OK) {
                rc_buf_append(out, bin, bl);
                free(bin);
                rc_buf_free(&t);
                return;
            }
            rc_buf_free(&t);
        }
    }
    rc_buf_append(out, v, vl);
}

/* ---- event -> entry ----------------------------------------------------------------- */

typedef struct fieldw {
    rc_resp_w w;   /* into a scratch buffer */
    size_t n;      /* bulk strings written */
    rc_buf tmp;
} fieldw;

static void fw_pair(fieldw *f, const char *k, size_t kl, const void *v, size_t vl) {
    rc_resp_w_bulk(&f->w, k, kl);
    rc_resp_w_bulk(&f->w, v, vl);
    f->n += 2;
}

static int data_member(void *arg, const char *k, size_t kl, const char *v, size_t vl) {
    fieldw *f = arg;
    rc_buf_reset(&f->tmp);
    jvalue_bytes(&f->tmp, v, vl);
    fw_pair(f, k, kl, f->tmp.p ? f->tmp.p : "", f->tmp.len);
    return 0;
}

/* [id, [field, value, ...]] for one stored event. */
static void w_entry(rc_resp_w *w, uint64_t seq, const rc_event *ev) {
    rc_buf sb = RC_BUF_INIT;
    fieldw f = {{&sb, w->proto}, 0, RC_BUF_INIT};
    static const char *const attrs[] = {"id", "source", "type", "time", "datacontenttype",
                                        "dataschema"};
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        char tmp[32];
        const char *v = rc_event_get(ev, attrs[i], tmp, sizeof tmp);
        if (v) fw_pair(&f, attrs[i], strlen(attrs[i]), v, strlen(v));
    }
    for (size_t i = 0; i < ev->n_ext; i++) {
        char tmp[32], k[64];
        const char *v = rc_event_get(ev, ev->ext[i].name, tmp, sizeof tmp);
        int kl = snprintf(k, sizeof k, "ce_%s", ev->ext[i].name);
        if (v && kl > 0 && (size_t)kl < sizeof k) fw_pair(&f, k, (size_t)kl, v, strlen(v));
    }
    if (ev->data_form != RC_DATA_NONE) {
        const char *d = (const char *)ev->data;
        size_t dl = ev->data_len;
        const char *p = jws(d, d + dl);
        int object = ev->data_form == RC_DATA_JSON && p < d + dl && *p == '{';
        if (object) {
            /* members go first into their own buffer: a malformed object
             * (never stored, but checked) falls back to one "data" field */
            rc_buf ob = RC_BUF_INIT;
            fieldw of = {{&ob, w->proto}, 0, RC_BUF_INIT};
            if (jobject(d, dl, data_member, &of) == 0) {
                rc_buf_append(&sb, ob.p ? ob.p : "", ob.len);
                f.n += of.n;
            } else {
                object = 0;
            }
            rc_buf_free(&ob);
            rc_buf_free(&of.tmp);
        }
        if (!object) fw_pair(&f, "data", 4, d ? d : "", dl);
    }
    rc_resp_w_array(w, 2);
    w_id(w, seq);
    rc_resp_w_array(w, f.n);
    rc_buf_append(w->b, sb.p ? sb.p : "", sb.len);
    rc_buf_free(&sb);
    rc_buf_free(&f.tmp);
}

/* ---- fields -> event (XADD) ------------------------------------------------------------ */

static const char *const core_attrs[] = {"id", "source", "type", "time", "datacontenttype",
                                         "dataschema", "specversion"};

static int is_core(const char *k, size_t kl) {
    for (size_t i = 0; i < sizeof core_attrs / sizeof core_attrs[0]; i++)
        if (strlen(core_attrs[i]) == kl && !memcmp(core_attrs[i], k, kl)) return 1;
    return 0;
}

/* The event for XADD key f v [f v ...] (args v[0] = key, then pairs).
 * NULL and an error reply on bad input. */
static rc_event *build_event(rc_resp_w *w, char **v, const size_t *len, size_t from, size_t to,
                             const char *key) {
    rc_event *ev = rc_api_event_new(RC__SOURCE, T_ENTRY);
    rc_buf data = RC_BUF_INIT;
    size_t ndata = 0;
    const char *only_data = NULL;
    size_t only_len = 0;
    const char *ctype = NULL;
    if (!ev || rc_event_set(ev, "subject", key)) {
        rc_resp_w_error(w, "ERR out of memory");
        goto fail;
    }
    for (size_t i = from; i + 1 < to; i += 2) {
        const char *k = v[i], *val = v[i + 1];
        size_t kl = len[i], vl = len[i + 1];
        for (size_t j = from; j < i; j += 2)
            if (len[j] == kl && !memcmp(v[j], k, kl)) {
                rc_resp_w_errorf(w, "ERR field '%.60s' given twice (an entry is a CloudEvent: "
                                    "field names are unique)", k);
                goto fail;
            }
        if (kl == 7 && !memcmp(k, "subject", 7)) {
            rc_resp_w_error(w, "ERR 'subject' cannot be a field: the stream key is the subject");
            goto fail;
        }
        if (is_core(k, kl) || (kl > 3 && !memcmp(k, "ce_", 3))) {
            if (memchr(val, '\0', vl) || !rc_valid_utf8(val, vl)) {
                rc_resp_w_errorf(w, "ERR attribute '%.60s' must be UTF-8 text without NUL bytes", k);
                goto fail;
            }
            if (kl > 3 && !memcmp(k, "ce_", 3)) {
                const char *name = k + 3;
                if (!rc_valid_ext_name(name) || !strcmp(name, "seq") || kl - 3 > 20) {
                    rc_resp_w_errorf(w, "ERR '%.60s': an extension attribute name after ce_ must "
                                        "be 1..20 of [a-z0-9], not 'data' or 'seq'", k);
                    goto fail;
                }
                if (is_core(name, kl - 3) || !strcmp(name, "subject")) {
                    rc_resp_w_errorf(w, "ERR '%.60s': give the attribute without ce_", k);
                    goto fail;
                }
                if (rc_event_set_ext_string(ev, name, RC_EXT_STRING, val)) {
                    rc_resp_w_error(w, "ERR out of memory");
                    goto fail;
                }
            } else if (kl == 11 && !memcmp(k, "specversion", 11)) {
                if (strcmp(val, "1.0")) {
                    rc_resp_w_error(w, "ERR specversion: only 1.0 is supported");
                    goto fail;
                }
            } else {
                if (kl == 15 && !memcmp(k, "datacontenttype", 15)) ctype = val;
                if (rc_event_set(ev, k, val)) {
                    rc_resp_w_error(w, "ERR out of memory");
                    goto fail;
                }
            }
            continue;
        }
        if (!rc_valid_utf8(k, kl) || memchr(k, '\0', kl)) {
            rc_resp_w_error(w, "ERR field names of the data must be UTF-8 text without NUL bytes");
            goto fail;
        }
        if (kl == 4 && !memcmp(k, "data", 4)) {
            only_data = val;
            only_len = vl;
        }
        rc_buf_putc(&data, ndata ? ',' : '{');
        rc_api_json_value(&data, k, kl);
        rc_buf_putc(&data, ':');
        rc_api_json_value(&data, val, vl);
        ndata++;
    }
    if (ndata == 1 && only_data) {
        /* One "data" field: the data itself, as the content type says. */
        const char *ct = ctype ? ctype
                         : rc_valid_utf8(only_data, only_len) ? "text/plain"
                                                              : "application/octet-stream";
        if (rc_event_set_data(ev, ct, only_data, only_len, RC_DATA_NONE)) {
            rc_resp_w_error(w, "ERR out of memory");
            goto fail;
        }
    } else if (ndata > 0) {
        rc_buf_putc(&data, '}');
        if (ctype && !rc_is_json_ctype(ctype)) {
            rc_resp_w_errorf(w, "ERR datacontenttype '%.60s': data fields make a JSON object; "
                                "use a JSON content type or a single 'data' field", ctype);
            goto fail;
        }
        if (rc_event_set_data(ev, ctype ? ctype : "application/json", data.p, data.len,
                              RC_DATA_JSON)) {
            rc_resp_w_error(w, "ERR out of memory");
            goto fail;
        }
    }
    rc_err err;
    rc_err_clear(&err);
    if (rc_event_validate(ev, &err) != RC_OK) {
        rc_resp_w_errorf(w, "ERR invalid CloudEvent: %s", rc_err_msg(&err));
        goto fail;
    }
    rc_buf_free(&data);
    return ev;
fail:
    rc_buf_free(&data);
    rc_event_free(ev);
    return NULL;
}

/* ---- the stream view: entries minus tombstones ---------------------------------------- */

/* Where reads go: the read pool (loop thread, waiter thread) or, inside a
 * step on the writer thread, the transaction (which sees its own appends). */
typedef struct xsrc {
    rc_store *st;
    rc_txn *tx;
} xsrc;

static int xscan(const xsrc *s, rc_query q, rc_stored_fn fn, void *arg, rc_err *err) {
    if (s->tx) return rc_consumer_txn_scan(s->st, s->tx, &q, fn, arg, err);
    int rc = rc_store_scan(s->st, &q, fn, arg, err);
    if (rc == RC_TRIMMED) { /* retention took the front: read what is left */
        q.from = q.after = 0;
        rc_err_clear(err);
        rc = rc_store_scan(s->st, &q, fn, arg, err);
    }
    return rc;
}

static int not_entry(const char *type) {
    return type && (!strcmp(type, T_DELETED) || !strcmp(type, T_TRIMMED));
}

typedef struct xview {
    uint64_t minseq;   /* entries below were trimmed */
    uint64_t *del;     /* deleted seqs, sorted */
    size_t ndel, cap;
} xview;

static void view_free(xview *v) {
    free(v->del);
    memset(v, 0, sizeof *v);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int view_hidden(const xview *v, uint64_t seq) {
    return seq < v->minseq || (v->ndel && bsearch(&seq, v->del, v->ndel, sizeof seq, cmp_u64));
}

static uint64_t num_at(const char **pp, const char *e) {
    const char *p = *pp;
    uint64_t n = 0;
    while (p < e && *p >= '0' && *p <= '9') {
        n = n * 10 + (uint64_t)(*p - '0');
        p++;
    }
    *pp = p;
    return n;
}

static int tomb_member(void *arg, const char *k, size_t kl, const char *v, size_t vl) {
    xview *x = arg;
    const char *p = v, *e = v + vl;
    if (kl == 6 && !memcmp(k, "minseq", 6)) {
        uint64_t m = num_at(&p, e);
        if (m > x->minseq) x->minseq = m;
    } else if (kl == 4 && !memcmp(k, "seqs", 4)) {
        while (p < e) {
            if (*p >= '0' && *p <= '9') {
                uint64_t s = num_at(&p, e);
                if (x->ndel == x->cap) {
                    x->cap = x->cap ? x->cap * 2 : 16;
                    x->del = realloc(x->del, x->cap * sizeof *x->del);
                    if (!x->del) abort();
                }
                x->del[x->ndel++] = s;
            } else {
                p++;
            }
        }
    }
    return 0;
}

static int tomb_row(const rc_stored *r, void *arg) {
    rc_event *ev = NULL;
    rc_err e;
    if (rc_event_decode_json(r->json, r->json_len, &ev, &e) == RC_OK && ev->data)
        jobject((const char *)ev->data, ev->data_len, tomb_member, arg);
    rc_event_free(ev);
    return 0;
}

/* The tombstones that matter for entries with seq >= lo (a tombstone always
 * comes after the entries it names). */
static int view_load(const xsrc *s, const char *key, uint64_t lo, xview *v, rc_err *err) {
    memset(v, 0, sizeof *v);
    rc_query q = {0};
    q.type = T_TRIMMED;
    q.subject = key;
    q.desc = 1;
    q.limit = 1;
    int rc = xscan(s, q, tomb_row, v, err);
    if (rc) return rc;
    memset(&q, 0, sizeof q);
    q.type = T_DELETED;
    q.subject = key;
    q.after = lo > v->minseq ? lo : v->minseq;
    if ((rc = xscan(s, q, tomb_row, v, err))) {
        view_free(v);
        return rc;
    }
    if (v->ndel > 1) qsort(v->del, v->ndel, sizeof *v->del, cmp_u64);
    return RC_OK;
}

/* ---- reading entries -------------------------------------------------------------------- */

typedef struct rangectx {
    const xview *v;
    rc_resp_w *w;
    size_t count, n;
    uint64_t last;
} rangectx;

static int range_row(const rc_stored *r, void *arg) {
    rangectx *c = arg;
    if (not_entry(r->type) || view_hidden(c->v, r->seq)) return 0;
    rc_event *ev = NULL;
    rc_err e;
    if (rc_event_decode_json(r->json, r->json_len, &ev, &e) != RC_OK) return 0;
    w_entry(c->w, r->seq, ev);
    rc_event_free(ev);
    c->n++;
    c->last = r->seq;
    return c->count && c->n >= c->count;
}

/* Entries with lo <= seq <= hi, oldest (or newest) first, at most count
 * (0: all), as one array on w. *n (may be NULL) = entries written. */
static int range_write(const xsrc *s, const char *key, uint64_t lo, uint64_t hi, int desc,
                       size_t count, rc_resp_w *w, size_t *n, rc_err *err) {
    xview v;
    if (n) *n = 0;
    if (lo == 0) lo = 1;
    if (hi < lo) {
        rc_resp_w_array(w, 0);
        return RC_OK;
    }
    int rc = view_load(s, key, lo, &v, err);
    if (rc) return rc;
    rc_buf sb = RC_BUF_INIT;
    rc_resp_w sw = {&sb, w->proto};
    rangectx c = {&v, &sw, count, 0, 0};
    rc_query q = {0};
    q.subject = key;
    q.from = lo > v.minseq ? lo : v.minseq;
    q.to = hi == UINT64_MAX ? 0 : hi;
    q.desc = desc;
    if (q.to == 0 || q.to >= q.from) rc = xscan(s, q, range_row, &c, err);
    if (rc == RC_OK) {
        rc_resp_w_array(w, c.n);
        rc_buf_append(w->b, sb.p ? sb.p : "", sb.len);
        if (n) *n = c.n;
    }
    rc_buf_free(&sb);
    view_free(&v);
    return rc;
}

typedef struct countctx {
    const xview *v;
    uint64_t n, first, last, last_any, added, any;
    uint64_t stop_after;  /* MAXLEN: stop at the n-th visible entry (desc scans) */
} countctx;

static int count_row(const rc_stored *r, void *arg) {
    countctx *c = arg;
    c->any++;
    if (not_entry(r->type)) return 0;
    c->added++;
    if (r->seq > c->last_any) c->last_any = r->seq;
    if (view_hidden(c->v, r->seq)) return 0;
    c->n++;
    if (!c->first || r->seq < c->first) c->first = r->seq;
    if (r->seq > c->last) c->last = r->seq;
    return c->stop_after && c->n >= c->stop_after;
}

/* Visible entries (and the other counters of countctx) of key in lo..hi. */
static int stream_count(const xsrc *s, const char *key, uint64_t lo, uint64_t hi, countctx *c,
                        rc_err *err) {
    xview v;
    int rc = view_load(s, key, lo, &v, err);
    if (rc) return rc;
    memset(c, 0, sizeof *c);
    c->v = &v;
    rc_query q = {0};
    q.subject = key;
    q.from = lo;
    q.to = hi;
    rc = xscan(s, q, count_row, c, err);
    c->v = NULL;
    view_free(&v);
    return rc;
}

static int removed_member(void *arg, const char *k, size_t kl, const char *v, size_t vl) {
    if (kl == 7 && !memcmp(k, "removed", 7) && vl == 4 && !memcmp(v, "true", 4)) *(int *)arg = 1;
    return 0;
}

static int created_member(void *arg, const char *k, size_t kl, const char *v, size_t vl) {
    if (kl == 7 && !memcmp(k, "created", 7) && vl == 4 && !memcmp(v, "true", 4)) *(int *)arg = 1;
    return 0;
}

/* The newest event under a subject decides whether it is a stream key
 * (streamkey.h): not when it belongs to the KV view or is DEL's tombstone. */
int rc__r_stream_newest_live(const rc_stored *r) {
    if (!r->type || !strncmp(r->type, RC_KV_TYPE_PREFIX, sizeof RC_KV_TYPE_PREFIX - 1)) return 0;
    if (strcmp(r->type, T_TRIMMED)) return 1;
    rc_event *ev = NULL;
    rc_err e;
    int removed = 0;
    if (r->json && rc_event_decode_json(r->json, r->json_len, &ev, &e) == RC_OK && ev->data)
        jobject((const char *)ev->data, ev->data_len, removed_member, &removed);
    rc_event_free(ev);
    return !removed;
}

static int newest_row(const rc_stored *r, void *arg) {
    *(int *)arg = rc__r_stream_newest_live(r);
    return 1;
}

/* Whether key is a stream now: what TYPE, EXISTS, XINFO, NOMKSTREAM and
 * XGROUP CREATE agree on. One indexed read (the subject's newest event). */
static int stream_exists(const xsrc *s, const char *key, int *exists, rc_err *err) {
    rc_query q = {0};
    q.subject = key;
    q.desc = 1;
    q.limit = 1;
    *exists = 0;
    return xscan(s, q, newest_row, exists, err);
}

int rc__r_stream_key(rc_store *st, rc_txn *tx, const char *key, int *is_stream, rc_err *err) {
    xsrc s = {st, tx};
    return stream_exists(&s, key, is_stream, err);
}

static int head_row(const rc_stored *r, void *arg) {
    *(uint64_t *)arg = r->seq;
    return 1;
}

int rc__r_subject_head(rc_store *st, rc_txn *tx, const char *key, uint64_t *seq, rc_err *err) {
    xsrc s = {st, tx};
    rc_query q = {0};
    q.subject = key;
    q.desc = 1;
    q.limit = 1;
    *seq = 0;
    return xscan(&s, q, head_row, seq, err);
}

/* Keyspace notifications of the log's events on stream subjects, named as
 * Redis names the command's (XADD, XDEL, XTRIM, DEL). MKSTREAM's tombstone
 * has none: XGROUP CREATE notifies xgroup-create itself. */
const char *rc__r_stream_event_name(const rc_event *ev, int *generic) {
    *generic = 0;
    if (!ev->type || !ev->subject) return NULL;
    if (!strncmp(ev->type, RC_KV_TYPE_PREFIX, sizeof RC_KV_TYPE_PREFIX - 1)) return NULL;
    if (!strcmp(ev->type, T_DELETED)) return "xdel";
    if (strcmp(ev->type, T_TRIMMED)) return "xadd"; /* an entry, whichever door wrote it */
    int removed = 0, created = 0;
    if (ev->data) {
        jobject((const char *)ev->data, ev->data_len, removed_member, &removed);
        jobject((const char *)ev->data, ev->data_len, created_member, &created);
    }
    if (created) return NULL;
    *generic = removed;
    return removed ? "del" : "xtrim";
}

/* ---- tombstones -------------------------------------------------------------------------- */

static int append_tomb(rc_txn *tx, const char *type, const char *key, const rc_buf *data,
                       rc_err *err) {
    rc_event *ev = rc_api_event_new(RC__SOURCE, type);
    if (!ev || rc_event_set(ev, "subject", key) ||
        rc_event_set_data(ev, "application/json", data->p, data->len, RC_DATA_JSON)) {
        rc_event_free(ev);
        return rc_err_set(err, RC_NOMEM, "out of memory");
    }
    return rc_txn_append(tx, ev, NULL, err);
}

/* A trimmed tombstone at the next seq: it hides every entry so far.
 * removed: the key is gone (DEL), else an empty stream remains (MKSTREAM,
 * marked "created" so that it notifies nothing of its own). */
static int append_cut(rc_txn *tx, const char *key, int removed, rc_err *err) {
    rc_buf d = RC_BUF_INIT;
    rc_buf_printf(&d, "{\"minseq\":%" PRIu64 "%s}", rc_txn_last_seq(tx) + 1,
                  removed ? ",\"removed\":true" : ",\"created\":true");
    int rc = append_tomb(tx, T_TRIMMED, key, &d, err);
    rc_buf_free(&d);
    return rc;
}

int rc__r_stream_remove(rc_txn *tx, const char *key, rc_err *err) {
    return append_cut(tx, key, 1, err);
}

enum { TRIM_NONE, TRIM_MAXLEN, TRIM_MINID };

/* Trim key to MAXLEN thr (keep the newest thr entries) or MINID thr
 * (entries with seq < thr go): one io.redcar.stream.trimmed event. */
static int trim_do(const xsrc *s, const char *key, int mode, uint64_t thr, uint64_t *removed,
                   rc_err *err) {
    *removed = 0;
    countctx c;
    uint64_t cut = thr;
    int rc;
    if (mode == TRIM_MAXLEN) {
        xview v;
        if ((rc = view_load(s, key, 0, &v, err))) return rc;
        memset(&c, 0, sizeof c);
        c.v = &v;
        c.stop_after = thr;
        rc_query q = {0};
        q.subject = key;
        q.desc = 1;
        q.from = v.minseq;
        if (thr > 0) rc = xscan(s, q, count_row, &c, err);
        view_free(&v);
        if (rc) return rc;
        if (thr == 0) {
            cut = s->tx ? rc_txn_last_seq(s->tx) + 1 : UINT64_MAX;
        } else {
            if (c.n < thr) return RC_OK; /* shorter than MAXLEN already */
            cut = c.first;               /* the thr-th newest stays */
        }
    }
    if (cut <= 1) return RC_OK;
    if ((rc = stream_count(s, key, 0, cut - 1, &c, err))) return rc;
    if (c.n == 0) return RC_OK;
    *removed = c.n;
    rc_buf d = RC_BUF_INIT;
    rc_buf_printf(&d, "{\"minseq\":%" PRIu64 "}", cut);
    rc = append_tomb(s->tx, T_TRIMMED, key, &d, err);
    rc_buf_free(&d);
    return rc;
}

/* MAXLEN|MINID [=|~] threshold [LIMIT n] at argv[i]; *i moves past it.
 * 0 and an error reply on bad input. */
static int parse_trim(rc__call *c, size_t *i, int *mode, uint64_t *thr) {
    size_t k = *i;
    *mode = rc__r_streq(c->argv[k], "MAXLEN") ? TRIM_MAXLEN
            : rc__r_streq(c->argv[k], "MINID") ? TRIM_MINID : TRIM_NONE;
    if (*mode == TRIM_NONE || ++k >= c->argc) goto syntax;
    int approx = 0;
    if (!strcmp(c->argv[k], "=") || !strcmp(c->argv[k], "~")) {
        approx = c->argv[k][0] == '~';
        if (++k >= c->argc) goto syntax;
    }
    if (*mode == TRIM_MAXLEN) {
        int64_t n;
        if (!rc__r_parse_i64(c->argv[k], c->argvlen[k], &n) || n < 0) {
            rc_resp_w_error(&c->w, "ERR The MAXLEN argument must be >= 0.");
            return 0;
        }
        *thr = (uint64_t)n;
    } else if (!id_pos(c->argv[k], c->argvlen[k], ID_START, thr)) {
        rc_resp_w_error(&c->w, ERR_ID);
        return 0;
    }
    k++;
    if (k + 1 < c->argc && rc__r_streq(c->argv[k], "LIMIT")) {
        int64_t lim;
        if (!rc__r_parse_i64(c->argv[k + 1], c->argvlen[k + 1], &lim) || lim < 0) {
            rc__r_err_int(c);
            return 0;
        }
        if (!approx) {
            rc_resp_w_error(&c->w, "ERR syntax error, LIMIT cannot be used without the special ~ option");
            return 0;
        }
        k += 2; /* exact trimming: LIMIT only bounds work, which is allowed */
    }
    *i = k;
    return 1;
syntax:
    rc__r_err_syntax(c);
    return 0;
}

/* ---- XADD / XDEL / XTRIM ---------------------------------------------------------------- */

typedef struct xw_arg {
    rc_store *st;
    char *key;
    rc_event *ev;        /* XADD: cloned per run (a retried group runs the step again) */
    int nomk, trim;
    uint64_t thr;
    uint64_t *seqs;      /* XDEL */
    size_t nseqs;
} xw_arg;

static void xw_arg_free(void *p) {
    xw_arg *a = p;
    if (!a) return;
    free(a->key);
    rc_event_free(a->ev);
    free(a->seqs);
    free(a);
}

static xw_arg *xw_arg_new(rc__call *c) {
    xw_arg *a = calloc(1, sizeof *a);
    if (!a) abort();
    a->st = c->door->st;
    a->key = rc__r_strndup(c->argv[1], c->argvlen[1]);
    return a;
}

static int xadd_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    xw_arg *a = arg;
    xsrc s = {a->st, tx};
    int rc;
    if (a->nomk) {
        int exists;
        if ((rc = stream_exists(&s, a->key, &exists, err))) return rc;
        if (!exists) {
            rc_resp_w_null(w);
            return RC_OK;
        }
    }
    rc_event *ev = rc_event_clone(a->ev);
    if (!ev) return rc_err_set(err, RC_NOMEM, "out of memory");
    rc_append_item it;
    if ((rc = rc_txn_append(tx, ev, &it, err))) return rc;
    uint64_t removed;
    if (a->trim && (rc = trim_do(&s, a->key, a->trim, a->thr, &removed, err))) return rc;
    w_id(w, it.seq);
    return RC_OK;
}

/* XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] thr [LIMIT n]] * field value [...] */
void rc__r_cmd_xadd(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    size_t i = 2;
    int nomk = 0, trim = TRIM_NONE;
    uint64_t thr = 0;
    while (i < c->argc) {
        if (rc__r_streq(c->argv[i], "NOMKSTREAM")) {
            nomk = 1;
            i++;
        } else if (rc__r_streq(c->argv[i], "MAXLEN") || rc__r_streq(c->argv[i], "MINID")) {
            if (!parse_trim(c, &i, &trim, &thr)) return;
        } else {
            break;
        }
    }
    if (i >= c->argc) {
        rc__r_err_syntax(c);
        return;
    }
    if (strcmp(c->argv[i], "*")) {
        uint64_t ms, sq;
        int has;
        if (!parse_id(c->argv[i], c->argvlen[i], &ms, &sq, &has) && strcmp(c->argv[i], "*")) {
            rc_resp_w_error(&c->w, ERR_ID);
            return;
        }
        rc_resp_w_error(&c->w, "ERR Redcar assigns entry IDs from the log (<seq>-0): use * as "
                               "the ID (an 'id' field sets the CloudEvent id instead)");
        return;
    }
    i++;
    if (i >= c->argc || (c->argc - i) % 2) {
        rc__r_err_arity(c);
        return;
    }
    if (!rc_valid_utf8(c->argv[1], c->argvlen[1])) {
        rc_resp_w_error(&c->w, "ERR a stream key is a CloudEvents subject: it must be UTF-8");
        return;
    }
    rc_event *ev = build_event(&c->w, c->argv, c->argvlen, i, c->argc, c->argv[1]);
    if (!ev) return;
    if (!rc__r_event_fits(c, ev)) {
        rc_event_free(ev);
        return;
    }
    xw_arg *a = xw_arg_new(c);
    a->ev = ev;
    a->nomk = nomk;
    a->trim = trim;
    a->thr = thr;
    rc__r_txn_once(c, xadd_step, a, xw_arg_free);
}

typedef struct existctx {
    const char *key;
    const xview *v;
    int ok;
} existctx;

static int exist_row(const rc_stored *r, void *arg) {
    existctx *e = arg;
    e->ok = r->subject && !strcmp(r->subject, e->key) && !not_entry(r->type) &&
            !view_hidden(e->v, r->seq);
    return 1;
}

static int xdel_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    xw_arg *a = arg;
    xsrc s = {a->st, tx};
    uint64_t lo = UINT64_MAX;
    for (size_t i = 0; i < a->nseqs; i++)
        if (a->seqs[i] && a->seqs[i] < lo) lo = a->seqs[i];
    if (lo == UINT64_MAX) {
        rc_resp_w_int(w, 0);
        return RC_OK;
    }
    xview v;
    int rc = view_load(&s, a->key, lo, &v, err);
    if (rc) return rc;
    rc_buf d = RC_BUF_INIT;
    int64_t n = 0;
    rc_buf_puts(&d, "{\"seqs\":[");
    for (size_t i = 0; i < a->nseqs && rc == RC_OK; i++) {
        uint64_t seq = a->seqs[i];
        int dup = 0;
        for (size_t j = 0; j < i; j++) dup |= a->seqs[j] == seq;
        if (!seq || dup) continue;
        existctx e = {a->key, &v, 0};
        rc_query q = {0};
        q.from = q.to = seq;
        rc = xscan(&s, q, exist_row, &e, err);
        if (rc || !e.ok) continue;
        if (n++) rc_buf_putc(&d, ',');
        rc_buf_put_u64(&d, seq);
    }
    rc_buf_puts(&d, "]}");
    if (rc == RC_OK && n > 0) rc = append_tomb(tx, T_DELETED, a->key, &d, err);
    if (rc == RC_OK) rc_resp_w_int(w, n);
    rc_buf_free(&d);
    view_free(&v);
    return rc;
}

void rc__r_cmd_xdel(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    xw_arg *a = xw_arg_new(c);
    a->nseqs = c->argc - 2;
    a->seqs = calloc(a->nseqs, sizeof *a->seqs);
    if (!a->seqs) abort();
    for (size_t i = 2; i < c->argc; i++) {
        uint64_t ms, sq;
        int has;
        if (!parse_id(c->argv[i], c->argvlen[i], &ms, &sq, &has)) {
            xw_arg_free(a);
            rc_resp_w_error(&c->w, ERR_ID);
            return;
        }
        a->seqs[i - 2] = id_exact(c->argv[i], c->argvlen[i]);
    }
    rc__r_txn_once(c, xdel_step, a, xw_arg_free);
}

static int xtrim_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    xw_arg *a = arg;
    xsrc s = {a->st, tx};
    uint64_t removed;
    int rc = trim_do(&s, a->key, a->trim, a->thr, &removed, err);
    if (!rc) rc_resp_w_int(w, (int64_t)removed);
    return rc;
}

/* XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count] */
void rc__r_cmd_xtrim(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    size_t i = 2;
    int mode;
    uint64_t thr;
    if (!parse_trim(c, &i, &mode, &thr)) return;
    if (i != c->argc) {
        rc__r_err_syntax(c);
        return;
    }
    xw_arg *a = xw_arg_new(c);
    a->trim = mode;
    a->thr = thr;
    rc__r_txn_once(c, xtrim_step, a, xw_arg_free);
}

/* ---- XRANGE / XREVRANGE / XLEN ------------------------------------------------------------ */

static void xrange_common(rc__call *c, int rev) {
    if (!rc__r_key_ok(c, 1)) return;
    uint64_t lo, hi;
    const size_t a = rev ? 3 : 2, b = rev ? 2 : 3; /* XREVRANGE key end start */
    if (!id_pos(c->argv[a], c->argvlen[a], ID_START, &lo) ||
        !id_pos(c->argv[b], c->argvlen[b], ID_END, &hi)) {
        rc_resp_w_error(&c->w, ERR_ID);
        return;
    }
    int64_t count = 0;
    if (c->argc == 6 && rc__r_streq(c->argv[4], "COUNT")) {
        if (!rc__r_parse_i64(c->argv[5], c->argvlen[5], &count)) {
            rc__r_err_int(c);
            return;
        }
        if (count <= 0) {
            rc_resp_w_array(&c->w, 0);
            return;
        }
    } else if (c->argc != 4) {
        rc__r_err_syntax(c);
        return;
    }
    xsrc s = {c->door->st, NULL};
    rc_err err;
    rc_err_clear(&err);
    int rc = range_write(&s, c->argv[1], lo, hi, rev, (size_t)count, &c->w, NULL, &err);
    if (rc) rc__r_reply_status(&c->w, rc, &err);
}

void rc__r_cmd_xrange(rc__call *c) { xrange_common(c, 0); }
void rc__r_cmd_xrevrange(rc__call *c) { xrange_common(c, 1); }

static int first_row(const rc_stored *r, void *arg) {
    *(uint64_t *)arg = r->seq;
    return 1;
}

/* XLEN from the indexes, without reading an entry: the subject's events
 * from the trim point on, minus its tombstones there, minus the deleted
 * entries that are still stored (retention may have taken some). The
 * tombstones are read as for any view; there are few of them. */
static int stream_len(rc_store *st, const char *key, uint64_t *n, rc_err *err) {
    xsrc s = {st, NULL};
    xview v;
    int rc = view_load(&s, key, 0, &v, err);
    if (rc) return rc;
    uint64_t all = 0, tdel = 0, ttrim = 0, first = 0, gone = 0;
    rc_query q = {0};
    q.subject = key;
    q.from = v.minseq;
    if (!(rc = rc_store_count(st, &q, &all, err))) {
        q.type = T_DELETED;
        rc = rc_store_count(st, &q, &tdel, err);
    }
    if (!rc) {
        q.type = T_TRIMMED;
        rc = rc_store_count(st, &q, &ttrim, err);
    }
    if (!rc && v.ndel) {
        rc_query fq = {0};
        fq.limit = 1;
        rc = rc_store_scan(st, &fq, first_row, &first, err);
    }
    if (!rc) {
        uint64_t lo = first > v.minseq ? first : v.minseq;
        for (size_t i = 0; i < v.ndel; i++)
            if (v.del[i] >= lo && (i == 0 || v.del[i] != v.del[i - 1])) gone++;
        uint64_t hidden = tdel + ttrim + gone;
        *n = all > hidden ? all - hidden : 0;
    }
    view_free(&v);
    return rc;
}

void rc__r_cmd_xlen(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    uint64_t n = 0;
    rc_err err;
    rc_err_clear(&err);
    int rc = stream_len(c->door->st, c->argv[1], &n, &err);
    if (rc) rc__r_reply_status(&c->w, rc, &err);
    else rc_resp_w_int(&c->w, (int64_t)n);
}

/* ---- consumer groups ------------------------------------------------------------------------ */

typedef struct xg_arg {
    rc_store *st;
    rc_resp *door;
    const char *ks;          /* the keyspace event the step's change notifies, if any */
    int sub;                 /* XGROUP subcommand / command */
    char *key, *group;       /* as given (for replies and errors) */
    char *gname, *member;    /* consumer name, escaped member */
    uint64_t seq;            /* CREATE/SETID position; XAUTOCLAIM start */
    int pos_end, mkstream;   /* "$" */
    uint64_t *seqs;          /* XACK, XCLAIM */
    size_t nseqs;
    rc_consumer_claim_opts co;
    int justid, lastid_set;
    uint64_t lastid;
} xg_arg;

/* Consumer group changes are no events of the log, so their keyspace
 * notification leaves from here: after the step's outcome on the loop
 * (arg_free runs once the op completed), or inside EXEC into EXEC's held
 * notes (rc__r_keyspace_note). */
static void xg_free(void *p) {
    xg_arg *a = p;
    if (!a) return;
    if (a->ks && a->door) rc__r_keyspace_note(a->door, a->key, a->ks);
    free(a->key);
    free(a->group);
    free(a->gname);
    free(a->member);
    free(a->seqs);
    free(a);
}

/* key at argv[k], group at argv[g], member at argv[m] (0: none). NULL and
 * an error reply when a name does not fit. */
static xg_arg *xg_new(rc__call *c, size_t k, size_t g, size_t m) {
    if (!rc__r_key_ok(c, k)) return NULL;
    rc_buf b = RC_BUF_INIT;
    if (!group_name(&c->w, &b, c->argv[k], c->argvlen[k], c->argv[g], c->argvlen[g])) {
        rc_buf_free(&b);
        return NULL;
    }
    xg_arg *a = calloc(1, sizeof *a);
    if (!a) abort();
    a->st = c->door->st;
    a->door = c->door;
    a->key = rc__r_strndup(c->argv[k], c->argvlen[k]);
    a->group = rc__r_strndup(c->argv[g], c->argvlen[g]);
    a->gname = rc__r_strndup(b.p, b.len);
    if (m) {
        if (!member_name(&c->w, &b, c->argv[m], c->argvlen[m])) {
            rc_buf_free(&b);
            xg_free(a);
            return NULL;
        }
        a->member = rc__r_strndup(b.p, b.len);
    }
    rc_buf_free(&b);
    return a;
}

/* A consumer call's outcome: NOT_FOUND is the NOGROUP reply (returns 1
 * after answering); other failures roll back. */
static int nogroup(int rc, rc_err *err, rc_resp_w *w, const xg_arg *a, const char *cmd) {
    if (rc != RC_NOT_FOUND) return 0;
    rc_err_clear(err);
    err_nogroup(w, a->key, a->group, cmd);
    return 1;
}

enum { XG_CREATE, XG_SETID, XG_DESTROY, XG_CREATECONSUMER, XG_DELCONSUMER };

static int xgroup_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    xg_arg *a = arg;
    xsrc s = {a->st, tx};
    int rc = RC_OK;
    uint64_t pos = a->pos_end ? rc_txn_last_seq(tx) : a->seq;
    switch (a->sub) {
    case XG_CREATE: {
        int exists;
        if ((rc = stream_exists(&s, a->key, &exists, err))) return rc;
        if (!exists && !a->mkstream) {
            rc_resp_w_error(w, "ERR The XGROUP subcommand requires the key to exist. Note that "
                               "for CREATE you may want to use the MKSTREAM option to create an "
                               "empty stream automatically.");
            return RC_OK;
        }
        rc_buf filter = RC_BUF_INIT, start = RC_BUF_INIT;
        rc_buf_puts(&filter, "{\"subject\":");
        rc_api_json_value(&filter, a->key, strlen(a->key));
        rc_buf_putc(&filter, '}');
        if (pos == 0) rc_buf_puts(&start, "beginning");
        else rc_buf_printf(&start, "seq:%" PRIu64, pos + 1);
        rc_consumer_opts o = RC_CONSUMER_OPTS_INIT;
        o.name = a->gname;
        o.mode = RC_CONSUMER_GROUP;
        o.start = start.p;
        o.filter_json = filter.p;
        o.ack_wait_ms = GROUP_LEASE_MS;
        o.max_deliver = 0;
        rc = rc_consumer_txn_create(a->st, tx, &o, err);
        /* "seq:N" past the head starts at the head's next event: same thing */
        rc_buf_free(&filter);
        rc_buf_free(&start);
        if (rc == RC_CONFLICT) {
            rc_err_clear(err);
            rc_resp_w_error(w, "BUSYGROUP Consumer Group name already exists");
            return RC_OK;
        }
        /* MKSTREAM: an empty stream, as Redis makes one (a key for TYPE,
         * EXISTS and XINFO), and nothing older under the subject in it */
        if (!rc && !exists) rc = append_cut(tx, a->key, 0, err);
        if (!rc) {
            rc_resp_w_ok(w);
            a->ks = "xgroup-create";
        }
        return rc;
    }
    case XG_SETID:
        rc = rc_consumer_txn_seek(a->st, tx, a->gname, pos, 0, err);
        if (nogroup(rc, err, w, a, NULL)) return RC_OK;
        if (!rc) {
            rc_resp_w_ok(w);
            a->ks = "xgroup-setid";
        }
        return rc;
    case XG_DESTROY:
        rc = rc_consumer_txn_delete(a->st, tx, a->gname, err);
        if (rc == RC_NOT_FOUND) {
            rc_err_clear(err);
            rc_resp_w_int(w, 0);
            return RC_OK;
        }
        if (!rc) {
            rc_resp_w_int(w, 1); /* its members went with it */
            a->ks = "xgroup-destroy";
        }
        return rc;
    case XG_CREATECONSUMER: {
        int fresh = 0;
        rc = rc_consumer_txn_member_touch(a->st, tx, a->gname, a->member, 0, &fresh, err);
        if (nogroup(rc, err, w, a, NULL)) return RC_OK;
        if (!rc) rc_resp_w_int(w, fresh);
        if (!rc && fresh) a->ks = "xgroup-createconsumer";
        return rc;
    }
    default: { /* XG_DELCONSUMER */
        size_t n = 0;
        rc = rc_consumer_txn_drop_member(a->st, tx, a->gname, a->member, &n, err);
        if (nogroup(rc, err, w, a, NULL)) return RC_OK;
        if (!rc) {
            rc_resp_w_int(w, (int64_t)n);
            a->ks = "xgroup-delconsumer";
        }
        return rc;
    }
    }
}

static const char *const xgroup_help[] = {
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [MKSTREAM] [ENTRIESREAD <n>]",
    "    Create a new consumer group (a Redcar durable consumer xs.<key>.<group>).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer (its pending entries count as acknowledged).",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD <n>]",
    "    Set the current group ID.",
    "HELP",
    "    Print this help.",
};

void rc__r_cmd_xgroup(rc__call *c) {
    const char *sc = c->argv[1];
    if (rc__r_streq(sc, "HELP") && c->argc == 2) {
        size_t n = sizeof xgroup_help / sizeof xgroup_help[0];
        rc_resp_w_array(&c->w, n);
        for (size_t i = 0; i < n; i++) rc_resp_w_simple(&c->w, xgroup_help[i]);
        return;
    }
    static const struct { const char *name; int sub; size_t min, max; int member; } subs[] = {
        {"CREATE", XG_CREATE, 5, 8, 0},           {"SETID", XG_SETID, 5, 7, 0},
        {"DESTROY", XG_DESTROY, 4, 4, 0},         {"CREATECONSUMER", XG_CREATECONSUMER, 5, 5, 1},
        {"DELCONSUMER", XG_DELCONSUMER, 5, 5, 1},
    };
    size_t k = 0, n = sizeof subs / sizeof subs[0];
    while (k < n && !rc__r_streq(sc, subs[k].name)) k++;
    if (k == n) {
        rc_resp_w_errorf(&c->w, "ERR unknown subcommand '%.64s'. Try XGROUP HELP.", sc);
        return;
    }
    if (c->argc < subs[k].min || c->argc > subs[k].max) {
        rc_resp_w_errorf(&c->w, "ERR wrong number of arguments for 'xgroup|%s' command", subs[k].name);
        return;
    }
    xg_arg *a = xg_new(c, 2, 3, subs[k].member ? 4 : 0);
    if (!a) return;
    a->sub = subs[k].sub;
    if (a->sub == XG_CREATE || a->sub == XG_SETID) {
        if (!strcmp(c->argv[4], "$")) {
            a->pos_end = 1;
        } else if (!id_pos(c->argv[4], c->argvlen[4], ID_AFTER, &a->seq)) {
            xg_free(a);
            rc_resp_w_error(&c->w, ERR_ID);
            return;
        }
        for (size_t i = 5; i < c->argc; i++) {
            int64_t v;
            if (a->sub == XG_CREATE && rc__r_streq(c->argv[i], "MKSTREAM")) {
                a->mkstream = 1;
            } else if (rc__r_streq(c->argv[i], "ENTRIESREAD") && i + 1 < c->argc &&
                       (rc__r_parse_i64(c->argv[i + 1], c->argvlen[i + 1], &v) && v >= -1)) {
                i++; /* a lag hint: Redcar computes lag from the log */
            } else {
                xg_free(a);
                rc__r_err_syntax(c);
                return;
            }
        }
    }
    rc__r_txn_once(c, xgroup_step, a, xg_free);
}

/* XACK key group id [id ...] */
static int xack_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    xg_arg *a = arg;
    size_t done = 0;
    int rc = rc_consumer_txn_ack(a->st, tx, a->gname, a->seqs, a->nseqs, &done, err);
    if (rc == RC_NOT_FOUND) { /* Redis answers 0 for a missing group */
        rc_err_clear(err);
        rc = RC_OK;
    }
    if (!rc) rc_resp_w_int(w, (int64_t)done);
    return rc;
}

/* Exact entry IDs from argv[from..to): each seq, 0 for an ID that names
 * no entry ("<seq>-N", N > 0). NULL and an error reply on a bad ID. */
static uint64_t *parse_ids(rc__call *c, size_t from, size_t to, size_t *n) {
    uint64_t *v = calloc(to - from + 1, sizeof *v);
    if (!v) abort();
    *n = 0;
    for (size_t i = from; i < to; i++) {
        uint64_t ms, sq;
        int has;
        if (!parse_id(c->argv[i], c->argvlen[i], &ms, &sq, &has)) {
            free(v);
            rc_resp_w_error(&c->w, ERR_ID);
            return NULL;
        }
        uint64_t s = id_exact(c->argv[i], c->argvlen[i]);
        if (s) v[(*n)++] = s;
    }
    return v;
}

void rc__r_cmd_xack(rc__call *c) {
    xg_arg *a = xg_new(c, 1, 2, 0);
    if (!a) return;
    if (!(a->seqs = parse_ids(c, 3, c->argc, &a->nseqs))) {
        xg_free(a);
        return;
    }
    if (a->nseqs > MAX_COUNT) {
        xg_free(a);
        rc_resp_w_errorf(&c->w, "ERR at most %d IDs at once", MAX_COUNT);
        return;
    }
    rc__r_txn_once(c, xack_step, a, xg_free);
}

/* Claimed events: write the live entries (or their IDs), ack the ones that
 * are gone (deleted, trimmed, or not entries) and list those in *gone. */
static int claimed_write(rc_txn *tx, const xg_arg *a, const rc_consumer_batch *b, rc_resp_w *w,
                         rc_buf *gone_ids, size_t *ngone, rc_err *err) {
    xsrc s = {a->st, tx};
    uint64_t lo = UINT64_MAX;
    for (size_t i = 0; i < b->n; i++)
        if (b->msgs[i].seq < lo) lo = b->msgs[i].seq;
    xview v;
    int rc = view_load(&s, a->key, lo == UINT64_MAX ? 0 : lo, &v, err);
    if (rc) return rc;
    rc_buf sb = RC_BUF_INIT;
    rc_resp_w sw = {&sb, w->proto}, gw = {gone_ids, w->proto};
    uint64_t *drop = calloc(b->n + 1, sizeof *drop);
    if (!drop) abort();
    size_t nout = 0, ndrop = 0;
    for (size_t i = 0; i < b->n; i++) {
        const rc_consumer_msg *m = &b->msgs[i];
        rc_event *ev = NULL;
        rc_err e;
        if (m->len == 0 || view_hidden(&v, m->seq) ||
            rc_event_decode_json(b->json.p + m->off, m->len, &ev, &e) != RC_OK ||
            not_entry(ev->type)) {
            rc_event_free(ev);
            drop[ndrop++] = m->seq;
            w_id(&gw, m->seq);
            continue;
        }
        if (a->justid) w_id(&sw, m->seq);
        else w_entry(&sw, m->seq, ev);
        rc_event_free(ev);
        nout++;
    }
    if (ndrop) rc = rc_consumer_txn_ack(a->st, tx, a->gname, drop, ndrop, NULL, err);
    if (!rc) {
        rc_resp_w_array(w, nout);
        rc_buf_append(w->b, sb.p ? sb.p : "", sb.len);
    }
    if (ngone) *ngone = ndrop;
    free(drop);
    rc_buf_free(&sb);
    view_free(&v);
    return rc;
}

enum { CL_XCLAIM, CL_XAUTOCLAIM };

static int claim_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    xg_arg *a = arg;
    rc_consumer_batch b;
    rc_consumer_batch_init(&b);
    uint64_t next = 0;
    int rc = rc_consumer_txn_claim(a->st, tx, a->gname, a->member, &a->co, &b, &next, err);
    if (nogroup(rc, err, w, a, NULL)) goto out;
    if (rc) goto out;
    if (a->lastid_set && (rc = rc_consumer_txn_seek(a->st, tx, a->gname, a->lastid, 1, err)))
        goto out;
    if ((rc = rc_consumer_txn_member_touch(a->st, tx, a->gname, a->member, b.n > 0, NULL, err)))
        goto out;
    rc_buf gone = RC_BUF_INIT;
    size_t ngone = 0;
    if (a->sub == CL_XAUTOCLAIM) {
        rc_resp_w_array(w, 3);
        w_id(w, next);
        rc = claimed_write(tx, a, &b, w, &gone, &ngone, err);
        if (!rc) {
            rc_resp_w_array(w, ngone);
            rc_buf_append(w->b, gone.p ? gone.p : "", gone.len);
        }
    } else {
        rc = claimed_write(tx, a, &b, w, &gone, &ngone, err);
    }
    rc_buf_free(&gone);
out:
    rc_consumer_batch_free(&b);
    return rc;
}

static int parse_ms(rc__call *c, size_t i, int64_t *v) {
    if (!rc__r_parse_i64(c->argv[i], c->argvlen[i], v) || *v < 0) {
        rc_resp_w_error(&c->w, "ERR Invalid min-idle-time argument for XCLAIM");
        return 0;
    }
    if (*v > GROUP_LEASE_MS) *v = GROUP_LEASE_MS;
    return 1;
}

/* XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME ms]
 *        [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id] */
void rc__r_cmd_xclaim(rc__call *c) {
    int64_t idle;
    if (!parse_ms(c, 4, &idle)) return;
    size_t i = 5;
    while (i < c->argc) {
        uint64_t ms, sq;
        int has;
        if (!parse_id(c->argv[i], c->argvlen[i], &ms, &sq, &has)) break;
        i++;
    }
    if (i == 5) {
        rc_resp_w_error(&c->w, ERR_ID);
        return;
    }
    xg_arg *a = xg_new(c, 1, 2, 3);
    if (!a) return;
    rc_consumer_claim_opts init = RC_CONSUMER_CLAIM_OPTS_INIT;
    a->co = init;
    a->sub = CL_XCLAIM;
    a->co.min_idle_ms = idle;
    if (!(a->seqs = parse_ids(c, 5, i, &a->nseqs))) goto fail_quiet;
    a->co.seqs = a->seqs;
    a->co.n_seqs = a->nseqs;
    int64_t now = rc__r_now_ms();
    for (; i < c->argc; i++) {
        const char *o = c->argv[i];
        int64_t v;
        int more = i + 1 < c->argc;
        if (rc__r_streq(o, "JUSTID")) {
            a->justid = 1;
            a->co.no_count = 1;
        } else if (rc__r_streq(o, "FORCE")) {
            rc_resp_w_error(&c->w, "ERR XCLAIM FORCE is not supported: Redcar claims only "
                                   "entries that are pending in the group");
            goto fail_quiet;
        } else if (more && (rc__r_streq(o, "IDLE") || rc__r_streq(o, "TIME"))) {
            if (!rc__r_parse_i64(c->argv[i + 1], c->argvlen[i + 1], &v)) goto fail_int;
            int is_idle = rc__r_streq(o, "IDLE");
            a->co.set_last_ms = is_idle ? now - (v < 0 ? 0 : v) : v;
            if (a->co.set_last_ms > now) a->co.set_last_ms = now;
            if (a->co.set_last_ms < 0) a->co.set_last_ms = 0;
            i++;
        } else if (more && rc__r_streq(o, "RETRYCOUNT")) {
            if (!rc__r_parse_i64(c->argv[i + 1], c->argvlen[i + 1], &v) || v < 0) goto fail_int;
            a->co.set_deliveries = v > INT32_MAX ? INT32_MAX : v;
            i++;
        } else if (more && rc__r_streq(o, "LASTID")) {
            if (!id_pos(c->argv[i + 1], c->argvlen[i + 1], ID_AFTER, &a->lastid)) {
                rc_resp_w_error(&c->w, ERR_ID);
                goto fail_quiet;
            }
            a->lastid_set = 1;
            i++;
        } else {
            rc_resp_w_errorf(&c->w, "ERR Unrecognized XCLAIM option '%.64s'", o);
            goto fail_quiet;
        }
    }
    rc__r_txn_once(c, claim_step, a, xg_free);
    return;
fail_int:
    rc__r_err_int(c);
fail_quiet:
    xg_free(a);
}

/* XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID] */
void rc__r_cmd_xautoclaim(rc__call *c) {
    int64_t idle, count = 100;
    uint64_t start;
    if (!parse_ms(c, 4, &idle)) return;
    if (!id_pos(c->argv[5], c->argvlen[5], ID_START, &start)) {
        rc_resp_w_error(&c->w, ERR_ID);
        return;
    }
    int justid = 0;
    for (size_t i = 6; i < c->argc; i++) {
        if (rc__r_streq(c->argv[i], "JUSTID")) {
            justid = 1;
        } else if (rc__r_streq(c->argv[i], "COUNT") && i + 1 < c->argc) {
            if (!rc__r_parse_i64(c->argv[i + 1], c->argvlen[i + 1], &count)) {
                rc__r_err_int(c);
                return;
            }
            if (count < 1 || count > MAX_COUNT) {
                rc_resp_w_errorf(&c->w, "ERR COUNT must be > 0 and at most %d", MAX_COUNT);
                return;
            }
            i++;
        } else {
            rc__r_err_syntax(c);
            return;
        }
    }
    xg_arg *a = xg_new(c, 1, 2, 3);
    if (!a) return;
    rc_consumer_claim_opts init = RC_CONSUMER_CLAIM_OPTS_INIT;
    a->co = init;
    a->sub = CL_XAUTOCLAIM;
    a->justid = justid;
    a->co.no_count = justid;
    a->co.min_idle_ms = idle;
    a->co.after = start ? start - 1 : 0;
    a->co.count = (size_t)count;
    a->co.scan_max = (size_t)count * 10;
    rc__r_txn_once(c, claim_step, a, xg_free);
}

/* ---- XREAD / XREADGROUP ------------------------------------------------------------------ */

#define NEW_ONLY UINT64_MAX /* XREADGROUP ">" */

typedef struct xreq {
    rc_store *st;
    size_t n;
    char **keys;
    uint64_t *after;     /* entries with seq > after; NEW_ONLY: ">" */
    char **gnames;       /* XREADGROUP */
    char *group, *member;
    size_t count;        /* 0: no limit */
    int grouped, noack, all_new;
    int64_t block_ms;    /* -1: no BLOCK */
} xreq;

static void xreq_free(void *p) {
    xreq *r = p;
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->keys[i]);
        if (r->gnames) free(r->gnames[i]);
    }
    free(r->keys);
    free(r->gnames);
    free(r->after);
    free(r->group);
    free(r->member);
    free(r);
}

/* Keys and their entries, RESP3 a map, RESP2 an array of [key, entries]. */
typedef struct kblocks {
    rc_buf b;
    size_t n;
    int proto;
} kblocks;

static void kb_key(kblocks *k, const char *key) {
    rc_resp_w w = {&k->b, k->proto};
    if (k->proto == 2) rc_resp_w_array(&w, 2);
    rc_resp_w_bulkstr(&w, key);
    k->n++;
}

static void kb_write(kblocks *k, rc_resp_w *w) {
    if (k->n == 0) {
        rc_resp_w_null_array(w);
    } else {
        if (w->proto == 3) rc_resp_w_map(w, k->n);
        else rc_resp_w_array(w, k->n);
        rc_buf_append(w->b, k->b.p, k->b.len);
    }
    rc_buf_free(&k->b);
}

/* XREAD: the entries after each position, from the read pool. *found =
 * keys with entries; the reply is written either way. */
static int xread_collect(const xreq *r, rc_resp_w *w, size_t *found, rc_err *err) {
    xsrc s = {r->st, NULL};
    kblocks kb = {RC_BUF_INIT, 0, w->proto};
    rc_buf eb = RC_BUF_INIT;
    int rc = RC_OK;
    for (size_t i = 0; i < r->n && rc == RC_OK; i++) {
        rc_resp_w ew = {&eb, w->proto};
        size_t n = 0;
        rc_buf_reset(&eb);
        if (r->after[i] == UINT64_MAX) continue;
        rc = range_write(&s, r->keys[i], r->after[i] + 1, UINT64_MAX, 0, r->count, &ew, &n, err);
        if (rc == RC_OK && n > 0) {
            kb_key(&kb, r->keys[i]);
            rc_buf_append(&kb.b, eb.p, eb.len);
        }
    }
    rc_buf_free(&eb);
    *found = kb.n;
    if (rc) {
        rc_buf_free(&kb.b);
        return rc;
    }
    kb_write(&kb, w);
    return RC_OK;
}

typedef struct seqlist {
    uint64_t *v;
    size_t n, cap;
} seqlist;

static void sl_add(seqlist *l, uint64_t s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) abort();
    }
    l->v[l->n++] = s;
}

static int pend_seq(const rc_consumer_pending *p, void *arg) {
    sl_add(arg, p->seq);
    return 0;
}

typedef struct onectx {
    const char *key;
    rc_event *ev;
} onectx;

static int one_row(const rc_stored *r, void *arg) {
    onectx *o = arg;
    rc_err e;
    if (r->subject && !strcmp(r->subject, o->key) && !not_entry(r->type))
        rc_event_decode_json(r->json, r->json_len, &o->ev, &e);
    return 1;
}

/* New entries for the member (">"): fetch, drop (ack) what is not a live
 * entry, write the rest. */
static int xrg_new(rc_txn *tx, const xreq *r, size_t i, rc_resp_w *ew, size_t *got,
                   rc_err *err) {
    xsrc s = {r->st, tx};
    size_t want = r->count ? r->count : MAX_COUNT;
    int rc = RC_OK;
    *got = 0;
    for (int round = 0; round < 16 && *got < want && rc == RC_OK; round++) {
        rc_consumer_batch b;
        rc_consumer_batch_init(&b);
        size_t ask = want - *got;
        if ((rc = rc_consumer_txn_fetch(r->st, tx, r->gnames[i], r->member, ask, &b, err))) {
            rc_consumer_batch_free(&b);
            break;
        }
        xview v;
        if (b.n == 0 || (rc = view_load(&s, r->keys[i], b.msgs[0].seq, &v, err))) {
            rc_consumer_batch_free(&b);
            break;
        }
        seqlist drop = {0};
        for (size_t k = 0; k < b.n; k++) {
            const rc_consumer_msg *m = &b.msgs[k];
            rc_event *ev = NULL;
            rc_err e;
            if (view_hidden(&v, m->seq) ||
                rc_event_decode_json(b.json.p + m->off, m->len, &ev, &e) != RC_OK ||
                not_entry(ev->type)) {
                sl_add(&drop, m->seq);
            } else {
                w_entry(ew, m->seq, ev);
                (*got)++;
                if (r->noack) sl_add(&drop, m->seq);
            }
            rc_event_free(ev);
        }
        if (drop.n) rc = rc_consumer_txn_ack(r->st, tx, r->gnames[i], drop.v, drop.n, NULL, err);
        int more = b.n == ask;
        free(drop.v);
        view_free(&v);
        rc_consumer_batch_free(&b);
        if (!more) break;
    }
    return rc;
}

/* The member's pending entries after the position (history). */
static int xrg_history(rc_txn *tx, const xreq *r, size_t i, rc_resp_w *ew, size_t *got,
                       rc_err *err) {
    xsrc s = {r->st, tx};
    seqlist l = {0};
    *got = 0;
    int rc = rc_consumer_txn_pending(r->st, tx, r->gnames[i], r->member, r->after[i], r->count,
                                     pend_seq, &l, err);
    xview v;
    if (!rc && (rc = view_load(&s, r->keys[i], l.n ? l.v[0] : 0, &v, err)) == RC_OK) {
        for (size_t k = 0; k < l.n && rc == RC_OK; k++) {
            onectx o = {r->keys[i], NULL};
            rc_query q = {0};
            q.from = q.to = l.v[k];
            rc = xscan(&s, q, one_row, &o, err);
            if (o.ev && !view_hidden(&v, l.v[k])) {
                w_entry(ew, l.v[k], o.ev);
            } else {
                rc_resp_w_array(ew, 2);
                w_id(ew, l.v[k]);
                rc_resp_w_null_array(ew);
            }
            rc_event_free(o.ev);
            (*got)++;
        }
        view_free(&v);
    }
    free(l.v);
    return rc;
}

/* XREADGROUP inside a transaction. *found: entries handed out, or -1
 * when the reply is final without entries (an error, or history). */
static int xrg_run(rc_txn *tx, const xreq *r, rc_resp_w *w, int64_t *found, rc_err *err) {
    int rc = RC_OK;
    *found = 0;
    for (size_t i = 0; i < r->n; i++) {
        rc = rc_consumer_txn_position(r->st, tx, r->gnames[i], NULL, err);
        if (rc == RC_NOT_FOUND) {
            rc_err_clear(err);
            err_nogroup(w, r->keys[i], r->group, "XREADGROUP with GROUP option");
            *found = -1;
            return RC_OK;
        }
        if (rc) return rc;
    }
    kblocks kb = {RC_BUF_INIT, 0, w->proto};
    rc_buf eb = RC_BUF_INIT;
    int history = 0;
    for (size_t i = 0; i < r->n && rc == RC_OK; i++) {
        rc_resp_w ew = {&eb, w->proto};
        size_t got = 0;
        rc_buf_reset(&eb);
        if (r->after[i] == NEW_ONLY) {
            rc = xrg_new(tx, r, i, &ew, &got, err);
        } else {
            history = 1;
            rc = xrg_history(tx, r, i, &ew, &got, err);
        }
        if (rc == RC_OK)
            rc = rc_consumer_txn_member_touch(r->st, tx, r->gnames[i], r->member, got > 0, NULL,
                                              err);
        if (rc == RC_OK && (got > 0 || r->after[i] != NEW_ONLY)) {
            kb_key(&kb, r->keys[i]);
            rc_resp_w aw = {&kb.b, w->proto};
            rc_resp_w_array(&aw, got);
            rc_buf_append(&kb.b, eb.p ? eb.p : "", eb.len);
            *found += (int64_t)got;
        }
    }
    rc_buf_free(&eb);
    if (rc) {
        rc_buf_free(&kb.b);
        return rc;
    }
    if (history && *found == 0) *found = -1;
    kb_write(&kb, w);
    return RC_OK;
}

static int xrg_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    int64_t found;
    return xrg_run(tx, arg, w, &found, err);
}

/* Parse XREAD (grouped = 0) or XREADGROUP. NULL after an error reply. */
static xreq *xreq_parse(rc__call *c, int grouped) {
    xreq *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->st = c->door->st;
    r->grouped = grouped;
    r->block_ms = -1;
    size_t i = 1;
    if (grouped) {
        if (c->argc < 4 || !rc__r_streq(c->argv[1], "GROUP")) goto syntax;
        r->group = rc__r_strndup(c->argv[2], c->argvlen[2]);
        rc_buf b = RC_BUF_INIT;
        if (!member_name(&c->w, &b, c->argv[3], c->argvlen[3])) {
            rc_buf_free(&b);
            goto fail;
        }
        r->member = rc__r_strndup(b.p, b.len);
        rc_buf_free(&b);
        i = 4;
    }
    for (; i < c->argc && !rc__r_streq(c->argv[i], "STREAMS"); i++) {
        int64_t v;
        const char *o = c->argv[i];
        if (rc__r_streq(o, "COUNT") && i + 1 < c->argc) {
            if (!rc__r_parse_i64(c->argv[i + 1], c->argvlen[i + 1], &v)) goto not_int;
            r->count = v > 0 ? (size_t)(v > MAX_COUNT ? MAX_COUNT : v) : 0;
            i++;
        } else if (rc__r_streq(o, "BLOCK") && i + 1 < c->argc) {
            if (!rc__r_parse_i64(c->argv[i + 1], c->argvlen[i + 1], &v)) {
                rc_resp_w_error(&c->w, "ERR timeout is not an integer or out of range");
                goto fail;
            }
            if (v < 0) {
                rc_resp_w_error(&c->w, "ERR timeout is negative");
                goto fail;
            }
            r->block_ms = v;
            i++;
        } else if (grouped && rc__r_streq(o, "NOACK")) {
            r->noack = 1;
        } else {
            goto syntax;
        }
    }
    if (i >= c->argc) goto syntax;
    size_t rest = c->argc - i - 1;
    if (rest == 0 || rest % 2) {
        rc_resp_w_errorf(&c->w, "ERR Unbalanced '%s' list of streams: for each stream key an ID "
                                "%s must be specified.", grouped ? "xreadgroup" : "xread",
                         grouped ? "or '>'" : "or '$'");
        goto fail;
    }
    r->n = rest / 2;
    r->keys = calloc(r->n, sizeof *r->keys);
    r->after = calloc(r->n, sizeof *r->after);
    if (grouped) r->gnames = calloc(r->n, sizeof *r->gnames);
    if (!r->keys || !r->after || (grouped && !r->gnames)) abort();
    r->all_new = 1;
    uint64_t head = rc_hub_head(c->door->hub);
    for (size_t k = 0; k < r->n; k++) {
        size_t ki = i + 1 + k, ii = ki + r->n;
        if (!rc__r_key_ok(c, ki)) goto fail;
        r->keys[k] = rc__r_strndup(c->argv[ki], c->argvlen[ki]);
        const char *id = c->argv[ii];
        if (grouped) {
            rc_buf b = RC_BUF_INIT;
            if (!group_name(&c->w, &b, c->argv[ki], c->argvlen[ki], c->argv[2], c->argvlen[2])) {
                rc_buf_free(&b);
                goto fail;
            }
            r->gnames[k] = rc__r_strndup(b.p, b.len);
            rc_buf_free(&b);
            if (!strcmp(id, ">")) {
                r->after[k] = NEW_ONLY;
                continue;
            }
            if (!strcmp(id, "$")) {
                rc_resp_w_error(&c->w, "ERR The $ ID is meaningless in the context of XREADGROUP: "
                                       "you want to read the history of this consumer by "
                                       "specifying a proper ID, or use the > ID to get new "
                                       "messages. The $ ID would just return an empty result set.");
                goto fail;
            }
        } else if (!strcmp(id, "$")) {
            r->after[k] = head;
            continue;
        } else if (!strcmp(id, ">")) {
            rc_resp_w_error(&c->w, "ERR The > ID can be specified only when calling XREADGROUP "
                                   "using the GROUP <group> <consumer> option.");
            goto fail;
        }
        r->all_new = 0;
        if (!id_pos(id, c->argvlen[ii], ID_AFTER, &r->after[k])) {
            rc_resp_w_error(&c->w, ERR_ID);
            goto fail;
        }
        if (r->after[k] == UINT64_MAX) r->after[k]--;
    }
    return r;
not_int:
    rc__r_err_int(c);
    goto fail;
syntax:
    rc__r_err_syntax(c);
fail:
    xreq_free(r);
    return NULL;
}

/* ---- blocking ---------------------------------------------------------------------------------
 * A blocked command owns a pending reply slot (an rc__op completed exactly
 * once, by xw_finish). Who holds a waiter: the waiting list (the waiter
 * thread), or an attempt in flight (the waiter thread, or a transaction's
 * completion on the writer thread); one at a time. The hub's deliver only
 * sets `fired`. The loop thread frees the waiter when both the reply op
 * and the probe op came back (refs). */

typedef struct xwait {
    rc_resp *door;
    rc__client *cl;          /* loop thread only */
    rc__op *op;
    rc__op *probe;           /* under xw_mu: the next liveness probe, held by the waiter thread */
    int64_t probe_ms;        /* under xw_mu */
    rc__slot probe_slot;     /* the probe's reply goes nowhere */
    rc_sub *sub;
    xreq *req;
    int proto;
    int64_t deadline_ms;     /* 0: no timeout */
    int64_t found;           /* XREADGROUP attempt outcome */
    atomic_int fired, gone, done;
    int refs;                /* loop thread */
    struct xwait *next;      /* under xw_mu */
} xwait;

static pthread_mutex_t xw_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t xw_cv = PTHREAD_COND_INITIALIZER;
static xwait *xw_list;
static pthread_once_t xw_once = PTHREAD_ONCE_INIT;

static void xw_signal(void) {
    pthread_mutex_lock(&xw_mu);
    pthread_cond_signal(&xw_cv);
    pthread_mutex_unlock(&xw_mu);
}

static void xw_relist(xwait *w) {
    pthread_mutex_lock(&xw_mu);
    w->next = xw_list;
    xw_list = w;
    pthread_cond_signal(&xw_cv);
    pthread_mutex_unlock(&xw_mu);
}

/* Complete the reply (and a probe the waiter holds). w may be freed by the
 * loop as soon as the reply op is queued: nothing touches it after. */
static void xw_finish(xwait *w) {
    pthread_mutex_lock(&xw_mu);
    rc__op *p = w->probe;
    w->probe = NULL;
    atomic_store(&w->done, 1);
    pthread_mutex_unlock(&xw_mu);
    rc__op *op = w->op;
    if (p) rc__r_op_complete(p);
    rc__r_op_complete(op);
}

static void xw_finish_null(xwait *w) {
    rc_buf_reset(&w->op->reply);
    rc_resp_w rw = {&w->op->reply, w->proto};
    rc_resp_w_null_array(&rw);
    xw_finish(w);
}

static void xw_unref(xwait *w) {
    if (--w->refs > 0) return;
    xreq_free(w->req);
    rc_buf_free(&w->probe_slot.buf);
    free(w);
}

/* A reply op outside the client's slot FIFO (probe) or in it. */
static rc__op *xop_new(rc__client *cl, rc__slot *slot, int proto) {
    rc__op *op = calloc(1, sizeof *op);
    if (!op) abort();
    op->cl = cl;
    op->door = cl->door;
    op->kind = RC__R_STEP;
    op->proto = proto;
    op->slot = slot ? slot : rc__r_slot_pending(cl);
    cl->pending++;
    return op;
}

static void xw_probe_done(void *arg);

/* Loop thread: hand the waiter thread the next probe. */
static void xw_probe_arm(xwait *w) {
    rc_buf_free(&w->probe_slot.buf);
    w->probe_slot.ready = 0;
    rc__op *p = xop_new(w->cl, &w->probe_slot, 2);
    p->arg = w;
    p->arg_free = xw_probe_done;
    pthread_mutex_lock(&xw_mu);
    int armed = !atomic_load(&w->done);
    if (armed) {
        w->probe = p;
        w->probe_ms = rc__r_now_ms() + PROBE_MS;
        w->refs++;
    }
    pthread_mutex_unlock(&xw_mu);
    if (!armed) {
        w->cl->pending--;
        free(p);
    }
}

/* Loop thread: a probe came back. The client may be gone (closed). */
static void xw_probe_done(void *arg) {
    xwait *w = arg;
    if (w->cl->dead) {
        atomic_store(&w->gone, 1);
        xw_signal();
    } else if (!atomic_load(&w->done)) {
        xw_probe_arm(w);
    }
    xw_unref(w);
}

/* Loop thread: the reply went out. */
static void xw_op_done(void *arg) {
    xwait *w = arg;
    if (w->sub) rc_hub_unsubscribe(w->door->hub, w->sub);
    w->sub = NULL;
    xw_unref(w);
}

/* Writer thread, hub locked: only mark. Tombstones add no entries. */
static void xw_deliver(void *arg, const rc_delivery *d) {
    xwait *w = arg;
    if (d->ev && not_entry(d->ev->type)) return;
    atomic_store(&w->fired, 1);
    xw_signal();
}

static int xrg_wait_txn(rc_txn *tx, void *arg, rc_err *err) {
    xwait *w = arg;
    rc_buf_reset(&w->op->reply);
    rc_resp_w rw = {&w->op->reply, w->proto};
    return xrg_run(tx, w->req, &rw, &w->found, err);
}

/* Writer thread: an XREADGROUP attempt committed (or failed). */
static void xrg_wait_done(void *arg, int status, const rc_err *err, const rc_append_item *items,
                          size_t n) {
    (void)items;
    (void)n;
    xwait *w = arg;
    if (status != RC_OK) {
        rc_buf_reset(&w->op->reply);
        rc_resp_w rw = {&w->op->reply, w->proto};
        rc__r_reply_status(&rw, status, err);
        xw_finish(w);
    } else if (w->found != 0) {
        xw_finish(w);
    } else if (w->deadline_ms && rc__r_now_ms() >= w->deadline_ms) {
        xw_finish_null(w);
    } else {
        xw_relist(w);
    }
}

static void xrg_submit(xwait *w) {
    rc_err err;
    rc_err_clear(&err);
    int rc = rc_store_txn_async(w->req->st, xrg_wait_txn, w, xrg_wait_done, w, &err);
    if (rc) {
        rc_buf_reset(&w->op->reply);
        rc_resp_w rw = {&w->op->reply, w->proto};
        rc__r_reply_status(&rw, rc, &err);
        xw_finish(w);
    }
}

/* Waiter thread: w is off the list and ours. */
static void xw_attempt(xwait *w) {
    if (atomic_load(&w->gone) || atomic_load(&w->door->stop)) {
        xw_finish_null(w);
        return;
    }
    if (atomic_exchange(&w->fired, 0)) {
        if (w->req->grouped) {
            xrg_submit(w); /* its completion decides */
            return;
        }
        rc_buf_reset(&w->op->reply);
        rc_resp_w rw = {&w->op->reply, w->proto};
        rc_err err;
        rc_err_clear(&err);
        size_t found = 0;
        int rc = xread_collect(w->req, &rw, &found, &err);
        if (rc) {
            rc_buf_reset(&w->op->reply);
            rc__r_reply_status(&rw, rc, &err);
        }
        if (rc || found) {
            xw_finish(w);
            return;
        }
    }
    if (w->deadline_ms && rc__r_now_ms() >= w->deadline_ms) xw_finish_null(w);
    else xw_relist(w);
}

static void *xw_main(void *unused) {
    (void)unused;
    pthread_mutex_lock(&xw_mu);
    for (;;) {
        /* shutdown is noticed within 200 ms; an empty list sleeps until relisted */
        int64_t now = rc__r_now_ms(), wake = now + (xw_list ? 200 : 60000);
        xwait *todo = NULL;
        rc__op *probes[64];
        size_t np = 0;
        for (xwait **pp = &xw_list; *pp;) {
            xwait *w = *pp;
            if (atomic_load(&w->fired) || atomic_load(&w->gone) || atomic_load(&w->door->stop) ||
                (w->deadline_ms && now >= w->deadline_ms)) {
                *pp = w->next;
                w->next = todo;
                todo = w;
                continue;
            }
            if (w->probe && now >= w->probe_ms && np < sizeof probes / sizeof probes[0]) {
                probes[np++] = w->probe;
                w->probe = NULL;
            }
            if (w->deadline_ms && w->deadline_ms < wake) wake = w->deadline_ms;
            if (w->probe && w->probe_ms < wake) wake = w->probe_ms;
            pp = &w->next;
        }
        if (!todo && !np) {
            struct timespec ts = {(time_t)(wake / 1000), (long)(wake % 1000) * 1000000L};
            pthread_cond_timedwait(&xw_cv, &xw_mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&xw_mu);
        for (size_t i = 0; i < np; i++) rc__r_op_complete(probes[i]);
        while (todo) {
            xwait *w = todo;
            todo = w->next;
            w->next = NULL;
            xw_attempt(w);
        }
        pthread_mutex_lock(&xw_mu);
    }
    return NULL;
}

static void xw_start(void) {
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &at, xw_main, NULL) != 0) abort();
    pthread_attr_destroy(&at);
}

/* Loop thread: a waiter subscribed to the keys (before anything is read,
 * so no event can slip between the read and the wait). */
static xwait *xw_new(rc__call *c, xreq *r) {
    pthread_once(&xw_once, xw_start);
    xwait *w = calloc(1, sizeof *w);
    if (!w) abort();
    w->door = c->door;
    w->cl = c->cl;
    w->req = r;
    w->proto = c->w.proto;
    w->deadline_ms = r->block_ms > 0 ? rc__r_now_ms() + r->block_ms : 0;
    atomic_init(&w->fired, 0);
    atomic_init(&w->gone, 0);
    atomic_init(&w->done, 0);
    rc_sub_opts o = {0};
    o.deliver = xw_deliver;
    o.arg = w;
    w->sub = rc_hub_subscribe(c->door->hub, &o);
    if (!w->sub) abort();
    for (size_t i = 0; i < r->n; i++) rc_sub_add_channel(c->door->hub, w->sub, r->keys[i]);
    return w;
}

/* Loop thread: park the client's reply on w. */
static void xw_park(xwait *w) {
    w->op = xop_new(w->cl, NULL, w->proto);
    w->op->arg = w;
    w->op->arg_free = xw_op_done;
    w->refs = 1;
    xw_probe_arm(w);
}

void rc__r_cmd_xread(rc__call *c) {
    xreq *r = xreq_parse(c, 0);
    if (!r) return;
    rc_err err;
    rc_err_clear(&err);
    size_t found = 0;
    if (r->block_ms < 0) {
        int rc = xread_collect(r, &c->w, &found, &err);
        if (rc) rc__r_reply_status(&c->w, rc, &err);
        xreq_free(r);
        return;
    }
    xwait *w = xw_new(c, r);
    rc_buf tmp = RC_BUF_INIT;
    rc_resp_w tw = {&tmp, c->w.proto};
    int rc = xread_collect(r, &tw, &found, &err);
    if (rc || found) {
        if (rc) rc__r_reply_status(&c->w, rc, &err);
        else rc_buf_append(c->w.b, tmp.p, tmp.len);
        rc_buf_free(&tmp);
        rc_hub_unsubscribe(c->door->hub, w->sub);
        xreq_free(r);
        free(w);
        return;
    }
    rc_buf_free(&tmp);
    xw_park(w);
    xw_relist(w);
}

void rc__r_cmd_xreadgroup(rc__call *c) {
    xreq *r = xreq_parse(c, 1);
    if (!r) return;
    if (r->block_ms < 0 || !r->all_new || c->tx) { /* inside EXEC BLOCK is ignored, as in Redis */
        rc__r_txn_once(c, xrg_step, r, xreq_free);
        return;
    }
    xwait *w = xw_new(c, r);
    xw_park(w);
    xrg_submit(w);
}

/* ---- XPENDING --------------------------------------------------------------------------- */

typedef struct mcount {
    char *member;
    uint64_t n;
    int64_t min_idle;
    int64_t active_ms; /* last handed entries, -1: never (or not recorded) */
} mcount;

typedef struct pendsum {
    uint64_t n, lo, hi;
    mcount *m;
    size_t nm;
    /* extended form */
    uint64_t end;
    int64_t min_idle;
    size_t count;
    rc_resp_w *w;
    size_t written;
} pendsum;

static void ps_member(pendsum *s, const char *member, int64_t idle) {
    for (size_t i = 0; i < s->nm; i++)
        if (!strcmp(s->m[i].member, member)) {
            s->m[i].n++;
            if (idle < s->m[i].min_idle) s->m[i].min_idle = idle;
            return;
        }
    s->m = realloc(s->m, (s->nm + 1) * sizeof *s->m);
    if (!s->m) abort();
    s->m[s->nm].member = rc__r_strndup(member, strlen(member));
    s->m[s->nm].n = 1;
    s->m[s->nm].min_idle = idle;
    s->m[s->nm].active_ms = -1;
    s->nm++;
}

static void ps_free(pendsum *s) {
    for (size_t i = 0; i < s->nm; i++) free(s->m[i].member);
    free(s->m);
}

static int ps_summary(const rc_consumer_pending *p, void *arg) {
    pendsum *s = arg;
    if (!s->n || p->seq < s->lo) s->lo = p->seq;
    if (p->seq > s->hi) s->hi = p->seq;
    s->n++;
    ps_member(s, p->member, p->idle_ms);
    return 0;
}

static int ps_extended(const rc_consumer_pending *p, void *arg) {
    pendsum *s = arg;
    if (p->seq > s->end) return 1;
    if (p->idle_ms < s->min_idle) return 0;
    rc_resp_w_array(s->w, 4);
    w_id(s->w, p->seq);
    w_member(s->w, p->member);
    rc_resp_w_int(s->w, p->idle_ms);
    rc_resp_w_int(s->w, p->deliveries);
    s->written++;
    return s->written >= s->count;
}

/* XPENDING key group [[IDLE min-idle] start end count [consumer]] */
void rc__r_cmd_xpending(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    rc_buf gn = RC_BUF_INIT, mn = RC_BUF_INIT;
    pendsum s = {0};
    rc_err err;
    rc_err_clear(&err);
    int rc;
    if (!group_name(&c->w, &gn, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2])) goto out;
    if (c->argc == 3) {
        rc = rc_consumer_pending_list(c->door->st, gn.p, NULL, 0, 0, ps_summary, &s, &err);
        if (rc == RC_NOT_FOUND) {
            err_nogroup(&c->w, c->argv[1], c->argv[2], NULL);
        } else if (rc) {
            rc__r_reply_status(&c->w, rc, &err);
        } else if (s.n == 0) {
            rc_resp_w_array(&c->w, 4);
            rc_resp_w_int(&c->w, 0);
            rc_resp_w_null(&c->w);
            rc_resp_w_null(&c->w);
            rc_resp_w_null_array(&c->w);
        } else {
            rc_resp_w_array(&c->w, 4);
            rc_resp_w_int(&c->w, (int64_t)s.n);
            w_id(&c->w, s.lo);
            w_id(&c->w, s.hi);
            rc_resp_w_array(&c->w, s.nm);
            for (size_t i = 0; i < s.nm; i++) {
                rc_resp_w_array(&c->w, 2);
                w_member(&c->w, s.m[i].member);
                rc_resp_w_bulk_i64(&c->w, (int64_t)s.m[i].n);
            }
        }
        goto out;
    }
    size_t i = 3;
    int64_t idle = 0, count;
    if (rc__r_streq(c->argv[i], "IDLE")) {
        if (c->argc < 8) {
            rc__r_err_syntax(c);
            goto out;
        }
        if (!rc__r_parse_i64(c->argv[4], c->argvlen[4], &idle)) {
            rc__r_err_int(c);
            goto out;
        }
        i = 5;
    }
    if (c->argc - i < 3 || c->argc - i > 4) {
        rc__r_err_syntax(c);
        goto out;
    }
    uint64_t lo, hi;
    if (!id_pos(c->argv[i], c->argvlen[i], ID_START, &lo) ||
        !id_pos(c->argv[i + 1], c->argvlen[i + 1], ID_END, &hi)) {
        rc_resp_w_error(&c->w, ERR_ID);
        goto out;
    }
    if (!rc__r_parse_i64(c->argv[i + 2], c->argvlen[i + 2], &count)) {
        rc__r_err_int(c);
        goto out;
    }
    if (c->argc - i == 4 && !member_name(&c->w, &mn, c->argv[i + 3], c->argvlen[i + 3])) goto out;
    rc_buf eb = RC_BUF_INIT;
    rc_resp_w ew = {&eb, c->w.proto};
    s.end = hi;
    s.min_idle = idle;
    s.count = count > 0 ? (size_t)count : 0;
    s.w = &ew;
    rc = RC_OK;
    if (s.count > 0 && hi >= lo)
        rc = rc_consumer_pending_list(c->door->st, gn.p, mn.len ? mn.p : NULL, lo ? lo - 1 : 0,
                                      idle > 0 ? 0 : s.count, ps_extended, &s, &err);
    if (rc == RC_NOT_FOUND) {
        err_nogroup(&c->w, c->argv[1], c->argv[2], NULL);
    } else if (rc) {
        rc__r_reply_status(&c->w, rc, &err);
    } else {
        rc_resp_w_array(&c->w, s.written);
        rc_buf_append(c->w.b, eb.p ? eb.p : "", eb.len);
    }
    rc_buf_free(&eb);
out:
    ps_free(&s);
    rc_buf_free(&gn);
    rc_buf_free(&mn);
}

/* ---- XINFO -------------------------------------------------------------------------------- */

typedef struct ginfo {
    char *gname, *group;
    uint64_t read_seq, pending;
} ginfo;

typedef struct glist {
    const char *prefix;
    size_t plen;
    ginfo *g;
    size_t n;
} glist;

static int glist_fn(const rc_consumer_info *ci, void *arg) {
    glist *l = arg;
    if (strncmp(ci->name, l->prefix, l->plen) || ci->mode != RC_CONSUMER_GROUP) return 0;
    const char *rest = ci->name + l->plen;
    if (strchr(rest, '.')) return 0; /* a longer key that shares the prefix */
    l->g = realloc(l->g, (l->n + 1) * sizeof *l->g);
    if (!l->g) abort();
    rc_buf b = RC_BUF_INIT;
    unesc(&b, rest, strlen(rest));
    ginfo *g = &l->g[l->n++];
    g->gname = rc__r_strndup(ci->name, strlen(ci->name));
    g->group = rc__r_strndup(b.p ? b.p : "", b.len);
    g->read_seq = ci->read_seq;
    g->pending = ci->pending;
    rc_buf_free(&b);
    return 0;
}

static void glist_free(glist *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->g[i].gname);
        free(l->g[i].group);
    }
    free(l->g);
}

static int groups_of(rc_store *st, const char *key, size_t klen, glist *l, rc_buf *prefix,
                     rc_err *err) {
    rc_buf_puts(prefix, "xs.");
    esc(prefix, key, klen);
    rc_buf_putc(prefix, '.');
    memset(l, 0, sizeof *l);
    l->prefix = prefix->p;
    l->plen = prefix->len;
    return rc_consumer_list(st, glist_fn, l, err);
}

static int collect_name(const char *name, void *arg) {
    rc_buf *b = arg;
    rc_buf_append(b, name, strlen(name) + 1);
    return 0;
}

/* The groups are listed through the transaction (it sees groups created
 * earlier in it, e.g. by a queued XGROUP CREATE in the same EXEC), then
 * deleted: the listing's statement is done before any change. */
int rc__r_stream_drop_groups(rc_store *st, rc_txn *tx, const char *key, size_t *n, rc_err *err) {
    rc_buf prefix = RC_BUF_INIT, names = RC_BUF_INIT;
    rc_buf_puts(&prefix, "xs.");
    esc(&prefix, key, strlen(key));
    rc_buf_putc(&prefix, '.');
    size_t dropped = 0;
    int rc = rc_consumer_txn_names(st, tx, prefix.p, RC_CONSUMER_GROUP, collect_name, &names, err);
    for (size_t at = 0; !rc && at < names.len; at += strlen(names.p + at) + 1) {
        const char *name = names.p + at;
        if (strchr(name + prefix.len, '.')) continue; /* a longer key that shares the prefix */
        if ((rc = rc_consumer_txn_delete(st, tx, name, err)) == RC_OK) dropped++;
    }
    rc_buf_free(&prefix);
    rc_buf_free(&names);
    if (n) *n = dropped;
    return rc;
}

/* A recorded member: new to the summary, or a fresher idle time. */
static int member_row(const rc_consumer_member *m, void *arg) {
    pendsum *s = arg;
    int64_t idle = rc__r_now_ms() - m->seen_ms;
    if (idle < 0) idle = 0;
    size_t k = 0;
    while (k < s->nm && strcmp(s->m[k].member, m->member)) k++;
    if (k == s->nm) {
        s->m = realloc(s->m, (s->nm + 1) * sizeof *s->m);
        if (!s->m) abort();
        s->m[s->nm].member = rc__r_strndup(m->member, strlen(m->member));
        s->m[s->nm].n = 0;
        s->m[s->nm].min_idle = idle;
        s->nm++;
    } else if (idle < s->m[k].min_idle) {
        s->m[k].min_idle = idle;
    }
    s->m[k].active_ms = m->active_ms;
    return 0;
}

/* Members of a group: those with pending entries and those recorded. */
static int members_of(rc_store *st, const char *gname, pendsum *s, rc_err *err) {
    int rc = rc_consumer_pending_list(st, gname, NULL, 0, 0, ps_summary, s, err);
    return rc ? rc : rc_consumer_members(st, gname, member_row, s, err);
}

static void w_kv_int(rc_resp_w *w, const char *k, int64_t v) {
    rc_resp_w_bulkstr(w, k);
    rc_resp_w_int(w, v);
}

static void w_kv_id(rc_resp_w *w, const char *k, uint64_t seq) {
    rc_resp_w_bulkstr(w, k);
    w_id(w, seq);
}

/* The entry at seq (visible: the caller checked), or nil. */
static void entry_at(const xsrc *s, const char *key, uint64_t seq, rc_resp_w *w) {
    onectx o = {key, NULL};
    rc_query q = {0};
    rc_err err;
    q.from = q.to = seq;
    if (seq && xscan(s, q, one_row, &o, &err) == RC_OK && o.ev) w_entry(w, seq, o.ev);
    else rc_resp_w_null(w);
    rc_event_free(o.ev);
}

static int xinfo_stream(rc__call *c) {
    xsrc s = {c->door->st, NULL};
    rc_err err;
    rc_err_clear(&err);
    countctx k;
    xview v;
    glist gl;
    rc_buf prefix = RC_BUF_INIT;
    int exists = 0;
    int rc = stream_exists(&s, c->argv[2], &exists, &err);
    if (!rc && !exists) {
        rc_resp_w_error(&c->w, "ERR no such key");
        return RC_OK;
    }
    if (!rc) rc = stream_count(&s, c->argv[2], 0, 0, &k, &err);
    if (!rc) rc = view_load(&s, c->argv[2], 0, &v, &err);
    if (rc) {
        rc__r_reply_status(&c->w, rc, &err);
        return RC_OK;
    }
    if ((rc = groups_of(c->door->st, c->argv[2], c->argvlen[2], &gl, &prefix, &err))) {
        view_free(&v);
        rc_buf_free(&prefix);
        rc__r_reply_status(&c->w, rc, &err);
        return RC_OK;
    }
    uint64_t maxdel = v.minseq ? v.minseq - 1 : 0;
    for (size_t i = 0; i < v.ndel; i++)
        if (v.del[i] > maxdel) maxdel = v.del[i];
    rc_resp_w_map(&c->w, 10);
    w_kv_int(&c->w, "length", (int64_t)k.n);
    w_kv_int(&c->w, "radix-tree-keys", 0);
    w_kv_int(&c->w, "radix-tree-nodes", 0);
    w_kv_id(&c->w, "last-generated-id", k.last_any);
    w_kv_id(&c->w, "max-deleted-entry-id", maxdel);
    w_kv_int(&c->w, "entries-added", (int64_t)k.added);
    w_kv_id(&c->w, "recorded-first-entry-id", k.first);
    w_kv_int(&c->w, "groups", (int64_t)gl.n);
    rc_resp_w_bulkstr(&c->w, "first-entry");
    entry_at(&s, c->argv[2], k.first, &c->w);
    rc_resp_w_bulkstr(&c->w, "last-entry");
    entry_at(&s, c->argv[2], k.last, &c->w);
    glist_free(&gl);
    rc_buf_free(&prefix);
    view_free(&v);
    return RC_OK;
}

static void xinfo_groups(rc__call *c) {
    xsrc s = {c->door->st, NULL};
    rc_err err;
    rc_err_clear(&err);
    glist gl;
    rc_buf prefix = RC_BUF_INIT;
    int rc = groups_of(c->door->st, c->argv[2], c->argvlen[2], &gl, &prefix, &err);
    countctx k;
    int exists = 0;
    if (!rc) rc = stream_exists(&s, c->argv[2], &exists, &err);
    if (!rc) rc = stream_count(&s, c->argv[2], 0, 0, &k, &err);
    if (!rc && !exists && gl.n == 0) {
        rc_resp_w_error(&c->w, "ERR no such key");
        goto out;
    }
    if (rc) {
        rc__r_reply_status(&c->w, rc, &err);
        goto out;
    }
    rc_buf gb = RC_BUF_INIT;
    rc_resp_w gw = {&gb, c->w.proto};
    for (size_t i = 0; i < gl.n && rc == RC_OK; i++) {
        pendsum ps = {0};
        countctx after;
        rc = members_of(c->door->st, gl.g[i].gname, &ps, &err);
        if (!rc) rc = stream_count(&s, c->argv[2], gl.g[i].read_seq + 1, 0, &after, &err);
        if (!rc) {
            rc_resp_w_map(&gw, 6);
            rc_resp_w_bulkstr(&gw, "name");
            rc_resp_w_bulkstr(&gw, gl.g[i].group);
            w_kv_int(&gw, "consumers", (int64_t)ps.nm);
            w_kv_int(&gw, "pending", (int64_t)ps.n);
            w_kv_id(&gw, "last-delivered-id", gl.g[i].read_seq);
            w_kv_int(&gw, "entries-read", (int64_t)(k.n > after.n ? k.n - after.n : 0));
            w_kv_int(&gw, "lag", (int64_t)after.n);
        }
        ps_free(&ps);
    }
    if (rc) {
        rc__r_reply_status(&c->w, rc, &err);
    } else {
        rc_resp_w_array(&c->w, gl.n);
        rc_buf_append(c->w.b, gb.p ? gb.p : "", gb.len);
    }
    rc_buf_free(&gb);
out:
    glist_free(&gl);
    rc_buf_free(&prefix);
}

static void xinfo_consumers(rc__call *c) {
    rc_buf gn = RC_BUF_INIT;
    pendsum ps = {0};
    rc_err err;
    rc_err_clear(&err);
    if (!group_name(&c->w, &gn, c->argv[2], c->argvlen[2], c->argv[3], c->argvlen[3])) goto out;
    int rc = members_of(c->door->st, gn.p, &ps, &err);
    if (rc == RC_NOT_FOUND) {
        err_nogroup(&c->w, c->argv[2], c->argv[3], NULL);
        goto out;
    }
    if (rc) {
        rc__r_reply_status(&c->w, rc, &err);
        goto out;
    }
    rc_resp_w_array(&c->w, ps.nm);
    int64_t now = rc__r_now_ms();
    for (size_t i = 0; i < ps.nm; i++) {
        int64_t inactive = ps.m[i].active_ms >= 0 ? now - ps.m[i].active_ms : -1;
        if (ps.m[i].active_ms >= 0 && inactive < 0) inactive = 0;
        rc_resp_w_map(&c->w, 4);
        rc_resp_w_bulkstr(&c->w, "name");
        w_member(&c->w, ps.m[i].member);
        w_kv_int(&c->w, "pending", (int64_t)ps.m[i].n);
        w_kv_int(&c->w, "idle", ps.m[i].min_idle < 0 ? 0 : ps.m[i].min_idle);
        w_kv_int(&c->w, "inactive", inactive);
    }
out:
    ps_free(&ps);
    rc_buf_free(&gn);
}

static const char *const xinfo_help[] = {
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key>",
    "    Show information about the stream.",
    "HELP",
    "    Print this help.",
};

void rc__r_cmd_xinfo(rc__call *c) {
    const char *sc = c->argv[1];
    if (rc__r_streq(sc, "HELP") && c->argc == 2) {
        size_t n = sizeof xinfo_help / sizeof xinfo_help[0];
        rc_resp_w_array(&c->w, n);
        for (size_t i = 0; i < n; i++) rc_resp_w_simple(&c->w, xinfo_help[i]);
    } else if (rc__r_streq(sc, "STREAM") && c->argc >= 3) {
        if (!rc__r_key_ok(c, 2)) return;
        if (c->argc > 3) {
            rc_resp_w_error(&c->w, "ERR XINFO STREAM FULL is not supported: use XINFO GROUPS, "
                                   "XINFO CONSUMERS and XPENDING");
            return;
        }
        xinfo_stream(c);
    } else if (rc__r_streq(sc, "GROUPS") && c->argc == 3) {
        if (rc__r_key_ok(c, 2)) xinfo_groups(c);
    } else if (rc__r_streq(sc, "CONSUMERS") && c->argc == 4) {
        if (rc__r_key_ok(c, 2)) xinfo_consumers(c);
    } else if (rc__r_streq(sc, "STREAM") || rc__r_streq(sc, "GROUPS") ||
               rc__r_streq(sc, "CONSUMERS") || rc__r_streq(sc, "HELP")) {
        rc_resp_w_errorf(&c->w, "ERR wrong number of arguments for 'xinfo|%s' command", sc);
    } else {
        rc_resp_w_errorf(&c->w, "ERR unknown subcommand '%.64s'. Try XINFO HELP.", sc);
    }
}
