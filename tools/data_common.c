/*
 * data_common.c - what the dataset generators share (see datasets.h): the
 * seeded PRNG, row storage, string interning, dedup sampling, reading the
 * source files and writing the splits as TSV.
 */
#include "datasets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const data_split_names[DATA_N_SPLITS] = {"train", "valid", "test"};

data_status data_fail(data_error *err, data_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return st;
}

/* ---- PRNG ---- */

/* splitmix64's finaliser: a bijection that scatters nearby inputs */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t data_rng_next(data_rng *r)
{
    return mix64(r->state += 0x9e3779b97f4a7c15ULL);
}

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

void data_rng_init(data_rng *r, uint64_t seed, const char *name)
{
    /* mixed, so that the streams of seeds 7 and 8 are not shifted copies of
     * one another (splitmix64's state only ever steps by a constant) */
    r->state = mix64(seed ^ fnv1a(name, strlen(name)));
}

uint32_t data_rng_below(data_rng *r, uint32_t n)
{
    /* Lemire's multiply-shift with rejection of the biased low range */
    uint64_t m = (uint64_t)(uint32_t)(data_rng_next(r) >> 32) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)-n % n;
        while (low < threshold) {
            m = (uint64_t)(uint32_t)(data_rng_next(r) >> 32) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

void data_shuffle(data_rng *r, size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = data_rng_below(r, (uint32_t)i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* ---- rows ---- */

void *data_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * elem);
    if (q)
        *cap = n;
    return q;
}

void data_rows_free(data_rows *r)
{
    free(r->text);
    free(r->start);
    memset(r, 0, sizeof *r);
}

data_status data_rows_begin(data_rows *r)
{
    size_t *start = data_grow(r->start, &r->cap_rows, r->n + 1, sizeof *r->start);
    if (!start)
        return DATA_ERR_NOMEM;
    r->start = start;
    r->start[r->n] = r->len;
    return DATA_OK;
}

data_status data_rows_append(data_rows *r, const char *s, size_t n)
{
    char *text = data_grow(r->text, &r->cap, r->len + n + 1, 1);
    if (!text)
        return DATA_ERR_NOMEM;
    r->text = text;
    memcpy(r->text + r->len, s, n);
    r->len += n;
    return DATA_OK;
}

data_status data_rows_end(data_rows *r)
{
    if (data_rows_append(r, "", 1) != DATA_OK)
        return DATA_ERR_NOMEM;
    r->n++;
    return DATA_OK;
}

data_status data_rows_add(data_rows *r, const char *source, const char *target)
{
    if (data_rows_begin(r) || data_rows_append(r, source, strlen(source)) ||
        data_rows_append(r, "\t", 1) || data_rows_append(r, target, strlen(target)))
        return DATA_ERR_NOMEM;
    return data_rows_end(r);
}

void data_output_free(data_output *out)
{
    data_rows_free(&out->rows);
    memset(out, 0, sizeof *out);
}

/* ---- interning ---- */

void data_map_free(data_map *m)
{
    data_rows_free(&m->keys);
    free(m->hashes);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* The slot holding key (of hash h), or the empty slot where it belongs. */
static size_t map_find(const data_map *m, const char *key, size_t len, uint64_t h)
{
    size_t mask = m->n_slots - 1, i = (size_t)h & mask;
    while (m->slots[i]) {
        size_t id = m->slots[i] - 1;
        const char *k = data_map_key(m, id);
        if (m->hashes[id] == h && strncmp(k, key, len) == 0 && k[len] == '\0')
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

/* Doubles the table; keeps the load under one half so probes stay short. */
static data_status map_rehash(data_map *m)
{
    size_t n = m->n_slots ? m->n_slots * 2 : 1024;
    size_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return DATA_ERR_NOMEM;
    for (size_t id = 0; id < m->keys.n; id++) {
        size_t i = (size_t)m->hashes[id] & (n - 1);
        while (slots[i])
            i = (i + 1) & (n - 1);
        slots[i] = id + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->n_slots = n;
    return DATA_OK;
}

data_status data_map_intern(data_map *m, const char *key, size_t len, size_t *id, bool *added)
{
    if (2 * (m->keys.n + 1) > m->n_slots && map_rehash(m) != DATA_OK)
        return DATA_ERR_NOMEM;
    uint64_t h = mix64(fnv1a(key, len)); /* FNV alone leaves the low bits weak */
    size_t i = map_find(m, key, len, h);
    *added = m->slots[i] == 0;
    if (*added) {
        uint64_t *hashes = data_grow(m->hashes, &m->cap_hashes, m->keys.n + 1, sizeof *hashes);
        if (!hashes)
            return DATA_ERR_NOMEM;
        m->hashes = hashes;
        if (data_rows_begin(&m->keys) || data_rows_append(&m->keys, key, len) ||
            data_rows_end(&m->keys))
            return DATA_ERR_NOMEM;
        m->hashes[m->keys.n - 1] = h;
        m->slots[i] = m->keys.n;
    }
    *id = m->slots[i] - 1;
    return DATA_OK;
}

/* ---- sizes and sampling ---- */

void data_sizes(const data_request *rq, const size_t defaults[DATA_N_SPLITS],
                size_t out[DATA_N_SPLITS])
{
    for (int s = 0; s < DATA_N_SPLITS; s++)
        out[s] = rq->size[s] >= 0 ? (size_t)rq->size[s] : defaults[s];
}

data_status data_sample_unique(const data_request *rq, const char *name, data_make_fn make,
                               const size_t defaults[DATA_N_SPLITS], data_output *out,
                               data_error *err)
{
    size_t sizes[DATA_N_SPLITS];
    data_sizes(rq, defaults, sizes);
    size_t total = sizes[0] + sizes[1] + sizes[2];
    /* a generous budget of draws: running out means the space is too small */
    size_t budget = 20 * total + 1000, draws = 0;
    data_rng rng;
    data_rng_init(&rng, rq->seed, name);
    data_map seen = {0};
    data_status st = DATA_OK;
    char source[256], target[256];
    while (out->rows.n < total && st == DATA_OK) {
        if (draws++ == budget) {
            st = data_fail(err, DATA_ERR_SIZE,
                           "%s: only %zu distinct examples in %zu draws; ask for fewer than %zu",
                           name, out->rows.n, budget, total);
            break;
        }
        make(&rng, source, target, sizeof source);
        size_t id;
        bool added;
        if ((st = data_map_intern(&seen, source, strlen(source), &id, &added)) == DATA_OK &&
            added)
            st = data_rows_add(&out->rows, source, target);
    }
    data_map_free(&seen);
    if (st == DATA_ERR_NOMEM)
        return data_fail(err, st, "%s: out of memory", name);
    memcpy(out->count, sizes, sizeof out->count);
    return st;
}

/* ---- reading sources ---- */

data_status data_read_file(const char *path, const char *package, char **text, size_t *len,
                           data_error *err)
{
    /* as the library reads its files: a FIFO no one writes to reads as
     * empty rather than waiting for ever */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    int flags = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
    FILE *f = flags >= 0 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 ? fdopen(fd, "rb") : NULL;
    if (!f && fd >= 0) {
        int why = errno;
        close(fd);
        errno = why;
    }
    if (!f)
        return data_fail(err, DATA_ERR_SOURCE, "cannot read %s: %s%s%s%s", path, strerror(errno),
                         package ? " (Debian's package " : "", package ? package : "",
                         package ? " provides it)" : "");
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    data_status st = DATA_OK;
    do {
        char *more = data_grow(buf, &cap, n + 65536 + 1, 1);
        if (!more) {
            st = data_fail(err, DATA_ERR_NOMEM, "out of memory reading %s", path);
            break;
        }
        buf = more;
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    if (st == DATA_OK && ferror(f))
        st = data_fail(err, DATA_ERR_SOURCE, "cannot read %s: %s", path, strerror(errno));
    fclose(f);
    if (st != DATA_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return DATA_OK;
}

bool data_next_line(char **p, char *end, char **line, size_t *len)
{
    if (*p >= end)
        return false;
    char *nl = memchr(*p, '\n', (size_t)(end - *p));
    char *stop = nl ? nl : end;
    *line = *p;
    *len = (size_t)(stop - *p);
    if (*len && (*line)[*len - 1] == '\r')
        (*len)--;
    *p = nl ? nl + 1 : end;
    return true;
}

/* ---- writing ---- */

/* mkdir -p: creates each missing component of dir. */
static data_status make_dirs(const char *dir, data_error *err)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path)
        return data_fail(err, DATA_ERR_WRITE, "bad output folder '%s'", dir);
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return data_fail(err, DATA_ERR_WRITE, "cannot create %s: %s", path, strerror(errno));
        path[i] = c;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return data_fail(err, DATA_ERR_WRITE, "%s is not a folder", dir);
    return DATA_OK;
}

static data_status write_split(const char *dir, const char *name, const data_rows *rows,
                               size_t first, size_t count, data_error *err)
{
    char path[4096], tmp[4200];
    if ((size_t)snprintf(path, sizeof path, "%s/%s.tsv", dir, name) >= sizeof path)
        return data_fail(err, DATA_ERR_WRITE, "output path too long: %s", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return data_fail(err, DATA_ERR_WRITE, "cannot write %s: %s", tmp, strerror(errno));
    for (size_t i = first; i < first + count; i++) {
        fputs(data_rows_get(rows, i), f);
        fputc('\n', f);
    }
    /* fclose flushes: a full disk shows up there or in ferror */
    bool failed = ferror(f) != 0;
    failed |= fclose(f) != 0;
    if (failed || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return data_fail(err, DATA_ERR_WRITE, "cannot write %s: %s", path, strerror(e));
    }
    return DATA_OK;
}

data_status data_write(const char *dir, const data_output *out, data_error *err)
{
    data_status st = make_dirs(dir, err);
    size_t first = 0;
    for (int s = 0; s < DATA_N_SPLITS && st == DATA_OK; s++) {
        st = write_split(dir, data_split_names[s], &out->rows, first, out->count[s], err);
        first += out->count[s];
    }
    return st;
}
