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
/* A deterministic uniform float in [-1, 1). */
float tu_rand(uint64_t *state);

#endif
