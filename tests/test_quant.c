/* int8 quantization on real data (tests/digits, tools/train_digits.py): for each digits model,
 * calibrate on the committed calibration samples, then over the 360 test images
 *   - fp32 accuracy (compile-time evaluator) and int8 accuracy (interpreter, the oracle):
 *     int8 within 1 point of fp32, top-1 agreement with fp32 >= 98%;
 *   - the compiled int8 code (-O2, host) bit-exact with the interpreter on every image;
 * and every observer (minmax, percentile, mse) gives a model within the same bounds; and random
 * Conv/Conv(grouped)/MaxPool/Gemm geometries (strides, dilations, asymmetric pads, batch 2),
 * with residual joins (Add + Relu -> QAdd, Mul -> QMul) where shapes agree, compiled for VNNI, AVX2
 * and SSE2 (three dot4 variants) equal the interpreter bit for bit; and the sparse int8 kernel
 * (codegen/kernels/cg_sparse_i8.c, pruned then quantized): QGemm forced to sparse-csr at weight
 * densities 0/1/50/99/100% on edge shapes, and the 90%-pruned digits MLP and CNN over the 360
 * images, bit-exact with the interpreter. usage: test_quant ROOT (the source tree) [--cc CC] */
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg.h"
#include "fe.h"
#include "krt.h"
#include "krt_npy.h"
#include "pass.h"
#include "quant.h"
#include "test_util.h"

static char tmpdir[] = "/tmp/kiln-test-quant-XXXXXX";
static const char *cc = "cc";
static const char *root;
static int sparse_kernel; /* PassOptions.sparse_kernel of the int8 graphs (0: the cost model) */

typedef struct Data {
  krt_npy x, y, calib;
  int n;
} Data;

static int argmax(const float *v, int n) {
  int b = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[b]) b = i;
  return b;
}

static IrGraph *load(const char *model, const PassQuantOptions *q, int level) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/examples/%s/model.json", root, model);
  IrDiag d;
  ir_diag_init(&d, path, true);
  IrGraph *g = fe_load_model(path, &d);
  PassOptions po = {.opt_level = level,
                    .workspace_align = 64,
                    .verify_each = true,
                    .quant = q,
                    .sparse_kernel = q ? sparse_kernel : 0};
  if (g && !pass_run_pipeline(g, &po, &d)) {
    ir_graph_free(g);
    g = NULL;
  }
  ir_diag_free(&d);
  CHECK(g != NULL, "%s: load/quantize failed", model);
  return g;
}

/* Compiles g into a shared library and returns its model descriptor (lib receives the handle). */
static const krt_model *compile_for(const IrGraph *g, int level, const char *cpu, void **lib) {
  static int serial;
  char prefix[64], obj[PATH_MAX], so[PATH_MAX], cmd[3 * PATH_MAX];
  snprintf(prefix, sizeof prefix, "q%d_model", serial++);
  snprintf(obj, sizeof obj, "%s/%s.o", tmpdir, prefix);
  snprintf(so, sizeof so, "%s/%s.so", tmpdir, prefix);
  CgOptions o = {.prefix = prefix,
                 .opt_level = level,
                 .emit = CG_EMIT_OBJ,
                 .pic = true,
                 .cpu = cpu,
                 .features = cpu ? "" : NULL};
  IrDiag d;
  ir_diag_init(&d, "test_quant", true);
  bool ok = cg_compile(g, &o, obj, &d);
  ir_diag_free(&d);
  snprintf(cmd, sizeof cmd, "%s -shared -o '%s' '%s'", cc, so, obj);
  ok = ok && system(cmd) == 0 && (*lib = dlopen(so, RTLD_NOW | RTLD_LOCAL));
  CHECK(ok, "compiling -O%d failed", level);
  remove(obj);
  remove(so);
  if (!ok) return NULL;
  char sym[128];
  snprintf(sym, sizeof sym, "%s_model", prefix);
  return dlsym(*lib, sym);
}

static const krt_model *compile(const IrGraph *g, int level, void **lib) {
  return compile_for(g, level, NULL, lib);
}

/* --quantize=int8-weights (full false) or --quantize=int8 (full: calibrated; the LSTM keeps f32
 * activations between DequantizeLinear/QuantizeLinear, its weights int8): accuracy of the
 * interpreter (dequantize, then f32) against fp32 on the 360 test images, and the compiled
 * kernels (host: 16 lanes; x86-64: SSE2, 4 lanes, other tiles and tails) against the
 * interpreter within the float tolerance of the examples (rtol 1e-4, atol 1e-5: the kernels
 * scale the accumulators instead of the weights). Under int8 a float difference that crosses a
 * rounding boundary of the QuantizeLinear after the LSTM moves that value one step, so the
 * logits may then differ by one step of the output's scale: allowed (atol = that step). */
static void check_weights(const char *model, const Data *dt, bool full) {
  IrGraph *gf = load(model, NULL, 0);
  const void *cal[1] = {dt->calib.data};
  PassQuantLayer layers[8];
  int n_layers = 0;
  PassQuantOptions q = {.weights_only = !full,
                        .samples = full ? cal : NULL,
                        .n_samples = full ? (int)dt->calib.dims[0] : 0,
                        .layers = layers,
                        .max_layers = 8,
                        .n_layers = &n_layers};
  IrGraph *gw = load(model, &q, 2);
  if (!gf || !gw) return;
  if (full) { /* the recurrent layer is in the error report, with its own SQNR */
    int found = 0;
    for (int i = 0; i < n_layers; i++)
      if (!strcmp(layers[i].op, "LSTM")) {
        found++;
        printf("%-12s int8 report: %s %s SQNR %.2f dB\n", model, layers[i].node, layers[i].op,
               layers[i].sqnr_db);
        CHECK(layers[i].sqnr_db > 20 && layers[i].sqnr_db < 200, "%s: LSTM SQNR %.2f dB", model,
              layers[i].sqnr_db);
      }
    CHECK(found == 1, "%s: %d LSTM layers in the int8 report", model, found);
  }
  int n_w8 = 0, n_rec = 0;
  for (int i = 0; i < gw->n_nodes; i++) {
    const IrNode *n = gw->nodes[i];
    n_w8 += n->op == IR_OP_GEMM_W8 || n->op == IR_OP_QGEMM;
    n_rec += (n->op == IR_OP_LSTM || n->op == IR_OP_GRU || n->op == IR_OP_RNN) &&
             n->inputs[1]->dtype == IR_I8 && n->inputs[2]->dtype == IR_I8;
  }
  CHECK(n_w8 > 0, "%s: no KilnGemmW8/QGemm after --quantize", model);
  CHECK(n_rec > 0 || !strstr(model, "lstm"), "%s: the LSTM kept f32 weights", model);
  double atol = 1e-5;
  const IrNode *dq = gw->outputs[0]->producer;
  if (full && dq && dq->op == IR_OP_DEQUANTIZE_LINEAR)
    atol = 1.001 * *(const float *)dq->inputs[1]->data;
  int64_t per = ir_value_numel(gf->inputs[0]);
  int classes = (int)ir_value_numel(gf->outputs[0]);
  const float *x = dt->x.data;
  const int64_t *y = dt->y.data;
  float lf[64], lw[64], lc[64];
  int ok_f = 0, ok_w = 0, agree = 0, far = 0, stepped = 0;
  static const char *const cpus[] = {NULL, "x86-64"};
  void *lib[2] = {NULL, NULL};
  const krt_model *m[2];
  unsigned char *ws[2];
  for (int v = 0; v < 2; v++) {
    m[v] = compile_for(gw, 2, cpus[v], &lib[v]);
    ws[v] = m[v] ? aligned_alloc(64, ((size_t)m[v]->workspace_size + 64) / 64 * 64) : NULL;
  }
  for (int i = 0; i < dt->n; i++) {
    const void *in[1] = {x + (size_t)i * (size_t)per};
    void *of[1] = {lf}, *ow[1] = {lw}, *oc[1] = {lc};
    CHECK(pass_eval_run(gf, in, of, NULL, NULL) == 0, "%s: fp32 run", model);
    CHECK(ir_interp_run(gw, in, ow) == 0, "%s: quantized interpreter run", model);
    int pf = argmax(lf, classes), pw = argmax(lw, classes);
    ok_f += pf == y[i];
    ok_w += pw == y[i];
    agree += pf == pw;
    for (int v = 0; v < 2; v++)
      if (m[v]) {
        CHECK(m[v]->run(in, oc, ws[v]) == KRT_OK, "%s: compiled run", model);
        far += !test_close_f32(lc, lw, classes, 1e-4, atol, model);
        stepped += full && memcmp(lc, lw, sizeof(float) * (size_t)classes) != 0;
      }
  }
  double af = 100.0 * ok_f / dt->n, aw = 100.0 * ok_w / dt->n, ag = 100.0 * agree / dt->n;
  const char *mode = full ? "int8" : "int8-weights";
  printf("%-12s %-12s fp32 %.2f%%  %s %.2f%%  agreement %.2f%%  %d int8 products, %d int8 "
         "recurrent%s (%d of %d compiled runs one step off)\n",
         model, mode, af, mode, aw, ag, n_w8, n_rec,
         far ? "  compiled: MISMATCH" : "  compiled ~ interpreter", stepped, 2 * dt->n);
  CHECK(aw >= af - 1.0, "%s: %s accuracy %.2f%% more than 1 point below fp32 %.2f%%", model, mode,
        aw, af);
  CHECK(ag >= 98.0, "%s (%s): agreement %.2f%% < 98%%", model, mode, ag);
  CHECK(far == 0, "%s: compiled %s differs from the interpreter on %d runs", model, mode, far);
  for (int v = 0; v < 2; v++) {
    free(ws[v]);
    if (lib[v]) dlclose(lib[v]);
  }
  ir_graph_free(gf);
  ir_graph_free(gw);
}

/* --quant-io=int8: the model takes the int8 input its first QuantizeLinear made and returns
 * the int8 output its last DequantizeLinear read (no Q/DQ node left, IrValue.quant = their
 * parameters). On every test image, quantized by those parameters: the int8 output
 * dequantized equals the float-I/O model's output bit for bit (interpreter), and the compiled
 * code (-O2) equals the interpreter bit for bit. */
static void check_quant_io(const char *model, const Data *dt) {
  const void *cal[1] = {dt->calib.data};
  PassQuantOptions q = {.samples = cal, .n_samples = (int)dt->calib.dims[0]};
  IrGraph *gq = load(model, &q, 2);
  q.int8_io = true;
  IrGraph *gi = load(model, &q, 2);
  if (!gq || !gi) return;
  const IrValue *xi = gi->inputs[0], *yi = gi->outputs[0];
  CHECK(xi->dtype == IR_I8 && yi->dtype == IR_I8 && xi->quant && yi->quant,
        "%s: --quant-io=int8 left I/O %s/%s", model, ir_dtype_name(xi->dtype),
        ir_dtype_name(yi->dtype));
  int n_qdq = 0;
  for (int i = 0; i < gi->n_nodes; i++)
    n_qdq +=
        gi->nodes[i]->op == IR_OP_QUANTIZE_LINEAR || gi->nodes[i]->op == IR_OP_DEQUANTIZE_LINEAR;
  CHECK(n_qdq == 0, "%s: %d Q/DQ nodes left with --quant-io=int8", model, n_qdq);
  if (!xi->quant || !yi->quant) return;
  void *lib = NULL;
  const krt_model *m = compile(gi, 2, &lib);
  unsigned char *ws = m ? aligned_alloc(64, ((size_t)m->workspace_size + 64) / 64 * 64) : NULL;
  int64_t per = ir_value_numel(xi), classes = ir_value_numel(yi);
  float xs = xi->quant->scale[0], ys = yi->quant->scale[0];
  int32_t xz = (int32_t)xi->quant->zero_point[0], yz = (int32_t)yi->quant->zero_point[0];
  int8_t xq[1024], yq[64], yc[64];
  float yf[64];
  int differ = 0, mismatched = 0;
  for (int i = 0; i < dt->n && per <= 1024 && classes <= 64; i++) {
    const float *x = (const float *)dt->x.data + (size_t)i * (size_t)per;
    for (int64_t k = 0; k < per; k++) xq[k] = ir_quantize_f32(x[k], xs, xz);
    const void *inf[1] = {x}, *ini[1] = {xq};
    void *of[1] = {yf}, *oi[1] = {yq}, *oc[1] = {yc};
    CHECK(ir_interp_run(gq, inf, of) == 0 && ir_interp_run(gi, ini, oi) == 0, "%s: run", model);
    for (int64_t k = 0; k < classes; k++) {
      float v = ir_dequantize_i8(yq[k], ys, yz);
      differ += memcmp(&v, &yf[k], sizeof v) != 0;
    }
    if (m) {
      CHECK(m->run(ini, oc, ws) == KRT_OK, "%s: compiled run", model);
      mismatched += memcmp(yq, yc, (size_t)classes) != 0;
    }
  }
  printf("%-12s quant-io   int8 in (scale %g, zp %d) / out (scale %g, zp %d): dequantized == "
         "float I/O on %s, compiled %s\n",
         model, (double)xs, xz, (double)ys, yz, differ ? "NOT all" : "all images",
         mismatched ? "MISMATCH" : "bit-exact");
  CHECK(differ == 0,
        "%s: int8 I/O output dequantized differs from the float I/O model in %d "
        "values",
        model, differ);
  CHECK(mismatched == 0, "%s: compiled int8 I/O differs from the interpreter on %d images", model,
        mismatched);
  free(ws);
  if (lib) dlclose(lib);
  ir_graph_free(gq);
  ir_graph_free(gi);
}

static void check_model(const char *model, const Data *dt, PassObserver obs, double pct,
                        bool compiled) {
  const char *oname = obs == PASS_OBS_MINMAX ? "minmax"
                      : obs == PASS_OBS_MSE  ? "mse"
                                             : "percentile";
  IrGraph *gf = load(model, NULL, 0);
  const void *cal[1] = {dt->calib.data};
  int64_t n_cal = dt->calib.dims[0];
  PassQuantOptions q = {
      .samples = cal, .n_samples = (int)n_cal, .observer = obs, .percentile = pct};
  IrGraph *gq = load(model, &q, 2);
  if (!gf || !gq) return;
  int64_t per = ir_value_numel(gf->inputs[0]);
  int classes = (int)ir_value_numel(gf->outputs[0]);
  const float *x = dt->x.data;
  const int64_t *y = dt->y.data;
  float lf[64], lq[64], lc[64];
  int ok_f = 0, ok_q = 0, agree = 0, mismatched = 0;
  void *lib = NULL;
  const krt_model *m = compiled ? compile(gq, 2, &lib) : NULL;
  unsigned char *ws = m ? aligned_alloc(64, ((size_t)m->workspace_size + 64) / 64 * 64) : NULL;
  for (int i = 0; i < dt->n; i++) {
    const void *in[1] = {x + (size_t)i * (size_t)per};
    void *of[1] = {lf}, *oq[1] = {lq}, *oc[1] = {lc};
    CHECK(pass_eval_run(gf, in, of, NULL, NULL) == 0, "%s: fp32 run", model);
    CHECK(ir_interp_run(gq, in, oq) == 0, "%s: int8 interpreter run", model);
    int pf = argmax(lf, classes), pq = argmax(lq, classes);
    ok_f += pf == y[i];
    ok_q += pq == y[i];
    agree += pf == pq;
    if (m) {
      CHECK(m->run(in, oc, ws) == KRT_OK, "%s: compiled run", model);
      mismatched += memcmp(lq, lc, sizeof(float) * (size_t)classes) != 0;
    }
  }
  double af = 100.0 * ok_f / dt->n, aq = 100.0 * ok_q / dt->n, ag = 100.0 * agree / dt->n;
  printf("%-12s %-10s fp32 %.2f%%  int8 %.2f%%  agreement %.2f%%%s\n", model, oname, af, aq, ag,
         m ? (mismatched ? "  compiled: MISMATCH" : "  compiled -O2 bit-exact") : "");
  CHECK(aq >= af - 1.0, "%s (%s): int8 accuracy %.2f%% more than 1 point below fp32 %.2f%%", model,
        oname, aq, af);
  CHECK(ag >= 98.0, "%s (%s): agreement %.2f%% < 98%%", model, oname, ag);
  CHECK(mismatched == 0, "%s: compiled int8 differs from the interpreter on %d of %d images", model,
        mismatched, dt->n);
  free(ws);
  if (lib) dlclose(lib);
  ir_graph_free(gf);
  ir_graph_free(gq);
}

/* ---- random geometries: compiled int8 == interpreter int8, on every dot4 variant of x86 -------
 */

static unsigned rng_state;
static unsigned rnd(unsigned n) {
  rng_state = rng_state * 1103515245u + 12345u;
  return (rng_state >> 8) % n;
}
static float rndf(void) { return (float)rnd(20001) / 10000.0f - 1.0f; }

typedef struct Buf {
  char *s;
  size_t len, cap;
} Buf;
static void put(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(Buf *b, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
    va_end(ap);
    if (b->s && (size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    b->cap = b->cap * 2 + (size_t)n + 256;
    b->s = realloc(b->s, b->cap);
    if (!b->s) abort();
  }
}
/* A random f32 initializer, each value kept with probability `density` (else exactly 0). */
static void put_init_d(Buf *b, const char *name, int rank, const int64_t *dims, float scale,
                       double density) {
  int64_t n = 1;
  put(b, "%s{\"name\": \"%s\", \"dtype\": \"f32\", \"shape\": [", b->len ? "" : "", name);
  for (int i = 0; i < rank; i++) {
    put(b, "%s%lld", i ? ", " : "", (long long)dims[i]);
    n *= dims[i];
  }
  put(b, "], \"data\": [");
  for (int64_t i = 0; i < n; i++) {
    float v = rndf() * scale;
    bool keep = density >= 1.0 || (double)rnd(100000) < density * 100000.0;
    put(b, "%s%.5f", i ? ", " : "", keep ? (double)v : 0.0);
  }
  put(b, "]}");
}
static void put_init(Buf *b, const char *name, int rank, const int64_t *dims, float scale) {
  put_init_d(b, name, rank, dims, scale, 1.0);
}

static int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1) {
  return (in + p0 + p1 - d * (k - 1) - 1) / s + 1;
}

/* Compiles g (one f32 input of `per` values) at codegen level `level` for `cpu` (NULL: the host)
 * and checks it against the interpreter bit for bit on the first 3 samples of `x`. */
static void compare_compiled(const IrGraph *g, const float *x, int64_t per, int level,
                             const char *cpu, const char *what) {
  void *lib = NULL;
  const krt_model *m = compile_for(g, level, cpu, &lib);
  CHECK(m != NULL, "%s: compiling for %s -O%d failed", what, cpu ? cpu : "host", level);
  if (!m) return;
  int64_t outn = ir_value_numel(g->outputs[0]);
  float *want = malloc(sizeof(float) * (size_t)(outn + 1)),
        *got = malloc(sizeof(float) * (size_t)(outn + 1));
  unsigned char *ws = aligned_alloc(64, ((size_t)m->workspace_size + 64) / 64 * 64);
  memset(ws, 0xA5, (size_t)m->workspace_size);
  for (int s = 0; s < 3; s++) {
    const void *in[1] = {x + (size_t)s * (size_t)per};
    void *ow[1] = {want}, *og[1] = {got};
    CHECK(ir_interp_run(g, in, ow) == 0 && m->run(in, og, ws) == 0, "%s: runs", what);
    CHECK(memcmp(want, got, sizeof(float) * (size_t)outn) == 0,
          "%s (%s, -O%d): compiled int8 differs from the interpreter", what, cpu ? cpu : "host",
          level);
  }
  free(ws);
  free(want);
  free(got);
  dlclose(lib);
}

/* the kernel plan of quantize_random's graphs: PassOptions.conv_kernel and .x86_vnni */
static int plan_conv_kernel;
static bool plan_vnni, host_vnni;

/* The kernels and memory of g planned again for a target with (vnni) or without AVX-512 VNNI. */
static void replan(IrGraph *g, bool vnni) {
  PassOptions po = {.opt_level = 2,
                    .workspace_align = 64,
                    .conv_kernel = plan_conv_kernel,
                    .vec_lanes = vnni ? 16 : 8,
                    .x86_vnni = vnni};
  IrDiag d;
  ir_diag_init(&d, "replan", true);
  pass_choose_kernels(g, &po, &d);
  CHECK(pass_memplan(g, &po, &d) || d.n_errors == 0, "replan: %s", d.text ? d.text : "");
  ir_diag_free(&d);
}

/* Parses the random model in b, calibrates it on 8 random samples (*cal, 8 x *per values; the
 * first 3 are the test inputs) and quantizes it at -O2; NULL (reported) on failure. */
static IrGraph *quantize_random_for(const Buf *b, unsigned seed, int64_t *per, float **cal,
                                    bool arm_dsp) {
  IrDiag d;
  ir_diag_init(&d, "random", true);
  IrGraph *probe = fe_parse_model(b->s, b->len, NULL, "rq", &d);
  CHECK(probe != NULL, "seed %u: the random model does not load", seed);
  if (!probe) {
    ir_diag_free(&d);
    return NULL;
  }
  *per = ir_value_numel(probe->inputs[0]);
  ir_graph_free(probe);
  enum { SAMPLES = 8 };
  *cal = malloc(sizeof **cal * (size_t)(*per * SAMPLES));
  for (int64_t i = 0; i < *per * SAMPLES; i++) (*cal)[i] = rndf() * 2;
  const void *calp[1] = {*cal};
  PassQuantOptions q = {.samples = calp, .n_samples = SAMPLES};
  IrGraph *g = fe_parse_model(b->s, b->len, NULL, "rq", &d);
  PassOptions po = {.opt_level = 2,
                    .workspace_align = 64,
                    .verify_each = true,
                    .quant = &q,
                    .conv_kernel = plan_conv_kernel,
                    .x86_vnni = plan_vnni};
  if (arm_dsp) { /* the Cortex-M4's plan: Winograd forced where it applies, scalar lanes */
    po.arm_dsp = true;
    po.vec_lanes = 1;
    po.x86_vnni = false;
    po.conv_kernel = IR_KERNEL_CONV_WINOGRAD;
  }
  bool ok = g && pass_run_pipeline(g, &po, &d);
  ir_diag_free(&d);
  CHECK(ok, "seed %u: quantization failed", seed);
  if (!ok && g) ir_graph_free(g);
  return ok ? g : NULL;
}

static IrGraph *quantize_random(const Buf *b, unsigned seed, int64_t *per, float **cal) {
  return quantize_random_for(b, seed, per, cal, false);
}

static int n_qbinary[2]; /* QAdd, QMul nodes the random models produced */

static void check_random(unsigned seed) {
  rng_state = seed * 2654435761u + 1;
  int64_t N = 1 + rnd(2), C = (int64_t[]){1, 3, 4, 5, 8}[rnd(5)], H = 5 + rnd(8), W = 5 + rnd(8);
  int64_t M1 = (int64_t[]){3, 8, 17, 32}[rnd(4)], k1 = 1 + rnd(3), s1 = 1 + rnd(2), d1 = 1 + rnd(2);
  int64_t pt = rnd((unsigned)k1), pl = rnd((unsigned)k1), pb = rnd((unsigned)k1),
          pr = rnd((unsigned)k1);
  int64_t oh1 = conv_out(H, k1, s1, d1, pt, pb), ow1 = conv_out(W, k1, s1, d1, pl, pr);
  if (oh1 < 2 || ow1 < 2) { /* too small: a plain 1x1 */
    k1 = 1, s1 = 1, d1 = 1, pt = pl = pb = pr = 0, oh1 = H, ow1 = W;
  }
  int64_t g2 = rnd(2) ? M1 : (M1 % 4 == 0 ? 4 : 1), M2 = g2 == M1 ? M1 : g2 * (1 + rnd(3));
  int64_t k2 = 1 + rnd(3), p2 = k2 / 2;
  if (seed > 8) /* seeds 9-12: a depthwise 3x3 that keeps the shape, for the residual joins */
    g2 = M2 = M1, k2 = 3, p2 = 1;
  bool pool = oh1 >= 4 && ow1 >= 4 && rnd(2), clip = rnd(2);
  int64_t oh2 = conv_out(oh1, k2, 1, 1, p2, p2), ow2 = conv_out(ow1, k2, 1, 1, p2, p2);
  int64_t ph = pool ? oh2 / 2 : oh2, pw = pool ? ow2 / 2 : ow2, F = M2 * ph * pw;
  /* a residual join of r1 and r2 where their shapes agree: 1 Add (+ Relu, folded), 2 Mul */
  int resid =
      M2 == M1 && oh2 == oh1 && ow2 == ow1 ? (seed > 8 ? 1 + (int)(seed % 2) : (int)rnd(3)) : 0;
  const char *r2 = resid ? "s2" : "r2";
  Buf b = {0};
  put(&b,
      "{\"format\": \"kiln-model\", \"version\": 1, \"opset\": 17, \"name\": \"rq%u\", "
      "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [%lld, %lld, %lld, %lld]}], "
      "\"initializers\": [",
      seed, (long long)N, (long long)C, (long long)H, (long long)W);
  put_init(&b, "w1", 4, (int64_t[]){M1, C, k1, k1}, 0.5f);
  put(&b, ", ");
  put_init(&b, "b1", 1, (int64_t[]){M1}, 0.2f);
  put(&b, ", ");
  put_init(&b, "w2", 4, (int64_t[]){M2, M1 / g2, k2, k2}, 0.5f);
  put(&b, ", ");
  put_init(&b, "b2", 1, (int64_t[]){M2}, 0.2f);
  put(&b, ", ");
  put_init(&b, "w3", 2, (int64_t[]){10, F}, 0.3f);
  put(&b, ", ");
  put_init(&b, "b3", 1, (int64_t[]){10}, 0.1f);
  put(&b, ", {\"name\": \"lo\", \"dtype\": \"f32\", \"shape\": [], "
          "\"data\": [0]}, {\"name\": \"hi\", \"dtype\": \"f32\", \"shape\": [], "
          "\"data\": [1.5]}], \"outputs\": [{\"name\": \"y\"}], \"nodes\": [");
  put(&b,
      "{\"op\": \"Conv\", \"inputs\": [\"x\", \"w1\", \"b1\"], \"outputs\": [\"c1\"], "
      "\"attrs\": {\"kernel_shape\": [%lld, %lld], \"strides\": [%lld, %lld], \"dilations\": "
      "[%lld, %lld], \"pads\": [%lld, %lld, %lld, %lld]}}, ",
      (long long)k1, (long long)k1, (long long)s1, (long long)s1, (long long)d1, (long long)d1,
      (long long)pt, (long long)pl, (long long)pb, (long long)pr);
  put(&b, "{\"op\": \"Relu\", \"inputs\": [\"c1\"], \"outputs\": [\"r1\"]}, ");
  put(&b,
      "{\"op\": \"Conv\", \"inputs\": [\"r1\", \"w2\", \"b2\"], \"outputs\": [\"c2\"], "
      "\"attrs\": {\"kernel_shape\": [%lld, %lld], \"pads\": [%lld, %lld, %lld, %lld], "
      "\"group\": %lld}}, ",
      (long long)k2, (long long)k2, (long long)p2, (long long)p2, (long long)p2, (long long)p2,
      (long long)g2);
  put(&b, clip ? "{\"op\": \"Clip\", \"inputs\": [\"c2\", \"lo\", \"hi\"], \"outputs\": [\"r2\"]}, "
               : "{\"op\": \"Relu\", \"inputs\": [\"c2\"], \"outputs\": [\"r2\"]}, ");
  if (resid == 1)
    put(&b, "{\"op\": \"Add\", \"inputs\": [\"r2\", \"r1\"], \"outputs\": [\"a2\"]}, "
            "{\"op\": \"Relu\", \"inputs\": [\"a2\"], \"outputs\": [\"s2\"]}, ");
  if (resid == 2)
    put(&b, "{\"op\": \"Mul\", \"inputs\": [\"r2\", \"r1\"], \"outputs\": [\"s2\"]}, ");
  if (pool)
    put(&b,
        "{\"op\": \"MaxPool\", \"inputs\": [\"%s\"], \"outputs\": [\"p2\"], \"attrs\": "
        "{\"kernel_shape\": [2, 2], \"strides\": [2, 2]}}, ",
        r2);
  put(&b, "{\"op\": \"Flatten\", \"inputs\": [\"%s\"], \"outputs\": [\"f\"]}, ", pool ? "p2" : r2);
  put(&b, "{\"op\": \"Gemm\", \"inputs\": [\"f\", \"w3\", \"b3\"], \"outputs\": [\"y\"], "
          "\"attrs\": {\"transB\": 1}}]}");
  int64_t per = 0;
  float *cal = NULL;
  IrGraph *g = quantize_random(&b, seed, &per, &cal);
  bool ok = g != NULL;
  for (int i = 0; ok && i < g->n_nodes; i++) {
    n_qbinary[0] += g->nodes[i]->op == IR_OP_QADD;
    n_qbinary[1] += g->nodes[i]->op == IR_OP_QMUL;
  }
  static const char *const cpus[] = {NULL, "x86-64-v3", "x86-64"}; /* VNNI, AVX2, SSE2 */
  char what[512];
  snprintf(what, sizeof what,
           "seed %u: N%lld C%lld %lldx%lld conv %lld k%lld s%lld d%lld pads %lld,%lld,%lld,%lld; "
           "conv2 %lld g%lld k%lld; pool %d, residual %d",
           seed, (long long)N, (long long)C, (long long)H, (long long)W, (long long)M1,
           (long long)k1, (long long)s1, (long long)d1, (long long)pt, (long long)pl, (long long)pb,
           (long long)pr, (long long)M2, (long long)g2, (long long)k2, (int)pool, resid);
  /* the host's VNNI kernels, and the generic dot4 on AVX2 or SSE2 (alternating: CI time) */
  for (int v = 0; ok && v < 3; v++)
    if (!v || v == 1 + (int)(seed % 2)) compare_compiled(g, cal, per, 2, cpus[v], what);
  free(cal);
  free(b.s);
  if (g) ir_graph_free(g);
}

/* The ops of a quantized node count: QConcat (copying / requantizing inputs), QAveragePool
 * (count_include_pad 0 / 1), QLinearConvTranspose, int8 Gather. */
static int n_ops[7];

static void count_ops(const IrGraph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    const IrNode *n = g->nodes[i];
    if (n->op == IR_OP_QCONCAT)
      for (int k = 0; 2 + 3 * k < n->n_inputs; k++) {
        IrQConcatIn q;
        if (ir_qconcat_input(n, k, &q)) n_ops[q.copy ? 0 : 1]++;
      }
    if (n->op == IR_OP_QAVERAGE_POOL) n_ops[2 + (ir_attr_i(n, "count_include_pad") != 0)]++;
    n_ops[4] += n->op == IR_OP_QLINEAR_CONV_TRANSPOSE;
    n_ops[5] += n->op == IR_OP_GATHER && n->inputs[0]->dtype == IR_I8;
  }
}

/* Concat (inputs with their own parameters requantized, or a copy: the same value twice),
 * AveragePool (random window, stride, pads, count_include_pad, ceil_mode), ConvTranspose
 * (random kernel, stride, dilation, pads, output_padding, groups), GlobalAveragePool, Gemm:
 * all int8, compiled at -O0 and -O2 equal to the interpreter. */
static void check_random_ops(unsigned seed) {
  rng_state = seed * 2246822519u + 3;
  int64_t N = 1 + rnd(2), C = 1 + rnd(4), H = 4 + rnd(6), W = 4 + rnd(6);
  int64_t M1 = 2 + rnd(6), M2 = 1 + rnd(5), k1 = 1 + 2 * rnd(2);
  bool copy = seed % 3 == 0, with_x = !copy && rnd(2);
  /* cat: [N, M1 + M2 (+ C), H, W] along the channels, or r1 twice along the height */
  int64_t cc = copy ? M1 : M1 + M2 + (with_x ? C : 0), ch = copy ? 2 * H : H;
  int64_t ka = 2 + rnd(2), sa = 1 + rnd(2), pa0 = rnd((unsigned)ka), pa1 = rnd((unsigned)ka);
  int cip = (int)(seed % 2), ceil_mode = (int)(seed / 2 % 2);
  int64_t kt = 1 + rnd(4), st = 1 + rnd(3), dt = 1 + rnd(2), gt = cc % 2 == 0 && rnd(2) ? 2 : 1;
  int64_t mt = gt * (1 + rnd(4)), pt0 = rnd((unsigned)kt), pt1 = rnd((unsigned)kt);
  int64_t op = rnd((unsigned)st);
  int64_t ah = (ch + pa0 + pa1 - ka) / sa + 1, aw = (W + pa0 + pa1 - ka) / sa + 1;
  if (((ah < aw ? ah : aw) - 1) * st - pt0 - pt1 + dt * (kt - 1) + op + 1 < 1)
    pt0 = pt1 = 0; /* an empty ConvTranspose output */
  Buf b = {0};
  put(&b,
      "{\"format\": \"kiln-model\", \"version\": 1, \"opset\": 17, \"name\": \"ro%u\", "
      "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [%lld, %lld, %lld, %lld]}], "
      "\"initializers\": [",
      seed, (long long)N, (long long)C, (long long)H, (long long)W);
  put_init(&b, "w1", 4, (int64_t[]){M1, C, k1, k1}, 0.5f);
  put(&b, ", ");
  put_init(&b, "w2", 4, (int64_t[]){M2, C, 1, 1}, 1.5f);
  put(&b, ", ");
  put_init(&b, "b2", 1, (int64_t[]){M2}, 0.5f);
  put(&b, ", ");
  put_init(&b, "wt", 4, (int64_t[]){cc, mt / gt, kt, kt}, 0.5f);
  put(&b, ", ");
  put_init(&b, "bt", 1, (int64_t[]){mt}, 0.2f);
  put(&b, ", ");
  put_init(&b, "w3", 2, (int64_t[]){mt, 6}, 0.5f);
  put(&b, "], \"outputs\": [{\"name\": \"y\"}], \"nodes\": [");
  put(&b,
      "{\"op\": \"Conv\", \"inputs\": [\"x\", \"w1\"], \"outputs\": [\"c1\"], \"attrs\": "
      "{\"kernel_shape\": [%lld, %lld], \"pads\": [%lld, %lld, %lld, %lld]}}, "
      "{\"op\": \"Relu\", \"inputs\": [\"c1\"], \"outputs\": [\"r1\"]}, "
      "{\"op\": \"Conv\", \"inputs\": [\"x\", \"w2\", \"b2\"], \"outputs\": [\"c2\"], \"attrs\": "
      "{\"kernel_shape\": [1, 1]}}, ",
      (long long)k1, (long long)k1, (long long)(k1 / 2), (long long)(k1 / 2), (long long)(k1 / 2),
      (long long)(k1 / 2));
  if (copy)
    put(&b, "{\"op\": \"Concat\", \"inputs\": [\"r1\", \"r1\"], \"outputs\": [\"cat\"], "
            "\"attrs\": {\"axis\": 2}}, ");
  else
    put(&b,
        "{\"op\": \"Concat\", \"inputs\": [\"r1\", \"c2\"%s], \"outputs\": [\"cat\"], "
        "\"attrs\": {\"axis\": 1}}, ",
        with_x ? ", \"x\"" : "");
  put(&b,
      "{\"op\": \"AveragePool\", \"inputs\": [\"cat\"], \"outputs\": [\"ap\"], \"attrs\": "
      "{\"kernel_shape\": [%lld, %lld], \"strides\": [%lld, %lld], \"pads\": [%lld, %lld, %lld, "
      "%lld], \"count_include_pad\": %d, \"ceil_mode\": %d}}, ",
      (long long)ka, (long long)ka, (long long)sa, (long long)sa, (long long)pa0, (long long)pa1,
      (long long)pa1, (long long)pa0, cip, ceil_mode);
  put(&b,
      "{\"op\": \"ConvTranspose\", \"inputs\": [\"ap\", \"wt\", \"bt\"], \"outputs\": [\"ct\"], "
      "\"attrs\": {\"kernel_shape\": [%lld, %lld], \"strides\": [%lld, %lld], \"dilations\": "
      "[%lld, %lld], \"pads\": [%lld, %lld, %lld, %lld], \"output_padding\": [%lld, 0], "
      "\"group\": %lld}}, ",
      (long long)kt, (long long)kt, (long long)st, (long long)st, (long long)dt, (long long)dt,
      (long long)pt0, (long long)pt1, (long long)pt1, (long long)pt0, (long long)op, (long long)gt);
  put(&b, "{\"op\": \"GlobalAveragePool\", \"inputs\": [\"ct\"], \"outputs\": [\"gp\"]}, "
          "{\"op\": \"Flatten\", \"inputs\": [\"gp\"], \"outputs\": [\"f\"]}, "
          "{\"op\": \"MatMul\", \"inputs\": [\"f\", \"w3\"], \"outputs\": [\"y\"]}]}");
  int64_t per = 0;
  float *cal = NULL;
  IrGraph *g = quantize_random(&b, seed, &per, &cal);
  if (g) {
    count_ops(g);
    int floats = 0;
    for (int i = 0; i < g->n_nodes; i++) floats += g->nodes[i]->outputs[0]->dtype == IR_F32;
    CHECK(floats == 1, "ops seed %u: %d float outputs, want only the final DequantizeLinear", seed,
          floats);
    char what[256];
    snprintf(what, sizeof what,
             "ops seed %u: N%lld C%lld %lldx%lld concat %s; avgpool k%lld s%lld pads %lld,%lld "
             "cip %d ceil %d; convt k%lld s%lld d%lld pads %lld,%lld op %lld g%lld M%lld",
             seed, (long long)N, (long long)C, (long long)H, (long long)W,
             copy     ? "copy"
             : with_x ? "3 inputs"
                      : "2 inputs",
             (long long)ka, (long long)sa, (long long)pa0, (long long)pa1, cip, ceil_mode,
             (long long)kt, (long long)st, (long long)dt, (long long)pt0, (long long)pt1,
             (long long)op, (long long)gt, (long long)mt);
    static const char *const cpus[] = {NULL, "x86-64-v3", "x86-64"}; /* VNNI, AVX2, SSE2 */
    for (int level = 0; level <= 2; level += 2)
      compare_compiled(g, cal, per, level, cpus[seed % 3], what);
    ir_graph_free(g);
  }
  free(cal);
  free(b.s);
}

/* An embedding table read by Gather (ids from the float input: Clip, Cast) into a Gemm: the
 * table int8 in full int8 mode, the Gather's output int8 with the table's parameters. */
static void check_random_gather(unsigned seed) {
  rng_state = seed * 3266489917u + 5;
  int64_t B = 1 + rnd(2), L = 1 + rnd(6), V = 3 + rnd(20), D = 1 + rnd(9);
  Buf b = {0};
  put(&b,
      "{\"format\": \"kiln-model\", \"version\": 1, \"opset\": 17, \"name\": \"rg%u\", "
      "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [%lld, %lld]}], "
      "\"initializers\": [",
      seed, (long long)B, (long long)L);
  put_init(&b, "table", 2, (int64_t[]){V, D}, 2.0f);
  put(&b, ", ");
  put_init(&b, "w", 2, (int64_t[]){L * D, 4}, 0.5f);
  put(&b,
      ", {\"name\": \"lo\", \"dtype\": \"f32\", \"shape\": [], \"data\": [0]}, {\"name\": \"hi\", "
      "\"dtype\": \"f32\", \"shape\": [], \"data\": [%lld]}], \"outputs\": [{\"name\": \"y\"}], "
      "\"nodes\": [",
      (long long)(V - 1));
  put(&b,
      "{\"op\": \"Mul\", \"inputs\": [\"x\", \"x\"], \"outputs\": [\"x2\"]}, "
      "{\"op\": \"Clip\", \"inputs\": [\"x2\", \"lo\", \"hi\"], \"outputs\": [\"xc\"]}, "
      "{\"op\": \"Cast\", \"inputs\": [\"xc\"], \"outputs\": [\"ids\"], \"attrs\": {\"to\": 7}}, "
      "{\"op\": \"Gather\", \"inputs\": [\"table\", \"ids\"], \"outputs\": [\"e\"], "
      "\"attrs\": {\"axis\": 0}}, "
      "{\"op\": \"Flatten\", \"inputs\": [\"e\"], \"outputs\": [\"f\"]}, "
      "{\"op\": \"MatMul\", \"inputs\": [\"f\", \"w\"], \"outputs\": [\"y\"]}]}");
  int64_t per = 0;
  float *cal = NULL;
  IrGraph *g = quantize_random(&b, seed, &per, &cal);
  if (g) {
    count_ops(g);
    char what[128];
    snprintf(what, sizeof what, "gather seed %u: B%lld L%lld V%lld D%lld", seed, (long long)B,
             (long long)L, (long long)V, (long long)D);
    for (int level = 0; level <= 2; level += 2) compare_compiled(g, cal, per, level, NULL, what);
    ir_graph_free(g);
  }
  free(cal);
  free(b.s);
}

/* MatMulInteger on the int8 GEMM (ONNX Runtime's quantize_dynamic chain) with random
 * geometry: x f32 [L, M, K] -> DynamicQuantizeLinear (u8, run-time zero point) or
 * QuantizeLinear (i8, constant zero point) -> MatMulInteger with i8 or u8 weights [K, N] and
 * their zero points (one or per column, often not 0) -> Cast -> Mul by one scale or one per
 * column; at -O0 (the i32 node, then Cast and Mul) and -O2 (the scale fused into the kernel)
 * compiled == interpreter bit for bit on the host (VNNI here) and x86-64 (SSE2, generic
 * dot4), any K and N off the quads and strips. */
static int n_integer_fused;
static void check_random_matmul_integer(unsigned seed) {
  rng_state = seed * 2246822519u + 7;
  int64_t L = 1 + rnd(2), M = (int64_t[]){1, 2, 3, 7, 9, 17}[rnd(6)],
          K = (int64_t[]){1, 3, 4, 5, 33, 64, 100}[rnd(7)],
          N = (int64_t[]){1, 2, 5, 16, 17, 63, 64, 65, 130}[rnd(9)];
  bool dyn = rnd(3) != 0, b_u8 = rnd(2), bz_col = rnd(2), s_col = rnd(2);
  const char *bt = b_u8 ? "u8" : "i8";
  int lo = b_u8 ? 0 : -128;
  Buf b = {0};
  put(&b,
      "{\"format\": \"kiln-model\", \"version\": 1, \"opset\": 17, \"name\": \"rmi%u\", "
      "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [%lld, %lld, %lld]}], "
      "\"initializers\": [{\"name\": \"b\", \"dtype\": \"%s\", \"shape\": [%lld, %lld], "
      "\"data\": [",
      seed, (long long)L, (long long)M, (long long)K, bt, (long long)K, (long long)N);
  for (int64_t i = 0; i < K * N; i++) put(&b, "%s%d", i ? ", " : "", lo + (int)rnd(256));
  put(&b, "]}, {\"name\": \"bz\", \"dtype\": \"%s\", \"shape\": [", bt);
  if (bz_col) put(&b, "%lld", (long long)N);
  put(&b, "], \"data\": [");
  for (int64_t i = 0; i < (bz_col ? N : 1); i++)
    put(&b, "%s%d", i ? ", " : "", rnd(3) ? lo + (int)rnd(256) : (b_u8 ? 128 : 0));
  put(&b, "]}, {\"name\": \"s\", \"dtype\": \"f32\", \"shape\": [");
  if (s_col) put(&b, "%lld", (long long)N);
  put(&b, "], \"data\": [");
  for (int64_t i = 0; i < (s_col ? N : 1); i++)
    put(&b, "%s%.6f", i ? ", " : "", 0.001 + (double)rnd(1000) * 1e-5);
  put(&b,
      "]}, {\"name\": \"qs\", \"dtype\": \"f32\", \"shape\": [], \"data\": [0.01]}, "
      "{\"name\": \"qz\", \"dtype\": \"i8\", \"shape\": [], \"data\": [%d]}], "
      "\"outputs\": [{\"name\": \"y\"}], \"nodes\": [",
      (int)rnd(60) - 30);
  if (dyn)
    put(&b, "{\"op\": \"DynamicQuantizeLinear\", \"inputs\": [\"x\"], \"outputs\": [\"q\", "
            "\"xs\", \"xz\"]}, ");
  else
    put(&b, "{\"op\": \"QuantizeLinear\", \"inputs\": [\"x\", \"qs\", \"qz\"], \"outputs\": "
            "[\"q\"]}, ");
  put(&b,
      "{\"op\": \"MatMulInteger\", \"name\": \"mmi\", \"inputs\": [\"q\", \"b\", \"%s\", "
      "\"bz\"], \"outputs\": [\"acc\"]}, "
      "{\"op\": \"Cast\", \"inputs\": [\"acc\"], \"outputs\": [\"f\"], \"attrs\": {\"to\": 1}}, "
      "{\"op\": \"Mul\", \"inputs\": [\"f\", \"s\"], \"outputs\": [\"y\"]}]}",
      dyn ? "xz" : "qz");
  int64_t per = L * M * K;
  float *x = malloc(sizeof *x * (size_t)(per * 3));
  for (int64_t i = 0; i < per * 3; i++) x[i] = rndf() * 2 - 0.3f;
  char what[160];
  snprintf(what, sizeof what,
           "MatMulInteger seed %u: L%lld M%lld K%lld N%lld, %s A, %s B, zero points %s, scale %s",
           seed, (long long)L, (long long)M, (long long)K, (long long)N, dyn ? "u8" : "i8", bt,
           bz_col ? "per column" : "one", s_col ? "per column" : "one");
  for (int opt = 0; opt <= 2; opt += 2) {
    IrDiag d;
    ir_diag_init(&d, "random", true);
    IrGraph *g = fe_parse_model(b.s, b.len, NULL, "rmi", &d);
    PassOptions po = {.opt_level = opt, .workspace_align = 64, .verify_each = true};
    bool ok = g && pass_run_pipeline(g, &po, &d);
    CHECK(ok, "%s: -O%d does not load: %s", what, opt, d.text ? d.text : "");
    ir_diag_free(&d);
    if (!ok) {
      if (g) ir_graph_free(g);
      continue;
    }
    int fused = 0, kernels = 0;
    for (int i = 0; i < g->n_nodes; i++)
      if (g->nodes[i]->op == IR_OP_MATMUL_INTEGER) {
        fused += g->nodes[i]->n_inputs == 5;
        kernels += g->nodes[i]->kernel == IR_KERNEL_QGEMM_DOT4;
      }
    CHECK(kernels == 1 && fused == (opt ? 1 : 0), "%s -O%d: %d on the int8 kernel, %d fused", what,
          opt, kernels, fused);
    n_integer_fused += fused;
    compare_compiled(g, x, per, 2, NULL, what);
    compare_compiled(g, x, per, 2, "x86-64", what);
    ir_graph_free(g);
  }
  free(x);
  free(b.s);
}

/* ConvInteger on the int8 conv kernel (quantize_dynamic's Conv chain) with random geometry: x
 * f32 [N, C, H, W] -> DynamicQuantizeLinear (u8, run-time zero point: the padding) or
 * QuantizeLinear (i8, constant) -> ConvInteger (groups 1, 2 or depthwise; strides, pads,
 * dilations; i8 or u8 weights, zero points one or per channel, often not 0) -> Cast -> Mul by
 * one scale or one per channel ([1, M, 1, 1]); -O0 and -O2 (fused) compiled == interpreter bit
 * for bit on the host and x86-64 (SSE2). Seeds 17-20: 3x3 stride-1 shapes of 16 columns (4+
 * channels, any groups), planned again for VNNI where the host has it: qconv-direct-dot4 (the
 * run-time zero point as the padding byte, the channel and window terms), run on the host. */
static int n_conv_integer_fused, n_conv_integer_direct;
static void check_random_conv_integer(unsigned seed) {
  rng_state = seed * 2654435761u + 11;
  bool direct = seed > 16; /* the VNNI direct conv's shapes: 3x3, stride 1, pads 1, 16 columns */
  int64_t N = 1 + rnd(2),
          C = direct ? (int64_t[]){4, 5, 8, 13}[rnd(4)] : (int64_t[]){1, 2, 3, 4, 5, 8, 13}[rnd(7)],
          H = 3 + rnd(8), W = 3 + rnd(12), kh = 1 + rnd(3), kw = 1 + rnd(3), sh = 1 + rnd(2),
          sw = 1 + rnd(2), dh = 1 + rnd(2), dw = 1 + rnd(2);
  int64_t G = rnd(3) == 0 ? C : (C % 2 == 0 && rnd(2)) ? 2 : 1;
  int64_t M = G == C ? C * (1 + rnd(2)) : G * (int64_t)(1 + rnd(9));
  int64_t pt = rnd(kh * dh), pl = rnd(kw * dw), pb = rnd(kh * dh), pr = rnd(kw * dw);
  if (direct) { /* (4+ channels: not a first layer) */
    W = 16, H = 4 * (1 + rnd(2)), kh = kw = 3, sh = sw = dh = dw = 1, pt = pl = pb = pr = 1;
  }
  while ((H + pt + pb - dh * (kh - 1) - 1) < 0) pb++;
  while ((W + pl + pr - dw * (kw - 1) - 1) < 0) pr++;
  bool dyn = rnd(3) != 0, w_u8 = rnd(2), wz_ch = rnd(2), s_ch = rnd(2);
  const char *wt = w_u8 ? "u8" : "i8";
  int lo = w_u8 ? 0 : -128;
  int64_t cg = C / G, nw = M * cg * kh * kw;
  Buf b = {0};
  put(&b,
      "{\"format\": \"kiln-model\", \"version\": 1, \"opset\": 17, \"name\": \"rci%u\", "
      "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [%lld, %lld, %lld, %lld]}], "
      "\"initializers\": [{\"name\": \"w\", \"dtype\": \"%s\", \"shape\": [%lld, %lld, %lld, "
      "%lld], \"data\": [",
      seed, (long long)N, (long long)C, (long long)H, (long long)W, wt, (long long)M, (long long)cg,
      (long long)kh, (long long)kw);
  for (int64_t i = 0; i < nw; i++) put(&b, "%s%d", i ? ", " : "", lo + (int)rnd(256));
  put(&b, "]}, {\"name\": \"wz\", \"dtype\": \"%s\", \"shape\": [", wt);
  if (wz_ch) put(&b, "%lld", (long long)M);
  put(&b, "], \"data\": [");
  for (int64_t i = 0; i < (wz_ch ? M : 1); i++)
    put(&b, "%s%d", i ? ", " : "", rnd(3) ? lo + (int)rnd(256) : (w_u8 ? 128 : 0));
  put(&b, "]}, {\"name\": \"s\", \"dtype\": \"f32\", \"shape\": [");
  if (s_ch) put(&b, "1, %lld, 1, 1", (long long)M);
  put(&b, "], \"data\": [");
  for (int64_t i = 0; i < (s_ch ? M : 1); i++)
    put(&b, "%s%.6f", i ? ", " : "", 0.001 + (double)rnd(1000) * 1e-5);
  put(&b,
      "]}, {\"name\": \"qs\", \"dtype\": \"f32\", \"shape\": [], \"data\": [0.01]}, "
      "{\"name\": \"qz\", \"dtype\": \"i8\", \"shape\": [], \"data\": [%d]}], "
      "\"outputs\": [{\"name\": \"y\"}], \"nodes\": [",
      (int)rnd(60) - 30);
  if (dyn)
    put(&b, "{\"op\": \"DynamicQuantizeLinear\", \"inputs\": [\"x\"], \"outputs\": [\"q\", "
            "\"xs\", \"xz\"]}, ");
  else
    put(&b, "{\"op\": \"QuantizeLinear\", \"inputs\": [\"x\", \"qs\", \"qz\"], \"outputs\": "
            "[\"q\"]}, ");
  put(&b,
      "{\"op\": \"ConvInteger\", \"name\": \"ci\", \"inputs\": [\"q\", \"w\", \"%s\", \"wz\"], "
      "\"outputs\": [\"acc\"], \"attrs\": {\"group\": %lld, \"strides\": [%lld, %lld], "
      "\"dilations\": [%lld, %lld], \"pads\": [%lld, %lld, %lld, %lld]}}, "
      "{\"op\": \"Cast\", \"inputs\": [\"acc\"], \"outputs\": [\"f\"], \"attrs\": {\"to\": 1}}, "
      "{\"op\": \"Mul\", \"inputs\": [\"f\", \"s\"], \"outputs\": [\"y\"]}]}",
      dyn ? "xz" : "qz", (long long)G, (long long)sh, (long long)sw, (long long)dh, (long long)dw,
      (long long)pt, (long long)pl, (long long)pb, (long long)pr);
  int64_t per = N * C * H * W;
  float *x = malloc(sizeof *x * (size_t)(per * 3));
  for (int64_t i = 0; i < per * 3; i++) x[i] = rndf() * 2 - 0.3f;
  char what[200];
  snprintf(what, sizeof what,
           "ConvInteger seed %u: N%lld C%lld %lldx%lld M%lld k%lldx%lld s%lldx%lld d%lldx%lld "
           "g%lld, %s x, %s w, zero points %s, scale %s",
           seed, (long long)N, (long long)C, (long long)H, (long long)W, (long long)M,
           (long long)kh, (long long)kw, (long long)sh, (long long)sw, (long long)dh, (long long)dw,
           (long long)G, dyn ? "u8" : "i8", wt, wz_ch ? "per channel" : "one",
           s_ch ? "per channel" : "one");
  for (int opt = 0; opt <= 2; opt += 2) {
    IrDiag d;
    ir_diag_init(&d, "random", true);
    IrGraph *g = fe_parse_model(b.s, b.len, NULL, "rci", &d);
    PassOptions po = {.opt_level = opt, .workspace_align = 64, .verify_each = true};
    bool ok = g && pass_run_pipeline(g, &po, &d);
    CHECK(ok, "%s: -O%d does not load: %s", what, opt, d.text ? d.text : "");
    ir_diag_free(&d);
    if (!ok) {
      if (g) ir_graph_free(g);
      continue;
    }
    int fused = 0, kernels = 0;
    for (int i = 0; i < g->n_nodes; i++)
      if (g->nodes[i]->op == IR_OP_CONV_INTEGER) {
        fused += g->nodes[i]->n_inputs == 5;
        kernels += g->nodes[i]->kernel == IR_KERNEL_QCONV_DOT4;
      }
    CHECK(kernels == 1 && fused == (opt ? 1 : 0), "%s -O%d: %d on the int8 kernel, %d fused", what,
          opt, kernels, fused);
    n_conv_integer_fused += fused;
    compare_compiled(g, x, per, 2, NULL, what);
    compare_compiled(g, x, per, 2, "x86-64", what);
    if (direct && host_vnni) { /* planned for VNNI: the direct conv, run on this host */
      replan(g, true);
      int n_direct = 0;
      for (int i = 0; i < g->n_nodes; i++)
        n_direct +=
            g->nodes[i]->op == IR_OP_CONV_INTEGER && g->nodes[i]->kernel == IR_KERNEL_QCONV_DIRECT;
      CHECK(n_direct == 1, "%s -O%d: %d ConvInteger on qconv-direct-dot4 planned for VNNI", what,
            opt, n_direct);
      n_conv_integer_direct += n_direct;
      compare_compiled(g, x, per, 2, NULL, what);
    }
    ir_graph_free(g);
  }
  free(x);
  free(b.s);
}

/* resnet_small quantizes end to end (residual QAdd with Relu folded, QGlobalAveragePool, the SE
 * block's Sigmoid as QLookup and its broadcast QMul): one QuantizeLinear at the input, one
 * DequantizeLinear at the output; compiled -O2 equals the interpreter bit for bit on random
 * inputs (calibrated on others). */
static void check_resnet(void) {
  IrGraph *probe = load("resnet_small", NULL, 0);
  if (!probe) return;
  int64_t per = ir_value_numel(probe->inputs[0]), outn = ir_value_numel(probe->outputs[0]);
  ir_graph_free(probe);
  enum { SAMPLES = 4 };
  rng_state = 12345;
  float *x = malloc(sizeof *x * (size_t)(per * (SAMPLES + 3)));
  for (int64_t i = 0; i < per * (SAMPLES + 3); i++) x[i] = rndf() * 2;
  const void *cal[1] = {x};
  PassQuantOptions q = {.samples = cal, .n_samples = SAMPLES};
  IrGraph *g = load("resnet_small", &q, 2);
  if (!g) {
    free(x);
    return;
  }
  int floats = 0, counts[IR_OP_COUNT] = {0};
  for (int i = 0; i < g->n_nodes; i++) {
    counts[g->nodes[i]->op]++;
    floats += g->nodes[i]->outputs[0]->dtype == IR_F32;
  }
  CHECK(floats == 1 && counts[IR_OP_QUANTIZE_LINEAR] == 1 && counts[IR_OP_QADD] == 3 &&
            counts[IR_OP_QMUL] == 1 && counts[IR_OP_QLOOKUP] == 1 &&
            counts[IR_OP_QGLOBAL_AVERAGE_POOL] == 2,
        "resnet_small: not int8 end to end (%d float outputs)", floats);
  void *lib = NULL;
  const krt_model *m = compile(g, 2, &lib);
  float *want = malloc(sizeof(float) * (size_t)outn), *got = malloc(sizeof(float) * (size_t)outn);
  unsigned char *ws = m ? aligned_alloc(64, ((size_t)m->workspace_size + 64) / 64 * 64) : NULL;
  for (int s = 0; m && s < 3; s++) {
    const void *in[1] = {x + (size_t)(SAMPLES + s) * (size_t)per};
    void *ow[1] = {want}, *og[1] = {got};
    CHECK(ir_interp_run(g, in, ow) == 0 && m->run(in, og, ws) == 0, "resnet_small: runs");
    CHECK(memcmp(want, got, sizeof(float) * (size_t)outn) == 0,
          "resnet_small: compiled int8 differs from the interpreter (sample %d)", s);
  }
  printf("resnet_small int8 end to end: compiled -O2 %s\n", m ? "checked bit-exact" : "failed");
  free(ws);
  free(want);
  free(got);
  free(x);
  if (lib) dlclose(lib);
  ir_graph_free(g);
}

/* ---- sparse int8: Gemm(+Relu)+Gemm with weights at a density, quantized, QGemm forced to
 * sparse-csr (the node must get it), compiled (host) == interpreter bit for bit --------------- */
static void check_sparse_gemm(unsigned seed, double density) {
  rng_state = seed * 2246822519u + 7;
  int64_t M = 1 + rnd(3), K = (int64_t[]){1, 7, 37, 64}[rnd(4)],
          N = (int64_t[]){5, 16, 17, 33}[rnd(4)];
  Buf b = {0};
  put(&b,
      "{\"format\": \"kiln-model\", \"version\": 1, \"opset\": 17, \"name\": \"sq%u\", "
      "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [%lld, %lld]}], "
      "\"initializers\": [",
      seed, (long long)M, (long long)K);
  put_init_d(&b, "w1", 2, (int64_t[]){N, K}, 0.5f, density);
  put(&b, ", ");
  put_init(&b, "b1", 1, (int64_t[]){N}, 0.2f);
  put(&b, ", ");
  put_init_d(&b, "w2", 2, (int64_t[]){N, 3}, 0.5f, density);
  put(&b, ", ");
  put_init(&b, "b2", 1, (int64_t[]){3}, 0.1f);
  put(&b, "], \"outputs\": [{\"name\": \"y\"}], \"nodes\": ["
          "{\"op\": \"Gemm\", \"inputs\": [\"x\", \"w1\", \"b1\"], \"outputs\": [\"h\"], "
          "\"attrs\": {\"transB\": 1}}, "
          "{\"op\": \"Relu\", \"inputs\": [\"h\"], \"outputs\": [\"r\"]}, "
          "{\"op\": \"Gemm\", \"inputs\": [\"r\", \"w2\", \"b2\"], \"outputs\": [\"y\"]}]}");
  enum { SAMPLES = 8 };
  int64_t per = M * K;
  float *cal = malloc(sizeof *cal * (size_t)(per * SAMPLES));
  for (int64_t i = 0; i < per * SAMPLES; i++) cal[i] = rndf() * 2;
  const void *calp[1] = {cal};
  PassQuantOptions q = {.samples = calp, .n_samples = SAMPLES};
  IrDiag d;
  ir_diag_init(&d, "sparse-int8", true);
  IrGraph *g = fe_parse_model(b.s, b.len, NULL, "sq", &d);
  PassOptions po = {.opt_level = 2,
                    .workspace_align = 64,
                    .verify_each = true,
                    .quant = &q,
                    .sparse_kernel = IR_KERNEL_SPARSE_CSR};
  bool ok = g && pass_run_pipeline(g, &po, &d);
  ir_diag_free(&d);
  CHECK(ok, "sparse seed %u: quantization failed", seed);
  int csr = 0;
  for (int i = 0; ok && i < g->n_nodes; i++)
    csr += g->nodes[i]->op == IR_OP_QGEMM && g->nodes[i]->kernel == IR_KERNEL_SPARSE_CSR;
  CHECK(!ok || csr == 2, "sparse seed %u: %d of 2 QGemm got sparse-csr", seed, csr);
  void *lib = NULL;
  const krt_model *m = ok ? compile(g, 2, &lib) : NULL;
  if (m) {
    int64_t outn = ir_value_numel(g->outputs[0]);
    float want[3 * 3], got[3 * 3];
    unsigned char *ws = aligned_alloc(64, ((size_t)m->workspace_size + 64) / 64 * 64);
    for (int s = 0; s < SAMPLES; s++) {
      const void *in[1] = {cal + (size_t)s * (size_t)per};
      void *ow[1] = {want}, *og[1] = {got};
      CHECK(ir_interp_run(g, in, ow) == 0 && m->run(in, og, ws) == 0, "sparse seed %u: runs", seed);
      CHECK(memcmp(want, got, sizeof(float) * (size_t)outn) == 0,
            "sparse seed %u: M%lld K%lld N%lld density %.2f: compiled sparse int8 differs from the "
            "interpreter",
            seed, (long long)M, (long long)K, (long long)N, density);
    }
    free(ws);
    dlclose(lib);
  }
  free(cal);
  free(b.s);
  if (g) ir_graph_free(g);
}

/* ---- sparse int8 conv: Conv(+Relu) + 1x1 Conv, weights at a density, quantized, QLinearConv
 * forced to sparse-csr (cg_sparse.c's conv on i32 phase images), compiled (host) == interpreter
 * bit for bit; edge shapes: odd channels, 1x1 with batch 2, stride 2 with groups and asymmetric
 * pads, depthwise with dilation 2, a 5x3 kernel with 3 groups, a long reduction -------------- */
typedef struct {
  int64_t n, c, m, kh, kw, stride, pad[4], group, dil, h, w;
} ConvShape;

static void check_sparse_conv(int shape, double density) {
  static const ConvShape sh[] = {
      {1, 3, 8, 3, 3, 1, {1, 1, 1, 1}, 1, 1, 7, 9},
      {2, 5, 7, 1, 1, 1, {0, 0, 0, 0}, 1, 1, 6, 5},
      {1, 4, 6, 3, 3, 2, {1, 0, 2, 1}, 2, 1, 9, 8},
      {1, 4, 4, 3, 3, 1, {2, 2, 2, 2}, 4, 2, 8, 7},
      {1, 6, 9, 5, 3, 2, {1, 2, 0, 1}, 3, 1, 11, 9},
      /* 3456 reductions: a channel's sum of |w| * |x - x_zp| can pass 2^24, so vector hosts
       * accumulate in i32 rather than exact f32 (cg_sparse.c) */
      {1, 384, 4, 3, 3, 1, {1, 1, 1, 1}, 1, 1, 3, 3}};
  ConvShape g0 = sh[shape];
  rng_state = (unsigned)shape * 2654435761u + (unsigned)(density * 1000) + 11;
  Buf b = {0};
  put(&b,
      "{\"format\": \"kiln-model\", \"version\": 1, \"opset\": 17, \"name\": \"sc%d\", "
      "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [%lld, %lld, %lld, %lld]}], "
      "\"initializers\": [",
      shape, (long long)g0.n, (long long)g0.c, (long long)g0.h, (long long)g0.w);
  put_init_d(&b, "w1", 4, (int64_t[]){g0.m, g0.c / g0.group, g0.kh, g0.kw}, 0.5f, density);
  put(&b, ", ");
  put_init(&b, "b1", 1, (int64_t[]){g0.m}, 0.2f);
  put(&b, ", ");
  put_init_d(&b, "w2", 4, (int64_t[]){3, g0.m, 1, 1}, 0.5f, density);
  put(&b,
      "], \"outputs\": [{\"name\": \"y\"}], \"nodes\": ["
      "{\"op\": \"Conv\", \"inputs\": [\"x\", \"w1\", \"b1\"], \"outputs\": [\"h\"], \"attrs\": "
      "{\"strides\": [%lld, %lld], \"pads\": [%lld, %lld, %lld, %lld], \"group\": %lld, "
      "\"dilations\": [%lld, %lld]}}, "
      "{\"op\": \"Relu\", \"inputs\": [\"h\"], \"outputs\": [\"r\"]}, "
      "{\"op\": \"Conv\", \"inputs\": [\"r\", \"w2\"], \"outputs\": [\"y\"]}]}",
      (long long)g0.stride, (long long)g0.stride, (long long)g0.pad[0], (long long)g0.pad[1],
      (long long)g0.pad[2], (long long)g0.pad[3], (long long)g0.group, (long long)g0.dil,
      (long long)g0.dil);
  enum { SAMPLES = 6 };
  int64_t per = g0.n * g0.c * g0.h * g0.w;
  float *cal = malloc(sizeof *cal * (size_t)(per * SAMPLES));
  for (int64_t i = 0; i < per * SAMPLES; i++) cal[i] = rndf() * 2;
  const void *calp[1] = {cal};
  PassQuantOptions q = {.samples = calp, .n_samples = SAMPLES};
  IrDiag d;
  ir_diag_init(&d, "sparse-int8-conv", true);
  IrGraph *g = fe_parse_model(b.s, b.len, NULL, "sc", &d);
  PassOptions po = {.opt_level = 2,
                    .workspace_align = 64,
                    .verify_each = true,
                    .quant = &q,
                    .sparse_kernel = IR_KERNEL_SPARSE_CSR};
  bool ok = g && pass_run_pipeline(g, &po, &d);
  ir_diag_free(&d);
  CHECK(ok, "sparse conv %d: quantization failed", shape);
  int csr = 0;
  for (int i = 0; ok && i < g->n_nodes; i++)
    csr += g->nodes[i]->op == IR_OP_QLINEAR_CONV && g->nodes[i]->kernel == IR_KERNEL_SPARSE_CSR;
  CHECK(!ok || csr == 2, "sparse conv %d: %d of 2 QLinearConv got sparse-csr", shape, csr);
  void *lib = NULL;
  const krt_model *m = ok ? compile(g, 2, &lib) : NULL;
  if (m) {
    int64_t outn = ir_value_numel(g->outputs[0]);
    float *want = malloc(sizeof(float) * (size_t)outn), *got = malloc(sizeof(float) * (size_t)outn);
    unsigned char *ws = aligned_alloc(64, ((size_t)m->workspace_size + 64) / 64 * 64);
    for (int s = 0; s < SAMPLES; s++) {
      const void *in[1] = {cal + (size_t)s * (size_t)per};
      void *ow[1] = {want}, *og[1] = {got};
      CHECK(ir_interp_run(g, in, ow) == 0 && m->run(in, og, ws) == 0, "sparse conv %d: runs",
            shape);
      CHECK(memcmp(want, got, sizeof(float) * (size_t)outn) == 0,
            "sparse conv %d density %.2f: compiled sparse int8 differs from the interpreter", shape,
            density);
    }
    free(ws);
    free(want);
    free(got);
    dlclose(lib);
  }
  free(cal);
  free(b.s);
  if (g) ir_graph_free(g);
}

/* Dense int8 convs of edge geometries, compiled at -O2 for the host and AVX2 against the
 * interpreter bit for bit: Conv (+Relu) -> MaxPool 2x2/2 -> Tanh or Sigmoid -> 1x1 Conv. Depthwise
 * on planes of at most 64 bytes with stride 2, dilation 2, asymmetric pads (AVX-512VBMI: one
 * vpermt2b per tap), 8x8 (64 bytes exactly) and 9x9 (the padded-wide form); channel quads with
 * stride 1 (the interleaved im2col copy), grouped; a 3-channel first layer; MaxPool on planes of 4
 * and 8 columns (whole-plane vpermb; 5 channels of 4x4: a masked tail) and of 6. */
static int n_pool_fused, n_pool_expected; /* check_dense_conv's 2x2/2 MaxPools: fused, all */
static int n_lut_fused;                   /* check_dense_conv's lookups fused (M4 plan) */
static void check_dense_conv(int shape) {
  static const ConvShape sh[] = {{1, 8, 8, 3, 3, 2, {1, 0, 2, 1}, 8, 1, 7, 8},
                                 {2, 6, 6, 3, 3, 1, {2, 2, 2, 2}, 6, 2, 6, 5},
                                 {1, 16, 16, 3, 3, 1, {1, 1, 1, 1}, 16, 1, 8, 8},
                                 {1, 4, 4, 3, 3, 1, {1, 1, 1, 1}, 4, 1, 9, 9},
                                 {1, 12, 8, 3, 3, 1, {1, 1, 1, 1}, 1, 1, 8, 8},
                                 {1, 8, 12, 3, 3, 1, {0, 1, 2, 1}, 2, 1, 6, 7},
                                 {2, 3, 8, 3, 3, 1, {1, 1, 1, 1}, 1, 1, 6, 6},
                                 {1, 5, 5, 1, 1, 1, {0, 0, 0, 0}, 1, 1, 4, 4},
                                 /* VNNI direct (no im2col, CgQGemm.direct_taps): output rows
                                  * of 16 (4 a strip), 32 (2) and 64 (1); channels padded to a
                                  * quad, rows of weights past the 6-row tile, 5x5 taps, groups
                                  * with dilation, asymmetric pads */
                                 {2, 6, 9, 3, 3, 1, {1, 1, 1, 1}, 1, 1, 16, 16},
                                 {1, 8, 13, 5, 5, 1, {2, 2, 2, 2}, 1, 1, 4, 32},
                                 {1, 8, 6, 3, 3, 1, {2, 2, 2, 2}, 2, 2, 4, 64},
                                 {1, 4, 5, 3, 3, 1, {0, 1, 2, 1}, 1, 1, 16, 16},
                                 /* MaxPool fused into the M4's Winograd (passes/pass_qpool.c):
                                  * odd output sizes (the pool drops a row and a column), a
                                  * partial block of 3 output channels, no padding */
                                 {2, 9, 10, 3, 3, 1, {1, 1, 1, 1}, 1, 1, 7, 11},
                                 {1, 8, 8, 3, 3, 1, {0, 0, 0, 0}, 1, 1, 9, 9}};
  ConvShape g0 = sh[shape];
  rng_state = (unsigned)shape * 2654435761u + 7;
  int64_t oh = conv_out(g0.h, g0.kh, g0.stride, g0.dil, g0.pad[0], g0.pad[2]),
          ow = conv_out(g0.w, g0.kw, g0.stride, g0.dil, g0.pad[1], g0.pad[3]);
  bool pool = oh >= 2 && ow >= 2;
  Buf b = {0};
  put(&b,
      "{\"format\": \"kiln-model\", \"version\": 1, \"opset\": 17, \"name\": \"dc%d\", "
      "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [%lld, %lld, %lld, %lld]}], "
      "\"initializers\": [",
      shape, (long long)g0.n, (long long)g0.c, (long long)g0.h, (long long)g0.w);
  put_init(&b, "w1", 4, (int64_t[]){g0.m, g0.c / g0.group, g0.kh, g0.kw}, 0.5f);
  put(&b, ", ");
  put_init(&b, "b1", 1, (int64_t[]){g0.m}, 0.2f);
  put(&b, ", ");
  put_init(&b, "w2", 4, (int64_t[]){3, g0.m, 1, 1}, 0.5f);
  put(&b,
      "], \"outputs\": [{\"name\": \"y\"}], \"nodes\": ["
      "{\"op\": \"Conv\", \"inputs\": [\"x\", \"w1\", \"b1\"], \"outputs\": [\"h\"], \"attrs\": "
      "{\"strides\": [%lld, %lld], \"pads\": [%lld, %lld, %lld, %lld], \"group\": %lld, "
      "\"dilations\": [%lld, %lld]}}, "
      "{\"op\": \"Relu\", \"inputs\": [\"h\"], \"outputs\": [\"r\"]}, "
      "{\"op\": \"MaxPool\", \"inputs\": [\"r\"], \"outputs\": [\"p\"], \"attrs\": "
      "{\"kernel_shape\": [%d, %d], \"strides\": [%d, %d]}}, "
      "{\"op\": \"%s\", \"inputs\": [\"p\"], \"outputs\": [\"t\"]}, "
      "{\"op\": \"Conv\", \"inputs\": [\"t\", \"w2\"], \"outputs\": [\"y\"]}]}",
      (long long)g0.stride, (long long)g0.stride, (long long)g0.pad[0], (long long)g0.pad[1],
      (long long)g0.pad[2], (long long)g0.pad[3], (long long)g0.group, (long long)g0.dil,
      (long long)g0.dil, pool ? 2 : 1, pool ? 2 : 1, pool ? 2 : 1, pool ? 2 : 1,
      shape % 2 ? "Tanh" : "Sigmoid");
  int64_t per;
  float *cal = NULL;
  /* planned for the host: shapes 8-11 get the VNNI direct kernel where the host has VNNI, its
   * scratch the padded interleaved copy alone; planned again without VNNI for AVX2: im2col */
  plan_vnni = host_vnni;
  IrGraph *g = quantize_random(&b, (unsigned)shape, &per, &cal);
  plan_vnni = false;
  if (g) {
    char what[64];
    snprintf(what, sizeof what, "dense conv %d", shape);
    const IrNode *conv = NULL;
    for (int i = 0; i < g->n_nodes && !conv; i++)
      if (g->nodes[i]->op == IR_OP_QLINEAR_CONV) conv = g->nodes[i];
    bool want_direct = host_vnni && shape >= 8 && shape <= 11; /* 12, 13: the M4 pool shapes */
    int64_t copy = (g0.c / g0.group + 3) / 4 * (g0.h + g0.pad[0] + g0.pad[2]) *
                   (g0.w + g0.pad[1] + g0.pad[3]) * 4;
    CHECK(conv && (conv->kernel == IR_KERNEL_QCONV_DIRECT) == want_direct &&
              (!want_direct || conv->scratch_bytes == copy),
          "%s: kernel %s, scratch %lld (want %s, padded copy %lld bytes)", what,
          conv ? ir_kernel_names[conv->kernel] : "-", conv ? (long long)conv->scratch_bytes : 0LL,
          want_direct ? "qconv-direct-dot4" : "not direct", (long long)copy);
    compare_compiled(g, cal, per, 2, NULL, what);
    replan(g, false);
    CHECK(!conv || (shape >= 8 ? conv->kernel == IR_KERNEL_QCONV_DOT4
                               : conv->kernel != IR_KERNEL_QCONV_DIRECT),
          "%s: without VNNI: kernel %s", what, conv ? ir_kernel_names[conv->kernel] : "-");
    compare_compiled(g, cal, per, 2, "x86-64-v3", what);
    ir_graph_free(g);
  }
  free(cal);
  cal = NULL;
  /* the Cortex-M4's plan (Winograd forced, scalar lanes, Arm DSP): every 2x2/2 MaxPool joins
   * the conv before it (passes/pass_qpool.c: Winograd, the im2col pairs tile, the depthwise
   * loop nest); compiled for the host, the fused node runs the loop nest (the codegen's
   * fallback), against the interpreter's conv-then-pool */
  g = quantize_random_for(&b, (unsigned)shape, &per, &cal, true);
  if (g) {
    int fused = 0, pools = 0, luts = 0, lut_nodes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
      fused += g->nodes[i]->pool != NULL;
      pools += g->nodes[i]->op == IR_OP_MAX_POOL;
      luts += g->nodes[i]->lookup != NULL;
      lut_nodes += g->nodes[i]->op == IR_OP_QLOOKUP;
    }
    CHECK(fused == pool && pools == !pool, "dense conv %d: %d MaxPool fused, %d left (pool %d)",
          shape, fused, pools, pool);
    /* the Tanh / Sigmoid after the pool (or the 1x1 pool left a node): a lookup fused into the
     * conv (after its fused pool) where the pool fused, else the pool reads the conv and the
     * lookup stays a node */
    CHECK(luts == pool && lut_nodes == !pool, "dense conv %d: %d QLookup fused, %d left", shape,
          luts, lut_nodes);
    n_lut_fused += luts;
    n_pool_expected += pool;
    n_pool_fused += fused;
    char what[64];
    snprintf(what, sizeof what, "dense conv %d, M4 plan", shape);
    compare_compiled(g, cal, per, 2, NULL, what);
    ir_graph_free(g);
  }
  free(cal);
  free(b.s);
}

/* QLinearConvTranspose on the sub-pixel form (qconvtranspose-subpixel, forced by --conv=subpixel)
 * compiled at -O0 and -O2 for the host (VNNI), AVX2 and SSE2 against the interpreter bit for bit,
 * then on the cost model's choice and on col2im (host, SSE2; 3x3 inputs: the transposed product):
 * ConvTranspose (+Relu, folded) -> 1x1 Conv; strides 1-4 (kernel >= stride), asymmetric pads and
 * kernels, output_padding, odd channel counts, batch 2, more output channels than a tile's rows;
 * weights per output channel (the quantize pass). Also the cost model's choice. */
typedef struct {
  int64_t n, c, m, kh, kw, sh, sw, pad[4], opad[2], h, w;
} ConvtShape;

static int n_subpixel_auto;
static void check_qconvt(int shape) {
  static const ConvtShape sh[] = {{1, 5, 7, 3, 3, 2, 2, {1, 0, 0, 1}, {1, 0}, 5, 6},
                                  {2, 3, 4, 4, 4, 2, 2, {1, 1, 1, 1}, {0, 0}, 4, 4},
                                  {1, 6, 3, 4, 4, 3, 3, {1, 1, 1, 1}, {2, 1}, 4, 5},
                                  {1, 4, 5, 3, 3, 3, 3, {0, 0, 0, 0}, {0, 0}, 3, 3},
                                  {1, 9, 6, 2, 3, 2, 3, {0, 1, 0, 1}, {1, 2}, 5, 4},
                                  {1, 16, 17, 4, 4, 2, 2, {1, 1, 1, 1}, {0, 0}, 8, 8},
                                  {1, 3, 2, 4, 4, 4, 4, {0, 0, 0, 0}, {3, 3}, 3, 3},
                                  {1, 5, 6, 3, 3, 1, 1, {1, 1, 1, 1}, {0, 0}, 6, 7},
                                  /* DCGAN-like: 32 -> 16 at 16x16, stride 2 */
                                  {1, 32, 16, 4, 4, 2, 2, {1, 1, 1, 1}, {0, 0}, 16, 16}};
  ConvtShape g0 = sh[shape];
  rng_state = (unsigned)shape * 2654435761u + 13;
  Buf b = {0};
  put(&b,
      "{\"format\": \"kiln-model\", \"version\": 1, \"opset\": 17, \"name\": \"ct%d\", "
      "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [%lld, %lld, %lld, %lld]}], "
      "\"initializers\": [",
      shape, (long long)g0.n, (long long)g0.c, (long long)g0.h, (long long)g0.w);
  put_init(&b, "w1", 4, (int64_t[]){g0.c, g0.m, g0.kh, g0.kw}, 0.5f);
  put(&b, ", ");
  put_init(&b, "b1", 1, (int64_t[]){g0.m}, 0.2f);
  put(&b, ", ");
  put_init(&b, "w2", 4, (int64_t[]){3, g0.m, 1, 1}, 0.5f);
  put(&b,
      "], \"outputs\": [{\"name\": \"y\"}], \"nodes\": ["
      "{\"op\": \"ConvTranspose\", \"inputs\": [\"x\", \"w1\", \"b1\"], \"outputs\": [\"h\"], "
      "\"attrs\": {\"kernel_shape\": [%lld, %lld], \"strides\": [%lld, %lld], \"pads\": [%lld, "
      "%lld, %lld, %lld], \"output_padding\": [%lld, %lld]}}, "
      "{\"op\": \"Relu\", \"inputs\": [\"h\"], \"outputs\": [\"r\"]}, "
      "{\"op\": \"Conv\", \"inputs\": [\"r\", \"w2\"], \"outputs\": [\"y\"]}]}",
      (long long)g0.kh, (long long)g0.kw, (long long)g0.sh, (long long)g0.sw, (long long)g0.pad[0],
      (long long)g0.pad[1], (long long)g0.pad[2], (long long)g0.pad[3], (long long)g0.opad[0],
      (long long)g0.opad[1]);
  int64_t per;
  float *cal = NULL;
  plan_conv_kernel = IR_KERNEL_CONVT_SUBPIXEL;
  IrGraph *g = quantize_random(&b, (unsigned)shape, &per, &cal);
  plan_conv_kernel = 0;
  if (g) {
    char what[96];
    snprintf(what, sizeof what, "qconvt %d (k%lldx%lld s%lldx%lld, %lld -> %lld)", shape,
             (long long)g0.kh, (long long)g0.kw, (long long)g0.sh, (long long)g0.sw,
             (long long)g0.c, (long long)g0.m);
    IrNode *ct = NULL;
    for (int i = 0; i < g->n_nodes && !ct; i++)
      if (g->nodes[i]->op == IR_OP_QLINEAR_CONV_TRANSPOSE) ct = g->nodes[i];
    CHECK(ct && ct->kernel == IR_KERNEL_QCONVT_SUBPIXEL && ir_value_numel(ct->inputs[4]) == g0.m,
          "%s: kernel %s, %lld weight scales (want qconvtranspose-subpixel, per channel)", what,
          ct ? ir_kernel_names[ct->kernel] : "-",
          ct ? (long long)ir_value_numel(ct->inputs[4]) : 0LL);
    compare_compiled(g, cal, per, 0, NULL, what);
    compare_compiled(g, cal, per, 2, NULL, what);
    compare_compiled(g, cal, per, 2, "x86-64-v3", what);
    compare_compiled(g, cal, per, 2, "x86-64", what);
    replan(g, host_vnni); /* the cost model's choice (host: 16 lanes) */
    n_subpixel_auto += ct && ct->kernel == IR_KERNEL_QCONVT_SUBPIXEL;
    compare_compiled(g, cal, per, 2, NULL, what);
    /* and the col2im form (fewer than 16 input pixels: the product transposed on vectors) */
    plan_conv_kernel = IR_KERNEL_CONVT_GEMM;
    replan(g, host_vnni);
    plan_conv_kernel = 0;
    CHECK(ct && ct->kernel == IR_KERNEL_CONVT_GEMM, "%s: --conv=col2im: kernel %s", what,
          ct ? ir_kernel_names[ct->kernel] : "-");
    compare_compiled(g, cal, per, 2, NULL, what);
    compare_compiled(g, cal, per, 2, "x86-64", what);
    ir_graph_free(g);
  }
  free(cal);
  free(b.s);
}

static bool read_npy(const char *rel, krt_npy *a) {
  char path[PATH_MAX], err[512];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  bool ok = krt_npy_read(path, a, err, sizeof err);
  CHECK(ok, "%s", err);
  return ok;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--cc") && i + 1 < argc)
      cc = argv[++i];
    else
      root = argv[i];
  }
  if (!root || !mkdtemp(tmpdir)) {
    fprintf(stderr, "usage: test_quant ROOT [--cc CC]\n");
    return 2;
  }
  Data dt = {0};
  if (read_npy("tests/digits/test_x.npy", &dt.x) && read_npy("tests/digits/test_y.npy", &dt.y) &&
      read_npy("tests/digits/calib/x.npy", &dt.calib)) {
    dt.n = (int)dt.y.dims[0];
    check_model("digits_mlp", &dt, PASS_OBS_MINMAX, 0, true);
    check_model("digits_cnn", &dt, PASS_OBS_MINMAX, 0, true);
    check_model("digits_cnn", &dt, PASS_OBS_PERCENTILE, 99.99, false);
    check_model("digits_cnn", &dt, PASS_OBS_MSE, 0, false);
    check_model("digits_mlp", &dt, PASS_OBS_MSE, 0, false);
    check_weights("digits_mlp", &dt, false);
    check_weights("digits_lstm", &dt, false);
    check_weights("digits_lstm", &dt, true);
    check_quant_io("digits_mlp", &dt);
    check_quant_io("digits_cnn", &dt);
  }
  {
    IrDiag d;
    ir_diag_init(&d, "host", true);
    CgTargetInfo t;
    cg_target_info(&(CgOptions){.prefix = "vnni"}, &t, &d);
    host_vnni = t.x86_vnni;
    ir_diag_free(&d);
  }
  for (int shape = 0; shape < 9; shape++) check_qconvt(shape);
  printf("QLinearConvTranspose sub-pixel: 9 shapes bit-exact (host%s, AVX2, SSE2); the cost model "
         "(no lanes given) picks it for %d\n",
         host_vnni ? " VNNI" : "", n_subpixel_auto);
  for (unsigned seed = 1; seed <= 12; seed++) check_random(seed);
  for (unsigned seed = 1; seed <= 8; seed++) check_random_ops(seed);
  for (unsigned seed = 1; seed <= 3; seed++) check_random_gather(seed);
  for (unsigned seed = 1; seed <= 16; seed++) check_random_matmul_integer(seed);
  CHECK(n_integer_fused == 16, "%d of 16 MatMulInteger chains fused at -O2", n_integer_fused);
  for (unsigned seed = 1; seed <= 20; seed++) check_random_conv_integer(seed);
  CHECK(n_conv_integer_fused == 20, "%d of 20 ConvInteger chains fused at -O2",
        n_conv_integer_fused);
  CHECK(n_conv_integer_direct == (host_vnni ? 8 : 0),
        "%d ConvInteger chains on the VNNI direct conv (seeds 17-20, -O0 and -O2)",
        n_conv_integer_direct);
  printf("ConvInteger: 20 random chains bit-exact (host, SSE2), %d on the VNNI direct conv\n",
         n_conv_integer_direct);
  CHECK(n_ops[0] > 0 && n_ops[1] > 0 && n_ops[2] > 0 && n_ops[3] > 0 && n_ops[4] > 0 &&
            n_ops[5] > 0,
        "the random models made QConcat inputs copied %d / requantized %d, QAveragePool without "
        "/ with padding counted %d / %d, QLinearConvTranspose %d, int8 Gather %d",
        n_ops[0], n_ops[1], n_ops[2], n_ops[3], n_ops[4], n_ops[5]);
  printf("random int8 ops: QConcat inputs copied %d / requantized %d, QAveragePool %d + %d, "
         "QLinearConvTranspose %d, int8 Gather %d\n",
         n_ops[0], n_ops[1], n_ops[2], n_ops[3], n_ops[4], n_ops[5]);
  check_resnet();
  CHECK(n_qbinary[0] > 0 && n_qbinary[1] > 0, "the random models made %d QAdd, %d QMul",
        n_qbinary[0], n_qbinary[1]);
  static const double densities[] = {0.0, 0.01, 0.5, 0.99, 1.0};
  for (unsigned seed = 1; seed <= 10; seed++) check_sparse_gemm(seed, densities[seed % 5]);
  for (int shape = 0; shape < 5; shape++) { /* every density twice, every shape at two */
    check_sparse_conv(shape, densities[shape]);
    check_sparse_conv(shape, densities[(shape + 3) % 5]);
  }
  check_sparse_conv(5, 0.99);
  for (int shape = 0; shape < 14; shape++) check_dense_conv(shape);
  CHECK(n_pool_fused == n_pool_expected && n_pool_expected >= 12,
        "%d of %d MaxPools fused into their convs", n_pool_fused, n_pool_expected);
  CHECK(n_lut_fused == n_pool_expected, "%d of %d lookups fused into their convs", n_lut_fused,
        n_pool_expected);
  if (dt.n) { /* pruned then quantized: every QGemm on the int8 CSR kernel */
    sparse_kernel = IR_KERNEL_SPARSE_CSR;
    check_model("digits_mlp_sparse90", &dt, PASS_OBS_MINMAX, 0, true);
    check_model("digits_cnn_sparse90", &dt, PASS_OBS_MINMAX, 0, true);
    sparse_kernel = 0;
  }
  krt_npy_free(&dt.x);
  krt_npy_free(&dt.y);
  krt_npy_free(&dt.calib);
  rmdir(tmpdir);
  return test_report("quant");
}
