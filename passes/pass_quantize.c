/* Static post-training int8 quantization (docs/quantization.md).
 *
 * 1. Calibration: the float graph runs on the samples through the compile-time evaluator
 *    (pass_eval.c); an observer keeps, per f32 value, its range (min-max) and, for the
 *    percentile and MSE observers, a histogram over that range (a second run).
 * 2. Parameters: activations per tensor, asymmetric: the range is widened to contain 0,
 *    scale = (max - min) / 255, zero point = round(-128 - min / scale). A range starting at 0
 *    (Relu, Clip(0, hi) outputs) gets zero point -128, so the int8 saturation is the Relu.
 *    Weights per output channel, symmetric: scale = max |w| / 127, zero point 0; the bias is
 *    int32 at scale x_scale * w_scale.
 * 3. Rewrite: each quantizable head becomes QLinearConv / QLinearConvTranspose / QGemm writing int8
 * (its lone Relu / Clip(0, hi) folded: the head takes the activation's output range), followed by a
 *    DequantizeLinear that produces the original float value for whoever still reads floats;
 *    an int8 input comes from the head before it, or from a QuantizeLinear. Flatten, Reshape
 *    and MaxPool of an int8 value stay int8, with the input's scale and zero point. Other ops
 *    with int8 forms (quantizable_other): Add/Mul, Sigmoid/Tanh, GlobalAveragePool, Concat,
 *    AveragePool (the input's parameters), Gather from a constant table (the table's). DCE
 *    later drops dequantizations nobody reads.
 * 4. Report: the quantized graph runs on (some of) the samples in the interpreter; each
 *    quantized layer's dequantized output is compared with its float value (SQNR, dB). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_params.h"
#include "pass.h"
#include "quant.h"

#define HIST_BINS 2048
#define REPORT_BYTES (64 << 20) /* float references kept for the error report */

typedef struct Stat {
  bool seen;
  float lo, hi;
  double *hist; /* HIST_BINS over [lo, hi], second run only */
} Stat;

typedef struct Calib {
  Stat *st; /* per value id */
  int pass; /* 0: ranges, 1: histograms, 2: report reference, 3: report compare */
  int sample;
  /* report: the float values of the quantized layers' outputs on the first samples (pass 2),
   * found again by pointer after the rewrite (pass 3) */
  int n_ref;
  const IrValue **rv;
  float **ref;
  double *sig, *err;
  /* the same for the graph's outputs (any dtype; integer ones counted equal or not) */
  char **oref;
  double *osig, *oerr, *odiff, *ocount;
} Calib;

/* Pass 2 keeps the graph's outputs of sample s, pass 3 compares the quantized graph's with them. */
static void compare_outputs(const IrGraph *g, Calib *cb, void *const *out) {
  if (!cb->oref || cb->pass < 2) return;
  for (int j = 0; j < g->n_outputs; j++) {
    const IrValue *v = g->outputs[j];
    size_t nb = (size_t)ir_value_nbytes(v), es = ir_dtype_size(v->dtype);
    char *f = cb->oref[j] + (size_t)cb->sample * nb;
    if (cb->pass == 2) {
      memcpy(f, out[j], nb);
      continue;
    }
    int64_t n = ir_value_numel(v);
    for (int64_t i = 0; i < n; i++) {
      const char *a = f + (size_t)i * es, *b = (const char *)out[j] + (size_t)i * es;
      if (v->dtype == IR_F32) {
        float x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        cb->osig[j] += (double)x * x;
        cb->oerr[j] += ((double)x - y) * ((double)x - y);
      } else if (memcmp(a, b, es)) {
        cb->odiff[j] += 1;
      }
      cb->ocount[j] += 1;
    }
  }
}

static void observe(void *ctx, const IrValue *v, const void *data) {
  Calib *cb = ctx;
  int64_t n = ir_value_numel(v);
  if (cb->pass >= 2) {
    int r = 0;
    while (r < cb->n_ref && cb->rv[r] != v) r++;
    if (r == cb->n_ref || v->dtype != IR_F32) return;
    float *f = cb->ref[r] + (size_t)cb->sample * (size_t)n;
    const float *x = data;
    if (cb->pass == 2) {
      memcpy(f, x, sizeof(float) * (size_t)n);
      return;
    }
    for (int64_t i = 0; i < n; i++) {
      cb->sig[r] += (double)f[i] * f[i];
      cb->err[r] += ((double)f[i] - x[i]) * ((double)f[i] - x[i]);
    }
    return;
  }
  Stat *s = &cb->st[v->id];
  if (v->dtype != IR_F32) return;
  const float *x = data;
  if (cb->pass == 0) {
    for (int64_t i = 0; i < n; i++) {
      if (!isfinite(x[i])) continue;
      if (!s->seen || x[i] < s->lo) s->lo = x[i];
      if (!s->seen || x[i] > s->hi) s->hi = x[i];
      s->seen = true;
    }
  } else if (s->hist) {
    double w = (double)s->hi - s->lo;
    for (int64_t i = 0; i < n; i++) {
      if (!isfinite(x[i])) continue;
      int b = w > 0 ? (int)(((double)x[i] - s->lo) / w * HIST_BINS) : 0;
      s->hist[b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b] += 1;
    }
  }
}

/* Runs g on every calibration sample (or the first `count`) with the observer. */
static bool run_samples(const IrGraph *g, const PassQuantOptions *q, Calib *cb, int count,
                        bool interp, IrDiag *d) {
  const void **in = calloc((size_t)g->n_inputs + 1, sizeof *in);
  void **out = calloc((size_t)g->n_outputs + 1, sizeof *out);
  if (!in || !out) abort();
  for (int j = 0; j < g->n_outputs; j++) {
    out[j] = malloc((size_t)ir_value_nbytes(g->outputs[j]) + 1);
    if (!out[j]) abort();
  }
  bool ok = true;
  for (int s = 0; s < count && ok; s++) {
    cb->sample = s;
    for (int i = 0; i < g->n_inputs; i++)
      in[i] = (const char *)q->samples[i] + (size_t)s * (size_t)ir_value_nbytes(g->inputs[i]);
    IrInterpHooks h = {.ctx = cb, .observe = observe};
    int rc = interp ? ir_interp_run_hooked(g, in, out, NULL, &h)
                    : pass_eval_run(g, in, out, observe, cb);
    if (rc != 0) {
      ir_diag_error(d, "--calibrate", "sample %d: the model returned error %d", s, rc);
      ok = false;
    }
    if (ok) compare_outputs(g, cb, out);
  }
  for (int j = 0; j < g->n_outputs; j++) free(out[j]);
  free(out);
  free(in);
  return ok;
}

/* ---- observers -------------------------------------------------------------------------- */

/* The histogram's value below which a fraction p of the samples lies. */
static float hist_quantile(const Stat *s, double p) {
  double total = 0, acc = 0;
  for (int b = 0; b < HIST_BINS; b++) total += s->hist[b];
  double w = ((double)s->hi - s->lo) / HIST_BINS;
  for (int b = 0; b < HIST_BINS; b++) {
    acc += s->hist[b];
    if (acc >= p * total) return (float)(s->lo + w * (b + 1));
  }
  return s->hi;
}

/* Expected squared error of quantizing the histogram to 256 levels over [lo, hi]. */
static double hist_mse(const Stat *s, double lo, double hi) {
  double w = ((double)s->hi - s->lo) / HIST_BINS, step = (hi - lo) / 255, e = 0;
  for (int b = 0; b < HIST_BINS; b++) {
    if (!s->hist[b]) continue;
    double x = s->lo + w * (b + 0.5);
    double c = x < lo ? lo - x : x > hi ? x - hi : 0;
    e += s->hist[b] * (c * c + step * step / 12);
  }
  return e;
}

static void activation_range(const Stat *s, const PassQuantOptions *q, float *lo, float *hi) {
  *lo = s->lo;
  *hi = s->hi;
  if (s->hist && q->observer == PASS_OBS_PERCENTILE) {
    double p = q->percentile / 100;
    *lo = s->lo < 0 ? hist_quantile(s, 1 - p) : s->lo;
    *hi = hist_quantile(s, p);
  } else if (s->hist && q->observer == PASS_OBS_MSE) {
    double best = INFINITY;
    for (int k = 1; k <= 100; k++) { /* shrink the range towards 0 in 1% steps */
      double f = k / 100.0, l = s->lo < 0 ? s->lo * f : s->lo, h = s->hi * f;
      double e = hist_mse(s, l < 0 ? l : 0, h > 0 ? h : 0);
      if (e < best) {
        best = e;
        *lo = (float)l;
        *hi = (float)h;
      }
    }
  }
}

/* (scale, zero point) of a range, widened to contain 0. */
static void range_params(float lo, float hi, float *scale, int8_t *zp) {
  if (lo > 0) lo = 0;
  if (hi < 0) hi = 0;
  double s = ((double)hi - lo) / 255;
  if (!(s > 1e-30)) s = 1e-30 > 0 && hi == lo ? 1.0 / 255 : s; /* constant 0: any scale */
  double z = round(-128 - lo / s);
  *scale = (float)s;
  *zp = (int8_t)(z < -128 ? -128 : z > 127 ? 127 : z);
}

/* ---- rewriting -------------------------------------------------------------------------- */

typedef struct Q {
  IrGraph *g;
  const PassQuantOptions *o;
  Stat *st;
  int n_values0;
  IrValue **qv; /* per original value id: its int8 version */
  float *scale; /* per original value id: its activation parameters */
  int8_t *zp;
  bool *has_params;
} Q;

static IrValue *scalar_f32(Q *q, const char *base, float v) {
  return pass_new_const(q->g, base, IR_F32, 0, NULL, &v);
}
static IrValue *scalar_i8(Q *q, const char *base, int8_t v) {
  return pass_new_const(q->g, base, IR_I8, 0, NULL, &v);
}

static IrValue *new_value(Q *q, const char *base, IrDType t, int rank, const int64_t *dims) {
  char name[512];
  IrValue *v = NULL;
  for (int k = 0; !v; k++) {
    snprintf(name, sizeof name, k ? "%s.%d" : "%s", base, k);
    v = ir_value_new(q->g, name, IR_VALUE_NODE, t, rank, dims);
  }
  return v;
}

static void set_quant(Q *q, IrValue *v, float scale, int8_t zp) {
  IrQuant *qu = ir_arena_alloc(q->g->arena, sizeof *qu);
  qu->axis = -1;
  qu->count = 1;
  qu->scale = ir_arena_alloc(q->g->arena, sizeof *qu->scale);
  qu->zero_point = ir_arena_alloc(q->g->arena, sizeof *qu->zero_point);
  qu->scale[0] = scale;
  qu->zero_point[0] = zp;
  v->quant = qu;
}

/* The int8 version of float value x: made by a quantized head, or a new QuantizeLinear. */
static IrValue *get_q(Q *q, IrValue *x) {
  if (q->qv[x->id]) return q->qv[x->id];
  char base[512];
  snprintf(base, sizeof base, "%s.q", x->name);
  IrValue *xq = new_value(q, base, IR_I8, x->rank, x->dims);
  set_quant(q, xq, q->scale[x->id], q->zp[x->id]);
  IrNode *n = ir_node_new(q->g, IR_OP_QUANTIZE_LINEAR, base, 3, 1);
  n->inputs[0] = x;
  n->inputs[1] = scalar_f32(q, "q.scale", q->scale[x->id]);
  n->inputs[2] = scalar_i8(q, "q.zero_point", q->zp[x->id]);
  ir_node_set_output(n, 0, xq);
  q->qv[x->id] = xq;
  return xq;
}

/* yq -> DequantizeLinear -> yf (the float value the original node produced) */
static void dequantize_into(Q *q, IrValue *yq, IrValue *yf) {
  char base[512];
  snprintf(base, sizeof base, "%s.dq", yf->name);
  IrNode *n = ir_node_new(q->g, IR_OP_DEQUANTIZE_LINEAR, base, 3, 1);
  n->inputs[0] = yq;
  n->inputs[1] = scalar_f32(q, "dq.scale", yq->quant->scale[0]);
  n->inputs[2] = scalar_i8(q, "dq.zero_point", (int8_t)yq->quant->zero_point[0]);
  ir_node_set_output(n, 0, yf);
  q->qv[yf->id] = yq;
}

static bool const_f32(const IrValue *v) {
  return v && v->kind == IR_VALUE_CONST && v->dtype == IR_F32 && !v->quant;
}

/* The head kinds this pass quantizes. */
static bool quantizable(const IrNode *n) {
  if (n->n_epilogue || !n->outputs[0] || n->outputs[0]->dtype != IR_F32) return false;
  const IrValue *x = n->inputs[0], *w = n->n_inputs > 1 ? n->inputs[1] : NULL;
  const IrValue *b = n->n_inputs > 2 ? n->inputs[2] : NULL;
  if (!x || x->dtype != IR_F32 || !const_f32(w) || (b && !const_f32(b))) return false;
  switch (n->op) {
  case IR_OP_CONV:
  case IR_OP_CONV_TRANSPOSE: return w->rank == 4 && x->rank == 4;
  case IR_OP_GEMM: {
    int64_t N = ir_attr_i(n, "transB") ? w->dims[0] : w->dims[1];
    return ir_attr_i(n, "transA") == 0 && ir_attr_f(n, "alpha") == 1.0 &&
           (!b ||
            (ir_attr_f(n, "beta") == 1.0 && ir_value_numel(b) == N && b->dims[b->rank - 1] == N)) &&
           x->rank == 2 && w->rank == 2;
  }
  case IR_OP_MATMUL: return x->rank == 2 && w->rank == 2;
  default: return false;
  }
}

static bool in_list(const char *list, const char *name) {
  if (!list || !name) return false;
  size_t len = strlen(name);
  for (const char *s = list; *s;) {
    size_t l = strcspn(s, ",");
    if (l == len && !strncmp(s, name, len)) return true;
    s += l + (s[l] == ',');
  }
  return false;
}

/* A Relu, or a Clip with constant lower bound 0, that alone reads y (not a graph output). */
static IrNode *foldable_activation(const IrGraph *g, const IrValue *y) {
  if (y->is_output || pass_use_count(g, y) != 1) return NULL;
  for (int i = 0; i < g->n_nodes; i++) {
    IrNode *a = g->nodes[i];
    if (a->n_inputs < 1 || a->inputs[0] != y) continue;
    if (a->op == IR_OP_RELU) return a;
    if (a->op == IR_OP_CLIP && a->n_inputs >= 2 && const_f32(a->inputs[1]) &&
        ir_value_numel(a->inputs[1]) == 1 && *(const float *)a->inputs[1]->data == 0.0f)
      return a;
    return NULL;
  }
  return NULL;
}

/* Where weight (output channel m, reduction index k) lies: Conv and Gemm transB [M][per],
 * MatMul / Gemm [K][M], ConvTranspose [C][M/group][kh][kw] (k = channel of the group, tap). */
typedef struct WeightAt {
  bool cols, convt;
  int64_t M, per, mpg, cpg, taps;
} WeightAt;

static int64_t weight_at(const WeightAt *a, int64_t m, int64_t k) {
  if (a->cols) return k * a->M + m;
  if (!a->convt) return m * a->per + k;
  int64_t g = m / a->mpg, mo = m % a->mpg, ci = k / a->taps, t = k % a->taps;
  return ((g * a->cpg + ci) * a->mpg + mo) * a->taps + t;
}

/* The int8 op a quantized head becomes. */
static IrOp quantized_op(const IrNode *n) {
  return n->op == IR_OP_CONV             ? IR_OP_QLINEAR_CONV
         : n->op == IR_OP_CONV_TRANSPOSE ? IR_OP_QLINEAR_CONV_TRANSPOSE
                                         : IR_OP_QGEMM;
}

/* n (Conv/ConvTranspose/Gemm/MatMul) and its folded activation a (or NULL) -> QLinearConv / QGemm.
 */
static void quantize_head(Q *q, IrNode *n, IrNode *a) {
  IrGraph *g = q->g;
  IrValue *x = n->inputs[0], *w = n->inputs[1], *b = n->n_inputs > 2 ? n->inputs[2] : NULL;
  IrValue *yf = a ? a->outputs[0] : n->outputs[0];
  bool convt = n->op == IR_OP_CONV_TRANSPOSE, conv = n->op == IR_OP_CONV || convt;
  bool tb = n->op == IR_OP_GEMM && ir_attr_i(n, "transB");
  int64_t group = convt ? ir_attr_i(n, "group") : 1;
  int64_t M = convt ? w->dims[1] * group : conv || tb ? w->dims[0] : w->dims[1];
  int64_t numel = ir_value_numel(w), per = numel / M;
  const float *wf = w->data;
  /* weight (m, k) of a [K][N] MatMul / Gemm weight lies at k * N + m */
  bool cols = !conv && !tb;
  WeightAt wa = {.cols = cols, .convt = convt, .M = M, .per = per};
  if (convt) {
    wa.mpg = w->dims[1];
    wa.cpg = w->dims[0] / group;
    wa.taps = w->dims[2] * w->dims[3];
  }
  float *ws = malloc(sizeof *ws * (size_t)M);
  int8_t *wq = malloc((size_t)numel), *wz = calloc((size_t)M, 1);
  int32_t *bq = malloc(sizeof *bq * (size_t)M);
  if (!ws || !wq || !wz || !bq) abort();
  IrValue *xq = get_q(q, x);
  float xs = xq->quant->scale[0];
  for (int64_t m = 0; m < M; m++) {
    float mx = 0;
    for (int64_t k = 0; k < per; k++) {
      float v = fabsf(wf[weight_at(&wa, m, k)]);
      if (v > mx) mx = v;
    }
    ws[m] = mx > 0 ? mx / 127 : 1.0f;
    for (int64_t k = 0; k < per; k++) {
      int64_t at = weight_at(&wa, m, k);
      double r = nearbyint(wf[at] / ws[m]);
      wq[at] = (int8_t)(r < -127 ? -127 : r > 127 ? 127 : r);
    }
    double bias = b ? ((const float *)b->data)[m] : 0, r = nearbyint(bias / ((double)xs * ws[m]));
    bq[m] = (int32_t)(r < -2147483647.0 ? -2147483647.0 : r > 2147483647.0 ? 2147483647.0 : r);
  }
  char base[512];
  snprintf(base, sizeof base, "%s.q", n->name);
  IrValue *wv = pass_new_const(g, base, IR_I8, w->rank, w->dims, wq);
  IrQuant *wqu = ir_arena_alloc(g->arena, sizeof *wqu);
  wqu->axis = cols || convt ? 1 : 0;
  wqu->count = M;
  wqu->scale = ir_arena_alloc(g->arena, sizeof(float) * (size_t)M);
  wqu->zero_point = ir_arena_alloc(g->arena, sizeof(int64_t) * (size_t)M);
  memcpy(wqu->scale, ws, sizeof(float) * (size_t)M);
  wv->quant = wqu;
  IrValue *wsv = pass_new_const(g, "w.scale", IR_F32, 1, &M, ws);
  IrValue *wzv = pass_new_const(g, "w.zero_point", IR_I8, 1, &M, wz);
  IrValue *bv = pass_new_const(g, "bias.q", IR_I32, 1, &M, bq);
  float ys = q->scale[yf->id];
  int8_t yz = q->zp[yf->id];
  IrValue *yq = new_value(q, base, IR_I8, yf->rank, yf->dims);
  set_quant(q, yq, ys, yz);
  IrNode *qn = ir_node_new(g, quantized_op(n), n->name, 9, 1);
  if (conv) {
    qn->attrs = n->attrs; /* QLinearConv's (QLinearConvTranspose's) attribute schema is Conv's */
    IrValue *ins[9] = {xq,
                       scalar_f32(q, "x.scale", xs),
                       scalar_i8(q, "x.zero_point", (int8_t)xq->quant->zero_point[0]),
                       wv,
                       wsv,
                       wzv,
                       scalar_f32(q, "y.scale", ys),
                       scalar_i8(q, "y.zero_point", yz),
                       bv};
    memcpy(qn->inputs, ins, sizeof ins);
  } else {
    ir_set_attr_i(g, qn, "transB", tb ? 1 : 0);
    IrValue *ins[9] = {xq,
                       scalar_f32(q, "a.scale", xs),
                       scalar_i8(q, "a.zero_point", (int8_t)xq->quant->zero_point[0]),
                       wv,
                       wsv,
                       wzv,
                       bv,
                       scalar_f32(q, "y.scale", ys),
                       scalar_i8(q, "y.zero_point", yz)};
    memcpy(qn->inputs, ins, sizeof ins);
  }
  ir_node_set_output(qn, 0, yq);
  dequantize_into(q, yq, yf);
  free(ws);
  free(wq);
  free(wz);
  free(bq);
}

/* The int8 op replacing a non-head node whose f32 inputs were all calibrated, or IR_OP_COUNT:
 * Add / Mul of two computed values (broadcasting as the float op) -> QAdd / QMul (elementwise
 * int8 with rescaling, ir/quant.h); Sigmoid / Tanh -> QLookup (a 256-entry table);
 * GlobalAveragePool -> QGlobalAveragePool. */
static IrOp quantizable_other(const Q *q, const IrNode *n) {
  IrOp op = n->op == IR_OP_ADD                              ? IR_OP_QADD
            : n->op == IR_OP_MUL                            ? IR_OP_QMUL
            : n->op == IR_OP_SIGMOID || n->op == IR_OP_TANH ? IR_OP_QLOOKUP
            : n->op == IR_OP_GLOBAL_AVERAGE_POOL            ? IR_OP_QGLOBAL_AVERAGE_POOL
            : n->op == IR_OP_CONCAT                         ? IR_OP_QCONCAT
            : n->op == IR_OP_AVERAGE_POOL                   ? IR_OP_QAVERAGE_POOL
            : n->op == IR_OP_GATHER                         ? IR_OP_GATHER
                                                            : IR_OP_COUNT;
  if (op == IR_OP_COUNT || n->n_epilogue || !n->outputs[0] || n->outputs[0]->dtype != IR_F32)
    return IR_OP_COUNT;
  if (op == IR_OP_GATHER) { /* an embedding table: a constant, int8 per tensor */
    const IrValue *t = n->inputs[0], *ids = n->inputs[1];
    return const_f32(t) && t->rank >= 1 && ids->kind != IR_VALUE_CONST &&
                   (ir_attr_i(n, "axis") == 0 || ir_attr_i(n, "axis") == -t->rank)
               ? op
               : IR_OP_COUNT;
  }
  if (op == IR_OP_QAVERAGE_POOL && (n->inputs[0]->rank != 4 || ir_pool_dilated(n)))
    return IR_OP_COUNT; /* 2-D, contiguous windows only */
  int inputs = op == IR_OP_QADD || op == IR_OP_QMUL ? 2 : op == IR_OP_QCONCAT ? n->n_inputs : 1;
  if (n->n_inputs != inputs || inputs < 1) return IR_OP_COUNT;
  for (int k = 0; k < inputs; k++) {
    const IrValue *v = n->inputs[k];
    if (v->dtype != IR_F32 || v->kind == IR_VALUE_CONST || v->id >= q->n_values0 ||
        !q->st[v->id].seen)
      return IR_OP_COUNT;
  }
  if (op == IR_OP_QADD) { /* an operand whose whole range is below one step of the sum's would
                           * vanish in it (logits + an attention mask of -10000): stays float */
    const Stat *y = n->outputs[0]->id < q->n_values0 ? &q->st[n->outputs[0]->id] : NULL;
    for (int k = 0; y && y->seen && k < 2; k++) {
      const Stat *x = &q->st[n->inputs[k]->id];
      if ((double)x->hi - x->lo < ((double)y->hi - y->lo) / 255) return IR_OP_COUNT;
    }
  }
  return op;
}

/* Sigmoid's output has the fixed range [0, 1] (scale 1/256, zero point -128), Tanh's [-1, 1]
 * (1/128, 0), as TFLite; the table holds f(dequantized x) quantized. */
static IrValue *lookup_table(Q *q, const IrNode *n, const IrValue *xq, float ys, int8_t yz) {
  int8_t t[256];
  float xs = xq->quant->scale[0];
  int32_t xz = (int32_t)xq->quant->zero_point[0];
  for (int i = 0; i < 256; i++) {
    double x = ir_dequantize_i8((int8_t)(i - 128), xs, xz);
    double f = n->op == IR_OP_SIGMOID ? 1 / (1 + exp(-x)) : tanh(x);
    t[i] = ir_quantize_f32((float)f, ys, yz);
  }
  return pass_new_const(q->g, "lut", IR_I8, 1, (int64_t[]){256}, t);
}

/* Gather from a float table: the table int8 per tensor (asymmetric, its own range), the
 * output int8 with the table's parameters. */
static void quantize_gather(Q *q, IrNode *n) {
  const IrValue *t = n->inputs[0];
  int64_t numel = ir_value_numel(t);
  const float *w = t->data;
  float lo = 0, hi = 0, ts;
  int8_t tz;
  for (int64_t i = 0; i < numel; i++) {
    if (w[i] < lo) lo = w[i];
    if (w[i] > hi) hi = w[i];
  }
  range_params(lo, hi, &ts, &tz);
  int8_t *tq = malloc((size_t)numel + 1);
  if (!tq) abort();
  for (int64_t i = 0; i < numel; i++) tq[i] = ir_quantize_f32(w[i], ts, tz);
  char base[512];
  snprintf(base, sizeof base, "%s.q", n->name);
  IrValue *tv = pass_new_const(q->g, base, IR_I8, t->rank, t->dims, tq);
  free(tq);
  set_quant(q, tv, ts, tz);
  IrValue *yf = n->outputs[0];
  IrValue *yq = new_value(q, base, IR_I8, yf->rank, yf->dims);
  set_quant(q, yq, ts, tz);
  IrNode *qn = ir_node_new(q->g, IR_OP_GATHER, n->name, 2, 1);
  qn->attrs = n->attrs;
  qn->inputs[0] = tv;
  qn->inputs[1] = n->inputs[1];
  ir_node_set_output(qn, 0, yq);
  dequantize_into(q, yq, yf);
}

/* QConcat: output parameters calibrated (they cover every input's range); ORT's QLinearConcat
 * inputs. */
static void quantize_concat(Q *q, IrNode *n, IrNode *act) {
  IrValue *yf = act ? act->outputs[0] : n->outputs[0];
  char base[512];
  snprintf(base, sizeof base, "%s.q", n->name);
  IrValue *yq = new_value(q, base, IR_I8, yf->rank, yf->dims);
  set_quant(q, yq, q->scale[yf->id], q->zp[yf->id]);
  IrNode *qn = ir_node_new(q->g, IR_OP_QCONCAT, n->name, 2 + 3 * n->n_inputs, 1);
  qn->attrs = n->attrs;
  qn->inputs[0] = scalar_f32(q, "y.scale", q->scale[yf->id]);
  qn->inputs[1] = scalar_i8(q, "y.zero_point", q->zp[yf->id]);
  for (int k = 0; k < n->n_inputs; k++) {
    IrValue *x = get_q(q, n->inputs[k]);
    qn->inputs[2 + 3 * k] = x;
    qn->inputs[3 + 3 * k] = scalar_f32(q, "x.scale", x->quant->scale[0]);
    qn->inputs[4 + 3 * k] = scalar_i8(q, "x.zero_point", (int8_t)x->quant->zero_point[0]);
  }
  ir_node_set_output(qn, 0, yq);
  dequantize_into(q, yq, yf);
}

/* QAveragePool: the output keeps the input's parameters (TFLite's int8 average pool) */
static void quantize_average_pool(Q *q, IrNode *n) {
  IrValue *yf = n->outputs[0], *xq = get_q(q, n->inputs[0]);
  char base[512];
  snprintf(base, sizeof base, "%s.q", n->name);
  IrValue *yq = new_value(q, base, IR_I8, yf->rank, yf->dims);
  set_quant(q, yq, xq->quant->scale[0], (int8_t)xq->quant->zero_point[0]);
  IrNode *qn = ir_node_new(q->g, IR_OP_QAVERAGE_POOL, n->name, 3, 1);
  qn->attrs = n->attrs;
  qn->inputs[0] = xq;
  qn->inputs[1] = scalar_f32(q, "x.scale", xq->quant->scale[0]);
  qn->inputs[2] = scalar_i8(q, "x.zero_point", (int8_t)xq->quant->zero_point[0]);
  ir_node_set_output(qn, 0, yq);
  dequantize_into(q, yq, yf);
}

static void quantize_other(Q *q, IrNode *n, IrNode *act, IrOp op) {
  if (op == IR_OP_GATHER || op == IR_OP_QCONCAT || op == IR_OP_QAVERAGE_POOL) {
    if (op == IR_OP_GATHER) quantize_gather(q, n);
    if (op == IR_OP_QCONCAT) quantize_concat(q, n, act);
    if (op == IR_OP_QAVERAGE_POOL) quantize_average_pool(q, n);
    return;
  }
  IrValue *yf = act ? act->outputs[0] : n->outputs[0];
  char base[512];
  snprintf(base, sizeof base, "%s.q", n->name);
  float ys = q->scale[yf->id];
  int8_t yz = q->zp[yf->id];
  if (op == IR_OP_QLOOKUP) {
    ys = n->op == IR_OP_SIGMOID ? 1.0f / 256 : 1.0f / 128;
    yz = n->op == IR_OP_SIGMOID ? -128 : 0;
  }
  IrValue *yq = new_value(q, base, IR_I8, yf->rank, yf->dims);
  set_quant(q, yq, ys, yz);
  int n_in = op == IR_OP_QADD || op == IR_OP_QMUL ? 8 : op == IR_OP_QLOOKUP ? 2 : 5;
  IrNode *qn = ir_node_new(q->g, op, n->name, n_in, 1);
  IrValue *x[2] = {get_q(q, n->inputs[0]), n_in == 8 ? get_q(q, n->inputs[1]) : NULL};
  int k = 0;
  for (int j = 0; j < (n_in == 8 ? 2 : 1); j++) {
    qn->inputs[k++] = x[j];
    if (op == IR_OP_QLOOKUP) break;
    qn->inputs[k++] = scalar_f32(q, j ? "b.scale" : "x.scale", x[j]->quant->scale[0]);
    qn->inputs[k++] =
        scalar_i8(q, j ? "b.zero_point" : "x.zero_point", (int8_t)x[j]->quant->zero_point[0]);
  }
  if (op == IR_OP_QLOOKUP) {
    qn->inputs[k++] = lookup_table(q, n, x[0], ys, yz);
  } else {
    qn->inputs[k++] = scalar_f32(q, "y.scale", ys);
    qn->inputs[k++] = scalar_i8(q, "y.zero_point", yz);
  }
  ir_node_set_output(qn, 0, yq);
  dequantize_into(q, yq, yf);
}

static void quantize_view(Q *q, IrNode *n) {
  IrValue *xq = q->qv[n->inputs[0]->id], *yf = n->outputs[0];
  char base[512];
  snprintf(base, sizeof base, "%s.q", yf->name);
  IrValue *yq = new_value(q, base, IR_I8, yf->rank, yf->dims);
  set_quant(q, yq, xq->quant->scale[0], (int8_t)xq->quant->zero_point[0]);
  IrNode *v = ir_node_new(q->g, n->op, base, n->n_inputs, 1);
  v->attrs = n->attrs;
  for (int k = 0; k < n->n_inputs; k++) v->inputs[k] = n->inputs[k];
  v->inputs[0] = xq;
  ir_node_set_output(v, 0, yq);
  dequantize_into(q, yq, yf);
}

/* The per-tensor i8 parameters of a simple Q/DQ node n (scale input 1, zero point input 2). */
static IrQuant *node_quant(IrGraph *g, const IrNode *n) {
  IrQuant *qu = ir_arena_alloc(g->arena, sizeof *qu);
  qu->axis = -1;
  qu->count = 1;
  qu->scale = ir_arena_alloc(g->arena, sizeof *qu->scale);
  qu->zero_point = ir_arena_alloc(g->arena, sizeof *qu->zero_point);
  qu->scale[0] = *(const float *)n->inputs[1]->data;
  qu->zero_point[0] = n->n_inputs > 2 && n->inputs[2] ? *(const int8_t *)n->inputs[2]->data : 0;
  return qu;
}

/* --quant-io=int8: every graph input that one QuantizeLinear alone reads becomes that int8
 * value (same name, IrValue.quant = its scale and zero point), every graph output a
 * DequantizeLinear writes becomes the int8 value it reads; those nodes go. Anything else (a
 * float first or last layer) is an error naming the tensor: the user asked for int8 I/O. */
static bool quant_io_int8(IrGraph *g, bool calibrated, IrDiag *d) {
  /* without --quantize (a pre-quantized model): what the user must do instead */
  const char *hint = calibrated ? "use --quant-io=float"
                                : "use --quant-io=float, or compile a float model with "
                                  "--quantize=int8 --calibrate";
  bool *dead = calloc((size_t)g->n_nodes + 1, 1);
  if (!dead) abort();
  bool ok = true;
  for (int i = 0; ok && i < g->n_inputs; i++) {
    IrValue *x = g->inputs[i];
    IrNode *qn = NULL;
    const IrNode *other = NULL;
    for (int j = 0; j < g->n_nodes; j++)
      for (int k = 0; k < g->nodes[j]->n_inputs; k++)
        if (g->nodes[j]->inputs[k] == x) {
          IrNode *n = g->nodes[j];
          bool q = n->op == IR_OP_QUANTIZE_LINEAR && k == 0 && !qn && ir_qdq_is_simple(n);
          if (q)
            qn = n;
          else
            other = n;
        }
    if (!qn || other || x->is_output || x->state) {
      const IrNode *q8 = other && other->op == IR_OP_QUANTIZE_LINEAR ? other : NULL;
      const IrValue *z8 = q8 && q8->n_inputs > 2 ? q8->inputs[2] : NULL;
      if (x->dtype != IR_F32)
        ir_diag_error(d, "--quant-io=int8",
                      "input '%s' is %s already (the model's own data): int8 I/O replaces an f32 "
                      "input and its QuantizeLinear (use --quant-io=float)",
                      x->name, ir_dtype_name(x->dtype));
      else if (other && other->op == IR_OP_DYNAMIC_QUANTIZE_LINEAR)
        ir_diag_error(d, "--quant-io=int8",
                      "input '%s' is quantized at run time by %s (DynamicQuantizeLinear): its "
                      "scale changes with every input, there is no fixed int8 form (use "
                      "--quant-io=float)",
                      x->name, other->name);
      else if (q8 && !z8) /* ONNX's default: u8 */
        ir_diag_error(d, "--quant-io=int8",
                      "input '%s' is quantized by %s to u8 (no zero point): int8 I/O takes a "
                      "per-tensor i8 QuantizeLinear (%s)",
                      x->name, other->name, hint);
      else if (q8)
        ir_diag_error(d, "--quant-io=int8",
                      "input '%s' is quantized by %s %s: int8 I/O takes a per-tensor i8 "
                      "QuantizeLinear as its only reader (-O1 and up make a u8 one that only "
                      "DequantizeLinear reads i8; %s)",
                      x->name, other->name,
                      ir_value_numel(other->inputs[1]) > 1 ? "per axis"
                      : z8->dtype != IR_I8                 ? "to u8"
                                                           : "among other readers",
                      hint);
      else
        ir_diag_error(d, "--quant-io=int8",
                      "input '%s' is read by %s (%s), not by one QuantizeLinear alone: its "
                      "first layer stays float (%s)",
                      x->name, other ? other->name : "no QuantizeLinear",
                      other ? ir_op_info[other->op].name : "-", hint);
      ok = false;
      break;
    }
    IrValue *xq = qn->outputs[0];
    x->dtype = IR_I8;
    x->quant = node_quant(g, qn);
    pass_replace_uses(g, xq, x);
    dead[qn->id] = true;
  }
  for (int i = 0; ok && i < g->n_outputs; i++) {
    IrValue *y = g->outputs[i];
    IrNode *dq = y->kind == IR_VALUE_NODE ? y->producer : NULL;
    IrValue *yq =
        dq && dq->op == IR_OP_DEQUANTIZE_LINEAR && ir_qdq_is_simple(dq) ? dq->inputs[0] : NULL;
    if (!yq || yq->kind != IR_VALUE_NODE || yq->is_output || ir_value_use_count(g, y) > 0 ||
        y->state) {
      bool dq8 = dq && dq->op == IR_OP_DEQUANTIZE_LINEAR && !yq;
      ir_diag_error(d, "--quant-io=int8",
                    "output '%s' is %s%s, not the DequantizeLinear of an int8 layer read by "
                    "nothing else: its last layer stays float (%s)",
                    y->name,
                    y->kind == IR_VALUE_NODE ? ir_op_info[y->producer->op].name : "not computed",
                    dq8 ? " of u8 or per-axis data" : "", hint);
      ok = false;
      break;
    }
    IrNode *p = yq->producer;
    int slot = yq->producer_slot;
    y->quant = node_quant(g, dq);
    y->dtype = IR_I8;
    dead[dq->id] = true;
    pass_replace_uses(g, yq, y); /* other readers of the int8 value */
    ir_node_set_output(p, slot, y);
  }
  if (ok) pass_compact(g, dead);
  free(dead);
  return ok && ir_graph_sort(g, d) && ir_graph_infer_shapes(g, d);
}

bool pass_quantize(IrGraph *g, const PassOptions *po, IrDiag *d) {
  const PassQuantOptions *o = po->quant;
  if (!o) return false;
  if (o->weights_only) return pass_quantize_weights(g, po, d);
  if (!o->samples) /* --quant-io=int8 of a pre-quantized (QDQ) model: its boundary Q/DQ */
    return o->int8_io && quant_io_int8(g, false, d);
  int nv = g->n_values;
  Calib cb = {.st = calloc((size_t)nv + 1, sizeof(Stat))};
  if (!cb.st) abort();
  bool ok = run_samples(g, o, &cb, o->n_samples, false, d);
  if (ok && o->observer != PASS_OBS_MINMAX) {
    for (int i = 0; i < nv; i++)
      if (cb.st[i].seen && !(cb.st[i].hist = calloc(HIST_BINS, sizeof(double)))) abort();
    cb.pass = 1;
    ok = run_samples(g, o, &cb, o->n_samples, false, d);
  }
  Q q = {.g = g, .o = o, .st = cb.st, .n_values0 = nv};
  q.qv = calloc((size_t)nv + 1, sizeof *q.qv);
  q.scale = calloc((size_t)nv + 1, sizeof *q.scale);
  q.zp = calloc((size_t)nv + 1, 1);
  if (!q.qv || !q.scale || !q.zp) abort();
  for (int i = 0; ok && i < nv; i++) {
    float lo = 0, hi = 0;
    if (cb.st[i].seen) activation_range(&cb.st[i], o, &lo, &hi);
    range_params(lo, hi, &q.scale[i], &q.zp[i]);
  }
  /* decide: the heads to quantize, their folded activations, their float output values */
  int n0 = g->n_nodes, n_heads = 0;
  IrNode **nodes = malloc(sizeof *nodes * (size_t)(n0 + 1));
  IrNode **acts = calloc((size_t)n0 + 1, sizeof *acts);
  const IrValue **yvals = calloc((size_t)n0 + 1, sizeof *yvals);
  bool *dead = calloc((size_t)n0 + 1, 1);
  if (!nodes || !acts || !yvals || !dead) abort();
  memcpy(nodes, g->nodes, sizeof *nodes * (size_t)n0);
  int n_layers = 0;
  bool *recurrent = calloc((size_t)n0 + 1, 1); /* int8 weights, f32 activations and state */
  if (!recurrent) abort();
  for (int i = 0; ok && i < n0; i++) {
    IrNode *n = nodes[i];
    if (pass_weight8_recurrent_applies(n)) { /* measured on its first output (Y or Y_h) */
      const IrValue *y = n->outputs[0] ? n->outputs[0] : n->outputs[1];
      bool keep = in_list(o->keep_fp32, n->name);
      if (o->layers && n_layers < o->max_layers)
        o->layers[n_layers++] = (PassQuantLayer){
            .node = n->name, .op = ir_op_info[n->op].name, .sqnr_db = NAN, .kept_fp32 = keep};
      if (keep || !y) continue;
      yvals[n_heads++] = y;
      recurrent[i] = true;
      continue;
    }
    IrOp other = quantizable(n) ? IR_OP_COUNT : quantizable_other(&q, n);
    if (!quantizable(n) && other == IR_OP_COUNT) continue;
    bool keep = in_list(o->keep_fp32, n->name);
    if (o->layers && n_layers < o->max_layers)
      o->layers[n_layers++] =
          (PassQuantLayer){.node = n->name,
                           .op = ir_op_info[keep                   ? n->op
                                            : other != IR_OP_COUNT ? other
                                                                   : quantized_op(n)]
                                     .name,
                           .sqnr_db = NAN,
                           .kept_fp32 = keep};
    if (keep) continue;
    IrNode *a = other == IR_OP_QLOOKUP || other == IR_OP_QAVERAGE_POOL || other == IR_OP_GATHER
                    ? NULL
                    : foldable_activation(g, n->outputs[0]);
    acts[i] = a;
    yvals[n_heads++] = a ? a->outputs[0] : n->outputs[0];
    dead[i] = true;
  }
  if (o->n_layers) *o->n_layers = n_layers;
  /* the report's float references */
  int64_t per_sample = 0;
  for (int r = 0; r < n_heads; r++) per_sample += ir_value_numel(yvals[r]) * 4;
  for (int j = 0; j < g->n_outputs; j++) per_sample += ir_value_nbytes(g->outputs[j]);
  int ref_samples = o->n_samples;
  if (per_sample && ref_samples > REPORT_BYTES / per_sample)
    ref_samples = (int)(REPORT_BYTES / per_sample);
  if (ref_samples > 100) ref_samples = 100;
  cb.n_ref = n_heads;
  cb.rv = yvals;
  cb.ref = calloc((size_t)n_heads + 1, sizeof *cb.ref);
  cb.sig = calloc((size_t)n_heads + 1, sizeof *cb.sig);
  cb.err = calloc((size_t)n_heads + 1, sizeof *cb.err);
  if (!cb.ref || !cb.sig || !cb.err) abort();
  for (int r = 0; r < n_heads; r++)
    if (!(cb.ref[r] = malloc(sizeof(float) * (size_t)(ir_value_numel(yvals[r]) * ref_samples) + 1)))
      abort();
  int n_out = g->n_outputs;
  cb.oref = calloc((size_t)n_out + 1, sizeof *cb.oref);
  cb.osig = calloc((size_t)n_out + 1, sizeof *cb.osig);
  cb.oerr = calloc((size_t)n_out + 1, sizeof *cb.oerr);
  cb.odiff = calloc((size_t)n_out + 1, sizeof *cb.odiff);
  cb.ocount = calloc((size_t)n_out + 1, sizeof *cb.ocount);
  if (!cb.oref || !cb.osig || !cb.oerr || !cb.odiff || !cb.ocount) abort();
  for (int j = 0; j < n_out; j++)
    if (!(cb.oref[j] = malloc((size_t)ir_value_nbytes(g->outputs[j]) * (size_t)ref_samples + 1)))
      abort();
  if (ok && n_heads && ref_samples > 0) {
    /* integer outputs (ArgMax ...) are compared for equality: their reference comes from the
     * interpreter, as the quantized graph's does, so that a near tie that the float evaluator's
     * single-precision GEMM breaks differently does not count as quantization error */
    bool int_out = false;
    for (int j = 0; j < g->n_outputs; j++) int_out |= g->outputs[j]->dtype != IR_F32;
    cb.pass = 2;
    ok = run_samples(g, o, &cb, ref_samples, int_out, d);
  }
  /* rewrite */
  int n_recurrent = 0;
  for (int i = 0; ok && i < n0; i++) {
    IrNode *n = nodes[i];
    if (dead[i] && quantizable(n)) {
      quantize_head(&q, n, acts[i]);
      if (acts[i]) dead[acts[i]->id] = true;
    } else if (dead[i] && quantizable_other(&q, n) != IR_OP_COUNT) {
      quantize_other(&q, n, acts[i], quantizable_other(&q, n));
      if (acts[i]) dead[acts[i]->id] = true;
    } else if (!dead[i] &&
               (n->op == IR_OP_FLATTEN || n->op == IR_OP_RESHAPE || n->op == IR_OP_MAX_POOL) &&
               n->n_outputs == 1 && n->inputs[0]->id < nv && q.qv[n->inputs[0]->id] &&
               !in_list(o->keep_fp32, n->name)) {
      quantize_view(&q, n);
      dead[i] = true;
    } else if (recurrent[i] && pass_weight8_recurrent(g, n, d)) {
      n_recurrent++;
    }
    ok = ok && !d->n_errors;
  }
  bool changed = n_heads + n_recurrent > 0;
  if (ok && changed) {
    bool *all = calloc((size_t)g->n_nodes + 1, 1);
    if (!all) abort();
    memcpy(all, dead, (size_t)n0);
    pass_compact(g, all);
    free(all);
    ok = ir_graph_sort(g, d) && ir_graph_infer_shapes(g, d);
  }
  /* report: the quantized graph in the interpreter (the oracle) on the same samples */
  if (ok && changed && ref_samples > 0) {
    cb.pass = 3;
    ok = run_samples(g, o, &cb, ref_samples, true, d);
    if (o->report)
      fprintf(o->report,
              "kiln: int8 calibration on %d sample%s (%s), error of each layer's "
              "output against fp32 on %d:\n  %-28s %-18s %9s\n",
              o->n_samples, o->n_samples == 1 ? "" : "s",
              o->observer == PASS_OBS_MINMAX ? "minmax"
              : o->observer == PASS_OBS_MSE  ? "mse"
                                             : "percentile",
              ref_samples, "layer", "op", "SQNR dB");
    for (int r = 0, l = 0; r < n_heads; r++) {
      double db = cb.err[r] > 0 ? 10 * log10(cb.sig[r] / cb.err[r]) : INFINITY;
      const IrNode *p = yvals[r]->producer; /* the DequantizeLinear, or a recurrent node */
      const IrNode *qn = p && p->inputs[0] ? p->inputs[0]->producer : NULL;
      if (p && p->op != IR_OP_DEQUANTIZE_LINEAR) qn = p;
      const char *name = qn ? qn->name : yvals[r]->name;
      while (o->layers && l < n_layers && o->layers[l].kept_fp32) l++;
      if (o->layers && l < n_layers) o->layers[l++].sqnr_db = db;
      if (o->report)
        fprintf(o->report, "  %-28s %-18s %9.2f\n", name, qn ? ir_op_info[qn->op].name : "?", db);
    }
    /* the model's outputs: what --quant-keep-fp32=auto judges */
    if (o->report && n_out == g->n_outputs) fprintf(o->report, "  model outputs against fp32:\n");
    for (int j = 0; j < n_out && j < g->n_outputs; j++) {
      const IrValue *v = g->outputs[j];
      bool fl = v->dtype == IR_F32;
      double db = !fl ? NAN : cb.oerr[j] > 0 ? 10 * log10(cb.osig[j] / cb.oerr[j]) : INFINITY;
      double agree = fl || !cb.ocount[j] ? NAN : 1 - cb.odiff[j] / cb.ocount[j];
      if (o->outputs && j < o->max_outputs)
        o->outputs[j] = (PassQuantOutput){.name = v->name, .sqnr_db = db, .agree = agree};
      if (o->report && fl)
        fprintf(o->report, "  %-28s %-18s %9.2f\n", v->name, "output", db);
      else if (o->report)
        fprintf(o->report, "  %-28s %-18s %8.2f%% equal\n", v->name, "output", 100 * agree);
    }
    if (o->n_outputs) *o->n_outputs = n_out < g->n_outputs ? n_out : g->n_outputs;
  }
  if (ok && o->int8_io) ok = quant_io_int8(g, true, d);
  for (int r = 0; r < n_heads; r++) free(cb.ref[r]);
  for (int j = 0; j < n_out; j++) free(cb.oref[j]);
  free(cb.oref);
  free(cb.osig);
  free(cb.oerr);
  free(cb.odiff);
  free(cb.ocount);
  free(cb.ref);
  free(cb.sig);
  free(cb.err);
  free(q.qv);
  free(q.scale);
  free(q.zp);
  free(nodes);
  free(acts);
  free(dead);
  free(recurrent);
  free(yvals);
  for (int i = 0; i < nv; i++) free(cb.st[i].hist);
  free(cb.st);
  return (changed || o->int8_io) && ok;
}

void pass_plan_int8(IrNode *n, const PassOptions *o) {
  if (n->op == IR_OP_QGEMM) {
    n->kernel = IR_KERNEL_QGEMM_DOT4;
    /* scalar targets: room for the activations widened to i16 (Arm DSP) */
    n->scratch_bytes = ir_qgemm_scratch_bytes(n) * (o && o->vec_lanes == 1 ? 2 : 1);
    return;
  }
  IrNode tmp;
  IrValue *ins[3];
  IrConvParams p;
  bool integer = n->op == IR_OP_CONV_INTEGER; /* ConvInteger: raw sums, no loop nest */
  if (integer)
    ir_conv_integer_as_conv(n, &tmp, ins);
  else
    ir_qconv_as_conv(n, &tmp, ins);
  if (!ir_conv_params(&tmp, &p, NULL)) return;
  /* depthwise: one output row per group, no reduction across channels to tile; the loop nest's
   * per-row accumulators (vectorized over pixels) do better than a 1-row GEMM per channel */
  if (p.c_per_group == 1 && p.m_per_group == 1 && !integer) return;
  IrQConvPanel q;
  ir_qconv_panel(&p, o && o->conv_panel_bytes > 0 ? o->conv_panel_bytes : IR_CONV_PANEL_BYTES,
                 o && o->tile_cols_max > 0 ? o->tile_cols_max : IR_TILE_COLS_MAX,
                 o && o->vec_lanes == 1, &q); /* scalar targets: room for Arm DSP i16 pairs */
  n->kernel = IR_KERNEL_QCONV_DOT4;
  n->scratch_bytes = q.bytes;
  /* vector targets, stride 1 along rows, kernels over 1x1: room for the group's input in a
   * zero-point-padded copy of 4-channel words, which the im2col copies rows from (cg_quant.c) */
  if (o && o->vec_lanes > 1 && p.stride_w == 1 && p.kh * p.kw > 1)
    n->scratch_bytes +=
        (p.c_per_group + 3) / 4 * (p.h + p.pad_t + p.pad_b) * (p.w + p.pad_l + p.pad_r) * 4;
  /* ConvInteger: its run-time bias and row sums before the panel (ir_conv_integer_extra_bytes) */
  int64_t extra = integer ? ir_conv_integer_extra_bytes(n) : 0;
  n->scratch_bytes += extra;
  /* AVX-512 VNNI: the direct convolution (cg_quant.c, CgQGemm.direct_taps) where it applies:
   * stride 1, more than one tap (up to 64), output rows that tile the tile's strip of 4 x 16
   * columns or that it tiles, not a first layer (1-3 input channels, one group: the wide form
   * of lower_qconv_wide; ConvInteger, which has no wide form on vector targets, keeps the
   * interleaved copy there: cifar_cnn's 3-channel conv1 measured 7.2 us direct against 4.9-6.7
   * us with it); --conv=im2col (or loops) keeps im2col. Its scratch is the zero-point-padded
   * interleaved copy of one group's input alone (ConvInteger: after its bias and row sums). */
  int force = o ? o->conv_kernel : 0;
  enum { VNNI_LANES = 16, VNNI_STRIP = 4 * VNNI_LANES };
  int64_t taps = p.kh * p.kw;
  bool first = p.c <= 3 && p.group == 1 && (p.c * taps + 3) / 4 <= 64;
  if (o && o->x86_vnni && force != IR_KERNEL_CONV_GEMM && force != IR_KERNEL_COUNT &&
      p.stride_h == 1 && p.stride_w == 1 && taps > 1 && taps <= 64 && !first &&
      p.ow % VNNI_LANES == 0 && (VNNI_STRIP % p.ow == 0 || p.ow % VNNI_STRIP == 0) &&
      p.oh * p.ow % VNNI_STRIP == 0) {
    n->kernel = IR_KERNEL_QCONV_DIRECT;
    n->scratch_bytes =
        extra + (p.c_per_group + 3) / 4 * (p.h + p.pad_t + p.pad_b) * (p.w + p.pad_l + p.pad_r) * 4;
    return;
  }
  /* Arm DSP (smlad): the int8 Winograd where it applies, is exact for this layer's parameters
   * and costs fewer instructions (ir_qconv_winograd_cost); --conv=winograd wherever it applies,
   * --conv=im2col (or loops) never: its U takes 16 i16 per 3x3 in flash, 3.6x the int8 bytes */
  IrQWinograd w;
  double wino, direct;
  ir_qconv_winograd_cost(&p, &wino, &direct);
  if (o && o->arm_dsp && force != IR_KERNEL_CONV_GEMM && force != IR_KERNEL_COUNT &&
      ir_qconv_winograd(&p, o->conv_panel_bytes > 0 ? o->conv_panel_bytes : IR_CONV_PANEL_BYTES,
                        IR_QWINO_COLS, 0, &w) &&
      ir_qconv_winograd_exact(n) && (force == IR_KERNEL_CONV_WINOGRAD || wino < direct)) {
    n->kernel = IR_KERNEL_QCONV_WINOGRAD;
    n->scratch_bytes = w.bytes; /* ConvInteger: no bias or row sums (x - x_zp, w - w_zp) */
  }
}
