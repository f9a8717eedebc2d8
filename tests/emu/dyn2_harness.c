/* Runs a compiled model with two run-time dims, a batch and a length (tests/dyn/enc2,
 * `--max-dim batch=4,seq=12 --name net`), on a (usually emulated) target at every (batch, seq)
 * pair of tools/gen_dyn2_tests.py's PAIRS: input k holds the pairs' inputs one after the other,
 * golden k PyTorch's output k at each pair one after the other. Each call must equal its part (f32
 * within a tolerance, integers exactly) and write nothing past it; a batch or length of 0 or past
 * its maximum returns KRT_ERR_DIM_RANGE. Prints "emu: N passed, N failed" as tests/emu/harness.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "emu.h"
#include "krt.h"
#include "net.h"
#include "test_util.h"

#ifndef DYN2_PAIRS /* batch, seq of each part of the inputs and goldens */
#define DYN2_PAIRS 1, 1, 2, 5, 1, 12, 3, 8, 4, 3, 4, 12
#endif

static uint8_t workspace[NET_WORKSPACE_SIZE + 1] __attribute__((aligned(NET_WORKSPACE_ALIGN)));

/* Elements of tensor t (its one-element shape, flags of krt_model) at batch b, length n. */
static long count_at(const krt_tensor_info *t, int32_t dyn_axis, int32_t batched, int64_t b,
                     int64_t n) {
  long count = batched ? (long)b : 1;
  for (int d = 0; d < t->rank; d++) count *= d == dyn_axis ? (long)n : (long)t->dims[d];
  return count;
}

static int elem_size(int32_t dtype) { return dtype == KRT_F32 ? 4 : 8; }

int main(void) {
  static const int64_t pairs[] = {DYN2_PAIRS};
  const int n_in = (int)net_model.n_inputs, n_out = (int)net_model.n_outputs;
  CHECK(net_model.n_dims == 2 && net_model.batch_dim >= 0 && net_model.run_dims &&
            n_out == emu_n_outputs && n_in == emu_n_inputs && n_in <= 16 && n_out <= 16,
        "descriptor");
  int bd = net_model.batch_dim, ld = 1 - bd;
  long in_at[16] = {0}, out_at[16] = {0};
  const void *ins[16];
  for (unsigned p = 0; p + 1 < sizeof pairs / sizeof *pairs; p += 2) {
    int64_t dims[2];
    dims[bd] = pairs[p], dims[ld] = pairs[p + 1];
    for (int k = 0; k < n_in; k++) {
      const krt_tensor_info *t = &net_model.inputs[k];
      ins[k] = (const uint8_t *)emu_inputs[k] + (size_t)in_at[k] * (size_t)elem_size(t->dtype);
      in_at[k] += count_at(t, net_model.input_dyn_axis[k], net_model.input_batch[k], pairs[p],
                           pairs[p + 1]);
    }
    for (int k = 0; k < n_out; k++)
      memset(emu_outputs[k], 0xA5,
             (size_t)emu_golden_count[k] * (size_t)elem_size(net_model.outputs[k].dtype));
    int rc = net_model.run_dims(dims, ins, emu_outputs, workspace);
    CHECK(rc == KRT_OK, "batch %lld, seq %lld: returned %d", (long long)pairs[p],
          (long long)pairs[p + 1], rc);
    for (int k = 0; k < n_out; k++) {
      const krt_tensor_info *t = &net_model.outputs[k];
      long count = count_at(t, net_model.output_dyn_axis[k], net_model.output_batch[k], pairs[p],
                            pairs[p + 1]);
      int size = elem_size(t->dtype);
      const uint8_t *want = (const uint8_t *)emu_golden[k] + (size_t)out_at[k] * (size_t)size;
      const uint8_t *got = emu_outputs[k];
      CHECK(out_at[k] + count <= emu_golden_count[k], "output %d: golden too short", k);
      if (size == 4)
        CHECK(test_close_f32((const float *)got, (const float *)want, count, 1e-4, 1e-5, "f32"),
              "batch %lld, seq %lld: output %s", (long long)pairs[p], (long long)pairs[p + 1],
              t->name);
      else
        CHECK(!memcmp(got, want, (size_t)count * 8), "batch %lld, seq %lld: output %s",
              (long long)pairs[p], (long long)pairs[p + 1], t->name);
      bool untouched = true;
      for (size_t e = (size_t)count * (size_t)size; e < (size_t)emu_golden_count[k] * (size_t)size;
           e++)
        untouched &= got[e] == 0xA5;
      CHECK(untouched, "batch %lld, seq %lld: nothing written past output %s", (long long)pairs[p],
            (long long)pairs[p + 1], t->name);
      out_at[k] += count;
    }
  }
  for (int k = 0; k < n_out; k++)
    CHECK(out_at[k] == emu_golden_count[k], "output %d: every golden compared", k);
  for (int w = 0; w < 4; w++) { /* 0 and max + 1 of either dim */
    int64_t dims[2] = {1, 1};
    dims[w / 2] = w % 2 ? net_model.dims[w / 2].max + 1 : 0;
    CHECK(net_model.run_dims(dims, emu_inputs, emu_outputs, workspace) == KRT_ERR_DIM_RANGE,
          "dims {%lld, %lld}: KRT_ERR_DIM_RANGE", (long long)dims[0], (long long)dims[1]);
  }
  return test_report("emu");
}
