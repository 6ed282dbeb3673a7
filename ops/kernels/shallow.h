/*
 * shallow.h - products of few terms with a bias, C = bias + A op(B) with K
 * at most 64, on AVX2 for machines without AVX-512 (where heed_gemm512_bias
 * takes them). The recurrent layers' input projections are such products:
 * [B*T, E] by [E, G*H] with E = 16 in the shipped seq2seq graphs. OpenBLAS
 * handles them as it does deep ones, packing both operands, after bias rows
 * written first and read back; there they ran at 40-115 GFLOP/s on 2 cores
 * that do about 200, and here at 107-156 (1.34-2.90x as fast over three
 * runs of bench/gemm.c's last table). op(B) is packed once per call (K x N
 * floats, 64 KiB for the LSTMs' [16, 1024]) and each 6 x 16 tile of C
 * starts its sums from the bias and is written once.
 *
 * Shape key: A [M,K] x op(B) [K,N] -> C [M,N].
 */
#ifndef HEED_SHALLOW_H
#define HEED_SHALLOW_H

#include <stdbool.h>
#include <stdint.h>

/* Whether heed_gemm_bias should send a product here: A untransposed, K at
 * most 64, enough work to share between threads, on a machine with AVX2
 * and FMA but no AVX-512. */
bool heed_gemm_shallow_wanted(bool ta, int64_t M, int64_t N, int64_t K);

/* C[M,N] = bias + A op(B) (bias [N] on every row, or nothing when NULL),
 * A [M,K] (lda), B [N,K] (ldb) when tb else [K,N]; K <= 64. C is not read
 * and its columns past N are left alone. Runs on the OpenMP threads unless
 * already inside a parallel region; each element's sum runs in the same
 * order whatever the thread count. Returns 0, or -1 without touching C when
 * the machine lacks AVX2 or FMA, K is out of range, or the packed copy of
 * op(B) cannot be allocated (the caller then uses BLAS). */
int heed_gemm_shallow_bias(bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                           const float *B, int64_t ldb, const float *bias, float *C, int64_t ldc);

#endif
