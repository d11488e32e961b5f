/* SPDX-License-Identifier: Apache-2.0 */
/* One conformance case: the problem a framework ran, its arrays and what
 * tconv must do with it (match the golden output, match the golden
 * gradients, or refuse the arguments). */
#ifndef TCONV_CONFORMANCE_CASE_H
#define TCONV_CONFORMANCE_CASE_H

#include <stddef.h>

#include "tconv/tconv.h"

#define CASE_PATH_MAX 1024

typedef struct conformance_case {
    char name[128];
    char framework[32];      /**< keras, tensorflow, torch, onnx. */
    tconv_problem_t problem; /**< As the C API receives it. */
    char padding_name[32];   /**< The JSON padding word (may be one tconv refuses). */
    int expect_error;        /**< The framework refused: tconv must refuse too. */
    int gradient;            /**< "kind": "gradient": golden dL/dx, dL/dw, dL/db for dL/dy. */
    double tolerance;        /**< Relative tolerance from the case; 0 = the dtype's default. */
    /* Absolute paths; "" when the case has no such array. */
    char input[CASE_PATH_MAX], kernel[CASE_PATH_MAX], bias[CASE_PATH_MAX], output[CASE_PATH_MAX];
    /* Gradient cases only: dL/dy and the golden gradients (grad_bias "" without bias). */
    char grad_output[CASE_PATH_MAX], grad_input[CASE_PATH_MAX], grad_kernel[CASE_PATH_MAX],
        grad_bias[CASE_PATH_MAX];
} conformance_case_t;

/** Reads @p json_path (a case description) into @p c; the array paths are
 *  resolved next to it. Returns 0, or -1 with the reason in @p message. */
int case_load(const char *json_path, conformance_case_t *c, char *message, size_t message_size);

/** The case files (every *.json) of @p dir, sorted by name so that every run
 *  takes them in the same order: *paths receives @p dir/<name> for each
 *  (release with case_list_free).
 *  @returns 0, or -1 with errno set when @p dir cannot be read or memory ran out. */
int case_list(const char *dir, char ***paths, size_t *count);

void case_list_free(char **paths, size_t count);

#endif /* TCONV_CONFORMANCE_CASE_H */
