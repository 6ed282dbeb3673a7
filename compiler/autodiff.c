/*
 * autodiff.c - which values need gradients and the schedule: every node's
 * forward in topological order, then the backward of every node that lies on a
 * path to the loss and has something to differentiate, in reverse order.
 * Gradients of a value read by several nodes accumulate: each consumer's
 * backward adds (+=) into one buffer, zeroed before the first of them runs.
 */
#include <string.h>

#include "plan.h"

static bool any_input_needs_grad(const heed_plan *p, const hm_node *mn)
{
    for (int i = 0; i < mn->n_in; i++)
        if (p->values[mn->in[i]].needs_grad)
            return true;
    return false;
}

static void mark_needs_grad(heed_plan *p)
{
    const heed_model *m = p->m;
    bool train = p->opt.mode == HEED_MODE_TRAIN;
    for (int i = 0; i < m->n_inputs; i++) {
        hp_value *v = &p->values[m->inputs[i].value];
        v->needs_grad = train && p->opt.input_grads && v->dtype == HEED_F32;
    }
    for (int n = 0; n < m->n_nodes; n++) {
        const hm_node *mn = &m->nodes[n];
        bool any = train && (p->nodes[n].n_params > 0 || any_input_needs_grad(p, mn));
        for (int o = 0; o < mn->n_out; o++) {
            hp_value *v = &p->values[mn->out[o]];
            v->needs_grad = any && v->defined && v->dtype == HEED_F32;
        }
    }
}

/* A node reaches the loss when it is the loss or feeds a node that does. */
static void mark_reaches_loss(heed_plan *p)
{
    const heed_model *m = p->m;
    if (m->loss_node < 0)
        return;
    p->nodes[m->loss_node].reaches_loss = true;
    for (int n = m->n_nodes - 1; n >= 0; n--) {
        if (!p->nodes[n].reaches_loss)
            continue;
        const hm_node *mn = &m->nodes[n];
        for (int i = 0; i < mn->n_in; i++) {
            int prod = m->values[mn->in[i]].node;
            if (prod >= 0)
                p->nodes[prod].reaches_loss = true;
        }
    }
}

heed_status hp_autodiff(heed_plan *p, heed_diag *diag)
{
    const heed_model *m = p->m;
    const heed_env *env = &m->env;
    bool train = p->opt.mode == HEED_MODE_TRAIN;
    if (train && m->loss_node < 0) {
        heed_srcpos pos = {m->doc->file, NULL, 0, 0};
        heed_diag_add(diag, HEED_ERR_MODEL, &pos, NULL,
                      "training needs a 'loss:' section (e.g. {op: CrossEntropy, logits: x, "
                      "target: y})");
        return HEED_ERR_MODEL;
    }
    mark_needs_grad(p);
    if (train)
        mark_reaches_loss(p);
    int n_bwd = 0;
    for (int n = 0; n < m->n_nodes; n++) {
        hp_node *pn = &p->nodes[n];
        pn->has_bwd = train && pn->reaches_loss &&
                      (pn->n_params > 0 || any_input_needs_grad(p, &m->nodes[n]));
        n_bwd += pn->has_bwd;
    }
    p->n_fwd_steps = m->n_nodes;
    p->n_steps = m->n_nodes + n_bwd;
    p->steps = heed_zalloc(env, (size_t)p->n_steps + 1, sizeof *p->steps);
    if (!p->steps)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory scheduling");
    for (int n = 0; n < m->n_nodes; n++) {
        p->steps[n] = (hp_step){n, false, 0, 0};
        p->nodes[n].fwd_step = n;
        p->nodes[n].bwd_step = -1;
    }
    int s = m->n_nodes;
    for (int n = m->n_nodes - 1; n >= 0; n--) {
        if (!p->nodes[n].has_bwd)
            continue;
        p->steps[s] = (hp_step){n, true, 0, 0};
        p->nodes[n].bwd_step = s++;
    }
    return HEED_OK;
}
