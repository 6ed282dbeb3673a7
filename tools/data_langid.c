/*
 * data_langid.c - the `langid` dataset: a word -> its language, from Debian's
 * word lists in /usr/share/dict.
 *
 * A word is kept when it is at least two characters, all of them letters
 * (those of the Latin, Greek and Cyrillic blocks: digits, hyphens,
 * apostrophes, signs like '€' or '²' drop the word), it is not a possessive
 * ending in "'s", and it appears (case-sensitively) in one list only. The
 * splits hold the same number of words of every language and share no word.
 *
 * The lists are UTF-8, except Debian's wswedish, which is ISO-8859-1: a file
 * whose non-ASCII lines are all invalid UTF-8 is read as ISO-8859-1 (and said
 * so on the log); in any other file invalid UTF-8 lines are dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "datasets.h"

#define LANGID_DIR "/usr/share/dict"
#define LANGID_MAX_WORD 256 /* bytes after conversion; longer lines are not words */

typedef struct langid_source {
    const char *code, *file, *package;
} langid_source;

static const langid_source langid_sources[] = {
    {"en", "american-english", "wamerican"}, {"fr", "french", "wfrench"},
    {"de", "ngerman", "wngerman"},           {"es", "spanish", "wspanish"},
    {"it", "italian", "witalian"},           {"pt", "portuguese", "wportuguese"},
    {"nl", "dutch", "wdutch"},               {"sv", "swedish", "wswedish"},
};
#define N_LANGS (int)(sizeof langid_sources / sizeof langid_sources[0])
_Static_assert(N_LANGS <= 8, "langid_words.langs has a bit per language in a uint8_t");

typedef struct langid_words {
    data_map words;     /* every kept word of every list */
    uint8_t *langs;     /* per word id: a bit per list it is in */
    size_t cap_langs;
    size_t *ids[N_LANGS]; /* per list: its word ids, in file order, once each */
    size_t n_ids[N_LANGS], cap_ids[N_LANGS];
} langid_words;

/* The length of the UTF-8 sequence that byte b starts; 0 when b cannot
 * start one. */
static size_t utf8_length(unsigned char b)
{
    if (b < 0x80)
        return 1;
    if ((b & 0xe0) == 0xc0)
        return 2;
    if ((b & 0xf0) == 0xe0)
        return 3;
    return (b & 0xf8) == 0xf0 ? 4 : 0;
}

/* Decodes one UTF-8 sequence of s[0..n); returns its length, or 0 when it
 * is invalid (truncated, overlong, a surrogate or beyond U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
    size_t len = utf8_length(s[0]);
    if (len == 0 || len > n)
        return 0;
    uint32_t c = len == 1 ? s[0] : s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    if (c < min[len - 1] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Letters of the Latin, Greek and Cyrillic blocks: all the word lists use. */
static bool is_letter(uint32_t c)
{
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return true;
    if (c == 0xaa || c == 0xb5 || c == 0xba)
        return true;
    if (c >= 0xc0 && c <= 0x24f) /* Latin-1 letters, Latin Extended-A and -B */
        return c != 0xd7 && c != 0xf7;
    if (c >= 0x370 && c <= 0x3ff) /* Greek, without its punctuation and signs */
        return c != 0x375 && c != 0x37e && c != 0x384 && c != 0x385 && c != 0x387 &&
               c != 0x3f6;
    if (c >= 0x400 && c <= 0x52f) /* Cyrillic, without its signs */
        return c < 0x482 || c > 0x489;
    return c >= 0x1e00 && c <= 0x1eff; /* Latin Extended Additional */
}

/* Whether a UTF-8 word passes the filter: valid, letters only, two or more
 * of them, not a possessive. */
static bool keep_word(const char *w, size_t n)
{
    if (n >= 2 && w[n - 2] == '\'' && w[n - 1] == 's')
        return false;
    size_t chars = 0;
    for (size_t i = 0; i < n; chars++) {
        uint32_t c;
        size_t k = utf8_decode((const unsigned char *)w + i, n - i, &c);
        if (k == 0 || !is_letter(c))
            return false;
        i += k;
    }
    return chars >= 2;
}

static bool utf8_valid(const char *s, size_t n)
{
    uint32_t c;
    for (size_t i = 0, k; i < n; i += k)
        if ((k = utf8_decode((const unsigned char *)s + i, n - i, &c)) == 0)
            return false;
    return true;
}

/* True for a file whose non-ASCII lines are all invalid UTF-8: an
 * ISO-8859-1 list such as Debian's wswedish. */
static bool is_latin1(char *text, size_t len)
{
    char *p = text, *line;
    size_t n, invalid = 0;
    while (data_next_line(&p, text + len, &line, &n)) {
        bool ascii = true;
        for (size_t i = 0; i < n && ascii; i++)
            ascii = (unsigned char)line[i] < 0x80;
        if (ascii)
            continue;
        if (utf8_valid(line, n))
            return false;
        invalid++;
    }
    return invalid > 0;
}

/* ISO-8859-1 is the first 256 code points: one or two UTF-8 bytes each.
 * Returns the length written, or 0 when it does not fit. */
static size_t latin1_to_utf8(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o + 2 >= cap)
            return 0;
        if (c < 0x80) {
            out[o++] = (char)c;
        } else {
            out[o++] = (char)(0xc0 | c >> 6);
            out[o++] = (char)(0x80 | (c & 0x3f));
        }
    }
    return o;
}

/* Records word w of list lang. */
static data_status langid_add(langid_words *lw, int lang, const char *w, size_t n)
{
    size_t id;
    bool added;
    if (data_map_intern(&lw->words, w, n, &id, &added) != DATA_OK)
        return DATA_ERR_NOMEM;
    if (added) {
        uint8_t *langs = data_grow(lw->langs, &lw->cap_langs, id + 1, 1);
        if (!langs)
            return DATA_ERR_NOMEM;
        lw->langs = langs;
        lw->langs[id] = 0;
    }
    if (lw->langs[id] & (1u << lang))
        return DATA_OK; /* listed twice in one file */
    lw->langs[id] |= (uint8_t)(1u << lang);
    size_t *ids = data_grow(lw->ids[lang], &lw->cap_ids[lang], lw->n_ids[lang] + 1, sizeof *ids);
    if (!ids)
        return DATA_ERR_NOMEM;
    lw->ids[lang] = ids;
    ids[lw->n_ids[lang]++] = id;
    return DATA_OK;
}

static data_status langid_read(const data_request *rq, langid_words *lw, int lang,
                               data_error *err)
{
    const langid_source *src = &langid_sources[lang];
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", rq->source ? rq->source : LANGID_DIR, src->file);
    char *text;
    size_t len;
    data_status st = data_read_file(path, rq->source ? NULL : src->package, &text, &len, err);
    if (st != DATA_OK)
        return st;
    bool latin1 = is_latin1(text, len);
    if (latin1 && rq->log)
        fprintf(rq->log, "langid: %s is not UTF-8; read as ISO-8859-1\n", path);
    char *p = text, *line, conv[LANGID_MAX_WORD];
    size_t n;
    while (st == DATA_OK && data_next_line(&p, text + len, &line, &n)) {
        if (latin1 && (n = latin1_to_utf8(line, n, conv, sizeof conv)) != 0)
            line = conv; /* n is 0, and the line skipped, when it was too long */
        if (n > 0 && n < LANGID_MAX_WORD && keep_word(line, n))
            st = langid_add(lw, lang, line, n);
    }
    free(text);
    return st == DATA_OK ? st : data_fail(err, st, "langid: out of memory");
}

/* Keeps the words of list lang that no other list has, in a seeded order,
 * and checks there are enough of them. */
static data_status langid_unique(const data_request *rq, langid_words *lw, int lang,
                                 size_t need, data_error *err)
{
    size_t k = 0;
    for (size_t i = 0; i < lw->n_ids[lang]; i++)
        if (lw->langs[lw->ids[lang][i]] == (1u << lang))
            lw->ids[lang][k++] = lw->ids[lang][i];
    lw->n_ids[lang] = k;
    if (k < need)
        return data_fail(err, DATA_ERR_SIZE,
                         "langid: the %s list (%s) has %zu usable words, but %zu are needed; ask "
                         "for fewer words per language",
                         langid_sources[lang].code, langid_sources[lang].file, k, need);
    data_rng rng;
    data_rng_init(&rng, rq->seed, langid_sources[lang].code);
    data_shuffle(&rng, lw->ids[lang], k);
    return DATA_OK;
}

/* Writes split s: words [first, first + per_lang) of every language's
 * shuffled list, mixed in a seeded order. */
static data_status langid_emit(const data_request *rq, const langid_words *lw, int s,
                               size_t first, size_t per_lang, data_output *out)
{
    size_t n = per_lang * N_LANGS, k = 0;
    size_t *pick = malloc(sizeof *pick * (n ? n : 1));
    if (!pick)
        return DATA_ERR_NOMEM;
    for (int l = 0; l < N_LANGS; l++)
        for (size_t i = first; i < first + per_lang; i++)
            pick[k++] = lw->ids[l][i] * N_LANGS + (size_t)l;
    data_rng rng;
    data_rng_init(&rng, rq->seed, data_split_names[s]);
    data_shuffle(&rng, pick, n);
    data_status st = DATA_OK;
    for (size_t i = 0; i < n && st == DATA_OK; i++)
        st = data_rows_add(&out->rows, data_map_key(&lw->words, pick[i] / N_LANGS),
                           langid_sources[pick[i] % N_LANGS].code);
    free(pick);
    out->count[s] = per_lang * N_LANGS;
    return st;
}

static data_status langid_generate(const data_request *rq, data_output *out, data_error *err)
{
    static const size_t defaults[DATA_N_SPLITS] = {6000, 500, 500};
    size_t sizes[DATA_N_SPLITS];
    data_sizes(rq, defaults, sizes);
    langid_words lw = {0};
    data_status st = DATA_OK;
    for (int l = 0; l < N_LANGS && st == DATA_OK; l++)
        st = langid_read(rq, &lw, l, err);
    for (int l = 0; l < N_LANGS && st == DATA_OK; l++)
        st = langid_unique(rq, &lw, l, sizes[0] + sizes[1] + sizes[2], err);
    size_t first = 0;
    for (int s = 0; s < DATA_N_SPLITS && st == DATA_OK; s++) {
        if ((st = langid_emit(rq, &lw, s, first, sizes[s], out)) != DATA_OK)
            st = data_fail(err, st, "langid: out of memory");
        first += sizes[s];
    }
    for (int l = 0; l < N_LANGS; l++)
        free(lw.ids[l]);
    free(lw.langs);
    data_map_free(&lw.words);
    return st;
}

const data_spec data_langid_spec = {
    .name = "langid",
    .summary = "the language of a word: en fr de es it pt nl sv (\"ähnlich\" -> de)",
    .sizes = "words per language (the same number of each); default 6000 train, 500 valid, "
             "500 test",
    .sources = LANGID_DIR "/{american-english,french,ngerman,spanish,italian,portuguese,dutch,"
               "swedish} (Debian packages wamerican wfrench wngerman wspanish witalian "
               "wportuguese wdutch wswedish)",
    .generate = langid_generate,
    .explain = NULL,
};
