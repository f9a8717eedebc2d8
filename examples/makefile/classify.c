/* Runs the MLP that the Makefile compiled on one .npy image and writes its logits.
 * usage: classify x.npy out.npy */
#include <stdio.h>

#include "krt.h"
#include "krt_npy.h"
#include "mnist_mlp.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: classify x.npy out.npy\n");
    return 2;
  }
  char err[512];
  krt_npy x;
  if (!krt_npy_read(argv[1], &x, err, sizeof err) ||
      !krt_npy_check(&x, MNIST_MLP_IN0_DTYPE, MNIST_MLP_IN0_RANK,
                     (const int64_t[])MNIST_MLP_IN0_SHAPE, err, sizeof err)) {
    fprintf(stderr, "classify: %s\n", err);
    return 1;
  }
  float logits[MNIST_MLP_OUT0_SIZE];
  int rc = mnist_mlp_run(x.data, logits); /* the static workspace */
  krt_npy_free(&x);
  if (rc != KRT_OK) {
    fprintf(stderr, "classify: %s\n", krt_strerror(rc));
    return 1;
  }
  if (!krt_npy_write(argv[2], MNIST_MLP_OUT0_DTYPE, MNIST_MLP_OUT0_RANK,
                     (const int64_t[])MNIST_MLP_OUT0_SHAPE, logits, err, sizeof err)) {
    fprintf(stderr, "classify: %s\n", err);
    return 1;
  }
  return 0;
}
