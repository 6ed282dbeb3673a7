/* attend.c - see attend.h. */
#include "attend.h"

#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HEED_ATTEND_AVX2 1
#endif

HEED_HOT static float additive_one(const float *restrict q, const float *restrict k,
                                   const float *restrict v, int64_t U)
{
    /* a reduction the compiler may reorder: without it the tanh loop stays
     * scalar (strict float order), and it is most of the decoder's step */
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int64_t u = 0; u < U; u++)
        acc += v[u] * heed_tanh(q[u] + k[u]);
    return acc;
}

HEED_HOT static void additive_one_backward(const float *restrict q, const float *restrict k,
                                           const float *restrict v, int64_t U, float ds,
                                           float *restrict dq, float *restrict dk,
                                           float *restrict dv)
{
    for (int64_t u = 0; u < U; u++) {
        float e = heed_tanh(q[u] + k[u]);
        float g = ds * v[u] * (1.0f - e * e);
        dq[u] += g;
        dk[u] += g;
        dv[u] += ds * e;
    }
}

#ifdef HEED_ATTEND_AVX2
#define HEED_AVX2 __attribute__((target("avx2,fma")))

/* Whether the AVX2 forms below run: on machines with AVX2 and FMA but no
 * AVX-512, where they were measured. The compiled loops clamp tanh's input
 * and output with compares and blends (C's `x < -9 ? -9 : x` keeps a NaN,
 * and GCC does not turn it into the min instruction, which keeps it too):
 * about 40 instructions per 8 elements, against 17 and a division here. */
static bool avx2_wanted(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           !__builtin_cpu_supports("avx512f");
}

/* heed_tanh on 8 lanes, the same bits as its FMA build: min(9, x) and the
 * like return x when x is NaN, so NaN stays NaN. */
HEED_AVX2 static inline __m256 tanh8(__m256 x)
{
    x = _mm256_max_ps(_mm256_set1_ps(-9.0f), x);
    x = _mm256_min_ps(_mm256_set1_ps(9.0f), x);
    __m256 t = _mm256_mul_ps(x, x);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(HEED_TANH_P4), t, _mm256_set1_ps(HEED_TANH_P3));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(HEED_TANH_P2));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(HEED_TANH_P1));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.0f));
    __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(HEED_TANH_Q4), t, _mm256_set1_ps(HEED_TANH_Q3));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(HEED_TANH_Q2));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(HEED_TANH_Q1));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.0f));
    __m256 y = _mm256_div_ps(_mm256_mul_ps(x, p), q);
    y = _mm256_min_ps(_mm256_set1_ps(1.0f), y);
    return _mm256_max_ps(_mm256_set1_ps(-1.0f), y);
}

HEED_AVX2 static inline float sum8(__m256 a)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* v . tanh(q + k) over U units: 16 at a time in two sums, the rest by the
 * portable loop. */
HEED_AVX2 static float additive_one_avx2(const float *q, const float *k, const float *v,
                                         int64_t U)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t u = 0;
    for (; u + 16 <= U; u += 16) {
        __m256 e0 = tanh8(_mm256_add_ps(_mm256_loadu_ps(q + u), _mm256_loadu_ps(k + u)));
        __m256 e1 = tanh8(_mm256_add_ps(_mm256_loadu_ps(q + u + 8), _mm256_loadu_ps(k + u + 8)));
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(v + u), e0, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(v + u + 8), e1, a1);
    }
    float acc = sum8(_mm256_add_ps(a0, a1));
    return u < U ? acc + additive_one(q + u, k + u, v + u, U - u) : acc;
}

/* One query's backward over all Tk keys, 16 units at a time: the query's
 * and v's gradients of those units are summed over the keys in registers
 * and added once, so each key costs one read of k and one update of dk. */
HEED_AVX2 static void additive_row_backward_avx2(const float *q, const float *kp, int64_t Tk,
                                                 const float *v, int64_t U, const float *ds,
                                                 float *dq, float *dkp, float *dv)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t U16 = U & ~(int64_t)15;
    for (int64_t u = 0; u < U16; u += 16) {
        __m256 q0 = _mm256_loadu_ps(q + u), q1 = _mm256_loadu_ps(q + u + 8);
        __m256 v0 = _mm256_loadu_ps(v + u), v1 = _mm256_loadu_ps(v + u + 8);
        __m256 dq0 = _mm256_setzero_ps(), dq1 = dq0, dv0 = dq0, dv1 = dq0;
        for (int64_t j = 0; j < Tk; j++) {
            if (ds[j] == 0.0f) /* masked, or no gradient: nothing to add */
                continue;
            __m256 g = _mm256_set1_ps(ds[j]);
            const float *k = kp + j * U + u;
            float *dk = dkp + j * U + u;
            __m256 e0 = tanh8(_mm256_add_ps(q0, _mm256_loadu_ps(k)));
            __m256 e1 = tanh8(_mm256_add_ps(q1, _mm256_loadu_ps(k + 8)));
            __m256 g0 = _mm256_mul_ps(_mm256_mul_ps(g, v0), _mm256_fnmadd_ps(e0, e0, one));
            __m256 g1 = _mm256_mul_ps(_mm256_mul_ps(g, v1), _mm256_fnmadd_ps(e1, e1, one));
            dq0 = _mm256_add_ps(dq0, g0);
            dq1 = _mm256_add_ps(dq1, g1);
            _mm256_storeu_ps(dk, _mm256_add_ps(_mm256_loadu_ps(dk), g0));
            _mm256_storeu_ps(dk + 8, _mm256_add_ps(_mm256_loadu_ps(dk + 8), g1));
            dv0 = _mm256_fmadd_ps(g, e0, dv0);
            dv1 = _mm256_fmadd_ps(g, e1, dv1);
        }
        _mm256_storeu_ps(dq + u, _mm256_add_ps(_mm256_loadu_ps(dq + u), dq0));
        _mm256_storeu_ps(dq + u + 8, _mm256_add_ps(_mm256_loadu_ps(dq + u + 8), dq1));
        _mm256_storeu_ps(dv + u, _mm256_add_ps(_mm256_loadu_ps(dv + u), dv0));
        _mm256_storeu_ps(dv + u + 8, _mm256_add_ps(_mm256_loadu_ps(dv + u + 8), dv1));
    }
    for (int64_t j = 0; U16 < U && j < Tk; j++)
        if (ds[j] != 0.0f)
            additive_one_backward(q + U16, kp + j * U + U16, v + U16, U - U16, ds[j], dq + U16,
                                  dkp + j * U + U16, dv + U16);
}
#endif


void heed_additive_scores(const float *qp, int64_t Tq, const float *kp, int64_t Tk,
                          const float *v, int64_t U, float *s)
{
#ifdef HEED_ATTEND_AVX2
    if (avx2_wanted()) {
        for (int64_t i = 0; i < Tq; i++)
            for (int64_t j = 0; j < Tk; j++)
                s[i * Tk + j] = additive_one_avx2(qp + i * U, kp + j * U, v, U);
        return;
    }
#endif
    for (int64_t i = 0; i < Tq; i++)
        for (int64_t j = 0; j < Tk; j++)
            s[i * Tk + j] = additive_one(qp + i * U, kp + j * U, v, U);
}

void heed_additive_scores_backward(const float *qp, int64_t Tq, const float *kp, int64_t Tk,
                                   const float *v, int64_t U, const float *ds, float *dqp,
                                   float *dkp, float *dv)
{
#ifdef HEED_ATTEND_AVX2
    if (avx2_wanted()) {
        for (int64_t i = 0; i < Tq; i++)
            additive_row_backward_avx2(qp + i * U, kp, Tk, v, U, ds + i * Tk, dqp + i * U, dkp,
                                       dv);
        return;
    }
#endif
    for (int64_t i = 0; i < Tq; i++)
        for (int64_t j = 0; j < Tk; j++) {
            float g = ds[i * Tk + j];
            if (g != 0.0f) /* masked, or no gradient: nothing to add */
                additive_one_backward(qp + i * U, kp + j * U, v, U, g, dqp + i * U, dkp + j * U,
                                      dv);
        }
}
