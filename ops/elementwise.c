/*
 * Add and Mul: element-wise sums and products of same-shaped tensors (the
 * residual connections and gates of the graphs). One family, one file.
 *
 * Shape key: N = element count; in k [..] -> out [..], all shapes equal.
 */
#include <string.h>

#include "kernels/kernels.h"
#include "op.h"

typedef struct ew_cfg {
    int n_in;
    size_t n;
} ew_cfg;

static const heed_attr add_attrs[] = {
    {.name = "in", .kind = HEED_A_INPUTS, .def = NULL, .doc = "two or more same-shaped tensors"},
    {0}};

static const heed_attr mul_attrs[] = {
    {.name = "in", .kind = HEED_A_INPUTS, .def = NULL, .doc = "two same-shaped tensors"},
    {0}};

static const char *const outputs[] = {"out", NULL};

static heed_status same_shapes(heed_infer *c, ew_cfg *cfg)
{
    int n = heed_port_count(c, "in");
    const heed_shape *s0 = heed_in_shape(c, 0);
    char a[160], b[160];
    for (int k = 1; k < n; k++)
        if (!heed_shape_eq(heed_in_shape(c, k), s0))
            return heed_infer_fail(c, "input %d has shape %s but input 1 has %s", k + 1,
                                   heed_shape_text(c, heed_in_shape(c, k), a, sizeof a),
                                   heed_shape_text(c, s0, b, sizeof b));
    cfg->n_in = n;
    heed_shape_numel(s0, &cfg->n);
    heed_set_out(c, 0, s0, HEED_F32);
    return HEED_OK;
}

static heed_status add_infer(heed_infer *c)
{
    ew_cfg *cfg = heed_infer_cfg(c);
    if (heed_port_count(c, "in") < 2)
        return heed_infer_fail(c, "Add needs at least two inputs");
    heed_status st = same_shapes(c, cfg);
    heed_set_inplace(c, 0, 0);
    heed_set_flops(c, (double)cfg->n * (cfg->n_in - 1), 0);
    return st;
}

/* Shape key: x_k [N] -> y [N] = sum_k x_k */
static heed_status add_forward(heed_exec *x)
{
    const ew_cfg *cfg = x->cfg;
    float *y = x->out[0];
    size_t n = cfg->n;
    const float *a = x->in[0];
    if (cfg->n_in < 2) {
        if (y != a)
            memcpy(y, a, n * sizeof *y);
        return HEED_OK;
    }
    /* the first two in one pass: a copy of the first on its own was a pass
     * over memory on one thread */
    const float *b1 = x->in[1];
    HEED_FOR_IF(n > 32768, , for (size_t i = 0; i < n; i++),
        y[i] = a[i] + b1[i];);
    for (int k = 2; k < cfg->n_in; k++) {
        const float *b = x->in[k];
        HEED_FOR_IF(n > 32768, , for (size_t i = 0; i < n; i++),
            y[i] += b[i];);
    }
    return HEED_OK;
}

static void add_backward(heed_exec *x)
{
    const ew_cfg *cfg = x->cfg;
    const float *dy = x->dout[0];
    if (!dy)
        return;
    for (int k = 0; k < cfg->n_in; k++) {
        float *dx = x->din[k];
        if (!dx)
            continue;
        HEED_FOR_IF(cfg->n > 32768, , for (size_t i = 0; i < cfg->n; i++),
            dx[i] += dy[i];);
    }
}

static heed_status mul_infer(heed_infer *c)
{
    ew_cfg *cfg = heed_infer_cfg(c);
    if (heed_port_count(c, "in") != 2)
        return heed_infer_fail(c, "Mul takes exactly two inputs, not %d",
                               heed_port_count(c, "in"));
    heed_status st = same_shapes(c, cfg);
    heed_set_backward_needs(c, 3u, 0);
    heed_set_flops(c, (double)cfg->n, 2.0 * (double)cfg->n);
    return st;
}

/* Shape key: a [N], b [N] -> y [N] = a * b */
static heed_status mul_forward(heed_exec *x)
{
    const ew_cfg *cfg = x->cfg;
    const float *a = x->in[0], *b = x->in[1];
    float *y = x->out[0];
    HEED_FOR_IF(cfg->n > 32768, , for (size_t i = 0; i < cfg->n; i++),
        y[i] = a[i] * b[i];);
    return HEED_OK;
}

static void mul_backward(heed_exec *x)
{
    const ew_cfg *cfg = x->cfg;
    const float *a = x->in[0], *b = x->in[1], *dy = x->dout[0];
    float *da = x->din[0], *db = x->din[1];
    if (!dy)
        return;
    HEED_FOR_IF(cfg->n > 32768, , for (size_t i = 0; i < cfg->n; i++), {
        if (da)
            da[i] += dy[i] * b[i];
        if (db)
            db[i] += dy[i] * a[i];
    });
}

const heed_op heed_op_add = {
    .name = "Add",
    .doc = "Element-wise sum of two or more same-shaped tensors (residual connections).",
    .shapes = "in [..] each -> [..]",
    .attrs = add_attrs,
    .outputs = outputs,
    .cfg_size = sizeof(ew_cfg),
    .infer = add_infer,
    .forward = add_forward,
    .backward = add_backward,
};

const heed_op heed_op_mul = {
    .name = "Mul",
    .doc = "Element-wise product of two same-shaped tensors.",
    .shapes = "in [..] twice -> [..]",
    .attrs = mul_attrs,
    .outputs = outputs,
    .cfg_size = sizeof(ew_cfg),
    .infer = mul_infer,
    .forward = mul_forward,
    .backward = mul_backward,
};
