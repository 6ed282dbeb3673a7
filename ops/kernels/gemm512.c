/* gemm512.c - see gemm512.h. */
#include "gemm512.h"

#include <omp.h>
#include <stdlib.h>
#include <strings.h>

#include "packed.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HEED_GEMM512 1
#endif

/* Tile MR x NR: 24 accumulators, two B vectors and a broadcast fit the 32
 * vector registers. KC: an A micro-panel (12 KiB) and a B micro-panel
 * (32 KiB) share the 48 KiB L1. MC: the packed A block (144 KiB) stays in
 * L2 while the B micro-panels pass over it. */
enum { MR = 12, NR = 32, KC = 256, MC = 144 }; /* NR: heed_pack's panel width */

char *openblas_get_corename(void);

bool heed_gemm512_machine(void)
{
#ifdef HEED_GEMM512
    if (!__builtin_cpu_supports("avx512f"))
        return false;
    /* where OpenBLAS chose its own AVX-512 kernels it keeps the products:
     * on the encoder's shapes they ran 0-15% faster than these */
    const char *core = openblas_get_corename();
    static const char *const avx512_cores[] = {"skylakex", "cooperlake", "sapphirerapids"};
    for (size_t i = 0; core && i < sizeof avx512_cores / sizeof *avx512_cores; i++)
        if (strcasecmp(core, avx512_cores[i]) == 0)
            return false;
    return true;
#else
    return false;
#endif
}

bool heed_gemm512_wanted(int64_t M, int64_t N, int64_t K)
{
    return M >= 2 * MR && N >= NR && K >= 32 && (double)M * N * K >= (double)(1 << 21) &&
           heed_gemm512_machine();
}

/* op(A)[i0.., k0..] as MR-row micro-panels [k][MR], alpha folded in, rows
 * past M zero. */
static void pack_a_512(float *dst, bool ta, const float *A, int64_t lda, int64_t i0, int64_t mc,
                   int64_t k0, int64_t kc, float alpha, int64_t p)
{
    float *d = dst + p * MR * kc;
    for (int64_t k = 0; k < kc; k++)
        for (int64_t r = 0; r < MR; r++) {
            int64_t i = p * MR + r;
            float v = 0.0f;
            if (i < mc)
                v = ta ? A[(k0 + k) * lda + i0 + i] : A[(i0 + i) * lda + k0 + k];
            d[k * MR + r] = alpha * v;
        }
}

#ifdef HEED_GEMM512
/* C[mr, n] (first block: beta C +, else C +) the MR x NR product of one
 * A micro-panel and one B micro-panel over kc. */
__attribute__((target("avx512f"))) static void tile_512(int64_t kc, const float *a, const float *b,
                                                    float *C, int64_t ldc, int64_t mr, int64_t n,
                                                    bool first, float beta)
{
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    /* C is read at the end: its lines, often out of cache after the
     * previous K block, are fetched while the tile computes */
    if (!first || beta != 0.0f)
        for (int64_t r = 0; r < mr; r++) {
            _mm_prefetch((const char *)(C + r * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(C + r * ldc + 16), _MM_HINT_T0);
        }
    for (int64_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b + k * NR), b1 = _mm512_load_ps(b + k * NR + 16);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512 av = _mm512_set1_ps(a[k * MR + r]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    __mmask16 m1 = n >= 32 ? 0xFFFF : n > 16 ? (__mmask16)((1u << (n - 16)) - 1) : 0;
    __m512 vb = _mm512_set1_ps(beta);
    for (int64_t r = 0; r < mr; r++) {
        float *c = C + r * ldc;
        __m512 c0 = acc[r][0], c1 = acc[r][1];
        /* beta = 0 never reads C: it may hold NaN */
        if (!first || beta != 0.0f) {
            __m512 o0 = _mm512_maskz_loadu_ps(m0, c), o1 = _mm512_maskz_loadu_ps(m1, c + 16);
            if (first && beta != 1.0f)
                o0 = _mm512_mul_ps(o0, vb), o1 = _mm512_mul_ps(o1, vb);
            c0 = _mm512_add_ps(c0, o0), c1 = _mm512_add_ps(c1, o1);
        }
        _mm512_mask_storeu_ps(c, m0, c0);
        _mm512_mask_storeu_ps(c + 16, m1, c1);
    }
}
#endif

/* The operands of one product. */
typedef struct gemm {
    bool ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    int64_t lda, ldb, ldc;
    float *C, *pa, *pb;
    size_t pa_floats; /* one thread's A block */
} gemm;

/* Rows [m0, m1) of one K block, on the calling thread with its own A
 * buffer: every C element is summed by one thread in one order, so the
 * result does not depend on the thread count. */
static void rows_512(const gemm *g, int64_t k0, int64_t kc, int64_t m0, int64_t m1, float *pa)
{
#ifdef HEED_GEMM512
    int64_t npan = (g->N + NR - 1) / NR;
    for (int64_t i0 = m0; i0 < m1; i0 += MC) {
        int64_t mc = m1 - i0 < MC ? m1 - i0 : MC, mpan = (mc + MR - 1) / MR;
        for (int64_t p = 0; p < mpan; p++)
            pack_a_512(pa, g->ta, g->A, g->lda, i0, mc, k0, kc, g->alpha, p);
        for (int64_t jp = 0; jp < npan; jp++) {
            int64_t n = g->N - jp * NR < NR ? g->N - jp * NR : NR;
            for (int64_t ip = 0; ip < mpan; ip++) {
                int64_t mr = mc - ip * MR < MR ? mc - ip * MR : MR;
                tile_512(kc, pa + ip * MR * kc, g->pb + jp * NR * kc,
                     g->C + (i0 + ip * MR) * g->ldc + jp * NR, g->ldc, mr, n, k0 == 0, g->beta);
            }
        }
    }
#else
    (void)g, (void)k0, (void)kc, (void)m0, (void)m1, (void)pa;
#endif
}

/* One thread's part: for each K block, the B panels packed by all threads,
 * then the thread's share of the rows (whole tiles) with no further
 * synchronisation. */
static void thread_512(const gemm *g)
{
    int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
    int64_t tiles = (g->M + MR - 1) / MR, npan = (g->N + NR - 1) / NR;
    int64_t m0 = tiles * id / nt * MR, m1 = tiles * (id + 1) / nt * MR;
    float *pa = g->pa + (size_t)id * g->pa_floats;
    for (int64_t k0 = 0; k0 < g->K; k0 += KC) {
        int64_t kc = g->K - k0 < KC ? g->K - k0 : KC;
#pragma omp for schedule(static)
        for (int64_t p = 0; p < npan; p++) {
            /* op(B)[k0.., p NR..] as one panel (heed_pack's layout) */
            int64_t j0 = p * NR, n = g->N - j0 < NR ? g->N - j0 : NR;
            const float *b = g->tb ? g->B + j0 * g->ldb + k0 : g->B + k0 * g->ldb + j0;
            heed_pack(g->pb + p * NR * kc, b, g->ldb, g->tb, kc, n);
        }
        rows_512(g, k0, kc, m0, m1 < g->M ? m1 : g->M, pa);
        /* the next block's packing overwrites the panels */
#pragma omp barrier
    }
}

int heed_gemm512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
#ifdef HEED_GEMM512
    if (M <= 0 || N <= 0 || K <= 0 || !__builtin_cpu_supports("avx512f"))
        return -1;
    int64_t npan = (N + NR - 1) / NR, kc = K < KC ? K : KC;
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    size_t pa_floats = (size_t)(((MC + MR - 1) / MR) * MR * kc);
    /* rounded to 64 bytes: the vector loads of the packed panels are aligned */
    size_t bytes_b = ((size_t)(npan * NR * kc) * sizeof(float) + 63) / 64 * 64;
    size_t bytes_a = (pa_floats * sizeof(float) + 63) / 64 * 64;
    float *pb = aligned_alloc(64, bytes_b), *pa = aligned_alloc(64, bytes_a * (size_t)threads);
    if (!pa || !pb) {
        free(pa), free(pb);
        return -1;
    }
    gemm g = {ta,   tb, M,   N,  K,  alpha, beta, A, B, lda, ldb, ldc, C, pa, pb,
              bytes_a / sizeof(float)};
#pragma omp parallel num_threads(threads)
    thread_512(&g);
    free(pa), free(pb);
    return 0;
#else
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B;
    (void)ldb, (void)beta, (void)C, (void)ldc;
    return -1;
#endif
}
