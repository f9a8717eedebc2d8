/* Winograd F(m x m, 3x3) convolution, m = 2 (IR_KERNEL_CONV_WINOGRAD) or 4
 * (IR_KERNEL_CONV_WINOGRAD4; docs/kernels.md): a 3x3 stride-1 Conv as a^2 tiled products
 * (a = m + 2) of transformed weights and transformed input tiles, a^2 multiplies per m x m
 * output tile instead of 9 m^2 (F(2x2): 16 for 36; F(4x4): 36 for 144). The transforms
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016):
 *   U = G g G^T (compile time, in double), V = B^T d B (input a x a patch d), Y = A^T M A
 *   (M = sum_c U . V). F(2x2):
 *     G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *     B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]     A^T = [1 1 1 0; 0 1 -1 -1]
 *   F(4x4) (points 0, +-1, +-2):
 *     G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *     B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
 *            0 4 0 -5 0 1]
 *     A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * F(2x2)'s B^T and A^T hold only 0 and +-1; F(4x4)'s multiply by 2, 4, 5 and 8 (exact), but
 * their sums grow the rounding error a few times. */
#include <stdio.h>
#include <stdlib.h>

#include "cg_kernels.h"

#define WINO_MAX_A 6

/* U[xi][m][c] for xi = a*i + j, from weights w[m][c][3][3], in double then rounded once. */
static float *winograd_weights(const IrConvParams *p, int64_t tile, const float *w) {
  static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  static const double G4[6][3] = {{0.25, 0, 0},
                                  {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                  {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                  {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                  {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                  {0, 0, 1}};
  const double(*G)[3] = tile == 4 ? G4 : G2;
  int64_t A = tile + 2, M = p->m, C = p->c;
  float *u = malloc(sizeof(float) * (size_t)(A * A * M * C));
  if (!u) abort();
  for (int64_t m = 0; m < M; m++)
    for (int64_t ch = 0; ch < C; ch++) {
      const float *g = w + (m * C + ch) * 9;
      double gg[WINO_MAX_A][3]; /* G g */
      for (int64_t i = 0; i < A; i++)
        for (int k = 0; k < 3; k++)
          gg[i][k] = G[i][0] * g[0 * 3 + k] + G[i][1] * g[1 * 3 + k] + G[i][2] * g[2 * 3 + k];
      for (int64_t i = 0; i < A; i++)
        for (int64_t j = 0; j < A; j++)
          u[((i * A + j) * M + m) * C + ch] =
              (float)(gg[i][0] * G[j][0] + gg[i][1] * G[j][1] + gg[i][2] * G[j][2]);
    }
  return u;
}

static LLVMValueRef fadd(Cg *c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFAdd(c->b, a, b, "");
}
static LLVMValueRef fsub(Cg *c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFSub(c->b, a, b, "");
}
/* a*k + b */
static LLVMValueRef fmk(Cg *c, LLVMValueRef a, double k, LLVMValueRef b) {
  return cg_fmuladd(c, a, cg_f32c(c, k), b);
}

/* 1-D transforms of a values: y = B^T x (a values), y = A^T x (m values). */
static void winograd_bt(Cg *c, int64_t tile, LLVMValueRef *x, LLVMValueRef *y) {
  if (tile == 2) {
    y[0] = fsub(c, x[0], x[2]);
    y[1] = fadd(c, x[1], x[2]);
    y[2] = fsub(c, x[2], x[1]);
    y[3] = fsub(c, x[1], x[3]);
    return;
  }
  LLVMValueRef s12 = fadd(c, x[1], x[2]), d12 = fsub(c, x[1], x[2]);
  LLVMValueRef s34 = fadd(c, x[3], x[4]), d43 = fsub(c, x[4], x[3]);
  LLVMValueRef d42 = fsub(c, x[4], x[2]), d31 = fsub(c, x[3], x[1]);
  y[0] = fmk(c, x[0], 4, fmk(c, x[2], -5, x[4]));
  y[1] = fmk(c, s12, -4, s34);
  y[2] = fmk(c, d12, 4, d43);
  y[3] = fmk(c, d31, 2, d42);
  y[4] = fmk(c, d31, -2, d42);
  y[5] = fmk(c, x[1], 4, fmk(c, x[3], -5, x[5]));
}
static void winograd_at(Cg *c, int64_t tile, LLVMValueRef *x, LLVMValueRef *y) {
  if (tile == 2) {
    y[0] = fadd(c, fadd(c, x[0], x[1]), x[2]);
    y[1] = fsub(c, fsub(c, x[1], x[2]), x[3]);
    return;
  }
  LLVMValueRef s12 = fadd(c, x[1], x[2]), d12 = fsub(c, x[1], x[2]);
  LLVMValueRef s34 = fadd(c, x[3], x[4]), d34 = fsub(c, x[3], x[4]);
  y[0] = fadd(c, fadd(c, x[0], s12), s34);
  y[1] = fmk(c, d34, 2, d12);
  y[2] = fmk(c, s34, 4, s12);
  y[3] = fadd(c, fmk(c, d34, 8, d12), x[5]);
}

/* dst[r][t] = src[m*t + r] for t < count[r], r < m (m = 2 or 4): blocks of m vectors split
 * into the m phases by shuffles (m = 4: two halves of each phase vector, then joined), the
 * rest scalar moves (strided loads would be gathers). */
static void copy_phases(Cg *c, int64_t m, LLVMValueRef src, LLVMValueRef *dst,
                        const int64_t *count) {
  if (m == 2) {
    cg_copy_deinterleave(c, src, dst[0], dst[1], count[0], count[1]);
    return;
  }
  int L = cg_vec_info(c).lanes;
  int64_t least = count[0];
  for (int64_t r = 1; r < m; r++) least = count[r] < least ? count[r] : least;
  int64_t blocks = L >= 4 ? least / L : 0;
  if (blocks > 0) {
    LLVMTypeRef vty = LLVMVectorType(c->t_f32, (unsigned)L);
    LLVMValueRef half[4][8], whole[16];
    for (int64_t r = 0; r < m; r++)
      for (int l = 0; l < L / 2; l++) half[r][l] = cg_i32c(c, (int)(r + m * l));
    for (int l = 0; l < L; l++) whole[l] = cg_i32c(c, l);
    LLVMValueRef join = LLVMConstVector(whole, (unsigned)L);
    CgLoop lb;
    LLVMValueRef b = cg_for(c, &lb, blocks);
    lb.keep = true;
    LLVMValueRef t = cg_mulc(c, b, L), v[4];
    for (int k = 0; k < 4; k++) {
      LLVMValueRef at = cg_gep(c, c->t_f32, src, cg_addc(c, cg_mulc(c, t, m), k * L));
      v[k] = LLVMBuildLoad2(c->b, vty, at, "");
      LLVMSetAlignment(v[k], 4);
    }
    for (int64_t r = 0; r < m; r++) {
      LLVMValueRef mask = LLVMConstVector(half[r], (unsigned)(L / 2));
      LLVMValueRef lo = LLVMBuildShuffleVector(c->b, v[0], v[1], mask, "");
      LLVMValueRef hi = LLVMBuildShuffleVector(c->b, v[2], v[3], mask, "");
      LLVMValueRef st = LLVMBuildStore(c->b, LLVMBuildShuffleVector(c->b, lo, hi, join, ""),
                                       cg_gep(c, c->t_f32, dst[r], t));
      LLVMSetAlignment(st, 4);
    }
    cg_loop_end(c, &lb, NULL, NULL);
  }
  for (int64_t r = 0; r < m; r++) {
    int64_t done = blocks * L;
    if (count[r] <= done) continue;
    CgLoop lt;
    LLVMValueRef t = cg_loop_begin(c, &lt, cg_idx(c, done), cg_idx(c, count[r]));
    lt.keep = true;
    cg_store(c, cg_load(c, src, cg_addc(c, cg_mulc(c, t, m), r)), dst[r], t);
    cg_loop_end(c, &lt, NULL, NULL);
  }
}

/* The padded, deinterleaved input rows of one block of tile rows starting at tile row th0:
 * image row r (r < m*rows + 2) is padded row m*th0 + r; its padded column q of channel ch at
 * image[(ch*(m*rows + 2) + r)*m*plen + (q % m)*plen + q/m]. Only the block's rows, so the
 * scratch stays small (microcontrollers) and in L1. */
static void copy_image(Cg *c, const IrConvParams *p, const IrConvWinograd *w, LLVMValueRef x,
                       LLVMValueRef image, LLVMValueRef th0, int64_t rows) {
  int64_t m = w->m, brows = m * rows + 2, rowlen = m * w->plen;
  cg_memset(c, image, 0, p->c * brows * rowlen * (int64_t)sizeof(float));
  /* input row ih = m*th0 + r - pad_t inside [0, h) */
  LLVMValueRef ih0 = cg_addc(c, cg_mulc(c, th0, m), -p->pad_t);
  LLVMValueRef r_lo = cg_smax(c, cg_sub(c, cg_idx(c, 0), ih0), cg_idx(c, 0));
  LLVMValueRef r_hi = cg_smin(c, cg_sub(c, cg_idx(c, p->h), ih0), cg_idx(c, brows));
  CgLoop lc, lr;
  LLVMValueRef ch = cg_for(c, &lc, p->c);
  LLVMValueRef r = cg_loop_begin(c, &lr, r_lo, r_hi);
  LLVMValueRef src = cg_gep(
      c, c->t_f32, x, cg_add(c, cg_mulc(c, ch, p->h * p->w), cg_mulc(c, cg_add(c, ih0, r), p->w)));
  LLVMValueRef dst =
      cg_gep(c, c->t_f32, image, cg_mulc(c, cg_add(c, cg_mulc(c, ch, brows), r), rowlen));
  /* input columns iw = k + m*t (k < m), their padded column q = iw + pad_l below m*plen, land
   * in phase q % m at q / m: one deinterleaving copy of the row from column 0 */
  LLVMValueRef phase_dst[4];
  int64_t count[4] = {0, 0, 0, 0};
  for (int64_t k = 0; k < m; k++) {
    while (k + m * count[k] < p->w && k + m * count[k] + p->pad_l < rowlen) count[k]++;
    int64_t q0 = k + p->pad_l;
    phase_dst[k] = cg_gep(c, c->t_f32, dst, cg_idx(c, (q0 % m) * w->plen + q0 / m));
  }
  copy_phases(c, m, src, phase_dst, count);
  cg_loop_end(c, &lr, NULL, NULL);
  cg_loop_end(c, &lc, NULL, NULL);
}

/* One block of `rows` tile rows starting at tile row th0: transform, a^2 products, output
 * transform with the bias and the fused epilogue. */
static void winograd_block(Cg *c, const IrNode *n, const IrConvParams *p, const IrConvWinograd *w,
                           LLVMValueRef *in, LLVMValueRef x, LLVMValueRef image, LLVMValueRef out,
                           LLVMValueRef obase, LLVMValueRef th0, int64_t rows, CgVecInfo vec,
                           CgTile tile, LLVMValueRef upack) {
  int64_t C = p->c, M = p->m, TW = w->tw, cols = rows * TW, m = w->m, A = w->a, AA = A * A;
  int64_t rowlen = m * w->plen;
  copy_image(c, p, w, x, image, th0, rows);
  LLVMValueRef V = cg_gep(c, c->t_f32, c->scratch, cg_idx(c, w->image_floats));
  LLVMValueRef Mx = cg_gep(c, c->t_f32, V, cg_idx(c, w->v_floats));
  /* input transform: V[xi][ch][r*TW + t] */
  CgLoop lc, lr, lt;
  LLVMValueRef ch = cg_for(c, &lc, C);
  LLVMValueRef r = cg_for(c, &lr, rows);
  LLVMValueRef prow =
      cg_gep(c, c->t_f32, image,
             cg_mulc(c, cg_add(c, cg_mulc(c, ch, m * rows + 2), cg_mulc(c, r, m)), rowlen));
  LLVMValueRef vcol = cg_add(c, cg_mulc(c, ch, cols), cg_mulc(c, r, TW));
  LLVMValueRef t = cg_for(c, &lt, TW);
  /* the tile loops are vectorized along t by LLVM at either level; -O3 must not unroll a short
   * one (8x8 image: 4 tiles) first, or the SLP vectorizer packs the copies into gathers */
  lt.no_unroll = true;
  LLVMValueRef tr[WINO_MAX_A][WINO_MAX_A];
  for (int64_t i = 0; i < A; i++) {
    LLVMValueRef row = cg_gep(c, c->t_f32, prow, cg_idx(c, i * rowlen)), d[WINO_MAX_A];
    /* patch column j is padded column m*t + j: phase j % m, index t + j / m */
    for (int64_t j = 0; j < A; j++)
      d[j] = cg_load(c, row, cg_addc(c, t, (j % m) * w->plen + j / m));
    winograd_bt(c, m, d, tr[i]);
  }
  for (int64_t j = 0; j < A; j++) {
    LLVMValueRef col[WINO_MAX_A], v[WINO_MAX_A];
    for (int64_t i = 0; i < A; i++) col[i] = tr[i][j];
    winograd_bt(c, m, col, v);
    for (int64_t i = 0; i < A; i++)
      cg_store(c, v[i], V, cg_add(c, cg_addc(c, vcol, (i * A + j) * C * cols), t));
  }
  cg_loop_end(c, &lt, NULL, NULL);
  cg_loop_end(c, &lr, NULL, NULL);
  cg_loop_end(c, &lc, NULL, NULL);

  /* per block of MB output channels: the a^2 products M[xi] = U[xi] x V[xi], one micro-kernel
   * in a loop (code size); U's blocks are [xi][block][MB][C] */
  int64_t MB = w->mb, nmb = M / MB;
  CgLoop lmb, lx;
  LLVMValueRef mbi = cg_for(c, &lmb, nmb);
  lmb.keep = true;
  LLVMValueRef xi = cg_for(c, &lx, AA);
  lx.keep = true;
  CgGemmA a = {cg_gep(c, c->t_f32, upack, cg_mulc(c, cg_add(c, cg_mulc(c, xi, nmb), mbi), MB * C)),
               0, 0, true};
  CgGemmB b = {
      .base = cg_gep(c, c->t_f32, V, cg_mulc(c, xi, C * cols)), .s_k = cols, .padded = true};
  CgGemmC cc = {.base = cg_gep(c, c->t_f32, Mx, cg_mulc(c, xi, MB * cols)), .ldc = cols};
  cg_gemm_emit(c, vec, tile, MB, cols, C, &a, &b, &cc);
  cg_loop_end(c, &lx, NULL, NULL);

  /* output transform: tile (th0 + r, t) of channel o gives output rows m(th0 + r) + i and
   * columns m*t + j (i, j < m); a height or width not a multiple of m drops the last rows or
   * columns of the last tiles */
  CgLoop lm, lr2, lt2;
  LLVMValueRef mq = cg_for(c, &lm, MB), o = cg_add(c, cg_mulc(c, mbi, MB), mq);
  LLVMValueRef r2 = cg_for(c, &lr2, rows);
  LLVMValueRef oh = cg_mulc(c, cg_add(c, th0, r2), m);
  LLVMValueRef mcol = cg_add(c, cg_mulc(c, mq, cols), cg_mulc(c, r2, TW));
  LLVMValueRef orow0 =
      cg_add(c, cg_add(c, obase, cg_mulc(c, o, p->oh * p->ow)), cg_mulc(c, oh, p->ow));
  LLVMValueRef bias = p->has_bias ? cg_load(c, in[2], o) : NULL;
  /* a height not a multiple of m: rows i >= oh % m of a tile exist unless it is the last tile
   * row (a run-time test in that case only) */
  LLVMValueRef has_row[4] = {NULL, NULL, NULL, NULL};
  for (int64_t i = 1; i < m; i++)
    if (p->oh % m && i >= p->oh % m)
      has_row[i] = LLVMBuildICmp(c->b, LLVMIntSLT, cg_addc(c, oh, i), cg_idx(c, p->oh), "");
  for (int part = 0; part < 2; part++) {
    /* part 0: the tiles with all m columns; part 1: the last tile, ow % m columns */
    int64_t lo = part == 0 ? 0 : p->ow / m, hi = part == 0 ? p->ow / m : TW;
    int64_t ncol = part == 0 ? m : p->ow % m;
    if (lo >= hi) continue;
    LLVMValueRef t2 = cg_loop_begin(c, &lt2, cg_idx(c, lo), cg_idx(c, hi));
    lt2.no_unroll = true; /* as lt */
    LLVMValueRef s[WINO_MAX_A][4];
    for (int64_t i = 0; i < A; i++) {
      LLVMValueRef xv[WINO_MAX_A];
      for (int64_t j = 0; j < A; j++)
        xv[j] = cg_load(c, Mx, cg_add(c, cg_addc(c, mcol, (i * A + j) * MB * cols), t2));
      winograd_at(c, m, xv, s[i]);
    }
    LLVMValueRef y[4][4];
    for (int64_t j = 0; j < m; j++) {
      LLVMValueRef col[WINO_MAX_A], yy[4];
      for (int64_t i = 0; i < A; i++) col[i] = s[i][j];
      winograd_at(c, m, col, yy);
      for (int64_t i = 0; i < m; i++) y[i][j] = yy[i];
    }
    for (int64_t i = 0; i < m; i++) {
      CgIf f;
      if (has_row[i]) cg_if_begin(c, &f, has_row[i]);
      for (int64_t j = 0; j < ncol; j++) {
        LLVMValueRef at = cg_add(c, cg_addc(c, orow0, i * p->ow + j), cg_mulc(c, t2, m));
        LLVMValueRef v = bias ? LLVMBuildFAdd(c->b, y[i][j], bias, "") : y[i][j];
        cg_store(c, cg_epilogue(c, n, in, v, at), out, at);
      }
      if (has_row[i]) {
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
  ir_conv_winograd(p, ir_conv_winograd_tile(n->kernel), tile_cols, n->scratch_bytes, &w);
  CgVecInfo vec = cg_vec_info(c);
  CgTile tile = cg_gemm_tile(vec, w.mb, w.cols, p->c, (int)tile_cols);
  float *u = winograd_weights(p, w.m, n->inputs[1]->data);
  LLVMValueRef upack =
      cg_pack_a(c, u, w.a * w.a * (p->m / w.mb), w.mb, p->c, p->c, 1, tile.mr, "winopack");
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
