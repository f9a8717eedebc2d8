/* Reference kernels of Conv, ConvTranspose, MaxPool and AveragePool on 3-D data [N, C, D, H, W]
 * (interp_nn.c dispatches here): direct loops over the output, accumulating in double, with the
 * geometry from ir_conv_nd_params, the same rules as the 1-D and 2-D kernels. */
#include <assert.h>
#include <math.h>

#include "conv_params.h"
#include "interp_window3d.h"
#include "krt.h"

static IrConvNd params3(const IrNode *n) {
  IrConvNd p;
  bool ok = ir_conv_nd_params(n, &p, NULL);
  assert(ok && p.spatial == 3 && "interpreting a node whose shapes were not inferred");
  (void)ok;
  return p;
}

/* Flat offset of (plane, z, y, x) in planes of extent e[3]. */
static int64_t at3(int64_t plane, const int64_t *e, int64_t z, int64_t y, int64_t x) {
  return ((plane * e[0] + z) * e[1] + y) * e[2] + x;
}

int ir_interp_conv3d(const IrNode *n, const void *const *in, void *const *out) {
  IrConvNd p = params3(n);
  const float *x = in[0], *w = in[1], *bias = p.has_bias ? in[2] : NULL;
  float *y = out[0];
  const int64_t *s = p.stride, *dl = p.dil, *pb = p.pad_begin, *k = p.k;
  for (int64_t b = 0; b < p.n; b++)
    for (int64_t m = 0; m < p.m; m++) {
      int64_t g = m / p.m_per_group;
      for (int64_t od = 0; od < p.out[0]; od++)
        for (int64_t oh = 0; oh < p.out[1]; oh++)
          for (int64_t ow = 0; ow < p.out[2]; ow++) {
            double acc = bias ? bias[m] : 0;
            for (int64_t ci = 0; ci < p.c_per_group; ci++) {
              int64_t c = g * p.c_per_group + ci;
              for (int64_t kd = 0; kd < k[0]; kd++) {
                int64_t id = od * s[0] - pb[0] + kd * dl[0];
                if (id < 0 || id >= p.in[0]) continue;
                for (int64_t kh = 0; kh < k[1]; kh++) {
                  int64_t ih = oh * s[1] - pb[1] + kh * dl[1];
                  if (ih < 0 || ih >= p.in[1]) continue;
                  for (int64_t kw = 0; kw < k[2]; kw++) {
                    int64_t iw = ow * s[2] - pb[2] + kw * dl[2];
                    if (iw < 0 || iw >= p.in[2]) continue;
                    acc += (double)x[at3(b * p.c + c, p.in, id, ih, iw)] *
                           w[at3(m * p.c_per_group + ci, k, kd, kh, kw)];
                  }
                }
              }
            }
            y[at3(b * p.m + m, p.out, od, oh, ow)] = (float)acc;
          }
    }
  return KRT_OK;
}

/* Input position of output position o and tap kk along axis a of a ConvTranspose, or -1:
 * o = i*stride - pad + kk*dil. */
static int64_t convt_source(const IrConvNd *p, int a, int64_t o, int64_t kk) {
  int64_t t = o + p->pad_begin[a] - kk * p->dil[a];
  if (t < 0 || t % p->stride[a] || t / p->stride[a] >= p->in[a]) return -1;
  return t / p->stride[a];
}

int ir_interp_conv_transpose3d(const IrNode *n, const void *const *in, void *const *out) {
  IrConvNd p = params3(n);
  const float *x = in[0], *w = in[1], *bias = p.has_bias ? in[2] : NULL;
  float *y = out[0];
  for (int64_t b = 0; b < p.n; b++)
    for (int64_t m = 0; m < p.m; m++) {
      int64_t g = m / p.m_per_group, mo = m % p.m_per_group;
      for (int64_t od = 0; od < p.out[0]; od++)
        for (int64_t oh = 0; oh < p.out[1]; oh++)
          for (int64_t ow = 0; ow < p.out[2]; ow++) {
            double acc = bias ? bias[m] : 0;
            for (int64_t ci = 0; ci < p.c_per_group; ci++) {
              int64_t c = g * p.c_per_group + ci;
              for (int64_t kd = 0; kd < p.k[0]; kd++) {
                int64_t id = convt_source(&p, 0, od, kd);
                if (id < 0) continue;
                for (int64_t kh = 0; kh < p.k[1]; kh++) {
                  int64_t ih = convt_source(&p, 1, oh, kh);
                  if (ih < 0) continue;
                  for (int64_t kw = 0; kw < p.k[2]; kw++) {
                    int64_t iw = convt_source(&p, 2, ow, kw);
                    if (iw < 0) continue;
                    /* weight [C, M/group, kD, kH, kW] */
                    acc += (double)x[at3(b * p.c + c, p.in, id, ih, iw)] *
                           w[at3(c * p.m_per_group + mo, p.k, kd, kh, kw)];
                  }
                }
              }
            }
            y[at3(b * p.m + m, p.out, od, oh, ow)] = (float)acc;
          }
    }
  return KRT_OK;
}

int ir_interp_pool3d(const IrNode *n, const void *const *in, void *const *out) {
  IrConvNd p = params3(n);
  bool avg = n->op == IR_OP_AVERAGE_POOL;
  const float *x = in[0];
  float *y = out[0];
  for (int64_t bc = 0; bc < p.n * p.c; bc++)
    for (int64_t od = 0; od < p.out[0]; od++)
      for (int64_t oh = 0; oh < p.out[1]; oh++)
        for (int64_t ow = 0; ow < p.out[2]; ow++) {
          int64_t o[3] = {od, oh, ow}, cnt = 1;
          double sum = 0;
          float best = -INFINITY; /* padding never wins */

          for (int64_t kd = 0; kd < p.k[0]; kd++) {
            int64_t z = od * p.stride[0] - p.pad_begin[0] + kd * p.dil[0];
            if (z < 0 || z >= p.in[0]) continue;
            for (int64_t kh = 0; kh < p.k[1]; kh++) {
              int64_t r = oh * p.stride[1] - p.pad_begin[1] + kh * p.dil[1];
              if (r < 0 || r >= p.in[1]) continue;
              for (int64_t kw = 0; kw < p.k[2]; kw++) {
                int64_t q = ow * p.stride[2] - p.pad_begin[2] + kw * p.dil[2];
                if (q < 0 || q >= p.in[2]) continue;
                float v = x[at3(bc, p.in, z, r, q)];
                sum += v;
                if (v > best || isnan(v)) best = v; /* NaN propagates, as in PyTorch */
              }
            }
          }
          for (int a = 0; avg && a < 3; a++)
            cnt *= ir_pool_divisor_taps(o[a] * p.stride[a] - p.pad_begin[a], p.k[a], p.dil[a],
                                        p.in[a], p.pad_begin[a], p.pad_end[a], p.count_include_pad);
          y[at3(bc, p.out, od, oh, ow)] = avg ? (float)(sum / (double)cnt) : best;
        }
  return KRT_OK;
}
