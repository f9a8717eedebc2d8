/* Reference kernels of the sequence-model ops (issue 3): Gather. Plain loops following the
 * ONNX definitions; see interp.c for the conventions. */
#include <string.h>

#include "ir_util.h"
#include "kernels.h"
#include "krt.h"

/* Index j of an i32 or i64 index tensor. */
static int64_t index_at(const IrValue *v, const void *data, int64_t j) {
  return v->dtype == IR_I64 ? ((const int64_t *)data)[j] : ((const int32_t *)data)[j];
}

int ir_interp_gather(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *x = n->inputs[0], *iv = n->inputs[1];
  int64_t axis = ir_attr_i(n, "axis");
  if (axis < 0) axis += x->rank;
  int64_t outer = 1, len = x->dims[axis], inner = (int64_t)ir_dtype_size(x->dtype);
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = (int)axis + 1; d < x->rank; d++) inner *= x->dims[d];
  int64_t count = ir_value_numel(iv);
  const char *src = in[0];
  char *dst = out[0];
  for (int64_t j = 0; j < count; j++) {
    int64_t k = index_at(iv, in[1], j);
    if (k < 0) k += len;
    if (k < 0 || k >= len) return KRT_ERR_INDEX_RANGE;
    for (int64_t o = 0; o < outer; o++)
      memcpy(dst + (o * count + j) * inner, src + (o * len + k) * inner, (size_t)inner);
  }
  return KRT_OK;
}
