/* int8 Winograd F(2x2, 3x3) for QLinearConv and ConvInteger on Arm DSP targets (Cortex-M4/M7:
 * smlad).
 *
 * Exact in integers: with G' = 2G the weight transform U = G' g G'^T is an integer (|U| <= 9 *
 * 127), the input transform V = B^T (x - x_zp) B is one (|V| <= 4 * 255, padding 0), both fit
 * the i16 halves of a word, two input channels per word, so each of the 16 points of a tile is a
 * product of pairs with one smlad per two multiply-adds. A^T (U . V) A = 4 x the convolution: the
 * requantization's shift takes 2 more and the sums are the interpreter's (sums in int32 wrap, i.e.
 * compute modulo 2^32, which is exact because the final value, 4 x (bias + direct sum), is
 * checked at compile time to fit int32). 16 products of pairs per 2x2 outputs instead of 36.
 *
 * Per panel of tile rows: the input transform into V, then per block of 3 output channels the 16
 * products (raw int32 sums into M) and the output transform with the requantization.
 * Layouts (words): V [16 points][column pairs][kp channel pairs][2 columns], so one step of a
 * 3 x 2 tile reads its two activation words with one ldrd at a constant offset; U [16][M][kp] in
 * blocks of 3 rows [kp][rows], so a step's three weight words are one ldm; M [ldv][3][16], a
 * tile's 16 sums adjacent. The product is unrolled over the kp steps (kp <= 64): per step one ldrd,
 * one ldm and 6 smlad, 8 instructions per 12 multiply-adds, no loop counter.
 *
 * ConvInteger (ONNX Runtime's dynamic quantization): U of w - w_zp[m] (|U| <= 9 * 255), V as
 * above with the run-time x zero point (i8 or u8 data: every half within +-4 * 255), no bias;
 * the output transform's 4 x sum (exact: |4 * 9 C * 255 * 255| < 2^31 for C <= 128) shifted
 * back by 2 and stored as i32, or converted and scaled (the fused Cast and Mul). */
#include "cg_winograd_i8.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_gemm_i8.h"
#include "cg_kernels.h"

enum { WQ_ROWS = 3 }; /* output channels of the tile (its 6 accumulators, 2 columns) */

static const int wino_g[4][3] = {{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}};
static const int wino_bt[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const int wino_at[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

/* word offset of U's (row m, channel pair s) within one point's [M][kp] */
static int64_t u_offset(int64_t m, int64_t s, int64_t M, int64_t kp) {
  int64_t m0 = m / WQ_ROWS * WQ_ROWS, rows = M - m0 < WQ_ROWS ? M - m0 : WQ_ROWS;
  return m0 * kp + s * rows + (m - m0);
}

/* sum of coef[k] * v[k] (exactly two non-zero, +-1, at least one +1, as in B^T) on words of two
 * i16 halves (sadd16 / ssub16) */
static LLVMValueRef lin_comb_pairs(Cg *c, const int *coef, LLVMValueRef *v) {
  int pos = -1, other = -1;
  for (int k = 0; k < 4; k++) {
    if (coef[k] > 0 && pos < 0)
      pos = k;
    else if (coef[k])
      other = k;
  }
  assert(pos >= 0 && other >= 0);
  return cg_dsp_add16(c, v[pos], v[other], coef[other] < 0);
}

/* sum of coef[k] * v[k] over the non-zero coefficients (all +-1 here) */
static LLVMValueRef lin_comb(Cg *c, const int *coef, LLVMValueRef *v, int n) {
  LLVMValueRef s = NULL;
  for (int k = 0; k < n; k++) {
    if (!coef[k]) continue;
    if (!s)
      s = coef[k] > 0 ? v[k] : LLVMBuildNeg(c->b, v[k], "");
    else
      s = coef[k] > 0 ? LLVMBuildAdd(c->b, s, v[k], "") : LLVMBuildSub(c->b, s, v[k], "");
  }
  return s ? s : cg_i32c(c, 0);
}

/* The compile-time tables: U (16 points of every (row, channel pair)) and per row the
 * multiplier, shift + 2 and 4 x bias (ir_qconv_winograd_exact checked that they fit).
 * ConvInteger: U of w - w_zp[m] (|U| <= 9 * 255), no tables. */
static void wino_tables(const IrNode *n, const IrConvParams *p, int64_t kp, uint32_t *u, int32_t *t,
                        bool *ge33) {
  bool integer = n->op == IR_OP_CONV_INTEGER;
  IrQHead h = {0};
  if (!integer) ir_qhead(n, &h);
  int64_t C = p->c, M = p->m;
  const IrValue *wv = n->inputs[integer ? 1 : 3];
  *ge33 = true;
  for (int64_t m = 0; m < M; m++) {
    int32_t wz = integer ? ir_matmul_integer_bzp(n, m) : 0;
    for (int64_t ch = 0; ch < C; ch++) {
      int g[9];
      for (int k = 0; k < 9; k++)
        g[k] = ir_int8_value(wv->dtype, wv->data, (m * C + ch) * 9 + k) - wz;
      int tmp[4][3];
      for (int a = 0; a < 4; a++)
        for (int j = 0; j < 3; j++)
          tmp[a][j] = wino_g[a][0] * g[j] + wino_g[a][1] * g[3 + j] + wino_g[a][2] * g[6 + j];
      for (int a = 0; a < 4; a++)
        for (int bb = 0; bb < 4; bb++) {
          int v = tmp[a][0] * wino_g[bb][0] + tmp[a][1] * wino_g[bb][1] + tmp[a][2] * wino_g[bb][2];
          assert(v >= INT16_MIN && v <= INT16_MAX); /* |v| <= 9 * 128 (ConvInteger: 9 * 255) */
          int64_t at = (a * 4 + bb) * M * kp + u_offset(m, ch / 2, M, kp);
          u[at] |= (uint32_t)(uint16_t)(int16_t)v << (16 * (ch % 2));
        }
    }
    if (integer) continue;
    /* the output transform gives 4 x the sums: the shift takes 2 more, and 4 x the bias joins
     * point (1, 1), which adds into every output of the tile */
    IrRequant r = ir_qhead_requant(&h, m);
    IrRequant r4 = r; /* the shift the kernel applies: 2 more */
    r4.shift += 2;
    *ge33 = *ge33 && cg_qrequant_32bit(r4);
    t[m] = r.mult;
    t[M + m] = r.shift + 2;
    t[2 * M + m] = (int32_t)(4 * (int64_t)(h.bias ? h.bias[m] : 0));
  }
}

/* B^T down input column ix of a tile row (rows iy0 .. iy0 + 3): t[a] = sum_i B^T[a][i] d[i],
 * d[i] the word of the channel pair at (iy0 + i, ix), i16 halves (the raw int8 values, u8 ones
 * zero-extended; the zero point xz (i32) outside the input where okc is given: okr[i] && okc
 * says inside). */
static void bt_column(Cg *c, const IrConvParams *p, LLVMValueRef x, const LLVMValueRef *plane,
                      LLVMValueRef iy0, LLVMValueRef ix, const LLVMValueRef *okr, LLVMValueRef okc,
                      LLVMValueRef xz, bool x_u8, LLVMValueRef *t) {
  LLVMValueRef d[4];
  for (int i = 0; i < 4; i++) {
    LLVMValueRef ok = okc ? LLVMBuildAnd(c->b, okr[i], okc, "") : NULL, half[2];
    for (int hh = 0; hh < 2; hh++) {
      LLVMValueRef at = cg_add(c, plane[hh], cg_add(c, cg_mulc(c, cg_addc(c, iy0, i), p->w), ix));
      if (ok) at = LLVMBuildSelect(c->b, ok, at, cg_idx(c, 0), "");
      LLVMValueRef v = LLVMBuildLoad2(c->b, c->t_i8, cg_gep(c, c->t_i8, x, at), "");
      LLVMSetAlignment(v, 1);
      v = x_u8 ? LLVMBuildZExt(c->b, v, c->t_i32, "") : LLVMBuildSExt(c->b, v, c->t_i32, "");
      half[hh] = ok ? LLVMBuildSelect(c->b, ok, v, xz, "") : v;
    }
    d[i] = LLVMBuildOr(c->b, LLVMBuildAnd(c->b, half[0], cg_i32c(c, 0xffff), ""),
                       LLVMBuildShl(c->b, half[1], cg_i32c(c, 16), ""), "");
  }
  for (int a = 0; a < 4; a++) t[a] = lin_comb_pairs(c, wino_bt[a], d);
}

/* V of one panel: per channel pair and tile, both channels in one word from the start (i16
 * halves: the raw int8 values, padding = the zero point), transformed with sadd16 / ssub16. The
 * zero point is not subtracted per value: B^T 1 B is 4 at point (1, 1) and 0 elsewhere, so
 * B^T (d - zp) B = B^T d B - 4 zp there. Every half stays within +-4 * 255 (ConvInteger: d and
 * its run-time zp both i8 or both u8, so the sums of 4 values at (1, 1) and zp's 4 zp are in
 * [-512, 508] or [0, 1020], their difference and the other points' (differences of pairs of
 * sums of 2) within +-1020 too). Tiles overlap by
 * two input columns (stride 2, width 4): along a tile row, each input column is loaded and
 * transformed down (B^T d) once, the tile's first two columns carried from the tile before
 * (16 words loaded and 32 sadd16/ssub16 a tile become 8 and 24). */
static void input_transform(Cg *c, const IrConvParams *p, const IrQWinograd *w, LLVMValueRef x,
                            LLVMValueRef vs, LLVMValueRef b, LLVMValueRef ty0, LLVMValueRef trows,
                            LLVMValueRef xz, bool x_u8) {
  int64_t C = p->c, kp = w->kp, ncp = w->ldv / IR_QWINO_COLS;
  CgLoop lc, ltr, ltx;
  LLVMValueRef cp = cg_for(c, &lc, kp);
  LLVMValueRef plane[2];
  for (int hh = 0; hh < 2; hh++) {
    LLVMValueRef ch = cg_smin(c, cg_addc(c, cg_mulc(c, cp, 2), hh), cg_idx(c, C - 1));
    plane[hh] = cg_mulc(c, cg_add(c, cg_mulc(c, b, C), ch), p->h * p->w);
  }
  LLVMValueRef tr = cg_loop_begin(c, &ltr, cg_idx(c, 0), trows);
  LLVMValueRef iy0 = cg_addc(c, cg_mulc(c, cg_add(c, ty0, tr), 2), -p->pad_t);
  LLVMValueRef okr[4];
  for (int k = 0; k < 4; k++) {
    LLVMValueRef iy = cg_addc(c, iy0, k);
    okr[k] = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, iy, cg_idx(c, 0), ""),
                          LLVMBuildICmp(c->b, LLVMIntSLT, iy, cg_idx(c, p->h), ""), "");
  }
  LLVMValueRef rows_in = LLVMBuildAnd(c->b, okr[0], okr[3], "");
  /* the first tile's first two columns (checked) */
  LLVMValueRef t0[2][4];
  for (int j = 0; j < 2; j++) {
    LLVMValueRef ix = cg_idx(c, j - p->pad_l);
    LLVMValueRef okc = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, ix, cg_idx(c, 0), ""),
                                    LLVMBuildICmp(c->b, LLVMIntSLT, ix, cg_idx(c, p->w), ""), "");
    bt_column(c, p, x, plane, iy0, ix, okr, okc, xz, x_u8, t0[j]);
  }
  LLVMValueRef tx = cg_loop_begin(c, &ltx, cg_idx(c, 0), cg_idx(c, w->tw));
  LLVMValueRef col[4][4]; /* [column of the tile][a] */
  for (int j = 0; j < 2; j++)
    for (int a = 0; a < 4; a++) col[j][a] = cg_loop_acc(c, &ltx, t0[j][a]);
  LLVMValueRef tcol = cg_add(c, cg_mulc(c, tr, w->tw), tx);
  /* word of (point 0, column tcol, pair cp) */
  LLVMValueRef at0 =
      cg_add(c,
             cg_add(c, cg_mulc(c, LLVMBuildUDiv(c->b, tcol, cg_idx(c, 2), ""), 2 * kp),
                    LLVMBuildURem(c->b, tcol, cg_idx(c, 2), "")),
             cg_mulc(c, cp, 2));
  /* the tile's columns 2 and 3: input columns 2 tx + 2 - pad_l and the next; without checks
   * where both and the tile row are inside the input (most tiles) */
  LLVMValueRef ix2 = cg_addc(c, cg_mulc(c, tx, 2), 2 - p->pad_l), okc[2];
  for (int j = 0; j < 2; j++) {
    LLVMValueRef ix = cg_addc(c, ix2, j);
    okc[j] = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, ix, cg_idx(c, 0), ""),
                          LLVMBuildICmp(c->b, LLVMIntSLT, ix, cg_idx(c, p->w), ""), "");
  }
  CgIf fi;
  cg_if_begin(c, &fi, LLVMBuildAnd(c->b, rows_in, LLVMBuildAnd(c->b, okc[0], okc[1], ""), ""));
  LLVMValueRef tn[2][2][4]; /* [checked][j][a] */
  LLVMBasicBlockRef from[2];
  for (int checked = 0; checked < 2; checked++) {
    if (checked) cg_if_else(c, &fi);
    for (int j = 0; j < 2; j++)
      bt_column(c, p, x, plane, iy0, cg_addc(c, ix2, j), okr, checked ? okc[j] : NULL, xz, x_u8,
                tn[checked][j]);
    from[checked] = LLVMGetInsertBlock(c->b);
  }
  cg_if_end(c, &fi);
  for (int j = 0; j < 2; j++)
    for (int a = 0; a < 4; a++) {
      LLVMValueRef phi = LLVMBuildPhi(c->b, c->t_i32, "");
      LLVMValueRef vals[2] = {tn[0][j][a], tn[1][j][a]};
      LLVMAddIncoming(phi, vals, from, 2);
      col[2 + j][a] = phi;
    }
  LLVMValueRef vt[16];
  for (int a = 0; a < 4; a++) {
    LLVMValueRef row[4] = {col[0][a], col[1][a], col[2][a], col[3][a]};
    for (int bb = 0; bb < 4; bb++) vt[a * 4 + bb] = lin_comb_pairs(c, wino_bt[bb], row);
  }
  LLVMValueRef zp4 = LLVMBuildAnd(c->b, LLVMBuildShl(c->b, xz, cg_i32c(c, 2), ""),
                                  cg_i32c(c, 0xffff), ""); /* (4 xz) in both halves */
  vt[5] = cg_dsp_add16(
      c, vt[5], LLVMBuildOr(c->b, zp4, LLVMBuildShl(c->b, zp4, cg_i32c(c, 16), ""), ""), true);
  for (int pt = 0; pt < 16; pt++)
    cg_store_elem(c, IR_I32, vt[pt], vs, cg_addc(c, at0, pt * ncp * kp * IR_QWINO_COLS));
  LLVMValueRef next[8];
  for (int j = 0; j < 2; j++)
    for (int a = 0; a < 4; a++) next[j * 4 + a] = col[2 + j][a];
  cg_loop_end(c, &ltx, next, NULL);
  cg_loop_end(c, &ltr, NULL, NULL);
  cg_loop_end(c, &lc, NULL, NULL);
}

/* Point pt's product for rows [m0, m0 + mr) and every column pair of the panel: raw int32 sums
 * into M [col][WQ_ROWS][16]. */
static void point_product(Cg *c, const IrQWinograd *w, int64_t M, LLVMValueRef up, LLVMValueRef vs,
                          LLVMValueRef ms, LLVMValueRef pt, LLVMValueRef m0, int mr,
                          LLVMValueRef pairs, bool thumb) {
  int64_t kp = w->kp, ncp = w->ldv / IR_QWINO_COLS;
  LLVMValueRef pw0 = cg_gep(c, c->t_i32, up, cg_add(c, cg_mulc(c, pt, M * kp), cg_mulc(c, m0, kp)));
  LLVMValueRef va = cg_gep(c, c->t_i32, vs, cg_mulc(c, pt, ncp * kp * IR_QWINO_COLS));
  LLVMValueRef mp = cg_gep(c, c->t_i32, ms, pt);
  /* the activation and sum pointers advance as loop-carried values (constant offsets from them,
   * no re-addressing of the large offset of M in the scratch per column pair) */
  CgLoop lj;
  cg_loop_begin(c, &lj, cg_idx(c, 0), pairs);
  lj.keep = true;
  LLVMValueRef pa = cg_loop_acc(c, &lj, va), pm = cg_loop_acc(c, &lj, mp), pw = pw0;
  LLVMValueRef acc[WQ_ROWS][IR_QWINO_COLS];
  for (int64_t s = 0; s < kp; s++) {
    LLVMValueRef a[2], wr[WQ_ROWS];
    cg_qpair_acts(c, pa, s, thumb, a);
    cg_qpair_weights(c, &pw, mr, thumb, wr);
    for (int r = 0; r < mr; r++)
      for (int t = 0; t < IR_QWINO_COLS; t++)
        acc[r][t] =
            s ? cg_call_intrinsic(c, "llvm.arm.smlad", (LLVMValueRef[]){wr[r], a[t], acc[r][t]}, 3)
              : cg_call_intrinsic(c, "llvm.arm.smuad", (LLVMValueRef[]){wr[r], a[t]}, 2);
  }
  /* M word of (column 2j + t, row r, point pt) */
  for (int r = 0; r < mr; r++)
    for (int t = 0; t < IR_QWINO_COLS; t++)
      cg_store_elem(c, IR_I32, acc[r][t], pm, cg_idx(c, (t * WQ_ROWS + r) * 16));
  LLVMValueRef next[2] = {cg_gep(c, c->t_i32, pa, cg_idx(c, kp * IR_QWINO_COLS)),
                          cg_gep(c, c->t_i32, pm, cg_idx(c, IR_QWINO_COLS * WQ_ROWS * 16))};
  cg_loop_end(c, &lj, next, NULL);
}

/* ConvInteger's output (tab NULL): the exact sums (4 x sum, shifted back by 2), as i32, or
 * as f32 (float)sum * scale with the fused scale, one value (scale_one) or per channel */
typedef struct WinoInt {
  LLVMValueRef scale, scale_one;
} WinoInt;

/* The output transform of rows [m0, m0 + mr) with the requantization into the int8 output
 * (ConvInteger, wi: the sums). */
static void output_transform(Cg *c, const IrConvParams *p, const IrQWinograd *w, LLVMValueRef tab,
                             LLVMValueRef ms, LLVMValueRef y, LLVMValueRef b, LLVMValueRef ty0,
                             LLVMValueRef trows, LLVMValueRef m0, int mr, int32_t y_zp, bool ge33,
                             bool pool, const WinoInt *wi) {
  int64_t M = p->m;
  CgLoop lr, lyr, lyx;
  LLVMValueRef r = cg_for(c, &lr, mr);
  LLVMValueRef m = cg_add(c, m0, r), mult = NULL, shift = NULL, bias = NULL, sc = NULL;
  if (wi) {
    sc = wi->scale ? cg_load_elem(c, IR_F32, wi->scale, m) : wi->scale_one;
  } else {
    mult = cg_load_elem(c, IR_I32, tab, m);
    shift = cg_load_elem(c, IR_I32, tab, cg_addc(c, m, M));
    bias = cg_load_elem(c, IR_I32, tab, cg_addc(c, m, 2 * M));
  }
  /* a fused MaxPool 2x2/2 (pool; passes/pass_qpool.c): each tile is one pooled output's window;
   * the tiles of a last odd row or column (floor mode) have no output */
  int64_t ph = p->oh / 2, pw = p->ow / 2;
  LLVMValueRef yplane = cg_mulc(c, cg_add(c, cg_mulc(c, b, M), m), pool ? ph * pw : p->oh * p->ow);
  if (pool) trows = cg_smax(c, cg_idx(c, 0), cg_smin(c, trows, cg_sub(c, cg_idx(c, ph), ty0)));
  LLVMValueRef tr = cg_loop_begin(c, &lyr, cg_idx(c, 0), trows);
  LLVMValueRef tx = cg_for(c, &lyx, pool ? pw : w->tw);
  LLVMValueRef tcol = cg_add(c, cg_mulc(c, tr, w->tw), tx), mv[16], tmp[2][4];
  LLVMValueRef at = cg_mulc(c, cg_add(c, cg_mulc(c, tcol, WQ_ROWS), r), 16);
  for (int k = 0; k < 16; k++) mv[k] = cg_load_elem(c, IR_I32, ms, cg_addc(c, at, k));
  if (bias) mv[5] = LLVMBuildAdd(c->b, mv[5], bias, "");
  for (int uu = 0; uu < 2; uu++)
    for (int j = 0; j < 4; j++) {
      LLVMValueRef col[4] = {mv[j], mv[4 + j], mv[8 + j], mv[12 + j]};
      tmp[uu][j] = lin_comb(c, wino_at[uu], col, 4);
    }
  LLVMValueRef oy0 = cg_mulc(c, cg_add(c, ty0, tr), 2), ox0 = cg_mulc(c, tx, 2), best = NULL;
  for (int uu = 0; uu < 2 && pool; uu++)
    for (int vv = 0; vv < 2; vv++) {
      LLVMValueRef v = lin_comb(c, wino_at[vv], tmp[uu], 4);
      best = best ? LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, v, best, ""), v, best, "")
                  : v;
    }
  if (pool) {
    LLVMValueRef st = LLVMBuildStore(
        c->b, cg_qrequant(c, 1, best, mult, shift, y_zp, ge33),
        cg_gep(c, c->t_i8, y,
               cg_add(c, yplane, cg_add(c, cg_mulc(c, cg_add(c, ty0, tr), pw), tx))));
    LLVMSetAlignment(st, 1);
  }
  for (int uu = 0; uu < 2 && !pool; uu++)
    for (int vv = 0; vv < 2; vv++) {
      LLVMValueRef v = lin_comb(c, wino_at[vv], tmp[uu], 4);
      LLVMValueRef oy = cg_addc(c, oy0, uu), ox = cg_addc(c, ox0, vv);
      /* a tile's first row and column are always inside (2 t <= 2 (th - 1) < oh); its second
       * only where oh (ow) is odd can be past the end: no check elsewhere */
      LLVMValueRef ok = NULL;
      if (uu && p->oh % 2) ok = LLVMBuildICmp(c->b, LLVMIntSLT, oy, cg_idx(c, p->oh), "");
      if (vv && p->ow % 2) {
        LLVMValueRef okx = LLVMBuildICmp(c->b, LLVMIntSLT, ox, cg_idx(c, p->ow), "");
        ok = ok ? LLVMBuildAnd(c->b, ok, okx, "") : okx;
      }
      CgIf f;
      if (ok) cg_if_begin(c, &f, ok);
      LLVMValueRef at = cg_add(c, yplane, cg_add(c, cg_mulc(c, oy, p->ow), ox)), st;
      if (wi) { /* 4 x the exact sum: an exact shift back */
        v = LLVMBuildAShr(c->b, v, cg_i32c(c, 2), "");
        if (sc) v = LLVMBuildFMul(c->b, LLVMBuildSIToFP(c->b, v, c->t_f32, ""), sc, "");
        st = LLVMBuildStore(c->b, v, cg_gep(c, sc ? c->t_f32 : c->t_i32, y, at));
        LLVMSetAlignment(st, 4);
      } else {
        st = LLVMBuildStore(c->b, cg_qrequant(c, 1, v, mult, shift, y_zp, ge33),
                            cg_gep(c, c->t_i8, y, at));
        LLVMSetAlignment(st, 1);
      }
      if (ok) {
        cg_if_else(c, &f);
        cg_if_end(c, &f);
      }
    }
  cg_loop_end(c, &lyx, NULL, NULL);
  cg_loop_end(c, &lyr, NULL, NULL);
  cg_loop_end(c, &lr, NULL, NULL);
}

static void lower(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out,
                  const IrConvParams *p, const IrQWinograd *w) {
  int64_t M = p->m, kp = w->kp;
  assert(w->ldv % IR_QWINO_COLS == 0 && kp <= 64);
  uint32_t *u = calloc((size_t)(16 * M * kp), sizeof *u);
  int32_t *t = calloc((size_t)(3 * M), sizeof *t);
  if (!u || !t) abort();
  bool ge33, integer = n->op == IR_OP_CONV_INTEGER;
  wino_tables(n, p, kp, u, t, &ge33);
  char name[64];
  snprintf(name, sizeof name, "q%d.wino", n->id);
  LLVMValueRef up = cg_const_bytes(c, u, sizeof *u * (size_t)(16 * M * kp), name), tab = NULL;
  snprintf(name, sizeof name, "q%d.tables", n->id);
  if (!integer) tab = cg_const_bytes(c, t, sizeof *t * (size_t)(3 * M), name);
  free(u);
  free(t);
  IrQHead h = {0};
  LLVMValueRef xz = NULL;
  bool x_u8 = integer && n->inputs[0]->dtype == IR_U8;
  WinoInt wi = {0};
  if (integer) { /* ConvInteger: its run-time x zero point; the fused scale */
    LLVMValueRef z8 = cg_load_elem(c, IR_I8, in[2], cg_idx(c, 0));
    xz = x_u8 ? LLVMBuildZExt(c->b, z8, c->t_i32, "") : LLVMBuildSExt(c->b, z8, c->t_i32, "");
    if (n->n_inputs > 4 && ir_value_numel(n->inputs[4]) > 1)
      wi.scale = in[4];
    else if (n->n_inputs > 4)
      wi.scale_one = cg_load_elem(c, IR_F32, in[4], cg_idx(c, 0));
  } else {
    ir_qhead(n, &h);
    xz = cg_i32c(c, h.x_zp);
  }
  bool thumb = cg_is_thumb(c);
  int64_t panels = (w->th + w->rows - 1) / w->rows;
  LLVMValueRef vs = c->scratch, ms = cg_gep(c, c->t_i8, c->scratch, cg_idx(c, w->v_bytes));
  CgLoop lb, lp;
  LLVMValueRef b = cg_for(c, &lb, p->n);
  LLVMValueRef pi = cg_for(c, &lp, panels);
  LLVMValueRef ty0 = cg_mulc(c, pi, w->rows);
  LLVMValueRef trows = cg_smin(c, cg_idx(c, w->rows), cg_sub(c, cg_idx(c, w->th), ty0));
  input_transform(c, p, w, in[0], vs, b, ty0, trows, xz, x_u8);
  LLVMValueRef pairs = LLVMBuildUDiv(c->b, cg_addc(c, cg_mulc(c, trows, w->tw), IR_QWINO_COLS - 1),
                                     cg_idx(c, IR_QWINO_COLS), "");
  int64_t blocks = M / WQ_ROWS, rest = M % WQ_ROWS;
  for (int part = 0; part < 2; part++) {
    int64_t nb = part ? (rest ? 1 : 0) : blocks;
    int mr = part ? (int)rest : WQ_ROWS;
    if (!nb) continue;
    CgLoop lm, lpt;
    LLVMValueRef mb = cg_for(c, &lm, nb);
    LLVMValueRef m0 = part ? cg_idx(c, blocks * WQ_ROWS) : cg_mulc(c, mb, WQ_ROWS);
    LLVMValueRef pt = cg_for(c, &lpt, 16);
    point_product(c, w, M, up, vs, ms, pt, m0, mr, pairs, thumb);
    cg_loop_end(c, &lpt, NULL, NULL);
    output_transform(c, p, w, tab, ms, out[0], b, ty0, trows, m0, mr, h.y_zp, ge33, n->pool != NULL,
                     integer ? &wi : NULL);
    cg_loop_end(c, &lm, NULL, NULL);
  }
  cg_loop_end(c, &lp, NULL, NULL);
  cg_loop_end(c, &lb, NULL, NULL);
}

bool cg_qconv_winograd_lower(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrConvParams p;
  IrQWinograd w;
  if (cg_dot4_info(c).kind != CG_DOT4_SMLAD || !ir_q_conv_params(n, &p, NULL) ||
      !ir_qconv_winograd(&p, 0, IR_QWINO_COLS, n->scratch_bytes, &w) || !ir_qconv_winograd_exact(n))
    return false;
  lower(c, n, in, out, &p, &w);
  return true;
}
