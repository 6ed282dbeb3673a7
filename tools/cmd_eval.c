/*
 * heed eval: measures a trained model on a TSV file. Seq2seq models decode
 * every source (greedy or beam search) and report exact match, word error
 * rate (a row is wrong unless it matches one of its references, the G2P
 * convention), token error rate (edit distance to the closest reference over
 * its length: the phoneme error rate for g2p) and teacher-forced token
 * accuracy. Classifiers report accuracy and a confusion matrix. --json for
 * machines.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct eval_args {
    const char *model, *weights, *data;
    int beam, threads;
    double alpha;
    size_t limit;
    bool json;
} eval_args;

typedef struct tsv_rows {
    char **line;
    size_t *number; /* each one's line in the file, from 1 */
    size_t n;
} tsv_rows;

/* The data lines, without their newlines; the file has passed
 * heed_dataset_load's checks (line length, encoding) already. */
static bool read_rows(const char *path, size_t limit, tsv_rows *r)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "heed eval: error: cannot open %s\n", path);
        return false;
    }
    size_t cap = 0, len = 0, number = 0;
    char *line = NULL;
    ssize_t got;
    bool ok = true;
    r->n = 0;
    r->line = NULL;
    r->number = NULL;
    for (bool first = true; ok && (!limit || r->n < limit) && (got = getline(&line, &len, f)) >= 0;
         first = false) {
        number++;
        if (first)
            got = (ssize_t)cli_drop_bom(line, (size_t)got);
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        if (got == 0)
            continue;
        if (r->n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **p = realloc(r->line, cap * sizeof *p);
            r->line = p ? p : r->line;
            size_t *q = realloc(r->number, cap * sizeof *q);
            r->number = q ? q : r->number;
            ok = p && q;
        }
        if (ok && (r->line[r->n] = strdup(line)) != NULL)
            r->number[r->n++] = number;
        else
            ok = false;
    }
    if (!ok)
        fprintf(stderr, "heed eval: error: out of memory reading %s\n", path);
    free(line);
    fclose(f);
    return ok;
}

static void free_rows(tsv_rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->line[i]);
    free(r->line);
    free(r->number);
}

/* Column c of a TSV line as a new string, whole however long; NULL when
 * absent (*oom set when it was there but memory ran out). */
static char *column(const char *line, int c, bool *oom)
{
    for (int i = 0; i < c; i++) {
        line = strchr(line, '\t');
        if (!line)
            return NULL;
        line++;
    }
    char *out = strndup(line, strcspn(line, "\t"));
    *oom |= out == NULL;
    return out;
}

static size_t edit_distance(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    size_t *row = malloc((nb + 1) * sizeof *row);
    if (!row)
        return na > nb ? na : nb;
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[nb];
    free(row);
    return d;
}

/* A reference's token ids, without the bos and eos the field adds, in a new
 * array (NULL when out of memory; *n 0 for a text the field cannot encode). */
static int32_t *reference_ids(const heed_vocab *v, const char *field, const char *text, size_t *n)
{
    heed_diag d;
    size_t want = 0;
    *n = 0;
    if (heed_vocab_encode(v, field, text, NULL, 0, &want, &d) != HEED_OK)
        want = 0;
    int32_t *ids = malloc(sizeof *ids * (want ? want : 1));
    if (!ids || !want || heed_vocab_encode(v, field, text, ids, want, &want, &d) != HEED_OK)
        return ids;
    for (size_t i = 0; i < want; i++)
        if (ids[i] != 2 && ids[i] != 3)
            ids[(*n)++] = ids[i];
    return ids;
}

/* Splits text at spaces into symbols (the text is modified), in a new array
 * of *n; NULL when out of memory. */
static const char **split_symbols(char *text, size_t *n)
{
    const char **sym = malloc(sizeof *sym * (strlen(text) / 2 + 1));
    char *save = NULL;
    *n = 0;
    for (char *tok = strtok_r(text, " ", &save); sym && tok; tok = strtok_r(NULL, " ", &save))
        sym[(*n)++] = tok;
    return sym;
}

/* Edit distance between two symbol sequences (strings compared whole). */
static size_t symbol_distance(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    size_t *row = malloc((nb + 1) * sizeof *row);
    if (!row)
        return na > nb ? na : nb;
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j], best = diag + (strcmp(a[i - 1], b[j - 1]) != 0);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[nb];
    free(row);
    return d;
}

typedef struct s2s_metrics {
    size_t rows, exact, edits, ref_tokens;
    size_t sym_edits, ref_syms; /* over space-separated symbols (phonemes, words) */
    bool spaced;                /* some reference holds spaces */
    heed_accuracy tf;
} s2s_metrics;

/* The closest reference by symbols: edits to it and its length. False when
 * out of memory. */
static bool score_symbols(const char *line, int col, const heed_vocab *v, const char *field,
                          const heed_decoded *d, s2s_metrics *mt)
{
    bool oom = false;
    size_t no = 0, best = (size_t)-1, best_len = 0;
    char *out = cli_vocab_text(v, field, d->tokens, d->length), *ref;
    const char **osym = out ? split_symbols(out, &no) : NULL;
    oom |= !osym;
    for (int c = col; !oom && (ref = column(line, c, &oom)); c++) {
        mt->spaced |= strchr(ref, ' ') != NULL;
        size_t nr;
        const char **rsym = split_symbols(ref, &nr);
        if (rsym) {
            size_t e = symbol_distance(osym, no, rsym, nr);
            if (e < best || (e == best && nr > best_len))
                best = e, best_len = nr;
        }
        oom |= !rsym;
        free((void *)rsym);
        free(ref);
    }
    mt->sym_edits += best == (size_t)-1 ? no : best;
    mt->ref_syms += best_len;
    free((void *)osym);
    free(out);
    return !oom;
}

/* Scores one decoded row against each of its references (whole, however
 * long). False when out of memory. */
static bool score_row(const heed_vocab *v, const char *field, int col, const char *line,
                      const heed_decoded *d, s2s_metrics *mt)
{
    size_t best = (size_t)-1, best_len = 0;
    bool exact = false, oom = false;
    char *ref;
    for (int c = col; !oom && (ref = column(line, c, &oom)); c++) {
        size_t n;
        int32_t *ids = reference_ids(v, field, ref, &n);
        if (ids) {
            size_t e = edit_distance(d->tokens, d->length, ids, n);
            exact |= e == 0;
            if (e < best || (e == best && n > best_len))
                best = e, best_len = n;
        }
        oom |= !ids;
        free(ids);
        free(ref);
    }
    mt->rows++;
    mt->exact += exact;
    mt->edits += best == (size_t)-1 ? d->length : best;
    mt->ref_tokens += best_len;
    return !oom && score_symbols(line, col, v, field, d, mt);
}

/* Teacher-forced token accuracy on the first reference of the first n rows. */
static heed_status teacher_forced(heed_session *s, const heed_dataset *ds, size_t n,
                                  heed_accuracy *acc, heed_diag *d)
{
    size_t rows[256];
    heed_status st = HEED_OK;
    memset(acc, 0, sizeof *acc);
    if (n > heed_dataset_size(ds))
        n = heed_dataset_size(ds);
    for (size_t i = 0; i < n && st == HEED_OK; i += 256) {
        size_t k = n - i < 256 ? n - i : 256;
        for (size_t j = 0; j < k; j++)
            rows[j] = i + j;
        heed_accuracy a;
        if ((st = heed_dataset_feed(ds, rows, k, s, d)) == HEED_OK &&
            (st = heed_session_forward(s, d)) == HEED_OK &&
            (st = heed_session_accuracy(s, &a, d)) == HEED_OK) {
            acc->tokens += a.tokens;
            acc->tokens_correct += a.tokens_correct;
            acc->sequences += a.sequences;
            acc->sequences_correct += a.sequences_correct;
        }
    }
    return st;
}

/* {"model":NAME,"data":PATH, the start of both kinds' JSON */
static void json_head(const heed_model *m, const char *data)
{
    printf("{\"model\":");
    cli_json_string(stdout, heed_model_name(m));
    printf(",\"data\":");
    cli_json_string(stdout, data);
}

/* A percentage for JSON (null when undefined) and for the table ("n/a"). */
static const char *json_rate(double x, char *buf, size_t cap)
{
    snprintf(buf, cap, isnan(x) ? "null" : "%.4f", x);
    return buf;
}

static const char *text_rate(double x, char *buf, size_t cap)
{
    snprintf(buf, cap, isnan(x) ? "n/a" : "%.2f%%", x);
    return buf;
}

/* Every reference (the target's column and those after it) can be read in
 * the target's tokens: the library checked the model's own columns, not
 * the further references, and one it could not encode would score as an
 * empty reference. Found before any row is decoded. */
static bool references_readable(const eval_args *a, const heed_vocab *v, const char *field,
                                int col, const tsv_rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        bool oom = false;
        char *ref;
        for (int c = col; !oom && (ref = column(r->line[i], c, &oom)); c++) {
            heed_diag d;
            size_t want = 0;
            heed_status st = heed_vocab_encode(v, field, ref, NULL, 0, &want, &d);
            free(ref);
            if (st != HEED_OK) {
                fprintf(stderr, "%s:%zu: error: reference column %d (counted from 0): %s\n",
                        a->data, r->number[i], c, d.message);
                return false;
            }
        }
        if (oom) {
            fprintf(stderr, "heed eval: error: out of memory reading %s\n", a->data);
            return false;
        }
    }
    return true;
}

static int eval_seq2seq(const eval_args *a, const heed_model *m, heed_session *s,
                        const heed_vocab *v, const heed_dataset *ds, const tsv_rows *r)
{
    const char *field = heed_model_target_field(m);
    int col = heed_model_field_column(m, field);
    if (!references_readable(a, v, field, col, r))
        return CLI_USER_ERROR;
    heed_decode_options o = {.beam = a->beam, .length_alpha = (float)a->alpha};
    heed_decode_result *res;
    heed_diag d;
    if (heed_decode(s, (const char *const *)r->line, r->n, &o, &res, &d) != HEED_OK)
        return cli_report(&d);
    s2s_metrics mt = {0};
    bool scored = true;
    for (size_t i = 0; scored && i < r->n; i++)
        scored = score_row(v, field, col, r->line[i], heed_decode_get(res, i), &mt);
    heed_decode_result_free(res);
    if (!scored) {
        fprintf(stderr, "heed eval: error: out of memory scoring the outputs\n");
        return CLI_USER_ERROR;
    }
    if (teacher_forced(s, ds, r->n, &mt.tf, &d) != HEED_OK)
        return cli_report(&d);
    double exact = 100.0 * (double)mt.exact / (double)mt.rows;
    /* a rate over references with no tokens at all is undefined (NaN: "n/a"
     * and null), not edits per one token */
    double ter = mt.ref_tokens ? 100.0 * (double)mt.edits / (double)mt.ref_tokens : NAN;
    double ser = mt.ref_syms ? 100.0 * (double)mt.sym_edits / (double)mt.ref_syms : NAN;
    double tok = mt.tf.tokens ? 100.0 * (double)mt.tf.tokens_correct / (double)mt.tf.tokens : 0;
    if (a->json) {
        char tj[32], sj[32];
        json_head(m, a->data);
        printf(",\"rows\":%zu,\"beam\":%d,\"exact_match\":%.4f,\"wer\":%.4f,"
               "\"token_error_rate\":%s,",
               mt.rows, a->beam, exact, 100.0 - exact, json_rate(ter, tj, sizeof tj));
        if (mt.spaced)
            printf("\"symbol_error_rate\":%s,", json_rate(ser, sj, sizeof sj));
        printf("\"teacher_forced_token_accuracy\":%.4f}\n", tok);
        return CLI_OK;
    }
    printf("%s on %s: %zu rows, %s\n", heed_model_name(m), a->data, mt.rows,
           a->beam > 1 ? "beam search" : "greedy decoding");
    if (a->beam > 1)
        printf("  beam width %d, length normalisation alpha %.2f\n", a->beam, a->alpha);
    printf("  exact match                    %7.2f%%\n", exact);
    printf("  word error rate (WER)          %7.2f%%  (rows matching none of their references)\n",
           100.0 - exact);
    char tt[32], st[32];
    printf("  token error rate               %8s  (edits to the closest reference / its "
           "length, in the model's tokens)\n",
           text_rate(ter, tt, sizeof tt));
    if (mt.spaced)
        printf("  symbol error rate (PER)        %8s  (the same in space-separated symbols: "
               "phonemes for g2p)\n",
               text_rate(ser, st, sizeof st));
    printf("  token accuracy, teacher-forced %7.2f%%\n", tok);
    return CLI_OK;
}

/* A model that neither decodes nor classifies, with a CrossEntropy loss (a
 * tagger: a label per token): its teacher-forced token accuracy, and the
 * rows all of whose tokens are right. */
static int eval_tokens(const eval_args *a, const heed_model *m, heed_session *s,
                       const heed_dataset *ds, size_t n)
{
    heed_accuracy acc;
    heed_diag d;
    heed_status st = teacher_forced(s, ds, n, &acc, &d);
    if (st == HEED_ERR_UNSUPPORTED) {
        fprintf(stderr, "heed eval: error: model '%s' neither decodes nor classifies, and has no "
                        "CrossEntropy loss to score its tokens by\n",
                heed_model_name(m));
        return CLI_USER_ERROR;
    }
    if (st != HEED_OK)
        return cli_report(&d);
    double tok = acc.tokens ? 100.0 * (double)acc.tokens_correct / (double)acc.tokens : NAN;
    double seq = acc.sequences ? 100.0 * (double)acc.sequences_correct / (double)acc.sequences
                               : NAN;
    char tt[32], st2[32];
    if (a->json) {
        json_head(m, a->data);
        printf(",\"rows\":%zu,\"tokens\":%lld,\"token_accuracy\":%s,\"row_accuracy\":%s}\n", n,
               (long long)acc.tokens, json_rate(tok, tt, sizeof tt),
               json_rate(seq, st2, sizeof st2));
        return CLI_OK;
    }
    printf("%s on %s: %zu rows, %lld tokens scored (teacher-forced)\n", heed_model_name(m),
           a->data, n, (long long)acc.tokens);
    printf("  token accuracy                 %8s\n", text_rate(tok, tt, sizeof tt));
    printf("  rows with every token right    %8s\n", text_rate(seq, st2, sizeof st2));
    return CLI_OK;
}

/* A label's name in a new string ("" when out of memory). */
static char *label_name(const heed_vocab *v, const char *field, int32_t id)
{
    char *name = cli_vocab_text(v, field, &id, 1);
    return name ? name : strdup("");
}

/* "labels":[...],"confusion":[[...]...]} over the known labels (ids 4..V-1). */
static void confusion_json(const heed_vocab *v, const char *field, int64_t V, const int64_t *conf)
{
    printf("\"labels\":[");
    for (int32_t j = 4; j < V; j++) {
        char *name = label_name(v, field, j);
        printf("%s", j > 4 ? "," : "");
        cli_json_string(stdout, name ? name : "");
        free(name);
    }
    printf("],\"confusion\":[");
    for (int32_t g = 4; g < V; g++) {
        printf("%s[", g > 4 ? "," : "");
        for (int32_t p = 4; p < V; p++)
            printf("%s%lld", p > 4 ? "," : "", (long long)conf[g * V + p]);
        printf("]");
    }
    printf("]}\n");
}

static void confusion_text(const heed_vocab *v, const char *field, int64_t V, const int64_t *conf)
{
    printf("\nconfusion (rows: true label, columns: predicted)\n%8s", "");
    for (int32_t p = 4; p < V; p++) {
        char *name = label_name(v, field, p);
        printf(" %6s", name ? name : "");
        free(name);
    }
    printf("\n");
    for (int32_t g = 4; g < V; g++) {
        char *name = label_name(v, field, g);
        printf("%8s", name ? name : "");
        free(name);
        for (int32_t p = 4; p < V; p++)
            printf(" %6lld", (long long)conf[g * V + p]);
        printf("\n");
    }
}

static int eval_classify(const eval_args *a, const heed_model *m, heed_session *s,
                         const heed_vocab *v, const tsv_rows *r)
{
    const char *field = heed_model_target_field(m);
    int col = heed_model_field_column(m, field);
    int64_t V = heed_vocab_size(v, field);
    int32_t *pred = malloc(sizeof *pred * r->n);
    int64_t *conf = calloc((size_t)(V * V), sizeof *conf);
    heed_diag d;
    int rc = CLI_OK;
    if (!pred || !conf)
        rc = CLI_USER_ERROR;
    else if (heed_session_classify(s, (const char *const *)r->line, r->n, pred, NULL, &d) != HEED_OK)
        rc = cli_report(&d);
    size_t correct = 0, unknown = 0;
    for (size_t i = 0; rc == CLI_OK && i < r->n; i++) {
        int32_t ids[4];
        size_t n = 0;
        bool oom = false;
        char *gold = column(r->line[i], col, &oom);
        if (oom) {
            fprintf(stderr, "heed eval: error: out of memory scoring the outputs\n");
            rc = CLI_USER_ERROR;
            break;
        }
        if (gold && heed_vocab_encode(v, field, gold, ids, 4, &n, &d) != HEED_OK)
            n = 0;
        free(gold);
        int32_t g = n ? ids[0] : 1;
        /* a label the training data never had: wrong, and outside the table */
        unknown += g < 4;
        correct += g >= 4 && g == pred[i];
        conf[g * V + pred[i]]++;
    }
    if (rc == CLI_OK) {
        double acc = 100.0 * (double)correct / (double)r->n;
        if (a->json) {
            json_head(m, a->data);
            printf(",\"rows\":%zu,\"accuracy\":%.4f,\"unknown_labels\":%zu,", r->n, acc,
                   unknown);
            confusion_json(v, field, V, conf);
        } else {
            printf("%s on %s: %zu rows\n  accuracy %.2f%%\n", heed_model_name(m), a->data, r->n,
                   acc);
            if (unknown)
                printf("  %zu row%s a label the model does not know (counted as wrong, not "
                       "in the table)\n",
                       unknown, unknown == 1 ? " has" : "s have");
            confusion_text(v, field, V, conf);
        }
    }
    free(pred);
    free(conf);
    return rc;
}

static int run_eval(const eval_args *a)
{
    heed_model *m;
    if (cli_load_model(a->model, a->threads, &m) != HEED_OK)
        return CLI_USER_ERROR;
    heed_diag d;
    heed_weights *w = NULL;
    heed_session *s = NULL;
    heed_dataset *ds = NULL;
    tsv_rows r = {0};
    const char *decoding_only = a->beam > 1 ? "--beam" : a->alpha > 0 ? "--alpha" : NULL;
    int rc = cli_decoding_only("eval", m, decoding_only);
    if (rc != CLI_OK) {
        heed_model_free(m);
        return rc;
    }
    /* the library reads the data first: its checks cover the file */
    if (heed_weights_load(m, a->weights, HEED_LOAD_WEIGHTS_ONLY, &w, &d) != HEED_OK ||
        heed_session_new(w, HEED_MODE_INFER, &s, &d) != HEED_OK ||
        heed_dataset_load(m, heed_weights_vocab(w), a->data, &ds, &d) != HEED_OK)
        rc = cli_report(&d);
    else if (!read_rows(a->data, a->limit, &r))
        rc = CLI_USER_ERROR;
    else if (r.n == 0)
        rc = (fprintf(stderr, "heed eval: error: %s has no rows\n", a->data), CLI_USER_ERROR);
    /* a row too long for a fixed length named by its line, before any runs */
    else if (heed_dataset_check(ds, r.n, s, &d) != HEED_OK)
        rc = cli_report(&d);
    else if (heed_model_task(m) == HEED_TASK_SEQ2SEQ)
        rc = eval_seq2seq(a, m, s, heed_weights_vocab(w), ds, &r);
    else if (heed_model_task(m) == HEED_TASK_CLASSIFY)
        rc = eval_classify(a, m, s, heed_weights_vocab(w), &r);
    else
        rc = eval_tokens(a, m, s, ds, r.n);
    free_rows(&r);
    heed_dataset_free(ds);
    heed_session_free(s);
    heed_weights_free(w);
    heed_model_free(m);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    cli_opts o;
    cli_opts_init(&o, argc, argv, "eval");
    static const char *const known[] = {"--weights", "--data",    "--beam", "--alpha",
                                        "--limit",   "--threads", "--json"};
    eval_args a = {.beam = 1};
    const char *opt;
    while ((opt = cli_next(&o)) && !o.failed) {
        if (!strcmp(opt, "--weights"))
            a.weights = cli_value(&o);
        else if (!strcmp(opt, "--data"))
            a.data = cli_value(&o);
        else if (!strcmp(opt, "--beam"))
            a.beam = cli_int(&o, 1, 32);
        else if (!strcmp(opt, "--alpha"))
            a.alpha = cli_double(&o, 0, 10);
        else if (!strcmp(opt, "--limit"))
            a.limit = (size_t)cli_int(&o, 1, 1 << 30);
        else if (!strcmp(opt, "--threads"))
            a.threads = cli_int(&o, 1, 1024);
        else if (!strcmp(opt, "--json"))
            a.json = true;
        else
            return cli_unknown_option(&o, opt, known, CLI_COUNT(known));
    }
    if (o.failed)
        return CLI_USAGE;
    if (o.n_positional != 1 || !a.weights || !a.data)
        return cli_usage_error(&o, "give a model file, --weights and --data");
    a.model = o.positional[0];
    return cli_data_file("eval", a.data) ? run_eval(&a) : CLI_USER_ERROR;
}
