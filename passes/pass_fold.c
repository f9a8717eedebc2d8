/* Constant folding: a node whose inputs are all initializers (a Reshape's shape, arithmetic on
 * weights, whole shape subgraphs one node at a time in execution order) is run once with the
 * reference interpreter and its outputs become initializers; so is a node whose output depends
 * only on static shapes (IR_OPF_STATIC: Shape, Constant). */
#include "pass.h"

/* Folding must not turn a small expression into a huge constant. */
#define FOLD_MAX_BYTES ((int64_t)64 << 20)

bool pass_fold_constants(IrGraph *g, const PassOptions *o, IrDiag *d) {
  (void)o;
  (void)d;
  bool *dead = pass_dead_flags(g);
  bool changed = false;
  for (int i = 0; i < g->n_nodes; i++)
    if (ir_node_fold(g, g->nodes[i], FOLD_MAX_BYTES)) dead[i] = changed = true;
  return pass_drop_dead(g, dead, changed);
}
