/*
 * attend.h - the parts of attention that the Attention op and the attention
 * inside recurrent decoders share: additive (Bahdanau) scores and their
 * backward, one batch row at a time.
 *
 * On machines with AVX2 and FMA but no AVX-512 both run as AVX2 intrinsics
 * (attend.c says why), elsewhere as loops the compiler vectorises.
 *
 * Shape key: Tq queries, Tk keys, U units.
 */
#ifndef HEED_ATTEND_H
#define HEED_ATTEND_H

#include <stdint.h>

/* s[i*Tk + j] = v . tanh(qp_i + kp_j) for i < Tq, j < Tk. qp [Tq,U], kp [Tk,U]. */
void heed_additive_scores(const float *qp, int64_t Tq, const float *kp, int64_t Tk,
                          const float *v, int64_t U, float *s);

/* Backward of heed_additive_scores given ds [Tq,Tk]: accumulates into dqp
 * [Tq,U], dkp [Tk,U] and dv [U] (all required). tanh is recomputed, so
 * nothing of size Tq*Tk*U is ever stored. */
void heed_additive_scores_backward(const float *qp, int64_t Tq, const float *kp, int64_t Tk,
                                   const float *v, int64_t U, const float *ds, float *dqp,
                                   float *dkp, float *dv);

#endif
