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
    char *node;
    double rel;
    int tensors;
} node_worst;

typedef struct gc_report {
    node_worst *nodes; /* one row per node, in the order first reported */
    int n, cap;
    long checked;      /* points compared over all tensors */
    int unchecked;     /* tensors of which no point could be compared */
    bool verbose;
    bool nomem;
    const char *model;  /* its name, for the header printed with the first tensor */
} gc_report;

static node_worst *node_row(gc_report *r, const char *node)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->nodes[i].node, node))
            return &r->nodes[i];
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        node_worst *grown = realloc(r->nodes, sizeof *grown * (size_t)cap);
        if (!grown)
            return NULL;
        r->nodes = grown;
        r->cap = cap;
    }
    char *name = strdup(node);
    if (!name)
        return NULL;
    r->nodes[r->n] = (node_worst){name, 0.0, 0};
    return &r->nodes[r->n++];
}

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
    if (r->verbose && r->n == 0 && !r->nomem)
        printf("gradient check of '%s' (central differences, float32):\n", r->model);
    if (r->verbose)
        printf("  %-44s %4d checked  max rel %.2e  max abs %.2e%s\n", e->tensor, e->checked,
               e->max_rel_error, e->max_abs_error, skipped);
    r->checked += e->checked;
    r->unchecked += e->checked == 0;
    node_worst *row = node_row(r, e->node);
    if (!row) {
        r->nomem = true;
        return;
    }
    row->rel = fmax(row->rel, e->max_rel_error);
    row->tensors++;
}

static void report_free(gc_report *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->nodes[i].node);
    free(r->nodes);
}

/* The node table (with --quiet only the failing rows) and the verdict: a
 * check that compared no point at all fails, since it showed nothing. */
static int report_print(const gc_report *r, double worst, double tol)
{
    if (r->verbose)
        printf("\n%-32s %8s %14s\n", "node", "tensors", "worst rel err");
    for (int i = 0; i < r->n; i++)
        if (r->verbose || r->nodes[i].rel > tol)
            printf("%-32s %8d %14.2e%s\n", r->nodes[i].node, r->nodes[i].tensors,
                   r->nodes[i].rel, r->nodes[i].rel > tol ? "  FAIL" : "");
    if (r->checked == 0) {
        printf("\nno point could be compared (every one skipped: a kink or rounding): FAIL; "
               "try --step or --dim\n");
        return CLI_USER_ERROR;
    }
    bool pass = worst <= tol;
    char unchecked[96] = "";
    if (r->unchecked)
        snprintf(unchecked, sizeof unchecked, "; %d tensor%s with no point compared",
                 r->unchecked, r->unchecked == 1 ? "" : "s");
    printf("\nworst relative error %.2e (tolerance %g%s): %s\n", worst, tol, unchecked,
           pass ? "pass" : "FAIL");
    return pass ? CLI_OK : CLI_USER_ERROR;
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
    gc_report rep = {.verbose = true}, *r = &rep;
    const char *opt;
    while ((opt = cli_next(&o)) && !o.failed) {
        if (cli_dim_option(&o, opt))
            continue;
        if (!strcmp(opt, "--samples"))
            gopt.samples = cli_int(&o, 1, 64);
        else if (!strcmp(opt, "--tol"))
            tol = cli_double(&o, 0, 1e3);
        else if (!strcmp(opt, "--seed"))
            gopt.seed = (uint64_t)cli_long(&o, 1, 4294967295L); /* 0 would mean 1 */
        else if (!strcmp(opt, "--quiet"))
            r->verbose = false;
        else if (!strcmp(opt, "--step"))
            gopt.step = cli_double(&o, 1e-9, 1);
        else
            return cli_unknown_option(&o, opt, known, CLI_COUNT(known));
    }
    if (o.failed || o.n_positional != 1)
        return o.failed ? CLI_USAGE : cli_usage_error(&o, "give one model file");
    heed_model *m;
    int loaded = cli_load_model_dims("gradcheck", o.positional[0], 0, o.dims, o.n_dims, &m);
    if (loaded != CLI_OK)
        return loaded;
    gopt.dims = o.dims;
    gopt.n_dims = (size_t)o.n_dims;
    double worst = 0;
    heed_diag d;
    r->model = heed_model_name(m);
    heed_status st = heed_gradcheck(m, &gopt, on_entry, r, &worst, &d);
    heed_model_free(m);
    int rc;
    if (st != HEED_OK)
        rc = cli_report(&d);
    else if (r->nomem)
        rc = (fprintf(stderr, "heed gradcheck: error: out of memory\n"), CLI_USER_ERROR);
    else
        rc = report_print(r, worst, tol);
    report_free(r);
    return rc;
}
