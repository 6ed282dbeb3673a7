/*
 * plan.h - a model bound to dims: every shape known, every parameter declared,
 * a forward (and in training a backward) schedule, and one arena in which every
 * activation, gradient, saved buffer and workspace has a planned offset.
 *
 * Built in passes: shape.c (bind dims, run each op's infer), autodiff.c (which
 * values need gradients, the backward schedule), memplan.c (lifetimes and
 * offsets). A plan is immutable once built; sessions execute it.
 */
#ifndef HEED_PLAN_H
#define HEED_PLAN_H

#include "model.h"

typedef enum hp_buf_kind { HP_BUF_VALUE, HP_BUF_GRAD, HP_BUF_SAVED, HP_BUF_WORK } hp_buf_kind;

typedef struct hp_buf {
    size_t bytes;
    int first, last; /* steps during which the buffer is live (inclusive) */
    size_t offset;   /* in the arena */
    hp_buf_kind kind;
    int owner;       /* value or node index */
} hp_buf;

typedef struct hp_param {
    char *name; /* node name + "." + local name, PyTorch style */
    heed_shape shape;
    size_t numel;
    size_t offset; /* in floats, in the weights' parameter buffer */
    heed_init init;
    int node;
} hp_param;

typedef struct hp_value {
    heed_shape shape;
    heed_dtype dtype;
    size_t numel;
    bool defined;    /* the producing op declared this output */
    bool needs_grad; /* depends on a parameter (or on an input under gradcheck) */
    int len_src;     /* model input whose padding gives lengths, or -1 */
    int buf;         /* data buffer */
    int grad;        /* gradient buffer, or -1 */
    int first, last; /* lifetime of the data */
    bool kept;       /* readable after the plan's last step: never overwritten in place */
    bool clobbered;  /* an op's output overwrote it in place: not readable after its step */
} hp_value;

typedef struct hp_node {
    void *cfg;
    heed_shape in_shape[HEED_MAX_INPUTS];
    heed_shape out_shape[HEED_MAX_OUTPUTS];
    int param[HEED_MAX_PARAMS];
    int n_params;
    int saved[HEED_MAX_SAVED]; /* buffers */
    size_t saved_floats[HEED_MAX_SAVED];
    int n_saved;
    size_t ws_floats[2]; /* forward, backward */
    int ws[2];           /* buffers, -1 when none */
    uint32_t bwd_in, bwd_out;
    int inplace[HEED_MAX_OUTPUTS]; /* input index an output may overwrite, or -1 */
    int64_t ids_limit[HEED_MAX_INPUTS]; /* token ids must be below this (0: no check) */
    bool ids_lengths[HEED_MAX_INPUTS];  /* the limited input holds lengths, not token ids */
    bool ids_steps[HEED_MAX_INPUTS];    /* ... of the node's own steps (one when stepping) */
    double flops, flops_bwd;
    size_t carry_floats;          /* step mode's state: carry_rows rows of each block */
    size_t carry_row[4];          /* floats per row of each carried block (HEED_MAX_CARRY) */
    int n_carry;
    int64_t carry_rows;
    bool inferred; /* shape inference succeeded */
    bool has_bwd;
    bool reaches_loss;
    bool step;  /* in a step plan: depends on the fed-back input */
    int fwd_step, bwd_step;
} hp_node;

typedef struct hp_step {
    int node;
    bool bwd;
    int zero_first, zero_count; /* gradient buffers to zero before the step */
} hp_step;

typedef struct hp_options {
    heed_mode mode;
    bool input_grads; /* float inputs get gradients too (gradient checks) */
    bool keep_all;    /* every value stays readable after forward (heed run, tests) */
    int step_input;   /* model input fed back in step mode, or -1 */
    bool naive;       /* one buffer per tensor (for comparison) */
} hp_options;

struct heed_plan {
    const heed_model *m;
    hp_options opt;
    void *pool;
    int64_t *dimval; /* per symbol */
    hp_node *nodes;  /* parallel to the model's nodes */
    hp_value *values;
    hp_param *params;
    int n_params;
    int params_cap; /* entries params has room for; it grows as nodes add theirs */
    size_t param_floats;
    hp_buf *bufs;
    int n_bufs;
    size_t cap_bufs;
    hp_step *steps;
    int n_steps, n_fwd_steps;
    int *zero;
    int n_zero;
    size_t arena, naive, lower_bound;
};

/* Builds a plan. `dims` holds a value per model symbol (-1: unbound, an error
 * if the symbol is needed). All shape errors are reported. */
heed_status hp_build(const heed_model *m, const int64_t *dims, const hp_options *opt,
                     heed_plan **out, heed_diag *diag);

/* Refuses a plan whose parameter sizes follow a run-time dim (a weight
 * sized by an input's run-time last axis): built again with each run-time
 * dim one larger, the parameters must stay as they are. */
heed_status hp_check_param_sizes(const heed_plan *p, heed_diag *diag);

/* Passes (called by hp_build in this order). */
heed_status hp_infer_shapes(heed_plan *p, heed_diag *diag);
heed_status hp_autodiff(heed_plan *p, heed_diag *diag);
heed_status hp_plan_memory(heed_plan *p, heed_diag *diag);

/* Adds a buffer; returns its index or -1 (out of memory). */
int hp_add_buf(heed_plan *p, hp_buf_kind kind, size_t bytes, int owner);

/* Dim values for a model: its defaults, then `dims` by name; tool defaults
 * (16 for run-time dims, 32 for vocabularies) fill the rest when
 * `tool_defaults`. *out: an array of n_syms values (NULL on failure). */
heed_status hp_bind_dims(const heed_model *m, const heed_dim *dims, size_t n_dims,
                         bool tool_defaults, int64_t **out, heed_diag *diag);

/* Formats a shape with symbol names. */
const char *hp_shape_text(const heed_model *m, const heed_shape *s, char *buf, size_t cap);

/* ------------------------------------------------------------ memory planner */

typedef struct heed_mp_item {
    size_t bytes;
    int first, last;
    size_t offset;
} heed_mp_item;

/* Assigns offsets greedily by size (largest first, best-fitting gap among the
 * items whose lifetimes overlap). Returns the arena size, or SIZE_MAX when
 * out of memory. `naive` gives every item its own range instead. */
size_t heed_mp_assign(const heed_env *env, heed_mp_item *items, size_t n, bool naive);
/* The largest total of sizes live at one step; SIZE_MAX when out of memory. */
size_t heed_mp_lower_bound(const heed_env *env, const heed_mp_item *items, size_t n);
/* True when no two items with overlapping lifetimes share a byte and all fit. */
bool heed_mp_verify(const heed_mp_item *items, size_t n, size_t arena);

#endif /* HEED_PLAN_H */
