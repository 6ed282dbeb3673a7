/*
 * data.c - TSV files to token ids: tokenising (characters, words or whole
 * labels), vocabularies (four reserved ids, then tokens in byte order so the
 * ids do not depend on row order), datasets and batches padded with the pad id.
 * Files are untrusted: invalid UTF-8, missing columns and oversized files are
 * reported with file:line.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define DATA_MAX_FILE ((size_t)2 << 30)
#define DATA_MAX_TOKENS 4096 /* per field per row */
#define DATA_MAX_COLUMNS 256 /* a data field's column: is 0 to 255 */
#define DATA_MAX_LINE ((size_t)1 << 20) /* bytes per row: a row is read whole into memory */

static const char *const reserved[4] = {"<pad>", "<unk>", "<bos>", "<eos>"};

/* ------------------------------------------------------------ UTF-8 */

/* Length of the UTF-8 sequence at s (1-4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        n = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    /* overlong forms, surrogates and values past U+10FFFF */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

bool hv_split(hm_tokens tokens, const char *text, size_t len, hv_token_fn fn, void *user)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    for (size_t k = 0; k < len;) {
        size_t n = utf8_len(s + k, len - k);
        if (!n)
            return false;
        k += n;
    }
    if (tokens == HM_TOK_LABEL) {
        while (len && (text[len - 1] == ' ' || text[len - 1] == '\r'))
            len--;
        while (i < len && text[i] == ' ')
            i++;
        if (len > i)
            fn(user, text + i, len - i);
        return true;
    }
    if (tokens == HM_TOK_WORDS) {
        while (i < len) {
            while (i < len && (text[i] == ' ' || text[i] == '\r'))
                i++;
            size_t start = i;
            while (i < len && text[i] != ' ' && text[i] != '\r')
                i++;
            if (i > start && !fn(user, text + start, i - start))
                return true;
        }
        return true;
    }
    while (i < len) {
        size_t n = utf8_len(s + i, len - i);
        if (text[i] != '\r' && !fn(user, text + i, n))
            return true;
        i += n;
    }
    return true;
}

/* ------------------------------------------------------------ vocabularies */

heed_vocab *hv_new(const heed_model *m)
{
    heed_vocab *v = heed_zalloc(&m->env, 1, sizeof *v);
    if (!v)
        return NULL;
    v->m = m;
    v->env = &m->env;
    v->n = m->n_vocabs;
    v->v = heed_zalloc(&m->env, (size_t)m->n_vocabs + 1, sizeof *v->v);
    v->tokens = heed_zalloc(&m->env, (size_t)m->n_fields + 1, sizeof *v->tokens);
    if (!v->v || !v->tokens) {
        heed_dealloc(&m->env, v->v);
        heed_dealloc(&m->env, v->tokens);
        heed_dealloc(&m->env, v);
        return NULL;
    }
    for (int f = 0; f < m->n_fields; f++)
        v->tokens[f] = m->fields[f].tokens;
    return v;
}

const char *hv_tokens_name(hm_tokens tokens)
{
    return tokens == HM_TOK_WORDS ? "words" : tokens == HM_TOK_LABEL ? "label" : "chars";
}

bool hv_set_tokens(heed_vocab *vocab, int f, const char *tokens, char *why, size_t cap)
{
    const hm_field *fd = &vocab->m->fields[f];
    bool words = !strcmp(tokens, "words");
    if (!words && strcmp(tokens, "chars") != 0) {
        snprintf(why, cap, "field '%s' cannot be tokenised as '%s' (chars or words)", fd->input,
                 tokens);
        return false;
    }
    /* a label field is one token per row, a tensor of rank 1: splitting it
     * would change the input's rank, which the graph was checked against */
    if (fd->tokens == HM_TOK_LABEL) {
        snprintf(why, cap, "field '%s' is read whole (tokens: label); only chars and words "
                           "fields can be tokenised the other way", fd->input);
        return false;
    }
    vocab->tokens[f] = words ? HM_TOK_WORDS : HM_TOK_CHARS;
    return true;
}

int hv_add(heed_vocab *vocab, int k, const char *token)
{
    hv_vocab *hv = &vocab->v[k];
    int id = heed_strmap_get(&hv->ids, token);
    if (id >= 0)
        return id;
    if (!heed_grow(vocab->env, (void **)&hv->tokens, &hv->cap, (size_t)hv->n + 1,
                   sizeof *hv->tokens))
        return -1;
    char *copy = heed_pool_strdup(vocab->env, &vocab->pool, token);
    if (!copy || !heed_strmap_put(vocab->env, &hv->ids, copy, hv->n))
        return -1;
    hv->tokens[hv->n] = copy;
    return hv->n++;
}

void heed_vocab_free(heed_vocab *vocab)
{
    if (!vocab)
        return;
    for (int k = 0; k < vocab->n; k++) {
        heed_dealloc(vocab->env, vocab->v[k].tokens);
        heed_strmap_free(vocab->env, &vocab->v[k].ids);
    }
    heed_dealloc(vocab->env, vocab->v);
    heed_dealloc(vocab->env, vocab->tokens);
    heed_pool_free(vocab->env, vocab->pool);
    heed_dealloc(vocab->env, vocab);
}

static bool add_reserved(heed_vocab *v)
{
    for (int k = 0; k < v->n; k++)
        for (int r = 0; r < 4; r++)
            if (hv_add(v, k, reserved[r]) != r)
                return false;
    return true;
}

heed_vocab *hv_copy(const heed_vocab *src, const heed_model *m)
{
    heed_vocab *v = hv_new(m);
    if (!v)
        return NULL;
    for (int f = 0; f < m->n_fields && f < src->m->n_fields; f++)
        v->tokens[f] = src->tokens[f];
    for (int k = 0; k < src->n && k < v->n; k++)
        for (int i = 0; i < src->v[k].n; i++)
            if (hv_add(v, k, src->v[k].tokens[i]) != i) {
                heed_vocab_free(v);
                return NULL;
            }
    return v;
}

bool hv_fits(const heed_vocab *v, const heed_model *m)
{
    if (v->m == m)
        return true;
    const heed_model *vm = v->m;
    if (v->n != m->n_vocabs || vm->n_fields != m->n_fields)
        return false;
    for (int f = 0; f < m->n_fields; f++) {
        const hm_field *a = &vm->fields[f], *b = &m->fields[f];
        if (strcmp(a->input, b->input) || a->vocab != b->vocab ||
            strcmp(vm->syms[a->vocab_sym].name, m->syms[b->vocab_sym].name))
            return false;
    }
    return true;
}

int hv_field(const heed_model *m, const char *field)
{
    for (int f = 0; field && f < m->n_fields; f++)
        if (!strcmp(m->fields[f].input, field))
            return f;
    return -1;
}

char *hv_to_json(const heed_vocab *vocab, int k)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (int i = 0; i < vocab->v[k].n; i++)
        if (json_array_append_new(arr, json_string(vocab->v[k].tokens[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!text)
        return NULL;
    char *copy = heed_strdup(vocab->env, text);
    st_json_free(text);
    return copy;
}

heed_status hv_from_json(heed_vocab *vocab, int k, const char *json, heed_diag *diag,
                         const char *file, const char *key)
{
    json_error_t err;
    json_t *arr = json_loads(json, 0, &err);
    heed_srcpos pos = {file, NULL, 0, 0};
    if (!json_is_array(arr) || json_array_size(arr) > (1u << 24)) {
        json_decref(arr);
        heed_diag_add(diag, HEED_ERR_WEIGHTS, &pos, NULL,
                      "metadata %s is not a JSON list of at most 2^24 tokens", key);
        return HEED_ERR_WEIGHTS;
    }
    if (json_array_size(arr) < 4) {
        heed_diag_add(diag, HEED_ERR_WEIGHTS, &pos, NULL,
                      "metadata %s has %zu tokens; a vocabulary starts with the 4 reserved "
                      "ones (<pad>, <unk>, <bos>, <eos>)",
                      key, json_array_size(arr));
        json_decref(arr);
        return HEED_ERR_WEIGHTS;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *t = json_string_value(json_array_get(arr, i));
        int id = t && (i >= 4 || !strcmp(t, reserved[i])) ? hv_add(vocab, k, t) : -2;
        if (id == -1) {
            json_decref(arr);
            return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
        }
        if (id != (int)i) {
            json_decref(arr);
            heed_diag_add(diag, HEED_ERR_WEIGHTS, &pos, NULL,
                          "metadata %s: token %zu is missing, repeated, not text or not the "
                          "reserved one in its place",
                          key, i);
            return HEED_ERR_WEIGHTS;
        }
    }
    json_decref(arr);
    return HEED_OK;
}

const char *heed_vocab_tokens(const heed_vocab *vocab, const char *field)
{
    int f = vocab ? hv_field(vocab->m, field) : -1;
    return f >= 0 ? hv_tokens_name(vocab->tokens[f]) : NULL;
}

int64_t heed_vocab_size(const heed_vocab *vocab, const char *field)
{
    int f = vocab ? hv_field(vocab->m, field) : -1;
    return f >= 0 ? vocab->v[vocab->m->fields[f].vocab].n : -1;
}

/* ------------------------------------------------------------ TSV */

typedef struct tsv_line {
    char *text;
    size_t len;
    int number;
} tsv_line;

/* Calls `fn` for each non-empty line; stops at the first failure. */
typedef heed_status (*line_fn)(void *user, char **cols, int n_cols, int line);

static heed_status read_tsv(const heed_env *env, const char *path, line_fn fn, void *user,
                            heed_diag *diag)
{
    FILE *f = heed_fopen_read(path);
    if (!f)
        return heed_fail(diag, HEED_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, len = 0, total = 0;
    int number = 0;
    heed_status st = HEED_OK;
    int c = 0;
    while (st == HEED_OK && c != EOF) {
        len = 0;
        while ((c = fgetc(f)) != EOF && c != '\n') {
            if (len >= DATA_MAX_LINE) {
                heed_srcpos pos = {path, NULL, number + 1, 1};
                heed_diag_add(diag, HEED_ERR_LIMIT, &pos, NULL,
                              "the line is longer than the limit of %zu bytes", DATA_MAX_LINE);
                st = HEED_ERR_LIMIT;
                break;
            }
            if (!heed_grow(env, (void **)&line, &cap, len + 2, 1)) {
                st = heed_fail(diag, HEED_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            line[len++] = (char)c;
        }
        if (st != HEED_OK)
            break;
        number++;
        total += len + 1;
        if (total > DATA_MAX_FILE) {
            st = heed_fail(diag, HEED_ERR_LIMIT, "%s is larger than %zu bytes", path,
                           DATA_MAX_FILE);
            break;
        }
        if (len && line[len - 1] == '\r')
            len--;
        if (len == 0)
            continue;
        line[len] = '\0';
        if (memchr(line, '\0', len)) {
            heed_srcpos pos = {path, NULL, number, (int)(strlen(line) + 1)};
            heed_diag_add(diag, HEED_ERR_DATA, &pos, NULL, "the line contains a NUL byte");
            st = HEED_ERR_DATA;
            break;
        }
        /* as many columns as a field may name (column: 0 to 255); a UTF-8
         * byte-order mark before the first row is not data */
        char *cols[DATA_MAX_COLUMNS];
        int n_cols = 0;
        char *p = number == 1 && len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3) ? line + 3 : line;
        for (;;) {
            if (n_cols < DATA_MAX_COLUMNS)
                cols[n_cols++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        st = fn(user, cols, n_cols, number);
    }
    bool bad = ferror(f);
    int why = errno; /* EISDIR for a directory */
    fclose(f);
    heed_dealloc(env, line);
    if (st == HEED_OK && bad)
        st = heed_fail(diag, HEED_ERR_IO, "cannot read %s: %s", path, strerror(why));
    return st;
}

static heed_status column_error(heed_diag *diag, const char *path, int line, const hm_field *f,
                                int n_cols)
{
    heed_srcpos pos = {path, NULL, line, 1};
    heed_diag_add(diag, HEED_ERR_DATA, &pos, NULL,
                  "the row has %d column%s but field '%s' reads column %d (columns are "
                  "separated by tabs and counted from 0)",
                  n_cols, n_cols == 1 ? "" : "s", f->input, f->column);
    return HEED_ERR_DATA;
}

static heed_status utf8_error(heed_diag *diag, const char *path, int line, const hm_field *f)
{
    heed_srcpos pos = {path, NULL, line, 1};
    heed_diag_add(diag, HEED_ERR_DATA, &pos, NULL, "column %d (field '%s') is not valid UTF-8",
                  f->column, f->input);
    return HEED_ERR_DATA;
}

/* ------------------------------------------------------------ building */

typedef struct collect {
    heed_vocab *v;
    int k;
    bool nomem;
} collect;

/* A token as a string key: in buf when it fits, else allocated (whole: a
 * cut would merge different tokens and could end inside a character). NULL
 * when out of memory; free with token_key_free. */
static char *token_key(const heed_env *env, const char *tok, size_t len, char *buf, size_t cap)
{
    char *key = len < cap ? buf : heed_alloc(env, len + 1);
    if (key) {
        memcpy(key, tok, len);
        key[len] = '\0';
    }
    return key;
}

static void token_key_free(const heed_env *env, char *key, const char *buf)
{
    if (key != buf)
        heed_dealloc(env, key);
}

static bool collect_token(void *user, const char *tok, size_t len)
{
    collect *c = user;
    char buf[1024], *key = token_key(c->v->env, tok, len, buf, sizeof buf);
    bool added = key && hv_add(c->v, c->k, key) >= 0;
    token_key_free(c->v->env, key, buf);
    if (!added) {
        c->nomem = true;
        return false;
    }
    return true;
}

typedef struct build_ctx {
    const heed_model *m;
    heed_vocab *v;
    const char *path;
    heed_diag *diag;
} build_ctx;

static heed_status build_line(void *user, char **cols, int n_cols, int line)
{
    build_ctx *b = user;
    for (int f = 0; f < b->m->n_fields; f++) {
        const hm_field *fd = &b->m->fields[f];
        if (fd->column >= n_cols)
            return column_error(b->diag, b->path, line, fd, n_cols);
        collect c = {b->v, fd->vocab, false};
        if (!hv_split(b->v->tokens[f], cols[fd->column], strlen(cols[fd->column]), collect_token,
                      &c))
            return utf8_error(b->diag, b->path, line, fd);
        if (c.nomem)
            return heed_fail(b->diag, HEED_ERR_NOMEM, "out of memory building the vocabulary");
    }
    return HEED_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The error for a field name the model's data: section lacks. */
static heed_status no_field(const heed_model *m, const char *field, heed_diag *diag)
{
    const char *names[64];
    int k = 0;
    for (; k < m->n_fields && k < 64; k++)
        names[k] = m->fields[k].input;
    const char *near = field ? heed_did_you_mean(field, names, (size_t)k) : NULL;
    return heed_fail(diag, HEED_ERR_ARGUMENT, "model '%s' has no data field '%s'%s%s%s", m->name,
                     field ? field : "(null)", near ? "; did you mean '" : "", near ? near : "",
                     near ? "'?" : "");
}

/* Applies heed_vocab_build_tokens's choices to both vocabulary sets. */
static heed_status choose_tokens(const heed_model *m, const heed_field_tokens *tokens, size_t n,
                                 heed_vocab *seen, heed_vocab *v, heed_diag *diag)
{
    for (size_t i = 0; i < n; i++) {
        int f = tokens[i].field && tokens[i].tokens ? hv_field(m, tokens[i].field) : -2;
        char why[HEED_MAX_VALUE_NAME + 256]; /* quotes a field's name */
        if (f == -2)
            return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_vocab_build_tokens: entry %zu has a "
                                                      "NULL field or tokens", i);
        if (f < 0)
            return no_field(m, tokens[i].field, diag);
        if (!hv_set_tokens(seen, f, tokens[i].tokens, why, sizeof why) ||
            !hv_set_tokens(v, f, tokens[i].tokens, why, sizeof why))
            return heed_fail(diag, HEED_ERR_ARGUMENT, "%s", why);
    }
    return HEED_OK;
}

heed_status heed_vocab_build(const heed_model *m, const char *tsv_path, heed_vocab **out,
                             heed_diag *diag)
{
    return heed_vocab_build_tokens(m, tsv_path, NULL, 0, out, diag);
}

heed_status heed_vocab_build_tokens(const heed_model *m, const char *tsv_path,
                                    const heed_field_tokens *tokens, size_t n_tokens,
                                    heed_vocab **out, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!m || !tsv_path || !out || (!tokens && n_tokens))
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_vocab_build: NULL argument");
    *out = NULL;
    if (m->n_fields == 0)
        return heed_fail(diag, HEED_ERR_MODEL, "model '%s' has no data: section", m->name);
    heed_vocab *seen = hv_new(m), *v = hv_new(m);
    if (!seen || !v || !add_reserved(v)) {
        heed_vocab_free(seen);
        heed_vocab_free(v);
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    }
    heed_status cs = choose_tokens(m, tokens, n_tokens, seen, v, diag);
    if (cs != HEED_OK) {
        heed_vocab_free(seen);
        heed_vocab_free(v);
        return cs;
    }
    build_ctx b = {m, seen, tsv_path, diag};
    heed_status st = read_tsv(&m->env, tsv_path, build_line, &b, diag);
    for (int k = 0; st == HEED_OK && k < m->n_vocabs; k++) {
        hv_vocab *hv = &seen->v[k];
        if (hv->n > 0) /* a field may have no tokens at all */
            qsort(hv->tokens, (size_t)hv->n, sizeof *hv->tokens, cmp_str);
        for (int i = 0; i < hv->n && st == HEED_OK; i++)
            if (hv_add(v, k, hv->tokens[i]) < 0)
                st = heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    }
    heed_vocab_free(seen);
    if (st != HEED_OK) {
        heed_vocab_free(v);
        return st;
    }
    *out = v;
    return HEED_OK;
}

/* ------------------------------------------------------------ encode, decode */

typedef struct enc_ctx {
    const heed_vocab *v;
    int k;
    int32_t *ids;
    size_t cap, n;
} enc_ctx;

static void enc_push(enc_ctx *e, int32_t id)
{
    if (e->n < e->cap)
        e->ids[e->n] = id;
    e->n++;
}

static bool enc_token(void *user, const char *tok, size_t len)
{
    enc_ctx *e = user;
    char buf[1024], *key = token_key(e->v->env, tok, len, buf, sizeof buf);
    int id = key ? heed_strmap_get(&e->v->v[e->k].ids, key) : -1;
    token_key_free(e->v->env, key, buf);
    enc_push(e, id >= 4 ? id : HEED_UNK_ID);
    /* one token past the limit is counted, so an over-long row is seen (and
     * refused) rather than silently cut at the limit */
    return e->n <= DATA_MAX_TOKENS;
}

/* Encodes into ids[0..cap); returns the full count in *n or false on bad UTF-8. */
static bool encode_field(const heed_vocab *v, const hm_field *f, const char *text, int32_t *ids,
                         size_t cap, size_t *n)
{
    enc_ctx e = {v, f->vocab, ids, cap, 0};
    if (f->bos)
        enc_push(&e, HEED_BOS_ID);
    size_t start = e.n;
    /* f may belong to another load of the same model (hv_fits): find the
     * vocabulary's own field by name */
    int k = hv_field(v->m, f->input);
    if (!hv_split(k >= 0 ? v->tokens[k] : f->tokens, text, strlen(text), enc_token, &e))
        return false;
    if (f->reverse) {
        size_t end = e.n < cap ? e.n : cap;
        for (size_t i = start, j = end; i + 1 < j; i++, j--) {
            int32_t t = ids[i];
            ids[i] = ids[j - 1];
            ids[j - 1] = t;
        }
    }
    if (f->eos)
        enc_push(&e, HEED_EOS_ID);
    *n = e.n;
    return true;
}

heed_status heed_vocab_encode(const heed_vocab *vocab, const char *field, const char *text,
                              int32_t *ids, size_t capacity, size_t *n, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!vocab || !text || !n || (!ids && capacity))
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_vocab_encode: NULL argument");
    int f = hv_field(vocab->m, field);
    if (f < 0)
        return no_field(vocab->m, field, diag);
    if (!encode_field(vocab, &vocab->m->fields[f], text, ids, capacity, n))
        return heed_fail(diag, HEED_ERR_DATA, "the text is not valid UTF-8");
    return HEED_OK;
}

heed_status heed_vocab_decode(const heed_vocab *vocab, const char *field, const int32_t *ids,
                              size_t n, char *text, size_t capacity)
{
    if (!vocab || !text || capacity == 0 || (!ids && n))
        return HEED_ERR_ARGUMENT;
    int f = hv_field(vocab->m, field);
    if (f < 0)
        return HEED_ERR_ARGUMENT;
    const hm_field *fd = &vocab->m->fields[f];
    const hv_vocab *hv = &vocab->v[fd->vocab];
    heed_sbuf s;
    heed_sbuf_init(&s, text, capacity);
    size_t end = 0;
    while (end < n && ids[end] != HEED_EOS_ID)
        end++;
    bool first = true;
    for (size_t k = 0; k < end; k++) {
        size_t i = fd->reverse ? end - 1 - k : k;
        int32_t id = ids[i];
        if (id == HEED_PAD_ID || id == HEED_BOS_ID)
            continue;
        const char *tok = id >= 0 && id < hv->n ? hv->tokens[id] : "<unk>";
        const char *sep = vocab->tokens[f] == HM_TOK_WORDS && !first ? " " : "";
        /* a text cut short ends at a whole token, never inside a character */
        if (s.len + strlen(sep) + strlen(tok) >= capacity)
            return HEED_ERR_LIMIT;
        heed_sbuf_printf(&s, "%s%s", sep, tok);
        first = false;
    }
    return HEED_OK;
}

/* ------------------------------------------------------------ datasets */

typedef struct load_ctx {
    heed_dataset *ds;
    const heed_vocab *v;
    const char *path;
    heed_diag *diag;
    int32_t *scratch;
} load_ctx;

/* The run-time dim a field's tokens fill (its input's second axis, S of
 * [B, S]), or -1 (a label, or a fixed length). */
static int length_sym(const heed_model *m, const hm_field *fd)
{
    const hm_input *in = &m->inputs[hm_input_index(m, fd->input)];
    return in->rank >= 2 && in->sym[1] >= 0 && m->syms[in->sym[1]].kind == HM_SYM_RUNTIME
               ? in->sym[1]
               : -1;
}

/* Fields whose inputs share a run-time length (a tagger's words and tags,
 * both [B, S]) must give a row the same number of tokens: padded to the
 * batch's longest, a shorter one would be read at positions it has not,
 * or refused at the next forward pass with no row named. */
static heed_status same_lengths(const heed_model *m, const hd_row *r, const char *path, int line,
                                heed_diag *diag)
{
    for (int f = 0; f < m->n_fields; f++) {
        int sf = length_sym(m, &m->fields[f]);
        for (int g = 0; sf >= 0 && g < f; g++) {
            if (length_sym(m, &m->fields[g]) != sf || r->len[f] == r->len[g])
                continue;
            heed_srcpos pos = {path, NULL, line, 1};
            heed_diag_add(diag, HEED_ERR_DATA, &pos, NULL,
                          "field '%s' has %d tokens but field '%s' has %d: both fill the dim "
                          "%s, so each row gives them the same length",
                          m->fields[f].input, r->len[f], m->fields[g].input, r->len[g],
                          m->syms[sf].name);
            return HEED_ERR_DATA;
        }
    }
    return HEED_OK;
}

static heed_status load_line(void *user, char **cols, int n_cols, int line)
{
    load_ctx *c = user;
    heed_dataset *ds = c->ds;
    const heed_model *m = ds->m;
    if (!heed_grow(ds->env, (void **)&ds->rows, &ds->cap, ds->n + 1, sizeof *ds->rows))
        return heed_fail(c->diag, HEED_ERR_NOMEM, "out of memory loading %s", c->path);
    hd_row *r = &ds->rows[ds->n];
    memset(r, 0, sizeof *r);
    for (int f = 0; f < m->n_fields; f++) {
        const hm_field *fd = &m->fields[f];
        if (fd->column >= n_cols)
            return column_error(c->diag, c->path, line, fd, n_cols);
        size_t n;
        if (!encode_field(c->v, fd, cols[fd->column], c->scratch, DATA_MAX_TOKENS + 2, &n))
            return utf8_error(c->diag, c->path, line, fd);
        if (n > DATA_MAX_TOKENS) {
            heed_srcpos pos = {c->path, NULL, line, 1};
            heed_diag_add(c->diag, HEED_ERR_LIMIT, &pos, NULL,
                          "field '%s' has more than the limit of %d tokens", fd->input,
                          DATA_MAX_TOKENS);
            return HEED_ERR_LIMIT;
        }
        r->ids[f] = heed_pool_alloc(ds->env, &ds->pool, (n + 1) * sizeof(int32_t));
        if (!r->ids[f])
            return heed_fail(c->diag, HEED_ERR_NOMEM, "out of memory loading %s", c->path);
        memcpy(r->ids[f], c->scratch, n * sizeof(int32_t));
        r->len[f] = (int)n;
    }
    heed_status same = same_lengths(m, r, c->path, line, c->diag);
    if (same != HEED_OK)
        return same;
    r->cols = heed_pool_alloc(ds->env, &ds->pool, sizeof(char *) * (size_t)n_cols);
    if (!r->cols)
        return heed_fail(c->diag, HEED_ERR_NOMEM, "out of memory loading %s", c->path);
    for (int k = 0; k < n_cols; k++)
        if (!(r->cols[k] = heed_pool_strdup(ds->env, &ds->pool, cols[k])))
            return heed_fail(c->diag, HEED_ERR_NOMEM, "out of memory loading %s", c->path);
    r->n_cols = n_cols;
    r->line = line;
    ds->n++;
    return HEED_OK;
}

heed_status heed_dataset_load(const heed_model *m, const heed_vocab *vocab, const char *path,
                              heed_dataset **out, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!m || !vocab || !path || !out)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_dataset_load: NULL argument");
    *out = NULL;
    if (m->n_fields > HEED_MAX_FIELDS) /* the checker refuses such a model */
        return heed_fail(diag, HEED_ERR_MODEL, "a model may read at most %d data fields",
                         HEED_MAX_FIELDS);
    if (!hv_fits(vocab, m))
        return heed_fail(diag, HEED_ERR_ARGUMENT,
                         "heed_dataset_load: the vocabularies were built for model '%s', whose "
                         "data fields differ from those of model '%s'",
                         vocab->m->name, m->name);
    heed_dataset *ds = heed_zalloc(&m->env, 1, sizeof *ds);
    int32_t *scratch = heed_alloc(&m->env, (DATA_MAX_TOKENS + 2) * sizeof(int32_t));
    if (!ds || !scratch) {
        heed_dealloc(&m->env, ds);
        heed_dealloc(&m->env, scratch);
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    }
    ds->m = m;
    ds->env = &m->env;
    load_ctx c = {ds, vocab, path, diag, scratch};
    ds->path = heed_pool_strdup(ds->env, &ds->pool, path);
    heed_status st = ds->path ? read_tsv(&m->env, path, load_line, &c, diag)
                              : heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    heed_dealloc(&m->env, scratch);
    if (st == HEED_OK && ds->n == 0) {
        heed_srcpos pos = {path, NULL, 0, 0};
        heed_diag_add(diag, HEED_ERR_DATA, &pos, NULL, "the file has no rows");
        st = HEED_ERR_DATA;
    }
    if (st != HEED_OK) {
        heed_dataset_free(ds);
        return st;
    }
    *out = ds;
    return HEED_OK;
}

void heed_dataset_free(heed_dataset *ds)
{
    if (!ds)
        return;
    const heed_env *env = ds->env;
    heed_dealloc(env, ds->rows);
    heed_pool_free(env, ds->pool);
    heed_dealloc(env, ds);
}

size_t heed_dataset_size(const heed_dataset *ds)
{
    return ds ? ds->n : 0;
}

const char *heed_dataset_text(const heed_dataset *ds, size_t row, int column)
{
    if (!ds || row >= ds->n || column < 0 || column >= ds->rows[row].n_cols)
        return NULL;
    return ds->rows[row].cols[column];
}

/* The length a field's rows are padded to when its input fixes it (a number,
 * or a dim of dims: as the weights bind it, --dim included), else 0: each
 * batch's longest row. A row padded only to its batch's longest would make
 * the batch's shape depend on which rows it holds. */
static int64_t fixed_length(const heed_session *s, const hm_field *fd)
{
    const heed_model *m = s->m;
    const hm_input *in = &m->inputs[hm_input_index(m, fd->input)];
    if (fd->tokens == HM_TOK_LABEL || in->rank != 2)
        return 0;
    if (in->sym[1] < 0)
        return in->lit[1];
    return m->syms[in->sym[1]].kind == HM_SYM_FIXED ? s->w->dimval[in->sym[1]] : 0;
}

/* What a field's token count includes besides the text's own tokens. */
static const char *ends_counted(const hm_field *fd)
{
    return fd->bos && fd->eos ? " (<bos> and <eos> included)"
           : fd->bos          ? " (<bos> included)"
           : fd->eos          ? " (<eos> included)"
                              : "";
}

/* The fixed length for messages: "L = 4", or "its length at 4" when the
 * shape gives the number itself. */
static const char *fixed_text(const heed_model *m, const hm_field *fd, int64_t fixed, char *buf,
                              size_t cap)
{
    int sym = m->inputs[hm_input_index(m, fd->input)].sym[1];
    if (sym >= 0)
        snprintf(buf, cap, "%s = %lld", m->syms[sym].name, (long long)fixed);
    else
        snprintf(buf, cap, "its length at %lld", (long long)fixed);
    return buf;
}

/* Reports a row with more tokens in field fd than its input's fixed length. */
static void too_long(const heed_dataset *ds, const hm_field *fd, const hd_row *r, int f,
                     int64_t fixed, heed_diag *diag)
{
    char buf[HEED_MAX_DIM_NAME + 32];
    heed_srcpos pos = {ds->path, NULL, r->line, 1};
    heed_diag_add(diag, HEED_ERR_DATA, &pos, NULL,
                  "field '%s' has %d tokens%s, but input '%s' fixes %s", fd->input, r->len[f],
                  ends_counted(fd), fd->input, fixed_text(ds->m, fd, fixed, buf, sizeof buf));
}

enum { CHECK_MAX_ERRORS = 20 };

heed_status heed_dataset_check(const heed_dataset *ds, size_t n, const heed_session *s,
                               heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!ds || !s)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_dataset_check: NULL argument");
    if (s->m != ds->m)
        return heed_fail(diag, HEED_ERR_ARGUMENT,
                         "heed_dataset_check: the dataset was read for another model");
    /* every row that does not fit, up to the limit, rather than the first:
     * a file fixed by its first error alone would be refused again */
    int errors = 0;
    for (size_t i = 0; i < ds->n && i < n; i++)
        for (int f = 0; f < ds->m->n_fields; f++) {
            int64_t fixed = fixed_length(s, &ds->m->fields[f]);
            if (fixed <= 0 || ds->rows[i].len[f] <= fixed)
                continue;
            if (errors++ == CHECK_MAX_ERRORS) {
                heed_diag_close(diag, "more than %d rows do not fit; the rest was not checked",
                                CHECK_MAX_ERRORS);
                return HEED_ERR_DATA;
            }
            too_long(ds, &ds->m->fields[f], &ds->rows[i], f, fixed, diag);
        }
    return errors ? HEED_ERR_DATA : HEED_OK;
}

heed_status heed_dataset_feed(const heed_dataset *ds, const size_t *rows, size_t n,
                              heed_session *s, heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!ds || !rows || !s || n == 0)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_dataset_feed: bad argument");
    const heed_model *m = ds->m;
    for (int f = 0; f < m->n_fields; f++) {
        const hm_field *fd = &m->fields[f];
        size_t T = 1;
        int64_t fixed = s->m == m ? fixed_length(s, fd) : 0;
        for (size_t i = 0; i < n; i++) {
            if (rows[i] >= ds->n)
                return heed_fail(diag, HEED_ERR_ARGUMENT, "row %zu is past the end (%zu rows)",
                                 rows[i], ds->n);
            const hd_row *r = &ds->rows[rows[i]];
            if (fixed > 0 && r->len[f] > fixed) {
                too_long(ds, fd, r, f, fixed, diag);
                return HEED_ERR_DATA;
            }
            if ((size_t)r->len[f] > T)
                T = (size_t)r->len[f];
        }
        if (fixed > 0)
            T = (size_t)fixed;
        bool label = fd->tokens == HM_TOK_LABEL;
        if (label)
            T = 1;
        int32_t *buf = heed_zalloc(ds->env, n * T, sizeof *buf);
        if (!buf)
            return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            const hd_row *r = &ds->rows[rows[i]];
            size_t len = label ? 1 : (size_t)r->len[f];
            if (label && r->len[f] == 0)
                buf[i] = HEED_UNK_ID;
            else
                memcpy(buf + i * T, r->ids[f], len * sizeof *buf);
        }
        heed_tensor t = {fd->input, HEED_I32, label ? 1 : 2, {(int64_t)n, (int64_t)T, 0, 0}, buf};
        heed_status st = heed_session_set_input(s, fd->input, &t, diag);
        heed_dealloc(ds->env, buf);
        if (st != HEED_OK)
            return st;
    }
    return HEED_OK;
}

/* ------------------------------------------------------------ batching */

typedef struct len_row {
    int len;
    size_t row;
} len_row;

static int cmp_len(const void *a, const void *b)
{
    const len_row *x = a, *y = b;
    if (x->len != y->len)
        return x->len - y->len;
    return x->row < y->row ? -1 : (x->row > y->row);
}

static void shuffle(size_t *a, size_t n, uint64_t seed)
{
    for (size_t i = n; i > 1; i--) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t j = (size_t)((seed >> 33) % i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

void heed_dataset_shuffle(const heed_dataset *ds, size_t batch, uint64_t seed, int64_t epoch,
                          size_t *order)
{
    if (!ds || !order || ds->n == 0)
        return;
    size_t n = ds->n;
    if (batch == 0)
        batch = 1;
    /* one batch of all rows orders them as any larger one would, and keeps
     * batch * 32 and n + batch - 1 from wrapping around */
    if (batch > n)
        batch = n;
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + (uint64_t)epoch * 0xbf58476d1ce4e5b9ull + 1;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    shuffle(order, n, s);
    /* sort windows of 32 batches by length, then shuffle whole batches */
    size_t window = batch * 32;
    len_row *tmp = heed_alloc(ds->env, (window < n ? window : n) * sizeof *tmp);
    if (tmp) {
        for (size_t w = 0; w < n; w += window) {
            size_t m = w + window < n ? window : n - w;
            for (size_t i = 0; i < m; i++) {
                const hd_row *r = &ds->rows[order[w + i]];
                int len = 0;
                for (int f = 0; f < ds->m->n_fields; f++)
                    len = r->len[f] > len ? r->len[f] : len;
                tmp[i] = (len_row){len, order[w + i]};
            }
            qsort(tmp, m, sizeof *tmp, cmp_len);
            for (size_t i = 0; i < m; i++)
                order[w + i] = tmp[i].row;
        }
        heed_dealloc(ds->env, tmp);
    }
    size_t nb = (n + batch - 1) / batch;
    size_t *perm = heed_alloc(ds->env, nb * sizeof *perm);
    size_t *copy = heed_alloc(ds->env, n * sizeof *copy);
    if (perm && copy) {
        for (size_t b = 0; b < nb; b++)
            perm[b] = b;
        /* the last, possibly short, batch stays last */
        shuffle(perm, n % batch ? nb - 1 : nb, s ^ 0x5851f42d4c957f2dull);
        memcpy(copy, order, n * sizeof *copy);
        size_t k = 0;
        for (size_t b = 0; b < nb; b++)
            for (size_t i = perm[b] * batch; i < (perm[b] + 1) * batch && i < n; i++)
                order[k++] = copy[i];
    }
    heed_dealloc(ds->env, perm);
    heed_dealloc(ds->env, copy);
}

/* ------------------------------------------------------------ feeding texts */

bool hd_is_source(const heed_model *m, int f)
{
    const hm_field *fd = &m->fields[f];
    if (m->decode_input >= 0 && !strcmp(m->inputs[m->decode_input].name, fd->input))
        return false;
    if (m->loss_node >= 0) {
        const hm_node *ln = &m->nodes[m->loss_node];
        for (int i = 0; i < ln->n_in; i++) {
            const hm_value *v = &m->values[ln->in[i]];
            if (v->node < 0 && !strcmp(m->inputs[v->port].name, fd->input))
                return false;
        }
    }
    return true;
}

/* Column `col` of a TSV row: start and length. */
static bool tsv_column(const char *text, int col, const char **start, size_t *len)
{
    const char *p = text;
    for (int c = 0; c < col; c++) {
        p = strchr(p, '\t');
        if (!p)
            return false;
        p++;
    }
    *start = p;
    *len = strcspn(p, "\t\r\n");
    return true;
}

/* "1st", "2nd", "3rd", "11th": the texts are numbered as people count, so
 * that a message means the same to a caller indexing from 0 and a user
 * counting lines from 1. */
static const char *ordinal_suffix(size_t k)
{
    if (k % 100 >= 11 && k % 100 <= 13)
        return "th";
    return k % 10 == 1 ? "st" : k % 10 == 2 ? "nd" : k % 10 == 3 ? "rd" : "th";
}

/* The ids of field fd in text i (the caller's text `number`, counted from
 * 1) into ids[cap], their count in *count. */
static heed_status text_ids(const heed_session *s, const hm_field *fd, const char *text,
                            size_t number, int32_t *ids, size_t cap, size_t *count,
                            heed_diag *diag)
{
    const char *start, *suf = ordinal_suffix(number);
    size_t len;
    *count = 0;
    if (!text)
        return heed_fail(diag, HEED_ERR_DATA, "the %zu%s text is NULL", number, suf);
    if (!tsv_column(text, fd->column, &start, &len))
        return heed_fail(diag, HEED_ERR_DATA, "the %zu%s text has no column %d for field '%s'",
                         number, suf, fd->column, fd->input);
    char *col = heed_strndup(s->env, start, len);
    if (!col)
        return heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    heed_status st = HEED_OK;
    if (!encode_field(s->w->vocab, fd, col, ids, cap, count))
        st = heed_fail(diag, HEED_ERR_DATA, "the %zu%s text is not valid UTF-8", number, suf);
    else if (*count > DATA_MAX_TOKENS)
        st = heed_fail(diag, HEED_ERR_LIMIT, "the %zu%s text has more than the limit of %d tokens",
                       number, suf, DATA_MAX_TOKENS);
    heed_dealloc(s->env, col);
    if (fd->tokens == HM_TOK_LABEL && *count == 0)
        ids[(*count)++] = HEED_UNK_ID;
    return st;
}

/* Sets field fd's input from n texts, each row repeated `repeat` times and
 * padded to the longest: one pass finds the width, a second writes the ids,
 * so memory follows the texts' tokens, not n times the token limit. */
static heed_status feed_field(heed_session *s, const hm_field *fd, const char *const *texts,
                              size_t n, size_t first, size_t repeat, int32_t **ids_out,
                              size_t *width, heed_diag *diag)
{
    const heed_env *env = s->env;
    bool label = fd->tokens == HM_TOK_LABEL;
    size_t T = 1, cap = DATA_MAX_TOKENS + 2, count;
    int32_t *scratch = heed_alloc(env, cap * sizeof *scratch);
    heed_status st = scratch ? HEED_OK : heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    int64_t fixed = fixed_length(s, fd);
    for (size_t i = 0; i < n && st == HEED_OK; i++) {
        st = text_ids(s, fd, texts[i], first + i + 1, scratch, cap, &count, diag);
        if (st == HEED_OK && fixed > 0 && count > (size_t)fixed) {
            char buf[HEED_MAX_DIM_NAME + 32];
            size_t k = first + i + 1;
            st = heed_fail(diag, HEED_ERR_DATA,
                           "the %zu%s text has %zu tokens%s for field '%s', but input '%s' fixes "
                           "%s",
                           k, ordinal_suffix(k), count, ends_counted(fd), fd->input, fd->input,
                           fixed_text(s->m, fd, fixed, buf, sizeof buf));
        }
        if (count > T)
            T = count;
    }
    if (label)
        T = 1;
    else if (fixed > 0)
        T = (size_t)fixed;
    int32_t *buf = st == HEED_OK ? heed_zalloc(env, n * repeat * T + 1, sizeof *buf) : NULL;
    if (st == HEED_OK && !buf)
        st = heed_fail(diag, HEED_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == HEED_OK && i < n; i++) {
        st = text_ids(s, fd, texts[i], first + i + 1, scratch, cap, &count, diag);
        for (size_t r = 0; st == HEED_OK && r < repeat; r++)
            memcpy(buf + (i * repeat + r) * T, scratch, (label ? 1 : count) * sizeof *buf);
    }
    if (st == HEED_OK) {
        heed_tensor t = {fd->input, HEED_I32, label ? 1 : 2, {(int64_t)(n * repeat), (int64_t)T, 0, 0},
                         buf};
        st = heed_session_set_input(s, fd->input, &t, diag);
    }
    if (st == HEED_OK && ids_out) {
        *ids_out = buf;
        *width = T;
        buf = NULL;
    }
    heed_dealloc(env, buf);
    heed_dealloc(env, scratch);
    return st;
}

size_t hd_text_batch(const char *const *texts, size_t n)
{
    size_t k = 0, longest = 0;
    while (k < n && k < HEED_TEXT_BATCH) {
        size_t len = texts[k] ? strlen(texts[k]) : 0, wide = len > longest ? len : longest;
        if (k > 0 && (k + 1) * (wide ? wide : 1) > HEED_TEXT_BATCH_BYTES)
            break;
        longest = wide;
        k++;
    }
    return k ? k : (n ? 1 : 0);
}

heed_status hd_feed_texts(heed_session *s, const char *const *texts, size_t n, size_t first,
                          size_t repeat, int ids_field, int32_t **ids, size_t *width,
                          heed_diag *diag)
{
    const heed_model *m = s->m;
    if (!s->w->vocab)
        return heed_fail(diag, HEED_ERR_STATE, "these weights carry no vocabulary: texts cannot "
                                               "be tokenised (weights saved by heed train do)");
    bool any = false;
    for (int f = 0; f < m->n_fields; f++) {
        if (!hd_is_source(m, f))
            continue;
        bool wanted = ids_field >= 0 ? f == ids_field : !any;
        heed_status st = feed_field(s, &m->fields[f], texts, n, first, repeat,
                                    wanted ? ids : NULL, width, diag);
        if (st != HEED_OK)
            return st;
        any = true;
    }
    if (!any)
        return heed_fail(diag, HEED_ERR_MODEL, "model '%s' has no source data field to read "
                                               "texts into", m->name);
    return HEED_OK;
}

heed_status heed_session_feed_texts(heed_session *s, const char *const *texts, size_t n,
                                    heed_diag *diag)
{
    heed_diag_clear(diag);
    if (!s || (!texts && n) || n == 0)
        return heed_fail(diag, HEED_ERR_ARGUMENT, "heed_session_feed_texts: bad argument");
    return hd_feed_texts(s, texts, n, 0, 1, -1, NULL, NULL, diag);
}
