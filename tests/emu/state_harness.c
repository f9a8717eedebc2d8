/* Runs a compiled model with states (tests/state/, `--name net`) on a (usually emulated) target:
 * input 0 holds T frames stacked on its first axis, golden 0 the T outputs of the full-sequence
 * run (PyTorch). Two streams fed frame by frame, interleaved, must each reproduce the goldens;
 * reset must restore the initial state; a bad state buffer must return its error code. Prints
 * "emu: N passed, N failed" like tests/emu/harness.c. */
#include <stdint.h>
#include <string.h>

#include "emu.h"
#include "krt.h"
#include "net.h"
#include "test_util.h"

static uint8_t workspace[NET_WORKSPACE_SIZE + 1] __attribute__((aligned(NET_WORKSPACE_ALIGN)));
static uint8_t state_a[NET_STATE_SIZE + 8] __attribute__((aligned(NET_STATE_ALIGN)));
static uint8_t state_b[NET_STATE_SIZE] __attribute__((aligned(NET_STATE_ALIGN)));

/* Bytes of one element of input 0 (token ids are i64, frames f32). */
static long in_elem_bytes(void) {
  static const unsigned char size[] = {[KRT_F32] = 4, [KRT_F16] = 2, [KRT_I8] = 1,  [KRT_U8] = 1,
                                       [KRT_I16] = 2, [KRT_I32] = 4, [KRT_I64] = 8, [KRT_BOOL] = 1};
  return size[net_model.inputs[0].dtype];
}

/* One frame of stream s; compares with golden step t. */
static void step(uint8_t *state, int t, const char *stream) {
  float y[NET_OUT0_SIZE], want[NET_OUT0_SIZE];
  const void *x = (const char *)emu_inputs[0] + (long)t * NET_IN0_SIZE * in_elem_bytes();
  int rc = net_run_ws(x, y, workspace, state, NET_STATE_SIZE);
  CHECK(rc == KRT_OK, "stream %s frame %d: run returned %d", stream, t, rc);
  memcpy(want, emu_golden[0] + (long)t * NET_OUT0_SIZE, sizeof want);
  /* An output row (logits over a vocabulary) carries the rounding of sums whose scale is the
   * row's largest element, not each element's own: an absolute tolerance relative to it (the
   * Cortex-M4 misses 1e-4 relative on a logit of 0.27 in a row of 61 by 4.5e-5, 7e-7 of the
   * row's scale). */
  double scale = 0;
  for (unsigned i = 0; i < NET_OUT0_SIZE; i++)
    scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
  CHECK(test_close_f32(y, want, NET_OUT0_SIZE, 1e-4, 1e-5 * (scale > 1 ? scale : 1), stream),
        "stream %s frame %d", stream, t);
}

int main(void) {
  CHECK(net_model.n_states == NET_NUM_STATES && net_model.run == NULL, "descriptor");
  long frames = emu_golden_count[0] / (long)NET_OUT0_SIZE;
  CHECK(frames > 1 && frames * (long)NET_OUT0_SIZE == emu_golden_count[0], "%ld frames", frames);
  CHECK(net_reset(state_a, NET_STATE_SIZE) == KRT_OK, "reset a");
  CHECK(net_reset(state_b, NET_STATE_SIZE) == KRT_OK, "reset b");
  /* b starts two frames after a: the streams are at different points all along */
  for (long t = 0; t < frames + 2; t++) {
    if (t < frames) step(state_a, (int)t, "a");
    if (t >= 2) step(state_b, (int)t - 2, "b");
  }
  CHECK(net_reset(state_a, NET_STATE_SIZE) == KRT_OK, "reset a again");
  step(state_a, 0, "a after reset");
  step(state_a, 1, "a after reset");
  const void *x = emu_inputs[0];
  float y[NET_OUT0_SIZE];
  CHECK(net_run_ws(x, y, workspace, state_a, NET_STATE_SIZE - 1) == KRT_ERR_STATE_SIZE,
        "small state");
  CHECK(net_run_ws(x, y, workspace, state_a + 4, NET_STATE_SIZE) == KRT_ERR_BAD_ALIGNMENT,
        "misaligned state");
  CHECK(net_run_ws(x, y, workspace, NULL, NET_STATE_SIZE) == KRT_ERR_NULL_ARG, "NULL state");
  step(state_a, 2, "a after refused calls"); /* the refused calls changed nothing */
  return test_report("emu");
}
