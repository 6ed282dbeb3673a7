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
