/* Kernel choice: which kernel computes each node and how much workspace scratch it needs
 * (docs/kernels.md). Runs at every -O level just before the memory plan, which places the
 * scratch. The choice depends on shapes only; the register tile is codegen's, sized to the
 * target's vectors, and fits any choice made here. */
#include "conv_params.h"
#include "ir_util.h"
#include "pass.h"
#include "quant.h"
#include "sparsity.h"

static bool all_f32(const IrNode *n) {
  for (int i = 0; i < n->n_inputs; i++)
    if (n->inputs[i] && n->inputs[i]->dtype != IR_F32) return false;
  for (int j = 0; j < n->n_outputs; j++)
    if (n->outputs[j] && n->outputs[j]->dtype != IR_F32) return false;
  return true;
}

/* A product worth a register tile: enough output columns to fill vectors, or enough rows to
 * share each loaded column. Narrow products (a few outputs from a long reduction) stay dot
 * products over the reduction axis, which vectorize along K instead. */
static bool gemm_pays(int64_t M, int64_t N) { return N >= 16 || (M >= 4 && N >= 4); }

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

static bool is_convt_kernel(int k) {
  return k == IR_KERNEL_CONVT_GEMM || k == IR_KERNEL_CONVT_SUBPIXEL;
}

/* Winograd's block of tile rows on hosts (docs/kernels.md): the fewest tile rows whose tiles
 * fill WINO_MIN_COLS columns, where that block's scratch stays near L1 (WINO_SMALL_BYTES),
 * with one tile row the products in blocks of output channels down to WINO_L1_BYTES; false
 * where no such block exists (the caller then takes the largest block within the panel
 * budget). Measured, 3x3 stride 1 on AVX-512 (interleaved --repeat runs, medians): 16->16 at
 * 32x32 one tile row (16 tiles) in blocks of 8 channels, 33 KiB, 26.7 us, against 29.1 us
 * unblocked (42 KiB), 29.9 us with two tile rows, 35-45 us with six (227 KiB) and 35.5 us for
 * the wide form; 16->32 at 16x16 two tile rows (16 tiles, 55 KiB) 14.7 us against one (8
 * tiles: half-empty vectors) 21.5, eight 18.1 and wide 17.1; 32->32 at 16x16, where 16 tiles
 * take 80 KiB, larger blocks win (six tile rows 25.5 us, two 28.5). Each block a codegen
 * call of ir_conv_winograd with the node's scratch finds again. */
#define WINO_MIN_COLS 16
#define WINO_SMALL_BYTES (64 * 1024)
#define WINO_L1_BYTES (32 * 1024)
static bool winograd_small_block(const IrConvParams *p, int tile_cols, IrConvWinograd *w) {
  int64_t tw = (p->ow + 1) / 2, th = (p->oh + 1) / 2;
  int64_t rows = (WINO_MIN_COLS + tw - 1) / tw;
  if (rows > th) return false;
  int64_t bytes = ir_conv_winograd_bytes(p, tile_cols, rows, p->m);
  if (bytes > WINO_SMALL_BYTES) return false;
  ir_conv_winograd(p, tile_cols, rows == 1 && bytes > WINO_L1_BYTES ? WINO_L1_BYTES : bytes, w);
  return true;
}

static void plan_conv(IrNode *n, const PassOptions *o) {
  int force = o && !is_convt_kernel(o->conv_kernel) ? o->conv_kernel : 0;
  int64_t panel_bytes = o && o->conv_panel_bytes > 0 ? o->conv_panel_bytes : IR_CONV_PANEL_BYTES;
  int tile_cols = o && o->tile_cols_max > 0 ? o->tile_cols_max : IR_TILE_COLS_MAX;
  IrConvParams p;
  if (force == IR_KERNEL_COUNT) return;
  if (!ir_conv_params(n, &p, NULL) || n->inputs[1]->kind != IR_VALUE_CONST) return;
  if (p.m_per_group < 2) {
    /* Depthwise: one output channel per group has no rows to share a load over, so no im2col;
     * the wide form still gives each channel's taps as full vectors of contiguous pixels (a
     * 1-row tile, the taps broadcast), instead of the loop nest's per-row tap passes. */
    IrConvWide w;
    ir_conv_wide(&p, tile_cols, &w);
    bool taps = p.kh * p.kw > 1, fits = w.scratch_bytes <= 4 * panel_bytes;
    if ((force == 0 && taps && fits) || force == IR_KERNEL_CONV_WIDE) {
      n->kernel = IR_KERNEL_CONV_WIDE;
      n->tile_cols_max = tile_cols;
      n->scratch_bytes = w.scratch_bytes;
    }
    return;
  }
  bool pointwise = p.kh == 1 && p.kw == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                   !(p.pad_t | p.pad_l | p.pad_b | p.pad_r);
  if (pointwise) {
    n->kernel = IR_KERNEL_CONV_1X1;
    return;
  }
  n->kernel = IR_KERNEL_CONV_GEMM;
  n->tile_cols_max = tile_cols;
  n->scratch_bytes = ir_conv_panel_scratch_bytes(&p, panel_bytes, tile_cols);
  /* The phase images read in place instead of im2col where that costs less. Cost, in units
   * of one float moved (docs/kernels.md; fitted to per-layer --profile runs of --conv=im2col
   * and --conv=wide on the conv examples): im2col moves K*P floats, twice as dear with a stride
   * (scalar strided reads); the wide form moves the phase images and the wide output once;
   * both then do Mpg*K*N multiply-adds at ~16 per unit, N rounded up to a 32-column tile. */
  IrConvWide w;
  ir_conv_wide(&p, tile_cols, &w);
  int64_t K = p.c_per_group * p.kh * p.kw, P = p.oh * p.ow;
  /* columns go in whole vectors (scalar cores: the 32 fitted on them). Rounded to 32 on
   * AVX-512 too, ResNet-8's stride-2 32->64 layer (16x16 -> 8x8: 64 columns, 72 wide) took
   * im2col at 26.7 us against the wide form's 22.9 (notes/issue9s.md) */
  int64_t cols_unit = o && o->vec_lanes > 1 ? o->vec_lanes : 32;
  double fma = (double)p.m_per_group * (double)K / 16.0;
  double strided = p.stride_w > 1 ? 2.0 : 1.0;
  double im2col = strided * (double)K * (double)P + fma * (double)round_up(P, cols_unit);
  double wide = (double)w.image_floats + (double)p.m_per_group * (double)w.wide_cols +
                fma * (double)round_up(w.wide_cols, cols_unit);
  if (force ? force == IR_KERNEL_CONV_WIDE
            : wide < im2col &&
                  w.scratch_bytes <= (panel_bytes < IR_CONV_PANEL_BYTES ? 4 : 32) * panel_bytes) {
    n->kernel = IR_KERNEL_CONV_WIDE;
    n->scratch_bytes = w.scratch_bytes;
  }
  /* Winograd F(2x2, 3x3) does 16 multiplies per 2x2 tile instead of 36, for transforms that
   * only add; its products reduce over the input channels alone (K = c, not 9c), and the
   * transforms cost per channel, so it pays where both channel counts are large, or, with
   * 16-31 channels, where a block small enough to stay in L1 still fills whole vectors
   * (winograd_small_block). Measured (callgrind on x86-64-v3 code; --profile on AVX-512, quiet
   * runs): 3x3 32->64 at 16x16 2.0x fewer instructions, 72 -> 53 us; 64->64 at 8x8 1.9x,
   * 34 -> 30 us; 32->32 at 16x16 39 -> 37 us; 3->32 (K = 3) 2.3x slower. Hosts only: the
   * scratch holds the whole padded input and blocks of transformed tiles (a microcontroller's
   * RAM is better spent elsewhere). */
  if (!ir_conv_winograd_applies(&p)) return;
  IrConvWinograd wg;
  bool host = panel_bytes >= IR_CONV_PANEL_BYTES;
  bool small = host && winograd_small_block(&p, tile_cols, &wg);
  if (!small) ir_conv_winograd(&p, tile_cols, panel_bytes, &wg);
  bool pays = ((p.c >= 32 && p.m >= 32) || (small && p.c >= 16 && p.m >= 16)) &&
              wg.th * wg.tw >= 16 && wg.scratch_bytes <= panel_bytes;
  /* (bare metal: winograd_under_peak below) */
  if (force ? force == IR_KERNEL_CONV_WINOGRAD : host && pays) {
    n->kernel = IR_KERNEL_CONV_WINOGRAD;
    n->scratch_bytes = wg.scratch_bytes;
  }
}

/* A Conv the layout pass gave NCHW{c}c values (codegen/kernels/cg_nchwc.c): the scratch holds
 * the zero-padded blocked input image where the conv pads. */
static void plan_conv_nchwc(IrNode *n) {
  IrConvParams p;
  if (!ir_conv_params(n, &p, NULL)) return;
  n->kernel = IR_KERNEL_CONV_NCHWC;
  if (p.pad_t | p.pad_l | p.pad_b | p.pad_r)
    n->scratch_bytes =
        p.c * (p.h + p.pad_t + p.pad_b) * (p.w + p.pad_l + p.pad_r) * (int64_t)sizeof(float);
}

/* ConvTranspose (one group): cols[(m, kh, kw)][ih*w + iw] = sum_c W[c][m][kh][kw] x[c][ih][iw]
 * for every tap at once, a product for the micro-kernel, into the scratch; then each column is
 * added where its tap lands in the output (col2im). The loop nest it replaces multiplied in
 * that scattered order. Where it applies and costs less, the sub-pixel form (stride^2 stride-1
 * convolutions on the padded input, each output written once). Cost in multiply-adds, the
 * products' columns rounded up to whole vectors: col2im's product plus S per scattered sum
 * (M*kh*kw*H*W of them; S = 32 on vector hosts, fitted to --profile runs of six DCGAN-style
 * layers, 4x4 stride 2, 4x4 to 64x64 inputs; 2 on scalar cores), against the phases' products
 * over their wide rows (which also cover padding: a 4x4 input's phases compute 2x the useful
 * columns, a 1x1 input's 28x). */
static bool subpixel_pays(const IrConvParams *p, const IrConvSubpixel *s, const PassOptions *o,
                          bool int8) {
  int64_t L = o && o->vec_lanes > 1 ? o->vec_lanes : 1, taps = p->kh * p->kw;
  /* int8 (plan_qconv_transpose): a multiply-add costs a quarter as much (dot4) and the
   * scattered sum more (an int32 plane, its zero-point correction): S = 384 on vector hosts
   * and 32 on scalar cores, fitted to dcgan_generator's four layers forced each way (host
   * --profile, AVX-512 VNNI; Cortex-M4 instructions under QEMU, bench/m4_profile.sh) */
  double S = L > 1 ? (int8 ? 384.0 : 32.0) : (int8 ? 32.0 : 2.0);
  /* the int8 col2im's product is taken transposed below 16 input pixels on vector targets:
   * its vectors then hold the (m, tap) rows */
  double prod = int8 && L > 1 && p->h * p->w < 16
                    ? (double)(p->h * p->w) * (double)p->c * (double)round_up(p->m * taps, L)
                    : (double)(p->m * taps) * (double)p->c * (double)round_up(p->h * p->w, L);
  double col2im = prod + S * (double)(p->m * taps * p->h * p->w);
  double sub = 0;
  for (int64_t ry = 0; ry < p->stride_h; ry++)
    for (int64_t rx = 0; rx < p->stride_w; rx++)
      sub += (double)(p->m * p->c * ir_subpixel_taps(p->kh, p->stride_h, ry) *
                      ir_subpixel_taps(p->kw, p->stride_w, rx)) *
             (double)round_up(s->ny[ry] * s->wp, L);
  return sub < col2im;
}

static void plan_conv_transpose(IrNode *n, const PassOptions *o) {
  int force = o && (is_convt_kernel(o->conv_kernel) || o->conv_kernel == IR_KERNEL_COUNT)
                  ? o->conv_kernel
                  : 0;
  IrConvParams p;
  if (force == IR_KERNEL_COUNT) return;
  if (!ir_conv_params(n, &p, NULL) || n->inputs[1]->kind != IR_VALUE_CONST || p.group != 1) return;
  n->kernel = IR_KERNEL_CONVT_GEMM;
  n->scratch_bytes = p.m * p.kh * p.kw * p.h * p.w * (int64_t)sizeof(float);
  IrConvSubpixel s;
  if (!ir_conv_subpixel(&p, IR_TILE_COLS_MAX, &s)) return;
  if (force ? force == IR_KERNEL_CONVT_SUBPIXEL : subpixel_pays(&p, &s, o, false)) {
    n->kernel = IR_KERNEL_CONVT_SUBPIXEL;
    n->scratch_bytes = s.scratch_bytes;
  }
}

/* QLinearConvTranspose (cg_quant.c): the int8 col2im form (ir_qconvt_gemm), or the sub-pixel
 * form (ir_qconvt_subpixel) where it applies and plan_conv_transpose's cost model prefers it,
 * with int8's weights (subpixel_pays; --conv=col2im / subpixel force either, wherever it
 * applies). The Arm DSP tile copies each phase's operand into V; the others read the padded
 * image in place. */
static void plan_qconv_transpose(IrNode *n, const PassOptions *o) {
  IrConvParams p;
  if (!ir_q_conv_params(n, &p, NULL)) return;
  int tile_cols = o && o->tile_cols_max > 0 ? o->tile_cols_max : IR_TILE_COLS_MAX;
  IrQConvtGemm q;
  ir_qconvt_gemm(&p, tile_cols, &q);
  n->kernel = IR_KERNEL_CONVT_GEMM; /* the int8 GEMM of every tap, then col2im */
  bool vec = o && o->vec_lanes > 1;
  n->scratch_bytes = vec && p.h * p.w < 16 ? q.t_bytes : q.bytes; /* transposed (cg_quant.c) */
  int force = o && is_convt_kernel(o->conv_kernel) ? o->conv_kernel : 0;
  IrQConvtSub sub;
  if (force == IR_KERNEL_CONVT_GEMM || !ir_qconvt_subpixel(&p, tile_cols, o && o->arm_dsp, &sub))
    return;
  if (force == IR_KERNEL_CONVT_SUBPIXEL || subpixel_pays(&p, &sub.s, o, true)) {
    n->kernel = IR_KERNEL_QCONVT_SUBPIXEL;
    n->scratch_bytes = sub.bytes;
  }
}

static void plan_gemm(IrNode *n) {
  const IrValue *A = n->inputs[0], *B = n->inputs[1];
  if (A->rank != 2 || B->rank != 2) return;
  bool ta = ir_attr_i(n, "transA") != 0, tb = ir_attr_i(n, "transB") != 0;
  /* a run-time B^T is not contiguous along N; its dot-product loops read both operands along K */
  if (tb && B->kind != IR_VALUE_CONST) return;
  if (gemm_pays(A->dims[ta ? 1 : 0], B->dims[tb ? 0 : 1])) n->kernel = IR_KERNEL_GEMM;
}

static void plan_matmul(IrNode *n) {
  const IrValue *A = n->inputs[0], *B = n->inputs[1];
  if (A->rank < 2 || B->rank < 2) return;
  if (gemm_pays(A->dims[A->rank - 2], B->dims[B->rank - 1])) n->kernel = IR_KERNEL_GEMM;
}

/* RNN/GRU/LSTM (codegen/cg_seq.c): the input projection of every step, the gate
 * pre-activations and the recurrent state live in the node's scratch, not on the stack of the
 * run function (issue 14): a microcontroller's stack is small and its size unknown to Kiln, the
 * workspace is planned and reported. */
static void plan_recurrent(IrNode *n, const PassOptions *o) {
  IrRecurrentScratch s;
  ir_recurrent_scratch(
      n, o && o->recurrent_proj_bytes > 0 ? o->recurrent_proj_bytes : IR_RECURRENT_PROJ_BYTES, &s);
  n->kernel = IR_KERNEL_RECURRENT;
  n->scratch_bytes = s.floats * (int64_t)sizeof(float);
}

/* KilnAttention (codegen/kernels/cg_attention.c): the output row's accumulator and the scores
 * of one block of keys. */
static void plan_attention(IrNode *n) {
  IrAttention a;
  if (!ir_attention_geometry(n, &a, NULL)) return;
  n->kernel = IR_KERNEL_ATTENTION;
  n->scratch_bytes = ir_attention_scratch_floats(&a) * (int64_t)sizeof(float);
}

/* Bare-metal targets: Winograd (1.5-2x fewer instructions per 3x3 conv on a Cortex-M4, its
 * scratch one block of tile rows plus the padded input) for each conv with 8+ channels each way
 * whose scratch fits under the workspace's existing peak, so that RAM does not grow; the
 * transformed weights take 16/9 of the flash of the 3x3 ones. */
static void winograd_under_peak(IrGraph *g, const PassOptions *o) {
  int64_t align = o->workspace_align > 0 ? o->workspace_align : 64, saved = g->workspace_size;
  int tile_cols = o->tile_cols_max > 0 ? o->tile_cols_max : IR_TILE_COLS_MAX;
  g->workspace_size = -1; /* the bound of the graph as it is, not of an earlier plan */
  int64_t peak = pass_memplan_lower_bound(g, align);
  for (int s = 0; s < g->n_nodes; s++) {
    IrNode *n = g->nodes[s];
    IrConvParams p;
    /* a sparse kernel (pass_plan_sparse) beat the other dense kernels on the zeros it skips;
     * it stays unless Winograd would cost less still */
    if (n->op != IR_OP_CONV || n->kernel == IR_KERNEL_DEFAULT ||
        (ir_kernel_is_sparse(n->kernel) && o->sparse_kernel) ||
        pass_sparse_beats(n, o, IR_KERNEL_CONV_WINOGRAD) || !ir_conv_params(n, &p, NULL) ||
        !ir_conv_winograd_applies(&p) || p.c < 8 || p.m < 8)
      continue;
    IrKernel kernel = n->kernel;
    int64_t scratch = n->scratch_bytes, tile = n->tile_cols_max;
    IrConvWinograd w;
    ir_conv_winograd(&p, tile_cols, o->conv_panel_bytes, &w);
    n->kernel = IR_KERNEL_CONV_WINOGRAD;
    n->scratch_bytes = w.scratch_bytes;
    if (pass_memplan_lower_bound(g, align) > peak) {
      n->kernel = kernel;
      n->scratch_bytes = scratch;
      n->tile_cols_max = tile;
    }
  }
  g->workspace_size = saved;
}

bool pass_choose_kernels(IrGraph *g, const PassOptions *o, IrDiag *d) {
  (void)d;
  for (int s = 0; s < g->n_nodes; s++) {
    IrNode *n = g->nodes[s];
    n->kernel = IR_KERNEL_DEFAULT;
    n->tile_cols_max = 0;
    n->scratch_bytes = 0;
    if (n->op == IR_OP_CONV_INTEGER) { /* cg_quant.c: the int8 conv GEMM, raw i32 sums */
      pass_plan_int8(n, o);
      continue;
    }
    if (n->op == IR_OP_QGEMM || n->op == IR_OP_QLINEAR_CONV) {
      pass_plan_int8(n, o); /* pass_quantize.c */
      pass_plan_sparse(n, o);
      continue;
    }
    if (n->op == IR_OP_MATMUL_INTEGER) { /* cg_quant.c: the int8 GEMM, raw i32 sums */
      n->kernel = IR_KERNEL_QGEMM_DOT4;
      /* scalar targets: room for the activations widened to i16 (Arm DSP) */
      n->scratch_bytes = ir_matmul_integer_scratch_bytes(n, o && o->vec_lanes == 1);
      continue;
    }
    if (n->op == IR_OP_QLINEAR_CONV_TRANSPOSE) {
      plan_qconv_transpose(n, o);
      continue;
    }
    bool recurrent = n->op == IR_OP_RNN || n->op == IR_OP_GRU || n->op == IR_OP_LSTM;
    if (recurrent) { /* f32, or int8 W and R (weight-only) */
      plan_recurrent(n, o);
      continue;
    }
    if (!all_f32(n)) continue;
    if (n->op == IR_OP_CONV && n->inputs[0]->layout_block > 0) { /* pass_layout.c */
      plan_conv_nchwc(n);
      continue;
    }
    switch (n->op) {
    case IR_OP_CONV: plan_conv(n, o); break;
    case IR_OP_GEMM: plan_gemm(n); break;
    case IR_OP_MATMUL: plan_matmul(n); break;
    case IR_OP_CONV_TRANSPOSE: plan_conv_transpose(n, o); break;
    case IR_OP_ATTENTION: plan_attention(n); break;
    default: break;
    }
    pass_plan_sparse(n, o);
  }
  if (o && o->conv_panel_bytes > 0 && o->conv_panel_bytes < IR_CONV_PANEL_BYTES && !o->conv_kernel)
    winograd_under_peak(g, o);
  return false; /* the graph itself is unchanged */
}
