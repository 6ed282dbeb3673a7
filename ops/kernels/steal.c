/* steal.c - see steal.h. */
#include "steal.h"

void heed_steal_init(heed_steal *s, int64_t n, int threads)
{
    int runs = threads < 1 ? 1 : threads > HEED_STEAL_RUNS ? HEED_STEAL_RUNS : threads;
    s->runs = runs;
    for (int r = 0; r < runs; r++) {
        uint64_t lo = (uint64_t)(n * r / runs), hi = (uint64_t)(n * (r + 1) / runs);
        atomic_init(&s->left[r], lo | hi << 32);
    }
}

/* Takes one chunk of run r, from its front or its back; -1 when empty.
 * Relaxed order: a chunk's data is published by the region's barrier. */
static int64_t take(heed_steal *s, int r, int front)
{
    uint64_t v = atomic_load_explicit(&s->left[r], memory_order_relaxed);
    for (;;) {
        uint64_t lo = v & UINT32_MAX, hi = v >> 32;
        if (lo >= hi)
            return -1;
        uint64_t next = front ? (lo + 1) | hi << 32 : lo | (hi - 1) << 32;
        if (atomic_compare_exchange_weak_explicit(&s->left[r], &v, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return (int64_t)(front ? lo : hi - 1);
    }
}

int64_t heed_steal_next(heed_steal *s, int id)
{
    int own = id % s->runs;
    int64_t c = take(s, own, 1);
    for (int k = 1; c < 0 && k < s->runs; k++)
        c = take(s, (own + k) % s->runs, 0);
    return c;
}
