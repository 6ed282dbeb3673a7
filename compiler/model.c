/*
 * model.c - the public face of the compiler: loading a model, checking it at
 * given dims, compiling plans and describing them (for `heed inspect`).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "plan.h"

const char *heed_version(void) { return HEED_VERSION_STRING; }
int heed_version_number(void) { return HEED_VERSION_NUMBER; }

/* Reads a whole file, refusing more than `limit` bytes. */
static heed_status read_file(const heed_env *env, const char *path, size_t limit, char **out,
                             size_t *len, heed_diag *diag)
{
    FILE *f = heed_fopen_read(path);
    if (!f)
        return heed_fail(diag, HEED_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (!heed_grow(env, (void **)&buf, &cap, n + 65536, 1)) {
            fclose(f);
            heed_dealloc(env, buf);
            return heed_fail(diag, HEED_ERR_NOMEM, "out of memory reading %s", path);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n > limit) {
            fclose(f);
            heed_dealloc(env, buf);
            heed_srcpos pos = {path, NULL, 0, 0};
            heed_diag_add(diag, HEED_ERR_LIMIT, &pos, NULL,
                          "file is larger than the limit of %zu bytes", limit);
            return HEED_ERR_LIMIT;
        }
        if (got == 0)
            break;
    }
    bool bad = ferror(f);
    int why = errno; /* EISDIR for a directory */
    fclose(f);
    if (bad) {
        heed_dealloc(env, buf);
        return heed_fail(diag, HEED_ERR_IO, "cannot read %s: %s", path, strerror(why));
    }
    *out = buf;
    *len = n;
    return HEED_OK;
}

heed_status heed_model_load_string(const char *text, size_t length, const char *name,
                                   const heed_options *options, heed_model **out,
                                   heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!out)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_model_load_string: out is NULL");
    *out = NULL;
    if (!text)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_model_load_string: text is NULL");
    heed_env env;
    heed_env_init(&env, options);
    hy_doc *doc;
    heed_status st = hy_parse(&env, text, length, name ? name : "<string>", NULL, &doc, diag);
    if (st != HEED_OK)
        return st;
    return heed_model_build(&env, doc, out, diag);
}

heed_status heed_model_load_file(const char *path, const heed_options *options,
                                 heed_model **out, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!out || !path)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_model_load_file: NULL argument");
    *out = NULL;
    heed_env env;
    heed_env_init(&env, options);
    hy_limits lim;
    hy_limits_default(&lim);
    char *text = NULL;
    size_t len = 0;
    heed_status st = read_file(&env, path, lim.max_bytes, &text, &len, diag);
    if (st != HEED_OK)
        return st;
    st = heed_model_load_string(text, len, path, options, out, diag);
    heed_dealloc(&env, text);
    return st;
}

void heed_model_free(heed_model *m)
{
    if (!m)
        return;
    heed_env env = m->env;
    heed_dealloc(&env, m->syms);
    heed_dealloc(&env, m->nodes);
    heed_dealloc(&env, m->values);
    heed_strmap_free(&env, &m->value_names);
    hy_free(m->doc);
    heed_pool_free(&env, m->pool);
    heed_dealloc(&env, m);
}

const char *heed_model_name(const heed_model *m) { return m ? m->name : ""; }
const char *heed_model_doc(const heed_model *m) { return m ? m->doc_text : ""; }
uint64_t heed_model_hash(const heed_model *m) { return m ? m->hash : 0; }

heed_status heed_plan_new(const heed_model *m, const heed_dim *dims, size_t n_dims,
                          heed_mode mode, heed_plan **out, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!m || !out)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_plan_new: NULL argument");
    *out = NULL;
    if (mode != HEED_MODE_INFER && mode != HEED_MODE_TRAIN)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_plan_new: unknown mode %d", (int)mode);
    int64_t *vals;
    heed_status st = hp_bind_dims(m, dims, n_dims, true, &vals, diag);
    if (st != HEED_OK)
        return st;
    hp_options opt = {.mode = mode, .step_input = -1};
    st = hp_build(m, vals, &opt, out, diag);
    heed_dealloc(&m->env, vals);
    if (st == HEED_OK && (st = hp_check_param_sizes(*out, diag)) != HEED_OK) {
        heed_plan_free(*out);
        *out = NULL;
    }
    return st;
}

heed_status heed_model_check(const heed_model *m, const heed_dim *dims, size_t n_dims,
                             heed_diag *diag)
{
    if (!m) {
        heed_diag_clear(diag);
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_model_check: model is NULL");
    }
    heed_plan *p = NULL;
    heed_status st = heed_plan_new(m, dims, n_dims,
                                   m && m->loss_node >= 0 ? HEED_MODE_TRAIN : HEED_MODE_INFER,
                                   &p, diag);
    heed_plan_free(p);
    return st;
}

size_t heed_plan_node_count(const heed_plan *p) { return p ? (size_t)p->m->n_nodes : 0; }

int64_t heed_plan_dim(const heed_plan *p, const char *name)
{
    int s = p && name ? hm_sym_find(p->m, name) : -1;
    return s >= 0 ? p->dimval[s] : -1;
}

heed_status heed_plan_node_info(const heed_plan *p, size_t index, heed_node_info *out)
{
    if (!p || !out || index >= (size_t)p->m->n_nodes)
        return HEED_ERR_ARGUMENT;
    const hm_node *mn = &p->m->nodes[index];
    const hp_node *pn = &p->nodes[index];
    const hp_value *v = &p->values[mn->out[0]];
    memset(out, 0, sizeof *out);
    out->name = mn->name;
    out->op = mn->op->name;
    out->line = mn->at ? mn->at->line : 0;
    out->column = mn->at ? mn->at->col : 0;
    out->rank = v->shape.rank;
    for (int d = 0; d < v->shape.rank; d++)
        out->shape[d] = v->shape.d[d].v;
    hp_shape_text(p->m, &v->shape, out->shape_text, sizeof out->shape_text);
    for (int k = 0; k < pn->n_params; k++)
        out->params += (int64_t)p->params[pn->param[k]].numel;
    out->flops = pn->flops;
    out->flops_backward = pn->has_bwd ? pn->flops_bwd : 0;
    return HEED_OK;
}

void heed_plan_memory(const heed_plan *p, heed_memory_info *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!p)
        return;
    out->arena = p->arena;
    out->naive = p->naive;
    out->lower_bound = p->lower_bound;
    out->params = p->param_floats * sizeof(float) * (p->opt.mode == HEED_MODE_TRAIN ? 4 : 1);
    out->tensors = (size_t)p->n_bufs;
}

static int emit(heed_write_fn w, void *user, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int emit(heed_write_fn w, void *user, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    return w(user, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* The model's name (free text, unlike node names) as a DOT string's
 * contents: quotes and backslashes escaped, control characters as spaces. */
static int emit_dot_text(heed_write_fn w, void *user, const char *text)
{
    int rc = 0;
    for (const char *c = text; *c && !rc; c++) {
        if (*c == '"' || *c == '\\')
            rc = w(user, "\\", 1);
        if (!rc)
            rc = w(user, (unsigned char)*c < 0x20 ? " " : c, 1);
    }
    return rc;
}

heed_status heed_plan_write_dot(const heed_plan *p, heed_write_fn w, void *user)
{
    if (!p || !w)
        return HEED_ERR_ARGUMENT;
    const heed_model *m = p->m;
    int rc = emit(w, user, "digraph \"");
    if (!rc)
        rc = emit_dot_text(w, user, m->name);
    if (!rc)
        rc = emit(w, user, "\" {\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n");
    char shape[160];
    for (int i = 0; i < m->n_inputs && !rc; i++)
        rc = emit(w, user, "  \"%s\" [shape=ellipse, label=\"%s\\n%s\"];\n", m->inputs[i].name,
                  m->inputs[i].name,
                  hp_shape_text(m, &p->values[m->inputs[i].value].shape, shape, sizeof shape));
    for (int n = 0; n < m->n_nodes && !rc; n++) {
        const hm_node *mn = &m->nodes[n];
        rc = emit(w, user, "  \"%s\" [shape=box, style=rounded, label=\"%s\\n%s %s\"];\n",
                  mn->name, mn->name, mn->op->name,
                  hp_shape_text(m, &p->values[mn->out[0]].shape, shape, sizeof shape));
        for (int i = 0; i < mn->n_in && !rc; i++) {
            const hm_value *v = &m->values[mn->in[i]];
            const char *from = v->node >= 0 ? m->nodes[v->node].name : m->inputs[v->port].name;
            rc = emit(w, user, "  \"%s\" -> \"%s\" [label=\"%s\"];\n", from, mn->name,
                      hp_shape_text(m, &p->values[mn->in[i]].shape, shape, sizeof shape));
        }
    }
    if (!rc)
        rc = emit(w, user, "}\n");
    return rc ? HEED_ERR_IO : HEED_OK;
}

size_t heed_model_value_count(const heed_model *m) { return m ? (size_t)m->n_values : 0; }

const char *heed_model_value_name(const heed_model *m, size_t i)
{
    return m && i < (size_t)m->n_values ? m->values[i].name : NULL;
}

size_t heed_model_input_count(const heed_model *m) { return m ? (size_t)m->n_inputs : 0; }

heed_status heed_model_input(const heed_model *m, size_t index, heed_tensor *out)
{
    if (!m || !out || index >= (size_t)m->n_inputs)
        return HEED_ERR_ARGUMENT;
    const hm_input *in = &m->inputs[index];
    memset(out, 0, sizeof *out);
    out->name = in->name;
    out->dtype = in->dtype;
    out->rank = in->rank;
    for (int d = 0; d < in->rank; d++) {
        const hm_sym *s = in->sym[d] >= 0 ? &m->syms[in->sym[d]] : NULL;
        out->shape[d] = s ? (s->has_default ? s->value : -1) : in->lit[d];
    }
    return HEED_OK;
}

const char *heed_model_input_dim(const heed_model *m, size_t index, int axis)
{
    if (!m || index >= (size_t)m->n_inputs || axis < 0 || axis >= m->inputs[index].rank)
        return NULL;
    int sym = m->inputs[index].sym[axis];
    return sym >= 0 ? m->syms[sym].name : NULL;
}

size_t heed_model_dim_count(const heed_model *m) { return m ? (size_t)m->n_syms : 0; }

const char *heed_model_dim_name(const heed_model *m, size_t i)
{
    return m && i < (size_t)m->n_syms ? m->syms[i].name : NULL;
}

int hm_input_index(const heed_model *m, const char *name)
{
    for (int i = 0; name && i < m->n_inputs; i++)
        if (!strcmp(m->inputs[i].name, name))
            return i;
    return -1;
}

int hm_tag_field(const heed_model *m)
{
    if (!m || m->loss_node < 0)
        return -1;
    const hm_value *target = &m->values[m->nodes[m->loss_node].in[1]];
    if (target->node >= 0)
        return -1;
    const hm_input *t = &m->inputs[target->port];
    for (int f = 0; t->rank == 2 && f < m->n_fields; f++) {
        int i = hm_input_index(m, m->fields[f].input);
        const hm_input *in = i >= 0 ? &m->inputs[i] : NULL;
        if (!in || in == t || in->rank != 2 || m->fields[f].tokens == HM_TOK_LABEL)
            continue;
        bool same = in->sym[1] >= 0 ? in->sym[1] == t->sym[1]
                                    : t->sym[1] < 0 && in->lit[1] == t->lit[1];
        if (same)
            return f;
    }
    return -1;
}

heed_task heed_model_task(const heed_model *m)
{
    if (!m || m->loss_node < 0 || m->nodes[m->loss_node].op != &heed_op_cross_entropy)
        return HEED_TASK_OTHER;
    if (m->decode_input >= 0 && m->decode_logits >= 0)
        return HEED_TASK_SEQ2SEQ;
    const hm_node *ce = &m->nodes[m->loss_node];
    const hm_value *target = &m->values[ce->in[1]];
    if (target->node >= 0)
        return HEED_TASK_OTHER;
    if (m->inputs[target->port].rank == 1)
        return HEED_TASK_CLASSIFY;
    /* a label per source position: an unshifted [B, S] target from the data */
    int shift_attr = hm_attr_index(ce->op, "shift");
    int64_t shift = 0;
    if (shift_attr >= 0 && ce->attr[shift_attr])
        hy_int(ce->attr[shift_attr], &shift);
    if (shift == 0 && heed_model_field_column(m, m->inputs[target->port].name) >= 0 &&
        hm_tag_field(m) >= 0)
        return HEED_TASK_TAG;
    return HEED_TASK_OTHER;
}

const char *heed_model_target_field(const heed_model *m)
{
    if (!m || m->loss_node < 0)
        return NULL;
    const hm_node *ln = &m->nodes[m->loss_node];
    int port = hm_attr_index(ln->op, "target");
    if (port < 0 || ln->port_first[port] < 0)
        return NULL;
    const hm_value *v = &m->values[ln->in[ln->port_first[port]]];
    if (v->node >= 0)
        return NULL;
    for (int f = 0; f < m->n_fields; f++)
        if (!strcmp(m->fields[f].input, m->inputs[v->port].name))
            return m->fields[f].input;
    return NULL;
}

int heed_model_field_column(const heed_model *m, const char *field)
{
    for (int f = 0; m && field && f < m->n_fields; f++)
        if (!strcmp(m->fields[f].input, field))
            return m->fields[f].column;
    return -1;
}

const char *heed_model_field_vocab(const heed_model *m, const char *field)
{
    for (int f = 0; m && field && f < m->n_fields; f++)
        if (!strcmp(m->fields[f].input, field))
            return m->syms[m->fields[f].vocab_sym].name;
    return NULL;
}
