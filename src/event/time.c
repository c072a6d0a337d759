/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 3339 timestamps <-> milliseconds since the epoch.
 *
 * Pure arithmetic on the proleptic Gregorian calendar (days_from_civil and
 * its inverse, after Howard Hinnant): no timegm(), no TZ, no locale, so the
 * result never depends on the process environment. The parser is strict:
 * every field is range-checked, including the day against the month and
 * leap years, and a leap second (:60) is accepted only where one can occur,
 * at 23:59:60 UTC. Fractional seconds of any length are accepted and
 * truncated to milliseconds.
 */
#include <stdio.h>

#include "redcar/event.h"

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m) {
    static const unsigned char dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* n decimal digits at *s, advancing it; -1 when a digit is missing. */
static int digits(const char **s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*s)[0];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
        (*s)++;
    }
    return v;
}

static int expect(const char **s, char c) {
    if (**s != c) return 0;
    (*s)++;
    return 1;
}

int rc_time_parse(const char *s, int64_t *ms_out) {
    if (!s) return RC_INVALID;
    int y, mo, d, h, mi, sec, frac = 0;
    if ((y = digits(&s, 4)) < 0 || !expect(&s, '-') || (mo = digits(&s, 2)) < 0 ||
        !expect(&s, '-') || (d = digits(&s, 2)) < 0)
        return RC_INVALID;
    if (*s != 'T' && *s != 't') return RC_INVALID;
    s++;
    if ((h = digits(&s, 2)) < 0 || !expect(&s, ':') || (mi = digits(&s, 2)) < 0 ||
        !expect(&s, ':') || (sec = digits(&s, 2)) < 0)
        return RC_INVALID;
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9') return RC_INVALID;
        int n = 0;
        for (; *s >= '0' && *s <= '9'; s++, n++)
            if (n < 3) frac = frac * 10 + (*s - '0'); /* digits past the third are truncated */
        for (; n < 3; n++) frac *= 10;
    }
    int64_t off = 0;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int sign = *s++ == '-' ? -1 : 1, oh, om;
        if ((oh = digits(&s, 2)) < 0 || !expect(&s, ':') || (om = digits(&s, 2)) < 0) return RC_INVALID;
        if (oh > 23 || om > 59) return RC_INVALID;
        off = sign * (oh * 60 + om);
    } else {
        return RC_INVALID;
    }
    if (*s) return RC_INVALID;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return RC_INVALID;
    int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - off * 60;
    /* A leap second is the 61st second of 23:59 UTC, nowhere else. */
    if (sec == 60 && ((t - 60) % 86400 + 86400) % 86400 != 86340) return RC_INVALID;
    if (ms_out) *ms_out = t * 1000 + frac;
    return RC_OK;
}

void rc_time_format(int64_t ms, char *buf, size_t buflen) {
    /* Floor division without negating (INT64_MIN has no positive twin). */
    int64_t sec = ms / 1000, msec = ms % 1000;
    if (msec < 0) {
        sec--;
        msec += 1000;
    }
    int64_t days = sec / 86400, rem = sec % 86400;
    if (rem < 0) {
        days--;
        rem += 86400;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, buflen, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (int)msec);
}
