/*
 * Sum: the sum of every element of its inputs, a scalar. Usable as a loss
 * (e.g. the sum of Mul(out, weights), which sends given gradients into a
 * graph) and as an auxiliary term.
 *
 * Shape key: N_k = element count of input k; in [..] each -> [1].
 */
#include "kernels/kernels.h"
#include "op.h"

typedef struct sum_cfg {
    int n_in;
    size_t n[HEED_MAX_INPUTS];
} sum_cfg;

static const heed_attr attrs[] = {
    {.name = "in", .kind = HEED_A_INPUTS, .def = NULL, .doc = "tensors of any shape"},
    {0}};

static const char *const outputs[] = {"out", NULL};

static heed_status sum_infer(heed_infer *c)
{
    sum_cfg *cfg = heed_infer_cfg(c);
    cfg->n_in = heed_port_count(c, "in");
    double total = 0;
    for (int k = 0; k < cfg->n_in; k++) {
        if (heed_in_dtype(c, k) != HEED_F32)
            return heed_infer_fail(c, "input %d holds token ids; Sum adds floats", k + 1);
        heed_shape_numel(heed_in_shape(c, k), &cfg->n[k]);
        total += (double)cfg->n[k];
    }
    heed_shape out = heed_shape_make(1, (heed_dimv[]){heed_lit(1)});
    heed_set_out(c, 0, &out, HEED_F32);
    heed_set_flops(c, total, total);
    return HEED_OK;
}

/* Shape key: x_k [N_k] -> y [1] = sum_k sum_i x_k[i] */
static heed_status sum_forward(heed_exec *x)
{
    const sum_cfg *cfg = x->cfg;
    double total = 0.0;
    for (int k = 0; k < cfg->n_in; k++) {
        const float *a = x->in[k];
        size_t n = cfg->n[k];
        HEED_FOR_IF(n > 65536, reduction(+ : total), for (size_t i = 0; i < n; i++),
            total += a[i];);
    }
    x->out[0][0] = (float)total;
    return HEED_OK;
}

static void sum_backward(heed_exec *x)
{
    const sum_cfg *cfg = x->cfg;
    float g = x->dout[0] ? x->dout[0][0] : 1.0f;
    for (int k = 0; k < cfg->n_in; k++) {
        float *d = x->din[k];
        size_t n = cfg->n[k];
        if (!d)
            continue;
        HEED_FOR_IF(n > 65536, , for (size_t i = 0; i < n; i++),
            d[i] += g;);
    }
}

const heed_op heed_op_sum = {
    .name = "Sum",
    .doc = "Sum of every element of its inputs (a scalar; usable as a loss).",
    .shapes = "in [..] each -> [1]",
    .attrs = attrs,
    .outputs = outputs,
    .cfg_size = sizeof(sum_cfg),
    .flags = HEED_OP_LOSS,
    .infer = sum_infer,
    .forward = sum_forward,
    .backward = sum_backward,
};
