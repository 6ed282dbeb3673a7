/*
 * test_graphs.c - the shipped graphs: each checks and passes finite
 * differences at small dims, a tiny training run lowers its loss; for the
 * seq2seq graphs, beam search of width 1 equals greedy decoding, and
 * step-by-step decoding equals the teacher-forced pass on its own output.
 */
#include <unistd.h>

#include "../runtime/runtime.h"
#include "testutil.h"

static const char *const seq2seq[] = {"graphs/bahdanau_seq2seq.yaml",
                                      "graphs/luong_dot_seq2seq.yaml"};

/* Small sizes for every dim a shipped graph may have. */
static const heed_dim small[] = {{"B", 3},     {"S", 5},     {"T", 4},     {"L", 5},
                                 {"E", 8},     {"H", 6},     {"F", 10},    {"V_src", 9},
                                 {"V_tgt", 9}, {"V", 9},     {"C", 7}};

static size_t small_dims(const heed_model *m, heed_dim *out)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        for (size_t k = 0; k < heed_model_dim_count(m); k++)
            if (!strcmp(heed_model_dim_name(m, k), small[i].name))
                out[n++] = small[i];
    return n;
}

static heed_model *load_graph(const char *rel)
{
    char path[1024];
    heed_model *m;
    heed_diag d;
    if (heed_model_load_file(tu_path(rel, path, sizeof path), NULL, &m, &d) != HEED_OK)
        fail_msg("%s", d.text);
    return m;
}

static void graphs_check_and_gradcheck(void **state)
{
    (void)state;
    const char *all[] = {"graphs/bahdanau_seq2seq.yaml", "graphs/luong_dot_seq2seq.yaml",
                         "graphs/self_attention_encoder.yaml", "graphs/char_classifier.yaml"};
    for (int g = 0; g < 4; g++) {
        heed_model *m = load_graph(all[g]);
        heed_dim dims[16];
        size_t n = small_dims(m, dims);
        heed_diag d;
        if (heed_model_check(m, dims, n, &d) != HEED_OK)
            fail_msg("%s: %s", all[g], d.text);
        heed_gradcheck_options o = {.samples = 8, .dims = dims, .n_dims = n};
        double worst = 1;
        if (heed_gradcheck(m, &o, NULL, NULL, &worst, &d) != HEED_OK)
            fail_msg("%s: %s", all[g], d.text);
        printf("  %-38s worst relative error %.2e\n", all[g], worst);
        /* whole graphs: float32 rounding through many layers (see heed gradcheck) */
        if (!(worst <= 5e-2))
            fail_msg("%s: worst relative error %.3g", all[g], worst);
        heed_model_free(m);
    }
}

/* ------------------------------------------------------------ tiny data */

/* Seq2seq rows: a word and its reversal ("abc" -> "cba"). */
static void write_reversal(const char *path, int rows, uint64_t seed)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int r = 0; r < rows; r++) {
        char w[8], rev[8];
        int len = 2 + (int)((tu_rand(&seed) + 1.0f) * 2.0f);
        for (int i = 0; i < len; i++)
            w[i] = (char)('a' + (int)((tu_rand(&seed) + 1.0f) * 3.0f));
        for (int i = 0; i < len; i++)
            rev[i] = w[len - 1 - i];
        w[len] = rev[len] = '\0';
        fprintf(f, "%s\t%s\n", w, rev);
    }
    fclose(f);
}

/* Classifier rows: a word and whether it has more a's than b's. */
static void write_classes(const char *path, int rows, uint64_t seed)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int r = 0; r < rows; r++) {
        char w[12];
        int len = 3 + (int)((tu_rand(&seed) + 1.0f) * 3.0f), a = 0;
        for (int i = 0; i < len; i++) {
            w[i] = (char)('a' + (int)((tu_rand(&seed) + 1.0f) * 1.5f));
            a += w[i] == 'a' ? 1 : w[i] == 'b' ? -1 : 0;
        }
        w[len] = '\0';
        fprintf(f, "%s\t%s\n", w, a > 0 ? "more" : "fewer");
    }
    fclose(f);
}

typedef struct trained {
    heed_model *m;
    heed_vocab *v;
    heed_weights *w;
    float first, last;
} trained;

/* Trains a graph at small dims for `steps` steps on a TSV file. */
static trained train_small(const char *rel, const char *tsv, int steps)
{
    trained t = {load_graph(rel), NULL, NULL, 0, 0};
    heed_dim dims[16];
    size_t n = small_dims(t.m, dims);
    heed_diag d;
    heed_dataset *ds;
    assert_int_equal(heed_vocab_build(t.m, tsv, &t.v, &d), HEED_OK);
    assert_int_equal(heed_dataset_load(t.m, t.v, tsv, &ds, &d), HEED_OK);
    /* the run-time dims come from the batches; only fixed sizes are given */
    heed_dim fixed[16];
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(dims[i].name, "B") && strcmp(dims[i].name, "S") && strcmp(dims[i].name, "T") &&
            strcmp(dims[i].name, "L") && dims[i].name[0] != 'V' && strcmp(dims[i].name, "C"))
            fixed[nf++] = dims[i];
    assert_int_equal(heed_weights_new(t.m, t.v, fixed, nf, 3, &t.w, &d), HEED_OK);
    heed_train_config tc;
    heed_model_train_config(t.m, &tc);
    tc.lr = 0.01f;
    heed_weights_set_train_config(t.w, &tc);
    heed_session *s;
    assert_int_equal(heed_session_new(t.w, HEED_MODE_TRAIN, &s, &d), HEED_OK);
    size_t order[512], size = heed_dataset_size(ds);
    for (int step = 0; step < steps; step++) {
        heed_dataset_shuffle(ds, 16, 1, step / (int)(size / 16), order);
        size_t at = (size_t)(step % (int)(size / 16)) * 16;
        float loss;
        assert_int_equal(heed_dataset_feed(ds, order + at, 16, s, &d), HEED_OK);
        if (heed_session_train_step(s, &loss, &d) != HEED_OK)
            fail_msg("%s: %s", rel, d.text);
        if (step == 0)
            t.first = loss;
        t.last = loss;
    }
    heed_session_free(s);
    heed_dataset_free(ds);
    return t;
}

static void trained_free(trained *t)
{
    heed_weights_free(t->w);
    heed_vocab_free(t->v);
    heed_model_free(t->m);
}

static void tiny_training_lowers_loss(void **state)
{
    (void)state;
    char s2s[] = "/tmp/heed_graphs_s2s_XXXXXX", cls[] = "/tmp/heed_graphs_cls_XXXXXX";
    close(mkstemp(s2s));
    close(mkstemp(cls));
    write_reversal(s2s, 256, 1);
    write_classes(cls, 256, 2);
    const char *graphs[] = {seq2seq[0], seq2seq[1], "graphs/self_attention_encoder.yaml",
                            "graphs/char_classifier.yaml"};
    for (int g = 0; g < 4; g++) {
        trained t = train_small(graphs[g], g < 2 ? s2s : cls, 80);
        printf("  %-38s loss %.4f -> %.4f\n", graphs[g], t.first, t.last);
        if (!(t.last < 0.7f * t.first))
            fail_msg("%s: loss %.4f -> %.4f did not fall", graphs[g], t.first, t.last);
        trained_free(&t);
    }
    unlink(s2s);
    unlink(cls);
}

/* ------------------------------------------------------------ decoding */

static const char *const sources[] = {"abc", "cab", "bba", "abca", "c", "bcab"};
#define N_SOURCES 6

static void beam_width_one_equals_greedy(void **state)
{
    (void)state;
    char s2s[] = "/tmp/heed_graphs_s2s_XXXXXX";
    close(mkstemp(s2s));
    write_reversal(s2s, 256, 1);
    for (int g = 0; g < 2; g++) {
        trained t = train_small(seq2seq[g], s2s, 60);
        heed_session *s;
        heed_diag d;
        assert_int_equal(heed_session_new(t.w, HEED_MODE_INFER, &s, &d), HEED_OK);
        heed_decode_options o = {.beam = 1, .max_length = 8};
        heed_decode_result *greedy, *beam;
        if (heed_decode(s, sources, N_SOURCES, &o, &greedy, &d) != HEED_OK ||
            hd_decode(s, sources, N_SOURCES, &o, true, &beam, &d) != HEED_OK)
            fail_msg("%s", d.text);
        for (size_t i = 0; i < N_SOURCES; i++) {
            const heed_decoded *a = heed_decode_get(greedy, i), *b = heed_decode_get(beam, i);
            assert_int_equal(a->length, b->length);
            assert_memory_equal(a->tokens, b->tokens, a->length * sizeof(int32_t));
            tu_close(a->score, b->score, 1e-5, "score");
        }
        heed_decode_result_free(greedy);
        heed_decode_result_free(beam);
        heed_session_free(s);
        trained_free(&t);
    }
    unlink(s2s);
}

/* Each source decoded alone (one row: its products take another path, see
 * ops/rnn.c att_step_row) gives the tokens and attention it got in the
 * batch. */
static void check_alone_equals_batch(heed_session *s, const heed_decode_result *batch,
                                     const heed_decode_options *o)
{
    heed_diag d;
    for (size_t i = 0; i < N_SOURCES; i++) {
        heed_decode_result *one;
        if (heed_decode(s, &sources[i], 1, o, &one, &d) != HEED_OK)
            fail_msg("%s", d.text);
        const heed_decoded *a = heed_decode_get(one, 0), *b = heed_decode_get(batch, i);
        assert_int_equal(a->length, b->length);
        assert_memory_equal(a->tokens, b->tokens, a->length * sizeof(int32_t));
        size_t wa = a->source_length, wb = b->source_length;
        assert_true(wa <= wb);
        size_t steps = a->length < 8 ? a->length + 1 : a->length;
        for (size_t k = 0; k < steps; k++)
            for (size_t j = 0; j < wa; j++)
                tu_close(a->attention[k * wa + j], b->attention[k * wb + j], 1e-5,
                         "attention, alone against batch");
        heed_decode_result_free(one);
    }
}

/* Decodes the sources with weights w and checks each output against a
 * teacher-forced pass (every value kept) over <bos> + the decoded tokens:
 * the argmax of `logits` at each step is the token decoded, and the
 * attention returned (when `att`) is the value `att`. Returns the session
 * and result for more checks, the session of the pass freed. */
static heed_decode_result *check_teacher_forced(heed_weights *w, const char *logits,
                                                const char *att, heed_session **out)
{
    heed_session *s, *tf;
    heed_diag d;
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s, &d), HEED_OK);
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &tf, &d), HEED_OK);
    heed_session_keep_all(tf, 1);
    heed_decode_options o = {.beam = 1, .max_length = 8, .attention = att != NULL};
    heed_decode_result *r;
    if (heed_decode(s, sources, N_SOURCES, &o, &r, &d) != HEED_OK)
        fail_msg("%s", d.text);
    for (size_t i = 0; i < N_SOURCES; i++) {
        const heed_decoded *x = heed_decode_get(r, i);
        /* <bos> y1 .. yn: the teacher-forced input of the same steps */
        int32_t tgt[16] = {HEED_BOS_ID};
        memcpy(tgt + 1, x->tokens, x->length * sizeof(int32_t));
        heed_tensor tt = {"tgt", HEED_I32, 2, {1, (int64_t)x->length + 1, 0, 0}, tgt};
        assert_int_equal(heed_session_feed_texts(tf, &sources[i], 1, &d), HEED_OK);
        assert_int_equal(heed_session_set_input(tf, "tgt", &tt, &d), HEED_OK);
        if (heed_session_forward(tf, &d) != HEED_OK)
            fail_msg("%s", d.text);
        heed_tensor lg, wt = {0};
        assert_int_equal(heed_session_get(tf, logits, &lg, &d), HEED_OK);
        if (att)
            assert_int_equal(heed_session_get(tf, att, &wt, &d), HEED_OK);
        /* the decoded batch is padded to its longest source; the extra
         * columns have zero weight */
        int64_t V = lg.shape[2], S = att ? wt.shape[2] : 0, W = (int64_t)x->source_length;
        assert_true(S <= W);
        /* a decoding shorter than max_length ended with <eos>, one step more */
        size_t steps = x->length < 8 ? x->length + 1 : x->length;
        for (size_t k = 0; k < steps; k++) {
            const float *row = (const float *)lg.data + k * (size_t)V;
            int32_t best = HEED_UNK_ID; /* decoding never writes <pad> or <bos> */
            for (int64_t v = HEED_UNK_ID + 1; v < V; v++)
                if (v != HEED_BOS_ID && row[v] > row[best])
                    best = (int32_t)v;
            assert_int_equal(best, k < x->length ? x->tokens[k] : HEED_EOS_ID);
            for (int64_t j = 0; att && j < W; j++)
                tu_close(x->attention[k * (size_t)W + (size_t)j],
                         j < S ? ((const float *)wt.data)[k * (size_t)S + (size_t)j] : 0.0f,
                         1e-5, "attention");
        }
    }
    heed_session_free(tf);
    *out = s;
    return r;
}

/* The tokens and attention of step-by-step decoding are those of a
 * teacher-forced pass over <bos> + the decoded tokens. */
static void step_decoding_equals_teacher_forced(void **state)
{
    (void)state;
    char s2s[] = "/tmp/heed_graphs_s2s_XXXXXX";
    close(mkstemp(s2s));
    write_reversal(s2s, 256, 1);
    for (int g = 0; g < 2; g++) {
        trained t = train_small(seq2seq[g], s2s, 60);
        heed_session *s;
        heed_decode_result *r =
            check_teacher_forced(t.w, "logits", g == 0 ? "dec.weights" : "ctx.weights", &s);
        heed_decode_options o = {.beam = 1, .max_length = 8, .attention = 1};
        check_alone_equals_batch(s, r, &o);
        heed_decode_result_free(r);
        heed_session_free(s);
        trained_free(&t);
    }
    unlink(s2s);
}

/* The step plan keeps what decoding reads over all its calls: an encoder
 * value scheduled after the decoder's first node (run on the first call
 * only, so later calls' steps before it must not reuse its bytes), an
 * encoder value read by every step and also by the plan's last node, which
 * works in place, and a decode: attention: value that an in-place node reads. */
static void step_plan_keeps_what_decoding_reads(void **state)
{
    (void)state;
    static const char *const head =
        "heed: 1\n"
        "inputs: {src: [B, S], tgt: [B, T]}\n"
        "data:\n"
        "  src: {column: 0, tokens: chars, vocab: V_src}\n"
        "  tgt: {column: 1, tokens: chars, vocab: V_tgt, bos: true, eos: true}\n"
        "nodes:\n"
        "  se:  {op: Embedding, in: src, vocab: V_src, dim: 8}\n"
        "  te:  {op: Embedding, in: tgt, vocab: V_tgt, dim: 8}\n"
        "  enc: {op: GRU, in: se, hidden: 8}\n";
    static const struct {
        const char *nodes, *logits, *att;
    } models[] = {
        {"  vv:  {op: Affine, in: enc, units: V_tgt}\n"
         "  dec: {op: GRU, in: te, hidden: 8}\n"
         "  ctx: {op: Attention, query: dec, keys: enc, values: vv, score: dot}\n"
         "  logits: {op: Affine, in: ctx, units: V_tgt}\n"
         "loss: {op: CrossEntropy, logits: logits, target: tgt, shift: 1}\n",
         "logits", "ctx.weights"},
        {"  m2:  {op: Affine, in: enc, units: 8}\n"
         "  vv:  {op: Affine, in: enc, units: V_tgt}\n"
         "  dec: {op: GRU, in: te, hidden: 8}\n"
         "  l0:  {op: Affine, in: dec, units: V_tgt}\n"
         "  ctx: {op: Attention, query: dec, keys: m2, values: vv, score: dot}\n"
         "  tm:  {op: Sigmoid, in: m2}\n"
         "loss: {op: CrossEntropy, logits: l0, target: tgt, shift: 1}\n"
         "decode: {logits: ctx}\n",
         "ctx", NULL},
        {"  dec: {op: GRU, in: te, hidden: 8, attention: {memory: enc}}\n"
         "  sharp: {op: Softmax, in: dec.weights}\n"
         "  gate: {op: Mul, in: [sharp, sharp]}\n"
         "  logits: {op: Affine, in: [dec, dec.context], units: V_tgt}\n"
         "loss: {op: CrossEntropy, logits: logits, target: tgt, shift: 1}\n"
         "decode: {attention: dec.weights}\n",
         "logits", "dec.weights"},
    };
    char s2s[] = "/tmp/heed_graphs_s2s_XXXXXX";
    close(mkstemp(s2s));
    write_reversal(s2s, 64, 1);
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        char yaml[2048];
        snprintf(yaml, sizeof yaml, "%s%s", head, models[k].nodes);
        heed_model *m = tu_model("step.yaml", yaml);
        heed_vocab *v;
        heed_weights *w;
        heed_diag d;
        assert_int_equal(heed_vocab_build(m, s2s, &v, &d), HEED_OK);
        assert_int_equal(heed_weights_new(m, v, NULL, 0, 3, &w, &d), HEED_OK);
        heed_session *s;
        heed_decode_result_free(check_teacher_forced(w, models[k].logits, models[k].att, &s));
        heed_session_free(s);
        heed_weights_free(w);
        heed_vocab_free(v);
        heed_model_free(m);
    }
    unlink(s2s);
}

/* Texts go to classification and decoding in batches of up to 256, fewer
 * when long: rows times the longest text stay within 32 KiB, so that one
 * long line pads a few rows, not 256. */
static void text_batches_follow_length(void **state)
{
    (void)state;
    static char longer[2001], huge[40001];
    memset(longer, 'a', 2000);
    memset(huge, 'b', 40000);
    const char *texts[300];
    for (int i = 0; i < 300; i++)
        texts[i] = "abc";
    assert_int_equal(hd_text_batch(texts, 300), 256);
    assert_int_equal(hd_text_batch(texts, 7), 7);
    texts[5] = longer; /* 16 rows of 2000 fit in 32768, 17 do not */
    assert_int_equal(hd_text_batch(texts, 300), 16);
    assert_int_equal(hd_text_batch(texts + 5, 295), 16);
    texts[0] = huge; /* alone, however long */
    assert_int_equal(hd_text_batch(texts, 300), 1);
    assert_int_equal(hd_text_batch(texts, 0), 0);
}

/* The target vocabulary's id of a one-letter text. */
static int32_t letter_id(const heed_vocab *v, const char *letter)
{
    int32_t ids[4];
    size_t n;
    heed_diag d;
    assert_int_equal(heed_vocab_encode(v, "tgt", letter, ids, 4, &n, &d), HEED_OK);
    assert_int_equal(n, 3); /* <bos> letter <eos> */
    return ids[1];
}

/* Beam search stops for a source only when no live hypothesis could beat
 * the k finished ones: having k finished is not enough. */
static void beam_stops_only_when_settled(void **state)
{
    (void)state;
    const float fin[2] = {-1.0f, -2.0f};
    assert_false(hd_beam_may_stop(fin, 1, 2, true, -9.0f, 0.0f, 10)); /* fewer than k */
    assert_false(hd_beam_may_stop(fin, 2, 2, true, -1.5f, 0.0f, 10)); /* live beats -2 */
    assert_true(hd_beam_may_stop(fin, 2, 2, true, -2.5f, 0.0f, 10));
    assert_true(hd_beam_may_stop(fin, 1, 2, false, 0.0f, 0.0f, 10)); /* nothing live */
    /* normalised by length^1: -15 could still end at -15/10 = -1.5 > -2 */
    assert_false(hd_beam_may_stop(fin, 2, 2, true, -15.0f, 1.0f, 10));
    assert_true(hd_beam_may_stop(fin, 2, 2, true, -25.0f, 1.0f, 10));
}

/* Log-probability of `tokens` (then <eos> when `eos`) for one source under
 * a teacher-forced pass. */
static double teacher_forced_logp(heed_session *tf, const char *source, const int32_t *tokens,
                                  size_t n, bool eos)
{
    heed_diag d;
    int32_t tgt[64] = {HEED_BOS_ID};
    memcpy(tgt + 1, tokens, n * sizeof(int32_t));
    heed_tensor tt = {"tgt", HEED_I32, 2, {1, (int64_t)n + 1, 0, 0}, tgt};
    assert_int_equal(heed_session_feed_texts(tf, &source, 1, &d), HEED_OK);
    assert_int_equal(heed_session_set_input(tf, "tgt", &tt, &d), HEED_OK);
    if (heed_session_forward(tf, &d) != HEED_OK)
        fail_msg("%s", d.text);
    heed_tensor lg;
    assert_int_equal(heed_session_get(tf, "logits", &lg, &d), HEED_OK);
    int64_t V = lg.shape[2];
    double sum = 0;
    for (size_t k = 0; k < n + (eos ? 1 : 0); k++) {
        const float *row = (const float *)lg.data + k * (size_t)V;
        double mx = row[0], z = 0;
        for (int64_t v = 1; v < V; v++)
            mx = row[v] > mx ? row[v] : mx;
        for (int64_t v = 0; v < V; v++)
            z += exp(row[v] - mx);
        sum += row[k < n ? tokens[k] : HEED_EOS_ID] - mx - log(z);
    }
    return sum;
}

/* With max_length 3 and four tokens to write (<unk> and the letters a-c), a
 * beam of 16 holds every live prefix, so the search is exhaustive: for each
 * source its output is the most probable of all 85 possible outputs (<eos>
 * after 0, 1 or 2 tokens, or 3 tokens cut by max_length), scored by teacher
 * forcing. */
static void beam_is_exact_when_wide_enough(heed_session *s, heed_session *tf, const heed_vocab *v)
{
    const int32_t letter[4] = {HEED_UNK_ID, letter_id(v, "a"), letter_id(v, "b"),
                               letter_id(v, "c")};
    heed_decode_options wide = {.beam = 16, .max_length = 3};
    heed_decode_result *r;
    heed_diag d;
    if (heed_decode(s, sources, N_SOURCES, &wide, &r, &d) != HEED_OK)
        fail_msg("%s", d.text);
    for (size_t i = 0; i < N_SOURCES; i++) {
        double best = -INFINITY;
        int32_t y[3];
        for (int len = 0; len <= 3; len++) {
            int count = 1 << (2 * len);
            for (int c = 0; c < count; c++) {
                for (int j = 0, x = c; j < len; j++, x /= 4)
                    y[j] = letter[x % 4];
                double lp = teacher_forced_logp(tf, sources[i], y, (size_t)len, len < 3);
                best = lp > best ? lp : best;
            }
        }
        tu_close(heed_decode_get(r, i)->score, best, 1e-4, sources[i]);
    }
    heed_decode_result_free(r);
}

/* Beam search (width 4) returns, for every source, an output whose score is
 * its teacher-forced log-probability (the beams' states follow their
 * histories when the search reorders them); wide enough, it is exact. An
 * empty source decodes to an empty output. */
static void beam_scores_are_teacher_forced(void **state)
{
    (void)state;
    char s2s[] = "/tmp/heed_graphs_s2s_XXXXXX";
    close(mkstemp(s2s));
    write_reversal(s2s, 256, 1);
    for (int g = 0; g < 2; g++) {
        trained t = train_small(seq2seq[g], s2s, 60);
        heed_session *s, *tf;
        heed_diag d;
        assert_int_equal(heed_session_new(t.w, HEED_MODE_INFER, &s, &d), HEED_OK);
        assert_int_equal(heed_session_new(t.w, HEED_MODE_INFER, &tf, &d), HEED_OK);
        heed_decode_options o = {.beam = 4, .max_length = 8};
        heed_decode_result *r;
        if (heed_decode(s, sources, N_SOURCES, &o, &r, &d) != HEED_OK)
            fail_msg("%s", d.text);
        for (size_t i = 0; i < N_SOURCES; i++) {
            const heed_decoded *x = heed_decode_get(r, i);
            double want = teacher_forced_logp(tf, sources[i], x->tokens, x->length,
                                              x->length < 8);
            tu_close(x->score, want, 1e-4, sources[i]);
        }
        heed_decode_result_free(r);
        beam_is_exact_when_wide_enough(s, tf, t.v);
        const char *empty[] = {"", "abc"};
        if (heed_decode(s, empty, 2, &o, &r, &d) != HEED_OK)
            fail_msg("%s", d.text);
        assert_int_equal(heed_decode_get(r, 0)->length, 0);
        assert_true(heed_decode_get(r, 1)->length > 0);
        heed_decode_result_free(r);
        heed_session_free(s);
        heed_session_free(tf);
        trained_free(&t);
    }
    unlink(s2s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(graphs_check_and_gradcheck),
        cmocka_unit_test(tiny_training_lowers_loss),
        cmocka_unit_test(beam_width_one_equals_greedy),
        cmocka_unit_test(beam_scores_are_teacher_forced),
        cmocka_unit_test(beam_stops_only_when_settled),
        cmocka_unit_test(step_decoding_equals_teacher_forced),
        cmocka_unit_test(step_plan_keeps_what_decoding_reads),
        cmocka_unit_test(text_batches_follow_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
