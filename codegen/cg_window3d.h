/* Lowerings of the windowed ops on 3-D data (cg_window3d.c); cg_nn.c dispatches rank-5 inputs. */
#ifndef KILN_CG_WINDOW3D_H
#define KILN_CG_WINDOW3D_H

#include "cg_internal.h"

bool cg_lower_conv3d(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);
bool cg_lower_conv_transpose3d(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);
bool cg_lower_pool3d(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out); /* Max/Avg */

#endif
