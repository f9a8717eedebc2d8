/* Common-subexpression elimination: identical initializers (dtype, shape, bytes) become one,
 * then a node with the same op, attributes and inputs as an earlier one reuses its outputs. */
#include <stdlib.h>
#include <string.h>

#include "pass.h"

static uint64_t hash_bytes(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
  return h;
}

static bool same_const(const IrValue *a, const IrValue *b) {
  return a->dtype == b->dtype && ir_same_shape(a, b) && !a->quant && !b->quant &&
         !memcmp(a->data, b->data, (size_t)ir_value_nbytes(a));
}

bool pass_cse(IrGraph *g, const PassOptions *o, IrDiag *d) {
  (void)o;
  (void)d;
  bool changed = false;
  /* initializers: quadratic over equal hashes only */
  uint64_t *h = calloc((size_t)g->n_values + 1, sizeof *h);
  if (!h) abort();
  for (int i = 0; i < g->n_values; i++) {
    IrValue *v = g->values[i];
    /* (a len_dep constant equal to another at the maximum may differ at other lengths) */
    if (v->kind != IR_VALUE_CONST || v->is_output || v->len_dep) continue;
    h[i] = hash_bytes(v->data, (size_t)ir_value_nbytes(v)) | 1;
    for (int j = 0; j < i; j++)
      if (h[j] == h[i] && same_const(g->values[j], v)) {
        pass_replace_uses(g, v, g->values[j]);
        h[i] = 0;
        changed = true;
        break;
      }
  }
  free(h);
  /* nodes, in execution order so chains of duplicates collapse in one sweep */
  bool *dead = pass_dead_flags(g);
  for (int i = 0; i < g->n_nodes; i++) {
    IrNode *n = g->nodes[i];
    for (int e = 0; e < i; e++) {
      IrNode *m = g->nodes[e];
      if (dead[e] || !pass_same_attrs(m, n)) continue;
      bool same = true;
      for (int k = 0; k < n->n_inputs && same; k++) same = m->inputs[k] == n->inputs[k];
      for (int j = 0; j < n->n_outputs && same; j++)
        same = !n->outputs[j] || (m->outputs[j] && !n->outputs[j]->is_output);
      if (!same) continue;
      for (int j = 0; j < n->n_outputs; j++)
        if (n->outputs[j]) pass_replace_uses(g, n->outputs[j], m->outputs[j]);
      dead[i] = changed = true;
      break;
    }
  }
  return pass_drop_dead(g, dead, changed);
}
