/* The pass pipeline: one visible list, filtered by -O level or replaced by an explicit list; the
 * verifier runs between passes when asked (always in tests). The memory plan comes last: it
 * depends on the final graph. */
#include <stdio.h>
#include <string.h>

#include "pass.h"

static const PassInfo registry[] = {
    {"qdq", pass_qdq, 1,
     "QDQ around Conv/Gemm/MatMul (pre-quantized ONNX) becomes QLinearConv/QGemm; u8 -> i8"},
    {"fold", pass_fold_constants, 1, "evaluate nodes whose inputs are all constants"},
    {"simplify", pass_simplify, 1, "drop Identity/Dropout/no-op Reshape, x*1, x+0; Reshape chains"},
    {"padfold", pass_fold_pad, 1, "fold a constant spatial Pad into the Conv/pool reading it"},
    {"bnfold", pass_fold_batchnorm, 1, "fold BatchNormalization into Conv/ConvTranspose/Gemm"},
    {"attention", pass_attention, 1,
     "MatMul, scale, mask Add, Softmax, MatMul (and head Transposes) become one KilnAttention"},
    {"prune", pass_prune, 1, "remove all-zero output channels; --prune: magnitude / channels"},
    {"quantize", pass_quantize, 0, "int8 post-training quantization (only with --quantize)"},
    {"cse", pass_cse, 2, "merge identical initializers and identical nodes"},
    {"fuse", pass_fuse, 2, "element-wise chains become the epilogue of the node before them"},
    {"layout", pass_layout, 0,
     "blocked NCHWc activations for runs of Conv/element-wise nodes (--layout), copies cancelled"},
    {"dce", pass_dce, 1, "remove nodes that reach no output and unused initializers"},
    {"kernels", pass_choose_kernels, 0, "choose each node's kernel and its workspace scratch"},
    {"qpool", pass_qpool, 1,
     "an int8 MaxPool 2x2/2 reading only a QLinearConv joins its kernel (max before requantizing); "
     "on scalar targets a QLookup reading only a QLinearConv/QGemm joins its epilogue"},
    {"memplan", pass_memplan, 0, "assign workspace offsets (liveness, greedy by size, in place)"},
};

const PassInfo *pass_list(int *count) {
  *count = (int)(sizeof registry / sizeof *registry);
  return registry;
}

const PassInfo *pass_find(const char *name) {
  for (size_t i = 0; i < sizeof registry / sizeof *registry; i++)
    if (!strcmp(registry[i].name, name)) return &registry[i];
  return NULL;
}

static bool run_one(IrGraph *g, const PassInfo *p, const PassOptions *o, IrDiag *d) {
  int errors = d->n_errors;
  bool changed = p->run(g, o, d);
  if (d->n_errors > errors) return false;
  /* quantization is lossy like --prune: --eval measures it (after pruning, the ladder's step) */
  if (changed && o->after_lossy && p->run == pass_quantize &&
      !o->after_lossy(o->after_lossy_ctx, g, "--quantize=int8", d))
    return false;
  if (o->verify_each && !ir_graph_verify(g, d)) {
    ir_diag_error(d, NULL, "internal error: the graph does not verify after pass '%s'", p->name);
    return false;
  }
  if (o->print_after && strcmp(o->print_after, p->name) == 0) {
    FILE *f = o->print_to ? o->print_to : stdout;
    fprintf(f, "; graph after %s\n", p->name);
    ir_graph_print(g, f);
  }
  return true;
}

bool pass_run_pipeline(IrGraph *g, const PassOptions *o, IrDiag *d) {
  if (o->print_after && !pass_find(o->print_after)) {
    ir_diag_error(d, "--print-after", "unknown pass '%s'", o->print_after);
    return false;
  }
  if (o->passes) {
    const PassInfo *list[64];
    int n = 0;
    bool qpool = false;
    const char *s = o->passes;
    while (*s) {
      size_t len = strcspn(s, ",");
      char name[64];
      snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), s);
      const PassInfo *p = pass_find(name);
      if (!p) {
        ir_diag_error(d, "--passes", "unknown pass '%s'", name);
        return false;
      }
      if (n == 64) {
        ir_diag_error(d, "--passes", "more than 64 passes");
        return false;
      }
      if (p->run == pass_qpool) qpool = true; /* it needs the kernel choice: after it */
      if (p->run != pass_memplan && p->run != pass_choose_kernels && p->run != pass_qpool)
        list[n++] = p;
      s += len + (s[len] == ',');
    }
    for (int i = 0; i < n; i++)
      if (!run_one(g, list[i], o, d)) return false;
    /* always last: codegen needs the kernel choice and the plan */
    return run_one(g, pass_find("kernels"), o, d) &&
           (!qpool || run_one(g, pass_find("qpool"), o, d)) &&
           run_one(g, pass_find("memplan"), o, d) && (o->no_dyn_check || ir_dyn_analyze(g, d));
  }
  for (size_t i = 0; i < sizeof registry / sizeof *registry; i++) {
    if (o->opt_level < registry[i].min_level) continue;
    if (!run_one(g, &registry[i], o, d)) return false;
  }
  /* which values have the run-time length, and can every node bound it (codegen's contract) */
  return o->no_dyn_check || ir_dyn_analyze(g, d);
}
