/*
 * fuzz_data.c - libFuzzer target for the TSV reader: the input is a data file
 * for a small fixed model whose data: section has a chars field (with bos, eos
 * and reverse), a label field and a words field. heed_vocab_build() builds the
 * vocabularies from it; heed_dataset_load() reads it with them; when both
 * succeed a batch of rows (in the shuffled order training uses) is fed into a
 * session with heed_dataset_feed() and run forward, a row's text is encoded
 * and decoded again, and the input's first line is classified as a text
 * (heed_session_classify, the path of `heed infer`).
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"

#define MAX_BATCH 8

static const char model_text[] =
    "heed: 1\n"
    "name: fuzz_data\n"
    "dims: {E: 4}\n"
    "inputs:\n"
    "  src: [B, S]\n"
    "  label: [B]\n"
    "  toks: [B, W]\n"
    "data:\n"
    "  src:   {column: 0, tokens: chars, vocab: V, bos: true, eos: true, reverse: true}\n"
    "  label: {column: 1, tokens: label, vocab: C}\n"
    "  toks:  {column: 2, tokens: words, vocab: V_w}\n"
    "nodes:\n"
    "  emb_c:  {op: Embedding, in: src, vocab: V, dim: E}\n"
    "  pool_c: {op: MeanPool, in: emb_c}\n"
    "  emb_w:  {op: Embedding, in: toks, vocab: V_w, dim: E}\n"
    "  pool_w: {op: MeanPool, in: emb_w}\n"
    "  logits: {op: Affine, in: [pool_c, pool_w], units: C}\n"
    "loss: {op: CrossEntropy, logits: logits, target: label}\n";

static const char *const fields[] = {"src", "label", "toks"};

static heed_model *model;
static heed_diag diag;
#define STEP(name, call) fuzz_step(name, call, &diag)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    model = fuzz_fixed_model(model_text, "fuzz_data.yaml");
    return 0;
}

/* Encodes a row's column with its field and decodes the ids again. */
static uint32_t round_trip(const heed_vocab *v, const heed_dataset *ds)
{
    uint32_t h = 0;
    for (int f = 0; f < 3; f++) {
        int col = heed_model_field_column(model, fields[f]);
        const char *text = heed_dataset_text(ds, 0, col);
        int32_t ids[64];
        size_t n = 0;
        char out[512];
        if (!text)
            continue;
        if (STEP("encode", heed_vocab_encode(v, fields[f], text, ids, 64, &n, &diag)) == HEED_OK &&
            heed_vocab_decode(v, fields[f], ids, n < 64 ? n : 64, out, sizeof out) == HEED_OK)
            h = h * 31u + (uint32_t)strlen(out);
    }
    return h;
}

/* The input's first line as a C string (up to a NUL byte or a newline). */
static char *first_line(const uint8_t *data, size_t size)
{
    size_t n = 0;
    while (n < size && data[n] != '\n' && data[n] != '\0')
        n++;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, data, n);
        s[n] = '\0';
    }
    return s;
}

static uint32_t run_batch(const heed_vocab *v, const heed_dataset *ds, const uint8_t *data,
                          size_t size)
{
    uint32_t h = 0;
    size_t n = heed_dataset_size(ds);
    size_t *order = malloc(n * sizeof *order);
    if (!order)
        return 0;
    heed_dataset_shuffle(ds, 2, 1, 0, order);
    size_t rows = n < MAX_BATCH ? n : MAX_BATCH;

    heed_weights *w = NULL;
    heed_session *s = NULL;
    if (STEP("weights_new", heed_weights_new(model, v, NULL, 0, 1, &w, &diag)) == HEED_OK &&
        STEP("session_new", heed_session_new(w, HEED_MODE_TRAIN, &s, &diag)) == HEED_OK) {
        heed_session_set_threads(s, 1);
        if (STEP("dataset_feed", heed_dataset_feed(ds, order, rows, s, &diag)) == HEED_OK &&
            STEP("forward", heed_session_forward(s, &diag)) == HEED_OK) {
            heed_accuracy acc;
            if (STEP("accuracy", heed_session_accuracy(s, &acc, &diag)) == HEED_OK)
                h += (uint32_t)acc.tokens_correct;
            h += heed_session_loss(s) > 0;
        }
        char *line = first_line(data, size);
        if (line) {
            const char *texts[1] = {line};
            int32_t label = 0;
            float prob = 0;
            heed_status st = heed_session_classify(s, texts, 1, &label, &prob, &diag);
            if (STEP("classify", st) == HEED_OK)
                h += (uint32_t)label;
            free(line);
        }
    }
    heed_session_free(s);
    heed_weights_free(w);
    free(order);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_write(data, size);
    if (!path)
        abort(); /* the harness cannot write its file: not heed's fault */
    heed_vocab *v = NULL;
    if (STEP("vocab_build", heed_vocab_build(model, path, &v, &diag)) != HEED_OK)
        return 0;
    volatile uint32_t sink = 0;
    for (int f = 0; f < 3; f++)
        sink += (uint32_t)heed_vocab_size(v, fields[f]);
    heed_dataset *ds = NULL;
    if (STEP("dataset_load", heed_dataset_load(model, v, path, &ds, &diag)) == HEED_OK) {
        sink += round_trip(v, ds);
        sink += run_batch(v, ds, data, size);
        heed_dataset_free(ds);
    }
    (void)sink;
    heed_vocab_free(v);
    return 0;
}
