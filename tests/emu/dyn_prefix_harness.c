/* Runs a compiled model with a run-time length on a (usually emulated) target at every prefix
 * length of one sequence: tests/dyn/pool (reductions, ArgMax/ArgMin, Softmax along the length)
 * and tests/dyn/bidir (GRU/RNN/LSTM over a run-time number of steps), `--max-dim seq=16 --name
 * net`; tests/dyn/bert_qa (a torch dynamic-axes export) with -DDYN_MAX=24 -DDYN_LENGTHS=... Inputs
 * hold the longest sequence (the first n rows of each are its prefix of length n); golden k holds
 * PyTorch's output k of the first n rows for every n in `lengths`, one after the other. Each call
 * at n must equal its part (f32 within a tolerance, integers exactly) and write nothing past the
 * output's length at n; lengths 0 and max + 1 return KRT_ERR_DIM_RANGE. Prints "emu: N passed, N
 * failed" like tests/emu/harness.c. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "emu.h"
#include "krt.h"
#include "net.h"
#include "test_util.h"

#ifndef DYN_MAX /* the model's --max-dim and the prefix lengths its goldens hold */
#define DYN_MAX 16
#define DYN_LENGTHS 1, 3, 8, 13, 16
#endif

static uint8_t workspace[NET_WORKSPACE_SIZE + 1] __attribute__((aligned(NET_WORKSPACE_ALIGN)));

/* Elements of output k at length n: its rows of run-time length, or all of it. */
static long output_count(int k, int64_t n) {
  const krt_tensor_info *t = &net_model.outputs[k];
  long count = 1;
  for (int d = 0; d < t->rank; d++)
    count *= d == net_model.output_dyn_axis[k] ? (long)n : (long)t->dims[d];
  return count;
}

int main(void) {
  static const int64_t lengths[] = {DYN_LENGTHS};
  const int n_out = (int)net_model.n_outputs;
  CHECK(net_model.n_dims == 1 && net_model.run_dims && n_out == emu_n_outputs &&
            net_model.dims[0].max == DYN_MAX,
        "descriptor");
  long at[16] = {0};
  for (unsigned i = 0; i < sizeof lengths / sizeof *lengths; i++) {
    int64_t n = lengths[i], dims[1] = {n};
    for (int k = 0; k < n_out; k++)
      memset(emu_outputs[k], 0xA5, sizeof(uint32_t) * ((size_t)emu_golden_count[k] + 1));
    int rc = net_model.run_dims(dims, emu_inputs, emu_outputs, workspace);
    CHECK(rc == KRT_OK, "length %lld: returned %d", (long long)n, rc);
    for (int k = 0; k < n_out && k < 16; k++) {
      long count = output_count(k, n);
      int size = net_model.outputs[k].dtype == KRT_F32 ? 4 : 8;
      const uint8_t *want = (const uint8_t *)emu_golden[k] + (size_t)at[k] * (size_t)size;
      const uint8_t *got = emu_outputs[k];
      CHECK(at[k] + count <= emu_golden_count[k], "output %d: golden too short", k);
      if (size == 4)
        CHECK(test_close_f32((const float *)got, (const float *)want, count, 1e-4, 1e-5, "f32"),
              "length %lld: output %s", (long long)n, net_model.outputs[k].name);
      else
        CHECK(!memcmp(got, want, (size_t)count * 8), "length %lld: output %s", (long long)n,
              net_model.outputs[k].name);
      bool untouched = true;
      size_t end = sizeof(uint32_t) * ((size_t)emu_golden_count[k] + 1);
      for (size_t e = (size_t)count * (size_t)size; e < end; e++) untouched &= got[e] == 0xA5;
      CHECK(untouched, "length %lld: nothing written past output %s", (long long)n,
            net_model.outputs[k].name);
      at[k] += count;
    }
  }
  int64_t zero[1] = {0}, over[1] = {DYN_MAX + 1};
  CHECK(net_model.run_dims(zero, emu_inputs, emu_outputs, workspace) == KRT_ERR_DIM_RANGE,
        "length 0");
  CHECK(net_model.run_dims(over, emu_inputs, emu_outputs, workspace) == KRT_ERR_DIM_RANGE,
        "length max + 1");
  return test_report("emu");
}
