/* Footprint of an emitted object: its sections, read back through LLVM's object-file API and
 * classified by name into code (flash), constants (flash), zero-initialized and initialized
 * writable data (RAM). */
#include <string.h>

#include <llvm-c/Object.h>

#include "cg_internal.h"

static bool has_prefix(const char *s, const char *p) {
  size_t n = strlen(p);
  return !strncmp(s, p, n) && (s[n] == 0 || s[n] == '.');
}

bool cg_object_sizes(const char *obj_path, const char *weights_section, CgSizes *s, IrDiag *d) {
  memset(s, 0, sizeof *s);
  LLVMMemoryBufferRef buf = NULL;
  char *err = NULL;
  if (LLVMCreateMemoryBufferWithContentsOfFile(obj_path, &buf, &err)) {
    ir_diag_error(d, NULL, "cannot read '%s': %s", obj_path, err ? err : "error");
    LLVMDisposeMessage(err);
    return false;
  }
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMBinaryRef bin = LLVMCreateBinary(buf, ctx, &err);
  if (!bin) {
    ir_diag_error(d, NULL, "'%s' is not an object file: %s", obj_path, err ? err : "error");
    LLVMDisposeMessage(err);
    LLVMDisposeMemoryBuffer(buf);
    LLVMContextDispose(ctx);
    return false;
  }
  LLVMSectionIteratorRef it = LLVMObjectFileCopySectionIterator(bin);
  for (; !LLVMObjectFileIsSectionIteratorAtEnd(bin, it); LLVMMoveToNextSection(it)) {
    const char *name = LLVMGetSectionName(it);
    int64_t size = (int64_t)LLVMGetSectionSize(it);
    if (!name) continue;
    if (weights_section && !strcmp(name, weights_section)) {
      s->weights += size;
      s->constants += size;
    } else if (has_prefix(name, ".text") || has_prefix(name, ".ARM.exidx") ||
               has_prefix(name, ".ARM.extab") || has_prefix(name, ".eh_frame")) {
      s->code += size;
    } else if (has_prefix(name, ".rodata") || has_prefix(name, ".srodata") ||
               has_prefix(name, ".data.rel.ro")) {
      s->constants += size;
    } else if (has_prefix(name, ".bss") || has_prefix(name, ".sbss")) {
      s->bss += size;
    } else if (has_prefix(name, ".data") || has_prefix(name, ".sdata")) {
      s->data += size;
    }
  }
  LLVMDisposeSectionIterator(it);
  LLVMDisposeBinary(bin);
  LLVMDisposeMemoryBuffer(buf);
  LLVMContextDispose(ctx);
  return true;
}
