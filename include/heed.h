/*
 * heed.h - the one public header of heed, a small neural-network framework in
 * which a model is a YAML file.
 *
 * The path through the API:
 *
 *   heed_model_load_file()   parse and check a model (immutable, shareable)
 *   heed_vocab_build()       vocabularies from a TSV file (for data-driven models)
 *   heed_weights_new()       parameters, initialised from the model's seed
 *   heed_weights_load()      ... or read from a safetensors file
 *   heed_session_new()       a plan cache and arena for one thread at a time
 *   heed_session_set_input() / heed_session_forward() / heed_session_get()
 *   heed_session_train_step() or heed_session_backward() + heed_weights_step()
 *   heed_decode()            greedy or beam decoding for seq2seq models
 *
 * Rules (see docs/API.md): no call aborts or exits the process, nothing is
 * printed (messages go to the log callback), every failure returns a status and
 * fills a heed_diag, and there is no global mutable state.
 */
#ifndef HEED_H
#define HEED_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define HEED_API
#else
#define HEED_API __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------- version */

#define HEED_VERSION_MAJOR 0
#define HEED_VERSION_MINOR 1
#define HEED_VERSION_PATCH 0
#define HEED_VERSION_NUMBER \
    (HEED_VERSION_MAJOR * 10000 + HEED_VERSION_MINOR * 100 + HEED_VERSION_PATCH)
#define HEED_VERSION_STRING "0.1.0"

/* The version of the library actually linked, e.g. "0.1.0". */
HEED_API const char *heed_version(void);
/* HEED_VERSION_NUMBER of the library actually linked. */
HEED_API int heed_version_number(void);

/* ---------------------------------------------------------------- status */

typedef enum heed_status {
    HEED_OK = 0,
    HEED_ERR_ARGUMENT,  /* an API call got a bad argument (NULL, unknown name) */
    HEED_ERR_NOMEM,     /* an allocation failed */
    HEED_ERR_IO,        /* a file could not be opened, read or written */
    HEED_ERR_SYNTAX,    /* the YAML is not well formed */
    HEED_ERR_MODEL,     /* the model breaks the language (schema, graph) */
    HEED_ERR_SHAPE,     /* shapes do not fit or a dim is unbound */
    HEED_ERR_WEIGHTS,   /* a weights file is malformed or does not match */
    HEED_ERR_DATA,      /* a data file is malformed */
    HEED_ERR_NUMERICS,  /* a NaN or infinity appeared */
    HEED_ERR_LIMIT,     /* an input exceeds a limit (size, depth, count) */
    HEED_ERR_STATE,     /* the call does not fit the object's state */
    HEED_ERR_UNSUPPORTED /* the model cannot do what was asked */
} heed_status;

/* A short constant description of a status, never NULL. */
HEED_API const char *heed_status_string(heed_status status);

/* ----------------------------------------------------------- diagnostics */

#define HEED_DIAG_TEXT_MAX 8192

/*
 * Filled by every call that can fail. `line`, `column` and `file` locate the
 * first error (0 when it has no position), `node` names the graph node it
 * concerns (empty when none), `message` is the first error alone and `text`
 * holds every error of the call formatted for a terminal:
 *
 *   model.yaml:14:9: error: node 'ctx': keys have shape [B,S,256] but ...
 *      14 |   ctx: {op: Attention, query: dec, keys: enc}
 *         |         ^
 */
typedef struct heed_diag {
    heed_status status;
    int count; /* number of errors reported */
    int line;
    int column;
    char file[256];
    char node[128];
    char message[1024];
    char text[HEED_DIAG_TEXT_MAX];
} heed_diag;

/* Resets a diagnostic to "no error". */
HEED_API void heed_diag_clear(heed_diag *diag);

/* --------------------------------------------------------------- options */

/* A custom allocator. All three functions are required: when one is NULL the
 * allocator is ignored and malloc/realloc/free are used. */
typedef struct heed_allocator {
    void *(*alloc)(void *user, size_t size);
    void *(*realloc)(void *user, void *ptr, size_t size);
    void (*free)(void *user, void *ptr);
    void *user;
} heed_allocator;

typedef enum heed_log_level {
    HEED_LOG_ERROR = 0,
    HEED_LOG_WARN = 1,
    HEED_LOG_INFO = 2,
    HEED_LOG_DEBUG = 3
} heed_log_level;

typedef void (*heed_log_fn)(void *user, heed_log_level level, const char *message);

/*
 * Options given when a model is loaded; the weights and sessions made from the
 * model inherit them. Zero-initialise (or call heed_options_init) and set what
 * you need; zero-initialised, log_level is HEED_LOG_ERROR, which drops the
 * warnings heed_options_init's HEED_LOG_INFO lets through. The struct is
 * copied; the allocator's and the log's `user` must stay valid until every
 * object made from the model is freed.
 */
typedef struct heed_options {
    const heed_allocator *allocator; /* NULL: malloc/realloc/free */
    heed_log_fn log;                 /* NULL: messages are dropped */
    void *log_user;
    heed_log_level log_level;        /* messages above this level are dropped */
    int threads;                     /* sessions' heed_session_set_threads default */
} heed_options;

HEED_API void heed_options_init(heed_options *options);

/* ---------------------------------------------------------------- models */

typedef struct heed_model heed_model;

/* A binding of a symbolic dim, e.g. {"B", 128}. */
typedef struct heed_dim {
    const char *name;
    int64_t value;
} heed_dim;

/*
 * Loads and checks a model. On failure *out is NULL and diag holds every error
 * found in the file. `options` may be NULL.
 */
HEED_API heed_status heed_model_load_file(const char *path, const heed_options *options,
                                          heed_model **out, heed_diag *diag);
/* The same from text in memory; `display_name` is used in messages. */
HEED_API heed_status heed_model_load_string(const char *text, size_t length,
                                            const char *display_name,
                                            const heed_options *options, heed_model **out,
                                            heed_diag *diag);
HEED_API void heed_model_free(heed_model *model);

HEED_API const char *heed_model_name(const heed_model *model);
HEED_API const char *heed_model_doc(const heed_model *model);
/* A hash of the normalised graph (independent of comments and key order). */
HEED_API uint64_t heed_model_hash(const heed_model *model);

/*
 * Binds dims and runs shape inference and planning once, reporting every shape
 * error. Dims not given take the model's defaults.
 */
HEED_API heed_status heed_model_check(const heed_model *model, const heed_dim *dims,
                                      size_t n_dims, heed_diag *diag);

/* ----------------------------------------------------------------- plans */

typedef struct heed_plan heed_plan;

typedef enum heed_mode {
    HEED_MODE_INFER = 0, /* forward only */
    HEED_MODE_TRAIN = 1  /* forward, backward and parameter gradients */
} heed_mode;

#define HEED_MAX_RANK 4

typedef enum heed_dtype { HEED_F32 = 0, HEED_I32 = 1 } heed_dtype;

/* A tensor view: data is borrowed (owned by the caller or the session). */
typedef struct heed_tensor {
    const char *name;
    heed_dtype dtype;
    int rank;
    int64_t shape[HEED_MAX_RANK];
    void *data;
} heed_tensor;

/* One node of a compiled plan, for tools such as `heed inspect`. */
typedef struct heed_node_info {
    const char *name;
    const char *op;
    int line, column;
    int rank;
    int64_t shape[HEED_MAX_RANK]; /* the primary output's shape */
    char shape_text[160];         /* symbolic, e.g. "[B,S,256]" */
    int64_t params;               /* parameter count */
    double flops;                 /* forward floating-point operations */
    double flops_backward;
} heed_node_info;

/* The memory plan's three numbers, in bytes. */
typedef struct heed_memory_info {
    size_t arena;       /* the planned arena */
    size_t naive;       /* one buffer per tensor */
    size_t lower_bound; /* the largest total live at one moment */
    size_t params;      /* parameters (plus gradients and optimizer state in training) */
    size_t tensors;     /* number of planned tensors */
} heed_memory_info;

/* Compiles a plan for the given dims (defaults for the rest). */
HEED_API heed_status heed_plan_new(const heed_model *model, const heed_dim *dims,
                                   size_t n_dims, heed_mode mode, heed_plan **out,
                                   heed_diag *diag);
HEED_API void heed_plan_free(heed_plan *plan);
HEED_API size_t heed_plan_node_count(const heed_plan *plan);
HEED_API heed_status heed_plan_node_info(const heed_plan *plan, size_t index,
                                         heed_node_info *out);
HEED_API void heed_plan_memory(const heed_plan *plan, heed_memory_info *out);
/* The value of a dim in this plan, or -1 when the plan has no such dim. */
HEED_API int64_t heed_plan_dim(const heed_plan *plan, const char *name);

/* A sink for text the library produces (Graphviz, JSON). Returns 0 on success. */
typedef int (*heed_write_fn)(void *user, const char *data, size_t length);

/* Writes the plan as a Graphviz digraph. */
HEED_API heed_status heed_plan_write_dot(const heed_plan *plan, heed_write_fn write,
                                         void *user);

/* ----------------------------------------------------------- vocabularies */

typedef struct heed_vocab heed_vocab;

/* Token ids every vocabulary reserves. */
#define HEED_PAD_ID 0
#define HEED_UNK_ID 1
#define HEED_BOS_ID 2
#define HEED_EOS_ID 3

/*
 * Builds the vocabularies of the model's `data:` fields from a TSV file (the
 * training split), sorted so the result does not depend on row order.
 */
HEED_API heed_status heed_vocab_build(const heed_model *model, const char *tsv_path,
                                      heed_vocab **out, heed_diag *diag);
/*
 * A field tokenised another way than its `data:` entry says: "chars" or
 * "words" (a label field cannot change). The same graph reads dates as
 * characters and g2p's phonemes as space-separated words.
 */
typedef struct heed_field_tokens {
    const char *field;  /* a data: field, e.g. "tgt" */
    const char *tokens; /* "chars" or "words" */
} heed_field_tokens;
/* heed_vocab_build with those fields tokenised as `tokens` says; the choice
 * stays with the vocabulary and with weights saved from it. */
HEED_API heed_status heed_vocab_build_tokens(const heed_model *model, const char *tsv_path,
                                             const heed_field_tokens *tokens, size_t n_tokens,
                                             heed_vocab **out, heed_diag *diag);
/* How a field's text becomes tokens: "chars", "words" or "label"; NULL for an
 * unknown field. */
HEED_API const char *heed_vocab_tokens(const heed_vocab *vocab, const char *field);
HEED_API void heed_vocab_free(heed_vocab *vocab);
/* Number of tokens of a field's vocabulary (pad, unk, bos, eos included). */
HEED_API int64_t heed_vocab_size(const heed_vocab *vocab, const char *field);
/*
 * Tokenises `text` as the field's `data:` entry says (chars or words, bos/eos,
 * reverse; chars or words as heed_vocab_tokens says). Unknown tokens map to HEED_UNK_ID. Writes at most `capacity` ids
 * (ids may be NULL when capacity is 0) and the full count to *n. Tokens past
 * 4096 ids (counting <bos>) are ignored.
 */
HEED_API heed_status heed_vocab_encode(const heed_vocab *vocab, const char *field,
                                       const char *text, int32_t *ids, size_t capacity,
                                       size_t *n, heed_diag *diag);
/* Turns ids back into text, stopping at eos and skipping pad and bos.
 * HEED_ERR_LIMIT when the text did not fit: `text` then holds its start, up
 * to the last whole token that fit. */
HEED_API heed_status heed_vocab_decode(const heed_vocab *vocab, const char *field,
                                       const int32_t *ids, size_t n, char *text,
                                       size_t capacity);

/* ----------------------------------------------------------------- weights */

typedef struct heed_weights heed_weights;

/*
 * New parameters for a model, initialised with the model's initialisers and
 * `seed`. `vocab` binds the vocabulary dims (may be NULL when the model has
 * none); `dims` override defaults.
 */
HEED_API heed_status heed_weights_new(const heed_model *model, const heed_vocab *vocab,
                                      const heed_dim *dims, size_t n_dims, uint64_t seed,
                                      heed_weights **out, heed_diag *diag);

/* Flags for heed_weights_load. */
#define HEED_LOAD_PARTIAL 1u /* accept a partial match; missing tensors keep their init */
#define HEED_LOAD_WEIGHTS_ONLY 2u /* ignore a checkpoint's training state */

/*
 * Reads a safetensors file written by heed_weights_save (or converted from a
 * PyTorch state dict). Every offset is bounds-checked; a mismatch reports the
 * matched, missing, unexpected and mismatched tensors.
 */
HEED_API heed_status heed_weights_load(const heed_model *model, const char *path,
                                       unsigned flags, heed_weights **out, heed_diag *diag);
/* As heed_weights_load, but at the model's own dims with `dims` on top (as
 * heed_weights_new), not those the file was saved with: a new run started
 * from a file (with HEED_LOAD_PARTIAL, from a model of other sizes). */
HEED_API heed_status heed_weights_load_dims(const heed_model *model, const char *path,
                                            unsigned flags, const heed_dim *dims, size_t n_dims,
                                            heed_weights **out, heed_diag *diag);
/* Writes atomically (temporary file, fsync, rename). */
HEED_API heed_status heed_weights_save(const heed_weights *weights, const char *path,
                                       heed_diag *diag);

/* Where a training run is, for resuming it exactly. */
typedef struct heed_train_state {
    int64_t epoch;  /* epochs finished */
    int64_t batch;  /* batches finished in the current epoch */
    uint64_t seed;  /* the run's seed (shuffling, dropout) */
    int64_t runs;   /* forward passes so far (dropout masks follow it) */
    float lr;       /* the learning rate now, after decays */
    int64_t rows;   /* rows of the run's training data (0: not recorded) */
    double loss_sum; /* training losses of this epoch's batches so far, summed */
    int64_t loss_batches; /* how many batches loss_sum sums (0: none recorded) */
    const char *history;  /* UTF-8 text kept with the checkpoint, at most 1 MiB, or NULL
                           * (heed train: the finished epochs' curves); on load it
                           * points into the weights, valid while they are */
} heed_train_state;

/*
 * A checkpoint: the weights plus the optimizer's state (Adam moments or SGD
 * velocity, step count), its configuration and `state`, written atomically. heed_weights_load
 * reads checkpoints too; heed_weights_train_state then gives the state back.
 */
HEED_API heed_status heed_weights_save_checkpoint(const heed_weights *weights,
                                                  const heed_train_state *state,
                                                  const char *path, heed_diag *diag);
/* The training state a checkpoint was loaded with; HEED_ERR_STATE when the
 * weights did not come from a checkpoint. */
HEED_API heed_status heed_weights_train_state(const heed_weights *weights,
                                              heed_train_state *state);
HEED_API void heed_weights_free(heed_weights *weights);
/*
 * into = (1 - t) * into + t * other, parameter by parameter. Blending the i-th
 * of k weights with t = 1/i leaves their mean: checkpoint averaging (the
 * weights at the ends of a run's last epochs, averaged, usually generalise
 * better than the last alone). Both must have the same parameters (names and
 * shapes) and vocabularies, or HEED_ERR_WEIGHTS names the first difference
 * ("its parameter 2 is ..., not ...", speaking of `other`).
 * The result is weights, not a training state: save it with heed_weights_save.
 */
HEED_API heed_status heed_weights_blend(heed_weights *into, const heed_weights *other, double t,
                                        heed_diag *diag);

HEED_API const heed_vocab *heed_weights_vocab(const heed_weights *weights);
HEED_API size_t heed_weights_count(const heed_weights *weights);
/* Views a parameter by index or name; the data may be written. */
HEED_API heed_status heed_weights_param(heed_weights *weights, size_t index, heed_tensor *out);
HEED_API heed_status heed_weights_find(heed_weights *weights, const char *name,
                                       heed_tensor *out);
/* The gradient of a parameter (valid after a backward pass in training). */
HEED_API heed_status heed_weights_grad(heed_weights *weights, const char *name,
                                       heed_tensor *out);

typedef enum heed_optimizer { HEED_OPT_SGD = 0, HEED_OPT_ADAM = 1 } heed_optimizer;

/* heed_weights_step reads optimizer to clip; batch, epochs, seed and lr_decay
 * are for the caller's training loop (heed train follows them);
 * label_smoothing, when above 0, replaces CrossEntropy's smoothing: attribute
 * in training sessions. */
typedef struct heed_train_config {
    heed_optimizer optimizer;
    float lr;
    float momentum;      /* SGD */
    float beta1, beta2;  /* Adam */
    float eps;
    float weight_decay;
    float clip;          /* global gradient norm; 0: no clipping */
    int batch;
    int epochs;
    uint64_t seed;
    float lr_decay;      /* multiplied into lr after every epoch; 1: constant */
    float label_smoothing;
} heed_train_config;

/* The model's `train:` section, with defaults for what it leaves out. */
HEED_API void heed_model_train_config(const heed_model *model, heed_train_config *out);
/* Sets the optimizer of these weights (resets the optimizer state when it changes). */
HEED_API heed_status heed_weights_set_train_config(heed_weights *weights,
                                                   const heed_train_config *config);
/* The configuration the weights train with: the model's train: section, the
 * last heed_weights_set_train_config, or (loaded from a checkpoint) the one
 * the checkpoint was trained with. */
HEED_API heed_status heed_weights_train_config(const heed_weights *weights,
                                               heed_train_config *out);
/* Zeroes the parameter gradients. */
HEED_API void heed_weights_zero_grad(heed_weights *weights);
/*
 * Clips the gradients by global norm (when configured) and applies one
 * optimizer step. *grad_norm (may be NULL) receives the norm before clipping.
 */
HEED_API heed_status heed_weights_step(heed_weights *weights, float *grad_norm,
                                       heed_diag *diag);
/* Number of optimizer steps taken. */
HEED_API int64_t heed_weights_steps(const heed_weights *weights);

/* ---------------------------------------------------------------- sessions */

typedef struct heed_session heed_session;

/*
 * A session runs the model on inputs. It compiles one plan per binding of the
 * run-time dims (B, S, T...) and caches it. A session is used by one thread at
 * a time; several sessions may share one heed_weights for inference.
 */
HEED_API heed_status heed_session_new(heed_weights *weights, heed_mode mode,
                                      heed_session **out, heed_diag *diag);
HEED_API void heed_session_free(heed_session *session);
/* Threads for this session's kernels: every forward and backward calls
 * omp_set_num_threads(threads) on the calling thread, where it stays set after
 * the call returns; 0 leaves that thread's setting alone. */
HEED_API void heed_session_set_threads(heed_session *session, int threads);
/* Stop with HEED_ERR_NUMERICS at the first NaN or infinity a node produces. */
HEED_API void heed_session_check_numerics(heed_session *session, int enable);
/* Seeds dropout. Runs with equal seeds and inputs give bit-identical results. */
HEED_API void heed_session_seed(heed_session *session, uint64_t seed);
/* The dropout stream's position (forward passes since seeding), and setting
 * it back, to resume a run exactly. */
HEED_API int64_t heed_session_runs(const heed_session *session);
HEED_API void heed_session_set_runs(heed_session *session, int64_t runs);

/* Copies a tensor into the named model input (zeros when data is NULL); the
 * input keeps it until set again. Rank and dtype are checked here, dims at
 * forward. */
HEED_API heed_status heed_session_set_input(heed_session *session, const char *name,
                                            const heed_tensor *tensor, heed_diag *diag);
HEED_API heed_status heed_session_forward(heed_session *session, heed_diag *diag);
/* Backward from the loss; parameter gradients accumulate into the weights. */
HEED_API heed_status heed_session_backward(heed_session *session, heed_diag *diag);
/*
 * Views a value by name ("logits", "ctx.weights", "loss") after forward; or the
 * gradient of a value or input with the prefix "grad:" after backward. The view
 * stays valid until the next call on the session.
 */
HEED_API heed_status heed_session_get(heed_session *session, const char *name,
                                      heed_tensor *out, heed_diag *diag);
/* The loss of the last forward pass (NaN when the model has none). */
HEED_API float heed_session_loss(const heed_session *session);
/* Forward, backward and one optimizer step on the inputs set, in a session
 * made with HEED_MODE_TRAIN; the gradients are zeroed first. *loss may be NULL. */
HEED_API heed_status heed_session_train_step(heed_session *session, float *loss,
                                             heed_diag *diag);
/* The plan used by the last forward pass (NULL before the first). */
HEED_API const heed_plan *heed_session_plan(const heed_session *session);
/* Keep every value readable after forward (no memory reuse between values):
 * for tools that dump all outputs, and for debugging. */
HEED_API void heed_session_keep_all(heed_session *session, int enable);

/*
 * Fills every model input with random values at these dims (defaults for the
 * rest): floats uniform in [-1, 1), token ids in the range their readers
 * accept; with `ragged`, rows of id sequences end at random lengths (padded).
 * For benchmarks, smoke tests and checks.
 */
HEED_API heed_status heed_session_random_inputs(heed_session *session, const heed_dim *dims,
                                                size_t n_dims, uint64_t seed, int ragged,
                                                heed_diag *diag);

/* Per-node timing of forward and backward (off by default; costs two clock
 * reads per node). */
HEED_API void heed_session_profile(heed_session *session, int enable);
typedef struct heed_node_profile {
    const char *name;
    const char *op;
    double forward_seconds;  /* summed over calls since profiling was enabled */
    double backward_seconds;
    int64_t calls;
} heed_node_profile;
HEED_API size_t heed_session_profile_count(const heed_session *session);
HEED_API heed_status heed_session_profile_get(const heed_session *session, size_t index,
                                              heed_node_profile *out);

/* Also compute the gradients of the float inputs in backward (readable as
 * "grad:NAME"), e.g. for saliency maps or checks. */
HEED_API void heed_session_input_grads(heed_session *session, int enable);

/* Teacher-forced accuracy of the last forward pass of a model whose loss is
 * CrossEntropy: tokens whose argmax equals the (non-pad) target, and sequences
 * whose every token does. Call it before backward (after heed_session_backward
 * or heed_session_train_step it returns HEED_ERR_STATE). */
typedef struct heed_accuracy {
    int64_t tokens, tokens_correct;
    int64_t sequences, sequences_correct;
} heed_accuracy;
HEED_API heed_status heed_session_accuracy(heed_session *session, heed_accuracy *acc,
                                           heed_diag *diag);

/* What a model does, from its loss: seq2seq (a CrossEntropy loss with shift 1
 * on an input fed back when decoding), classification (a CrossEntropy loss
 * on a [B] label field), tagging (a CrossEntropy loss without shift on a
 * [B, S] label field, another field filling a [B, S] input of the same S: a
 * label per token of it), or other. */
typedef enum heed_task {
    HEED_TASK_OTHER,
    HEED_TASK_SEQ2SEQ,
    HEED_TASK_CLASSIFY,
    HEED_TASK_TAG
} heed_task;
HEED_API heed_task heed_model_task(const heed_model *model);
/* The data field (input name) the loss's target comes from, or NULL. */
HEED_API const char *heed_model_target_field(const heed_model *model);
/* The TSV column of a data field, or -1. */
HEED_API int heed_model_field_column(const heed_model *model, const char *field);

/* The dim a data field's vocabulary size binds (e.g. "V_src"), or NULL. */
HEED_API const char *heed_model_field_vocab(const heed_model *model, const char *field);

/* The model's dims (fixed, run-time and vocabulary): count and i-th name. */
HEED_API size_t heed_model_dim_count(const heed_model *model);
HEED_API const char *heed_model_dim_name(const heed_model *model, size_t index);
/* Names of the model's values (node outputs), for tools: count and i-th. */
HEED_API size_t heed_model_value_count(const heed_model *model);
HEED_API const char *heed_model_value_name(const heed_model *model, size_t index);
/* The model's inputs: count, and the i-th as a tensor description (data NULL,
 * shape from the dims' current defaults, -1 for unbound dims). */
HEED_API size_t heed_model_input_count(const heed_model *model);
HEED_API heed_status heed_model_input(const heed_model *model, size_t index, heed_tensor *out);
/* The name of the dim on axis `axis` of the i-th input ("S" of src: [B, S]),
 * or NULL for a literal size or an index out of range. */
HEED_API const char *heed_model_input_dim(const heed_model *model, size_t index, int axis);

/* -------------------------------------------------------------- tensor files */

/* A safetensors file of F32 and I32 tensors, read whole and validated. These
 * calls take no options: they allocate with malloc. */
typedef struct heed_tensor_file heed_tensor_file;

HEED_API heed_status heed_tensor_file_read(const char *path, heed_tensor_file **out,
                                           heed_diag *diag);
HEED_API size_t heed_tensor_file_count(const heed_tensor_file *file);
/* A view of the i-th tensor; valid while the file is open. */
HEED_API heed_status heed_tensor_file_get(const heed_tensor_file *file, size_t index,
                                          heed_tensor *out);
HEED_API void heed_tensor_file_free(heed_tensor_file *file);
/* Writes tensors (F32 or I32) atomically. */
HEED_API heed_status heed_tensor_file_write(const char *path, const heed_tensor *tensors,
                                            size_t n, heed_diag *diag);

/* --------------------------------------------------------------- datasets */

typedef struct heed_dataset heed_dataset;

/* Reads a TSV file into token ids with the model's `data:` fields and `vocab`. */
HEED_API heed_status heed_dataset_load(const heed_model *model, const heed_vocab *vocab,
                                       const char *tsv_path, heed_dataset **out,
                                       heed_diag *diag);
HEED_API void heed_dataset_free(heed_dataset *dataset);
HEED_API size_t heed_dataset_size(const heed_dataset *dataset);
/* The text of a row's column, as read. */
HEED_API const char *heed_dataset_text(const heed_dataset *dataset, size_t row, int column);
/*
 * Fills order[0..size) with a shuffled order of the rows for one epoch, in
 * which each run of `batch` rows has similar lengths (less padding). The same
 * (seed, epoch) always gives the same order.
 */
HEED_API void heed_dataset_shuffle(const heed_dataset *dataset, size_t batch, uint64_t seed,
                                   int64_t epoch, size_t *order);
/*
 * Sets the model inputs of `session` to the rows `rows[0..n)` of the dataset,
 * padded to the longest row of the batch.
 */
HEED_API heed_status heed_dataset_feed(const heed_dataset *dataset, const size_t *rows,
                                       size_t n, heed_session *session, heed_diag *diag);
/*
 * Checks that the first n rows (all when n is past the end) fit the
 * session's inputs: a row with more tokens than an input of fixed length
 * takes would be refused when its batch is fed. Each such row is named
 * (file:line), up to 20; call it before a long run so that no row stops the
 * run part-way.
 */
HEED_API heed_status heed_dataset_check(const heed_dataset *dataset, size_t n,
                                        const heed_session *session, heed_diag *diag);

/*
 * Sets the inputs of the model's source fields from texts, one per row. A
 * source field is a data field other than the loss's target (and other than
 * the input decoding feeds back); a text holds the row's TSV columns, so a
 * one-column source is just the text. Tokens outside the vocabulary become
 * <unk>.
 */
HEED_API heed_status heed_session_feed_texts(heed_session *session, const char *const *texts,
                                             size_t n, heed_diag *diag);

typedef struct heed_decode_result heed_decode_result;

/* For a classification model: the most likely label id of each text and its
 * probability (probs may be NULL). Label ids read with heed_vocab_decode on
 * heed_model_target_field. */
HEED_API heed_status heed_session_classify(heed_session *session, const char *const *texts,
                                           size_t n, int32_t *labels, float *probs,
                                           heed_diag *diag);

/* For a tagging model (HEED_TASK_TAG): the most likely label of each token of
 * each text, in a result read as heed_decode's is. Entry i's tokens are the
 * label ids of text i's tokens in the source field the labels align with
 * (its <bos>, <eos> and padding left out), its score their summed
 * log-probability, its source that field's ids; it has no attention. heed_decode_text writes the labels as a text of the label
 * field. */
HEED_API heed_status heed_session_tag(heed_session *session, const char *const *texts,
                                      size_t n, heed_decode_result **out, heed_diag *diag);

/* ---------------------------------------------------------------- decoding */

typedef struct heed_decode_options {
    int beam;             /* 1: greedy; k > 1: beam search of width k */
    float length_alpha;   /* length normalisation: score / len^alpha (0: none) */
    int max_length;       /* 0: the model's default */
    int min_length;       /* no <eos> before this many tokens (0: none) */
    int attention;        /* keep the attention weights of each output step */
} heed_decode_options;

typedef struct heed_decoded {
    int32_t *tokens;    /* output ids without bos and eos */
    size_t length;
    float score;        /* log-probability (normalised when length_alpha > 0) */
    float *attention;   /* [length + 1][source_length] when requested, else NULL; the
                         * last row (the <eos> step) is zeros when max_length ended
                         * the output */
    size_t source_length;
    int32_t *source;    /* the source ids the attention columns refer to */
} heed_decoded;

/*
 * Decodes each source text with the seq2seq model of the session's weights: the
 * encoder runs once, the decoder step by step with its state carried. The
 * session must be made with HEED_MODE_INFER; its inputs are overwritten.
 */
HEED_API heed_status heed_decode(heed_session *session, const char *const *texts,
                                 size_t n, const heed_decode_options *options,
                                 heed_decode_result **out, heed_diag *diag);
HEED_API size_t heed_decode_count(const heed_decode_result *result);
HEED_API const heed_decoded *heed_decode_get(const heed_decode_result *result, size_t i);
/* The decoded text of entry i, written into `text`; HEED_ERR_LIMIT when it
 * did not fit (`text` then holds its start). */
HEED_API heed_status heed_decode_text(const heed_decode_result *result, size_t i,
                                      char *text, size_t capacity);
HEED_API void heed_decode_result_free(heed_decode_result *result);

/* -------------------------------------------------------------- BLAS */

/* Which BLAS runs and how fast: OpenBLAS's configuration, core type and
 * threading, what runs heed's large matrix products, and their rate
 * measured now (a 512^3 product through heed's own product call, median of
 * 15). With threads > 0, calls omp_set_num_threads(threads) on the calling
 * thread. */
typedef struct heed_blas_info {
    char config[256];
    char core[64];
    const char *threading; /* "OpenMP", "pthreads" or "sequential" */
    int threads;
    double sgemm_gflops;
    /* "OpenBLAS", or "heed AVX-512" where the CPU has AVX-512 and OpenBLAS's
     * core type does not use it (its core detection or OPENBLAS_CORETYPE
     * chose narrower kernels): heed then runs its own kernel */
    const char *products;
} heed_blas_info;
HEED_API void heed_blas_info_get(int threads, heed_blas_info *out);

/* -------------------------------------------------------------- reference */

/* Writes the reference of every op (attributes, types, defaults, shapes) as
 * Markdown, generated from the ops' schemas; docs/LANGUAGE.md embeds it. */
HEED_API heed_status heed_op_reference(heed_write_fn write, void *user);

/* -------------------------------------------------------------- validation */

/* One tensor's result in a gradient check. */
typedef struct heed_gradcheck_entry {
    const char *tensor;   /* parameter or input name */
    const char *node;     /* the node owning it (the input's name for inputs) */
    int checked;          /* elements compared */
    double max_rel_error; /* |analytic - numeric| / max(|analytic|, |numeric|, floor); the
                           * floor is 1% of the tensor's and 0.2% of the model's largest
                           * gradient (below it, differences are float32 rounding) */
    double max_abs_error;
    int skipped;          /* elements next to a kink (estimates with h and h/2 disagree) */
} heed_gradcheck_entry;

typedef struct heed_gradcheck_options {
    int samples;          /* elements per tensor, those with the largest gradients (0: 12) */
    double step;          /* central-difference step (0: 2e-2) */
    uint64_t seed;        /* random inputs and parameters (0: 1) */
    const heed_dim *dims; /* dims to check at (small ones are faster) */
    size_t n_dims;
} heed_gradcheck_options;

typedef void (*heed_gradcheck_fn)(void *user, const heed_gradcheck_entry *entry);

/*
 * Compares every parameter and float input gradient of the model's loss with
 * finite differences, on random inputs (token ids with random padded
 * lengths): for each tensor's largest gradients, central differences at steps
 * h and h/2 combined by Richardson extrapolation, the step halving while a
 * kink (ReLU at 0) lies within it; points with no clean step are skipped (and
 * counted). `report` (may be NULL) receives each tensor's result; *worst the
 * largest relative error.
 */
HEED_API heed_status heed_gradcheck(const heed_model *model,
                                    const heed_gradcheck_options *options,
                                    heed_gradcheck_fn report, void *user, double *worst,
                                    heed_diag *diag);

#ifdef __cplusplus
}
#endif

#endif /* HEED_H */
