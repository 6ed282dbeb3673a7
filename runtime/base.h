/*
 * base.h - what every part of the library shares: the environment (allocator,
 * logging, threads), checked allocation, growable arrays and diagnostics.
 *
 * Nothing here is global: an environment is copied into every model and the
 * weights and sessions made from it point at their model's copy.
 */
#ifndef HEED_BASE_H
#define HEED_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "heed.h"

#define HEED_INTERNAL __attribute__((visibility("hidden")))

typedef struct heed_env {
    heed_allocator alloc;
    heed_log_fn log;
    void *log_user;
    heed_log_level log_level;
    int threads;
} heed_env;

/* Fills `env` from user options (NULL: defaults). */
void heed_env_init(heed_env *env, const heed_options *options);

/* Allocation through the environment's allocator. All return NULL on failure,
 * including when a size computation would overflow. */
void *heed_alloc(const heed_env *env, size_t size);
void *heed_zalloc(const heed_env *env, size_t count, size_t size);
void *heed_realloc(const heed_env *env, void *ptr, size_t size);
void heed_dealloc(const heed_env *env, void *ptr);
char *heed_strdup(const heed_env *env, const char *s);
char *heed_strndup(const heed_env *env, const char *s, size_t n);

/* fopen(path, "rb") that does not wait on a FIFO no one writes to (it then
 * reads as empty); pipes with a writer read as ever. NULL with errno set. */
FILE *heed_fopen_read(const char *path);

/* 64-byte aligned allocation for tensor memory (arena, parameters). */
void *heed_alloc_aligned(const heed_env *env, size_t size);
void heed_dealloc_aligned(const heed_env *env, void *ptr);

/* Grows *items (of `elem` bytes each) so that it holds at least `need`
 * elements; *cap is updated. Returns false on allocation failure. */
bool heed_grow(const heed_env *env, void **items, size_t *cap, size_t need, size_t elem);

/* Checked size arithmetic: false when the result would overflow. */
static inline bool heed_mul_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool heed_add_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* A pool: many small allocations freed at once (YAML trees, model strings).
 * `*pool` starts as NULL. Returns 16-byte aligned memory or NULL. */
void *heed_pool_alloc(const heed_env *env, void **pool, size_t size);
char *heed_pool_strdup(const heed_env *env, void **pool, const char *s);
void heed_pool_free(const heed_env *env, void *pool);

void heed_log(const heed_env *env, heed_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* --------------------------------------------------------- diagnostics */

/* Where in which source an error is; the source text is used to show the line. */
typedef struct heed_srcpos {
    const char *file;
    const char *text; /* the whole source, NUL-terminated; may be NULL */
    int line;         /* 1-based; 0: no position */
    int column;
} heed_srcpos;

/*
 * Appends one error to `diag` (which may be NULL). The first error also fills
 * file, line, column, node and message. Never allocates.
 */
void heed_diag_add(heed_diag *diag, heed_status status, const heed_srcpos *pos,
                   const char *node, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void heed_diag_vadd(heed_diag *diag, heed_status status, const heed_srcpos *pos,
                    const char *node, const char *fmt, va_list ap);
/* An error without a position: sets status and message, returns status. */
heed_status heed_fail(heed_diag *diag, heed_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends a note line (indented) to the diag text, e.g. a list of alternatives.
 * Whole or not at all: a note that does not fit ends the text, as does one
 * whose error did not fit (no note shows under the wrong error). */
void heed_diag_note(heed_diag *diag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a closing line such as "more than 20 errors; the rest was not
 * checked": said after the errors, not one of them (`count` stays), and
 * given the room the errors and notes leave free. */
void heed_diag_close(heed_diag *diag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The closest of `n` candidates to `word` by edit distance, or NULL when none
 * is close enough to be a plausible typo. */
const char *heed_did_you_mean(const char *word, const char *const *candidates, size_t n);
/* Edit distance (Levenshtein) of two short strings, capped at 64 characters. */
int heed_edit_distance(const char *a, const char *b);

/* A bounded string builder (no allocation): appends with truncation. */
typedef struct heed_sbuf {
    char *buf;
    size_t cap;
    size_t len;
    bool truncated; /* something did not fit */
} heed_sbuf;

void heed_sbuf_init(heed_sbuf *s, char *buf, size_t cap);
void heed_sbuf_printf(heed_sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 64-bit FNV-1a, for graph hashes. */
uint64_t heed_hash_bytes(uint64_t h, const void *data, size_t n);
#define HEED_HASH_INIT 1469598103934665603ull

/*
 * Denormal floats (magnitudes below 2^-126) cost a microcode assist per
 * operation on many x86 cores, up to a hundred times a normal one. Peaked
 * softmaxes make them (probabilities like e^-100) and products spread them
 * through whole gradients: an encoder's first attention layer ran 28x slower
 * than its second. While heed computes, its threads flush denormals to zero
 * (FTZ and DAZ, as deep-learning libraries do); the caller's threads get their
 * own mode back on return. Calls nest: an inner enter finds the mode set and
 * does nothing. No-ops where the CPU has no such mode.
 */
typedef struct heed_fpmode {
    unsigned saved; /* the calling thread's mode bits before */
    bool changed;
} heed_fpmode;

/* threads: the team the computation will use (0: OpenMP's default). */
heed_fpmode heed_fpmode_enter(int threads);
void heed_fpmode_leave(heed_fpmode mode, int threads);

#endif /* HEED_BASE_H */
