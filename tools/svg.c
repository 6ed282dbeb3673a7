/* svg.c - see svg.h. */
#include "svg.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

/* The code point of the UTF-8 sequence at s and its length in *len; -1
 * (with *len 1) for a byte that starts no valid sequence: a stray
 * continuation, an overlong form, a surrogate or past U+10FFFF. */
static long utf8_point(const unsigned char *s, int *len)
{
    int n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : s[0] >= 0xe0 && s[0] < 0xf0 ? 3
                         : s[0] >= 0xf0 && s[0] < 0xf5 ? 4 : 0;
    *len = 1;
    if (n == 0)
        return -1;
    long c = n == 1 ? s[0] : s[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        c = c << 6 | (s[i] & 0x3f);
    }
    static const long least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < least[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return -1;
    *len = n;
    return c;
}

/* Text a model or its user wrote, made safe for an XML file (xml) or a
 * terminal: control characters, which XML 1.0 does not allow even as
 * references and which a terminal would obey, are drawn as their Unicode
 * control pictures (U+2400 + c, DEL as U+2421); invalid UTF-8, the
 * noncharacters U+FFFE and U+FFFF (not XML characters) and the C1 controls
 * (which some terminals obey) as U+FFFD. Tokens show a space as a visible
 * glyph, titles do not. */
static void safe_text(FILE *f, const char *text, bool xml, bool token)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        int len;
        long c = utf8_point(s, &len);
        if (xml && (c == '<' || c == '>' || c == '&' || c == '"'))
            fputs(c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : "&quot;", f);
        else if (c == ' ')
            fputs(token ? "\xe2\x90\xa3" : " ", f);
        else if (c >= 0 && c < 0x20)
            fprintf(f, "\xe2\x90%c", (char)(0x80 + c));
        else if (c == 0x7f)
            fputs("\xe2\x90\xa1", f);
        else if (c < 0 || (c >= 0x80 && c < 0xa0) || c == 0xfffe || c == 0xffff)
            fputs("\xef\xbf\xbd", f);
        else
            fwrite(s, 1, (size_t)len, f);
        s += len;
    }
}

static void xml_text(FILE *f, const char *s, bool token)
{
    safe_text(f, s, true, token);
}

/* White to dark blue. */
static void shade(float w, int *r, int *g, int *b)
{
    w = w < 0 ? 0 : w > 1 ? 1 : w;
    *r = (int)(255 - w * (255 - 8));
    *g = (int)(255 - w * (255 - 48));
    *b = (int)(255 - w * (255 - 107));
}

#define CELL 26
#define LEFT 90
#define TOP 70

static int map_height(const heatmap *m)
{
    return TOP + m->n_rows * CELL + 30;
}

static void one_heatmap(FILE *f, const heatmap *m, int y0)
{
    fprintf(f, "<text x=\"8\" y=\"%d\" font-size=\"14\" font-weight=\"bold\">", y0 + 18);
    xml_text(f, m->title, false);
    fprintf(f, "</text>\n");
    for (int c = 0; c < m->n_cols; c++) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\">",
                LEFT + c * CELL + CELL / 2, y0 + TOP - 8);
        xml_text(f, m->cols[c], true);
        fprintf(f, "</text>\n");
    }
    for (int r = 0; r < m->n_rows; r++) {
        int y = y0 + TOP + r * CELL;
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"end\">", LEFT - 8,
                y + CELL / 2 + 5);
        xml_text(f, m->rows[r], true);
        fprintf(f, "</text>\n");
        for (int c = 0; c < m->n_cols; c++) {
            int rr, gg, bb;
            float w = m->w[r * m->n_cols + c];
            shade(w, &rr, &gg, &bb);
            fprintf(f,
                    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" "
                    "stroke=\"#ddd\"><title>%.3f</title></rect>\n",
                    LEFT + c * CELL, y, CELL, CELL, rr, gg, bb, w);
        }
    }
}

void svg_heatmaps(FILE *f, const heatmap *maps, int n)
{
    int width = LEFT + 40, height = 10;
    for (int i = 0; i < n; i++) {
        int w = LEFT + maps[i].n_cols * CELL + 20;
        width = w > width ? w : width;
        height += map_height(&maps[i]);
    }
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"DejaVu Sans Mono, monospace\">\n<rect width=\"100%%\" height=\"100%%\" "
            "fill=\"white\"/>\n",
            width, height);
    int y = 5;
    for (int i = 0; i < n; i++) {
        one_heatmap(f, &maps[i], y);
        y += map_height(&maps[i]);
    }
    fprintf(f, "</svg>\n");
}

/* Characters shown (UTF-8 code points), for padding by display width. */
static int display_width(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* A column label two cells wide, as the shades below it: the token (a space
 * made visible, <unk> as '?'), padded; a longer one cut to its first
 * character and an ellipsis, which keeps the grid aligned. */
static void column_label(FILE *f, const char *tok)
{
    const char *t = !strcmp(tok, "<unk>") ? "?" : tok;
    int w = display_width(t);
    if (w > 2) {
        int first;
        utf8_point((const unsigned char *)t, &first);
        char one[5] = {0};
        memcpy(one, t, (size_t)first);
        safe_text(f, one, false, true);
        fputs("\xe2\x80\xa6", f);
        return;
    }
    safe_text(f, t, false, true);
    for (; w < 2; w++)
        fputc(' ', f);
}

void text_heatmap(FILE *f, const heatmap *m)
{
    static const char *const shades[] = {"  ", "\xe2\x96\x91\xe2\x96\x91", "\xe2\x96\x92\xe2\x96\x92",
                                         "\xe2\x96\x93\xe2\x96\x93", "\xe2\x96\x88\xe2\x96\x88"};
    safe_text(f, m->title, false, false);
    fprintf(f, "\n%8s ", "");
    for (int c = 0; c < m->n_cols; c++)
        column_label(f, m->cols[c]);
    fprintf(f, "\n");
    for (int r = 0; r < m->n_rows; r++) {
        for (int w = display_width(m->rows[r]); w < 8; w++)
            fputc(' ', f);
        safe_text(f, m->rows[r], false, false);
        fputc(' ', f);
        for (int c = 0; c < m->n_cols; c++) {
            float w = m->w[r * m->n_cols + c];
            int level = w < 0.05f ? 0 : w < 0.25f ? 1 : w < 0.5f ? 2 : w < 0.75f ? 3 : 4;
            fputs(shades[level], f);
        }
        fprintf(f, "\n");
    }
}

/* ------------------------------------------------------------ curves */

static void panel(FILE *f, int x0, int y0, int w, int h, const double *x, int n, const series *s,
                  int ns, const char *label)
{
    static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < n; i++)
            if (!isnan(s[k].y[i]))
                lo = fmin(lo, s[k].y[i]), hi = fmax(hi, s[k].y[i]);
    if (!(lo < hi))
        lo = isfinite(lo) ? lo - 1 : 0, hi = isfinite(hi) ? hi + 1 : 1;
    double xmin = n ? x[0] : 0, xmax = n ? x[n - 1] : 1;
    if (!(xmin < xmax))
        xmax = xmin + 1;
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n",
            x0, y0, w, h);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>\n", x0, y0 - 6, label);
    for (int t = 0; t <= 4; t++) {
        double v = lo + (hi - lo) * t / 4;
        int y = y0 + h - (int)(h * t / 4.0);
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%.4g</text>\n",
                x0 - 4, y + 3, v);
    }
    for (int k = 0; k < ns; k++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                colors[k % 4]);
        for (int i = 0; i < n; i++)
            if (!isnan(s[k].y[i]))
                fprintf(f, "%.1f,%.1f ", x0 + w * (x[i] - xmin) / (xmax - xmin),
                        y0 + h - h * (s[k].y[i] - lo) / (hi - lo));
        fprintf(f, "\"/>\n<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"%s\">%s</text>\n",
                x0 + w - 150, y0 + 14 + 14 * k, colors[k % 4], s[k].name);
    }
}

void svg_curves(FILE *f, const char *title, const double *x, int n, const series *top,
                int n_top, const char *top_label, const series *bottom, int n_bottom,
                const char *bottom_label)
{
    int W = 640, H = bottom ? 520 : 300;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"DejaVu Sans, sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" "
            "fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">",
            W, H);
    xml_text(f, title, false);
    fprintf(f, "</text>\n");
    panel(f, 70, 50, W - 100, 190, x, n, top, n_top, top_label);
    if (bottom)
        panel(f, 70, 290, W - 100, 190, x, n, bottom, n_bottom, bottom_label);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">epoch</text>\n",
            W / 2, H - 8);
    fprintf(f, "</svg>\n");
}
