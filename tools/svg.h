/*
 * svg.h - pictures the CLI draws: attention heatmaps (SVG and shaded
 * terminal text) and training curves (SVG).
 */
#ifndef HEED_SVG_H
#define HEED_SVG_H

#include <stdio.h>

/* One attention map: rows are output tokens, columns source tokens. */
typedef struct heatmap {
    const char *title;
    const char *const *cols; /* source tokens */
    int n_cols;
    const char *const *rows; /* output tokens */
    int n_rows;
    const float *w;          /* [n_rows][n_cols] */
} heatmap;

/* Writes a document holding one heatmap per map, stacked. */
void svg_heatmaps(FILE *f, const heatmap *maps, int n);
/* Shaded blocks in the terminal, source across and outputs down. */
void text_heatmap(FILE *f, const heatmap *map);

/* A line chart with up to 4 series sharing the x axis (epochs). */
typedef struct series {
    const char *name;
    const double *y; /* NaN: no point */
} series;

void svg_curves(FILE *f, const char *title, const double *x, int n, const series *top,
                int n_top, const char *top_label, const series *bottom, int n_bottom,
                const char *bottom_label);

#endif
