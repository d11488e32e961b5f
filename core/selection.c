/* SPDX-License-Identifier: Apache-2.0 */
/* Device selection (docs/internals.md, "Device ids, ranking, selection"):
 * selector parsing, backend queries, automatic ranking and the explanation. */
#include "selection.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "log.h"
#include "plugin_loader.h"
#include "strbuf.h"

typedef enum term_kind { TERM_AUTO, TERM_ID, TERM_BACKEND, TERM_CLASS } term_kind_t;

typedef struct term {
    term_kind_t kind;
    bool exclude;             /* "-term" */
    char text[64];            /* the term without '-' */
    char backend[32];         /* TERM_ID, TERM_BACKEND: lower-case backend name */
    uint64_t index;           /* TERM_ID */
    tconv_device_type_t type; /* TERM_CLASS */
} term_t;

static const struct {
    const char *name;
    tconv_device_type_t type;
} class_terms[] = {
    {"gpu", tconv_device_gpu},
    {"accelerator", tconv_device_accelerator},
    {"custom", tconv_device_custom},
    {"cpu_type", tconv_device_cpu},
};

/* ---------------------------------------------------------------------- */
/* Parsing                                                                  */

static bool is_name_char(char c) {
    return isalnum((unsigned char)c) || c == '_';
}

static bool copy_lower_name(char *dst, size_t dst_size, const char *src, size_t len) {
    if (len == 0 || len >= dst_size)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_name_char(src[i]))
            return false;
        dst[i] = (char)tolower((unsigned char)src[i]);
    }
    dst[len] = '\0';
    return true;
}

/* Parses one trimmed term (without its '-'); sets the error on failure. */
static tconv_status_t parse_term(const char *where, term_t *t) {
    const char *text = t->text;
    if (strcasecmp(text, "auto") == 0) {
        t->kind = TERM_AUTO;
        return tconv_success;
    }
    const char *colon = strchr(text, ':');
    if (colon != NULL) {
        const char *digits = colon + 1;
        if (!copy_lower_name(t->backend, sizeof t->backend, text, (size_t)(colon - text)))
            return tconv_set_error(tconv_invalid_arguments,
                                   "%s: term '%s': '%.*s' is not a backend name ([a-z0-9_]+)",
                                   where, text, (int)(colon - text), text);
        char *end;
        errno = 0;
        unsigned long long index = strtoull(digits, &end, 10);
        if (!isdigit((unsigned char)digits[0]) || *end != '\0' || errno != 0)
            return tconv_set_error(tconv_invalid_arguments,
                                   "%s: term '%s': '%s' is not a device index (a number >= 0)",
                                   where, text, digits);
        t->kind = TERM_ID;
        t->index = index;
        return tconv_success;
    }
    for (size_t i = 0; i < sizeof class_terms / sizeof class_terms[0]; i++) {
        if (strcasecmp(text, class_terms[i].name) == 0) {
            t->kind = TERM_CLASS;
            t->type = class_terms[i].type;
            return tconv_success;
        }
    }
    if (!copy_lower_name(t->backend, sizeof t->backend, text, strlen(text)))
        return tconv_set_error(tconv_invalid_arguments,
                               "%s: term '%s' is not 'auto', a device id (backend:index), a "
                               "backend name or a class (gpu, accelerator, custom, cpu_type)",
                               where, text);
    t->kind = TERM_BACKEND;
    return tconv_success;
}

/* Splits @p selector at commas into terms (malloc'd array). */
static tconv_status_t parse_selector(const char *where, const char *selector, term_t **terms,
                                     size_t *count) {
    size_t max = 1;
    for (const char *p = selector; *p; p++)
        max += *p == ',';
    term_t *list = calloc(max, sizeof *list);
    if (list == NULL)
        return tconv_set_error(tconv_out_of_memory, "out of memory parsing the device selector");
    size_t n = 0;
    const char *p = selector;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && isspace((unsigned char)*p))
            p++, len--;
        while (len > 0 && isspace((unsigned char)p[len - 1]))
            len--;
        term_t *t = &list[n];
        if (len > 0 && *p == '-') {
            t->exclude = true;
            p++, len--;
            while (len > 0 && isspace((unsigned char)*p))
                p++, len--;
        }
        tconv_status_t st = tconv_success;
        if (len == 0)
            st = tconv_set_error(tconv_invalid_arguments, "%s: term %zu is empty", where, n + 1);
        else if (len >= sizeof t->text)
            st = tconv_set_error(tconv_invalid_arguments,
                                 "%s: term %zu is longer than %zu "
                                 "characters",
                                 where, n + 1, sizeof t->text - 1);
        if (st == tconv_success) {
            memcpy(t->text, p, len);
            t->text[len] = '\0';
            st = parse_term(where, t);
        }
        if (st == tconv_success && t->exclude && t->kind == TERM_AUTO)
            st = tconv_set_error(tconv_invalid_arguments, "%s: '-auto' would exclude every device",
                                 where);
        if (st != tconv_success) {
            free(list);
            return st;
        }
        n++;
        if (end == NULL)
            break;
        p = end + 1;
    }
    *terms = list;
    *count = n;
    return tconv_success;
}

/* ---------------------------------------------------------------------- */
/* Matching and ranking                                                     */

static bool term_matches(const term_t *t, const tconv_device_info_t *info) {
    switch (t->kind) {
    case TERM_AUTO:
        return true;
    case TERM_ID:
        return strcmp(info->backend, t->backend) == 0 && info->index == t->index;
    case TERM_BACKEND:
        return strcmp(info->backend, t->backend) == 0;
    case TERM_CLASS:
        return info->type == t->type;
    }
    return false;
}

/* Device class rank: discrete GPU > accelerator > integrated GPU > custom > CPU. */
static int class_score(const tconv_device_info_t *info) {
    switch (info->type) {
    case tconv_device_gpu:
        return (info->flags & TCONV_DEVICE_FLAG_UNIFIED_MEMORY) ? 3 : 5;
    case tconv_device_accelerator:
        return 4;
    case tconv_device_custom:
        return 2;
    case tconv_device_cpu:
        return 1;
    }
    return 0;
}

static const char *class_label(const tconv_device_info_t *info, char *buf, size_t size) {
    switch (info->type) {
    case tconv_device_gpu:
        return (info->flags & TCONV_DEVICE_FLAG_UNIFIED_MEMORY) ? "integrated GPU" : "discrete GPU";
    case tconv_device_accelerator:
        return "accelerator";
    case tconv_device_custom:
        return "custom";
    case tconv_device_cpu:
        if (info->flags & TCONV_DEVICE_FLAG_HOST_NATIVE)
            return "native CPU";
        snprintf(buf, size, "%s CPU", info->backend);
        return buf;
    }
    return "unknown type";
}

/* True if device a should be tried before device b by class (and, within
 * the CPU class, by estimate, then native first). */
static bool ranks_before(const struct tconv_context *ctx, const double *est, size_t a, size_t b) {
    const tconv_device_info_t *ia = &tconv_context_device(ctx, a)->info,
                              *ib = &tconv_context_device(ctx, b)->info;
    int ca = class_score(ia), cb = class_score(ib);
    if (ca != cb)
        return ca > cb;
    if (ia->type == tconv_device_cpu) {
        if (est[a] >= 0 && est[b] >= 0 && est[a] != est[b])
            return est[a] < est[b];
        bool na = (ia->flags & TCONV_DEVICE_FLAG_HOST_NATIVE) != 0;
        bool nb = (ib->flags & TCONV_DEVICE_FLAG_HOST_NATIVE) != 0;
        if (na != nb)
            return na;
    }
    return tconv_device_listed_before(ctx, a, b);
}

/* Asks the backend whether it would run @p problem; a decline or a failure
 * records the reason. */
static bool query_device(const struct tconv_context *ctx, const tconv_canonical_t *problem,
                         size_t d, tconv_selection_t *sel) {
    const tconv_backend_t *b = tconv_device_backend(ctx, d);
    sel->est_seconds[d] = -1.0;
    const char *missing = tconv_backend_missing_pass(b, problem);
    if (missing != NULL) {
        char reason[300];
        snprintf(reason, sizeof reason,
                 "backend '%s' (plugin ABI %u.%u) has no %s pass, which problem.passes asks for",
                 b->name, b->abi_major, b->abi_minor, missing);
        tconv_log(2, "%s: %s", tconv_context_device(ctx, d)->info.id, reason);
        return tconv_selection_decline(sel, d, reason);
    }
    if (problem == NULL || b->query == NULL)
        return true;
    char msg[512] = "";
    double est = -1.0;
    tconv_status_t st = tconv_status_sanitize(b->query(tconv_device_state(ctx, d),
                                                       tconv_context_device(ctx, d)->backend_device,
                                                       problem, &est, msg, sizeof msg));
    msg[sizeof msg - 1] = '\0';
    if (st == tconv_success) {
        sel->est_seconds[d] = isfinite(est) && est >= 0 ? est : -1.0;
        tconv_log(2, "%s: query accepts (est %g s)", tconv_context_device(ctx, d)->info.id,
                  sel->est_seconds[d]);
        return true;
    }
    tconv_log(2, "%s: query %s: %s", tconv_context_device(ctx, d)->info.id, tconv_status_name(st),
              msg);
    char reason[600];
    if (st == tconv_unimplemented)
        snprintf(reason, sizeof reason, "%s", msg[0] ? msg : "declined (no reason given)");
    else
        snprintf(reason, sizeof reason, "query failed (%s): %s", tconv_status_name(st),
                 msg[0] ? msg : "no message");
    return tconv_selection_decline(sel, d, reason);
}

/* ---------------------------------------------------------------------- */
/* Errors for terms that match nothing                                      */

/* Lists every device there is, in listing order, for a message saying
 * which devices a selector could have named: so every plugin starts (one
 * that runs out of memory doing so is left out). */
static void list_devices(struct tconv_context *ctx, tconv_strbuf_t *sb) {
    (void)tconv_plugins_start_all(ctx);
    size_t listed = 0;
    for (size_t pi = 0; pi < ctx->plugin_count; pi++) {
        const tconv_loaded_plugin_t *p = &ctx->plugins[pi];
        if (!atomic_load_explicit(&p->started, memory_order_acquire))
            continue;
        for (size_t k = 0; k < p->listed_devices; k++)
            tconv_strbuf_appendf(sb, "%s%s", listed++ ? ", " : "",
                                 tconv_context_device(ctx, p->first_device + k)->info.id);
    }
    if (listed == 0)
        tconv_strbuf_appendf(sb, "none");
}

/* The report of a plugin named @p backend that is not in use, if any (by its
 * table name, or by its file name tconv_backend_<name>.so when the table was
 * never read). */
static const tconv_plugin_report_t *unusable_plugin(const struct tconv_context *ctx,
                                                    const char *backend) {
    char file[64];
    snprintf(file, sizeof file, "/tconv_backend_%s.so", backend);
    for (size_t i = 0; i < ctx->report_count; i++) {
        const tconv_plugin_report_t *r = &ctx->reports[i];
        /* Path and name first: they never change after the context was made,
         * while another thread may be starting a plugin of another name and
         * completing its report. A report that matches is final: its plugin
         * (the term's backend) was started before the selection looked. */
        size_t plen = strlen(r->path), flen = strlen(file);
        bool file_match = plen >= flen && strcmp(r->path + plen - flen, file) == 0;
        if (!(strcmp(r->name, backend) == 0 || (r->name[0] == '\0' && file_match)))
            continue;
        if (r->state != tconv_plugin_loaded)
            return r;
    }
    return NULL;
}

/* Says why term @p t matches no device: "'x': no such device" or, for a
 * backend whose plugin is not in use, "'x': backend 'x' has no usable device
 * (plugin <path> failed: <why>)". True when the plugin explains it. */
static bool describe_no_match(const struct tconv_context *ctx, const term_t *t,
                              tconv_strbuf_t *sb) {
    const tconv_plugin_report_t *r = NULL;
    if (t->kind == TERM_ID || t->kind == TERM_BACKEND)
        r = unusable_plugin(ctx, t->backend);
    if (r != NULL)
        tconv_strbuf_appendf(sb, "'%s': backend '%s' has no usable device (plugin %s %s: %s)",
                             t->text, t->backend, r->path,
                             r->state == tconv_plugin_skipped ? "skipped" : "failed", r->message);
    else
        tconv_strbuf_appendf(sb, "'%s': no such device", t->text);
    return r != NULL;
}

static tconv_status_t no_match_error(struct tconv_context *ctx, const char *where,
                                     const term_t *t) {
    tconv_strbuf_t sb = {0};
    tconv_strbuf_appendf(&sb, "%s: ", where);
    if (!describe_no_match(ctx, t, &sb)) {
        tconv_strbuf_appendf(&sb, "; devices: ");
        list_devices(ctx, &sb);
    }
    tconv_status_t st = tconv_set_error(tconv_no_device, "%s", tconv_strbuf_text(&sb));
    tconv_strbuf_free(&sb);
    return st;
}

/* A list none of whose terms matches a device. */
static tconv_status_t no_term_matches_error(struct tconv_context *ctx, const char *where,
                                            const term_t *terms, size_t count) {
    tconv_strbuf_t sb = {0};
    tconv_strbuf_appendf(&sb, "%s: no term matches a device:", where);
    for (size_t i = 0, n = 0; i < count; i++) {
        if (terms[i].exclude)
            continue;
        tconv_strbuf_appendf(&sb, "%s ", n++ ? ";" : "");
        describe_no_match(ctx, &terms[i], &sb);
    }
    tconv_strbuf_appendf(&sb, "; devices: ");
    list_devices(ctx, &sb);
    tconv_status_t st = tconv_set_error(tconv_no_device, "%s", tconv_strbuf_text(&sb));
    tconv_strbuf_free(&sb);
    return st;
}

/* ---------------------------------------------------------------------- */

static bool alloc_selection(tconv_selection_t *sel, size_t n) {
    memset(sel, 0, sizeof *sel);
    size_t m = n ? n : 1;
    sel->device_count = n;
    sel->listed = calloc(m, sizeof *sel->listed);
    sel->order = calloc(m, sizeof *sel->order);
    sel->est_seconds = calloc(m, sizeof *sel->est_seconds);
    sel->excluded = calloc(m, sizeof *sel->excluded);
    sel->declined = calloc(m, sizeof *sel->declined);
    sel->by_auto = calloc(m, sizeof *sel->by_auto);
    return sel->listed && sel->order && sel->est_seconds && sel->excluded && sel->declined &&
           sel->by_auto;
}

/* Across classes, where the backends gave estimates, the faster estimate
 * goes first: the devices placed from @p first on that have one are sorted
 * by it (stably) among the places the class order gave them, and devices
 * without one keep their place. A plugin's estimate of a class above the
 * CPU's (custom, accelerator) that is far slower than the native CPU's no
 * longer wins on class alone. */
static void order_estimated_by_time(tconv_selection_t *sel, size_t first) {
    for (size_t i = first + 1; i < sel->count; i++) {
        const size_t key = sel->order[i];
        const double est = sel->est_seconds[key];
        if (est < 0)
            continue;
        /* Move key back over the estimated devices slower than it, leaving
         * the unestimated ones where they are. */
        size_t slot = i;
        for (size_t j = i; j-- > first;) {
            const size_t other = sel->order[j];
            if (sel->est_seconds[other] < 0)
                continue;
            if (sel->est_seconds[other] <= est)
                break;
            sel->order[slot] = other;
            slot = j;
        }
        sel->order[slot] = key;
    }
}

/* Appends the not yet placed, usable devices matching @p t: in auto-rank
 * order for "auto" and classes, in listing order for ids and backends. */
static void place_term(const struct tconv_context *ctx, const term_t *t, bool *placed,
                       tconv_selection_t *sel) {
    size_t first = sel->count;
    for (size_t k = 0; k < sel->device_count; k++) {
        const size_t d = sel->listed[k];
        if (placed[d] || sel->excluded[d] || sel->declined[d] != NULL ||
            !term_matches(t, &tconv_context_device(ctx, d)->info))
            continue;
        placed[d] = true;
        sel->by_auto[d] = t->kind == TERM_AUTO;
        sel->order[sel->count++] = d;
    }
    if (t->kind != TERM_AUTO && t->kind != TERM_CLASS) /* ids and backends: listing order */
        return;
    for (size_t i = first + 1; i < sel->count; i++) { /* stable insertion sort */
        size_t key = sel->order[i], j = i;
        while (j > first && ranks_before(ctx, sel->est_seconds, key, sel->order[j - 1])) {
            sel->order[j] = sel->order[j - 1];
            j--;
        }
        sel->order[j] = key;
    }
    order_estimated_by_time(sel, first);
}

/* Whether some exclusion term removes every device of backend @p name
 * ("-opencl"): then no term needs that backend started. */
static bool backend_excluded(const term_t *terms, size_t count, const char *name) {
    for (size_t i = 0; i < count; i++)
        if (terms[i].exclude && terms[i].kind == TERM_BACKEND &&
            strcmp(terms[i].backend, name) == 0)
            return true;
    return false;
}

/* Starts the plugins whose devices the selector's positive terms can
 * place: the named backend for an id or a backend, every plugin not
 * excluded as a whole for "auto" (also implied by a list of exclusions
 * only) and for a class. A backend no plugin provides needs nothing (the
 * term then matches no device). Exclusion terms start nothing: a device
 * not there cannot be placed. */
static tconv_status_t start_needed_plugins(struct tconv_context *ctx, const term_t *terms,
                                           size_t count) {
    bool every_plugin = true; /* with no positive term, the selector means auto */
    for (size_t i = 0; i < count; i++)
        if (!terms[i].exclude)
            every_plugin = false;
    for (size_t i = 0; i < count && !every_plugin; i++) {
        if (terms[i].exclude)
            continue;
        if (terms[i].kind == TERM_AUTO || terms[i].kind == TERM_CLASS) {
            every_plugin = true;
            break;
        }
        const size_t plugin = tconv_plugin_find(ctx, terms[i].backend);
        if (plugin == SIZE_MAX)
            continue;
        tconv_status_t st = tconv_plugin_start(ctx, plugin);
        if (st != tconv_success)
            return st;
    }
    for (size_t pi = 0; every_plugin && pi < ctx->plugin_count; pi++) {
        if (backend_excluded(terms, count, ctx->plugins[pi].table.name))
            continue;
        tconv_status_t st = tconv_plugin_start(ctx, pi);
        if (st != tconv_success)
            return st;
    }
    return tconv_success;
}

tconv_status_t tconv_select(struct tconv_context *ctx, const tconv_canonical_t *problem,
                            const char *selector, tconv_selection_t *sel) {
    memset(sel, 0, sizeof *sel);
    const char *where_kind = "device selector";
    bool plain_auto = false; /* no selector at all: the label is just "auto" */
    if (selector == NULL || selector[0] == '\0' || strcasecmp(selector, "auto") == 0) {
        const char *env = getenv("TCONV_DEVICE");
        selector = "auto";
        plain_auto = true;
        if (env != NULL && env[0] != '\0') {
            selector = env;
            where_kind = "TCONV_DEVICE";
            plain_auto = false;
        }
    }
    char where[320];
    snprintf(where, sizeof where, "%s '%.256s'", where_kind, selector);
    term_t *terms = NULL;
    size_t term_count = 0;
    tconv_status_t st = parse_selector(where, selector, &terms, &term_count);
    if (st != tconv_success)
        return st;
    st = start_needed_plugins(ctx, terms, term_count);
    if (st != tconv_success) {
        free(terms);
        return st;
    }
    /* The devices there are now (another thread may start a plugin and add
     * some while this selection runs: they are not considered). */
    const size_t device_count = tconv_context_device_count(ctx);
    if (!alloc_selection(sel, device_count)) {
        free(terms);
        tconv_selection_free(sel);
        return tconv_set_error(tconv_out_of_memory, "out of memory selecting a device");
    }
    tconv_devices_in_listing_order(ctx, device_count, sel->listed);
    size_t positive = 0, unmatched = 0, last_unmatched = 0;
    bool any_auto = false;
    tconv_strbuf_t skipped = {0};
    for (size_t i = 0; i < term_count; i++) {
        if (terms[i].exclude) {
            for (size_t d = 0; d < device_count; d++)
                if (term_matches(&terms[i], &tconv_context_device(ctx, d)->info))
                    sel->excluded[d] = true;
            continue;
        }
        positive++;
        any_auto |= terms[i].kind == TERM_AUTO;
        bool matched = terms[i].kind == TERM_AUTO; /* "auto" may well be empty */
        for (size_t d = 0; d < device_count && !matched; d++)
            matched = term_matches(&terms[i], &tconv_context_device(ctx, d)->info);
        if (!matched) {
            /* In a list, a term naming no device is passed over like a device
             * that declines ("gpu,cpu" on a machine without a GPU). */
            tconv_strbuf_appendf(&skipped, "%s", unmatched++ ? ", " : "skipped ");
            describe_no_match(ctx, &terms[i], &skipped);
            last_unmatched = i;
        }
    }
    if (unmatched > 0 && positive == 1)
        st = no_match_error(ctx, where, &terms[last_unmatched]);
    else if (unmatched > 0 && unmatched == positive)
        st = no_term_matches_error(ctx, where, terms, term_count);
    else if (unmatched > 0 && (sel->skipped_note = tconv_strbuf_take(&skipped)) == NULL)
        st = tconv_set_error(tconv_out_of_memory, "out of memory selecting a device");
    tconv_strbuf_free(&skipped);
    if (st != tconv_success)
        goto done;
    const term_t auto_term = {.kind = TERM_AUTO, .text = "auto"};
    sel->ranked_only = positive == 0 || (positive == 1 && any_auto && term_count == 1);
    snprintf(sel->label, sizeof sel->label, "%s", plain_auto ? "auto" : where);

    /* Ask only the devices some positive term can place. */
    for (size_t d = 0; d < device_count; d++) {
        bool wanted = positive == 0;
        for (size_t i = 0; i < term_count && !wanted; i++)
            wanted =
                !terms[i].exclude && term_matches(&terms[i], &tconv_context_device(ctx, d)->info);
        sel->est_seconds[d] = -1.0;
        if (wanted && !sel->excluded[d] && !query_device(ctx, problem, d, sel)) {
            st = tconv_set_error(tconv_out_of_memory, "out of memory selecting a device");
            goto done;
        }
    }
    bool *placed = calloc(device_count ? device_count : 1, sizeof *placed);
    if (placed == NULL) {
        st = tconv_set_error(tconv_out_of_memory, "out of memory selecting a device");
        goto done;
    }
    if (positive == 0)
        place_term(ctx, &auto_term, placed, sel);
    for (size_t i = 0; i < term_count; i++)
        if (!terms[i].exclude)
            place_term(ctx, &terms[i], placed, sel);
    free(placed);
done:
    free(terms);
    if (st != tconv_success)
        tconv_selection_free(sel);
    return st;
}

bool tconv_selection_decline(tconv_selection_t *sel, size_t device, const char *reason) {
    char *copy = strdup(reason);
    if (copy == NULL)
        return false;
    free(sel->declined[device]);
    sel->declined[device] = copy;
    return true;
}

static void append_seconds(tconv_strbuf_t *sb, double s) {
    char text[32];
    tconv_format_seconds(s, text, sizeof text);
    tconv_strbuf_appendf(sb, ", est %s", text);
}

char *tconv_selection_explain(const struct tconv_context *ctx, const tconv_selection_t *sel,
                              size_t chosen) {
    tconv_strbuf_t sb = {0};
    tconv_strbuf_appendf(&sb, "%s: %s ", sel->label, sel->ranked_only ? "ranked" : "order");
    if (sel->count == 0 && sel->device_count == 0)
        tconv_strbuf_appendf(&sb,
                             "(no devices: %zu plugin candidate(s) considered, none exposes a "
                             "device; see the plugin reports or set TCONV_VERBOSE=1)",
                             ctx->report_count);
    else if (sel->count == 0)
        tconv_strbuf_appendf(&sb, "(no candidate)");
    for (size_t i = 0; i < sel->count; i++) {
        size_t d = sel->order[i];
        char buf[64];
        tconv_strbuf_appendf(&sb, "%s%s (%s", i ? " > " : "", tconv_context_device(ctx, d)->info.id,
                             class_label(&tconv_context_device(ctx, d)->info, buf, sizeof buf));
        if (sel->est_seconds[d] >= 0)
            append_seconds(&sb, sel->est_seconds[d]);
        tconv_strbuf_appendf(&sb, ")");
    }
    if (sel->skipped_note != NULL)
        tconv_strbuf_appendf(&sb, "; %s", sel->skipped_note);
    if (sel->measure_note != NULL)
        tconv_strbuf_appendf(&sb, "; %s", sel->measure_note);
    if (chosen < sel->device_count)
        tconv_strbuf_appendf(&sb, "; chose %s.", tconv_context_device(ctx, chosen)->info.id);
    else
        tconv_strbuf_appendf(&sb, "; chose none.");
    bool any = false;
    for (size_t k = 0; k < sel->device_count; k++) {
        const size_t d = sel->listed[k];
        if (!sel->excluded[d])
            continue;
        tconv_strbuf_appendf(&sb, "%s%s",
                             any ? ", " : " excluded: ", tconv_context_device(ctx, d)->info.id);
        any = true;
    }
    if (any)
        tconv_strbuf_appendf(&sb, ".");
    tconv_strbuf_appendf(&sb, " declined:");
    any = false;
    for (size_t k = 0; k < sel->device_count; k++) {
        const size_t d = sel->listed[k];
        if (sel->declined[d] == NULL)
            continue;
        tconv_strbuf_appendf(&sb, "%s %s: %s", any ? ";" : "",
                             tconv_context_device(ctx, d)->info.id, sel->declined[d]);
        any = true;
    }
    tconv_strbuf_appendf(&sb, "%s", any ? "." : " none.");
    return tconv_strbuf_take(&sb);
}

void tconv_selection_free(tconv_selection_t *sel) {
    if (sel->declined != NULL)
        for (size_t d = 0; d < sel->device_count; d++)
            free(sel->declined[d]);
    free(sel->declined);
    free(sel->listed);
    free(sel->order);
    free(sel->est_seconds);
    free(sel->excluded);
    free(sel->by_auto);
    free(sel->measure_note);
    free(sel->skipped_note);
    memset(sel, 0, sizeof *sel);
}
