/*
 * test_compiler.c - the model language and its diagnostics: one test per error
 * kind with the exact file:line:col and message, a file with five mistakes
 * reporting all five, blocks with repeat, and the graph hash.
 */
#include <math.h>

#include "testutil.h"

static void yaml_syntax_error(void **state)
{
    (void)state;
    tu_expect_errors("syntax.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  a: {op: Tanh, in: x\n"
                     "  b: {op: Tanh, in: a}\n",
                     "syntax.yaml:5:4: error: YAML: did not find expected ',' or '}' while "
                     "parsing a flow mapping",
                     "    5 |   b: {op: Tanh, in: a}\n      |    ^", NULL);
    tu_expect_errors("tab.yaml", "heed: 1\ninputs:\n\tx: [B, 4]\nnodes:\n  t: {op: Tanh, in: x}\n",
                     "tab.yaml:3:1: error: YAML: a tab where YAML needs spaces (it indents with "
                     "spaces, not tabs)",
                     NULL);
}

static void unknown_op(void **state)
{
    (void)state;
    tu_expect_errors("op.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  a: {op: tanh, in: x}\n"
                     "  b: {op: Transformer, in: a}\n",
                     "op.yaml:4:11: error: node 'a': unknown op 'tanh'; did you mean 'Tanh'?",
                     "op.yaml:5:11: error: node 'b': unknown op 'Transformer'\n",
                     "= note: ops: Embedding, Affine, Add,", NULL);
}

static void misspelt_attribute(void **state)
{
    (void)state;
    tu_expect_errors("attr.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  a: {op: Affine, in: x, units: 3, biass: false}\n",
                     "attr.yaml:4:36: error: node 'a': Affine has no attribute 'biass'; did you "
                     "mean 'bias'?",
                     "= note: its attributes: in, units, bias, activation", NULL);
}

static void missing_attribute(void **state)
{
    (void)state;
    tu_expect_errors("missing.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  a: {op: Affine, in: x}\n",
                     "missing.yaml:4:11: error: node 'a': Affine needs 'units'", NULL);
}

static void wrong_type(void **state)
{
    (void)state;
    tu_expect_errors("type.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  a: {op: Affine, in: x, units: 3, bias: maybe}\n"
                     "  b: {op: Affine, in: a, units: [3]}\n"
                     "  c: {op: Affine, in: b, units: 3, activation: tanhh}\n",
                     "type.yaml:4:42: error: node 'a': 'bias' must be true or false (or True, "
                     "TRUE, yes; False, FALSE, no), not 'maybe'",
                     "type.yaml:5:33: error: node 'b': 'units' must be a dim (a positive number, "
                     "a dim name or a product such as 2*H), not 'a list'",
                     "type.yaml:6:48: error: node 'c': 'activation' must be one of "
                     "none,tanh,sigmoid,relu, not 'tanhh'; did you mean 'tanh'?",
                     NULL);
}

static void out_of_range(void **state)
{
    (void)state;
    tu_expect_errors("range.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  a: {op: Dropout, in: x, p: 1.5}\n"
                     "  b: {op: Dropout, in: a, p: .nan}\n"
                     "  c: {op: Affine, in: b, units: 0}\n",
                     "range.yaml:4:30: error: node 'a': 'p' is 1.5, outside [0, 0.95]",
                     "range.yaml:5:30: error: node 'b': 'p' must be finite, not .nan",
                     "range.yaml:6:33: error: node 'c': 'units' must be a positive dim, not 0",
                     NULL);
}

static void undefined_input(void **state)
{
    (void)state;
    tu_expect_errors("undef.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  hidden: {op: Tanh, in: x}\n"
                     "  out: {op: Tanh, in: hiden}\n",
                     "undef.yaml:5:23: error: node 'out': input 'hiden' is not defined; did you "
                     "mean 'hidden'?",
                     NULL);
}

static void duplicate_names(void **state)
{
    (void)state;
    tu_expect_errors("dup.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  a: {op: Tanh, in: x}\n"
                     "  x: {op: Tanh, in: a}\n"
                     "  a: {op: ReLU, in: x, in: a}\n"
                     "  a: {op: Sigmoid, in: x}\n",
                     "dup.yaml:5:3: error: 'x' is defined twice (first as an input at line 2)",
                     "dup.yaml:6:3: error: duplicate key 'a' (first defined at line 4)",
                     "dup.yaml:6:24: error: duplicate key 'in' (first defined at line 6)",
                     /* a third copy names the first, not the second */
                     "dup.yaml:7:3: error: duplicate key 'a' (first defined at line 4)", NULL);
}

static void cycle(void **state)
{
    (void)state;
    tu_expect_errors("cycle.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  a: {op: Tanh, in: c}\n"
                     "  b: {op: Tanh, in: a}\n"
                     "  c: {op: Add, in: [b, x]}\n",
                     "cycle.yaml:5:3: error: the graph has a cycle: b -> c -> a -> b", NULL);
    /* each cycle's component once: a second one behind the first (f reads e,
     * which the first cycle feeds) and one on its own */
    heed_diag d;
    assert_int_not_equal(tu_check("cycles.yaml",
                                  "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n"
                                  "  b: {op: Add, in: [x, d]}\n  c: {op: Tanh, in: b}\n"
                                  "  d: {op: Tanh, in: c}\n  e: {op: Tanh, in: d}\n"
                                  "  f: {op: Add, in: [e, g]}\n  g: {op: Tanh, in: f}\n"
                                  "  h: {op: Tanh, in: h}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 3);
    assert_non_null(strstr(d.text, "cycles.yaml:5:3: error: the graph has a cycle: c -> d -> b -> c"));
    assert_non_null(strstr(d.text, "cycles.yaml:9:3: error: the graph has a cycle: g -> f -> g"));
    assert_non_null(strstr(d.text, "cycles.yaml:10:3: error: the graph has a cycle: h -> h"));
    /* a cycle whose first node also reads another cycle */
    assert_int_not_equal(tu_check("cycles2.yaml",
                                  "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n"
                                  "  a: {op: Add, in: [y, b]}\n  b: {op: Tanh, in: a}\n"
                                  "  y: {op: Tanh, in: y}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 2);
    assert_non_null(strstr(d.text, "the graph has a cycle: b -> a -> b"));
    assert_non_null(strstr(d.text, "the graph has a cycle: y -> y"));
    /* beside other mistakes, not after them */
    tu_expect_errors("both.yaml",
                     "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n  a: {op: Tanh, in: [x, x]}\n"
                     "  c: {op: Tanh, in: c}\n",
                     "both.yaml:4:21: error: node 'a': 'in' must name one value, not a list",
                     "both.yaml:5:3: error: the graph has a cycle: c -> c", NULL);
}

static void unbound_dim(void **state)
{
    (void)state;
    tu_expect_errors("dim.yaml",
                     "heed: 1\n"
                     "dims: {Hidden: 8}\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  a: {op: Affine, in: x, units: Hiden}\n",
                     "dim.yaml:5:33: error: node 'a': unbound dim 'Hiden'; did you mean "
                     "'Hidden'?",
                     "= note: dims are bound in dims:, by input shapes or by data vocabularies: "
                     "Hidden, B",
                     NULL);
}

static void shape_mismatch(void **state)
{
    (void)state;
    tu_expect_errors("shape.yaml",
                     "heed: 1\n"
                     "dims: {E: 8, H: 256}\n"
                     "inputs:\n"
                     "  src: [B, S]\n"
                     "  tgt: [B, T]\n"
                     "nodes:\n"
                     "  a: {op: Embedding, in: src, vocab: 10, dim: H}\n"
                     "  b: {op: Embedding, in: tgt, vocab: 10, dim: H}\n"
                     "  c: {op: Add, in: [a, b]}\n"
                     "  d: {op: Concat, in: [a, b], axis: 1}\n"
                     "  e: {op: Affine, in: [a, b], units: E}\n",
                     "shape.yaml:9:3: error: node 'c': input 2 has shape [B,T,256] but input 1 "
                     "has [B,S,256]",
                     "shape.yaml:11:3: error: node 'e': input 2 has shape [B,T,256] but input 1 "
                     "has [B,S,256]; inputs are concatenated on the last axis, so all other dims "
                     "must agree",
                     NULL);
    /* a rank error names the input at fault with its shape */
    tu_expect_errors("rank.yaml",
                     "heed: 1\ndims: {E: 8}\ninputs: {x: [B, S], t: [B, T]}\nnodes:\n"
                     "  emb: {op: Embedding, in: x, vocab: 10, dim: E}\n"
                     "  temb: {op: Embedding, in: t, vocab: 10, dim: E}\n"
                     "  pool: {op: MeanPool, in: emb}\n"
                     "  att: {op: Attention, query: temb, keys: emb, values: pool}\n"
                     "  mh: {op: MultiHeadAttention, query: emb, key: pool}\n",
                     "rank.yaml:8:3: error: node 'att': values have shape [B,8]; query, keys and "
                     "values must be [B,T,D]",
                     "rank.yaml:9:3: error: node 'mh': key has shape [B,8]; query, key and value "
                     "must be [B,T,D]",
                     NULL);
    /* lengths and widths bound by different inputs may differ at run time,
     * even where the check's default values agree */
    tu_expect_errors("runtime.yaml",
                     "heed: 1\ndims: {E: 8}\n"
                     "inputs: {x: [B, S], t: [B, T], k: [B, S, D], q: [B, T, F], y: [B, T, 8]}\n"
                     "nodes:\n"
                     "  emb: {op: Embedding, in: x, vocab: 10, dim: E}\n"
                     "  temb: {op: Embedding, in: t, vocab: 10, dim: E}\n"
                     "  mh: {op: MultiHeadAttention, query: temb, key: emb, causal: true}\n"
                     "  a: {op: Attention, query: q, keys: k}\n"
                     "  g: {op: GRU, in: y, hidden: 8, attention: {memory: k, score: dot}}\n",
                     "runtime.yaml:7:3: error: node 'mh': causal masking needs as many queries "
                     "as keys: key has shape [B,S,8] but query has [B,T,8]",
                     "runtime.yaml:8:3: error: node 'a': keys have shape [B,S,D] but query has "
                     "[B,T,F]; dot scores need equal widths",
                     "runtime.yaml:9:3: error: node 'g': attention memory has shape [B,S,D] but "
                     "the state has width 8; dot scores need equal widths",
                     NULL);
    /* a weight sized by a run-time last axis would change with each batch:
     * refused by the checker and by heed_weights_new, which sized it at the
     * default 16 before */
    static const char runtime_width[] = "heed: 1\ninputs: {x: [B, S]}\nnodes:\n"
                                        "  p: {op: Affine, in: x, units: 3}\n";
    tu_expect_errors("width.yaml", runtime_width,
                     "width.yaml:4:3: error: node 'p': parameter 'p.weight' is [3,16] with S=16 "
                     "but [3,17] with S=17: its size follows the run-time dim S",
                     NULL);
    heed_model *m = tu_model("width.yaml", runtime_width);
    heed_weights *w = NULL;
    heed_diag d;
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 1, &w, &d), HEED_ERR_SHAPE);
    assert_null(w);
    heed_model_free(m);
}

static void five_mistakes_in_one_run(void **state)
{
    (void)state;
    const char *yaml = "heed: 1\n"
                       "dims: {E: 8, H: 16}\n"
                       "inputs:\n"
                       "  x: [B, S]\n"
                       "nodes:\n"
                       "  emb: {op: Embeding, in: x, vocab: 10, dim: E}\n"
                       "  h1: {op: Affine, in: x2, units: H}\n"
                       "  h2: {op: Tanh, in: h1, mode: fast}\n"
                       "  h3: {op: Dropout, in: h2, p: 1.5}\n"
                       "  h4: {op: Affine, in: h3, units: Q}\n";
    heed_diag d;
    assert_int_not_equal(tu_check("five.yaml", yaml, &d), HEED_OK);
    assert_int_equal(d.count, 5);
    const char *expect[] = {
        "five.yaml:6:13: error: node 'emb': unknown op 'Embeding'; did you mean 'Embedding'?",
        "five.yaml:7:24: error: node 'h1': input 'x2' is not defined",
        "five.yaml:8:26: error: node 'h2': Tanh has no attribute 'mode'",
        "five.yaml:9:32: error: node 'h3': 'p' is 1.5, outside [0, 0.95]",
        "five.yaml:10:35: error: node 'h4': unbound dim 'Q'"};
    for (int i = 0; i < 5; i++)
        if (!strstr(d.text, expect[i]))
            fail_msg("missing: %s\nin:\n%s", expect[i], d.text);
    /* the first error fills the structured fields */
    assert_string_equal(d.file, "five.yaml");
    assert_int_equal(d.line, 6);
    assert_int_equal(d.column, 13);
    assert_string_equal(d.node, "emb");
}

/* Past 20 errors the text still ends with the line saying so, and an error
 * that no longer fits in the text takes its note with it: every note is
 * under its own error. The count is of errors, not of that line. */
static void long_error_lists(void **state)
{
    (void)state;
    char yaml[8192];
    size_t len = (size_t)snprintf(yaml, sizeof yaml,
                                  "heed: 1\ndims: {H: 8}\ninputs: {x: [B, 4]}\nnodes:\n");
    for (int i = 1; i <= 22; i++)
        len += (size_t)snprintf(yaml + len, sizeof yaml - len,
                                "  encoder_layer_%02d_projection: {op: Afine, in: x, units: H, "
                                "activation: relu, bias: true}\n",
                                i);
    heed_diag d;
    assert_int_not_equal(tu_check("over.yaml", yaml, &d), HEED_OK);
    assert_int_equal(d.count, 20);
    const char *end = "error: more than 20 errors; the rest of the file was not checked\n";
    size_t n = strlen(d.text);
    assert_true(n > strlen(end));
    assert_string_equal(d.text + n - strlen(end), end);
    assert_non_null(strstr(d.text, "... (the text is full: later errors and notes are not "
                                   "shown)\n"));
    /* a note follows its error's caret line or another note */
    int errors = 0;
    for (const char *p = strstr(d.text, "= note:"); p; p = strstr(p + 1, "= note:")) {
        const char *line = p;
        while (line > d.text && line[-1] != '\n')
            line--;
        assert_true(line > d.text);
        const char *prev = line - 1;
        while (prev > d.text && prev[-1] != '\n')
            prev--;
        assert_true(strstr(prev, "^\n") == line - 2 || strncmp(prev, "      = note:", 13) == 0);
    }
    for (const char *p = strstr(d.text, ": error: "); p; p = strstr(p + 1, ": error: "))
        errors++;
    assert_true(errors < 20); /* the rest did not fit in the text */
    /* when everything fits, the count is the errors shown */
    len = (size_t)snprintf(yaml, sizeof yaml, "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n");
    for (int i = 1; i <= 25; i++)
        len += (size_t)snprintf(yaml + len, sizeof yaml - len, "  n%d: {op: Tanh, in: y%d}\n", i,
                                i);
    assert_int_not_equal(tu_check("many.yaml", yaml, &d), HEED_OK);
    assert_int_equal(d.count, 20);
    assert_null(strstr(d.text, "the text is full"));
    assert_non_null(strstr(d.text, "many.yaml:23:23: error: node 'n20'"));
}

static void top_level_and_sections(void **state)
{
    (void)state;
    tu_expect_errors("top.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  a: {op: Tanh, in: x}\n"
                     "trian: {lr: 0.1}\n"
                     "train: {lr: -1, optimiser: adam}\n",
                     "top.yaml:5:1: error: unknown top-level key 'trian'; did you mean 'train'?",
                     "top.yaml:6:13: error: 'lr' is -1, outside [1e-09, 100]",
                     "top.yaml:6:17: error: unknown key 'optimiser' in train; did you mean "
                     "'optimizer'?",
                     NULL);
    tu_expect_errors("version.yaml", "heed: 2\ninputs: {x: [B]}\nnodes: {a: {op: Tanh, in: x}}\n",
                     "version.yaml:1:7: error: this heed reads language version 1, not '2'", NULL);
    tu_expect_errors("version.yaml",
                     "heed: \"1\"\ninputs: {x: [B]}\nnodes: {a: {op: Tanh, in: x}}\n",
                     "version.yaml:1:7: error: this heed reads language version 1, not '1' (a "
                     "quoted string: write heed: 1)",
                     NULL);
    /* swapped neighbours are one edit; outputs get suggestions too */
    tu_expect_errors("typo.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  tanh: {op: Tanh, in: x}\n"
                     "  u: {op: Tahn, in: x}\n",
                     "typo.yaml:5:11: error: node 'u': unknown op 'Tahn'; did you mean 'Tanh'?",
                     NULL);
    /* a list of inputs past the limit is one error, at the first one too many */
    char many[1024];
    int len = snprintf(many, sizeof many, "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n  s: {op: Sum, in: [x");
    for (int i = 1; i < 40; i++)
        len += snprintf(many + len, sizeof many - (size_t)len, ", x");
    snprintf(many + len, sizeof many - (size_t)len, "]}\n");
    heed_diag dm;
    assert_int_not_equal(tu_check("many.yaml", many, &dm), HEED_OK);
    assert_int_equal(dm.count, 1);
    assert_non_null(strstr(dm.text, "many.yaml:4:69: error: node 's' has more than 16 inputs"));
    /* a refused node's users are not reported again: one error, not three */
    heed_diag d;
    assert_int_not_equal(tu_check("typo.yaml",
                                  "heed: 1\n"
                                  "inputs: {x: [B, S, 4]}\n"
                                  "nodes:\n"
                                  "  enc: {op: GRUU, in: x, hidden: 4}\n"
                                  "  dec: {op: GRU, in: x, hidden: 4}\n"
                                  "  init: {op: Affine, in: enc.state, units: 4}\n"
                                  "  att: {op: Attention, score: dot, query: dec, keys: enc}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.text, "node 'enc': unknown op 'GRUU'; did you mean 'GRU'?"));
    tu_expect_errors("typo.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  tanh: {op: Tanh, in: x}\n"
                     "  u: {op: Tanh, in: tahn}\n",
                     "typo.yaml:5:21: error: node 'u': input 'tahn' is not defined; did you mean "
                     "'tanh'?",
                     NULL);
    tu_expect_errors("typo.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  tanh: {op: Tanh, in: x}\n"
                     "outputs: [tnah]\n",
                     "typo.yaml:5:11: error: output 'tnah' is not a value of the model; did you "
                     "mean 'tanh'?",
                     NULL);
    tu_expect_errors("empty.yaml", "", "empty.yaml: error: the model file is empty", NULL);
    tu_expect_errors("list.yaml", "- 1\n- 2\n",
                     "list.yaml:1:1: error: a model file is a mapping (heed: 1, inputs:, nodes: "
                     "...), not a list",
                     NULL);
}

static void ids_and_floats(void **state)
{
    (void)state;
    /* the long form of an input: shape and dtype */
    heed_model *m = tu_model("long.yaml", "heed: 1\n"
                                          "inputs: {x: {shape: [B, S, 3], dtype: ids}}\n"
                                          "nodes:\n  e: {op: Embedding, in: x, vocab: 5, dim: 2}\n");
    heed_tensor t;
    assert_int_equal(heed_model_input(m, 0, &t), HEED_OK);
    assert_int_equal(t.dtype, HEED_I32);
    assert_int_equal(t.rank, 3);
    /* the names of its axes' dims; a literal has none */
    assert_string_equal(heed_model_input_dim(m, 0, 0), "B");
    assert_string_equal(heed_model_input_dim(m, 0, 1), "S");
    assert_null(heed_model_input_dim(m, 0, 2));
    assert_null(heed_model_input_dim(m, 0, 3));
    assert_null(heed_model_input_dim(m, 1, 0));
    assert_null(heed_model_input_dim(NULL, 0, 0));
    heed_model_free(m);
    tu_expect_errors("long.yaml", "heed: 1\ninputs: {x: {shape: B, dtype: float}}\n"
                                  "nodes:\n  e: {op: Tanh, in: x}\n",
                     "long.yaml:2:21: error: 'shape' must be a list, not a scalar", NULL);
    heed_diag d;
    assert_int_not_equal(tu_check("long.yaml", "heed: 1\ninputs: {x: {shape: B}}\n"
                                                "nodes:\n  e: {op: Tanh, in: x}\n", &d),
                         HEED_OK);
    assert_int_equal(d.count, 1); /* no follow-on errors about x */
    tu_expect_errors("ids.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, S]}\n"
                     "nodes:\n"
                     "  a: {op: Embedding, in: x, vocab: 10, dim: 4}\n"
                     "  b: {op: Embedding, in: a, vocab: 10, dim: 4}\n",
                     "ids.yaml:5:26: error: node 'b': 'in' takes token ids, but 'a' is a float "
                     "tensor made by node 'a'",
                     NULL);
    /* the other way round: ids where floats are read would be int32 bits
     * read as floats, whether declared ids or read as ids by another node */
    tu_expect_errors("ids.yaml",
                     "heed: 1\n"
                     "inputs: {x: {shape: [B, 3], dtype: ids}}\n"
                     "nodes:\n"
                     "  t: {op: Tanh, in: x}\n",
                     "ids.yaml:4:21: error: node 't': 'in' reads floats, but input 'x' holds "
                     "token ids (it is declared dtype: ids); an Embedding turns ids into vectors",
                     NULL);
    tu_expect_errors("ids.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, S]}\n"
                     "nodes:\n"
                     "  t: {op: Tanh, in: x}\n"
                     "  a: {op: Embedding, in: x, vocab: 10, dim: 4}\n",
                     "ids.yaml:4:21: error: node 't': 'in' reads floats, but input 'x' holds "
                     "token ids (another node reads it as ids); an Embedding turns ids into "
                     "vectors",
                     NULL);
    tu_expect_errors("ids.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, S]}\n"
                     "data: {x: {column: 0, vocab: V}}\n"
                     "nodes:\n"
                     "  t: {op: Tanh, in: x}\n",
                     "ids.yaml:5:21: error: node 't': 'in' reads floats, but input 'x' holds "
                     "token ids (a data field fills it); an Embedding turns ids into vectors",
                     NULL);
    /* a vocabulary's size comes from the data: not from dims:, nor from a shape */
    tu_expect_errors("voc.yaml",
                     "heed: 1\n"
                     "dims: {V: 10}\n"
                     "inputs: {x: [B, S], y: [B, V]}\n"
                     "data: {x: {column: 0, vocab: V}}\n"
                     "nodes:\n"
                     "  e: {op: Embedding, in: x, vocab: V, dim: 4}\n",
                     "voc.yaml:4:30: error: dim 'V' is fixed in dims:; a vocabulary size comes "
                     "from the data (remove it from dims:, or bind it with --dim V=N where there "
                     "is no data)",
                     NULL);
    tu_expect_errors("voc.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, S], y: [B, V]}\n"
                     "data: {x: {column: 0, vocab: V}}\n"
                     "nodes:\n"
                     "  e: {op: Embedding, in: x, vocab: V, dim: 4}\n",
                     "voc.yaml:3:30: error: dim 'V' is bound by an input shape; it cannot also be "
                     "a vocabulary size",
                     NULL);
}

static const char *block_model =
    "heed: 1\n"
    "dims: {E: 6}\n"
    "inputs: {x: [B, S, E]}\n"
    "blocks:\n"
    "  layer:\n"
    "    inputs: [h]\n"
    "    params: {units: 6, act: tanh}\n"
    "    nodes:\n"
    "      proj: {op: Affine, in: h, units: units, activation: act}\n"
    "      res: {op: Add, in: [h, proj]}\n"
    "    output: res\n"
    "nodes:\n"
    "  stack: {block: layer, in: x, repeat: 3, act: relu}\n"
    "  one: {block: layer, h: stack}\n"
    "  out: {op: Tanh, in: one}\n";

static void blocks_repeat(void **state)
{
    (void)state;
    heed_model *m = tu_model("block.yaml", block_model);
    heed_plan *p;
    heed_diag d;
    assert_int_equal(heed_plan_new(m, NULL, 0, HEED_MODE_INFER, &p, &d), HEED_OK);
    /* 3 repetitions of 2 nodes, one more instance of 2, and out */
    assert_int_equal(heed_plan_node_count(p), 9);
    const char *names[] = {"stack.0.proj", "stack.0.res", "stack.1.proj", "stack.1.res",
                           "stack.2.proj", "stack.2.res", "one.proj", "one.res", "out"};
    for (size_t i = 0; i < 9; i++) {
        heed_node_info info;
        heed_plan_node_info(p, i, &info);
        assert_string_equal(info.name, names[i]);
        assert_string_equal(info.shape_text, "[B,S,6]");
    }
    heed_plan_free(p);
    heed_weights *w;
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 1, &w, &d), HEED_OK);
    heed_tensor t;
    assert_int_equal(heed_weights_find(w, "stack.1.proj.weight", &t), HEED_OK);
    assert_int_equal(t.shape[0], 6);
    assert_int_equal(heed_weights_find(w, "one.proj.bias", &t), HEED_OK);
    assert_int_equal(heed_weights_count(w), 8);
    heed_weights_free(w);
    heed_model_free(m);
}

static void block_errors(void **state)
{
    (void)state;
    /* one mistake in a repeated block's argument is one error, not one per
     * copy of the block */
    heed_diag d;
    assert_int_not_equal(tu_check("rep.yaml",
                                  "heed: 1\n"
                                  "dims: {E: 6}\n"
                                  "inputs: {x: [B, S, E]}\n"
                                  "blocks:\n"
                                  "  layer:\n"
                                  "    inputs: [h]\n"
                                  "    params: {act: tanh}\n"
                                  "    nodes:\n"
                                  "      proj: {op: Affine, in: h, units: 6, activation: act}\n"
                                  "nodes:\n"
                                  "  stack: {block: layer, in: x, repeat: 3, act: tahn}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.text, "rep.yaml:11:48: error: node 'stack.0.proj': 'activation' "
                                   "must be one of none,tanh,sigmoid,relu, not 'tahn'; did you "
                                   "mean 'tanh'?"));
    /* the same for an unknown attribute, its note said once too; a block
     * output that is no node is said at the block, not again by each user */
    assert_int_not_equal(tu_check("rep.yaml",
                                  "heed: 1\n"
                                  "inputs: {x: [B, 6]}\n"
                                  "blocks:\n"
                                  "  layer:\n"
                                  "    inputs: [h]\n"
                                  "    nodes:\n"
                                  "      proj: {op: Affine, in: h, units: 6, unitz: 2}\n"
                                  "    output: res\n"
                                  "nodes:\n"
                                  "  stack: {block: layer, in: x, repeat: 3}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 2);
    assert_non_null(strstr(d.text, "rep.yaml:8:13: error: block 'layer': output 'res' is not "
                                   "one of its nodes"));
    const char *note = strstr(d.text, "note: its attributes");
    assert_non_null(note);
    assert_null(strstr(note + 1, "note: its attributes"));
    /* distinct errors at one place are all said, also when they differ
     * only in digits that are no copy's index */
    assert_int_not_equal(tu_check("h12.yaml",
                                  "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n"
                                  "  a: {op: Affine, in: x, units: H1*H2}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 2);
    assert_non_null(strstr(d.text, "unbound dim 'H2'"));
    assert_int_not_equal(tu_check("two.yaml", "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n  a: {op: Affine}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 2);
    assert_non_null(strstr(d.text, "two.yaml:4:11: error: node 'a': Affine needs 'in'"));
    assert_non_null(strstr(d.text, "two.yaml:4:11: error: node 'a': Affine needs 'units'"));
    tu_expect_errors("blockerr.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "blocks:\n"
                     "  layer: {inputs: [h], nodes: {a: {op: Tanh, in: h}}}\n"
                     "nodes:\n"
                     "  s: {block: layr, in: x}\n"
                     "  t: {block: layer, in: x, heads: 4}\n",
                     "blockerr.yaml:6:14: error: node 's': unknown block 'layr'; did you mean "
                     "'layer'?",
                     "blockerr.yaml:7:28: error: node 't': block layer has no input or parameter "
                     "'heads'",
                     NULL);
}

static void hash_ignores_comments_and_order(void **state)
{
    (void)state;
    heed_model *a = tu_model("a.yaml", "heed: 1\n"
                                       "inputs: {x: [B, 4]}\n"
                                       "nodes:\n"
                                       "  h: {op: Affine, in: x, units: 3}\n"
                                       "  o: {op: Tanh, in: h}\n");
    heed_model *b = tu_model("b.yaml", "# the same graph, written differently\n"
                                       "heed: 1\n"
                                       "nodes:\n"
                                       "  o: {in: h, op: Tanh}   # defined before its input\n"
                                       "  h: {units: 3, op: Affine, in: x}\n"
                                       "inputs: {x: [B, 4]}\n"
                                       "train: {lr: 0.5}\n");
    heed_model *c = tu_model("c.yaml", "heed: 1\n"
                                       "inputs: {x: [B, 4]}\n"
                                       "nodes:\n"
                                       "  h: {op: Affine, in: x, units: 5}\n"
                                       "  o: {op: Tanh, in: h}\n");
    assert_true(heed_model_hash(a) == heed_model_hash(b));
    assert_true(heed_model_hash(a) != heed_model_hash(c));
    heed_model_free(a);
    heed_model_free(b);
    heed_model_free(c);
}

static void secondary_outputs(void **state)
{
    (void)state;
    /* an output a node does not have is named with the node and the op */
    tu_expect_errors("port.yaml",
                     "heed: 1\n"
                     "inputs: {x: [B, 4]}\n"
                     "nodes:\n"
                     "  a: {op: Tanh, in: x.state}\n",
                     "port.yaml:4:21: error: node 'a': input 'x.state' is not defined", NULL);
}

/* YAML the reader takes but the language does not: a merge key is named as
 * such; a reader error's column counts characters, not bytes. */
static void yaml_merge_keys_and_columns(void **state)
{
    (void)state;
    tu_expect_errors("merge.yaml",
                     "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n"
                     "  a: &aff {op: Affine, in: x, units: 4}\n  b: {<<: *aff, units: 2}\n",
                     "merge.yaml:5:7: error: merge keys ('<<') are not supported", NULL);
    tu_expect_errors("quoted.yaml",
                     "heed: 1\ndims: {E: \"4\"}\ninputs: {x: [B, 4]}\nnodes:\n"
                     "  a: {op: Affine, in: x, units: 2, bias: 'true'}\n",
                     "quoted.yaml:2:11: error: dim 'E' must be a positive integer up to "
                     "2147483648, not '4' (it is in quotes, which make it text: write it "
                     "without them)",
                     "'bias' must be true or false (or True, TRUE, yes; False, FALSE, no), not "
                     "'true' (it is in quotes",
                     NULL);
    tu_expect_errors("shape.yaml",
                     "heed: 1\ninputs: {x: [B, \"4\"], y: [B, [4]]}\nnodes:\n"
                     "  a: {op: Add, in: [x, y]}\n",
                     "shape.yaml:2:17: error: input 'x': dim 2 must be a number or a dim name, "
                     "not '4' (it is in quotes, which make it text: write it without them)",
                     "shape.yaml:2:30: error: input 'y': dim 2 must be a number or a dim name, "
                     "not a list",
                     NULL);
    tu_expect_errors("ctl.yaml", "heed: 1\ndoc: \xc3\xa9\xc3\xa9\x01\n",
                     "ctl.yaml:2:8: error: YAML: control characters are not allowed", NULL);
    /* a mistake in an aliased value is reported where the alias is used,
     * each use once */
    heed_diag d;
    assert_int_not_equal(tu_check("alias.yaml",
                                  "heed: 1\ndims: {E: 8}\ninputs: {x: [B, S]}\nnodes:\n"
                                  "  emb: {op: Embedding, in: &v x, vocab: 10, dim: E}\n"
                                  "  d: {op: Dropout, in: emb, p: &p 0.5}\n"
                                  "  a: {op: Affine, in: emb, units: *v}\n"
                                  "  b: {op: Affine, in: emb, units: 4, bias: *p}\n"
                                  "  c: {op: Affine, in: emb, units: 4, bias: *p}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 3);
    assert_non_null(strstr(d.text, "alias.yaml:7:35: error: node 'a': unbound dim 'x'"));
    assert_non_null(strstr(d.text, "alias.yaml:8:44: error: node 'b': 'bias' must be"));
    assert_non_null(strstr(d.text, "alias.yaml:9:44: error: node 'c': 'bias' must be"));
}

/* A parameter's value is read where the instance wrote it: an outer
 * block's parameter passed on to an inner block, a value name meaning the
 * caller's node (not the block's node of that name), in lists too. */
/* An instance may set any of its block's parameters, however many the
 * block has: the 60th was refused as unknown (the keys were matched against
 * a list that stopped at about 50). */
static void many_block_parameters(void **state)
{
    (void)state;
    char yaml[4096];
    size_t len = (size_t)snprintf(yaml, sizeof yaml,
                                  "heed: 1\ninputs: {x: [B, 4]}\nblocks:\n  lin:\n"
                                  "    inputs: [h]\n    params: {");
    for (int i = 0; i < 60; i++)
        len += (size_t)snprintf(yaml + len, sizeof yaml - len, "%sp%d: 2", i ? ", " : "", i);
    snprintf(yaml + len, sizeof yaml - len,
             "}\n    nodes:\n      a: {op: Affine, in: h, units: p59}\n"
             "nodes:\n  l: {block: lin, in: x, p59: 5}\n");
    heed_diag d;
    assert_int_equal(tu_check("many.yaml", yaml, &d), HEED_OK);
    heed_model *m = tu_model("many.yaml", yaml);
    heed_plan *p;
    assert_int_equal(heed_plan_new(m, NULL, 0, HEED_MODE_INFER, &p, &d), HEED_OK);
    heed_node_info info;
    bool found = false;
    for (size_t i = 0; i < heed_plan_node_count(p); i++) {
        assert_int_equal(heed_plan_node_info(p, i, &info), HEED_OK);
        if (!strcmp(info.name, "l.a")) {
            found = true;
            assert_int_equal(info.shape[1], 5); /* p59: 5 from the instance */
        }
    }
    assert_true(found);
    heed_plan_free(p);
    heed_model_free(m);
}

static void block_parameters_from_the_caller(void **state)
{
    (void)state;
    tu_run r = tu_run_new("params.yaml",
                          "heed: 1\ndims: {D: 4}\ninputs: {x: [B, D]}\n"
                          "blocks:\n"
                          "  lin:\n    inputs: [h]\n    params: {units: 8, act: none}\n"
                          "    nodes:\n      p: {op: Affine, in: h, units: units, activation: act}\n"
                          "  mlp:\n    inputs: [h]\n    params: {width: 32, act2: relu}\n"
                          "    nodes:\n      q: {block: lin, in: h, units: width, act: act2}\n"
                          "  pick:\n    inputs: [h]\n    params: {other: h}\n"
                          "    nodes:\n      a: {op: Sigmoid, in: h}\n"
                          "      o: {op: Tanh, in: other}\n"
                          "      c: {op: Concat, in: [a, other]}\n"
                          "nodes:\n  m: {block: mlp, in: x, width: 3, act2: tanh}\n"
                          "  a: {op: ReLU, in: x}\n  s: {block: pick, in: x, other: a}\n"
                          "  t: {block: pick, in: x}\n",
                          HEED_MODE_INFER);
    heed_tensor w;
    assert_int_equal(heed_weights_find(r.w, "m.q.p.weight", &w), HEED_OK);
    assert_int_equal(w.shape[0], 3); /* width: 3 through mlp into lin */
    const float x[4] = {1.0f, -2.0f, 0.5f, 3.0f};
    tu_set_f32(&r, "x", 2, (const int64_t[]){1, 4}, x);
    heed_diag d;
    assert_int_equal(heed_session_forward(r.s, &d), HEED_OK);
    float relu[4], sig[4], tanh_relu[4], tanh_x[4], cat[8];
    for (int i = 0; i < 4; i++) {
        relu[i] = x[i] > 0 ? x[i] : 0.0f;
        sig[i] = 1.0f / (1.0f + expf(-x[i]));
        tanh_relu[i] = tanhf(relu[i]);
        tanh_x[i] = tanhf(x[i]);
        cat[i] = sig[i];
        cat[4 + i] = relu[i];
    }
    tu_expect(tu_get(&r, "s.o"), tanh_relu, 4, 1e-6, "s.o reads the caller's a");
    tu_expect(tu_get(&r, "s.c"), cat, 8, 1e-6, "s.c lists the caller's a");
    tu_expect(tu_get(&r, "t.o"), tanh_x, 4, 1e-6, "t.o reads the default, the block's h");
    const float *m = tu_get(&r, "m.q.p");
    for (int i = 0; i < 3; i++)
        assert_true(m[i] > -1.0f && m[i] < 1.0f); /* act: tanh passed through */
    tu_run_free(&r);
}

/* One mistake, one error: a refused data field's vocabulary is not then
 * an unbound dim; a merge key is not also an unknown key, nor a repeated
 * input also a name defined twice. */
static void said_once(void **state)
{
    (void)state;
    heed_diag d;
    assert_int_not_equal(tu_check("field.yaml",
                                  "heed: 1\ninputs: {word: [B, S]}\n"
                                  "data:\n  word: {column: 0, tokens: char, vocab: V}\n"
                                  "  wrd: {column: 1, vocab: W}\n"
                                  "nodes:\n  emb: {op: Embedding, in: word, vocab: V, dim: 4}\n"
                                  "  e2: {op: Embedding, in: word, vocab: W, dim: 4}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 2);
    assert_non_null(strstr(d.text, "field.yaml:4:29: error: 'tokens' must be one of "
                                   "chars,words,label, not 'char'; did you mean 'chars'?"));
    assert_non_null(strstr(d.text, "field.yaml:5:3: error: data field 'wrd' is not a model "
                                   "input; did you mean 'word'?"));
    assert_int_not_equal(tu_check("merge.yaml",
                                  "heed: 1\ninputs:\n  x: [B, 4]\n  x: [B, 5]\nnodes:\n"
                                  "  a: {op: Affine, in: x, units: 4, <<: {bias: false}}\n"
                                  "train: {<<: {lr: 0.1}}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 3);
    assert_non_null(strstr(d.text, "merge.yaml:4:3: error: duplicate key 'x' (first defined at "
                                   "line 3)"));
    assert_non_null(strstr(d.text, "merge.yaml:6:36: error: merge keys ('<<') are not "
                                   "supported"));
    assert_non_null(strstr(d.text, "merge.yaml:7:9: error: merge keys ('<<') are not "
                                   "supported"));
}

/* Scalars as YAML 1.2 reads them: TRUE and FALSE are booleans (yes and
 * no still are); a hex float is text, not a number; an empty outputs: is
 * said to be empty. */
static void scalars(void **state)
{
    (void)state;
    heed_model *m = tu_model("bool.yaml", "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n"
                                          "  a: {op: Affine, in: x, units: 2, bias: FALSE}\n"
                                          "  b: {op: Affine, in: a, units: 2, bias: TRUE}\n"
                                          "  c: {op: Affine, in: b, units: 2, bias: no}\n");
    heed_weights *w;
    heed_diag d;
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 1, &w, &d), HEED_OK);
    heed_tensor t;
    assert_int_not_equal(heed_weights_find(w, "a.bias", &t), HEED_OK);
    assert_int_equal(heed_weights_find(w, "b.bias", &t), HEED_OK);
    assert_int_not_equal(heed_weights_find(w, "c.bias", &t), HEED_OK);
    heed_weights_free(w);
    heed_model_free(m);
    tu_expect_errors("scalar.yaml",
                     "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n"
                     "  a: {op: Affine, in: x, units: 2, bias: On}\n"
                     "  d: {op: Dropout, in: a, p: 0x0.1p0}\noutputs:\n",
                     "scalar.yaml:4:42: error: node 'a': 'bias' must be true or false (or True, "
                     "TRUE, yes; False, FALSE, no), not 'On'",
                     "scalar.yaml:5:30: error: node 'd': 'p' must be a number, not '0x0.1p0'",
                     "scalar.yaml:6:9: error: 'outputs' is empty: list the values to keep "
                     "readable, e.g. outputs: [logits], or leave it out",
                     NULL);
}

/* Details of messages: a state's batch dim as its input names it; a
 * second 'loss' at its key, as other names are; a line break in a value
 * quoted is written \\n, so no text of the file reads as a line of its own. */
static void message_details(void **state)
{
    (void)state;
    tu_expect_errors("state.yaml",
                     "heed: 1\ninputs: {x: [N, S, 8]}\nnodes:\n"
                     "  g: {op: GRU, in: x, hidden: 4, state: x}\n"
                     "  l: {op: LSTM, in: x, hidden: 4, state: x}\n",
                     "state.yaml:4:3: error: node 'g': state has shape [N,S,8] but this node "
                     "needs [N,4]\n",
                     "state.yaml:5:3: error: node 'l': state has shape [N,S,8] but this node "
                     "needs [N,4] (h) or twice that wide (h and c)\n",
                     NULL);
    tu_expect_errors("loss.yaml",
                     "heed: 1\ninputs: {x: [B, 4], y: [B, 4]}\nnodes:\n"
                     "  loss: {op: Tanh, in: x}\nloss: {op: MSE, in: x, target: y}\n",
                     "loss.yaml:5:1: error: 'loss' is defined twice (first as a node at line 4)",
                     NULL);
    heed_diag d;
    assert_int_not_equal(tu_check("nl.yaml",
                                  "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n"
                                  "  a:\n    op: Affine\n    in: x\n    units: 2\n"
                                  "    activation: |\n      relu\n"
                                  "      fake.yaml:1:1: error: forged\n",
                                  &d),
                         HEED_OK);
    assert_non_null(strstr(d.text, "nl.yaml:8:17: error: node 'a': 'activation' must be one of "
                                   "none,tanh,sigmoid,relu, not 'relu\\nfake.yaml:1:1: error: "
                                   "forged\\n'\n"));
    assert_null(strstr(d.text, "\nfake.yaml"));
    assert_null(strchr(d.message, '\n'));
}

/* Did-you-mean never offers a node as its own input (a cycle), covers the
 * names decode: gives, and a block's parameter names where a value inside
 * the block names one. */
static void suggestions(void **state)
{
    (void)state;
    heed_diag d;
    assert_int_not_equal(tu_check("self.yaml",
                                  "heed: 1\ninputs: {x: [B, 4]}\nblocks:\n"
                                  "  l:\n    inputs: [h]\n    nodes:\n"
                                  "      o: {op: Tanh, in: h}\n"
                                  "nodes:\n  hidden: {op: Tanh, in: hiden}\n"
                                  "  stack: {block: l, in: stak}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 2);
    assert_non_null(strstr(d.text, "self.yaml:9:26: error: node 'hidden': input 'hiden' is not "
                                   "defined\n"));
    assert_non_null(strstr(d.text, "self.yaml:10:25: error: node 'stack': input 'stak' is not "
                                   "defined\n"));
    tu_expect_errors("decode.yaml",
                     "heed: 1\ninputs: {src: [B, S], tgt: [B, T]}\nnodes:\n"
                     "  te: {op: Embedding, in: tgt, vocab: 10, dim: 8}\n"
                     "  dec: {op: GRU, in: te, hidden: 8, attention: {memory: te}}\n"
                     "  logits: {op: Affine, in: dec, units: 10}\n"
                     "decode: {input: tgtt, logits: logit, attention: dec.weight}\n",
                     "decode.yaml:7:17: error: decode input 'tgtt' is not a model input; did you "
                     "mean 'tgt'?",
                     "decode.yaml:7:31: error: decode logits 'logit' is not a value of the model; "
                     "did you mean 'logits'?",
                     "decode.yaml:7:49: error: decode attention 'dec.weight' is not a value of "
                     "the model; did you mean 'dec.weights'?",
                     NULL);
    tu_expect_errors("param.yaml",
                     "heed: 1\ninputs: {x: [B, S, 8]}\nblocks:\n  layer:\n    inputs: [h]\n"
                     "    params: {units: 4, activation: relu}\n    nodes:\n"
                     "      p: {op: Affine, in: h, units: unit, activation: activaton}\n"
                     "nodes:\n  s: {block: layer, in: x}\n",
                     "param.yaml:8:37: error: node 's.p': unbound dim 'unit'; did you mean "
                     "'units'?",
                     "= note: parameters of the blocks it is in: units, activation",
                     "param.yaml:8:55: error: node 's.p': 'activation' must be one of "
                     "none,tanh,sigmoid,relu, not 'activaton'; did you mean 'activation'?",
                     NULL);
}

/* An instance whose output node was refused (an unknown op, a name too
 * long with its prefix) is not reported again at its users, nor offered
 * as a did-you-mean for theirs. */
static void failed_block_output(void **state)
{
    (void)state;
    heed_diag d;
    assert_int_not_equal(tu_check("out.yaml",
                                  "heed: 1\ninputs: {x: [B, 4]}\nblocks:\n"
                                  "  blk:\n    inputs: [h]\n    nodes:\n"
                                  "      p: {op: Tanhh, in: h}\n"
                                  "nodes:\n  st: {block: blk, in: x}\n  o: {op: Tanh, in: st}\n"
                                  "  u: {op: Tanh, in: su}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 2);
    assert_non_null(strstr(d.text, "out.yaml:11:21: error: node 'u': input 'su' is not "
                                   "defined\n"));
    char yaml[1024], name[256];
    memset(name, 'n', 254);
    name[254] = '\0';
    snprintf(yaml, sizeof yaml,
             "heed: 1\ninputs: {x: [B, 4]}\nblocks:\n"
             "  blk:\n    inputs: [h]\n    nodes:\n      p: {op: Tanh, in: h}\n"
             "nodes:\n  %s: {block: blk, in: x}\n  o: {op: Tanh, in: %s}\n",
             name, name);
    assert_int_not_equal(tu_check("long.yaml", yaml, &d), HEED_OK);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.text, "is longer than 255 bytes (with its blocks' prefixes)"));
}

/* A block input given as a parameter of the enclosing block takes the
 * value that block's instance gave (or its default), as attributes do. */
static void block_inputs_passed_on(void **state)
{
    (void)state;
    const char *yaml = "heed: 1\ninputs: {x: [B, S, 8], y: [B, S, 6]}\nblocks:\n"
                       "  inner:\n    inputs: [h]\n    params: {u: 4}\n"
                       "    nodes:\n      p: {op: Affine, in: h, units: u}\n"
                       "  outer:\n    inputs: [h]\n    params: {src: h, w: 5}\n"
                       "    nodes:\n      i1: {block: inner, in: src, u: w}\n"
                       "nodes:\n  o: {block: outer, in: x, src: y}\n"
                       "  d: {block: outer, in: x}\n  t: {op: Add, in: [o, d]}\n";
    heed_model *m = tu_model("passon.yaml", yaml);
    heed_weights *w;
    heed_diag d;
    assert_int_equal(heed_weights_new(m, NULL, NULL, 0, 1, &w, &d), HEED_OK);
    heed_tensor t;
    assert_int_equal(heed_weights_find(w, "o.i1.p.weight", &t), HEED_OK);
    assert_int_equal(t.shape[0], 5);
    assert_int_equal(t.shape[1], 6); /* src: y */
    assert_int_equal(heed_weights_find(w, "d.i1.p.weight", &t), HEED_OK);
    assert_int_equal(t.shape[1], 8); /* the default: outer's own input h, here x */
    heed_weights_free(w);
    heed_model_free(m);
}

/* A mistake in the value an instance gives a block's input is the
 * instance's: said where that value was written, once per instance (not
 * once per node of the block reading it), for an input passed on through
 * an enclosing block at the outermost instance, and for a value of the wrong
 * dtype too; a mistake the block makes with a good value stays in the block. */
static void block_input_mistakes_at_the_instance(void **state)
{
    (void)state;
    heed_diag d;
    const char *yaml = "heed: 1\ninputs:\n  x: [B, S, 8]\nblocks:\n  layer:\n"
                       "    inputs: [h]\n    nodes:\n      p: {op: Affine, in: h, units: 4}\n"
                       "      q: {op: Add, in: [p, h]}\n"
                       "nodes:\n  emb: {op: Tanh, in: x}\n"
                       "  s: {block: layer, in: embb, repeat: 2}\n  t: {block: layer, in: embb}\n";
    assert_int_not_equal(tu_check("inst.yaml", yaml, &d), HEED_OK);
    assert_int_equal(d.count, 2);
    assert_non_null(strstr(d.text, "inst.yaml:12:25: error: node 's': input 'embb' is not "
                                   "defined; did you mean 'emb'?"));
    assert_non_null(strstr(d.text, "inst.yaml:13:25: error: node 't': input 'embb' is not "
                                   "defined; did you mean 'emb'?"));
    tu_expect_errors("passed.yaml",
                     "heed: 1\ninputs: {x: [B, S, 8], ids: [B, S]}\nblocks:\n"
                     "  inner:\n    inputs: [h]\n    nodes:\n"
                     "      p: {op: Affine, in: h, units: 4}\n      q: {op: Tanh, in: h.state}\n"
                     "  outer:\n    inputs: [g]\n    params: {src: g, dflt: gg}\n"
                     "    nodes:\n      i1: {block: inner, in: src}\n"
                     "      i2: {block: inner, in: dflt}\n      i3: {block: inner, in: g}\n"
                     "nodes:\n  o: {block: outer, in: x, src: xx}\n  o2: {block: outer, in: xy}\n",
                     "passed.yaml:17:33: error: node 'o.i1': input 'xx' is not defined",
                     "passed.yaml:11:28: error: node 'o.i2': input 'gg' is not defined",
                     "passed.yaml:8:25: error: node 'o.i3.q': input 'x.state' is not defined",
                     "passed.yaml:18:26: error: node 'o2': input 'xy' is not defined", NULL);
    tu_expect_errors("dtype.yaml",
                     "heed: 1\ninputs: {x: {shape: [B, S, 8], dtype: float}}\nblocks:\n"
                     "  emb:\n    inputs: [t]\n    nodes:\n"
                     "      e: {op: Embedding, in: t, vocab: 5, dim: 4}\n"
                     "  wrap:\n    inputs: [u]\n    nodes:\n      w: {block: emb, in: u}\n"
                     "nodes:\n  t1: {op: Tanh, in: x}\n  e1: {block: emb, in: t1}\n"
                     "  e2: {block: wrap, in: x}\n",
                     "dtype.yaml:14:24: error: node 'e1.e': 'in' takes token ids, but 't1' is a "
                     "float tensor made by node 't1'",
                     "dtype.yaml:15:25: error: node 'e2.w.e': 'in' takes token ids, but input "
                     "'x' is declared float",
                     NULL);
}

/* Models that would do something other than what they say: sizes from a
 * run-time dim (in a product, or as a layer count), a label field with bos,
 * a float input filled with ids, an output listed that is never made, a
 * block node hidden by an input. */
static void silent_mistakes_refused(void **state)
{
    (void)state;
    tu_expect_errors("bh.yaml", "heed: 1\ndims: {H: 4}\ninputs: {x: [B, S, 8]}\nnodes:\n"
                                "  a: {op: Affine, in: x, units: B*H}\n",
                     "bh.yaml:5:33: error: node 'a': 'units': 'B*H' depends on the run-time dim "
                     "'B' (bound by each batch's inputs)",
                     NULL);
    tu_expect_errors("layers.yaml", "heed: 1\ninputs: {x: [B, T, 8]}\nnodes:\n"
                                    "  r: {op: GRU, in: x, hidden: 4, layers: T}\n",
                     "node 'r': 'layers': 'T' depends on the run-time dim 'T'", NULL);
    tu_expect_errors("label.yaml",
                     "heed: 1\ninputs: {x: [B, S], y: [B]}\n"
                     "data:\n  x: {column: 0, vocab: V}\n"
                     "  y: {column: 1, tokens: label, vocab: C, bos: true, reverse: true}\n"
                     "nodes:\n  e: {op: Embedding, in: x, vocab: V, dim: 4}\n"
                     "  p: {op: MeanPool, in: e}\n  l: {op: Affine, in: p, units: C}\n"
                     "loss: {op: CrossEntropy, logits: l, target: y}\n",
                     "label.yaml:5:48: error: data field 'y' holds one label per row: 'bos' is "
                     "for tokens: chars or words",
                     "data field 'y' holds one label per row: 'reverse'", NULL);
    tu_expect_errors("float.yaml",
                     "heed: 1\ninputs: {x: {shape: [B, S], dtype: float}}\n"
                     "data:\n  x: {column: 0, vocab: V}\n"
                     "nodes:\n  e: {op: Embedding, in: x, vocab: V, dim: 4}\n",
                     "float.yaml:4:3: error: input 'x' is declared dtype: float, but data field "
                     "'x' fills it with token ids",
                     NULL);
    /* a dataset row keeps 8 fields' ids: a ninth was refused only when
     * training read the data */
    const char *fields_yaml =
        "heed: 1\ninputs: {a: [B, S], b: [B, S], c: [B, S], d: [B, S], e: [B, S],\n"
        "         f: [B, S], g: [B, S], h: [B, S], i: [B, S]}\n"
        "data:\n  a: {column: 0, vocab: V}\n  b: {column: 1, vocab: V}\n"
        "  c: {column: 2, vocab: V}\n  d: {column: 3, vocab: V}\n"
        "  e: {column: 4, vocab: V}\n  f: {column: 5, vocab: V}\n"
        "  g: {column: 6, vocab: V}\n  h: {column: 7, vocab: V}\n"
        "  i: {column: 8, vocab: W}\n"
        "nodes:\n  x: {op: Embedding, in: a, vocab: V, dim: 4}\n"
        "  y: {op: Embedding, in: i, vocab: W, dim: 4}\n";
    tu_expect_errors("fields.yaml", fields_yaml,
                     "fields.yaml:13:3: error: a model reads at most 8 data fields; 'i' is the "
                     "9th",
                     NULL);
    /* and no more: the ninth field's vocabulary stays bound for its user */
    heed_diag fd;
    assert_int_not_equal(tu_check("fields.yaml", fields_yaml, &fd), HEED_OK);
    assert_int_equal(fd.count, 1);
    /* a quoted number is text for a dim as for an integer or a shape */
    tu_expect_errors("qdim.yaml",
                     "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n"
                     "  p: {op: Affine, in: x, units: \"16\"}\n",
                     "qdim.yaml:4:33: error: node 'p': 'units' must be a dim (a positive number, "
                     "a dim name or a product such as 2*H), not '16' (it is in quotes, which make "
                     "it text: write it without them)",
                     NULL);
    /* a parameter's default naming another parameter is not substituted
     * again: said so, not listed among the parameters as if it would work */
    tu_expect_errors("chain.yaml",
                     "heed: 1\ninputs: {x: [B, 4]}\nblocks:\n  lin:\n    inputs: [h]\n"
                     "    params: {a: b, b: 5}\n    nodes:\n"
                     "      p: {op: Affine, in: h, units: a}\n"
                     "nodes:\n  l: {block: lin, in: x}\n",
                     "chain.yaml:6:17: error: node 'l.p': unbound dim 'b' (the value of a "
                     "parameter names parameter 'b'; a parameter's value is not substituted "
                     "again: give the value itself)",
                     NULL);
    /* a model's name reaches terminals through check and inspect */
    tu_expect_errors("esc.yaml",
                     "heed: 1\nname: \"a\\e[31mred\"\ninputs: {x: [B, 4]}\n"
                     "nodes:\n  t: {op: Tanh, in: x}\n",
                     "esc.yaml:2:7: error: 'name' holds a control character (U+001B)", NULL);
    tu_expect_errors("csi.yaml",
                     "heed: 1\nname: \"a\\u009b31mred\"\ninputs: {x: [B, 4]}\n"
                     "nodes:\n  t: {op: Tanh, in: x}\n",
                     "csi.yaml:2:7: error: 'name' holds a control character (U+009B)", NULL);
    tu_expect_errors("inboth.yaml",
                     "heed: 1\ninputs: {x: [B, 4], y: [B, 4]}\nblocks:\n"
                     "  l:\n    inputs: [h]\n    nodes:\n      o: {op: Tanh, in: h}\n"
                     "nodes:\n  s: {block: l, in: x, h: y}\n"
                     "  t: {op: Tanh, in: s}\n",
                     "inboth.yaml:9:21: error: node 's': block l's input 'h' is given twice "
                     "(by 'in:' and 'h:')",
                     NULL);
    tu_expect_errors("noin.yaml",
                     "heed: 1\ninputs: {x: [B, 4]}\nblocks:\n"
                     "  l:\n    nodes:\n      o: {op: Tanh, in: x}\n"
                     "nodes:\n  s: {block: l, in: nonexistent}\n",
                     "noin.yaml:8:21: error: node 's': block l has no inputs, so 'in:' gives it "
                     "nothing",
                     NULL);
    /* a refused instance is not reported again at its users */
    heed_diag d;
    assert_int_not_equal(tu_check("users.yaml",
                                  "heed: 1\ninputs: {x: [B, 4]}\nblocks:\n"
                                  "  l:\n    inputs: [h]\n    nodes:\n      o: {op: Tanh, in: h}\n"
                                  "nodes:\n  s: {block: l, repeat: 3}\n  t: {op: Tanh, in: s}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 1);
    /* nor in outputs: or decode:, which are checked beside the nodes */
    assert_int_not_equal(tu_check("refused.yaml",
                                  "heed: 1\ninputs: {x: [B, 4]}\nnodes:\n"
                                  "  y: {op: Tahn, in: x}\n  z: {block: nob, in: x}\n"
                                  "outputs: [y, z, y.state]\ndecode: {logits: y, attention: z}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 2);
    /* a misspelt name inside a block, or of an instance, gets its
     * did-you-mean as names at the top do */
    tu_expect_errors("dym.yaml",
                     "heed: 1\ninputs: {x: [B, 4]}\nblocks:\n"
                     "  l:\n    inputs: [h]\n    nodes:\n"
                     "      projection: {op: Tanh, in: h}\n      o: {op: Tanh, in: projecton}\n"
                     "nodes:\n  stack: {block: l, in: x}\n  t: {op: Tanh, in: stck}\n",
                     "dym.yaml:8:25: error: node 'stack.o': input 'projecton' is not defined; "
                     "did you mean 'projection'?",
                     "dym.yaml:11:21: error: node 't': input 'stck' is not defined; did you mean "
                     "'stack'?",
                     NULL);
    /* outputs: and decode: mistakes are said beside a node's */
    tu_expect_errors("all.yaml",
                     "heed: 1\nname: [a, b]\ninputs: {x: [B, 4]}\nnodes:\n"
                     "  c: {op: Dropout, in: x, p: 0.99}\noutputs: [aa]\n"
                     "decode: {input: xx}\n",
                     "all.yaml:2:7: error: 'name' must be a name, not a list",
                     "all.yaml:5:30: error: node 'c': 'p' is 0.99, outside [0, 0.95]",
                     "all.yaml:6:11: error: output 'aa' is not a value of the model",
                     "all.yaml:7:17: error: decode input 'xx' is not a model input", NULL);
    tu_expect_errors("listed.yaml",
                     "heed: 1\ninputs: {seq: [B, T, 3]}\nnodes:\n"
                     "  r: {op: GRU, in: seq, hidden: 4}\noutputs: [r.weights]\n",
                     "listed.yaml:5:11: error: outputs: lists 'r.weights', but node 'r' (GRU) "
                     "gives no 'weights' output with these attributes",
                     NULL);
    tu_expect_errors("shadow.yaml",
                     "heed: 1\ninputs: {x: [B, 4]}\nblocks:\n  b:\n    inputs: [h, g, g]\n"
                     "    nodes:\n      h: {op: Tanh, in: h}\n      o: {op: Tanh, in: g}\n"
                     "nodes:\n  s: {block: b, h: x, g: x}\n",
                     "shadow.yaml:7:7: error: block 'b': 'h' is defined twice (first as an input "
                     "at line 5)",
                     "block 'b': input 'g' is listed twice", NULL);
    /* said once, at the definition: its instances are not reported again
     * (an input missing) nor their users (not defined) */
    assert_int_not_equal(tu_check("twice.yaml",
                                  "heed: 1\ninputs: {x: [B, 4]}\nblocks:\n  b:\n"
                                  "    inputs: [g, g]\n    nodes:\n      o: {op: Tanh, in: g}\n"
                                  "nodes:\n  s: {block: b, in: x}\n  t: {op: Tanh, in: s}\n",
                                  &d),
                         HEED_OK);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.text, "twice.yaml:5:17: error: block 'b': input 'g' is listed twice"));
    /* a block input misspelt inside the block gets its did-you-mean; in: as
     * a list (as nodes take) says how a block's other inputs are given */
    tu_expect_errors("blockin.yaml",
                     "heed: 1\ninputs: {x: [B, 4]}\nblocks:\n  b:\n"
                     "    inputs: [first, other]\n    nodes:\n"
                     "      o: {op: Add, in: [first, othr]}\n"
                     "nodes:\n  s: {block: b, in: x, other: x}\n  u: {block: b, in: [x, x]}\n",
                     "blockin.yaml:7:32: error: node 's.o': input 'othr' is not defined; did you "
                     "mean 'other'?",
                     "blockin.yaml:10:21: error: node 'u': 'in:' gives block b's first input "
                     "'first' one value, not a list; give the others by name ('other: NAME')",
                     NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(yaml_syntax_error),
        cmocka_unit_test(unknown_op),
        cmocka_unit_test(misspelt_attribute),
        cmocka_unit_test(missing_attribute),
        cmocka_unit_test(wrong_type),
        cmocka_unit_test(out_of_range),
        cmocka_unit_test(undefined_input),
        cmocka_unit_test(duplicate_names),
        cmocka_unit_test(cycle),
        cmocka_unit_test(unbound_dim),
        cmocka_unit_test(shape_mismatch),
        cmocka_unit_test(five_mistakes_in_one_run),
        cmocka_unit_test(long_error_lists),
        cmocka_unit_test(top_level_and_sections),
        cmocka_unit_test(ids_and_floats),
        cmocka_unit_test(blocks_repeat),
        cmocka_unit_test(block_errors),
        cmocka_unit_test(silent_mistakes_refused),
        cmocka_unit_test(yaml_merge_keys_and_columns),
        cmocka_unit_test(block_parameters_from_the_caller),
        cmocka_unit_test(many_block_parameters),
        cmocka_unit_test(suggestions),
        cmocka_unit_test(said_once),
        cmocka_unit_test(scalars),
        cmocka_unit_test(message_details),
        cmocka_unit_test(failed_block_output),
        cmocka_unit_test(block_inputs_passed_on),
        cmocka_unit_test(block_input_mistakes_at_the_instance),
        cmocka_unit_test(hash_ignores_comments_and_order),
        cmocka_unit_test(secondary_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
