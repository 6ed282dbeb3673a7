/*
 * data_dates.c - the `dates` dataset: a date as people write it -> ISO
 * YYYY-MM-DD.
 *
 * Each example draws a style (see date_style) and then a date uniformly from
 * the years that style allows, and renders it. Two-digit years follow POSIX
 * strptime's %y (69-99 -> 19xx, 00-68 -> 20xx), so a two-digit style only
 * draws dates in 1969..2068; four-digit styles draw from 1900..2099.
 * Weekdays are computed from the date, never drawn.
 *
 * --explain renders every style of every candidate date and reports the
 * dates whose rendering is the given text: it answers with the generator's
 * own code, so what it prints is exactly the target a row would carry.
 */
#include <string.h>

#include "datasets.h"

#define DATES_MAX_SOURCE 29
#define YEAR_MIN 1900
#define YEAR_MAX 2099
#define SHORT_YEAR_MIN 1969 /* %y: 69 -> 1969 */
#define SHORT_YEAR_MAX 2068 /* %y: 68 -> 2068 */

typedef enum date_form {
    FORM_SLASH,       /* 9/27/94, 09/27/1994 */
    FORM_MONTH_FIRST, /* Tuesday, September 27, 1994; tue sep 27 1994 */
    FORM_DAY_FIRST,   /* 27 September 1994; Tue, 27 Sep 1994 */
    FORM_DOT,         /* 27.09.1994, 27.9.94 */
    N_FORMS
} date_form;

typedef enum month_style { MONTH_FULL, MONTH_ABBR, MONTH_SEPT, N_MONTH_STYLES } month_style;
typedef enum letter_case { CASE_LOWER, CASE_TITLE, CASE_UPPER, N_CASES } letter_case;
typedef enum weekday_style { WEEKDAY_NONE, WEEKDAY_FULL, WEEKDAY_ABBR, N_WEEKDAYS } weekday_style;

typedef struct date_style {
    date_form form;
    month_style month;     /* named forms; MONTH_SEPT only for September */
    letter_case lcase;     /* named forms: of the month and the weekday alike */
    weekday_style weekday; /* named forms */
    bool commas;           /* named forms: "Tue, Sep 27, 1994" against "Tue Sep 27 1994" */
    bool pad;              /* zero-padded day (and month, in numeric forms) */
    bool short_year;       /* numeric forms: two digits */
} date_style;

#define N_STYLE_CODES (N_FORMS * N_MONTH_STYLES * N_CASES * N_WEEKDAYS * 2 * 2 * 2)

typedef struct civil {
    int y, m, d;
} civil;

static const char *const month_names[12] = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};
static const char *const weekday_names[7] = {"sunday",   "monday", "tuesday", "wednesday",
                                             "thursday", "friday", "saturday"};

/* Days since 1970-01-01 (proleptic Gregorian), after Howard Hinnant's
 * days_from_civil. */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static civil civil_from_days(long z)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    civil c;
    c.d = (int)(doy - (153 * mp + 2) / 5 + 1);
    c.m = (int)(mp < 10 ? mp + 3 : mp - 9);
    c.y = (int)(yoe + era * 400 + (c.m <= 2));
    return c;
}

/* 0 = Sunday; day 0, 1970-01-01, was a Thursday. */
static int weekday_from_days(long z)
{
    return (int)(z >= -4 ? (z + 4) % 7 : (z + 5) % 7 + 6);
}

static bool is_numeric(date_form f)
{
    return f == FORM_SLASH || f == FORM_DOT;
}

/* The days a style may draw from: two-digit years only where %y reads them
 * back to the same year. */
static void style_days(const date_style *s, long *first, long *last)
{
    *first = s->short_year ? days_from_civil(SHORT_YEAR_MIN, 1, 1)
                           : days_from_civil(YEAR_MIN, 1, 1);
    *last = s->short_year ? days_from_civil(SHORT_YEAR_MAX, 12, 31)
                          : days_from_civil(YEAR_MAX, 12, 31);
}

/* The style with code i in [0, N_STYLE_CODES); false for codes whose unused
 * fields are set, so that enumerating the codes visits each style once. */
static bool style_from_code(int i, date_style *s)
{
    s->short_year = i % 2, i /= 2;
    s->pad = i % 2, i /= 2;
    s->commas = i % 2, i /= 2;
    s->weekday = (weekday_style)(i % N_WEEKDAYS), i /= N_WEEKDAYS;
    s->lcase = (letter_case)(i % N_CASES), i /= N_CASES;
    s->month = (month_style)(i % N_MONTH_STYLES), i /= N_MONTH_STYLES;
    s->form = (date_form)i;
    if (is_numeric(s->form))
        return !s->commas && s->weekday == WEEKDAY_NONE && s->lcase == CASE_LOWER &&
               s->month == MONTH_FULL;
    return !s->short_year;
}

/* The mix of the training data: numeric and named forms about equally, half
 * of the named ones with a weekday. */
static date_style style_random(data_rng *r)
{
    date_style s = {0};
    uint32_t f = data_rng_below(r, 100);
    s.form = f < 30 ? FORM_SLASH : f < 60 ? FORM_MONTH_FIRST : f < 85 ? FORM_DAY_FIRST : FORM_DOT;
    if (is_numeric(s.form)) {
        s.pad = data_rng_below(r, 2);
        s.short_year = data_rng_below(r, 2);
        return s;
    }
    s.month = data_rng_below(r, 2) ? MONTH_ABBR : MONTH_FULL;
    s.lcase = (letter_case)data_rng_below(r, N_CASES);
    uint32_t w = data_rng_below(r, 4);
    s.weekday = w < 2 ? WEEKDAY_NONE : w == 2 ? WEEKDAY_FULL : WEEKDAY_ABBR;
    s.commas = data_rng_below(r, 2);
    s.pad = data_rng_below(r, 5) == 0;
    return s;
}

/* The first n letters of a lower-case name (all when n is 0) in case c. */
static void cased(const char *name, size_t n, letter_case c, char *out, size_t cap)
{
    size_t len = strlen(name);
    if (n == 0 || n > len)
        n = len;
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++) {
        bool up = c == CASE_UPPER || (c == CASE_TITLE && i == 0);
        out[i] = up ? (char)(name[i] - 'a' + 'A') : name[i];
    }
    out[n] = '\0';
}

/* Writes date c (weekday wd) in style s; returns the length, or -1 when the
 * style does not apply (Sept for another month) or the text would be too
 * long. */
static int date_render(const date_style *s, civil c, int wd, char *out, size_t cap)
{
    if (s->month == MONTH_SEPT && c.m != 9)
        return -1;
    char day[8], month[16], year[8], mon[16] = "", week[16] = "";
    snprintf(day, sizeof day, s->pad ? "%02d" : "%d", c.d);
    snprintf(month, sizeof month, s->pad ? "%02d" : "%d", c.m);
    if (s->short_year)
        snprintf(year, sizeof year, "%02d", c.y % 100);
    else
        snprintf(year, sizeof year, "%04d", c.y);
    size_t mlen = s->month == MONTH_FULL ? 0 : s->month == MONTH_ABBR ? 3 : 4;
    cased(month_names[c.m - 1], mlen, s->lcase, mon, sizeof mon);
    if (s->weekday != WEEKDAY_NONE)
        cased(weekday_names[wd], s->weekday == WEEKDAY_ABBR ? 3 : 0, s->lcase, week, sizeof week);
    const char *wsep = s->weekday == WEEKDAY_NONE ? "" : s->commas ? ", " : " ";
    char buf[96];
    switch (s->form) {
    case FORM_SLASH:
        snprintf(buf, sizeof buf, "%s/%s/%s", month, day, year);
        break;
    case FORM_DOT:
        snprintf(buf, sizeof buf, "%s.%s.%s", day, month, year);
        break;
    case FORM_MONTH_FIRST:
        snprintf(buf, sizeof buf, "%s%s%s %s%s %s", week, wsep, mon, day, s->commas ? "," : "",
                 year);
        break;
    default:
        snprintf(buf, sizeof buf, "%s%s%s %s %s", week, wsep, day, mon, year);
        break;
    }
    size_t n = strlen(buf);
    if (n > DATES_MAX_SOURCE || n >= cap)
        return -1;
    memcpy(out, buf, n + 1);
    return (int)n;
}

static void dates_make(data_rng *r, char *source, char *target, size_t cap)
{
    for (;;) {
        date_style s = style_random(r);
        long first, last;
        style_days(&s, &first, &last);
        long z = first + (long)data_rng_below(r, (uint32_t)(last - first + 1));
        civil c = civil_from_days(z);
        if (s.month == MONTH_ABBR && c.m == 9 && data_rng_below(r, 2))
            s.month = MONTH_SEPT;
        if (date_render(&s, c, weekday_from_days(z), source, cap) < 0)
            continue; /* too long: draw again */
        snprintf(target, cap, "%04d-%02d-%02d", c.y, c.m, c.d);
        return;
    }
}

static data_status dates_generate(const data_request *rq, data_output *out, data_error *err)
{
    static const size_t defaults[DATA_N_SPLITS] = {45000, 2500, 2500};
    return data_sample_unique(rq, "dates", dates_make, defaults, out, err);
}

/* The numbers written in text (at most max of them); every rendering holds
 * its day and its year (or the year's last two digits) as such a run. */
static int digit_runs(const char *text, long *runs, int max)
{
    int n = 0;
    for (const char *p = text; *p && n < max;) {
        if (*p < '0' || *p > '9') {
            p++;
            continue;
        }
        long v = 0;
        for (; *p >= '0' && *p <= '9'; p++)
            v = v < 100000 ? v * 10 + (*p - '0') : v;
        runs[n++] = v;
    }
    return n;
}

static bool has_run(const long *runs, int n, long v)
{
    for (int i = 0; i < n; i++)
        if (runs[i] == v)
            return true;
    return false;
}

/* Whether some style renders date z as text. */
static bool renders_as(long z, const char *text)
{
    civil c = civil_from_days(z);
    char buf[64];
    for (int i = 0; i < N_STYLE_CODES; i++) {
        date_style s;
        long first, last;
        if (!style_from_code(i, &s))
            continue;
        style_days(&s, &first, &last);
        if (z >= first && z <= last &&
            date_render(&s, c, weekday_from_days(z), buf, sizeof buf) >= 0 &&
            strcmp(buf, text) == 0)
            return true;
    }
    return false;
}

static data_status dates_explain(const char *source, char *target, size_t cap, data_error *err)
{
    long runs[8];
    int n_runs = digit_runs(source, runs, 8);
    long found[2];
    int n_found = 0;
    long last = days_from_civil(YEAR_MAX, 12, 31);
    for (long z = days_from_civil(YEAR_MIN, 1, 1); z <= last && n_found < 2; z++) {
        civil c = civil_from_days(z);
        if (!has_run(runs, n_runs, c.d) ||
            !(has_run(runs, n_runs, c.y) || has_run(runs, n_runs, c.y % 100)))
            continue; /* no rendering of this date can be the text */
        if (renders_as(z, source))
            found[n_found++] = z;
    }
    if (n_found == 0)
        return data_fail(err, DATA_ERR_INPUT,
                         "'%s' is not a text the dates generator writes (a real date in one of "
                         "its forms, with the right weekday, at most %d characters)",
                         source, DATES_MAX_SOURCE);
    civil a = civil_from_days(found[0]);
    if (n_found > 1) {
        civil b = civil_from_days(found[1]);
        return data_fail(err, DATA_ERR_INPUT, "'%s' is ambiguous: %04d-%02d-%02d or %04d-%02d-%02d",
                         source, a.y, a.m, a.d, b.y, b.m, b.d);
    }
    snprintf(target, cap, "%04d-%02d-%02d", a.y, a.m, a.d);
    return DATA_OK;
}

const data_spec data_dates_spec = {
    .name = "dates",
    .summary = "a date as people write it -> ISO YYYY-MM-DD (\"tue sep 27 1994\" -> 1994-09-27)",
    .sizes = "rows; default 45000 train, 2500 valid, 2500 test",
    .sources = NULL,
    .generate = dates_generate,
    .explain = dates_explain,
};
