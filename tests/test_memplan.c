/*
 * test_memplan.c - the memory planner's properties: on 1000 random DAG models
 * (training plans, with in-place ops and gradient accumulation) no two
 * tensors with overlapping lifetimes share a byte, the arena never exceeds the
 * naive size nor falls below the lower bound; the same on 2000 random interval
 * sets fed to the planner directly; in-place ops spare what is read later;
 * and on every graph in graphs/ the arena is within 1.15x of the lower bound.
 */
#include <dirent.h>
#include <math.h>

#include "../compiler/plan.h"
#include "testutil.h"

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A random DAG over [B,S,E] tensors ending in an MSE loss. */
static void random_model(uint64_t *rng, char *buf, size_t cap, int *n_nodes)
{
    static const char *const unary[] = {"Tanh", "ReLU", "Sigmoid", "GELU", "Dropout", "Softmax"};
    heed_sbuf s;
    heed_sbuf_init(&s, buf, cap);
    heed_sbuf_printf(&s, "heed: 1\ndims: {E: %d}\ninputs:\n  x: [B, S, E]\n  t: [B, S, E]\n"
                         "nodes:\n",
                     4 + (int)(next(rng) % 29));
    int n = 3 + (int)(next(rng) % 38);
    for (int i = 0; i < n; i++) {
        char a[16], b[16];
        /* inputs: the model input or any earlier node, biased to recent ones */
        int ia = i == 0 ? -1 : i - 1 - (int)(next(rng) % (uint64_t)(i < 4 ? i : 4));
        int ib = i == 0 ? -1 : (int)(next(rng) % (uint64_t)(i + 1)) - 1;
        if (ia < 0)
            snprintf(a, sizeof a, "x");
        else
            snprintf(a, sizeof a, "n%d", ia);
        if (ib < 0)
            snprintf(b, sizeof b, "x");
        else
            snprintf(b, sizeof b, "n%d", ib);
        switch (next(rng) % 6) {
        case 0:
        case 1:
            heed_sbuf_printf(&s, "  n%d: {op: %s, in: %s}\n", i, unary[next(rng) % 6], a);
            break;
        case 2: heed_sbuf_printf(&s, "  n%d: {op: Add, in: [%s, %s]}\n", i, a, b); break;
        case 3: heed_sbuf_printf(&s, "  n%d: {op: Mul, in: [%s, %s]}\n", i, a, b); break;
        case 4: heed_sbuf_printf(&s, "  n%d: {op: Affine, in: [%s, %s], units: E}\n", i, a, b); break;
        default: heed_sbuf_printf(&s, "  n%d: {op: Affine, in: %s, units: E, activation: relu}\n", i, a);
        }
    }
    heed_sbuf_printf(&s, "loss: {op: MSE, in: n%d, target: t}\n", n - 1);
    *n_nodes = n;
}

static void check_plan(const heed_plan *p)
{
    heed_mp_item *items = calloc((size_t)p->n_bufs + 1, sizeof *items);
    assert_non_null(items);
    for (int b = 0; b < p->n_bufs; b++)
        items[b] = (heed_mp_item){p->bufs[b].bytes, p->bufs[b].first, p->bufs[b].last,
                                  p->bufs[b].offset};
    assert_true(heed_mp_verify(items, (size_t)p->n_bufs, p->arena));
    assert_true(p->arena <= p->naive);
    assert_true(p->arena >= p->lower_bound);
    free(items);
}

static void random_dags(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    char yaml[8192];
    int inplace_seen = 0;
    for (int trial = 0; trial < 1000; trial++) {
        int n;
        random_model(&rng, yaml, sizeof yaml, &n);
        heed_model *m = tu_model("random.yaml", yaml);
        heed_dim dims[] = {{"B", 1 + (int64_t)(next(&rng) % 7)}, {"S", 1 + (int64_t)(next(&rng) % 9)}};
        for (int mode = 0; mode < 2; mode++) {
            heed_plan *p;
            heed_diag d;
            assert_int_equal(heed_plan_new(m, dims, 2, (heed_mode)mode, &p, &d), HEED_OK);
            check_plan(p);
            for (int v = 0; v < m->n_values; v++)
                for (int u = 0; u < v; u++)
                    inplace_seen += p->values[v].buf >= 0 && p->values[v].buf == p->values[u].buf;
            heed_plan_free(p);
        }
        heed_model_free(m);
    }
    /* the random graphs do exercise in-place sharing */
    assert_true(inplace_seen > 100);
}

static void random_intervals(void **state)
{
    (void)state;
    heed_env env;
    heed_env_init(&env, NULL);
    uint64_t rng = 12345;
    heed_mp_item items[200];
    for (int trial = 0; trial < 2000; trial++) {
        size_t n = 1 + next(&rng) % 200;
        int steps = 1 + (int)(next(&rng) % 60);
        for (size_t i = 0; i < n; i++) {
            int a = (int)(next(&rng) % (uint64_t)steps), b = (int)(next(&rng) % (uint64_t)steps);
            items[i] = (heed_mp_item){(size_t)(next(&rng) % 5000), a < b ? a : b, a < b ? b : a, 0};
        }
        size_t naive = heed_mp_assign(&env, items, n, true);
        size_t arena = heed_mp_assign(&env, items, n, false);
        assert_true(heed_mp_verify(items, n, arena));
        assert_true(arena <= naive);
        assert_true(arena >= heed_mp_lower_bound(&env, items, n));
    }
}

static void verifier_catches_overlap(void **state)
{
    (void)state;
    heed_mp_item items[2] = {{128, 0, 3, 0}, {128, 2, 5, 64}};
    assert_false(heed_mp_verify(items, 2, 256));
    items[1].offset = 128;
    assert_true(heed_mp_verify(items, 2, 256));
    items[1].first = 4; /* disjoint in time: sharing is fine */
    items[1].offset = 0;
    assert_true(heed_mp_verify(items, 2, 256));
}

/* The buffer of node `name`'s first output in plan p. */
static int buffer_of(const heed_model *m, const heed_plan *p, const char *name)
{
    for (int n = 0; n < m->n_nodes; n++)
        if (!strcmp(m->nodes[n].name, name))
            return p->values[m->nodes[n].out[0]].buf;
    fail_msg("no node %s", name);
    return -1;
}

/* GELU works in place where its input dies with it: in an inference plan,
 * not in a training plan, whose backward reads GELU's input. */
static void gelu_in_place_only_in_inference(void **state)
{
    (void)state;
    heed_model *m = tu_model("gelu.yaml", "heed: 1\n"
                                           "inputs: {x: [B, 8], t: [B, 8]}\n"
                                           "nodes:\n"
                                           "  h: {op: Affine, in: x, units: 32}\n"
                                           "  g: {op: GELU, in: h}\n"
                                           "  y: {op: Affine, in: g, units: 8}\n"
                                           "loss: {op: MSE, in: y, target: t}\n");
    heed_dim dims[] = {{"B", 64}};
    size_t arena[2];
    for (int mode = 0; mode < 2; mode++) {
        heed_plan *p;
        heed_diag d;
        assert_int_equal(heed_plan_new(m, dims, 1, (heed_mode)mode, &p, &d), HEED_OK);
        check_plan(p);
        bool shared = buffer_of(m, p, "g") == buffer_of(m, p, "h");
        assert_true(shared == ((heed_mode)mode == HEED_MODE_INFER));
        arena[mode] = p->arena;
        heed_plan_free(p);
    }
    /* inference holds x, one [64, 32] buffer for h and g, then y */
    assert_true(arena[HEED_MODE_INFER] < arena[HEED_MODE_TRAIN]);
    heed_model_free(m);
}

/* Value `name` after a forward pass of model yaml on x [2, 4] (mode's plan,
 * every value kept when keep_all), copied into out[n]; the status of the get. */
static heed_status forward_value(const char *yaml, heed_mode mode, bool keep_all,
                                 const char *name, float *out, size_t n)
{
    heed_model *m = tu_model("inplace.yaml", yaml);
    heed_weights *w;
    heed_session *s;
    heed_diag d;
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 5, &w, &d), HEED_OK);
    assert_int_equal(heed_session_new(w, mode, &s, &d), HEED_OK);
    heed_session_keep_all(s, keep_all);
    float x[8], t[8] = {0};
    uint64_t rng = 11;
    for (int i = 0; i < 8; i++)
        x[i] = tu_rand(&rng);
    heed_tensor tx = {"x", HEED_F32, 2, {2, 4, 0, 0}, x}, tt = {"t", HEED_F32, 2, {2, 4, 0, 0}, t};
    assert_int_equal(heed_session_set_input(s, "x", &tx, &d), HEED_OK);
    if (mode == HEED_MODE_TRAIN)
        assert_int_equal(heed_session_set_input(s, "t", &tt, &d), HEED_OK);
    if (heed_session_forward(s, &d) != HEED_OK)
        fail_msg("%s", d.text);
    heed_tensor v;
    heed_status st = heed_session_get(s, name, &v, &d);
    if (st == HEED_OK) {
        assert_int_equal(tu_numel(&v), n);
        memcpy(out, v.data, n * sizeof *out);
    }
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(m);
    return st;
}

/* In-place ops never overwrite what is read later: a kept input of the
 * plan's last node (outputs: logits, then Softmax in place; also when every
 * value is kept, as heed run keeps them), an input the same node reads again
 * (Add [tx, ty, tx]); and a value an op overwrote is refused by
 * heed_session_get, not returned holding the op's result. */
static void in_place_spares_what_is_read(void **state)
{
    (void)state;
    static const char *const softmax_last = "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n"
                                            "  logits: {op: Affine, in: x, units: 4}\n"
                                            "  probs: {op: Softmax, in: logits}\n"
                                            "outputs: [logits, probs]\n";
    for (int keep_all = 0; keep_all < 2; keep_all++) {
        float logits[8], probs[8], want[8];
        assert_int_equal(forward_value(softmax_last, HEED_MODE_INFER, keep_all, "logits", logits, 8),
                         HEED_OK);
        assert_int_equal(forward_value(softmax_last, HEED_MODE_INFER, keep_all, "probs", probs, 8),
                         HEED_OK);
        for (int r = 0; r < 2; r++) {
            double sum = 0;
            for (int j = 0; j < 4; j++)
                sum += exp(logits[r * 4 + j]);
            for (int j = 0; j < 4; j++)
                want[r * 4 + j] = (float)(exp(logits[r * 4 + j]) / sum);
        }
        tu_expect(probs, want, 8, 1e-6, "softmax of the kept logits");
    }
    /* Add reading tx twice; the plan keeping every value has no in-place op
     * before its last node: the reference */
    static const struct {
        const char *yaml, *name;
        heed_mode mode;
    } cases[] = {
        {"heed: 1\ninputs: {x: [B, 4]}\nnodes:\n"
         "  tx: {op: Affine, in: x, units: 4}\n"
         "  ty: {op: Tanh, in: x}\n"
         "  s: {op: Add, in: [tx, ty, tx]}\n"
         "  z: {op: Affine, in: s, units: 4}\n",
         "z", HEED_MODE_INFER},
        {"heed: 1\ninputs: {x: [B, 4], t: [B, 4]}\nnodes:\n"
         "  tx: {op: Affine, in: x, units: 4}\n"
         "  ty: {op: Tanh, in: x}\n"
         "  s: {op: Add, in: [tx, ty, tx]}\n"
         "  y: {op: Affine, in: s, units: 4}\n"
         "loss: {op: MSE, in: y, target: t}\n",
         "loss", HEED_MODE_TRAIN},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t n = cases[k].mode == HEED_MODE_TRAIN ? 1 : 8;
        float got[8], want[8];
        assert_int_equal(forward_value(cases[k].yaml, cases[k].mode, false, cases[k].name, got, n),
                         HEED_OK);
        assert_int_equal(forward_value(cases[k].yaml, cases[k].mode, true, cases[k].name, want, n),
                         HEED_OK);
        tu_expect(got, want, n, 1e-6, cases[k].name);
    }
    static const char *const relu = "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n"
                                    "  h: {op: Affine, in: x, units: 4}\n"
                                    "  r: {op: ReLU, in: h}\n";
    float h[8];
    assert_int_equal(forward_value(relu, HEED_MODE_INFER, false, "h", h, 8), HEED_ERR_STATE);
    assert_int_equal(forward_value(relu, HEED_MODE_INFER, true, "h", h, 8), HEED_OK);
    /* the gradients through Add [tx, ty, tx] in the training plan */
    tu_gradcheck(cases[1].yaml, 1e-2);
}

/* decode: attention: keeps its value to the end of the decoding step plan
 * only: a training plan frees it when its last reader is done. */
static void decode_values_kept_only_for_decoding(void **state)
{
    (void)state;
    static const char *const body =
        "heed: 1\n"
        "inputs: {src: [B, S], tgt: [B, T]}\n"
        "nodes:\n"
        "  se:  {op: Embedding, in: src, vocab: 7, dim: 8}\n"
        "  te:  {op: Embedding, in: tgt, vocab: 7, dim: 8}\n"
        "  enc: {op: GRU, in: se, hidden: 8}\n"
        "  dec: {op: GRU, in: te, hidden: 8}\n"
        "  ctx: {op: Attention, query: dec, keys: enc, score: dot}\n"
        "  ws:  {op: Mul, in: [ctx.weights, ctx.weights]}\n"
        "  logits: {op: Affine, in: ctx, units: 7}\n"
        "loss: {op: CrossEntropy, logits: logits, target: tgt, shift: 1}\n";
    char with[2048];
    snprintf(with, sizeof with, "%sdecode: {attention: ctx.weights}\n", body);
    heed_dim dims[] = {{"B", 16}, {"S", 9}, {"T", 7}};
    size_t arena[2];
    const char *const yaml[2] = {body, with};
    for (int k = 0; k < 2; k++) {
        heed_model *m = tu_model("decode_kept.yaml", yaml[k]);
        heed_plan *p;
        heed_diag d;
        assert_int_equal(heed_plan_new(m, dims, 3, HEED_MODE_TRAIN, &p, &d), HEED_OK);
        check_plan(p);
        arena[k] = p->arena;
        heed_plan_free(p);
        heed_model_free(m);
    }
    assert_int_equal(arena[1], arena[0]);
}

static void shipped_graphs_near_lower_bound(void **state)
{
    (void)state;
    char dir[1024];
    DIR *dp = opendir(tu_path("graphs", dir, sizeof dir));
    assert_non_null(dp);
    struct dirent *e;
    int checked = 0;
    while ((e = readdir(dp))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        heed_model *m;
        heed_diag d;
        assert_int_equal(heed_model_load_file(path, NULL, &m, &d), HEED_OK);
        heed_plan *p;
        heed_mode mode = m->loss_node >= 0 ? HEED_MODE_TRAIN : HEED_MODE_INFER;
        assert_int_equal(heed_plan_new(m, NULL, 0, mode, &p, &d), HEED_OK);
        check_plan(p);
        double ratio = (double)p->arena / (double)p->lower_bound;
        printf("  %-32s arena %zu, lower bound %zu, ratio %.3f\n", e->d_name, p->arena,
               p->lower_bound, ratio);
        assert_true(ratio <= 1.15);
        heed_plan_free(p);
        heed_model_free(m);
        checked++;
    }
    closedir(dp);
    assert_true(checked > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verifier_catches_overlap),
        cmocka_unit_test(random_intervals),
        cmocka_unit_test(random_dags),
        cmocka_unit_test(gelu_in_place_only_in_inference),
        cmocka_unit_test(in_place_spares_what_is_read),
        cmocka_unit_test(decode_values_kept_only_for_decoding),
        cmocka_unit_test(shipped_graphs_near_lower_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
