/* packed.c - see packed.h. */
#include "packed.h"

#include <omp.h>
#include <string.h>

#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include "avx512.h"
#define HEED_PACKED_AVX512 1
#endif

/* panel width; rows per tile (16 accumulators); depth per pass over a panel */
enum { NR = HEED_PACKED_NR, MR = 8, KC = 256 };

bool heed_packed_fast(void)
{
#ifdef HEED_PACKED_AVX512
    return __builtin_cpu_supports("avx512f");
#else
    return false;
#endif
}

size_t heed_packed_floats(int64_t K, int64_t N)
{
    return (size_t)((N + NR - 1) / NR) * NR * (size_t)K;
}

void heed_packed_share(int64_t M, int64_t id, int64_t nt, int64_t *r0, int64_t *r1)
{
    int64_t blocks = (M + MR - 1) / MR;
    *r0 = blocks * id / nt * MR;
    *r1 = blocks * (id + 1) / nt * MR;
    *r0 = *r0 < M ? *r0 : M;
    *r1 = *r1 < M ? *r1 : M;
}

#ifdef HEED_PACKED_AVX512
/* The first k16 (a multiple of 16) rows of a full panel of W [N,K]: 16 x 16
 * blocks read along W's rows and transposed in registers. Gathering down
 * W's columns one float at a time made the pack cost as much as the 29
 * steps of products it served at batch 1. */
__attribute__((target("avx512f"))) static void pack_trans_avx512(float *d, const float *w,
                                                                int64_t ldw, int64_t k16)
{
    __m512 r[16];
    for (int64_t k0 = 0; k0 < k16; k0 += 16)
        for (int half = 0; half < 2; half++) {
            for (int i = 0; i < 16; i++)
                r[i] = _mm512_loadu_ps(w + (half * 16 + i) * ldw + k0);
            heed_block16_transpose(r);
            for (int i = 0; i < 16; i++)
                _mm512_storeu_ps(d + (k0 + i) * NR + half * 16, r[i]);
        }
}
#endif

/* Panel p of op(W): [K, NR], columns past N zero. */
static void pack_panel(float *d, const float *w, int64_t ldw, bool trans, int64_t K, int64_t N,
                       int64_t p)
{
    int64_t n0 = p * NR, k = 0;
#ifdef HEED_PACKED_AVX512
    if (trans && N - n0 >= NR && heed_packed_fast()) {
        k = K / 16 * 16;
        pack_trans_avx512(d, w + n0 * ldw, ldw, k);
    }
#endif
    if (!trans && N - n0 >= NR)
        for (; k < K; k++)
            memcpy(d + k * NR, w + k * ldw + n0, NR * sizeof *d);
    for (; k < K; k++)
        for (int64_t j = 0; j < NR; j++) {
            int64_t n = n0 + j;
            d[k * NR + j] = n >= N ? 0.0f : trans ? w[n * ldw + k] : w[k * ldw + n];
        }
}

void heed_pack(float *dst, const float *w, int64_t ldw, bool trans, int64_t K, int64_t N)
{
    int64_t panels = (N + NR - 1) / NR;
    HEED_FOR_IF(K * N > 65536, , for (int64_t p = 0; p < panels; p++),
        pack_panel(dst + p * K * NR, w, ldw, trans, K, N, p););
}

/* One source of A rows for a range of the packed rows. */
typedef struct segment {
    const float *a;
    int64_t lda, k;
} segment;

#ifdef HEED_PACKED_AVX512
/* acc[r] += A[r, :] P over one segment, for mr <= MR rows of one panel. */
__attribute__((target("avx512f"))) static inline void
tile_avx512(int64_t mr, segment s, const float *P, __m512 acc[MR][2])
{
    for (int64_t k = 0; k < s.k; k++) {
        __m512 b0 = _mm512_loadu_ps(P + k * NR), b1 = _mm512_loadu_ps(P + k * NR + 16);
        for (int64_t r = 0; r < mr; r++) {
            __m512 a = _mm512_set1_ps(s.a[r * s.lda + k]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
}

/* The full-height tile with the row loop unrolled, so the accumulators stay
 * in registers. */
__attribute__((target("avx512f"))) static inline void
tile_avx512_full(segment s, const float *P, __m512 acc[MR][2])
{
    for (int64_t k = 0; k < s.k; k++) {
        __m512 b0 = _mm512_loadu_ps(P + k * NR), b1 = _mm512_loadu_ps(P + k * NR + 16);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            __m512 a = _mm512_set1_ps(s.a[r * s.lda + k]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
}

/* One row (batch 1: decoding, a single sequence): four accumulator pairs
 * over k, so that each fused multiply-add need not wait for the one before
 * it; with one pair the row ran at the adds' latency, not their rate. */
__attribute__((target("avx512f"))) static inline void
tile_avx512_row(segment s, const float *P, __m512 acc[MR][2])
{
    __m512 x[4][2];
    for (int u = 0; u < 4; u++)
        x[u][0] = x[u][1] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 4 <= s.k; k += 4)
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            __m512 a = _mm512_set1_ps(s.a[k + u]);
            x[u][0] = _mm512_fmadd_ps(a, _mm512_loadu_ps(P + (k + u) * NR), x[u][0]);
            x[u][1] = _mm512_fmadd_ps(a, _mm512_loadu_ps(P + (k + u) * NR + 16), x[u][1]);
        }
    for (; k < s.k; k++) {
        __m512 a = _mm512_set1_ps(s.a[k]);
        x[0][0] = _mm512_fmadd_ps(a, _mm512_loadu_ps(P + k * NR), x[0][0]);
        x[0][1] = _mm512_fmadd_ps(a, _mm512_loadu_ps(P + k * NR + 16), x[0][1]);
    }
    for (int j = 0; j < 2; j++)
        acc[0][j] = _mm512_add_ps(acc[0][j], _mm512_add_ps(_mm512_add_ps(x[0][j], x[1][j]),
                                                           _mm512_add_ps(x[2][j], x[3][j])));
}

/* C[mr, n <= 32] += the tile's two segments times one panel; with `set`,
 * C = bias + the same (bias NULL: 0). */
__attribute__((target("avx512f"))) static void
block_avx512(int64_t mr, int64_t n, const segment *s, const float *P, bool set, const float *bias,
             float *C, int64_t ldc)
{
    __m512 acc[MR][2];
    for (int r = 0; r < MR; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const float *p = P;
    for (int i = 0; i < 2; i++) {
        if (mr == MR)
            tile_avx512_full(s[i], p, acc);
        else if (mr == 1)
            tile_avx512_row(s[i], p, acc);
        else
            tile_avx512(mr, s[i], p, acc);
        p += s[i].k * NR;
    }
    __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    __mmask16 m1 = n >= 32 ? 0xFFFF : n > 16 ? (__mmask16)((1u << (n - 16)) - 1) : 0;
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
    if (set && bias)
        b0 = _mm512_maskz_loadu_ps(m0, bias), b1 = _mm512_maskz_loadu_ps(m1, bias + 16);
    for (int64_t r = 0; r < mr; r++) {
        float *c = C + r * ldc;
        __m512 c0 = set ? b0 : _mm512_maskz_loadu_ps(m0, c);
        __m512 c1 = set ? b1 : _mm512_maskz_loadu_ps(m1, c + 16);
        _mm512_mask_storeu_ps(c, m0, _mm512_add_ps(c0, acc[r][0]));
        _mm512_mask_storeu_ps(c + 16, m1, _mm512_add_ps(c1, acc[r][1]));
    }
}
#endif

/* The same in portable C (machines without AVX-512). */
HEED_HOT static void block_portable(int64_t mr, int64_t n, const segment *s, const float *P,
                                    bool set, const float *bias, float *C, int64_t ldc)
{
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    const float *p = P;
    for (int i = 0; i < 2; i++) {
        for (int64_t k = 0; k < s[i].k; k++)
            for (int64_t r = 0; r < mr; r++) {
                float a = s[i].a[r * s[i].lda + k];
                for (int j = 0; j < NR; j++)
                    acc[r][j] += a * p[k * NR + j];
            }
        p += s[i].k * NR;
    }
    for (int64_t r = 0; r < mr; r++)
        for (int64_t j = 0; j < n; j++)
            C[r * ldc + j] = (set ? (bias ? bias[j] : 0.0f) : C[r * ldc + j]) + acc[r][j];
}

/* The operands of one call, for the tile loop. */
typedef struct product {
    int64_t M, N, K;
    const float *A1, *A2, *P, *bias;
    int64_t lda1, lda2, K1, K2, ldc;
    bool set, wide;
    float *C;
} product;

/* The rows [k0, k1) of the depth, as parts of the two sources of A rows
 * starting at row r0. */
static void depth_segments(const product *q, int64_t r0, int64_t k0, int64_t k1, segment s[2])
{
    int64_t e1 = k1 < q->K1 ? k1 : q->K1, b2 = k0 > q->K1 ? k0 : q->K1;
    bool in1 = e1 > k0, in2 = q->A2 && k1 > b2;
    s[0] = (segment){q->A1 + r0 * q->lda1 + (in1 ? k0 : 0), q->lda1, in1 ? e1 - k0 : 0};
    s[1] = (segment){in2 ? q->A2 + r0 * q->lda2 + (b2 - q->K1) : NULL, q->lda2,
                     in2 ? k1 - b2 : 0};
}

/* Row blocks [b0, b1) of panels [p0, p1), panel by panel and, within a
 * panel, KC rows of depth at a time: a panel's KC x 32 slice (32 KiB) stays
 * in L1 over the row blocks. Deeper slices (the LSTM's recurrent gradient
 * reads 1024 rows) were fetched again from L2 for every row block, and the
 * two threads then waited on the memory they share. */
static void run_tiles(const product *q, int64_t b0, int64_t b1, int64_t p0, int64_t p1)
{
    for (int64_t pi = p0; pi < p1; pi++)
        for (int64_t k0 = 0; k0 == 0 || k0 < q->K; k0 += KC) { /* K = 0: C = bias */
            int64_t k1 = q->K - k0 < KC ? q->K : k0 + KC;
            bool first = k0 == 0;
            for (int64_t bi = b0; bi < b1; bi++) {
                int64_t r0 = bi * MR, mr = q->M - r0 < MR ? q->M - r0 : MR;
                int64_t n = q->N - pi * NR < NR ? q->N - pi * NR : NR;
                segment s[2];
                depth_segments(q, r0, k0, k1, s);
                const float *p = q->P + (pi * q->K + k0) * NR;
                float *c = q->C + r0 * q->ldc + pi * NR;
                const float *bp = q->bias ? q->bias + pi * NR : NULL;
                bool set = q->set && first; /* later slices add to the first's */
#ifdef HEED_PACKED_AVX512
                if (q->wide) {
                    block_avx512(mr, n, s, p, set, bp, c, q->ldc);
                    continue;
                }
#endif
                block_portable(mr, n, s, p, set, bp, c, q->ldc);
            }
        }
}

void heed_gemm_packed(int64_t M, int64_t N, const float *A1, int64_t lda1, int64_t K1,
                      const float *A2, int64_t lda2, int64_t K2, const float *P, bool set,
                      const float *bias, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0)
        return;
    product q = {M, N, K1 + K2, A1, A2, P, bias, lda1, lda2, K1, K2, ldc, set,
                 heed_packed_fast(), C};
    int64_t panels = (N + NR - 1) / NR, blocks = (M + MR - 1) / MR;
    if ((double)M * N * q.K < 1 << 20 || omp_in_parallel()) {
        run_tiles(&q, 0, blocks, 0, panels);
        return;
    }
#pragma omp parallel
    {
        int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
        /* Split by rows, each thread a contiguous share as a static loop over
         * the rows gives it: the recurrences' row loops are such loops, so a
         * thread multiplies the rows of the state it computed and produces
         * the rows it consumes next, and only the packed weight is shared.
         * Fewer row blocks than threads: split by panels. */
        int64_t r0, r1;
        heed_packed_share(M, id, nt, &r0, &r1);
        if (blocks >= nt)
            run_tiles(&q, r0 / MR, (r1 + MR - 1) / MR, 0, panels);
        else
            run_tiles(&q, 0, blocks, panels * id / nt, panels * (id + 1) / nt);
    }
}
