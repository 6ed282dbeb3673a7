/*
 * model.h - the checked model: the graph IR that the YAML file becomes.
 *
 * A model is immutable once loaded. It knows its dims (symbols), inputs, data
 * fields, nodes in a topological order (blocks already expanded), the values
 * they produce and the training settings. Binding dims and inferring shapes
 * (plan.h) happens later, once per binding.
 */
#ifndef HEED_MODEL_H
#define HEED_MODEL_H

#include "../ops/op.h"
#include "../runtime/strmap.h"
#include "yaml.h"

/* Limits on what a model file may ask for (see docs/SECURITY.md). */
#define HEED_MAX_NODES 4096
#define HEED_MAX_BLOCK_DEPTH 8
#define HEED_MAX_REPEAT 256
#define HEED_MAX_DIM_VALUE ((int64_t)1 << 31)
/* Names as files and messages carry them: a dim's in weights metadata and
 * --dim, a value's (with its block prefixes) in tensor names and plans. */
#define HEED_MAX_DIM_NAME 63
#define HEED_MAX_VALUE_NAME 255
/* Data fields a model reads (a dataset row keeps each one's ids). */
#define HEED_MAX_FIELDS 8

typedef enum hm_sym_kind {
    HM_SYM_FIXED,   /* a number in dims: */
    HM_SYM_RUNTIME, /* appears in an input shape: bound from the fed tensors */
    HM_SYM_VOCAB    /* a data field's vocabulary size */
} hm_sym_kind;

typedef struct hm_sym {
    char *name;
    hm_sym_kind kind;
    bool has_default;  /* a number was given in dims: */
    int64_t value;     /* that number */
    const hy_node *at; /* where it was declared or first used */
} hm_sym;

typedef struct hm_input {
    char *name;
    int rank;
    int sym[HEED_MAX_RANK];     /* symbol index, or -1 for a literal */
    int64_t lit[HEED_MAX_RANK];
    heed_dtype dtype;
    bool dtype_given;
    const hy_node *at;
    int value;
} hm_input;

typedef enum hm_tokens { HM_TOK_CHARS, HM_TOK_WORDS, HM_TOK_LABEL } hm_tokens;

typedef struct hm_field {
    char *input;      /* the model input this column feeds */
    int column;
    hm_tokens tokens;
    bool bos, eos, reverse;
    int vocab_sym;    /* the dim bound to the vocabulary size */
    int vocab;        /* index of the vocabulary (fields naming one dim share it) */
    const hy_node *at;
} hm_field;

/* A reference to a value as written, before resolution. */
typedef struct hm_ref hm_ref;
struct hm_ref {
    const char *name; /* full value name (pool memory of the model) */
    const hy_node *at;
    const hy_node *block; /* the block definition it was written in, or NULL */
    const char *prefix;   /* the name prefix of the nodes where it was written ("stack.0.") */
    const char *who;      /* the node it was written for (an instance, for a block's input) */
    const hm_ref *via;    /* through a block's input: the value its instance gave, or NULL */
};

typedef struct hm_node {
    char *name;
    const heed_op *op;
    const hy_node *at;     /* the node's key, for positions */
    const hy_node **attr;  /* per schema attribute: its YAML value or NULL (default) */
    int n_attr;
    hm_ref *refs;          /* input references, flat, in schema order */
    int *in;               /* resolved value ids, parallel to refs */
    int n_in;
    int port_first[HEED_MAX_INPUTS]; /* per schema attribute index: first ref, or -1 */
    int port_count[HEED_MAX_INPUTS];
    int out[HEED_MAX_OUTPUTS]; /* value ids per output port */
    int n_out;
    int order;             /* position in the topological order */
} hm_node;

typedef struct hm_value {
    char *name;
    int node;  /* producer, or -1 for a model input */
    int port;  /* output port, or the input index */
    const hy_node *listed; /* its entry in outputs:, or NULL */
} hm_value;

struct heed_model {
    heed_env env;
    hy_doc *doc;
    void *pool; /* strings and arrays owned by the model */
    char *name;
    char *doc_text;

    hm_sym *syms;
    int n_syms;
    hm_input *inputs;
    int n_inputs;
    hm_field *fields;
    int n_fields;
    int n_vocabs;
    hm_node *nodes; /* topological order */
    int n_nodes;
    hm_value *values;
    int n_values;
    heed_strmap value_names; /* name -> value id (aliases included) */
    int *keep;               /* values kept readable after forward */
    int n_keep;
    int n_keep_auto;         /* keep[0..n_keep_auto) are unread values; the rest outputs: */
    int loss_node;           /* -1: no loss */
    heed_train_config train;
    int decode_max_length;
    int decode_input;     /* model input fed back step by step, or -1 */
    int decode_logits;    /* value holding the next token's scores, or -1 */
    int decode_attention; /* value holding attention weights to show, or -1 (then the first
                           * kept *.weights value the plan defines, outputs: first) */
    uint64_t hash;
};

/* Checks a parsed document and builds the model. Errors (all of them) go to diag. */
heed_status heed_model_build(const heed_env *env, hy_doc *doc, heed_model **out,
                             heed_diag *diag);

int hm_sym_find(const heed_model *m, const char *name);
int hm_value_find(const heed_model *m, const char *name);
/* Index of a schema attribute of the node's op, or -1. */
int hm_attr_index(const heed_op *op, const char *name);
/* The data field a tagger's labels align with: the first field, other than
 * the loss's [B, S] target, whose [B, S] input has the target's length S;
 * -1 when there is none (the model does not tag). */
int hm_tag_field(const heed_model *m);
/* The index of model input `name`, or -1 (also for NULL). */
int hm_input_index(const heed_model *m, const char *name);
heed_srcpos hm_pos(const heed_model *m, const hy_node *at);

/* Evaluates a DIM expression ("256", "H", "2*H") under dim values `vals`
 * (indexed by symbol; -1 when unbound). Returns false and a message on error. */
bool hm_eval_dim(const heed_model *m, const char *text, const int64_t *vals, heed_dimv *out,
                 char *err, size_t err_cap);

/* Makes a copy of `s` in the model's pool (freed with the model). */
char *hm_strdup(heed_model *m, const char *s);

#endif /* HEED_MODEL_H */
