/* Codegen: IR -> LLVM IR (LLVM C API) -> LLVM pass pipeline -> object / asm / LLVM IR, plus the
 * C header that is the contract of the generated code. Knows LLVM and the IR, nothing of JSON. */
#ifndef KILN_CG_H
#define KILN_CG_H

#include <stdint.h>
#include <stdio.h>

#include "ir.h"

/* CG_EMIT_NONE: lower and verify the module only (no LLVM passes, no file; out_path may be NULL),
 * what the codegen fuzz target does. */
typedef enum { CG_EMIT_OBJ, CG_EMIT_ASM, CG_EMIT_LLVM, CG_EMIT_NONE } CgEmit;

/* Stack use of the generated code: every function's frame as the backend laid it out (LLVM's
 * "warn-stack-size" diagnostic, which reports MachineFrameInfo's stack size: locals, spills,
 * callee-saved registers) and the worst case over the static call graph (plus return addresses
 * on x86). Functions the backend gives no frame use 0 bytes. */
typedef struct CgStackFrame {
  char *name;
  int64_t frame; /* bytes of this function's own frame */
  int64_t worst; /* frame + deepest callee chain; -1 if unknown */
  int deepest;   /* index of the callee on that chain, or -1 */
} CgStackFrame;
typedef struct CgStack {
  bool known;         /* false for --emit llvm (no machine code) */
  int64_t worst;      /* the deepest entry point (P_run, P_run_ws, P_run_generic): P_STACK_SIZE */
  bool library_calls; /* calls into memcpy/memset/...: their own stack comes on top */
  CgStackFrame *frames;
  int n_frames;
} CgStack;
void cg_stack_free(CgStack *s);

typedef struct CgOptions {
  const char *prefix;   /* C identifier that prefixes every exported symbol, e.g. "mnist_cnn" */
  const char *triple;   /* NULL: host */
  const char *cpu;      /* NULL: host CPU when the triple is the host's, else "generic" */
  const char *features; /* NULL: host features when the triple is the host's, else "" */
  int opt_level;        /* 0..3: LLVM pipeline default<On> and codegen level */
  CgEmit emit;
  bool pic;                  /* position-independent code (ignored on bare-metal "-none" triples) */
  bool driver_hook;          /* also export `kiln_driver_model`, used by `kiln build` executables */
  const char *driver_symbol; /* with driver_hook: that symbol's name (NULL: kiln_driver_model) */
  /* with driver_hook: the body calls kiln_profile_mark(node id) before every node and
   * kiln_profile_mark(node count) at the end, and exports kiln_profile_count and
   * kiln_profile_names (runtime/host/krt_driver_main.c prints time per node) */
  bool profile;
  /* Weights placement. weights_section: ELF section of the weight constants (NULL: .rodata).
   * weights_path: write the weights to this file (64-byte aligned blob) instead of embedding
   * them; the run functions then take `const void *weights` as their last argument. */
  const char *weights_section;
  const char *weights_path;
  int64_t *weights_size_out; /* if set: receives the size of the weights blob, or 0 */
  int64_t max_stack; /* > 0: a worst-case stack above this is a user error naming the node */
  /* Instrument the generated code for ThreadSanitizer (LLVM's tsan passes after the pipeline):
   * tests/test_threads.c, tools/test-tsan.sh. The object then needs the TSan runtime. */
  bool sanitize_thread;
  /* If set: filled by cg_compile (free with cg_stack_free), read by cg_write_header for the
   * P_STACK_SIZE macro. */
  CgStack *stack;
  /* If set: called as each stage begins ("lower", with total = node count; "optimize",
   * "emit", "weights") with done = 0, and after each node is lowered with done = nodes so far. */
  void (*progress)(const char *stage, int done, int total);
} CgOptions;

/* Generate code for g (shapes inferred, memory planned) and write it to out_path through a
 * temporary file renamed into place, so a failure leaves no file. */
bool cg_compile(const IrGraph *g, const CgOptions *o, const char *out_path, IrDiag *d);
/* Write the C header declaring the entry points and shape/size macros (same temp+rename). */
bool cg_write_header(const IrGraph *g, const CgOptions *o, const char *out_path, IrDiag *d);
/* Turn any model name into a C identifier: [A-Za-z0-9_], not starting with a digit. */
void cg_sanitize_identifier(const char *name, char *buf, size_t size);
/* Bytes of an emitted object by kind (sections classified by name). Flash: code + constants +
 * data; RAM: bss + data. */
typedef struct CgSizes {
  int64_t code;      /* .text, unwind tables */
  int64_t constants; /* .rodata*, .data.rel.ro, and the weights section */
  int64_t weights;   /* of constants: the --weights-section */
  int64_t bss;       /* zero-initialized (the static workspace of P_run) */
  int64_t data;      /* initialized writable data */
} CgSizes;
bool cg_object_sizes(const char *obj_path, const char *weights_section, CgSizes *s, IrDiag *d);
/* The register tile of every node with a tiled kernel (IrNode.kernel) on the target of o:
 * tiles[node id] = {f32 lanes of the target's vectors, rows mr, columns nr} (mr = nr = 0 for
 * nodes without one). For `kiln inspect`; codegen makes the same choice. */
typedef struct CgNodeTile {
  int lanes, mr, nr;
} CgNodeTile;
bool cg_kernel_tiles(const IrGraph *g, const CgOptions *o, CgNodeTile *tiles, IrDiag *d);
/* What the passes' cost models read of the target (PassOptions.vec_lanes, arm_dsp, x86_vnni),
 * from one LLVM target machine: the same answers codegen's kernels get. */
typedef struct CgTargetInfo {
  int lanes;     /* f32 lanes of the target's vectors (1: scalar) */
  bool arm_dsp;  /* the Arm DSP extension's smlad (Cortex-M4/M7) */
  bool x86_vnni; /* AVX-512 VNNI (vpdpbusd) */
} CgTargetInfo;
/* false on a bad target (reported to d), *t then all zero */
bool cg_target_info(const CgOptions *o, CgTargetInfo *t, IrDiag *d);
/* Print registered LLVM targets. */
void cg_list_targets(FILE *f);

#endif
