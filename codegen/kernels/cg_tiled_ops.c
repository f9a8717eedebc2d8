/* Gemm, MatMul and Conv through the micro-kernel generator, for the nodes the kernel pass gave
 * IR_KERNEL_GEMM, IR_KERNEL_CONV_GEMM or IR_KERNEL_CONV_1X1 (docs/kernels.md). Constant
 * operands are packed at compile time; the interpreter keeps the original layouts. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_kernels.h"
#include "conv_params.h"
#include "ir_util.h"
#include "sparsity.h"

/* The widest tile the node's scratch allows (IrNode.tile_cols_max). */
static int n_tile_cols(const IrNode *n) {
  return n->tile_cols_max > 0 ? n->tile_cols_max : IR_TILE_COLS_MAX;
}

/* ---- epilogues on finished tile rows ----------------------------------------------------- */

/* The node's fused epilogue over the tile row; C(i, j) is output element base + i*ld + j. */
typedef struct {
  const IrNode *n;
  LLVMValueRef *in, base;
  int64_t ld;
} FlatEpi;

static void flat_epilogue(Cg *c, void *ctx, LLVMValueRef i, LLVMValueRef j0, int64_t len,
                          LLVMValueRef crow) {
  FlatEpi *e = ctx;
  cg_epilogue_row(c, e->n, e->in, crow, cg_add(c, cg_add(c, e->base, cg_mulc(c, i, e->ld)), j0),
                  len);
}

/* The node's fused epilogue on C: in registers where it can run there, else on the stored tile
 * rows (FlatEpi's flat index either way). */
static void set_epilogue(CgGemmC *cc, FlatEpi *e) {
  if (!e->n->n_epilogue) return;
  if (cg_gemm_epilogue_in_registers(e->n)) {
    cc->epi_node = e->n;
    cc->epi_in = e->in;
    cc->epi_base = e->base;
    cc->epi_ld = e->ld;
  } else {
    cc->epi = flat_epilogue;
    cc->epi_ctx = e;
  }
}

void cg_gemm_epilogue(Cg *c, void *ctx, LLVMValueRef i, LLVMValueRef j0, int64_t len,
                      LLVMValueRef crow) {
  CgGemmEpi *e = ctx;
  CgLoop l;
  LLVMValueRef q = cg_for(c, &l, len), j = cg_add(c, j0, q);
  LLVMValueRef y = cg_load(c, crow, q);
  if (e->alpha != 1.0f) y = LLVMBuildFMul(c->b, y, cg_f32c(c, e->alpha), "");
  if (e->cptr) {
    LLVMValueRef cv = cg_load(c, e->cptr, cg_add(c, cg_mulc(c, i, e->csm), cg_mulc(c, j, e->csn)));
    if (e->beta != 1.0f) cv = LLVMBuildFMul(c->b, cv, cg_f32c(c, e->beta), "");
    y = LLVMBuildFAdd(c->b, y, cv, "");
  }
  y = cg_epilogue(c, e->n, e->in, y, cg_add(c, cg_mulc(c, i, e->N), j));
  cg_store(c, y, crow, q);
  cg_loop_end(c, &l, NULL, NULL);
}

/* ---- Gemm ----------------------------------------------------------------------------------- */

bool cg_tiled_gemm(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *A = n->inputs[0], *B = n->inputs[1];
  const IrValue *C = n->n_inputs > 2 ? n->inputs[2] : NULL;
  bool ta = ir_attr_i(n, "transA") != 0, tb = ir_attr_i(n, "transB") != 0;
  int64_t M = A->dims[ta ? 1 : 0], K = A->dims[ta ? 0 : 1], N = B->dims[tb ? 0 : 1];
  CgVecInfo vec = cg_vec_info(c);
  CgTile t = B->kind == IR_VALUE_CONST ? cg_gemm_tile_b(c, vec, M, N, K, IR_TILE_COLS_MAX, B->data,
                                                        tb ? 1 : N, tb ? K : 1)
                                       : cg_gemm_tile(vec, M, N, K, IR_TILE_COLS_MAX);
  CgGemmA a = {in[0], ta ? 1 : K, ta ? M : 1, false, NULL};
  CgGemmB b = {.base = in[1], .s_k = N};
  if (B->kind == IR_VALUE_CONST)
    b = (CgGemmB){
        .base = cg_node_derived(
            c, B, cg_pack_b(c, B->data, K, N, tb ? 1 : N, tb ? K : 1, t.nrv * vec.lanes, "wpack")),
        .packed = true};
  CgGemmEpi e = {.n = n,
                 .in = in,
                 .N = N,
                 .alpha = (float)ir_attr_f(n, "alpha"),
                 .beta = (float)ir_attr_f(n, "beta")};
  CgGemmC cc = {.base = out[0], .ldc = N};
  if (C && e.beta != 0.0f) {
    int64_t od[2] = {M, N}, cs[2];
    ir_broadcast_strides(C->rank, C->dims, 2, od, cs);
    if (e.alpha == 1.0f && e.beta == 1.0f && cs[0] == 0 && cs[1] == 1) {
      cc.col_bias = in[2]; /* Linear's bias: the accumulators start from it */
    } else {
      e.cptr = in[2];
      e.csm = cs[0];
      e.csn = cs[1];
    }
  }
  if (e.alpha == 1.0f && !e.cptr) {
    FlatEpi fe = {n, in, cg_idx(c, 0), N};
    set_epilogue(&cc, &fe);
    cg_gemm_emit(c, vec, t, M, N, K, &a, &b, &cc);
    return true;
  }
  cc.epi = cg_gemm_epilogue;
  cc.epi_ctx = &e;
  cg_gemm_emit(c, vec, t, M, N, K, &a, &b, &cc);
  return true;
}

/* ---- MatMul --------------------------------------------------------------------------------- */

/* Rows of a MatMul's product: A's rows, times A's batches when one matrix B serves them all (B
 * of rank 2; A and the output are contiguous, so the batches are one taller A). As one product,
 * B is streamed once instead of once per batch: a time-major [S, 1, D] x [D, F] (nn.Transformer)
 * was S GEMVs, each reading all of B. */
static int64_t matmul_rows(const IrNode *n) {
  const IrValue *A = n->inputs[0], *B = n->inputs[1];
  int64_t M = A->dims[A->rank - 2];
  if (B->rank == 2)
    for (int d = 0; d < A->rank - 2; d++) M *= A->dims[d];
  return M;
}

bool cg_tiled_matmul(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *A = n->inputs[0], *B = n->inputs[1];
  int64_t M = matmul_rows(n), K = A->dims[A->rank - 1], N = B->dims[B->rank - 1];
  int64_t dims[IR_MAX_RANK] = {0}, strides[3][IR_MAX_RANK] = {{0}};
  int rank = B->rank == 2 ? 0 : cg_matmul_batches(n, M, N, K, dims, strides);
  CgVecInfo vec = cg_vec_info(c);
  CgTile t = B->kind == IR_VALUE_CONST && B->rank == 2
                 ? cg_gemm_tile_b(c, vec, M, N, K, IR_TILE_COLS_MAX, B->data, N, 1)
                 : cg_gemm_tile(vec, M, N, K, IR_TILE_COLS_MAX);
  /* a constant matrix shared by every batch is packed once, at compile time */
  LLVMValueRef bpack =
      B->kind == IR_VALUE_CONST && B->rank == 2
          ? cg_node_derived(c, B, cg_pack_b(c, B->data, K, N, N, 1, t.nrv * vec.lanes, "wpack"))
          : NULL;
  cg_nest_simplify(&rank, dims, 3, strides);
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, 3, (const int64_t(*)[IR_MAX_RANK])strides);
  CgGemmA a = {cg_gep(c, c->t_f32, in[0], nest.off[1]), K, 1, false, NULL};
  CgGemmB b = bpack ? (CgGemmB){.base = bpack, .packed = true}
                    : (CgGemmB){.base = cg_gep(c, c->t_f32, in[1], nest.off[2]), .s_k = N};
  FlatEpi e = {n, in, nest.off[0], N};
  CgGemmC cc = {.base = cg_gep(c, c->t_f32, out[0], nest.off[0]), .ldc = N};
  set_epilogue(&cc, &e);
  cg_gemm_emit(c, vec, t, M, N, K, &a, &b, &cc);
  cg_nest_end(c, &nest);
  return true;
}

/* ---- Conv ----------------------------------------------------------------------------------- */

void cg_zero_floats(Cg *c, LLVMValueRef row, LLVMValueRef lo, LLVMValueRef hi) {
  CgLoop l;
  LLVMValueRef q = cg_loop_begin(c, &l, lo, hi);
  cg_store(c, cg_f32c(c, 0.0), row, q);
  cg_loop_end(c, &l, NULL, NULL);
}

/* Builds the im2col panel of output pixels [p0, p0 + cols) of one group: row k = (ic, kh, kw)
 * of the panel, at scratch + k*stride, holds for each pixel (oh, ow) the input element its tap
 * reads, or 0 in the padding. Columns [cols, stride) are zeroed (the last tile reads them). */
static void pack_panel(Cg *c, const IrConvParams *p, LLVMValueRef xg, LLVMValueRef oh_lo,
                       LLVMValueRef rem, int64_t cols, int64_t stride) {
  int64_t H = p->h, W = p->w, OW = p->ow, KH = p->kh, KW = p->kw;
  CgLoop lic, lkh, lkw, loh, lcp;
  /* p0 = oh_lo*OW + rem with 0 <= rem < OW (no run-time division: Cortex-M0 has none); the last
   * pixel's row is oh_lo + (rem + cols - 1) / OW = oh_lo + d0 + (rem + r0 >= OW) */
  LLVMValueRef p0 = cg_add(c, cg_mulc(c, oh_lo, OW), rem);
  int64_t d0 = (cols - 1) / OW, r0 = (cols - 1) % OW;
  LLVMValueRef carry = LLVMBuildZExt(
      c->b, LLVMBuildICmp(c->b, LLVMIntSGE, cg_addc(c, rem, r0), cg_idx(c, OW), ""), c->t_idx, "");
  LLVMValueRef oh_hi = cg_add(c, cg_addc(c, oh_lo, d0 + 1), carry);
  LLVMValueRef ic = cg_for(c, &lic, p->c_per_group);
  LLVMValueRef xplane = cg_gep(c, c->t_f32, xg, cg_mulc(c, ic, H * W));
  LLVMValueRef kh = cg_for(c, &lkh, KH);
  LLVMValueRef kw = cg_for(c, &lkw, KW);
  LLVMValueRef k = cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, ic, KH), kh), KW), kw);
  LLVMValueRef row = cg_gep(c, c->t_f32, c->scratch, cg_mulc(c, k, stride));
  if (cols < stride) cg_zero_floats(c, row, cg_idx(c, cols), cg_idx(c, stride));
  LLVMValueRef wbase = cg_addc(c, cg_mulc(c, kw, p->dil_w), -p->pad_l), vlo, vhi;
  cg_valid_range(c, wbase, p->stride_w, W, OW, &vlo, &vhi);
  LLVMValueRef oh = cg_loop_begin(c, &loh, oh_lo, oh_hi);
  /* the pixels of row oh inside the panel, as ow in [seg_lo, seg_hi); column q = qbase + ow */
  LLVMValueRef qbase = cg_sub(c, cg_mulc(c, oh, OW), p0);
  LLVMValueRef seg_lo = cg_smax(c, cg_sub(c, cg_idx(c, 0), qbase), cg_idx(c, 0));
  LLVMValueRef seg_hi = cg_smin(c, cg_sub(c, cg_idx(c, cols), qbase), cg_idx(c, OW));
  LLVMValueRef dst = cg_gep(c, c->t_f32, row, qbase);
  LLVMValueRef ih =
      cg_add(c, cg_addc(c, cg_mulc(c, oh, p->stride_h), -p->pad_t), cg_mulc(c, kh, p->dil_h));
  LLVMValueRef inside = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, ih, cg_idx(c, 0), ""),
                                     LLVMBuildICmp(c->b, LLVMIntSLT, ih, cg_idx(c, H), ""), "");
  CgIf f;
  cg_if_begin(c, &f, inside);
  LLVMValueRef clo = cg_smin(c, cg_smax(c, vlo, seg_lo), seg_hi);
  LLVMValueRef chi = cg_smax(c, cg_smin(c, vhi, seg_hi), clo);
  cg_zero_floats(c, dst, seg_lo, clo);
  LLVMValueRef src = cg_gep(c, c->t_f32, xplane, cg_add(c, cg_mulc(c, ih, W), wbase));
  LLVMValueRef ow = cg_loop_begin(c, &lcp, clo, chi);
  if (p->stride_w != 1) lcp.keep = true; /* a strided copy: scalar moves, not gathers */
  cg_store(c, cg_load(c, src, cg_mulc(c, ow, p->stride_w)), dst, ow);
  cg_loop_end(c, &lcp, NULL, NULL);
  cg_zero_floats(c, dst, chi, seg_hi);
  cg_if_else(c, &f);
  cg_zero_floats(c, dst, seg_lo, seg_hi);
  cg_if_end(c, &f);
  cg_loop_end(c, &loh, NULL, NULL);
  cg_loop_end(c, &lkw, NULL, NULL);
  cg_loop_end(c, &lkh, NULL, NULL);
  cg_loop_end(c, &lic, NULL, NULL);
}

/* IR_KERNEL_CONV_WIDE for one (batch, group): the phase images, the tiled product into wide
 * rows, then the valid columns of each wide row to the output through the fused epilogue. */
static void conv_wide(Cg *c, const IrNode *n, const IrConvParams *p, LLVMValueRef *in,
                      LLVMValueRef xg, LLVMValueRef obase, LLVMValueRef out, CgVecInfo vec,
                      CgTile t, const CgGemmA *a, LLVMValueRef bias, LLVMValueRef koff) {
  IrConvWide w;
  ir_conv_wide(p, n_tile_cols(n), &w);
  int64_t K = p->c_per_group * p->kh * p->kw;
  LLVMValueRef image = c->scratch;
  LLVMValueRef wide = cg_gep(c, c->t_f32, c->scratch, cg_idx(c, w.image_floats));
  cg_conv_phase_images(c, p, &w, xg, image);
  CgGemmB b = {.base = image,
               .padded = true,
               .koff = koff,
               .bytes = w.image_floats * (int64_t)sizeof(float)};
  CgGemmC cc = {.base = wide, .ldc = w.wide_cols, .row_bias = bias};
  cg_gemm_emit(c, vec, t, p->m_per_group, w.wide_cols, K, a, &b, &cc);
  cg_conv_wide_store(c, n, p, &w, in, wide, obase, out);
}

/* The rows [i_lo, i_hi) of phase row py that hold input rows (ih = i*sh + py - pad_t in [0, h)),
 * and the columns [j0, j0 + count) of phase column px that hold input columns. */
static void phase_rows(const IrConvParams *p, const IrConvWide *w, int64_t py, int64_t *i_lo,
                       int64_t *i_hi) {
  int64_t sh = p->stride_h;
  *i_lo = 0, *i_hi = w->hq;
  while (*i_lo < *i_hi && *i_lo * sh + py - p->pad_t < 0) ++*i_lo;
  while (*i_hi > *i_lo && (*i_hi - 1) * sh + py - p->pad_t >= p->h) --*i_hi;
}
static void phase_cols(const IrConvParams *p, int64_t px, int64_t *iw0, int64_t *j0,
                       int64_t *count) {
  int64_t sw = p->stride_w;
  *iw0 = ((px - p->pad_l) % sw + sw) % sw;
  *count = *iw0 < p->w ? (p->w - *iw0 + sw - 1) / sw : 0;
  *j0 = (*iw0 + p->pad_l) / sw;
}

/* Zeroes what the copy into the phase images leaves: per plane the rows that hold padding, and
 * what taps and tiles read past the last plane (the padding columns of copied rows are written
 * by the copy, row by row: phase_row_padding). The 16->16 conv at 32x32 zeroed its whole 74 KB
 * image per call before; then a pass over the padding columns of every row, which touched each
 * line of the image before the copy did (the stride-2 16->32 layer's image, 74 KB, lives in
 * L2: 21.6 -> 18.9 us, notes/issue9s.md). */
static void zero_phase_padding(Cg *c, const IrConvParams *p, const IrConvWide *w,
                               LLVMValueRef image) {
  int64_t Cpg = p->c_per_group, sh = p->stride_h, sw = p->stride_w, wq = w->wq;
  CgLoop lic;
  LLVMValueRef ic = cg_for(c, &lic, Cpg);
  for (int64_t py = 0; py < sh; py++)
    for (int64_t px = 0; px < sw; px++) {
      int64_t i_lo, i_hi, iw0, j0, count;
      phase_rows(p, w, py, &i_lo, &i_hi);
      phase_cols(p, px, &iw0, &j0, &count);
      LLVMValueRef plane =
          cg_gep(c, c->t_f32, image, cg_mulc(c, cg_addc(c, ic, (py * sw + px) * Cpg), w->plane));
      if (i_lo >= i_hi || count == 0) {
        cg_zero_floats(c, plane, cg_idx(c, 0), cg_idx(c, w->plane));
        continue;
      }
      cg_zero_floats(c, plane, cg_idx(c, 0), cg_idx(c, i_lo * wq));
      cg_zero_floats(c, plane, cg_idx(c, i_hi * wq), cg_idx(c, w->plane));
    }
  cg_loop_end(c, &lic, NULL, NULL);
  cg_zero_floats(c, image, cg_idx(c, sh * sw * Cpg * w->plane), cg_idx(c, w->image_floats));
}

/* The padding columns of one copied row of a phase plane (row starts at `row`): [0, j0) and
 * [j0 + count, wq). A few floats each: scalar stores, in the pass that writes the row. */
static void phase_row_padding(Cg *c, const IrConvWide *w, LLVMValueRef row, int64_t j0,
                              int64_t count) {
  for (int64_t j = 0; j < j0; j++) cg_store(c, cg_f32c(c, 0.0), row, cg_idx(c, j));
  if (w->wq - j0 - count <= 4)
    for (int64_t j = j0 + count; j < w->wq; j++) cg_store(c, cg_f32c(c, 0.0), row, cg_idx(c, j));
  else
    cg_zero_floats(c, row, cg_idx(c, j0 + count), cg_idx(c, w->wq));
}

/* q: xg is int8, the image gets x - zp as i32 (or as f32 with q_f32); else f32 copies */
static void phase_images(Cg *c, const IrConvParams *p, const IrConvWide *wp, LLVMValueRef xg,
                         bool q, bool q_f32, int32_t zp, LLVMValueRef image) {
  IrConvWide w = *wp;
  LLVMTypeRef et = q && !q_f32 ? c->t_i32 : c->t_f32, xt = q ? c->t_i8 : c->t_f32;
  int64_t Cpg = p->c_per_group, sh = p->stride_h, sw = p->stride_w;
  zero_phase_padding(c, p, &w, image);
  /* input row ih is padded row r = ih + pad_t = i*sh + py: phase row py, plane row i; its
   * pixels iw = iw0 + t*sw (padded column iw + pad_l) all land in phase column px, plane column
   * j0 + t. Loops over (py, i) and (px, t) with compile-time bounds: no division at run time. */
  CgLoop lic, lih;
  LLVMValueRef ic = cg_for(c, &lic, Cpg);
  for (int64_t py = 0; py < sh; py++) {
    int64_t i_lo, i_hi;
    phase_rows(p, &w, py, &i_lo, &i_hi);
    if (i_lo >= i_hi) continue;
    LLVMValueRef i = cg_loop_begin(c, &lih, cg_idx(c, i_lo), cg_idx(c, i_hi));
    lih.no_unroll = true; /* -O3 would unroll the row copies into hoisted, spilled addresses */
    LLVMValueRef ih = cg_addc(c, cg_mulc(c, i, sh), py - p->pad_t);
    LLVMValueRef src =
        cg_gep(c, xt, xg, cg_add(c, cg_mulc(c, ic, p->h * p->w), cg_mulc(c, ih, p->w)));
    if (sw == 2 && p->w >= 2 && !q) {
      /* even input columns land in one phase, odd ones in the other: one deinterleaving copy */
      LLVMValueRef dst[2];
      for (int64_t px = 0; px < 2; px++) {
        int64_t iw0, j0, count;
        phase_cols(p, px, &iw0, &j0, &count);
        LLVMValueRef plane = cg_addc(c, ic, (py * 2 + px) * Cpg);
        LLVMValueRef row =
            cg_gep(c, c->t_f32, image, cg_add(c, cg_mulc(c, plane, w.plane), cg_mulc(c, i, w.wq)));
        phase_row_padding(c, &w, row, j0, count);
        dst[iw0] = cg_gep(c, c->t_f32, row, cg_idx(c, j0));
      }
      cg_copy_deinterleave(c, src, dst[0], dst[1], (p->w + 1) / 2, p->w / 2);
      cg_loop_end(c, &lih, NULL, NULL);
      continue;
    }
    for (int64_t px = 0; px < sw; px++) {
      int64_t iw0, j0, count;
      phase_cols(p, px, &iw0, &j0, &count);
      if (count == 0) continue;
      LLVMValueRef plane = cg_addc(c, ic, (py * sw + px) * Cpg);
      LLVMValueRef row =
          cg_gep(c, et, image, cg_add(c, cg_mulc(c, plane, w.plane), cg_mulc(c, i, w.wq)));
      phase_row_padding(c, &w, row, j0, count); /* 4-byte elements: f32 0 is i32 0 */
      LLVMValueRef dst = cg_gep(c, et, row, cg_idx(c, j0));
      if (q) { /* widened with the zero point subtracted; vectorized where sw is 1 */
        CgLoop lt;
        LLVMValueRef tt = cg_for(c, &lt, count);
        lt.keep = sw > 1;
        LLVMValueRef b = LLVMBuildLoad2(
            c->b, c->t_i8, cg_gep(c, c->t_i8, src, cg_addc(c, cg_mulc(c, tt, sw), iw0)), "");
        LLVMSetAlignment(b, 1);
        LLVMValueRef x =
            LLVMBuildSub(c->b, LLVMBuildSExt(c->b, b, c->t_i32, ""), cg_i32c(c, zp), "");
        if (q_f32) x = LLVMBuildSIToFP(c->b, x, c->t_f32, "");
        LLVMSetAlignment(LLVMBuildStore(c->b, x, cg_gep(c, et, dst, tt)), 4);
        cg_loop_end(c, &lt, NULL, NULL);
        continue;
      }
      if (sw == 1) {
        cg_memcpy(c, dst, cg_gep(c, c->t_f32, src, cg_idx(c, iw0)),
                  cg_idx(c, count * (int64_t)sizeof(float)));
        continue;
      }
      CgLoop lt;
      LLVMValueRef tt = cg_for(c, &lt, count);
      lt.keep = true; /* a strided copy: scalar moves, not gathers */
      cg_store(c, cg_load(c, src, cg_addc(c, cg_mulc(c, tt, sw), iw0)), dst, tt);
      cg_loop_end(c, &lt, NULL, NULL);
    }
    cg_loop_end(c, &lih, NULL, NULL);
  }
  cg_loop_end(c, &lic, NULL, NULL);
}

void cg_conv_phase_images(Cg *c, const IrConvParams *p, const IrConvWide *w, LLVMValueRef xg,
                          LLVMValueRef image) {
  phase_images(c, p, w, xg, false, false, 0, image);
}

void cg_conv_phase_images_i8(Cg *c, const IrConvParams *p, const IrConvWide *w, LLVMValueRef xg,
                             int32_t zp, bool as_f32, LLVMValueRef image) {
  phase_images(c, p, w, xg, true, as_f32, zp, image);
}

void cg_conv_wide_store(Cg *c, const IrNode *n, const IrConvParams *p, const IrConvWide *wp,
                        LLVMValueRef *in, LLVMValueRef wide, LLVMValueRef obase, LLVMValueRef out) {
  IrConvWide w = *wp;
  int64_t P = p->oh * p->ow;
  CgLoop lm, loh, low;
  LLVMValueRef m = cg_for(c, &lm, p->m_per_group);
  LLVMValueRef oh = cg_for(c, &loh, p->oh);
  LLVMValueRef wrow =
      cg_gep(c, c->t_f32, wide, cg_add(c, cg_mulc(c, m, w.wide_cols), cg_mulc(c, oh, w.wq)));
  LLVMValueRef o0 = cg_add(c, cg_add(c, obase, cg_mulc(c, m, P)), cg_mulc(c, oh, p->ow));
  LLVMValueRef ow = cg_for(c, &low, p->ow);
  /* vectorized along ow; fully unrolled, LLVM would vectorize the oh loop with gathers */
  low.no_unroll = true;
  LLVMValueRef at = cg_add(c, o0, ow);
  cg_store(c, cg_epilogue(c, n, in, cg_load(c, wrow, ow), at), out, at);
  cg_loop_end(c, &low, NULL, NULL);
  cg_loop_end(c, &loh, NULL, NULL);
  cg_loop_end(c, &lm, NULL, NULL);
}

/* The tap offsets of IR_KERNEL_CONV_WIDE (ir_conv_wide_tap), as a constant array of
 * pointer-sized integers. */
static LLVMValueRef wide_tap_offsets(Cg *c, const IrNode *n, const IrConvParams *p) {
  IrConvWide w;
  ir_conv_wide(p, n_tile_cols(n), &w);
  int64_t K = p->c_per_group * p->kh * p->kw, *off = malloc(sizeof(int64_t) * (size_t)K + 1);
  if (!off) abort();
  for (int64_t k = 0; k < K; k++) off[k] = ir_conv_wide_tap(p, &w, k);
  LLVMValueRef g = cg_const_offsets(c, off, K);
  free(off);
  return g;
}

LLVMValueRef cg_const_offsets(Cg *c, const int64_t *off, int64_t n) {
  size_t esize = LLVMABISizeOfType(c->td, c->t_idx);
  unsigned char *bytes = malloc(esize * (size_t)n + 1);
  if (!bytes) abort();
  for (int64_t k = 0; k < n; k++) {
    int32_t o32 = (int32_t)off[k];
    memcpy(bytes + esize * (size_t)k, esize == 8 ? (const void *)&off[k] : (const void *)&o32,
           esize);
  }
  char name[300];
  snprintf(name, sizeof name, "%s.taps.%d", c->prefix, c->n_derived++);
  LLVMValueRef g = cg_const_bytes(c, bytes, esize * (size_t)n, name);
  free(bytes);
  return g;
}

/* IR_KERNEL_CONV_GEMM / IR_KERNEL_CONV_1X1 for one (batch, group): the output pixels in column
 * panels (the whole image for 1x1, read in place), each packed (im2col) into the scratch and
 * multiplied by the packed weights, the output written in place in NCHW. */
static void conv_panels(Cg *c, const IrNode *n, const IrConvParams *p, LLVMValueRef *in,
                        LLVMValueRef xg, LLVMValueRef obase, LLVMValueRef out, CgVecInfo vec,
                        CgTile t, const CgGemmA *a, LLVMValueRef bias) {
  bool pointwise = n->kernel == IR_KERNEL_CONV_1X1;
  int64_t P = p->oh * p->ow, K = p->c_per_group * p->kh * p->kw, nr = (int64_t)t.nrv * vec.lanes;
  int64_t pc = pointwise ? P : ir_conv_panel_cols_of_scratch(p, n->scratch_bytes, n_tile_cols(n));
  if (pc < P) pc = pc / nr * nr > nr ? pc / nr * nr : nr; /* whole tiles in full panels */
  int64_t full = P / pc, tail = P - full * pc;
  CgLoop lp;
  for (int part = 0; part < 2; part++) {
    int64_t cols = part == 0 ? pc : tail;
    if (cols == 0 || (part == 0 && full == 0)) continue;
    /* first pixel p0 of the panel, and its row and column (p0 = oh0*OW + ow0) kept as running
     * values instead of divisions */
    LLVMValueRef p0, oh0, ow0;
    if (part == 0) {
      cg_for(c, &lp, full);
      lp.keep = true;
      oh0 = cg_loop_acc(c, &lp, cg_idx(c, 0));
      ow0 = cg_loop_acc(c, &lp, cg_idx(c, 0));
      p0 = cg_add(c, cg_mulc(c, oh0, p->ow), ow0);
    } else {
      p0 = cg_idx(c, full * pc);
      oh0 = cg_idx(c, full * pc / p->ow);
      ow0 = cg_idx(c, full * pc % p->ow);
    }
    CgGemmB b;
    if (pointwise) {
      b = (CgGemmB){.base = cg_gep(c, c->t_f32, xg, p0), .s_k = p->h * p->w};
    } else {
      int64_t stride = (cols + nr - 1) / nr * nr;
      pack_panel(c, p, xg, oh0, ow0, cols, stride);
      b = (CgGemmB){.base = c->scratch, .s_k = stride, .padded = true};
    }
    LLVMValueRef cbase = cg_add(c, obase, p0);
    FlatEpi e = {n, in, cbase, P};
    CgGemmC cc = {.base = cg_gep(c, c->t_f32, out, cbase), .ldc = P, .row_bias = bias};
    set_epilogue(&cc, &e);
    cg_gemm_emit(c, vec, t, p->m_per_group, cols, K, a, &b, &cc);
    if (part == 0) { /* advance (oh0, ow0) by pc pixels */
      LLVMValueRef ow1 = cg_addc(c, ow0, pc % p->ow);
      LLVMValueRef wrap = LLVMBuildICmp(c->b, LLVMIntSGE, ow1, cg_idx(c, p->ow), "");
      LLVMValueRef next[2] = {
          cg_add(c, cg_addc(c, oh0, pc / p->ow), LLVMBuildZExt(c->b, wrap, c->t_idx, "")),
          LLVMBuildSelect(c->b, wrap, cg_addc(c, ow1, -p->ow), ow1, "")};
      cg_loop_end(c, &lp, next, NULL);
    }
  }
}

/* The columns of the product the tile is chosen for (cg_tiled_conv and kiln inspect): the wide
 * rows, or, for im2col, one panel where the scratch holds less than the whole image (a tile
 * width that does not divide the panel costs padding or, rounded down by conv_panels, panels
 * that split output rows: ResNet-8 on the Cortex-M4 took 4 x 5 tiles on 32-column panels). */
static int64_t conv_gemm_cols(const IrNode *n, const IrConvParams *p) {
  int64_t N = p->oh * p->ow;
  if (n->kernel == IR_KERNEL_CONV_WIDE) {
    IrConvWide w;
    ir_conv_wide(p, n_tile_cols(n), &w);
    return w.wide_cols;
  }
  if (n->kernel == IR_KERNEL_CONV_GEMM) {
    int64_t pc = ir_conv_panel_cols_of_scratch(p, n->scratch_bytes, n_tile_cols(n));
    if (pc > 0 && pc < N) N = pc;
  }
  return N;
}

bool cg_tiled_conv(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrConvParams p;
  bool ok = ir_conv_params(n, &p, NULL);
  (void)ok;
  assert(ok && n->inputs[1]->kind == IR_VALUE_CONST); /* the kernel pass checked */
  if (n->kernel == IR_KERNEL_CONV_WINOGRAD) return cg_winograd_conv(c, n, &p, in, out[0]);
  int64_t Mpg = p.m_per_group, Cpg = p.c_per_group, K = Cpg * p.kh * p.kw, P = p.oh * p.ow;
  CgVecInfo vec = cg_vec_info(c);
  CgTile t = cg_gemm_tile(vec, Mpg, conv_gemm_cols(n, &p), K, n_tile_cols(n));
  /* weights [M][Cpg][kh][kw]: group g's rows, blocks of mr, at g*Mpg*K in the packed copy */
  LLVMValueRef wpack = cg_node_derived(
      c, n->inputs[1], cg_pack_a(c, n->inputs[1]->data, p.group, Mpg, K, K, 1, t.mr, "convpack"));

  LLVMValueRef koff = n->kernel == IR_KERNEL_CONV_WIDE ? wide_tap_offsets(c, n, &p) : NULL;
  CgLoop ln, lg;
  LLVMValueRef ni = cg_for(c, &ln, p.n);
  LLVMValueRef gi = cg_for(c, &lg, p.group);
  LLVMValueRef xg =
      cg_gep(c, c->t_f32, in[0],
             cg_mulc(c, cg_add(c, cg_mulc(c, ni, p.c), cg_mulc(c, gi, Cpg)), p.h * p.w));
  LLVMValueRef obase = cg_mulc(c, cg_add(c, cg_mulc(c, ni, p.m), cg_mulc(c, gi, Mpg)), P);
  CgGemmA a = {cg_gep(c, c->t_f32, wpack, cg_mulc(c, gi, Mpg * K)), 0, 0, true, NULL};
  LLVMValueRef bias = p.has_bias ? cg_gep(c, c->t_f32, in[2], cg_mulc(c, gi, Mpg)) : NULL;
  if (koff)
    conv_wide(c, n, &p, in, xg, obase, out[0], vec, t, &a, bias, koff);
  else
    conv_panels(c, n, &p, in, xg, obase, out[0], vec, t, &a, bias);
  cg_loop_end(c, &lg, NULL, NULL);
  cg_loop_end(c, &ln, NULL, NULL);
  return true;
}

/* ---- ConvTranspose ----------------------------------------------------------------------------
 */

bool cg_tiled_conv_transpose(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrConvParams p;
  bool ok = ir_conv_params(n, &p, NULL);
  (void)ok;
  assert(ok && p.group == 1 && n->inputs[1]->kind == IR_VALUE_CONST); /* the kernel pass checked */
  int64_t KK = p.kh * p.kw, Mt = p.m * KK, HW = p.h * p.w, OHW = p.oh * p.ow;
  CgVecInfo vec = cg_vec_info(c);
  /* cols[(m, kh, kw)][pixel] = W^T x: the weights [C][M][kh][kw] are the broadcast operand,
   * packed at compile time, the input pixels the vectors. With few pixels (a generator's first
   * layers: 1x1, 4x4) the vectors would be mostly empty, so the product is taken transposed,
   * cols^T[pixel][(m, kh, kw)] = x^T W: W is already [C][M*kh*kw] row-major, packed as the
   * vector operand, and each step broadcasts the pixels (adjacent in x) */
  CgLoop ln, lm, lkh, lkw, lih, liw;
  bool trans = HW < 16;
  int64_t s_pix = trans ? Mt : 1, s_row = trans ? 1 : HW; /* cols element strides */
  LLVMValueRef ni = cg_for(c, &ln, p.n);
  LLVMValueRef x = cg_gep(c, c->t_f32, in[0], cg_mulc(c, ni, p.c * HW));
  CgGemmC cc = {.base = c->scratch, .ldc = trans ? Mt : HW};
  if (trans) {
    CgTile t = cg_gemm_tile(vec, HW, Mt, p.c, IR_TILE_COLS_MAX);
    CgGemmA a = {x, 1, HW, false, NULL};
    CgGemmB b = {.base = cg_node_derived(c, n->inputs[1],
                                         cg_pack_b(c, n->inputs[1]->data, p.c, Mt, Mt, 1,
                                                   t.nrv * vec.lanes, "convtpack")),
                 .packed = true};
    cg_gemm_emit(c, vec, t, HW, Mt, p.c, &a, &b, &cc);
  } else {
    CgTile t = cg_gemm_tile(vec, Mt, HW, p.c, IR_TILE_COLS_MAX);
    CgGemmA a = {
        cg_node_derived(c, n->inputs[1],
                        cg_pack_a(c, n->inputs[1]->data, 1, Mt, p.c, 1, Mt, t.mr, "convtpack")),
        0, 0, true, NULL};
    CgGemmB b = {.base = x, .s_k = HW};
    cg_gemm_emit(c, vec, t, Mt, HW, p.c, &a, &b, &cc);
  }
  /* col2im: output plane m starts as the bias; column (m, kh, kw) adds x-pixel (ih, iw)'s
   * product at output (ih*sh - pt + kh*dh, iw*sw - pl + kw*dw), for the pixels that land inside
   * (output_padding cells keep the bias) */
  LLVMValueRef m = cg_for(c, &lm, p.m);
  LLVMValueRef oplane =
      cg_gep(c, c->t_f32, out[0], cg_mulc(c, cg_add(c, cg_mulc(c, ni, p.m), m), OHW));
  LLVMValueRef bias = p.has_bias ? cg_load(c, in[2], m) : cg_f32c(c, 0.0);
  CgLoop lf;
  LLVMValueRef f = cg_for(c, &lf, OHW);
  cg_store(c, bias, oplane, f);
  cg_loop_end(c, &lf, NULL, NULL);
  LLVMValueRef kh = cg_for(c, &lkh, p.kh);
  LLVMValueRef kw = cg_for(c, &lkw, p.kw);
  LLVMValueRef col =
      cg_gep(c, c->t_f32, c->scratch,
             cg_mulc(c, cg_add(c, cg_add(c, cg_mulc(c, m, KK), cg_mulc(c, kh, p.kw)), kw), s_row));
  LLVMValueRef wbase = cg_addc(c, cg_mulc(c, kw, p.dil_w), -p.pad_l), iw_lo, iw_hi;
  cg_valid_range(c, wbase, p.stride_w, p.ow, p.w, &iw_lo, &iw_hi);
  LLVMValueRef hbase = cg_addc(c, cg_mulc(c, kh, p.dil_h), -p.pad_t), ih_lo, ih_hi;
  cg_valid_range(c, hbase, p.stride_h, p.oh, p.h, &ih_lo, &ih_hi);
  LLVMValueRef ih = cg_loop_begin(c, &lih, ih_lo, ih_hi);
  LLVMValueRef orow =
      cg_gep(c, c->t_f32, oplane, cg_mulc(c, cg_add(c, cg_mulc(c, ih, p.stride_h), hbase), p.ow));
  LLVMValueRef crow = cg_gep(c, c->t_f32, col, cg_mulc(c, ih, p.w * s_pix));
  LLVMValueRef iw = cg_loop_begin(c, &liw, iw_lo, iw_hi);
  if (p.stride_w != 1 || trans) liw.keep = true; /* strided: scalar moves, not gathers */
  LLVMValueRef at = cg_add(c, cg_mulc(c, iw, p.stride_w), wbase);
  LLVMValueRef v = cg_load(c, crow, cg_mulc(c, iw, s_pix));
  cg_store(c, LLVMBuildFAdd(c->b, cg_load(c, orow, at), v, ""), orow, at);
  cg_loop_end(c, &liw, NULL, NULL);
  cg_loop_end(c, &lih, NULL, NULL);
  cg_loop_end(c, &lkw, NULL, NULL);
  cg_loop_end(c, &lkh, NULL, NULL);
  cg_epilogue_row(c, n, in, oplane, cg_mulc(c, cg_add(c, cg_mulc(c, ni, p.m), m), OHW), OHW);
  cg_loop_end(c, &lm, NULL, NULL);
  cg_loop_end(c, &ln, NULL, NULL);
  return true;
}

/* ---- tiles for `kiln inspect` ---------------------------------------------------------------- */

/* The product the tiled kernel of n computes (per matrix / group): C[M][N] over K. */
static void node_gemm_shape(const IrNode *n, int64_t *M, int64_t *N, int64_t *K) {
  const IrValue *A = n->inputs[0], *B = n->inputs[1];
  if (n->op == IR_OP_CONV) {
    IrConvParams p;
    bool ok = ir_conv_params(n, &p, NULL);
    (void)ok;
    assert(ok);
    *M = p.m_per_group, *N = conv_gemm_cols(n, &p), *K = p.c_per_group * p.kh * p.kw;
    if (n->kernel == IR_KERNEL_CONV_WINOGRAD) { /* each of the 16 products */
      IrConvWinograd w;
      ir_conv_winograd(&p, n_tile_cols(n), n->scratch_bytes, &w);
      *N = w.cols, *K = p.c;
    }
  } else if (n->op == IR_OP_CONV_TRANSPOSE) { /* cg_tiled_conv_transpose's orientation */
    IrConvParams p;
    bool ok = ir_conv_params(n, &p, NULL);
    (void)ok;
    assert(ok);
    int64_t Mt = p.m * p.kh * p.kw, HW = p.h * p.w;
    *M = HW < 16 ? HW : Mt, *N = HW < 16 ? Mt : HW, *K = p.c;
    IrConvSubpixel s;
    if (n->kernel == IR_KERNEL_CONVT_SUBPIXEL && ir_conv_subpixel(&p, IR_TILE_COLS_MAX, &s))
      *M = p.m, *N = s.ny[0] * s.wp, *K = p.c * s.th * s.tw; /* phase (0, 0), the largest */
  } else if (n->op == IR_OP_GEMM) {
    bool ta = ir_attr_i(n, "transA") != 0, tb = ir_attr_i(n, "transB") != 0;
    *M = A->dims[ta ? 1 : 0], *K = A->dims[ta ? 0 : 1], *N = B->dims[tb ? 0 : 1];
  } else {
    *M = matmul_rows(n), *K = A->dims[A->rank - 1], *N = B->dims[B->rank - 1];
  }
}

bool cg_kernel_tiles(const IrGraph *g, const CgOptions *o, CgNodeTile *tiles, IrDiag *d) {
  Cg c;
  if (!cg_session_begin(&c, o, d)) return false;
  CgVecInfo vec = cg_vec_info(&c);
  for (int i = 0; i < g->n_nodes; i++) {
    const IrNode *n = g->nodes[i];
    tiles[i] = (CgNodeTile){vec.lanes, 0, 0};
    if (n->kernel == IR_KERNEL_DEFAULT || ir_kernel_is_sparse(n->kernel)) continue;
    /* the f32 micro-kernel's products only (an int8 node's inputs are laid out otherwise: a
     * QLinearConv's second input is a scale) */
    if (n->op != IR_OP_CONV && n->op != IR_OP_CONV_TRANSPOSE && n->op != IR_OP_GEMM &&
        n->op != IR_OP_MATMUL)
      continue;
    int64_t M, N, K;
    node_gemm_shape(n, &M, &N, &K);
    int max_nr = n->op == IR_OP_CONV ? n_tile_cols(n) : IR_TILE_COLS_MAX;
    if (n->kernel == IR_KERNEL_CONV_NCHWC) { /* cg_nchwc.c: rows of output pixels, one block */
      M = n->outputs[0]->dims[3];
      N = n->outputs[0]->dims[1];
      max_nr = 4 * n->outputs[0]->layout_block;
    }
    CgTile t = cg_gemm_tile(vec, M, N, K, max_nr);
    tiles[i].mr = t.mr;
    tiles[i].nr = t.nrv * vec.lanes;
  }
  cg_session_end(&c);
  return true;
}
