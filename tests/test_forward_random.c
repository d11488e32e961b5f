/* SPDX-License-Identifier: Apache-2.0 */
/* Seeded random problems over every option, run through the public API on
 * every device of one backend and compared with the float64 reference.
 *
 *   test_forward_random --backend cpu|opencl|NAME [--isa avx512|avx2|c]
 *                       [--dtype f32|f64] [--cases N] [--seed S] [--plugin PATH]
 *                       [--opencl-staging copy] [--opencl-max-alloc BYTES|half]
 *
 * --dtype runs one dtype (default both); a device without it makes the run
 * exit 77 (ctest: Skipped; a failure under CI=true) unless a case failed.
 *
 * --allow-decline counts a plan the device declines (tconv_no_device with
 * its reason, e.g. under TCONV_OPENCL_MAX_ALLOC) as declined, not failed;
 * at least one case per dtype must still run.
 *
 * OpenCL staging (tests/common/random_suite.h): --opencl-staging copy sets
 * TCONV_OPENCL_NO_IN_PLACE and fails any plan made in place; --opencl-max-
 * alloc caps allocations (half: per case, half the larger tensor) and fails
 * the run if no plan had more than one tile. Every OpenCL run prints how
 * many plans ran in place, staged, and in more than one tile.
 *
 * --plugin loads an extra plugin (e.g. plugins/example) through the
 * context's search_path, to run the same suite on it.
 *
 * Error of an output element: |y - ref| / (max(1, sum|terms|) * activation
 * slope); f32 must stay <= 1e-5 and f64 <= 1e-12. The output buffer is
 * filled with NaN first, so an element the device never writes fails. Each
 * case runs twice on the same plan: the second result must be bit-identical.
 * A failing case prints every parameter of its problem.
 *
 * OpenCL: with no OpenCL device the suite prints "skipped: no OpenCL
 * platform" and exits 77 (ctest: Skipped), unless CI=true, where an OpenCL
 * device is required and its absence fails. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "random_suite.h"
#include "reference/tconv_reference.h"
#include "test_support.h"

typedef long long ll;

static tc_suite_t g = {
    .program = "test_forward_random", .backend = "cpu", .cases = 200, .seed = 20240601};

/* Runs one case on one device. Returns 0 when right, 1 when declined (only
 * with --allow-decline); prints and returns -1 otherwise. *max_err receives the case's error. */
static int run_case(tc_suite_t *suite, const tconv_device_info_t *dev, tconv_problem_t *p,
                    int case_index, tc_rng_t *rng, double *max_err) {
    char desc[2048], msg[2048];
    tc_format_problem(p, desc, sizeof desc);
    tc_tensors_t t;
    if (tc_tensors_make(p, rng, &t, msg, sizeof msg) != 0) {
        print_error("case %d: %s\n  problem: %s\n", case_index, msg, desc);
        return -1;
    }
    char where[2200];
    snprintf(where, sizeof where, "case %d on %s\n  problem: %s", case_index, dev->id, desc);
    void *first = NULL;
    tconv_plan_t plan = NULL;
    int result = tc_suite_plan(suite, dev, p, &t, where, &plan);
    if (result != 0)
        goto done;
    result = -1;
    tconv_status_t st;
    size_t bytes = (size_t)t.out_count * (p->dtype == tconv_f64 ? 8 : 4);
    first = malloc(bytes ? bytes : 1);
    for (int run = 0; run < 2; run++) {
        tc_tensors_poison_output(&t);
        st = tconv_plan_execute(plan, t.dev_in, t.dev_out);
        if (st != tconv_success) {
            print_error("case %d on %s: execute #%d -> %s: %s\n  problem: %s\n", case_index,
                        dev->id, run + 1, tconv_status_name(st), tconv_get_last_error(), desc);
            goto done;
        }
        if (run == 0)
            memcpy(first, t.dev_out, bytes);
    }
    if (memcmp(first, t.dev_out, bytes) != 0) {
        print_error("case %d on %s: a second execute of the same plan gave a different result\n"
                    "  problem: %s\n",
                    case_index, dev->id, desc);
        goto done;
    }
    int64_t worst;
    *max_err = tc_tensors_max_error(&t, &worst);
    if (!(*max_err <= tc_tolerance(p->dtype))) {
        print_error("case %d on %s: error %.3g > %.0e at output element %lld of %lld: got %.9g, "
                    "reference %.9g (pre-activation %.9g, sum|terms| %.3g)\n  problem: %s\n",
                    case_index, dev->id, *max_err, tc_tolerance(p->dtype), (ll)worst,
                    (ll)t.out_count, tc_element(t.dev_out, p->dtype, worst), t.ref[worst],
                    t.ref_pre[worst], t.ref_abs[worst], desc);
        goto done;
    }
    result = 0;
done:
    free(first);
    tconv_plan_destroy(plan);
    tc_tensors_free(&t);
    return result;
}

int main(int argc, char **argv) {
    return tc_suite_main(&g, argc, argv, "forward_random", run_case, NULL);
}
