/* Weight-only int8 (--quantize=int8-weights, docs/quantization.md): every Gemm (transA 0) and
 * MatMul whose weights B are a 2-D f32 constant becomes a KilnGemmW8 (ir/weight8.c) holding B as
 * int8 per output column, symmetric: scale[j] = max_k |B[k][j]| / 127 (alpha folded in),
 * q = round_half_even(B / scale) in [-127, 127]; a constant C (one value per column, or one)
 * times beta becomes its f32 bias. A Gather from a 2-D f32 constant table along axis 0 (an
 * embedding) reads an int8 table with one scale per row instead:
 * Mul(Cast(Gather(table_i8, ids), f32), Gather(scale[V][1], ids)) -- the same floats as
 * dequantizing the table first. RNN/GRU/LSTM keep their op with W and R int8, one scale per gate
 * row (ir_util.h IR_RECURRENT_W_SCALE); their state h, c stays f32. Activations stay f32; no
 * calibration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir_util.h"
#include "pass.h"

/* Symmetric int8 per line: line i holds w[i*s_line + k*s_elem] (k < len) times alpha;
 * scale[i] = max |.| / 127 (1 for an all-zero line), q = round_half_even(. / scale[i]) in
 * [-127, 127] at the same positions. */
static void quantize_lines(const float *w, int64_t lines, int64_t len, int64_t s_line,
                           int64_t s_elem, float alpha, int8_t *q, float *scale) {
  for (int64_t i = 0; i < lines; i++) {
    float mx = 0;
    for (int64_t k = 0; k < len; k++) mx = fmaxf(mx, fabsf(alpha * w[i * s_line + k * s_elem]));
    float s = mx > 0 ? mx / 127.0f : 1.0f;
    scale[i] = s;
    for (int64_t k = 0; k < len; k++) {
      int64_t at = i * s_line + k * s_elem;
      float r = nearbyintf(alpha * w[at] / s);
      q[at] = (int8_t)(r < -127 ? -127 : r > 127 ? 127 : r);
    }
  }
}

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
    /* column j: B[k][j] (B[j][k] transposed) */
    quantize_lines(b->data, N, K, tb ? K : 1, tb ? 1 : N, alpha, q, scale);
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
  quantize_lines(t->data, V, D, D, 1, 1.0f, q, s);
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

bool pass_weight8_recurrent_applies(const IrNode *n) {
  if (n->op != IR_OP_RNN && n->op != IR_OP_GRU && n->op != IR_OP_LSTM) return false;
  const IrValue *w = n->inputs[1], *r = n->inputs[2];
  return n->n_inputs <= IR_RECURRENT_W_SCALE && w->kind == IR_VALUE_CONST && w->dtype == IR_F32 &&
         !w->quant && r->kind == IR_VALUE_CONST && r->dtype == IR_F32 && !r->quant;
}

bool pass_weight8_recurrent(IrGraph *g, IrNode *n, IrDiag *d) {
  if (!pass_weight8_recurrent_applies(n)) return false;
  IrValue **in = ir_arena_alloc(g->arena, sizeof *in * (IR_RECURRENT_R_SCALE + 1));
  for (int k = 0; k <= IR_RECURRENT_R_SCALE; k++) in[k] = k < n->n_inputs ? n->inputs[k] : NULL;
  for (int k = 1; k <= 2; k++) { /* W, R: one scale per gate row [d][j] */
    const IrValue *v = n->inputs[k];
    int64_t rows = v->dims[0] * v->dims[1], len = v->dims[2];
    int8_t *q = malloc((size_t)(rows * len) + 1);
    float *s = malloc(sizeof *s * (size_t)rows);
    if (!q || !s) abort();
    quantize_lines(v->data, rows, len, len, 1, 1.0f, q, s);
    in[k] = pass_new_const(g, k == 1 ? "W.int8" : "R.int8", IR_I8, 3, v->dims, q);
    in[k == 1 ? IR_RECURRENT_W_SCALE : IR_RECURRENT_R_SCALE] =
        pass_new_const(g, k == 1 ? "W.scale" : "R.scale", IR_F32, 2, v->dims, s);
    free(q);
    free(s);
  }
  n->inputs = in;
  n->n_inputs = IR_RECURRENT_R_SCALE + 1;
  return ir_op_info[n->op].infer(g, n, d);
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
    if (pass_weight8_recurrent(g, n, d)) changed = true;
    if (d->n_errors) break;
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
