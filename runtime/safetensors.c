/*
 * safetensors.c - the safetensors format: an 8-byte little-endian header
 * length, a JSON header (parsed with jansson) naming each tensor's dtype, shape
 * and data offsets, then the raw data. Files come from other people: every
 * length and offset is checked before it is used, and overlapping tensors are
 * refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../ops/kernels/kernels.h"
#include "runtime.h"

#define ST_MAX_FILE ((size_t)8 << 30)
#define ST_MAX_HEADER ((size_t)100 << 20)
#define ST_MAX_TENSORS 100000

static heed_status st_fail(heed_diag *diag, heed_status st, const char *path, const char *fmt,
                           ...) __attribute__((format(printf, 4, 5)));

static heed_status st_fail(heed_diag *diag, heed_status st, const char *path, const char *fmt,
                           ...)
{
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    heed_srcpos pos = {path, NULL, 0, 0};
    heed_diag_add(diag, st, &pos, NULL, "%s", msg);
    return st;
}

static size_t dtype_size(const char *dt)
{
    if (!strcmp(dt, "F32") || !strcmp(dt, "I32") || !strcmp(dt, "U32"))
        return 4;
    if (!strcmp(dt, "F16") || !strcmp(dt, "BF16") || !strcmp(dt, "I16") || !strcmp(dt, "U16"))
        return 2;
    if (!strcmp(dt, "F64") || !strcmp(dt, "I64") || !strcmp(dt, "U64"))
        return 8;
    if (!strcmp(dt, "I8") || !strcmp(dt, "U8") || !strcmp(dt, "BOOL") || !strcmp(dt, "F8_E4M3") ||
        !strcmp(dt, "F8_E5M2"))
        return 1;
    return 0;
}

static heed_status read_all(const heed_env *env, const char *path, unsigned char **out,
                            size_t *size, heed_diag *diag)
{
    /* without O_NONBLOCK, opening a FIFO no one writes to would wait for
     * ever; it is refused below like any file that is not a regular one */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return st_fail(diag, HEED_ERR_IO, path, "cannot open the file: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return st_fail(diag, HEED_ERR_IO, path, "not a regular file");
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return st_fail(diag, HEED_ERR_IO, path, "cannot open the file: %s", strerror(errno));
    }
    if ((size_t)sb.st_size > ST_MAX_FILE) {
        fclose(f);
        return st_fail(diag, HEED_ERR_LIMIT, path, "file is larger than %zu bytes", ST_MAX_FILE);
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *buf = heed_alloc(env, n ? n : 1);
    if (!buf) {
        fclose(f);
        return st_fail(diag, HEED_ERR_NOMEM, path, "out of memory reading %zu bytes", n);
    }
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    if (got != n) {
        heed_dealloc(env, buf);
        return st_fail(diag, HEED_ERR_IO, path, "short read (%zu of %zu bytes)", got, n);
    }
    *out = buf;
    *size = n;
    return HEED_OK;
}

static heed_status parse_tensor(st_file *f, const char *name, json_t *obj, st_tensor *t,
                                heed_diag *diag)
{
    const char *path = f->path;
    size_t data_size = f->size - f->data_start;
    if (!json_is_object(obj))
        return st_fail(diag, HEED_ERR_WEIGHTS, path, "tensor '%s': its header entry is not an "
                                                     "object", name);
    json_t *dt = json_object_get(obj, "dtype"), *shape = json_object_get(obj, "shape");
    json_t *offs = json_object_get(obj, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs) ||
        json_array_size(offs) != 2)
        return st_fail(diag, HEED_ERR_WEIGHTS, path,
                       "tensor '%s': needs dtype, shape and data_offsets [begin, end]", name);
    t->name = heed_strdup(f->env, name);
    t->dtype = NULL;
    if (!t->name)
        return st_fail(diag, HEED_ERR_NOMEM, path, "out of memory");
    const char *dts = json_string_value(dt);
    size_t esize = dtype_size(dts);
    if (!esize)
        return st_fail(diag, HEED_ERR_WEIGHTS, path, "tensor '%s': unknown dtype '%s'", name, dts);
    t->dtype = !strcmp(dts, "F32") ? "F32" : !strcmp(dts, "I32") ? "I32" : "other";
    if (json_array_size(shape) > 8)
        return st_fail(diag, HEED_ERR_WEIGHTS, path, "tensor '%s': rank %zu is too large", name,
                       json_array_size(shape));
    t->rank = (int)json_array_size(shape);
    size_t numel = 1;
    for (int d = 0; d < t->rank; d++) {
        json_t *e = json_array_get(shape, (size_t)d);
        json_int_t v = json_is_integer(e) ? json_integer_value(e) : -1;
        if (v < 0 || !heed_mul_ok(numel, (size_t)v, &numel))
            return st_fail(diag, HEED_ERR_WEIGHTS, path,
                           "tensor '%s': dim %d is invalid (not a whole number from 0 on, or "
                           "too large)",
                           name, d + 1);
        t->shape[d] = v;
    }
    json_t *b = json_array_get(offs, 0), *e = json_array_get(offs, 1);
    if (!json_is_integer(b) || !json_is_integer(e))
        return st_fail(diag, HEED_ERR_WEIGHTS, path,
                       "tensor '%s': data_offsets must be two whole numbers of bytes", name);
    json_int_t begin = json_integer_value(b), end = json_integer_value(e);
    if (begin < 0 || end < begin || (size_t)end > data_size)
        return st_fail(diag, HEED_ERR_WEIGHTS, path,
                       "tensor '%s': data_offsets [%lld, %lld] lie outside the %zu data bytes "
                       "(truncated file or a header that lies?)",
                       name, (long long)begin, (long long)end, data_size);
    size_t bytes;
    if (!heed_mul_ok(numel, esize, &bytes))
        return st_fail(diag, HEED_ERR_WEIGHTS, path,
                       "tensor '%s': its shape and dtype need more bytes than a file can hold",
                       name);
    if (bytes != (size_t)(end - begin))
        return st_fail(diag, HEED_ERR_WEIGHTS, path,
                       "tensor '%s': its shape and dtype need %zu bytes but its offsets span "
                       "%lld",
                       name, bytes, (long long)(end - begin));
    t->begin = (size_t)begin;
    t->end = (size_t)end;
    return HEED_OK;
}

static int cmp_begin(const void *a, const void *b)
{
    const st_tensor *x = a, *y = b;
    return x->begin < y->begin ? -1 : (x->begin > y->begin);
}

static heed_status parse_meta(st_file *f, json_t *meta, heed_diag *diag)
{
    if (!json_is_object(meta))
        return st_fail(diag, HEED_ERR_WEIGHTS, f->path, "__metadata__ is not an object");
    size_t n = json_object_size(meta);
    f->meta_keys = heed_zalloc(f->env, n + 1, sizeof(char *));
    f->meta_vals = heed_zalloc(f->env, n + 1, sizeof(char *));
    if (!f->meta_keys || !f->meta_vals)
        return st_fail(diag, HEED_ERR_NOMEM, f->path, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v)
    {
        if (!json_is_string(v))
            return st_fail(diag, HEED_ERR_WEIGHTS, f->path, "metadata '%s' is not a string", k);
        f->meta_keys[f->n_meta] = heed_strdup(f->env, k);
        f->meta_vals[f->n_meta] = heed_strdup(f->env, json_string_value(v));
        f->n_meta++; /* counted before the check so that st_free frees either half */
        if (!f->meta_keys[f->n_meta - 1] || !f->meta_vals[f->n_meta - 1])
            return st_fail(diag, HEED_ERR_NOMEM, f->path, "out of memory");
    }
    return HEED_OK;
}

static heed_status parse_header(st_file *f, heed_diag *diag)
{
    const char *path = f->path;
    if (f->size < 8)
        return st_fail(diag, HEED_ERR_WEIGHTS, path,
                       "the file has %zu bytes; a safetensors file starts with an 8-byte header "
                       "length",
                       f->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | f->bytes[i];
    if (hlen > f->size - 8)
        return st_fail(diag, HEED_ERR_WEIGHTS, path,
                       "the header length says %llu bytes but only %zu follow (truncated file, "
                       "or not a safetensors file)",
                       (unsigned long long)hlen, f->size - 8);
    if (hlen > ST_MAX_HEADER)
        return st_fail(diag, HEED_ERR_LIMIT, path,
                       "the header is %llu bytes long, more than the limit of %zu",
                       (unsigned long long)hlen, (size_t)ST_MAX_HEADER);
    f->data_start = 8 + (size_t)hlen;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)f->bytes + 8, (size_t)hlen, JSON_REJECT_DUPLICATES,
                              &jerr);
    if (!root)
        return st_fail(diag, HEED_ERR_WEIGHTS, path, "the header is not valid JSON: %s at byte %d",
                       jerr.text, jerr.position + 8);
    heed_status st = HEED_OK;
    if (!json_is_object(root)) {
        json_decref(root);
        return st_fail(diag, HEED_ERR_WEIGHTS, path, "the header is not a JSON object of tensors");
    }
    size_t n_tensors = json_object_size(root) - (json_object_get(root, "__metadata__") ? 1 : 0);
    if (n_tensors > ST_MAX_TENSORS) {
        json_decref(root);
        return st_fail(diag, HEED_ERR_LIMIT, path, "the file has %zu tensors, more than the limit "
                                                   "of %d",
                        n_tensors, ST_MAX_TENSORS);
    }
    f->t = heed_zalloc(f->env, json_object_size(root) + 1, sizeof *f->t);
    if (!f->t) {
        json_decref(root);
        return st_fail(diag, HEED_ERR_NOMEM, path, "out of memory");
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (st != HEED_OK)
            break;
        if (!strcmp(key, "__metadata__"))
            st = parse_meta(f, val, diag);
        else if ((st = parse_tensor(f, key, val, &f->t[f->n], diag)) == HEED_OK || f->t[f->n].name)
            f->n++;
    }
    json_decref(root);
    if (st != HEED_OK)
        return st;
    /* Sorted by offset, no tensor may begin before the furthest end so far.
     * Empty tensors overlap nothing and are skipped: comparing only with the
     * previous neighbour would let an empty one hide an overlap around it. */
    st_tensor *sorted = heed_zalloc(f->env, (size_t)f->n + 1, sizeof *sorted);
    if (!sorted)
        return st_fail(diag, HEED_ERR_NOMEM, path, "out of memory");
    memcpy(sorted, f->t, sizeof *sorted * (size_t)f->n);
    qsort(sorted, (size_t)f->n, sizeof *sorted, cmp_begin);
    const st_tensor *furthest = NULL;
    for (int i = 0; i < f->n && st == HEED_OK; i++) {
        if (sorted[i].end == sorted[i].begin)
            continue;
        if (furthest && sorted[i].begin < furthest->end)
            st = st_fail(diag, HEED_ERR_WEIGHTS, path,
                         "tensors '%s' and '%s' overlap in the data section", furthest->name,
                         sorted[i].name);
        if (!furthest || sorted[i].end > furthest->end)
            furthest = &sorted[i];
    }
    heed_dealloc(f->env, sorted);
    return st;
}

heed_status st_read(const heed_env *env, const char *path, st_file **out, heed_diag *diag)
{
    *out = NULL;
    st_file *f = heed_zalloc(env, 1, sizeof *f);
    if (!f)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    f->env = env;
    f->path = heed_strdup(env, path);
    heed_status st = f->path ? read_all(env, path, &f->bytes, &f->size, diag)
                             : heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    if (st == HEED_OK)
        st = parse_header(f, diag);
    if (st != HEED_OK) {
        st_free(f);
        return st;
    }
    *out = f;
    return HEED_OK;
}

void st_free(st_file *f)
{
    if (!f)
        return;
    const heed_env *env = f->env;
    for (int i = 0; f->t && i < f->n; i++)
        heed_dealloc(env, f->t[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        heed_dealloc(env, f->meta_keys[i]);
        heed_dealloc(env, f->meta_vals[i]);
    }
    heed_dealloc(env, f->meta_keys);
    heed_dealloc(env, f->meta_vals);
    heed_dealloc(env, f->t);
    heed_dealloc(env, f->bytes);
    heed_dealloc(env, f->path);
    heed_dealloc(env, f);
}

const char *st_meta(const st_file *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key))
            return f->meta_vals[i];
    return NULL;
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->t[i].name, name))
            return &f->t[i];
    return NULL;
}

/* ------------------------------------------------------------ writing */

static heed_status write_fully(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return HEED_ERR_IO;
        p += w;
        n -= (size_t)w;
    }
    return HEED_OK;
}

void st_json_free(void *p)
{
    json_free_t jfree = NULL;
    json_get_alloc_funcs(NULL, &jfree);
    (jfree ? jfree : free)(p);
}

static char *build_header(const st_entry *e, int n, const char *const *mk,
                          const char *const *mv, int n_meta, size_t *data_bytes)
{
    json_t *root = json_object();
    if (!root)
        return NULL;
    bool ok = true;
    if (n_meta > 0) {
        json_t *meta = json_object();
        ok = meta && json_object_set_new(root, "__metadata__", meta) == 0;
        for (int i = 0; ok && i < n_meta; i++)
            ok = json_object_set_new(meta, mk[i], json_string(mv[i])) == 0;
    }
    /* Each value is handed to its parent as soon as it exists: jansson's
     * *_new calls take the reference even when they fail, so root owns
     * everything and one json_decref frees it on any path. */
    size_t off = 0;
    for (int i = 0; ok && i < n; i++) {
        size_t numel = 1;
        json_t *t = json_object(), *shape = NULL;
        ok = json_object_set_new(root, e[i].name, t) == 0 &&
             json_object_set_new(t, "dtype", json_string(e[i].ids ? "I32" : "F32")) == 0 &&
             (shape = json_array()) != NULL && json_object_set_new(t, "shape", shape) == 0;
        for (int d = 0; ok && d < e[i].rank; d++) {
            numel *= (size_t)e[i].shape[d];
            ok = json_array_append_new(shape, json_integer(e[i].shape[d])) == 0;
        }
        ok = ok && json_object_set_new(t, "data_offsets",
                                       json_pack("[II]", (json_int_t)off,
                                                 (json_int_t)(off + numel * 4))) == 0;
        off += numel * 4;
    }
    *data_bytes = off;
    char *text = ok ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    return text;
}

/* A new file beside path, named path.tmp.PID.N, for writing. Unlike
 * mkstemp's 0600 it is created 0666 less the umask, as the file it will
 * replace would be by any program; O_EXCL keeps the name its own. */
static int create_beside(const char *path, char *tmp, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t r = heed_mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32));
    for (int i = 0; i < 100; i++) {
        if (snprintf(tmp, cap, "%s.tmp.%ld.%06u", path, (long)getpid(),
                     (unsigned)((r + (uint64_t)i) % 1000000u)) >= (int)cap) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

heed_status st_write(const heed_env *env, const char *path, const st_entry *e, int n,
                     const char *const *mk, const char *const *mv, int n_meta, heed_diag *diag)
{
    (void)env;
    size_t data_bytes;
    char *header = build_header(e, n, mk, mv, n_meta, &data_bytes);
    if (!header)
        return st_fail(diag, HEED_ERR_NOMEM, path, "out of memory building the header");
    size_t hlen = strlen(header), padded = (hlen + 7) & ~(size_t)7;
    char tmp[4096];
    int fd = create_beside(path, tmp, sizeof tmp);
    if (fd < 0) {
        st_json_free(header);
        return st_fail(diag, HEED_ERR_IO, path, "cannot create a temporary file beside it: %s",
                       strerror(errno));
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    heed_status st = write_fully(fd, len8, 8);
    if (st == HEED_OK)
        st = write_fully(fd, header, hlen);
    for (size_t i = hlen; st == HEED_OK && i < padded; i++)
        st = write_fully(fd, " ", 1);
    for (int i = 0; st == HEED_OK && i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < e[i].rank; d++)
            numel *= (size_t)e[i].shape[d];
        st = write_fully(fd, e[i].data, numel * 4);
    }
    st_json_free(header);
    /* the data reaches the disk before the name points at it */
    if (st == HEED_OK && fsync(fd) != 0)
        st = HEED_ERR_IO;
    if (close(fd) != 0)
        st = HEED_ERR_IO;
    if (st == HEED_OK && rename(tmp, path) != 0)
        st = HEED_ERR_IO;
    if (st != HEED_OK) {
        int saved = errno;
        unlink(tmp);
        return st_fail(diag, HEED_ERR_IO, path, "cannot write: %s", strerror(saved));
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd); /* the rename itself is durable */
        close(dfd);
    }
    return HEED_OK;
}

/* ------------------------------------------------------------ public tensor files */

struct heed_tensor_file {
    heed_env env;
    st_file *f;
};

heed_status heed_tensor_file_read(const char *path, heed_tensor_file **out, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!path || !out)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_tensor_file_read: NULL argument");
    *out = NULL;
    heed_env env;
    heed_env_init(&env, NULL);
    heed_tensor_file *tf = heed_zalloc(&env, 1, sizeof *tf);
    if (!tf)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    tf->env = env;
    heed_status st = st_read(&tf->env, path, &tf->f, diag);
    if (st == HEED_OK && tf->f->data_start % 4) {
        /* writers that do not pad the header leave the data unaligned for
         * the float pointers handed out below: move it down onto a 4-byte
         * boundary (over the header's tail, already parsed and copied) */
        st_file *f = tf->f;
        size_t to = f->data_start & ~(size_t)3;
        memmove(f->bytes + to, f->bytes + f->data_start, f->size - f->data_start);
        f->size -= f->data_start - to;
        f->data_start = to;
    }
    for (int i = 0; st == HEED_OK && i < tf->f->n; i++) {
        const st_tensor *t = &tf->f->t[i];
        if (strcmp(t->dtype, "other") == 0)
            st = st_fail(diag, HEED_ERR_DATA, path, "tensor '%s': only F32 and I32 are read",
                         t->name);
        else if (t->rank > HEED_MAX_RANK)
            st = st_fail(diag, HEED_ERR_DATA, path, "tensor '%s': rank %d is more than %d",
                         t->name, t->rank, HEED_MAX_RANK);
        else if ((tf->f->data_start + t->begin) % 4)
            st = st_fail(diag, HEED_ERR_DATA, path, "tensor '%s': data is not 4-byte aligned",
                         t->name);
    }
    if (st != HEED_OK) {
        heed_tensor_file_free(tf);
        return st;
    }
    *out = tf;
    return HEED_OK;
}

size_t heed_tensor_file_count(const heed_tensor_file *tf)
{
    return tf ? (size_t)tf->f->n : 0;
}

heed_status heed_tensor_file_get(const heed_tensor_file *tf, size_t index, heed_tensor *out)
{
    if (!tf || !out || index >= (size_t)tf->f->n)
        return HEED_ERR_ARGUMENT;
    const st_tensor *t = &tf->f->t[index];
    memset(out, 0, sizeof *out);
    out->name = t->name;
    out->dtype = strcmp(t->dtype, "I32") == 0 ? HEED_I32 : HEED_F32;
    out->rank = t->rank;
    for (int d = 0; d < t->rank; d++)
        out->shape[d] = t->shape[d];
    out->data = tf->f->bytes + tf->f->data_start + t->begin;
    return HEED_OK;
}

void heed_tensor_file_free(heed_tensor_file *tf)
{
    if (!tf)
        return;
    heed_env env = tf->env;
    st_free(tf->f);
    heed_dealloc(&env, tf);
}

heed_status heed_tensor_file_write(const char *path, const heed_tensor *tensors, size_t n,
                                   heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!path || (!tensors && n))
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_tensor_file_write: NULL argument");
    if (n > ST_MAX_TENSORS)
        return heed_fail(diag, HEED_ERR_LIMIT, "heed_tensor_file_write: more than %d tensors",
                         ST_MAX_TENSORS);
    heed_env env;
    heed_env_init(&env, NULL);
    st_entry *e = heed_zalloc(&env, n + 1, sizeof *e);
    heed_strmap names = {0};
    heed_status st = e ? HEED_OK : heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    /* what the header would misstate: a lost name, a shape beyond the
     * tensor's four dims, a size that overflows, a repeated name (the JSON
     * header would keep only one of them) */
    for (size_t i = 0; i < n && st == HEED_OK; i++) {
        const heed_tensor *t = &tensors[i];
        size_t numel = 1, bytes = 0;
        bool ok = t->rank >= 0 && t->rank <= HEED_MAX_RANK;
        for (int d = 0; ok && d < t->rank; d++)
            ok = t->shape[d] >= 0 && heed_mul_ok(numel, (size_t)t->shape[d], &numel);
        ok = ok && heed_mul_ok(numel, 4, &bytes);
        if (!t->name || !*t->name || (t->dtype != HEED_F32 && t->dtype != HEED_I32))
            st = heed_fail(diag, HEED_ERR_ARGUMENT, "tensor %zu: %s", i,
                           t->name && *t->name ? "dtype is neither HEED_F32 nor HEED_I32"
                                               : "no name");
        else if (!strcmp(t->name, "__metadata__")) /* the format's own key */
            st = heed_fail(diag, HEED_ERR_ARGUMENT,
                           "tensor %zu: '__metadata__' is the header's metadata key, not a "
                           "tensor name",
                           i);
        else if (!ok)
            st = heed_fail(diag, HEED_ERR_ARGUMENT, "tensor '%s': rank %d or its shape is invalid",
                           t->name, t->rank);
        else if (!t->data && bytes)
            st = heed_fail(diag, HEED_ERR_ARGUMENT, "tensor '%s': data is NULL", t->name);
        else if (heed_strmap_get(&names, t->name) >= 0)
            st = heed_fail(diag, HEED_ERR_ARGUMENT, "two tensors are named '%s'", t->name);
        else if (!heed_strmap_put(&env, &names, t->name, (int)i))
            st = heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
        else
            e[i] = (st_entry){t->name, t->rank, t->shape, t->data, t->dtype == HEED_I32};
    }
    heed_strmap_free(&env, &names);
    if (st == HEED_OK)
        st = st_write(&env, path, e, (int)n, NULL, NULL, 0, diag);
    heed_dealloc(&env, e);
    return st;
}
