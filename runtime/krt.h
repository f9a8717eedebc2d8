/* Kiln runtime ABI: what generated model objects export and the codes they return.
 * Freestanding: no libc beyond <stdint.h>. */
#ifndef KILN_KRT_H
#define KILN_KRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes of generated run functions. */
#define KRT_OK 0
#define KRT_ERR_NULL_ARG (-1)      /* an input, output or workspace pointer is NULL */
#define KRT_ERR_BAD_ALIGNMENT (-2) /* the workspace is not aligned to <NAME>_WORKSPACE_ALIGN */
#define KRT_ERR_INDEX_RANGE (-3)   /* an index input is outside the table it indexes */
#define KRT_ERR_STATE_SIZE (-4)    /* the state buffer is smaller than <NAME>_STATE_SIZE */
#define KRT_ERR_DIV_ZERO (-5)      /* an integer division by zero */
#define KRT_ERR_DIM_RANGE (-6)     /* a run-time dim is outside [1, <NAME>_DIM<k>_MAX] */

/* Element types, numbered as Kiln's IR dtypes (ir/dtypes.def order). */
enum {
  KRT_F32 = 0,
  KRT_F16 = 1,
  KRT_I8 = 2,
  KRT_U8 = 3,
  KRT_I16 = 4,
  KRT_I32 = 5,
  KRT_I64 = 6,
  KRT_BOOL = 7,
};

typedef struct krt_tensor_info {
  const char *name;
  int32_t dtype; /* KRT_F32, ... */
  int32_t rank;
  const int64_t *dims;
} krt_tensor_info;

/* A dimension whose length the caller passes at run time (`kiln --max-dim NAME=N`). */
typedef struct krt_dim_info {
  const char *name;
  int64_t max;
} krt_dim_info;

#define KRT_ABI_VERSION 4

/* Every model object exports `const krt_model <prefix>_model`, a self-description used by the
 * generic driver (`kiln build`) and by tests; applications normally use the typed entry points
 * declared in the model's generated header instead. */
typedef struct krt_model {
  uint32_t abi_version;
  uint32_t n_inputs, n_outputs;
  uint32_t workspace_align;
  uint64_t workspace_size;
  const char *name;
  const krt_tensor_info *inputs;
  const krt_tensor_info *outputs;
  /* inputs[i] / outputs[j] point to the tensors in declared order; workspace is
   * workspace_size bytes aligned to workspace_align (may be NULL if workspace_size is 0). */
  int (*run)(const void *const *inputs, void *const *outputs, void *workspace);
  /* States, values kept across calls (a KV cache, RNN h/c): none in a stateless model. A model
   * with states has run == NULL and is called through run_state with the caller's state buffer
   * (state_size bytes aligned to state_align, one per stream), which reset initializes. */
  uint32_t n_states, state_align;
  uint64_t state_size;
  const krt_tensor_info *states; /* the value each state is read from */
  int (*run_state)(const void *const *inputs, void *const *outputs, void *workspace, void *state,
                   size_t state_bytes);
  int (*reset)(void *state, size_t state_bytes);
  /* Run-time dims (none: n_dims 0, the pointers NULL). run / run_state then run at every dim's
   * maximum; run_dims / run_state_dims take dims[n_dims] first (each in [1, max], else
   * KRT_ERR_DIM_RANGE) and read/write tensors whose axis input_dyn_axis[i] / output_dyn_axis[j]
   * (-1: none) has that length: the leading rows of the tensor at the maximum. */
  uint32_t n_dims;
  const krt_dim_info *dims;
  const int32_t *input_dyn_axis, *output_dyn_axis;
  int (*run_dims)(const int64_t *dims, const void *const *inputs, void *const *outputs,
                  void *workspace);
  int (*run_state_dims)(const int64_t *dims, const void *const *inputs, void *const *outputs,
                        void *workspace, void *state, size_t state_bytes);
  /* With two run-time dims, dims[batch_dim] is the batch (else batch_dim is -1, the pointers
   * NULL): a tensor with input_batch[i] / output_batch[j] set holds that many elements one after
   * another along its axis 0, each of the tensor info's shape (the batch axis at one element's
   * size) with its dyn axis at the run-time length. */
  int32_t batch_dim;
  const int32_t *input_batch, *output_batch;
} krt_model;

/* A short English description of a KRT_* return code. */
const char *krt_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
