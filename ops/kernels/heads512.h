/*
 * heads512.h - one attention head's scores, softmax and mixing on AVX-512.
 *
 * MultiHeadAttention runs B x H small products (the encoder's: 64 x 64 x
 * 64, two per head). OpenBLAS packs both operands at every such call and
 * the softmax rows went through a call each; here the keys are transposed
 * once per head into a buffer on the stack, the scores come from 6-row
 * register tiles, each row's softmax runs on its 16-wide vectors, and the
 * values are mixed in by the same tiles. Shape key: Q [L,dh], K [S,dh],
 * V [S,dh] -> P [L,S], O [L,dh].
 */
#ifndef HEED_HEADS512_H
#define HEED_HEADS512_H

#include <stdbool.h>
#include <stdint.h>

/* Whether the two functions below take a head of S keys and dh dims here:
 * the machine has AVX-512, dh is 16, 32, 48 or 64 and S at most 256 (the
 * stack buffers' size). */
bool heed_heads512_wanted(int64_t S, int64_t dh);

/* P[L,S] = softmax over each row of scale Q K^T, row i over its first
 * vis(i) keys and 0 after them, where vis(i) = n, or min(i + 1, n) when
 * causal (n <= S). Q rows lie ldq floats apart, K rows ldk. */
void heed_heads512_probs(int64_t L, int64_t S, int64_t dh, float scale, const float *Q,
                         int64_t ldq, const float *K, int64_t ldk, int64_t n, bool causal,
                         float *P);

/* O[L,dh] = P[L,S] V[S,dh] (rows ldv and ldo floats apart), where only the
 * first n columns of P may be nonzero. */
void heed_heads512_mix(int64_t L, int64_t S, int64_t dh, const float *P, int64_t n,
                       const float *V, int64_t ldv, float *O, int64_t ldo);

#endif
