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
  const IrValue *x = n->inputs[0], *iv = n->inputs[1];
  int64_t axis = ir_attr_i(n, "axis");
  if (axis < 0) axis += x->rank;
  int64_t outer = 1, len = x->dims[axis], inner = (int64_t)ir_dtype_size(x->dtype);
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = (int)axis + 1; d < x->rank; d++) inner *= x->dims[d];
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

enum { RED_SUM, RED_MEAN, RED_MAX };

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
  for (int64_t o = 0; o < n_out; o++) acc[o] = kind == RED_MAX ? -INFINITY : 0.0;
  const float *xs = in[0];
  for (int64_t i = 0; i < n_in; i++) {
    int64_t o = ir_broadcast_offset(i, x->rank, x->dims, ostr);
    double v = xs[i];
    if (kind == RED_MAX)
      acc[o] = (v > acc[o] || isnan(v)) && !isnan(acc[o]) ? v : acc[o];
    else
      acc[o] += v;
  }
  float *y = out[0];
  for (int64_t o = 0; o < n_out; o++)
    y[o] = (float)(kind == RED_MEAN ? acc[o] / (double)(n_in / n_out) : acc[o]);
  free(acc);
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
