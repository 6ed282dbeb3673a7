/*
 * heed run: runs the graph on tensors from a safetensors file and writes every
 * value the graph computed (each node's outputs) to another.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool is_input(const heed_model *m, const char *name)
{
    for (size_t i = 0; i < heed_model_input_count(m); i++) {
        heed_tensor t;
        if (heed_model_input(m, i, &t) == HEED_OK && !strcmp(t.name, name))
            return true;
    }
    return false;
}

static bool is_value(const heed_model *m, const char *name)
{
    for (size_t i = 0; i < heed_model_value_count(m); i++)
        if (!strcmp(heed_model_value_name(m, i), name))
            return true;
    return false;
}

static int run_graph(heed_model *m, heed_weights *w, const char *in_path, const char *out_path)
{
    heed_diag d;
    heed_session *s;
    if (heed_session_new(w, HEED_MODE_INFER, &s, &d) != HEED_OK)
        return cli_report(&d);
    heed_session_keep_all(s, 1);
    heed_tensor_file *tf;
    if (heed_tensor_file_read(in_path, &tf, &d) != HEED_OK) {
        heed_session_free(s);
        return cli_report(&d);
    }
    int rc = CLI_OK;
    for (size_t i = 0; i < heed_tensor_file_count(tf) && rc == CLI_OK; i++) {
        heed_tensor t;
        heed_tensor_file_get(tf, i, &t);
        /* values computed by the graph (a previous run's output) are not inputs */
        if (!is_input(m, t.name) && is_value(m, t.name))
            continue;
        /* the message names the tensor; say which file held it */
        if (heed_session_set_input(s, t.name, &t, &d) != HEED_OK)
            rc = (fprintf(stderr, "%s: error: tensor '%s': %s\n", in_path, t.name, d.message),
                  CLI_USER_ERROR);
    }
    if (rc == CLI_OK && heed_session_forward(s, &d) != HEED_OK) {
        rc = cli_report(&d);
        /* an input the file did not hold, or whose shape or ids the model refuses */
        if (d.status == HEED_ERR_STATE || d.status == HEED_ERR_SHAPE || d.status == HEED_ERR_DATA)
            fprintf(stderr, "note: the inputs come from %s\n", in_path);
    }
    size_t n = heed_model_value_count(m), k = 0;
    heed_tensor *outs = rc == CLI_OK ? calloc(n + 1, sizeof *outs) : NULL;
    if (rc == CLI_OK && !outs)
        rc = CLI_USER_ERROR;
    for (size_t i = 0; rc == CLI_OK && i < n; i++) {
        /* values a node does not produce with its attributes are skipped */
        if (heed_session_get(s, heed_model_value_name(m, i), &outs[k], &d) == HEED_OK)
            k++;
    }
    if (rc == CLI_OK && heed_tensor_file_write(out_path, outs, k, &d) != HEED_OK)
        rc = cli_report(&d);
    if (rc == CLI_OK)
        printf("wrote %zu tensors to %s\n", k, out_path);
    free(outs);
    heed_tensor_file_free(tf);
    heed_session_free(s);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    cli_opts o;
    cli_opts_init(&o, argc, argv, "run");
    static const char *const known[] = {"--inputs", "--out", "--weights", "--seed", "--dim",
                                        "--threads"};
    const char *in = NULL, *out = NULL, *weights = NULL, *opt;
    long seed = 1;
    int threads = 0;
    while ((opt = cli_next(&o)) && !o.failed) {
        if (cli_dim_option(&o, opt))
            continue;
        if (!strcmp(opt, "--inputs"))
            in = cli_value(&o);
        else if (!strcmp(opt, "--out"))
            out = cli_value(&o);
        else if (!strcmp(opt, "--weights"))
            weights = cli_value(&o);
        else if (!strcmp(opt, "--seed"))
            seed = cli_long(&o, 0, 4294967295L); /* train: seed's range */
        else if (!strcmp(opt, "--threads"))
            threads = cli_int(&o, 1, 1024);
        else
            return cli_unknown_option(&o, opt, known, CLI_COUNT(known));
    }
    if (o.failed)
        return CLI_USAGE;
    if (o.n_positional != 1 || !in || !out)
        return cli_usage_error(&o, "give a model file, --inputs and --out");
    /* an output over an input would lose the input: refused as other
     * commands refuse theirs */
    const char *kept[] = {o.positional[0], weights, in};
    const char *same = cli_same_file(out, kept, CLI_COUNT(kept));
    if (same)
        return cli_usage_error(&o, "--out %s would overwrite %s", out, same);
    if (weights && o.n_dims > 0)
        return cli_usage_error(&o, "--dim sizes fresh weights; with --weights the sizes are "
                                   "those %s was saved with",
                               weights);
    heed_model *m;
    int loaded = cli_load_model_dims("run", o.positional[0], threads, o.dims, o.n_dims, &m);
    if (loaded != CLI_OK)
        return loaded;
    heed_weights *w;
    heed_diag d;
    heed_status st = weights ? heed_weights_load(m, weights, HEED_LOAD_WEIGHTS_ONLY, &w, &d)
                             : heed_weights_new(m, NULL, o.dims, (size_t)o.n_dims,
                                                (uint64_t)seed, &w, &d);
    int rc = st == HEED_OK ? run_graph(m, w, in, out) : cli_report(&d);
    if (st == HEED_OK)
        heed_weights_free(w);
    heed_model_free(m);
    return rc;
}
