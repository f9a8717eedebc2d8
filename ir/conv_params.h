/* Geometry of windowed ops (Conv, ConvTranspose, MaxPool, AveragePool), resolved once from a
 * node's input shapes and attributes with ONNX opset-17 rules, so that shape inference, the
 * reference interpreter and codegen agree on every pad and every output size: IrConvNd for 1-D,
 * 2-D and 3-D data, IrConvParams its 2-D view (1-D as H = 1) that the 2-D kernels read. */
#ifndef KILN_CONV_PARAMS_H
#define KILN_CONV_PARAMS_H

#include "ir.h"

typedef struct IrConvParams {
  IrOp op;
  int spatial;        /* 2, or 1 for 1-D data [N, C, W], resolved as [N, C, 1, W] (h = kh = 1) */
  int64_t n, c, h, w; /* input X: [n, c, h, w] */
  int64_t m, oh, ow;  /* output Y: [n, m, oh, ow]; pools: m = c */
  int64_t kh, kw;     /* kernel size (Conv/ConvTranspose: from the weight) */
  int64_t stride_h, stride_w;
  int64_t dil_h, dil_w; /* 1 where the op has no dilations (AveragePool) */
  /* Explicit padding after auto_pad / output_shape resolution; always >= 0. For Conv and pools
   * input row ih = oh*stride_h - pad_t + kh*dil_h; for ConvTranspose output row
   * oh = ih*stride_h - pad_t + kh*dil_h. */
  int64_t pad_t, pad_l, pad_b, pad_r;
  int64_t group;                /* 1 for pools */
  int64_t c_per_group;          /* c / group */
  int64_t m_per_group;          /* m / group */
  int64_t out_pad_h, out_pad_w; /* ConvTranspose output_padding (0 otherwise) */
  /* Pools. ceil_mode is already applied to oh/ow (a last window that would start in the end
   * padding is dropped, as PyTorch). MaxPool: padding never wins (-inf). AveragePool divides by
   * the window clipped to the input (count_include_pad 0) or to the padded input
   * [-pad_begin, size + pad_end) (count_include_pad 1; a ceil_mode window may run past it). */
  bool ceil_mode;
  bool count_include_pad;
  bool has_bias; /* Conv/ConvTranspose with a third input */
} IrConvParams;

/* The geometry of any rank, axis by axis (D, H, W order; 1-D data has one axis): what shape
 * inference, the interpreter and the 3-D lowering (cg_window3d.c) read. */
#define IR_CONV_MAX_SPATIAL 3
typedef struct IrConvNd {
  IrOp op;
  int spatial; /* 1, 2 or 3 */
  int64_t n, c, m, group, c_per_group, m_per_group;
  int64_t in[IR_CONV_MAX_SPATIAL], out[IR_CONV_MAX_SPATIAL], k[IR_CONV_MAX_SPATIAL];
  int64_t stride[IR_CONV_MAX_SPATIAL], dil[IR_CONV_MAX_SPATIAL];
  int64_t pad_begin[IR_CONV_MAX_SPATIAL], pad_end[IR_CONV_MAX_SPATIAL];
  int64_t out_pad[IR_CONV_MAX_SPATIAL];
  bool ceil_mode, count_include_pad, has_bias; /* as in IrConvParams */
} IrConvNd;
/* Resolves n with 1, 2 or 3 spatial axes (same checks and rules as ir_conv_params). */
bool ir_conv_nd_params(const IrNode *n, IrConvNd *p, IrDiag *d);

/* Resolve n (one of the four ops, inputs with known shapes) into p. Checks everything the op
 * needs: input rank 4 (or 3: 1-D; 3-D data is refused: the 2-D kernels cannot run it), weight and
 * bias shapes, kernel_shape, strides, dilations, pads, group, auto_pad, ceil_mode, output_padding /
 * output_shape, non-empty output. On a user error reports it to d (which may be NULL) and returns
 * false. Does not look at dtypes. */
bool ir_conv_params(const IrNode *n, IrConvParams *p, IrDiag *d);

/* AveragePool's window of output (oh, ow) clipped to the input, [h0, h1) x [w0, w1), and its
 * divisor: PyTorch's rule, which ONNX opset 17 matches (with count_include_pad the window
 * clipped to the padded input [-pad_begin, size + pad_end), a ceil_mode window may run past it;
 * otherwise the input part). `padded` is the count of the window in the padded input. */
typedef struct IrPoolWindow {
  int64_t h0, h1, w0, w1, padded, count;
} IrPoolWindow;
void ir_avg_pool_window(const IrConvParams *p, int64_t oh, int64_t ow, IrPoolWindow *w);

/* Conv as implicit GEMM (IR_KERNEL_CONV_GEMM, docs/kernels.md): per group, out[Mpg][P] =
 * W[Mpg][K] x cols[K][P] with K = c_per_group*kh*kw reductions and P = oh*ow output pixels. The
 * im2col matrix cols is built in column panels of `cols` pixels, each stored row-major
 * [K][panel_stride] in the node's scratch of K * (cols + tile_cols) floats, where panel_stride
 * is the panel's columns rounded up to the micro-kernel's tile width, at most tile_cols
 * (IrNode.tile_cols_max). The scratch size is the contract: codegen recovers cols from it. */
#define IR_CONV_PANEL_BYTES (256 * 1024) /* hosts: a panel stays in L2 for every weight block */
#define IR_TILE_COLS_MAX 64              /* hosts: the widest tile (floats), AVX-512 4 x 16 */
/* Columns of one panel for a budget of panel_bytes (whole tiles, at least one). */
int64_t ir_conv_panel_cols(const IrConvParams *p, int64_t panel_bytes, int64_t tile_cols);
int64_t ir_conv_panel_scratch_bytes(const IrConvParams *p, int64_t panel_bytes, int64_t tile_cols);
/* The panel columns of a node's scratch (inverse of ir_conv_panel_scratch_bytes). */
int64_t ir_conv_panel_cols_of_scratch(const IrConvParams *p, int64_t scratch_bytes,
                                      int64_t tile_cols);

/* Conv without im2col (IR_KERNEL_CONV_WIDE, docs/kernels.md). The input of a group is copied
 * once, zero-padded, into stride_h*stride_w phase images: phase (py, px) holds, for each input
 * channel, the [hq][wq] plane of padded pixels (i*stride_h + py, j*stride_w + px). Tap
 * (ic, kh, kw) of "wide" output pixel q = oh*wq + ow then reads phase
 * ((kh*dil_h) % stride_h, (kw*dil_w) % stride_w), channel ic, at offset
 * ((kh*dil_h) / stride_h)*wq + (kw*dil_w) / stride_w + q: contiguous in q across rows, so the
 * micro-kernel reads it in place (stride 1: one phase, the padded image itself). It computes
 * oh*wq wide columns (ow >= the output width are discarded) into [m_per_group][oh*wq], which is
 * then copied to the output. Scratch: the phase images, the floats that taps and tiles read
 * past them, then the wide output. */
typedef struct IrConvWide {
  int64_t hq, wq;        /* one phase plane: ceil(padded size / stride) */
  int64_t plane;         /* hq * wq */
  int64_t image_floats;  /* stride_h*stride_w*c_per_group*plane + what is read past it */
  int64_t wide_cols;     /* oh * wq */
  int64_t scratch_bytes; /* (image_floats + m_per_group * wide_cols) floats */
} IrConvWide;
void ir_conv_wide(const IrConvParams *p, int64_t tile_cols, IrConvWide *w);
/* Offset in the phase images of tap k = (ic*kh + y)*kw + x, for k < c_per_group*kh*kw. */
int64_t ir_conv_wide_tap(const IrConvParams *p, const IrConvWide *w, int64_t k);

/* Winograd F(2x2, 3x3) (IR_KERNEL_CONV_WINOGRAD, docs/kernels.md) for a 3x3 Conv with stride 1,
 * dilation 1 and one group: each 2x2 output tile is A^T [(G g G^T) . (B^T d B)] A from the 4x4
 * input patch d, 16 products per tile instead of 36. Tiles go in blocks of `rows` tile rows; per
 * block the 2*rows + 2 padded input rows it reads are copied, zero-padded, into an image whose
 * rows are stored deinterleaved (the even padded columns, then the odd ones, half = tw + 1
 * each) so that every transform reads contiguous vectors; then V[16][c][cols] (transformed
 * input), then per block of mb output channels 16 products
 * M[xi][mb][cols] = U[xi][mb][c] x V[xi][c][cols] (U: the transformed weights, packed at compile
 * time) and their output transform. Scratch: image, V (+ the tile width read past it), M. A
 * plane of V or M whose size is a multiple of 2 KiB gets one 64-byte line more, so that the
 * transforms' 16 streams (one per xi) fall in different sets of the L1 cache. */
typedef struct IrConvWinograd {
  int64_t th, tw;        /* output tiles: ceil(oh / 2), ceil(ow / 2) */
  int64_t half;          /* the length of each half of an image row (tw + 1) */
  int64_t rows, cols;    /* tile rows per block; tiles per block (rows * tw) */
  int64_t mb;            /* output channels per block of products (divides m) */
  int64_t image_floats;  /* c * (2*rows + 2) * 2*half */
  int64_t v_stride;      /* floats from V[xi] to V[xi + 1]: c * cols, padded (below) */
  int64_t m_stride;      /* floats from M[xi] to M[xi + 1]: mb * cols, padded (below) */
  int64_t v_floats;      /* 16 * v_stride + tile_cols */
  int64_t scratch_bytes; /* (image + V + 16 * m_stride) floats */
} IrConvWinograd;
bool ir_conv_winograd_applies(const IrConvParams *p);
/* The geometry with the most tile rows per block whose scratch fits budget_bytes (at least
 * one; with one, the fewest blocks of output channels that fit); a node's scratch_bytes as the
 * budget gives back the blocks codegen must use. */
void ir_conv_winograd(const IrConvParams *p, int64_t tile_cols, int64_t budget_bytes,
                      IrConvWinograd *w);
/* The scratch bytes of blocks of `rows` tile rows and `mb` output channels. */
int64_t ir_conv_winograd_bytes(const IrConvParams *p, int64_t tile_cols, int64_t rows, int64_t mb);

/* ConvTranspose as stride_h*stride_w sub-pixel convolutions (IR_KERNEL_CONVT_SUBPIXEL,
 * docs/kernels.md), one group, dilation 1, kernel at least the stride: output row oy with
 * oy + pad_t = q*stride_h + ry gets taps ky = ry + t*stride_h from input row q - t, so each
 * phase (ry, rx) is a stride-1 convolution of the input with the sub-kernel of those taps, its
 * output rows q in [qy0[ry], qy0[ry] + ny[ry]). The input is copied once, zero-padded, into an
 * image covering every row and column any phase reads (rows iy0 .. iy0 + hp - 1 of the input,
 * columns ix0 .. ix0 + wp - 1); each phase is a product over K = c * taps into wide rows of wp
 * columns (as conv-padded-wide-gemm) whose first nx[rx] columns are output pixels; the
 * stride_w column phases of one row phase are then interleaved into the output rows. Every
 * output is written once: no scatter of sums. Scratch: the image, what tiles read past it,
 * then stride_w wide outputs of m * max(ny) * wp floats. */
#define IR_SUBPIXEL_MAX_STRIDE 4
typedef struct IrConvSubpixel {
  int64_t th, tw;   /* taps of the largest phase: ceil(kh / stride_h), ceil(kw / stride_w) */
  int64_t iy0, ix0; /* input row / column of the image's first row / column (<= 0 pads) */
  int64_t hp, wp;   /* image rows and columns */
  int64_t qy0[IR_SUBPIXEL_MAX_STRIDE], ny[IR_SUBPIXEL_MAX_STRIDE]; /* per row phase */
  int64_t qx0[IR_SUBPIXEL_MAX_STRIDE], nx[IR_SUBPIXEL_MAX_STRIDE]; /* per column phase */
  int64_t image_floats;  /* c * hp * wp + wp + tile_cols (tiles read past the image) */
  int64_t wide_floats;   /* one column phase's wide output: m * max(ny) * wp */
  int64_t scratch_bytes; /* (image_floats + stride_w * wide_floats) floats */
  int64_t macs;          /* multiply-adds of all the phases' products (wide columns included) */
} IrConvSubpixel;
/* False where the form does not apply (groups, dilation, a kernel smaller than the stride, a
 * stride above IR_SUBPIXEL_MAX_STRIDE, an output with fewer rows or columns than the stride). */
bool ir_conv_subpixel(const IrConvParams *p, int64_t tile_cols, IrConvSubpixel *s);
/* Taps of row phase r (column phase: kw, stride_w): ceil((k - r) / stride). */
static inline int64_t ir_subpixel_taps(int64_t k, int64_t stride, int64_t r) {
  return (k - r + stride - 1) / stride;
}

#endif
