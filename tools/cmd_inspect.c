/*
 * heed inspect: a table of nodes (op, output shape, parameters, FLOPs), the
 * memory plan's three numbers, Graphviz with --dot, JSON with --json.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static int write_file(void *user, const char *data, size_t n)
{
    return fwrite(data, 1, n, user) == n ? 0 : -1;
}

static const char *flops_text(double f, char *buf, size_t cap)
{
    if (f >= 1e9)
        snprintf(buf, cap, "%.2fG", f / 1e9);
    else if (f >= 1e6)
        snprintf(buf, cap, "%.2fM", f / 1e6);
    else if (f >= 1e3)
        snprintf(buf, cap, "%.1fK", f / 1e3);
    else
        snprintf(buf, cap, "%.0f", f);
    return buf;
}

static void print_dims(const heed_model *m, const heed_plan *p, FILE *f)
{
    fprintf(f, "dims:");
    for (size_t i = 0; i < heed_model_dim_count(m); i++) {
        const char *name = heed_model_dim_name(m, i);
        fprintf(f, " %s=%lld", name, (long long)heed_plan_dim(p, name));
    }
    fprintf(f, "\n");
}

static void print_table(const heed_model *m, const heed_plan *p, bool training)
{
    size_t n = heed_plan_node_count(p);
    int64_t total_params = 0;
    double total_f = 0, total_b = 0;
    char a[32], b[32];
    printf("model %s (%s)\n", heed_model_name(m), training ? "training plan" : "inference plan");
    printf("%-28s %-18s %-22s %12s %10s %10s\n", "node", "op", "output", "params", "fwd FLOPs",
           "bwd FLOPs");
    for (size_t i = 0; i < n; i++) {
        heed_node_info info;
        heed_plan_node_info(p, i, &info);
        printf("%-28s %-18s %-22s %12" PRId64 " %10s %10s\n", info.name, info.op, info.shape_text,
               info.params, flops_text(info.flops, a, sizeof a),
               flops_text(info.flops_backward, b, sizeof b));
        total_params += info.params;
        total_f += info.flops;
        total_b += info.flops_backward;
    }
    printf("%-28s %-18s %-22s %12" PRId64 " %10s %10s\n", "total", "", "", total_params,
           flops_text(total_f, a, sizeof a), flops_text(total_b, b, sizeof b));
    heed_memory_info mem;
    heed_plan_memory(p, &mem);
    char x[32], y[32], z[32], w[32];
    printf("\nmemory plan (%zu tensors):\n", mem.tensors);
    printf("  arena        %12s  (%zu bytes)\n", cli_bytes(mem.arena, x, sizeof x), mem.arena);
    printf("  naive        %12s  (one buffer per tensor; the arena is %.1f%% of it)\n",
           cli_bytes(mem.naive, y, sizeof y), mem.naive ? 100.0 * mem.arena / mem.naive : 0.0);
    printf("  lower bound  %12s  (largest total live at once; arena/bound = %.3f)\n",
           cli_bytes(mem.lower_bound, z, sizeof z),
           mem.lower_bound ? (double)mem.arena / mem.lower_bound : 1.0);
    printf("  parameters   %12s  (%s)\n", cli_bytes(mem.params, w, sizeof w),
           training ? "weights, gradients and two optimizer moments" : "weights");
}

static void print_json(const heed_model *m, const heed_plan *p, bool training)
{
    size_t n = heed_plan_node_count(p);
    printf("{\"model\":");
    cli_json_string(stdout, heed_model_name(m));
    printf(",\"mode\":\"%s\",\"nodes\":[", training ? "train" : "infer");
    for (size_t i = 0; i < n; i++) {
        heed_node_info info;
        heed_plan_node_info(p, i, &info);
        printf("%s{\"name\":", i ? "," : "");
        cli_json_string(stdout, info.name);
        printf(",\"op\":\"%s\",\"line\":%d,\"shape\":[", info.op, info.line);
        for (int d = 0; d < info.rank; d++)
            printf("%s%" PRId64, d ? "," : "", info.shape[d]);
        printf("],\"shape_text\":");
        cli_json_string(stdout, info.shape_text);
        printf(",\"params\":%" PRId64 ",\"flops\":%.0f,\"flops_backward\":%.0f}", info.params,
               info.flops, info.flops_backward);
    }
    heed_memory_info mem;
    heed_plan_memory(p, &mem);
    printf("],\"memory\":{\"arena\":%zu,\"naive\":%zu,\"lower_bound\":%zu,\"params\":%zu,"
           "\"tensors\":%zu}}\n",
           mem.arena, mem.naive, mem.lower_bound, mem.params, mem.tensors);
}

int cmd_inspect(int argc, char **argv)
{
    cli_opts o;
    cli_opts_init(&o, argc, argv, "inspect");
    static const char *const known[] = {"--dim", "--infer", "--json", "--dot"};
    bool json = false, infer = false;
    const char *dot = NULL, *opt;
    while ((opt = cli_next(&o)) && !o.failed) {
        if (cli_dim_option(&o, opt))
            continue;
        if (!strcmp(opt, "--json"))
            json = true;
        else if (!strcmp(opt, "--infer"))
            infer = true;
        else if (!strcmp(opt, "--dot"))
            dot = cli_value(&o);
        else
            return cli_unknown_option(&o, opt, known, CLI_COUNT(known));
    }
    if (o.failed)
        return CLI_USAGE;
    if (o.n_positional != 1)
        return cli_usage_error(&o, "give one model file");
    if (dot && json && !strcmp(dot, "-"))
        return cli_usage_error(&o, "--json and --dot - would both write to stdout");
    const char *same = dot ? cli_same_file(dot, (const char *const *)o.positional, 1) : NULL;
    if (same)
        return cli_usage_error(&o, "--dot %s would overwrite %s", dot, same);
    char why[4200];
    /* found before anything is printed, not after */
    if (dot && strcmp(dot, "-") && !cli_writable(dot, false, why, sizeof why)) {
        fprintf(stderr, "heed inspect: error: --dot %s: %s\n", dot, why);
        return CLI_USER_ERROR;
    }
    heed_model *m;
    int loaded = cli_load_model_dims("inspect", o.positional[0], 0, o.dims, o.n_dims, &m);
    if (loaded != CLI_OK)
        return loaded;
    heed_plan *p;
    heed_diag d;
    heed_train_config tc;
    heed_model_train_config(m, &tc);
    /* a model with a loss is inspected as it trains, unless --infer */
    heed_status st = heed_plan_new(m, o.dims, (size_t)o.n_dims, HEED_MODE_TRAIN, &p, &d);
    bool training = st == HEED_OK && !infer;
    if (st != HEED_OK || infer) {
        if (st == HEED_OK)
            heed_plan_free(p);
        st = heed_plan_new(m, o.dims, (size_t)o.n_dims, HEED_MODE_INFER, &p, &d);
    }
    if (st != HEED_OK) {
        heed_model_free(m);
        return cli_report(&d);
    }
    /* --dot - is the graph alone on stdout, for a pipe into dot */
    bool dot_stdout = dot && !strcmp(dot, "-");
    if (json) {
        print_json(m, p, training);
    } else if (!dot_stdout) {
        print_dims(m, p, stdout);
        print_table(m, p, training);
    }
    int rc = CLI_OK;
    if (dot) {
        FILE *f = strcmp(dot, "-") ? fopen(dot, "w") : stdout;
        bool ok = f && heed_plan_write_dot(p, write_file, f) == HEED_OK;
        if (f && f != stdout)
            ok = cli_close_written(f) && ok;
        if (!ok) {
            fprintf(stderr, "heed inspect: error: cannot write %s\n", dot);
            rc = CLI_USER_ERROR;
        }
    }
    heed_plan_free(p);
    heed_model_free(m);
    return rc;
}
