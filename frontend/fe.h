/* Frontend: Kiln model JSON (docs/model-format.md) and ONNX (docs/onnx.md) -> IR. Knows JSON and
 * protobuf, nothing of LLVM. */
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
  /* ONNX models only: "NAME=1,3,224,224" fixes the shape of graph input NAME (its symbolic
   * dimensions); "NAME=V[,V...]" binds input NAME to a constant (one value for every element, or
   * one per element), after which the shape arithmetic and If nodes depending on it fold. */
  const char *const *input_shapes;
  int n_input_shapes;
  const char *const *binds;
  int n_binds;
  /* "NAME=N": the symbolic dimension NAME of graph inputs (a string in a JSON shape, an ONNX
   * dim_param) has a run-time length of at most N (ir/dyn.c, kiln --max-dim) */
  const char *const *max_dims;
  int n_max_dims;
  int64_t max_weight_bytes; /* total bytes of all initializers */
  int64_t max_nodes;        /* entries of "nodes" */
} FeOptions;
IrGraph *fe_load_model_opts(const char *path, const FeOptions *o, IrDiag *d);
IrGraph *fe_parse_model_opts(const char *json, size_t len, const char *base_dir,
                             const char *default_name, const FeOptions *o, IrDiag *d);

/* A model file by its extension: ".onnx" is read by the ONNX importer (fe_onnx.c), anything
 * else as Kiln JSON. fe_load_model_opts dispatches the same way. */
bool fe_is_onnx_path(const char *path);
/* ONNX from memory; base_dir resolves external data (NULL: current directory). */
IrGraph *fe_parse_onnx(const void *data, size_t len, const char *base_dir, const char *default_name,
                       const FeOptions *o, IrDiag *d);
IrGraph *fe_load_onnx(const char *path, const FeOptions *o, IrDiag *d);

/* Writes g as a Kiln model: JSON at json_path, initializers in <stem>.weights.bin beside it
 * (64-byte aligned, referenced as external data). Files are written to temporaries and renamed,
 * so on failure (reported to d) no output file is left. name: the model's "name" (NULL: none,
 * the JSON's file name then names the model). doc: the "doc" string (may be NULL). */
bool fe_write_model(const IrGraph *g, const char *json_path, const char *name, const char *doc,
                    IrDiag *d);

#endif
