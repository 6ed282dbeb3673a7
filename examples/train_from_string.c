/*
 * train_from_string.c - builds a model from YAML text in memory, makes its own
 * data (y = sin(x) on [-3, 3]) and trains on it, printing the loss as it falls.
 * Exits non-zero unless the last loss is below a tenth of the first.
 *
 *   cmake -S examples -B build-examples -DCMAKE_PREFIX_PATH=/where/heed/is
 *   cmake --build build-examples && build-examples/train_from_string
 */
#include <heed.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define N 256    /* training points, all in one batch */
#define STEPS 60 /* optimizer steps */

/* One hidden layer of tanh units and a linear output, fitted by mean squared error. */
static const char model_yaml[] =
    "heed: 1\n"
    "name: sine\n"
    "doc: a small network fitted to y = sin(x)\n"
    "dims: {H: 32}\n"
    "inputs:\n"
    "  x: {shape: [B, 1], dtype: float}\n"
    "  y: {shape: [B, 1], dtype: float}\n"
    "nodes:\n"
    "  hidden: {op: Affine, in: x, units: H, activation: tanh}\n"
    "  pred:   {op: Affine, in: hidden, units: 1}\n"
    "loss: {op: MSE, in: pred, target: y}\n"
    "train: {optimizer: adam, lr: 0.02}\n";

int main(void)
{
    static float x[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = -3.0f + 6.0f * (float)i / (N - 1);
        y[i] = sinf(x[i]);
    }
    heed_tensor tx = {.name = "x", .dtype = HEED_F32, .rank = 2, .shape = {N, 1}, .data = x};
    heed_tensor ty = {.name = "y", .dtype = HEED_F32, .rank = 2, .shape = {N, 1}, .data = y};

    heed_model *model = NULL;
    heed_weights *weights = NULL;
    heed_session *session = NULL;
    heed_diag diag;
    float loss = NAN, first = NAN;
    /* Every call reports failure by its status, with the details in diag. */
    heed_status st = heed_model_load_string(model_yaml, strlen(model_yaml), "sine.yaml", NULL,
                                            &model, &diag);
    if (st == HEED_OK) /* no vocabularies (NULL), default dims, seed 1 */
        st = heed_weights_new(model, NULL, NULL, 0, 1, &weights, &diag);
    if (st == HEED_OK)
        st = heed_session_new(weights, HEED_MODE_TRAIN, &session, &diag);
    if (st == HEED_OK) /* inputs stay set until set again */
        st = heed_session_set_input(session, "x", &tx, &diag);
    if (st == HEED_OK)
        st = heed_session_set_input(session, "y", &ty, &diag);
    for (int step = 1; st == HEED_OK && step <= STEPS; step++) {
        /* forward, backward and one Adam step; loss is the forward pass's */
        st = heed_session_train_step(session, &loss, &diag);
        if (step == 1)
            first = loss;
        if (st == HEED_OK && (step == 1 || step % 10 == 0))
            printf("step %3d  loss %.5f\n", step, loss);
    }
    heed_session_free(session);
    heed_weights_free(weights);
    heed_model_free(model);
    if (st != HEED_OK) {
        fprintf(stderr, "train_from_string: %s", diag.text);
        return 1;
    }
    if (!(loss < 0.1f * first)) {
        fprintf(stderr, "train_from_string: the loss went from %.5f to only %.5f\n", first, loss);
        return 1;
    }
    printf("the loss fell from %.5f to %.5f\n", first, loss);
    return 0;
}
