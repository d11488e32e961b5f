/* SPDX-License-Identifier: Apache-2.0 */
/* Measured choice between CPU-class devices (measure.h). Each candidate gets
 * a real plan, zero weights and a zero input; one warm-up run, then up to
 * three timed runs interleaved across the candidates (so a burst of load
 * from elsewhere on the machine hits them alike), median per candidate.
 * A run of a sub-millisecond problem is a batch of executes (about 2 ms);
 * after a run slower than 0.5 s a candidate is not run again. */
#include "measure.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/monotonic_clock.h"
#include "error.h"
#include "log.h"
#include "problem.h"
#include "selection_cache.h"
#include "strbuf.h"

#define TIMED_RUNS 3
/* A run slower than this is measured once only: the difference it could
 * reveal no longer pays for the time spent finding it. */
#define SLOW_RUN_SECONDS 0.5
/* A timed run of a tiny problem repeats the execute until it lasts about
 * this long, so thread wake-ups and timer jitter do not decide. */
#define MIN_SAMPLE_SECONDS 2e-3
#define MAX_BATCH          64

typedef enum select_mode { MODE_AUTO, MODE_MODEL, MODE_MEASURE } select_mode_t;

typedef struct candidate {
    size_t device;
    tconv_backend_plan_t plan; /* NULL once it failed (then it is declined) */
    double runs[TIMED_RUNS];
    int run_count;
    int max_runs;
    int batch;     /* executes per timed run */
    double median; /* < 0 until measured */
} candidate_t;

typedef struct zero_tensors {
    void *input, *output, *kernel, *bias;
} zero_tensors_t;

static select_mode_t select_mode(void) {
    const char *v = getenv("TCONV_SELECT");
    if (v == NULL || v[0] == '\0' || strcasecmp(v, "auto") == 0)
        return MODE_AUTO;
    if (strcasecmp(v, "model") == 0)
        return MODE_MODEL;
    if (strcasecmp(v, "measure") == 0)
        return MODE_MEASURE;
    tconv_log(1, "TCONV_SELECT = '%s': must be auto, model or measure; using auto", v);
    return MODE_AUTO;
}

/* TCONV_SELECT_MIN_MS, else TCONV_MEASURE_MIN_SECONDS. */
static double measure_min_seconds(void) {
    const char *v = getenv("TCONV_SELECT_MIN_MS");
    if (v == NULL || v[0] == '\0')
        return TCONV_MEASURE_MIN_SECONDS;
    char *end = NULL;
    const double ms = strtod(v, &end);
    if (*end != '\0' || !(ms >= 0) || !isfinite(ms)) {
        tconv_log(1, "TCONV_SELECT_MIN_MS = '%s': must be a number >= 0; using %g", v,
                  TCONV_MEASURE_MIN_SECONDS * 1e3);
        return TCONV_MEASURE_MIN_SECONDS;
    }
    return ms * 1e-3;
}

size_t tconv_measure_run_length(const struct tconv_context *ctx, const tconv_selection_t *sel,
                                size_t first) {
    size_t n = 0;
    while (first + n < sel->count && n < TCONV_MEASURED_MAX) {
        size_t d = sel->order[first + n];
        if (!sel->by_auto[d] || sel->declined[d] != NULL ||
            tconv_context_device(ctx, d)->info.type != tconv_device_cpu)
            break;
        n++;
    }
    return n;
}

/* ---------------------------------------------------------------------- */
/* Running the candidates                                                   */

/* Bytes of the kernel; the resolution already checked that it fits. */
static size_t kernel_bytes(const tconv_canonical_t *c) {
    return (size_t)c->in_channels * (size_t)(c->out_channels / c->groups) *
           (size_t)c->kernel_size[0] * (size_t)c->kernel_size[1] * (size_t)c->kernel_size[2] *
           tconv_dtype_size(c->dtype);
}

static double total_tensor_bytes(const tconv_canonical_t *c) {
    return (double)tconv_canonical_input_bytes(c) + (double)tconv_canonical_output_bytes(c) +
           (double)kernel_bytes(c) + (double)c->out_channels * (double)tconv_dtype_size(c->dtype);
}

static bool zero_tensors_alloc(const tconv_canonical_t *c, zero_tensors_t *z) {
    z->input = calloc(1, tconv_canonical_input_bytes(c) ? tconv_canonical_input_bytes(c) : 1);
    z->output = malloc(tconv_canonical_output_bytes(c) ? tconv_canonical_output_bytes(c) : 1);
    z->kernel = calloc(1, kernel_bytes(c) ? kernel_bytes(c) : 1);
    z->bias = c->use_bias ? calloc((size_t)c->out_channels, tconv_dtype_size(c->dtype)) : NULL;
    return z->input && z->output && z->kernel && (z->bias || !c->use_bias);
}

static void zero_tensors_free(zero_tensors_t *z) {
    free(z->input);
    free(z->output);
    free(z->kernel);
    free(z->bias);
}

/* Records why @p cand dropped out and releases its plan. */
static bool drop_candidate(const struct tconv_context *ctx, tconv_selection_t *sel,
                           candidate_t *cand, const char *stage, int status, const char *msg) {
    const char *id = tconv_context_device(ctx, cand->device)->info.id;
    char reason[1200];
    if (status == tconv_unimplemented)
        snprintf(reason, sizeof reason, "%s declined: %s", stage, msg[0] ? msg : "no reason given");
    else
        snprintf(reason, sizeof reason, "%s failed (%s) while measuring: %s", stage,
                 tconv_status_name(tconv_status_sanitize(status)), msg[0] ? msg : "no message");
    tconv_log(1, "%s: %s", id, reason);
    if (cand->plan != NULL)
        tconv_device_backend(ctx, cand->device)->plan_destroy(cand->plan);
    cand->plan = NULL;
    return tconv_selection_decline(sel, cand->device, reason);
}

/* @p count executes of @p cand; *seconds receives the time of one. False
 * (and the candidate dropped) on failure. */
static bool timed_run(const struct tconv_context *ctx, tconv_selection_t *sel, candidate_t *cand,
                      const zero_tensors_t *z, int count, double *seconds, bool *oom) {
    char msg[1024] = "";
    const tconv_backend_t *b = tconv_device_backend(ctx, cand->device);
    int st = tconv_success;
    double start = tconv_monotonic_seconds();
    for (int i = 0; i < count && st == tconv_success; i++)
        st = b->plan_execute(cand->plan, z->input, z->output, msg, sizeof msg);
    *seconds = (tconv_monotonic_seconds() - start) / count;
    msg[sizeof msg - 1] = '\0';
    if (st == tconv_success)
        return true;
    *oom |= !drop_candidate(ctx, sel, cand, "plan_execute", st, msg);
    return false;
}

/* Plan, zero weights, one warm-up run and (unless slow) one run to size
 * the batch; false when it dropped out. */
static bool prepare_candidate(const struct tconv_context *ctx, tconv_selection_t *sel,
                              candidate_t *cand, const tconv_canonical_t *c,
                              const tconv_plan_options_t *options, const zero_tensors_t *z,
                              bool *oom) {
    const tconv_backend_t *b = tconv_device_backend(ctx, cand->device);
    char msg[1024] = "";
    int st = tconv_device_plan_create(ctx, cand->device, c, options, &cand->plan, msg, sizeof msg);
    msg[sizeof msg - 1] = '\0';
    if (st != tconv_success) {
        cand->plan = NULL;
        *oom |= !drop_candidate(ctx, sel, cand,
                                options ? "plan_create_with_options" : "plan_create", st, msg);
        return false;
    }
    st = b->plan_set_weights(cand->plan, z->kernel, z->bias, msg, sizeof msg);
    msg[sizeof msg - 1] = '\0';
    if (st != tconv_success) {
        *oom |= !drop_candidate(ctx, sel, cand, "plan_set_weights", st, msg);
        return false;
    }
    double warm_up, probe;
    cand->batch = 1;
    cand->max_runs = 1;
    if (!timed_run(ctx, sel, cand, z, 1, &warm_up, oom))
        return false;
    if (warm_up > SLOW_RUN_SECONDS) /* the first run may include one-time costs */
        return true;
    if (!timed_run(ctx, sel, cand, z, 1, &probe, oom))
        return false;
    cand->max_runs = TIMED_RUNS;
    if (probe > 0 && probe < MIN_SAMPLE_SECONDS)
        cand->batch = probe * MAX_BATCH < MIN_SAMPLE_SECONDS
                          ? MAX_BATCH
                          : (int)(MIN_SAMPLE_SECONDS / probe) + 1;
    return true;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(candidate_t *cand) {
    qsort(cand->runs, (size_t)cand->run_count, sizeof cand->runs[0], compare_doubles);
    int n = cand->run_count;
    return n % 2 ? cand->runs[n / 2] : 0.5 * (cand->runs[n / 2 - 1] + cand->runs[n / 2]);
}

/* Measures every candidate; those that fail are declined (plan NULL). */
static bool measure_candidates(const struct tconv_context *ctx, tconv_selection_t *sel,
                               candidate_t *cands, size_t n, const tconv_canonical_t *c,
                               const tconv_plan_options_t *options, const zero_tensors_t *z) {
    bool oom = false;
    for (size_t k = 0; k < n; k++)
        prepare_candidate(ctx, sel, &cands[k], c, options, z, &oom);
    for (int round = 0; round < TIMED_RUNS; round++) {
        for (size_t k = 0; k < n; k++) {
            candidate_t *cand = &cands[k];
            double s;
            if (cand->plan == NULL || cand->run_count >= cand->max_runs ||
                !timed_run(ctx, sel, cand, z, cand->batch, &s, &oom))
                continue;
            cand->runs[cand->run_count++] = s;
            if (s > SLOW_RUN_SECONDS)
                cand->max_runs = cand->run_count;
        }
    }
    for (size_t k = 0; k < n; k++) {
        candidate_t *cand = &cands[k];
        if (cand->plan == NULL)
            continue;
        cand->median = median_of(cand);
        char runs[160] = "", median[32];
        for (int r = 0; r < cand->run_count; r++) {
            char t[32];
            tconv_format_seconds(cand->runs[r], t, sizeof t);
            size_t used = strlen(runs);
            snprintf(runs + used, sizeof runs - used, "%s%s", r ? ", " : "", t);
        }
        tconv_format_seconds(cand->median, median, sizeof median);
        tconv_log(1, "%s: measured %s (median of runs %s; %d execute(s) per run)",
                  tconv_context_device(ctx, cand->device)->info.id, median, runs, cand->batch);
    }
    return !oom;
}

/* ---------------------------------------------------------------------- */
/* Ordering and explaining                                                  */

/* Puts the candidates in the order: devices[winner] first, then measured
 * or remembered ones by time, then the rest as they were (the model order).
 * Time < 0 means none. */
static void reorder_run(tconv_selection_t *sel, size_t first, const size_t *devices,
                        const double *seconds, size_t n, size_t winner) {
    size_t idx[TCONV_MEASURED_MAX];
    for (size_t k = 0; k < n; k++)
        idx[k] = k;
    for (size_t i = 1; i < n; i++) { /* stable insertion sort, timed first */
        size_t key = idx[i], j = i;
        while (j > 0) {
            double a = seconds[key], b = seconds[idx[j - 1]];
            bool before = key == winner || (idx[j - 1] != winner && a >= 0 && (b < 0 || a < b));
            if (!before)
                break;
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = key;
    }
    for (size_t k = 0; k < n; k++)
        sel->order[first + k] = devices[idx[k]];
}

/* "measured cpu:0 1.73 ms vs opencl:0 2.41 ms for this problem (<where>)" */
static void note_times(const tconv_measured_t *d, tconv_strbuf_t *sb) {
    size_t idx[TCONV_MEASURED_MAX], n = d->count;
    for (size_t k = 0; k < n; k++)
        idx[k] = k;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && d->seconds[idx[j]] < d->seconds[idx[j - 1]]; j--) {
            size_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    tconv_strbuf_appendf(sb, "measured");
    for (size_t k = 0; k < n; k++) {
        char t[32];
        tconv_format_seconds(d->seconds[idx[k]], t, sizeof t);
        tconv_strbuf_appendf(sb, "%s %s %s", k ? " vs" : "", d->ids[idx[k]], t);
    }
    tconv_strbuf_appendf(sb, " for this problem");
    if (strcmp(d->winner, d->ids[idx[0]]) != 0)
        tconv_strbuf_appendf(sb, " (within %.0f%%: the native backend is preferred)",
                             TCONV_MEASURED_TIE_MARGIN * 100);
}

static bool set_note(tconv_selection_t *sel, tconv_strbuf_t *sb) {
    free(sel->measure_note);
    sel->measure_note = tconv_strbuf_take(sb);
    return sel->measure_note != NULL;
}

static tconv_status_t out_of_memory(void) {
    return tconv_set_error(tconv_out_of_memory, "out of memory choosing between CPU devices");
}

/* Keeps the order the model gave and says why nothing was measured. */
static tconv_status_t decide_by_model(const struct tconv_context *ctx, tconv_selection_t *sel,
                                      size_t first, size_t n, const char *why) {
    tconv_strbuf_t sb = {0};
    for (size_t k = 0; k < n; k++)
        tconv_strbuf_appendf(&sb, "%s%s", k ? " vs " : "",
                             tconv_context_device(ctx, sel->order[first + k])->info.id);
    tconv_strbuf_appendf(&sb, " by the backends' estimates (measurement skipped: %s)", why);
    return set_note(sel, &sb) ? tconv_success : out_of_memory();
}

/* The remembered decision @p d orders the run, if it names a candidate. */
static bool apply_remembered(const struct tconv_context *ctx, tconv_selection_t *sel, size_t first,
                             size_t n, const tconv_measured_t *d) {
    size_t devices[TCONV_MEASURED_MAX];
    double seconds[TCONV_MEASURED_MAX];
    size_t winner = SIZE_MAX;
    for (size_t k = 0; k < n; k++) {
        devices[k] = sel->order[first + k];
        seconds[k] = -1.0;
        for (size_t i = 0; i < d->count; i++)
            if (strcmp(d->ids[i], tconv_context_device(ctx, devices[k])->info.id) == 0)
                seconds[k] = d->seconds[i];
        if (strcmp(d->winner, tconv_context_device(ctx, devices[k])->info.id) == 0)
            winner = k;
    }
    if (winner != SIZE_MAX)
        reorder_run(sel, first, devices, seconds, n, winner);
    return winner != SIZE_MAX;
}

/* The time @p previous recorded for device @p id, or -1. */
static double previous_seconds(const tconv_measured_t *previous, const char *id) {
    for (size_t i = 0; previous != NULL && i < previous->count; i++)
        if (strcmp(previous->ids[i], id) == 0)
            return previous->seconds[i];
    return -1.0;
}

/* Measures the run, reorders it, remembers the decision; keeps the winner's
 * plan in *winner_plan when asked. With @p previous (a close call measured
 * before), each device keeps its best time over both, and @p again says why
 * it was measured again. */
static tconv_status_t decide_by_measuring(const struct tconv_context *ctx, tconv_selection_t *sel,
                                          size_t first, size_t n, const tconv_canonical_t *c,
                                          const tconv_plan_options_t *options, const char *key,
                                          const char *file, const char *no_file_why,
                                          const tconv_measured_t *previous, const char *again,
                                          tconv_backend_plan_t *winner_plan) {
    zero_tensors_t z = {0};
    if (!zero_tensors_alloc(c, &z)) {
        zero_tensors_free(&z);
        return decide_by_model(ctx, sel, first, n, "out of memory for the zero tensors");
    }
    candidate_t cands[TCONV_MEASURED_MAX];
    size_t devices[TCONV_MEASURED_MAX] = {0};
    double seconds[TCONV_MEASURED_MAX] = {0};
    memset(cands, 0, sizeof cands);
    for (size_t k = 0; k < n; k++) {
        cands[k].device = devices[k] = sel->order[first + k];
        cands[k].median = -1.0;
    }
    bool ok = measure_candidates(ctx, sel, cands, n, c, options, &z);
    zero_tensors_free(&z);

    tconv_measured_t d;
    memset(&d, 0, sizeof d);
    size_t best = SIZE_MAX;
    for (size_t k = 0; k < n; k++) {
        seconds[k] = cands[k].median;
        if (cands[k].plan == NULL)
            continue;
        /* Noise only ever adds time: the best of the measurements is the
         * closest to the truth. */
        const char *id = tconv_context_device(ctx, cands[k].device)->info.id;
        const double before = previous_seconds(previous, id);
        if (before > 0 && before < seconds[k])
            seconds[k] = cands[k].median = before;
        snprintf(d.ids[d.count], sizeof d.ids[0], "%s", id);
        d.seconds[d.count++] = seconds[k];
        if (best == SIZE_MAX || cands[k].median < cands[best].median)
            best = k;
    }
    d.measured_at = (int64_t)time(NULL);
    d.measurements = previous != NULL && previous->measurements < TCONV_MEASURED_COUNT_MAX
                         ? previous->measurements + 1
                         : 1;
    /* A near tie goes to the host-native device: it needs no kernel build in
     * the next process and no copies, and the difference may be noise. */
    for (size_t k = 0; k < n && best != SIZE_MAX; k++)
        if (cands[k].plan != NULL &&
            (tconv_context_device(ctx, cands[k].device)->info.flags &
             TCONV_DEVICE_FLAG_HOST_NATIVE) &&
            cands[k].median <= cands[best].median * (1.0 + TCONV_MEASURED_TIE_MARGIN)) {
            best = k;
            break;
        }
    reorder_run(sel, first, devices, seconds, n, best);
    for (size_t k = 0; k < n; k++)
        if (cands[k].plan != NULL && (k != best || winner_plan == NULL))
            tconv_device_backend(ctx, cands[k].device)->plan_destroy(cands[k].plan);
    if (winner_plan != NULL)
        *winner_plan = best == SIZE_MAX ? NULL : cands[best].plan;

    tconv_strbuf_t sb = {0};
    if (d.count < 2) { /* nothing to compare: the others declined */
        tconv_strbuf_appendf(&sb, "measured: only %s ran, the others declined",
                             d.count ? d.ids[0] : "none");
    } else {
        snprintf(d.winner, sizeof d.winner, "%s",
                 tconv_context_device(ctx, cands[best].device)->info.id);
        tconv_selection_cache_store(ctx->selection_cache, key, &d);
        note_times(&d, &sb);
        if (again[0] != '\0')
            tconv_strbuf_appendf(&sb, " (measured again: %s)", again);
        char why[600], shown[4200];
        if (file == NULL) {
            tconv_strbuf_appendf(&sb, " (not cached on disk: %s)", no_file_why);
        } else if (tconv_selection_file_store(file, key, &d, why, sizeof why)) {
            tconv_selection_file_display(file, shown, sizeof shown);
            tconv_strbuf_appendf(&sb, " (cached in %s)", shown);
        } else {
            tconv_log(1, "selection cache not written: %s", why);
            tconv_strbuf_appendf(&sb, " (not cached on disk: %s)", why);
        }
    }
    if (!set_note(sel, &sb) || !ok) {
        if (winner_plan != NULL && *winner_plan != NULL)
            tconv_device_backend(ctx, cands[best].device)->plan_destroy(*winner_plan);
        if (winner_plan != NULL)
            *winner_plan = NULL;
        return out_of_memory();
    }
    return tconv_success;
}

typedef enum remembered_use {
    USE_REMEMBERED, /* trusted: no measurement */
    MEASURE_AGAIN,  /* a close call: measure, keep the best times of both */
    MEASURE_ANEW,   /* too old (or dated in the future): measure from scratch */
} remembered_use_t;

/* The winner's lead: the smallest gap to another device's time, as a
 * fraction of the faster of the two. */
static double winner_margin(const tconv_measured_t *d) {
    double w = -1.0, margin = INFINITY;
    for (size_t i = 0; i < d->count; i++)
        if (strcmp(d->ids[i], d->winner) == 0)
            w = d->seconds[i];
    for (size_t i = 0; i < d->count && w > 0; i++) {
        if (strcmp(d->ids[i], d->winner) == 0)
            continue;
        const double gap = fabs(d->seconds[i] - w) / fmin(d->seconds[i], w);
        margin = fmin(margin, gap);
    }
    return margin;
}

/* Whether the remembered decision @p d is used as it is (measure.h); @p why
 * receives the reason when it is not. */
static remembered_use_t remembered_use(const tconv_measured_t *d, int64_t now, char *why,
                                       size_t why_size) {
    const int64_t age = now - d->measured_at;
    if (age > TCONV_MEASURE_MAX_AGE_SECONDS) {
        snprintf(why, why_size, "the cached decision is %lld days old, more than the %d-day limit",
                 (long long)(age / 86400), TCONV_MEASURE_MAX_AGE_SECONDS / 86400);
        return MEASURE_ANEW;
    }
    if (age < -86400) { /* the clock went back, or the line is bogus */
        snprintf(why, why_size, "the cached decision is dated in the future");
        return MEASURE_ANEW;
    }
    const double margin = winner_margin(d);
    if (margin < TCONV_MEASURE_CLOSE_MARGIN && d->measurements < TCONV_MEASURE_MAX_MEASUREMENTS) {
        snprintf(why, why_size,
                 "a close call, the winner led by %.1f%% (under %.0f%%); measurement %u of at "
                 "most %d, best times kept",
                 margin * 100, TCONV_MEASURE_CLOSE_MARGIN * 100, d->measurements + 1,
                 TCONV_MEASURE_MAX_MEASUREMENTS);
        return MEASURE_AGAIN;
    }
    return USE_REMEMBERED;
}

/* Whether the remembered decision @p d names a device of the run as winner. */
static bool names_candidate(const struct tconv_context *ctx, const tconv_selection_t *sel,
                            size_t first, size_t n, const tconv_measured_t *d) {
    for (size_t k = 0; k < n; k++)
        if (strcmp(d->winner, tconv_context_device(ctx, sel->order[first + k])->info.id) == 0)
            return true;
    return false;
}

/* True when every candidate's estimate is known and below @p limit. */
static bool all_estimates_below(const tconv_selection_t *sel, size_t first, size_t n,
                                double limit) {
    for (size_t k = 0; k < n; k++) {
        const double est = sel->est_seconds[sel->order[first + k]];
        if (est < 0 || est >= limit)
            return false;
    }
    return true;
}

/* Moves the first host-native candidate of the run to its front. */
static void prefer_native(const struct tconv_context *ctx, tconv_selection_t *sel, size_t first,
                          size_t n) {
    for (size_t k = 0; k < n; k++) {
        const size_t d = sel->order[first + k];
        if (tconv_context_device(ctx, d)->info.flags & TCONV_DEVICE_FLAG_HOST_NATIVE) {
            memmove(sel->order + first + 1, sel->order + first, k * sizeof *sel->order);
            sel->order[first] = d;
            return;
        }
    }
}

tconv_status_t tconv_measure_decide(const struct tconv_context *ctx, tconv_selection_t *sel,
                                    size_t first, size_t n, const tconv_canonical_t *c,
                                    const tconv_plan_options_t *options,
                                    tconv_backend_plan_t *winner_plan) {
    if (winner_plan != NULL)
        *winner_plan = NULL;
    const select_mode_t mode = select_mode();
    if (mode == MODE_MODEL)
        return decide_by_model(ctx, sel, first, n, "TCONV_SELECT=model");
    const double min_seconds = measure_min_seconds();
    if (mode == MODE_AUTO && all_estimates_below(sel, first, n, min_seconds)) {
        prefer_native(ctx, sel, first, n);
        char why[128];
        snprintf(why, sizeof why,
                 "estimated under %.3g ms, too small to pay for a measurement; native first",
                 min_seconds * 1e3);
        return decide_by_model(ctx, sel, first, n, why);
    }
    const double bytes = total_tensor_bytes(c);
    if (bytes > (double)TCONV_MEASURE_MAX_BYTES) {
        char why[128];
        snprintf(why, sizeof why, "the tensors take %.0f MiB, more than the %zu MiB limit",
                 bytes / 1048576.0, TCONV_MEASURE_MAX_BYTES >> 20);
        return decide_by_model(ctx, sel, first, n, why);
    }

    /* The key lists the candidates in listing order, whatever the model said. */
    const tconv_device_info_t *infos[TCONV_MEASURED_MAX];
    size_t listed = 0;
    for (size_t k = 0; k < sel->device_count && listed < n; k++)
        for (size_t j = 0; j < n; j++)
            if (sel->order[first + j] == sel->listed[k])
                infos[listed++] = &tconv_context_device(ctx, sel->listed[k])->info;
    char *key = tconv_selection_key(c, infos, n, ctx->host.num_threads);
    if (key == NULL)
        return out_of_memory();
    char path[4096], why[400] = "";
    const bool have_file = tconv_selection_file_path(ctx->cache_dir, ctx->cache_dir_why, path,
                                                     sizeof path, why, sizeof why);

    tconv_status_t st = tconv_success;
    tconv_measured_t d;
    char from[4300] = ""; /* where a remembered decision came from */
    if (mode != MODE_MEASURE && tconv_selection_cache_lookup(ctx->selection_cache, key, &d) &&
        names_candidate(ctx, sel, first, n, &d)) {
        snprintf(from, sizeof from, "in this process");
    } else if (mode != MODE_MEASURE && have_file && tconv_selection_file_lookup(path, key, &d) &&
               names_candidate(ctx, sel, first, n, &d)) {
        tconv_selection_file_display(path, from, sizeof from);
    }
    char again[300] = "";
    const remembered_use_t use = from[0] != '\0'
                                     ? remembered_use(&d, (int64_t)time(NULL), again, sizeof again)
                                     : MEASURE_ANEW;
    if (use == USE_REMEMBERED) {
        apply_remembered(ctx, sel, first, n, &d);
        if (strcmp(from, "in this process") != 0)
            tconv_selection_cache_store(ctx->selection_cache, key, &d);
        tconv_strbuf_t sb = {0};
        note_times(&d, &sb);
        tconv_strbuf_appendf(&sb, " (from cache %s)", from);
        if (!set_note(sel, &sb))
            st = out_of_memory();
    } else {
        st = decide_by_measuring(ctx, sel, first, n, c, options, key, have_file ? path : NULL, why,
                                 use == MEASURE_AGAIN ? &d : NULL, again, winner_plan);
    }
    free(key);
    return st;
}
