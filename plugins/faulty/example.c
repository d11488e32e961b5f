/* SPDX-License-Identifier: Apache-2.0 */
/* The example plugin (plugins/example) as it is, built in-tree for the C
 * tests (compiled into this module with its entry renamed
 * example_backend_entry, as abi10.c does): a plugin of the current ABI
 * without plan_set_batch and without the buffer group, so the core pads a
 * smaller batch itself and makes host buffers for it (tests/test_buffers.c). */
#include "tconv/tconv_backend.h"

const tconv_backend_t *example_backend_entry(void);

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    return example_backend_entry();
}
