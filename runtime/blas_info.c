/*
 * blas_info.c - which BLAS heed runs on and how fast sgemm goes on this
 * machine now, so that benchmarks can state efficiency as a ratio.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../ops/kernels/gemm512.h"
#include "../ops/kernels/kernels.h"
#include "base.h"

/* OpenBLAS's own introspection (declared here: not every cblas.h has them). */
char *openblas_get_config(void);
char *openblas_get_corename(void);
int openblas_get_parallel(void);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void heed_blas_info_get(int threads, heed_blas_info *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    snprintf(out->config, sizeof out->config, "%s", openblas_get_config());
    snprintf(out->core, sizeof out->core, "%s", openblas_get_corename());
    int par = openblas_get_parallel();
    out->threading = par == 2 ? "OpenMP" : par == 1 ? "pthreads" : "sequential";
    if (threads > 0)
        omp_set_num_threads(threads);
    out->threads = omp_get_max_threads();
    out->products = heed_gemm512_machine() ? "heed AVX-512" : "OpenBLAS";
    enum { N = 512, RUNS = 15 };
    float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N);
    float *c = malloc(sizeof(float) * N * N);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return;
    }
    for (int i = 0; i < N * N; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.1f;
    }
    double t[RUNS];
    for (int r = -3; r < RUNS; r++) {
        double t0 = now();
        heed_gemm(false, false, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
        if (r >= 0)
            t[r] = now() - t0;
    }
    qsort(t, RUNS, sizeof t[0], cmp_double);
    out->sgemm_gflops = 2.0 * N * N * N / t[RUNS / 2] / 1e9;
    free(a), free(b), free(c);
}
