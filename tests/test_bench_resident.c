/* SPDX-License-Identifier: Apache-2.0 */
/* `tconv bench --resident --json`: the 3-layer decoder timed on buffers
 * (resident, resident_io) and through host memory (host), read by value:
 * the layers' shapes chain (each output the next input), the FLOP count is
 * the layers' sum, each way has 0 < min <= median <= max, host_over_resident
 * is host's median over resident's, the last outputs are bitwise equal; and
 * the argument rules of --resident, --devices and --batch, with messages.
 * --part cpu runs on cpu:0 (always there); --part opencl on cpu:0 and
 * opencl:0 (77 without an OpenCL device, a failure under CI). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_value.h"
#include "process.h"
#include "test_support.h"

static const char *g_devices = "cpu:0";

static double number(const tc_json_t *object, const char *what, const char *key, double lo,
                     double hi) {
    const tc_json_t *v = tc_json_get_typed(object, key, tc_json_number);
    if (!v)
        fail_msg("%s: no number '%s'", what, key);
    if (!(v->number >= lo && v->number <= hi))
        fail_msg("%s: %s = %g, not in [%g, %g]", what, key, v->number, lo, hi);
    return v->number;
}

static const char *string(const tc_json_t *object, const char *what, const char *key) {
    const tc_json_t *v = tc_json_get_typed(object, key, tc_json_string);
    if (!v)
        fail_msg("%s: no string '%s'", what, key);
    return v->string;
}

static int same_number(double printed, double exact) {
    return fabs(printed - exact) <= 1e-8 * fabs(exact);
}

/* The decoder's FLOPs from the shapes the JSON gives: 2 * prod(input
 * without channels) * Cin * Cout * k^3 per layer, k from the layer names. */
static double layer_flops(const char *input_shape, const char *output_shape, int kernel) {
    long long n, d, h, w, cin, on, od, oh, ow, cout;
    if (sscanf(input_shape, "(%lld, %lld, %lld, %lld, %lld)", &n, &d, &h, &w, &cin) != 5 ||
        sscanf(output_shape, "(%lld, %lld, %lld, %lld, %lld)", &on, &od, &oh, &ow, &cout) != 5)
        fail_msg("shapes '%s' -> '%s' are not (N, D, H, W, C)", input_shape, output_shape);
    return 2.0 * (double)(n * d * h * w) * (double)cin * (double)cout * kernel * kernel * kernel;
}

static void test_resident_json(void **state) {
    (void)state;
    char *out = NULL, *err = NULL;
    const char *w = "tconv bench --resident --json";
    int rc = tp_run_args(TCONV_TEST_CLI, &out, &err, "bench", "--resident", "--devices", g_devices,
                         "--repeat", "1", "--warmup", "0", "--json", NULL);
    if (rc != 0)
        fail_msg("%s --devices %s: exit %d, stderr \"%s\"", w, g_devices, rc, err);
    print_message("%s", out);
    char why[256];
    tc_json_t *doc = tc_json_parse(out, why, sizeof why);
    if (!doc)
        fail_msg("%s: not JSON (%s): %s", w, why, out);
    if (strcmp(string(doc, w, "benchmark"), "resident") != 0 ||
        strcmp(string(doc, w, "dtype"), "float32") != 0)
        fail_msg("%s: benchmark or dtype wrong", w);
    number(doc, w, "batch", 1, 1);
    number(doc, w, "repeat", 1, 1);
    number(doc, w, "warmup", 0, 0);
    const tc_json_t *layers = tc_json_get_typed(doc, "layers", tc_json_array);
    if (!layers || layers->count != 3)
        fail_msg("%s: 'layers' is not an array of 3", w);
    static const int kernels[3] = {3, 2, 4}; /* keras_k3s2, up_k2s2, out_k4s2 */
    double flops = 0;
    for (size_t l = 0; l < 3; l++) {
        const char *in = string(&layers->items[l], w, "input_shape");
        const char *o = string(&layers->items[l], w, "output_shape");
        if (l > 0 && strcmp(in, string(&layers->items[l - 1], w, "output_shape")) != 0)
            fail_msg("%s: layer %zu's input %s is not layer %zu's output", w, l + 1, in, l);
        flops += layer_flops(in, o, kernels[l]);
    }
    /* The JSON writer prints 10 significant digits. */
    if (!same_number(number(doc, w, "flops", 0, 1e18), flops))
        fail_msg("%s: flops is not the layers' sum %.0f", w, flops);
    const tc_json_t *devices = tc_json_get_typed(doc, "devices", tc_json_array);
    size_t wanted = 1;
    for (const char *c = g_devices; *c; c++)
        wanted += *c == ',';
    if (!devices || devices->count != wanted)
        fail_msg("%s: 'devices' is not an array of %zu", w, wanted);
    const double day_ms = 864e5;
    for (size_t d = 0; d < devices->count; d++) {
        const tc_json_t *dev = &devices->items[d];
        const char *id = string(dev, w, "device");
        if (strncmp(g_devices + (d ? strlen("cpu:0,") : 0), id, strlen(id)) != 0)
            fail_msg("%s: device %zu is %s, not in the order of --devices %s", w, d, id, g_devices);
        double median[3];
        static const char *const ways[3] = {"resident", "resident_io", "host"};
        for (int k = 0; k < 3; k++) {
            const tc_json_t *way = tc_json_get_typed(dev, ways[k], tc_json_object);
            if (!way)
                fail_msg("%s: %s has no object '%s'", w, id, ways[k]);
            const double min = number(way, id, "min_ms", 1e-9, day_ms);
            median[k] = number(way, id, "median_ms", min, day_ms);
            number(way, id, "max_ms", median[k], day_ms);
        }
        const double ratio = number(dev, id, "host_over_resident", 0, 1e9);
        if (!same_number(ratio, median[2] / median[0]))
            fail_msg("%s: %s host_over_resident %g is not host %g / resident %g", w, id, ratio,
                     median[2], median[0]);
        const tc_json_t *equal = tc_json_get_typed(dev, "outputs_equal", tc_json_bool);
        if (!equal || equal->number != 1)
            fail_msg("%s: %s: the decoder's output on buffers differs from the host path's", w, id);
        number(dev, id, "max_abs_diff", 0, 0);
    }
    tc_json_free(doc);
    free(out);
    free(err);
}

/* Each rule's message names the argument and the rule; exit 2. */
static void test_argument_rules(void **state) {
    (void)state;
    static const struct {
        const char *args[8];
        const char *fragment;
    } cases[] = {
        {{"--resident", "--input-shape", "1,4,4,4,8", NULL}, "--input-shape: not with --resident"},
        {{"--resident", "--pass", "training", NULL}, "--pass: not with --resident"},
        {{"--batch", "2", "--input-shape", "1,4,4,4,8", "--filters", "2", "--kernel-size", "2"},
         "--batch: only with --resident"},
        {{"--devices", "cpu:0", "--input-shape", "1,4,4,4,8", "--filters", "2", "--kernel-size",
          "2"},
         "--devices: only with --resident"},
        {{"--resident", "--devices", ",", NULL}, "--devices: must name at least one device"},
        {{"--resident", "--batch", "0", NULL}, "--batch"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[12];
        int n = 0;
        argv[n++] = (char *)TCONV_TEST_CLI;
        argv[n++] = "bench";
        for (int a = 0; a < 8 && cases[i].args[a]; a++)
            argv[n++] = (char *)cases[i].args[a];
        argv[n] = NULL;
        char *out = NULL, *err = NULL, line[512];
        int rc = tp_run(argv, &out, &err);
        tp_format(argv, line, sizeof line);
        if (rc != 2 || !tc_contains(err, cases[i].fragment))
            fail_msg("%s: exit %d, stderr \"%s\"; want exit 2 with \"%s\"", line, rc, err,
                     cases[i].fragment);
        free(out);
        free(err);
    }
}

int main(int argc, char **argv) {
    tc_clean_environment();
    const int opencl =
        argc == 3 && strcmp(argv[1], "--part") == 0 && strcmp(argv[2], "opencl") == 0;
    if (opencl) {
        tconv_context_t ctx = NULL;
        int found =
            tconv_context_create(&ctx, NULL) == tconv_success && tc_has_device(ctx, "opencl:0");
        tconv_context_destroy(ctx);
        if (!found)
            return tc_cannot_run("no OpenCL device (opencl:0)");
        g_devices = "cpu:0,opencl:0";
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resident_json),
        cmocka_unit_test(test_argument_rules),
    };
    /* The argument rules need no device: the cpu part checks them. */
    const size_t count = opencl ? 1 : 2;
    return _cmocka_run_group_tests("test_bench_resident", tests, count, NULL, NULL) ? 1 : 0;
}
