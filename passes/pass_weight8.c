/* Weight-only int8 (--quantize=int8-weights, docs/quantization.md): every Gemm (transA 0) and
 * MatMul whose weights B are a 2-D f32 constant becomes a KilnGemmW8 (ir/weight8.c) holding B as
 * int8 per output column, symmetric: scale[j] = max_k |B[k][j]| / 127 (alpha folded in),
 * q = round_half_even(B / scale) in [-127, 127]; a constant C (one value per column, or one)
 * times beta becomes its f32 bias. A Gather from a 2-D f32 constant table along axis 0 (an
 * embedding) reads an int8 table with one scale per row instead:
 * Mul(Cast(Gather(table_i8, ids), f32), Gather(scale[V][1], ids)) -- the same floats as
 * dequantizing the table first. Activations stay f32; no calibration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pass.h"

/* The bias of Gemm n as [N] floats (beta applied), or false when C is not per column. */
static bool gemm_bias(const IrNode *n, int64_t N, float *out) {
  const IrValue *cv = n->n_inputs > 2 ? n->inputs[2] : NULL;
  for (int64_t j = 0; j < N; j++) out[j] = 0;
  if (!cv) return true;
  int64_t numel = ir_value_numel(cv);
  if (cv->kind != IR_VALUE_CONST || cv->dtype != IR_F32 || (numel != 1 && numel != N) ||
      (numel == N && N > 1 && cv->dims[cv->rank - 1] != N))
    return false;
  float beta = (float)ir_attr_f(n, "beta");
  for (int64_t j = 0; j < N; j++) out[j] = beta * ((const float *)cv->data)[numel == 1 ? 0 : j];
  return true;
}

static IrNode *rewrite(IrGraph *g, IrNode *n) {
  bool gemm = n->op == IR_OP_GEMM;
  const IrValue *a = n->inputs[0], *b = n->inputs[1];
  if (gemm ? ir_attr_i(n, "transA") != 0 : n->op != IR_OP_MATMUL) return NULL;
  if (!a || a->rank < 2 || !b || b->kind != IR_VALUE_CONST || b->dtype != IR_F32 || b->rank != 2 ||
      n->n_epilogue)
    return NULL;
  bool tb = gemm && ir_attr_i(n, "transB") != 0;
  int64_t K = tb ? b->dims[1] : b->dims[0], N = tb ? b->dims[0] : b->dims[1];
  float *bias = malloc(sizeof *bias * (size_t)N), *scale = malloc(sizeof *scale * (size_t)N);
  int8_t *q = malloc((size_t)(K * N));
  if (!bias || !scale || !q) abort();
  IrNode *w8 = NULL;
  if (gemm_bias(n, N, bias) || !gemm) {
    float alpha = gemm ? (float)ir_attr_f(n, "alpha") : 1.0f;
    const float *w = b->data;
    for (int64_t j = 0; j < N; j++) {
      float mx = 0;
      for (int64_t k = 0; k < K; k++) mx = fmaxf(mx, fabsf(alpha * w[tb ? j * K + k : k * N + j]));
      float s = mx > 0 ? mx / 127.0f : 1.0f;
      scale[j] = s;
      for (int64_t k = 0; k < K; k++) {
        int64_t at = tb ? j * K + k : k * N + j;
        float r = nearbyintf(alpha * w[at] / s);
        q[at] = (int8_t)(r < -127 ? -127 : r > 127 ? 127 : r);
      }
    }
    bool has_bias = gemm && n->n_inputs > 2 && n->inputs[2];
    w8 = ir_node_new(g, IR_OP_GEMM_W8, n->name, has_bias ? 4 : 3, 1);
    w8->inputs[0] = n->inputs[0];
    w8->inputs[1] = pass_new_const(g, "w.int8", IR_I8, 2, b->dims, q);
    w8->inputs[2] = pass_new_const(g, "w.scale", IR_F32, 1, &N, scale);
    if (has_bias) w8->inputs[3] = pass_new_const(g, "bias", IR_F32, 1, &N, bias);
    ir_set_attr_i(g, w8, "transB", tb);
    IrValue *y = n->outputs[0];
    n->outputs[0] = NULL;
    ir_node_set_output(w8, 0, y);
  }
  free(bias);
  free(scale);
  free(q);
  return w8;
}

static IrNode *add_node(IrGraph *g, IrOp op, const char *base, const char *suffix,
                        IrValue *const *in, int n_in) {
  char name[512];
  snprintf(name, sizeof name, "%s/%s", base, suffix);
  IrNode *n = ir_node_new(g, op, name, n_in, 1);
  for (int k = 0; k < n_in; k++) n->inputs[k] = in[k];
  char vname[520];
  IrValue *v = NULL;
  for (int k = 0; !v; k++) {
    snprintf(vname, sizeof vname, k ? "%s.%d" : "%s", name, k);
    v = ir_value_new(g, vname, IR_VALUE_NODE, IR_F32, 0, NULL);
  }
  ir_node_set_output(n, 0, v);
  return n;
}

/* Gather(T, ids) -> Mul(Cast(Gather(Tq, ids)), Gather(scale, ids)); the Mul takes n's output. */
static bool rewrite_gather(IrGraph *g, IrNode *n, IrDiag *d) {
  const IrValue *t = n->inputs[0];
  if (t->kind != IR_VALUE_CONST || t->dtype != IR_F32 || t->rank != 2 ||
      n->inputs[1]->kind == IR_VALUE_CONST ||
      (ir_attr_i(n, "axis") != 0 && ir_attr_i(n, "axis") != -2))
    return false;
  int64_t V = t->dims[0], D = t->dims[1];
  int8_t *q = malloc((size_t)(V * D));
  float *s = malloc(sizeof *s * (size_t)V);
  if (!q || !s) abort();
  const float *w = t->data;
  for (int64_t v = 0; v < V; v++) {
    float mx = 0;
    for (int64_t k = 0; k < D; k++) mx = fmaxf(mx, fabsf(w[v * D + k]));
    s[v] = mx > 0 ? mx / 127.0f : 1.0f;
    for (int64_t k = 0; k < D; k++) {
      float r = nearbyintf(w[v * D + k] / s[v]);
      q[v * D + k] = (int8_t)(r < -127 ? -127 : r > 127 ? 127 : r);
    }
  }
  int64_t sd[2] = {V, 1};
  IrValue *in[2] = {pass_new_const(g, "table.int8", IR_I8, 2, t->dims, q), n->inputs[1]};
  free(q);
  IrNode *gq = add_node(g, IR_OP_GATHER, n->name, "int8", in, 2);
  in[0] = pass_new_const(g, "table.scale", IR_F32, 2, sd, s);
  free(s);
  IrNode *gs = add_node(g, IR_OP_GATHER, n->name, "scale", in, 2);
  IrNode *cast = add_node(g, IR_OP_CAST, n->name, "cast", gq->outputs, 1);
  ir_set_attr_i(g, cast, "to", 1); /* ONNX FLOAT */
  IrValue *prod[2] = {cast->outputs[0], gs->outputs[0]};
  IrNode *mul = ir_node_new(g, IR_OP_MUL, n->name, 2, 1);
  mul->inputs[0] = prod[0];
  mul->inputs[1] = prod[1];
  IrValue *y = n->outputs[0];
  n->outputs[0] = NULL;
  ir_node_set_output(mul, 0, y);
  IrNode *made[4] = {gq, gs, cast, mul};
  for (int i = 0; i < 4; i++)
    if (!ir_op_info[made[i]->op].infer(g, made[i], d)) return false;
  return true;
}

bool pass_quantize_weights(IrGraph *g, const PassOptions *o, IrDiag *d) {
  (void)o;
  int n0 = g->n_nodes;
  /* every rewrite adds at most 4 nodes (a Gather: two Gathers, Cast, Mul) */
  bool *dead = calloc((size_t)(5 * n0 + 1), sizeof *dead), changed = false;
  if (!dead) abort();
  for (int i = 0; i < n0; i++) {
    IrNode *n = g->nodes[i];
    if (n->op == IR_OP_GATHER) {
      if (rewrite_gather(g, n, d)) dead[n->id] = changed = true;
      if (d->n_errors) break;
      continue;
    }
    if (n->op != IR_OP_GEMM && n->op != IR_OP_MATMUL) continue;
    IrNode *w8 = rewrite(g, n);
    if (!w8) continue;
    if (!ir_op_info[w8->op].infer(g, w8, d)) break;
    dead[n->id] = changed = true;
  }
  if (changed) pass_compact(g, dead);
  free(dead);
  return changed && ir_graph_sort(g, d);
}
