/*
 * metrics.c - teacher-forced accuracy from the last forward pass of a model
 * whose loss is CrossEntropy: the argmax of each logits row against its
 * (shifted, non-pad) target.
 */
#include <math.h>
#include <string.h>

#include "runtime.h"

heed_status heed_session_accuracy(heed_session *s, heed_accuracy *acc, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!s || !acc)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_session_accuracy: NULL argument");
    memset(acc, 0, sizeof *acc);
    const heed_model *m = s->m;
    if (m->loss_node < 0 || m->nodes[m->loss_node].op != &heed_op_cross_entropy)
        return heed_fail(diag, HEED_ERR_UNSUPPORTED,
                         "accuracy needs a model whose loss is CrossEntropy");
    if (!s->have_forward)
        return heed_fail(diag, HEED_ERR_STATE,
                         "accuracy reads the last forward pass, and there is none to read: no "
                         "forward pass yet, the last one failed, or a backward pass (or "
                         "training step) used its buffers since");
    const hm_node *ce = &m->nodes[m->loss_node];
    const hp_value *lv = &s->plan->values[ce->in[0]], *tv = &s->plan->values[ce->in[1]];
    const float *logits = hs_value_ptr(s, ce->in[0], false);
    const int32_t *target = hs_value_ptr(s, ce->in[1], false);
    int shift_attr = hm_attr_index(ce->op, "shift");
    int64_t shift = 0;
    if (shift_attr >= 0 && ce->attr[shift_attr])
        hy_int(ce->attr[shift_attr], &shift);
    int64_t V = lv->shape.d[lv->shape.rank - 1].v;
    int64_t B = tv->shape.d[0].v, T = tv->shape.rank == 2 ? tv->shape.d[1].v : 1;
    /* a classifier's labels start after the reserved ids, as in
     * heed_session_classify (and so heed eval): its accuracy never counts a
     * reserved id as the prediction */
    int64_t first = heed_model_task(m) == HEED_TASK_CLASSIFY && 4 < V ? 4 : 0;
    for (int64_t b = 0; b < B; b++) {
        bool all = true, any = false;
        for (int64_t t = 0; t < T; t++) {
            int64_t ts = t + shift;
            int32_t y = ts < T ? target[b * T + ts] : 0;
            if (y == HEED_PAD_ID)
                continue;
            const float *row = logits + (b * T + t) * V;
            int64_t best = first;
            for (int64_t j = first + 1; j < V; j++)
                if (row[j] > row[best])
                    best = j;
            any = true;
            acc->tokens++;
            if (best == y)
                acc->tokens_correct++;
            else
                all = false;
        }
        if (any) {
            acc->sequences++;
            acc->sequences_correct += all;
        }
    }
    return HEED_OK;
}

/* Labels (and probabilities) of n texts, one forward pass: texts[0] is the
 * caller's text `first`. */
static heed_status classify_chunk(heed_session *s, const char *const *texts, size_t n,
                                  size_t first, int32_t *labels, float *probs, heed_diag *diag)
{
    /* the label input is not read from texts: any valid id will do */
    const hm_node *ce = &s->m->nodes[s->m->loss_node];
    const char *label = s->m->inputs[s->m->values[ce->in[1]].port].name;
    int32_t *dummy = heed_zalloc(s->env, n, sizeof *dummy);
    if (!dummy)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    heed_tensor t = {label, HEED_I32, 1, {(int64_t)n, 0, 0, 0}, dummy};
    heed_status st = heed_session_set_input(s, label, &t, diag);
    heed_dealloc(s->env, dummy);
    if (st == HEED_OK)
        st = hd_feed_texts(s, texts, n, first, 1, NULL, NULL, diag);
    if (st == HEED_OK)
        st = heed_session_forward(s, diag);
    if (st != HEED_OK)
        return st;
    const hp_value *lv = &s->plan->values[ce->in[0]];
    const float *lg = hs_value_ptr(s, ce->in[0], false);
    int64_t V = lv->shape.d[lv->shape.rank - 1].v;
    for (size_t i = 0; i < n; i++) {
        const float *row = lg + (int64_t)i * V;
        int64_t best = 4 < V ? 4 : 0; /* labels start after the reserved ids */
        for (int64_t j = best; j < V; j++)
            if (row[j] > row[best])
                best = j;
        labels[i] = (int32_t)best;
        if (probs) {
            double sum = 0.0;
            for (int64_t j = 0; j < V; j++)
                sum += exp((double)(row[j] - row[best]));
            probs[i] = (float)(1.0 / sum);
        }
    }
    return HEED_OK;
}

heed_status heed_session_classify(heed_session *s, const char *const *texts, size_t n,
                                  int32_t *labels, float *probs, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!s || !texts || !labels || n == 0)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_session_classify: bad argument");
    if (heed_model_task(s->m) != HEED_TASK_CLASSIFY)
        return heed_fail(diag, HEED_ERR_UNSUPPORTED, "model '%s' is not a classifier",
                         s->m->name);
    /* a batch at a time, as decoding does: the plan's arena follows the
     * batch, and one long text pads only its own batch */
    heed_status st = HEED_OK;
    for (size_t i = 0, k; i < n && st == HEED_OK; i += k) {
        k = hd_text_batch(texts + i, n - i);
        st = classify_chunk(s, texts + i, k, i, labels + i, probs ? probs + i : NULL, diag);
    }
    return st;
}
