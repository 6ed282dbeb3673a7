/*
 * Affine: y = [x1; x2; ...] W^T + b, nn.Linear layout (weight [units, In],
 * bias [units]). Several inputs are concatenated on the last axis without
 * copying: each multiplies its own column block of W. An optional activation
 * is fused into the same pass.
 *
 * Shape key: R = rows (product of leading dims), In_k = input k's width,
 * In = sum of In_k, U = units.
 */
#include <string.h>

#include "kernels/kernels.h"
#include "op.h"

typedef struct affine_cfg {
    int n_in;
    int64_t width[HEED_MAX_INPUTS]; /* In_k */
    int64_t in_total;               /* In */
    int64_t units;                  /* U */
    bool bias;
    heed_act act;
} affine_cfg;

static const heed_attr attrs[] = {
    {.name = "in", .kind = HEED_A_INPUTS, .def = NULL,
     .doc = "one input or a list, concatenated on the last axis"},
    {.name = "units", .kind = HEED_A_DIM, .def = NULL, .doc = "output width"},
    {.name = "bias", .kind = HEED_A_BOOL, .def = "true", .doc = "add a bias"},
    {.name = "activation", .kind = HEED_A_CHOICE, .def = "none",
     .choices = "none,tanh,sigmoid,relu", .doc = "fused activation"},
    {0}};

static const char *const outputs[] = {"out", NULL};

static heed_status affine_infer(heed_infer *c)
{
    affine_cfg *cfg = heed_infer_cfg(c);
    int first = heed_port(c, "in"), n = heed_port_count(c, "in");
    const heed_shape *s0 = heed_in_shape(c, first);
    char a[160], b[160];
    cfg->n_in = n;
    cfg->in_total = 0;
    for (int k = 0; k < n; k++) {
        const heed_shape *s = heed_in_shape(c, first + k);
        bool lead_ok = s->rank == s0->rank;
        for (int d = 0; lead_ok && d + 1 < s->rank; d++)
            lead_ok = heed_dim_eq(s->d[d], s0->d[d]);
        if (!lead_ok)
            return heed_infer_fail(c, "input %d has shape %s but input 1 has %s; inputs are "
                                      "concatenated on the last axis, so all other dims must "
                                      "agree",
                                   k + 1, heed_shape_text(c, s, a, sizeof a),
                                   heed_shape_text(c, s0, b, sizeof b));
        cfg->width[k] = heed_shape_last(s);
        cfg->in_total += cfg->width[k];
    }
    heed_dimv units = heed_attr_dim(c, "units");
    cfg->units = units.v;
    cfg->bias = heed_attr_bool(c, "bias");
    cfg->act = (heed_act)heed_attr_choice(c, "activation");
    heed_shape out = *s0;
    out.d[out.rank - 1] = units;
    heed_set_out(c, 0, &out, HEED_F32);
    heed_shape w = heed_shape2(units, heed_lit(cfg->in_total));
    /* nn.Linear's default: U(-1/sqrt(In), 1/sqrt(In)) for weight and bias */
    float bound = 1.0f / sqrtf((float)cfg->in_total);
    heed_add_param(c, "weight", &w, (heed_init){HEED_INIT_UNIFORM, bound});
    if (cfg->bias) {
        heed_shape bs = heed_shape_make(1, &units);
        heed_add_param(c, "bias", &bs, (heed_init){HEED_INIT_UNIFORM, bound});
    }
    uint32_t all_inputs = (n >= 32) ? 0xffffffffu : ((1u << n) - 1u) << first;
    heed_set_backward_needs(c, all_inputs, cfg->act != HEED_ACT_NONE ? 1u : 0u);
    double rows = (double)heed_shape_rows(&out);
    double f = 2.0 * rows * (double)cfg->in_total * (double)units.v;
    heed_set_flops(c, f, 2.0 * f);
    heed_set_workspace(c, 0, cfg->act != HEED_ACT_NONE ? (size_t)rows * (size_t)units.v : 0);
    return HEED_OK;
}

/* Shape key: x_k [R, In_k], W [U, In], b [U] -> y [R, U] */
static heed_status affine_forward(heed_exec *x)
{
    const affine_cfg *cfg = x->cfg;
    int64_t R = heed_shape_rows(&x->out_shape[0]), U = cfg->units;
    float *y = x->out[0];
    const float *w = x->param[0];
    int64_t off = 0;
    for (int k = 0; k < cfg->n_in; k++) {
        if (k == 0)
            heed_gemm_bias(false, true, R, U, cfg->width[k], x->in[k], cfg->width[k], w,
                           cfg->in_total, cfg->bias ? x->param[1] : NULL, y, U);
        else
            heed_gemm(false, true, R, U, cfg->width[k], 1.0f, x->in[k], cfg->width[k], w + off,
                      cfg->in_total, 1.0f, y, U);
        off += cfg->width[k];
    }
    heed_act_forward(cfg->act, y, (size_t)(R * U));
    return HEED_OK;
}

static void affine_backward(heed_exec *x)
{
    const affine_cfg *cfg = x->cfg;
    int64_t R = heed_shape_rows(&x->out_shape[0]), U = cfg->units;
    const float *dy = x->dout[0];
    if (!dy)
        return;
    if (cfg->act != HEED_ACT_NONE) {
        heed_act_backward(cfg->act, x->ws, dy, x->out[0], (size_t)(R * U));
        dy = x->ws;
    }
    const float *w = x->param[0];
    float *dw = x->dparam[0];
    int64_t off = 0;
    for (int k = 0; k < cfg->n_in; k++) {
        int64_t in = cfg->width[k];
        if (x->din[k])
            heed_gemm(false, false, R, in, U, 1.0f, dy, U, w + off, cfg->in_total, 1.0f,
                      x->din[k], in);
        if (dw)
            heed_gemm(true, false, U, in, R, 1.0f, dy, U, x->in[k], in, 1.0f, dw + off,
                      cfg->in_total);
        off += in;
    }
    if (cfg->bias && x->dparam[1])
        heed_sum_rows(x->dparam[1], dy, R, U);
}

const heed_op heed_op_affine = {
    .name = "Affine",
    .doc = "Fully connected layer over the last axis (nn.Linear); a list of inputs is "
           "concatenated first.",
    .shapes = "in [.., In] (or several [.., In_k]) -> [.., units]; weight [units, In], bias [units]",
    .attrs = attrs,
    .outputs = outputs,
    .cfg_size = sizeof(affine_cfg),
    .infer = affine_infer,
    .forward = affine_forward,
    .backward = affine_backward,
};
