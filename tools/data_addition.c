/*
 * data_addition.c - the `addition` dataset: "123+45" -> "168", both operands
 * drawn uniformly from 0..999 (a million distinct sums to draw from).
 */
#include <stdio.h>

#include "datasets.h"

#define ADDITION_MAX_OPERAND 999

static void addition_make(data_rng *r, char *source, char *target, size_t cap)
{
    unsigned a = data_rng_below(r, ADDITION_MAX_OPERAND + 1);
    unsigned b = data_rng_below(r, ADDITION_MAX_OPERAND + 1);
    snprintf(source, cap, "%u+%u", a, b);
    snprintf(target, cap, "%u", a + b);
}

static data_status addition_generate(const data_request *rq, data_output *out, data_error *err)
{
    static const size_t defaults[DATA_N_SPLITS] = {45000, 2500, 2500};
    return data_sample_unique(rq, "addition", addition_make, defaults, out, err);
}

const data_spec data_addition_spec = {
    .name = "addition",
    .summary = "the sum of two numbers from 0 to 999 (\"123+45\" -> 168)",
    .sizes = "rows; default 45000 train, 2500 valid, 2500 test",
    .sources = NULL,
    .generate = addition_generate,
    .explain = NULL,
};
