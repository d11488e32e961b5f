/* SPDX-License-Identifier: Apache-2.0 */
/* SVG bar chart: fixed geometry, a "nice" linear Y scale from 0, XML-escaped
 * labels. No dependencies: the output is text any browser renders. */
#include "bench_plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "atomic_file.h"

/* Geometry in SVG user units (pixels). */
#define PLOT_BAR_WIDTH 14.0
#define PLOT_GROUP_GAP 22.0
#define PLOT_LEFT      72.0
#define PLOT_RIGHT     24.0
#define PLOT_TOP       92.0
#define PLOT_HEIGHT    300.0
#define PLOT_BOTTOM    96.0

/* Series colours (colour-blind-safe Okabe-Ito), cycled. */
static const char *const plot_colours[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                           "#56B4E9", "#D55E00", "#F0E442", "#000000"};
#define PLOT_COLOUR_COUNT (sizeof plot_colours / sizeof plot_colours[0])

static void write_escaped(FILE *out, const char *text) {
    for (const char *p = text ? text : ""; *p; p++) {
        switch (*p) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(*p, out);
        }
    }
}

static int has_value(double v) {
    return isfinite(v) && v >= 0.0;
}

/* The largest value drawn (bars and reference line). */
static double largest_value(const bench_plot_t *p) {
    double top = 0.0;
    for (int c = 0; c < p->category_count; c++) {
        for (int s = 0; s < p->series_count; s++) {
            double v = p->values[c * p->series_count + s];
            if (has_value(v) && v > top)
                top = v;
        }
        if (p->reference && has_value(p->reference[c]) && p->reference[c] > top)
            top = p->reference[c];
    }
    return top;
}

/* A tick step of 1, 2 or 5 times a power of ten giving at most 6 ticks. */
static double tick_step(double top) {
    if (!(top > 0.0))
        return 1.0;
    double magnitude = pow(10.0, floor(log10(top / 6.0)));
    static const double multiples[] = {1.0, 2.0, 5.0, 10.0};
    for (int i = 0; i < 4; i++)
        if (top / (multiples[i] * magnitude) <= 6.0)
            return multiples[i] * magnitude;
    return 10.0 * magnitude;
}

static void write_axes(FILE *out, const bench_plot_t *p, double width, double y_max, double step) {
    const double bottom = PLOT_TOP + PLOT_HEIGHT;
    for (double t = 0.0; t <= y_max + step * 1e-9; t += step) {
        double y = bottom - t / y_max * PLOT_HEIGHT;
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%g</text>\n",
                PLOT_LEFT, y, width - PLOT_RIGHT, y, PLOT_LEFT - 6, y + 4, t);
    }
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n"
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n",
            PLOT_LEFT, PLOT_TOP, PLOT_LEFT, bottom, PLOT_LEFT, bottom, width - PLOT_RIGHT, bottom);
    fprintf(out,
            "<text x=\"16\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 16 %.1f)\">",
            PLOT_TOP + PLOT_HEIGHT / 2, PLOT_TOP + PLOT_HEIGHT / 2);
    write_escaped(out, p->y_label);
    fputs("</text>\n", out);
}

static void write_legend(FILE *out, const bench_plot_t *p) {
    double x = PLOT_LEFT, y = 52.0;
    for (int s = 0; s < p->series_count; s++) {
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", x,
                y - 10, plot_colours[s % PLOT_COLOUR_COUNT]);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">", x + 16, y);
        write_escaped(out, p->series[s]);
        fputs("</text>\n", out);
        x += 30 + 7.0 * (double)strlen(p->series[s]);
    }
    if (p->reference) {
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#C00000\" "
                "stroke-width=\"2\" stroke-dasharray=\"6 3\"/>\n",
                x, y - 4, x + 24, y - 4);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">", x + 28, y);
        write_escaped(out, p->reference_label);
        fputs("</text>\n", out);
    }
}

static void write_groups(FILE *out, const bench_plot_t *p, double y_max) {
    const double bottom = PLOT_TOP + PLOT_HEIGHT;
    const double group_width = PLOT_BAR_WIDTH * p->series_count;
    for (int c = 0; c < p->category_count; c++) {
        double x0 = PLOT_LEFT + PLOT_GROUP_GAP / 2 + c * (group_width + PLOT_GROUP_GAP);
        for (int s = 0; s < p->series_count; s++) {
            double v = p->values[c * p->series_count + s];
            double x = x0 + s * PLOT_BAR_WIDTH;
            if (!has_value(v)) {
                fprintf(out,
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"middle\" "
                        "fill=\"#888888\">n/a</text>\n",
                        x + PLOT_BAR_WIDTH / 2, bottom - 3);
                continue;
            }
            double h = v / y_max * PLOT_HEIGHT;
            fprintf(out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                    "<title>",
                    x, bottom - h, PLOT_BAR_WIDTH - 1, h, plot_colours[s % PLOT_COLOUR_COUNT]);
            write_escaped(out, p->categories[c]);
            fputs(", ", out);
            write_escaped(out, p->series[s]);
            fprintf(out, ": %.1f</title></rect>\n", v);
        }
        if (p->reference && has_value(p->reference[c])) {
            double y = bottom - p->reference[c] / y_max * PLOT_HEIGHT;
            fprintf(out,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#C00000\" "
                    "stroke-width=\"2\" stroke-dasharray=\"6 3\"><title>",
                    x0 - 4, y, x0 + group_width + 3, y);
            write_escaped(out, p->categories[c]);
            fprintf(out, ": %s %.1f</title></line>\n", p->reference_label, p->reference[c]);
        }
        double label_x = x0 + group_width / 2, label_y = bottom + 12;
        fprintf(out,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" "
                "transform=\"rotate(-40 %.1f %.1f)\">",
                label_x, label_y, label_x, label_y);
        write_escaped(out, p->categories[c]);
        fputs("</text>\n", out);
    }
}

/* Approximate width of @p text in a sans-serif font of @p size pixels. */
static double text_width(const char *text, double size) {
    return text ? 0.6 * size * (double)strlen(text) : 0.0;
}

/* Wide enough for the bars, the legend and the subtitle. */
static double document_width(const bench_plot_t *p) {
    const double group_width = PLOT_BAR_WIDTH * p->series_count;
    double bars = PLOT_LEFT + p->category_count * (group_width + PLOT_GROUP_GAP) + PLOT_RIGHT;
    double legend = PLOT_LEFT + PLOT_RIGHT;
    for (int s = 0; s < p->series_count; s++)
        legend += 30 + 7.0 * (double)strlen(p->series[s]);
    if (p->reference)
        legend += 28 + text_width(p->reference_label, 12);
    double subtitle = PLOT_LEFT + text_width(p->subtitle, 11) + PLOT_RIGHT;
    double title = PLOT_LEFT + text_width(p->title, 15) + PLOT_RIGHT;
    double width = 480;
    const double candidates[] = {bars, legend, subtitle, title};
    for (int i = 0; i < 4; i++)
        if (candidates[i] > width)
            width = candidates[i];
    return ceil(width);
}

static void write_document(FILE *out, const bench_plot_t *p) {
    const double width = document_width(p);
    const double height = PLOT_TOP + PLOT_HEIGHT + PLOT_BOTTOM;
    double top = largest_value(p), step = tick_step(top * 1.05);
    double y_max = step * ceil(top * 1.05 / step);
    if (!(y_max > 0))
        y_max = step;
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
            width, height, width, height);
    fprintf(out, "<text x=\"%.1f\" y=\"20\" font-size=\"15\" font-weight=\"bold\">", PLOT_LEFT);
    write_escaped(out, p->title);
    fputs("</text>\n", out);
    if (p->subtitle) {
        fprintf(out, "<text x=\"%.1f\" y=\"36\" font-size=\"11\" fill=\"#444444\">", PLOT_LEFT);
        write_escaped(out, p->subtitle);
        fputs("</text>\n", out);
    }
    write_legend(out, p);
    write_axes(out, p, width, y_max, step);
    write_groups(out, p, y_max);
    fputs("</svg>\n", out);
}

int bench_plot_write_svg(const char *path, const bench_plot_t *plot, char *message,
                         size_t message_size) {
    char reason[512];
    atomic_file_t file;
    if (plot->category_count < 1 || plot->series_count < 1) {
        snprintf(message, message_size, "--svg %s: nothing to plot", path);
        errno = EINVAL;
        return -1;
    }
    if (atomic_file_open(&file, path, reason, sizeof reason) != 0) {
        snprintf(message, message_size, "--svg %s: %s", path, reason);
        return -1;
    }
    write_document(file.file, plot);
    if (atomic_file_commit(&file, reason, sizeof reason) != 0) {
        snprintf(message, message_size, "--svg %s: %s", path, reason);
        return -1;
    }
    return 0;
}
