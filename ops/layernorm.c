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
#include "kernels/steal.h"
#include "op.h"

enum { FWD_ROWS = 32 }; /* rows per block of the forward pass */

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

/* Rows per chunk of the weight and bias gradients' column sums: each chunk
 * sums its rows, then the chunks are added in order, so the sums do not
 * depend on how many threads ran them. */
enum { CHUNK_ROWS = 64 };

static int64_t chunks_of(int64_t R)
{
    return (R + CHUNK_ROWS - 1) / CHUNK_ROWS;
}

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
    /* backward, per row chunk: a normalised row, then the chunk's column
     * sums of the parameters' gradients */
    size_t per_chunk = (size_t)((cfg->affine ? 3 : 1) * cfg->E);
    heed_set_workspace(c, 0,
                       heed_infer_training(c) ? (size_t)chunks_of(cfg->R) * per_chunk : 0);
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
    float *out = x->out[0], *stats = x->saved[0];
    if (cfg->R * E <= 16384 || omp_in_parallel()) {
        for (int64_t r = 0; r < cfg->R; r++)
            normalise_row(in + r * E, E, cfg->eps, w, b, out + r * E, stats + 2 * r);
        return HEED_OK;
    }
    /* blocks of FWD_ROWS rows with stealing at the end (steal.h): in the
     * encoder one thread's half of a layer's second LayerNorm ran 2.5x
     * slower than the other's, while it wrote its output */
    int64_t blocks = (cfg->R + FWD_ROWS - 1) / FWD_ROWS;
    heed_steal steal;
    heed_steal_init(&steal, blocks, omp_get_max_threads());
#pragma omp parallel
    for (int64_t k; (k = heed_steal_next(&steal, omp_get_thread_num())) >= 0;)
        for (int64_t r = k * FWD_ROWS; r < cfg->R && r < (k + 1) * FWD_ROWS; r++)
            normalise_row(in + r * E, E, cfg->eps, w, b, out + r * E, stats + 2 * r);
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

/* Shape key: dy [R,E] -> dx [R,E], dweight [E], dbias [E]. The column sums
 * of the parameters' gradients are taken chunk by chunk in the same pass as
 * the rows. Summed by blocks of columns over all rows afterwards, from
 * normalised rows kept for the whole input, they read the gradient again
 * and ran no faster on 2 threads than on 1 (0.6-0.7 ms per layer in the
 * encoder's profile either way). */
static void layernorm_backward(heed_exec *x)
{
    const layernorm_cfg *cfg = x->cfg;
    const float *in = x->in[0], *dy = x->dout[0], *stats = x->saved[0];
    const float *w = cfg->affine ? x->param[0] : NULL;
    float *dx = x->din[0];
    int64_t E = cfg->E, R = cfg->R, chunks = chunks_of(R), per = (cfg->affine ? 3 : 1) * E;
    if (!dy)
        return;
    float *dw = cfg->affine && x->dparam ? x->dparam[0] : NULL;
    float *db = cfg->affine && x->dparam ? x->dparam[1] : NULL;
    HEED_FOR_IF(R * E > 16384, , for (int64_t k = 0; k < chunks; k++), {
        int64_t r1 = (k + 1) * CHUNK_ROWS < R ? (k + 1) * CHUNK_ROWS : R;
        float *xh = x->ws + k * per, *pw = xh + E, *pb = pw + E; /* pw, pb: affine only */
        if (dw || db)
            memset(pw, 0, (size_t)(2 * E) * sizeof *pw);
        for (int64_t r = k * CHUNK_ROWS; r < r1; r++) {
            const float *row = in + r * E, *g = dy + r * E;
            float mean = stats[2 * r], rstd = stats[2 * r + 1];
            for (int64_t j = 0; j < E; j++)
                xh[j] = (row[j] - mean) * rstd;
            if (dx)
                input_grad_row(g, w, xh, E, rstd, dx + r * E);
            if (dw || db)
                for (int64_t j = 0; j < E; j++) {
                    pw[j] += g[j] * xh[j];
                    pb[j] += g[j];
                }
        }
    });
    for (int64_t k = 0; (dw || db) && k < chunks; k++) {
        const float *pw = x->ws + k * per + E, *pb = pw + E;
        for (int64_t j = 0; dw && j < E; j++)
            dw[j] += pw[j];
        for (int64_t j = 0; db && j < E; j++)
            db[j] += pb[j];
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
