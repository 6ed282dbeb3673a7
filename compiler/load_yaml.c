/* load_yaml.c - libyaml events to a positioned tree (see yaml.h). */
#include "yaml.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ------------------------------------------------------------ builder */

typedef struct frame {
    hy_node *node;
    hy_node **kids;
    size_t n, cap;
    char *anchor;
} frame;

typedef struct anchor_def {
    char *name;
    hy_node *node;
} anchor_def;

typedef struct builder {
    const heed_env *env;
    hy_doc *doc;
    const hy_limits *lim;
    heed_diag *diag;
    frame *stack;
    size_t depth, stack_cap;
    anchor_def *anchors;
    size_t n_anchors, anchors_cap;
    size_t expanded;
    heed_status status;
    int soft_errors; /* reported errors that do not stop the parse */
} builder;

static void fail_at(builder *b, heed_status st, int line, int col, const char *fmt,
                    const char *a)
{
    heed_srcpos pos = {b->doc->file, b->doc->text, line, col};
    heed_diag_add(b->diag, st, &pos, NULL, fmt, a);
    b->status = st;
}

static void fail_nomem(builder *b)
{
    if (b->status == HEED_OK)
        heed_fail(b->diag, HEED_ERR_NOMEM, "out of memory while reading %s", b->doc->file);
    b->status = HEED_ERR_NOMEM;
}

static hy_node *new_node(builder *b, hy_kind kind, const yaml_mark_t *mark)
{
    hy_node *n = heed_pool_alloc(b->env, &b->doc->pool, sizeof *n);
    if (!n) {
        fail_nomem(b);
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->line = (int)mark->line + 1;
    n->col = (int)mark->column + 1;
    n->weight = 1;
    return n;
}

static char *pool_str(builder *b, const char *s, size_t len)
{
    char *p = heed_pool_alloc(b->env, &b->doc->pool, len + 1);
    if (!p) {
        fail_nomem(b);
        return NULL;
    }
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static bool add_expanded(builder *b, size_t weight, const yaml_mark_t *mark)
{
    if (heed_add_ok(b->expanded, weight, &b->expanded) && b->expanded <= b->lim->max_expanded)
        return true;
    fail_at(b, HEED_ERR_LIMIT, (int)mark->line + 1, (int)mark->column + 1,
            "the document expands to more than %s nodes (alias expansion limit)", "1000000");
    return false;
}

static bool register_anchor(builder *b, const char *name, hy_node *node)
{
    if (!name)
        return true;
    if (!heed_grow(b->env, (void **)&b->anchors, &b->anchors_cap, b->n_anchors + 1,
                   sizeof *b->anchors)) {
        fail_nomem(b);
        return false;
    }
    char *copy = pool_str(b, name, strlen(name));
    if (!copy)
        return false;
    b->anchors[b->n_anchors++] = (anchor_def){copy, node};
    return true;
}

/* Adds a finished node to the innermost open container (or makes it the root). */
static bool attach(builder *b, hy_node *node)
{
    if (b->depth == 0) {
        b->doc->root = node;
        return true;
    }
    frame *f = &b->stack[b->depth - 1];
    if (!heed_grow(b->env, (void **)&f->kids, &f->cap, f->n + 1, sizeof *f->kids)) {
        fail_nomem(b);
        return false;
    }
    f->kids[f->n++] = node;
    if (!heed_add_ok(f->node->weight, node->weight, &f->node->weight))
        f->node->weight = SIZE_MAX;
    return true;
}

static bool open_container(builder *b, hy_kind kind, const yaml_mark_t *mark,
                           const yaml_char_t *anchor)
{
    if (b->depth >= b->lim->max_depth) {
        fail_at(b, HEED_ERR_LIMIT, (int)mark->line + 1, (int)mark->column + 1,
                "nesting deeper than %s levels", "64");
        return false;
    }
    hy_node *n = new_node(b, kind, mark);
    if (!n || !add_expanded(b, 1, mark))
        return false;
    if (!heed_grow(b->env, (void **)&b->stack, &b->stack_cap, b->depth + 1, sizeof *b->stack)) {
        fail_nomem(b);
        return false;
    }
    frame *f = &b->stack[b->depth++];
    memset(f, 0, sizeof *f);
    f->node = n;
    f->anchor = anchor ? pool_str(b, (const char *)anchor, strlen((const char *)anchor)) : NULL;
    return !anchor || f->anchor;
}

static int cmp_key(const void *pa, const void *pb)
{
    const hy_node *a = *(hy_node *const *)pa, *b = *(hy_node *const *)pb;
    if (a->kind != HY_SCALAR || b->kind != HY_SCALAR)
        return a->kind - b->kind;
    int c = strcmp(a->str, b->str);
    if (c)
        return c;
    /* equal keys: order by position so the second occurrence is reported */
    return a->line != b->line ? a->line - b->line : a->col - b->col;
}

/* libyaml reads "<<: *base" as a key named "<<": says what it is, then
 * drops the pair, which the checker would report again as an unknown key. */
static void drop_merge_keys(builder *b, hy_node *map)
{
    size_t kept = 0;
    for (size_t i = 0; i < map->n; i++) {
        hy_node *k = map->kids[2 * i], *v = map->kids[2 * i + 1];
        if (k->kind == HY_SCALAR && k->plain && !strcmp(k->str, "<<")) {
            heed_srcpos pos = {b->doc->file, b->doc->text, k->line, k->col};
            heed_diag_add(b->diag, HEED_ERR_SYNTAX, &pos, NULL,
                          "merge keys ('<<') are not supported: write the keys out (an alias "
                          "such as *base may stand for a whole value)");
            b->soft_errors++;
            continue;
        }
        map->kids[2 * kept] = k;
        map->kids[2 * kept + 1] = v;
        kept++;
    }
    map->n = kept;
}

/* libyaml accepts repeated keys; a model with two `lr:` silently using one is a trap. */
static bool check_duplicate_keys(builder *b, hy_node *map)
{
    drop_merge_keys(b, map);
    if (map->n < 2)
        return true;
    hy_node **keys = heed_zalloc(b->env, map->n, sizeof *keys);
    if (!keys) {
        fail_nomem(b);
        return false;
    }
    for (size_t i = 0; i < map->n; i++)
        keys[i] = map->kids[2 * i];
    qsort(keys, map->n, sizeof *keys, cmp_key);
    /* each repeat names the key's first place, the start of its run */
    for (size_t i = 1, first = 0; i < map->n; i++) {
        if (keys[i]->kind == HY_SCALAR && keys[first]->kind == HY_SCALAR &&
            strcmp(keys[i]->str, keys[first]->str) == 0) {
            heed_srcpos pos = {b->doc->file, b->doc->text, keys[i]->line, keys[i]->col};
            heed_diag_add(b->diag, HEED_ERR_SYNTAX, &pos, NULL,
                          "duplicate key '%s' (first defined at line %d)", keys[i]->str,
                          keys[first]->line);
            b->soft_errors++;
        } else {
            first = i;
        }
    }
    heed_dealloc(b->env, keys);
    return true;
}

static bool close_container(builder *b)
{
    frame *f = &b->stack[--b->depth];
    hy_node *n = f->node;
    bool ok = true;
    if (f->n) {
        n->kids = heed_pool_alloc(b->env, &b->doc->pool, f->n * sizeof *n->kids);
        if (!n->kids) {
            fail_nomem(b);
            ok = false;
        } else {
            memcpy(n->kids, f->kids, f->n * sizeof *n->kids);
        }
    }
    n->n = n->kind == HY_MAP ? f->n / 2 : f->n;
    heed_dealloc(b->env, f->kids);
    if (!ok)
        return false;
    if (n->kind == HY_MAP && !check_duplicate_keys(b, n))
        return false;
    if (!register_anchor(b, f->anchor, n))
        return false;
    return attach(b, n);
}

static bool on_scalar(builder *b, const yaml_event_t *ev)
{
    hy_node *n = new_node(b, HY_SCALAR, &ev->start_mark);
    if (!n || !add_expanded(b, 1, &ev->start_mark))
        return false;
    n->str = pool_str(b, (const char *)ev->data.scalar.value, ev->data.scalar.length);
    if (!n->str)
        return false;
    if (strlen(n->str) != ev->data.scalar.length) {
        fail_at(b, HEED_ERR_SYNTAX, n->line, n->col, "%s", "a scalar contains a NUL character");
        return false;
    }
    n->len = ev->data.scalar.length;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    const yaml_char_t *anchor = ev->data.scalar.anchor;
    return register_anchor(b, (const char *)anchor, n) && attach(b, n);
}

static bool on_alias(builder *b, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    for (size_t i = b->n_anchors; i-- > 0;) {
        if (strcmp(b->anchors[i].name, name) == 0) {
            hy_node *target = b->anchors[i].node;
            /* Shared, not copied, but counted as if expanded (billion laughs). */
            if (!add_expanded(b, target->weight, &ev->start_mark))
                return false;
            /* the node itself is repeated where the alias is written (its
             * contents shared), so a mistake in the value is reported at
             * that use, not on the anchor's line */
            hy_node *use = new_node(b, target->kind, &ev->start_mark);
            if (!use)
                return false;
            int line = use->line, col = use->col;
            *use = *target;
            use->line = line;
            use->col = col;
            return attach(b, use);
        }
    }
    fail_at(b, HEED_ERR_SYNTAX, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
            "unknown alias '*%s'", name);
    return false;
}

/* The 1-based line and column (in bytes) of byte `at` of `text`. */
static void offset_position(const char *text, size_t len, size_t at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    /* columns count characters, as libyaml's own marks do: UTF-8
     * continuation bytes (10xxxxxx) add none */
    for (size_t i = 0; i < at && i < len; i++) {
        if (text[i] == '\n')
            ++*line, *col = 1;
        else if (((unsigned char)text[i] & 0xC0) != 0x80)
            ++*col;
    }
}

static void syntax_error(builder *b, const yaml_parser_t *p)
{
    char msg[512];
    const yaml_mark_t *m = &p->problem_mark;
    if (p->context)
        snprintf(msg, sizeof msg, "%s %s", p->problem ? p->problem : "syntax error", p->context);
    else
        snprintf(msg, sizeof msg, "%s", p->problem ? p->problem : "syntax error");
    if (p->error == YAML_MEMORY_ERROR) {
        fail_nomem(b);
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        /* The reader (encoding checks: invalid UTF-8, control characters) leaves
         * problem_mark unset and gives a byte offset instead. */
        int line, col;
        offset_position(b->doc->text, b->doc->text_len, p->problem_offset, &line, &col);
        size_t len = strlen(msg);
        if (p->problem_value >= 0)
            snprintf(msg + len, sizeof msg - len, " (0x%02X)", (unsigned)p->problem_value);
        fail_at(b, HEED_ERR_SYNTAX, line, col, "YAML: %s", msg);
        return;
    }
    /* the commonest cause of this scanner error, said plainly */
    if (p->error == YAML_SCANNER_ERROR && m->index < b->doc->text_len &&
        b->doc->text[m->index] == '\t') {
        fail_at(b, HEED_ERR_SYNTAX, (int)m->line + 1, (int)m->column + 1,
                "YAML: %s", "a tab where YAML needs spaces (it indents with spaces, not tabs)");
        return;
    }
    fail_at(b, HEED_ERR_SYNTAX, (int)m->line + 1, (int)m->column + 1, "YAML: %s", msg);
}

void hy_limits_default(hy_limits *limits)
{
    limits->max_bytes = 16u << 20;
    limits->max_depth = 64;
    limits->max_expanded = 1000000;
}

static heed_status run_parser(builder *b)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fail_nomem(b);
        return b->status;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)b->doc->text, b->doc->text_len);
    int documents = 0;
    bool done = false;
    while (!done && b->status == HEED_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            syntax_error(b, &parser);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = true; break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1)
                fail_at(b, HEED_ERR_SYNTAX, (int)ev.start_mark.line + 1,
                        (int)ev.start_mark.column + 1, "%s",
                        "a model file holds one YAML document, this is a second one");
            break;
        case YAML_SCALAR_EVENT: on_scalar(b, &ev); break;
        case YAML_ALIAS_EVENT: on_alias(b, &ev); break;
        case YAML_SEQUENCE_START_EVENT:
            open_container(b, HY_SEQ, &ev.start_mark, ev.data.sequence_start.anchor);
            break;
        case YAML_MAPPING_START_EVENT:
            open_container(b, HY_MAP, &ev.start_mark, ev.data.mapping_start.anchor);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            close_container(b);
            break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    while (b->depth > 0)
        heed_dealloc(b->env, b->stack[--b->depth].kids);
    heed_dealloc(b->env, b->stack);
    heed_dealloc(b->env, b->anchors);
    b->doc->errors = b->soft_errors;
    return b->status;
}

heed_status hy_parse(const heed_env *env, const char *text, size_t len, const char *file,
                     const hy_limits *limits, hy_doc **out, heed_diag *diag)
{
    *out = NULL;
    hy_limits lim;
    if (!limits) {
        hy_limits_default(&lim);
        limits = &lim;
    }
    heed_diag local;
    heed_diag_clear(&local);
    if (!diag)
        diag = &local;
    if (!file)
        file = "<string>";
    if (len > limits->max_bytes) {
        heed_srcpos pos = {file, NULL, 0, 0};
        heed_diag_add(diag, HEED_ERR_LIMIT, &pos, NULL,
                      "file is %zu bytes, more than the limit of %zu", len, limits->max_bytes);
        return HEED_ERR_LIMIT;
    }
    hy_doc *doc = heed_zalloc(env, 1, sizeof *doc);
    if (!doc)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory while reading %s", file);
    doc->env = env;
    doc->file = heed_strdup(env, file);
    doc->text = heed_strndup(env, text, len);
    doc->text_len = len;
    if (!doc->file || !doc->text) {
        hy_free(doc);
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory while reading %s", file);
    }
    builder b = {.env = env, .doc = doc, .lim = limits, .diag = diag};
    /* A NUL inside the text would silently end the parse early. */
    if (memchr(text, '\0', len)) {
        size_t at = (size_t)((const char *)memchr(text, '\0', len) - text);
        int line, col;
        offset_position(text, len, at, &line, &col);
        fail_at(&b, HEED_ERR_SYNTAX, line, col, "%s",
                "the file contains a NUL byte (is it a binary file?)");
    } else {
        run_parser(&b);
    }
    if (b.status != HEED_OK) {
        hy_free(doc);
        return b.status;
    }
    *out = doc;
    return HEED_OK;
}

void hy_free(hy_doc *doc)
{
    if (!doc)
        return;
    const heed_env *env = doc->env;
    heed_pool_free(env, doc->pool);
    heed_dealloc(env, doc->file);
    heed_dealloc(env, doc->text);
    heed_dealloc(env, doc);
}

const hy_node *hy_get(const hy_node *map, const char *key)
{
    if (!map || map->kind != HY_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        const hy_node *k = hy_key(map, i);
        if (k->kind == HY_SCALAR && strcmp(k->str, key) == 0)
            return hy_val(map, i);
    }
    return NULL;
}

const char *hy_kind_name(hy_kind kind)
{
    switch (kind) {
    case HY_SCALAR: return "a scalar";
    case HY_SEQ: return "a list";
    case HY_MAP: return "a mapping";
    }
    return "?";
}

bool hy_is_null(const hy_node *node)
{
    return node && node->kind == HY_SCALAR && node->plain &&
           (node->len == 0 || strcmp(node->str, "~") == 0 || strcmp(node->str, "null") == 0);
}

bool hy_int(const hy_node *node, int64_t *out)
{
    if (!node || node->kind != HY_SCALAR || !node->plain || node->len == 0)
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(node->str, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Whether s is a number as YAML 1.2's core schema writes one: digits with
 * an optional sign, point and exponent. strtod alone also reads hex floats
 * (0x0.1p0), "inf" and "nan", which YAML reads as text. */
static bool is_decimal(const char *s)
{
    const char *digits = "0123456789";
    s += *s == '-' || *s == '+';
    size_t n = strspn(s, digits);
    s += n;
    if (*s == '.') {
        size_t frac = strspn(s + 1, digits);
        s += 1 + frac;
        n += frac;
    }
    if (n == 0)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        s += *s == '-' || *s == '+';
        size_t exp = strspn(s, digits);
        if (exp == 0)
            return false;
        s += exp;
    }
    return *s == '\0';
}

bool hy_float(const hy_node *node, double *out)
{
    if (!node || node->kind != HY_SCALAR || !node->plain || node->len == 0)
        return false;
    const char *s = node->str;
    /* YAML's .inf and .nan spellings are read so they can be refused by name */
    if (strcmp(s, ".inf") == 0 || strcmp(s, ".Inf") == 0 || strcmp(s, "+.inf") == 0) {
        *out = INFINITY;
        return true;
    }
    if (strcmp(s, "-.inf") == 0 || strcmp(s, "-.Inf") == 0) {
        *out = -INFINITY;
        return true;
    }
    if (strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0) {
        *out = NAN;
        return true;
    }
    if (!is_decimal(s))
        return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || errno == EINVAL)
        return false;
    *out = v;
    return true;
}

bool hy_bool_text(const char *s, bool *out)
{
    /* YAML 1.2's spellings, and YAML 1.1's yes and no, which files use */
    static const char *const yes[] = {"true", "True", "TRUE", "yes"};
    static const char *const no[] = {"false", "False", "FALSE", "no"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
            *out = !strcmp(s, yes[i]);
            return true;
        }
    }
    return false;
}

bool hy_bool(const hy_node *node, bool *out)
{
    return node && node->kind == HY_SCALAR && node->plain && hy_bool_text(node->str, out);
}
