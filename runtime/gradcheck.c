/*
 * gradcheck.c - backward against finite differences for a whole model:
 * random inputs (ids with random padded lengths), analytic gradients of the
 * loss from one backward pass, then for the largest gradients of every
 * parameter and float input, Richardson-extrapolated central differences
 * with dropout masks held fixed, skipping points beside a kink.
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

/* The indices of the k largest |grad|, no repeats. */
static int pick_largest(const float *grad, size_t n, int k, size_t *out)
{
    int count = 0;
    for (; count < k && (size_t)count < n; count++) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            bool used = false;
            for (int j = 0; j < count && !used; j++)
                used = out[j] == i;
            if (!used && (best == SIZE_MAX || fabsf(grad[i]) > fabsf(grad[best])))
                best = i;
        }
        out[count] = best;
    }
    return count;
}

/* The element a finite difference perturbs. */
typedef struct probe {
    float *x;
    size_t at;
} probe;

/* (L(x+h) - L(x-h)) / 2h, restoring x; the one-sided slopes into fwd, bwd
 * (from the loss at x, l0). */
static heed_status central_difference(gc *g, probe *p, double h, double l0, double *out,
                                      double *fwd, double *bwd)
{
    double lp = 0, lm = 0;
    float orig = p->x[p->at];
    p->x[p->at] = orig + (float)h;
    heed_status st = loss_at(g, &lp);
    p->x[p->at] = orig - (float)h;
    if (st == HEED_OK)
        st = loss_at(g, &lm);
    p->x[p->at] = orig;
    /* the step actually taken, after rounding to float */
    double taken = (double)(orig + (float)h) - (double)(orig - (float)h);
    *out = (lp - lm) / taken;
    *fwd = (lp - l0) / (taken / 2);
    *bwd = (l0 - lm) / (taken / 2);
    return st;
}

/* The rounding of a float32 loss near L, seen through a slope over h. */
static double rounding(double l0, double h)
{
    return 4.0 * 1.19e-7 * fmax(fabs(l0), 1e-3) / h;
}

/* Estimates the slope at x. Central differences at steps h and h/2 are
 * combined by Richardson extrapolation, (4 D(h/2) - D(h)) / 3, which cancels
 * their O(h^2) error. A step counts only where the loss is free of kinks
 * around x: a kink (ReLU at 0) makes the one-sided slopes (L(x+h) - L(x)) / h
 * and (L(x) - L(x-h)) / h differ by its jump however small h is, while
 * smooth curvature makes them differ in proportion to h. Steps halve until
 * two consecutive ones are clean and agree, or until the loss's own float32
 * rounding dominates; *agree is false then and the point is skipped. A gap
 * counts as shrinking only while it stands well above the rounding: the
 * rounding allowance, which grows as h shrinks, had let a kink's steady gap
 * pass for curvature (a ReLU classifier's hidden.weight, 6% off). */
static heed_status estimate(gc *g, probe *p, double l0, double *value, double *noise, bool *agree)
{
    double prev = 0.0, prev_gap = 0.0;
    bool prev_clean = false;
    *agree = false;
    heed_status st = HEED_OK;
    for (int level = 0; level < 10 && st == HEED_OK; level++) {
        double h = g->step / (double)(1 << level), c, fwd, bwd;
        if ((st = central_difference(g, p, h, l0, &c, &fwd, &bwd)) != HEED_OK)
            break;
        double r = rounding(l0, h), slope = fmax(fabs(fwd), fabs(bwd)), gap = fabs(fwd - bwd);
        /* clean: the one-sided slopes agree, or their gap halved with the
         * step (curvature); a kink's gap does not shrink */
        bool clean = gap <= 0.02 * slope + 2.0 * r ||
                     (level > 0 && prev_gap > 4.0 * r && gap <= 0.6 * prev_gap + r);
        if (clean && prev_clean && fabs(c - prev) <= 0.05 * fmax(fabs(c), fabs(prev)) + 2.0 * r) {
            *value = (4.0 * c - prev) / 3.0;
            *noise = r;
            *agree = true;
            break;
        }
        if (r > 0.05 * slope)
            break; /* smaller steps would only measure rounding */
        prev = c;
        prev_gap = gap;
        prev_clean = clean;
    }
    return st;
}

static void record(heed_gradcheck_entry *e, double numeric, double analytic, double floor)
{
    double abs_err = fabs(numeric - analytic);
    double rel = abs_err / fmax(fmax(fabs(numeric), fabs(analytic)), floor);
    /* fmax drops a NaN: a gradient that is NaN or infinite is as wrong as
     * can be, not left out */
    if (!isfinite(rel))
        abs_err = rel = INFINITY;
    e->checked++;
    e->max_abs_error = fmax(e->max_abs_error, abs_err);
    e->max_rel_error = fmax(e->max_rel_error, rel);
}

/* Checks `grad` for the data `x` (which the forward reads), element by
 * element where the gradients are largest. */
static heed_status check_tensor(gc *g, const char *tensor, const char *node, float *x,
                                const float *grad, size_t n, double loss0)
{
    size_t idx[64];
    int k = pick_largest(grad, n, g->samples < 64 ? g->samples : 64, idx);
    double scale = 0.0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)grad[i]));
    double floor = fmax(1e-2 * scale, 2e-3 * g->global_scale);
    heed_gradcheck_entry e = {tensor, node, 0, 0.0, 0.0, 0};
    for (int j = 0; j < k; j++) {
        probe p = {x, idx[j]};
        double numeric = 0.0, noise = 0.0;
        bool agree;
        heed_status st = estimate(g, &p, loss0, &numeric, &noise, &agree);
        if (st != HEED_OK)
            return st;
        if (!agree) {
            e.skipped++;
            continue;
        }
        record(&e, numeric, grad[idx[j]], fmax(floor, 2.0 * noise));
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
    /* differences of an infinite or NaN loss compare nothing */
    if (st == HEED_OK && !isfinite(loss0))
        st = heed_fail(g->diag, HEED_ERR_NUMERICS,
                       "the loss is %s on the random inputs (seed %llu): no gradient can be "
                       "checked at these dims and seed",
                       isnan(loss0) ? "NaN" : "infinite", (unsigned long long)g->seed);
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
    if (!opt.dims && opt.n_dims)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_gradcheck: dims is NULL");
    gc g = {.m = m, .seed = opt.seed ? opt.seed : 1, .step = opt.step > 0 ? opt.step : 2e-2,
            .samples = opt.samples > 0 ? opt.samples : 12, .diag = diag, .report = report,
            .user = user};
    g.opt = (hp_options){.mode = HEED_MODE_TRAIN, .input_grads = true, .step_input = -1};
    heed_status st = hw_create(m, NULL, opt.dims, opt.n_dims, 0, &g.w, diag);
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
