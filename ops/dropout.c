/*
 * Dropout: in training, zeroes each element with probability p and scales the
 * rest by 1/(1-p); at inference, the identity. The mask is not stored: it is a
 * function of (seed, index), recomputed in backward, so it costs no memory and
 * does not depend on the thread count.
 *
 * Shape key: N = element count; in [..] -> out [..].
 */
#include <string.h>

#include "kernels/kernels.h"
#include "op.h"

typedef struct dropout_cfg {
    size_t n;
    float p;
} dropout_cfg;

static const heed_attr attrs[] = {
    {.name = "in", .kind = HEED_A_INPUT, .def = NULL, .doc = "any float tensor"},
    {.name = "p", .kind = HEED_A_FLOAT, .def = "0.1", .lo = 0, .hi = 0.95,
     .doc = "probability of dropping an element"},
    {0}};

static const char *const outputs[] = {"out", NULL};

static heed_status dropout_infer(heed_infer *c)
{
    dropout_cfg *cfg = heed_infer_cfg(c);
    const heed_shape *in = heed_in_shape(c, 0);
    heed_shape_numel(in, &cfg->n);
    cfg->p = (float)heed_attr_float(c, "p");
    heed_set_out(c, 0, in, HEED_F32);
    heed_set_inplace(c, 0, 0);
    heed_set_flops(c, (double)cfg->n, (double)cfg->n);
    return HEED_OK;
}

/* Shape key: x [N] -> y [N] */
static heed_status dropout_forward(heed_exec *x)
{
    const dropout_cfg *cfg = x->cfg;
    const float *in = x->in[0];
    float *out = x->out[0];
    if (!x->training || cfg->p == 0.0f) {
        if (out != in)
            memcpy(out, in, cfg->n * sizeof *out);
        return HEED_OK;
    }
    heed_dropout(out, in, x->seed, cfg->p, cfg->n, false);
    return HEED_OK;
}

static void dropout_backward(heed_exec *x)
{
    const dropout_cfg *cfg = x->cfg;
    const float *dy = x->dout[0];
    float *dx = x->din[0];
    if (!dy || !dx)
        return;
    /* p = 0 keeps every element, unscaled: the identity's gradient */
    heed_dropout(dx, dy, x->seed, x->training ? cfg->p : 0.0f, cfg->n, true);
}

const heed_op heed_op_dropout = {
    .name = "Dropout",
    .doc = "Randomly zeroes elements in training and scales the rest by 1/(1-p), so the "
           "expectation is kept (seeded, reproducible); identity otherwise.",
    .shapes = "in [..] -> [..]",
    .attrs = attrs,
    .outputs = outputs,
    .cfg_size = sizeof(dropout_cfg),
    .flags = HEED_OP_STOCHASTIC,
    .infer = dropout_infer,
    .forward = dropout_forward,
    .backward = dropout_backward,
};
