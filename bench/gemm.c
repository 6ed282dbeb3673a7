/*
 * gemm.c - the matrix products of the shipped graphs' training steps, each
 * timed against OpenBLAS's sgemm on all threads, alternating in one process
 * (which of the two runs first alternates too):
 *
 *   1. heed_gemm, the product every op calls, and the path it chose (rows
 *      split between the threads, OpenBLAS's threads, heed_gemm512): the
 *      evidence for heed_gemm_route's rule;
 *   2. heed's AVX-512 product (ops/kernels/gemm512.c) on the encoder's
 *      products: the evidence for heed_gemm512_machine's rule (which
 *      OpenBLAS cores keep the large products);
 *   3. the forward products with a bias: bias rows then heed_gemm (on its
 *      route), against heed_gemm512_bias starting its sums from the bias,
 *      and the one heed_gemm512_bias_wanted picks: the evidence for that
 *      rule;
 *   4. the shallow products with a bias (the recurrent layers' input
 *      projections, K <= 64): bias rows then heed_gemm, against
 *      heed_gemm_shallow_bias (ops/kernels/shallow.c) and the one
 *      heed_gemm_shallow_wanted picks: the evidence for that rule.
 *
 * Tables 2 and 3 need AVX-512, table 4 AVX2 and FMA; each says so and is
 * left out where the machine lacks them.
 *
 *   cmake --build build --target bench_gemm
 *   build/bench_gemm [THREADS] [REPEAT]
 *
 * Shapes: the encoder at B=32, L=64 (2048 rows), E=256, F=1024; the seq2seq
 * graphs at B=128, S=29 (3712 encoder rows), T=12 (1536 decoder rows), E=16,
 * H=256, V=59. Forward (X W^T, accumulating onto the bias), input gradient
 * (dY W) and weight gradient (dY^T X), as the ops call heed_gemm outside
 * their parallel regions.
 */
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cblas.h>

#include "../ops/kernels/gemm512.h"
#include "../ops/kernels/kernels.h"
#include "../ops/kernels/shallow.h"

char *openblas_get_corename(void);

typedef struct product {
    const char *what;
    bool ta, tb;
    int M, N, K;
    float beta;
} product;

/* the seq2seq graphs' products (Luong: LSTM, 4H = 1024 gate columns;
 * Bahdanau: GRU, 3H = 768, bidirectional encoder, memory 2H = 512) */
static const product seq2seq_products[] = {
    {"Luong encoder LSTM, input projection", false, true, 3712, 1024, 16, 1.0f},
    {"Luong encoder LSTM, input grad", false, false, 3712, 16, 1024, 1.0f},
    {"Luong encoder LSTM, W_ih grad", true, false, 1024, 16, 3712, 1.0f},
    {"Luong encoder LSTM, W_hh grad", true, false, 1024, 256, 3712, 1.0f},
    {"Luong decoder LSTM, input grad", false, false, 1536, 16, 1024, 1.0f},
    {"Luong decoder LSTM, W_ih grad", true, false, 1024, 16, 1536, 1.0f},
    {"Luong decoder LSTM, W_hh grad", true, false, 1024, 256, 1536, 1.0f},
    {"Luong output layer, forward (half)", false, true, 1536, 59, 256, 1.0f},
    {"Luong output layer, input grad (half)", false, false, 1536, 256, 59, 1.0f},
    {"Luong output layer, weight grad (half)", true, false, 59, 256, 1536, 1.0f},
    {"Bahdanau encoder GRU, input grad", false, false, 3712, 16, 768, 1.0f},
    {"Bahdanau encoder GRU, W_ih grad", true, false, 768, 16, 3712, 1.0f},
    {"Bahdanau encoder GRU, W_hh grad (r, z)", true, false, 512, 256, 3712, 1.0f},
    {"Bahdanau attention keys, forward", false, true, 3712, 256, 512, 1.0f},
    {"Bahdanau attention keys, memory grad", false, false, 3712, 512, 256, 1.0f},
    {"Bahdanau attention keys, weight grad", true, false, 256, 512, 3712, 1.0f},
    {"Bahdanau decoder GRU, W_ih grad (context)", true, false, 768, 512, 1536, 1.0f},
    {"Bahdanau output layer, forward (context)", false, true, 1536, 59, 512, 1.0f},
    {"Bahdanau output layer, input grad (context)", false, false, 1536, 512, 59, 1.0f},
};

/* the encoder's products */
static const product products[] = {
    {"attention in-projection, forward", false, true, 2048, 768, 256, 1.0f},
    {"attention out-projection, forward", false, true, 2048, 256, 256, 1.0f},
    {"feed-forward 1, forward", false, true, 2048, 1024, 256, 1.0f},
    {"feed-forward 2, forward", false, true, 2048, 256, 1024, 1.0f},
    {"attention in-projection, input grad", false, false, 2048, 256, 768, 1.0f},
    {"feed-forward 1, input grad", false, false, 2048, 256, 1024, 1.0f},
    {"feed-forward 2, input grad", false, false, 2048, 1024, 256, 1.0f},
    {"attention in-projection, weight grad", true, false, 768, 256, 2048, 1.0f},
    {"feed-forward 1, weight grad", true, false, 1024, 256, 2048, 1.0f},
    {"feed-forward 2, weight grad", true, false, 256, 1024, 2048, 1.0f},
    {"square 512, C = AB", false, false, 512, 512, 512, 0.0f},
};

/* the forward products that start from a bias (Affine, the attention
 * projections, the recurrent layers' input projections) */
static const product bias_products[] = {
    {"attention in-projection, forward", false, true, 2048, 768, 256, 1.0f},
    {"attention out-projection, forward", false, true, 2048, 256, 256, 1.0f},
    {"feed-forward 1, forward", false, true, 2048, 1024, 256, 1.0f},
    {"feed-forward 2, forward", false, true, 2048, 256, 1024, 1.0f},
    {"Luong encoder LSTM, input projection", false, true, 3712, 1024, 16, 1.0f},
    {"Luong output layer, forward (half)", false, true, 1536, 59, 256, 1.0f},
    {"Bahdanau attention keys, forward", false, true, 3712, 256, 512, 1.0f},
};

/* the input projections of the seq2seq graphs' recurrent layers, and
 * deeper ones up to the shallow product's limit */
static const product shallow_products[] = {
    {"Luong encoder LSTM, input projection", false, true, 3712, 1024, 16, 1.0f},
    {"Luong decoder LSTM, input projection", false, true, 1536, 1024, 16, 1.0f},
    {"Bahdanau encoder GRU, input projection", false, true, 3712, 768, 16, 1.0f},
    {"Bahdanau decoder GRU, input projection", false, true, 1536, 768, 16, 1.0f},
    {"LSTM input projection, E = 32", false, true, 3712, 1024, 32, 1.0f},
    {"LSTM input projection, E = 64", false, true, 3712, 1024, 64, 1.0f},
    {"one decoding step's input projection", false, true, 128, 1024, 16, 1.0f},
};

/* One way of running a product: 0, or -1 when it cannot run here. */
typedef int (*runner)(const product *p, const float *A, const float *B, float *C);

static int run_blas(const product *p, const float *A, const float *B, float *C)
{
    cblas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans, p->tb ? CblasTrans : CblasNoTrans,
                p->M, p->N, p->K, 1.0f, A, p->ta ? p->M : p->K, B, p->tb ? p->K : p->N, p->beta, C,
                p->N);
    return 0;
}

static int run_heed(const product *p, const float *A, const float *B, float *C)
{
    heed_gemm(p->ta, p->tb, p->M, p->N, p->K, 1.0f, A, p->ta ? p->M : p->K, B, p->tb ? p->K : p->N,
              p->beta, C, p->N);
    return 0;
}

static int run_512(const product *p, const float *A, const float *B, float *C)
{
    return heed_gemm512(p->ta, p->tb, p->M, p->N, p->K, 1.0f, A, p->ta ? p->M : p->K, B,
                        p->tb ? p->K : p->N, p->beta, C, p->N);
}

/* A forward product as heed_gemm_bias runs it when it does not take
 * heed_gemm512: bias rows (here, B's first row), then heed_gemm (on
 * whichever path it routes the product to) accumulating onto them. */
static int run_rows_bias(const product *p, const float *A, const float *B, float *C)
{
    heed_fill_rows(C, B, p->M, p->N);
    return run_heed(p, A, B, C);
}

/* heed_gemm512 starting its sums from the bias. */
static int run_512_bias(const product *p, const float *A, const float *B, float *C)
{
    return heed_gemm512_bias(p->ta, p->tb, p->M, p->N, p->K, A, p->ta ? p->M : p->K, B,
                             p->tb ? p->K : p->N, B, C, p->N);
}

/* heed_gemm_shallow_bias, the bias being B's first row as above. */
static int run_shallow_bias(const product *p, const float *A, const float *B, float *C)
{
    return heed_gemm_shallow_bias(p->tb, p->M, p->N, p->K, A, p->K, B, p->tb ? p->K : p->N, B, C,
                                  p->N);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median GFLOP/s of OpenBLAS's sgemm and of `own` over `repeat`
 * alternating runs, after one untimed run each. Returns -1 when `own` cannot
 * run (heed_gemm512 without AVX-512) or on no memory. */
static int time_product(const product *p, runner blas_run, runner own_run, const float *A,
                        const float *B, float *C, int repeat, double *blas, double *own)
{
    double *tb = malloc((size_t)repeat * sizeof *tb), *to = malloc((size_t)repeat * sizeof *to);
    int rc = tb && to ? 0 : -1;
    blas_run(p, A, B, C);
    if (rc == 0)
        rc = own_run(p, A, B, C);
    /* which runs first alternates: the second of a pair ran up to 6%
     * faster whatever it was */
    for (int r = 0; rc == 0 && r < repeat; r++) {
        double t0 = omp_get_wtime();
        (r & 1 ? own_run : blas_run)(p, A, B, C);
        double t1 = omp_get_wtime();
        (r & 1 ? blas_run : own_run)(p, A, B, C);
        double t2 = omp_get_wtime();
        tb[r] = r & 1 ? t2 - t1 : t1 - t0, to[r] = r & 1 ? t1 - t0 : t2 - t1;
    }
    if (rc == 0) {
        double flop = 2.0 * p->M * p->N * p->K;
        qsort(tb, (size_t)repeat, sizeof *tb, cmp_double);
        qsort(to, (size_t)repeat, sizeof *to, cmp_double);
        *blas = flop / tb[repeat / 2] / 1e9, *own = flop / to[repeat / 2] / 1e9;
    }
    free(tb);
    free(to);
    return rc;
}

static float *filled(size_t n, unsigned seed)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; v && i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    return v;
}

/* One table: each product's OpenBLAS rate, `own`'s and their ratio (the
 * path heed_gemm takes when `own` is heed_gemm). 0, or 1 when `own` cannot
 * run here. */
static int table(const char *base_name, runner blas_run, const char *own_name, runner own_run,
                 const product *ps, size_t count, const float *A, const float *B, float *C,
                 int repeat)
{
    for (size_t i = 0; i < count; i++) {
        const product *p = &ps[i];
        double blas = 0, own = 0;
        char dims[64];
        snprintf(dims, sizeof dims, "%dx%dx%d %s%s", p->M, p->N, p->K, p->ta ? "T" : "N",
                 p->tb ? "T" : "N");
        const char *path = own_run == run_heed
                               ? heed_gemm_path_name(heed_gemm_route(p->ta, p->M, p->N, p->K))
                           : own_run == run_512_bias
                               ? (heed_gemm512_bias_wanted(p->M, p->N, p->K) ? "gemm512 bias"
                                                                             : "bias rows")
                           : own_run == run_shallow_bias
                               ? (heed_gemm_shallow_wanted(p->ta, p->M, p->N, p->K) ? "shallow"
                                                                                    : "bias rows")
                               : "gemm512";
        if (time_product(p, blas_run, own_run, A, B, C, repeat, &blas, &own) != 0) {
            fprintf(stderr,
                    "bench_gemm: %s cannot run here (no AVX-512, or for the shallow product "
                    "no AVX2; or out of memory)\n",
                    own_name);
            return 1;
        }
        if (i == 0) /* the header once the table is known to run here */
            printf("\n%-44s %-17s %-12s %8s %8s %6s\n", "product", "M x N x K", "path",
                   base_name, own_name, "ratio");
        printf("%-44s %-17s %-12s %8.1f %8.1f %5.2fx\n", p->what, dims, path, blas, own,
               own / blas);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2, repeat = argc > 2 ? atoi(argv[2]) : 50;
    if (threads < 1 || repeat < 1) {
        fprintf(stderr, "usage: bench_gemm [THREADS] [REPEAT]\n");
        return 2;
    }
    omp_set_num_threads(threads);
    size_t n = (size_t)3712 * 1024; /* the largest matrix: [3712, 1024] */
    float *A = filled(n, 1), *B = filled(n, 2), *C = filled(n, 3);
    if (!A || !B || !C) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        return 1;
    }
    printf("%d threads, medians of %d alternating runs, GFLOP/s; OpenBLAS core %s; "
           "heed_gemm512 %s here\n",
           threads, repeat, openblas_get_corename(),
           heed_gemm512_machine() ? "takes the large products" : "leaves them to OpenBLAS");
    size_t ns = sizeof seq2seq_products / sizeof *seq2seq_products;
    size_t ne = sizeof products / sizeof *products;
    size_t nb = sizeof bias_products / sizeof *bias_products;
    size_t nh = sizeof shallow_products / sizeof *shallow_products;
    int status =
        table("OpenBLAS", run_blas, "heed", run_heed, seq2seq_products, ns, A, B, C, repeat);
    if (status == 0)
        status = table("OpenBLAS", run_blas, "heed", run_heed, products, ne, A, B, C, repeat);
    /* the tables of products this machine may lack: each says why it stops */
    if (status == 0) {
        table("OpenBLAS", run_blas, "gemm512", run_512, products, ne, A, B, C, repeat);
        /* bias rows then heed_gemm, against heed_gemm512 starting from the bias */
        table("rows+gemm", run_rows_bias, "gemm512", run_512_bias, bias_products, nb, A, B, C,
              repeat);
        table("rows+gemm", run_rows_bias, "shallow", run_shallow_bias, shallow_products, nh, A, B,
              C, repeat);
    }
    free(A);
    free(B);
    free(C);
    return status == 0 ? 0 : 1;
}
