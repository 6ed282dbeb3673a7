/*
 * runtime.h - the objects behind the public handles: vocabularies, weights
 * (parameters, gradients, optimizer state), sessions (plan cache, arena,
 * executor) and datasets.
 */
#ifndef HEED_RUNTIME_H
#define HEED_RUNTIME_H

#include "../compiler/plan.h"
#include "strmap.h"

/* ------------------------------------------------------------ vocabularies */

typedef struct hv_vocab {
    char **tokens; /* id -> token (the reserved ids have names like "<pad>") */
    int n;
    size_t cap;
    heed_strmap ids; /* token -> id */
} hv_vocab;

struct heed_vocab {
    const heed_model *m;
    const heed_env *env;
    void *pool;      /* token strings */
    int n;           /* = model's n_vocabs */
    hv_vocab *v;
    /* how each data field's text becomes tokens: the field's tokens: entry,
     * or what heed_vocab_build_tokens chose (kept with the weights) */
    hm_tokens *tokens; /* per model field */
};

/* Allocates an empty set of vocabularies for the model's data fields. */
heed_vocab *hv_new(const heed_model *m);
/* Adds a token (copied) to vocabulary k; its id, or -1 on allocation failure. */
int hv_add(heed_vocab *vocab, int k, const char *token);
/* The vocabulary of a data field by input name, or -1. */
int hv_field(const heed_model *m, const char *field);
/* Whether vocabularies built for v->m serve model m: the same model, or one
 * with the same data fields feeding the same vocabulary dims. */
bool hv_fits(const heed_vocab *v, const heed_model *m);
/* Splits text into tokens as the field says, calling back per token. The
 * callback returns false to stop. Returns false on invalid UTF-8. */
typedef bool (*hv_token_fn)(void *user, const char *token, size_t len);
bool hv_split(hm_tokens tokens, const char *text, size_t len, hv_token_fn fn, void *user);
/* Sets field f's tokenisation from "chars" or "words"; false (with the reason
 * in `why`) for another name or a label field. */
bool hv_set_tokens(heed_vocab *vocab, int f, const char *tokens, char *why, size_t cap);
/* "chars", "words" or "label". */
const char *hv_tokens_name(hm_tokens tokens);
/* Copies a vocabulary set (for weights). */
heed_vocab *hv_copy(const heed_vocab *src, const heed_model *m);
/* Serialises vocabulary k as a JSON array of tokens (for safetensors
 * metadata); the caller frees with the env allocator. */
char *hv_to_json(const heed_vocab *vocab, int k);
/* Reads one vocabulary from its JSON array. */
heed_status hv_from_json(heed_vocab *vocab, int k, const char *json, heed_diag *diag,
                         const char *file, const char *key);

/* ------------------------------------------------------------ weights */

struct heed_weights {
    const heed_model *m;
    const heed_env *env;
    void *pool;
    int64_t *dimval;  /* fixed and vocabulary dims (run-time dims: defaults) */
    hp_param *params;
    int n_params;
    size_t floats;
    float *data;
    float *grad;      /* allocated for training */
    float *opt1;      /* Adam m or SGD velocity */
    float *opt2;      /* Adam v */
    heed_vocab *vocab;
    heed_train_config train;
    int64_t steps;
    uint64_t seed;
    bool has_state;         /* loaded from a checkpoint */
    heed_train_state state; /* ... with this training state */
};

/* A training configuration as one metadata string of key=value pairs, and
 * back; parsing overrides only the keys present (false when one is bad). */
void hw_config_format(const heed_train_config *c, char *buf, size_t cap);
bool hw_config_parse(const char *text, heed_train_config *c);
/* A number as heed writes it in metadata: a digit first, decimal. */
bool hw_plain_number(const char *s);
/* Makes sure gradients (and optimizer state) exist. */
heed_status hw_ensure_grad(heed_weights *w, heed_diag *diag);
/* Initialises every parameter from its initialiser and `seed`. */
void hw_init_params(heed_weights *w, uint64_t seed);
/* Creates weights with the layout a plan gives for these dims (no init).
 * max_bytes (0: none) refuses a layout that needs more parameter memory,
 * before anything is allocated. */
heed_status hw_create(const heed_model *m, const heed_vocab *vocab, const heed_dim *dims,
                      size_t n_dims, size_t max_bytes, heed_weights **out, heed_diag *diag);

/* ------------------------------------------------------------ safetensors */

typedef struct st_tensor {
    char *name;
    int rank;
    int64_t shape[8];
    const char *dtype;
    size_t begin, end; /* data offsets */
} st_tensor;

typedef struct st_file {
    const heed_env *env;
    char *path;
    unsigned char *bytes; /* the whole file */
    size_t size;
    size_t data_start;
    st_tensor *t;
    int n;
    char **meta_keys, **meta_vals;
    int n_meta;
} st_file;

/* Reads and validates a safetensors file: every offset bounds-checked,
 * overlaps and size mismatches refused with the tensor's name. */
heed_status st_read(const heed_env *env, const char *path, st_file **out, heed_diag *diag);
void st_free(st_file *f);
const char *st_meta(const st_file *f, const char *key);
const st_tensor *st_find(const st_file *f, const char *name);

typedef struct st_entry {
    const char *name;
    int rank;
    const int64_t *shape;
    const void *data;
    bool ids; /* I32 instead of F32 */
} st_entry;

/* Writes tensors and string metadata atomically (temporary file, fsync, rename). */
/* Frees text jansson allocated (json_dumps) with the free function jansson
 * was given, which a program embedding heed may have replaced. */
void st_json_free(void *p);
heed_status st_write(const heed_env *env, const char *path, const st_entry *entries, int n,
                     const char *const *meta_keys, const char *const *meta_vals, int n_meta,
                     heed_diag *diag);

/* ------------------------------------------------------------ sessions */

#define HS_CACHE 8

typedef struct hs_input {
    void *data;
    size_t cap;   /* bytes */
    int rank;
    int64_t shape[HEED_MAX_RANK];
    heed_dtype dtype;
    bool set;
} hs_input;

typedef struct hs_cached {
    int64_t *dims; /* values per symbol */
    heed_plan *plan;
    uint64_t used;
} hs_cached;

struct heed_session {
    heed_weights *w;
    const heed_model *m;
    const heed_env *env;
    heed_mode mode;
    hs_input *inputs;
    hs_cached cache[HS_CACHE];
    uint64_t tick;
    heed_plan *plan;     /* the plan of the last forward */
    int64_t *dims;       /* scratch: the binding being looked up */
    float *arena;
    size_t arena_cap;
    int32_t *lens;       /* per model input: lengths [B] */
    size_t lens_cap;
    int threads;
    bool check_numerics;
    uint64_t seed;
    int64_t runs;        /* forward passes, for dropout seeds */
    float loss;
    bool have_forward;   /* a forward pass whose buffers backward may use */
    bool failed_forward; /* the last forward pass failed: no values to read */
    bool keep_all;
    bool input_grads;
    /* profiling: seconds per node, forward and backward */
    bool profile;
    double *prof_fwd, *prof_bwd;
    int64_t *prof_calls;
    /* step mode (decoding) */
    int step_input;      /* -1: off */
    int step;            /* call index since the encoder ran */
    float **carry;       /* per node */
    size_t *carry_cap;
};

/* Runs forward with a given plan option set (used by decoding and tools). */
heed_status hs_forward_opts(heed_session *s, const hp_options *opt, heed_diag *diag);
/* Pointer to a value's data (or gradient) in the current plan. */
void *hs_value_ptr(heed_session *s, int value, bool grad);
/* Step mode: the next forward runs only the nodes that depend on `input`,
 * after a first call that runs everything. -1 turns step mode off. */
void hs_step_mode(heed_session *s, int input);
/* Reorders the rows of every carried state (beam search). */
heed_status hs_reorder_carry(heed_session *s, const int32_t *rows, int64_t n, heed_diag *diag);

/* Random inputs at the dims `dimval` (values per symbol); see
 * heed_session_random_inputs. */
heed_status hs_random_inputs(heed_session *s, const int64_t *dimval, uint64_t seed, bool ragged,
                             heed_diag *diag);

/* Whether data field f is a source (not the loss's target nor the decoded input). */
bool hd_is_source(const heed_model *m, int f);
/* Texts classified or decoded in one pass (heed_session_classify,
 * heed_decode): at most HEED_TEXT_BATCH of them, and fewer when they are
 * long, so that the batch's rows times its longest text stay within
 * HEED_TEXT_BATCH_BYTES (a batch is padded to its longest text, and the
 * arena follows). */
#define HEED_TEXT_BATCH 256
#define HEED_TEXT_BATCH_BYTES ((size_t)32768)

/* How many of the n texts from texts[0] go in the next batch (at least 1). */
size_t hd_text_batch(const char *const *texts, size_t n);

/* Feeds texts (TSV rows) to the source fields, each text repeated `repeat`
 * times (beam search); texts[0] is the caller's text `first` (counted from 0),
 * for the messages. The ids of field `ids_field` (-1: the first source
 * field) go to `ids` (may be NULL, caller frees with the env allocator),
 * with its padded width in *width. */
heed_status hd_feed_texts(heed_session *s, const char *const *texts, size_t n, size_t first,
                          size_t repeat, int ids_field, int32_t **ids, size_t *width,
                          heed_diag *diag);

/* Whether beam search may stop for a source: no live hypothesis, or k
 * finished ones (normalised scores `fin`) that the best live one (raw score
 * best_live) can no longer beat, whatever it still writes. */
bool hd_beam_may_stop(const float *fin, int n_fin, int k, bool live, float best_live,
                      float alpha, int max_len);
/* An empty result of n entries whose texts decode with field `target`
 * (heed_decode, heed_session_tag); NULL when out of memory. */
heed_decode_result *hd_result_new(const heed_session *s, size_t n, const char *target);
heed_decoded *hd_result_item(heed_decode_result *r, size_t i);
/* `bytes` of src copied into memory the result owns; NULL when out of memory. */
void *hd_result_copy(heed_decode_result *r, const void *src, size_t bytes);
/* heed_decode, with the beam-search code forced even for width 1 (tests
 * compare it with greedy decoding). */
heed_status hd_decode(heed_session *s, const char *const *texts, size_t n,
                      const heed_decode_options *o, bool force_beam, heed_decode_result **out,
                      heed_diag *diag);

/* ------------------------------------------------------------ datasets */

typedef struct hd_row {
    int32_t *ids[HEED_MAX_FIELDS]; /* per field */
    int len[HEED_MAX_FIELDS];
    char **cols;     /* the row's columns as read */
    int n_cols;
    int line;        /* in the file, from 1 */
} hd_row;

struct heed_dataset {
    const heed_model *m;
    const heed_env *env;
    void *pool;
    hd_row *rows;
    size_t n, cap;
    char *path;      /* the file read, for messages */
};

#endif /* HEED_RUNTIME_H */
