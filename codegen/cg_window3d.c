/* Lowerings of Conv, ConvTranspose, MaxPool and AveragePool on 3-D data [N, C, D, H, W] (cg_nn.c
 * dispatches here): plain loop nests in the row form of the 2-D direct kernels. Each output row
 * (n, m, od, oh) accumulates, per tap (ic, kd, kh, kw), a contiguous run of output columns; the
 * kd and kh ranges that stay inside the input and the column range of each kw are computed with
 * cg_valid_range, so the innermost loop has no padding branch and vectorizes where the stride
 * along W is 1. No scratch. Geometry from ir_conv_nd_params, as the interpreter. */
#include <assert.h>
#include <math.h>

#include "cg_internal.h"
#include "cg_window3d.h"
#include "conv_params.h"

static IrConvNd params3(const IrNode *n) {
  IrConvNd p;
  bool ok = ir_conv_nd_params(n, &p, NULL);
  assert(ok && p.spatial == 3); /* shape inference resolved the same geometry */
  (void)ok;
  return p;
}

bool cg_lower_conv3d(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  assert(cg_all_f32(n));
  IrConvNd p = params3(n);
  const int64_t *I = p.in, *O = p.out, *K = p.k, *S = p.stride, *Dl = p.dil, *Pb = p.pad_begin;
  int64_t Cpg = p.c_per_group, Mpg = p.m_per_group, ivol = I[0] * I[1] * I[2];
  int64_t ovol = O[0] * O[1] * O[2], kvol = K[0] * K[1] * K[2];
  CgLoop ln, lg, lmg, lic, lod, loh, lkd, lkh, lkw, low;
  LLVMValueRef ni = cg_for(c, &ln, p.n);
  LLVMValueRef gi = cg_for(c, &lg, p.group);
  LLVMValueRef mgi = cg_for(c, &lmg, Mpg);
  LLVMValueRef m = cg_add(c, cg_mulc(c, gi, Mpg), mgi);
  LLVMValueRef obase = cg_mulc(c, cg_add(c, cg_mulc(c, ni, p.m), m), ovol);
  LLVMValueRef oplane = cg_gep(c, c->t_f32, out[0], obase);
  cg_fill_row(c, oplane, ovol, p.has_bias ? cg_load(c, in[2], m) : cg_f32c(c, 0.0));

  LLVMValueRef ic = cg_for(c, &lic, Cpg);
  LLVMValueRef ch = cg_add(c, cg_mulc(c, gi, Cpg), ic);
  LLVMValueRef xvol =
      cg_gep(c, c->t_f32, in[0], cg_mulc(c, cg_add(c, cg_mulc(c, ni, p.c), ch), ivol));
  LLVMValueRef wk = cg_gep(c, c->t_f32, in[1], cg_mulc(c, cg_add(c, cg_mulc(c, m, Cpg), ic), kvol));
  LLVMValueRef od = cg_for(c, &lod, O[0]);
  LLVMValueRef dbase = cg_addc(c, cg_mulc(c, od, S[0]), -Pb[0]), kd_lo, kd_hi;
  cg_valid_range(c, dbase, Dl[0], I[0], K[0], &kd_lo, &kd_hi);
  LLVMValueRef oh = cg_for(c, &loh, O[1]);
  LLVMValueRef hbase = cg_addc(c, cg_mulc(c, oh, S[1]), -Pb[1]), kh_lo, kh_hi;
  cg_valid_range(c, hbase, Dl[1], I[1], K[1], &kh_lo, &kh_hi);
  LLVMValueRef orow =
      cg_gep(c, c->t_f32, oplane, cg_mulc(c, cg_add(c, cg_mulc(c, od, O[1]), oh), O[2]));
  LLVMValueRef kd = cg_loop_begin(c, &lkd, kd_lo, kd_hi);
  LLVMValueRef kh = cg_loop_begin(c, &lkh, kh_lo, kh_hi);
  LLVMValueRef id = cg_add(c, dbase, cg_mulc(c, kd, Dl[0]));
  LLVMValueRef ih = cg_add(c, hbase, cg_mulc(c, kh, Dl[1]));
  LLVMValueRef xrow =
      cg_gep(c, c->t_f32, xvol, cg_mulc(c, cg_add(c, cg_mulc(c, id, I[1]), ih), I[2]));
  LLVMValueRef wrow =
      cg_gep(c, c->t_f32, wk, cg_mulc(c, cg_add(c, cg_mulc(c, kd, K[1]), kh), K[2]));
  LLVMValueRef kw = cg_for(c, &lkw, K[2]);
  LLVMValueRef wv = cg_load(c, wrow, kw);
  LLVMValueRef wbase = cg_addc(c, cg_mulc(c, kw, Dl[2]), -Pb[2]), ow_lo, ow_hi;
  cg_valid_range(c, wbase, S[2], I[2], O[2], &ow_lo, &ow_hi);
  LLVMValueRef ow = cg_loop_begin(c, &low, ow_lo, ow_hi);
  LLVMValueRef xv = cg_load(c, xrow, cg_add(c, cg_mulc(c, ow, S[2]), wbase));
  cg_store(c, cg_fmuladd(c, wv, xv, cg_load(c, orow, ow)), orow, ow);
  cg_loop_end(c, &low, NULL, NULL);
  cg_loop_end(c, &lkw, NULL, NULL);
  cg_loop_end(c, &lkh, NULL, NULL);
  cg_loop_end(c, &lkd, NULL, NULL);
  cg_loop_end(c, &loh, NULL, NULL);
  cg_loop_end(c, &lod, NULL, NULL);
  cg_loop_end(c, &lic, NULL, NULL);
  /* fused epilogue over the finished output volume (n, m) */
  cg_epilogue_row(c, n, in, oplane, obase, ovol);
  cg_loop_end(c, &lmg, NULL, NULL);
  cg_loop_end(c, &lg, NULL, NULL);
  cg_loop_end(c, &ln, NULL, NULL);
  return true;
}

/* Scatter form, as the 2-D kernel: input row (id, ih) adds w * x to output row
 * (id*sd - pd + kd*dd, ih*sh - ph + kh*dh) at columns iw*sw - pw + kw*dw. */
bool cg_lower_conv_transpose3d(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  assert(cg_all_f32(n));
  IrConvNd p = params3(n);
  const int64_t *I = p.in, *O = p.out, *K = p.k, *S = p.stride, *Dl = p.dil, *Pb = p.pad_begin;
  int64_t Cpg = p.c_per_group, Mpg = p.m_per_group, ivol = I[0] * I[1] * I[2];
  int64_t ovol = O[0] * O[1] * O[2], kvol = K[0] * K[1] * K[2];
  CgLoop ln, lg, lmg, lic, lid, lih, lkd, lkh, lkw, liw;
  LLVMValueRef ni = cg_for(c, &ln, p.n);
  LLVMValueRef gi = cg_for(c, &lg, p.group);
  LLVMValueRef mgi = cg_for(c, &lmg, Mpg);
  LLVMValueRef m = cg_add(c, cg_mulc(c, gi, Mpg), mgi);
  LLVMValueRef obase = cg_mulc(c, cg_add(c, cg_mulc(c, ni, p.m), m), ovol);
  LLVMValueRef oplane = cg_gep(c, c->t_f32, out[0], obase);
  cg_fill_row(c, oplane, ovol, p.has_bias ? cg_load(c, in[2], m) : cg_f32c(c, 0.0));

  LLVMValueRef ic = cg_for(c, &lic, Cpg);
  LLVMValueRef ch = cg_add(c, cg_mulc(c, gi, Cpg), ic);
  LLVMValueRef xvol =
      cg_gep(c, c->t_f32, in[0], cg_mulc(c, cg_add(c, cg_mulc(c, ni, p.c), ch), ivol));
  /* weight [C, M/group, kD, kH, kW] */
  LLVMValueRef wk =
      cg_gep(c, c->t_f32, in[1], cg_mulc(c, cg_add(c, cg_mulc(c, ch, Mpg), mgi), kvol));
  LLVMValueRef id = cg_for(c, &lid, I[0]);
  LLVMValueRef dbase = cg_addc(c, cg_mulc(c, id, S[0]), -Pb[0]), kd_lo, kd_hi;
  cg_valid_range(c, dbase, Dl[0], O[0], K[0], &kd_lo, &kd_hi);
  LLVMValueRef ih = cg_for(c, &lih, I[1]);
  LLVMValueRef hbase = cg_addc(c, cg_mulc(c, ih, S[1]), -Pb[1]), kh_lo, kh_hi;
  cg_valid_range(c, hbase, Dl[1], O[1], K[1], &kh_lo, &kh_hi);
  LLVMValueRef xrow =
      cg_gep(c, c->t_f32, xvol, cg_mulc(c, cg_add(c, cg_mulc(c, id, I[1]), ih), I[2]));
  LLVMValueRef kd = cg_loop_begin(c, &lkd, kd_lo, kd_hi);
  LLVMValueRef kh = cg_loop_begin(c, &lkh, kh_lo, kh_hi);
  LLVMValueRef od = cg_add(c, dbase, cg_mulc(c, kd, Dl[0]));
  LLVMValueRef oh = cg_add(c, hbase, cg_mulc(c, kh, Dl[1]));
  LLVMValueRef orow =
      cg_gep(c, c->t_f32, oplane, cg_mulc(c, cg_add(c, cg_mulc(c, od, O[1]), oh), O[2]));
  LLVMValueRef wrow =
      cg_gep(c, c->t_f32, wk, cg_mulc(c, cg_add(c, cg_mulc(c, kd, K[1]), kh), K[2]));
  LLVMValueRef kw = cg_for(c, &lkw, K[2]);
  LLVMValueRef wv = cg_load(c, wrow, kw);
  LLVMValueRef wbase = cg_addc(c, cg_mulc(c, kw, Dl[2]), -Pb[2]), iw_lo, iw_hi;
  cg_valid_range(c, wbase, S[2], O[2], I[2], &iw_lo, &iw_hi);
  LLVMValueRef iw = cg_loop_begin(c, &liw, iw_lo, iw_hi);
  LLVMValueRef at = cg_add(c, cg_mulc(c, iw, S[2]), wbase);
  cg_store(c, cg_fmuladd(c, wv, cg_load(c, xrow, iw), cg_load(c, orow, at)), orow, at);
  cg_loop_end(c, &liw, NULL, NULL);
  cg_loop_end(c, &lkw, NULL, NULL);
  cg_loop_end(c, &lkh, NULL, NULL);
  cg_loop_end(c, &lkd, NULL, NULL);
  cg_loop_end(c, &lih, NULL, NULL);
  cg_loop_end(c, &lid, NULL, NULL);
  cg_loop_end(c, &lic, NULL, NULL);
  cg_epilogue_row(c, n, in, oplane, obase, ovol);
  cg_loop_end(c, &lmg, NULL, NULL);
  cg_loop_end(c, &lg, NULL, NULL);
  cg_loop_end(c, &ln, NULL, NULL);
  return true;
}

bool cg_lower_pool3d(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  assert(cg_all_f32(n));
  IrConvNd p = params3(n);
  bool avg = n->op == IR_OP_AVERAGE_POOL, cip = p.count_include_pad;
  const int64_t *I = p.in, *O = p.out, *K = p.k, *S = p.stride, *Dl = p.dil, *Pb = p.pad_begin;
  const int64_t *Pe = p.pad_end;
  int64_t ivol = I[0] * I[1] * I[2], ovol = O[0] * O[1] * O[2];
  CgLoop lnc, lod, loh, lkd, lkh, lkw, low, ldv;
  LLVMValueRef nc = cg_for(c, &lnc, p.n * p.c);
  LLVMValueRef xvol = cg_gep(c, c->t_f32, in[0], cg_mulc(c, nc, ivol));
  LLVMValueRef ovolp = cg_gep(c, c->t_f32, out[0], cg_mulc(c, nc, ovol));
  LLVMValueRef od = cg_for(c, &lod, O[0]);
  LLVMValueRef dbase = cg_addc(c, cg_mulc(c, od, S[0]), -Pb[0]), kd_lo, kd_hi;
  cg_valid_range(c, dbase, Dl[0], I[0], K[0], &kd_lo, &kd_hi);
  LLVMValueRef oh = cg_for(c, &loh, O[1]);
  LLVMValueRef hbase = cg_addc(c, cg_mulc(c, oh, S[1]), -Pb[1]), kh_lo, kh_hi;
  cg_valid_range(c, hbase, Dl[1], I[1], K[1], &kh_lo, &kh_hi);
  LLVMValueRef orow =
      cg_gep(c, c->t_f32, ovolp, cg_mulc(c, cg_add(c, cg_mulc(c, od, O[1]), oh), O[2]));
  cg_fill_row(c, orow, O[2], cg_f32c(c, avg ? 0.0 : -INFINITY)); /* padding never wins */
  LLVMValueRef kd = cg_loop_begin(c, &lkd, kd_lo, kd_hi);
  LLVMValueRef kh = cg_loop_begin(c, &lkh, kh_lo, kh_hi);
  LLVMValueRef id = cg_add(c, dbase, cg_mulc(c, kd, Dl[0]));
  LLVMValueRef ih = cg_add(c, hbase, cg_mulc(c, kh, Dl[1]));
  LLVMValueRef xrow =
      cg_gep(c, c->t_f32, xvol, cg_mulc(c, cg_add(c, cg_mulc(c, id, I[1]), ih), I[2]));
  LLVMValueRef kw = cg_for(c, &lkw, K[2]);
  LLVMValueRef wbase = cg_addc(c, cg_mulc(c, kw, Dl[2]), -Pb[2]), ow_lo, ow_hi;
  cg_valid_range(c, wbase, S[2], I[2], O[2], &ow_lo, &ow_hi);
  LLVMValueRef ow = cg_loop_begin(c, &low, ow_lo, ow_hi);
  LLVMValueRef xv = cg_load(c, xrow, cg_add(c, cg_mulc(c, ow, S[2]), wbase));
  LLVMValueRef acc = cg_load(c, orow, ow);
  cg_store(c, avg ? LLVMBuildFAdd(c->b, acc, xv, "") : cg_fmax(c, xv, acc), orow, ow);
  cg_loop_end(c, &low, NULL, NULL);
  cg_loop_end(c, &lkw, NULL, NULL);
  cg_loop_end(c, &lkh, NULL, NULL);
  cg_loop_end(c, &lkd, NULL, NULL);
  if (avg) {
    LLVMValueRef cdh =
        cg_mul(c, cg_pool_window_count(c, dbase, K[0], Dl[0], I[0], Pb[0], Pe[0], cip),
               cg_pool_window_count(c, hbase, K[1], Dl[1], I[1], Pb[1], Pe[1], cip));
    LLVMValueRef o = cg_for(c, &ldv, O[2]);
    LLVMValueRef ws = cg_addc(c, cg_mulc(c, o, S[2]), -Pb[2]);
    LLVMValueRef cnt =
        cg_mul(c, cdh, cg_pool_window_count(c, ws, K[2], Dl[2], I[2], Pb[2], Pe[2], cip));
    LLVMValueRef div = LLVMBuildSIToFP(c->b, cnt, c->t_f32, "");
    cg_store(c, LLVMBuildFDiv(c->b, cg_load(c, orow, o), div, ""), orow, o);
    cg_loop_end(c, &ldv, NULL, NULL);
  }
  cg_loop_end(c, &loh, NULL, NULL);
  cg_loop_end(c, &lod, NULL, NULL);
  cg_loop_end(c, &lnc, NULL, NULL);
  return true;
}
