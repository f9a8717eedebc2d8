/* Checks model directories (examples/<name>, tests/ops/<case>) against their PyTorch goldens:
 *   model.json (else model.onnx, through the ONNX importer), inputs/<input>.npy,
 *   golden/<output>.npy (file stems from the value names by krt_npy_file_stem)
 * Each case runs at -O0 (no graph passes) and -O3 (the full pass pipeline) two ways: the
 * reference interpreter on the graph after the passes, and the object compiled at that level
 * (linked into a shared library and loaded with dlopen); all must match the golden within
 * rtol 1e-4 / atol 1e-5 (the tolerance of issue #2; float32 with different summation orders).
 * --sparse KIND (block, csr, unrolled, dense) forces that kernel for weights with exact zeros
 * wherever it applies (PassOptions.sparse_kernel) and checks, at -O3, that some node got it.
 * --layout nchwc forces the blocked activation layout (passes/pass_layout.c) with the host's
 * vector width and checks that some Conv got the blocked kernel.
 * --prune SPEC runs the prune pass with that lossy spec (kiln --prune): the golden no longer
 * applies (at -O0, no passes, it still does), so the compiled code is checked against the
 * interpreter on the pruned graph.
 * --O2 checks -O2 as well (op and ONNX cases: LLVM 19 miscompiled one op case at -O2 only).
 * usage: test_models [--O2] [--sparse KIND] [--layout nchwc] [--prune SPEC] [--cc CC] DIR...
 * or   test_models --manifest ROOT MANIFEST
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg.h"
#include "fe.h"
#include "krt.h"
#include "krt_npy.h"
#include "pass.h"
#include "test_util.h"

#define RTOL 1e-4
#define ATOL 1e-5

static char tmpdir[] = "/tmp/kiln-test-models-XXXXXX";
static int sparse_kernel; /* --sparse: PassOptions.sparse_kernel */
static const char *prune; /* --prune: PassOptions.prune */
static int layout;        /* --layout nchwc: PassOptions.layout */
static int layout_lanes;  /* the host's f32 lanes, the block of --layout nchwc */
static int nchwc_convs;   /* nodes that got IR_KERNEL_CONV_NCHWC */
static const char *cc = "cc";

typedef struct {
  int n_in, n_out;
  krt_npy *in, *golden;
} CaseData;

/* The file stem of values[k] among values[0..n) (krt_npy_file_stem). */
static void value_stem(IrValue *const *values, int n, int k, char *buf, size_t size) {
  const char **names = calloc((size_t)n + 1, sizeof *names);
  if (!names) abort();
  for (int i = 0; i < n; i++) names[i] = values[i]->name;
  krt_npy_file_stem(names, n, k, buf, size);
  free(names);
}

/* dir/model.json, or dir/model.onnx where there is no JSON. */
static void model_path(const char *dir, char *path, size_t size) {
  snprintf(path, size, "%s/model.json", dir);
  if (access(path, F_OK) != 0) snprintf(path, size, "%s/model.onnx", dir);
}

static bool load_case_data(const char *dir, const IrGraph *g, CaseData *c) {
  char stem[512];
  char path[PATH_MAX], err[512];
  c->n_in = g->n_inputs;
  c->n_out = g->n_outputs;
  c->in = calloc((size_t)g->n_inputs + 1, sizeof *c->in);
  c->golden = calloc((size_t)g->n_outputs + 1, sizeof *c->golden);
  for (int i = 0; i < g->n_inputs; i++) {
    value_stem(g->inputs, g->n_inputs, i, stem, sizeof stem);
    snprintf(path, sizeof path, "%s/inputs/%s.npy", dir, stem);
    const IrValue *v = g->inputs[i];
    if (!krt_npy_read(path, &c->in[i], err, sizeof err) ||
        !krt_npy_check(&c->in[i], (int32_t)v->dtype, v->rank, v->dims, err, sizeof err)) {
      CHECK(false, "%s: %s", path, err);
      return false;
    }
  }
  for (int j = 0; j < g->n_outputs; j++) {
    value_stem(g->outputs, g->n_outputs, j, stem, sizeof stem);
    snprintf(path, sizeof path, "%s/golden/%s.npy", dir, stem);
    if (!krt_npy_read(path, &c->golden[j], err, sizeof err)) {
      CHECK(false, "%s", err);
      return false;
    }
    CHECK(c->golden[j].nbytes == (size_t)ir_value_nbytes(g->outputs[j]),
          "%s: golden size differs from the model's output", path);
    if (c->golden[j].nbytes != (size_t)ir_value_nbytes(g->outputs[j])) return false;
  }
  return true;
}

static void free_case_data(CaseData *c) {
  for (int i = 0; i < c->n_in; i++) krt_npy_free(&c->in[i]);
  for (int j = 0; j < c->n_out; j++) krt_npy_free(&c->golden[j]);
  free(c->in);
  free(c->golden);
}

static void compare_outputs(const char *what, const IrGraph *g, const CaseData *c,
                            void *const *outs) {
  for (int j = 0; j < g->n_outputs; j++) {
    char label[512];
    snprintf(label, sizeof label, "%s: output %s", what, g->outputs[j]->name);
    if (g->outputs[j]->dtype == IR_F32)
      CHECK(test_close_f32(outs[j], c->golden[j].data, (long)ir_value_numel(g->outputs[j]), RTOL,
                           ATOL, label),
            "%s differs from the golden", label);
    else
      CHECK(!memcmp(outs[j], c->golden[j].data, c->golden[j].nbytes), "%s differs", label);
  }
}

static void **alloc_outputs(const IrGraph *g) {
  void **outs = calloc((size_t)g->n_outputs + 1, sizeof *outs);
  for (int j = 0; j < g->n_outputs; j++)
    outs[j] = calloc(1, (size_t)ir_value_nbytes(g->outputs[j]) + 64);
  return outs;
}

static void free_outputs(const IrGraph *g, void **outs) {
  for (int j = 0; j < g->n_outputs; j++) free(outs[j]);
  free(outs);
}

/* Compiles g at the given level, loads it and checks it against the golden. */
static void check_compiled(const char *label, const IrGraph *g, const CaseData *c, int level) {
  static int serial;
  char prefix[64], obj[PATH_MAX], so[PATH_MAX], cmd[3 * PATH_MAX], what[PATH_MAX + 128];
  snprintf(prefix, sizeof prefix, "t%d_model", serial++);
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
  if (!lib) return;
  char sym[128];
  snprintf(sym, sizeof sym, "%s_model", prefix);
  const krt_model *m = dlsym(lib, sym);
  CHECK(m != NULL, "%s: no symbol %s", what, sym);
  if (m) {
    CHECK(m->workspace_size == (uint64_t)g->workspace_size,
          "%s: descriptor workspace %llu, plan %lld", what, (unsigned long long)m->workspace_size,
          (long long)g->workspace_size);
    const void **ins = calloc((size_t)g->n_inputs + 1, sizeof *ins);
    for (int i = 0; i < g->n_inputs; i++) ins[i] = c->in[i].data;
    void **outs = alloc_outputs(g);
    size_t ws_bytes = (size_t)m->workspace_size;
    unsigned char *ws = aligned_alloc(64, (ws_bytes + 64) / 64 * 64);
    memset(ws, 0xA5, ws_bytes); /* garbage: generated code must not read before writing */
    int rc = m->run(ins, outs, ws);
    CHECK(rc == KRT_OK, "%s: run returned %d", what, rc);
    if (rc == KRT_OK) compare_outputs(what, g, c, outs);
    free(ws);
    free_outputs(g, outs);
    free(ins);
  }
  dlclose(lib);
  remove(obj);
  remove(so);
}

/* Loads the case, runs the pass pipeline of `level` (verifier after every pass) and checks the
 * plan against its lower bound (issue #4: within 5%), the interpreter on the optimized graph and
 * the code compiled at the same level against the golden. */
static void check_level(const char *dir, int level) {
  char path[PATH_MAX], label[PATH_MAX + 32];
  model_path(dir, path, sizeof path);
  snprintf(label, sizeof label, "%s (passes -O%d)", dir, level);
  IrDiag d;
  ir_diag_init(&d, path, true);
  IrGraph *g = fe_load_model(path, &d);
  CHECK(g != NULL, "%s: does not load", path);
  if (!g) {
    ir_diag_free(&d);
    return;
  }
  PassOptions po = {.opt_level = level,
                    .workspace_align = 64,
                    .verify_each = true,
                    .sparse_kernel = sparse_kernel,
                    .layout = layout,
                    .vec_lanes = layout_lanes,
                    .prune = level ? prune : NULL};
  bool ok = pass_run_pipeline(g, &po, &d);
  CHECK(ok, "%s: pass pipeline failed: %s", label, d.text ? d.text : "");
  if (ok && level == 3 && sparse_kernel && sparse_kernel != IR_KERNEL_COUNT) {
    int used = 0;
    for (int i = 0; i < g->n_nodes; i++) used += (int)g->nodes[i]->kernel == sparse_kernel;
    CHECK(used > 0, "%s: no node uses %s", label, ir_kernel_names[sparse_kernel]);
  }
  for (int i = 0; ok && i < g->n_nodes; i++)
    nchwc_convs += g->nodes[i]->kernel == IR_KERNEL_CONV_NCHWC;
  int64_t bound = pass_memplan_lower_bound(g, 64);
  CHECK(g->workspace_size >= bound, "%s: plan %lld below the lower bound %lld", label,
        (long long)g->workspace_size, (long long)bound);
  CHECK(g->workspace_size * 100 <= bound * 105, "%s: workspace %lld > 1.05 x lower bound %lld",
        label, (long long)g->workspace_size, (long long)bound);
  ir_diag_free(&d);
  CaseData c = {0};
  if (ok && load_case_data(dir, g, &c)) {
    const void **ins = calloc((size_t)g->n_inputs + 1, sizeof *ins);
    for (int i = 0; i < g->n_inputs; i++) ins[i] = c.in[i].data;
    void **outs = alloc_outputs(g);
    char what[PATH_MAX + 64];
    snprintf(what, sizeof what, "%s (interpreter)", label);
    int rc = ir_interp_run(g, ins, outs);
    CHECK(rc == 0, "%s: returned %d", what, rc);
    if (rc == 0 && prune && level)
      for (int j = 0; j < g->n_outputs; j++) /* the pruned model's own reference */
        memcpy(c.golden[j].data, outs[j], c.golden[j].nbytes);
    if (rc == 0) compare_outputs(what, g, &c, outs);
    free_outputs(g, outs);
    free(ins);
    check_compiled(label, g, &c, level);
  }
  free_case_data(&c);
  ir_graph_free(g);
}

static bool with_o2; /* --O2: also -O2 (its LLVM pipeline differs from -O3's) */

static void check_case(const char *dir) {
  check_level(dir, 0);
  if (with_o2) check_level(dir, 2);
  check_level(dir, 3);
}

int main(int argc, char **argv) {
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  if (getenv("CC") && *getenv("CC")) cc = getenv("CC");
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--O2")) {
      with_o2 = true;
    } else if (!strcmp(argv[i], "--sparse") && i + 1 < argc) {
      const char *k = argv[++i];
      sparse_kernel = !strcmp(k, "block")      ? IR_KERNEL_SPARSE_BLOCK
                      : !strcmp(k, "csr")      ? IR_KERNEL_SPARSE_CSR
                      : !strcmp(k, "unrolled") ? IR_KERNEL_SPARSE_UNROLLED
                                               : IR_KERNEL_COUNT;
    } else if (!strcmp(argv[i], "--layout") && i + 1 < argc) {
      CHECK(!strcmp(argv[++i], "nchwc"), "--layout: only nchwc is a forced layout");
      layout = PASS_LAYOUT_NCHWC;
      CgOptions host = {.prefix = "lanes"};
      IrDiag d;
      ir_diag_init(&d, NULL, true);
      CgTargetInfo t;
      cg_target_info(&host, &t, &d);
      layout_lanes = t.lanes;
      ir_diag_free(&d);
    } else if (!strcmp(argv[i], "--prune") && i + 1 < argc) {
      prune = argv[++i];
    } else if (!strcmp(argv[i], "--manifest") && i + 2 < argc) {
      const char *root = argv[i + 1];
      FILE *f = fopen(argv[i + 2], "r");
      CHECK(f != NULL, "cannot open %s", argv[i + 2]);
      char line[1024];
      while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", root, line);
        check_case(dir);
      }
      if (f) fclose(f);
      i += 2;
    } else {
      check_case(argv[i]);
    }
  }
  rmdir(tmpdir);
  if (layout)
    CHECK(nchwc_convs > 0, "--layout nchwc: no Conv got %s", ir_kernel_names[IR_KERNEL_CONV_NCHWC]);
  return test_report("models");
}
