/* Differential test of the whole compiler on random valid models (tests/rgraph.c) and on models
 * at the limits of model-controlled counts. Each model runs through the reference interpreter
 * as loaded (no passes: the oracle), then for each -O level through the pass pipeline (verifier
 * after every pass), the interpreter again and the compiled object (linked into a shared
 * library, loaded, run on a garbage-filled workspace). Every output must match the oracle:
 *   |got - want| <= 1e-4 * |want| + 1e-4 * max(1, max |want| over the output)
 * (float32 against a double-precision interpreter; different summation orders, FMA, the inline
 * exp/tanh/erf of cg_math.c; the second term normalizes by the output's scale, as a relative
 * error of the whole tensor).
 * usage: test_random_graphs [--seeds A:B] [--levels 0,2,3] [--limits] [--write DIR]
 *   --seeds A:B   seeds A..B-1 (default 1:17, as ctest runs it; a longer run: tools/fuzz_graphs.sh)
 *   --zeros F     weights (constants of rank 2 and up) with the fraction F of exact zeros and
 *                 some all-zero output channels: the sparse kernels and the prune pass
 *   --winograd    most Convs 3x3 stride 1 with 8-40 channels, every one Winograd computes on it
 *                 (its blocks of tile rows and of output channels, odd sizes, pads)
 *   --nchwc       conv graphs with channel counts in multiples of the host's vector width, the
 *                 blocked activation layout forced (--layout=nchwc)
 *   --limits      the 300-Add chain, 1000-input Concat, 1000-output Split and over-limit models
 *   --write DIR   write the models as DIR/<name>.json instead of testing them (fuzz seeds)
 *   --file F      check the model in file F instead (inputs from --data-seed N, default: for
 *                 a kept rgraph_<S>.json the seed's own data, S * 7919) */
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg.h"
#include "fe.h"
#include "krt.h"
#include "pass.h"
#include "rgraph.h"
#include "test_util.h"

#define RTOL 1e-4
#define ATOL 1e-4

static char tmpdir[] = "/tmp/kiln-test-rgraph-XXXXXX";
static const char *cc = "cc";
static const char *write_dir;
static int conv_kernel;          /* PassOptions.conv_kernel (--winograd) */
static int layout, layout_lanes; /* PassOptions.layout and vec_lanes (--nchwc) */
static int nchwc_convs;          /* nodes that got IR_KERNEL_CONV_NCHWC (--nchwc) */
static int nchwc_pools;          /* MaxPools on blocked values (--nchwc) */

typedef struct {
  const IrGraph *g;
  void **in, **ref;
} Case;

static void **alloc_values(IrValue *const *vals, int n) {
  void **p = calloc((size_t)n + 1, sizeof *p);
  for (int i = 0; i < n; i++) p[i] = calloc(1, (size_t)ir_value_nbytes(vals[i]) + 64);
  return p;
}

static void free_values(void **p, int n) {
  for (int i = 0; p && i < n; i++) free(p[i]);
  free(p);
}

static bool close_enough(const float *got, const float *want, int64_t n, const char *what) {
  double scale = 1.0;
  for (int64_t i = 0; i < n; i++)
    if (isfinite(want[i]) && fabs(want[i]) > scale) scale = fabs(want[i]);
  int64_t worst = -1;
  double worst_excess = 0;
  for (int64_t i = 0; i < n; i++) {
    double diff = fabs((double)got[i] - (double)want[i]);
    if (isnan(got[i]) && isnan(want[i])) continue;
    if (isinf(got[i]) && got[i] == want[i]) continue;
    double tol = RTOL * fabs((double)want[i]) + ATOL * scale;
    if (!(diff <= tol) && (worst < 0 || diff - tol > worst_excess || isnan(diff)))
      worst = i, worst_excess = isnan(diff) ? INFINITY : diff - tol;
  }
  if (worst >= 0)
    fprintf(stderr, "%s: element %lld of %lld: got %.9g, want %.9g (scale %g)\n", what,
            (long long)worst, (long long)n, got[worst], want[worst], scale);
  return worst < 0;
}

static void compare(const char *what, const IrGraph *g, void *const *got, void *const *want) {
  for (int j = 0; j < g->n_outputs; j++) {
    char label[600];
    snprintf(label, sizeof label, "%s: output %s", what, g->outputs[j]->name);
    const IrValue *v = g->outputs[j];
    if (v->dtype == IR_F32)
      CHECK(close_enough(got[j], want[j], ir_value_numel(v), label), "%s differs", label);
    else
      CHECK(!memcmp(got[j], want[j], (size_t)ir_value_nbytes(v)), "%s differs", label);
  }
}

/* Compiles g at level, loads it, runs it on the case's inputs, compares with the oracle. */
static void check_compiled(const char *label, const IrGraph *g, const Case *k, int level) {
  static int serial;
  char prefix[64], obj[PATH_MAX], so[PATH_MAX], cmd[3 * PATH_MAX], what[PATH_MAX + 128];
  snprintf(prefix, sizeof prefix, "rg%d", serial++);
  snprintf(obj, sizeof obj, "%s/%s.o", tmpdir, prefix);
  snprintf(so, sizeof so, "%s/%s.so", tmpdir, prefix);
  snprintf(what, sizeof what, "%s (compiled -O%d)", label, level);
  CgOptions o = {.prefix = prefix, .opt_level = level, .emit = CG_EMIT_OBJ, .pic = true};
  IrDiag d;
  ir_diag_init(&d, label, true);
  bool ok = cg_compile(g, &o, obj, &d);
  ir_diag_free(&d);
  CHECK(ok, "%s: cg_compile failed", what);
  if (!ok) return;
  snprintf(cmd, sizeof cmd, "%s -shared -o '%s' '%s'", cc, so, obj);
  CHECK(system(cmd) == 0, "%s: linking a shared library failed", what);
  void *lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  CHECK(lib != NULL, "%s: dlopen: %s", what, dlerror());
  if (lib) {
    char sym[128];
    snprintf(sym, sizeof sym, "%s_model", prefix);
    const krt_model *m = dlsym(lib, sym);
    CHECK(m != NULL, "%s: no symbol %s", what, sym);
    if (m) {
      void **outs = alloc_values(g->outputs, g->n_outputs);
      size_t ws_bytes = (size_t)m->workspace_size;
      unsigned char *ws = aligned_alloc(64, (ws_bytes + 64) / 64 * 64);
      memset(ws, 0xA5, ws_bytes); /* garbage: generated code must not read before writing */
      int rc = m->run((const void *const *)k->in, outs, ws);
      CHECK(rc == KRT_OK, "%s: run returned %d", what, rc);
      if (rc == KRT_OK) compare(what, g, outs, k->ref);
      free(ws);
      free_values(outs, g->n_outputs);
    }
    dlclose(lib);
  }
  remove(obj);
  remove(so);
}

static IrGraph *load(const char *label, const char *json, size_t len) {
  IrDiag d;
  ir_diag_init(&d, label, false);
  IrGraph *g = fe_parse_model(json, len, NULL, "rg", &d);
  CHECK(g != NULL, "%s: the model does not load:\n%s", label, d.text ? d.text : "");
  ir_diag_free(&d);
  return g;
}

/* The model's whole check; returns false if it did not load (the caller keeps the file). */
static bool check_model(const char *label, const char *json, size_t len, const int *levels,
                        int n_levels, uint64_t data_seed) {
  IrGraph *g0 = load(label, json, len);
  if (!g0) return false;
  Case k = {g0, alloc_values(g0->inputs, g0->n_inputs), alloc_values(g0->outputs, g0->n_outputs)};
  uint64_t s = data_seed;
  for (int i = 0; i < g0->n_inputs; i++) {
    CHECK(g0->inputs[i]->dtype == IR_F32, "%s: f32 inputs only", label);
    float *p = k.in[i];
    for (int64_t e = 0; e < ir_value_numel(g0->inputs[i]); e++) p[e] = rg_uniform(&s);
  }
  int rc = ir_interp_run(g0, (const void *const *)k.in, k.ref);
  CHECK(rc == KRT_OK, "%s: interpreter returned %d", label, rc);
  for (int l = 0; rc == KRT_OK && l < n_levels; l++) {
    IrGraph *g = load(label, json, len);
    if (!g) break;
    IrDiag d;
    ir_diag_init(&d, label, true);
    PassOptions po = {.opt_level = levels[l],
                      .verify_each = true,
                      .conv_kernel = conv_kernel,
                      .layout = layout,
                      .vec_lanes = layout_lanes};
    bool ok = pass_run_pipeline(g, &po, &d);
    for (int i = 0; ok && i < g->n_nodes; i++) {
      const IrNode *n = g->nodes[i];
      nchwc_convs += n->kernel == IR_KERNEL_CONV_NCHWC;
      nchwc_pools += n->op == IR_OP_MAX_POOL && n->inputs[0]->layout_block > 0;
      /* the layout pass cancels back-to-back copies; graph outputs stay NCHW */
      const IrValue *x = n->inputs[0];
      CHECK(n->op != IR_OP_LAYOUT || x->kind != IR_VALUE_NODE || x->producer->op != IR_OP_LAYOUT,
            "%s -O%d: KilnLayout %s reads KilnLayout %s", label, levels[l], n->name,
            x->producer ? x->producer->name : "");
    }
    for (int j = 0; ok && j < g->n_outputs; j++)
      CHECK(g->outputs[j]->layout_block == 0, "%s -O%d: output %s blocked", label, levels[l],
            g->outputs[j]->name);
    ir_diag_free(&d);
    CHECK(ok, "%s: passes -O%d failed", label, levels[l]);
    if (ok) {
      for (int i = 0; i < g->n_nodes; i++)
        CHECK(g->nodes[i]->n_epilogue_inputs <= IR_MAX_EPILOGUE_INPUTS,
              "%s -O%d: node %d has %d epilogue operands", label, levels[l], i,
              g->nodes[i]->n_epilogue_inputs);
      void **outs = alloc_values(g->outputs, g->n_outputs);
      char what[600];
      snprintf(what, sizeof what, "%s (interpreter after -O%d passes)", label, levels[l]);
      rc = ir_interp_run(g, (const void *const *)k.in, outs);
      CHECK(rc == KRT_OK, "%s: returned %d", what, rc);
      if (rc == KRT_OK) compare(what, g, outs, k.ref);
      free_values(outs, g->n_outputs);
      check_compiled(label, g, &k, levels[l]);
    }
    ir_graph_free(g);
  }
  free_values(k.in, g0->n_inputs);
  free_values(k.ref, g0->n_outputs);
  ir_graph_free(g0);
  return true;
}

static void save(const char *dir, const char *name, const char *json, size_t len) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s.json", dir, name);
  FILE *f = fopen(path, "wb");
  CHECK(f && fwrite(json, 1, len, f) == len, "cannot write %s", path);
  if (f) fclose(f);
  if (dir != write_dir) fprintf(stderr, "model kept as %s\n", path);
}

/* Runs or writes one model. */
static void model(const char *name, const char *json, size_t len, const int *levels, int n_levels,
                  uint64_t data_seed) {
  if (write_dir) {
    save(write_dir, name, json, len);
    return;
  }
  int failed = test_failed;
  check_model(name, json, len, levels, n_levels, data_seed);
  if (test_failed != failed) save("/tmp", name, json, len);
}

/* ---- models at the limits ------------------------------------------------------------------ */

typedef struct {
  char *p;
  size_t len, cap;
} Text;

static void put(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(Text *t, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (t->p && t->len + (size_t)n < t->cap) {
      t->len += (size_t)n;
      return;
    }
    t->cap = (t->cap + (size_t)n + 1) * 2;
    t->p = realloc(t->p, t->cap);
  }
}

static void head(Text *t, const char *name) {
  put(t, "{\"format\": \"kiln-model\", \"version\": 1, \"name\": \"%s\", \"inputs\": [", name);
}

/* Relu, then count Adds each of another graph input: a residual chain fusion must cut. */
static Text add_chain(int count) {
  Text t = {0};
  head(&t, "add_chain");
  put(&t, "{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [1, 8]}");
  for (int i = 0; i < count; i++)
    put(&t, ", {\"name\": \"r%d\", \"dtype\": \"f32\", \"shape\": [1, 8]}", i);
  put(&t, "], \"nodes\": [{\"name\": \"relu\", \"op\": \"Relu\", \"inputs\": [\"x\"], "
          "\"outputs\": [\"t0\"]}");
  for (int i = 0; i < count; i++)
    put(&t,
        ", {\"name\": \"add%d\", \"op\": \"Add\", \"inputs\": [\"t%d\", \"r%d\"], \"outputs\": "
        "[\"t%d\"]}",
        i, i, i, i + 1);
  put(&t, "], \"outputs\": [{\"name\": \"t%d\"}]}", count);
  return t;
}

/* One Concat of count graph inputs [2, k, 3] (k = 1..3) along axis 1. */
static Text wide_concat(int count) {
  Text t = {0};
  head(&t, "wide_concat");
  for (int i = 0; i < count; i++)
    put(&t, "%s{\"name\": \"x%d\", \"dtype\": \"f32\", \"shape\": [2, %d, 3]}", i ? ", " : "", i,
        1 + i % 3);
  put(&t, "], \"nodes\": [{\"name\": \"cat\", \"op\": \"Concat\", \"attrs\": {\"axis\": 1}, "
          "\"inputs\": [");
  for (int i = 0; i < count; i++) put(&t, "%s\"x%d\"", i ? ", " : "", i);
  put(&t, "], \"outputs\": [\"y\"]}], \"outputs\": [{\"name\": \"y\"}]}");
  return t;
}

/* One Split of x [2, count] into count outputs, all graph outputs. */
static Text wide_split(int count) {
  Text t = {0};
  head(&t, "wide_split");
  put(&t,
      "{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [2, %d]}], \"nodes\": [{\"name\": "
      "\"split\", \"op\": \"Split\", \"attrs\": {\"axis\": 1}, \"inputs\": [\"x\"], "
      "\"outputs\": [",
      count);
  for (int i = 0; i < count; i++) put(&t, "%s\"y%d\"", i ? ", " : "", i);
  put(&t, "]}], \"outputs\": [");
  for (int i = 0; i < count; i++) put(&t, "%s{\"name\": \"y%d\"}", i ? ", " : "", i);
  put(&t, "]}");
  return t;
}

static void expect_error(const char *label, Text t, const char *message) {
  IrDiag d;
  ir_diag_init(&d, "m.json", false);
  IrGraph *g = fe_parse_model(t.p, t.len, NULL, "m", &d);
  CHECK(!g, "%s: rejected", label);
  CHECK(d.text && strstr(d.text, message), "%s: message '%s', got: %s", label, message,
        d.text ? d.text : "");
  ir_graph_free(g);
  ir_diag_free(&d);
  free(t.p);
}

static void limits(void) {
  static const int all[] = {0, 2, 3}, two[] = {0, 2};
  Text t = add_chain(300);
  model("add_chain_300", t.p, t.len, all, 3, 1);
  if (!write_dir) { /* fusion cut the chain: 1 + 300 steps in heads of at most 16 operands */
    IrGraph *g = load("add_chain_300", t.p, t.len);
    IrDiag d;
    ir_diag_init(&d, "add_chain_300", true);
    PassOptions po = {.opt_level = 2};
    CHECK(g && pass_run_pipeline(g, &po, &d) && g->n_nodes == 18,
          "add_chain_300: %d nodes after fusion, want 18", g ? g->n_nodes : -1);
    ir_diag_free(&d);
    ir_graph_free(g);
  }
  free(t.p);
  t = wide_concat(1000);
  model("concat_1000", t.p, t.len, two, 2, 2);
  free(t.p);
  t = wide_split(1000);
  model("split_1000", t.p, t.len, two, 2, 3);
  free(t.p);
  if (!write_dir) { /* over the limit: an error naming the node and the limit */
    expect_error("concat_65536", wide_concat(IR_MAX_VARIADIC + 1),
                 "m.json: nodes[0] (cat).inputs: Concat takes 1 to 65535 inputs, got 65536");
    expect_error("split_65536", wide_split(IR_MAX_VARIADIC + 1),
                 "m.json: nodes[0] (split).outputs: Split produces 1 to 65535 outputs, got 65536");
  }
}

int main(int argc, char **argv) {
  long lo = 1, hi = 17;
  int levels[4] = {0, 2, 3}, n_levels = 3;
  bool do_limits = false;
  const char *file = NULL;
  long data_seed = -1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--seeds") && i + 1 < argc) {
      if (sscanf(argv[++i], "%ld:%ld", &lo, &hi) != 2) return 2;
    } else if (!strcmp(argv[i], "--levels") && i + 1 < argc) {
      n_levels = sscanf(argv[++i], "%d,%d,%d,%d", &levels[0], &levels[1], &levels[2], &levels[3]);
      if (n_levels < 1) return 2;
    } else if (!strcmp(argv[i], "--zeros") && i + 1 < argc) {
      rg_set_zero_fraction(atof(argv[++i]));
    } else if (!strcmp(argv[i], "--winograd")) {
      rg_set_winograd_convs(true);
      conv_kernel = IR_KERNEL_CONV_WINOGRAD;
    } else if (!strcmp(argv[i], "--nchwc")) {
      CgOptions host = {.prefix = "lanes"};
      IrDiag d;
      ir_diag_init(&d, NULL, true);
      CgTargetInfo t;
      cg_target_info(&host, &t, &d);
      layout_lanes = t.lanes;
      ir_diag_free(&d);
      layout = PASS_LAYOUT_NCHWC;
      rg_set_channel_block(layout_lanes);
    } else if (!strcmp(argv[i], "--limits")) {
      do_limits = true;
    } else if (!strcmp(argv[i], "--write") && i + 1 < argc) {
      write_dir = argv[++i];
    } else if (!strcmp(argv[i], "--file") && i + 1 < argc) {
      file = argv[++i];
    } else if (!strcmp(argv[i], "--data-seed") && i + 1 < argc) {
      data_seed = atol(argv[++i]);
    } else {
      fprintf(
          stderr,
          "usage: %s [--seeds A:B] [--levels 0,2,3] [--zeros F] [--winograd] [--nchwc] [--limits] "
          "[--write DIR] "
          "[--file F]\n",
          argv[0]);
      return 2;
    }
  }
  if (getenv("CC")) cc = getenv("CC");
  if (!write_dir && !mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  if (file) {
    FILE *f = fopen(file, "rb");
    char *json = NULL;
    size_t len = 0, cap = 0, got;
    do {
      json = realloc(json, cap += 1 << 16);
      got = f ? fread(json + len, 1, cap - len, f) : 0;
      len += got;
    } while (got > 0);
    if (f) fclose(f);
    CHECK(f != NULL, "cannot read %s", file);
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    long s = 0;
    if (data_seed < 0) data_seed = sscanf(base, "rgraph_%ld", &s) == 1 ? s * 7919 : 0;
    if (f) check_model(base, json, len, levels, n_levels, (uint64_t)data_seed);
    free(json);
  } else if (do_limits) {
    limits();
  } else {
    for (long s = lo; s < hi; s++) {
      size_t len;
      char *json = rg_generate((uint64_t)s, &len);
      char name[64];
      snprintf(name, sizeof name, "rgraph_%ld", s);
      model(name, json, len, levels, n_levels, (uint64_t)s * 7919u);
      free(json);
    }
  }
  if (!write_dir) rmdir(tmpdir);
  if (layout && !write_dir && !file) {
    printf("--nchwc: %d Conv nodes got %s, %d MaxPools blocked\n", nchwc_convs,
           ir_kernel_names[IR_KERNEL_CONV_NCHWC], nchwc_pools);
    CHECK(nchwc_convs > 0, "--nchwc: no Conv got %s", ir_kernel_names[IR_KERNEL_CONV_NCHWC]);
  }
  return test_report(do_limits ? "test_random_graphs --limits" : "test_random_graphs");
}
