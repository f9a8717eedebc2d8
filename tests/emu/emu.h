/* Data that tests/emu/npy2c embeds for tests/emu/harness.c. */
#ifndef KILN_EMU_H
#define KILN_EMU_H
#include <stdint.h>

extern const int emu_n_inputs, emu_n_outputs;
extern const void *const emu_inputs[];
extern void *const emu_outputs[];
extern const uint32_t *const emu_golden[]; /* the goldens' bytes (f32 bit patterns, ...) */
extern const long emu_golden_count[];
#endif
