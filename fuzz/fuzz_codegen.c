/* libFuzzer target through code generation: model JSON -> IR -> pass pipeline (verifier after
 * every pass) -> LLVM IR for every node -> LLVMVerifyModule (an invalid module aborts). The -O
 * level of the pass pipeline is the input's length modulo 4, so the same corpus exercises the
 * unfused (-O0) and fused (-O1+) graphs.
 * KILN_FUZZ_CODEGEN_OBJ=1 also runs LLVM's pass pipeline and emits an object (into a private
 * temporary directory): the full pipeline, slower, for a budgeted second run (tools/fuzz.sh).
 * Graphs too large to lower quickly are skipped after the passes (FUZZ_CG_MAX_*): the point is
 * the structure (counts, shapes, attributes), not the size. External weight paths resolve
 * against $KILN_FUZZ_BASE_DIR (default: the current directory). */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg.h"
#include "fe.h"
#include "pass.h"

#define FUZZ_CG_MAX_NODES 256
#define FUZZ_CG_MAX_ELEMENTS (1 << 20) /* of any one value: loop bounds, constants */
#define FUZZ_CG_MAX_CONST_BYTES (1 << 20)

static bool small_enough(const IrGraph *g, bool emit_obj) {
  /* LLVM's optimizer is superlinear in a module's size: fewer nodes when it runs */
  if (g->n_nodes > (emit_obj ? FUZZ_CG_MAX_NODES / 4 : FUZZ_CG_MAX_NODES)) return false;
  /* and in arguments: a thousand-input Concat takes seconds to optimize (it is a test) */
  if (emit_obj && g->n_inputs + g->n_outputs > 64) return false;
  for (int i = 0; emit_obj && i < g->n_nodes; i++)
    if (g->nodes[i]->n_inputs + g->nodes[i]->n_outputs > 64) return false;
  int64_t const_bytes = 0;
  for (int i = 0; i < g->n_values; i++) {
    const IrValue *v = g->values[i];
    if (ir_value_numel(v) > FUZZ_CG_MAX_ELEMENTS) return false;
    if (v->kind == IR_VALUE_CONST) const_bytes += ir_value_nbytes(v);
  }
  return const_bytes <= FUZZ_CG_MAX_CONST_BYTES;
}

static int emit_obj = -1; /* KILN_FUZZ_CODEGEN_OBJ, read once */
static char dir[] = "/tmp/kiln-fuzz-cg-XXXXXX";
static char obj[sizeof dir + 16];

static void remove_dir(void) { rmdir(dir); }

static void lower(const IrGraph *g, int level) {
  CgOptions o = {.prefix = "fz",
                 .opt_level = level,
                 .emit = emit_obj ? CG_EMIT_OBJ : CG_EMIT_NONE,
                 .pic = true};
  IrDiag d;
  ir_diag_init(&d, "fuzz.json", false);
  bool ok = cg_compile(g, &o, emit_obj ? obj : NULL, &d);
  /* A graph the passes accepted must compile, or fail with a message (a limit, an unsupported
   * form); never silently. */
  if (!ok && d.n_errors == 0) {
    fprintf(stderr, "cg_compile failed without a diagnostic\n");
    abort();
  }
  ir_diag_free(&d);
  if (emit_obj) remove(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (emit_obj < 0) {
    const char *e = getenv("KILN_FUZZ_CODEGEN_OBJ");
    emit_obj = e && *e && strcmp(e, "0") != 0;
    if (emit_obj && !mkdtemp(dir)) emit_obj = 0;
    if (emit_obj) atexit(remove_dir);
    snprintf(obj, sizeof obj, "%s/m.o", dir);
  }
  IrDiag d;
  ir_diag_init(&d, "fuzz.json", false);
  IrGraph *g = fe_parse_model((const char *)data, size, getenv("KILN_FUZZ_BASE_DIR"), "fuzz", &d);
  if (g) {
    int level = (int)(size % 4);
    PassOptions po = {.opt_level = level, .verify_each = true};
    if (pass_run_pipeline(g, &po, &d) && small_enough(g, emit_obj)) lower(g, level);
    ir_graph_free(g);
  } else if (d.n_errors == 0) {
    fprintf(stderr, "fe_parse_model failed without a diagnostic\n");
    abort();
  }
  ir_diag_free(&d);
  return 0;
}
