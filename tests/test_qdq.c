/* Pre-quantized ONNX models (tests/onnx/qdq/, tools/gen_qdq_tests.py) through the importer:
 *   - at -O2 the qdq pass must make the number of QLinearConv/QLinearConvTranspose/QGemm heads
 *     expect.txt names, and
 *     of QAdd/QConcat/QAveragePool/QGlobalAveragePool joins (joins=N, absent: 0);
 *   - at -O0 (the QDQ graph in float, no passes) and -O2 the interpreter and the compiled code
 *     (host, -O0 / -O2) agree with the numpy golden within one step of the output's scale
 *     (step=S in expect.txt; 0: exactly). Why one step: the int8 heads requantize with a Q31
 *     fixed-point multiplier and the float path sums in another order than numpy's float64, so
 *     a value on or near a rounding tie may land on the neighbouring integer; at most 5% of the
 *     elements may differ at all;
 *   - at -O2 the compiled code equals the interpreter bit for bit (the heads are integer, the
 *     Q/DQ nodes one f32 divide or multiply each).
 * usage: test_qdq DIR... [--cc CC] */
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg.h"
#include "dl_model.h"
#include "fe.h"
#include "krt.h"
#include "krt_npy.h"
#include "pass.h"
#include "test_util.h"

static IrGraph *load(const char *dir, int level) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  IrDiag d;
  ir_diag_init(&d, path, true);
  IrGraph *g = fe_load_model(path, &d);
  PassOptions po = {.opt_level = level, .workspace_align = 64, .verify_each = true};
  if (g && !pass_run_pipeline(g, &po, &d)) {
    ir_graph_free(g);
    g = NULL;
  }
  ir_diag_free(&d);
  CHECK(g != NULL, "%s: load -O%d failed", dir, level);
  return g;
}

/* got against want: f32 within step (at most 5% of the elements off at all), others exact. */
static void check_close(const char *what, const krt_npy *want, const void *got, double step) {
  if (want->dtype != KRT_F32 || step == 0) {
    CHECK(memcmp(got, want->data, want->nbytes) == 0, "%s: differs from the golden", what);
    return;
  }
  const float *g = got, *w = want->data;
  long off = 0;
  double worst = 0;
  for (long i = 0; i < (long)want->numel; i++) {
    double e = fabs((double)g[i] - (double)w[i]);
    off += e > 1e-6 * fabs((double)w[i]) + 1e-7;
    if (!(e <= worst)) worst = e;
  }
  CHECK(worst <= step * 1.001, "%s: max |error| %g is more than one step %g", what, worst, step);
  CHECK(off * 20 <= (long)want->numel, "%s: %ld of %ld elements differ from the golden", what, off,
        (long)want->numel);
  printf("  %-40s max |error| %.3g (%.2f steps), %ld of %ld elements differ\n", what, worst,
         worst / step, off, (long)want->numel);
}

static void check_case(const char *dir) {
  char path[PATH_MAX], err[512];
  int heads = -1, joins = 0;
  double step = -1;
  snprintf(path, sizeof path, "%s/expect.txt", dir);
  FILE *f = fopen(path, "r");
  CHECK(f && fscanf(f, "heads=%d step=%lf", &heads, &step) == 2, "%s: unreadable", path);
  if (f && fscanf(f, " joins=%d", &joins) != 1) joins = 0;
  if (f) fclose(f);
  printf("%s\n", dir);
  for (int level = 0; level <= 2; level += 2) {
    IrGraph *g = load(dir, level);
    if (!g) return;
    int n_heads = 0, n_joins = 0;
    for (int i = 0; i < g->n_nodes; i++) {
      IrOp op = g->nodes[i]->op;
      n_heads +=
          op == IR_OP_QLINEAR_CONV || op == IR_OP_QGEMM || op == IR_OP_QLINEAR_CONV_TRANSPOSE;
      n_joins += op == IR_OP_QADD || op == IR_OP_QCONCAT || op == IR_OP_QAVERAGE_POOL ||
                 op == IR_OP_QGLOBAL_AVERAGE_POOL;
    }
    CHECK(n_heads == (level ? heads : 0), "%s -O%d: %d int8 heads, expected %d", dir, level,
          n_heads, level ? heads : 0);
    CHECK(n_joins == (level ? joins : 0), "%s -O%d: %d int8 joins, expected %d", dir, level,
          n_joins, level ? joins : 0);
    krt_npy in[8] = {0}, want[8] = {0};
    const void *ins[8];
    void *interp[8], *comp[8];
    for (int k = 0; k < g->n_inputs && k < 8; k++) {
      snprintf(path, sizeof path, "%s/inputs/%s.npy", dir, g->inputs[k]->name);
      CHECK(krt_npy_read(path, &in[k], err, sizeof err), "%s", err);
      ins[k] = in[k].data;
    }
    for (int k = 0; k < g->n_outputs && k < 8; k++) {
      snprintf(path, sizeof path, "%s/golden/%s.npy", dir, g->outputs[k]->name);
      CHECK(krt_npy_read(path, &want[k], err, sizeof err), "%s", err);
      interp[k] = calloc(1, (size_t)want[k].nbytes + 1);
      comp[k] = calloc(1, (size_t)want[k].nbytes + 1);
    }
    DlModel l = {0};
    CHECK(dl_load(g, level, &l), "%s: compiling -O%d failed", dir, level);
    void *lib = l.lib;
    const krt_model *m = l.m;
    unsigned char *ws = m ? aligned_alloc(64, ((size_t)m->workspace_size + 64) / 64 * 64) : NULL;
    CHECK(ir_interp_run(g, ins, interp) == 0, "%s: interpreter run", dir);
    CHECK(!m || m->run(ins, comp, ws) == KRT_OK, "%s: compiled run", dir);
    for (int k = 0; k < g->n_outputs && k < 8; k++) {
      char what[256];
      snprintf(what, sizeof what, "-O%d interpreter %s", level, g->outputs[k]->name);
      check_close(what, &want[k], interp[k], step);
      snprintf(what, sizeof what, "-O%d compiled %s", level, g->outputs[k]->name);
      if (m) check_close(what, &want[k], comp[k], step);
      if (m && level)
        CHECK(memcmp(interp[k], comp[k], want[k].nbytes) == 0,
              "%s -O2: compiled code differs from the interpreter", dir);
      free(interp[k]);
      free(comp[k]);
      krt_npy_free(&want[k]);
    }
    for (int k = 0; k < g->n_inputs && k < 8; k++) krt_npy_free(&in[k]);
    free(ws);
    if (lib) dlclose(lib);
    ir_graph_free(g);
  }
}

int main(int argc, char **argv) {
  if (!mkdtemp(dl_tmpdir)) return 2;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--cc") && i + 1 < argc)
      dl_cc = argv[++i];
    else
      check_case(argv[i]);
  }
  rmdir(dl_tmpdir);
  return test_report("qdq");
}
