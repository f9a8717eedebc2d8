/* Constant folding: a node whose inputs are all initializers (a Reshape's shape, arithmetic on
 * weights, whole shape subgraphs one node at a time in execution order) is run once with the
 * reference interpreter and its outputs become initializers; so is a node whose output depends
 * only on static shapes (IR_OPF_STATIC: Shape, Constant). */
#include <stdlib.h>

#include "pass.h"

/* Folding must not turn a small expression into a huge constant. */
#define FOLD_MAX_BYTES ((int64_t)64 << 20)

bool pass_fold_constants(IrGraph *g, const PassOptions *o, IrDiag *d) {
  (void)o;
  (void)d;
  bool *dead = pass_dead_flags(g);
  bool changed = false;
  for (int i = 0; i < g->n_nodes; i++) {
    IrNode *n = g->nodes[i];
    if (n->n_epilogue) continue; /* the kernel alone would skip the epilogue */
    /* an IR_OPF_STATIC node (Shape, Constant) needs only its inputs' static shapes */
    bool is_static = ir_op_info[n->op].flags & IR_OPF_STATIC;
    bool all_const = n->n_inputs > 0 || is_static;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] && n->inputs[k]->kind != IR_VALUE_CONST && !is_static) all_const = false;
    int64_t bytes = 0;
    for (int j = 0; j < n->n_outputs; j++)
      if (n->outputs[j]) bytes += ir_value_nbytes(n->outputs[j]);
    if (!all_const || bytes > FOLD_MAX_BYTES) continue;
    const void **in = calloc((size_t)n->n_inputs + 1, sizeof *in);
    void **out = calloc((size_t)n->n_outputs + 1, sizeof *out);
    if (!in || !out) abort();
    for (int k = 0; k < n->n_inputs; k++) in[k] = n->inputs[k] ? n->inputs[k]->data : NULL;
    for (int j = 0; j < n->n_outputs; j++)
      if (n->outputs[j])
        out[j] = ir_arena_alloc(g->arena, (size_t)ir_value_nbytes(n->outputs[j]) + 1);
      else /* an omitted optional output still gets a scratch buffer */
        out[j] = NULL;
    bool ok = true;
    for (int j = 0; j < n->n_outputs; j++) ok &= n->outputs[j] != NULL;
    /* a kernel error (e.g. an index out of range) is left for run time to report */
    if (ok && ir_op_info[n->op].interp(n, in, out) == 0) {
      for (int j = 0; j < n->n_outputs; j++) {
        IrValue *v = n->outputs[j];
        v->kind = IR_VALUE_CONST;
        v->data = out[j];
        v->producer = NULL;
        v->ws_offset = -1;
      }
      dead[i] = true;
      changed = true;
    }
    free(in);
    free(out);
  }
  return pass_drop_dead(g, dead, changed);
}
