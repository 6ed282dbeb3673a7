/*
 * optim.c - clipping by global norm, SGD with momentum and Adam (decoupled
 * weight decay, as AdamW), over the whole parameter buffer at once.
 */
#include <float.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

void heed_model_train_config(const heed_model *model, heed_train_config *out)
{
    if (model && out)
        *out = model->train;
}

heed_status heed_weights_train_config(const heed_weights *w, heed_train_config *out)
{
    if (!w || !out)
        return HEED_ERR_ARGUMENT;
    *out = w->train;
    return HEED_OK;
}

/* The keys are those of the model language's train: section. */
void hw_config_format(const heed_train_config *c, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "optimizer=%s,lr=%.9g,momentum=%.9g,beta1=%.9g,beta2=%.9g,eps=%.9g,"
             "weight_decay=%.9g,clip=%.9g,batch=%d,epochs=%d,seed=%llu,lr_decay=%.9g,"
             "label_smoothing=%.9g",
             c->optimizer == HEED_OPT_SGD ? "sgd" : "adam", (double)c->lr, (double)c->momentum,
             (double)c->beta1, (double)c->beta2, (double)c->eps, (double)c->weight_decay,
             (double)c->clip, c->batch, c->epochs, (unsigned long long)c->seed,
             (double)c->lr_decay, (double)c->label_smoothing);
}

/* How hw_config_format writes a number: a digit first (no sign, space or
 * "inf"), decimal (no hex float); "-0" too, which %.9g writes for a
 * negative zero the language and options take. Anything else is not ours. */
bool hw_plain_number(const char *s)
{
    if (!s || strpbrk(s, "xX"))
        return false;
    if (s[0] == '-' && isdigit((unsigned char)s[1]))
        return strtod(s, NULL) == 0.0;
    return isdigit((unsigned char)s[0]);
}

static bool config_value(heed_train_config *c, const char *key, const char *val)
{
    char *end;
    static const char *const numbers[] = {"lr",     "momentum", "beta1", "beta2",
                                          "eps",    "weight_decay", "clip", "batch",
                                          "epochs", "seed",     "lr_decay", "label_smoothing"};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        if (!strcmp(key, numbers[i]) && !hw_plain_number(val))
            return false;
    if (!strcmp(key, "optimizer")) {
        c->optimizer = !strcmp(val, "sgd") ? HEED_OPT_SGD : HEED_OPT_ADAM;
        return !strcmp(val, "sgd") || !strcmp(val, "adam");
    }
    if (!strcmp(key, "batch") || !strcmp(key, "epochs")) {
        long v = strtol(val, &end, 10);
        if (*end || v < 1 || v > (1L << 30))
            return false;
        *(!strcmp(key, "batch") ? &c->batch : &c->epochs) = (int)v;
        return true;
    }
    if (!strcmp(key, "seed")) {
        errno = 0;
        c->seed = strtoull(val, &end, 10);
        return !*end && errno == 0;
    }
    static const char *const names[] = {"lr",   "momentum", "beta1",   "beta2",
                                        "eps",  "weight_decay", "clip", "lr_decay",
                                        "label_smoothing"};
    float *fields[] = {&c->lr,   &c->momentum, &c->beta1,    &c->beta2,
                       &c->eps,  &c->weight_decay, &c->clip, &c->lr_decay,
                       &c->label_smoothing};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(key, names[i])) {
            *fields[i] = strtof(val, &end);
            return !*end && isfinite(*fields[i]) && *fields[i] >= 0;
        }
    return true; /* a key of a later version: ignored */
}

bool hw_config_parse(const char *text, heed_train_config *c)
{
    char buf[1024];
    if (strlen(text) >= sizeof buf)
        return false;
    strcpy(buf, text);
    char *save = NULL; /* strtok_r: strtok's hidden state is shared by all threads */
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq)
            return false;
        *eq = '\0';
        if (!config_value(c, item, eq + 1))
            return false;
    }
    return c->lr > 0;
}

heed_status heed_weights_set_train_config(heed_weights *w, const heed_train_config *cfg)
{
    if (!w || !cfg)
        return HEED_ERR_ARGUMENT;
    if (cfg->optimizer != HEED_OPT_SGD && cfg->optimizer != HEED_OPT_ADAM)
        return HEED_ERR_ARGUMENT;
    if (!(cfg->lr > 0.0f) || !isfinite(cfg->lr) || cfg->clip < 0.0f || !isfinite(cfg->clip) ||
        !(cfg->label_smoothing >= 0.0f && cfg->label_smoothing <= 0.99f))
        return HEED_ERR_ARGUMENT;
    /* a configuration a checkpoint could not hold would be saved with it and
     * then refused on loading: it is refused here, by the same reading */
    char text[1024];
    hw_config_format(cfg, text, sizeof text);
    heed_train_config back = *cfg;
    if (!hw_config_parse(text, &back))
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

static heed_status weights_step(heed_weights *w, float *norm_out, heed_diag *diag)
{
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
    /* Adam squares each gradient in float: past sqrt(FLT_MAX) / 2 (no
     * element exceeds the norm) a second moment would become infinite and
     * freeze its parameter for good, every step still returning OK */
    if (norm * scale > 0.5 * sqrt((double)FLT_MAX))
        return heed_fail(diag, HEED_ERR_NUMERICS,
                         "the gradient norm is %.3g at step %lld, more than the optimizer's "
                         "float state holds: training diverged (lower the learning rate or set "
                         "train: clip); weights left unchanged",
                         norm, (long long)w->steps + 1);
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

heed_status heed_weights_step(heed_weights *w, float *norm_out, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!w)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_weights_step: weights is NULL");
    if (!w->grad || !w->opt1)
        return heed_fail(diag, HEED_ERR_STATE,
                         "no gradients: run a training session's backward first");
    /* Adam's second moments of unused rows decay towards denormals */
    heed_fpmode fm = heed_fpmode_enter(0);
    heed_status st = weights_step(w, norm_out, diag);
    heed_fpmode_leave(fm, 0);
    return st;
}
