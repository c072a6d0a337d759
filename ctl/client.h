/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP side of redcar-ctl: one libcurl easy handle reused for every
 * request of a run (so keep-alive connections are reused), path and query
 * building with percent-encoding, responses collected into memory with a
 * cap, and the Server-Sent Events stream of /events/stream.
 *
 * Trust boundary: response bodies and headers come from the network; they
 * are stored bounded and NUL-terminated, never interpreted here.
 */
#ifndef REDCAR_CTL_CLIENT_H
#define REDCAR_CTL_CLIENT_H

#include <signal.h>
#include <stddef.h>

#include "ctl.h"
#include "redcar/buf.h"

/* Largest response body kept in memory. */
#define CTL_MAX_RESPONSE (256u * 1024 * 1024)

typedef struct ctl_resp {
    long status;   /* HTTP status; 0 when no response arrived */
    rc_buf body;   /* NUL-terminated */
    rc_buf headers;/* "name: value\n" lines of the final response */
} ctl_resp;

typedef struct ctl_req {
    const char *method;     /* "GET", "PUT", "POST", "DELETE" */
    const char *path;       /* encoded path and query, starting with "/" */
    const char *ctype;      /* request Content-Type, NULL for none */
    const char *accept;     /* Accept header, NULL for none */
    const void *body;
    size_t body_len;
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated, may be NULL */
} ctl_req;

/* The bearer token every request sends: $REDCAR_TOKEN ("NAME:PASSWORD" or
 * the server's requirepass), else $REDCAR_PASSWORD (its older name); NULL
 * when neither is set. Taken from the environment, never from the command
 * line, where `ps` would show it. */
const char *ctl_client_token(void);

/* endpoint is copied (a trailing '/' is dropped). timeout_ms bounds each
 * request as a whole (the stream has no total bound, only an idle bound).
 * tls (copied; may be NULL) applies to an https endpoint. */
ctl_client *ctl_client_new(const char *endpoint, long timeout_ms, const ctl_tls *tls);

/* Set tls's options on a curl easy handle (after curl_easy_reset): for
 * callers that keep a handle of their own. */
void ctl_client_tls_setopt(void *curl, const ctl_tls *tls);
void ctl_client_free(ctl_client *c);

void ctl_resp_init(ctl_resp *r);
void ctl_resp_free(ctl_resp *r);
/* Value of a response header (case-insensitive name) copied into out;
 * returns out, or NULL when absent. */
const char *ctl_resp_header(const ctl_resp *r, const char *name, char *out, size_t outlen);

/* The stderr report of a transport failure (code: a CURLcode; errbuf: the
 * handle's CURLOPT_ERRORBUFFER, may be empty; tls: the run's settings, may
 * be NULL), with a hint naming the option that fixes a TLS cause: an
 * untrusted server certificate (--cacert), a client certificate the server
 * wants or refused, or one libcurl cannot use (--cert/--key). */
void ctl_client_report_transport(const char *endpoint, const ctl_tls *tls, const char *errbuf,
                                 int code);

/* Perform one request. Returns CTL_EXIT_OK when an HTTP response arrived
 * (whatever its status: see resp->status), or CTL_EXIT_CONNECT after printing
 * why the transport failed. */
int ctl_client_do(ctl_client *c, const ctl_req *req, ctl_resp *resp);

/* Perform a request and map its status to an exit code: 2xx -> OK; else
 * the problem detail is printed to stderr and the code is NOT_FOUND (404),
 * CONFLICT (409) or SERVER. */
int ctl_client_call(ctl_client *c, const ctl_req *req, ctl_resp *resp);

/* The response body parsed as JSON, or NULL after printing why not. The
 * caller owns the result (cJSON_Delete). */
struct cJSON *ctl_resp_json(const ctl_resp *r);

/* Exit code for an HTTP status, and the stderr report of a failed response. */
int ctl_exit_for_http(long status);
void ctl_report_problem(const ctl_resp *resp);

/* ---- paths -------------------------------------------------------------- */
/* Append s percent-encoded (every byte but RFC 3986 unreserved ones). */
void ctl_put_escaped(rc_buf *out, const char *s);
/* Append "?name=value" or "&name=value" (value escaped); value NULL: skip. */
void ctl_query_add(rc_buf *out, const char *name, const char *value);

/* ---- Server-Sent Events ------------------------------------------------- */
/* One dispatched message. Return non-zero to stop the stream. */
typedef int (*ctl_sse_fn)(void *arg, const char *id, const char *event, const char *data,
                          size_t data_len);

typedef struct ctl_stream {
    const char *path;          /* encoded path and query */
    const char *last_event_id; /* sent as Last-Event-ID when non-NULL */
    long idle_timeout_ms;      /* no byte (not even a heartbeat) for this long: drop */
    volatile sig_atomic_t *stop; /* checked while waiting; set by a signal handler */
    ctl_sse_fn fn;
    void *arg;
} ctl_stream;

typedef enum {
    CTL_STREAM_STOPPED,   /* *stop was set or fn asked to stop */
    CTL_STREAM_ENDED,     /* the server closed the stream (or it went idle) */
    CTL_STREAM_NOCONNECT, /* could not connect at all */
    CTL_STREAM_HTTP_ERROR,/* non-2xx answer: see resp */
    CTL_STREAM_BAD        /* not an event stream, or a malformed/oversized message */
} ctl_stream_end;

/* Run the stream until it ends. resp receives the status (and body of an
 * error answer). *connected is set to 1 once a 2xx answer began. */
ctl_stream_end ctl_client_stream(ctl_client *c, const ctl_stream *s, ctl_resp *resp,
                                 int *connected);

#endif
