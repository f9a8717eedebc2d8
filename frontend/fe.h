/* Frontend: Kiln model JSON (docs/model-format.md) -> IR. Knows JSON, nothing of LLVM. */
#ifndef KILN_FE_H
#define KILN_FE_H

#include "ir.h"

/* Parse, check and build the graph: values, initializers (inline, base64 or external files
 * relative to the JSON's directory), nodes; then sort topologically, infer shapes and verify.
 * Every user error goes to d with its JSON path; returns NULL if there was any. */
IrGraph *fe_load_model(const char *path, IrDiag *d);
/* The same from memory; base_dir resolves external weight paths (NULL: current directory). */
IrGraph *fe_parse_model(const char *json, size_t len, const char *base_dir,
                        const char *default_name, IrDiag *d);

#endif
