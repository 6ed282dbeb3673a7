/*
 * memplan.c - lifetimes of every tensor of the schedule and their offsets in
 * one arena.
 *
 * The planner is greedy by size: the largest tensor first, each placed in the
 * best-fitting gap left by already placed tensors whose lifetimes overlap its
 * own (the approach of TFLite's arena planner and XNNPACK's memory planner).
 * Beside it: a naive mode (every tensor its own range), the lower bound (the
 * largest total live at one step) and a verifier used by the tests.
 */
#include <stdlib.h>
#include <string.h>

#include "plan.h"

#define ALIGN 64

static size_t align_up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

/* ------------------------------------------------------------ planner */

typedef struct by_size {
    size_t bytes;
    int first;
    size_t index;
} by_size;

static int cmp_size_desc(const void *a, const void *b)
{
    const by_size *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    if (x->first != y->first)
        return x->first - y->first;
    return x->index < y->index ? -1 : (x->index > y->index);
}

typedef struct placed {
    size_t offset, end;
} placed;

static int cmp_offset(const void *a, const void *b)
{
    const placed *x = a, *y = b;
    return x->offset < y->offset ? -1 : (x->offset > y->offset);
}

size_t heed_mp_assign(const heed_env *env, heed_mp_item *items, size_t n, bool naive)
{
    size_t arena = 0;
    if (naive) {
        for (size_t i = 0; i < n; i++) {
            items[i].offset = arena;
            if (!heed_add_ok(arena, align_up(items[i].bytes), &arena))
                return SIZE_MAX;
        }
        return arena;
    }
    by_size *order = heed_zalloc(env, n + 1, sizeof *order);
    placed *live = heed_zalloc(env, n + 1, sizeof *live);
    bool *done = heed_zalloc(env, n + 1, sizeof *done);
    if (!order || !live || !done) {
        heed_dealloc(env, order);
        heed_dealloc(env, live);
        heed_dealloc(env, done);
        return SIZE_MAX;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (by_size){align_up(items[i].bytes), items[i].first, i};
    qsort(order, n, sizeof *order, cmp_size_desc);
    for (size_t k = 0; k < n; k++) {
        heed_mp_item *it = &items[order[k].index];
        size_t size = order[k].bytes, n_live = 0;
        if (size == 0) {
            it->offset = 0;
            done[order[k].index] = true;
            continue;
        }
        /* tensors already placed whose lifetimes overlap this one */
        for (size_t j = 0; j < n; j++) {
            if (!done[j] || items[j].bytes == 0)
                continue;
            if (items[j].last < it->first || items[j].first > it->last)
                continue;
            live[n_live++] = (placed){items[j].offset, items[j].offset + align_up(items[j].bytes)};
        }
        qsort(live, n_live, sizeof *live, cmp_offset);
        size_t best = SIZE_MAX, best_gap = SIZE_MAX, cursor = 0;
        for (size_t j = 0; j < n_live; j++) {
            if (live[j].offset > cursor) {
                size_t gap = live[j].offset - cursor;
                if (gap >= size && gap < best_gap) {
                    best = cursor;
                    best_gap = gap;
                }
            }
            if (live[j].end > cursor)
                cursor = live[j].end;
        }
        it->offset = best != SIZE_MAX ? best : cursor;
        done[order[k].index] = true;
        size_t end = it->offset + size;
        if (end > arena)
            arena = end;
    }
    heed_dealloc(env, order);
    heed_dealloc(env, live);
    heed_dealloc(env, done);
    return arena;
}

size_t heed_mp_lower_bound(const heed_env *env, const heed_mp_item *items, size_t n)
{
    int steps = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].last + 1 > steps)
            steps = items[i].last + 1;
    size_t *live = heed_zalloc(env, (size_t)steps + 2, sizeof *live);
    if (!live)
        return SIZE_MAX;
    /* a difference array: +size at first, -size after last */
    for (size_t i = 0; i < n; i++) {
        if (items[i].first > items[i].last)
            continue;
        live[items[i].first] += align_up(items[i].bytes);
        live[items[i].last + 1] -= align_up(items[i].bytes);
    }
    size_t best = 0, cur = 0;
    for (int s = 0; s <= steps; s++) {
        cur += live[s];
        if (cur > best)
            best = cur;
    }
    heed_dealloc(env, live);
    return best;
}

bool heed_mp_verify(const heed_mp_item *items, size_t n, size_t arena)
{
    for (size_t i = 0; i < n; i++) {
        if (items[i].bytes == 0)
            continue;
        if (items[i].offset % ALIGN || items[i].offset + items[i].bytes > arena)
            return false;
        for (size_t j = i + 1; j < n; j++) {
            if (items[j].bytes == 0)
                continue;
            bool time = items[i].first <= items[j].last && items[j].first <= items[i].last;
            bool space = items[i].offset < items[j].offset + items[j].bytes &&
                         items[j].offset < items[i].offset + items[i].bytes;
            if (time && space)
                return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------ lifetimes */

static void extend(int *first, int *last, int step)
{
    if (step < *first)
        *first = step;
    if (step > *last)
        *last = step;
}

/* In a step plan, nodes that depend on the fed-back input run on every call;
 * the rest (the encoder) run once, so what they hand over must persist. */
static void mark_step_nodes(heed_plan *p)
{
    const heed_model *m = p->m;
    if (p->opt.step_input < 0)
        return;
    int fed = m->inputs[p->opt.step_input].value;
    for (int n = 0; n < m->n_nodes; n++) {
        const hm_node *mn = &m->nodes[n];
        for (int i = 0; i < mn->n_in; i++) {
            int v = mn->in[i], prod = m->values[v].node;
            if (v == fed || (prod >= 0 && p->nodes[prod].step))
                p->nodes[n].step = true;
        }
    }
}

/* Value v stays readable to the plan's end, where the caller reads it. */
static void keep_to_end(heed_plan *p, int v)
{
    if (v < 0)
        return;
    p->values[v].last = p->n_steps - 1;
    p->values[v].kept = true;
}

static void value_lifetimes(heed_plan *p)
{
    const heed_model *m = p->m;
    for (int v = 0; v < m->n_values; v++) {
        hp_value *val = &p->values[v];
        int prod = m->values[v].node;
        val->first = val->last = prod >= 0 ? p->nodes[prod].fwd_step : 0;
        val->kept = val->clobbered = false;
        if (p->opt.keep_all)
            keep_to_end(p, v);
    }
    for (int k = 0; k < m->n_keep; k++)
        keep_to_end(p, m->keep[k]);
    /* what decoding reads after each step: decode: may name values no
     * output lists (other plans need not keep them) */
    if (p->opt.step_input >= 0) {
        keep_to_end(p, m->decode_logits);
        keep_to_end(p, m->decode_attention);
    }
    if (m->loss_node >= 0) {
        /* the loss and what it read stay readable: metrics use the logits */
        const hm_node *loss = &m->nodes[m->loss_node];
        keep_to_end(p, loss->out[0]);
        for (int i = 0; i < loss->n_in; i++)
            keep_to_end(p, loss->in[i]);
    }
    for (int n = 0; n < m->n_nodes; n++) {
        const hm_node *mn = &m->nodes[n];
        const hp_node *pn = &p->nodes[n];
        for (int i = 0; i < mn->n_in; i++) {
            hp_value *val = &p->values[mn->in[i]];
            extend(&val->first, &val->last, pn->fwd_step);
            if (pn->has_bwd && (pn->bwd_in >> i & 1u))
                extend(&val->first, &val->last, pn->bwd_step);
            int prod = m->values[mn->in[i]].node;
            bool handed_over = p->opt.step_input >= 0 && pn->step &&
                               (prod < 0 ? mn->in[i] != m->inputs[p->opt.step_input].value
                                         : !p->nodes[prod].step);
            /* the encoder ran on the first call only: what it hands over
             * must outlive every later call's steps, those before its
             * producer's step included */
            if (handed_over) {
                keep_to_end(p, mn->in[i]);
                val->first = 0;
            }
        }
        for (int o = 0; o < mn->n_out; o++)
            if (pn->has_bwd && (pn->bwd_out >> o & 1u))
                extend(&p->values[mn->out[o]].first, &p->values[mn->out[o]].last, pn->bwd_step);
    }
}

static heed_status nomem(heed_diag *diag)
{
    return heed_fail(diag, HEED_ERR_NOMEM, "out of memory planning memory");
}

static size_t bytes_of(const hp_value *v)
{
    return v->numel * 4; /* float32 and int32 alike */
}

/* Whether output v of node mn may take the buffer of its input ip: the input
 * dies at this node, is not kept for a reader after the plan, is not read
 * again through another of the node's inputs (Add [a, b, a] sums in
 * passes), and has v's size. */
static bool may_overwrite(const heed_plan *p, const hm_node *mn, int ip, const hp_value *v)
{
    const heed_model *m = p->m;
    int in = mn->in[ip];
    const hp_value *u = &p->values[in];
    for (int j = 0; j < mn->n_in; j++)
        if (j != ip && mn->in[j] == in)
            return false;
    int step = p->nodes[mn - m->nodes].fwd_step;
    return m->values[in].node >= 0 && !u->kept && u->last == step && u->numel == v->numel &&
           u->dtype == v->dtype && u->buf >= 0;
}

/* Data buffers, sharing one where an op may overwrite an input that dies there. */
static heed_status value_buffers(heed_plan *p, heed_diag *diag)
{
    const heed_model *m = p->m;
    for (int i = 0; i < m->n_inputs; i++) {
        hp_value *v = &p->values[m->inputs[i].value];
        if ((v->buf = hp_add_buf(p, HP_BUF_VALUE, bytes_of(v), m->inputs[i].value)) < 0)
            return nomem(diag);
    }
    for (int n = 0; n < m->n_nodes; n++) {
        const hm_node *mn = &m->nodes[n];
        const hp_node *pn = &p->nodes[n];
        for (int o = 0; o < mn->n_out; o++) {
            hp_value *v = &p->values[mn->out[o]];
            if (!v->defined)
                continue;
            int ip = p->opt.naive ? -1 : pn->inplace[o];
            if (ip >= 0 && ip < mn->n_in && may_overwrite(p, mn, ip, v)) {
                hp_value *u = &p->values[mn->in[ip]];
                u->clobbered = true;
                v->buf = u->buf;
                continue;
            }
            if ((v->buf = hp_add_buf(p, HP_BUF_VALUE, bytes_of(v), mn->out[o])) < 0)
                return nomem(diag);
        }
    }
    for (int v = 0; v < m->n_values; v++) {
        const hp_value *val = &p->values[v];
        if (val->buf < 0)
            continue;
        hp_buf *b = &p->bufs[val->buf];
        extend(&b->first, &b->last, val->first);
        extend(&b->first, &b->last, val->last);
    }
    return HEED_OK;
}

static heed_status grad_buffers(heed_plan *p, heed_diag *diag)
{
    const heed_model *m = p->m;
    int end = p->n_steps - 1;
    int loss_out = m->loss_node >= 0 ? m->nodes[m->loss_node].out[0] : -1;
    for (int v = 0; v < m->n_values; v++) {
        hp_value *val = &p->values[v];
        if (!val->needs_grad && v != loss_out)
            continue;
        int first = 1 << 30, last = -1;
        for (int n = 0; n < m->n_nodes; n++) {
            const hm_node *mn = &m->nodes[n];
            if (!p->nodes[n].has_bwd)
                continue;
            for (int i = 0; i < mn->n_in; i++)
                if (mn->in[i] == v)
                    extend(&first, &last, p->nodes[n].bwd_step);
        }
        int prod = m->values[v].node;
        if (v == loss_out && p->opt.mode == HEED_MODE_TRAIN)
            extend(&first, &last, p->nodes[prod].bwd_step);
        if (last < 0)
            continue; /* no gradient reaches this value */
        if (prod >= 0 && p->nodes[prod].has_bwd)
            extend(&first, &last, p->nodes[prod].bwd_step);
        else
            last = end; /* an input's gradient stays readable */
        if (p->opt.keep_all)
            last = end;
        if ((val->grad = hp_add_buf(p, HP_BUF_GRAD, bytes_of(val), v)) < 0)
            return nomem(diag);
        p->bufs[val->grad].first = first;
        p->bufs[val->grad].last = last;
    }
    return HEED_OK;
}

static heed_status node_buffers(heed_plan *p, heed_diag *diag)
{
    const heed_model *m = p->m;
    for (int n = 0; n < m->n_nodes; n++) {
        hp_node *pn = &p->nodes[n];
        int until = pn->has_bwd ? pn->bwd_step : pn->fwd_step;
        for (int s = 0; s < pn->n_saved; s++) {
            size_t bytes;
            if (!heed_mul_ok(pn->saved_floats[s], 4, &bytes))
                return heed_fail(diag, HEED_ERR_LIMIT, "node '%s': saved buffer too large",
                                 m->nodes[n].name);
            if ((pn->saved[s] = hp_add_buf(p, HP_BUF_SAVED, bytes, n)) < 0)
                return nomem(diag);
            p->bufs[pn->saved[s]].first = pn->fwd_step;
            p->bufs[pn->saved[s]].last = until;
        }
        for (int w = 0; w < 2; w++) {
            int step = w == 0 ? pn->fwd_step : pn->bwd_step;
            if (pn->ws_floats[w] == 0 || step < 0)
                continue;
            if ((pn->ws[w] = hp_add_buf(p, HP_BUF_WORK, pn->ws_floats[w] * 4, n)) < 0)
                return nomem(diag);
            p->bufs[pn->ws[w]].first = p->bufs[pn->ws[w]].last = step;
        }
    }
    return HEED_OK;
}

/* Gradient buffers are zeroed at the step where they come alive. */
static heed_status zero_lists(heed_plan *p, heed_diag *diag)
{
    const heed_model *m = p->m;
    int loss_grad = m->loss_node >= 0 ? p->values[m->nodes[m->loss_node].out[0]].grad : -1;
    p->zero = heed_zalloc(&m->env, (size_t)p->n_bufs + 1, sizeof *p->zero);
    if (!p->zero)
        return nomem(diag);
    p->n_zero = 0;
    for (int s = 0; s < p->n_steps; s++) {
        p->steps[s].zero_first = p->n_zero;
        for (int b = 0; b < p->n_bufs; b++)
            if (p->bufs[b].kind == HP_BUF_GRAD && p->bufs[b].first == s && b != loss_grad)
                p->zero[p->n_zero++] = b;
        p->steps[s].zero_count = p->n_zero - p->steps[s].zero_first;
    }
    return HEED_OK;
}

heed_status hp_plan_memory(heed_plan *p, heed_diag *diag)
{
    const heed_env *env = &p->m->env;
    mark_step_nodes(p);
    value_lifetimes(p);
    heed_status st = value_buffers(p, diag);
    if (st == HEED_OK)
        st = grad_buffers(p, diag);
    if (st == HEED_OK)
        st = node_buffers(p, diag);
    if (st == HEED_OK)
        st = zero_lists(p, diag);
    if (st != HEED_OK)
        return st;
    heed_mp_item *items = heed_zalloc(env, (size_t)p->n_bufs + 1, sizeof *items);
    if (!items)
        return nomem(diag);
    for (int b = 0; b < p->n_bufs; b++)
        items[b] = (heed_mp_item){p->bufs[b].bytes, p->bufs[b].first, p->bufs[b].last, 0};
    p->lower_bound = heed_mp_lower_bound(env, items, (size_t)p->n_bufs);
    p->naive = heed_mp_assign(env, items, (size_t)p->n_bufs, true);
    p->arena = heed_mp_assign(env, items, (size_t)p->n_bufs, p->opt.naive);
    for (int b = 0; b < p->n_bufs; b++)
        p->bufs[b].offset = items[b].offset;
    heed_dealloc(env, items);
    if (p->arena == SIZE_MAX || p->naive == SIZE_MAX || p->lower_bound == SIZE_MAX)
        return nomem(diag);
    return HEED_OK;
}
