/* SPDX-License-Identifier: Apache-2.0 */
/* Library version, compiled in from the CMake project version. */
#include "tconv/tconv.h"

TCONV_API const char *tconv_get_version(int *major, int *minor, int *patch) {
    if (major != NULL)
        *major = TCONV_VERSION_MAJOR;
    if (minor != NULL)
        *minor = TCONV_VERSION_MINOR;
    if (patch != NULL)
        *patch = TCONV_VERSION_PATCH;
    return TCONV_VERSION_STRING;
}
