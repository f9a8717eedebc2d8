/* Sparse kernel choice (part of the kernels pass, docs/kernels.md "Sparse weights"): for a
 * Gemm/MatMul/Conv whose constant weight holds exact zeros, the format with the lowest
 * estimated cost on the target's vectors (ir_sparse_cost): the dense kernel the pass already
 * chose, 1 x lanes blocks, CSR, or the nonzeros unrolled into code. Lossless: the products
 * skipped are products with zero (sums in another order, as any kernel). */
#include <math.h>

#include "conv_params.h"
#include "ir_util.h"
#include "pass.h"
#include "quant.h"
#include "sparsity.h"

/* Gemm's C as the sparse kernels take it: none, or a bias along the output columns added once
 * (alpha 1, beta 1); alpha != 1 or another C stays with the dense kernels. */
static bool gemm_c_is_bias(const IrNode *n, int64_t N) {
  if (n->op == IR_OP_QGEMM) return true; /* shape inference: alpha 1, an int32 bias of N */
  if (ir_attr_f(n, "alpha") != 1.0) return false;
  const IrValue *C = n->n_inputs > 2 ? n->inputs[2] : NULL;
  if (!C || ir_attr_f(n, "beta") == 0.0) return true;
  return ir_attr_f(n, "beta") == 1.0 && C->dtype == IR_F32 && ir_value_numel(C) == N &&
         C->rank >= 1 && C->dims[C->rank - 1] == N;
}

/* The view, statistics and cost geometry of n's constant weight; false where no sparse kernel
 * applies (another op, a non-constant weight, a Gemm form the sparse kernels do not take, a
 * convolution whose wide-form scratch is too large). */
typedef struct SparsePlan {
  IrSparseView v;
  IrSparseStats s;
  int lanes;
  int64_t cols, scratch;
  int tile_cols;
} SparsePlan;

static bool sparse_plan(const IrNode *n, const PassOptions *o, SparsePlan *sp) {
  IrSparseView *v = &sp->v;
  if (ir_sparse_view_i8(n, v)) { /* int8: QGemm (cg_sparse_i8.c), QLinearConv (cg_sparse.c) */
    if (n->n_outputs < 1 || !n->outputs[0] || n->outputs[0]->dtype != IR_I8) return false;
  } else if (!ir_sparse_view(n, v) || n->n_outputs < 1 || !n->outputs[0] ||
             n->outputs[0]->dtype != IR_F32) {
    return false;
  }
  sp->lanes = o && o->vec_lanes > 0 ? o->vec_lanes : 8;
  sp->cols = 1, sp->scratch = 0;
  sp->tile_cols = o && o->tile_cols_max > 0 ? o->tile_cols_max : IR_TILE_COLS_MAX;
  if (v->conv) { /* the wide form's padded image, read in place at each nonzero's tap offset */
    IrConvParams p;
    IrConvWide w;
    if (!ir_q_conv_params(n, &p, NULL)) return false;
    ir_conv_wide(&p, sp->tile_cols, &w);
    int64_t panel = o && o->conv_panel_bytes > 0 ? o->conv_panel_bytes : IR_CONV_PANEL_BYTES;
    if (w.scratch_bytes > 32 * panel) return false;
    sp->cols = w.wide_cols, sp->scratch = w.scratch_bytes;
  } else if (n->op == IR_OP_GEMM || n->op == IR_OP_QGEMM) {
    if (ir_attr_i(n, "transA") || !gemm_c_is_bias(n, v->rows)) return false;
  }
  ir_sparse_stats(v, sp->lanes, &sp->s);
  return true;
}

/* The dense kernel's cost: the one the pass chose (the int8 Winograd of Arm DSP targets, chosen
 * by pass_plan_int8, costs as the f32 one relative to its direct kernel). */
static double dense_cost(const IrNode *n, const SparsePlan *sp) {
  IrKernel k = n->kernel == IR_KERNEL_QCONV_WINOGRAD ? IR_KERNEL_CONV_WINOGRAD : n->kernel;
  return ir_sparse_cost(&sp->v, &sp->s, k, sp->lanes, sp->cols);
}

void pass_plan_sparse(IrNode *n, const PassOptions *o) {
  int force = o ? o->sparse_kernel : 0;
  SparsePlan sp;
  if (force == IR_KERNEL_COUNT || !sparse_plan(n, o, &sp)) return;
  IrKernel best = IR_KERNEL_DEFAULT;
  if (force) {
    best = (IrKernel)force;
    if (!isfinite(ir_sparse_cost(&sp.v, &sp.s, best, sp.lanes, sp.cols))) return; /* n/a */
  } else {
    if (sp.s.nnz == sp.s.numel) return;
    /* the dense kernel the pass chose: Gemm's tiled kernel or plain loops cost differently */
    double best_cost = dense_cost(n, &sp);
    static const IrKernel kinds[] = {IR_KERNEL_SPARSE_BLOCK, IR_KERNEL_SPARSE_CSR,
                                     IR_KERNEL_SPARSE_UNROLLED};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
      double cost = ir_sparse_cost(&sp.v, &sp.s, kinds[i], sp.lanes, sp.cols);
      if (cost < best_cost) best = kinds[i], best_cost = cost;
    }
    if (best == IR_KERNEL_DEFAULT) return;
  }
  n->kernel = best;
  if (sp.v.conv) {
    n->tile_cols_max = sp.tile_cols;
    n->scratch_bytes = sp.scratch;
  } else {
    n->tile_cols_max = 0;
    n->scratch_bytes = 0;
  }
}

bool pass_sparse_beats(const IrNode *n, const PassOptions *o, IrKernel dense) {
  SparsePlan sp;
  if (!ir_kernel_is_sparse(n->kernel) || !sparse_plan(n, o, &sp)) return false;
  return ir_sparse_cost(&sp.v, &sp.s, n->kernel, sp.lanes, sp.cols) <
         ir_sparse_cost(&sp.v, &sp.s, dense, sp.lanes, sp.cols);
}
