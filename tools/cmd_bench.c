/*
 * heed bench: times a model on random inputs at given dims: compiling (YAML to
 * runnable plan), the forward pass, one training step (forward, loss,
 * backward, optimizer) and, for seq2seq models, greedy decoding; medians over
 * repeated runs after warm-up. Prints a per-node profile, the achieved
 * GFLOP/s and the sgemm GFLOP/s measured on this machine, so efficiency is a
 * ratio; --json for machines.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

typedef struct bench_args {
    const char *model;
    heed_dim *dims;
    size_t n_dims;
    int threads, repeat, warmup;
    int decode_batch, decode_steps; /* 0: no decoding measurement */
    bool json, train, forward;
} bench_args;

typedef struct bench_result {
    double compile_ms, forward_ms, train_ms, decode_ms;
    double flops_fwd, flops_bwd;
    heed_blas_info blas;
    heed_memory_info mem_train, mem_infer;
    long rss_kb;
} bench_result;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* YAML file to a plan ready to run, as a tool or application does it. */
static heed_status time_compile(const bench_args *a, heed_mode mode, bench_result *r,
                                heed_diag *d)
{
    double t[64];
    int n = a->repeat < 64 ? a->repeat : 64;
    for (int i = -a->warmup; i < n; i++) {
        double t0 = now();
        heed_model *m;
        heed_plan *p;
        heed_status st = heed_model_load_file(a->model, NULL, &m, d);
        if (st == HEED_OK)
            st = heed_plan_new(m, a->dims, a->n_dims, mode, &p, d);
        if (st != HEED_OK) {
            heed_model_free(m);
            return st;
        }
        if (i >= 0)
            t[i] = now() - t0;
        if (i == n - 1)
            heed_plan_memory(p, mode == HEED_MODE_TRAIN ? &r->mem_train : &r->mem_infer);
        heed_plan_free(p);
        heed_model_free(m);
    }
    r->compile_ms = 1e3 * median(t, n);
    return HEED_OK;
}

typedef heed_status (*run_fn)(heed_session *s, heed_diag *d);

static heed_status run_train(heed_session *s, heed_diag *d)
{
    return heed_session_train_step(s, NULL, d);
}

/* Median milliseconds of `fn` on a session with random inputs. */
static heed_status time_runs(const bench_args *a, heed_session *s, run_fn fn, double *ms,
                             heed_diag *d)
{
    heed_status st = heed_session_random_inputs(s, a->dims, a->n_dims, 7, 0, d);
    double *t = calloc((size_t)a->repeat, sizeof *t);
    if (!t)
        return HEED_ERR_NOMEM;
    for (int i = -a->warmup; i < a->repeat && st == HEED_OK; i++) {
        double t0 = now();
        st = fn(s, d);
        if (i >= 0)
            t[i] = now() - t0;
    }
    if (st == HEED_OK)
        *ms = 1e3 * median(t, a->repeat);
    free(t);
    return st;
}

/* The sources' length: the --dim bound to the source input's second axis
 * (S of src: [B, S]), else the run-time default 16. */
static int64_t source_length(const bench_args *a, const heed_model *m)
{
    const char *target = heed_model_target_field(m), *dim = NULL;
    for (size_t i = 0; i < heed_model_input_count(m); i++) {
        heed_tensor t;
        heed_model_input(m, i, &t);
        if (!dim && heed_model_field_column(m, t.name) >= 0 && (!target || strcmp(t.name, target)))
            dim = heed_model_input_dim(m, i, 1);
    }
    int64_t S = 16;
    for (size_t i = 0; dim && i < a->n_dims; i++)
        if (!strcmp(a->dims[i].name, dim))
            S = a->dims[i].value;
    return S;
}

/* Greedy decoding of a batch of random sources, exactly decode_steps steps
 * (eos is not allowed earlier). Needs weights with a vocabulary: one is made
 * from the vocabulary dims' sizes. */
static heed_status time_decode(const bench_args *a, const heed_model *m, heed_session *s,
                               double *ms, heed_diag *d)
{
    int64_t S = source_length(a, m);
    size_t n = (size_t)a->decode_batch;
    char **texts = calloc(n, sizeof *texts);
    double *t = calloc((size_t)a->repeat, sizeof *t);
    heed_status st = texts && t ? HEED_OK : HEED_ERR_NOMEM;
    for (size_t i = 0; i < n && st == HEED_OK; i++) {
        texts[i] = calloc((size_t)S + 1, 1);
        if (!texts[i])
            st = HEED_ERR_NOMEM;
        for (int64_t j = 0; texts[i] && j < S; j++)
            texts[i][j] = (char)(33 + (i * 7 + (size_t)j * 3) % 20);
    }
    heed_decode_options o = {.beam = 1, .max_length = a->decode_steps,
                             .min_length = a->decode_steps};
    for (int i = -a->warmup; i < a->repeat && st == HEED_OK; i++) {
        heed_decode_result *r;
        double t0 = now();
        st = heed_decode(s, (const char *const *)texts, n, &o, &r, d);
        if (i >= 0)
            t[i] = now() - t0;
        heed_decode_result_free(r);
    }
    if (st == HEED_OK)
        *ms = 1e3 * median(t, a->repeat);
    for (size_t i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
    free(t);
    return st;
}

static void flops_of(const heed_session *s, bench_result *r)
{
    const heed_plan *p = heed_session_plan(s);
    r->flops_fwd = r->flops_bwd = 0;
    for (size_t i = 0; p && i < heed_plan_node_count(p); i++) {
        heed_node_info info;
        heed_plan_node_info(p, i, &info);
        r->flops_fwd += info.flops;
        r->flops_bwd += info.flops_backward;
    }
}

static void print_profile(const heed_session *s, int runs, bool json, bool train)
{
    size_t n = heed_session_profile_count(s);
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        heed_node_profile pr;
        heed_session_profile_get(s, i, &pr);
        total += pr.forward_seconds + pr.backward_seconds;
    }
    if (!json)
        printf("\nper-node profile of the %s (ms per %s):\n%-30s %-14s %9s %9s %7s\n",
               train ? "training step" : "forward pass", train ? "step" : "pass", "node", "op",
               "forward", "backward", "share");
    for (size_t i = 0; i < n; i++) {
        heed_node_profile pr;
        heed_session_profile_get(s, i, &pr);
        double f = 1e3 * pr.forward_seconds / runs, b = 1e3 * pr.backward_seconds / runs;
        double share = total > 0 ? 100.0 * (pr.forward_seconds + pr.backward_seconds) / total : 0;
        if (json)
            printf("%s{\"node\":\"%s\",\"op\":\"%s\",\"forward_ms\":%.4f,\"backward_ms\":%.4f}",
                   i ? "," : "", pr.name, pr.op, f, b);
        else
            printf("%-30s %-14s %9.3f %9.3f %6.1f%%\n", pr.name, pr.op, f, b, share);
    }
}

/* The size a --dim gives a data field's vocabulary, or `dflt`. */
static int64_t vocab_size(const bench_args *a, const heed_model *m, const char *field,
                          int64_t dflt)
{
    const char *dim = heed_model_field_vocab(m, field);
    for (size_t i = 0; dim && i < a->n_dims; i++)
        if (!strcmp(a->dims[i].name, dim))
            return a->dims[i].value;
    return dflt;
}

/* Decoding needs vocabularies: made of single characters, as many as the
 * vocabulary dims ask for, so random text maps to real ids. */
static heed_status decode_bench(const bench_args *a, const heed_model *m, bench_result *r,
                                heed_diag *d)
{
    char path[] = "/tmp/heed_bench_vocab_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return HEED_ERR_IO;
    FILE *f = fdopen(fd, "w");
    const char *target = heed_model_target_field(m);
    int tcol = heed_model_field_column(m, target);
    int64_t vt = vocab_size(a, m, target, 64) - 4, vs = 60;
    for (size_t i = 0; i < heed_model_input_count(m); i++) {
        heed_tensor t;
        heed_model_input(m, i, &t);
        if (heed_model_field_column(m, t.name) >= 0 && strcmp(t.name, target))
            vs = vocab_size(a, m, t.name, 64) - 4;
    }
    /* row c holds the c-th character in the source column and, while the
     * target's vocabulary wants more, in the target column */
    for (int64_t c = 0; f && c < (vs > vt ? vs : vt) && c < 90; c++) {
        char sc = (char)(33 + (c < vs ? c : 0)), tc = (char)(33 + (c < vt ? c : 0));
        fprintf(f, tcol == 0 ? "%c\t%c\n" : "%c\t%c\n", tcol == 0 ? tc : sc, tcol == 0 ? sc : tc);
    }
    if (f)
        fclose(f);
    heed_vocab *v = NULL;
    heed_weights *w = NULL;
    heed_session *s = NULL;
    heed_status st = heed_vocab_build(m, path, &v, d);
    if (st == HEED_OK)
        st = heed_weights_new(m, v, a->dims, a->n_dims, 1, &w, d);
    if (st == HEED_OK)
        st = heed_session_new(w, HEED_MODE_INFER, &s, d);
    if (st == HEED_OK)
        st = time_decode(a, m, s, &r->decode_ms, d);
    unlink(path);
    heed_session_free(s);
    heed_weights_free(w);
    heed_vocab_free(v);
    return st;
}

/* The per-node profile of the training step, or of the forward pass when
 * only that is timed (--no-train, or a model without a loss). */
static heed_status profile_runs(const bench_args *a, heed_session *s, bool train, heed_diag *d)
{
    int runs = a->repeat < 10 ? a->repeat : 10;
    heed_session_profile(s, 1);
    heed_status st = HEED_OK;
    for (int i = 0; i < runs && st == HEED_OK; i++)
        st = train ? heed_session_train_step(s, NULL, d) : heed_session_forward(s, d);
    if (st == HEED_OK)
        print_profile(s, runs, a->json, train);
    heed_session_profile(s, 0);
    return st;
}

static void print_text(const bench_args *a, const bench_result *r, const heed_model *m)
{
    printf("heed bench %s (model '%s'), %d threads\n", a->model, heed_model_name(m),
           r->blas.threads);
    printf("BLAS: %s, %s threading, core %s; large products: %s; sgemm 512^3: %.1f GFLOP/s\n",
           r->blas.config, r->blas.threading, r->blas.core, r->blas.products,
           r->blas.sgemm_gflops);
    printf("%-22s %10.3f ms\n", "compile (YAML->plan)", r->compile_ms);
    if (a->forward) {
        double g = r->flops_fwd / (r->forward_ms * 1e-3) / 1e9;
        printf("%-22s %10.3f ms  %7.1f GFLOP/s  %5.1f%% of sgemm\n", "forward", r->forward_ms, g,
               100.0 * g / r->blas.sgemm_gflops);
    }
    if (a->decode_batch > 0)
        printf("%-22s %10.3f ms  (greedy, batch %d, %d steps, sources of %lld)\n", "decoding",
               r->decode_ms, a->decode_batch, a->decode_steps,
               (long long)source_length(a, m));
    if (a->train) {
        double g = (r->flops_fwd + r->flops_bwd) / (r->train_ms * 1e-3) / 1e9;
        printf("%-22s %10.3f ms  %7.1f GFLOP/s  %5.1f%% of sgemm\n", "training step", r->train_ms,
               g, 100.0 * g / r->blas.sgemm_gflops);
    }
    char x[32], y[32], z[32];
    const heed_memory_info *mi = a->train ? &r->mem_train : &r->mem_infer;
    printf("memory plan (%s): arena %s, naive %s, lower bound %s; peak RSS %.1f MiB\n",
           a->train ? "training" : "inference", cli_bytes(mi->arena, x, sizeof x),
           cli_bytes(mi->naive, y, sizeof y), cli_bytes(mi->lower_bound, z, sizeof z),
           (double)r->rss_kb / 1024.0);
}

static void json_ms(const char *key, bool taken, double ms)
{
    if (taken)
        printf("\"%s\":%.4f,", key, ms);
    else
        printf("\"%s\":null,", key);
}

static void print_json_head(const bench_args *a, const bench_result *r, const heed_model *m)
{
    printf("{\"model\":");
    cli_json_string(stdout, a->model);
    printf(",\"name\":");
    cli_json_string(stdout, heed_model_name(m));
    printf(",\"threads\":%d,\"dims\":{", r->blas.threads);
    for (size_t i = 0; i < a->n_dims; i++)
        printf("%s\"%s\":%lld", i ? "," : "", a->dims[i].name, (long long)a->dims[i].value);
    printf("},\"blas\":{\"config\":\"%s\",\"core\":\"%s\",\"threading\":\"%s\","
           "\"products\":\"%s\",\"sgemm_gflops\":%.2f},",
           r->blas.config, r->blas.core, r->blas.threading, r->blas.products,
           r->blas.sgemm_gflops);
    /* a timing that was not taken is null, not a number a script could sum */
    printf("\"compile_ms\":%.4f,", r->compile_ms);
    json_ms("forward_ms", a->forward, r->forward_ms);
    json_ms("train_ms", a->train, r->train_ms);
    json_ms("decode_ms", a->decode_batch > 0, r->decode_ms);
    printf("\"flops_forward\":%.0f,\"flops_backward\":%.0f,\"peak_rss_kb\":%ld,",
           r->flops_fwd, r->flops_bwd, r->rss_kb);
    const heed_memory_info *mi = a->train ? &r->mem_train : &r->mem_infer;
    printf("\"memory\":{\"arena\":%zu,\"naive\":%zu,\"lower_bound\":%zu},", mi->arena,
           mi->naive, mi->lower_bound);
    printf("\"profile_of\":\"%s\",\"profile\":[",
           a->train ? "train" : a->forward ? "forward" : "none");
}

static int run_bench(bench_args *a)
{
    heed_model *m;
    int loaded =
        cli_load_model_dims("bench", a->model, a->threads, a->dims, (int)a->n_dims, &m);
    if (loaded != CLI_OK)
        return loaded;
    if (a->decode_batch > 0 && heed_model_task(m) != HEED_TASK_SEQ2SEQ) {
        /* a usage error, as --beam and --attention are for infer and eval */
        fprintf(stderr, "heed bench: error: --decode is for seq2seq models; '%s' is not one\n",
                heed_model_name(m));
        heed_model_free(m);
        return CLI_USAGE;
    }
    heed_diag d;
    bench_result r = {0};
    heed_weights *w = NULL;
    heed_session *inf = NULL, *tr = NULL;
    heed_train_config tc;
    heed_model_train_config(m, &tc);
    heed_blas_info_get(a->threads, &r.blas);
    heed_status st = heed_weights_new(m, NULL, a->dims, a->n_dims, 1, &w, &d);
    if (st == HEED_OK && a->train) {
        heed_plan *probe;
        /* models without a loss are timed forward only */
        if (heed_plan_new(m, a->dims, a->n_dims, HEED_MODE_TRAIN, &probe, &d) != HEED_OK)
            a->train = false;
        else
            heed_plan_free(probe);
        heed_diag_clear(&d);
    }
    if (st == HEED_OK)
        st = time_compile(a, a->train ? HEED_MODE_TRAIN : HEED_MODE_INFER, &r, &d);
    if (st == HEED_OK && a->forward && (st = heed_session_new(w, HEED_MODE_INFER, &inf, &d)) == HEED_OK)
        st = time_runs(a, inf, heed_session_forward, &r.forward_ms, &d);
    if (st == HEED_OK && inf)
        flops_of(inf, &r);
    if (st == HEED_OK && a->decode_batch > 0)
        st = decode_bench(a, m, &r, &d);
    if (st == HEED_OK && a->train && (st = heed_session_new(w, HEED_MODE_TRAIN, &tr, &d)) == HEED_OK)
        st = time_runs(a, tr, run_train, &r.train_ms, &d);
    if (st == HEED_OK && tr)
        flops_of(tr, &r);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r.rss_kb = ru.ru_maxrss;
    int rc = CLI_OK;
    if (st != HEED_OK) {
        rc = cli_report(&d);
    } else {
        if (a->json)
            print_json_head(a, &r, m);
        else
            print_text(a, &r, m);
        heed_session *prof = tr ? tr : inf;
        if (prof && (st = profile_runs(a, prof, prof == tr, &d)) != HEED_OK)
            rc = cli_report(&d);
        if (a->json)
            printf("]}\n");
    }
    heed_session_free(inf);
    heed_session_free(tr);
    heed_weights_free(w);
    heed_model_free(m);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    cli_opts o;
    cli_opts_init(&o, argc, argv, "bench");
    static const char *const known[] = {"--dim",      "--threads",    "--repeat", "--warmup",
                                        "--no-train", "--no-forward", "--decode", "--json"};
    bench_args a = {.threads = 0, .repeat = 20, .warmup = 3, .train = true, .forward = true};
    const char *opt;
    while ((opt = cli_next(&o)) && !o.failed) {
        if (cli_dim_option(&o, opt))
            continue;
        if (!strcmp(opt, "--threads"))
            a.threads = cli_int(&o, 1, 1024);
        else if (!strcmp(opt, "--repeat"))
            a.repeat = cli_int(&o, 1, 100000);
        else if (!strcmp(opt, "--warmup"))
            a.warmup = cli_int(&o, 0, 1000);
        else if (!strcmp(opt, "--no-train"))
            a.train = false;
        else if (!strcmp(opt, "--no-forward"))
            a.forward = false;
        else if (!strcmp(opt, "--json"))
            a.json = true;
        else if (!strcmp(opt, "--decode")) {
            const char *v = cli_value(&o);
            /* digits, a colon, digits; the steps' bound is the language's
             * for decode: max_length */
            char *colon = NULL, *end = NULL;
            long batch = v && isdigit((unsigned char)v[0]) ? strtol(v, &colon, 10) : 0;
            long steps = colon && *colon == ':' && isdigit((unsigned char)colon[1])
                             ? strtol(colon + 1, &end, 10)
                             : 0;
            a.decode_batch = (int)(batch > 0 && batch <= (1 << 20) ? batch : 0);
            a.decode_steps = (int)(steps > 0 && steps <= 4096 ? steps : 0);
            if (v && (!end || *end || !a.decode_batch || !a.decode_steps))
                return cli_usage_error(&o, "--decode takes BATCH:STEPS with BATCH from 1 to "
                                           "1048576 and STEPS from 1 to 4096, e.g. 128:11; "
                                           "not '%s'",
                                       v);
        } else
            return cli_unknown_option(&o, opt, known, CLI_COUNT(known));
    }
    if (o.failed)
        return CLI_USAGE;
    if (o.n_positional != 1)
        return cli_usage_error(&o, "give one model file");
    a.model = o.positional[0];
    a.dims = o.dims;
    a.n_dims = (size_t)o.n_dims;
    return run_bench(&a);
}
