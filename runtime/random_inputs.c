/*
 * random_inputs.c - random values for every model input: floats uniform in
 * [-1, 1), token ids within the range their readers accept, optionally with
 * ragged lengths. Used by gradient checks and benchmarks.
 */
#include <string.h>

#include "../ops/kernels/kernels.h"
#include "runtime.h"

/* The largest id each id input may hold: the smallest limit its readers set. */
static heed_status id_limits(const heed_model *m, const int64_t *dimval, int64_t *limit,
                             heed_diag *diag)
{
    hp_options opt = {.mode = HEED_MODE_INFER, .step_input = -1};
    heed_plan *p;
    heed_status st = hp_build(m, dimval, &opt, &p, diag);
    if (st != HEED_OK)
        return st;
    for (int i = 0; i < m->n_inputs; i++)
        limit[i] = 0;
    for (int n = 0; n < m->n_nodes; n++)
        for (int k = 0; k < m->nodes[n].n_in; k++) {
            const hm_value *v = &m->values[m->nodes[n].in[k]];
            int64_t l = p->nodes[n].ids_limit[k];
            if (v->node < 0 && l > 0 && (limit[v->port] == 0 || l < limit[v->port]))
                limit[v->port] = l;
        }
    heed_plan_free(p);
    return HEED_OK;
}

static void fill_ids(int32_t *ids, int rank, const int64_t *shape, size_t n, int64_t limit,
                     uint64_t r, bool ragged)
{
    /* the reserved ids (pad, unk, bos, eos) are avoided when the range allows;
     * a range of one id holds only the pad id */
    int64_t lim = limit > 0 ? limit : 5, lo = lim > 5 ? 4 : 1;
    if (lim <= 1) {
        memset(ids, 0, n * sizeof *ids);
        return;
    }
    int64_t rows = rank >= 2 ? shape[0] : 1, cols = (int64_t)n / rows;
    for (int64_t b = 0; b < rows; b++) {
        /* row 0 full length; the others end at a random length (padding) */
        int64_t len = cols;
        if (ragged && rank == 2 && b > 0)
            len = 1 + (int64_t)(heed_uniform(r ^ 0x51, (uint64_t)b) * (float)cols);
        if (len > cols)
            len = cols;
        for (int64_t c = 0; c < cols; c++) {
            float u = heed_uniform(r, (uint64_t)(b * cols + c));
            ids[b * cols + c] =
                c < len ? (int32_t)(lo + (int64_t)(u * (float)(lim - lo)) % (lim - lo))
                        : HEED_PAD_ID;
        }
    }
}

heed_status hs_random_inputs(heed_session *s, const int64_t *dimval, uint64_t seed, bool ragged,
                             heed_diag *diag)
{
    const heed_model *m = s->m;
    int64_t limit[64];
    if (m->n_inputs > 64)
        return heed_fail(diag, HEED_ERR_LIMIT, "too many inputs to fill at random");
    heed_status st = id_limits(m, dimval, limit, diag);
    for (int i = 0; i < m->n_inputs && st == HEED_OK; i++) {
        const hm_input *in = &m->inputs[i];
        /* a stream per input, so no two inputs hold the same values */
        uint64_t r = heed_mix64(seed * 1000003u + 7 + (uint64_t)i);
        heed_tensor t = {in->name, in->dtype, in->rank, {0}, NULL};
        size_t n = 1;
        for (int d = 0; d < in->rank; d++) {
            t.shape[d] = in->sym[d] >= 0 ? dimval[in->sym[d]] : in->lit[d];
            n *= (size_t)t.shape[d];
        }
        void *data = heed_zalloc(s->env, n, 4);
        if (!data)
            return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
        if (in->dtype == HEED_F32) {
            float *f = data;
            for (size_t k = 0; k < n; k++)
                f[k] = 2.0f * heed_uniform(r, k) - 1.0f;
        } else {
            fill_ids(data, in->rank, t.shape, n, limit[i], r, ragged);
        }
        t.data = data;
        st = heed_session_set_input(s, in->name, &t, diag);
        heed_dealloc(s->env, data);
    }
    return st;
}

heed_status heed_session_random_inputs(heed_session *s, const heed_dim *dims, size_t n_dims,
                                       uint64_t seed, int ragged, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!s)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_session_random_inputs: session is NULL");
    if (!dims && n_dims)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_session_random_inputs: dims is NULL");
    int64_t *v;
    heed_status bound = hp_bind_dims(s->m, dims, n_dims, true, &v, diag);
    if (bound != HEED_OK)
        return bound;
    /* the weights' vocabulary sizes win over tool defaults */
    for (int k = 0; k < s->m->n_syms; k++)
        if (s->m->syms[k].kind != HM_SYM_RUNTIME) {
            bool given = false;
            for (size_t i = 0; i < n_dims; i++)
                given |= dims[i].name && !strcmp(dims[i].name, s->m->syms[k].name);
            if (!given)
                v[k] = s->w->dimval[k];
        }
    heed_status st = hs_random_inputs(s, v, seed, ragged != 0, diag);
    heed_dealloc(&s->m->env, v);
    return st;
}
