/* Pre-quantized models (ONNX QDQ, and QLinearConv / QLinearMatMul, which the ONNX importer writes
 * in QDQ form) onto the int8 kernels (docs/quantization.md, "Pre-quantized ONNX"):
 *
 * 1. u8 activations become i8: a QuantizeLinear with a u8 zero point whose output only
 *    DequantizeLinear nodes read writes q - 128 with zero point zp - 128 instead, and its readers
 *    subtract zp - 128: the same real values, bit for bit.
 * 2. Conv, ConvTranspose (2-D), Gemm and 2-D MatMul whose data input is DQ(i8 activations, per
 * tensor), whose weights are DQ(constant i8, zero point 0, per tensor or per output channel), whose
 * bias is absent, DQ(constant i32, scale x_scale * w_scale) or a float constant, and whose output
 * (after an optional Relu, when the output zero point is -128) only a per-tensor i8 QuantizeLinear
 *    reads, become one QLinearConv / QLinearConvTranspose / QGemm writing that QuantizeLinear's
 *    output (ConvTranspose weights per tensor, or per output channel along axis 1; with groups
 *    the group's scales repeated per output channel).
 *
 * 3. MaxPool, Flatten and Reshape between DQ(i8, per tensor) and a QuantizeLinear of the same
 *    scale and zero point (ONNX Runtime puts Q/DQ around them) run on the int8 values: the max
 *    and the copies commute with the monotonic dequantization, and Q(DQ(q)) = q.
 *
 * 4. Add [-> Relu, when the output zero point is -128], Concat, AveragePool and GlobalAveragePool
 *    whose data inputs are all DQ(i8, per tensor) and whose output only a per-tensor i8
 *    QuantizeLinear reads become QAdd / QConcat / QAveragePool / QGlobalAveragePool with those
 *    parameters (AveragePool only when the QuantizeLinear's parameters are its input's: the
 *    int8 average pool keeps them, as TFLite's). Their integer arithmetic (ir/quant.h) differs
 *    from dequantize-compute-quantize by at most one step on ties and near-ties, as the heads'.
 *
 * Everything else stays as it is: QuantizeLinear / DequantizeLinear around float ops (the fold
 * pass turns a DequantizeLinear of constant weights into float weights). The integer head
 * requantizes with a fixed-point multiplier (ir/quant.h) where the QDQ graph rounds a float
 * product; the two differ by at most one step of the output's scale on rare ties and
 * near-ties. A float bias is quantized to round(b / (x_scale * w_scale)). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pass.h"
#include "quant.h"

static IrNode *producer_of(const IrValue *v, IrOp op) {
  return v && v->kind == IR_VALUE_NODE && v->producer && v->producer->op == op ? v->producer : NULL;
}

/* The only reader of v (NULL if v is a graph output or has another count of readers). */
static IrNode *only_reader(const IrGraph *g, const IrValue *v) {
  if (v->is_output) return NULL;
  IrNode *r = NULL;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i]->n_inputs; k++)
      if (g->nodes[i]->inputs[k] == v) {
        if (r) return NULL;
        r = g->nodes[i];
      }
  return r;
}

/* ---- 1. u8 activations -> i8 ------------------------------------------------------------ */

static IrValue *shifted_zp(IrGraph *g, const IrNode *n) {
  const IrValue *s = n->inputs[1], *z = n->n_inputs > 2 ? n->inputs[2] : NULL;
  int64_t count = ir_value_numel(s);
  int8_t *v = malloc((size_t)count);
  if (!v) abort();
  for (int64_t i = 0; i < count; i++)
    v[i] = (int8_t)((z ? ((const uint8_t *)z->data)[i] : 0) - 128);
  IrValue *r = pass_new_const(g, "zero_point.i8", IR_I8, s->rank, s->dims, v);
  free(v);
  return r;
}

static void set_zp(IrGraph *g, IrNode *n, IrValue *zp) {
  if (n->n_inputs < 3) { /* room for the zero point */
    IrValue **in = ir_arena_alloc(g->arena, sizeof *in * 3);
    memcpy(in, n->inputs, sizeof *in * (size_t)n->n_inputs);
    in[2] = NULL;
    n->inputs = in;
    n->n_inputs = 3;
  }
  n->inputs[2] = zp;
}

static bool u8_to_i8(IrGraph *g) {
  bool changed = false;
  for (int i = 0; i < g->n_nodes; i++) {
    IrNode *q = g->nodes[i];
    IrValue *y = q->outputs[0];
    if (q->op != IR_OP_QUANTIZE_LINEAR || y->dtype != IR_U8 || y->is_output) continue;
    bool only_dq = true;
    for (int j = 0; j < g->n_nodes && only_dq; j++)
      for (int k = 0; k < g->nodes[j]->n_inputs; k++)
        if (g->nodes[j]->inputs[k] == y && (g->nodes[j]->op != IR_OP_DEQUANTIZE_LINEAR || k != 0))
          only_dq = false;
    if (!only_dq) continue;
    for (int j = 0; j < g->n_nodes; j++)
      if (g->nodes[j]->n_inputs > 0 && g->nodes[j]->inputs[0] == y && g->nodes[j] != q)
        set_zp(g, g->nodes[j], shifted_zp(g, g->nodes[j]));
    set_zp(g, q, shifted_zp(g, q));
    y->dtype = IR_I8;
    changed = true;
  }
  return changed;
}

/* ---- 2. DQ -> Conv/Gemm/MatMul [-> Relu] -> Q  =>  QLinearConv / QGemm ------------------ */

typedef struct Match {
  IrNode *head, *relu, *q, *dx, *dw;
  IrValue *bias; /* i32 [channels] or NULL */
  int64_t axis;  /* the weights' output-channel axis */
  bool trans_b;  /* Gemm/MatMul: weights [N][K] */
} Match;

static bool per_tensor_i8(const IrNode *n) {
  return ir_value_numel(n->inputs[1]) == 1 && n->n_inputs > 2 && n->inputs[2] &&
         n->inputs[2]->dtype == IR_I8;
}

/* The weights' scales as one value per output channel (count 1: per tensor) when w's
 * DequantizeLinear is per tensor or per axis `axis`, zero points all 0. */
static bool weight_dq_ok(const IrNode *dw, int64_t axis) {
  const IrValue *w = dw->inputs[0], *s = dw->inputs[1];
  const IrValue *z = dw->n_inputs > 2 ? dw->inputs[2] : NULL;
  if (w->kind != IR_VALUE_CONST || w->dtype != IR_I8) return false;
  if (ir_value_numel(s) > 1) {
    int64_t a = ir_attr_i(dw, "axis");
    if (a < 0) a += w->rank;
    if (a != axis) return false;
  }
  for (int64_t i = 0; z && i < ir_value_numel(z); i++)
    if (((const int8_t *)z->data)[i] != 0) return false;
  return true;
}

/* The bias as i32 (see the file comment), or false when it cannot be. */
static bool bias_i32(IrGraph *g, Match *m, const IrValue *b, int64_t channels) {
  m->bias = NULL;
  if (!b) return true;
  if (ir_value_numel(b) != channels || b->rank > 2 || (b->rank == 2 && b->dims[0] != 1))
    return false;
  float xs = ir_qparam_scale(m->dx, 1);
  const IrValue *ws = m->dw->inputs[1];
  int64_t nws = ir_value_numel(ws);
  int32_t *q = malloc(sizeof *q * (size_t)channels);
  if (!q) abort();
  bool ok = true;
  IrNode *db = producer_of(b, IR_OP_DEQUANTIZE_LINEAR);
  for (int64_t c = 0; c < channels && ok; c++) { /* grouped ConvTranspose: nws = M / group */
    float prod = xs * ((const float *)ws->data)[nws == 1 ? 0 : c % nws];
    if (db) { /* DQ(i32, x_scale * w_scale): the integers themselves */
      const IrValue *bs = db->inputs[1];
      float s = ((const float *)bs->data)[ir_value_numel(bs) == 1 ? 0 : c];
      ok = db->inputs[0]->kind == IR_VALUE_CONST && db->inputs[0]->dtype == IR_I32 &&
           ir_value_numel(db->inputs[0]) == channels && s == prod;
      if (ok) q[c] = ((const int32_t *)db->inputs[0]->data)[c];
    } else if (b->kind == IR_VALUE_CONST && b->dtype == IR_F32) {
      double v = nearbyint((double)((const float *)b->data)[c] / prod);
      ok = fabs(v) < 2147483647.0;
      if (ok) q[c] = (int32_t)v;
    } else {
      ok = false;
    }
  }
  if (ok) m->bias = pass_new_const(g, "bias.i32", IR_I32, 1, &channels, q);
  free(q);
  return ok;
}

static bool match(IrGraph *g, IrNode *n, Match *m) {
  memset(m, 0, sizeof *m);
  m->head = n;
  bool convt = n->op == IR_OP_CONV_TRANSPOSE, conv = n->op == IR_OP_CONV || convt;
  bool gemm = n->op == IR_OP_GEMM;
  if (!conv && !gemm && n->op != IR_OP_MATMUL) return false;
  if (n->n_epilogue) return false;
  m->dx = producer_of(n->inputs[0], IR_OP_DEQUANTIZE_LINEAR);
  m->dw = producer_of(n->inputs[1], IR_OP_DEQUANTIZE_LINEAR);
  if (!m->dx || !m->dw || !per_tensor_i8(m->dx) || m->dx->inputs[0]->dtype != IR_I8) return false;
  const IrValue *w = m->dw->inputs[0];
  int64_t channels;
  if (convt) { /* weights [C, M/group, kh, kw]: per output channel along axis 1 (with groups,
                 one scale per channel of a group, the same in every group: rewrite repeats them
                 per output channel) */
    if (w->rank != 4 || n->inputs[0]->rank != 4) return false;
    int64_t group = ir_attr_i(n, "group");
    if (group < 1) return false;
    m->axis = 1;
    channels = w->dims[1] * group;
  } else if (conv) {
    m->axis = 0;
    channels = w->dims[0];
  } else {
    if (n->inputs[0]->rank != 2 || w->rank != 2) return false;
    if (gemm && (ir_attr_i(n, "transA") != 0 || ir_attr_f(n, "alpha") != 1.0 ||
                 (n->n_inputs > 2 && n->inputs[2] && ir_attr_f(n, "beta") != 1.0)))
      return false;
    m->trans_b = gemm && ir_attr_i(n, "transB") != 0;
    m->axis = m->trans_b ? 0 : 1;
    channels = w->dims[m->axis];
  }
  if (!weight_dq_ok(m->dw, m->axis)) return false;
  /* the output: [Relu ->] a per-tensor i8 QuantizeLinear, its only reader */
  IrValue *y = n->outputs[0];
  IrNode *r = only_reader(g, y);
  if (r && r->op == IR_OP_RELU) {
    m->relu = r;
    r = only_reader(g, r->outputs[0]);
  }
  if (!r || r->op != IR_OP_QUANTIZE_LINEAR || !per_tensor_i8(r) || r->inputs[0] == NULL)
    return false;
  m->q = r;
  if (m->relu && ir_qparam_zp(r, 2) != -128) return false; /* Relu is the saturation only then */
  /* the requantization needs a fixed-point multiplier for every channel */
  float xs = ir_qparam_scale(m->dx, 1), ys = ir_qparam_scale(r, 1);
  const IrValue *ws = m->dw->inputs[1];
  for (int64_t c = 0; c < ir_value_numel(ws); c++) {
    IrRequant rq;
    if (!ir_requant_from_real((double)xs * ((const float *)ws->data)[c] / ys, &rq)) return false;
  }
  return bias_i32(g, m, n->n_inputs > 2 ? n->inputs[2] : NULL, channels);
}

static IrNode *rewrite(IrGraph *g, const Match *m) {
  bool convt = m->head->op == IR_OP_CONV_TRANSPOSE, conv = m->head->op == IR_OP_CONV || convt;
  IrNode *qn = ir_node_new(g,
                           convt  ? IR_OP_QLINEAR_CONV_TRANSPOSE
                           : conv ? IR_OP_QLINEAR_CONV
                                  : IR_OP_QGEMM,
                           m->head->name, 9, 1);
  IrValue *wsv = m->dw->inputs[1];
  int64_t count = ir_value_numel(wsv);
  if (convt && count > 1 && count != m->dw->inputs[0]->dims[1] * ir_attr_i(m->head, "group")) {
    /* grouped, per channel: QLinearConvTranspose's w_scale has one scale per output channel,
     * channel g * M/group + j that of the group's channel j */
    int64_t groups = ir_attr_i(m->head, "group"), total = count * groups;
    float *full = malloc(sizeof *full * (size_t)total);
    if (!full) abort();
    for (int64_t k = 0; k < total; k++) full[k] = ((const float *)wsv->data)[k % count];
    wsv = pass_new_const(g, "w.scale", IR_F32, 1, &total, full);
    free(full);
    count = total;
  }
  int8_t *zeros = calloc((size_t)count, 1);
  if (!zeros) abort();
  IrValue *wz = pass_new_const(g, "w.zero_point", IR_I8, wsv->rank, wsv->dims, zeros);
  free(zeros);
  IrValue *x = m->dx->inputs[0], *xs = m->dx->inputs[1], *xz = m->dx->inputs[2];
  IrValue *w = m->dw->inputs[0];
  IrValue *ys = m->q->inputs[1], *yz = m->q->inputs[2];
  if (conv) {
    qn->attrs = m->head->attrs; /* QLinearConv(Transpose)'s attributes are Conv(Transpose)'s */
    IrValue *ins[9] = {x, xs, xz, w, wsv, wz, ys, yz, m->bias};
    memcpy(qn->inputs, ins, sizeof ins);
  } else { /* QGemm's C is required: zeros without a bias */
    int64_t n_out = w->dims[m->axis];
    IrValue *c = m->bias;
    if (!c) {
      int32_t *z = calloc((size_t)n_out, sizeof *z);
      if (!z) abort();
      c = pass_new_const(g, "bias.i32", IR_I32, 1, &n_out, z);
      free(z);
    }
    ir_set_attr_i(g, qn, "transB", m->trans_b);
    IrValue *ins[9] = {x, xs, xz, w, wsv, wz, c, ys, yz};
    memcpy(qn->inputs, ins, sizeof ins);
  }
  if (conv && !m->bias) qn->n_inputs = 8;
  IrValue *out = m->q->outputs[0];
  m->q->outputs[0] = NULL;
  ir_node_set_output(qn, 0, out);
  return qn;
}

/* 3. DQ -> MaxPool/Flatten/Reshape -> Q with equal parameters: the op on int8. */
static IrNode *int8_view(IrGraph *g, IrNode *n) {
  if (n->op != IR_OP_MAX_POOL && n->op != IR_OP_FLATTEN && n->op != IR_OP_RESHAPE) return NULL;
  if (n->n_epilogue || n->n_outputs != 1) return NULL;
  IrNode *dq = producer_of(n->inputs[0], IR_OP_DEQUANTIZE_LINEAR);
  IrNode *q = only_reader(g, n->outputs[0]);
  if (!dq || !q || q->op != IR_OP_QUANTIZE_LINEAR || !per_tensor_i8(dq) || !per_tensor_i8(q) ||
      dq->inputs[0]->dtype != IR_I8 || ir_qparam_scale(dq, 1) != ir_qparam_scale(q, 1) ||
      ir_qparam_zp(dq, 2) != ir_qparam_zp(q, 2))
    return NULL;
  n->inputs[0] = dq->inputs[0];
  IrValue *out = q->outputs[0];
  q->outputs[0] = NULL;
  ir_node_set_output(n, 0, out);
  return q;
}

/* 4. DQ -> Add [-> Relu] / Concat / AveragePool / GlobalAveragePool -> Q => the int8 op. */
typedef struct Join {
  IrNode *relu, *q;
  IrNode *dq[IR_MAX_VARIADIC];
  int n_dq;
} Join;

static bool match_join(const IrGraph *g, IrNode *n, Join *j) {
  memset(j, 0, sizeof *j);
  if ((n->op != IR_OP_ADD && n->op != IR_OP_CONCAT && n->op != IR_OP_AVERAGE_POOL &&
       n->op != IR_OP_GLOBAL_AVERAGE_POOL) ||
      n->n_epilogue || n->n_outputs != 1 || n->n_inputs < 1 || n->n_inputs > IR_MAX_VARIADIC)
    return false;
  for (int k = 0; k < n->n_inputs; k++) {
    IrNode *dq = producer_of(n->inputs[k], IR_OP_DEQUANTIZE_LINEAR);
    if (!dq || !per_tensor_i8(dq) || dq->inputs[0]->dtype != IR_I8) return false;
    j->dq[j->n_dq++] = dq;
  }
  IrNode *r = only_reader(g, n->outputs[0]);
  if (r && r->op == IR_OP_RELU && n->op == IR_OP_ADD) {
    j->relu = r;
    r = only_reader(g, r->outputs[0]);
  }
  if (!r || r->op != IR_OP_QUANTIZE_LINEAR || !per_tensor_i8(r)) return false;
  j->q = r;
  if (j->relu && ir_qparam_zp(r, 2) != -128) return false; /* Relu is the saturation only then */
  double ys = ir_qparam_scale(r, 1);
  IrRequant rq;
  switch (n->op) {
  case IR_OP_ADD: {
    double sa = ir_qparam_scale(j->dq[0], 1), sb = ir_qparam_scale(j->dq[1], 1);
    double twice = 2 * (sa > sb ? sa : sb);
    return ir_requant_from_real(sa / twice, &rq) && ir_requant_from_real(sb / twice, &rq) &&
           ir_requant_from_real(twice / ((double)(1 << IR_QADD_LEFT_SHIFT) * ys), &rq);
  }
  case IR_OP_CONCAT:
    for (int k = 0; k < j->n_dq; k++)
      if (!ir_requant_from_real(ir_qparam_scale(j->dq[k], 1) / ys, &rq)) return false;
    return true;
  case IR_OP_AVERAGE_POOL: /* 2-D; the output keeps the input's parameters */
    return ir_qparam_scale(j->dq[0], 1) == ir_qparam_scale(r, 1) &&
           ir_qparam_zp(j->dq[0], 2) == ir_qparam_zp(r, 2) && n->inputs[0]->rank == 4 &&
           !ir_pool_dilated(n);
  default: { /* GlobalAveragePool */
    const IrValue *x = n->inputs[0];
    int64_t size = 1;
    for (int i = 2; i < x->rank; i++) size *= x->dims[i];
    return x->rank >= 3 && size <= (1 << 23) &&
           ir_requant_from_real(ir_qparam_scale(j->dq[0], 1) / (ys * (double)size), &rq);
  }
  }
}

static IrNode *rewrite_join(IrGraph *g, IrNode *n, const Join *j) {
  IrValue *ys = j->q->inputs[1], *yz = j->q->inputs[2];
  IrNode *qn;
  if (n->op == IR_OP_CONCAT) {
    qn = ir_node_new(g, IR_OP_QCONCAT, n->name, 2 + 3 * j->n_dq, 1);
    qn->inputs[0] = ys;
    qn->inputs[1] = yz;
    for (int k = 0; k < j->n_dq; k++)
      for (int t = 0; t < 3; t++) qn->inputs[2 + 3 * k + t] = j->dq[k]->inputs[t];
  } else if (n->op == IR_OP_ADD) {
    qn = ir_node_new(g, IR_OP_QADD, n->name, 8, 1);
    for (int k = 0; k < 2; k++)
      for (int t = 0; t < 3; t++) qn->inputs[3 * k + t] = j->dq[k]->inputs[t];
    qn->inputs[6] = ys;
    qn->inputs[7] = yz;
  } else if (n->op == IR_OP_AVERAGE_POOL) {
    qn = ir_node_new(g, IR_OP_QAVERAGE_POOL, n->name, 3, 1);
    for (int t = 0; t < 3; t++) qn->inputs[t] = j->dq[0]->inputs[t];
  } else {
    qn = ir_node_new(g, IR_OP_QGLOBAL_AVERAGE_POOL, n->name, 5, 1);
    for (int t = 0; t < 3; t++) qn->inputs[t] = j->dq[0]->inputs[t];
    qn->inputs[3] = ys;
    qn->inputs[4] = yz;
  }
  qn->attrs = n->attrs; /* Concat's axis, AveragePool's window: the same schemas */
  IrValue *out = j->q->outputs[0];
  j->q->outputs[0] = NULL;
  ir_node_set_output(qn, 0, out);
  return qn;
}

bool pass_qdq(IrGraph *g, const PassOptions *o, IrDiag *d) {
  (void)o;
  bool changed = u8_to_i8(g);
  int n0 = g->n_nodes;
  bool *dead = calloc((size_t)(2 * n0 + 1), sizeof *dead);
  if (!dead) abort();
  for (int i = 0; i < n0; i++) {
    Match m;
    if (dead[i] || !match(g, g->nodes[i], &m)) continue;
    IrNode *qn = rewrite(g, &m);
    if (!ir_op_info[qn->op].infer(g, qn, d)) { /* cannot happen: match checked the parameters */
      free(dead);
      return false;
    }
    dead[m.head->id] = dead[m.q->id] = true;
    if (m.relu) dead[m.relu->id] = true;
    changed = true;
  }
  for (int i = 0; i < n0; i++) {
    Join j;
    if (dead[i] || !match_join(g, g->nodes[i], &j)) continue;
    IrNode *qn = rewrite_join(g, g->nodes[i], &j);
    if (!ir_op_info[qn->op].infer(g, qn, d)) { /* cannot happen: match_join checked */
      free(dead);
      return false;
    }
    dead[i] = dead[j.q->id] = changed = true;
    if (j.relu) dead[j.relu->id] = true;
  }
  for (int i = 0; i < n0; i++) {
    IrNode *q = dead[i] ? NULL : int8_view(g, g->nodes[i]);
    if (!q) continue;
    if (!ir_op_info[g->nodes[i]->op].infer(g, g->nodes[i], d)) {
      free(dead);
      return false;
    }
    dead[q->id] = changed = true;
  }
  if (!changed) {
    free(dead);
    return false;
  }
  pass_compact(g, dead);
  free(dead);
  return ir_graph_sort(g, d);
}
