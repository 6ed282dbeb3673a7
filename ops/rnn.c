/*
 * RNN, GRU and LSTM: one family, one file, PyTorch's semantics and parameter
 * layout (weight_ih_l{k}[_reverse] [G*H, In_k], weight_hh_l{k} [G*H, H],
 * bias_ih_l{k}, bias_hh_l{k}; gates r,z,n for GRU with b_hn inside r*(...),
 * i,f,g,o for LSTM), so a PyTorch state dict converts name for name.
 *
 * Fast by construction: the input projection of all steps is one matrix
 * product; each step is one recurrent product per direction and one fused
 * gate loop over the batch; backward through time mirrors it, and the weight
 * gradients are one product each after the loop. Nothing is allocated per
 * step: gates are saved in planned memory, scratch comes from the workspace.
 *
 * Padding: a sequence's state stops changing past its length, its outputs
 * there are zero and no gradient flows from them; the final state is the one
 * at the true last step, in both directions (packed-sequence semantics).
 *
 * Shape key: B = batch, T = steps, In = input width, H = hidden, L = layers,
 * D = directions (1 or 2), G = gates (RNN 1, GRU 3, LSTM 4), GH = G*H,
 * S = floats saved per step and row (GRU 4H: r,z,n,hn; LSTM 5H: i,f,g,o,c).
 * State layout: [B, L*D*H], layer-major then direction; LSTM's state is
 * [B, 2*L*D*H] with all h first, then all c.
 */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "kernels/attend.h"
#include "kernels/kernels.h"
#include "kernels/packed.h"
#include "op.h"

#define RNN_MAX_LAYERS 8

typedef enum cell_kind { CELL_RNN_TANH, CELL_RNN_RELU, CELL_GRU, CELL_LSTM } cell_kind;

typedef struct rnn_cfg {
    cell_kind cell;
    int64_t B, T, In, H, L, D, G, S;
    bool bias;
    float dropout;
    int port_state, port_len;   /* flat input indices, -1 when absent */
    int64_t state_width;        /* row width of the state input: 0, LDH or 2LDH */
    int n_params_per;           /* parameters per layer and direction: 2 or 4 */
    /* attention inside the decoder (GRU, LSTM with `attention:`) */
    bool att;
    int att_score;              /* ATT_ADDITIVE... */
    int port_mem, port_mlen;    /* memory and its explicit lengths (-1: from pad ids) */
    int64_t Sm, Dm, U, Pw;      /* memory length and width, units, key projection width */
    float att_scale;
    int out_ctx, out_w;         /* output ports of the contexts and the weights */
    int p_att;                  /* index of the first attention parameter */
    size_t wa_pkq, wa_pkc;                                        /* forward */
    size_t wb_dqp, wb_dkp, wb_dctx, wb_dvb, wb_ds, wb_pkq, wb_pkc; /* backward */
    /* per-step weights packed once per pass (heed_gemm_packed) when T > 1 */
    bool packed;
    /* forward workspace (floats); the buffers before ws_dir are per direction */
    size_t ws_xp, ws_hp, ws_h, ws_c, ws_pk, ws_dir, ws_drop, ws_fwd;
    /* backward workspace; the buffers before wb_dir are per direction */
    size_t wb_dxp, wb_dhn, wb_hprev, wb_dh, wb_dc, wb_pk, wb_dir;
    size_t wb_dcur, wb_dprev, wb_drop, wb_zero, wb_sums, ws_bwd;
} rnn_cfg;

enum { OUT_SEQ, OUT_STATE, OUT_H, OUT_C };
enum { ATT_ADDITIVE, ATT_DOT, ATT_GENERAL, ATT_SCALED };

/* ------------------------------------------------------------ cells */

/* dst = sigmoid(a + b) and dst = tanh(a + b) over n floats: the gates of a
 * cell, each in a loop of its own. */
HEED_HOT static void sigmoid_sum(float *restrict dst, const float *restrict a,
                                 const float *restrict b, int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        dst[j] = heed_sigmoid(a[j] + b[j]);
}

HEED_HOT static void tanh_sum(float *restrict dst, const float *restrict a,
                              const float *restrict b, int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        dst[j] = heed_tanh(a[j] + b[j]);
}

/* One row of one step: pre-activations xp (input projection plus b_ih) and
 * hp (recurrent projection plus b_hh; with folds_hh both are in xp and hp is
 * a row of zeros) in, the new state out (in place in h, c), what backward
 * needs into `save` (always given for GRU and LSTM: writing it
 * unconditionally keeps the loops free of branches). The gates
 * go into `save` first, a loop per kind, then a loop combines them: with
 * every gate in one loop, its constants did not fit AVX2's 16 registers
 * and the loop reloaded them from the stack. */
HEED_HOT static void cell_forward(const rnn_cfg *cfg, const float *restrict xp,
                                  const float *restrict hpb, float *restrict h,
                                  float *restrict c, float *restrict save)
{
    int64_t H = cfg->H;
    switch (cfg->cell) {
    case CELL_RNN_TANH:
        tanh_sum(h, xp, hpb, H);
        return;
    case CELL_RNN_RELU:
        for (int64_t j = 0; j < H; j++) {
            float v = xp[j] + hpb[j];
            h[j] = v > 0.0f ? v : 0.0f;
        }
        return;
    case CELL_GRU:
        sigmoid_sum(save, xp, hpb, 2 * H); /* r, z */
        for (int64_t j = 0; j < H; j++) {
            float z = save[H + j];
            float n = heed_tanh(xp[2 * H + j] + save[j] * hpb[2 * H + j]);
            save[2 * H + j] = n;
            save[3 * H + j] = hpb[2 * H + j];
            h[j] = (1.0f - z) * n + z * h[j];
        }
        return;
    case CELL_LSTM:
        sigmoid_sum(save, xp, hpb, 2 * H); /* i, f */
        tanh_sum(save + 2 * H, xp + 2 * H, hpb + 2 * H, H);
        sigmoid_sum(save + 3 * H, xp + 3 * H, hpb + 3 * H, H);
        for (int64_t j = 0; j < H; j++) {
            float cn = save[H + j] * c[j] + save[j] * save[2 * H + j];
            c[j] = cn;
            h[j] = save[3 * H + j] * heed_tanh(cn);
            save[4 * H + j] = cn;
        }
        return;
    }
}

/* Backward of one row of one step of GRU. dh holds the gradient of the new
 * state and becomes the direct part of the previous state's gradient (the
 * part through W_hh is added by the caller); dxp receives the gradients of
 * the input pre-activations (r, z, n). The recurrent ones differ only in the
 * n gate (r times n's), so only that part is kept, in dhn: a third of the
 * memory a full copy would take. */
HEED_HOT static void gru_backward_row(int64_t H, const float *restrict save,
                                      const float *restrict h_prev, float *restrict dh,
                                      float *restrict dxp, float *restrict dhn)
{
    for (int64_t j = 0; j < H; j++) {
        float r = save[j], z = save[H + j], n = save[2 * H + j], hn = save[3 * H + j];
        float g = dh[j];
        float dn = g * (1.0f - z) * (1.0f - n * n);
        float dz = g * (h_prev[j] - n) * z * (1.0f - z);
        float dr = dn * hn * r * (1.0f - r);
        dxp[j] = dr;
        dxp[H + j] = dz;
        dxp[2 * H + j] = dn;
        dhn[j] = dn * r;
        dh[j] = g * z;
    }
}

/* The same for LSTM and the plain RNN cells, whose recurrent gradients equal
 * the input ones (dxp alone); for LSTM dc carries the cell state's gradient
 * the same way. */
HEED_HOT static void cell_backward(const rnn_cfg *cfg, const float *restrict save,
                                   const float *restrict h_new, const float *restrict c_prev,
                                   float *restrict dh, float *restrict dc,
                                   float *restrict dxp)
{
    int64_t H = cfg->H;
    switch (cfg->cell) {
    case CELL_RNN_TANH:
        for (int64_t j = 0; j < H; j++) {
            dxp[j] = dh[j] * (1.0f - h_new[j] * h_new[j]);
            dh[j] = 0.0f;
        }
        return;
    case CELL_RNN_RELU:
        for (int64_t j = 0; j < H; j++) {
            dxp[j] = h_new[j] > 0.0f ? dh[j] : 0.0f;
            dh[j] = 0.0f;
        }
        return;
    case CELL_GRU: return; /* gru_backward_row */
    case CELL_LSTM:
        for (int64_t j = 0; j < H; j++) {
            float i = save[j], f = save[H + j], g = save[2 * H + j], o = save[3 * H + j];
            float tc = heed_tanh(save[4 * H + j]);
            float d = dc[j] + dh[j] * o * (1.0f - tc * tc);
            dxp[j] = d * g * i * (1.0f - i);
            dxp[H + j] = d * c_prev[j] * f * (1.0f - f);
            dxp[2 * H + j] = d * i * (1.0f - g * g);
            dxp[3 * H + j] = dh[j] * tc * o * (1.0f - o);
            dc[j] = d * f;
            dh[j] = 0.0f;
        }
        return;
    }
}

/* ------------------------------------------------------------ schema */

static const heed_attr rnn_attrs[] = {
    {.name = "in", .kind = HEED_A_INPUT, .def = NULL, .doc = "sequence [B, T, In]"},
    {.name = "hidden", .kind = HEED_A_DIM, .def = NULL, .doc = "state size H"},
    {.name = "layers", .kind = HEED_A_DIM, .def = "1", .lo = 1, .hi = RNN_MAX_LAYERS,
     .doc = "stacked layers (a number or a dim, so --dim can set it)"},
    {.name = "bidirectional", .kind = HEED_A_BOOL, .def = "false",
     .doc = "a second direction in each layer reads the sequence backwards (the _reverse "
             "parameters); outputs are concatenated"},
    {.name = "dropout", .kind = HEED_A_FLOAT, .def = "0", .lo = 0, .hi = 0.95,
     .doc = "dropout between layers, in training"},
    {.name = "bias", .kind = HEED_A_BOOL, .def = "true", .doc = "bias_ih and bias_hh"},
    {.name = "nonlinearity", .kind = HEED_A_CHOICE, .def = "tanh", .choices = "tanh,relu",
     .doc = "the cell's activation (RNN only)"},
    {.name = "state", .kind = HEED_A_INPUT, .def = "",
     .doc = "initial state [B, L*D*H] (LSTM: h only, or [B, 2*L*D*H] for h and c)"},
    {.name = "lengths", .kind = HEED_A_INPUT, .def = "", .ids = true,
     .doc = "sequence lengths [B], each from 0 to T (default: from the pad ids the input came "
            "from)"},
    {0}};

static const heed_attr attention_fields[] = {
    {.name = "memory", .kind = HEED_A_INPUT, .def = NULL,
     .doc = "what the decoder attends to [B, S, Dm] (the encoder's outputs)"},
    {.name = "score", .kind = HEED_A_CHOICE, .def = "additive",
     .choices = "additive,dot,general,scaled_dot", .doc = "how the previous state scores memory"},
    {.name = "units", .kind = HEED_A_DIM, .def = "", .doc = "additive: projection width (default H)"},
    {.name = "lengths", .kind = HEED_A_INPUT, .def = "", .ids = true,
     .doc = "memory lengths [B], each from 0 to S (default: from the pad ids the memory came "
            "from)"},
    {0}};

static const heed_attr gated_attrs[] = {
    {.name = "in", .kind = HEED_A_INPUT, .def = NULL, .doc = "sequence [B, T, In]"},
    {.name = "hidden", .kind = HEED_A_DIM, .def = NULL, .doc = "state size H"},
    {.name = "layers", .kind = HEED_A_DIM, .def = "1", .lo = 1, .hi = RNN_MAX_LAYERS,
     .doc = "stacked layers (a number or a dim, so --dim can set it)"},
    {.name = "bidirectional", .kind = HEED_A_BOOL, .def = "false",
     .doc = "a second direction in each layer reads the sequence backwards (the _reverse "
             "parameters); outputs are concatenated"},
    {.name = "dropout", .kind = HEED_A_FLOAT, .def = "0", .lo = 0, .hi = 0.95,
     .doc = "dropout between layers, in training"},
    {.name = "bias", .kind = HEED_A_BOOL, .def = "true", .doc = "bias_ih and bias_hh"},
    {.name = "state", .kind = HEED_A_INPUT, .def = "",
     .doc = "initial state [B, L*D*H] (LSTM: h only, or [B, 2*L*D*H] for h and c)"},
    {.name = "lengths", .kind = HEED_A_INPUT, .def = "", .ids = true,
     .doc = "sequence lengths [B], each from 0 to T (default: from the pad ids the input came "
            "from)"},
    {.name = "attention", .kind = HEED_A_MAP, .def = "", .fields = attention_fields,
     .doc = "attend at each step from the previous state and feed [input; context] to the "
            "cell (Bahdanau et al. 2015); one layer, one direction"},
    {0}};

static const char *const rnn_outputs[] = {"out", "state", NULL};
static const char *const gru_outputs[] = {"out", "state", "context", "weights", NULL};
static const char *const lstm_outputs[] = {"out", "state", "h", "c", "context", "weights", NULL};

/* ------------------------------------------------------------ inference */

/* Width of layer l's input: the sequence's (plus the context's when the
 * decoder attends), or the layer below's output. */
static int64_t layer_in(const rnn_cfg *cfg, int64_t l)
{
    return l == 0 ? cfg->In + (cfg->att ? cfg->Dm : 0) : cfg->D * cfg->H;
}

/* Each direction of a bidirectional layer has its own step buffers, so the
 * two can run at once, one per thread (see forward_layer). */
static void plan_workspace(rnn_cfg *cfg, bool training)
{
    size_t B = (size_t)cfg->B, T = (size_t)cfg->T, H = (size_t)cfg->H, D = (size_t)cfg->D;
    size_t GH = (size_t)(cfg->G * cfg->H), DH = (size_t)(cfg->D * cfg->H);
    bool drop = training && cfg->dropout > 0.0f && cfg->L > 1;
    /* a weight packed once serves every step; one step (step mode) has
     * nothing to amortise the packing over */
    bool pk = cfg->packed = T > 1 && heed_packed_fast();
    size_t o = 0;
    cfg->ws_xp = o, o += B * T * GH;
    cfg->ws_hp = o, o += B * GH;
    cfg->ws_h = o, o += B * H;
    cfg->ws_c = o, o += B * H;
    cfg->ws_pk = o, o += pk ? heed_packed_floats(cfg->H, cfg->G * cfg->H) : 0;
    cfg->ws_dir = o, o *= D;
    cfg->ws_drop = o, o += drop ? B * T * DH : 0;
    cfg->ws_fwd = o;
    o = 0;
    cfg->wb_dxp = o, o += B * T * GH;
    cfg->wb_dhn = o, o += cfg->cell == CELL_GRU ? B * T * H : 0; /* GRU only: unused otherwise */
    cfg->wb_hprev = o, o += B * T * H;
    cfg->wb_dh = o, o += B * H;
    cfg->wb_dc = o, o += B * H;
    cfg->wb_pk = o, o += pk ? heed_packed_floats(cfg->G * cfg->H, cfg->H) : 0;
    cfg->wb_dir = o, o *= D;
    cfg->wb_dcur = o, o += cfg->L > 1 ? B * T * DH : 0;
    cfg->wb_dprev = o, o += cfg->L > 1 ? B * T * DH : 0;
    cfg->wb_drop = o, o += drop ? B * T * DH : 0;
    cfg->wb_zero = o, o += H;
    cfg->wb_sums = o, o += GH;
    if (cfg->att) {
        size_t Sm = (size_t)cfg->Sm, Pw = (size_t)cfg->Pw, U = (size_t)cfg->U;
        size_t Dm = (size_t)cfg->Dm;
        cfg->wb_dqp = o, o += B * T * U;
        cfg->wb_dkp = o, o += B * Sm * (Pw ? Pw : 1);
        cfg->wb_dctx = o, o += B * T * Dm;
        cfg->wb_dvb = o, o += B * U;
        cfg->wb_ds = o, o += B * Sm;
        cfg->wb_pkq = o, o += pk ? heed_packed_floats(cfg->U, cfg->H) : 0;
        cfg->wb_pkc = o, o += pk ? heed_packed_floats(cfg->G * cfg->H, cfg->Dm) : 0;
        cfg->ws_bwd = o;
        o = cfg->ws_fwd;
        cfg->wa_pkq = o, o += pk ? heed_packed_floats(cfg->H, cfg->U) : 0;
        cfg->wa_pkc = o, o += pk ? heed_packed_floats(cfg->Dm, cfg->G * cfg->H) : 0;
        cfg->ws_fwd = o;
        return;
    }
    cfg->ws_bwd = o;
}

static void declare_params(heed_infer *c, rnn_cfg *cfg, heed_dimv hidden)
{
    /* PyTorch: every weight and bias starts at U(-1/sqrt(H), 1/sqrt(H)) */
    heed_init init = {HEED_INIT_UNIFORM, 1.0f / sqrtf((float)cfg->H)};
    heed_dimv gh = heed_lit(cfg->G * cfg->H);
    char name[64];
    for (int64_t l = 0; l < cfg->L; l++)
        for (int64_t d = 0; d < cfg->D; d++) {
            const char *sfx = d ? "_reverse" : "";
            heed_shape wi = heed_shape2(gh, heed_lit(layer_in(cfg, l)));
            heed_shape wh = heed_shape2(gh, hidden);
            heed_shape b = heed_shape_make(1, &gh);
            snprintf(name, sizeof name, "weight_ih_l%lld%s", (long long)l, sfx);
            heed_add_param(c, name, &wi, init);
            snprintf(name, sizeof name, "weight_hh_l%lld%s", (long long)l, sfx);
            heed_add_param(c, name, &wh, init);
            if (!cfg->bias)
                continue;
            snprintf(name, sizeof name, "bias_ih_l%lld%s", (long long)l, sfx);
            heed_add_param(c, name, &b, init);
            snprintf(name, sizeof name, "bias_hh_l%lld%s", (long long)l, sfx);
            heed_add_param(c, name, &b, init);
        }
}

static heed_status check_state(heed_infer *c, rnn_cfg *cfg, const heed_shape *x)
{
    char a[160];
    int64_t ldh = cfg->L * cfg->D * cfg->H;
    cfg->state_width = 0;
    if (cfg->port_state < 0)
        return HEED_OK;
    const heed_shape *s = heed_in_shape(c, cfg->port_state);
    int64_t w = s->rank == 2 ? s->d[1].v : -1;
    bool ok = s->rank == 2 && heed_dim_eq(s->d[0], x->d[0]) &&
              (w == ldh || (cfg->cell == CELL_LSTM && w == 2 * ldh));
    if (!ok) {
        /* the batch dim as the input names it, not a fixed "B" */
        heed_shape want = heed_shape2(x->d[0], heed_lit(ldh));
        char b[160];
        return heed_infer_fail(c, "state has shape %s but this node needs %s%s",
                               heed_shape_text(c, s, a, sizeof a),
                               heed_shape_text(c, &want, b, sizeof b),
                               cfg->cell == CELL_LSTM ? " (h) or twice that wide (h and c)" : "");
    }
    cfg->state_width = w;
    return HEED_OK;
}

/* The decoder's attention: its memory, score, sizes and outputs. */
static heed_status attention_infer(heed_infer *c, rnn_cfg *cfg, const heed_shape *x)
{
    cfg->att = cfg->cell != CELL_RNN_TANH && cfg->cell != CELL_RNN_RELU &&
               heed_attr_given(c, "attention");
    if (!cfg->att)
        return HEED_OK;
    char a[160], b[160];
    if (cfg->L != 1 || cfg->D != 1)
        return heed_infer_fail(c, "a decoder with attention has one layer and one direction; "
                                  "stack another recurrent node on its output for more");
    cfg->port_mem = heed_port(c, "attention.memory");
    cfg->port_mlen = heed_port(c, "attention.lengths");
    const heed_shape *m = heed_in_shape(c, cfg->port_mem);
    if (m->rank != 3 || !heed_dim_eq(m->d[0], x->d[0]))
        return heed_infer_fail(c, "attention memory has shape %s but in has %s; expected "
                                  "[B,S,Dm] with the same batch",
                               heed_shape_text(c, m, a, sizeof a), heed_shape_text(c, x, b, sizeof b));
    if (cfg->port_mlen >= 0) {
        const heed_shape *l = heed_in_shape(c, cfg->port_mlen);
        if (l->rank != 1 || !heed_dim_eq(l->d[0], x->d[0]))
            return heed_infer_fail(c, "attention lengths has shape %s but must be [B]",
                                   heed_shape_text(c, l, a, sizeof a));
        heed_set_lengths_limit(c, cfg->port_mlen, m->d[1].v, false);
    }
    cfg->Sm = m->d[1].v;
    cfg->Dm = m->d[2].v;
    cfg->att_score = heed_attr_choice(c, "attention.score");
    cfg->U = heed_attr_given(c, "attention.units") ? heed_attr_dim(c, "attention.units").v : cfg->H;
    cfg->Pw = cfg->att_score == ATT_ADDITIVE ? cfg->U : cfg->att_score == ATT_GENERAL ? cfg->H : 0;
    if (cfg->att_score != ATT_ADDITIVE)
        cfg->U = 0;
    cfg->att_scale = cfg->att_score == ATT_SCALED ? 1.0f / sqrtf((float)cfg->Dm) : 1.0f;
    /* as dims, not numbers: a memory width bound at run time may differ */
    bool dot = cfg->att_score == ATT_DOT || cfg->att_score == ATT_SCALED;
    if (dot && !heed_dim_eq(m->d[2], heed_attr_dim(c, "hidden")))
        return heed_infer_fail(c, "attention memory has shape %s but the state has width %lld; "
                                  "dot scores need equal widths (use score: general or additive)",
                               heed_shape_text(c, m, a, sizeof a), (long long)cfg->H);
    cfg->out_ctx = cfg->cell == CELL_LSTM ? 4 : 2;
    cfg->out_w = cfg->out_ctx + 1;
    heed_shape ctx = heed_shape3(x->d[0], x->d[1], m->d[2]);
    heed_shape w = heed_shape3(x->d[0], x->d[1], m->d[1]);
    heed_set_out(c, cfg->out_ctx, &ctx, HEED_F32);
    heed_set_out(c, cfg->out_w, &w, HEED_F32);
    heed_set_out_lengths(c, cfg->out_ctx, heed_port(c, "in"));
    heed_set_out_lengths(c, cfg->out_w, heed_port(c, "in"));
    return HEED_OK;
}

static void attention_params(heed_infer *c, rnn_cfg *cfg, heed_dimv hidden)
{
    cfg->p_att = (int)(cfg->L * cfg->D * cfg->n_params_per);
    heed_dimv dm = heed_lit(cfg->Dm), u = heed_lit(cfg->U);
    if (cfg->att_score == ATT_GENERAL) {
        heed_shape w = heed_shape2(hidden, dm);
        heed_add_param(c, "attention.weight", &w, (heed_init){HEED_INIT_UNIFORM, 1.0f / sqrtf((float)cfg->Dm)});
    } else if (cfg->att_score == ATT_ADDITIVE) {
        heed_shape wq = heed_shape2(u, hidden), wk = heed_shape2(u, dm);
        heed_shape bk = heed_shape_make(1, &u), v = heed_shape2(heed_lit(1), u);
        heed_add_param(c, "attention.query_proj.weight", &wq, (heed_init){HEED_INIT_UNIFORM, 1.0f / sqrtf((float)cfg->H)});
        heed_add_param(c, "attention.key_proj.weight", &wk, (heed_init){HEED_INIT_UNIFORM, 1.0f / sqrtf((float)cfg->Dm)});
        heed_add_param(c, "attention.key_proj.bias", &bk, (heed_init){HEED_INIT_UNIFORM, 1.0f / sqrtf((float)cfg->Dm)});
        heed_add_param(c, "attention.v.weight", &v, (heed_init){HEED_INIT_UNIFORM, 1.0f / sqrtf((float)cfg->U)});
    }
}

static heed_status rnn_infer_common(heed_infer *c, cell_kind cell)
{
    rnn_cfg *cfg = heed_infer_cfg(c);
    const heed_shape *x = heed_in_shape(c, heed_port(c, "in"));
    char a[160];
    if (x->rank != 3)
        return heed_infer_fail(c, "in must be a sequence [B,T,In], not %s",
                               heed_shape_text(c, x, a, sizeof a));
    heed_dimv hidden = heed_attr_dim(c, "hidden");
    cfg->cell = cell;
    cfg->B = x->d[0].v;
    cfg->T = x->d[1].v;
    cfg->In = x->d[2].v;
    cfg->H = hidden.v;
    cfg->L = heed_attr_dim(c, "layers").v;
    cfg->D = heed_attr_bool(c, "bidirectional") ? 2 : 1;
    cfg->G = cell == CELL_GRU ? 3 : cell == CELL_LSTM ? 4 : 1;
    cfg->S = cell == CELL_GRU ? 4 * cfg->H : cell == CELL_LSTM ? 5 * cfg->H : 0;
    cfg->bias = heed_attr_bool(c, "bias");
    cfg->dropout = (float)heed_attr_float(c, "dropout");
    cfg->n_params_per = cfg->bias ? 4 : 2;
    cfg->port_state = heed_port(c, "state");
    cfg->port_len = heed_port(c, "lengths");
    heed_status st = check_state(c, cfg, x);
    if (st != HEED_OK)
        return st;
    if (cfg->port_len >= 0) {
        const heed_shape *l = heed_in_shape(c, cfg->port_len);
        if (l->rank != 1 || !heed_dim_eq(l->d[0], x->d[0]))
            return heed_infer_fail(c, "lengths has shape %s but must be [B]",
                                   heed_shape_text(c, l, a, sizeof a));
        heed_set_lengths_limit(c, cfg->port_len, x->d[1].v, true);
    }
    if ((st = attention_infer(c, cfg, x)) != HEED_OK)
        return st;
    heed_shape seq = heed_shape3(x->d[0], x->d[1], cfg->D == 1 ? hidden : heed_lit(2 * cfg->H));
    heed_set_out(c, OUT_SEQ, &seq, HEED_F32);
    heed_set_out_lengths(c, OUT_SEQ, heed_port(c, "in"));
    int64_t ldh = cfg->L * cfg->D * cfg->H;
    heed_shape st_shape = heed_shape2(x->d[0], heed_lit(cell == CELL_LSTM ? 2 * ldh : ldh));
    heed_set_out(c, OUT_STATE, &st_shape, HEED_F32);
    if (cell == CELL_LSTM) {
        heed_shape hs = heed_shape2(x->d[0], heed_lit(ldh));
        heed_set_out(c, OUT_H, &hs, HEED_F32);
        heed_set_out(c, OUT_C, &hs, HEED_F32);
    }
    declare_params(c, cfg, hidden);
    if (cfg->att)
        attention_params(c, cfg, hidden);
    bool training = heed_infer_training(c);
    plan_workspace(cfg, training);
    /* saved: gates of every layer and direction, the outputs of all but the
     * last layer (the inputs of the next) and, for attention, every step's
     * query projection (additive) and the memory's projection (additive and
     * general; in step mode the carry holds it): backward reads them instead
     * of redoing the products, the memory's a [B*Sm, Dm] by [Dm, U] product
     * as large as a quarter of the Bahdanau decoder's forward pass */
    heed_add_saved(c, cfg->S ? (size_t)(cfg->L * cfg->D * cfg->T * cfg->B * cfg->S) : 1);
    heed_add_saved(c, (size_t)((cfg->L - 1) * cfg->B * cfg->T * cfg->D * cfg->H + 1));
    heed_add_saved(c, (size_t)(cfg->T * cfg->B * cfg->U + 1));
    heed_add_saved(c, (size_t)(cfg->B * cfg->Sm * cfg->Pw + 1));
    heed_set_workspace(c, cfg->ws_fwd, training ? cfg->ws_bwd : 0);
    uint32_t needs = 1u << heed_port(c, "in");
    if (cfg->port_state >= 0)
        needs |= 1u << cfg->port_state;
    if (cfg->port_len >= 0)
        needs |= 1u << cfg->port_len;
    uint32_t out_needs = 1u << OUT_SEQ;
    if (cfg->att) {
        needs |= 1u << cfg->port_mem;
        if (cfg->port_mlen >= 0)
            needs |= 1u << cfg->port_mlen;
        out_needs |= 1u << cfg->out_ctx | 1u << cfg->out_w;
    }
    heed_set_backward_needs(c, needs, out_needs);
    /* step mode keeps the state and, when attending, the memory's projection */
    size_t carry[2] = {(size_t)((cell == CELL_LSTM ? 2 : 1) * ldh),
                       (size_t)(cfg->Sm * cfg->Pw)};
    heed_set_carry(c, cfg->B, carry, cfg->att && cfg->Pw ? 2 : 1);
    double per_step = 2.0 * (double)cfg->B * (double)(cfg->G * cfg->H) * (double)cfg->H;
    double f = 0;
    for (int64_t l = 0; l < cfg->L; l++)
        f += (double)cfg->D * (2.0 * (double)(cfg->B * cfg->T) * (double)layer_in(cfg, l) *
                                   (double)(cfg->G * cfg->H) +
                               (double)cfg->T * per_step);
    heed_set_flops(c, f, 2.0 * f);
    return HEED_OK;
}

static heed_status rnn_infer(heed_infer *c)
{
    return rnn_infer_common(c, heed_attr_choice(c, "nonlinearity") == 1 ? CELL_RNN_RELU
                                                                          : CELL_RNN_TANH);
}
static heed_status gru_infer(heed_infer *c) { return rnn_infer_common(c, CELL_GRU); }
static heed_status lstm_infer(heed_infer *c) { return rnn_infer_common(c, CELL_LSTM); }

/* ------------------------------------------------------------ helpers */

typedef struct layer_params {
    const float *w_ih, *w_hh, *b_ih, *b_hh;
    float *dw_ih, *dw_hh, *db_ih, *db_hh;
} layer_params;

static layer_params params_of(const heed_exec *x, const rnn_cfg *cfg, int64_t l, int64_t d)
{
    int k = (int)((l * cfg->D + d) * cfg->n_params_per);
    layer_params p = {x->param[k], x->param[k + 1], NULL, NULL, NULL, NULL, NULL, NULL};
    if (cfg->bias) {
        p.b_ih = x->param[k + 2];
        p.b_hh = x->param[k + 3];
    }
    if (x->dparam) {
        p.dw_ih = x->dparam[k];
        p.dw_hh = x->dparam[k + 1];
        if (cfg->bias) {
            p.db_ih = x->dparam[k + 2];
            p.db_hh = x->dparam[k + 3];
        }
    }
    return p;
}

static const int32_t *lengths(const heed_exec *x, const rnn_cfg *cfg)
{
    return cfg->port_len >= 0 ? (const int32_t *)x->in[cfg->port_len] : x->len[0];
}

/* The initial h (which = 0) or c (which = 1) of layer l, direction d, row b,
 * or NULL for zeros. In step mode after the first call, the carry. */
static const float *initial(const heed_exec *x, const rnn_cfg *cfg, int64_t l, int64_t d,
                            int which, int64_t b)
{
    int64_t ldh = cfg->L * cfg->D * cfg->H, col = (l * cfg->D + d) * cfg->H;
    if (which == 1 && cfg->cell != CELL_LSTM)
        return NULL; /* only an LSTM has a cell state; the carry holds none */
    if (x->carry && x->step > 0)
        return x->carry + b * (cfg->cell == CELL_LSTM ? 2 : 1) * ldh + which * ldh + col;
    if (cfg->port_state < 0 || (which == 1 && cfg->state_width != 2 * ldh))
        return NULL;
    return (const float *)x->in[cfg->port_state] + b * cfg->state_width + which * ldh + col;
}

static void copy_or_zero(float *dst, const float *src, int64_t n)
{
    if (src)
        memcpy(dst, src, (size_t)n * sizeof *dst);
    else
        memset(dst, 0, (size_t)n * sizeof *dst);
}

/* Input of layer l: the sequence, or the previous layer's output (dropped out
 * in training). */
static const float *layer_input(const heed_exec *x, const rnn_cfg *cfg, int64_t l,
                                float *drop_buf)
{
    if (l == 0)
        return x->in[0];
    int64_t n = cfg->B * cfg->T * cfg->D * cfg->H;
    const float *prev = x->saved[1] + (l - 1) * n;
    if (!(x->training && cfg->dropout > 0.0f))
        return prev;
    heed_dropout(drop_buf, prev, heed_mix64(x->seed + (uint64_t)l), cfg->dropout, (size_t)n,
                 false);
    return drop_buf;
}

static float *layer_output(const heed_exec *x, const rnn_cfg *cfg, int64_t l)
{
    if (l == cfg->L - 1)
        return x->out[OUT_SEQ];
    return x->saved[1] + l * cfg->B * cfg->T * cfg->D * cfg->H;
}

static float *gates_of(const heed_exec *x, const rnn_cfg *cfg, int64_t l, int64_t d)
{
    if (!cfg->S)
        return NULL;
    return x->saved[0] + (l * cfg->D + d) * cfg->T * cfg->B * cfg->S;
}

/* ------------------------------------------------------------ forward */

/* Direction d's own part of the forward or backward workspace. */
static float *fwd_ws(const heed_exec *x, const rnn_cfg *cfg, int64_t d, size_t off)
{
    return x->ws + (size_t)d * cfg->ws_dir + off;
}

static float *bwd_ws(const heed_exec *x, const rnn_cfg *cfg, int64_t d, size_t off)
{
    return x->ws + (size_t)d * cfg->wb_dir + off;
}

/* Packs op(W) [K,N] (W [N,K] when trans, ld ldw) into the workspace at
 * `dst` for the steps of this pass; NULL, and nothing done, when the plan does
 * not pack (step mode). */
static const float *pack_weight(const rnn_cfg *cfg, float *dst, const float *w, int64_t ldw,
                                bool trans, int64_t K, int64_t N)
{
    if (!cfg->packed || K == 0 || N == 0)
        return NULL;
    heed_pack(dst, w, ldw, trans, K, N);
    return dst;
}

/* C[M,N] += A op(W), op(W) [K,N]; with `set`, C = bias + A op(W) (bias [N]
 * or NULL). Through the packed copy pk when there is one (the bias then
 * costs no pass of its own), else BLAS (W [N,K] when trans, ld ldw). */
static void step_product(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                         const float *pk, const float *w, int64_t ldw, bool trans, bool set,
                         const float *bias, float *C, int64_t ldc)
{
    if (pk) {
        heed_gemm_packed(M, N, A, lda, K, NULL, 0, 0, pk, set, bias, C, ldc);
        return;
    }
    if (set)
        for (int64_t r = 0; r < M; r++)
            copy_or_zero(C + r * ldc, bias, N);
    heed_gemm(false, trans, M, N, K, 1.0f, A, lda, w, ldw, 1.0f, C, ldc);
}

/* Whether the two directions of a layer run at once, one per thread: each
 * step's products are too small for two threads to share well ([B,H] by
 * [H,GH]), and BLAS called inside a parallel region runs on its caller's
 * thread alone, so two independent recurrences use both cores better. */
static bool directions_at_once(const rnn_cfg *cfg)
{
    return cfg->D == 2 && omp_get_max_threads() >= 2 && !omp_in_parallel();
}

/* Whether each step's recurrent product is added onto the step's rows of xp,
 * b_hh folded into xp's bias, instead of written to hp from b_hh: where the
 * product is BLAS's (no packed weight) and the cell adds the two whole (not
 * GRU, whose n gate scales its recurrent part by r). Copying b_hh into hp's
 * rows before each step's product ran on one thread while the other waited:
 * 2.4% of the Luong forward pass on 2 threads. hp's first row then holds
 * zeros, which the cells read in its place. */
static bool folds_hh(const rnn_cfg *cfg)
{
    return !cfg->packed && cfg->cell != CELL_GRU;
}

/* All steps' input projections of direction d at once (accumulated onto the
 * bias; b_ih + b_hh when folds_hh) and its initial state.
 * Shape key: in [B,T,In_l] -> xp [B*T,GH]. */
static void project_inputs(heed_exec *x, const rnn_cfg *cfg, int64_t l, int64_t d,
                           const float *in)
{
    int64_t B = cfg->B, T = cfg->T, H = cfg->H, GH = cfg->G * H, In = layer_in(cfg, l);
    layer_params p = params_of(x, cfg, l, d);
    float *xp = fwd_ws(x, cfg, d, cfg->ws_xp), *h = fwd_ws(x, cfg, d, cfg->ws_h);
    float *c = fwd_ws(x, cfg, d, cfg->ws_c), *hp = fwd_ws(x, cfg, d, cfg->ws_hp);
    const float *bias = p.b_ih;
    if (folds_hh(cfg) && p.b_ih) {
        for (int64_t j = 0; j < GH; j++) /* hp's first row, free until the steps */
            hp[j] = p.b_ih[j] + p.b_hh[j];
        bias = hp;
    }
    heed_gemm_bias(false, true, B * T, GH, In, in, In, p.w_ih, In, bias, xp, GH);
    if (folds_hh(cfg))
        memset(hp, 0, (size_t)GH * sizeof *hp);
    for (int64_t b = 0; b < B; b++) {
        copy_or_zero(h + b * H, initial(x, cfg, l, d, 0, b), H);
        copy_or_zero(c + b * H, initial(x, cfg, l, d, 1, b), H);
    }
}

/* Whether the threads share a recurrence by rows from its first step to its
 * last, in one parallel region: a row's steps read no other row, so each
 * thread runs the products and cells of its own rows and waits for the other
 * only at the end. With a region per step for the product and another for
 * the cells, each ending in a barrier, libgomp's waiting was 14.7% of the
 * CPU samples of the Luong training step on 2 threads; 10.7% after, with
 * 10% fewer samples in all. Needs the packed weight: the product of a
 * thread's rows then runs on that thread alone. */
static bool rows_at_once(const rnn_cfg *cfg, const float *pk)
{
    return pk && cfg->B * cfg->G * cfg->H > 16384 && omp_get_max_threads() >= 2 &&
           !omp_in_parallel();
}

/* Runs `call` over the rows [b0, b1) of the batch (the caller names b0 and
 * b1 and passes them in `call`): once over all rows, or, when rows_at_once,
 * on every thread with its share, the packed product's own. */
#define ROW_SHARES(cfg, pk, b0, b1, call)                                                          \
    do {                                                                                           \
        if (!rows_at_once(cfg, pk)) {                                                              \
            int64_t b0 = 0, b1 = (cfg)->B;                                                         \
            call;                                                                                  \
        } else {                                                                                   \
            HEED_PRAGMA_(omp parallel)                                                             \
            {                                                                                      \
                int64_t b0, b1;                                                                    \
                heed_packed_share((cfg)->B, omp_get_thread_num(), omp_get_num_threads(), &b0,      \
                                  &b1);                                                            \
                call;                                                                              \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* The rows [b0, b1) of the recurrence of direction d, over all steps: their
 * products and cells, the products through the packed weight pk (or BLAS
 * when NULL). Shape key: xp [B*T,GH] -> out [B,T,D*H] (this direction's
 * columns). */
static void recur_rows(heed_exec *x, const rnn_cfg *cfg, int64_t l, int64_t d, float *out,
                       const float *pk, int64_t b0, int64_t b1)
{
    int64_t B = cfg->B, T = cfg->T, H = cfg->H, GH = cfg->G * H, DH = cfg->D * H;
    layer_params p = params_of(x, cfg, l, d);
    float *xp = fwd_ws(x, cfg, d, cfg->ws_xp), *hp = fwd_ws(x, cfg, d, cfg->ws_hp);
    float *h = fwd_ws(x, cfg, d, cfg->ws_h), *c = fwd_ws(x, cfg, d, cfg->ws_c);
    float *save = gates_of(x, cfg, l, d);
    const int32_t *len = lengths(x, cfg);
    bool fold = folds_hh(cfg);
    for (int64_t s = 0; s < T; s++) {
        int64_t t = d == 0 ? s : T - 1 - s;
        /* folded: added onto the step's rows of xp; else hp = b_hh + product */
        step_product(b1 - b0, GH, H, h + b0 * H, H, pk, p.w_hh, H, true, !fold, p.b_hh,
                     fold ? xp + (b0 * T + t) * GH : hp + b0 * GH, fold ? T * GH : GH);
        HEED_FOR_IF((b1 - b0) * GH > 16384, , for (int64_t b = b0; b < b1; b++), {
            float *o = out + (b * T + t) * DH + d * H;
            if (t >= heed_len(len, b, T)) {
                memset(o, 0, (size_t)H * sizeof *o);
                continue;
            }
            cell_forward(cfg, xp + (b * T + t) * GH, fold ? hp : hp + b * GH, h + b * H,
                         c + b * H, save ? save + (t * B + b) * cfg->S : NULL);
            memcpy(o, h + b * H, (size_t)H * sizeof *o);
        });
    }
}

/* The recurrence of direction d over all steps.
 * Shape key: xp [B*T,GH] -> out [B,T,D*H] (this direction's columns). */
static void recur_direction(heed_exec *x, const rnn_cfg *cfg, int64_t l, int64_t d, float *out)
{
    int64_t H = cfg->H, GH = cfg->G * H;
    layer_params p = params_of(x, cfg, l, d);
    const float *pk = pack_weight(cfg, fwd_ws(x, cfg, d, cfg->ws_pk), p.w_hh, H, true, H, GH);
    ROW_SHARES(cfg, pk, b0, b1, recur_rows(x, cfg, l, d, out, pk, b0, b1));
}

/* The final state of layer l, direction d (h, and c for LSTM) into the state
 * outputs and, in step mode, the carry. */
static void store_state(heed_exec *x, const rnn_cfg *cfg, int64_t l, int64_t d)
{
    int64_t B = cfg->B, H = cfg->H, ldh = cfg->L * cfg->D * H, col = (l * cfg->D + d) * H;
    bool lstm = cfg->cell == CELL_LSTM;
    const float *h = fwd_ws(x, cfg, d, cfg->ws_h), *c = fwd_ws(x, cfg, d, cfg->ws_c);
    for (int64_t b = 0; b < B; b++) {
        float *st = x->out[OUT_STATE] + b * (lstm ? 2 : 1) * ldh;
        memcpy(st + col, h + b * H, (size_t)H * sizeof *st);
        if (lstm) {
            memcpy(st + ldh + col, c + b * H, (size_t)H * sizeof *st);
            memcpy(x->out[OUT_H] + b * ldh + col, h + b * H, (size_t)H * sizeof *st);
            memcpy(x->out[OUT_C] + b * ldh + col, c + b * H, (size_t)H * sizeof *st);
        }
        if (x->carry) {
            float *cr = x->carry + b * (lstm ? 2 : 1) * ldh;
            memcpy(cr + col, h + b * H, (size_t)H * sizeof *cr);
            if (lstm)
                memcpy(cr + ldh + col, c + b * H, (size_t)H * sizeof *cr);
        }
    }
}

/* ------------------------------------------------------------ attending decoder */

typedef struct att_params {
    const float *wq, *wk, *bk, *v, *w; /* additive: wq wk bk v; general: w */
    float *dwq, *dwk, *dbk, *dv, *dw;
} att_params;

static att_params att_params_of(const heed_exec *x, const rnn_cfg *cfg)
{
    att_params a = {0};
    int k = cfg->p_att;
    if (cfg->att_score == ATT_ADDITIVE) {
        a.wq = x->param[k], a.wk = x->param[k + 1], a.bk = x->param[k + 2], a.v = x->param[k + 3];
        if (x->dparam)
            a.dwq = x->dparam[k], a.dwk = x->dparam[k + 1], a.dbk = x->dparam[k + 2],
            a.dv = x->dparam[k + 3];
    } else if (cfg->att_score == ATT_GENERAL) {
        a.w = x->param[k];
        a.dw = x->dparam ? x->dparam[k] : NULL;
    }
    return a;
}

static const int32_t *memory_lengths(const heed_exec *x, const rnn_cfg *cfg)
{
    return cfg->port_mlen >= 0 ? (const int32_t *)x->in[cfg->port_mlen] : x->len[cfg->port_mem];
}

/* The memory's projection for scoring ([B*Sm, Pw]: Wk m + bk, or W m), or
 * the memory itself (dot scores), as forward left it for backward. */
static const float *kept_keys(const heed_exec *x, const rnn_cfg *cfg)
{
    return cfg->Pw ? x->saved[3] : x->in[cfg->port_mem];
}

/* The same, computed once per sequence: in step mode into the carry, else
 * into the buffer kept for backward. */
static const float *memory_keys(const heed_exec *x, const rnn_cfg *cfg)
{
    if (!cfg->Pw)
        return x->in[cfg->port_mem];
    int64_t ldh = cfg->L * cfg->D * cfg->H;
    float *kp = x->carry ? x->carry + cfg->B * (cfg->cell == CELL_LSTM ? 2 : 1) * ldh
                         : x->saved[3];
    if (x->carry && x->step > 0)
        return kp;
    att_params a = att_params_of(x, cfg);
    const float *mem = x->in[cfg->port_mem];
    int64_t rows = cfg->B * cfg->Sm;
    if (cfg->att_score == ATT_ADDITIVE) {
        heed_gemm_bias(false, true, rows, cfg->U, cfg->Dm, mem, cfg->Dm, a.wk, cfg->Dm, a.bk, kp,
                       cfg->U);
    } else {
        heed_gemm(false, true, rows, cfg->H, cfg->Dm, 1.0f, mem, cfg->Dm, a.w, cfg->Dm, 0.0f, kp,
                  cfg->H);
    }
    return kp;
}

/* y[n] = sum_j w[j] m[j, :]: the context of one row. A loop, not a BLAS call:
 * for one row BLAS's call and packing cost more than the work. */
HEED_HOT static void weighted_rows(const float *restrict w, const float *restrict m, int64_t S,
                                   int64_t n, float *restrict y)
{
    memset(y, 0, (size_t)n * sizeof *y);
    for (int64_t j = 0; j < S; j++) {
        float wj = w[j];
        if (wj == 0.0f) /* masked: also keeps a NaN in padded memory out */
            continue;
        for (int64_t k = 0; k < n; k++)
            y[k] += wj * m[j * n + k];
    }
}

/* Step t's query projections [B,U] (additive attention), kept for backward. */
static float *query_of(const heed_exec *x, const rnn_cfg *cfg, int64_t t)
{
    return x->saved[2] + t * cfg->B * cfg->U;
}

/* Scores, weights and context of step t for rows [b0, b1), from the
 * previous states h [B,H] (qp: their query projection, additive only). */
static void attend_step(const heed_exec *x, const rnn_cfg *cfg, int64_t t, const float *h,
                        const float *qp, const float *kp, int64_t b0, int64_t b1)
{
    int64_t T = cfg->T, Sm = cfg->Sm, Dm = cfg->Dm, H = cfg->H;
    const float *mem = x->in[cfg->port_mem];
    const int32_t *len = lengths(x, cfg), *mlen = memory_lengths(x, cfg);
    att_params a = att_params_of(x, cfg);
    float *wout = x->out[cfg->out_w], *cout = x->out[cfg->out_ctx];
    /* one row (a decoding step): no threads to start for it */
    HEED_FOR_IF(b1 - b0 > 1, , for (int64_t b = b0; b < b1; b++), {
        float *w = wout + (b * T + t) * Sm, *ctx = cout + (b * T + t) * Dm;
        if (t >= heed_len(len, b, T)) {
            memset(w, 0, (size_t)Sm * sizeof *w);
            memset(ctx, 0, (size_t)Dm * sizeof *ctx);
            continue;
        }
        const float *mb = mem + b * Sm * Dm;
        if (cfg->att_score == ATT_ADDITIVE)
            heed_additive_scores(qp + b * cfg->U, 1, kp + b * Sm * cfg->U, Sm, a.v, cfg->U, w);
        else
            heed_dot_rows(Sm, H, cfg->att_scale, h + b * H, cfg->Pw ? kp + b * Sm * H : mb, H,
                          0.0f, w);
        heed_softmax_row(w, Sm, heed_len(mlen, b, Sm));
        weighted_rows(w, mb, Sm, Dm, ctx);
    });
}

/* Whether step t's products of one row run as att_step_row does: one
 * sequence (greedy decoding), unpacked weights (step mode), two threads. */
static bool row_step_shared(const rnn_cfg *cfg)
{
    return cfg->B == 1 && !cfg->packed && omp_get_max_threads() >= 2 && !omp_in_parallel();
}

/* Step t of one row on two threads started once: the query and the
 * attention on one while the other runs the recurrent product (both read
 * only the previous state), then the context's share of the input
 * projection split by rows. Each product is a matrix-vector product that
 * streams its weight once; started per product, the threads cost more than
 * half of a decoding step's time here (two starts per step at about 9 us
 * each, against 25 us of products). */
static void att_step_row(const heed_exec *x, const rnn_cfg *cfg, const layer_params *p,
                         const att_params *a, int64_t t, const float *h, const float *kp,
                         float *xp, float *hp)
{
    int64_t H = cfg->H, GH = cfg->G * H, In = cfg->In, Dm = cfg->Dm, Wi = In + Dm;
    const float *ctx = x->out[cfg->out_ctx] + t * Dm;
#pragma omp parallel num_threads(2)
    {
        int id = omp_get_thread_num(), nt = omp_get_num_threads();
        if (id == 0 || nt < 2) {
            if (cfg->att_score == ATT_ADDITIVE)
                step_product(1, cfg->U, H, h, H, NULL, a->wq, H, true, true, NULL,
                             query_of(x, cfg, t), cfg->U);
            attend_step(x, cfg, t, h, query_of(x, cfg, t), kp, 0, 1);
        }
        if (id == 1 || nt < 2)
            step_product(1, GH, H, h, H, NULL, p->w_hh, H, true, true, p->b_hh, hp, GH);
#pragma omp barrier
        int64_t n0 = GH * id / nt, n1 = GH * (id + 1) / nt;
        if (n1 > n0)
            heed_gemm(false, true, 1, n1 - n0, Dm, 1.0f, ctx, Dm, p->w_ih + In + n0 * Wi, Wi, 1.0f,
                      xp + t * GH + n0, GH);
    }
}

/* What the steps of an attending decoder read besides the exec: its
 * parameters, the memory's keys and the packed weights (NULL unpacked). */
typedef struct att_run {
    layer_params p;
    att_params a;
    const float *kp, *pkh, *pkc, *pkq;
} att_run;

/* All steps of rows [b0, b1) of an attending decoder: each step's query,
 * attention, the context's share of the input projection, the recurrent
 * product and the cells. */
static void att_steps(const heed_exec *x, const rnn_cfg *cfg, const att_run *r, int64_t b0,
                      int64_t b1)
{
    int64_t T = cfg->T, H = cfg->H, GH = cfg->G * H, In = cfg->In, Dm = cfg->Dm, Wi = In + Dm;
    int64_t B = cfg->B, U = cfg->U, nb = b1 - b0;
    const layer_params *p = &r->p;
    float *xp = x->ws + cfg->ws_xp, *hp = x->ws + cfg->ws_hp;
    float *h = x->ws + cfg->ws_h, *c = x->ws + cfg->ws_c;
    float *save = gates_of(x, cfg, 0, 0), *out = x->out[OUT_SEQ];
    const float *ctx = x->out[cfg->out_ctx];
    const int32_t *len = lengths(x, cfg);
    for (int64_t t = 0; t < T; t++) {
        if (row_step_shared(cfg)) {
            att_step_row(x, cfg, p, &r->a, t, h, r->kp, xp, hp);
        } else {
            if (cfg->att_score == ATT_ADDITIVE)
                step_product(nb, U, H, h + b0 * H, H, r->pkq, r->a.wq, H, true, true, NULL,
                             query_of(x, cfg, t) + b0 * U, U);
            attend_step(x, cfg, t, h, query_of(x, cfg, t), r->kp, b0, b1);
            /* the context's share of the input projection */
            step_product(nb, GH, Dm, ctx + (b0 * T + t) * Dm, T * Dm, r->pkc, p->w_ih + In, Wi,
                         true, false, NULL, xp + (b0 * T + t) * GH, T * GH);
            step_product(nb, GH, H, h + b0 * H, H, r->pkh, p->w_hh, H, true, true, p->b_hh,
                         hp + b0 * GH, GH);
        }
        HEED_FOR_IF(nb * GH > 16384, , for (int64_t b = b0; b < b1; b++), {
            float *o = out + (b * T + t) * H;
            if (t >= heed_len(len, b, T)) {
                memset(o, 0, (size_t)H * sizeof *o);
                continue;
            }
            cell_forward(cfg, xp + (b * T + t) * GH, hp + b * GH, h + b * H, c + b * H,
                         save + (t * B + b) * cfg->S);
            memcpy(o, h + b * H, (size_t)H * sizeof *o);
        });
    }
}

/* Shape key: in [B,T,In], memory [B,Sm,Dm] -> out [B,T,H], context [B,T,Dm],
 * weights [B,T,Sm]; the cell reads [x_t; context_t], the context coming from
 * the state before step t. Rows shared by the threads over all steps as in
 * recur_direction. */
static heed_status att_forward(heed_exec *x, const rnn_cfg *cfg)
{
    int64_t B = cfg->B, T = cfg->T, H = cfg->H, GH = cfg->G * H, In = cfg->In, Dm = cfg->Dm;
    int64_t Wi = In + Dm;
    att_run r = {params_of(x, cfg, 0, 0), att_params_of(x, cfg), NULL, NULL, NULL, NULL};
    float *xp = x->ws + cfg->ws_xp, *h = x->ws + cfg->ws_h, *c = x->ws + cfg->ws_c;
    r.kp = memory_keys(x, cfg);
    r.pkh = pack_weight(cfg, x->ws + cfg->ws_pk, r.p.w_hh, H, true, H, GH);
    r.pkc = pack_weight(cfg, x->ws + cfg->wa_pkc, r.p.w_ih + In, Wi, true, Dm, GH);
    r.pkq = pack_weight(cfg, x->ws + cfg->wa_pkq, r.a.wq, H, true, H, cfg->U);
    heed_gemm_bias(false, true, B * T, GH, In, x->in[0], In, r.p.w_ih, Wi, r.p.b_ih, xp, GH);
    for (int64_t b = 0; b < B; b++) {
        copy_or_zero(h + b * H, initial(x, cfg, 0, 0, 0, b), H);
        copy_or_zero(c + b * H, initial(x, cfg, 0, 0, 1, b), H);
    }
    ROW_SHARES(cfg, r.pkh, b0, b1, att_steps(x, cfg, &r, b0, b1));
    store_state(x, cfg, 0, 0);
    return HEED_OK;
}

/* One layer, both directions. Shape key: in [B,T,In_l] -> out [B,T,D*H]. */
static void forward_layer(heed_exec *x, const rnn_cfg *cfg, int64_t l, const float *in,
                          float *out)
{
    for (int64_t d = 0; d < cfg->D; d++)
        project_inputs(x, cfg, l, d, in);
    if (directions_at_once(cfg)) {
#pragma omp parallel num_threads(2)
        /* a team may come out smaller than asked (OMP_THREAD_LIMIT): then
         * one thread runs both */
        for (int64_t d = omp_get_thread_num(); d < cfg->D; d += omp_get_num_threads())
            recur_direction(x, cfg, l, d, out);
    } else {
        for (int64_t d = 0; d < cfg->D; d++)
            recur_direction(x, cfg, l, d, out);
    }
    for (int64_t d = 0; d < cfg->D; d++)
        store_state(x, cfg, l, d);
}

static heed_status rnn_forward(heed_exec *x)
{
    const rnn_cfg *cfg = x->cfg;
    if (cfg->att)
        return att_forward(x, cfg);
    if (x->carry && cfg->D == 2)
        return heed_exec_fail(x, HEED_ERR_UNSUPPORTED,
                              "a bidirectional node cannot run step by step (it reads the whole "
                              "sequence); only unidirectional decoders can");
    for (int64_t l = 0; l < cfg->L; l++) {
        const float *in = layer_input(x, cfg, l, x->ws + cfg->ws_drop);
        float *out = layer_output(x, cfg, l);
        forward_layer(x, cfg, l, in, out);
    }
    return HEED_OK;
}

/* ------------------------------------------------------------ backward */

/* h before step t of direction d for row b: the output of the step before in
 * processing order, or the initial state at the sequence's first step. */
static const float *h_before(const heed_exec *x, const rnn_cfg *cfg, const float *out,
                             int64_t l, int64_t d, int64_t b, int64_t t, int64_t len)
{
    int64_t T = cfg->T, DH = cfg->D * cfg->H;
    bool first = d == 0 ? t == 0 : t == len - 1;
    if (first)
        return initial(x, cfg, l, d, 0, b);
    int64_t prev = d == 0 ? t - 1 : t + 1;
    return out + (b * T + prev) * DH + d * cfg->H;
}

static const float *c_before(const heed_exec *x, const rnn_cfg *cfg, int64_t l, int64_t d,
                             int64_t b, int64_t t, int64_t len)
{
    bool first = d == 0 ? t == 0 : t == len - 1;
    if (first)
        return initial(x, cfg, l, d, 1, b);
    int64_t prev = d == 0 ? t - 1 : t + 1;
    return gates_of(x, cfg, l, d) + (prev * cfg->B + b) * cfg->S + 4 * cfg->H;
}

/* Gradients reaching the final state of (l, d), summed over the outputs
 * that expose it. */
static void final_state_grad(const heed_exec *x, const rnn_cfg *cfg, int64_t l, int64_t d,
                             float *dh, float *dc)
{
    int64_t B = cfg->B, H = cfg->H, ldh = cfg->L * cfg->D * H, col = (l * cfg->D + d) * H;
    bool lstm = cfg->cell == CELL_LSTM;
    memset(dh, 0, (size_t)(B * H) * sizeof *dh);
    memset(dc, 0, (size_t)(B * H) * sizeof *dc);
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
            const float *ds = x->dout[OUT_STATE];
            if (ds) {
                dh[b * H + j] += ds[b * (lstm ? 2 : 1) * ldh + col + j];
                if (lstm)
                    dc[b * H + j] += ds[b * 2 * ldh + ldh + col + j];
            }
            if (lstm && x->dout[OUT_H])
                dh[b * H + j] += x->dout[OUT_H][b * ldh + col + j];
            if (lstm && x->dout[OUT_C])
                dc[b * H + j] += x->dout[OUT_C][b * ldh + col + j];
        }
}

/* The gradient left at the start of the sequence goes to the initial state. */
static void initial_state_grad(const heed_exec *x, const rnn_cfg *cfg, int64_t l, int64_t d,
                               const float *dh, const float *dc)
{
    if (cfg->port_state < 0 || !x->din[cfg->port_state])
        return;
    int64_t B = cfg->B, H = cfg->H, ldh = cfg->L * cfg->D * H, col = (l * cfg->D + d) * H;
    float *ds = x->din[cfg->port_state];
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
            ds[b * cfg->state_width + col + j] += dh[b * H + j];
            if (cfg->state_width == 2 * ldh)
                ds[b * cfg->state_width + ldh + col + j] += dc[b * H + j];
        }
}

/* dh += (gradient of step t's recurrent pre-activations) W_hh, rows
 * [b0, b1). For GRU the r and z parts are dxp's, the n part dhn's. Shape key:
 * dxp [B*T,GH], dhn [B*T,H], W_hh [GH,H] (pk: packed, or NULL) -> dh [B,H]. */
static void recurrent_grad(const rnn_cfg *cfg, const float *w_hh, const float *pk,
                           const float *dxp, const float *dhn, int64_t t, float *dh, int64_t b0,
                           int64_t b1)
{
    int64_t B = b1 - b0, T = cfg->T, H = cfg->H, GH = cfg->G * H;
    dxp += b0 * T * GH;
    dhn += b0 * T * H;
    dh += b0 * H;
    if (pk) { /* W_hh packed as [GH,H]: both parts in one pass */
        bool gru = cfg->cell == CELL_GRU;
        heed_gemm_packed(B, H, dxp + t * GH, T * GH, gru ? 2 * H : GH, gru ? dhn + t * H : NULL,
                         T * H, gru ? H : 0, pk, false, NULL, dh, H);
        return;
    }
    if (cfg->cell != CELL_GRU) {
        heed_gemm(false, false, B, H, GH, 1.0f, dxp + t * GH, T * GH, w_hh, H, 1.0f, dh, H);
        return;
    }
    heed_gemm(false, false, B, H, 2 * H, 1.0f, dxp + t * GH, T * GH, w_hh, H, 1.0f, dh, H);
    heed_gemm(false, false, B, H, H, 1.0f, dhn + t * H, T * H, w_hh + 2 * H * H, H, 1.0f, dh, H);
}

/* After the loop: W_hh's gradient from all steps at once, split as in
 * recurrent_grad, and both biases'. b_ih's gradient is the column sums of dxp
 * and b_hh's the same sums (for GRU the r, z part; its n part sums dhn), so
 * dxp is summed once, into the workspace's `sums` [GH].
 * Shape key: dxp [B*T,GH], dhn [B*T,H], hprev [B*T,H] -> dW_hh [GH,H]. */
static void recurrent_param_grads(const heed_exec *x, const rnn_cfg *cfg, const layer_params *p,
                                  const float *dxp, const float *dhn, const float *hprev)
{
    int64_t rows = cfg->B * cfg->T, H = cfg->H, GH = cfg->G * H;
    int64_t GHx = cfg->cell == CELL_GRU ? 2 * H : GH; /* the rows read from dxp */
    bool gru = cfg->cell == CELL_GRU;
    if (p->dw_hh)
        heed_gemm(true, false, GHx, H, rows, 1.0f, dxp, GH, hprev, H, 1.0f, p->dw_hh, H);
    if (gru && p->dw_hh)
        heed_gemm(true, false, H, H, rows, 1.0f, dhn, H, hprev, H, 1.0f, p->dw_hh + 2 * H * H, H);
    if (!p->db_ih && !p->db_hh)
        return;
    float *sums = x->ws + cfg->wb_sums;
    memset(sums, 0, (size_t)GH * sizeof *sums);
    heed_sum_rows(sums, dxp, rows, GH);
    for (int64_t j = 0; p->db_ih && j < GH; j++)
        p->db_ih[j] += sums[j];
    for (int64_t j = 0; p->db_hh && j < GHx; j++)
        p->db_hh[j] += sums[j];
    if (gru && p->db_hh)
        heed_sum_rows(p->db_hh + 2 * H, dhn, rows, H);
}

/* Backward through time of rows [b0, b1) of direction d of layer l: the
 * gradients of every step's pre-activations (dxp, and dhn for GRU) and
 * previous states (hprev) of those rows; dh and dc hold the final state's
 * gradient and are left with the initial state's. `dout` is the gradient of
 * the layer's output (may be NULL). */
static void bptt_rows(heed_exec *x, const rnn_cfg *cfg, int64_t l, int64_t d, const float *out,
                      const float *dout, const float *pk, int64_t b0, int64_t b1)
{
    int64_t B = cfg->B, T = cfg->T, H = cfg->H, GH = cfg->G * H, DH = cfg->D * H;
    layer_params p = params_of(x, cfg, l, d);
    float *dxp = bwd_ws(x, cfg, d, cfg->wb_dxp), *dhn = bwd_ws(x, cfg, d, cfg->wb_dhn);
    float *hprev = bwd_ws(x, cfg, d, cfg->wb_hprev), *dh = bwd_ws(x, cfg, d, cfg->wb_dh);
    float *dc = bwd_ws(x, cfg, d, cfg->wb_dc);
    const float *save = gates_of(x, cfg, l, d), *zero = x->ws + cfg->wb_zero;
    const int32_t *len = lengths(x, cfg);
    for (int64_t s = T - 1; s >= 0; s--) {
        int64_t t = d == 0 ? s : T - 1 - s;
        HEED_FOR_IF((b1 - b0) * GH > 16384, , for (int64_t b = b0; b < b1; b++), {
            int64_t lb = heed_len(len, b, T);
            float *gx = dxp + (b * T + t) * GH, *gn = dhn + (b * T + t) * H;
            float *hp_row = hprev + (b * T + t) * H;
            if (t >= lb) {
                /* padded: nothing computed here; the state's gradient passes on */
                memset(gx, 0, (size_t)GH * sizeof *gx);
                if (cfg->cell == CELL_GRU)
                    memset(gn, 0, (size_t)H * sizeof *gn);
                memset(hp_row, 0, (size_t)H * sizeof *hp_row);
                continue;
            }
            float *g = dh + b * H;
            if (dout)
                for (int64_t j = 0; j < H; j++)
                    g[j] += dout[(b * T + t) * DH + d * H + j];
            copy_or_zero(hp_row, h_before(x, cfg, out, l, d, b, t, lb), H);
            const float *cb = cfg->cell == CELL_LSTM ? c_before(x, cfg, l, d, b, t, lb) : NULL;
            const float *sv = save ? save + (t * B + b) * cfg->S : NULL;
            if (cfg->cell == CELL_GRU)
                gru_backward_row(H, sv, hp_row, g, gx, gn);
            else
                cell_backward(cfg, sv, out + (b * T + t) * DH + d * H, cb ? cb : zero, g,
                              dc + b * H, gx);
        });
        /* dh_prev = direct part + (recurrent pre-activation gradient) W_hh
         * (rows of padded steps are zero), accumulated in place: the row
         * loop above has read dh already */
        recurrent_grad(cfg, p.w_hh, pk, dxp, dhn, t, dh, b0, b1);
    }
}

/* Backward through time of direction d of layer l, all rows (shared by the
 * threads from the last step to the first when rows_at_once), from the final
 * state's gradient to the initial state's. */
static void bptt_direction(heed_exec *x, const rnn_cfg *cfg, int64_t l, int64_t d,
                           const float *out, const float *dout)
{
    int64_t H = cfg->H, GH = cfg->G * H;
    layer_params p = params_of(x, cfg, l, d);
    float *dh = bwd_ws(x, cfg, d, cfg->wb_dh), *dc = bwd_ws(x, cfg, d, cfg->wb_dc);
    const float *pk = pack_weight(cfg, bwd_ws(x, cfg, d, cfg->wb_pk), p.w_hh, H, false, GH, H);
    final_state_grad(x, cfg, l, d, dh, dc);
    ROW_SHARES(cfg, pk, b0, b1, bptt_rows(x, cfg, l, d, out, dout, pk, b0, b1));
    initial_state_grad(x, cfg, l, d, dh, dc);
}

/* After the loop: the weight and input gradients of all steps of direction d
 * at once. `din` receives the input's gradient (may be NULL). */
static void direction_grads(heed_exec *x, const rnn_cfg *cfg, int64_t l, int64_t d,
                            const float *in, float *din)
{
    int64_t B = cfg->B, T = cfg->T, H = cfg->H, GH = cfg->G * H, In = layer_in(cfg, l);
    layer_params p = params_of(x, cfg, l, d);
    const float *dxp = bwd_ws(x, cfg, d, cfg->wb_dxp), *hprev = bwd_ws(x, cfg, d, cfg->wb_hprev);
    if (p.dw_ih)
        heed_gemm(true, false, GH, In, B * T, 1.0f, dxp, GH, in, In, 1.0f, p.dw_ih, In);
    recurrent_param_grads(x, cfg, &p, dxp, bwd_ws(x, cfg, d, cfg->wb_dhn), hprev);
    if (din)
        heed_gemm(false, false, B * T, In, GH, 1.0f, dxp, GH, p.w_ih, In, 1.0f, din, In);
}

/* One layer backward, both directions (at once when directions_at_once). */
static void backward_layer(heed_exec *x, const rnn_cfg *cfg, int64_t l, const float *in,
                           const float *out, const float *dout, float *din)
{
    memset(x->ws + cfg->wb_zero, 0, (size_t)cfg->H * sizeof(float));
    if (directions_at_once(cfg)) {
#pragma omp parallel num_threads(2)
        for (int64_t d = omp_get_thread_num(); d < cfg->D; d += omp_get_num_threads())
            bptt_direction(x, cfg, l, d, out, dout);
    } else {
        for (int64_t d = 0; d < cfg->D; d++)
            bptt_direction(x, cfg, l, d, out, dout);
    }
    for (int64_t d = 0; d < cfg->D; d++)
        direction_grads(x, cfg, l, d, in, din);
}

/* The attention of step t backward, every row: from the gradient of the
 * step's context (dctx, rows b*T+t of [B*T,Dm]) and weights into the memory's
 * projection (dkp), the scoring parameters, and the previous state (added to
 * dh); the memory's own gradient through the context waits for the end of
 * the loop (attention_param_grads). hprev holds the previous states as rows
 * b*T+t; pkq is W_q packed as [U,H], or NULL. */
static void attend_step_backward(heed_exec *x, const rnn_cfg *cfg, int64_t t, const float *hprev,
                                 const float *qp, const float *kp, const float *dctx,
                                 const float *pkq, float *dh, int64_t b0, int64_t b1)
{
    int64_t T = cfg->T, Sm = cfg->Sm, Dm = cfg->Dm, H = cfg->H, U = cfg->U;
    const float *mem = x->in[cfg->port_mem], *wts = x->out[cfg->out_w];
    const float *dw_out = x->dout[cfg->out_w];
    float *dmem = x->din[cfg->port_mem], *dkp = x->ws + cfg->wb_dkp, *dvb = x->ws + cfg->wb_dvb;
    float *dqp = x->ws + cfg->wb_dqp;
    const int32_t *len = lengths(x, cfg);
    att_params a = att_params_of(x, cfg);
    HEED_FOR_IF(b1 - b0 > 1, , for (int64_t b = b0; b < b1; b++), {
        float *ds = x->ws + cfg->wb_ds + b * Sm, *gh = dh + b * H;
        if (U)
            memset(dqp + (b * T + t) * U, 0, (size_t)U * sizeof *dqp);
        if (t >= heed_len(len, b, T))
            continue;
        const float *w = wts + (b * T + t) * Sm, *mb = mem + b * Sm * Dm;
        const float *g = dctx + (b * T + t) * Dm;
        const float *hb = hprev + (b * T + t) * H;
        float dot = 0.0f;
        /* the weights' gradient through the context */
        heed_dot_rows(Sm, Dm, 1.0f, g, mb, Dm, 0.0f, ds);
        for (int64_t j = 0; j < Sm; j++) {
            if (dw_out)
                ds[j] += dw_out[(b * T + t) * Sm + j];
            dot += w[j] * ds[j];
        }
        for (int64_t j = 0; j < Sm; j++)
            ds[j] = w[j] * (ds[j] - dot) * cfg->att_scale;
        if (cfg->att_score == ATT_ADDITIVE) {
            heed_additive_scores_backward(qp + b * U, 1, kp + b * Sm * U, Sm, a.v, U, ds,
                                          dqp + (b * T + t) * U, dkp + b * Sm * U, dvb + b * U);
            continue;
        }
        /* dot and scaled: keys are the memory; general: its projection W m */
        const float *keys = cfg->Pw ? kp + b * Sm * H : mb;
        for (int64_t j = 0; j < Sm; j++)
            for (int64_t k = 0; k < H; k++)
                gh[k] += ds[j] * keys[j * H + k];
        float *dkeys = cfg->Pw ? dkp + b * Sm * H : dmem ? dmem + b * Sm * Dm : NULL;
        for (int64_t j = 0; dkeys && j < Sm; j++)
            for (int64_t k = 0; k < H; k++)
                dkeys[j * H + k] += ds[j] * hb[k];
    });
    if (cfg->att_score == ATT_ADDITIVE)
        step_product(b1 - b0, H, U, dqp + (b0 * T + t) * U, T * U, pkq, a.wq, H, false, false,
                     NULL, dh + b0 * H, H);
}

/* After the loop: the memory's gradient through the contexts (per row, the
 * weights of all steps times their contexts' gradients: one product instead
 * of a pass over the whole memory at every step), the scoring parameters'
 * gradients and the memory's share through its projection.
 * Shape key: weights [B,T,Sm], dctx [B,T,Dm] -> dmem [B,Sm,Dm]. */
static void attention_param_grads(heed_exec *x, const rnn_cfg *cfg, const float *hprev)
{
    int64_t B = cfg->B, T = cfg->T, Sm = cfg->Sm, Dm = cfg->Dm, H = cfg->H, U = cfg->U;
    const float *mem = x->in[cfg->port_mem], *dkp = x->ws + cfg->wb_dkp;
    float *dmem = x->din[cfg->port_mem];
    att_params a = att_params_of(x, cfg);
    if (dmem)
        heed_gemm_batch(true, false, Sm, Dm, T, 1.0f, x->out[cfg->out_w], Sm, T * Sm,
                        x->ws + cfg->wb_dctx, Dm, T * Dm, 1.0f, dmem, Dm, Sm * Dm, B);
    if (cfg->att_score == ATT_ADDITIVE) {
        if (a.dwq)
            heed_gemm(true, false, U, H, B * T, 1.0f, x->ws + cfg->wb_dqp, U, hprev, H, 1.0f,
                      a.dwq, H);
        if (dmem)
            heed_gemm(false, false, B * Sm, Dm, U, 1.0f, dkp, U, a.wk, Dm, 1.0f, dmem, Dm);
        if (a.dwk)
            heed_gemm(true, false, U, Dm, B * Sm, 1.0f, dkp, U, mem, Dm, 1.0f, a.dwk, Dm);
        if (a.dbk)
            heed_sum_rows(a.dbk, dkp, B * Sm, U);
        if (a.dv)
            heed_sum_rows(a.dv, x->ws + cfg->wb_dvb, B, U);
    } else if (cfg->att_score == ATT_GENERAL) {
        if (dmem)
            heed_gemm(false, false, B * Sm, Dm, H, 1.0f, dkp, H, a.w, Dm, 1.0f, dmem, Dm);
        if (a.dw)
            heed_gemm(true, false, H, Dm, B * Sm, 1.0f, dkp, H, mem, Dm, 1.0f, a.dw, Dm);
    }
}

/* All steps of rows [b0, b1) of an attending decoder backward, from the
 * last to the first: the cells', the context's, the attention's and the
 * recurrent product's gradients. */
static void att_bwd_steps(heed_exec *x, const rnn_cfg *cfg, const att_run *r, int64_t b0,
                          int64_t b1)
{
    int64_t B = cfg->B, T = cfg->T, H = cfg->H, GH = cfg->G * H, In = cfg->In, Dm = cfg->Dm;
    int64_t Wi = In + Dm, nb = b1 - b0;
    float *dxp = x->ws + cfg->wb_dxp, *dhn = x->ws + cfg->wb_dhn;
    float *hprev = x->ws + cfg->wb_hprev, *dh = x->ws + cfg->wb_dh, *dc = x->ws + cfg->wb_dc;
    float *zero = x->ws + cfg->wb_zero, *dctx = x->ws + cfg->wb_dctx;
    const float *save = gates_of(x, cfg, 0, 0), *out = x->out[OUT_SEQ];
    const float *dout = x->dout[OUT_SEQ], *dctx_out = x->dout[cfg->out_ctx];
    const int32_t *len = lengths(x, cfg);
    for (int64_t t = T - 1; t >= 0; t--) {
        HEED_FOR_IF(nb * GH > 16384, , for (int64_t b = b0; b < b1; b++), {
            int64_t lb = heed_len(len, b, T);
            float *gx = dxp + (b * T + t) * GH, *gn = dhn + (b * T + t) * H;
            float *hp_row = hprev + (b * T + t) * H, *gc = dctx + (b * T + t) * Dm;
            memset(gc, 0, (size_t)Dm * sizeof *gc);
            if (t >= lb) {
                memset(gx, 0, (size_t)GH * sizeof *gx);
                if (cfg->cell == CELL_GRU)
                    memset(gn, 0, (size_t)H * sizeof *gn);
                memset(hp_row, 0, (size_t)H * sizeof *hp_row);
                continue;
            }
            if (dctx_out)
                memcpy(gc, dctx_out + (b * T + t) * Dm, (size_t)Dm * sizeof *gc);
            float *g = dh + b * H;
            if (dout)
                for (int64_t j = 0; j < H; j++)
                    g[j] += dout[(b * T + t) * H + j];
            copy_or_zero(hp_row, h_before(x, cfg, out, 0, 0, b, t, lb), H);
            const float *cb = cfg->cell == CELL_LSTM ? c_before(x, cfg, 0, 0, b, t, lb) : NULL;
            const float *sv = save + (t * B + b) * cfg->S;
            if (cfg->cell == CELL_GRU)
                gru_backward_row(H, sv, hp_row, g, gx, gn);
            else
                cell_backward(cfg, sv, out + (b * T + t) * H, cb ? cb : zero, g, dc + b * H, gx);
        });
        /* the context fed the cell: its gradient, then through the attention */
        step_product(nb, Dm, GH, dxp + (b0 * T + t) * GH, T * GH, r->pkc, r->p.w_ih + In, Wi,
                     false, false, NULL, dctx + (b0 * T + t) * Dm, T * Dm);
        /* dh_prev gets the direct part (row loop), the attention's and the
         * recurrent product's, accumulated in place */
        attend_step_backward(x, cfg, t, hprev, query_of(x, cfg, t), r->kp, dctx, r->pkq, dh, b0,
                             b1);
        recurrent_grad(cfg, r->p.w_hh, r->pkh, dxp, dhn, t, dh, b0, b1);
    }
}

static void att_backward(heed_exec *x, const rnn_cfg *cfg)
{
    int64_t B = cfg->B, T = cfg->T, H = cfg->H, GH = cfg->G * H, In = cfg->In, Dm = cfg->Dm;
    int64_t Wi = In + Dm;
    att_run r = {params_of(x, cfg, 0, 0), att_params_of(x, cfg), NULL, NULL, NULL, NULL};
    layer_params p = r.p;
    float *dxp = x->ws + cfg->wb_dxp, *dhn = x->ws + cfg->wb_dhn;
    float *hprev = x->ws + cfg->wb_hprev, *dh = x->ws + cfg->wb_dh, *dc = x->ws + cfg->wb_dc;
    r.kp = kept_keys(x, cfg);
    r.pkh = pack_weight(cfg, x->ws + cfg->wb_pk, p.w_hh, H, false, GH, H);
    r.pkc = pack_weight(cfg, x->ws + cfg->wb_pkc, p.w_ih + In, Wi, false, GH, Dm);
    r.pkq = pack_weight(cfg, x->ws + cfg->wb_pkq, r.a.wq, H, false, cfg->U, H);
    if (cfg->Pw)
        memset(x->ws + cfg->wb_dkp, 0, (size_t)(B * cfg->Sm * cfg->Pw) * sizeof(float));
    if (cfg->U)
        memset(x->ws + cfg->wb_dvb, 0, (size_t)(B * cfg->U) * sizeof(float));
    memset(x->ws + cfg->wb_zero, 0, (size_t)H * sizeof(float));
    final_state_grad(x, cfg, 0, 0, dh, dc);
    ROW_SHARES(cfg, r.pkh, b0, b1, att_bwd_steps(x, cfg, &r, b0, b1));
    initial_state_grad(x, cfg, 0, 0, dh, dc);
    if (p.dw_ih) {
        heed_gemm(true, false, GH, In, B * T, 1.0f, dxp, GH, x->in[0], In, 1.0f, p.dw_ih, Wi);
        heed_gemm(true, false, GH, Dm, B * T, 1.0f, dxp, GH, x->out[cfg->out_ctx], Dm, 1.0f,
                  p.dw_ih + In, Wi);
    }
    recurrent_param_grads(x, cfg, &p, dxp, dhn, hprev);
    if (x->din[0])
        heed_gemm(false, false, B * T, In, GH, 1.0f, dxp, GH, p.w_ih, Wi, 1.0f, x->din[0], In);
    attention_param_grads(x, cfg, hprev);
}

static void rnn_backward(heed_exec *x)
{
    const rnn_cfg *cfg = x->cfg;
    if (cfg->att) {
        att_backward(x, cfg);
        return;
    }
    int64_t n = cfg->B * cfg->T * cfg->D * cfg->H;
    float *dcur = x->ws + cfg->wb_dcur, *dprev = x->ws + cfg->wb_dprev;
    const float *dout = x->dout[OUT_SEQ];
    for (int64_t l = cfg->L - 1; l >= 0; l--) {
        const float *in = layer_input(x, cfg, l, x->ws + cfg->wb_drop);
        const float *out = layer_output(x, cfg, l);
        float *din = l == 0 ? x->din[0] : dprev;
        if (l > 0)
            memset(dprev, 0, (size_t)n * sizeof *dprev);
        backward_layer(x, cfg, l, in, out, dout, din);
        if (l > 0) {
            /* through the dropout between layers */
            if (x->training && cfg->dropout > 0.0f)
                heed_dropout(dprev, dprev, heed_mix64(x->seed + (uint64_t)l), cfg->dropout,
                             (size_t)n, false);
            memcpy(dcur, dprev, (size_t)n * sizeof *dcur);
            dout = dcur;
        }
    }
}

#define RNN_OP(sym, NAME, DOC, SHAPES, ATTRS, OUTS, INFER)                                       \
    const heed_op sym = {                                                                       \
        .name = NAME,                                                                           \
        .doc = DOC,                                                                             \
        .shapes = SHAPES,                                                                       \
        .attrs = ATTRS,                                                                         \
        .outputs = OUTS,                                                                        \
        .cfg_size = sizeof(rnn_cfg),                                                            \
        .flags = HEED_OP_RECURRENT,                                                             \
        .infer = INFER,                                                                         \
        .forward = rnn_forward,                                                                 \
        .backward = rnn_backward,                                                               \
    }

/* what the three share: the state's layout, and lengths */
#define RNN_DOC_COMMON                                                                           \
    " A state holds each layer's last hidden state, layer by layer and in each layer the "      \
    "forward direction first (h_n.permute(1, 0, 2) of PyTorch, flattened). Padded steps give "  \
    "zeros and the state is taken at each row's last real step. Explicit `lengths:` apply to "   \
    "this node only; its outputs carry the lengths of the pad ids its input came from, if any."
#define RNN_SHAPES "in [B,T,In] -> [B,T,D*H]; .state [B,L*D*H]"

RNN_OP(heed_op_rnn, "RNN",
       "Elman RNN, h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (nn.RNN)." RNN_DOC_COMMON,
       RNN_SHAPES, rnn_attrs, rnn_outputs, rnn_infer);
RNN_OP(heed_op_gru, "GRU",
       "Gated recurrent unit with gates r, z, n (nn.GRU); with attention, .context [B,T,Dm] "
       "and .weights [B,T,S] of every step (a row with no memory attends nothing: zero "
       "context)." RNN_DOC_COMMON,
       RNN_SHAPES, gated_attrs, gru_outputs, gru_infer);
RNN_OP(heed_op_lstm, "LSTM",
       "Long short-term memory with gates i, f, g, o (nn.LSTM); .state is [h | c], all h then "
       "all c, .h and .c each [B,L*D*H]; with attention, .context and .weights as for "
       "GRU." RNN_DOC_COMMON,
       "in [B,T,In] -> [B,T,D*H]; .state [B,2*L*D*H]; .h, .c [B,L*D*H]", gated_attrs,
       lstm_outputs, lstm_infer);
