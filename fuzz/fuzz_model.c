/* libFuzzer target over the front half of the compiler: model JSON -> IR -> sort, shape
 * inference, verifier -> pass pipeline (with the verifier after every pass) -> printer, and the
 * reference interpreter on zero inputs when the model is small. Code generation is left out (it
 * is too slow to fuzz); what reaches it has passed all of the above.
 * External weight paths resolve against $KILN_FUZZ_BASE_DIR (default: the current directory). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe.h"
#include "fuzz_dims.h"
#include "pass.h"

/* The interpreter allocates every intermediate; keep fuzzing iterations small and fast. */
#define FUZZ_INTERP_MAX_BYTES (4 << 20)
#define FUZZ_INTERP_MAX_MACS 2000000

static void run_interp(const IrGraph *g) {
  int64_t bytes = 0, macs = 0;
  for (int i = 0; i < g->n_values; i++) bytes += ir_value_nbytes(g->values[i]);
  for (int i = 0; i < g->n_nodes; i++) macs += ir_node_macs(g->nodes[i]);
  if (bytes > FUZZ_INTERP_MAX_BYTES || macs > FUZZ_INTERP_MAX_MACS) return;
  void **in = calloc((size_t)g->n_inputs + 1, sizeof *in);
  void **out = calloc((size_t)g->n_outputs + 1, sizeof *out);
  bool ok = in && out;
  for (int i = 0; ok && i < g->n_inputs; i++)
    ok = (in[i] = calloc(1, (size_t)ir_value_nbytes(g->inputs[i]) + 1)) != NULL;
  for (int i = 0; ok && i < g->n_outputs; i++)
    ok = (out[i] = calloc(1, (size_t)ir_value_nbytes(g->outputs[i]) + 1)) != NULL;
  if (ok) (void)ir_interp_run(g, (const void *const *)in, out);
  for (int i = 0; in && i < g->n_inputs; i++) free(in[i]);
  for (int i = 0; out && i < g->n_outputs; i++) free(out[i]);
  free(in);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *null_out;
  if (!null_out) null_out = fopen("/dev/null", "w");
  IrDiag d;
  ir_diag_init(&d, "fuzz.json", false);
  IrGraph *g = fe_parse_model((const char *)data, size, getenv("KILN_FUZZ_BASE_DIR"), "fuzz", &d);
  const char *specs[2];
  FeOptions fo = {.max_dims = specs, .n_max_dims = g ? 0 : fuzz_max_dims(data, size, specs)};
  if (fo.n_max_dims) { /* again with run-time dims */
    ir_diag_free(&d);
    ir_diag_init(&d, "fuzz.json", false);
    g = fe_parse_model_opts((const char *)data, size, getenv("KILN_FUZZ_BASE_DIR"), "fuzz", &fo,
                            &d);
  }
  if (g) {
    PassOptions po = {.opt_level = 3, .verify_each = true};
    if (pass_run_pipeline(g, &po, &d)) {
      if (null_out) ir_graph_print(g, null_out);
      run_interp(g);
      int64_t ones[IR_MAX_DYN] = {1, 1}; /* and at the smallest run-time dims */
      IrDiag rd;
      ir_diag_init(&rd, NULL, false);
      if (g->n_dyn && ir_dyn_resize_dims(g, ones, &rd)) run_interp(g);
      ir_diag_free(&rd);
    }
    ir_graph_free(g);
  } else if (d.n_errors == 0) {
    fprintf(stderr, "fe_parse_model failed without a diagnostic\n");
    abort();
  }
  ir_diag_free(&d);
  return 0;
}
