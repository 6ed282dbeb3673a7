/*
 * test_limits.c - hostile input: model, weights and data files are untrusted,
 * so every malformed or oversized one must come back as a status and a
 * diagnostic naming the file (and the line where there is one), never as a
 * crash or an absurd allocation. One test per class of bad input; the table
 * in docs/SECURITY.md names them.
 */
#include <dirent.h>
#include <fcntl.h>
#include <float.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* ------------------------------------------------------------ helpers */

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/heed_limits_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* The directory holds only files the tests wrote. */
static int remove_tmpdir(void **state)
{
    (void)state;
    DIR *dir = opendir(tmpdir);
    if (!dir)
        return -1;
    for (struct dirent *e; (e = readdir(dir));) {
        char path[sizeof tmpdir + 256];
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(path);
    }
    closedir(dir);
    return rmdir(tmpdir);
}

/* A path in the suite's temporary directory. */
static const char *tmp_path(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", tmpdir, name);
    return buf;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/*
 * Asserts the status, the file, the position (line -1: any line > 0; 0: no
 * position) and that `needle` is in the diagnostic's text.
 */
static void expect_diag(const heed_diag *d, heed_status st, const char *file, int line, int col,
                        const char *needle)
{
    bool ok = d->status == st && d->count > 0 && strcmp(d->file, file) == 0 &&
              (line < 0 ? d->line > 0 : d->line == line) && (col <= 0 || d->column == col) &&
              strstr(d->text, needle) != NULL;
    if (!ok)
        fail_msg("expected status %d, %s:%d:%d and '%s'\ngot status %d, %s:%d:%d:\n%s", st, file,
                 line, col, needle, d->status, d->file, d->line, d->column, d->text);
}

/* Loads `yaml` (and checks it at `dims` when loading works); returns the status. */
static heed_status load_check(const char *name, const char *yaml, size_t len,
                              const heed_options *o, const heed_dim *dims, size_t n_dims,
                              heed_diag *d)
{
    heed_model *m = NULL;
    heed_status st = heed_model_load_string(yaml, len, name, o, &m, d);
    if (st == HEED_OK)
        st = heed_model_check(m, dims, n_dims, d);
    heed_model_free(m);
    return st;
}

/* An allocator that records the largest request and refuses absurd ones, so a
 * test sees an attempt to allocate what the input merely claims. */
#define TRACK_REFUSE ((size_t)256 << 20)

typedef struct tracker {
    size_t largest;
} tracker;

static void *track_alloc(void *user, size_t n)
{
    tracker *t = user;
    t->largest = n > t->largest ? n : t->largest;
    return n > TRACK_REFUSE ? NULL : malloc(n);
}

static void *track_realloc(void *user, void *p, size_t n)
{
    tracker *t = user;
    t->largest = n > t->largest ? n : t->largest;
    return n > TRACK_REFUSE ? NULL : realloc(p, n);
}

static void track_free(void *user, void *p)
{
    (void)user;
    free(p);
}

static void tracked_options(heed_options *o, heed_allocator *a, tracker *t)
{
    *t = (tracker){0};
    *a = (heed_allocator){track_alloc, track_realloc, track_free, t};
    heed_options_init(o);
    o->allocator = a;
}

/* A deterministic byte stream (xorshift64). */
static unsigned char next_byte(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (unsigned char)(*s >> 24);
}

/* Messages quote hostile text: no byte in them may act on a terminal. */
static void assert_printable(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
            fail_msg("control byte 0x%02x in the diagnostic:\n%s", *p, text);
}

/* ------------------------------------------------------------ model files */

/* Billion laughs: nine levels of ten aliases each would be 10^9 nodes. The
 * aliases are shared, not copied, but counted as if expanded. */
static void alias_expansion_is_limited(void **state)
{
    (void)state;
    char yaml[2048] = "heed: 1\n"
                      "inputs: {x: [B, 4]}\n"
                      "nodes: {a: {op: Tanh, in: x}}\n"
                      "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    for (int i = 1; i < 9; i++) {
        char line[128];
        int p = i - 1;
        snprintf(line, sizeof line,
                 "l%d: &l%d [*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d]\n", i, i, p, p,
                 p, p, p, p, p, p, p, p);
        strcat(yaml, line);
    }
    heed_options o;
    heed_allocator a;
    tracker t;
    tracked_options(&o, &a, &t);
    heed_diag d;
    assert_int_equal(load_check("bomb.yaml", yaml, strlen(yaml), &o, NULL, 0, &d),
                     HEED_ERR_LIMIT);
    /* 10^6 is passed in level 5 (line 9), at its ninth alias */
    expect_diag(&d, HEED_ERR_LIMIT, "bomb.yaml", 9, 38,
                "the document expands to more than 1000000 nodes (alias expansion limit)");
    assert_true(t.largest < ((size_t)1 << 20));
    /* aliases within the limit still work */
    heed_model *m = tu_model("alias.yaml", "heed: 1\n"
                                           "inputs: {x: &shape [B, 4], y: *shape}\n"
                                           "nodes: {a: {op: Add, in: [x, y]}}\n");
    heed_model_free(m);
}

/* Thousands of nested [ or { stop at 64 levels, at the bracket that passes it. */
static void nesting_depth_is_limited(void **state)
{
    (void)state;
    const char opens[2] = {'[', '{'};
    for (int k = 0; k < 2; k++) {
        size_t n = 5000, len = 0;
        char *yaml = malloc(6 * n + 64);
        assert_non_null(yaml);
        len += (size_t)sprintf(yaml, "heed: 1\nnodes: ");
        for (size_t i = 0; i < n; i++) {
            yaml[len++] = opens[k];
            if (k == 1)
                len += (size_t)sprintf(yaml + len, "a: ");
        }
        for (size_t i = 0; i < n; i++)
            yaml[len++] = k ? '}' : ']';
        yaml[len++] = '\n';
        heed_diag d;
        assert_int_equal(load_check("deep.yaml", yaml, len, NULL, NULL, 0, &d), HEED_ERR_LIMIT);
        /* the top-level mapping is level 1, so the 64th bracket is one too many */
        expect_diag(&d, HEED_ERR_LIMIT, "deep.yaml", 2, k ? 8 + 63 * 4 : 8 + 63,
                    "nesting deeper than 64 levels");
        free(yaml);
    }
}

/* A model file is at most 16 MiB: refused before it is copied or parsed. */
static void file_size_is_limited(void **state)
{
    (void)state;
    size_t limit = (size_t)16 << 20;
    heed_options o;
    heed_allocator a;
    tracker t;
    tracked_options(&o, &a, &t);
    /* from memory: untouched zero pages, so this costs nothing */
    char *big = calloc(limit + 1, 1);
    assert_non_null(big);
    heed_model *m = NULL;
    heed_diag d;
    assert_int_equal(heed_model_load_string(big, limit + 1, "big.yaml", &o, &m, &d),
                     HEED_ERR_LIMIT);
    expect_diag(&d, HEED_ERR_LIMIT, "big.yaml", 0, 0,
                "file is 16777217 bytes, more than the limit of 16777216");
    assert_null(m);
    assert_true(t.largest < ((size_t)1 << 20));
    free(big);
    /* from a (sparse) file: reading stops at the limit */
    char path[128];
    tmp_path("big.yaml", path, sizeof path);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)limit + 4096), 0);
    close(fd);
    tracked_options(&o, &a, &t);
    assert_int_equal(heed_model_load_file(path, &o, &m, &d), HEED_ERR_LIMIT);
    expect_diag(&d, HEED_ERR_LIMIT, path, 0, 0, "file is larger than the limit of 16777216 bytes");
    assert_true(t.largest <= 2 * limit);
    unlink(path);
}

/* At most 4096 graph nodes, whether written out or made by a block's repeat. */
static void node_count_is_limited(void **state)
{
    (void)state;
    size_t cap = 4200 * 48, len = 0;
    char *yaml = malloc(cap);
    assert_non_null(yaml);
    len += (size_t)snprintf(yaml, cap, "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n  n0: {op: Tanh, "
                                       "in: x}\n");
    for (int i = 1; i < 4200; i++)
        len += (size_t)snprintf(yaml + len, cap - len, "  n%d: {op: Tanh, in: n%d}\n", i, i - 1);
    heed_diag d;
    assert_int_equal(load_check("nodes.yaml", yaml, len, NULL, NULL, 0, &d), HEED_ERR_LIMIT);
    /* node n4096 (line 4 + 4096) is the 4097th */
    expect_diag(&d, HEED_ERR_LIMIT, "nodes.yaml", 4100, 3, "the model has more than 4096 nodes");
    assert_int_equal(d.count, 1); /* said once, with no follow-on errors */
    free(yaml);

    const char *repeated = "heed: 1\n"
                           "inputs: {x: [B, 4]}\n"
                           "blocks:\n"
                           "  l:\n"
                           "    inputs: [h]\n"
                           "    nodes: {a: {op: Tanh, in: h}, b: {op: Tanh, in: a},\n"
                           "            c: {op: Tanh, in: b}, d: {op: Tanh, in: c}}\n"
                           "nodes:\n"
                           "  s: {block: l, in: x, repeat: 256}\n"
                           "  t: {block: l, in: s, repeat: 256}\n"
                           "  u: {block: l, in: t, repeat: 256}\n"
                           "  v: {block: l, in: u, repeat: 256}\n"
                           "  w: {block: l, in: v}\n";
    assert_int_equal(load_check("repeat.yaml", repeated, strlen(repeated), NULL, NULL, 0, &d),
                     HEED_ERR_LIMIT);
    expect_diag(&d, HEED_ERR_LIMIT, "repeat.yaml", 6, -1, "the model has more than 4096 nodes");
    assert_string_equal(d.node, "w.a");
}

/* Blocks nested 8 deep, each using the next four times, multiply one mistake
 * in the innermost block 4^8 times: each of its four places is said once
 * (the copies are echoes), and checking stops at the node limit instead of
 * taking exponential time. */
static void nested_block_errors_are_limited(void **state)
{
    (void)state;
    char yaml[4096];
    size_t len = (size_t)snprintf(yaml, sizeof yaml, "heed: 1\ninputs: {x: [B, 4]}\nblocks:\n");
    for (int b = 0; b < 8; b++) {
        len += (size_t)snprintf(yaml + len, sizeof yaml - len,
                                "  b%d:\n    inputs: [h]\n    nodes:\n", b);
        for (int k = 0; k < 4; k++)
            len += (size_t)snprintf(yaml + len, sizeof yaml - len,
                                    b < 7 ? "      n%d: {block: b%d, in: h}\n"
                                          : "      n%d: {op: Tanh, in: h, unitz: %d}\n",
                                    k, b + 1);
    }
    len += (size_t)snprintf(yaml + len, sizeof yaml - len, "nodes:\n  top: {block: b0, in: x}\n");
    assert_true(len < sizeof yaml);
    heed_diag d;
    assert_int_equal(load_check("fan.yaml", yaml, len, NULL, NULL, 0, &d), HEED_ERR_MODEL);
    assert_int_equal(d.count, 5);
    assert_non_null(strstr(d.message, "'unitz'"));
    assert_non_null(strstr(d.text, "fan.yaml:59:29: error: node 'top.n0.n0.n0.n0.n0.n0.n0.n3': "
                                   "Tanh has no attribute 'unitz'"));
    assert_non_null(strstr(d.text, "the model has more than 4096 nodes"));

    /* an unknown op in blocks repeated 256 times three deep makes no nodes,
     * so no node limit stops it: its echoes, counted as work, do (the fuzzer
     * found this taking minutes) */
    const char *echoing = "heed: 1\n"
                          "inputs: {x: [B, 4]}\n"
                          "blocks:\n"
                          "  b0: {inputs: [h], nodes: {n: {block: b1, in: h, repeat: 256}}}\n"
                          "  b1: {inputs: [h], nodes: {n: {block: b7, in: h, repeat: 256}}}\n"
                          "  b7: {inputs: [h], nodes: {n: {op: Tenh, in: hquery}}}\n"
                          "nodes:\n"
                          "  s: {block: b0, in: x, repeat: 256}\n";
    assert_int_equal(load_check("echo.yaml", echoing, strlen(echoing), NULL, NULL, 0, &d),
                     HEED_ERR_MODEL);
    assert_non_null(strstr(d.text, "unknown op 'Tenh'; did you mean 'Tanh'?"));
    assert_non_null(strstr(d.text, "the rest of the file was not checked"));

    /* 4096 nodes each reading an undefined name: no did-you-mean search (over
     * 4096 names each) past the limit */
    const char *undefined = "heed: 1\n"
                            "inputs: {x: [B, 4]}\n"
                            "blocks:\n"
                            "  b: {inputs: [h], nodes: {n: {op: Tanh, in: hquery}}}\n"
                            "  c: {inputs: [h], nodes: {n: {block: b, in: h, repeat: 256}}}\n"
                            "nodes:\n"
                            "  s: {block: c, in: x, repeat: 256}\n";
    assert_int_equal(load_check("undef.yaml", undefined, strlen(undefined), NULL, NULL, 0, &d),
                     HEED_ERR_LIMIT);
    expect_diag(&d, HEED_ERR_LIMIT, "undef.yaml", 4, -1, "the model has more than 4096 nodes");
    assert_true(d.count <= 22);
    assert_non_null(strstr(d.text, "input 'hquery' is not defined"));
}

/* A block whose input list holds something other than names is reported
 * once, at the definition, and its instances are not expanded. */
static void block_inputs_not_names(void **state)
{
    (void)state;
    const char *yaml = "heed: 1\n"
                       "inputs: {x: [B, 4]}\n"
                       "blocks:\n"
                       "  b: {inputs: [{F: 1h}], nodes: {n: {op: Tanh, in: x}}}\n"
                       "nodes:\n"
                       "  s: {block: b, in: x, F: x}\n";
    heed_diag d;
    assert_int_equal(load_check("names.yaml", yaml, strlen(yaml), NULL, NULL, 0, &d),
                     HEED_ERR_MODEL);
    expect_diag(&d, HEED_ERR_MODEL, "names.yaml", 4, 16, "block 'b': input names must be names");
    assert_int_equal(d.count, 1);
}

static const char *wide_model = "heed: 1\n"
                                "dims: {H: 8}\n"
                                "inputs: {x: [B, S, H]}\n"
                                "nodes:\n"
                                "  a: {op: Affine, in: x, units: H}\n";

/* Dims whose product overflows: refused when planning, before any arena or
 * parameter memory is asked for. */
static void dim_product_overflow(void **state)
{
    (void)state;
    heed_options o;
    heed_allocator a;
    tracker t;
    tracked_options(&o, &a, &t);
    heed_model *m = NULL;
    heed_diag d;
    assert_int_equal(heed_model_load_string(wide_model, strlen(wide_model), "wide.yaml", &o, &m,
                                            &d),
                     HEED_OK);
    /* 2^31 each (the largest dim) makes 2^62 elements, 2^64 bytes */
    const heed_dim big[] = {{"B", (int64_t)1 << 31}, {"S", (int64_t)1 << 31}};
    heed_plan *p = NULL;
    assert_int_equal(heed_plan_new(m, big, 2, HEED_MODE_TRAIN, &p, &d), HEED_ERR_LIMIT);
    expect_diag(&d, HEED_ERR_LIMIT, "wide.yaml", 3, 10, "input 'x' is too large");
    assert_null(p);
    /* 2^40 each is refused as a dim already */
    const heed_dim huge[] = {{"B", (int64_t)1 << 40}, {"S", (int64_t)1 << 40}};
    assert_int_equal(heed_model_check(m, huge, 2, &d), HEED_ERR_SHAPE);
    expect_diag(&d, HEED_ERR_SHAPE, "", 0, 0,
                "dim B=1099511627776 must be from 1 to 2147483648");
    /* a parameter of 2^31 x 2^31 floats */
    const heed_dim wide[] = {{"H", (int64_t)1 << 31}};
    assert_int_equal(heed_model_check(m, wide, 1, &d), HEED_ERR_SHAPE);
    expect_diag(&d, HEED_ERR_SHAPE, "wide.yaml", 5, 3, "node 'a': parameter 'weight' is too large");
    heed_weights *w = NULL;
    assert_int_equal(heed_weights_new(m, NULL, wide, 1, 1, &w, &d), HEED_ERR_SHAPE);
    assert_null(w);
    assert_true(t.largest < ((size_t)1 << 20));
    heed_model_free(m);
    /* a product written in the file */
    const char *prod = "heed: 1\ndims: {H: 65536}\ninputs: {x: [B, H]}\n"
                       "nodes: {a: {op: Affine, in: x, units: H*H*H}}\n";
    assert_int_equal(load_check("prod.yaml", prod, strlen(prod), NULL, NULL, 0, &d),
                     HEED_ERR_SHAPE);
    expect_diag(&d, HEED_ERR_SHAPE, "prod.yaml", 4, 39, "node 'a': 'units': dim product is too "
                                                        "large");
}

/* Zero and negative dims, in dims:, in shapes, in attributes and as arguments. */
static void zero_and_negative_dims(void **state)
{
    (void)state;
    const char *values[] = {"0", "-4"};
    for (int i = 0; i < 2; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml,
                 "heed: 1\ndims: {H: %s}\ninputs: {x: [B, H]}\nnodes:\n  a: {op: Tanh, in: x}\n",
                 values[i]);
        char want[128];
        snprintf(want, sizeof want, "dim 'H' must be a positive integer up to 2147483648, not '%s'",
                 values[i]);
        heed_diag d;
        assert_int_equal(load_check("dims.yaml", yaml, strlen(yaml), NULL, NULL, 0, &d),
                         HEED_ERR_MODEL);
        expect_diag(&d, HEED_ERR_MODEL, "dims.yaml", 2, 11, want);

        snprintf(yaml, sizeof yaml,
                 "heed: 1\ninputs: {x: [B, %s]}\nnodes:\n  a: {op: Tanh, in: x}\n", values[i]);
        snprintf(want, sizeof want, "input 'x': dim 2 must be positive, not %s", values[i]);
        assert_int_equal(load_check("shape.yaml", yaml, strlen(yaml), NULL, NULL, 0, &d),
                         HEED_ERR_MODEL);
        expect_diag(&d, HEED_ERR_MODEL, "shape.yaml", 2, 17, want);

        snprintf(yaml, sizeof yaml,
                 "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n  a: {op: Affine, in: x, units: %s}\n",
                 values[i]);
        snprintf(want, sizeof want, "node 'a': 'units' must be a positive dim, not %s", values[i]);
        assert_int_equal(load_check("units.yaml", yaml, strlen(yaml), NULL, NULL, 0, &d),
                         HEED_ERR_MODEL);
        expect_diag(&d, HEED_ERR_MODEL, "units.yaml", 4, 33, want);
    }
    heed_model *m = tu_model("wide.yaml", wide_model);
    const int64_t bad[] = {0, -1, INT64_MIN};
    for (int i = 0; i < 3; i++) {
        heed_dim dims[] = {{"B", bad[i]}};
        char want[128];
        snprintf(want, sizeof want, "dim B=%lld must be from 1 to 2147483648", (long long)bad[i]);
        heed_diag d;
        assert_int_equal(heed_model_check(m, dims, 1, &d), HEED_ERR_SHAPE);
        expect_diag(&d, HEED_ERR_SHAPE, "", 0, 0, want);
        heed_plan *p = NULL;
        assert_int_equal(heed_plan_new(m, dims, 1, HEED_MODE_INFER, &p, &d), HEED_ERR_SHAPE);
        assert_null(p);
    }
    heed_model_free(m);
}

/* NaN and infinite attribute values are refused by name, at their position. */
static void nan_and_inf_attributes(void **state)
{
    (void)state;
    const char *yaml = "heed: 1\n"
                       "inputs: {x: [B, 4]}\n"
                       "nodes:\n"
                       "  a: {op: Dropout, in: x, p: .nan}\n"
                       "  b: {op: Dropout, in: a, p: -.inf}\n"
                       "  c: {op: Dropout, in: b, p: 1e999}\n"
                       "train: {lr: .inf, clip: .NaN, momentum: +.inf}\n";
    heed_diag d;
    assert_int_equal(load_check("nan.yaml", yaml, strlen(yaml), NULL, NULL, 0, &d),
                     HEED_ERR_MODEL);
    expect_diag(&d, HEED_ERR_MODEL, "nan.yaml", 4, 30, "node 'a': 'p' must be finite, not .nan");
    const char *more[] = {"nan.yaml:5:30: error: node 'b': 'p' must be finite, not -.inf",
                          "nan.yaml:6:30: error: node 'c': 'p' must be finite, not 1e999",
                          "nan.yaml:7:13: error: 'lr' must be finite, not .inf",
                          "nan.yaml:7:25: error: 'clip' must be finite, not .NaN",
                          "nan.yaml:7:41: error: 'momentum' must be finite, not +.inf"};
    for (int i = 0; i < 5; i++)
        if (!strstr(d.text, more[i]))
            fail_msg("missing: %s\nin:\n%s", more[i], d.text);
    assert_int_equal(d.count, 6);
}

/* Names have limits the files they go into keep: a dim name 63 bytes (weights
 * metadata, --dim), a value name 255 (with its blocks' prefixes). At the
 * limits a model trains, saves and loads back with its vocabulary and the
 * field's tokenisation; past them it is refused at the name. */
static void name_lengths(void **state)
{
    (void)state;
    char dim[65], field[257], yaml[2048];
    memset(dim, 'V', sizeof dim - 1);
    dim[63] = '\0';
    memset(field, 'f', sizeof field - 1);
    field[255] = '\0';
    snprintf(yaml, sizeof yaml,
             "heed: 1\ninputs: {%s: [B, S], y: [B]}\n"
             "data:\n  %s: {column: 0, tokens: chars, vocab: %s}\n"
             "  y: {column: 1, tokens: label, vocab: C}\n"
             "nodes:\n  e: {op: Embedding, in: %s, vocab: %s, dim: 4}\n"
             "  p: {op: MeanPool, in: e}\n  logits: {op: Affine, in: p, units: C}\n"
             "loss: {op: CrossEntropy, logits: logits, target: y}\n",
             field, field, dim, field, dim);
    char tsv[128], path[128];
    tmp_path("names.tsv", tsv, sizeof tsv);
    tmp_path("names.safetensors", path, sizeof path);
    write_bytes(tsv, "ab\tx\nba\ty\ncd\tz\n", 15);
    heed_model *m = tu_model("names.yaml", yaml);
    heed_vocab *v;
    heed_weights *w, *back;
    heed_diag d;
    heed_field_tokens words = {field, "words"};
    assert_int_equal(heed_vocab_build_tokens(m, tsv, &words, 1, &v, &d), HEED_OK);
    assert_int_equal(heed_weights_new(m, v, NULL, 0, 1, &w, &d), HEED_OK);
    assert_int_equal(heed_weights_save(w, path, &d), HEED_OK);
    if (heed_weights_load(m, path, 0, &back, &d) != HEED_OK)
        fail_msg("%s", d.text);
    assert_int_equal(heed_vocab_size(heed_weights_vocab(back), field),
                     heed_vocab_size(heed_weights_vocab(w), field));
    assert_string_equal(heed_vocab_tokens(heed_weights_vocab(back), field), "words");
    heed_weights_free(back);
    heed_weights_free(w);
    heed_vocab_free(v);
    heed_model_free(m);
    /* many dims of the longest names: heed.dims holds them all (it was cut
     * at 1 KiB, and the dims past the cut were lost) */
    static char many[16384];
    int len = snprintf(many, sizeof many, "heed: 1\ndims: {");
    for (int i = 0; i < 20; i++)
        len += snprintf(many + len, sizeof many - (size_t)len, "%s%.61s%02d: %d", i ? ", " : "",
                        dim, i, i + 1);
    len += snprintf(many + len, sizeof many - (size_t)len,
                    "}\ninputs: {x: [B, 4]}\nnodes:\n  a: {op: Affine, in: x, units: %.61s19}\n",
                    dim);
    m = tu_model("many.yaml", many);
    /* made at a size other than the model's, which only heed.dims tells */
    char last[80];
    snprintf(last, sizeof last, "%.61s19", dim);
    heed_dim other = {last, 7};
    assert_int_equal(heed_weights_new(m, NULL, &other, 1, 1, &w, &d), HEED_OK);
    assert_int_equal(heed_weights_save(w, path, &d), HEED_OK);
    if (heed_weights_load(m, path, 0, &back, &d) != HEED_OK)
        fail_msg("%s", d.text);
    heed_weights_free(back);
    heed_weights_free(w);
    heed_model_free(m);
    /* long names inside a block: a node read by another, and an input */
    char node[141];
    memset(node, 'n', sizeof node - 1);
    node[140] = '\0';
    snprintf(yaml, sizeof yaml,
             "heed: 1\ninputs: {x: [B, 4]}\nblocks:\n  b:\n    inputs: [%.150s]\n"
             "    nodes:\n      %s: {op: Tanh, in: %.150s}\n      o: {op: Tanh, in: %s}\n"
             "nodes:\n  s: {block: b, in: x}\n",
             field, node, field, node);
    if (load_check("inblock.yaml", yaml, strlen(yaml), NULL, NULL, 0, &d) != HEED_OK)
        fail_msg("%s", d.text);
    /* one byte more, each */
    snprintf(yaml, sizeof yaml,
             "heed: 1\ndims: {%sW: 3}\ninputs: {x: [B, 4]}\nnodes:\n  %sg: {op: Tanh, in: x}\n",
             dim, field);
    assert_int_equal(load_check("long.yaml", yaml, strlen(yaml), NULL, NULL, 0, &d),
                     HEED_ERR_MODEL);
    assert_non_null(strstr(d.text, "long.yaml:2:8: error: dim name "
                                   "'VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV...' is longer than 63 "
                                   "bytes"));
    assert_non_null(strstr(d.text, "long.yaml:5:3: error: node name "
                                   "'ffffffffffffffffffffffffffffffff...' is longer than 255 "
                                   "bytes"));
    assert_int_equal(d.count, 2);
    /* a block's prefixes count: 200 + 1 + 100 bytes */
    snprintf(yaml, sizeof yaml,
             "heed: 1\ninputs: {x: [B, 4]}\nblocks:\n  b:\n    inputs: [h]\n    nodes:\n"
             "      %.100s: {op: Tanh, in: h}\nnodes:\n  %.200s: {block: b, in: x}\n",
             field, field);
    assert_int_equal(load_check("prefix.yaml", yaml, strlen(yaml), NULL, NULL, 0, &d),
                     HEED_ERR_MODEL);
    assert_non_null(strstr(d.text, "is longer than 255 bytes (with its blocks' prefixes)"));
}

/* Invalid UTF-8 is found by libyaml's reader, which gives a byte offset; the
 * position must still be the offending byte's line and column. */
static void invalid_utf8_in_yaml(void **state)
{
    (void)state;
    const struct {
        const char *yaml, *message;
        int line, col;
    } cases[] = {
        {"heed: 1\ninputs: {x: [B, 4]}\nnodes:\n  a: {op: Tanh, in: x}\n  \xff\xfe: {op: Tanh, "
         "in: a}\n",
         "YAML: invalid leading UTF-8 octet (0xFF)", 5, 3},
        {"heed: 1\ninputs: {x: [B, 4]}\nnodes:\n  a: {op: Tanh, in: x}  # caf\xc3\n",
         "YAML: invalid trailing UTF-8 octet (0x0A)", 4, 31},
        {"heed: 1\ninputs: {x: [B, 4]}\nnodes:\n  a: {op: Tanh, in: x}  # caf\xc3",
         "YAML: incomplete UTF-8 octet sequence", 4, 30},
        {"heed: 1\nname: \"\xc0\xaf\"\n", "YAML: invalid length of a UTF-8 sequence", 2, 8},
        {"heed: 1\nname: a\x1b[2Jb\n", "YAML: control characters are not allowed (0x1B)", 2, 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        heed_diag d;
        const char *y = cases[i].yaml;
        assert_int_equal(load_check("utf8.yaml", y, strlen(y), NULL, NULL, 0, &d),
                         HEED_ERR_SYNTAX);
        expect_diag(&d, HEED_ERR_SYNTAX, "utf8.yaml", cases[i].line, cases[i].col,
                    cases[i].message);
        assert_printable(d.text);
    }
}

/* An empty file, or one of only comments and blank lines, is not a model. */
static void empty_model_file(void **state)
{
    (void)state;
    const char *texts[] = {"", "\n\n", "# only a comment\n", "---\n", "~\n"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        heed_diag d;
        assert_int_equal(load_check("empty.yaml", texts[i], strlen(texts[i]), NULL, NULL, 0, &d),
                         HEED_ERR_MODEL);
        expect_diag(&d, HEED_ERR_MODEL, "empty.yaml", 0, 0, "empty.yaml: error: the model file "
                                                            "is empty");
    }
    char path[128];
    tmp_path("empty.yaml", path, sizeof path);
    write_bytes(path, "", 0);
    heed_model *m = NULL;
    heed_diag d;
    assert_int_equal(heed_model_load_file(path, NULL, &m, &d), HEED_ERR_MODEL);
    expect_diag(&d, HEED_ERR_MODEL, path, 0, 0, "the model file is empty");
    assert_null(m);
    unlink(path);
}

/* Random bytes: with a NUL, the NUL is named at its line and column; without,
 * some syntax or model error, never a crash, always printable. */
static void binary_junk_model(void **state)
{
    (void)state;
    const char junk[] = "\x7f" "ELF\x02\x01\x01\n\x1b[31m\x00\x00\x01";
    heed_diag d;
    assert_int_equal(load_check("junk.yaml", junk, sizeof junk - 1, NULL, NULL, 0, &d),
                     HEED_ERR_SYNTAX);
    expect_diag(&d, HEED_ERR_SYNTAX, "junk.yaml", 2, 6,
                "the file contains a NUL byte (is it a binary file?)");
    assert_printable(d.text);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    unsigned char buf[512];
    for (int round = 0; round < 300; round++) {
        size_t n = 1 + next_byte(&seed) + (size_t)next_byte(&seed);
        for (size_t i = 0; i < n; i++)
            buf[i] = next_byte(&seed);
        if (round % 2) /* half without NULs, to reach the parser */
            for (size_t i = 0; i < n; i++)
                buf[i] = buf[i] ? buf[i] : 'x';
        heed_status st = load_check("junk.yaml", (const char *)buf, n, NULL, NULL, 0, &d);
        if (st != HEED_ERR_SYNTAX && st != HEED_ERR_MODEL && st != HEED_ERR_LIMIT)
            fail_msg("round %d: status %d (%s)", round, st, d.text);
        assert_string_equal(d.file, "junk.yaml");
        assert_true(d.message[0] != '\0');
        assert_printable(d.text);
    }
}

/* ------------------------------------------------------------ weights files */

static const char *model_a = "heed: 1\n"
                             "name: a\n"
                             "inputs: {x: [B, 4]}\n"
                             "nodes:\n"
                             "  h: {op: Affine, in: x, units: 3}\n"
                             "  o: {op: Affine, in: h, units: 2}\n"
                             "  q: {op: Affine, in: o, units: 2}\n";

/* Shares h with model a, has o with another shape and p instead of q. */
static const char *model_b = "heed: 1\n"
                             "name: b\n"
                             "inputs: {x: [B, 4]}\n"
                             "nodes:\n"
                             "  h: {op: Affine, in: x, units: 3}\n"
                             "  o: {op: Affine, in: h, units: 5}\n"
                             "  p: {op: Affine, in: o, units: 2}\n";

/* The single-layer model the hand-written files below are for: h.weight
 * [3,4] and h.bias [3], 48 + 12 bytes of F32. */
static const char *model_h = "heed: 1\n"
                             "name: h\n"
                             "inputs: {x: [B, 4]}\n"
                             "nodes:\n"
                             "  h: {op: Affine, in: x, units: 3}\n";

/* Writes a safetensors file: the 8-byte little-endian header length (that of
 * `header` unless `hlen` is not 0), the header, then `data_len` bytes. */
static void write_st(const char *path, uint64_t hlen, const char *header, size_t data_len)
{
    size_t n = strlen(header);
    unsigned char *buf = calloc(8 + n + data_len + 1, 1);
    assert_non_null(buf);
    uint64_t len = hlen ? hlen : n;
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(len >> (8 * i));
    memcpy(buf + 8, header, n);
    for (size_t i = 0; i < data_len; i++) /* 1.0f as little-endian words */
        buf[8 + n + i] = (unsigned char[]){0x00, 0x00, 0x80, 0x3f}[i % 4];
    write_bytes(path, buf, 8 + n + data_len);
    free(buf);
}

/* Loads `path` into model_h; asserts a HEED_ERR_WEIGHTS naming the file and
 * `needle`. */
static void expect_weights_error(const char *path, unsigned flags, const char *needle)
{
    heed_model *m = tu_model("h.yaml", model_h);
    heed_weights *w = NULL;
    heed_diag d;
    assert_int_equal(heed_weights_load(m, path, flags, &w, &d), HEED_ERR_WEIGHTS);
    expect_diag(&d, HEED_ERR_WEIGHTS, path, 0, 0, needle);
    assert_null(w);
    assert_printable(d.text);
    heed_model_free(m);
}

#define H_BIAS "\"h.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[48,60]}"

/* A valid file cut short: the offsets point past the end of the data. */
static void weights_truncated(void **state)
{
    (void)state;
    char path[128];
    tmp_path("trunc.safetensors", path, sizeof path);
    heed_model *m = tu_model("h.yaml", model_h);
    heed_weights *w;
    heed_diag d;
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 1, &w, &d), HEED_OK);
    assert_int_equal(heed_weights_save(w, path, &d), HEED_OK);
    heed_weights_free(w);
    heed_model_free(m);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    /* the last tensor loses its last 4 bytes */
    assert_int_equal(truncate(path, sb.st_size - 4), 0);
    expect_weights_error(path, 0, "data_offsets [48, 60] lie outside the 56 data bytes "
                                  "(truncated file or a header that lies?)");
    expect_weights_error(path, HEED_LOAD_PARTIAL, "tensor 'h.bias'");
    /* cut inside the header, and inside the length */
    assert_int_equal(truncate(path, 40), 0);
    expect_weights_error(path, 0, "the header length says");
    assert_int_equal(truncate(path, 5), 0);
    expect_weights_error(path, 0, "the file has 5 bytes; a safetensors file starts with an 8-byte "
                                  "header length");
    write_bytes(path, "", 0);
    expect_weights_error(path, 0, "the file has 0 bytes");
}

/* model_h's two tensors with heed.dims `dims` in the metadata. */
static void write_h_dims(const char *path, const char *dims)
{
    char header[512];
    snprintf(header, sizeof header,
             "{\"__metadata__\":{\"heed.dims\":\"%s\"},"
             "\"h.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}," H_BIAS "}",
             dims);
    write_st(path, 0, header, 60);
}

/* Sizes read from a file's metadata that the model refuses: the error names
 * the weights file first, then says where in the model the size went. */
static void weights_sizes_refused(void **state)
{
    (void)state;
    char path[128];
    tmp_path("sizes.safetensors", path, sizeof path);
    static const char model_u[] = "heed: 1\nname: u\ndims: {U: 3}\ninputs: {x: [B, T, 4]}\n"
                                  "nodes:\n  h: {op: Affine, in: x, units: 3}\n"
                                  "  r: {op: GRU, in: h, hidden: 3, layers: U}\n";
    write_h_dims(path, "U=300");
    heed_model *m = tu_model("u.yaml", model_u);
    heed_weights *w = NULL;
    heed_diag d;
    assert_int_equal(heed_weights_load(m, path, 0, &w, &d), HEED_ERR_WEIGHTS);
    expect_diag(&d, HEED_ERR_WEIGHTS, path, 0, 0,
                "model 'u' cannot be sized as this file says (heed.dims 'U=300'):");
    assert_non_null(strstr(d.text, "u.yaml:7:42: error: node 'r': 'layers' is U = 300"));
    assert_null(w);
    /* a model that cannot be sized at any dims is the model's fault, not
     * the file's: its own error, not one naming the weights file */
    heed_model *wide = tu_model("wide_s.yaml", "heed: 1\ninputs: {x: [B, S]}\nnodes:\n"
                                               "  h: {op: Affine, in: x, units: 3}\n");
    assert_int_equal(heed_weights_load(wide, path, 0, &w, &d), HEED_ERR_SHAPE);
    assert_string_equal(d.file, "wide_s.yaml");
    heed_model_free(wide);
    /* a count that is not one is refused, not read as far as it goes */
    const char *const bad[] = {"U=2abc", "U=0", "U=", "U"};
    for (int i = 0; i < 4; i++) {
        write_h_dims(path, bad[i]);
        assert_int_equal(heed_weights_load(m, path, 0, &w, &d), HEED_ERR_WEIGHTS);
        char want[128];
        snprintf(want, sizeof want, "metadata heed.dims '%s' is not a list of NAME=N", bad[i]);
        expect_diag(&d, HEED_ERR_WEIGHTS, path, 0, 0, want);
    }
    heed_model_free(m);
}

/* A vocabulary in the metadata that cannot be one: named by its key. */
static void weights_vocabulary_refused(void **state)
{
    (void)state;
    char path[128];
    tmp_path("vocab.safetensors", path, sizeof path);
    static const char model_v[] = "heed: 1\nname: v\ninputs: {w: [B, S]}\n"
                                  "data:\n  w: {column: 0, tokens: chars, vocab: V}\n"
                                  "nodes:\n  e: {op: Embedding, in: w, vocab: V, dim: 2}\n";
    const struct {
        const char *tokens, *message;
    } cases[] = {
        {"[\\\"<pad>\\\"]", "metadata heed.vocab.V has 1 tokens; a vocabulary starts with the 4 "
                            "reserved ones"},
        {"{}", "metadata heed.vocab.V is not a JSON list"},
        {"[\\\"<pad>\\\",\\\"<unk>\\\",\\\"<bos>\\\",\\\"x\\\"]",
         "metadata heed.vocab.V: token 3 is missing, repeated, not text or not the reserved one"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char header[512];
        snprintf(header, sizeof header,
                 "{\"__metadata__\":{\"heed.vocab.V\":\"%s\"},"
                 "\"e.weight\":{\"dtype\":\"F32\",\"shape\":[4,2],\"data_offsets\":[0,32]}}",
                 cases[i].tokens);
        write_st(path, 0, header, 32);
        heed_model *m = tu_model("v.yaml", model_v);
        heed_weights *w = NULL;
        heed_diag d;
        assert_int_equal(heed_weights_load(m, path, 0, &w, &d), HEED_ERR_WEIGHTS);
        expect_diag(&d, HEED_ERR_WEIGHTS, path, 0, 0, cases[i].message);
        heed_model_free(m);
    }
}

/* The header length says more than the file holds (or than any header may). */
static void weights_header_length_too_large(void **state)
{
    (void)state;
    char path[128];
    tmp_path("hlen.safetensors", path, sizeof path);
    const uint64_t lengths[] = {(uint64_t)1 << 40, UINT64_MAX, 1000};
    for (int i = 0; i < 3; i++) {
        write_st(path, lengths[i], "{" H_BIAS "}", 12);
        char want[128];
        snprintf(want, sizeof want, "the header length says %llu bytes but only",
                 (unsigned long long)lengths[i]);
        expect_weights_error(path, 0, want);
    }
}

/* Offsets that lie: end before begin, end past the data, or a span that does
 * not fit the dtype and shape. */
static void weights_offsets_lie(void **state)
{
    (void)state;
    char path[128];
    tmp_path("lie.safetensors", path, sizeof path);
    const struct {
        const char *weight, *message;
    } cases[] = {
        {"[48,0]", "tensor 'h.weight': data_offsets [48, 0] lie outside the 60 data bytes"},
        {"[0,4096]", "tensor 'h.weight': data_offsets [0, 4096] lie outside the 60 data bytes"},
        {"[-8,40]", "tensor 'h.weight': data_offsets [-8, 40] lie outside"},
        {"[0,40]", "tensor 'h.weight': its shape and dtype need 48 bytes but its offsets span 40"},
        {"[0,\"48\"]", "tensor 'h.weight': data_offsets must be two whole numbers of bytes"},
        {"[0.5,48]", "tensor 'h.weight': data_offsets must be two whole numbers of bytes"},
        {"[0]", "tensor 'h.weight': needs dtype, shape and data_offsets [begin, end]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char header[256];
        snprintf(header, sizeof header,
                 "{\"h.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],"
                 "\"data_offsets\":%s}," H_BIAS "}",
                 cases[i].weight);
        write_st(path, 0, header, 60);
        expect_weights_error(path, 0, cases[i].message);
    }
    /* a shape whose product overflows is refused before any size is computed
     * (at its second dim, counting from 1 as every message does) */
    write_st(path, 0,
             "{\"h.weight\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
             "\"data_offsets\":[0,48]}," H_BIAS "}",
             60);
    expect_weights_error(path, 0, "tensor 'h.weight': dim 2 is invalid");
    /* elements that fit, bytes that do not: said so, not a wrapped count */
    write_st(path, 0,
             "{\"h.weight\":{\"dtype\":\"F32\",\"shape\":[4611686018427387908],"
             "\"data_offsets\":[0,48]}," H_BIAS "}",
             60);
    expect_weights_error(path, 0, "tensor 'h.weight': its shape and dtype need more bytes than a "
                                  "file can hold");
}

/* A header its writer did not pad (older safetensors writers) leaves the
 * data at any byte offset: a tensor file still hands out aligned floats
 * holding the file's values. */
static void unpadded_header_is_read(void **state)
{
    (void)state;
    char path[128];
    tmp_path("unpadded.safetensors", path, sizeof path);
    for (int extra = 0; extra < 4; extra++) {
        char header[128];
        snprintf(header, sizeof header,
                 "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}%.*s}",
                 extra, "   ");
        write_st(path, 0, header, 24);
        heed_tensor_file *f;
        heed_diag d;
        assert_int_equal(heed_tensor_file_read(path, &f, &d), HEED_OK);
        heed_tensor t;
        assert_int_equal(heed_tensor_file_get(f, 0, &t), HEED_OK);
        assert_int_equal((uintptr_t)t.data % 4, 0);
        for (int i = 0; i < 6; i++)
            assert_true(((const float *)t.data)[i] == 1.0f);
        heed_tensor_file_free(f);
    }
    /* names the header could not hold as tensors are refused on writing */
    float two[2] = {1, 2};
    const char *const names[] = {"__metadata__", ""};
    for (int i = 0; i < 2; i++) {
        heed_tensor t = {names[i], HEED_F32, 1, {2, 0, 0, 0}, two};
        heed_diag d;
        assert_int_equal(heed_tensor_file_write(path, &t, 1, &d), HEED_ERR_ARGUMENT);
    }
}

/* Two tensors sharing bytes, including an overlap that an empty tensor sorted
 * between them used to hide. */
static void weights_overlap(void **state)
{
    (void)state;
    char path[128];
    tmp_path("overlap.safetensors", path, sizeof path);
    write_st(path, 0,
             "{\"h.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]},"
             "\"h.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[40,52]}}",
             60);
    expect_weights_error(path, 0, "tensors 'h.weight' and 'h.bias' overlap in the data section");
    write_st(path, 0,
             "{\"h.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]},"
             "\"empty\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
             "\"h.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[36,48]}}",
             60);
    expect_weights_error(path, 0, "tensors 'h.weight' and 'h.bias' overlap in the data section");
}

/* F64 or I32 data for a float parameter is a mismatch, named with the tensor. */
static void weights_wrong_dtype(void **state)
{
    (void)state;
    char path[128];
    tmp_path("dtype.safetensors", path, sizeof path);
    write_st(path, 0,
             "{\"h.weight\":{\"dtype\":\"F64\",\"shape\":[3,4],\"data_offsets\":[0,96]},"
             "\"h.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[96,108]}}",
             108);
    expect_weights_error(path, 0, "the file does not match model 'h': 1 matched, 0 missing, 0 "
                                  "unexpected, 1 mismatched");
    expect_weights_error(path, 0, "mismatched: h.weight is non-F32 [3,4] in the file, the model "
                                  "needs F32 [3,4]");
    write_st(path, 0,
             "{\"h.weight\":{\"dtype\":\"I32\",\"shape\":[3,4],\"data_offsets\":[0,48]},"
             H_BIAS "}",
             60);
    expect_weights_error(path, 0, "mismatched: h.weight is non-F32 [3,4]");
    write_st(path, 0,
             "{\"h.weight\":{\"dtype\":\"Q4\",\"shape\":[3,4],\"data_offsets\":[0,48]}," H_BIAS "}",
             60);
    expect_weights_error(path, 0, "tensor 'h.weight': unknown dtype 'Q4'");
}

/* Right dtype, wrong shape (transposed, or another rank). */
static void weights_wrong_shape(void **state)
{
    (void)state;
    char path[128];
    tmp_path("shape.safetensors", path, sizeof path);
    write_st(path, 0,
             "{\"h.weight\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,48]},"
             H_BIAS "}",
             60);
    expect_weights_error(path, 0, "mismatched: h.weight is F32 [4,3] in the file, the model needs "
                                  "F32 [3,4]");
    write_st(path, 0,
             "{\"h.weight\":{\"dtype\":\"F32\",\"shape\":[12],\"data_offsets\":[0,48]}," H_BIAS "}",
             60);
    expect_weights_error(path, 0, "mismatched: h.weight is F32 [12] in the file, the model needs "
                                  "F32 [3,4]");
}

/* Random bytes, a header that is not JSON, or JSON that is not a header. */
static void weights_junk(void **state)
{
    (void)state;
    char path[128];
    tmp_path("junk.safetensors", path, sizeof path);
    uint64_t seed = 12345;
    unsigned char buf[256];
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = next_byte(&seed);
        if (round % 2) /* a plausible length, to reach the JSON parser */
            buf[0] = 200, memset(buf + 1, 0, 7);
        write_bytes(path, buf, sizeof buf);
        expect_weights_error(path, 0, path);
    }
    write_st(path, 0, "{\"h.weight\": [1, 2", 60);
    expect_weights_error(path, 0, "the header is not valid JSON");
    write_st(path, 0, "[1, 2, 3]", 60);
    expect_weights_error(path, 0, "the header is not a JSON object of tensors");
    write_st(path, 0, "{\"h.weight\": 7}", 60);
    expect_weights_error(path, 0, "tensor 'h.weight': its header entry is not an object");
    write_st(path, 0, "{\"h.bias\": {}, \"h.bias\": {}}", 60);
    expect_weights_error(path, 0, "the header is not valid JSON: duplicate object key");
}

/* Copies a parameter's values. */
static float *param_copy(heed_weights *w, const char *name, size_t *n)
{
    heed_tensor t;
    assert_int_equal(heed_weights_find(w, name, &t), HEED_OK);
    *n = tu_numel(&t);
    float *copy = malloc(*n * sizeof *copy);
    assert_non_null(copy);
    memcpy(copy, t.data, *n * sizeof *copy);
    return copy;
}

static void assert_param_equals(heed_weights *w, const char *name, const float *want)
{
    heed_tensor t;
    assert_int_equal(heed_weights_find(w, name, &t), HEED_OK);
    assert_memory_equal(t.data, want, tu_numel(&t) * sizeof(float));
}

/* Saves model a's weights (seed 7, so they differ from any load's init). */
static void save_model_a(const char *path)
{
    heed_model *a = tu_model("a.yaml", model_a);
    heed_weights *w;
    heed_diag d;
    assert_int_equal(heed_weights_new(a, NULL, NULL, 0, 7, &w, &d), HEED_OK);
    assert_int_equal(heed_weights_save(w, path, &d), HEED_OK);
    heed_weights_free(w);
    heed_model_free(a);
}

/* A file made for another graph: nothing matches. */
static void weights_for_another_graph(void **state)
{
    (void)state;
    char path[128];
    tmp_path("a.safetensors", path, sizeof path);
    save_model_a(path);
    heed_model *other = tu_model("other.yaml", "heed: 1\n"
                                               "name: other\n"
                                               "inputs: {x: [B, 4]}\n"
                                               "nodes: {z: {op: Affine, in: x, units: 3}}\n");
    heed_weights *w = NULL;
    heed_diag d;
    for (unsigned flags = 0; flags <= HEED_LOAD_PARTIAL; flags += HEED_LOAD_PARTIAL) {
        assert_int_equal(heed_weights_load(other, path, flags, &w, &d), HEED_ERR_WEIGHTS);
        expect_diag(&d, HEED_ERR_WEIGHTS, path, 0, 0,
                    "the file does not match model 'other': 0 matched, 2 missing, 6 unexpected, "
                    "0 mismatched\n");
        const char *notes[] = {"= note: missing: z.weight", "= note: missing: z.bias",
                               "= note: unexpected: h.weight", "= note: unexpected: q.bias"};
        for (int i = 0; i < 4; i++)
            if (!strstr(d.text, notes[i]))
                fail_msg("missing: %s\nin:\n%s", notes[i], d.text);
        assert_null(w);
    }
    heed_model_free(other);
}

/* A partial match is an error that names every difference, unless asked for:
 * then the matches load and the rest keep their initialisation. */
static void weights_partial_match(void **state)
{
    (void)state;
    char path[128];
    tmp_path("a.safetensors", path, sizeof path);
    save_model_a(path);
    heed_model *b = tu_model("b.yaml", model_b);
    heed_weights *w = NULL;
    heed_diag d;
    assert_int_equal(heed_weights_load(b, path, 0, &w, &d), HEED_ERR_WEIGHTS);
    expect_diag(&d, HEED_ERR_WEIGHTS, path, 0, 0,
                "the file does not match model 'b': 2 matched, 2 missing, 2 unexpected, 2 "
                "mismatched (a partial match loads only when asked for: HEED_LOAD_PARTIAL, "
                "heed train --init --partial)");
    const char *notes[] = {"= note: missing: p.weight", "= note: missing: p.bias",
                           "= note: unexpected: q.weight", "= note: unexpected: q.bias",
                           "= note: mismatched: o.weight is F32 [2,3] in the file, the model "
                           "needs F32 [5,3]",
                           "= note: mismatched: o.bias is F32 [2] in the file, the model needs "
                           "F32 [5]"};
    for (int i = 0; i < 6; i++)
        if (!strstr(d.text, notes[i]))
            fail_msg("missing: %s\nin:\n%s", notes[i], d.text);
    assert_null(w);

    assert_int_equal(heed_weights_load(b, path, HEED_LOAD_PARTIAL, &w, &d), HEED_OK);
    /* the matched tensors hold the saved values ... */
    heed_model *a = tu_model("a.yaml", model_a);
    heed_weights *saved, *init;
    assert_int_equal(heed_weights_load(a, path, 0, &saved, &d), HEED_OK);
    const char *matched[] = {"h.weight", "h.bias"};
    for (int i = 0; i < 2; i++) {
        size_t n;
        float *want = param_copy(saved, matched[i], &n);
        assert_param_equals(w, matched[i], want);
        free(want);
    }
    /* ... the others the model's own initialisation */
    heed_train_config tc;
    heed_model_train_config(b, &tc);
    assert_int_equal(heed_weights_new(b, NULL, NULL, 0, tc.seed, &init, &d), HEED_OK);
    const char *kept[] = {"o.weight", "o.bias", "p.weight", "p.bias"};
    for (int i = 0; i < 4; i++) {
        size_t n;
        float *want = param_copy(init, kept[i], &n);
        assert_param_equals(w, kept[i], want);
        free(want);
    }
    /* and the saved h differs from b's init, so the copy was real */
    size_t n;
    float *h_init = param_copy(init, "h.weight", &n);
    heed_tensor h;
    assert_int_equal(heed_weights_find(w, "h.weight", &h), HEED_OK);
    assert_true(memcmp(h.data, h_init, n * sizeof(float)) != 0);
    free(h_init);
    heed_weights_free(init);
    heed_weights_free(saved);
    heed_weights_free(w);
    heed_model_free(a);
    heed_model_free(b);
}

/* ------------------------------------------------------------ data files */

static const char *data_model = "heed: 1\n"
                                "dims: {E: 4}\n"
                                "inputs: {src: [B, S], tgt: [B, T]}\n"
                                "data:\n"
                                "  src: {column: 0, tokens: chars, vocab: V_src}\n"
                                "  tgt: {column: 1, tokens: chars, vocab: V_tgt}\n"
                                "nodes:\n"
                                "  a: {op: Embedding, in: src, vocab: V_src, dim: E}\n"
                                "  b: {op: Embedding, in: tgt, vocab: V_tgt, dim: E}\n";

static const char good_rows[] = "abc\tcba\nbca\tacb\n";

/* Writes `rows` as a TSV file; with a vocabulary from good rows, asserts that
 * both building a vocabulary from it (when `vocab_too`) and loading it as a
 * dataset fail with `st` at path:line:col and `needle`. */
static void expect_data_error(const char *name, const char *rows, size_t len, bool vocab_too,
                              heed_status st, int line, int col, const char *needle)
{
    char good[128], bad[128];
    tmp_path("good.tsv", good, sizeof good);
    tmp_path(name, bad, sizeof bad);
    write_bytes(good, good_rows, sizeof good_rows - 1);
    write_bytes(bad, rows, len);
    heed_model *m = tu_model("data.yaml", data_model);
    heed_vocab *v = NULL, *v2 = NULL;
    heed_dataset *ds = NULL;
    heed_diag d;
    assert_int_equal(heed_vocab_build(m, good, &v, &d), HEED_OK);
    assert_int_equal(heed_dataset_load(m, v, bad, &ds, &d), st);
    expect_diag(&d, st, bad, line, col, needle);
    assert_null(ds);
    assert_printable(d.text);
    if (vocab_too) {
        assert_int_equal(heed_vocab_build(m, bad, &v2, &d), st);
        expect_diag(&d, st, bad, line, col, needle);
        assert_null(v2);
    }
    heed_vocab_free(v);
    heed_model_free(m);
}

static void data_too_few_columns(void **state)
{
    (void)state;
    const char rows[] = "abc\tcba\n\nbca\n";
    expect_data_error("cols.tsv", rows, sizeof rows - 1, true, HEED_ERR_DATA, 3, 1,
                      "the row has 1 column but field 'tgt' reads column 1 (columns are "
                      "separated by tabs and counted from 0)");
}

static void data_invalid_utf8(void **state)
{
    (void)state;
    const char *rows[] = {"abc\tcba\nb\xff\tacb\n", "abc\tcba\nbc\tac\xe2\x82\n",
                          "abc\tcba\nb\xed\xa0\x80\tx\n", "abc\tcba\nb\xc1\xbf\tx\n"};
    for (int i = 0; i < 4; i++)
        expect_data_error("utf8.tsv", rows[i], strlen(rows[i]), true, HEED_ERR_DATA, 2, 1,
                          i == 1 ? "column 1 (field 'tgt') is not valid UTF-8"
                                 : "column 0 (field 'src') is not valid UTF-8");
}

/* A line over 1 MiB is refused while it is read; a row within it but with more
 * tokens than a field may have is refused when loaded. */
static void data_overlong_line(void **state)
{
    (void)state;
    size_t n = ((size_t)1 << 20) + 16;
    char *rows = malloc(n + 16);
    assert_non_null(rows);
    size_t len = (size_t)sprintf(rows, "abc\tcba\n");
    memset(rows + len, 'a', n);
    len += n;
    rows[len++] = '\n';
    expect_data_error("long.tsv", rows, len, true, HEED_ERR_LIMIT, 2, 1,
                      "the line is longer than the limit of 1048576 bytes");
    len = (size_t)sprintf(rows, "abc\tcba\nab\t");
    memset(rows + len, 'c', 5000);
    len += 5000;
    rows[len++] = '\n';
    expect_data_error("tokens.tsv", rows, len, false, HEED_ERR_LIMIT, 2, 1,
                      "field 'tgt' has more than the limit of 4096 tokens");
    free(rows);
}

static void data_empty_file(void **state)
{
    (void)state;
    const char *texts[] = {"", "\n\n\r\n"};
    for (int i = 0; i < 2; i++)
        expect_data_error("empty.tsv", texts[i], strlen(texts[i]), false, HEED_ERR_DATA, 0, 0,
                          "the file has no rows");
}

static void data_binary_junk(void **state)
{
    (void)state;
    const char rows[] = "abc\tcba\nab\x00\x1b[2J\tx\n";
    /* the NUL is the third byte of line 2 */
    expect_data_error("nul.tsv", rows, sizeof rows - 1, true, HEED_ERR_DATA, 2, 3,
                      "the line contains a NUL byte");
}

/* ------------------------------------------------------------ numerics */

/* With numerics checked, the first node producing an infinity is named with
 * its YAML position; unchecked, the same forward pass succeeds. */
static void check_numerics_names_node(void **state)
{
    (void)state;
    heed_model *m = tu_model("inf.yaml", "heed: 1\n"
                                         "inputs: {x: [B, 4]}\n"
                                         "nodes:\n"
                                         "  a: {op: Tanh, in: x}\n"
                                         "  big: {op: Add, in: [x, x, a]}\n");
    heed_weights *w;
    heed_session *s;
    heed_diag d;
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 1, &w, &d), HEED_OK);
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s, &d), HEED_OK);
    float x[8];
    for (int i = 0; i < 8; i++)
        x[i] = FLT_MAX; /* finite, but x + x is not */
    heed_tensor t = {"x", HEED_F32, 2, {2, 4, 0, 0}, x};
    assert_int_equal(heed_session_set_input(s, "x", &t, &d), HEED_OK);
    assert_int_equal(heed_session_forward(s, &d), HEED_OK);
    heed_session_check_numerics(s, 1);
    assert_int_equal(heed_session_set_input(s, "x", &t, &d), HEED_OK);
    assert_int_equal(heed_session_forward(s, &d), HEED_ERR_NUMERICS);
    expect_diag(&d, HEED_ERR_NUMERICS, "inf.yaml", 5, 3,
                "node 'big' (Add) produced a NaN or infinity in big during forward");
    assert_string_equal(d.node, "big");
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(m);
}

/* One Affine under an MSE loss: the training steps below feed it losses
 * and gradients too large for float. */
static const char *mse_model = "heed: 1\n"
                               "inputs: {x: [B, 4], y: [B, 2]}\n"
                               "nodes:\n"
                               "  h: {op: Affine, in: x, units: 2}\n"
                               "loss: {op: MSE, in: h, target: y}\n";

/* A training step whose loss is infinite refuses to touch the weights. */
static void diverging_step_keeps_weights(void **state)
{
    (void)state;
    heed_model *m = tu_model("diverge.yaml", mse_model);
    heed_weights *w;
    heed_session *s;
    heed_diag d;
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 1, &w, &d), HEED_OK);
    assert_int_equal(heed_session_new(w, HEED_MODE_TRAIN, &s, &d), HEED_OK);
    float x[8], y[4];
    for (int i = 0; i < 8; i++)
        x[i] = 0.5f;
    for (int i = 0; i < 4; i++)
        y[i] = FLT_MAX; /* the squared error overflows */
    heed_tensor tx = {"x", HEED_F32, 2, {2, 4, 0, 0}, x}, ty = {"y", HEED_F32, 2, {2, 2, 0, 0}, y};
    size_t n;
    float *before = param_copy(w, "h.weight", &n);
    assert_int_equal(heed_session_set_input(s, "x", &tx, &d), HEED_OK);
    assert_int_equal(heed_session_set_input(s, "y", &ty, &d), HEED_OK);
    float loss = 0;
    assert_int_equal(heed_session_train_step(s, &loss, &d), HEED_ERR_NUMERICS);
    assert_true(isinf(loss));
    expect_diag(&d, HEED_ERR_NUMERICS, "", 0, 0,
                "the loss is infinite at step 1: training diverged (lower the learning rate or "
                "set train: clip); weights left unchanged");
    assert_param_equals(w, "h.weight", before);
    assert_int_equal(heed_weights_steps(w), 0);
    /* a sane batch afterwards trains normally */
    for (int i = 0; i < 4; i++)
        y[i] = 1.0f;
    assert_int_equal(heed_session_set_input(s, "x", &tx, &d), HEED_OK);
    assert_int_equal(heed_session_set_input(s, "y", &ty, &d), HEED_OK);
    assert_int_equal(heed_session_train_step(s, &loss, &d), HEED_OK);
    assert_int_equal(heed_weights_steps(w), 1);
    free(before);
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(m);
}

/* A finite gradient too large for Adam's float moments (its square
 * overflows) is refused like an infinite one: the old update made a
 * second moment infinite and froze its parameter without a word. */
static void huge_gradient_keeps_weights(void **state)
{
    (void)state;
    heed_model *m = tu_model("huge.yaml", mse_model);
    heed_weights *w;
    heed_session *s;
    heed_diag d;
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 1, &w, &d), HEED_OK);
    assert_int_equal(heed_session_new(w, HEED_MODE_TRAIN, &s, &d), HEED_OK);
    float x[8] = {1e10f, 0, 0, 0, 1e10f, 0, 0, 0}, y[4] = {0};
    heed_tensor tx = {"x", HEED_F32, 2, {2, 4, 0, 0}, x}, ty = {"y", HEED_F32, 2, {2, 2, 0, 0}, y};
    size_t n;
    float *before = param_copy(w, "h.weight", &n);
    assert_int_equal(heed_session_set_input(s, "x", &tx, &d), HEED_OK);
    assert_int_equal(heed_session_set_input(s, "y", &ty, &d), HEED_OK);
    float loss = 0;
    assert_int_equal(heed_session_train_step(s, &loss, &d), HEED_ERR_NUMERICS);
    assert_true(isfinite(loss) && loss > 1e18f); /* the loss itself was fine */
    assert_non_null(strstr(d.message, "more than the optimizer's float state holds"));
    assert_param_equals(w, "h.weight", before);
    assert_int_equal(heed_weights_steps(w), 0);
    /* the moments are untouched: a sane batch trains and moves the weights */
    x[0] = x[4] = 1.0f;
    assert_int_equal(heed_session_set_input(s, "x", &tx, &d), HEED_OK);
    assert_int_equal(heed_session_train_step(s, &loss, &d), HEED_OK);
    assert_int_equal(heed_weights_steps(w), 1);
    heed_tensor t;
    assert_int_equal(heed_weights_find(w, "h.weight", &t), HEED_OK);
    assert_true(isfinite(((float *)t.data)[0]) && ((float *)t.data)[0] != before[0]);
    free(before);
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(m);
}

/* A learned position table bounds the sequence: a fixed length past it is a
 * compile error at the node; a run-time length (S) compiles whatever the
 * tools' placeholder (16) and is checked against each batch's length. */
static void learned_positions_bound_the_length(void **state)
{
    (void)state;
    static const char *fixed = "heed: 1\n"
                               "inputs: {x: [B, 12, 4]}\n"
                               "nodes:\n"
                               "  p: {op: PositionalEncoding, in: x, kind: learned, max_len: 8}\n";
    tu_expect_errors("pos.yaml", fixed,
                     "pos.yaml:4:3: error: node 'p': the sequence has 12 steps but the learned "
                     "table holds max_len = 8",
                     NULL);
    heed_model *m = tu_model("pos.yaml", "heed: 1\n"
                                         "inputs: {x: [B, S, 4]}\n"
                                         "nodes:\n"
                                         "  p: {op: PositionalEncoding, in: x, kind: learned, "
                                         "max_len: 8}\n");
    heed_weights *w;
    heed_session *s;
    heed_diag d;
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 1, &w, &d), HEED_OK);
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s, &d), HEED_OK);
    float x[9 * 4] = {0};
    for (int S = 8; S <= 9; S++) {
        heed_tensor t = {"x", HEED_F32, 3, {1, S, 4, 0}, x};
        assert_int_equal(heed_session_set_input(s, "x", &t, &d), HEED_OK);
        heed_status st = heed_session_forward(s, &d);
        if (S == 8) {
            assert_int_equal(st, HEED_OK);
            continue;
        }
        assert_int_equal(st, HEED_ERR_LIMIT);
        expect_diag(&d, HEED_ERR_LIMIT, "pos.yaml", 4, 3,
                    "node 'p': position 8 is past the learned table's max_len = 8 (the sequence "
                    "has 9 steps from position 0)");
    }
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(m);
}

/* A display name with a line break and terminal escapes cannot forge a line
 * of the diagnostic text nor reach a terminal. */
static void names_cannot_forge_lines(void **state)
{
    (void)state;
    const char bad[] = "heed: 1\nnodes:\n  t: {op: Tanh, in: nope}\n";
    heed_model *m = NULL;
    heed_diag d;
    assert_int_not_equal(heed_model_load_string(bad, sizeof bad - 1,
                                                "evil\n\x1b[2Jfake.yaml:1:1: error: all good",
                                                NULL, &m, &d),
                         HEED_OK);
    assert_null(m);
    assert_null(strchr(d.text, '\x1b'));
    assert_null(strstr(d.text, "\nfake.yaml"));
    assert_non_null(strstr(d.text, "evil??[2Jfake.yaml:1:1: error: all good:3:"));
}

/* A fed input past 2^40 elements is refused by its element count (not
 * allocated, not blamed on a dim that is in range), a bad dim by its
 * 1-based index, a dtype outside the enum as such. */
static void fed_inputs_within_limits(void **state)
{
    (void)state;
    heed_model *m = tu_model("feed.yaml", "heed: 1\ninputs: {x: [B, S]}\n"
                                          "nodes:\n  t: {op: Tanh, in: x}\n");
    heed_weights *w;
    heed_session *s;
    heed_diag d;
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 1, &w, &d), HEED_OK);
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s, &d), HEED_OK);
    const int64_t big[][2] = {{(int64_t)1 << 31, 1024}, {(int64_t)1 << 31, (int64_t)1 << 31}};
    for (int i = 0; i < 2; i++) {
        heed_tensor t = {"x", HEED_F32, 2, {big[i][0], big[i][1], 0, 0}, NULL};
        assert_int_equal(heed_session_set_input(s, "x", &t, &d), HEED_ERR_LIMIT);
        assert_non_null(strstr(d.message, "input 'x' is too large: more than 2^40 elements"));
    }
    heed_tensor neg = {"x", HEED_F32, 2, {2, -4, 0, 0}, NULL};
    assert_int_equal(heed_session_set_input(s, "x", &neg, &d), HEED_ERR_SHAPE);
    assert_non_null(strstr(d.message, "input 'x': dim 2 is -4, outside 1..2147483648"));
    heed_tensor odd = {"x", (heed_dtype)7, 2, {2, 2, 0, 0}, NULL};
    assert_int_equal(heed_session_set_input(s, "x", &odd, &d), HEED_ERR_ARGUMENT);
    assert_non_null(strstr(d.message, "dtype 7 is neither HEED_F32 nor HEED_I32"));
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(m);
}

/* Whether s ends on a whole UTF-8 character. */
static bool ends_whole(const char *s)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i == 0)
        return n == 0;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    return n - (i - 1) == want;
}

/* A message longer than the diagnostic's fields is cut between characters,
 * never inside a UTF-8 sequence, at either possible alignment. */
static void long_messages_cut_whole_characters(void **state)
{
    (void)state;
    for (int shift = 0; shift < 2; shift++) {
        char yaml[2048];
        int len = snprintf(yaml, sizeof yaml, "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n  a%s: {op: ",
                           shift ? "b" : "");
        for (int i = 0; i < 600; i++)
            len += snprintf(yaml + len, sizeof yaml - (size_t)len, "\xc3\xa9");
        snprintf(yaml + len, sizeof yaml - (size_t)len, ", in: x}\n");
        heed_diag d;
        assert_int_not_equal(tu_check("long.yaml", yaml, &d), HEED_OK);
        assert_true(strlen(d.message) > 900);
        assert_true(ends_whole(d.message));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alias_expansion_is_limited),
        cmocka_unit_test(nesting_depth_is_limited),
        cmocka_unit_test(file_size_is_limited),
        cmocka_unit_test(node_count_is_limited),
        cmocka_unit_test(nested_block_errors_are_limited),
        cmocka_unit_test(block_inputs_not_names),
        cmocka_unit_test(dim_product_overflow),
        cmocka_unit_test(zero_and_negative_dims),
        cmocka_unit_test(nan_and_inf_attributes),
        cmocka_unit_test(name_lengths),
        cmocka_unit_test(invalid_utf8_in_yaml),
        cmocka_unit_test(empty_model_file),
        cmocka_unit_test(binary_junk_model),
        cmocka_unit_test(weights_truncated),
        cmocka_unit_test(weights_sizes_refused),
        cmocka_unit_test(weights_vocabulary_refused),
        cmocka_unit_test(weights_header_length_too_large),
        cmocka_unit_test(weights_offsets_lie),
        cmocka_unit_test(weights_overlap),
        cmocka_unit_test(weights_wrong_dtype),
        cmocka_unit_test(weights_wrong_shape),
        cmocka_unit_test(weights_junk),
        cmocka_unit_test(weights_for_another_graph),
        cmocka_unit_test(weights_partial_match),
        cmocka_unit_test(data_too_few_columns),
        cmocka_unit_test(data_invalid_utf8),
        cmocka_unit_test(data_overlong_line),
        cmocka_unit_test(data_empty_file),
        cmocka_unit_test(data_binary_junk),
        cmocka_unit_test(check_numerics_names_node),
        cmocka_unit_test(diverging_step_keeps_weights),
        cmocka_unit_test(huge_gradient_keeps_weights),
        cmocka_unit_test(learned_positions_bound_the_length),
        cmocka_unit_test(names_cannot_forge_lines),
        cmocka_unit_test(fed_inputs_within_limits),
        cmocka_unit_test(unpadded_header_is_read),
        cmocka_unit_test(long_messages_cut_whole_characters),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
