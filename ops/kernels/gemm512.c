/* gemm512.c - see gemm512.h. */
#include "gemm512.h"

#include <omp.h>
#include <stdlib.h>
#include <strings.h>

#include "kernels.h"
#include "packed.h"
#include "steal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HEED_GEMM512 1
#endif

/* The register tile: MR rows of A by NV vectors (64 columns, two of
 * heed_pack's NR-column panels). 24 accumulators, four B vectors and a
 * broadcast fit the 32 vector registers, and each step loads ten operands
 * for 24 multiply-adds (a 12 x 32 tile loaded 14, and ran 3-10% slower).
 * KC: the A micro-panel (6 KiB) stays in L1 while the tiles of NB panels
 * (256 columns, 256 KiB packed, in L2) pass along its rows; C is written
 * along its rows, in the order the hardware prefetcher follows. MC: a
 * thread packs A 192 rows at a time (192 KiB, in L2 beside the panels):
 * as fast as packing all its rows at once, in a tenth of the memory. CH:
 * the rows a thread takes at a time (8 tiles; thread_512). */
enum { MR = 6, NV = 4, NR = 32, KC = 256, NB = 8, MC = 192, CH = 48 };

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
    /* 24 rows: the bound measured when the tile had 12 rows, kept */
    return M >= 4 * MR && N >= NR && K >= 32 && (double)M * N * K >= (double)(1 << 21) &&
           heed_gemm512_machine();
}

bool heed_gemm512_bias_wanted(int64_t M, int64_t N, int64_t K)
{
#ifdef HEED_GEMM512
    if (heed_gemm512_wanted(M, N, K))
        return true;
    /* Where OpenBLAS runs AVX-512 kernels these are 0.90-1.00x as fast on
     * the encoder's products, but OpenBLAS starts from bias rows written
     * first, while in one K block these write C once. Taken where heed_gemm
     * would hand the product to OpenBLAS's threads (more than
     * HEED_SPLIT_COLS columns): 1.02-1.09x as fast on the encoder's
     * 256-deep products and 1.85-2.0x on the recurrent layers' 16-deep input
     * projections; narrower products split by rows kept 0.89-0.96x
     * (bench/gemm.c, last table). */
    return K <= KC && N > HEED_SPLIT_COLS && M >= 4 * MR &&
           (double)M * N * K >= (double)(1 << 21) && __builtin_cpu_supports("avx512f");
#else
    (void)M, (void)N, (void)K;
    return false;
#endif
}

/* op(A)[i0.., k0..] as MR-row micro-panels [k][MR], alpha folded in, rows
 * past M zero. */
static void pack_a_512(float *dst, bool ta, const float *A, int64_t lda, int64_t i0, int64_t mc,
                   int64_t k0, int64_t kc, float alpha, int64_t p)
{
    float *d = dst + p * MR * kc;
    if (!ta && (p + 1) * MR <= mc) {
        /* a whole panel of untransposed rows: each row read in order */
        for (int64_t r = 0; r < MR; r++) {
            const float *src = A + (i0 + p * MR + r) * lda + k0;
            for (int64_t k = 0; k < kc; k++)
                d[k * MR + r] = alpha * src[k];
        }
        return;
    }
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
/* C[mr, n] (first block: beta C + or, given the bias row of these
 * columns, bias +; later blocks: C +) the MR x (16 NV) product of one A
 * micro-panel and NV / 2 B micro-panels (b0, b1: consecutive panels; b1 may
 * repeat b0 when n <= NR) over kc. */
__attribute__((target("avx512f"))) static void tile_512(int64_t kc, const float *a, const float *b0,
                                                    const float *b1, float *C, int64_t ldc,
                                                    int64_t mr, int64_t n, bool first, float beta,
                                                    const float *bias)
{
    __mmask16 m[NV];
    for (int v = 0; v < NV; v++) {
        int64_t w = n - 16 * v;
        m[v] = w >= 16 ? 0xFFFF : w > 0 ? (__mmask16)((1u << w) - 1) : 0;
    }
    __m512 acc[MR][NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        /* the bias starts the sums: C is then written once, never read */
        __m512 start = first && bias ? _mm512_maskz_loadu_ps(m[v], bias + 16 * v)
                                     : _mm512_setzero_ps();
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++)
            acc[r][v] = start;
    }
    /* C, read at the end, is fetched to L2 while the tile computes (to L1
     * it was evicted again by the streaming panels before the end) */
    bool reads_c = !first || (!bias && beta != 0.0f);
    if (reads_c)
        for (int64_t r = 0; r < mr; r++)
            for (int v = 0; v < NV; v++)
                _mm_prefetch((const char *)(C + r * ldc + 16 * v), _MM_HINT_T1);
    for (int64_t k = 0; k < kc; k++) {
        __m512 bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            bv[v] = _mm512_load_ps((v < 2 ? b0 : b1) + k * NR + (v & 1) * 16);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            __m512 av = _mm512_set1_ps(a[k * MR + r]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    __m512 vb = _mm512_set1_ps(beta);
    for (int64_t r = 0; r < mr; r++) {
        float *c = C + r * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __m512 x = acc[r][v];
            /* beta = 0 never reads C: it may hold NaN */
            if (reads_c) {
                __m512 o = _mm512_maskz_loadu_ps(m[v], c + 16 * v);
                if (first && beta != 1.0f)
                    o = _mm512_mul_ps(o, vb);
                x = _mm512_add_ps(x, o);
            }
            _mm512_mask_storeu_ps(c + 16 * v, m[v], x);
        }
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
    const float *bias; /* NULL, or [N] added to every row (beta unused) */
    size_t pa_floats; /* one thread's packed block of A */
} gemm;

/* Rows [m0, m1) of one K block, on the calling thread with its own A
 * buffer: every C element is summed by one thread in one order, so the
 * result does not depend on the thread count. */
static void rows_512(const gemm *g, int64_t k0, int64_t kc, int64_t m0, int64_t m1, float *pa)
{
#ifdef HEED_GEMM512
    int64_t npan = (g->N + NR - 1) / NR;
    for (int64_t i0 = m0; i0 < m1; i0 += MC) {
        int64_t rows = m1 - i0 < MC ? m1 - i0 : MC, mpan = (rows + MR - 1) / MR;
        for (int64_t p = 0; p < mpan; p++)
            pack_a_512(pa, g->ta, g->A, g->lda, i0, rows, k0, kc, g->alpha, p);
        for (int64_t jb = 0; jb < npan; jb += NB)
            for (int64_t ip = 0; ip < mpan; ip++) {
                int64_t mr = rows - ip * MR < MR ? rows - ip * MR : MR;
                for (int64_t jp = jb; jp < npan && jp < jb + NB; jp += NV / 2) {
                    int64_t n = g->N - jp * NR < NV * 16 ? g->N - jp * NR : NV * 16;
                    const float *b0 = g->pb + jp * NR * kc;
                    const float *b1 = jp + 1 < npan ? b0 + NR * kc : b0;
                    tile_512(kc, pa + ip * MR * kc, b0, b1,
                             g->C + (i0 + ip * MR) * g->ldc + jp * NR, g->ldc, mr, n, k0 == 0,
                             g->beta, g->bias ? g->bias + jp * NR : NULL);
                }
            }
    }
#else
    (void)g, (void)k0, (void)kc, (void)m0, (void)m1, (void)pa;
#endif
}

/* One thread's part: for each K block, the B panels packed by all threads,
 * then blocks of CH rows, its own first and then any left of the others'
 * (steal.h), with no further synchronisation. A block packs only its own
 * rows of A, so the finer split costs little. */
static void thread_512(const gemm *g, heed_steal *steal)
{
    int id = omp_get_thread_num();
    int64_t npan = (g->N + NR - 1) / NR, blocks = (g->M + CH - 1) / CH;
    float *pa = g->pa + (size_t)id * g->pa_floats;
    for (int64_t k0 = 0; k0 < g->K; k0 += KC) {
        int64_t kc = g->K - k0 < KC ? g->K - k0 : KC;
        /* set again for each later K block: taken from only after the
         * packing's barrier, and the block before was done at the last */
#pragma omp single nowait
        if (k0 > 0)
            heed_steal_init(steal, blocks, omp_get_num_threads());
#pragma omp for schedule(static)
        for (int64_t p = 0; p < npan; p++) {
            /* op(B)[k0.., p NR..] as one panel (heed_pack's layout) */
            int64_t j0 = p * NR, n = g->N - j0 < NR ? g->N - j0 : NR;
            const float *b = g->tb ? g->B + j0 * g->ldb + k0 : g->B + k0 * g->ldb + j0;
            heed_pack(g->pb + p * NR * kc, b, g->ldb, g->tb, kc, n);
        }
        for (int64_t r; (r = heed_steal_next(steal, id)) >= 0;)
            rows_512(g, k0, kc, r * CH, (r + 1) * CH < g->M ? (r + 1) * CH : g->M, pa);
        /* the next block's packing overwrites the panels */
#pragma omp barrier
    }
}

/* C = alpha op(A) op(B) + (bias rows, or beta C). */
static int run_512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, const float *bias,
                   float *C, int64_t ldc)
{
#ifdef HEED_GEMM512
    if (M <= 0 || N <= 0 || K <= 0 || !__builtin_cpu_supports("avx512f"))
        return -1;
    int64_t npan = (N + NR - 1) / NR, kc = K < KC ? K : KC;
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    size_t pa_floats = (size_t)(MC * kc);
    /* rounded to 64 bytes: the vector loads of the packed panels are aligned */
    size_t bytes_b = ((size_t)(npan * NR * kc) * sizeof(float) + 63) / 64 * 64;
    size_t bytes_a = (pa_floats * sizeof(float) + 63) / 64 * 64;
    float *pb = aligned_alloc(64, bytes_b), *pa = aligned_alloc(64, bytes_a * (size_t)threads);
    if (!pa || !pb) {
        free(pa), free(pb);
        return -1;
    }
    gemm g = {ta, tb,  M,  N,  K,  alpha, beta, A,   B,
              lda, ldb, ldc, C, pa, pb, bias,  bytes_a / sizeof(float)};
    /* a team smaller than asked steals the runs left without a thread */
    heed_steal steal;
    heed_steal_init(&steal, (M + CH - 1) / CH, threads);
#pragma omp parallel num_threads(threads)
    thread_512(&g, &steal);
    free(pa), free(pb);
    return 0;
#else
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B;
    (void)ldb, (void)beta, (void)bias, (void)C, (void)ldc;
    return -1;
#endif
}

int heed_gemm512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    return run_512(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, NULL, C, ldc);
}

int heed_gemm512_bias(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                      int64_t lda, const float *B, int64_t ldb, const float *bias, float *C,
                      int64_t ldc)
{
    return run_512(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, bias, C, ldc);
}
