/* Sparse kernels for constant weights with exact zeros (IR_KERNEL_SPARSE_*, ir/sparsity.h,
 * docs/kernels.md "Sparse weights"), built on the micro-kernel generator's vector shape and the
 * wide convolution's padded images (cg_kernels.h). */
#ifndef KILN_CG_SPARSE_H
#define KILN_CG_SPARSE_H

#include "cg_internal.h"

/* The lowering of a Gemm, MatMul or Conv whose IrNode.kernel is a sparse kind. */
bool cg_sparse_lower(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);

/* Element i of an index array of `bytes`-wide unsigned (2) or signed (4) integers, as c->t_idx. */
LLVMValueRef cg_sparse_load_index(Cg *c, LLVMValueRef arr, int bytes, LLVMValueRef i);

#endif
