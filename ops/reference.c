/*
 * reference.c - the op reference in Markdown, written from the descriptors'
 * schemas. docs/LANGUAGE.md embeds this text and a test compares the two, so
 * the documentation cannot drift from the code.
 */
#include <stdio.h>
#include <string.h>

#include "op.h"

typedef struct out {
    heed_write_fn write;
    void *user;
    int rc;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out *o, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (o->rc == 0 && n > 0)
        o->rc = o->write(o->user, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void type_text(const heed_attr *a, char *buf, size_t cap)
{
    heed_sbuf s;
    heed_sbuf_init(&s, buf, cap);
    switch (a->kind) {
    case HEED_A_INT: heed_sbuf_printf(&s, "integer"); break;
    case HEED_A_FLOAT: heed_sbuf_printf(&s, "number"); break;
    case HEED_A_BOOL: heed_sbuf_printf(&s, "bool"); break;
    case HEED_A_DIM: heed_sbuf_printf(&s, "dim"); break;
    case HEED_A_STRING: heed_sbuf_printf(&s, "text"); break;
    case HEED_A_LIST: heed_sbuf_printf(&s, "list"); break;
    case HEED_A_MAP: heed_sbuf_printf(&s, "mapping"); break;
    case HEED_A_INPUT: heed_sbuf_printf(&s, a->ids ? "input (ids)" : "input"); break;
    case HEED_A_INPUTS: heed_sbuf_printf(&s, "input or list"); break;
    case HEED_A_CHOICE: {
        heed_sbuf_printf(&s, "one of ");
        const char *c = a->choices;
        while (*c) {
            size_t n = strcspn(c, ",");
            heed_sbuf_printf(&s, "`%.*s`%s", (int)n, c, c[n] ? ", " : "");
            c += n + (c[n] == ',');
        }
        break;
    }
    }
    if ((a->kind == HEED_A_INT || a->kind == HEED_A_FLOAT || a->kind == HEED_A_DIM) && a->lo < a->hi)
        heed_sbuf_printf(&s, " in [%.15g, %.15g]", a->lo, a->hi);
}

static void attr_rows(out *o, const heed_attr *attrs, const char *prefix)
{
    for (const heed_attr *a = attrs; a && a->name; a++) {
        char type[256];
        type_text(a, type, sizeof type);
        const char *def = !a->def ? "required" : a->def[0] ? a->def : "none";
        put(o, "| `%s%s` | %s | %s%s%s | %s |\n", prefix, a->name, type, a->def && a->def[0] ? "`" : "",
            def, a->def && a->def[0] ? "`" : "", a->doc ? a->doc : "");
        if (a->kind == HEED_A_MAP) {
            char sub[64];
            snprintf(sub, sizeof sub, "%s%s.", prefix, a->name);
            attr_rows(o, a->fields, sub);
        }
    }
}

heed_status heed_op_reference(heed_write_fn write, void *user)
{
    if (!write)
        return HEED_ERR_ARGUMENT;
    out o = {write, user, 0};
    for (int i = 0; i < HEED_OP_COUNT; i++) {
        const heed_op *op = heed_ops[i];
        put(&o, "### %s\n\n%s\n\nShapes: `%s`", op->name, op->doc, op->shapes);
        if (op->flags & HEED_OP_LOSS)
            put(&o, " (may stand in `loss:`)");
        put(&o, "\n\n| attribute | type | default | meaning |\n|---|---|---|---|\n");
        attr_rows(&o, op->attrs, "");
        put(&o, "\nOutputs: `%s` (the node's own name)", op->outputs[0]);
        for (int k = 1; op->outputs[k]; k++)
            put(&o, ", `.%s`", op->outputs[k]);
        put(&o, ".\n\n");
    }
    return o.rc ? HEED_ERR_IO : HEED_OK;
}
