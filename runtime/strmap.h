/*
 * strmap.h - string to int map (open addressing). Keys are borrowed: they must
 * outlive the map. Used for value names in the compiler and vocabularies.
 */
#ifndef HEED_STRMAP_H
#define HEED_STRMAP_H

#include "base.h"

typedef struct heed_strmap {
    const char **keys;
    int *vals;
    size_t cap; /* power of two, or 0 */
    size_t count;
} heed_strmap;

/* Inserts or replaces. Returns false on allocation failure. */
bool heed_strmap_put(const heed_env *env, heed_strmap *m, const char *key, int val);
/* The value of `key`, or -1 when absent. */
int heed_strmap_get(const heed_strmap *m, const char *key);
void heed_strmap_free(const heed_env *env, heed_strmap *m);

#endif /* HEED_STRMAP_H */
