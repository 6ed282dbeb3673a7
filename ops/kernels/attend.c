/* attend.c - see attend.h. */
#include "attend.h"

#include "kernels.h"

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

void heed_additive_scores(const float *qp, int64_t Tq, const float *kp, int64_t Tk,
                          const float *v, int64_t U, float *s)
{
    for (int64_t i = 0; i < Tq; i++)
        for (int64_t j = 0; j < Tk; j++)
            s[i * Tk + j] = additive_one(qp + i * U, kp + j * U, v, U);
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

void heed_additive_scores_backward(const float *qp, int64_t Tq, const float *kp, int64_t Tk,
                                   const float *v, int64_t U, const float *ds, float *dqp,
                                   float *dkp, float *dv)
{
    for (int64_t i = 0; i < Tq; i++)
        for (int64_t j = 0; j < Tk; j++) {
            float g = ds[i * Tk + j];
            if (g != 0.0f) /* masked, or no gradient: nothing to add */
                additive_one_backward(qp + i * U, kp + j * U, v, U, g, dqp + i * U, dkp + j * U,
                                      dv);
        }
}
