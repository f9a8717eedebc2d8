/* KilnAttention (passes/pass_attention.c): softmax(scale * Q K^T + mask) V as one loop nest.
 * Per query row, one pass over the keys with an online softmax (Milakov and Gimelshein 2018, as
 * FlashAttention uses it): the running maximum m, the running sum l and the row's output
 * accumulator acc[Dv] (node scratch) are rescaled by exp(m_old - m_new) whenever the maximum
 * grows, so no score matrix is ever stored: the workspace holds Dv floats where the unfused
 * graph held two Sq x Skv tensors per head. Operands are read through the strides of their
 * permutations (ir_attention_geometry), which absorb the Transposes around the heads. */
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
  if (!c->scratch || n->scratch_bytes < a.dv * (int64_t)sizeof(float))
    return cg_node_error(c, n, "internal error: no scratch for the attention row (kernel pass)");
  LLVMValueRef acc = c->scratch;
  CgLoop l1, l2, li, lz, lj, ld, lv, lo;
  LLVMValueRef b1 = cg_for(c, &l1, a.n1), b2 = cg_for(c, &l2, a.n2), i = cg_for(c, &li, a.sq);
  LLVMValueRef qrow = at3(c, a.q, b1, b2, i), orow = at3(c, a.out, b1, b2, i);
  LLVMValueRef mrow = a.has_mask ? at3(c, a.mask, b1, b2, i) : NULL;
  LLVMValueRef e = cg_for(c, &lz, a.dv);
  cg_store(c, cg_f32c(c, 0.0), acc, e);
  cg_loop_end(c, &lz, NULL, NULL);
  /* keys 0 .. end: all, or causally those at most Skv - Sq after the query */
  LLVMValueRef end = cg_idx(c, a.skv);
  if (a.causal) end = cg_smin(c, end, cg_addc(c, i, a.skv - a.sq + 1));
  LLVMValueRef j = cg_loop_begin(c, &lj, cg_idx(c, 0), end);
  /* a finite start: exp(m - m_new) stays 0 or 1, never NaN, when masked scores are -inf */
  LLVMValueRef m = cg_loop_acc(c, &lj, cg_f32c(c, -FLT_MAX));
  LLVMValueRef l = cg_loop_acc(c, &lj, cg_f32c(c, 0.0));
  LLVMValueRef krow = at3(c, a.k, b1, b2, j), vrow = at3(c, a.v, b1, b2, j);
  e = cg_for(c, &ld, a.d);
  LLVMValueRef dot = cg_loop_acc(c, &ld, cg_f32c(c, 0.0));
  LLVMValueRef prod = LLVMBuildFMul(c->b, cg_load(c, in[0], cg_add(c, qrow, cg_mulc(c, e, a.q[3]))),
                                    cg_load(c, in[1], cg_add(c, krow, cg_mulc(c, e, a.k[3]))), "");
  LLVMValueRef dot_next = cg_fadd_reassoc(c, dot, prod), s;
  cg_loop_end(c, &ld, &dot_next, &s);
  s = LLVMBuildFMul(c->b, s, cg_f32c(c, a.scale), "");
  if (mrow)
    s = LLVMBuildFAdd(c->b, s, cg_load(c, in[3], cg_add(c, mrow, cg_mulc(c, j, a.mask[3]))), "");
  LLVMValueRef m_new = cg_fmax(c, m, s);
  LLVMValueRef corr = cg_exp(c, LLVMBuildFSub(c->b, m, m_new, ""));
  LLVMValueRef p = cg_exp(c, LLVMBuildFSub(c->b, s, m_new, ""));
  LLVMValueRef l_next = cg_fmuladd(c, l, corr, p);
  e = cg_for(c, &lv, a.dv);
  LLVMValueRef v = cg_load(c, in[2], cg_add(c, vrow, cg_mulc(c, e, a.v[3])));
  cg_store(c, cg_fmuladd(c, cg_load(c, acc, e), corr, LLVMBuildFMul(c->b, p, v, "")), acc, e);
  cg_loop_end(c, &lv, NULL, NULL);
  LLVMValueRef next[2] = {m_new, l_next}, after[2];
  cg_loop_end(c, &lj, next, after);
  e = cg_for(c, &lo, a.dv);
  cg_store(c, LLVMBuildFDiv(c->b, cg_load(c, acc, e), after[1], ""), out[0],
           cg_add(c, orow, cg_mulc(c, e, a.out[3])));
  cg_loop_end(c, &lo, NULL, NULL);
  cg_loop_end(c, &li, NULL, NULL);
  cg_loop_end(c, &l2, NULL, NULL);
  cg_loop_end(c, &l1, NULL, NULL);
  return true;
}
