/*
 * heed average: the mean of several weights files of one model (checkpoint
 * averaging), written as one weights file. `heed train --keep-epochs` leaves
 * the per-epoch files it reads.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Loads `path` as weights only (a checkpoint's optimizer state is not averaged). */
static heed_status load(const heed_model *m, const char *path, heed_weights **w, heed_diag *d)
{
    return heed_weights_load(m, path, HEED_LOAD_WEIGHTS_ONLY, w, d);
}

/* Running mean: the i-th file (from 1) is blended in with weight 1/i. */
static int average(const heed_model *m, char **paths, int n, const char *out)
{
    heed_diag d;
    heed_weights *acc = NULL;
    if (load(m, paths[0], &acc, &d) != HEED_OK)
        return cli_report(&d);
    int rc = CLI_OK;
    for (int i = 1; i < n && rc == CLI_OK; i++) {
        heed_weights *w = NULL;
        if (load(m, paths[i], &w, &d) != HEED_OK)
            rc = cli_report(&d);
        else if (heed_weights_blend(acc, w, 1.0 / (i + 1), &d) != HEED_OK) {
            fprintf(stderr, "heed average: error: %s does not match %s: %s\n", paths[i],
                    paths[0], d.message);
            rc = CLI_USER_ERROR;
        }
        heed_weights_free(w);
    }
    if (rc == CLI_OK && heed_weights_save(acc, out, &d) != HEED_OK)
        rc = cli_report(&d);
    if (rc == CLI_OK)
        printf("%s: the mean of %d weights file%s\n", out, n, n == 1 ? "" : "s");
    heed_weights_free(acc);
    return rc;
}

int cmd_average(int argc, char **argv)
{
    cli_opts o;
    cli_opts_init(&o, argc, argv, "average");
    static const char *const known[] = {"--out"};
    const char *out = NULL, *opt;
    while ((opt = cli_next(&o)) && !o.failed) {
        if (!strcmp(opt, "--out"))
            out = cli_value(&o);
        else
            return cli_unknown_option(&o, opt, known, CLI_COUNT(known));
    }
    if (o.failed)
        return CLI_USAGE;
    if (!out)
        return cli_usage_error(&o, "--out is required");
    if (o.n_positional < 2)
        return cli_usage_error(&o, "give the model file and at least one weights file");
    const char *same = cli_same_file(out, (const char *const *)o.positional, o.n_positional);
    if (same)
        return cli_usage_error(&o, "--out %s is the input %s", out, same);
    heed_model *m;
    if (cli_load_model(o.positional[0], 0, &m) != HEED_OK)
        return CLI_USER_ERROR;
    int rc = average(m, o.positional + 1, o.n_positional - 1, out);
    heed_model_free(m);
    return rc;
}
