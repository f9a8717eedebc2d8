/* npycmp GOT.npy WANT.npy [RTOL ATOL]: exit 0 if same dtype/shape and, for f32,
 * |got - want| <= atol + rtol*|want| everywhere (bytes equal for other dtypes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "krt.h"
#include "krt_npy.h"
#include "test_util.h"

int main(int argc, char **argv) {
  if (argc != 3 && argc != 5) {
    fprintf(stderr, "usage: npycmp GOT.npy WANT.npy [RTOL ATOL]\n");
    return 2;
  }
  double rtol = argc == 5 ? atof(argv[3]) : 1e-4, atol = argc == 5 ? atof(argv[4]) : 1e-5;
  krt_npy got, want;
  char err[512];
  if (!krt_npy_read(argv[1], &got, err, sizeof err) ||
      !krt_npy_read(argv[2], &want, err, sizeof err)) {
    fprintf(stderr, "npycmp: %s\n", err);
    return 1;
  }
  int ok = krt_npy_check(&got, want.dtype, want.rank, want.dims, err, sizeof err);
  if (!ok)
    fprintf(stderr, "npycmp: %s: %s\n", argv[1], err);
  else if (want.dtype == KRT_F32)
    ok = test_close_f32(got.data, want.data, (long)want.numel, rtol, atol, argv[1]);
  else
    ok = memcmp(got.data, want.data, want.nbytes) == 0;
  krt_npy_free(&got);
  krt_npy_free(&want);
  return ok ? 0 : 1;
}
