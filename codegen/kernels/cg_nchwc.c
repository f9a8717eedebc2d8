/* Blocked channel layout (passes/pass_layout.c, docs/kernels.md "Blocked activations"): the
 * KilnLayout copies between NCHW and NCHW{c}c, and the direct Conv on blocked values
 * (IR_KERNEL_CONV_NCHWC), the classic NCHWc form: per output row and block of c output
 * channels, C[ow][j] = sum over taps k = (ic, kh, kw) of image[row + ow*stride + koff[k]] *
 * W[block*c + j][k] on the micro-kernel: the c output channels in the vector lanes (B, the
 * weights packed [block][K][c] at compile time), several output pixels the tile rows, each tap's
 * input scalar broadcast (A, read in place through a table of tap offsets); and MaxPool on
 * blocked values. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "cg_kernels.h"
#include "conv_params.h"

/* dims [N, C, H, W]; b = the blocked side's block: plain (n, ch, hw) <-> blocked
 * ((n*C/b + ch/b)*HW + hw)*b + ch%b. Walks the plain side contiguously. */
bool cg_lower_layout(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  int64_t b = x->layout_block ? x->layout_block : y->layout_block;
  assert(x->rank == 4 && b > 0 && (x->layout_block == 0) != (y->layout_block == 0) &&
         x->dims[1] % b == 0);
  bool to_blocked = y->layout_block > 0;
  int64_t HW = x->dims[2] * x->dims[3];
  CgLoop lo, lq, lj;
  LLVMValueRef outer = cg_for(c, &lo, x->dims[0] * (x->dims[1] / b)); /* (n, channel block) */
  lo.no_unroll = true;
  LLVMValueRef q = cg_for(c, &lq, HW);
  lq.no_unroll = true;
  /* the b channels of one pixel: b strided elements on the plain side, one vector blocked */
  LLVMValueRef plain = cg_add(c, cg_mulc(c, outer, b * HW), q);
  LLVMValueRef blocked = cg_mulc(c, cg_add(c, cg_mulc(c, outer, HW), q), b);
  LLVMValueRef j = cg_for(c, &lj, b);
  LLVMValueRef pi = cg_add(c, plain, cg_mulc(c, j, HW)), bi = cg_add(c, blocked, j);
  if (to_blocked)
    cg_store(c, cg_load(c, in[0], pi), out[0], bi);
  else
    cg_store(c, cg_load(c, in[0], bi), out[0], pi);
  cg_loop_end(c, &lj, NULL, NULL);
  cg_loop_end(c, &lq, NULL, NULL);
  cg_loop_end(c, &lo, NULL, NULL);
  return true;
}

/* The zero-padded blocked image of one batch's input xb ([C/b][H][W][b]) at image
 * ([C/b][hp][wp][b]): whole padding rows and each row's padding columns zeroed, rows copied. */
static void padded_image(Cg *c, const IrConvParams *p, int64_t b, LLVMValueRef xb,
                         LLVMValueRef image) {
  int64_t hp = p->h + p->pad_t + p->pad_b, wp = p->w + p->pad_l + p->pad_r, row = wp * b;
  CgLoop lc, lh, lq;
  LLVMValueRef cbk = cg_for(c, &lc, p->c / b);
  lc.no_unroll = true;
  LLVMValueRef plane = cg_gep(c, c->t_f32, image, cg_mulc(c, cbk, hp * row));
  LLVMValueRef src_plane = cg_gep(c, c->t_f32, xb, cg_mulc(c, cbk, p->h * p->w * b));
  if (p->pad_t) cg_zero_floats(c, plane, cg_idx(c, 0), cg_idx(c, p->pad_t * row));
  if (p->pad_b) cg_zero_floats(c, plane, cg_idx(c, (p->pad_t + p->h) * row), cg_idx(c, hp * row));
  LLVMValueRef h = cg_for(c, &lh, p->h);
  lh.no_unroll = true;
  LLVMValueRef dst = cg_gep(c, c->t_f32, plane, cg_mulc(c, cg_addc(c, h, p->pad_t), row));
  LLVMValueRef src = cg_gep(c, c->t_f32, src_plane, cg_mulc(c, h, p->w * b));
  if (p->pad_l) cg_zero_floats(c, dst, cg_idx(c, 0), cg_idx(c, p->pad_l * b));
  if (p->pad_r) cg_zero_floats(c, dst, cg_idx(c, (p->pad_l + p->w) * b), cg_idx(c, row));
  LLVMValueRef q = cg_for(c, &lq, p->w * b);
  cg_store(c, cg_load(c, src, q), dst, cg_addc(c, q, p->pad_l * b));
  cg_loop_end(c, &lq, NULL, NULL);
  cg_loop_end(c, &lh, NULL, NULL);
  cg_loop_end(c, &lc, NULL, NULL);
}

/* Output rows of blocks [ob0, ob0 + nb) of one batch (the products' B strip at wstrip). */
static void conv_blocks(Cg *c, const IrNode *n, const IrConvParams *p, LLVMValueRef *in,
                        LLVMValueRef out, LLVMValueRef image, LLVMValueRef koff, LLVMValueRef ni,
                        LLVMValueRef ob0, int64_t nb, LLVMValueRef wstrip, CgVecInfo vec, CgTile t,
                        int64_t b) {
  int64_t wp = p->w + p->pad_l + p->pad_r, K = p->c * p->kh * p->kw, OH = p->oh, OW = p->ow;
  CgGemmB bb = {.base = wstrip, .packed = true};
  LLVMValueRef bias = p->has_bias ? cg_gep(c, c->t_f32, in[2], cg_mulc(c, ob0, b)) : NULL;
  CgLoop lh;
  LLVMValueRef oh = cg_for(c, &lh, OH);
  lh.keep = true;
  CgGemmA a = {.base = cg_gep(c, c->t_f32, image, cg_mulc(c, oh, p->stride_h * wp * b)),
               .s_row = p->stride_w * b,
               .koff = koff};
  LLVMValueRef obase =
      cg_mulc(c, cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, ni, p->m / b), ob0), OH), oh), OW * b);
  /* C[ow][j]: block j / b is a plane (OH*OW*b) after the one before */
  CgGemmC cc = {.base = cg_gep(c, c->t_f32, out, obase),
                .ldc = b,
                .col_bias = bias,
                .vec_stride = OH * OW * b};
  if (n->n_epilogue) {
    cc.epi_node = n;
    cc.epi_in = in;
    cc.epi_base = obase;
    cc.epi_ld = b;
  }
  cg_gemm_emit(c, vec, t, OW, nb * b, K, &a, &bb, &cc);
  cg_loop_end(c, &lh, NULL, NULL);
}

bool cg_nchwc_conv(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrConvParams p;
  bool ok = ir_conv_params(n, &p, NULL);
  (void)ok;
  const int64_t b = n->outputs[0]->layout_block;
  CgVecInfo vec = cg_vec_info(c);
  /* the layout pass (its block: the target's lanes) and the kernels pass checked all of this */
  assert(ok && p.group == 1 && b == vec.lanes && n->inputs[0]->layout_block == b && p.c % b == 0 &&
         p.m % b == 0 && n->inputs[1]->kind == IR_VALUE_CONST &&
         (!n->n_epilogue || cg_gemm_epilogue_in_registers(n)));
  bool pad = p.pad_t | p.pad_l | p.pad_b | p.pad_r;
  int64_t hp = p.h + p.pad_t + p.pad_b, wp = p.w + p.pad_l + p.pad_r;
  int64_t K = p.c * p.kh * p.kw, MB = p.m / b;
  /* the tile: rows of output pixels, one vector per block, up to 4 blocks (the cost model of
   * the micro-kernel picks how many; more blocks share each broadcast input scalar) */
  CgTile t = cg_gemm_tile(vec, p.ow, p.m, K, (int)(4 * b));
  int64_t G = t.nrv, nr = G * b, strips = MB / G, rest = MB % G;
  /* weights [M][C][kh][kw] as B[k][m] (s_k 1, s_n K), strips of G blocks */
  LLVMValueRef wpack = cg_node_derived(
      c, n->inputs[1], cg_pack_b(c, n->inputs[1]->data, K, p.m, 1, K, (int)nr, "nchwcpack"));
  int64_t *off = malloc(sizeof *off * (size_t)K);
  if (!off) abort();
  for (int64_t ic = 0, k = 0; ic < p.c; ic++)
    for (int64_t kh = 0; kh < p.kh; kh++)
      for (int64_t kw = 0; kw < p.kw; kw++, k++)
        off[k] = ((ic / b) * hp + kh * p.dil_h) * wp * b + kw * p.dil_w * b + ic % b;
  LLVMValueRef koff = cg_const_offsets(c, off, K);
  free(off);

  CgLoop ln, ls;
  LLVMValueRef ni = cg_for(c, &ln, p.n);
  LLVMValueRef xb = cg_gep(c, c->t_f32, in[0], cg_mulc(c, ni, p.c * p.h * p.w));
  LLVMValueRef image = xb;
  if (pad) {
    image = c->scratch;
    padded_image(c, &p, b, xb, image);
  }
  if (strips > 0) {
    LLVMValueRef s = cg_for(c, &ls, strips);
    ls.keep = true;
    conv_blocks(c, n, &p, in, out[0], image, koff, ni, cg_mulc(c, s, G), G,
                cg_gep(c, c->t_f32, wpack, cg_mulc(c, s, K * nr)), vec, t, b);
    cg_loop_end(c, &ls, NULL, NULL);
  }
  if (rest > 0) /* the last strip, short: its packed columns past the blocks are zeros */
    conv_blocks(c, n, &p, in, out[0], image, koff, ni, cg_idx(c, strips * G), rest,
                cg_gep(c, c->t_f32, wpack, cg_idx(c, strips * K * nr)), vec, t, b);
  cg_loop_end(c, &ln, NULL, NULL);
  return true;
}

/* MaxPool on NCHW{b}c values: per output pixel one vector of b channels, the max over the
 * window's taps; taps in the padding are skipped (a clamped, in-bounds load whose value a
 * select drops), as the plain loops skip them. */
bool cg_nchwc_max_pool(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrConvParams p;
  bool ok = ir_conv_params(n, &p, NULL);
  (void)ok;
  const int64_t b = n->inputs[0]->layout_block;
  assert(ok && b > 0 && n->outputs[0]->layout_block == b && p.c % b == 0);
  LLVMTypeRef vty = LLVMVectorType(c->t_f32, (unsigned)b);
  CgLoop lo, lh, lw;
  LLVMValueRef outer = cg_for(c, &lo, p.n * (p.c / b)); /* (n, channel block) */
  lo.no_unroll = true;
  LLVMValueRef x = cg_gep(c, c->t_f32, in[0], cg_mulc(c, outer, p.h * p.w * b));
  LLVMValueRef y = cg_gep(c, c->t_f32, out[0], cg_mulc(c, outer, p.oh * p.ow * b));
  LLVMValueRef oh = cg_for(c, &lh, p.oh);
  lh.no_unroll = true;
  LLVMValueRef ow = cg_for(c, &lw, p.ow);
  LLVMValueRef acc = LLVMConstVector((LLVMValueRef[]){cg_f32c(c, -INFINITY)}, 1);
  acc = LLVMBuildShuffleVector(c->b, acc, LLVMGetPoison(LLVMTypeOf(acc)),
                               LLVMConstNull(LLVMVectorType(c->t_i32, (unsigned)b)), "");
  for (int64_t kh = 0; kh < p.kh; kh++) {
    LLVMValueRef ih = cg_addc(c, cg_mulc(c, oh, p.stride_h), kh * p.dil_h - p.pad_t);
    LLVMValueRef hin = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, ih, cg_idx(c, 0), ""),
                                    LLVMBuildICmp(c->b, LLVMIntSLT, ih, cg_idx(c, p.h), ""), "");
    LLVMValueRef ihc = cg_smin(c, cg_smax(c, ih, cg_idx(c, 0)), cg_idx(c, p.h - 1));
    for (int64_t kw = 0; kw < p.kw; kw++) {
      LLVMValueRef iw = cg_addc(c, cg_mulc(c, ow, p.stride_w), kw * p.dil_w - p.pad_l);
      LLVMValueRef in_w = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, iw, cg_idx(c, 0), ""),
                                       LLVMBuildICmp(c->b, LLVMIntSLT, iw, cg_idx(c, p.w), ""), "");
      LLVMValueRef iwc = cg_smin(c, cg_smax(c, iw, cg_idx(c, 0)), cg_idx(c, p.w - 1));
      LLVMValueRef at = cg_mulc(c, cg_add(c, cg_mulc(c, ihc, p.w), iwc), b);
      LLVMValueRef v = LLVMBuildLoad2(c->b, vty, cg_gep(c, c->t_f32, x, at), "");
      LLVMSetAlignment(v, 4);
      acc = LLVMBuildSelect(c->b, LLVMBuildAnd(c->b, hin, in_w, ""), cg_fmax(c, acc, v), acc, "");
    }
  }
  LLVMValueRef at = cg_mulc(c, cg_add(c, cg_mulc(c, oh, p.ow), ow), b);
  LLVMValueRef s = LLVMBuildStore(c->b, acc, cg_gep(c, c->t_f32, y, at));
  LLVMSetAlignment(s, 4);
  cg_loop_end(c, &lw, NULL, NULL);
  cg_loop_end(c, &lh, NULL, NULL);
  cg_loop_end(c, &lo, NULL, NULL);
  return true;
}
