/*
 * test_ops.c - every core op: known forward values (computed by hand or with
 * PyTorch's formulas) and a finite-difference check of every gradient.
 */
#include <math.h>
#include <omp.h>

#include "../ops/kernels/attend.h"
#include "../ops/kernels/kernels.h"
#include "../ops/kernels/gemm512.h"
#include "../ops/kernels/heads512.h"
#include "../ops/kernels/packed.h"
#include "../ops/kernels/shallow.h"
#include "../ops/kernels/steal.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

static const float *forward_get(tu_run *r, const char *value, size_t expect_n)
{
    heed_diag d;
    if (heed_session_forward(r->s, &d) != HEED_OK)
        fail_msg("%s", d.text);
    heed_tensor t;
    if (heed_session_get(r->s, value, &t, &d) != HEED_OK)
        fail_msg("%s", d.text);
    size_t n = 1;
    for (int i = 0; i < t.rank; i++)
        n *= (size_t)t.shape[i];
    assert_int_equal(n, expect_n);
    return t.data;
}

static void set_param(tu_run *r, const char *name, const float *data, size_t n)
{
    heed_tensor t;
    assert_int_equal(heed_weights_find(r->w, name, &t), HEED_OK);
    memcpy(t.data, data, n * sizeof(float));
}

static void gradcheck(const char *yaml, double tol)
{
    tu_gradcheck(yaml, tol);
}

#define UNARY(OP, EXTRA)                                                                         \
    "heed: 1\ndims: {E: 5}\ninputs: {x: [B, S, E], t: [B, S, E]}\n"                              \
    "nodes:\n  y: {op: " OP ", in: x" EXTRA "}\n"                                                \
    "loss: {op: MSE, in: y, target: t}\n"

/* ------------------------------------------------------------ forward values */

static void activations_known_values(void **state)
{
    (void)state;
    const float x[4] = {-2.0f, -0.5f, 0.0f, 1.0f};
    const int64_t shape[3] = {1, 1, 4};
    struct {
        const char *op, *extra;
        float want[4];
    } cases[] = {
        {"Tanh", "", {-0.96402758f, -0.46211716f, 0.0f, 0.76159416f}},
        {"Sigmoid", "", {0.11920292f, 0.37754067f, 0.5f, 0.73105858f}},
        {"ReLU", "", {0.0f, 0.0f, 0.0f, 1.0f}},
        {"GELU", "", {-0.04550026f, -0.15426877f, 0.0f, 0.84134475f}},
        {"GELU", ", approximate: tanh", {-0.04540231f, -0.15428599f, 0.0f, 0.84119199f}},
        {"Softmax", "", {0.03034323f, 0.13598892f, 0.22420782f, 0.60946004f}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 "heed: 1\ninputs: {x: [B, S, 4]}\nnodes:\n  y: {op: %s, in: x%s}\n",
                 cases[c].op, cases[c].extra);
        tu_run r = tu_run_new("op.yaml", yaml, HEED_MODE_INFER);
        tu_set_f32(&r, "x", 3, shape, x);
        tu_expect(forward_get(&r, "y", 4), cases[c].want, 4, 1e-6, cases[c].op);
        tu_run_free(&r);
    }
}

/* LayerNorm over rows wide enough for its partial-sum lanes (37 = two
 * lanes of 16 and a tail of 5), with an offset of 1000 that a careless
 * one-pass variance would lose, against the row's mean and variance taken
 * in double here. */
static void layernorm_wide_rows_known_values(void **state)
{
    (void)state;
    enum { E = 37, ROWS = 3 };
    float x[ROWS * E], want[ROWS * E];
    for (int r = 0; r < ROWS; r++) {
        double mean = 0.0, var = 0.0;
        for (int j = 0; j < E; j++) {
            x[r * E + j] = 1000.0f * (float)r + (float)((j * 7 + r) % 11) * 0.25f - 1.0f;
            mean += x[r * E + j];
        }
        mean /= E;
        for (int j = 0; j < E; j++)
            var += (x[r * E + j] - mean) * (x[r * E + j] - mean);
        var /= E;
        for (int j = 0; j < E; j++)
            want[r * E + j] = (float)((x[r * E + j] - mean) / sqrt(var + 1e-5));
    }
    const int64_t shape[3] = {1, ROWS, E};
    const char *yaml = "heed: 1\ninputs: {x: [B, S, 37]}\nnodes:\n"
                       "  y: {op: LayerNorm, in: x}\n  z: {op: LayerNorm, in: x, affine: false}\n";
    tu_run r = tu_run_new("ln.yaml", yaml, HEED_MODE_INFER);
    tu_set_f32(&r, "x", 3, shape, x);
    tu_expect(forward_get(&r, "y", ROWS * E), want, ROWS * E, 2e-5, "LayerNorm E=37");
    tu_expect(forward_get(&r, "z", ROWS * E), want, ROWS * E, 2e-5, "LayerNorm E=37 plain");
    tu_run_free(&r);
}

/* LayerNorm's gradients over enough rows for several chunks of its column
 * sums, the last one partial (200 rows: 64 + 64 + 64 + 8), on 1 and 2
 * threads, against the formulas taken in double here: dbias = sum of dy,
 * dweight = sum of dy xh, dx = rstd (g - mean(g) - xh mean(g xh)), g = dy w. */
static void layernorm_gradients_known_values(void **state)
{
    (void)state;
    enum { E = 130, ROWS = 200 };
    float *x = malloc(ROWS * E * sizeof *x), *dy = malloc(ROWS * E * sizeof *dy);
    float *want_dx = malloc(ROWS * E * sizeof *want_dx);
    float w[E], bias[E], want_dw[E], want_db[E];
    double dw[E] = {0}, db[E] = {0};
    assert_true(x && dy && want_dx);
    uint64_t seed = 5;
    for (int i = 0; i < ROWS * E; i++) {
        x[i] = 3.0f * tu_rand(&seed) + (float)(i / E % 7);
        dy[i] = tu_rand(&seed);
    }
    for (int j = 0; j < E; j++) {
        w[j] = 0.5f + 0.01f * (float)j;
        bias[j] = 0.1f * tu_rand(&seed);
    }
    for (int r = 0; r < ROWS; r++) {
        const float *row = x + r * E, *g = dy + r * E;
        double mean = 0.0, var = 0.0, a = 0.0, b = 0.0, xh[E];
        for (int j = 0; j < E; j++)
            mean += row[j];
        mean /= E;
        for (int j = 0; j < E; j++)
            var += (row[j] - mean) * (row[j] - mean);
        double rstd = 1.0 / sqrt(var / E + 1e-5);
        for (int j = 0; j < E; j++) {
            xh[j] = (row[j] - mean) * rstd;
            a += (double)g[j] * w[j] / E;
            b += (double)g[j] * w[j] * xh[j] / E;
            dw[j] += g[j] * xh[j];
            db[j] += g[j];
        }
        for (int j = 0; j < E; j++)
            want_dx[r * E + j] = (float)(rstd * ((double)g[j] * w[j] - a - xh[j] * b));
    }
    for (int j = 0; j < E; j++) {
        want_dw[j] = (float)dw[j];
        want_db[j] = (float)db[j];
    }
    tu_run r = tu_run_new("ln.yaml",
                          "heed: 1\ninputs: {x: [B, S, 130], r: [B, S, 130]}\nnodes:\n"
                          "  ln: {op: LayerNorm, in: x}\n  a: {op: Mul, in: [ln, r]}\n"
                          "loss: {op: Sum, in: a}\n",
                          HEED_MODE_TRAIN);
    heed_session_input_grads(r.s, 1);
    set_param(&r, "ln.weight", w, E);
    set_param(&r, "ln.bias", bias, E);
    const int64_t shape[3] = {2, ROWS / 2, E};
    tu_set_f32(&r, "x", 3, shape, x);
    tu_set_f32(&r, "r", 3, shape, dy);
    for (int threads = 1; threads <= 2; threads++) {
        heed_diag d;
        heed_session_set_threads(r.s, threads);
        heed_weights_zero_grad(r.w);
        if (heed_session_forward(r.s, &d) != HEED_OK || heed_session_backward(r.s, &d) != HEED_OK)
            fail_msg("%s", d.text);
        heed_tensor g;
        assert_int_equal(heed_session_get(r.s, "grad:x", &g, &d), HEED_OK);
        tu_expect(g.data, want_dx, ROWS * E, 1e-4, "LayerNorm dx");
        assert_int_equal(heed_weights_grad(r.w, "ln.weight", &g), HEED_OK);
        tu_expect(g.data, want_dw, E, 1e-4, "LayerNorm dweight");
        assert_int_equal(heed_weights_grad(r.w, "ln.bias", &g), HEED_OK);
        tu_expect(g.data, want_db, E, 1e-4, "LayerNorm dbias");
    }
    tu_run_free(&r);
    free(x);
    free(dy);
    free(want_dx);
}

/* heed_gemm against a plain triple loop, for every transpose and for one row
 * (where it calls sgemv) as well as several; beta = 0 must ignore a C that
 * holds NaN. */
static void gemm_every_transpose(void **state)
{
    (void)state;
    enum { K = 5, N = 7, LD = 9 };
    float A[K * LD], B[N * LD], C[4 * LD]; /* A is [M,K] or, transposed, [K,M] */
    for (int i = 0; i < K * LD; i++)
        A[i] = (float)((i * 7) % 11) / 4.0f - 1.0f;
    for (int i = 0; i < N * LD; i++)
        B[i] = (float)((i * 5) % 13) / 6.0f - 1.0f;
    const int Ms[2] = {1, 3};
    const float betas[2] = {0.0f, 0.5f};
    for (int mi = 0; mi < 2; mi++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bi = 0; bi < 2; bi++) {
                    int M = Ms[mi];
                    float beta = betas[bi];
                    for (int i = 0; i < 4 * LD; i++)
                        C[i] = bi ? (float)i / 10.0f : NAN;
                    heed_gemm(ta, tb, M, N, K, 2.0f, A, LD, B, LD, beta, C, LD);
                    for (int m = 0; m < M; m++)
                        for (int n = 0; n < N; n++) {
                            double want = bi ? 0.5 * (float)(m * LD + n) / 10.0f : 0.0;
                            for (int k = 0; k < K; k++)
                                want += 2.0 * (ta ? A[k * LD + m] : A[m * LD + k]) *
                                        (tb ? B[n * LD + k] : B[k * LD + n]);
                            char what[64];
                            snprintf(what, sizeof what, "gemm M=%d ta=%d tb=%d beta=%g", M, ta,
                                     tb, (double)beta);
                            tu_close(C[m * LD + n], want, 1e-5, what);
                        }
                }
}

/* One row against a plain loop on both sides of the size up to which
 * heed_gemm keeps it on the calling thread (N*K <= 65536) and hands larger
 * ones to sgemv, the weight transposed and not, beta 0 over NaN and 0.5. */
static void gemm_one_row_small_and_large(void **state)
{
    (void)state;
    enum { K = 250, MAXN = 300 };
    static float a[K], W[MAXN * K], C[MAXN];
    for (int i = 0; i < K; i++)
        a[i] = (float)((i * 7) % 17) / 8.0f - 1.0f;
    for (int i = 0; i < MAXN * K; i++)
        W[i] = (float)((i * 5) % 23) / 11.0f - 1.0f;
    const int Ns[2] = {100, MAXN}; /* 25000 and 75000 weights */
    for (int ni = 0; ni < 2; ni++)
        for (int tb = 0; tb < 2; tb++)
            for (int bi = 0; bi < 2; bi++) {
                int N = Ns[ni];
                float beta = bi ? 0.5f : 0.0f;
                for (int n = 0; n < N; n++)
                    C[n] = bi ? (float)n / 10.0f : NAN;
                /* op(W) [K,N]: W [N,K] when transposed, else [K,N] */
                heed_gemm(false, tb, 1, N, K, 1.5f, a, K, W, tb ? K : N, beta, C, N);
                for (int n = 0; n < N; n++) {
                    double want = bi ? 0.5 * (float)n / 10.0f : 0.0;
                    for (int k = 0; k < K; k++)
                        want += 1.5 * a[k] * (tb ? W[n * K + k] : W[k * N + n]);
                    char what[64];
                    snprintf(what, sizeof what, "one row N=%d tb=%d beta=%g [%d]", N, tb,
                             (double)beta, n);
                    tu_close(C[n], want, 1e-4 * (1 + fabs(want)), what);
                }
            }
}

/* A product of few columns that heed_gemm splits by rows between two
 * threads (75 rows: one thread gets 48, the other the 27 left, off the
 * 16-row tiles), every transpose, beta 0 over NaN and 0.5, read with leading
 * dimensions wider than the matrices: the same values as a plain loop, and
 * as at one thread, where OpenBLAS runs it whole. */
static void gemm_rows_split_between_threads(void **state)
{
    (void)state;
    enum { M = 75, N = 40, K = 100, LD = 103 };
    static float A[K * LD], B[K * LD], C[M * LD];
    for (int i = 0; i < K * LD; i++) {
        A[i] = (float)((i * 7) % 23) / 8.0f - 1.4f;
        B[i] = (float)((i * 5) % 19) / 9.0f - 1.0f;
    }
    int threads_before = omp_get_max_threads();
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        assert_int_equal(heed_gemm_route(false, M, N, K),
                         threads == 2 ? HEED_GEMM_ROWS : HEED_GEMM_BLAS);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bi = 0; bi < 2; bi++) {
                    float beta = bi ? 0.5f : 0.0f;
                    for (int i = 0; i < M * LD; i++)
                        C[i] = bi ? (float)(i % 31) / 10.0f : NAN;
                    heed_gemm(ta, tb, M, N, K, 1.5f, A, LD, B, LD, beta, C, LD);
                    for (int m = 0; m < M; m++)
                        for (int n = 0; n < N; n++) {
                            double want = bi ? 0.5 * (float)((m * LD + n) % 31) / 10.0f : 0.0;
                            for (int k = 0; k < K; k++)
                                want += 1.5 * (ta ? A[k * LD + m] : A[m * LD + k]) *
                                        (tb ? B[n * LD + k] : B[k * LD + n]);
                            char what[80];
                            snprintf(what, sizeof what, "rows split %d threads ta=%d tb=%d beta=%g",
                                     threads, ta, tb, (double)beta);
                            tu_close(C[m * LD + n], want, 1e-4 * (1 + fabs(want)), what);
                        }
                }
    }
    omp_set_num_threads(threads_before);
}

/* HEED_FOR_IF visits every index once, with its reduction, whether it goes
 * parallel or not, at one and two threads; inside a running parallel region
 * it stays on the calling thread, so each thread of the region runs the
 * whole loop over its own array. */
static void for_if_visits_each_index_once(void **state)
{
    (void)state;
    enum { N = 1000 };
    static int hits[2][N];
    int threads_before = omp_get_max_threads();
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        for (int parallel = 0; parallel < 2; parallel++) {
            memset(hits, 0, sizeof hits);
            int64_t total = 0;
            HEED_FOR_IF(parallel, reduction(+ : total), for (int64_t i = 0; i < N; i++), {
                hits[0][i]++;
                total += i;
            });
            assert_int_equal(total, (int64_t)N * (N - 1) / 2);
            for (int i = 0; i < N; i++)
                assert_int_equal(hits[0][i], 1);
        }
        memset(hits, 0, sizeof hits);
        int64_t totals[2] = {0, 0};
        int team = 0;
#pragma omp parallel num_threads(2)
        {
            int id = omp_get_thread_num();
#pragma omp single
            team = omp_get_num_threads();
            int64_t t = 0;
            HEED_FOR_IF(true, reduction(+ : t), for (int64_t i = 0; i < N; i++), {
                hits[id][i]++;
                t += i;
            });
            totals[id] = t;
        }
        assert_true(team >= 1 && team <= 2);
        for (int id = 0; id < team; id++) {
            assert_int_equal(totals[id], (int64_t)N * (N - 1) / 2);
            for (int i = 0; i < N; i++)
                assert_int_equal(hits[id][i], 1);
        }
    }
    omp_set_num_threads(threads_before);
}

/* The packed product equals the plain one: rows that fill a tile and rows
 * that do not, widths on and off the 32-column panel, depths within one
 * 256-row pass and over several, one and two sources of A rows, a transposed weight and not, accumulating and setting (with a bias
 * and without), and a size large enough to be split over the threads (run at
 * one and two threads: the same values). */
static void gemm_packed_matches_gemm(void **state)
{
    (void)state;
    enum { MAXM = 70, MAXN = 100, MAXK = 600, A2_AT = MAXM * (MAXK + 3) };
    /* A holds A1 then A2 (from A2_AT), each with spare columns;
     * W is read with a leading dimension 2 above its width */
    static float A[2 * MAXM * (MAXK + 3)], W[(MAXN + 2) * (MAXK + 2)];
    static float P[((MAXN + 31) / 32) * 32 * MAXK];
    static float C[MAXM * MAXN], C1[MAXM * MAXN], bias[MAXN];
    for (int i = 0; i < MAXN; i++)
        bias[i] = (float)i / 16.0f - 3.0f;
    for (int i = 0; i < 2 * MAXM * (MAXK + 3); i++)
        A[i] = (float)((i * 7) % 23) / 8.0f - 1.4f;
    for (int i = 0; i < (MAXN + 2) * (MAXK + 2); i++)
        W[i] = (float)((i * 5) % 19) / 9.0f - 1.0f;
    const int cases[][4] = {/* M, N, K1, K2 */
                            {1, 5, 3, 0},   {7, 32, 9, 0},   {8, 45, 6, 4},  {13, 70, 1, 12},
                            {17, 64, 16, 16}, {64, 100, 120, 80}, {1, 70, 37, 5},
                            /* deeper than one 256-row pass, the sources split inside one */
                            {9, 40, 300, 100}, {20, 33, 256, 256}, {1, 64, 520, 80}, {10, 50, 100, 300}};
    int threads_before = omp_get_max_threads();
    assert_true(heed_packed_floats(200, 100) == (size_t)4 * 32 * 200);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int trans = 0; trans < 2; trans++)
            for (int mode = 0; mode < 6; mode++) {
                /* modes 0, 1: accumulate; 2, 3: set with the bias; 4, 5: set
                 * without; odd modes run on two threads */
                int threads = 1 + mode % 2, set = mode >= 2;
                const float *bp = mode / 2 == 1 ? bias : NULL;
                int M = cases[ci][0], N = cases[ci][1], K1 = cases[ci][2], K2 = cases[ci][3];
                int K = K1 + K2, lda1 = K1 + 3, lda2 = K2 + 1;
                /* op(W) [K,N]: W [N,K] with ld K + 2 when transposed, else [K,N] */
                int ldw = trans ? K + 2 : N + 2;
                heed_pack(P, W, ldw, trans, K, N);
                for (int i = 0; i < M * (N + 1); i++)
                    C[i] = (float)(i % 5) - 2.0f;
                omp_set_num_threads(threads);
                heed_gemm_packed(M, N, A, lda1, K1, K2 ? A + A2_AT : NULL, lda2, K2, P, set,
                                 bp, C, N + 1);
                for (int m = 0; m < M; m++)
                    for (int n = 0; n < N + 1; n++) {
                        double want = (float)((m * (N + 1) + n) % 5) - 2.0f;
                        if (set && n < N)
                            want = bp ? bp[n] : 0.0;
                        for (int k = 0; n < N && k < K; k++) {
                            float a = k < K1 ? A[m * lda1 + k] : A[A2_AT + m * lda2 + k - K1];
                            want += (double)a * (trans ? W[n * ldw + k] : W[k * ldw + n]);
                        }
                        char what[96];
                        snprintf(what, sizeof what,
                                 "packed M=%d N=%d K=%d+%d trans=%d mode=%d [%d,%d]", M, N, K1, K2,
                                 trans, mode, m, n);
                        tu_close(C[m * (N + 1) + n], want, 1e-4 * (1 + fabs(want)), what);
                    }
                if (threads == 1)
                    memcpy(C1, C, sizeof C);
                else
                    assert_memory_equal(C, C1, (size_t)M * (N + 1) * sizeof *C);
            }
    omp_set_num_threads(threads_before);
}

/* The AVX-512 product equals a plain loop: every transpose; sizes on and off
 * the 6-row tile, the 32-column panel, the 64-column tile, the 256-column
 * block, the 192-row block and the 256-deep block; alpha folded in; beta 0 (C holds NaN and is not read), 0.5 and 1;
 * one and two threads giving the same bits. Without AVX-512 it declines and
 * leaves C alone. */
static void gemm512_matches_loop(void **state)
{
    (void)state;
    enum { MAXM = 400, MAXK = 300, LD = 403 }; /* N up to LD */
    /* A holds op(A) [M,K] either way: MAXM rows or MAXK rows of LD */
    static float A[MAXM * LD], B[MAXK * LD], C[MAXM * LD], C1[MAXM * LD];
    for (int i = 0; i < MAXM * LD; i++)
        A[i] = (float)((i * 7) % 23) / 8.0f - 1.4f;
    for (int i = 0; i < MAXK * LD; i++)
        B[i] = (float)((i * 5) % 19) / 9.0f - 1.0f;
    const int cases[][3] = {{150, 70, 300}, {12, 32, 256}, {25, 33, 40},  {144, 64, 257},
                            {20, 300, 40},  {7, 290, 33},  {400, 70, 40}, {385, 40, 24}};
    const float betas[3] = {0.0f, 0.5f, 1.0f};
    int threads_before = omp_get_max_threads();
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int t = 0; t < 4; t++)
            for (int bi = 0; bi < 3; bi++)
                for (int threads = 1; threads <= 2; threads++) {
                    int M = cases[ci][0], N = cases[ci][1], K = cases[ci][2], ta = t & 1,
                        tb = t >> 1;
                    for (int i = 0; i < M * LD; i++)
                        C[i] = bi ? (float)(i % 9) - 4.0f : NAN;
                    omp_set_num_threads(threads);
                    int rc = heed_gemm512(ta, tb, M, N, K, 2.0f, A, LD, B, LD, betas[bi], C, LD);
                    if (!__builtin_cpu_supports("avx512f")) {
                        assert_int_equal(rc, -1);
                        assert_true(bi == 0 || C[0] == -4.0f);
                        continue;
                    }
                    assert_int_equal(rc, 0);
                    for (int m = 0; m < M; m++)
                        for (int n = 0; n < LD; n++) {
                            float old = bi ? (float)((m * LD + n) % 9) - 4.0f : 0.0f;
                            if (n >= N) { /* past the product: untouched */
                                if (bi)
                                    assert_true(C[m * LD + n] == old);
                                continue;
                            }
                            double want = betas[bi] * old;
                            for (int k = 0; k < K; k++)
                                want += 2.0 * (ta ? A[k * LD + m] : A[m * LD + k]) *
                                        (tb ? B[n * LD + k] : B[k * LD + n]);
                            char what[96];
                            snprintf(what, sizeof what, "gemm512 %dx%dx%d ta=%d tb=%d beta=%g [%d,%d]",
                                     M, N, K, ta, tb, (double)betas[bi], m, n);
                            tu_close(C[m * LD + n], want, 1e-4 * (1 + fabs(want)), what);
                        }
                    if (threads == 1)
                        memcpy(C1, C, sizeof C);
                    else
                        assert_memory_equal(C, C1, (size_t)M * LD * sizeof *C);
                }
    omp_set_num_threads(threads_before);
}

/* Element [m, n] of A op(B) in double, A [., K] and B ([N, K] when tb, else
 * [K, N]) both with leading dimension ld: what the product tests compare
 * against. */
static double loop_product(const float *A, const float *B, int ld, bool tb, int m, int n, int K)
{
    double sum = 0.0;
    for (int k = 0; k < K; k++)
        sum += (double)A[m * ld + k] * (tb ? B[n * ld + k] : B[k * ld + n]);
    return sum;
}

/* Stealing hands out every chunk once: a thread's own run first, in order,
 * as schedule(static) would split it; then the other runs from their ends,
 * the next run first; a lone thread takes the runs of threads that never came; more
 * threads than runs share them; and two real threads split a loop between
 * them without losing or repeating a chunk. */
static void steal_takes_each_chunk_once(void **state)
{
    (void)state;
    heed_steal s;
    heed_steal_init(&s, 10, 3); /* runs [0,3) [3,6) [6,10) */
    const int64_t first[] = {3, 4, 5, 9, 8, 7, 6, 2, 1, 0, -1};
    for (size_t i = 0; i < sizeof first / sizeof *first; i++)
        assert_int_equal(heed_steal_next(&s, 1), first[i]);
    assert_int_equal(heed_steal_next(&s, 0), -1);
    heed_steal_init(&s, 5, 70); /* more threads than runs: 64 runs, most empty */
    int seen[5] = {0};
    for (int64_t c; (c = heed_steal_next(&s, 69)) >= 0;)
        seen[c]++;
    for (int i = 0; i < 5; i++)
        assert_int_equal(seen[i], 1);
    enum { N = 20000 };
    static int count[N];
    memset(count, 0, sizeof count);
    int threads_before = omp_get_max_threads();
    omp_set_num_threads(2);
    heed_steal_init(&s, N, 2);
    int64_t mine[2] = {0, 0};
#pragma omp parallel
    {
        int id = omp_get_thread_num();
        for (int64_t c; (c = heed_steal_next(&s, id)) >= 0;) {
#pragma omp atomic
            count[c]++;
            mine[id]++;
        }
    }
    omp_set_num_threads(threads_before);
    for (int i = 0; i < N; i++)
        assert_int_equal(count[i], 1);
    assert_int_equal(mine[0] + mine[1], N);
}

/* One attention head on AVX-512 equals plain loops: query rows on and off
 * the 6-row tile, key counts on and off the 16-lane vector and the 64-column
 * tile up to the 256 the stack buffers take, every head width it takes,
 * rows seeing all keys, a prefix of them (none, one, part) or causally,
 * rows ld apart. Probabilities past a row's keys are exactly 0, the output
 * columns past dh untouched. Without AVX-512 (or for other widths) the
 * kernel declines. */
static void heads512_matches_loop(void **state)
{
    (void)state;
    enum { MAXL = 70, MAXS = 256, LD = 200 };
    static float Q[MAXL * LD], K[MAXS * LD], V[MAXS * LD], P[MAXL * MAXS], O[MAXL * LD];
    static double want_p[MAXL * MAXS];
    for (int i = 0; i < MAXL * LD; i++)
        Q[i] = (float)((i * 7) % 23) / 8.0f - 1.4f;
    for (int i = 0; i < MAXS * LD; i++) {
        K[i] = (float)((i * 5) % 19) / 9.0f - 1.0f;
        V[i] = (float)((i * 3) % 17) / 5.0f - 1.6f;
    }
    bool avx512 = __builtin_cpu_supports("avx512f");
    assert_false(heed_heads512_wanted(64, 8));
    assert_false(heed_heads512_wanted(64, 80));
    assert_false(heed_heads512_wanted(257, 64));
    assert_true(heed_heads512_wanted(256, 48) == avx512);
    if (!avx512)
        return;
    const int cases[][3] = {{1, 1, 16}, {7, 17, 64}, {6, 64, 64}, {13, 70, 32},
                            {64, 64, 48}, {5, 256, 16}, {70, 15, 64}, {12, 200, 32}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int way = 0; way < 5; way++) {
            int L = cases[ci][0], S = cases[ci][1], dh = cases[ci][2];
            int n = way == 0 ? S : way == 1 ? 0 : way == 2 ? 1 : way == 3 ? (S + 1) / 2 : S;
            bool causal = way == 4;
            float scale = 0.3f;
            for (int i = 0; i < MAXL * LD; i++)
                O[i] = 7.0f;
            for (int i = 0; i < L * S; i++)
                P[i] = NAN;
            heed_heads512_probs(L, S, dh, scale, Q, LD, K, LD, n, causal, P);
            heed_heads512_mix(L, S, dh, P, n, V, LD, O, LD);
            char what[96];
            for (int i = 0; i < L; i++) {
                int vis = causal && i + 1 < n ? i + 1 : n;
                double top = -INFINITY, sum = 0.0;
                for (int j = 0; j < vis; j++) {
                    want_p[i * S + j] = scale * loop_product(Q, K, LD, true, i, j, dh);
                    top = fmax(top, want_p[i * S + j]);
                }
                for (int j = 0; j < vis; j++)
                    sum += want_p[i * S + j] = exp(want_p[i * S + j] - top);
                for (int j = 0; j < S; j++) {
                    snprintf(what, sizeof what, "heads512 P L=%d S=%d dh=%d way=%d [%d,%d]", L,
                             S, dh, way, i, j);
                    if (j >= vis)
                        assert_true(P[i * S + j] == 0.0f);
                    else
                        tu_close(P[i * S + j], want_p[i * S + j] / sum, 2e-6, what);
                }
                for (int c = 0; c < LD; c++) {
                    double want = 0.0;
                    for (int j = 0; j < vis; j++)
                        want += want_p[i * S + j] / sum * V[j * LD + c];
                    snprintf(what, sizeof what, "heads512 O L=%d S=%d dh=%d way=%d [%d,%d]", L,
                             S, dh, way, i, c);
                    if (c >= dh)
                        assert_true(O[i * LD + c] == 7.0f);
                    else
                        tu_close(O[i * LD + c], want, 1e-5 * (1 + fabs(want)), what);
                }
            }
            for (int i = L; i < MAXL; i++) /* rows past L untouched */
                assert_true(O[i * LD] == 7.0f);
        }
}

/* A product with a bias equals a plain loop through both of
 * heed_gemm_bias's paths: heed_gemm512 starting its sums from the bias (C,
 * holding NaN, is not read; columns past N are left alone), on sizes on and
 * off its tiles and blocks and the 256-deep block, one and two threads
 * giving the same bits; and bias rows under heed_gemm. Without AVX-512
 * heed_gemm512_bias declines and leaves C alone. */
static void gemm_bias_matches_loop(void **state)
{
    (void)state;
    enum { LD = 303 };
    static float A[300 * LD], B[300 * LD], C[150 * LD], C1[150 * LD], bias[LD];
    for (int i = 0; i < 300 * LD; i++) {
        A[i] = (float)((i * 7) % 23) / 8.0f - 1.4f;
        B[i] = (float)((i * 5) % 19) / 9.0f - 1.0f;
    }
    for (int i = 0; i < LD; i++)
        bias[i] = (float)(i % 13) - 6.0f;
    const int cases[][3] = {{150, 70, 300}, {25, 33, 40}, {144, 290, 256}, {7, 300, 64}};
    int threads_before = omp_get_max_threads();
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int tb = 0; tb < 2; tb++)
            for (int way = 0; way < 3; way++) { /* gemm512 on 1, 2 threads; heed_gemm_bias */
                int M = cases[ci][0], N = cases[ci][1], K = cases[ci][2];
                for (int i = 0; i < M * LD; i++)
                    C[i] = NAN;
                omp_set_num_threads(way == 1 ? 2 : 1);
                if (way < 2) {
                    int rc = heed_gemm512_bias(false, tb, M, N, K, A, LD, B, LD, bias, C, LD);
                    if (!__builtin_cpu_supports("avx512f")) {
                        assert_int_equal(rc, -1);
                        assert_true(isnan(C[0]));
                        continue;
                    }
                    assert_int_equal(rc, 0);
                } else {
                    heed_gemm_bias(false, tb, M, N, K, A, LD, B, LD, bias, C, LD);
                }
                for (int m = 0; m < M; m++)
                    for (int n = 0; n < LD; n++) {
                        if (n >= N) { /* past the product: untouched */
                            assert_true(isnan(C[m * LD + n]));
                            continue;
                        }
                        double want = bias[n] + loop_product(A, B, LD, tb, m, n, K);
                        char what[96];
                        snprintf(what, sizeof what, "gemm bias %dx%dx%d tb=%d way %d [%d,%d]", M,
                                 N, K, tb, way, m, n);
                        tu_close(C[m * LD + n], want, 1e-4 * (1 + fabs(want)), what);
                    }
                if (way == 0)
                    memcpy(C1, C, sizeof C);
                else if (way == 1)
                    assert_memory_equal(C, C1, (size_t)M * LD * sizeof *C);
            }
    omp_set_num_threads(threads_before);
    /* deeper than one block: the bias starts the first block's sums only */
    enum { M2 = 30, N2 = 70, K2 = 1100 };
    float *a2 = malloc(sizeof(float) * M2 * K2), *w2 = malloc(sizeof(float) * N2 * K2);
    float *c2 = malloc(sizeof(float) * M2 * N2);
    assert_true(a2 && w2 && c2);
    for (int i = 0; i < M2 * K2; i++)
        a2[i] = (float)((i * 7) % 23) / 8.0f - 1.4f;
    for (int i = 0; i < N2 * K2; i++)
        w2[i] = (float)((i * 5) % 19) / 9.0f - 1.0f;
    if (heed_gemm512_bias(false, true, M2, N2, K2, a2, K2, w2, K2, bias, c2, N2) == 0)
        for (int m = 0; m < M2; m++)
            for (int n = 0; n < N2; n++) {
                double want = bias[n];
                for (int k = 0; k < K2; k++)
                    want += (double)a2[m * K2 + k] * w2[n * K2 + k];
                tu_close(c2[m * N2 + n], want, 1e-4 * (1 + fabs(want)), "gemm bias, K 1100");
            }
    free(a2), free(w2), free(c2);
}

/* The shallow product with a bias equals a plain loop: depths 1 to 64,
 * widths on and off its 16-column tiles and 32-column panels, rows on and
 * off its 6-row tiles, W transposed or not, with and without a bias; C
 * (holding NaN) is not read and nothing past M rows or N columns is
 * written; one and two threads give the same bits. Depths past 64 are
 * declined and leave C alone; so is everything on a machine without AVX2
 * and FMA. */
static void gemm_shallow_matches_loop(void **state)
{
    (void)state;
    enum { LD = 131, ROWS = 170 };
    static float A[ROWS * LD], B[LD * LD], C[ROWS * LD], C1[ROWS * LD], bias[LD];
    for (int i = 0; i < ROWS * LD; i++)
        A[i] = (float)((i * 7) % 23) / 8.0f - 1.4f;
    for (int i = 0; i < LD * LD; i++)
        B[i] = (float)((i * 5) % 19) / 9.0f - 1.0f;
    for (int i = 0; i < LD; i++)
        bias[i] = (float)(i % 13) - 6.0f;
    const int cases[][3] = {{169, 128, 16}, {24, 16, 1}, {97, 33, 64}, {30, 70, 37}, {6, 130, 8}};
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int threads_before = omp_get_max_threads();
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int tb = 0; tb < 2; tb++)
            for (int way = 0; way < 4; way++) { /* 1, 2 threads; with, without bias */
                int M = cases[ci][0], N = cases[ci][1], K = cases[ci][2];
                const float *bs = way < 2 ? bias : NULL;
                for (int i = 0; i < ROWS * LD; i++)
                    C[i] = NAN;
                omp_set_num_threads(way % 2 ? 2 : 1);
                int rc = heed_gemm_shallow_bias(tb, M, N, K, A, LD, B, LD, bs, C, LD);
                if (!avx2) {
                    assert_int_equal(rc, -1);
                    assert_true(isnan(C[0]));
                    continue;
                }
                assert_int_equal(rc, 0);
                for (int m = 0; m < ROWS; m++)
                    for (int n = 0; n < LD; n++) {
                        if (m >= M || n >= N) { /* past the product: untouched */
                            assert_true(isnan(C[m * LD + n]));
                            continue;
                        }
                        double want = (bs ? bs[n] : 0.0) + loop_product(A, B, LD, tb, m, n, K);
                        char what[96];
                        snprintf(what, sizeof what, "shallow %dx%dx%d tb=%d way %d [%d,%d]", M,
                                 N, K, tb, way, m, n);
                        tu_close(C[m * LD + n], want, 1e-5 * (1 + fabs(want)), what);
                    }
                if (way % 2 == 0)
                    memcpy(C1, C, sizeof C);
                else
                    assert_memory_equal(C, C1, sizeof C);
            }
    omp_set_num_threads(threads_before);
    C[0] = NAN;
    assert_int_equal(heed_gemm_shallow_bias(true, 10, 20, 65, A, LD, B, LD, bias, C, LD), -1);
    assert_true(isnan(C[0]));
}

/* The thin product equals a plain loop: widths 1 to 32 (on and off its
 * 16-column tiles), depths past the shallow limit, rows on and off its
 * 6-row tiles, B transposed or not, alpha 2 with beta 0 (C holding NaN is
 * not read), 1 and 0.5; nothing written past M rows or N columns; one and
 * two threads give the same bits. Wider products are declined and leave C
 * alone; so is everything on a machine without AVX2 and FMA. */
static void gemm_thin_matches_loop(void **state)
{
    (void)state;
    enum { LD = 40, ROWS = 100, KMAXT = 1100 };
    float *A = malloc(sizeof(float) * ROWS * KMAXT), *B = malloc(sizeof(float) * KMAXT * LD);
    float *C = malloc(sizeof(float) * ROWS * LD), *C0 = malloc(sizeof(float) * ROWS * LD);
    float *C1 = malloc(sizeof(float) * ROWS * LD);
    assert_true(A && B && C && C0 && C1);
    for (int i = 0; i < ROWS * KMAXT; i++)
        A[i] = (float)((i * 7) % 23) / 8.0f - 1.4f;
    for (int i = 0; i < KMAXT * LD; i++)
        B[i] = (float)((i * 5) % 19) / 9.0f - 1.0f;
    const int cases[][3] = {{97, 16, 1024}, {30, 32, 65}, {24, 5, 300}, {61, 17, 100}};
    const float betas[3] = {0.0f, 1.0f, 0.5f};
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int threads_before = omp_get_max_threads();
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int tb = 0; tb < 2; tb++)
            for (int bi = 0; bi < 3; bi++)
                for (int threads = 1; threads <= 2; threads++) {
                    int M = cases[ci][0], N = cases[ci][1], K = cases[ci][2];
                    /* B: [K, N] (ld LD), or [N, K] (ld K) transposed */
                    int ldb = tb ? K : LD;
                    for (int i = 0; i < ROWS * LD; i++)
                        C[i] = C0[i] = bi == 0 ? NAN : (float)(i % 7) - 3.0f;
                    omp_set_num_threads(threads);
                    int rc = heed_gemm_thin(tb, M, N, K, 2.0f, A, K, B, ldb, betas[bi], C, LD);
                    if (!avx2) {
                        assert_int_equal(rc, -1);
                        continue;
                    }
                    assert_int_equal(rc, 0);
                    for (int m = 0; m < ROWS; m++)
                        for (int n = 0; n < LD; n++) {
                            float c0 = C0[m * LD + n], got = C[m * LD + n];
                            if (m >= M || n >= N) { /* past the product: untouched */
                                assert_true(isnan(c0) ? isnan(got) : got == c0);
                                continue;
                            }
                            double want = bi == 0 ? 0.0 : (double)betas[bi] * c0;
                            for (int k = 0; k < K; k++)
                                want += 2.0 * A[m * K + k] * (tb ? B[n * ldb + k] : B[k * ldb + n]);
                            char what[96];
                            snprintf(what, sizeof what, "thin %dx%dx%d tb=%d beta=%g [%d,%d]", M,
                                     N, K, tb, (double)betas[bi], m, n);
                            tu_close(got, want, 1e-5 * (1 + fabs(want)) * sqrt((double)K), what);
                        }
                    if (threads == 1)
                        memcpy(C1, C, sizeof(float) * ROWS * LD);
                    else
                        assert_memory_equal(C, C1, sizeof(float) * ROWS * LD);
                }
    omp_set_num_threads(threads_before);
    C[0] = NAN;
    assert_int_equal(heed_gemm_thin(false, 10, 33, 100, 1.0f, A, 100, B, 33, 0.0f, C, LD), -1);
    assert_true(isnan(C[0]));
    free(A), free(B), free(C), free(C0), free(C1);
}

/* The vectorised dropout keeps exactly the elements whose heed_uniform draw
 * is >= p, for p on and off the 2^-24 grid, forward and accumulating. */
static void dropout_mask_is_the_uniform_draw(void **state)
{
    (void)state;
    enum { N = 5000 };
    static float x[N], y[N], g[N];
    const float ps[4] = {0.1f, 0.25f, 0.3f, 0.5f};
    for (int i = 0; i < N; i++)
        x[i] = 1.0f + (float)(i % 7);
    for (int k = 0; k < 4; k++) {
        float p = ps[k], scale = 1.0f / (1.0f - p);
        heed_dropout(y, x, 42 + (uint64_t)k, p, N, false);
        for (int i = 0; i < N; i++)
            g[i] = 1.0f;
        heed_dropout(g, x, 42 + (uint64_t)k, p, N, true);
        int dropped = 0;
        for (int i = 0; i < N; i++) {
            bool drop = heed_uniform(42 + (uint64_t)k, (uint64_t)i) < p;
            dropped += drop;
            assert_true(y[i] == (drop ? 0.0f : x[i] * scale));
            assert_true(g[i] == 1.0f + (drop ? 0.0f : x[i] * scale));
        }
        tu_close((double)dropped / N, p, 0.03, "share dropped");
        /* a range numbered from an offset draws the same numbers */
        heed_dropout_range(g, x + 1000, 42 + (uint64_t)k, p, 1000, 3000, false);
        for (int i = 0; i < 3000; i++)
            assert_true(g[i] == y[1000 + i]);
    }
}

/* heed_exp within 2 ulp of e^x on [-87, 88], clamped outside; heed_exp_neg
 * the same bits for every x <= 0 tried. */
static void exp_against_double(void **state)
{
    (void)state;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f + 175.0f * (float)i / 200000.0f;
        double want = exp((double)x);
        char what[64];
        snprintf(what, sizeof what, "heed_exp(%.9g)", (double)x);
        tu_close(heed_exp(x) / want, 1.0, 2.4e-7, what);
        if (x <= 0.0f)
            assert_true(heed_exp_neg(x) == heed_exp(x));
    }
    assert_true(heed_exp(-100.0f) == heed_exp(-87.0f));
    assert_true(heed_exp_neg(-100.0f) == heed_exp(-87.0f));
    assert_true(heed_exp(100.0f) == heed_exp(88.0f));
}

/* heed_tanh within 3.7e-7 of tanh relative to its value (every float's
 * worst case without fused multiply-adds, as this file is built) from 1e-6
 * to 12, odd, +-1 from the clamp on (and at infinity), NaN kept. */
static void tanh_against_double(void **state)
{
    (void)state;
    for (float x = 1e-6f; x < 12.0f; x *= 1.0001f) {
        double want = tanh((double)x);
        char what[64];
        snprintf(what, sizeof what, "heed_tanh(%.9g)", (double)x);
        tu_close(heed_tanh(x) / want, 1.0, 3.7e-7, what);
        assert_true(heed_tanh(-x) == -heed_tanh(x));
    }
    assert_true(heed_tanh(0.0f) == 0.0f);
    assert_true(heed_tanh(9.0f) == 1.0f && heed_tanh(-30.0f) == -1.0f);
    assert_true(heed_tanh(INFINITY) == 1.0f && heed_tanh(-INFINITY) == -1.0f);
    assert_true(isnan(heed_tanh(NAN)));
}

/* Additive scores v . tanh(q_i + k_j) and their backward against double
 * loops: unit counts on and off the 8- and 16-wide vector blocks, inputs past
 * tanh's clamp, a zero score gradient (masked) adding nothing, gradients
 * accumulated onto what was there; NaN in a query's units stays in that
 * query's scores only. */
static void additive_scores_match_double(void **state)
{
    (void)state;
    enum { TQ = 3, TK = 5, UMAX = 260 };
    static float q[TQ * UMAX], k[TK * UMAX], v[UMAX], s[TQ * TK], ds[TQ * TK];
    static float dq[TQ * UMAX], dk[TK * UMAX], dv[UMAX];
    const int units[] = {1, 7, 8, 16, 17, 40, 256};
    for (size_t ui = 0; ui < sizeof units / sizeof units[0]; ui++) {
        int U = units[ui];
        for (int i = 0; i < TQ * U; i++)
            q[i] = (float)((i * 7) % 29) / 2.0f - 7.0f; /* up to +-14 with k: clamped */
        for (int i = 0; i < TK * U; i++)
            k[i] = (float)((i * 5) % 23) / 3.0f - 3.5f;
        for (int u = 0; u < U; u++)
            v[u] = (float)(u % 11) / 5.0f - 1.0f, dv[u] = 0.25f;
        for (int i = 0; i < TQ * TK; i++)
            ds[i] = i % 4 == 1 ? 0.0f : (float)(i % 5) / 4.0f - 0.6f;
        for (int i = 0; i < TQ * U; i++)
            dq[i] = 0.5f;
        for (int i = 0; i < TK * U; i++)
            dk[i] = -0.5f;
        heed_additive_scores(q, TQ, k, TK, v, U, s);
        heed_additive_scores_backward(q, TQ, k, TK, v, U, ds, dq, dk, dv);
        for (int i = 0; i < TQ; i++)
            for (int j = 0; j < TK; j++) {
                double want = 0.0;
                for (int u = 0; u < U; u++)
                    want += v[u] * tanh((double)q[i * U + u] + k[j * U + u]);
                tu_close(s[i * TK + j], want, 2e-6 * U, "additive score");
            }
        for (int u = 0; u < U; u++) {
            double wv = 0.25;
            for (int i = 0; i < TQ; i++) {
                double wq = 0.5;
                for (int j = 0; j < TK; j++) {
                    double e = tanh((double)q[i * U + u] + k[j * U + u]);
                    wq += ds[i * TK + j] * v[u] * (1.0 - e * e);
                    wv += ds[i * TK + j] * e;
                }
                tu_close(dq[i * U + u], wq, 1e-5, "additive dq");
            }
            tu_close(dv[u], wv, 1e-5, "additive dv");
            for (int j = 0; j < TK; j++) {
                double wk = -0.5;
                for (int i = 0; i < TQ; i++) {
                    double e = tanh((double)q[i * U + u] + k[j * U + u]);
                    wk += ds[i * TK + j] * v[u] * (1.0 - e * e);
                }
                tu_close(dk[j * U + u], wk, 1e-5, "additive dk");
            }
        }
        q[U + U / 2] = NAN; /* query 1 */
        heed_additive_scores(q, TQ, k, TK, v, U, s);
        for (int i = 0; i < TQ * TK; i++)
            assert_true(isnan(s[i]) == (i / TK == 1));
    }
}

/* heed_dot_rows against a double loop: row counts on and off its blocks of
 * four, depths on and off the vector width, beta 0 (C, holding NaN, is not
 * read) and 0.5. */
static void dot_rows_match_double(void **state)
{
    (void)state;
    enum { NMAX = 29, KMAX = 520, LD = 523 };
    static float a[KMAX], B[NMAX * LD], C[NMAX];
    for (int i = 0; i < KMAX; i++)
        a[i] = (float)((i * 3) % 17) / 8.0f - 1.0f;
    for (int i = 0; i < NMAX * LD; i++)
        B[i] = (float)((i * 11) % 31) / 15.0f - 1.0f;
    const int rows[] = {1, 3, 4, 7, 29}, depths[] = {1, 9, 512};
    for (size_t ni = 0; ni < sizeof rows / sizeof rows[0]; ni++)
        for (size_t ki = 0; ki < sizeof depths / sizeof depths[0]; ki++)
            for (int bi = 0; bi < 2; bi++) {
                int N = rows[ni], K = depths[ki];
                float beta = bi ? 0.5f : 0.0f;
                for (int n = 0; n < NMAX; n++)
                    C[n] = bi ? (float)n - 3.0f : NAN;
                heed_dot_rows(N, K, 2.0f, a, B, LD, beta, C);
                for (int n = 0; n < NMAX; n++) {
                    if (n >= N) { /* past the rows: untouched */
                        assert_true(bi ? C[n] == (float)n - 3.0f : isnan(C[n]));
                        continue;
                    }
                    double want = bi ? 0.5 * (n - 3.0) : 0.0;
                    for (int kk = 0; kk < K; kk++)
                        want += 2.0 * a[kk] * B[n * LD + kk];
                    tu_close(C[n], want, 1e-5 * (1 + fabs(want)), "dot rows");
                }
            }
}

/* GELU's far tail keeps its relative precision (its values are tiny but
 * a relative error there is what PyTorch parity sees). Values: x * 0.5 * erfc(-x / sqrt 2). */
static void gelu_tail_relative_precision(void **state)
{
    (void)state;
    const float x[4] = {-9.0f, -6.0f, -3.0f, 3.0f};
    const double want[4] = {-1.015729565e-18, -5.91952587e-09, -0.004049694095, 2.995950306};
    const int64_t shape[3] = {1, 1, 4};
    tu_run r = tu_run_new("op.yaml", "heed: 1\ninputs: {x: [B, S, 4]}\nnodes:\n  y: {op: GELU, in: x}\n",
                          HEED_MODE_INFER);
    tu_set_f32(&r, "x", 3, shape, x);
    const float *y = forward_get(&r, "y", 4);
    for (int i = 0; i < 4; i++)
        tu_close(y[i] / want[i], 1.0, 2e-5, "GELU relative to its value");
    tu_run_free(&r);
}

/* heed_softmax_row against the same formula in double: rows shorter than
 * its 16 partial sums, a multiple of them, and a masked row whose valid part
 * ends mid-lane (the max and the sum then come from the lanes and the
 * tail). */
static void softmax_row_against_double(void **state)
{
    (void)state;
    const int64_t sizes[][2] = {{5, 5}, {64, 64}, {37, 35}, {40, 17}, {8, 0}};
    for (size_t c = 0; c < sizeof sizes / sizeof *sizes; c++) {
        int64_t n = sizes[c][0], valid = sizes[c][1];
        float x[64];
        double mx = -1e30, sum = 0.0;
        for (int64_t j = 0; j < n; j++) {
            x[j] = (float)(3.0 * sin(0.7 * (double)j + (double)c) + 0.1 * (double)j);
            mx = j < valid && x[j] > mx ? x[j] : mx;
        }
        double want[64];
        for (int64_t j = 0; j < valid; j++)
            sum += want[j] = exp((double)x[j] - mx);
        heed_softmax_row(x, n, valid);
        for (int64_t j = 0; j < n; j++) {
            if (j >= valid) {
                assert_true(x[j] == 0.0f);
                continue;
            }
            tu_close(x[j] / (want[j] / sum), 1.0, 3e-6, "softmax relative to its value");
        }
    }
}

static void affine_known_values(void **state)
{
    (void)state;
    /* two inputs concatenated: [1,2 | 3] times W^T plus b, then tanh */
    tu_run r = tu_run_new("op.yaml", "heed: 1\ninputs: {a: [B, 2], b: [B, 1]}\n"
                    "nodes:\n  y: {op: Affine, in: [a, b], units: 2}\n"
                    "  z: {op: Affine, in: [a, b], units: 2, activation: tanh}\n",
                    HEED_MODE_INFER);
    const float W[6] = {0.1f, 0.2f, 0.3f, -0.4f, 0.5f, -0.6f}, bias[2] = {0.5f, -1.0f};
    set_param(&r, "y.weight", W, 6);
    set_param(&r, "y.bias", bias, 2);
    set_param(&r, "z.weight", W, 6);
    set_param(&r, "z.bias", bias, 2);
    const float a[2] = {1.0f, 2.0f}, b[1] = {3.0f};
    tu_set_f32(&r, "a", 2, (int64_t[]){1, 2}, a);
    tu_set_f32(&r, "b", 2, (int64_t[]){1, 1}, b);
    /* y0 = .1+.4+.9+.5 = 1.9; y1 = -.4+1-1.8-1 = -2.2 */
    tu_expect(forward_get(&r, "y", 2), (float[]){1.9f, -2.2f}, 2, 1e-6, "affine");
    tu_expect(forward_get(&r, "z", 2), (float[]){tanhf(1.9f), tanhf(-2.2f)}, 2, 1e-6, "tanh");
    tu_run_free(&r);
}

static void embedding_pad_is_zero(void **state)
{
    (void)state;
    tu_run r = tu_run_new("op.yaml", "heed: 1\ninputs: {x: [B, S]}\n"
                    "nodes:\n  e: {op: Embedding, in: x, vocab: 4, dim: 2}\n",
                    HEED_MODE_INFER);
    const float W[8] = {9, 9, 1, 2, 3, 4, 5, 6};
    set_param(&r, "e.weight", W, 8);
    const int32_t ids[3] = {2, 0, 1};
    tu_set_ids(&r, "x", 2, (int64_t[]){1, 3}, ids);
    tu_expect(forward_get(&r, "e", 6), (float[]){3, 4, 0, 0, 1, 2}, 6, 0, "embedding");
    /* an id outside the vocabulary is a data error naming the node and position */
    const int32_t bad[3] = {2, 7, 1};
    tu_set_ids(&r, "x", 2, (int64_t[]){1, 3}, bad);
    heed_diag d;
    assert_int_equal(heed_session_forward(r.s, &d), HEED_ERR_DATA);
    assert_non_null(strstr(d.message, "node 'e': 'x' holds token id 7 at [0,1], outside [0, 4)"));
    tu_run_free(&r);
}

/* Explicit lengths must lie in [0, steps]: past the sequence or negative,
 * they were clamped without a word. */
static void lengths_outside_the_sequence(void **state)
{
    (void)state;
    tu_run r = tu_run_new("len.yaml", "heed: 1\ninputs: {x: [B, S, 2], n: [B]}\n"
                          "nodes:\n  g: {op: GRU, in: x, hidden: 2, lengths: n}\n"
                          "  a: {op: Attention, score: dot, query: g, keys: g, lengths: n}\n",
                          HEED_MODE_INFER);
    float x[6] = {0};
    tu_set_f32(&r, "x", 3, (int64_t[]){1, 3, 2}, x);
    heed_diag d;
    for (int32_t n = 0; n <= 3; n++) {
        tu_set_ids(&r, "n", 1, (int64_t[]){1}, &n);
        assert_int_equal(heed_session_forward(r.s, &d), HEED_OK);
    }
    const int32_t bad[] = {4, -1, INT32_MAX};
    for (int i = 0; i < 3; i++) {
        tu_set_ids(&r, "n", 1, (int64_t[]){1}, &bad[i]);
        assert_int_equal(heed_session_forward(r.s, &d), HEED_ERR_DATA);
        char want[96];
        snprintf(want, sizeof want, "node 'g': 'n' holds length %d at [0], outside [0, 3]",
                 bad[i]);
        assert_non_null(strstr(d.message, want));
    }
    tu_run_free(&r);
}

static void meanpool_masks_padding(void **state)
{
    (void)state;
    tu_run r = tu_run_new("op.yaml", "heed: 1\ninputs: {x: [B, S]}\n"
                    "nodes:\n  e: {op: Embedding, in: x, vocab: 4, dim: 1}\n"
                    "  p: {op: MeanPool, in: e}\n",
                    HEED_MODE_INFER);
    set_param(&r, "e.weight", (float[]){0, 10, 20, 30}, 4);
    /* row 0: ids 1,2,3 -> mean 20; row 1: ids 3,0,0 (length 1) -> 30 */
    const int32_t ids[6] = {1, 2, 3, 3, 0, 0};
    tu_set_ids(&r, "x", 2, (int64_t[]){2, 3}, ids);
    tu_expect(forward_get(&r, "p", 2), (float[]){20, 30}, 2, 1e-6, "meanpool");
    tu_run_free(&r);
}

static void concat_axes(void **state)
{
    (void)state;
    tu_run r = tu_run_new("op.yaml", "heed: 1\ninputs: {a: [B, 2, 2], b: [B, 1, 2]}\n"
                    "nodes:\n  c: {op: Concat, in: [a, b], axis: 1}\n"
                    "  d: {op: Concat, in: [a, a]}\n",
                    HEED_MODE_INFER);
    tu_set_f32(&r, "a", 3, (int64_t[]){1, 2, 2}, (float[]){1, 2, 3, 4});
    tu_set_f32(&r, "b", 3, (int64_t[]){1, 1, 2}, (float[]){5, 6});
    tu_expect(forward_get(&r, "c", 6), (float[]){1, 2, 3, 4, 5, 6}, 6, 0, "axis 1");
    tu_expect(forward_get(&r, "d", 8), (float[]){1, 2, 1, 2, 3, 4, 3, 4}, 8, 0, "axis -1");
    tu_run_free(&r);
}

static void cross_entropy_known_values(void **state)
{
    (void)state;
    struct {
        const char *attrs;
        float want;
    } cases[] = {
        /* -log softmax([1,2,3])[2] */
        {"", 0.40760596f},
        /* 0.9 * 0.40760596 + 0.1 * (logsumexp - mean logit) */
        {", smoothing: 0.1", 0.50760596f},
    };
    for (int c = 0; c < 2; c++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 "heed: 1\ninputs: {z: [B, T, 3], y: [B, T]}\nnodes:\n  i: {op: Tanh, in: z}\n"
                 "loss: {op: CrossEntropy, logits: z, target: y%s}\n",
                 cases[c].attrs);
        tu_run r = tu_run_new("op.yaml", yaml, HEED_MODE_INFER);
        /* the second position's target is the pad id: ignored */
        tu_set_f32(&r, "z", 3, (int64_t[]){1, 2, 3}, (float[]){1, 2, 3, 9, 0, 0});
        tu_set_ids(&r, "y", 2, (int64_t[]){1, 2}, (int32_t[]){2, 0});
        tu_expect(forward_get(&r, "loss", 1), &cases[c].want, 1, 1e-6, "cross entropy");
        tu_run_free(&r);
    }
    /* shift: logits at t are scored against the target at t+1 */
    tu_run r = tu_run_new("op.yaml", "heed: 1\ninputs: {z: [B, T, 3], y: [B, T]}\nnodes:\n  i: {op: Tanh, in: z}\n"
                    "loss: {op: CrossEntropy, logits: z, target: y, shift: 1}\n",
                    HEED_MODE_INFER);
    tu_set_f32(&r, "z", 3, (int64_t[]){1, 2, 3}, (float[]){1, 2, 3, 9, 0, 0});
    tu_set_ids(&r, "y", 2, (int64_t[]){1, 2}, (int32_t[]){1, 2});
    float want = 0.40760596f;
    tu_expect(forward_get(&r, "loss", 1), &want, 1, 1e-6, "shifted");
    tu_run_free(&r);
    /* a NaN logit, first in its row or not, makes the loss NaN (which
     * training reports), as libm's exp did; heed_exp keeps NaN */
    for (int at = 0; at < 2; at++) {
        r = tu_run_new("op.yaml", "heed: 1\ninputs: {z: [B, 3], y: [B]}\n"
                                  "nodes:\n  i: {op: Tanh, in: z}\n"
                                  "loss: {op: CrossEntropy, logits: z, target: y}\n",
                       HEED_MODE_INFER);
        float z[3] = {1, 2, 3};
        z[at] = NAN;
        tu_set_f32(&r, "z", 2, (int64_t[]){1, 3}, z);
        tu_set_ids(&r, "y", 1, (int64_t[]){1}, (int32_t[]){2});
        assert_true(isnan(forward_get(&r, "loss", 1)[0]));
        tu_run_free(&r);
    }
    assert_true(isnan(heed_exp_neg(NAN)) && isnan(heed_exp(NAN)));
}

static void dropout_modes(void **state)
{
    (void)state;
    const char *yaml = "heed: 1\ninputs: {x: [B, 1000], t: [B, 1000]}\n"
                       "nodes:\n  y: {op: Dropout, in: x, p: 0.25}\n"
                       "loss: {op: MSE, in: y, target: t}\n";
    float *x = malloc(1000 * sizeof *x);
    assert_non_null(x);
    for (int i = 0; i < 1000; i++)
        x[i] = 1.0f;
    /* inference: the identity */
    tu_run r = tu_run_new("op.yaml", yaml, HEED_MODE_INFER);
    tu_set_f32(&r, "x", 2, (int64_t[]){1, 1000}, x);
    tu_set_f32(&r, "t", 2, (int64_t[]){1, 1000}, x);
    const float *y = forward_get(&r, "y", 1000);
    for (int i = 0; i < 1000; i++)
        assert_true(y[i] == 1.0f);
    tu_run_free(&r);
    /* training: about p dropped, the rest scaled by 1/(1-p), same seed same mask */
    r = tu_run_new("op.yaml", yaml, HEED_MODE_TRAIN);
    tu_set_f32(&r, "x", 2, (int64_t[]){1, 1000}, x);
    tu_set_f32(&r, "t", 2, (int64_t[]){1, 1000}, x);
    heed_session_seed(r.s, 5);
    y = forward_get(&r, "y", 1000);
    float first[1000];
    int dropped = 0;
    for (int i = 0; i < 1000; i++) {
        first[i] = y[i];
        assert_true(y[i] == 0.0f || fabsf(y[i] - 1.0f / 0.75f) < 1e-6f);
        dropped += y[i] == 0.0f;
    }
    assert_in_range(dropped, 200, 300);
    heed_session_seed(r.s, 5);
    y = forward_get(&r, "y", 1000);
    assert_memory_equal(first, y, sizeof first);
    tu_run_free(&r);
    free(x);
}

/* ------------------------------------------------------------ gradients */

static void grad_embedding(void **state)
{
    (void)state;
    gradcheck("heed: 1\ninputs: {x: [B, S], t: [B, S, 3]}\n"
              "nodes:\n  e: {op: Embedding, in: x, vocab: 9, dim: 3}\n"
              "loss: {op: MSE, in: e, target: t}\n",
              1e-2);
}

static void grad_affine(void **state)
{
    (void)state;
    const char *acts[] = {"none", "tanh", "sigmoid", "relu"};
    for (int a = 0; a < 4; a++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 "heed: 1\ninputs: {x: [B, S, 3], z: [B, S, 2], t: [B, S, 4]}\n"
                 "nodes:\n  y: {op: Affine, in: [x, z], units: 4, activation: %s}\n"
                 "  w: {op: Affine, in: y, units: 4, bias: false}\n"
                 "loss: {op: MSE, in: w, target: t}\n",
                 acts[a]);
        gradcheck(yaml, 1e-2);
    }
}

static void grad_add_mul(void **state)
{
    (void)state;
    gradcheck("heed: 1\ninputs: {a: [B, 3], b: [B, 3], c: [B, 3], t: [B, 3]}\n"
              "nodes:\n  s: {op: Add, in: [a, b, c]}\n  p: {op: Mul, in: [s, a]}\n"
              "  q: {op: Add, in: [p, a]}\n"
              "loss: {op: MSE, in: q, target: t}\n",
              1e-2);
}

static void grad_concat(void **state)
{
    (void)state;
    gradcheck("heed: 1\ninputs: {a: [B, S, 2], b: [B, S, 3], t: [B, 8, 5]}\n"
              "nodes:\n  c: {op: Concat, in: [a, b]}\n  d: {op: Concat, in: [c, c], axis: 1}\n"
              "loss: {op: MSE, in: d, target: t}\n",
              1e-2);
}

static void grad_activations(void **state)
{
    (void)state;
    gradcheck(UNARY("Tanh", ""), 1e-2);
    gradcheck(UNARY("Sigmoid", ""), 1e-2);
    gradcheck(UNARY("ReLU", ""), 1e-2);
    gradcheck(UNARY("GELU", ""), 1e-2);
    gradcheck(UNARY("GELU", ", approximate: tanh"), 1e-2);
    gradcheck(UNARY("Softmax", ""), 1e-2);
    gradcheck(UNARY("Dropout", ", p: 0.3"), 1e-2);
}

static void grad_meanpool(void **state)
{
    (void)state;
    /* lengths from padded ids; and a float input without lengths */
    gradcheck("heed: 1\ninputs: {x: [B, S], f: [B, S, 2], t: [B, 3], u: [B, 2]}\n"
              "nodes:\n  e: {op: Embedding, in: x, vocab: 9, dim: 3}\n"
              "  p: {op: MeanPool, in: e}\n  q: {op: MeanPool, in: f}\n"
              "  s: {op: Affine, in: [p, q], units: 3}\n"
              "loss: {op: MSE, in: s, target: t}\n",
              1e-2);
}

static void grad_cross_entropy(void **state)
{
    (void)state;
    gradcheck("heed: 1\ninputs: {x: [B, T, 4], y: [B, T]}\n"
              "nodes:\n  z: {op: Affine, in: x, units: 6}\n"
              "loss: {op: CrossEntropy, logits: z, target: y, shift: 1, smoothing: 0.1}\n",
              1e-2);
    gradcheck("heed: 1\ninputs: {x: [B, 4], y: [B]}\n"
              "nodes:\n  z: {op: Affine, in: x, units: 6}\n"
              "loss: {op: CrossEntropy, logits: z, target: y}\n",
              1e-2);
}

static void grad_value_used_twice(void **state)
{
    (void)state;
    /* h feeds three nodes: its gradient accumulates from all of them */
    gradcheck("heed: 1\ninputs: {x: [B, 3], t: [B, 3]}\n"
              "nodes:\n  h: {op: Affine, in: x, units: 3, activation: tanh}\n"
              "  a: {op: Sigmoid, in: h}\n  b: {op: Mul, in: [h, a]}\n"
              "  c: {op: Add, in: [b, h]}\n"
              "loss: {op: MSE, in: c, target: t}\n",
              1e-2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(activations_known_values),
        cmocka_unit_test(exp_against_double),
        cmocka_unit_test(tanh_against_double),
        cmocka_unit_test(gelu_tail_relative_precision),
        cmocka_unit_test(softmax_row_against_double),
        cmocka_unit_test(layernorm_wide_rows_known_values),
        cmocka_unit_test(layernorm_gradients_known_values),
        cmocka_unit_test(gemm_every_transpose),
        cmocka_unit_test(gemm_one_row_small_and_large),
        cmocka_unit_test(gemm_rows_split_between_threads),
        cmocka_unit_test(for_if_visits_each_index_once),
        cmocka_unit_test(gemm_packed_matches_gemm),
        cmocka_unit_test(gemm512_matches_loop),
        cmocka_unit_test(heads512_matches_loop),
        cmocka_unit_test(steal_takes_each_chunk_once),
        cmocka_unit_test(gemm_bias_matches_loop),
        cmocka_unit_test(gemm_shallow_matches_loop),
        cmocka_unit_test(gemm_thin_matches_loop),
        cmocka_unit_test(additive_scores_match_double),
        cmocka_unit_test(dot_rows_match_double),
        cmocka_unit_test(dropout_mask_is_the_uniform_draw),
        cmocka_unit_test(affine_known_values),
        cmocka_unit_test(embedding_pad_is_zero),
        cmocka_unit_test(lengths_outside_the_sequence),
        cmocka_unit_test(meanpool_masks_padding),
        cmocka_unit_test(concat_axes),
        cmocka_unit_test(cross_entropy_known_values),
        cmocka_unit_test(dropout_modes),
        cmocka_unit_test(grad_embedding),
        cmocka_unit_test(grad_affine),
        cmocka_unit_test(grad_add_mul),
        cmocka_unit_test(grad_concat),
        cmocka_unit_test(grad_activations),
        cmocka_unit_test(grad_meanpool),
        cmocka_unit_test(grad_cross_entropy),
        cmocka_unit_test(grad_value_used_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
