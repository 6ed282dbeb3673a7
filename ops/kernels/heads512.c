/* heads512.c - see heads512.h. */
#include "heads512.h"

#include <string.h>

#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include "avx512.h"
#define HEED_HEADS512 1
#endif

/* MR query rows per register tile, by up to four 16-wide vectors: 24
 * accumulators, four operands and a broadcast in the 32 registers, as in
 * gemm512.c. MAX_S and MAX_DH bound the stack buffers (64 KiB each). */
enum { MR = 6, MAX_DH = 64, MAX_S = 256 };

bool heed_heads512_wanted(int64_t S, int64_t dh)
{
#ifdef HEED_HEADS512
    return dh >= 16 && dh <= MAX_DH && dh % 16 == 0 && S >= 1 && S <= MAX_S &&
           __builtin_cpu_supports("avx512f");
#else
    (void)S;
    (void)dh;
    return false;
#endif
}

#ifdef HEED_HEADS512
#define T512 __attribute__((target("avx512f")))
#define INLINE512 __attribute__((target("avx512f"), always_inline)) static inline

/* The lanes below w (w may exceed 16 or be negative). */
static __mmask16 lanes(int64_t w)
{
    return w >= 16 ? (__mmask16)0xFFFF : w > 0 ? (__mmask16)((1u << w) - 1) : 0;
}

/* dst[c * ldd + r] = src[r * lds + c] for a 16 x 16 block, rows r >= rows
 * read as 0. */
T512 static void transpose16(const float *src, int64_t lds, int64_t rows, float *dst,
                             int64_t ldd)
{
    __m512 r[16];
    for (int i = 0; i < 16; i++)
        r[i] = i < rows ? _mm512_loadu_ps(src + i * lds) : _mm512_setzero_ps();
    heed_block16_transpose(r);
    for (int i = 0; i < 16; i++)
        _mm512_storeu_ps(dst + i * ldd, r[i]);
}

/* e^x for x <= 0 on 16 lanes: heed_exp_neg's steps and constants
 * (kernels.h), NaN kept. */
INLINE512 __m512 exp_neg16(__m512 x)
{
    x = _mm512_max_ps(_mm512_set1_ps(-87.0f), x);
    __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(HEED_EXP_LOG2E), _mm512_set1_ps(HEED_EXP_ROUND));
    __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(HEED_EXP_ROUND));
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(HEED_EXP_LN2_HI), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(HEED_EXP_LN2_LO), r);
    __m512 p = _mm512_set1_ps(HEED_EXP_P5);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(HEED_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(HEED_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(HEED_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(HEED_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(HEED_EXP_P0));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i bits = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B400000 - 127));
    return _mm512_mul_ps(p, _mm512_castsi512_ps(_mm512_slli_epi32(bits, 23)));
}

/* heed_softmax_row on 16 lanes: x[0, vis) normalised, x[vis, S) zero. */
T512 static void softmax_row(float *x, int64_t S, int64_t vis)
{
    if (vis <= 0) {
        memset(x, 0, (size_t)S * sizeof *x);
        return;
    }
    __m512 mx = _mm512_set1_ps(-__builtin_inff());
    for (int64_t j = 0; j < vis; j += 16) {
        __mmask16 m = lanes(vis - j);
        mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, x + j));
    }
    __m512 top = _mm512_set1_ps(_mm512_reduce_max_ps(mx)), sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < vis; j += 16) {
        __mmask16 m = lanes(vis - j);
        __m512 e = exp_neg16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), top));
        _mm512_mask_storeu_ps(x + j, m, e);
        sum = _mm512_mask_add_ps(sum, m, sum, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (int64_t j = 0; j < S; j += 16) {
        __mmask16 m = lanes(vis - j), all = lanes(S - j);
        /* lanes past vis are written as zero (maskz), past S not at all */
        _mm512_mask_storeu_ps(x + j, all, _mm512_maskz_mul_ps(m, _mm512_maskz_loadu_ps(m, x + j), inv));
    }
}

/* c[r][0, 16 nv) (the last vector's lanes in `last`) = scale times the sum
 * over j < k of a[r][j] times row j of b (ldb apart), for the MR rows; rows
 * whose c[r] is NULL not written. The scores are q[r] . the columns of the
 * transposed keys, the mixing p[r] . the rows of the values (scale 1). */
INLINE512 void tile(int nv, int64_t k, const float *const a[MR], const float *b, int64_t ldb,
                    float scale, float *const c[MR], __mmask16 last)
{
    __m512 acc[MR][4];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (int64_t j = 0; j < k; j++) {
        __m512 bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            bv[v] = _mm512_loadu_ps(b + j * ldb + 16 * v);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m512 av = _mm512_set1_ps(a[r][j]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    __m512 s = _mm512_set1_ps(scale);
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
        if (c[r])
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                _mm512_mask_storeu_ps(c[r] + 16 * v, v == nv - 1 ? last : (__mmask16)0xFFFF,
                                      _mm512_mul_ps(acc[r][v], s));
}

/* The tile's vector count as a constant, so its accumulators stay in
 * registers. */
T512 static void tile_n(int nv, int64_t k, const float *const a[MR], const float *b, int64_t ldb,
                        float scale, float *const c[MR], __mmask16 last)
{
    switch (nv) {
    case 1: tile(1, k, a, b, ldb, scale, c, last); break;
    case 2: tile(2, k, a, b, ldb, scale, c, last); break;
    case 3: tile(3, k, a, b, ldb, scale, c, last); break;
    default: tile(4, k, a, b, ldb, scale, c, last); break;
    }
}

T512 static void probs512(int64_t L, int64_t S, int64_t dh, float scale, const float *Q,
                          int64_t ldq, const float *K, int64_t ldk, int64_t n, bool causal,
                          float *P)
{
    int64_t sp = (S + 15) & ~(int64_t)15;
    _Alignas(64) float kt[MAX_DH * MAX_S];
    _Alignas(64) static const float zero[MAX_DH];
    for (int64_t j = 0; j < S; j += 16)
        for (int64_t d = 0; d < dh; d += 16)
            transpose16(K + j * ldk + d, ldk, S - j, kt + d * sp + j, sp);
    for (int64_t i = 0; i < L; i += MR) {
        const float *q[MR];
        float *p[MR];
        for (int r = 0; r < MR; r++) {
            bool in = i + r < L;
            q[r] = in ? Q + (i + r) * ldq : zero;
            p[r] = in ? P + (i + r) * S : NULL;
        }
        for (int64_t c = 0; c < S; c += 64) {
            int nv = (int)((S - c < 64 ? S - c : 64) + 15) / 16;
            float *pc[MR];
            for (int r = 0; r < MR; r++)
                pc[r] = p[r] ? p[r] + c : NULL;
            tile_n(nv, dh, q, kt + c, sp, scale, pc, lanes(S - c - 16 * (nv - 1)));
        }
        for (int64_t r = i; r < L && r < i + MR; r++)
            softmax_row(P + r * S, S, causal && r + 1 < n ? r + 1 : n);
    }
}

T512 static void mix512(int64_t L, int64_t S, int64_t dh, const float *P, int64_t n,
                        const float *V, int64_t ldv, float *O, int64_t ldo)
{
    /* the values copied together: rows 3 KiB apart (the encoder's fused
     * Q|K|V buffer) fall on a quarter of L1's sets */
    _Alignas(64) float vc[MAX_S * MAX_DH];
    _Alignas(64) static const float zero[MAX_S];
    for (int64_t j = 0; j < n; j++)
        memcpy(vc + j * dh, V + j * ldv, (size_t)dh * sizeof *vc);
    for (int64_t i = 0; i < L; i += MR) {
        const float *p[MR];
        float *o[MR];
        for (int r = 0; r < MR; r++) {
            bool in = i + r < L;
            p[r] = in ? P + (i + r) * S : zero;
            o[r] = in ? O + (i + r) * ldo : NULL;
        }
        tile_n((int)(dh / 16), n, p, vc, dh, 1.0f, o, (__mmask16)0xFFFF);
    }
}
#endif

void heed_heads512_probs(int64_t L, int64_t S, int64_t dh, float scale, const float *Q,
                         int64_t ldq, const float *K, int64_t ldk, int64_t n, bool causal,
                         float *P)
{
#ifdef HEED_HEADS512
    probs512(L, S, dh, scale, Q, ldq, K, ldk, n, causal, P);
#else
    (void)L, (void)S, (void)dh, (void)scale, (void)Q, (void)ldq, (void)K, (void)ldk, (void)n;
    (void)causal, (void)P;
#endif
}

void heed_heads512_mix(int64_t L, int64_t S, int64_t dh, const float *P, int64_t n,
                       const float *V, int64_t ldv, float *O, int64_t ldo)
{
#ifdef HEED_HEADS512
    mix512(L, S, dh, P, n, V, ldv, O, ldo);
#else
    (void)L, (void)S, (void)dh, (void)P, (void)n, (void)V, (void)ldv, (void)O, (void)ldo;
#endif
}
