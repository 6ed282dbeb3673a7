/*
 * yaml.h - a YAML document as a tree that remembers where each node came from.
 *
 * libyaml's event parser feeds the tree; duplicate mapping keys (which libyaml
 * accepts) are errors here, aliases are shared rather than copied, and limits on
 * size, depth and alias expansion keep hostile files cheap to reject.
 */
#ifndef HEED_YAML_H
#define HEED_YAML_H

#include "../runtime/base.h"

typedef enum hy_kind { HY_SCALAR, HY_SEQ, HY_MAP } hy_kind;

typedef struct hy_node {
    hy_kind kind;
    int line, col;   /* 1-based */
    bool plain;      /* an unquoted scalar (numbers and names are plain) */
    const char *str; /* scalar text, NUL-terminated */
    size_t len;
    struct hy_node **kids; /* seq: items; map: key, value, key, value... */
    size_t n;              /* seq: item count; map: pair count */
    size_t weight;         /* nodes in this subtree, aliases expanded */
} hy_node;

typedef struct hy_limits {
    size_t max_bytes;    /* source size */
    size_t max_depth;    /* nesting */
    size_t max_expanded; /* nodes after alias expansion */
} hy_limits;

typedef struct hy_doc {
    const heed_env *env;
    char *file;     /* display name */
    char *text;     /* the source, NUL-terminated */
    size_t text_len;
    hy_node *root;  /* NULL for an empty document */
    int errors;     /* errors already reported that did not stop the parse
                     * (duplicate keys): the caller keeps checking, then fails */
    void *pool;     /* node and string memory, freed at once */
} hy_doc;

/* Default limits: 16 MiB, depth 64, one million expanded nodes. */
void hy_limits_default(hy_limits *limits);

/* Parses `text` (copied). Errors go to diag with file:line:col. */
heed_status hy_parse(const heed_env *env, const char *text, size_t len, const char *file,
                     const hy_limits *limits, hy_doc **out, heed_diag *diag);
void hy_free(hy_doc *doc);

/* Map lookup by key; NULL when absent or `map` is not a mapping. */
const hy_node *hy_get(const hy_node *map, const char *key);
static inline const hy_node *hy_key(const hy_node *map, size_t i) { return map->kids[2 * i]; }
static inline const hy_node *hy_val(const hy_node *map, size_t i) { return map->kids[2 * i + 1]; }

/* A position for diagnostics. */
static inline heed_srcpos hy_pos(const hy_doc *doc, const hy_node *node)
{
    heed_srcpos p = {doc->file, doc->text, node ? node->line : 0, node ? node->col : 0};
    return p;
}

const char *hy_kind_name(hy_kind kind);

/* Scalar conversions; false when the text is not of that type. */
bool hy_int(const hy_node *node, int64_t *out);
bool hy_float(const hy_node *node, double *out);
bool hy_bool(const hy_node *node, bool *out);
/* A boolean's spellings: true, True, TRUE, yes; false, False, FALSE, no. */
#define HY_BOOL_SPELLINGS "true or false (or True, TRUE, yes; False, FALSE, no)"
bool hy_bool_text(const char *s, bool *out);
bool hy_is_null(const hy_node *node);

#endif /* HEED_YAML_H */
