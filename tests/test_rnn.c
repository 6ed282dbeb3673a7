/*
 * test_rnn.c - RNN, GRU and LSTM: finite-difference checks of every gradient
 * in every configuration (cell, 1 and 2 layers, uni- and bidirectional, with
 * and without an initial state, ragged lengths), step mode against the
 * full-sequence run, and parity with PyTorch fixtures.
 */
#include <dirent.h>

#include "../runtime/runtime.h"
#include "testutil.h"

/* A model whose loss is sum(out * r1) + sum(state * r2): gradients flow into
 * both outputs with random weights. */
static void make_model(char *buf, size_t cap, const char *op, int layers, bool bidir,
                       bool state, const char *extra)
{
    int D = bidir ? 2 : 1, H = 4;
    int ldh = layers * D * H, sw = strcmp(op, "LSTM") == 0 ? 2 * ldh : ldh;
    snprintf(buf, cap,
             "heed: 1\n"
             "inputs: {x: [B, T, 3], len: [B], r1: [B, T, %d], r2: [B, %d], h0: [B, %d]}\n"
             "nodes:\n"
             "  rnn: {op: %s, in: x, hidden: %d, layers: %d, bidirectional: %s, lengths: len%s%s}\n"
             "  a: {op: Mul, in: [rnn, r1]}\n"
             "  b: {op: Mul, in: [rnn.state, r2]}\n"
             "  c: {op: Tanh, in: h0}\n"
             "loss: {op: Sum, in: [a, b, c]}\n",
             D * H, sw, sw, op, H, layers, bidir ? "true" : "false", state ? ", state: h0" : "",
             extra);
}

/* Backward through time accumulates float32 rounding over steps and
 * layers: errors of 1-2% are rounding, a wrong gradient is off by its size. */
#define RNN_TOL 2e-2

static void gradients_every_configuration(void **state)
{
    (void)state;
    const char *ops[] = {"RNN", "GRU", "LSTM"};
    char yaml[2048];
    for (int o = 0; o < 3; o++)
        for (int layers = 1; layers <= 2; layers++)
            for (int bidir = 0; bidir < 2; bidir++)
                for (int st = 0; st < 2; st++) {
                    make_model(yaml, sizeof yaml, ops[o], layers, bidir, st, "");
                    tu_gradcheck(yaml, RNN_TOL);
                }
    /* a ReLU network through time has many kinks; the check steps around them */
    make_model(yaml, sizeof yaml, "RNN", 2, true, true, ", nonlinearity: relu");
    tu_gradcheck(yaml, RNN_TOL);
    make_model(yaml, sizeof yaml, "GRU", 2, true, true, ", dropout: 0.3");
    tu_gradcheck(yaml, RNN_TOL);
    make_model(yaml, sizeof yaml, "LSTM", 1, false, false, ", bias: false");
    tu_gradcheck(yaml, RNN_TOL);
}

/* ------------------------------------------------------------ PyTorch parity */

static const char *const cell_ops[] = {"RNN", "RNN", "GRU", "LSTM"};

/* The fixture at `path`, run with `threads` threads: with two, the two
 * directions of a bidirectional layer run at once, with one in turn. */
static void parity_case(const char *path, int threads)
{
    heed_tensor_file *f;
    heed_diag d;
    if (heed_tensor_file_read(path, &f, &d) != HEED_OK)
        fail_msg("%s", d.text);
    heed_tensor cfg_t = tu_file_tensor(f, "config");
    const int32_t *cfg = cfg_t.data;
    int cell = cfg[0], layers = cfg[1], bidir = cfg[2], hidden = cfg[3], width = cfg[4];
    heed_tensor x = tu_file_tensor(f, "x"), r1 = tu_file_tensor(f, "r1");
    heed_tensor r2 = tu_file_tensor(f, "r2");
    char yaml[2048], h0[64] = "";
    if (width)
        snprintf(h0, sizeof h0, ", h0: [B, %d]", width);
    snprintf(yaml, sizeof yaml,
             "heed: 1\n"
             "inputs: {x: [B, T, %lld], len: [B], r1: [B, T, %lld], r2: [B, %lld]%s}\n"
             "nodes:\n"
             "  rnn: {op: %s, in: x, hidden: %d, layers: %d, bidirectional: %s, lengths: len%s%s}\n"
             "  a: {op: Mul, in: [rnn, r1]}\n"
             "  b: {op: Mul, in: [rnn.state, r2]}\n"
             "loss: {op: Sum, in: [a, b]}\n",
             (long long)x.shape[2], (long long)r1.shape[2], (long long)r2.shape[1], h0,
             cell_ops[cell], hidden, layers,
             bidir ? "true" : "false", width ? ", state: h0" : "",
             cell == 1 ? ", nonlinearity: relu" : "");
    heed_model *m = tu_model(path, yaml);
    heed_weights *w;
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 1, &w, &d), HEED_OK);
    tu_load_params(w, f);
    heed_session *s;
    assert_int_equal(heed_session_new(w, HEED_MODE_TRAIN, &s, &d), HEED_OK);
    heed_session_set_threads(s, threads);
    heed_session_input_grads(s, 1);
    heed_session_keep_all(s, 1);
    tu_feed(s, f, "x", NULL);
    tu_feed(s, f, "lengths", "len");
    tu_feed(s, f, "r1", NULL);
    tu_feed(s, f, "r2", NULL);
    if (width)
        tu_feed(s, f, "h0", NULL);
    heed_weights_zero_grad(w);
    if (heed_session_forward(s, &d) != HEED_OK || heed_session_backward(s, &d) != HEED_OK)
        fail_msg("%s: %s", path, d.text);
    struct {
        const char *mine, *theirs;
    } checks[] = {{"rnn", "out"}, {"rnn.state", "state"}, {"grad:x", "grad.x"},
                  {width ? "grad:h0" : NULL, "grad.h0"}};
    char what[4096];
    for (int k = 0; k < 4; k++) {
        if (!checks[k].mine)
            continue;
        heed_tensor a, b = tu_file_tensor(f, checks[k].theirs);
        if (heed_session_get(s, checks[k].mine, &a, &d) != HEED_OK)
            fail_msg("%s", d.text);
        assert_int_equal(tu_numel(&a), tu_numel(&b));
        snprintf(what, sizeof what, "%s (%d threads): %s", path, threads, checks[k].theirs);
        tu_close_all(a.data, b.data, tu_numel(&a), 1e-4, what);
    }
    tu_check_param_grads(w, f, path, 1e-4);
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(m);
    heed_tensor_file_free(f);
}

static void pytorch_parity(void **state)
{
    (void)state;
    char dir[1024];
    DIR *dp = opendir(tu_path("tests/fixtures/rnn", dir, sizeof dir));
    assert_non_null(dp);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(dp))) {
        if (!strstr(e->d_name, ".safetensors"))
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        parity_case(path, 1);
        parity_case(path, 2);
        n++;
    }
    closedir(dp);
    assert_int_equal(n, 33); /* 4 cells x 2 layer counts x 2 directions x 2 states + 1 */
}

/* ------------------------------------------------------------ step mode */

/* A decoder run step by step with T=1, its state carried, gives the outputs of
 * the full-sequence run. */
static void step_mode_equals_full_sequence(void **state)
{
    (void)state;
    const char *ops[] = {"RNN", "GRU", "LSTM"};
    for (int o = 0; o < 3; o++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 "heed: 1\n"
                 "inputs: {x: [B, T, 3], h0: [B, 6]}\n"
                 "nodes:\n"
                 "  init: {op: Tanh, in: h0}\n"
                 "  dec: {op: %s, in: x, hidden: 3, layers: 2, state: init}\n"
                 "  y: {op: Affine, in: dec, units: 2}\n",
                 ops[o]);
        heed_model *m = tu_model("step.yaml", yaml);
        heed_weights *w;
        heed_diag d;
        assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 3, &w, &d), HEED_OK);
        heed_session *full, *step;
        assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &full, &d), HEED_OK);
        assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &step, &d), HEED_OK);
        enum { B = 2, T = 5 };
        float x[B * T * 3], h0[B * 6], xt[B * 3];
        uint64_t r = 9;
        for (int i = 0; i < B * T * 3; i++)
            x[i] = tu_rand(&r);
        for (int i = 0; i < B * 6; i++)
            h0[i] = tu_rand(&r);
        heed_tensor tx = {"x", HEED_F32, 3, {B, T, 3}, x}, th = {"h0", HEED_F32, 2, {B, 6}, h0};
        assert_int_equal(heed_session_set_input(full, "x", &tx, &d), HEED_OK);
        assert_int_equal(heed_session_set_input(full, "h0", &th, &d), HEED_OK);
        assert_int_equal(heed_session_forward(full, &d), HEED_OK);
        heed_tensor yf;
        assert_int_equal(heed_session_get(full, "y", &yf, &d), HEED_OK);
        hs_step_mode(step, 0); /* input 0 (x) is fed step by step */
        assert_int_equal(heed_session_set_input(step, "h0", &th, &d), HEED_OK);
        for (int t = 0; t < T; t++) {
            for (int b = 0; b < B; b++)
                memcpy(xt + b * 3, x + (b * T + t) * 3, 3 * sizeof(float));
            heed_tensor tt = {"x", HEED_F32, 3, {B, 1, 3}, xt};
            assert_int_equal(heed_session_set_input(step, "x", &tt, &d), HEED_OK);
            if (heed_session_forward(step, &d) != HEED_OK)
                fail_msg("%s", d.text);
            heed_tensor ys;
            assert_int_equal(heed_session_get(step, "y", &ys, &d), HEED_OK);
            for (int b = 0; b < B; b++)
                for (int k = 0; k < 2; k++)
                    tu_close(((float *)ys.data)[b * 2 + k], ((float *)yf.data)[(b * T + t) * 2 + k],
                             1e-6, ops[o]);
        }
        heed_session_free(full);
        heed_session_free(step);
        heed_weights_free(w);
        heed_model_free(m);
    }
}

/* One forward and backward pass of `r` on `threads` threads; every
 * parameter's gradient and those of `names` (values, "grad:" names) are
 * appended to `got` (capacity cap floats); returns the count. */
static size_t pass_results(tu_run *r, int threads, const char *const *names, float *got,
                           size_t cap)
{
    heed_diag d;
    heed_session_set_threads(r->s, threads);
    heed_weights_zero_grad(r->w);
    if (heed_session_forward(r->s, &d) != HEED_OK || heed_session_backward(r->s, &d) != HEED_OK)
        fail_msg("%s", d.text);
    size_t n = 0;
    for (const char *const *name = names; *name; name++) {
        heed_tensor t;
        if (heed_session_get(r->s, *name, &t, &d) != HEED_OK)
            fail_msg("%s", d.text);
        assert_true(n + tu_numel(&t) <= cap);
        memcpy(got + n, t.data, tu_numel(&t) * sizeof *got);
        n += tu_numel(&t);
    }
    for (size_t i = 0; i < heed_weights_count(r->w); i++) {
        heed_tensor p, g;
        assert_int_equal(heed_weights_param(r->w, i, &p), HEED_OK);
        assert_int_equal(heed_weights_grad(r->w, p.name, &g), HEED_OK);
        assert_true(n + tu_numel(&g) <= cap);
        memcpy(got + n, g.data, tu_numel(&g) * sizeof *got);
        n += tu_numel(&g);
    }
    return n;
}

/* A recurrence long enough to be shared by rows (rows_at_once, ops/rnn.c:
 * each thread runs its rows' steps from the first to the last, forward and
 * backward) gives on two threads what it gives on one: every cell, two
 * layers, attending decoders (additive and dot scores), ragged lengths, and
 * B = 137 rows, whose last row tile holds one row (tiles of 8). */
static void rows_shared_between_threads(void **state)
{
    (void)state;
    enum { B = 137, T = 6, IN = 5, H = 128, S = 7 };
    static const struct {
        const char *node; /* the recurrent node's attributes */
        bool att;
    } cases[] = {
        {"op: RNN, in: x, hidden: 128, layers: 2, lengths: len", false},
        {"op: GRU, in: x, hidden: 128, layers: 2, lengths: len", false},
        {"op: LSTM, in: x, hidden: 128, layers: 2, lengths: len", false},
        {"op: GRU, in: x, hidden: 128, lengths: len,\n"
         "       attention: {memory: mem, score: additive, units: 32, lengths: mlen}",
         true},
        {"op: LSTM, in: x, hidden: 128, lengths: len,\n"
         "       attention: {memory: mem, score: dot, lengths: mlen}",
         true},
    };
    const char *const plain[] = {"rnn", "rnn.state", "grad:x", NULL};
    const char *const attending[] = {"rnn",    "rnn.state", "rnn.context", "rnn.weights",
                                     "grad:x", "grad:mem",  NULL};
    size_t cap = 8 * (size_t)B * T * H + 4 * (size_t)B * H + 4 * (size_t)B * (T + S) * IN +
                 16 * (size_t)H * (H + IN + 2 * H + 2);
    float *one = malloc(cap * sizeof *one), *two = malloc(cap * sizeof *two);
    float *x = malloc((size_t)B * T * IN * sizeof *x), *r = malloc((size_t)B * T * H * sizeof *r);
    float *mem = malloc((size_t)B * S * H * sizeof *mem);
    int32_t len[B], mlen[B];
    assert_true(one && two && x && r && mem);
    uint64_t seed = 11;
    for (size_t i = 0; i < (size_t)B * T * IN; i++)
        x[i] = tu_rand(&seed);
    for (size_t i = 0; i < (size_t)B * T * H; i++)
        r[i] = tu_rand(&seed);
    for (size_t i = 0; i < (size_t)B * S * H; i++)
        mem[i] = tu_rand(&seed);
    for (int b = 0; b < B; b++) {
        len[b] = 1 + (b * 7) % T;
        mlen[b] = 1 + (b * 5) % S;
    }
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml,
                 "heed: 1\n"
                 "inputs: {x: [B, T, %d], len: [B], r: [B, T, %d]%s}\n"
                 "nodes:\n"
                 "  rnn: {%s}\n"
                 "  a: {op: Mul, in: [rnn, r]}\n"
                 "loss: {op: Sum, in: [a, rnn.state%s]}\n",
                 IN, H, cases[k].att ? ", mem: [B, S, 128], mlen: [B]" : "", cases[k].node,
                 cases[k].att ? ", rnn.context, rnn.weights" : "");
        tu_run run = tu_run_new("rows.yaml", yaml, HEED_MODE_TRAIN);
        heed_session_input_grads(run.s, 1);
        tu_set_f32(&run, "x", 3, (const int64_t[]){B, T, IN}, x);
        tu_set_f32(&run, "r", 3, (const int64_t[]){B, T, H}, r);
        tu_set_ids(&run, "len", 1, (const int64_t[]){B}, len);
        if (cases[k].att) {
            tu_set_f32(&run, "mem", 3, (const int64_t[]){B, S, H}, mem);
            tu_set_ids(&run, "mlen", 1, (const int64_t[]){B}, mlen);
        }
        const char *const *names = cases[k].att ? attending : plain;
        size_t n1 = pass_results(&run, 1, names, one, cap);
        size_t n2 = pass_results(&run, 2, names, two, cap);
        assert_int_equal(n1, n2);
        tu_close_all(two, one, n1, 1e-6, cases[k].node);
        tu_run_free(&run);
    }
    free(one);
    free(two);
    free(x);
    free(r);
    free(mem);
}

/* Lengths taken from the pad ids an embedding read give the same result as
 * the same lengths given explicitly. */
static void lengths_from_pad_ids(void **state)
{
    (void)state;
    heed_model *m = tu_model("pad.yaml",
                             "heed: 1\n"
                             "inputs: {ids: [B, T], len: [B]}\n"
                             "nodes:\n"
                             "  e: {op: Embedding, in: ids, vocab: 9, dim: 3}\n"
                             "  a: {op: GRU, in: e, hidden: 4, bidirectional: true}\n"
                             "  b: {op: GRU, in: e, hidden: 4, bidirectional: true, lengths: len}\n"
                             "outputs: [a.state, b.state]\n");
    heed_weights *w;
    heed_diag d;
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 2, &w, &d), HEED_OK);
    /* both GRUs get the same weights */
    for (size_t i = 0; i < heed_weights_count(w); i++) {
        heed_tensor pa, pb;
        heed_weights_param(w, i, &pa);
        if (strncmp(pa.name, "a.", 2))
            continue;
        char other[128];
        snprintf(other, sizeof other, "b.%s", pa.name + 2);
        assert_int_equal(heed_weights_find(w, other, &pb), HEED_OK);
        memcpy(pb.data, pa.data, tu_numel(&pa) * sizeof(float));
    }
    heed_session *s;
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s, &d), HEED_OK);
    const int32_t ids[3 * 4] = {5, 6, 7, 8, 4, 5, 0, 0, 8, 0, 0, 0};
    const int32_t len[3] = {4, 2, 1};
    heed_tensor ti = {"ids", HEED_I32, 2, {3, 4}, (void *)ids};
    heed_tensor tl = {"len", HEED_I32, 1, {3}, (void *)len};
    assert_int_equal(heed_session_set_input(s, "ids", &ti, &d), HEED_OK);
    assert_int_equal(heed_session_set_input(s, "len", &tl, &d), HEED_OK);
    assert_int_equal(heed_session_forward(s, &d), HEED_OK);
    heed_tensor sa, sb;
    assert_int_equal(heed_session_get(s, "a.state", &sa, &d), HEED_OK);
    assert_int_equal(heed_session_get(s, "b.state", &sb, &d), HEED_OK);
    assert_memory_equal(sa.data, sb.data, tu_numel(&sa) * sizeof(float));
    /* and the padding matters: row 2 (length 1) differs from a full-length run */
    const float *st = sa.data;
    assert_true(st[2 * 8] != 0.0f);
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(m);
}

/* layers may be a dim, so --dim sets a graph's depth: L=3 makes the same
 * weights as a literal 3, L=8 (64 parameter tensors in one node) works, and a
 * bound value out of range is an error at the attribute, as a literal one is. */
static void layers_from_a_dim(void **state)
{
    (void)state;
    const char *yaml = "heed: 1\n"
                       "dims: {L: 1}\n"
                       "inputs: {x: [B, T, 3]}\n"
                       "nodes:\n"
                       "  r: {op: GRU, in: x, hidden: 4, layers: L, bidirectional: true}\n"
                       "outputs: [r.state]\n";
    heed_model *m = tu_model("layers.yaml", yaml);
    heed_weights *w1, *w3;
    heed_diag d;
    const heed_dim three = {"L", 3};
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 1, &w1, &d), HEED_OK);
    assert_int_equal(heed_weights_new(m, NULL, &three, 1, 1, &w3, &d), HEED_OK);
    /* four tensors per layer and direction */
    assert_int_equal(heed_weights_count(w1), 8);
    assert_int_equal(heed_weights_count(w3), 24);
    /* the deepest stack: 8 layers both ways have 64 tensors, all in one node */
    heed_weights *w8;
    const heed_dim eight = {"L", 8};
    assert_int_equal(heed_weights_new(m, NULL, &eight, 1, 1, &w8, &d), HEED_OK);
    assert_int_equal(heed_weights_count(w8), 64);
    heed_weights_free(w8);
    heed_tensor t;
    assert_int_equal(heed_weights_find(w3, "r.weight_hh_l2_reverse", &t), HEED_OK);
    assert_int_equal(heed_weights_find(w1, "r.weight_hh_l2_reverse", &t), HEED_ERR_ARGUMENT);
    const heed_dim nine = {"L", 9};
    assert_int_equal(heed_model_check(m, &nine, 1, &d), HEED_ERR_SHAPE);
    assert_non_null(strstr(d.text, "layers.yaml:5:42: error: node 'r': 'layers' is L = 9, "
                                   "outside [1, 8]"));
    heed_weights_free(w3);
    heed_weights_free(w1);
    heed_model_free(m);
    tu_expect_errors("layers9.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, T, 3]}\n"
                     "nodes:\n"
                     "  r: {op: LSTM, in: x, hidden: 4, layers: 9}\n",
                     "layers9.yaml:4:43: error: node 'r': 'layers' is 9, outside [1, 8]", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradients_every_configuration),
        cmocka_unit_test(pytorch_parity),
        cmocka_unit_test(step_mode_equals_full_sequence),
        cmocka_unit_test(rows_shared_between_threads),
        cmocka_unit_test(lengths_from_pad_ids),
        cmocka_unit_test(layers_from_a_dim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
