/* Reading and writing NumPy .npy files (format versions 1-3, C order, little-endian).
 * Hosted: used by the `kiln` CLI and by the main() of `kiln build` executables. */
#ifndef KILN_KRT_NPY_H
#define KILN_KRT_NPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KRT_NPY_MAX_RANK 8

typedef struct krt_npy {
  int32_t dtype; /* KRT_F32, ... (krt.h) */
  int32_t rank;
  int64_t dims[KRT_NPY_MAX_RANK];
  int64_t numel;
  void *data; /* malloc'd, 64-byte aligned, numel * element size bytes */
  size_t nbytes;
} krt_npy;

/* Parse an in-memory .npy image; on failure false with a message in err. */
bool krt_npy_parse(const void *buf, size_t len, krt_npy *out, char *err, size_t errsize);
bool krt_npy_read(const char *path, krt_npy *out, char *err, size_t errsize);
/* Writes through a temporary file renamed into place, so a failure leaves no file. */
bool krt_npy_write(const char *path, int32_t dtype, int32_t rank, const int64_t *dims,
                   const void *data, char *err, size_t errsize);
void krt_npy_free(krt_npy *a);
/* Checks that a holds dtype[dims]; otherwise false with "expected f32[1,784], the file holds
 * f32[784]" in err. */
bool krt_npy_check(const krt_npy *a, int32_t dtype, int32_t rank, const int64_t *dims, char *err,
                   size_t errsize);
/* The same for an input whose axis dyn_axis (-1: none) has a run-time length (`kiln --max-dim`,
 * at most dims[dyn_axis]): the file may hold any length from 1 to that maximum there, the same as
 * earlier inputs of the call: *len is 0 before the first, then the length. Errors name the dim
 * (dim_name) and the lengths. */
bool krt_npy_check_dyn(const krt_npy *a, int32_t dtype, int32_t rank, const int64_t *dims,
                       int32_t dyn_axis, const char *dim_name, int64_t *len, char *err,
                       size_t errsize);
/* The same with a run-time batch too (two run-time dims): when `batched`, axis 0 of the file holds
 * 1 to batch_max elements of dims[0] each, as many as in earlier inputs of the call (*batch, 0
 * before the first). */
bool krt_npy_check_dims(const krt_npy *a, int32_t dtype, int32_t rank, const int64_t *dims,
                        int32_t dyn_axis, const char *dim_name, int64_t *len, bool batched,
                        const char *batch_name, int64_t batch_max, int64_t *batch, char *err,
                        size_t errsize);
/* Prints "name: f32[1,10] = v0 v1 ... argmax K" (first 10 values) on one line. */
void krt_print_summary(void *file /* FILE* */, const char *name, int32_t dtype, int32_t rank,
                       const int64_t *dims, const void *data);
/* The file stem of tensor names[k] among names[0..n) (docs/model-format.md, "Names and files"):
 * bytes other than ASCII letters, digits, '.', '-' and '_' become '_' ("onnx::Flatten_0" ->
 * "onnx__Flatten_0", "gpu_0/data_0" -> "gpu_0_data_0"), a leading '.' or an empty result gets a
 * '_' in front, and a stem an earlier name already took gets "_<k>" appended. At most size-1
 * bytes (size >= 32). */
void krt_npy_file_stem(const char *const *names, int n, int k, char *buf, size_t size);
/* Creates folder dir and its missing parents (mkdir -p); false with a message in err. */
bool krt_make_dirs(const char *dir, char *err, size_t errsize);
size_t krt_dtype_size(int32_t dtype);
const char *krt_dtype_name(int32_t dtype);

#endif
