/* Resolution of Conv / ConvTranspose / MaxPool / AveragePool geometry (see conv_params.h).
 * Formulas follow the ONNX opset-17 operator text and its reference implementation; pooling with
 * ceil_mode follows PyTorch (a last window that would start in the end padding is dropped). */
#include "conv_params.h"

#include <stdio.h>
#include <string.h>

#include "ir_util.h"

typedef enum { PAD_NOTSET, PAD_VALID, PAD_SAME_UPPER, PAD_SAME_LOWER } AutoPad;

static const IrAttr *attr_or_null(const IrNode *n, const char *name) {
  int k = ir_op_attr_index(n->op, name);
  return k < 0 ? NULL : &n->attrs[k];
}

/* An optional list of exactly `count` integers in [lo, IR_MAX_DIM]; `def` fills it if absent.
 * The upper bound keeps every later product and sum of attribute values inside int64. */
static bool get_ints(const IrNode *n, const char *name, int count, int64_t lo, int64_t def,
                     int64_t *out, IrDiag *d) {
  const IrAttr *a = attr_or_null(n, name);
  char field[64];
  snprintf(field, sizeof field, "attrs.%s", name);
  if (!a || !a->present) {
    for (int i = 0; i < count; i++) out[i] = def;
    return true;
  }
  if (a->count != count)
    return ir_node_error(d, n, field, "expected %d integers, got %d", count, a->count);
  for (int i = 0; i < count; i++) {
    int64_t v = a->ints[i];
    if (v < lo) {
      if (lo == 0) return ir_node_error(d, n, field, "negative value %lld", (long long)v);
      return ir_node_error(d, n, field, "value %lld must be at least %lld", (long long)v,
                           (long long)lo);
    }
    if (v > IR_MAX_DIM)
      return ir_node_error(d, n, field, "value %lld is too large (at most %lld)", (long long)v,
                           (long long)IR_MAX_DIM);
    out[i] = v;
  }
  return true;
}

static bool get_auto_pad(const IrNode *n, AutoPad *out, IrDiag *d) {
  static const char *const names[] = {"NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"};
  const char *s = ir_attr_s(n, "auto_pad");
  for (int i = 0; i < 4; i++)
    if (s && strcmp(s, names[i]) == 0) {
      *out = (AutoPad)i;
      return true;
    }
  /* The value comes from the model file: show at most 64 bytes of it. */
  return ir_node_error(d, n, "attrs.auto_pad",
                       "unknown value '%.64s%s' (expected NOTSET, VALID, SAME_UPPER or SAME_LOWER)",
                       s ? s : "", s && strlen(s) > 64 ? "..." : "");
}

/* Splits a total padding between begin and end; SAME_UPPER puts the odd extra at the end. */
static void split_pad(int64_t total, bool extra_at_end, int64_t *pb, int64_t *pe) {
  int64_t half = total / 2;
  *pb = extra_at_end ? half : total - half;
  *pe = total - *pb;
}

typedef struct {
  const char *name; /* "depth" / "height" / "width" */
  int64_t in, k, s, dil, out_pad;
  int64_t out_shape; /* ConvTranspose output_shape entry, or -1 */
} Dim;

/* Conv and pools: pads and output size of one spatial dimension. */
static bool resolve_forward(const IrNode *n, const Dim *x, AutoPad ap, bool ceil_mode, bool pool,
                            int64_t *pb, int64_t *pe, int64_t *out, IrDiag *d) {
  int64_t k_eff = (x->k - 1) * x->dil + 1;
  if (ap == PAD_VALID) {
    *pb = *pe = 0;
  } else if (ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
    /* out = ceil(in / s); the padding that achieves it, never negative (as onnxruntime) */
    int64_t target = (x->in + x->s - 1) / x->s;
    int64_t total = (target - 1) * x->s + k_eff - x->in;
    split_pad(total > 0 ? total : 0, ap == PAD_SAME_UPPER, pb, pe);
  }
  if (pool && (*pb >= k_eff || *pe >= k_eff))
    return ir_node_error(
        d, n, "attrs.pads",
        "%s pad %lld is not smaller than the kernel extent %lld (windows would lie "
        "entirely in the padding)",
        x->name, (long long)(*pb >= k_eff ? *pb : *pe), (long long)k_eff);
  int64_t span = x->in + *pb + *pe - k_eff;
  if (span < 0)
    return ir_node_error(d, n, "",
                         "output would be empty: %s %lld + pads %lld+%lld is smaller than the "
                         "kernel extent %lld",
                         x->name, (long long)x->in, (long long)*pb, (long long)*pe,
                         (long long)k_eff);
  if (ceil_mode) {
    *out = (span + x->s - 1) / x->s + 1;
    /* PyTorch / ONNX reference: the last window must start inside the input or begin padding */
    if ((*out - 1) * x->s >= x->in + *pb) --*out;
  } else {
    *out = span / x->s + 1;
  }
  return true;
}

/* ConvTranspose: pads and output size of one spatial dimension. */
static bool resolve_transpose(const IrNode *n, const Dim *x, AutoPad ap, int64_t *pb, int64_t *pe,
                              int64_t *out, IrDiag *d) {
  int64_t k_eff = (x->k - 1) * x->dil + 1;
  int64_t full = x->s * (x->in - 1) + x->out_pad + k_eff; /* output size with no padding */
  if (x->out_shape >= 0 || ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
    int64_t target = x->out_shape >= 0 ? x->out_shape : x->in * x->s;
    int64_t total = full - target;
    if (total < 0) {
      if (x->out_shape >= 0)
        return ir_node_error(d, n, "attrs.output_shape",
                             "%s %lld is larger than the unpadded output %lld (would need "
                             "negative padding)",
                             x->name, (long long)target, (long long)full);
      return ir_node_error(d, n, "attrs.auto_pad",
                           "%s: output %lld (input * stride) would need negative padding "
                           "(unpadded output is %lld)",
                           x->name, (long long)target, (long long)full);
    }
    /* ONNX: SAME_UPPER puts the odd extra at the end, anything else at the beginning */
    split_pad(total, ap == PAD_SAME_UPPER, pb, pe);
    *out = target;
    return true;
  }
  if (ap == PAD_VALID) *pb = *pe = 0;
  *out = full - *pb - *pe;
  if (*out < 1)
    return ir_node_error(d, n, "",
                         "output would be empty: pads %lld+%lld remove the whole %s %lld of the "
                         "unpadded output",
                         (long long)*pb, (long long)*pe, x->name, (long long)full);
  return true;
}

bool ir_conv_nd_params(const IrNode *n, IrConvNd *p, IrDiag *d) {
  memset(p, 0, sizeof *p);
  p->op = n->op;
  const char *opname = ir_op_info[n->op].name;
  bool conv = n->op == IR_OP_CONV, convt = n->op == IR_OP_CONV_TRANSPOSE;
  bool pool = n->op == IR_OP_MAX_POOL || n->op == IR_OP_AVERAGE_POOL;
  char s1[128], s2[128];
  if (!conv && !convt && !pool)
    return ir_node_error(d, n, "", "internal error: %s is not a windowed op", opname);

  const IrValue *x = n->n_inputs > 0 ? n->inputs[0] : NULL;
  if (!x) return ir_node_error(d, n, "inputs[0]", "required input is missing");
  if (x->rank < 3 || x->rank > 2 + IR_CONV_MAX_SPATIAL)
    return ir_node_error(d, n, "inputs[0]",
                         "%s supports 1-D, 2-D and 3-D data: expected an input [N,C,W], "
                         "[N,C,H,W] or [N,C,D,H,W], got shape %s",
                         opname, ir_format_dims(x->rank, x->dims, s1, sizeof s1));
  int sp = x->rank - 2;
  p->spatial = sp;
  p->n = x->dims[0];
  p->c = x->dims[1];
  for (int i = 0; i < sp; i++) p->in[i] = x->dims[2 + i];
  p->group = 1;

  if (conv || convt) {
    const IrValue *wt = n->n_inputs > 1 ? n->inputs[1] : NULL;
    if (!wt) return ir_node_error(d, n, "inputs[1]", "required input (weight) is missing");
    if (wt->rank != x->rank)
      return ir_node_error(d, n, "inputs[1]", "expected a %d-D weight, got shape %s", x->rank,
                           ir_format_dims(wt->rank, wt->dims, s1, sizeof s1));
    int64_t g = ir_attr_i(n, "group");
    if (g < 1)
      return ir_node_error(d, n, "attrs.group", "value %lld must be at least 1", (long long)g);
    if (p->c % g != 0)
      return ir_node_error(d, n, "attrs.group", "%lld does not divide the input's %lld channels",
                           (long long)g, (long long)p->c);
    p->group = g;
    if (conv) {
      if (wt->dims[1] * g != p->c)
        return ir_node_error(d, n, "inputs[1]",
                             "weight has %lld input channels per group, input has %lld channels "
                             "and group %lld",
                             (long long)wt->dims[1], (long long)p->c, (long long)g);
      if (wt->dims[0] % g != 0)
        return ir_node_error(d, n, "inputs[1]",
                             "weight has %lld output channels, not a multiple of group %lld",
                             (long long)wt->dims[0], (long long)g);
      p->m = wt->dims[0];
    } else {
      if (wt->dims[0] != p->c)
        return ir_node_error(d, n, "inputs[1]",
                             "weight has %lld input channels, input has %lld (ConvTranspose "
                             "weight is [C, M/group, kH, kW])",
                             (long long)wt->dims[0], (long long)p->c);
      p->m = wt->dims[1] * g;
    }
    for (int i = 0; i < sp; i++) p->k[i] = wt->dims[2 + i];
    const IrAttr *ks = attr_or_null(n, "kernel_shape");
    if (ks->present) {
      int64_t given[IR_CONV_MAX_SPATIAL];
      if (!get_ints(n, "kernel_shape", sp, 1, 1, given, d)) return false;
      if (memcmp(given, p->k, (size_t)sp * sizeof *given) != 0)
        return ir_node_error(d, n, "attrs.kernel_shape", "%s does not match the weight's kernel %s",
                             ir_format_dims(sp, given, s1, sizeof s1),
                             ir_format_dims(sp, p->k, s2, sizeof s2));
    }
    const IrValue *b = n->n_inputs > 2 ? n->inputs[2] : NULL;
    if (b) {
      if (b->rank != 1 || b->dims[0] != p->m)
        return ir_node_error(d, n, "inputs[2]", "bias has shape %s, expected [%lld]",
                             ir_format_dims(b->rank, b->dims, s1, sizeof s1), (long long)p->m);
      p->has_bias = true;
    }
  } else {
    if (!attr_or_null(n, "kernel_shape")->present)
      return ir_node_error(d, n, "attrs.kernel_shape", "required attribute is missing");
    if (!get_ints(n, "kernel_shape", sp, 1, 1, p->k, d)) return false;
    p->m = p->c;
  }
  p->c_per_group = p->c / p->group;
  p->m_per_group = p->m / p->group;

  int64_t pads[2 * IR_CONV_MAX_SPATIAL], out_shape[IR_CONV_MAX_SPATIAL];
  if (!get_ints(n, "strides", sp, 1, 1, p->stride, d)) return false;
  for (int i = 0; i < sp; i++) p->dil[i] = 1;
  if (attr_or_null(n, "dilations") && !get_ints(n, "dilations", sp, 1, 1, p->dil, d)) return false;
  if (!get_ints(n, "pads", 2 * sp, 0, 0, pads, d)) return false;
  AutoPad ap = PAD_NOTSET;
  if (!get_auto_pad(n, &ap, d)) return false;
  bool any_pad = false;
  for (int i = 0; i < 2 * sp; i++) any_pad |= pads[i] != 0;
  if (ap != PAD_NOTSET && any_pad)
    return ir_node_error(d, n, "attrs.pads", "explicit pads cannot be combined with auto_pad %s",
                         ir_attr_s(n, "auto_pad"));
  if (pool && !ir_attr_flag(n, "ceil_mode", &p->ceil_mode, d)) return false;
  if (n->op == IR_OP_AVERAGE_POOL &&
      !ir_attr_flag(n, "count_include_pad", &p->count_include_pad, d))
    return false;
  for (int i = 0; i < sp; i++) out_shape[i] = -1;
  if (convt) {
    if (!get_ints(n, "output_padding", sp, 0, 0, p->out_pad, d)) return false;
    const IrAttr *os = attr_or_null(n, "output_shape");
    if (os->present) {
      /* spatial [(D,) (H,) W], or the full [N, M, ...] */
      int64_t full[2 + IR_CONV_MAX_SPATIAL];
      if (os->count != sp && os->count != sp + 2)
        return ir_node_error(d, n, "attrs.output_shape", "expected %d or %d integers, got %d", sp,
                             sp + 2, os->count);
      if (!get_ints(n, "output_shape", os->count, 1, 1, full, d)) return false;
      if (os->count == sp + 2 && (full[0] != p->n || full[1] != p->m))
        return ir_node_error(
            d, n, "attrs.output_shape", "%s does not match the batch %lld and %lld output channels",
            ir_format_dims(os->count, full, s1, sizeof s1), (long long)p->n, (long long)p->m);
      for (int i = 0; i < sp; i++) out_shape[i] = full[os->count - sp + i];
    }
  }
  static const char *const axis_names[] = {"depth", "height", "width"};
  for (int i = 0; i < sp; i++) {
    p->pad_begin[i] = pads[i];
    p->pad_end[i] = pads[sp + i];
    Dim dm = {axis_names[IR_CONV_MAX_SPATIAL - sp + i],
              p->in[i],
              p->k[i],
              p->stride[i],
              p->dil[i],
              p->out_pad[i],
              out_shape[i]};
    bool ok = convt ? resolve_transpose(n, &dm, ap, &p->pad_begin[i], &p->pad_end[i], &p->out[i], d)
                    : resolve_forward(n, &dm, ap, p->ceil_mode, pool, &p->pad_begin[i],
                                      &p->pad_end[i], &p->out[i], d);
    if (!ok) return false;
  }
  return true;
}

bool ir_conv_params(const IrNode *n, IrConvParams *p, IrDiag *d) {
  memset(p, 0, sizeof *p);
  IrConvNd q;
  if (!ir_conv_nd_params(n, &q, d)) return false;
  if (q.spatial > 2) {
    char s1[128];
    const IrValue *x = n->inputs[0];
    return ir_node_error(d, n, "inputs[0]",
                         "%s supports 1-D and 2-D data: expected an input [N,C,W] or [N,C,H,W], "
                         "got shape %s",
                         ir_op_info[n->op].name, ir_format_dims(x->rank, x->dims, s1, sizeof s1));
  }
  /* 1-D data is [N, C, 1, W]: its H axis has kernel, stride and dilation 1 and no padding */
  int h = q.spatial == 2 ? 0 : -1, w = q.spatial - 1;
  p->op = q.op;
  p->spatial = q.spatial;
  p->n = q.n;
  p->c = q.c;
  p->m = q.m;
  p->group = q.group;
  p->c_per_group = q.c_per_group;
  p->m_per_group = q.m_per_group;
  p->ceil_mode = q.ceil_mode;
  p->count_include_pad = q.count_include_pad;
  p->has_bias = q.has_bias;
  p->h = h < 0 ? 1 : q.in[h];
  p->oh = h < 0 ? 1 : q.out[h];
  p->kh = h < 0 ? 1 : q.k[h];
  p->stride_h = h < 0 ? 1 : q.stride[h];
  p->dil_h = h < 0 ? 1 : q.dil[h];
  p->pad_t = h < 0 ? 0 : q.pad_begin[h];
  p->pad_b = h < 0 ? 0 : q.pad_end[h];
  p->out_pad_h = h < 0 ? 0 : q.out_pad[h];
  p->w = q.in[w];
  p->ow = q.out[w];
  p->kw = q.k[w];
  p->stride_w = q.stride[w];
  p->dil_w = q.dil[w];
  p->pad_l = q.pad_begin[w];
  p->pad_r = q.pad_end[w];
  p->out_pad_w = q.out_pad[w];
  return true;
}

int64_t ir_conv_panel_cols(const IrConvParams *p, int64_t panel_bytes, int64_t tile_cols) {
  int64_t K = p->c_per_group * p->kh * p->kw, P = p->oh * p->ow;
  int64_t cols = panel_bytes / (int64_t)sizeof(float) / K - tile_cols;
  cols = cols / tile_cols * tile_cols; /* whole tiles */
  if (cols < tile_cols) cols = tile_cols;
  return cols < P ? cols : P;
}

int64_t ir_conv_panel_scratch_bytes(const IrConvParams *p, int64_t panel_bytes, int64_t tile_cols) {
  int64_t K = p->c_per_group * p->kh * p->kw;
  return K * (ir_conv_panel_cols(p, panel_bytes, tile_cols) + tile_cols) * (int64_t)sizeof(float);
}

int64_t ir_conv_panel_cols_of_scratch(const IrConvParams *p, int64_t scratch_bytes,
                                      int64_t tile_cols) {
  int64_t K = p->c_per_group * p->kh * p->kw;
  return scratch_bytes / (int64_t)sizeof(float) / K - tile_cols;
}

void ir_conv_wide(const IrConvParams *p, int64_t tile_cols, IrConvWide *w) {
  int64_t hp = p->h + p->pad_t + p->pad_b, wp = p->w + p->pad_l + p->pad_r;
  w->hq = (hp + p->stride_h - 1) / p->stride_h;
  w->wq = (wp + p->stride_w - 1) / p->stride_w;
  w->plane = w->hq * w->wq;
  /* the last wide pixels' taps reach (kw-1)*dil_w/stride_w past a plane, tiles NR more */
  w->image_floats = p->stride_h * p->stride_w * p->c_per_group * w->plane + tile_cols +
                    (p->kw - 1) * p->dil_w / p->stride_w;
  w->wide_cols = p->oh * w->wq;
  w->scratch_bytes = (w->image_floats + p->m_per_group * w->wide_cols) * (int64_t)sizeof(float);
}

int64_t ir_conv_wide_tap(const IrConvParams *p, const IrConvWide *w, int64_t k) {
  int64_t x = k % p->kw, y = k / p->kw % p->kh, ic = k / (p->kw * p->kh);
  int64_t dy = y * p->dil_h, dx = x * p->dil_w;
  int64_t phase = (dy % p->stride_h) * p->stride_w + dx % p->stride_w;
  return (phase * p->c_per_group + ic) * w->plane + dy / p->stride_h * w->wq + dx / p->stride_w;
}

bool ir_conv_winograd_applies(const IrConvParams *p) {
  return p->op == IR_OP_CONV && p->kh == 3 && p->kw == 3 && p->stride_h == 1 && p->stride_w == 1 &&
         p->dil_h == 1 && p->dil_w == 1 && p->group == 1 && p->oh >= 2 && p->ow >= 2;
}

/* The stride of Winograd's 16 planes of n floats: a multiple of 2 KiB put all 16 (64->64 at
 * 8x8: 4 KiB each) in a few sets of the L1 cache, so the input transform, which stores to all
 * 16 at once, evicted its own lines (17 of that layer's 35 us on AVX-512); one line more (an odd
 * number of lines) gives each plane other sets: 64->64 at 8x8 35.2 -> 20.6 us, 32->64 at 16x16
 * (6 KiB planes) 60 -> 46 us. 1 KiB planes (16->16 at 32x32, small blocks) share sets four to
 * a set, within the 12 ways, and stay (padded: +1.4%). */
static int64_t winograd_plane_stride(int64_t n) { return n % 512 == 0 ? n + 16 : n; }

static void winograd_rows(const IrConvParams *p, int64_t tile_cols, int64_t rows, int64_t mb,
                          IrConvWinograd *w) {
  w->th = (p->oh + 1) / 2;
  w->tw = (p->ow + 1) / 2;
  w->half = w->tw + 1;
  w->rows = rows;
  w->mb = mb;
  w->cols = rows * w->tw;
  w->image_floats = p->c * (2 * rows + 2) * 2 * w->half;
  w->v_stride = winograd_plane_stride(p->c * w->cols);
  w->m_stride = winograd_plane_stride(mb * w->cols);
  w->v_floats = 16 * w->v_stride + tile_cols;
  w->scratch_bytes = (w->image_floats + w->v_floats + 16 * w->m_stride) * (int64_t)sizeof(float);
}

int64_t ir_conv_winograd_bytes(const IrConvParams *p, int64_t tile_cols, int64_t rows, int64_t mb) {
  IrConvWinograd w;
  winograd_rows(p, tile_cols, rows, mb, &w);
  return w.scratch_bytes;
}

void ir_conv_winograd(const IrConvParams *p, int64_t tile_cols, int64_t budget_bytes,
                      IrConvWinograd *w) {
  int64_t th = (p->oh + 1) / 2, rows = 1;
  while (rows < th) {
    winograd_rows(p, tile_cols, rows + 1, p->m, w);
    if (w->scratch_bytes > budget_bytes) break;
    rows++;
  }
  winograd_rows(p, tile_cols, rows, p->m, w);
  /* one tile row still too large: the products in blocks of output channels (a divisor of m,
   * at least 8 where m has one) */
  for (int64_t k = 2; w->scratch_bytes > budget_bytes && p->m / k >= 8; k++)
    if (p->m % k == 0) winograd_rows(p, tile_cols, 1, p->m / k, w);
}

/* floor(a / b) for b > 0 */
static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* The output rows (or columns) of each phase along one axis, and the input range they read. */
static bool subpixel_axis(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad,
                          int64_t *q0, int64_t *nq, int64_t *lo, int64_t *len) {
  int64_t first = 0, last = 0;
  for (int64_t r = 0; r < stride; r++) {
    /* outputs o = q*stride + r - pad in [0, out) */
    int64_t qa = floor_div(pad - r + stride - 1, stride), qb = floor_div(out - 1 + pad - r, stride);
    if (qb < qa) return false;
    q0[r] = qa;
    nq[r] = qb - qa + 1;
    int64_t a = qa - (ir_subpixel_taps(k, stride, r) - 1);
    if (r == 0 || a < first) first = a;
    if (r == 0 || qb > last) last = qb;
  }
  (void)in;
  *lo = first;
  *len = last - first + 1;
  return true;
}

bool ir_conv_subpixel(const IrConvParams *p, int64_t tile_cols, IrConvSubpixel *s) {
  memset(s, 0, sizeof *s);
  if (p->op != IR_OP_CONV_TRANSPOSE || p->group != 1 || p->dil_h != 1 || p->dil_w != 1 ||
      p->stride_h > IR_SUBPIXEL_MAX_STRIDE || p->stride_w > IR_SUBPIXEL_MAX_STRIDE ||
      p->kh < p->stride_h || p->kw < p->stride_w)
    return false;
  if (!subpixel_axis(p->h, p->oh, p->kh, p->stride_h, p->pad_t, s->qy0, s->ny, &s->iy0, &s->hp) ||
      !subpixel_axis(p->w, p->ow, p->kw, p->stride_w, p->pad_l, s->qx0, s->nx, &s->ix0, &s->wp))
    return false;
  s->th = ir_subpixel_taps(p->kh, p->stride_h, 0);
  s->tw = ir_subpixel_taps(p->kw, p->stride_w, 0);
  int64_t ny_max = 0;
  for (int64_t r = 0; r < p->stride_h; r++) {
    if (s->ny[r] > ny_max) ny_max = s->ny[r];
    for (int64_t x = 0; x < p->stride_w; x++)
      s->macs += p->m * p->c * ir_subpixel_taps(p->kh, p->stride_h, r) *
                 ir_subpixel_taps(p->kw, p->stride_w, x) * s->ny[r] * s->wp;
  }
  s->image_floats = p->c * s->hp * s->wp + s->wp + tile_cols;
  s->wide_floats = p->m * ny_max * s->wp;
  s->scratch_bytes = (s->image_floats + p->stride_w * s->wide_floats) * (int64_t)sizeof(float);
  return true;
}

void ir_avg_pool_window(const IrConvParams *p, int64_t oh, int64_t ow, IrPoolWindow *w) {
  w->h0 = oh * p->stride_h - p->pad_t;
  w->w0 = ow * p->stride_w - p->pad_l;
  w->h1 = w->h0 + p->kh;
  w->w1 = w->w0 + p->kw;
  if (w->h1 > p->h + p->pad_b) w->h1 = p->h + p->pad_b;
  if (w->w1 > p->w + p->pad_r) w->w1 = p->w + p->pad_r;
  w->padded = (w->h1 - w->h0) * (w->w1 - w->w0);
  if (w->h0 < 0) w->h0 = 0;
  if (w->w0 < 0) w->w0 = 0;
  if (w->h1 > p->h) w->h1 = p->h;
  if (w->w1 > p->w) w->w1 = p->w;
  w->count = p->count_include_pad ? w->padded : (w->h1 - w->h0) * (w->w1 - w->w0);
}
