/* shallow.c - see shallow.h. */
#include "shallow.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "packed.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HEED_SHALLOW_AVX2 1
#endif

/* The register tile: MR rows by 16 columns (half of a packed panel), twelve
 * accumulators, two B vectors and a broadcast within AVX2's 16 registers;
 * each step loads eight operands for twelve multiply-adds. KMAX: the
 * deepest products measured (1.18-1.38x at K = 64, 1.28-1.82x at K = 32,
 * bench/gemm.c). On the encoder's 256- and 1024-deep products the same
 * tiles ran 0.87-1.00x OpenBLAS's rate, so those stay with OpenBLAS. */
enum { MR = 6, NR = HEED_PACKED_NR, KMAX = 64, THIN = 32 };

/* Products smaller than this many multiply-adds are not worth the packing
 * (for heed_gemm's routes) or a second thread (for the run). */
#define MIN_WORK ((double)(1 << 18))

static bool machine_ok(void)
{
#ifdef HEED_SHALLOW_AVX2
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

/* Where heed_gemm takes these tiles: AVX2 and FMA without AVX-512, whose
 * machines have heed_gemm512 instead. */
static bool machine_wanted(void)
{
#ifdef HEED_SHALLOW_AVX2
    return machine_ok() && !__builtin_cpu_supports("avx512f");
#else
    return false;
#endif
}

bool heed_gemm_shallow_wanted(bool ta, int64_t M, int64_t N, int64_t K)
{
    return !ta && K >= 1 && K <= KMAX && N >= 16 && M >= 4 * MR &&
           (double)M * N * K >= MIN_WORK && machine_wanted();
}

bool heed_gemm_thin_wanted(bool ta, int64_t M, int64_t N, int64_t K)
{
    return !ta && N <= THIN && K >= 64 && M >= 4 * MR && (double)M * N * K >= MIN_WORK &&
           machine_wanted();
}

/* The operands of one call. P: op(B) packed (packed.h's layout); bias: the
 * bias padded with zeros to whole panels. */
typedef struct shallow {
    int64_t M, N, K, lda, ldc;
    const float *A, *P, *bias; /* bias NULL: C = alpha A op(B) + beta C */
    float *C;
    float alpha, beta;
} shallow;

#ifdef HEED_SHALLOW_AVX2
/* C[r0 .. r0+mr, all N] for mr <= MR rows: each 16 columns' tile starts from
 * the bias, runs over the whole depth and is stored once. Rows past mr
 * repeat row 0 (computed, not stored). The accumulators are indexed by
 * constants only (loops unrolled): indexed by a variable, they lived in
 * memory and the tile ran at a third of its speed. */
__attribute__((target("avx2,fma"))) static void rows_avx2(const shallow *q, int64_t r0,
                                                           int64_t mr)
{
    const float *a[MR];
    for (int r = 0; r < MR; r++)
        a[r] = q->A + (r0 + (r < mr ? r : 0)) * q->lda;
    float *c = q->C + r0 * q->ldc;
    int64_t K = q->K, N = q->N, ldc = q->ldc;
    for (int64_t j = 0; j < N; j += 16) {
        const float *p = q->P + (j / NR) * K * NR + j % NR;
        __m256 acc[MR][2];
        __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
        if (q->bias)
            b0 = _mm256_loadu_ps(q->bias + j), b1 = _mm256_loadu_ps(q->bias + j + 8);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++)
            acc[r][0] = b0, acc[r][1] = b1;
        for (int64_t k = 0; k < K; k++) {
            __m256 w0 = _mm256_loadu_ps(p + k * NR), w1 = _mm256_loadu_ps(p + k * NR + 8);
#pragma GCC unroll 6
            for (int r = 0; r < MR; r++) {
                __m256 x = _mm256_broadcast_ss(a[r] + k);
                acc[r][0] = _mm256_fmadd_ps(x, w0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(x, w1, acc[r][1]);
            }
        }
        bool add = !q->bias && q->beta != 0.0f;
        if (!q->bias) { /* C = alpha acc + beta C, C read only when beta is not 0 */
            __m256 al = _mm256_set1_ps(q->alpha);
#pragma GCC unroll 6
            for (int r = 0; r < MR; r++)
                acc[r][0] = _mm256_mul_ps(al, acc[r][0]), acc[r][1] = _mm256_mul_ps(al, acc[r][1]);
        }
        if (mr == MR && N - j >= 16) {
            __m256 be = _mm256_set1_ps(q->beta);
#pragma GCC unroll 6
            for (int r = 0; r < MR; r++) {
                float *cr = c + r * ldc + j;
                if (add) {
                    acc[r][0] = _mm256_fmadd_ps(be, _mm256_loadu_ps(cr), acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(be, _mm256_loadu_ps(cr + 8), acc[r][1]);
                }
                _mm256_storeu_ps(cr, acc[r][0]);
                _mm256_storeu_ps(cr + 8, acc[r][1]);
            }
            continue;
        }
        /* the last rows or columns: through a buffer, nothing past M or N */
        float t[MR][16];
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            _mm256_storeu_ps(t[r], acc[r][0]);
            _mm256_storeu_ps(t[r] + 8, acc[r][1]);
        }
        size_t n = (size_t)(N - j < 16 ? N - j : 16);
        for (int64_t r = 0; r < mr; r++) {
            float *cr = c + r * ldc + j;
            if (add)
                for (size_t u = 0; u < n; u++)
                    cr[u] = t[r][u] + q->beta * cr[u];
            else
                memcpy(cr, t[r], n * sizeof **t);
        }
    }
}
#endif

/* Row blocks [b0, b1). */
static void run_rows(const shallow *q, int64_t b0, int64_t b1)
{
#ifdef HEED_SHALLOW_AVX2
    for (int64_t bi = b0; bi < b1; bi++) {
        int64_t r0 = bi * MR;
        rows_avx2(q, r0, q->M - r0 < MR ? q->M - r0 : MR);
    }
#else
    (void)q, (void)b0, (void)b1;
#endif
}

/* Packs op(B) and runs the rows, on the threads when the work is large;
 * with_bias: the tiles start from the bias (zero when NULL) and C is not
 * read. */
static int run(const shallow *proto, bool tb, const float *B, int64_t ldb, bool with_bias,
               const float *bias)
{
    shallow q = *proto;
    int64_t N = q.N, K = q.K, padded = (N + NR - 1) / NR * NR;
    size_t pfloats = heed_packed_floats(K, N);
    float *P = malloc((pfloats + (size_t)padded) * sizeof *P);
    if (!P)
        return -1;
    if (with_bias) {
        float *bp = P + pfloats;
        for (int64_t j = 0; j < padded; j++)
            bp[j] = bias && j < N ? bias[j] : 0.0f;
        q.bias = bp;
    }
    heed_pack(P, B, ldb, tb, K, N);
    q.P = P;
    int64_t blocks = (q.M + MR - 1) / MR;
    if (omp_in_parallel() || omp_get_max_threads() < 2 || (double)q.M * N * K < MIN_WORK) {
        run_rows(&q, 0, blocks);
    } else {
#pragma omp parallel
        {
            /* contiguous row shares, so each thread writes its own part of C */
            int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
            run_rows(&q, blocks * id / nt, blocks * (id + 1) / nt);
        }
    }
    free(P);
    return 0;
}

int heed_gemm_shallow_bias(bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                           const float *B, int64_t ldb, const float *bias, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0 || K < 1 || K > KMAX || !machine_ok())
        return -1;
    shallow q = {M, N, K, lda, ldc, A, NULL, NULL, C, 1.0f, 0.0f};
    return run(&q, tb, B, ldb, true, bias);
}

int heed_gemm_thin(bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0 || N > THIN || K < 1 || !machine_ok())
        return -1;
    shallow q = {M, N, K, lda, ldc, A, NULL, NULL, C, alpha, beta};
    return run(&q, tb, B, ldb, false, NULL);
}
