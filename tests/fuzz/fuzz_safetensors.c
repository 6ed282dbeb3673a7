/*
 * fuzz_safetensors.c - libFuzzer target for the safetensors reader: the input
 * is a weights file. It is read twice:
 *   - as a plain tensor file (heed_tensor_file_read), every tensor view read
 *     to its last byte;
 *   - as the weights of a small fixed model with a data: section
 *     (heed_weights_load, exact then partial), which reads the vocabularies
 *     and the dims from the metadata; loaded weights are then used: their
 *     vocabularies encode and decode a text, and a forward pass runs on random
 *     inputs.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"

/* Parameters: emb.weight [V,E], logits.weight [C,E], logits.bias [C];
 * metadata: heed.vocab.V, heed.vocab.C, heed.dims (E=4). */
static const char model_text[] =
    "heed: 1\n"
    "name: fuzz_weights\n"
    "dims: {E: 4}\n"
    "inputs:\n"
    "  word: [B, S]\n"
    "  lang: [B]\n"
    "data:\n"
    "  word: {column: 0, tokens: chars, vocab: V}\n"
    "  lang: {column: 1, tokens: label, vocab: C}\n"
    "nodes:\n"
    "  emb:    {op: Embedding, in: word, vocab: V, dim: E}\n"
    "  pool:   {op: MeanPool, in: emb}\n"
    "  logits: {op: Affine, in: pool, units: C}\n"
    "loss: {op: CrossEntropy, logits: logits, target: lang}\n";

static heed_model *model;
static heed_diag diag;
#define STEP(name, call) fuzz_step(name, call, &diag)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    model = fuzz_fixed_model(model_text, "fuzz_weights.yaml");
    return 0;
}

static uint32_t read_tensor_file(const char *path)
{
    heed_tensor_file *tf = NULL;
    uint32_t h = 0;
    if (STEP("tensor_file_read", heed_tensor_file_read(path, &tf, &diag)) != HEED_OK)
        return 0;
    size_t n = heed_tensor_file_count(tf);
    for (size_t i = 0; i < n; i++) {
        heed_tensor t;
        if (heed_tensor_file_get(tf, i, &t) == HEED_OK)
            h = h * 31u + fuzz_touch_tensor(&t) + (uint32_t)strlen(t.name);
    }
    heed_tensor_file_free(tf);
    return h;
}

static uint32_t use_weights(heed_weights *w)
{
    uint32_t h = 0;
    size_t n = heed_weights_count(w);
    for (size_t i = 0; i < n; i++) {
        heed_tensor t;
        if (heed_weights_param(w, i, &t) == HEED_OK)
            h = h * 31u + fuzz_touch_tensor(&t);
    }
    const heed_vocab *v = heed_weights_vocab(w);
    if (v) {
        static const char *const fields[] = {"word", "lang"};
        for (int f = 0; f < 2; f++) {
            int32_t ids[16];
            size_t k = 0;
            char text[256];
            h += (uint32_t)heed_vocab_size(v, fields[f]);
            heed_status st = heed_vocab_encode(v, fields[f], "ab\xc3\xa9 z", ids, 16, &k, &diag);
            if (STEP("encode", st) == HEED_OK &&
                heed_vocab_decode(v, fields[f], ids, k < 16 ? k : 16, text, sizeof text) ==
                    HEED_OK)
                h += (uint32_t)strlen(text);
            /* every id of the vocabulary, and some that are not */
            int64_t size = heed_vocab_size(v, fields[f]);
            for (int64_t id = -1; id <= size && id < 64; id++) {
                int32_t one = (int32_t)id;
                if (heed_vocab_decode(v, fields[f], &one, 1, text, sizeof text) == HEED_OK)
                    h += (uint32_t)strlen(text);
            }
        }
    }
    heed_session *s = NULL;
    if (STEP("session_new", heed_session_new(w, HEED_MODE_INFER, &s, &diag)) == HEED_OK) {
        heed_session_set_threads(s, 1);
        const heed_dim dims[] = {{"B", 2}, {"S", 3}};
        if (STEP("random_inputs", heed_session_random_inputs(s, dims, 2, 1, 1, &diag)) == HEED_OK &&
            STEP("forward", heed_session_forward(s, &diag)) == HEED_OK) {
            heed_tensor t;
            if (STEP("get", heed_session_get(s, "logits", &t, &diag)) == HEED_OK)
                h += fuzz_touch_tensor(&t);
        }
        heed_session_free(s);
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_write(data, size);
    if (!path)
        abort(); /* the harness cannot write its file: not heed's fault */
    volatile uint32_t sink = read_tensor_file(path);

    heed_weights *w = NULL;
    heed_status st = STEP("weights_load", heed_weights_load(model, path, 0, &w, &diag));
    if (st != HEED_OK)
        st = STEP("weights_load_partial",
                  heed_weights_load(model, path, HEED_LOAD_PARTIAL, &w, &diag));
    if (st == HEED_OK) {
        sink += use_weights(w);
        heed_weights_free(w);
    }
    (void)sink;
    return 0;
}
