/* Graph editing helpers shared by the passes: rewiring uses, removing nodes, new constants. */
#include <stdlib.h>
#include <string.h>

#include "pass.h"

void pass_replace_uses(IrGraph *g, const IrValue *old, IrValue *new_value) {
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i]->n_inputs; k++)
      if (g->nodes[i]->inputs[k] == old) g->nodes[i]->inputs[k] = new_value;
}

int pass_use_count(const IrGraph *g, const IrValue *v) {
  return ir_value_use_count(g, v) + (v->is_output ? 1 : 0);
}

bool pass_forward(IrGraph *g, IrValue *out, IrValue *in) {
  if (out == in) return false;
  if (!out->is_output) {
    pass_replace_uses(g, out, in);
    return true;
  }
  if (in->kind != IR_VALUE_NODE || in->is_output || !ir_same_shape(in, out) ||
      in->dtype != out->dtype)
    return false;
  /* in's producer writes the graph output itself; in's readers read out. */
  pass_replace_uses(g, in, out);
  IrNode *p = in->producer;
  int slot = in->producer_slot;
  IrNode *old = out->producer;
  if (old)
    for (int j = 0; j < old->n_outputs; j++)
      if (old->outputs[j] == out) old->outputs[j] = NULL;
  ir_node_set_output(p, slot, out);
  in->producer = NULL;
  return true;
}

void pass_compact(IrGraph *g, const bool *dead) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (!dead || !dead[i]) g->nodes[n++] = g->nodes[i];
  g->n_nodes = n;
  for (int i = 0; i < n; i++) g->nodes[i]->id = i;
  ir_graph_drop_unused_values(g);
}

IrValue *pass_new_const(IrGraph *g, const char *base, IrDType t, int rank, const int64_t *dims,
                        const void *data) {
  char name[512];
  IrValue *v = NULL;
  for (int k = 0; !v; k++) {
    snprintf(name, sizeof name, k ? "%s.%d" : "%s", base, k);
    v = ir_value_new(g, name, IR_VALUE_CONST, t, rank, dims);
  }
  size_t bytes = (size_t)ir_value_nbytes(v);
  void *p = ir_arena_alloc(g->arena, bytes ? bytes : 1);
  if (bytes) memcpy(p, data, bytes);
  v->data = p;
  return v;
}

bool pass_same_attrs(const IrNode *a, const IrNode *b) {
  if (a->op != b->op || a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs) return false;
  if (a->n_epilogue || b->n_epilogue) return false;
  for (int k = 0; ir_op_info[a->op].attrs[k].name; k++) {
    const IrAttr *x = &a->attrs[k], *y = &b->attrs[k];
    if (x->i != y->i || x->f != y->f || x->count != y->count) return false;
    if ((x->s || y->s) && (!x->s || !y->s || strcmp(x->s, y->s))) return false;
    if (x->count && x->ints &&
        (!y->ints || memcmp(x->ints, y->ints, sizeof *x->ints * (size_t)x->count)))
      return false;
    if (x->count && x->floats &&
        (!y->floats || memcmp(x->floats, y->floats, sizeof *x->floats * (size_t)x->count)))
      return false;
  }
  return true;
}

bool *pass_dead_flags(const IrGraph *g) {
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof *dead);
  if (!dead) abort();
  return dead;
}

bool pass_drop_dead(IrGraph *g, bool *dead, bool changed) {
  if (changed) pass_compact(g, dead);
  free(dead);
  return changed;
}
