/*
 * decode.c - greedy and beam-search decoding for seq2seq models. The sources
 * are fed once (each repeated beam-width times); the decoder then runs step by
 * step on a T=1 plan whose recurrent nodes carry their state, the encoder
 * running only on the first step. Beam search keeps k hypotheses per source,
 * reorders the carried states to follow them, and ranks finished hypotheses
 * by log-probability divided by length^alpha.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/kernels/kernels.h"
#include "runtime.h"


struct heed_decode_result {
    const heed_env *env;
    const heed_model *m;
    const heed_vocab *vocab;
    const char *target;
    size_t n;
    heed_decoded *items;
    void *pool;
};

typedef struct hyp {
    int32_t *tokens; /* ends with eos when finished */
    int len;
    float score;     /* normalised */
    float *att;      /* [len][S] */
} hyp;

typedef struct dec {
    heed_session *s;
    const heed_model *m;
    heed_decode_result *res;
    size_t first, nsrc, rows;
    int k, max_len, min_len;
    float alpha;
    bool want_att;
    int64_t V, S;
    int32_t *cur, *parent, *hist, *hist2, *src_ids;
    float *score, *score2, *logp, *att, *att2;
    bool primed;   /* the first step already ran (to learn V and S) */
    int step;      /* tokens made so far */
    int att_value; /* the attention map shown, -1: none */
    hyp *fin;      /* [nsrc][k] */
    int *n_fin;    /* per source */
    bool *done;    /* per source */
    heed_diag *diag;
} dec;

/* ------------------------------------------------------------ helpers */

static bool is_weights(const heed_model *m, int v)
{
    const char *name = m->values[v].name;
    size_t n = strlen(name);
    return n > 8 && !strcmp(name + n - 8, ".weights");
}

/* The attention map to show: decode: attention: (its shape checked by
 * check_step_values), else the first *.weights value the plan defines with
 * one row per step over the `width` source positions for each of `rows`
 * decoded rows (an encoder's self-attention [B,S,S] is not one), those
 * listed in outputs: first. */
static int attention_value(const heed_session *s, size_t rows, size_t width)
{
    const heed_model *m = s->m;
    if (m->decode_attention >= 0)
        return m->decode_attention;
    for (int pass = 0; pass < 2; pass++)
        for (int k = pass ? 0 : m->n_keep_auto; k < (pass ? m->n_keep_auto : m->n_keep); k++) {
            int v = m->keep[k];
            const hp_value *pv = &s->plan->values[v];
            if (is_weights(m, v) && pv->defined && pv->shape.rank == 3 &&
                pv->shape.d[2].v == (int64_t)width && pv->numel == rows * width)
                return v;
        }
    return -1;
}

static float norm_score(const dec *d, float score, int len)
{
    return d->alpha > 0.0f ? score / powf((float)len, d->alpha) : score;
}

static void log_softmax(float *x, int64_t n)
{
    float mx = heed_row_max(x, n);
    float lse = mx + (float)log((double)heed_row_exp_sum(x, n, mx));
    for (int64_t j = 0; j < n; j++)
        x[j] -= lse;
}

static void *pool_copy(dec *d, const void *src, size_t bytes)
{
    return hd_result_copy(d->res, src, bytes);
}

/* Feeds the current tokens and runs one step; logp gets log-probabilities,
 * att (when wanted) the step's attention rows. */
static heed_status run_step(dec *d, float *att_row)
{
    heed_status st = HEED_OK;
    if (!d->primed) {
        heed_tensor t = {d->m->inputs[d->m->decode_input].name, HEED_I32, 2,
                         {(int64_t)d->rows, 1, 0, 0}, d->cur};
        hp_options opt = {.mode = HEED_MODE_INFER, .step_input = d->m->decode_input};
        st = heed_session_set_input(d->s, t.name, &t, d->diag);
        if (st == HEED_OK)
            st = hs_forward_opts(d->s, &opt, d->diag);
        if (st != HEED_OK)
            return st;
    }
    d->primed = false;
    const float *lg = hs_value_ptr(d->s, d->m->decode_logits, false);
    memcpy(d->logp, lg, (size_t)d->rows * (size_t)d->V * sizeof(float));
    for (size_t r = 0; r < d->rows; r++) {
        float *lp = d->logp + r * (size_t)d->V;
        log_softmax(lp, d->V);
        /* the steps so far are the tokens already made; before min_length
         * the end is not allowed */
        if (d->step < d->min_len && d->V > HEED_EOS_ID)
            lp[HEED_EOS_ID] = -INFINITY;
        /* <pad> would end the row's input, <bos> only starts one */
        lp[HEED_PAD_ID] = -INFINITY;
        if (d->V > HEED_BOS_ID)
            lp[HEED_BOS_ID] = -INFINITY;
    }
    d->step++;
    if (d->want_att) {
        const float *a = hs_value_ptr(d->s, d->att_value, false);
        memcpy(att_row, a, (size_t)d->rows * (size_t)d->S * sizeof(float));
    }
    return HEED_OK;
}

/* The slot of source src's finished hypotheses a new one with normalised
 * score `norm` goes to: a free one, else the worst when it is worse; -1 when
 * the k kept are all at least as good. */
static int finish_slot(const dec *d, size_t src, float norm)
{
    const hyp *fin = &d->fin[src * (size_t)d->k];
    if (d->n_fin[src] < d->k)
        return d->n_fin[src];
    int worst = 0;
    for (int i = 1; i < d->k; i++)
        if (fin[i].score < fin[worst].score)
            worst = i;
    return fin[worst].score < norm ? worst : -1;
}

static heed_status finish(dec *d, size_t src, const int32_t *tokens, int len, float score,
                          const float *att)
{
    float norm = norm_score(d, score, len);
    int slot = finish_slot(d, src, norm);
    if (slot < 0)
        return HEED_OK;
    hyp *h = &d->fin[src * (size_t)d->k + (size_t)slot];
    h->tokens = pool_copy(d, tokens, (size_t)len * sizeof *tokens);
    h->len = len;
    h->score = norm;
    h->att = NULL;
    if (d->want_att) {
        /* a row per step, and one more so that heed_decoded always has length + 1
         * rows: zeros for the <eos> step when max_length stopped the output */
        size_t row = (size_t)d->S * sizeof *att, bytes = (size_t)len * row;
        h->att = heed_pool_alloc(d->res->env, &d->res->pool, bytes + row);
        if (h->att) {
            memcpy(h->att, att, bytes);
            memset((char *)h->att + bytes, 0, row);
        }
    }
    if (!h->tokens || (d->want_att && !h->att))
        return heed_fail(d->diag, HEED_ERR_NOMEM, "out of memory while decoding");
    if (slot == d->n_fin[src])
        d->n_fin[src]++;
    return HEED_OK;
}

bool hd_beam_may_stop(const float *fin, int n_fin, int k, bool live, float best_live,
                      float alpha, int max_len)
{
    if (!live)
        return true;
    if (n_fin < k || n_fin < 1)
        return false;
    float worst = fin[0];
    for (int i = 1; i < n_fin; i++)
        worst = fin[i] < worst ? fin[i] : worst;
    /* a live score only falls as it grows, so its best normalised end is its
     * score over the longest length (alpha > 0) or the score itself */
    float bound = alpha > 0.0f ? best_live / powf((float)max_len, alpha) : best_live;
    return bound <= worst;
}

static bool beam_settled(const dec *d, size_t src, size_t live, float best_live)
{
    float fin[32] = {0};
    int n = d->n_fin[src] < 32 ? d->n_fin[src] : 32;
    for (int i = 0; i < n; i++)
        fin[i] = d->fin[src * (size_t)d->k + (size_t)i].score;
    return hd_beam_may_stop(fin, n, d->k, live > 0, best_live, d->alpha, d->max_len);
}

/* ------------------------------------------------------------ greedy */

static heed_status greedy(dec *d, float *att_row)
{
    size_t L = (size_t)d->max_len, S = (size_t)d->S;
    heed_status st = HEED_OK;
    for (int t = 0; t < d->max_len && st == HEED_OK; t++) {
        if ((st = run_step(d, att_row)) != HEED_OK)
            break;
        bool all = true;
        for (size_t r = 0; r < d->rows; r++) {
            if (d->done[r])
                continue;
            const float *lp = d->logp + r * (size_t)d->V;
            int32_t best = 0;
            for (int64_t v = 1; v < d->V; v++)
                if (lp[v] > lp[best])
                    best = (int32_t)v;
            d->score[r] += lp[best];
            d->hist[r * L + (size_t)t] = best;
            if (d->want_att)
                memcpy(d->att + (r * L + (size_t)t) * S, att_row + r * S, S * sizeof(float));
            d->cur[r] = best;
            if (best == HEED_EOS_ID || t + 1 == d->max_len) {
                st = finish(d, r, d->hist + r * L, t + 1, d->score[r], d->att + r * L * S);
                d->done[r] = true;
            }
            all = all && d->done[r];
        }
        if (all)
            break;
    }
    return st;
}

/* ------------------------------------------------------------ beam */

typedef struct cand {
    float score;
    int32_t beam, token;
} cand;

/* The best `want` candidates of source `src`, by score then beam and token
 * (so ties break the same way every time, as in greedy). */
static int best_candidates(const dec *d, size_t src, cand *out, int want)
{
    int n = 0;
    for (int i = 0; i < d->k; i++) {
        size_t r = src * (size_t)d->k + (size_t)i;
        if (d->score[r] == -INFINITY)
            continue;
        const float *lp = d->logp + r * (size_t)d->V;
        for (int64_t v = 0; v < d->V; v++) {
            cand c = {d->score[r] + lp[v], i, (int32_t)v};
            if (n == want && c.score <= out[n - 1].score)
                continue;
            int j = n < want ? n++ : n - 1;
            while (j > 0 && out[j - 1].score < c.score)
                out[j] = out[j - 1], j--;
            out[j] = c;
        }
    }
    return n;
}

static heed_status beam_source(dec *d, size_t src, int t, const float *att_row)
{
    size_t L = (size_t)d->max_len, S = (size_t)d->S, k = (size_t)d->k;
    cand c[64];
    int n = best_candidates(d, src, c, 2 * d->k);
    size_t placed = 0;
    heed_status st = HEED_OK;
    for (int i = 0; i < n && placed < k && st == HEED_OK; i++) {
        size_t from = src * k + (size_t)c[i].beam;
        /* the parent's history plus this step, in the scratch of beam `placed` */
        size_t to = src * k + placed;
        memcpy(d->hist2 + to * L, d->hist + from * L, (size_t)t * sizeof(int32_t));
        d->hist2[to * L + (size_t)t] = c[i].token;
        if (d->want_att) {
            memcpy(d->att2 + to * L * S, d->att + from * L * S, (size_t)t * S * sizeof(float));
            memcpy(d->att2 + (to * L + (size_t)t) * S, att_row + from * S, S * sizeof(float));
        }
        if (c[i].token == HEED_EOS_ID || t + 1 == d->max_len) {
            st = finish(d, src, d->hist2 + to * L, t + 1, c[i].score, d->att2 + to * L * S);
            continue;
        }
        d->parent[to] = (int32_t)from;
        d->score2[to] = c[i].score;
        d->cur[to] = c[i].token;
        placed++;
    }
    /* candidates come best first: the first placed is the best live one */
    d->done[src] = beam_settled(d, src, placed, placed ? d->score2[src * k] : -INFINITY);
    for (; placed < k; placed++) {
        d->parent[src * k + placed] = (int32_t)(src * k);
        d->score2[src * k + placed] = -INFINITY;
    }
    return st;
}

static heed_status beam(dec *d, float *att_row)
{
    size_t k = (size_t)d->k;
    for (size_t r = 0; r < d->rows; r++)
        d->score[r] = r % k ? -INFINITY : 0.0f; /* the k copies start as one hypothesis */
    heed_status st = HEED_OK;
    for (int t = 0; t < d->max_len && st == HEED_OK; t++) {
        if ((st = run_step(d, att_row)) != HEED_OK)
            break;
        bool all = true;
        for (size_t src = 0; src < d->nsrc && st == HEED_OK; src++) {
            if (!d->done[src])
                st = beam_source(d, src, t, att_row);
            if (d->done[src])
                for (size_t i = 0; i < k; i++) {
                    d->parent[src * k + i] = (int32_t)(src * k + i);
                    d->score2[src * k + i] = -INFINITY;
                    d->cur[src * k + i] = HEED_EOS_ID;
                }
            all = all && d->done[src];
        }
        if (st != HEED_OK || all)
            break;
        if ((st = hs_reorder_carry(d->s, d->parent, (int64_t)d->rows, d->diag)) != HEED_OK)
            break;
        int32_t *h = d->hist;
        d->hist = d->hist2, d->hist2 = h;
        float *a = d->att;
        d->att = d->att2, d->att2 = a;
        memcpy(d->score, d->score2, d->rows * sizeof *d->score);
    }
    return st;
}

/* ------------------------------------------------------------ driver */

static void dec_free(dec *d)
{
    const heed_env *env = d->s->env;
    void *p[] = {d->cur, d->parent, d->hist, d->hist2, d->score, d->score2, d->logp,
                 d->att, d->att2, d->fin, d->n_fin, d->done, d->src_ids};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        heed_dealloc(env, p[i]);
}

static heed_status dec_alloc(dec *d)
{
    const heed_env *env = d->s->env;
    size_t rows = d->rows, L = (size_t)d->max_len, S = d->want_att ? (size_t)d->S : 0;
    d->cur = heed_zalloc(env, rows, sizeof *d->cur);
    d->parent = heed_zalloc(env, rows, sizeof *d->parent);
    d->hist = heed_zalloc(env, rows * L, sizeof *d->hist);
    d->hist2 = heed_zalloc(env, rows * L, sizeof *d->hist2);
    d->score = heed_zalloc(env, rows, sizeof *d->score);
    d->score2 = heed_zalloc(env, rows, sizeof *d->score2);
    d->logp = heed_zalloc(env, rows * (size_t)d->V, sizeof *d->logp);
    d->att = heed_zalloc(env, rows * L * S + 1, sizeof *d->att);
    d->att2 = heed_zalloc(env, rows * L * S + 1, sizeof *d->att2);
    d->fin = heed_zalloc(env, d->nsrc * (size_t)d->k, sizeof *d->fin);
    d->n_fin = heed_zalloc(env, d->nsrc, sizeof *d->n_fin);
    d->done = heed_zalloc(env, rows, sizeof *d->done);
    if (!d->cur || !d->parent || !d->hist || !d->hist2 || !d->score || !d->score2 || !d->logp ||
        !d->att || !d->att2 || !d->fin || !d->n_fin || !d->done)
        return heed_fail(d->diag, HEED_ERR_NOMEM, "out of memory while decoding");
    for (size_t r = 0; r < rows; r++)
        d->cur[r] = HEED_BOS_ID;
    return HEED_OK;
}

/* The best finished hypothesis of each source into the result. */
static heed_status collect(dec *d, size_t width)
{
    for (size_t src = 0; src < d->nsrc; src++) {
        const hyp *best = NULL;
        for (int i = 0; i < d->n_fin[src]; i++) {
            const hyp *h = &d->fin[src * (size_t)d->k + (size_t)i];
            if (!best || h->score > best->score)
                best = h;
        }
        heed_decoded *out = &d->res->items[d->first + src];
        if (!best)
            continue;
        int len = best->len - (best->len > 0 && best->tokens[best->len - 1] == HEED_EOS_ID);
        out->tokens = best->tokens;
        out->length = (size_t)len;
        out->score = best->score;
        out->attention = best->att;
        out->source_length = width;
        out->source = pool_copy(d, d->src_ids + src * (size_t)d->k * width, width * sizeof(int32_t));
        if (!out->source)
            return heed_fail(d->diag, HEED_ERR_NOMEM, "out of memory while decoding");
    }
    return HEED_OK;
}

/* A source with no tokens of its own (an empty text) decodes to an empty
 * output: it is finished before the first step, with <eos> alone. */
static heed_status finish_empty_sources(dec *d, size_t width)
{
    static const int32_t eos = HEED_EOS_ID;
    heed_status st = HEED_OK;
    for (size_t src = 0; src < d->nsrc && st == HEED_OK; src++) {
        const int32_t *ids = d->src_ids + src * (size_t)d->k * width;
        bool empty = true;
        for (size_t i = 0; i < width && empty; i++)
            empty = ids[i] == HEED_PAD_ID || ids[i] == HEED_BOS_ID || ids[i] == HEED_EOS_ID;
        if (!empty)
            continue;
        st = finish(d, src, &eos, 1, 0.0f,
                    d->att + src * (size_t)d->k * (size_t)d->max_len * (size_t)d->S);
        d->done[src] = true;
    }
    return st;
}

/* A step's logits must be one row of V scores per decoded row, V the size
 * of the fed-back input's vocabulary (its argmax is fed back), and the
 * attention one row per decoded row over the `width` source positions:
 * decode: logits: or attention: naming another value would be read past its
 * end or feed back ids out of range. */
static heed_status check_step_values(const dec *d, size_t width, heed_diag *diag)
{
    const heed_model *m = d->m;
    const hp_value *lv = &d->s->plan->values[m->decode_logits];
    int64_t vocab = -1;
    for (int f = 0; f < m->n_fields && d->s->w->vocab; f++)
        if (!strcmp(m->fields[f].input, m->inputs[m->decode_input].name))
            vocab = d->s->w->vocab->v[m->fields[f].vocab].n;
    if (lv->numel != d->rows * (size_t)d->V || lv->shape.rank < 2 || (vocab > 0 && d->V != vocab))
        return heed_fail(diag, HEED_ERR_MODEL,
                         "decode logits '%s' must hold one row of scores per step over the "
                         "tokens of input '%s' (%lld of them); a step gives it %lld values in "
                         "rows of %lld",
                         m->values[m->decode_logits].name, m->inputs[m->decode_input].name,
                         (long long)vocab, (long long)lv->numel, (long long)d->V);
    if (d->want_att) {
        const hp_value *av = &d->s->plan->values[d->att_value];
        if (av->numel != d->rows * (size_t)d->S || av->shape.rank < 2 || (size_t)d->S != width)
            return heed_fail(diag, HEED_ERR_MODEL,
                             "decode attention '%s' must hold one row of weights over the %zu "
                             "source positions per step; a step gives it %lld values in rows of "
                             "%lld",
                             m->values[d->att_value].name, width, (long long)av->numel,
                             (long long)d->S);
    }
    return HEED_OK;
}

static heed_status decode_chunk(heed_session *s, heed_decode_result *res,
                                const char *const *texts, size_t first, size_t n,
                                const heed_decode_options *o, bool force_beam, int steps,
                                heed_diag *diag)
{
    const heed_model *m = s->m;
    int k = o && o->beam > 0 ? o->beam : 1;
    dec d = {.s = s, .m = m, .res = res, .first = first, .nsrc = n, .rows = n * (size_t)k,
             .k = k, .diag = diag};
    d.max_len = o && o->max_length > 0 ? o->max_length : m->decode_max_length;
    if (d.max_len > steps) /* a learned position table on the output ends there */
        d.max_len = steps;
    d.min_len = o && o->min_length > 0 ? o->min_length : 0;
    d.alpha = o ? o->length_alpha : 0.0f;
    d.want_att = o && o->attention;
    size_t width = 0;
    heed_status st =
        hd_feed_texts(s, texts + first, n, first, (size_t)k, -1, &d.src_ids, &width, diag);
    if (st != HEED_OK)
        return st;
    hs_step_mode(s, m->decode_input);
    /* the first step (every row fed <bos>) binds the plan, whose shapes give V
     * and S; its outputs serve as step 0 */
    d.V = 1, d.S = 1;
    heed_tensor t = {m->inputs[m->decode_input].name, HEED_I32, 2, {(int64_t)d.rows, 1, 0, 0}, NULL};
    int32_t *bos = heed_zalloc(s->env, d.rows, sizeof *bos);
    if (!bos) {
        heed_dealloc(s->env, d.src_ids);
        hs_step_mode(s, -1); /* the session must not stay in step mode */
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    }
    for (size_t r = 0; r < d.rows; r++)
        bos[r] = HEED_BOS_ID;
    t.data = bos;
    hp_options opt = {.mode = HEED_MODE_INFER, .step_input = m->decode_input};
    st = heed_session_set_input(s, t.name, &t, diag);
    if (st == HEED_OK)
        st = hs_forward_opts(s, &opt, diag);
    heed_dealloc(s->env, bos);
    if (st == HEED_OK) {
        const hp_value *lv = &s->plan->values[m->decode_logits];
        d.V = lv->shape.d[lv->shape.rank - 1].v;
        d.att_value = d.want_att ? attention_value(s, d.rows, width) : -1;
        d.want_att = d.att_value >= 0;
        if (d.want_att) {
            const hp_value *av = &s->plan->values[d.att_value];
            d.S = av->shape.d[av->shape.rank - 1].v;
        }
        d.primed = true;
        st = check_step_values(&d, width, diag);
        if (st == HEED_OK)
            st = dec_alloc(&d);
    }
    float *att_row = st == HEED_OK ? heed_zalloc(s->env, d.rows * (size_t)d.S + 1, sizeof *att_row) : NULL;
    if (st == HEED_OK && !att_row)
        st = heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    if (st == HEED_OK)
        st = finish_empty_sources(&d, width);
    if (st == HEED_OK)
        st = k == 1 && !force_beam ? greedy(&d, att_row) : beam(&d, att_row);
    for (size_t src = 0; st == HEED_OK && src < n; src++)
        if (!d.done[src] && d.n_fin[src] == 0)
            st = heed_fail(diag, HEED_ERR_STATE, "source %zu did not finish", first + src);
    if (st == HEED_OK)
        st = collect(&d, width);
    heed_dealloc(s->env, att_row);
    dec_free(&d);
    hs_step_mode(s, -1);
    return st;
}

/* The value feeding input attribute `name` of node nd (the first of a
 * list), or -1 when it is not given. */
static int port_value(const hm_node *nd, const char *name)
{
    heed_flat_attr flat[HEED_MAX_ATTRS];
    int n = heed_flatten_attrs(nd->op->attrs, flat, HEED_MAX_ATTRS);
    for (int j = 0; j < n && j < HEED_MAX_INPUTS; j++)
        if (!strcmp(flat[j].name, name) && nd->port_first[j] >= 0)
            return nd->in[nd->port_first[j]];
    return -1;
}

/* The input attribute through which node nd reads a value in `stepped`
 * across its time steps, or NULL: attention keys and values, a recurrent
 * node's attention memory, a mean over time. */
static const char *mixing_port(const hm_node *nd, const bool *stepped)
{
    int v;
    if (nd->op == &heed_op_mha) {
        int key = port_value(nd, "key") >= 0 ? port_value(nd, "key") : port_value(nd, "query");
        int value = port_value(nd, "value") >= 0 ? port_value(nd, "value") : key;
        return key >= 0 && stepped[key] ? "key" : value >= 0 && stepped[value] ? "value" : NULL;
    }
    if (nd->op == &heed_op_attention) {
        int keys = port_value(nd, "keys"), values = port_value(nd, "values");
        return keys >= 0 && stepped[keys]       ? "keys"
               : values >= 0 && stepped[values] ? "values"
                                                 : NULL;
    }
    if (nd->op == &heed_op_meanpool)
        return (v = port_value(nd, "in")) >= 0 && stepped[v] ? "in" : NULL;
    if (nd->op->flags & HEED_OP_RECURRENT)
        return (v = port_value(nd, "attention.memory")) >= 0 && stepped[v] ? "attention.memory"
                                                                           : NULL;
    return NULL;
}

/* The positions of a learned PositionalEncoding table (its max_len), or
 * INT_MAX for sinusoids, which go on for ever. */
static int table_positions(const hm_node *nd)
{
    int kind = hm_attr_index(nd->op, "kind"), len = hm_attr_index(nd->op, "max_len");
    if (kind < 0 || !nd->attr[kind] || strcmp(nd->attr[kind]->str, "learned") != 0)
        return INT_MAX;
    int64_t v = 512; /* the attribute's default */
    if (len >= 0 && nd->attr[len])
        hy_int(nd->attr[len], &v);
    return v < INT_MAX ? (int)v : INT_MAX;
}

/* Decoding runs one step at a time on a plan of one position, and only
 * recurrent nodes carry the steps before: a node that reads the fed-back
 * sequence across its steps (a decoder's self-attention) would see the
 * current token alone and decode wrongly without a word. Refuses it. A
 * learned position table on the fed-back sequence bounds how many steps
 * can run: *steps gets its size (INT_MAX: no bound). */
/* The fed-back input grows a step at a time, so no other input may share
 * its length (a tagger-like [B, S] source and [B, S] target with shift: 1):
 * every step would bind that length to 1 against the source's. */
static heed_status check_own_length(const heed_model *m, heed_diag *diag)
{
    const hm_input *fed = &m->inputs[m->decode_input];
    /* nor may its length be fixed: a step holds one position of it */
    bool fixed = fed->rank >= 2 && (fed->sym[1] < 0 || m->syms[fed->sym[1]].kind == HM_SYM_FIXED);
    if (fixed) {
        heed_srcpos pos = hm_pos(m, fed->at);
        char len[HEED_MAX_DIM_NAME + 24];
        if (fed->sym[1] < 0)
            snprintf(len, sizeof len, "%lld", (long long)fed->lit[1]);
        else
            snprintf(len, sizeof len, "%s (in dims:)", m->syms[fed->sym[1]].name);
        heed_diag_add(diag, HEED_ERR_UNSUPPORTED, &pos, NULL,
                      "model '%s' cannot decode: its fed-back input '%s' has the fixed length "
                      "%s, and decoding feeds it one step at a time (give it a length of its "
                      "own, a name not in dims:, e.g. [B, T])",
                      m->name, fed->name, len);
        return HEED_ERR_UNSUPPORTED;
    }
    for (int i = 0; fed->rank >= 2 && fed->sym[1] >= 0 && i < m->n_inputs; i++) {
        const hm_input *in = &m->inputs[i];
        for (int a = 0; i != m->decode_input && a < in->rank; a++) {
            if (in->sym[a] != fed->sym[1])
                continue;
            heed_srcpos pos = hm_pos(m, fed->at);
            heed_diag_add(diag, HEED_ERR_UNSUPPORTED, &pos, NULL,
                          "model '%s' cannot decode: its fed-back input '%s' shares its length "
                          "%s with input '%s', and decoding feeds it one step at a time (give "
                          "it a length of its own, e.g. [B, T])",
                          m->name, fed->name, m->syms[fed->sym[1]].name, in->name);
            return HEED_ERR_UNSUPPORTED;
        }
    }
    return HEED_OK;
}

static heed_status check_steppable(const heed_model *m, int *steps, heed_diag *diag)
{
    *steps = INT_MAX;
    heed_status own = check_own_length(m, diag);
    if (own != HEED_OK)
        return own;
    bool *stepped = heed_zalloc(&m->env, (size_t)m->n_values + 1, sizeof *stepped);
    if (!stepped)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    stepped[m->inputs[m->decode_input].value] = true;
    heed_status st = HEED_OK;
    for (int n = 0; n < m->n_nodes && st == HEED_OK; n++) {
        const hm_node *nd = &m->nodes[n];
        bool any = false;
        for (int i = 0; i < nd->n_in; i++)
            any |= nd->in[i] >= 0 && stepped[nd->in[i]];
        const char *port = any ? mixing_port(nd, stepped) : NULL;
        if (port) {
            heed_srcpos pos = hm_pos(m, nd->at);
            heed_diag_add(diag, HEED_ERR_UNSUPPORTED, &pos, nd->name,
                          "node '%s' (%s) reads the fed-back input '%s' across its steps "
                          "(through '%s'); decoding runs one step at a time and only recurrent "
                          "nodes carry the steps before, so it cannot decode this model (train "
                          "and evaluate it teacher-forced with heed_session_forward)",
                          nd->name, nd->op->name, m->inputs[m->decode_input].name, port);
            st = HEED_ERR_UNSUPPORTED;
        }
        int positions = any && nd->op == &heed_op_posenc ? table_positions(nd) : INT_MAX;
        if (positions < *steps)
            *steps = positions;
        for (int o = 0; o < nd->n_out; o++)
            stepped[nd->out[o]] = any;
    }
    heed_dealloc(&m->env, stepped);
    return st;
}

heed_decode_result *hd_result_new(const heed_session *s, size_t n, const char *target)
{
    heed_decode_result *res = heed_zalloc(s->env, 1, sizeof *res);
    if (!res)
        return NULL;
    res->env = s->env;
    res->m = s->m;
    res->vocab = s->w->vocab;
    res->target = target;
    res->n = n;
    res->items = heed_zalloc(s->env, n + 1, sizeof *res->items);
    if (!res->items) {
        heed_dealloc(s->env, res);
        return NULL;
    }
    return res;
}

heed_decoded *hd_result_item(heed_decode_result *r, size_t i)
{
    return &r->items[i];
}

void *hd_result_copy(heed_decode_result *r, const void *src, size_t bytes)
{
    void *p = heed_pool_alloc(r->env, &r->pool, bytes ? bytes : 1);
    if (p && bytes)
        memcpy(p, src, bytes);
    return p;
}

heed_status heed_decode(heed_session *s, const char *const *texts, size_t n,
                        const heed_decode_options *o, heed_decode_result **out, heed_diag *diag)
{
    return hd_decode(s, texts, n, o, false, out, diag);
}

heed_status hd_decode(heed_session *s, const char *const *texts, size_t n,
                      const heed_decode_options *o, bool force_beam, heed_decode_result **out,
                      heed_diag *diag)
{
    heed_diag_clear(diag);
    if (out)
        *out = NULL;
    if (!s || !out || (!texts && n))
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_decode: NULL argument");
    const heed_model *m = s->m;
    if (m->decode_input < 0 || m->decode_logits < 0)
        return heed_fail(diag, HEED_ERR_UNSUPPORTED,
                         "model '%s' is not a seq2seq model: it has no input fed back step by "
                         "step (a CrossEntropy loss with shift: 1 on an input, or decode: input:)",
                         m->name);
    int steps;
    heed_status steppable = check_steppable(m, &steps, diag);
    if (steppable != HEED_OK)
        return steppable;
    if (s->mode != HEED_MODE_INFER)
        return heed_fail(diag, HEED_ERR_STATE, "decoding needs a session made with "
                                               "HEED_MODE_INFER");
    if (o && (o->beam < 0 || o->beam > 32))
        return heed_fail(diag, HEED_ERR_ARGUMENT, "beam width %d is outside 0..32 (0 and 1: "
                                                  "greedy)",
                         o->beam);
    /* the bounds of decode: max_length in the language */
    if (o && (o->max_length < 0 || o->max_length > 4096 || o->min_length < 0 ||
              o->min_length > 4096))
        return heed_fail(diag, HEED_ERR_ARGUMENT,
                         "max_length %d or min_length %d is outside 0..4096 (0: the default)",
                         o->max_length, o->min_length);
    if (o && !(o->length_alpha >= 0.0f && o->length_alpha <= 10.0f))
        return heed_fail(diag, HEED_ERR_ARGUMENT, "length_alpha %g is outside 0..10",
                         (double)o->length_alpha);
    int tf = -1;
    for (int f = 0; f < m->n_fields; f++)
        if (!strcmp(m->fields[f].input, m->inputs[m->decode_input].name))
            tf = f;
    heed_decode_result *res = hd_result_new(s, n, tf >= 0 ? m->fields[tf].input : NULL);
    if (!res)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    heed_status st = HEED_OK;
    /* once for all steps: each step's forward then finds the mode set */
    heed_fpmode fm = heed_fpmode_enter(s->threads);
    for (size_t i = 0, k; i < n && st == HEED_OK; i += k) {
        k = hd_text_batch(texts + i, n - i);
        st = decode_chunk(s, res, texts, i, k, o, force_beam, steps, diag);
    }
    heed_fpmode_leave(fm, s->threads);
    if (st != HEED_OK) {
        heed_decode_result_free(res);
        return st;
    }
    *out = res;
    return HEED_OK;
}

size_t heed_decode_count(const heed_decode_result *r)
{
    return r ? r->n : 0;
}

const heed_decoded *heed_decode_get(const heed_decode_result *r, size_t i)
{
    return r && i < r->n ? &r->items[i] : NULL;
}

heed_status heed_decode_text(const heed_decode_result *r, size_t i, char *text, size_t cap)
{
    if (!r || i >= r->n || !text || !cap)
        return HEED_ERR_ARGUMENT;
    if (!r->vocab || !r->target) {
        text[0] = '\0';
        return HEED_ERR_STATE;
    }
    return heed_vocab_decode(r->vocab, r->target, r->items[i].tokens, r->items[i].length, text,
                             cap);
}

void heed_decode_result_free(heed_decode_result *r)
{
    if (!r)
        return;
    const heed_env *env = r->env;
    heed_dealloc(env, r->items);
    heed_pool_free(env, r->pool);
    heed_dealloc(env, r);
}
