/*
 * heed gradcheck: every parameter and float input gradient of the model's loss
 * against central finite differences; prints each tensor and the worst
 * relative error per node, and fails when one exceeds the tolerance.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct node_worst {
    char node[128];
    double rel;
    int tensors;
} node_worst;

typedef struct gc_report {
    node_worst nodes[512];
    int n;
    bool verbose;
} gc_report;

static void on_entry(void *user, const heed_gradcheck_entry *e)
{
    gc_report *r = user;
    /* a point is skipped where no step gave two clean, agreeing slopes:
     * beside a kink, or where the loss's float32 rounding is as large as
     * the change a step makes; none checked is said plainly */
    char skipped[96] = "";
    if (e->skipped)
        snprintf(skipped, sizeof skipped, "  (%d skipped: a kink or rounding%s)", e->skipped,
                 e->checked ? "" : "; none checked, try --step or --dim");
    if (r->verbose)
        printf("  %-44s %4d checked  max rel %.2e  max abs %.2e%s\n", e->tensor, e->checked,
               e->max_rel_error, e->max_abs_error, skipped);
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->nodes[i].node, e->node)) {
            r->nodes[i].rel = fmax(r->nodes[i].rel, e->max_rel_error);
            r->nodes[i].tensors++;
            return;
        }
    if (r->n < 512) {
        snprintf(r->nodes[r->n].node, sizeof r->nodes[r->n].node, "%s", e->node);
        r->nodes[r->n].rel = e->max_rel_error;
        r->nodes[r->n].tensors = 1;
        r->n++;
    }
}

int cmd_gradcheck(int argc, char **argv)
{
    cli_opts o;
    cli_opts_init(&o, argc, argv, "gradcheck");
    static const char *const known[] = {"--dim", "--samples", "--tol", "--seed", "--quiet",
                                        "--step"};
    heed_gradcheck_options gopt = {0};
    /* whole graphs in float32: rounding accumulated through many layers and
     * curvature leave errors of a few percent; a wrong gradient is off by
     * its whole size */
    double tol = 5e-2;
    gc_report *r = calloc(1, sizeof *r);
    if (!r)
        return CLI_USER_ERROR;
    r->verbose = true;
    const char *opt;
    while ((opt = cli_next(&o)) && !o.failed) {
        if (cli_dim_option(&o, opt))
            continue;
        if (!strcmp(opt, "--samples"))
            gopt.samples = cli_int(&o, 1, 64);
        else if (!strcmp(opt, "--tol"))
            tol = cli_double(&o, 0, 1e3);
        else if (!strcmp(opt, "--seed"))
            gopt.seed = (uint64_t)cli_int(&o, 1, 1 << 30);
        else if (!strcmp(opt, "--quiet"))
            r->verbose = false;
        else if (!strcmp(opt, "--step"))
            gopt.step = cli_double(&o, 1e-9, 1);
        else {
            free(r);
            return cli_unknown_option(&o, opt, known, CLI_COUNT(known));
        }
    }
    if (o.failed || o.n_positional != 1) {
        free(r);
        return o.failed ? CLI_USAGE : cli_usage_error(&o, "give one model file");
    }
    heed_model *m;
    if (cli_load_model(o.positional[0], 0, &m) != HEED_OK) {
        free(r);
        return CLI_USER_ERROR;
    }
    gopt.dims = o.dims;
    gopt.n_dims = (size_t)o.n_dims;
    double worst = 0;
    heed_diag d;
    if (r->verbose)
        printf("gradient check of '%s' (central differences, float32):\n", heed_model_name(m));
    heed_status st = heed_gradcheck(m, &gopt, on_entry, r, &worst, &d);
    heed_model_free(m);
    if (st != HEED_OK) {
        free(r);
        return cli_report(&d);
    }
    printf("\n%-32s %8s %14s\n", "node", "tensors", "worst rel err");
    for (int i = 0; i < r->n; i++)
        printf("%-32s %8d %14.2e%s\n", r->nodes[i].node, r->nodes[i].tensors, r->nodes[i].rel,
               r->nodes[i].rel > tol ? "  FAIL" : "");
    printf("\nworst relative error %.2e (tolerance %.0e): %s\n", worst, tol,
           worst <= tol ? "pass" : "FAIL");
    free(r);
    return worst <= tol ? CLI_OK : CLI_USER_ERROR;
}
