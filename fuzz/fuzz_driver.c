/* libFuzzer target over the main() of `kiln build` executables (runtime/host/krt_driver_main.c,
 * compiled with main renamed): the input is written to a file and given to the driver as the
 * model's input .npy, as a user of a built executable would. Its first byte picks one of a few
 * model signatures (dtype and shape of the one input); the model's run copies the input to the
 * output, which the driver writes as .npy. Exit status 0, 1 or 2, never a crash or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "krt.h"
#include "krt_npy.h"

int kiln_driver_entry(int argc, char **argv);

static const int64_t dims_a[] = {1, 4}, dims_b[] = {2, 2, 3}, dims_c[] = {3};
static krt_tensor_info in_info, out_info;
static size_t in_bytes;

static int run_copy(const void *const *inputs, void *const *outputs, void *workspace) {
  (void)workspace;
  if (!inputs || !outputs || !inputs[0] || !outputs[0]) return KRT_ERR_NULL_ARG;
  memcpy(outputs[0], inputs[0], in_bytes);
  return KRT_OK;
}

static krt_model model = {.abi_version = KRT_ABI_VERSION,
                          .n_inputs = 1,
                          .n_outputs = 1,
                          .workspace_align = 64,
                          .workspace_size = 128,
                          .name = "fuzz",
                          .inputs = &in_info,
                          .outputs = &out_info,
                          .run = run_copy};
const krt_model *const kiln_driver_model = &model;

/* tmpfs when there is one: on a disk, truncating the file every run costs milliseconds */
static char dir[] = "/dev/shm/kiln-fuzz-driver-XXXXXX", path[sizeof dir + 16];

static void cleanup(void) {
  char y[sizeof dir + 16];
  snprintf(y, sizeof y, "%s/y.npy", dir);
  remove(path);
  remove(y);
  rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    if (!mkdtemp(dir)) {
      memcpy(dir, "/tmp/kiln-fuzz-driver-XXXXXX", sizeof "/tmp/kiln-fuzz-driver-XXXXXX");
      if (!mkdtemp(dir)) abort();
    }
    atexit(cleanup);
    snprintf(path, sizeof path, "%s/x.npy", dir);
    if (!freopen("/dev/null", "w", stdout)) abort();
    FILE *null_err = fopen("/dev/null", "w");
    if (null_err) stderr = null_err; /* the FILE only: sanitizer reports still reach fd 2 */
    ready = 1;
  }
  static const struct {
    int32_t dtype, rank;
    const int64_t *dims;
    size_t numel;
  } sigs[] = {{KRT_F32, 2, dims_a, 4},
              {KRT_U8, 3, dims_b, 12},
              {KRT_I64, 1, dims_c, 3},
              {KRT_F32, 0, NULL, 1}};
  int k = size ? data[0] % 4 : 0;
  in_info = (krt_tensor_info){"x", sigs[k].dtype, sigs[k].rank, sigs[k].dims};
  out_info = (krt_tensor_info){"y", sigs[k].dtype, sigs[k].rank, sigs[k].dims};
  in_bytes = sigs[k].numel * krt_dtype_size(sigs[k].dtype);
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1) abort();
  fclose(f);
  char *argv[] = {"fuzz_driver", path, "-o", dir, "--quiet", NULL};
  int rc = kiln_driver_entry(5, argv);
  if (rc != 0 && rc != 1 && rc != 2) abort();
  return 0;
}
