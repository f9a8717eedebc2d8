/* The compile-time evaluator: runs a float graph fast enough for calibration (hundreds of
 * samples) and for accuracy measurements. It is the reference interpreter with Conv (im2col +
 * a single-precision GEMM per group), Gemm (bias [N] or none) and 2-D MatMul computed by the
 * small GEMM below; everything else, and every fused epilogue, stays the interpreter's.
 * Not OpenBLAS: linking it into kiln runs its initialization (threads, buffers) in every kiln
 * process, which spins under --max-memory's address-space cap. */
#include <stdlib.h>
#include <string.h>

#include "conv_params.h"
#include "krt.h"
#include "pass.h"

/* C[M][N] = beta * C + alpha * op(A)[M][K] . op(B)[K][N], row-major with leading dimensions;
 * the k-outer, j-inner order keeps the inner loop contiguous (it vectorizes). */
static void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  float *bt = NULL;
  if (tb) { /* B^T: make it [K][N] once */
    bt = malloc(sizeof *bt * (size_t)(K * N) + 1);
    if (!bt) abort();
    for (int64_t k = 0; k < K; k++)
      for (int64_t j = 0; j < N; j++) bt[k * N + j] = b[j * ldb + k];
    b = bt;
    ldb = N;
  }
  for (int64_t i = 0; i < M; i++) {
    float *ci = c + i * ldc;
    for (int64_t j = 0; j < N; j++) ci[j] *= beta;
    for (int64_t k = 0; k < K; k++) {
      float av = alpha * (ta ? a[k * lda + i] : a[i * lda + k]);
      const float *bk = b + k * ldb;
      for (int64_t j = 0; j < N; j++) ci[j] += av * bk[j];
    }
  }
  free(bt);
}

static int eval_conv(const IrNode *n, const void *const *in, void *const *out) {
  IrConvParams p;
  if (!ir_conv_params(n, &p, NULL)) return IR_INTERP_DEFAULT;
  const float *x = in[0], *w = in[1], *bias = n->n_inputs > 2 ? in[2] : NULL;
  float *y = out[0];
  int64_t K = p.c_per_group * p.kh * p.kw, P = p.oh * p.ow;
  float *cols = malloc(sizeof *cols * (size_t)(K * P) + 1);
  if (!cols) abort();
  for (int64_t b = 0; b < p.n; b++)
    for (int64_t g = 0; g < p.group; g++) {
      for (int64_t c = 0; c < p.c_per_group; c++)
        for (int64_t i = 0; i < p.kh; i++)
          for (int64_t j = 0; j < p.kw; j++) {
            float *row = cols + ((c * p.kh + i) * p.kw + j) * P;
            const float *plane = x + (b * p.c + g * p.c_per_group + c) * p.h * p.w;
            for (int64_t oh = 0; oh < p.oh; oh++) {
              int64_t ih = oh * p.stride_h - p.pad_t + i * p.dil_h;
              for (int64_t ow = 0; ow < p.ow; ow++) {
                int64_t iw = ow * p.stride_w - p.pad_l + j * p.dil_w;
                bool in_range = ih >= 0 && ih < p.h && iw >= 0 && iw < p.w;
                row[oh * p.ow + ow] = in_range ? plane[ih * p.w + iw] : 0.0f;
              }
            }
          }
      float *yg = y + (b * p.m + g * p.m_per_group) * P;
      for (int64_t m = 0; m < p.m_per_group; m++)
        for (int64_t q = 0; q < P; q++) yg[m * P + q] = bias ? bias[g * p.m_per_group + m] : 0;
      sgemm(false, false, p.m_per_group, P, K, 1.0f, w + g * p.m_per_group * K, K, cols, P, 1.0f,
            yg, P);
    }
  free(cols);
  return KRT_OK;
}

static int eval_gemm(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *a = n->inputs[0], *b = n->inputs[1], *c = n->n_inputs > 2 ? n->inputs[2] : NULL;
  bool ta = ir_attr_i(n, "transA") != 0, tb = ir_attr_i(n, "transB") != 0;
  int64_t M = ta ? a->dims[1] : a->dims[0], K = ta ? a->dims[0] : a->dims[1];
  int64_t N = tb ? b->dims[0] : b->dims[1];
  if (c && !(ir_value_numel(c) == N && c->dims[c->rank - 1] == N)) return IR_INTERP_DEFAULT;
  float *y = out[0];
  float beta = (float)ir_attr_f(n, "beta");
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) y[i * N + j] = c ? beta * ((const float *)in[2])[j] : 0;
  sgemm(ta, tb, M, N, K, (float)ir_attr_f(n, "alpha"), in[0], a->dims[1], in[1], b->dims[1], 1.0f,
        y, N);
  return KRT_OK;
}

static int eval_node(void *ctx, const IrNode *n, const void *const *in, void *const *out) {
  (void)ctx;
  switch (n->op) {
  case IR_OP_CONV: return eval_conv(n, in, out);
  case IR_OP_GEMM: return eval_gemm(n, in, out);
  case IR_OP_MATMUL: {
    const IrValue *a = n->inputs[0], *b = n->inputs[1];
    if (a->rank != 2 || b->rank != 2) return IR_INTERP_DEFAULT;
    float *y = out[0];
    for (int64_t i = 0; i < a->dims[0] * b->dims[1]; i++) y[i] = 0;
    sgemm(false, false, a->dims[0], b->dims[1], a->dims[1], 1.0f, in[0], a->dims[1], in[1],
          b->dims[1], 1.0f, y, b->dims[1]);
    return KRT_OK;
  }
  default: return IR_INTERP_DEFAULT;
  }
}

int pass_eval_run(const IrGraph *g, const void *const *inputs, void *const *outputs,
                  void (*observe)(void *ctx, const IrValue *v, const void *data), void *ctx) {
  IrInterpHooks h = {.ctx = ctx, .run_node = eval_node, .observe = observe};
  return ir_interp_run_hooked(g, inputs, outputs, NULL, &h);
}
