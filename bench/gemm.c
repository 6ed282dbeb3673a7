/*
 * gemm.c - heed's AVX-512 matrix product (ops/kernels/gemm512.c) next to
 * OpenBLAS's sgemm on the self-attention encoder's products, alternating in
 * one process: the evidence for heed_gemm512_machine's rule (which OpenBLAS
 * cores keep the large products).
 *
 *   cmake --build build --target bench_gemm
 *   build/bench_gemm [THREADS] [REPEAT]
 *
 * Shapes: the encoder at B=32, L=64 (2048 rows), E=256, F=1024; forward
 * (X W^T, accumulating onto the bias), input gradient (dY W) and weight
 * gradient (dY^T X), as ops/affine.c and ops/mha.c call heed_gemm.
 */
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cblas.h>

#include "../ops/kernels/gemm512.h"

char *openblas_get_corename(void);

typedef struct product {
    const char *what;
    bool ta, tb;
    int M, N, K;
    float beta;
} product;

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

static void run_blas(const product *p, const float *A, const float *B, float *C)
{
    cblas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans, p->tb ? CblasTrans : CblasNoTrans,
                p->M, p->N, p->K, 1.0f, A, p->ta ? p->M : p->K, B, p->tb ? p->K : p->N, p->beta, C,
                p->N);
}

static int run_512(const product *p, const float *A, const float *B, float *C)
{
    return heed_gemm512(p->ta, p->tb, p->M, p->N, p->K, 1.0f, A, p->ta ? p->M : p->K, B,
                        p->tb ? p->K : p->N, p->beta, C, p->N);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median GFLOP/s of each side over `repeat` alternating runs, after one
 * untimed run each. Returns -1 when heed_gemm512 declines (no AVX-512). */
static int time_product(const product *p, const float *A, const float *B, float *C, int repeat,
                        double *blas, double *own)
{
    double *tb = malloc((size_t)repeat * sizeof *tb), *to = malloc((size_t)repeat * sizeof *to);
    int rc = tb && to ? 0 : -1;
    run_blas(p, A, B, C);
    if (rc == 0)
        rc = run_512(p, A, B, C);
    for (int r = 0; rc == 0 && r < repeat; r++) {
        double t0 = omp_get_wtime();
        run_blas(p, A, B, C);
        double t1 = omp_get_wtime();
        run_512(p, A, B, C);
        tb[r] = t1 - t0, to[r] = omp_get_wtime() - t1;
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

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2, repeat = argc > 2 ? atoi(argv[2]) : 50;
    if (threads < 1 || repeat < 1) {
        fprintf(stderr, "usage: bench_gemm [THREADS] [REPEAT]\n");
        return 2;
    }
    omp_set_num_threads(threads);
    size_t n = (size_t)2048 * 1024;
    float *A = filled(n, 1), *B = filled(n, 2), *C = filled(n, 3);
    if (!A || !B || !C) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        return 1;
    }
    printf("%d threads, medians of %d alternating runs; OpenBLAS core %s; heed_gemm512 %s here\n",
           threads, repeat, openblas_get_corename(),
           heed_gemm512_machine() ? "takes the large products" : "leaves them to OpenBLAS");
    printf("%-38s %-22s %9s %9s %7s\n", "product", "M x N x K", "OpenBLAS", "gemm512", "ratio");
    int status = 0;
    for (size_t i = 0; i < sizeof products / sizeof *products; i++) {
        const product *p = &products[i];
        double blas = 0, own = 0;
        char dims[64];
        snprintf(dims, sizeof dims, "%dx%dx%d %s%s", p->M, p->N, p->K, p->ta ? "T" : "N",
                 p->tb ? "T" : "N");
        if (time_product(p, A, B, C, repeat, &blas, &own) != 0) {
            fprintf(stderr, "bench_gemm: heed_gemm512 cannot run here (no AVX-512, or out of "
                            "memory)\n");
            status = 1;
            break;
        }
        printf("%-38s %-22s %9.1f %9.1f %6.2fx\n", p->what, dims, blas, own, own / blas);
    }
    free(A);
    free(B);
    free(C);
    return status;
}
