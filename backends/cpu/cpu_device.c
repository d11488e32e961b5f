/* SPDX-License-Identifier: Apache-2.0 */
/* Host processor description from /proc/cpuinfo ("model name", "vendor_id",
 * "cpu MHz") and sysconf (memory, L1 data cache), and the last-level cache's
 * size from sysfs. */
#define _GNU_SOURCE
#include "cpu_device.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Copies the value of the first "key : value" line of /proc/cpuinfo into
 * out (trimmed); leaves out untouched when absent. */
static void cpuinfo_field(const char *key, char *out, size_t out_size) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) {
        return;
    }
    char line[512];
    size_t key_len = strlen(key);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, key_len) != 0) {
            continue;
        }
        const char *colon = strchr(line + key_len, ':');
        if (!colon) {
            continue;
        }
        /* Only whitespace may separate the key from the colon. */
        const char *p = line + key_len;
        while (p < colon && (*p == ' ' || *p == '\t')) {
            ++p;
        }
        if (p != colon) {
            continue;
        }
        const char *value = colon + 1;
        while (*value == ' ' || *value == '\t') {
            ++value;
        }
        size_t len = strcspn(value, "\r\n");
        if (len >= out_size) {
            len = out_size - 1;
        }
        memcpy(out, value, len);
        out[len] = '\0';
        break;
    }
    fclose(f);
}

void cpu_device_describe(tconv_device_info_t *info, unsigned compute_units, const char *isa_name) {
    /* Fields up to dtypes/has_fp16 exist in every version of the struct we
     * know; a smaller caller struct gets only what fits. */
    tconv_device_info_t d;
    memset(&d, 0, sizeof(d));
    d.type = tconv_device_cpu;
    d.flags = TCONV_DEVICE_FLAG_HOST_NATIVE;
    snprintf(d.name, sizeof(d.name), "host CPU");
    cpuinfo_field("model name", d.name, sizeof(d.name));
    cpuinfo_field("vendor_id", d.vendor, sizeof(d.vendor));
    snprintf(d.driver_version, sizeof(d.driver_version), "tconv-cpu %s", isa_name);
    char mhz[64] = "";
    cpuinfo_field("cpu MHz", mhz, sizeof(mhz));
    d.clock_mhz = (uint32_t)atof(mhz);
    d.compute_units = compute_units;
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page_size > 0) {
        d.global_mem_bytes = (uint64_t)pages * (uint64_t)page_size;
        d.max_alloc_bytes = d.global_mem_bytes;
    }
#ifdef _SC_LEVEL1_DCACHE_SIZE
    long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    if (l1 > 0) {
        d.local_mem_bytes = (uint64_t)l1;
    }
#endif
    d.dtypes = TCONV_DTYPE_BIT(tconv_f32) | TCONV_DTYPE_BIT(tconv_f64);

    /* Copy everything after the core-owned id/backend/index fields that fits
     * in the caller's struct. */
    size_t size = info->struct_size ? info->struct_size : sizeof(*info);
    if (size > sizeof(*info)) {
        size = sizeof(*info);
    }
    size_t from = offsetof(tconv_device_info_t, type);
    if (size > from) {
        memcpy((char *)info + from, (const char *)&d + from, size - from);
    }
}

/* The size of cpu0's highest-level cache as Linux describes it
 * (/sys/devices/system/cpu/cpu0/cache/index<i>/{level,size}, size like
 * "32768K"); 0 when absent. */
static uint64_t sysfs_last_level_cache_bytes(void) {
    uint64_t bytes = 0;
    int top = 0;
    for (int i = 0; i < 16; ++i) {
        char path[80];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f) {
            break;
        }
        int level = 0;
        const int have_level = fscanf(f, "%d", &level) == 1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        f = fopen(path, "r");
        if (!f) {
            continue;
        }
        unsigned long long value = 0;
        char unit = '\0';
        const int fields = fscanf(f, "%llu%c", &value, &unit);
        fclose(f);
        const uint64_t scale = unit == 'K'   ? 1024u
                               : unit == 'M' ? 1024u * 1024u
                               : unit == 'G' ? 1024u * 1024u * 1024u
                                             : 1u;
        if (have_level && fields >= 1 && value > 0 && value <= UINT64_MAX / scale && level > top) {
            top = level;
            bytes = (uint64_t)value * scale;
        }
    }
    return bytes;
}

/* sysfs first: in VMs on AMD EPYC glibc's sysconf(_SC_LEVEL3_CACHE_SIZE) can
 * report the whole package's L3 (320 MiB on this project's test machine,
 * whose cores share 32 MiB), which kept every output of the benchmark suite
 * but one from streaming (cpu_plan_choose_streaming). */
static uint64_t last_level_cache_bytes;
static pthread_once_t last_level_cache_once = PTHREAD_ONCE_INIT;

static void read_last_level_cache(void) {
    last_level_cache_bytes = sysfs_last_level_cache_bytes();
    if (last_level_cache_bytes > 0) {
        return;
    }
    long bytes = 0;
#ifdef _SC_LEVEL3_CACHE_SIZE
    bytes = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
#ifdef _SC_LEVEL2_CACHE_SIZE
    if (bytes <= 0) {
        bytes = sysconf(_SC_LEVEL2_CACHE_SIZE);
    }
#endif
    last_level_cache_bytes = bytes > 0 ? (uint64_t)bytes : (uint64_t)32 << 20;
}

/* Read once per process (every plan asks; the files do not change). */
uint64_t cpu_device_last_level_cache_bytes(void) {
    pthread_once(&last_level_cache_once, read_last_level_cache);
    return last_level_cache_bytes;
}
