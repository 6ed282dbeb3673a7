/*
 * heed.c - the heed command: dispatches to one file per subcommand. Every
 * subcommand is a client of the public API (heed.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "heed %s - neural networks from YAML files\n\nusage: heed COMMAND [ARGS]\n\n",
            heed_version());
    for (int i = 0; i < cli_command_count(); i++)
        fprintf(f, "  %-10s %s\n", cli_command_at(i)->name, cli_command_at(i)->summary);
    fprintf(f, "\nexit status: 0 success, 1 an error in the input (model, weights, data, files),\n"
               "2 a usage error (unknown option, missing argument).\n"
               "'heed COMMAND --help' describes a command; docs/CLI.md all of them.\n");
}

int main(int argc, char **argv)
{
    /* a line as soon as it is written, also into a file or pipe: a run
     * killed to be resumed keeps the lines it printed */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    bool help = !strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help");
    /* heed help COMMAND is heed COMMAND --help; heed help WORD that is not
     * one is said below, with a did-you-mean */
    if (!strcmp(name, "help") && argc > 2) {
        const char *what = argv[2];
        if (cli_command(what)) {
            cli_help(stdout, cli_command(what));
            return CLI_OK;
        }
        if (strcmp(what, "--help") && strcmp(what, "-h") && strcmp(what, "help")) {
            name = what;
            help = false;
        }
    }
    if (help) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("heed %s\n", heed_version());
        return CLI_OK;
    }
    const cli_cmd *c = cli_command(name);
    if (c) {
        /* up to '--', after which every word is a positional argument */
        for (int a = 2; a < argc && strcmp(argv[a], "--"); a++)
            if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
                cli_help(stdout, c);
                return CLI_OK;
            }
        return c->run(argc - 1, argv + 1);
    }
    const char *names[34] = {"--help", "--version"};
    int n = 2;
    for (int i = 0; i < cli_command_count() && n < 34; i++)
        names[n++] = cli_command_at(i)->name;
    const char *best = cli_closest(name, names, n);
    fprintf(stderr, "heed: error: unknown %s '%s'", name[0] == '-' ? "option" : "command", name);
    if (best)
        fprintf(stderr, "; did you mean '%s'?", best);
    fprintf(stderr, "\n\n");
    usage(stderr);
    return CLI_USAGE;
}
