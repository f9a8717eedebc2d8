/* Dead-code elimination: a node stays only if one of its outputs reaches a graph output or a
 * state's next value;
 * initializers nothing reads go with pass_compact. */
#include <stdlib.h>

#include "pass.h"

bool pass_dce(IrGraph *g, const PassOptions *o, IrDiag *d) {
  (void)o;
  (void)d;
  bool *live_value = calloc((size_t)g->n_values + 1, sizeof *live_value);
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof *dead);
  if (!live_value || !dead) abort();
  for (int j = 0; j < g->n_outputs; j++) live_value[g->outputs[j]->id] = true;
  for (int j = 0; j < g->n_states; j++) live_value[g->states[j].out->id] = true;
  bool changed = false;
  for (int i = g->n_nodes - 1; i >= 0; i--) { /* reverse execution order */
    IrNode *n = g->nodes[i];
    bool live = false;
    for (int j = 0; j < n->n_outputs; j++) live |= n->outputs[j] && live_value[n->outputs[j]->id];
    if (!live) {
      dead[i] = changed = true;
      continue;
    }
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k]) live_value[n->inputs[k]->id] = true;
  }
  int before = g->n_values;
  pass_compact(g, dead);
  free(live_value);
  free(dead);
  return changed || g->n_values != before;
}
