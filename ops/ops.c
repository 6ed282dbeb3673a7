/* ops.c - the op table built from ops.def, and shape helpers shared by ops. */
#include "op.h"

#include <stdio.h>
#include <string.h>

const heed_op *const heed_ops[HEED_OP_COUNT] = {
#define HEED_OP(id, sym) &sym,
#include "ops.def"
#undef HEED_OP
};

const char *const heed_op_names[HEED_OP_COUNT + 1] = {
#define HEED_OP(id, sym) #id,
#include "ops.def"
#undef HEED_OP
    NULL};

/* The table and the enum come from the same list; this catches a hand edit. */
_Static_assert(sizeof heed_ops / sizeof heed_ops[0] == HEED_OP_COUNT,
               "op table and op enum disagree");

const heed_op *heed_op_find(const char *name)
{
    for (int i = 0; i < HEED_OP_COUNT; i++)
        if (strcmp(heed_ops[i]->name, name) == 0)
            return heed_ops[i];
    return NULL;
}

const heed_attr *heed_op_attr(const heed_op *op, const char *name)
{
    for (const heed_attr *a = op->attrs; a && a->name; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

static int flatten(const heed_attr *attrs, const char *prefix, int parent,
                   heed_flat_attr *out, int n, int max)
{
    size_t lp = strlen(prefix);
    for (const heed_attr *a = attrs; a && a->name; a++) {
        size_t ln = strlen(a->name);
        if (n >= max || lp + ln + 2 > sizeof out[n].name)
            return n;
        heed_flat_attr *f = &out[n];
        memcpy(f->name, prefix, lp);
        memcpy(f->name + lp, a->name, ln + 1);
        f->a = a;
        f->parent = parent;
        int self = n++;
        if (a->kind == HEED_A_MAP) {
            char sub[sizeof f->name];
            memcpy(sub, f->name, lp + ln);
            sub[lp + ln] = '.';
            sub[lp + ln + 1] = '\0';
            n = flatten(a->fields, sub, self, out, n, max);
        }
    }
    return n;
}

int heed_flatten_attrs(const heed_attr *attrs, heed_flat_attr *out, int max)
{
    return flatten(attrs, "", -1, out, 0, max);
}

bool heed_shape_eq(const heed_shape *a, const heed_shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (!heed_dim_eq(a->d[i], b->d[i]))
            return false;
    return true;
}

/* No single tensor may exceed 2^40 elements: far above what fits in memory,
 * far below where size arithmetic overflows. */
#define HEED_MAX_NUMEL ((size_t)1 << 40)

bool heed_shape_numel(const heed_shape *s, size_t *out)
{
    size_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        if (s->d[i].v < 0 || !heed_mul_ok(n, (size_t)s->d[i].v, &n) || n > HEED_MAX_NUMEL)
            return false;
    }
    *out = n;
    return true;
}

heed_shape heed_shape_make(int rank, const heed_dimv *d)
{
    heed_shape s = {rank, {{0, -1}}};
    for (int i = 0; i < rank; i++)
        s.d[i] = d[i];
    return s;
}

heed_shape heed_shape2(heed_dimv a, heed_dimv b)
{
    heed_dimv d[2] = {a, b};
    return heed_shape_make(2, d);
}

heed_shape heed_shape3(heed_dimv a, heed_dimv b, heed_dimv c)
{
    heed_dimv d[3] = {a, b, c};
    return heed_shape_make(3, d);
}

heed_shape heed_shape4(heed_dimv a, heed_dimv b, heed_dimv c, heed_dimv d)
{
    heed_dimv v[4] = {a, b, c, d};
    return heed_shape_make(4, v);
}

int64_t heed_shape_rows(const heed_shape *s)
{
    int64_t r = 1;
    for (int i = 0; i + 1 < s->rank; i++)
        r *= s->d[i].v;
    return r;
}

heed_status heed_exec_fail(heed_exec *x, heed_status status, const char *fmt, ...)
{
    if (x->error && x->error_cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->error, x->error_cap, fmt, ap);
        va_end(ap);
    }
    return status;
}
