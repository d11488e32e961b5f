# SPDX-License-Identifier: Apache-2.0
# Turns one OpenCL C file into a header holding it as a NUL-terminated char
# array, so the plugin carries its kernels without reading files at run time.
# Usage: cmake -DINPUT=x.cl -DOUTPUT=x.cl.h -DSYMBOL=name -P embed_kernel.cmake
if(NOT INPUT OR NOT OUTPUT OR NOT SYMBOL)
  message(FATAL_ERROR "embed_kernel.cmake needs INPUT, OUTPUT and SYMBOL")
endif()
file(READ ${INPUT} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# Break the array into lines of 16 bytes to keep the header readable.
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n    " bytes "${bytes}")
get_filename_component(name ${INPUT} NAME)
file(WRITE ${OUTPUT}.tmp
  "/* Generated from ${name} by embed_kernel.cmake: do not edit. */\n"
  "static const char ${SYMBOL}[] = {\n    ${bytes}0x00};\n")
# Replace only when changed, so dependents do not rebuild needlessly.
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
