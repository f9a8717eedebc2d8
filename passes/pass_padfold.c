/* Pad folded into the Conv or pool that alone reads it: a constant Pad of the spatial axes of an
 * NCHW tensor becomes part of the consumer's own `pads` when the padding means the same there:
 *   Conv (auto_pad NOTSET): zero padding;
 *   AveragePool (NOTSET, ceil_mode 0): zero padding, then count_include_pad = 1 (the padded
 *     zeros were real elements of the Pad's output), allowed when the pool's own padding is
 *     already counted or absent;
 *   MaxPool (NOTSET, ceil_mode 0): padding with -inf. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pass.h"

/* The pad value of a constant-mode Pad, or NAN when the Pad is not constant. */
static double pad_value(const IrNode *p) {
  if (strcmp(ir_attr_s(p, "mode"), "constant")) return NAN;
  const IrValue *v = p->n_inputs > 2 ? p->inputs[2] : NULL;
  if (!v) return 0.0;
  if (v->kind != IR_VALUE_CONST || v->dtype != IR_F32) return NAN;
  return *(const float *)v->data;
}

static bool all_zero(const IrAttr *a) {
  for (int i = 0; i < a->count; i++)
    if (a->ints[i]) return false;
  return true;
}

static bool fold_one(IrGraph *g, IrNode *pad, IrNode *use) {
  /* only these have the attributes read below (ir_attr_s of another op's is NULL) */
  if (use->op != IR_OP_CONV && use->op != IR_OP_AVERAGE_POOL && use->op != IR_OP_MAX_POOL)
    return false;
  const IrValue *x = pad->inputs[0], *pv = pad->inputs[1];
  if (x->rank != 4 || pv->kind != IR_VALUE_CONST) return false;
  const int64_t *p = pv->data; /* [n, c, h, w] begins, then ends */
  if (p[0] || p[1] || p[4] || p[5]) return false;
  if (strcmp(ir_attr_s(use, "auto_pad"), "NOTSET")) return false;
  double value = pad_value(pad);
  switch (use->op) {
  case IR_OP_CONV:
    if (value != 0.0) return false;
    break;
  case IR_OP_AVERAGE_POOL:
    if (value != 0.0 || ir_attr_i(use, "ceil_mode") != 0) return false;
    if (ir_attr_i(use, "count_include_pad") != 1 && !all_zero(ir_attr(use, "pads"))) return false;
    break;
  case IR_OP_MAX_POOL:
    if (!(isinf(value) && value < 0) || ir_attr_i(use, "ceil_mode") != 0) return false;
    break;
  default: return false;
  }
  const IrAttr *own = ir_attr(use, "pads");
  int64_t pads[4] = {p[2], p[3], p[6], p[7]};
  if (own->count == 4)
    for (int i = 0; i < 4; i++) pads[i] += own->ints[i];
  else if (own->count != 0)
    return false;
  ir_set_attr_ints(g, use, "pads", pads, 4);
  if (use->op == IR_OP_AVERAGE_POOL) ir_set_attr_i(g, use, "count_include_pad", 1);
  use->inputs[0] = pad->inputs[0];
  return true;
}

bool pass_fold_pad(IrGraph *g, const PassOptions *o, IrDiag *d) {
  (void)o;
  (void)d;
  bool *dead = pass_dead_flags(g);
  bool changed = false;
  for (int i = 0; i < g->n_nodes; i++) {
    IrNode *pad = g->nodes[i];
    IrValue *y = pad->outputs[0];
    if (pad->op != IR_OP_PAD || pad->n_epilogue || !y || y->is_output) continue;
    IrNode *use = NULL;
    int uses = 0;
    for (int j = i + 1; j < g->n_nodes; j++)
      for (int k = 0; k < g->nodes[j]->n_inputs; k++)
        if (g->nodes[j]->inputs[k] == y) {
          use = g->nodes[j];
          uses += k == 0 ? 1 : 2; /* only as the data input */
        }
    if (uses != 1 || use->n_epilogue) continue;
    if (fold_one(g, pad, use)) dead[i] = changed = true;
  }
  return pass_drop_dead(g, dead, changed);
}
