/*
 * test_memplan.c - the memory planner's properties: on 1000 random DAG models
 * (training plans, with in-place ops and gradient accumulation) no two
 * tensors with overlapping lifetimes share a byte, the arena never exceeds the
 * naive size nor falls below the lower bound; the same on 2000 random interval
 * sets fed to the planner directly; and on every graph in graphs/ the arena is
 * within 1.15x of the lower bound.
 */
#include <dirent.h>

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
        cmocka_unit_test(shipped_graphs_near_lower_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
