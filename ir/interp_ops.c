/* Reference kernels of the ops real exporters add (issue 13): ArgMax/ArgMin, the logical ops,
 * ScatterND. Plain loops following the ONNX definitions; see interp.c for the conventions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir_util.h"
#include "kernels.h"
#include "krt.h"

/* ---- ArgMax / ArgMin ----------------------------------------------------------------------- */

/* Element i of an f32, i32 or i64 tensor: integers exactly (i64 beyond 2^53 too), floats in
 * double. Compared through `better`, which never sees a mix of the two. */
typedef struct {
  double f;
  int64_t i;
} Num;

static Num num_at(IrDType t, const void *p, int64_t i) {
  if (t == IR_F32) return (Num){((const float *)p)[i], 0};
  return (Num){0, t == IR_I64 ? ((const int64_t *)p)[i] : ((const int32_t *)p)[i]};
}

/* Whether v replaces the current best: strictly better, or equal with select_last_index (a NaN
 * compares false either way: it is the answer only where it comes first). */
static bool better(Num v, Num best, bool is_max, bool last) {
  bool gt = is_max ? v.f > best.f || v.i > best.i : v.f < best.f || v.i < best.i;
  return gt || (last && v.f == best.f && v.i == best.i);
}

static int arg_extreme(const IrNode *n, const void *const *in, void *const *out, bool is_max) {
  const IrValue *x = n->inputs[0];
  int64_t axis = ir_attr_i(n, "axis");
  if (axis < 0) axis += x->rank;
  bool last = ir_attr_i(n, "select_last_index") != 0;
  int64_t outer = 1, len = x->dims[axis], inner = 1;
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = (int)axis + 1; d < x->rank; d++) inner *= x->dims[d];
  int64_t *y = out[0];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t base = o * len * inner + i, best_j = 0;
      Num best = num_at(x->dtype, in[0], base);
      for (int64_t j = 1; j < len; j++) {
        Num v = num_at(x->dtype, in[0], base + j * inner);
        if (better(v, best, is_max, last)) best = v, best_j = j;
      }
      y[o * inner + i] = best_j;
    }
  return KRT_OK;
}

int ir_interp_arg_max(const IrNode *n, const void *const *in, void *const *out) {
  return arg_extreme(n, in, out, true);
}
int ir_interp_arg_min(const IrNode *n, const void *const *in, void *const *out) {
  return arg_extreme(n, in, out, false);
}

/* ---- Not, And, Or, Xor --------------------------------------------------------------------- */

static int logical(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *vy = n->outputs[0];
  int64_t st[2][IR_MAX_RANK];
  for (int k = 0; k < n->n_inputs; k++)
    ir_broadcast_strides(n->inputs[k]->rank, n->inputs[k]->dims, vy->rank, vy->dims, st[k]);
  uint8_t *y = out[0];
  for (int64_t i = 0; i < ir_value_numel(vy); i++) {
    bool a = ((const uint8_t *)in[0])[ir_broadcast_offset(i, vy->rank, vy->dims, st[0])] != 0;
    bool b = n->n_inputs > 1 &&
             ((const uint8_t *)in[1])[ir_broadcast_offset(i, vy->rank, vy->dims, st[1])] != 0;
    switch (n->op) {
    case IR_OP_NOT: y[i] = !a; break;
    case IR_OP_AND: y[i] = a && b; break;
    case IR_OP_OR: y[i] = a || b; break;
    default: y[i] = a != b; break; /* Xor */
    }
  }
  return KRT_OK;
}

int ir_interp_logical_not(const IrNode *n, const void *const *in, void *const *out) {
  return logical(n, in, out);
}
int ir_interp_logical_and(const IrNode *n, const void *const *in, void *const *out) {
  return logical(n, in, out);
}
int ir_interp_logical_or(const IrNode *n, const void *const *in, void *const *out) {
  return logical(n, in, out);
}
int ir_interp_logical_xor(const IrNode *n, const void *const *in, void *const *out) {
  return logical(n, in, out);
}

/* ---- ScatterND ----------------------------------------------------------------------------- */

/* The output is the data with slice j replaced by updates slice j, in order (a repeated index:
 * the last write wins). An index outside the data returns KRT_ERR_INDEX_RANGE. */
/* *dst = *dst (reduction) *src for f32, i32, i64; integers wrap, max/min of f32 propagate NaN. */
static void scatter_combine(IrDType t, IrScatterReduction red, void *dst, const void *src) {
  if (t == IR_F32) {
    float a, b;
    memcpy(&a, dst, 4), memcpy(&b, src, 4);
    a = red == SCATTER_ADD     ? a + b
        : red == SCATTER_MUL   ? a * b
        : isnan(a) || isnan(b) ? NAN
                               : (red == SCATTER_MAX ? (b > a ? b : a) : (b < a ? b : a));
    memcpy(dst, &a, 4);
    return;
  }
  int64_t a = 0, b = 0;
  int size = t == IR_I32 ? 4 : 8;
  if (size == 4) {
    int32_t a32, b32;
    memcpy(&a32, dst, 4), memcpy(&b32, src, 4);
    a = a32, b = b32;
  } else {
    memcpy(&a, dst, 8), memcpy(&b, src, 8);
  }
  uint64_t r = red == SCATTER_ADD   ? (uint64_t)a + (uint64_t)b
               : red == SCATTER_MUL ? (uint64_t)a * (uint64_t)b
               : red == SCATTER_MAX ? (uint64_t)(b > a ? b : a)
                                    : (uint64_t)(b < a ? b : a);
  if (size == 4) {
    int32_t r32 = (int32_t)(uint32_t)r;
    memcpy(dst, &r32, 4);
  } else {
    memcpy(dst, &r, 8);
  }
}

int ir_interp_scatter_nd(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *x = n->inputs[0];
  int64_t count, slice;
  int k;
  ir_scatter_nd_geometry(n, &count, &k, &slice);
  IrScatterReduction red = ir_scatter_nd_reduction(n);
  size_t es = ir_dtype_size(x->dtype);
  const int64_t *idx = in[1];
  memcpy(out[0], in[0], (size_t)ir_value_nbytes(x));
  for (int64_t j = 0; j < count; j++) {
    int64_t off = 0; /* in slices */
    for (int a = 0; a < k; a++) {
      int64_t v = idx[j * k + a], dim = x->dims[a];
      if (v < 0) v += dim;
      if (v < 0 || v >= dim) return KRT_ERR_INDEX_RANGE;
      off = off * dim + v;
    }
    char *dst = (char *)out[0] + off * slice;
    const char *src = (const char *)in[2] + j * slice;
    if (red == SCATTER_NONE)
      memcpy(dst, src, (size_t)slice);
    else
      for (int64_t e = 0; e < slice / (int64_t)es; e++)
        scatter_combine(x->dtype, red, dst + e * (int64_t)es, src + e * (int64_t)es);
  }
  return KRT_OK;
}

/* ---- PRelu, Mod ---------------------------------------------------------------------------- */

int ir_interp_prelu(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *vs = n->inputs[1], *vy = n->outputs[0];
  int64_t ss[IR_MAX_RANK];
  ir_broadcast_strides(vs->rank, vs->dims, vy->rank, vy->dims, ss);
  const float *x = in[0], *slope = in[1];
  float *y = out[0];
  for (int64_t i = 0; i < ir_value_numel(vy); i++)
    y[i] = x[i] < 0 ? slope[ir_broadcast_offset(i, vy->rank, vy->dims, ss)] * x[i] : x[i];
  return KRT_OK;
}

/* Integers: the C remainder (fmod 1) or the divisor's sign (fmod 0); a zero divisor is
 * KRT_ERR_DIV_ZERO, x % -1 is 0 (no INT_MIN % -1 overflow). f32: fmod. */
int ir_interp_mod(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *va = n->inputs[0], *vb = n->inputs[1], *vy = n->outputs[0];
  int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK];
  ir_broadcast_strides(va->rank, va->dims, vy->rank, vy->dims, sa);
  ir_broadcast_strides(vb->rank, vb->dims, vy->rank, vy->dims, sb);
  bool c_style = ir_attr_i(n, "fmod") != 0;
  for (int64_t i = 0; i < ir_value_numel(vy); i++) {
    int64_t ia = ir_broadcast_offset(i, vy->rank, vy->dims, sa);
    int64_t ib = ir_broadcast_offset(i, vy->rank, vy->dims, sb);
    if (vy->dtype == IR_F32) {
      ((float *)out[0])[i] = fmodf(((const float *)in[0])[ia], ((const float *)in[1])[ib]);
      continue;
    }
    int64_t a = num_at(vy->dtype, in[0], ia).i, b = num_at(vy->dtype, in[1], ib).i;
    if (b == 0) return KRT_ERR_DIV_ZERO;
    int64_t r = b == -1 ? 0 : a % b;
    if (!c_style && r != 0 && (r < 0) != (b < 0)) r += b;
    if (vy->dtype == IR_I64)
      ((int64_t *)out[0])[i] = r;
    else
      ((int32_t *)out[0])[i] = (int32_t)r;
  }
  return KRT_OK;
}

/* ---- Sum, Mean, Min, Max ------------------------------------------------------------------- */

/* Folds the inputs left to right in double (Min / Max propagate NaN), Mean divides at the end. */
static int variadic(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *vy = n->outputs[0];
  int64_t st[IR_MAX_RANK];
  float *y = out[0];
  double *acc = malloc(sizeof *acc * (size_t)ir_value_numel(vy) + 1);
  if (!acc) abort();
  for (int k = 0; k < n->n_inputs; k++) {
    const IrValue *v = n->inputs[k];
    ir_broadcast_strides(v->rank, v->dims, vy->rank, vy->dims, st);
    for (int64_t i = 0; i < ir_value_numel(vy); i++) {
      double x = ((const float *)in[k])[ir_broadcast_offset(i, vy->rank, vy->dims, st)];
      if (k == 0)
        acc[i] = x;
      else if (n->op == IR_OP_MIN)
        acc[i] = isnan(x) || x < acc[i] ? (isnan(acc[i]) ? acc[i] : x) : acc[i];
      else if (n->op == IR_OP_MAX)
        acc[i] = isnan(x) || x > acc[i] ? (isnan(acc[i]) ? acc[i] : x) : acc[i];
      else
        acc[i] += x;
    }
  }
  for (int64_t i = 0; i < ir_value_numel(vy); i++)
    y[i] = (float)(n->op == IR_OP_MEAN ? acc[i] / n->n_inputs : acc[i]);
  free(acc);
  return KRT_OK;
}

int ir_interp_sum(const IrNode *n, const void *const *in, void *const *out) {
  return variadic(n, in, out);
}
int ir_interp_mean(const IrNode *n, const void *const *in, void *const *out) {
  return variadic(n, in, out);
}
int ir_interp_min(const IrNode *n, const void *const *in, void *const *out) {
  return variadic(n, in, out);
}
int ir_interp_max(const IrNode *n, const void *const *in, void *const *out) {
  return variadic(n, in, out);
}

/* ---- GlobalMaxPool, LRN, InstanceNormalization --------------------------------------------- */

int ir_interp_global_max_pool(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *v = n->inputs[0];
  int64_t planes = v->dims[0] * v->dims[1], size = 1;
  for (int d = 2; d < v->rank; d++) size *= v->dims[d];
  const float *x = in[0];
  float *y = out[0];
  for (int64_t i = 0; i < planes; i++) {
    float m = x[i * size];
    for (int64_t j = 1; j < size; j++) {
      float e = x[i * size + j];
      m = (e > m || isnan(e)) && !isnan(m) ? e : m;
    }
    y[i] = m;
  }
  return KRT_OK;
}

/* y = x / (bias + alpha / size * sum of x^2 over channels [c - (size-1)/2, c + size/2])^beta */
int ir_interp_lrn(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *v = n->inputs[0];
  int64_t N = v->dims[0], C = v->dims[1], S = 1, size = ir_attr_i(n, "size");
  for (int d = 2; d < v->rank; d++) S *= v->dims[d];
  double alpha = (float)ir_attr_f(n, "alpha"), beta = (float)ir_attr_f(n, "beta");
  double bias = (float)ir_attr_f(n, "bias");
  const float *x = in[0];
  float *y = out[0];
  for (int64_t b = 0; b < N; b++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t s = 0; s < S; s++) {
        double sq = 0;
        for (int64_t k = c - (size - 1) / 2; k <= c + size / 2; k++)
          if (k >= 0 && k < C) sq += (double)x[(b * C + k) * S + s] * x[(b * C + k) * S + s];
        int64_t at = (b * C + c) * S + s;
        y[at] = (float)(x[at] / pow(bias + alpha / (double)size * sq, beta));
      }
  return KRT_OK;
}

/* Per (n, c) plane: mean and variance (two passes, in double), then scale and shift. */
int ir_interp_instance_norm(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *v = n->inputs[0];
  int64_t C = v->dims[1], planes = v->dims[0] * C, S = 1;
  for (int d = 2; d < v->rank; d++) S *= v->dims[d];
  double eps = (float)ir_attr_f(n, "epsilon");
  const float *x = in[0], *scale = in[1], *bias = in[2];
  float *y = out[0];
  for (int64_t p = 0; p < planes; p++) {
    const float *r = x + p * S;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < S; i++) mean += r[i];
    mean /= (double)S;
    for (int64_t i = 0; i < S; i++) var += (r[i] - mean) * (r[i] - mean);
    double k = scale[p % C] / sqrt(var / (double)S + eps);
    for (int64_t i = 0; i < S; i++) y[p * S + i] = (float)((r[i] - mean) * k + bias[p % C]);
  }
  return KRT_OK;
}

/* ---- Tile, DepthToSpace, SpaceToDepth, CumSum ---------------------------------------------- */

int ir_interp_tile(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  size_t es = ir_dtype_size(x->dtype);
  for (int64_t i = 0; i < ir_value_numel(y); i++) {
    int64_t rest = i, off = 0, stride = 1;
    for (int a = y->rank - 1; a >= 0; a--) {
      off += (rest % y->dims[a] % x->dims[a]) * stride;
      rest /= y->dims[a];
      stride *= x->dims[a];
    }
    memcpy((char *)out[0] + i * (int64_t)es, (const char *)in[0] + off * (int64_t)es, es);
  }
  return KRT_OK;
}

static int space_depth(const IrNode *n, const void *const *in, void *const *out) {
  int64_t dims[6], st[6];
  ir_space_depth_view(n, dims, st);
  size_t es = ir_dtype_size(n->inputs[0]->dtype);
  for (int64_t i = 0; i < ir_value_numel(n->outputs[0]); i++)
    memcpy((char *)out[0] + i * (int64_t)es,
           (const char *)in[0] + ir_broadcast_offset(i, 6, dims, st) * (int64_t)es, es);
  return KRT_OK;
}
int ir_interp_depth_to_space(const IrNode *n, const void *const *in, void *const *out) {
  return space_depth(n, in, out);
}
int ir_interp_space_to_depth(const IrNode *n, const void *const *in, void *const *out) {
  return space_depth(n, in, out);
}

/* Running sums along the axis (in double for f32, wrapping int64 for integers); exclusive
 * stores the sum before adding, reverse walks from the end. */
int ir_interp_cumsum(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *x = n->inputs[0];
  int axis = ir_cumsum_axis(n);
  bool excl = ir_attr_i(n, "exclusive") != 0, rev = ir_attr_i(n, "reverse") != 0;
  int64_t outer = 1, len = x->dims[axis], inner = 1;
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      double fs = 0;
      uint64_t is = 0;
      for (int64_t s = 0; s < len; s++) {
        int64_t at = (o * len + (rev ? len - 1 - s : s)) * inner + i;
        Num v = num_at(x->dtype, in[0], at);
        if (!excl) fs += v.f, is += (uint64_t)v.i;
        if (x->dtype == IR_F32)
          ((float *)out[0])[at] = (float)fs;
        else if (x->dtype == IR_I64)
          ((int64_t *)out[0])[at] = (int64_t)is;
        else
          ((int32_t *)out[0])[at] = (int32_t)(uint32_t)is;
        if (excl) fs += v.f, is += (uint64_t)v.i;
      }
    }
  return KRT_OK;
}

/* ---- Resize, Upsample ---------------------------------------------------------------------- */

/* Per axis a table of taps per output coordinate (ir_resize_taps: input index and weight);
 * nearest copies its one tap's element, linear and cubic sum, per output element, the product
 * of the per-axis weights over every combination of the axes' taps. */
static int resize(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  double scales[IR_MAX_RANK];
  int64_t od[IR_MAX_RANK], xs[IR_MAX_RANK], k[IR_MAX_RANK], s = 1;
  ir_resize_scales(n, scales, od, NULL);
  for (int a = x->rank - 1; a >= 0; a--) xs[a] = s, s *= x->dims[a];
  int64_t *idx[IR_MAX_RANK] = {NULL};
  double *w[IR_MAX_RANK] = {NULL};
  for (int a = 0; a < x->rank; a++) {
    k[a] = ir_resize_tap_count(n, scales[a]);
    idx[a] = malloc(sizeof(int64_t) * (size_t)(k[a] * y->dims[a]));
    w[a] = malloc(sizeof(double) * (size_t)(k[a] * y->dims[a]));
    if (!idx[a] || !w[a]) abort();
    for (int64_t o = 0; o < y->dims[a]; o++)
      ir_resize_taps(n, o, scales[a], x->dims[a], y->dims[a], idx[a] + o * k[a], w[a] + o * k[a]);
  }
  bool nearest = !strcmp(ir_attr_s(n, "mode"), "nearest");
  size_t es = ir_dtype_size(x->dtype);
  for (int64_t e = 0; e < ir_value_numel(y); e++) {
    int64_t rest = e, o[IR_MAX_RANK], t[IR_MAX_RANK] = {0};
    for (int a = y->rank - 1; a >= 0; a--) o[a] = rest % y->dims[a], rest /= y->dims[a];
    double sum = 0;
    for (;;) { /* every combination t of the axes' taps */
      int64_t off = 0;
      double wt = 1;
      for (int a = 0; a < x->rank; a++) {
        off += idx[a][o[a] * k[a] + t[a]] * xs[a];
        wt *= w[a][o[a] * k[a] + t[a]];
      }
      if (nearest) {
        memcpy((char *)out[0] + e * (int64_t)es, (const char *)in[0] + off * (int64_t)es, es);
        break;
      }
      sum += wt * ((const float *)in[0])[off];
      int a = x->rank - 1;
      while (a >= 0 && ++t[a] == k[a]) t[a--] = 0;
      if (a < 0) break;
    }
    if (!nearest) ((float *)out[0])[e] = (float)sum;
  }
  for (int a = 0; a < x->rank; a++) free(idx[a]), free(w[a]);
  return KRT_OK;
}

int ir_interp_resize(const IrNode *n, const void *const *in, void *const *out) {
  return resize(n, in, out);
}
int ir_interp_upsample(const IrNode *n, const void *const *in, void *const *out) {
  return resize(n, in, out);
}

/* ---- Einsum -------------------------------------------------------------------------------- */

/* Every combination of label values: the product of the operands, summed in double into the
 * output element of the output labels. */
int ir_interp_einsum(const IrNode *n, const void *const *in, void *const *out) {
  IrEinsum e;
  ir_einsum_geometry(n, &e, NULL);
  int64_t n_y = ir_value_numel(n->outputs[0]), total = 1;
  for (int l = 0; l < e.n_labels; l++) total *= e.size[l];
  double *acc = calloc((size_t)n_y + 1, sizeof *acc);
  if (!acc) abort();
  for (int64_t i = 0; i < total; i++) {
    int64_t rest = i, yo = 0, ys = 1, off[2] = {0, 0};
    for (int l = e.n_labels - 1; l >= 0; l--) {
      int64_t v = rest % e.size[l];
      rest /= e.size[l];
      for (int k = 0; k < e.n_ops; k++) off[k] += v * e.stride[k][l];
      if (l < e.n_out) yo += v * ys, ys *= e.size[l];
    }
    double p = ((const float *)in[0])[off[0]];
    if (e.n_ops > 1) p *= ((const float *)in[1])[off[1]];
    acc[yo] += p;
  }
  for (int64_t i = 0; i < n_y; i++) ((float *)out[0])[i] = (float)acc[i];
  free(acc);
  return KRT_OK;
}
