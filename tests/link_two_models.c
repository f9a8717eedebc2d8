/* Links three compiled models into one program: mlp as net_a, lenet5 as net_b and mlp again as
 * net_c (same model, same weights, different prefix) to prove every symbol carries the prefix.
 * Runs each through its typed entry points and compares with the PyTorch goldens.
 * usage: link_two_models EXAMPLES_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "krt.h"
#include "krt_npy.h"
#include "net_a.h"
#include "net_b.h"
#include "net_c.h"
#include "test_util.h"

static float *load(const char *dir, const char *model, const char *sub, const char *name,
                   long want_numel) {
  char path[1024], err[512];
  snprintf(path, sizeof path, "%s/%s/%s/%s.npy", dir, model, sub, name);
  krt_npy a;
  if (!krt_npy_read(path, &a, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    exit(1);
  }
  CHECK(a.numel == want_numel, "%s: %lld elements, header says %ld", path, (long long)a.numel,
        want_numel);
  return a.data;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const char *dir = argv[1];
  float *x_mlp = load(dir, "mlp", "inputs", NET_A_IN0_NAME, NET_A_IN0_SIZE);
  float *want_mlp = load(dir, "mlp", "golden", NET_A_OUT0_NAME, NET_A_OUT0_SIZE);
  float *x_lenet = load(dir, "lenet5", "inputs", NET_B_IN0_NAME, NET_B_IN0_SIZE);
  float *want_lenet = load(dir, "lenet5", "golden", NET_B_OUT0_NAME, NET_B_OUT0_SIZE);
  static float out_a[NET_A_OUT0_SIZE], out_b[NET_B_OUT0_SIZE], out_c[NET_C_OUT0_SIZE];

  CHECK(net_a_run(x_mlp, out_a) == KRT_OK, "net_a_run failed");
  CHECK(test_close_f32(out_a, want_mlp, NET_A_OUT0_SIZE, 1e-4, 1e-5, "net_a"), "net_a output");
  CHECK(net_b_run(x_lenet, out_b) == KRT_OK, "net_b_run failed");
  CHECK(test_close_f32(out_b, want_lenet, NET_B_OUT0_SIZE, 1e-4, 1e-5, "net_b"), "net_b output");

  /* The reentrant entry point with a caller-provided workspace gives the same result. */
  void *ws =
      aligned_alloc(NET_C_WORKSPACE_ALIGN, (NET_C_WORKSPACE_SIZE + NET_C_WORKSPACE_ALIGN) /
                                               NET_C_WORKSPACE_ALIGN * NET_C_WORKSPACE_ALIGN);
  CHECK(net_c_run_ws(x_mlp, out_c, ws) == KRT_OK, "net_c_run_ws failed");
  CHECK(memcmp(out_a, out_c, sizeof out_c) == 0, "net_a and net_c differ");
  /* Documented error codes. */
  CHECK(net_c_run_ws(NULL, out_c, ws) == KRT_ERR_NULL_ARG, "NULL input not rejected");
  CHECK(net_c_run_ws(x_mlp, NULL, ws) == KRT_ERR_NULL_ARG, "NULL output not rejected");
  if (NET_C_WORKSPACE_SIZE > 0) {
    CHECK(net_c_run_ws(x_mlp, out_c, NULL) == KRT_ERR_NULL_ARG, "NULL workspace not rejected");
    CHECK(net_c_run_ws(x_mlp, out_c, (char *)ws + 4) == KRT_ERR_BAD_ALIGNMENT,
          "misaligned workspace not rejected");
  }
  free(ws);
  free(x_mlp);
  free(want_mlp);
  free(x_lenet);
  free(want_lenet);
  return test_report("link");
}
