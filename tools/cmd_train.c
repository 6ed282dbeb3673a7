/*
 * heed train: trains a model on a TSV file. Vocabularies come from the
 * training data; each epoch ends with validation metrics and an atomic
 * checkpoint (weights, optimizer state and the position in the data), so a
 * killed run resumes with --resume and continues bit for bit as if it had
 * not stopped. On a terminal a one-line display shows progress; otherwise
 * plain log lines.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "svg.h"

typedef struct train_args {
    const char *model, *data, *valid, *out, *log, *plot, *resume, *init, *step_log;
    int epochs, batch, threads, checkpoint_every;
    long seed;
    double lr, lr_decay, clip, smoothing;
    bool quiet, check_numerics, partial, keep_epochs;
    const heed_dim *dims;
    size_t n_dims;
    heed_field_tokens tokens[8]; /* --tokens FIELD=chars|words */
    char token_text[8][80];
    size_t n_tokens;
} train_args;

/* Everything one run of the loop works with. */
typedef struct run {
    const train_args *a;
    heed_model *m;
    heed_weights *w;
    const heed_dataset *train, *valid;
    heed_session *s, *vs;
    heed_train_config tc;
    heed_train_state pos; /* where the run is: epochs and batches done */
    char *hist;           /* pos.history: the finished epochs' curves */
    size_t hist_len, hist_cap;
    size_t *order, n, batch, steps;
    FILE *log, *step_log;
    double start;
} run;

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
static heed_status evaluate(heed_session *s, const heed_dataset *ds, size_t batch, eval_result *r,
                            heed_diag *d)
{
    size_t n = heed_dataset_size(ds);
    size_t *rows = malloc(sizeof *rows * batch);
    if (!rows)
        return HEED_ERR_NOMEM;
    memset(r, 0, sizeof *r);
    double weight = 0;
    heed_status st = HEED_OK;
    for (size_t i = 0; i < n && st == HEED_OK; i += batch) {
        size_t k = i + batch <= n ? batch : n - i;
        for (size_t j = 0; j < k; j++)
            rows[j] = i + j;
        if ((st = heed_dataset_feed(ds, rows, k, s, d)) != HEED_OK ||
            (st = heed_session_forward(s, d)) != HEED_OK)
            break;
        heed_accuracy acc;
        if (heed_session_accuracy(s, &acc, d) == HEED_OK) {
            r->acc.tokens += acc.tokens;
            r->acc.tokens_correct += acc.tokens_correct;
            r->acc.sequences += acc.sequences;
            r->acc.sequences_correct += acc.sequences_correct;
        }
        r->loss += heed_session_loss(s) * (double)k;
        weight += (double)k;
    }
    r->loss /= weight > 0 ? weight : 1;
    free(rows);
    return st;
}

/* ------------------------------------------------------------ curves */

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
    if (!cli_close_written(f))
        fprintf(stderr, "heed train: warning: cannot write %s\n", a->plot);
}

/* Each finished epoch's curve values, "E,train,valid,tok,seq" per line, go
 * into every checkpoint (heed_train_state.history), so that a resumed run's
 * --plot draws the epochs before the stop too. Past the state's 1 MiB (some
 * 15,000 epochs) they are no longer recorded. */
static void history_add(run *r, long long e, const double *v)
{
    char line[192];
    /* 17 digits: the curves drawn after a resume are those drawn before */
    int n = snprintf(line, sizeof line, "%lld,%.17g,%.17g,%.17g,%.17g\n", e, v[0], v[1], v[2],
                     v[3]);
    size_t need = r->hist_len + (size_t)n + 1;
    if (n < 0 || need > ((size_t)1 << 20))
        return;
    if (need > r->hist_cap) {
        size_t cap = need > 2 * r->hist_cap ? need : 2 * r->hist_cap;
        char *grown = realloc(r->hist, cap);
        if (!grown)
            return; /* the curves only: training goes on */
        r->hist = grown;
        r->hist_cap = cap;
    }
    memcpy(r->hist + r->hist_len, line, (size_t)n + 1);
    r->hist_len += (size_t)n;
    r->pos.history = r->hist;
}

/* The curves of the epochs a resumed checkpoint had finished: its lines
 * while their epochs rise, up to the checkpoint's (a run resumed from a
 * checkpoint without them starts at a later epoch). */
static void history_restore(run *r, curves *cv, int max)
{
    const char *h = r->pos.history;
    long long last = 0;
    r->pos.history = NULL;
    for (; h && *h && cv->n < max; h = strchr(h, '\n') ? strchr(h, '\n') + 1 : "") {
        long long e;
        double v[4];
        if (sscanf(h, "%lld,%lf,%lf,%lf,%lf", &e, &v[0], &v[1], &v[2], &v[3]) != 5 ||
            e <= last || e > r->pos.epoch)
            break;
        last = e;
        cv->epoch[cv->n] = (double)e;
        cv->train[cv->n] = v[0];
        cv->valid[cv->n] = v[1];
        cv->tok[cv->n] = v[2];
        cv->seq[cv->n] = v[3];
        cv->n++;
        history_add(r, e, v);
    }
}

/* ------------------------------------------------------------ the loop */

static void progress(const run *r, size_t done, double loss, double t0, size_t examples)
{
    double el = now() - t0, rate = el > 0 ? (double)examples / el : 0;
    char eta[32];
    size_t left = r->steps - done;
    clock_text(done ? el * (double)left / (double)done : 0, eta, sizeof eta);
    fprintf(stderr, "\r\033[Kepoch %lld/%d  step %zu/%zu  loss %.4f  %.0f ex/s  ETA %s",
            (long long)r->pos.epoch + 1, r->tc.epochs, done, r->steps, loss, rate, eta);
    fflush(stderr);
}

static heed_status checkpoint(run *r, heed_diag *d)
{
    r->pos.runs = heed_session_runs(r->s);
    r->pos.lr = r->tc.lr;
    r->pos.rows = (int64_t)r->n;
    return heed_weights_save_checkpoint(r->w, &r->pos, r->a->out, d);
}

/* One epoch's batches from the current position on. */
static heed_status train_epoch(run *r, double *mean_loss, size_t *examples, heed_diag *d)
{
    const train_args *a = r->a;
    bool tty = cli_isatty(stderr) && !a->quiet;
    heed_dataset_shuffle(r->train, r->batch, r->pos.seed, r->pos.epoch + 1, r->order);
    /* a resumed epoch's mean counts the batches before the stop too (a
     * checkpoint that recorded none, as older ones, gives the rest alone) */
    double t0 = now(), sum = r->pos.loss_sum, last_draw = 0;
    size_t done = (size_t)r->pos.loss_batches;
    heed_status st = HEED_OK;
    for (size_t b = (size_t)r->pos.batch; b < r->steps && st == HEED_OK; b++) {
        size_t k = (b + 1) * r->batch <= r->n ? r->batch : r->n - b * r->batch;
        float loss = NAN;
        if ((st = heed_dataset_feed(r->train, r->order + b * r->batch, k, r->s, d)) != HEED_OK ||
            (st = heed_session_train_step(r->s, &loss, d)) != HEED_OK)
            break;
        sum += loss;
        done++;
        *examples += k;
        r->pos.batch = (int64_t)b + 1;
        r->pos.loss_sum = sum;
        r->pos.loss_batches = (int64_t)done;
        if (r->step_log) {
            fprintf(r->step_log, "%lld,%.9g\n", (long long)heed_weights_steps(r->w), loss);
            fflush(r->step_log);
        }
        if (a->checkpoint_every > 0 && heed_weights_steps(r->w) % a->checkpoint_every == 0)
            st = checkpoint(r, d);
        if (tty && (now() - last_draw > 0.25 || b + 1 == r->steps)) {
            progress(r, b + 1, sum / (double)done, t0, *examples);
            last_draw = now();
        }
    }
    if (tty)
        fprintf(stderr, "\r\033[K");
    *mean_loss = done ? sum / (double)done : NAN;
    return st;
}

/* --keep-epochs' file for epoch e: OUT's name with ".epE" before its
 * extension (runs.safetensors -> runs.ep3.safetensors); false when too long. */
static bool kept_name(const char *out, long long e, char *path, size_t cap)
{
    const char *ext = ".safetensors";
    size_t n = strlen(out), x = strlen(ext);
    size_t stem = n >= x && !strcmp(out + n - x, ext) ? n - x : n;
    return snprintf(path, cap, "%.*s.ep%lld%s", (int)stem, out, e, ext) < (int)cap;
}

/* The epoch a path names as a kept file ("x.ep3.safetensors": 3), or 0. */
static long long kept_epoch_of(const char *path)
{
    const char *ext = ".safetensors", *ep = NULL;
    size_t n = strlen(path), x = strlen(ext);
    if (n < x || strcmp(path + n - x, ext))
        return 0;
    for (const char *p = strstr(path, ".ep"); p; p = strstr(p + 1, ".ep"))
        ep = p;
    if (!ep || ep + 3 >= path + n - x)
        return 0;
    long long e = 0;
    for (const char *c = ep + 3; c < path + n - x; c++) {
        if (!isdigit((unsigned char)*c) || e > 100000000)
            return 0;
        e = 10 * e + (*c - '0');
    }
    return e;
}

/* --keep-epochs: the weights as epoch e left them. An input of the run in
 * that name (found before training too) is not written over. */
static heed_status keep_epoch(const run *r, long long e, heed_diag *d)
{
    const train_args *a = r->a;
    char path[4096];
    if (!kept_name(a->out, e, path, sizeof path))
        return cli_fail(d, HEED_ERR_IO, "the path %s is too long", a->out);
    const char *in[] = {a->model, a->data, a->valid, a->init, a->resume};
    const char *same = cli_same_file(path, in, CLI_COUNT(in));
    if (same)
        return cli_fail(d, HEED_ERR_IO, "--keep-epochs would write %s over the input %s", path,
                        same);
    return heed_weights_save(r->w, path, d);
}

static heed_status end_epoch(run *r, curves *cv, double train_loss, size_t examples,
                             double secs, heed_diag *d)
{
    const train_args *a = r->a;
    eval_result vr = {NAN, {0}};
    heed_status st = r->vs ? evaluate(r->vs, r->valid, r->batch, &vr, d) : HEED_OK;
    if (st != HEED_OK)
        return st;
    double tok = vr.acc.tokens ? 100.0 * vr.acc.tokens_correct / vr.acc.tokens : NAN;
    double seq = vr.acc.sequences ? 100.0 * vr.acc.sequences_correct / vr.acc.sequences : NAN;
    long long e = (long long)r->pos.epoch + 1;
    printf("epoch %lld/%d  train loss %.4f", e, r->tc.epochs, train_loss);
    /* a classifier's rows are one token each: one accuracy says it */
    if (r->vs && heed_model_task(r->m) == HEED_TASK_CLASSIFY)
        printf("  valid loss %.4f  acc %.2f%%", vr.loss, seq);
    else if (r->vs)
        printf("  valid loss %.4f  token acc %.2f%%  sequence acc %.2f%%", vr.loss, tok, seq);
    printf("  (%.1f s, %.0f ex/s)\n", secs, (double)examples / secs);
    fflush(stdout);
    if (r->log) {
        fprintf(r->log, "%lld,%lld,%.6f,%.6f,%.4f,%.4f,%.2f\n", e,
                (long long)heed_weights_steps(r->w), train_loss, vr.loss, tok, seq,
                now() - r->start);
        fflush(r->log);
    }
    cv->epoch[cv->n] = (double)e;
    cv->train[cv->n] = train_loss;
    cv->valid[cv->n] = vr.loss;
    cv->tok[cv->n] = tok;
    cv->seq[cv->n] = seq;
    cv->n++;
    history_add(r, e, (const double[4]){train_loss, vr.loss, tok, seq});
    if (a->plot)
        write_plot(a, r->m, cv);
    /* the next epoch's position and learning rate, then the checkpoint */
    r->pos.epoch++;
    r->pos.batch = 0;
    r->pos.loss_sum = 0.0;
    r->pos.loss_batches = 0;
    r->tc.lr *= r->tc.lr_decay;
    /* decayed past the smallest float the rate would be 0, which neither
     * the optimizer nor a checkpoint takes: it stays at the smallest */
    if (!(r->tc.lr > 0.0f))
        r->tc.lr = FLT_TRUE_MIN;
    if (heed_weights_set_train_config(r->w, &r->tc) != HEED_OK)
        return cli_fail(d, HEED_ERR_ARGUMENT, "the training configuration is not valid after "
                                              "epoch %lld",
                        e);
    st = checkpoint(r, d);
    return st == HEED_OK && a->keep_epochs ? keep_epoch(r, e, d) : st;
}

static int train_loop(run *r)
{
    const train_args *a = r->a;
    heed_diag d;
    double *hist = calloc((size_t)r->tc.epochs * 5 + 5, sizeof *hist);
    r->order = malloc(sizeof *r->order * r->n);
    if (!hist || !r->order) {
        free(hist);
        fprintf(stderr, "heed train: error: out of memory\n");
        return CLI_USER_ERROR;
    }
    size_t stride = (size_t)r->tc.epochs + 1;
    curves cv = {hist, hist + stride, hist + 2 * stride, hist + 3 * stride, hist + 4 * stride, 0};
    history_restore(r, &cv, r->tc.epochs);
    if (a->plot && cv.n > 0)
        write_plot(a, r->m, &cv); /* drawn now too: the run may have no epoch left */
    int rc = CLI_OK;
    if (r->pos.epoch >= r->tc.epochs) {
        printf("nothing to train: %s has finished its run (%lld epoch%s; a larger --epochs "
               "extends it)\n",
               a->resume, (long long)r->pos.epoch, r->pos.epoch == 1 ? "" : "s");
        free(hist);
        free(r->order);
        return CLI_OK;
    }
    while (r->pos.epoch < r->tc.epochs && rc == CLI_OK) {
        double t0 = now(), loss;
        size_t examples = 0;
        heed_status st = train_epoch(r, &loss, &examples, &d);
        if (st == HEED_OK)
            st = end_epoch(r, &cv, loss, examples, now() - t0, &d);
        if (st != HEED_OK)
            rc = cli_report(&d);
    }
    if (rc == CLI_OK)
        printf("saved %s (%.1f s)\n", a->out, now() - r->start);
    free(hist);
    free(r->order);
    return rc;
}

/* ------------------------------------------------------------ setup */

/* With --resume or --init the vocabulary is the file's, and so is how its
 * fields are tokenised: a --tokens that says otherwise is an error, not
 * silently ignored. */
static heed_status same_tokens(const train_args *a, const char *path, const heed_vocab *v,
                               heed_diag *d)
{
    for (size_t i = 0; i < a->n_tokens; i++) {
        const char *have = heed_vocab_tokens(v, a->tokens[i].field);
        if (!have || strcmp(have, a->tokens[i].tokens) != 0)
            return cli_fail(d, HEED_ERR_ARGUMENT,
                            "%s tokenises field '%s' as %s; --tokens %s=%s needs new weights "
                            "(a run without --resume or --init)",
                            path, a->tokens[i].field, have ? have : "(no such field)",
                            a->tokens[i].field, a->tokens[i].tokens);
    }
    return HEED_OK;
}

/* --tokens FIELD=MODE; the library checks the field and the mode. */
static void tokens_option(cli_opts *o, train_args *a)
{
    const char *v = cli_value(o);
    if (!v)
        return;
    const char *eq = strchr(v, '=');
    size_t k = a->n_tokens;
    if (!eq || eq == v || !eq[1] || strlen(v) >= sizeof a->token_text[0]) {
        cli_usage_error(o, "--tokens takes FIELD=chars or FIELD=words, not '%s'", v);
        return;
    }
    if (k >= CLI_COUNT(a->tokens)) {
        cli_usage_error(o, "too many --tokens options");
        return;
    }
    memcpy(a->token_text[k], v, strlen(v) + 1);
    a->token_text[k][eq - v] = '\0';
    a->tokens[k] = (heed_field_tokens){a->token_text[k], a->token_text[k] + (eq - v) + 1};
    a->n_tokens++;
}

/* Weights: a checkpoint to resume, weights to start from (their vocabulary
 * too), or new ones with the vocabulary of the training data. */
static heed_status make_weights(const train_args *a, run *r, heed_vocab **v, heed_diag *d)
{
    if (a->resume) {
        heed_status st = heed_weights_load(r->m, a->resume, 0, &r->w, d);
        if (st == HEED_OK && heed_weights_train_state(r->w, &r->pos) != HEED_OK)
            st = cli_fail(d, HEED_ERR_WEIGHTS,
                           "%s holds weights but no training state: it was not written by heed "
                           "train, so it cannot be resumed",
                           a->resume);
        /* a checkpoint takes counts to 2^53: one past 2^52 could not count
         * on through the run and be saved again, and the run would be lost */
        const int64_t room = (int64_t)1 << 52;
        if (st == HEED_OK &&
            (heed_weights_steps(r->w) > room || r->pos.runs > room || r->pos.rows > room ||
             r->pos.epoch > room || r->pos.batch > room || r->pos.loss_batches > room))
            st = cli_fail(d, HEED_ERR_WEIGHTS,
                           "%s: its step, run or row counts are past 2^52, too near the 2^53 a "
                           "checkpoint holds to train on",
                           a->resume);
        return st == HEED_OK ? same_tokens(a, a->resume, heed_weights_vocab(r->w), d) : st;
    }
    if (a->init) {
        /* a new run: the model's dims and --dim, not the ones the file was saved with */
        heed_status st = heed_weights_load_dims(
            r->m, a->init, HEED_LOAD_WEIGHTS_ONLY | (a->partial ? HEED_LOAD_PARTIAL : 0), a->dims,
            a->n_dims, &r->w, d);
        return st == HEED_OK ? same_tokens(a, a->init, heed_weights_vocab(r->w), d) : st;
    }
    heed_status st = heed_vocab_build_tokens(r->m, a->data, a->tokens, a->n_tokens, v, d);
    /* a target that never holds a label or token trains a model that can
     * only answer <unk> */
    const char *target = heed_model_target_field(r->m);
    bool any_token = false;
    for (size_t i = 0; st == HEED_OK && i < heed_model_input_count(r->m); i++) {
        heed_tensor in;
        heed_model_input(r->m, i, &in);
        any_token |= heed_vocab_size(*v, in.name) > 4;
    }
    if (st == HEED_OK && !any_token)
        st = cli_fail(d, HEED_ERR_DATA, "%s has no rows with text: there is nothing to learn",
                      a->data);
    else if (st == HEED_OK && target && heed_vocab_size(*v, target) <= 4)
        st = cli_fail(d, HEED_ERR_DATA,
                      "%s: the target column (field '%s', column %d) is empty in every row: "
                      "there is nothing to learn",
                      a->data, target, heed_model_field_column(r->m, target));
    if (st == HEED_OK)
        st = heed_weights_new(r->m, *v, a->dims, a->n_dims, r->pos.seed, &r->w, d);
    return st;
}

/* The run's settings: the model's train: section with the options on top, or
 * on --resume the checkpoint's own (only --epochs may extend the run). */
static bool configure(const train_args *a, run *r)
{
    if (a->resume) {
        heed_weights_train_config(r->w, &r->tc);
        r->tc.lr = r->pos.lr;
    } else {
        heed_model_train_config(r->m, &r->tc);
        if (a->lr > 0)
            r->tc.lr = (float)a->lr;
        if (a->lr_decay > 0)
            r->tc.lr_decay = (float)a->lr_decay;
        if (a->clip >= 0)
            r->tc.clip = (float)a->clip;
        if (a->batch > 0)
            r->tc.batch = a->batch;
        if (a->smoothing >= 0)
            r->tc.label_smoothing = (float)a->smoothing;
        r->tc.seed = r->pos.seed;
    }
    if (a->epochs > 0)
        r->tc.epochs = a->epochs;
    if (heed_weights_set_train_config(r->w, &r->tc) != HEED_OK) {
        fprintf(stderr, "heed train: error: the training configuration is not valid (lr %g, "
                        "batch %d, epochs %d)\n",
                (double)r->tc.lr, r->tc.batch, r->tc.epochs);
        return false;
    }
    heed_session_seed(r->s, r->pos.seed);
    heed_session_set_runs(r->s, r->pos.runs);
    heed_session_check_numerics(r->s, a->check_numerics);
    r->batch = (size_t)r->tc.batch;
    r->n = heed_dataset_size(r->train);
    r->steps = (r->n + r->batch - 1) / r->batch;
    return true;
}

/* Whether the open file f is the terminal's or a redirect's: stdout or
 * stderr reached through /dev/stdout, /dev/fd/N or /proc/self/fd/N. */
static bool is_own_output(const struct stat *st)
{
    for (int fd = 1; fd <= 2; fd++) {
        struct stat out;
        if (fstat(fd, &out) == 0 && out.st_dev == st->st_dev && out.st_ino == st->st_ino)
            return true;
    }
    return false;
}

/* Cuts the CSV log at path back to the checkpoint: the file ends before its
 * first row whose first column (a step or an epoch) is past `last`, or
 * before a last line a kill left without its newline. heed writes the rows
 * in order, so the cut is a tail, made with ftruncate: nothing is rewritten
 * and a failure leaves the log as it was. A log that does not exist, is not
 * a regular file, cannot be read, or is this process's own stdout or stderr
 * is left alone (appended to as before). */
static bool cut_log(const char *path, long long last)
{
    int fd = path ? open(path, O_RDWR | O_CLOEXEC) : -1;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || is_own_output(&st)) {
        if (fd >= 0)
            close(fd);
        return true;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return true;
    }
    char *line = NULL;
    size_t cap = 0;
    off_t keep = 0;
    bool cut = false;
    ssize_t got;
    while (!cut && (got = getline(&line, &cap, f)) > 0) {
        char *end;
        long long key = strtoll(line, &end, 10);
        bool row = isdigit((unsigned char)line[0]) && *end == ',';
        cut = (row && key > last) || line[got - 1] != '\n';
        if (!cut)
            keep += got;
    }
    free(line);
    bool ok = !cut || ftruncate(fd, keep) == 0;
    fclose(f);
    if (!ok)
        fprintf(stderr, "heed train: error: cannot cut %s back to the checkpoint: %s\n", path,
                strerror(errno));
    return ok;
}

/* A --dim naming a vocabulary dim: the vocabulary, from the data or the
 * --init file, sizes it, and weights made at another size could not be
 * loaded with that vocabulary again. NULL when there is none. */
static const char *vocab_dim_given(const train_args *a, const heed_model *m)
{
    for (size_t i = 0; i < heed_model_input_count(m); i++) {
        heed_tensor in;
        heed_model_input(m, i, &in);
        const char *vocab = heed_model_field_vocab(m, in.name);
        for (size_t k = 0; vocab && k < a->n_dims; k++)
            if (!strcmp(a->dims[k].name, vocab))
                return vocab;
    }
    return NULL;
}

static int run_training(train_args *a)
{
    run r = {.a = a, .start = now()};
    int loaded =
        cli_load_model_dims("train", a->model, a->threads, a->dims, (int)a->n_dims, &r.m);
    if (loaded != CLI_OK)
        return loaded;
    const char *vocab_dim = vocab_dim_given(a, r.m);
    if (vocab_dim) {
        fprintf(stderr, "heed train: error: --dim %s: %s is a vocabulary's size, set by the "
                        "tokens of the data (or of --init's vocabulary)\nusage: %s\n",
                vocab_dim, vocab_dim, cli_command("train")->usage);
        heed_model_free(r.m);
        return CLI_USAGE;
    }
    heed_diag d;
    heed_vocab *v = NULL;
    heed_dataset *train = NULL, *valid = NULL;
    int rc = CLI_OK;
    heed_train_config tc;
    heed_model_train_config(r.m, &tc);
    r.pos.seed = a->seed >= 0 ? (uint64_t)a->seed : tc.seed;
    heed_status st = make_weights(a, &r, &v, &d);
    const heed_vocab *vocab = r.w ? heed_weights_vocab(r.w) : NULL;
    if (st == HEED_OK && (st = heed_dataset_load(r.m, vocab, a->data, &train, &d)) == HEED_OK &&
        (!a->valid || (st = heed_dataset_load(r.m, vocab, a->valid, &valid, &d)) == HEED_OK) &&
        (st = heed_session_new(r.w, HEED_MODE_TRAIN, &r.s, &d)) == HEED_OK && valid)
        st = heed_session_new(r.w, HEED_MODE_INFER, &r.vs, &d);
    /* a row too long for a fixed length is said now, not when its batch
     * comes up, perhaps epochs into the run */
    if (st == HEED_OK && (st = heed_dataset_check(train, SIZE_MAX, r.s, &d)) == HEED_OK && valid)
        st = heed_dataset_check(valid, SIZE_MAX, r.vs, &d);
    if (st != HEED_OK)
        rc = cli_report(&d);
    if (rc == CLI_OK) {
        r.train = train;
        r.valid = valid;
        /* other data would go on under the checkpoint's vocabularies and
         * order; a position past an epoch's end would train nothing */
        if (!configure(a, &r))
            rc = CLI_USER_ERROR;
        else if (a->resume && r.pos.rows > 0 && (size_t)r.pos.rows != r.n)
            rc = (fprintf(stderr,
                          "heed train: error: %s was trained on %lld rows, but %s has %zu: "
                          "resume on the data it was trained on\n",
                          a->resume, (long long)r.pos.rows, a->data, r.n),
                  CLI_USER_ERROR);
        else if (a->resume && (size_t)r.pos.batch > r.steps)
            rc = (fprintf(stderr,
                          "heed train: error: %s stopped after batch %lld of an epoch, but %s "
                          "makes %zu batches of %zu: resume on the data it was trained on\n",
                          a->resume, (long long)r.pos.batch, a->data, r.steps, r.batch),
                  CLI_USER_ERROR);
    }
    /* a run resumed in place does again the steps and epochs logged past
     * its checkpoint: its logs are cut back so each is logged once (after
     * every refusal above, so a refused resume leaves them whole; a fork to
     * another --out keeps the logs it shares as they are) */
    const char *resumed[] = {a->resume};
    if (rc == CLI_OK && a->resume && cli_same_file(a->out, resumed, 1) &&
        (!cut_log(a->step_log, heed_weights_steps(r.w)) || !cut_log(a->log, r.pos.epoch)))
        rc = CLI_USER_ERROR;
    /* opened once the run is sure to go on: a refused one leaves no file */
    if (rc == CLI_OK && a->log && !(r.log = fopen(a->log, a->resume ? "a" : "w")))
        rc = (fprintf(stderr, "heed train: error: cannot write %s\n", a->log), CLI_USER_ERROR);
    else if (rc == CLI_OK && a->step_log &&
             !(r.step_log = fopen(a->step_log, a->resume ? "a" : "w")))
        rc = (fprintf(stderr, "heed train: error: cannot write %s\n", a->step_log),
              CLI_USER_ERROR);
    if (rc == CLI_OK) {
        /* the header starts a new log, and a resumed one that is empty (a
         * run killed before its first epoch ended) or not a file (a pipe) */
        if (r.log && (!a->resume || fseek(r.log, 0, SEEK_END) != 0 || ftell(r.log) == 0)) {
            fprintf(r.log,
                    "epoch,step,train_loss,valid_loss,valid_token_acc,valid_seq_acc,seconds\n");
            fflush(r.log);
        }
        if (a->resume)
            printf("resuming '%s' from %s: epoch %lld, batch %lld, step %lld\n",
                   heed_model_name(r.m), a->resume, (long long)r.pos.epoch + 1,
                   (long long)r.pos.batch, (long long)heed_weights_steps(r.w));
        else
            printf("training '%s' on %zu example%s (%s)%s%s, %d epoch%s\n",
                   heed_model_name(r.m), heed_dataset_size(train),
                   heed_dataset_size(train) == 1 ? "" : "s", a->data,
                   valid ? ", validating on " : "", valid ? a->valid : "", r.tc.epochs,
                   r.tc.epochs == 1 ? "" : "s");
        rc = train_loop(&r);
    }
    if (r.log)
        fclose(r.log);
    if (r.step_log)
        fclose(r.step_log);
    free(r.hist);
    heed_session_free(r.s);
    heed_session_free(r.vs);
    heed_dataset_free(train);
    heed_dataset_free(valid);
    heed_weights_free(r.w);
    heed_vocab_free(v);
    heed_model_free(r.m);
    return rc;
}

/* Refuses a run whose outputs would overwrite one of its inputs or each
 * other: a checkpoint written over the training data or the model file
 * destroys it. */
static int check_outputs(const cli_opts *o, const train_args *a)
{
    const char *in[] = {a->model, a->data, a->valid, a->init, a->resume};
    const char *name[] = {"--out", "--log", "--step-log", "--plot"};
    const char *out[] = {a->out, a->log, a->step_log, a->plot};
    for (int i = 0; i < CLI_COUNT(out); i++) {
        /* a resumed run keeps writing its checkpoint (the last input) */
        int n_in = i == 0 ? CLI_COUNT(in) - 1 : CLI_COUNT(in);
        const char *same = cli_same_file(out[i], in, n_in);
        if (!same)
            same = cli_same_file(out[i], out, i);
        if (same)
            return cli_usage_error(o, "%s %s would overwrite %s", name[i], out[i], same);
        char why[4200];
        /* found now, not after the first epoch's work */
        /* --out goes through a temporary file beside it; the logs are opened */
        if (out[i] && !cli_writable(out[i], i == 0, why, sizeof why)) {
            fprintf(stderr, "heed train: error: %s %s: %s\n", name[i], out[i], why);
            return CLI_USER_ERROR;
        }
    }
    /* --keep-epochs writes OUT.epE.safetensors: an input of such a name
     * would be replaced at epoch E */
    for (int i = 0; a->keep_epochs && a->out && i < CLI_COUNT(in); i++) {
        long long e = in[i] ? kept_epoch_of(in[i]) : 0;
        char kept[4096];
        if (e > 0 && kept_name(a->out, e, kept, sizeof kept) && cli_same_file(kept, &in[i], 1))
            return cli_usage_error(o, "--keep-epochs would write %s over the input %s", kept,
                                   in[i]);
    }
    return CLI_OK;
}

int cmd_train(int argc, char **argv)
{
    cli_opts o;
    cli_opts_init(&o, argc, argv, "train");
    static const char *const known[] = {
        "--data", "--valid",   "--epochs",  "--out",  "--batch",       "--lr",
        "--lr-decay", "--clip", "--seed",    "--dim",  "--threads",     "--log",
        "--plot", "--quiet",   "--resume",  "--step-log", "--checkpoint-every",
        "--check-numerics", "--init", "--partial", "--keep-epochs", "--tokens", "--label-smoothing"};
    train_args a = {.seed = -1, .clip = -1, .smoothing = -1};
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
        else if (!strcmp(opt, "--resume"))
            a.resume = cli_value(&o);
        else if (!strcmp(opt, "--batch"))
            a.batch = cli_int(&o, 1, 1 << 20);
        else if (!strcmp(opt, "--lr"))
            a.lr = cli_double(&o, 1e-9, 100); /* as the YAML's lr */
        else if (!strcmp(opt, "--lr-decay"))
            a.lr_decay = cli_double(&o, 1e-6, 1);
        else if (!strcmp(opt, "--clip"))
            a.clip = cli_double(&o, 0, 1e6);
        else if (!strcmp(opt, "--label-smoothing"))
            a.smoothing = cli_double(&o, 0, 0.99);
        else if (!strcmp(opt, "--seed"))
            a.seed = cli_long(&o, 0, 4294967295L); /* train: seed's range */
        else if (!strcmp(opt, "--threads"))
            a.threads = cli_int(&o, 1, 1024);
        else if (!strcmp(opt, "--checkpoint-every"))
            a.checkpoint_every = cli_int(&o, 1, 1 << 30);
        else if (!strcmp(opt, "--log"))
            a.log = cli_value(&o);
        else if (!strcmp(opt, "--step-log"))
            a.step_log = cli_value(&o);
        else if (!strcmp(opt, "--plot"))
            a.plot = cli_value(&o);
        else if (!strcmp(opt, "--init"))
            a.init = cli_value(&o);
        else if (!strcmp(opt, "--partial"))
            a.partial = true;
        else if (!strcmp(opt, "--check-numerics"))
            a.check_numerics = true;
        else if (!strcmp(opt, "--quiet"))
            a.quiet = true;
        else if (!strcmp(opt, "--keep-epochs"))
            a.keep_epochs = true;
        else if (!strcmp(opt, "--tokens"))
            tokens_option(&o, &a);
        else
            return cli_unknown_option(&o, opt, known, CLI_COUNT(known));
    }
    if (o.failed)
        return CLI_USAGE;
    if (o.n_positional != 1 || !a.data)
        return cli_usage_error(&o, "give a model file and --data TRAIN.tsv");
    if (a.resume && a.init)
        return cli_usage_error(&o, "--resume continues a run and --init starts one: give one");
    if (a.resume &&
        (a.lr > 0 || a.lr_decay > 0 || a.clip >= 0 || a.batch > 0 || a.seed >= 0 || a.smoothing >= 0))
        return cli_usage_error(&o, "a resumed run keeps its checkpoint's settings: only --epochs "
                                   "may change with --resume");
    if (a.resume && o.n_dims > 0) /* the checkpoint's sizes would win without a word */
        return cli_usage_error(&o, "a resumed run keeps its checkpoint's dims: --dim does not go "
                                   "with --resume");
    if (a.partial && !a.init)
        return cli_usage_error(&o, "--partial goes with --init FILE");
    a.model = o.positional[0];
    a.dims = o.dims;
    a.n_dims = (size_t)o.n_dims;
    char out[1024];
    if (!a.out && a.resume) {
        a.out = a.resume; /* a resumed run keeps writing its checkpoint */
    } else if (!a.out) {
        /* MODEL.yaml -> MODEL.safetensors beside it */
        snprintf(out, sizeof out, "%s", a.model);
        char *dot = strrchr(out, '.');
        if (dot && !strchr(dot, '/'))
            *dot = '\0';
        strncat(out, ".safetensors", sizeof out - strlen(out) - 1);
        a.out = out;
    }
    int rc = check_outputs(&o, &a);
    if (rc == CLI_OK && (!cli_data_file("train", a.data) || !cli_data_file("train", a.valid)))
        rc = CLI_USER_ERROR;
    return rc != CLI_OK ? rc : run_training(&a);
}
