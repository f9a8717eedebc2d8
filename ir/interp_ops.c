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
int ir_interp_scatter_nd(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *x = n->inputs[0];
  int64_t count, slice;
  int k;
  ir_scatter_nd_geometry(n, &count, &k, &slice);
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
    memcpy((char *)out[0] + off * slice, (const char *)in[2] + j * slice, (size_t)slice);
  }
  return KRT_OK;
}
