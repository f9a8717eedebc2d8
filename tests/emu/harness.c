/* Runs one compiled model on a (usually emulated) target and checks it against the PyTorch
 * goldens that tests/emu/npy2c embedded: Linux under qemu-user and bare-metal Cortex-M under
 * qemu-system-arm (stdout over semihosting) alike. The model is compiled with `--name net`;
 * net.h is its generated header. Prints "emu: N passed, N failed"; exit status 0 iff all pass.
 * With -DEMU_EXTERNAL_WEIGHTS (hosted targets) the model was compiled with --weights=external:
 * the weights file is argv[1], loaded into an aligned buffer and passed to the run function.
 * With -DEMU_WEIGHTS_IN_FLASH (bare metal) the weights file was linked in as its own section
 * (objcopy -I binary), as firmware would place it in a separate flash region. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"
#include "krt.h"
#include "net.h"
#include "test_util.h"

#ifdef EMU_TICKS
static volatile uint32_t systick_wraps;
void SysTick_Handler(void);
void SysTick_Handler(void) { systick_wraps++; }
#endif

#define WS_BYTES (NET_WORKSPACE_SIZE + NET_WORKSPACE_ALIGN + 1u)
static uint8_t workspace[WS_BYTES] __attribute__((aligned(NET_WORKSPACE_ALIGN)));

static long numel(const krt_tensor_info *t) {
  long n = 1;
  for (int r = 0; r < t->rank; r++) n *= (long)t->dims[r];
  return n;
}

#ifdef EMU_EXTERNAL_WEIGHTS
static const void *weights;
static int run(const void *const *in, void *const *out, void *ws) {
  return net_run_generic(in, out, ws, weights);
}
int main(int argc, char **argv) {
  const krt_model *m = &net_model;
  CHECK(m->run == NULL, "the descriptor cannot run a model with external weights");
  FILE *f = argc == 2 ? fopen(argv[1], "rb") : NULL;
  CHECK(f != NULL, "usage: harness net.weights");
  if (!f) return test_report("emu");
  static _Alignas(NET_WEIGHTS_ALIGN) unsigned char buf[NET_WEIGHTS_SIZE + NET_WEIGHTS_ALIGN + 1];
  size_t got = fread(buf, 1, sizeof buf, f);
  fclose(f);
  CHECK(got == NET_WEIGHTS_SIZE, "weights file has %zu bytes, header says %zu", got,
        (size_t)NET_WEIGHTS_SIZE);
  /* the same bytes one byte off: refused */
  memmove(buf + 1, buf, got);
  weights = buf + 1;
  int rc0 = run(emu_inputs, emu_outputs, workspace);
  CHECK(rc0 == KRT_ERR_BAD_ALIGNMENT, "misaligned weights: got %d", rc0);
  memmove(buf, buf + 1, got);
  weights = NULL;
  rc0 = run(emu_inputs, emu_outputs, workspace);
  CHECK(rc0 == KRT_ERR_NULL_ARG, "NULL weights: got %d", rc0);
  weights = buf;
#elif defined(EMU_WEIGHTS_IN_FLASH)
extern const unsigned char _binary_net_weights_start[], _binary_net_weights_end[];
static int run(const void *const *in, void *const *out, void *ws) {
  return net_run_generic(in, out, ws, _binary_net_weights_start);
}
int main(void) {
  const krt_model *m = &net_model;
  CHECK(m->run == NULL, "the descriptor cannot run a model with external weights");
  CHECK(_binary_net_weights_end - _binary_net_weights_start == NET_WEIGHTS_SIZE,
        "linked weights: %ld bytes", (long)(_binary_net_weights_end - _binary_net_weights_start));
  CHECK(((uintptr_t)_binary_net_weights_start & (NET_WEIGHTS_ALIGN - 1)) == 0,
        "weights region at %p is not aligned", (const void *)_binary_net_weights_start);
  CHECK(net_run_generic(emu_inputs, emu_outputs, workspace, _binary_net_weights_start + 1) ==
            KRT_ERR_BAD_ALIGNMENT,
        "misaligned weights accepted");
#else
static int run(const void *const *in, void *const *out, void *ws) {
  return net_model.run(in, out, ws);
}
int main(void) {
  const krt_model *m = &net_model;
#endif
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
  int rc = run(emu_inputs, emu_outputs, workspace);
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
    rc = run(emu_inputs, emu_outputs, workspace + 1);
    CHECK(rc == KRT_ERR_BAD_ALIGNMENT, "misaligned workspace: got %d", rc);
  }
  rc = run(emu_inputs, emu_outputs, NET_WORKSPACE_SIZE > 0 ? NULL : workspace);
  CHECK(NET_WORKSPACE_SIZE == 0 || rc == KRT_ERR_NULL_ARG, "NULL workspace: got %d", rc);
#ifdef EMU_TICKS /* bench/cortex_m4.sh, under qemu -icount: SysTick counts virtual time */
  {
    volatile uint32_t *syst = (volatile uint32_t *)0xE000E010u; /* CSR, RVR, CVR */
    syst[1] = 0xFFFFFFu;
    syst[2] = 0;
    syst[0] = 7; /* enable, interrupt, processor clock */
    while (syst[2] == 0) {
    } /* loaded */
    uint32_t w0 = systick_wraps, c0 = syst[2];
    int rt = run(emu_inputs, emu_outputs, workspace);
    uint32_t c1 = syst[2], w1 = systick_wraps;
    syst[0] = 0;
    unsigned long long t = (unsigned long long)(w1 - w0) * 0x1000000u + c0 - c1;
    CHECK(rt == KRT_OK, "timed run returned %d", rt);
    printf("systick: %llu\n", t);
  }
#endif
#ifdef EMU_REPEAT /* bench/cortex_m4.sh: more inferences, timed from the host */
  int rr = KRT_OK;
  for (int i = 0; i < EMU_REPEAT; i++) rr |= run(emu_inputs, emu_outputs, workspace);
  CHECK(rr == KRT_OK, "repeated runs returned %d", rr);
#endif
  printf("emu: model %s ran on this target\n", m->name);
  return test_report("emu");
}
