/* The register-tiled micro-kernel generator (docs/kernels.md) and the compile-time packing of
 * constant operands into the order it reads them.
 *
 * C[M][N] (+)= A[M][K] * B[K][N]: an MR x NR tile of C lives in MR * NR/lanes vector registers
 * across the whole reduction; each step of k loads NR/lanes vectors of B and broadcasts MR
 * scalars of A, one fused multiply-add per accumulator. The tile is sized from the target's
 * vector lanes and register count (cg_vec_info), not from CPU names. Gemm, MatMul and Conv
 * (implicit GEMM: A = weights, B = im2col panel) use it. */
#ifndef KILN_CG_KERNELS_H
#define KILN_CG_KERNELS_H

#include "cg_internal.h"
#include "conv_params.h"

/* What the target's vector unit offers the micro-kernel. */
typedef struct CgVecInfo {
  int lanes; /* f32 lanes of one vector register (1: scalar floating point registers) */
  int regs;  /* floating point / vector registers available for the tile */
  /* a fused multiply-add instruction: the kernel asks for llvm.fma, which LLVM would otherwise
   * split into a multiply and an add where it deems that faster (Cortex-M4: two instructions
   * per multiply-add instead of one); elsewhere llvm.fmuladd, never a libm call */
  bool fma;
  /* Arm VFP without vectors (Cortex-M4/M7): consecutive floats load with one VLDM into
   * consecutive s registers (cg_gemm.c vldm_floats), not one VLDR each */
  bool vldm;
} CgVecInfo;

/* From the target machine's triple and feature string (the host's features for the host). */
CgVecInfo cg_vec_info(Cg *c);

/* A call to inline asm `code` (built through the LLVM C API, e.g. an Arm VLDM or LDRD with
 * writeback) taking one pointer and returning `ret`, marked as reading memory only through that
 * pointer (memory(argmem: read)) and nounwind; the caller extracts the results. */
LLVMValueRef cg_asm_read(Cg *c, const char *code, const char *constraints, LLVMTypeRef ret,
                         LLVMValueRef ptr);

/* Arm VFP (CgVecInfo.vldm): n (2..16) consecutive floats at p into s{first}..s{first+n-1}
 * (first + n <= 32) by one VLDM; out receives them. */
void cg_vldm_floats(Cg *c, LLVMValueRef p, int first, int n, LLVMValueRef *out);

typedef struct CgTile {
  int mr;  /* rows of A broadcast per step */
  int nrv; /* vectors of B per step: NR = nrv * lanes columns */
} CgTile;

/* The tile with the fewest estimated cycles for this product on vec (cost model in
 * docs/kernels.md): registers mr*nrv + nrv + 1 <= regs, at most max_nr columns (a scratch
 * layout's IrNode.tile_cols_max). */
CgTile cg_gemm_tile(CgVecInfo vec, int64_t M, int64_t N, int64_t K, int max_nr);
/* The same for a constant B given as cg_pack_b's (w, s_k, s_n): if it is packed already (another
 * block of rows of the same node), the best tile of that strip width, so they share the copy. */
CgTile cg_gemm_tile_b(Cg *c, CgVecInfo vec, int64_t M, int64_t N, int64_t K, int max_nr,
                      const float *w, int64_t s_k, int64_t s_n);

/* Broadcast operand: element (i, k) at base[i*s_row + k*s_k], or, when packed (cg_pack_a),
 * row blocks of mr: block b at base[b*K*mr] holding [K][mr] (the last, short block [K][M%mr]). */
typedef struct CgGemmA {
  LLVMValueRef base;
  int64_t s_row, s_k;
  bool packed;
  /* optional (not packed): element (i, k) at base[i*s_row + koff[k]] (koff: K pointer-sized
   * integers, a blocked conv's tap offsets in its input image) */
  LLVMValueRef koff;
} CgGemmA;

/* Vector operand: element (k, j) at base[k*s_k + j], contiguous along j; or, when packed
 * (cg_pack_b), strips of NR columns: strip s at base[s*K*NR] holding [K][NR], zero-padded.
 * padded: every row may be read up to the tile width past N (a scratch panel), so the last
 * strip needs no masked loads. */
typedef struct CgGemmB {
  LLVMValueRef base;
  int64_t s_k;
  bool packed, padded;
  /* optional: row k starts at base[koff[k]] instead of base[k*s_k] (koff: K pointer-sized
   * integers, e.g. a convolution's tap offsets in a padded image) */
  LLVMValueRef koff;
  /* optional: bytes of B the product reads (a padded image read through koff); 0: K*N floats */
  int64_t bytes;
} CgGemmB;

/* Called once per finished tile row: C row i, columns [j0, j0 + len) at crow (already stored). */
typedef void (*CgTileEpilogue)(Cg *c, void *ctx, LLVMValueRef i, LLVMValueRef j0, int64_t len,
                               LLVMValueRef crow);

typedef struct CgGemmC {
  LLVMValueRef base;
  int64_t ldc;
  LLVMValueRef row_bias; /* optional f32[M]: accumulators of row i start at row_bias[i] */
  LLVMValueRef col_bias; /* optional f32[N]: accumulators of column j start at col_bias[j] */
  /* row stride of col_bias: 0, one row for every row of C; else accumulator (i, j) starts at
   * col_bias[i*col_bias_ld + j] (col_bias == base, col_bias_ld == ldc: C += A*B in place) */
  int64_t col_bias_ld;
  CgTileEpilogue epi; /* optional */
  void *epi_ctx;
  /* optional, instead of epi: the fused epilogue of this node applied to the accumulators in
   * registers before the single store (cg_gemm_epilogue_in_registers must accept it); C(i, j)
   * is output element epi_base + i*epi_ld + j of the node, in its arguments epi_in */
  const IrNode *epi_node;
  LLVMValueRef *epi_in, epi_base;
  int64_t epi_ld;
  /* optional: elements between the starts of a tile row's consecutive vectors in C (and in the
   * epilogue's flat index); 0: lanes, contiguous. A blocked conv's vectors are channel blocks,
   * one plane apart (only with epi_node or no epilogue, and whole strips) */
  int64_t vec_stride;
} CgGemmC;

/* Gemm's Y = alpha*AB + beta*C, then its fused epilogue, over C row i, columns [j0, j0 + len)
 * at crow (a CgTileEpilogue; ctx is a CgGemmEpi): where C is not a plain column bias. */
typedef struct CgGemmEpi {
  const IrNode *n;
  LLVMValueRef *in, cptr; /* the node's arguments; C's (NULL: none) */
  int64_t N, csm, csn;    /* output columns; C's broadcast strides */
  float alpha, beta;
} CgGemmEpi;
void cg_gemm_epilogue(Cg *c, void *ctx, LLVMValueRef i, LLVMValueRef j0, int64_t len,
                      LLVMValueRef crow);

/* Whether the fused epilogue of n can run on vectors of accumulators: Relu, LeakyRelu, Clip with
 * constant bounds, and Add/Sub/Mul/Div with a constant scalar or an operand of the output's
 * shape (a residual). */
bool cg_gemm_epilogue_in_registers(const IrNode *n);

/* Emits the tiled product C = A*B (+ bias) for a compile-time M, N, K at the builder. */
void cg_gemm_emit(Cg *c, CgVecInfo vec, CgTile t, int64_t M, int64_t N, int64_t K, const CgGemmA *a,
                  const CgGemmB *b, const CgGemmC *cc);

/* Weight-only int8 B (cg_gemm_w8.c, KilnGemmW8 and int8 recurrent gates): B[K][N] as bytes
 * packed [strip][K][NR] for the fp32 tile with a per-column scale (padded to whole strips). */
typedef struct CgW8 {
  CgVecInfo vec;
  CgTile t;
  int64_t K, N, nr;
  LLVMValueRef b, scale;
} CgW8;
/* Packs (k, j) = q[k*s_k + j*s_n] and scale[N]; the tile is sized for products of M rows. */
CgW8 cg_w8_pack(Cg *c, const int8_t *q, const float *scale, int64_t M, int64_t K, int64_t N,
                int64_t s_k, int64_t s_n);
/* Y[i][j] = (sum_k A[i][k] B[k][j]) * scale[j] (+ bias[i*bias_ld + j]) for i < M, A and Y
 * contiguous rows of K and N floats; bias may be NULL, a column bias (bias_ld 0) or Y itself
 * (bias_ld N: Y += A B' in place). Nothing is read past column N of A, bias or Y. */
void cg_w8_emit(Cg *c, const CgW8 *p, int64_t M, LLVMValueRef a, LLVMValueRef y, LLVMValueRef bias,
                int64_t bias_ld);

/* Compile-time packing of a constant operand given as element (i, k) = w[i*s_row + k*s_k]
 * (A; `groups` matrices one after the other, group g's packed copy at g*M*K) or
 * (k, j) = w[k*s_k + j*s_n] (B) into the packed layouts above; returns the constant's address
 * (a global, or a pointer into external weights). cg_pack_b packs a given (w, K, N, s_k, s_n, nr)
 * once per module and returns the same copy after. */
LLVMValueRef cg_pack_a(Cg *c, const float *w, int64_t groups, int64_t M, int64_t K, int64_t s_row,
                       int64_t s_k, int mr, const char *what);
LLVMValueRef cg_pack_b(Cg *c, const float *w, int64_t K, int64_t N, int64_t s_k, int64_t s_n,
                       int nr, const char *what);
/* cg_pack_b of a temporary w (a transformed copy the caller frees): packed every time, not
 * remembered (a later buffer at the same address must not find this copy). */
LLVMValueRef cg_pack_b_once(Cg *c, const float *w, int64_t K, int64_t N, int64_t s_k, int64_t s_n,
                            int nr, const char *what);

/* One output row of a pool whose windows are 2 wide with stride 2 and no left padding or
 * dilation (MaxPool/AveragePool 2x2/2): orow[ow] = op over window rows kh in [kh_lo, kh_hi) (input
 * row hbase + kh*dil_h of xplane) of x[2ow] and x[2ow+1], starting from 0 (average) or -inf;
 * two input vectors deinterleaved into the even and odd pixels per output vector instead of
 * strided loads (gathers). False, emitting nothing, where it does not apply. */
bool cg_pool_pairs(Cg *c, const IrConvParams *p, LLVMValueRef xplane, LLVMValueRef orow,
                   LLVMValueRef hbase, LLVMValueRef kh_lo, LLVMValueRef kh_hi, bool avg);

/* even[t] = src[2t] (t < n_even) and odd[t] = src[2t + 1] (t < n_odd): pairs of vectors
 * deinterleaved by two shuffles, the rest scalar moves (strided loads would be gathers). */
void cg_copy_deinterleave(Cg *c, LLVMValueRef src, LLVMValueRef even, LLVMValueRef odd,
                          int64_t n_even, int64_t n_odd);

/* dst[2t] = even[t] (t < n_even) and dst[2t + 1] = odd[t] (t < n_odd), n_even - n_odd in
 * {0, 1}: the inverse of cg_copy_deinterleave, two shuffles per pair of vectors. */
void cg_copy_interleave(Cg *c, LLVMValueRef dst, LLVMValueRef even, LLVMValueRef odd,
                        int64_t n_even, int64_t n_odd);
/* row[q] = 0 for q in [lo, hi) (4-byte elements; nothing where hi <= lo). */
void cg_zero_floats(Cg *c, LLVMValueRef row, LLVMValueRef lo, LLVMValueRef hi);
/* A constant array of n pointer-sized integers (a table of tap offsets), in the weights. */
LLVMValueRef cg_const_offsets(Cg *c, const int64_t *off, int64_t n);

/* IR_KERNEL_CONV_WIDE's two ends, for one (batch, group) whose input starts at xg: the zeroed,
 * padded phase images (w->image_floats) at image; then the ow valid columns of each wide row
 * (wide: m_per_group rows of w->wide_cols) to the output at obase through the fused epilogue. */
void cg_conv_phase_images(Cg *c, const IrConvParams *p, const IrConvWide *w, LLVMValueRef xg,
                          LLVMValueRef image);
/* The same images for an int8 input at xg: elements x - zp (the padding 0) as i32, or f32
 * (as_f32), for the sparse int8 conv (cg_sparse.c). */
void cg_conv_phase_images_i8(Cg *c, const IrConvParams *p, const IrConvWide *w, LLVMValueRef xg,
                             int32_t zp, bool as_f32, LLVMValueRef image);
void cg_conv_wide_store(Cg *c, const IrNode *n, const IrConvParams *p, const IrConvWide *w,
                        LLVMValueRef *in, LLVMValueRef wide, LLVMValueRef obase, LLVMValueRef out);

/* The lowerings of the tiled kernels (cg_tiled_ops.c), called by cg_lower_gemm, cg_lower_matmul
 * and cg_lower_conv for nodes whose IrNode.kernel asks for them. */
bool cg_tiled_gemm(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);
bool cg_tiled_matmul(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);
bool cg_tiled_conv(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);
/* IR_KERNEL_CONV_WINOGRAD (cg_winograd.c), called by cg_tiled_conv with the node's geometry. */
bool cg_winograd_conv(Cg *c, const IrNode *n, const IrConvParams *p, LLVMValueRef *in,
                      LLVMValueRef out);
bool cg_tiled_conv_transpose(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);
/* IR_KERNEL_CONV_NCHWC (cg_nchwc.c): a Conv whose input and output are NCHW{c}c */
bool cg_nchwc_conv(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);
/* MaxPool whose input and output are NCHW{c}c (cg_nchwc.c) */
bool cg_nchwc_max_pool(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);
/* IR_KERNEL_CONVT_SUBPIXEL (cg_convt.c) */
bool cg_subpixel_conv_transpose(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);

#endif
