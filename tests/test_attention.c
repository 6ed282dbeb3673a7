/*
 * test_attention.c - Attention, MultiHeadAttention, LayerNorm, positional
 * encodings and attention inside recurrent decoders: the worked examples of
 * the study notes with their exact numbers, finite-difference checks of every
 * mode, and parity with PyTorch fixtures.
 */
#include <dirent.h>

#include "../runtime/runtime.h"
#include "testutil.h"


/* Notes 000: query [1,0,1] over keys [[1,0,0],[0,1,0],[1,1,0]] and values
 * [[10,0],[0,10],[5,5]] with unscaled dot scores. */
static void worked_example_dynamic_focus(void **state)
{
    (void)state;
    tu_run r = tu_run_new("attention.yaml", "heed: 1\n"
                    "inputs: {q: [B, 1, 3], k: [B, 3, 3], v: [B, 3, 2]}\n"
                    "nodes:\n  att: {op: Attention, query: q, keys: k, values: v, score: dot}\n", HEED_MODE_INFER);
    tu_set_f32(&r, "q", 3, (int64_t[]){1, 1, 3}, (float[]){1, 0, 1});
    tu_set_f32(&r, "k", 3, (int64_t[]){1, 3, 3}, (float[]){1, 0, 0, 0, 1, 0, 1, 1, 0});
    tu_set_f32(&r, "v", 3, (int64_t[]){1, 3, 2}, (float[]){10, 0, 0, 10, 5, 5});
    heed_diag d;
    assert_int_equal(heed_session_forward(r.s, &d), HEED_OK);
    tu_expect(tu_get(&r, "att.weights"), (float[]){0.4223188f, 0.1553624f, 0.4223188f}, 3, 1e-6,
           "weights");
    tu_expect(tu_get(&r, "att"), (float[]){6.33478197f, 3.66521803f}, 2, 1e-6, "output");
    tu_run_free(&r);
}

/* Notes 004: self-attention of x (3 tokens of width 4) with x W_q, x W_k,
 * x W_v (no bias): scores, scaled-dot weights and outputs. */
static void worked_example_self_attention(void **state)
{
    (void)state;
    tu_run r = tu_run_new("attention.yaml", "heed: 1\n"
                    "inputs: {x: [B, 3, 4]}\n"
                    "nodes:\n"
                    "  q: {op: Affine, in: x, units: 3, bias: false}\n"
                    "  k: {op: Affine, in: x, units: 3, bias: false}\n"
                    "  v: {op: Affine, in: x, units: 3, bias: false}\n"
                    "  att: {op: Attention, query: q, keys: k, values: v, score: scaled_dot}\n", HEED_MODE_INFER);
    /* nn.Linear layout [out, in] holds W transposed: x W = x (W^T)^T */
    const float wq[12] = {1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1};
    const float wk[12] = {0, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 0};
    const float wv[12] = {0, 0, 1, 1, 2, 3, 0, 1, 0, 0, 3, 0};
    heed_tensor t;
    heed_weights_find(r.w, "q.weight", &t);
    memcpy(t.data, wq, sizeof wq);
    heed_weights_find(r.w, "k.weight", &t);
    memcpy(t.data, wk, sizeof wk);
    heed_weights_find(r.w, "v.weight", &t);
    memcpy(t.data, wv, sizeof wv);
    tu_set_f32(&r, "x", 3, (int64_t[]){1, 3, 4}, (float[]){1, 0, 1, 0, 0, 2, 0, 2, 1, 1, 1, 1});
    heed_diag d;
    assert_int_equal(heed_session_forward(r.s, &d), HEED_OK);
    /* the scores are scaled by 1/sqrt(3) before the softmax */
    const float raw[9] = {2, 4, 4, 4, 16, 12, 4, 12, 10};
    float scaled[9];
    for (int i = 0; i < 9; i++)
        scaled[i] = raw[i] / sqrtf(3.0f);
    tu_expect(tu_get(&r, "att.scores"), scaled, 9, 1e-6, "scores");
    tu_expect(tu_get(&r, "att.weights"), (float[]){0.13613f, 0.43194f, 0.43194f}, 3, 1e-4, "weights");
    tu_expect(tu_get(&r, "att"),
           (float[]){1.8639f, 6.3194f, 1.7042f, 1.9991f, 7.8141f, 0.2735f, 1.9926f, 7.4796f,
                     0.7359f},
           9, 2e-4, "outputs");
    tu_run_free(&r);
}

static void masks_padded_keys(void **state)
{
    (void)state;
    tu_run r = tu_run_new("attention.yaml", "heed: 1\n"
                    "inputs: {q: [B, 1, 2], k: [B, 3, 2], len: [B]}\n"
                    "nodes:\n  att: {op: Attention, query: q, keys: k, score: dot, lengths: len}\n", HEED_MODE_INFER);
    tu_set_f32(&r, "q", 3, (int64_t[]){2, 1, 2}, (float[]){1, 0, 1, 0});
    tu_set_f32(&r, "k", 3, (int64_t[]){2, 3, 2}, (float[]){1, 0, 0, 1, 9, 9, 1, 0, 0, 1, 9, 9});
    heed_tensor tl = {"len", HEED_I32, 1, {2}, (int32_t[]){2, 3}};
    heed_diag d;
    assert_int_equal(heed_session_set_input(r.s, "len", &tl, &d), HEED_OK);
    assert_int_equal(heed_session_forward(r.s, &d), HEED_OK);
    const float *w = tu_get(&r, "att.weights");
    /* row 0 sees two keys: e/(e+1), 1/(e+1), 0 */
    float e = expf(1.0f);
    tu_expect(w, (float[]){e / (e + 1), 1 / (e + 1), 0}, 3, 1e-6, "masked");
    assert_true(w[5] > 0.9f); /* row 1 sees the third key, which scores 9 */
    tu_run_free(&r);
}

/* Sinusoidal positions: x + sin / cos of t * 10000^(-(j - j%2)/E), the
 * same floats as sin and cos in double at every entry, over 300 positions
 * (several of the table's restart blocks) and an odd width. */
static void posenc_sinusoids_exact(void **state)
{
    (void)state;
    enum { T = 300, E = 7 };
    tu_run r = tu_run_new("posenc.yaml", "heed: 1\n"
                                         "inputs: {x: [B, T, 7]}\n"
                                         "nodes:\n  pe: {op: PositionalEncoding, in: x}\n",
                          HEED_MODE_INFER);
    static float x[T * E], want[T * E];
    for (int t = 0; t < T; t++)
        for (int j = 0; j < E; j++) {
            x[t * E + j] = (float)(j - 3) * 0.25f;
            double a = (double)t * pow(10000.0, -(double)(j - (j & 1)) / E);
            want[t * E + j] = x[t * E + j] + (float)((j & 1) ? cos(a) : sin(a));
        }
    tu_set_f32(&r, "x", 3, (int64_t[]){1, T, E}, x);
    heed_diag d;
    assert_int_equal(heed_session_forward(r.s, &d), HEED_OK);
    tu_expect(tu_get(&r, "pe"), want, T * E, 0.0, "sinusoids");
    tu_run_free(&r);
}

static void gradients_attention(void **state)
{
    (void)state;
    const char *scores[] = {"dot", "scaled_dot", "general", "additive"};
    for (int i = 0; i < 4; i++) {
        char yaml[1024];
        bool same = i < 2;
        snprintf(yaml, sizeof yaml,
                 "heed: 1\n"
                 "inputs: {q: [B, T, 4], k: [B, S, %d], v: [B, S, 3], len: [B], r1: [B, T, 3], "
                 "r2: [B, T, S], r3: [B, T, S]}\n"
                 "nodes:\n"
                 "  att: {op: Attention, query: q, keys: k, values: v, score: %s, lengths: len%s}\n"
                 "  a: {op: Mul, in: [att, r1]}\n"
                 "  b: {op: Mul, in: [att.weights, r2]}\n"
                 "  c: {op: Mul, in: [att.scores, r3]}\n" /* raw, masked positions too */
                 "loss: {op: Sum, in: [a, b, c]}\n",
                 same ? 4 : 5, scores[i], i == 3 ? ", units: 6" : "");
        tu_gradcheck(yaml, 1e-2);
    }
    /* values defaulting to the keys: both gradients land in k */
    tu_gradcheck("heed: 1\n"
                 "inputs: {q: [B, T, 4], k: [B, S, 4], r1: [B, T, 4]}\n"
                 "nodes:\n"
                 "  att: {op: Attention, query: q, keys: k, score: scaled_dot}\n"
                 "  a: {op: Mul, in: [att, r1]}\n"
                 "loss: {op: Sum, in: a}\n",
                 1e-2);
}

static void gradients_layernorm_posenc(void **state)
{
    (void)state;
    tu_gradcheck("heed: 1\n"
                 "inputs: {x: [B, T, 6], r: [B, T, 6]}\n"
                 "nodes:\n"
                 "  ln: {op: LayerNorm, in: x}\n"
                 "  n2: {op: LayerNorm, in: ln, affine: false, eps: 0.001}\n"
                 "  a: {op: Mul, in: [n2, r]}\n"
                 "loss: {op: Sum, in: a}\n",
                 1e-2);
    /* rows of 37: LayerNorm's partial-sum lanes and their tail */
    tu_gradcheck("heed: 1\n"
                 "inputs: {x: [B, T, 37], r: [B, T, 37]}\n"
                 "nodes:\n"
                 "  ln: {op: LayerNorm, in: x}\n"
                 "  n2: {op: LayerNorm, in: ln, affine: false, eps: 0.001}\n"
                 "  a: {op: Mul, in: [n2, r]}\n"
                 "loss: {op: Sum, in: a}\n",
                 1e-2);
    tu_gradcheck("heed: 1\n"
                 "inputs: {x: [B, T, 6], r: [B, T, 6]}\n"
                 "nodes:\n"
                 "  p1: {op: PositionalEncoding, in: x, scale: true}\n"
                 "  p2: {op: PositionalEncoding, in: p1, kind: learned, max_len: 9}\n"
                 "  a: {op: Mul, in: [p2, r]}\n"
                 "loss: {op: Sum, in: a}\n",
                 1e-2);
}

static void gradients_mha(void **state)
{
    (void)state;
    const char *cases[] = {
        "heads: 1", "heads: 2, key_lengths: len", "heads: 4, dropout: 0.2",
        "heads: 2, causal: true, key: q, value: q", "heads: 2, weights: per_head",
        "heads: 2, bias: false, key_lengths: len"};
    /* fused self-attention (no key or value given), causal, with dropout */
    tu_gradcheck("heed: 1\n"
                 "inputs: {q: [B, T, 8], r1: [B, T, 8], r2: [B, T, T]}\n"
                 "nodes:\n"
                 "  mha: {op: MultiHeadAttention, query: q, heads: 2, causal: true, dropout: 0.1}\n"
                 "  a: {op: Mul, in: [mha, r1]}\n"
                 "  b: {op: Mul, in: [mha.weights, r2]}\n"
                 "loss: {op: Sum, in: [a, b]}\n",
                 1e-2);
    /* heads 16 wide, which heed_heads512 takes on AVX-512 machines: its
     * probabilities and outputs agree with the backward (causal, with
     * dropout; then with key lengths and per-head weights). What they
     * compute is checked against PyTorch (mha_self_dh16, mha_dh32) and
     * plain loops (test_ops). */
    tu_gradcheck("heed: 1\n"
                 "inputs: {q: [B, T, 32], r1: [B, T, 32], r2: [B, T, T]}\n"
                 "nodes:\n"
                 "  mha: {op: MultiHeadAttention, query: q, heads: 2, causal: true, dropout: 0.1}\n"
                 "  a: {op: Mul, in: [mha, r1]}\n"
                 "  b: {op: Mul, in: [mha.weights, r2]}\n"
                 "loss: {op: Sum, in: [a, b]}\n",
                 1e-2);
    tu_gradcheck("heed: 1\n"
                 "inputs: {q: [B, T, 16], k: [B, S, 5], v: [B, S, 3], len: [B], r1: [B, T, 16], "
                 "r2: [B, 1, T, S]}\n"
                 "nodes:\n"
                 "  mha: {op: MultiHeadAttention, query: q, key: k, value: v, heads: 1, "
                 "key_lengths: len, weights: per_head}\n"
                 "  a: {op: Mul, in: [mha, r1]}\n"
                 "  b: {op: Mul, in: [mha.weights, r2]}\n"
                 "loss: {op: Sum, in: [a, b]}\n",
                 1e-2);
    for (int i = 0; i < 6; i++) {
        char yaml[1024];
        bool self = i == 3, per_head = i == 4;
        snprintf(yaml, sizeof yaml,
                 "heed: 1\n"
                 "inputs: {q: [B, T, 8], k: [B, S, 5], v: [B, S, 3], len: [B], r1: [B, T, 8], "
                 "r2: %s}\n"
                 "nodes:\n"
                 "  mha: {op: MultiHeadAttention, query: q%s, %s}\n"
                 "  a: {op: Mul, in: [mha, r1]}\n"
                 "  b: {op: Mul, in: [mha.weights, r2]}\n"
                 "  c: {op: Tanh, in: k}\n"
                 "  d: {op: Tanh, in: v}\n"
                 "loss: {op: Sum, in: [a, b, c, d]}\n",
                 self ? "[B, T, T]" : per_head ? "[B, 2, T, S]" : "[B, T, S]",
                 self ? "" : ", key: k, value: v", cases[i]);
        tu_gradcheck(yaml, 1e-2);
    }
}

/* ------------------------------------------------------------ PyTorch parity */

typedef void (*parity_fn)(const char *path);

static int each_fixture(const char *prefix, parity_fn fn)
{
    char dir[1024];
    DIR *dp = opendir(tu_path("tests/fixtures/attention", dir, sizeof dir));
    assert_non_null(dp);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(dp))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) || !strstr(e->d_name, ".safetensors"))
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        fn(path);
        n++;
    }
    closedir(dp);
    return n;
}

/* Runs a model on a fixture's inputs (every model input is in the file),
 * then compares the listed values and every parameter's and float input's
 * gradient with the file's, within 1e-4 of each tensor's scale. */
static void compare_with_fixture(const char *path, const heed_tensor_file *f, const char *yaml,
                                 const char *const *values, const char *const *names)
{
    heed_model *m = tu_model(path, yaml);
    heed_weights *w;
    heed_diag d;
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 1, &w, &d), HEED_OK);
    tu_load_params(w, f);
    heed_session *s;
    assert_int_equal(heed_session_new(w, HEED_MODE_TRAIN, &s, &d), HEED_OK);
    heed_session_input_grads(s, 1);
    heed_session_keep_all(s, 1);
    for (size_t i = 0; i < heed_model_input_count(m); i++) {
        heed_tensor t;
        heed_model_input(m, i, &t);
        tu_feed(s, f, t.name, NULL);
    }
    heed_weights_zero_grad(w);
    if (heed_session_forward(s, &d) != HEED_OK || heed_session_backward(s, &d) != HEED_OK)
        fail_msg("%s: %s", path, d.text);
    char what[4096];
    for (int k = 0; values[k]; k++) {
        heed_tensor a, b = tu_file_tensor(f, names[k]);
        if (heed_session_get(s, values[k], &a, &d) != HEED_OK)
            fail_msg("%s", d.text);
        assert_int_equal(tu_numel(&a), tu_numel(&b));
        snprintf(what, sizeof what, "%s: %s", path, names[k]);
        tu_close_all(a.data, b.data, tu_numel(&a), 1e-4, what);
    }
    for (size_t i = 0; i < heed_model_input_count(m); i++) {
        heed_tensor t, g;
        heed_model_input(m, i, &t);
        char mine[128], theirs[128];
        snprintf(mine, sizeof mine, "grad:%s", t.name);
        snprintf(theirs, sizeof theirs, "grad.%s", t.name);
        if (t.dtype != HEED_F32 || t.name[0] == 'r')
            continue; /* ids, and the loss weights r*, have no reference gradient */
        if (heed_session_get(s, mine, &g, &d) != HEED_OK)
            fail_msg("%s", d.text);
        heed_tensor want = tu_file_tensor(f, theirs);
        snprintf(what, sizeof what, "%s: %s", path, theirs);
        tu_close_all(g.data, want.data, tu_numel(&g), 1e-4, what);
    }
    tu_check_param_grads(w, f, path, 1e-4);
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(m);
}

static void layernorm_case(const char *path)
{
    heed_tensor_file *f;
    heed_diag d;
    assert_int_equal(heed_tensor_file_read(path, &f, &d), HEED_OK);
    int E = ((int32_t *)tu_file_tensor(f, "config").data)[0];
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "heed: 1\ninputs: {x: [B, T, %d], r: [B, T, %d]}\n"
             "nodes:\n  ln: {op: LayerNorm, in: x}\n  a: {op: Mul, in: [ln, r]}\n"
             "loss: {op: Sum, in: a}\n",
             E, E);
    const char *values[] = {"ln", NULL}, *names[] = {"out"};
    compare_with_fixture(path, f, yaml, values, names);
    heed_tensor_file_free(f);
}

static void mha_case(const char *path)
{
    heed_tensor_file *f;
    heed_diag d;
    assert_int_equal(heed_tensor_file_read(path, &f, &d), HEED_OK);
    const int32_t *c = tu_file_tensor(f, "config").data;
    int E = c[0], heads = c[1], kdim = c[2], vdim = c[3], causal = c[4], per_head = c[5];
    int mask = c[6], self = c[7];
    char yaml[1024], kv[128] = "", inputs[256];
    if (self)
        snprintf(inputs, sizeof inputs, "q: [B, L, %d], klen: {shape: [B], dtype: ids}, r1: [B, L, %d], r2: %s", E, E,
                 "[B, L, L]");
    else /* causal masking pairs query i with key i: the keys have the queries' length */
        snprintf(inputs, sizeof inputs,
                 "q: [B, L, %d], k: [B, %s, %d], v: [B, %s, %d], klen: {shape: [B], dtype: ids}, "
                 "r1: [B, L, %d], r2: [B, %sL, %s]",
                 E, causal ? "L" : "S", kdim, causal ? "L" : "S", vdim, E, per_head ? "H, " : "",
                 causal ? "L" : "S");
    if (!self)
        snprintf(kv, sizeof kv, ", key: k, value: v");
    snprintf(yaml, sizeof yaml,
             "heed: 1\ninputs: {%s}\n"
             "nodes:\n"
             "  mha: {op: MultiHeadAttention, query: q%s, heads: %d, causal: %s, weights: %s%s}\n"
             "  a: {op: Mul, in: [mha, r1]}\n"
             "  b: {op: Mul, in: [mha.weights, r2]}\n"
             "loss: {op: Sum, in: [a, b]}\n",
             inputs, kv, heads, causal ? "true" : "false", per_head ? "per_head" : "average",
             mask ? ", key_lengths: klen" : "");
    if (per_head) {
        /* a fixed H dim for the per-head weights */
        char *h = strstr(yaml, "[B, H, ");
        char buf[32];
        snprintf(buf, sizeof buf, "[B, %d, ", heads);
        char rest[1024];
        snprintf(rest, sizeof rest, "%s", h + strlen("[B, H, "));
        snprintf(h, sizeof yaml - (size_t)(h - yaml), "%s%s", buf, rest);
    }
    const char *values[] = {"mha", "mha.weights", NULL}, *names[] = {"out", "weights"};
    compare_with_fixture(path, f, yaml, values, names);
    heed_tensor_file_free(f);
}

static void bahdanau_case(const char *path)
{
    heed_tensor_file *f;
    heed_diag d;
    assert_int_equal(heed_tensor_file_read(path, &f, &d), HEED_OK);
    const int32_t *c = tu_file_tensor(f, "config").data;
    int In = c[2], H = c[3], Dm = c[5], U = c[6];
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "heed: 1\n"
             "inputs: {x: [B, T, %d], mem: [B, S, %d], mlen: [B], h0: [B, %d], r1: [B, T, %d], "
             "r2: [B, T, %d], r3: [B, T, S], r4: [B, %d]}\n"
             "nodes:\n"
             "  dec: {op: GRU, in: x, hidden: %d, state: h0,\n"
             "        attention: {memory: mem, score: additive, units: %d, lengths: mlen}}\n"
             "  a: {op: Mul, in: [dec, r1]}\n"
             "  b: {op: Mul, in: [dec.context, r2]}\n"
             "  c: {op: Mul, in: [dec.weights, r3]}\n"
             "  d: {op: Mul, in: [dec.state, r4]}\n"
             "loss: {op: Sum, in: [a, b, c, d]}\n",
             In, Dm, H, H, Dm, H, H, U);
    const char *values[] = {"dec", "dec.context", "dec.weights", "dec.state", NULL};
    const char *names[] = {"out", "context", "weights", "state"};
    compare_with_fixture(path, f, yaml, values, names);
    heed_tensor_file_free(f);
}

static void pytorch_parity_bahdanau_decoder(void **state)
{
    (void)state;
    assert_int_equal(each_fixture("bahdanau_", bahdanau_case), 2);
}

static void gradients_attending_decoder(void **state)
{
    (void)state;
    const char *cells[] = {"GRU", "LSTM"};
    const char *scores[] = {"additive", "dot", "general", "scaled_dot"};
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 4; k++) {
            char yaml[1024];
            /* dot scores need the memory as wide as the state (4) */
            int dm = k == 1 || k == 3 ? 4 : 3;
            snprintf(yaml, sizeof yaml,
                     "heed: 1\n"
                     "inputs: {tok: [B, T], src: [B, S], h0: [B, %d], r1: [B, T, 4], "
                     "r2: [B, T, %d], r3: [B, T, S]}\n"
                     "nodes:\n"
                     "  x: {op: Embedding, in: tok, vocab: 9, dim: 3}\n"
                     "  m: {op: Embedding, in: src, vocab: 9, dim: %d}\n"
                     "  dec: {op: %s, in: x, hidden: 4, state: h0,\n"
                     "        attention: {memory: m, score: %s, units: 5}}\n"
                     "  a: {op: Mul, in: [dec, r1]}\n"
                     "  b: {op: Mul, in: [dec.context, r2]}\n"
                     "  c: {op: Mul, in: [dec.weights, r3]}\n"
                     "loss: {op: Sum, in: [a, b, c]}\n",
                     c == 1 ? 8 : 4, dm, dm, cells[c], scores[k]);
            /* through time, as for the recurrent nodes: rounding reaches 1-2% */
            tu_gradcheck(yaml, 2e-2);
        }
}

/* The attending decoder, GRU or LSTM, run step by step (T=1, the state and
 * the memory's projection carried) gives the full-sequence outputs, contexts
 * and weights; the encoder part runs once. */
static void attending_decoder_step_mode(void **state)
{
    (void)state;
    const char *scores[] = {"additive", "general", "dot"}, *cells[] = {"GRU", "LSTM"};
    for (int k = 0; k < 6; k++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml,
                 "heed: 1\n"
                 "inputs: {src: [B, S], tok: [B, T]}\n"
                 "nodes:\n"
                 "  m: {op: Embedding, in: src, vocab: 9, dim: 4}\n"
                 "  enc: {op: GRU, in: m, hidden: 4}\n"
                 "  x: {op: Embedding, in: tok, vocab: 9, dim: 3}\n"
                 "  dec: {op: %s, in: x, hidden: 4, state: enc.state,\n"
                 "        attention: {memory: enc, score: %s, units: 5}}\n"
                 "  y: {op: Affine, in: [dec, dec.context], units: 2}\n"
                 "outputs: [dec.weights]\n",
                 cells[k / 3], scores[k % 3]);
        heed_model *m = tu_model("stepatt.yaml", yaml);
        heed_weights *w;
        heed_diag d;
        assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 5, &w, &d), HEED_OK);
        heed_session *full, *step;
        assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &full, &d), HEED_OK);
        assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &step, &d), HEED_OK);
        enum { B = 2, S = 5, T = 4 };
        const int32_t src[B * S] = {4, 5, 6, 7, 8, 5, 6, 0, 0, 0};
        const int32_t tok[B * T] = {2, 5, 6, 7, 2, 8, 4, 4};
        heed_tensor ts = {"src", HEED_I32, 2, {B, S}, (void *)src};
        heed_tensor tt = {"tok", HEED_I32, 2, {B, T}, (void *)tok};
        assert_int_equal(heed_session_set_input(full, "src", &ts, &d), HEED_OK);
        assert_int_equal(heed_session_set_input(full, "tok", &tt, &d), HEED_OK);
        assert_int_equal(heed_session_forward(full, &d), HEED_OK);
        heed_tensor yf, wf;
        assert_int_equal(heed_session_get(full, "y", &yf, &d), HEED_OK);
        assert_int_equal(heed_session_get(full, "dec.weights", &wf, &d), HEED_OK);
        hs_step_mode(step, 1); /* input 1 (tok) is fed step by step */
        assert_int_equal(heed_session_set_input(step, "src", &ts, &d), HEED_OK);
        for (int t = 0; t < T; t++) {
            int32_t col[B] = {tok[t], tok[T + t]};
            heed_tensor tc = {"tok", HEED_I32, 2, {B, 1}, col};
            assert_int_equal(heed_session_set_input(step, "tok", &tc, &d), HEED_OK);
            if (heed_session_forward(step, &d) != HEED_OK)
                fail_msg("%s", d.text);
            heed_tensor ys, ws;
            assert_int_equal(heed_session_get(step, "y", &ys, &d), HEED_OK);
            assert_int_equal(heed_session_get(step, "dec.weights", &ws, &d), HEED_OK);
            for (int b = 0; b < B; b++) {
                for (int j = 0; j < 2; j++)
                    tu_close(((float *)ys.data)[b * 2 + j], ((float *)yf.data)[(b * T + t) * 2 + j],
                             1e-6, scores[k % 3]);
                for (int j = 0; j < S; j++)
                    tu_close(((float *)ws.data)[b * S + j], ((float *)wf.data)[(b * T + t) * S + j],
                             1e-6, "weights");
            }
        }
        heed_session_free(full);
        heed_session_free(step);
        heed_weights_free(w);
        heed_model_free(m);
    }
}

static void pytorch_parity_layernorm(void **state)
{
    (void)state;
    assert_int_equal(each_fixture("layernorm_", layernorm_case), 2);
}

static void pytorch_parity_mha(void **state)
{
    (void)state;
    assert_int_equal(each_fixture("mha_", mha_case), 14);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(worked_example_dynamic_focus),
        cmocka_unit_test(worked_example_self_attention),
        cmocka_unit_test(masks_padded_keys),
        cmocka_unit_test(gradients_attention),
        cmocka_unit_test(gradients_layernorm_posenc),
        cmocka_unit_test(posenc_sinusoids_exact),
        cmocka_unit_test(gradients_mha),
        cmocka_unit_test(pytorch_parity_layernorm),
        cmocka_unit_test(pytorch_parity_mha),
        cmocka_unit_test(pytorch_parity_bahdanau_decoder),
        cmocka_unit_test(gradients_attending_decoder),
        cmocka_unit_test(attending_decoder_step_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
