#include <string.h>

#include "ir.h"

static const struct {
  const char *name, *ctype;
  size_t size;
} dtype_table[IR_DTYPE_COUNT] = {
#define DT(id, nm, sz, ct) [IR_##id] = {nm, ct, sz},
#include "dtypes.def"
#undef DT
};

const char *ir_dtype_name(IrDType t) { return dtype_table[t].name; }
const char *ir_dtype_ctype(IrDType t) { return dtype_table[t].ctype; }
size_t ir_dtype_size(IrDType t) { return dtype_table[t].size; }

bool ir_dtype_from_name(const char *name, IrDType *out) {
  for (int t = 0; t < IR_DTYPE_COUNT; t++)
    if (strcmp(dtype_table[t].name, name) == 0) {
      *out = (IrDType)t;
      return true;
    }
  return false;
}
