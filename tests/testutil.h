/*
 * testutil.h - helpers shared by the cmocka suites: loading models from YAML
 * text, expecting diagnostics, filling inputs, comparing floats.
 */
#ifndef HEED_TESTUTIL_H
#define HEED_TESTUTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "heed.h"

/* Loads a model from text named `name`; fails the test on error. */
heed_model *tu_model(const char *name, const char *yaml);
/* Loads and (if loading works) checks at default dims; returns the diag. */
heed_status tu_check(const char *name, const char *yaml, heed_diag *d);
/* Asserts that checking `yaml` fails and that the diagnostics contain each of
 * the NULL-terminated lines. */
void tu_expect_errors(const char *name, const char *yaml, ...);
/* Asserts |a - b| <= tol * max(1, |b|). */
void tu_close(double a, double b, double tol, const char *what);
/* Path of a source-tree file (tests find fixtures and graphs through it). */
const char *tu_path(const char *rel, char *buf, size_t cap);
/* Runs heed_gradcheck on a model at small run-time dims (B=3, S=4, T=5 where
 * the model has them) and asserts the worst relative error is below tol. */
void tu_gradcheck(const char *yaml, double tol);
/* The same with a given finite-difference step (ReLU networks with many
 * kinks need a small one). */
void tu_gradcheck_step(const char *yaml, double tol, double step);
/* Asserts max|a - b| <= tol * max|b| over n floats (norm-relative). */
void tu_close_all(const float *a, const float *b, size_t n, double tol, const char *what);
/* Element count of a tensor view. */
size_t tu_numel(const heed_tensor *t);
/* Finds a tensor of an open tensor file by name; fails the test if absent. */
heed_tensor tu_file_tensor(const heed_tensor_file *f, const char *name);
/* Sets a session input from a tensor file's tensor of the same (or given) name. */
void tu_feed(heed_session *s, const heed_tensor_file *f, const char *file_name,
             const char *input);
/* Copies every parameter of the weights from the tensor file (same names). */
void tu_load_params(heed_weights *w, const heed_tensor_file *f);
/* A model with fresh weights (seed 7) and a session keeping every value. */
typedef struct tu_run {
    heed_model *m;
    heed_weights *w;
    heed_session *s;
} tu_run;
tu_run tu_run_new(const char *name, const char *yaml, heed_mode mode);
void tu_run_free(tu_run *r);
/* Sets an input; fails the test on error. */
void tu_set_f32(tu_run *r, const char *name, int rank, const int64_t *shape, const float *data);
void tu_set_ids(tu_run *r, const char *name, int rank, const int64_t *shape,
                const int32_t *data);
/* A value of the last pass; fails the test on error. */
const float *tu_get(tu_run *r, const char *name);
/* tu_close on each of n values, naming the index on failure. */
void tu_expect(const float *got, const float *want, size_t n, double tol, const char *what);
/* Compares every parameter gradient with the fixture's "grad.NAME" tensors. */
void tu_check_param_grads(heed_weights *w, const heed_tensor_file *f, const char *path,
                          double tol);
/* A deterministic uniform float in [-1, 1). */
float tu_rand(uint64_t *state);

#endif
