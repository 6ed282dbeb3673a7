/*
 * weights.c - parameters in one persistent buffer (gradients and optimizer
 * state in buffers of the same layout), their seeded initialisation, and the
 * public accessors.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../ops/kernels/kernels.h"
#include "runtime.h"

/* Sizes fixed by a vocabulary come from the vocabulary, then explicit dims. */
static heed_status weights_dims(const heed_model *m, const heed_vocab *vocab,
                                const heed_dim *dims, size_t n_dims, int64_t **out,
                                heed_diag *diag)
{
    heed_status st = hp_bind_dims(m, dims, n_dims, true, out, diag);
    int64_t *v = *out;
    if (st != HEED_OK || !vocab)
        return st;
    for (int f = 0; f < m->n_fields; f++) {
        const hm_field *fd = &m->fields[f];
        bool overridden = false;
        for (size_t i = 0; i < n_dims; i++)
            overridden |= dims[i].name && !strcmp(dims[i].name, m->syms[fd->vocab_sym].name);
        if (!overridden && fd->vocab < vocab->n)
            v[fd->vocab_sym] = vocab->v[fd->vocab].n;
    }
    return HEED_OK;
}

heed_status hw_create(const heed_model *m, const heed_vocab *vocab, const heed_dim *dims,
                      size_t n_dims, size_t max_bytes, heed_weights **out, heed_diag *diag)
{
    *out = NULL;
    const heed_env *env = &m->env;
    heed_weights *w = heed_zalloc(env, 1, sizeof *w);
    if (!w)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory creating weights");
    w->m = m;
    w->env = env;
    w->train = m->train;
    heed_status bound = weights_dims(m, vocab, dims, n_dims, &w->dimval, diag);
    if (bound != HEED_OK) {
        heed_weights_free(w);
        return bound;
    }
    hp_options opt = {.mode = HEED_MODE_INFER, .step_input = -1};
    heed_plan *p;
    heed_status st = hp_build(m, w->dimval, &opt, &p, diag);
    if (st == HEED_OK && (st = hp_check_param_sizes(p, diag)) != HEED_OK)
        heed_plan_free(p);
    if (st != HEED_OK) {
        heed_weights_free(w);
        return st;
    }
    if (max_bytes && p->param_floats > max_bytes / sizeof(float)) {
        heed_fail(diag, HEED_ERR_WEIGHTS,
                  "model '%s' at these dims needs %zu bytes of parameters, more than the %zu "
                  "the weights file holds",
                  m->name, p->param_floats * sizeof(float), max_bytes);
        heed_plan_free(p);
        heed_weights_free(w);
        return HEED_ERR_WEIGHTS;
    }
    w->n_params = p->n_params;
    w->floats = p->param_floats;
    w->params = heed_pool_alloc(env, &w->pool, sizeof *w->params * (size_t)(p->n_params + 1));
    bool ok = w->params != NULL;
    for (int i = 0; ok && i < p->n_params; i++) {
        w->params[i] = p->params[i];
        w->params[i].name = heed_pool_strdup(env, &w->pool, p->params[i].name);
        ok = w->params[i].name != NULL;
    }
    heed_plan_free(p);
    size_t bytes;
    if (ok && heed_mul_ok(w->floats, sizeof(float), &bytes))
        w->data = heed_alloc_aligned(env, bytes);
    if (ok && vocab)
        w->vocab = hv_copy(vocab, m);
    if (!ok || !w->data || (vocab && !w->vocab)) {
        heed_weights_free(w);
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory creating weights");
    }
    memset(w->data, 0, bytes);
    *out = w;
    return HEED_OK;
}

/* Fan-in and fan-out as PyTorch computes them: [out, in, rest...]. */
static void fans(const heed_shape *s, float *fan_in, float *fan_out)
{
    if (s->rank < 2) {
        *fan_in = *fan_out = (float)(s->rank ? s->d[0].v : 1);
        return;
    }
    float field = 1.0f;
    for (int i = 2; i < s->rank; i++)
        field *= (float)s->d[i].v;
    *fan_in = (float)s->d[1].v * field;
    *fan_out = (float)s->d[0].v * field;
}

static void init_one(const hp_param *p, float *data, uint64_t seed)
{
    /* each parameter draws from its own stream, named after it, so adding a
     * node does not change the initial values of the others */
    uint64_t stream = heed_mix64(heed_hash_bytes(seed * 0x9e3779b97f4a7c15ull + 1, p->name,
                                                 strlen(p->name)));
    float fan_in, fan_out, a = p->init.a;
    fans(&p->shape, &fan_in, &fan_out);
    switch (p->init.kind) {
    case HEED_INIT_ZEROS: memset(data, 0, p->numel * sizeof *data); return;
    case HEED_INIT_ONES:
        for (size_t i = 0; i < p->numel; i++)
            data[i] = 1.0f;
        return;
    case HEED_INIT_XAVIER: a = sqrtf(6.0f / (fan_in + fan_out)); break;
    case HEED_INIT_KAIMING: a = sqrtf(6.0f / fan_in); break;
    case HEED_INIT_UNIFORM: break;
    case HEED_INIT_NORMAL:
        for (size_t i = 0; i < p->numel; i++) {
            /* Box-Muller from two counter-based uniforms */
            float u1 = heed_uniform(stream, 2 * i) + 0x1.0p-25f, u2 = heed_uniform(stream, 2 * i + 1);
            data[i] = a * sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
        }
        return;
    }
    for (size_t i = 0; i < p->numel; i++)
        data[i] = (2.0f * heed_uniform(stream, i) - 1.0f) * a;
}

void hw_init_params(heed_weights *w, uint64_t seed)
{
    w->seed = seed;
    for (int i = 0; i < w->n_params; i++)
        init_one(&w->params[i], w->data + w->params[i].offset, seed);
}

heed_status heed_weights_new(const heed_model *model, const heed_vocab *vocab,
                             const heed_dim *dims, size_t n_dims, uint64_t seed,
                             heed_weights **out, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!out)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_weights_new: out is NULL");
    *out = NULL;
    if (!model)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_weights_new: model is NULL");
    if (!dims && n_dims)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_weights_new: dims is NULL");
    if (vocab && !hv_fits(vocab, model))
        return heed_fail(diag, HEED_ERR_ARGUMENT,
                         "heed_weights_new: the vocabularies were built for model '%s', whose "
                         "data fields differ from those of model '%s'",
                         vocab->m->name, model->name);
    heed_status st = hw_create(model, vocab, dims, n_dims, 0, out, diag);
    if (st == HEED_OK)
        hw_init_params(*out, seed);
    return st;
}

heed_status hw_ensure_grad(heed_weights *w, heed_diag *diag)
{
    size_t bytes = w->floats * sizeof(float);
    if (!w->grad) {
        w->grad = heed_alloc_aligned(w->env, bytes);
        if (!w->grad)
            return heed_fail(diag, HEED_ERR_NOMEM, "out of memory for gradients");
        memset(w->grad, 0, bytes);
    }
    if (!w->opt1) {
        w->opt1 = heed_alloc_aligned(w->env, bytes);
        w->opt2 = heed_alloc_aligned(w->env, bytes);
        if (!w->opt1 || !w->opt2) {
            heed_dealloc_aligned(w->env, w->opt1);
            heed_dealloc_aligned(w->env, w->opt2);
            w->opt1 = w->opt2 = NULL;
            return heed_fail(diag, HEED_ERR_NOMEM, "out of memory for optimizer state");
        }
        memset(w->opt1, 0, bytes);
        memset(w->opt2, 0, bytes);
    }
    return HEED_OK;
}

void heed_weights_free(heed_weights *w)
{
    if (!w)
        return;
    const heed_env *env = w->env;
    heed_dealloc(env, w->dimval);
    heed_dealloc_aligned(env, w->data);
    heed_dealloc_aligned(env, w->grad);
    heed_dealloc_aligned(env, w->opt1);
    heed_dealloc_aligned(env, w->opt2);
    heed_vocab_free(w->vocab);
    heed_pool_free(env, w->pool);
    heed_dealloc(env, w);
}

const heed_vocab *heed_weights_vocab(const heed_weights *w)
{
    return w ? w->vocab : NULL;
}

size_t heed_weights_count(const heed_weights *w)
{
    return w ? (size_t)w->n_params : 0;
}

static void view(const hp_param *p, float *base, heed_tensor *out)
{
    out->name = p->name;
    out->dtype = HEED_F32;
    out->rank = p->shape.rank;
    for (int i = 0; i < HEED_MAX_RANK; i++)
        out->shape[i] = i < p->shape.rank ? p->shape.d[i].v : 0;
    out->data = base + p->offset;
}

heed_status heed_weights_param(heed_weights *w, size_t index, heed_tensor *out)
{
    if (!w || !out || index >= (size_t)w->n_params)
        return HEED_ERR_ARGUMENT;
    view(&w->params[index], w->data, out);
    return HEED_OK;
}

static int find_param(const heed_weights *w, const char *name)
{
    for (int i = 0; name && i < w->n_params; i++)
        if (strcmp(w->params[i].name, name) == 0)
            return i;
    return -1;
}

heed_status heed_weights_find(heed_weights *w, const char *name, heed_tensor *out)
{
    int i = w && out ? find_param(w, name) : -1;
    if (i < 0)
        return HEED_ERR_ARGUMENT;
    view(&w->params[i], w->data, out);
    return HEED_OK;
}

heed_status heed_weights_grad(heed_weights *w, const char *name, heed_tensor *out)
{
    int i = w && out ? find_param(w, name) : -1;
    if (i < 0)
        return HEED_ERR_ARGUMENT;
    if (!w->grad)
        return HEED_ERR_STATE;
    view(&w->params[i], w->grad, out);
    return HEED_OK;
}

void heed_weights_zero_grad(heed_weights *w)
{
    if (w && w->grad)
        heed_zero(w->grad, w->floats * sizeof(float));
}

int64_t heed_weights_steps(const heed_weights *w)
{
    return w ? w->steps : 0;
}

/* ------------------------------------------------------------ averaging */

/* The dim vocabulary k binds ("V_src"), for messages. */
static const char *vocab_label(const heed_model *m, int k)
{
    for (int f = 0; f < m->n_fields; f++)
        if (m->fields[f].vocab == k)
            return m->syms[m->fields[f].vocab_sym].name;
    return "?";
}

/* Why b's vocabularies differ from a's, in `why`; false when they are equal. */
static bool vocab_differs(const heed_vocab *a, const heed_vocab *b, char *why, size_t cap)
{
    if (!a || !b) {
        snprintf(why, cap, a ? "it has no vocabularies" : "it has vocabularies");
        return a != b;
    }
    for (int f = 0; f < a->m->n_fields && f < b->m->n_fields; f++)
        if (a->tokens[f] != b->tokens[f]) {
            snprintf(why, cap, "field '%s' is tokenised as %s, not %s", a->m->fields[f].input,
                     hv_tokens_name(b->tokens[f]), hv_tokens_name(a->tokens[f]));
            return true;
        }
    for (int k = 0; k < a->n && k < b->n; k++) {
        const hv_vocab *x = &a->v[k], *y = &b->v[k];
        for (int i = 0; i < x->n && i < y->n; i++)
            if (strcmp(x->tokens[i], y->tokens[i]) != 0) {
                snprintf(why, cap, "%s: token %d is '%s', not '%s'", vocab_label(a->m, k), i,
                         y->tokens[i], x->tokens[i]);
                return true;
            }
        if (x->n != y->n) {
            snprintf(why, cap, "%s has %d tokens, not %d", vocab_label(a->m, k), y->n, x->n);
            return true;
        }
    }
    return false;
}

/* "[768, 64]": a shape's values (two files may bind a dim differently). */
static void shape_numbers(const heed_shape *s, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < s->rank && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", d ? ", " : "", (long long)s->d[d].v);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
}

/* Checks that `o` has `w`'s layout: the same parameters, shapes and vocabularies. */
static heed_status same_layout(const heed_weights *w, const heed_weights *o, heed_diag *diag)
{
    char why[320];
    if (o->n_params != w->n_params)
        return heed_fail(diag, HEED_ERR_WEIGHTS, "it has %d parameters, not %d", o->n_params,
                         w->n_params);
    for (int i = 0; i < w->n_params; i++) {
        const hp_param *p = &w->params[i], *q = &o->params[i];
        char a[96], b[96];
        shape_numbers(&p->shape, a, sizeof a);
        shape_numbers(&q->shape, b, sizeof b);
        if (strcmp(p->name, q->name) != 0 || strcmp(a, b) != 0)
            return heed_fail(diag, HEED_ERR_WEIGHTS,
                             "its parameter %d is '%s' %s, not '%s' %s", i, q->name, b,
                             p->name, a);
    }
    if (vocab_differs(w->vocab, o->vocab, why, sizeof why))
        return heed_fail(diag, HEED_ERR_WEIGHTS, "its vocabularies differ: %s", why);
    return HEED_OK;
}

heed_status heed_weights_blend(heed_weights *into, const heed_weights *other, double t,
                               heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!into || !other)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_weights_blend: NULL argument");
    if (!(t >= 0.0 && t <= 1.0))
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_weights_blend: t is %g, not in [0, 1]",
                         t);
    heed_status st = same_layout(into, other, diag);
    if (st != HEED_OK)
        return st;
    float a = (float)(1.0 - t), b = (float)t;
    for (size_t i = 0; i < into->floats; i++)
        into->data[i] = a * into->data[i] + b * other->data[i];
    into->has_state = false;
    return HEED_OK;
}
