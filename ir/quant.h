/* int8 quantization arithmetic shared by the interpreter, the quantize pass and codegen, so that
 * every stage computes the same integers (docs/quantization.md).
 *
 * - QuantizeLinear: q = saturate(round_half_even(x / scale) + zero_point), x / scale in f32.
 * - DequantizeLinear: x = (float)(q - zero_point) * scale, one f32 multiply.
 * - Requantization of an int32 accumulator to the output's int8 grid: the real multiplier
 *   m = in_scale * w_scale / out_scale (computed in double) becomes a Q31 integer `mult` and a
 *   right shift `shift` (m ~= mult * 2^-shift, mult in [2^30, 2^31)), and
 *       y = saturate(out_zp + ((int64)acc * mult + 2^(shift-1)) >> shift)
 *   i.e. one rounding, half away from zero towards +inf (TFLite's TFLITE_SINGLE_ROUNDING
 *   MultiplyByQuantizedMultiplier; its arithmetic shift of a negative product rounds halves up). */
#ifndef KILN_QUANT_H
#define KILN_QUANT_H

#include <stdint.h>

#include "conv_params.h"
#include "ir.h"

typedef struct IrRequant {
  int32_t mult; /* Q31 multiplier, 0 when the real multiplier underflows */
  int shift;    /* right shift in [1, 62] */
} IrRequant;

/* The fixed-point form of real multiplier m > 0; false if m >= 2^30 (not representable). */
bool ir_requant_from_real(double m, IrRequant *r);

/* (acc * mult + 2^(shift-1)) >> shift: one rounding, halves towards +inf */
static inline int64_t ir_requant_raw(int32_t acc, IrRequant r) {
  return ((int64_t)acc * r.mult + ((int64_t)1 << (r.shift - 1))) >> r.shift;
}

static inline int32_t ir_requant_apply(int32_t acc, IrRequant r, int32_t zp, int32_t lo,
                                       int32_t hi) {
  int64_t v = ir_requant_raw(acc, r) + zp;
  return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

/* QAdd (TFLite's quantized add): both inputs moved to a common scale 2 * max(a_scale, b_scale)
 * with 20 bits of headroom, added, requantized:
 *   y = saturate(y_zp + R(R((a - a_zp) << 20, ra) + R((b - b_zp) << 20, rb), ry))
 * R = ir_requant_raw, ra = a_scale / twice, rb = b_scale / twice, ry = twice / (2^20 y_scale).
 * QMul: y = saturate(y_zp + R((a - a_zp) * (b - b_zp), ra)) with ra = a_scale b_scale / y_scale. */
enum { IR_QADD_LEFT_SHIFT = 20 };
typedef struct IrQBinary {
  IrRequant ra, rb, ry;
  int32_t a_zp, b_zp, y_zp;
  bool mul;
} IrQBinary;
/* false: a multiplier has no fixed-point form (shape inference reports it) */
bool ir_qbinary(const IrNode *n, IrQBinary *p);
/* QGlobalAveragePool's multiplier x_scale / (y_scale * plane size) */
bool ir_qgap_requant(const IrNode *n, IrRequant *r);
static inline int8_t ir_qbinary_apply(const IrQBinary *p, int8_t a, int8_t b) {
  int32_t x = (int32_t)a - p->a_zp, y = (int32_t)b - p->b_zp;
  if (p->mul) return (int8_t)ir_requant_apply(x * y, p->ra, p->y_zp, -128, 127);
  int32_t sum = (int32_t)(ir_requant_raw(x * (1 << IR_QADD_LEFT_SHIFT), p->ra) +
                          ir_requant_raw(y * (1 << IR_QADD_LEFT_SHIFT), p->rb));
  return (int8_t)ir_requant_apply(sum, p->ry, p->y_zp, -128, 127);
}

/* QConcat (ONNX Runtime's QLinearConcat layout: y_scale, y_zp, then (x, x_scale, x_zp) per
 * input): input k is copied when its parameters are the output's, else requantized:
 *   y = saturate(y_zp + R(x - x_zp, x_scale / y_scale))  (R = ir_requant_raw). */
typedef struct IrQConcatIn {
  IrRequant r;
  int32_t x_zp;
  bool copy;
} IrQConcatIn;
/* data input k (0-based; node input 2 + 3k); false: the ratio has no fixed-point form */
bool ir_qconcat_input(const IrNode *n, int k, IrQConcatIn *q);
static inline int8_t ir_qconcat_apply(const IrQConcatIn *q, int32_t y_zp, int8_t x) {
  return q->copy ? x : (int8_t)ir_requant_apply((int32_t)x - q->x_zp, q->r, y_zp, -128, 127);
}

/* QAveragePool (x, x_scale, x_zp; AveragePool's attributes; the output keeps x's scale and zero
 * point, as TFLite's int8 average pool): the window's sum of x (padding counted as x_zp when
 * count_include_pad), divided by the window's count rounding half away from zero, as TFLite. */
static inline int8_t ir_qavg_divide(int32_t sum, int32_t count) {
  return (int8_t)(sum >= 0 ? (sum + count / 2) / count : (sum - count / 2) / count);
}

/* f32 -> int8 as QuantizeLinear (round half to even through the 1.5 * 2^23 trick, which codegen
 * repeats instruction for instruction). NaN saturates to -128. */
static inline int8_t ir_quantize_f32(float x, float scale, int32_t zp) {
  float v = x / scale;
  if (!(v > -256.0f)) v = -256.0f;
  if (v > 256.0f) v = 256.0f;
  volatile float big = 12582912.0f; /* volatile: the compiler must not fold (v + big) - big */
  float r = (v + big) - big;
  int32_t q = (int32_t)r + zp;
  return (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
}

static inline float ir_dequantize_i8(int8_t q, float scale, int32_t zp) {
  return (float)((int32_t)q - zp) * scale;
}

/* A QuantizeLinear / DequantizeLinear node's parameters (shape inference checked them): element
 * i uses channel (i / inner) % channels; the integer side has dtype q_dtype (i8, u8, i32). */
typedef struct IrQdq {
  int64_t channels, inner, numel;
  const float *scale;
  const void *zp; /* NULL: 0 */
  IrDType q_dtype;
} IrQdq;
void ir_qdq(const IrNode *n, IrQdq *q);
int32_t ir_qdq_zp(const IrQdq *q, int64_t channel);
/* Per tensor with an i8 zero point: the form codegen/cg_quant.c lowers (others: cg_qdq.c). */
bool ir_qdq_is_simple(const IrNode *n);
/* DynamicQuantizeLinear's parameters from the data's range [lo, hi] (lo <= 0 <= hi): scale
 * (hi - lo) / 255 in f32 (1 when hi == lo, as ONNX Runtime: the spec's formula divides by 0),
 * zero point saturate(round_half_even(-lo / scale)) in [0, 255]. */
static inline float ir_dynamic_scale(float lo, float hi) {
  return hi == lo ? 1.0f : (hi - lo) / 255.0f;
}
static inline uint8_t ir_quantize_u8(float x, float scale, int32_t zp) {
  return (uint8_t)(ir_quantize_f32(x, scale, zp - 128) + 128); /* the i8 rounding, shifted */
}
/* An (Average)Pool node with a dilation other than 1 (opset 19): no int8 form takes it. */
bool ir_pool_dilated(const IrNode *n);

/* Geometry and constants of a quantized head (QLinearConv, QGemm), from its constant inputs:
 * per output channel the requantization; the input's and output's zero points. */
typedef struct IrQHead {
  int64_t channels; /* output channels (Conv M, Gemm N) */
  int32_t x_zp, y_zp;
  float x_scale, y_scale;
  const float *w_scale; /* [channels] or [1] */
  int64_t w_scale_count;
  const int32_t *bias; /* [channels] or NULL */
} IrQHead;
/* Reads n's quant inputs (shape inference has checked them); requant[] gets `channels` entries. */
void ir_qhead(const IrNode *n, IrQHead *h);
IrRequant ir_qhead_requant(const IrQHead *h, int64_t channel);

/* A QLinearConv (QLinearConvTranspose) node viewed as a plain Conv (ConvTranspose) (x, w[, B]) for
 * ir_conv_params: tmp and ins are caller storage. */
void ir_qconv_as_conv(const IrNode *q, IrNode *tmp, IrValue **ins);
/* A QAveragePool node viewed as a plain AveragePool (x) for ir_conv_params. */
void ir_qpool_as_pool(const IrNode *q, IrNode *tmp, IrValue **ins);

/* The window geometry of a quantized windowed node (QLinearConv, QLinearConvTranspose,
 * QAveragePool, ConvInteger) through its float view, or of a plain Conv/ConvTranspose/pool:
 * ir_conv_params's checks and errors. QLinearConvTranspose's i32 bias is left out of the view
 * (has_bias false; ir_infer_qlinear_conv_transpose checks it apart). */
bool ir_q_conv_params(const IrNode *n, IrConvParams *p, IrDiag *d);
/* The same for a node that shape inference has accepted (asserts it resolves). */
IrConvParams ir_q_conv_checked(const IrNode *n);

/* The (scale, zero point) of a scalar quant input pair k, k+1 (shape inference checked them). */
float ir_qparam_scale(const IrNode *n, int k);
int32_t ir_qparam_zp(const IrNode *n, int k);

/* Scratch of the int8 kernels (passes/pass_quantize.c reserves it, codegen reads it back):
 * QGemm: the activations repacked as [M][k4 * 4] bytes (k4 = ceil(K / 4), the tail padded);
 * QLinearConv, per group: an im2col panel [k4][ldv] words for `rows` output rows, ldv = rows *
 * ow rounded up to `cols`, the widest tile of the target (64 on hosts, PassOptions.tile_cols_max
 * on bare metal; codegen needs its own strip, 4 vectors of i32). A word is one reduction step of
 * the target's dot product (ir_qconv_steps): a quad of 4 channels of one tap (4 bytes; channels
 * padded to a multiple of 4), or with `pairs` (Arm DSP smlad) two i16 reductions: 2 channels of one
 * tap, or for 1 or 3 channels per group two consecutive reductions in Conv order (channel, tap).
 * The panel is sized so that both forms fit. */
typedef struct IrQConvPanel {
  int64_t k4, rows, ldv, bytes;
} IrQConvPanel;
int64_t ir_qconv_steps(const IrConvParams *p, bool pairs);
/* pairs in Conv order (channel, tap) rather than channel pairs of a tap */
bool ir_qconv_pairs_in_order(const IrConvParams *p);
void ir_qconv_panel(const IrConvParams *p, int64_t budget_bytes, int64_t cols, bool pairs,
                    IrQConvPanel *q);
/* The panel of a planned scratch; false if not even one output row fits. */
bool ir_qconv_panel_of(const IrConvParams *p, int64_t scratch_bytes, bool pairs, int64_t cols,
                       IrQConvPanel *q);
int64_t ir_qgemm_scratch_bytes(const IrNode *n);

/* MatMulInteger (A [..., K], B [K, N] constant, A's zero point, B's zero point(s)): M rows of A
 * (its elements / K); the values of the i8 or u8 operands as int32. */
typedef struct IrMatMulInt {
  int64_t m, k, n;
  IrDType a_dtype, b_dtype;
  int64_t b_zp_count; /* 1 or n */
} IrMatMulInt;
void ir_matmul_integer(const IrNode *n, IrMatMulInt *p);
static inline int32_t ir_int8_value(IrDType t, const void *p, int64_t i) {
  return t == IR_U8 ? ((const uint8_t *)p)[i] : ((const int8_t *)p)[i];
}
/* B's zero point of column j (a constant) */
int32_t ir_matmul_integer_bzp(const IrNode *n, int64_t j);
/* the int8 GEMM's scratch (cg_quant.c): A's rows packed in quads (i16 pairs when widen), the
 * run-time bias of every column (up to 64 columns of padding), when a B zero point is not 0
 * the rows' sums, and with a per-column scale (5th input) its padded copy */
int64_t ir_matmul_integer_scratch_bytes(const IrNode *n, bool widen);
bool ir_matmul_integer_needs_row_sums(const IrNode *n);

/* ConvInteger (x, w constant, x's zero point, w's zero point(s)[, scale]) viewed as a plain
 * Conv (x, w) for ir_conv_params: tmp and ins (3) are caller storage. w's zero points: as
 * MatMulInteger's B (ir_matmul_integer_bzp(n, m), ir_matmul_integer_needs_row_sums). */
void ir_conv_integer_as_conv(const IrNode *q, IrNode *tmp, IrValue **ins);
/* The int8 conv kernel's scratch for ConvInteger beyond QLinearConv's (cg_quant.c), at its
 * start: the run-time bias of every channel and, when a weight zero point is not 0 (after u8's
 * shift by 128), the input's channel sums (h * w) and their window sums (oh * ow), i32. */
int64_t ir_conv_integer_extra_bytes(const IrNode *n);

/* int8 Winograd F(2x2, 3x3) of a QLinearConv (3x3, stride 1, dilation 1, one group, at least 8
 * channels in and out) on Arm DSP targets (codegen/cg_quant.c): per panel of `rows` rows of
 * 2x2 output tiles, the transformed input V [16][kp][ldv] words (i16 pairs of channels) and the
 * sums of one block of 3 output channels [16][3][ldv] int32. */
typedef struct IrQWinograd {
  int64_t kp, th, tw, rows, ldv, v_bytes, bytes;
} IrQWinograd;
/* false: not such a conv, or (with scratch_bytes > 0) the planned scratch holds no panel */
bool ir_qconv_winograd(const IrConvParams *p, int64_t budget_bytes, int64_t cols,
                       int64_t scratch_bytes, IrQWinograd *w);
/* The columns (2x2 tiles) of the int8 Winograd product's register tile: its cols. */
#define IR_QWINO_COLS 2
/* Whether the int8 Winograd of QLinearConv n (constant weights) is exact: its sums, computed
 * modulo 2^32, give the interpreter's when the true final value 4 x (bias + sum) fits int32, and
 * the requantization's shift + 2 stays <= 62. */
bool ir_qconv_winograd_exact(const IrNode *n);
/* Estimated Cortex-M4 instructions of the int8 Winograd (wino) and of the direct smlad pairs
 * kernel (direct) for one image of conv p (docs/quantization.md). */
void ir_qconv_winograd_cost(const IrConvParams *p, double *wino, double *direct);

/* QLinearConvTranspose on the int8 GEMM (codegen/cg_quant.c), per batch item and group: V, the
 * input's channel quads [k4][ldv] words (ldv = h * w rounded up to `cols`); the raw int32 sums
 * [(m, tap) of the group][ldv] of the weights' rows (m, tap) times V; one int32 output plane
 * [oh * ow] that the col2im adds them into before the requantization. t_bytes: the transposed
 * product of vector targets for fewer than 16 input pixels (the pixels' quads [h * w][k4] words,
 * the sums [h * w][(m, tap) rounded up to `cols`], the plane). */
typedef struct IrQConvtGemm {
  int64_t k4, ldv, v_bytes, raw_bytes, plane_bytes, bytes, t_bytes;
} IrQConvtGemm;
void ir_qconvt_gemm(const IrConvParams *p, int64_t cols, IrQConvtGemm *q);

/* QLinearConvTranspose as sub-pixel convolutions (IR_KERNEL_QCONVT_SUBPIXEL, codegen/cg_quant.c;
 * the geometry of ir_conv_subpixel): the input interleaved once into X, a zero-point-padded image
 * of 4-channel words [c4][hp][wp] (x_bytes: with what the tiles' strips read past it); each
 * phase (ry, rx) a product of its sub-kernel, quads (channel quad, tap), by the X words at the
 * tap's offset (read in place; with v_copy, the Arm DSP tile, first copied into V [k4][ldv]
 * words), requantized into wide int8 rows, stride_w of them [m][ldv] (y_bytes) that are then
 * interleaved into the output. ldv: the largest phase's ny * wp rounded up to `cols`. bytes is at
 * least the loop nest's int32 plane (oh * ow * 4: the fallback where the target's strip does not
 * fit). False where ir_conv_subpixel is. */
typedef struct IrQConvtSub {
  IrConvSubpixel s;
  int64_t c4, ldv, x_bytes, v_bytes, y_bytes, bytes;
} IrQConvtSub;
bool ir_qconvt_subpixel(const IrConvParams *p, int64_t cols, bool v_copy, IrQConvtSub *q);

/* MaxPool on int8 (ir_interp_max_pool calls it for an i8 input). */
int ir_interp_max_pool_i8(const IrNode *n, const void *const *in, void *const *out);

#endif
