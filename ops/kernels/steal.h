/*
 * steal.h - a loop's chunks split between the threads of a parallel region
 * as a static schedule splits them, with stealing at the end.
 *
 * Each thread owns a contiguous run of the chunks and takes them from its
 * front, so a thread reads the rows it wrote in the node before (OpenMP's
 * dynamic schedule, which deals chunks out in turn, made the encoder's
 * forward pass 6% slower on an idle machine). A thread that has finished
 * its own takes the last chunk left of another run. On a shared machine one
 * core can run at half the other's speed for seconds; with a static split
 * the faster one then waits (about 40% of its time in one perf record of
 * the encoder's forward pass).
 */
#ifndef HEED_STEAL_H
#define HEED_STEAL_H

#include <stdatomic.h>
#include <stdint.h>

enum { HEED_STEAL_RUNS = 64 };

typedef struct heed_steal {
    /* run r's chunks not yet taken: [low 32 bits, high 32 bits) */
    _Atomic uint64_t left[HEED_STEAL_RUNS];
    int runs;
} heed_steal;

/* Splits chunks [0, n) (n < 2^32) into one run per thread, as
 * schedule(static) splits them; beyond HEED_STEAL_RUNS threads, threads
 * share runs. Called before the threads take from it. */
void heed_steal_init(heed_steal *s, int64_t n, int threads);

/* The next chunk for thread `id`: the next of its own run, else the last
 * one left of another; -1 when none is left. Any number of threads may
 * take, including fewer than the runs (the rest is stolen). */
int64_t heed_steal_next(heed_steal *s, int id);

#endif
