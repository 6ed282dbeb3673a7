/*
 * fuzz_model.c - libFuzzer target for the model loader and compiler: the
 * input is a model file. heed_model_load_string() parses it (libyaml events to
 * a positioned tree, limits on depth and alias expansion, duplicate keys) and
 * checks it (schemas, blocks, graph); when that succeeds heed_model_check()
 * binds the default dims and runs shape inference, autodiff and memory
 * planning, and an inference plan is built and described (node info, memory
 * numbers, Graphviz) the way `heed inspect` does.
 *
 * The input is not NUL-terminated: heed must respect the length it is given.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"

static heed_diag diag; /* 10 KB: kept off the stack */
#define STEP(name, call) fuzz_step(name, call, &diag)

static uint32_t describe_plan(heed_plan *p)
{
    uint32_t h = 0;
    size_t n = heed_plan_node_count(p);
    for (size_t i = 0; i < n; i++) {
        heed_node_info info;
        if (heed_plan_node_info(p, i, &info) == HEED_OK)
            h = h * 31u + (uint32_t)info.rank + (uint32_t)info.line + (uint32_t)info.params;
    }
    heed_memory_info mem;
    heed_plan_memory(p, &mem);
    h += (uint32_t)mem.arena + (uint32_t)mem.tensors;
    h += (uint32_t)heed_plan_dim(p, "B");
    (void)heed_plan_write_dot(p, fuzz_null_write, &h);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    heed_options opt;
    fuzz_options(&opt);
    heed_model *m = NULL;
    if (STEP("load", heed_model_load_string((const char *)data, size, "fuzz.yaml", &opt,
                                          &m, &diag)) != HEED_OK)
        return 0;

    /* what tools read from a loaded model */
    volatile uint32_t sink = (uint32_t)heed_model_hash(m);
    sink += (uint32_t)strlen(heed_model_name(m)) + (uint32_t)strlen(heed_model_doc(m));
    sink += (uint32_t)heed_model_task(m);
    const char *target = heed_model_target_field(m);
    if (target)
        sink += (uint32_t)heed_model_field_column(m, target) +
                (uint32_t)(heed_model_field_vocab(m, target) != NULL);
    for (size_t i = 0; i < heed_model_dim_count(m); i++)
        sink += (uint32_t)strlen(heed_model_dim_name(m, i));
    for (size_t i = 0; i < heed_model_value_count(m); i++)
        sink += (uint32_t)strlen(heed_model_value_name(m, i));
    for (size_t i = 0; i < heed_model_input_count(m); i++) {
        heed_tensor t;
        if (heed_model_input(m, i, &t) == HEED_OK)
            sink += (uint32_t)t.rank + (uint32_t)strlen(t.name);
    }
    heed_train_config tc;
    heed_model_train_config(m, &tc);
    sink += (uint32_t)tc.batch;

    /* shape inference and planning (training mode when the model has a loss) */
    if (STEP("check", heed_model_check(m, NULL, 0, &diag)) == HEED_OK) {
        heed_plan *p = NULL;
        if (STEP("plan_infer", heed_plan_new(m, NULL, 0, HEED_MODE_INFER, &p, &diag)) == HEED_OK)
            sink += describe_plan(p);
        heed_plan_free(p);
    }
    (void)sink;
    heed_model_free(m);
    return 0;
}
