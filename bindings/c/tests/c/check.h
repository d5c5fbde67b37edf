/* Tiny assertion helpers shared by the C tests of kabase (no framework needed). */
#ifndef KABASE_TEST_CHECK_H
#define KABASE_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kabase.h"

static int checks_failed = 0;
static int checks_passed = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            checks_passed++;                                                         \
        } else {                                                                     \
            checks_failed++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

/* Check a call returned `want`; frees the error message either way. */
#define CHECK_STATUS(want, call_expr)                                                        \
    do {                                                                                     \
        char *check_msg_ = NULL;                                                             \
        char **check_msgp_ = &check_msg_;                                                    \
        int check_rc_ = (call_expr);                                                         \
        if (check_rc_ == (want)) {                                                           \
            checks_passed++;                                                                 \
        } else {                                                                             \
            checks_failed++;                                                                 \
            fprintf(stderr, "%s:%d: %s returned %d (%s), want %d (%s): %s\n", __FILE__,       \
                    __LINE__, #call_expr, check_rc_, kabase_status_name(check_rc_), (want),  \
                    kabase_status_name(want), check_msg_ ? check_msg_ : "(no message)");     \
        }                                                                                    \
        (void)check_msgp_;                                                                   \
        kabase_string_free(check_msg_);                                                      \
    } while (0)

/* The `char **err_msg` argument for CHECK_STATUS calls. */
#define ERR check_msgp_

static int check_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}

#endif
