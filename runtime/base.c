/* base.c - environment, checked allocation, logging, diagnostics helpers. */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omp.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define HEED_FP_FLUSH 0x8040u /* MXCSR: FTZ (bit 15) and DAZ (bit 6) */
#endif

static void *sys_alloc(void *user, size_t size)
{
    (void)user;
    return malloc(size);
}

static void *sys_realloc(void *user, void *ptr, size_t size)
{
    (void)user;
    return realloc(ptr, size);
}

static void sys_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

void heed_options_init(heed_options *options)
{
    if (!options)
        return;
    memset(options, 0, sizeof *options);
    options->log_level = HEED_LOG_INFO;
}

void heed_env_init(heed_env *env, const heed_options *options)
{
    memset(env, 0, sizeof *env);
    env->alloc = (heed_allocator){sys_alloc, sys_realloc, sys_free, NULL};
    env->log_level = HEED_LOG_INFO;
    if (!options)
        return;
    if (options->allocator && options->allocator->alloc && options->allocator->realloc &&
        options->allocator->free)
        env->alloc = *options->allocator;
    env->log = options->log;
    env->log_user = options->log_user;
    env->log_level = options->log_level;
    env->threads = options->threads > 0 ? options->threads : 0;
}

void *heed_alloc(const heed_env *env, size_t size)
{
    return env->alloc.alloc(env->alloc.user, size ? size : 1);
}

void *heed_zalloc(const heed_env *env, size_t count, size_t size)
{
    size_t total;
    if (!heed_mul_ok(count, size, &total))
        return NULL;
    void *p = heed_alloc(env, total);
    if (p)
        memset(p, 0, total ? total : 1);
    return p;
}

void *heed_realloc(const heed_env *env, void *ptr, size_t size)
{
    return env->alloc.realloc(env->alloc.user, ptr, size ? size : 1);
}

void heed_dealloc(const heed_env *env, void *ptr)
{
    if (ptr)
        env->alloc.free(env->alloc.user, ptr);
}

char *heed_strndup(const heed_env *env, const char *s, size_t n)
{
    char *p = heed_alloc(env, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *heed_strdup(const heed_env *env, const char *s)
{
    return heed_strndup(env, s, strlen(s));
}

/* Aligned blocks keep the distance to the raw pointer just before the block,
 * so any allocator (even a user's) can serve them. */
void *heed_alloc_aligned(const heed_env *env, size_t size)
{
    size_t total;
    if (!heed_add_ok(size, 64 + sizeof(void *), &total))
        return NULL;
    char *raw = heed_alloc(env, total);
    if (!raw)
        return NULL;
    uintptr_t start = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
    ((void **)start)[-1] = raw;
    return (void *)start;
}

void heed_dealloc_aligned(const heed_env *env, void *ptr)
{
    if (ptr)
        heed_dealloc(env, ((void **)ptr)[-1]);
}

bool heed_grow(const heed_env *env, void **items, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (!heed_mul_ok(ncap, 2, &ncap))
            return false;
    }
    size_t bytes;
    if (!heed_mul_ok(ncap, elem, &bytes))
        return false;
    void *p = heed_realloc(env, *items, bytes);
    if (!p)
        return false;
    *items = p;
    *cap = ncap;
    return true;
}

typedef struct pool_block {
    struct pool_block *next;
    size_t used, cap;
    max_align_t data[];
} pool_block;

void *heed_pool_alloc(const heed_env *env, void **pool, size_t size)
{
    if (size > ((size_t)1 << 40))
        return NULL;
    size = (size + 15) & ~(size_t)15;
    pool_block *b = *pool;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > 65536 ? size : 65536;
        pool_block *nb = heed_alloc(env, sizeof(pool_block) + cap);
        if (!nb)
            return NULL;
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        /* a big block goes behind the current one so the current keeps filling */
        if (b && size > 65536) {
            nb->next = b->next;
            b->next = nb;
        } else {
            *pool = nb;
        }
        b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    return p;
}

char *heed_pool_strdup(const heed_env *env, void **pool, const char *s)
{
    size_t n = strlen(s);
    char *p = heed_pool_alloc(env, pool, n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

void heed_pool_free(const heed_env *env, void *pool)
{
    pool_block *b = pool;
    while (b) {
        pool_block *next = b->next;
        heed_dealloc(env, b);
        b = next;
    }
}

static void replace_controls(char *s);
static void drop_partial_char(char *s);

FILE *heed_fopen_read(const char *path)
{
    /* open() without O_NONBLOCK waits for a FIFO's writer; reading blocks
     * again once the flag is cleared, as a file's reader expects */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    int flags = fcntl(fd, F_GETFL);
    FILE *f = flags >= 0 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        int why = errno;
        close(fd);
        errno = why;
    }
    return f;
}

void heed_log(const heed_env *env, heed_log_level level, const char *fmt, ...)
{
    if (!env || !env->log || level > env->log_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* as in diagnostics: a message may quote a file (a weights file's hash) */
    if (strlen(msg) == sizeof msg - 1)
        drop_partial_char(msg);
    replace_controls(msg);
    env->log(env->log_user, level, msg);
}

/* ------------------------------------------------------------ sbuf */

void heed_sbuf_init(heed_sbuf *s, char *buf, size_t cap)
{
    s->buf = buf;
    s->cap = cap;
    s->len = 0;
    s->truncated = false;
    if (cap)
        buf[0] = '\0';
}

void heed_sbuf_printf(heed_sbuf *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (s->len + 1 >= s->cap) { /* full: only note whether this had anything to add */
        s->truncated |= vsnprintf(NULL, 0, fmt, ap) > 0;
        va_end(ap);
        return;
    }
    int n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    s->len += (size_t)n;
    if (s->len >= s->cap) {
        s->len = s->cap - 1;
        s->truncated = true;
    }
}

/* ------------------------------------------------------------ diagnostics */

const char *heed_status_string(heed_status status)
{
    switch (status) {
    case HEED_OK: return "ok";
    case HEED_ERR_ARGUMENT: return "bad argument";
    case HEED_ERR_NOMEM: return "out of memory";
    case HEED_ERR_IO: return "input/output error";
    case HEED_ERR_SYNTAX: return "YAML syntax error";
    case HEED_ERR_MODEL: return "model error";
    case HEED_ERR_SHAPE: return "shape error";
    case HEED_ERR_WEIGHTS: return "weights error";
    case HEED_ERR_DATA: return "data error";
    case HEED_ERR_NUMERICS: return "NaN or infinity";
    case HEED_ERR_LIMIT: return "input exceeds a limit";
    case HEED_ERR_STATE: return "call does not fit the object's state";
    case HEED_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

void heed_diag_clear(heed_diag *diag)
{
    if (!diag)
        return;
    diag->status = HEED_OK;
    diag->count = 0;
    diag->line = diag->column = 0;
    diag->file[0] = diag->node[0] = diag->message[0] = diag->text[0] = '\0';
}

/* Removes a UTF-8 character cut short at the end of s (by a truncation). */
static void drop_partial_char(char *s)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i == 0)
        return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (n - (i - 1) < want)
        s[i - 1] = '\0';
}

/* Copies src into dst[cap], cut if need be before a UTF-8 character rather
 * than inside one. */
static void copy_str(char *dst, size_t cap, const char *src)
{
    if (!src)
        src = "";
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Whether byte c would act on a terminal rather than print (escape sequences
 * in a hostile file must not reach the user's terminal through a message). */
static bool is_control(unsigned char c)
{
    return (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f;
}

static void replace_controls(char *s)
{
    for (; *s; s++)
        if (is_control((unsigned char)*s))
            *s = '?';
}

/* Appends the source line `line` of `text` and a caret under `column`. */
static void show_source(heed_sbuf *s, const char *text, int line, int column)
{
    if (!text || line <= 0)
        return;
    const char *p = text;
    for (int l = 1; l < line && *p; l++) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            return;
        p = nl + 1;
    }
    size_t n = strcspn(p, "\r\n");
    if (n > 200)
        n = 200;
    char shown[201];
    memcpy(shown, p, n);
    shown[n] = '\0';
    replace_controls(shown);
    heed_sbuf_printf(s, "%5d | %s\n      | ", line, shown);
    /* tabs in the line keep the caret aligned */
    for (int c = 1; c < column && (size_t)(c - 1) < n; c++)
        heed_sbuf_printf(s, "%c", p[c - 1] == '\t' ? '\t' : ' ');
    heed_sbuf_printf(s, "^\n");
}

/* The line that ends a text too full for the next entry or note: after it
 * come only closing lines (heed_diag_close), so no note is ever shown
 * under the wrong error. */
#define DIAG_FULL_LINE "... (the text is full: later errors and notes are not shown)\n"
/* Kept free by entries with a position and by notes: the full line and the
 * longest closing line ("error: " and a message). */
#define DIAG_RESERVE (sizeof DIAG_FULL_LINE + sizeof "error: \n" + 1024)

/* Whether DIAG_FULL_LINE closed the text (closing lines may follow it). */
static bool diag_full(const heed_diag *diag)
{
    for (const char *p = diag->text; (p = strstr(p, DIAG_FULL_LINE)); p++)
        if (p == diag->text || p[-1] == '\n')
            return true;
    return false;
}

/* Appends `len` bytes of whole lines to the text when they fit with
 * `reserve` bytes to spare; otherwise the text is full from here on. */
static void diag_append(heed_diag *diag, const char *lines, size_t len, size_t reserve)
{
    if (diag_full(diag))
        return;
    size_t used = strlen(diag->text);
    size_t room = sizeof diag->text - 1 - used;
    if (len + reserve <= room)
        memcpy(diag->text + used, lines, len + 1);
    else if (sizeof DIAG_FULL_LINE - 1 <= room)
        memcpy(diag->text + used, DIAG_FULL_LINE, sizeof DIAG_FULL_LINE);
}

/* A message as one line of whole characters: a line break in it (a value
 * quoted from a file) is written \n, or the text after it would read as a
 * line of its own; a terminal escape becomes '?'. */
static void vformat_line(char *msg, size_t cap, const char *fmt, va_list ap)
{
    char raw[1024];
    vsnprintf(raw, sizeof raw, fmt, ap);
    size_t n = 0;
    const char *p = raw;
    for (; *p && n + 2 < cap; p++) {
        if (*p == '\n')
            msg[n++] = '\\';
        msg[n++] = *p == '\n' ? 'n' : *p;
    }
    msg[n] = '\0';
    if (*p || strlen(raw) == sizeof raw - 1)
        drop_partial_char(msg);
    replace_controls(msg);
}

void heed_diag_vadd(heed_diag *diag, heed_status status, const heed_srcpos *pos,
                    const char *node, const char *fmt, va_list ap)
{
    if (!diag)
        return;
    char msg[1024], file[512];
    vformat_line(msg, sizeof msg, fmt, ap);
    /* a file or display name is the caller's: neither a terminal escape nor
     * a line break in it may forge a line of the text */
    copy_str(file, sizeof file, pos ? pos->file : NULL);
    for (char *c = file; *c; c++)
        if (is_control((unsigned char)*c) || *c == '\n' || *c == '\t')
            *c = '?';
    if (diag->count == 0) {
        diag->status = status;
        diag->line = pos ? pos->line : 0;
        diag->column = pos ? pos->column : 0;
        copy_str(diag->file, sizeof diag->file, file);
        copy_str(diag->node, sizeof diag->node, node);
        copy_str(diag->message, sizeof diag->message, msg);
    }
    diag->count++; /* shown or not: the text may be full */
    /* Whole entries only: a message cut in the middle of its source line helps
     * nobody. Entries with a position leave the last part of the text free,
     * so an error without one (such as "out of memory") still fits. */
    char entry[2048];
    heed_sbuf e = {entry, sizeof entry, 0, false};
    if (pos && pos->file && pos->line > 0)
        heed_sbuf_printf(&e, "%s:%d:%d: error: %s\n", file, pos->line, pos->column, msg);
    else if (pos && pos->file)
        heed_sbuf_printf(&e, "%s: error: %s\n", file, msg);
    else
        heed_sbuf_printf(&e, "error: %s\n", msg);
    if (pos)
        show_source(&e, pos->text, pos->line, pos->column);
    diag_append(diag, entry, e.len, pos ? DIAG_RESERVE : sizeof DIAG_FULL_LINE);
}

void heed_diag_add(heed_diag *diag, heed_status status, const heed_srcpos *pos,
                   const char *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    heed_diag_vadd(diag, status, pos, node, fmt, ap);
    va_end(ap);
}

heed_status heed_fail(heed_diag *diag, heed_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    heed_diag_vadd(diag, status, NULL, NULL, fmt, ap);
    va_end(ap);
    return status;
}

/* One line of a diagnostic's text: prefix, the formatted message, newline;
 * its length. */
static size_t diag_line(char *line, size_t cap, const char *prefix, const char *fmt, va_list ap)
{
    char msg[1024];
    vformat_line(msg, sizeof msg, fmt, ap);
    int n = snprintf(line, cap, "%s%s\n", prefix, msg);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

void heed_diag_note(heed_diag *diag, const char *fmt, ...)
{
    if (!diag)
        return;
    char line[1100];
    va_list ap;
    va_start(ap, fmt);
    size_t n = diag_line(line, sizeof line, "      = note: ", fmt, ap);
    va_end(ap);
    diag_append(diag, line, n, DIAG_RESERVE);
}

void heed_diag_close(heed_diag *diag, const char *fmt, ...)
{
    if (!diag)
        return;
    char line[1100];
    va_list ap;
    va_start(ap, fmt);
    size_t n = diag_line(line, sizeof line, "error: ", fmt, ap);
    va_end(ap);
    size_t used = strlen(diag->text);
    /* the room entries and notes leave is for this line */
    if (n < sizeof diag->text - used)
        memcpy(diag->text + used, line, n + 1);
}

static bool same_letter(int a, int b)
{
    /* case differences cost nothing: "affine" is Affine */
    return a == b || (a | 32) == (b | 32);
}

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and swaps of two neighbouring letters ("tahn" is one edit from "tanh"),
 * over the first 64 bytes of each word. */
int heed_edit_distance(const char *a, const char *b)
{
    /* names are at most 255 bytes (HEED_MAX_VALUE_NAME): all of them count */
    size_t la = strlen(a), lb = strlen(b);
    if (la > 256)
        la = 256;
    if (lb > 256)
        lb = 256;
    int rows[3][257]; /* rows i-2, i-1 and i, by i % 3 */
    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int ca = a[i - 1], cb = b[j - 1];
            int best = prev[j - 1] + (same_letter(ca, cb) ? 0 : 1);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && same_letter(ca, b[j - 2]) && same_letter(a[i - 2], cb) &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
    }
    return rows[la % 3][lb];
}

const char *heed_did_you_mean(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    int best_d = 1 << 30;
    size_t len = strlen(word);
    /* one-letter names differ by one edit from every other one-letter name */
    int limit = len <= 2 ? 0 : (len <= 4 ? 1 : (len <= 7 ? 2 : 3));
    for (size_t i = 0; i < n; i++) {
        int d = heed_edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best && best_d <= limit ? best : NULL;
}

uint64_t heed_hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* ------------------------------------------------------------ float mode */

#ifdef HEED_FP_FLUSH
/* Sets the flush bits of every thread of a team of `threads` to `bits`: the
 * team's threads are the pool OpenMP reuses for heed's loops and OpenBLAS. */
static void set_flush_bits(unsigned bits, int threads)
{
#pragma omp parallel num_threads(threads > 0 ? threads : omp_get_max_threads())
    _mm_setcsr((_mm_getcsr() & ~HEED_FP_FLUSH) | bits);
}

heed_fpmode heed_fpmode_enter(int threads)
{
    heed_fpmode m = {_mm_getcsr() & HEED_FP_FLUSH, false};
    if (m.saved == HEED_FP_FLUSH)
        return m;
    set_flush_bits(HEED_FP_FLUSH, threads);
    m.changed = true;
    return m;
}

void heed_fpmode_leave(heed_fpmode mode, int threads)
{
    if (mode.changed)
        set_flush_bits(mode.saved, threads);
}
#else
heed_fpmode heed_fpmode_enter(int threads)
{
    (void)threads;
    return (heed_fpmode){0, false};
}

void heed_fpmode_leave(heed_fpmode mode, int threads)
{
    (void)mode;
    (void)threads;
}
#endif
