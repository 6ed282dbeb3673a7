/*
 * gemm512.h - a matrix product on AVX-512 for machines whose OpenBLAS runs
 * narrower kernels. Debian's OpenBLAS 0.3.21 does not know the newer AMD
 * EPYC cores: it runs its AVX2 (Haswell) kernels there although the cores
 * execute 512-bit fused multiply-adds at full width, and so reaches about
 * half of what the machine can do. heed_gemm sends its large products here
 * on such machines and to OpenBLAS everywhere else.
 *
 * Blocked as the classic packed product: op(B) in 256-deep blocks packed
 * into 32-column micro-panels, each thread's rows of op(A) packed into
 * 6-row micro-panels, a 6 x 64 register tile walking along C's rows 256
 * columns at a time. Shape key: op(A) [M,K] x op(B) [K,N] -> C [M,N].
 */
#ifndef HEED_GEMM512_H
#define HEED_GEMM512_H

#include <stdbool.h>
#include <stdint.h>

/* Whether this machine has AVX-512 and its OpenBLAS does not use it. */
bool heed_gemm512_machine(void);

/* Whether heed_gemm should send a product of this size here: large enough
 * to amortise the packing, on a machine heed_gemm512_machine accepts. */
bool heed_gemm512_wanted(int64_t M, int64_t N, int64_t K);

/* C[M,N] = alpha op(A) op(B) + beta C, row-major, as heed_gemm; beta = 0
 * does not read C. Runs on the OpenMP threads unless already inside a
 * parallel region. Returns 0, or -1 without touching C when the machine
 * lacks AVX-512 or the packing buffers cannot be allocated (the caller
 * then uses BLAS). */
int heed_gemm512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* Whether heed_gemm_bias should send a product with a bias here: those
 * heed_gemm512_wanted takes, and on machines whose OpenBLAS has AVX-512,
 * large products of one K block (C written once, with no bias rows first). */
bool heed_gemm512_bias_wanted(int64_t M, int64_t N, int64_t K);

/* C[M,N] = op(A) op(B) + bias (the row bias[N] added to every row); C is
 * not read. Returns 0, or -1 as heed_gemm512. */
int heed_gemm512_bias(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                      int64_t lda, const float *B, int64_t ldb, const float *bias, float *C,
                      int64_t ldc);

#endif
