/*
 * weights_io.c - weights to and from safetensors files, PyTorch-style names,
 * with the vocabularies and the graph hash in the metadata. Loading matches
 * tensors by name and shape and reports every mismatch at once.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define META_MAX 64
#define HISTORY_MAX ((size_t)1 << 20) /* heed_train_state.history, bytes */

static const char *vocab_dim_name(const heed_model *m, int k)
{
    for (int f = 0; f < m->n_fields; f++)
        if (m->fields[f].vocab == k)
            return m->syms[m->fields[f].vocab_sym].name;
    return "?";
}

#define OPT_M "__optim__.m."
#define OPT_V "__optim__.v."

/* Writes the parameters (and, with a training state, the optimizer's state
 * and the state itself) with the vocabularies, dims and graph hash. */
static heed_status save(const heed_weights *w, const heed_train_state *ts, const char *path,
                        heed_diag *diag)
{
    const heed_model *m = w->m;
    const heed_env *env = w->env;
    bool opt = ts && w->opt1;
    size_t n = (size_t)w->n_params * (opt ? 3 : 1);
    st_entry *e = heed_zalloc(env, n + 1, sizeof *e);
    int64_t *shapes = heed_zalloc(env, (size_t)w->n_params * HEED_MAX_RANK + 1, sizeof *shapes);
    char **names = opt ? heed_zalloc(env, 2 * (size_t)w->n_params + 1, sizeof *names) : NULL;
    const char *mk[META_MAX], *mv[META_MAX];
    char *owned[META_MAX];
    int n_meta = 0, n_owned = 0;
    char hash[32], keys[META_MAX][HEED_MAX_DIM_NAME + 16], nums[9][32], config[512];
    char *dims = NULL, *tokens = NULL; /* heed.dims and heed.tokens, sized by the model */
    heed_status st = HEED_OK;
    if (!e || !shapes || (opt && !names)) {
        st = heed_fail(diag, HEED_ERR_NOMEM, "out of memory saving weights");
        goto done;
    }
    for (int i = 0; i < w->n_params; i++) {
        const hp_param *p = &w->params[i];
        for (int d = 0; d < p->shape.rank; d++)
            shapes[i * HEED_MAX_RANK + d] = p->shape.d[d].v;
        e[i] = (st_entry){p->name, p->shape.rank, shapes + i * HEED_MAX_RANK, w->data + p->offset,
                          false};
        if (!opt)
            continue;
        size_t len = strlen(p->name) + sizeof OPT_M;
        names[2 * i] = heed_alloc(env, len);
        names[2 * i + 1] = heed_alloc(env, len);
        if (!names[2 * i] || !names[2 * i + 1]) {
            st = heed_fail(diag, HEED_ERR_NOMEM, "out of memory saving a checkpoint");
            goto done;
        }
        snprintf(names[2 * i], len, OPT_M "%s", p->name);
        snprintf(names[2 * i + 1], len, OPT_V "%s", p->name);
        e[w->n_params + 2 * i] = (st_entry){names[2 * i], p->shape.rank,
                                            shapes + i * HEED_MAX_RANK, w->opt1 + p->offset, false};
        e[w->n_params + 2 * i + 1] = (st_entry){names[2 * i + 1], p->shape.rank,
                                                shapes + i * HEED_MAX_RANK, w->opt2 + p->offset,
                                                false};
    }
    snprintf(hash, sizeof hash, "%016" PRIx64, m->hash);
    /* the fixed dims these weights were made with (they may differ from the
     * model's defaults, given with --dim) */
    size_t dims_cap = (size_t)m->n_syms * (HEED_MAX_DIM_NAME + 24) + 1;
    size_t tokens_cap = (size_t)m->n_fields * (HEED_MAX_VALUE_NAME + 8) + 1;
    dims = heed_alloc(env, dims_cap);
    tokens = heed_alloc(env, tokens_cap);
    if (!dims || !tokens) {
        st = heed_fail(diag, HEED_ERR_NOMEM, "out of memory saving weights");
        goto done;
    }
    heed_sbuf db;
    heed_sbuf_init(&db, dims, dims_cap);
    for (int i = 0; i < m->n_syms; i++)
        if (m->syms[i].kind == HM_SYM_FIXED)
            heed_sbuf_printf(&db, "%s%s=%lld", db.len ? "," : "", m->syms[i].name,
                             (long long)w->dimval[i]);
    mk[n_meta] = "heed.dims";
    mv[n_meta++] = dims;
    /* how each field was tokenised, which the vocabularies only make sense with */
    heed_sbuf_init(&db, tokens, tokens_cap);
    for (int f = 0; w->vocab && f < m->n_fields; f++)
        heed_sbuf_printf(&db, "%s%s=%s", db.len ? "," : "", m->fields[f].input,
                         hv_tokens_name(w->vocab->tokens[f]));
    if (w->vocab) {
        mk[n_meta] = "heed.tokens";
        mv[n_meta++] = tokens;
    }
    mk[n_meta] = "heed.model";
    mv[n_meta++] = m->name;
    mk[n_meta] = "heed.hash";
    mv[n_meta++] = hash;
    if (ts) {
        static const char *const tk[] = {"heed.train.steps", "heed.train.epoch",
                                         "heed.train.batch", "heed.train.seed",
                                         "heed.train.runs",  "heed.train.lr",
                                         "heed.train.rows",  "heed.train.loss_sum",
                                         "heed.train.loss_batches", "heed.train.config"};
        snprintf(nums[0], 32, "%lld", (long long)w->steps);
        snprintf(nums[1], 32, "%lld", (long long)ts->epoch);
        snprintf(nums[2], 32, "%lld", (long long)ts->batch);
        snprintf(nums[3], 32, "%llu", (unsigned long long)ts->seed);
        snprintf(nums[4], 32, "%lld", (long long)ts->runs);
        snprintf(nums[5], 32, "%.9g", (double)ts->lr); /* enough digits to round-trip */
        snprintf(nums[6], 32, "%lld", (long long)ts->rows);
        snprintf(nums[7], 32, "%.17g", ts->loss_sum);
        snprintf(nums[8], 32, "%lld", (long long)ts->loss_batches);
        hw_config_format(&w->train, config, sizeof config);
        for (int k = 0; k < 10; k++) {
            mk[n_meta] = tk[k];
            mv[n_meta++] = k < 9 ? nums[k] : config;
        }
        if (ts->history) {
            mk[n_meta] = "heed.train.history";
            mv[n_meta++] = ts->history;
        }
    }
    for (int k = 0; w->vocab && k < w->vocab->n && n_meta < META_MAX; k++) {
        char *json = hv_to_json(w->vocab, k);
        if (!json) {
            st = heed_fail(diag, HEED_ERR_NOMEM, "out of memory saving the vocabulary");
            goto done;
        }
        owned[n_owned++] = json;
        snprintf(keys[k], sizeof keys[k], "heed.vocab.%s", vocab_dim_name(m, k));
        mk[n_meta] = keys[k];
        mv[n_meta++] = json;
    }
    st = st_write(env, path, e, (int)n, mk, mv, n_meta, diag);
done:
    heed_dealloc(env, dims);
    heed_dealloc(env, tokens);
    for (int i = 0; i < n_owned; i++)
        heed_dealloc(env, owned[i]);
    for (int i = 0; names && i < 2 * w->n_params; i++)
        heed_dealloc(env, names[i]);
    heed_dealloc(env, names);
    heed_dealloc(env, e);
    heed_dealloc(env, shapes);
    return st;
}

heed_status heed_weights_save(const heed_weights *w, const char *path, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!w || !path)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_weights_save: NULL argument");
    return save(w, NULL, path, diag);
}

static bool any_token(void *user, const char *token, size_t len)
{
    (void)user, (void)token, (void)len;
    return true;
}

/* A checkpoint's history: UTF-8 (the header is JSON) of at most 1 MiB. */
static bool history_valid(const char *h)
{
    size_t n = strnlen(h, HISTORY_MAX + 1);
    return n <= HISTORY_MAX && hv_split(HM_TOK_CHARS, h, n, any_token, NULL);
}

heed_status heed_weights_save_checkpoint(const heed_weights *w, const heed_train_state *ts,
                                         const char *path, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!w || !ts || !path)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_weights_save_checkpoint: NULL argument");
    /* what heed_weights_load accepts back: a checkpoint it would refuse
     * must not replace a good one */
    if (w->steps > ((int64_t)1 << 53) || ts->epoch < 0 || ts->batch < 0 || ts->runs < 0 ||
        ts->rows < 0 || ts->loss_batches < 0 ||
        ts->epoch > ((int64_t)1 << 53) || ts->batch > ((int64_t)1 << 53) ||
        ts->runs > ((int64_t)1 << 53) || ts->rows > ((int64_t)1 << 53) ||
        ts->loss_batches > ((int64_t)1 << 53) ||
        !(ts->lr > 0.0f) || !isfinite(ts->lr) || !isfinite(ts->loss_sum) ||
        (ts->history && !history_valid(ts->history)))
        return heed_fail(diag, HEED_ERR_ARGUMENT,
                         "heed_weights_save_checkpoint: the state is not valid (counts from 0 "
                         "to 2^53, lr > 0 and finite, loss_sum finite, history UTF-8 of at "
                         "most 1 MiB)");
    return save(w, ts, path, diag);
}

heed_status heed_weights_train_state(const heed_weights *w, heed_train_state *out)
{
    if (!w || !out)
        return HEED_ERR_ARGUMENT;
    if (!w->has_state)
        return HEED_ERR_STATE;
    *out = w->state;
    return HEED_OK;
}

/* A checkpoint's count (steps, epoch, batch, runs): digits only, at most
 * 2^53 (a double's whole numbers), as a save accepts, so counting on from it
 * cannot overflow; absent is 0. */
static bool meta_count(const char *s, int64_t *out)
{
    *out = 0;
    if (!s)
        return true;
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 16)
        return false;
    unsigned long long v = strtoull(s, NULL, 10);
    *out = (int64_t)v;
    return v <= (1ULL << 53);
}

/* A checkpoint's optimizer state and training state, when the file has them. */
static heed_status load_training(heed_weights *w, const st_file *f, heed_diag *diag)
{
    const char *steps = st_meta(f, "heed.train.steps");
    if (!steps)
        return HEED_OK;
    heed_status st = hw_ensure_grad(w, diag);
    /* weights that never trained have no optimizer state, and save() writes
     * none: at step 0 absent moments are the zeros hw_ensure_grad made */
    bool step0 = strcmp(steps, "0") == 0;
    for (int i = 0; i < w->n_params && st == HEED_OK; i++) {
        const hp_param *p = &w->params[i];
        for (int k = 0; k < 2 && st == HEED_OK; k++) {
            char name[512];
            snprintf(name, sizeof name, "%s%s", k ? OPT_V : OPT_M, p->name);
            const st_tensor *t = st_find(f, name);
            if (!t && step0)
                continue;
            if (!t || strcmp(t->dtype, "F32") || t->end - t->begin != p->numel * 4) {
                heed_srcpos pos = {f->path, NULL, 0, 0};
                heed_diag_add(diag, HEED_ERR_WEIGHTS, &pos, NULL,
                              "checkpoint tensor '%s' is missing or has the wrong size", name);
                st = HEED_ERR_WEIGHTS;
                break;
            }
            memcpy((k ? w->opt2 : w->opt1) + p->offset, f->bytes + f->data_start + t->begin,
                   p->numel * 4);
        }
    }
    if (st != HEED_OK)
        return st;
    const char *config = st_meta(f, "heed.train.config");
    const char *epoch = st_meta(f, "heed.train.epoch"), *batch = st_meta(f, "heed.train.batch");
    const char *seed = st_meta(f, "heed.train.seed"), *runs = st_meta(f, "heed.train.runs");
    const char *lr = st_meta(f, "heed.train.lr");
    const char *rows = st_meta(f, "heed.train.rows"), *loss_sum = st_meta(f, "heed.train.loss_sum");
    const char *loss_batches = st_meta(f, "heed.train.loss_batches");
    const char *history = st_meta(f, "heed.train.history");
    char *end = NULL;
    errno = 0;
    w->state.seed = seed ? strtoull(seed, &end, 10) : 0;
    /* strtoull and strtof skip leading spaces and take a sign: digits only */
    bool seed_ok = !seed || (isdigit((unsigned char)seed[0]) && !*end && errno == 0);
    end = NULL;
    w->state.lr = lr ? strtof(lr, &end) : w->train.lr;
    bool lr_ok = (!lr || (hw_plain_number(lr) && !*end)) && w->state.lr > 0 &&
                 isfinite(w->state.lr);
    end = NULL;
    w->state.loss_sum = loss_sum ? strtod(loss_sum, &end) : 0.0;
    /* a loss (a Sum of a graph's values) may be negative, and so its sum */
    bool sum_ok = !loss_sum || (hw_plain_number(loss_sum + (loss_sum[0] == '-')) && !*end &&
                                isfinite(w->state.loss_sum));
    /* the first field that is not valid, named */
    const char *bad =
        !meta_count(steps, &w->steps)                          ? "heed.train.steps"
        : !meta_count(epoch, &w->state.epoch)                  ? "heed.train.epoch"
        : !meta_count(batch, &w->state.batch)                  ? "heed.train.batch"
        : !meta_count(runs, &w->state.runs)                    ? "heed.train.runs"
        : !meta_count(rows, &w->state.rows)                    ? "heed.train.rows"
        : !meta_count(loss_batches, &w->state.loss_batches)    ? "heed.train.loss_batches"
        : !seed_ok                                             ? "heed.train.seed"
        : !lr_ok                                               ? "heed.train.lr"
        : !sum_ok                                              ? "heed.train.loss_sum"
        : config && !hw_config_parse(config, &w->train)        ? "heed.train.config"
        : history && !history_valid(history)                   ? "heed.train.history"
                                                               : NULL;
    if (bad) {
        heed_srcpos pos = {f->path, NULL, 0, 0};
        heed_diag_add(diag, HEED_ERR_WEIGHTS, &pos, NULL,
                      "the checkpoint's training state is not valid: %s", bad);
        return HEED_ERR_WEIGHTS;
    }
    /* the file's bytes go with it: the history lives in the weights' pool */
    if (history && !(w->state.history = heed_pool_strdup(w->env, &w->pool, history)))
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory reading the checkpoint");
    w->train.lr = w->state.lr;
    w->has_state = true;
    return HEED_OK;
}

/* Reads the pair at *p of a metadata list "name=value,name=value" into name and
 * value and moves *p past it; false, *p unmoved, when it is not a pair or a
 * part does not fit. */
static bool meta_pair(const char **p, char *name, size_t name_cap, char *value, size_t value_cap)
{
    const char *s = *p, *eq = strchr(s, '='), *end = strchr(s, ',');
    if (!end)
        end = s + strlen(s);
    if (!eq || eq > end || (size_t)(eq - s) >= name_cap || (size_t)(end - eq - 1) >= value_cap)
        return false;
    memcpy(name, s, (size_t)(eq - s));
    name[eq - s] = '\0';
    memcpy(value, eq + 1, (size_t)(end - eq - 1));
    value[end - eq - 1] = '\0';
    *p = *end ? end + 1 : end;
    return true;
}

/* "src=chars,tgt=words" from the metadata onto the vocabularies (files
 * without it were written before fields could change their tokenisation and
 * keep the model's). Fields the model does not have are ignored, as dims are. */
static heed_status load_tokens(const heed_model *m, const st_file *f, heed_vocab *v,
                               heed_diag *diag)
{
    const char *p = st_meta(f, "heed.tokens");
    char name[HEED_MAX_VALUE_NAME + 1], mode[16], why[HEED_MAX_VALUE_NAME + 256];
    while (p && *p && meta_pair(&p, name, sizeof name, mode, sizeof mode)) {
        int k = hv_field(m, name);
        bool same = k >= 0 && !strcmp(mode, hv_tokens_name(m->fields[k].tokens));
        if (k >= 0 && !same && !hv_set_tokens(v, k, mode, why, sizeof why)) {
            heed_srcpos pos = {f->path, NULL, 0, 0};
            heed_diag_add(diag, HEED_ERR_WEIGHTS, &pos, NULL, "metadata heed.tokens: %s", why);
            return HEED_ERR_WEIGHTS;
        }
    }
    if (p && *p) {
        heed_srcpos pos = {f->path, NULL, 0, 0};
        heed_diag_add(diag, HEED_ERR_WEIGHTS, &pos, NULL,
                      "metadata heed.tokens is not a list of field=chars|words: '%s'", p);
        return HEED_ERR_WEIGHTS;
    }
    return HEED_OK;
}

static heed_status load_vocab(const heed_model *m, const st_file *f, heed_vocab **out,
                              heed_diag *diag)
{
    *out = NULL;
    if (m->n_vocabs == 0)
        return HEED_OK;
    heed_vocab *v = hv_new(m);
    if (!v)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    for (int k = 0; k < m->n_vocabs; k++) {
        char key[HEED_MAX_DIM_NAME + 16];
        snprintf(key, sizeof key, "heed.vocab.%s", vocab_dim_name(m, k));
        const char *json = st_meta(f, key);
        heed_status st;
        const char *saved_model = st_meta(f, "heed.model");
        if (!json && saved_model && strcmp(saved_model, m->name) != 0) {
            /* the likelier mistake: another model's weights */
            heed_srcpos pos = {f->path, NULL, 0, 0};
            heed_diag_add(diag, HEED_ERR_WEIGHTS, &pos, NULL,
                          "the file holds weights of model '%s', not '%s' (it has no vocabulary "
                          "'%s')",
                          saved_model, m->name, vocab_dim_name(m, k));
            st = HEED_ERR_WEIGHTS;
        } else if (!json) {
            heed_srcpos pos = {f->path, NULL, 0, 0};
            heed_diag_add(diag, HEED_ERR_WEIGHTS, &pos, NULL,
                          "the file has no vocabulary '%s' (metadata %s); weights for a model "
                          "with data: fields are written by heed train",
                          vocab_dim_name(m, k), key);
            st = HEED_ERR_WEIGHTS;
        } else {
            st = hv_from_json(v, k, json, diag, f->path, key);
        }
        if (st != HEED_OK) {
            heed_vocab_free(v);
            return st;
        }
    }
    heed_status st = load_tokens(m, f, v, diag);
    if (st != HEED_OK) {
        heed_vocab_free(v);
        return st;
    }
    *out = v;
    return HEED_OK;
}

/* Whether the model compiles at its own dims (defaults for the rest), as
 * heed_plan_new does: a plan only, nothing the size of its parameters. */
static bool model_sizes_work(const heed_model *m)
{
    heed_diag scratch;
    heed_plan *p;
    if (heed_plan_new(m, NULL, 0, HEED_MODE_INFER, &p, &scratch) != HEED_OK)
        return false;
    heed_plan_free(p);
    return true;
}

/* The model could not be sized as file `f` says (its heed.dims, its
 * vocabularies): the errors, which point into the model file, follow a
 * first one naming the weights file that brought the sizes. */
static heed_status sizes_refused(const heed_model *m, const st_file *f, bool own_dims,
                                 heed_diag *diag)
{
    if (!diag)
        return HEED_ERR_WEIGHTS;
    heed_diag why = *diag;
    heed_diag_clear(diag);
    const char *dims = st_meta(f, "heed.dims");
    heed_srcpos pos = {f->path, NULL, 0, 0};
    if (own_dims)
        /* the caller's dims (the model's and --dim): the file may have been
         * saved at others, which it names */
        heed_diag_add(diag, HEED_ERR_WEIGHTS, &pos, NULL,
                      "model '%s' at the dims given does not fit this file%s%s%s:", m->name,
                      dims ? " (saved with heed.dims '" : "", dims ? dims : "",
                      dims ? "'; give those dims to load it)" : "");
    else
        heed_diag_add(diag, HEED_ERR_WEIGHTS, &pos, NULL,
                      "model '%s' cannot be sized as this file says (heed.dims '%s'%s):",
                      m->name, dims ? dims : "", m->n_vocabs ? " and its vocabularies" : "");
    size_t len = strlen(diag->text);
    snprintf(diag->text + len, sizeof diag->text - len, "%s", why.text);
    return HEED_ERR_WEIGHTS;
}

/* "E=16,H=256" from the metadata into dims the model knows (others ignored:
 * a mismatch then shows as mismatched tensors), their names pointing into
 * `text`, which is split in place. False when the text is not such a list: a
 * count that is not a whole number from 1 to 2^31. `dims` has room for the
 * model's dims. */
static bool parse_dims(const heed_model *m, char *text, heed_dim *dims, size_t *n_out)
{
    size_t n = 0;
    *n_out = 0;
    for (char *item = text; item && *item;) {
        char *comma = strchr(item, ','), *eq = strchr(item, '=');
        if (comma)
            *comma = '\0';
        if (!eq || (comma && eq > comma) || eq == item)
            return false;
        *eq = '\0';
        char *end;
        errno = 0;
        long long v = strtoll(eq + 1, &end, 10);
        if (!eq[1] || isspace((unsigned char)eq[1]) || *end || errno || v <= 0 ||
            v > HEED_MAX_DIM_VALUE)
            return false;
        int sym = hm_sym_find(m, item);
        /* only fixed dims: vocabulary sizes come from the vocabularies; a
         * dim given twice is not a list heed writes */
        for (size_t k = 0; k < n; k++)
            if (!strcmp(dims[k].name, item))
                return false;
        if (sym >= 0 && m->syms[sym].kind == HM_SYM_FIXED && n < (size_t)m->n_syms)
            dims[n++] = (heed_dim){item, v};
        item = comma ? comma + 1 : NULL;
    }
    *n_out = n;
    return true;
}

static void shape_text(char *buf, size_t cap, int rank, const int64_t *d)
{
    heed_sbuf s;
    heed_sbuf_init(&s, buf, cap);
    heed_sbuf_printf(&s, "[");
    for (int i = 0; i < rank; i++)
        heed_sbuf_printf(&s, "%s%lld", i ? "," : "", (long long)d[i]);
    heed_sbuf_printf(&s, "]");
}

typedef struct match_report {
    int matched, missing, unexpected, mismatched;
} match_report;

/* Compares the file's tensors with the weights' parameters; copies matches. */
static match_report match_tensors(heed_weights *w, const st_file *f, heed_diag *notes,
                                  bool copy)
{
    match_report r = {0};
    char a[128], b[128];
    for (int i = 0; i < w->n_params; i++) {
        const hp_param *p = &w->params[i];
        const st_tensor *t = st_find(f, p->name);
        if (!t) {
            r.missing++;
            heed_diag_note(notes, "missing: %s", p->name);
            continue;
        }
        int64_t want[HEED_MAX_RANK];
        bool same = t->rank == p->shape.rank && !strcmp(t->dtype, "F32");
        for (int d = 0; d < p->shape.rank; d++) {
            want[d] = p->shape.d[d].v;
            same = same && d < t->rank && t->shape[d] == want[d];
        }
        if (!same) {
            r.mismatched++;
            shape_text(a, sizeof a, t->rank, t->shape);
            shape_text(b, sizeof b, p->shape.rank, want);
            heed_diag_note(notes, "mismatched: %s is %s %s in the file, the model needs F32 %s",
                           p->name, strcmp(t->dtype, "F32") ? "non-F32" : "F32", a, b);
            continue;
        }
        r.matched++;
        if (copy)
            memcpy(w->data + p->offset, f->bytes + f->data_start + t->begin, p->numel * 4);
    }
    for (int i = 0; i < f->n; i++) {
        /* a checkpoint's optimizer state is read separately */
        bool known = !strncmp(f->t[i].name, "__optim__.", 10);
        for (int k = 0; k < w->n_params && !known; k++)
            known = !strcmp(w->params[k].name, f->t[i].name);
        if (!known) {
            r.unexpected++;
            heed_diag_note(notes, "unexpected: %s", f->t[i].name);
        }
    }
    return r;
}

/* heed_weights_load, at the file's dims (own_dims false) or at the model's
 * with `dims` on top (heed_weights_load_dims). */
static heed_status load_weights(const heed_model *m, const char *path, unsigned flags,
                                bool own_dims, const heed_dim *given, size_t n_given,
                                heed_weights **out, heed_diag *diag)
{
    *out = NULL;
    st_file *f;
    heed_status st = st_read(&m->env, path, &f, diag);
    if (st != HEED_OK)
        return st;
    heed_vocab *vocab;
    if ((st = load_vocab(m, f, &vocab, diag)) != HEED_OK) {
        st_free(f);
        return st;
    }
    const heed_dim *dims = given;
    size_t n_dims = n_given;
    heed_dim *saved = NULL;
    char *copy = NULL; /* heed.dims, split in place: the saved dims' names */
    if (!own_dims) {
        const char *text = st_meta(f, "heed.dims");
        saved = heed_zalloc(&m->env, (size_t)m->n_syms + 1, sizeof *saved);
        copy = text ? heed_strdup(&m->env, text) : NULL;
        if (!saved || (text && !copy)) {
            st = heed_fail(diag, HEED_ERR_NOMEM, "out of memory reading %s", path);
        } else if (copy && !parse_dims(m, copy, saved, &n_dims)) {
            heed_srcpos pos = {f->path, NULL, 0, 0};
            heed_diag_add(diag, HEED_ERR_WEIGHTS, &pos, NULL,
                          "metadata heed.dims '%.200s' is not a list of NAME=N (N from 1 to "
                          "2^31)",
                          text);
            st = HEED_ERR_WEIGHTS;
        }
        if (st != HEED_OK) {
            heed_dealloc(&m->env, saved);
            heed_dealloc(&m->env, copy);
            st_free(f);
            heed_vocab_free(vocab);
            return st;
        }
        if (!copy)
            n_dims = 0;
        dims = saved;
    }
    /* a file's metadata cannot make us allocate more than it could fill
     * (parameters are padded to 64 bytes each, hence the slack) */
    size_t data = f->size - f->data_start, slack = 64 * (size_t)(f->n + 1) + 4096;
    size_t cap = flags & HEED_LOAD_PARTIAL ? (data > (1u << 30) ? data : (1u << 30)) : data + slack;
    heed_weights *w;
    st = hw_create(m, vocab, dims, n_dims, cap, &w, diag);
    heed_vocab_free(vocab);
    heed_dealloc(&m->env, saved);
    heed_dealloc(&m->env, copy);
    if (st != HEED_OK) {
        /* the file's sizes are to blame only if the model's own ones work */
        if (st != HEED_ERR_NOMEM && model_sizes_work(m))
            st = sizes_refused(m, f, own_dims, diag);
        st_free(f);
        return st;
    }
    hw_init_params(w, m->train.seed);
    heed_diag notes;
    heed_diag_clear(&notes);
    match_report r = match_tensors(w, f, &notes, true);
    bool exact = r.missing == 0 && r.unexpected == 0 && r.mismatched == 0;
    if (!exact && (!(flags & HEED_LOAD_PARTIAL) || r.matched == 0)) {
        heed_srcpos pos = {path, NULL, 0, 0};
        const char *file_dims = st_meta(f, "heed.dims");
        bool other_dims = own_dims && file_dims && r.mismatched;
        heed_diag_add(diag, HEED_ERR_WEIGHTS, &pos, NULL,
                      "the file does not match model '%s': %d matched, %d missing, %d "
                      "unexpected, %d mismatched%s%s%s%s",
                      m->name, r.matched, r.missing, r.unexpected, r.mismatched,
                      r.matched && !(flags & HEED_LOAD_PARTIAL)
                          ? " (a partial match loads only when asked for: HEED_LOAD_PARTIAL, "
                            "heed train --init --partial)"
                          : "",
                      other_dims ? "; it was saved with heed.dims '" : "",
                      other_dims ? file_dims : "", other_dims ? "'" : "");
        if (diag) {
            /* the list of tensors follows the message */
            size_t len = strlen(diag->text);
            snprintf(diag->text + len, sizeof diag->text - len, "%s", notes.text);
        }
        heed_weights_free(w);
        st_free(f);
        return HEED_ERR_WEIGHTS;
    }
    if (!exact)
        heed_log(&m->env, HEED_LOG_WARN,
                 "%s: partial match: %d matched, %d missing (initialised), %d unexpected "
                 "(ignored), %d mismatched (initialised)",
                 path, r.matched, r.missing, r.unexpected, r.mismatched);
    /* a partial match has no complete optimizer state to restore */
    bool state = exact && !(flags & HEED_LOAD_WEIGHTS_ONLY);
    if (state && (st = load_training(w, f, diag)) != HEED_OK) {
        heed_weights_free(w);
        st_free(f);
        return st;
    }
    const char *hash = st_meta(f, "heed.hash");
    char mine[32];
    snprintf(mine, sizeof mine, "%016" PRIx64, m->hash);
    /* a partial match has said so already; this is for an exact one */
    if (exact && hash && strcmp(hash, mine) != 0)
        heed_log(&m->env, HEED_LOG_WARN,
                 "%s was saved from a different version of the graph (hash %s, this model %s); "
                 "all tensors matched by name and shape",
                 path, hash, mine);
    st_free(f);
    *out = w;
    return HEED_OK;
}

heed_status heed_weights_load(const heed_model *m, const char *path, unsigned flags,
                              heed_weights **out, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!m || !path || !out)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_weights_load: NULL argument");
    return load_weights(m, path, flags, false, NULL, 0, out, diag);
}

heed_status heed_weights_load_dims(const heed_model *m, const char *path, unsigned flags,
                                   const heed_dim *dims, size_t n_dims, heed_weights **out,
                                   heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!m || !path || !out || (!dims && n_dims))
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_weights_load_dims: NULL argument");
    return load_weights(m, path, flags, true, dims, n_dims, out, diag);
}
