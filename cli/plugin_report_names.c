/* SPDX-License-Identifier: Apache-2.0 */
/* Plugin report states and reasons as words (see plugin_report_names.h). */
#include "plugin_report_names.h"

const char *plugin_state_name(tconv_plugin_state_t state) {
    return state == tconv_plugin_loaded    ? "loaded"
           : state == tconv_plugin_skipped ? "skipped"
                                           : "failed";
}

const char *plugin_reason_name(tconv_plugin_reason_t reason) {
    static const char *const names[] = {"ok",           "not_found", "open_failed", "no_entry",
                                        "abi_mismatch", "bad_table", "init_failed", "no_devices",
                                        "excluded",     "duplicate", "insecure"};
    return (unsigned)reason < sizeof names / sizeof names[0] ? names[reason] : "unknown";
}
