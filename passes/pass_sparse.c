/* Sparse kernel choice (part of the kernels pass, docs/kernels.md "Sparse weights"): for a
 * Gemm/MatMul/Conv whose constant weight holds exact zeros, the format with the lowest
 * estimated cost on the target's vectors (ir_sparse_cost): the dense kernel the pass already
 * chose, 1 x lanes blocks, CSR, or the nonzeros unrolled into code. Lossless: the products
 * skipped are products with zero (sums in another order, as any kernel). */
#include <math.h>

#include "conv_params.h"
#include "ir_util.h"
#include "pass.h"
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

void pass_plan_sparse(IrNode *n, const PassOptions *o) {
  int force = o ? o->sparse_kernel : 0;
  IrSparseView v;
  if (force == IR_KERNEL_COUNT) return;
  if (ir_sparse_view_i8(n, &v)) { /* int8: CSR for QGemm (cg_sparse_i8.c); QLinearConv dense */
    if (v.conv || n->n_outputs < 1 || !n->outputs[0] || n->outputs[0]->dtype != IR_I8) return;
  } else if (!ir_sparse_view(n, &v) || n->n_outputs < 1 || !n->outputs[0] ||
             n->outputs[0]->dtype != IR_F32) {
    return;
  }
  int lanes = o && o->vec_lanes > 0 ? o->vec_lanes : 8;
  int64_t cols = 1, scratch = 0;
  int tile_cols = o && o->tile_cols_max > 0 ? o->tile_cols_max : IR_TILE_COLS_MAX;
  if (v.conv) { /* the wide form's padded image, read in place at each nonzero's tap offset */
    IrConvParams p;
    IrConvWide w;
    if (!ir_conv_params(n, &p, NULL)) return;
    ir_conv_wide(&p, tile_cols, &w);
    int64_t panel = o && o->conv_panel_bytes > 0 ? o->conv_panel_bytes : IR_CONV_PANEL_BYTES;
    if (w.scratch_bytes > 32 * panel) return;
    cols = w.wide_cols, scratch = w.scratch_bytes;
  } else if (n->op == IR_OP_GEMM || n->op == IR_OP_QGEMM) {
    if (ir_attr_i(n, "transA") || !gemm_c_is_bias(n, v.rows)) return;
  }
  IrSparseStats s;
  ir_sparse_stats(&v, lanes, &s);
  IrKernel best = IR_KERNEL_DEFAULT;
  if (force) {
    best = (IrKernel)force;
    if (!isfinite(ir_sparse_cost(&v, &s, best, lanes, cols))) return; /* does not apply */
  } else {
    if (s.nnz == s.numel) return;
    /* the dense kernel the pass chose: Gemm's tiled kernel or plain loops cost differently */
    double best_cost = ir_sparse_cost(&v, &s, n->kernel, lanes, cols);
    static const IrKernel kinds[] = {IR_KERNEL_SPARSE_BLOCK, IR_KERNEL_SPARSE_CSR,
                                     IR_KERNEL_SPARSE_UNROLLED};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
      double cost = ir_sparse_cost(&v, &s, kinds[i], lanes, cols);
      if (cost < best_cost) best = kinds[i], best_cost = cost;
    }
    if (best == IR_KERNEL_DEFAULT) return;
  }
  n->kernel = best;
  if (v.conv) {
    n->tile_cols_max = tile_cols;
    n->scratch_bytes = scratch;
  } else {
    n->tile_cols_max = 0;
    n->scratch_bytes = 0;
  }
}
