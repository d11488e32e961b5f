/* SPDX-License-Identifier: Apache-2.0 */
/* What the CPU backend reports about its one device: the host processor. */
#ifndef TCONV_CPU_DEVICE_H
#define TCONV_CPU_DEVICE_H

#include <stdint.h>

#include "tconv/tconv_types.h"

/** Fills @p info (type, flags, name, vendor, memory, dtypes) from
 *  /proc/cpuinfo and sysconf; fields the host does not reveal stay 0 / "".
 *  Leaves id, backend and index to the core. Honours info->struct_size. */
void cpu_device_describe(tconv_device_info_t *info, unsigned compute_units, const char *isa_name);

/** Bytes of the host's last-level data cache: cpu0's highest cache level in
 *  sysfs, else sysconf's L3, else its L2, else 32 MiB. */
uint64_t cpu_device_last_level_cache_bytes(void);

#endif /* TCONV_CPU_DEVICE_H */
