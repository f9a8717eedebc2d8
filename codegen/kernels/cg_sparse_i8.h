/* Sparse int8 kernels: a QGemm whose constant int8 weight holds exact zeros (issue 11's
 * compression ladder: pruned, then quantized), IrNode.kernel IR_KERNEL_SPARSE_CSR. */
#ifndef KILN_CG_SPARSE_I8_H
#define KILN_CG_SPARSE_I8_H

#include "cg_internal.h"

bool cg_sparse_i8_lower(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);

#endif
