/* Reference interpreter: the driver and the element-wise, normalization and data-movement
 * kernels (interp_nn.c has the matrix, convolution and pooling ones). Kernels are plain loops
 * that follow the ONNX definitions literally; sums and transcendental functions are evaluated in
 * double, since this is the oracle compiled code is checked against. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir_util.h"
#include "kernels.h"
#include "krt.h"

/* Step e of n's fused epilogue, in place on y (the head's output): the step's kernel runs on a
 * copy of its node whose running-value inputs (NULL) are the head's output. */
static int run_epilogue_step(const IrNode *n, int e, const void *const *data, void *y) {
  const IrNode *step = n->epilogue[e];
  IrNode tmp = *step;
  IrValue *ins[IR_MAX_STEP_INPUTS], *outs[1] = {n->outputs[0]};
  const void *in[IR_MAX_STEP_INPUTS];
  assert(step->n_inputs <= IR_MAX_STEP_INPUTS); /* the verifier checked the step's arity */
  for (int k = 0; k < step->n_inputs; k++) {
    bool running = !step->inputs[k] && (k == 0 || (ir_op_info[step->op].flags & IR_OPF_BINARY));
    ins[k] = running ? n->outputs[0] : step->inputs[k];
    in[k] = running ? y : ins[k] ? data[ins[k]->id] : NULL;
  }
  tmp.inputs = ins;
  tmp.outputs = outs;
  tmp.n_outputs = 1;
  void *out[1] = {y};
  return ir_op_info[step->op].interp(&tmp, in, out);
}

int ir_interp_run(const IrGraph *g, const void *const *inputs, void *const *outputs) {
  return ir_interp_run_hooked(g, inputs, outputs, NULL, NULL);
}

int ir_interp_run_state(const IrGraph *g, const void *const *inputs, void *const *outputs,
                        void *state) {
  return ir_interp_run_hooked(g, inputs, outputs, state, NULL);
}

int ir_interp_run_hooked(const IrGraph *g, const void *const *inputs, void *const *outputs,
                         void *state, const IrInterpHooks *hooks) {
  if ((g->n_inputs && !inputs) || (g->n_outputs && !outputs)) return KRT_ERR_NULL_ARG;
  if (g->n_states && !state) return KRT_ERR_NULL_ARG;
  for (int i = 0; i < g->n_inputs; i++)
    if (!inputs[i]) return KRT_ERR_NULL_ARG;
  for (int i = 0; i < g->n_outputs; i++)
    if (!outputs[i]) return KRT_ERR_NULL_ARG;

  /* Every node result gets its own buffer: a graph output may also be read by later nodes, so
   * results are copied out only at the end. */
  const void **data = calloc((size_t)g->n_values + 1, sizeof *data);
  void **owned = calloc((size_t)g->n_values + 1, sizeof *owned);
  if (!data || !owned) abort();
  for (int i = 0; i < g->n_values; i++)
    if (g->values[i]->kind == IR_VALUE_CONST) data[i] = g->values[i]->data;
  for (int i = 0; i < g->n_inputs; i++) {
    data[g->inputs[i]->id] = inputs[i];
    if (hooks && hooks->observe) hooks->observe(hooks->ctx, g->inputs[i], inputs[i]);
  }
  for (int i = 0; i < g->n_states; i++)
    data[g->states[i].in->id] = (const char *)state + g->states[i].offset;

  int rc = KRT_OK;
  for (int i = 0; i < g->n_nodes && rc == KRT_OK; i++) {
    const IrNode *n = g->nodes[i];
    const void **in = calloc((size_t)n->n_inputs + 1, sizeof *in);
    void **out = calloc((size_t)n->n_outputs + 1, sizeof *out);
    if (!in || !out) abort();
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k]) {
        in[k] = data[n->inputs[k]->id];
        assert(in[k] && "input not computed: graph not sorted?");
      }
    for (int j = 0; j < n->n_outputs; j++) {
      const IrValue *v = n->outputs[j];
      if (!v) continue;
      out[j] = malloc((size_t)ir_value_nbytes(v) + 1);
      if (!out[j]) abort();
      owned[v->id] = out[j];
      data[v->id] = out[j];
    }
    rc = hooks && hooks->run_node ? hooks->run_node(hooks->ctx, n, in, out) : IR_INTERP_DEFAULT;
    if (rc == IR_INTERP_DEFAULT) rc = ir_op_info[n->op].interp(n, in, out);
    for (int e = 0; e < n->n_epilogue && rc == KRT_OK; e++)
      rc = run_epilogue_step(n, e, data, out[0]);
    for (int j = 0; j < n->n_outputs && rc == KRT_OK && hooks && hooks->observe; j++)
      if (n->outputs[j]) hooks->observe(hooks->ctx, n->outputs[j], out[j]);
    free(in);
    free(out);
  }
  for (int i = 0; i < g->n_outputs && rc == KRT_OK; i++) {
    const IrValue *v = g->outputs[i];
    assert(data[v->id]);
    /* memmove: a caller may pass the same buffer for an input and an output */
    memmove(outputs[i], data[v->id], (size_t)ir_value_nbytes(v));
  }
  /* states last: until the end every node saw the values of the call's start */
  for (int i = 0; i < g->n_states && rc == KRT_OK; i++) {
    const IrValue *v = g->states[i].out;
    assert(data[v->id]);
    memmove((char *)state + g->states[i].offset, data[v->id], (size_t)ir_value_nbytes(v));
  }
  for (int i = 0; i < g->n_values; i++) free(owned[i]);
  free(owned);
  free(data);
  return rc;
}

/* ---- element-wise --------------------------------------------------------------------- */

typedef double (*UnaryFn)(double x, const IrNode *n);

static int map_unary(const IrNode *n, const void *const *in, void *const *out, UnaryFn f) {
  const float *x = in[0];
  float *y = out[0];
  int64_t count = ir_value_numel(n->outputs[0]);
  for (int64_t i = 0; i < count; i++) y[i] = (float)f(x[i], n);
  return KRT_OK;
}

/* Comparisons written so that NaN passes through unchanged. */
static double relu(double x, const IrNode *n) {
  (void)n;
  return x < 0 ? 0 : x;
}

static double leaky_relu(double x, const IrNode *n) {
  return x < 0 ? (double)(float)ir_attr_f(n, "alpha") * x : x;
}

static double sigmoid(double x, const IrNode *n) {
  (void)n;
  if (x >= 0) return 1 / (1 + exp(-x));
  double e = exp(x); /* no overflow of exp(-x) for very negative x */
  return e / (1 + e);
}

static double tanh_(double x, const IrNode *n) {
  (void)n;
  return tanh(x);
}

int ir_interp_relu(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, relu);
}

int ir_interp_leaky_relu(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, leaky_relu);
}

int ir_interp_sigmoid(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, sigmoid);
}

int ir_interp_tanh(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, tanh_);
}

static double exp_(double x, const IrNode *n) {
  (void)n;
  return exp(x);
}
static double log_(double x, const IrNode *n) {
  (void)n;
  return log(x);
}
static double sqrt_(double x, const IrNode *n) {
  (void)n;
  return sqrt(x);
}
static double neg_(double x, const IrNode *n) {
  (void)n;
  return -x;
}
static double abs_(double x, const IrNode *n) {
  (void)n;
  return fabs(x);
}
static double erf_(double x, const IrNode *n) {
  (void)n;
  return erf(x);
}
int ir_interp_exp(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, exp_);
}
int ir_interp_log(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, log_);
}
int ir_interp_sqrt(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, sqrt_);
}
int ir_interp_neg(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, neg_);
}
int ir_interp_abs(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, abs_);
}
int ir_interp_erf(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, erf_);
}

static double gelu(double x, const IrNode *n) {
  if (strcmp(ir_attr_s(n, "approximate"), "tanh") == 0)
    return 0.5 * x * (1 + tanh(0.7978845608028654 /* sqrt(2 / pi) */ * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1 + erf(x / sqrt(2.0)));
}
int ir_interp_gelu(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, gelu);
}

/* Activations and rounding of issue 13 (ONNX definitions; Round is half to even: rint in the
 * default rounding mode). */
static double elu(double x, const IrNode *n) {
  return x < 0 ? (double)(float)ir_attr_f(n, "alpha") * (exp(x) - 1) : x;
}
static double selu(double x, const IrNode *n) {
  double a = (float)ir_attr_f(n, "alpha"), g = (float)ir_attr_f(n, "gamma");
  return x <= 0 ? g * (a * exp(x) - a) : g * x;
}
static double softplus(double x, const IrNode *n) {
  (void)n;
  return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}
static double softsign(double x, const IrNode *n) {
  (void)n;
  return x / (1 + fabs(x));
}
static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }
static double hard_sigmoid(double x, const IrNode *n) {
  return clamp01((double)(float)ir_attr_f(n, "alpha") * x + (double)(float)ir_attr_f(n, "beta"));
}
static double hard_swish(double x, const IrNode *n) {
  (void)n;
  return x * clamp01(x / 6 + 0.5);
}
static double mish(double x, const IrNode *n) { return x * tanh(softplus(x, n)); }
static double reciprocal(double x, const IrNode *n) {
  (void)n;
  return 1 / x;
}
static double floor_(double x, const IrNode *n) {
  (void)n;
  return floor(x);
}
static double ceil_(double x, const IrNode *n) {
  (void)n;
  return ceil(x);
}
static double round_(double x, const IrNode *n) {
  (void)n;
  return rint(x);
}
static double sign_(double x, const IrNode *n) {
  (void)n;
  return x > 0 ? 1 : x < 0 ? -1 : x; /* 0 and NaN unchanged */
}
int ir_interp_elu(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, elu);
}
int ir_interp_selu(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, selu);
}
int ir_interp_softplus(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, softplus);
}
int ir_interp_softsign(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, softsign);
}
int ir_interp_hard_sigmoid(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, hard_sigmoid);
}
int ir_interp_hard_swish(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, hard_swish);
}
int ir_interp_mish(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, mish);
}
int ir_interp_reciprocal(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, reciprocal);
}
int ir_interp_floor(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, floor_);
}
int ir_interp_ceil(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, ceil_);
}
int ir_interp_round(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, round_);
}
int ir_interp_sign(const IrNode *n, const void *const *in, void *const *out) {
  return map_unary(n, in, out, sign_);
}

int ir_interp_clip(const IrNode *n, const void *const *in, void *const *out) {
  /* min / max are constant scalars (checked by inference); absent means unbounded */
  float lo = n->n_inputs > 1 && in[1] ? *(const float *)in[1] : -INFINITY;
  float hi = n->n_inputs > 2 && in[2] ? *(const float *)in[2] : INFINITY;
  const float *x = in[0];
  float *y = out[0];
  int64_t count = ir_value_numel(n->outputs[0]);
  for (int64_t i = 0; i < count; i++) {
    float v = x[i] < lo ? lo : x[i];
    y[i] = v > hi ? hi : v; /* min(max(x, lo), hi): hi wins if lo > hi, as onnxruntime */
  }
  return KRT_OK;
}

/* Integer element i of an i32 or i64 tensor. */
static int64_t int_at(IrDType t, const void *p, int64_t i) {
  return t == IR_I64 ? ((const int64_t *)p)[i] : ((const int32_t *)p)[i];
}

/* i32 / i64 Add, Sub, Mul, Div: wrapping two's complement (computed in uint64, then truncated to
 * the width), Div truncating toward zero with INT_MIN / -1 wrapping to INT_MIN, a zero divisor an
 * error. */
static int binary_int(const IrNode *n, const void *const *in, void *const *out, const int64_t *sa,
                      const int64_t *sb) {
  const IrValue *vy = n->outputs[0];
  IrDType t = vy->dtype;
  for (int64_t i = 0; i < ir_value_numel(vy); i++) {
    int64_t x1 = int_at(t, in[0], ir_broadcast_offset(i, vy->rank, vy->dims, sa));
    int64_t x2 = int_at(t, in[1], ir_broadcast_offset(i, vy->rank, vy->dims, sb));
    uint64_t u1 = (uint64_t)x1, u2 = (uint64_t)x2, r;
    switch (n->op) {
    case IR_OP_ADD: r = u1 + u2; break;
    case IR_OP_SUB: r = u1 - u2; break;
    case IR_OP_MUL: r = u1 * u2; break;
    default:
      if (x2 == 0) return KRT_ERR_DIV_ZERO;
      r = x2 == -1 ? 0 - u1 : (uint64_t)(x1 / x2);
      break;
    }
    if (t == IR_I64)
      ((int64_t *)out[0])[i] = (int64_t)r;
    else
      ((int32_t *)out[0])[i] = (int32_t)(uint32_t)r;
  }
  return KRT_OK;
}

/* The four binary ops through one broadcasting loop. Single float operations are correctly
 * rounded, so computing them in float is already exact-as-possible. */
static int binary(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *va = n->inputs[0], *vb = n->inputs[1], *vy = n->outputs[0];
  int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK];
  ir_broadcast_strides(va->rank, va->dims, vy->rank, vy->dims, sa);
  ir_broadcast_strides(vb->rank, vb->dims, vy->rank, vy->dims, sb);
  if (vy->dtype != IR_F32) return binary_int(n, in, out, sa, sb);
  const float *a = in[0], *b = in[1];
  float *y = out[0];
  int64_t count = ir_value_numel(vy);
  for (int64_t i = 0; i < count; i++) {
    float x1 = a[ir_broadcast_offset(i, vy->rank, vy->dims, sa)];
    float x2 = b[ir_broadcast_offset(i, vy->rank, vy->dims, sb)];
    switch (n->op) {
    case IR_OP_ADD: y[i] = x1 + x2; break;
    case IR_OP_SUB: y[i] = x1 - x2; break;
    case IR_OP_MUL: y[i] = x1 * x2; break;
    case IR_OP_DIV: y[i] = x1 / x2; break;
    default: assert(!"not a binary op"); return KRT_OK;
    }
  }
  return KRT_OK;
}

int ir_interp_add(const IrNode *n, const void *const *in, void *const *out) {
  return binary(n, in, out);
}

int ir_interp_sub(const IrNode *n, const void *const *in, void *const *out) {
  return binary(n, in, out);
}

int ir_interp_mul(const IrNode *n, const void *const *in, void *const *out) {
  return binary(n, in, out);
}

int ir_interp_div(const IrNode *n, const void *const *in, void *const *out) {
  return binary(n, in, out);
}

/* ---- normalization -------------------------------------------------------------------- */

/* Softmax and LogSoftmax: per slice along the axis, max, the sum of exp(x - max) in double,
 * then exp(x - max) / sum or x - max - log(sum). */
static int softmax(const IrNode *n, const void *const *in, void *const *out, bool log_out) {
  const IrValue *v = n->inputs[0];
  int64_t axis = ir_attr_i(n, "axis");
  if (axis < 0) axis += v->rank;
  int64_t outer = 1, len = v->dims[axis], inner = 1;
  for (int i = 0; i < axis; i++) outer *= v->dims[i];
  for (int i = (int)axis + 1; i < v->rank; i++) inner *= v->dims[i];
  const float *x = in[0];
  float *y = out[0];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const float *xs = x + o * len * inner + i;
      float *ys = y + o * len * inner + i;
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < len; j++) mx = xs[j * inner] > mx ? xs[j * inner] : mx;
      for (int64_t j = 0; j < len; j++) sum += exp(xs[j * inner] - mx);
      for (int64_t j = 0; j < len; j++)
        ys[j * inner] =
            (float)(log_out ? xs[j * inner] - mx - log(sum) : exp(xs[j * inner] - mx) / sum);
    }
  return KRT_OK;
}

int ir_interp_softmax(const IrNode *n, const void *const *in, void *const *out) {
  return softmax(n, in, out, false);
}
int ir_interp_log_softmax(const IrNode *n, const void *const *in, void *const *out) {
  return softmax(n, in, out, true);
}

int ir_interp_batch_norm(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *v = n->inputs[0];
  const float *x = in[0], *scale = in[1], *bias = in[2], *mean = in[3], *var = in[4];
  float *y = out[0];
  double eps = (float)ir_attr_f(n, "epsilon"); /* ONNX attributes are float */
  int64_t batch = v->dims[0], channels = v->dims[1], inner = 1;
  for (int i = 2; i < v->rank; i++) inner *= v->dims[i];
  for (int64_t b = 0; b < batch; b++)
    for (int64_t c = 0; c < channels; c++) {
      double k = scale[c] / sqrt((double)var[c] + eps);
      const float *xs = x + (b * channels + c) * inner;
      float *ys = y + (b * channels + c) * inner;
      for (int64_t i = 0; i < inner; i++) ys[i] = (float)((xs[i] - (double)mean[c]) * k + bias[c]);
    }
  return KRT_OK;
}

/* ---- data movement -------------------------------------------------------------------- */

static int copy_input(const IrNode *n, const void *const *in, void *const *out) {
  memcpy(out[0], in[0], (size_t)ir_value_nbytes(n->outputs[0]));
  return KRT_OK;
}

int ir_interp_flatten(const IrNode *n, const void *const *in, void *const *out) {
  return copy_input(n, in, out);
}

int ir_interp_reshape(const IrNode *n, const void *const *in, void *const *out) {
  return copy_input(n, in, out);
}

int ir_interp_identity(const IrNode *n, const void *const *in, void *const *out) {
  return copy_input(n, in, out);
}

int ir_interp_layout(const IrNode *n, const void *const *in, void *const *out) {
  return copy_input(n, in, out); /* storage only: the values are the same */
}

int ir_interp_dropout(const IrNode *n, const void *const *in, void *const *out) {
  /* inference: the identity, and a mask that keeps everything */
  if (n->n_outputs > 1 && out[1]) memset(out[1], 1, (size_t)ir_value_nbytes(n->outputs[1]));
  return copy_input(n, in, out);
}

int ir_interp_concat(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *vy = n->outputs[0];
  int64_t axis = ir_attr_i(n, "axis");
  if (axis < 0) axis += vy->rank;
  int64_t outer = 1, inner = (int64_t)ir_dtype_size(vy->dtype); /* bytes */
  for (int i = 0; i < axis; i++) outer *= vy->dims[i];
  for (int i = (int)axis + 1; i < vy->rank; i++) inner *= vy->dims[i];
  char *y = out[0];
  for (int64_t o = 0; o < outer; o++)
    for (int k = 0; k < n->n_inputs; k++) {
      int64_t chunk = n->inputs[k]->dims[axis] * inner;
      memcpy(y, (const char *)in[k] + o * chunk, (size_t)chunk);
      y += chunk;
    }
  return KRT_OK;
}

/* ---- Pad -------------------------------------------------------------------------------- */

/* Input coordinate of output coordinate o along an axis of size n padded by b in front, or -1
 * for a constant cell. mode: 0 constant, 1 reflect, 2 edge, 3 wrap. */
static int64_t pad_source(int64_t o, int64_t b, int64_t n, int mode) {
  int64_t i = o - b;
  if (i >= 0 && i < n) return i;
  if (mode == 0) return -1;
  if (mode == 2) return i < 0 ? 0 : n - 1;
  if (mode == 3) return (i % n + n) % n;
  return i < 0 ? -i : 2 * (n - 1) - i; /* reflect, without repeating the edge */
}

int ir_interp_pad(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  const int64_t *pads = in[1];
  const char *m = ir_attr_s(n, "mode");
  int mode = !strcmp(m, "reflect") ? 1 : !strcmp(m, "edge") ? 2 : !strcmp(m, "wrap") ? 3 : 0;
  size_t es = ir_dtype_size(x->dtype);
  static const char zero[8];
  const char *value = n->n_inputs > 2 && in[2] ? in[2] : zero;
  const char *src = in[0];
  char *dst = out[0];
  int rank = y->rank;
  int64_t total = ir_value_numel(y);
  for (int64_t e = 0; e < total; e++) {
    int64_t rest = e, off = 0, stride = 1;
    bool inside = true;
    for (int a = rank - 1; a >= 0; a--) {
      int64_t o = rest % y->dims[a];
      rest /= y->dims[a];
      int64_t i = pad_source(o, pads[a], x->dims[a], mode);
      if (i < 0) inside = false;
      off += i * stride;
      stride *= x->dims[a];
    }
    memcpy(dst + e * (int64_t)es, inside ? src + off * (int64_t)es : value, es);
  }
  return KRT_OK;
}
