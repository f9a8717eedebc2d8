/* KilnGemmW8: a Gemm/MatMul with int8 weights, made by --quantize=int8-weights
 * (passes/pass_weight8.c, docs/quantization.md "Weight-only int8"). Inputs: A f32 [..., K],
 * B i8 constant [K, N] (transB 0) or [N, K] (transB 1), scale f32 constant [N] (one per output
 * column, symmetric: zero point 0), bias f32 constant [N] (optional). Y[..., N] = A B' + bias
 * with B'[k][j] = B[k][j] * scale[j]: the reference kernel dequantizes, then multiplies in f32
 * as the float Gemm would. The compiled kernel (codegen/kernels/cg_gemm_w8.c) converts the bytes
 * in registers and applies the scale to the accumulators, which differs only in f32 rounding. */
#include <stdio.h>
#include <stdlib.h>

#include "ir_util.h"
#include "kernels.h"
#include "krt.h"

enum { W8_A, W8_B, W8_SCALE, W8_BIAS };

static bool const_input(const IrNode *n, int k, IrDType t, int64_t numel, IrDiag *d) {
  const IrValue *v = n->inputs[k];
  char field[32];
  snprintf(field, sizeof field, "inputs[%d]", k);
  if (!v || v->kind != IR_VALUE_CONST || v->dtype != t || (numel && ir_value_numel(v) != numel))
    return ir_node_error(d, n, field, "must be a %s initializer%s", ir_dtype_name(t),
                         numel ? " with one value per output column" : "");
  return true;
}

bool ir_infer_gemm_w8(IrGraph *g, IrNode *n, IrDiag *d) {
  (void)g;
  if (n->n_inputs < 3 || !n->inputs[W8_A] || n->inputs[W8_A]->dtype != IR_F32 ||
      n->inputs[W8_A]->rank < 1)
    return ir_node_error(d, n, "inputs[0]", "KilnGemmW8 needs an f32 input A");
  const IrValue *a = n->inputs[W8_A], *b = n->inputs[W8_B];
  if (!const_input(n, W8_B, IR_I8, 0, d)) return false;
  if (b->rank != 2) return ir_node_error(d, n, "inputs[1]", "B must be 2-D");
  bool tb = ir_attr_i(n, "transB") != 0;
  int64_t k = tb ? b->dims[1] : b->dims[0], nn = tb ? b->dims[0] : b->dims[1];
  if (a->dims[a->rank - 1] != k)
    return ir_node_error(d, n, "inputs", "A's last dimension %lld is not B's K = %lld",
                         (long long)a->dims[a->rank - 1], (long long)k);
  if (!const_input(n, W8_SCALE, IR_F32, nn, d)) return false;
  if (n->n_inputs > W8_BIAS && n->inputs[W8_BIAS] && !const_input(n, W8_BIAS, IR_F32, nn, d))
    return false;
  IrValue *y = n->outputs[0];
  y->dtype = IR_F32;
  y->rank = a->rank;
  for (int i = 0; i < a->rank; i++) y->dims[i] = a->dims[i];
  y->dims[a->rank - 1] = nn;
  return true;
}

int ir_interp_gemm_w8(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *a = n->inputs[W8_A], *b = n->inputs[W8_B];
  bool tb = ir_attr_i(n, "transB") != 0;
  int64_t K = a->dims[a->rank - 1], N = tb ? b->dims[0] : b->dims[1];
  int64_t M = ir_value_numel(a) / K;
  const float *x = in[W8_A], *s = in[W8_SCALE];
  const float *bias = n->n_inputs > W8_BIAS && n->inputs[W8_BIAS] ? in[W8_BIAS] : NULL;
  const int8_t *q = in[W8_B];
  float *w = malloc(sizeof *w * (size_t)(K * N)), *y = out[0];
  if (!w) abort();
  for (int64_t k = 0; k < K; k++) /* dequantize into [K][N] */
    for (int64_t j = 0; j < N; j++) w[k * N + j] = (float)q[tb ? j * K + k : k * N + j] * s[j];
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double acc = 0;
      for (int64_t k = 0; k < K; k++) acc += (double)x[i * K + k] * w[k * N + j];
      y[i * N + j] = (float)acc + (bias ? bias[j] : 0.0f);
    }
  free(w);
  return KRT_OK;
}
