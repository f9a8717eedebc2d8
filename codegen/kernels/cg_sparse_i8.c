/* Sparse int8 QGemm (cg_sparse_i8.h): y[i][j] = requant(bias'[j] + sum over the nonzero
 * weights of column j of a[i][k] * b[j][k]), bias' = bias - a_zp * sum_k b[j][k] folded at
 * compile time as the dense kernels do (cg_quant.c's tables). CSR per output column: u16 (or
 * i32) input indices and int8 values, each column's nonzeros padded with zero weights to a
 * multiple of IR_SPARSE_CSR_CHAINS, that many int32 accumulator chains. Integer sums are exact,
 * so skipping the zero products and any order give the interpreter's bits (ir/quant.c). */
#include "cg_sparse_i8.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_gemm_i8.h"
#include "cg_quant.h"
#include "cg_sparse.h"
#include "ir_util.h"
#include "quant.h"
#include "sparsity.h"

static LLVMValueRef i8_sext(Cg *c, LLVMValueRef base, LLVMValueRef index) {
  LLVMValueRef v = LLVMBuildLoad2(c->b, c->t_i8, cg_gep(c, c->t_i8, base, index), "");
  LLVMSetAlignment(v, 1);
  return LLVMBuildSExt(c->b, v, c->t_i32, "");
}

static LLVMValueRef i32_at(Cg *c, LLVMValueRef base, LLVMValueRef index) {
  LLVMValueRef v = LLVMBuildLoad2(c->b, c->t_i32, cg_gep(c, c->t_i32, base, index), "");
  LLVMSetAlignment(v, 4);
  return v;
}

bool cg_sparse_i8_lower(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrSparseView v;
  bool ok = ir_sparse_view_i8(n, &v) && !v.conv;
  assert(ok); /* pass_plan_sparse checked */
  (void)ok;
  const int ch = IR_SPARSE_CSR_CHAINS;
  int64_t N = v.rows, K = v.K, M = n->inputs[0]->dims[0], nz = 0;
  int ib = ir_sparse_index_bytes(&v);
  int8_t *bt = malloc((size_t)(N * K) + 1), *val = malloc((size_t)(N * (K + ch)) + 1);
  int32_t *ptr = malloc(sizeof *ptr * (size_t)(N + 1));
  unsigned char *idx = malloc((size_t)(N * (K + ch) * ib) + 1);
  if (!bt || !val || !ptr || !idx) abort();
  for (int64_t j = 0; j < N; j++) {
    ptr[j] = (int32_t)(nz / ch);
    for (int64_t k = 0; k < K; k++) {
      int8_t w = (int8_t)ir_sparse_at(&v, j, k);
      bt[j * K + k] = w;
      if (!w) continue;
      uint32_t at = (uint32_t)k;
      memcpy(idx + nz * ib, ib == 2 ? (void *)&(uint16_t){(uint16_t)at} : (void *)&at, (size_t)ib);
      val[nz++] = w;
    }
    while (nz % ch) memset(idx + nz * ib, 0, (size_t)ib), val[nz++] = 0;
  }
  ptr[N] = (int32_t)(nz / ch);
  char name[64];
  LLVMValueRef tab = cg_quant_head_tables(c, n, bt, K, true);
  snprintf(name, sizeof name, "q%d.csrptr", n->id);
  LLVMValueRef gptr = cg_const_bytes(c, ptr, sizeof *ptr * (size_t)(N + 1), name);
  snprintf(name, sizeof name, "q%d.csridx", n->id);
  LLVMValueRef gidx = cg_const_bytes(c, idx, (size_t)(nz * ib) + (nz ? 0 : 1), name);
  snprintf(name, sizeof name, "q%d.csrval", n->id);
  LLVMValueRef gval = cg_const_bytes(c, val, (size_t)nz + (nz ? 0 : 1), name);
  free(bt), free(val), free(ptr), free(idx);
  IrQHead h;
  ir_qhead(n, &h);
  bool ge33 = true; /* every shift >= 33: cg_qrequant's 32-bit form */
  for (int64_t j = 0; j < N; j++) ge33 = ge33 && ir_qhead_requant(&h, j).shift >= 33;
  CgLoop li, lj, lp;
  LLVMValueRef i = cg_for(c, &li, M);
  LLVMValueRef arow = cg_gep(c, c->t_i8, in[0], cg_mulc(c, i, K));
  LLVMValueRef j = cg_for(c, &lj, N);
  lj.keep = true;
  LLVMValueRef q0 = LLVMBuildSExt(c->b, i32_at(c, gptr, j), c->t_idx, "");
  LLVMValueRef q1 = LLVMBuildSExt(c->b, i32_at(c, gptr, cg_addc(c, j, 1)), c->t_idx, "");
  LLVMValueRef bias = i32_at(c, tab, cg_addc(c, j, 2 * N));
  LLVMValueRef q = cg_loop_begin(c, &lp, q0, q1);
  lp.keep = true; /* short scalar chains: vectorized they would be gathers */
  LLVMValueRef acc[IR_SPARSE_CSR_CHAINS], next[IR_SPARSE_CSR_CHAINS], sum[IR_SPARSE_CSR_CHAINS];
  for (int e = 0; e < ch; e++) acc[e] = cg_loop_acc(c, &lp, e ? cg_i32c(c, 0) : bias);
  for (int e = 0; e < ch; e++) {
    LLVMValueRef p = cg_addc(c, cg_mulc(c, q, ch), e);
    LLVMValueRef x = i8_sext(c, arow, cg_sparse_load_index(c, gidx, ib, p));
    next[e] = LLVMBuildAdd(c->b, acc[e], LLVMBuildMul(c->b, x, i8_sext(c, gval, p), ""), "");
  }
  cg_loop_end(c, &lp, next, sum);
  LLVMValueRef total = sum[0];
  for (int e = 1; e < ch; e++) total = LLVMBuildAdd(c->b, total, sum[e], "");
  /* the 32-bit requantization for columns whose shift allows it (a branch per column where
   * not every column's does) */
  LLVMValueRef mult = i32_at(c, tab, j), shift = i32_at(c, tab, cg_addc(c, j, N));
  LLVMValueRef at = cg_gep(c, c->t_i8, out[0], cg_add(c, cg_mulc(c, i, N), j));
  CgIf f;
  if (!ge33) cg_if_begin(c, &f, LLVMBuildICmp(c->b, LLVMIntSGE, shift, cg_i32c(c, 33), ""));
  for (int form = 0; form < (ge33 ? 1 : 2); form++) {
    if (form) cg_if_else(c, &f);
    LLVMValueRef y = cg_qrequant(c, 1, total, mult, shift, h.y_zp, !form);
    LLVMSetAlignment(LLVMBuildStore(c->b, y, at), 1);
  }
  if (!ge33) cg_if_end(c, &f);
  cg_loop_end(c, &lj, NULL, NULL);
  cg_loop_end(c, &li, NULL, NULL);
  return true;
}
