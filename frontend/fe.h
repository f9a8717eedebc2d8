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

/* What an untrusted model may ask of the build machine (README, Robustness). A zero field takes
 * its default. External weight files must resolve (symlinks followed) inside the model's folder
 * or one of weights_dirs. */
#define FE_DEFAULT_MAX_WEIGHT_BYTES ((int64_t)1 << 30) /* 1 GiB of initializer data in total */
#define FE_DEFAULT_MAX_NODES 100000
typedef struct FeOptions {
  const char *const *weights_dirs; /* further folders external weights may come from */
  int n_weights_dirs;
  int64_t max_weight_bytes; /* total bytes of all initializers */
  int64_t max_nodes;        /* entries of "nodes" */
} FeOptions;
IrGraph *fe_load_model_opts(const char *path, const FeOptions *o, IrDiag *d);
IrGraph *fe_parse_model_opts(const char *json, size_t len, const char *base_dir,
                             const char *default_name, const FeOptions *o, IrDiag *d);

#endif
