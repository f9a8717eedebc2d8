/* Shared by the JSON and ONNX front-end fuzz targets (fuzz_model.c, fuzz_onnx.c). */
#ifndef KILN_FUZZ_DIMS_H
#define KILN_FUZZ_DIMS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Run-time dims: an input that does not parse as it is and names "seq" or "batch" (anywhere in
 * its bytes) is parsed again with --max-dim for those names, so that symbolic dims reach ir/dyn.c
 * (the analysis after the passes, the batch and length checks) rather than stopping at "give
 * --max-dim"; inputs that parse keep their path. Fills specs (room for 2), returns how many. */
static inline int fuzz_max_dims(const uint8_t *data, size_t size, const char **specs) {
  static const char *const names[] = {"seq", "batch"}, *const given[] = {"seq=8", "batch=3"};
  int n = 0;
  for (int k = 0; k < 2; k++) {
    size_t len = strlen(names[k]);
    for (size_t i = 0; i + len <= size; i++)
      if (!memcmp(data + i, names[k], len)) {
        specs[n++] = given[k];
        break;
      }
  }
  return n;
}

#endif
