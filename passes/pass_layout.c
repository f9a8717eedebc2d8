/* Blocked channel layout for activations (docs/kernels.md, "Blocked activations"): a storage
 * decision, not a change of meaning. Each chosen Conv reads and writes NCHW{c}c values (c = the
 * target's f32 vector lanes: 16 on AVX-512, 8 AVX2, 4 NEON/SSE; no vectors, no blocking), where
 * its output-channel block fills the vector lanes. Element-wise nodes and MaxPools whose operands
 * come from such a run follow it (element-wise loops are flat: the same element at the same offset
 * in every operand). Everything else, graph inputs and outputs read NCHW: a KilnLayout copy is
 * inserted at each boundary, and a conversion back to NCHW read only by a conversion to the same
 * block is cancelled (the blocked value is read directly), so a run of layers converts once on the
 * way in and once on the way out. Shapes and the interpreter (the oracle) see NCHW throughout. */
#include <stdlib.h>

#include "conv_params.h"
#include "pass.h"

static bool layout_candidate(const IrValue *v, int cb) {
  return v && v->dtype == IR_F32 && v->rank == 4 && v->dims[1] % cb == 0 && !v->state && !v->dyn;
}

/* Operands the flat loops read element for element: the output's shape, or one element. */
static bool flat_operand(const IrValue *v, const IrValue *y) {
  return v && v->dtype == IR_F32 && (ir_same_shape(v, y) || ir_value_numel(v) == 1);
}

/* A fused epilogue whose steps index every operand like the output (no broadcast along some
 * axes), so that it means the same in any layout; regs: only the steps the micro-kernel applies
 * in registers (codegen cg_gemm_epilogue_in_registers), which the blocked Conv needs. */
static bool epilogue_flat(const IrNode *n, bool regs) {
  const IrValue *y = n->outputs[0];
  for (int s = 0; s < n->n_epilogue; s++) {
    const IrNode *e = n->epilogue[s];
    unsigned f = ir_op_info[e->op].flags;
    bool binary = f & IR_OPF_BINARY;
    if (regs &&
        !(e->op == IR_OP_RELU || e->op == IR_OP_LEAKY_RELU || e->op == IR_OP_CLIP ||
          e->op == IR_OP_ADD || e->op == IR_OP_SUB || e->op == IR_OP_MUL || e->op == IR_OP_DIV))
      return false;
    for (int k = binary ? 0 : 1; k < e->n_inputs; k++) {
      const IrValue *w = e->inputs[k];
      if (!w) continue;
      if (!flat_operand(w, y)) return false;
      if (regs && e->op == IR_OP_CLIP && w->kind != IR_VALUE_CONST) return false;
      if (regs && ir_value_numel(w) == 1 && !ir_same_shape(w, y) && w->kind != IR_VALUE_CONST)
        return false;
    }
  }
  return true;
}

static bool conv_blockable(const IrNode *n, int cb) {
  IrConvParams p;
  if (n->op != IR_OP_CONV || !ir_conv_params(n, &p, NULL) || p.spatial != 2 || p.group != 1)
    return false;
  if (n->inputs[1]->kind != IR_VALUE_CONST || n->inputs[1]->dtype != IR_F32) return false;
  if (p.has_bias && (n->inputs[2]->dtype != IR_F32 || n->inputs[2]->kind != IR_VALUE_CONST))
    return false;
  return layout_candidate(n->inputs[0], cb) && layout_candidate(n->outputs[0], cb) &&
         epilogue_flat(n, true);
}

/* MaxPool (2-D) follows a run: per output pixel the max of whole channel vectors. */
static bool pool_blockable(const IrNode *n, int cb) {
  IrConvParams p;
  return n->op == IR_OP_MAX_POOL && n->n_outputs == 1 && ir_conv_params(n, &p, NULL) &&
         p.spatial == 2 && layout_candidate(n->inputs[0], cb) &&
         layout_candidate(n->outputs[0], cb) && !n->n_epilogue;
}

static bool eltwise_blockable(const IrNode *n, int cb) {
  unsigned f = ir_op_info[n->op].flags;
  const IrValue *y = n->outputs[0];
  if (!(f & (IR_OPF_UNARY | IR_OPF_BINARY)) || n->n_outputs != 1 || !layout_candidate(y, cb))
    return false;
  for (int k = 0; k < n->n_inputs; k++)
    if (n->inputs[k] && !flat_operand(n->inputs[k], y)) return false;
  return epilogue_flat(n, false);
}

/* The blocked value v already has, where v is a KilnLayout copy of one (to NCHW). */
static IrValue *blocked_source(const IrValue *v, int cb) {
  if (v->kind != IR_VALUE_NODE || v->producer->op != IR_OP_LAYOUT) return NULL;
  IrValue *src = v->producer->inputs[0];
  return src->layout_block == cb ? src : NULL;
}

static IrValue *new_value(IrGraph *g, const IrValue *like, const char *suffix, int cb) {
  char name[512];
  IrValue *v = NULL;
  for (int k = 0; !v; k++) {
    snprintf(name, sizeof name, k ? "%s%s.%d" : "%s%s", like->name, suffix, k);
    v = ir_value_new(g, name, IR_VALUE_NODE, like->dtype, like->rank, like->dims);
  }
  v->layout_block = cb;
  return v;
}

static IrNode *layout_node(IrGraph *g, IrValue *from, IrValue *to) {
  char name[512];
  snprintf(name, sizeof name, "%s.layout", to->name);
  IrNode *c = ir_node_new(g, IR_OP_LAYOUT, name, 1, 1);
  c->inputs[0] = from;
  ir_node_set_output(c, 0, to);
  return c;
}

/* v in the blocked layout: the value a conversion to NCHW was made from (cancelled), an existing
 * conversion of v to the block, or a new one. */
static IrValue *to_blocked(IrGraph *g, IrValue *v, int cb, int n_orig) {
  IrValue *src = blocked_source(v, cb);
  if (src) return src;
  for (int i = n_orig; i < g->n_nodes; i++) {
    IrNode *c = g->nodes[i];
    if (c->op == IR_OP_LAYOUT && c->inputs[0] == v && c->outputs[0]->layout_block == cb)
      return c->outputs[0];
  }
  IrValue *b = new_value(g, v, ".nchwc", cb);
  layout_node(g, v, b);
  return b;
}

/* n reads its activations (the inputs of the output's shape) blocked and writes a blocked
 * value, copied back to its old output for the readers that stay NCHW. */
static void make_blocked(IrGraph *g, IrNode *n, int cb, int n_orig) {
  const IrValue *y = n->outputs[0];
  for (int k = 0; k < n->n_inputs; k++) {
    IrValue *v = n->inputs[k];
    bool conv = (n->op == IR_OP_CONV || n->op == IR_OP_MAX_POOL) && k < ir_node_op_inputs(n);
    if (!v || v->layout_block == cb || (conv && k > 0) || (!conv && !ir_same_shape(v, y)))
      continue; /* converted already (read twice), weights, bias, scalars */
    IrValue *b = to_blocked(g, v, cb, n_orig);
    for (int j = k; j < n->n_inputs; j++)
      if (n->inputs[j] == v) n->inputs[j] = b;
    for (int s = 0; s < n->n_epilogue; s++) /* the steps find their operands by value */
      for (int j = 0; j < n->epilogue[s]->n_inputs; j++)
        if (n->epilogue[s]->inputs[j] == v) n->epilogue[s]->inputs[j] = b;
  }
  IrValue *old = n->outputs[0];
  IrValue *b = new_value(g, old, ".nchwc", cb);
  ir_node_set_output(n, 0, b);
  layout_node(g, b, old);
}

static bool reads_blocked_run(const IrNode *n, int cb) {
  for (int k = 0; k < n->n_inputs; k++)
    if (n->inputs[k] && blocked_source(n->inputs[k], cb)) return true;
  return false;
}

bool pass_layout(IrGraph *g, const PassOptions *o, IrDiag *d) {
  int cb = o->vec_lanes;
  /* auto: NCHW; the blocked Conv did not beat the chosen kernels on the examples' layers on
   * this machine (docs/kernels.md, notes/issue9c.md): --layout=nchwc forces it */
  if (o->layout != PASS_LAYOUT_NCHWC || cb <= 1 || g->n_dyn) return false;
  int n_orig = g->n_nodes;
  bool changed = false;
  for (int i = 0; i < n_orig; i++) {
    IrNode *n = g->nodes[i];
    if (conv_blockable(n, cb)) {
      make_blocked(g, n, cb, n_orig);
      changed = true;
    } else if ((eltwise_blockable(n, cb) || pool_blockable(n, cb)) && reads_blocked_run(n, cb)) {
      make_blocked(g, n, cb, n_orig);
      changed = true;
    }
  }
  if (!changed) return false;
  /* conversions back to NCHW that only cancelled conversions read */
  bool *dead = pass_dead_flags(g);
  for (int i = n_orig; i < g->n_nodes; i++) {
    IrValue *y = g->nodes[i]->outputs[0];
    if (pass_use_count(g, y) == 0) dead[i] = true;
  }
  pass_drop_dead(g, dead, true);
  return ir_graph_sort(g, d);
}
