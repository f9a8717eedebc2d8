/* Minimal test harness: CHECK records a failure and goes on; test_report prints the closing
 * line CI reads ("N passed, N failed") and gives main's exit code. */
#ifndef KILN_TEST_UTIL_H
#define KILN_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int test_passed, test_failed;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (cond) {                                                                                    \
      test_passed++;                                                                               \
    } else {                                                                                       \
      test_failed++;                                                                               \
      fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);                     \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
    }                                                                                              \
  } while (0)

/* |got - want| <= atol + rtol * |want| for every element; reports the worst element. */
static inline int test_close_f32(const float *got, const float *want, long n, double rtol,
                                 double atol, const char *what) {
  long worst = -1;
  double worst_excess = 0;
  for (long i = 0; i < n; i++) {
    double diff = fabs((double)got[i] - (double)want[i]);
    double tol = atol + rtol * fabs((double)want[i]);
    if (!(diff <= tol) && (worst < 0 || diff - tol > worst_excess)) {
      worst = i;
      worst_excess = isnan(diff) ? INFINITY : diff - tol;
    }
  }
  if (worst >= 0)
    fprintf(stderr, "%s: element %ld: got %.9g, want %.9g\n", what, worst, got[worst], want[worst]);
  return worst < 0;
}

static inline int test_report(const char *suite) {
  printf("%s: %d passed, %d failed\n", suite, test_passed, test_failed);
  return test_failed ? 1 : 0;
}

#endif
