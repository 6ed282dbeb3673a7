/*
 * PositionalEncoding: adds a position signal to each step of a sequence:
 * sinusoidal (Vaswani et al.: sin and cos of position / 10000^(2i/E)) or
 * learned (a [max_len, E] table, "weight"). With scale, the input is first
 * multiplied by sqrt(E), as Transformers do to embeddings. In step mode the
 * position is the step's index.
 *
 * Shape key: B = batch, T = steps, E = width; in [B,T,E] -> out [B,T,E].
 */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "op.h"

typedef struct posenc_cfg {
    int64_t B, T, E, max_len;
    bool learned;
    float scale;
} posenc_cfg;

static const heed_attr attrs[] = {
    {.name = "in", .kind = HEED_A_INPUT, .def = NULL, .doc = "sequence [B, T, E]"},
    {.name = "kind", .kind = HEED_A_CHOICE, .def = "sinusoidal", .choices = "sinusoidal,learned",
     .doc = "fixed sinusoids or a learned table"},
    {.name = "max_len", .kind = HEED_A_INT, .def = "512", .lo = 1, .hi = 1 << 20,
     .doc = "learned: positions in the table"},
    {.name = "scale", .kind = HEED_A_BOOL, .def = "false",
     .doc = "multiply the input by sqrt(E) first"},
    {0}};

static const char *const outputs[] = {"out", NULL};

static heed_status posenc_infer(heed_infer *c)
{
    posenc_cfg *cfg = heed_infer_cfg(c);
    const heed_shape *in = heed_in_shape(c, 0);
    char a[160];
    if (in->rank != 3)
        return heed_infer_fail(c, "in must be a sequence [B,T,E], not %s",
                               heed_shape_text(c, in, a, sizeof a));
    cfg->B = in->d[0].v;
    cfg->T = in->d[1].v;
    cfg->E = in->d[2].v;
    cfg->learned = heed_attr_choice(c, "kind") == 1;
    cfg->max_len = heed_attr_int(c, "max_len");
    cfg->scale = heed_attr_bool(c, "scale") ? sqrtf((float)cfg->E) : 1.0f;
    /* a fixed length is checked now; a run-time one (S) only by forward,
     * against the lengths a batch brings: the placeholder that tools bind
     * when compiling without data (16) says nothing about them */
    if (cfg->learned && in->d[1].sym < 0 && cfg->T > cfg->max_len)
        return heed_infer_fail(c, "the sequence has %lld steps but the learned table holds "
                                  "max_len = %lld",
                               (long long)cfg->T, (long long)cfg->max_len);
    heed_set_out(c, 0, in, HEED_F32);
    heed_set_inplace(c, 0, 0);
    if (cfg->learned) {
        heed_shape w = heed_shape2(heed_lit(cfg->max_len), in->d[2]);
        heed_add_param(c, "weight", &w, (heed_init){HEED_INIT_NORMAL, 0.02f});
    } else {
        /* the [T,E] table of this call: computed once, added to every row */
        heed_set_workspace(c, (size_t)(cfg->T * cfg->E), 0);
    }
    double n = (double)(cfg->B * cfg->T * cfg->E);
    heed_set_flops(c, 2.0 * n, n);
    return HEED_OK;
}

/* The sinusoids of positions offset .. offset+T-1, one row each: column j
 * is sin (even j) or cos (odd j) of position * 10000^(-(j - j%2)/E). One
 * pow, sin and cos per column pair and block of 64 rows; the rows between
 * step by the angle-addition formulas in double, whose drift over 64 steps
 * (about 1e-14) is far below a float's rounding: the floats are those of
 * sin and cos at every entry (all 2.4M entries of widths 16 to 1024 at
 * three offsets matched), which were most of the op's time. */
static void sinusoid_table(float *pe, int64_t offset, int64_t T, int64_t E)
{
    enum { STEPS = 64 }; /* rows per exact restart */
    int64_t pairs = (E + 1) / 2, blocks = (T + STEPS - 1) / STEPS;
    HEED_FOR_IF(T * E > 4096, , for (int64_t q = 0; q < pairs * blocks; q++), {
        int64_t j = 2 * (q % pairs), t0 = q / pairs * STEPS;
        int64_t t1 = t0 + STEPS < T ? t0 + STEPS : T;
        double rate = pow(10000.0, -(double)j / (double)E);
        double s = sin((double)(offset + t0) * rate), c = cos((double)(offset + t0) * rate);
        double ds = sin(rate), dc = cos(rate);
        for (int64_t t = t0; t < t1; t++) {
            pe[t * E + j] = (float)s;
            if (j + 1 < E)
                pe[t * E + j + 1] = (float)c;
            double sn = s * dc + c * ds;
            c = c * dc - s * ds;
            s = sn;
        }
    });
}

/* Shape key: x [B,T,E] -> y [B,T,E] = scale * x + PE[offset + t] */
static heed_status posenc_forward(heed_exec *x)
{
    const posenc_cfg *cfg = x->cfg;
    const float *in = x->in[0];
    float *out = x->out[0];
    int64_t T = cfg->T, E = cfg->E, offset = x->step > 0 ? x->step : 0;
    if (cfg->learned && offset + T > cfg->max_len)
        return heed_exec_fail(x, HEED_ERR_LIMIT,
                              "position %lld is past the learned table's max_len = %lld (the "
                              "sequence has %lld steps from position %lld)",
                              (long long)(offset + T - 1), (long long)cfg->max_len, (long long)T,
                              (long long)offset);
    const float *pe = cfg->learned ? x->param[0] + offset * E : x->ws;
    if (!cfg->learned)
        sinusoid_table(x->ws, offset, T, E);
    HEED_FOR_IF(cfg->B * T * E > 32768, , for (int64_t bt = 0; bt < cfg->B * T; bt++), {
        const float *row = in + bt * E, *p = pe + (bt % T) * E;
        float *o = out + bt * E;
        for (int64_t j = 0; j < E; j++)
            o[j] = cfg->scale * row[j] + p[j];
    });
    return HEED_OK;
}

static void posenc_backward(heed_exec *x)
{
    const posenc_cfg *cfg = x->cfg;
    const float *dy = x->dout[0];
    int64_t T = cfg->T, E = cfg->E, n = cfg->B * T * E;
    if (!dy)
        return;
    if (x->din[0]) {
        float *dx = x->din[0];
        HEED_FOR_IF(n > 32768, , for (int64_t i = 0; i < n; i++),
            dx[i] += cfg->scale * dy[i];);
    }
    if (cfg->learned && x->dparam && x->dparam[0]) {
        float *dw = x->dparam[0];
        for (int64_t b = 0; b < cfg->B; b++)
            for (int64_t t = 0; t < T; t++)
                for (int64_t j = 0; j < E; j++)
                    dw[t * E + j] += dy[(b * T + t) * E + j];
    }
}

const heed_op heed_op_posenc = {
    .name = "PositionalEncoding",
    .doc = "Adds sinusoidal or learned position encodings to a sequence. Sinusoids are "
           "interleaved: pe[t, 2i] = sin(t / 10000^(2i/E)), pe[t, 2i+1] = cos(t / "
           "10000^(2i/E)); padded steps get them too. A learned table's max_len bounds the "
           "padded length T.",
    .shapes = "in [B,T,E] -> [B,T,E]; learned: weight [max_len, E]",
    .attrs = attrs,
    .outputs = outputs,
    .cfg_size = sizeof(posenc_cfg),
    .infer = posenc_infer,
    .forward = posenc_forward,
    .backward = posenc_backward,
};
