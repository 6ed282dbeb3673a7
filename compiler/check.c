/*
 * check.c - the YAML tree to the model IR, checking everything the language
 * says and reporting every error of the file (not just the first).
 *
 * Order: top-level keys, dims, inputs, data, then nodes (expanding blocks),
 * the loss, references, dtypes, a topological order (cycles), dim names,
 * outputs, train and decode settings, and last the graph hash.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define MAX_BLOCK_INPUTS 16

typedef struct scope scope;
struct scope {
    const scope *parent;
    const hy_node *block;    /* the block definition being expanded (NULL at top) */
    const char *prefix;      /* full name prefix of nodes made here: "layers.0." */
    const hy_node *locals;   /* the block's nodes (NULL at top level) */
    const hy_node *params;   /* the block's parameters with defaults */
    const hy_node *instance; /* the instance mapping giving parameter values */
    int n_inputs;
    const char *in_names[MAX_BLOCK_INPUTS];
    const char *in_bound[MAX_BLOCK_INPUTS]; /* full value names */
    const hm_ref *in_via[MAX_BLOCK_INPUTS]; /* where the instance gave each (or NULL) */
    int depth;
};

typedef struct alias {
    const char *name;
    const char *target;
    const hy_node *at;
} alias;

typedef struct checker {
    heed_model *m;
    heed_diag *diag;
    int errors;
    bool nomem;
    size_t expansions; /* block instances expanded so far */
    size_t echoes;     /* errors not said again, as a block's copies repeat them */
    const hy_node *blocks;
    alias *aliases;
    size_t n_alias, cap_alias;
    const char **failed; /* nodes reported already (an unknown op): no follow-on errors */
    size_t n_failed, cap_failed;
    uint64_t *said;      /* each reported error: its place and its text without the node */
    size_t n_said, cap_said;
    bool echo;           /* the last error repeated one already said: no notes for it */
    size_t cap_nodes, cap_values, cap_syms;
} checker;

/* ------------------------------------------------------------ errors */

static void err(checker *ck, const char *node, const hy_node *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Past this many errors the rest of the file is not checked (as C compilers
 * do): a hostile file whose nested blocks multiply one mistake would otherwise
 * take exponential time, and the first twenty say what is wrong. Echoes (the
 * same error in another copy of a block) are not said but count as work:
 * past MAX_ECHOES of them, or past the instance limit, checking stops too. */
#define MAX_ERRORS 20
/* "; did you mean 'x'?" for a name of the longest kind */
#define SUGGEST_CAP (HEED_MAX_VALUE_NAME + 32)
#define MAX_ECHOES 4096

static bool stopped(const checker *ck)
{
    return ck->nomem || ck->errors > MAX_ERRORS || ck->echoes > MAX_ECHOES ||
           ck->expansions > HEED_MAX_NODES || ck->m->n_nodes > HEED_MAX_NODES;
}

/* Whether an error repeats one already said: the same place and the same
 * text but for the node's name and the copies' indices (digits right after
 * a dot, as in 'stack.0.res'), as every copy of a block, repeated or
 * nested, repeats its mistake. Records it otherwise (a full record only
 * loses the check). */
static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.';
}

static bool echoes(checker *ck, const hy_node *at, const char *node, const char *msg)
{
    uint64_t h = heed_hash_bytes(HEED_HASH_INIT, &at, sizeof at);
    size_t n = node ? strlen(node) : 0;
    for (const char *p = msg; *p; p++) {
        /* the node's name as a whole word: a one-letter name is not taken
         * out of the words around it */
        if (n && !strncmp(p, node, n) && (p == msg || !name_char(p[-1])) && !name_char(p[n])) {
            p += n - 1;
            continue;
        }
        h = heed_hash_bytes(h, p, 1);
        if (*p == '.')
            while (p[1] >= '0' && p[1] <= '9')
                p++;
    }
    for (size_t i = 0; i < ck->n_said; i++)
        if (ck->said[i] == h)
            return true;
    if (heed_grow(&ck->m->env, (void **)&ck->said, &ck->cap_said, ck->n_said + 1,
                  sizeof *ck->said))
        ck->said[ck->n_said++] = h;
    return false;
}

static void err(checker *ck, const char *node, const hy_node *at, const char *fmt, ...)
{
    if (ck->errors >= MAX_ERRORS) {
        if (ck->errors == MAX_ERRORS)
            heed_diag_close(ck->diag, "more than %d errors; the rest of the file was not checked",
                            MAX_ERRORS);
        ck->errors++;
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* an echo is not said again nor counted towards the limit: the node
     * limit bounds how many copies a block can make */
    ck->echo = echoes(ck, at, node, msg);
    if (ck->echo) {
        if (++ck->echoes == MAX_ECHOES + 1)
            heed_diag_close(ck->diag,
                            "the errors above repeat in more than %d copies of blocks; the rest "
                            "of the file was not checked",
                            MAX_ECHOES);
        return;
    }
    heed_srcpos pos = hm_pos(ck->m, at);
    heed_diag_add(ck->diag, HEED_ERR_MODEL, &pos, node, "%s", msg);
    ck->errors++;
}

static void nomem(checker *ck)
{
    if (!ck->nomem)
        heed_fail(ck->diag, HEED_ERR_NOMEM, "out of memory while checking the model");
    ck->nomem = true;
    ck->errors++;
}

/* "; did you mean 'x'?" or "". Past the error limit the message is dropped,
 * so the search (which can compare against thousands of names) is skipped. */
static const char *suggest(const checker *ck, char *buf, size_t cap, const char *word,
                           const char *const *cands, size_t n)
{
    const char *best = ck->errors < MAX_ERRORS ? heed_did_you_mean(word, cands, n) : NULL;
    if (best)
        snprintf(buf, cap, "; did you mean '%s'?", best);
    else
        buf[0] = '\0';
    return buf;
}

static void note_list(checker *ck, const char *what, const char *const *names, size_t n)
{
    if (ck->errors > MAX_ERRORS || ck->echo)
        return; /* its error was dropped */
    char buf[900];
    heed_sbuf s;
    heed_sbuf_init(&s, buf, sizeof buf);
    for (size_t i = 0; i < n; i++)
        heed_sbuf_printf(&s, "%s%s", i ? ", " : "", names[i]);
    heed_diag_note(ck->diag, "%s: %s", what, buf);
}

/* ------------------------------------------------------------ helpers */

heed_srcpos hm_pos(const heed_model *m, const hy_node *at)
{
    return hy_pos(m->doc, at);
}

char *hm_strdup(heed_model *m, const char *s)
{
    return heed_pool_strdup(&m->env, &m->pool, s);
}

static char *cat(checker *ck, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = heed_pool_alloc(&ck->m->env, &ck->m->pool, la + lb + 1);
    if (!p) {
        nomem(ck);
        return NULL;
    }
    memcpy(p, a, la);
    memcpy(p + la, b, lb + 1);
    return p;
}

static bool is_ident(const char *s)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

/* A value reference: identifiers joined by dots ("enc", "enc.state", "l.0.attn"). */
static bool is_ref(const char *s)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.'))
            return false;
    return s[0] != '.' && s[strlen(s) - 1] != '.' && !strstr(s, "..");
}

static const char *scalar(const hy_node *n)
{
    return n && n->kind == HY_SCALAR ? n->str : NULL;
}

int hm_sym_find(const heed_model *m, const char *name)
{
    for (int i = 0; i < m->n_syms; i++)
        if (strcmp(m->syms[i].name, name) == 0)
            return i;
    return -1;
}

int hm_value_find(const heed_model *m, const char *name)
{
    return heed_strmap_get(&m->value_names, name);
}

int hm_attr_index(const heed_op *op, const char *name)
{
    heed_flat_attr flat[HEED_MAX_ATTRS];
    int n = heed_flatten_attrs(op->attrs, flat, HEED_MAX_ATTRS);
    for (int i = 0; i < n; i++)
        if (strcmp(flat[i].name, name) == 0)
            return i;
    return -1;
}

static int add_sym(checker *ck, const char *name, hm_sym_kind kind, const hy_node *at)
{
    heed_model *m = ck->m;
    /* said, then kept: its uses are not reported as unbound too */
    if (strlen(name) > HEED_MAX_DIM_NAME)
        err(ck, NULL, at, "dim name '%.32s...' is longer than %d bytes", name,
            HEED_MAX_DIM_NAME);
    if (!heed_grow(&m->env, (void **)&m->syms, &ck->cap_syms, (size_t)m->n_syms + 1,
                   sizeof *m->syms)) {
        nomem(ck);
        return -1;
    }
    hm_sym *s = &m->syms[m->n_syms];
    memset(s, 0, sizeof *s);
    s->name = hm_strdup(m, name);
    if (!s->name) {
        nomem(ck);
        return -1;
    }
    s->kind = kind;
    s->at = at;
    return m->n_syms++;
}

static const char **sym_names(checker *ck, size_t *n)
{
    heed_model *m = ck->m;
    const char **names = heed_pool_alloc(&m->env, &m->pool, sizeof(char *) * (m->n_syms + 1));
    if (!names) {
        nomem(ck);
        *n = 0;
        return NULL;
    }
    for (int i = 0; i < m->n_syms; i++)
        names[i] = m->syms[i].name;
    *n = (size_t)m->n_syms;
    return names;
}

/* ------------------------------------------------------------ dims */

/* Parses "H", "256", "2*H": calls back with each factor. */
typedef bool (*factor_fn)(void *user, const char *name, int64_t lit);

static bool each_factor(const char *text, factor_fn fn, void *user)
{
    char buf[8 * (HEED_MAX_DIM_NAME + 4)]; /* a product of eight dims of the longest names */
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, text, n + 1);
    char *save = NULL;
    int terms = 0;
    for (char *t = strtok_r(buf, "*", &save); t; t = strtok_r(NULL, "*", &save)) {
        while (*t == ' ')
            t++;
        char *e = t + strlen(t);
        while (e > t && e[-1] == ' ')
            *--e = '\0';
        terms++;
        if (isdigit((unsigned char)*t)) {
            char *end;
            long long v = strtoll(t, &end, 10);
            if (*end || v <= 0 || v > HEED_MAX_DIM_VALUE)
                return false;
            if (!fn(user, NULL, v))
                return false;
        } else if (is_ident(t)) {
            if (!fn(user, t, 0))
                return false;
        } else {
            return false;
        }
    }
    /* "2**H" or a trailing "*" leave empty terms that strtok skips */
    size_t stars = 0;
    for (const char *p = text; *p; p++)
        stars += *p == '*';
    return terms > 0 && stars == (size_t)terms - 1;
}

typedef struct eval_state {
    const heed_model *m;
    const int64_t *vals;
    int64_t product;
    int terms;
    int sym;
    const char *runtime; /* a run-time dim among the factors, or NULL */
    char *err;
    size_t err_cap;
} eval_state;

static bool eval_factor(void *user, const char *name, int64_t lit)
{
    eval_state *e = user;
    int64_t v = lit;
    e->terms++;
    e->sym = -1;
    if (name) {
        int s = hm_sym_find(e->m, name);
        if (s < 0) {
            snprintf(e->err, e->err_cap, "unbound dim '%s'", name);
            return false;
        }
        v = e->vals ? e->vals[s] : -1;
        if (v < 0) {
            snprintf(e->err, e->err_cap, "dim '%s' has no value (give it with --dim %s=N)", name,
                     name);
            return false;
        }
        /* run-time and vocabulary dims keep their name when used alone */
        if (e->m->syms[s].kind != HM_SYM_FIXED)
            e->sym = s;
        if (e->m->syms[s].kind == HM_SYM_RUNTIME && !e->runtime)
            e->runtime = e->m->syms[s].name;
    }
    if (__builtin_mul_overflow(e->product, v, &e->product) || e->product > HEED_MAX_DIM_VALUE) {
        snprintf(e->err, e->err_cap, "dim product is too large");
        return false;
    }
    return true;
}

bool hm_eval_dim(const heed_model *m, const char *text, const int64_t *vals, heed_dimv *out,
                 char *err, size_t err_cap)
{
    eval_state e = {m, vals, 1, 0, -1, NULL, err, err_cap};
    err[0] = '\0';
    if (!each_factor(text, eval_factor, &e)) {
        if (!err[0])
            snprintf(err, err_cap, "'%s' is not a dim (a positive number, a dim name or a "
                                   "product such as 2*H)",
                     text);
        return false;
    }
    /* a dim attribute sizes parameters (or counts layers): a run-time dim,
     * bound by each batch, would change them from batch to batch */
    if (e.runtime) {
        snprintf(err, err_cap, "'%s' depends on the run-time dim '%s' (bound by each batch's "
                               "inputs); sizes of parameters must be fixed: numbers, dims: or "
                               "--dim",
                 text, e.runtime);
        return false;
    }
    out->v = e.product;
    out->sym = e.terms == 1 ? e.sym : -1;
    return true;
}

#define MAX_PARAM_NAMES 64

/* The parameter names a plain value written inside `sc` may use (those of
 * the blocks it is in): a misspelt one reads as an unknown dim or choice,
 * so they are candidates for its did-you-mean. */
static size_t param_names(const scope *sc, const hy_node *v, const char **names)
{
    size_t n = 0;
    if (!v || v->kind != HY_SCALAR || !v->plain || !is_ident(v->str))
        return 0; /* only a whole plain name is a parameter's */
    for (; sc; sc = sc->parent)
        for (size_t i = 0; sc->params && sc->params->kind == HY_MAP && i < sc->params->n &&
                           n < MAX_PARAM_NAMES;
             i++)
            if (scalar(hy_key(sc->params, i)))
                names[n++] = hy_key(sc->params, i)->str;
    return n;
}

typedef struct dimcheck {
    checker *ck;
    const scope *sc; /* where the value was written, or NULL outside nodes */
    const char *node;
    const hy_node *at;
    bool ok;
} dimcheck;

static bool check_factor(void *user, const char *name, int64_t lit)
{
    (void)lit;
    dimcheck *d = user;
    if (!name || hm_sym_find(d->ck->m, name) >= 0)
        return true;
    size_t n;
    const char **names = sym_names(d->ck, &n);
    const char *params[MAX_PARAM_NAMES];
    size_t n_params = param_names(d->sc, d->at, params);
    /* a parameter's name left over is a value that named another
     * parameter (a default such as {a: b, b: 5}): substituted once, not
     * again, so listing the parameters would suggest it should work */
    bool chained = false;
    for (size_t i = 0; i < n_params && !chained; i++)
        chained = !strcmp(params[i], name);
    char sug[SUGGEST_CAP];
    sug[0] = '\0';
    if (chained)
        snprintf(sug, sizeof sug, " (the value of a parameter names parameter '%s'; a "
                                  "parameter's value is not substituted again: give the value "
                                  "itself)", name);
    else if (names)
        suggest(d->ck, sug, sizeof sug, name, names, n);
    if (!chained && (!names || !sug[0]))
        suggest(d->ck, sug, sizeof sug, name, params, n_params);
    err(d->ck, d->node, d->at, "%s%s%sunbound dim '%s'%s", d->node ? "node '" : "",
        d->node ? d->node : "", d->node ? "': " : "", name, sug);
    if (names && n && !chained)
        note_list(d->ck, "dims are bound in dims:, by input shapes or by data vocabularies", names,
                  n);
    if (n_params && !chained)
        note_list(d->ck, "parameters of the blocks it is in", params, n_params);
    d->ok = false;
    return true;
}

static void check_dim_names(checker *ck, const char *node, const hy_node *v)
{
    dimcheck d = {ck, NULL, node, v, true};
    each_factor(v->str, check_factor, &d);
}

/* ------------------------------------------------------------ scalar checks */

/* An integer attribute (or a literal dim) within the attribute's [lo, hi], when it has one. */
static bool int_in_range(checker *ck, const char *node, const char *key, const heed_attr *a,
                         const hy_node *v, int64_t x)
{
    if (!(a->lo < a->hi) || (x >= a->lo && x <= a->hi))
        return true;
    err(ck, node, v, "%s%s%s'%s' is %lld, outside [%.15g, %.15g]", node ? "node '" : "",
        node ? node : "", node ? "': " : "", key, (long long)x, a->lo, a->hi);
    return false;
}

/* Why a value that reads as a number or boolean was refused as one: YAML
 * makes a quoted scalar text. */
static const char *quoted(const hy_node *v)
{
    return v && v->kind == HY_SCALAR && !v->plain ? " (it is in quotes, which make it text: "
                                                    "write it without them)"
                                                  : "";
}

/* Checks value `v` of attribute `a`, written inside scope `sc` (NULL
 * outside nodes). */
static bool check_value(checker *ck, const scope *sc, const char *node, const char *key,
                        const heed_attr *a, const hy_node *v)
{
    const char *ctx = node ? node : "";
    char sep[8] = "";
    if (node)
        snprintf(sep, sizeof sep, "%s", "': ");
#define WHO node ? "node '" : "", ctx, sep
    switch (a->kind) {
    case HEED_A_INT: {
        int64_t x;
        if (!hy_int(v, &x)) {
            err(ck, node, v, "%s%s%s'%s' must be an integer, not '%s'%s", WHO, key,
                v->kind == HY_SCALAR ? v->str : hy_kind_name(v->kind), quoted(v));
            return false;
        }
        return int_in_range(ck, node, key, a, v, x);
    }
    case HEED_A_FLOAT: {
        double x;
        if (!hy_float(v, &x)) {
            err(ck, node, v, "%s%s%s'%s' must be a number, not '%s'%s", WHO, key,
                v->kind == HY_SCALAR ? v->str : hy_kind_name(v->kind), quoted(v));
            return false;
        }
        if (!isfinite(x)) {
            err(ck, node, v, "%s%s%s'%s' must be finite, not %s", WHO, key, v->str);
            return false;
        }
        if (a->lo < a->hi && (x < a->lo || x > a->hi)) {
            err(ck, node, v, "%s%s%s'%s' is %g, outside [%.15g, %.15g]", WHO, key, x, a->lo, a->hi);
            return false;
        }
        return true;
    }
    case HEED_A_BOOL: {
        bool b;
        if (!hy_bool(v, &b)) {
            err(ck, node, v, "%s%s%s'%s' must be " HY_BOOL_SPELLINGS ", not '%s'%s", WHO, key,
                v->kind == HY_SCALAR ? v->str : hy_kind_name(v->kind), quoted(v));
            return false;
        }
        return true;
    }
    case HEED_A_DIM: {
        int64_t x;
        if (hy_int(v, &x)) {
            if (x <= 0 || x > HEED_MAX_DIM_VALUE) {
                err(ck, node, v, "%s%s%s'%s' must be a positive dim, not %lld", WHO, key,
                    (long long)x);
                return false;
            }
            return int_in_range(ck, node, key, a, v, x);
        }
        dimcheck d = {ck, sc, node, v, true};
        /* quotes make a number text, as for integers and shapes; a quoted
         * dim name is still a name */
        bool text = v->kind == HY_SCALAR && !v->plain && !is_ident(v->str);
        if (v->kind != HY_SCALAR || text || !each_factor(v->str, check_factor, &d)) {
            err(ck, node, v,
                "%s%s%s'%s' must be a dim (a positive number, a dim name or a product such as "
                "2*H), not '%s'%s",
                WHO, key, v->kind == HY_SCALAR ? v->str : hy_kind_name(v->kind), quoted(v));
            return false;
        }
        return d.ok;
    }
    case HEED_A_CHOICE: {
        const char *s = scalar(v);
        char buf[256];
        const char *opts[16 + MAX_PARAM_NAMES];
        size_t n = 0;
        snprintf(buf, sizeof buf, "%s", a->choices);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t && n < 16; t = strtok_r(NULL, ",", &save))
            opts[n++] = t;
        for (size_t i = 0; s && i < n; i++)
            if (strcmp(s, opts[i]) == 0)
                return true;
        /* a misspelt parameter name is as likely as a misspelt choice */
        n += param_names(sc, v, opts + n);
        char sug[SUGGEST_CAP];
        err(ck, node, v, "%s%s%s'%s' must be one of %s, not '%s'%s", WHO, key, a->choices,
            s ? s : hy_kind_name(v->kind), s ? suggest(ck, sug, sizeof sug, s, opts, n) : "");
        return false;
    }
    case HEED_A_INPUT:
        if (!is_ref(scalar(v))) {
            err(ck, node, v, "%s%s%s'%s' must name one value, not %s%s%s", WHO, key,
                v->kind == HY_SCALAR ? "'" : "", v->kind == HY_SCALAR ? v->str
                                                                       : hy_kind_name(v->kind),
                v->kind == HY_SCALAR ? "'" : "");
            return false;
        }
        return true;
    case HEED_A_INPUTS:
        if (v->kind == HY_SEQ) {
            bool ok = v->n > 0;
            if (!ok)
                err(ck, node, v, "%s%s%s'%s' is an empty list", WHO, key);
            for (size_t i = 0; i < v->n; i++) {
                if (!is_ref(scalar(v->kids[i]))) {
                    err(ck, node, v->kids[i], "%s%s%s'%s' items must name values", WHO, key);
                    ok = false;
                }
            }
            return ok;
        }
        if (!is_ref(scalar(v))) {
            err(ck, node, v, "%s%s%s'%s' must name a value or list values", WHO, key);
            return false;
        }
        return true;
    case HEED_A_MAP:
        if (v->kind != HY_MAP) {
            err(ck, node, v, "%s%s%s'%s' must be a mapping, not %s", WHO, key,
                hy_kind_name(v->kind));
            return false;
        }
        return true;
    case HEED_A_LIST:
        if (v->kind != HY_SEQ) {
            err(ck, node, v, "%s%s%s'%s' must be a list, not %s", WHO, key, hy_kind_name(v->kind));
            return false;
        }
        return true;
    case HEED_A_STRING:
        if (v->kind != HY_SCALAR) {
            err(ck, node, v, "%s%s%s'%s' must be text, not %s", WHO, key, hy_kind_name(v->kind));
            return false;
        }
        return true;
    }
#undef WHO
    return false;
}

/*
 * Checks a mapping against a schema: unknown keys (with did-you-mean), value
 * types, required keys. `found[i]` receives the value of attrs[i] (or NULL).
 */
static void check_section(checker *ck, const char *what, const hy_node *map,
                          const heed_attr *attrs, const hy_node **found)
{
    int n = 0;
    const char *names[HEED_MAX_ATTRS];
    for (const heed_attr *a = attrs; a->name; a++) {
        found[n] = NULL;
        names[n++] = a->name;
    }
    if (!map)
        return;
    if (map->kind != HY_MAP) {
        err(ck, NULL, map, "'%s' must be a mapping, not %s", what, hy_kind_name(map->kind));
        return;
    }
    for (size_t i = 0; i < map->n; i++) {
        const char *k = scalar(hy_key(map, i));
        int idx = -1;
        for (int j = 0; k && j < n; j++)
            if (strcmp(k, names[j]) == 0)
                idx = j;
        if (idx < 0) {
            char sug[SUGGEST_CAP];
            err(ck, NULL, hy_key(map, i), "unknown key '%s' in %s%s", k ? k : "?", what,
                k ? suggest(ck, sug, sizeof sug, k, names, (size_t)n) : "");
            note_list(ck, "known keys", names, (size_t)n);
            continue;
        }
        if (check_value(ck, NULL, NULL, k, &attrs[idx], hy_val(map, i)))
            found[idx] = hy_val(map, i);
    }
    for (int j = 0; j < n; j++)
        if (!attrs[j].def && !hy_get(map, attrs[j].name))
            err(ck, NULL, map, "%s needs '%s'", what, attrs[j].name);
}

/* ------------------------------------------------------------ values */

static int add_value(checker *ck, const char *name, int node, int port, const hy_node *at)
{
    heed_model *m = ck->m;
    int prev = hm_value_find(m, name);
    if (prev >= 0) {
        const hm_value *pv = &m->values[prev];
        const hy_node *pat = pv->node >= 0 ? m->nodes[pv->node].at : m->inputs[pv->port].at;
        err(ck, name, at, "'%s' is defined twice (first as %s at line %d)", name,
            pv->node >= 0 ? "a node" : "an input", pat ? pat->line : 0);
        return -1;
    }
    if (!heed_grow(&m->env, (void **)&m->values, &ck->cap_values, (size_t)m->n_values + 1,
                   sizeof *m->values)) {
        nomem(ck);
        return -1;
    }
    hm_value *v = &m->values[m->n_values];
    *v = (hm_value){.name = hm_strdup(m, name), .node = node, .port = port};
    if (!v->name || !heed_strmap_put(&m->env, &m->value_names, v->name, m->n_values)) {
        nomem(ck);
        return -1;
    }
    return m->n_values++;
}

/* ------------------------------------------------------------ dims, inputs, data */

static void check_dims(checker *ck, const hy_node *dims)
{
    if (!dims)
        return;
    if (dims->kind != HY_MAP) {
        err(ck, NULL, dims, "'dims' must be a mapping of names to numbers");
        return;
    }
    for (size_t i = 0; i < dims->n; i++) {
        const hy_node *k = hy_key(dims, i), *v = hy_val(dims, i);
        if (!is_ident(scalar(k))) {
            err(ck, NULL, k, "dim name '%s' is not a name (letters, digits, _)",
                scalar(k) ? scalar(k) : "?");
            continue;
        }
        int64_t x;
        if (!hy_int(v, &x) || x <= 0 || x > HEED_MAX_DIM_VALUE) {
            err(ck, NULL, v, "dim '%s' must be a positive integer up to %lld, not '%s'%s",
                k->str, (long long)HEED_MAX_DIM_VALUE,
                scalar(v) ? scalar(v) : hy_kind_name(v->kind), quoted(v));
            continue;
        }
        int s = add_sym(ck, k->str, HM_SYM_FIXED, k);
        if (s >= 0) {
            ck->m->syms[s].has_default = true;
            ck->m->syms[s].value = x;
        }
    }
}

static const heed_attr input_schema[] = {
    {.name = "shape", .kind = HEED_A_LIST, .def = NULL, .doc = "list of dims"},
    {.name = "dtype", .kind = HEED_A_CHOICE, .def = "float", .choices = "float,ids",
     .doc = "float: a float tensor; ids: token ids"},
    {0}};

/* Whether key i of a mapping repeats an earlier key (already reported by the
 * YAML loader as a duplicate key). */
static bool repeated_key(const hy_node *map, size_t i)
{
    const char *k = scalar(hy_key(map, i));
    for (size_t j = 0; k && j < i; j++)
        if (scalar(hy_key(map, j)) && strcmp(k, hy_key(map, j)->str) == 0)
            return true;
    return false;
}

static void check_input_dim(checker *ck, hm_input *in, const hy_node *d)
{
    int r = in->rank++;
    in->sym[r] = -1;
    in->lit[r] = 0;
    int64_t x;
    if (hy_int(d, &x)) {
        if (x <= 0 || x > HEED_MAX_DIM_VALUE)
            err(ck, in->name, d, "input '%s': dim %d must be positive, not %lld", in->name, r + 1,
                (long long)x);
        in->lit[r] = x;
        return;
    }
    if (!is_ident(scalar(d))) {
        const char *q = scalar(d) ? "'" : "";
        err(ck, in->name, d, "input '%s': dim %d must be a number or a dim name, not %s%s%s%s",
            in->name, r + 1, q, scalar(d) ? d->str : hy_kind_name(d->kind), q, quoted(d));
        return;
    }
    /* a name with a number in dims: is fixed (and checked when fed); any other
     * name is bound at run time from the tensor fed */
    int s = hm_sym_find(ck->m, d->str);
    if (s < 0)
        s = add_sym(ck, d->str, HM_SYM_RUNTIME, d);
    in->sym[r] = s;
}

static void check_inputs(checker *ck, const hy_node *inputs)
{
    heed_model *m = ck->m;
    if (!inputs) {
        err(ck, NULL, m->doc->root, "the model has no 'inputs:'");
        return;
    }
    if (inputs->kind != HY_MAP) {
        err(ck, NULL, inputs, "'inputs' must map names to shapes, e.g. src: [B, S]");
        return;
    }
    m->inputs = heed_pool_alloc(&m->env, &m->pool, sizeof *m->inputs * (inputs->n + 1));
    if (!m->inputs) {
        nomem(ck);
        return;
    }
    for (size_t i = 0; i < inputs->n; i++) {
        const hy_node *k = hy_key(inputs, i), *v = hy_val(inputs, i);
        if (repeated_key(inputs, i))
            continue;
        if (!is_ident(scalar(k))) {
            err(ck, NULL, k, "input name '%s' is not a name", scalar(k) ? scalar(k) : "?");
            continue;
        }
        if (strlen(k->str) > HEED_MAX_VALUE_NAME) {
            err(ck, NULL, k, "input name '%.32s...' is longer than %d bytes", k->str,
                HEED_MAX_VALUE_NAME);
            continue;
        }
        hm_input *in = &m->inputs[m->n_inputs];
        memset(in, 0, sizeof *in);
        in->name = hm_strdup(m, k->str);
        in->at = k;
        in->dtype = HEED_F32;
        const hy_node *shape = v;
        int before = ck->errors;
        if (v->kind == HY_MAP) {
            const hy_node *found[3];
            check_section(ck, "an input", v, input_schema, found);
            shape = hy_get(v, "shape");
            if (found[1]) {
                in->dtype_given = true;
                in->dtype = strcmp(found[1]->str, "ids") == 0 ? HEED_I32 : HEED_F32;
            }
        }
        bool shape_ok = shape && shape->kind == HY_SEQ && shape->n > 0 && shape->n <= HEED_MAX_RANK;
        if (!shape_ok && ck->errors == before)
            err(ck, in->name, shape ? shape : v,
                "input '%s' needs a shape: a list of 1 to %d dims, e.g. [B, S]", k->str,
                HEED_MAX_RANK);
        for (size_t d = 0; shape_ok && d < shape->n; d++)
            check_input_dim(ck, in, shape->kids[d]);
        /* registered even when malformed, so readers of it report nothing more */
        in->value = add_value(ck, in->name, -1, m->n_inputs, k);
        m->n_inputs++;
    }
}

static const heed_attr field_schema[] = {
    {.name = "column", .kind = HEED_A_INT, .def = NULL, .lo = 0, .hi = 255,
     .doc = "TSV column (0-based)"},
    {.name = "tokens", .kind = HEED_A_CHOICE, .def = "chars", .choices = "chars,words,label",
     .doc = "chars: one token per character; words: split on spaces; label: the whole column"},
    {.name = "vocab", .kind = HEED_A_STRING, .def = NULL,
     .doc = "the dim bound to this vocabulary's size"},
    {.name = "bos", .kind = HEED_A_BOOL, .def = "false", .doc = "prepend a begin token"},
    {.name = "eos", .kind = HEED_A_BOOL, .def = "false", .doc = "append an end token"},
    {.name = "reverse", .kind = HEED_A_BOOL, .def = "false", .doc = "reverse the tokens"},
    {0}};

static hm_input *find_input(heed_model *m, const char *name)
{
    int i = hm_input_index(m, name);
    return i >= 0 ? &m->inputs[i] : NULL;
}

/* A refused data field's vocabulary name is bound all the same: its uses
 * are not reported again as unbound dims. */
static void bind_refused_vocab(checker *ck, const hy_node *field)
{
    const char *vname = scalar(hy_get(field, "vocab"));
    if (is_ident(vname) && hm_sym_find(ck->m, vname) < 0)
        add_sym(ck, vname, HM_SYM_VOCAB, hy_get(field, "vocab"));
}

static void check_data(checker *ck, const hy_node *data)
{
    heed_model *m = ck->m;
    if (!data)
        return;
    if (data->kind != HY_MAP) {
        err(ck, NULL, data, "'data' must map input names to columns");
        return;
    }
    m->fields = heed_pool_alloc(&m->env, &m->pool, sizeof *m->fields * (data->n + 1));
    if (!m->fields) {
        nomem(ck);
        return;
    }
    for (size_t i = 0; i < data->n; i++) {
        const hy_node *k = hy_key(data, i), *v = hy_val(data, i);
        const char *name = scalar(k);
        if (i >= HEED_MAX_FIELDS) {
            /* said once, at the first entry past the limit; the entries'
             * vocabularies stay bound so their users are not reported */
            if (i == HEED_MAX_FIELDS)
                err(ck, NULL, k, "a model reads at most %d data fields; '%s' is the %dth",
                    HEED_MAX_FIELDS, name ? name : "?", HEED_MAX_FIELDS + 1);
            bind_refused_vocab(ck, v);
            continue;
        }
        hm_input *in = name ? find_input(m, name) : NULL;
        if (!in) {
            const char *names[64];
            size_t n = 0;
            for (int j = 0; j < m->n_inputs && n < 64; j++)
                names[n++] = m->inputs[j].name;
            char sug[SUGGEST_CAP];
            err(ck, NULL, k, "data field '%s' is not a model input%s", name ? name : "?",
                name ? suggest(ck, sug, sizeof sug, name, names, n) : "");
            bind_refused_vocab(ck, v);
            continue;
        }
        const hy_node *f[8];
        int before = ck->errors;
        check_section(ck, "a data field", v, field_schema, f);
        if (ck->errors != before) {
            bind_refused_vocab(ck, v);
            continue;
        }
        hm_field *fd = &m->fields[m->n_fields];
        memset(fd, 0, sizeof *fd);
        fd->input = in->name;
        fd->at = k;
        int64_t col;
        hy_int(f[0], &col);
        fd->column = (int)col;
        const char *tok = f[1] ? f[1]->str : "chars";
        fd->tokens = !strcmp(tok, "words") ? HM_TOK_WORDS
                     : !strcmp(tok, "label") ? HM_TOK_LABEL : HM_TOK_CHARS;
        if (f[3])
            hy_bool(f[3], &fd->bos);
        if (f[4])
            hy_bool(f[4], &fd->eos);
        if (f[5])
            hy_bool(f[5], &fd->reverse);
        int want_rank = fd->tokens == HM_TOK_LABEL ? 1 : 2;
        if (in->rank != want_rank)
            err(ck, NULL, k, "data field '%s' (%s) needs an input of rank %d, e.g. %s", name, tok,
                want_rank, want_rank == 1 ? "[B]" : "[B, S]");
        /* a label is one id: bos would take its place, eos and reverse mean
         * nothing */
        for (int b = 3; b <= 5 && fd->tokens == HM_TOK_LABEL; b++)
            if (f[b] && (b == 3 ? fd->bos : b == 4 ? fd->eos : fd->reverse))
                err(ck, NULL, f[b], "data field '%s' holds one label per row: '%s' is for "
                                    "tokens: chars or words", name, field_schema[b].name);
        if (in->dtype_given && in->dtype != HEED_I32)
            err(ck, NULL, k, "input '%s' is declared dtype: float, but data field '%s' fills it "
                             "with token ids (declare it dtype: ids, or leave dtype out)",
                name, name);
        in->dtype = HEED_I32;
        const char *vname = f[2]->str;
        if (!is_ident(vname)) {
            err(ck, NULL, f[2], "vocab '%s' is not a dim name", vname);
            continue;
        }
        int s = hm_sym_find(m, vname);
        if (s >= 0 && m->syms[s].kind == HM_SYM_RUNTIME) {
            err(ck, NULL, f[2], "dim '%s' is bound by an input shape; it cannot also be a "
                                "vocabulary size", vname);
            continue;
        }
        if (s >= 0 && m->syms[s].kind == HM_SYM_FIXED) {
            /* training would silently replace the number with the data's size */
            err(ck, NULL, f[2], "dim '%s' is fixed in dims:; a vocabulary size comes from the "
                                "data (remove it from dims:, or bind it with --dim %s=N where "
                                "there is no data)", vname, vname);
            continue;
        }
        if (s < 0)
            s = add_sym(ck, vname, HM_SYM_VOCAB, f[2]);
        if (s < 0)
            continue;
        m->syms[s].kind = HM_SYM_VOCAB;
        fd->vocab_sym = s;
        fd->vocab = -1;
        for (int j = 0; j < m->n_fields; j++)
            if (m->fields[j].vocab_sym == s)
                fd->vocab = m->fields[j].vocab;
        if (fd->vocab < 0)
            fd->vocab = m->n_vocabs++;
        m->n_fields++;
    }
}

/* ------------------------------------------------------------ nodes */

/* A plain scalar naming a block parameter stands for the parameter's value:
 * the one the instance gave, itself read where the instance was written (an
 * outer block's parameter passed on), or the block's default. *where is the
 * scope a reference in the result is resolved in: the caller's for a value
 * it gave (its own node, not the block's of that name), the block's for a
 * default. */
static const hy_node *substitute_at(const scope *sc, const hy_node *v, const scope **where)
{
    *where = sc;
    for (int hops = 0; hops <= HEED_MAX_BLOCK_DEPTH; hops++) {
        if (!v || v->kind != HY_SCALAR || !v->plain || !is_ident(v->str))
            return v;
        const scope *s = sc;
        while (s && !(s->params && hy_get(s->params, v->str)))
            s = s->parent;
        if (!s)
            return v;
        const hy_node *given = hy_get(s->instance, v->str);
        if (!given) {
            *where = s;
            return hy_get(s->params, v->str);
        }
        v = given;
        sc = *where = s->parent;
    }
    return v;
}

/* The full value name a reference written inside `sc` stands for. *via
 * receives, for a reference through a block's input, where the instance
 * gave the input its value: a mistake in that value is the instance's. */
static const char *resolve_ref(checker *ck, const scope *sc, const char *ref,
                               const hm_ref **via)
{
    *via = NULL;
    for (; sc && sc->locals; sc = sc->parent) {
        char base[HEED_MAX_VALUE_NAME + 1];
        size_t n = strcspn(ref, ".");
        if (n >= sizeof base)
            return ref;
        memcpy(base, ref, n);
        base[n] = '\0';
        for (int i = 0; i < sc->n_inputs; i++)
            if (strcmp(base, sc->in_names[i]) == 0) {
                *via = sc->in_via[i];
                return cat(ck, sc->in_bound[i], ref + n);
            }
        if (hy_get(sc->locals, base))
            return cat(ck, sc->prefix, ref);
    }
    return ref;
}

static void add_failed(checker *ck, const char *name);

static hm_node *new_node(checker *ck, const char *name, const heed_op *op, const hy_node *at)
{
    heed_model *m = ck->m;
    if (strlen(name) > HEED_MAX_VALUE_NAME) {
        err(ck, NULL, at, "node name '%.32s...' is longer than %d bytes%s", name,
            HEED_MAX_VALUE_NAME, strchr(name, '.') ? " (with its blocks' prefixes)" : "");
        add_failed(ck, name);
        return NULL;
    }
    if (m->n_nodes >= HEED_MAX_NODES) {
        if (m->n_nodes == HEED_MAX_NODES) {
            /* a limit, not a mistake in the language: HEED_ERR_LIMIT like the others */
            heed_srcpos pos = hm_pos(m, at);
            heed_diag_add(ck->diag, HEED_ERR_LIMIT, &pos, name, "the model has more than %d nodes",
                          HEED_MAX_NODES);
            ck->errors++;
        }
        m->n_nodes++; /* count once past the limit so the message is given once */
        return NULL;
    }
    if (!heed_grow(&m->env, (void **)&m->nodes, &ck->cap_nodes, (size_t)m->n_nodes + 1,
                   sizeof *m->nodes)) {
        nomem(ck);
        return NULL;
    }
    hm_node *nd = &m->nodes[m->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->name = hm_strdup(m, name);
    nd->op = op;
    nd->at = at;
    for (int i = 0; i < HEED_MAX_INPUTS; i++)
        nd->port_first[i] = -1;
    if (!nd->name) {
        nomem(ck);
        return NULL;
    }
    return nd;
}

/* The reference value name `v`, written inside `sc` for node `who`, makes. */
static hm_ref make_ref(checker *ck, const scope *sc, const hy_node *v, const char *who)
{
    hm_ref r = {.at = v, .block = sc->block, .prefix = sc->prefix, .who = who};
    r.name = resolve_ref(ck, sc, v->str, &r.via);
    return r;
}

static void add_ref(checker *ck, hm_node *nd, int flat_index, hm_ref ref, hm_ref *refs,
                    int *n_refs)
{
    const hy_node *at = ref.at;
    if (*n_refs >= HEED_MAX_INPUTS) {
        err(ck, nd->name, at, "node '%s' has more than %d inputs", nd->name, HEED_MAX_INPUTS);
        return;
    }
    if (flat_index >= HEED_MAX_INPUTS) {
        err(ck, nd->name, at, "internal: op %s has too many attributes", nd->op->name);
        return;
    }
    if (nd->port_first[flat_index] < 0)
        nd->port_first[flat_index] = *n_refs;
    nd->port_count[flat_index]++;
    refs[(*n_refs)++] = ref;
}

static void unknown_attr(checker *ck, const char *full, const heed_op *op, const char *prefix,
                         const hy_node *k, heed_flat_attr *flat, int n_flat, int parent)
{
    const char *names[HEED_MAX_ATTRS];
    size_t n = 0;
    for (int j = 0; j < n_flat; j++)
        if (flat[j].parent == parent)
            names[n++] = flat[j].a->name;
    char sug[SUGGEST_CAP];
    const char *key = scalar(k) ? scalar(k) : "?";
    err(ck, full, k, "node '%s': %s has no attribute '%s%s'%s", full, op->name, prefix, key,
        suggest(ck, sug, sizeof sug, key, names, n));
    note_list(ck, parent < 0 ? "its attributes" : "its fields", names, n);
}

/* A node whose definition was refused: references to it are not reported
 * again as undefined inputs. */
static void add_failed(checker *ck, const char *name)
{
    if (heed_grow(&ck->m->env, (void **)&ck->failed, &ck->cap_failed, ck->n_failed + 1,
                  sizeof *ck->failed))
        ck->failed[ck->n_failed++] = name;
}

/* Whether value `name` is a refused node or one of its outputs (node.out). */
static bool of_failed_node(const checker *ck, const char *name)
{
    for (size_t i = 0; i < ck->n_failed; i++) {
        size_t n = strlen(ck->failed[i]);
        if (!strncmp(name, ck->failed[i], n) && (name[n] == '\0' || name[n] == '.'))
            return true;
    }
    return false;
}

static void add_op_node(checker *ck, const scope *sc, const char *local, const hy_node *key,
                        const hy_node *map, bool is_loss)
{
    heed_model *m = ck->m;
    const char *full = sc->prefix[0] ? cat(ck, sc->prefix, local) : local;
    if (!full)
        return;
    const hy_node *opv = hy_get(map, "op");
    if (!opv || !scalar(opv)) {
        err(ck, full, opv ? opv : key, "node '%s' needs 'op:' naming its op (or 'block:')", full);
        note_list(ck, "ops", heed_op_names, HEED_OP_COUNT);
        add_failed(ck, full);
        return;
    }
    const heed_op *op = heed_op_find(opv->str);
    if (!op) {
        char sug[SUGGEST_CAP];
        err(ck, full, opv, "node '%s': unknown op '%s'%s", full, opv->str,
            suggest(ck, sug, sizeof sug, opv->str, heed_op_names, HEED_OP_COUNT));
        note_list(ck, "ops", heed_op_names, HEED_OP_COUNT);
        add_failed(ck, full);
        return;
    }
    if (is_loss && !(op->flags & HEED_OP_LOSS)) {
        err(ck, full, opv, "op %s cannot be a loss", op->name);
        return;
    }
    heed_flat_attr flat[HEED_MAX_ATTRS];
    int n_flat = heed_flatten_attrs(op->attrs, flat, HEED_MAX_ATTRS);
    hm_node *nd = new_node(ck, full, op, key);
    if (!nd)
        return;
    nd->n_attr = n_flat;
    nd->attr = heed_pool_alloc(&m->env, &m->pool, sizeof *nd->attr * (size_t)(n_flat + 1));
    hm_ref refs[HEED_MAX_INPUTS];
    int n_refs = 0;
    if (!nd->attr) {
        nomem(ck);
        return;
    }
    memset(nd->attr, 0, sizeof *nd->attr * (size_t)(n_flat + 1));
    /* where each attribute's value was written: a reference in it (a value a
     * block parameter gave) is resolved there */
    const scope *where_of[HEED_MAX_ATTRS];
    for (int j = 0; j < n_flat; j++)
        where_of[j] = sc;
    for (size_t i = 0; i < map->n; i++) {
        const hy_node *k = hy_key(map, i);
        const char *kname = scalar(k);
        if (kname && strcmp(kname, "op") == 0)
            continue;
        int idx = -1;
        for (int j = 0; kname && j < n_flat; j++)
            if (flat[j].parent < 0 && strcmp(flat[j].name, kname) == 0)
                idx = j;
        if (idx < 0) {
            unknown_attr(ck, full, op, "", k, flat, n_flat, -1);
            continue;
        }
        const hy_node *v = substitute_at(sc, hy_val(map, i), &where_of[idx]);
        if (!check_value(ck, where_of[idx], full, kname, flat[idx].a, v))
            continue;
        nd->attr[idx] = v;
        if (flat[idx].a->kind != HEED_A_MAP)
            continue;
        for (size_t f = 0; f < v->n; f++) {
            const hy_node *fk = hy_key(v, f);
            const char *fname = scalar(fk);
            int fidx = -1;
            for (int j = 0; fname && j < n_flat; j++)
                if (flat[j].parent == idx && strcmp(flat[j].a->name, fname) == 0)
                    fidx = j;
            if (fidx < 0) {
                char prefix[64];
                snprintf(prefix, sizeof prefix, "%s.", kname);
                unknown_attr(ck, full, op, prefix, fk, flat, n_flat, idx);
                continue;
            }
            const hy_node *fv = substitute_at(sc, hy_val(v, f), &where_of[fidx]);
            if (check_value(ck, where_of[fidx], full, flat[fidx].name, flat[fidx].a, fv))
                nd->attr[fidx] = fv;
        }
    }
    for (int j = 0; j < n_flat; j++) {
        const heed_attr *a = flat[j].a;
        bool parent_given = flat[j].parent < 0 || nd->attr[flat[j].parent];
        if (!a->def && parent_given && !nd->attr[j] &&
            !(flat[j].parent >= 0 ? hy_get(nd->attr[flat[j].parent], a->name)
                                  : hy_get(map, a->name)))
            err(ck, full, opv, "node '%s': %s needs '%s'", full, op->name, flat[j].name);
    }
    for (int j = 0; j < n_flat; j++) {
        const hy_node *v = nd->attr[j];
        heed_attr_kind kind = flat[j].a->kind;
        if (!v || (kind != HEED_A_INPUT && kind != HEED_A_INPUTS))
            continue;
        const scope *where = where_of[j];
        if (v->kind == HY_SEQ) {
            /* past the limit add_ref has said so once: the rest would repeat it */
            for (size_t e = 0; e < v->n; e++) {
                bool full_before = n_refs >= HEED_MAX_INPUTS;
                const scope *at;
                const hy_node *el = substitute_at(where, v->kids[e], &at);
                if (!scalar(el)) {
                    err(ck, full, v->kids[e], "node '%s': '%s' must name a value", full,
                        flat[j].name);
                    continue;
                }
                add_ref(ck, nd, j, make_ref(ck, at, el, full), refs, &n_refs);
                if (full_before)
                    break;
            }
        } else {
            add_ref(ck, nd, j, make_ref(ck, where, v, full), refs, &n_refs);
        }
    }
    nd->n_in = n_refs;
    nd->refs = heed_pool_alloc(&m->env, &m->pool, sizeof *nd->refs * (size_t)(n_refs + 1));
    nd->in = heed_pool_alloc(&m->env, &m->pool, sizeof *nd->in * (size_t)(n_refs + 1));
    if (!nd->refs || !nd->in) {
        nomem(ck);
        return;
    }
    memcpy(nd->refs, refs, sizeof *refs * (size_t)n_refs);
    /* unresolved until resolve_refs, which a lack of memory may stop short */
    for (int r = 0; r < n_refs; r++)
        nd->in[r] = -1;
    int index = m->n_nodes++;
    for (int p = 0; op->outputs[p] && p < HEED_MAX_OUTPUTS; p++) {
        char buf[300];
        if (p == 0)
            snprintf(buf, sizeof buf, "%s", full);
        else
            snprintf(buf, sizeof buf, "%s.%s", full, op->outputs[p]);
        m->nodes[index].out[p] = add_value(ck, buf, index, p, key);
        m->nodes[index].n_out = p + 1;
    }
}

static void add_alias(checker *ck, const char *name, const char *target, const hy_node *at)
{
    if (!heed_grow(&ck->m->env, (void **)&ck->aliases, &ck->cap_alias, ck->n_alias + 1,
                   sizeof *ck->aliases)) {
        nomem(ck);
        return;
    }
    ck->aliases[ck->n_alias++] = (alias){name, target, at};
}

static void add_nodes(checker *ck, const scope *sc, const hy_node *nodes);

static const hy_node *find_block(checker *ck, const hy_node *name_node, const char *full)
{
    const char *name = scalar(name_node);
    const hy_node *def = name ? hy_get(ck->blocks, name) : NULL;
    if (def)
        return def;
    const char *names[64];
    size_t n = 0;
    for (size_t i = 0; ck->blocks && ck->blocks->kind == HY_MAP && i < ck->blocks->n && n < 64;
         i++)
        if (scalar(hy_key(ck->blocks, i)))
            names[n++] = hy_key(ck->blocks, i)->str;
    char sug[SUGGEST_CAP];
    err(ck, full, name_node, "node '%s': unknown block '%s'%s", full, name ? name : "?",
        name ? suggest(ck, sug, sizeof sug, name, names, n) : "");
    return NULL;
}

static void expand_block(checker *ck, const scope *sc, const char *local, const hy_node *key,
                         const hy_node *inst)
{
    const char *full = sc->prefix[0] ? cat(ck, sc->prefix, local) : local;
    if (!full)
        return;
    /* (add_nodes, the one caller, stops before this once stopped()) */
    if (++ck->expansions > HEED_MAX_NODES) {
        if (ck->expansions == HEED_MAX_NODES + 1)
            err(ck, full, key, "node '%s': more than %d block instances in all", full,
                HEED_MAX_NODES);
        return;
    }
    if (sc->depth >= HEED_MAX_BLOCK_DEPTH) {
        err(ck, full, key, "node '%s': blocks nested deeper than %d (a block using itself?)",
            full, HEED_MAX_BLOCK_DEPTH);
        add_failed(ck, full);
        return;
    }
    if (strlen(full) > HEED_MAX_VALUE_NAME) {
        err(ck, NULL, key, "node name '%.32s...' is longer than %d bytes%s", full,
            HEED_MAX_VALUE_NAME,
            strchr(full, '.') ? " (with its blocks' prefixes)" : "");
        add_failed(ck, full);
        return;
    }
    const hy_node *def = find_block(ck, hy_get(inst, "block"), full);
    if (!def || def->kind != HY_MAP) {
        add_failed(ck, full); /* reported; its users are not again */
        return;
    }
    for (const scope *up = sc; up; up = up->parent)
        if (up->block == def) {
            err(ck, full, hy_get(inst, "block"), "node '%s': block %s uses itself", full,
                hy_get(inst, "block")->str);
            add_failed(ck, full);
            return;
        }
    const hy_node *inputs = hy_get(def, "inputs"), *params = hy_get(def, "params");
    const hy_node *nodes = hy_get(def, "nodes"), *output = hy_get(def, "output");
    if (!nodes || nodes->kind != HY_MAP || nodes->n == 0) {
        add_failed(ck, full); /* reported when the block definition was checked */
        return;
    }
    /* the keys an instance may use: block, repeat, in, the inputs, the parameters */
    const char *allowed[MAX_BLOCK_INPUTS + 40] = {"block", "repeat", "in"};
    size_t n_allowed = 3;
    int n_in = inputs && inputs->kind == HY_SEQ ? (int)inputs->n : 0;
    bool bad_inputs = n_in > MAX_BLOCK_INPUTS;
    for (int i = 0; !bad_inputs && i < n_in; i++) {
        bad_inputs = !is_ident(scalar(inputs->kids[i]));
        for (int j = 0; !bad_inputs && j < i; j++)
            bad_inputs = !strcmp(inputs->kids[j]->str, inputs->kids[i]->str);
    }
    if (bad_inputs) {
        add_failed(ck, full); /* reported when the block definition was checked */
        return;
    }
    for (int i = 0; i < n_in; i++)
        allowed[n_allowed++] = inputs->kids[i]->str;
    for (size_t i = 0; params && params->kind == HY_MAP && i < params->n && n_allowed < 56; i++)
        if (scalar(hy_key(params, i)))
            allowed[n_allowed++] = hy_key(params, i)->str;
    for (size_t i = 0; i < inst->n; i++) {
        const char *k = scalar(hy_key(inst, i));
        /* the list above is for suggestions and may stop short of a long
         * parameter list: a parameter is looked up in the block itself */
        bool ok = k && params && params->kind == HY_MAP && hy_get(params, k);
        for (size_t j = 0; k && j < n_allowed; j++)
            ok |= strcmp(k, allowed[j]) == 0;
        if (!ok) {
            char sug[SUGGEST_CAP];
            err(ck, full, hy_key(inst, i), "node '%s': block %s has no input or parameter '%s'%s",
                full, hy_get(inst, "block")->str, k ? k : "?",
                k ? suggest(ck, sug, sizeof sug, k, allowed + 1, n_allowed - 1) : "");
        }
    }
    int64_t repeat = 1;
    const hy_node *rep = hy_get(inst, "repeat");
    if (rep && (!hy_int(rep, &repeat) || repeat < 1 || repeat > HEED_MAX_REPEAT)) {
        err(ck, full, rep, "node '%s': 'repeat' must be an integer from 1 to %d", full,
            HEED_MAX_REPEAT);
        add_failed(ck, full);
        return;
    }
    /* in: stands for the first input: given beside it, or to a block
     * without inputs, one of the two would be ignored */
    const hy_node *in_key = hy_get(inst, "in");
    if (in_key && n_in == 0) {
        err(ck, full, in_key, "node '%s': block %s has no inputs, so 'in:' gives it nothing",
            full, hy_get(inst, "block")->str);
        add_failed(ck, full);
        return;
    }
    if (in_key && hy_get(inst, inputs->kids[0]->str)) {
        err(ck, full, in_key, "node '%s': block %s's input '%s' is given twice (by 'in:' and "
                              "'%s:')",
            full, hy_get(inst, "block")->str, inputs->kids[0]->str, inputs->kids[0]->str);
        add_failed(ck, full);
        return;
    }
    scope inner = {.parent = sc, .block = def, .locals = nodes, .params = params,
                   .instance = inst, .depth = sc->depth + 1, .n_inputs = n_in};
    for (int i = 0; i < n_in; i++) {
        inner.in_names[i] = inputs->kids[i]->str;
        const hy_node *b = hy_get(inst, inputs->kids[i]->str);
        if (!b && i == 0)
            b = hy_get(inst, "in");
        if (b && b->kind == HY_SEQ && b == in_key) {
            /* the list form nodes take: say how a block is given more */
            if (n_in > 1)
                err(ck, full, b,
                    "node '%s': 'in:' gives block %s's first input '%s' one value, not a list; "
                    "give the others by name ('%s: NAME')",
                    full, hy_get(inst, "block")->str, inner.in_names[0], inputs->kids[1]->str);
            else
                err(ck, full, b,
                    "node '%s': 'in:' gives block %s's input '%s' one value, not a list", full,
                    hy_get(inst, "block")->str, inner.in_names[0]);
            add_failed(ck, full);
            return;
        }
        /* an enclosing block's parameter passes that block's value on, as
         * it does for attributes */
        const scope *where = sc;
        const hy_node *v = b ? substitute_at(sc, b, &where) : NULL;
        if (!v || !is_ref(scalar(v))) {
            err(ck, full, v ? v : key, "node '%s': block input '%s' needs a value", full,
                inputs->kids[i]->str);
            add_failed(ck, full);
            return;
        }
        hm_ref *given = heed_pool_alloc(&ck->m->env, &ck->m->pool, sizeof *given);
        if (!given) {
            nomem(ck);
            return;
        }
        *given = make_ref(ck, where, v, full);
        inner.in_bound[i] = given->name;
        inner.in_via[i] = given;
    }
    const char *out_local = scalar(output) ? output->str : scalar(hy_key(nodes, nodes->n - 1));
    if (!out_local)
        return; /* a key that is not a name: reported by add_nodes */
    const char *last = NULL;
    for (int64_t r = 0; r < repeat; r++) {
        /* past the node limit (reported once) nothing more is built */
        if (stopped(ck))
            return;
        char buf[HEED_MAX_VALUE_NAME + 32]; /* full is at most HEED_MAX_VALUE_NAME */
        if (rep)
            snprintf(buf, sizeof buf, "%s.%lld.", full, (long long)r);
        else
            snprintf(buf, sizeof buf, "%s.", full);
        inner.prefix = cat(ck, buf, "");
        if (!inner.prefix)
            return;
        if (r > 0 && n_in > 0) {
            inner.in_bound[0] = last; /* each repetition feeds the next */
            inner.in_via[0] = NULL;
        }
        add_nodes(ck, &inner, nodes);
        last = cat(ck, inner.prefix, out_local);
        if (!last)
            return;
        /* an output that is not one of the block's nodes was reported with
         * the block: its users are not reported again */
        if (!hy_get(nodes, out_local))
            add_failed(ck, last);
    }
    add_alias(ck, full, last, key);
}

static void add_nodes(checker *ck, const scope *sc, const hy_node *nodes)
{
    for (size_t i = 0; i < nodes->n && !stopped(ck); i++) {
        const hy_node *k = hy_key(nodes, i), *v = hy_val(nodes, i);
        const char *name = scalar(k);
        if (repeated_key(nodes, i))
            continue;
        if (!is_ident(name)) {
            err(ck, NULL, k, "node name '%s' is not a name (letters, digits, _)",
                name ? name : "?");
            continue;
        }
        if (v->kind != HY_MAP) {
            err(ck, name, v, "node '%s' must be a mapping such as {op: Affine, in: x, units: 8}",
                name);
            continue;
        }
        if (hy_get(v, "block"))
            expand_block(ck, sc, name, k, v);
        else
            add_op_node(ck, sc, name, k, v, false);
    }
}

static void check_block_defs(checker *ck, const hy_node *blocks)
{
    static const heed_attr block_schema[] = {
        {.name = "inputs", .kind = HEED_A_LIST, .def = "", .doc = "input names"},
        {.name = "params", .kind = HEED_A_MAP, .def = "", .doc = "parameters with defaults"},
        {.name = "nodes", .kind = HEED_A_MAP, .def = NULL, .doc = "the block's nodes"},
        {.name = "output", .kind = HEED_A_STRING, .def = "", .doc = "the output node"},
        {.name = "doc", .kind = HEED_A_STRING, .def = "", .doc = "what the block is"},
        {0}};
    if (!blocks)
        return;
    if (blocks->kind != HY_MAP) {
        err(ck, NULL, blocks, "'blocks' must map block names to definitions");
        return;
    }
    for (size_t i = 0; i < blocks->n; i++) {
        const hy_node *k = hy_key(blocks, i), *def = hy_val(blocks, i);
        if (!is_ident(scalar(k))) {
            err(ck, NULL, k, "block name is not a name");
            continue;
        }
        if (def->kind != HY_MAP) {
            err(ck, NULL, def, "block '%s' must be a mapping with nodes:", k->str);
            continue;
        }
        for (size_t j = 0; j < def->n; j++) {
            const char *key = scalar(hy_key(def, j));
            const char *names[] = {"inputs", "params", "nodes", "output", "doc"};
            bool ok = false;
            for (int q = 0; key && q < 5; q++)
                ok |= strcmp(key, names[q]) == 0;
            if (!ok) {
                char sug[SUGGEST_CAP];
                err(ck, NULL, hy_key(def, j), "unknown key '%s' in block '%s'%s", key ? key : "?",
                    k->str, key ? suggest(ck, sug, sizeof sug, key, names, 5) : "");
            }
        }
        (void)block_schema;
        const hy_node *nodes = hy_get(def, "nodes"), *inputs = hy_get(def, "inputs");
        const hy_node *output = hy_get(def, "output");
        if (!nodes || nodes->kind != HY_MAP || nodes->n == 0)
            err(ck, NULL, nodes ? nodes : k, "block '%s' needs nodes:", k->str);
        if (inputs && (inputs->kind != HY_SEQ || inputs->n > MAX_BLOCK_INPUTS))
            err(ck, NULL, inputs, "block '%s': inputs must be a list of up to %d names", k->str,
                MAX_BLOCK_INPUTS);
        for (size_t j = 0; inputs && inputs->kind == HY_SEQ && j < inputs->n; j++) {
            const char *in = scalar(inputs->kids[j]);
            if (!is_ident(in)) {
                err(ck, NULL, inputs->kids[j], "block '%s': input names must be names", k->str);
                continue;
            }
            /* a node of the input's name would be shadowed by it, unseen */
            for (size_t q = 0; nodes && nodes->kind == HY_MAP && q < nodes->n; q++)
                if (scalar(hy_key(nodes, q)) && !strcmp(hy_key(nodes, q)->str, in))
                    err(ck, NULL, hy_key(nodes, q),
                        "block '%s': '%s' is defined twice (first as an input at line %d)",
                        k->str, in, inputs->kids[j]->line);
            for (size_t q = 0; q < j; q++)
                if (scalar(inputs->kids[q]) && !strcmp(scalar(inputs->kids[q]), in))
                    err(ck, NULL, inputs->kids[j], "block '%s': input '%s' is listed twice",
                        k->str, in);
        }
        if (output && nodes && (!scalar(output) || !hy_get(nodes, output->str)))
            err(ck, NULL, output, "block '%s': output '%s' is not one of its nodes", k->str,
                scalar(output) ? output->str : "?");
        const hy_node *params = hy_get(def, "params");
        if (params && params->kind != HY_MAP)
            err(ck, NULL, params, "block '%s': params must map names to defaults", k->str);
    }
}

/* ------------------------------------------------------------ references, order */

static void resolve_aliases(checker *ck)
{
    for (size_t i = 0; i < ck->n_alias; i++) {
        alias *a = &ck->aliases[i];
        int v = hm_value_find(ck->m, a->target);
        if (v < 0) {
            /* the block's output node failed and was reported: the
             * instance's users are not reported again, nor is its name
             * offered for theirs */
            add_failed(ck, a->name);
            continue;
        }
        if (hm_value_find(ck->m, a->name) >= 0) {
            err(ck, a->name, a->at, "'%s' is defined twice", a->name);
            continue;
        }
        if (!heed_strmap_put(&ck->m->env, &ck->m->value_names, a->name, v))
            nomem(ck);
    }
}

/* "; did you mean 'x'?" for a name that is not one of the model's values. */
static const char *suggest_value(checker *ck, char *buf, size_t cap, const char *word)
{
    heed_model *m = ck->m;
    buf[0] = '\0';
    const char **names = heed_zalloc(&m->env, (size_t)m->n_values + 1, sizeof *names);
    if (!names)
        return buf;
    for (int i = 0; i < m->n_values; i++)
        names[i] = m->values[i].name;
    suggest(ck, buf, cap, word, names, (size_t)m->n_values);
    heed_dealloc(&m->env, names);
    return buf;
}

/* Whether value `name` is node `who`'s own: the node, one of its outputs,
 * or for a block instance one of its nodes. Offered as its input, it would
 * make a cycle. */
static bool own_value(const char *name, const char *who)
{
    size_t n = strlen(who);
    return !strncmp(name, who, n) && (name[n] == '\0' || name[n] == '.');
}

/* The candidates for a did-you-mean for reference `ref`: the values' full
 * names, then, for one written inside a block instance, the names of the
 * values of that instance as its nodes write them (proj for stack.0.proj)
 * and the inputs of the block the reference was written in, then the block
 * instances' names; none of them the reading node's own. Returns the
 * count; names has room for twice the values, the block inputs and the
 * instances. */
static size_t local_names(const checker *ck, const hm_ref *ref, const char **names)
{
    const heed_model *m = ck->m;
    size_t n = 0;
    for (int i = 0; i < m->n_values; i++)
        if (!own_value(m->values[i].name, ref->who))
            names[n++] = m->values[i].name;
    size_t plen = strlen(ref->prefix), k = n;
    for (size_t i = 0; plen && i < n; i++)
        if (!strncmp(names[i], ref->prefix, plen) && names[i][plen] &&
            !strchr(names[i] + plen, '.'))
            names[k++] = names[i] + plen;
    const hy_node *inputs = ref->block ? hy_get(ref->block, "inputs") : NULL;
    for (size_t i = 0; inputs && inputs->kind == HY_SEQ && i < inputs->n && i < MAX_BLOCK_INPUTS;
         i++)
        if (scalar(inputs->kids[i]))
            names[k++] = inputs->kids[i]->str;
    for (size_t i = 0; i < ck->n_alias; i++)
        if (hm_value_find(m, ck->aliases[i].name) >= 0 && !own_value(ck->aliases[i].name, ref->who))
            names[k++] = ck->aliases[i].name;
    return k;
}

/* Where a reference that names no value went wrong: for one through a
 * block's input whose instance gave a value that is itself none, that
 * instance (the outermost such, for inputs passed on). */
static const hm_ref *ref_undefined_at(const heed_model *m, const hm_ref *r)
{
    while (r->via && r->via->name && hm_value_find(m, r->via->name) < 0)
        r = r->via;
    return r;
}

/* Where the value a reference reads was chosen: for a block's input, the
 * (outermost) instance that gave it, as that is where another value could
 * be written. */
static const hm_ref *ref_chosen_at(const hm_ref *r)
{
    while (r->via && r->via->name && strcmp(r->via->name, r->name) == 0)
        r = r->via;
    return r;
}

static void resolve_refs(checker *ck)
{
    heed_model *m = ck->m;
    /* room for every value, its name local to a node's block, the block's
     * inputs, and the instances' names */
    size_t cap = 2 * (size_t)m->n_values + MAX_BLOCK_INPUTS + ck->n_alias + 1;
    const char **names = heed_zalloc(&m->env, cap, sizeof *names);
    if (!names) {
        nomem(ck);
        return;
    }
    for (int n = 0; n < m->n_nodes; n++) {
        hm_node *nd = &m->nodes[n];
        for (int i = 0; i < nd->n_in; i++) {
            nd->in[i] = nd->refs[i].name ? hm_value_find(m, nd->refs[i].name) : -1;
            if (nd->in[i] >= 0 || !nd->refs[i].name || of_failed_node(ck, nd->refs[i].name))
                continue;
            const hm_ref *r = ref_undefined_at(m, &nd->refs[i]);
            /* a block's copies repeat the reference: the did-you-mean search
             * (over every value) is made for the first only */
            char base[640];
            snprintf(base, sizeof base, "undefined %s in %s", r->name, r->who);
            if (echoes(ck, r->at, r->who, base))
                continue;
            char sug[SUGGEST_CAP];
            /* past the limit the message is dropped: no candidates to gather */
            size_t n_names = ck->errors < MAX_ERRORS ? local_names(ck, r, names) : 0;
            err(ck, r->who, r->at, "node '%s': input '%s' is not defined%s", r->who, r->name,
                suggest(ck, sug, sizeof sug, r->name, names, n_names));
        }
    }
    heed_dealloc(&m->env, names);
}

/* Calls f on every input reference of every node: the node, its flattened
 * attribute (an input port), and the reference's index into nd->in. */
typedef void (*port_ref_fn)(checker *ck, hm_node *nd, const heed_flat_attr *port, int r);

static void each_port_ref(checker *ck, port_ref_fn f)
{
    heed_model *m = ck->m;
    for (int n = 0; n < m->n_nodes; n++) {
        hm_node *nd = &m->nodes[n];
        heed_flat_attr flat[HEED_MAX_ATTRS];
        int n_flat = heed_flatten_attrs(nd->op->attrs, flat, HEED_MAX_ATTRS);
        for (int j = 0; j < n_flat && j < HEED_MAX_INPUTS; j++) {
            if (nd->port_first[j] < 0)
                continue;
            for (int e = 0; e < nd->port_count[j]; e++)
                if (nd->in[nd->port_first[j] + e] >= 0)
                    f(ck, nd, &flat[j], nd->port_first[j] + e);
        }
    }
}

/* An ids port: its input becomes int32; floats may not go there. */
static void ids_port(checker *ck, hm_node *nd, const heed_flat_attr *port, int r)
{
    heed_model *m = ck->m;
    if (!port->a->ids)
        return;
    const hm_value *val = &m->values[nd->in[r]];
    if (val->node >= 0) {
        err(ck, nd->name, ref_chosen_at(&nd->refs[r])->at,
            "node '%s': '%s' takes token ids, but '%s' is a float tensor made by node '%s'",
            nd->name, port->name, val->name, m->nodes[val->node].name);
        return;
    }
    hm_input *in = &m->inputs[val->port];
    if (in->dtype_given && in->dtype != HEED_I32) {
        err(ck, nd->name, ref_chosen_at(&nd->refs[r])->at,
            "node '%s': '%s' takes token ids, but input '%s' is declared float", nd->name,
            port->name, in->name);
        return;
    }
    in->dtype = HEED_I32;
}

/* A float port: an input holding token ids may not go there, or the op would
 * read int32 bits as floats. */
static void float_port(checker *ck, hm_node *nd, const heed_flat_attr *port, int r)
{
    heed_model *m = ck->m;
    const hm_value *val = &m->values[nd->in[r]];
    if (port->a->ids || val->node >= 0 || m->inputs[val->port].dtype != HEED_I32)
        return;
    const hm_input *in = &m->inputs[val->port];
    const char *why = "another node reads it as ids";
    if (in->dtype_given)
        why = "it is declared dtype: ids";
    for (int f = 0; f < m->n_fields && !in->dtype_given; f++)
        if (!strcmp(m->fields[f].input, in->name))
            why = "a data field fills it";
    err(ck, nd->name, ref_chosen_at(&nd->refs[r])->at,
        "node '%s': '%s' reads floats, but input '%s' holds token ids (%s); an Embedding "
        "turns ids into vectors",
        nd->name, port->name, in->name, why);
}

/* Inputs used as token ids become int32 (all ids ports first, so that the
 * float ports see every input's final dtype). */
static void infer_dtypes(checker *ck)
{
    each_port_ref(ck, ids_port);
    each_port_ref(ck, float_port);
}

/* The stuck node p that node u reads through its j-th input, or -1. */
static int stuck_producer(const heed_model *m, const int *indeg, int u, int j)
{
    int v = m->nodes[u].in[j];
    int p = v >= 0 ? m->values[v].node : -1;
    return p >= 0 && indeg[p] > 0 ? p : -1;
}

/* Tarjan's strongly connected components over the stuck nodes, edges from a
 * node to the nodes it reads: comp[u] numbers u's component. Depth is at
 * most the node count (HEED_MAX_NODES). */
typedef struct scc_state {
    const heed_model *m;
    const int *indeg;
    int *index, *low, *stack, *comp;
    bool *on_stack;
    int next_index, top, n_comp;
} scc_state;

static void scc_visit(scc_state *t, int u)
{
    t->index[u] = t->low[u] = t->next_index++;
    t->stack[t->top++] = u;
    t->on_stack[u] = true;
    for (int j = 0; j < t->m->nodes[u].n_in; j++) {
        int p = stuck_producer(t->m, t->indeg, u, j);
        if (p < 0)
            continue;
        if (t->index[p] < 0) {
            scc_visit(t, p);
            if (t->low[p] < t->low[u])
                t->low[u] = t->low[p];
        } else if (t->on_stack[p] && t->index[p] < t->low[u]) {
            t->low[u] = t->index[p];
        }
    }
    if (t->low[u] != t->index[u])
        return;
    int w;
    do {
        w = t->stack[--t->top];
        t->on_stack[w] = false;
        t->comp[w] = t->n_comp;
    } while (w != u);
    t->n_comp++;
}

/* Reports one cycle of the component holding `first`: walking back along
 * producers inside the component from its first node always comes round. */
static void report_cycle_in(checker *ck, const int *indeg, const int *comp, int *pos, int first)
{
    const heed_model *m = ck->m;
    int path[HEED_MAX_NODES], len = 0, u = first;
    while (pos[u] < 0 && len < HEED_MAX_NODES) {
        pos[u] = len;
        path[len++] = u;
        int next = -1;
        for (int j = 0; j < m->nodes[u].n_in && next < 0; j++) {
            int p = stuck_producer(m, indeg, u, j);
            if (p >= 0 && comp[p] == comp[u])
                next = p;
        }
        if (next < 0)
            return; /* not reached: a component of a cycle has an edge inside */
        u = next;
    }
    /* whole names only: a long cycle is cut after the names that fit, then
     * "... -> " and the node it closes on */
    char buf[800];
    heed_sbuf sb;
    heed_sbuf_init(&sb, buf, sizeof buf);
    const char *last = m->nodes[path[len - 1]].name;
    for (int i = len - 1; i >= pos[u]; i--) {
        const char *name = m->nodes[path[i]].name;
        if (sb.len + strlen(name) + strlen(last) + 16 > sizeof buf) {
            heed_sbuf_printf(&sb, "... -> ");
            break;
        }
        heed_sbuf_printf(&sb, "%s -> ", name);
    }
    heed_sbuf_printf(&sb, "%s", last);
    const hm_node *at = &m->nodes[path[len - 1]];
    err(ck, at->name, at->at, "the graph has a cycle: %s", buf);
}

/* Every cycle among the stuck nodes (indeg > 0 after Kahn's algorithm), one
 * report per strongly connected component that holds one (two nodes or
 * more, or a node reading itself); nodes merely behind a cycle form
 * components of their own and are not reported. */
static void report_cycles(checker *ck, const int *indeg)
{
    heed_model *m = ck->m;
    int n = m->n_nodes;
    int *ints = heed_zalloc(&m->env, 5 * (size_t)n, sizeof *ints);
    bool *on_stack = heed_zalloc(&m->env, (size_t)n, sizeof *on_stack);
    if (!ints || !on_stack) {
        nomem(ck);
        heed_dealloc(&m->env, ints);
        heed_dealloc(&m->env, on_stack);
        return;
    }
    scc_state t = {m, indeg, ints, ints + n, ints + 2 * n, ints + 3 * n, on_stack, 0, 0, 0};
    int *pos = ints + 4 * n, *size = ints + n; /* low[] is free again after the search */
    for (int u = 0; u < n; u++)
        t.index[u] = -1;
    for (int u = 0; u < n; u++)
        if (indeg[u] > 0 && t.index[u] < 0)
            scc_visit(&t, u);
    for (int c = 0; c < n; c++)
        size[c] = 0;
    for (int u = 0; u < n; u++)
        if (indeg[u] > 0)
            size[t.comp[u]]++;
    for (int u = 0; u < n; u++)
        pos[u] = -1;
    for (int u = 0; u < n; u++) {
        if (indeg[u] == 0 || size[t.comp[u]] == 0)
            continue;
        bool self = false;
        for (int j = 0; j < m->nodes[u].n_in; j++)
            self |= stuck_producer(m, indeg, u, j) == u;
        if (size[t.comp[u]] > 1 || self)
            report_cycle_in(ck, indeg, t.comp, pos, u);
        size[t.comp[u]] = 0; /* its first node has spoken for it */
    }
    heed_dealloc(&m->env, ints);
    heed_dealloc(&m->env, on_stack);
}

/* Kahn's algorithm; what is left over lies on or behind a cycle. With
 * `reorder` false (other mistakes were found) the cycles are only reported:
 * references left unresolved are -1 and skipped. */
static void topo_sort(checker *ck, bool reorder)
{
    heed_model *m = ck->m;
    int n = m->n_nodes;
    if (n == 0)
        return;
    int *indeg = heed_zalloc(&m->env, (size_t)n, sizeof *indeg);
    int *order = heed_zalloc(&m->env, (size_t)n, sizeof *order);
    int *pos = heed_zalloc(&m->env, (size_t)n, sizeof *pos);
    hm_node *sorted = heed_zalloc(&m->env, (size_t)n, sizeof *sorted);
    if (!indeg || !order || !pos || !sorted) {
        nomem(ck);
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m->nodes[i].n_in; j++) {
            int v = m->nodes[i].in[j];
            if (v >= 0 && m->values[v].node >= 0)
                indeg[i]++;
        }
    int head = 0, tail = 0;
    for (int i = 0; i < n; i++)
        if (indeg[i] == 0)
            order[tail++] = i;
    while (head < tail) {
        int u = order[head++];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m->nodes[i].n_in; j++) {
                int v = m->nodes[i].in[j];
                if (v >= 0 && m->values[v].node == u && --indeg[i] == 0)
                    order[tail++] = i;
            }
    }
    if (tail < n || !reorder) {
        if (tail < n)
            report_cycles(ck, indeg);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        sorted[i] = m->nodes[order[i]];
        sorted[i].order = i;
        pos[order[i]] = i;
    }
    memcpy(m->nodes, sorted, sizeof *sorted * (size_t)n);
    for (int v = 0; v < m->n_values; v++)
        if (m->values[v].node >= 0)
            m->values[v].node = pos[m->values[v].node];
    if (m->loss_node >= 0)
        m->loss_node = pos[m->loss_node];
done:
    heed_dealloc(&m->env, indeg);
    heed_dealloc(&m->env, order);
    heed_dealloc(&m->env, pos);
    heed_dealloc(&m->env, sorted);
}

/* ------------------------------------------------------------ outputs, train */

static void check_outputs(checker *ck, const hy_node *outputs)
{
    heed_model *m = ck->m;
    bool *consumed = heed_zalloc(&m->env, (size_t)m->n_values + 1, sizeof *consumed);
    m->keep = heed_pool_alloc(&m->env, &m->pool, sizeof *m->keep * (size_t)(m->n_values + 1));
    if (!consumed || !m->keep) {
        heed_dealloc(&m->env, consumed);
        nomem(ck);
        return;
    }
    for (int n = 0; n < m->n_nodes; n++)
        for (int i = 0; i < m->nodes[n].n_in; i++)
            if (m->nodes[n].in[i] >= 0 && m->nodes[n].in[i] < m->n_values)
                consumed[m->nodes[n].in[i]] = true;
    /* values nobody reads are results: keep them readable */
    for (int v = 0; v < m->n_values; v++)
        if (m->values[v].node >= 0 && !consumed[v])
            m->keep[m->n_keep++] = v;
    heed_dealloc(&m->env, consumed);
    m->n_keep_auto = m->n_keep;
    if (!outputs)
        return;
    const hy_node *list = outputs;
    if (hy_is_null(list)) {
        err(ck, NULL, list, "'outputs' is empty: list the values to keep readable, e.g. "
                            "outputs: [logits], or leave it out");
        return;
    }
    if (list->kind == HY_SCALAR) {
        /* a single name */
    } else if (list->kind != HY_SEQ) {
        err(ck, NULL, list, "'outputs' must list value names");
        return;
    }
    size_t count = list->kind == HY_SEQ ? list->n : 1;
    for (size_t i = 0; i < count; i++) {
        const hy_node *e = list->kind == HY_SEQ ? list->kids[i] : list;
        int v = scalar(e) ? hm_value_find(m, e->str) : -1;
        if (v < 0 && scalar(e) && of_failed_node(ck, e->str))
            continue; /* its node was refused and said so */
        if (v < 0) {
            char sug[SUGGEST_CAP] = "";
            err(ck, NULL, e, "output '%s' is not a value of the model%s",
                scalar(e) ? e->str : "?",
                scalar(e) ? suggest_value(ck, sug, sizeof sug, e->str) : "");
            continue;
        }
        m->values[v].listed = e;
        bool have = false;
        for (int k = 0; k < m->n_keep; k++)
            have |= m->keep[k] == v;
        if (!have)
            m->keep[m->n_keep++] = v;
    }
}

static const heed_attr train_schema[] = {
    {.name = "optimizer", .kind = HEED_A_CHOICE, .def = "adam", .choices = "adam,sgd",
     .doc = "adam or sgd (with momentum)"},
    {.name = "lr", .kind = HEED_A_FLOAT, .def = "0.001", .lo = 1e-9, .hi = 100,
     .doc = "learning rate"},
    {.name = "momentum", .kind = HEED_A_FLOAT, .def = "0.9", .lo = 0, .hi = 0.9999,
     .doc = "SGD momentum"},
    {.name = "beta1", .kind = HEED_A_FLOAT, .def = "0.9", .lo = 0, .hi = 0.9999,
     .doc = "Adam beta1"},
    {.name = "beta2", .kind = HEED_A_FLOAT, .def = "0.999", .lo = 0, .hi = 0.99999,
     .doc = "Adam beta2"},
    {.name = "eps", .kind = HEED_A_FLOAT, .def = "1e-8", .lo = 1e-12, .hi = 1,
     .doc = "Adam epsilon"},
    {.name = "weight_decay", .kind = HEED_A_FLOAT, .def = "0", .lo = 0, .hi = 1,
     .doc = "L2 penalty (decoupled for Adam: AdamW)"},
    {.name = "clip", .kind = HEED_A_FLOAT, .def = "0", .lo = 0, .hi = 1e6,
     .doc = "clip gradients to this global norm (0: off)"},
    {.name = "batch", .kind = HEED_A_INT, .def = "32", .lo = 1, .hi = 1 << 20,
     .doc = "examples per step"},
    {.name = "epochs", .kind = HEED_A_INT, .def = "10", .lo = 1, .hi = 1000000,
     .doc = "passes over the training data"},
    {.name = "seed", .kind = HEED_A_INT, .def = "1", .lo = 0, .hi = 4294967295.0,
     .doc = "seed of initialisation, shuffling and dropout"},
    {.name = "lr_decay", .kind = HEED_A_FLOAT, .def = "1", .lo = 1e-6, .hi = 1,
     .doc = "multiply lr by this after each epoch"},
    {.name = "label_smoothing", .kind = HEED_A_FLOAT, .def = "0", .lo = 0, .hi = 0.99,
     .doc = "label smoothing of the loss while training (0: the loss's smoothing:)"},
    {0}};

static double num_or(const hy_node *v, const char *def)
{
    double x = 0;
    if (v && hy_float(v, &x))
        return x;
    return strtod(def, NULL);
}

static void check_train(checker *ck, const hy_node *train)
{
    const hy_node *f[16];
    check_section(ck, "train", train, train_schema, f);
    heed_train_config *t = &ck->m->train;
    t->optimizer = f[0] && strcmp(f[0]->str, "sgd") == 0 ? HEED_OPT_SGD : HEED_OPT_ADAM;
    t->lr = (float)num_or(f[1], train_schema[1].def);
    t->momentum = (float)num_or(f[2], train_schema[2].def);
    t->beta1 = (float)num_or(f[3], train_schema[3].def);
    t->beta2 = (float)num_or(f[4], train_schema[4].def);
    t->eps = (float)num_or(f[5], train_schema[5].def);
    t->weight_decay = (float)num_or(f[6], train_schema[6].def);
    t->clip = (float)num_or(f[7], train_schema[7].def);
    t->batch = (int)num_or(f[8], train_schema[8].def);
    t->epochs = (int)num_or(f[9], train_schema[9].def);
    t->seed = (uint64_t)num_or(f[10], train_schema[10].def);
    t->lr_decay = (float)num_or(f[11], train_schema[11].def);
    t->label_smoothing = (float)num_or(f[12], train_schema[12].def);
}

static const heed_attr decode_schema[] = {
    {.name = "max_length", .kind = HEED_A_INT, .def = "64", .lo = 1, .hi = 4096,
     .doc = "longest output when decoding"},
    {.name = "input", .kind = HEED_A_STRING, .def = "",
     .doc = "the input fed back one token at a time (default: the loss's target with shift 1)"},
    {.name = "logits", .kind = HEED_A_STRING, .def = "",
     .doc = "the next token's scores (default: the loss's logits)"},
    {.name = "attention", .kind = HEED_A_STRING, .def = "",
     .doc = "attention weights to show (default: the first kept value named *.weights)"},
    {0}};

/* What decoding feeds back and reads: given in decode:, or derived from a
 * CrossEntropy loss with shift 1 on a model input. */
static void check_decode(checker *ck, const hy_node *decode)
{
    heed_model *m = ck->m;
    const hy_node *f[5];
    check_section(ck, "decode", decode, decode_schema, f);
    m->decode_max_length = (int)num_or(f[0], "64");
    m->decode_input = m->decode_logits = m->decode_attention = -1;
    /* what the loss implies needs a loss that checked; the names given are
     * checked whatever else is wrong */
    if (!ck->errors && m->loss_node >= 0 &&
        m->nodes[m->loss_node].op == &heed_op_cross_entropy) {
        const hm_node *ce = &m->nodes[m->loss_node];
        int shift = hm_attr_index(ce->op, "shift");
        int64_t sv = 0;
        if (shift >= 0 && ce->attr[shift])
            hy_int(ce->attr[shift], &sv);
        const hm_value *target = &m->values[ce->in[1]];
        if (sv == 1 && target->node < 0) {
            m->decode_input = target->port;
            m->decode_logits = ce->in[0];
        }
    }
    char sug[SUGGEST_CAP];
    if (f[1] && (m->decode_input = hm_input_index(m, f[1]->str)) < 0) {
        const char *names[64];
        size_t n = 0;
        for (int i = 0; i < m->n_inputs && n < 64; i++)
            names[n++] = m->inputs[i].name;
        err(ck, NULL, f[1], "decode input '%s' is not a model input%s", f[1]->str,
            suggest(ck, sug, sizeof sug, f[1]->str, names, n));
    }
    if (f[2] && (m->decode_logits = hm_value_find(m, f[2]->str)) < 0 &&
        !of_failed_node(ck, f[2]->str))
        err(ck, NULL, f[2], "decode logits '%s' is not a value of the model%s", f[2]->str,
            suggest_value(ck, sug, sizeof sug, f[2]->str));
    if (f[3] && (m->decode_attention = hm_value_find(m, f[3]->str)) < 0 &&
        !of_failed_node(ck, f[3]->str))
        err(ck, NULL, f[3], "decode attention '%s' is not a value of the model%s", f[3]->str,
            suggest_value(ck, sug, sizeof sug, f[3]->str));
}

/* ------------------------------------------------------------ hash */

/* A hash of what determines the parameters and the computation: the inputs,
 * fixed dims, data fields and every node's op, attributes and inputs in
 * topological order. Comments, key order and training settings do not count. */
static uint64_t hash_node_value(uint64_t h, const hy_node *v)
{
    if (!v)
        return heed_hash_bytes(h, "~", 1);
    if (v->kind == HY_SCALAR)
        return heed_hash_bytes(h, v->str, v->len + 1);
    h = heed_hash_bytes(h, v->kind == HY_SEQ ? "[" : "{", 1);
    size_t n = v->kind == HY_MAP ? 2 * v->n : v->n;
    for (size_t i = 0; i < n; i++)
        h = hash_node_value(h, v->kids[i]);
    return h;
}

static void compute_hash(heed_model *m)
{
    uint64_t h = HEED_HASH_INIT;
    for (int i = 0; i < m->n_syms; i++) {
        h = heed_hash_bytes(h, m->syms[i].name, strlen(m->syms[i].name) + 1);
        if (m->syms[i].kind == HM_SYM_FIXED)
            h = heed_hash_bytes(h, &m->syms[i].value, sizeof m->syms[i].value);
    }
    for (int i = 0; i < m->n_inputs; i++) {
        h = heed_hash_bytes(h, m->inputs[i].name, strlen(m->inputs[i].name) + 1);
        h = heed_hash_bytes(h, &m->inputs[i].rank, sizeof(int));
    }
    for (int i = 0; i < m->n_fields; i++) {
        const hm_field *f = &m->fields[i];
        int bits[6] = {f->column, (int)f->tokens, f->bos, f->eos, f->reverse, f->vocab};
        h = heed_hash_bytes(h, bits, sizeof bits);
    }
    for (int n = 0; n < m->n_nodes; n++) {
        const hm_node *nd = &m->nodes[n];
        h = heed_hash_bytes(h, nd->name, strlen(nd->name) + 1);
        h = heed_hash_bytes(h, nd->op->name, strlen(nd->op->name) + 1);
        for (int a = 0; a < nd->n_attr; a++)
            h = hash_node_value(h, nd->attr[a]);
    }
    m->hash = h;
}

/* ------------------------------------------------------------ entry */

static const char *const top_keys[] = {"heed",    "name",   "doc",  "dims",  "inputs",
                                       "data",    "blocks", "nodes", "outputs", "loss",
                                       "train",   "decode"};
#define N_TOP_KEYS (sizeof top_keys / sizeof top_keys[0])

static void check_top(checker *ck, const hy_node *root)
{
    for (size_t i = 0; i < root->n; i++) {
        const char *k = scalar(hy_key(root, i));
        bool ok = false;
        for (size_t j = 0; k && j < N_TOP_KEYS; j++)
            ok |= strcmp(k, top_keys[j]) == 0;
        if (!ok) {
            char sug[SUGGEST_CAP];
            err(ck, NULL, hy_key(root, i), "unknown top-level key '%s'%s", k ? k : "?",
                k ? suggest(ck, sug, sizeof sug, k, top_keys, N_TOP_KEYS) : "");
            note_list(ck, "top-level keys", top_keys, N_TOP_KEYS);
        }
    }
    const hy_node *ver = hy_get(root, "heed");
    int64_t v;
    if (!ver)
        err(ck, NULL, root, "the model must start with 'heed: 1' (the language version)");
    else if (!hy_int(ver, &v) || v != 1)
        err(ck, NULL, ver, "this heed reads language version 1, not '%s'%s",
            scalar(ver) ? ver->str : "?",
            scalar(ver) && !strcmp(ver->str, "1") ? " (a quoted string: write heed: 1)" : "");
    heed_model *m = ck->m;
    const hy_node *name = hy_get(root, "name"), *doc = hy_get(root, "doc");
    if (name && !scalar(name))
        err(ck, NULL, name, "'name' must be a name, not %s", hy_kind_name(name->kind));
    /* the name is printed by the tools and written into weights files: a
     * control character would reach a terminal as it is */
    for (const char *c = scalar(name) ? name->str : ""; *c; c++) {
        unsigned char b = (unsigned char)*c, next = (unsigned char)c[1];
        /* C0, DEL and C1 (U+0080-U+009F, UTF-8 C2 80-9F), which some
         * terminals obey as well */
        if (b < 0x20 || b == 0x7f || (b == 0xc2 && next >= 0x80 && next < 0xa0)) {
            err(ck, NULL, name, "'name' holds a control character (U+%04X)",
                b == 0xc2 ? (unsigned)next : (unsigned)b);
            break;
        }
    }
    if (doc && !scalar(doc))
        err(ck, NULL, doc, "'doc' must be text, not %s", hy_kind_name(doc->kind));
    m->name = hm_strdup(m, scalar(name) ? name->str : "model");
    m->doc_text = hm_strdup(m, scalar(doc) ? doc->str : "");
    if (!m->name || !m->doc_text)
        nomem(ck);
}

/* The key node of `name` in a mapping: where a name defined there is written. */
static const hy_node *key_of(const hy_node *map, const char *name)
{
    for (size_t i = 0; i < map->n; i++)
        if (scalar(hy_key(map, i)) && !strcmp(hy_key(map, i)->str, name))
            return hy_key(map, i);
    return map;
}

static void check_dim_attrs(checker *ck)
{
    heed_model *m = ck->m;
    for (int n = 0; n < m->n_nodes; n++) {
        const hm_node *nd = &m->nodes[n];
        heed_flat_attr flat[HEED_MAX_ATTRS];
        int n_flat = heed_flatten_attrs(nd->op->attrs, flat, HEED_MAX_ATTRS);
        for (int j = 0; j < n_flat; j++) {
            const hy_node *v = nd->attr[j];
            int64_t x;
            if (flat[j].a->kind == HEED_A_DIM && v && !hy_int(v, &x))
                check_dim_names(ck, nd->name, v);
        }
    }
}

heed_status heed_model_build(const heed_env *env, hy_doc *doc, heed_model **out,
                             heed_diag *diag)
{
    *out = NULL;
    heed_model *m = heed_zalloc(env, 1, sizeof *m);
    if (!m) {
        hy_free(doc);
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory while checking the model");
    }
    m->env = *env;
    m->doc = doc;
    doc->env = &m->env; /* the caller's env may be a local copy */
    m->loss_node = -1;
    checker ck = {.m = m, .diag = diag, .errors = doc->errors};
    const hy_node *root = doc->root;
    if (!root || hy_is_null(root)) {
        heed_srcpos pos = {doc->file, NULL, 0, 0};
        heed_diag_add(diag, HEED_ERR_MODEL, &pos, NULL, "the model file is empty");
        heed_model_free(m);
        return HEED_ERR_MODEL;
    }
    if (root->kind != HY_MAP) {
        err(&ck, NULL, root, "a model file is a mapping (heed: 1, inputs:, nodes: ...), not %s",
            hy_kind_name(root->kind));
        heed_dealloc(env, ck.said); /* what err() recorded */
        heed_model_free(m);
        return HEED_ERR_MODEL;
    }
    check_top(&ck, root);
    check_dims(&ck, hy_get(root, "dims"));
    check_inputs(&ck, hy_get(root, "inputs"));
    check_data(&ck, hy_get(root, "data"));
    ck.blocks = hy_get(root, "blocks");
    check_block_defs(&ck, ck.blocks);
    const hy_node *nodes = hy_get(root, "nodes");
    scope top = {.prefix = ""};
    if (!nodes || nodes->kind != HY_MAP || nodes->n == 0)
        err(&ck, NULL, nodes ? nodes : root, "the model needs 'nodes:', a mapping of node names "
                                             "to ops");
    else
        add_nodes(&ck, &top, nodes);
    const hy_node *loss = hy_get(root, "loss");
    if (loss) {
        if (loss->kind != HY_MAP) {
            err(&ck, NULL, loss, "'loss' must be a mapping such as {op: CrossEntropy, ...}");
        } else {
            int before = m->n_nodes;
            add_op_node(&ck, &top, "loss", key_of(root, "loss"), loss, true);
            if (m->n_nodes > before)
                m->loss_node = before;
        }
    }
    if (m->n_nodes > HEED_MAX_NODES)
        m->n_nodes = HEED_MAX_NODES;
    resolve_aliases(&ck);
    resolve_refs(&ck);
    if (ck.errors == 0)
        infer_dtypes(&ck);
    topo_sort(&ck, ck.errors == 0);
    check_dim_attrs(&ck);
    /* its own mistakes are said beside the nodes' (values of refused nodes
     * exist, so no name is reported wrongly) */
    check_outputs(&ck, hy_get(root, "outputs"));
    check_train(&ck, hy_get(root, "train"));
    check_decode(&ck, hy_get(root, "decode"));
    heed_dealloc(env, ck.aliases);
    heed_dealloc(env, ck.failed);
    heed_dealloc(env, ck.said);
    if (ck.errors > 0) {
        heed_status st = diag && diag->status != HEED_OK ? diag->status : HEED_ERR_MODEL;
        heed_model_free(m);
        return st;
    }
    compute_hash(m);
    *out = m;
    return HEED_OK;
}
