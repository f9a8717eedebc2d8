/* Includes the header Kiln generates for tests/names/model.json, whose model and value names are
 * not C identifiers or collide once sanitized (x.1 / x_1, a C keyword, "workspace", quotes and a
 * comment terminator, UTF-8): the header must compile with -Wall -Wextra -Werror and the entry
 * points must compute relu(x.1 + x_1 + int). Exit status 0 when every check passes. */
#include <stdio.h>
#include <string.h>

#include "krt.h"
#include "names.h"

static int passed, failed;
#define CHECK(c)                                                                                   \
  do {                                                                                             \
    if (c)                                                                                         \
      passed++;                                                                                    \
    else {                                                                                         \
      failed++;                                                                                    \
      fprintf(stderr, "FAIL: %s\n", #c);                                                           \
    }                                                                                              \
  } while (0)

int main(void) {
  const float a[4] = {1, -2, 3, -4}, b[4] = {0.5f, 0.5f, 0.5f, 0.5f}, c[4] = {-1, -1, 1, 1};
  float sum1[4], sum2[4], out[4];
  CHECK(M_3_WEIRD_MODEL____NUM_INPUTS == 3 && M_3_WEIRD_MODEL____NUM_OUTPUTS == 3);
  CHECK(strcmp(M_3_WEIRD_MODEL____IN0_NAME, "x.1") == 0);
  CHECK(strcmp(M_3_WEIRD_MODEL____OUT1_NAME, "y\"*/\\ #error") == 0);
  CHECK(strcmp(M_3_WEIRD_MODEL____OUT2_NAME, "\xe5\x90\x8d\xe5\x89\x8d") == 0);
  CHECK(m_3_weird_model____run(a, b, c, sum1, sum2, out) == KRT_OK);
  for (int i = 0; i < 4; i++) {
    float s = a[i] + b[i] + c[i];
    CHECK(sum1[i] == a[i] + b[i]);
    CHECK(sum2[i] == s);
    CHECK(out[i] == (s > 0 ? s : 0));
  }
  CHECK(m_3_weird_model____run(NULL, b, c, sum1, sum2, out) == KRT_ERR_NULL_ARG);
  CHECK(m_3_weird_model____run(a, b, c, sum1, sum2, NULL) == KRT_ERR_NULL_ARG);
  printf("names: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
