/* cli.c - shared helpers of the heed subcommands (see cli.h). */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_opts_init(cli_opts *o, int argc, char **argv, const char *cmd)
{
    memset(o, 0, sizeof *o);
    o->argc = argc;
    o->argv = argv;
    o->i = 1;
    o->positional = argv + 1;
    o->cmd = cmd;
    const cli_cmd *c = cli_command(cmd);
    o->usage = c ? c->usage : cmd;
}

const char *cli_next(cli_opts *o)
{
    if (o->pending) {
        /* --flag=value: the flag's handler took no value */
        cli_usage_error(o, "option %s takes no value, not '%s'", o->name, o->pending);
        o->pending = NULL;
        return NULL;
    }
    while (o->i < o->argc) {
        char *a = o->argv[o->i++];
        if (strcmp(a, "--") == 0) {
            while (o->i < o->argc)
                o->positional[o->n_positional++] = o->argv[o->i++];
            return NULL;
        }
        if (a[0] == '-' && a[1] != '\0') {
            const char *eq = strchr(a, '=');
            if (eq && a[1] == '-') {
                size_t n = (size_t)(eq - a) < sizeof o->name - 1 ? (size_t)(eq - a)
                                                                 : sizeof o->name - 1;
                memcpy(o->name, a, n);
                o->name[n] = '\0';
                o->pending = eq + 1;
                return o->opt = o->name;
            }
            return o->opt = a;
        }
        /* argv[1 + n_positional] was read already, so it may be overwritten */
        o->positional[o->n_positional++] = a;
    }
    return NULL;
}

const char *cli_value(cli_opts *o)
{
    if (o->pending) {
        const char *v = o->pending;
        o->pending = NULL;
        return v;
    }
    if (o->i < o->argc)
        return o->argv[o->i++];
    cli_usage_error(o, "option %s needs a value", o->argv[o->i - 1]);
    return NULL;
}

int cli_int(cli_opts *o, long lo, long hi)
{
    return (int)cli_long(o, lo < INT_MIN ? INT_MIN : lo, hi > INT_MAX ? INT_MAX : hi);
}

long cli_long(cli_opts *o, long lo, long hi)
{
    const char *v = cli_value(o);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    /* strtol takes "" as 0 and skips leading spaces */
    if (errno || end == v || *end || isspace((unsigned char)v[0]) || x < lo || x > hi) {
        cli_usage_error(o, "%s takes an integer from %ld to %ld, not '%s'",
                        o->opt ? o->opt : "the option", lo, hi, v);
        return 0;
    }
    return x;
}

double cli_double(cli_opts *o, double lo, double hi)
{
    const char *opt = o->opt ? o->opt : "the option";
    const char *v = cli_value(o);
    if (!v)
        return 0;
    char *end;
    double x = strtod(v, &end);
    /* strtod reads "nan" and "inf" too; the range's test refuses them */
    if (end == v || *end || isspace((unsigned char)v[0]) || !(x >= lo && x <= hi)) {
        cli_usage_error(o, "%s takes a number from %g to %g, not '%s'", opt, lo, hi, v);
        return 0;
    }
    return x;
}

bool cli_dim_option(cli_opts *o, const char *opt)
{
    if (strcmp(opt, "--dim") != 0)
        return false;
    const char *v = cli_value(o);
    if (!v)
        return true;
    const char *eq = strchr(v, '=');
    char *end = NULL;
    errno = 0;
    long long x = eq ? strtoll(eq + 1, &end, 10) : 0;
    /* the same bound as heed_dim values (HEED_MAX_DIM_VALUE, 2^31) */
    if (!eq || eq == v || (size_t)(eq - v) >= sizeof o->dim_names[0] || !end ||
        end == eq + 1 || *end || isspace((unsigned char)eq[1]) || errno || x <= 0 ||
        x > (1LL << 31)) {
        cli_usage_error(o, "--dim takes NAME=N with N from 1 to 2147483648, not '%s'", v);
        return true;
    }
    if (o->n_dims >= CLI_MAX_DIMS) {
        cli_usage_error(o, "too many --dim options");
        return true;
    }
    memcpy(o->dim_names[o->n_dims], v, (size_t)(eq - v));
    o->dim_names[o->n_dims][eq - v] = '\0';
    o->dims[o->n_dims] = (heed_dim){o->dim_names[o->n_dims], x};
    o->n_dims++;
    return true;
}

int cli_usage_error(const cli_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "heed %s: error: ", o->cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nusage: %s\n", o->usage);
    va_end(ap);
    ((cli_opts *)o)->failed = true;
    return CLI_USAGE;
}

/* Levenshtein distance of two short names (longer ones are cut at 63). */
static int edit_distance(const char *a, const char *b)
{
    int prev[64], cur[64];
    size_t la = strlen(a) < 63 ? strlen(a) : 63, lb = strlen(b) < 63 ? strlen(b) : 63;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof prev);
    }
    return prev[lb];
}

const char *cli_closest(const char *word, const char *const *names, int n)
{
    const char *best = NULL;
    int best_d = 3; /* at most two edits away, or a prefix */
    for (int i = 0; i < n; i++) {
        /* the same name in another case (h for H) beats any other edit */
        if (!strcasecmp(names[i], word))
            return names[i];
        size_t lw = strlen(word);
        int d = lw >= 2 && strncmp(names[i], word, lw) == 0 ? 1 : edit_distance(word, names[i]);
        if (d < best_d)
            best_d = d, best = names[i];
    }
    return best;
}

int cli_unknown_option(const cli_opts *o, const char *opt, const char *const *known, int n)
{
    const char *best = cli_closest(opt, known, n);
    if (best)
        return cli_usage_error(o, "unknown option '%s'; did you mean '%s'?", opt, best);
    return cli_usage_error(o, "unknown option '%s'", opt);
}

int cli_decoding_only(const char *cmd, const heed_model *m, const char *opt)
{
    heed_task task = heed_model_task(m);
    if (!opt || task == HEED_TASK_SEQ2SEQ)
        return CLI_OK;
    fprintf(stderr, "heed %s: error: %s is for seq2seq models; '%s' %s\n", cmd, opt,
            heed_model_name(m),
            task == HEED_TASK_CLASSIFY ? "is a classifier" : "does not decode");
    return CLI_USAGE;
}

bool cli_close_written(FILE *f)
{
    bool ok = !ferror(f);
    return fclose(f) == 0 && ok;
}

size_t cli_drop_bom(char *line, size_t len)
{
    if (len < 3 || memcmp(line, "\xef\xbb\xbf", 3))
        return len;
    memmove(line, line + 3, len - 2); /* the terminating NUL too */
    return len - 3;
}

int cli_report(const heed_diag *d)
{
    if (d->text[0])
        fputs(d->text, stderr);
    else
        fprintf(stderr, "error: %s\n", d->message[0] ? d->message : heed_status_string(d->status));
    /* after "more than 20 errors; the rest ... was not checked" a count
     * of the errors shown would contradict it */
    if (d->count > 1 && !strstr(d->text, "was not checked"))
        fprintf(stderr, "%d errors\n", d->count);
    return d->status == HEED_ERR_ARGUMENT ? CLI_USAGE : CLI_USER_ERROR;
}

heed_status cli_fail(heed_diag *d, heed_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    heed_diag_clear(d);
    d->status = status;
    d->count = 1;
    vsnprintf(d->message, sizeof d->message, fmt, ap);
    va_end(ap);
    snprintf(d->text, sizeof d->text, "error: %s\n", d->message);
    return status;
}

void cli_log(void *user, heed_log_level level, const char *msg)
{
    (void)user;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "heed: %s: %s\n", names[level], msg);
}

void cli_options(heed_options *o, int threads)
{
    heed_options_init(o);
    o->log = cli_log;
    o->log_level = HEED_LOG_WARN;
    o->threads = threads;
}

heed_status cli_load_model(const char *path, int threads, heed_model **out)
{
    heed_options opt;
    cli_options(&opt, threads);
    heed_diag d;
    heed_status st = heed_model_load_file(path, &opt, out, &d);
    if (st != HEED_OK)
        cli_report(&d);
    return st;
}

int cli_load_model_dims(const char *cmd, const char *path, int threads, const heed_dim *dims,
                        int n_dims, heed_model **out)
{
    if (cli_load_model(path, threads, out) != HEED_OK)
        return CLI_USER_ERROR;
    /* a --dim the model has not is a mistake on the command line, not in
     * the file: a usage error with the model's dims to choose from */
    size_t n = heed_model_dim_count(*out);
    const char **names = malloc(sizeof *names * (n + 1));
    if (!names) {
        fprintf(stderr, "heed %s: error: out of memory\n", cmd);
        heed_model_free(*out);
        *out = NULL;
        return CLI_USER_ERROR;
    }
    int k = 0;
    for (size_t i = 0; i < n; i++)
        names[k++] = heed_model_dim_name(*out, i);
    int rc = CLI_OK;
    for (int i = 0; i < n_dims && rc == CLI_OK; i++) {
        bool known = false;
        for (int j = 0; j < k && !known; j++)
            known = !strcmp(dims[i].name, names[j]);
        if (known)
            continue;
        const char *best = cli_closest(dims[i].name, names, k);
        const cli_cmd *c = cli_command(cmd);
        fprintf(stderr, "heed %s: error: --dim %s: model '%s' has no dim '%s'%s%s%s\nusage: %s\n",
                cmd, dims[i].name, heed_model_name(*out), dims[i].name,
                best ? "; did you mean '" : "", best ? best : "", best ? "'?" : "",
                c ? c->usage : cmd);
        rc = CLI_USAGE;
    }
    free(names);
    if (rc != CLI_OK) {
        heed_model_free(*out);
        *out = NULL;
    }
    return rc;
}

const char *cli_bytes(size_t n, char *buf, size_t cap)
{
    if (n >= (size_t)1 << 30)
        snprintf(buf, cap, "%.2f GiB", (double)n / (1 << 30));
    else if (n >= (size_t)1 << 20)
        snprintf(buf, cap, "%.2f MiB", (double)n / (1 << 20));
    else if (n >= 1024)
        snprintf(buf, cap, "%.1f KiB", (double)n / 1024);
    else
        snprintf(buf, cap, "%zu B", n);
    return buf;
}

bool cli_isatty(FILE *f)
{
    return isatty(fileno(f)) != 0;
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

char *cli_vocab_text(const heed_vocab *v, const char *field, const int32_t *ids, size_t n)
{
    /* words can be long: grow until the whole text fits */
    for (size_t cap = 4096;; cap *= 2) {
        char *text = malloc(cap);
        if (!text)
            return NULL;
        text[0] = '\0';
        heed_status st = heed_vocab_decode(v, field, ids, n, text, cap);
        if (st != HEED_ERR_LIMIT)
            return text; /* a bad field or id leaves "" as before */
        free(text);
        if (cap > SIZE_MAX / 4)
            return NULL;
    }
}

/* Whether two paths, neither of which exists yet, would name one file: the
 * same name in the same directory (by device and inode, so ./x and x agree),
 * or, when a directory does not exist either, the same string. */
static bool same_new_file(const char *p, const char *q)
{
    const char *np = strrchr(p, '/'), *nq = strrchr(q, '/');
    const char *bp = np ? np + 1 : p, *bq = nq ? nq + 1 : q;
    if (strcmp(bp, bq))
        return false;
    char dp[4096], dq[4096];
    snprintf(dp, sizeof dp, "%.*s", np ? (int)(np - p) + 1 : 1, np ? p : ".");
    snprintf(dq, sizeof dq, "%.*s", nq ? (int)(nq - q) + 1 : 1, nq ? q : ".");
    struct stat a, b;
    if (stat(dp, &a) == 0 && stat(dq, &b) == 0)
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    return !strcmp(p, q);
}

const char *cli_same_file(const char *path, const char *const *others, int n)
{
    struct stat a, b;
    bool exists = path && stat(path, &a) == 0;
    for (int i = 0; path && i < n; i++) {
        if (!others[i])
            continue;
        if (exists ? stat(others[i], &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino
                   : stat(others[i], &b) != 0 && same_new_file(path, others[i]))
            return others[i];
    }
    return NULL;
}

bool cli_data_file(const char *cmd, const char *path)
{
    struct stat st;
    if (!path || stat(path, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
        return true; /* missing or a directory: the library's error names it */
    fprintf(stderr, "heed %s: error: %s is not a regular file: a data file is read more "
                    "than once (its vocabulary, then its rows), so a pipe, FIFO or device "
                    "cannot be one\n",
            cmd, path);
    return false;
}

bool cli_writable(const char *path, bool beside, char *buf, size_t cap)
{
    if (!path[0]) {
        snprintf(buf, cap, "an empty path names no file");
        return false;
    }
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        snprintf(buf, cap, "%s is a directory", path);
        return false;
    }
    if (exists && !beside) {
        if (access(path, W_OK) == 0)
            return true;
        snprintf(buf, cap, "cannot write %s: %s", path, strerror(errno));
        return false;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(buf, cap, "cannot write in %s: %s", dir, strerror(errno));
        return false;
    }
    return true;
}
