/* Algebraic simplification: nodes that compute nothing go (Identity, inference Dropout, Reshape
 * to the input's own shape, x*1, x/1, x+0, x-0 without broadcasting), a Reshape of a view
 * (Reshape, Flatten, Identity) reads the view's input directly, and two Transposes in a row
 * become one (or none, when they cancel). */
#include <stdlib.h>

#include "pass.h"

/* v is an f32 initializer whose every element equals x. */
static bool const_all(const IrValue *v, float x) {
  if (!v || v->kind != IR_VALUE_CONST || v->dtype != IR_F32 || v->quant || v->len_dep) return false;
  const float *p = v->data;
  for (int64_t i = 0, n = ir_value_numel(v); i < n; i++)
    if (p[i] != x) return false;
  return true;
}

/* The data input a node passes through unchanged, or NULL. */
static IrValue *pass_through(const IrGraph *g, const IrNode *n) {
  IrValue *x = n->inputs[0];
  switch (n->op) {
  case IR_OP_IDENTITY: return x;
  case IR_OP_DROPOUT:
    /* only when nobody wants the mask (training_mode is false: shape inference enforces it) */
    if (n->n_outputs > 1 && n->outputs[1] && pass_use_count(g, n->outputs[1])) return NULL;
    return x;
  case IR_OP_RESHAPE:
  case IR_OP_FLATTEN: return ir_same_shape(x, n->outputs[0]) ? x : NULL;
  case IR_OP_MUL:
  case IR_OP_DIV:
  case IR_OP_ADD:
  case IR_OP_SUB: {
    float unit = n->op == IR_OP_MUL || n->op == IR_OP_DIV ? 1.0f : 0.0f;
    IrValue *a = n->inputs[0], *b = n->inputs[1];
    if (const_all(b, unit) && ir_same_shape(a, n->outputs[0]) && a->dtype == n->outputs[0]->dtype)
      return a;
    bool commutes = n->op == IR_OP_MUL || n->op == IR_OP_ADD;
    if (commutes && const_all(a, unit) && ir_same_shape(b, n->outputs[0]) &&
        b->dtype == n->outputs[0]->dtype)
      return b;
    return NULL;
  }
  default: return NULL;
  }
}

/* The permutation of a Transpose node (ONNX default: reversed axes). */
static int transpose_perm(const IrNode *n, int64_t *perm) {
  int rank = n->inputs[0]->rank;
  const IrAttr *a = ir_attr(n, "perm");
  for (int i = 0; i < rank; i++) perm[i] = a->count ? a->ints[i] : rank - 1 - i;
  return rank;
}

/* Transpose(Transpose(x, p1), p2) = Transpose(x, q) with q[i] = p1[p2[i]]: output axis i of the
 * outer node is axis p2[i] of the inner output, which is axis p1[p2[i]] of x. */
static bool merge_transposes(IrGraph *g, IrNode *n, bool *dead) {
  IrValue *in = n->inputs[0];
  if (n->op != IR_OP_TRANSPOSE || !in || in->kind != IR_VALUE_NODE || !in->producer ||
      in->producer->op != IR_OP_TRANSPOSE || in->producer->n_epilogue)
    return false;
  int64_t p1[IR_MAX_RANK], p2[IR_MAX_RANK], q[IR_MAX_RANK];
  int rank = transpose_perm(in->producer, p1);
  transpose_perm(n, p2);
  bool identity = true;
  for (int i = 0; i < rank; i++) {
    q[i] = p1[p2[i]];
    identity &= q[i] == i;
  }
  IrValue *x = in->producer->inputs[0];
  if (identity) {
    if (!pass_forward(g, n->outputs[0], x)) return false;
    dead[n->id] = true;
    return true;
  }
  n->inputs[0] = x; /* the inner Transpose dies in DCE if this was its only reader */
  ir_set_attr_ints(g, n, "perm", q, rank);
  return true;
}

bool pass_simplify(IrGraph *g, const PassOptions *o, IrDiag *d) {
  (void)o;
  (void)d;
  bool *dead = pass_dead_flags(g);
  bool changed = false;
  for (int i = 0; i < g->n_nodes; i++) {
    IrNode *n = g->nodes[i];
    if (!n->outputs[0] || n->n_epilogue) continue;
    IrValue *x = pass_through(g, n);
    if (x && x->dtype == n->outputs[0]->dtype && pass_forward(g, n->outputs[0], x)) {
      dead[i] = changed = true;
      continue;
    }
    if (merge_transposes(g, n, dead)) {
      changed = true;
      continue;
    }
    /* Reshape(view(x)) -> Reshape(x, the output's dims) */
    IrValue *in = n->inputs[0];
    if (n->op == IR_OP_RESHAPE && in && in->kind == IR_VALUE_NODE && in->producer &&
        (in->producer->op == IR_OP_RESHAPE || in->producer->op == IR_OP_FLATTEN ||
         in->producer->op == IR_OP_IDENTITY)) {
      IrValue *y = n->outputs[0];
      int64_t rank = y->rank;
      n->inputs[0] = in->producer->inputs[0];
      n->inputs[1] = pass_new_const(g, "shape", IR_I64, 1, &rank, y->dims);
      changed = true; /* the inner view dies in DCE if this was its only reader */
    }
  }
  return pass_drop_dead(g, dead, changed);
}
