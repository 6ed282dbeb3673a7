/*
 * metrics.c - what the argmax of a CrossEntropy loss's logits says: the
 * teacher-forced accuracy of the last forward pass (each row against its
 * shifted, non-pad target), a classifier's label per text and a tagger's
 * label per token.
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
    /* a classifier's or tagger's labels start after the reserved ids, as in
     * heed_session_classify and heed_session_tag: its accuracy never counts
     * a reserved id as the prediction; a tagger's positions are those
     * heed_session_tag labels, where its source field holds a token (not
     * <bos>, <eos> or padding) */
    heed_task task = heed_model_task(m);
    const int32_t *src = NULL;
    if (task == HEED_TASK_TAG) {
        /* the session's copy: the arena's may hold later values by now */
        src = s->inputs[hm_input_index(m, m->fields[hm_tag_field(m)].input)].data;
    }
    int64_t first = (task == HEED_TASK_CLASSIFY || src) && 4 < V ? 4 : 0;
    for (int64_t b = 0; b < B; b++) {
        bool all = true, any = false;
        for (int64_t t = 0; t < T; t++) {
            int64_t ts = t + shift;
            int32_t y = ts < T ? target[b * T + ts] : 0;
            int32_t x = src ? src[b * T + t] : 0;
            if (y == HEED_PAD_ID ||
                (src && (x == HEED_PAD_ID || x == HEED_BOS_ID || x == HEED_EOS_ID)))
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

/* Sets the loss's label input, which texts do not give, to placeholder ids
 * (any valid id will do): [n] for a classifier, [n, width] for a tagger. */
static heed_status placeholder_labels(heed_session *s, size_t n, size_t width, heed_diag *diag)
{
    const hm_node *ce = &s->m->nodes[s->m->loss_node];
    const char *label = s->m->inputs[s->m->values[ce->in[1]].port].name;
    int32_t *zeros = heed_zalloc(s->env, n * (width ? width : 1), sizeof *zeros);
    if (!zeros)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    heed_tensor t = {label, HEED_I32, width ? 2 : 1, {(int64_t)n, (int64_t)width, 0, 0}, zeros};
    heed_status st = heed_session_set_input(s, label, &t, diag);
    heed_dealloc(s->env, zeros);
    return st;
}

/* Labels (and probabilities) of n texts, one forward pass: texts[0] is the
 * caller's text `first`. */
static heed_status classify_chunk(heed_session *s, const char *const *texts, size_t n,
                                  size_t first, int32_t *labels, float *probs, heed_diag *diag)
{
    const hm_node *ce = &s->m->nodes[s->m->loss_node];
    heed_status st = placeholder_labels(s, n, 0, diag);
    if (st == HEED_OK)
        st = hd_feed_texts(s, texts, n, first, 1, -1, NULL, NULL, diag);
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

/* Entry i of a tagging result: the labels of the row's own tokens (its
 * <bos>, <eos> and padding left out) from its `width` rows of V logits. */
static heed_status tag_row(heed_decode_result *res, size_t i, const int32_t *ids,
                           const float *lg, size_t width, int64_t V, int32_t *scratch)
{
    size_t len = 0;
    double score = 0.0;
    for (size_t t = 0; t < width; t++) {
        if (ids[t] == HEED_PAD_ID || ids[t] == HEED_BOS_ID || ids[t] == HEED_EOS_ID)
            continue;
        const float *row = lg + t * (size_t)V;
        int64_t best = 4 < V ? 4 : 0; /* labels start after the reserved ids */
        for (int64_t j = best; j < V; j++)
            if (row[j] > row[best])
                best = j;
        double sum = 0.0;
        for (int64_t j = 0; j < V; j++)
            sum += exp((double)(row[j] - row[best]));
        score -= log(sum);
        scratch[len++] = (int32_t)best;
    }
    heed_decoded *out = hd_result_item(res, i);
    out->tokens = hd_result_copy(res, scratch, len * sizeof *scratch);
    out->source = hd_result_copy(res, ids, width * sizeof *ids);
    out->length = len;
    out->source_length = width;
    out->score = (float)score;
    return out->tokens && out->source ? HEED_OK : HEED_ERR_NOMEM;
}

/* Tags of n texts, one forward pass: texts[0] is the caller's text `first`. */
static heed_status tag_chunk(heed_session *s, heed_decode_result *res, const char *const *texts,
                             size_t n, size_t first, heed_diag *diag)
{
    const hm_node *ce = &s->m->nodes[s->m->loss_node];
    int32_t *ids = NULL, *scratch = NULL;
    size_t width = 0;
    heed_status st = hd_feed_texts(s, texts, n, first, 1, hm_tag_field(s->m), &ids, &width,
                                   diag);
    if (st == HEED_OK)
        st = placeholder_labels(s, n, width, diag);
    if (st == HEED_OK && !(scratch = heed_alloc(s->env, (width + 1) * sizeof *scratch)))
        st = heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    if (st == HEED_OK)
        st = heed_session_forward(s, diag);
    /* the plan is there only after a forward pass that ran */
    const hp_value *lv = st == HEED_OK ? &s->plan->values[ce->in[0]] : NULL;
    int64_t V = lv ? lv->shape.d[lv->shape.rank - 1].v : 0;
    if (lv && (lv->shape.rank < 2 || lv->numel != n * width * (size_t)V))
        st = heed_fail(diag, HEED_ERR_MODEL,
                       "model '%s' does not tag: its logits '%s' hold %lld values in rows of "
                       "%lld, not a row of label scores for each of the %zu x %zu source "
                       "positions",
                       s->m->name, s->m->values[ce->in[0]].name, (long long)lv->numel,
                       (long long)V, n, width);
    const float *lg = st == HEED_OK ? hs_value_ptr(s, ce->in[0], false) : NULL;
    for (size_t i = 0; i < n && st == HEED_OK; i++) {
        st = tag_row(res, first + i, ids + i * width, lg + i * width * (size_t)V, width, V,
                     scratch);
        if (st != HEED_OK)
            heed_fail(diag, st, "out of memory");
    }
    heed_dealloc(s->env, ids);
    heed_dealloc(s->env, scratch);
    return st;
}

heed_status heed_session_tag(heed_session *s, const char *const *texts, size_t n,
                             heed_decode_result **out, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (out)
        *out = NULL;
    if (!s || !texts || !out || n == 0)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_session_tag: bad argument");
    if (heed_model_task(s->m) != HEED_TASK_TAG)
        return heed_fail(diag, HEED_ERR_UNSUPPORTED,
                         "model '%s' does not tag: its loss is not a CrossEntropy without shift "
                         "on a [B, S] label field",
                         s->m->name);
    heed_decode_result *res = hd_result_new(s, n, heed_model_target_field(s->m));
    if (!res)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    heed_status st = HEED_OK;
    for (size_t i = 0, k; i < n && st == HEED_OK; i += k) {
        k = hd_text_batch(texts + i, n - i);
        st = tag_chunk(s, res, texts + i, k, i, diag);
    }
    if (st != HEED_OK) {
        heed_decode_result_free(res);
        return st;
    }
    *out = res;
    return HEED_OK;
}
