/*
 * cli.h - what the heed subcommands share: option parsing, printing
 * diagnostics, exit codes (0 success, 1 user error, 2 usage error).
 */
#ifndef HEED_CLI_H
#define HEED_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "heed.h"

#define CLI_OK 0
#define CLI_USER_ERROR 1
#define CLI_USAGE 2
#define CLI_MAX_DIMS 32

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    const char *usage; /* synopsis lines */
    const char *help;  /* what it does, then its options */
    int (*run)(int argc, char **argv);
} cli_cmd;

/* The subcommands (commands.c). */
int cli_command_count(void);
const cli_cmd *cli_command_at(int i);
const cli_cmd *cli_command(const char *name);
/* Prints a command's full help (what `heed CMD --help` shows). */
void cli_help(FILE *f, const cli_cmd *c);

/* A simple option cursor over argv: long options with a value either as the
 * next argument or after '='. */
typedef struct cli_opts {
    int argc;
    char **argv;
    int i;
    const char *cmd;
    const char *usage;
    /* positionals, moved to the front of argv as it is read (no limit) */
    char **positional;
    int n_positional;
    heed_dim dims[CLI_MAX_DIMS];
    int n_dims;
    char dim_names[CLI_MAX_DIMS][64];
    bool failed;
    const char *pending; /* the value after '=' of the current option */
    char name[128];      /* the current option's name when given as --name=value */
    const char *opt;     /* the current option's name, for messages */
} cli_opts;

/* The usage quoted in errors comes from the command's entry in commands.c. */
void cli_opts_init(cli_opts *o, int argc, char **argv, const char *cmd);
/* Next option name (e.g. "--dim"), or NULL at the end; positionals are
 * collected. */
const char *cli_next(cli_opts *o);
/* The value of the current option; reports a usage error when missing. */
const char *cli_value(cli_opts *o);
/* The next value as an integer in [lo, hi] (cli_int: within int's range). */
int cli_int(cli_opts *o, long lo, long hi);
long cli_long(cli_opts *o, long lo, long hi);
/* The next value as a number in [lo, hi] (NaN and infinities refused). */
double cli_double(cli_opts *o, double lo, double hi);
/* Handles --dim NAME=N; returns true when the option was --dim. */
bool cli_dim_option(cli_opts *o, const char *opt);
int cli_usage_error(const cli_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The name closest to word (at most two edits away, or word a prefix of it), or NULL. */
const char *cli_closest(const char *word, const char *const *names, int n);
int cli_unknown_option(const cli_opts *o, const char *opt, const char *const *known, int n);
/* The entries of a command's `known` option list, counted rather than written
 * by hand (a hand count goes stale when an option is added). */
#define CLI_COUNT(array) ((int)(sizeof(array) / sizeof((array)[0])))

/* Refuses option `opt` (a decoding option such as --beam, or NULL for none)
 * for a model that does not decode (a classifier, a tagger), which has no
 * beam nor map: said, not ignored. Returns CLI_USAGE after saying so, else
 * CLI_OK. */
int cli_decoding_only(const char *cmd, const heed_model *m, const char *opt);
/* Prints a failed call's diagnostics to stderr; returns the exit code. */
int cli_report(const heed_diag *d);
/* Closes a file the command wrote directly (a drawing, a graph): false when
 * a write failed, at the last flush too (a full disk), so the command does
 * not say it was written. */
bool cli_close_written(FILE *f);
/* Removes a UTF-8 byte-order mark from the start of a file's first line
 * (the library's TSV reader skips it too); returns the line's new length. */
size_t cli_drop_bom(char *line, size_t len);
/* Fills a diagnostic with one error raised by the tool itself. */
heed_status cli_fail(heed_diag *d, heed_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Logs library messages to stderr with a prefix. */
void cli_log(void *user, heed_log_level level, const char *msg);
void cli_options(heed_options *o, int threads);

heed_status cli_load_model(const char *path, int threads, heed_model **out);
/* cli_load_model, then refuses a --dim the model does not have (with a
 * did-you-mean). CLI_OK, CLI_USER_ERROR (the file) or CLI_USAGE (a dim). */
int cli_load_model_dims(const char *cmd, const char *path, int threads, const heed_dim *dims,
                        int n_dims, heed_model **out);

/* Formats a byte count as "12.3 MiB". */
const char *cli_bytes(size_t n, char *buf, size_t cap);
bool cli_isatty(FILE *f);
/* s as a JSON string, quoted, with quotes, backslashes and control
 * characters escaped. */
void cli_json_string(FILE *f, const char *s);
/* The text of ids (heed_vocab_decode) in a new string, however long; NULL
 * when out of memory. */
char *cli_vocab_text(const heed_vocab *v, const char *field, const int32_t *ids, size_t n);
/* Whether path names the same file as one of the others (device and inode,
 * so ./x and x agree; the same string if neither exists yet). NULLs in
 * others are skipped. Returns the one it matches, or NULL. */
const char *cli_same_file(const char *path, const char *const *others, int n);
/* Whether path, a data file, can be read the times the commands read one
 * (its vocabulary, then its rows): a regular file or one that does not
 * exist (the library says so). Otherwise says why and returns false. */
bool cli_data_file(const char *cmd, const char *path);
/* Whether a file can be written at path, if not why in buf: not a
 * directory; an existing file writable (as fopen "w" writes it) unless
 * `beside` (written through a temporary file beside it, then renamed),
 * otherwise its directory existing and writable. */
bool cli_writable(const char *path, bool beside, char *buf, size_t cap);

int cmd_check(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_infer(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_average(int argc, char **argv);

#endif /* HEED_CLI_H */
