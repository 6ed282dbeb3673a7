/*
 * heed.c - the heed command: dispatches to one file per subcommand. Every
 * subcommand is a client of the public API (heed.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_cmd commands[] = {
    {"check", "check a model file: language, references, shapes",
     "heed check MODEL.yaml [--dim NAME=N ...]", cmd_check},
    {"inspect", "nodes, shapes, parameters, FLOPs and the memory plan",
     "heed inspect MODEL.yaml [--dim NAME=N ...] [--infer] [--json] [--dot FILE]", cmd_inspect},
    {"gradcheck", "backward against finite differences, per node",
     "heed gradcheck MODEL.yaml [--dim NAME=N ...] [--samples N] [--tol X] [--seed N]",
     cmd_gradcheck},
    {"run", "run the graph on tensors and write every named value",
     "heed run MODEL.yaml --inputs IN.safetensors --out OUT.safetensors [--weights "
     "W.safetensors] [--seed N]",
     cmd_run},
    {"eval", "accuracy of trained weights on a TSV file (exact match, WER, PER; confusion)",
     "heed eval MODEL.yaml --weights W.safetensors --data TEST.tsv [--beam K] [--json]",
     cmd_eval},
    {"infer", "decode or classify texts; draw attention maps",
     "heed infer MODEL.yaml --weights W.safetensors [--beam K] [--attention FILE.svg|-] "
     "[TEXT ...]",
     cmd_infer},
    {"bench", "time forward, training step and compile; per-node profile, GFLOP/s",
     "heed bench MODEL.yaml [--dim NAME=N ...] [--threads N] [--repeat N] [--json]",
     cmd_bench},
    {"train", "train a model on TSV data",
     "heed train MODEL.yaml --data TRAIN.tsv [--valid VALID.tsv] [--epochs N] [--out "
     "W.safetensors] [--batch N] [--lr X] [--seed N] [--threads N]",
     cmd_train},
    {"data", "write a dataset's train/valid/test TSV files (dates, addition, g2p, langid)",
     "heed data NAME --out DIR [--seed N] [--train N] [--valid N] [--test N] [--source PATH]\n"
     "       heed data dates --explain TEXT\n       heed data --list\n\ndefaults: seed 1; "
     "dates, addition 45000/2500/2500 rows; g2p 5%/5% of the words valid/test, the rest train; "
     "langid 6000/500/500 words per language. --list says more.",
     cmd_data},
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "heed %s - neural networks from YAML files\n\nusage: heed COMMAND [ARGS]\n\n",
            heed_version());
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'heed COMMAND --help' describes a command; docs/CLI.md all of them.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(name, "--version")) {
        printf("heed %s\n", heed_version());
        return CLI_OK;
    }
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(name, commands[i].name) != 0)
            continue;
        for (int a = 2; a < argc; a++)
            if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
                printf("%s\n\nusage: %s\n", commands[i].summary, commands[i].usage);
                return CLI_OK;
            }
        return commands[i].run(argc - 1, argv + 1);
    }
    const char *names[16];
    for (int i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i].name;
    fprintf(stderr, "heed: error: unknown command '%s'", name);
    for (int i = 0; i < N_COMMANDS; i++) {
        /* a close command name is probably what was meant */
        size_t la = strlen(name), lb = strlen(names[i]);
        if ((la > 2 && strncmp(name, names[i], la < lb ? la : lb) == 0) ||
            (la == lb && la > 3 && strncmp(name, names[i], la - 1) == 0)) {
            fprintf(stderr, "; did you mean '%s'?", names[i]);
            break;
        }
    }
    fprintf(stderr, "\n\n");
    usage(stderr);
    return CLI_USAGE;
}
