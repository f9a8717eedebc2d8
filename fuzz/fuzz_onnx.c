/* libFuzzer target over the ONNX importer: ONNX protobuf bytes -> frontend/fe_onnx.c (protobuf
 * parsing, every check, version adapters, shape inference and folding node by node) -> the pass
 * pipeline with the verifier after every pass -> printer. External data resolves against
 * $KILN_FUZZ_BASE_DIR (default: the current directory). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe.h"
#include "pass.h"

/* Run-time dims: an input that does not parse as it is and names "seq" or "batch" (anywhere in
 * its bytes) is parsed again with --max-dim for those names, so that symbolic dims reach ir/dyn.c
 * (the analysis after the passes, the batch and length checks) rather than stopping at "give
 * --max-dim"; inputs that parse keep their path. */
static int fuzz_max_dims(const uint8_t *data, size_t size, const char **specs) {
  static const char *const names[] = {"seq", "batch"}, *const given[] = {"seq=8", "batch=3"};
  int n = 0;
  for (int k = 0; k < 2; k++) {
    size_t len = strlen(names[k]);
    for (size_t i = 0; i + len <= size; i++)
      if (!memcmp(data + i, names[k], len)) {
        specs[n++] = given[k];
        break;
      }
  }
  return n;
}

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
