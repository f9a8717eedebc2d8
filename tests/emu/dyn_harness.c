/* Runs a compiled decoder with a run-time length (tests/gen/gpt_tiny_seq, `--max-dim seq=48
 * --name net`) on a (usually emulated) target: input 0 holds the T token ids, input 1 their
 * positions, golden 0 PyTorch's logits of the whole sequence [1, T, V]. The sequence is fed in
 * calls of several lengths from one state (a prefill, then steps), and each call's logits rows
 * must equal the goldens at their positions; lengths 0 and max + 1 return KRT_ERR_DIM_RANGE.
 * Prints "emu: N passed, N failed" like tests/emu/harness.c. */
#include <stdint.h>
#include <string.h>

#include "emu.h"
#include "krt.h"
#include "net.h"
#include "test_util.h"

static uint8_t workspace[NET_WORKSPACE_SIZE + 1] __attribute__((aligned(NET_WORKSPACE_ALIGN)));
static uint8_t state[NET_STATE_SIZE] __attribute__((aligned(NET_STATE_ALIGN)));
static float logits[NET_OUT0_SIZE], want[NET_OUT0_SIZE];

int main(void) {
  const long vocab = NET_OUT0_SIZE / NET_DIM0_MAX;
  const long tokens = emu_golden_count[0] / vocab;
  memcpy(want, emu_golden[0], sizeof(float) * (size_t)emu_golden_count[0]); /* f32 bit patterns */
  CHECK(net_model.n_dims == 1 && net_model.run_state_dims && tokens > 16 && tokens <= NET_DIM0_MAX,
        "descriptor, %ld tokens", tokens);
  const int64_t *tok = emu_inputs[0], *pos = emu_inputs[1];
  static const int calls[][6] = {{37}, {6, 1, 1, 16, 13}, {1, 5, 8, 3, 16, 4}};
  for (unsigned p = 0; p < sizeof calls / sizeof *calls; p++) {
    CHECK(net_reset(state, NET_STATE_SIZE) == KRT_OK, "reset");
    long at = 0;
    for (int c = 0; c < 6 && calls[p][c] && at < tokens; c++) {
      int64_t dims[1] = {calls[p][c] < tokens - at ? calls[p][c] : tokens - at};
      int rc = net_run_ws_dims(dims, tok + at, pos + at, logits, workspace, state, NET_STATE_SIZE);
      CHECK(rc == KRT_OK, "pattern %u: call of %lld returned %d", p, (long long)dims[0], rc);
      /* logits rows carry the rounding of sums at the row's largest element (state_harness.c) */
      for (long r = 0; r < dims[0]; r++) {
        const float *w = want + (at + r) * vocab, *got = logits + r * vocab;
        double scale = 0;
        for (long i = 0; i < vocab; i++) scale = fabs(w[i]) > scale ? fabs(w[i]) : scale;
        CHECK(test_close_f32(got, w, vocab, 1e-4, 1e-5 * (scale > 1 ? scale : 1), "logits"),
              "pattern %u: position %ld", p, at + r);
      }
      at += dims[0];
    }
    CHECK(at == tokens, "pattern %u covers the %ld tokens", p, tokens);
  }
  int64_t zero[1] = {0}, over[1] = {NET_DIM0_MAX + 1};
  CHECK(net_run_ws_dims(zero, tok, pos, logits, workspace, state, NET_STATE_SIZE) ==
            KRT_ERR_DIM_RANGE,
        "length 0");
  CHECK(net_run_ws_dims(over, tok, pos, logits, workspace, state, NET_STATE_SIZE) ==
            KRT_ERR_DIM_RANGE,
        "length max + 1");
  return test_report("emu");
}
