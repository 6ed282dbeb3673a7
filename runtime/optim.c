/*
 * optim.c - clipping by global norm, SGD with momentum and Adam (decoupled
 * weight decay, as AdamW), over the whole parameter buffer at once.
 */
#include <math.h>
#include <string.h>

#include "runtime.h"

void heed_model_train_config(const heed_model *model, heed_train_config *out)
{
    if (model && out)
        *out = model->train;
}

heed_status heed_weights_set_train_config(heed_weights *w, const heed_train_config *cfg)
{
    if (!w || !cfg)
        return HEED_ERR_ARGUMENT;
    if (!(cfg->lr > 0.0f) || !isfinite(cfg->lr) || cfg->clip < 0.0f || !isfinite(cfg->clip))
        return HEED_ERR_ARGUMENT;
    bool reset = cfg->optimizer != w->train.optimizer;
    w->train = *cfg;
    if (reset && w->opt1) {
        memset(w->opt1, 0, w->floats * sizeof(float));
        memset(w->opt2, 0, w->floats * sizeof(float));
        w->steps = 0;
    }
    return HEED_OK;
}

static double grad_norm(const float *g, size_t n)
{
    double sum = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : sum)
    for (size_t i = 0; i < n; i++)
        sum += (double)g[i] * g[i];
    return sqrt(sum);
}

heed_status heed_weights_step(heed_weights *w, float *norm_out, heed_diag *diag)
{
    if (!w)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_weights_step: weights is NULL");
    if (!w->grad || !w->opt1)
        return heed_fail(diag, HEED_ERR_STATE,
                         "no gradients: run a training session's backward first");
    const heed_train_config *c = &w->train;
    size_t n = w->floats;
    float *p = w->data, *g = w->grad, *m1 = w->opt1, *m2 = w->opt2;
    double norm = grad_norm(g, n);
    if (norm_out)
        *norm_out = (float)norm;
    if (!isfinite(norm))
        return heed_fail(diag, HEED_ERR_NUMERICS,
                         "the gradient norm is %s at step %lld: training diverged (lower the "
                         "learning rate or set train: clip); weights left unchanged",
                         isnan(norm) ? "NaN" : "infinite", (long long)w->steps + 1);
    float scale = 1.0f;
    if (c->clip > 0.0f && norm > c->clip)
        scale = (float)(c->clip / (norm + 1e-6));
    w->steps++;
    float lr = c->lr, wd = c->weight_decay;
    if (c->optimizer == HEED_OPT_ADAM) {
        float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
        float bc1 = 1.0f - powf(b1, (float)w->steps), bc2 = 1.0f - powf(b2, (float)w->steps);
        float step = lr / bc1, inv_sqrt_bc2 = 1.0f / sqrtf(bc2);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] * scale;
            m1[i] = b1 * m1[i] + (1.0f - b1) * gi;
            m2[i] = b2 * m2[i] + (1.0f - b2) * gi * gi;
            p[i] -= step * m1[i] / (sqrtf(m2[i]) * inv_sqrt_bc2 + eps) + lr * wd * p[i];
        }
    } else {
        float mu = c->momentum;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] * scale + wd * p[i];
            m1[i] = mu * m1[i] + gi;
            p[i] -= lr * m1[i];
        }
    }
    return HEED_OK;
}
