/*
 * LayerNorm: normalises each row over the last axis, then scales and shifts
 * (nn.LayerNorm layout: weight [E], bias [E]). The mean and the reciprocal
 * standard deviation of each row are saved for backward; the normalised row
 * is recomputed from the input.
 *
 * Shape key: R = rows, E = last dim; in [.., E] -> out [.., E].
 */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "op.h"

typedef struct layernorm_cfg {
    int64_t R, E;
    float eps;
    bool affine;
} layernorm_cfg;

static const heed_attr attrs[] = {
    {.name = "in", .kind = HEED_A_INPUT, .def = NULL, .doc = "any float tensor [.., E]"},
    {.name = "eps", .kind = HEED_A_FLOAT, .def = "1e-5", .lo = 1e-12, .hi = 1,
     .doc = "added to the variance"},
    {.name = "affine", .kind = HEED_A_BOOL, .def = "true", .doc = "learned weight and bias"},
    {0}};

static const char *const outputs[] = {"out", NULL};

static heed_status layernorm_infer(heed_infer *c)
{
    layernorm_cfg *cfg = heed_infer_cfg(c);
    const heed_shape *in = heed_in_shape(c, 0);
    cfg->R = heed_shape_rows(in);
    cfg->E = heed_shape_last(in);
    cfg->eps = (float)heed_attr_float(c, "eps");
    cfg->affine = heed_attr_bool(c, "affine");
    heed_set_out(c, 0, in, HEED_F32);
    if (cfg->affine) {
        heed_shape e = heed_shape_make(1, &in->d[in->rank - 1]);
        heed_add_param(c, "weight", &e, (heed_init){HEED_INIT_ONES, 0});
        heed_add_param(c, "bias", &e, (heed_init){HEED_INIT_ZEROS, 0});
    }
    heed_add_saved(c, (size_t)(2 * cfg->R));
    heed_set_backward_needs(c, 1u, 0);
    heed_set_workspace(c, 0, heed_infer_training(c) ? (size_t)(cfg->R * cfg->E) : 0);
    double n = (double)(cfg->R * cfg->E);
    heed_set_flops(c, 8.0 * n, 12.0 * n);
    return HEED_OK;
}

/* Shape key: x [R,E] -> y [R,E] */
static heed_status layernorm_forward(heed_exec *x)
{
    const layernorm_cfg *cfg = x->cfg;
    const float *in = x->in[0], *w = cfg->affine ? x->param[0] : NULL;
    const float *b = cfg->affine ? x->param[1] : NULL;
    float *out = x->out[0], *stats = x->saved[0];
    int64_t E = cfg->E;
#pragma omp parallel for schedule(static) if (cfg->R * E > 16384)
    for (int64_t r = 0; r < cfg->R; r++) {
        const float *row = in + r * E;
        double sum = 0.0, sq = 0.0;
        for (int64_t j = 0; j < E; j++)
            sum += row[j];
        float mean = (float)(sum / (double)E);
        for (int64_t j = 0; j < E; j++) {
            double d = (double)row[j] - mean;
            sq += d * d;
        }
        float rstd = 1.0f / sqrtf((float)(sq / (double)E) + cfg->eps);
        stats[2 * r] = mean;
        stats[2 * r + 1] = rstd;
        float *o = out + r * E;
        for (int64_t j = 0; j < E; j++) {
            float xh = (row[j] - mean) * rstd;
            o[j] = w ? xh * w[j] + b[j] : xh;
        }
    }
    return HEED_OK;
}

static void layernorm_backward(heed_exec *x)
{
    const layernorm_cfg *cfg = x->cfg;
    const float *in = x->in[0], *dy = x->dout[0], *stats = x->saved[0];
    const float *w = cfg->affine ? x->param[0] : NULL;
    float *dx = x->din[0], *xhat = x->ws;
    int64_t E = cfg->E, R = cfg->R;
    if (!dy)
        return;
#pragma omp parallel for schedule(static) if (R * E > 16384)
    for (int64_t r = 0; r < R; r++) {
        const float *row = in + r * E, *g = dy + r * E;
        float mean = stats[2 * r], rstd = stats[2 * r + 1];
        float *xh = xhat + r * E;
        double m1 = 0.0, m2 = 0.0;
        for (int64_t j = 0; j < E; j++) {
            xh[j] = (row[j] - mean) * rstd;
            float gh = w ? g[j] * w[j] : g[j];
            m1 += gh;
            m2 += gh * xh[j];
        }
        if (!dx)
            continue;
        float a = (float)(m1 / (double)E), bb = (float)(m2 / (double)E);
        float *d = dx + r * E;
        for (int64_t j = 0; j < E; j++) {
            float gh = w ? g[j] * w[j] : g[j];
            d[j] += rstd * (gh - a - xh[j] * bb);
        }
    }
    if (!cfg->affine || !x->dparam)
        return;
    float *dw = x->dparam[0], *db = x->dparam[1];
    /* column sums, each thread owning a block of columns */
#pragma omp parallel for schedule(static) if (R * E > 16384)
    for (int64_t j0 = 0; j0 < E; j0 += 32) {
        int64_t j1 = j0 + 32 < E ? j0 + 32 : E;
        for (int64_t r = 0; r < R; r++)
            for (int64_t j = j0; j < j1; j++) {
                if (dw)
                    dw[j] += dy[r * E + j] * xhat[r * E + j];
                if (db)
                    db[j] += dy[r * E + j];
            }
    }
}

const heed_op heed_op_layernorm = {
    .name = "LayerNorm",
    .doc = "Normalises over the last axis, then scales and shifts (nn.LayerNorm).",
    .shapes = "in [.., E] -> [.., E]; weight [E], bias [E]",
    .attrs = attrs,
    .outputs = outputs,
    .cfg_size = sizeof(layernorm_cfg),
    .infer = layernorm_infer,
    .forward = layernorm_forward,
    .backward = layernorm_backward,
};
