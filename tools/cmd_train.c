/*
 * heed train: trains a model on a TSV file. Vocabularies come from the
 * training data; each epoch ends with validation metrics and an atomic
 * checkpoint. On a terminal a one-line display shows progress; otherwise
 * plain log lines.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "svg.h"

typedef struct train_args {
    const char *model, *data, *valid, *out, *log, *plot;
    int epochs, batch, threads;
    long seed;
    double lr, lr_decay, clip;
    bool quiet;
    const heed_dim *dims;
    size_t n_dims;
} train_args;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void clock_text(double s, char *buf, size_t cap)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

typedef struct eval_result {
    double loss;
    heed_accuracy acc;
} eval_result;

/* Teacher-forced loss and accuracy over a dataset. */
static heed_status evaluate(heed_session *s, const heed_dataset *ds, int batch, eval_result *r,
                            heed_diag *d)
{
    size_t n = heed_dataset_size(ds);
    size_t *rows = malloc(sizeof *rows * (size_t)batch);
    if (!rows)
        return HEED_ERR_NOMEM;
    memset(r, 0, sizeof *r);
    double weight = 0;
    heed_status st = HEED_OK;
    for (size_t i = 0; i < n && st == HEED_OK; i += (size_t)batch) {
        size_t k = i + (size_t)batch <= n ? (size_t)batch : n - i;
        for (size_t j = 0; j < k; j++)
            rows[j] = i + j;
        if ((st = heed_dataset_feed(ds, rows, k, s, d)) != HEED_OK ||
            (st = heed_session_forward(s, d)) != HEED_OK)
            break;
        heed_accuracy a;
        if (heed_session_accuracy(s, &a, d) == HEED_OK) {
            r->acc.tokens += a.tokens;
            r->acc.tokens_correct += a.tokens_correct;
            r->acc.sequences += a.sequences;
            r->acc.sequences_correct += a.sequences_correct;
        }
        r->loss += heed_session_loss(s) * (double)k;
        weight += (double)k;
    }
    r->loss /= weight > 0 ? weight : 1;
    free(rows);
    return st;
}

typedef struct curves {
    double *epoch, *train, *valid, *tok, *seq;
    int n;
} curves;

static void write_plot(const train_args *a, const heed_model *m, const curves *c)
{
    FILE *f = fopen(a->plot, "w");
    if (!f) {
        fprintf(stderr, "heed train: warning: cannot write %s\n", a->plot);
        return;
    }
    series loss[2] = {{"training loss", c->train}, {"validation loss", c->valid}};
    series acc[2] = {{"validation token accuracy %", c->tok},
                     {"validation sequence accuracy %", c->seq}};
    char title[256];
    snprintf(title, sizeof title, "heed train %s", heed_model_name(m));
    svg_curves(f, title, c->epoch, c->n, loss, a->valid ? 2 : 1, "loss", a->valid ? acc : NULL,
               2, "accuracy (teacher-forced)");
    fclose(f);
}

static void progress(const train_args *a, int epoch, size_t done, size_t total, double loss,
                     double t0, size_t examples)
{
    double el = now() - t0, rate = el > 0 ? (double)examples / el : 0;
    char eta[32];
    clock_text(done ? el * (double)(total - done) / (double)done : 0, eta, sizeof eta);
    fprintf(stderr, "\r\033[Kepoch %d/%d  step %zu/%zu  loss %.4f  %.0f ex/s  ETA %s", epoch,
            a->epochs, done, total, loss, rate, eta);
    fflush(stderr);
}

static int train_loop(const train_args *a, heed_model *m, heed_weights *w,
                      const heed_dataset *train, const heed_dataset *valid, FILE *log)
{
    heed_diag d;
    heed_session *s, *vs = NULL;
    if (heed_session_new(w, HEED_MODE_TRAIN, &s, &d) != HEED_OK)
        return cli_report(&d);
    if (valid && heed_session_new(w, HEED_MODE_INFER, &vs, &d) != HEED_OK) {
        heed_session_free(s);
        return cli_report(&d);
    }
    heed_train_config tc;
    heed_model_train_config(m, &tc);
    if (a->lr > 0)
        tc.lr = (float)a->lr;
    if (a->lr_decay > 0)
        tc.lr_decay = (float)a->lr_decay;
    if (a->clip >= 0)
        tc.clip = (float)a->clip;
    if (a->batch > 0)
        tc.batch = a->batch;
    tc.seed = (uint64_t)a->seed;
    heed_weights_set_train_config(w, &tc);
    heed_session_seed(s, tc.seed);
    size_t n = heed_dataset_size(train), batch = (size_t)tc.batch;
    size_t steps = (n + batch - 1) / batch;
    size_t *order = malloc(sizeof *order * n);
    if (!order) {
        heed_session_free(s);
        heed_session_free(vs);
        return CLI_USER_ERROR;
    }
    bool tty = cli_isatty(stderr) && !a->quiet;
    int rc = CLI_OK;
    double *hist = calloc((size_t)a->epochs * 5 + 5, sizeof *hist);
    curves cv = {hist, hist + a->epochs + 1, hist + 2 * (a->epochs + 1), hist + 3 * (a->epochs + 1),
                 hist + 4 * (a->epochs + 1), 0};
    if (!hist) {
        free(order);
        heed_session_free(s);
        heed_session_free(vs);
        return CLI_USER_ERROR;
    }
    double start = now();
    if (log)
        fprintf(log, "epoch,step,train_loss,valid_loss,valid_token_acc,valid_seq_acc,seconds\n");
    for (int e = 1; e <= a->epochs && rc == CLI_OK; e++) {
        heed_dataset_shuffle(train, batch, tc.seed, e, order);
        double t0 = now(), sum = 0, last_draw = 0;
        size_t examples = 0;
        for (size_t b = 0; b < steps; b++) {
            size_t k = (b + 1) * batch <= n ? batch : n - b * batch;
            float loss;
            if (heed_dataset_feed(train, order + b * batch, k, s, &d) != HEED_OK ||
                heed_session_train_step(s, &loss, &d) != HEED_OK) {
                if (tty)
                    fprintf(stderr, "\n");
                rc = cli_report(&d);
                break;
            }
            sum += loss;
            examples += k;
            if (tty && (now() - last_draw > 0.25 || b + 1 == steps)) {
                progress(a, e, b + 1, steps, sum / (double)(b + 1), t0, examples);
                last_draw = now();
            }
        }
        if (rc != CLI_OK)
            break;
        if (tty)
            fprintf(stderr, "\r\033[K");
        double secs = now() - t0, train_loss = sum / (double)steps;
        eval_result vr = {NAN, {0}};
        if (vs && evaluate(vs, valid, (int)batch, &vr, &d) != HEED_OK) {
            rc = cli_report(&d);
            break;
        }
        double tok = vr.acc.tokens ? 100.0 * vr.acc.tokens_correct / vr.acc.tokens : NAN;
        double seq = vr.acc.sequences ? 100.0 * vr.acc.sequences_correct / vr.acc.sequences : NAN;
        printf("epoch %d/%d  train loss %.4f", e, a->epochs, train_loss);
        if (vs)
            printf("  valid loss %.4f  token acc %.2f%%  sequence acc %.2f%%", vr.loss, tok, seq);
        printf("  (%.1f s, %.0f ex/s)\n", secs, (double)examples / secs);
        fflush(stdout);
        if (log) {
            fprintf(log, "%d,%lld,%.6f,%.6f,%.4f,%.4f,%.2f\n", e, (long long)heed_weights_steps(w),
                    train_loss, vr.loss, tok, seq, now() - start);
            fflush(log);
        }
        cv.epoch[cv.n] = e;
        cv.train[cv.n] = train_loss;
        cv.valid[cv.n] = vr.loss;
        cv.tok[cv.n] = tok;
        cv.seq[cv.n] = seq;
        cv.n++;
        if (a->plot)
            write_plot(a, m, &cv);
        if (heed_weights_save(w, a->out, &d) != HEED_OK) {
            rc = cli_report(&d);
            break;
        }
        tc.lr *= tc.lr_decay;
        heed_weights_set_train_config(w, &tc);
    }
    if (rc == CLI_OK)
        printf("saved %s (%.1f s)\n", a->out, now() - start);
    free(hist);
    free(order);
    heed_session_free(s);
    heed_session_free(vs);
    return rc;
}

static int run_training(const train_args *a)
{
    heed_model *m;
    if (cli_load_model(a->model, a->threads, &m) != HEED_OK)
        return CLI_USER_ERROR;
    heed_diag d;
    heed_vocab *v = NULL;
    heed_weights *w = NULL;
    heed_dataset *train = NULL, *valid = NULL;
    FILE *log = NULL;
    int rc = CLI_OK;
    heed_train_config tc;
    heed_model_train_config(m, &tc);
    uint64_t seed = a->seed >= 0 ? (uint64_t)a->seed : tc.seed;
    if (heed_vocab_build(m, a->data, &v, &d) != HEED_OK ||
        heed_dataset_load(m, v, a->data, &train, &d) != HEED_OK ||
        (a->valid && heed_dataset_load(m, v, a->valid, &valid, &d) != HEED_OK) ||
        heed_weights_new(m, v, a->dims, a->n_dims, seed, &w, &d) != HEED_OK) {
        rc = cli_report(&d);
    } else if (a->log && !(log = fopen(a->log, "w"))) {
        fprintf(stderr, "heed train: error: cannot write %s\n", a->log);
        rc = CLI_USER_ERROR;
    } else {
        train_args b = *a;
        b.seed = (long)seed;
        if (b.epochs <= 0)
            b.epochs = tc.epochs;
        printf("training '%s' on %zu examples (%s)%s%s, %d epochs\n", heed_model_name(m),
               heed_dataset_size(train), a->data, valid ? ", validating on " : "",
               valid ? a->valid : "", b.epochs);
        rc = train_loop(&b, m, w, train, valid, log);
    }
    if (log)
        fclose(log);
    heed_dataset_free(train);
    heed_dataset_free(valid);
    heed_weights_free(w);
    heed_vocab_free(v);
    heed_model_free(m);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    cli_opts o;
    cli_opts_init(&o, argc, argv, "train",
                  "heed train MODEL.yaml --data TRAIN.tsv [--valid VALID.tsv] [--epochs N] "
                  "[--out W.safetensors] [--batch N] [--lr X] [--lr-decay X] [--clip X] "
                  "[--seed N] [--dim NAME=N ...] [--threads N] [--log FILE.csv] "
                  "[--plot FILE.svg] [--quiet]");
    static const char *const known[] = {"--data",  "--valid", "--epochs",   "--out",
                                        "--batch", "--lr",    "--lr-decay", "--clip",
                                        "--seed",  "--dim",   "--threads",  "--log",
                                        "--plot",  "--quiet"};
    train_args a = {.seed = -1, .clip = -1};
    const char *opt;
    while ((opt = cli_next(&o)) && !o.failed) {
        if (cli_dim_option(&o, opt))
            continue;
        if (!strcmp(opt, "--data"))
            a.data = cli_value(&o);
        else if (!strcmp(opt, "--valid"))
            a.valid = cli_value(&o);
        else if (!strcmp(opt, "--epochs"))
            a.epochs = cli_int(&o, 1, 1000000);
        else if (!strcmp(opt, "--out"))
            a.out = cli_value(&o);
        else if (!strcmp(opt, "--batch"))
            a.batch = cli_int(&o, 1, 1 << 20);
        else if (!strcmp(opt, "--lr"))
            a.lr = cli_double(&o);
        else if (!strcmp(opt, "--seed"))
            a.seed = cli_int(&o, 0, 1 << 30);
        else if (!strcmp(opt, "--threads"))
            a.threads = cli_int(&o, 1, 1024);
        else if (!strcmp(opt, "--log"))
            a.log = cli_value(&o);
        else if (!strcmp(opt, "--plot"))
            a.plot = cli_value(&o);
        else if (!strcmp(opt, "--lr-decay"))
            a.lr_decay = cli_double(&o);
        else if (!strcmp(opt, "--clip"))
            a.clip = cli_double(&o);
        else if (!strcmp(opt, "--quiet"))
            a.quiet = true;
        else
            return cli_unknown_option(&o, opt, known, 14);
    }
    if (o.failed)
        return CLI_USAGE;
    if (o.n_positional != 1 || !a.data)
        return cli_usage_error(&o, "give a model file and --data TRAIN.tsv");
    a.model = o.positional[0];
    a.dims = o.dims;
    a.n_dims = (size_t)o.n_dims;
    char out[1024];
    if (!a.out) {
        /* MODEL.yaml -> MODEL.safetensors beside it */
        snprintf(out, sizeof out, "%s", a.model);
        char *dot = strrchr(out, '.');
        if (dot && !strchr(dot, '/'))
            *dot = '\0';
        strncat(out, ".safetensors", sizeof out - strlen(out) - 1);
        a.out = out;
    }
    return run_training(&a);
}
