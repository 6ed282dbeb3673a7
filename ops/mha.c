/*
 * MultiHeadAttention: nn.MultiheadAttention with batch_first. Parameters:
 * in_proj_weight [3E,E] (or q_proj_weight [E,E], k_proj_weight [E,kdim],
 * v_proj_weight [E,vdim] when the key or value width differs from E),
 * in_proj_bias [3E], out_proj.weight [E,E], out_proj.bias [E]. Keys past each
 * sequence's length are masked, optionally also future positions (causal);
 * dropout acts on the attention weights in training.
 *
 * Memory: the attention probabilities [B,heads,L,S] are the one buffer of
 * that size kept for backward; masking and softmax are fused into the pass
 * that computes them. Work runs in parallel over batch x heads with
 * single-threaded BLAS products inside.
 *
 * Shape key: B = batch, L = queries, S = keys, E = width, h = heads,
 * dh = E / h; query [B,L,E], key [B,S,kdim], value [B,S,vdim] -> out [B,L,E],
 * weights [B,L,S] (averaged over heads) or [B,h,L,S] (per head).
 */
#include <math.h>
#include <string.h>

#include "kernels/heads512.h"
#include "kernels/kernels.h"
#include "kernels/steal.h"
#include "op.h"

enum { OUT_MAIN, OUT_WEIGHTS };
enum { SV_Q, SV_K, SV_V, SV_O, SV_P };

typedef struct mha_cfg {
    int64_t B, L, S, E, H, dh, kdim, vdim;
    int port_key, port_value, port_len; /* -1 when absent */
    bool packed;                        /* in_proj_weight rather than q/k/v_proj_weight */
    bool fused;                         /* self-attention: Q, K, V in one product */
    bool bias, causal, per_head;
    float dropout, scale;
    size_t w_do, w_dq, w_dk, w_dv, w_dp, w_qkv; /* backward workspace offsets */
    size_t w_pd, w_fqkv;                        /* forward workspace offsets */
} mha_cfg;

static const heed_attr attrs[] = {
    {.name = "query", .kind = HEED_A_INPUT, .def = NULL, .doc = "queries [B, L, E]"},
    {.name = "key", .kind = HEED_A_INPUT, .def = "", .doc = "keys [B, S, kdim] (default: query)"},
    {.name = "value", .kind = HEED_A_INPUT, .def = "",
     .doc = "values [B, S, vdim] (default: key)"},
    {.name = "heads", .kind = HEED_A_INT, .def = "1", .lo = 1, .hi = 1024,
     .doc = "attention heads; must divide E"},
    {.name = "bias", .kind = HEED_A_BOOL, .def = "true", .doc = "projection biases"},
    {.name = "causal", .kind = HEED_A_BOOL, .def = "false",
     .doc = "query i sees keys j <= i only"},
    {.name = "dropout", .kind = HEED_A_FLOAT, .def = "0", .lo = 0, .hi = 0.95,
     .doc = "dropout on the attention weights, in training"},
    {.name = "weights", .kind = HEED_A_CHOICE, .def = "average", .choices = "average,per_head",
     .doc = "the .weights output: averaged over heads, or one map per head"},
    {.name = "key_lengths", .kind = HEED_A_INPUT, .def = "", .ids = true,
     .doc = "key lengths [B], each from 0 to S (default: from the pad ids the keys came from)"},
    {0}};

static const char *const outputs[] = {"out", "weights", NULL};

static heed_status check_shapes(heed_infer *c, const heed_shape *q, const heed_shape *k,
                                const heed_shape *v)
{
    char a[160], b[160];
    if (q->rank != 3 || k->rank != 3 || v->rank != 3) {
        /* the input at fault, not the others */
        const heed_shape *bad = q->rank != 3 ? q : k->rank != 3 ? k : v;
        return heed_infer_fail(c, "%s has shape %s; query, key and value must be [B,T,D]",
                               bad == q ? "query" : bad == k ? "key" : "value",
                               heed_shape_text(c, bad, a, sizeof a));
    }
    if (!heed_dim_eq(q->d[0], k->d[0]) || !heed_dim_eq(k->d[0], v->d[0]))
        return heed_infer_fail(c, "key has shape %s but query has %s; the batch must agree",
                               heed_shape_text(c, k, a, sizeof a),
                               heed_shape_text(c, q, b, sizeof b));
    if (!heed_dim_eq(k->d[1], v->d[1]))
        return heed_infer_fail(c, "value has shape %s but key has %s; their lengths must agree",
                               heed_shape_text(c, v, a, sizeof a),
                               heed_shape_text(c, k, b, sizeof b));
    return HEED_OK;
}

static void declare_params(heed_infer *c, mha_cfg *cfg, const heed_shape *q)
{
    heed_dimv E = q->d[2];
    heed_init xavier = {HEED_INIT_XAVIER, 0}, zeros = {HEED_INIT_ZEROS, 0};
    if (cfg->packed) {
        heed_shape w = heed_shape2(heed_lit(3 * cfg->E), E);
        heed_add_param(c, "in_proj_weight", &w, xavier);
    } else {
        heed_shape wq = heed_shape2(E, E), wk = heed_shape2(E, heed_lit(cfg->kdim));
        heed_shape wv = heed_shape2(E, heed_lit(cfg->vdim));
        heed_add_param(c, "q_proj_weight", &wq, xavier);
        heed_add_param(c, "k_proj_weight", &wk, xavier);
        heed_add_param(c, "v_proj_weight", &wv, xavier);
    }
    if (cfg->bias) {
        heed_dimv e3 = heed_lit(3 * cfg->E);
        heed_shape b = heed_shape_make(1, &e3);
        heed_add_param(c, "in_proj_bias", &b, zeros);
    }
    heed_shape wo = heed_shape2(E, E), bo = heed_shape_make(1, &E);
    heed_add_param(c, "out_proj.weight", &wo,
                   (heed_init){HEED_INIT_UNIFORM, 1.0f / sqrtf((float)cfg->E)});
    if (cfg->bias)
        heed_add_param(c, "out_proj.bias", &bo, zeros);
}

static heed_status mha_infer(heed_infer *c)
{
    mha_cfg *cfg = heed_infer_cfg(c);
    int pq = heed_port(c, "query");
    cfg->port_key = heed_port(c, "key");
    cfg->port_value = heed_port(c, "value");
    cfg->port_len = heed_port(c, "key_lengths");
    const heed_shape *q = heed_in_shape(c, pq);
    const heed_shape *k = cfg->port_key >= 0 ? heed_in_shape(c, cfg->port_key) : q;
    const heed_shape *v = cfg->port_value >= 0 ? heed_in_shape(c, cfg->port_value) : k;
    heed_status st = check_shapes(c, q, k, v);
    if (st != HEED_OK)
        return st;
    cfg->B = q->d[0].v;
    cfg->L = q->d[1].v;
    cfg->E = q->d[2].v;
    cfg->S = k->d[1].v;
    cfg->kdim = k->d[2].v;
    cfg->vdim = v->d[2].v;
    cfg->H = heed_attr_int(c, "heads");
    if (cfg->E % cfg->H)
        return heed_infer_fail(c, "%lld heads do not divide the width E = %lld",
                               (long long)cfg->H, (long long)cfg->E);
    cfg->dh = cfg->E / cfg->H;
    cfg->scale = 1.0f / sqrtf((float)cfg->dh);
    cfg->packed = cfg->kdim == cfg->E && cfg->vdim == cfg->E;
    cfg->fused = cfg->packed && cfg->port_key < 0 && cfg->port_value < 0;
    cfg->bias = heed_attr_bool(c, "bias");
    cfg->causal = heed_attr_bool(c, "causal");
    cfg->dropout = (float)heed_attr_float(c, "dropout");
    cfg->per_head = heed_attr_choice(c, "weights") == 1;
    char a[160], b[160];
    /* compared as dims, not numbers: lengths bound by different inputs
     * ([B,T,E] and [B,S,E]) may differ at run time though the check's
     * default values agree */
    if (cfg->causal && !heed_dim_eq(q->d[1], k->d[1]))
        return heed_infer_fail(c, "causal masking needs as many queries as keys: key has shape "
                                  "%s but query has %s",
                               heed_shape_text(c, k, a, sizeof a),
                               heed_shape_text(c, q, b, sizeof b));
    if (cfg->port_len >= 0) {
        const heed_shape *l = heed_in_shape(c, cfg->port_len);
        if (l->rank != 1 || !heed_dim_eq(l->d[0], q->d[0]))
            return heed_infer_fail(c, "key_lengths has shape %s but must be [B]",
                                   heed_shape_text(c, l, a, sizeof a));
        heed_set_lengths_limit(c, cfg->port_len, cfg->S, false);
    }
    heed_set_out(c, OUT_MAIN, q, HEED_F32);
    heed_shape w = cfg->per_head ? heed_shape4(q->d[0], heed_lit(cfg->H), q->d[1], k->d[1])
                                 : heed_shape3(q->d[0], q->d[1], k->d[1]);
    heed_set_out(c, OUT_WEIGHTS, &w, HEED_F32);
    heed_set_out_lengths(c, OUT_MAIN, pq);
    heed_set_out_lengths(c, OUT_WEIGHTS, -1);
    declare_params(c, cfg, q);
    size_t BL = (size_t)(cfg->B * cfg->L), BS = (size_t)(cfg->B * cfg->S), E = (size_t)cfg->E;
    size_t P = (size_t)(cfg->B * cfg->H * cfg->L * cfg->S);
    /* Q, K, V: separate saved buffers; fused (self-attention), one [B*L, 3E]
     * buffer of column blocks that is not saved: backward projects the input
     * again (a product of 4% of the layer's training FLOPs) rather than keep
     * 3 B*L*E floats alive from forward to backward, the most memory the
     * layer holds */
    heed_add_saved(c, cfg->fused ? 1 : BL * E);
    heed_add_saved(c, cfg->fused ? 1 : BS * E);
    heed_add_saved(c, cfg->fused ? 1 : BS * E);
    heed_add_saved(c, BL * E); /* O, the heads' outputs */
    heed_add_saved(c, P);      /* the attention probabilities */
    size_t o = 0;
    cfg->w_do = o, o += BL * E;
    cfg->w_dq = o, o += cfg->fused ? 3 * BL * E : BL * E;
    cfg->w_dk = o, o += cfg->fused ? 0 : BS * E;
    cfg->w_dv = o, o += cfg->fused ? 0 : BS * E;
    cfg->w_dp = o, o += P;
    cfg->w_qkv = o, o += cfg->fused ? 3 * BL * E : 0;
    /* with dropout, forward keeps the dropped-out probabilities apart: P stays
     * the softmax's output, which backward needs */
    bool drop = heed_infer_training(c) && cfg->dropout > 0.0f;
    size_t fo = 0;
    cfg->w_pd = fo, fo += drop ? P : 0;
    cfg->w_fqkv = fo, fo += cfg->fused ? 3 * BL * E : 0;
    heed_set_workspace(c, fo, heed_infer_training(c) ? o : 0);
    uint32_t needs = 1u << pq;
    if (cfg->port_key >= 0)
        needs |= 1u << cfg->port_key;
    if (cfg->port_value >= 0)
        needs |= 1u << cfg->port_value;
    if (cfg->port_len >= 0)
        needs |= 1u << cfg->port_len;
    heed_set_backward_needs(c, needs, 0);
    double f = 2.0 * (double)BL * (double)(E * E) * 2.0 +
               2.0 * (double)BS * (double)E * (double)(cfg->kdim + cfg->vdim) +
               4.0 * (double)(cfg->B * cfg->L * cfg->S) * (double)E;
    heed_set_flops(c, f, 2.0 * f);
    return HEED_OK;
}

/* ------------------------------------------------------------ helpers */

typedef struct proj {
    const float *wq, *wk, *wv, *bq, *bk, *bv, *wo, *bo;
    float *dwq, *dwk, *dwv, *dbq, *dbk, *dbv, *dwo, *dbo;
} proj;

static proj params_of(const heed_exec *x, const mha_cfg *cfg)
{
    proj p = {0};
    int64_t E = cfg->E;
    int k = 0;
    bool grads = x->dparam != NULL;
    if (cfg->packed) {
        p.wq = x->param[0];
        p.wk = p.wq + E * E;
        p.wv = p.wq + 2 * E * E;
        if (grads && x->dparam[0]) {
            p.dwq = x->dparam[0];
            p.dwk = p.dwq + E * E;
            p.dwv = p.dwq + 2 * E * E;
        }
        k = 1;
    } else {
        p.wq = x->param[0], p.wk = x->param[1], p.wv = x->param[2];
        if (grads)
            p.dwq = x->dparam[0], p.dwk = x->dparam[1], p.dwv = x->dparam[2];
        k = 3;
    }
    if (cfg->bias) {
        p.bq = x->param[k];
        p.bk = p.bq + E;
        p.bv = p.bq + 2 * E;
        if (grads && x->dparam[k]) {
            p.dbq = x->dparam[k];
            p.dbk = p.dbq + E;
            p.dbv = p.dbq + 2 * E;
        }
        k++;
    }
    p.wo = x->param[k];
    p.dwo = grads ? x->dparam[k] : NULL;
    if (cfg->bias) {
        p.bo = x->param[k + 1];
        p.dbo = grads ? x->dparam[k + 1] : NULL;
    }
    return p;
}

static const float *key_in(const heed_exec *x, const mha_cfg *cfg)
{
    return cfg->port_key >= 0 ? x->in[cfg->port_key] : x->in[0];
}

static const float *value_in(const heed_exec *x, const mha_cfg *cfg)
{
    return cfg->port_value >= 0 ? x->in[cfg->port_value] : key_in(x, cfg);
}

static float *key_grad(const heed_exec *x, const mha_cfg *cfg)
{
    return cfg->port_key >= 0 ? x->din[cfg->port_key] : x->din[0];
}

static float *value_grad(const heed_exec *x, const mha_cfg *cfg)
{
    return cfg->port_value >= 0 ? x->din[cfg->port_value] : key_grad(x, cfg);
}

/* Where Q, K and V (or their gradients) live: separate [rows, E] buffers,
 * or column blocks of one [B*L, 3E] buffer for fused self-attention. */
typedef struct qkv {
    float *q, *k, *v;
    int64_t ld;
} qkv;

static qkv qkv_of(const mha_cfg *cfg, float *q, float *k, float *v)
{
    if (cfg->fused)
        return (qkv){q, q + cfg->E, q + 2 * cfg->E, 3 * cfg->E};
    return (qkv){q, k, v, cfg->E};
}

/* How many keys query i of row b may see. */
static int64_t visible(const mha_cfg *cfg, const int32_t *len, int64_t b, int64_t i)
{
    int64_t n = heed_len(len, b, cfg->S);
    return cfg->causal && i + 1 < n ? i + 1 : n;
}

/* pd = dropout(pb) for head h of row b: the mask is a function of the seed
 * and the position, recomputed identically in backward. */
static void apply_dropout(const heed_exec *x, const mha_cfg *cfg, int64_t b, int64_t h,
                          const float *pb, float *pd)
{
    int64_t n = cfg->L * cfg->S;
    heed_dropout_range(pd, pb, x->seed, cfg->dropout, (uint64_t)((b * cfg->H + h) * n), (size_t)n,
                       false);
}

/* ------------------------------------------------------------ forward */

/* Self-attention's Q, K and V in one product: [B*L, E] x [E, 3E] -> qkv. */
static void project_fused(const heed_exec *x, const mha_cfg *cfg, const proj *p, float *out)
{
    int64_t BL = cfg->B * cfg->L, E = cfg->E;
    heed_gemm_bias(false, true, BL, 3 * E, E, x->in[0], E, p->wq, E, p->bq, out, 3 * E);
}

/* What each head's forward reads and writes. */
typedef struct heads {
    const heed_exec *x;
    qkv z;
    float *O, *P, *Pd; /* Pd: the probabilities the values are mixed with */
    const int32_t *len;
    bool drop, fast; /* fast: heads512 takes the heads */
} heads;

/* Shape key: Q_bh [L,dh], K_bh [S,dh], V_bh [S,dh] -> P_bh [L,S], O_bh [L,dh] */
static void head_forward(const heads *a, int64_t b, int64_t h)
{
    const mha_cfg *cfg = a->x->cfg;
    int64_t L = cfg->L, S = cfg->S, E = cfg->E, dh = cfg->dh, ld = a->z.ld;
    float *pb = a->P + (b * cfg->H + h) * L * S, *pd = a->Pd + (b * cfg->H + h) * L * S;
    const float *qh = a->z.q + b * L * ld + h * dh, *kh = a->z.k + b * S * ld + h * dh;
    const float *vh = a->z.v + b * S * ld + h * dh;
    float *oh = a->O + b * L * E + h * dh;
    int64_t n = heed_len(a->len, b, S);
    if (a->fast) {
        heed_heads512_probs(L, S, dh, cfg->scale, qh, ld, kh, ld, n, cfg->causal, pb);
    } else {
        heed_gemm(false, true, L, S, dh, cfg->scale, qh, ld, kh, ld, 0.0f, pb, S);
        for (int64_t i = 0; i < L; i++)
            heed_softmax_row(pb + i * S, S, visible(cfg, a->len, b, i));
    }
    if (a->drop)
        apply_dropout(a->x, cfg, b, h, pb, pd);
    if (a->fast)
        heed_heads512_mix(L, S, dh, pd, n, vh, ld, oh, E);
    else
        heed_gemm(false, false, L, dh, S, 1.0f, pd, S, vh, ld, 0.0f, oh, E);
}

/* Shape key: (b, h): Q_bh [L,dh], K_bh [S,dh], V_bh [S,dh] -> O_bh [L,dh] */
static heed_status mha_forward(heed_exec *x)
{
    const mha_cfg *cfg = x->cfg;
    int64_t B = cfg->B, L = cfg->L, S = cfg->S, E = cfg->E, H = cfg->H;
    proj p = params_of(x, cfg);
    qkv z = qkv_of(cfg, cfg->fused ? x->ws + cfg->w_fqkv : x->saved[SV_Q], x->saved[SV_K],
                   x->saved[SV_V]);
    float *Q = z.q, *K = z.k, *V = z.v, *O = x->saved[SV_O], *P = x->saved[SV_P];
    const int32_t *len = cfg->port_len >= 0 ? (const int32_t *)x->in[cfg->port_len]
                                            : x->len[cfg->port_key >= 0 ? cfg->port_key : 0];
    if (cfg->fused) {
        project_fused(x, cfg, &p, Q);
    } else {
        heed_gemm_bias(false, true, B * L, E, E, x->in[0], E, p.wq, E, p.bq, Q, E);
        heed_gemm_bias(false, true, B * S, E, cfg->kdim, key_in(x, cfg), cfg->kdim, p.wk,
                       cfg->kdim, p.bk, K, E);
        heed_gemm_bias(false, true, B * S, E, cfg->vdim, value_in(x, cfg), cfg->vdim, p.wv,
                       cfg->vdim, p.bv, V, E);
    }
    bool drop = x->training && cfg->dropout > 0.0f;
    /* on AVX-512 each head in one kernel of heed's own (heads512.h): in the
     * encoder's forward pass the attention node took 3.6-3.8 ms a layer
     * instead of 4.0-4.1 (OpenBLAS's packing of two 64-cubed products and a
     * call per softmax row) */
    heads run = {x, z, O, P, drop ? x->ws + cfg->w_pd : P, len, drop,
                 heed_heads512_wanted(S, cfg->dh)};
    /* the (row, head) pairs split as a static schedule would, with the
     * last ones left taken by whichever thread is free (steal.h) */
    heed_steal steal;
    heed_steal_init(&steal, B * H, omp_in_parallel() ? 1 : omp_get_max_threads());
#pragma omp parallel
    for (int64_t bh; (bh = heed_steal_next(&steal, omp_get_thread_num())) >= 0;)
        head_forward(&run, bh / H, bh % H);
    const float *Pd = run.Pd;
    /* the weights shown are the ones the values were mixed with */
    float *w = x->out[OUT_WEIGHTS];
    if (cfg->per_head) {
        memcpy(w, Pd, (size_t)(B * H * L * S) * sizeof *w);
    } else {
        /* summed one head after another, in that order: contiguous loops
         * the compiler vectorises (a loop over the heads inside one over
         * the weights did not vectorise) */
        int64_t LS = L * S;
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            float *wb = w + b * LS;
            const float *pb = Pd + b * H * LS;
            memcpy(wb, pb, (size_t)LS * sizeof *wb);
            for (int64_t h = 1; h < H; h++)
                for (int64_t ij = 0; ij < LS; ij++)
                    wb[ij] += pb[h * LS + ij];
            for (int64_t ij = 0; ij < LS; ij++)
                wb[ij] /= (float)H;
        }
    }
    heed_gemm_bias(false, true, B * L, E, E, O, E, p.wo, E, p.bo, x->out[OUT_MAIN], E);
    return HEED_OK;
}

/* ------------------------------------------------------------ backward */

/* dp holds the gradient of the dropped-out probabilities (plus that of the
 * weights output); turns it into the gradient of the scaled scores, through
 * the dropout mask and the softmax (whose output pb is). */
static void probs_backward(const heed_exec *x, const mha_cfg *cfg, int64_t b, int64_t h,
                           const float *pb, float *dp, const float *dw)
{
    int64_t L = cfg->L, S = cfg->S, H = cfg->H;
    bool drop = x->training && cfg->dropout > 0.0f;
    uint64_t base = (uint64_t)((b * H + h) * L * S);
    for (int64_t i = 0; i < L; i++) {
        float *g = dp + i * S;
        const float *y = pb + i * S;
        if (dw) {
            const float *gw = cfg->per_head ? dw + ((b * H + h) * L + i) * S : dw + (b * L + i) * S;
            float f = cfg->per_head ? 1.0f : 1.0f / (float)H;
            for (int64_t j = 0; j < S; j++)
                g[j] += gw[j] * f;
        }
        if (drop)
            heed_dropout_range(g, g, x->seed, cfg->dropout, base + (uint64_t)(i * S), (size_t)S,
                               false);
        float dot = 0.0f;
        for (int64_t j = 0; j < S; j++)
            dot += g[j] * y[j];
        for (int64_t j = 0; j < S; j++)
            g[j] = y[j] * (g[j] - dot) * cfg->scale;
    }
}

static void project_backward(const float *dY, int64_t rows, int64_t in_w, int64_t E,
                             const float *in, const float *w, float *din, float *dw, float *db)
{
    if (din)
        heed_gemm(false, false, rows, in_w, E, 1.0f, dY, E, w, in_w, 1.0f, din, in_w);
    if (dw)
        heed_gemm(true, false, E, in_w, rows, 1.0f, dY, E, in, in_w, 1.0f, dw, in_w);
    if (db)
        heed_sum_rows(db, dY, rows, E);
}

static void mha_backward(heed_exec *x)
{
    const mha_cfg *cfg = x->cfg;
    int64_t B = cfg->B, L = cfg->L, S = cfg->S, E = cfg->E, H = cfg->H, dh = cfg->dh;
    const float *dy = x->dout[OUT_MAIN], *dw = x->dout[OUT_WEIGHTS];
    if (!dy && !dw)
        return;
    proj p = params_of(x, cfg);
    qkv z = qkv_of(cfg, cfg->fused ? x->ws + cfg->w_qkv : x->saved[SV_Q], x->saved[SV_K],
                   x->saved[SV_V]);
    qkv dz = qkv_of(cfg, x->ws + cfg->w_dq, x->ws + cfg->w_dk, x->ws + cfg->w_dv);
    if (cfg->fused)
        project_fused(x, cfg, &p, z.q); /* not kept from forward: see mha_infer */
    const float *Q = z.q, *K = z.k, *V = z.v, *O = x->saved[SV_O], *P = x->saved[SV_P];
    float *dO = x->ws + cfg->w_do, *dQ = dz.q, *dK = dz.k, *dV = dz.v, *dP = x->ws + cfg->w_dp;
    int64_t ld = z.ld;
    memset(dO, 0, (size_t)(B * L * E) * sizeof *dO);
    if (dy) {
        heed_gemm(false, false, B * L, E, E, 1.0f, dy, E, p.wo, E, 0.0f, dO, E);
        if (p.dwo)
            heed_gemm(true, false, E, E, B * L, 1.0f, dy, E, O, E, 1.0f, p.dwo, E);
        if (p.dbo)
            heed_sum_rows(p.dbo, dy, B * L, E);
    }
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            const float *pb = P + (b * H + h) * L * S;
            float *dp = dP + (b * H + h) * L * S;
            const float *dOb = dO + b * L * E + h * dh;
            /* dV = P'^T dO, with P' rebuilt in dp's place before dp is computed */
            const float *pd = pb;
            if (x->training && cfg->dropout > 0.0f) {
                apply_dropout(x, cfg, b, h, pb, dp);
                pd = dp;
            }
            heed_gemm(true, false, S, dh, L, 1.0f, pd, S, dOb, E, 0.0f, dV + b * S * ld + h * dh,
                      ld);
            heed_gemm(false, true, L, S, dh, 1.0f, dOb, E, V + b * S * ld + h * dh, ld, 0.0f, dp, S);
            probs_backward(x, cfg, b, h, pb, dp, dw);
            heed_gemm(false, false, L, dh, S, 1.0f, dp, S, K + b * S * ld + h * dh, ld, 0.0f,
                      dQ + b * L * ld + h * dh, ld);
            heed_gemm(true, false, S, dh, L, 1.0f, dp, S, Q + b * L * ld + h * dh, ld, 0.0f,
                      dK + b * S * ld + h * dh, ld);
        }
    if (cfg->fused) {
        /* all three at once: [B*L, 3E] against the packed [3E, E] weight */
        project_backward(dQ, B * L, E, 3 * E, x->in[0], p.wq, x->din[0], p.dwq, p.dbq);
        return;
    }
    project_backward(dQ, B * L, E, E, x->in[0], p.wq, x->din[0], p.dwq, p.dbq);
    project_backward(dK, B * S, cfg->kdim, E, key_in(x, cfg), p.wk, key_grad(x, cfg), p.dwk,
                     p.dbk);
    project_backward(dV, B * S, cfg->vdim, E, value_in(x, cfg), p.wv, value_grad(x, cfg), p.dwv,
                     p.dbv);
}

const heed_op heed_op_mha = {
    .name = "MultiHeadAttention",
    .doc = "Multi-head scaled dot-product attention (nn.MultiheadAttention, batch_first) with "
           "key padding and causal masks. A row with no keys attends nothing: its weights are "
           "zero and its output out_proj's bias (PyTorch gives NaN there).",
    .shapes = "query [B,L,E], key [B,S,kdim], value [B,S,vdim] -> [B,L,E]; .weights [B,L,S] "
              "or [B,heads,L,S]",
    .attrs = attrs,
    .outputs = outputs,
    .cfg_size = sizeof(mha_cfg),
    .infer = mha_infer,
    .forward = mha_forward,
    .backward = mha_backward,
};
