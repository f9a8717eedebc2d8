/* Random valid models for differential testing (see rgraph.h). Shapes are computed here with the
 * ONNX rules Kiln implements (ir/conv_params.c for the windowed ops), so every model must load:
 * a model Kiln rejects is a bug of the generator or of Kiln, and the test reports it. */
#include "rgraph.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The generator's own bound on tensors per model (not a model-controlled count). */
#define RG_MAX_TENSORS 4096

typedef struct {
  char *p;
  size_t len, cap;
} RgBuf;

static void rg_printf(RgBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rg_printf(RgBuf *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) abort();
    if (b->p && b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    b->cap = (b->cap + (size_t)n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) abort();
  }
}

typedef struct {
  int rank;
  int64_t dims[8];
  float mag; /* rough bound of |value| */
} RgTensor;

typedef struct {
  uint64_t s;
  uint64_t zs; /* a second stream for rg_set_zero_fraction's zeros: the graphs stay the same */
  RgBuf inputs, inits, nodes;
  int n_inputs, n_inits, n_nodes;
  RgTensor *t;
  bool *is_output;
  int nt;
} Rg;

/* ---- random numbers ----------------------------------------------------------------------- */

static uint64_t next_u64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

float rg_uniform(uint64_t *state) {
  return (float)((double)(next_u64(state) >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

static int rnd(Rg *r, int n) { return n <= 1 ? 0 : (int)(next_u64(&r->s) % (uint64_t)n); }
static bool chance(Rg *r, double p) { return (double)(next_u64(&r->s) >> 11) * 0x1.0p-53 < p; }
static int range(Rg *r, int lo, int hi) { return lo + rnd(r, hi - lo + 1); }

/* ---- tensors and nodes -------------------------------------------------------------------- */

static bool room(const Rg *r, int k) { return r->nt + k < RG_MAX_TENSORS; }

static int new_tensor(Rg *r, int rank, const int64_t *dims, float mag) {
  if (r->nt >= RG_MAX_TENSORS) abort(); /* callers check room() */
  RgTensor *t = &r->t[r->nt];
  t->rank = rank;
  if (rank) memcpy(t->dims, dims, sizeof *dims * (size_t)rank);
  t->mag = mag;
  return r->nt++;
}

static int64_t numel(const RgTensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++) n *= t->dims[i];
  return n;
}

static void shape_json(RgBuf *b, int rank, const int64_t *dims) {
  rg_printf(b, "[");
  for (int i = 0; i < rank; i++) rg_printf(b, "%s%lld", i ? "," : "", (long long)dims[i]);
  rg_printf(b, "]");
}

static int input(Rg *r, int rank, const int64_t *dims) {
  int id = new_tensor(r, rank, dims, 1.0f);
  rg_printf(&r->inputs,
            "%s\n  {\"name\": \"v%d\", \"dtype\": \"f32\", \"shape\": ", r->n_inputs++ ? "," : "",
            id);
  shape_json(&r->inputs, rank, dims);
  rg_printf(&r->inputs, "}");
  return id;
}

static double zero_fraction; /* rg_set_zero_fraction */

void rg_set_zero_fraction(double f) { zero_fraction = f; }

static bool winograd_convs; /* rg_set_winograd_convs */
void rg_set_winograd_convs(bool on) { winograd_convs = on; }
static int channel_block; /* rg_set_channel_block */
void rg_set_channel_block(int b) { channel_block = b; }

/* An f32 initializer of values offset + scale * U(-1, 1); with a zero fraction, matrices (rank
 * 2 and up: weights) get that fraction of exact zeros, and some whole leading slices of zeros
 * (pruned output channels), from their own stream. */
static int constant(Rg *r, int rank, const int64_t *dims, float scale, float offset) {
  int id = new_tensor(r, rank, dims, fabsf(offset) + scale);
  rg_printf(&r->inits,
            "%s\n  {\"name\": \"v%d\", \"dtype\": \"f32\", \"shape\": ", r->n_inits++ ? "," : "",
            id);
  shape_json(&r->inits, rank, dims);
  rg_printf(&r->inits, ", \"data\": [");
  int64_t n = numel(&r->t[id]);
  bool sparse = zero_fraction > 0 && rank >= 2 && n > 0;
  int64_t slice = sparse ? n / dims[0] : 1;
  bool dead = false;
  for (int64_t i = 0; i < n; i++) {
    float v = offset + scale * rg_uniform(&r->s);
    if (sparse) {
      if (i % slice == 0) dead = (double)(next_u64(&r->zs) >> 11) * 0x1.0p-53 < 0.2;
      if (dead || (double)(next_u64(&r->zs) >> 11) * 0x1.0p-53 < zero_fraction) v = 0.0f;
    }
    rg_printf(&r->inits, "%s%.6g", i ? "," : "", v);
  }
  rg_printf(&r->inits, "]}");
  return id;
}

static int scalar(Rg *r, float v) {
  int id = constant(r, 0, NULL, 0.0f, v);
  return id;
}

static int const_i64(Rg *r, int n, const int64_t *v) {
  int64_t dims[1] = {n};
  int id = new_tensor(r, 1, dims, 0.0f);
  rg_printf(&r->inits, "%s\n  {\"name\": \"v%d\", \"dtype\": \"i64\", \"shape\": [%d], \"data\": ",
            r->n_inits++ ? "," : "", id, n);
  shape_json(&r->inits, n, v);
  rg_printf(&r->inits, "}");
  return id;
}

/* A node; ins[k] < 0 is an omitted optional input; attrs is the JSON object's body or NULL. */
static void node(Rg *r, const char *op, const int *ins, int n_in, const int *outs, int n_out,
                 const char *attrs) {
  RgBuf *b = &r->nodes;
  rg_printf(b, "%s\n  {\"name\": \"n%d_%s\", \"op\": \"%s\", \"inputs\": [", r->n_nodes ? "," : "",
            r->n_nodes, op, op);
  r->n_nodes++;
  for (int k = 0; k < n_in; k++)
    if (ins[k] < 0)
      rg_printf(b, "%s\"\"", k ? "," : "");
    else
      rg_printf(b, "%s\"v%d\"", k ? "," : "", ins[k]);
  rg_printf(b, "], \"outputs\": [");
  for (int j = 0; j < n_out; j++) rg_printf(b, "%s\"v%d\"", j ? "," : "", outs[j]);
  rg_printf(b, "]");
  if (attrs && *attrs) rg_printf(b, ", \"attrs\": {%s}", attrs);
  rg_printf(b, "}");
}

static int node1(Rg *r, const char *op, const int *ins, int n_in, int rank, const int64_t *dims,
                 float mag, const char *attrs) {
  int y = new_tensor(r, rank, dims, mag);
  node(r, op, ins, n_in, &y, 1, attrs);
  return y;
}

static int unary(Rg *r, const char *op, int x, float mag, const char *attrs) {
  return node1(r, op, &x, 1, r->t[x].rank, r->t[x].dims, mag, attrs);
}

static int binary(Rg *r, const char *op, int a, int b) {
  const RgTensor *x = &r->t[a], *y = &r->t[b];
  int rank = x->rank > y->rank ? x->rank : y->rank;
  int64_t dims[8];
  for (int i = 0; i < rank; i++) {
    int ia = i - (rank - x->rank), ib = i - (rank - y->rank);
    int64_t da = ia >= 0 ? x->dims[ia] : 1, db = ib >= 0 ? y->dims[ib] : 1;
    dims[i] = da > db ? da : db;
  }
  float mag = !strcmp(op, "Mul") ? x->mag * y->mag : !strcmp(op, "Div") ? x->mag : x->mag + y->mag;
  int ins[2] = {a, b};
  return node1(r, op, ins, 2, rank, dims, mag, NULL);
}

/* Keeps magnitudes where float32 tracks the reference: Tanh of a value that grew. */
static int bound(Rg *r, int x, float limit) {
  return r->t[x].mag > limit ? unary(r, "Tanh", x, 1.0f, NULL) : x;
}

/* |x| + 1: a safe operand for Log, Sqrt and Div. */
static int positive(Rg *r, int x) {
  int a = unary(r, "Abs", x, r->t[x].mag, NULL);
  return binary(r, "Add", a, scalar(r, 1.0f));
}

/* A tensor of x's shape: a new graph input, or an existing tensor of that shape. */
static int same_shape(Rg *r, int x) {
  if (chance(r, 0.5))
    for (int tries = 0; tries < 8; tries++) {
      int c = rnd(r, r->nt);
      if (c != x && r->t[c].rank == r->t[x].rank && r->t[c].mag > 0 &&
          !memcmp(r->t[c].dims, r->t[x].dims, sizeof(int64_t) * (size_t)r->t[x].rank))
        return bound(r, c, 4.0f);
    }
  return input(r, r->t[x].rank, r->t[x].dims);
}

/* ---- element-wise chains (fused epilogues) ------------------------------------------------ */

static int step(Rg *r, int y) {
  char a[128];
  switch (rnd(r, 16)) {
  case 0: return unary(r, "Relu", y, r->t[y].mag, NULL);
  case 1:
    snprintf(a, sizeof a, "\"alpha\": %.3g", 0.01 + 0.3 * (rnd(r, 10) / 10.0));
    return unary(r, "LeakyRelu", y, r->t[y].mag, a);
  case 2: return unary(r, "Sigmoid", y, 1.0f, NULL);
  case 3: return unary(r, "Tanh", y, 1.0f, NULL);
  case 4: {
    float lo = -0.5f - (float)rnd(r, 4) * 0.25f, hi = 0.25f + (float)rnd(r, 4) * 0.25f;
    int mode = rnd(r, 3); /* both bounds, min only, max only */
    int ins[3] = {y, mode != 2 ? scalar(r, lo) : -1, mode != 1 ? scalar(r, hi) : -1};
    return node1(r, "Clip", ins, mode == 1 ? 2 : 3, r->t[y].rank, r->t[y].dims, r->t[y].mag, NULL);
  }
  case 5:
    return unary(r, "Gelu", y, r->t[y].mag,
                 chance(r, 0.5) ? "\"approximate\": \"tanh\"" : "\"approximate\": \"none\"");
  case 6: return unary(r, chance(r, 0.5) ? "Abs" : "Neg", y, r->t[y].mag, NULL);
  case 7: return unary(r, "Erf", y, 1.0f, NULL);
  case 8: {
    int b = bound(r, y, 2.0f);
    return unary(r, "Exp", b, expf(r->t[b].mag), NULL);
  }
  case 9: {
    int p = positive(r, y);
    return chance(r, 0.5) ? unary(r, "Sqrt", p, sqrtf(r->t[p].mag), NULL)
                          : unary(r, "Log", p, logf(r->t[p].mag + 1.0f), NULL);
  }
  case 10:
  case 11: { /* a residual: an operand of the output's shape, either side */
    int o = same_shape(r, y);
    static const char *const ops[] = {"Add", "Sub", "Mul"};
    const char *op = ops[rnd(r, 3)];
    return chance(r, 0.5) ? binary(r, op, bound(r, y, 4.0f), o)
                          : binary(r, op, o, bound(r, y, 4.0f));
  }
  case 12: return binary(r, "Mul", y, scalar(r, 0.5f + (float)rnd(r, 8) * 0.125f));
  case 13: return binary(r, chance(r, 0.5) ? "Add" : "Sub", y, scalar(r, rg_uniform(&r->s)));
  case 14: return binary(r, "Div", y, scalar(r, chance(r, 0.5) ? 1.5f : -2.0f));
  default: return binary(r, "Div", y, positive(r, same_shape(r, y)));
  }
}

static int chain(Rg *r, int y, int len) {
  for (int i = 0; i < len && room(r, 8); i++) y = step(r, y);
  return bound(r, y, 8.0f);
}

static int short_chain(Rg *r, int y) { return chain(r, y, chance(r, 0.3) ? 0 : range(r, 1, 5)); }

/* ---- windowed ops --------------------------------------------------------------------------- */

/* Output size of a forward window (Conv, pools) as ir/conv_params.c computes it; -1 if empty. */
static int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t dil, int64_t pb, int64_t pe,
                          bool ceil_mode) {
  int64_t ke = (k - 1) * dil + 1, span = in + pb + pe - ke;
  if (span < 0) return -1;
  if (!ceil_mode) return span / s + 1;
  int64_t out = (span + s - 1) / s + 1;
  if ((out - 1) * s >= in + pb) out--;
  return out;
}

static void pads_json(char *buf, size_t size, const int64_t *p) {
  snprintf(buf, size, "[%lld,%lld,%lld,%lld]", (long long)p[0], (long long)p[1], (long long)p[2],
           (long long)p[3]);
}

static int conv(Rg *r, int x) {
  const RgTensor *t = &r->t[x];
  int64_t N = t->dims[0], C = t->dims[1], H = t->dims[2], W = t->dims[3];
  int64_t g = 1, M;
  int kind = rnd(r, 4);
  if (kind == 2) {
    g = C; /* depthwise, multiplier 1..2 */
    M = C * range(r, 1, 2);
  } else if (kind == 3) {
    for (int tries = 0; tries < 4 && g == 1; tries++) {
      int64_t d = range(r, 2, 4);
      if (C % d == 0) g = d;
    }
    M = g * range(r, 1, 3);
  } else {
    M = range(r, 1, 12);
  }
  bool wino = winograd_convs && chance(r, 0.7);
  if (wino) g = 1, M = range(r, 8, 40);
  if (channel_block && chance(r, 0.8)) g = 1, M = channel_block * range(r, 1, 3);
  int64_t k[2], s[2], dil[2], p[4] = {0, 0, 0, 0}, out[2];
  const char *autopad = NULL;
  for (int tries = 0;; tries++) {
    bool pointwise = chance(r, 0.2) || tries > 8;
    for (int i = 0; i < 2; i++) {
      k[i] = pointwise ? 1 : wino ? 3 : range(r, 1, 5);
      s[i] = pointwise && tries > 8 ? 1 : wino || chance(r, 0.6) ? 1 : range(r, 2, 3);
      dil[i] = wino || chance(r, 0.8) || tries > 8 ? 1 : 2;
    }
    autopad = NULL;
    if (chance(r, 0.15)) {
      static const char *const aps[] = {"SAME_UPPER", "SAME_LOWER", "VALID"};
      autopad = aps[rnd(r, 3)];
    }
    bool ok = true;
    for (int i = 0; i < 2; i++) {
      int64_t in = i ? W : H, ke = (k[i] - 1) * dil[i] + 1;
      if (autopad && strcmp(autopad, "VALID")) {
        out[i] = (in + s[i] - 1) / s[i];
      } else if (autopad) {
        out[i] = window_out(in, k[i], s[i], dil[i], 0, 0, false);
      } else {
        p[i] = rnd(r, (int)ke);
        p[i + 2] = rnd(r, (int)ke);
        out[i] = window_out(in, k[i], s[i], dil[i], p[i], p[i + 2], false);
      }
      ok &= out[i] >= 1;
    }
    if (ok) break;
  }
  int64_t wd[4] = {M, C / g, k[0], k[1]};
  int w = constant(r, 4, wd, 1.0f / sqrtf((float)(C / g * k[0] * k[1])), 0.0f);
  int ins[3] = {x, w, chance(r, 0.6) ? constant(r, 1, &M, 0.5f, 0.0f) : -1};
  char a[256], pj[96];
  pads_json(pj, sizeof pj, p);
  int n = snprintf(a, sizeof a, "\"group\": %lld, \"strides\": [%lld,%lld]", (long long)g,
                   (long long)s[0], (long long)s[1]);
  if (dil[0] > 1 || dil[1] > 1 || chance(r, 0.3))
    n += snprintf(a + n, sizeof a - (size_t)n, ", \"dilations\": [%lld,%lld]", (long long)dil[0],
                  (long long)dil[1]);
  if (autopad)
    n += snprintf(a + n, sizeof a - (size_t)n, ", \"auto_pad\": \"%s\"", autopad);
  else
    n += snprintf(a + n, sizeof a - (size_t)n, ", \"pads\": %s", pj);
  if (chance(r, 0.3))
    snprintf(a + n, sizeof a - (size_t)n, ", \"kernel_shape\": [%lld,%lld]", (long long)k[0],
             (long long)k[1]);
  int64_t od[4] = {N, M, out[0], out[1]};
  return node1(r, "Conv", ins, ins[2] < 0 ? 2 : 3, 4, od, t->mag + 0.5f, a);
}

static int conv_transpose(Rg *r, int x) {
  const RgTensor *t = &r->t[x];
  int64_t N = t->dims[0], C = t->dims[1], H = t->dims[2], W = t->dims[3];
  int64_t g = 1;
  if (chance(r, 0.3)) g = C % 2 == 0 ? 2 : C;
  int64_t Mg = range(r, 1, 4), M = Mg * g;
  int64_t k[2], s[2], dil[2], p[4], op[2], out[2];
  for (int i = 0; i < 2; i++) {
    int64_t in = i ? W : H;
    k[i] = range(r, 1, 4);
    s[i] = range(r, 1, 3);
    dil[i] = chance(r, 0.85) ? 1 : 2;
    int64_t ke = (k[i] - 1) * dil[i] + 1;
    op[i] = rnd(r, (int)s[i]);
    p[i] = rnd(r, (int)ke);
    p[i + 2] = rnd(r, (int)ke);
    out[i] = s[i] * (in - 1) + op[i] + ke - p[i] - p[i + 2];
    if (out[i] < 1) {
      p[i] = p[i + 2] = 0;
      out[i] = s[i] * (in - 1) + op[i] + ke;
    }
  }
  int64_t wd[4] = {C, Mg, k[0], k[1]};
  int w = constant(r, 4, wd, 1.0f / sqrtf((float)(C / g * k[0] * k[1])), 0.0f);
  int ins[3] = {x, w, chance(r, 0.5) ? constant(r, 1, &M, 0.5f, 0.0f) : -1};
  char a[320], pj[96];
  pads_json(pj, sizeof pj, p);
  snprintf(a, sizeof a,
           "\"group\": %lld, \"strides\": [%lld,%lld], \"dilations\": [%lld,%lld], \"pads\": %s, "
           "\"output_padding\": [%lld,%lld]",
           (long long)g, (long long)s[0], (long long)s[1], (long long)dil[0], (long long)dil[1], pj,
           (long long)op[0], (long long)op[1]);
  int64_t od[4] = {N, M, out[0], out[1]};
  return node1(r, "ConvTranspose", ins, ins[2] < 0 ? 2 : 3, 4, od, t->mag * 2.0f + 0.5f, a);
}

static int pool(Rg *r, int x) {
  const RgTensor *t = &r->t[x];
  if (chance(r, 0.2)) {
    int64_t od[4] = {t->dims[0], t->dims[1], 1, 1};
    return node1(r, "GlobalAveragePool", &x, 1, 4, od, t->mag, NULL);
  }
  bool max = chance(r, 0.5), ceil_mode = chance(r, 0.3), incl = chance(r, 0.5);
  int64_t k[2], s[2], p[4], out[2];
  for (int i = 0; i < 2; i++) {
    int64_t in = t->dims[2 + i];
    k[i] = range(r, 1, 3 < in + 1 ? 3 : (int)in + 1);
    s[i] = range(r, 1, 2);
    p[i] = rnd(r, (int)k[i]);
    p[i + 2] = rnd(r, (int)k[i]);
    out[i] = window_out(in, k[i], s[i], 1, p[i], p[i + 2], ceil_mode);
    if (out[i] < 1) {
      k[i] = 1, p[i] = p[i + 2] = 0;
      out[i] = window_out(in, 1, s[i], 1, 0, 0, ceil_mode);
    }
  }
  char a[256], pj[96];
  pads_json(pj, sizeof pj, p);
  int n =
      snprintf(a, sizeof a,
               "\"kernel_shape\": [%lld,%lld], \"strides\": [%lld,%lld], \"pads\": %s, "
               "\"ceil_mode\": %d",
               (long long)k[0], (long long)k[1], (long long)s[0], (long long)s[1], pj, ceil_mode);
  if (!max) snprintf(a + n, sizeof a - (size_t)n, ", \"count_include_pad\": %d", incl);
  int64_t od[4] = {t->dims[0], t->dims[1], out[0], out[1]};
  return node1(r, max ? "MaxPool" : "AveragePool", &x, 1, 4, od, t->mag, a);
}

static int batch_norm(Rg *r, int x) {
  int64_t C = r->t[x].dims[1];
  int ins[5] = {x, constant(r, 1, &C, 0.5f, 1.0f), constant(r, 1, &C, 0.5f, 0.0f),
                constant(r, 1, &C, 0.5f, 0.0f), constant(r, 1, &C, 0.4f, 0.6f)};
  return node1(r, "BatchNormalization", ins, 5, r->t[x].rank, r->t[x].dims, r->t[x].mag * 3.0f,
               chance(r, 0.5) ? "\"epsilon\": 0.001" : NULL);
}

/* ---- matrices ------------------------------------------------------------------------------- */

/* x as a matrix: itself if 2-D, else Flatten. */
static int matrix(Rg *r, int x) {
  const RgTensor *t = &r->t[x];
  if (t->rank == 2) return x;
  int axis = t->rank <= 1 ? t->rank : range(r, 1, t->rank - 1);
  int64_t d[2] = {1, 1};
  for (int i = 0; i < t->rank; i++) d[i >= axis] *= t->dims[i];
  char a[32];
  snprintf(a, sizeof a, "\"axis\": %d", axis);
  return node1(r, "Flatten", &x, 1, 2, d, t->mag, a);
}

static int gemm(Rg *r, int x) {
  x = matrix(r, x);
  int ta = chance(r, 0.3), tb = chance(r, 0.5);
  int64_t M = r->t[x].dims[ta ? 1 : 0], K = r->t[x].dims[ta ? 0 : 1], N = range(r, 1, 24);
  if (chance(r, 0.2)) N = range(r, 25, 70);
  int64_t bd[2] = {tb ? N : K, tb ? K : N};
  int b = chance(r, 0.7) ? constant(r, 2, bd, 1.0f / sqrtf((float)K), 0.0f) : input(r, 2, bd);
  float bmag = r->t[b].mag;
  int c = -1;
  switch (rnd(r, 6)) {
  case 0: break;
  case 1: c = constant(r, 1, &N, 0.5f, 0.0f); break;
  case 2: {
    int64_t cd[2] = {1, N};
    c = constant(r, 2, cd, 0.5f, 0.0f);
    break;
  }
  case 3: {
    int64_t cd[2] = {M, N};
    c = chance(r, 0.5) ? constant(r, 2, cd, 0.5f, 0.0f) : input(r, 2, cd);
    break;
  }
  case 4: {
    int64_t cd[2] = {M, 1};
    c = constant(r, 2, cd, 0.5f, 0.0f);
    break;
  }
  default: c = scalar(r, 0.25f); break;
  }
  static const char *const alphas[] = {"1", "0.5", "-1.5"};
  char a[160];
  snprintf(a, sizeof a, "\"transA\": %d, \"transB\": %d, \"alpha\": %s, \"beta\": %s", ta, tb,
           alphas[rnd(r, 3)], alphas[rnd(r, 3)]);
  int ins[3] = {x, b, c};
  int64_t od[2] = {M, N};
  float mag = 1.5f * r->t[x].mag * bmag * (b >= 0 && bmag >= 1.0f ? sqrtf((float)K) : 1.0f) + 1.0f;
  return node1(r, "Gemm", ins, c < 0 ? 2 : 3, 2, od, mag, a);
}

static int matmul(Rg *r, int x) {
  const RgTensor *t = &r->t[x];
  if (t->rank < 2 || t->rank > 4) x = matrix(r, x), t = &r->t[x];
  int64_t K = t->dims[t->rank - 1], N = range(r, 1, 20);
  int64_t bd[4];
  int br;
  if (t->rank == 2 && chance(r, 0.3)) { /* A broadcast over B's batch */
    br = 3;
    bd[0] = range(r, 2, 3);
  } else if (t->rank > 2 && chance(r, 0.5)) { /* batched B, or a batch of 1 */
    br = t->rank;
    for (int i = 0; i < br - 2; i++) bd[i] = chance(r, 0.5) ? t->dims[i] : 1;
  } else {
    br = 2;
  }
  bd[br - 2] = K;
  bd[br - 1] = N;
  int b = chance(r, 0.7) ? constant(r, br, bd, 1.0f / sqrtf((float)K), 0.0f) : input(r, br, bd);
  float mag = r->t[x].mag * (r->t[b].mag >= 1.0f ? sqrtf((float)K) : 1.0f);
  int rank = t->rank > br ? t->rank : br;
  int64_t od[8];
  for (int i = 0; i < rank - 2; i++) {
    int ia = i - (rank - t->rank), ib = i - (rank - br);
    int64_t da = ia >= 0 ? t->dims[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
    od[i] = da > db ? da : db;
  }
  od[rank - 2] = t->dims[t->rank - 2];
  od[rank - 1] = N;
  int ins[2] = {x, b};
  return node1(r, "MatMul", ins, 2, rank, od, mag, NULL);
}

/* ---- data movement and the rest ------------------------------------------------------------ */

static int concat(Rg *r, int x, int count) {
  const RgTensor *t = &r->t[x];
  int rank = t->rank, axis = rnd(r, rank);
  int64_t base[8];
  memcpy(base, t->dims, sizeof base);
  int *ins = malloc(sizeof *ins * (size_t)count);
  if (!ins) abort();
  int64_t total = 0;
  ins[0] = x;
  total += t->dims[axis];
  for (int k = 1; k < count; k++) {
    if (chance(r, 0.3)) {
      ins[k] = ins[rnd(r, k)]; /* the same value twice */
    } else {
      int64_t d[8];
      memcpy(d, base, sizeof d);
      d[axis] = range(r, 1, 3);
      ins[k] = chance(r, 0.8) ? input(r, rank, d) : constant(r, rank, d, 1.0f, 0.0f);
    }
    total += r->t[ins[k]].dims[axis];
  }
  int64_t od[8];
  memcpy(od, base, sizeof od);
  od[axis] = total;
  char a[32];
  snprintf(a, sizeof a, "\"axis\": %d", chance(r, 0.3) ? axis - rank : axis);
  float mag = 1.0f;
  for (int k = 0; k < count; k++) mag = fmaxf(mag, r->t[ins[k]].mag);
  int y = node1(r, "Concat", ins, count, rank, od, mag, a);
  free(ins);
  return y;
}

/* Splits x along an axis into up to max_parts outputs; returns the first, marks the rest as
 * graph outputs with probability p_out (fan-out). */
static int split(Rg *r, int x, int max_parts, double p_out) {
  const RgTensor *t = &r->t[x];
  int axis = -1;
  for (int tries = 0; tries < 6 && axis < 0; tries++) {
    int a = rnd(r, t->rank);
    if (t->dims[a] >= 2) axis = a;
  }
  if (axis < 0 || !room(r, max_parts + 2)) return x;
  int64_t dim = t->dims[axis];
  int parts = range(r, 2, (int)(dim < max_parts ? dim : max_parts));
  int64_t *sizes = malloc(sizeof *sizes * (size_t)parts);
  int *outs = malloc(sizeof *outs * (size_t)parts);
  if (!sizes || !outs) abort();
  bool equal = dim % parts == 0 && chance(r, 0.5);
  int64_t left = dim;
  for (int j = 0; j < parts; j++) {
    int64_t most = left - (parts - 1 - j); /* leave at least 1 for each later part */
    sizes[j] = equal ? dim / parts : j == parts - 1 ? left : range(r, 1, most < 3 ? (int)most : 3);
    left -= sizes[j];
  }
  int64_t od[8];
  memcpy(od, t->dims, sizeof od);
  float mag = t->mag;
  int ins[2] = {x, equal ? -1 : const_i64(r, parts, sizes)};
  for (int j = 0; j < parts; j++) {
    od[axis] = sizes[j];
    outs[j] = new_tensor(r, r->t[x].rank, od, mag);
  }
  char a[32];
  snprintf(a, sizeof a, "\"axis\": %d", axis);
  node(r, "Split", ins, equal ? 1 : 2, outs, parts, a);
  for (int j = 1; j < parts; j++)
    if (chance(r, p_out)) r->is_output[outs[j]] = true;
  int first = outs[rnd(r, parts)];
  free(sizes);
  free(outs);
  return first;
}

static int softmax(Rg *r, int x) {
  char a[32];
  snprintf(a, sizeof a, "\"axis\": %d", rnd(r, 2 * r->t[x].rank) - r->t[x].rank);
  bool log_sm = chance(r, 0.4);
  return unary(r, log_sm ? "LogSoftmax" : "Softmax", x, log_sm ? r->t[x].mag * 2 + 4.0f : 1.0f, a);
}

static int transpose(Rg *r, int x) {
  const RgTensor *t = &r->t[x];
  int perm[8];
  for (int i = 0; i < t->rank; i++) perm[i] = i;
  for (int i = t->rank - 1; i > 0; i--) {
    int j = rnd(r, i + 1), tmp = perm[i];
    perm[i] = perm[j], perm[j] = tmp;
  }
  char a[96];
  int n = snprintf(a, sizeof a, "\"perm\": [");
  int64_t od[8];
  for (int i = 0; i < t->rank; i++) {
    n += snprintf(a + n, sizeof a - (size_t)n, "%s%d", i ? "," : "", perm[i]);
    od[i] = t->dims[perm[i]];
  }
  snprintf(a + n, sizeof a - (size_t)n, "]");
  return node1(r, "Transpose", &x, 1, t->rank, od, t->mag, a);
}

/* Reshape into a random factorization of the element count (rank 1..4). */
static int reshape(Rg *r, int x) {
  int64_t n = numel(&r->t[x]), od[4];
  int rank = range(r, 1, 4);
  for (int i = 0; i < rank - 1; i++) {
    int64_t f = 1;
    for (int tries = 0; tries < 6; tries++) {
      int64_t c = range(r, 1, 6);
      if (n % c == 0) {
        f = c;
        break;
      }
    }
    od[i] = f;
    n /= f;
  }
  od[rank - 1] = n;
  int64_t sd[4];
  memcpy(sd, od, sizeof sd);
  if (chance(r, 0.5)) sd[rnd(r, rank)] = -1;
  int s = const_i64(r, rank, sd);
  int ins[2] = {x, s};
  return node1(r, "Reshape", ins, 2, rank, od, r->t[x].mag, NULL);
}

static int reduce(Rg *r, int x) {
  const RgTensor *t = &r->t[x];
  static const char *const ops[] = {"ReduceMean", "ReduceSum", "ReduceMax"};
  int which = rnd(r, 3), keep = chance(r, 0.5);
  unsigned mask = 0;
  int64_t axes[8], n_axes = 0;
  for (int i = 0; i < t->rank; i++)
    if (chance(r, 0.4)) mask |= 1u << i, axes[n_axes++] = chance(r, 0.3) ? i - t->rank : i;
  if (!n_axes) mask = 1u << (t->rank - 1), axes[n_axes++] = t->rank - 1;
  if (mask == (1u << t->rank) - 1) keep = 1; /* no rank-0 results: later ops need an axis */
  int64_t od[8], count = 1;
  int rank = 0;
  for (int i = 0; i < t->rank; i++) {
    if (mask & (1u << i)) {
      count *= t->dims[i];
      if (keep) od[rank++] = 1;
    } else {
      od[rank++] = t->dims[i];
    }
  }
  char a[160];
  int n = snprintf(a, sizeof a, "\"keepdims\": %d", keep);
  float mag = which == 1 ? t->mag * (float)count : t->mag;
  if (which == 1) { /* ReduceSum: axes as input 1 (opset 13) */
    int ins[2] = {x, const_i64(r, (int)n_axes, axes)};
    return node1(r, ops[which], ins, 2, rank, od, mag, a);
  }
  n += snprintf(a + n, sizeof a - (size_t)n, ", \"axes\": [");
  for (int i = 0; i < n_axes; i++)
    n += snprintf(a + n, sizeof a - (size_t)n, "%s%lld", i ? "," : "", (long long)axes[i]);
  snprintf(a + n, sizeof a - (size_t)n, "]");
  return node1(r, ops[which], &x, 1, rank, od, mag, a);
}

static int pad(Rg *r, int x) {
  const RgTensor *t = &r->t[x];
  static const char *const modes[] = {"constant", "reflect", "edge"};
  int mode = rnd(r, 3);
  int64_t p[16], od[8];
  for (int i = 0; i < t->rank; i++) {
    int64_t lim = mode == 1 ? t->dims[i] - 1 : 2; /* reflect: pads < dim */
    if (lim > 2) lim = 2;
    p[i] = rnd(r, (int)lim + 1);
    p[i + t->rank] = rnd(r, (int)lim + 1);
    od[i] = t->dims[i] + p[i] + p[i + t->rank];
  }
  int ins[3] = {x, const_i64(r, 2 * t->rank, p),
                mode == 0 && chance(r, 0.5) ? scalar(r, 0.5f) : -1};
  char a[48];
  snprintf(a, sizeof a, "\"mode\": \"%s\"", modes[mode]);
  return node1(r, "Pad", ins, ins[2] < 0 ? 2 : 3, t->rank, od, t->mag + 0.5f, a);
}

static int layer_norm(Rg *r, int x) {
  const RgTensor *t = &r->t[x];
  int axis = rnd(r, t->rank);
  int64_t inner[8];
  int ir = t->rank - axis;
  memcpy(inner, t->dims + axis, sizeof(int64_t) * (size_t)ir);
  int ins[3] = {x, constant(r, ir, inner, 0.5f, 1.0f),
                chance(r, 0.6) ? constant(r, ir, inner, 0.5f, 0.0f) : -1};
  /* epsilon 1e-3..1e-2, not the default 1e-5: a group of nearly equal values (after a Pad, a
   * Clip) has a tiny variance, and 1/sqrt(var + eps) amplifies float32 rounding of x - mean
   * beyond any tolerance (seed 347: 1e-4 relative before a ReduceSum, 3e-3 after) */
  char a[64];
  snprintf(a, sizeof a, "\"axis\": %d, \"epsilon\": %s", chance(r, 0.5) ? axis : axis - t->rank,
           chance(r, 0.5) ? "0.001" : "0.01");
  return node1(r, "LayerNormalization", ins, ins[2] < 0 ? 2 : 3, t->rank, t->dims, 4.0f, a);
}

static int slice(Rg *r, int x) {
  const RgTensor *t = &r->t[x];
  int a = rnd(r, t->rank);
  int64_t dim = t->dims[a], step = chance(r, 0.7) ? 1 : range(r, 2, 3);
  int64_t start = rnd(r, (int)dim), end = start + range(r, 1, (int)(dim - start));
  int64_t len = (end - start + step - 1) / step;
  int64_t od[8];
  memcpy(od, t->dims, sizeof od);
  od[a] = len;
  int64_t ax = a;
  int ins[5] = {x, const_i64(r, 1, &start), const_i64(r, 1, &end), const_i64(r, 1, &ax),
                const_i64(r, 1, &step)};
  return node1(r, "Slice", ins, 5, t->rank, od, t->mag, NULL);
}

/* A broadcast binary op with a row, a column, a scalar or a rank-extended operand. */
static int broadcast(Rg *r, int x) {
  const RgTensor *t = &r->t[x];
  int64_t d[8];
  int rank = t->rank;
  memcpy(d, t->dims, sizeof d);
  for (int i = 0; i < rank; i++)
    if (chance(r, 0.5)) d[i] = 1;
  int drop = rnd(r, rank + 1); /* fewer leading axes */
  int o = chance(r, 0.5) ? constant(r, rank - drop, d + drop, 1.0f, 0.0f)
                         : input(r, rank - drop, d + drop);
  static const char *const ops[] = {"Add", "Sub", "Mul"};
  const char *op = ops[rnd(r, 3)];
  x = bound(r, x, 4.0f);
  return chance(r, 0.7) ? binary(r, op, x, o) : binary(r, op, o, x);
}

/* ---- families ------------------------------------------------------------------------------- */

static int conv_family(Rg *r, int x) {
  int layers = range(r, 1, 4);
  for (int l = 0; l < layers && room(r, 64); l++) {
    if (r->t[x].rank != 4) break;
    int k = rnd(r, 10);
    if (k < 5)
      x = conv(r, x);
    else if (k < 7)
      x = conv_transpose(r, x);
    else if (k < 9)
      x = pool(r, x);
    else
      x = batch_norm(r, x);
    x = short_chain(r, x);
    if (r->t[x].dims[2] > 24 || r->t[x].dims[3] > 24) x = pool(r, x); /* keep sizes small */
  }
  return x;
}

static int matrix_family(Rg *r, int x) {
  int layers = range(r, 1, 4);
  for (int l = 0; l < layers && room(r, 64); l++) {
    x = chance(r, 0.5) ? gemm(r, x) : matmul(r, x);
    x = short_chain(r, x);
  }
  return x;
}

static int random_op(Rg *r, int x) {
  const RgTensor *t = &r->t[x];
  if (numel(t) > 4096) return t->rank == 4 ? pool(r, x) : reduce(r, x); /* keep it small */
  switch (rnd(r, 16)) {
  case 0: return t->rank == 4 ? conv(r, x) : gemm(r, x);
  case 1: return t->rank == 4 ? conv_transpose(r, x) : matmul(r, x);
  case 2: return t->rank == 4 ? pool(r, x) : matmul(r, x);
  case 3: return t->rank >= 2 ? batch_norm(r, x) : step(r, x);
  case 4: return softmax(r, x);
  case 5: return transpose(r, x);
  case 6: return numel(t) <= 1024 ? reshape(r, x) : x;
  case 7: return concat(r, x, range(r, 2, 6));
  case 8: return split(r, x, 6, 0.3);
  case 9: return reduce(r, x);
  case 10: return pad(r, x);
  case 11: return layer_norm(r, x);
  case 12: return slice(r, x);
  case 13: return broadcast(r, x);
  default: return chain(r, x, range(r, 1, 8));
  }
}

static int structure_family(Rg *r, int x) {
  int parts = range(r, 2, 5);
  for (int i = 0; i < parts && room(r, 400); i++) {
    switch (rnd(r, 4)) {
    case 0: x = chain(r, x, range(r, 10, 45)); break; /* past IR_MAX_EPILOGUE_INPUTS */
    case 1: x = concat(r, x, chance(r, 0.5) ? range(r, 8, 40) : range(r, 60, 150)); break;
    case 2: x = split(r, x, chance(r, 0.5) ? 8 : 80, 0.5); break;
    default:
      for (int d = 0; d < 12 && room(r, 40); d++) x = random_op(r, x); /* deep */
    }
    if (numel(&r->t[x]) > 8192) x = reduce(r, x);
  }
  return x;
}

static void first_input_shape(Rg *r, int family, int *rank, int64_t *d) {
  if (family == 0 || (family == 3 && chance(r, 0.4))) {
    *rank = 4;
    d[0] = chance(r, 0.7) ? 1 : 2;
    d[1] = channel_block && chance(r, 0.8) ? channel_block * range(r, 1, 2) : range(r, 1, 8);
    d[2] = chance(r, 0.1) ? 1 : range(r, 1, 13);
    d[3] = chance(r, 0.1) ? 1 : range(r, 1, 13);
  } else if (family == 1) {
    *rank = chance(r, 0.6) ? 2 : 3;
    for (int i = 0; i < *rank; i++) d[i] = range(r, 1, i == *rank - 1 ? 40 : 9);
  } else {
    *rank = range(r, 1, 4);
    for (int i = 0; i < *rank; i++) d[i] = range(r, 1, 7);
  }
}

char *rg_generate(uint64_t seed, size_t *len) {
  Rg *r = calloc(1, sizeof *r);
  if (!r) abort();
  r->t = calloc(RG_MAX_TENSORS, sizeof *r->t);
  r->is_output = calloc(RG_MAX_TENSORS, sizeof *r->is_output);
  if (!r->t || !r->is_output) abort();
  r->s = seed * 0x2545f4914f6cdd1dull + 1;
  r->zs = seed ^ 0x5a5a5a5a5a5a5a5aull;
  /* rg_set_winograd_convs, rg_set_channel_block: convolutions */
  int family = winograd_convs || channel_block ? 0 : (int)(seed % 4);
  int rank;
  int64_t d[8];
  first_input_shape(r, family, &rank, d);
  int x = input(r, rank, d);
  if (family == 0)
    x = conv_family(r, x);
  else if (family == 1)
    x = matrix_family(r, x);
  else if (family == 2)
    x = structure_family(r, x);
  int extra = family == 3 ? range(r, 3, 14) : range(r, 0, 3);
  for (int i = 0; i < extra && room(r, 200); i++) {
    x = random_op(r, x);
    if (chance(r, 0.15)) r->is_output[x] = true; /* an intermediate output: fan-out */
  }
  r->is_output[x] = true;

  RgBuf out = {0};
  rg_printf(&out,
            "{\"format\": \"kiln-model\", \"version\": 1, \"opset\": 17, \"name\": \"rg%llu\",\n"
            "\"inputs\": [%s],\n\"initializers\": [%s],\n\"nodes\": [%s],\n\"outputs\": [",
            (unsigned long long)seed, r->inputs.p ? r->inputs.p : "", r->inits.p ? r->inits.p : "",
            r->nodes.p ? r->nodes.p : "");
  int n_out = 0;
  for (int i = 0; i < r->nt; i++)
    if (r->is_output[i]) rg_printf(&out, "%s{\"name\": \"v%d\"}", n_out++ ? ", " : "", i);
  rg_printf(&out, "]}\n");
  free(r->inputs.p);
  free(r->inits.p);
  free(r->nodes.p);
  free(r->t);
  free(r->is_output);
  free(r);
  *len = out.len;
  return out.p;
}
