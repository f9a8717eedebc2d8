/* Lowerings of the sequence-model ops (issue 3): Gather. */
#include "cg_internal.h"
#include "krt.h"

/* Per index j: load it (i32 or i64), wrap a negative one, return KRT_ERR_INDEX_RANGE unless it
 * lies in [0, len), then copy its row of every outer block. Nothing is read outside the table:
 * the check dominates the copy. */
bool cg_lower_gather(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *x = n->inputs[0], *iv = n->inputs[1];
  int64_t axis = ir_attr_i(n, "axis");
  if (axis < 0) axis += x->rank;
  int64_t outer = 1, len = x->dims[axis], inner = (int64_t)ir_dtype_size(x->dtype);
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = (int)axis + 1; d < x->rank; d++) inner *= x->dims[d];
  int64_t count = ir_value_numel(iv);
  LLVMTypeRef it = iv->dtype == IR_I64 ? c->t_i64 : c->t_i32;

  CgLoop lj, lo;
  LLVMValueRef j = cg_for(c, &lj, count);
  LLVMValueRef k = LLVMBuildLoad2(c->b, it, cg_gep(c, it, in[1], j), "idx");
  LLVMSetAlignment(k, (unsigned)ir_dtype_size(iv->dtype));
  k = LLVMBuildSExt(c->b, k, c->t_i64, "");
  LLVMValueRef neg = LLVMBuildICmp(c->b, LLVMIntSLT, k, LLVMConstInt(c->t_i64, 0, 0), "");
  k = LLVMBuildSelect(c->b, neg,
                      LLVMBuildAdd(c->b, k, LLVMConstInt(c->t_i64, (uint64_t)len, 0), ""), k, "");
  cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntUGE, k, LLVMConstInt(c->t_i64, (uint64_t)len, 0), ""),
               cg_i32c(c, KRT_ERR_INDEX_RANGE));
  k = LLVMBuildTruncOrBitCast(c->b, k, c->t_idx, "");
  LLVMValueRef o = cg_for(c, &lo, outer);
  LLVMValueRef src = cg_gep(c, c->t_i8, in[0], cg_mulc(c, cg_add(c, cg_mulc(c, o, len), k), inner));
  LLVMValueRef dst =
      cg_gep(c, c->t_i8, out[0], cg_mulc(c, cg_add(c, cg_mulc(c, o, count), j), inner));
  cg_memcpy(c, dst, src, cg_idx(c, inner));
  cg_loop_end(c, &lo, NULL, NULL);
  cg_loop_end(c, &lj, NULL, NULL);
  return true;
}
