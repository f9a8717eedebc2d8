/* Exact zeros in constant weights: views, statistics, bytes and the cost model (sparsity.h). */
#include "sparsity.h"

#include <math.h>

#include "conv_params.h"
#include "quant.h"

bool ir_sparse_view(const IrNode *n, IrSparseView *v) {
  if (n->n_inputs < 2 || !n->inputs[1] || n->inputs[1]->kind != IR_VALUE_CONST ||
      n->inputs[1]->dtype != IR_F32 || !n->inputs[0] || n->inputs[0]->dtype != IR_F32)
    return false;
  const IrValue *B = n->inputs[1];
  *v = (IrSparseView){.data = B->data};
  switch (n->op) {
  case IR_OP_GEMM: {
    if (B->rank != 2 || n->inputs[0]->rank != 2) return false;
    bool tb = ir_attr_i(n, "transB") != 0;
    int64_t K = B->dims[tb ? 1 : 0], N = B->dims[tb ? 0 : 1];
    v->rows = N, v->K = K, v->s_row = tb ? K : 1, v->s_k = tb ? 1 : N;
    return true;
  }
  case IR_OP_MATMUL:
    if (B->rank != 2 || n->inputs[0]->rank < 2) return false;
    v->rows = B->dims[1], v->K = B->dims[0], v->s_row = 1, v->s_k = B->dims[1];
    return true;
  case IR_OP_CONV: {
    IrConvParams p;
    if (!ir_conv_params(n, &p, NULL)) return false;
    v->rows = p.m, v->K = p.c_per_group * p.kh * p.kw, v->s_row = v->K, v->s_k = 1;
    v->conv = true;
    return true;
  }
  default: return false;
  }
}

bool ir_sparse_view_i8(const IrNode *n, IrSparseView *v) {
  if (n->n_inputs < 4 || !n->inputs[3] || n->inputs[3]->kind != IR_VALUE_CONST ||
      n->inputs[3]->dtype != IR_I8 || !n->inputs[0] || n->inputs[0]->dtype != IR_I8)
    return false;
  const IrValue *B = n->inputs[3];
  *v = (IrSparseView){.i8 = B->data};
  if (n->op == IR_OP_QGEMM) {
    if (B->rank != 2 || n->inputs[0]->rank != 2) return false;
    bool tb = ir_attr_i(n, "transB") != 0;
    int64_t K = B->dims[tb ? 1 : 0], N = B->dims[tb ? 0 : 1];
    v->rows = N, v->K = K, v->s_row = tb ? K : 1, v->s_k = tb ? 1 : N;
    return true;
  }
  if (n->op != IR_OP_QLINEAR_CONV) return false;
  IrNode tmp;
  IrValue *ins[3];
  IrConvParams p;
  ir_qconv_as_conv(n, &tmp, ins);
  if (!ir_conv_params(&tmp, &p, NULL)) return false;
  v->rows = p.m, v->K = p.c_per_group * p.kh * p.kw, v->s_row = v->K, v->s_k = 1;
  v->conv = true;
  return true;
}

void ir_sparse_stats(const IrSparseView *v, int lanes, IrSparseStats *s) {
  if (lanes < 1) lanes = 1;
  *s = (IrSparseStats){.numel = v->rows * v->K, .lanes = lanes};
  s->strips = (v->rows + lanes - 1) / lanes;
  for (int64_t r = 0; r < v->rows; r++) {
    int64_t row_nnz = 0;
    for (int64_t k = 0; k < v->K; k++) row_nnz += ir_sparse_at(v, r, k) != 0.0f;
    s->nnz += row_nnz;
    int64_t ch = IR_SPARSE_CSR_CHAINS;
    s->nnz_csr += v->conv ? row_nnz : (row_nnz + ch - 1) / ch * ch;
    s->zero_rows += row_nnz == 0;
  }
  for (int64_t st = 0; st < s->strips; st++)
    for (int64_t k = 0; k < v->K; k++) {
      bool any = false;
      for (int64_t r = st * lanes; r < v->rows && r < (st + 1) * lanes && !any; r++)
        any = ir_sparse_at(v, r, k) != 0.0f;
      s->blocks += any;
    }
}

bool ir_kernel_is_sparse(IrKernel k) {
  return k == IR_KERNEL_SPARSE_BLOCK || k == IR_KERNEL_SPARSE_CSR || k == IR_KERNEL_SPARSE_UNROLLED;
}

int64_t ir_sparse_weight_bytes(const IrSparseView *v, const IrSparseStats *s, IrKernel k) {
  int64_t idx = ir_sparse_index_bytes(v), vb = ir_sparse_value_bytes(v);
  switch (k) {
  case IR_KERNEL_SPARSE_BLOCK: return s->blocks * (vb * s->lanes + idx) + (s->strips + 1) * 4;
  case IR_KERNEL_SPARSE_CSR: return s->nnz_csr * (vb + idx) + (v->rows + 1) * 4;
  case IR_KERNEL_SPARSE_UNROLLED: return s->nnz * IR_SPARSE_UNROLLED_BYTES;
  default: return v->rows * v->K * vb;
  }
}

/* Estimated cycles (vector targets: two load and two FMA ports; scalar cores: instructions),
 * with the per-element constants measured on the digits models (bench/sparsity.sh; Cortex-M4F
 * instruction counts under QEMU -icount, AVX-512 host latencies of each kernel forced):
 *   Gemm/MatMul, per row of A (N = rows of the view, output columns; L lanes):
 *     dense     ceil(N/L)*K * (L > 1 ? 1 : 3)  a vector of B and an FMA (M4: 2.8 per MAC)
 *     loops     N*K * (L > 1 ? 1 : 3)          the dense kernel of layers too narrow to tile
 *                                              (digits fc3, 10 x 128: 0.23 us, 5x the tiled
 *                                              kernel's time per MAC on AVX-512)
 *     block     blocks * 2 + strips*8          an index, a broadcast, a vector of B, an FMA
 *     csr       nnz * (L > 1 ? 2 : 7) + N*6    an index, a weight, an activation and a scalar
 *                                              FMA, two chains per column (M4: 6.7 per nonzero)
 *     unrolled  nnz * (L > 1 ? 1 : 3) + N*2    an activation and an FMA with a constant
 *   Conv, per group image of `cols` pixels (V = ceil(cols/L) vectors):
 *     dense     rows*K*V * 1.25/P              FMA-bound tiles whose loads are shared by MR rows
 *     csr       nnz*V * 2/P + nnz*2            a vector load and an FMA per vector; offset and
 *                                              weight per nonzero (M4: 2.3 vs 4.1 per MAC) */
double ir_sparse_cost(const IrSparseView *v, const IrSparseStats *s, IrKernel k, int lanes,
                      int64_t cols) {
  bool vec = lanes > 1;
  double L = vec ? lanes : 1, P = vec ? 2.0 : 1.0, N = (double)v->rows;
  double nnz = (double)s->nnz, K = (double)v->K;
  if (v->i8) { /* QGemm: the dot4 tiles (4 products a lane per instruction) or int8 CSR */
    if (v->conv)
      return k == IR_KERNEL_SPARSE_CSR || k == IR_KERNEL_SPARSE_BLOCK ||
                     k == IR_KERNEL_SPARSE_UNROLLED
                 ? INFINITY
                 : 0.0;
    switch (k) {
    case IR_KERNEL_SPARSE_CSR: return nnz * (vec ? 2.0 : 5.0) + N * 6.0;
    case IR_KERNEL_SPARSE_BLOCK:
    case IR_KERNEL_SPARSE_UNROLLED: return INFINITY;
    default: return ceil(N / L) * ceil(K / 4.0) * (vec ? 1.0 : 4.0);
    }
  }
  if (v->conv) {
    double V = ceil((double)cols / L);
    switch (k) {
    case IR_KERNEL_SPARSE_CSR: return nnz * V * 2.0 / P + nnz * 2.0;
    case IR_KERNEL_SPARSE_BLOCK:
    case IR_KERNEL_SPARSE_UNROLLED: return INFINITY;
    default: return N * K * V * 1.25 / P;
    }
  }
  switch (k) {
  case IR_KERNEL_SPARSE_BLOCK:
    return vec ? (double)s->blocks * 2.0 + (double)s->strips * 8.0 : INFINITY;
  case IR_KERNEL_SPARSE_CSR: return nnz * (vec ? 2.0 : 7.0) + N * 6.0;
  case IR_KERNEL_SPARSE_UNROLLED:
    return s->nnz <= IR_SPARSE_UNROLL_MAX ? nnz * (vec ? 1.0 : 3.0) + N * 2.0 : INFINITY;
  case IR_KERNEL_DEFAULT: return N * K * (vec ? 1.0 : 3.0); /* loops: a dot product per output */
  default: return ceil(N / L) * K * (vec ? 1.0 : 3.0);
  }
}
