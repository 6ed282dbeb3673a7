/*
 * commands.c - the subcommands and their help: the one place each command's
 * usage and options are written. `heed CMD --help` prints it, usage errors
 * quote its usage lines, and docs/CLI.md holds the same text (a test keeps
 * them equal).
 */
#include <string.h>

#include "cli.h"

#define DIM_HELP "  --dim NAME=N        bind a dimension (repeatable); run-time dims default to 16, " \
                 "vocabularies to 32\n"
#define THREADS_HELP "  --threads N         OpenMP threads (default: OMP_NUM_THREADS, else all " \
                     "cores)\n"

static const cli_cmd commands[] = {
    {"check", "check a model file: language, references, shapes",
     "heed check MODEL.yaml [--dim NAME=N ...]",
     "Loads the model and checks it against the language: its errors are reported\n"
     "together, each as FILE:LINE:COL with the source line and a caret, with a\n"
     "did-you-mean for misspelt names. Then, when the file has none, builds the\n"
     "training plan (shapes, autodiff, memory) and reports its shape errors.\n"
     "\n" DIM_HELP,
     cmd_check},
    {"inspect", "nodes, shapes, parameters, FLOPs and the memory plan",
     "heed inspect MODEL.yaml [--dim NAME=N ...] [--infer] [--json] [--dot FILE]",
     "Prints one line per node (op, output shape, parameters, forward and backward\n"
     "FLOPs), the totals and the memory plan: the arena size, the naive size (one\n"
     "buffer per tensor) and the lower bound (the most bytes live at one step).\n"
     "\n" DIM_HELP
     "  --infer             the inference plan (default: the training plan when the model\n"
     "                      has a loss)\n"
     "  --json              the same as JSON\n"
     "  --dot FILE          write the graph in Graphviz dot format ('-': to stdout, in\n"
     "                      place of the table)\n",
     cmd_inspect},
    {"gradcheck", "backward against finite differences, per node",
     "heed gradcheck MODEL.yaml [--dim NAME=N ...] [--samples N] [--tol X] [--step H] "
     "[--seed N] [--quiet]",
     "Runs the graph on random inputs and compares the gradient of every parameter and\n"
     "float input with central differences of the loss (Richardson-extrapolated), then\n"
     "shows the worst error per node. Exit 1 when any relative error exceeds the\n"
     "tolerance, or when no point could be compared at all.\n"
     "\n" DIM_HELP
     "  --samples N         elements checked per tensor (default 12, the largest gradients)\n"
     "  --tol X             relative error allowed (default 0.05)\n"
     "  --step H            finite-difference step (default 0.02)\n"
     "  --seed N            seed of the random inputs and weights (default 1)\n"
     "  --quiet             print the failing nodes and the verdict only\n",
     cmd_gradcheck},
    {"run", "run the graph on tensors and write every named value",
     "heed run MODEL.yaml --inputs IN.safetensors --out OUT.safetensors [--weights "
     "W.safetensors] [--seed N] [--dim NAME=N ...] [--threads N]",
     "Feeds the inputs (tensors named like the model's inputs, every one of them, a\n"
     "loss's target too), runs the forward pass in inference mode and writes the\n"
     "inputs, every output and the loss to OUT. Without --weights the parameters are\n"
     "initialised from --seed.\n"
     "\n"
     "  --inputs FILE       the input tensors (safetensors, I32 ids or F32 values)\n"
     "  --out FILE          where to write the values\n"
     "  --weights FILE      trained weights (default: fresh initialisation)\n"
     "  --seed N            initialisation seed without --weights (default 1)\n"
     "  --dim NAME=N        a size of the fresh weights (repeatable; with --weights the\n"
     "                      sizes are the file's); run-time dims come from the inputs\n"
         THREADS_HELP,
     cmd_run},
    {"eval", "accuracy of trained weights on a TSV file (exact match, WER, PER; confusion)",
     "heed eval MODEL.yaml --weights W.safetensors --data TEST.tsv [--beam K] [--alpha A] "
     "[--limit N] [--threads N] [--json]",
     "A seq2seq model decodes every row's source and is scored against the target and\n"
     "any further reference columns (a row is right when it matches one): exact match,\n"
     "word error rate, the token error rate in the model's tokens and, when references\n"
     "hold spaces, the symbol error rate over space-separated symbols (PER for g2p's\n"
     "phonemes), plus the teacher-forced token accuracy. A classifier reports accuracy\n"
     "and the confusion matrix (rows whose label the model does not know are counted\n"
     "wrong and reported apart). Another model with a CrossEntropy loss (a tagger: a\n"
     "label per token) reports its teacher-forced token accuracy and the rows with\n"
     "every token right.\n"
     "\n"
     "  --weights FILE      trained weights\n"
     "  --data FILE         TSV rows in the model's data: layout\n"
     "  --beam K            beam width, 1 to 32 (default 1: greedy)\n"
     "  --alpha A           length normalisation of beam scores, score / length^A (default 0)\n"
     "  --limit N           only the first N rows\n" THREADS_HELP
     "  --json              one JSON object instead of text\n",
     cmd_eval},
    {"infer", "decode, classify or tag texts; draw attention maps",
     "heed infer MODEL.yaml --weights W.safetensors [--beam K] [--alpha A] [--attention "
     "FILE.svg|-] [--threads N] [TEXT ...]",
     "Decodes (seq2seq), classifies or tags each TEXT, one result per line (a\n"
     "classifier's: the label, a tab and its probability; a tagger's: the label of each\n"
     "token, written as its label field's text); without TEXT, reads one text per line\n"
     "from stdin (blank lines too: output line i answers input line i).\n"
     "\n"
     "  --weights FILE      trained weights\n"
     "  --beam K            beam width, 1 to 32 (default 1: greedy)\n"
     "  --alpha A           length normalisation of beam scores (default 0)\n"
     "  --attention FILE    draw each text's attention weights (source across, output\n"
     "                      down) to an SVG file; '-' prints them shaded in the terminal\n" THREADS_HELP,
     cmd_infer},
    {"bench", "time forward, training step and compile; per-node profile, GFLOP/s",
     "heed bench MODEL.yaml [--dim NAME=N ...] [--threads N] [--repeat N] [--warmup N] "
     "[--no-train] [--no-forward] [--decode BATCH:STEPS] [--json]",
     "Times the forward pass and the training step (forward, backward, optimizer) on\n"
     "random inputs: the median over the repeats and GFLOP/s, then the time per node of\n"
     "the training step (of the forward pass with --no-train), the compile time, the\n"
     "memory plan and the peak RSS.\n"
     "\n" DIM_HELP THREADS_HELP
     "  --repeat N          timed repeats (default 20)\n"
     "  --warmup N          untimed runs first (default 3)\n"
     "  --no-train          skip the training step\n"
     "  --no-forward        skip the forward pass\n"
     "  --decode B:T        also time greedy decoding of B sources for T steps\n"
     "  --json              one JSON object instead of text\n",
     cmd_bench},
    {"train", "train a model on TSV data",
     "heed train MODEL.yaml --data TRAIN.tsv [--valid VALID.tsv] [--out W.safetensors] "
     "[--epochs N] [--batch N] [--lr X] [--lr-decay X] [--clip X] [--label-smoothing X] [--seed N] [--dim NAME=N "
     "...] [--threads N] [--resume CKPT] [--init W [--partial]] [--checkpoint-every STEPS] "
     "[--log FILE.csv] [--step-log FILE.csv] [--plot FILE.svg] [--check-numerics] [--keep-epochs] "
     "[--tokens FIELD=chars|words ...] [--quiet]",
     "Trains with the model's train: settings (options override them). Vocabularies come\n"
     "from TRAIN. Each epoch ends with validation loss and teacher-forced accuracy and an\n"
     "atomic checkpoint to --out holding the weights, the optimizer state, the learning\n"
     "rate and the position in the data: a run killed at any moment resumes with\n"
     "--resume and continues bit for bit as if it had not stopped.\n"
     "\n"
     "  --data FILE         training rows (TSV in the model's data: layout; a regular\n"
     "                      file, read twice: vocabulary, then rows)\n"
     "  --valid FILE        validation rows, evaluated after every epoch\n"
     "  --out FILE          checkpoint and final weights (default: the model's path with\n"
     "                      .safetensors for .yaml, beside it; with --resume, the resumed\n"
     "                      file)\n"
     "  --epochs N, --batch N, --lr X, --lr-decay X, --clip X, --label-smoothing X, --seed N\n"
     "                      override train: (lr-decay multiplies lr after every epoch;\n"
     "                      clip is the global gradient norm, 0 for none; label smoothing\n"
     "                      replaces the loss's smoothing: while training, not in validation;\n"
     "                      each within its train: range, e.g. lr 1e-9 to 100, lr-decay 1e-6\n"
     "                      to 1, clip 0 to 1e6, label smoothing 0 to 0.99; lr decayed below\n"
     "                      the smallest float stays there)\n"
     "  --dim NAME=N        bind a dimension (repeatable); not a vocabulary's, which its\n"
     "                      tokens size\n" THREADS_HELP
     "  --resume CKPT       continue a run from its checkpoint (resumed in place, its\n"
     "                      logs are cut back to it: no step or epoch is logged twice)\n"
     "  --init FILE         start from these weights (not their optimizer state), at the\n"
     "                      model's dims and --dim, not the ones FILE was saved with\n"
     "  --partial           with --init, accept a file that matches the model only in part:\n"
     "                      matched tensors load, the rest keep their initialisation\n"
     "  --checkpoint-every STEPS\n"
     "                      also checkpoint every STEPS optimizer steps\n"
     "  --log FILE          per-epoch CSV: epoch, step, losses, accuracies, seconds since\n"
     "                      this command started\n"
     "  --step-log FILE     per-step CSV: step, loss (appended to when resuming)\n"
     "  --plot FILE         SVG of the loss and accuracy curves, redrawn every epoch\n"
     "  --check-numerics    stop at the first NaN or infinity, naming the node, its YAML\n"
     "                      line and the step\n"
     "  --keep-epochs       also write each epoch's weights to OUT's name with .epN before\n"
     "                      .safetensors (for heed average)\n"
     "  --tokens FIELD=chars|words\n"
     "                      read a data: field as characters or as space-separated words\n"
     "                      whatever its tokens: entry says (g2p's phonemes: tgt=words);\n"
     "                      kept with the weights, so eval and infer read it the same way\n"
     "  --quiet             no progress line\n",
     cmd_train},
    {"average", "average weights files of one model (checkpoint averaging)",
     "heed average MODEL.yaml --out AVG.safetensors W1.safetensors W2.safetensors ...",
     "Writes the parameter-wise mean of the weights files, which must hold the same\n"
     "parameters and vocabularies (one model, one training data). The weights at the\n"
     "ends of a run's last epochs (heed train --keep-epochs), averaged, usually decode\n"
     "better than the last alone. Optimizer state is not averaged: AVG holds weights.\n"
     "\n"
     "  --out FILE          where to write the mean (not one of the inputs)\n",
     cmd_average},
    {"data", "write a dataset's train/valid/test TSV files (dates, addition, g2p, langid)",
     "heed data NAME --out DIR [--seed N] [--train N] [--valid N] [--test N] [--source "
     "PATH]\n       heed data dates --explain TEXT\n       heed data --list",
     "Writes DIR/train.tsv, DIR/valid.tsv and DIR/test.tsv, the same bytes for the same\n"
     "seed. dates and addition are generated; g2p reads the CMU pronouncing dictionary and\n"
     "langid the word lists of /usr/share/dict (Debian packages).\n"
     "\n"
     "  --out DIR           where to write\n"
     "  --seed N            default 1\n"
     "  --train N, --valid N, --test N\n"
     "                      rows (dates, addition: 45000/2500/2500) or, for g2p, words\n"
     "                      (default 5%/5% valid/test, the rest train) and for langid,\n"
     "                      words per language (6000/500/500)\n"
     "  --source PATH       another dictionary or word-list folder\n"
     "  --explain TEXT      how the dates generator reads one date\n"
     "  --list              the datasets: what a row holds, their sizes and sources\n",
     cmd_data},
};

#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

int cli_command_count(void)
{
    return N_COMMANDS;
}

const cli_cmd *cli_command_at(int i)
{
    return i >= 0 && i < N_COMMANDS ? &commands[i] : NULL;
}

const cli_cmd *cli_command(const char *name)
{
    for (int i = 0; name && i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

void cli_help(FILE *f, const cli_cmd *c)
{
    fprintf(f, "%s\n\nusage: %s\n\n%s", c->summary, c->usage, c->help);
}
