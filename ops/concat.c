/*
 * Concat: joins tensors along one axis (the last by default).
 *
 * Shape key: O = product of dims before the axis (outer), W_k = input k's
 * extent along the axis times the product of the dims after it (its slice
 * width), W = sum of W_k.
 */
#include <string.h>

#include "kernels/kernels.h"
#include "op.h"

typedef struct concat_cfg {
    int n_in;
    int64_t outer;
    int64_t width[HEED_MAX_INPUTS]; /* W_k */
    int64_t total;                  /* W */
} concat_cfg;

static const heed_attr attrs[] = {
    {.name = "in", .kind = HEED_A_INPUTS, .def = NULL, .doc = "tensors of equal rank"},
    {.name = "axis", .kind = HEED_A_INT, .def = "-1", .lo = -4, .hi = 3,
     .doc = "axis to join along (negative counts from the end)"},
    {0}};

static const char *const outputs[] = {"out", NULL};

static heed_status concat_infer(heed_infer *c)
{
    concat_cfg *cfg = heed_infer_cfg(c);
    int n = heed_port_count(c, "in");
    const heed_shape *s0 = heed_in_shape(c, 0);
    int axis = (int)heed_attr_int(c, "axis");
    if (axis < 0)
        axis += s0->rank;
    if (axis < 0 || axis >= s0->rank)
        return heed_infer_fail(c, "axis %lld is outside rank %d", (long long)heed_attr_int(c, "axis"),
                               s0->rank);
    heed_shape out = *s0;
    int64_t along = 0;
    char a[160], b[160];
    for (int k = 0; k < n; k++) {
        const heed_shape *s = heed_in_shape(c, k);
        bool ok = s->rank == s0->rank;
        for (int d = 0; ok && d < s->rank; d++)
            ok = d == axis || heed_dim_eq(s->d[d], s0->d[d]);
        if (!ok)
            return heed_infer_fail(c, "input %d has shape %s but input 1 has %s; only axis %d "
                                      "may differ",
                                   k + 1, heed_shape_text(c, s, a, sizeof a),
                                   heed_shape_text(c, s0, b, sizeof b), axis);
        int64_t inner = 1;
        for (int d = axis + 1; d < s->rank; d++)
            inner *= s->d[d].v;
        cfg->width[k] = s->d[axis].v * inner;
        along += s->d[axis].v;
    }
    out.d[axis] = n == 1 ? s0->d[axis] : heed_lit(along);
    cfg->n_in = n;
    cfg->outer = 1;
    for (int d = 0; d < axis; d++)
        cfg->outer *= s0->d[d].v;
    cfg->total = 0;
    for (int k = 0; k < n; k++)
        cfg->total += cfg->width[k];
    heed_set_out(c, 0, &out, HEED_F32);
    heed_set_flops(c, 0, 0);
    return HEED_OK;
}

/* Shape key: x_k [O, W_k] -> y [O, W] */
static heed_status concat_forward(heed_exec *x)
{
    const concat_cfg *cfg = x->cfg;
    float *y = x->out[0];
    HEED_FOR_IF(cfg->outer * cfg->total > 65536, , for (int64_t o = 0; o < cfg->outer; o++), {
        int64_t off = 0;
        for (int k = 0; k < cfg->n_in; k++) {
            const float *src = (const float *)x->in[k] + o * cfg->width[k];
            memcpy(y + o * cfg->total + off, src, (size_t)cfg->width[k] * sizeof *y);
            off += cfg->width[k];
        }
    });
    return HEED_OK;
}

static void concat_backward(heed_exec *x)
{
    const concat_cfg *cfg = x->cfg;
    const float *dy = x->dout[0];
    if (!dy)
        return;
    HEED_FOR_IF(cfg->outer * cfg->total > 65536, , for (int64_t o = 0; o < cfg->outer; o++), {
        int64_t off = 0;
        for (int k = 0; k < cfg->n_in; k++) {
            float *dx = x->din[k];
            if (dx) {
                float *d = dx + o * cfg->width[k];
                const float *g = dy + o * cfg->total + off;
                for (int64_t j = 0; j < cfg->width[k]; j++)
                    d[j] += g[j];
            }
            off += cfg->width[k];
        }
    });
}

const heed_op heed_op_concat = {
    .name = "Concat",
    .doc = "Joins tensors along an axis (the last by default). Along the last axis the output "
           "keeps the first input's lengths (from pad ids); along another it has none, so a "
           "MeanPool or Attention after it counts every position.",
    .shapes = "in [.., A_k, ..] each -> [.., sum A_k, ..]",
    .attrs = attrs,
    .outputs = outputs,
    .cfg_size = sizeof(concat_cfg),
    .infer = concat_infer,
    .forward = concat_forward,
    .backward = concat_backward,
};
