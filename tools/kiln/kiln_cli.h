/* Pieces of the kiln CLI shared by its files. */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Runs argv without a shell; returns the exit status (or -1). (main.c) */
int kiln_run_process(char *const argv[]);
/* The directory holding the running kiln executable (from /proc/self/exe). (main.c) */
bool kiln_exe_dir(char *buf, size_t size);

/* ---- onnx_import.c ------------------------------------------------------------------------ */
/* Whether path names an ONNX model (ends in ".onnx"). */
bool kiln_is_onnx(const char *path);
/* Converts an ONNX model to a Kiln model JSON (weights beside it) with tools/onnx2kiln.py;
 * name may be NULL. External data must lie in the model's folder or one of the n dirs.
 * Returns 0, or 1 after the importer printed the user error. */
int kiln_onnx_import(const char *onnx_path, const char *out_json, const char *name,
                     const char *const *dirs, int n);
/* Imports onnx_path into a fresh temporary directory; *json receives the model path. The
 * directory is removed by kiln_onnx_cleanup. Returns 0 or 1. */
int kiln_onnx_import_temp(const char *onnx_path, char *json, size_t size, const char *const *dirs,
                          int n);
void kiln_onnx_cleanup(const char *json);

#endif
