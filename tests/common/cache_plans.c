/* SPDX-License-Identifier: Apache-2.0 */
/* Plans that fill tconv's caches (cache_plans.h). */
#define _POSIX_C_SOURCE 200809L
#include "cache_plans.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"

void tc_plans_that_cache(tconv_context_t ctx, int opencl, char *reason, size_t reason_size) {
    tconv_problem_t p;
    tc_small_problem(&p, tconv_f32);
    setenv("TCONV_SELECT_MIN_MS", "0", 1);
    tconv_plan_t plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, ctx, &p, "auto,-opencl"), tconv_success);
    snprintf(reason, reason_size, "%s", tconv_plan_get_selection_reason(plan));
    print_message("%s\n", reason);
    tconv_plan_destroy(plan);
    unsetenv("TCONV_SELECT_MIN_MS");
    if (!opencl)
        return;
    /* A shape of its own: the program is built here, not found built. */
    p.in_channels = 5;
    p.out_channels = 7;
    if (tconv_plan_create(&plan, ctx, &p, "opencl:0") != tconv_success)
        fail_msg("a plan on opencl:0, for the program cache: %s", tconv_get_last_error());
    tconv_plan_destroy(plan);
}

int tc_has_program_entry(const char *dir) {
    DIR *d = opendir(dir);
    int found = 0;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL && !found;)
        found = strncmp(e->d_name, "opencl-", 7) == 0;
    if (d != NULL)
        closedir(d);
    return found;
}
