/*
 * op.h - the op descriptor. Everything heed knows about an op lives in the op's
 * own file as one `heed_op`: its attribute schema, outputs, shape inference
 * (which also declares parameters, saved buffers, workspace and what backward
 * reads), forward and backward. The list of ops is ops.def.
 *
 * Conventions for kernels: forward writes its outputs; backward ACCUMULATES
 * (+=) into input and parameter gradients, which the executor zeroes first.
 * A NULL din[i] means nobody wants that gradient; a NULL dout[j] means no
 * gradient arrives at output j (treat as zero).
 */
#ifndef HEED_OP_H
#define HEED_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../runtime/base.h"

#define HEED_MAX_INPUTS 16
#define HEED_MAX_OUTPUTS 6
/* per node: an RNN of 8 bidirectional layers has 64, its attention 4 more */
#define HEED_MAX_PARAMS 72
#define HEED_MAX_SAVED 8

/* ------------------------------------------------------------ shapes */

/* A dim: its value and, when it is a run-time or vocabulary dim used as is,
 * the symbol it stands for (-1 for plain numbers). Two dims are equal when
 * both agree, so [B,S] and [B,T] differ even if S and T happen to be equal. */
typedef struct heed_dimv {
    int64_t v;
    int sym;
} heed_dimv;

typedef struct heed_shape {
    int rank;
    heed_dimv d[HEED_MAX_RANK];
} heed_shape;

static inline heed_dimv heed_lit(int64_t v)
{
    heed_dimv d = {v, -1};
    return d;
}
static inline bool heed_dim_eq(heed_dimv a, heed_dimv b) { return a.v == b.v && a.sym == b.sym; }
bool heed_shape_eq(const heed_shape *a, const heed_shape *b);
/* Element count, or false when it overflows (or exceeds the tensor limit). */
bool heed_shape_numel(const heed_shape *s, size_t *out);
heed_shape heed_shape_make(int rank, const heed_dimv *d);
heed_shape heed_shape2(heed_dimv a, heed_dimv b);
heed_shape heed_shape3(heed_dimv a, heed_dimv b, heed_dimv c);
heed_shape heed_shape4(heed_dimv a, heed_dimv b, heed_dimv c, heed_dimv d);
/* Product of the dims before the last one (rows of a row-major matrix view). */
int64_t heed_shape_rows(const heed_shape *s);
static inline int64_t heed_shape_last(const heed_shape *s) { return s->d[s->rank - 1].v; }

/* ------------------------------------------------------------ schema */

typedef enum heed_attr_kind {
    HEED_A_INT,    /* integer, range-checked */
    HEED_A_FLOAT,  /* finite number, range-checked */
    HEED_A_BOOL,
    HEED_A_DIM,    /* positive integer or a dim name or product (2*H) */
    HEED_A_CHOICE, /* one of `choices` (comma-separated) */
    HEED_A_INPUT,  /* one value reference */
    HEED_A_INPUTS, /* a value reference or a list of them */
    HEED_A_MAP,    /* a nested mapping with its own schema `fields` */
    HEED_A_STRING, /* free text (sections other than ops) */
    HEED_A_LIST    /* a YAML list (sections other than ops) */
} heed_attr_kind;

typedef struct heed_attr {
    const char *name;
    heed_attr_kind kind;
    const char *def;     /* default as text; NULL: required; "" (inputs): optional */
    double lo, hi;       /* inclusive range for INT, FLOAT, DIM (when lo < hi) */
    const char *choices; /* CHOICE: "tanh,relu" */
    const char *doc;
    const struct heed_attr *fields; /* MAP: nested schema, {NULL}-terminated */
    bool ids;            /* INPUT(S): expects token ids (int32) */
} heed_attr;

/* ------------------------------------------------------------ inference */

typedef struct heed_infer heed_infer; /* defined by the compiler */

typedef enum heed_init_kind {
    HEED_INIT_ZEROS,
    HEED_INIT_ONES,
    HEED_INIT_UNIFORM, /* U(-a, a) */
    HEED_INIT_NORMAL,  /* N(0, a^2) */
    HEED_INIT_XAVIER,  /* Glorot uniform from fan-in and fan-out */
    HEED_INIT_KAIMING  /* Kaiming uniform for ReLU: U(-sqrt(6/fan_in), ...) */
} heed_init_kind;

typedef struct heed_init {
    heed_init_kind kind;
    float a;
} heed_init;

/* Flat input index of a port's first value, -1 when the port is empty. */
int heed_port(const heed_infer *c, const char *port);
/* Number of values bound to a port. */
int heed_port_count(const heed_infer *c, const char *port);
int heed_in_count(const heed_infer *c);
const heed_shape *heed_in_shape(const heed_infer *c, int i);
heed_dtype heed_in_dtype(const heed_infer *c, int i);
/* Whether input i carries sequence lengths (from padded token ids). */
bool heed_in_has_lengths(const heed_infer *c, int i);

/* Attribute values (defaults applied). `name` may be "attention.units" for a
 * field of a MAP attribute. */
int64_t heed_attr_int(heed_infer *c, const char *name);
double heed_attr_float(heed_infer *c, const char *name);
bool heed_attr_bool(heed_infer *c, const char *name);
int heed_attr_choice(heed_infer *c, const char *name);
heed_dimv heed_attr_dim(heed_infer *c, const char *name);
bool heed_attr_given(heed_infer *c, const char *name);

void *heed_infer_cfg(heed_infer *c);
/* Whether the plan runs backward (training or gradient checks). */
bool heed_infer_training(const heed_infer *c);

/* Declarations. Output ports are indices into the op's `outputs`. */
void heed_set_out(heed_infer *c, int port, const heed_shape *s, heed_dtype dtype);
/* Output `port` inherits the sequence lengths of input `in` (default: the
 * first input whose [B,T] dims match). */
void heed_set_out_lengths(heed_infer *c, int port, int in);
int heed_add_param(heed_infer *c, const char *name, const heed_shape *s, heed_init init);
/* A buffer kept from forward to backward (only alive in forward when inferring). */
int heed_add_saved(heed_infer *c, size_t floats);
/* Scratch memory for one forward or backward call. */
void heed_set_workspace(heed_infer *c, size_t forward_floats, size_t backward_floats);
/* What backward reads: bit i of `inputs` for input i, bit j of `outputs` for output j. */
void heed_set_backward_needs(heed_infer *c, uint32_t inputs, uint32_t outputs);
/* Output `port` may share the memory of input `in` when that input dies here. */
void heed_set_inplace(heed_infer *c, int port, int in);
void heed_set_flops(heed_infer *c, double forward, double backward);
/* State carried between calls in step mode (decoding with T=1): up to
 * HEED_MAX_CARRY blocks, block i holding `rows` rows of row_floats[i] floats
 * one after the other. Beam search reorders the rows of every block. */
#define HEED_MAX_CARRY 4
void heed_set_carry(heed_infer *c, int64_t rows, const size_t *row_floats, int n);
/* Input `in` holds token ids that must lie in [0, limit): the executor checks
 * them before the node runs, naming the input and the position. */
void heed_set_ids_limit(heed_infer *c, int in, int64_t limit);
/* Input `in` (a [B] ids input) holds sequence lengths that must lie in
 * [0, max]: checked the same way, the message speaking of lengths.
 * `own_steps`: the lengths of the node's own input, whose steps come one at
 * a time in step mode, where the check is left to the node. */
void heed_set_lengths_limit(heed_infer *c, int in, int64_t max, bool own_steps);
/* Reports a shape or attribute error for this node; returns HEED_ERR_SHAPE. */
heed_status heed_infer_fail(heed_infer *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Formats a shape with dim names, e.g. "[B,S,256]". */
const char *heed_shape_text(const heed_infer *c, const heed_shape *s, char *buf, size_t cap);

/* ------------------------------------------------------------ execution */

typedef struct heed_exec {
    const void *cfg;
    const heed_shape *in_shape;
    const heed_shape *out_shape;
    void *const *in;           /* float* or int32_t* by dtype */
    float *const *out;
    float *const *din;         /* NULL entries: no gradient wanted */
    const float *const *dout;  /* NULL entries: no gradient arrives */
    float *const *param;
    float *const *dparam;      /* NULL in inference */
    float *const *saved;
    float *ws;                 /* workspace of this call */
    const int32_t *const *len; /* per input: lengths [B], or NULL (full length) */
    float *carry;              /* step mode: state kept between calls */
    int step;                  /* step mode: call index since reset; -1: whole sequence */
    int threads;
    bool training;             /* dropout active */
    float smoothing;           /* training: the run's label smoothing, 0: the loss's own */
    uint64_t seed;             /* differs per node and per training step */
    char *error;               /* forward may write a message here */
    size_t error_cap;
} heed_exec;

heed_status heed_exec_fail(heed_exec *x, heed_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------ descriptor */

enum {
    HEED_OP_LOSS = 1u << 0,      /* may stand in `loss:`; its output is a scalar */
    HEED_OP_RECURRENT = 1u << 1, /* carries state in step mode */
    HEED_OP_STOCHASTIC = 1u << 2 /* uses the seed (dropout) */
};

typedef struct heed_op {
    const char *name;
    const char *doc;
    const char *shapes; /* a line for the docs: "in [..,In] -> [..,units]" */
    const heed_attr *attrs;
    const char *const *outputs; /* NULL-terminated; [0] is the primary output */
    size_t cfg_size;
    unsigned flags;
    heed_status (*infer)(heed_infer *c);
    heed_status (*forward)(heed_exec *x);
    void (*backward)(heed_exec *x);
} heed_op;

/* The op table (ops.def order). */
#define HEED_OP(id, sym) extern const heed_op sym;
#include "ops.def"
#undef HEED_OP

typedef enum heed_op_id {
#define HEED_OP(id, sym) HEED_OPID_##id,
#include "ops.def"
#undef HEED_OP
    HEED_OP_COUNT
} heed_op_id;

extern const heed_op *const heed_ops[HEED_OP_COUNT];
const heed_op *heed_op_find(const char *name);
/* NULL-terminated list of op names, for did-you-mean and messages. */
extern const char *const heed_op_names[HEED_OP_COUNT + 1];
const heed_attr *heed_op_attr(const heed_op *op, const char *name);

/* An op's attributes with MAP attributes flattened: "attention", then
 * "attention.score", "attention.memory"... Nodes index attributes this way. */
#define HEED_MAX_ATTRS 48
typedef struct heed_flat_attr {
    char name[48];
    const heed_attr *a;
    int parent; /* index of the MAP attribute, -1 at top level */
} heed_flat_attr;

int heed_flatten_attrs(const heed_attr *attrs, heed_flat_attr *out, int max);

#endif /* HEED_OP_H */
