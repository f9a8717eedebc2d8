/* ConvTranspose as sub-pixel convolutions (IR_KERNEL_CONVT_SUBPIXEL, ir_conv_subpixel,
 * docs/kernels.md). With stride s, output row oy (oy + pad_t = q*s + r) is the sum over the
 * taps ky = r + t*s of input rows q - t: each of the s*s output phases is an ordinary stride-1
 * convolution of the input with the sub-kernel of its taps, computed by the micro-kernel on the
 * padded input image (read in place through a table of tap offsets, as conv-padded-wide-gemm),
 * and its outputs are written once, interleaved with the other column phases. The col2im form
 * adds every tap's product into the output instead (a scatter of M*kh*kw*H*W sums). */
#include <assert.h>
#include <stdlib.h>

#include "cg_kernels.h"

/* A[m][(c*T + t)*U + u] = W[c][m][ry + t*sh][rx + u*sw]: phase (ry, rx)'s sub-kernel from the
 * ConvTranspose weights [c][m][kh][kw], in the micro-kernel's packed order. */
static LLVMValueRef phase_weights(Cg *c, const IrConvParams *p, const float *w, int64_t ry,
                                  int64_t rx, int64_t T, int64_t U, int mr) {
  int64_t K = p->c * T * U;
  float *a = malloc(sizeof(float) * (size_t)(p->m * K));
  if (!a) abort();
  for (int64_t m = 0; m < p->m; m++)
    for (int64_t ic = 0; ic < p->c; ic++)
      for (int64_t t = 0; t < T; t++)
        for (int64_t u = 0; u < U; u++)
          a[m * K + (ic * T + t) * U + u] =
              w[((ic * p->m + m) * p->kh + ry + t * p->stride_h) * p->kw + rx + u * p->stride_w];
  LLVMValueRef packed = cg_pack_a(c, a, 1, p->m, K, K, 1, mr, "convtsub");
  free(a);
  return packed;
}

/* Tap (c, t, u) of phase (ry, rx) reads image row q - t - iy0 and column qx - u - ix0 for
 * output (q, qx); relative to the phase's first output (qy0, qx0), at wide column 0. */
static LLVMValueRef phase_taps(Cg *c, const IrConvParams *p, const IrConvSubpixel *s, int64_t ry,
                               int64_t rx, int64_t T, int64_t U) {
  int64_t K = p->c * T * U, *off = malloc(sizeof(int64_t) * (size_t)K);
  if (!off) abort();
  for (int64_t ic = 0; ic < p->c; ic++)
    for (int64_t t = 0; t < T; t++)
      for (int64_t u = 0; u < U; u++)
        off[(ic * T + t) * U + u] =
            ic * s->hp * s->wp + (s->qy0[ry] - t - s->iy0) * s->wp + s->qx0[rx] - u - s->ix0;
  LLVMValueRef g = cg_const_offsets(c, off, K);
  free(off);
  return g;
}

bool cg_subpixel_conv_transpose(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrConvParams p;
  IrConvSubpixel s;
  bool ok = ir_conv_params(n, &p, NULL) && ir_conv_subpixel(&p, IR_TILE_COLS_MAX, &s);
  (void)ok;
  assert(ok && n->inputs[1]->kind == IR_VALUE_CONST); /* the kernel pass checked */
  assert(n->scratch_bytes >= s.scratch_bytes);
  CgVecInfo vec = cg_vec_info(c);
  int64_t sh = p.stride_h, sw = p.stride_w, OHW = p.oh * p.ow;
  const float *w = n->inputs[1]->data;
  LLVMValueRef image = c->scratch, bias = p.has_bias ? in[2] : NULL;
  LLVMValueRef wide[IR_SUBPIXEL_MAX_STRIDE];
  for (int64_t rx = 0; rx < sw; rx++)
    wide[rx] = cg_gep(c, c->t_f32, c->scratch, cg_idx(c, s.image_floats + rx * s.wide_floats));
  /* the phases' weights and tap tables, once per node (outside the batch loop) */
  LLVMValueRef a_phase[IR_SUBPIXEL_MAX_STRIDE][IR_SUBPIXEL_MAX_STRIDE];
  LLVMValueRef koff[IR_SUBPIXEL_MAX_STRIDE][IR_SUBPIXEL_MAX_STRIDE];
  CgTile tile[IR_SUBPIXEL_MAX_STRIDE][IR_SUBPIXEL_MAX_STRIDE];
  for (int64_t ry = 0; ry < sh; ry++)
    for (int64_t rx = 0; rx < sw; rx++) {
      int64_t T = ir_subpixel_taps(p.kh, sh, ry), U = ir_subpixel_taps(p.kw, sw, rx);
      tile[ry][rx] = cg_gemm_tile(vec, p.m, s.ny[ry] * s.wp, p.c * T * U, IR_TILE_COLS_MAX);
      a_phase[ry][rx] = phase_weights(c, &p, w, ry, rx, T, U, tile[ry][rx].mr);
      koff[ry][rx] = phase_taps(c, &p, &s, ry, rx, T, U);
    }
  /* the input rows and columns inside the image */
  int64_t iy_lo = s.iy0 > 0 ? s.iy0 : 0, iy_hi = s.iy0 + s.hp < p.h ? s.iy0 + s.hp : p.h;
  int64_t ix_lo = s.ix0 > 0 ? s.ix0 : 0, ix_hi = s.ix0 + s.wp < p.w ? s.ix0 + s.wp : p.w;

  CgLoop ln;
  LLVMValueRef ni = cg_for(c, &ln, p.n);
  LLVMValueRef x = cg_gep(c, c->t_f32, in[0], cg_mulc(c, ni, p.c * p.h * p.w));
  cg_memset(c, image, 0, s.image_floats * (int64_t)sizeof(float));
  if (iy_lo < iy_hi && ix_lo < ix_hi) {
    CgLoop lc, lr;
    LLVMValueRef ch = cg_for(c, &lc, p.c);
    LLVMValueRef iy = cg_loop_begin(c, &lr, cg_idx(c, iy_lo), cg_idx(c, iy_hi));
    LLVMValueRef src =
        cg_gep(c, c->t_f32, x,
               cg_addc(c, cg_add(c, cg_mulc(c, ch, p.h * p.w), cg_mulc(c, iy, p.w)), ix_lo));
    LLVMValueRef dst = cg_gep(
        c, c->t_f32, image,
        cg_addc(c, cg_add(c, cg_mulc(c, ch, s.hp * s.wp), cg_mulc(c, cg_addc(c, iy, -s.iy0), s.wp)),
                ix_lo - s.ix0));
    cg_memcpy(c, dst, src, cg_idx(c, (ix_hi - ix_lo) * (int64_t)sizeof(float)));
    cg_loop_end(c, &lr, NULL, NULL);
    cg_loop_end(c, &lc, NULL, NULL);
  }
  LLVMValueRef oimg = cg_mulc(c, ni, p.m * OHW); /* this batch item's output, flat */
  for (int64_t ry = 0; ry < sh; ry++) {
    int64_t N = s.ny[ry] * s.wp;
    for (int64_t rx = 0; rx < sw; rx++) {
      CgGemmA a = {.base = a_phase[ry][rx], .packed = true};
      CgGemmB b = {.base = image,
                   .padded = true,
                   .koff = koff[ry][rx],
                   .bytes = s.image_floats * (int64_t)sizeof(float)};
      CgGemmC cc = {.base = wide[rx], .ldc = N, .row_bias = bias};
      int64_t K = p.c * ir_subpixel_taps(p.kh, sh, ry) * ir_subpixel_taps(p.kw, sw, rx);
      cg_gemm_emit(c, vec, tile[ry][rx], p.m, N, K, &a, &b, &cc);
    }
    /* output rows oy = (qy0 + r)*sh + ry - pad_t; along a row, output column ox comes from
     * column phase (ox + pad_l) % sw at wide column (ox + pad_l) / sw - qx0 */
    CgLoop lm, lr;
    LLVMValueRef m = cg_for(c, &lm, p.m);
    LLVMValueRef r = cg_for(c, &lr, s.ny[ry]);
    lr.no_unroll = true;
    LLVMValueRef oy = cg_addc(c, cg_mulc(c, r, sh), s.qy0[ry] * sh + ry - p.pad_t);
    LLVMValueRef flat = cg_add(c, oimg, cg_add(c, cg_mulc(c, m, OHW), cg_mulc(c, oy, p.ow)));
    LLVMValueRef orow = cg_gep(c, c->t_f32, out[0], flat);
    LLVMValueRef src[IR_SUBPIXEL_MAX_STRIDE];
    for (int64_t rx = 0; rx < sw; rx++)
      src[rx] = cg_gep(c, c->t_f32, wide[rx], cg_add(c, cg_mulc(c, m, N), cg_mulc(c, r, s.wp)));
    int64_t rx0 = p.pad_l % sw; /* the column phase of ox = 0 */
    if (sw == 1) {
      cg_memcpy(c, orow, src[0], cg_idx(c, p.ow * (int64_t)sizeof(float)));
    } else if (sw == 2) {
      cg_copy_interleave(c, orow, src[rx0], src[1 - rx0], s.nx[rx0], s.nx[1 - rx0]);
    } else {
      for (int64_t k = 0; k < sw; k++) { /* output columns ox = k, k + sw, ... */
        int64_t rx = (rx0 + k) % sw, cnt = s.nx[rx];
        CgLoop lt;
        LLVMValueRef t = cg_for(c, &lt, cnt);
        lt.keep = true; /* strided stores: scalar moves, not scatters */
        cg_store(c, cg_load(c, src[rx], t), orow, cg_addc(c, cg_mulc(c, t, sw), k));
        cg_loop_end(c, &lt, NULL, NULL);
      }
    }
    cg_epilogue_row(c, n, in, orow, flat, p.ow);
    cg_loop_end(c, &lr, NULL, NULL);
    cg_loop_end(c, &lm, NULL, NULL);
  }
  cg_loop_end(c, &ln, NULL, NULL);
  return true;
}
