/* testutil.c - see testutil.h. */
#include "testutil.h"

heed_model *tu_model(const char *name, const char *yaml)
{
    heed_model *m = NULL;
    heed_diag d;
    heed_status st = heed_model_load_string(yaml, strlen(yaml), name, NULL, &m, &d);
    if (st != HEED_OK)
        fprintf(stderr, "%s", d.text);
    assert_int_equal(st, HEED_OK);
    return m;
}

heed_status tu_check(const char *name, const char *yaml, heed_diag *d)
{
    heed_model *m = NULL;
    heed_status st = heed_model_load_string(yaml, strlen(yaml), name, NULL, &m, d);
    if (st == HEED_OK)
        st = heed_model_check(m, NULL, 0, d);
    heed_model_free(m);
    return st;
}

void tu_expect_errors(const char *name, const char *yaml, ...)
{
    heed_diag d;
    heed_status st = tu_check(name, yaml, &d);
    if (st == HEED_OK)
        fail_msg("expected errors in %s, got none", name);
    va_list ap;
    va_start(ap, yaml);
    for (const char *line = va_arg(ap, const char *); line; line = va_arg(ap, const char *)) {
        if (!strstr(d.text, line)) {
            fprintf(stderr, "--- diagnostics ---\n%s--- expected ---\n%s\n", d.text, line);
            fail_msg("missing diagnostic line");
        }
    }
    va_end(ap);
}

void tu_close(double a, double b, double tol, const char *what)
{
    double scale = fabs(b) > 1.0 ? fabs(b) : 1.0;
    if (!(fabs(a - b) <= tol * scale))
        fail_msg("%s: got %.9g, expected %.9g (tolerance %g)", what, a, b, tol);
}

const char *tu_path(const char *rel, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", HEED_SOURCE_DIR, rel);
    return buf;
}

float tu_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

void tu_gradcheck(const char *yaml, double tol)
{
    tu_gradcheck_step(yaml, tol, 0);
}

void tu_gradcheck_step(const char *yaml, double tol, double step)
{
    heed_model *m = tu_model("gradcheck.yaml", yaml);
    const heed_dim all[] = {{"B", 3}, {"S", 4}, {"T", 5}};
    heed_dim dims[3];
    size_t n = 0;
    for (int i = 0; i < 3; i++)
        for (size_t k = 0; k < heed_model_dim_count(m); k++)
            if (!strcmp(heed_model_dim_name(m, k), all[i].name))
                dims[n++] = all[i];
    heed_gradcheck_options o = {.samples = 16, .dims = dims, .n_dims = n, .step = step};
    double worst = 1;
    heed_diag d;
    if (heed_gradcheck(m, &o, NULL, NULL, &worst, &d) != HEED_OK)
        fail_msg("%s", d.text);
    if (!(worst <= tol))
        fail_msg("worst relative error %.3g > %.3g for\n%s", worst, tol, yaml);
    heed_model_free(m);
}

void tu_close_all(const float *a, const float *b, size_t n, double tol, const char *what)
{
    double worst = 0, scale = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs((double)b[i]));
        double e = fabs((double)a[i] - (double)b[i]);
        if (e > worst || isnan(e)) {
            worst = e;
            at = i;
        }
    }
    if (!(worst <= tol * fmax(scale, 1e-12)))
        fail_msg("%s: element %zu is %.9g, expected %.9g (max error %.3g, scale %.3g, tol %g)",
                 what, at, a[at], b[at], worst, scale, tol);
}

size_t tu_numel(const heed_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->shape[i];
    return n;
}

heed_tensor tu_file_tensor(const heed_tensor_file *f, const char *name)
{
    heed_tensor t;
    for (size_t i = 0; i < heed_tensor_file_count(f); i++) {
        heed_tensor_file_get(f, i, &t);
        if (!strcmp(t.name, name))
            return t;
    }
    fail_msg("the fixture has no tensor '%s'", name);
    return t;
}

void tu_feed(heed_session *s, const heed_tensor_file *f, const char *file_name,
             const char *input)
{
    heed_tensor t = tu_file_tensor(f, file_name);
    heed_diag d;
    if (heed_session_set_input(s, input ? input : file_name, &t, &d) != HEED_OK)
        fail_msg("%s", d.text);
}

void tu_load_params(heed_weights *w, const heed_tensor_file *f)
{
    for (size_t i = 0; i < heed_weights_count(w); i++) {
        heed_tensor p;
        heed_weights_param(w, i, &p);
        heed_tensor t = tu_file_tensor(f, p.name);
        assert_int_equal(tu_numel(&t), tu_numel(&p));
        memcpy(p.data, t.data, tu_numel(&p) * sizeof(float));
    }
}

tu_run tu_run_new(const char *name, const char *yaml, heed_mode mode)
{
    tu_run r;
    heed_diag d;
    r.m = tu_model(name, yaml);
    assert_int_equal(heed_weights_new(r.m, NULL, NULL, 0, 7, &r.w, &d), HEED_OK);
    assert_int_equal(heed_session_new(r.w, mode, &r.s, &d), HEED_OK);
    heed_session_keep_all(r.s, 1);
    return r;
}

void tu_run_free(tu_run *r)
{
    heed_session_free(r->s);
    heed_weights_free(r->w);
    heed_model_free(r->m);
}

static void set_input(tu_run *r, const char *name, heed_dtype dtype, int rank,
                      const int64_t *shape, const void *data)
{
    heed_tensor t = {name, dtype, rank, {0}, (void *)data};
    memcpy(t.shape, shape, sizeof(int64_t) * (size_t)rank);
    heed_diag d;
    if (heed_session_set_input(r->s, name, &t, &d) != HEED_OK)
        fail_msg("%s", d.text);
}

void tu_set_f32(tu_run *r, const char *name, int rank, const int64_t *shape, const float *data)
{
    set_input(r, name, HEED_F32, rank, shape, data);
}

void tu_set_ids(tu_run *r, const char *name, int rank, const int64_t *shape,
                const int32_t *data)
{
    set_input(r, name, HEED_I32, rank, shape, data);
}

const float *tu_get(tu_run *r, const char *name)
{
    heed_tensor t;
    heed_diag d;
    if (heed_session_get(r->s, name, &t, &d) != HEED_OK)
        fail_msg("%s", d.text);
    return t.data;
}

void tu_expect(const float *got, const float *want, size_t n, double tol, const char *what)
{
    char w[160];
    for (size_t i = 0; i < n; i++) {
        snprintf(w, sizeof w, "%s[%zu]", what, i);
        tu_close(got[i], want[i], tol, w);
    }
}

void tu_check_param_grads(heed_weights *w, const heed_tensor_file *f, const char *path,
                          double tol)
{
    char name[300], what[400];
    for (size_t i = 0; i < heed_weights_count(w); i++) {
        heed_tensor p, g;
        heed_weights_param(w, i, &p);
        assert_int_equal(heed_weights_grad(w, p.name, &g), HEED_OK);
        snprintf(name, sizeof name, "grad.%s", p.name);
        heed_tensor want = tu_file_tensor(f, name);
        snprintf(what, sizeof what, "%s: %s", path, name);
        tu_close_all(g.data, want.data, tu_numel(&g), tol, what);
    }
}
