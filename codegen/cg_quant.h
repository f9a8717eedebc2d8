/* int8 lowerings other files dispatch to (codegen/cg_quant.c). */
#ifndef KILN_CG_QUANT_H
#define KILN_CG_QUANT_H

#include "cg_internal.h"

/* MaxPool of an i8 input (cg_lower_max_pool dispatches here). */
bool cg_lower_max_pool_i8(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);

/* QuantizeLinear / DequantizeLinear per axis, u8 or (dequantize) i32 (codegen/cg_qdq.c). */
bool cg_lower_qdq_general(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);

#endif
