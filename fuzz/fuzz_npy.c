/* libFuzzer target over the .npy reader that `kiln run` and `kiln build` executables use on
 * files from outside: krt_npy_parse, then krt_npy_check and krt_print_summary on what it accepts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "krt_npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *null_out;
  if (!null_out) null_out = fopen("/dev/null", "w");
  krt_npy a;
  char err[256] = "";
  if (krt_npy_parse(data, size, &a, err, sizeof err)) {
    size_t esize = krt_dtype_size(a.dtype);
    if (esize == 0 || a.numel < 0 || a.nbytes != (size_t)a.numel * esize) abort();
    if (a.nbytes) {
      volatile uint8_t sink = 0;
      for (size_t i = 0; i < a.nbytes; i += 4096) sink ^= ((const uint8_t *)a.data)[i];
      sink ^= ((const uint8_t *)a.data)[a.nbytes - 1];
      (void)sink;
    }
    (void)krt_npy_check(&a, a.dtype, a.rank, a.dims, err, sizeof err);
    if (null_out) krt_print_summary(null_out, "x", a.dtype, a.rank, a.dims, a.data);
    krt_npy_free(&a);
  } else if (err[0] == 0) {
    fprintf(stderr, "krt_npy_parse failed without a message\n");
    abort();
  }
  return 0;
}
