/*
 * test_api.c - the library's promises to applications:
 *   - every allocation of loading, compiling, a training step, saving,
 *     reloading and decoding may fail, and each failure comes back as a status
 *     with nothing leaked (an allocator hook fails the n-th allocation, for
 *     every n, and counts what is still live afterwards);
 *   - so may jansson's allocations while saving (its own allocation hook);
 *   - vocabularies built for another model are refused;
 *   - two threads, each with its own session sharing one set of weights,
 *     give the same outputs as one thread;
 *   - version macros and calls agree;
 *   - denormals are flushed while heed computes, and the caller's floating-
 *     point mode is back afterwards.
 */
#include <pthread.h>
#include <unistd.h>

#include <float.h>
#include <stdint.h>
#include <jansson.h>
#include <math.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "testutil.h"

/* ------------------------------------------------------------ allocator */

typedef struct counting {
    long calls;   /* allocations asked for so far */
    long fail_at; /* the one to refuse (1-based), 0: none */
    long live;    /* blocks not yet freed */
    bool failed;
} counting;

static void *c_alloc(void *user, size_t n)
{
    counting *c = user;
    if (++c->calls == c->fail_at) {
        c->failed = true;
        return NULL;
    }
    void *p = malloc(n);
    c->live += p != NULL;
    return p;
}

static void *c_realloc(void *user, void *ptr, size_t n)
{
    counting *c = user;
    if (++c->calls == c->fail_at) {
        c->failed = true;
        return NULL;
    }
    void *p = realloc(ptr, n);
    c->live += p != NULL && ptr == NULL;
    return p;
}

static void c_free(void *user, void *ptr)
{
    counting *c = user;
    if (ptr) {
        c->live--;
        free(ptr);
    }
}

/* Options whose allocator is the counting one over c, on one thread. */
static void counting_options(heed_options *o, heed_allocator *a, counting *c)
{
    *a = (heed_allocator){c_alloc, c_realloc, c_free, c};
    heed_options_init(o);
    o->allocator = a;
    o->threads = 1;
}

/* Makes a file from the template `path` (mkstemp's XXXXXX, filled in)
 * holding `text`. */
static void write_temp(char *path, const char *text)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static const char *model_yaml =
    "heed: 1\n"
    "dims: {E: 4, H: 6}\n"
    "inputs: {src: [B, S], tgt: [B, T]}\n"
    "data:\n"
    "  src: {column: 0, tokens: chars, vocab: V_src}\n"
    "  tgt: {column: 1, tokens: chars, vocab: V_tgt, bos: true, eos: true}\n"
    "nodes:\n"
    "  src_emb: {op: Embedding, in: src, vocab: V_src, dim: E}\n"
    "  enc: {op: GRU, in: src_emb, hidden: H, bidirectional: true}\n"
    "  init: {op: Affine, in: enc.state, units: H, activation: tanh}\n"
    "  tgt_emb: {op: Embedding, in: tgt, vocab: V_tgt, dim: E}\n"
    "  dec: {op: GRU, in: tgt_emb, hidden: H, state: init,\n"
    "        attention: {memory: enc, score: additive, units: H}}\n"
    "  logits: {op: Affine, in: [dec, dec.context, tgt_emb], units: V_tgt}\n"
    "loss: {op: CrossEntropy, logits: logits, target: tgt, shift: 1}\n"
    "decode: {max_length: 6}\n";

typedef struct files {
    char tsv[64], weights[96];
} files;

/* Everything an application does, stopping at the first failure; returns
 * the status of that failure (or HEED_OK) after freeing what it made. */
static heed_status scenario(const heed_options *o, const files *f)
{
    heed_model *m = NULL;
    heed_vocab *v = NULL;
    heed_dataset *ds = NULL;
    heed_weights *w = NULL, *w2 = NULL;
    heed_session *s = NULL, *s2 = NULL;
    heed_decode_result *r = NULL;
    heed_diag d;
    size_t rows[4] = {0, 1, 2, 3};
    const char *texts[2] = {"abc", "ca"};
    float loss;
    heed_status st = heed_model_load_string(model_yaml, strlen(model_yaml), "api.yaml", o, &m, &d);
    if (st == HEED_OK)
        st = heed_model_check(m, NULL, 0, &d);
    if (st == HEED_OK)
        st = heed_vocab_build(m, f->tsv, &v, &d);
    if (st == HEED_OK)
        st = heed_dataset_load(m, v, f->tsv, &ds, &d);
    if (st == HEED_OK)
        st = heed_weights_new(m, v, NULL, 0, 1, &w, &d);
    if (st == HEED_OK)
        st = heed_session_new(w, HEED_MODE_TRAIN, &s, &d);
    if (st == HEED_OK)
        st = heed_dataset_feed(ds, rows, 4, s, &d);
    if (st == HEED_OK)
        st = heed_session_train_step(s, &loss, &d);
    heed_train_state ts = {.epoch = 1, .seed = 1, .runs = 1, .lr = 0.01f};
    if (st == HEED_OK)
        st = heed_weights_save_checkpoint(w, &ts, f->weights, &d);
    if (st == HEED_OK)
        st = heed_weights_load(m, f->weights, 0, &w2, &d);
    if (st == HEED_OK && heed_weights_train_state(w2, &ts) != HEED_OK)
        fail_msg("the checkpoint lost its training state");
    if (st == HEED_OK)
        st = heed_session_new(w2, HEED_MODE_INFER, &s2, &d);
    if (st == HEED_OK) {
        heed_decode_options opt = {.beam = 2, .attention = 1};
        st = heed_decode(s2, texts, 2, &opt, &r, &d);
    }
    if (st != HEED_OK && d.status != st)
        fail_msg("status %d but the diagnostic says %d (%s)", st, d.status, d.message);
    heed_decode_result_free(r);
    heed_session_free(s2);
    heed_weights_free(w2);
    heed_session_free(s);
    heed_weights_free(w);
    heed_dataset_free(ds);
    heed_vocab_free(v);
    heed_model_free(m);
    return st;
}

static void every_allocation_may_fail(void **state)
{
    (void)state;
    files f;
    snprintf(f.tsv, sizeof f.tsv, "/tmp/heed_api_XXXXXX");
    write_temp(f.tsv, "abc\tcba\nbca\tacb\ncab\tbac\naa\taa\n");
    snprintf(f.weights, sizeof f.weights, "%s.safetensors", f.tsv);
    counting c = {0};
    heed_allocator a;
    heed_options o;
    counting_options(&o, &a, &c);
    /* a full run counts the allocations */
    assert_int_equal(scenario(&o, &f), HEED_OK);
    long total = c.calls;
    assert_int_equal(c.live, 0);
    printf("  %ld allocations in load, compile, train step, save, load and decode\n", total);
    assert_true(total > 100);
    for (long n = 1; n <= total; n++) {
        c = (counting){.fail_at = n};
        heed_status st = scenario(&o, &f);
        if (c.failed && st == HEED_OK)
            fail_msg("allocation %ld failed but the run reported success", n);
        if (c.failed && st != HEED_ERR_NOMEM)
            fail_msg("allocation %ld failed and the run reported status %d, not "
                     "HEED_ERR_NOMEM", n, st);
        if (c.live != 0)
            fail_msg("allocation %ld failed: %ld blocks leaked", n, c.live);
    }
    unlink(f.tsv);
    unlink(f.weights);
}

/* ------------------------------------------------------------ threads */

typedef struct job {
    heed_weights *w;
    const char *const *texts;
    size_t n;
    char out[64][32];
    heed_status st;
} job;

static void *decode_job(void *arg)
{
    job *j = arg;
    heed_session *s;
    heed_diag d;
    heed_decode_result *r = NULL;
    j->st = heed_session_new(j->w, HEED_MODE_INFER, &s, &d);
    if (j->st != HEED_OK)
        return NULL;
    heed_session_set_threads(s, 1);
    heed_decode_options o = {.beam = 3};
    for (int rep = 0; rep < 5 && j->st == HEED_OK; rep++) {
        heed_decode_result_free(r);
        j->st = heed_decode(s, j->texts, j->n, &o, &r, &d);
    }
    for (size_t i = 0; j->st == HEED_OK && i < j->n; i++)
        heed_decode_text(r, i, j->out[i], sizeof j->out[i]);
    heed_decode_result_free(r);
    heed_session_free(s);
    return NULL;
}

static void two_threads_share_weights(void **state)
{
    (void)state;
    char tsv[] = "/tmp/heed_api_thr_XXXXXX";
    write_temp(tsv, "abc\tcba\nbca\tacb\ncab\tbac\naa\taa\n");
    heed_model *m = tu_model("api.yaml", model_yaml);
    heed_vocab *v;
    heed_weights *w;
    heed_diag d;
    assert_int_equal(heed_vocab_build(m, tsv, &v, &d), HEED_OK);
    assert_int_equal(heed_weights_new(m, v, NULL, 0, 9, &w, &d), HEED_OK);
    const char *texts[] = {"abc", "cab", "bb", "a", "cccab", "bac"};
    job one = {w, texts, 6, {{0}}, HEED_OK}, a = one, b = one;
    decode_job(&one);
    assert_int_equal(one.st, HEED_OK);
    pthread_t ta, tb;
    pthread_create(&ta, NULL, decode_job, &a);
    pthread_create(&tb, NULL, decode_job, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.st, HEED_OK);
    assert_int_equal(b.st, HEED_OK);
    for (int i = 0; i < 6; i++) {
        assert_string_equal(a.out[i], one.out[i]);
        assert_string_equal(b.out[i], one.out[i]);
    }
    heed_weights_free(w);
    heed_vocab_free(v);
    heed_model_free(m);
    unlink(tsv);
}

/* ------------------------------------------------------------ checkpoints */

/* Trains `steps` steps on the four rows, returning the losses. */
static void train_steps(heed_weights *w, heed_dataset *ds, int64_t runs, int steps, float *loss)
{
    heed_session *s;
    heed_diag d;
    size_t rows[4] = {0, 1, 2, 3};
    assert_int_equal(heed_session_new(w, HEED_MODE_TRAIN, &s, &d), HEED_OK);
    heed_session_seed(s, 5);
    heed_session_set_runs(s, runs);
    for (int i = 0; i < steps; i++) {
        assert_int_equal(heed_dataset_feed(ds, rows, 4, s, &d), HEED_OK);
        assert_int_equal(heed_session_train_step(s, &loss[i], &d), HEED_OK);
    }
    heed_session_free(s);
}

/* Training 2 steps, checkpointing, reloading and training 3 more gives the
 * same losses, bit for bit, as 5 steps in one go: the Adam moments, the step
 * count, the learning rate and the dropout stream all come back. */
static void checkpoint_resumes_exactly(void **state)
{
    (void)state;
    char tsv[] = "/tmp/heed_api_ckpt_XXXXXX";
    write_temp(tsv, "abc\tcba\nbca\tacb\ncab\tbac\naa\taa\n");
    char ckpt[64];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", tsv);
    /* dropout makes the stream position matter */
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "%s", model_yaml);
    char *at = strstr(yaml, "  logits:");
    assert_non_null(at);
    const char *drop = "  dec_d: {op: Dropout, in: dec, p: 0.3}\n"
                       "  logits: {op: Affine, in: [dec_d, dec.context, tgt_emb], units: V_tgt}\n"
                       "loss: {op: CrossEntropy, logits: logits, target: tgt, shift: 1}\n";
    snprintf(at, sizeof yaml - (size_t)(at - yaml), "%s", drop);
    heed_model *m = tu_model("ckpt.yaml", yaml);
    heed_vocab *v;
    heed_dataset *ds;
    heed_weights *w, *w2;
    heed_diag d;
    heed_train_config tc;
    heed_model_train_config(m, &tc);
    tc.lr = 0.01f;
    assert_int_equal(heed_vocab_build(m, tsv, &v, &d), HEED_OK);
    assert_int_equal(heed_dataset_load(m, v, tsv, &ds, &d), HEED_OK);

    float whole[5], part[5];
    assert_int_equal(heed_weights_new(m, v, NULL, 0, 3, &w, &d), HEED_OK);
    assert_int_equal(heed_weights_set_train_config(w, &tc), HEED_OK);
    train_steps(w, ds, 0, 5, whole);
    heed_weights_free(w);

    assert_int_equal(heed_weights_new(m, v, NULL, 0, 3, &w, &d), HEED_OK);
    /* configurations a checkpoint could not hold are refused when set */
    heed_train_config zero_batch = tc, negative_decay = tc;
    zero_batch.batch = 0;
    negative_decay.weight_decay = -0.1f;
    assert_int_equal(heed_weights_set_train_config(w, &zero_batch), HEED_ERR_ARGUMENT);
    assert_int_equal(heed_weights_set_train_config(w, &negative_decay), HEED_ERR_ARGUMENT);
    assert_int_equal(heed_weights_set_train_config(w, &tc), HEED_OK);
    train_steps(w, ds, 0, 2, part);
    /* a state heed_weights_load would refuse is not written over the file */
    static char big[(1 << 20) + 2];
    memset(big, 'e', sizeof big - 1);
    const heed_train_state bad[] = {{.lr = 0.0f}, {.lr = NAN}, {.epoch = -1, .lr = 0.1f},
                                    {.rows = -3, .lr = 0.1f}, {.loss_sum = NAN, .lr = 0.1f},
                                    {.loss_batches = -1, .lr = 0.1f},
                                    {.lr = 0.1f, .history = "1,\xff\n"},
                                    {.lr = 0.1f, .history = big}};
    for (int i = 0; i < 8; i++)
        assert_int_equal(heed_weights_save_checkpoint(w, &bad[i], ckpt, &d), HEED_ERR_ARGUMENT);
    /* the history goes with the checkpoint, whatever its text */
    heed_train_state ts = {.epoch = 0, .batch = 2, .seed = 5, .runs = 2, .lr = tc.lr,
                           .rows = 9, .loss_sum = 1.25, .loss_batches = 2,
                           .history = "1,0.5\n\"2\",\xc3\xa9\n"};
    assert_int_equal(heed_weights_save_checkpoint(w, &ts, ckpt, &d), HEED_OK);
    heed_weights_free(w);

    assert_int_equal(heed_weights_load(m, ckpt, 0, &w2, &d), HEED_OK);
    heed_train_state back;
    assert_int_equal(heed_weights_train_state(w2, &back), HEED_OK);
    assert_int_equal(back.batch, 2);
    assert_int_equal(back.runs, 2);
    assert_int_equal(back.rows, 9);
    assert_true(back.loss_sum == 1.25);
    assert_int_equal(back.loss_batches, 2);
    assert_string_equal(back.history, "1,0.5\n\"2\",\xc3\xa9\n");
    assert_int_equal(heed_weights_steps(w2), 2);
    assert_true(back.lr == tc.lr);
    assert_int_equal(heed_weights_set_train_config(w2, &tc), HEED_OK);
    train_steps(w2, ds, back.runs, 3, part + 2);
    for (int i = 0; i < 5; i++)
        assert_memory_equal(&whole[i], &part[i], sizeof(float));
    assert_true(whole[4] < whole[0]);
    /* plain weights carry no training state */
    assert_int_equal(heed_weights_save(w2, ckpt, &d), HEED_OK);
    heed_weights_free(w2);
    assert_int_equal(heed_weights_load(m, ckpt, 0, &w2, &d), HEED_OK);
    assert_int_equal(heed_weights_train_state(w2, &back), HEED_ERR_STATE);
    /* a loss (a Sum) may be negative, and so its running sum */
    ts.loss_sum = -2.5;
    assert_int_equal(heed_weights_save_checkpoint(w2, &ts, ckpt, &d), HEED_OK);
    heed_weights_free(w2);
    assert_int_equal(heed_weights_load(m, ckpt, 0, &w2, &d), HEED_OK);
    assert_int_equal(heed_weights_train_state(w2, &back), HEED_OK);
    assert_true(back.loss_sum == -2.5);
    /* save and load agree on the counts' bound, 2^53 */
    ts.runs = (int64_t)1 << 53;
    assert_int_equal(heed_weights_save_checkpoint(w2, &ts, ckpt, &d), HEED_OK);
    heed_weights_free(w2);
    assert_int_equal(heed_weights_load(m, ckpt, 0, &w2, &d), HEED_OK);
    assert_int_equal(heed_weights_train_state(w2, &back), HEED_OK);
    assert_true(back.runs == ((int64_t)1 << 53));
    back.runs += 1;
    assert_int_equal(heed_weights_save_checkpoint(w2, &back, ckpt, &d), HEED_ERR_ARGUMENT);
    heed_weights_free(w2);
    assert_int_equal(heed_weights_load(m, ckpt, 0, &w2, &d), HEED_OK);
    heed_weights_free(w2);
    heed_dataset_free(ds);
    heed_vocab_free(v);
    heed_model_free(m);
    unlink(tsv);
    unlink(ckpt);
}

/* The loader reads data as written: a byte-order mark before the first row
 * is not a token, a token over 1 KiB is kept whole (two that differ only
 * past it are two tokens), and a field may read any of 256 columns. */
static void data_read_as_written(void **state)
{
    (void)state;
    heed_model *m = tu_model("rows.yaml", "heed: 1\n"
                                          "inputs: {x: [B, S], w: [B, S], y: [B]}\n"
                                          "data:\n"
                                          "  x: {column: 0, vocab: V}\n"
                                          "  w: {column: 1, tokens: words, vocab: W}\n"
                                          "  y: {column: 70, tokens: label, vocab: C}\n"
                                          "nodes:\n  e: {op: Embedding, in: x, vocab: V, dim: 2}\n");
    char tsv[] = "/tmp/heed_api_rows_XXXXXX";
    size_t cap = 2 * 70 + 3 * 1100 + 64;
    char *text = malloc(cap), *p = text;
    assert_non_null(text);
    p += sprintf(p, "\xef\xbb\xbf");
    for (int row = 0; row < 2; row++) {
        p += sprintf(p, "ab\t");
        for (int i = 0; i < 1030; i++)
            *p++ = 'a';
        p += sprintf(p, "%s", row ? "b" : "");
        for (int c = 2; c <= 70; c++)
            *p++ = '\t';
        p += sprintf(p, "%s\n", row ? "fr" : "en");
    }
    *p = '\0';
    write_temp(tsv, text);
    free(text);
    heed_vocab *v;
    heed_diag d;
    if (heed_vocab_build(m, tsv, &v, &d) != HEED_OK)
        fail_msg("%s", d.text);
    assert_int_equal(heed_vocab_size(v, "x"), 4 + 2); /* a, b: no U+FEFF */
    assert_int_equal(heed_vocab_size(v, "w"), 4 + 2);
    assert_int_equal(heed_vocab_size(v, "y"), 4 + 2);
    heed_vocab_free(v);
    heed_model_free(m);
    unlink(tsv);
}

/* Text that does not fit is cut after the last whole token, never inside a
 * character, and the call says so. */
static void decoding_text_that_does_not_fit(void **state)
{
    (void)state;
    heed_model *m = tu_model("api.yaml", model_yaml);
    char tsv[] = "/tmp/heed_api_cut_XXXXXX";
    write_temp(tsv, "abc\tcba\nabc\t\xc3\xa9\xc3\xa9\n");
    heed_vocab *v;
    heed_diag d;
    assert_int_equal(heed_vocab_build(m, tsv, &v, &d), HEED_OK);
    int32_t ids[8];
    size_t n;
    assert_int_equal(heed_vocab_encode(v, "tgt", "cba", ids, 8, &n, &d), HEED_OK);
    char text[8];
    assert_int_equal(heed_vocab_decode(v, "tgt", ids, n, text, sizeof text), HEED_OK);
    assert_string_equal(text, "cba");
    assert_int_equal(heed_vocab_decode(v, "tgt", ids, n, text, 3), HEED_ERR_LIMIT);
    assert_string_equal(text, "cb");
    /* "éé" in 4 bytes: the second é (2 bytes) does not fit beside the first */
    assert_int_equal(heed_vocab_encode(v, "tgt", "\xc3\xa9\xc3\xa9", ids, 8, &n, &d), HEED_OK);
    assert_int_equal(heed_vocab_decode(v, "tgt", ids, n, text, 4), HEED_ERR_LIMIT);
    assert_string_equal(text, "\xc3\xa9");
    heed_vocab_free(v);
    heed_model_free(m);
    unlink(tsv);
}

/* While heed computes, denormal floats are flushed to zero (they cost a
 * microcode assist each on many x86 cores); the caller's own mode comes back.
 * Tanh of 1e-40 is 1e-40 with denormals and exactly 0 without. */
static void denormals_flushed_and_mode_restored(void **state)
{
    (void)state;
#if defined(__x86_64__) || defined(__i386__)
    tu_run r = tu_run_new("tiny.yaml", "heed: 1\ninputs: {x: [B, 4]}\nnodes: {y: {op: Tanh, in: x}}\n",
                          HEED_MODE_INFER);
    const float x[4] = {1e-40f, -1e-40f, 0.5f, 2e-38f};
    assert_true(x[0] > 0.0f && x[0] < FLT_MIN); /* a denormal in the caller's mode */
    unsigned before = _mm_getcsr();
    tu_set_f32(&r, "x", 2, (const int64_t[]){1, 4}, x);
    heed_diag d;
    assert_int_equal(heed_session_forward(r.s, &d), HEED_OK);
    const float *y = tu_get(&r, "y");
    assert_true(y[0] == 0.0f && y[1] == 0.0f);
    tu_close(y[2], tanh(0.5), 1e-6, "tanh(0.5)");
    tu_close(y[3], 2e-38, 1e-6, "tanh(2e-38), a normal float");
    /* the mode (the control bits) comes back; the six sticky exception flags
     * (bits 0-5) keep what the arithmetic raised, as after any float code */
    assert_int_equal(_mm_getcsr() & ~0x3fu, before & ~0x3fu);
    tu_run_free(&r);
#endif
}

static void versions_agree(void **state)
{
    (void)state;
    assert_int_equal(heed_version_number(), HEED_VERSION_NUMBER);
    assert_string_equal(heed_version(), HEED_VERSION_STRING);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", HEED_VERSION_MAJOR, HEED_VERSION_MINOR,
             HEED_VERSION_PATCH);
    assert_string_equal(buf, HEED_VERSION_STRING);
    assert_string_equal(heed_status_string(HEED_ERR_NOMEM), "out of memory");
}

/* A classifier with as many vocabulary dims (two) as model_yaml but other
 * fields: its vocabularies must be refused by model_yaml's dataset and
 * weights, while a second load of model_yaml itself may use them. */
static const char *classifier_yaml =
    "heed: 1\n"
    "name: cls\n"
    "dims: {E: 4}\n"
    "inputs: {word: [B, S], lang: [B]}\n"
    "data:\n"
    "  word: {column: 0, tokens: chars, vocab: V}\n"
    "  lang: {column: 1, tokens: label, vocab: C}\n"
    "nodes:\n"
    "  emb: {op: Embedding, in: word, vocab: V, dim: E}\n"
    "  pool: {op: MeanPool, in: emb}\n"
    "  logits: {op: Affine, in: pool, units: C}\n"
    "loss: {op: CrossEntropy, logits: logits, target: lang}\n";

static void vocabularies_of_another_model(void **state)
{
    (void)state;
    char tsv[] = "/tmp/heed_api_voc_XXXXXX";
    write_temp(tsv, "abc\tcba\nhallo\tde\nxyz\ten\n");
    heed_model *m = tu_model("api.yaml", model_yaml), *again = tu_model("api.yaml", model_yaml);
    heed_model *cls = tu_model("cls.yaml", classifier_yaml);
    heed_vocab *cv, *v;
    heed_dataset *ds = NULL;
    heed_weights *w = NULL;
    heed_diag d;
    assert_int_equal(heed_vocab_build(cls, tsv, &cv, &d), HEED_OK);
    assert_int_equal(heed_dataset_load(m, cv, tsv, &ds, &d), HEED_ERR_ARGUMENT);
    assert_null(ds);
    assert_non_null(strstr(d.message, "built for model 'cls'"));
    assert_int_equal(heed_weights_new(m, cv, NULL, 0, 1, &w, &d), HEED_ERR_ARGUMENT);
    assert_null(w);
    assert_int_equal(heed_vocab_build(m, tsv, &v, &d), HEED_OK);
    assert_int_equal(heed_dataset_load(again, v, tsv, &ds, &d), HEED_OK);
    assert_int_equal(heed_dataset_size(ds), 3);
    /* a batch past the data orders it as one batch of all rows: no wrap of
     * n + batch - 1 (SIZE_MAX) or of batch * 32 (2^59) */
    size_t whole[3], huge[3];
    heed_dataset_shuffle(ds, 3, 7, 2, whole);
    const size_t batches[] = {SIZE_MAX, (size_t)1 << 59, 1000};
    for (int i = 0; i < 3; i++) {
        heed_dataset_shuffle(ds, batches[i], 7, 2, huge);
        assert_memory_equal(huge, whole, sizeof whole);
    }
    assert_int_equal(whole[0] + whole[1] + whole[2], 3); /* a permutation of 0, 1, 2 */
    assert_true(whole[0] != whole[1] && whole[1] != whole[2] && whole[0] != whole[2]);
    heed_dataset_free(ds);
    /* the classifier's weights file, loaded into the seq2seq model, is named
     * as another model's (not as a file heed train did not write) */
    char path[] = "/tmp/heed_api_vocw_XXXXXX";
    close(mkstemp(path));
    assert_int_equal(heed_weights_new(cls, cv, NULL, 0, 1, &w, &d), HEED_OK);
    assert_int_equal(heed_weights_save(w, path, &d), HEED_OK);
    heed_weights_free(w);
    assert_int_equal(heed_weights_load(m, path, 0, &w, &d), HEED_ERR_WEIGHTS);
    assert_non_null(strstr(d.message, "the file holds weights of model 'cls', not 'model'"));
    unlink(path);
    heed_vocab_free(v);
    heed_vocab_free(cv);
    heed_model_free(cls);
    heed_model_free(again);
    heed_model_free(m);
    unlink(tsv);
}

/* A model's vocabularies built from tsv, the file read with them and new
 * weights (seed 1). */
static void data_and_weights(heed_model *m, const char *tsv, heed_vocab **v, heed_dataset **ds,
                             heed_weights **w)
{
    heed_diag d;
    assert_int_equal(heed_vocab_build(m, tsv, v, &d), HEED_OK);
    assert_int_equal(heed_dataset_load(m, *v, tsv, ds, &d), HEED_OK);
    assert_int_equal(heed_weights_new(m, *v, NULL, 0, 1, w, &d), HEED_OK);
}

/* A classifier's teacher-forced accuracy predicts among its labels only, as
 * heed_session_classify and heed eval do: a reserved id (here <unk>) with
 * the largest logit is not the prediction. */
static void classifier_accuracy_skips_reserved_ids(void **state)
{
    (void)state;
    char tsv[] = "/tmp/heed_api_acc_XXXXXX";
    write_temp(tsv, "abc\tde\nxyz\ten\nbca\tde\n");
    heed_model *m = tu_model("cls.yaml", classifier_yaml);
    heed_vocab *v;
    heed_dataset *ds;
    heed_weights *w;
    heed_session *s;
    heed_diag d;
    data_and_weights(m, tsv, &v, &ds, &w);
    heed_tensor wt, bt;
    assert_int_equal(heed_weights_find(w, "logits.weight", &wt), HEED_OK);
    assert_int_equal(heed_weights_find(w, "logits.bias", &bt), HEED_OK);
    assert_int_equal(bt.shape[0], 6); /* 4 reserved ids, de, en */
    memset(wt.data, 0, (size_t)(wt.shape[0] * wt.shape[1]) * sizeof(float));
    const float bias[6] = {0, 10, 0, 0, 1, 0}; /* <unk> first, then 'de' */
    memcpy(bt.data, bias, sizeof bias);
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s, &d), HEED_OK);
    size_t all[3] = {0, 1, 2};
    assert_int_equal(heed_dataset_feed(ds, all, 3, s, &d), HEED_OK);
    assert_int_equal(heed_session_forward(s, &d), HEED_OK);
    heed_accuracy a;
    assert_int_equal(heed_session_accuracy(s, &a, &d), HEED_OK);
    assert_int_equal(a.tokens, 3);
    assert_int_equal(a.tokens_correct, 2); /* both 'de' rows, not the 'en' one */
    heed_session_free(s);
    heed_weights_free(w);
    heed_dataset_free(ds);
    heed_vocab_free(v);
    heed_model_free(m);
    unlink(tsv);
}

static const char *fixed_yaml = "heed: 1\n"
                                "dims: {L: 4}\n"
                                "inputs: {x: [B, L], c: [B]}\n"
                                "data:\n"
                                "  x: {column: 0, tokens: chars, vocab: V}\n"
                                "  c: {column: 1, tokens: label, vocab: C}\n"
                                "nodes:\n"
                                "  e: {op: Embedding, in: x, vocab: V, dim: 8}\n"
                                "  p: {op: MeanPool, in: e}\n"
                                "  logits: {op: Affine, in: p, units: C}\n"
                                "loss: {op: CrossEntropy, logits: logits, target: c}\n";

/* heed_dataset_check names every row longer than a fixed length, with its
 * line, where heed_dataset_feed refuses only a batch that holds one. */
static void dataset_check_names_rows_past_fixed_length(void **state)
{
    (void)state;
    char tsv[] = "/tmp/heed_api_fix_XXXXXX";
    write_temp(tsv, "abcd\tx\nab\ty\n\nabcdef\ty\nabc\tx\nabcdefg\tx\n");
    heed_model *m = tu_model("fixed.yaml", fixed_yaml);
    heed_vocab *v;
    heed_dataset *ds;
    heed_weights *w;
    heed_session *s;
    heed_diag d;
    data_and_weights(m, tsv, &v, &ds, &w);
    assert_int_equal(heed_session_new(w, HEED_MODE_TRAIN, &s, &d), HEED_OK);
    size_t fits[3] = {0, 1, 3};
    assert_int_equal(heed_dataset_feed(ds, fits, 3, s, &d), HEED_OK);
    assert_int_equal(heed_dataset_check(ds, SIZE_MAX, s, &d), HEED_ERR_DATA);
    assert_int_equal(d.count, 2);
    /* the first rows only: lines 1, 2 and 4, then 1 and 2 */
    assert_int_equal(heed_dataset_check(ds, 3, s, &d), HEED_ERR_DATA);
    assert_int_equal(d.count, 1);
    assert_int_equal(heed_dataset_check(ds, 2, s, &d), HEED_OK);
    assert_int_equal(heed_dataset_check(ds, SIZE_MAX, s, &d), HEED_ERR_DATA);
    assert_int_equal(d.line, 4); /* the empty line 3 is not a row */
    assert_non_null(
        strstr(d.text, ":4:1: error: field 'x' has 6 tokens, but input 'x' fixes L = 4"));
    assert_non_null(strstr(d.text, ":6:1: error: field 'x' has 7 tokens"));
    size_t late[2] = {1, 4};
    assert_int_equal(heed_dataset_feed(ds, late, 2, s, &d), HEED_ERR_DATA);
    assert_int_equal(d.line, 6);
    assert_int_equal(heed_dataset_check(NULL, SIZE_MAX, s, &d), HEED_ERR_ARGUMENT);
    heed_session_free(s);
    heed_weights_free(w);
    heed_dataset_free(ds);
    /* rows within the length pass */
    char ok[] = "/tmp/heed_api_fix_XXXXXX";
    write_temp(ok, "abcd\tx\nab\ty\n");
    assert_int_equal(heed_dataset_load(m, v, ok, &ds, &d), HEED_OK);
    assert_int_equal(heed_weights_new(m, v, NULL, 0, 1, &w, &d), HEED_OK);
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s, &d), HEED_OK);
    assert_int_equal(heed_dataset_check(ds, SIZE_MAX, s, &d), HEED_OK);
    assert_int_equal(d.count, 0);
    heed_session_free(s);
    heed_weights_free(w);
    heed_dataset_free(ds);
    heed_vocab_free(v);
    heed_model_free(m);
    unlink(tsv);
    unlink(ok);
}

static const char *tagger_yaml =
    "heed: 1\n"
    "name: case\n"
    "dims: {E: 8}\n"
    "inputs: {x: [B, S], y: [B, S]}\n"
    "data:\n"
    "  x: {column: 0, tokens: chars, vocab: V, bos: true, eos: true}\n"
    "  y: {column: 1, tokens: chars, vocab: C, bos: true, eos: true}\n"
    "nodes:\n"
    "  emb: {op: Embedding, in: x, vocab: V, dim: E}\n"
    "  logits: {op: Affine, in: emb, units: C}\n"
    "loss: {op: CrossEntropy, logits: logits, target: y}\n";

/* The id of one character of the tagger's fields (which add <bos>, <eos>). */
static int32_t one_id(const heed_vocab *v, const char *field, const char *text)
{
    int32_t ids[3] = {-1, -1, -1};
    size_t n = 0;
    heed_diag d;
    assert_int_equal(heed_vocab_encode(v, field, text, ids, 3, &n, &d), HEED_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], HEED_BOS_ID);
    return ids[1];
}

/* A tagger labels each token of a text: with weights set by hand (each
 * character's embedding one-hot, the Affine mapping lower case and <unk> to
 * 'l' or 'u' with a logit of 5), the labels, their log-probability and the
 * kept source ids are known; <bos>, <eos> and padding get no label. */
static void tagger_labels_each_token(void **state)
{
    (void)state;
    char tsv[] = "/tmp/heed_api_tag_XXXXXX";
    write_temp(tsv, "abA\tllu\nBa\tul\n");
    heed_model *m = tu_model("case.yaml", tagger_yaml);
    heed_model *cls = tu_model("cls.yaml", classifier_yaml);
    assert_int_equal(heed_model_task(m), HEED_TASK_TAG);
    assert_int_equal(heed_model_task(cls), HEED_TASK_CLASSIFY);
    heed_vocab *v;
    heed_weights *w;
    heed_session *s;
    heed_diag d;
    assert_int_equal(heed_vocab_build(m, tsv, &v, &d), HEED_OK);
    assert_int_equal(heed_vocab_size(v, "x"), 8);
    assert_int_equal(heed_vocab_size(v, "y"), 6);
    assert_int_equal(heed_weights_new(m, v, NULL, 0, 1, &w, &d), HEED_OK);
    heed_tensor et, wt, bt;
    assert_int_equal(heed_weights_find(w, "emb.weight", &et), HEED_OK);
    assert_int_equal(heed_weights_find(w, "logits.weight", &wt), HEED_OK);
    assert_int_equal(heed_weights_find(w, "logits.bias", &bt), HEED_OK);
    float *emb = et.data, *aff = wt.data;
    memset(emb, 0, 64 * sizeof *emb);
    memset(aff, 0, 48 * sizeof *aff);
    memset(bt.data, 0, 6 * sizeof(float));
    for (int i = 0; i < 8; i++)
        emb[i * 8 + i] = 1.0f;
    int32_t l = one_id(v, "y", "l"), u = one_id(v, "y", "u");
    /* logits.weight is [C, E]: row = label, column = character id */
    aff[l * 8 + one_id(v, "x", "a")] = 5.0f;
    aff[l * 8 + one_id(v, "x", "b")] = 5.0f;
    aff[u * 8 + one_id(v, "x", "A")] = 5.0f;
    aff[u * 8 + one_id(v, "x", "B")] = 5.0f;
    aff[u * 8 + HEED_UNK_ID] = 5.0f;
    /* a reserved label scoring highest is not answered: <unk> at 'b' */
    aff[HEED_UNK_ID * 8 + one_id(v, "x", "b")] = 9.0f;
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s, &d), HEED_OK);
    const char *texts[] = {"aBc", "", "ba"};
    heed_decode_result *r = NULL;
    assert_int_equal(heed_session_tag(s, texts, 3, &r, &d), HEED_OK);
    assert_int_equal(heed_decode_count(r), 3);
    static const char *want[] = {"luu", "", "ll"};
    static const size_t lengths[] = {3, 0, 2};
    /* each label's probability: e^5 / (e^5 + 5 e^0); for 'b', whose <unk>
     * label scores 9, e^5 / (e^9 + e^5 + 4 e^0) */
    double logp = 5.0 - log(exp(5.0) + 5.0), logp_b = 5.0 - log(exp(9.0) + exp(5.0) + 4.0);
    const double scores[] = {3 * logp, 0.0, logp_b + logp};
    for (size_t i = 0; i < 3; i++) {
        const heed_decoded *e = heed_decode_get(r, i);
        char text[16];
        assert_int_equal(heed_decode_text(r, i, text, sizeof text), HEED_OK);
        assert_string_equal(text, want[i]);
        assert_int_equal(e->length, lengths[i]);
        assert_null(e->attention);
        assert_float_equal(e->score, scores[i], 1e-5);
        /* the batch's width: "aBc" with <bos> and <eos> */
        assert_int_equal(e->source_length, 5);
        assert_int_equal(e->source[0], HEED_BOS_ID);
    }
    const heed_decoded *first = heed_decode_get(r, 0);
    assert_int_equal(first->tokens[0], l);
    assert_int_equal(first->tokens[1], u);
    assert_int_equal(first->source[1], one_id(v, "x", "a"));
    assert_int_equal(first->source[3], HEED_UNK_ID);
    assert_int_equal(first->source[4], HEED_EOS_ID);
    heed_decode_result_free(r);
    /* teacher-forced accuracy scores the same tokens: the 5 characters of
     * the two rows, all right, not their <bos> and <eos> (whose rows argmax
     * to <pad> here) */
    heed_dataset *ds;
    assert_int_equal(heed_dataset_load(m, v, tsv, &ds, &d), HEED_OK);
    size_t rows[2] = {0, 1};
    assert_int_equal(heed_dataset_feed(ds, rows, 2, s, &d), HEED_OK);
    assert_int_equal(heed_session_forward(s, &d), HEED_OK);
    heed_accuracy acc;
    assert_int_equal(heed_session_accuracy(s, &acc, &d), HEED_OK);
    assert_int_equal(acc.tokens, 5);
    assert_int_equal(acc.tokens_correct, 5);
    assert_int_equal(acc.sequences, 2);
    assert_int_equal(acc.sequences_correct, 2);
    heed_dataset_free(ds);
    /* not a tagger; no texts */
    heed_weights *cw;
    heed_session *cs;
    heed_vocab *cv;
    char ctsv[] = "/tmp/heed_api_tagc_XXXXXX";
    write_temp(ctsv, "abc\tde\nxyz\ten\n");
    assert_int_equal(heed_vocab_build(cls, ctsv, &cv, &d), HEED_OK);
    assert_int_equal(heed_weights_new(cls, cv, NULL, 0, 1, &cw, &d), HEED_OK);
    assert_int_equal(heed_session_new(cw, HEED_MODE_INFER, &cs, &d), HEED_OK);
    r = (heed_decode_result *)1;
    assert_int_equal(heed_session_tag(cs, texts, 3, &r, &d), HEED_ERR_UNSUPPORTED);
    assert_null(r);
    assert_non_null(strstr(d.message, "model 'cls' does not tag"));
    r = (heed_decode_result *)1;
    assert_int_equal(heed_session_tag(s, texts, 0, &r, &d), HEED_ERR_ARGUMENT);
    assert_null(r); /* *out is NULL after any error */
    r = (heed_decode_result *)1;
    assert_int_equal(heed_session_tag(NULL, texts, 1, &r, &d), HEED_ERR_ARGUMENT);
    assert_null(r);
    const char *with_null[] = {"ab", NULL};
    assert_int_equal(heed_session_tag(s, with_null, 2, &r, &d), HEED_ERR_DATA);
    assert_string_equal(d.message, "the 2nd text is NULL");
    assert_null(r);
    heed_session_free(cs);
    heed_weights_free(cw);
    heed_vocab_free(cv);
    heed_session_free(s);
    heed_weights_free(w);
    heed_vocab_free(v);
    heed_model_free(cls);
    heed_model_free(m);
    unlink(tsv);
    unlink(ctsv);
}

/* Tagging with every allocation of a run failing in turn: each failure is
 * HEED_ERR_NOMEM, with the diagnostic saying so, and nothing leaks. */
static heed_status tag_scenario(const heed_options *o, const char *tsv)
{
    heed_model *m = NULL;
    heed_vocab *v = NULL;
    heed_weights *w = NULL;
    heed_session *s = NULL;
    heed_decode_result *r = NULL;
    heed_diag d;
    const char *texts[3] = {"abA", "", "bB"};
    heed_status st = heed_model_load_string(tagger_yaml, strlen(tagger_yaml), "case.yaml", o, &m,
                                            &d);
    if (st == HEED_OK)
        st = heed_vocab_build(m, tsv, &v, &d);
    if (st == HEED_OK)
        st = heed_weights_new(m, v, NULL, 0, 1, &w, &d);
    if (st == HEED_OK)
        st = heed_session_new(w, HEED_MODE_INFER, &s, &d);
    if (st == HEED_OK)
        st = heed_session_tag(s, texts, 3, &r, &d);
    if (st == HEED_OK && (heed_decode_count(r) != 3 || heed_decode_get(r, 0)->length != 3))
        fail_msg("tagging gave %zu entries", heed_decode_count(r));
    if (st != HEED_OK && (d.status != st || r))
        fail_msg("status %d but the diagnostic says %d (%s), result %p", st, d.status, d.message,
                 (void *)r);
    heed_decode_result_free(r);
    heed_session_free(s);
    heed_weights_free(w);
    heed_vocab_free(v);
    heed_model_free(m);
    return st;
}

static void tagging_when_allocations_fail(void **state)
{
    (void)state;
    char tsv[] = "/tmp/heed_api_tagm_XXXXXX";
    write_temp(tsv, "abA\tllu\nBa\tul\n");
    counting c = {0};
    heed_allocator a;
    heed_options o;
    counting_options(&o, &a, &c);
    assert_int_equal(tag_scenario(&o, tsv), HEED_OK);
    long total = c.calls;
    assert_int_equal(c.live, 0);
    assert_true(total > 20);
    for (long n = 1; n <= total; n++) {
        c = (counting){.fail_at = n};
        heed_status st = tag_scenario(&o, tsv);
        if (c.failed && st != HEED_ERR_NOMEM)
            fail_msg("allocation %ld failed and tagging reported status %d", n, st);
        if (c.live != 0)
            fail_msg("allocation %ld failed: %ld blocks leaked", n, c.live);
    }
    unlink(tsv);
}

/* heed_weights_load takes the dims a file was saved with; load_dims the
 * model's with the given ones on top, matching what still fits. */
static void loading_at_the_models_dims(void **state)
{
    (void)state;
    char tsv[] = "/tmp/heed_api_dims_XXXXXX", path[] = "/tmp/heed_api_dimw_XXXXXX";
    write_temp(tsv, "abc\tcba\nbca\tacb\n");
    close(mkstemp(path));
    heed_model *m = tu_model("api.yaml", model_yaml);
    heed_vocab *v;
    heed_weights *w, *back;
    heed_diag d;
    heed_tensor t;
    assert_int_equal(heed_vocab_build(m, tsv, &v, &d), HEED_OK);
    heed_dim big = {"H", 10};
    assert_int_equal(heed_weights_new(m, v, &big, 1, 3, &w, &d), HEED_OK);
    assert_int_equal(heed_weights_save(w, path, &d), HEED_OK);
    /* the file's dims: H=10 although the model says 6 */
    assert_int_equal(heed_weights_load(m, path, 0, &back, &d), HEED_OK);
    assert_int_equal(heed_weights_find(back, "enc.weight_hh_l0", &t), HEED_OK);
    assert_int_equal(t.shape[0], 30);
    heed_weights_free(back);
    /* the model's dims with H=4 on top: the recurrent weights no longer fit */
    heed_dim small = {"H", 4};
    assert_int_equal(heed_weights_load_dims(m, path, 0, &small, 1, &back, &d), HEED_ERR_WEIGHTS);
    assert_non_null(strstr(d.text, "mismatched: enc.weight_hh_l0 is F32 [30,10] in the file, "
                                   "the model needs F32 [12,4]"));
    assert_int_equal(heed_weights_load_dims(m, path, HEED_LOAD_PARTIAL, &small, 1, &back, &d),
                     HEED_OK);
    assert_int_equal(heed_weights_find(back, "enc.weight_hh_l0", &t), HEED_OK);
    assert_int_equal(t.shape[0], 12);
    assert_int_equal(t.shape[1], 4);
    /* the embeddings' shapes do not depend on H: they were loaded */
    heed_tensor a, b;
    assert_int_equal(heed_weights_find(back, "src_emb.weight", &a), HEED_OK);
    assert_int_equal(heed_weights_find(w, "src_emb.weight", &b), HEED_OK);
    assert_memory_equal(a.data, b.data, (size_t)(a.shape[0] * a.shape[1]) * sizeof(float));
    heed_weights_free(back);
    /* no dims given: the model's own (H=6) */
    assert_int_equal(heed_weights_load_dims(m, path, HEED_LOAD_PARTIAL, NULL, 0, &back, &d),
                     HEED_OK);
    assert_int_equal(heed_weights_find(back, "enc.weight_hh_l0", &t), HEED_OK);
    assert_int_equal(t.shape[0], 18);
    heed_weights_free(back);
    assert_int_equal(heed_weights_load_dims(m, path, 0, NULL, 1, &back, &d), HEED_ERR_ARGUMENT);
    heed_weights_free(w);
    heed_vocab_free(v);
    heed_model_free(m);
    unlink(tsv);
    unlink(path);
}

/* Decoding options out of their ranges are refused, not taken as the
 * default (a negative length) or decoded to any length (100000 steps). */
static void decoding_options_in_range(void **state)
{
    (void)state;
    char tsv[] = "/tmp/heed_api_dec_XXXXXX";
    write_temp(tsv, "abc\tcba\nbca\tacb\n");
    heed_model *m = tu_model("api.yaml", model_yaml);
    heed_vocab *v;
    heed_weights *w;
    heed_session *s;
    heed_diag d;
    heed_decode_result *r = NULL;
    assert_int_equal(heed_vocab_build(m, tsv, &v, &d), HEED_OK);
    assert_int_equal(heed_weights_new(m, v, NULL, 0, 5, &w, &d), HEED_OK);
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s, &d), HEED_OK);
    const char *texts[] = {"abc"};
    heed_decode_options bad[] = {{.max_length = -5}, {.max_length = 100000}, {.min_length = -1},
                                 {.length_alpha = NAN}, {.beam = 2, .length_alpha = -1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(heed_decode(s, texts, 1, &bad[i], &r, &d), HEED_ERR_ARGUMENT);
        assert_null(r);
    }
    heed_decode_options ok = {.max_length = 3, .min_length = 3};
    assert_int_equal(heed_decode(s, texts, 1, &ok, &r, &d), HEED_OK);
    assert_int_equal(heed_decode_get(r, 0)->length, 3);
    heed_decode_result_free(r);
    heed_session_free(s);
    heed_weights_free(w);
    /* decode: logits: and attention: naming values of the wrong shape are
     * refused before a step is read past its end or fed back */
    const char *bad_decode[][2] = {
        {"decode: {max_length: 6, logits: enc}",
         "decode logits 'enc' must hold one row of scores per step over the tokens of input "
         "'tgt'"},
        {"decode: {max_length: 6, logits: init}", "(7 of them); a step gives it 6 values"},
        {"decode: {max_length: 6, attention: logits}",
         "decode attention 'logits' must hold one row of weights over the 3 source positions"}};
    for (int i = 0; i < 3; i++) {
        char yaml[2048];
        snprintf(yaml, sizeof yaml, "%.*s%s\n", (int)(strstr(model_yaml, "decode:") - model_yaml),
                 model_yaml, bad_decode[i][0]);
        heed_model *bm = tu_model("dec.yaml", yaml);
        assert_int_equal(heed_weights_new(bm, v, NULL, 0, 5, &w, &d), HEED_OK);
        assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s, &d), HEED_OK);
        heed_decode_options o = {.attention = 1};
        assert_int_equal(heed_decode(s, texts, 1, &o, &r, &d), HEED_ERR_MODEL);
        if (!strstr(d.message, bad_decode[i][1]))
            fail_msg("'%s' not in '%s'", bad_decode[i][1], d.message);
        heed_session_free(s);
        heed_weights_free(w);
        heed_model_free(bm);
    }
    /* a decoder whose self-attention reads the fed-back sequence across its
     * steps cannot be decoded one step at a time: refused, not run on the
     * current token alone */
    heed_model *sa = tu_model("sa.yaml",
                              "heed: 1\n"
                              "dims: {E: 4}\n"
                              "inputs: {src: [B, S], tgt: [B, T]}\n"
                              "data:\n"
                              "  src: {column: 0, tokens: chars, vocab: V_src}\n"
                              "  tgt: {column: 1, tokens: chars, vocab: V_tgt, bos: true, eos: "
                              "true}\n"
                              "nodes:\n"
                              "  src_emb: {op: Embedding, in: src, vocab: V_src, dim: E}\n"
                              "  tgt_emb: {op: Embedding, in: tgt, vocab: V_tgt, dim: E}\n"
                              "  self: {op: MultiHeadAttention, query: tgt_emb, heads: 1, causal: "
                              "true}\n"
                              "  cross: {op: Attention, query: self, keys: src_emb}\n"
                              "  logits: {op: Affine, in: [self, cross], units: V_tgt}\n"
                              "loss: {op: CrossEntropy, logits: logits, target: tgt, shift: 1}\n");
    assert_int_equal(heed_weights_new(sa, v, NULL, 0, 5, &w, &d), HEED_OK);
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s, &d), HEED_OK);
    assert_int_equal(heed_decode(s, texts, 1, NULL, &r, &d), HEED_ERR_UNSUPPORTED);
    assert_null(r);
    assert_non_null(strstr(d.text, "sa.yaml:10:3: error: node 'self' (MultiHeadAttention) reads "
                                   "the fed-back input 'tgt' across its steps (through 'key')"));
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(sa);
    /* a learned position table on the output bounds the output's length:
     * decoding stops there instead of failing part-way */
    heed_model *lp = tu_model("lp.yaml",
                              "heed: 1\n"
                              "dims: {E: 4, H: 6}\n"
                              "inputs: {src: [B, S], tgt: [B, T]}\n"
                              "data:\n"
                              "  src: {column: 0, tokens: chars, vocab: V_src}\n"
                              "  tgt: {column: 1, tokens: chars, vocab: V_tgt, bos: true, eos: "
                              "true}\n"
                              "nodes:\n"
                              "  tgt_emb: {op: Embedding, in: tgt, vocab: V_tgt, dim: E}\n"
                              "  pos: {op: PositionalEncoding, in: tgt_emb, kind: learned, "
                              "max_len: 4}\n"
                              "  dec: {op: GRU, in: pos, hidden: H}\n"
                              "  logits: {op: Affine, in: dec, units: V_tgt}\n"
                              "loss: {op: CrossEntropy, logits: logits, target: tgt, shift: 1}\n"
                              "decode: {max_length: 40}\n");
    assert_int_equal(heed_weights_new(lp, v, NULL, 0, 5, &w, &d), HEED_OK);
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s, &d), HEED_OK);
    heed_decode_options full = {.min_length = 40}; /* no <eos> allowed: runs to the end */
    assert_int_equal(heed_decode(s, texts, 1, &full, &r, &d), HEED_OK);
    assert_int_equal(heed_decode_get(r, 0)->length, 4);
    heed_decode_result_free(r);
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(lp);
    /* an explicit lengths input set before decoding holds whole lengths:
     * each one-position step reads it as it did, not as out of range */
    heed_model *ln = tu_model("ln.yaml",
                              "heed: 1\n"
                              "dims: {E: 4, H: 6}\n"
                              "inputs: {src: [B, S], tgt: [B, T], n: [B]}\n"
                              "data:\n"
                              "  src: {column: 0, tokens: chars, vocab: V_src}\n"
                              "  tgt: {column: 1, tokens: chars, vocab: V_tgt, bos: true, eos: "
                              "true}\n"
                              "nodes:\n"
                              "  tgt_emb: {op: Embedding, in: tgt, vocab: V_tgt, dim: E}\n"
                              "  dec: {op: GRU, in: tgt_emb, hidden: H, lengths: n}\n"
                              "  logits: {op: Affine, in: dec, units: V_tgt}\n"
                              "loss: {op: CrossEntropy, logits: logits, target: tgt, shift: 1}\n"
                              "decode: {max_length: 5}\n");
    assert_int_equal(heed_weights_new(ln, v, NULL, 0, 5, &w, &d), HEED_OK);
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s, &d), HEED_OK);
    int32_t whole = 3;
    heed_tensor nt = {"n", HEED_I32, 1, {1, 0, 0, 0}, &whole};
    assert_int_equal(heed_session_set_input(s, "n", &nt, &d), HEED_OK);
    if (heed_decode(s, texts, 1, NULL, &r, &d) != HEED_OK)
        fail_msg("%s", d.text);
    heed_decode_result_free(r);
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(ln);
    heed_vocab_free(v);
    heed_model_free(m);
    unlink(tsv);
}

/* A forward pass that fails (its arena not allocated, or its inputs not
 * fitting) leaves nothing to read or run backward from: refused, not a
 * write through the freed arena or a rerun of the pass before. */
static void failed_forward_leaves_nothing_to_read(void **state)
{
    (void)state;
    counting c = {0};
    heed_allocator a;
    heed_options o;
    counting_options(&o, &a, &c);
    static const char yaml[] = "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n"
                               "  h: {op: Affine, in: x, units: 3}\n  t: {op: Tanh, in: h}\n"
                               "loss: {op: Sum, in: t}\n";
    heed_model *m;
    heed_weights *w;
    heed_session *s;
    heed_diag d;
    assert_int_equal(heed_model_load_string(yaml, strlen(yaml), "ff.yaml", &o, &m, &d), HEED_OK);
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 1, &w, &d), HEED_OK);
    assert_int_equal(heed_session_new(w, HEED_MODE_TRAIN, &s, &d), HEED_OK);
    float x[64 * 4];
    for (int i = 0; i < 64 * 4; i++)
        x[i] = 0.01f * (float)i;
    heed_tensor small = {"x", HEED_F32, 2, {2, 4, 0, 0}, x}, big = {"x", HEED_F32, 2, {64, 4}, x};
    assert_int_equal(heed_session_set_input(s, "x", &small, &d), HEED_OK);
    assert_int_equal(heed_session_forward(s, &d), HEED_OK);
    float before = heed_session_loss(s);
    assert_true(isfinite(before));
    /* the larger batch needs a larger arena, and its allocation fails */
    assert_int_equal(heed_session_set_input(s, "x", &big, &d), HEED_OK);
    c.fail_at = c.calls + 1;
    assert_int_equal(heed_session_forward(s, &d), HEED_ERR_NOMEM);
    assert_true(c.failed);
    c.fail_at = 0;
    heed_tensor view;
    assert_int_equal(heed_session_backward(s, &d), HEED_ERR_STATE);
    assert_non_null(strstr(d.text, "the last one failed"));
    assert_int_equal(heed_session_get(s, "t", &view, &d), HEED_ERR_STATE);
    assert_true(isnan(heed_session_loss(s)));
    /* an input that does not fit: the pass before is not backward's */
    heed_tensor wide = {"x", HEED_F32, 2, {2, 5, 0, 0}, x};
    assert_int_equal(heed_session_set_input(s, "x", &small, &d), HEED_OK);
    assert_int_equal(heed_session_forward(s, &d), HEED_OK);
    assert_int_equal(heed_session_set_input(s, "x", &wide, &d), HEED_OK);
    assert_int_equal(heed_session_forward(s, &d), HEED_ERR_SHAPE);
    assert_non_null(strstr(d.text, "input 'x': dim 2 is 5 but the model fixes it at 4"));
    assert_int_equal(heed_session_backward(s, &d), HEED_ERR_STATE);
    /* and a pass that succeeds reads and runs backward as ever */
    assert_int_equal(heed_session_set_input(s, "x", &small, &d), HEED_OK);
    assert_int_equal(heed_session_forward(s, &d), HEED_OK);
    assert_true(heed_session_loss(s) == before);
    assert_int_equal(heed_session_get(s, "t", &view, &d), HEED_OK);
    assert_int_equal(heed_session_backward(s, &d), HEED_OK);
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(m);
    assert_int_equal(c.live, 0);
}

/* jansson's allocations counted, the Nth one failing: the header and
 * vocabulary JSON of a save must be freed on every path. */
static long jn_calls, jn_fail_at, jn_live;

static void *jn_malloc(size_t n)
{
    if (++jn_calls == jn_fail_at)
        return NULL;
    void *p = malloc(n);
    jn_live += p != NULL;
    return p;
}

static void jn_free(void *p)
{
    jn_live -= p != NULL;
    free(p);
}

static void saving_when_jansson_runs_out(void **state)
{
    (void)state;
    char tsv[] = "/tmp/heed_api_jn_XXXXXX", out[] = "/tmp/heed_api_jnw_XXXXXX";
    write_temp(tsv, "abc\tcba\nbca\tacb\n");
    close(mkstemp(out));
    heed_model *m = tu_model("api.yaml", model_yaml);
    heed_vocab *v;
    heed_weights *w;
    heed_diag d;
    assert_int_equal(heed_vocab_build(m, tsv, &v, &d), HEED_OK);
    assert_int_equal(heed_weights_new(m, v, NULL, 0, 3, &w, &d), HEED_OK);
    json_set_alloc_funcs(jn_malloc, jn_free);
    int failed = 0;
    bool saved = false;
    for (long n = 1; !saved && n < 100000; n++) {
        jn_calls = jn_live = 0;
        jn_fail_at = n;
        heed_status st = heed_weights_save(w, out, &d);
        assert_int_equal(jn_live, 0);
        if (st == HEED_OK) {
            saved = jn_calls < n; /* no allocation failed */
            continue;
        }
        assert_int_equal(st, HEED_ERR_NOMEM);
        failed++;
    }
    json_set_alloc_funcs(malloc, free);
    assert_true(saved);
    assert_true(failed > 20); /* the header and both vocabularies were hit */
    heed_weights *back;
    assert_int_equal(heed_weights_load(m, out, 0, &back, &d), HEED_OK);
    heed_weights_free(back);
    heed_weights_free(w);
    heed_vocab_free(v);
    heed_model_free(m);
    unlink(tsv);
    unlink(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(versions_agree),
        cmocka_unit_test(denormals_flushed_and_mode_restored),
        cmocka_unit_test(two_threads_share_weights),
        cmocka_unit_test(checkpoint_resumes_exactly),
        cmocka_unit_test(decoding_text_that_does_not_fit),
        cmocka_unit_test(data_read_as_written),
        cmocka_unit_test(every_allocation_may_fail),
        cmocka_unit_test(vocabularies_of_another_model),
        cmocka_unit_test(saving_when_jansson_runs_out),
        cmocka_unit_test(classifier_accuracy_skips_reserved_ids),
        cmocka_unit_test(dataset_check_names_rows_past_fixed_length),
        cmocka_unit_test(tagger_labels_each_token),
        cmocka_unit_test(tagging_when_allocations_fail),
        cmocka_unit_test(loading_at_the_models_dims),
        cmocka_unit_test(decoding_options_in_range),
        cmocka_unit_test(failed_forward_leaves_nothing_to_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
