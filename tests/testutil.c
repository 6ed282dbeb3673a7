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
