/*
 * MeanPool: the mean over the time axis of each sequence, counting only the
 * steps before its length (padding is masked).
 *
 * Shape key: B = batch, T = time, E = features; in [B,T,E] -> out [B,E].
 */
#include <string.h>

#include "kernels/kernels.h"
#include "op.h"

typedef struct meanpool_cfg {
    int64_t B, T, E;
} meanpool_cfg;

static const heed_attr attrs[] = {
    {.name = "in", .kind = HEED_A_INPUT, .def = NULL, .doc = "sequence [B, T, E]"},
    {0}};

static const char *const outputs[] = {"out", NULL};

static heed_status meanpool_infer(heed_infer *c)
{
    meanpool_cfg *cfg = heed_infer_cfg(c);
    const heed_shape *in = heed_in_shape(c, 0);
    char a[160];
    if (in->rank != 3)
        return heed_infer_fail(c, "in must be a sequence [B,T,E], not %s",
                               heed_shape_text(c, in, a, sizeof a));
    cfg->B = in->d[0].v;
    cfg->T = in->d[1].v;
    cfg->E = in->d[2].v;
    heed_shape out = heed_shape2(in->d[0], in->d[2]);
    heed_set_out(c, 0, &out, HEED_F32);
    double n = (double)(cfg->B * cfg->T * cfg->E);
    heed_set_flops(c, n, n);
    return HEED_OK;
}

/* Shape key: x [B,T,E] -> y [B,E] */
static heed_status meanpool_forward(heed_exec *x)
{
    const meanpool_cfg *cfg = x->cfg;
    const float *in = x->in[0];
    float *out = x->out[0];
    int64_t T = cfg->T, E = cfg->E;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < cfg->B; b++) {
        int64_t len = heed_len(x->len[0], b, T);
        float *y = out + b * E;
        memset(y, 0, (size_t)E * sizeof *y);
        for (int64_t t = 0; t < len; t++)
            for (int64_t e = 0; e < E; e++)
                y[e] += in[(b * T + t) * E + e];
        float inv = len > 0 ? 1.0f / (float)len : 0.0f;
        for (int64_t e = 0; e < E; e++)
            y[e] *= inv;
    }
    return HEED_OK;
}

static void meanpool_backward(heed_exec *x)
{
    const meanpool_cfg *cfg = x->cfg;
    const float *dy = x->dout[0];
    float *dx = x->din[0];
    int64_t T = cfg->T, E = cfg->E;
    if (!dy || !dx)
        return;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < cfg->B; b++) {
        int64_t len = heed_len(x->len[0], b, T);
        float inv = len > 0 ? 1.0f / (float)len : 0.0f;
        for (int64_t t = 0; t < len; t++)
            for (int64_t e = 0; e < E; e++)
                dx[(b * T + t) * E + e] += dy[b * E + e] * inv;
    }
}

const heed_op heed_op_meanpool = {
    .name = "MeanPool",
    .doc = "Mean over the time axis, counting only each sequence's valid steps: those its "
           "input's pad ids leave (it has no lengths: attribute; a float input, or one whose "
           "lengths were lost, counts every step).",
    .shapes = "in [B,T,E] -> [B,E]",
    .attrs = attrs,
    .outputs = outputs,
    .cfg_size = sizeof(meanpool_cfg),
    .infer = meanpool_infer,
    .forward = meanpool_forward,
    .backward = meanpool_backward,
};
