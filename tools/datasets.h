/*
 * datasets.h - the generators behind `heed data`: each dataset is one file
 * (data_dates.c, data_addition.c, data_g2p.c, data_langid.c) exporting a
 * data_spec; what they share (the seeded PRNG, row storage, string
 * interning, dedup sampling, reading sources, writing TSV) is in
 * data_common.c.
 *
 * A generator fills one data_output: all rows, train first, then valid, then
 * test, each row "source\ttarget[\tmore]". Its output depends only on the
 * request (seed, sizes, source files), never on the clock or the locale.
 */
#ifndef HEED_DATASETS_H
#define HEED_DATASETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { DATA_TRAIN, DATA_VALID, DATA_TEST, DATA_N_SPLITS };

typedef enum data_status {
    DATA_OK = 0,
    DATA_ERR_NOMEM,  /* an allocation failed */
    DATA_ERR_SOURCE, /* a source file is missing or unreadable */
    DATA_ERR_SIZE,   /* the sizes asked for cannot be met */
    DATA_ERR_WRITE,  /* an output file could not be written */
    DATA_ERR_INPUT,  /* --explain: the text is not one the generator writes */
} data_status;

typedef struct data_error {
    char msg[1024];
} data_error;

/* Sets err's message and returns st, so that failures read `return data_fail(...)`. */
data_status data_fail(data_error *err, data_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* splitmix64: tiny, fast, and good enough to sample datasets; the state is
 * the caller's, so runs with the same seed give the same bytes. */
typedef struct data_rng {
    uint64_t state;
} data_rng;

/* Seeds from the user's seed and the dataset's name, so that one seed gives
 * unrelated streams to different datasets. */
void data_rng_init(data_rng *r, uint64_t seed, const char *name);
uint64_t data_rng_next(data_rng *r);
/* Uniform in [0, n), n > 0, without modulo bias. */
uint32_t data_rng_below(data_rng *r, uint32_t n);
/* Fisher-Yates over a[0..n). */
void data_shuffle(data_rng *r, size_t *a, size_t n);

/* p resized to hold need elements of size elem (capacity *cap, doubled as
 * needed), or NULL when that fails (p is then still valid). */
void *data_grow(void *p, size_t *cap, size_t need, size_t elem);

/* Strings back to back in one buffer, each NUL-terminated; row i starts at
 * text + start[i]. Used for rows and for the keys of data_map. */
typedef struct data_rows {
    char *text;
    size_t len, cap;
    size_t *start;
    size_t n, cap_rows;
} data_rows;

void data_rows_free(data_rows *r);
static inline const char *data_rows_get(const data_rows *r, size_t i)
{
    return r->text + r->start[i];
}
/* Appends a row "source\ttarget" (target may itself hold tabs). */
data_status data_rows_add(data_rows *r, const char *source, const char *target);
/* Builds a row in pieces: begin, append any number of times, end. */
data_status data_rows_begin(data_rows *r);
data_status data_rows_append(data_rows *r, const char *s, size_t n);
data_status data_rows_end(data_rows *r);

/* Interns strings: each distinct key gets the next id (0, 1, ...). */
typedef struct data_map {
    data_rows keys;
    uint64_t *hashes; /* per id: its key's hash, to probe and rehash without the keys */
    size_t cap_hashes;
    size_t *slots; /* id + 1, or 0 for an empty slot */
    size_t n_slots;
} data_map;

void data_map_free(data_map *m);
data_status data_map_intern(data_map *m, const char *key, size_t len, size_t *id, bool *added);
static inline size_t data_map_size(const data_map *m)
{
    return m->keys.n;
}
static inline const char *data_map_key(const data_map *m, size_t id)
{
    return data_rows_get(&m->keys, id);
}

typedef struct data_request {
    uint64_t seed;
    long size[DATA_N_SPLITS]; /* -1: the dataset's default */
    const char *source;       /* overrides the source file or folder; NULL: Debian's */
    FILE *log;                /* notes on the sources (e.g. a re-encoded file); NULL: none */
} data_request;

typedef struct data_output {
    data_rows rows;               /* train rows, then valid, then test */
    size_t count[DATA_N_SPLITS];  /* rows in each split */
} data_output;

void data_output_free(data_output *out);

/* The sizes to produce: the requested ones, the defaults where none was given. */
void data_sizes(const data_request *rq, const size_t defaults[DATA_N_SPLITS],
                size_t out[DATA_N_SPLITS]);

/* Makes one random example into source/target (each of capacity cap). */
typedef void (*data_make_fn)(data_rng *r, char *source, char *target, size_t cap);

/* Draws examples until it has as many distinct sources as the three splits
 * need (the sizes requested, else defaults); the first distinct ones go to
 * train, the next to valid, the rest to test, so the splits are disjoint by
 * source. */
data_status data_sample_unique(const data_request *rq, const char *name, data_make_fn make,
                               const size_t defaults[DATA_N_SPLITS], data_output *out,
                               data_error *err);

/* Reads a whole file, NUL-terminated. A failure names the path, the reason
 * and, when package is not NULL, the Debian package that provides the file. */
data_status data_read_file(const char *path, const char *package, char **text, size_t *len,
                           data_error *err);
/* The next line of [*p, end) without its "\n" or "\r\n"; false at the end. */
bool data_next_line(char **p, char *end, char **line, size_t *len);

/* Creates dir (and its parents) and writes dir/train.tsv, dir/valid.tsv and
 * dir/test.tsv, each through a temporary file renamed into place. */
data_status data_write(const char *dir, const data_output *out, data_error *err);
extern const char *const data_split_names[DATA_N_SPLITS];

typedef struct data_spec {
    const char *name;
    const char *summary; /* one line: what maps to what */
    const char *sizes;   /* what --train/--valid/--test count, and their defaults */
    const char *sources; /* the files read, with their Debian packages; NULL: none */
    data_status (*generate)(const data_request *rq, data_output *out, data_error *err);
    /* Writes the target the generator gives to source; NULL when unsupported. */
    data_status (*explain)(const char *source, char *target, size_t cap, data_error *err);
} data_spec;

extern const data_spec data_dates_spec;
extern const data_spec data_addition_spec;
extern const data_spec data_g2p_spec;
extern const data_spec data_langid_spec;

#endif /* HEED_DATASETS_H */
