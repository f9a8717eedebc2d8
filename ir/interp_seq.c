/* Reference kernels of the sequence-model ops (issue 3): Gather. Plain loops following the
 * ONNX definitions; see interp.c for the conventions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir_util.h"
#include "kernels.h"
#include "krt.h"

/* Index j of an i32 or i64 index tensor. */
static int64_t index_at(const IrValue *v, const void *data, int64_t j) {
  return v->dtype == IR_I64 ? ((const int64_t *)data)[j] : ((const int32_t *)data)[j];
}

int ir_interp_gather(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *iv = n->inputs[1];
  int64_t outer, len, inner;
  ir_gather_geometry(n, &outer, &len, &inner);
  int64_t count = ir_value_numel(iv);
  const char *src = in[0];
  char *dst = out[0];
  for (int64_t j = 0; j < count; j++) {
    int64_t k = index_at(iv, in[1], j);
    if (k < 0) k += len;
    if (k < 0 || k >= len) return KRT_ERR_INDEX_RANGE;
    for (int64_t o = 0; o < outer; o++)
      memcpy(dst + (o * count + j) * inner, src + (o * len + k) * inner, (size_t)inner);
  }
  return KRT_OK;
}

/* ---- reductions ---------------------------------------------------------------------------- */

enum { RED_SUM, RED_MEAN, RED_MAX, RED_MIN, RED_PROD, RED_L1, RED_L2, RED_SUM_SQUARE, RED_LSE };

/* Element strides of a row-major tensor of shape (rank, dims). */
static void row_strides(int rank, const int64_t *dims, int64_t *strides) {
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; d--) strides[d] = s, s *= dims[d];
}

/* Which axes a Reduce* node reduces (0 with noop_with_empty_axes and no axes: the identity). */
static unsigned reduce_mask(const IrNode *n) {
  unsigned mask;
  int count;
  const IrValue *x = n->inputs[0];
  ir_node_axes(n, 1, x->rank, &mask, &count, NULL);
  if (count == 0 && !ir_attr_i(n, "noop_with_empty_axes")) mask = (1u << x->rank) - 1;
  return mask;
}

/* Accumulates in double: input element i goes to the output element whose index is i's with
 * the reduced axes dropped. */
static int reduce(const IrNode *n, const void *const *in, void *const *out, int kind) {
  const IrValue *x = n->inputs[0];
  unsigned mask = reduce_mask(n);
  int64_t kdims[IR_MAX_RANK], ostr[IR_MAX_RANK];
  for (int d = 0; d < x->rank; d++) kdims[d] = (mask & (1u << d)) ? 1 : x->dims[d];
  row_strides(x->rank, kdims, ostr);
  for (int d = 0; d < x->rank; d++)
    if (mask & (1u << d)) ostr[d] = 0;
  int64_t n_in = ir_value_numel(x), n_out = ir_value_numel(n->outputs[0]);
  double *acc = malloc(sizeof *acc * (size_t)n_out + 1);
  if (!acc) abort();
  double *mx = malloc(sizeof *mx * (size_t)n_out + 1); /* LogSumExp: the max, subtracted */
  if (!mx) abort();
  const float *xs = in[0];
  for (int64_t o = 0; o < n_out; o++)
    acc[o] = kind == RED_MAX    ? -INFINITY
             : kind == RED_MIN  ? INFINITY
             : kind == RED_PROD ? 1.0
                                : 0.0,
    mx[o] = -INFINITY;
  if (kind == RED_LSE)
    for (int64_t i = 0; i < n_in; i++) {
      int64_t o = ir_broadcast_offset(i, x->rank, x->dims, ostr);
      mx[o] = xs[i] > mx[o] || isnan(xs[i]) ? xs[i] : mx[o];
    }
  for (int64_t i = 0; i < n_in; i++) {
    int64_t o = ir_broadcast_offset(i, x->rank, x->dims, ostr);
    double v = xs[i];
    switch (kind) {
    case RED_MAX: acc[o] = (v > acc[o] || isnan(v)) && !isnan(acc[o]) ? v : acc[o]; break;
    case RED_MIN: acc[o] = (v < acc[o] || isnan(v)) && !isnan(acc[o]) ? v : acc[o]; break;
    case RED_PROD: acc[o] *= v; break;
    case RED_L1: acc[o] += fabs(v); break;
    case RED_L2:
    case RED_SUM_SQUARE: acc[o] += v * v; break;
    case RED_LSE: acc[o] += isinf(mx[o]) ? exp(v) : exp(v - mx[o]); break;
    default: acc[o] += v; break;
    }
  }
  float *y = out[0];
  for (int64_t o = 0; o < n_out; o++) {
    double r = acc[o];
    if (kind == RED_MEAN) r /= (double)(n_in / n_out);
    if (kind == RED_L2) r = sqrt(r);
    if (kind == RED_LSE) r = isinf(mx[o]) ? log(r) : mx[o] + log(r);
    y[o] = (float)r;
  }
  free(acc);
  free(mx);
  return KRT_OK;
}

int ir_interp_reduce_mean(const IrNode *n, const void *const *in, void *const *out) {
  return reduce(n, in, out, RED_MEAN);
}
int ir_interp_reduce_sum(const IrNode *n, const void *const *in, void *const *out) {
  return reduce(n, in, out, RED_SUM);
}
int ir_interp_reduce_max(const IrNode *n, const void *const *in, void *const *out) {
  return reduce(n, in, out, RED_MAX);
}
int ir_interp_reduce_min(const IrNode *n, const void *const *in, void *const *out) {
  return reduce(n, in, out, RED_MIN);
}
int ir_interp_reduce_prod(const IrNode *n, const void *const *in, void *const *out) {
  return reduce(n, in, out, RED_PROD);
}
int ir_interp_reduce_l1(const IrNode *n, const void *const *in, void *const *out) {
  return reduce(n, in, out, RED_L1);
}
int ir_interp_reduce_l2(const IrNode *n, const void *const *in, void *const *out) {
  return reduce(n, in, out, RED_L2);
}
int ir_interp_reduce_sum_square(const IrNode *n, const void *const *in, void *const *out) {
  return reduce(n, in, out, RED_SUM_SQUARE);
}
int ir_interp_reduce_log_sum_exp(const IrNode *n, const void *const *in, void *const *out) {
  return reduce(n, in, out, RED_LSE);
}

/* ---- data movement ------------------------------------------------------------------------- */

/* out[i] = x[offset of i's index permuted back]: output axis d walks input axis perm[d]. */
int ir_interp_transpose(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  const IrAttr *p = ir_attr(n, "perm");
  int64_t xstr[IR_MAX_RANK], str[IR_MAX_RANK];
  row_strides(x->rank, x->dims, xstr);
  for (int d = 0; d < x->rank; d++) str[d] = xstr[p->present ? p->ints[d] : x->rank - 1 - d];
  size_t es = ir_dtype_size(x->dtype);
  for (int64_t i = 0; i < ir_value_numel(y); i++)
    memcpy((char *)out[0] + i * (int64_t)es,
           (const char *)in[0] + ir_broadcast_offset(i, y->rank, y->dims, str) * (int64_t)es, es);
  return KRT_OK;
}

static int copy_bytes(const IrNode *n, const void *const *in, void *const *out) {
  memcpy(out[0], in[0], (size_t)ir_value_nbytes(n->outputs[0]));
  return KRT_OK;
}
int ir_interp_squeeze(const IrNode *n, const void *const *in, void *const *out) {
  return copy_bytes(n, in, out);
}
int ir_interp_unsqueeze(const IrNode *n, const void *const *in, void *const *out) {
  return copy_bytes(n, in, out);
}

/* ---- LayerNormalization -------------------------------------------------------------------- */

int ir_interp_layer_norm(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *x = n->inputs[0];
  int64_t axis = ir_attr_i(n, "axis");
  if (axis < 0) axis += x->rank;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < x->rank; d++) *(d < axis ? &outer : &inner) *= x->dims[d];
  double eps = (float)ir_attr_f(n, "epsilon");
  const float *xs = in[0], *scale = in[1], *bias = n->n_inputs > 2 ? in[2] : NULL;
  float *y = out[0];
  for (int64_t o = 0; o < outer; o++) {
    const float *r = xs + o * inner;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < inner; i++) mean += r[i];
    mean /= (double)inner;
    for (int64_t i = 0; i < inner; i++) var += (r[i] - mean) * (r[i] - mean);
    double rstd = 1 / sqrt(var / (double)inner + eps);
    for (int64_t i = 0; i < inner; i++)
      y[o * inner + i] = (float)((r[i] - mean) * rstd * scale[i] + (bias ? bias[i] : 0.0));
  }
  return KRT_OK;
}

/* ---- recurrent ops ------------------------------------------------------------------------- */

/* ONNX equations with the node's activations (default f = sigmoid, g = h = tanh; RNN f = tanh),
 * in double. Gate blocks: RNN [i]; GRU [z r h] with linear_before_reset=1; LSTM [i o f c]. */
static int recurrent(const IrNode *n, const void *const *in, void *const *out) {
  IrRecurrent r;
  ir_recurrent_geometry(n, &r);
  int64_t T = r.T, B = r.B, I = r.I, H = r.H, GH = r.G * r.H;
  /* int8 weights (weight-only): dequantized first, then the same f32 recurrence */
  int ns = n->n_inputs;
  float *Wq = ns > IR_RECURRENT_W_SCALE
                  ? ir_recurrent_dequantize(n, 1, in[1], in[IR_RECURRENT_W_SCALE])
                  : NULL;
  float *Rq = ns > IR_RECURRENT_R_SCALE
                  ? ir_recurrent_dequantize(n, 2, in[2], in[IR_RECURRENT_R_SCALE])
                  : NULL;
  const float *X = in[0], *W = Wq ? Wq : in[1], *R = Rq ? Rq : in[2];
  const float *Bias = n->n_inputs > 3 ? in[3] : NULL, *h0 = n->n_inputs > 5 ? in[5] : NULL;
  const float *c0 = n->n_inputs > 6 ? in[6] : NULL;
  float *Y = out[0], *Yh = n->n_outputs > 1 ? out[1] : NULL;
  float *Yc = n->n_outputs > 2 ? out[2] : NULL;
  double *h = calloc((size_t)(B * H) + 1, sizeof *h), *c = calloc((size_t)(B * H) + 1, sizeof *c);
  double *gx = malloc(sizeof *gx * (size_t)GH), *gr = malloc(sizeof *gr * (size_t)GH);
  if (!h || !c || !gx || !gr) abort();
  IrAct acts[2][3];
  ir_recurrent_activations(n, acts, NULL);
  for (int d = 0; d < r.D; d++) {
    bool rev = r.reverse || d == 1;
    const IrAct *f = &acts[d][0], *g = &acts[d][1], *hf = &acts[d][2];
    const float *Wd = W + d * GH * I, *Rd = R + d * GH * H;
    for (int64_t i = 0; i < B * H; i++) {
      h[i] = h0 ? h0[d * B * H + i] : 0.0;
      c[i] = c0 ? c0[d * B * H + i] : 0.0;
    }
    for (int64_t s = 0; s < T; s++) {
      int64_t t = rev ? T - 1 - s : s;
      for (int64_t b = 0; b < B; b++) {
        double *hb = h + b * H, *cb = c + b * H;
        const float *xt = X + (t * B + b) * I;
        for (int64_t j = 0; j < GH; j++) {
          double ax = Bias ? Bias[d * 2 * GH + j] : 0.0,
                 ah = Bias ? Bias[d * 2 * GH + GH + j] : 0.0;
          for (int64_t i = 0; i < I; i++) ax += (double)xt[i] * Wd[j * I + i];
          for (int64_t k = 0; k < H; k++) ah += hb[k] * Rd[j * H + k];
          gx[j] = ax, gr[j] = ah;
        }
        for (int64_t k = 0; k < H; k++) {
          if (n->op == IR_OP_RNN) {
            hb[k] = ir_act_apply(f, gx[k] + gr[k]);
          } else if (n->op == IR_OP_GRU) {
            double z = ir_act_apply(f, gx[k] + gr[k]), rr = ir_act_apply(f, gx[H + k] + gr[H + k]);
            double hh = ir_act_apply(g, gx[2 * H + k] + rr * gr[2 * H + k]);
            hb[k] = (1 - z) * hh + z * hb[k];
          } else {
            double ig = ir_act_apply(f, gx[k] + gr[k]), og = ir_act_apply(f, gx[H + k] + gr[H + k]);
            double fg = ir_act_apply(f, gx[2 * H + k] + gr[2 * H + k]);
            double cc = ir_act_apply(g, gx[3 * H + k] + gr[3 * H + k]);
            cb[k] = fg * cb[k] + ig * cc;
            hb[k] = og * ir_act_apply(hf, cb[k]);
          }
          if (Y) Y[((t * r.D + d) * B + b) * H + k] = (float)hb[k];
        }
      }
    }
    for (int64_t i = 0; i < B * H; i++) {
      if (Yh) Yh[d * B * H + i] = (float)h[i];
      if (Yc) Yc[d * B * H + i] = (float)c[i];
    }
  }
  free(h), free(c), free(gx), free(gr), free(Wq), free(Rq);
  return KRT_OK;
}

float *ir_recurrent_dequantize(const IrNode *n, int k, const void *w, const void *scale) {
  if (n->inputs[k]->dtype != IR_I8) return NULL;
  IrRecurrent r;
  ir_recurrent_geometry(n, &r);
  int64_t rows = r.D * r.G * r.H, len = k == 1 ? r.I : r.H;
  const int8_t *q = w;
  const float *s = scale;
  float *f = malloc(sizeof *f * (size_t)(rows * len) + 1);
  if (!f) abort();
  for (int64_t j = 0; j < rows; j++)
    for (int64_t i = 0; i < len; i++) f[j * len + i] = (float)q[j * len + i] * s[j];
  return f;
}

int ir_interp_rnn(const IrNode *n, const void *const *in, void *const *out) {
  return recurrent(n, in, out);
}
int ir_interp_gru(const IrNode *n, const void *const *in, void *const *out) {
  return recurrent(n, in, out);
}
int ir_interp_lstm(const IrNode *n, const void *const *in, void *const *out) {
  return recurrent(n, in, out);
}

/* ---- Slice --------------------------------------------------------------------------------- */

int ir_interp_slice(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], dims[IR_MAX_RANK], xs[IR_MAX_RANK];
  ir_slice_params(n, start, step, dims, NULL);
  row_strides(x->rank, x->dims, xs);
  int64_t base = 0, str[IR_MAX_RANK];
  for (int d = 0; d < x->rank; d++) base += start[d] * xs[d], str[d] = step[d] * xs[d];
  size_t es = ir_dtype_size(x->dtype);
  for (int64_t i = 0; i < ir_value_numel(y); i++)
    memcpy((char *)out[0] + i * (int64_t)es,
           (const char *)in[0] +
               (base + ir_broadcast_offset(i, y->rank, y->dims, str)) * (int64_t)es,
           es);
  return KRT_OK;
}

/* ---- Pow ----------------------------------------------------------------------------------- */

int ir_interp_pow(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *va = n->inputs[0], *vb = n->inputs[1], *vy = n->outputs[0];
  int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK];
  ir_broadcast_strides(va->rank, va->dims, vy->rank, vy->dims, sa);
  ir_broadcast_strides(vb->rank, vb->dims, vy->rank, vy->dims, sb);
  const float *x = in[0], *e = in[1];
  float *y = out[0];
  for (int64_t i = 0; i < ir_value_numel(vy); i++)
    y[i] = (float)pow(x[ir_broadcast_offset(i, vy->rank, vy->dims, sa)],
                      e[ir_broadcast_offset(i, vy->rank, vy->dims, sb)]);
  return KRT_OK;
}

/* ---- comparisons, Where, Cast -------------------------------------------------------------- */

typedef struct {
  bool is_float;
  double f;
  int64_t i;
} Scalar;

static Scalar load_scalar(IrDType t, const void *p, int64_t k) {
  switch (t) {
  case IR_F32: return (Scalar){true, ((const float *)p)[k], 0};
  case IR_I8: return (Scalar){false, 0, ((const int8_t *)p)[k]};
  case IR_U8:
  case IR_BOOL: return (Scalar){false, 0, ((const uint8_t *)p)[k]};
  case IR_I16: return (Scalar){false, 0, ((const int16_t *)p)[k]};
  case IR_I32: return (Scalar){false, 0, ((const int32_t *)p)[k]};
  case IR_I64: return (Scalar){false, 0, ((const int64_t *)p)[k]};
  default: abort(); /* f16: rejected by shape inference */
  }
}

/* Saturating float -> integer in [lo, hi], NaN -> 0 (LLVM's fptosi.sat, which codegen uses). */
static int64_t sat(double f, double lo, double hi) {
  if (isnan(f)) return 0;
  if (f <= lo) return (int64_t)lo;
  if (f >= hi) return hi >= 9.2e18 ? INT64_MAX : (int64_t)hi;
  return (int64_t)f;
}

static void store_scalar(IrDType t, void *p, int64_t k, Scalar v) {
  switch (t) {
  case IR_F32: ((float *)p)[k] = v.is_float ? (float)v.f : (float)v.i; break;
  case IR_BOOL: ((uint8_t *)p)[k] = v.is_float ? v.f != 0 : v.i != 0; break;
  case IR_I8: ((int8_t *)p)[k] = (int8_t)(v.is_float ? sat(v.f, -128, 127) : v.i); break;
  case IR_U8: ((uint8_t *)p)[k] = (uint8_t)(v.is_float ? sat(v.f, 0, 255) : v.i); break;
  case IR_I16: ((int16_t *)p)[k] = (int16_t)(v.is_float ? sat(v.f, -32768, 32767) : v.i); break;
  case IR_I32:
    ((int32_t *)p)[k] = (int32_t)(v.is_float ? sat(v.f, -2147483648.0, 2147483647.0) : v.i);
    break;
  case IR_I64:
    ((int64_t *)p)[k] = v.is_float ? sat(v.f, -9223372036854775808.0, 9223372036854775807.0) : v.i;
    break;
  default: abort();
  }
}

static int compare(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *va = n->inputs[0], *vb = n->inputs[1], *vy = n->outputs[0];
  int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK];
  ir_broadcast_strides(va->rank, va->dims, vy->rank, vy->dims, sa);
  ir_broadcast_strides(vb->rank, vb->dims, vy->rank, vy->dims, sb);
  uint8_t *y = out[0];
  for (int64_t i = 0; i < ir_value_numel(vy); i++) {
    Scalar a = load_scalar(va->dtype, in[0], ir_broadcast_offset(i, vy->rank, vy->dims, sa));
    Scalar b = load_scalar(vb->dtype, in[1], ir_broadcast_offset(i, vy->rank, vy->dims, sb));
    int c = a.is_float ? (a.f < b.f    ? -1
                          : a.f > b.f  ? 1
                          : a.f == b.f ? 0
                                       : 2)
                       : (a.i < b.i   ? -1
                          : a.i > b.i ? 1
                                      : 0); /* 2: unordered (NaN) */
    y[i] = n->op == IR_OP_EQUAL ? c == 0 : n->op == IR_OP_LESS ? c == -1 : c == 1;
  }
  return KRT_OK;
}

int ir_interp_equal(const IrNode *n, const void *const *in, void *const *out) {
  return compare(n, in, out);
}
int ir_interp_less(const IrNode *n, const void *const *in, void *const *out) {
  return compare(n, in, out);
}
int ir_interp_greater(const IrNode *n, const void *const *in, void *const *out) {
  return compare(n, in, out);
}

int ir_interp_where(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *vy = n->outputs[0];
  int64_t st[3][IR_MAX_RANK];
  for (int k = 0; k < 3; k++)
    ir_broadcast_strides(n->inputs[k]->rank, n->inputs[k]->dims, vy->rank, vy->dims, st[k]);
  size_t es = ir_dtype_size(vy->dtype);
  for (int64_t i = 0; i < ir_value_numel(vy); i++) {
    bool c = ((const uint8_t *)in[0])[ir_broadcast_offset(i, vy->rank, vy->dims, st[0])] != 0;
    int k = c ? 1 : 2;
    memcpy((char *)out[0] + i * (int64_t)es,
           (const char *)in[k] + ir_broadcast_offset(i, vy->rank, vy->dims, st[k]) * (int64_t)es,
           es);
  }
  return KRT_OK;
}

int ir_interp_cast(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  for (int64_t i = 0; i < ir_value_numel(y); i++)
    store_scalar(y->dtype, out[0], i, load_scalar(x->dtype, in[0], i));
  return KRT_OK;
}

/* ---- Split --------------------------------------------------------------------------------- */

int ir_interp_split(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *x = n->inputs[0];
  int axis;
  int64_t *sizes = malloc(sizeof *sizes * (size_t)n->n_outputs); /* up to IR_MAX_VARIADIC */
  int64_t outer = 1, inner = (int64_t)ir_dtype_size(x->dtype), at = 0;
  if (!sizes) abort();
  ir_split_sizes(n, &axis, sizes, NULL);
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
  for (int j = 0; j < n->n_outputs; j++) {
    for (int64_t o = 0; out[j] && o < outer; o++)
      memcpy((char *)out[j] + o * sizes[j] * inner,
             (const char *)in[0] + (o * x->dims[axis] + at) * inner, (size_t)(sizes[j] * inner));
    at += sizes[j];
  }
  free(sizes);
  return KRT_OK;
}

/* ---- Shape, Constant, ConstantOfShape, Expand, Range ---------------------------------------- */

int ir_interp_shape(const IrNode *n, const void *const *in, void *const *out) {
  (void)in; /* only the input's shape is read: Shape folds even when the input is computed */
  int start, end;
  ir_shape_bounds(n, &start, &end);
  for (int i = start; i < end; i++) ((int64_t *)out[0])[i - start] = n->inputs[0]->dims[i];
  return KRT_OK;
}

int ir_interp_constant(const IrNode *n, const void *const *in, void *const *out) {
  (void)in;
  const IrValue *y = n->outputs[0];
  static const char *const names[4] = {"value_float", "value_floats", "value_int", "value_ints"};
  for (int k = 0; k < 4; k++) {
    const IrAttr *a = ir_attr(n, names[k]);
    if (!a->present) continue;
    for (int64_t i = 0; i < ir_value_numel(y); i++) {
      if (k == 0) ((float *)out[0])[i] = (float)a->f;
      if (k == 1) ((float *)out[0])[i] = (float)a->floats[i];
      if (k == 2) ((int64_t *)out[0])[i] = a->i;
      if (k == 3) ((int64_t *)out[0])[i] = a->ints[i];
    }
  }
  return KRT_OK;
}

int ir_interp_constant_of_shape(const IrNode *n, const void *const *in, void *const *out) {
  (void)in;
  const IrAttr *value = ir_attr(n, "value");
  float v = value->present ? (float)value->floats[0] : 0.0f;
  for (int64_t i = 0; i < ir_value_numel(n->outputs[0]); i++) ((float *)out[0])[i] = v;
  return KRT_OK;
}

int ir_interp_expand(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  int64_t st[IR_MAX_RANK];
  ir_broadcast_strides(x->rank, x->dims, y->rank, y->dims, st);
  size_t es = ir_dtype_size(y->dtype);
  for (int64_t i = 0; i < ir_value_numel(y); i++)
    memcpy((char *)out[0] + i * (int64_t)es,
           (const char *)in[0] + ir_broadcast_offset(i, y->rank, y->dims, st) * (int64_t)es, es);
  return KRT_OK;
}

/* out[i] = start + i * delta, in double for f32 (as numpy's arange), in i64 for integers */
int ir_interp_range(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *y = n->outputs[0];
  for (int64_t i = 0; i < ir_value_numel(y); i++) {
    if (y->dtype == IR_F32)
      ((float *)out[0])[i] =
          (float)((double)*(const float *)in[0] + (double)i * *(const float *)in[2]);
    else if (y->dtype == IR_I32)
      ((int32_t *)out[0])[i] = (int32_t)(*(const int32_t *)in[0] + i * *(const int32_t *)in[2]);
    else
      ((int64_t *)out[0])[i] = *(const int64_t *)in[0] + i * *(const int64_t *)in[2];
  }
  return KRT_OK;
}
