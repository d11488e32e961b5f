/* SPDX-License-Identifier: Apache-2.0 */
/* A program built the way a user builds against an installed tconv (with
 * `pkg-config --cflags --libs tconv`, or as part of a parent CMake project):
 * the compile-time version agrees with the library it runs with, and the
 * plugins load. Prints "tconv <version>, <n> device(s): <ids>" and exits 0,
 * or says what is wrong and exits 1. */
#include <stdio.h>
#include <string.h>

#include <tconv/tconv.h>

int main(void) {
    int major, minor, patch;
    const char *version = tconv_get_version(&major, &minor, &patch);
    if (major != TCONV_VERSION_MAJOR || minor != TCONV_VERSION_MINOR ||
        patch != TCONV_VERSION_PATCH || strcmp(version, TCONV_VERSION_STRING) != 0) {
        fprintf(stderr, "compiled against tconv %s, running with %s\n", TCONV_VERSION_STRING,
                version);
        return 1;
    }
    tconv_context_t context;
    if (tconv_context_create(&context, NULL) != tconv_success) {
        fprintf(stderr, "tconv_context_create: %s\n", tconv_get_last_error());
        return 1;
    }
    size_t count = 0;
    tconv_context_get_device_count(context, &count);
    printf("tconv %s, %zu device(s):", version, count);
    for (size_t i = 0; i < count; i++) {
        tconv_device_info_t info = {.struct_size = sizeof info};
        if (tconv_context_get_device_info(context, i, &info) == tconv_success)
            printf(" %s", info.id);
    }
    printf("\n");
    tconv_context_destroy(context);
    return count > 0 ? 0 : 1;
}
