/*
 * heed infer: runs a trained model on texts given as arguments or read from
 * stdin (one per line): a seq2seq model decodes (greedy, or beam search with
 * --beam), a classifier prints the label and its probability, a tagger the
 * label of each token. --attention
 * FILE.svg draws each text's attention weights (source across, output down);
 * --attention - prints them shaded in the terminal.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "svg.h"

typedef struct infer_args {
    const char *model, *weights, *attention;
    int beam, threads;
    double alpha;
    const char **texts;
    size_t n;
} infer_args;

/* One token of a field as text (a decoded single id). */
static char *token_text(const heed_vocab *v, const char *field, int32_t id)
{
    if (id == 3)
        return strdup("<eos>");
    char *text = cli_vocab_text(v, field, &id, 1);
    if (text && !text[0]) {
        free(text);
        text = strdup("?");
    }
    return text;
}

static const char *source_field(const heed_model *m)
{
    /* the first data field that is not the target: its column is column 0 */
    const char *target = heed_model_target_field(m);
    for (size_t i = 0; i < heed_model_input_count(m); i++) {
        heed_tensor t;
        heed_model_input(m, i, &t);
        if (t.dtype == HEED_I32 && (!target || strcmp(t.name, target)) &&
            heed_model_field_column(m, t.name) >= 0)
            return t.name;
    }
    return NULL;
}

static void heatmap_free(heatmap *h)
{
    for (int c = 0; h->cols && c < h->n_cols; c++)
        free((char *)h->cols[c]);
    for (int t = 0; h->rows && t < h->n_rows; t++)
        free((char *)h->rows[t]);
    free((void *)h->cols);
    free((void *)h->rows);
    free((void *)h->w);
    free((void *)h->title);
    *h = (heatmap){0};
}

/* The map of decoded text i: its real source columns, its output rows and
 * <eos> when one was written; false when out of memory. */
static bool heatmap_of(const char *text, const heed_model *m, const heed_vocab *v,
                       const heed_decoded *d, heatmap *h)
{
    const char *src = source_field(m), *tgt = heed_model_target_field(m);
    char **cols = calloc(d->source_length + 1, sizeof *cols);
    char **rows = calloc(d->length + 2, sizeof *rows);
    char *out = cli_vocab_text(v, tgt, d->tokens, d->length);
    size_t title_len = strlen(text) + (out ? strlen(out) : 0) + 5;
    char *title = malloc(title_len);
    *h = (heatmap){title, (const char *const *)cols, 0, (const char *const *)rows, 0, NULL};
    bool ok = cols && rows && out && title;
    if (ok)
        snprintf(title, title_len, "%s -> %s", text, out);
    free(out);
    int nc = 0;
    while (ok && (size_t)nc < d->source_length && d->source[nc]) {
        ok = (cols[nc] = token_text(v, src, d->source[nc])) != NULL;
        nc++;
    }
    h->n_cols = nc;
    for (size_t t = 0; ok && t < d->length; t++)
        ok = (rows[t] = token_text(v, tgt, d->tokens[t])) != NULL;
    h->n_rows = (int)d->length; /* rows not reached are NULL, which frees */
    /* attention rows are as wide as the padded source; keep the real columns */
    float *w = ok ? calloc((d->length + 1) * (size_t)(nc ? nc : 1), sizeof *w) : NULL;
    h->w = w;
    ok = ok && w;
    for (size_t t = 0; ok && t <= d->length; t++)
        memcpy(w + t * (size_t)nc, d->attention + t * d->source_length, (size_t)nc * sizeof *w);
    /* the <eos> row is all zeros when max_length ended the output: no <eos>
     * was written, so none is drawn */
    bool eos = false;
    for (int c = 0; ok && c < nc; c++)
        eos |= w[d->length * (size_t)nc + (size_t)c] != 0.0f;
    if (ok && eos) {
        ok = (rows[d->length] = strdup("<eos>")) != NULL;
        h->n_rows += ok;
    }
    return ok;
}

static int show_attention(const infer_args *a, const heed_model *m, const heed_vocab *v,
                          const heed_decode_result *r)
{
    size_t n = heed_decode_count(r);
    for (size_t i = 0; i < n; i++)
        if (!heed_decode_get(r, i)->attention) {
            /* a decoder without attention, or one whose weights decode: does
             * not name and the step plan holds in no *.weights value of one
             * row over the source positions */
            fprintf(stderr,
                    "heed infer: error: --attention: model '%s' gives no attention weights to "
                    "draw (decode: attention: names them)\n",
                    heed_model_name(m));
            return CLI_USER_ERROR;
        }
    heatmap *maps = calloc(n, sizeof *maps);
    bool ok = maps != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = heatmap_of(a->texts[i], m, v, heed_decode_get(r, i), &maps[i]);
    int rc = CLI_OK;
    if (!ok) {
        fprintf(stderr, "heed infer: error: out of memory drawing the attention maps\n");
        rc = CLI_USER_ERROR;
    } else if (!strcmp(a->attention, "-")) {
        for (size_t i = 0; i < n; i++)
            text_heatmap(stdout, &maps[i]);
    } else {
        FILE *f = fopen(a->attention, "w");
        if (f)
            svg_heatmaps(f, maps, (int)n);
        if (!f || !cli_close_written(f)) {
            fprintf(stderr, "heed infer: error: cannot write %s\n", a->attention);
            rc = CLI_USER_ERROR;
        } else {
            fprintf(stderr, "wrote the attention map%s to %s\n", n > 1 ? "s" : "", a->attention);
        }
    }
    for (size_t i = 0; maps && i < n; i++)
        heatmap_free(&maps[i]);
    free(maps);
    return rc;
}

/* Each entry's tokens (decoded, or a tagger's labels) as a text of the
 * target field, one line each. */
static int print_results(const heed_model *m, const heed_vocab *v, const heed_decode_result *r)
{
    const char *tgt = heed_model_target_field(m);
    for (size_t i = 0; i < heed_decode_count(r); i++) {
        const heed_decoded *dd = heed_decode_get(r, i);
        char *out = cli_vocab_text(v, tgt, dd->tokens, dd->length);
        if (!out) {
            fprintf(stderr, "heed infer: error: out of memory writing output %zu\n", i + 1);
            return CLI_USER_ERROR;
        }
        printf("%s\n", out);
        free(out);
    }
    return CLI_OK;
}

static int run_seq2seq(const infer_args *a, const heed_model *m, heed_session *s,
                       const heed_vocab *v)
{
    heed_decode_options o = {.beam = a->beam, .length_alpha = (float)a->alpha,
                             .attention = a->attention != NULL};
    heed_decode_result *r;
    heed_diag d;
    if (heed_decode(s, a->texts, a->n, &o, &r, &d) != HEED_OK)
        return cli_report(&d);
    int rc = print_results(m, v, r);
    if (rc == CLI_OK && a->attention)
        rc = show_attention(a, m, v, r);
    heed_decode_result_free(r);
    return rc;
}

static int run_tag(const infer_args *a, const heed_model *m, heed_session *s,
                   const heed_vocab *v)
{
    heed_decode_result *r;
    heed_diag d;
    if (heed_session_tag(s, a->texts, a->n, &r, &d) != HEED_OK)
        return cli_report(&d);
    int rc = print_results(m, v, r);
    heed_decode_result_free(r);
    return rc;
}

static int run_classify(const infer_args *a, const heed_model *m, heed_session *s,
                        const heed_vocab *v)
{
    int32_t *labels = malloc(sizeof *labels * a->n);
    float *probs = malloc(sizeof *probs * a->n);
    heed_diag d;
    int rc = CLI_OK;
    if (!labels || !probs)
        rc = CLI_USER_ERROR;
    else if (heed_session_classify(s, a->texts, a->n, labels, probs, &d) != HEED_OK)
        rc = cli_report(&d);
    for (size_t i = 0; rc == CLI_OK && i < a->n; i++) {
        char *label = cli_vocab_text(v, heed_model_target_field(m), &labels[i], 1);
        if (!label) {
            fprintf(stderr, "heed infer: error: out of memory writing output %zu\n", i + 1);
            rc = CLI_USER_ERROR;
            break;
        }
        printf("%s\t%.3f\n", label, probs[i]);
        free(label);
    }
    free(labels);
    free(probs);
    return rc;
}

static int run_infer(const infer_args *a)
{
    heed_model *m;
    if (cli_load_model(a->model, a->threads, &m) != HEED_OK)
        return CLI_USER_ERROR;
    heed_diag d;
    heed_weights *w = NULL;
    heed_session *s = NULL;
    const char *decoding_only = a->attention ? "--attention" : a->beam > 1 ? "--beam"
                                : a->alpha > 0 ? "--alpha" : NULL;
    int rc = cli_decoding_only("infer", m, decoding_only);
    if (rc != CLI_OK) {
        heed_model_free(m);
        return rc;
    }
    if (heed_weights_load(m, a->weights, HEED_LOAD_WEIGHTS_ONLY, &w, &d) != HEED_OK) {
        rc = cli_report(&d);
    } else if (heed_session_new(w, HEED_MODE_INFER, &s, &d) != HEED_OK) {
        rc = cli_report(&d);
    } else {
        const heed_vocab *v = heed_weights_vocab(w);
        heed_task task = heed_model_task(m);
        if (task == HEED_TASK_SEQ2SEQ)
            rc = run_seq2seq(a, m, s, v);
        else if (task == HEED_TASK_CLASSIFY)
            rc = run_classify(a, m, s, v);
        else if (task == HEED_TASK_TAG)
            rc = run_tag(a, m, s, v);
        else {
            fprintf(stderr, "heed infer: error: model '%s' neither decodes, classifies nor tags "
                            "(use heed run for other graphs)\n",
                    heed_model_name(m));
            rc = CLI_USER_ERROR;
        }
    }
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(m);
    return rc;
}

/* Every line of stdin, blank ones included, so that output line i answers
 * input line i. NULL on a lack of memory or a NUL byte (*bad_line: its
 * number), which would cut the text short without a word. */
static char **read_lines(size_t *n, size_t *bad_line)
{
    size_t cap = 64, len = 0;
    char **out = malloc(sizeof *out * cap), *line = NULL;
    ssize_t got;
    *n = 0;
    *bad_line = 0;
    while (out && (got = getline(&line, &len, stdin)) >= 0) {
        if (*n == 0)
            got = (ssize_t)cli_drop_bom(line, (size_t)got);
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        if (strlen(line) != (size_t)got)
            *bad_line = *n + 1;
        char **grown = *n == cap ? realloc(out, sizeof *out * (cap *= 2)) : out;
        char *copy = grown && !*bad_line ? strdup(line) : NULL;
        if (!copy) {
            for (size_t i = 0; grown && i < *n; i++)
                free(grown[i]);
            free(grown ? grown : out);
            out = NULL;
            break;
        }
        out = grown;
        out[(*n)++] = copy;
    }
    free(line);
    return out;
}

int cmd_infer(int argc, char **argv)
{
    cli_opts o;
    cli_opts_init(&o, argc, argv, "infer");
    static const char *const known[] = {"--weights", "--beam", "--alpha", "--attention",
                                        "--threads"};
    infer_args a = {.beam = 1, .alpha = 0.0};
    const char *opt;
    while ((opt = cli_next(&o)) && !o.failed) {
        if (!strcmp(opt, "--weights"))
            a.weights = cli_value(&o);
        else if (!strcmp(opt, "--beam"))
            a.beam = cli_int(&o, 1, 32);
        else if (!strcmp(opt, "--alpha"))
            a.alpha = cli_double(&o, 0, 10);
        else if (!strcmp(opt, "--attention"))
            a.attention = cli_value(&o);
        else if (!strcmp(opt, "--threads"))
            a.threads = cli_int(&o, 1, 1024);
        else
            return cli_unknown_option(&o, opt, known, CLI_COUNT(known));
    }
    if (o.failed)
        return CLI_USAGE;
    if (o.n_positional < 1 || !a.weights)
        return cli_usage_error(&o, "give a model file and --weights");
    const char *kept[] = {o.positional[0], a.weights};
    const char *same = a.attention ? cli_same_file(a.attention, kept, CLI_COUNT(kept)) : NULL;
    if (same)
        return cli_usage_error(&o, "--attention %s would overwrite %s", a.attention, same);
    char why[4200];
    /* found before any text is decoded, not after every result was printed */
    if (a.attention && strcmp(a.attention, "-") &&
        !cli_writable(a.attention, false, why, sizeof why)) {
        fprintf(stderr, "heed infer: error: --attention %s: %s\n", a.attention, why);
        return CLI_USER_ERROR;
    }
    a.model = o.positional[0];
    char **lines = NULL;
    a.n = (size_t)o.n_positional - 1;
    a.texts = (const char **)o.positional + 1;
    if (a.n == 0) {
        size_t bad;
        if (!(lines = read_lines(&a.n, &bad))) {
            if (bad)
                fprintf(stderr, "heed infer: error: stdin: line %zu holds a NUL byte\n", bad);
            else
                fprintf(stderr, "heed infer: error: out of memory reading stdin\n");
            return CLI_USER_ERROR;
        }
        a.texts = (const char **)lines;
    }
    int rc = a.n ? run_infer(&a) : cli_usage_error(&o, "no texts: give them as arguments or on stdin");
    for (size_t i = 0; lines && i < a.n; i++)
        free(lines[i]);
    free(lines);
    return rc;
}
