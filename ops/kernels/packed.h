/*
 * packed.h - products with a weight packed once and used at every step of a
 * recurrence. A per-step product ([B,H] by [H,GH]) is too small for BLAS to
 * amortise its own packing: OpenBLAS copies the weight into its panel layout
 * at every call, and those copies were 18% of the Bahdanau training step.
 * Here the weight is packed once per pass and each step runs only the
 * multiply.
 *
 * Layout: op(W) [K,N] as ceil(N/32) column panels, each [K][32] row-major,
 * the last zero-padded. Shape key: A [M,K] x op(W) [K,N] -> C [M,N].
 */
#ifndef HEED_PACKED_H
#define HEED_PACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The panel width. */
enum { HEED_PACKED_NR = 32 };

/* Whether this machine runs the packed product faster than BLAS: it has an
 * AVX-512 kernel; elsewhere it falls back to portable C, correct but slower
 * than OpenBLAS's tuned kernels, so callers keep BLAS there. */
bool heed_packed_fast(void);

/* Floats a packed op(W) [K,N] takes. */
size_t heed_packed_floats(int64_t K, int64_t N);

/* The rows [*r0, *r1) of M that thread `id` of `nt` takes when the rows are
 * shared out: contiguous, in whole row tiles but for the last, the same
 * shares heed_gemm_packed gives its threads. A caller running a recurrence's
 * steps on its own threads multiplies each thread's rows with these. */
void heed_packed_share(int64_t M, int64_t id, int64_t nt, int64_t *r0, int64_t *r1);

/* Packs op(W) [K,N]: W is [N,K] (ldw) when trans, else [K,N]. */
void heed_pack(float *dst, const float *w, int64_t ldw, bool trans, int64_t K, int64_t N);

/* C[M,N] += [A1 | A2] P: A1 [M,K1] (lda1) meets the packed rows 0..K1-1, A2
 * [M,K2] (lda2) the rows K1..K1+K2-1 (A2 may be NULL with K2 = 0); P was
 * packed with K = K1 + K2. With `set`, C = bias + [A1 | A2] P instead (bias
 * [N] added to every row, or nothing when NULL; C is not read). Each
 * element's sum runs in the same order whatever the thread count. Splits the
 * work over the threads when it is large and not already inside a parallel
 * region. */
void heed_gemm_packed(int64_t M, int64_t N, const float *A1, int64_t lda1, int64_t K1,
                      const float *A2, int64_t lda2, int64_t K2, const float *P, bool set,
                      const float *bias, float *C, int64_t ldc);

#endif
