/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: declares an ABI major the core does not speak. The core must
 * refuse it (abi_mismatch, found/wanted in the report) without calling init. */
#include "faulty_base.h"

static const tconv_backend_t table = {
    FAULTY_TABLE_INIT("wrong_abi"),
};

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t copy;
    copy = table;
    copy.abi_major = TCONV_BACKEND_ABI_MAJOR + 1;
    return &copy;
}
