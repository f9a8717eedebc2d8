/* Tests of codegen/: small graphs built with the IR API are compiled to objects (-O0 and -O3),
 * linked into shared libraries, loaded with dlopen and checked against the reference
 * interpreter (ir_interp_run) and against hand-computed values; plus the ABI of the entry
 * points, the descriptor, the header, the emit kinds, target errors, and the accuracy of the
 * inline exp/tanh/sigmoid against libm. */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg.h"
#include "conv_params.h"
#include "ir.h"
#include "krt.h"
#include "pass.h"
#include "test_util.h"

/* Test hook of codegen (declared in codegen/cg_internal.h, which needs the LLVM headers): an
 * object exporting <prefix>_{exp,tanh,sigmoid}(const float *x, float *y, intptr_t n). */
bool cg_emit_math_test(const CgOptions *o, const char *out_path, IrDiag *d);

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define NDIMS(...) ((int)(sizeof(DIMS(__VA_ARGS__)) / sizeof(int64_t)))
#define INS(...) ((IrValue *const[]){__VA_ARGS__})
#define NINS(...) ((int)(sizeof(INS(__VA_ARGS__)) / sizeof(IrValue *)))

static char tmpdir[] = "/tmp/kiln-test-codegen-XXXXXX";
static const char *cc = "cc";

/* ---- random numbers (deterministic) ------------------------------------------------------ */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rand32(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 32);
}
static float frand(float lo, float hi) {
  return lo + (hi - lo) * (float)(rand32() >> 8) / 16777216.0f;
}

/* ---- graph building ---------------------------------------------------------------------- */

static IrValue *add_input(IrGraph *g, const char *name, int rank, const int64_t *dims) {
  IrValue *v = ir_value_new(g, name, IR_VALUE_INPUT, IR_F32, rank, dims);
  ir_graph_add_input(g, v);
  return v;
}
#define IN(g, name, ...) add_input(g, name, NDIMS(__VA_ARGS__), DIMS(__VA_ARGS__))

static IrValue *add_const(IrGraph *g, const char *name, IrDType dt, int rank, const int64_t *dims,
                          const void *data, float lo, float hi) {
  IrValue *v = ir_value_new(g, name, IR_VALUE_CONST, dt, rank, dims);
  size_t bytes = (size_t)ir_value_nbytes(v);
  void *p = ir_arena_alloc(g->arena, bytes ? bytes : 1);
  if (data)
    memcpy(p, data, bytes);
  else
    for (int64_t i = 0; i < ir_value_numel(v); i++) ((float *)p)[i] = frand(lo, hi);
  v->data = p;
  return v;
}
/* random f32 weights in [-1, 1] */
#define W(g, name, ...)                                                                            \
  add_const(g, name, IR_F32, NDIMS(__VA_ARGS__), DIMS(__VA_ARGS__), NULL, -1, 1)
#define WR(g, name, lo, hi, ...)                                                                   \
  add_const(g, name, IR_F32, NDIMS(__VA_ARGS__), DIMS(__VA_ARGS__), NULL, lo, hi)
#define CF32(g, name, data, ...)                                                                   \
  add_const(g, name, IR_F32, NDIMS(__VA_ARGS__), DIMS(__VA_ARGS__), data, 0, 0)
#define CI64(g, name, ...)                                                                         \
  add_const(g, name, IR_I64, 1, DIMS(NDIMS(__VA_ARGS__)), DIMS(__VA_ARGS__), 0, 0)

/* A node (as if from the file) with one output value `out`; returns the output. */
static IrValue *add_node(IrGraph *g, IrNode **np, IrOp op, const char *out, int n_in,
                         IrValue *const *ins) {
  IrNode *n = ir_node_new(g, op, NULL, n_in, 1);
  n->src_index = n->id;
  for (int k = 0; k < n_in; k++) n->inputs[k] = ins[k];
  IrValue *v = ir_value_new(g, out, IR_VALUE_NODE, IR_F32, 0, NULL);
  ir_node_set_output(n, 0, v);
  if (np) *np = n;
  return v;
}
#define NODE(g, np, op, out, ...) add_node(g, np, op, out, NINS(__VA_ARGS__), INS(__VA_ARGS__))
#define INTS(g, n, name, ...) ir_set_attr_ints(g, n, name, DIMS(__VA_ARGS__), NDIMS(__VA_ARGS__))

/* Trivial memory plan: every intermediate value, and every node's scratch, in its own slot. */
static void plan_separate(IrGraph *g) {
  int64_t off = 0;
  for (int i = 0; i < g->n_values; i++) {
    IrValue *v = g->values[i];
    v->ws_offset = -1;
    if (v->kind == IR_VALUE_NODE && !v->is_output) {
      v->ws_offset = off;
      off += (ir_value_nbytes(v) + 63) / 64 * 64;
    }
  }
  for (int s = 0; s < g->n_nodes; s++) {
    IrNode *n = g->nodes[s];
    n->scratch_offset = n->scratch_bytes > 0 ? off : -1;
    off += (n->scratch_bytes + 63) / 64 * 64;
  }
  g->workspace_size = off;
  g->workspace_align = 64;
}

static bool fuse_epilogues; /* prepare() runs the fusion pass (test_fused_epilogues) */

/* Sort, infer, verify, plan. */
static bool prepare(IrGraph *g, bool real_planner) {
  IrDiag d;
  ir_diag_init(&d, "test", false);
  bool ok = ir_graph_sort(g, &d) && ir_graph_infer_shapes(g, &d) && ir_graph_verify(g, &d);
  if (ok && fuse_epilogues) { /* element-wise chains become the heads' epilogues */
    PassOptions po = {.opt_level = 2};
    pass_fuse(g, &po, &d);
    ok = ir_graph_verify(g, &d);
  }
  if (ok) pass_choose_kernels(g, NULL, &d); /* tiled kernels where they apply */
  if (ok && real_planner) {
    PassOptions po = {.opt_level = 3, .workspace_align = 64};
    pass_memplan(g, &po, &d);
  } else if (ok) {
    plan_separate(g);
  }
  if (!ok) fprintf(stderr, "graph '%s': unexpected errors:\n%s", g->name, d.text ? d.text : "");
  ir_diag_free(&d);
  return ok;
}

/* ---- compile, link, load ------------------------------------------------------------------ */

typedef struct {
  void *lib;
  const krt_model *m;
  char prefix[64];
} Lib;

static int serial;

static bool compile_to(const IrGraph *g, const CgOptions *o, const char *path, IrDiag *d) {
  return cg_compile(g, o, path, d);
}

/* Compiles g at `level` into a fresh shared library and loads it. */
static bool load_model(const IrGraph *g, int level, Lib *l) {
  snprintf(l->prefix, sizeof l->prefix, "m%d", serial++);
  char obj[512], so[512], cmd[1200];
  snprintf(obj, sizeof obj, "%s/%s.o", tmpdir, l->prefix);
  snprintf(so, sizeof so, "%s/%s.so", tmpdir, l->prefix);
  CgOptions o = {.prefix = l->prefix, .opt_level = level, .emit = CG_EMIT_OBJ, .pic = true};
  IrDiag d;
  ir_diag_init(&d, "test", false);
  bool ok = compile_to(g, &o, obj, &d);
  if (!ok) fprintf(stderr, "cg_compile(%s): %s", g->name, d.text ? d.text : "");
  ir_diag_free(&d);
  CHECK(ok, "%s: cg_compile failed", g->name);
  if (!ok) return false;
  snprintf(cmd, sizeof cmd, "%s -shared -o '%s' '%s'", cc, so, obj);
  ok = system(cmd) == 0;
  CHECK(ok, "%s: linking failed", g->name);
  remove(obj);
  if (!ok) return false;
  l->lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  remove(so);
  CHECK(l->lib != NULL, "%s: dlopen: %s", g->name, dlerror());
  if (!l->lib) return false;
  char sym[128];
  snprintf(sym, sizeof sym, "%s_model", l->prefix);
  l->m = dlsym(l->lib, sym);
  CHECK(l->m != NULL, "%s: no %s", g->name, sym);
  return l->m != NULL;
}

static void *sym(Lib *l, const char *suffix) {
  char name[128];
  snprintf(name, sizeof name, "%s%s", l->prefix, suffix);
  return dlsym(l->lib, name);
}

static void *ws_alloc(size_t size) {
  void *p = aligned_alloc(64, (size + 64) / 64 * 64);
  memset(p, 0xA5, (size + 64) / 64 * 64); /* garbage: code must not read before writing */
  return p;
}

typedef struct {
  float lo, hi; /* input range */
  double rtol, atol;
} Tol;
static const Tol DEFAULT_TOL = {-1, 1, 1e-5, 1e-6};

static float **alloc_tensors(IrValue *const *vals, int n) {
  float **t = calloc((size_t)n + 1, sizeof *t);
  for (int k = 0; k < n; k++) t[k] = calloc((size_t)ir_value_nbytes(vals[k]) + 4, 1);
  return t;
}
static void free_tensors(float **t, int n) {
  for (int k = 0; k < n; k++) free(t[k]);
  free(t);
}

/* Runs g on random inputs through the interpreter and the compiled code at -O0 and -O3. If
 * `want` is given (first output), the interpreter's result is checked against it too. */
static void check_graph_tol(IrGraph *g, Tol tol, const float *want) {
  float **in = alloc_tensors(g->inputs, g->n_inputs);
  for (int i = 0; i < g->n_inputs; i++)
    for (int64_t e = 0; e < ir_value_numel(g->inputs[i]); e++) in[i][e] = frand(tol.lo, tol.hi);
  float **ref = alloc_tensors(g->outputs, g->n_outputs);
  int rc = ir_interp_run(g, (const void *const *)in, (void *const *)ref);
  CHECK(rc == KRT_OK, "%s: interpreter returned %d", g->name, rc);
  if (want) {
    char what[300];
    snprintf(what, sizeof what, "%s (interpreter vs hand-computed)", g->name);
    CHECK(test_close_f32(ref[0], want, ir_value_numel(g->outputs[0]), 1e-6, 1e-6, what), "%s",
          what);
  }
  for (int level = 0; level <= 3; level += 3) {
    Lib l;
    if (!load_model(g, level, &l)) continue;
    float **out = alloc_tensors(g->outputs, g->n_outputs);
    void *ws = ws_alloc((size_t)l.m->workspace_size);
    rc = l.m->run((const void *const *)in, (void *const *)out, ws);
    CHECK(rc == KRT_OK, "%s -O%d: run returned %d", g->name, level, rc);
    for (int j = 0; j < g->n_outputs; j++) {
      char what[300];
      snprintf(what, sizeof what, "%s -O%d output %d", g->name, level, j);
      long n = (long)ir_value_numel(g->outputs[j]);
      if (g->outputs[j]->dtype == IR_F32)
        CHECK(test_close_f32(out[j], ref[j], n, tol.rtol, tol.atol, what), "%s", what);
      else
        CHECK(memcmp(out[j], ref[j], (size_t)ir_value_nbytes(g->outputs[j])) == 0, "%s", what);
      if (want && j == 0)
        CHECK(test_close_f32(out[0], want, n, 1e-5, 1e-6, what), "%s vs hand", what);
    }
    free(ws);
    free_tensors(out, g->n_outputs);
    dlclose(l.lib);
  }
  free_tensors(ref, g->n_outputs);
  free_tensors(in, g->n_inputs);
}

/* Finishes a one-output graph (output `out`) and checks it; frees g. */
static void finish_tol(IrGraph *g, IrValue *out, Tol tol, const float *want) {
  if (out) ir_graph_add_output(g, out);
  bool ok = prepare(g, false);
  CHECK(ok, "%s: graph preparation failed", g->name);
  if (ok && fuse_epilogues)
    CHECK(g->n_nodes == 1 && g->nodes[0]->n_epilogue > 0 &&
              g->nodes[0]->kernel != IR_KERNEL_DEFAULT,
          "%s: one tiled node with a fused epilogue (%d nodes)", g->name, g->n_nodes);
  if (ok) check_graph_tol(g, tol, want);
  /* and every other kernel that can compute the nodes the pass gave a tiled kernel: both
   * convolution forms where they apply, and the plain loop nests */
  static const IrKernel alternatives[] = {IR_KERNEL_CONV_GEMM,     IR_KERNEL_CONV_WIDE,
                                          IR_KERNEL_CONV_WINOGRAD, IR_KERNEL_CONVT_SUBPIXEL,
                                          IR_KERNEL_CONVT_GEMM,    IR_KERNEL_DEFAULT};
  for (size_t a = 0; ok && a < sizeof alternatives / sizeof *alternatives; a++) {
    bool changed = false;
    for (int s = 0; s < g->n_nodes; s++) {
      IrNode *n = g->nodes[s];
      IrConvParams p;
      if (n->kernel == IR_KERNEL_DEFAULT || n->kernel == alternatives[a]) continue;
      if (alternatives[a] == IR_KERNEL_DEFAULT) {
        n->kernel = IR_KERNEL_DEFAULT;
        n->scratch_bytes = 0;
        changed = true;
      } else if (n->op == IR_OP_CONV_TRANSPOSE) {
        /* both ConvTranspose forms wherever they apply */
        IrConvSubpixel sp;
        if (!ir_conv_params(n, &p, NULL) || p.group != 1) continue;
        if (alternatives[a] == IR_KERNEL_CONVT_SUBPIXEL &&
            ir_conv_subpixel(&p, IR_TILE_COLS_MAX, &sp)) {
          n->kernel = IR_KERNEL_CONVT_SUBPIXEL;
          n->scratch_bytes = sp.scratch_bytes;
          changed = true;
        } else if (alternatives[a] == IR_KERNEL_CONVT_GEMM) {
          n->kernel = IR_KERNEL_CONVT_GEMM;
          n->scratch_bytes = p.m * p.kh * p.kw * p.h * p.w * (int64_t)sizeof(float);
          changed = true;
        }
      } else if (alternatives[a] == IR_KERNEL_CONV_WINOGRAD) {
        if (n->op != IR_OP_CONV || !ir_conv_params(n, &p, NULL) || !ir_conv_winograd_applies(&p))
          continue;
        /* a small budget: several blocks of tile rows and a shorter last one where the
         * output has more than a few tile rows */
        IrConvWinograd w;
        ir_conv_winograd(&p, IR_TILE_COLS_MAX, 0, &w);
        /* ...or, with an even channel count of 16+, no budget at all: one tile row per block and
         * the products in blocks of output channels (what a microcontroller gets) */
        if (!(p.m >= 16 && p.m % 2 == 0))
          ir_conv_winograd(&p, IR_TILE_COLS_MAX, w.scratch_bytes + 2 * 16 * (p.c + p.m) * w.tw * 4,
                           &w);
        n->kernel = IR_KERNEL_CONV_WINOGRAD;
        n->tile_cols_max = IR_TILE_COLS_MAX;
        n->scratch_bytes = w.scratch_bytes;
        changed = true;
      } else if (n->op == IR_OP_CONV && n->kernel != IR_KERNEL_CONV_1X1 &&
                 ir_conv_params(n, &p, NULL)) {
        IrConvWide w;
        ir_conv_wide(&p, IR_TILE_COLS_MAX, &w);
        bool wide = alternatives[a] == IR_KERNEL_CONV_WIDE;
        n->kernel = alternatives[a];
        n->tile_cols_max = IR_TILE_COLS_MAX;
        n->scratch_bytes =
            wide ? w.scratch_bytes : ir_conv_panel_scratch_bytes(&p, 4096, IR_TILE_COLS_MAX);
        changed = true;
      }
    }
    if (changed) {
      plan_separate(g);
      check_graph_tol(g, tol, want);
    }
  }
  ir_graph_free(g);
}
static void finish(IrGraph *g, IrValue *out) { finish_tol(g, out, DEFAULT_TOL, NULL); }

/* Reductions accumulate in float here and in double in the interpreter. Each of the K adds
 * rounds at 2^-24 of the running sum, and a sum of K products of uniform [-1, 1] values wanders
 * to ~0.33 sqrt(K): the error is a random walk of K steps of that size, ~2e-8 K, which 3 sigma and
 * the old sqrt(K) term bound. A 144-term Conv output near zero differed by 4.1e-6 with only the
 * sqrt(K) term (2.4e-6 + 1e-6) once the random inputs changed; this bound is 1.2e-5 there, still
 * far below the outputs' size (~4). */
static Tol sum_tol(int64_t terms) {
  Tol t = DEFAULT_TOL;
  t.atol = 6e-8 * (double)terms + 2e-7 * sqrt((double)terms) + 1e-6;
  return t;
}

/* ---- op tests ------------------------------------------------------------------------------ */

static void test_unary(void) {
  static const IrOp ops[] = {IR_OP_RELU, IR_OP_LEAKY_RELU, IR_OP_SIGMOID, IR_OP_TANH};
  for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
    char name[64];
    snprintf(name, sizeof name, "unary_%s", ir_op_info[ops[k]].name);
    IrGraph *g = ir_graph_new(name);
    IrNode *n;
    IrValue *y = NODE(g, &n, ops[k], "y", IN(g, "x", 2, 3, 5, 7));
    if (ops[k] == IR_OP_LEAKY_RELU) ir_set_attr_f(g, n, "alpha", 0.2);
    Tol t = DEFAULT_TOL;
    t.lo = -12, t.hi = 12;
    finish_tol(g, y, t, NULL);
  }
  /* hand-computed */
  {
    IrGraph *g = ir_graph_new("relu_hand");
    static const float xs[] = {-2, -0.5f, 0, 0.5f, 3};
    IrValue *y = NODE(g, NULL, IR_OP_RELU, "y", CF32(g, "x", xs, 5));
    ir_graph_add_output(g, y);
    IrValue *x = ir_graph_find_value(g, "x");
    (void)x;
    static const float want[] = {0, 0, 0, 0.5f, 3};
    /* constant input, no graph inputs: the output is computed from the initializer */
    finish_tol(g, NULL, DEFAULT_TOL, want);
  }
  /* Clip: both bounds, one bound, none (shape inference admits only initializers as bounds) */
  for (int mode = 0; mode < 3; mode++) {
    IrGraph *g = ir_graph_new("clip");
    static const float lo = -0.25f, hi = 0.5f;
    IrValue *x = IN(g, "x", 4, 9);
    IrValue *y;
    if (mode == 0)
      y = NODE(g, NULL, IR_OP_CLIP, "y", x, CF32(g, "lo", &lo), CF32(g, "hi", &hi));
    else if (mode == 1)
      y = NODE(g, NULL, IR_OP_CLIP, "y", x, NULL, CF32(g, "hi", &hi));
    else
      y = NODE(g, NULL, IR_OP_CLIP, "y", x);
    finish(g, y);
  }
}

static void test_binary(void) {
  static const IrOp ops[] = {IR_OP_ADD, IR_OP_SUB, IR_OP_MUL, IR_OP_DIV};
  struct {
    int ra, rb;
    int64_t a[4], b[4];
  } shapes[] = {
      {4, 4, {2, 3, 4, 5}, {2, 3, 4, 5}},
      {4, 1, {2, 3, 4, 5}, {5}},
      {4, 3, {2, 3, 4, 5}, {3, 1, 1}},
      {2, 2, {4, 1}, {1, 5}},
      {0, 2, {0}, {2, 3}},
      {4, 4, {1, 3, 1, 5}, {2, 1, 4, 1}},
      {3, 2, {7, 1, 9}, {7, 1}},
      {1, 4, {1}, {2, 1, 3, 1}},
  };
  for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
      char name[64];
      snprintf(name, sizeof name, "%s_%zu", ir_op_info[ops[k]].name, s);
      IrGraph *g = ir_graph_new(name);
      IrValue *a = add_input(g, "a", shapes[s].ra, shapes[s].a);
      IrValue *b = add_input(g, "b", shapes[s].rb, shapes[s].b);
      Tol t = DEFAULT_TOL;
      t.lo = 0.5f, t.hi = 2.0f; /* keep Div away from 0 */
      finish_tol(g, NODE(g, NULL, ops[k], "y", a, b), t, NULL);
    }
  /* a constant operand and a repeated operand */
  IrGraph *g = ir_graph_new("add_const_row");
  IrValue *x = IN(g, "x", 3, 8);
  IrValue *y = NODE(g, NULL, IR_OP_ADD, "y", x, W(g, "bias", 8));
  finish(g, NODE(g, NULL, IR_OP_MUL, "z", y, y));
  /* hand-computed broadcast */
  g = ir_graph_new("sub_hand");
  static const float a[] = {1, 2, 3, 4, 5, 6}, b[] = {10, 20, 30};
  y = NODE(g, NULL, IR_OP_SUB, "y", CF32(g, "a", a, 2, 3), CF32(g, "b", b, 3));
  static const float want[] = {-9, -18, -27, -6, -15, -24};
  finish_tol(g, y, DEFAULT_TOL, want);
}

static void gemm_case(const char *name, int64_t M, int64_t K, int64_t N, bool ta, bool tb,
                      bool const_b, int c_rank, const int64_t *c_dims, double alpha, double beta) {
  IrGraph *g = ir_graph_new(name);
  IrValue *a = ta ? IN(g, "a", K, M) : IN(g, "a", M, K);
  IrValue *b;
  if (const_b)
    b = tb ? W(g, "b", N, K) : W(g, "b", K, N);
  else
    b = tb ? IN(g, "b", N, K) : IN(g, "b", K, N);
  IrNode *n;
  IrValue *y;
  if (c_rank >= 0) {
    IrValue *cv = add_const(g, "c", IR_F32, c_rank, c_dims, NULL, -1, 1);
    y = NODE(g, &n, IR_OP_GEMM, "y", a, b, cv);
  } else {
    y = NODE(g, &n, IR_OP_GEMM, "y", a, b);
  }
  if (ta) ir_set_attr_i(g, n, "transA", 1);
  if (tb) ir_set_attr_i(g, n, "transB", 1);
  if (alpha != 1.0) ir_set_attr_f(g, n, "alpha", alpha);
  if (beta != 1.0) ir_set_attr_f(g, n, "beta", beta);
  finish_tol(g, y, sum_tol(K), NULL);
}

static void test_gemm(void) {
  gemm_case("gemm_basic", 3, 5, 4, false, false, false, -1, NULL, 1, 1);
  gemm_case("gemm_linear", 2, 37, 19, false, true, true, 1, DIMS(19), 1, 1);
  gemm_case("gemm_linear_big", 1, 784, 128, false, true, true, 1, DIMS(128), 1, 1);
  gemm_case("gemm_transB_runtime", 3, 33, 7, false, true, false, 2, DIMS(3, 7), 1, 1);
  gemm_case("gemm_transA", 4, 6, 5, true, false, true, 2, DIMS(4, 1), 0.5, 2.0);
  gemm_case("gemm_transAB", 4, 9, 5, true, true, false, 0, NULL, 1.5, -1.0);
  gemm_case("gemm_k1", 3, 1, 6, false, false, true, 2, DIMS(1, 6), 1, 1);
  gemm_case("gemm_k7", 5, 7, 3, false, false, false, -1, NULL, 2.0, 1);
  gemm_case("gemm_n1", 4, 10, 1, false, true, true, 1, DIMS(1), 1, 0);
  gemm_case("gemm_beta0", 2, 8, 3, false, false, true, 2, DIMS(2, 3), 1, 0);
  /* tiled kernel: sizes that are not multiples of any tile, each bias/epilogue path */
  gemm_case("gemm_tiles_colbias", 13, 70, 53, false, true, true, 1, DIMS(53), 1, 1);
  gemm_case("gemm_tiles_runtime_b", 9, 20, 37, false, false, false, 2, DIMS(9, 1), 1, 1);
  gemm_case("gemm_tiles_alpha", 40, 33, 100, false, true, true, 2, DIMS(1, 100), 0.5, 1);
  gemm_case("gemm_tiles_transA", 17, 5, 31, true, false, true, 0, NULL, 1, 1);
  /* hand-computed: [[1,2],[3,4]] x [[5,6],[7,8]] + [1, -1] */
  IrGraph *g = ir_graph_new("gemm_hand");
  static const float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8}, c[] = {1, -1};
  IrValue *y = NODE(g, NULL, IR_OP_GEMM, "y", CF32(g, "a", a, 2, 2), CF32(g, "b", b, 2, 2),
                    CF32(g, "c", c, 2));
  static const float want[] = {20, 21, 44, 49};
  finish_tol(g, y, DEFAULT_TOL, want);
}

static void matmul_case(const char *name, int ra, const int64_t *da, int rb, const int64_t *db,
                        bool const_b, int64_t k) {
  IrGraph *g = ir_graph_new(name);
  IrValue *a = add_input(g, "a", ra, da);
  IrValue *b = const_b ? add_const(g, "b", IR_F32, rb, db, NULL, -1, 1) : add_input(g, "b", rb, db);
  finish_tol(g, NODE(g, NULL, IR_OP_MATMUL, "y", a, b), sum_tol(k), NULL);
}

static void test_matmul(void) {
  matmul_case("matmul_2d", 2, DIMS(5, 6), 2, DIMS(6, 7), false, 6);
  matmul_case("matmul_const_b", 2, DIMS(3, 64), 2, DIMS(64, 10), true, 64);
  matmul_case("matmul_1d_a", 1, DIMS(6), 2, DIMS(6, 4), false, 6);
  matmul_case("matmul_1d_b", 3, DIMS(2, 3, 6), 1, DIMS(6), false, 6);
  matmul_case("matmul_1d_both", 1, DIMS(9), 1, DIMS(9), false, 9);
  matmul_case("matmul_batch_bcast", 4, DIMS(2, 1, 3, 4), 3, DIMS(3, 4, 5), false, 4);
  matmul_case("matmul_batch_same", 3, DIMS(4, 2, 3), 3, DIMS(4, 3, 2), false, 3);
  matmul_case("matmul_batch_a_only", 3, DIMS(3, 5, 8), 2, DIMS(8, 2), true, 8);
  matmul_case("matmul_tiles_const_b", 4, DIMS(2, 3, 17, 19), 2, DIMS(19, 45), true, 19);
  matmul_case("matmul_tiles_runtime_b", 3, DIMS(2, 17, 19), 3, DIMS(2, 19, 33), false, 19);
  matmul_case("matmul_tiles_bcast_b", 3, DIMS(3, 6, 40), 3, DIMS(1, 40, 70), false, 40);
}

typedef struct {
  const char *name;
  int64_t n, c, h, w, m, kh, kw;
  int64_t group, sh, sw, dh, dw, pads[4];
  bool bias;
  const char *auto_pad;
  int64_t out_pad[2];
} ConvCase;

static IrGraph *conv_graph(const ConvCase *k, bool transpose, IrValue **y) {
  IrGraph *g = ir_graph_new(k->name);
  IrValue *x = IN(g, "x", k->n, k->c, k->h, k->w);
  IrValue *w = transpose ? W(g, "w", k->c, k->m / k->group, k->kh, k->kw)
                         : W(g, "w", k->m, k->c / k->group, k->kh, k->kw);
  IrNode *n;
  IrOp op = transpose ? IR_OP_CONV_TRANSPOSE : IR_OP_CONV;
  *y = k->bias ? NODE(g, &n, op, "y", x, w, W(g, "b", k->m)) : NODE(g, &n, op, "y", x, w);
  if (k->group != 1) ir_set_attr_i(g, n, "group", k->group);
  INTS(g, n, "strides", k->sh, k->sw);
  INTS(g, n, "dilations", k->dh, k->dw);
  if (k->auto_pad)
    ir_set_attr_s(g, n, "auto_pad", k->auto_pad);
  else
    ir_set_attr_ints(g, n, "pads", k->pads, 4);
  if (transpose && (k->out_pad[0] || k->out_pad[1]))
    INTS(g, n, "output_padding", k->out_pad[0], k->out_pad[1]);
  return g;
}

static void test_conv(void) {
  static const ConvCase cases[] = {
      {"conv_3x3_pad1", 1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, NULL, {0}},
      {"conv_1x1", 2, 8, 5, 7, 6, 1, 1, 1, 1, 1, 1, 1, {0}, true, NULL, {0}},
      {"conv_1x1_stride2", 1, 4, 7, 9, 3, 1, 1, 1, 2, 2, 1, 1, {0}, false, NULL, {0}},
      {"conv_stride_gt_kernel", 1, 2, 11, 10, 3, 2, 2, 1, 3, 3, 1, 1, {0}, true, NULL, {0}},
      {"conv_pads_gt_1", 1, 2, 6, 5, 2, 3, 3, 1, 1, 1, 1, 1, {3, 2, 3, 2}, true, NULL, {0}},
      {"conv_asym_pads", 2, 3, 7, 9, 4, 3, 3, 1, 2, 1, 1, 1, {0, 2, 1, 0}, true, NULL, {0}},
      {"conv_odd_rect", 1, 3, 9, 7, 5, 3, 1, 1, 1, 2, 1, 1, {1, 0, 1, 0}, true, NULL, {0}},
      {"conv_rect_1x5", 1, 2, 6, 12, 3, 1, 5, 1, 1, 1, 1, 1, {0, 2, 0, 2}, false, NULL, {0}},
      {"conv_groups2", 2, 4, 6, 6, 6, 3, 3, 2, 1, 1, 1, 1, {1, 1, 1, 1}, true, NULL, {0}},
      {"conv_depthwise", 1, 6, 8, 8, 6, 3, 3, 6, 1, 1, 1, 1, {1, 1, 1, 1}, true, NULL, {0}},
      {"conv_depthwise_x2_s2", 1, 4, 9, 9, 8, 3, 3, 4, 2, 2, 1, 1, {1, 1, 1, 1}, true, NULL, {0}},
      {"conv_dilation2", 1, 3, 10, 11, 4, 3, 3, 1, 1, 1, 2, 2, {2, 2, 2, 2}, true, NULL, {0}},
      {"conv_dilation_stride", 2, 2, 13, 12, 3, 3, 2, 1, 2, 3, 2, 3, {1, 0, 2, 1}, true, NULL, {0}},
      {"conv_same_upper", 1, 3, 7, 8, 2, 4, 3, 1, 2, 2, 1, 1, {0}, true, "SAME_UPPER", {0}},
      {"conv_same_lower", 1, 3, 7, 8, 2, 4, 4, 1, 1, 1, 1, 1, {0}, true, "SAME_LOWER", {0}},
      {"conv_kernel_eq_input", 1, 3, 5, 5, 4, 5, 5, 1, 1, 1, 1, 1, {0}, true, NULL, {0}},
      {"conv_lenet_like", 1, 1, 28, 28, 6, 5, 5, 1, 1, 1, 1, 1, {2, 2, 2, 2}, true, NULL, {0}},
      /* tiled kernel: several im2col panels and a short last one, rows not a multiple of MR */
      {"conv_panels_tail", 1, 16, 41, 41, 37, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, NULL, {0}},
      {"conv_groups_stride2", 2, 6, 13, 11, 14, 3, 3, 2, 2, 2, 1, 1, {1, 0, 2, 1}, true, NULL, {0}},
      {"conv_1x1_tiles", 1, 20, 13, 11, 21, 1, 1, 1, 1, 1, 1, 1, {0}, true, NULL, {0}},
      {"conv_1x1_groups", 2, 8, 5, 5, 12, 1, 1, 4, 1, 1, 1, 1, {0}, false, NULL, {0}},
      /* Winograd F(2x2, 3x3) (an alternative wherever 3x3 stride 1 applies, with blocks of tile
       * rows or of output channels): an odd output width, asymmetric pads, batch 2, channels
       * not multiples of the tile (odd heights: conv_panels_tail, conv_pads_gt_1) */
      {"conv_wino_odd", 2, 5, 9, 8, 7, 3, 3, 1, 1, 1, 1, 1, {1, 0, 0, 1}, true, NULL, {0}},
      {"conv_wino_blocks", 1, 33, 14, 17, 35, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, NULL, {0}},
      {"conv_wino_mblocks", 2, 9, 10, 11, 48, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, NULL, {0}},
      /* the host's choice, Winograd with 16 tiles of 32 channels: V and M planes of 512 floats,
       * padded by a line (winograd_plane_stride) */
      {"conv_wino_planes", 1, 32, 8, 8, 32, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, NULL, {0}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    IrValue *y;
    IrGraph *g = conv_graph(&cases[i], false, &y);
    finish_tol(g, y, sum_tol(cases[i].c / cases[i].group * cases[i].kh * cases[i].kw), NULL);
  }
  /* hand-computed: 3x3 input 1..9, 2x2 kernel of ones, pad 1 on top/left only, stride 2 */
  IrGraph *g = ir_graph_new("conv_hand");
  static const float x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[] = {1, 1, 1, 1}, b[] = {0.5f};
  IrNode *n;
  IrValue *y = NODE(g, &n, IR_OP_CONV, "y", CF32(g, "x", x, 1, 1, 3, 3),
                    CF32(g, "w", w, 1, 1, 2, 2), CF32(g, "b", b, 1));
  INTS(g, n, "pads", 1, 1, 0, 0);
  INTS(g, n, "strides", 2, 2);
  /* windows start at (-1,-1), (-1,1), (1,-1), (1,1) */
  static const float want[] = {1.5f, 5.5f, 11.5f, 28.5f};
  finish_tol(g, y, DEFAULT_TOL, want);
}

static void test_conv_transpose(void) {
  static const ConvCase cases[] = {
      {"convT_basic", 1, 3, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, {0}, true, NULL, {0}},
      {"convT_stride2", 1, 2, 5, 4, 3, 3, 3, 1, 2, 2, 1, 1, {1, 1, 1, 1}, true, NULL, {0}},
      {"convT_outpad", 2, 2, 4, 5, 2, 3, 3, 1, 2, 2, 1, 1, {1, 1, 1, 1}, true, NULL, {1, 1}},
      {"convT_stride_gt_kernel", 1, 2, 3, 4, 2, 2, 2, 1, 3, 3, 1, 1, {0}, false, NULL, {2, 1}},
      {"convT_asym_pads", 1, 3, 5, 5, 2, 4, 4, 1, 2, 2, 1, 1, {0, 1, 2, 3}, true, NULL, {0}},
      {"convT_groups", 1, 4, 3, 3, 6, 3, 3, 2, 2, 1, 1, 1, {1, 0, 0, 1}, true, NULL, {1, 0}},
      {"convT_depthwise", 1, 3, 4, 4, 3, 2, 2, 3, 2, 2, 1, 1, {0}, true, NULL, {0}},
      {"convT_dilation", 1, 2, 4, 3, 2, 3, 2, 1, 1, 2, 2, 2, {1, 1, 0, 0}, true, NULL, {0}},
      {"convT_same_upper", 1, 2, 4, 5, 3, 3, 3, 1, 2, 2, 1, 1, {0}, true, "SAME_UPPER", {0}},
      /* sub-pixel form: a DCGAN layer (4x4, stride 2, pad 1) wide enough for whole vectors in
       * the interleaving store, and with an odd output width; stride 3 (scalar strided
       * stores), stride 1 (one phase), a kernel not a multiple of the stride, pads larger
       * than the kernel reach, batch 2 */
      {"convT_sub_dcgan", 2, 5, 17, 20, 19, 4, 4, 1, 2, 2, 1, 1, {1, 1, 1, 1}, true, NULL, {0}},
      {"convT_sub_oddw", 1, 3, 6, 9, 4, 4, 4, 1, 2, 2, 1, 1, {1, 2, 1, 1}, true, NULL, {1, 0}},
      {"convT_sub_s3", 1, 4, 5, 6, 3, 5, 4, 1, 3, 3, 1, 1, {2, 1, 0, 2}, false, NULL, {1, 2}},
      {"convT_sub_s1", 1, 6, 7, 5, 9, 3, 2, 1, 1, 1, 1, 1, {1, 0, 0, 1}, true, NULL, {0}},
      {"convT_sub_pads", 1, 2, 5, 5, 3, 3, 3, 1, 2, 2, 1, 1, {3, 4, 2, 3}, true, NULL, {0}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    IrValue *y;
    IrGraph *g = conv_graph(&cases[i], true, &y);
    finish_tol(g, y, sum_tol(cases[i].c * cases[i].kh * cases[i].kw), NULL);
  }
  /* output_shape given */
  ConvCase k = {"convT_output_shape", 1, 2, 3, 3, 2, 3, 3, 1, 2, 2, 1, 1, {0}, true, NULL, {0}};
  IrValue *y;
  IrGraph *g = conv_graph(&k, true, &y);
  INTS(g, y->producer, "output_shape", 6, 7);
  finish_tol(g, y, sum_tol(18), NULL);
  /* hand-computed: x = [[1, 2]], kernel [1, 10] (1x2), stride 3: y = [1, 10, 0, 2, 20] */
  g = ir_graph_new("convT_hand");
  static const float x[] = {1, 2}, w[] = {1, 10};
  IrNode *n;
  y = NODE(g, &n, IR_OP_CONV_TRANSPOSE, "y", CF32(g, "x", x, 1, 1, 1, 2),
           CF32(g, "w", w, 1, 1, 1, 2));
  INTS(g, n, "strides", 1, 3);
  static const float want[] = {1, 10, 0, 2, 20};
  finish_tol(g, y, DEFAULT_TOL, want);
}

typedef struct {
  const char *name;
  IrOp op;
  int64_t n, c, h, w, kh, kw, sh, sw, dh, dw, pads[4];
  int ceil, include;
} PoolCase;

static void test_pools(void) {
  static const PoolCase cases[] = {
      {"maxpool_2x2_s2", IR_OP_MAX_POOL, 1, 3, 8, 8, 2, 2, 2, 2, 1, 1, {0}, 0, 0},
      {"maxpool_3x3_pad1", IR_OP_MAX_POOL, 2, 2, 7, 7, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 0, 0},
      {"maxpool_ceil", IR_OP_MAX_POOL, 1, 2, 7, 9, 2, 2, 2, 2, 1, 1, {0}, 1, 0},
      {"maxpool_ceil_pads", IR_OP_MAX_POOL, 1, 2, 8, 8, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, 0},
      {"maxpool_dilation", IR_OP_MAX_POOL, 1, 2, 9, 10, 2, 3, 1, 2, 2, 2, {1, 1, 0, 2}, 0, 0},
      {"maxpool_asym", IR_OP_MAX_POOL, 1, 3, 6, 7, 3, 3, 2, 2, 1, 1, {0, 2, 2, 1}, 0, 0},
      {"maxpool_stride_gt_k", IR_OP_MAX_POOL, 1, 2, 11, 11, 2, 2, 3, 3, 1, 1, {0}, 0, 0},
      /* 2x2/2 as deinterleaved vectors: widths not a multiple of the vector (the last block
       * overlaps the one before it), odd input widths, a ceil_mode window */
      {"maxpool_2x2_s2_w28", IR_OP_MAX_POOL, 1, 2, 6, 28, 2, 2, 2, 2, 1, 1, {0}, 0, 0},
      {"maxpool_2x2_s2_w15", IR_OP_MAX_POOL, 1, 2, 5, 15, 2, 2, 2, 2, 1, 1, {0}, 0, 0},
      {"maxpool_2x2_s2_w41c", IR_OP_MAX_POOL, 1, 2, 5, 41, 2, 2, 2, 2, 1, 1, {0}, 1, 0},
      {"avgpool_2x2_s2_w38", IR_OP_AVERAGE_POOL, 1, 2, 6, 38, 2, 2, 2, 2, 1, 1, {0}, 0, 0},
      {"avgpool_2x2_s2", IR_OP_AVERAGE_POOL, 1, 3, 8, 8, 2, 2, 2, 2, 1, 1, {0}, 0, 0},
      {"avgpool_pad1_incl", IR_OP_AVERAGE_POOL, 2, 2, 7, 7, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 0, 1},
      {"avgpool_pad1_excl", IR_OP_AVERAGE_POOL, 2, 2, 7, 7, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 0, 0},
      {"avgpool_ceil_excl", IR_OP_AVERAGE_POOL, 1, 2, 7, 9, 2, 2, 2, 2, 1, 1, {0}, 1, 0},
      {"avgpool_ceil_pads_incl",
       IR_OP_AVERAGE_POOL,
       1,
       2,
       8,
       8,
       3,
       3,
       2,
       2,
       1,
       1,
       {1, 1, 1, 1},
       1,
       1},
      {"avgpool_ceil_nopad_incl", IR_OP_AVERAGE_POOL, 1, 2, 7, 9, 2, 2, 2, 2, 1, 1, {0}, 1, 1},
      {"avgpool_asym_incl", IR_OP_AVERAGE_POOL, 1, 3, 6, 7, 3, 3, 2, 2, 1, 1, {0, 2, 2, 1}, 0, 1},
      {"avgpool_asym_excl", IR_OP_AVERAGE_POOL, 1, 3, 6, 7, 3, 3, 2, 2, 1, 1, {0, 2, 2, 1}, 0, 0},
      {"avgpool_rect", IR_OP_AVERAGE_POOL, 3, 2, 7, 10, 3, 2, 2, 3, 1, 1, {1, 0, 1, 0}, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const PoolCase *k = &cases[i];
    IrGraph *g = ir_graph_new(k->name);
    IrNode *n;
    IrValue *y = NODE(g, &n, k->op, "y", IN(g, "x", k->n, k->c, k->h, k->w));
    INTS(g, n, "kernel_shape", k->kh, k->kw);
    INTS(g, n, "strides", k->sh, k->sw);
    ir_set_attr_ints(g, n, "pads", k->pads, 4);
    if (k->op == IR_OP_MAX_POOL) INTS(g, n, "dilations", k->dh, k->dw);
    if (k->ceil) ir_set_attr_i(g, n, "ceil_mode", 1);
    if (k->include) ir_set_attr_i(g, n, "count_include_pad", 1);
    finish(g, y);
  }
  /* hand-computed AveragePool, 3x3 input 1..9, kernel 2, stride 2, ceil_mode, pads 1 at the
   * start: windows [-1,1)x[-1,1) ... ; count_include_pad=1 counts the pad cells */
  for (int include = 0; include < 2; include++) {
    IrGraph *g = ir_graph_new(include ? "avgpool_hand_incl" : "avgpool_hand_excl");
    static const float x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    IrNode *n;
    IrValue *y = NODE(g, &n, IR_OP_AVERAGE_POOL, "y", CF32(g, "x", x, 1, 1, 3, 3));
    INTS(g, n, "kernel_shape", 2, 2);
    INTS(g, n, "strides", 2, 2);
    INTS(g, n, "pads", 1, 1, 0, 0);
    ir_set_attr_i(g, n, "count_include_pad", include);
    /* windows rows {-1,0} {1,2}; columns likewise: sums 1, 2+3, 4+7, 5+6+8+9 */
    static const float excl[] = {1, 2.5f, 5.5f, 7}, incl[] = {0.25f, 1.25f, 2.75f, 7};
    finish_tol(g, y, DEFAULT_TOL, include ? incl : excl);
  }
  IrGraph *g = ir_graph_new("global_avgpool");
  finish_tol(g, NODE(g, NULL, IR_OP_GLOBAL_AVERAGE_POOL, "y", IN(g, "x", 2, 3, 5, 7)), sum_tol(35),
             NULL);
  g = ir_graph_new("global_avgpool_1x1");
  finish(g, NODE(g, NULL, IR_OP_GLOBAL_AVERAGE_POOL, "y", IN(g, "x", 2, 6, 1, 1)));
}

static void test_softmax(void) {
  static const struct {
    const char *name;
    int rank;
    int64_t dims[4];
    int64_t axis;
    float lo, hi;
  } cases[] = {
      {"softmax_last", 2, {3, 10}, -1, -3, 3},         {"softmax_axis0", 2, {5, 4}, 0, -3, 3},
      {"softmax_4d_axis1", 4, {2, 5, 3, 4}, 1, -3, 3}, {"softmax_3d_mid", 3, {2, 6, 3}, -2, -3, 3},
      {"softmax_large", 2, {2, 10}, 1, -50, 80},       {"softmax_1d", 1, {7}, 0, -5, 5},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    IrGraph *g = ir_graph_new(cases[i].name);
    IrNode *n;
    IrValue *y = NODE(g, &n, IR_OP_SOFTMAX, "y", add_input(g, "x", cases[i].rank, cases[i].dims));
    ir_set_attr_i(g, n, "axis", cases[i].axis);
    Tol t = DEFAULT_TOL;
    t.lo = cases[i].lo, t.hi = cases[i].hi;
    finish_tol(g, y, t, NULL);
  }
  IrGraph *g = ir_graph_new("softmax_hand");
  static const float x[] = {0, 0, 0, 0, (float)M_LN2, 0};
  static const float want[] = {1 / 3.0f, 1 / 3.0f, 1 / 3.0f, 0.25f, 0.5f, 0.25f};
  finish_tol(g, NODE(g, NULL, IR_OP_SOFTMAX, "y", CF32(g, "x", x, 2, 3)), DEFAULT_TOL, want);
}

static void test_data_movement(void) {
  IrGraph *g = ir_graph_new("flatten");
  IrNode *n;
  IrValue *y = NODE(g, &n, IR_OP_FLATTEN, "y", IN(g, "x", 2, 3, 4, 5));
  ir_set_attr_i(g, n, "axis", 2);
  finish(g, NODE(g, NULL, IR_OP_RELU, "z", y)); /* the view goes through the workspace */

  g = ir_graph_new("reshape_output");
  finish(g, NODE(g, NULL, IR_OP_RESHAPE, "y", IN(g, "x", 2, 3, 4), CI64(g, "shape", 4, -1)));

  g = ir_graph_new("identity_chain");
  y = NODE(g, NULL, IR_OP_IDENTITY, "y", IN(g, "x", 3, 3));
  finish(g, NODE(g, NULL, IR_OP_IDENTITY, "z", y));

  /* Dropout with its mask output (bool) */
  g = ir_graph_new("dropout_mask");
  n = ir_node_new(g, IR_OP_DROPOUT, "drop", 1, 2);
  n->inputs[0] = IN(g, "x", 4, 5);
  IrValue *out = ir_value_new(g, "y", IR_VALUE_NODE, IR_F32, 0, NULL);
  IrValue *mask = ir_value_new(g, "mask", IR_VALUE_NODE, IR_BOOL, 0, NULL);
  ir_node_set_output(n, 0, out);
  ir_node_set_output(n, 1, mask);
  ir_graph_add_output(g, out);
  ir_graph_add_output(g, mask);
  finish(g, NULL);

  /* Concat along several axes, with a constant among the inputs */
  static const struct { int64_t axis; } axes[] = {{0}, {1}, {2}, {-1}};
  for (size_t i = 0; i < sizeof axes / sizeof *axes; i++) {
    char name[64];
    snprintf(name, sizeof name, "concat_axis_%lld", (long long)axes[i].axis);
    g = ir_graph_new(name);
    int64_t ax = axes[i].axis < 0 ? axes[i].axis + 3 : axes[i].axis;
    int64_t d1[3] = {2, 3, 4}, d2[3] = {2, 3, 4}, d3[3] = {2, 3, 4};
    d2[ax] = 1;
    d3[ax] = 5;
    IrValue *a = add_input(g, "a", 3, d1), *b = add_input(g, "b", 3, d2);
    IrValue *c = add_const(g, "c", IR_F32, 3, d3, NULL, -1, 1);
    y = NODE(g, &n, IR_OP_CONCAT, "y", a, b, c);
    ir_set_attr_i(g, n, "axis", axes[i].axis);
    finish(g, y);
  }
  g = ir_graph_new("concat_hand");
  static const float a[] = {1, 2, 3, 4}, b[] = {5, 6};
  y = NODE(g, &n, IR_OP_CONCAT, "y", CF32(g, "a", a, 2, 2), CF32(g, "b", b, 2, 1));
  ir_set_attr_i(g, n, "axis", 1);
  static const float want[] = {1, 2, 5, 3, 4, 6};
  finish_tol(g, y, DEFAULT_TOL, want);
}

static void test_batch_norm(void) {
  /* folded at compile time */
  IrGraph *g = ir_graph_new("bn_const");
  IrNode *n;
  IrValue *y = NODE(g, &n, IR_OP_BATCH_NORM, "y", IN(g, "x", 2, 3, 4, 5), W(g, "scale", 3),
                    W(g, "bias", 3), W(g, "mean", 3), WR(g, "var", 0.5f, 2.0f, 3));
  ir_set_attr_f(g, n, "epsilon", 1e-3);
  finish(g, y);
  /* parameters as graph inputs: computed at run time (inputs in [0.5, 2] keep var > 0) */
  g = ir_graph_new("bn_runtime");
  y = NODE(g, NULL, IR_OP_BATCH_NORM, "y", IN(g, "x", 1, 4, 3), IN(g, "scale", 4), IN(g, "bias", 4),
           IN(g, "mean", 4), IN(g, "var", 4));
  Tol t = DEFAULT_TOL;
  t.lo = 0.5f, t.hi = 2.0f;
  finish_tol(g, y, t, NULL);
  g = ir_graph_new("bn_hand");
  static const float x[] = {1, 2, 3, 4}, s[] = {2, 1}, b[] = {1, 0}, m[] = {1, 0}, v[] = {4, 1};
  y = NODE(g, &n, IR_OP_BATCH_NORM, "y", CF32(g, "x", x, 1, 2, 2), CF32(g, "s", s, 2),
           CF32(g, "b", b, 2), CF32(g, "m", m, 2), CF32(g, "v", v, 2));
  ir_set_attr_f(g, n, "epsilon", 0);
  static const float want[] = {1, 2, 3, 4};
  finish_tol(g, y, DEFAULT_TOL, want);
}

/* A small CNN, planned by the real memory planner (buffers reused), and graph outputs of every
 * kind: an intermediate also read later, a graph input, a constant, a value listed twice. */
static void test_models(void) {
  IrGraph *g = ir_graph_new("tiny-cnn");
  IrNode *n;
  IrValue *x = IN(g, "image", 2, 1, 12, 12);
  IrValue *c1 = NODE(g, &n, IR_OP_CONV, "c1", x, W(g, "w1", 4, 1, 3, 3), W(g, "b1", 4));
  INTS(g, n, "pads", 1, 1, 1, 1);
  IrValue *r1 = NODE(g, NULL, IR_OP_RELU, "r1", c1);
  IrValue *p1 = NODE(g, &n, IR_OP_MAX_POOL, "p1", r1);
  INTS(g, n, "kernel_shape", 2, 2);
  INTS(g, n, "strides", 2, 2);
  IrValue *c2 = NODE(g, &n, IR_OP_CONV, "c2", p1, W(g, "w2", 8, 4, 3, 3), W(g, "b2", 8));
  IrValue *bn = NODE(g, NULL, IR_OP_BATCH_NORM, "bn", c2, W(g, "s", 8), W(g, "bb", 8), W(g, "m", 8),
                     WR(g, "v", 0.5f, 2, 8));
  IrValue *t = NODE(g, NULL, IR_OP_TANH, "t", bn);
  IrValue *gp = NODE(g, NULL, IR_OP_GLOBAL_AVERAGE_POOL, "gp", t);
  IrValue *f = NODE(g, &n, IR_OP_FLATTEN, "f", gp);
  IrValue *fc = NODE(g, &n, IR_OP_GEMM, "fc", f, W(g, "wfc", 10, 8), W(g, "bfc", 10));
  ir_set_attr_i(g, n, "transB", 1);
  IrValue *sm = NODE(g, NULL, IR_OP_SOFTMAX, "probs", fc);
  IrValue *k = W(g, "k", 3);
  ir_graph_add_output(g, sm);
  ir_graph_add_output(g, fc); /* also read by softmax */
  ir_graph_add_output(g, x);  /* a graph input */
  ir_graph_add_output(g, k);  /* a constant */
  ir_graph_add_output(g, sm); /* twice */
  bool ok = prepare(g, true);
  CHECK(ok, "tiny-cnn: prepare");
  if (ok) {
    int64_t separate = 0;
    for (int i = 0; i < g->n_values; i++)
      if (g->values[i]->kind == IR_VALUE_NODE && !g->values[i]->is_output)
        separate += (ir_value_nbytes(g->values[i]) + 63) / 64 * 64;
    for (int s = 0; s < g->n_nodes; s++) separate += (g->nodes[s]->scratch_bytes + 63) / 64 * 64;
    CHECK(g->workspace_size < separate, "planner reused memory (%lld of %lld)",
          (long long)g->workspace_size, (long long)separate);
    check_graph_tol(g, sum_tol(36), NULL);
  }
  ir_graph_free(g);
}

/* ---- ABI ------------------------------------------------------------------------------------ */

typedef int (*Run2)(const float *, float *);
typedef int (*RunWs2)(const float *, float *, void *);

static void test_abi(void) {
  IrGraph *g = ir_graph_new("abi model");
  IrValue *x = IN(g, "x", 1, 16);
  IrValue *h = NODE(g, NULL, IR_OP_RELU, "h", x);
  IrValue *y = NODE(g, NULL, IR_OP_SIGMOID, "y", h);
  ir_graph_add_output(g, y);
  if (!prepare(g, false)) {
    CHECK(false, "abi: prepare");
    ir_graph_free(g);
    return;
  }
  Lib l;
  if (load_model(g, 2, &l)) {
    const krt_model *m = l.m;
    CHECK(m->abi_version == KRT_ABI_VERSION, "abi_version %u", m->abi_version);
    CHECK(m->n_inputs == 1 && m->n_outputs == 1, "counts");
    CHECK(m->workspace_align == 64 && m->workspace_size == 64, "workspace %u %llu",
          m->workspace_align, (unsigned long long)m->workspace_size);
    CHECK(strcmp(m->name, "abi model") == 0, "name '%s'", m->name);
    CHECK(strcmp(m->inputs[0].name, "x") == 0 && m->inputs[0].dtype == KRT_F32 &&
              m->inputs[0].rank == 2 && m->inputs[0].dims[0] == 1 && m->inputs[0].dims[1] == 16,
          "input info");
    CHECK(strcmp(m->outputs[0].name, "y") == 0 && m->outputs[0].rank == 2 &&
              m->outputs[0].dims[1] == 16,
          "output info");
    CHECK((void *)m->run == sym(&l, "_run_generic"), "run is _run_generic");
    Run2 run = (Run2)sym(&l, "_run");
    RunWs2 run_ws = (RunWs2)sym(&l, "_run_ws");
    CHECK(run && run_ws, "entry points exported");
    float in[16], o1[16], o2[16];
    for (int i = 0; i < 16; i++) in[i] = frand(-4, 4);
    unsigned char *ws = ws_alloc(256);
    if (run && run_ws) {
      CHECK(run(in, o1) == KRT_OK, "run");
      CHECK(run_ws(in, o2, ws) == KRT_OK, "run_ws");
      CHECK(memcmp(o1, o2, sizeof o1) == 0, "run and run_ws agree");
      CHECK(run_ws(NULL, o2, ws) == KRT_ERR_NULL_ARG, "NULL input");
      CHECK(run_ws(in, NULL, ws) == KRT_ERR_NULL_ARG, "NULL output");
      CHECK(run_ws(in, o2, NULL) == KRT_ERR_NULL_ARG, "NULL workspace");
      CHECK(run(NULL, o1) == KRT_ERR_NULL_ARG, "run: NULL input");
      CHECK(run_ws(in, o2, ws + 4) == KRT_ERR_BAD_ALIGNMENT, "misaligned workspace");
      CHECK(run_ws(in, o2, ws + 32) == KRT_ERR_BAD_ALIGNMENT, "misaligned workspace (32)");
      const void *ins[1] = {in};
      void *outs[1] = {o2}, *null_outs[1] = {NULL};
      CHECK(m->run(NULL, outs, ws) == KRT_ERR_NULL_ARG, "generic: NULL inputs array");
      CHECK(m->run(ins, NULL, ws) == KRT_ERR_NULL_ARG, "generic: NULL outputs array");
      CHECK(m->run(ins, null_outs, ws) == KRT_ERR_NULL_ARG, "generic: NULL output");
      CHECK(m->run(ins, outs, ws + 8) == KRT_ERR_BAD_ALIGNMENT, "generic: misaligned");
      memset(o2, 0, sizeof o2);
      CHECK(m->run(ins, outs, ws) == KRT_OK && memcmp(o1, o2, sizeof o1) == 0, "generic run");
      for (int i = 0; i < 16; i++) {
        float want = in[i] > 0 ? 1.0f / (1.0f + expf(-in[i])) : 0.5f;
        CHECK(fabsf(o1[i] - want) <= 2e-7f, "sigmoid(relu(%g)) = %g, want %g", in[i], o1[i], want);
      }
    }
    free(ws);
    dlclose(l.lib);
  }
  /* workspace_size 0: NULL workspace is fine */
  IrGraph *g0 = ir_graph_new("nows");
  ir_graph_add_output(g0, NODE(g0, NULL, IR_OP_RELU, "y", IN(g0, "x", 4)));
  if (prepare(g0, false) && load_model(g0, 1, &l)) {
    CHECK(l.m->workspace_size == 0, "no workspace");
    float in[4] = {-1, 2, -3, 4}, out[4];
    RunWs2 run_ws = (RunWs2)sym(&l, "_run_ws");
    CHECK(run_ws && run_ws(in, out, NULL) == KRT_OK && out[0] == 0 && out[1] == 2, "NULL ws ok");
    dlclose(l.lib);
  }
  ir_graph_free(g0);
  ir_graph_free(g);
}

/* Two models with different prefixes in one shared library, and the driver hook. */
static void test_two_models(void) {
  IrGraph *ga = ir_graph_new("a"), *gb = ir_graph_new("b");
  ir_graph_add_output(
      ga, NODE(ga, NULL, IR_OP_RELU, "y", NODE(ga, NULL, IR_OP_TANH, "t", IN(ga, "x", 8))));
  ir_graph_add_output(
      gb, NODE(gb, NULL, IR_OP_SIGMOID, "y", NODE(gb, NULL, IR_OP_TANH, "t", IN(gb, "x", 8))));
  if (!prepare(ga, false) || !prepare(gb, false)) {
    CHECK(false, "two models: prepare");
  } else {
    char oa[512], ob[512], so[512], cmd[2000];
    snprintf(oa, sizeof oa, "%s/first.o", tmpdir);
    snprintf(ob, sizeof ob, "%s/second.o", tmpdir);
    snprintf(so, sizeof so, "%s/both.so", tmpdir);
    CgOptions o1 = {.prefix = "first", .opt_level = 3, .pic = true, .driver_hook = true};
    CgOptions o2 = {.prefix = "second", .opt_level = 3, .pic = true};
    IrDiag d;
    ir_diag_init(&d, NULL, true);
    CHECK(cg_compile(ga, &o1, oa, &d) && cg_compile(gb, &o2, ob, &d), "compile both");
    ir_diag_free(&d);
    snprintf(cmd, sizeof cmd, "%s -shared -o '%s' '%s' '%s'", cc, so, oa, ob);
    CHECK(system(cmd) == 0, "link both into one library");
    void *lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    CHECK(lib != NULL, "dlopen both: %s", dlerror());
    if (lib) {
      Run2 ra = (Run2)dlsym(lib, "first_run"), rb = (Run2)dlsym(lib, "second_run");
      const krt_model *ma = dlsym(lib, "first_model");
      const krt_model *const *hook = dlsym(lib, "kiln_driver_model");
      CHECK(ra && rb && ma, "symbols of both");
      CHECK(hook && *hook == ma, "kiln_driver_model points to first_model");
      float x[8], ya[8], yb[8];
      for (int i = 0; i < 8; i++) x[i] = frand(-2, 2);
      if (ra && rb) {
        CHECK(ra(x, ya) == 0 && rb(x, yb) == 0, "run both");
        for (int i = 0; i < 8; i++) {
          float t = tanhf(x[i]);
          CHECK(fabsf(ya[i] - (t > 0 ? t : 0)) < 1e-6f && fabsf(yb[i] - 1 / (1 + expf(-t))) < 1e-6f,
                "both results at %d", i);
        }
      }
      dlclose(lib);
    }
    remove(oa);
    remove(ob);
    remove(so);
  }
  ir_graph_free(ga);
  ir_graph_free(gb);
}

/* ---- emission, targets, errors --------------------------------------------------------------- */

static bool file_contains(const char *path, const char *needle) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  size_t got = fread(s, 1, (size_t)n, f);
  s[got] = 0;
  fclose(f);
  bool found = strstr(s, needle) != NULL;
  free(s);
  return found;
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Count of files in tmpdir whose name contains `part`. */
static int count_files(const char *part) {
  char cmd[700];
  snprintf(cmd, sizeof cmd, "ls '%s' | grep -c -- '%s' > '%s/count.txt'", tmpdir, part, tmpdir);
  if (system(cmd) < 0) return -1;
  char path[600];
  snprintf(path, sizeof path, "%s/count.txt", tmpdir);
  FILE *f = fopen(path, "r");
  int n = -1;
  if (f) {
    if (fscanf(f, "%d", &n) != 1) n = -1;
    fclose(f);
  }
  remove(path);
  return n;
}

static IrGraph *small_graph(void) {
  IrGraph *g = ir_graph_new("small");
  IrNode *n;
  IrValue *x = IN(g, "x", 1, 3, 10, 10);
  IrValue *c = NODE(g, &n, IR_OP_CONV, "c", x, W(g, "w", 8, 3, 3, 3), W(g, "b", 8));
  INTS(g, n, "pads", 1, 1, 1, 1);
  IrValue *mp = NODE(g, &n, IR_OP_MAX_POOL, "mp", c);
  INTS(g, n, "kernel_shape", 3, 3);
  INTS(g, n, "pads", 1, 1, 1, 1);
  IrValue *ap = NODE(g, &n, IR_OP_AVERAGE_POOL, "ap", NODE(g, NULL, IR_OP_TANH, "t", mp));
  INTS(g, n, "kernel_shape", 3, 3);
  INTS(g, n, "pads", 1, 1, 1, 1);
  IrValue *f = NODE(g, &n, IR_OP_FLATTEN, "f", ap);
  IrValue *y = NODE(g, &n, IR_OP_GEMM, "y", f, W(g, "fcw", 16, 800), W(g, "fcb", 16));
  ir_set_attr_i(g, n, "transB", 1);
  ir_graph_add_output(g, NODE(g, NULL, IR_OP_SIGMOID, "s", y));
  ir_graph_add_output(g, NODE(g, NULL, IR_OP_SOFTMAX, "p", y));
  return g;
}

/* Fused epilogues on every tiled kernel, in registers (Relu, LeakyRelu, Clip, residual Add,
 * scalar Mul) and on stored rows (Sigmoid, a broadcast operand), against the interpreter. */
static void test_fused_epilogues(void) {
  fuse_epilogues = true;
  static const ConvCase convs[] = {
      {"fused_conv_im2col", 1, 8, 9, 9, 12, 3, 3, 1, 2, 2, 1, 1, {1, 1, 1, 1}, true, NULL, {0}},
      {"fused_conv_wide", 1, 8, 11, 10, 12, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, NULL, {0}},
      {"fused_conv_1x1", 1, 8, 5, 7, 12, 1, 1, 1, 1, 1, 1, 1, {0}, true, NULL, {0}},
  };
  for (size_t i = 0; i < sizeof convs / sizeof *convs; i++)
    for (int chain = 0; chain < 2; chain++) {
      IrValue *y;
      ConvCase k = convs[i];
      IrGraph *g = conv_graph(&k, false, &y);
      IrNode *n;
      int64_t oh = k.kh == 1 ? k.h : (k.h + k.pads[0] + k.pads[2] - k.kh) / k.sh + 1;
      int64_t ow = k.kw == 1 ? k.w : (k.w + k.pads[1] + k.pads[3] - k.kw) / k.sw + 1;
      if (chain == 0) { /* in registers: Relu, + residual, LeakyRelu, * 0.5, Clip */
        y = NODE(g, NULL, IR_OP_RELU, "e1", y);
        y = NODE(g, NULL, IR_OP_ADD, "e2", y, IN(g, "res", k.n, k.m, oh, ow));
        y = NODE(g, &n, IR_OP_LEAKY_RELU, "e3", y);
        ir_set_attr_f(g, n, "alpha", 0.1);
        static const float half[] = {0.5f}, lo[] = {-0.25f}, hi[] = {0.75f};
        y = NODE(g, NULL, IR_OP_MUL, "e4", y, CF32(g, "half", half, 1));
        y = NODE(g, NULL, IR_OP_CLIP, "e5", y, CF32(g, "lo", lo, 1), CF32(g, "hi", hi, 1));
      } else { /* on stored rows: Sigmoid, then * residual */
        y = NODE(g, NULL, IR_OP_SIGMOID, "e1", y);
        y = NODE(g, NULL, IR_OP_MUL, "e2", y, IN(g, "res", k.n, k.m, oh, ow));
      }
      finish_tol(g, y, sum_tol(k.c * k.kh * k.kw), NULL);
    }
  for (int chain = 0; chain < 2; chain++) { /* Linear (packed B, column bias) and MatMul */
    IrGraph *g = ir_graph_new(chain ? "fused_matmul" : "fused_gemm");
    IrNode *n;
    IrValue *y;
    if (chain == 0) {
      y = NODE(g, &n, IR_OP_GEMM, "g", IN(g, "a", 5, 40), W(g, "b", 37, 40), W(g, "c", 37));
      ir_set_attr_i(g, n, "transB", 1);
      y = NODE(g, NULL, IR_OP_ADD, "e1", y, IN(g, "res", 5, 37));
      y = NODE(g, NULL, IR_OP_RELU, "e2", y);
    } else {
      y = NODE(g, NULL, IR_OP_MATMUL, "g", IN(g, "a", 2, 7, 24), W(g, "b", 24, 33));
      y = NODE(g, NULL, IR_OP_SUB, "e1", IN(g, "res", 2, 7, 33), y);
      y = NODE(g, &n, IR_OP_LEAKY_RELU, "e2", y);
      ir_set_attr_f(g, n, "alpha", 0.3);
    }
    finish_tol(g, y, sum_tol(40), NULL);
  }
  fuse_epilogues = false;
}

/* The 3x3 conv's reduction loop holds a block of vector accumulators: the largest number of
 * loop-carried <lanes x float> PHIs matched by as many vector fma/fmuladd calls in one basic
 * block of the optimized LLVM IR (the register tile), instead of one chain per output row. */
static int vector_tile(const char *path, const char *vty, int *block_fmas) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[4096], phi[64], fma[96], fmuladd[96];
  char suffix[16]; /* "<16 x float>" -> "v16f32" */
  snprintf(suffix, sizeof suffix, "v%df32", atoi(vty + 1));
  snprintf(phi, sizeof phi, "phi %s ", vty);
  snprintf(fma, sizeof fma, "@llvm.fma.%s(", suffix);
  snprintf(fmuladd, sizeof fmuladd, "@llvm.fmuladd.%s(", suffix);
  int best = 0, phis = 0, fmas = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] != ' ' && strchr(line, ':')) phis = fmas = 0; /* a new block */
    if (strstr(line, phi)) phis++;
    if (strstr(line, fma) || strstr(line, fmuladd)) fmas++;
    int tile = phis < fmas ? phis : fmas;
    if (tile > best) best = tile;
    if (tile == best && block_fmas && fmas > *block_fmas) *block_fmas = fmas;
  }
  fclose(f);
  return best;
}

static int max_vector_accumulators(const char *path, const char *vty) {
  return vector_tile(path, vty, NULL);
}

/* A large GEMM on AVX-512: a tile that needs few instructions per FMA (6 x 4 vectors: 24
 * accumulators, 10 loads) and two reduction steps per loop iteration (48 FMAs in the loop's
 * block), so that a hyperthread sibling sharing the core's issue slots leaves the FMA ports
 * busy (docs/kernels.md). */
static void test_microkernel_gemm(void) {
  IrGraph *g = ir_graph_new("gemm_tile");
  IrNode *n;
  IrValue *y = NODE(g, &n, IR_OP_GEMM, "g", IN(g, "a", 256, 256), W(g, "b", 256, 256));
  ir_graph_add_output(g, y);
  if (!prepare(g, true)) {
    CHECK(false, "microkernel gemm: prepare");
    ir_graph_free(g);
    return;
  }
  char path[600];
  snprintf(path, sizeof path, "%s/gemm_tile.ll", tmpdir);
  CgOptions o = {.prefix = "gt", .opt_level = 3, .emit = CG_EMIT_LLVM, .pic = true};
  o.triple = "x86_64-linux-gnu", o.cpu = "generic", o.features = "+avx512f,+avx2,+fma,+avx";
  IrDiag d;
  ir_diag_init(&d, NULL, true);
  CHECK(cg_compile(g, &o, path, &d), "microkernel gemm: compile");
  int fmas = 0, acc = vector_tile(path, "<16 x float>", &fmas);
  CHECK(acc >= 24 && fmas >= 2 * acc,
        "256^3 GEMM on AVX-512: %d accumulators and %d FMAs in the loop, want >= 24 and two steps",
        acc, fmas);
  /* x86-64-v3 as callgrind runs it: "+avx2,+fma" without "+avx" is AVX (8 lanes), not SSE */
  o.cpu = "x86-64-v3", o.features = "+avx2,+fma,+f16c";
  CHECK(cg_compile(g, &o, path, &d), "microkernel gemm: compile for x86-64-v3");
  acc = vector_tile(path, "<8 x float>", NULL);
  CHECK(acc >= 12, "256^3 GEMM with +avx2,+fma: %d <8 x float> accumulators, want >= 12", acc);
  remove(path);
  ir_diag_free(&d);
  ir_graph_free(g);
}

static void test_microkernel(void) {
  static const ConvCase k = {"conv_tile", 1, 64,           8,    8,    64, 3, 3, 1, 1, 1,
                             1,           1, {1, 1, 1, 1}, true, NULL, {0}};
  static const struct {
    const char *triple, *cpu, *features, *vty;
  } targets[] = {
      {"x86_64-linux-gnu", "generic", "+avx512f,+avx2,+fma,+avx", "<16 x float>"},
      {"aarch64-linux-gnu", "generic", "+neon", "<4 x float>"},
  };
  for (size_t t = 0; t < sizeof targets / sizeof *targets; t++) {
    IrValue *y;
    IrGraph *g = conv_graph(&k, false, &y);
    ir_graph_add_output(g, y);
    if (!prepare(g, true)) {
      CHECK(false, "microkernel: prepare");
      ir_graph_free(g);
      return;
    }
    /* Winograd's 16 products run on the same micro-kernel */
    CHECK((g->nodes[0]->kernel == IR_KERNEL_CONV_GEMM ||
           g->nodes[0]->kernel == IR_KERNEL_CONV_WINOGRAD) &&
              g->nodes[0]->scratch_bytes > 0,
          "3x3 conv gets a tiled GEMM kernel and scratch (kernel %d)", g->nodes[0]->kernel);
    char path[600];
    snprintf(path, sizeof path, "%s/tile.ll", tmpdir);
    CgOptions o = {.prefix = "tile", .opt_level = 3, .emit = CG_EMIT_LLVM, .pic = true};
    o.triple = targets[t].triple, o.cpu = targets[t].cpu, o.features = targets[t].features;
    IrDiag d;
    ir_diag_init(&d, NULL, true);
    CHECK(cg_compile(g, &o, path, &d), "microkernel: compile for %s", targets[t].triple);
    int acc = max_vector_accumulators(path, targets[t].vty);
    /* AVX-512: 32 registers, e.g. 8 rows x 2 vectors; NEON: 32 registers, e.g. 8 x 3 */
    CHECK(acc >= 12, "%s: the conv's inner loop holds %d %s accumulators, want >= 12",
          targets[t].triple, acc, targets[t].vty);
    remove(path);
    ir_diag_free(&d);
    ir_graph_free(g);
  }
}

/* Cortex-M4 (scalar VFP): the same conv's reduction loop in the assembly, one basic block
 * holding the tile's multiply-adds on s registers and its operands loaded by VLDMs (one for the
 * row of A, one for B's columns) rather than one VLDR per float. */
static void test_microkernel_m4(void) {
  static const ConvCase k = {"conv_tile_m4", 1,    64,   8,  8, 64, 3, 3, 1, 1, 1, 1, 1,
                             {1, 1, 1, 1},   true, NULL, {0}};
  IrValue *y;
  IrGraph *g = conv_graph(&k, false, &y);
  ir_graph_add_output(g, y);
  char path[600];
  snprintf(path, sizeof path, "%s/tile_m4.s", tmpdir);
  CgOptions o = {.prefix = "tile", .opt_level = 3, .emit = CG_EMIT_ASM};
  o.triple = "thumbv7em-none-eabihf", o.cpu = "cortex-m4", o.features = "+vfp4d16sp";
  IrDiag d;
  ir_diag_init(&d, NULL, true);
  bool built = prepare(g, true) && cg_compile(g, &o, path, &d);
  CHECK(built, "microkernel m4: compile");
  FILE *f = built ? fopen(path, "r") : NULL;
  int best_fma = 0, best_vldm = 0, fmas = 0, vldms = 0;
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    if (line[0] == '.' && strchr(line, ':')) fmas = vldms = 0; /* a new basic block */
    if (strstr(line, "vfma.f32")) fmas++;
    if (strstr(line, "vldmia")) vldms++;
    if (fmas > best_fma) best_fma = fmas, best_vldm = vldms;
  }
  if (f) fclose(f);
  CHECK(best_fma >= 12 && best_vldm >= 2,
        "m4: the conv's inner loop holds %d vfma.f32 and %d vldmia, want >= 12 and >= 2", best_fma,
        best_vldm);
  remove(path);
  ir_diag_free(&d);
  ir_graph_free(g);
}

static void test_emit(void) {
  IrGraph *g = small_graph();
  if (!prepare(g, false)) {
    CHECK(false, "emit: prepare");
    ir_graph_free(g);
    return;
  }
  char path[600];
  IrDiag d;
  /* LLVM IR (LLVMVerifyModule runs inside cg_compile before optimizing) */
  snprintf(path, sizeof path, "%s/small.ll", tmpdir);
  CgOptions o = {.prefix = "small_ll", .opt_level = 3, .emit = CG_EMIT_LLVM, .pic = true};
  ir_diag_init(&d, NULL, true);
  CHECK(cg_compile(g, &o, path, &d), "emit llvm");
  CHECK(file_contains(path, "i32 @small_ll_run_ws(ptr"), ".ll defines small_ll_run_ws");
  CHECK(file_contains(path, "@small_ll_model = "), ".ll defines the descriptor");
  /* the vectorizer ran on conv and gemm loops (host: at least SSE2) */
  CHECK(file_contains(path, "x float>"), ".ll has vector code");
  CHECK(!file_contains(path, "@expf") && !file_contains(path, "@malloc"), "no libc calls");
  if (getenv("KILN_KEEP_LL")) {
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", path, getenv("KILN_KEEP_LL"));
    CHECK(system(cmd) == 0, "keep .ll");
  }
  remove(path);
  /* assembly */
  snprintf(path, sizeof path, "%s/small.s", tmpdir);
  o.emit = CG_EMIT_ASM;
  o.prefix = "small_asm";
  CHECK(cg_compile(g, &o, path, &d), "emit asm");
  CHECK(file_contains(path, "small_asm_run_ws"), "asm names small_asm_run_ws");
  remove(path);
  CHECK(d.n_errors == 0, "no errors: %s", d.text ? d.text : "");
  ir_diag_free(&d);

  /* cross targets compile (static relocation for the bare-metal one) */
  static const struct {
    const char *triple, *cpu, *features;
    bool pic;
  } targets[] = {
      {"aarch64-linux-gnu", "generic", "+neon", true},
      {"thumbv7em-none-eabihf", "cortex-m4", "+vfp4d16sp", false},
      {"thumbv7m-none-eabi", "cortex-m3", "", false},
      {"riscv64-linux-gnu", "generic-rv64", "+m,+a,+f,+d,+c", true},
      {"x86_64-pc-linux-gnu", "x86-64-v3", NULL, true},
      {"i686-linux-gnu", "generic", "", true},
  };
  for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
    snprintf(path, sizeof path, "%s/cross%zu.o", tmpdir, i);
    CgOptions x = {.prefix = "cross",
                   .triple = targets[i].triple,
                   .cpu = targets[i].cpu,
                   .features = targets[i].features,
                   .opt_level = 2,
                   .pic = targets[i].pic};
    ir_diag_init(&d, NULL, true);
    CHECK(cg_compile(g, &x, path, &d) && exists(path), "compile for %s", targets[i].triple);
    ir_diag_free(&d);
    /* nothing but memcpy/memset (and soft-float helpers on cores without an FPU) is undefined:
     * no libm */
    char cmd[1400], listing[620];
    snprintf(listing, sizeof listing, "%s/undef.txt", tmpdir);
    snprintf(cmd, sizeof cmd, "nm -u '%s' > '%s' 2>/dev/null", path, listing);
    if (system(cmd) == 0) {
      CHECK(!file_contains(listing, "expf") && !file_contains(listing, "tanhf") &&
                !file_contains(listing, "fmax") && !file_contains(listing, "malloc"),
            "libm or libc calls in the object for %s", targets[i].triple);
      if (getenv("KILN_SHOW_UNDEF")) {
        snprintf(cmd, sizeof cmd, "echo %s; cat '%s'", targets[i].triple, listing);
        CHECK(system(cmd) == 0, "show");
      }
    }
    remove(listing);
    remove(path);
  }

  /* errors leave no file behind (neither the output nor a temporary) */
  static const struct {
    const char *triple, *cpu, *features, *message;
  } bad[] = {
      {"foo", NULL, NULL, "--target: unknown target triple 'foo' ("},
      {NULL, "bogus-cpu", NULL, "--cpu: unknown CPU 'bogus-cpu' for target"},
      {NULL, NULL, "+bogusfeature", "--features: unknown feature '+bogusfeature' for target"},
      {"aarch64-linux-gnu", "znver9", NULL, "--cpu: unknown CPU 'znver9' for target 'aarch64"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    snprintf(path, sizeof path, "%s/bad.o", tmpdir);
    CgOptions x = {.prefix = "bad",
                   .triple = bad[i].triple,
                   .cpu = bad[i].cpu,
                   .features = bad[i].features,
                   .opt_level = 1,
                   .pic = true};
    ir_diag_init(&d, "m.json", false);
    bool ok = cg_compile(g, &x, path, &d);
    CHECK(!ok, "bad target %zu accepted", i);
    CHECK(d.text && strstr(d.text, bad[i].message), "message: want '%s', got '%s'", bad[i].message,
          d.text ? d.text : "");
    CHECK(!exists(path) && count_files("bad.o") == 0, "no file left for bad target %zu", i);
    ir_diag_free(&d);
  }
  /* unwritable path */
  ir_diag_init(&d, NULL, false);
  CgOptions x = {.prefix = "nowhere", .opt_level = 0, .pic = true};
  CHECK(!cg_compile(g, &x, "/nonexistent-dir/x.o", &d) && d.n_errors == 1, "unwritable path");
  ir_diag_free(&d);
  /* bad prefix */
  ir_diag_init(&d, NULL, false);
  x.prefix = "9lives";
  snprintf(path, sizeof path, "%s/badprefix.o", tmpdir);
  CHECK(!cg_compile(g, &x, path, &d) && d.text && strstr(d.text, "not a C identifier"),
        "bad prefix rejected");
  ir_diag_free(&d);
  ir_graph_free(g);
}

/* Unsupported dtype: one place checks, shape inference, with an error naming the node; codegen
 * only asserts it (a graph that passed inference never reaches a lowering with an i32 Tanh). */
static void test_dtype_error(void) {
  IrGraph *g = ir_graph_new("dt");
  IrNode *n;
  IrValue *y = NODE(g, &n, IR_OP_TANH, "y", IN(g, "x", 4));
  ir_graph_add_output(g, y);
  g->inputs[0]->dtype = IR_I32;
  IrDiag d;
  ir_diag_init(&d, "m.json", false);
  CHECK(ir_graph_sort(g, &d) && !ir_graph_infer_shapes(g, &d), "i32 Tanh rejected");
  CHECK(d.text && strstr(d.text, "m.json: nodes[0] (Tanh_0)") && strstr(d.text, "i32"),
        "message: %s", d.text ? d.text : "");
  ir_diag_free(&d);
  ir_graph_free(g);
}

/* ---- Gather: index range ------------------------------------------------------------------ */

/* table (5 rows of 3 floats, a graph input placed so that it ends at a PROT_NONE page: any read
 * past it faults) gathered by i32/i64 ids: in-range ids (negative ones wrap) give the rows;
 * an id outside [-5, 5) makes the run function return KRT_ERR_INDEX_RANGE, at -O0 and -O3, and
 * the interpreter too. Constant ids out of range are a compile-time error naming the node. */
static void gather_range_case(IrDType idt) {
  IrGraph *g = ir_graph_new(idt == IR_I64 ? "gather_i64" : "gather_i32");
  IrValue *table = IN(g, "table", 5, 3);
  IrValue *ids = ir_value_new(g, "ids", IR_VALUE_INPUT, idt, 1, DIMS(4));
  ir_graph_add_input(g, ids);
  IrValue *y = NODE(g, NULL, IR_OP_GATHER, "y", table, ids);
  ir_graph_add_output(g, y);
  if (!prepare(g, false)) {
    CHECK(false, "%s: prepare", g->name);
    ir_graph_free(g);
    return;
  }
  CHECK(y->dtype == IR_F32 && y->rank == 2 && y->dims[0] == 4 && y->dims[1] == 3, "%s: shape",
        g->name);
  long page = sysconf(_SC_PAGESIZE);
  char *mem =
      mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(mem != MAP_FAILED && mprotect(mem + page, (size_t)page, PROT_NONE) == 0, "guard page");
  if (mem == MAP_FAILED) {
    ir_graph_free(g);
    return;
  }
  float *tab = (float *)(mem + page) - 15; /* the last float ends at the guard page */
  for (int i = 0; i < 15; i++) tab[i] = (float)(10 * (i / 3) + i % 3);
  static const int64_t good[4] = {4, 0, -1, -5}, bad[][4] = {{0, 5, 1, 2},
                                                             {-6, 0, 0, 0},
                                                             {1, 2, 3, 2147483647},
                                                             {0, 0, 0, -2147483647 - 1}};
  const int64_t wide_bad[2][4] = {{0, 0, 0, INT64_MAX}, {0, 0, 0, INT64_MIN}};
  int n_bad = idt == IR_I64 ? 6 : 4;
  union {
    int32_t i32[4];
    int64_t i64[4];
  } idbuf;
  float out[12], want[12];
  for (int r = 0; r < 4; r++)
    for (int k = 0; k < 3; k++) want[r * 3 + k] = (float)(10 * ((good[r] + 5) % 5) + k);
  for (int level = -1; level <= 3; level += level < 0 ? 1 : 3) { /* interpreter, -O0, -O3 */
    Lib l = {0};
    if (level >= 0 && !load_model(g, level, &l)) continue;
    for (int t = -1; t < n_bad; t++) {
      const int64_t *src = t < 0 ? good : t < 4 ? bad[t] : wide_bad[t - 4];
      for (int k = 0; k < 4; k++)
        if (idt == IR_I64)
          idbuf.i64[k] = src[k];
        else
          idbuf.i32[k] = (int32_t)src[k];
      const void *ins[2] = {tab, &idbuf};
      void *outs[1] = {out};
      memset(out, 0, sizeof out);
      int rc = level < 0 ? ir_interp_run(g, ins, outs) : l.m->run(ins, outs, NULL);
      if (t < 0) {
        CHECK(rc == KRT_OK, "%s level %d: in-range ids returned %d", g->name, level, rc);
        CHECK(memcmp(out, want, sizeof want) == 0, "%s level %d: gathered rows", g->name, level);
      } else {
        CHECK(rc == KRT_ERR_INDEX_RANGE, "%s level %d: bad ids %d returned %d", g->name, level, t,
              rc);
      }
    }
    if (level >= 0) dlclose(l.lib);
  }
  munmap(mem, (size_t)page * 2);
  ir_graph_free(g);
}

static void test_gather(void) {
  gather_range_case(IR_I64);
  gather_range_case(IR_I32);

  /* constant ids: checked at compile time */
  IrGraph *g = ir_graph_new("gather_const");
  IrNode *n;
  int64_t ids[3] = {0, 7, 2};
  IrValue *y = NODE(g, &n, IR_OP_GATHER, "y", IN(g, "table", 7, 2),
                    add_const(g, "ids", IR_I64, 1, DIMS(3), ids, 0, 0));
  ir_set_attr_i(g, n, "axis", 0);
  ir_graph_add_output(g, y);
  IrDiag d;
  ir_diag_init(&d, "m.json", false);
  CHECK(ir_graph_sort(g, &d) && !ir_graph_infer_shapes(g, &d), "constant id 7 of 7 rows rejected");
  CHECK(d.text && strstr(d.text, "nodes[0] (Gather_0).inputs[1]: index 7 (element 1) is out of "
                                 "range [-7, 6] for axis 0"),
        "message: %s", d.text ? d.text : "");
  ir_diag_free(&d);
  ir_graph_free(g);

  /* integer inputs get typed pointers in the header */
  g = ir_graph_new("tok");
  IrValue *tid = ir_value_new(g, "ids", IR_VALUE_INPUT, IR_I64, 2, DIMS(1, 6));
  ir_graph_add_input(g, tid);
  y = NODE(g, NULL, IR_OP_GATHER, "emb", W(g, "table", 10, 4), tid);
  ir_graph_add_output(g, y);
  if (prepare(g, false)) {
    char path[600];
    snprintf(path, sizeof path, "%s/tok.h", tmpdir);
    CgOptions o = {.prefix = "tok", .opt_level = 0, .pic = true};
    ir_diag_init(&d, "tok.json", false);
    CHECK(cg_write_header(g, &o, path, &d), "tok header");
    CHECK(file_contains(path, "int tok_run(const int64_t *ids, float *emb);"), "typed header");
    CHECK(file_contains(path, "#define TOK_IN0_DTYPE 6 /* i64 */"), "dtype macro");
    ir_diag_free(&d);
    remove(path);
  }
  ir_graph_free(g);
}

/* ---- header -----------------------------------------------------------------------------------
 */

static void test_header(void) {
  char buf[64];
  cg_sanitize_identifier("mnist-cnn.v2", buf, sizeof buf);
  CHECK(strcmp(buf, "mnist_cnn_v2") == 0, "sanitize: %s", buf);
  cg_sanitize_identifier("3net", buf, sizeof buf);
  CHECK(strcmp(buf, "m_3net") == 0, "sanitize digit: %s", buf);
  cg_sanitize_identifier("", buf, sizeof buf);
  CHECK(strcmp(buf, "model") == 0, "sanitize empty: %s", buf);
  cg_sanitize_identifier("caf\xc3\xa9", buf, sizeof buf);
  CHECK(strcmp(buf, "caf__") == 0, "sanitize utf-8: %s", buf);
  cg_sanitize_identifier("abcdefgh", buf, 5);
  CHECK(strcmp(buf, "abcd") == 0, "sanitize truncates: %s", buf);

  /* parameters whose names collide after sanitizing, or with keywords and `workspace` */
  IrGraph *g = ir_graph_new("hdr \"model\" */ x");
  IrValue *a = IN(g, "in.put", 1, 4), *b = IN(g, "in-put", 4), *c = IN(g, "int", 4);
  IrValue *ws = IN(g, "workspace", 4);
  IrValue *s1 = NODE(g, NULL, IR_OP_ADD, "s1", a, b);
  IrValue *s2 = NODE(g, NULL, IR_OP_ADD, "s2", c, ws);
  IrValue *o1 = NODE(g, NULL, IR_OP_MUL, "out", s1, s2);
  ir_graph_add_output(g, o1);
  if (!prepare(g, false)) {
    CHECK(false, "header: prepare");
    ir_graph_free(g);
    return;
  }
  char hpath[600], opath[600], cpath[600], exe[600], cmd[3000];
  snprintf(hpath, sizeof hpath, "%s/hdr.h", tmpdir);
  snprintf(opath, sizeof opath, "%s/hdr.o", tmpdir);
  snprintf(cpath, sizeof cpath, "%s/hdr_main.c", tmpdir);
  snprintf(exe, sizeof exe, "%s/hdr_main", tmpdir);
  CgOptions o = {.prefix = "hdr", .opt_level = 2, .pic = true};
  IrDiag d;
  ir_diag_init(&d, NULL, true);
  CHECK(cg_write_header(g, &o, hpath, &d) && cg_compile(g, &o, opath, &d), "header + object");
  ir_diag_free(&d);
  CHECK(file_contains(hpath, "/* Generated by Kiln ") &&
            file_contains(hpath, "from model 'hdr \"model\" _/ x'. Do not edit. */"),
        "banner");
  CHECK(file_contains(hpath, "#ifndef HDR_H"), "guard");
  CHECK(file_contains(hpath, "#define HDR_WORKSPACE_SIZE 128u /* bytes, exact */"), "ws size");
  CHECK(file_contains(hpath, "#define HDR_IN0_SHAPE {1, 4}"), "shape");
  CHECK(file_contains(hpath, "#define HDR_IN0_NAME \"in.put\""), "name");
  CHECK(file_contains(hpath, "#define HDR_OUT0_SIZE 4u /* elements */"), "size");
  CHECK(file_contains(hpath, "int hdr_run(const float *in_put_0, const float *in_put_1, const "
                             "float *int_2, const float *workspace_3, float *out);"),
        "run prototype with renamed parameters");
  CHECK(file_contains(hpath, "float *out, void *workspace);"), "run_ws prototype");
  CHECK(file_contains(hpath, "extern const struct krt_model hdr_model;"), "model declaration");
  /* the header compiles and matches the object: a C program calls it */
  FILE *f = fopen(cpath, "w");
  if (f) {
    fprintf(
        f, "#include <stdalign.h>\n#include <stdio.h>\n#include \"hdr.h\"\n#include \"krt.h\"\n"
           "int main(void) {\n"
           "  float a[HDR_IN0_SIZE] = {1, 2, 3, 4}, b[4] = {1, 1, 1, 1}, c[4] = {1, 2, 3, 4},\n"
           "        w[4] = {0, 0, 0, 1}, y[HDR_OUT0_SIZE], y2[4];\n"
           "  static alignas(HDR_WORKSPACE_ALIGN) unsigned char ws[HDR_WORKSPACE_SIZE];\n"
           "  long long shape[] = HDR_OUT0_SHAPE;\n"
           "  if (hdr_run(a, b, c, w, y) || hdr_run_ws(a, b, c, w, y2, ws)) return 1;\n"
           "  if (hdr_model.workspace_size != HDR_WORKSPACE_SIZE || shape[0] != 1) return 2;\n"
           "  for (int i = 0; i < 4; i++) if (y[i] != (a[i] + 1) * (c[i] + w[i]) || y2[i] != y[i]) "
           "return 3;\n"
           "  puts(\"ok\");\n  return 0;\n}\n");
    fclose(f);
  }
  snprintf(cmd, sizeof cmd,
           "%s -std=c11 -Wall -Werror -I'%s' -Iruntime -I../runtime '%s' '%s' -o '%s' && '%s' > "
           "/dev/null",
           cc, tmpdir, cpath, opath, exe, exe);
  CHECK(system(cmd) == 0, "program using the header builds and runs: %s", cmd);
  /* deterministic */
  char h2[600];
  snprintf(h2, sizeof h2, "%s/hdr2.h", tmpdir);
  ir_diag_init(&d, NULL, true);
  cg_write_header(g, &o, h2, &d);
  ir_diag_free(&d);
  snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", hpath, h2);
  CHECK(system(cmd) == 0, "header is deterministic");
  remove(hpath);
  remove(h2);
  remove(opath);
  remove(cpath);
  remove(exe);
  ir_graph_free(g);
}

/* ---- exp / tanh / sigmoid accuracy ------------------------------------------------------------
 */

typedef void (*MathFn)(const float *x, float *y, intptr_t n);

static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Largest relative error of f over xs against ref (double: the exact value rounded once more)
 * and against the libm float function (if any), which has its own error of about an ulp, so
 * the difference to it is bounded by libm_bound; results below FLT_MIN count in units of the
 * smallest subnormal instead. */
static void sweep(MathFn f, const char *name, double (*ref)(double), float (*libm)(float),
                  const float *xs, intptr_t n, double bound, double libm_bound) {
  float *ys = malloc(sizeof(float) * (size_t)n);
  f(xs, ys, n);
  double worst = 0, worst_libm = 0;
  float at = 0;
  long sub_bad = 0;
  for (intptr_t i = 0; i < n; i++) {
    double want = ref(xs[i]);
    if (fabs(want) < 1.1754943508222875e-38) {
      /* subnormal result: within one subnormal step */
      sub_bad += fabs(ys[i] - want) > 1.401298464324817e-45 * 1.01;
      continue;
    }
    double e = fabs(ys[i] - want) / fabs(want);
    if (e > worst || isnan(e)) worst = e, at = xs[i];
    if (libm) {
      float lf = libm(xs[i]);
      double el = fabs((double)ys[i] - lf) / fabs(want);
      if (el > worst_libm) worst_libm = el;
    }
  }
  printf("  %-8s max relative error %.3g (at x = %.9g) vs double reference", name, worst, at);
  if (libm) printf(", %.3g vs libm float", worst_libm);
  printf("\n");
  CHECK(worst <= bound, "%s: relative error %g at %.9g exceeds %g", name, worst, at, bound);
  if (libm) CHECK(worst_libm <= libm_bound, "%s: differs from libm by %g", name, worst_libm);
  CHECK(sub_bad == 0, "%s: %ld subnormal results off by more than one step", name, sub_bad);
  free(ys);
}

static void test_math_accuracy(void) {
  char obj[600], so[600], cmd[1300];
  snprintf(obj, sizeof obj, "%s/math.o", tmpdir);
  snprintf(so, sizeof so, "%s/math.so", tmpdir);
  CgOptions o = {.prefix = "kmath", .opt_level = 3, .pic = true};
  IrDiag d;
  ir_diag_init(&d, NULL, true);
  bool ok = cg_emit_math_test(&o, obj, &d);
  ir_diag_free(&d);
  CHECK(ok, "emit math test object");
  snprintf(cmd, sizeof cmd, "%s -shared -o '%s' '%s'", cc, so, obj);
  if (!ok || system(cmd) != 0) {
    CHECK(false, "link math test object");
    return;
  }
  void *lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  CHECK(lib != NULL, "dlopen math: %s", dlerror());
  if (!lib) return;
  MathFn fexp = (MathFn)dlsym(lib, "kmath_exp"), ftanh = (MathFn)dlsym(lib, "kmath_tanh");
  MathFn fsig = (MathFn)dlsym(lib, "kmath_sigmoid");
  /* Dense sweep of [-88, 88]: 2^23 evenly spaced points, plus every float of [2^-20, 4] with a
   * stride of 16 ulp on both signs (tanh's polynomial / exp branch switch, sigmoid near 0). */
  intptr_t n_even = 1 << 23;
  intptr_t cap = n_even + (1 << 22);
  float *xs = malloc(sizeof(float) * (size_t)cap);
  intptr_t n = 0;
  for (intptr_t i = 0; i < n_even; i++)
    xs[n++] = (float)(-88.0 + 176.0 * (double)i / (double)(n_even - 1));
  for (float x = 0x1p-20f; x < 4.0f && n + 2 <= cap;) {
    xs[n++] = x;
    xs[n++] = -x;
    uint32_t bits;
    memcpy(&bits, &x, 4);
    bits += 16;
    memcpy(&x, &bits, 4);
  }
  printf("math sweep over %ld points:\n", (long)n);
  sweep(fexp, "exp", exp, expf, xs, n, 2e-7, 3e-7);
  sweep(ftanh, "tanh", tanh, tanhf, xs, n, 2e-7, 3e-7);
  sweep(fsig, "sigmoid", ref_sigmoid, NULL, xs, n, 2e-7, 0);
  /* The inline sqrt used on bare metal (no libm there): every 64th positive float from the
   * smallest subnormal to FLT_MAX against the correctly rounded sqrtf, plus the IEEE specials. */
  MathFn fsqrt = (MathFn)dlsym(lib, "kmath_sqrt");
  CHECK(fsqrt != NULL, "kmath_sqrt missing");
  if (fsqrt) {
    intptr_t m = 0;
    for (uint32_t bits = 1; bits < 0x7f800000u && m < cap; bits += 64) memcpy(&xs[m++], &bits, 4);
    float *ys = malloc(sizeof(float) * (size_t)m);
    fsqrt(xs, ys, m);
    double worst = 0;
    for (intptr_t i = 0; i < m; i++) {
      double want = sqrt((double)xs[i]), err = fabs((double)ys[i] - want) / want;
      if (!(err <= worst)) worst = err;
    }
    printf("  sqrt (inline): max rel error %.3g over %ld floats\n", worst, (long)m);
    CHECK(worst <= 2e-7, "inline sqrt max relative error %g", worst);
    float qx[] = {0.0f, -0.0f, INFINITY, -1.0f, -INFINITY, NAN, 4.0f}, qy[7];
    fsqrt(qx, qy, 7);
    CHECK(qy[0] == 0 && !signbit(qy[0]) && qy[1] == 0 && signbit(qy[1]) && isinf(qy[2]) &&
              isnan(qy[3]) && isnan(qy[4]) && isnan(qy[5]) && qy[6] == 2.0f,
          "inline sqrt specials: %g %g %g %g %g %g %g", qy[0], qy[1], qy[2], qy[3], qy[4], qy[5],
          qy[6]);
    free(ys);
  }
  /* special values */
  float sx[] = {0.0f, -0.0f, 1e-30f, 88.72f, 89.0f, 200.0f, -104.0f, -200.0f, INFINITY, -INFINITY};
  float sy[10];
  fexp(sx, sy, 10);
  CHECK(sy[0] == 1 && sy[1] == 1 && sy[2] == 1, "exp(0) = 1");
  CHECK(isfinite(sy[3]) && isinf(sy[4]) && isinf(sy[5]) && sy[6] == 0 && sy[7] == 0 &&
            isinf(sy[8]) && sy[9] == 0,
        "exp overflow/underflow: %g %g %g %g %g %g %g", sy[3], sy[4], sy[5], sy[6], sy[7], sy[8],
        sy[9]);
  ftanh(sx, sy, 10);
  CHECK(sy[0] == 0 && sy[2] == 1e-30f && sy[5] == 1 && sy[7] == -1 && sy[8] == 1 && sy[9] == -1,
        "tanh limits");
  fsig(sx, sy, 10);
  CHECK(sy[0] == 0.5f && sy[5] == 1 && sy[7] == 0 && sy[8] == 1 && sy[9] == 0, "sigmoid limits");
  float nanv = NAN, ny[3];
  fexp(&nanv, &ny[0], 1);
  ftanh(&nanv, &ny[1], 1);
  fsig(&nanv, &ny[2], 1);
  CHECK(isnan(ny[0]) && isnan(ny[1]) && isnan(ny[2]), "NaN propagates");

  /* erf over the same points; log over every 181st positive finite float (subnormals too) */
  MathFn flog = (MathFn)dlsym(lib, "kmath_log"), ferf = (MathFn)dlsym(lib, "kmath_erf");
  CHECK(flog && ferf, "log and erf exported");
  if (flog && ferf) {
    sweep(ferf, "erf", erf, erff, xs, n, 4e-7, 5e-7);
    intptr_t nl = 0;
    for (uint32_t bits = 1; bits < 0x7f800000u && nl < cap; bits += 181) {
      float x;
      memcpy(&x, &bits, 4);
      if (x != 1.0f) xs[nl++] = x; /* log(1) = 0 exactly: no relative error to measure */
    }
    CHECK(nl > 0 && xs[nl - 1] > 1e38f, "the log sweep reaches the top of the float range");
    sweep(flog, "log", log, logf, xs, nl, 2e-7, 3e-7);
    float lx[] = {1.0f, 0.0f, -0.0f, -1.0f, INFINITY, NAN, 4.0f, 0.0f};
    float ly[8];
    memcpy(&lx[7], &(uint32_t){1}, 4); /* smallest subnormal */
    flog(lx, ly, 8);
    CHECK(ly[0] == 0 && isinf(ly[1]) && ly[1] < 0 && isinf(ly[2]) && ly[2] < 0 && isnan(ly[3]) &&
              isinf(ly[4]) && ly[4] > 0 && isnan(ly[5]) && fabs(ly[6] - 1.3862944f) < 2e-7 &&
              fabs(ly[7] + 103.27893f) < 2e-5,
          "log special values: %g %g %g %g %g %g %g %g", ly[0], ly[1], ly[2], ly[3], ly[4], ly[5],
          ly[6], ly[7]);
    float ex[] = {0.0f, -0.0f, 4.0f, 10.0f, -10.0f, INFINITY, -INFINITY, NAN};
    float ey[8];
    ferf(ex, ey, 8);
    CHECK(ey[0] == 0 && ey[1] == 0 && signbit(ey[1]) && ey[2] == 1 && ey[3] == 1 && ey[4] == -1 &&
              ey[5] == 1 && ey[6] == -1 && isnan(ey[7]),
          "erf special values: %g %g %g %g %g %g %g %g", ey[0], ey[1], ey[2], ey[3], ey[4], ey[5],
          ey[6], ey[7]);
  }
  free(xs);
  dlclose(lib);
  remove(obj);
  remove(so);
}

/* ---- run-time errors of ScatterND indices and integer Div ---------------------------------- */

/* Runs g (one input, one i64 or i32 output) on each input of `cases` through the interpreter,
 * -O0 and -O3: case 0 must succeed with `want`, the others must return `err`. */
static void run_error_cases(IrGraph *g, const void *const *cases, int n_cases, size_t in_bytes,
                            const void *want, size_t out_bytes, int err) {
  unsigned char out[256];
  for (int level = -1; level <= 3; level += level < 0 ? 1 : 3) {
    Lib l = {0};
    if (level >= 0 && !load_model(g, level, &l)) continue;
    for (int t = 0; t < n_cases; t++) {
      unsigned char inb[256];
      memcpy(inb, cases[t], in_bytes);
      const void *ins[1] = {inb};
      void *outs[1] = {out};
      memset(out, 0, sizeof out);
      int rc = level < 0 ? ir_interp_run(g, ins, outs) : l.m->run(ins, outs, NULL);
      if (t == 0)
        CHECK(rc == KRT_OK && !memcmp(out, want, out_bytes), "%s level %d: good input (rc %d)",
              g->name, level, rc);
      else
        CHECK(rc == err, "%s level %d: bad input %d returned %d, expected %d", g->name, level, t,
              rc, err);
    }
    if (level >= 0) dlclose(l.lib);
  }
}

static void test_runtime_errors(void) {
  /* ScatterND of run-time i64 indices into data [4, 2] (a constant): rows 1 and -1 (= 3) */
  IrGraph *g = ir_graph_new("scatter_idx");
  static const int64_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8}, upd[4] = {-1, -2, -3, -4};
  IrValue *ids = ir_value_new(g, "ids", IR_VALUE_INPUT, IR_I64, 2, DIMS(2, 1));
  ir_graph_add_input(g, ids);
  IrValue *y =
      NODE(g, NULL, IR_OP_SCATTER_ND, "y", add_const(g, "data", IR_I64, 2, DIMS(4, 2), data, 0, 0),
           ids, add_const(g, "upd", IR_I64, 2, DIMS(2, 2), upd, 0, 0));
  ir_graph_add_output(g, y);
  static const int64_t good[2] = {1, -1}, bad1[2] = {1, 4}, bad2[2] = {-5, 0},
                       bad3[2] = {0, INT64_MIN};
  static const int64_t want[8] = {1, 2, -1, -2, 5, 6, -3, -4};
  const void *cases[4] = {good, bad1, bad2, bad3};
  if (prepare(g, false))
    run_error_cases(g, cases, 4, sizeof good, want, sizeof want, KRT_ERR_INDEX_RANGE);
  ir_graph_free(g);

  /* i32 Div by a run-time divisor: 0 is an error; INT32_MIN / -1 wraps (no trap) */
  g = ir_graph_new("int_div");
  static const int32_t num[3] = {7, -7, INT32_MIN};
  IrValue *den = ir_value_new(g, "den", IR_VALUE_INPUT, IR_I32, 1, DIMS(3));
  ir_graph_add_input(g, den);
  y = NODE(g, NULL, IR_OP_DIV, "q", add_const(g, "num", IR_I32, 1, DIMS(3), num, 0, 0), den);
  ir_graph_add_output(g, y);
  static const int32_t dgood[3] = {2, 2, -1}, dbad1[3] = {2, 0, 1}, dbad2[3] = {0, 1, 1};
  static const int32_t q[3] = {3, -3, INT32_MIN};
  const void *dcases[3] = {dgood, dbad1, dbad2};
  if (prepare(g, false)) run_error_cases(g, dcases, 3, sizeof dgood, q, sizeof q, KRT_ERR_DIV_ZERO);
  ir_graph_free(g);
}

int main(int argc, char **argv) {
  if (argc > 2 && strcmp(argv[1], "--cc") == 0) cc = argv[2];
  if (getenv("CC") && *getenv("CC")) cc = getenv("CC");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  test_unary();
  test_binary();
  test_gemm();
  test_matmul();
  test_conv();
  test_conv_transpose();
  test_pools();
  test_softmax();
  test_data_movement();
  test_batch_norm();
  test_models();
  test_abi();
  test_two_models();
  test_emit();
  test_microkernel();
  test_microkernel_gemm();
  test_microkernel_m4();
  test_fused_epilogues();
  test_dtype_error();
  test_gather();
  test_runtime_errors();
  test_header();
  test_math_accuracy();
  rmdir(tmpdir);
  return test_report("test_codegen");
}
