/*
 * data_g2p.c - the `g2p` dataset: English spelling -> phonemes, from the CMU
 * pronouncing dictionary as Debian ships it with pocketsphinx (lines
 * "word PH1 PH2 ...", alternates as "word(2) ...", no stress digits).
 *
 * Words are kept when they are two or more letters a-z: apostrophes are left
 * out, since "aaron's" beside "aaron" would put nearly the same word in two
 * splits, and the dictionary's apostrophe words are mostly such possessives.
 * A row is the word, its first pronunciation, then any others (each phonemes
 * separated by single spaces), so that an evaluator can accept any of them.
 * The split is by word: a seeded shuffle of the distinct words.
 */
#include <stdlib.h>
#include <string.h>

#include "datasets.h"

#define G2P_DICT "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
#define G2P_PACKAGE "pocketsphinx-en-us"

typedef struct g2p_entry {
    size_t word;        /* id in the word map */
    long variant;       /* 1 for "word", n for "word(n)" */
    size_t line;        /* breaks ties, so that the sort is deterministic */
    const char *phones; /* normalised in place in the file's text */
} g2p_entry;

typedef struct g2p_dict {
    data_map words;
    g2p_entry *entries;
    size_t n, cap;
} g2p_dict;

static bool is_word(const char *s, size_t n)
{
    if (n < 2)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'a' || s[i] > 'z')
            return false;
    return true;
}

/* Splits "word(2)" into the word's length and the variant number. */
static size_t word_variant(const char *tok, size_t n, long *variant)
{
    *variant = 1;
    if (n < 4 || tok[n - 1] != ')')
        return n;
    size_t open = n - 2;
    while (open > 0 && tok[open] >= '0' && tok[open] <= '9')
        open--;
    if (tok[open] != '(' || open == n - 2)
        return n;
    *variant = strtol(tok + open + 1, NULL, 10);
    return open;
}

/* Rewrites s[0..n) in place with single spaces between phonemes, ends it with
 * NUL and returns its new length. */
static size_t normalise_phones(char *s, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        bool space = s[i] == ' ' || s[i] == '\t';
        if (!space)
            s[out++] = s[i];
        else if (out > 0 && s[out - 1] != ' ')
            s[out++] = ' ';
    }
    if (out > 0 && s[out - 1] == ' ')
        out--;
    s[out] = '\0';
    return out;
}

/* Adds one dictionary line, if its word is one we keep. The line's end (its
 * '\n', '\r' or the text's NUL) becomes the NUL of its phonemes. */
static data_status g2p_add_line(g2p_dict *d, char *line, size_t len, size_t line_no)
{
    size_t tok = 0;
    while (tok < len && line[tok] != ' ' && line[tok] != '\t')
        tok++;
    long variant;
    size_t wlen = word_variant(line, tok, &variant);
    if (!is_word(line, wlen) || normalise_phones(line + tok, len - tok) == 0)
        return DATA_OK;
    size_t id;
    bool added;
    if (data_map_intern(&d->words, line, wlen, &id, &added) != DATA_OK)
        return DATA_ERR_NOMEM;
    g2p_entry *e = data_grow(d->entries, &d->cap, d->n + 1, sizeof *e);
    if (!e)
        return DATA_ERR_NOMEM;
    d->entries = e;
    d->entries[d->n++] = (g2p_entry){id, variant, line_no, line + tok};
    return DATA_OK;
}

static int entry_order(const void *pa, const void *pb)
{
    const g2p_entry *a = pa, *b = pb;
    if (a->word != b->word)
        return a->word < b->word ? -1 : 1;
    if (a->variant != b->variant)
        return a->variant < b->variant ? -1 : 1;
    return a->line < b->line ? -1 : a->line > b->line;
}

/* One row per word id (row i is word i): the word, then its distinct
 * pronunciations in variant order. Needs the entries sorted. */
static data_status g2p_rows(const g2p_dict *d, data_rows *rows)
{
    size_t i = 0;
    while (i < d->n) {
        size_t w = d->entries[i].word, first = i;
        const char *word = data_map_key(&d->words, w);
        if (data_rows_begin(rows) || data_rows_append(rows, word, strlen(word)))
            return DATA_ERR_NOMEM;
        for (; i < d->n && d->entries[i].word == w; i++) {
            const char *ph = d->entries[i].phones;
            bool repeated = false;
            for (size_t j = first; j < i && !repeated; j++)
                repeated = strcmp(d->entries[j].phones, ph) == 0;
            if (!repeated && (data_rows_append(rows, "\t", 1) ||
                              data_rows_append(rows, ph, strlen(ph))))
                return DATA_ERR_NOMEM;
        }
        if (data_rows_end(rows))
            return DATA_ERR_NOMEM;
    }
    return DATA_OK;
}

/* Resolves the sizes (valid and test 5% of the words each, train the rest)
 * and checks that the dictionary has that many words. */
static data_status g2p_sizes(const data_request *rq, size_t words, size_t sizes[DATA_N_SPLITS],
                             data_error *err)
{
    size_t defaults[DATA_N_SPLITS] = {0, (words + 10) / 20, (words + 10) / 20};
    data_sizes(rq, defaults, sizes);
    size_t held_out = sizes[DATA_VALID] + sizes[DATA_TEST];
    if (rq->size[DATA_TRAIN] < 0)
        sizes[DATA_TRAIN] = held_out <= words ? words - held_out : 0;
    if (sizes[DATA_TRAIN] + held_out > words)
        return data_fail(err, DATA_ERR_SIZE,
                         "g2p: %zu + %zu + %zu words asked for, but the dictionary has %zu",
                         sizes[DATA_TRAIN], sizes[DATA_VALID], sizes[DATA_TEST], words);
    return DATA_OK;
}

/* Deals the word rows out to the splits in a seeded random order. */
static data_status g2p_split(const data_request *rq, const data_rows *by_word, data_output *out,
                             data_error *err)
{
    size_t sizes[DATA_N_SPLITS];
    data_status st = g2p_sizes(rq, by_word->n, sizes, err);
    if (st != DATA_OK)
        return st;
    size_t *order = malloc(sizeof *order * (by_word->n ? by_word->n : 1));
    if (!order)
        return data_fail(err, DATA_ERR_NOMEM, "g2p: out of memory");
    for (size_t i = 0; i < by_word->n; i++)
        order[i] = i;
    data_rng rng;
    data_rng_init(&rng, rq->seed, "g2p");
    data_shuffle(&rng, order, by_word->n);
    size_t total = sizes[0] + sizes[1] + sizes[2];
    for (size_t k = 0; k < total && st == DATA_OK; k++) {
        const char *row = data_rows_get(by_word, order[k]);
        if (data_rows_begin(&out->rows) || data_rows_append(&out->rows, row, strlen(row)) ||
            data_rows_end(&out->rows))
            st = data_fail(err, DATA_ERR_NOMEM, "g2p: out of memory");
    }
    memcpy(out->count, sizes, sizeof out->count);
    free(order);
    return st;
}

static data_status g2p_generate(const data_request *rq, data_output *out, data_error *err)
{
    const char *path = rq->source ? rq->source : G2P_DICT;
    char *text;
    size_t len;
    data_status st = data_read_file(path, rq->source ? NULL : G2P_PACKAGE, &text, &len, err);
    if (st != DATA_OK)
        return st;
    g2p_dict d = {0};
    data_rows by_word = {0};
    char *p = text, *line;
    size_t n, line_no = 0;
    while (st == DATA_OK && data_next_line(&p, text + len, &line, &n))
        st = g2p_add_line(&d, line, n, ++line_no);
    if (st == DATA_OK) {
        if (d.n) /* qsort may not be given NULL, even for no entries */
            qsort(d.entries, d.n, sizeof *d.entries, entry_order);
        st = g2p_rows(&d, &by_word);
    }
    if (st == DATA_OK && by_word.n == 0)
        st = data_fail(err, DATA_ERR_SOURCE, "%s: no words of two or more letters a-z", path);
    else if (st == DATA_OK)
        st = g2p_split(rq, &by_word, out, err);
    else
        st = data_fail(err, st, "g2p: out of memory");
    data_rows_free(&by_word);
    data_map_free(&d.words);
    free(d.entries);
    free(text);
    return st;
}

const data_spec data_g2p_spec = {
    .name = "g2p",
    .summary = "English spelling -> CMU phonemes (\"read\" -> \"R EH D\", alternates \"R IY D\")",
    .sizes = "words (one row each); default 5% of the words valid, 5% test, the rest train",
    .sources = G2P_DICT " (Debian package " G2P_PACKAGE ")",
    .generate = g2p_generate,
    .explain = NULL,
};
