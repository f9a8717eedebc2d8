/* Reference kernels of the matrix, convolution and pooling ops: direct loops over the output,
 * accumulating in double, with the window geometry from ir_conv_params (shared with inference
 * and codegen). */
#include <assert.h>
#include <math.h>

#include "conv_params.h"
#include "interp_window3d.h"
#include "ir_util.h"
#include "kernels.h"
#include "krt.h"
#include "quant.h"

static IrConvParams params(const IrNode *n) {
  IrConvParams p;
  bool ok = ir_conv_params(n, &p, NULL);
  assert(ok && "interpreting a node whose shapes were not inferred");
  (void)ok;
  return p;
}

/* ---- matrix products ------------------------------------------------------------------ */

int ir_interp_gemm(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *va = n->inputs[0], *vb = n->inputs[1];
  const IrValue *vc = n->n_inputs > 2 ? n->inputs[2] : NULL;
  const float *a = in[0], *b = in[1], *c = vc ? in[2] : NULL;
  float *y = out[0];
  bool ta = ir_attr_i(n, "transA") != 0, tb = ir_attr_i(n, "transB") != 0;
  double alpha = (float)ir_attr_f(n, "alpha"), beta = (float)ir_attr_f(n, "beta");
  int64_t m = va->dims[ta], k = va->dims[!ta], nn = vb->dims[!tb];
  int64_t lda = va->dims[1], ldb = vb->dims[1];
  int64_t ydims[2] = {m, nn}, cs[2] = {0, 0};
  if (vc) ir_broadcast_strides(vc->rank, vc->dims, 2, ydims, cs);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < nn; j++) {
      double acc = 0;
      for (int64_t p = 0; p < k; p++) {
        double av = ta ? a[p * lda + i] : a[i * lda + p];
        double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
        acc += av * bv;
      }
      double r = alpha * acc;
      if (c) r += beta * c[i * cs[0] + j * cs[1]];
      y[i * nn + j] = (float)r;
    }
  return KRT_OK;
}

int ir_interp_matmul(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *va = n->inputs[0], *vb = n->inputs[1], *vy = n->outputs[0];
  /* numpy rules: 1-D A is [1,K], 1-D B is [K,1]; leading dims are broadcast batch dims */
  int64_t m = va->rank > 1 ? va->dims[va->rank - 2] : 1, k = va->dims[va->rank - 1];
  int64_t nn = vb->rank > 1 ? vb->dims[vb->rank - 1] : 1;
  int ra = va->rank > 2 ? va->rank - 2 : 0, rb = vb->rank > 2 ? vb->rank - 2 : 0;
  int ry = vy->rank - (va->rank > 1) - (vb->rank > 1); /* batch rank of the output */
  int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], batches = 1;
  ir_broadcast_strides(ra, va->dims, ry, vy->dims, sa);
  ir_broadcast_strides(rb, vb->dims, ry, vy->dims, sb);
  for (int i = 0; i < ry; i++) batches *= vy->dims[i];
  const float *a = in[0], *b = in[1];
  float *y = out[0];
  for (int64_t bi = 0; bi < batches; bi++) {
    const float *am = a + ir_broadcast_offset(bi, ry, vy->dims, sa) * m * k;
    const float *bm = b + ir_broadcast_offset(bi, ry, vy->dims, sb) * k * nn;
    float *ym = y + bi * m * nn;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < nn; j++) {
        double acc = 0;
        for (int64_t p = 0; p < k; p++) acc += (double)am[i * k + p] * bm[p * nn + j];
        ym[i * nn + j] = (float)acc;
      }
  }
  return KRT_OK;
}

/* ---- convolutions --------------------------------------------------------------------- */

int ir_interp_conv(const IrNode *n, const void *const *in, void *const *out) {
  if (n->inputs[0]->rank == 5) return ir_interp_conv3d(n, in, out);
  IrConvParams p = params(n);
  const float *x = in[0], *w = in[1], *bias = p.has_bias ? in[2] : NULL;
  float *y = out[0];
  for (int64_t b = 0; b < p.n; b++)
    for (int64_t m = 0; m < p.m; m++) {
      int64_t g = m / p.m_per_group;
      for (int64_t oh = 0; oh < p.oh; oh++)
        for (int64_t ow = 0; ow < p.ow; ow++) {
          double acc = bias ? bias[m] : 0;
          for (int64_t ci = 0; ci < p.c_per_group; ci++) {
            int64_t c = g * p.c_per_group + ci;
            for (int64_t kh = 0; kh < p.kh; kh++) {
              int64_t ih = oh * p.stride_h - p.pad_t + kh * p.dil_h;
              if (ih < 0 || ih >= p.h) continue;
              for (int64_t kw = 0; kw < p.kw; kw++) {
                int64_t iw = ow * p.stride_w - p.pad_l + kw * p.dil_w;
                if (iw < 0 || iw >= p.w) continue;
                acc += (double)x[((b * p.c + c) * p.h + ih) * p.w + iw] *
                       w[((m * p.c_per_group + ci) * p.kh + kh) * p.kw + kw];
              }
            }
          }
          y[((b * p.m + m) * p.oh + oh) * p.ow + ow] = (float)acc;
        }
    }
  return KRT_OK;
}

/* Gathers, for each output element, the inputs scattered onto it: output row
 * oh = ih*stride - pad_t + kh*dil, so ih = (oh + pad_t - kh*dil) / stride when that divides. */
int ir_interp_conv_transpose(const IrNode *n, const void *const *in, void *const *out) {
  if (n->inputs[0]->rank == 5) return ir_interp_conv_transpose3d(n, in, out);
  IrConvParams p = params(n);
  const float *x = in[0], *w = in[1], *bias = p.has_bias ? in[2] : NULL;
  float *y = out[0];
  for (int64_t b = 0; b < p.n; b++)
    for (int64_t m = 0; m < p.m; m++) {
      int64_t g = m / p.m_per_group, mo = m % p.m_per_group;
      for (int64_t oh = 0; oh < p.oh; oh++)
        for (int64_t ow = 0; ow < p.ow; ow++) {
          double acc = bias ? bias[m] : 0;
          for (int64_t ci = 0; ci < p.c_per_group; ci++) {
            int64_t c = g * p.c_per_group + ci;
            for (int64_t kh = 0; kh < p.kh; kh++) {
              int64_t th = oh + p.pad_t - kh * p.dil_h;
              if (th < 0 || th % p.stride_h || th / p.stride_h >= p.h) continue;
              for (int64_t kw = 0; kw < p.kw; kw++) {
                int64_t tw = ow + p.pad_l - kw * p.dil_w;
                if (tw < 0 || tw % p.stride_w || tw / p.stride_w >= p.w) continue;
                acc += (double)x[((b * p.c + c) * p.h + th / p.stride_h) * p.w + tw / p.stride_w] *
                       w[((c * p.m_per_group + mo) * p.kh + kh) * p.kw + kw];
              }
            }
          }
          y[((b * p.m + m) * p.oh + oh) * p.ow + ow] = (float)acc;
        }
    }
  return KRT_OK;
}

/* ---- pooling -------------------------------------------------------------------------- */

int ir_interp_max_pool(const IrNode *n, const void *const *in, void *const *out) {
  if (n->inputs[0]->dtype == IR_I8) return ir_interp_max_pool_i8(n, in, out);
  if (n->inputs[0]->rank == 5) return ir_interp_pool3d(n, in, out);
  IrConvParams p = params(n);
  const float *x = in[0];
  float *y = out[0];
  for (int64_t bc = 0; bc < p.n * p.c; bc++)
    for (int64_t oh = 0; oh < p.oh; oh++)
      for (int64_t ow = 0; ow < p.ow; ow++) {
        float best = -INFINITY; /* padding never wins */
        for (int64_t kh = 0; kh < p.kh; kh++) {
          int64_t ih = oh * p.stride_h - p.pad_t + kh * p.dil_h;
          if (ih < 0 || ih >= p.h) continue;
          for (int64_t kw = 0; kw < p.kw; kw++) {
            int64_t iw = ow * p.stride_w - p.pad_l + kw * p.dil_w;
            if (iw < 0 || iw >= p.w) continue;
            float v = x[(bc * p.h + ih) * p.w + iw];
            if (v > best || isnan(v)) best = v; /* NaN propagates, as in PyTorch */
          }
        }
        y[(bc * p.oh + oh) * p.ow + ow] = best;
      }
  return KRT_OK;
}

/* PyTorch's divisor rule (ir_avg_pool_window). */
int ir_interp_average_pool(const IrNode *n, const void *const *in, void *const *out) {
  if (n->inputs[0]->rank == 5) return ir_interp_pool3d(n, in, out);
  IrConvParams p = params(n);
  const float *x = in[0];
  float *y = out[0];
  for (int64_t bc = 0; bc < p.n * p.c; bc++)
    for (int64_t oh = 0; oh < p.oh; oh++)
      for (int64_t ow = 0; ow < p.ow; ow++) {
        IrPoolWindow w;
        ir_avg_pool_window(&p, oh, ow, &w);
        double sum = 0;
        for (int64_t ih = w.h0; ih < w.h1; ih++)
          for (int64_t iw = w.w0; iw < w.w1; iw++) sum += x[(bc * p.h + ih) * p.w + iw];
        y[(bc * p.oh + oh) * p.ow + ow] = (float)(sum / (double)w.count);
      }
  return KRT_OK;
}

int ir_interp_global_average_pool(const IrNode *n, const void *const *in, void *const *out) {
  const IrValue *v = n->inputs[0];
  int64_t planes = v->dims[0] * v->dims[1], size = 1;
  for (int d = 2; d < v->rank; d++) size *= v->dims[d];
  const float *x = in[0];
  float *y = out[0];
  for (int64_t i = 0; i < planes; i++) {
    double sum = 0;
    for (int64_t j = 0; j < size; j++) sum += x[i * size + j];
    y[i] = (float)(sum / (double)size);
  }
  return KRT_OK;
}
