/* Shape-inference and reference-interpreter functions named by the op table (ops.def).
 * Internal to ir/: shape.c and interp*.c implement them. */
#ifndef KILN_IR_KERNELS_H
#define KILN_IR_KERNELS_H

#include "ir.h"

#define OP(id, name, min_in, max_in, min_out, max_out, flags, stem)                                \
  bool ir_infer_##stem(IrGraph *g, IrNode *n, IrDiag *d);                                          \
  int ir_interp_##stem(const IrNode *n, const void *const *in, void *const *out);
#include "ops.def"
#undef OP

#endif
