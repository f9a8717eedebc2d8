/* Classifies one 28x28 digit with two models compiled by Kiln (an MLP and LeNet-5) and writes
 * their logits. usage: digits x.npy OUTDIR  ->  OUTDIR/mlp_logits.npy, OUTDIR/cnn_logits.npy */
#include <stdio.h>

#include "digits_cnn.h"
#include "digits_mlp.h"
#include "krt.h"
#include "krt_npy.h"

static _Alignas(64) unsigned char ws_mlp[DIGITS_MLP_WORKSPACE_SIZE + 1];
static _Alignas(64) unsigned char ws_cnn[DIGITS_CNN_WORKSPACE_SIZE + 1];

static int argmax(const float *v, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[best]) best = i;
  return best;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: digits x.npy OUTDIR\n");
    return 2;
  }
  char err[512], path[4096];
  krt_npy x;
  if (!krt_npy_read(argv[1], &x, err, sizeof err)) {
    fprintf(stderr, "digits: %s\n", err);
    return 1;
  }
  if (x.dtype != KRT_F32 || x.numel != DIGITS_MLP_IN0_SIZE || x.numel != DIGITS_CNN_IN0_SIZE) {
    fprintf(stderr, "digits: %s: expected 784 f32 values\n", argv[1]);
    return 1;
  }
  float mlp[DIGITS_MLP_OUT0_SIZE], cnn[DIGITS_CNN_OUT0_SIZE];
  int rc = digits_mlp_run_ws(x.data, mlp, ws_mlp);
  if (rc == KRT_OK) rc = digits_cnn_run_ws(x.data, cnn, ws_cnn);
  krt_npy_free(&x);
  if (rc != KRT_OK) {
    fprintf(stderr, "digits: %s\n", krt_strerror(rc));
    return 1;
  }
  const int64_t dims[2] = {1, 10};
  snprintf(path, sizeof path, "%s/mlp_logits.npy", argv[2]);
  if (!krt_npy_write(path, KRT_F32, 2, dims, mlp, err, sizeof err)) goto fail;
  snprintf(path, sizeof path, "%s/cnn_logits.npy", argv[2]);
  if (!krt_npy_write(path, KRT_F32, 2, dims, cnn, err, sizeof err)) goto fail;
  printf("mlp says %d, lenet5 says %d\n", argmax(mlp, 10), argmax(cnn, 10));
  return 0;
fail:
  fprintf(stderr, "digits: %s\n", err);
  return 1;
}
