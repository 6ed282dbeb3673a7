/*
 * Softmax over the last axis.
 *
 * Shape key: R = rows (product of leading dims), N = last dim.
 */
#include <string.h>

#include "kernels/kernels.h"
#include "op.h"

typedef struct softmax_cfg {
    int64_t rows, n;
} softmax_cfg;

static const heed_attr attrs[] = {
    {.name = "in", .kind = HEED_A_INPUT, .def = NULL, .doc = "scores [.., N]"},
    {0}};

static const char *const outputs[] = {"out", NULL};

static heed_status softmax_infer(heed_infer *c)
{
    softmax_cfg *cfg = heed_infer_cfg(c);
    const heed_shape *in = heed_in_shape(c, 0);
    cfg->rows = heed_shape_rows(in);
    cfg->n = heed_shape_last(in);
    heed_set_out(c, 0, in, HEED_F32);
    heed_set_inplace(c, 0, 0);
    heed_set_backward_needs(c, 0, 1u);
    heed_set_flops(c, 5.0 * (double)(cfg->rows * cfg->n), 4.0 * (double)(cfg->rows * cfg->n));
    return HEED_OK;
}

/* Shape key: x [R, N] -> y [R, N], rows summing to 1 */
static heed_status softmax_forward(heed_exec *x)
{
    const softmax_cfg *cfg = x->cfg;
    float *y = x->out[0];
    if ((const void *)y != x->in[0])
        memcpy(y, x->in[0], (size_t)(cfg->rows * cfg->n) * sizeof *y);
    HEED_FOR_IF(cfg->rows * cfg->n > 32768, , for (int64_t r = 0; r < cfg->rows; r++),
        heed_softmax_row(y + r * cfg->n, cfg->n, cfg->n););
    return HEED_OK;
}

static void softmax_backward(heed_exec *x)
{
    const softmax_cfg *cfg = x->cfg;
    const float *y = x->out[0], *dy = x->dout[0];
    float *dx = x->din[0];
    if (!dy || !dx)
        return;
    HEED_FOR_IF(cfg->rows * cfg->n > 32768, , for (int64_t r = 0; r < cfg->rows; r++),
        heed_softmax_row_backward(dx + r * cfg->n, y + r * cfg->n, dy + r * cfg->n, cfg->n););
}

const heed_op heed_op_softmax = {
    .name = "Softmax",
    .doc = "Softmax over the last axis.",
    .shapes = "in [.., N] -> [.., N]",
    .attrs = attrs,
    .outputs = outputs,
    .cfg_size = sizeof(softmax_cfg),
    .infer = softmax_infer,
    .forward = softmax_forward,
    .backward = softmax_backward,
};
