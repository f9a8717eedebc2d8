/* int8 ops: QuantizeLinear, DequantizeLinear (ONNX), QLinearConv (ONNX) and QGemm (ONNX Runtime's
 * com.microsoft QGemm: Gemm with an int32 bias C), their shape inference and reference kernels.
 * Kiln's int8 is signed (i8) with symmetric weights (zero point 0), one (scale, zero point) per
 * tensor for activations and per output channel for weights; every quant parameter is a
 * constant input, checked here with the node's path. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_params.h"
#include "ir_util.h"
#include "kernels.h"
#include "krt.h"
#include "quant.h"

bool ir_requant_from_real(double m, IrRequant *r) {
  if (!(m > 0) || m >= 1073741824.0) return false;
  int e;
  double frac = frexp(m, &e); /* m = frac * 2^e, frac in [0.5, 1) */
  int64_t q = llround(frac * 2147483648.0);
  if (q == ((int64_t)1 << 31)) {
    q /= 2;
    e++;
  }
  r->shift = 31 - e;
  r->mult = (int32_t)q;
  if (r->shift > 62) { /* below 2^-31: every int32 accumulator requantizes to 0 */
    r->shift = 62;
    r->mult = 0;
  }
  return r->shift >= 1;
}

/* ---- checking quant inputs ------------------------------------------------------------- */

/* Input k: a constant f32 tensor of `count` positive finite scales (count 1: a scalar). */
static bool check_scales(const IrNode *n, int k, int64_t count, IrDiag *d) {
  const IrValue *v = n->inputs[k];
  char field[32], s[256];
  snprintf(field, sizeof field, "inputs[%d]", k);
  if (!v) return ir_node_error(d, n, field, "required input (a scale) is missing");
  if (v->kind != IR_VALUE_CONST || v->dtype != IR_F32)
    return ir_node_error(d, n, field, "scale '%s' must be an f32 initializer", v->name);
  int64_t numel = ir_value_numel(v);
  if (count == 1 ? !(v->rank == 0 || (v->rank == 1 && numel == 1))
                 : !(v->rank == 0 || (v->rank == 1 && (numel == 1 || numel == count))))
    return count == 1
               ? ir_node_error(d, n, field, "scale must be a scalar, got shape %s",
                               ir_format_dims(v->rank, v->dims, s, sizeof s))
               : ir_node_error(d, n, field,
                               "scale must hold 1 value or %lld (one per "
                               "output channel), got shape %s",
                               (long long)count, ir_format_dims(v->rank, v->dims, s, sizeof s));
  const float *f = v->data;
  for (int64_t i = 0; i < numel; i++)
    if (!(f[i] > 0) || !isfinite(f[i]))
      return ir_node_error(d, n, field, "scale[%lld] must be a positive finite number, got %g",
                           (long long)i, (double)f[i]);
  return true;
}

/* Input k (optional where allowed): constant i8 zero points, as many as scale input ks has. */
static bool check_zero_points(const IrNode *n, int k, int ks, bool must_be_zero, IrDiag *d) {
  const IrValue *v = k < n->n_inputs ? n->inputs[k] : NULL;
  char field[32], s[256];
  snprintf(field, sizeof field, "inputs[%d]", k);
  if (!v) return true; /* absent: zero */
  if (v->kind != IR_VALUE_CONST || v->dtype != IR_I8)
    return ir_node_error(d, n, field,
                         "zero point '%s' must be an i8 initializer (Kiln's int8 "
                         "is signed), got %s%s",
                         v->name, v->kind == IR_VALUE_CONST ? "" : "a computed ",
                         ir_dtype_name(v->dtype));
  int64_t numel = ir_value_numel(v), scales = ir_value_numel(n->inputs[ks]);
  if (v->rank > 1 || numel != scales)
    return ir_node_error(d, n, field, "%lld zero point%s (shape %s) for %lld scale%s",
                         (long long)numel, numel == 1 ? "" : "s",
                         ir_format_dims(v->rank, v->dims, s, sizeof s), (long long)scales,
                         scales == 1 ? "" : "s");
  const int8_t *z = v->data;
  for (int64_t i = 0; i < numel && must_be_zero; i++)
    if (z[i] != 0)
      return ir_node_error(d, n, field,
                           "weight zero point[%lld] must be 0 (symmetric weights), "
                           "got %d",
                           (long long)i, z[i]);
  return true;
}

float ir_qparam_scale(const IrNode *n, int k) { return *(const float *)n->inputs[k]->data; }

int32_t ir_qparam_zp(const IrNode *n, int k) {
  const IrValue *v = k < n->n_inputs ? n->inputs[k] : NULL;
  return v ? *(const int8_t *)v->data : 0;
}

static bool check_input_dtype(const IrNode *n, int k, IrDType t, IrDiag *d) {
  const IrValue *v = n->inputs[k];
  char field[32];
  snprintf(field, sizeof field, "inputs[%d]", k);
  if (!v) return ir_node_error(d, n, field, "required input is missing");
  if (v->dtype != t)
    return ir_node_error(d, n, field, "%s expects %s here, got %s", ir_op_info[n->op].name,
                         ir_dtype_name(t), ir_dtype_name(v->dtype));
  return true;
}

static bool check_arity(const IrNode *n, IrDiag *d) {
  const IrOpInfo *info = &ir_op_info[n->op];
  if (n->n_inputs < info->min_inputs || n->n_inputs > info->max_inputs)
    return ir_node_error(d, n, "inputs", "%s expects %d to %d inputs, got %d", info->name,
                         info->min_inputs, info->max_inputs, n->n_inputs);
  if (n->n_outputs != 1 || !n->outputs[0])
    return ir_node_error(d, n, "outputs", "%s has exactly one output", info->name);
  return true;
}

static void set_out(IrNode *n, IrDType t, int rank, const int64_t *dims) {
  IrValue *v = n->outputs[0];
  v->dtype = t;
  v->rank = rank;
  memset(v->dims, 0, sizeof v->dims);
  for (int i = 0; i < rank; i++) v->dims[i] = dims[i];
}

/* The scale ratio of every channel must have a fixed-point form. */
static bool check_requant(const IrNode *n, IrDiag *d) {
  IrQHead h;
  ir_qhead(n, &h);
  IrRequant r;
  for (int64_t m = 0; m < h.channels; m++) {
    float ws = h.w_scale[h.w_scale_count == 1 ? 0 : m];
    if (!ir_requant_from_real((double)h.x_scale * ws / h.y_scale, &r))
      return ir_node_error(d, n, "inputs",
                           "channel %lld: input scale x weight scale / output "
                           "scale = %g is too large (at most 2^30)",
                           (long long)m, (double)h.x_scale * ws / h.y_scale);
  }
  return true;
}

/* ---- QuantizeLinear / DequantizeLinear ------------------------------------------------------
 * ONNX's forms: per tensor (a scalar scale) or per axis (a 1-D scale of dims[axis] values), i8 or
 * u8 (the zero point's dtype; QuantizeLinear without one writes u8), DequantizeLinear also of i32
 * (zero point 0). The kernels of the common case (per tensor, i8) are codegen/cg_quant.c's, the
 * others codegen/cg_qdq.c's. */

/* The axis of a per-axis node (1-D scale of more than one value), -1 per tensor; false with an
 * error when the scale's length or the axis does not fit x. */
static bool qdq_axis(const IrNode *n, IrDiag *d, int *axis_out) {
  const IrValue *x = n->inputs[0], *s = n->inputs[1];
  char shown[256];
  *axis_out = -1;
  if (s->rank == 0 || (s->rank == 1 && s->dims[0] == 1)) return true;
  if (s->rank != 1)
    return ir_node_error(d, n, "inputs[1]", "scale must be a scalar or 1-D, got shape %s",
                         ir_format_dims(s->rank, s->dims, shown, sizeof shown));
  int64_t axis = ir_attr_i(n, "axis");
  if (axis < -x->rank || axis >= x->rank)
    return ir_node_error(d, n, "attrs.axis", "axis %lld is out of range for rank %d",
                         (long long)axis, x->rank);
  if (axis < 0) axis += x->rank;
  if (x->dims[axis] != s->dims[0])
    return ir_node_error(d, n, "inputs[1]",
                         "%lld scales for axis %lld of %s (one per element of the axis)",
                         (long long)s->dims[0], (long long)axis,
                         ir_format_dims(x->rank, x->dims, shown, sizeof shown));
  *axis_out = (int)axis;
  return true;
}

/* Scales (input 1) and zero points (input 2, optional, dtype zt or any of i8/u8 when zt is
 * IR_DTYPE_COUNT): constants of the same count, scales positive and finite. */
static bool check_qdq_params(const IrNode *n, IrDType zt, IrDiag *d) {
  const IrValue *s = n->inputs[1];
  if (!s) return ir_node_error(d, n, "inputs[1]", "required input (a scale) is missing");
  if (!check_scales(n, 1, ir_value_numel(s), d)) return false;
  const IrValue *z = n->n_inputs > 2 ? n->inputs[2] : NULL;
  if (!z) return true;
  char shown[256];
  if (z->kind != IR_VALUE_CONST)
    return ir_node_error(d, n, "inputs[2]", "zero point '%s' must be an initializer", z->name);
  if (zt == IR_DTYPE_COUNT ? z->dtype != IR_I8 && z->dtype != IR_U8 : z->dtype != zt)
    return ir_node_error(d, n, "inputs[2]", "zero point '%s' must be %s, got %s", z->name,
                         zt == IR_DTYPE_COUNT ? "i8 or u8" : ir_dtype_name(zt),
                         ir_dtype_name(z->dtype));
  if (z->rank > 1 || ir_value_numel(z) != ir_value_numel(s))
    return ir_node_error(d, n, "inputs[2]", "%lld zero points (shape %s) for %lld scales",
                         (long long)ir_value_numel(z),
                         ir_format_dims(z->rank, z->dims, shown, sizeof shown),
                         (long long)ir_value_numel(s));
  if (z->dtype == IR_I32)
    for (int64_t i = 0; i < ir_value_numel(z); i++)
      if (((const int32_t *)z->data)[i] != 0)
        return ir_node_error(d, n, "inputs[2]", "an i32 zero point must be 0, got %d",
                             ((const int32_t *)z->data)[i]);
  return true;
}

void ir_qdq(const IrNode *n, IrQdq *q) {
  const IrValue *x = n->inputs[0], *s = n->inputs[1];
  const IrValue *z = n->n_inputs > 2 ? n->inputs[2] : NULL;
  bool quantize = n->op == IR_OP_QUANTIZE_LINEAR;
  q->q_dtype = quantize ? (z ? z->dtype : IR_U8) : x->dtype;
  q->scale = s->data;
  q->zp = z ? z->data : NULL;
  q->channels = ir_value_numel(s);
  q->inner = 1;
  q->numel = ir_value_numel(x);
  if (q->channels > 1) {
    int64_t axis = ir_attr_i(n, "axis");
    if (axis < 0) axis += x->rank;
    for (int i = (int)axis + 1; i < x->rank; i++) q->inner *= x->dims[i];
  }
}

int32_t ir_qdq_zp(const IrQdq *q, int64_t c) {
  if (!q->zp) return 0;
  switch (q->q_dtype) {
  case IR_I8: return ((const int8_t *)q->zp)[c];
  case IR_U8: return ((const uint8_t *)q->zp)[c];
  default: return ((const int32_t *)q->zp)[c];
  }
}

bool ir_qdq_is_simple(const IrNode *n) {
  return n->inputs[1] && ir_value_numel(n->inputs[1]) == 1 && n->n_inputs > 2 && n->inputs[2] &&
         n->inputs[2]->dtype == IR_I8;
}

bool ir_infer_quantize_linear(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  int axis;
  if (!check_arity(n, d) || !check_input_dtype(n, 0, IR_F32, d) ||
      !check_qdq_params(n, IR_DTYPE_COUNT, d) || !qdq_axis(n, d, &axis))
    return false;
  const IrValue *z = n->n_inputs > 2 ? n->inputs[2] : NULL;
  set_out(n, z ? z->dtype : IR_U8, n->inputs[0]->rank, n->inputs[0]->dims);
  return true;
}

bool ir_infer_dequantize_linear(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  int axis;
  if (!check_arity(n, d)) return false;
  const IrValue *x = n->inputs[0];
  if (!x) return ir_node_error(d, n, "inputs[0]", "required input is missing");
  if (x->dtype != IR_I8 && x->dtype != IR_U8 && x->dtype != IR_I32)
    return ir_node_error(d, n, "inputs[0]", "DequantizeLinear expects i8, u8 or i32, got %s",
                         ir_dtype_name(x->dtype));
  if (!check_qdq_params(n, x->dtype, d) || !qdq_axis(n, d, &axis)) return false;
  set_out(n, IR_F32, x->rank, x->dims);
  return true;
}

int ir_interp_quantize_linear(const IrNode *n, const void *const *in, void *const *out) {
  const float *x = in[0];
  IrQdq q;
  ir_qdq(n, &q);
  for (int64_t i = 0; i < q.numel; i++) {
    int64_t c = (i / q.inner) % q.channels;
    int32_t zp = ir_qdq_zp(&q, c);
    if (q.q_dtype == IR_U8)
      ((uint8_t *)out[0])[i] = ir_quantize_u8(x[i], q.scale[c], zp);
    else
      ((int8_t *)out[0])[i] = ir_quantize_f32(x[i], q.scale[c], zp);
  }
  return KRT_OK;
}

int ir_interp_dequantize_linear(const IrNode *n, const void *const *in, void *const *out) {
  float *y = out[0];
  IrQdq q;
  ir_qdq(n, &q);
  for (int64_t i = 0; i < q.numel; i++) {
    int64_t c = (i / q.inner) % q.channels;
    int32_t v = q.q_dtype == IR_I8   ? ((const int8_t *)in[0])[i]
                : q.q_dtype == IR_U8 ? ((const uint8_t *)in[0])[i]
                                     : ((const int32_t *)in[0])[i];
    /* (float)(q - zp) * scale, as ir_dequantize_i8; i32 has zero point 0 */
    y[i] = (float)(v - ir_qdq_zp(&q, c)) * q.scale[c];
  }
  return KRT_OK;
}

/* ---- DynamicQuantizeLinear: x f32 -> y u8, y_scale f32 [], y_zero_point u8 [] ----------- */

bool ir_infer_dynamic_quantize_linear(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (n->n_inputs != 1 || n->n_outputs != 3)
    return ir_node_error(d, n, "outputs", "DynamicQuantizeLinear takes one input, three outputs");
  if (!check_input_dtype(n, 0, IR_F32, d)) return false;
  const IrValue *x = n->inputs[0];
  static const IrDType types[3] = {IR_U8, IR_F32, IR_U8};
  for (int k = 0; k < 3; k++) {
    IrValue *v = n->outputs[k];
    if (!v) continue;
    v->dtype = types[k];
    v->rank = k ? 0 : x->rank;
    memset(v->dims, 0, sizeof v->dims);
    for (int i = 0; i < v->rank; i++) v->dims[i] = x->dims[i];
  }
  return true;
}

/* The ONNX definition: the range includes 0, y = saturate(round(x / scale) + zero point). NaN
 * elements do not widen the range (the comparisons are false) and quantize to 0. */
int ir_interp_dynamic_quantize_linear(const IrNode *n, const void *const *in, void *const *out) {
  const float *x = in[0];
  int64_t numel = ir_value_numel(n->inputs[0]);
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < numel; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  float scale = ir_dynamic_scale(lo, hi);
  uint8_t zp = ir_quantize_u8(-lo, scale, 0);
  if (out[0])
    for (int64_t i = 0; i < numel; i++) ((uint8_t *)out[0])[i] = ir_quantize_u8(x[i], scale, zp);
  if (out[1]) *(float *)out[1] = scale;
  if (out[2]) *(uint8_t *)out[2] = zp;
  return KRT_OK;
}

/* ---- QAdd / QMul: A, a_scale, a_zp, B, b_scale, b_zp, y_scale, y_zp (same shapes) -------- */

bool ir_qbinary(const IrNode *n, IrQBinary *p) {
  double sa = ir_qparam_scale(n, 1), sb = ir_qparam_scale(n, 4), sy = ir_qparam_scale(n, 6);
  p->a_zp = ir_qparam_zp(n, 2);
  p->b_zp = ir_qparam_zp(n, 5);
  p->y_zp = ir_qparam_zp(n, 7);
  p->mul = n->op == IR_OP_QMUL;
  p->rb = p->ry = (IrRequant){0, 62};
  if (p->mul) return ir_requant_from_real(sa * sb / sy, &p->ra);
  double twice = 2 * (sa > sb ? sa : sb);
  return ir_requant_from_real(sa / twice, &p->ra) && ir_requant_from_real(sb / twice, &p->rb) &&
         ir_requant_from_real(twice / ((double)(1 << IR_QADD_LEFT_SHIFT) * sy), &p->ry);
}

static bool infer_qbinary(IrNode *n, IrDiag *d) {
  if (!check_arity(n, d) || !check_input_dtype(n, 0, IR_I8, d) ||
      !check_input_dtype(n, 3, IR_I8, d))
    return false;
  for (int k = 1; k < 6; k += 3) /* a_scale, a_zp; b_scale, b_zp */
    if (!check_scales(n, k, 1, d) || !check_zero_points(n, k + 1, k, false, d)) return false;
  if (!check_scales(n, 6, 1, d) || !check_zero_points(n, 7, 6, false, d)) return false;
  const IrValue *a = n->inputs[0], *b = n->inputs[3];
  int rank, bad;
  int64_t dims[IR_MAX_RANK];
  if (!ir_broadcast_dims(a->rank, a->dims, b->rank, b->dims, &rank, dims, &bad)) {
    char sa[256], sb[256];
    return ir_node_error(d, n, "inputs[3]", "shapes %s and %s do not broadcast (axis %d)",
                         ir_format_dims(a->rank, a->dims, sa, sizeof sa),
                         ir_format_dims(b->rank, b->dims, sb, sizeof sb), bad);
  }
  IrQBinary p;
  if (!ir_qbinary(n, &p))
    return ir_node_error(d, n, "inputs",
                         "the scales' ratio has no fixed-point form (at most 2^30)");
  set_out(n, IR_I8, rank, dims);
  return true;
}

bool ir_infer_qadd(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_qbinary(n, d);
}
bool ir_infer_qmul(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_qbinary(n, d);
}

static int interp_qbinary(const IrNode *n, const void *const *in, void *const *out) {
  IrQBinary p;
  bool ok = ir_qbinary(n, &p);
  assert(ok && "shape inference checked the multipliers");
  (void)ok;
  const int8_t *a = in[0], *b = in[3];
  int8_t *y = out[0];
  const IrValue *vy = n->outputs[0], *va = n->inputs[0], *vb = n->inputs[3];
  int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], count = ir_value_numel(vy);
  ir_broadcast_strides(va->rank, va->dims, vy->rank, vy->dims, sa);
  ir_broadcast_strides(vb->rank, vb->dims, vy->rank, vy->dims, sb);
  for (int64_t i = 0; i < count; i++)
    y[i] = ir_qbinary_apply(&p, a[ir_broadcast_offset(i, vy->rank, vy->dims, sa)],
                            b[ir_broadcast_offset(i, vy->rank, vy->dims, sb)]);
  return KRT_OK;
}

/* ---- QLookup: y = table[x + 128] (a 256-entry i8 initializer) ------------------------------ */

bool ir_infer_qlookup(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!check_arity(n, d) || !check_input_dtype(n, 0, IR_I8, d)) return false;
  const IrValue *t = n->inputs[1];
  if (t->kind != IR_VALUE_CONST || t->dtype != IR_I8 || ir_value_numel(t) != 256)
    return ir_node_error(d, n, "inputs[1]", "table '%s' must be an i8 initializer of 256 values",
                         t->name);
  set_out(n, IR_I8, n->inputs[0]->rank, n->inputs[0]->dims);
  return true;
}

int ir_interp_qlookup(const IrNode *n, const void *const *in, void *const *out) {
  const int8_t *x = in[0], *t = n->inputs[1]->data;
  int8_t *y = out[0];
  int64_t count = ir_value_numel(n->outputs[0]);
  for (int64_t i = 0; i < count; i++) y[i] = t[x[i] + 128];
  return KRT_OK;
}

/* ---- QGlobalAveragePool: x, x_scale, x_zp, y_scale, y_zp ----------------------------------
 * y = saturate(y_zp + R(sum of (x - x_zp) over the plane, x_scale / (y_scale * size))) */

bool ir_qgap_requant(const IrNode *n, IrRequant *r) {
  const IrValue *x = n->inputs[0];
  int64_t size = 1;
  for (int i = 2; i < x->rank; i++) size *= x->dims[i];
  return ir_requant_from_real(
      (double)ir_qparam_scale(n, 1) / ((double)ir_qparam_scale(n, 3) * (double)size), r);
}

bool ir_infer_qglobal_average_pool(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!check_arity(n, d) || !check_input_dtype(n, 0, IR_I8, d) || !check_scales(n, 1, 1, d) ||
      !check_zero_points(n, 2, 1, false, d) || !check_scales(n, 3, 1, d) ||
      !check_zero_points(n, 4, 3, false, d))
    return false;
  const IrValue *x = n->inputs[0];
  if (x->rank < 3)
    return ir_node_error(d, n, "inputs[0]", "expects [N, C, spatial...], got rank %d", x->rank);
  int64_t size = 1;
  for (int i = 2; i < x->rank; i++) size *= x->dims[i];
  IrRequant r;
  if (size > (1 << 23) || !ir_qgap_requant(n, &r))
    return ir_node_error(d, n, "inputs",
                         "the plane (%lld values) or the scales' ratio is too large for "
                         "32-bit sums",
                         (long long)size);
  int64_t dims[IR_MAX_RANK];
  for (int i = 0; i < x->rank; i++) dims[i] = i < 2 ? x->dims[i] : 1;
  set_out(n, IR_I8, x->rank, dims);
  return true;
}

int ir_interp_qglobal_average_pool(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *v = n->inputs[0];
  int64_t planes = v->dims[0] * v->dims[1], size = 1;
  for (int i = 2; i < v->rank; i++) size *= v->dims[i];
  IrRequant r;
  bool ok = ir_qgap_requant(n, &r);
  assert(ok);
  (void)ok;
  int32_t xz = ir_qparam_zp(n, 2), yz = ir_qparam_zp(n, 4);
  const int8_t *x = in[0];
  int8_t *y = out[0];
  for (int64_t i = 0; i < planes; i++) {
    int32_t sum = 0;
    for (int64_t j = 0; j < size; j++) sum += x[i * size + j] - xz;
    y[i] = (int8_t)ir_requant_apply(sum, r, yz, -128, 127);
  }
  return KRT_OK;
}

/* ---- QConcat: y_scale, y_zp, then (x, x_scale, x_zp) per input; attribute axis ------------- */

bool ir_qconcat_input(const IrNode *n, int k, IrQConcatIn *q) {
  float xs = ir_qparam_scale(n, 3 + 3 * k), ys = ir_qparam_scale(n, 0);
  q->x_zp = ir_qparam_zp(n, 4 + 3 * k);
  q->copy = xs == ys && q->x_zp == ir_qparam_zp(n, 1);
  q->r = (IrRequant){0, 62};
  return q->copy || ir_requant_from_real((double)xs / ys, &q->r);
}

/* Concat's geometry over the data inputs: outer blocks, each input's block of bytes */
static int64_t qconcat_axis(const IrNode *n) {
  int64_t axis = ir_attr_i(n, "axis"), rank = n->inputs[2]->rank;
  return axis < 0 ? axis + rank : axis;
}

bool ir_infer_qconcat(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!check_arity(n, d)) return false;
  if ((n->n_inputs - 2) % 3 != 0)
    return ir_node_error(d, n, "inputs",
                         "QConcat takes y_scale, y_zero_point, then (x, x_scale, x_zero_point) "
                         "triples: %d inputs",
                         n->n_inputs);
  if (!check_scales(n, 0, 1, d) || !check_zero_points(n, 1, 0, false, d)) return false;
  int n_data = (n->n_inputs - 2) / 3;
  for (int k = 0; k < n_data; k++)
    if (!check_input_dtype(n, 2 + 3 * k, IR_I8, d) || !check_scales(n, 3 + 3 * k, 1, d) ||
        !check_zero_points(n, 4 + 3 * k, 3 + 3 * k, false, d))
      return false;
  const IrValue *x = n->inputs[2];
  char field[32], s1[256], s2[256];
  if (x->rank == 0) return ir_node_error(d, n, "inputs[2]", "QConcat cannot join scalars");
  int64_t axis = ir_attr_i(n, "axis");
  if (axis < -x->rank || axis >= x->rank)
    return ir_node_error(d, n, "attrs.axis", "axis %lld is out of range for rank %d",
                         (long long)axis, x->rank);
  axis = qconcat_axis(n);
  int64_t dims[IR_MAX_RANK];
  memcpy(dims, x->dims, sizeof dims);
  for (int k = 1; k < n_data; k++) {
    const IrValue *v = n->inputs[2 + 3 * k];
    bool ok = v->rank == x->rank;
    for (int i = 0; ok && i < x->rank; i++) ok = i == axis || v->dims[i] == x->dims[i];
    snprintf(field, sizeof field, "inputs[%d]", 2 + 3 * k);
    if (!ok)
      return ir_node_error(d, n, field, "shape %s does not match inputs[2] %s outside axis %lld",
                           ir_format_dims(v->rank, v->dims, s1, sizeof s1),
                           ir_format_dims(x->rank, x->dims, s2, sizeof s2), (long long)axis);
    dims[axis] += v->dims[axis];
  }
  for (int k = 0; k < n_data; k++) {
    IrQConcatIn q;
    snprintf(field, sizeof field, "inputs[%d]", 3 + 3 * k);
    if (!ir_qconcat_input(n, k, &q))
      return ir_node_error(d, n, field, "x_scale / y_scale has no fixed-point form (at most 2^30)");
  }
  set_out(n, IR_I8, x->rank, dims);
  return true;
}

int ir_interp_qconcat(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *o = n->outputs[0];
  int64_t axis = qconcat_axis(n), outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= o->dims[i];
  for (int i = (int)axis + 1; i < o->rank; i++) inner *= o->dims[i];
  int32_t yz = ir_qparam_zp(n, 1);
  int8_t *y = out[0];
  int64_t at = 0, out_block = o->dims[axis] * inner;
  for (int k = 0; 2 + 3 * k < n->n_inputs; k++) {
    IrQConcatIn q;
    bool ok = ir_qconcat_input(n, k, &q);
    assert(ok);
    (void)ok;
    const int8_t *x = in[2 + 3 * k];
    int64_t block = n->inputs[2 + 3 * k]->dims[axis] * inner;
    for (int64_t i = 0; i < outer; i++)
      for (int64_t j = 0; j < block; j++)
        y[i * out_block + at + j] = ir_qconcat_apply(&q, yz, x[i * block + j]);
    at += block;
  }
  return KRT_OK;
}

/* ---- QAveragePool: x, x_scale, x_zp; AveragePool's attributes ------------------------------ */

void ir_qpool_as_pool(const IrNode *q, IrNode *tmp, IrValue **ins) {
  *tmp = *q;
  tmp->op = IR_OP_AVERAGE_POOL;
  ins[0] = q->inputs[0];
  tmp->inputs = ins;
  tmp->n_inputs = 1;
  tmp->n_epilogue = tmp->n_epilogue_inputs = 0;
}

bool ir_pool_dilated(const IrNode *n) {
  const IrAttr *a = ir_attr(n, "dilations");
  for (int k = 0; a->present && k < a->count; k++)
    if (a->ints[k] != 1) return true;
  return false;
}

bool ir_infer_qaverage_pool(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!check_arity(n, d) || !check_input_dtype(n, 0, IR_I8, d) || !check_scales(n, 1, 1, d) ||
      !check_zero_points(n, 2, 1, false, d))
    return false;
  char s[256];
  if (n->inputs[0]->rank != 4)
    return ir_node_error(d, n, "inputs[0]", "QAveragePool is 2-D: expects [N, C, H, W], got %s",
                         ir_format_dims(n->inputs[0]->rank, n->inputs[0]->dims, s, sizeof s));
  if (ir_pool_dilated(n)) /* ir_avg_pool_window's windows are contiguous */
    return ir_node_error(d, n, "attrs.dilations",
                         "QAveragePool takes no dilations (all must be 1)");
  IrConvParams p;
  if (!ir_q_conv_params(n, &p, d)) return false;
  if (p.kh * p.kw > (1 << 23))
    return ir_node_error(d, n, "attrs.kernel_shape", "window of %lld values is too large",
                         (long long)(p.kh * p.kw));
  set_out(n, IR_I8, 4, (int64_t[]){p.n, p.c, p.oh, p.ow});
  return true;
}

/* The window rule of ir_interp_average_pool (PyTorch's divisor), on integers. */
int ir_interp_qaverage_pool(const IrNode *n, const void *const *in, void *const *out) {
  IrConvParams p = ir_q_conv_checked(n);
  int32_t zp = ir_qparam_zp(n, 2);
  const int8_t *x = in[0];
  int8_t *y = out[0];
  for (int64_t bc = 0; bc < p.n * p.c; bc++)
    for (int64_t oh = 0; oh < p.oh; oh++)
      for (int64_t ow = 0; ow < p.ow; ow++) {
        IrPoolWindow w;
        ir_avg_pool_window(&p, oh, ow, &w);
        int32_t sum = 0;
        for (int64_t ih = w.h0; ih < w.h1; ih++)
          for (int64_t iw = w.w0; iw < w.w1; iw++) sum += x[(bc * p.h + ih) * p.w + iw];
        if (p.count_include_pad) /* padding is the quantized 0 */
          sum += (int32_t)(w.padded - (w.h1 - w.h0) * (w.w1 - w.w0)) * zp;
        y[(bc * p.oh + oh) * p.ow + ow] = ir_qavg_divide(sum, (int32_t)w.count);
      }
  return KRT_OK;
}

int ir_interp_qadd(const IrNode *n, const void *const *in, void *const *out) {
  return interp_qbinary(n, in, out);
}
int ir_interp_qmul(const IrNode *n, const void *const *in, void *const *out) {
  return interp_qbinary(n, in, out);
}

/* ---- quantized heads -------------------------------------------------------------------- */

enum { QC_X, QC_XS, QC_XZ, QC_W, QC_WS, QC_WZ, QC_YS, QC_YZ, QC_B }; /* QLinearConv */
enum { QG_A, QG_AS, QG_AZ, QG_B, QG_BS, QG_BZ, QG_C, QG_YS, QG_YZ }; /* QGemm */

void ir_qhead(const IrNode *n, IrQHead *h) {
  bool convt = n->op == IR_OP_QLINEAR_CONV_TRANSPOSE, conv = n->op == IR_OP_QLINEAR_CONV || convt;
  int xs = conv ? QC_XS : QG_AS, ws = conv ? QC_WS : QG_BS, ys = conv ? QC_YS : QG_YS;
  int b = conv ? QC_B : QG_C;
  const IrValue *w = n->inputs[conv ? QC_W : QG_B];
  h->channels = convt                    ? w->dims[1] * ir_attr_i(n, "group")
                : conv                   ? w->dims[0]
                : ir_attr_i(n, "transB") ? w->dims[0]
                                         : w->dims[1];
  h->x_scale = ir_qparam_scale(n, xs);
  h->x_zp = ir_qparam_zp(n, xs + 1);
  h->y_scale = ir_qparam_scale(n, ys);
  h->y_zp = ir_qparam_zp(n, ys + 1);
  h->w_scale = n->inputs[ws]->data;
  h->w_scale_count = ir_value_numel(n->inputs[ws]);
  const IrValue *bv = b < n->n_inputs ? n->inputs[b] : NULL;
  h->bias = bv ? bv->data : NULL;
}

IrRequant ir_qhead_requant(const IrQHead *h, int64_t channel) {
  IrRequant r = {0, 62};
  float ws = h->w_scale[h->w_scale_count == 1 ? 0 : channel];
  bool ok = ir_requant_from_real((double)h->x_scale * ws / h->y_scale, &r);
  assert(ok && "shape inference checks every channel's multiplier");
  (void)ok;
  return r;
}

void ir_qconv_as_conv(const IrNode *q, IrNode *tmp, IrValue **ins) {
  *tmp = *q;
  tmp->op = q->op == IR_OP_QLINEAR_CONV_TRANSPOSE ? IR_OP_CONV_TRANSPOSE : IR_OP_CONV;
  ins[0] = q->inputs[QC_X];
  ins[1] = q->inputs[QC_W];
  ins[2] = q->n_inputs > QC_B ? q->inputs[QC_B] : NULL;
  tmp->inputs = ins;
  tmp->n_inputs = ins[2] ? 3 : 2;
  tmp->n_epilogue = tmp->n_epilogue_inputs = 0;
}

/* bias input k: optional constant i32 [channels] */
static bool check_bias(const IrNode *n, int k, int64_t channels, IrDiag *d) {
  const IrValue *v = k < n->n_inputs ? n->inputs[k] : NULL;
  char field[32], s[256];
  snprintf(field, sizeof field, "inputs[%d]", k);
  if (!v) return true;
  if (v->kind != IR_VALUE_CONST || v->dtype != IR_I32 || v->rank != 1 || v->dims[0] != channels)
    return ir_node_error(d, n, field,
                         "bias '%s' must be an i32 initializer of shape [%lld], got "
                         "%s%s %s",
                         v->name, (long long)channels,
                         v->kind == IR_VALUE_CONST ? "" : "a computed ", ir_dtype_name(v->dtype),
                         ir_format_dims(v->rank, v->dims, s, sizeof s));
  return true;
}

static bool check_weight(const IrNode *n, int k, IrDiag *d) {
  const IrValue *v = n->inputs[k];
  char field[32];
  snprintf(field, sizeof field, "inputs[%d]", k);
  if (!check_input_dtype(n, k, IR_I8, d)) return false;
  if (v->kind != IR_VALUE_CONST)
    return ir_node_error(d, n, field, "weight '%s' must be an initializer", v->name);
  return true;
}

/* A fused QLookup (passes/pass_qpool.c): the head's own result (its fused pool's, if any) into
 * the value the lookup read, then the lookup's. */
static bool infer_with_lookup(IrGraph *g, IrNode *n, IrDiag *d,
                              bool (*infer)(IrGraph *, IrNode *, IrDiag *)) {
  IrNode own = *n;
  IrValue *mid[1] = {n->lookup->inputs[0]};
  own.lookup = NULL;
  own.outputs = mid;
  own.n_outputs = 1;
  return infer(g, &own, d) && ir_infer_qlookup(g, n->lookup, d);
}

bool ir_infer_qlinear_conv(IrGraph *g, IrNode *n, IrDiag *d) {
  if (n->lookup) return infer_with_lookup(g, n, d, ir_infer_qlinear_conv);
  if (n->pool) { /* fused MaxPool (passes/pass_qpool.c): the conv's own output, then the pool's */
    IrNode own = *n;
    IrValue *mid[1] = {n->pool->inputs[0]};
    own.pool = NULL;
    own.outputs = mid;
    return ir_infer_qlinear_conv(g, &own, d) && ir_infer_max_pool(g, n->pool, d);
  }
  if (!check_arity(n, d) || !check_input_dtype(n, QC_X, IR_I8, d) || !check_weight(n, QC_W, d))
    return false;
  const IrValue *w = n->inputs[QC_W];
  if (n->n_inputs > QC_B && n->inputs[QC_B] && !check_bias(n, QC_B, w->rank ? w->dims[0] : 1, d))
    return false;
  IrConvParams p;
  if (!ir_q_conv_params(n, &p, d)) return false;
  if (!check_scales(n, QC_XS, 1, d) || !check_zero_points(n, QC_XZ, QC_XS, false, d) ||
      !check_scales(n, QC_WS, p.m, d) || !check_zero_points(n, QC_WZ, QC_WS, true, d) ||
      !check_scales(n, QC_YS, 1, d) || !check_zero_points(n, QC_YZ, QC_YS, false, d) ||
      !check_requant(n, d))
    return false;
  set_out(n, IR_I8, 4, (int64_t[]){p.n, p.m, p.oh, p.ow});
  return true;
}

bool ir_infer_qgemm(IrGraph *g, IrNode *n, IrDiag *d) {
  if (n->lookup) return infer_with_lookup(g, n, d, ir_infer_qgemm);
  if (!check_arity(n, d) || !check_input_dtype(n, QG_A, IR_I8, d) || !check_weight(n, QG_B, d))
    return false;
  const IrValue *a = n->inputs[QG_A], *b = n->inputs[QG_B];
  char s1[256], s2[256];
  if (ir_attr_i(n, "transA") != 0)
    return ir_node_error(d, n, "attrs.transA", "QGemm supports transA = 0 only");
  if (ir_attr_f(n, "alpha") != 1.0)
    return ir_node_error(d, n, "attrs.alpha", "QGemm supports alpha = 1 only");
  bool tb;
  if (!ir_attr_flag(n, "transB", &tb, d)) return false;
  if (a->rank != 2 || b->rank != 2)
    return ir_node_error(d, n, "inputs", "QGemm needs 2-D A and B, got %s and %s",
                         ir_format_dims(a->rank, a->dims, s1, sizeof s1),
                         ir_format_dims(b->rank, b->dims, s2, sizeof s2));
  int64_t k = tb ? b->dims[1] : b->dims[0], nn = tb ? b->dims[0] : b->dims[1];
  if (a->dims[1] != k)
    return ir_node_error(d, n, "inputs", "A %s and B %s (transB=%d) do not multiply",
                         ir_format_dims(a->rank, a->dims, s1, sizeof s1),
                         ir_format_dims(b->rank, b->dims, s2, sizeof s2), (int)tb);
  if (!check_bias(n, QG_C, nn, d) || !check_scales(n, QG_AS, 1, d) ||
      !check_zero_points(n, QG_AZ, QG_AS, false, d) || !check_scales(n, QG_BS, nn, d) ||
      !check_zero_points(n, QG_BZ, QG_BS, true, d) || !check_scales(n, QG_YS, 1, d) ||
      !check_zero_points(n, QG_YZ, QG_YS, false, d) || !check_requant(n, d))
    return false;
  set_out(n, IR_I8, 2, (int64_t[]){a->dims[0], nn});
  return true;
}

static int interp_qlinear_conv(const IrNode *n, const void *const *in, void *const *out);

/* A fused QLookup (passes/pass_qpool.c) runs as written: the head (run) into a buffer of the
 * value the lookup read, then the lookup's reference kernel over it. */
static int interp_with_lookup(const IrNode *n, const void *const *in, void *const *out,
                              int (*run)(const IrNode *, const void *const *, void *const *)) {
  IrNode own = *n;
  own.lookup = NULL;
  int8_t *mid = malloc((size_t)ir_value_nbytes(n->lookup->inputs[0]) + 1);
  if (!mid) abort();
  int rc = run(&own, in, (void *const[]){mid});
  if (rc == KRT_OK) rc = ir_interp_qlookup(n->lookup, (const void *const[]){mid}, out);
  free(mid);
  return rc;
}

/* A fused MaxPool (passes/pass_qpool.c) runs as written: the conv into a buffer of its own
 * output's shape, then the pool's reference kernel over it. */
int ir_interp_qlinear_conv(const IrNode *n, const void *const *in, void *const *out) {
  if (n->lookup) return interp_with_lookup(n, in, out, ir_interp_qlinear_conv);
  if (!n->pool) return interp_qlinear_conv(n, in, out);
  int8_t *mid = malloc((size_t)ir_value_nbytes(n->pool->inputs[0]) + 1);
  if (!mid) abort();
  int rc = interp_qlinear_conv(n, in, (void *const[]){mid});
  if (rc == KRT_OK) rc = ir_interp_max_pool_i8(n->pool, (const void *const[]){mid}, out);
  free(mid);
  return rc;
}

static int interp_qlinear_conv(const IrNode *n, const void *const *in, void *const *out) {
  IrConvParams p = ir_q_conv_checked(n);
  IrQHead h;
  ir_qhead(n, &h);
  const int8_t *x = in[QC_X], *w = in[QC_W];
  int8_t *y = out[0];
  for (int64_t b = 0; b < p.n; b++)
    for (int64_t m = 0; m < p.m; m++) {
      IrRequant r = ir_qhead_requant(&h, m);
      int64_t g = m / p.m_per_group;
      for (int64_t oh = 0; oh < p.oh; oh++)
        for (int64_t ow = 0; ow < p.ow; ow++) {
          int32_t acc = h.bias ? h.bias[m] : 0;
          for (int64_t cg = 0; cg < p.c_per_group; cg++) {
            int64_t c = g * p.c_per_group + cg;
            for (int64_t i = 0; i < p.kh; i++) {
              int64_t ih = oh * p.stride_h - p.pad_t + i * p.dil_h;
              if (ih < 0 || ih >= p.h) continue; /* padding is x_zp: contributes 0 */
              for (int64_t j = 0; j < p.kw; j++) {
                int64_t iw = ow * p.stride_w - p.pad_l + j * p.dil_w;
                if (iw < 0 || iw >= p.w) continue;
                acc += ((int32_t)x[((b * p.c + c) * p.h + ih) * p.w + iw] - h.x_zp) *
                       (int32_t)w[((m * p.c_per_group + cg) * p.kh + i) * p.kw + j];
              }
            }
          }
          y[((b * p.m + m) * p.oh + oh) * p.ow + ow] =
              (int8_t)ir_requant_apply(acc, r, h.y_zp, -128, 127);
        }
    }
  return KRT_OK;
}

/* QLinearConvTranspose (ONNX Runtime's com.microsoft layout, QLinearConv's inputs): weights
 * [C, M/group, kh, kw] symmetric int8 with one scale per output channel (or one), bias i32 [M]. */
bool ir_infer_qlinear_conv_transpose(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!check_arity(n, d) || !check_input_dtype(n, QC_X, IR_I8, d) || !check_weight(n, QC_W, d))
    return false;
  char s[256];
  if (n->inputs[QC_X]->rank != 4)
    return ir_node_error(d, n, "inputs[0]",
                         "QLinearConvTranspose is 2-D: expects [N, C, H, W], got %s",
                         ir_format_dims(n->inputs[QC_X]->rank, n->inputs[QC_X]->dims, s, sizeof s));
  IrConvParams p;
  if (!ir_q_conv_params(n, &p, d)) return false;
  if (!check_bias(n, QC_B, p.m, d) || !check_scales(n, QC_XS, 1, d) ||
      !check_zero_points(n, QC_XZ, QC_XS, false, d) || !check_scales(n, QC_WS, p.m, d) ||
      !check_zero_points(n, QC_WZ, QC_WS, true, d) || !check_scales(n, QC_YS, 1, d) ||
      !check_zero_points(n, QC_YZ, QC_YS, false, d) || !check_requant(n, d))
    return false;
  set_out(n, IR_I8, 4, (int64_t[]){p.n, p.m, p.oh, p.ow});
  return true;
}

/* ir_interp_conv_transpose's gather on integers: output (oh, ow) receives input (th / s, tw / s)
 * through tap (kh, kw) when th = oh + pad_t - kh * dil divides by the stride. */
int ir_interp_qlinear_conv_transpose(const IrNode *n, const void *const *in, void *const *out) {
  IrConvParams p = ir_q_conv_checked(n);
  IrQHead h;
  ir_qhead(n, &h);
  const int8_t *x = in[QC_X], *w = in[QC_W];
  int8_t *y = out[0];
  for (int64_t b = 0; b < p.n; b++)
    for (int64_t m = 0; m < p.m; m++) {
      IrRequant r = ir_qhead_requant(&h, m);
      int64_t g = m / p.m_per_group, mo = m % p.m_per_group;
      for (int64_t oh = 0; oh < p.oh; oh++)
        for (int64_t ow = 0; ow < p.ow; ow++) {
          int32_t acc = h.bias ? h.bias[m] : 0;
          for (int64_t ci = 0; ci < p.c_per_group; ci++) {
            int64_t c = g * p.c_per_group + ci;
            for (int64_t kh = 0; kh < p.kh; kh++) {
              int64_t th = oh + p.pad_t - kh * p.dil_h;
              if (th < 0 || th % p.stride_h || th / p.stride_h >= p.h) continue;
              for (int64_t kw = 0; kw < p.kw; kw++) {
                int64_t tw = ow + p.pad_l - kw * p.dil_w;
                if (tw < 0 || tw % p.stride_w || tw / p.stride_w >= p.w) continue;
                acc +=
                    ((int32_t)x[((b * p.c + c) * p.h + th / p.stride_h) * p.w + tw / p.stride_w] -
                     h.x_zp) *
                    (int32_t)w[((c * p.m_per_group + mo) * p.kh + kh) * p.kw + kw];
              }
            }
          }
          y[((b * p.m + m) * p.oh + oh) * p.ow + ow] =
              (int8_t)ir_requant_apply(acc, r, h.y_zp, -128, 127);
        }
    }
  return KRT_OK;
}

int ir_interp_qgemm(const IrNode *n, const void *const *in, void *const *out) {
  if (n->lookup) return interp_with_lookup(n, in, out, ir_interp_qgemm);
  IrQHead h;
  ir_qhead(n, &h);
  const IrValue *a = n->inputs[QG_A];
  bool tb = ir_attr_i(n, "transB") != 0;
  int64_t M = a->dims[0], K = a->dims[1], N = h.channels;
  const int8_t *av = in[QG_A], *bv = in[QG_B];
  int8_t *y = out[0];
  for (int64_t j = 0; j < N; j++) {
    IrRequant r = ir_qhead_requant(&h, j);
    for (int64_t i = 0; i < M; i++) {
      int32_t acc = h.bias ? h.bias[j] : 0;
      for (int64_t k = 0; k < K; k++)
        acc += ((int32_t)av[i * K + k] - h.x_zp) * (int32_t)bv[tb ? j * K + k : k * N + j];
      y[i * N + j] = (int8_t)ir_requant_apply(acc, r, h.y_zp, -128, 127);
    }
  }
  return KRT_OK;
}

static int64_t round_up(int64_t v, int64_t m);

/* ---- MatMulInteger: A [..., K] (i8/u8), B [K, N] (constant i8/u8), a_zp, b_zp -> i32 ---- */

void ir_matmul_integer(const IrNode *n, IrMatMulInt *p) {
  const IrValue *a = n->inputs[0], *b = n->inputs[1];
  p->k = b->dims[0];
  p->n = b->dims[1];
  p->m = p->k > 0 ? ir_value_numel(a) / p->k : 0;
  p->a_dtype = a->dtype;
  p->b_dtype = b->dtype;
  p->b_zp_count = ir_value_numel(n->inputs[3]);
}

int32_t ir_matmul_integer_bzp(const IrNode *n, int64_t j) {
  const IrValue *z = n->inputs[3];
  return ir_int8_value(z->dtype, z->data, ir_value_numel(z) == 1 ? 0 : j);
}

bool ir_matmul_integer_needs_row_sums(const IrNode *n) {
  /* u8 weights are stored as w - 128: their zero point moves by 128 */
  int beta = n->inputs[1]->dtype == IR_U8 ? 128 : 0;
  for (int64_t j = 0; j < ir_value_numel(n->inputs[3]); j++)
    if (ir_matmul_integer_bzp(n, j) - beta != 0) return true;
  return false;
}

int64_t ir_matmul_integer_scratch_bytes(const IrNode *n, bool widen) {
  IrMatMulInt p;
  ir_matmul_integer(n, &p);
  int64_t k4 = (p.k + 3) / 4;
  bool col_scale = n->n_inputs > 4 && ir_value_numel(n->inputs[4]) > 1;
  return p.m * k4 * (widen ? 8 : 4) + 4 * round_up(p.n, 64) * (col_scale ? 2 : 1) +
         (ir_matmul_integer_needs_row_sums(n) ? 4 * p.m : 0);
}

static bool is_int8(IrDType t) { return t == IR_I8 || t == IR_U8; }

/* MatMulInteger / ConvInteger: the four inputs present and i8 or u8 */
static bool check_integer_inputs(const IrNode *n, IrDiag *d) {
  if (!check_arity(n, d)) return false;
  for (int k = 0; k < 4; k++) {
    char field[32];
    snprintf(field, sizeof field, "inputs[%d]", k);
    if (!n->inputs[k]) return ir_node_error(d, n, field, "required input is missing");
    if (!is_int8(n->inputs[k]->dtype))
      return ir_node_error(d, n, field, "%s expects i8 or u8 here, got %s", ir_op_info[n->op].name,
                           ir_dtype_name(n->inputs[k]->dtype));
  }
  return true;
}

/* the data's zero point (one value of its dtype), the weights' (an initializer of their dtype,
 * 1 or cols values) and the fused scale (5th input: f32, 1 or cols values) */
static bool check_integer_qparams(const IrNode *n, int64_t cols, const char *an, const char *bn,
                                  const char *per, IrDiag *d) {
  const IrValue *a = n->inputs[0], *b = n->inputs[1], *az = n->inputs[2], *bz = n->inputs[3];
  if (az->dtype != a->dtype || ir_value_numel(az) != 1 || az->rank > 1)
    return ir_node_error(
        d, n, "inputs[2]", "%s's zero point must be one value of %s's dtype %s, got %s of %lld", an,
        an, ir_dtype_name(a->dtype), ir_dtype_name(az->dtype), (long long)ir_value_numel(az));
  int64_t nz = ir_value_numel(bz);
  if (bz->kind != IR_VALUE_CONST || bz->dtype != b->dtype || bz->rank > 1 ||
      (nz != 1 && nz != cols))
    return ir_node_error(d, n, "inputs[3]",
                         "%s's zero point must be an initializer of %s's dtype (%s) with 1 or %lld "
                         "values, got %s%s of %lld",
                         bn, bn, ir_dtype_name(b->dtype), (long long)cols,
                         bz->kind == IR_VALUE_CONST ? "" : "a computed ", ir_dtype_name(bz->dtype),
                         (long long)nz);
  if (n->n_inputs > 4) { /* the scale the fuse pass folds in */
    const IrValue *sc = n->inputs[4];
    int64_t ns = sc ? ir_value_numel(sc) : 0;
    if (!sc || sc->dtype != IR_F32 || (ns != 1 && ns != cols))
      return ir_node_error(d, n, "inputs[4]", "%s's scale must be f32 of 1 value or one per %s",
                           ir_op_info[n->op].name, per);
  }
  return true;
}

bool ir_infer_matmul_integer(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!check_integer_inputs(n, d)) return false;
  const IrValue *a = n->inputs[0], *b = n->inputs[1];
  char s1[256], s2[256];
  if (b->kind != IR_VALUE_CONST || b->rank != 2)
    return ir_node_error(d, n, "inputs[1]", "B '%s' must be a 2-D initializer, got %s%s", b->name,
                         b->kind == IR_VALUE_CONST ? "" : "a computed ",
                         ir_format_dims(b->rank, b->dims, s1, sizeof s1));
  if (a->rank < 1 || a->dims[a->rank - 1] != b->dims[0])
    return ir_node_error(d, n, "inputs", "A %s and B %s do not multiply",
                         ir_format_dims(a->rank, a->dims, s1, sizeof s1),
                         ir_format_dims(b->rank, b->dims, s2, sizeof s2));
  if (!check_integer_qparams(n, b->dims[1], "A", "B", "column", d)) return false;
  if (n->n_inputs > 4 && ir_value_numel(n->inputs[4]) > 1 &&
      n->inputs[4]->dims[n->inputs[4]->rank - 1] != b->dims[1])
    return ir_node_error(d, n, "inputs[4]",
                         "MatMulInteger's scale must be f32 of 1 value or one per column");
  int64_t dims[IR_MAX_RANK];
  for (int i = 0; i < a->rank; i++) dims[i] = a->dims[i];
  dims[a->rank - 1] = b->dims[1];
  set_out(n, n->n_inputs > 4 ? IR_F32 : IR_I32, a->rank, dims);
  return true;
}

/* The ONNX definition: sum_k (A[m][k] - a_zp) * (B[k][n] - b_zp[n]), in int64; the i32 output
 * keeps its low 32 bits (the compiled kernel's wrapping i32 arithmetic gives the same). With a
 * scale (5th input): the f32 output (float)sum * scale[n], ONNX's Cast to float then Mul. */
int ir_interp_matmul_integer(const IrNode *n, const void *const *in, void *const *out) {
  IrMatMulInt p;
  ir_matmul_integer(n, &p);
  int32_t az = ir_int8_value(p.a_dtype, in[2], 0);
  const float *sc = n->n_inputs > 4 ? in[4] : NULL;
  bool per_col = sc && ir_value_numel(n->inputs[4]) > 1;
  for (int64_t i = 0; i < p.m; i++)
    for (int64_t j = 0; j < p.n; j++) {
      int32_t bz = ir_matmul_integer_bzp(n, j);
      int64_t acc = 0;
      for (int64_t k = 0; k < p.k; k++)
        acc += (int64_t)(ir_int8_value(p.a_dtype, in[0], i * p.k + k) - az) *
               (ir_int8_value(p.b_dtype, in[1], k * p.n + j) - bz);
      int32_t sum = (int32_t)(uint32_t)(uint64_t)acc;
      if (sc)
        ((float *)out[0])[i * p.n + j] = (float)sum * sc[per_col ? j : 0];
      else
        ((int32_t *)out[0])[i * p.n + j] = sum;
    }
  return KRT_OK;
}

/* ---- ConvInteger: x [N, C, (H,) W] (i8/u8), w (constant i8/u8), x_zp, w_zp -> i32 ------- */

void ir_conv_integer_as_conv(const IrNode *q, IrNode *tmp, IrValue **ins) {
  *tmp = *q;
  tmp->op = IR_OP_CONV;
  ins[0] = q->inputs[0];
  ins[1] = q->inputs[1];
  ins[2] = NULL;
  tmp->inputs = ins;
  tmp->n_inputs = 2;
  tmp->n_epilogue = tmp->n_epilogue_inputs = 0;
}

bool ir_q_conv_params(const IrNode *n, IrConvParams *p, IrDiag *d) {
  IrNode tmp;
  IrValue *ins[3];
  switch (n->op) {
  case IR_OP_QLINEAR_CONV:
  case IR_OP_QLINEAR_CONV_TRANSPOSE:
    ir_qconv_as_conv(n, &tmp, ins);
    if (n->op == IR_OP_QLINEAR_CONV_TRANSPOSE) tmp.n_inputs = 2;
    break;
  case IR_OP_QAVERAGE_POOL: ir_qpool_as_pool(n, &tmp, ins); break;
  case IR_OP_CONV_INTEGER: ir_conv_integer_as_conv(n, &tmp, ins); break;
  default: return ir_conv_params(n, p, d);
  }
  return ir_conv_params(&tmp, p, d);
}

IrConvParams ir_q_conv_checked(const IrNode *n) {
  IrConvParams p;
  bool ok = ir_q_conv_params(n, &p, NULL);
  assert(ok);
  (void)ok;
  return p;
}

int64_t ir_conv_integer_extra_bytes(const IrNode *n) {
  IrConvParams p;
  if (!ir_q_conv_params(n, &p, NULL)) return 0;
  int64_t b = 4 * p.m; /* the run-time bias of every channel */
  if (ir_matmul_integer_needs_row_sums(n)) b += 4 * (p.h * p.w + p.oh * p.ow);
  return round_up(b, 64);
}

bool ir_infer_conv_integer(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!check_integer_inputs(n, d)) return false;
  const IrValue *w = n->inputs[1];
  if (w->kind != IR_VALUE_CONST)
    return ir_node_error(d, n, "inputs[1]", "weight '%s' must be an initializer", w->name);
  IrConvParams p;
  if (!ir_q_conv_params(n, &p, d)) return false;
  if (!check_integer_qparams(n, p.m, "x", "w", "output channel", d)) return false;
  int64_t dims[4] = {p.n, p.m, p.oh, p.ow};
  if (p.spatial == 1) dims[2] = p.ow;
  set_out(n, n->n_inputs > 4 ? IR_F32 : IR_I32, p.spatial + 2, dims);
  return true;
}

/* The ONNX definition: sum over the window (c, i, j) of (x - x_zp) * (w[m] - w_zp[m]), the
 * padding equal to x_zp (it contributes 0), in int64; the i32 output keeps its low 32 bits. With
 * a scale (5th input): the f32 output (float)sum * scale[m], ONNX's Cast to float then Mul. */
int ir_interp_conv_integer(const IrNode *n, const void *const *in, void *const *out) {
  IrConvParams p = ir_q_conv_checked(n);
  IrDType xt = n->inputs[0]->dtype, wt = n->inputs[1]->dtype;
  int32_t xz = ir_int8_value(xt, in[2], 0);
  const float *sc = n->n_inputs > 4 ? in[4] : NULL;
  bool per_ch = sc && ir_value_numel(n->inputs[4]) > 1;
  for (int64_t b = 0; b < p.n; b++)
    for (int64_t m = 0; m < p.m; m++) {
      int32_t wz = ir_matmul_integer_bzp(n, m);
      int64_t g = m / p.m_per_group;
      for (int64_t oh = 0; oh < p.oh; oh++)
        for (int64_t ow = 0; ow < p.ow; ow++) {
          int64_t acc = 0;
          for (int64_t cg = 0; cg < p.c_per_group; cg++) {
            int64_t c = g * p.c_per_group + cg;
            for (int64_t i = 0; i < p.kh; i++) {
              int64_t ih = oh * p.stride_h - p.pad_t + i * p.dil_h;
              if (ih < 0 || ih >= p.h) continue; /* padding is x_zp: contributes 0 */
              for (int64_t j = 0; j < p.kw; j++) {
                int64_t iw = ow * p.stride_w - p.pad_l + j * p.dil_w;
                if (iw < 0 || iw >= p.w) continue;
                acc += (int64_t)(ir_int8_value(xt, in[0], ((b * p.c + c) * p.h + ih) * p.w + iw) -
                                 xz) *
                       (ir_int8_value(wt, in[1], ((m * p.c_per_group + cg) * p.kh + i) * p.kw + j) -
                        wz);
              }
            }
          }
          int32_t sum = (int32_t)(uint32_t)(uint64_t)acc;
          int64_t at = ((b * p.m + m) * p.oh + oh) * p.ow + ow;
          if (sc)
            ((float *)out[0])[at] = (float)sum * sc[per_ch ? m : 0];
          else
            ((int32_t *)out[0])[at] = sum;
        }
    }
  return KRT_OK;
}

int ir_interp_max_pool_i8(const IrNode *n, const void *const *in, void *const *out) {
  IrConvParams p = ir_q_conv_checked(n);
  const int8_t *x = in[0];
  int8_t *y = out[0];
  for (int64_t bc = 0; bc < p.n * p.c; bc++)
    for (int64_t oh = 0; oh < p.oh; oh++)
      for (int64_t ow = 0; ow < p.ow; ow++) {
        int best = -128; /* padding never wins */
        for (int64_t kh = 0; kh < p.kh; kh++) {
          int64_t ih = oh * p.stride_h - p.pad_t + kh * p.dil_h;
          if (ih < 0 || ih >= p.h) continue;
          for (int64_t kw = 0; kw < p.kw; kw++) {
            int64_t iw = ow * p.stride_w - p.pad_l + kw * p.dil_w;
            if (iw >= 0 && iw < p.w && x[(bc * p.h + ih) * p.w + iw] > best)
              best = x[(bc * p.h + ih) * p.w + iw];
          }
        }
        y[(bc * p.oh + oh) * p.ow + ow] = (int8_t)best;
      }
  return KRT_OK;
}

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

bool ir_qconv_pairs_in_order(const IrConvParams *p) {
  return p->c_per_group % 2 == 1 && p->c_per_group < 4;
}

int64_t ir_qconv_steps(const IrConvParams *p, bool pairs) {
  int64_t taps = p->kh * p->kw;
  if (!pairs) return taps * ((p->c_per_group + 3) / 4);
  if (ir_qconv_pairs_in_order(p)) return (p->c_per_group * taps + 1) / 2;
  return taps * ((p->c_per_group + 1) / 2);
}

void ir_qconv_panel(const IrConvParams *p, int64_t budget_bytes, int64_t cols, bool pairs,
                    IrQConvPanel *q) {
  int64_t steps = ir_qconv_steps(p, false), sp = ir_qconv_steps(p, true);
  if (pairs && sp > steps) steps = sp;
  q->k4 = steps;
  int64_t per_row = steps * 4 * p->ow;
  q->rows = per_row > 0 ? budget_bytes / per_row : 1;
  if (q->rows < 1) q->rows = 1;
  if (q->rows > p->oh) q->rows = p->oh;
  q->ldv = round_up(q->rows * p->ow, cols);
  q->bytes = steps * 4 * q->ldv;
}

bool ir_qconv_panel_of(const IrConvParams *p, int64_t scratch_bytes, bool pairs, int64_t cols,
                       IrQConvPanel *q) {
  q->k4 = ir_qconv_steps(p, pairs);
  q->ldv = scratch_bytes / (q->k4 * 4);
  q->rows = p->oh;
  while (q->rows > 1 && round_up(q->rows * p->ow, cols) > q->ldv) q->rows--;
  q->bytes = scratch_bytes;
  return round_up(q->rows * p->ow, cols) <= q->ldv;
}

bool ir_qconv_winograd_exact(const IrNode *n) {
  if (n->op == IR_OP_CONV_INTEGER) {
    /* the operands x - x_zp and w - w_zp[m] (cg_winograd_i8.c): |w - w_zp| <= 255, so U fits
     * i16 (<= 9 * 255), V too (<= 4 * 255, whatever the run-time x zero point), and the
     * output transform's 4 x sum, |4 * 9 C * 255 * max |w - w_zp||, must fit int32 */
    const IrValue *wv = n->inputs[1];
    if (!wv->data || wv->rank != 4) return false;
    int64_t M = wv->dims[0], K = ir_value_numel(wv) / M, C = K / 9;
    for (int64_t m = 0; m < M; m++) {
      int64_t wmax = 0, wz = ir_matmul_integer_bzp(n, m);
      for (int64_t k = 0; k < K; k++) {
        int64_t v = llabs(ir_int8_value(wv->dtype, wv->data, m * K + k) - wz);
        wmax = v > wmax ? v : wmax;
      }
      if (4 * 9 * C * 255 * wmax > INT32_MAX) return false;
    }
    return true;
  }
  const IrValue *wv = n->inputs[3];
  if (!wv->data || wv->rank != 4) return false;
  IrQHead h;
  ir_qhead(n, &h);
  int64_t M = wv->dims[0], K = ir_value_numel(wv) / M, C = K / 9;
  const int8_t *w = wv->data;
  for (int64_t m = 0; m < M; m++) {
    int64_t wmax = 0, bias = h.bias ? h.bias[m] : 0;
    for (int64_t k = 0; k < K; k++) wmax = llabs(w[m * K + k]) > wmax ? llabs(w[m * K + k]) : wmax;
    if (ir_qhead_requant(&h, m).shift + 2 > 62 ||
        4 * (llabs(bias) + 9 * C * 255 * wmax) > INT32_MAX)
      return false;
  }
  return true;
}

void ir_qconv_winograd_cost(const IrConvParams *p, double *wino, double *direct) {
  /* measured under QEMU -icount: the direct tile 8 per pair step of 3 rows x 2 pixels (unrolled,
   * issue10n; 11 before), its im2col ~6 per pixel and pair step, the requantization ~6 per output;
   * Winograd: 8 per step of
   * its 3 x 2 tile + 14 per column pair, the input transform ~150 per tile and channel pair, the
   * output transform with the requantization ~72 per tile and output channel */
  double P = (double)(p->oh * p->ow), steps = (double)ir_qconv_steps(p, true);
  double rb = (double)((p->m + 2) / 3), T = (double)(((p->oh + 1) / 2) * ((p->ow + 1) / 2));
  double kp = (double)((p->c + 1) / 2);
  *direct = rb * ceil(P / 2) * steps * 8 + P * steps * 6 + P * (double)p->m * 6;
  *wino = 16 * rb * ceil(T / 2) * (8 * kp + 14) + T * kp * 150 + T * (double)p->m * 72;
}

bool ir_qconv_winograd(const IrConvParams *p, int64_t budget_bytes, int64_t cols,
                       int64_t scratch_bytes, IrQWinograd *w) {
  if (p->kh != 3 || p->kw != 3 || p->stride_h != 1 || p->stride_w != 1 || p->dil_h != 1 ||
      p->dil_w != 1 || p->group != 1 || p->c < 8 || p->m < 8 || p->c > 128)
    return false;
  w->kp = (p->c + 1) / 2;
  w->th = (p->oh + 1) / 2;
  w->tw = (p->ow + 1) / 2;
  /* bytes of a panel of r tile rows */
  for (w->rows = w->th; w->rows >= 1; w->rows--) {
    w->ldv = round_up(w->rows * w->tw, cols);
    w->v_bytes = 16 * w->kp * w->ldv * 4;
    w->bytes = w->v_bytes + 16 * 3 * w->ldv * 4;
    if (w->rows == 1 || w->bytes <= (scratch_bytes > 0 ? scratch_bytes : budget_bytes)) break;
  }
  return scratch_bytes <= 0 || w->bytes <= scratch_bytes;
}

void ir_qconvt_gemm(const IrConvParams *p, int64_t cols, IrQConvtGemm *q) {
  q->k4 = (p->c_per_group + 3) / 4;
  q->ldv = round_up(p->h * p->w, cols);
  q->v_bytes = q->k4 * 4 * q->ldv;
  q->raw_bytes = p->m_per_group * p->kh * p->kw * q->ldv * 4;
  q->plane_bytes = p->oh * p->ow * 4;
  q->bytes = q->v_bytes + q->raw_bytes + q->plane_bytes;
  int64_t hw = p->h * p->w;
  q->t_bytes =
      hw * q->k4 * 4 + hw * round_up(p->m_per_group * p->kh * p->kw, cols) * 4 + q->plane_bytes;
}

bool ir_qconvt_subpixel(const IrConvParams *p, int64_t cols, bool v_copy, IrQConvtSub *q) {
  memset(q, 0, sizeof *q);
  if (!ir_conv_subpixel(p, cols, &q->s)) return false;
  int64_t n_max = 0;
  for (int64_t r = 0; r < p->stride_h; r++)
    if (q->s.ny[r] * q->s.wp > n_max) n_max = q->s.ny[r] * q->s.wp;
  q->c4 = (p->c + 3) / 4;
  q->ldv = round_up(n_max, cols);
  q->x_bytes = (q->c4 * q->s.hp * q->s.wp + q->s.wp + cols) * 4;
  q->v_bytes = v_copy ? q->c4 * q->s.th * q->s.tw * q->ldv * 4 : 0;
  q->y_bytes = p->stride_w * p->m * q->ldv;
  q->bytes = q->x_bytes + q->v_bytes + q->y_bytes;
  if (q->bytes < p->oh * p->ow * 4) q->bytes = p->oh * p->ow * 4;
  return true;
}

int64_t ir_qgemm_scratch_bytes(const IrNode *n) {
  const IrValue *a = n->inputs[0];
  return a->dims[0] * round_up(a->dims[1], 4);
}
