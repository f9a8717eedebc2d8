/* int8 Winograd F(2x2, 3x3) of a QLinearConv on Arm DSP targets (cg_winograd_i8.c,
 * docs/quantization.md): exact in integers, bit for bit the interpreter's direct convolution. */
#ifndef KILN_CG_WINOGRAD_I8_H
#define KILN_CG_WINOGRAD_I8_H

#include "cg_internal.h"
#include "quant.h"

/* Lowers QLinearConv n, for which pass_plan_int8 chose IR_KERNEL_QCONV_WINOGRAD (3x3, stride 1,
 * one group, exact: ir_qconv_winograd_exact), into the planned scratch. false, having emitted
 * nothing: the target has no smlad or the scratch holds no panel (the caller falls back). */
bool cg_qconv_winograd_lower(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);

#endif
