/* SPDX-License-Identifier: Apache-2.0 */
/* A grouped bar chart as plain SVG text: one group of bars per category
 * (layer), one bar per series (device, oneDNN), and a reference line per
 * group (the peak measured for that layer). Written atomically. */
#ifndef TCONV_BENCH_PLOT_H
#define TCONV_BENCH_PLOT_H

#include <stddef.h>

typedef struct bench_plot {
    const char *title;             /**< Top line. */
    const char *subtitle;          /**< Second line (conditions); NULL for none. */
    const char *y_label;           /**< Y axis name, e.g. "GFLOP/s". */
    int category_count;            /**< Groups (>= 1). */
    const char *const *categories; /**< Group labels. */
    int series_count;              /**< Bars per group (>= 1). */
    const char *const *series;     /**< Legend names. */
    const double *values;          /**< [category][series]; NaN or < 0: no bar. */
    const double *reference;       /**< Per category, NaN for none; NULL: no line. */
    const char *reference_label;   /**< Legend name of the line. */
} bench_plot_t;

/** Writes @p plot as an SVG document to @p path (temporary file + rename).
 *  @returns 0, or -1 with @p message naming the path and the failure, and
 *           errno set (EINVAL: nothing to plot). */
int bench_plot_write_svg(const char *path, const bench_plot_t *plot, char *message,
                         size_t message_size);

#endif /* TCONV_BENCH_PLOT_H */
