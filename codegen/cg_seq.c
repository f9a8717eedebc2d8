/* Lowerings of the sequence-model ops (issue 3): Gather. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"
#include "conv_params.h"
#include "ir_util.h"
#include "kernels/cg_kernels.h"
#include "krt.h"

/* Per index j: load it (i32 or i64), wrap a negative one, return KRT_ERR_INDEX_RANGE unless it
 * lies in [0, len), then copy its row of every outer block. Nothing is read outside the table:
 * the check dominates the copy. */
bool cg_lower_gather(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *iv = n->inputs[1];
  int64_t outer, len, inner;
  ir_gather_geometry(n, &outer, &len, &inner);
  int64_t count = ir_value_numel(iv);
  LLVMTypeRef it = iv->dtype == IR_I64 ? c->t_i64 : c->t_i32;

  CgLoop lj, lo;
  LLVMValueRef j = cg_for(c, &lj, count);
  LLVMValueRef k = LLVMBuildLoad2(c->b, it, cg_gep(c, it, in[1], j), "idx");
  LLVMSetAlignment(k, (unsigned)ir_dtype_size(iv->dtype));
  k = LLVMBuildSExt(c->b, k, c->t_i64, "");
  /* a row chosen along the run-time axis (ir_dyn_along): indices up to the length */
  int64_t axis = ir_attr_i(n, "axis");
  LLVMValueRef end =
      cg_dyn_extent(c, n->inputs[0], (int)(axis < 0 ? axis + n->inputs[0]->rank : axis));
  end = end ? LLVMBuildZExtOrBitCast(c->b, end, c->t_i64, "")
            : LLVMConstInt(c->t_i64, (uint64_t)len, 0);
  LLVMValueRef neg = LLVMBuildICmp(c->b, LLVMIntSLT, k, LLVMConstInt(c->t_i64, 0, 0), "");
  k = LLVMBuildSelect(c->b, neg, LLVMBuildAdd(c->b, k, end, ""), k, "");
  cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntUGE, k, end, ""), cg_i32c(c, KRT_ERR_INDEX_RANGE));
  k = LLVMBuildTruncOrBitCast(c->b, k, c->t_idx, "");
  LLVMValueRef o = cg_for(c, &lo, outer);
  LLVMValueRef src = cg_gep(c, c->t_i8, in[0], cg_mulc(c, cg_add(c, cg_mulc(c, o, len), k), inner));
  LLVMValueRef dst =
      cg_gep(c, c->t_i8, out[0], cg_mulc(c, cg_add(c, cg_mulc(c, o, count), j), inner));
  cg_memcpy(c, dst, src, cg_idx(c, inner));
  cg_loop_end(c, &lo, NULL, NULL);
  cg_loop_end(c, &lj, NULL, NULL);
  return true;
}

/* ---- reductions ---------------------------------------------------------------------------- */

enum { RED_SUM, RED_MEAN, RED_MAX, RED_MIN, RED_PROD, RED_L1, RED_L2, RED_SUM_SQUARE, RED_LSE };

static void row_strides(int rank, const int64_t *dims, int64_t *strides) {
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; d--) strides[d] = s, s *= dims[d];
}

/* The run-time length of a reduction along the run-time axis (its loop, outermost) and that
 * axis' element stride; n NULL otherwise. */
typedef struct DynAxis {
  LLVMValueRef n;
  int64_t stride;
} DynAxis;

/* The reduction of x over the inner nest (ri loops of dims id, element strides is) from element
 * offset base, inside a loop over the run-time axis when dyn->n: the innermost reduced loop
 * carries the accumulator; outer reduced loops go through a chain of accumulators, one per
 * level. Sums reassociate so they vectorize; Max and Min propagate NaN. LogSumExp sums
 * exp(x - shift). */
static LLVMValueRef reduce_inner(Cg *c, LLVMValueRef x, LLVMValueRef base, int ri,
                                 const int64_t *id, const int64_t *is, const DynAxis *dyn, int kind,
                                 LLVMValueRef shift) {
  LLVMValueRef acc = cg_f32c(c, kind == RED_MAX    ? -INFINITY
                                : kind == RED_MIN  ? INFINITY
                                : kind == RED_PROD ? 1.0
                                                   : 0.0);
  CgLoop loops[IR_MAX_RANK], dl;
  LLVMValueRef offs[IR_MAX_RANK + 1];
  if (dyn->n) {
    LLVMValueRef r = cg_loop_begin(c, &dl, cg_idx(c, 0), dyn->n);
    acc = cg_loop_acc(c, &dl, acc);
    base = cg_add(c, base, cg_mulc(c, r, dyn->stride));
  }
  offs[0] = base;
  for (int d = 0; d < ri; d++) {
    LLVMValueRef iv = cg_for(c, &loops[d], id[d]);
    acc = cg_loop_acc(c, &loops[d], acc);
    offs[d + 1] = cg_add(c, offs[d], cg_mulc(c, iv, is[d]));
  }
  LLVMValueRef v = cg_load(c, x, offs[ri]);
  switch (kind) {
  case RED_MAX: acc = cg_fmax(c, v, acc); break;
  case RED_MIN: acc = cg_fmin(c, v, acc); break;
  case RED_PROD: acc = LLVMBuildFMul(c->b, acc, v, ""); break;
  case RED_L1: acc = cg_fadd_reassoc(c, acc, cg_intrinsic(c, "llvm.fabs", c->t_f32, &v, 1)); break;
  case RED_L2:
  case RED_SUM_SQUARE: acc = cg_fadd_reassoc(c, acc, LLVMBuildFMul(c->b, v, v, "")); break;
  case RED_LSE: acc = cg_fadd_reassoc(c, acc, cg_exp(c, LLVMBuildFSub(c->b, v, shift, ""))); break;
  default: acc = cg_fadd_reassoc(c, acc, v); break;
  }
  for (int d = ri - 1; d >= 0; d--) {
    LLVMValueRef res;
    cg_loop_end(c, &loops[d], &acc, &res);
    acc = res;
  }
  if (dyn->n) {
    LLVMValueRef res;
    cg_loop_end(c, &dl, &acc, &res);
    acc = res;
  }
  return acc;
}

/* An outer nest over the kept axes (output and input offsets), an inner nest over the reduced
 * axes accumulating in a register (reduce_inner); LogSumExp runs it twice, for the max first. */
static bool lower_reduce(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out, int kind) {
  /* data and result are f32 (shape inference); input 1 holds constant i64 axes */
  const IrValue *x = n->inputs[0];
  unsigned mask;
  int count;
  ir_node_axes(n, 1, x->rank, &mask, &count, NULL);
  if (count == 0 && !ir_attr_i(n, "noop_with_empty_axes")) mask = (1u << x->rank) - 1;
  int ro = x->rank, ri = x->rank;
  int64_t xs[IR_MAX_RANK], xd[IR_MAX_RANK], kd[IR_MAX_RANK], od[IR_MAX_RANK], id[IR_MAX_RANK];
  int64_t os[2][IR_MAX_RANK], is[1][IR_MAX_RANK];
  row_strides(x->rank, x->dims, xs);
  memcpy(xd, x->dims, sizeof xd);
  /* along the run-time axis (ir_dyn_along) or a second one (IrValue.dyn2, over which it
   * reduces): that axis is a loop of its own, to the length */
  int da = x->dyn2 && (mask >> (x->dyn2 - 1) & 1u) ? x->dyn2 - 1 : x->dyn - 1;
  DynAxis dyn = {da >= 0 ? cg_dyn_extent(c, x, da) : NULL, 0};
  if (dyn.n) dyn.stride = xs[da], xd[da] = 1;
  for (int d = 0; d < x->rank; d++) kd[d] = (mask & (1u << d)) ? 1 : x->dims[d];
  row_strides(x->rank, kd, os[0]);
  int64_t len = 1;
  for (int d = 0; d < x->rank; d++) {
    bool red = mask & (1u << d);
    od[d] = red ? 1 : xd[d];
    os[1][d] = red ? 0 : xs[d];
    id[d] = red ? xd[d] : 1;
    is[0][d] = red ? xs[d] : 0;
    if (red) len *= xd[d];
  }
  cg_nest_simplify(&ro, od, 2, os);
  cg_nest_simplify(&ri, id, 1, is);
  CgNest on;
  cg_nest_begin(c, &on, ro, od, 2, (const int64_t(*)[IR_MAX_RANK])os);
  LLVMValueRef acc;
  if (kind == RED_LSE) { /* max + log(sum(exp(x - max))); an infinite max is used as is */
    LLVMValueRef mx = reduce_inner(c, in[0], on.off[1], ri, id, is[0], &dyn, RED_MAX, NULL);
    LLVMValueRef ax = cg_intrinsic(c, "llvm.fabs", c->t_f32, &mx, 1);
    LLVMValueRef fin = LLVMBuildFCmp(c->b, LLVMRealONE, ax, cg_f32c(c, INFINITY), "");
    LLVMValueRef shift = LLVMBuildSelect(c->b, fin, mx, cg_f32c(c, 0.0), "");
    acc = reduce_inner(c, in[0], on.off[1], ri, id, is[0], &dyn, RED_LSE, shift);
    acc = LLVMBuildFAdd(c->b, shift, cg_log(c, acc), "");
  } else {
    acc = reduce_inner(c, in[0], on.off[1], ri, id, is[0], &dyn, kind, NULL);
  }
  if (kind == RED_MEAN) {
    LLVMValueRef count = cg_f32c(c, (double)len);
    if (dyn.n) count = LLVMBuildFMul(c->b, count, LLVMBuildUIToFP(c->b, dyn.n, c->t_f32, ""), "");
    acc = LLVMBuildFDiv(c->b, acc, count, "");
  }
  if (kind == RED_L2) acc = cg_sqrt(c, acc);
  cg_store(c, acc, out[0], on.off[0]);
  cg_nest_end(c, &on);
  return true;
}

bool cg_lower_reduce_mean(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_reduce(c, n, in, out, RED_MEAN);
}
bool cg_lower_reduce_sum(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_reduce(c, n, in, out, RED_SUM);
}
bool cg_lower_reduce_max(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_reduce(c, n, in, out, RED_MAX);
}
bool cg_lower_reduce_min(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_reduce(c, n, in, out, RED_MIN);
}
bool cg_lower_reduce_prod(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_reduce(c, n, in, out, RED_PROD);
}
bool cg_lower_reduce_l1(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_reduce(c, n, in, out, RED_L1);
}
bool cg_lower_reduce_l2(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_reduce(c, n, in, out, RED_L2);
}
bool cg_lower_reduce_sum_square(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_reduce(c, n, in, out, RED_SUM_SQUARE);
}
bool cg_lower_reduce_log_sum_exp(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_reduce(c, n, in, out, RED_LSE);
}

/* ---- Transpose ----------------------------------------------------------------------------- */

/* One nest over the output (collapsed where both sides are contiguous), element copies of the
 * dtype's size. */
bool cg_lower_transpose(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  const IrAttr *p = ir_attr(n, "perm");
  int rank = y->rank;
  int64_t xs[IR_MAX_RANK], st[2][IR_MAX_RANK], dims[IR_MAX_RANK];
  row_strides(x->rank, x->dims, xs);
  row_strides(y->rank, y->dims, st[0]);
  for (int d = 0; d < rank; d++) {
    dims[d] = y->dims[d];
    st[1][d] = xs[p->present ? p->ints[d] : x->rank - 1 - d];
  }
  cg_nest_simplify(&rank, dims, 2, st);
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, 2, (const int64_t(*)[IR_MAX_RANK])st);
  /* -O3: the outer loops stay loops (CgLoop.no_unroll: transformer_classifier's head transposes
   * took 2 KB of stack) and are not vectorized: once -O3 unrolled the inner loop, LLVM vectorized
   * an outer one with masked scatters (its stores are strided). The inner loop is vectorized by
   * LLVM's loop vectorizer at either level, not unrolled first by -O3 into SLP-packed gathers. */
  for (int d = 0; d < rank - 1; d++) nest.loops[d].keep = true;
  if (rank > 0) nest.loops[rank - 1].no_unroll = true; /* a scalar: no loop at all */
  cg_store_elem(c, x->dtype, cg_load_elem(c, x->dtype, in[0], nest.off[1]), out[0], nest.off[0]);
  cg_nest_end(c, &nest);
  return true;
}

/* ---- LayerNormalization -------------------------------------------------------------------- */

/* Per row of `inner` elements: mean, then the mean square deviation (two passes, as numerically
 * safe as the reference), then y = (x - mean) * rstd * scale + B. */
bool cg_lower_layer_norm(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  assert(cg_all_f32(n)); /* shape inference */
  const IrValue *x = n->inputs[0];
  int64_t axis = ir_attr_i(n, "axis");
  if (axis < 0) axis += x->rank;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < x->rank; d++) *(d < axis ? &outer : &inner) *= x->dims[d];
  bool has_b = n->n_inputs > 2 && n->inputs[2];
  LLVMValueRef eps = cg_f32c(c, (float)ir_attr_f(n, "epsilon"));
  LLVMValueRef rn = cg_f32c(c, (double)inner);
  CgLoop lo, l1, l2, l3;
  LLVMValueRef o = cg_for(c, &lo, outer);
  LLVMValueRef base = cg_mulc(c, o, inner);
  LLVMValueRef i = cg_for(c, &l1, inner);
  LLVMValueRef s = cg_loop_acc(c, &l1, cg_f32c(c, 0.0));
  LLVMValueRef s_next = cg_fadd_reassoc(c, s, cg_load(c, in[0], cg_add(c, base, i))), sum;
  cg_loop_end(c, &l1, &s_next, &sum);
  LLVMValueRef mean = LLVMBuildFDiv(c->b, sum, rn, "mean");
  i = cg_for(c, &l2, inner);
  s = cg_loop_acc(c, &l2, cg_f32c(c, 0.0));
  LLVMValueRef dv = LLVMBuildFSub(c->b, cg_load(c, in[0], cg_add(c, base, i)), mean, "");
  s_next = cg_reassoc(cg_fmuladd(c, dv, dv, s));
  LLVMValueRef ss;
  cg_loop_end(c, &l2, &s_next, &ss);
  LLVMValueRef var = LLVMBuildFAdd(c->b, LLVMBuildFDiv(c->b, ss, rn, ""), eps, "");
  LLVMValueRef sd = cg_sqrt(c, var);
  LLVMValueRef rstd = LLVMBuildFDiv(c->b, cg_f32c(c, 1.0), sd, "rstd");
  i = cg_for(c, &l3, inner);
  LLVMValueRef at = cg_add(c, base, i);
  LLVMValueRef xn =
      LLVMBuildFMul(c->b, LLVMBuildFSub(c->b, cg_load(c, in[0], at), mean, ""), rstd, "");
  LLVMValueRef yv = has_b ? cg_fmuladd(c, xn, cg_load(c, in[1], i), cg_load(c, in[2], i))
                          : LLVMBuildFMul(c->b, xn, cg_load(c, in[1], i), "");
  cg_store(c, yv, out[0], at);
  cg_loop_end(c, &l3, NULL, NULL);
  cg_loop_end(c, &lo, NULL, NULL);
  return true;
}

/* ---- recurrent ops ------------------------------------------------------------------------- */

/* sum_i a[ao + i] * b[bo + i], i < len: one accumulator the vectorizer may reassociate. */
static LLVMValueRef dot(Cg *c, LLVMValueRef a, LLVMValueRef ao, LLVMValueRef b, LLVMValueRef bo,
                        int64_t len, LLVMValueRef init) {
  CgLoop l;
  LLVMValueRef i = cg_for(c, &l, len);
  LLVMValueRef acc = cg_loop_acc(c, &l, init);
  LLVMValueRef next = cg_reassoc(
      cg_fmuladd(c, cg_load(c, a, cg_add(c, ao, i)), cg_load(c, b, cg_add(c, bo, i)), acc));
  LLVMValueRef res;
  cg_loop_end(c, &l, &next, &res);
  return res;
}

/* W or R of direction d, [G*H][K] in the ONNX layout, as an operand of the gate products: a
 * constant is packed once (W[d]^T, for tile t) for the micro-kernel; a run-time one (weights
 * given as model inputs) is not contiguous along G*H and is read by dot products instead. */
typedef struct {
  LLVMValueRef rt;     /* the tensor as the node receives it */
  LLVMValueRef packed; /* or NULL */
  CgVecInfo vec;
  CgTile t;
  int d;
  int64_t GH, K;
  bool int8; /* int8 weights (IR_RECURRENT_W_SCALE): the weight-only kernel's packing in w8 */
  CgW8 w8;
  int64_t fuse_l; /* > 0: LSTM gate columns in fused_gate_col's order for vectors of fuse_l */
} GateW;

/* The fused LSTM step (recur_chunk): with vectors of L lanes the gate columns are permuted at
 * compile time so that strip s of the recurrent GEMV's 1 x 4L tile holds the four gates (ONNX
 * order i, o, f, c) of hidden units [sL, sL + L): column s*4L + g*L + u is column g*H + sL + u of
 * the ONNX layout. Returns the ONNX column of permuted column j. */
static int64_t fused_gate_col(int64_t j, int64_t H, int64_t L) {
  return (j / L % 4) * H + j / (4 * L) * L + j % L;
}

/* Input k (1: W, 2: R) of n for direction d; M: rows of the largest product that will use it
 * (the tile is sized for them). */
static GateW gate_weights(Cg *c, const IrNode *n, int k, LLVMValueRef rt, int d, int64_t M,
                          int64_t GH, int64_t K, int64_t fuse_l) {
  const IrValue *v = n->inputs[k];
  GateW w = {.rt = rt, .vec = cg_vec_info(c), .t = {1, 1}, .d = d, .GH = GH, .K = K};
  if (fuse_l) { /* constant f32 (fused_lstm): rows of W[d] in fused_gate_col's order */
    const float *src = (const float *)v->data + d * GH * K;
    float *perm = malloc(sizeof(float) * (size_t)(GH * K));
    if (!perm) abort();
    for (int64_t j = 0; j < GH; j++)
      memcpy(perm + j * K, src + fused_gate_col(j, GH / 4, fuse_l) * K, sizeof(float) * (size_t)K);
    /* R: one strip per 4 gate vectors (the fused epilogue's unit); W: as Gemm */
    w.t = k == 2 ? (CgTile){1, 4} : cg_gemm_tile(w.vec, M, GH, K, IR_TILE_COLS_MAX);
    w.fuse_l = fuse_l;
    w.packed = cg_node_derived(
        c, v, cg_pack_b_once(c, perm, K, GH, 1, K, w.t.nrv * w.vec.lanes, "rnnpack"));
    free(perm);
  } else if (v->dtype == IR_I8) { /* a constant (shape inference); row j of W[d] is column j of B */
    const float *scale = n->inputs[k == 1 ? IR_RECURRENT_W_SCALE : IR_RECURRENT_R_SCALE]->data;
    w.int8 = true;
    w.w8 = cg_w8_pack(c, (const int8_t *)v->data + d * GH * K, scale + d * GH, M, K, GH, 1, K);
  } else if (v->kind == IR_VALUE_CONST) {
    w.t = cg_gemm_tile(w.vec, M, GH, K, IR_TILE_COLS_MAX); /* as Gemm and MatMul */
    w.packed = cg_node_derived(c, v,
                               cg_pack_b(c, (const float *)v->data + d * GH * K, K, GH, 1, K,
                                         w.t.nrv * w.vec.lanes, "rnnpack"));
  }
  return w;
}

/* C[M][G*H] = A[M][K] * W[d]^T, the accumulators starting from cc's column bias (or 0). */
static void gate_product(Cg *c, const GateW *w, const CgGemmC *cc, int64_t M, LLVMValueRef a) {
  int64_t GH = w->GH, K = w->K;
  if (w->int8) {
    assert(cc->ldc == GH && !cc->row_bias);
    cg_w8_emit(c, &w->w8, M, a, cc->base, cc->col_bias, cc->col_bias_ld);
    return;
  }
  if (w->packed) {
    CgGemmA ga = {.base = a, .s_row = K, .s_k = 1};
    CgGemmB gb = {.base = w->packed, .packed = true};
    cg_gemm_emit(c, w->vec, w->t, M, GH, K, &ga, &gb, cc);
    return;
  }
  CgLoop li, lj;
  LLVMValueRef i = cg_for(c, &li, M);
  LLVMValueRef j = cg_for(c, &lj, GH);
  LLVMValueRef init = cc->col_bias
                          ? cg_load(c, cc->col_bias, cg_add(c, cg_mulc(c, i, cc->col_bias_ld), j))
                          : cg_f32c(c, 0.0);
  LLVMValueRef v =
      dot(c, a, cg_mulc(c, i, K), w->rt, cg_mulc(c, cg_addc(c, j, w->d * GH), K), K, init);
  cg_store(c, v, cc->base, cg_add(c, cg_mulc(c, i, cc->ldc), j));
  cg_loop_end(c, &lj, NULL, NULL);
  cg_loop_end(c, &li, NULL, NULL);
}

/* Activation a (ir_act_apply's formulas) of x. */
static LLVMValueRef rec_act(Cg *c, const IrAct *a, LLVMValueRef x) {
  LLVMValueRef al = cg_f32c(c, a->alpha), be = cg_f32c(c, a->beta), zero = cg_f32c(c, 0.0);
  LLVMValueRef neg = LLVMBuildFCmp(c->b, LLVMRealOLT, x, zero, "");
  switch (a->kind) {
  case IR_ACT_SIGMOID: return cg_sigmoid(c, x);
  case IR_ACT_TANH: return cg_tanh(c, x);
  case IR_ACT_RELU: return LLVMBuildSelect(c->b, neg, zero, x, "");
  case IR_ACT_AFFINE: return cg_fmuladd(c, al, x, be);
  case IR_ACT_LEAKY_RELU: return LLVMBuildSelect(c->b, neg, LLVMBuildFMul(c->b, al, x, ""), x, "");
  case IR_ACT_THRESHOLDED_RELU:
    return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, x, al, ""), x, zero, "");
  case IR_ACT_SCALED_TANH:
    return LLVMBuildFMul(c->b, al, cg_tanh(c, LLVMBuildFMul(c->b, be, x, "")), "");
  case IR_ACT_HARD_SIGMOID:
    return cg_fmin(c, cg_fmax(c, cg_fmuladd(c, al, x, be), zero), cg_f32c(c, 1.0));
  case IR_ACT_ELU: {
    LLVMValueRef em1 = LLVMBuildFSub(c->b, cg_exp(c, x), cg_f32c(c, 1.0), "");
    return LLVMBuildSelect(c->b, neg, LLVMBuildFMul(c->b, al, em1, ""), x, "");
  }
  case IR_ACT_SOFTSIGN: {
    LLVMValueRef ax = cg_intrinsic(c, "llvm.fabs", c->t_f32, &x, 1);
    return LLVMBuildFDiv(c->b, x, LLVMBuildFAdd(c->b, ax, cg_f32c(c, 1.0), ""), "");
  }
  default: return cg_softplus(c, x);
  }
}

/* One direction of a recurrent node while it is built. */
typedef struct {
  IrRecurrent r;
  const IrAct *act; /* f, g, h of this direction */
  bool lstm, gru, rev;
  int d;
  GateW w, rw;
  LLVMValueRef x, pbias, rb; /* X; column bias of the projection; Rb of direction d or NULL */
  LLVMValueRef proj, rec, h, cs, Y;
} Recur;

/* LSTM's cell update of one hidden unit from its four gate pre-activations (ONNX order i, o, f,
 * c): c_t = f * c_{t-1} + i * g(c~) into cs[at]; returns h_t = o * h(c_t). */
static LLVMValueRef lstm_cell(Cg *c, const Recur *q, LLVMValueRef *gate, LLVMValueRef at) {
  LLVMValueRef ig = rec_act(c, &q->act[0], gate[0]), og = rec_act(c, &q->act[0], gate[1]);
  LLVMValueRef fg = rec_act(c, &q->act[0], gate[2]), cc = rec_act(c, &q->act[1], gate[3]);
  LLVMValueRef cn = cg_fmuladd(c, fg, cg_load(c, q->cs, at), LLVMBuildFMul(c->b, ig, cc, ""));
  cg_store(c, cn, q->cs, at);
  return LLVMBuildFMul(c->b, og, rec_act(c, &q->act[2], cn), "");
}

/* The cells of the fused LSTM step (batch 1): strip j0 of the recurrent GEMV, stored at
 * crow, is the four gates of units [j0 / 4, j0 / 4 + L) (fused_gate_col); their cell update runs
 * here, while the next strips' weights stream in, and h_t of unit j0 / 4 + u goes to crow[u]
 * (its i gate, read already: the GEMV still reads h_{t-1}), copied into h after the GEMV. */
static void fused_lstm_cells(Cg *c, const Recur *q, LLVMValueRef j0, LLVMValueRef crow) {
  int64_t L = q->rw.fuse_l;
  LLVMValueRef u0 = LLVMBuildLShr(c->b, j0, LLVMConstInt(c->t_idx, 2, false), "");
  CgLoop lu;
  LLVMValueRef u = cg_for(c, &lu, L), gate[4];
  for (int g = 0; g < 4; g++) gate[g] = cg_load(c, crow, cg_addc(c, u, g * L));
  cg_store(c, lstm_cell(c, q, gate, cg_add(c, u0, u)), crow, u);
  cg_loop_end(c, &lu, NULL, NULL);
}

/* CgTileEpilogue of the fused LSTM step, one strip behind: after strip j0's products, the cells of
 * the previous strip, whose inputs are ready, so they execute while this strip's loads are in
 * flight (the cells of strip j0 itself would wait for its last multiply-add and stall the next
 * strip's loads behind them). */
static void fused_lstm_epilogue(Cg *c, void *ctx, LLVMValueRef i, LLVMValueRef j0, int64_t len,
                                LLVMValueRef crow) {
  const Recur *q = ctx;
  int64_t L = q->rw.fuse_l;
  assert(len == 4 * L);
  (void)i, (void)len;
  CgIf f;
  cg_if_begin(c, &f, LLVMBuildICmp(c->b, LLVMIntNE, j0, cg_idx(c, 0), ""));
  fused_lstm_cells(c, q, cg_addc(c, j0, -4 * L), cg_gep(c, c->t_f32, crow, cg_idx(c, -4 * L)));
  cg_if_else(c, &f);
  cg_if_end(c, &f);
}

/* The steps at times [first, first + count), in time order or (rev) backwards: their input
 * projection proj[u][b] = W x[first + u][b] + bias as one GEMM, then per step R h_{t-1}
 * accumulated onto proj[u] (GRU: into rec, from Rb) as one GEMV over the packed R, so the
 * accumulators start from the projection row, then the gate nonlinearities and the cell update
 * over the [G*H] row in one loop per batch row, writing h (and Y[t, d, b, :] when Y is used);
 * a fused LSTM step (fused_lstm_lanes) does the cell update in the GEMV's epilogue instead. */
static void recur_chunk(Cg *c, const Recur *q, LLVMValueRef first, int64_t count) {
  int64_t B = q->r.B, I = q->r.I, H = q->r.H, GH = q->r.G * H;
  LLVMValueRef h = q->h, Y = q->Y;
  CgGemmC pc = {.base = q->proj, .ldc = GH, .col_bias = q->pbias};
  gate_product(c, &q->w, &pc, count * B, cg_gep(c, c->t_f32, q->x, cg_mulc(c, first, B * I)));
  CgLoop ls, lb, lk;
  LLVMValueRef s = cg_for(c, &ls, count);
  LLVMValueRef u = q->rev ? cg_sub(c, cg_idx(c, count - 1), s) : s;
  LLVMValueRef t = cg_add(c, first, u);
  LLVMValueRef pt = cg_gep(c, c->t_f32, q->proj, cg_mulc(c, u, B * GH));
  /* RNN/LSTM: proj[u] += h R^T in place; GRU: rec = h R^T + Rb */
  CgGemmC rc = q->gru ? (CgGemmC){.base = q->rec, .ldc = GH, .col_bias = q->rb}
                      : (CgGemmC){.base = pt, .ldc = GH, .col_bias = pt, .col_bias_ld = GH};
  if (q->rw.fuse_l) {
    rc.epi = fused_lstm_epilogue;
    rc.epi_ctx = (void *)q;
  }
  gate_product(c, &q->rw, &rc, B, h);
  if (q->rw.fuse_l) { /* the last strip's cells; h_t from the i-gate slots into h (and Y) */
    int64_t L = q->rw.fuse_l;
    fused_lstm_cells(c, q, cg_idx(c, GH - 4 * L), cg_gep(c, c->t_f32, pt, cg_idx(c, GH - 4 * L)));
    CgLoop lsb, lu;
    LLVMValueRef sb = cg_for(c, &lsb, H / L);
    LLVMValueRef u = cg_for(c, &lu, L);
    LLVMValueRef at = cg_add(c, cg_mulc(c, sb, L), u);
    LLVMValueRef hn = cg_load(c, pt, cg_add(c, cg_mulc(c, sb, 4 * L), u));
    cg_store(c, hn, h, at);
    if (Y)
      cg_store(c, hn, Y, cg_add(c, cg_mulc(c, cg_addc(c, cg_mulc(c, t, q->r.D), q->d), H), at));
    cg_loop_end(c, &lu, NULL, NULL);
    cg_loop_end(c, &lsb, NULL, NULL);
    cg_loop_end(c, &ls, NULL, NULL);
    return;
  }
  LLVMValueRef b = cg_for(c, &lb, B);
  LLVMValueRef pb = cg_gep(c, c->t_f32, pt, cg_mulc(c, b, GH));
  LLVMValueRef rbb = cg_gep(c, c->t_f32, q->rec, cg_mulc(c, b, GH));
  LLVMValueRef k = cg_for(c, &lk, H);
  LLVMValueRef at = cg_add(c, cg_mulc(c, b, H), k), hn;
#define GATE(g) cg_load(c, pb, cg_addc(c, k, (g)*H))
  if (q->gru) {
#define REC(g) cg_load(c, rbb, cg_addc(c, k, (g)*H))
    LLVMValueRef z = rec_act(c, &q->act[0], LLVMBuildFAdd(c->b, GATE(0), REC(0), ""));
    LLVMValueRef rg = rec_act(c, &q->act[0], LLVMBuildFAdd(c->b, GATE(1), REC(1), ""));
    LLVMValueRef hh = rec_act(c, &q->act[1], cg_fmuladd(c, rg, REC(2), GATE(2)));
#undef REC
    LLVMValueRef hp = cg_load(c, h, at); /* (1 - z) * hh + z * h = hh + z * (h - hh) */
    hn = cg_fmuladd(c, z, LLVMBuildFSub(c->b, hp, hh, ""), hh);
  } else if (q->lstm) {
    LLVMValueRef gate[4] = {GATE(0), GATE(1), GATE(2), GATE(3)};
    hn = lstm_cell(c, q, gate, at);
  } else {
    hn = rec_act(c, &q->act[0], GATE(0));
  }
#undef GATE
  cg_store(c, hn, h, at);
  if (Y)
    cg_store(c, hn, Y, cg_add(c, cg_mulc(c, cg_addc(c, cg_mulc(c, t, q->r.D), q->d), B * H), at));
  cg_loop_end(c, &lk, NULL, NULL);
  cg_loop_end(c, &lb, NULL, NULL);
  cg_loop_end(c, &ls, NULL, NULL);
}

/* The steps of q over a run-time number of them, Tn: whole chunks of tc as for a static T, then
 * the remainder (< tc) in halving pieces, one per set bit, taken in the direction's order. */
static void recur_dyn(Cg *c, const Recur *q, LLVMValueRef Tn, int64_t tc) {
  LLVMValueRef full = LLVMBuildUDiv(c->b, Tn, cg_idx(c, tc), "");
  LLVMValueRef rest = cg_sub(c, Tn, cg_mulc(c, full, tc));
  CgLoop lc;
  LLVMValueRef kc = cg_loop_begin(c, &lc, cg_idx(c, 0), full);
  LLVMValueRef first =
      q->rev ? cg_sub(c, cg_sub(c, Tn, cg_idx(c, tc)), cg_mulc(c, kc, tc)) : cg_mulc(c, kc, tc);
  recur_chunk(c, q, first, tc);
  cg_loop_end(c, &lc, NULL, NULL);
  /* forward: the remainder starts after the chunks; backwards: it ends at `rest`, from its top */
  LLVMValueRef at = q->rev ? rest : cg_mulc(c, full, tc);
  int64_t p = 1;
  while (p * 2 < tc) p *= 2;
  for (; p >= 1 && tc > 1; p /= 2) {
    LLVMValueRef bit = LLVMBuildAnd(c->b, rest, cg_idx(c, p), "");
    CgIf f;
    cg_if_begin(c, &f, LLVMBuildICmp(c->b, LLVMIntNE, bit, cg_idx(c, 0), ""));
    recur_chunk(c, q, q->rev ? cg_sub(c, at, cg_idx(c, p)) : at, p);
    cg_if_else(c, &f);
    cg_if_end(c, &f);
    at = q->rev ? cg_sub(c, at, bit) : cg_add(c, at, bit);
  }
}

/* The vector width of the fused LSTM step (fused_gate_col, fused_lstm_epilogue), or 0: an LSTM
 * at batch 1 with constant f32 W and R on a vector target whose H is a multiple of its lanes.
 * (Bare-metal scalar cores keep the separate gate loop; so do batches, int8 and run-time weights.)
 */
static int64_t fused_lstm_lanes(Cg *c, const IrNode *n, const IrRecurrent *r) {
  int64_t L = cg_vec_info(c).lanes;
  if (n->op != IR_OP_LSTM || r->B != 1 || r->G != 4 || L < 4 || r->H % L) return 0;
  for (int k = 1; k <= 2; k++)
    if (n->inputs[k]->kind != IR_VALUE_CONST || n->inputs[k]->dtype != IR_F32) return 0;
  return L;
}

/* ONNX RNN / GRU (linear_before_reset=1) / LSTM with the node's activations (rec_act). Per
 * direction, the steps run in chunks of sc.chunk (recur_chunk: one projection GEMM per chunk, one
 * GEMV per step), the last chunk possibly shorter; everything lives in the node's scratch
 * (ir_recurrent_scratch), nothing on the stack. */
static bool lower_recurrent(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrRecurrentScratch sc;
  ir_recurrent_scratch_of(n, n->scratch_bytes, &sc);
  if (!c->scratch || n->scratch_bytes < sc.floats * (int64_t)sizeof(float))
    return cg_node_error(c, n, "internal error: no scratch for the recurrent state (kernel pass)");
  Recur q = {.lstm = n->op == IR_OP_LSTM, .gru = n->op == IR_OP_GRU, .x = in[0], .Y = out[0]};
  ir_recurrent_geometry(n, &q.r);
  int64_t T = q.r.T, B = q.r.B, H = q.r.H, GH = q.r.G * H, tc = sc.chunk;
  LLVMValueRef bias = n->n_inputs > 3 ? in[3] : NULL, h0 = n->n_inputs > 5 ? in[5] : NULL;
  LLVMValueRef c0 = n->n_inputs > 6 ? in[6] : NULL;
  LLVMValueRef Yh = n->n_outputs > 1 ? out[1] : NULL, Yc = n->n_outputs > 2 ? out[2] : NULL;
  q.proj = cg_gep(c, c->t_f32, c->scratch, cg_idx(c, sc.proj));
  q.rec = cg_gep(c, c->t_f32, c->scratch, cg_idx(c, sc.rec));
  q.h = cg_gep(c, c->t_f32, c->scratch, cg_idx(c, sc.h));
  q.cs = cg_gep(c, c->t_f32, c->scratch, cg_idx(c, sc.c));
  LLVMValueRef bsum = cg_gep(c, c->t_f32, c->scratch, cg_idx(c, sc.bias));
  IrAct acts[2][3];
  ir_recurrent_activations(n, acts, NULL);
  for (int d = 0; d < q.r.D; d++) {
    q.d = d;
    q.act = acts[d];
    q.rev = q.r.reverse || d == 1;
    int64_t fuse_l = fused_lstm_lanes(c, n, &q.r);
    q.w = gate_weights(c, n, 1, in[1], d, tc * B, GH, q.r.I, fuse_l);
    q.rw = gate_weights(c, n, 2, in[2], d, B, GH, H, fuse_l);
    int64_t state_bytes = B * H * 4;
    LLVMValueRef wb = bias ? cg_gep(c, c->t_f32, bias, cg_idx(c, d * 2 * GH)) : NULL;
    q.rb = bias ? cg_gep(c, c->t_f32, wb, cg_idx(c, GH)) : NULL;
    /* projection bias: Wb + Rb, except for GRU, whose Rb goes with R h */
    q.pbias = q.gru ? wb : NULL;
    if (bias && !q.gru && fuse_l) { /* in fused_gate_col's order: [H / L][4 gates][L] */
      CgLoop lsb, lg, lu;
      LLVMValueRef sb = cg_for(c, &lsb, H / fuse_l), g = cg_for(c, &lg, 4),
                   u = cg_for(c, &lu, fuse_l);
      LLVMValueRef j = cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, sb, 4), g), fuse_l), u);
      LLVMValueRef o = cg_add(c, cg_add(c, cg_mulc(c, g, H), cg_mulc(c, sb, fuse_l)), u);
      cg_store(c, LLVMBuildFAdd(c->b, cg_load(c, wb, o), cg_load(c, q.rb, o), ""), bsum, j);
      cg_loop_end(c, &lu, NULL, NULL);
      cg_loop_end(c, &lg, NULL, NULL);
      cg_loop_end(c, &lsb, NULL, NULL);
      q.pbias = bsum;
    } else if (bias && !q.gru) {
      CgLoop lj;
      LLVMValueRef j = cg_for(c, &lj, GH);
      cg_store(c, LLVMBuildFAdd(c->b, cg_load(c, wb, j), cg_load(c, q.rb, j), ""), bsum, j);
      cg_loop_end(c, &lj, NULL, NULL);
      q.pbias = bsum;
    }
    if (h0)
      cg_memcpy(c, q.h, cg_byte_ptr(c, h0, d * state_bytes), cg_idx(c, state_bytes));
    else
      cg_memset(c, q.h, 0, state_bytes);
    if (q.lstm && c0)
      cg_memcpy(c, q.cs, cg_byte_ptr(c, c0, d * state_bytes), cg_idx(c, state_bytes));
    else if (q.lstm)
      cg_memset(c, q.cs, 0, state_bytes);
    /* whole chunks from the first step of the direction (time 0, or T-1 backwards), then the
     * rest: forward at [k*tc, ...) and finally [full*tc, T); reverse at [T - (k+1)*tc, ...) and
     * finally [0, T - full*tc) */
    LLVMValueRef Tn = cg_dyn_extent(c, n->inputs[0], 0);
    if (Tn) { /* a run-time number of steps (ir_dyn_along) */
      recur_dyn(c, &q, Tn, tc);
    } else {
      int64_t full = T / tc, rest = T - full * tc;
      if (full > 0) {
        CgLoop lc;
        LLVMValueRef kc = cg_for(c, &lc, full);
        LLVMValueRef first =
            q.rev ? cg_sub(c, cg_idx(c, T - tc), cg_mulc(c, kc, tc)) : cg_mulc(c, kc, tc);
        recur_chunk(c, &q, first, tc);
        cg_loop_end(c, &lc, NULL, NULL);
      }
      if (rest > 0) recur_chunk(c, &q, cg_idx(c, q.rev ? 0 : full * tc), rest);
    }
    if (Yh) cg_memcpy(c, cg_byte_ptr(c, Yh, d * state_bytes), q.h, cg_idx(c, state_bytes));
    if (Yc) cg_memcpy(c, cg_byte_ptr(c, Yc, d * state_bytes), q.cs, cg_idx(c, state_bytes));
  }
  return true;
}

bool cg_lower_rnn(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_recurrent(c, n, in, out);
}
bool cg_lower_gru(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_recurrent(c, n, in, out);
}
bool cg_lower_lstm(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_recurrent(c, n, in, out);
}

/* ---- Slice --------------------------------------------------------------------------------- */

/* One nest over the output; the input walks from its first element with step * stride. */
bool cg_lower_slice(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], dims[IR_MAX_RANK], xs[IR_MAX_RANK];
  int64_t st[2][IR_MAX_RANK], base = 0;
  ir_slice_params(n, start, step, dims, NULL);
  row_strides(x->rank, x->dims, xs);
  row_strides(y->rank, y->dims, st[0]);
  for (int d = 0; d < x->rank; d++) base += start[d] * xs[d], st[1][d] = step[d] * xs[d];
  int rank = y->rank;
  for (int d = 0; d < rank; d++) dims[d] = y->dims[d];
  cg_nest_simplify(&rank, dims, 2, st);
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, 2, (const int64_t(*)[IR_MAX_RANK])st);
  cg_store_elem(c, x->dtype, cg_load_elem(c, x->dtype, in[0], cg_addc(c, nest.off[1], base)),
                out[0], nest.off[0]);
  cg_nest_end(c, &nest);
  return true;
}

/* ---- Pow ----------------------------------------------------------------------------------- */

/* x^e for the constant exponent e: square-and-multiply for integers up to 64 in magnitude (exact
 * for any sign of x, 1/x^k for negative ones), sqrt for 0.5, exp(e * log(x)) otherwise (NaN for
 * x < 0, 0 or inf at x = 0, as pow). */
static LLVMValueRef pow_scalar(Cg *c, LLVMValueRef x, double e) {
  if (fabs(e) <= 64 && e == (double)(int)e) { /* the range first: (int)e of a larger e is UB */
    int k = (int)fabs(e);
    LLVMValueRef r = NULL, base = x;
    for (; k; k >>= 1) {
      if (k & 1) r = r ? LLVMBuildFMul(c->b, r, base, "") : base;
      if (k > 1) base = LLVMBuildFMul(c->b, base, base, "");
    }
    if (!r) return cg_f32c(c, 1.0);
    return e < 0 ? LLVMBuildFDiv(c->b, cg_f32c(c, 1.0), r, "") : r;
  }
  if (e == 0.5) return cg_sqrt(c, x);
  return cg_exp(c, LLVMBuildFMul(c->b, cg_f32c(c, e), cg_log(c, x), ""));
}

/* x^y for run-time y, as C's pow: |x|^y = exp(y log|x|); a negative x gives that with the sign
 * of (-1)^y for an integer y and NaN otherwise; y = 0 gives 1 (even for a NaN x). */
static LLVMValueRef pow_runtime(Cg *c, LLVMValueRef x, LLVMValueRef y) {
  LLVMValueRef ax = cg_intrinsic(c, "llvm.fabs", c->t_f32, &x, 1);
  LLVMValueRef r = cg_exp(c, LLVMBuildFMul(c->b, y, cg_log(c, ax), ""));
  LLVMValueRef is_int = LLVMBuildFCmp(c->b, LLVMRealOEQ, cg_floor(c, y), y, "");
  LLVMValueRef half = LLVMBuildFMul(c->b, y, cg_f32c(c, 0.5), "");
  LLVMValueRef odd = LLVMBuildFCmp(c->b, LLVMRealUNE, cg_floor(c, half), half, "");
  LLVMValueRef neg_r = LLVMBuildSelect(c->b, odd, LLVMBuildFNeg(c->b, r, ""), r, "");
  neg_r = LLVMBuildSelect(c->b, is_int, neg_r, cg_f32c(c, NAN), "");
  LLVMValueRef xneg = LLVMBuildFCmp(c->b, LLVMRealOLT, x, cg_f32c(c, 0.0), "");
  r = LLVMBuildSelect(c->b, xneg, neg_r, r, "");
  LLVMValueRef y0 = LLVMBuildFCmp(c->b, LLVMRealOEQ, y, cg_f32c(c, 0.0), "");
  return LLVMBuildSelect(c->b, y0, cg_f32c(c, 1.0), r, "");
}

/* A constant scalar exponent is specialized (pow_scalar); otherwise the two inputs broadcast. */
bool cg_lower_pow(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *ev = n->inputs[1];
  if (ev->kind == IR_VALUE_CONST && ir_value_numel(ev) == 1 &&
      ir_same_shape(n->inputs[0], n->outputs[0])) {
    double e = *(const float *)ev->data;
    CgLoop l;
    LLVMValueRef i = cg_for(c, &l, ir_value_numel(n->outputs[0]));
    cg_store(c, pow_scalar(c, cg_load(c, in[0], i), e), out[0], i);
    cg_loop_end(c, &l, NULL, NULL);
    return true;
  }
  int64_t dims[IR_MAX_RANK], st[3][IR_MAX_RANK];
  int rank = cg_broadcast_nest(n, 2, dims, st);
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, 3, (const int64_t(*)[IR_MAX_RANK])st);
  LLVMValueRef x = cg_load(c, in[0], nest.off[1]), y = cg_load(c, in[1], nest.off[2]);
  cg_store(c, pow_runtime(c, x, y), out[0], nest.off[0]);
  cg_nest_end(c, &nest);
  return true;
}

/* ---- comparisons, Where, Cast -------------------------------------------------------------- */

int cg_broadcast_nest(const IrNode *n, int n_in, int64_t *dims, int64_t (*strides)[IR_MAX_RANK]) {
  const IrValue *o = n->outputs[0];
  int rank = o->rank;
  row_strides(rank, o->dims, strides[0]);
  for (int d = 0; d < rank; d++) dims[d] = o->dims[d];
  for (int k = 0; k < n_in; k++)
    ir_broadcast_strides(n->inputs[k]->rank, n->inputs[k]->dims, rank, o->dims, strides[k + 1]);
  cg_nest_simplify(&rank, dims, n_in + 1, strides);
  return rank;
}

static bool lower_compare(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  int64_t dims[IR_MAX_RANK], st[3][IR_MAX_RANK];
  int rank = cg_broadcast_nest(n, 2, dims, st);
  IrDType t = n->inputs[0]->dtype;
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, 3, (const int64_t(*)[IR_MAX_RANK])st);
  LLVMValueRef a = cg_load_elem(c, t, in[0], nest.off[1]),
               b = cg_load_elem(c, t, in[1], nest.off[2]);
  LLVMValueRef r;
  if (t == IR_F32) /* ordered: false when either is NaN */
    r = LLVMBuildFCmp(c->b,
                      n->op == IR_OP_EQUAL  ? LLVMRealOEQ
                      : n->op == IR_OP_LESS ? LLVMRealOLT
                                            : LLVMRealOGT,
                      a, b, "");
  else
    r = LLVMBuildICmp(c->b,
                      n->op == IR_OP_EQUAL  ? LLVMIntEQ
                      : n->op == IR_OP_LESS ? LLVMIntSLT
                                            : LLVMIntSGT,
                      a, b, "");
  cg_store_elem(c, IR_BOOL, LLVMBuildZExt(c->b, r, c->t_i8, ""), out[0], nest.off[0]);
  cg_nest_end(c, &nest);
  return true;
}

bool cg_lower_equal(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_compare(c, n, in, out);
}
bool cg_lower_less(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_compare(c, n, in, out);
}
bool cg_lower_greater(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_compare(c, n, in, out);
}

bool cg_lower_where(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  int64_t dims[IR_MAX_RANK], st[4][IR_MAX_RANK];
  int rank = cg_broadcast_nest(n, 3, dims, st);
  IrDType t = n->outputs[0]->dtype;
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, 4, (const int64_t(*)[IR_MAX_RANK])st);
  LLVMValueRef cond = LLVMBuildICmp(c->b, LLVMIntNE, cg_load_elem(c, IR_BOOL, in[0], nest.off[1]),
                                    LLVMConstInt(c->t_i8, 0, 0), "");
  LLVMValueRef v = LLVMBuildSelect(c->b, cond, cg_load_elem(c, t, in[1], nest.off[2]),
                                   cg_load_elem(c, t, in[2], nest.off[3]), "");
  cg_store_elem(c, t, v, out[0], nest.off[0]);
  cg_nest_end(c, &nest);
  return true;
}

/* Element conversions as the interpreter does them: float -> integer saturating (NaN -> 0),
 * integer -> float rounding to nearest, between integers wrapping, anything -> bool x != 0,
 * bool as 0/1. */
bool cg_lower_cast(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrDType from = n->inputs[0]->dtype, to = n->outputs[0]->dtype;
  LLVMTypeRef tt = cg_elem_type(c, to);
  CgLoop l;
  LLVMValueRef i = cg_for(c, &l, ir_value_numel(n->outputs[0]));
  LLVMValueRef v = cg_load_elem(c, from, in[0], i), r;
  if (to == IR_BOOL) {
    LLVMValueRef nz =
        from == IR_F32 ? LLVMBuildFCmp(c->b, LLVMRealUNE, v, cg_f32c(c, 0.0), "")
                       : LLVMBuildICmp(c->b, LLVMIntNE, v, LLVMConstInt(LLVMTypeOf(v), 0, 0), "");
    r = LLVMBuildZExt(c->b, nz, c->t_i8, "");
  } else if (from == IR_F32 && to == IR_F32) {
    r = v;
  } else if (from == IR_F32) { /* llvm.fptosi.sat.<to>.f32: overloaded on both types */
    static const char name[] = "llvm.fptosi.sat";
    LLVMTypeRef ov[2] = {tt, c->t_f32};
    unsigned id = LLVMLookupIntrinsicID(name, sizeof name - 1);
    r = LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, ov, 2),
                       LLVMGetIntrinsicDeclaration(c->mod, id, ov, 2), &v, 1, "");
  } else if (to == IR_F32) {
    r = from == IR_BOOL || from == IR_U8 ? LLVMBuildUIToFP(c->b, v, tt, "")
                                         : LLVMBuildSIToFP(c->b, v, tt, "");
  } else if (LLVMGetIntTypeWidth(LLVMTypeOf(v)) > LLVMGetIntTypeWidth(tt)) {
    r = LLVMBuildTrunc(c->b, v, tt, "");
  } else {
    r = from == IR_BOOL || from == IR_U8 ? LLVMBuildZExtOrBitCast(c->b, v, tt, "")
                                         : LLVMBuildSExtOrBitCast(c->b, v, tt, "");
  }
  cg_store_elem(c, to, r, out[0], i);
  cg_loop_end(c, &l, NULL, NULL);
  return true;
}

/* ---- Split --------------------------------------------------------------------------------- */

/* Concat in reverse: block o of output j is a run of bytes of block o of the input. One loop
 * over the blocks holds every output's copy (a loop per output: with a thousand outputs, LLVM's
 * loop passes are quadratic in the chain of loops). */
bool cg_lower_split(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *x = n->inputs[0];
  int axis;
  int64_t *sizes = malloc(sizeof *sizes * (size_t)n->n_outputs); /* up to IR_MAX_VARIADIC */
  int64_t outer = 1, inner = (int64_t)ir_dtype_size(x->dtype), at = 0;
  if (!sizes) abort();
  ir_split_sizes(n, &axis, sizes, NULL);
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
  int64_t in_block = x->dims[axis] * inner;
  CgLoop l;
  LLVMValueRef o = outer > 1 ? cg_for(c, &l, outer) : cg_idx(c, 0);
  for (int j = 0; j < n->n_outputs; j++) {
    int64_t block = sizes[j] * inner;
    if (out[j])
      cg_memcpy(c, cg_gep(c, c->t_i8, out[j], cg_mulc(c, o, block)),
                cg_gep(c, c->t_i8, in[0], cg_addc(c, cg_mulc(c, o, in_block), at)),
                cg_idx(c, block));
    at += block;
  }
  if (outer > 1) cg_loop_end(c, &l, NULL, NULL);
  free(sizes);
  return true;
}

/* ---- Shape, Constant, ConstantOfShape, Expand, Range ---------------------------------------- */

/* An output known at compile time (Shape of a static shape, Constant, Range of constants): the
 * reference kernel computes it once and the node copies it from a constant global. */
static bool lower_static(Cg *c, const IrNode *n, LLVMValueRef *out) {
  if (!out[0]) return true;
  const IrValue *y = n->outputs[0];
  size_t nbytes = (size_t)ir_value_nbytes(y);
  const void *in[IR_MAX_RANK] = {0};
  for (int k = 0; k < n->n_inputs && k < IR_MAX_RANK; k++)
    in[k] = n->inputs[k] && n->inputs[k]->kind == IR_VALUE_CONST ? n->inputs[k]->data : NULL;
  void *buf = calloc(1, nbytes);
  if (!buf) abort();
  void *outs[1] = {buf};
  ir_op_info[n->op].interp(n, in, outs);
  char name[64];
  snprintf(name, sizeof name, "%s.static.%d", c->prefix, c->n_derived++);
  cg_memcpy(c, out[0], cg_const_bytes(c, buf, nbytes, name), cg_idx(c, (int64_t)nbytes));
  free(buf);
  return true;
}

bool cg_lower_shape(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  (void)in;
  return lower_static(c, n, out);
}
bool cg_lower_constant(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  (void)in;
  return lower_static(c, n, out);
}
bool cg_lower_range(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  (void)in;
  return lower_static(c, n, out);
}

/* A fill loop rather than a constant global: the output may be large. */
bool cg_lower_constant_of_shape(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  (void)in;
  const IrAttr *value = ir_attr(n, "value");
  LLVMValueRef v = cg_f32c(c, value->present ? (float)value->floats[0] : 0.0);
  CgLoop l;
  LLVMValueRef i = cg_for(c, &l, ir_value_numel(n->outputs[0]));
  cg_store(c, v, out[0], i);
  cg_loop_end(c, &l, NULL, NULL);
  return true;
}

/* Expand: the data read through broadcasting over the output, any dtype. */
bool cg_lower_expand(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  int64_t dims[IR_MAX_RANK], st[2][IR_MAX_RANK];
  int rank = cg_broadcast_nest(n, 1, dims, st);
  IrDType t = n->outputs[0]->dtype;
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, 2, (const int64_t(*)[IR_MAX_RANK])st);
  cg_store_elem(c, t, cg_load_elem(c, t, in[0], nest.off[1]), out[0], nest.off[0]);
  cg_nest_end(c, &nest);
  return true;
}
