/* libFuzzer target over the ONNX importer: ONNX protobuf bytes -> frontend/fe_onnx.c (protobuf
 * parsing, every check, version adapters, shape inference and folding node by node) -> the pass
 * pipeline with the verifier after every pass -> printer. External data resolves against
 * $KILN_FUZZ_BASE_DIR (default: the current directory). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe.h"
#include "fuzz_dims.h"
#include "pass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *null_out;
  if (!null_out) null_out = fopen("/dev/null", "w");
  IrDiag d;
  ir_diag_init(&d, "fuzz.onnx", false);
  IrGraph *g = fe_parse_onnx(data, size, getenv("KILN_FUZZ_BASE_DIR"), "fuzz", NULL, &d);
  const char *specs[2];
  FeOptions fo = {.max_dims = specs, .n_max_dims = g ? 0 : fuzz_max_dims(data, size, specs)};
  if (fo.n_max_dims) { /* again with run-time dims */
    ir_diag_free(&d);
    ir_diag_init(&d, "fuzz.onnx", false);
    g = fe_parse_onnx(data, size, getenv("KILN_FUZZ_BASE_DIR"), "fuzz", &fo, &d);
  }
  if (g) {
    PassOptions po = {.opt_level = 3, .verify_each = true};
    if (pass_run_pipeline(g, &po, &d) && null_out) ir_graph_print(g, null_out);
    ir_graph_free(g);
  } else if (d.n_errors == 0) {
    fprintf(stderr, "fe_parse_onnx failed without a diagnostic\n");
    abort();
  }
  ir_diag_free(&d);
  return 0;
}
