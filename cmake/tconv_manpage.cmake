# SPDX-License-Identifier: Apache-2.0
# Writes the tconv(1) man page from the command's own help texts, so the
# page and `tconv <command> --help` never disagree. Run at build time:
#   cmake -DTCONV=<bin/tconv> -DVERSION=<x.y.z> -DOUT=<tconv.1> -P tconv_manpage.cmake

# Text as roff: backslashes escaped, a leading '.' or "'" made literal.
function(tconv_roff_text text out)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

function(tconv_help out)
  execute_process(COMMAND ${TCONV} ${ARGN} OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "tconv ${ARGN}: exit ${rc}")
  endif()
  tconv_roff_text("${text}" text)
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

tconv_help(overview help)
set(page ".TH TCONV 1 \"\" \"tconv ${VERSION}\" \"User Commands\"
.SH NAME
tconv \\- 3-D transposed convolution on any device, through backend plugins
.SH SYNOPSIS
.B tconv
.I command
.RI [ options ]
.br
.B tconv help
.RI [ command ]
.br
.B tconv \\-\\-version
.SH DESCRIPTION
.nf
${overview}.fi
.SH COMMANDS
")
foreach(command devices run backward bench demo conformance)
  tconv_help(text ${command} --help)
  string(APPEND page ".SS ${command}\n.nf\n${text}.fi\n")
endforeach()
string(APPEND page ".SH ENVIRONMENT
.TP
.B TCONV_DEVICE
Default device selector when the caller passes auto.
.TP
.B TCONV_PLUGINS
\\(aq:\\(aq-separated plugin files to load (absolute paths).
.TP
.B TCONV_PLUGIN_PATH
\\(aq:\\(aq-separated directories to search for tconv_backend_*.so (absolute paths).
.TP
.B TCONV_VERBOSE
1: plugin loading, device choice and plan decisions on stderr; 2: more.
.TP
.B TCONV_NUM_THREADS
Threads of the native CPU backend (default: the online cores).
.TP
.B TCONV_CPU_ISA
Force the CPU kernels: avx512, avx2 or c.
.TP
.B TCONV_SELECT
How auto tells CPU-class devices apart: auto, model or measure.
.TP
.B TCONV_CACHE_DIR
Cache of OpenCL programs and measured device choices (default
$XDG_CACHE_HOME/tconv, else ~/.cache/tconv; off disables).
.SH EXIT STATUS
0 success; 1 a conformance case failed, or none ran (tconv conformance only);
2 bad arguments or bad input (the message names the argument and the rule);
3 device or runtime failure; 4 out of memory.
.SH FILES
.TP
.I <libdir>/tconv/tconv_backend_*.so
The backend plugins, found next to libtconv.
.TP
.I <datadir>/tconv/conformance
The framework goldens tconv conformance runs (found from the tconv executable).
.SH SEE ALSO
.B tconv-bench
(the benchmark suite), when installed; the C API in
.IR <tconv/tconv.h> ;
pkg-config and CMake use in the README.
")
file(WRITE ${OUT} "${page}")
