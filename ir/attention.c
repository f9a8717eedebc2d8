/* KilnAttention: scaled dot-product attention as one op (passes/pass_attention.c makes it from
 * MatMul, scale, mask Add, Softmax, MatMul and the Transposes around heads). Geometry, shape
 * inference and the reference kernel: plain loops that follow the unfused definition (scores in
 * double, a max-subtracted softmax, then the weighted sum of V). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ir_util.h"
#include "kernels.h"
#include "krt.h"

/* Logical strides of an operand of rank 3 or 4 read through perm (length = its rank). */
static bool operand(const IrNode *n, const IrValue *x, const char *attr, int64_t *dims,
                    int64_t *strides, IrDiag *d) {
  const IrAttr *p = ir_attr(n, attr);
  char field[32];
  snprintf(field, sizeof field, "attrs.%s", attr);
  if (x->rank != 3 && x->rank != 4)
    return ir_node_error(d, n, "", "'%s' has rank %d; attention reads rank 3 or 4", x->name,
                         x->rank);
  if (p->count != x->rank)
    return ir_node_error(d, n, field, "expected %d axes, got %d", x->rank, p->count);
  int64_t row[4];
  int64_t acc = 1;
  for (int r = x->rank - 1; r >= 0; r--) row[r] = acc, acc *= x->dims[r];
  unsigned seen = 0;
  int off = 4 - x->rank;
  for (int j = 0; j < off; j++) dims[j] = 1, strides[j] = 0;
  for (int j = 0; j < x->rank; j++) {
    int64_t a = p->ints[j];
    if (a < 0 || a >= x->rank || (seen >> a & 1))
      return ir_node_error(d, n, field, "not a permutation of 0..%d", x->rank - 1);
    seen |= 1u << a;
    dims[off + j] = x->dims[a];
    strides[off + j] = x->dims[a] == 1 ? 0 : row[a];
  }
  return true;
}

bool ir_attention_geometry(const IrNode *n, IrAttention *a, IrDiag *d) {
  const IrValue *q = n->inputs[0], *k = n->inputs[1], *v = n->inputs[2];
  const IrValue *mask = n->n_inputs > 3 ? n->inputs[3] : NULL;
  int64_t qd[4], kd[4], vd[4];
  if (!operand(n, q, "q_perm", qd, a->q, d) || !operand(n, k, "k_perm", kd, a->k, d) ||
      !operand(n, v, "v_perm", vd, a->v, d))
    return false;
  for (int j = 0; j < 2; j++)
    if ((kd[j] != qd[j] && kd[j] != 1) || (vd[j] != qd[j] && vd[j] != 1))
      return ir_node_error(d, n, "", "batch/head dims of K or V do not broadcast to Q's");
  if (kd[3] != qd[3]) return ir_node_error(d, n, "", "Q and K differ in their last dimension");
  if (vd[2] != kd[2]) return ir_node_error(d, n, "", "K and V differ in their sequence length");
  a->n1 = qd[0], a->n2 = qd[1], a->sq = qd[2], a->d = qd[3], a->skv = kd[2], a->dv = vd[3];
  a->scale = ir_attr_f(n, "scale");
  if (!ir_attr_flag(n, "causal", &a->causal, d)) return false;
  a->has_mask = mask != NULL;
  int64_t scores[4] = {a->n1, a->n2, a->sq, a->skv};
  for (int j = 0; j < 4; j++) a->mask[j] = 0;
  if (mask) {
    int rank, bad;
    int64_t dims[IR_MAX_RANK];
    if (mask->rank > 4 || !ir_broadcast_dims(mask->rank, mask->dims, 4, scores, &rank, dims, &bad))
      return ir_node_error(d, n, "inputs[3]", "the mask does not broadcast to the scores");
    for (int j = 0; j < 4; j++)
      if (dims[j] != scores[j])
        return ir_node_error(d, n, "inputs[3]", "the mask is larger than the scores");
    ir_broadcast_strides(mask->rank, mask->dims, 4, scores, a->mask);
  }
  /* output: logical [n1, n2, sq, dv]; out_perm of length 4 (or 3, dropping n1 == 1) */
  const IrAttr *po = ir_attr(n, "out_perm");
  int64_t logical[4] = {a->n1, a->n2, a->sq, a->dv};
  if (po->count != 3 && po->count != 4)
    return ir_node_error(d, n, "attrs.out_perm", "expected 3 or 4 axes, got %d", po->count);
  if (po->count == 3 && a->n1 != 1)
    return ir_node_error(d, n, "attrs.out_perm", "a rank-3 output needs a first dimension of 1");
  a->out_rank = po->count;
  int off = 4 - po->count;
  unsigned seen = 0;
  for (int j = 0; j < po->count; j++) {
    int64_t l = po->ints[j];
    if (l < 0 || l >= po->count || (seen >> l & 1))
      return ir_node_error(d, n, "attrs.out_perm", "not a permutation of 0..%d", po->count - 1);
    seen |= 1u << l;
    a->out_dims[j] = logical[off + l];
  }
  int64_t acc = 1;
  for (int j = 0; j < 4; j++) a->out[j] = 0;
  for (int j = po->count - 1; j >= 0; j--) {
    a->out[off + po->ints[j]] = acc;
    acc *= a->out_dims[j];
  }
  return true;
}

bool ir_infer_attention(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  for (int k = 0; k < n->n_inputs; k++)
    if (n->inputs[k] && n->inputs[k]->dtype != IR_F32)
      return ir_node_error(d, n, "", "attention computes in f32; '%s' is %s", n->inputs[k]->name,
                           ir_dtype_name(n->inputs[k]->dtype));
  IrAttention a;
  if (!ir_attention_geometry(n, &a, d)) return false;
  IrValue *y = n->outputs[0];
  y->dtype = IR_F32;
  y->rank = a.out_rank;
  for (int j = 0; j < a.out_rank; j++) y->dims[j] = a.out_dims[j];
  return true;
}

int ir_interp_attention(const IrNode *n, const void *const *in, void *const *out) {
  IrAttention a;
  if (!ir_attention_geometry(n, &a, NULL)) return KRT_ERR_NULL_ARG; /* inference checked it */
  const float *q = in[0], *k = in[1], *v = in[2], *mask = a.has_mask ? in[3] : NULL;
  float *y = out[0];
  double *p = malloc(sizeof *p * (size_t)(a.skv + 1));
  if (!p) abort();
  for (int64_t b1 = 0; b1 < a.n1; b1++)
    for (int64_t b2 = 0; b2 < a.n2; b2++)
      for (int64_t i = 0; i < a.sq; i++) {
        const float *qi = q + b1 * a.q[0] + b2 * a.q[1] + i * a.q[2];
        int64_t visible = a.causal ? i + 1 + a.skv - a.sq : a.skv;
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < a.skv; j++) {
          const float *kj = k + b1 * a.k[0] + b2 * a.k[1] + j * a.k[2];
          double s = 0;
          for (int64_t e = 0; e < a.d; e++) s += (double)qi[e * a.q[3]] * kj[e * a.k[3]];
          /* the unfused graph rounds the product and the scaled score to f32 */
          s = (float)((float)s * (float)a.scale);
          if (mask)
            s = (float)(s + mask[b1 * a.mask[0] + b2 * a.mask[1] + i * a.mask[2] + j * a.mask[3]]);
          p[j] = j < visible ? s : -INFINITY;
          if (p[j] > mx) mx = p[j];
        }
        for (int64_t j = 0; j < a.skv; j++) sum += p[j] = exp(p[j] - mx);
        for (int64_t e = 0; e < a.dv; e++) {
          double acc = 0;
          for (int64_t j = 0; j < a.skv; j++)
            acc += (float)(p[j] / sum) *
                   (double)v[b1 * a.v[0] + b2 * a.v[1] + j * a.v[2] + e * a.v[3]];
          y[b1 * a.out[0] + b2 * a.out[1] + i * a.out[2] + e * a.out[3]] = (float)acc;
        }
      }
  free(p);
  return KRT_OK;
}
