/*
 * shape.c - binding dims and shape inference: every op's infer runs in
 * topological order and declares its outputs, parameters, saved buffers and
 * workspace. Also the entry point that runs all plan passes.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

struct heed_infer {
    heed_plan *p;
    const heed_model *m;
    int index;
    const hm_node *mn;
    hp_node *pn;
    heed_flat_attr flat[HEED_MAX_ATTRS];
    int n_flat;
    heed_diag *diag;
    heed_status status;
    bool out_set[HEED_MAX_OUTPUTS];
    int out_len[HEED_MAX_OUTPUTS]; /* input index giving lengths, -2: default */
};

/* ------------------------------------------------------------ dims */

heed_status hp_bind_dims(const heed_model *m, const heed_dim *dims, size_t n_dims,
                         bool tool_defaults, int64_t **out, heed_diag *diag)
{
    *out = NULL;
    if (!dims && n_dims)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "dims is NULL but n_dims is %zu", n_dims);
    int64_t *v = heed_zalloc(&m->env, (size_t)m->n_syms + 1, sizeof *v);
    if (!v)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory binding dims");
    for (int i = 0; i < m->n_syms; i++) {
        const hm_sym *s = &m->syms[i];
        v[i] = s->has_default ? s->value : -1;
        if (v[i] < 0 && tool_defaults)
            v[i] = s->kind == HM_SYM_VOCAB ? 32 : 16;
    }
    for (size_t i = 0; i < n_dims; i++) {
        if (!dims[i].name)
            continue;
        int s = hm_sym_find(m, dims[i].name);
        if (s < 0) {
            const char *names[256];
            size_t n = 0;
            for (int j = 0; j < m->n_syms && n < 256; j++)
                names[n++] = m->syms[j].name;
            const char *best = heed_did_you_mean(dims[i].name, names, n);
            heed_dealloc(&m->env, v);
            return heed_fail(diag, HEED_ERR_SHAPE, "the model has no dim '%s'%s%s%s",
                             dims[i].name, best ? "; did you mean '" : "", best ? best : "",
                             best ? "'?" : "");
        }
        if (dims[i].value <= 0 || dims[i].value > HEED_MAX_DIM_VALUE) {
            heed_dealloc(&m->env, v);
            return heed_fail(diag, HEED_ERR_SHAPE, "dim %s=%lld must be from 1 to %lld",
                             dims[i].name, (long long)dims[i].value,
                             (long long)HEED_MAX_DIM_VALUE);
        }
        v[s] = dims[i].value;
    }
    *out = v;
    return HEED_OK;
}

const char *hp_shape_text(const heed_model *m, const heed_shape *s, char *buf, size_t cap)
{
    heed_sbuf b;
    heed_sbuf_init(&b, buf, cap);
    heed_sbuf_printf(&b, "[");
    for (int i = 0; i < s->rank; i++) {
        if (i)
            heed_sbuf_printf(&b, ",");
        if (s->d[i].sym >= 0 && s->d[i].sym < m->n_syms)
            heed_sbuf_printf(&b, "%s", m->syms[s->d[i].sym].name);
        else
            heed_sbuf_printf(&b, "%lld", (long long)s->d[i].v);
    }
    heed_sbuf_printf(&b, "]");
    return buf;
}

/* ------------------------------------------------------------ infer context */

static heed_srcpos node_pos(const heed_infer *c)
{
    return hm_pos(c->m, c->mn->at);
}

heed_status heed_infer_fail(heed_infer *c, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    heed_srcpos pos = node_pos(c);
    heed_diag_add(c->diag, HEED_ERR_SHAPE, &pos, c->mn->name, "node '%s': %s", c->mn->name, msg);
    c->status = HEED_ERR_SHAPE;
    return HEED_ERR_SHAPE;
}

static void internal_fail(heed_infer *c, const char *what, const char *name)
{
    if (c->status == HEED_OK)
        heed_infer_fail(c, "internal: op %s asked for %s '%s' not in its schema", c->mn->op->name,
                        what, name);
}

static int flat_index(heed_infer *c, const char *name)
{
    for (int i = 0; i < c->n_flat; i++)
        if (strcmp(c->flat[i].name, name) == 0)
            return i;
    internal_fail(c, "attribute", name);
    return -1;
}

int heed_port(const heed_infer *c, const char *port)
{
    for (int i = 0; i < c->n_flat && i < HEED_MAX_INPUTS; i++)
        if (strcmp(c->flat[i].name, port) == 0)
            return c->mn->port_first[i];
    return -1;
}

int heed_port_count(const heed_infer *c, const char *port)
{
    for (int i = 0; i < c->n_flat && i < HEED_MAX_INPUTS; i++)
        if (strcmp(c->flat[i].name, port) == 0)
            return c->mn->port_count[i];
    return 0;
}

int heed_in_count(const heed_infer *c) { return c->mn->n_in; }

const heed_shape *heed_in_shape(const heed_infer *c, int i)
{
    return &c->p->values[c->mn->in[i]].shape;
}

heed_dtype heed_in_dtype(const heed_infer *c, int i)
{
    return c->p->values[c->mn->in[i]].dtype;
}

bool heed_in_has_lengths(const heed_infer *c, int i)
{
    return c->p->values[c->mn->in[i]].len_src >= 0;
}

/* The text of an attribute: its YAML value or the schema default. */
static const char *attr_text(heed_infer *c, const char *name, const hy_node **node)
{
    int i = flat_index(c, name);
    *node = NULL;
    if (i < 0)
        return NULL;
    const hy_node *v = c->mn->attr[i];
    if (v) {
        *node = v;
        return v->kind == HY_SCALAR ? v->str : NULL;
    }
    return c->flat[i].a->def;
}

int64_t heed_attr_int(heed_infer *c, const char *name)
{
    const hy_node *v;
    const char *t = attr_text(c, name, &v);
    return t ? strtoll(t, NULL, 10) : 0;
}

double heed_attr_float(heed_infer *c, const char *name)
{
    const hy_node *v;
    const char *t = attr_text(c, name, &v);
    return t ? strtod(t, NULL) : 0.0;
}

bool heed_attr_bool(heed_infer *c, const char *name)
{
    const hy_node *v;
    const char *t = attr_text(c, name, &v);
    bool b = false;
    return t && hy_bool_text(t, &b) && b;
}

int heed_attr_choice(heed_infer *c, const char *name)
{
    const hy_node *v;
    const char *t = attr_text(c, name, &v);
    int i = flat_index(c, name);
    if (!t || i < 0)
        return -1;
    const char *ch = c->flat[i].a->choices;
    size_t len = strlen(t);
    for (int k = 0; ch && *ch; k++) {
        size_t n = strcspn(ch, ",");
        if (n == len && strncmp(ch, t, n) == 0)
            return k;
        ch += n + (ch[n] == ',');
    }
    return -1;
}

heed_dimv heed_attr_dim(heed_infer *c, const char *name)
{
    const hy_node *v;
    const char *t = attr_text(c, name, &v);
    heed_dimv d = {0, -1};
    char err[200];
    if (!t) {
        heed_infer_fail(c, "'%s' is not set", name);
        return d;
    }
    if (!hm_eval_dim(c->m, t, c->p->dimval, &d, err, sizeof err)) {
        heed_srcpos pos = v ? hm_pos(c->m, v) : node_pos(c);
        heed_diag_add(c->diag, HEED_ERR_SHAPE, &pos, c->mn->name, "node '%s': '%s': %s",
                      c->mn->name, name, err);
        c->status = HEED_ERR_SHAPE;
        d.v = 1;
        return d;
    }
    /* a range on a dim attribute (RNN layers) holds for the bound value too */
    const heed_attr *a = c->flat[flat_index(c, name)].a;
    if (a->lo < a->hi && (d.v < a->lo || d.v > a->hi)) {
        heed_srcpos pos = v ? hm_pos(c->m, v) : node_pos(c);
        heed_diag_add(c->diag, HEED_ERR_SHAPE, &pos, c->mn->name,
                      "node '%s': '%s' is %s = %lld, outside [%.15g, %.15g]", c->mn->name, name, t,
                      (long long)d.v, a->lo, a->hi);
        c->status = HEED_ERR_SHAPE;
        d.v = (int64_t)a->lo;
    }
    return d;
}

bool heed_attr_given(heed_infer *c, const char *name)
{
    int i = flat_index(c, name);
    return i >= 0 && c->mn->attr[i] != NULL;
}

void *heed_infer_cfg(heed_infer *c) { return c->pn->cfg; }

bool heed_infer_training(const heed_infer *c) { return c->p->opt.mode == HEED_MODE_TRAIN; }

const char *heed_shape_text(const heed_infer *c, const heed_shape *s, char *buf, size_t cap)
{
    return hp_shape_text(c->m, s, buf, cap);
}

void heed_set_out(heed_infer *c, int port, const heed_shape *s, heed_dtype dtype)
{
    if (port < 0 || port >= c->mn->n_out) {
        internal_fail(c, "output", "?");
        return;
    }
    hp_value *v = &c->p->values[c->mn->out[port]];
    size_t n;
    if (!heed_shape_numel(s, &n)) {
        char buf[160];
        heed_infer_fail(c, "output %s is too large", hp_shape_text(c->m, s, buf, sizeof buf));
        return;
    }
    v->shape = *s;
    v->dtype = dtype;
    v->numel = n;
    v->defined = true;
    c->out_set[port] = true;
    c->pn->out_shape[port] = *s;
}

void heed_set_out_lengths(heed_infer *c, int port, int in)
{
    if (port >= 0 && port < HEED_MAX_OUTPUTS)
        c->out_len[port] = in;
}

static bool depends_on_runtime(const heed_model *m, const heed_shape *s)
{
    for (int i = 0; i < s->rank; i++)
        if (s->d[i].sym >= 0 && m->syms[s->d[i].sym].kind == HM_SYM_RUNTIME)
            return true;
    return false;
}

/* Doubles the plan's parameter table (a new pool block; the old one is freed
 * with the plan). Nothing points into the table while shapes are inferred. */
static bool grow_params(heed_infer *c)
{
    heed_plan *p = c->p;
    size_t cap = (size_t)p->params_cap * 2;
    hp_param *bigger = cap <= INT_MAX ? heed_pool_alloc(&c->m->env, &p->pool, sizeof *bigger * cap)
                                      : NULL;
    if (!bigger) {
        c->status = heed_fail(c->diag, HEED_ERR_NOMEM, "out of memory");
        return false;
    }
    memcpy(bigger, p->params, sizeof *bigger * (size_t)p->n_params);
    p->params = bigger;
    p->params_cap = (int)cap;
    return true;
}

int heed_add_param(heed_infer *c, const char *name, const heed_shape *s, heed_init init)
{
    heed_plan *p = c->p;
    hp_node *pn = c->pn;
    if (pn->n_params >= HEED_MAX_PARAMS) {
        internal_fail(c, "too many parameters", name);
        return -1;
    }
    char buf[160];
    if (depends_on_runtime(c->m, s)) {
        heed_infer_fail(c, "parameter '%s' would have shape %s, which depends on a run-time "
                           "dim; parameters must have fixed sizes",
                        name, hp_shape_text(c->m, s, buf, sizeof buf));
        return -1;
    }
    size_t n;
    if (!heed_shape_numel(s, &n)) {
        heed_infer_fail(c, "parameter '%s' is too large", name);
        return -1;
    }
    if (p->n_params == p->params_cap && !grow_params(c))
        return -1;
    hp_param *prm = &p->params[p->n_params];
    char full[300];
    snprintf(full, sizeof full, "%s.%s", c->mn->name, name);
    prm->name = heed_pool_strdup(&c->m->env, &p->pool, full);
    if (!prm->name) {
        c->status = heed_fail(c->diag, HEED_ERR_NOMEM, "out of memory");
        return -1;
    }
    prm->shape = *s;
    prm->numel = n;
    prm->init = init;
    prm->node = c->index;
    prm->offset = p->param_floats;
    /* each parameter starts on a 64-byte boundary */
    size_t padded = (n + 15) & ~(size_t)15;
    if (!heed_add_ok(p->param_floats, padded, &p->param_floats)) {
        heed_infer_fail(c, "parameters are too large");
        return -1;
    }
    pn->param[pn->n_params] = p->n_params++;
    return pn->n_params++;
}

int heed_add_saved(heed_infer *c, size_t floats)
{
    hp_node *pn = c->pn;
    if (pn->n_saved >= HEED_MAX_SAVED) {
        internal_fail(c, "too many saved buffers", "");
        return -1;
    }
    pn->saved_floats[pn->n_saved] = floats;
    return pn->n_saved++;
}

void heed_set_workspace(heed_infer *c, size_t forward_floats, size_t backward_floats)
{
    c->pn->ws_floats[0] = forward_floats;
    c->pn->ws_floats[1] = backward_floats;
}

void heed_set_backward_needs(heed_infer *c, uint32_t inputs, uint32_t outputs)
{
    c->pn->bwd_in = inputs;
    c->pn->bwd_out = outputs;
}

void heed_set_inplace(heed_infer *c, int port, int in)
{
    if (port >= 0 && port < HEED_MAX_OUTPUTS)
        c->pn->inplace[port] = in;
}

void heed_set_flops(heed_infer *c, double forward, double backward)
{
    c->pn->flops = forward;
    c->pn->flops_bwd = backward;
}

void heed_set_carry(heed_infer *c, int64_t rows, const size_t *row_floats, int n)
{
    hp_node *pn = c->pn;
    pn->carry_rows = rows;
    pn->n_carry = n < HEED_MAX_CARRY ? n : HEED_MAX_CARRY;
    pn->carry_floats = 0;
    for (int i = 0; i < pn->n_carry; i++) {
        pn->carry_row[i] = row_floats[i];
        pn->carry_floats += (size_t)rows * row_floats[i];
    }
}

void heed_set_ids_limit(heed_infer *c, int in, int64_t limit)
{
    if (in >= 0 && in < HEED_MAX_INPUTS)
        c->pn->ids_limit[in] = limit;
}

void heed_set_lengths_limit(heed_infer *c, int in, int64_t max, bool own_steps)
{
    if (in >= 0 && in < HEED_MAX_INPUTS) {
        c->pn->ids_limit[in] = max + 1;
        c->pn->ids_lengths[in] = true;
        c->pn->ids_steps[in] = own_steps;
    }
}

/* ------------------------------------------------------------ the pass */

static void bind_inputs(heed_plan *p)
{
    const heed_model *m = p->m;
    for (int i = 0; i < m->n_inputs; i++) {
        const hm_input *in = &m->inputs[i];
        hp_value *v = &p->values[in->value];
        v->shape.rank = in->rank;
        for (int d = 0; d < in->rank; d++) {
            if (in->sym[d] >= 0 && m->syms[in->sym[d]].kind == HM_SYM_FIXED)
                v->shape.d[d] = heed_lit(p->dimval[in->sym[d]]);
            else if (in->sym[d] >= 0)
                v->shape.d[d] = (heed_dimv){p->dimval[in->sym[d]], in->sym[d]};
            else
                v->shape.d[d] = heed_lit(in->lit[d]);
        }
        v->dtype = in->dtype;
        v->defined = true;
        v->len_src = in->dtype == HEED_I32 && in->rank == 2 ? i : -1;
        if (!heed_shape_numel(&v->shape, &v->numel))
            v->defined = false;
    }
}

/* Returns the status of the first error (an unbound dim or a size limit), so
 * that the call's status and its diagnostic agree. */
static heed_status check_inputs_bound(heed_plan *p, heed_diag *diag)
{
    const heed_model *m = p->m;
    heed_status st = HEED_OK;
    for (int i = 0; i < m->n_inputs; i++) {
        const hm_input *in = &m->inputs[i];
        for (int d = 0; d < in->rank; d++) {
            if (in->sym[d] >= 0 && p->dimval[in->sym[d]] < 0) {
                heed_srcpos pos = hm_pos(m, in->at);
                heed_diag_add(diag, HEED_ERR_SHAPE, &pos, NULL,
                              "input '%s': dim '%s' has no value (bind it with --dim %s=N or "
                              "give a default in dims:)",
                              in->name, m->syms[in->sym[d]].name, m->syms[in->sym[d]].name);
                st = st ? st : HEED_ERR_SHAPE;
            }
        }
        if (!p->values[in->value].defined && st == HEED_OK) {
            heed_srcpos pos = hm_pos(m, in->at);
            heed_diag_add(diag, HEED_ERR_LIMIT, &pos, NULL, "input '%s' is too large", in->name);
            st = HEED_ERR_LIMIT;
        }
    }
    return st;
}

/* Default lengths: the first input whose leading [B,T] dims match the output's. */
static int default_lengths(const heed_plan *p, const hm_node *mn, const hp_value *out)
{
    if (out->shape.rank < 2)
        return -1;
    for (int i = 0; i < mn->n_in; i++) {
        const hp_value *in = &p->values[mn->in[i]];
        if (in->len_src >= 0 && in->shape.rank >= 2 && heed_dim_eq(in->shape.d[0], out->shape.d[0]) &&
            heed_dim_eq(in->shape.d[1], out->shape.d[1]))
            return in->len_src;
    }
    return -1;
}

static bool inputs_ready(const heed_plan *p, const hm_node *mn, heed_diag *diag)
{
    const heed_model *m = p->m;
    bool ok = true;
    for (int i = 0; i < mn->n_in; i++) {
        const hm_value *mv = &m->values[mn->in[i]];
        if (p->values[mn->in[i]].defined)
            continue;
        ok = false;
        /* an output the producer does not have (e.g. GRU has no `.c`) */
        if (mv->node >= 0 && p->nodes[mv->node].inferred && mv->port > 0) {
            const hm_node *prod = &m->nodes[mv->node];
            heed_srcpos pos = hm_pos(m, mn->refs[i].at);
            heed_diag_add(diag, HEED_ERR_SHAPE, &pos, mn->name,
                          "node '%s': '%s' does not exist here: node '%s' (%s) gives no '%s' "
                          "output with these attributes",
                          mn->name, mv->name, prod->name, prod->op->name,
                          prod->op->outputs[mv->port]);
        }
    }
    return ok;
}

static heed_status infer_node(heed_plan *p, int index, heed_diag *diag)
{
    const heed_model *m = p->m;
    const hm_node *mn = &m->nodes[index];
    hp_node *pn = &p->nodes[index];
    heed_infer c = {.p = p, .m = m, .index = index, .mn = mn, .pn = pn, .diag = diag};
    c.n_flat = heed_flatten_attrs(mn->op->attrs, c.flat, HEED_MAX_ATTRS);
    for (int i = 0; i < HEED_MAX_OUTPUTS; i++) {
        pn->inplace[i] = -1;
        c.out_len[i] = -2;
    }
    pn->ws[0] = pn->ws[1] = -1;
    pn->cfg = heed_pool_alloc(&m->env, &p->pool, mn->op->cfg_size ? mn->op->cfg_size : 1);
    if (!pn->cfg)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    memset(pn->cfg, 0, mn->op->cfg_size ? mn->op->cfg_size : 1);
    for (int i = 0; i < mn->n_in; i++)
        pn->in_shape[i] = p->values[mn->in[i]].shape;
    heed_status st = mn->op->infer(&c);
    if (st == HEED_OK)
        st = c.status;
    if (st != HEED_OK) {
        for (int o = 0; o < mn->n_out; o++)
            p->values[mn->out[o]].defined = false;
        return st;
    }
    pn->inferred = true;
    for (int o = 0; o < mn->n_out; o++) {
        hp_value *v = &p->values[mn->out[o]];
        if (!v->defined)
            continue;
        v->len_src = c.out_len[o] >= 0 ? p->values[mn->in[c.out_len[o]]].len_src
                     : c.out_len[o] == -2 ? default_lengths(p, mn, v)
                                          : -1;
    }
    return HEED_OK;
}

heed_status hp_infer_shapes(heed_plan *p, heed_diag *diag)
{
    const heed_model *m = p->m;
    bind_inputs(p);
    heed_status bound = check_inputs_bound(p, diag);
    if (bound != HEED_OK)
        return bound;
    /* room for a few per node; heed_add_param grows it for nodes with many
     * (stacked RNN layers), so memory follows the parameters the model has */
    p->params_cap = m->n_nodes * 8 + 8;
    p->params = heed_pool_alloc(&m->env, &p->pool, sizeof *p->params * (size_t)p->params_cap);
    if (!p->params)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    heed_status first = HEED_OK;
    for (int n = 0; n < m->n_nodes; n++) {
        if (!inputs_ready(p, &m->nodes[n], diag)) {
            if (first == HEED_OK)
                first = HEED_ERR_SHAPE;
            continue; /* an earlier error already explains this node */
        }
        heed_status st = infer_node(p, n, diag);
        if (st == HEED_ERR_NOMEM)
            return st;
        if (st != HEED_OK && first == HEED_OK)
            first = st;
    }
    /* outputs: may list a secondary output its node makes only with some
     * attributes (a GRU's .weights without attention:): said, not skipped */
    for (int v = 0; v < m->n_values; v++) {
        const hm_value *mv = &m->values[v];
        if (!mv->listed || p->values[v].defined || mv->node < 0 || !p->nodes[mv->node].inferred ||
            mv->port <= 0)
            continue;
        const hm_node *prod = &m->nodes[mv->node];
        heed_srcpos pos = hm_pos(m, mv->listed);
        heed_diag_add(diag, HEED_ERR_SHAPE, &pos, prod->name,
                      "outputs: lists '%s', but node '%s' (%s) gives no '%s' output with these "
                      "attributes",
                      mv->name, prod->name, prod->op->name, prod->op->outputs[mv->port]);
        if (first == HEED_OK)
            first = HEED_ERR_SHAPE;
    }
    return first;
}

/* ------------------------------------------------------------ plan entry */

int hp_add_buf(heed_plan *p, hp_buf_kind kind, size_t bytes, int owner)
{
    if (!heed_grow(&p->m->env, (void **)&p->bufs, &p->cap_bufs, (size_t)p->n_bufs + 1,
                   sizeof *p->bufs))
        return -1;
    hp_buf *b = &p->bufs[p->n_bufs];
    memset(b, 0, sizeof *b);
    b->bytes = bytes;
    b->kind = kind;
    b->owner = owner;
    b->first = 1 << 30;
    b->last = -1;
    return p->n_bufs++;
}

heed_status hp_build(const heed_model *m, const int64_t *dims, const hp_options *opt,
                     heed_plan **out, heed_diag *diag)
{
    *out = NULL;
    const heed_env *env = &m->env;
    heed_plan *p = heed_zalloc(env, 1, sizeof *p);
    if (!p)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory building a plan");
    p->m = m;
    p->opt = *opt;
    p->dimval = heed_pool_alloc(env, &p->pool, sizeof(int64_t) * (size_t)(m->n_syms + 1));
    p->nodes = heed_pool_alloc(env, &p->pool, sizeof *p->nodes * (size_t)(m->n_nodes + 1));
    p->values = heed_pool_alloc(env, &p->pool, sizeof *p->values * (size_t)(m->n_values + 1));
    if (!p->dimval || !p->nodes || !p->values) {
        heed_plan_free(p);
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory building a plan");
    }
    memcpy(p->dimval, dims, sizeof(int64_t) * (size_t)m->n_syms);
    memset(p->nodes, 0, sizeof *p->nodes * (size_t)(m->n_nodes + 1));
    memset(p->values, 0, sizeof *p->values * (size_t)(m->n_values + 1));
    for (int v = 0; v < m->n_values; v++) {
        p->values[v].len_src = -1;
        p->values[v].grad = -1;
        p->values[v].buf = -1;
    }
    heed_status st = hp_infer_shapes(p, diag);
    if (st == HEED_OK)
        st = hp_autodiff(p, diag);
    if (st == HEED_OK)
        st = hp_plan_memory(p, diag);
    if (st != HEED_OK) {
        heed_plan_free(p);
        return st;
    }
    *out = p;
    return HEED_OK;
}

heed_status hp_check_param_sizes(const heed_plan *p, heed_diag *diag)
{
    const heed_model *m = p->m;
    const heed_env *env = &m->env;
    int64_t *vals = heed_alloc(env, sizeof *vals * (size_t)(m->n_syms + 1));
    if (!vals)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory checking parameter sizes");
    heed_status st = HEED_OK;
    hp_options opt = {.mode = HEED_MODE_INFER, .step_input = -1};
    for (int s = 0; s < m->n_syms && st == HEED_OK; s++) {
        if (m->syms[s].kind != HM_SYM_RUNTIME || p->dimval[s] <= 0)
            continue;
        memcpy(vals, p->dimval, sizeof *vals * (size_t)m->n_syms);
        vals[s] = p->dimval[s] + 1;
        heed_plan *q;
        heed_diag scratch;
        heed_diag_clear(&scratch);
        /* a binding this model cannot take (say S must equal T) shows nothing */
        heed_status built = hp_build(m, vals, &opt, &q, &scratch);
        if (built == HEED_ERR_NOMEM)
            st = heed_fail(diag, HEED_ERR_NOMEM, "out of memory checking parameter sizes");
        if (built != HEED_OK)
            continue;
        for (int i = 0; i < p->n_params && i < q->n_params && st == HEED_OK; i++) {
            if (p->params[i].numel == q->params[i].numel)
                continue;
            const hm_node *mn = &m->nodes[p->params[i].node];
            heed_srcpos pos = hm_pos(m, mn->at);
            char a[160], b[160];
            const char *dim = m->syms[s].name;
            heed_diag_add(diag, HEED_ERR_SHAPE, &pos, mn->name,
                          "node '%s': parameter '%s' is %s with %s=%lld but %s with %s=%lld: "
                          "its size follows the run-time dim %s (an input's last axis?), and "
                          "parameters must have fixed sizes",
                          mn->name, p->params[i].name,
                          hp_shape_text(m, &p->params[i].shape, a, sizeof a), dim,
                          (long long)p->dimval[s],
                          hp_shape_text(m, &q->params[i].shape, b, sizeof b), dim,
                          (long long)vals[s], dim);
            st = HEED_ERR_SHAPE;
        }
        heed_plan_free(q);
    }
    heed_dealloc(env, vals);
    return st;
}

void heed_plan_free(heed_plan *p)
{
    if (!p)
        return;
    const heed_env *env = &p->m->env;
    heed_dealloc(env, p->bufs);
    heed_dealloc(env, p->steps);
    heed_dealloc(env, p->zero);
    heed_pool_free(env, p->pool);
    heed_dealloc(env, p);
}
