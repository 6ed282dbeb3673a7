/*
 * session.c - the executor. A session binds run-time dims from the inputs it
 * is given, compiles (or finds in its cache) the plan for that binding, and
 * runs the plan's steps over one arena. Nothing is allocated per step; the
 * arena grows only when a larger binding arrives.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../ops/kernels/kernels.h"
#include "runtime.h"

heed_status heed_session_new(heed_weights *w, heed_mode mode, heed_session **out,
                             heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!out)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_session_new: out is NULL");
    *out = NULL;
    if (!w)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_session_new: weights is NULL");
    if (mode != HEED_MODE_INFER && mode != HEED_MODE_TRAIN)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_session_new: unknown mode %d", (int)mode);
    const heed_model *m = w->m;
    if (mode == HEED_MODE_TRAIN && m->loss_node < 0)
        return heed_fail(diag, HEED_ERR_MODEL, "model '%s' has no loss: it cannot be trained",
                         m->name);
    heed_session *s = heed_zalloc(w->env, 1, sizeof *s);
    if (!s)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory creating a session");
    s->w = w;
    s->m = m;
    s->env = w->env;
    s->mode = mode;
    s->threads = w->env->threads;
    s->seed = m->train.seed;
    s->step_input = -1;
    s->loss = NAN;
    s->inputs = heed_zalloc(s->env, (size_t)m->n_inputs + 1, sizeof *s->inputs);
    s->dims = heed_zalloc(s->env, (size_t)m->n_syms + 1, sizeof *s->dims);
    s->carry = heed_zalloc(s->env, (size_t)m->n_nodes + 1, sizeof *s->carry);
    s->carry_cap = heed_zalloc(s->env, (size_t)m->n_nodes + 1, sizeof *s->carry_cap);
    heed_status st = s->inputs && s->dims && s->carry && s->carry_cap
                         ? HEED_OK
                         : heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    if (st == HEED_OK && mode == HEED_MODE_TRAIN)
        st = hw_ensure_grad(w, diag);
    if (st != HEED_OK) {
        heed_session_free(s);
        return st;
    }
    *out = s;
    return HEED_OK;
}

void heed_session_free(heed_session *s)
{
    if (!s)
        return;
    const heed_env *env = s->env;
    for (int i = 0; s->inputs && i < s->m->n_inputs; i++)
        heed_dealloc(env, s->inputs[i].data);
    for (int i = 0; i < HS_CACHE; i++) {
        heed_plan_free(s->cache[i].plan);
        heed_dealloc(env, s->cache[i].dims);
    }
    for (int i = 0; s->carry && i < s->m->n_nodes; i++)
        heed_dealloc(env, s->carry[i]);
    heed_dealloc(env, s->prof_fwd);
    heed_dealloc(env, s->prof_bwd);
    heed_dealloc(env, s->prof_calls);
    heed_dealloc(env, s->carry);
    heed_dealloc(env, s->carry_cap);
    heed_dealloc(env, s->inputs);
    heed_dealloc(env, s->dims);
    heed_dealloc_aligned(env, s->arena);
    heed_dealloc(env, s->lens);
    heed_dealloc(env, s);
}

void heed_session_set_threads(heed_session *s, int threads)
{
    if (s)
        s->threads = threads > 0 ? threads : 0;
}

void heed_session_check_numerics(heed_session *s, int enable)
{
    if (s)
        s->check_numerics = enable != 0;
}

void heed_session_keep_all(heed_session *s, int enable)
{
    if (s)
        s->keep_all = enable != 0;
}

int64_t heed_session_runs(const heed_session *s)
{
    return s ? s->runs : 0;
}

void heed_session_set_runs(heed_session *s, int64_t runs)
{
    if (s && runs >= 0)
        s->runs = runs;
}

void heed_session_input_grads(heed_session *s, int enable)
{
    if (s)
        s->input_grads = enable != 0;
}

void heed_session_seed(heed_session *s, uint64_t seed)
{
    if (s) {
        s->seed = seed;
        s->runs = 0;
    }
}

float heed_session_loss(const heed_session *s)
{
    return s ? s->loss : NAN;
}

const heed_plan *heed_session_plan(const heed_session *s)
{
    return s ? s->plan : NULL;
}

/* ------------------------------------------------------------ inputs */

heed_status heed_session_set_input(heed_session *s, const char *name, const heed_tensor *t,
                                   heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!s || !t)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_session_set_input: NULL argument");
    const heed_model *m = s->m;
    int i = hm_input_index(m, name);
    if (i < 0) {
        const char *names[64];
        size_t n = 0;
        for (int k = 0; k < m->n_inputs && n < 64; k++)
            names[n++] = m->inputs[k].name;
        const char *best = name ? heed_did_you_mean(name, names, n) : NULL;
        return heed_fail(diag, HEED_ERR_ARGUMENT, "model '%s' has no input '%s'%s%s%s", m->name,
                         name ? name : "(null)", best ? "; did you mean '" : "",
                         best ? best : "", best ? "'?" : "");
    }
    const hm_input *in = &m->inputs[i];
    if (t->rank != in->rank)
        return heed_fail(diag, HEED_ERR_SHAPE, "input '%s' has rank %d, the model declares %d",
                         name, t->rank, in->rank);
    if (t->dtype != HEED_F32 && t->dtype != HEED_I32)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "input '%s': dtype %d is neither HEED_F32 "
                                                  "nor HEED_I32", name, (int)t->dtype);
    if (t->dtype != in->dtype)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "input '%s' holds %s, the model expects %s",
                         name, in->dtype == HEED_I32 ? "floats" : "token ids",
                         in->dtype == HEED_I32 ? "int32 token ids" : "floats");
    for (int d = 0; d < t->rank; d++)
        if (t->shape[d] <= 0 || t->shape[d] > HEED_MAX_DIM_VALUE)
            return heed_fail(diag, HEED_ERR_SHAPE, "input '%s': dim %d is %lld, outside 1..%lld",
                             name, d + 1, (long long)t->shape[d], (long long)HEED_MAX_DIM_VALUE);
    /* the element count after the dims are known good, so its limit (not a
     * dim) is what an overflow or a huge tensor reports */
    size_t n = 1, bytes = 0;
    bool fits = true;
    for (int d = 0; d < t->rank && fits; d++)
        fits = heed_mul_ok(n, (size_t)t->shape[d], &n) && n <= ((size_t)1 << 40);
    if (!fits || !heed_mul_ok(n, 4, &bytes))
        return heed_fail(diag, HEED_ERR_LIMIT,
                         "input '%s' is too large: more than 2^40 elements", name);
    hs_input *si = &s->inputs[i];
    if (bytes > si->cap) {
        void *p = heed_realloc(s->env, si->data, bytes);
        if (!p)
            return heed_fail(diag, HEED_ERR_NOMEM, "out of memory for input '%s'", name);
        si->data = p;
        si->cap = bytes;
    }
    if (t->data)
        memcpy(si->data, t->data, bytes);
    else
        memset(si->data, 0, bytes);
    si->rank = t->rank;
    for (int d = 0; d < HEED_MAX_RANK; d++)
        si->shape[d] = d < t->rank ? t->shape[d] : 0;
    si->dtype = t->dtype;
    si->set = true;
    return HEED_OK;
}

/* The run-time dims from the inputs' shapes, checked against each other. */
static heed_status bind_from_inputs(heed_session *s, heed_diag *diag)
{
    const heed_model *m = s->m;
    memcpy(s->dims, s->w->dimval, sizeof *s->dims * (size_t)m->n_syms);
    int *from = heed_zalloc(s->env, (size_t)m->n_syms + 1, sizeof *from);
    if (!from)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    for (int k = 0; k < m->n_syms; k++)
        from[k] = -1;
    heed_status st = HEED_OK;
    for (int i = 0; i < m->n_inputs && st == HEED_OK; i++) {
        const hm_input *in = &m->inputs[i];
        const hs_input *si = &s->inputs[i];
        if (!si->set) {
            st = heed_fail(diag, HEED_ERR_STATE, "input '%s' was not set", in->name);
            break;
        }
        for (int d = 0; d < in->rank && st == HEED_OK; d++) {
            int64_t got = si->shape[d];
            int sym = in->sym[d];
            if (sym < 0) {
                if (got != in->lit[d])
                    st = heed_fail(diag, HEED_ERR_SHAPE,
                                   "input '%s': dim %d is %lld but the model fixes it at %lld",
                                   in->name, d + 1, (long long)got, (long long)in->lit[d]);
            } else if (m->syms[sym].kind == HM_SYM_FIXED && s->dims[sym] != got) {
                st = heed_fail(diag, HEED_ERR_SHAPE,
                               "input '%s': dim %d (%s) is %lld but the model fixes %s = %lld",
                               in->name, d + 1, m->syms[sym].name, (long long)got, m->syms[sym].name,
                               (long long)s->dims[sym]);
            } else if (from[sym] >= 0 && s->dims[sym] != got) {
                st = heed_fail(diag, HEED_ERR_SHAPE,
                               "input '%s': dim %d (%s) is %lld but input '%s' gives %s = %lld",
                               in->name, d + 1, m->syms[sym].name, (long long)got,
                               m->inputs[from[sym]].name, m->syms[sym].name,
                               (long long)s->dims[sym]);
            } else {
                s->dims[sym] = got;
                from[sym] = i;
            }
        }
    }
    heed_dealloc(s->env, from);
    return st;
}

/* ------------------------------------------------------------ plans */

static bool same_opts(const hp_options *a, const hp_options *b)
{
    return a->mode == b->mode && a->input_grads == b->input_grads && a->keep_all == b->keep_all &&
           a->step_input == b->step_input && a->naive == b->naive;
}

static heed_status get_plan(heed_session *s, const hp_options *opt, heed_diag *diag)
{
    const heed_model *m = s->m;
    size_t dims_bytes = sizeof *s->dims * (size_t)m->n_syms;
    s->tick++;
    for (int i = 0; i < HS_CACHE; i++) {
        hs_cached *c = &s->cache[i];
        if (c->plan && same_opts(&c->plan->opt, opt) && !memcmp(c->dims, s->dims, dims_bytes)) {
            c->used = s->tick;
            s->plan = c->plan;
            return HEED_OK;
        }
    }
    int slot = 0;
    for (int i = 1; i < HS_CACHE; i++)
        if (s->cache[i].used < s->cache[slot].used)
            slot = i;
    hs_cached *c = &s->cache[slot];
    heed_plan *p;
    heed_status st = hp_build(m, s->dims, opt, &p, diag);
    if (st != HEED_OK)
        return st;
    if (p->n_params != s->w->n_params || p->param_floats != s->w->floats) {
        heed_plan_free(p);
        return heed_fail(diag, HEED_ERR_STATE, "the plan's parameters differ from the weights'");
    }
    if (!c->dims)
        c->dims = heed_zalloc(s->env, (size_t)m->n_syms + 1, sizeof *c->dims);
    if (!c->dims) {
        heed_plan_free(p);
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    }
    if (s->plan == c->plan)
        s->plan = NULL;
    heed_plan_free(c->plan);
    memcpy(c->dims, s->dims, dims_bytes);
    c->plan = p;
    c->used = s->tick;
    s->plan = p;
    return HEED_OK;
}

static heed_status ensure_memory(heed_session *s, heed_diag *diag)
{
    const heed_plan *p = s->plan;
    if (p->arena > s->arena_cap) {
        heed_dealloc_aligned(s->env, s->arena);
        s->arena = heed_alloc_aligned(s->env, p->arena);
        s->arena_cap = s->arena ? p->arena : 0;
        if (!s->arena)
            return heed_fail(diag, HEED_ERR_NOMEM, "out of memory for a %zu-byte arena",
                             p->arena);
        s->have_forward = false;
    }
    size_t need = 0;
    for (int i = 0; i < s->m->n_inputs; i++)
        need += (size_t)(s->inputs[i].rank ? s->inputs[i].shape[0] : 1);
    if (need > s->lens_cap) {
        int32_t *l = heed_realloc(s->env, s->lens, need * sizeof *l);
        if (!l)
            return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
        s->lens = l;
        s->lens_cap = need;
    }
    for (int n = 0; n < s->m->n_nodes; n++) {
        size_t want = p->nodes[n].carry_floats;
        if (want > s->carry_cap[n]) {
            float *c = heed_realloc(s->env, s->carry[n], want * sizeof *c);
            if (!c)
                return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
            s->carry[n] = c;
            s->carry_cap[n] = want;
        }
    }
    return HEED_OK;
}

static void *buf_ptr(const heed_session *s, int buf)
{
    return buf >= 0 ? (char *)s->arena + s->plan->bufs[buf].offset : NULL;
}

void *hs_value_ptr(heed_session *s, int value, bool grad)
{
    const hp_value *v = &s->plan->values[value];
    return buf_ptr(s, grad ? v->grad : v->buf);
}

static int32_t *lengths_of(heed_session *s, int input)
{
    size_t off = 0;
    for (int i = 0; i < input; i++)
        off += (size_t)(s->inputs[i].rank ? s->inputs[i].shape[0] : 1);
    return s->lens + off;
}

/* Copies inputs into the arena; lengths come from the last non-pad id. */
static void load_inputs(heed_session *s, bool only_step)
{
    const heed_model *m = s->m;
    for (int i = 0; i < m->n_inputs; i++) {
        if (only_step && i != s->step_input)
            continue;
        const hp_value *v = &s->plan->values[m->inputs[i].value];
        memcpy(buf_ptr(s, v->buf), s->inputs[i].data, v->numel * 4);
        if (v->len_src != i)
            continue;
        const int32_t *ids = s->inputs[i].data;
        int64_t B = v->shape.d[0].v, T = v->shape.d[1].v;
        int32_t *len = lengths_of(s, i);
        for (int64_t b = 0; b < B; b++) {
            int64_t l = T;
            while (l > 0 && ids[b * T + l - 1] == HEED_PAD_ID)
                l--;
            len[b] = (int32_t)l;
        }
    }
}

/* ------------------------------------------------------------ steps */

static bool all_finite(const float *x, size_t n)
{
    int bad = 0;
    HEED_FOR_IF(n > 65536, reduction(| : bad), for (size_t i = 0; i < n; i++),
        bad |= !isfinite(x[i]););
    return !bad;
}

static heed_status numerics_error(heed_session *s, int node, const char *what, bool bwd,
                                  heed_diag *diag)
{
    const hm_node *mn = &s->m->nodes[node];
    heed_srcpos pos = hm_pos(s->m, mn->at);
    heed_diag_add(diag, HEED_ERR_NUMERICS, &pos, mn->name,
                  "node '%s' (%s) produced a NaN or infinity in %s%s during %s of run %lld",
                  mn->name, mn->op->name, bwd ? "the gradient of " : "", what,
                  bwd ? "backward" : "forward", (long long)s->runs);
    return HEED_ERR_NUMERICS;
}

/* Token ids must fit the vocabulary of the node that reads them. */
static heed_status check_ids(const heed_session *s, int node, void *const *in, heed_diag *diag)
{
    const hm_node *mn = &s->m->nodes[node];
    const hp_node *pn = &s->plan->nodes[node];
    for (int i = 0; i < mn->n_in; i++) {
        int64_t limit = pn->ids_limit[i];
        const hp_value *v = &s->plan->values[mn->in[i]];
        /* stepping, a node's own sequence length is its whole length, not
         * the step's one position (the node clamps it to that); a source's
         * lengths are checked as ever */
        if (limit <= 0 || v->dtype != HEED_I32 || (pn->ids_steps[i] && s->step_input >= 0))
            continue;
        const int32_t *ids = in[i];
        for (size_t k = 0; k < v->numel; k++) {
            if (ids[k] >= 0 && ids[k] < limit)
                continue;
            int64_t cols = v->shape.rank >= 2 ? v->shape.d[v->shape.rank - 1].v : 1;
            heed_srcpos pos = hm_pos(s->m, mn->at);
            if (pn->ids_lengths[i]) {
                heed_diag_add(diag, HEED_ERR_DATA, &pos, mn->name,
                              "node '%s': '%s' holds length %d at [%lld], outside [0, %lld] "
                              "(the sequence's steps)",
                              mn->name, s->m->values[mn->in[i]].name, ids[k], (long long)k,
                              (long long)(limit - 1));
                return HEED_ERR_DATA;
            }
            heed_diag_add(diag, HEED_ERR_DATA, &pos, mn->name,
                          "node '%s': '%s' holds token id %d at [%lld,%lld], outside [0, %lld)",
                          mn->name, s->m->values[mn->in[i]].name, ids[k],
                          (long long)(k / (size_t)cols), (long long)(k % (size_t)cols),
                          (long long)limit);
            return HEED_ERR_DATA;
        }
    }
    return HEED_OK;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static heed_status run_step_timed(heed_session *s, const hp_step *step, heed_diag *diag);

static heed_status run_step(heed_session *s, const hp_step *step, heed_diag *diag)
{
    if (!s->profile || !s->prof_fwd)
        return run_step_timed(s, step, diag);
    double t0 = now_seconds();
    heed_status st = run_step_timed(s, step, diag);
    double dt = now_seconds() - t0;
    if (step->bwd) {
        s->prof_bwd[step->node] += dt;
    } else {
        s->prof_fwd[step->node] += dt;
        s->prof_calls[step->node]++;
    }
    return st;
}

static heed_status run_step_timed(heed_session *s, const hp_step *step, heed_diag *diag)
{
    const heed_plan *p = s->plan;
    const heed_model *m = s->m;
    const hm_node *mn = &m->nodes[step->node];
    const hp_node *pn = &p->nodes[step->node];
    for (int z = 0; z < step->zero_count; z++) {
        const hp_buf *b = &p->bufs[p->zero[step->zero_first + z]];
        heed_zero((char *)s->arena + b->offset, b->bytes);
    }
    void *in[HEED_MAX_INPUTS];
    float *din[HEED_MAX_INPUTS], *out[HEED_MAX_OUTPUTS], *saved[HEED_MAX_SAVED];
    const float *dout[HEED_MAX_OUTPUTS];
    float *param[HEED_MAX_PARAMS], *dparam[HEED_MAX_PARAMS];
    const int32_t *len[HEED_MAX_INPUTS];
    for (int i = 0; i < mn->n_in; i++) {
        const hp_value *v = &p->values[mn->in[i]];
        in[i] = buf_ptr(s, v->buf);
        din[i] = step->bwd ? buf_ptr(s, v->grad) : NULL;
        len[i] = v->len_src >= 0 ? lengths_of(s, v->len_src) : NULL;
    }
    for (int o = 0; o < mn->n_out; o++) {
        const hp_value *v = &p->values[mn->out[o]];
        out[o] = v->defined ? buf_ptr(s, v->buf) : NULL;
        dout[o] = step->bwd && v->defined ? buf_ptr(s, v->grad) : NULL;
    }
    for (int k = 0; k < pn->n_params; k++) {
        const hp_param *prm = &p->params[pn->param[k]];
        param[k] = s->w->data + prm->offset;
        dparam[k] = step->bwd && s->w->grad ? s->w->grad + prm->offset : NULL;
    }
    for (int k = 0; k < pn->n_saved; k++)
        saved[k] = buf_ptr(s, pn->saved[k]);
    char err[512] = "";
    heed_exec x = {
        .cfg = pn->cfg,
        .in_shape = pn->in_shape,
        .out_shape = pn->out_shape,
        .in = in,
        .out = out,
        .din = din,
        .dout = dout,
        .param = param,
        .dparam = dparam,
        .saved = saved,
        .ws = buf_ptr(s, pn->ws[step->bwd ? 1 : 0]),
        .len = len,
        /* only nodes fed by the decoded input carry state; the encoder runs once */
        .carry = pn->step && pn->carry_floats ? s->carry[step->node] : NULL,
        .step = pn->step ? s->step : -1,
        .threads = s->threads,
        .training = s->mode == HEED_MODE_TRAIN,
        .smoothing = s->mode == HEED_MODE_TRAIN ? s->w->train.label_smoothing : 0.0f,
        .seed = heed_mix64(s->seed ^ heed_mix64((uint64_t)s->runs * 1000003u + (uint64_t)step->node)),
        .error = err,
        .error_cap = sizeof err,
    };
    if (!step->bwd) {
        heed_status st = check_ids(s, step->node, in, diag);
        if (st != HEED_OK)
            return st;
        st = mn->op->forward(&x);
        if (st != HEED_OK) {
            heed_srcpos pos = hm_pos(m, mn->at);
            heed_diag_add(diag, st, &pos, mn->name, "node '%s': %s", mn->name,
                          err[0] ? err : heed_status_string(st));
            return st;
        }
        if (s->check_numerics)
            for (int o = 0; o < mn->n_out; o++) {
                const hp_value *v = &p->values[mn->out[o]];
                if (v->defined && v->dtype == HEED_F32 && !all_finite(out[o], v->numel))
                    return numerics_error(s, step->node, m->values[mn->out[o]].name, false, diag);
            }
        return HEED_OK;
    }
    mn->op->backward(&x);
    if (s->check_numerics) {
        for (int i = 0; i < mn->n_in; i++)
            if (din[i] && !all_finite(din[i], p->values[mn->in[i]].numel))
                return numerics_error(s, step->node, m->values[mn->in[i]].name, true, diag);
        for (int k = 0; k < pn->n_params; k++)
            if (dparam[k] && !all_finite(dparam[k], p->params[pn->param[k]].numel))
                return numerics_error(s, step->node, p->params[pn->param[k]].name, true, diag);
    }
    return HEED_OK;
}

static void set_threads(const heed_session *s)
{
    /* the calling thread's own setting: OpenMP regions and OpenMP OpenBLAS follow it */
    if (s->threads > 0)
        omp_set_num_threads(s->threads);
}

static heed_status forward_run(heed_session *s, const hp_options *opt, heed_diag *diag)
{
    bool stepping = opt->step_input >= 0 && s->step > 0 && s->plan &&
                    same_opts(&s->plan->opt, opt);
    heed_status st;
    /* until it ends well, nothing of this pass or the last may be read: a
     * failed allocation below frees the arena the last pass wrote */
    s->have_forward = false;
    s->failed_forward = true;
    s->loss = NAN;
    if (!stepping) {
        if ((st = bind_from_inputs(s, diag)) != HEED_OK || (st = get_plan(s, opt, diag)) != HEED_OK ||
            (st = ensure_memory(s, diag)) != HEED_OK)
            return st;
    } else {
        /* later decoding steps: the binding and plan stay; only the fed input changes */
        const hs_input *si = &s->inputs[opt->step_input];
        const hp_value *v = &s->plan->values[s->m->inputs[opt->step_input].value];
        if (si->shape[0] != v->shape.d[0].v || si->shape[1] != v->shape.d[1].v)
            return heed_fail(diag, HEED_ERR_SHAPE, "a decoding step changed the shape of '%s'",
                             s->m->inputs[opt->step_input].name);
    }
    load_inputs(s, stepping);
    s->runs++;
    const heed_plan *p = s->plan;
    for (int i = 0; i < p->n_fwd_steps; i++) {
        if (stepping && !p->nodes[p->steps[i].node].step)
            continue;
        if ((st = run_step(s, &p->steps[i], diag)) != HEED_OK)
            return st;
    }
    if (opt->step_input >= 0)
        s->step++;
    s->have_forward = true;
    s->failed_forward = false;
    if (s->m->loss_node >= 0) {
        const hp_value *lv = &p->values[s->m->nodes[s->m->loss_node].out[0]];
        if (lv->defined)
            s->loss = *(float *)buf_ptr(s, lv->buf);
    }
    return HEED_OK;
}

heed_status hs_forward_opts(heed_session *s, const hp_options *opt, heed_diag *diag)
{
    set_threads(s);
    heed_fpmode fm = heed_fpmode_enter(s->threads);
    heed_status st = forward_run(s, opt, diag);
    heed_fpmode_leave(fm, s->threads);
    return st;
}

heed_status heed_session_forward(heed_session *s, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!s)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_session_forward: session is NULL");
    hp_options opt = {.mode = s->mode, .step_input = s->step_input, .keep_all = s->keep_all,
                      .input_grads = s->input_grads};
    return hs_forward_opts(s, &opt, diag);
}

heed_status heed_session_backward(heed_session *s, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!s)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_session_backward: session is NULL");
    if (s->mode != HEED_MODE_TRAIN)
        return heed_fail(diag, HEED_ERR_STATE, "backward needs a session made with "
                                               "HEED_MODE_TRAIN");
    if (!s->have_forward)
        return heed_fail(diag, HEED_ERR_STATE, s->failed_forward
                                                   ? "backward needs a forward pass, and the "
                                                     "last one failed"
                                                   : "backward needs a forward pass first");
    set_threads(s);
    const heed_plan *p = s->plan;
    const hp_value *lv = &p->values[s->m->nodes[s->m->loss_node].out[0]];
    float *seed = buf_ptr(s, lv->grad);
    if (seed)
        *seed = 1.0f;
    heed_fpmode fm = heed_fpmode_enter(s->threads);
    heed_status st = HEED_OK;
    for (int i = p->n_fwd_steps; i < p->n_steps && st == HEED_OK; i++)
        st = run_step(s, &p->steps[i], diag);
    heed_fpmode_leave(fm, s->threads);
    s->have_forward = false; /* backward consumed the saved buffers (or failed part-way) */
    return st;
}

static heed_status train_step(heed_session *s, float *loss, heed_diag *diag)
{
    heed_weights_zero_grad(s->w);
    heed_status st = heed_session_forward(s, diag);
    if (st != HEED_OK)
        return st;
    if (loss)
        *loss = s->loss;
    if (!isfinite(s->loss))
        return heed_fail(diag, HEED_ERR_NUMERICS,
                         "the loss is %s at step %lld: training diverged (lower the learning "
                         "rate or set train: clip); weights left unchanged",
                         isnan(s->loss) ? "NaN" : "infinite", (long long)s->w->steps + 1);
    if ((st = heed_session_backward(s, diag)) != HEED_OK)
        return st;
    return heed_weights_step(s->w, NULL, diag);
}

heed_status heed_session_train_step(heed_session *s, float *loss, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!s)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_session_train_step: session is NULL");
    if (s->mode != HEED_MODE_TRAIN) /* before forward: a model without a loss gives NaN */
        return heed_fail(diag, HEED_ERR_STATE, "a training step needs a session made with "
                                               "HEED_MODE_TRAIN");
    set_threads(s);
    heed_fpmode fm = heed_fpmode_enter(s->threads); /* once for all three parts */
    heed_status st = train_step(s, loss, diag);
    heed_fpmode_leave(fm, s->threads);
    return st;
}

heed_status heed_session_get(heed_session *s, const char *name, heed_tensor *out,
                             heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!s || !name || !out)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_session_get: NULL argument");
    if (!s->plan || !s->arena)
        return heed_fail(diag, HEED_ERR_STATE, "no forward pass has run");
    if (s->failed_forward)
        return heed_fail(diag, HEED_ERR_STATE,
                         "the last forward pass failed: there are no values to read");
    bool grad = strncmp(name, "grad:", 5) == 0;
    const char *vname = grad ? name + 5 : name;
    int v = hm_value_find(s->m, vname);
    if (v < 0) {
        const char *names[512];
        size_t n = 0;
        for (int k = 0; k < s->m->n_values && n < 512; k++)
            names[n++] = s->m->values[k].name;
        const char *best = heed_did_you_mean(vname, names, n);
        return heed_fail(diag, HEED_ERR_ARGUMENT, "model '%s' has no value '%s'%s%s%s",
                         s->m->name, vname, best ? "; did you mean '" : "", best ? best : "",
                         best ? "'?" : "");
    }
    const heed_plan *p = s->plan;
    const hp_value *val = &p->values[v];
    int buf = grad ? val->grad : val->buf;
    if (!val->defined || buf < 0)
        return heed_fail(diag, HEED_ERR_STATE, "'%s' has no %s in this plan", vname,
                         grad ? "gradient" : "value");
    /* a value is readable if it lives to the end and no op wrote over it
     * (its buffer can live on as the in-place result's) */
    bool readable = grad ? p->bufs[buf].last >= p->n_steps - 1
                         : val->last >= p->n_steps - 1 && !val->clobbered;
    if (!readable)
        return heed_fail(diag, HEED_ERR_STATE,
                         "'%s' is not kept after forward (its memory is reused); list it under "
                         "outputs: in the model",
                         vname);
    out->name = s->m->values[v].name;
    out->dtype = val->dtype;
    out->rank = val->shape.rank;
    for (int d = 0; d < HEED_MAX_RANK; d++)
        out->shape[d] = d < val->shape.rank ? val->shape.d[d].v : 0;
    out->data = buf_ptr(s, buf);
    return HEED_OK;
}

/* ------------------------------------------------------------ step mode */

void hs_step_mode(heed_session *s, int input)
{
    s->step_input = input;
    s->step = 0;
}

heed_status hs_reorder_carry(heed_session *s, const int32_t *rows, int64_t n, heed_diag *diag)
{
    const heed_plan *p = s->plan;
    if (!p)
        return heed_fail(diag, HEED_ERR_STATE, "nothing to reorder before the first step");
    for (int node = 0; node < s->m->n_nodes; node++) {
        const hp_node *pn = &p->nodes[node];
        if (!pn->carry_floats)
            continue;
        if (pn->carry_rows != n)
            return heed_fail(diag, HEED_ERR_STATE, "node '%s' carries %lld rows, not %lld",
                             s->m->nodes[node].name, (long long)pn->carry_rows, (long long)n);
        float *tmp = heed_alloc(s->env, pn->carry_floats * sizeof *tmp);
        if (!tmp)
            return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
        /* each block's rows move as a whole: row r takes the old row rows[r] */
        float *block = s->carry[node];
        for (int i = 0; i < pn->n_carry; i++) {
            size_t w = pn->carry_row[i];
            for (int64_t r = 0; r < n; r++)
                memcpy(tmp + (size_t)r * w, block + (size_t)rows[r] * w, w * sizeof *tmp);
            memcpy(block, tmp, (size_t)n * w * sizeof *tmp);
            block += (size_t)n * w;
        }
        heed_dealloc(s->env, tmp);
    }
    return HEED_OK;
}

/* ------------------------------------------------------------ profiling */

void heed_session_profile(heed_session *s, int enable)
{
    if (!s)
        return;
    size_t n = (size_t)s->m->n_nodes + 1;
    if (enable && !s->prof_fwd) {
        s->prof_fwd = heed_zalloc(s->env, n, sizeof *s->prof_fwd);
        s->prof_bwd = heed_zalloc(s->env, n, sizeof *s->prof_bwd);
        s->prof_calls = heed_zalloc(s->env, n, sizeof *s->prof_calls);
        if (!s->prof_fwd || !s->prof_bwd || !s->prof_calls) {
            heed_dealloc(s->env, s->prof_fwd);
            heed_dealloc(s->env, s->prof_bwd);
            heed_dealloc(s->env, s->prof_calls);
            s->prof_fwd = s->prof_bwd = NULL;
            s->prof_calls = NULL;
            return; /* profiling stays off */
        }
    }
    if (enable && s->prof_fwd) {
        memset(s->prof_fwd, 0, n * sizeof *s->prof_fwd);
        memset(s->prof_bwd, 0, n * sizeof *s->prof_bwd);
        memset(s->prof_calls, 0, n * sizeof *s->prof_calls);
    }
    s->profile = enable != 0 && s->prof_fwd;
}

size_t heed_session_profile_count(const heed_session *s)
{
    return s && s->prof_fwd ? (size_t)s->m->n_nodes : 0;
}

heed_status heed_session_profile_get(const heed_session *s, size_t i, heed_node_profile *out)
{
    if (!s || !out || !s->prof_fwd || i >= (size_t)s->m->n_nodes)
        return HEED_ERR_ARGUMENT;
    out->name = s->m->nodes[i].name;
    out->op = s->m->nodes[i].op->name;
    out->forward_seconds = s->prof_fwd[i];
    out->backward_seconds = s->prof_bwd[i];
    out->calls = s->prof_calls[i];
    return HEED_OK;
}
