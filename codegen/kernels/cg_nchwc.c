/* Blocked channel layout (passes/pass_layout.c, docs/kernels.md "Blocked activations"): the
 * KilnLayout copies between NCHW and NCHW{c}c, and the direct Conv on blocked values
 * (IR_KERNEL_CONV_NCHWC), the classic NCHWc form: per output row and block of c output
 * channels, C[ow][j] = sum over taps k = (ic, kh, kw) of image[row + ow*stride + koff[k]] *
 * W[block*c + j][k] on the micro-kernel: the c output channels in the vector lanes (B, the
 * weights packed [block][K][c] at compile time), several output pixels the tile rows, each tap's
 * input scalar broadcast (A, read in place through a table of tap offsets). */
#include <assert.h>
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
  CgLoop lo, lj, lq;
  LLVMValueRef outer = cg_for(c, &lo, x->dims[0] * (x->dims[1] / b)); /* (n, channel block) */
  lo.no_unroll = true;
  LLVMValueRef j = cg_for(c, &lj, b);
  lj.no_unroll = true;
  LLVMValueRef plain = cg_mulc(c, cg_add(c, cg_mulc(c, outer, b), j), HW);
  LLVMValueRef blocked = cg_add(c, cg_mulc(c, outer, HW * b), j);
  LLVMValueRef q = cg_for(c, &lq, HW);
  LLVMValueRef pi = cg_add(c, plain, q), bi = cg_add(c, blocked, cg_mulc(c, q, b));
  if (to_blocked)
    cg_store(c, cg_load(c, in[0], pi), out[0], bi);
  else
    cg_store(c, cg_load(c, in[0], bi), out[0], pi);
  cg_loop_end(c, &lq, NULL, NULL);
  cg_loop_end(c, &lj, NULL, NULL);
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

bool cg_nchwc_conv(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrConvParams p;
  bool ok = ir_conv_params(n, &p, NULL);
  (void)ok;
  const int64_t b = n->outputs[0]->layout_block;
  /* the layout pass and the kernels pass checked all of this */
  assert(ok && p.group == 1 && b > 0 && n->inputs[0]->layout_block == b && p.c % b == 0 &&
         p.m % b == 0 && n->inputs[1]->kind == IR_VALUE_CONST &&
         (!n->n_epilogue || cg_gemm_epilogue_in_registers(n)));
  bool pad = p.pad_t | p.pad_l | p.pad_b | p.pad_r;
  int64_t hp = p.h + p.pad_t + p.pad_b, wp = p.w + p.pad_l + p.pad_r;
  int64_t K = p.c * p.kh * p.kw, OW = p.ow, OH = p.oh, MB = p.m / b;
  CgVecInfo vec = cg_vec_info(c);
  CgTile t = cg_gemm_tile(vec, OW, b, K, (int)b);
  t.nrv = (int)((b + vec.lanes - 1) / vec.lanes); /* one strip: the whole block */
  /* weights [M][C][kh][kw] as B[k][m] (s_k 1, s_n K), strips of b output channels */
  LLVMValueRef wpack = cg_node_derived(
      c, n->inputs[1], cg_pack_b(c, n->inputs[1]->data, K, p.m, 1, K, (int)b, "nchwcpack"));
  int64_t *off = malloc(sizeof *off * (size_t)K);
  if (!off) abort();
  for (int64_t ic = 0, k = 0; ic < p.c; ic++)
    for (int64_t kh = 0; kh < p.kh; kh++)
      for (int64_t kw = 0; kw < p.kw; kw++, k++)
        off[k] = ((ic / b) * hp + kh * p.dil_h) * wp * b + kw * p.dil_w * b + ic % b;
  LLVMValueRef koff = cg_const_offsets(c, off, K);
  free(off);

  CgLoop ln, lb, lh;
  LLVMValueRef ni = cg_for(c, &ln, p.n);
  LLVMValueRef xb = cg_gep(c, c->t_f32, in[0], cg_mulc(c, ni, p.c * p.h * p.w));
  LLVMValueRef image = xb;
  if (pad) {
    image = c->scratch;
    padded_image(c, &p, b, xb, image);
  }
  LLVMValueRef ob = cg_for(c, &lb, MB);
  lb.keep = true;
  CgGemmB bb = {.base = cg_gep(c, c->t_f32, wpack, cg_mulc(c, ob, K * b)), .packed = true};
  LLVMValueRef bias = p.has_bias ? cg_gep(c, c->t_f32, in[2], cg_mulc(c, ob, b)) : NULL;
  LLVMValueRef oh = cg_for(c, &lh, OH);
  lh.keep = true;
  CgGemmA a = {.base = cg_gep(c, c->t_f32, image, cg_mulc(c, oh, p.stride_h * wp * b)),
               .s_row = p.stride_w * b,
               .koff = koff};
  LLVMValueRef obase =
      cg_mulc(c, cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, ni, MB), ob), OH), oh), OW * b);
  CgGemmC cc = {.base = cg_gep(c, c->t_f32, out[0], obase), .ldc = b, .col_bias = bias};
  if (n->n_epilogue) {
    cc.epi_node = n;
    cc.epi_in = in;
    cc.epi_base = obase;
    cc.epi_ld = b;
  }
  cg_gemm_emit(c, vec, t, OW, b, K, &a, &bb, &cc);
  cg_loop_end(c, &lh, NULL, NULL);
  cg_loop_end(c, &lb, NULL, NULL);
  cg_loop_end(c, &ln, NULL, NULL);
  return true;
}
