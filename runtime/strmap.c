/* strmap.c - see strmap.h. */
#include "strmap.h"

#include <string.h>

static size_t hash_str(const char *s)
{
    return (size_t)heed_hash_bytes(HEED_HASH_INIT, s, strlen(s));
}

static bool rehash(const heed_env *env, heed_strmap *m, size_t cap)
{
    const char **keys = heed_zalloc(env, cap, sizeof *keys);
    int *vals = heed_zalloc(env, cap, sizeof *vals);
    if (!keys || !vals) {
        heed_dealloc(env, keys);
        heed_dealloc(env, vals);
        return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = hash_str(m->keys[i]) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    heed_dealloc(env, m->keys);
    heed_dealloc(env, m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return true;
}

bool heed_strmap_put(const heed_env *env, heed_strmap *m, const char *key, int val)
{
    if ((m->count + 1) * 2 > m->cap && !rehash(env, m, m->cap ? m->cap * 2 : 16))
        return false;
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->keys[j] && strcmp(m->keys[j], key) != 0)
        j = (j + 1) & (m->cap - 1);
    if (!m->keys[j])
        m->count++;
    m->keys[j] = key;
    m->vals[j] = val;
    return true;
}

int heed_strmap_get(const heed_strmap *m, const char *key)
{
    if (!m->cap)
        return -1;
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0)
            return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void heed_strmap_free(const heed_env *env, heed_strmap *m)
{
    heed_dealloc(env, m->keys);
    heed_dealloc(env, m->vals);
    memset(m, 0, sizeof *m);
}
