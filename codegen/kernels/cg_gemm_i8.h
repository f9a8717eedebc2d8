/* The int8 micro-kernel (cg_gemm_i8.c): dot4 per target and the register-tiled int8 GEMM with
 * requantization in registers. */
#ifndef KILN_CG_GEMM_I8_H
#define KILN_CG_GEMM_I8_H

#include "cg_internal.h"
#include "quant.h"

typedef enum { CG_DOT4_GENERIC, CG_DOT4_VNNI, CG_DOT4_SDOT, CG_DOT4_SMLAD } CgDot4Kind;
typedef struct CgDot4 {
  CgDot4Kind kind;
  int lanes;    /* i32 lanes of one accumulator vector (1: a scalar register) */
  int regs;     /* registers available for the tile */
  bool u8_acts; /* activations stored as x ^ 0x80 (vpdpbusd multiplies u8 by s8) */
  bool masked;  /* x86 AVX-512BW: masked byte/word vector loads and stores are one instruction */
  bool vbmi;    /* x86 AVX-512VBMI: vpermi2b (a 128-byte table lookup per byte) */
  bool vfp;     /* Arm DSP (SMLAD) with a VFP unit (hard-float ABI or +vfp*): vcvtr */
} CgDot4;
CgDot4 cg_dot4_info(Cg *c);
/* acc + per lane sum of 4 byte products of acts and wts (vectors of i32 quads) */
LLVMValueRef cg_dot4(Cg *c, CgDot4 d, LLVMValueRef acc, LLVMValueRef acts, LLVMValueRef wts);
/* Arm DSP: a + b (or a - b with sub) on the two i16 halves of i32 words (sadd16 / ssub16,
 * wrapping; callers keep every half in range). */
LLVMValueRef cg_dsp_add16(Cg *c, LLVMValueRef a, LLVMValueRef b, bool sub);

/* y[m][n] = requant(table bias + sum_k S[m][k] V[k][n]) for m < m, n < n_valid:
 * S rows of lds bytes holding k4 quads; V [k4][ldv][4] bytes; tables int32 [3][channels]
 * (multiplier, shift, bias) indexed by row (per_row) or by column (then channels = n_pad). */
typedef struct CgQGemm {
  int64_t m, k4;
  int64_t n_cols;       /* columns computed: a multiple of the strip is read from V */
  LLVMValueRef n_valid; /* columns stored (run-time index value) */
  LLVMValueRef s, v, y, tables;
  int64_t lds, ldv, ldy; /* bytes per S row; lanes per V quad row (>= n_cols rounded up to
                            4 vectors); y row stride */
  int64_t n_pad;         /* per-column tables: their length */
  int64_t channels;      /* per-row tables: their length */
  bool per_row, v_is_acts;
  /* CG_DOT4_SMLAD Conv: S and V words are i16 pairs (k4 counts pair steps), S in blocks of
   * CG_QPAIR_ROWS rows (fewer in the last) interleaved [k4][rows] (cg_qpair_offset) */
  bool pairs;
  /* pairs: V is pair-major, [n_cols / 2 column pairs][k4][2] words (a step's two activation
   * words adjacent, a column pair's steps contiguous), n_cols >= 2 */
  bool v_pair_major;
  /* pairs, pair-major, not raw: a fused MaxPool 2x2/2 (passes/pass_qpool.c). Columns come in
   * groups of 4, one pool window each (strip 2j: its top pixel pair, 2j + 1: its bottom one;
   * n_cols and n_valid multiples of 4); the window's max sum is requantized into y[row * ldy +
   * n / 4] */
  bool pool;
  /* pairs, wide_pw > 0: V is a padded i16 input copy, column n = oh * wide_pw + ow (n_cols /
   * wide_pw rows; only ow < wide_ow computed, stored at oh * wide_ow + ow), its step s word at byte
   * wide_off[s] + n * wide_col_bytes (unaligned ldr on Thumb) */
  int64_t wide_pw, wide_ow, wide_col_bytes;
  const int32_t *wide_off;
  /* wide, k4 > CG_QPAIR_UNROLL_ALL: the reduction loops over k4 / wide_row_steps kernel rows,
   * its body wide_row_steps steps (wide_off of the first row), V advancing wide_row_bytes */
  int64_t wide_row_steps, wide_row_bytes;
  bool s_unpacked; /* CG_DOT4_SMLAD: S quads (the activations of a Gemm) as two i16 pair words */
  /* CG_DOT4_SMLAD, s_unpacked, Thumb, n_cols >= 4 (the 1 x 4 tile): V is strip-major,
   * [n_cols / 4 strips][k4][4 columns] quads (a step's 4 weight words one ldm) */
  bool v_strip_major;
  /* store the int32 sums (y: i32, ldy in elements, every strip column), no tables; with
   * per_row, raw_bias and raw_scale are indexed by row (ConvInteger's output channels) */
  bool raw;
  int64_t raw_col_step;  /* raw: elements between adjacent columns of y (0: 1) */
  LLVMValueRef raw_bias; /* raw: i32 [n_pad] added to each column's sums (NULL: none) */
  bool raw_masked;       /* raw: store only the columns < n_valid (else every strip column) */
  /* raw: store f32 (float)sum * scale, the scale one f32 value (raw_scale_one) or per column
   * (raw_scale: f32 [n_pad]) */
  LLVMValueRef raw_scale, raw_scale_one;
  /* VNNI direct convolution (no im2col; docs/quantization.md): V is the zero-point-padded copy
   * of the input in words of 4 channels, [k4 / direct_taps][PH][direct_pw] words (a plane of
   * direct_plane_bytes each); reduction quad kq = c4 * direct_taps + tap of column n (output
   * pixel oy * direct_ow + ox, stride 1) is the word at byte c4 * direct_plane_bytes +
   * direct_tap_off[tap] + 4 (oy * direct_pw + ox). Needs n_cols a multiple of the strip, and
   * direct_ow a multiple of the lanes that divides the strip or that the strip divides (a
   * strip's vectors at constant offsets from its first); or direct_ow == direct_pw (wide rows:
   * column n is word n, any n_cols, on every target but the Arm DSP tile). direct_taps 0: V is
   * [k4][ldv][4]. */
  int64_t direct_taps, direct_plane_bytes, direct_ow, direct_pw;
  const int64_t *direct_tap_off;
  bool shift_ge33; /* every shift in the tables is at least 33: a 32-bit requantization */
  int32_t y_zp;
} CgQGemm;
/* CG_DOT4_SMLAD: Conv weight quads (S) are stored unpacked, 8 bytes each (rows of k4 * 8
 * bytes); cg_dot4_pack_quad writes a quad either way. */
static inline void cg_dot4_pack_quad(int8_t *dst, const int8_t w[4], bool unpacked) {
  if (!unpacked) {
    for (int t = 0; t < 4; t++) dst[t] = w[t];
    return;
  }
  int16_t h[4] = {w[0], w[2], w[1], w[3]}; /* little-endian i16 pairs: (w0, w2), (w1, w3) */
  for (int t = 0; t < 4; t++) {
    dst[2 * t] = (int8_t)(h[t] & 0xff);
    dst[2 * t + 1] = (int8_t)((h[t] >> 8) & 0xff);
  }
}

/* The pairs tile's rows, and the byte offset of weight word (row m, step k) of a group of
 * m_per_group rows with kp steps: blocks of CG_QPAIR_ROWS rows, each [kp][rows] words. */
enum { CG_QPAIR_ROWS = 3 };
/* pair-major pairs tile: the whole reduction unrolled up to this many steps, else chunks of
 * CG_QPAIR_UNROLL steps per loop iteration */
enum { CG_QPAIR_UNROLL_ALL = 32, CG_QPAIR_UNROLL = 16 };
static inline int64_t cg_qpair_offset(int64_t m, int64_t k, int64_t m_per_group, int64_t kp) {
  int64_t m0 = m / CG_QPAIR_ROWS * CG_QPAIR_ROWS, rows = m_per_group - m0;
  if (rows > CG_QPAIR_ROWS) rows = CG_QPAIR_ROWS;
  return 4 * (m0 * kp + k * rows + (m - m0));
}

/* ir_requant_apply on i32 lanes (lanes 1: scalars) to <lanes x i8>; shift_ge33: every shift
 * passes cg_qrequant_32bit, so 32-bit operations after the widening multiply suffice. */
bool cg_qrequant_32bit(IrRequant r); /* shift in [33, 55]: cg_qrequant's 32-bit form */
/* y (i8 or <lanes x i8>) through the fused lookup table c->qlut (one load a byte); y itself
 * when there is none. cg_qrequant and cg_qrequant_pack4 apply it. */
LLVMValueRef cg_qlut_map(Cg *c, LLVMValueRef y);
LLVMValueRef cg_qrequant(Cg *c, int lanes, LLVMValueRef acc, LLVMValueRef mult, LLVMValueRef shift,
                         int32_t zp, bool shift_ge33);
/* x86 AVX-512: cg_qrequant of 4 vectors of 16 lanes (per-row mult and shift splats, every shift
 * passing cg_qrequant_32bit) as one <64 x i8>, the vectors' bytes in order. */
LLVMValueRef cg_qrequant_pack4(Cg *c, const LLVMValueRef *acc, LLVMValueRef mult,
                               LLVMValueRef shift, int32_t zp);

/* Masked vector load / store (llvm.masked.*, alignment 1): lanes whose mask bit is 0 are not
 * read (load: 0) or not written. Cheap where CgDot4.masked; elsewhere LLVM expands them. */
LLVMValueRef cg_masked_load(Cg *c, LLVMTypeRef vt, LLVMValueRef ptr, LLVMValueRef mask);
void cg_masked_store(Cg *c, LLVMValueRef v, LLVMValueRef ptr, LLVMValueRef mask);
/* A call of the non-overloaded intrinsic `name` (e.g. "llvm.x86.avx512.vpermi2var.qi.512"). */
LLVMValueRef cg_call_intrinsic(Cg *c, const char *name, LLVMValueRef *args, int n);
/* s in every lane of a vector (lanes 1: s) */
LLVMValueRef cg_qsplat(Cg *c, LLVMValueRef s, int lanes);
/* <lanes x i1>: lane l < n (n an index value) */
LLVMValueRef cg_lane_mask(Cg *c, int lanes, LLVMValueRef n);

/* Columns a V operand must provide (n_cols rounded up to the widest strip, 4 vectors). */
int64_t cg_qgemm_v_cols(CgDot4 d, int64_t n_cols);
void cg_qgemm_emit(Cg *c, CgDot4 d, const CgQGemm *q);
/* Whether the target is Thumb (Thumb-2 inline asm for the Arm DSP kernels). */
bool cg_is_thumb(Cg *c);
/* Arm DSP pairs tiles: the two activation words of step s, a constant byte offset 8 s from pa;
 * and the mr (1..CG_QPAIR_ROWS) weight words at *pw, which advances past them. thumb: by one
 * ldrd / ldm (inline asm), else plain loads. */
void cg_qpair_acts(Cg *c, LLVMValueRef pa, int64_t s, bool thumb, LLVMValueRef a[2]);
void cg_qpair_weights(Cg *c, LLVMValueRef *pw, int mr, bool thumb, LLVMValueRef *w);

#endif
