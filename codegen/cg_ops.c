/* Lowerings of the ops real exporters add (issue 13): ArgMax/ArgMin, the logical ops,
 * ScatterND. The interpreter's kernels (ir/interp_ops.c) say what each computes. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  LLVMValueRef end = cg_dyn_extent(c, x, (int)axis); /* along the run-time axis: its length */
  LLVMValueRef j = cg_loop_begin(c, &lj, cg_idx(c, 1), end ? end : cg_idx(c, len));
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
 * copied from the updates or, with a reduction, combined with them element by element. */
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
  IrScatterReduction red = ir_scatter_nd_reduction(n);
  if (red == SCATTER_NONE) {
    cg_memcpy(c, cg_gep(c, c->t_i8, out[0], cg_mulc(c, off, slice)),
              cg_gep(c, c->t_i8, in[2], cg_mulc(c, j, slice)), cg_idx(c, slice));
  } else { /* per element: out = out (reduction) update, as the interpreter */
    IrDType t = x->dtype;
    int64_t elems = slice / (int64_t)ir_dtype_size(t);
    CgLoop le;
    LLVMValueRef e = cg_for(c, &le, elems);
    LLVMValueRef at = cg_add(c, cg_mulc(c, off, elems), e);
    LLVMValueRef a = cg_load_elem(c, t, out[0], at);
    LLVMValueRef b = cg_load_elem(c, t, in[2], cg_add(c, cg_mulc(c, j, elems), e)), r;
    bool f = t == IR_F32;
    if (red == SCATTER_ADD)
      r = f ? LLVMBuildFAdd(c->b, a, b, "") : LLVMBuildAdd(c->b, a, b, "");
    else if (red == SCATTER_MUL)
      r = f ? LLVMBuildFMul(c->b, a, b, "") : LLVMBuildMul(c->b, a, b, "");
    else if (red == SCATTER_MAX)
      r = f ? cg_fmax(c, b, a) : cg_smax(c, a, b);
    else
      r = f ? cg_fmin(c, b, a) : cg_smin(c, a, b);
    cg_store_elem(c, t, r, out[0], at);
    cg_loop_end(c, &le, NULL, NULL);
  }
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

/* ---- GlobalMaxPool, LRN, InstanceNormalization --------------------------------------------- */

bool cg_lower_global_max_pool(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *x = n->inputs[0];
  int64_t spatial = 1;
  for (int d = 2; d < x->rank; d++) spatial *= x->dims[d];
  CgLoop l;
  LLVMValueRef nc = cg_for(c, &l, x->dims[0] * x->dims[1]);
  cg_store(c, cg_slice_max(c, in[0], cg_mulc(c, nc, spatial), spatial, NULL, 1), out[0], nc);
  cg_loop_end(c, &l, NULL, NULL);
  return true;
}

/* Per element: the sum of squares over the channel window (bounds clamped at run time), then
 * x * (bias + alpha/size * sum)^-beta as exp(-beta * log(.)) (the base is positive). */
bool cg_lower_lrn(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *x = n->inputs[0];
  int64_t N = x->dims[0], C = x->dims[1], S = 1, size = ir_attr_i(n, "size");
  for (int d = 2; d < x->rank; d++) S *= x->dims[d];
  double alpha = (float)ir_attr_f(n, "alpha"), beta = (float)ir_attr_f(n, "beta");
  double bias = (float)ir_attr_f(n, "bias");
  CgLoop lb, lc, ls, lk;
  LLVMValueRef b = cg_for(c, &lb, N);
  LLVMValueRef ch = cg_for(c, &lc, C);
  LLVMValueRef lo = cg_smax(c, cg_addc(c, ch, -(size - 1) / 2), cg_idx(c, 0));
  LLVMValueRef hi = cg_smin(c, cg_addc(c, ch, size / 2 + 1), cg_idx(c, C));
  LLVMValueRef s = cg_for(c, &ls, S);
  LLVMValueRef k = cg_loop_begin(c, &lk, lo, hi);
  LLVMValueRef acc = cg_loop_acc(c, &lk, cg_f32c(c, 0.0));
  LLVMValueRef v = cg_load(c, in[0], cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, b, C), k), S), s));
  LLVMValueRef next = cg_fmuladd(c, v, v, acc), sq;
  cg_loop_end(c, &lk, &next, &sq);
  LLVMValueRef base = cg_fmuladd(c, sq, cg_f32c(c, alpha / (double)size), cg_f32c(c, bias));
  LLVMValueRef f = cg_exp(c, LLVMBuildFMul(c->b, cg_f32c(c, -beta), cg_log(c, base), ""));
  LLVMValueRef at = cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, b, C), ch), S), s);
  cg_store(c, LLVMBuildFMul(c->b, cg_load(c, in[0], at), f, ""), out[0], at);
  cg_loop_end(c, &ls, NULL, NULL);
  cg_loop_end(c, &lc, NULL, NULL);
  cg_loop_end(c, &lb, NULL, NULL);
  return true;
}

/* Per (n, c) plane: the mean, the mean square deviation (two passes), then one multiply-add. */
bool cg_lower_instance_norm(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *x = n->inputs[0];
  int64_t C = x->dims[1], S = 1;
  for (int d = 2; d < x->rank; d++) S *= x->dims[d];
  double eps = (float)ir_attr_f(n, "epsilon");
  CgLoop lp, l1, l2, l3;
  LLVMValueRef p = cg_for(c, &lp, x->dims[0] * C);
  LLVMValueRef ch = LLVMBuildURem(c->b, p, cg_idx(c, C), "");
  LLVMValueRef row = cg_gep(c, c->t_f32, in[0], cg_mulc(c, p, S));
  LLVMValueRef orow = cg_gep(c, c->t_f32, out[0], cg_mulc(c, p, S));
  LLVMValueRef i = cg_for(c, &l1, S);
  LLVMValueRef acc = cg_loop_acc(c, &l1, cg_f32c(c, 0.0));
  LLVMValueRef next = cg_fadd_reassoc(c, acc, cg_load(c, row, i)), sum;
  cg_loop_end(c, &l1, &next, &sum);
  LLVMValueRef mean = LLVMBuildFDiv(c->b, sum, cg_f32c(c, (double)S), "");
  i = cg_for(c, &l2, S);
  acc = cg_loop_acc(c, &l2, cg_f32c(c, 0.0));
  LLVMValueRef dv = LLVMBuildFSub(c->b, cg_load(c, row, i), mean, "");
  next = cg_fadd_reassoc(c, acc, LLVMBuildFMul(c->b, dv, dv, ""));
  LLVMValueRef ss;
  cg_loop_end(c, &l2, &next, &ss);
  LLVMValueRef var = LLVMBuildFDiv(c->b, ss, cg_f32c(c, (double)S), "");
  LLVMValueRef sd = cg_sqrt(c, LLVMBuildFAdd(c->b, var, cg_f32c(c, eps), ""));
  LLVMValueRef k = LLVMBuildFDiv(c->b, cg_load(c, in[1], ch), sd, "");
  LLVMValueRef sh =
      LLVMBuildFSub(c->b, cg_load(c, in[2], ch), LLVMBuildFMul(c->b, mean, k, ""), "");
  i = cg_for(c, &l3, S);
  cg_store(c, cg_fmuladd(c, cg_load(c, row, i), k, sh), orow, i);
  cg_loop_end(c, &l3, NULL, NULL);
  cg_loop_end(c, &lp, NULL, NULL);
  return true;
}

/* ---- Tile, DepthToSpace, SpaceToDepth, CumSum ---------------------------------------------- */

/* One loop per output axis; the input coordinate is the output's modulo the input's size
 * (the identity on axes repeated once). */
bool cg_lower_tile(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  CgLoop loops[IR_MAX_RANK];
  LLVMValueRef src = cg_idx(c, 0), dst = cg_idx(c, 0);
  int64_t xs = 1, ys = 1, xst[IR_MAX_RANK], yst[IR_MAX_RANK];
  for (int a = y->rank - 1; a >= 0; a--)
    xst[a] = xs, yst[a] = ys, xs *= x->dims[a], ys *= y->dims[a];
  for (int a = 0; a < y->rank; a++) {
    LLVMValueRef o = cg_for(c, &loops[a], y->dims[a]);
    LLVMValueRef i =
        y->dims[a] == x->dims[a] ? o : LLVMBuildURem(c->b, o, cg_idx(c, x->dims[a]), "");
    src = cg_add(c, src, cg_mulc(c, i, xst[a]));
    dst = cg_add(c, dst, cg_mulc(c, o, yst[a]));
  }
  cg_store_elem(c, x->dtype, cg_load_elem(c, x->dtype, in[0], src), out[0], dst);
  for (int a = y->rank - 1; a >= 0; a--) cg_loop_end(c, &loops[a], NULL, NULL);
  return true;
}

/* A transpose of the 6-D view (ir_space_depth_view), collapsed where contiguous. */
static bool lower_space_depth(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrDType t = n->inputs[0]->dtype;
  int64_t dims[IR_MAX_RANK], st[2][IR_MAX_RANK], s = 1;
  ir_space_depth_view(n, dims, st[1]);
  for (int d = 5; d >= 0; d--) st[0][d] = s, s *= dims[d];
  int rank = 6;
  cg_nest_simplify(&rank, dims, 2, st);
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, 2, (const int64_t(*)[IR_MAX_RANK])st);
  for (int d = 0; d < rank - 1; d++) nest.loops[d].keep = true; /* as Transpose (cg_seq.c) */
  if (rank > 0) nest.loops[rank - 1].no_unroll = true;
  cg_store_elem(c, t, cg_load_elem(c, t, in[0], nest.off[1]), out[0], nest.off[0]);
  cg_nest_end(c, &nest);
  return true;
}
bool cg_lower_depth_to_space(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_space_depth(c, n, in, out);
}
bool cg_lower_space_to_depth(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_space_depth(c, n, in, out);
}

/* Per (outer, inner) line: a running sum carried by the loop along the axis (f32 in order,
 * integers wrapping); exclusive stores before adding, reverse walks from the end. */
bool cg_lower_cumsum(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *x = n->inputs[0];
  IrDType t = x->dtype;
  int axis = ir_cumsum_axis(n);
  bool excl = ir_attr_i(n, "exclusive") != 0, rev = ir_attr_i(n, "reverse") != 0;
  int64_t outer = 1, len = x->dims[axis], inner = 1;
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
  CgLoop lo, li, ls;
  LLVMValueRef o = cg_for(c, &lo, outer);
  LLVMValueRef i = cg_for(c, &li, inner);
  LLVMValueRef s = cg_for(c, &ls, len);
  LLVMValueRef zero = t == IR_F32 ? cg_f32c(c, 0.0) : LLVMConstInt(cg_elem_type(c, t), 0, 0);
  LLVMValueRef acc = cg_loop_acc(c, &ls, zero);
  LLVMValueRef k = rev ? cg_sub(c, cg_idx(c, len - 1), s) : s;
  LLVMValueRef at = cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, o, len), k), inner), i);
  LLVMValueRef v = cg_load_elem(c, t, in[0], at);
  LLVMValueRef next =
      t == IR_F32 ? LLVMBuildFAdd(c->b, acc, v, "") : LLVMBuildAdd(c->b, acc, v, "");
  cg_store_elem(c, t, excl ? acc : next, out[0], at);
  cg_loop_end(c, &ls, &next, NULL);
  cg_loop_end(c, &li, NULL, NULL);
  cg_loop_end(c, &lo, NULL, NULL);
  return true;
}

/* ---- Resize, Upsample ---------------------------------------------------------------------- */

/* The coordinate arithmetic runs at compile time (ir_resize_taps, as the interpreter): per
 * resized axis a table of k taps per output coordinate, input element offsets and (linear,
 * cubic) f32 weights. The generated nest over the output adds each axis's offsets; nearest
 * copies the one element, linear and cubic sum over the taps of the resized axes (one loop per
 * axis, k iterations: unrolled by LLVM for the short ones) the element times the product of the
 * axes' weights. Axes whose taps are the identity add o * stride. */
typedef struct {
  bool identity;
  int64_t k;           /* taps per output coordinate */
  LLVMValueRef off, w; /* constant tables [len][k] (i64 offsets, f32 weights) */
} ResizeAxis;

/* acc + the sum over the taps of resized axes res[r..nr) of x[off + offsets] * w * weights. */
static LLVMValueRef resize_tap_sum(Cg *c, const ResizeAxis *ax, const int *res, int nr, int r,
                                   const LLVMValueRef *iv, LLVMValueRef x, LLVMValueRef off,
                                   LLVMValueRef w, LLVMValueRef acc) {
  if (r == nr) return cg_fmuladd(c, cg_load(c, x, off), w, acc);
  const ResizeAxis *a = &ax[res[r]];
  CgLoop l;
  LLVMValueRef t = cg_for(c, &l, a->k), sum = cg_loop_acc(c, &l, acc), next, done;
  LLVMValueRef e = cg_add(c, cg_mulc(c, iv[res[r]], a->k), t);
  LLVMValueRef o = LLVMBuildTruncOrBitCast(c->b, cg_load_elem(c, IR_I64, a->off, e), c->t_idx, "");
  LLVMValueRef wa = cg_load(c, a->w, e);
  next = resize_tap_sum(c, ax, res, nr, r + 1, iv, x, cg_add(c, off, o),
                        w ? LLVMBuildFMul(c->b, w, wa, "") : wa, sum);
  cg_loop_end(c, &l, &next, &done);
  return done;
}

static bool lower_resize(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  IrDType t = x->dtype;
  bool nearest = !strcmp(ir_attr_s(n, "mode"), "nearest");
  double scales[IR_MAX_RANK];
  int64_t od[IR_MAX_RANK], xs[IR_MAX_RANK], s = 1;
  ir_resize_scales(n, scales, od, NULL);
  for (int a = x->rank - 1; a >= 0; a--) xs[a] = s, s *= x->dims[a];
  ResizeAxis ax[IR_MAX_RANK] = {0};
  for (int a = 0; a < x->rank; a++) {
    int64_t len = y->dims[a], in_len = x->dims[a], k = ir_resize_tap_count(n, scales[a]);
    if (scales[a] == 1.0 && len == in_len) { /* o -> o in every mode */
      ax[a].identity = true;
      continue;
    }
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(len * k));
    double *wd = malloc(sizeof(double) * (size_t)k);
    float *w = malloc(sizeof(float) * (size_t)(len * k));
    if (!idx || !wd || !w) abort();
    bool identity = len == in_len;
    for (int64_t o = 0; o < len; o++) {
      ir_resize_taps(n, o, scales[a], in_len, len, idx + o * k, wd);
      double on = 0; /* identity: weight 1 on element o, 0 elsewhere */
      for (int64_t j = 0; j < k; j++) {
        if (idx[o * k + j] == o)
          on += wd[j];
        else
          identity &= wd[j] == 0;
        w[o * k + j] = (float)wd[j];
        idx[o * k + j] *= xs[a];
      }
      identity &= on == 1.0;
    }
    ax[a].identity = identity;
    ax[a].k = k;
    if (!identity) {
      char name[300];
      snprintf(name, sizeof name, "%s.resize.%d", c->prefix, c->n_derived++);
      ax[a].off = cg_const_bytes(c, idx, sizeof(int64_t) * (size_t)(len * k), name);
      if (!nearest) {
        snprintf(name, sizeof name, "%s.resize.%d", c->prefix, c->n_derived++);
        ax[a].w = cg_const_bytes(c, w, sizeof(float) * (size_t)(len * k), name);
      }
    }
    free(idx), free(wd), free(w);
  }
  CgLoop loops[IR_MAX_RANK];
  LLVMValueRef base = cg_idx(c, 0), dst = cg_idx(c, 0), iv[IR_MAX_RANK];
  int64_t ys = 1, yst[IR_MAX_RANK];
  for (int a = y->rank - 1; a >= 0; a--) yst[a] = ys, ys *= y->dims[a];
  int res[IR_MAX_RANK], nr = 0;
  for (int a = 0; a < y->rank; a++) {
    iv[a] = cg_for(c, &loops[a], y->dims[a]);
    dst = cg_add(c, dst, cg_mulc(c, iv[a], yst[a]));
    if (ax[a].identity)
      base = cg_add(c, base, cg_mulc(c, iv[a], xs[a]));
    else if (nearest)
      base = cg_add(
          c, base,
          LLVMBuildTruncOrBitCast(c->b, cg_load_elem(c, IR_I64, ax[a].off, iv[a]), c->t_idx, ""));
    else
      res[nr++] = a;
  }
  LLVMValueRef v = nearest || nr == 0
                       ? cg_load_elem(c, t, in[0], base)
                       : resize_tap_sum(c, ax, res, nr, 0, iv, in[0], base, NULL, cg_f32c(c, 0.0));
  cg_store_elem(c, t, v, out[0], dst);
  for (int a = y->rank - 1; a >= 0; a--) cg_loop_end(c, &loops[a], NULL, NULL);
  return true;
}

bool cg_lower_resize(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_resize(c, n, in, out);
}
bool cg_lower_upsample(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_resize(c, n, in, out);
}

/* ---- Einsum -------------------------------------------------------------------------------- */

/* A nest over the output labels (collapsed where contiguous), inside it a nest over the summed
 * labels carrying the sum in a register (reassociable, so it vectorizes). */
bool cg_lower_einsum(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrEinsum e;
  ir_einsum_geometry(n, &e, NULL);
  int ro = e.n_out;
  int64_t od[IR_MAX_RANK], os[3][IR_MAX_RANK], s = 1;
  for (int l = ro - 1; l >= 0; l--) os[0][l] = s, s *= e.size[l];
  for (int l = 0; l < ro; l++) {
    od[l] = e.size[l];
    for (int k = 0; k < 2; k++) os[k + 1][l] = k < e.n_ops ? e.stride[k][l] : 0;
  }
  cg_nest_simplify(&ro, od, 3, os);
  CgNest on;
  cg_nest_begin(c, &on, ro, od, 3, (const int64_t(*)[IR_MAX_RANK])os);
  int nr = e.n_labels - e.n_out;
  CgLoop loops[IR_EINSUM_MAX_LABELS];
  LLVMValueRef acc = cg_f32c(c, 0.0), off[2] = {on.off[1], on.off[2]};
  for (int r = 0; r < nr; r++) {
    int l = e.n_out + r;
    LLVMValueRef iv = cg_for(c, &loops[r], e.size[l]);
    acc = cg_loop_acc(c, &loops[r], acc);
    for (int k = 0; k < e.n_ops; k++) off[k] = cg_add(c, off[k], cg_mulc(c, iv, e.stride[k][l]));
  }
  LLVMValueRef p = cg_load(c, in[0], off[0]);
  if (e.n_ops > 1) p = LLVMBuildFMul(c->b, p, cg_load(c, in[1], off[1]), "");
  acc = cg_fadd_reassoc(c, acc, p);
  for (int r = nr - 1; r >= 0; r--) {
    LLVMValueRef res;
    cg_loop_end(c, &loops[r], &acc, &res);
    acc = res;
  }
  cg_store(c, acc, out[0], on.off[0]);
  cg_nest_end(c, &on);
  return true;
}
