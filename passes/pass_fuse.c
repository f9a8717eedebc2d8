/* Fusion: a Conv/Gemm-like head (IR_OPF_FUSABLE_HEAD) or an element-wise node absorbs the chain
 * of element-wise nodes that alone read its output (bias-free activations, a residual Add, a
 * scalar Mul, ...) as its epilogue (IrNode.epilogue), so codegen applies them in the head's loop
 * nest and the intermediate tensors disappear. A step's extra operands must be computed before
 * the head (they become the head's trailing inputs) and have the output's shape or one element.
 * A chain collects at most IR_MAX_EPILOGUE_INPUTS such operands (a loop nest streaming more
 * tensors gains nothing, and codegen passes each as a parameter): the step that would exceed it
 * heads a new chain instead, so a chain of 300 residual Adds becomes 18 fused nodes. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "pass.h"

static bool can_head(const IrNode *n) {
  unsigned f = ir_op_info[n->op].flags;
  return (f & (IR_OPF_FUSABLE_HEAD | IR_OPF_UNARY | IR_OPF_BINARY)) && n->n_outputs == 1 &&
         n->outputs[0] && n->outputs[0]->dtype == IR_F32;
}

/* The only node reading v, or NULL. */
static IrNode *sole_reader(const IrGraph *g, const IrValue *v) {
  IrNode *r = NULL;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i]->n_inputs; k++)
      if (g->nodes[i]->inputs[k] == v) {
        if (r && r != g->nodes[i]) return NULL;
        r = g->nodes[i];
      }
  return r;
}

/* v can be read at step `at` (defined before it) and is f32. */
static bool ready_before(const IrValue *v, int at) {
  return v->dtype == IR_F32 && (v->kind != IR_VALUE_NODE || (v->producer && v->producer->id < at));
}

/* Whether step e can follow a head at position `at` whose running value is y. */
static bool can_step(const IrNode *e, const IrValue *y, int at) {
  unsigned f = ir_op_info[e->op].flags;
  if (!(f & (IR_OPF_UNARY | IR_OPF_BINARY)) || e->n_epilogue || e->n_outputs != 1) return false;
  const IrValue *z = e->outputs[0];
  if (!z || !ir_same_shape(z, y) || z->dtype != IR_F32) return false;
  bool reads = false;
  for (int k = 0; k < e->n_inputs; k++) {
    const IrValue *v = e->inputs[k];
    if (!v) continue;
    if (v == y) {
      if (k > 0 && !(f & IR_OPF_BINARY)) return false; /* Clip(x, y): y as a bound */
      reads |= true;
      continue;
    }
    if (!ready_before(v, at)) return false;
    if ((f & IR_OPF_BINARY) && ir_value_numel(v) != 1 && !ir_same_shape(v, y)) return false;
    if ((f & IR_OPF_UNARY) && ir_value_numel(v) != 1) return false;
  }
  return reads;
}

/* The operands of step e not yet among head h's inputs (y: h's running output) into add[]
 * (room for e->n_inputs); returns their count. */
static int new_operands(const IrNode *h, const IrNode *e, const IrValue *y, IrValue **add) {
  int n_add = 0;
  for (int k = 0; k < e->n_inputs; k++) {
    IrValue *v = e->inputs[k];
    if (!v || v == y) continue;
    bool have = false;
    for (int j = ir_node_op_inputs(h); j < h->n_inputs; j++) have |= h->inputs[j] == v;
    for (int j = 0; j < n_add; j++) have |= add[j] == v;
    if (!have) add[n_add++] = v;
  }
  return n_add;
}

/* Whether absorbing e keeps h within IR_MAX_EPILOGUE_INPUTS extra operands. */
static bool within_limit(const IrNode *h, const IrNode *e) {
  IrValue *add[IR_MAX_STEP_INPUTS]; /* e is element-wise: at most that many inputs (ir/ops.c) */
  assert(e->n_inputs <= IR_MAX_STEP_INPUTS);
  return h->n_epilogue_inputs + new_operands(h, e, h->outputs[0], add) <= IR_MAX_EPILOGUE_INPUTS;
}

static void absorb(IrGraph *g, IrNode *h, IrNode *e) {
  int max_in = ir_op_info[h->op].max_inputs;
  const IrValue *y = h->outputs[0];
  IrValue *add[IR_MAX_STEP_INPUTS];
  assert(e->n_inputs <= IR_MAX_STEP_INPUTS);
  int n_add = new_operands(h, e, y, add);
  int own = ir_node_op_inputs(h);
  int n_in = max_in + h->n_epilogue_inputs + n_add;
  IrValue **ins = ir_arena_alloc(g->arena, sizeof *ins * (size_t)n_in);
  memcpy(ins, h->inputs, sizeof *ins * (size_t)own); /* slots own..max_in-1 stay NULL */
  memcpy(ins + max_in, h->inputs + own, sizeof *ins * (size_t)h->n_epilogue_inputs);
  memcpy(ins + max_in + h->n_epilogue_inputs, add, sizeof *ins * (size_t)n_add);
  h->inputs = ins;
  h->n_epilogue_inputs += n_add;
  h->n_inputs = n_in;
  IrNode **steps = ir_arena_alloc(g->arena, sizeof *steps * (size_t)(h->n_epilogue + 1));
  if (h->n_epilogue) memcpy(steps, h->epilogue, sizeof *steps * (size_t)h->n_epilogue);
  for (int k = 0; k < e->n_inputs; k++)
    if (e->inputs[k] == y) e->inputs[k] = NULL; /* the running value */
  steps[h->n_epilogue++] = e;
  h->epilogue = steps;
  ir_node_set_output(h, 0, e->outputs[0]);
}

/* The Mul's other operand s scales MatMulInteger's columns (one value, or [N] / [..., N]
 * broadcast along the last axis) or ConvInteger's channels (one value, or M values along axis 1
 * of its output z: [M, 1, ...] aligned to z's trailing axes, every other axis 1). */
static bool scale_fits(const IrNode *n, const IrValue *s, const IrValue *z) {
  int64_t ns = ir_value_numel(s);
  if (ns == 1) return true;
  if (n->op == IR_OP_MATMUL_INTEGER) {
    int64_t cols = n->inputs[1]->dims[1];
    return ns == cols && s->rank <= 1 && s->dims[s->rank - 1] == cols;
  }
  int at = 1 - (z->rank - s->rank); /* z's channel axis among s's */
  if (s->rank > z->rank || at < 0 || s->dims[at] != z->dims[1]) return false;
  for (int k = 0; k < s->rank; k++)
    if (k != at && s->dims[k] != 1) return false;
  return true;
}

/* ONNX Runtime's dynamic quantization: MatMulInteger (ConvInteger) -> Cast(to float) -> Mul by
 * the product of the scales (one value, or one per column / output channel) becomes one
 * MatMulInteger (ConvInteger) with that scale as a 5th input and the Mul's f32 output: the int8
 * kernel converts and scales its sums in registers, the same two f32 operations per element
 * (ir_interp_matmul_integer, ir_interp_conv_integer). The fused node takes the
 * Mul's place in the order (the scale is computed between them); its own inputs come before. */
static bool fuse_integer_scale(IrGraph *g) {
  bool *dead = pass_dead_flags(g);
  bool changed = false;
  for (int i = 0; i < g->n_nodes; i++) {
    IrNode *n = g->nodes[i];
    bool conv = n->op == IR_OP_CONV_INTEGER;
    if (dead[i] || (n->op != IR_OP_MATMUL_INTEGER && !conv) || n->n_inputs != 4 || n->n_epilogue)
      continue;
    IrValue *y = n->outputs[0];
    IrNode *c = y->is_output ? NULL : sole_reader(g, y);
    if (!c || c->op != IR_OP_CAST || c->n_epilogue || ir_attr_i(c, "to") != 1 ||
        c->outputs[0]->is_output)
      continue;
    IrValue *z = c->outputs[0];
    IrNode *m = sole_reader(g, z);
    if (!m || m->op != IR_OP_MUL || m->n_epilogue || m->n_inputs != 2 ||
        !ir_same_shape(m->outputs[0], z) || m->outputs[0]->dtype != IR_F32)
      continue;
    IrValue *s = m->inputs[0] == z ? m->inputs[1] : m->inputs[0];
    if (s == z || s->dtype != IR_F32 || !scale_fits(n, s, z)) continue;
    IrValue **ins = ir_arena_alloc(g->arena, sizeof *ins * 5);
    memcpy(ins, n->inputs, sizeof *ins * 4);
    ins[4] = s;
    n->inputs = ins;
    n->n_inputs = 5;
    ir_node_set_output(n, 0, m->outputs[0]);
    /* n moves to m's slot; its old slot (now m) and the Cast's go */
    int at = m->id;
    g->nodes[at] = n;
    g->nodes[i] = m;
    n->id = at;
    m->id = i;
    dead[i] = dead[c->id] = changed = true;
  }
  return pass_drop_dead(g, dead, changed);
}

bool pass_fuse(IrGraph *g, const PassOptions *o, IrDiag *d) {
  (void)o;
  (void)d;
  bool fused_scale = fuse_integer_scale(g);
  bool *dead = pass_dead_flags(g);
  bool changed = false;
  for (int i = 0; i < g->n_nodes; i++) {
    IrNode *h = g->nodes[i];
    if (dead[i] || !can_head(h)) continue;
    for (;;) {
      IrValue *y = h->outputs[0];
      if (y->is_output) break;
      IrNode *e = sole_reader(g, y);
      if (!e || dead[e->id] || !can_step(e, y, i) || !within_limit(h, e)) break;
      absorb(g, h, e);
      dead[e->id] = changed = true;
    }
  }
  return pass_drop_dead(g, dead, changed) || fused_scale;
}
