/*
 * gradcheck.c - backward against central finite differences for a whole
 * model: random inputs (ids with random padded lengths), analytic gradients of
 * the loss from one backward pass, then for a sample of elements of every
 * parameter and float input (half the largest gradients, half at random),
 * (L(x+h) - L(x-h)) / 2h with dropout masks held fixed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/kernels/kernels.h"
#include "runtime.h"

typedef struct gc {
    const heed_model *m;
    heed_weights *w;
    heed_session *s;
    hp_options opt;
    uint64_t seed;
    double step;
    int samples;
    heed_diag *diag;
    heed_gradcheck_fn report;
    void *user;
    double worst;
    double global_scale; /* the largest |gradient| of any checked tensor */
} gc;

static heed_status loss_at(gc *g, double *loss)
{
    heed_session_seed(g->s, g->seed); /* the same dropout masks every time */
    heed_status st = hs_forward_opts(g->s, &g->opt, g->diag);
    *loss = g->s->loss;
    return st;
}

/* Picks up to k indices: half the largest |grad|, half random, no repeats. */
static int pick(const float *grad, size_t n, int k, uint64_t seed, size_t *out)
{
    int count = 0;
    if ((size_t)k >= n) {
        for (size_t i = 0; i < n; i++)
            out[count++] = i;
        return count;
    }
    for (int t = 0; t < k / 2; t++) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            bool used = false;
            for (int j = 0; j < count && !used; j++)
                used = out[j] == i;
            if (!used && (best == SIZE_MAX || fabsf(grad[i]) > fabsf(grad[best])))
                best = i;
        }
        out[count++] = best;
    }
    for (uint64_t t = 0; count < k && t < (uint64_t)k * 8; t++) {
        size_t i = (size_t)(heed_mix64(seed + t) % n);
        bool used = false;
        for (int j = 0; j < count && !used; j++)
            used = out[j] == i;
        if (!used)
            out[count++] = i;
    }
    return count;
}

/* (L(x+h) - L(x-h)) / 2h for element i of x, restoring x[i]. */
static heed_status central_difference(gc *g, float *x, size_t i, double h, double *out)
{
    float orig = x[i];
    double lp = 0, lm = 0;
    x[i] = orig + (float)h;
    heed_status st = loss_at(g, &lp);
    x[i] = orig - (float)h;
    if (st == HEED_OK)
        st = loss_at(g, &lm);
    x[i] = orig;
    /* the step actually taken, after rounding to float */
    double taken = (double)(orig + (float)h) - (double)(orig - (float)h);
    *out = (lp - lm) / taken;
    return st;
}

/* Checks the elements of `x` (live data the forward reads) against `grad`. */
static heed_status check_tensor(gc *g, const char *tensor, const char *node, float *x,
                                const float *grad, size_t n, double loss0)
{
    size_t idx[64];
    int k = pick(grad, n, g->samples < 64 ? g->samples : 64,
                 heed_hash_bytes(g->seed, tensor, strlen(tensor)), idx);
    double scale = 0.0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)grad[i]));
    /* below this, differences are float32 rounding in the loss, not errors */
    /* float32 rounding of the loss, seen through a difference over 2h */
    double noise = 20.0 * 6e-8 * fmax(fabs(loss0), 1.0) / g->step;
    double floor = fmax(fmax(1e-2 * scale, 2e-3 * g->global_scale), 5.0 * noise);
    heed_gradcheck_entry e = {tensor, node, 0, 0.0, 0.0, 0};
    for (int j = 0; j < k; j++) {
        size_t i = idx[j];
        double n1, n2;
        heed_status st = central_difference(g, x, i, g->step, &n1);
        if (st == HEED_OK)
            st = central_difference(g, x, i, g->step / 2, &n2);
        if (st != HEED_OK)
            return st;
        /* For a smooth loss the two estimates agree to O(h^2); when they do
         * not, a kink (ReLU at 0) lies within h and the point says nothing. */
        if (fabs(n1 - n2) > 0.01 * fmax(fabs(n1), fabs(n2)) + noise) {
            e.skipped++;
            continue;
        }
        double analytic = grad[i];
        double abs_err = fabs(n2 - analytic);
        double rel = abs_err / fmax(fmax(fabs(n2), fabs(analytic)), floor);
        e.checked++;
        e.max_abs_error = fmax(e.max_abs_error, abs_err);
        e.max_rel_error = fmax(e.max_rel_error, rel);
    }
    g->worst = fmax(g->worst, e.max_rel_error);
    if (g->report)
        g->report(g->user, &e);
    return HEED_OK;
}

static heed_status run_check(gc *g)
{
    const heed_model *m = g->m;
    heed_status st = hs_random_inputs(g->s, g->w->dimval, g->seed, true, g->diag);
    double loss0;
    if (st == HEED_OK) {
        heed_weights_zero_grad(g->w);
        heed_session_seed(g->s, g->seed);
        st = hs_forward_opts(g->s, &g->opt, g->diag);
        loss0 = g->s->loss;
    }
    if (st == HEED_OK)
        st = heed_session_backward(g->s, g->diag);
    if (st != HEED_OK)
        return st;
    size_t bytes = g->w->floats * sizeof(float);
    float *pgrad = heed_alloc(g->w->env, bytes);
    if (!pgrad)
        return heed_fail(g->diag, HEED_ERR_NOMEM, "out of memory");
    memcpy(pgrad, g->w->grad, bytes);
    /* input gradients, copied before the plan's arena is reused */
    float *igrad[64] = {0};
    for (int i = 0; i < m->n_inputs && st == HEED_OK; i++) {
        const hp_value *v = &g->s->plan->values[m->inputs[i].value];
        if (v->grad < 0)
            continue;
        igrad[i] = heed_alloc(g->w->env, v->numel * sizeof(float));
        if (!igrad[i])
            st = heed_fail(g->diag, HEED_ERR_NOMEM, "out of memory");
        else
            memcpy(igrad[i], hs_value_ptr(g->s, m->inputs[i].value, true),
                   v->numel * sizeof(float));
    }
    /* errors far below the model's largest gradient are float32 rounding */
    for (size_t i = 0; i < g->w->floats; i++)
        g->global_scale = fmax(g->global_scale, fabs((double)pgrad[i]));
    for (int i = 0; i < m->n_inputs; i++)
        for (size_t k = 0; igrad[i] && k < g->s->plan->values[m->inputs[i].value].numel; k++)
            g->global_scale = fmax(g->global_scale, fabs((double)igrad[i][k]));
    for (int p = 0; p < g->w->n_params && st == HEED_OK; p++) {
        const hp_param *prm = &g->w->params[p];
        st = check_tensor(g, prm->name, m->nodes[prm->node].name, g->w->data + prm->offset,
                          pgrad + prm->offset, prm->numel, loss0);
    }
    for (int i = 0; i < m->n_inputs && st == HEED_OK; i++) {
        if (!igrad[i])
            continue;
        const hp_value *v = &g->s->plan->values[m->inputs[i].value];
        st = check_tensor(g, m->inputs[i].name, m->inputs[i].name, g->s->inputs[i].data,
                          igrad[i], v->numel, loss0);
    }
    for (int i = 0; i < m->n_inputs; i++)
        heed_dealloc(g->w->env, igrad[i]);
    heed_dealloc(g->w->env, pgrad);
    return st;
}

heed_status heed_gradcheck(const heed_model *m, const heed_gradcheck_options *o,
                           heed_gradcheck_fn report, void *user, double *worst, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!m)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_gradcheck: model is NULL");
    if (m->loss_node < 0)
        return heed_fail(diag, HEED_ERR_MODEL, "model '%s' has no loss: to check gradients, "
                                               "add a loss: section",
                         m->name);
    heed_gradcheck_options opt = o ? *o : (heed_gradcheck_options){0};
    gc g = {.m = m, .seed = opt.seed ? opt.seed : 1, .step = opt.step > 0 ? opt.step : 2e-2,
            .samples = opt.samples > 0 ? opt.samples : 12, .diag = diag, .report = report,
            .user = user};
    g.opt = (hp_options){.mode = HEED_MODE_TRAIN, .input_grads = true, .step_input = -1};
    heed_status st = hw_create(m, NULL, opt.dims, opt.n_dims, &g.w, diag);
    if (st != HEED_OK)
        return st;
    hw_init_params(g.w, g.seed);
    st = heed_session_new(g.w, HEED_MODE_TRAIN, &g.s, diag);
    if (st == HEED_OK)
        st = run_check(&g);
    heed_session_free(g.s);
    heed_weights_free(g.w);
    if (worst)
        *worst = g.worst;
    return st;
}
