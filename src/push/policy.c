/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pure parts of webhook delivery: how long to wait before the next
 * attempt (Retry-After, exponential backoff), what an attempt's result
 * means (deliver, retry, reject), how a ce-* header value is encoded and
 * which sink URLs are acceptable.
 *
 * Trust boundary: Retry-After values come from sinks and sink URLs from
 * clients; both are parsed with bounded reads and refused when malformed,
 * never trusted to be well-formed.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "redcar/push.h"

/* ---- Retry-After ----------------------------------------------------------- */

static int month_of(const char *m) {
    static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (!strcmp(m, names[i])) return i;
    return -1;
}

static int known_day(const char *d, int long_form) {
    static const char *const names[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};
    for (int i = 0; i < 7; i++)
        if (long_form ? !strcmp(d, names[i]) : !strncmp(d, names[i], 3) && strlen(d) == 3)
            return 1;
    return 0;
}

/* The three HTTP-date forms of RFC 9110 5.6.7, in GMT. */
static int http_date(const char *s, int64_t *ms) {
    char day[16], mon[8];
    int d, y, hh, mm, ss, n = -1;
    size_t len = strlen(s);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
    if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", day, &d, mon, &y, &hh, &mm,
               &ss, &n) == 7 &&
        n == (int)len && known_day(day, 0)) {
        /* matched */
    } else if (n = -1, sscanf(s, "%9[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", day, &d,
                              mon, &y, &hh, &mm, &ss, &n) == 7 &&
                           n == (int)len && known_day(day, 1)) {
        /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT; a two-digit year is
         * read as the most recent one that fits (RFC 9110 5.6.7). */
        y += y < 70 ? 2000 : 1900;
    } else if (n = -1, sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", day, mon, &d, &hh,
                              &mm, &ss, &y, &n) == 7 &&
                           n == (int)len && known_day(day, 0)) {
        /* asctime: Sun Nov  6 08:49:37 1994 */
    } else {
        return -1;
    }
    int m = month_of(mon);
    if (m < 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || y < 1970 || y > 9999 ||
        hh < 0 || mm < 0 || ss < 0)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = m;
    tm.tm_mday = d;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return -1;
    *ms = (int64_t)t * 1000;
    return 0;
}

int rc_push_retry_after(const char *value, int64_t now_ms, int64_t *delay_ms) {
    if (!value) return RC_INVALID;
    char buf[64];
    while (*value == ' ' || *value == '\t') value++;
    size_t n = strlen(value);
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t' || value[n - 1] == '\r' ||
                 value[n - 1] == '\n'))
        n--;
    if (n == 0 || n >= sizeof buf) return RC_INVALID;
    memcpy(buf, value, n);
    buf[n] = '\0';
    if (buf[0] >= '0' && buf[0] <= '9') {
        /* delay-seconds: 1*DIGIT; a huge value saturates (the caller caps it). */
        int64_t secs = 0;
        for (size_t i = 0; i < n; i++) {
            if (buf[i] < '0' || buf[i] > '9') return RC_INVALID;
            if (secs < INT64_MAX / 10000) secs = secs * 10 + (buf[i] - '0');
        }
        *delay_ms = secs * 1000;
        return RC_OK;
    }
    int64_t at;
    if (http_date(buf, &at)) return RC_INVALID;
    *delay_ms = at > now_ms ? at - now_ms : 0;
    return RC_OK;
}

/* ---- backoff and outcome ------------------------------------------------- */

int64_t rc_push_backoff_ms(uint32_t n, int64_t base_ms, int64_t max_ms, uint64_t rnd) {
    if (base_ms <= 0 || max_ms <= 0) return 0;
    uint32_t shift = n > 1 ? n - 1 : 0;
    int64_t d;
    if (shift >= 62 || base_ms > (max_ms >> shift))
        d = max_ms;
    else
        d = base_ms << shift;
    if (d > max_ms) d = max_ms;
    /* Equal jitter: sinks that failed together do not all come back in
     * the same millisecond, and the wait never drops below half. */
    int64_t half = d / 2;
    return half + (int64_t)(rnd % (uint64_t)(d - half + 1));
}

rc_push_outcome rc_push_classify(long http_status, int transport_error) {
    if (transport_error) return RC_PUSH_RETRY;
    if (http_status >= 200 && http_status <= 299) return RC_PUSH_DELIVERED;
    if (http_status == 408 || http_status == 429 || http_status >= 500 || http_status <= 0)
        return RC_PUSH_RETRY;
    return RC_PUSH_REJECTED;
}

/* ---- encoding and sinks ---------------------------------------------------- */

void rc_push_pct_encode(const char *s, size_t n, rc_buf *out) {
    static const char hex[] = "0123456789ABCDEF";
    rc_buf_reserve(out, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '%') {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc_buf_append(out, e, 3);
        } else {
            rc_buf_putc(out, (char)c);
        }
    }
}

int rc_push_check_sink(const char *url, rc_err *err) {
    if (!url || !*url) return rc_err_set(err, RC_INVALID, "sink: required (an http or https URL)");
    size_t n = strlen(url);
    if (n > RC_PUSH_SINK_MAX)
        return rc_err_set(err, RC_INVALID, "sink: longer than %d bytes", RC_PUSH_SINK_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f)
            return rc_err_set(err, RC_INVALID, "sink: whitespace or control byte at offset %zu", i);
    }
    size_t scheme = !strncasecmp(url, "http://", 7) ? 7 : !strncasecmp(url, "https://", 8) ? 8 : 0;
    if (!scheme) return rc_err_set(err, RC_INVALID, "sink: must be an http:// or https:// URL");
    /* curl reads "http:///x" as host "x"; a sink must name its host. */
    if (url[scheme] == '/' || url[scheme] == '\0')
        return rc_err_set(err, RC_INVALID, "sink: the URL has no host");
    CURLU *u = curl_url();
    if (!u) return rc_err_set(err, RC_NOMEM, "out of memory");
    char *host = NULL;
    int rc = RC_OK;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK)
        rc = rc_err_set(err, RC_INVALID, "sink: not a valid URL (%s)", curl_url_strerror(uc));
    else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host)
        rc = rc_err_set(err, RC_INVALID, "sink: the URL has no host");
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}
