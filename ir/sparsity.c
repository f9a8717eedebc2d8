/* Exact zeros in constant weights: views, statistics, bytes and the cost model (sparsity.h). */
#include "sparsity.h"

#include <math.h>
#include <stdlib.h>

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
  IrConvParams p;
  if (!ir_q_conv_params(n, &p, NULL)) return false;
  v->rows = p.m, v->K = p.c_per_group * p.kh * p.kw, v->s_row = v->K, v->s_k = 1;
  v->conv = true;
  return true;
}

int64_t ir_sparse_strip_slots(const IrSparseView *v, int lanes, int64_t strip, IrSparseSlot *out,
                              int64_t max) {
  int64_t nb = (v->K + lanes - 1) / lanes, r0 = strip * lanes, total = 0, slots = 0;
  int L = (int)(v->rows - r0 < lanes ? v->rows - r0 : lanes);
  /* rem[l * nb + blk]: nonzeros of lane l in block blk not yet taken; taken[l * K + k] */
  int64_t *rem = calloc((size_t)(L * nb) + 1, sizeof *rem);
  unsigned char *taken = calloc((size_t)(L * v->K) + 1, 1);
  if (!rem || !taken) abort();
  for (int l = 0; l < L; l++)
    for (int64_t k = 0; k < v->K; k++)
      if (ir_sparse_at(v, r0 + l, k) != 0.0f) rem[l * nb + k / lanes]++, total++;
  while (total > 0) {
    if (slots >= max) {
      slots = -1;
      break;
    }
    int64_t a = 0, b = 0, best = -1;
    for (int64_t blk = 0; blk < nb; blk++) {
      int64_t cover = 0;
      for (int l = 0; l < L; l++) cover += rem[l * nb + blk] > 0;
      if (cover > best) best = cover, a = blk;
    }
    best = -1;
    for (int64_t blk = 0; blk < nb; blk++) {
      int64_t more = 0;
      for (int l = 0; l < L; l++) more += rem[l * nb + a] == 0 && rem[l * nb + blk] > 0;
      if (more > best) best = more, b = blk;
    }
    if (best == 0) b = a;
    IrSparseSlot *sl = out ? &out[slots] : NULL;
    if (sl) {
      sl->a = (int32_t)(a < b ? a : b), sl->b = (int32_t)(a < b ? b : a);
      for (int l = 0; l < lanes; l++) sl->k[l] = -1;
    }
    for (int l = 0; l < L; l++) {
      /* the block of the two where this lane has more left (keeps the lanes' counts even) */
      int64_t blk = rem[l * nb + a] >= rem[l * nb + b] ? a : b;
      if (rem[l * nb + blk] == 0) continue;
      int64_t k = blk * lanes;
      while (taken[l * v->K + k] || ir_sparse_at(v, r0 + l, k) == 0.0f) k++;
      taken[l * v->K + k] = 1, rem[l * nb + blk]--, total--;
      if (sl) sl->k[l] = (int32_t)k;
    }
    slots++;
  }
  free(rem);
  free(taken);
  return slots;
}

void ir_sparse_stats(const IrSparseView *v, int lanes, IrSparseStats *s) {
  if (lanes < 1) lanes = 1;
  *s = (IrSparseStats){.numel = v->rows * v->K, .lanes = lanes};
  s->strips = (v->rows + lanes - 1) / lanes;
  for (int64_t r = 0; r < v->rows; r++) {
    int64_t row_nnz = 0;
    double row_abs = 0;
    for (int64_t k = 0; k < v->K; k++) {
      row_nnz += ir_sparse_at(v, r, k) != 0.0f;
      row_abs += fabs(ir_sparse_at(v, r, k));
    }
    /* f32 weights may sum past int64 (or be inf): the stat only serves the int8 bound (< 2^24) */
    if (row_abs > 0x1p62) row_abs = 0x1p62;
    if (row_abs > (double)s->abs_row_max) s->abs_row_max = (int64_t)row_abs;
    s->nnz += row_nnz;
    int64_t ch = IR_SPARSE_CSR_CHAINS;
    s->nnz_csr += v->conv ? row_nnz : (row_nnz + ch - 1) / ch * ch;
    s->zero_rows += row_nnz == 0;
  }
  int64_t budget = IR_SPARSE_UNROLL_VEC_MAX / lanes;
  for (int64_t st = 0;
       st < s->strips && lanes > 1 && lanes <= IR_SPARSE_MAX_LANES && !v->conv && s->slots >= 0;
       st++) {
    int64_t n = ir_sparse_strip_slots(v, lanes, st, NULL, budget - s->slots);
    s->slots = n < 0 ? -1 : s->slots + n;
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
  case IR_KERNEL_SPARSE_UNROLLED: /* vectors: indices and weights of every slot, ~12 B of code */
    return s->lanes > 1 && !v->conv && s->slots >= 0 ? s->slots * (8 * s->lanes + 12)
                                                     : s->nnz * IR_SPARSE_UNROLLED_BYTES;
  case IR_KERNEL_QCONV_WINOGRAD: /* U: 16 points of i16 pairs of input channels per 3x3 */
    return v->rows * 16 * ((v->K / 9 + 1) / 2) * 4;
  default: return v->rows * v->K * vb;
  }
}

/* Estimated cycles (vector targets: two load and two FMA ports; scalar cores: instructions),
 * with the per-element constants measured on the digits models (bench/sparsity.sh; Cortex-M4F
 * instruction counts under QEMU -icount, AVX-512 host latencies of each kernel forced):
 *   Gemm/MatMul, per row of A (N = rows of the view, output columns; L lanes):
 *     dense     ceil(N/L)*K * (L > 1 ? 1 : 1.7) a vector of B and an FMA (M4, VLDM
 *                                              micro-kernel: 1.73 per MAC, was 2.8)
 *     loops     N*K * (L > 1 ? 1 : 3)          the dense kernel of layers too narrow to tile
 *                                              (digits fc3, 10 x 128: 0.23 us, 5x the tiled
 *                                              kernel's time per MAC on AVX-512)
 *     block     blocks * 2 + strips*8          an index, a broadcast, a vector of B, an FMA
 *     csr       nnz * (L > 1 ? 2 : 7) + N*6    an index, a weight, an activation and a scalar
 *                                              FMA, two chains per column (M4: 6.7 per nonzero)
 *     unrolled  scalar: nnz*3 + N*2            an activation and an FMA with a constant
 *               vector: slots*2 + strips*4       per slot (ir_sparse_strip_slots) a constant
 *                                              shuffle of two vectors of A and a vector FMA
 *                                              with constants: 2 x L x 4 bytes read, like
 *                                              2 vectors of the dense B (both L2-bound)
 *   Conv, per group image of `cols` pixels (V = ceil(cols/L) vectors):
 *     dense     rows*K*V * (L > 1 ? 1.25/P : 0.75)  FMA-bound tiles whose loads are shared
 *                                              by MR rows (M4 im2col: ~1.5 instructions per MAC)
 *     winograd  dense * IR_SPARSE_WINOGRAD     (bare metal: the pass tries it after this choice)
 *     csr       nnz*V * 2/P + nnz*2            a vector load and an FMA per vector; offset and
 *                                              weight per nonzero (M4: 2.3 vs 4.1 per MAC)
 *   QLinearConv, the same geometry (int8 weights, x - x_zp in the image):
 *     dense     vectors: rows*K*V * 0.6/P      the dot4 tiles and their im2col (AVX-512
 *                                              --profile of the digits CNN: CSR wins at 10%
 *                                              nonzero, ties at 20%)
 *               scalar: rows*K*V * QDSP         smlad pairs; x IR_SPARSE_WINOGRAD where the
 *                                              int8 Winograd fits (pass_sparse.c)
 *     csr       vectors: nnz*V * 2/P + nnz*2   f32 FMAs where exact (abs_row_max * 255 < 2^24),
 *                        nnz*V * 4/P + nnz*2   else the i32 multiply
 *               scalar: nnz*V * 1.7 + nnz*2    ldr + mla per pixel (M4: ~3.3 instructions per
 *                                              nonzero-pixel, 6 accumulators) */
double ir_sparse_cost(const IrSparseView *v, const IrSparseStats *s, IrKernel k, int lanes,
                      int64_t cols) {
  bool vec = lanes > 1;
  double L = vec ? lanes : 1, P = vec ? 2.0 : 1.0, N = (double)v->rows;
  double nnz = (double)s->nnz, K = (double)v->K;
  if (v->i8 && v->conv) { /* QLinearConv, per group image (V vectors of i32 pixels) */
    double V = ceil((double)cols / L);
    switch (k) {
    case IR_KERNEL_SPARSE_CSR: /* vectors: f32 FMAs where exact for any zero point, else i32 */
      return nnz * V *
                 (!vec                               ? 1.7
                  : s->abs_row_max * 255 < (1 << 24) ? 2.0 / P
                                                     : 4.0 / P) +
             nnz * 2.0;
    case IR_KERNEL_SPARSE_BLOCK:
    case IR_KERNEL_SPARSE_UNROLLED: return INFINITY;
    case IR_KERNEL_CONV_WINOGRAD: return N * K * V * IR_SPARSE_QDSP * IR_SPARSE_WINOGRAD;
    case IR_KERNEL_DEFAULT: return N * K * V * (vec ? 1.0 : 2.0); /* the loop nest */
    default: return N * K * V * (vec ? 0.6 / P : IR_SPARSE_QDSP);
    }
  }
  if (v->i8) { /* QGemm: the dot4 tiles (4 products a lane per instruction) or int8 CSR */
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
    case IR_KERNEL_CONV_WINOGRAD: return N * K * V * (vec ? 1.25 / P : 0.75) * IR_SPARSE_WINOGRAD;
    default: return N * K * V * (vec ? 1.25 / P : 0.75);
    }
  }
  switch (k) {
  case IR_KERNEL_SPARSE_BLOCK:
    return vec ? (double)s->blocks * 2.0 + (double)s->strips * 8.0 : INFINITY;
  case IR_KERNEL_SPARSE_CSR: return nnz * (vec ? 2.0 : 7.0) + N * 6.0;
  case IR_KERNEL_SPARSE_UNROLLED:
    if (vec) /* a shuffle + an FMA per slot, 2 x L x 4 bytes of constants (read like dense B) */
      return s->slots >= 0 ? (double)s->slots * 2.0 + (double)s->strips * 4.0 : INFINITY;
    return s->nnz <= IR_SPARSE_UNROLL_MAX ? nnz * 3.0 + N * 2.0 : INFINITY;
  case IR_KERNEL_DEFAULT: return N * K * (vec ? 1.0 : 3.0); /* loops: a dot product per output */
  default: return ceil(N / L) * K * (vec ? 1.0 : 1.7);
  }
}
