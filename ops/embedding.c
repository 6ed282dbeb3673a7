/*
 * Embedding: token ids to vectors, nn.Embedding layout (weight [vocab, dim]).
 * The pad id (0) maps to a zero vector and its row gets no gradient, like
 * PyTorch's padding_idx=0.
 *
 * Shape key: N = number of ids (any leading shape), D = dim, V = vocab.
 */
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/steal.h"
#include "op.h"

enum { FWD_ROWS = 64 }; /* rows per block of the forward pass */

typedef struct embedding_cfg {
    int64_t vocab, dim;
} embedding_cfg;

static const heed_attr attrs[] = {
    {.name = "in", .kind = HEED_A_INPUT, .def = NULL, .ids = true, .doc = "token ids [..]"},
    {.name = "vocab", .kind = HEED_A_DIM, .def = NULL, .doc = "number of token ids"},
    {.name = "dim", .kind = HEED_A_DIM, .def = NULL, .doc = "vector size"},
    {0}};

static const char *const outputs[] = {"out", NULL};

static heed_status embedding_infer(heed_infer *c)
{
    embedding_cfg *cfg = heed_infer_cfg(c);
    heed_dimv vocab = heed_attr_dim(c, "vocab"), dim = heed_attr_dim(c, "dim");
    const heed_shape *in = heed_in_shape(c, heed_port(c, "in"));
    if (in->rank >= HEED_MAX_RANK)
        return heed_infer_fail(c, "ids of rank %d leave no room for the vector axis", in->rank);
    heed_shape out = *in;
    out.d[out.rank++] = dim;
    heed_set_out(c, 0, &out, HEED_F32);
    heed_shape w = heed_shape2(vocab, dim);
    heed_add_param(c, "weight", &w, (heed_init){HEED_INIT_NORMAL, 1.0f});
    heed_set_backward_needs(c, 1u, 0);
    heed_set_ids_limit(c, 0, vocab.v);
    cfg->vocab = vocab.v;
    cfg->dim = dim.v;
    double n = (double)heed_shape_rows(&out);
    heed_set_flops(c, n * (double)dim.v, n * (double)dim.v);
    return HEED_OK;
}

/* Shape key: ids [N] -> out [N, D] */
/* out's rows [i0, i1): each id's row of w, or zeros for id 0 (padding). */
static void copy_rows(float *out, const int32_t *ids, const float *w, int64_t d, int64_t i0,
                      int64_t i1)
{
    for (int64_t i = i0; i < i1; i++) {
        if (ids[i] == 0)
            memset(out + i * d, 0, (size_t)d * sizeof *out);
        else
            memcpy(out + i * d, w + (int64_t)ids[i] * d, (size_t)d * sizeof *out);
    }
}

static heed_status embedding_forward(heed_exec *x)
{
    const embedding_cfg *cfg = x->cfg;
    const int32_t *ids = x->in[0];
    const float *w = x->param[0];
    float *out = x->out[0];
    int64_t n = heed_shape_rows(&x->out_shape[0]), d = cfg->dim;
    if (n * d <= 32768 || omp_in_parallel()) {
        copy_rows(out, ids, w, d, 0, n);
        return HEED_OK;
    }
    /* blocks of FWD_ROWS rows with stealing at the end (steal.h): split in
     * halves, the encoder's embedding took longer on 2 threads than on 1
     * (0.19 against 0.11 ms), one half written much slower than the other */
    int64_t blocks = (n + FWD_ROWS - 1) / FWD_ROWS;
    heed_steal steal;
    heed_steal_init(&steal, blocks, omp_get_max_threads());
#pragma omp parallel
    for (int64_t k; (k = heed_steal_next(&steal, omp_get_thread_num())) >= 0;)
        copy_rows(out, ids, w, d, k * FWD_ROWS, (k + 1) * FWD_ROWS < n ? (k + 1) * FWD_ROWS : n);
    return HEED_OK;
}

static void embedding_backward(heed_exec *x)
{
    const embedding_cfg *cfg = x->cfg;
    const int32_t *ids = x->in[0];
    const float *dout = x->dout[0];
    float *dw = x->dparam[0];
    int64_t n = heed_shape_rows(&x->out_shape[0]), d = cfg->dim;
    if (!dout || !dw)
        return;
    /* serial over ids: two positions may share a row */
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] == 0)
            continue;
        float *row = dw + (int64_t)ids[i] * d;
        const float *g = dout + i * d;
        for (int64_t j = 0; j < d; j++)
            row[j] += g[j];
    }
}

const heed_op heed_op_embedding = {
    .name = "Embedding",
    .doc = "Token ids to learned vectors (nn.Embedding); the pad id 0 gives zeros.",
    .shapes = "in [..] ids -> [.., dim]; weight [vocab, dim]",
    .attrs = attrs,
    .outputs = outputs,
    .cfg_size = sizeof(embedding_cfg),
    .infer = embedding_infer,
    .forward = embedding_forward,
    .backward = embedding_backward,
};
