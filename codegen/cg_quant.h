/* int8 lowerings other files dispatch to (codegen/cg_quant.c). */
#ifndef KILN_CG_QUANT_H
#define KILN_CG_QUANT_H

#include "cg_internal.h"

/* MaxPool of an i8 input (cg_lower_max_pool dispatches here). */
bool cg_lower_max_pool_i8(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);

/* QuantizeLinear / DequantizeLinear per axis, u8 or (dequantize) i32 (codegen/cg_qdq.c). */
bool cg_lower_qdq_general(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);
/* For the sparse int8 kernels (kernels/cg_sparse_i8.c, cg_sparse.c's conv): the per-channel
 * table [mult | shift | bias - x_zp * sum of the channel's weights] of n, as the dense kernels
 * build it, its weights w as [channels][per_channel] (fold_x_zp false: the bias alone, for
 * kernels that subtract x_zp from the activations). */
LLVMValueRef cg_quant_head_tables(Cg *c, const IrNode *n, const int8_t *w, int64_t per_channel,
                                  bool fold_x_zp);

#endif
