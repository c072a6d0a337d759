/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP client of redcar-ctl on libcurl (see client.h).
 *
 * One easy handle lives for the whole run: curl_easy_reset() between
 * requests clears the options but keeps the connection cache, so a command
 * that pages through /events reuses one TCP connection. Signals are not
 * used by libcurl (CURLOPT_NOSIGNAL); the stream watches a stop flag from
 * the progress callback instead, which libcurl calls at least once a second
 * even when no byte arrives.
 */
#include "client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "sse.h"

struct ctl_client {
    CURL *curl;
    char *endpoint;
    long timeout_ms;
    ctl_tls tls;    /* its strings point into owned */
    char *owned[3]; /* copies of cacert, cert, key */
    char errbuf[CURL_ERROR_SIZE];
};

void ctl_client_tls_setopt(void *curl, const ctl_tls *tls) {
    if (!tls) return;
    /* CAINFO replaces the default bundle, as curl's --cacert does: the
     * server's private CA is then the only one trusted. */
    if (tls->cacert) curl_easy_setopt(curl, CURLOPT_CAINFO, tls->cacert);
    if (tls->insecure) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    /* The client certificate goes on every request, so that backup and the
     * stream (which run their own handles or options) show it too. Without
     * a key file OpenSSL reads the key from the certificate file, as curl's
     * --cert does. */
    if (tls->cert) {
        curl_easy_setopt(curl, CURLOPT_SSLCERT, tls->cert);
        curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
        if (tls->key) curl_easy_setopt(curl, CURLOPT_SSLKEY, tls->key);
        curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
}

ctl_client *ctl_client_new(const char *endpoint, long timeout_ms, const ctl_tls *tls) {
    static int global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return NULL;
        global_done = 1;
    }
    ctl_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->curl = curl_easy_init();
    c->endpoint = strdup(endpoint);
    int oom = !c->curl || !c->endpoint;
    if (tls) {
        const char *src[3] = {tls->cacert, tls->cert, tls->key};
        const char **dst[3] = {&c->tls.cacert, &c->tls.cert, &c->tls.key};
        for (size_t i = 0; i < 3; i++) {
            if (!src[i]) continue;
            if (!(c->owned[i] = strdup(src[i]))) oom = 1;
            *dst[i] = c->owned[i];
        }
        c->tls.insecure = tls->insecure;
    }
    if (oom) {
        ctl_client_free(c);
        return NULL;
    }
    size_t n = strlen(c->endpoint);
    while (n > 0 && c->endpoint[n - 1] == '/') c->endpoint[--n] = '\0';
    c->timeout_ms = timeout_ms;
    return c;
}

void ctl_client_free(ctl_client *c) {
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    free(c->endpoint);
    for (size_t i = 0; i < 3; i++) free(c->owned[i]);
    free(c);
}

void ctl_resp_init(ctl_resp *r) {
    r->status = 0;
    rc_buf_init(&r->body);
    rc_buf_init(&r->headers);
}

void ctl_resp_free(ctl_resp *r) {
    rc_buf_free(&r->body);
    rc_buf_free(&r->headers);
}

const char *ctl_resp_header(const ctl_resp *r, const char *name, char *out, size_t outlen) {
    size_t nlen = strlen(name);
    const char *p = r->headers.p;
    if (!p || outlen == 0) return NULL;
    while (*p) {
        const char *eol = strchr(p, '\n');
        if (!eol) eol = p + strlen(p);
        if ((size_t)(eol - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) v++;
            const char *e = eol;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
            size_t vlen = (size_t)(e - v);
            if (vlen >= outlen) vlen = outlen - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return out;
        }
        p = *eol ? eol + 1 : eol;
    }
    return NULL;
}

/* ---- paths -------------------------------------------------------------- */

void ctl_put_escaped(rc_buf *out, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            rc_buf_putc(out, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc_buf_append(out, e, 3);
        }
    }
}

void ctl_query_add(rc_buf *out, const char *name, const char *value) {
    if (!value) return;
    rc_buf_putc(out, out->p && memchr(out->p, '?', out->len) ? '&' : '?');
    rc_buf_puts(out, name);
    rc_buf_putc(out, '=');
    ctl_put_escaped(out, value);
}

/* ---- callbacks ---------------------------------------------------------- */

typedef struct sink {
    rc_buf *buf;
    int overflow;
} sink;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg) {
    sink *s = arg;
    size_t n = size * nmemb;
    if (s->buf->len + n > CTL_MAX_RESPONSE) {
        s->overflow = 1;
        return 0; /* aborts the transfer */
    }
    rc_buf_append(s->buf, ptr, n);
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *arg) {
    rc_buf *h = arg;
    size_t n = size * nmemb;
    /* A new status line starts a new header block (100 Continue, redirects):
     * only the final response's headers are kept. */
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        rc_buf_reset(h);
        return n;
    }
    if (h->len + n > 64 * 1024) return n; /* keep the first 64 KiB */
    size_t len = n;
    while (len > 0 && (ptr[len - 1] == '\n' || ptr[len - 1] == '\r')) len--;
    if (len == 0) return n;
    rc_buf_append(h, ptr, len);
    rc_buf_putc(h, '\n');
    return n;
}

const char *ctl_client_token(void) {
    const char *t = getenv("REDCAR_TOKEN");
    if (!t || !*t) t = getenv("REDCAR_PASSWORD");
    return t && *t ? t : NULL;
}

static int has_header(const ctl_req *req, const char *name) {
    size_t n = strlen(name);
    for (const char *const *h = req->headers; h && *h; h++)
        if (!strncasecmp(*h, name, n) && (*h)[n] == ':') return 1;
    return 0;
}

static struct curl_slist *build_headers(const ctl_req *req, const char *extra) {
    struct curl_slist *list = NULL, *tmp;
    char line[512];
    /* Every request carries the token when there is one (the server asks
     * for it on every route but /health), unless the caller set its own. */
    const char *token = ctl_client_token();
    if (token && !has_header(req, "Authorization")) {
        rc_buf auth = RC_BUF_INIT;
        rc_buf_printf(&auth, "Authorization: Bearer %s", token);
        tmp = auth.p ? curl_slist_append(list, auth.p) : NULL;
        rc_buf_free(&auth);
        if (!tmp) return NULL;
        list = tmp;
    }
    /* An empty "Expect:" stops libcurl from waiting for 100-continue. */
    /* No Content-Type at all unless asked: libcurl would otherwise label a
     * body application/x-www-form-urlencoded. */
    const char *fixed[4] = {"Expect:", "Content-Type:", NULL, extra};
    char ct[300], ac[300];
    if (req->ctype) {
        snprintf(ct, sizeof ct, "Content-Type: %s", req->ctype);
        fixed[1] = ct;
    }
    if (req->accept) {
        snprintf(ac, sizeof ac, "Accept: %s", req->accept);
        fixed[2] = ac;
    }
    for (size_t i = 0; i < 4; i++) {
        if (!fixed[i]) continue;
        if (!(tmp = curl_slist_append(list, fixed[i]))) goto fail;
        list = tmp;
    }
    for (const char *const *h = req->headers; h && *h; h++) {
        snprintf(line, sizeof line, "%s", *h);
        if (!(tmp = curl_slist_append(list, line))) goto fail;
        list = tmp;
    }
    return list;
fail:
    curl_slist_free_all(list);
    return NULL;
}

static void setup(ctl_client *c, const ctl_req *req, rc_buf *url) {
    CURL *h = c->curl;
    curl_easy_reset(h);
    rc_buf_reset(url);
    rc_buf_puts(url, c->endpoint);
    rc_buf_puts(url, req->path);
    curl_easy_setopt(h, CURLOPT_URL, url->p);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 10000 ? c->timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "redcar-ctl/" RC_VERSION);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    ctl_client_tls_setopt(h, &c->tls);
    c->errbuf[0] = '\0';
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    }
    if (req->body || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
}

/* Did an https connection end the way a refused client certificate ends?
 * A server that sends an alert names it (OpenSSL's text: "alert
 * certificate required", "alert bad certificate", "alert unknown ca"...);
 * libmicrohttpd (GnuTLS) sends none and just closes, which libcurl reports
 * as a handshake cut off (TLS 1.2) or, since TLS 1.3 ends the client's side
 * of the handshake first, as a reply that never came. */
static int looks_like_client_refused(CURLcode rc, const char *errbuf) {
    static const char *const alerts[] = {"certificate required", "bad certificate", "unknown ca",
                                         "certificate unknown", "handshake failure", NULL};
    for (size_t i = 0; errbuf && alerts[i]; i++)
        if (strstr(errbuf, alerts[i])) return 1;
    return rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR ||
           rc == CURLE_SEND_ERROR;
}

void ctl_client_report_transport(const char *endpoint, const ctl_tls *tls, const char *errbuf,
                                 int code) {
    CURLcode rc = (CURLcode)code;
    fprintf(stderr, "redcar-ctl: cannot reach %s: %s\n", endpoint,
            errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc));
    /* Say what fixes the usual TLS causes. */
    int https = strncmp(endpoint, "https://", 8) == 0;
    int has_cert = tls && tls->cert;
    if (rc == CURLE_PEER_FAILED_VERIFICATION) {
        fprintf(stderr, "redcar-ctl: the server's TLS certificate is not trusted; name the CA "
                        "that signed it with --cacert FILE (or REDCAR_CACERT)\n");
    } else if (rc == CURLE_SSL_CERTPROBLEM) {
        fprintf(stderr, "redcar-ctl: cannot use the client certificate %s with the key %s: check "
                        "--cert FILE and --key FILE (or REDCAR_CERT / REDCAR_KEY): PEM files, the "
                        "key being the certificate's\n",
                has_cert ? tls->cert : "(none)", has_cert && tls->key ? tls->key : "in the same file");
    } else if (https && !has_cert && looks_like_client_refused(rc, errbuf)) {
        fprintf(stderr, "redcar-ctl: the server closed the TLS connection; if it requires client "
                        "certificates (tls-auth-clients yes), give one with --cert FILE --key FILE "
                        "(or REDCAR_CERT / REDCAR_KEY)\n");
    } else if (https && has_cert && looks_like_client_refused(rc, errbuf)) {
        fprintf(stderr, "redcar-ctl: the server closed the TLS connection; it may have refused the "
                        "client certificate given with --cert (%s): it must be signed by a CA of the "
                        "server's tls-ca-cert-file, with --key its own key\n",
                tls->cert);
    }
}

static void report_transport(ctl_client *c, CURLcode rc) {
    ctl_client_report_transport(c->endpoint, &c->tls, c->errbuf, (int)rc);
}

int ctl_client_do(ctl_client *c, const ctl_req *req, ctl_resp *resp) {
    rc_buf url = RC_BUF_INIT;
    sink s = {&resp->body, 0};
    int ret = CTL_EXIT_CONNECT;
    rc_buf_reset(&resp->body);
    rc_buf_reset(&resp->headers);
    resp->status = 0;
    struct curl_slist *hdrs = build_headers(req, NULL);
    if (!hdrs) {
        fprintf(stderr, "redcar-ctl: out of memory\n");
        goto done;
    }
    setup(c, req, &url);
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp->headers);
    CURLcode rc = curl_easy_perform(h);
    if (s.overflow) {
        fprintf(stderr, "redcar-ctl: response from %s larger than %u bytes\n", c->endpoint,
                CTL_MAX_RESPONSE);
        ret = CTL_EXIT_SERVER;
        goto done;
    }
    if (rc != CURLE_OK) {
        report_transport(c, rc);
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    rc_buf_putc(&resp->body, '\0'); /* body.p is never NULL afterwards */
    resp->body.len--;
    ret = CTL_EXIT_OK;
done:
    curl_slist_free_all(hdrs);
    rc_buf_free(&url);
    return ret;
}

int ctl_exit_for_http(long status) {
    if (status >= 200 && status < 300) return CTL_EXIT_OK;
    if (status == 404) return CTL_EXIT_NOT_FOUND;
    if (status == 409) return CTL_EXIT_CONFLICT;
    return CTL_EXIT_SERVER;
}

/* Print at most n bytes of untrusted text, control characters as '?'. */
static void put_clean(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; i < n && s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, f);
    }
}

/* "redcar-ctl: <title>: <detail> (HTTP <status>)" from a problem+json body,
 * or the start of whatever else the server sent. */
void ctl_report_problem(const ctl_resp *resp) {
    cJSON *j = resp->body.len ? cJSON_ParseWithLength(resp->body.p, resp->body.len) : NULL;
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(j, "title");
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(j, "detail");
    int has_title = cJSON_IsString(title) && title->valuestring[0];
    int has_detail = cJSON_IsString(detail) && detail->valuestring[0];
    fputs("redcar-ctl: ", stderr);
    if (has_title) put_clean(stderr, title->valuestring, 200);
    if (has_title && has_detail) fputs(": ", stderr);
    if (has_detail) put_clean(stderr, detail->valuestring, 1000);
    if (!has_title && !has_detail) {
        fputs("request failed", stderr);
        if (resp->body.len) {
            fputs(": ", stderr);
            put_clean(stderr, resp->body.p, 200);
        }
    }
    fprintf(stderr, " (HTTP %ld)\n", resp->status);
    cJSON_Delete(j);
}

cJSON *ctl_resp_json(const ctl_resp *r) {
    cJSON *j = r->body.len ? cJSON_ParseWithLength(r->body.p, r->body.len) : NULL;
    if (!j) {
        fprintf(stderr, "redcar-ctl: unexpected answer (HTTP %ld): not JSON: ", r->status);
        put_clean(stderr, r->body.p ? r->body.p : "", 200);
        fputc('\n', stderr);
    }
    return j;
}

int ctl_client_call(ctl_client *c, const ctl_req *req, ctl_resp *resp) {
    int rc = ctl_client_do(c, req, resp);
    if (rc != CTL_EXIT_OK) return rc;
    rc = ctl_exit_for_http(resp->status);
    if (rc != CTL_EXIT_OK) ctl_report_problem(resp);
    return rc;
}

/* ---- Server-Sent Events ------------------------------------------------- */

typedef struct stream_state {
    const ctl_stream *s;
    ctl_resp *resp;
    ctl_client *c;
    ctl_sse parser;
    int checked;      /* the status and content type were looked at */
    int is_ok;        /* 2xx text/event-stream */
    int stopped;
    int bad;
    int *connected;
    struct timespec last_byte;
} stream_state;

static long ms_since(const struct timespec *t) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static int on_sse_message(void *arg, const char *id, const char *event, const char *data,
                          size_t len) {
    stream_state *st = arg;
    if (st->s->fn(st->s->arg, id, event, data, len)) {
        st->stopped = 1;
        return 1;
    }
    return 0;
}

static size_t on_stream_body(char *ptr, size_t size, size_t nmemb, void *arg) {
    stream_state *st = arg;
    size_t n = size * nmemb;
    clock_gettime(CLOCK_MONOTONIC, &st->last_byte);
    if (!st->checked) {
        char ct[128];
        st->checked = 1;
        curl_easy_getinfo(st->c->curl, CURLINFO_RESPONSE_CODE, &st->resp->status);
        const char *v = ctl_resp_header(st->resp, "content-type", ct, sizeof ct);
        st->is_ok = st->resp->status >= 200 && st->resp->status < 300 && v &&
                    strncasecmp(v, "text/event-stream", 17) == 0;
        if (st->is_ok) *st->connected = 1;
        else if (st->resp->status >= 200 && st->resp->status < 300) st->bad = 1;
    }
    if (!st->is_ok) { /* an error answer: keep (a bounded part of) its body */
        if (st->resp->body.len < 64 * 1024) rc_buf_append(&st->resp->body, ptr, n);
        return st->bad ? 0 : n;
    }
    int rc = ctl_sse_feed(&st->parser, ptr, n);
    if (rc == CTL_SSE_ERROR) {
        st->bad = 1;
        return 0;
    }
    if (rc == CTL_SSE_STOP) return 0;
    return n;
}

static int on_stream_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                              curl_off_t un) {
    (void)dt, (void)dn, (void)ut, (void)un;
    stream_state *st = arg;
    if (!*st->connected) { /* headers may arrive long before the first byte */
        long code = 0;
        curl_easy_getinfo(st->c->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code < 300) *st->connected = 1;
    }
    if (st->s->stop && *st->s->stop) {
        st->stopped = 1;
        return 1;
    }
    if (st->s->idle_timeout_ms > 0 && ms_since(&st->last_byte) > st->s->idle_timeout_ms)
        return 1; /* silent for too long: treat as a dropped connection */
    return 0;
}

ctl_stream_end ctl_client_stream(ctl_client *c, const ctl_stream *s, ctl_resp *resp,
                                 int *connected) {
    rc_buf url = RC_BUF_INIT;
    char lei[300];
    stream_state st;
    memset(&st, 0, sizeof st);
    st.s = s;
    st.resp = resp;
    st.c = c;
    st.connected = connected;
    ctl_sse_init(&st.parser, 16u * 1024 * 1024, on_sse_message, &st);
    clock_gettime(CLOCK_MONOTONIC, &st.last_byte);
    rc_buf_reset(&resp->body);
    rc_buf_reset(&resp->headers);
    resp->status = 0;

    ctl_req req = {.method = "GET", .path = s->path, .accept = "text/event-stream"};
    lei[0] = '\0';
    if (s->last_event_id && s->last_event_id[0])
        snprintf(lei, sizeof lei, "Last-Event-ID: %s", s->last_event_id);
    ctl_stream_end end = CTL_STREAM_NOCONNECT;
    struct curl_slist *hdrs = build_headers(&req, lei[0] ? lei : NULL);
    if (!hdrs) goto done;
    setup(c, &req, &url);
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stream_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp->headers);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_stream_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &st);
    CURLcode rc = curl_easy_perform(h);
    if (!st.checked && rc == CURLE_OK) { /* an answer with an empty body */
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        st.checked = 1;
        st.is_ok = 0;
    }
    rc_buf_putc(&resp->body, '\0');
    resp->body.len--;
    if (st.stopped) end = CTL_STREAM_STOPPED;
    else if (st.bad) end = CTL_STREAM_BAD;
    else if (st.checked && !st.is_ok) end = resp->status >= 200 && resp->status < 300
                                                ? CTL_STREAM_BAD : CTL_STREAM_HTTP_ERROR;
    else if (*connected || st.checked) end = CTL_STREAM_ENDED;
    else if (rc == CURLE_OK) end = CTL_STREAM_ENDED;
    else {
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        if (code) { /* headers came, then the connection broke */
            resp->status = code;
            end = code >= 200 && code < 300 ? CTL_STREAM_ENDED : CTL_STREAM_HTTP_ERROR;
        } else {
            report_transport(c, rc);
            end = CTL_STREAM_NOCONNECT;
        }
    }
done:
    curl_slist_free_all(hdrs);
    rc_buf_free(&url);
    ctl_sse_free(&st.parser);
    return end;
}
