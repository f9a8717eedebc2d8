/* Runs one compiled model on a (usually emulated) target and checks it against the PyTorch
 * goldens that tests/emu/npy2c embedded: Linux under qemu-user and bare-metal Cortex-M under
 * qemu-system-arm (stdout over semihosting) alike. The model is compiled with `--name net`;
 * net.h is its generated header. Prints "emu: N passed, N failed"; exit status 0 iff all pass. */
#include <stdint.h>
#include <string.h>

#include "emu.h"
#include "krt.h"
#include "net.h"
#include "test_util.h"

#define WS_BYTES (NET_WORKSPACE_SIZE + NET_WORKSPACE_ALIGN + 1u)
static uint8_t workspace[WS_BYTES] __attribute__((aligned(NET_WORKSPACE_ALIGN)));

static long numel(const krt_tensor_info *t) {
  long n = 1;
  for (int r = 0; r < t->rank; r++) n *= (long)t->dims[r];
  return n;
}

int main(void) {
  const krt_model *m = &net_model;
  CHECK(m->abi_version == KRT_ABI_VERSION, "abi %u", (unsigned)m->abi_version);
  CHECK((int)m->n_inputs == emu_n_inputs, "model has %u inputs, data %d", (unsigned)m->n_inputs,
        emu_n_inputs);
  CHECK((int)m->n_outputs == emu_n_outputs, "model has %u outputs, goldens %d",
        (unsigned)m->n_outputs, emu_n_outputs);
  if (test_failed) return test_report("emu");
  CHECK(m->workspace_size == NET_WORKSPACE_SIZE, "descriptor workspace %llu",
        (unsigned long long)m->workspace_size);
  for (int j = 0; j < emu_n_outputs; j++) {
    CHECK(numel(&m->outputs[j]) == emu_golden_count[j], "output %d: %ld elements, golden %ld", j,
          numel(&m->outputs[j]), emu_golden_count[j]);
    memset(emu_outputs[j], 0xff, (size_t)emu_golden_count[j] * sizeof(float)); /* NaN */
  }
  if (test_failed) return test_report("emu");
  int rc = m->run(emu_inputs, emu_outputs, workspace);
  CHECK(rc == KRT_OK, "run returned %d (%s)", rc, krt_strerror(rc));
  for (int j = 0; j < emu_n_outputs; j++) {
    static float want[1 << 16];
    long n = emu_golden_count[j];
    CHECK(n <= (long)(sizeof want / sizeof *want), "golden %d too large", j);
    if (n > (long)(sizeof want / sizeof *want)) continue;
    memcpy(want, emu_golden[j], (size_t)n * sizeof(float));
    CHECK(test_close_f32(emu_outputs[j], want, n, 1e-4, 1e-5, m->outputs[j].name), "output %s",
          m->outputs[j].name);
  }
  /* The run function checks its workspace: misaligned is refused, not written through. */
  if (NET_WORKSPACE_SIZE > 0 && NET_WORKSPACE_ALIGN > 1) {
    rc = m->run(emu_inputs, emu_outputs, workspace + 1);
    CHECK(rc == KRT_ERR_BAD_ALIGNMENT, "misaligned workspace: got %d", rc);
  }
  rc = m->run(emu_inputs, emu_outputs, NET_WORKSPACE_SIZE > 0 ? NULL : workspace);
  CHECK(NET_WORKSPACE_SIZE == 0 || rc == KRT_ERR_NULL_ARG, "NULL workspace: got %d", rc);
  printf("emu: model %s ran on this target\n", m->name);
  return test_report("emu");
}
