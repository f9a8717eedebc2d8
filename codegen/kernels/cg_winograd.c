/* Winograd F(2x2, 3x3) convolution (IR_KERNEL_CONV_WINOGRAD, docs/kernels.md): a 3x3 stride-1
 * Conv as 16 tiled products of transformed weights and transformed input tiles, 16 multiplies
 * per 2x2 output tile instead of 36. The transforms (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016):
 *   U = G g G^T      G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]     (compile time)
 *   V = B^T d B      B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]       (input 4x4 patch d)
 *   Y = A^T M A      A^T = [1 1 1 0; 0 1 -1 -1]                         (M = sum_c U . V)
 * B^T and A^T hold only 0 and +-1, G only 0, +-1/2 and 1: the transforms add and subtract, and
 * U is exact up to one rounding of each sum. */
#include <stdio.h>
#include <stdlib.h>

#include "cg_kernels.h"

/* U[xi][m][c] for xi = 4*i + j, from weights w[m][c][3][3], in double then rounded once. */
static float *winograd_weights(const IrConvParams *p, const float *w) {
  static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  int64_t M = p->m, C = p->c;
  float *u = malloc(sizeof(float) * (size_t)(16 * M * C));
  if (!u) abort();
  for (int64_t m = 0; m < M; m++)
    for (int64_t ch = 0; ch < C; ch++) {
      const float *g = w + (m * C + ch) * 9;
      double gg[4][3]; /* G g */
      for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++)
          gg[i][k] = G[i][0] * g[0 * 3 + k] + G[i][1] * g[1 * 3 + k] + G[i][2] * g[2 * 3 + k];
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
          u[((i * 4 + j) * M + m) * C + ch] =
              (float)(gg[i][0] * G[j][0] + gg[i][1] * G[j][1] + gg[i][2] * G[j][2]);
    }
  return u;
}

/* 1-D transforms of four values: B^T x and (A^T x, first two). */
static void bt4(Cg *c, LLVMValueRef x[4], LLVMValueRef y[4]) {
  LLVMBuilderRef b = c->b;
  y[0] = LLVMBuildFSub(b, x[0], x[2], "");
  y[1] = LLVMBuildFAdd(b, x[1], x[2], "");
  y[2] = LLVMBuildFSub(b, x[2], x[1], "");
  y[3] = LLVMBuildFSub(b, x[1], x[3], "");
}
static void at4(Cg *c, LLVMValueRef x[4], LLVMValueRef y[2]) {
  LLVMBuilderRef b = c->b;
  y[0] = LLVMBuildFAdd(b, LLVMBuildFAdd(b, x[0], x[1], ""), x[2], "");
  y[1] = LLVMBuildFSub(b, LLVMBuildFSub(b, x[1], x[2], ""), x[3], "");
}

/* The padded, deinterleaved input rows of one block of tile rows starting at tile row th0:
 * image row r (r < 2*rows + 2) is padded row 2*th0 + r; its padded column q of channel ch at
 * image[(ch*(2*rows + 2) + r)*2*half + (q & 1)*half + q/2]. Strided copies stay scalar moves (no
 * gathers). Only the block's rows, so the scratch stays small (microcontrollers) and in L1. */
static void copy_image(Cg *c, const IrConvParams *p, const IrConvWinograd *w, LLVMValueRef x,
                       LLVMValueRef image, LLVMValueRef th0, int64_t rows) {
  int64_t brows = 2 * rows + 2, rowlen = 2 * w->half;
  /* input row ih = 2*th0 + r - pad_t inside [0, h) */
  LLVMValueRef ih0 = cg_addc(c, cg_mulc(c, th0, 2), -p->pad_t);
  LLVMValueRef r_lo = cg_smax(c, cg_sub(c, cg_idx(c, 0), ih0), cg_idx(c, 0));
  LLVMValueRef r_hi = cg_smin(c, cg_sub(c, cg_idx(c, p->h), ih0), cg_idx(c, brows));
  /* zeroed: only what the copy leaves (a block of one tile row of 16 channels at 32x32 is 8.7
   * KB, 16 blocks a call): the rows outside the input, then each copied row's padding columns */
  LLVMValueRef z_top = cg_smin(c, r_lo, cg_idx(c, brows)), z_bot = cg_smax(c, r_hi, z_top);
  CgLoop lc, lr;
  LLVMValueRef ch = cg_for(c, &lc, p->c);
  LLVMValueRef plane = cg_gep(c, c->t_f32, image, cg_mulc(c, ch, brows * rowlen));
  cg_zero_floats(c, plane, cg_idx(c, 0), cg_mulc(c, z_top, rowlen));
  cg_zero_floats(c, plane, cg_mulc(c, z_bot, rowlen), cg_idx(c, brows * rowlen));
  LLVMValueRef r = cg_loop_begin(c, &lr, r_lo, r_hi);
  LLVMValueRef src = cg_gep(
      c, c->t_f32, x, cg_add(c, cg_mulc(c, ch, p->h * p->w), cg_mulc(c, cg_add(c, ih0, r), p->w)));
  LLVMValueRef dst =
      cg_gep(c, c->t_f32, image, cg_mulc(c, cg_add(c, cg_mulc(c, ch, brows), r), 2 * w->half));
  /* input columns iw of each parity (even ones first), their padded column q = iw + pad_l
   * below 2*half, land in half (q & 1) at q/2: one deinterleaving copy */
  LLVMValueRef half_dst[2];
  int64_t count[2] = {0, 0};
  for (int64_t iw0 = 0; iw0 < 2; iw0++) {
    while (iw0 + 2 * count[iw0] < p->w && iw0 + 2 * count[iw0] + p->pad_l < 2 * w->half)
      count[iw0]++;
    int64_t q0 = iw0 + p->pad_l;
    half_dst[iw0] = cg_gep(c, c->t_f32, dst, cg_idx(c, (q0 & 1) * w->half + q0 / 2));
  }
  cg_copy_deinterleave(c, src, half_dst[0], half_dst[1], count[0], count[1]);
  /* each half's entries before and after its copied run (pads, and the column tiles read past
   * an odd width) */
  for (int64_t ph = 0; ph < 2; ph++) {
    int64_t lo = w->half, hi = w->half; /* the copied run [lo, hi) of this half */
    for (int64_t iw0 = 0; iw0 < 2; iw0++) {
      int64_t q0 = iw0 + p->pad_l;
      if ((q0 & 1) == ph && count[iw0] > 0) lo = q0 / 2, hi = q0 / 2 + count[iw0];
    }
    LLVMValueRef hrow = cg_gep(c, c->t_f32, dst, cg_idx(c, ph * w->half));
    cg_zero_floats(c, hrow, cg_idx(c, 0), cg_idx(c, lo));
    cg_zero_floats(c, hrow, cg_idx(c, hi), cg_idx(c, w->half));
  }
  cg_loop_end(c, &lr, NULL, NULL);
  cg_loop_end(c, &lc, NULL, NULL);
}

/* One block of `rows` tile rows starting at tile row th0: transform, 16 products, output
 * transform with the bias and the fused epilogue. */
static void winograd_block(Cg *c, const IrNode *n, const IrConvParams *p, const IrConvWinograd *w,
                           LLVMValueRef *in, LLVMValueRef x, LLVMValueRef image, LLVMValueRef out,
                           LLVMValueRef obase, LLVMValueRef th0, int64_t rows, CgVecInfo vec,
                           CgTile tile, LLVMValueRef upack) {
  int64_t C = p->c, M = p->m, TW = w->tw, cols = rows * TW, rowlen = 2 * w->half;
  copy_image(c, p, w, x, image, th0, rows);
  LLVMValueRef V = cg_gep(c, c->t_f32, c->scratch, cg_idx(c, w->image_floats));
  LLVMValueRef Mx = cg_gep(c, c->t_f32, V, cg_idx(c, w->v_floats));
  /* input transform: V[xi][ch][r*TW + t] */
  CgLoop lc, lr, lt;
  LLVMValueRef ch = cg_for(c, &lc, C);
  LLVMValueRef r = cg_for(c, &lr, rows);
  LLVMValueRef prow =
      cg_gep(c, c->t_f32, image,
             cg_mulc(c, cg_add(c, cg_mulc(c, ch, 2 * rows + 2), cg_mulc(c, r, 2)), rowlen));
  LLVMValueRef vcol = cg_add(c, cg_mulc(c, ch, cols), cg_mulc(c, r, TW));
  LLVMValueRef t = cg_for(c, &lt, TW);
  /* the tile loops are vectorized along t by LLVM at either level; -O3 must not unroll a short
   * one (8x8 image: 4 tiles) first, or the SLP vectorizer packs the copies into gathers */
  lt.no_unroll = true;
  LLVMValueRef tr[4][4];
  for (int i = 0; i < 4; i++) {
    LLVMValueRef row = cg_gep(c, c->t_f32, prow, cg_idx(c, i * rowlen));
    LLVMValueRef d[4] = {cg_load(c, row, t), cg_load(c, row, cg_addc(c, t, w->half)),
                         cg_load(c, row, cg_addc(c, t, 1)),
                         cg_load(c, row, cg_addc(c, t, w->half + 1))};
    bt4(c, d, tr[i]);
  }
  for (int j = 0; j < 4; j++) {
    LLVMValueRef col[4] = {tr[0][j], tr[1][j], tr[2][j], tr[3][j]}, v[4];
    bt4(c, col, v);
    for (int i = 0; i < 4; i++)
      cg_store(c, v[i], V, cg_add(c, cg_addc(c, vcol, (int64_t)(i * 4 + j) * w->v_stride), t));
  }
  cg_loop_end(c, &lt, NULL, NULL);
  cg_loop_end(c, &lr, NULL, NULL);
  cg_loop_end(c, &lc, NULL, NULL);

  /* per block of MB output channels: the 16 products M[xi] = U[xi] x V[xi], one micro-kernel in
   * a loop (code size); U's blocks are [xi][block][MB][C] */
  int64_t MB = w->mb, nmb = M / MB;
  CgLoop lmb, lx;
  LLVMValueRef mbi = cg_for(c, &lmb, nmb);
  lmb.keep = true;
  LLVMValueRef xi = cg_for(c, &lx, 16);
  lx.keep = true;
  CgGemmA a = {cg_gep(c, c->t_f32, upack, cg_mulc(c, cg_add(c, cg_mulc(c, xi, nmb), mbi), MB * C)),
               0, 0, true, NULL};
  CgGemmB b = {
      .base = cg_gep(c, c->t_f32, V, cg_mulc(c, xi, w->v_stride)), .s_k = cols, .padded = true};
  CgGemmC cc = {.base = cg_gep(c, c->t_f32, Mx, cg_mulc(c, xi, w->m_stride)), .ldc = cols};
  cg_gemm_emit(c, vec, tile, MB, cols, C, &a, &b, &cc);
  cg_loop_end(c, &lx, NULL, NULL);

  /* output transform: tile (th0 + r, t) of channel m gives output rows 2(th0 + r) + {0, 1} and
   * columns 2t + {0, 1}; an odd height or width drops the last row or column */
  CgLoop lm, lr2, lt2;
  LLVMValueRef mq = cg_for(c, &lm, MB), m = cg_add(c, cg_mulc(c, mbi, MB), mq);
  LLVMValueRef r2 = cg_for(c, &lr2, rows);
  LLVMValueRef oh = cg_mulc(c, cg_add(c, th0, r2), 2);
  LLVMValueRef mcol = cg_add(c, cg_mulc(c, mq, cols), cg_mulc(c, r2, TW));
  LLVMValueRef orow0 =
      cg_add(c, cg_add(c, obase, cg_mulc(c, m, p->oh * p->ow)), cg_mulc(c, oh, p->ow));
  /* an odd height: the last tile row has one output row (a run-time test in that case only) */
  LLVMValueRef bias = p->has_bias ? cg_load(c, in[2], m) : NULL;
  LLVMValueRef second_row =
      p->oh % 2 ? LLVMBuildICmp(c->b, LLVMIntSLT, cg_addc(c, oh, 1), cg_idx(c, p->oh), "") : NULL;
  for (int part = 0; part < 2; part++) {
    /* part 0: the tiles with both columns; part 1: an odd width's last tile, one column */
    int64_t lo = part == 0 ? 0 : p->ow / 2, hi = part == 0 ? p->ow / 2 : TW, ncol = 2 - part;
    if (lo >= hi) continue;
    LLVMValueRef t2 = cg_loop_begin(c, &lt2, cg_idx(c, lo), cg_idx(c, hi));
    lt2.no_unroll = true; /* as lt */
    LLVMValueRef s[4][2];
    for (int i = 0; i < 4; i++) {
      LLVMValueRef x[4];
      for (int j = 0; j < 4; j++)
        x[j] = cg_load(c, Mx, cg_add(c, cg_addc(c, mcol, (int64_t)(i * 4 + j) * w->m_stride), t2));
      at4(c, x, s[i]);
    }
    LLVMValueRef y[2][2];
    for (int j = 0; j < 2; j++) {
      LLVMValueRef col[4] = {s[0][j], s[1][j], s[2][j], s[3][j]}, yy[2];
      at4(c, col, yy);
      y[0][j] = yy[0];
      y[1][j] = yy[1];
    }
    for (int i = 0; i < 2; i++) {
      CgIf f;
      if (i == 1 && second_row) cg_if_begin(c, &f, second_row);
      for (int j = 0; j < ncol; j++) {
        LLVMValueRef at = cg_add(c, cg_addc(c, orow0, (int64_t)i * p->ow + j), cg_mulc(c, t2, 2));
        LLVMValueRef v = bias ? LLVMBuildFAdd(c->b, y[i][j], bias, "") : y[i][j];
        cg_store(c, cg_epilogue(c, n, in, v, at), out, at);
      }
      if (i == 1 && second_row) {
        cg_if_else(c, &f);
        cg_if_end(c, &f);
      }
    }
    cg_loop_end(c, &lt2, NULL, NULL);
  }
  cg_loop_end(c, &lr2, NULL, NULL);
  cg_loop_end(c, &lm, NULL, NULL);
  cg_loop_end(c, &lmb, NULL, NULL);
}

bool cg_winograd_conv(Cg *c, const IrNode *n, const IrConvParams *p, LLVMValueRef *in,
                      LLVMValueRef out) {
  IrConvWinograd w;
  int64_t tile_cols = n->tile_cols_max > 0 ? n->tile_cols_max : IR_TILE_COLS_MAX;
  ir_conv_winograd(p, tile_cols, n->scratch_bytes, &w);
  CgVecInfo vec = cg_vec_info(c);
  CgTile tile = cg_gemm_tile(vec, w.mb, w.cols, p->c, (int)tile_cols);
  float *u = winograd_weights(p, n->inputs[1]->data);
  LLVMValueRef upack = cg_node_derived(
      c, n->inputs[1],
      cg_pack_a(c, u, 16 * (p->m / w.mb), w.mb, p->c, p->c, 1, tile.mr, "winopack"));
  free(u);
  int64_t full = w.th / w.rows, tail = w.th % w.rows;
  CgLoop ln, lb;
  LLVMValueRef ni = cg_for(c, &ln, p->n);
  LLVMValueRef x = cg_gep(c, c->t_f32, in[0], cg_mulc(c, ni, p->c * p->h * p->w));
  LLVMValueRef obase = cg_mulc(c, ni, p->m * p->oh * p->ow);
  LLVMValueRef blk = cg_for(c, &lb, full);
  lb.keep = true;
  winograd_block(c, n, p, &w, in, x, c->scratch, out, obase, cg_mulc(c, blk, w.rows), w.rows, vec,
                 tile, upack);
  cg_loop_end(c, &lb, NULL, NULL);
  if (tail)
    winograd_block(c, n, p, &w, in, x, c->scratch, out, obase, cg_idx(c, full * w.rows), tail, vec,
                   tile, upack);
  cg_loop_end(c, &ln, NULL, NULL);
  return true;
}
