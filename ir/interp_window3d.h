/* Reference kernels of the windowed ops on 3-D data (interp_window3d.c). Internal to ir/. */
#ifndef KILN_IR_INTERP_WINDOW3D_H
#define KILN_IR_INTERP_WINDOW3D_H

#include "ir.h"

int ir_interp_conv3d(const IrNode *n, const void *const *in, void *const *out);
int ir_interp_conv_transpose3d(const IrNode *n, const void *const *in, void *const *out);
int ir_interp_pool3d(const IrNode *n, const void *const *in, void *const *out); /* Max or Average */
/* AveragePool's divisor along one axis: the window's taps start + k * dil (k < taps) inside the
 * padded extent (include_pad) or the input (interp_nn.c). */
int64_t ir_pool_divisor_taps(int64_t start, int64_t taps, int64_t dil, int64_t size,
                             int64_t pad_begin, int64_t pad_end, bool include_pad);

#endif
