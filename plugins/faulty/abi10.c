/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: a working backend as built against the ABI 1.0 header,
 * before the backward slots existed: abi_minor 0 and a table whose
 * struct_size ends at plan_destroy. It is the example plugin
 * (plugins/example, compiled into this module with its entry renamed
 * example_backend_entry) with those two fields changed, so its forward pass
 * really computes. A newer core must load it, run its forward pass, never
 * read past struct_size, and skip its device for problems whose passes ask
 * for a backward pass. */
#include <stddef.h>
#include <stdint.h>

#include "tconv/tconv_backend.h"

const tconv_backend_t *example_backend_entry(void);

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    static tconv_backend_t table;
    table = *example_backend_entry();
    table.name = "abi10";
    table.description = "test plugin built against the ABI 1.0 header (forward only)";
    table.abi_minor = 0;
    table.struct_size = offsetof(tconv_backend_t, plan_backward_data);
    /* Past struct_size a 1.0 plugin has whatever follows its table: here
     * addresses that crash if the core ever calls them. */
    table.plan_backward_data = (tconv_status_t(*)(tconv_backend_plan_t, const void *, void *,
                                                  char *, size_t))(uintptr_t)16;
    table.plan_backward_weights =
        (tconv_status_t(*)(tconv_backend_plan_t, const void *, const void *, void *, void *, char *,
                           size_t))(uintptr_t)16;
    return &table;
}
