/* SPDX-License-Identifier: Apache-2.0 */
/* Test plugin: the entry symbol exists but returns NULL. The core must report
 * a malformed table (bad_table), not crash. */
#include "faulty_base.h"

TCONV_BACKEND_EXPORT const tconv_backend_t *tconv_backend_entry(void);

const tconv_backend_t *tconv_backend_entry(void) {
    return NULL;
}
