/* Exact zeros in constant weights (issue 11, docs/kernels.md "Sparse weights"): the view of a
 * Gemm/MatMul/Conv weight as rows of reductions, its zero statistics, the bytes each sparse
 * format stores and the cost model that chooses among them. Shared by the kernels pass (the
 * choice), codegen (the layouts) and `kiln inspect` (the report). */
#ifndef KILN_SPARSITY_H
#define KILN_SPARSITY_H

#include "ir.h"

/* The constant f32 weight of n as `rows` rows of K reductions: row r is output column r of a
 * Gemm/MatMul (a column of B), or output channel r of a Conv (groups one after the other, each
 * row over c/group * kh * kw taps); element (r, k) = data[r*s_row + k*s_k]. */
typedef struct IrSparseView {
  const float *data;
  const int8_t *i8; /* instead of data: the int8 weight of a QGemm / QLinearConv */
  int64_t rows, K, s_row, s_k;
  bool conv;
} IrSparseView;

/* False where n has no such weight (another op, a run-time or non-f32 weight, a batched B). */
bool ir_sparse_view(const IrNode *n, IrSparseView *v);
/* The same view of the int8 weight of a QGemm (B, input 3) or QLinearConv (w, input 3). */
bool ir_sparse_view_i8(const IrNode *n, IrSparseView *v);

static inline float ir_sparse_at(const IrSparseView *v, int64_t r, int64_t k) {
  return v->i8 ? (float)v->i8[r * v->s_row + k * v->s_k] : v->data[r * v->s_row + k * v->s_k];
}

/* Bytes of one weight as the kernels store it: 4 (f32) or 1 (int8). */
static inline int ir_sparse_value_bytes(const IrSparseView *v) { return v->i8 ? 1 : 4; }

typedef struct IrSparseStats {
  int64_t numel, nnz;  /* weights, nonzero weights (NaN counts as nonzero) */
  int64_t nnz_csr;     /* nonzeros with every row's count rounded up to IR_SPARSE_CSR_CHAINS */
  int64_t zero_rows;   /* rows (output columns / channels) that are all zero */
  int64_t abs_row_max; /* the largest sum of |weight| over a row (the int8 conv's f32 bound) */
  int lanes;           /* block width of `blocks` */
  /* nonzero blocks of `lanes` consecutive rows at one k (Gemm/MatMul: 1 x lanes blocks of B,
   * one vector of a strip) and strips of lanes rows */
  int64_t blocks, strips;
  /* vector weights-in-code (lanes > 1, Gemm/MatMul): slots of all strips
   * (ir_sparse_strip_slots), each one shuffle and one vector FMA; -1 when more than
   * IR_SPARSE_UNROLL_VEC_MAX / lanes (not counted: too big to unroll) */
  int64_t slots;
} IrSparseStats;

/* One step of the vector weights-in-code kernel on a strip of `lanes` output columns: the
 * activations' vectors a and b (blocks of `lanes` consecutive reductions; a == b: one) and per
 * lane the reduction k it multiplies (-1: none, weight 0). */
#define IR_SPARSE_MAX_LANES 64
typedef struct IrSparseSlot {
  int32_t a, b;
  int32_t k[IR_SPARSE_MAX_LANES];
} IrSparseSlot;

/* Packs the nonzeros of strip `strip` (rows strip*lanes...) into slots, greedily: each slot takes
 * the block covering the most lanes that still have a nonzero, then the block adding the most,
 * and gives every covered lane one of its nonzeros there. Writes up to `max` slots to out (NULL:
 * count only); returns the count, or -1 past `max`. */
int64_t ir_sparse_strip_slots(const IrSparseView *v, int lanes, int64_t strip, IrSparseSlot *out,
                              int64_t max);

void ir_sparse_stats(const IrSparseView *v, int lanes, IrSparseStats *s);

/* Accumulator chains of a Gemm/MatMul CSR column, its nonzeros padded to a multiple with zero
 * weights (measured on the digits MLP: 2 chains took the AVX-512 host from 4.3 to 2.6 us and the
 * Cortex-M4 from 49560 to 43720 instructions; 4 chains were slower on the host, 3.3 us). */
#define IR_SPARSE_CSR_CHAINS 2

/* Largest nonzero count whose weights codegen unrolls into code (IR_KERNEL_SPARSE_UNROLLED) on
 * scalar cores; on vector targets the largest slots * lanes (constants of ~8 bytes a lane). */
#define IR_SPARSE_UNROLL_MAX 512
#define IR_SPARSE_UNROLL_VEC_MAX 65536
/* Estimated bytes of code and constant per unrolled nonzero (a load of the activation, the
 * constant, a fused multiply-add). */
#define IR_SPARSE_UNROLLED_BYTES 12

/* Index type of the CSR and block formats of Gemm/MatMul: u16 while K fits, else i32. Conv's CSR
 * stores i32 tap offsets into the padded image. */
static inline int ir_sparse_index_bytes(const IrSparseView *v) {
  return v->conv || v->K > 65535 ? 4 : 2;
}

/* Bytes the kernel k stores for the weights (values, indices, row pointers; the code of the
 * unrolled form estimated), for the cost model and `kiln inspect`. Dense kernels: rows*K*4. */
int64_t ir_sparse_weight_bytes(const IrSparseView *v, const IrSparseStats *s, IrKernel k);

/* Winograd F(2x2, 3x3) against the dense conv's cost, f32 and int8 (Cortex-M4, digits CNN:
 * conv2 + conv3 ~1.0 instruction per MAC with Winograd, ~1.5 with im2col); and the scalar int8
 * dense conv's cost per multiply-add (Arm DSP smlad pairs), in the units of ir_sparse_cost's
 * scalar (instruction) costs. */
#define IR_SPARSE_WINOGRAD 0.65
#define IR_SPARSE_QDSP 0.7

/* The cost model (docs/kernels.md): estimated issue slots per row of activations (Gemm/MatMul)
 * or per group image (Conv, `cols` output pixels) of kernel k on `lanes`-lane vectors. */
double ir_sparse_cost(const IrSparseView *v, const IrSparseStats *s, IrKernel k, int lanes,
                      int64_t cols);

bool ir_kernel_is_sparse(IrKernel k);

#endif
