/* Reference kernels of the windowed ops on 3-D data (interp_window3d.c). Internal to ir/. */
#ifndef KILN_IR_INTERP_WINDOW3D_H
#define KILN_IR_INTERP_WINDOW3D_H

#include "ir.h"

int ir_interp_conv3d(const IrNode *n, const void *const *in, void *const *out);
int ir_interp_conv_transpose3d(const IrNode *n, const void *const *in, void *const *out);
int ir_interp_pool3d(const IrNode *n, const void *const *in, void *const *out); /* Max or Average */

#endif
