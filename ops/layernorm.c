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

/* The sum over j < n of a[j] b[j] c[j], b and c NULL meaning 1, in double
 * and in LANES independent partial sums: a single running sum is a chain of
 * dependent additions, which made LayerNorm latency-bound (0.5 ms forward
 * for the encoder's [2048, 256]); lanes let the loop vectorise. */
enum { LANES = 16 };
HEED_HOT static double lane_sum(const float *a, const float *b, const float *c, int64_t n)
{
    double acc[LANES] = {0};
    int64_t j = 0, full = n / LANES * LANES;
    if (!b)
        for (; j < full; j += LANES)
            for (int l = 0; l < LANES; l++)
                acc[l] += a[j + l];
    else if (!c)
        for (; j < full; j += LANES)
            for (int l = 0; l < LANES; l++)
                acc[l] += (double)a[j + l] * b[j + l];
    else
        for (; j < full; j += LANES)
            for (int l = 0; l < LANES; l++)
                acc[l] += (double)a[j + l] * b[j + l] * c[j + l];
    double s = 0.0;
    for (; j < n; j++)
        s += (double)a[j] * (b ? b[j] : 1.0f) * (c ? c[j] : 1.0f);
    for (int l = 0; l < LANES; l++)
        s += acc[l];
    return s;
}

/* One row: the output holds the deviations first, then the result. */
HEED_HOT static void normalise_row(const float *row, int64_t E, float eps, const float *w,
                                   const float *b, float *o, float *stats)
{
    float mean = (float)(lane_sum(row, NULL, NULL, E) / (double)E);
    for (int64_t j = 0; j < E; j++)
        o[j] = row[j] - mean;
    float rstd = 1.0f / sqrtf((float)(lane_sum(o, o, NULL, E) / (double)E) + eps);
    stats[0] = mean;
    stats[1] = rstd;
    if (w)
        for (int64_t j = 0; j < E; j++)
            o[j] = o[j] * rstd * w[j] + b[j];
    else
        for (int64_t j = 0; j < E; j++)
            o[j] *= rstd;
}

/* Shape key: x [R,E] -> y [R,E] */
static heed_status layernorm_forward(heed_exec *x)
{
    const layernorm_cfg *cfg = x->cfg;
    const float *in = x->in[0], *w = cfg->affine ? x->param[0] : NULL;
    const float *b = cfg->affine ? x->param[1] : NULL;
    int64_t E = cfg->E;
    HEED_FOR_IF(cfg->R * E > 16384, , for (int64_t r = 0; r < cfg->R; r++),
        normalise_row(in + r * E, E, cfg->eps, w, b, x->out[0] + r * E, x->saved[0] + 2 * r););
    return HEED_OK;
}

/* dx += rstd (gh - mean(gh) - xh mean(gh xh)) for one row, gh = g w. */
HEED_HOT static void input_grad_row(const float *g, const float *w, const float *xh, int64_t E,
                                    float rstd, float *dx)
{
    float a = (float)(lane_sum(g, w, NULL, E) / (double)E);
    float bb = (float)((w ? lane_sum(g, w, xh, E) : lane_sum(g, xh, NULL, E)) / (double)E);
    if (w)
        for (int64_t j = 0; j < E; j++)
            dx[j] += rstd * (g[j] * w[j] - a - xh[j] * bb);
    else
        for (int64_t j = 0; j < E; j++)
            dx[j] += rstd * (g[j] - a - xh[j] * bb);
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
    HEED_FOR_IF(R * E > 16384, , for (int64_t r = 0; r < R; r++), {
        const float *row = in + r * E, *g = dy + r * E;
        float mean = stats[2 * r], rstd = stats[2 * r + 1];
        float *xh = xhat + r * E;
        for (int64_t j = 0; j < E; j++)
            xh[j] = (row[j] - mean) * rstd;
        if (dx)
            input_grad_row(g, w, xh, E, rstd, dx + r * E);
    });
    if (!cfg->affine || !x->dparam)
        return;
    float *dw = x->dparam[0], *db = x->dparam[1];
    /* column sums, each thread owning a block of columns */
    HEED_FOR_IF(R * E > 16384, , for (int64_t j0 = 0; j0 < E; j0 += 32), {
        int64_t j1 = j0 + 32 < E ? j0 + 32 : E;
        for (int64_t r = 0; r < R; r++) {
            const float *g = dy + r * E, *xh = xhat + r * E;
            if (dw)
                for (int64_t j = j0; j < j1; j++)
                    dw[j] += g[j] * xh[j];
            if (db)
                for (int64_t j = j0; j < j1; j++)
                    db[j] += g[j];
        }
    });
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
