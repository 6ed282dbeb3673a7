/*
 * MSE: the mean squared difference between a tensor and a float target of the
 * same shape. A loss for regression, and the loss the per-op gradient checks
 * put after the op under test.
 *
 * Shape key: N = element count; in [..], target [..] -> [1].
 */
#include "kernels/kernels.h"
#include "op.h"

typedef struct mse_cfg {
    size_t n;
} mse_cfg;

static const heed_attr attrs[] = {
    {.name = "in", .kind = HEED_A_INPUT, .def = NULL, .doc = "predictions [..]"},
    {.name = "target", .kind = HEED_A_INPUT, .def = NULL, .doc = "float targets, same shape"},
    {0}};

static const char *const outputs[] = {"out", NULL};

static heed_status mse_infer(heed_infer *c)
{
    mse_cfg *cfg = heed_infer_cfg(c);
    const heed_shape *a = heed_in_shape(c, 0), *b = heed_in_shape(c, 1);
    char x[160], y[160];
    if (!heed_shape_eq(a, b))
        return heed_infer_fail(c, "in has shape %s but target has %s",
                               heed_shape_text(c, a, x, sizeof x), heed_shape_text(c, b, y, sizeof y));
    if (heed_in_dtype(c, 1) != HEED_F32)
        return heed_infer_fail(c, "target must hold floats");
    heed_shape_numel(a, &cfg->n);
    heed_shape out = heed_shape_make(1, (heed_dimv[]){heed_lit(1)});
    heed_set_out(c, 0, &out, HEED_F32);
    heed_set_backward_needs(c, 3u, 0);
    heed_set_flops(c, 3.0 * (double)cfg->n, 3.0 * (double)cfg->n);
    return HEED_OK;
}

/* Shape key: x [N], t [N] -> loss [1] = mean (x - t)^2 */
static heed_status mse_forward(heed_exec *x)
{
    const mse_cfg *cfg = x->cfg;
    const float *a = x->in[0], *t = x->in[1];
    double sum = 0.0;
    HEED_FOR_IF(cfg->n > 32768, reduction(+ : sum), for (size_t i = 0; i < cfg->n; i++), {
        double d = (double)a[i] - t[i];
        sum += d * d;
    });
    x->out[0][0] = (float)(sum / (double)cfg->n);
    return HEED_OK;
}

static void mse_backward(heed_exec *x)
{
    const mse_cfg *cfg = x->cfg;
    const float *a = x->in[0], *t = x->in[1];
    float g = 2.0f * (x->dout[0] ? x->dout[0][0] : 1.0f) / (float)cfg->n;
    HEED_FOR_IF(cfg->n > 32768, , for (size_t i = 0; i < cfg->n; i++), {
        float d = g * (a[i] - t[i]);
        if (x->din[0])
            x->din[0][i] += d;
        if (x->din[1])
            x->din[1][i] -= d;
    });
}

const heed_op heed_op_mse = {
    .name = "MSE",
    .doc = "Mean squared error against a float target (a loss), over every element: padded "
           "positions count too.",
    .shapes = "in [..], target [..] -> [1]",
    .attrs = attrs,
    .outputs = outputs,
    .cfg_size = sizeof(mse_cfg),
    .flags = HEED_OP_LOSS,
    .infer = mse_infer,
    .forward = mse_forward,
    .backward = mse_backward,
};
