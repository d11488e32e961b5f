/* SPDX-License-Identifier: Apache-2.0 */
/* Plugins stay loaded for the life of the process (core/plugin_loader.c,
 * lt_dlmakeresident): after the last context is destroyed, the cpu and
 * opencl plugins are still mapped (they used to be unloaded, running their
 * and the OpenCL driver's destructors at an arbitrary point, and leaving
 * what the ICD loader frees at exit to LeakSanitizer as an "unknown
 * module"); and a later context gets the same module back, initialised
 * again, and runs plans on every device. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_support.h"

#define PLUGIN_DIR TCONV_TEST_BUILD_DIR "/lib/tconv/"

/* Whether the plugin file @p name is mapped in this process now. */
static int loaded(const char *name) {
    void *handle = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
    if (handle != NULL)
        dlclose(handle); /* drops the reference RTLD_NOLOAD took */
    return handle != NULL;
}

/* One context: every device runs the tests' small problem. */
static void plan_on_every_device(void) {
    tconv_context_t ctx = NULL;
    assert_int_equal(tconv_context_create(&ctx, NULL), tconv_success);
    size_t count = 0;
    assert_int_equal(tconv_context_get_device_count(ctx, &count), tconv_success);
    assert_true(count >= 1);
    for (size_t i = 0; i < count; i++) {
        tconv_device_info_t info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        assert_int_equal(tconv_context_get_device_info(ctx, i, &info), tconv_success);
        char msg[1024];
        if (tc_check_small_plan(ctx, info.id, msg, sizeof msg) != 0)
            fail_msg("%s: %s", info.id, msg);
    }
    tconv_context_destroy(ctx);
}

static void test_plugins_stay_loaded(void **state) {
    (void)state;
    const char *cpu = PLUGIN_DIR "tconv_backend_cpu.so";
    const char *opencl = PLUGIN_DIR "tconv_backend_opencl.so";
    assert_false(loaded(cpu));
    plan_on_every_device();
    if (!loaded(cpu))
        fail_msg("%s was unloaded with the last context", cpu);
    if (access(opencl, F_OK) == 0 && !loaded(opencl))
        fail_msg("%s was unloaded with the last context", opencl);
    /* The same module, initialised again by a new context. */
    plan_on_every_device();
    plan_on_every_device();
}

int main(void) {
    tc_clean_environment();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugins_stay_loaded),
    };
    return cmocka_run_group_tests_name("plugin_resident", tests, NULL, NULL);
}
