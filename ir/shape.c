/* Shape inference: ir_infer_<stem> for every op of ops.def, plus the helpers of ir_util.h.
 * Each function validates what its op needs (ONNX opset-17 rules, f32 data, the limits of
 * version 1) and reports user errors at the offending field, e.g.
 * "nodes[3] (conv1).attrs.strides: expected 2 integers, got 3". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conv_params.h"
#include "ir_util.h"
#include "kernels.h"

/* ---- ir_util.h ------------------------------------------------------------------------ */

const char *ir_node_field_where(const IrNode *n, char *buf, size_t size, const char *fmt, ...) {
  ir_node_where(n, buf, size);
  size_t len = strlen(buf);
  if (fmt && *fmt && len + 1 < size) {
    buf[len++] = '.';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
    /* an ONNX node: "attrs.pads[2]" is "attribute 'pads'[2]", "inputs[1]" is "input[1]" */
    if (n->src_list && strcmp(n->src_list, "nodes") != 0) {
      char field[256];
      snprintf(field, sizeof field, "%s", buf + len);
      if (!strncmp(field, "attrs.", 6)) {
        size_t nl = strcspn(field + 6, ".[");
        snprintf(buf + len, size - len, "attribute '%.*s'%s", (int)nl, field + 6, field + 6 + nl);
      } else if (!strncmp(field, "inputs[", 7) || !strncmp(field, "outputs[", 8)) {
        size_t k = field[0] == 'i' ? 5 : 6;
        snprintf(buf + len, size - len, "%.*s%s", (int)k, field, field + k + 1);
      }
    }
  }
  return buf;
}

bool ir_node_error(IrDiag *d, const IrNode *n, const char *field, const char *fmt, ...) {
  if (!d) return false;
  char where[384];
  if (field && *field)
    ir_node_field_where(n, where, sizeof where, "%s", field);
  else
    ir_node_where(n, where, sizeof where);
  va_list ap;
  va_start(ap, fmt);
  ir_diag_verror(d, where, fmt, ap);
  va_end(ap);
  return false;
}

const char *ir_format_dims(int rank, const int64_t *dims, char *buf, size_t size) {
  size_t len = (size_t)snprintf(buf, size, "[");
  for (int i = 0; i < rank && len < size; i++)
    len += (size_t)snprintf(buf + len, size - len, "%s%lld", i ? "," : "", (long long)dims[i]);
  if (len < size) snprintf(buf + len, size - len, "]");
  return buf;
}

bool ir_broadcast_dims(int ra, const int64_t *a, int rb, const int64_t *b, int *rank, int64_t *dims,
                       int *bad_axis) {
  int r = ra > rb ? ra : rb;
  *rank = r;
  for (int i = 0; i < r; i++) {
    /* right-aligned: axis i of the output is axis i-(r-ra) of a */
    int64_t da = i - (r - ra) >= 0 ? a[i - (r - ra)] : 1;
    int64_t db = i - (r - rb) >= 0 ? b[i - (r - rb)] : 1;
    if (da != db && da != 1 && db != 1) {
      *bad_axis = i;
      return false;
    }
    dims[i] = da == 1 ? db : da;
  }
  return true;
}

void ir_broadcast_strides(int rank_in, const int64_t *dims_in, int rank_out,
                          const int64_t *dims_out, int64_t *strides) {
  int64_t s = 1;
  for (int i = rank_out - 1; i >= 0; i--) {
    int j = i - (rank_out - rank_in);
    if (j < 0 || (dims_in[j] == 1 && dims_out[i] != 1)) {
      strides[i] = 0;
    } else {
      strides[i] = s;
    }
    if (j >= 0) s *= dims_in[j];
  }
}

int64_t ir_broadcast_offset(int64_t i, int rank, const int64_t *dims, const int64_t *strides) {
  int64_t off = 0;
  for (int k = rank - 1; k >= 0; k--) {
    off += (i % dims[k]) * strides[k];
    i /= dims[k];
  }
  return off;
}

/* ---- local helpers -------------------------------------------------------------------- */

/* Arity, presence of required inputs and of output 0, and dtype f32 of the first n_f32 inputs
 * (those present): what every op checks first. */
static bool begin(const IrNode *n, int n_f32, IrDiag *d) {
  const IrOpInfo *info = &ir_op_info[n->op];
  if (n->n_inputs < info->min_inputs || n->n_inputs > info->max_inputs) {
    if (info->min_inputs == info->max_inputs)
      return ir_node_error(d, n, "inputs", "%s expects %d input%s, got %d", info->name,
                           info->min_inputs, info->min_inputs == 1 ? "" : "s", n->n_inputs);
    return ir_node_error(d, n, "inputs", "%s expects %d to %d inputs, got %d", info->name,
                         info->min_inputs, info->max_inputs, n->n_inputs);
  }
  if (n->n_outputs < info->min_outputs || n->n_outputs > info->max_outputs)
    return ir_node_error(d, n, "outputs", "%s has %d to %d outputs, got %d", info->name,
                         info->min_outputs, info->max_outputs, n->n_outputs);
  if (!n->outputs[0]) return ir_node_error(d, n, "outputs[0]", "required output is missing");
  char field[32];
  for (int k = 0; k < n->n_inputs; k++) {
    const IrValue *v = n->inputs[k];
    snprintf(field, sizeof field, "inputs[%d]", k);
    if (!v) {
      if (k < info->min_inputs) return ir_node_error(d, n, field, "required input is missing");
      continue;
    }
    if (k < n_f32 && v->dtype != IR_F32)
      return ir_node_error(d, n, field, "dtype %s is not supported by %s (only f32)",
                           ir_dtype_name(v->dtype), info->name);
  }
  return true;
}

/* Sets output slot (if present) after checking the limits of the format: every dim in
 * [1, IR_MAX_DIM], element count and byte size inside int64. */
static bool set_output(IrNode *n, int slot, IrDType dt, int rank, const int64_t *dims, IrDiag *d) {
  IrValue *v = slot < n->n_outputs ? n->outputs[slot] : NULL;
  if (!v) return true;
  char field[32], s[256];
  snprintf(field, sizeof field, "outputs[%d]", slot);
  if (rank > IR_MAX_RANK)
    return ir_node_error(d, n, field, "output rank %d exceeds the maximum %d", rank, IR_MAX_RANK);
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 1)
      return ir_node_error(d, n, field, "output would be empty (shape %s)",
                           ir_format_dims(rank, dims, s, sizeof s));
    if (dims[i] > IR_MAX_DIM)
      return ir_node_error(d, n, field, "output shape %s: dimension %d exceeds the maximum %lld",
                           ir_format_dims(rank, dims, s, sizeof s), i, (long long)IR_MAX_DIM);
  }
  int64_t numel;
  if (!ir_dims_numel(rank, dims, &numel) || numel > INT64_MAX / (int64_t)ir_dtype_size(dt))
    return ir_node_error(d, n, field, "output shape %s has too many elements",
                         ir_format_dims(rank, dims, s, sizeof s));
  v->dtype = dt;
  v->rank = rank;
  memset(v->dims, 0, sizeof v->dims);
  for (int i = 0; i < rank; i++) v->dims[i] = dims[i];
  return true;
}

static bool same_as_input(IrNode *n, int slot, IrDType dt, IrDiag *d) {
  const IrValue *x = n->inputs[0];
  return set_output(n, slot, dt, x->rank, x->dims, d);
}

/* An axis attribute in [lo, hi] (ONNX ranges like [-r, r-1]), normalized to be >= 0. */
static bool get_axis(const IrNode *n, int64_t lo, int64_t hi, int rank, int64_t *axis, IrDiag *d) {
  int64_t a = ir_attr_i(n, "axis");
  if (a < lo || a > hi)
    return ir_node_error(d, n, "attrs.axis", "%lld is out of range [%lld, %lld] for rank %d",
                         (long long)a, (long long)lo, (long long)hi, rank);
  *axis = a < 0 ? a + rank : a;
  return true;
}

bool ir_attr_flag(const IrNode *n, const char *name, bool *out, IrDiag *d) {
  int64_t v = ir_attr_i(n, name);
  if (v != 0 && v != 1) {
    char field[64];
    snprintf(field, sizeof field, "attrs.%s", name);
    return ir_node_error(d, n, field, "expected 0 or 1, got %lld", (long long)v);
  }
  *out = v == 1;
  return true;
}

/* Input k, if present, must be a constant of dtype dt holding one element (rank 0 or [1]). */
static bool const_scalar_input(const IrNode *n, int k, const char *what, IrDType dt, IrDiag *d) {
  const IrValue *v = k < n->n_inputs ? n->inputs[k] : NULL;
  if (!v) return true;
  char field[32], s[256];
  snprintf(field, sizeof field, "inputs[%d]", k);
  if (v->kind != IR_VALUE_CONST)
    return ir_node_error(d, n, field, "%s '%s' must be an initializer (constant)", what, v->name);
  if (v->dtype != dt)
    return ir_node_error(d, n, field, "%s must have dtype %s, got %s", what, ir_dtype_name(dt),
                         ir_dtype_name(v->dtype));
  if (!(v->rank == 0 || (v->rank == 1 && v->dims[0] == 1)))
    return ir_node_error(d, n, field, "%s must be a scalar, got shape %s", what,
                         ir_format_dims(v->rank, v->dims, s, sizeof s));
  return true;
}

/* ---- matrix products ------------------------------------------------------------------ */

bool ir_infer_gemm(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 3, d)) return false;
  const IrValue *a = n->inputs[0], *b = n->inputs[1];
  const IrValue *c = n->n_inputs > 2 ? n->inputs[2] : NULL;
  char s1[256], s2[256];
  if (a->rank != 2)
    return ir_node_error(d, n, "inputs[0]", "Gemm expects a 2-D matrix A, got shape %s",
                         ir_format_dims(a->rank, a->dims, s1, sizeof s1));
  if (b->rank != 2)
    return ir_node_error(d, n, "inputs[1]", "Gemm expects a 2-D matrix B, got shape %s",
                         ir_format_dims(b->rank, b->dims, s1, sizeof s1));
  bool ta = false, tb = false;
  if (!ir_attr_flag(n, "transA", &ta, d) || !ir_attr_flag(n, "transB", &tb, d)) return false;
  int64_t m = a->dims[ta], k = a->dims[!ta], kb = b->dims[tb], nn = b->dims[!tb];
  if (k != kb)
    return ir_node_error(d, n, "inputs[1]",
                         "B of shape %s (transB=%d) has inner dimension %lld, A of shape %s "
                         "(transA=%d) has %lld",
                         ir_format_dims(b->rank, b->dims, s1, sizeof s1), tb, (long long)kb,
                         ir_format_dims(a->rank, a->dims, s2, sizeof s2), ta, (long long)k);
  int64_t out[2] = {m, nn};
  if (c) {
    /* unidirectional broadcasting: C's right-aligned dims are 1 or equal to [M, N] */
    bool ok = c->rank <= 2;
    for (int i = 0; ok && i < c->rank; i++) {
      int64_t want = out[2 - c->rank + i];
      ok = c->dims[i] == 1 || c->dims[i] == want;
    }
    if (!ok)
      return ir_node_error(d, n, "inputs[2]", "C of shape %s is not broadcastable to [M,N] = %s",
                           ir_format_dims(c->rank, c->dims, s1, sizeof s1),
                           ir_format_dims(2, out, s2, sizeof s2));
  }
  return set_output(n, 0, IR_F32, 2, out, d);
}

bool ir_infer_matmul(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 2, d)) return false;
  const IrValue *a = n->inputs[0], *b = n->inputs[1];
  char s1[256], s2[256];
  if (a->rank < 1 || b->rank < 1)
    return ir_node_error(d, n, a->rank < 1 ? "inputs[0]" : "inputs[1]",
                         "MatMul needs inputs of rank >= 1, got a scalar");
  /* numpy: a 1-D A is a row [1,K] and a 1-D B a column [K,1]; the added dims are removed */
  int64_t ka = a->dims[a->rank - 1];
  int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
  if (ka != kb)
    return ir_node_error(d, n, "inputs",
                         "inner dimensions differ: A %s has K=%lld, B %s has K=%lld",
                         ir_format_dims(a->rank, a->dims, s1, sizeof s1), (long long)ka,
                         ir_format_dims(b->rank, b->dims, s2, sizeof s2), (long long)kb);
  int ba = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0;
  int64_t out[IR_MAX_RANK + 2];
  int r, bad;
  if (!ir_broadcast_dims(ba, a->dims, bb, b->dims, &r, out, &bad))
    return ir_node_error(d, n, "inputs", "batch dimensions of A %s and B %s are not broadcastable",
                         ir_format_dims(a->rank, a->dims, s1, sizeof s1),
                         ir_format_dims(b->rank, b->dims, s2, sizeof s2));
  if (a->rank > 1) out[r++] = a->dims[a->rank - 2];
  if (b->rank > 1) out[r++] = b->dims[b->rank - 1];
  return set_output(n, 0, IR_F32, r, out, d);
}

/* ---- windowed ops --------------------------------------------------------------------- */

static bool infer_windowed(IrNode *n, int n_f32, IrDiag *d) {
  if (!begin(n, n_f32, d)) return false;
  IrConvNd p;
  if (!ir_conv_nd_params(n, &p, d)) return false;
  int64_t out[2 + IR_CONV_MAX_SPATIAL] = {p.n, p.m};
  for (int i = 0; i < p.spatial; i++) out[2 + i] = p.out[i];
  return set_output(n, 0, IR_F32, p.spatial + 2, out, d);
}

bool ir_infer_conv(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_windowed(n, 3, d);
}

bool ir_infer_conv_transpose(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_windowed(n, 3, d);
}

bool ir_infer_max_pool(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  /* int8 too (the max of quantized values is the quantized max: same scale and zero point) */
  bool i8 = n->n_inputs >= 1 && n->inputs[0] && n->inputs[0]->dtype == IR_I8;
  if (!infer_windowed(n, i8 ? 0 : 1, d)) return false;
  if (i8 && n->inputs[0]->rank > 4) {
    IrConvParams p; /* the int8 kernels are 2-D: their error */
    if (!ir_conv_params(n, &p, d)) return false;
  }
  if (i8) n->outputs[0]->dtype = IR_I8;
  return true;
}

bool ir_infer_average_pool(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_windowed(n, 1, d);
}

/* GlobalAveragePool / GlobalMaxPool: [N, C, D1, ...] (1-D, 2-D, 3-D data) -> [N, C, 1, ...]. */
static bool infer_global_pool(IrNode *n, IrDiag *d) {
  if (!begin(n, 1, d)) return false;
  const IrValue *x = n->inputs[0];
  char s[256];
  if (x->rank < 3)
    return ir_node_error(d, n, "inputs[0]", "%s expects an input [N,C,D1,...] of rank >= 3, got %s",
                         ir_op_info[n->op].name, ir_format_dims(x->rank, x->dims, s, sizeof s));
  int64_t out[IR_MAX_RANK];
  for (int i = 0; i < x->rank; i++) out[i] = i < 2 ? x->dims[i] : 1;
  return set_output(n, 0, IR_F32, x->rank, out, d);
}

bool ir_infer_global_average_pool(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_global_pool(n, d);
}

/* ---- element-wise --------------------------------------------------------------------- */

static bool infer_unary(IrNode *n, IrDiag *d) {
  return begin(n, 1, d) && same_as_input(n, 0, IR_F32, d);
}

bool ir_infer_relu(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}

bool ir_infer_leaky_relu(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}

bool ir_infer_sigmoid(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}

bool ir_infer_tanh(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}

bool ir_infer_clip(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return begin(n, 1, d) && const_scalar_input(n, 1, "min", IR_F32, d) &&
         const_scalar_input(n, 2, "max", IR_F32, d) && same_as_input(n, 0, IR_F32, d);
}

/* Two inputs broadcast; f32 only, or with integers also i32 and i64 (both of one dtype). */
static bool infer_binary_of(IrNode *n, bool integers, IrDiag *d) {
  if (!begin(n, integers ? 0 : 2, d)) return false;
  const IrValue *a = n->inputs[0], *b = n->inputs[1];
  if (a->dtype != b->dtype || (a->dtype != IR_F32 && a->dtype != IR_I32 && a->dtype != IR_I64))
    return ir_node_error(d, n, "inputs",
                         "%s needs two inputs of one dtype of f32, i32, i64 (got %s, %s)",
                         ir_op_info[n->op].name, ir_dtype_name(a->dtype), ir_dtype_name(b->dtype));
  int64_t out[IR_MAX_RANK];
  int r, bad;
  if (!ir_broadcast_dims(a->rank, a->dims, b->rank, b->dims, &r, out, &bad)) {
    char s1[256], s2[256];
    return ir_node_error(
        d, n, "inputs", "shapes %s and %s are not broadcastable (axis %d: %lld vs %lld)",
        ir_format_dims(a->rank, a->dims, s1, sizeof s1),
        ir_format_dims(b->rank, b->dims, s2, sizeof s2), bad,
        (long long)a->dims[bad - (r - a->rank)], (long long)b->dims[bad - (r - b->rank)]);
  }
  return set_output(n, 0, a->dtype, r, out, d);
}

static bool infer_binary(IrNode *n, IrDiag *d) { return infer_binary_of(n, false, d); }

/* Add, Sub, Mul, Div: f32, i32 or i64 (integers wrap; Div truncates toward zero and a zero
 * divisor makes the run function return KRT_ERR_DIV_ZERO). */
bool ir_infer_add(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_binary_of(n, true, d);
}

bool ir_infer_sub(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_binary_of(n, true, d);
}

bool ir_infer_mul(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_binary_of(n, true, d);
}

bool ir_infer_div(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_binary_of(n, true, d);
}

/* ---- normalization -------------------------------------------------------------------- */

bool ir_infer_softmax(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 1, d)) return false;
  int r = n->inputs[0]->rank;
  int64_t axis = 0;
  if (r == 0) return ir_node_error(d, n, "inputs[0]", "Softmax needs an input of rank >= 1");
  return get_axis(n, -r, r - 1, r, &axis, d) && same_as_input(n, 0, IR_F32, d);
}

bool ir_infer_batch_norm(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  static const char *const names[] = {"", "scale", "B", "input_mean", "input_var"};
  if (!begin(n, 5, d)) return false;
  const IrValue *x = n->inputs[0];
  char field[32], s1[256];
  if (x->rank < 2)
    return ir_node_error(d, n, "inputs[0]", "expected an input [N,C,...] of rank >= 2, got %s",
                         ir_format_dims(x->rank, x->dims, s1, sizeof s1));
  if (ir_attr_i(n, "training_mode") != 0)
    return ir_node_error(d, n, "attrs.training_mode",
                         "training mode is not supported (only inference, 0), got %lld",
                         (long long)ir_attr_i(n, "training_mode"));
  for (int k = 1; k < 5; k++) {
    const IrValue *v = n->inputs[k];
    if (v->rank != 1 || v->dims[0] != x->dims[1]) {
      snprintf(field, sizeof field, "inputs[%d]", k);
      return ir_node_error(d, n, field, "%s has shape %s, expected [%lld] (the input's channels)",
                           names[k], ir_format_dims(v->rank, v->dims, s1, sizeof s1),
                           (long long)x->dims[1]);
    }
  }
  return same_as_input(n, 0, IR_F32, d);
}

/* ---- shape manipulation --------------------------------------------------------------- */

/* Views (Flatten, Reshape) move bytes: f32, or i8 inside a quantized graph. */
bool ir_infer_flatten(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  const IrValue *x = n->inputs[0];
  int64_t axis = 0, out[2] = {1, 1};
  if (!get_axis(n, -x->rank, x->rank, x->rank, &axis, d)) return false;
  /* the input's element count fits in int64, so both partial products do */
  for (int i = 0; i < x->rank; i++) out[i >= axis] *= x->dims[i];
  return set_output(n, 0, x->dtype, 2, out, d);
}

bool ir_infer_reshape(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  const IrValue *x = n->inputs[0], *sv = n->inputs[1];
  char s1[256], s2[256];
  if (sv->kind != IR_VALUE_CONST || sv->dtype != IR_I64 || sv->rank != 1)
    return ir_node_error(
        d, n, "inputs[1]", "the shape '%s' must be a 1-D i64 initializer (got %s%s %s)", sv->name,
        sv->kind == IR_VALUE_CONST ? "a constant " : "a computed ", ir_dtype_name(sv->dtype),
        ir_format_dims(sv->rank, sv->dims, s1, sizeof s1));
  if (sv->dims[0] > IR_MAX_RANK)
    return ir_node_error(d, n, "inputs[1]", "the shape has %lld entries; at most %d are supported",
                         (long long)sv->dims[0], IR_MAX_RANK);
  bool allowzero = false;
  if (!ir_attr_flag(n, "allowzero", &allowzero, d)) return false;
  const int64_t *shape = sv->data;
  int r = (int)sv->dims[0], unknown = -1;
  int64_t out[IR_MAX_RANK], known = 1, numel = ir_value_numel(x);
  for (int i = 0; i < r; i++) {
    int64_t v = shape[i];
    if (v == -1) {
      if (unknown >= 0)
        return ir_node_error(d, n, "inputs[1]", "shape %s has more than one -1 entry",
                             ir_format_dims(r, shape, s1, sizeof s1));
      unknown = i;
      out[i] = 1;
      continue;
    }
    if (v < -1)
      return ir_node_error(d, n, "inputs[1]", "shape %s: entry %d is %lld (must be >= -1)",
                           ir_format_dims(r, shape, s1, sizeof s1), i, (long long)v);
    if (v == 0) {
      if (allowzero)
        return ir_node_error(d, n, "inputs[1]",
                             "shape %s with allowzero=1 would make an empty tensor (not supported)",
                             ir_format_dims(r, shape, s1, sizeof s1));
      if (i >= x->rank)
        return ir_node_error(d, n, "inputs[1]",
                             "shape %s: entry %d is 0 (copy the input's dimension) but the input "
                             "%s has rank %d",
                             ir_format_dims(r, shape, s1, sizeof s1), i,
                             ir_format_dims(x->rank, x->dims, s2, sizeof s2), x->rank);
      v = x->dims[i];
    }
    out[i] = v;
    if (v > numel / known) /* known * v > numel, tested without overflowing */
      return ir_node_error(d, n, "inputs[1]", "shape %s has more elements than the input %s (%lld)",
                           ir_format_dims(r, shape, s1, sizeof s1),
                           ir_format_dims(x->rank, x->dims, s2, sizeof s2), (long long)numel);
    known *= v;
  }
  if (unknown >= 0) {
    if (numel % known != 0)
      return ir_node_error(d, n, "inputs[1]",
                           "shape %s: cannot infer the -1 entry, the input's %lld elements are "
                           "not a multiple of %lld",
                           ir_format_dims(r, shape, s1, sizeof s1), (long long)numel,
                           (long long)known);
    out[unknown] = numel / known;
  } else if (known != numel) {
    return ir_node_error(d, n, "inputs[1]", "shape %s has %lld elements, the input %s has %lld",
                         ir_format_dims(r, shape, s1, sizeof s1), (long long)known,
                         ir_format_dims(x->rank, x->dims, s2, sizeof s2), (long long)numel);
  }
  return set_output(n, 0, x->dtype, r, out, d);
}

bool ir_infer_concat(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  char field[32], s1[256], s2[256];
  const IrValue *x = n->inputs[0];
  for (int k = 1; k < n->n_inputs; k++) {
    snprintf(field, sizeof field, "inputs[%d]", k);
    if (!n->inputs[k]) return ir_node_error(d, n, field, "Concat inputs cannot be omitted");
    if (n->inputs[k]->dtype != x->dtype)
      return ir_node_error(d, n, field, "dtype %s differs from inputs[0]'s %s",
                           ir_dtype_name(n->inputs[k]->dtype), ir_dtype_name(x->dtype));
  }
  if (!ir_attr(n, "axis")->present)
    return ir_node_error(d, n, "attrs.axis", "required attribute is missing");
  if (x->rank == 0) return ir_node_error(d, n, "inputs[0]", "Concat cannot join scalars");
  int64_t axis = 0, out[IR_MAX_RANK];
  if (!get_axis(n, -x->rank, x->rank - 1, x->rank, &axis, d)) return false;
  memcpy(out, x->dims, sizeof out);
  for (int k = 1; k < n->n_inputs; k++) {
    const IrValue *v = n->inputs[k];
    bool ok = v->rank == x->rank;
    for (int i = 0; ok && i < x->rank; i++) ok = i == axis || v->dims[i] == x->dims[i];
    snprintf(field, sizeof field, "inputs[%d]", k);
    if (!ok)
      return ir_node_error(d, n, field, "shape %s does not match inputs[0] %s outside axis %lld",
                           ir_format_dims(v->rank, v->dims, s1, sizeof s1),
                           ir_format_dims(x->rank, x->dims, s2, sizeof s2), (long long)axis);
    out[axis] += v->dims[axis]; /* < IR_MAX_VARIADIC * 2^31: no overflow; set_output checks */
  }
  return set_output(n, 0, x->dtype, x->rank, out, d);
}

bool ir_infer_identity(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return begin(n, 0, d) && same_as_input(n, 0, n->inputs[0]->dtype, d);
}

bool ir_infer_layout(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return begin(n, 0, d) && same_as_input(n, 0, n->inputs[0]->dtype, d);
}

bool ir_infer_dropout(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 1, d)) return false;
  const IrValue *ratio = n->n_inputs > 1 ? n->inputs[1] : NULL;
  if (ratio && !const_scalar_input(n, 1, "ratio", ratio->dtype == IR_F16 ? IR_F16 : IR_F32, d))
    return false;
  if (!const_scalar_input(n, 2, "training_mode", IR_BOOL, d)) return false;
  const IrValue *tm = n->n_inputs > 2 ? n->inputs[2] : NULL;
  if (tm && *(const uint8_t *)tm->data != 0)
    return ir_node_error(d, n, "inputs[2]",
                         "training_mode is true; only inference (false) is supported");
  return same_as_input(n, 0, IR_F32, d) && same_as_input(n, 1, IR_BOOL, d);
}

/* Pad (opset 17): data of any dtype; pads is an i64 initializer [x1_begin, x2_begin, ...,
 * x1_end, x2_end, ...] (non-negative: cropping is not supported), constant_value an optional
 * scalar initializer of the data's dtype; mode constant, reflect (pads < dim), edge or wrap
 * (opset 19: the data repeated; pads <= dim). */
bool ir_infer_pad(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  const IrValue *x = n->inputs[0], *pv = n->inputs[1];
  const char *mode = ir_attr_s(n, "mode");
  bool reflect = !strcmp(mode, "reflect"), wrap = !strcmp(mode, "wrap");
  if (strcmp(mode, "constant") && !reflect && strcmp(mode, "edge") && !wrap)
    return ir_node_error(d, n, "attrs.mode", "'%s' is not one of constant, reflect, edge, wrap",
                         mode);
  char s1[256];
  if (pv->kind != IR_VALUE_CONST || pv->dtype != IR_I64 || pv->rank != 1 ||
      pv->dims[0] != 2 * x->rank)
    return ir_node_error(
        d, n, "inputs[1]",
        "pads '%s' must be a 1-D i64 initializer of %d entries (2 x rank), got "
        "%s%s %s",
        pv->name, 2 * x->rank, pv->kind == IR_VALUE_CONST ? "a constant " : "a computed ",
        ir_dtype_name(pv->dtype), ir_format_dims(pv->rank, pv->dims, s1, sizeof s1));
  if (!const_scalar_input(n, 2, "constant_value", x->dtype, d)) return false;
  const int64_t *p = pv->data;
  int64_t dims[IR_MAX_RANK];
  for (int i = 0; i < x->rank; i++) {
    int64_t b = p[i], e = p[i + x->rank];
    if (b < 0 || e < 0)
      return ir_node_error(d, n, "inputs[1]",
                           "pads %s: axis %d has a negative pad (cropping is not supported)",
                           ir_format_dims(2 * x->rank, p, s1, sizeof s1), i);
    if (reflect && (b >= x->dims[i] || e >= x->dims[i]) && (b || e))
      return ir_node_error(d, n, "inputs[1]",
                           "pads %s: reflect padding of axis %d must be smaller than its size %lld",
                           ir_format_dims(2 * x->rank, p, s1, sizeof s1), i, (long long)x->dims[i]);
    /* numpy's (so onnx's reference) wrap differs from a periodic extension beyond one period */
    if (wrap && (b > x->dims[i] || e > x->dims[i]))
      return ir_node_error(d, n, "inputs[1]",
                           "pads %s: wrap padding of axis %d must not exceed its size %lld",
                           ir_format_dims(2 * x->rank, p, s1, sizeof s1), i, (long long)x->dims[i]);
    if (b > IR_MAX_DIM || e > IR_MAX_DIM)
      return ir_node_error(d, n, "inputs[1]", "pads %s: axis %d pad is too large",
                           ir_format_dims(2 * x->rank, p, s1, sizeof s1), i);
    dims[i] = x->dims[i] + b + e;
  }
  return set_output(n, 0, x->dtype, x->rank, dims, d);
}

/* ---- sequence models ------------------------------------------------------------------ */

/* out = data.shape[:axis] + indices.shape + data.shape[axis+1:]; data of any dtype, indices i32
 * or i64. Constant indices are checked here; others by the run function (KRT_ERR_INDEX_RANGE). */
void ir_gather_geometry(const IrNode *n, int64_t *outer, int64_t *len, int64_t *inner_bytes) {
  const IrValue *x = n->inputs[0];
  int64_t axis = ir_attr_i(n, "axis");
  if (axis < 0) axis += x->rank;
  *outer = 1;
  *len = x->dims[axis];
  *inner_bytes = (int64_t)ir_dtype_size(x->dtype);
  for (int d = 0; d < axis; d++) *outer *= x->dims[d];
  for (int d = (int)axis + 1; d < x->rank; d++) *inner_bytes *= x->dims[d];
}

bool ir_infer_gather(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  const IrValue *x = n->inputs[0], *iv = n->inputs[1];
  if (iv->dtype != IR_I32 && iv->dtype != IR_I64)
    return ir_node_error(d, n, "inputs[1]", "indices must have dtype i32 or i64, got %s",
                         ir_dtype_name(iv->dtype));
  if (x->rank < 1) return ir_node_error(d, n, "inputs[0]", "Gather data must have rank >= 1");
  int64_t axis = 0, out[IR_MAX_RANK];
  if (!get_axis(n, -x->rank, x->rank - 1, x->rank, &axis, d)) return false;
  int r = x->rank - 1 + iv->rank;
  if (r > IR_MAX_RANK)
    return ir_node_error(d, n, "outputs[0]", "output rank %d exceeds the maximum %d", r,
                         IR_MAX_RANK);
  if (iv->kind == IR_VALUE_CONST)
    for (int64_t j = 0; j < ir_value_numel(iv); j++) {
      int64_t k =
          iv->dtype == IR_I64 ? ((const int64_t *)iv->data)[j] : ((const int32_t *)iv->data)[j];
      if (k < -x->dims[axis] || k >= x->dims[axis])
        return ir_node_error(d, n, "inputs[1]",
                             "index %lld (element %lld) is out of range [%lld, %lld] for axis %lld",
                             (long long)k, (long long)j, (long long)-x->dims[axis],
                             (long long)x->dims[axis] - 1, (long long)axis);
    }
  int k = 0;
  for (int i = 0; i < axis; i++) out[k++] = x->dims[i];
  for (int i = 0; i < iv->rank; i++) out[k++] = iv->dims[i];
  for (int i = (int)axis + 1; i < x->rank; i++) out[k++] = x->dims[i];
  return set_output(n, 0, x->dtype, r, out, d);
}

bool ir_node_axes(const IrNode *n, int k, int rank, unsigned *mask, int *count, IrDiag *d) {
  const IrAttr *a = ir_op_attr_index(n->op, "axes") >= 0 ? ir_attr(n, "axes") : NULL;
  const IrValue *v = k < n->n_inputs ? n->inputs[k] : NULL;
  char field[32], s[256];
  const int64_t *ax = NULL;
  int64_t cnt = 0;
  *mask = 0;
  *count = 0;
  snprintf(field, sizeof field, "inputs[%d]", k);
  if (a && a->present && v)
    return ir_node_error(d, n, field, "axes are given both as attribute and as input");
  if (a && a->present) {
    snprintf(field, sizeof field, "attrs.axes");
    ax = a->ints, cnt = a->count;
  } else if (v) {
    if (v->kind != IR_VALUE_CONST || v->dtype != IR_I64 || v->rank > 1)
      return ir_node_error(d, n, field, "axes '%s' must be a 1-D i64 initializer (got %s%s %s)",
                           v->name, v->kind == IR_VALUE_CONST ? "a constant " : "a computed ",
                           ir_dtype_name(v->dtype), ir_format_dims(v->rank, v->dims, s, sizeof s));
    ax = v->data, cnt = ir_value_numel(v);
  }
  for (int64_t i = 0; i < cnt; i++) {
    int64_t x = ax[i];
    if (x < -rank || x >= rank)
      return ir_node_error(d, n, field, "axis %lld is out of range [%d, %d]", (long long)x, -rank,
                           rank - 1);
    if (x < 0) x += rank;
    if (*mask & (1u << x))
      return ir_node_error(d, n, field, "axis %lld is repeated", (long long)ax[i]);
    *mask |= 1u << x;
    (*count)++;
  }
  return true;
}

/* Reduce*: keepdims keeps reduced axes as 1; no axes means all of them, unless
 * noop_with_empty_axes, which makes the op the identity. */
static bool infer_reduce(IrNode *n, IrDiag *d) {
  if (!begin(n, 1, d)) return false;
  const IrValue *x = n->inputs[0];
  unsigned mask;
  int count, r = 0;
  bool keep, noop;
  if (!ir_node_axes(n, 1, x->rank, &mask, &count, d) || !ir_attr_flag(n, "keepdims", &keep, d) ||
      !ir_attr_flag(n, "noop_with_empty_axes", &noop, d))
    return false;
  if (count == 0 && noop) return same_as_input(n, 0, IR_F32, d);
  if (count == 0) mask = (1u << x->rank) - 1;
  int64_t out[IR_MAX_RANK];
  for (int i = 0; i < x->rank; i++)
    if (!(mask & (1u << i)))
      out[r++] = x->dims[i];
    else if (keep)
      out[r++] = 1;
  return set_output(n, 0, IR_F32, r, out, d);
}

bool ir_infer_reduce_mean(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_reduce(n, d);
}
bool ir_infer_reduce_sum(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_reduce(n, d);
}
bool ir_infer_reduce_max(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_reduce(n, d);
}
bool ir_infer_reduce_min(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_reduce(n, d);
}
bool ir_infer_reduce_prod(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_reduce(n, d);
}
bool ir_infer_reduce_l1(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_reduce(n, d);
}
bool ir_infer_reduce_l2(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_reduce(n, d);
}
bool ir_infer_reduce_sum_square(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_reduce(n, d);
}
bool ir_infer_reduce_log_sum_exp(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_reduce(n, d);
}

/* perm: a permutation of [0, rank); default reversed. Any dtype. */
bool ir_infer_transpose(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  const IrValue *x = n->inputs[0];
  const IrAttr *p = ir_attr(n, "perm");
  int64_t out[IR_MAX_RANK];
  unsigned seen = 0;
  if (p->present && p->count != x->rank)
    return ir_node_error(d, n, "attrs.perm", "has %d entries, the input has rank %d", p->count,
                         x->rank);
  for (int i = 0; i < x->rank; i++) {
    int64_t a = p->present ? p->ints[i] : x->rank - 1 - i;
    if (a < 0 || a >= x->rank || (seen & (1u << a)))
      return ir_node_error(d, n, "attrs.perm", "is not a permutation of [0, %d)", x->rank);
    seen |= 1u << a;
    out[i] = x->dims[a];
  }
  return set_output(n, 0, x->dtype, x->rank, out, d);
}

/* Squeeze: the given axes (which must have size 1), or every axis of size 1. Any dtype. */
bool ir_infer_squeeze(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  const IrValue *x = n->inputs[0];
  unsigned mask;
  int count, r = 0;
  if (!ir_node_axes(n, 1, x->rank, &mask, &count, d)) return false;
  int64_t out[IR_MAX_RANK];
  for (int i = 0; i < x->rank; i++) {
    bool drop = count ? (mask & (1u << i)) != 0 : x->dims[i] == 1;
    if (drop && x->dims[i] != 1)
      return ir_node_error(d, n, "inputs[1]", "axis %d has size %lld, not 1", i,
                           (long long)x->dims[i]);
    if (!drop) out[r++] = x->dims[i];
  }
  return set_output(n, 0, x->dtype, r, out, d);
}

/* Unsqueeze: axes (an input since opset 13) index the output. Any dtype. */
bool ir_infer_unsqueeze(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  const IrValue *x = n->inputs[0], *av = n->inputs[1];
  int64_t r = x->rank + (av->rank <= 1 ? ir_value_numel(av) : 0);
  if (r > IR_MAX_RANK)
    return ir_node_error(d, n, "outputs[0]", "output rank %lld exceeds the maximum %d",
                         (long long)r, IR_MAX_RANK);
  unsigned mask;
  int count, k = 0;
  if (!ir_node_axes(n, 1, (int)r, &mask, &count, d)) return false;
  int64_t out[IR_MAX_RANK];
  for (int i = 0; i < r; i++) out[i] = (mask & (1u << i)) ? 1 : x->dims[k++];
  return set_output(n, 0, x->dtype, (int)r, out, d);
}

/* Y only (the Mean and InvStdDev outputs of training are not supported); Scale and B must have
 * exactly the normalized shape's element count (1-D [d] as exporters emit, or the full shape). */
bool ir_infer_layer_norm(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 3, d)) return false;
  const IrValue *x = n->inputs[0];
  if (x->rank < 1) return ir_node_error(d, n, "inputs[0]", "input must have rank >= 1");
  int64_t axis = 0, inner = 1;
  if (!get_axis(n, -x->rank, x->rank - 1, x->rank, &axis, d)) return false;
  for (int i = (int)axis; i < x->rank; i++) inner *= x->dims[i];
  for (int k = 1; k < n->n_inputs; k++) {
    const IrValue *v = n->inputs[k];
    char field[32], s[256];
    snprintf(field, sizeof field, "inputs[%d]", k);
    if (v && ir_value_numel(v) != inner)
      return ir_node_error(d, n, field, "%s %s must have %lld elements (the normalized shape)",
                           k == 1 ? "Scale" : "B", ir_format_dims(v->rank, v->dims, s, sizeof s),
                           (long long)inner);
  }
  return same_as_input(n, 0, IR_F32, d);
}

/* ---- recurrent ops: RNN, GRU, LSTM ---------------------------------------------------------- */

static int recurrent_gates(IrOp op) { return op == IR_OP_LSTM ? 4 : op == IR_OP_GRU ? 3 : 1; }

void ir_recurrent_geometry(const IrNode *n, IrRecurrent *r) {
  const IrValue *x = n->inputs[0];
  const char *dir = ir_attr_s(n, "direction");
  r->T = x->dims[0], r->B = x->dims[1], r->I = x->dims[2];
  r->H = ir_attr_i(n, "hidden_size");
  r->D = strcmp(dir, "bidirectional") == 0 ? 2 : 1;
  r->G = recurrent_gates(n->op);
  r->reverse = strcmp(dir, "reverse") == 0;
}

/* Reserves count floats at *at, rounded up to 16 (64 bytes: whole vectors, whole lines). */
static int64_t scratch_part(int64_t *at, int64_t count) {
  int64_t start = *at;
  *at += (count + 15) / 16 * 16;
  return start;
}

/* The layout for a chunk of `chunk` steps. */
static void recurrent_layout(const IrNode *n, int64_t chunk, IrRecurrentScratch *s) {
  IrRecurrent r;
  ir_recurrent_geometry(n, &r);
  int64_t gh = r.G * r.H, at = 0;
  s->chunk = chunk < 1 ? 1 : chunk > r.T ? r.T : chunk;
  s->rec = scratch_part(&at, n->op == IR_OP_GRU ? r.B * gh : 0);
  s->bias = scratch_part(&at, gh);
  s->h = scratch_part(&at, r.B * r.H);
  s->c = scratch_part(&at, n->op == IR_OP_LSTM ? r.B * r.H : 0);
  s->proj = scratch_part(&at, s->chunk * r.B * gh);
  s->floats = at;
}

void ir_recurrent_scratch(const IrNode *n, int64_t proj_bytes, IrRecurrentScratch *s) {
  IrRecurrent r;
  ir_recurrent_geometry(n, &r);
  recurrent_layout(n, proj_bytes / (r.B * r.G * r.H * (int64_t)sizeof(float)), s);
}

void ir_recurrent_scratch_of(const IrNode *n, int64_t scratch_bytes, IrRecurrentScratch *s) {
  IrRecurrent r;
  ir_recurrent_geometry(n, &r);
  recurrent_layout(n, 1, s); /* proj is last: what follows its offset is its capacity */
  recurrent_layout(n, (scratch_bytes / (int64_t)sizeof(float) - s->proj) / (r.B * r.G * r.H), s);
}

/* Input k, if present, must be of dtype t and the given shape. */
static bool recurrent_input(const IrNode *n, int k, const char *what, IrDType t, int rank,
                            const int64_t *dims, IrDiag *d) {
  const IrValue *v = k < n->n_inputs ? n->inputs[k] : NULL;
  if (!v) return true;
  char field[32], s1[256], s2[256];
  snprintf(field, sizeof field, "inputs[%d]", k);
  if (v->dtype != t)
    return ir_node_error(d, n, field, "%s must be %s, got %s", what, ir_dtype_name(t),
                         ir_dtype_name(v->dtype));
  bool ok = v->rank == rank;
  for (int i = 0; ok && i < rank; i++) ok = v->dims[i] == dims[i];
  if (!ok)
    return ir_node_error(d, n, field, "%s has shape %s, expected %s", what,
                         ir_format_dims(v->rank, v->dims, s1, sizeof s1),
                         ir_format_dims(rank, dims, s2, sizeof s2));
  return true;
}

/* W (k = 1) or R (k = 2): f32, or an i8 constant with its f32 constant scale [D, G*H] of
 * positive finite values in slot IR_RECURRENT_W_SCALE / R_SCALE (ir_util.h). */
static bool recurrent_weight(const IrNode *n, int k, const char *what, const int64_t *dims,
                             IrDiag *d) {
  int ks = k == 1 ? IR_RECURRENT_W_SCALE : IR_RECURRENT_R_SCALE;
  const IrValue *w = n->inputs[k], *s = ks < n->n_inputs ? n->inputs[ks] : NULL;
  char field[32];
  snprintf(field, sizeof field, "inputs[%d]", ks);
  if (w->dtype != IR_I8) {
    if (s) return ir_node_error(d, n, field, "a scale is given for %s, which is not int8", what);
    return recurrent_input(n, k, what, IR_F32, 3, dims, d);
  }
  int64_t sd[2] = {dims[0], dims[1]};
  if (w->kind != IR_VALUE_CONST || !s)
    return ir_node_error(d, n, s ? "inputs" : field,
                         "an int8 %s must be an initializer with an f32 scale [D, G*H] in "
                         "inputs[%d]",
                         what, ks);
  if (!recurrent_input(n, k, what, IR_I8, 3, dims, d) ||
      !recurrent_input(n, ks, "the scale", IR_F32, 2, sd, d))
    return false;
  if (s->kind != IR_VALUE_CONST)
    return ir_node_error(d, n, field, "the scale of %s must be an initializer", what);
  for (int64_t i = 0; i < sd[0] * sd[1]; i++) {
    float v = ((const float *)s->data)[i];
    if (!(v > 0) || !isfinite(v))
      return ir_node_error(d, n, field, "scale[%lld] must be a positive finite number, got %g",
                           (long long)i, (double)v);
  }
  return true;
}

static bool infer_recurrent(IrNode *n, IrDiag *d) {
  if (!begin(n, 1, d)) return false;
  for (int k = n->op == IR_OP_LSTM ? 8 : 6; k < IR_RECURRENT_W_SCALE && k < n->n_inputs; k++)
    if (n->inputs[k])
      return ir_node_error(d, n, "inputs", "%s has no input %d", ir_op_info[n->op].name, k);
  const IrValue *x = n->inputs[0];
  char s[256];
  const char *dir = ir_attr_s(n, "direction");
  if (strcmp(dir, "forward") && strcmp(dir, "reverse") && strcmp(dir, "bidirectional"))
    return ir_node_error(d, n, "attrs.direction",
                         "'%s' is not one of forward, reverse, bidirectional", dir);
  if (ir_attr_i(n, "hidden_size") < 1 || ir_attr_i(n, "hidden_size") > IR_MAX_DIM)
    return ir_node_error(d, n, "attrs.hidden_size", "must be a positive size, got %lld",
                         (long long)ir_attr_i(n, "hidden_size"));
  if (ir_attr_i(n, "layout") != 0)
    return ir_node_error(d, n, "attrs.layout", "only layout 0 ([seq, batch, ...]) is supported");
  if (ir_attr(n, "clip")->present)
    return ir_node_error(d, n, "attrs.clip", "cell clipping is not supported");
  IrAct acts[2][3];
  if (!ir_recurrent_activations(n, acts, d)) return false;
  if (n->op == IR_OP_GRU && ir_attr_i(n, "linear_before_reset") != 1)
    return ir_node_error(d, n, "attrs.linear_before_reset",
                         "only linear_before_reset=1 (PyTorch's GRU) is supported");
  if (n->op == IR_OP_LSTM && ir_attr_i(n, "input_forget") != 0)
    return ir_node_error(d, n, "attrs.input_forget", "input_forget=1 is not supported");
  if (n->n_inputs > 4 && n->inputs[4])
    return ir_node_error(d, n, "inputs[4]",
                         "sequence_lens is not supported (every sequence has the full length)");
  if (n->n_inputs > 7 && n->inputs[7])
    return ir_node_error(d, n, "inputs[7]", "peephole weights (P) are not supported");
  if (x->rank != 3)
    return ir_node_error(d, n, "inputs[0]", "X must have rank 3 [seq, batch, input], got %s",
                         ir_format_dims(x->rank, x->dims, s, sizeof s));
  IrRecurrent r;
  ir_recurrent_geometry(n, &r);
  int64_t gh = r.G * r.H;
  if (!recurrent_weight(n, 1, "W", (int64_t[]){r.D, gh, r.I}, d) ||
      !recurrent_weight(n, 2, "R", (int64_t[]){r.D, gh, r.H}, d) ||
      !recurrent_input(n, 3, "B", IR_F32, 2, (int64_t[]){r.D, 2 * gh}, d) ||
      !recurrent_input(n, 5, "initial_h", IR_F32, 3, (int64_t[]){r.D, r.B, r.H}, d) ||
      !recurrent_input(n, 6, "initial_c", IR_F32, 3, (int64_t[]){r.D, r.B, r.H}, d))
    return false;
  return set_output(n, 0, IR_F32, 4, (int64_t[]){r.T, r.D, r.B, r.H}, d) &&
         set_output(n, 1, IR_F32, 3, (int64_t[]){r.D, r.B, r.H}, d) &&
         set_output(n, 2, IR_F32, 3, (int64_t[]){r.D, r.B, r.H}, d);
}

bool ir_infer_rnn(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_recurrent(n, d);
}
bool ir_infer_gru(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_recurrent(n, d);
}
bool ir_infer_lstm(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_recurrent(n, d);
}

/* ---- Slice ---------------------------------------------------------------------------------- */

/* Element j of constant integer input k (i32 or i64), or false if it is not such a list. */
static bool const_int_list(const IrNode *n, int k, int64_t *vals, int64_t *count, IrDiag *d) {
  const IrValue *v = n->inputs[k];
  char field[32];
  snprintf(field, sizeof field, "inputs[%d]", k);
  if (v->kind != IR_VALUE_CONST || (v->dtype != IR_I64 && v->dtype != IR_I32) || v->rank != 1 ||
      v->dims[0] > IR_MAX_RANK)
    return ir_node_error(d, n, field,
                         "'%s' must be a 1-D i32/i64 initializer of at most %d entries", v->name,
                         IR_MAX_RANK);
  *count = v->dims[0];
  for (int64_t j = 0; j < *count; j++)
    vals[j] = v->dtype == IR_I64 ? ((const int64_t *)v->data)[j] : ((const int32_t *)v->data)[j];
  return true;
}

bool ir_slice_params(const IrNode *n, int64_t *start, int64_t *step, int64_t *out_dims, IrDiag *d) {
  const IrValue *x = n->inputs[0];
  int64_t st[IR_MAX_RANK], en[IR_MAX_RANK], ax[IR_MAX_RANK], sp[IR_MAX_RANK];
  int64_t ns, ne, na, nsp;
  if (!const_int_list(n, 1, st, &ns, d) || !const_int_list(n, 2, en, &ne, d)) return false;
  if (ne != ns) return ir_node_error(d, n, "inputs[2]", "ends and starts differ in length");
  bool has_axes = n->n_inputs > 3 && n->inputs[3], has_steps = n->n_inputs > 4 && n->inputs[4];
  if (has_axes && !const_int_list(n, 3, ax, &na, d)) return false;
  if (has_steps && !const_int_list(n, 4, sp, &nsp, d)) return false;
  if ((has_axes && na != ns) || (has_steps && nsp != ns))
    return ir_node_error(d, n, has_axes && na != ns ? "inputs[3]" : "inputs[4]",
                         "length differs from starts (%lld)", (long long)ns);
  for (int i = 0; i < x->rank; i++) start[i] = 0, step[i] = 1, out_dims[i] = x->dims[i];
  unsigned seen = 0;
  for (int64_t j = 0; j < ns; j++) {
    int64_t a = has_axes ? ax[j] : j, s = has_steps ? sp[j] : 1;
    if (a < -x->rank || a >= x->rank || (seen & (1u << (a < 0 ? a + x->rank : a))))
      return ir_node_error(d, n, "inputs[3]", "axis %lld is out of range or repeated",
                           (long long)a);
    if (a < 0) a += x->rank;
    seen |= 1u << a;
    if (s == 0) return ir_node_error(d, n, "inputs[4]", "a step is 0");
    int64_t dim = x->dims[a], b = st[j], e = en[j];
    if (b < 0) b += dim;
    if (e < 0) e += dim;
    if (s > 0) {
      b = b < 0 ? 0 : b > dim ? dim : b;
      e = e < 0 ? 0 : e > dim ? dim : e;
      out_dims[a] = e > b ? (e - b + s - 1) / s : 0;
    } else {
      b = b < 0 ? 0 : b > dim - 1 ? dim - 1 : b;
      e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
      out_dims[a] = b > e ? (b - e - s - 1) / -s : 0;
    }
    start[a] = b, step[a] = s;
  }
  return true;
}

bool ir_infer_slice(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], out[IR_MAX_RANK];
  if (!ir_slice_params(n, start, step, out, d)) return false;
  return set_output(n, 0, n->inputs[0]->dtype, n->inputs[0]->rank, out, d);
}

/* ---- element-wise math, LogSoftmax ---------------------------------------------------------- */

bool ir_infer_exp(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_log(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_sqrt(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_neg(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_abs(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_erf(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_gelu(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  const char *a = ir_attr_s(n, "approximate");
  if (strcmp(a, "none") && strcmp(a, "tanh"))
    return ir_node_error(d, n, "attrs.approximate", "'%s' is not one of none, tanh", a);
  return infer_unary(n, d);
}
bool ir_infer_log_softmax(IrGraph *g, IrNode *n, IrDiag *d) { return ir_infer_softmax(g, n, d); }

/* Pow: f32 base and exponent, broadcast (a constant scalar exponent, x^2 of LayerNorm
 * decompositions, x^3 of tanh-GELU, is specialized by codegen). */
bool ir_infer_pow(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_binary(n, d);
}

/* ---- comparisons, Where, Cast --------------------------------------------------------------- */

bool ir_dtype_from_onnx(int64_t code, IrDType *out) {
  static const struct {
    int code;
    IrDType t;
  } map[] = {{1, IR_F32}, {10, IR_F16}, {3, IR_I8},  {2, IR_U8},
             {5, IR_I16}, {6, IR_I32},  {7, IR_I64}, {9, IR_BOOL}};
  for (size_t k = 0; k < sizeof map / sizeof *map; k++)
    if (map[k].code == code) return *out = map[k].t, true;
  return false;
}

/* Broadcast shape of inputs [0, count) into (rank, dims). */
static bool broadcast_inputs(const IrNode *n, int count, int *rank, int64_t *dims, IrDiag *d) {
  const IrValue *a = n->inputs[0];
  *rank = a->rank;
  memcpy(dims, a->dims, sizeof(int64_t) * IR_MAX_RANK);
  for (int k = 1; k < count; k++) {
    const IrValue *b = n->inputs[k];
    int64_t prev[IR_MAX_RANK];
    int pr = *rank, bad;
    memcpy(prev, dims, sizeof prev);
    if (!ir_broadcast_dims(pr, prev, b->rank, b->dims, rank, dims, &bad)) {
      char s1[256], s2[256], field[32];
      snprintf(field, sizeof field, "inputs[%d]", k);
      return ir_node_error(d, n, field, "shape %s does not broadcast with %s",
                           ir_format_dims(b->rank, b->dims, s1, sizeof s1),
                           ir_format_dims(pr, prev, s2, sizeof s2));
    }
  }
  return true;
}

static bool numeric(IrDType t) { return t == IR_F32 || t == IR_I32 || t == IR_I64; }

/* Equal / Less / Greater: two inputs of one dtype (f32, i32, i64), broadcast, bool result. */
static bool infer_compare(IrNode *n, IrDiag *d) {
  if (!begin(n, 0, d)) return false;
  const IrValue *a = n->inputs[0], *b = n->inputs[1];
  if (!numeric(a->dtype) || a->dtype != b->dtype)
    return ir_node_error(d, n, "inputs",
                         "inputs must share one dtype of f32, i32, i64 (got %s, %s)",
                         ir_dtype_name(a->dtype), ir_dtype_name(b->dtype));
  int r;
  int64_t out[IR_MAX_RANK];
  return broadcast_inputs(n, 2, &r, out, d) && set_output(n, 0, IR_BOOL, r, out, d);
}

bool ir_infer_equal(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_compare(n, d);
}
bool ir_infer_less(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_compare(n, d);
}
bool ir_infer_greater(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_compare(n, d);
}

/* Where(cond bool, x, y): x and y of one dtype (any), all three broadcast. */
bool ir_infer_where(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  const IrValue *cv = n->inputs[0], *x = n->inputs[1], *y = n->inputs[2];
  if (cv->dtype != IR_BOOL)
    return ir_node_error(d, n, "inputs[0]", "condition must be bool, got %s",
                         ir_dtype_name(cv->dtype));
  if (x->dtype != y->dtype)
    return ir_node_error(d, n, "inputs[2]", "X and Y must share one dtype (got %s, %s)",
                         ir_dtype_name(x->dtype), ir_dtype_name(y->dtype));
  int r;
  int64_t out[IR_MAX_RANK];
  return broadcast_inputs(n, 3, &r, out, d) && set_output(n, 0, x->dtype, r, out, d);
}

/* Cast between f32, i8, u8, i16, i32, i64 and bool (f16 is not supported). */
bool ir_infer_cast(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  IrDType to;
  if (!ir_dtype_from_onnx(ir_attr_i(n, "to"), &to) || to == IR_F16)
    return ir_node_error(d, n, "attrs.to",
                         "element type %lld is not supported (f32, i8, u8, i16, "
                         "i32, i64, bool)",
                         (long long)ir_attr_i(n, "to"));
  if (n->inputs[0]->dtype == IR_F16)
    return ir_node_error(d, n, "inputs[0]", "f16 input is not supported");
  return same_as_input(n, 0, to, d);
}

/* ---- Split ---------------------------------------------------------------------------------- */

bool ir_split_sizes(const IrNode *n, int *axis, int64_t *sizes, IrDiag *d) {
  const IrValue *x = n->inputs[0];
  if (x->rank < 1) return ir_node_error(d, n, "inputs[0]", "cannot split a scalar");
  int64_t a = 0;
  if (!get_axis(n, -x->rank, x->rank - 1, x->rank, &a, d)) return false;
  *axis = (int)a;
  const IrAttr *sa = ir_attr(n, "split");
  const IrValue *sv = n->n_inputs > 1 ? n->inputs[1] : NULL;
  int64_t dim = x->dims[a], total = 0;
  if (sa->present && sv)
    return ir_node_error(d, n, "inputs[1]", "split is given both as attribute and as input");
  if (sa->present || sv) {
    if (sv && (sv->kind != IR_VALUE_CONST || sv->dtype != IR_I64 || sv->rank != 1))
      return ir_node_error(d, n, "inputs[1]", "split '%s' must be a 1-D i64 initializer", sv->name);
    int64_t cnt = sv ? sv->dims[0] : sa->count;
    const int64_t *v = sv ? sv->data : sa->ints;
    if (cnt != n->n_outputs)
      return ir_node_error(d, n, sv ? "inputs[1]" : "attrs.split", "has %lld sizes for %d outputs",
                           (long long)cnt, n->n_outputs);
    for (int j = 0; j < n->n_outputs; j++) {
      if (v[j] < 1 || v[j] > dim)
        return ir_node_error(d, n, sv ? "inputs[1]" : "attrs.split",
                             "size %lld is not in [1, %lld]", (long long)v[j], (long long)dim);
      sizes[j] = v[j];
      total += v[j];
    }
    if (total != dim)
      return ir_node_error(d, n, sv ? "inputs[1]" : "attrs.split",
                           "sizes add up to %lld, the axis has %lld", (long long)total,
                           (long long)dim);
    return true;
  }
  if (dim % n->n_outputs)
    return ir_node_error(d, n, "outputs",
                         "axis %lld of size %lld does not split into %d equal "
                         "parts",
                         (long long)a, (long long)dim, n->n_outputs);
  for (int j = 0; j < n->n_outputs; j++) sizes[j] = dim / n->n_outputs;
  return true;
}

bool ir_infer_split(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  int axis;
  int64_t *sizes = malloc(sizeof *sizes * (size_t)n->n_outputs); /* up to IR_MAX_VARIADIC */
  if (!sizes) abort();
  bool ok = ir_split_sizes(n, &axis, sizes, d);
  const IrValue *x = n->inputs[0];
  for (int j = 0; ok && j < n->n_outputs; j++) {
    int64_t out[IR_MAX_RANK];
    memcpy(out, x->dims, sizeof out);
    out[axis] = sizes[j];
    ok = set_output(n, j, x->dtype, x->rank, out, d);
  }
  free(sizes);
  return ok;
}

/* ---- Shape, Constant, ConstantOfShape, Expand, Range --------------------------------------- */

void ir_shape_bounds(const IrNode *n, int *start, int *end) {
  int r = n->inputs[0]->rank;
  int64_t b[2] = {ir_attr_i(n, "start"), ir_attr(n, "end")->present ? ir_attr_i(n, "end") : r};
  for (int k = 0; k < 2; k++) {
    if (b[k] < 0) b[k] += r;
    b[k] = b[k] < 0 ? 0 : b[k] > r ? r : b[k];
  }
  *start = (int)b[0];
  *end = (int)b[1];
}

bool ir_infer_shape(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  int start, end;
  ir_shape_bounds(n, &start, &end);
  if (end <= start)
    return ir_node_error(d, n, "attrs", "start %d and end %d select no dimension of rank %d", start,
                         end, n->inputs[0]->rank);
  int64_t len = end - start;
  return set_output(n, 0, IR_I64, 1, &len, d);
}

/* Exactly one of value_float, value_floats, value_int, value_ints (the ONNX tensor `value` cannot
 * be written in Kiln JSON). */
bool ir_infer_constant(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  static const char *const names[4] = {"value_float", "value_floats", "value_int", "value_ints"};
  int which = -1, count = 0;
  for (int k = 0; k < 4; k++)
    if (ir_attr(n, names[k])->present) which = k, count++;
  if (count != 1)
    return ir_node_error(d, n, "attrs",
                         "exactly one of value_float, value_floats, value_int, value_ints is "
                         "required, got %d",
                         count);
  int64_t len = ir_attr(n, names[which])->count;
  bool list = which == 1 || which == 3;
  char field[32];
  snprintf(field, sizeof field, "attrs.%s", names[which]);
  if (list && len < 1) return ir_node_error(d, n, field, "is an empty list");
  return set_output(n, 0, which < 2 ? IR_F32 : IR_I64, list ? 1 : 0, &len, d);
}

/* Input k: a constant 1-D i64 shape of at most IR_MAX_RANK entries. */
static bool const_shape_input(const IrNode *n, int k, IrDiag *d) {
  const IrValue *sv = n->inputs[k];
  char s[256], field[32];
  snprintf(field, sizeof field, "inputs[%d]", k);
  if (sv->kind != IR_VALUE_CONST || sv->dtype != IR_I64 || sv->rank != 1)
    return ir_node_error(d, n, field, "the shape '%s' must be a 1-D i64 initializer (got %s%s %s)",
                         sv->name,
                         sv->kind == IR_VALUE_CONST   ? "a constant "
                         : sv->kind == IR_VALUE_INPUT ? "the graph input "
                                                      : "a computed ",
                         ir_dtype_name(sv->dtype), ir_format_dims(sv->rank, sv->dims, s, sizeof s));
  if (sv->dims[0] > IR_MAX_RANK)
    return ir_node_error(d, n, field, "the shape has %lld entries; at most %d are supported",
                         (long long)sv->dims[0], IR_MAX_RANK);
  return true;
}

bool ir_infer_constant_of_shape(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d) || !const_shape_input(n, 0, d)) return false;
  const IrAttr *value = ir_attr(n, "value");
  if (value->present && value->count != 1)
    return ir_node_error(d, n, "attrs.value", "must be a list of one number, got %d", value->count);
  const IrValue *sv = n->inputs[0];
  return set_output(n, 0, IR_F32, (int)sv->dims[0], sv->data, d);
}

/* Output shape: numpy broadcasting of the data's shape and the constant shape input. */
bool ir_infer_expand(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d) || !const_shape_input(n, 1, d)) return false;
  const IrValue *x = n->inputs[0], *sv = n->inputs[1];
  const int64_t *shape = sv->data;
  int rs = (int)sv->dims[0], r, bad;
  char s1[256], s2[256];
  for (int i = 0; i < rs; i++)
    if (shape[i] < 1)
      return ir_node_error(d, n, "inputs[1]", "shape %s: entry %d must be positive",
                           ir_format_dims(rs, shape, s1, sizeof s1), i);
  int64_t out[IR_MAX_RANK];
  if (!ir_broadcast_dims(x->rank, x->dims, rs, shape, &r, out, &bad))
    return ir_node_error(d, n, "inputs[1]", "shape %s does not broadcast with the data's %s",
                         ir_format_dims(rs, shape, s1, sizeof s1),
                         ir_format_dims(x->rank, x->dims, s2, sizeof s2));
  return set_output(n, 0, x->dtype, r, out, d);
}

/* Range: constant scalars start, limit, delta of one dtype (f32, i32, i64); length
 * max(ceil((limit - start) / delta), 0). */
bool ir_infer_range(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  static const char *const what[3] = {"start", "limit", "delta"};
  IrDType t = n->inputs[0]->dtype;
  if (!numeric(t))
    return ir_node_error(d, n, "inputs[0]", "start must be f32, i32 or i64, got %s",
                         ir_dtype_name(t));
  double v[3];
  for (int k = 0; k < 3; k++) {
    if (!const_scalar_input(n, k, what[k], t, d)) return false;
    const void *p = n->inputs[k]->data;
    v[k] = t == IR_F32   ? *(const float *)p
           : t == IR_I32 ? *(const int32_t *)p
                         : (double)*(const int64_t *)p;
  }
  if (v[2] == 0) return ir_node_error(d, n, "inputs[2]", "delta must not be 0");
  double len = ceil((v[1] - v[0]) / v[2]);
  if (t == IR_I64) { /* exact: doubles lose precision beyond 2^53 */
    int64_t s = *(const int64_t *)n->inputs[0]->data, l = *(const int64_t *)n->inputs[1]->data;
    int64_t dl = *(const int64_t *)n->inputs[2]->data, diff;
    if (__builtin_sub_overflow(l, s, &diff) || (diff == INT64_MIN && dl == -1))
      return ir_node_error(d, n, "inputs[1]", "limit - start overflows i64");
    len = (double)(diff / dl + ((diff % dl != 0) && ((diff < 0) == (dl < 0))));
  }
  int64_t out = !(len > 0) ? 0 : len > (double)IR_MAX_DIM ? IR_MAX_DIM + 1 : (int64_t)len;
  return set_output(n, 0, t, 1, &out, d);
}

/* ---- ArgMax / ArgMin, logical ops, ScatterND ------------------------------------------------ */

/* ArgMax / ArgMin: f32, i32 or i64 data, an axis, keepdims; the i64 index of the first (or with
 * select_last_index the last) extreme element. */
static bool infer_arg_extreme(IrNode *n, IrDiag *d) {
  if (!begin(n, 0, d)) return false;
  const IrValue *x = n->inputs[0];
  if (!numeric(x->dtype))
    return ir_node_error(d, n, "inputs[0]", "dtype %s is not supported by %s (f32, i32, i64)",
                         ir_dtype_name(x->dtype), ir_op_info[n->op].name);
  if (x->rank < 1) return ir_node_error(d, n, "inputs[0]", "needs an input of rank >= 1");
  int64_t axis = 0, out[IR_MAX_RANK];
  bool keep, last;
  if (!get_axis(n, -x->rank, x->rank - 1, x->rank, &axis, d) ||
      !ir_attr_flag(n, "keepdims", &keep, d) || !ir_attr_flag(n, "select_last_index", &last, d))
    return false;
  int r = 0;
  for (int i = 0; i < x->rank; i++)
    if (i != axis)
      out[r++] = x->dims[i];
    else if (keep)
      out[r++] = 1;
  return set_output(n, 0, IR_I64, r, out, d);
}

bool ir_infer_arg_max(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_arg_extreme(n, d);
}
bool ir_infer_arg_min(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_arg_extreme(n, d);
}

/* Not, And, Or, Xor: bool inputs (broadcast), bool output. */
static bool infer_logical(IrNode *n, IrDiag *d) {
  if (!begin(n, 0, d)) return false;
  char field[32];
  for (int k = 0; k < n->n_inputs; k++)
    if (n->inputs[k]->dtype != IR_BOOL) {
      snprintf(field, sizeof field, "inputs[%d]", k);
      return ir_node_error(d, n, field, "%s needs bool inputs, got %s", ir_op_info[n->op].name,
                           ir_dtype_name(n->inputs[k]->dtype));
    }
  int r;
  int64_t out[IR_MAX_RANK];
  return broadcast_inputs(n, n->n_inputs, &r, out, d) && set_output(n, 0, IR_BOOL, r, out, d);
}

bool ir_infer_logical_not(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_logical(n, d);
}
bool ir_infer_logical_and(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_logical(n, d);
}
bool ir_infer_logical_or(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_logical(n, d);
}
bool ir_infer_logical_xor(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_logical(n, d);
}

void ir_scatter_nd_geometry(const IrNode *n, int64_t *count, int *k, int64_t *slice_bytes) {
  const IrValue *x = n->inputs[0], *iv = n->inputs[1];
  *k = (int)iv->dims[iv->rank - 1];
  *count = ir_value_numel(iv) / *k;
  *slice_bytes = (int64_t)ir_dtype_size(x->dtype);
  for (int i = *k; i < x->rank; i++) *slice_bytes *= x->dims[i];
}

/* The attribute's value is one of `allowed` (NULL-terminated), else an error naming it. */
static bool one_of(const IrNode *n, const char *attr, const char *const *allowed, IrDiag *d) {
  const char *v = ir_attr_s(n, attr);
  for (int k = 0; allowed[k]; k++)
    if (!strcmp(v, allowed[k])) return true;
  char field[64];
  snprintf(field, sizeof field, "attrs.%s", attr);
  return ir_node_error(d, n, field, "'%s' is not supported", v);
}

IrScatterReduction ir_scatter_nd_reduction(const IrNode *n) {
  static const char *const names[] = {"none", "add", "mul", "max", "min"};
  const char *r = ir_attr_s(n, "reduction");
  for (int i = 0; i < 5; i++)
    if (!strcmp(r, names[i])) return (IrScatterReduction)i;
  return SCATTER_NONE; /* shape inference refuses other names */
}

/* ScatterND: data of any dtype (reduction none) or f32/i32/i64 (add, mul, max, min: the slices
 * combined with the data in index order), i64 indices [..., k] with k <= rank, updates of shape
 * indices.shape[:-1] + data.shape[k:] and the data's dtype. Indices are checked when the run
 * function runs (KRT_ERR_INDEX_RANGE); constant ones here. */
bool ir_infer_scatter_nd(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  const IrValue *x = n->inputs[0], *iv = n->inputs[1], *u = n->inputs[2];
  char s1[256], s2[256];
  static const char *const reductions[] = {"none", "add", "mul", "max", "min", NULL};
  if (!one_of(n, "reduction", reductions, d)) return false;
  if (ir_scatter_nd_reduction(n) != SCATTER_NONE && x->dtype != IR_F32 && x->dtype != IR_I32 &&
      x->dtype != IR_I64)
    return ir_node_error(d, n, "attrs.reduction", "'%s' needs f32, i32 or i64 data, got %s",
                         ir_attr_s(n, "reduction"), ir_dtype_name(x->dtype));
  if (x->rank < 1) return ir_node_error(d, n, "inputs[0]", "data must have rank >= 1");
  if (iv->dtype != IR_I64 || iv->rank < 1)
    return ir_node_error(d, n, "inputs[1]", "indices must be i64 of rank >= 1, got %s %s",
                         ir_dtype_name(iv->dtype),
                         ir_format_dims(iv->rank, iv->dims, s1, sizeof s1));
  int64_t k = iv->dims[iv->rank - 1];
  if (k > x->rank)
    return ir_node_error(d, n, "inputs[1]",
                         "index tuples of %lld entries exceed the data's rank %d", (long long)k,
                         x->rank);
  if (u->dtype != x->dtype)
    return ir_node_error(d, n, "inputs[2]", "updates have dtype %s, the data %s",
                         ir_dtype_name(u->dtype), ir_dtype_name(x->dtype));
  int64_t want[IR_MAX_RANK * 2];
  int r = 0;
  for (int i = 0; i < iv->rank - 1; i++) want[r++] = iv->dims[i];
  for (int i = (int)k; i < x->rank; i++) want[r++] = x->dims[i];
  bool ok = u->rank == r;
  for (int i = 0; ok && i < r; i++) ok = u->dims[i] == want[i];
  if (!ok)
    return ir_node_error(d, n, "inputs[2]", "updates have shape %s, expected %s",
                         ir_format_dims(u->rank, u->dims, s1, sizeof s1),
                         ir_format_dims(r, want, s2, sizeof s2));
  if (iv->kind == IR_VALUE_CONST)
    for (int64_t j = 0; j < ir_value_numel(iv); j++) {
      int64_t v = ((const int64_t *)iv->data)[j], dim = x->dims[j % k];
      if (v < -dim || v >= dim)
        return ir_node_error(d, n, "inputs[1]",
                             "index %lld (element %lld) is out of range [%lld, %lld]", (long long)v,
                             (long long)j, (long long)-dim, (long long)dim - 1);
    }
  return same_as_input(n, 0, x->dtype, d);
}

/* ---- activations and rounding (f32, element-wise) ------------------------------------------- */

bool ir_infer_elu(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_selu(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_softplus(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_softsign(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_hard_sigmoid(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_hard_swish(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_mish(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_reciprocal(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_floor(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_ceil(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_round(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}
bool ir_infer_sign(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_unary(n, d);
}

/* PRelu: f32 X and a slope broadcastable to X's shape (unidirectionally). */
bool ir_infer_prelu(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 2, d)) return false;
  const IrValue *x = n->inputs[0], *s = n->inputs[1];
  int64_t out[IR_MAX_RANK];
  int r, bad;
  if (!ir_broadcast_dims(x->rank, x->dims, s->rank, s->dims, &r, out, &bad) || r != x->rank ||
      memcmp(out, x->dims, sizeof(int64_t) * (size_t)r)) {
    char s1[256], s2[256];
    return ir_node_error(d, n, "inputs[1]", "slope of shape %s does not broadcast to X's %s",
                         ir_format_dims(s->rank, s->dims, s1, sizeof s1),
                         ir_format_dims(x->rank, x->dims, s2, sizeof s2));
  }
  return same_as_input(n, 0, IR_F32, d);
}

/* Mod: two inputs of one dtype, broadcast; integers (i32, i64) with fmod 0 (the divisor's sign,
 * as Python) or 1 (the dividend's, as C), f32 only with fmod 1 (as ONNX says). */
bool ir_infer_mod(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  bool fmod;
  if (!ir_attr_flag(n, "fmod", &fmod, d) || !infer_binary_of(n, true, d)) return false;
  if (!fmod && n->inputs[0]->dtype == IR_F32)
    return ir_node_error(d, n, "attrs.fmod", "must be 1 for f32 inputs (ONNX: fmod=0 is integer)");
  return true;
}

/* Sum, Mean, Min, Max: one or more f32 inputs, broadcast together. */
static bool infer_variadic(IrNode *n, IrDiag *d) {
  if (!begin(n, n->n_inputs, d)) return false;
  char field[32];
  for (int k = 0; k < n->n_inputs; k++)
    if (!n->inputs[k]) {
      snprintf(field, sizeof field, "inputs[%d]", k);
      return ir_node_error(d, n, field, "%s inputs cannot be omitted", ir_op_info[n->op].name);
    }
  int r;
  int64_t out[IR_MAX_RANK];
  return broadcast_inputs(n, n->n_inputs, &r, out, d) && set_output(n, 0, IR_F32, r, out, d);
}

bool ir_infer_sum(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_variadic(n, d);
}
bool ir_infer_mean(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_variadic(n, d);
}
bool ir_infer_min(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_variadic(n, d);
}
bool ir_infer_max(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_variadic(n, d);
}

/* ---- GlobalMaxPool, LRN, InstanceNormalization ---------------------------------------------- */

bool ir_infer_global_max_pool(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_global_pool(n, d);
}

/* LRN across channels of [N, C, ...]: size >= 1 (odd or even, as ONNX's window). */
bool ir_infer_lrn(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 1, d)) return false;
  const IrValue *x = n->inputs[0];
  if (x->rank < 3) return ir_node_error(d, n, "inputs[0]", "LRN expects [N,C,D1,...] (rank >= 3)");
  if (!ir_attr(n, "size")->present || ir_attr_i(n, "size") < 1 || ir_attr_i(n, "size") > IR_MAX_DIM)
    return ir_node_error(d, n, "attrs.size", "a positive window size is required");
  return same_as_input(n, 0, IR_F32, d);
}

/* InstanceNormalization: [N, C, D1, ...], scale and B of [C]. */
bool ir_infer_instance_norm(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 3, d)) return false;
  const IrValue *x = n->inputs[0];
  char s[256];
  if (x->rank < 3)
    return ir_node_error(d, n, "inputs[0]", "expected [N,C,D1,...] of rank >= 3, got %s",
                         ir_format_dims(x->rank, x->dims, s, sizeof s));
  for (int k = 1; k < 3; k++) {
    const IrValue *v = n->inputs[k];
    if (v->rank != 1 || v->dims[0] != x->dims[1]) {
      char field[32];
      snprintf(field, sizeof field, "inputs[%d]", k);
      return ir_node_error(d, n, field, "%s has shape %s, expected [%lld] (the channels)",
                           k == 1 ? "scale" : "B", ir_format_dims(v->rank, v->dims, s, sizeof s),
                           (long long)x->dims[1]);
    }
  }
  return same_as_input(n, 0, IR_F32, d);
}

/* ---- Tile, DepthToSpace, SpaceToDepth, CumSum ----------------------------------------------- */

/* Tile: any dtype; repeats a constant i64 [rank] of positive counts. */
bool ir_infer_tile(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d) || !const_shape_input(n, 1, d)) return false;
  const IrValue *x = n->inputs[0], *rv = n->inputs[1];
  const int64_t *r = rv->data;
  char s[256];
  if (rv->dims[0] != x->rank)
    return ir_node_error(d, n, "inputs[1]", "repeats has %lld entries, the input rank %d",
                         (long long)rv->dims[0], x->rank);
  int64_t out[IR_MAX_RANK];
  for (int i = 0; i < x->rank; i++) {
    if (r[i] < 1 || r[i] > IR_MAX_DIM)
      return ir_node_error(d, n, "inputs[1]", "repeats %s: entry %d must be positive",
                           ir_format_dims(x->rank, r, s, sizeof s), i);
    if (x->dims[i] > IR_MAX_DIM / r[i])
      return ir_node_error(d, n, "inputs[1]", "repeats %s: axis %d becomes too large",
                           ir_format_dims(x->rank, r, s, sizeof s), i);
    out[i] = x->dims[i] * r[i];
  }
  return set_output(n, 0, x->dtype, x->rank, out, d);
}

/* DepthToSpace / SpaceToDepth as a transpose of a 6-D view: the output's 6-D view dims and,
 * per view axis, the element stride in the input. */
void ir_space_depth_view(const IrNode *n, int64_t *dims, int64_t *strides) {
  const IrValue *x = n->inputs[0];
  int64_t b = ir_attr_i(n, "blocksize"), N = x->dims[0], C = x->dims[1], H = x->dims[2],
          W = x->dims[3];
  int64_t vin[6], perm[6];
  if (n->op == IR_OP_SPACE_TO_DEPTH) { /* [N, C, H/b, b, W/b, b] -> (0, 3, 5, 1, 2, 4) */
    int64_t v[6] = {N, C, H / b, b, W / b, b}, p[6] = {0, 3, 5, 1, 2, 4};
    memcpy(vin, v, sizeof v), memcpy(perm, p, sizeof p);
  } else if (!strcmp(ir_attr_s(n, "mode"), "CRD")) { /* [N, C/b², b, b, H, W] -> (0,1,4,2,5,3) */
    int64_t v[6] = {N, C / (b * b), b, b, H, W}, p[6] = {0, 1, 4, 2, 5, 3};
    memcpy(vin, v, sizeof v), memcpy(perm, p, sizeof p);
  } else { /* DCR: [N, b, b, C/b², H, W] -> (0, 3, 4, 1, 5, 2) */
    int64_t v[6] = {N, b, b, C / (b * b), H, W}, p[6] = {0, 3, 4, 1, 5, 2};
    memcpy(vin, v, sizeof v), memcpy(perm, p, sizeof p);
  }
  int64_t xs[6], s = 1;
  for (int i = 5; i >= 0; i--) xs[i] = s, s *= vin[i];
  for (int i = 0; i < 6; i++) dims[i] = vin[perm[i]], strides[i] = xs[perm[i]];
}

static bool infer_space_depth(IrNode *n, IrDiag *d) {
  if (!begin(n, 0, d)) return false;
  const IrValue *x = n->inputs[0];
  char s[256];
  int64_t b = ir_attr_i(n, "blocksize");
  if (!ir_attr(n, "blocksize")->present || b < 1 || b > 65536)
    return ir_node_error(d, n, "attrs.blocksize", "a block size in [1, 65536] is required");
  if (x->rank != 4)
    return ir_node_error(d, n, "inputs[0]", "expected [N,C,H,W], got %s",
                         ir_format_dims(x->rank, x->dims, s, sizeof s));
  int64_t out[4] = {x->dims[0], 0, 0, 0};
  if (n->op == IR_OP_SPACE_TO_DEPTH) {
    if (x->dims[2] % b || x->dims[3] % b)
      return ir_node_error(d, n, "attrs.blocksize", "%lld does not divide H and W of %s",
                           (long long)b, ir_format_dims(4, x->dims, s, sizeof s));
    out[1] = x->dims[1] * b * b, out[2] = x->dims[2] / b, out[3] = x->dims[3] / b;
  } else {
    const char *m = ir_attr_s(n, "mode");
    if (strcmp(m, "DCR") && strcmp(m, "CRD"))
      return ir_node_error(d, n, "attrs.mode", "'%s' is not one of DCR, CRD", m);
    if (x->dims[1] % (b * b))
      return ir_node_error(d, n, "attrs.blocksize", "%lld^2 does not divide the channels of %s",
                           (long long)b, ir_format_dims(4, x->dims, s, sizeof s));
    out[1] = x->dims[1] / (b * b), out[2] = x->dims[2] * b, out[3] = x->dims[3] * b;
  }
  return set_output(n, 0, x->dtype, 4, out, d);
}

bool ir_infer_depth_to_space(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_space_depth(n, d);
}
bool ir_infer_space_to_depth(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_space_depth(n, d);
}

int ir_cumsum_axis(const IrNode *n) {
  const IrValue *a = n->inputs[1], *x = n->inputs[0];
  int64_t v = a->dtype == IR_I64 ? *(const int64_t *)a->data : *(const int32_t *)a->data;
  return (int)(v < 0 ? v + x->rank : v);
}

/* CumSum: f32, i32 or i64 data; the axis a constant i32/i64 scalar; exclusive, reverse flags. */
bool ir_infer_cumsum(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 0, d)) return false;
  const IrValue *x = n->inputs[0], *a = n->inputs[1];
  bool f;
  if (!numeric(x->dtype))
    return ir_node_error(d, n, "inputs[0]", "dtype %s is not supported (f32, i32, i64)",
                         ir_dtype_name(x->dtype));
  if (x->rank < 1) return ir_node_error(d, n, "inputs[0]", "needs an input of rank >= 1");
  if (!ir_attr_flag(n, "exclusive", &f, d) || !ir_attr_flag(n, "reverse", &f, d)) return false;
  if (!const_scalar_input(n, 1, "axis", a->dtype == IR_I32 ? IR_I32 : IR_I64, d)) return false;
  int64_t v = a->dtype == IR_I64 ? *(const int64_t *)a->data : *(const int32_t *)a->data;
  if (v < -x->rank || v >= x->rank)
    return ir_node_error(d, n, "inputs[1]", "axis %lld is out of range for rank %d", (long long)v,
                         x->rank);
  return same_as_input(n, 0, x->dtype, d);
}

/* ---- Resize, Upsample ----------------------------------------------------------------------- */

/* Resize's `axes` (opset 18): the resized axes, normalized, in the given order (*na of them);
 * all axes when absent. False (reported) when invalid. */
static bool resize_axes(const IrNode *n, int *axes, int *na, IrDiag *d) {
  int r = n->inputs[0]->rank;
  const IrAttr *aa = n->op == IR_OP_RESIZE ? ir_attr(n, "axes") : NULL;
  *na = aa && aa->present ? aa->count : r;
  if (!aa || !aa->present) {
    for (int i = 0; i < r; i++) axes[i] = i;
    return true;
  }
  if (aa->count < 1 || aa->count > r)
    return ir_node_error(d, n, "attrs.axes", "has %d entries for data of rank %d", aa->count, r);
  bool seen[IR_MAX_RANK] = {false};
  for (int k = 0; k < aa->count; k++) {
    int64_t a = aa->ints[k] < 0 ? aa->ints[k] + r : aa->ints[k];
    if (a < 0 || a >= r || seen[a])
      return ir_node_error(d, n, "attrs.axes", "entry %d (%lld) is out of range or repeated", k,
                           (long long)aa->ints[k]);
    seen[a] = true, axes[k] = (int)a;
  }
  return true;
}

/* The scale of every axis: Upsample's `scales` attribute (opset 7) or input 1 (opset 9); Resize's
 * scales (input 2) or, from sizes (input 3), out / in. Both hold one entry per listed axis when
 * `axes` is given (other axes keep scale 1). With sizes, keep_aspect_ratio_policy not_larger /
 * not_smaller uses one scale, the min / max of out / in over the axes, for all of them, and
 * rounds scale * in half up (ONNX opset 18). Sets out dims too. False (reported) when they are
 * missing or not constant. */
bool ir_resize_scales(const IrNode *n, double *scales, int64_t *out, IrDiag *d) {
  const IrValue *x = n->inputs[0];
  bool up = n->op == IR_OP_UPSAMPLE;
  const IrValue *sv =
      up ? (n->n_inputs > 1 ? n->inputs[1] : NULL) : (n->n_inputs > 2 ? n->inputs[2] : NULL);
  const IrValue *zv = !up && n->n_inputs > 3 ? n->inputs[3] : NULL;
  const IrAttr *sa = up ? ir_attr(n, "scales") : NULL;
  if (sv && ir_value_numel(sv) == 0) sv = NULL; /* an empty scales input next to sizes */
  int axes[IR_MAX_RANK], na;
  if (!resize_axes(n, axes, &na, d)) return false;
  for (int i = 0; i < x->rank; i++) scales[i] = 1.0, out[i] = x->dims[i];
  char s[256];
  if (zv) {
    if (sv) return ir_node_error(d, n, "inputs[3]", "both scales and sizes are given");
    if (zv->kind != IR_VALUE_CONST || zv->dtype != IR_I64 || zv->rank != 1 || zv->dims[0] != na)
      return ir_node_error(d, n, "inputs[3]", "sizes must be a constant i64 [%d]", na);
    const int64_t *z = zv->data;
    const char *policy = ir_attr_s(n, "keep_aspect_ratio_policy");
    bool keep = strcmp(policy, "stretch") != 0, larger = !strcmp(policy, "not_smaller");
    double one = 0;
    for (int k = 0; k < na; k++) {
      if (z[k] < 1 || z[k] > IR_MAX_DIM)
        return ir_node_error(d, n, "inputs[3]", "sizes %s: entry %d must be positive",
                             ir_format_dims(na, z, s, sizeof s), k);
      int a = axes[k];
      out[a] = z[k], scales[a] = (double)z[k] / (double)x->dims[a];
      if (k == 0 || (larger ? scales[a] > one : scales[a] < one)) one = scales[a];
    }
    for (int k = 0; keep && k < na; k++) {
      int a = axes[k];
      double o = floor(one * (double)x->dims[a] + 0.5);
      if (!(o >= 1) || o > (double)IR_MAX_DIM)
        return ir_node_error(d, n, "attrs.keep_aspect_ratio_policy",
                             "scale %g gives no valid size for axis %d", one, a);
      scales[a] = one, out[a] = (int64_t)o;
    }
    return true;
  }
  const float *f = NULL;
  if (sv) {
    if (sv->kind != IR_VALUE_CONST || sv->dtype != IR_F32 || sv->rank != 1 || sv->dims[0] != na)
      return ir_node_error(d, n, up ? "inputs[1]" : "inputs[2]",
                           "scales must be a constant f32 [%d]", na);
    f = sv->data;
  } else if (!(sa && sa->present && sa->count == x->rank)) {
    return ir_node_error(d, n, up ? "attrs.scales" : "inputs", "scales (%d numbers) are required",
                         na);
  }
  for (int k = 0; k < na; k++) {
    int a = axes[k];
    double sc = f ? f[k] : (float)sa->floats[k];
    double o = floor((double)x->dims[a] * sc);
    if (!(sc > 0) || !(o >= 1) || o > (double)IR_MAX_DIM)
      return ir_node_error(d, n, up ? "attrs.scales" : "inputs[2]",
                           "scale %g of axis %d gives no valid size", sc, a);
    scales[a] = sc, out[a] = (int64_t)o;
  }
  return true;
}

/* Resize (opset 11+ inputs: X, roi, scales, sizes) and Upsample: modes nearest, linear and cubic
 * (Resize), with antialias, exclude_outside, axes and keep_aspect_ratio_policy; every coordinate
 * mode but tf_crop_and_resize; any dtype for nearest, f32 otherwise. */
static bool infer_resize(IrNode *n, IrDiag *d) {
  if (!begin(n, 0, d)) return false;
  const IrValue *x = n->inputs[0];
  static const char *const modes[] = {"nearest", "linear", "bilinear", "cubic", NULL};
  static const char *const up_modes[] = {"nearest", "linear", "bilinear", NULL};
  static const char *const coords[] = {"half_pixel",         "half_pixel_symmetric",
                                       "pytorch_half_pixel", "align_corners",
                                       "asymmetric",         NULL};
  static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil",
                                        NULL};
  static const char *const policies[] = {"stretch", "not_larger", "not_smaller", NULL};
  if (!one_of(n, "mode", n->op == IR_OP_RESIZE ? modes : up_modes, d)) return false;
  if (n->op == IR_OP_RESIZE && (!one_of(n, "coordinate_transformation_mode", coords, d) ||
                                !one_of(n, "nearest_mode", nearest, d) ||
                                !one_of(n, "keep_aspect_ratio_policy", policies, d)))
    return false;
  bool interpolate = strcmp(ir_attr_s(n, "mode"), "nearest") != 0;
  if (interpolate && x->dtype != IR_F32)
    return ir_node_error(d, n, "inputs[0]", "%s resize needs f32 data, got %s",
                         ir_attr_s(n, "mode"), ir_dtype_name(x->dtype));
  double scales[IR_MAX_RANK];
  int64_t out[IR_MAX_RANK];
  if (!ir_resize_scales(n, scales, out, d)) return false;
  for (int i = 0; i < x->rank; i++) { /* codegen keeps tables per output coordinate */
    if (scales[i] == 1.0 && out[i] == x->dims[i]) continue;
    if (out[i] > IR_RESIZE_MAX_DIM)
      return ir_node_error(d, n, "outputs[0]", "resized axis %d of %lld exceeds the limit %d", i,
                           (long long)out[i], IR_RESIZE_MAX_DIM);
    int64_t taps = ir_resize_tap_count(n, scales[i]);
    if (taps > IR_RESIZE_MAX_TAPS || taps * out[i] > IR_RESIZE_MAX_DIM)
      return ir_node_error(d, n, "attrs.antialias",
                           "downscaling axis %d by %g takes %lld taps per output (at most %d, "
                           "and %d in all)",
                           i, scales[i], (long long)taps, IR_RESIZE_MAX_TAPS, IR_RESIZE_MAX_DIM);
  }
  return set_output(n, 0, x->dtype, x->rank, out, d);
}

bool ir_infer_resize(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_resize(n, d);
}
bool ir_infer_upsample(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  return infer_resize(n, d);
}

/* The input coordinate of output coordinate o along an axis (ONNX's coordinate transformation;
 * Upsample is asymmetric). */
double ir_resize_coord(const IrNode *n, int64_t o, double scale, int64_t in, int64_t out) {
  const char *m =
      n->op == IR_OP_UPSAMPLE ? "asymmetric" : ir_attr_s(n, "coordinate_transformation_mode");
  if (!strcmp(m, "asymmetric")) return (double)o / scale;
  if (!strcmp(m, "align_corners"))
    return out == 1 ? 0.0 : (double)o * (double)(in - 1) / (double)(out - 1);
  if (!strcmp(m, "pytorch_half_pixel") && out == 1) return 0.0;
  double x = ((double)o + 0.5) / scale - 0.5; /* half_pixel, pytorch_half_pixel */
  if (!strcmp(m, "half_pixel_symmetric"))     /* centre of the input on the centre of the output */
    x += (double)in / 2 * (1 - (double)out / (scale * (double)in));
  return x;
}

/* The nearest input index of coordinate x (nearest_mode; Upsample: floor), clamped. */
int64_t ir_resize_nearest(const IrNode *n, double x, int64_t in) {
  const char *m = n->op == IR_OP_UPSAMPLE ? "floor" : ir_attr_s(n, "nearest_mode");
  double f = floor(x), r;
  if (!strcmp(m, "floor"))
    r = f;
  else if (!strcmp(m, "ceil"))
    r = ceil(x);
  else if (x - f == 0.5)
    r = !strcmp(m, "round_prefer_ceil") ? f + 1 : f;
  else
    r = floor(x + 0.5);
  return r < 0 ? 0 : r > (double)(in - 1) ? in - 1 : (int64_t)r;
}

/* The filter of an interpolating mode: its half-width in input samples (before antialias
 * stretches it) and its weight at distance t. Cubic is Keys' kernel with a = cubic_coeff_a. */
static bool resize_cubic(const IrNode *n) {
  return n->op == IR_OP_RESIZE && !strcmp(ir_attr_s(n, "mode"), "cubic");
}
static bool resize_antialias(const IrNode *n) {
  return n->op == IR_OP_RESIZE && ir_attr_i(n, "antialias") != 0;
}
static double resize_kernel(bool cubic, double a, double t) {
  t = fabs(t);
  if (!cubic) return t < 1 ? 1 - t : 0;
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

/* Taps per output coordinate along an axis of this scale: 1 (nearest), 2 (linear), 4 (cubic);
 * antialias stretches the filter by 1 / scale when downscaling (ONNX opset 18). Large values
 * (capped) for tiny scales; shape inference bounds them. */
int64_t ir_resize_tap_count(const IrNode *n, double scale) {
  if (!strcmp(ir_attr_s(n, "mode"), "nearest")) return 1;
  double half = resize_cubic(n) ? 2 : 1;
  if (!resize_antialias(n) || scale >= 1) return (int64_t)(2 * half);
  double start = floor(-half / scale) + 1; /* first tap relative to the coordinate's floor */
  return start < -(double)IR_RESIZE_MAX_DIM ? 2 * (int64_t)IR_RESIZE_MAX_DIM + 2
                                            : (int64_t)(2 - 2 * start);
}

/* The ir_resize_tap_count(n, scale) input indices and weights that make output coordinate o
 * (onnx's reference implementation): taps at floor(x) + j around the coordinate x, weights of
 * the filter at (j - frac(x)) * min(scale, 1), normalized under antialias; with
 * exclude_outside, taps outside the input weigh 0 and the rest are renormalized; indices are
 * then clamped to the input (edge padding). Nearest: one tap of weight 1. */
void ir_resize_taps(const IrNode *n, int64_t o, double scale, int64_t in, int64_t out, int64_t *idx,
                    double *w) {
  double x = ir_resize_coord(n, o, scale, in, out);
  if (!strcmp(ir_attr_s(n, "mode"), "nearest")) {
    idx[0] = ir_resize_nearest(n, x, in), w[0] = 1;
    return;
  }
  bool cubic = resize_cubic(n), aa = resize_antialias(n);
  bool exclude = n->op == IR_OP_RESIZE && ir_attr_i(n, "exclude_outside") != 0;
  double a = cubic ? ir_attr_f(n, "cubic_coeff_a") : 0, s = aa && scale < 1 ? scale : 1;
  double x0 = floor(x), frac = x - x0;
  if (frac == 0) frac = 1, x0 -= 1; /* the reference keeps frac in (0, 1] */
  int64_t k = ir_resize_tap_count(n, scale), start = 1 - k / 2;
  double sum = 0;
  for (int64_t t = 0; t < k; t++) {
    double j = (double)(start + t), i = x0 + j;
    w[t] = resize_kernel(cubic, a, (j - frac) * s);
    if (exclude && (i < 0 || i > (double)(in - 1))) w[t] = 0;
    idx[t] = i < 0 ? 0 : i > (double)(in - 1) ? in - 1 : (int64_t)i;
    sum += w[t];
  }
  if ((aa || exclude) && sum != 0)
    for (int64_t t = 0; t < k; t++) w[t] /= sum;
}

/* ---- Einsum --------------------------------------------------------------------------------- */

/* Letters a-z, A-Z are labels 0-51 of the equation; "..." stands for the broadcast dims of an
 * operand, given labels 52+ (right-aligned across operands, numpy broadcasting). */
enum { EIN_LETTERS = 52, EIN_ALL = EIN_LETTERS + IR_MAX_RANK };

static int ein_letter(char ch) {
  if (ch >= 'a' && ch <= 'z') return ch - 'a';
  if (ch >= 'A' && ch <= 'Z') return 26 + ch - 'A';
  return -1;
}

/* One term of the equation, s[0, len), into per-axis labels for an operand of rank `rank` (or
 * the output: rank -1, ellipsis of ell_rank dims). */
static bool ein_term(const IrNode *n, const char *s, size_t len, int rank, int ell_rank,
                     int *labels, int *count, int *ell, IrDiag *d) {
  int k = 0, explicit_n = 0;
  *ell = -1;
  for (size_t i = 0; i < len; i++)
    if (s[i] != '.') explicit_n++;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '.') {
      if (*ell >= 0 || i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.')
        return ir_node_error(d, n, "attrs.equation", "a malformed or repeated '...'");
      int er = rank >= 0 ? rank - explicit_n : ell_rank;
      if (er < 0) return ir_node_error(d, n, "attrs.equation", "a term has more labels than dims");
      *ell = k;
      for (int j = 0; j < er; j++) {
        if (k >= IR_MAX_RANK) return ir_node_error(d, n, "attrs.equation", "too many axes");
        labels[k++] = EIN_LETTERS + (ell_rank - er) + j; /* right-aligned */
      }
      i += 2;
      continue;
    }
    int l = ein_letter(s[i]);
    if (l < 0) return ir_node_error(d, n, "attrs.equation", "'%c' is not a label", s[i]);
    if (k >= IR_MAX_RANK) return ir_node_error(d, n, "attrs.equation", "too many axes");
    labels[k++] = l;
  }
  if (rank >= 0 && k != rank)
    return ir_node_error(d, n, "attrs.equation", "a term has %d labels for an input of rank %d", k,
                         rank);
  *count = k;
  return true;
}

bool ir_einsum_geometry(const IrNode *n, IrEinsum *e, IrDiag *d) {
  memset(e, 0, sizeof *e);
  const char *eq = ir_attr_s(n, "equation");
  char buf[256];
  size_t m = 0;
  for (const char *p = eq; *p && m + 1 < sizeof buf; p++)
    if (*p != ' ') buf[m++] = *p;
  buf[m] = 0;
  if (strlen(eq) >= sizeof buf) return ir_node_error(d, n, "attrs.equation", "is too long");
  const char *arrow = strstr(buf, "->");
  size_t lhs_len = arrow ? (size_t)(arrow - buf) : m;
  const char *comma = memchr(buf, ',', lhs_len);
  int n_ops = comma ? 2 : 1;
  if (n_ops != n->n_inputs)
    return ir_node_error(d, n, "attrs.equation", "has %d operand terms for %d inputs", n_ops,
                         n->n_inputs);
  if (comma && memchr(comma + 1, ',', lhs_len - (size_t)(comma + 1 - buf)))
    return ir_node_error(d, n, "attrs.equation", "more than two operands are not supported");
  e->n_ops = n_ops;
  int labels[2][IR_MAX_RANK], cnt[2], ell[2], ell_rank = 0;
  int64_t lsize[EIN_ALL];
  int seen[EIN_ALL] = {0};
  for (int l = 0; l < EIN_ALL; l++) lsize[l] = 1;
  const char *ts[2] = {buf, comma ? comma + 1 : NULL};
  size_t tl[2] = {comma ? (size_t)(comma - buf) : lhs_len,
                  comma ? lhs_len - (size_t)(comma + 1 - buf) : 0};
  for (int k = 0; k < n_ops; k++) { /* the widest ellipsis */
    int explicit_n = 0;
    bool has = false;
    for (size_t i = 0; i < tl[k]; i++) explicit_n += ts[k][i] != '.', has |= ts[k][i] == '.';
    int er = n->inputs[k]->rank - explicit_n;
    if (has && er > ell_rank) ell_rank = er;
  }
  for (int k = 0; k < n_ops; k++) {
    const IrValue *v = n->inputs[k];
    if (!ein_term(n, ts[k], tl[k], v->rank, ell_rank, labels[k], &cnt[k], &ell[k], d)) return false;
    for (int a = 0; a < cnt[k]; a++) {
      int l = labels[k][a];
      int64_t dim = v->dims[a];
      if (seen[l] && lsize[l] != dim && dim != 1 && lsize[l] != 1)
        return ir_node_error(d, n, "attrs.equation", "label sizes differ: %lld vs %lld",
                             (long long)lsize[l], (long long)dim);
      if (!seen[l] || lsize[l] == 1) lsize[l] = dim;
      seen[l]++;
    }
  }
  int out[IR_MAX_RANK], n_out = 0, oell;
  if (arrow) {
    if (!ein_term(n, arrow + 2, strlen(arrow + 2), -1, ell_rank, out, &n_out, &oell, d))
      return false;
    for (int i = 0; i < n_out; i++) {
      if (!seen[out[i]])
        return ir_node_error(d, n, "attrs.equation", "output label not in any input");
      for (int j = 0; j < i; j++)
        if (out[j] == out[i])
          return ir_node_error(d, n, "attrs.equation", "an output label is repeated");
    }
  } else { /* implicit: the ellipsis, then labels seen once, alphabetically */
    for (int l = EIN_LETTERS; l < EIN_LETTERS + ell_rank; l++) out[n_out++] = l;
    for (int l = 0; l < EIN_LETTERS; l++)
      if (seen[l] == 1) {
        if (n_out >= IR_MAX_RANK) return ir_node_error(d, n, "attrs.equation", "too many axes");
        out[n_out++] = l;
      }
  }
  /* label order: the output's, then the summed ones */
  int order[EIN_ALL], map[EIN_ALL], nl = 0;
  for (int l = 0; l < EIN_ALL; l++) map[l] = -1;
  for (int i = 0; i < n_out; i++) map[out[i]] = nl, order[nl++] = out[i];
  for (int l = 0; l < EIN_ALL; l++)
    if (seen[l] && map[l] < 0) {
      if (nl >= IR_EINSUM_MAX_LABELS)
        return ir_node_error(d, n, "attrs.equation", "more than %d labels", IR_EINSUM_MAX_LABELS);
      map[l] = nl, order[nl++] = l;
    }
  e->n_labels = nl;
  e->n_out = n_out;
  int64_t combos = 1;
  for (int i = 0; i < nl; i++) {
    e->size[i] = lsize[order[i]];
    if (__builtin_mul_overflow(combos, e->size[i], &combos) || combos > ((int64_t)1 << 48))
      return ir_node_error(d, n, "attrs.equation",
                           "iterates over more than 2^48 label combinations");
  }
  for (int k = 0; k < n_ops; k++) {
    const IrValue *v = n->inputs[k];
    int64_t s = 1;
    for (int a = cnt[k] - 1; a >= 0; a--) {
      if (v->dims[a] != 1) e->stride[k][map[labels[k][a]]] += s;
      s *= v->dims[a];
    }
  }
  return true;
}

bool ir_infer_einsum(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (!begin(n, 2, d)) return false;
  IrEinsum e;
  if (!ir_einsum_geometry(n, &e, d)) return false;
  return set_output(n, 0, IR_F32, e.n_out, e.size, d);
}

/* ---- recurrent activations ----------------------------------------------------------------- */

static const struct {
  const char *name;
  IrActKind kind;
  bool alpha, beta;
  float def_alpha, def_beta;
} act_table[] = {
    {"Sigmoid", IR_ACT_SIGMOID, false, false, 0, 0},
    {"Tanh", IR_ACT_TANH, false, false, 0, 0},
    {"Relu", IR_ACT_RELU, false, false, 0, 0},
    {"Affine", IR_ACT_AFFINE, true, true, 1.0f, 0.0f},
    {"LeakyRelu", IR_ACT_LEAKY_RELU, true, false, 0.01f, 0},
    {"ThresholdedRelu", IR_ACT_THRESHOLDED_RELU, true, false, 1.0f, 0},
    {"ScaledTanh", IR_ACT_SCALED_TANH, true, true, 1.0f, 1.0f},
    {"HardSigmoid", IR_ACT_HARD_SIGMOID, true, true, 0.2f, 0.5f},
    {"Elu", IR_ACT_ELU, true, false, 1.0f, 0},
    {"Softsign", IR_ACT_SOFTSIGN, false, false, 0, 0},
    {"Softplus", IR_ACT_SOFTPLUS, false, false, 0, 0},
};

bool ir_recurrent_activations(const IrNode *n, IrAct acts[2][3], IrDiag *d) {
  int per = n->op == IR_OP_RNN ? 1 : n->op == IR_OP_GRU ? 2 : 3;
  int dirs = strcmp(ir_attr_s(n, "direction"), "bidirectional") == 0 ? 2 : 1;
  static const IrActKind defaults[3] = {IR_ACT_SIGMOID, IR_ACT_TANH, IR_ACT_TANH};
  for (int dd = 0; dd < 2; dd++)
    for (int k = 0; k < 3; k++)
      acts[dd][k] = (IrAct){n->op == IR_OP_RNN ? IR_ACT_TANH : defaults[k], 0, 0};
  const char *s = ir_attr_s(n, "activations");
  const IrAttr *al = ir_attr(n, "activation_alpha"), *be = ir_attr(n, "activation_beta");
  if (!*s) {
    if (al->count || be->count)
      return ir_node_error(d, n, "attrs.activation_alpha",
                           "given without the activations they belong to");
    return true;
  }
  int count = 0, ai = 0, bi = 0;
  for (const char *p = s;; p++) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (count >= per * dirs)
      return ir_node_error(d, n, "attrs.activations", "more than %d functions (%d per direction)",
                           per * dirs, per);
    size_t k = 0;
    while (k < sizeof act_table / sizeof *act_table &&
           !(strlen(act_table[k].name) == len && !strncasecmp(act_table[k].name, p, len)))
      k++;
    if (k == sizeof act_table / sizeof *act_table)
      return ir_node_error(d, n, "attrs.activations", "'%.*s' is not a supported activation",
                           (int)(len > 64 ? 64 : len), p);
    IrAct a = {act_table[k].kind, act_table[k].def_alpha, act_table[k].def_beta};
    if (act_table[k].alpha && ai < al->count) a.alpha = (float)al->floats[ai++];
    if (act_table[k].beta && bi < be->count) a.beta = (float)be->floats[bi++];
    acts[count / per][count % per] = a;
    count++;
    if (!end) break;
    p = end;
  }
  if (count != per * dirs)
    return ir_node_error(d, n, "attrs.activations", "has %d functions, %s %s takes %d", count,
                         dirs == 2 ? "a bidirectional" : "a one-way", ir_op_info[n->op].name,
                         per * dirs);
  return true;
}

double ir_act_apply(const IrAct *a, double x) {
  double al = a->alpha, be = a->beta;
  switch (a->kind) {
  case IR_ACT_SIGMOID: return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
  case IR_ACT_TANH: return tanh(x);
  case IR_ACT_RELU: return x < 0 ? 0 : x;
  case IR_ACT_AFFINE: return al * x + be;
  case IR_ACT_LEAKY_RELU: return x < 0 ? al * x : x;
  case IR_ACT_THRESHOLDED_RELU: return x > al ? x : 0;
  case IR_ACT_SCALED_TANH: return al * tanh(be * x);
  case IR_ACT_HARD_SIGMOID: {
    double v = al * x + be;
    return v < 0 ? 0 : v > 1 ? 1 : v;
  }
  case IR_ACT_ELU: return x < 0 ? al * (exp(x) - 1) : x;
  case IR_ACT_SOFTSIGN: return x / (1 + fabs(x));
  default: return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); /* Softplus */
  }
}
