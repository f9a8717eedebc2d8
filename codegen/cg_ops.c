/* Lowerings of the ops real exporters add (issue 13): ArgMax/ArgMin, the logical ops,
 * ScatterND. The interpreter's kernels (ir/interp_ops.c) say what each computes. */
#include <assert.h>

#include "cg_internal.h"
#include "ir_util.h"
#include "krt.h"

/* ---- ArgMax / ArgMin ----------------------------------------------------------------------- */

/* Per (outer, inner) slice: a loop over the axis carrying the best value and its index; a
 * candidate replaces them when strictly better (ordered compare: a NaN never wins, as in the
 * interpreter) or, with select_last_index, equal. */
static bool lower_arg_extreme(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out,
                              bool is_max) {
  const IrValue *x = n->inputs[0];
  IrDType t = x->dtype;
  int64_t axis = ir_attr_i(n, "axis");
  if (axis < 0) axis += x->rank;
  bool last = ir_attr_i(n, "select_last_index") != 0;
  int64_t outer = 1, len = x->dims[axis], inner = 1;
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = (int)axis + 1; d < x->rank; d++) inner *= x->dims[d];
  CgLoop lo, li, lj;
  LLVMValueRef o = cg_for(c, &lo, outer);
  LLVMValueRef i = cg_for(c, &li, inner);
  LLVMValueRef base = cg_add(c, cg_mulc(c, o, len * inner), i);
  LLVMValueRef first = cg_load_elem(c, t, in[0], base);
  LLVMValueRef j = cg_loop_begin(c, &lj, cg_idx(c, 1), cg_idx(c, len));
  LLVMValueRef best = cg_loop_acc(c, &lj, first);
  LLVMValueRef best_j = cg_loop_acc(c, &lj, LLVMConstInt(c->t_i64, 0, 0));
  LLVMValueRef v = cg_load_elem(c, t, in[0], cg_add(c, base, cg_mulc(c, j, inner)));
  LLVMValueRef wins, eq;
  if (t == IR_F32) {
    wins = LLVMBuildFCmp(c->b, is_max ? LLVMRealOGT : LLVMRealOLT, v, best, "");
    eq = LLVMBuildFCmp(c->b, LLVMRealOEQ, v, best, "");
  } else {
    wins = LLVMBuildICmp(c->b, is_max ? LLVMIntSGT : LLVMIntSLT, v, best, "");
    eq = LLVMBuildICmp(c->b, LLVMIntEQ, v, best, "");
  }
  if (last) wins = LLVMBuildOr(c->b, wins, eq, "");
  LLVMValueRef next[2] = {
      LLVMBuildSelect(c->b, wins, v, best, ""),
      LLVMBuildSelect(c->b, wins, LLVMBuildSExtOrBitCast(c->b, j, c->t_i64, ""), best_j, "")};
  LLVMValueRef res[2];
  cg_loop_end(c, &lj, next, res);
  cg_store_elem(c, IR_I64, res[1], out[0], cg_add(c, cg_mulc(c, o, inner), i));
  cg_loop_end(c, &li, NULL, NULL);
  cg_loop_end(c, &lo, NULL, NULL);
  return true;
}

bool cg_lower_arg_max(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_arg_extreme(c, n, in, out, true);
}
bool cg_lower_arg_min(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_arg_extreme(c, n, in, out, false);
}

/* ---- Not, And, Or, Xor --------------------------------------------------------------------- */

/* bool bytes hold 0 or 1, so the bitwise operations are the logical ones (Not: x ^ 1). */
static bool lower_logical(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  int64_t dims[IR_MAX_RANK], st[3][IR_MAX_RANK];
  int rank = cg_broadcast_nest(n, n->n_inputs, dims, st);
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, n->n_inputs + 1, (const int64_t(*)[IR_MAX_RANK])st);
  LLVMValueRef a = cg_load_elem(c, IR_BOOL, in[0], nest.off[1]), r;
  LLVMValueRef b =
      n->n_inputs > 1 ? cg_load_elem(c, IR_BOOL, in[1], nest.off[2]) : LLVMConstInt(c->t_i8, 1, 0);
  switch (n->op) {
  case IR_OP_AND: r = LLVMBuildAnd(c->b, a, b, ""); break;
  case IR_OP_OR: r = LLVMBuildOr(c->b, a, b, ""); break;
  default: r = LLVMBuildXor(c->b, a, b, ""); break; /* Xor, Not */
  }
  cg_store_elem(c, IR_BOOL, r, out[0], nest.off[0]);
  cg_nest_end(c, &nest);
  return true;
}

bool cg_lower_logical_not(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_logical(c, n, in, out);
}
bool cg_lower_logical_and(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_logical(c, n, in, out);
}
bool cg_lower_logical_or(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_logical(c, n, in, out);
}
bool cg_lower_logical_xor(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_logical(c, n, in, out);
}

/* ---- ScatterND ----------------------------------------------------------------------------- */

/* The data copied through (unless the plan shares its buffer), then per index tuple: its k
 * entries wrapped and range-checked (KRT_ERR_INDEX_RANGE before any write outside), the slice
 * copied from the updates. */
bool cg_lower_scatter_nd(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *x = n->inputs[0];
  int64_t count, slice;
  int k;
  ir_scatter_nd_geometry(n, &count, &k, &slice);
  if (!cg_same_storage(c, x, n->outputs[0]))
    cg_memcpy(c, out[0], in[0], cg_idx(c, ir_value_nbytes(x)));
  CgLoop l;
  LLVMValueRef j = cg_for(c, &l, count);
  LLVMValueRef off = LLVMConstInt(c->t_i64, 0, 0);
  for (int a = 0; a < k; a++) {
    LLVMValueRef dim = LLVMConstInt(c->t_i64, (uint64_t)x->dims[a], 0);
    LLVMValueRef v = cg_load_elem(c, IR_I64, in[1], cg_addc(c, cg_mulc(c, j, k), a));
    LLVMValueRef neg = LLVMBuildICmp(c->b, LLVMIntSLT, v, LLVMConstInt(c->t_i64, 0, 0), "");
    v = LLVMBuildSelect(c->b, neg, LLVMBuildAdd(c->b, v, dim, ""), v, "");
    cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntUGE, v, dim, ""), cg_i32c(c, KRT_ERR_INDEX_RANGE));
    off = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, off, dim, ""), v, "");
  }
  off = LLVMBuildTruncOrBitCast(c->b, off, c->t_idx, "");
  cg_memcpy(c, cg_gep(c, c->t_i8, out[0], cg_mulc(c, off, slice)),
            cg_gep(c, c->t_i8, in[2], cg_mulc(c, j, slice)), cg_idx(c, slice));
  cg_loop_end(c, &l, NULL, NULL);
  return true;
}

/* ---- PRelu, Mod ---------------------------------------------------------------------------- */

bool cg_lower_prelu(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  int64_t dims[IR_MAX_RANK], st[3][IR_MAX_RANK];
  int rank = cg_broadcast_nest(n, 2, dims, st);
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, 3, (const int64_t(*)[IR_MAX_RANK])st);
  LLVMValueRef x = cg_load(c, in[0], nest.off[1]);
  LLVMValueRef sx = LLVMBuildFMul(c->b, cg_load(c, in[1], nest.off[2]), x, "");
  LLVMValueRef neg = LLVMBuildFCmp(c->b, LLVMRealOLT, x, cg_f32c(c, 0.0), "");
  cg_store(c, LLVMBuildSelect(c->b, neg, sx, x, ""), out[0], nest.off[0]);
  cg_nest_end(c, &nest);
  return true;
}

/* Integers as the interpreter: srem (the divisor -1 replaced by 1: x % -1 is 0 without the
 * INT_MIN overflow), then for fmod 0 the divisor added where the signs differ; a zero divisor
 * returns KRT_ERR_DIV_ZERO. f32 (fmod 1): a - trunc(a / b) * b, exact while the quotient is
 * below 2^24 in magnitude (frem would call libm's fmodf). */
bool cg_lower_mod(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrDType t = n->outputs[0]->dtype;
  int64_t dims[IR_MAX_RANK], st[3][IR_MAX_RANK];
  int rank = cg_broadcast_nest(n, 2, dims, st);
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, 3, (const int64_t(*)[IR_MAX_RANK])st);
  LLVMValueRef a = cg_load_elem(c, t, in[0], nest.off[1]);
  LLVMValueRef b = cg_load_elem(c, t, in[1], nest.off[2]), r;
  if (t == IR_F32) {
    LLVMValueRef q = cg_trunc(c, LLVMBuildFDiv(c->b, a, b, ""));
    r = cg_fmuladd(c, LLVMBuildFNeg(c->b, q, ""), b, a);
  } else {
    LLVMTypeRef et = cg_elem_type(c, t);
    LLVMValueRef zero = LLVMConstInt(et, 0, 0);
    cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntEQ, b, zero, ""), cg_i32c(c, KRT_ERR_DIV_ZERO));
    LLVMValueRef m1 = LLVMBuildICmp(c->b, LLVMIntEQ, b, LLVMConstAllOnes(et), "");
    r = LLVMBuildSRem(c->b, a, LLVMBuildSelect(c->b, m1, LLVMConstInt(et, 1, 0), b, ""), "");
    if (!ir_attr_i(n, "fmod")) {
      LLVMValueRef nz = LLVMBuildICmp(c->b, LLVMIntNE, r, zero, "");
      LLVMValueRef differ =
          LLVMBuildICmp(c->b, LLVMIntNE, LLVMBuildICmp(c->b, LLVMIntSLT, r, zero, ""),
                        LLVMBuildICmp(c->b, LLVMIntSLT, b, zero, ""), "");
      r = LLVMBuildSelect(c->b, LLVMBuildAnd(c->b, nz, differ, ""), LLVMBuildAdd(c->b, r, b, ""), r,
                          "");
    }
  }
  cg_store_elem(c, t, r, out[0], nest.off[0]);
  cg_nest_end(c, &nest);
  return true;
}

/* ---- Sum, Mean, Min, Max ------------------------------------------------------------------- */

/* Any number of inputs: the output takes input 0 (broadcast), then each further input is folded
 * in by its own nest (a nest streams at most CG_NEST_MAX_OPS operands); Mean divides in the last
 * one. The output never shares a buffer with an input (the op is not element-wise to the
 * memory planner). */
static bool lower_variadic(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *y = n->outputs[0];
  int64_t ys[IR_MAX_RANK], s = 1;
  for (int d = y->rank - 1; d >= 0; d--) ys[d] = s, s *= y->dims[d];
  for (int k = 0; k < n->n_inputs; k++) {
    int64_t dims[IR_MAX_RANK], st[3][IR_MAX_RANK];
    int rank = y->rank;
    for (int d = 0; d < rank; d++) dims[d] = y->dims[d], st[0][d] = st[1][d] = ys[d];
    ir_broadcast_strides(n->inputs[k]->rank, n->inputs[k]->dims, rank, y->dims, st[2]);
    cg_nest_simplify(&rank, dims, 3, st);
    CgNest nest;
    cg_nest_begin(c, &nest, rank, dims, 3, (const int64_t(*)[IR_MAX_RANK])st);
    LLVMValueRef v = cg_load(c, in[k], nest.off[2]);
    if (k > 0) {
      LLVMValueRef acc = cg_load(c, out[0], nest.off[1]);
      v = n->op == IR_OP_MIN   ? cg_fmin(c, acc, v)
          : n->op == IR_OP_MAX ? cg_fmax(c, acc, v)
                               : LLVMBuildFAdd(c->b, acc, v, "");
    }
    if (n->op == IR_OP_MEAN && k == n->n_inputs - 1)
      v = LLVMBuildFDiv(c->b, v, cg_f32c(c, (double)n->n_inputs), "");
    cg_store(c, v, out[0], nest.off[0]);
    cg_nest_end(c, &nest);
  }
  return true;
}

bool cg_lower_sum(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_variadic(c, n, in, out);
}
bool cg_lower_mean(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_variadic(c, n, in, out);
}
bool cg_lower_min(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_variadic(c, n, in, out);
}
bool cg_lower_max(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_variadic(c, n, in, out);
}
