/*
 * fuzz_common.h - shared by the libFuzzer targets: the fuzz input as a file
 * heed can open by path (a memfd, reached through /proc/self/fd, so nothing is
 * left behind when a run dies; a temporary file when memfd is missing), and
 * the options every target loads its models with (one thread: deterministic
 * and cheap; an allocator that refuses blocks over 32 MiB). The targets print
 * nothing unless HEED_FUZZ_VERBOSE is set in the environment: then each step's
 * status and diagnostic go to stderr (for looking at a reproducer:
 * HEED_FUZZ_VERBOSE=1 fuzz_data crash-...).
 */
#ifndef HEED_FUZZ_COMMON_H
#define HEED_FUZZ_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <heed.h>

typedef struct fuzz_file {
    int fd;
    char path[4096];
    int unlink_at_exit;
} fuzz_file;

static fuzz_file fuzz_input_file = {-1, "", 0};

static inline void fuzz_file_cleanup(void)
{
    if (fuzz_input_file.unlink_at_exit)
        unlink(fuzz_input_file.path);
    if (fuzz_input_file.fd >= 0)
        close(fuzz_input_file.fd);
    fuzz_input_file.fd = -1;
}

/* Opens the file once; returns 0 on success. */
static inline int fuzz_file_open(void)
{
    fuzz_file *f = &fuzz_input_file;
    if (f->fd >= 0)
        return 0;
#ifdef MFD_CLOEXEC
    f->fd = memfd_create("heed-fuzz", MFD_CLOEXEC);
    if (f->fd >= 0) {
        snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
        /* heed reopens the path; make sure that works here (no /proc?) */
        if (access(f->path, R_OK) == 0) {
            atexit(fuzz_file_cleanup);
            return 0;
        }
        close(f->fd);
        f->fd = -1;
    }
#endif
    const char *dir = getenv("TMPDIR");
    snprintf(f->path, sizeof f->path, "%s/heed-fuzz-XXXXXX", dir && *dir ? dir : "/tmp");
    f->fd = mkstemp(f->path);
    if (f->fd < 0)
        return -1;
    f->unlink_at_exit = 1;
    atexit(fuzz_file_cleanup);
    return 0;
}

/* Replaces the file's contents with data[0..size); returns its path or NULL. */
static inline const char *fuzz_file_write(const uint8_t *data, size_t size)
{
    fuzz_file *f = &fuzz_input_file;
    if (fuzz_file_open() != 0 || ftruncate(f->fd, 0) != 0)
        return NULL;
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(f->fd, data + done, size - done, (off_t)done);
        if (w <= 0)
            return NULL;
        done += (size_t)w;
    }
    return f->path;
}

/* Returns st; with HEED_FUZZ_VERBOSE, prints the step's outcome first. */
static inline heed_status fuzz_step(const char *step, heed_status st, const heed_diag *diag)
{
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("HEED_FUZZ_VERBOSE") != NULL;
    if (verbose) {
        fprintf(stderr, "%s: %s\n", step, heed_status_string(st));
        if (st != HEED_OK && diag && diag->text[0])
            fprintf(stderr, "%s\n", diag->text);
    }
    return st;
}

/* The largest block heed may allocate under fuzzing. A file's dims can ask
 * for a lot legitimately (a partial weights load allows up to 1 GiB); filling
 * and using that much under the sanitizers outlasts the fuzzer's timeout and
 * memory limit. Refusing larger blocks keeps each run small and fuzzes heed's
 * out-of-memory paths on the way. */
#define FUZZ_MAX_BLOCK ((size_t)32 << 20)

static inline void *fuzz_alloc(void *user, size_t size)
{
    (void)user;
    return size > FUZZ_MAX_BLOCK ? NULL : malloc(size);
}

static inline void *fuzz_realloc(void *user, void *ptr, size_t size)
{
    (void)user;
    return size > FUZZ_MAX_BLOCK ? NULL : realloc(ptr, size);
}

static inline void fuzz_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

static const heed_allocator fuzz_allocator = {fuzz_alloc, fuzz_realloc, fuzz_free, NULL};

static inline void fuzz_options(heed_options *opt)
{
    heed_options_init(opt);
    opt->threads = 1;
    opt->allocator = &fuzz_allocator;
}

/* A model the harness needs; any failure here is a broken harness. */
static inline heed_model *fuzz_fixed_model(const char *text, const char *name)
{
    static heed_diag diag;
    heed_options opt;
    fuzz_options(&opt);
    heed_model *m = NULL;
    if (heed_model_load_string(text, strlen(text), name, &opt, &m, &diag) != HEED_OK) {
        fprintf(stderr, "fuzz harness: the fixed model does not load:\n%s\n", diag.text);
        abort();
    }
    return m;
}

/* Reads every byte of a tensor view so ASan sees any out-of-bounds view. */
static inline uint32_t fuzz_touch_tensor(const heed_tensor *t)
{
    size_t numel = 1;
    for (int d = 0; d < t->rank; d++)
        numel *= (size_t)t->shape[d];
    const unsigned char *p = t->data;
    uint32_t sum = 0;
    for (size_t i = 0; p && i < numel * 4; i++)
        sum = sum * 31u + p[i];
    return sum;
}

/* A sink for heed_write_fn: reads the text (for ASan) and keeps a hash. */
static inline int fuzz_null_write(void *user, const char *data, size_t length)
{
    uint32_t *hash = user;
    for (size_t i = 0; i < length; i++)
        *hash = *hash * 31u + (unsigned char)data[i];
    return 0;
}

#endif
