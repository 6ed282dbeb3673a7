/*
 * heed data: writes a dataset's train, valid and test splits as TSV files
 * (column 0 the source, column 1 the target). The generators live in
 * data_*.c behind datasets.h; this file is the command line around them.
 */
#include <string.h>
#include <time.h>

#include "cli.h"
#include "datasets.h"

#define DATA_DEFAULT_SEED 1
#define DATA_MAX_SIZE 100000000L

static const data_spec *const data_specs[] = {&data_dates_spec, &data_addition_spec,
                                              &data_g2p_spec, &data_langid_spec};
#define N_SPECS (int)(sizeof data_specs / sizeof data_specs[0])

typedef struct data_args {
    const char *out, *explain;
    bool list;
    data_request rq;
} data_args;

static void list_datasets(void)
{
    printf("datasets (heed data NAME --out DIR; --seed N, default %d, picks the sample):\n",
           DATA_DEFAULT_SEED);
    for (int i = 0; i < N_SPECS; i++) {
        const data_spec *s = data_specs[i];
        printf("\n  %-9s %s\n            --train/--valid/--test count %s\n", s->name, s->summary,
               s->sizes);
        if (s->sources)
            printf("            reads %s; --source PATH reads another\n", s->sources);
        if (s->explain)
            printf("            --explain TEXT prints the target of one source\n");
    }
}

static const data_spec *find_spec(const char *name)
{
    for (int i = 0; i < N_SPECS; i++)
        if (strcmp(data_specs[i]->name, name) == 0)
            return data_specs[i];
    return NULL;
}

static int unknown_dataset(const cli_opts *o, const char *name)
{
    const char *names[N_SPECS];
    for (int i = 0; i < N_SPECS; i++)
        names[i] = data_specs[i]->name;
    const char *best = cli_closest(name, names, N_SPECS);
    if (best)
        return cli_usage_error(o, "unknown dataset '%s'; did you mean '%s'? ('heed data --list' "
                                  "shows them)", name, best);
    return cli_usage_error(o, "unknown dataset '%s' ('heed data --list' shows them)", name);
}

static int explain(const data_spec *spec, const char *text)
{
    char target[256];
    data_error err = {{0}};
    if (spec->explain(text, target, sizeof target, &err) != DATA_OK) {
        fprintf(stderr, "heed data: error: %s\n", err.msg);
        return CLI_USER_ERROR;
    }
    printf("%s\n", target);
    return CLI_OK;
}

static int generate(const data_spec *spec, const data_args *a)
{
    data_output out = {0};
    data_error err = {{0}};
    data_request rq = a->rq;
    rq.log = stdout;
    clock_t t0 = clock(); /* CPU time: the generators are single-threaded */
    data_status st = spec->generate(&rq, &out, &err);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    if (st == DATA_OK)
        st = data_write(a->out, &out, &err);
    if (st != DATA_OK) {
        fprintf(stderr, "heed data: error: %s\n", err.msg);
        data_output_free(&out);
        return CLI_USER_ERROR;
    }
    printf("%s: %zu rows, seed %llu, generated in %.2f s CPU\n", spec->name, out.rows.n,
           (unsigned long long)rq.seed, secs);
    for (int s = 0; s < DATA_N_SPLITS; s++)
        printf("  wrote %s/%s.tsv  %zu rows\n", a->out, data_split_names[s], out.count[s]);
    data_output_free(&out);
    return CLI_OK;
}

static void parse_options(cli_opts *o, data_args *a)
{
    static const char *const known[] = {"--out",  "--seed", "--train",   "--valid",
                                        "--test", "--list", "--explain", "--source"};
    static const char *const split_options[DATA_N_SPLITS] = {"--train", "--valid", "--test"};
    const char *opt;
    while ((opt = cli_next(o)) && !o->failed) {
        int split = -1;
        for (int s = 0; s < DATA_N_SPLITS; s++)
            if (!strcmp(opt, split_options[s]))
                split = s;
        if (split >= 0)
            a->rq.size[split] = cli_int(o, 0, DATA_MAX_SIZE);
        else if (!strcmp(opt, "--out"))
            a->out = cli_value(o);
        else if (!strcmp(opt, "--seed"))
            a->rq.seed = (uint64_t)cli_int(o, 0, 2147483647L);
        else if (!strcmp(opt, "--list"))
            a->list = true;
        else if (!strcmp(opt, "--explain"))
            a->explain = cli_value(o);
        else if (!strcmp(opt, "--source"))
            a->rq.source = cli_value(o);
        else
            cli_unknown_option(o, opt, known, (int)(sizeof known / sizeof known[0]));
    }
}

int cmd_data(int argc, char **argv)
{
    cli_opts o;
    cli_opts_init(&o, argc, argv, "data");
    data_args a = {.rq = {.seed = DATA_DEFAULT_SEED, .size = {-1, -1, -1}}};
    parse_options(&o, &a);
    if (o.failed)
        return CLI_USAGE;
    bool sized = a.rq.size[0] >= 0 || a.rq.size[1] >= 0 || a.rq.size[2] >= 0;
    bool seeded = a.rq.seed != DATA_DEFAULT_SEED;
    if (a.list && (o.n_positional > 0 || a.out || a.explain || a.rq.source || sized || seeded))
        return cli_usage_error(&o, "--list goes alone: it lists the datasets and writes nothing");
    if (a.list) {
        list_datasets();
        return CLI_OK;
    }
    if (o.n_positional != 1)
        return cli_usage_error(&o, "give one dataset name ('heed data --list' shows them)");
    const data_spec *spec = find_spec(o.positional[0]);
    if (!spec)
        return unknown_dataset(&o, o.positional[0]);
    if (a.explain && !spec->explain)
        return cli_usage_error(&o, "the %s dataset has no --explain", spec->name);
    /* options that would change nothing are said, not ignored */
    if (a.rq.source && !spec->sources)
        return cli_usage_error(&o, "the %s dataset reads no files: it has no --source",
                               spec->name);
    if (a.explain && (a.out || a.rq.source || sized || seeded))
        return cli_usage_error(&o, "--explain goes alone with its dataset: it explains one "
                                   "example and writes nothing");
    if (a.explain)
        return explain(spec, a.explain);
    if (!a.out)
        return cli_usage_error(&o, "give the output folder: --out DIR");
    return generate(spec, &a);
}
