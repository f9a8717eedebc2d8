/* Runs one compiled model on a (usually emulated) target and checks it against the PyTorch
 * goldens that tests/emu/npy2c embedded: Linux under qemu-user and bare-metal Cortex-M under
 * qemu-system-arm (stdout over semihosting) alike. The model is compiled with `--name net`;
 * net.h is its generated header. Prints "emu: N passed, N failed"; exit status 0 iff all pass.
 * With -DEMU_EXTERNAL_WEIGHTS (hosted targets) the model was compiled with --weights=external:
 * the weights file is argv[1], loaded into an aligned buffer and passed to the run function.
 * With -DEMU_WEIGHTS_IN_FLASH (bare metal) the weights file was linked in as its own section
 * (objcopy -I binary), as firmware would place it in a separate flash region.
 * With -DEMU_STACK_PAINT (bare-metal Arm) it also paints the free stack below the caller with a
 * pattern, calls the model (at each stack alignment) and prints the high-water mark next to
 * NET_STACK_SIZE, the
 * worst case Kiln reported in the header (tests/test_emulation.sh m4-stack compares them). */
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

#ifdef EMU_STACK_PAINT
#define PAINT_BYTES (14u * 1024u) /* of the 16 KiB mps2.ld reserves for the stack */
#define PAINT_WORD 0xC5A5E55Au

/* Bytes of stack below this function's frame that one call of the model touched. The frame is
 * set up in the prologue, so sp at the asm is sp at the call; `blx` pushes nothing, and the
 * three arguments travel in registers: what the model's code (and the library functions it
 * calls) used is exactly what changed below sp. */
static __attribute__((noinline)) unsigned long
stack_high_water(const void *const *in, void *const *out, void *ws, int *rc, size_t pad) {
  /* pad moves sp by multiples of 8: a function that realigns sp for 64-byte aligned locals
   * loses 0 to 56 bytes to it depending on where sp is; the worst case is the maximum. */
  volatile char *gap = __builtin_alloca(pad + 8);
  gap[0] = 0;
  uintptr_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  volatile uint32_t *lo = (volatile uint32_t *)((sp - PAINT_BYTES) & ~(uintptr_t)3);
  volatile uint32_t *hi = (volatile uint32_t *)(sp & ~(uintptr_t)3);
  for (volatile uint32_t *p = lo; p < hi; p++) *p = PAINT_WORD;
  *rc = net_model.run(in, out, ws);
  volatile uint32_t *p = lo;
  while (p < hi && *p == PAINT_WORD) p++;
  return (unsigned long)(sp - (uintptr_t)p);
}

/* The same for one memset (which 0) or memcpy (which 1) of n bytes at offset off: the C
 * library's own stack, which comes on top of Kiln's report when the model calls them. */
static void *(*volatile lib_memset)(void *, int, size_t) = memset;
static void *(*volatile lib_memcpy)(void *, const void *, size_t) = memcpy;
static __attribute__((noinline)) unsigned long lib_high_water(int which, size_t n, size_t off) {
  static uint8_t a[1100], b[1100];
  uintptr_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  volatile uint32_t *lo = (volatile uint32_t *)((sp - 1024u) & ~(uintptr_t)3);
  volatile uint32_t *hi = (volatile uint32_t *)(sp & ~(uintptr_t)3);
  for (volatile uint32_t *p = lo; p < hi; p++) *p = PAINT_WORD;
  if (which == 0)
    lib_memset(a + off, 0, n);
  else
    lib_memcpy(a + off, b + (off ^ 1), n);
  volatile uint32_t *p = lo;
  while (p < hi && *p == PAINT_WORD) p++;
  return (unsigned long)(sp - (uintptr_t)p);
}
#endif

static long numel(const krt_tensor_info *t) {
  long n = 1;
  for (int r = 0; r < t->rank; r++) n *= (long)t->dims[r];
  return n;
}

/* Bytes of one element (krt_npy's table is host-only). */
static size_t elem_size(int32_t dtype) {
  static const unsigned char size[] = {[KRT_F32] = 4, [KRT_F16] = 2, [KRT_I8] = 1,  [KRT_U8] = 1,
                                       [KRT_I16] = 2, [KRT_I32] = 4, [KRT_I64] = 8, [KRT_BOOL] = 1};
  return dtype >= 0 && dtype < (int32_t)sizeof size ? size[dtype] : 4;
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
    memset(emu_outputs[j], 0xff, (size_t)emu_golden_count[j] * elem_size(m->outputs[j].dtype));
  }
  if (test_failed) return test_report("emu");
  int rc = run(emu_inputs, emu_outputs, workspace);
  CHECK(rc == KRT_OK, "run returned %d (%s)", rc, krt_strerror(rc));
  for (int j = 0; j < emu_n_outputs; j++) {
    static float want[1 << 16];
    long n = emu_golden_count[j];
    if (m->outputs[j].dtype != KRT_F32) { /* integers (ids, spans, tags): exactly */
      CHECK(memcmp(emu_outputs[j], emu_golden[j], (size_t)n * elem_size(m->outputs[j].dtype)) == 0,
            "output %s differs from the golden", m->outputs[j].name);
      continue;
    }
    CHECK(n <= (long)(sizeof want / sizeof *want), "golden %d too large", j);
    if (n > (long)(sizeof want / sizeof *want)) continue;
    memcpy(want, emu_golden[j], (size_t)n * sizeof(float));
#ifdef EMU_EXACT /* int8 models: the reference interpreter's output, bit for bit */
    CHECK(memcmp(emu_outputs[j], want, (size_t)n * sizeof(float)) == 0,
          "output %s differs from the interpreter's", m->outputs[j].name);
#else
    CHECK(test_close_f32(emu_outputs[j], want, n, 1e-4, 1e-5, m->outputs[j].name), "output %s",
          m->outputs[j].name);
#endif
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
#ifdef EMU_STACK_PAINT
  {
    unsigned long used = 0;
    for (size_t pad = 0; pad < 64; pad += 8) {
      int rs = KRT_ERR_NULL_ARG;
      unsigned long u = stack_high_water(emu_inputs, emu_outputs, workspace, &rs, pad);
      CHECK(rs == KRT_OK, "stack-painted run returned %d", rs);
      if (u > used) used = u;
    }
    CHECK(used < PAINT_BYTES, "the stack went past the painted %u bytes", PAINT_BYTES);
    unsigned long lib = 0;
    static const size_t sizes[] = {0, 1, 3, 4, 15, 16, 17, 63, 64, 100, 1000};
    for (int which = 0; which < 2; which++)
      for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
        for (size_t off = 0; off < 4; off++) {
          unsigned long u = lib_high_water(which, sizes[k], off);
          if (u > lib) lib = u;
        }
    printf("emu: stack high-water %lu bytes, reported NET_STACK_SIZE %lu bytes, "
           "memset/memcpy use %lu bytes\n",
           used, (unsigned long)NET_STACK_SIZE, lib);
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
