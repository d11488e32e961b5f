/* SPDX-License-Identifier: Apache-2.0 */
/* The tconv cache directory, resolved once per context: the selection cache
 * (selection_cache.h) writes there, and plugins get it as
 * tconv_host_t.cache_dir, so there is one rule for every cache. */
#ifndef TCONV_CORE_CACHE_DIR_H
#define TCONV_CORE_CACHE_DIR_H

#include <stddef.h>

/* $TCONV_CACHE_DIR ("off": no cache), else $XDG_CACHE_HOME/tconv, else
 * $HOME/.cache/tconv, every variable read with secure_getenv. Relative
 * values are never used (the current directory is no cache): a relative
 * XDG_CACHE_HOME is ignored as the XDG spec says, a relative TCONV_CACHE_DIR
 * or HOME leaves no cache. Returns the malloc'd absolute path (not created
 * here), or NULL with the reason in @p why. */
char *tconv_cache_dir_resolve(char *why, size_t why_size);

#endif /* TCONV_CORE_CACHE_DIR_H */
