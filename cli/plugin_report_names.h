/* SPDX-License-Identifier: Apache-2.0 */
/* The words `tconv devices` and `tconv conformance` print for a plugin
 * report's state and reason (the spellings of tconv_types.h's enums). */
#ifndef TCONV_CLI_PLUGIN_REPORT_NAMES_H
#define TCONV_CLI_PLUGIN_REPORT_NAMES_H

#include "tconv/tconv.h"

/** "loaded", "skipped" or "failed". */
const char *plugin_state_name(tconv_plugin_state_t state);

/** "ok", "not_found", "open_failed", ... ("unknown" for a value outside the enum). */
const char *plugin_reason_name(tconv_plugin_reason_t reason);

#endif /* TCONV_CLI_PLUGIN_REPORT_NAMES_H */
