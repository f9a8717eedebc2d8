/* int8 quantization on real data (tests/digits, tools/train_digits.py): for each digits model,
 * calibrate on the committed calibration samples, then over the 360 test images
 *   - fp32 accuracy (compile-time evaluator) and int8 accuracy (interpreter, the oracle):
 *     int8 within 1 point of fp32, top-1 agreement with fp32 >= 98%;
 *   - the compiled int8 code (-O0 and -O2, host) bit-exact with the interpreter on every image;
 * and every observer (minmax, percentile, mse) gives a model within the same bounds.
 * usage: test_quant ROOT (the source tree) [--cc CC] */
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
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

static char tmpdir[] = "/tmp/kiln-test-quant-XXXXXX";
static const char *cc = "cc";
static const char *root;

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
  PassOptions po = {.opt_level = level, .workspace_align = 64, .verify_each = true, .quant = q};
  if (g && !pass_run_pipeline(g, &po, &d)) {
    ir_graph_free(g);
    g = NULL;
  }
  ir_diag_free(&d);
  CHECK(g != NULL, "%s: load/quantize failed", model);
  return g;
}

/* Compiles g into a shared library and returns its model descriptor (lib receives the handle). */
static const krt_model *compile(const IrGraph *g, int level, void **lib) {
  static int serial;
  char prefix[64], obj[PATH_MAX], so[PATH_MAX], cmd[3 * PATH_MAX];
  snprintf(prefix, sizeof prefix, "q%d_model", serial++);
  snprintf(obj, sizeof obj, "%s/%s.o", tmpdir, prefix);
  snprintf(so, sizeof so, "%s/%s.so", tmpdir, prefix);
  CgOptions o = {.prefix = prefix, .opt_level = level, .emit = CG_EMIT_OBJ, .pic = true};
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

static void check_model(const char *model, const Data *dt, PassObserver obs, double pct,
                        bool compiled) {
  const char *oname = obs == PASS_OBS_MINMAX ? "minmax" : obs == PASS_OBS_MSE ? "mse" : "percentile";
  IrGraph *gf = load(model, NULL, 0);
  const float *cal[1] = {dt->calib.data};
  int64_t n_cal = dt->calib.dims[0];
  PassQuantOptions q = {.samples = cal, .n_samples = (int)n_cal, .observer = obs,
                        .percentile = pct};
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
  CHECK(aq >= af - 1.0, "%s (%s): int8 accuracy %.2f%% more than 1 point below fp32 %.2f%%",
        model, oname, aq, af);
  CHECK(ag >= 98.0, "%s (%s): agreement %.2f%% < 98%%", model, oname, ag);
  CHECK(mismatched == 0, "%s: compiled int8 differs from the interpreter on %d of %d images",
        model, mismatched, dt->n);
  free(ws);
  if (lib) dlclose(lib);
  ir_graph_free(gf);
  ir_graph_free(gq);
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
  }
  krt_npy_free(&dt.x);
  krt_npy_free(&dt.y);
  krt_npy_free(&dt.calib);
  rmdir(tmpdir);
  return test_report("quant");
}
