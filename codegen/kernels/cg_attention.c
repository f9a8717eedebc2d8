/* KilnAttention (passes/pass_attention.c): softmax(scale * Q K^T + mask) V as one loop nest.
 * Per query row, one pass over the keys with an online softmax (Milakov and Gimelshein 2018, as
 * FlashAttention uses it): the running maximum m, the running sum l and the row's output
 * accumulator acc[Dv] (node scratch) are rescaled by exp(m_old - m_new) whenever the maximum
 * grows, so no score matrix is ever stored: the workspace holds Dv + IR_ATTENTION_BLOCK floats
 * where the unfused graph held two Sq x Skv tensors per head. Keys go in blocks (as
 * FlashAttention's tiles): the block's scores first, then one rescaling and a vectorizable exp
 * across the block; key by key, two scalar exps per score cost more than the unfused graph
 * (transformer_classifier: 1.68 M instructions a run against 1.37 M). Operands are read through the
 * strides of their permutations (ir_attention_geometry), which absorb the Transposes around the
 * heads. */
#include <float.h>

#include "cg_kernels.h"
#include "ir_util.h"

/* base + i*stride for each logical (b1, b2, row) */
static LLVMValueRef at3(Cg *c, const int64_t *s, LLVMValueRef b1, LLVMValueRef b2,
                        LLVMValueRef row) {
  return cg_add(c, cg_add(c, cg_mulc(c, b1, s[0]), cg_mulc(c, b2, s[1])), cg_mulc(c, row, s[2]));
}

bool cg_lower_attention(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrAttention a;
  if (!ir_attention_geometry(n, &a, NULL))
    return cg_node_error(c, n, "internal error: attention geometry (shape inference)");
  if (!c->scratch || n->scratch_bytes < ir_attention_scratch_floats(&a) * (int64_t)sizeof(float))
    return cg_node_error(c, n, "internal error: no scratch for the attention row (kernel pass)");
  LLVMValueRef acc = c->scratch, sb = cg_gep(c, c->t_f32, c->scratch, cg_idx(c, a.dv));
  CgLoop l1, l2, li, lz, lb, lj, ld, lm, lp, lc, lv, lve, lo;
  LLVMValueRef b1 = cg_for(c, &l1, a.n1), b2 = cg_for(c, &l2, a.n2), i = cg_for(c, &li, a.sq);
  LLVMValueRef qrow = at3(c, a.q, b1, b2, i), orow = at3(c, a.out, b1, b2, i);
  LLVMValueRef mrow = a.has_mask ? at3(c, a.mask, b1, b2, i) : NULL;
  LLVMValueRef e = cg_for(c, &lz, a.dv);
  cg_store(c, cg_f32c(c, 0.0), acc, e);
  cg_loop_end(c, &lz, NULL, NULL);
  /* keys [0, end): all, or causally those at most Skv - Sq after the query; in blocks of
   * IR_ATTENTION_BLOCK keys: scores of a block, one rescaling per block, exp across the block */
  LLVMValueRef end = cg_idx(c, a.skv);
  if (c->node_len && n->inputs[1]->dyn) end = c->node_len; /* keys of run-time length */
  if (a.causal) end = cg_smax(c, cg_smin(c, end, cg_addc(c, i, a.skv - a.sq + 1)), cg_idx(c, 0));
  const int64_t BK = IR_ATTENTION_BLOCK;
  LLVMValueRef blocks = LLVMBuildSDiv(c->b, cg_addc(c, end, BK - 1), cg_idx(c, BK), "");
  LLVMValueRef blk = cg_loop_begin(c, &lb, cg_idx(c, 0), blocks);
  /* a finite start: exp(m - m_new) stays 0 or 1, never NaN, when masked scores are -inf */
  LLVMValueRef m = cg_loop_acc(c, &lb, cg_f32c(c, -FLT_MAX));
  LLVMValueRef l = cg_loop_acc(c, &lb, cg_f32c(c, 0.0));
  LLVMValueRef j0 = cg_mulc(c, blk, BK);
  LLVMValueRef jn = cg_smin(c, cg_idx(c, BK), cg_sub(c, end, j0));
  /* scores of the block: scale * q.k + mask */
  LLVMValueRef jj = cg_loop_begin(c, &lj, cg_idx(c, 0), jn), j = cg_add(c, j0, jj);
  LLVMValueRef krow = at3(c, a.k, b1, b2, j);
  e = cg_for(c, &ld, a.d);
  LLVMValueRef dot = cg_loop_acc(c, &ld, cg_f32c(c, 0.0));
  LLVMValueRef prod = LLVMBuildFMul(c->b, cg_load(c, in[0], cg_add(c, qrow, cg_mulc(c, e, a.q[3]))),
                                    cg_load(c, in[1], cg_add(c, krow, cg_mulc(c, e, a.k[3]))), "");
  LLVMValueRef dot_next = cg_fadd_reassoc(c, dot, prod), s;
  cg_loop_end(c, &ld, &dot_next, &s);
  s = LLVMBuildFMul(c->b, s, cg_f32c(c, a.scale), "");
  if (mrow)
    s = LLVMBuildFAdd(c->b, s, cg_load(c, in[3], cg_add(c, mrow, cg_mulc(c, j, a.mask[3]))), "");
  cg_store(c, s, sb, jj);
  cg_loop_end(c, &lj, NULL, NULL);
  /* the block's maximum, the new running maximum, and the rescaling of what came before */
  LLVMValueRef k = cg_loop_begin(c, &lm, cg_idx(c, 0), jn);
  LLVMValueRef mx = cg_loop_acc(c, &lm, m);
  LLVMValueRef mx_next = cg_fmax(c, mx, cg_load(c, sb, k)), m_new;
  cg_loop_end(c, &lm, &mx_next, &m_new);
  LLVMValueRef corr = cg_exp(c, LLVMBuildFSub(c->b, m, m_new, ""));
  k = cg_loop_begin(c, &lp, cg_idx(c, 0), jn);
  LLVMValueRef ps = cg_loop_acc(c, &lp, cg_f32c(c, 0.0));
  LLVMValueRef p = cg_exp(c, LLVMBuildFSub(c->b, cg_load(c, sb, k), m_new, ""));
  cg_store(c, p, sb, k);
  LLVMValueRef ps_next = cg_fadd_reassoc(c, ps, p), psum;
  cg_loop_end(c, &lp, &ps_next, &psum);
  LLVMValueRef l_next = cg_fmuladd(c, l, corr, psum);
  e = cg_for(c, &lc, a.dv);
  cg_store(c, LLVMBuildFMul(c->b, cg_load(c, acc, e), corr, ""), acc, e);
  cg_loop_end(c, &lc, NULL, NULL);
  /* acc += p[jj] * V[j0 + jj] */
  jj = cg_loop_begin(c, &lv, cg_idx(c, 0), jn);
  LLVMValueRef vrow = at3(c, a.v, b1, b2, cg_add(c, j0, jj)), pj = cg_load(c, sb, jj);
  e = cg_for(c, &lve, a.dv);
  LLVMValueRef v = cg_load(c, in[2], cg_add(c, vrow, cg_mulc(c, e, a.v[3])));
  cg_store(c, cg_fmuladd(c, pj, v, cg_load(c, acc, e)), acc, e);
  cg_loop_end(c, &lve, NULL, NULL);
  cg_loop_end(c, &lv, NULL, NULL);
  LLVMValueRef next[2] = {m_new, l_next}, after[2];
  cg_loop_end(c, &lb, next, after);
  e = cg_for(c, &lo, a.dv);
  cg_store(c, LLVMBuildFDiv(c->b, cg_load(c, acc, e), after[1], ""), out[0],
           cg_add(c, orow, cg_mulc(c, e, a.out[3])));
  cg_loop_end(c, &lo, NULL, NULL);
  cg_loop_end(c, &li, NULL, NULL);
  cg_loop_end(c, &l2, NULL, NULL);
  cg_loop_end(c, &l1, NULL, NULL);
  return true;
}
