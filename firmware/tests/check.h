/* Minimal test harness: CHECK counts, the binary prints "N passed, N failed" and exits non-zero on failure. */
#ifndef CHECK_H
#define CHECK_H
#include <stdio.h>

static int check_passed, check_failed;
#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (cond) {                                                                 \
            check_passed++;                                                         \
        } else {                                                                    \
            check_failed++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)
#define CHECK_REPORT()                                                  \
    (printf("%d passed, %d failed\n", check_passed, check_failed), check_failed ? 1 : 0)
#endif
