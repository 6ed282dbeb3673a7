/* heed check: the language, references and shapes of a model file. */
#include <string.h>

#include "cli.h"

int cmd_check(int argc, char **argv)
{
    cli_opts o;
    cli_opts_init(&o, argc, argv, "check");
    static const char *const known[] = {"--dim"};
    const char *opt;
    while ((opt = cli_next(&o)) && !o.failed) {
        if (!cli_dim_option(&o, opt))
            return cli_unknown_option(&o, opt, known, CLI_COUNT(known));
    }
    if (o.failed)
        return CLI_USAGE;
    if (o.n_positional != 1)
        return cli_usage_error(&o, "give one model file");
    heed_model *m;
    int rc = cli_load_model_dims("check", o.positional[0], 0, o.dims, o.n_dims, &m);
    if (rc != CLI_OK)
        return rc;
    heed_diag d;
    heed_status st = heed_model_check(m, o.dims, (size_t)o.n_dims, &d);
    if (st != HEED_OK) {
        heed_model_free(m);
        return cli_report(&d);
    }
    heed_plan *p;
    size_t params = 0;
    if (heed_plan_new(m, o.dims, (size_t)o.n_dims, HEED_MODE_INFER, &p, &d) == HEED_OK) {
        for (size_t i = 0; i < heed_plan_node_count(p); i++) {
            heed_node_info info;
            heed_plan_node_info(p, i, &info);
            params += (size_t)info.params;
        }
        size_t nodes = heed_plan_node_count(p);
        printf("%s: ok: model '%s', %zu node%s, %zu parameter%s\n", o.positional[0],
               heed_model_name(m), nodes, nodes == 1 ? "" : "s", params, params == 1 ? "" : "s");
        heed_plan_free(p);
    }
    heed_model_free(m);
    return CLI_OK;
}
