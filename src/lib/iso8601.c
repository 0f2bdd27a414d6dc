/*
 * iso8601.c - the date-times events carry ("2021-12-15T14:11:24.613295Z"), parsed and made.
 *
 * Accepted: YYYY-MM-DD, 'T' (or 't' or ' '), hh:mm:ss, an optional fraction of 1 to 9 digits, and
 * 'Z' (or 'z') or +hh:mm / -hh:mm. That is RFC 3339, the profile every webhook sender uses. Field
 * ranges are checked against the calendar. Times are kept as microseconds since the epoch (UTC), the
 * resolution Telnyx sends.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Read exactly n digits at *p into *v. */
static bool digits(const char **p, const char *end, int n, int *v)
{
    if (end - *p < n)
        return false;
    int x = 0;
    for (int i = 0; i < n; i++) {
        unsigned d = (unsigned char)(*p)[i] - (unsigned)'0';
        if (d > 9)
            return false;
        x = x * 10 + (int)d;
    }
    *p += n;
    *v = x;
    return true;
}

static bool expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return false;
    (*p)++;
    return true;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* The optional fraction after the seconds, as microseconds (digits past the sixth are dropped). */
static bool fraction(const char **p, const char *end, int64_t *us)
{
    *us = 0;
    if (*p >= end || **p != '.')
        return true;
    (*p)++;
    int n = 0;
    while (*p < end && (unsigned)(**p - '0') <= 9) {
        if (++n > 9)
            return false;
        if (n <= 6)
            *us = *us * 10 + (**p - '0');
        (*p)++;
    }
    if (n == 0)
        return false;
    for (int i = n; i < 6; i++)
        *us *= 10;
    return true;
}

/* The zone designator, as seconds east of UTC. */
static bool zone(const char **p, const char *end, int *offset)
{
    if (*p >= end)
        return false;
    char c = **p;
    if (c == 'Z' || c == 'z') {
        (*p)++;
        *offset = 0;
        return true;
    }
    if (c != '+' && c != '-')
        return false;
    (*p)++;
    int hh, mm;
    if (!digits(p, end, 2, &hh) || !expect(p, end, ':') || !digits(p, end, 2, &mm) || hh > 23
        || mm > 59)
        return false;
    *offset = (c == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
    return true;
}

hookd_err hookd_iso8601_parse(const char *text, size_t len, int64_t *us_out)
{
    if (text == NULL || us_out == NULL)
        return HOOKD_ERR_INVALID_ARGUMENT;
    const char *p = text, *end = text + len;
    int y, mo, d, h, mi, s, off;
    int64_t us;
    if (!digits(&p, end, 4, &y) || !expect(&p, end, '-') || !digits(&p, end, 2, &mo)
        || !expect(&p, end, '-') || !digits(&p, end, 2, &d))
        return HOOKD_ERR_TIME_MALFORMED;
    if (p >= end || (*p != 'T' && *p != 't' && *p != ' '))
        return HOOKD_ERR_TIME_MALFORMED;
    p++;
    if (!digits(&p, end, 2, &h) || !expect(&p, end, ':') || !digits(&p, end, 2, &mi)
        || !expect(&p, end, ':') || !digits(&p, end, 2, &s) || !fraction(&p, end, &us)
        || !zone(&p, end, &off) || p != end)
        return HOOKD_ERR_TIME_MALFORMED;
    /* Seconds may be 60 (a leap second); the arithmetic below carries it into the next minute. */
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60)
        return HOOKD_ERR_TIME_MALFORMED;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + s - off;
    *us_out = secs * 1000000 + us;
    return HOOKD_OK;
}

hookd_err hookd_iso8601_format(int64_t us, char *out, size_t cap)
{
    if (out == NULL)
        return HOOKD_ERR_INVALID_ARGUMENT;
    if (cap < HOOKD_ISO8601_BUFSIZE)
        return HOOKD_ERR_BUFFER_TOO_SMALL;
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return HOOKD_ERR_INVALID_ARGUMENT;
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60), (int)frac);
    return HOOKD_OK;
}
