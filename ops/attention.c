/*
 * Attention: each query attends to the keys of its own sequence; keys past the
 * sequence's length are masked before the softmax. Scores:
 *   dot         q . k                        (Luong dot)
 *   scaled_dot  q . k / sqrt(Dk)             (Transformer)
 *   general     q . (W k), W [Dq, Dk]        (Luong general)
 *   additive    v . tanh(Wq q + Wk k + b)    (Bahdanau; Wq [U,Dq], Wk [U,Dk], v [1,U])
 * Outputs the context (weights times values), the weights (kept so they can
 * be shown) and the raw scores.
 *
 * Shape key: B = batch, Tq = queries, Tk = keys, Dq/Dk/Dv = widths, U = units.
 * query [B,Tq,Dq], keys [B,Tk,Dk], values [B,Tk,Dv] (default: the keys) ->
 * out [B,Tq,Dv], weights [B,Tq,Tk], scores [B,Tq,Tk].
 */
#include <math.h>
#include <string.h>

#include "kernels/attend.h"
#include "kernels/kernels.h"
#include "op.h"

typedef enum score_kind { SCORE_DOT, SCORE_GENERAL, SCORE_ADDITIVE, SCORE_SCALED } score_kind;

enum { IN_QUERY, IN_KEYS };
enum { OUT_CONTEXT, OUT_WEIGHTS, OUT_SCORES };

typedef struct attention_cfg {
    score_kind score;
    int64_t B, Tq, Tk, Dq, Dk, Dv, U;
    int port_values, port_len; /* -1 when absent */
    float scale;
    /* backward workspace offsets (floats) */
    size_t w_da, w_dqp, w_dkp, w_dv;
} attention_cfg;

static const heed_attr attrs[] = {
    {.name = "query", .kind = HEED_A_INPUT, .def = NULL, .doc = "queries [B, Tq, Dq]"},
    {.name = "keys", .kind = HEED_A_INPUT, .def = NULL, .doc = "keys [B, Tk, Dk]"},
    {.name = "values", .kind = HEED_A_INPUT, .def = "", .doc = "values [B, Tk, Dv] (default: the keys)"},
    {.name = "score", .kind = HEED_A_CHOICE, .def = "dot",
     .choices = "dot,general,additive,scaled_dot", .doc = "how a query scores a key"},
    {.name = "units", .kind = HEED_A_DIM, .def = "",
     .doc = "additive: width of the projections (default: Dq)"},
    {.name = "lengths", .kind = HEED_A_INPUT, .def = "", .ids = true,
     .doc = "key lengths [B], each from 0 to Tk (default: from the pad ids the keys came from)"},
    {0}};

static const char *const outputs[] = {"out", "weights", "scores", NULL};

/* The width of the projected queries and keys: U (additive), Dq (general:
 * the keys projected to the queries' width), none for dot scores. */
static int64_t proj_width(const attention_cfg *cfg)
{
    return cfg->score == SCORE_ADDITIVE ? cfg->U : cfg->score == SCORE_GENERAL ? cfg->Dq : 0;
}

/* The projected queries' floats at the start of the saved buffer, the keys'
 * following: general scores project only the keys. */
static int64_t qp_floats(const attention_cfg *cfg)
{
    return cfg->score == SCORE_ADDITIVE ? cfg->B * cfg->Tq * cfg->U : 0;
}

static heed_status attention_infer(heed_infer *c)
{
    attention_cfg *cfg = heed_infer_cfg(c);
    const heed_shape *q = heed_in_shape(c, heed_port(c, "query"));
    const heed_shape *k = heed_in_shape(c, heed_port(c, "keys"));
    cfg->port_values = heed_port(c, "values");
    cfg->port_len = heed_port(c, "lengths");
    const heed_shape *v = cfg->port_values >= 0 ? heed_in_shape(c, cfg->port_values) : k;
    char a[160], b[160];
    if (q->rank != 3 || k->rank != 3 || v->rank != 3) {
        /* the input at fault, not the others */
        const heed_shape *bad = q->rank != 3 ? q : k->rank != 3 ? k : v;
        return heed_infer_fail(c, "%s shape %s; query, keys and values must be [B,T,D]",
                               bad == q ? "query has" : bad == k ? "keys have" : "values have",
                               heed_shape_text(c, bad, a, sizeof a));
    }
    if (!heed_dim_eq(q->d[0], k->d[0]))
        return heed_infer_fail(c, "keys have shape %s but query has %s; the batch must agree",
                               heed_shape_text(c, k, a, sizeof a), heed_shape_text(c, q, b, sizeof b));
    if (!heed_dim_eq(k->d[0], v->d[0]) || !heed_dim_eq(k->d[1], v->d[1]))
        return heed_infer_fail(c, "values have shape %s but keys have %s; batch and length must "
                                  "agree",
                               heed_shape_text(c, v, a, sizeof a), heed_shape_text(c, k, b, sizeof b));
    cfg->score = (score_kind)heed_attr_choice(c, "score");
    cfg->B = q->d[0].v;
    cfg->Tq = q->d[1].v;
    cfg->Tk = k->d[1].v;
    cfg->Dq = q->d[2].v;
    cfg->Dk = k->d[2].v;
    cfg->Dv = v->d[2].v;
    cfg->U = heed_attr_given(c, "units") ? heed_attr_dim(c, "units").v : cfg->Dq;
    cfg->scale = cfg->score == SCORE_SCALED ? 1.0f / sqrtf((float)cfg->Dk) : 1.0f;
    /* as dims, not numbers: widths bound at run time may differ */
    if ((cfg->score == SCORE_DOT || cfg->score == SCORE_SCALED) && !heed_dim_eq(q->d[2], k->d[2]))
        return heed_infer_fail(c, "keys have shape %s but query has %s; %s scores need equal "
                                  "widths (use score: general or additive)",
                               heed_shape_text(c, k, a, sizeof a), heed_shape_text(c, q, b, sizeof b),
                               cfg->score == SCORE_DOT ? "dot" : "scaled_dot");
    if (cfg->port_len >= 0) {
        const heed_shape *l = heed_in_shape(c, cfg->port_len);
        if (l->rank != 1 || !heed_dim_eq(l->d[0], q->d[0]))
            return heed_infer_fail(c, "lengths has shape %s but must be [B]",
                                   heed_shape_text(c, l, a, sizeof a));
        heed_set_lengths_limit(c, cfg->port_len, k->d[1].v, false);
    }
    heed_shape out = heed_shape3(q->d[0], q->d[1], v->d[2]);
    heed_shape w = heed_shape3(q->d[0], q->d[1], k->d[1]);
    heed_set_out(c, OUT_CONTEXT, &out, HEED_F32);
    heed_set_out(c, OUT_WEIGHTS, &w, HEED_F32);
    heed_set_out(c, OUT_SCORES, &w, HEED_F32);
    for (int o = 0; o < 3; o++)
        heed_set_out_lengths(c, o, heed_port(c, "query"));
    if (cfg->score == SCORE_GENERAL) {
        heed_shape ws = heed_shape2(q->d[2], k->d[2]);
        heed_add_param(c, "weight", &ws, (heed_init){HEED_INIT_UNIFORM, 1.0f / sqrtf((float)cfg->Dk)});
    } else if (cfg->score == SCORE_ADDITIVE) {
        heed_dimv u = heed_lit(cfg->U);
        heed_shape wq = heed_shape2(u, q->d[2]), wk = heed_shape2(u, k->d[2]);
        heed_shape bk = heed_shape_make(1, &u), vw = heed_shape2(heed_lit(1), u);
        heed_add_param(c, "query_proj.weight", &wq, (heed_init){HEED_INIT_UNIFORM, 1.0f / sqrtf((float)cfg->Dq)});
        heed_add_param(c, "key_proj.weight", &wk, (heed_init){HEED_INIT_UNIFORM, 1.0f / sqrtf((float)cfg->Dk)});
        heed_add_param(c, "key_proj.bias", &bk, (heed_init){HEED_INIT_UNIFORM, 1.0f / sqrtf((float)cfg->Dk)});
        heed_add_param(c, "v.weight", &vw, (heed_init){HEED_INIT_UNIFORM, 1.0f / sqrtf((float)cfg->U)});
    }
    size_t B = (size_t)cfg->B, Tq = (size_t)cfg->Tq, Tk = (size_t)cfg->Tk;
    size_t proj = (size_t)proj_width(cfg);
    /* saved: the projected queries and keys, which backward reads rather
     * than redoing their products (for additive scores at the Bahdanau
     * graph's sizes, 1.17 of the forward pass's 1.25 GFLOP); backward's
     * workspace: dA, the projections' gradients and one dv row per batch row */
    heed_add_saved(c, (size_t)qp_floats(cfg) + B * Tk * proj + 1);
    size_t o = 0;
    cfg->w_da = o, o += B * Tq * Tk;
    cfg->w_dqp = o, o += (size_t)qp_floats(cfg);
    cfg->w_dkp = o, o += B * Tk * proj;
    cfg->w_dv = o, o += cfg->score == SCORE_ADDITIVE ? B * proj : 0;
    heed_set_workspace(c, 0, heed_infer_training(c) ? o : 0);
    uint32_t needs = 1u << heed_port(c, "query") | 1u << heed_port(c, "keys");
    if (cfg->port_values >= 0)
        needs |= 1u << cfg->port_values;
    if (cfg->port_len >= 0)
        needs |= 1u << cfg->port_len;
    heed_set_backward_needs(c, needs, 1u << OUT_WEIGHTS);
    double f = 2.0 * (double)(B * Tq * Tk) * (double)(cfg->Dq + cfg->Dv);
    if (cfg->score == SCORE_ADDITIVE)
        f = 2.0 * (double)(B * (Tq * (size_t)cfg->Dq + Tk * (size_t)cfg->Dk)) * (double)cfg->U +
            3.0 * (double)(B * Tq * Tk) * (double)cfg->U + 2.0 * (double)(B * Tq * Tk * (size_t)cfg->Dv);
    heed_set_flops(c, f, 2.0 * f);
    return HEED_OK;
}

/* ------------------------------------------------------------ helpers */

static const float *values_of(const heed_exec *x, const attention_cfg *cfg)
{
    return cfg->port_values >= 0 ? x->in[cfg->port_values] : x->in[IN_KEYS];
}

static const int32_t *key_lengths(const heed_exec *x, const attention_cfg *cfg)
{
    return cfg->port_len >= 0 ? (const int32_t *)x->in[cfg->port_len] : x->len[IN_KEYS];
}

/* Projected queries and keys for additive and general scores. */
static void project(const heed_exec *x, const attention_cfg *cfg, float *qp, float *kp)
{
    int64_t BTq = cfg->B * cfg->Tq, BTk = cfg->B * cfg->Tk;
    const float *q = x->in[IN_QUERY], *k = x->in[IN_KEYS];
    if (cfg->score == SCORE_GENERAL) {
        heed_gemm(false, true, BTk, cfg->Dq, cfg->Dk, 1.0f, k, cfg->Dk, x->param[0], cfg->Dk,
                  0.0f, kp, cfg->Dq);
    } else if (cfg->score == SCORE_ADDITIVE) {
        heed_gemm(false, true, BTq, cfg->U, cfg->Dq, 1.0f, q, cfg->Dq, x->param[0], cfg->Dq, 0.0f,
                  qp, cfg->U);
        heed_gemm_bias(false, true, BTk, cfg->U, cfg->Dk, k, cfg->Dk, x->param[1], cfg->Dk,
                       x->param[2], kp, cfg->U);
    }
}

/* ------------------------------------------------------------ forward */

/* Shape key: q [B,Tq,Dq], k [B,Tk,Dk], v [B,Tk,Dv] -> c [B,Tq,Dv], a [B,Tq,Tk] */
static heed_status attention_forward(heed_exec *x)
{
    const attention_cfg *cfg = x->cfg;
    int64_t B = cfg->B, Tq = cfg->Tq, Tk = cfg->Tk, Dv = cfg->Dv;
    const float *q = x->in[IN_QUERY], *k = x->in[IN_KEYS], *v = values_of(x, cfg);
    float *scores = x->out[OUT_SCORES], *w = x->out[OUT_WEIGHTS];
    float *qp = x->saved[0], *kp = x->saved[0] + qp_floats(cfg);
    project(x, cfg, qp, kp);
    switch (cfg->score) {
    case SCORE_DOT:
    case SCORE_SCALED:
        heed_gemm_batch(false, true, Tq, Tk, cfg->Dq, cfg->scale, q, cfg->Dq, Tq * cfg->Dq, k,
                        cfg->Dk, Tk * cfg->Dk, 0.0f, scores, Tk, Tq * Tk, B);
        break;
    case SCORE_GENERAL:
        heed_gemm_batch(false, true, Tq, Tk, cfg->Dq, 1.0f, q, cfg->Dq, Tq * cfg->Dq, kp, cfg->Dq,
                        Tk * cfg->Dq, 0.0f, scores, Tk, Tq * Tk, B);
        break;
    case SCORE_ADDITIVE:
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < B; b++)
            heed_additive_scores(qp + b * Tq * cfg->U, Tq, kp + b * Tk * cfg->U, Tk, x->param[3],
                                 cfg->U, scores + b * Tq * Tk);
        break;
    }
    const int32_t *len = key_lengths(x, cfg);
    memcpy(w, scores, (size_t)(B * Tq * Tk) * sizeof *w);
    HEED_FOR_IF(B * Tq * Tk > 32768, , for (int64_t r = 0; r < B * Tq; r++),
        heed_softmax_row(w + r * Tk, Tk, heed_len(len, r / Tq, Tk)););
    heed_gemm_batch(false, false, Tq, Dv, Tk, 1.0f, w, Tk, Tq * Tk, v, Dv, Tk * Dv, 0.0f,
                    x->out[OUT_CONTEXT], Dv, Tq * Dv, B);
    return HEED_OK;
}

/* ------------------------------------------------------------ backward */

static void score_backward(heed_exec *x, const attention_cfg *cfg, const float *ds)
{
    int64_t B = cfg->B, Tq = cfg->Tq, Tk = cfg->Tk, Dq = cfg->Dq, Dk = cfg->Dk, U = cfg->U;
    const float *q = x->in[IN_QUERY], *k = x->in[IN_KEYS];
    float *dq = x->din[IN_QUERY], *dk = x->din[IN_KEYS];
    const float *qp = x->saved[0], *kp = x->saved[0] + qp_floats(cfg); /* as forward left them */
    float *dqp = x->ws + cfg->w_dqp, *dkp = x->ws + cfg->w_dkp;
    switch (cfg->score) {
    case SCORE_DOT:
    case SCORE_SCALED:
        if (dq)
            heed_gemm_batch(false, false, Tq, Dq, Tk, cfg->scale, ds, Tk, Tq * Tk, k, Dk, Tk * Dk,
                            1.0f, dq, Dq, Tq * Dq, B);
        if (dk)
            heed_gemm_batch(true, false, Tk, Dk, Tq, cfg->scale, ds, Tk, Tq * Tk, q, Dq, Tq * Dq,
                            1.0f, dk, Dk, Tk * Dk, B);
        return;
    case SCORE_GENERAL:
        if (dq)
            heed_gemm_batch(false, false, Tq, Dq, Tk, 1.0f, ds, Tk, Tq * Tk, kp, Dq, Tk * Dq, 1.0f,
                            dq, Dq, Tq * Dq, B);
        /* d(K W^T) = ds^T q, then into K and W */
        heed_gemm_batch(true, false, Tk, Dq, Tq, 1.0f, ds, Tk, Tq * Tk, q, Dq, Tq * Dq, 0.0f, dkp,
                        Dq, Tk * Dq, B);
        if (dk)
            heed_gemm(false, false, B * Tk, Dk, Dq, 1.0f, dkp, Dq, x->param[0], Dk, 1.0f, dk, Dk);
        if (x->dparam && x->dparam[0])
            heed_gemm(true, false, Dq, Dk, B * Tk, 1.0f, dkp, Dq, k, Dk, 1.0f, x->dparam[0], Dk);
        return;
    case SCORE_ADDITIVE: {
        float *dvb = x->ws + cfg->w_dv;
        memset(dqp, 0, (size_t)(B * Tq * U) * sizeof *dqp);
        memset(dkp, 0, (size_t)(B * Tk * U) * sizeof *dkp);
        memset(dvb, 0, (size_t)(B * U) * sizeof *dvb);
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < B; b++)
            heed_additive_scores_backward(qp + b * Tq * U, Tq, kp + b * Tk * U, Tk, x->param[3], U,
                                          ds + b * Tq * Tk, dqp + b * Tq * U, dkp + b * Tk * U,
                                          dvb + b * U);
        if (dq)
            heed_gemm(false, false, B * Tq, Dq, U, 1.0f, dqp, U, x->param[0], Dq, 1.0f, dq, Dq);
        if (dk)
            heed_gemm(false, false, B * Tk, Dk, U, 1.0f, dkp, U, x->param[1], Dk, 1.0f, dk, Dk);
        if (x->dparam) {
            if (x->dparam[0])
                heed_gemm(true, false, U, Dq, B * Tq, 1.0f, dqp, U, q, Dq, 1.0f, x->dparam[0], Dq);
            if (x->dparam[1])
                heed_gemm(true, false, U, Dk, B * Tk, 1.0f, dkp, U, k, Dk, 1.0f, x->dparam[1], Dk);
            if (x->dparam[2])
                heed_sum_rows(x->dparam[2], dkp, B * Tk, U);
            if (x->dparam[3])
                heed_sum_rows(x->dparam[3], dvb, B, U);
        }
        return;
    }
    }
}

static void attention_backward(heed_exec *x)
{
    const attention_cfg *cfg = x->cfg;
    int64_t B = cfg->B, Tq = cfg->Tq, Tk = cfg->Tk, Dv = cfg->Dv;
    const float *w = x->out[OUT_WEIGHTS], *v = values_of(x, cfg);
    const float *dc = x->dout[OUT_CONTEXT], *dw = x->dout[OUT_WEIGHTS];
    /* values default to the keys: their gradient then lands in the keys' */
    float *dv = cfg->port_values >= 0 ? x->din[cfg->port_values] : x->din[IN_KEYS];
    float *da = x->ws + cfg->w_da;
    if (dw)
        memcpy(da, dw, (size_t)(B * Tq * Tk) * sizeof *da);
    else
        memset(da, 0, (size_t)(B * Tq * Tk) * sizeof *da);
    if (dc) {
        heed_gemm_batch(false, true, Tq, Tk, Dv, 1.0f, dc, Dv, Tq * Dv, v, Dv, Tk * Dv, 1.0f, da, Tk,
                        Tq * Tk, B);
        if (dv)
            heed_gemm_batch(true, false, Tk, Dv, Tq, 1.0f, w, Tk, Tq * Tk, dc, Dv, Tq * Dv, 1.0f, dv,
                            Dv, Tk * Dv, B);
    }
    /* through the softmax, in place: masked entries have weight 0 and get 0 */
    HEED_FOR_IF(B * Tq * Tk > 32768, , for (int64_t r = 0; r < B * Tq; r++), {
        const float *y = w + r * Tk;
        float *g = da + r * Tk, dot = 0.0f;
        for (int64_t j = 0; j < Tk; j++)
            dot += y[j] * g[j];
        for (int64_t j = 0; j < Tk; j++)
            g[j] = y[j] * (g[j] - dot);
    });
    /* .scores, read by another node, are the raw scores at every position */
    const float *dsc = x->dout[OUT_SCORES];
    for (int64_t i = 0; dsc && i < B * Tq * Tk; i++)
        da[i] += dsc[i];
    score_backward(x, cfg, da);
}

const heed_op heed_op_attention = {
    .name = "Attention",
    .doc = "Each query attends to the (unpadded) keys: dot, general, additive (Bahdanau) or "
           "scaled_dot scores, masked softmax, weighted sum of the values. .scores are the raw "
           "scores, padding unmasked; a row with no keys has zero weights and context.",
    .shapes = "query [B,Tq,Dq], keys [B,Tk,Dk], values [B,Tk,Dv] -> [B,Tq,Dv]; .weights and "
              ".scores [B,Tq,Tk]",
    .attrs = attrs,
    .outputs = outputs,
    .cfg_size = sizeof(attention_cfg),
    .infer = attention_infer,
    .forward = attention_forward,
    .backward = attention_backward,
};
