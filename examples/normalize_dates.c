/*
 * normalize_dates.c - reads dates as people write them ("Jun 25 2038",
 * "12/1/1986"), one per line on stdin, and prints each as an ISO date
 * (YYYY-MM-DD) with a trained seq2seq model such as graphs/bahdanau_seq2seq.yaml:
 *
 *   heed data dates --out dates && heed train graphs/bahdanau_seq2seq.yaml \
 *       --data dates/train.tsv --out dates.safetensors
 *   cc normalize_dates.c $(pkg-config --cflags --libs heed) -o normalize_dates
 *      (add -Wl,-rpath,PREFIX/LIBDIR for heed under a prefix that is not a default one)
 *   ./normalize_dates graphs/bahdanau_seq2seq.yaml dates.safetensors < in.txt
 */
#define _POSIX_C_SOURCE 200809L /* getline, strdup */
#include <heed.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 64 /* lines decoded together */

/* Decodes lines[0..n) greedily, prints one result per line and frees the lines. */
static heed_status decode_batch(heed_session *session, char **lines, size_t n, heed_diag *diag)
{
    heed_decode_options options = {.beam = 1};
    heed_decode_result *result = NULL;
    heed_status st = heed_decode(session, (const char *const *)lines, n, &options, &result, diag);
    for (size_t i = 0; i < n; i++) {
        char iso[256];
        if (st == HEED_OK && (st = heed_decode_text(result, i, iso, sizeof iso)) != HEED_OK)
            snprintf(diag->text, sizeof diag->text, "heed_decode_text: %s",
                     heed_status_string(st)); /* it has no diag of its own */
        if (st == HEED_OK)
            printf("%s\n", iso);
        free(lines[i]);
    }
    heed_decode_result_free(result);
    return st;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.yaml WEIGHTS.safetensors < dates.txt\n", argv[0]);
        return 2;
    }
    heed_model *model = NULL;
    heed_weights *weights = NULL;
    heed_session *session = NULL;
    heed_diag diag;
    heed_status st = heed_model_load_file(argv[1], NULL, &model, &diag);
    if (st == HEED_OK)
        st = heed_weights_load(model, argv[2], 0, &weights, &diag);
    if (st == HEED_OK)
        st = heed_session_new(weights, HEED_MODE_INFER, &session, &diag);

    char *lines[BATCH], *line = NULL;
    size_t n = 0, capacity = 0;
    while (st == HEED_OK && getline(&line, &capacity, stdin) >= 0) {
        line[strcspn(line, "\r\n")] = '\0'; /* drop the line end */
        if (!(lines[n] = strdup(line))) {
            st = HEED_ERR_NOMEM;
            snprintf(diag.text, sizeof diag.text, "out of memory");
            break;
        }
        if (++n == BATCH)
            st = decode_batch(session, lines, n, &diag), n = 0;
    }
    if (st == HEED_OK && n > 0) /* the last, partial batch */
        st = decode_batch(session, lines, n, &diag), n = 0;
    while (n > 0)
        free(lines[--n]);
    free(line);
    heed_session_free(session);
    heed_weights_free(weights);
    heed_model_free(model);
    if (st != HEED_OK) {
        size_t k = strlen(diag.text); /* diagnostics end with a newline */
        fprintf(stderr, "normalize_dates: %s%s", diag.text,
                k && diag.text[k - 1] == '\n' ? "" : "\n");
        return 1;
    }
    return ferror(stdin) || fflush(stdout) != 0;
}
