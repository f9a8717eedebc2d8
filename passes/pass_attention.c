/* Scaled dot-product attention as exporters write it becomes one KilnAttention node:
 *
 *   [Transpose] Q'   [Transpose] K'           [Transpose] V'
 *          \        /                                |
 *           MatMul -> [Mul | Div by a constant] -> [Add mask] -> Softmax(last axis) -> MatMul
 *                                                                                 -> [Transpose]
 *
 * Each intermediate must have this chain as its only reader. The Transposes around the heads
 * become the node's operand and output permutations (ir_attention_geometry); the scores never
 * reach the workspace (codegen/kernels/cg_attention.c). */
#include "ir_util.h"
#include "pass.h"

/* The node producing v when v's only use is one read by a node (and v is no output). */
static IrNode *sole_producer(const IrGraph *g, const IrValue *v, IrOp op) {
  if (!v || v->kind != IR_VALUE_NODE || !v->producer || v->producer->op != op) return NULL;
  if (v->producer->n_epilogue || pass_use_count(g, v) != 1) return NULL;
  return v->producer;
}

/* The only node reading v (v no output), or NULL. */
static IrNode *sole_reader(const IrGraph *g, const IrValue *v) {
  if (pass_use_count(g, v) != 1) return NULL;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i]->n_inputs; k++)
      if (g->nodes[i]->inputs[k] == v) return g->nodes[i];
  return NULL;
}

/* A one-element f32 constant's value. */
static bool scalar_const(const IrValue *v, float *out) {
  if (!v || v->kind != IR_VALUE_CONST || v->dtype != IR_F32 || ir_value_numel(v) != 1 || v->len_dep)
    return false;
  *out = *(const float *)v->data;
  return true;
}

/* A constant mask that only hides the keys after each query's position (0 where key j <= i +
 * Skv - Sq, at most -1e4 elsewhere: exp of that underflows to 0 in f32, as the kernel's skipped
 * keys do): the kernel's causal loop bound replaces it. */
static bool causal_mask(const IrValue *m, int64_t sq, int64_t skv) {
  if (!m || m->kind != IR_VALUE_CONST || m->len_dep || m->rank < 2 || m->dims[m->rank - 2] != sq ||
      m->dims[m->rank - 1] != skv || ir_value_numel(m) != sq * skv)
    return false;
  const float *x = m->data;
  for (int64_t i = 0; i < sq; i++)
    for (int64_t j = 0; j < skv; j++)
      if (j <= i + skv - sq ? x[i * skv + j] != 0.0f : !(x[i * skv + j] <= -1e4f)) return false;
  return true;
}

typedef struct {
  IrValue *src;
  int64_t perm[4];
  IrNode *transpose; /* absorbed, or NULL */
} Operand;

/* Operand x of rank r read as logical axes rel (identity, or K's last two swapped), through a
 * Transpose that only this chain reads. */
static void absorb(const IrGraph *g, IrValue *x, int r, const int64_t *rel, Operand *o) {
  IrNode *t = sole_producer(g, x, IR_OP_TRANSPOSE);
  const IrAttr *p = t ? ir_attr(t, "perm") : NULL;
  o->transpose = t && p->count == r ? t : NULL;
  o->src = o->transpose ? t->inputs[0] : x;
  for (int j = 0; j < r; j++) o->perm[j] = o->transpose ? p->ints[rel[j]] : rel[j];
}

static bool fuse_one(IrGraph *g, IrNode *sm, bool *dead, int kind) {
  IrValue *x = sm->inputs[0];
  if (sm->n_epilogue || x->dtype != IR_F32 || (x->rank != 3 && x->rank != 4)) return false;
  int r = x->rank;
  int64_t axis = ir_attr_i(sm, "axis");
  if (axis != -1 && axis != r - 1) return false;
  IrNode *add = sole_producer(g, x, IR_OP_ADD), *scale_node = NULL, *mm1 = NULL;
  IrValue *mask = NULL, *y = x;
  if (add) { /* the mask is the operand that is not the scaled scores */
    for (int k = 0; k < 2 && !mask; k++) {
      IrValue *a = add->inputs[k], *b = add->inputs[1 - k];
      if (sole_producer(g, a, IR_OP_MUL) || sole_producer(g, a, IR_OP_DIV) ||
          sole_producer(g, a, IR_OP_MATMUL))
        y = a, mask = b;
    }
    if (!mask || mask->dtype != IR_F32 || mask->rank > 4) return false;
  }
  float c = 1;
  double scale = 1;
  if ((scale_node = sole_producer(g, y, IR_OP_MUL))) {
    int k = scalar_const(scale_node->inputs[1], &c)   ? 0
            : scalar_const(scale_node->inputs[0], &c) ? 1
                                                      : -1;
    if (k < 0) return false;
    scale = c;
    y = scale_node->inputs[k];
  } else if ((scale_node = sole_producer(g, y, IR_OP_DIV))) {
    if (!scalar_const(scale_node->inputs[1], &c) || c == 0) return false;
    scale = 1.0 / (double)c;
    y = scale_node->inputs[0];
  }
  if (!(mm1 = sole_producer(g, y, IR_OP_MATMUL))) return false;
  IrNode *mm2 = sole_reader(g, sm->outputs[0]);
  if (!mm2 || mm2->op != IR_OP_MATMUL || mm2->n_epilogue || mm2->inputs[0] != sm->outputs[0])
    return false;
  IrValue *qv = mm1->inputs[0], *kv = mm1->inputs[1], *vv = mm2->inputs[1], *ctx = mm2->outputs[0];
  /* Measured (host, AVX-512, -O3): one query row over 256 keys, 8.0 us fused against 55 us
   * unfused (the unfused graph transposes the whole cache every step); whole sequences, 32 and
   * 256 rows, 2.6x and 5x slower fused: the row-at-a-time kernel does not yet use the register
   * tiles the unfused MatMuls get. */
  if (kind == PASS_ATTENTION_DECODE && qv->rank >= 2 &&
      qv->dims[qv->rank - 2] > PASS_ATTENTION_DECODE_ROWS)
    return false;
  if (qv->rank != r || kv->rank != r || vv->rank != r || qv->dtype != IR_F32 ||
      kv->dtype != IR_F32 || vv->dtype != IR_F32)
    return false;
  /* batch axes of K and V equal Q's or 1 (Q's are the scores'): what the kernel broadcasts */
  for (int j = 0; j < r - 2; j++)
    if ((kv->dims[j] != qv->dims[j] && kv->dims[j] != 1) ||
        (vv->dims[j] != qv->dims[j] && vv->dims[j] != 1))
      return false;
  static const int64_t id[4] = {0, 1, 2, 3}, kt4[4] = {0, 1, 3, 2}, kt3[3] = {0, 2, 1};
  Operand q, k, v;
  absorb(g, qv, r, id, &q);
  absorb(g, kv, r, r == 4 ? kt4 : kt3, &k);
  absorb(g, vv, r, id, &v);
  if (q.transpose && q.transpose == k.transpose) return false;
  /* a Transpose reading the context alone becomes the output permutation */
  IrNode *tout = sole_reader(g, ctx);
  if (tout &&
      (tout->op != IR_OP_TRANSPOSE || tout->n_epilogue || ir_attr(tout, "perm")->count != r))
    tout = NULL;
  IrValue *outv = tout ? tout->outputs[0] : ctx;

  bool causal = causal_mask(mask, qv->dims[r - 2], kv->dims[r - 1]);
  if (causal) mask = NULL;
  IrNode *att = ir_node_new(g, IR_OP_ATTENTION, mm2->name, mask ? 4 : 3, 1);
  att->inputs[0] = q.src;
  att->inputs[1] = k.src;
  att->inputs[2] = v.src;
  if (mask) att->inputs[3] = mask;
  int64_t out_perm[4];
  for (int j = 0; j < r; j++) out_perm[j] = tout ? ir_attr(tout, "perm")->ints[j] : j;
  ir_set_attr_ints(g, att, "q_perm", q.perm, r);
  ir_set_attr_ints(g, att, "k_perm", k.perm, r);
  ir_set_attr_ints(g, att, "v_perm", v.perm, r);
  ir_set_attr_ints(g, att, "out_perm", out_perm, r);
  ir_set_attr_f(g, att, "scale", scale);
  ir_set_attr_i(g, att, "causal", causal);
  IrAttention geo;
  bool fits = ir_attention_geometry(att, &geo, NULL) && geo.out_rank == outv->rank;
  for (int j = 0; fits && j < outv->rank; j++) fits = geo.out_dims[j] == outv->dims[j];
  /* take MatMul2's place in the order: everything it reads is computed by then */
  g->n_nodes--; /* ir_node_new appended att */
  if (!fits) return false;
  att->id = mm2->id;
  g->nodes[att->id] = att;
  att->src_index = mm2->src_index;
  IrNode *old = outv->producer;
  for (int j = 0; j < old->n_outputs; j++)
    if (old->outputs[j] == outv) old->outputs[j] = NULL;
  ir_node_set_output(att, 0, outv);
  IrNode *gone[] = {mm1, scale_node, add, sm, q.transpose, k.transpose, v.transpose, tout};
  for (size_t i = 0; i < sizeof gone / sizeof *gone; i++)
    if (gone[i]) dead[gone[i]->id] = true;
  return true;
}

bool pass_attention(IrGraph *g, const PassOptions *o, IrDiag *d) {
  (void)d;
  int kind = o ? o->attention : PASS_ATTENTION_DECODE;
  /* queries of run-time length (--max-dim): unfused, the scores' [.., S, S] cannot be bounded
   * at run time (ir_dyn_analyze), fused the query rows can */
  if (kind == PASS_ATTENTION_DECODE && g->n_dyn) kind = PASS_ATTENTION_ALL;
  if (kind == PASS_ATTENTION_OFF) return false;
  bool *dead = pass_dead_flags(g);
  bool changed = false;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i]->op == IR_OP_SOFTMAX && !dead[i])
      changed |= fuse_one(g, g->nodes[i], dead, kind);
  return pass_drop_dead(g, dead, changed);
}
