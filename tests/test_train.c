/*
 * test_train.c - end to end through the public API: graphs/char_classifier.yaml
 * trained on generated data (three made-up "languages" with different letter
 * statistics) must reach 95% validation accuracy; two runs with the same seed
 * give bit-identical losses (with 2 threads); weights saved and loaded give
 * bit-identical outputs and carry the vocabularies; blending weights averages
 * them and refuses weights that do not fit; a field tokenised the other way
 * stays so through a save and a load; a run's label smoothing trains as the
 * loss's smoothing: attribute does.
 */
#include <unistd.h>

#include "testutil.h"

#define TRAIN_ROWS 1800
#define VALID_ROWS 300

/* Words whose letters come mostly from a language's own range of the alphabet. */
static void write_data(const char *path, int rows, uint64_t seed)
{
    static const char *const labels[3] = {"north", "south", "west"};
    static const char *const letters[3] = {"abcdefgh", "efghijklm", "klmnopqrs"};
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    uint64_t s = seed;
    for (int r = 0; r < rows; r++) {
        int lang = r % 3, len = 3 + (int)((tu_rand(&s) + 1.0f) * 3.0f);
        char word[16];
        for (int i = 0; i < len; i++) {
            /* one letter in ten from anywhere: the classes overlap */
            float u = (tu_rand(&s) + 1.0f) / 2.0f, v = (tu_rand(&s) + 1.0f) / 2.0f;
            const char *pool = u < 0.1f ? "abcdefghijklmnopqrs" : letters[lang];
            word[i] = pool[(int)(v * (float)strlen(pool)) % (int)strlen(pool)];
        }
        word[len] = '\0';
        fprintf(f, "%s\t%s\n", word, labels[lang]);
    }
    fclose(f);
}

typedef struct fixture {
    char dir[256], train[300], valid[300], weights[300];
    heed_model *m;
    heed_vocab *v;
    heed_dataset *tr, *va;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/heed_test_train_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->train, sizeof f->train, "%s/train.tsv", f->dir);
    snprintf(f->valid, sizeof f->valid, "%s/valid.tsv", f->dir);
    snprintf(f->weights, sizeof f->weights, "%s/w.safetensors", f->dir);
    write_data(f->train, TRAIN_ROWS, 1);
    write_data(f->valid, VALID_ROWS, 2);
    char path[1024];
    heed_diag d;
    heed_options o;
    heed_options_init(&o);
    o.threads = 2;
    assert_int_equal(heed_model_load_file(tu_path("graphs/char_classifier.yaml", path, sizeof path),
                                          &o, &f->m, &d),
                     HEED_OK);
    assert_int_equal(heed_vocab_build(f->m, f->train, &f->v, &d), HEED_OK);
    assert_int_equal(heed_dataset_load(f->m, f->v, f->train, &f->tr, &d), HEED_OK);
    assert_int_equal(heed_dataset_load(f->m, f->v, f->valid, &f->va, &d), HEED_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    heed_dataset_free(f->tr);
    heed_dataset_free(f->va);
    heed_vocab_free(f->v);
    heed_model_free(f->m);
    unlink(f->train);
    unlink(f->valid);
    unlink(f->weights);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Trains for `steps` steps (epochs of shuffled batches); losses into `out`. */
static heed_weights *train(fixture *f, int steps, float *out)
{
    heed_diag d;
    heed_weights *w;
    assert_int_equal(heed_weights_new(f->m, f->v, NULL, 0, 1, &w, &d), HEED_OK);
    heed_session *s;
    assert_int_equal(heed_session_new(w, HEED_MODE_TRAIN, &s, &d), HEED_OK);
    size_t n = heed_dataset_size(f->tr), batch = 64, order[TRAIN_ROWS];
    int epoch = 0;
    for (int step = 0; step < steps; epoch++) {
        heed_dataset_shuffle(f->tr, batch, 1, epoch, order);
        for (size_t b = 0; b + batch <= n && step < steps; b += batch, step++) {
            assert_int_equal(heed_dataset_feed(f->tr, order + b, batch, s, &d), HEED_OK);
            if (heed_session_train_step(s, &out[step], &d) != HEED_OK)
                fail_msg("%s", d.text);
        }
    }
    heed_session_free(s);
    return w;
}

static double accuracy(heed_weights *w, const heed_dataset *ds)
{
    heed_diag d;
    heed_session *s;
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s, &d), HEED_OK);
    size_t rows[VALID_ROWS];
    for (size_t i = 0; i < VALID_ROWS; i++)
        rows[i] = i;
    assert_int_equal(heed_dataset_feed(ds, rows, VALID_ROWS, s, &d), HEED_OK);
    assert_int_equal(heed_session_forward(s, &d), HEED_OK);
    heed_accuracy a;
    assert_int_equal(heed_session_accuracy(s, &a, &d), HEED_OK);
    heed_session_free(s);
    assert_int_equal(a.sequences, VALID_ROWS);
    return (double)a.tokens_correct / (double)a.tokens;
}

static void learns_to_stated_accuracy(void **state)
{
    fixture *f = *state;
    float losses[800];
    heed_weights *w = train(f, 800, losses);
    double acc = accuracy(w, f->va);
    printf("  validation accuracy after 800 steps: %.2f%% (loss %.4f -> %.4f)\n", 100 * acc,
           losses[0], losses[799]);
    assert_true(acc >= 0.95);
    assert_true(losses[799] < 0.2f * losses[0]);
    heed_weights_free(w);
}

static void same_seed_same_losses(void **state)
{
    fixture *f = *state;
    float a[60], b[60];
    heed_weights_free(train(f, 60, a));
    heed_weights_free(train(f, 60, b));
    assert_memory_equal(a, b, sizeof a);
}

static void save_load_round_trip(void **state)
{
    fixture *f = *state;
    float losses[40];
    heed_weights *w = train(f, 40, losses);
    heed_diag d;
    assert_int_equal(heed_weights_save(w, f->weights, &d), HEED_OK);
    heed_weights *w2;
    if (heed_weights_load(f->m, f->weights, 0, &w2, &d) != HEED_OK)
        fail_msg("%s", d.text);
    /* the same parameters, bit for bit */
    assert_int_equal(heed_weights_count(w), heed_weights_count(w2));
    for (size_t i = 0; i < heed_weights_count(w); i++) {
        heed_tensor a, b;
        heed_weights_param(w, i, &a);
        heed_weights_param(w2, i, &b);
        assert_string_equal(a.name, b.name);
        size_t n = 1;
        for (int k = 0; k < a.rank; k++)
            n *= (size_t)a.shape[k];
        assert_memory_equal(a.data, b.data, n * sizeof(float));
    }
    /* the same outputs, bit for bit */
    heed_session *s1, *s2;
    assert_int_equal(heed_session_new(w, HEED_MODE_INFER, &s1, &d), HEED_OK);
    assert_int_equal(heed_session_new(w2, HEED_MODE_INFER, &s2, &d), HEED_OK);
    size_t rows[50];
    for (size_t i = 0; i < 50; i++)
        rows[i] = i;
    heed_tensor o1, o2;
    assert_int_equal(heed_dataset_feed(f->va, rows, 50, s1, &d), HEED_OK);
    assert_int_equal(heed_dataset_feed(f->va, rows, 50, s2, &d), HEED_OK);
    assert_int_equal(heed_session_forward(s1, &d), HEED_OK);
    assert_int_equal(heed_session_forward(s2, &d), HEED_OK);
    assert_int_equal(heed_session_get(s1, "logits", &o1, &d), HEED_OK);
    assert_int_equal(heed_session_get(s2, "logits", &o2, &d), HEED_OK);
    assert_int_equal(o1.shape[0], 50);
    assert_memory_equal(o1.data, o2.data, (size_t)(o1.shape[0] * o1.shape[1]) * sizeof(float));
    /* the vocabulary came along: the same ids for the same text */
    int32_t ids1[16], ids2[16];
    size_t n1, n2;
    assert_int_equal(heed_vocab_encode(heed_weights_vocab(w), "word", "fig", ids1, 16, &n1, &d),
                     HEED_OK);
    assert_int_equal(heed_vocab_encode(heed_weights_vocab(w2), "word", "fig", ids2, 16, &n2, &d),
                     HEED_OK);
    assert_int_equal(n1, 3);
    assert_int_equal(n2, 3);
    assert_memory_equal(ids1, ids2, sizeof(int32_t) * 3);
    heed_session_free(s1);
    heed_session_free(s2);
    heed_weights_free(w);
    heed_weights_free(w2);
}

/* Checkpoint averaging: blending the i-th of k weights with 1/i leaves their
 * mean; weights of other dims or other vocabularies are refused, naming the
 * difference. */
static void blend_averages_and_checks_layout(void **state)
{
    fixture *f = *state;
    heed_diag d;
    heed_weights *w[3], *acc;
    for (int i = 0; i < 3; i++)
        assert_int_equal(heed_weights_new(f->m, f->v, NULL, 0, (uint64_t)i + 1, &w[i], &d),
                         HEED_OK);
    assert_int_equal(heed_weights_new(f->m, f->v, NULL, 0, 1, &acc, &d), HEED_OK);
    assert_int_equal(heed_weights_blend(acc, w[1], 1.0 / 2, &d), HEED_OK);
    assert_int_equal(heed_weights_blend(acc, w[2], 1.0 / 3, &d), HEED_OK);
    for (size_t p = 0; p < heed_weights_count(acc); p++) {
        heed_tensor a, t[3];
        heed_weights_param(acc, p, &a);
        for (int i = 0; i < 3; i++)
            heed_weights_param(w[i], p, &t[i]);
        const float *x = t[0].data, *y = t[1].data, *z = t[2].data, *m = a.data;
        for (size_t k = 0; k < tu_numel(&a); k++)
            tu_close(m[k], ((double)x[k] + y[k] + z[k]) / 3.0, 1e-6, a.name);
        /* and the seeds made different weights, so the mean is not one of them */
        assert_true(tu_numel(&a) < 2 || x[0] != y[0] || x[1] != y[1]);
    }
    /* other dims: the first parameter's shape differs */
    heed_weights *wide;
    const heed_dim e = {"E", 8};
    assert_int_equal(heed_weights_new(f->m, f->v, &e, 1, 1, &wide, &d), HEED_OK);
    assert_int_equal(heed_weights_blend(acc, wide, 0.5, &d), HEED_ERR_WEIGHTS);
    assert_non_null(strstr(d.message, "its parameter 0 is 'emb.weight' ["));
    assert_non_null(strstr(d.message, ", 8], not 'emb.weight' ["));
    assert_non_null(strstr(d.message, ", 32]"));
    /* another vocabulary of the same size: 'a' never occurs, 'z' does */
    char other[320], line[256];
    snprintf(other, sizeof other, "%s/other.tsv", f->dir);
    FILE *in = fopen(f->train, "r"), *out = fopen(other, "w");
    assert_non_null(in);
    assert_non_null(out);
    while (fgets(line, sizeof line, in)) {
        for (char *c = line; *c && *c != '\t'; c++)
            *c = *c == 'a' ? 'z' : *c;
        fputs(line, out);
    }
    fclose(in);
    fclose(out);
    heed_vocab *v2;
    heed_weights *shifted;
    assert_int_equal(heed_vocab_build(f->m, other, &v2, &d), HEED_OK);
    assert_int_equal(heed_weights_new(f->m, v2, NULL, 0, 1, &shifted, &d), HEED_OK);
    assert_int_equal(heed_weights_blend(acc, shifted, 0.5, &d), HEED_ERR_WEIGHTS);
    assert_non_null(strstr(d.message, "its vocabularies differ: V: token 4 is 'b', not 'a'"));
    assert_int_equal(heed_weights_blend(acc, w[0], 1.5, &d), HEED_ERR_ARGUMENT);
    unlink(other);
    heed_weights_free(shifted);
    heed_vocab_free(v2);
    heed_weights_free(wide);
    heed_weights_free(acc);
    for (int i = 0; i < 3; i++)
        heed_weights_free(w[i]);
}

/* A field tokenised another way than its data: entry: "word" read as words
 * makes each row's word one token; the choice survives a save and a load, and
 * a label field, an unknown field or an unknown way are refused. */
static void tokens_chosen_at_build(void **state)
{
    fixture *f = *state;
    heed_diag d;
    heed_vocab *v;
    const heed_field_tokens words = {"word", "words"};
    assert_int_equal(heed_vocab_build_tokens(f->m, f->train, &words, 1, &v, &d), HEED_OK);
    assert_string_equal(heed_vocab_tokens(v, "word"), "words");
    assert_string_equal(heed_vocab_tokens(v, "lang"), "label");
    assert_string_equal(heed_vocab_tokens(f->v, "word"), "chars");
    assert_null(heed_vocab_tokens(v, "nope"));
    /* the first training word is one token of its own; an unseen one is <unk> */
    char line[64];
    FILE *in = fopen(f->train, "r");
    assert_non_null(in);
    assert_non_null(fgets(line, sizeof line, in));
    fclose(in);
    *strchr(line, '\t') = '\0';
    char text[300];
    snprintf(text, sizeof text, "%s zzzzzzzz %s", line, line);
    int32_t ids[8];
    size_t n;
    assert_int_equal(heed_vocab_encode(v, "word", text, ids, 8, &n, &d), HEED_OK);
    assert_int_equal(n, 3);
    assert_true(ids[0] >= 4);
    assert_int_equal(ids[1], HEED_UNK_ID);
    assert_int_equal(ids[2], ids[0]);
    char back[300];
    assert_int_equal(heed_vocab_decode(v, "word", ids, n, back, sizeof back), HEED_OK);
    snprintf(text, sizeof text, "%s <unk> %s", line, line);
    assert_string_equal(back, text);
    /* kept with the weights */
    heed_weights *w, *w2;
    assert_int_equal(heed_weights_new(f->m, v, NULL, 0, 1, &w, &d), HEED_OK);
    assert_int_equal(heed_weights_save(w, f->weights, &d), HEED_OK);
    if (heed_weights_load(f->m, f->weights, 0, &w2, &d) != HEED_OK)
        fail_msg("%s", d.text);
    assert_string_equal(heed_vocab_tokens(heed_weights_vocab(w2), "word"), "words");
    assert_int_equal(heed_vocab_encode(heed_weights_vocab(w2), "word", line, ids, 8, &n, &d),
                     HEED_OK);
    assert_int_equal(n, 1);
    heed_weights_free(w2);
    heed_weights_free(w);
    heed_vocab_free(v);
    /* what cannot be chosen */
    const heed_field_tokens bad[3] = {{"lang", "chars"}, {"wrd", "words"}, {"word", "bytes"}};
    const char *want[3] = {"field 'lang' is read whole (tokens: label)",
                           "has no data field 'wrd'; did you mean 'word'?",
                           "field 'word' cannot be tokenised as 'bytes' (chars or words)"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(heed_vocab_build_tokens(f->m, f->train, &bad[i], 1, &v, &d),
                         HEED_ERR_ARGUMENT);
        assert_null(v);
        if (!strstr(d.message, want[i]))
            fail_msg("%s", d.message);
    }
}

/* The loss of the fifth training step on rows 0..63 (by then the outputs are
 * far from uniform, where smoothing would hardly change the loss) and the
 * first parameter after it. */
static float smoothed_step(heed_model *m, const char *train_path, float run_smoothing,
                           float *first_param)
{
    heed_diag d;
    heed_vocab *v;
    heed_dataset *ds;
    heed_weights *w;
    heed_session *s;
    assert_int_equal(heed_vocab_build(m, train_path, &v, &d), HEED_OK);
    assert_int_equal(heed_dataset_load(m, v, train_path, &ds, &d), HEED_OK);
    assert_int_equal(heed_weights_new(m, v, NULL, 0, 1, &w, &d), HEED_OK);
    heed_train_config tc;
    heed_model_train_config(m, &tc);
    tc.label_smoothing = run_smoothing;
    assert_int_equal(heed_weights_set_train_config(w, &tc), HEED_OK);
    assert_int_equal(heed_session_new(w, HEED_MODE_TRAIN, &s, &d), HEED_OK);
    size_t rows[64];
    for (size_t i = 0; i < 64; i++)
        rows[i] = i;
    float loss;
    for (int step = 0; step < 5; step++) {
        assert_int_equal(heed_dataset_feed(ds, rows, 64, s, &d), HEED_OK);
        assert_int_equal(heed_session_train_step(s, &loss, &d), HEED_OK);
    }
    heed_tensor t;
    heed_weights_param(w, 0, &t);
    memcpy(first_param, t.data, 8 * sizeof(float));
    heed_session_free(s);
    heed_weights_free(w);
    heed_dataset_free(ds);
    heed_vocab_free(v);
    return loss;
}

/* A run's label smoothing (train: label_smoothing, heed train
 * --label-smoothing) trains exactly as the loss's smoothing: attribute does,
 * and differs from no smoothing. */
static void run_smoothing_equals_attribute(void **state)
{
    fixture *f = *state;
    char path[1024], text[8192];
    FILE *in = fopen(tu_path("graphs/char_classifier.yaml", path, sizeof path), "r");
    assert_non_null(in);
    size_t n = fread(text, 1, sizeof text - 1, in);
    fclose(in);
    text[n] = '\0';
    char *loss = strstr(text, "target: lang}");
    assert_non_null(loss);
    char smoothed[8300];
    snprintf(smoothed, sizeof smoothed, "%.*starget: lang, smoothing: 0.1}%s", (int)(loss - text),
             text, loss + strlen("target: lang}"));
    heed_model *attr = tu_model("smoothed.yaml", smoothed);
    float p_attr[8], p_run[8], p_plain[8];
    float l_attr = smoothed_step(attr, f->train, 0.0f, p_attr);
    float l_run = smoothed_step(f->m, f->train, 0.1f, p_run);
    float l_plain = smoothed_step(f->m, f->train, 0.0f, p_plain);
    assert_memory_equal(&l_attr, &l_run, sizeof(float));
    assert_memory_equal(p_attr, p_run, sizeof p_attr);
    assert_true(fabsf(l_plain - l_run) > 1e-3f);
    heed_model_free(attr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(learns_to_stated_accuracy),
        cmocka_unit_test(same_seed_same_losses),
        cmocka_unit_test(save_load_round_trip),
        cmocka_unit_test(blend_averages_and_checks_layout),
        cmocka_unit_test(tokens_chosen_at_build),
        cmocka_unit_test(run_smoothing_equals_attribute),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
