/*
 * CrossEntropy: the mean negative log-likelihood of target ids under
 * softmax(logits), skipping targets equal to the pad id 0. With shift: 1 the
 * logits at step t are scored against the target at step t+1 (the decoder
 * reads the target shifted right). Label smoothing eps mixes the one-hot
 * target with a uniform distribution as PyTorch's label_smoothing does; a
 * training run's label_smoothing (heed train --label-smoothing), when set,
 * takes the attribute's place while training; validation and inference
 * keep the attribute's.
 *
 * Shape key: B = batch, T = steps, V = classes; logits [B,T,V] with target
 * [B,T] (or [B,V] with [B]); R = B*T rows. Output: the loss, shape [1].
 */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "op.h"

typedef struct ce_cfg {
    int64_t B, T, V; /* T = 1 for [B,V] logits */
    int shift;
    float eps;
} ce_cfg;

static const heed_attr attrs[] = {
    {.name = "logits", .kind = HEED_A_INPUT, .def = NULL, .doc = "scores [B,T,V] or [B,V]"},
    {.name = "target", .kind = HEED_A_INPUT, .def = NULL, .ids = true,
     .doc = "ids [B,T] or [B]; the pad id 0 is ignored"},
    {.name = "shift", .kind = HEED_A_INT, .def = "0", .lo = 0, .hi = 1,
     .doc = "1: logits at step t predict the target at t+1"},
    {.name = "smoothing", .kind = HEED_A_FLOAT, .def = "0", .lo = 0, .hi = 0.99,
     .doc = "label smoothing"},
    {0}};

static const char *const outputs[] = {"out", NULL};

static heed_status ce_infer(heed_infer *c)
{
    ce_cfg *cfg = heed_infer_cfg(c);
    const heed_shape *lg = heed_in_shape(c, heed_port(c, "logits"));
    const heed_shape *tg = heed_in_shape(c, heed_port(c, "target"));
    char a[160], b[160];
    bool ok = (lg->rank == 3 || lg->rank == 2) && tg->rank == lg->rank - 1;
    for (int d = 0; ok && d < tg->rank; d++)
        ok = heed_dim_eq(lg->d[d], tg->d[d]);
    if (!ok)
        return heed_infer_fail(c, "logits have shape %s but target has %s; expected logits "
                                  "[B,T,V] with target [B,T], or [B,V] with [B]",
                               heed_shape_text(c, lg, a, sizeof a),
                               heed_shape_text(c, tg, b, sizeof b));
    cfg->B = lg->d[0].v;
    cfg->T = lg->rank == 3 ? lg->d[1].v : 1;
    cfg->V = heed_shape_last(lg);
    cfg->shift = (int)heed_attr_int(c, "shift");
    cfg->eps = (float)heed_attr_float(c, "smoothing");
    if (cfg->shift && lg->rank != 3)
        return heed_infer_fail(c, "shift needs sequence logits [B,T,V], not %s",
                               heed_shape_text(c, lg, a, sizeof a));
    heed_shape out = heed_shape_make(1, (heed_dimv[]){heed_lit(1)});
    heed_set_out(c, 0, &out, HEED_F32);
    heed_set_out_lengths(c, 0, -1);
    heed_add_saved(c, 1); /* how many targets were counted */
    heed_set_ids_limit(c, heed_port(c, "target"), cfg->V);
    heed_set_backward_needs(c, 3u, 0);
    double n = (double)(cfg->B * cfg->T * cfg->V);
    heed_set_flops(c, 4.0 * n, 4.0 * n);
    return HEED_OK;
}

/* The target of row (b, t), or 0 (ignored) past the end when shifted. */
static int32_t target_of(const ce_cfg *cfg, const int32_t *tg, int64_t b, int64_t t)
{
    int64_t s = t + cfg->shift;
    return s < cfg->T ? tg[b * cfg->T + s] : 0;
}

/* The smoothing of this call: the run's while training, else the attribute's. */
static float ce_eps(const heed_exec *x, const ce_cfg *cfg)
{
    return x->training && x->smoothing > 0.0f ? x->smoothing : cfg->eps;
}

/* Shape key: logits [R,V], target [R] -> loss [1] */
static heed_status ce_forward(heed_exec *x)
{
    const ce_cfg *cfg = x->cfg;
    const float *lg = x->in[0];
    const int32_t *tg = x->in[1];
    int64_t V = cfg->V, R = cfg->B * cfg->T;
    double eps = ce_eps(x, cfg), total = 0.0;
    int64_t count = 0;
    HEED_FOR_IF(R * V > 8192, reduction(+ : total) reduction(+ : count),
                for (int64_t r = 0; r < R; r++), {
        int32_t y = target_of(cfg, tg, r / cfg->T, r % cfg->T);
        if (y == 0)
            continue;
        const float *row = lg + r * V;
        float mx = heed_row_max(row, V);
        double sum = heed_row_exp_sum(row, V, mx), mean_logit = 0.0;
        if (eps > 0.0)
            for (int64_t j = 0; j < V; j++)
                mean_logit += row[j];
        double lse = (double)mx + log(sum);
        double nll = lse - row[y];
        double smooth = lse - mean_logit / (double)V;
        total += (1.0 - eps) * nll + eps * smooth;
        count++;
    });
    x->saved[0][0] = (float)count;
    x->out[0][0] = count ? (float)(total / (double)count) : 0.0f;
    return HEED_OK;
}

/* d += scale * (softmax(row) - q), q the smoothed one-hot target y:
 * uniform eps / V plus 1 - eps at y. */
HEED_HOT static void row_backward(float *d, const float *row, int64_t V, int32_t y, float scale,
                                  float eps)
{
    float mx = heed_row_max(row, V);
    float inv = 1.0f / heed_row_exp_sum(row, V, mx), uniform = eps / (float)V;
    for (int64_t j = 0; j < V; j++)
        d[j] += scale * (heed_exp_neg(row[j] - mx) * inv - uniform);
    d[y] -= scale * (1.0f - eps);
}

static void ce_backward(heed_exec *x)
{
    const ce_cfg *cfg = x->cfg;
    const float *lg = x->in[0];
    const int32_t *tg = x->in[1];
    float *dlg = x->din[0];
    float count = x->saved[0][0];
    if (!dlg || count == 0.0f)
        return;
    float scale = (x->dout[0] ? x->dout[0][0] : 1.0f) / count;
    int64_t V = cfg->V, R = cfg->B * cfg->T;
    float eps = ce_eps(x, cfg);
    HEED_FOR_IF(R * V > 8192, , for (int64_t r = 0; r < R; r++), {
        int32_t y = target_of(cfg, tg, r / cfg->T, r % cfg->T);
        if (y == 0)
            continue;
        row_backward(dlg + r * V, lg + r * V, V, y, scale, eps);
    });
}

const heed_op heed_op_cross_entropy = {
    .name = "CrossEntropy",
    .doc = "Mean cross-entropy of target ids under softmax(logits), pad targets ignored.",
    .shapes = "logits [B,T,V], target [B,T] (or [B,V], [B]) -> [1]",
    .attrs = attrs,
    .outputs = outputs,
    .cfg_size = sizeof(ce_cfg),
    .flags = HEED_OP_LOSS,
    .infer = ce_infer,
    .forward = ce_forward,
    .backward = ce_backward,
};
