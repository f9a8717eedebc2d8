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
 *     Q/DQ nodes one f32 divide or multiply each);
 *   - at -O0 and -O2 the importer makes integer=N MatMulInteger and ConvInteger nodes (absent:
 *     0), each on the int8 kernel (qgemm-dot4 / qconv-im2col-dot4, what `kiln inspect` shows).
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
#include "quant.h"
#include "test_util.h"

/* inputs and outputs of a case at most (the arrays the runs write) */
enum { QDQ_MAX_IO = 16 };

/* The model through the -O<level> pipeline (with --quant-io=int8 when int8_io; then a refusal
 * is returned as NULL with the first diagnostic in err). */
static IrGraph *load_io(const char *dir, int level, bool int8_io, char *err, size_t cap) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  IrDiag d;
  ir_diag_init(&d, path, !int8_io);
  IrGraph *g = fe_load_model(path, &d);
  PassQuantOptions qo = {.int8_io = true};
  PassOptions po = {.opt_level = level,
                    .workspace_align = 64,
                    .verify_each = true,
                    .quant = int8_io ? &qo : NULL};
  if (g && !pass_run_pipeline(g, &po, &d)) {
    ir_graph_free(g);
    g = NULL;
  }
  if (err) snprintf(err, cap, "%s", d.n_errors && d.text ? d.text : "");
  ir_diag_free(&d);
  return g;
}

static IrGraph *load(const char *dir, int level) {
  IrGraph *g = load_io(dir, level, false, NULL, 0);
  CHECK(g != NULL, "%s: load -O%d failed", dir, level);
  return g;
}

/* --quant-io=int8 (-O2): the boundary QuantizeLinear / DequantizeLinear go, the model takes and
 * returns their int8 tensors. The float inputs quantized with the input's parameters, run by
 * the interpreter and the compiled code, dequantized with the output's: equal to the float-I/O
 * model's outputs (want) bit for bit. Models whose inputs are integers already or quantized at
 * run time (DynamicQuantizeLinear) are refused with a message naming the input. */
static void check_int8_io(const char *dir, const krt_npy *in, void *const *want) {
  char err[1024];
  IrGraph *g = load_io(dir, 2, true, err, sizeof err);
  const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
  bool refuse = !strcmp(base, "integer_ops") || !strncmp(base, "dynamic_", 8);
  if (refuse) {
    CHECK(!g && strstr(err, "--quant-io=int8: input '") && strstr(err, "use --quant-io=float"),
          "%s --quant-io=int8: expected a refusal naming the input, got '%s'", dir, err);
    if (!g) printf("  --quant-io=int8 refused: %s\n", err);
    ir_graph_free(g);
    return;
  }
  CHECK(g != NULL, "%s --quant-io=int8: %s", dir, err);
  if (!g) return;
  const void *ins[QDQ_MAX_IO];
  void *interp[QDQ_MAX_IO], *comp[QDQ_MAX_IO];
  int8_t *q[QDQ_MAX_IO] = {0};
  for (int k = 0; k < g->n_inputs && k < QDQ_MAX_IO; k++) {
    const IrValue *x = g->inputs[k];
    CHECK(x->dtype == IR_I8 && x->quant, "%s: input %d is not int8", dir, k);
    if (x->dtype != IR_I8 || !x->quant) return;
    q[k] = malloc((size_t)in[k].numel + 1);
    for (int64_t i = 0; i < in[k].numel; i++)
      q[k][i] = ir_quantize_f32(((const float *)in[k].data)[i], x->quant->scale[0],
                                (int32_t)x->quant->zero_point[0]);
    ins[k] = q[k];
  }
  DlModel l = {0};
  CHECK(dl_load(g, 2, &l), "%s: compiling --quant-io=int8 failed", dir);
  unsigned char *ws = l.m ? aligned_alloc(64, ((size_t)l.m->workspace_size + 64) / 64 * 64) : NULL;
  for (int k = 0; k < g->n_outputs && k < QDQ_MAX_IO; k++) {
    interp[k] = calloc(1, (size_t)ir_value_numel(g->outputs[k]) + 1);
    comp[k] = calloc(1, (size_t)ir_value_numel(g->outputs[k]) + 1);
  }
  CHECK(ir_interp_run(g, ins, interp) == 0, "%s: int8-I/O interpreter run", dir);
  CHECK(!l.m || l.m->run(ins, comp, ws) == KRT_OK, "%s: int8-I/O compiled run", dir);
  for (int k = 0; k < g->n_outputs && k < QDQ_MAX_IO; k++) {
    const IrValue *y = g->outputs[k];
    CHECK(y->dtype == IR_I8 && y->quant, "%s: output %d is not int8", dir, k);
    int64_t n = ir_value_numel(y);
    bool same = y->dtype == IR_I8 && y->quant;
    for (int64_t i = 0; same && i < n; i++) {
      float f = ir_dequantize_i8(((const int8_t *)interp[k])[i], y->quant->scale[0],
                                 (int32_t)y->quant->zero_point[0]);
      same = memcmp(&f, (const float *)want[k] + i, sizeof f) == 0;
    }
    CHECK(same, "%s --quant-io=int8: dequantized output %s differs from the float-I/O model", dir,
          y->name);
    CHECK(!l.m || memcmp(interp[k], comp[k], (size_t)n) == 0,
          "%s --quant-io=int8: compiled code differs from the interpreter", dir);
    free(interp[k]);
    free(comp[k]);
  }
  printf("  --quant-io=int8: %d input(s), %d output(s) int8, equal to the float-I/O model\n",
         g->n_inputs, g->n_outputs);
  for (int k = 0; k < QDQ_MAX_IO; k++) free(q[k]);
  free(ws);
  if (l.lib) dlclose(l.lib);
  ir_graph_free(g);
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
  int heads = -1, joins = 0, integer = 0;
  double step = -1;
  snprintf(path, sizeof path, "%s/expect.txt", dir);
  FILE *f = fopen(path, "r");
  CHECK(f && fscanf(f, "heads=%d step=%lf", &heads, &step) == 2, "%s: unreadable", path);
  if (f && fscanf(f, " joins=%d", &joins) != 1) joins = 0;
  if (f && fscanf(f, " integer=%d", &integer) != 1) integer = 0;
  if (f) fclose(f);
  printf("%s\n", dir);
  for (int level = 0; level <= 2; level += 2) {
    IrGraph *g = load(dir, level);
    if (!g) return;
    int n_heads = 0, n_joins = 0, n_integer = 0;
    for (int i = 0; i < g->n_nodes; i++) {
      IrOp op = g->nodes[i]->op;
      if (op == IR_OP_MATMUL_INTEGER || op == IR_OP_CONV_INTEGER) {
        n_integer++;
        IrKernel want = op == IR_OP_CONV_INTEGER ? IR_KERNEL_QCONV_DOT4 : IR_KERNEL_QGEMM_DOT4;
        CHECK(g->nodes[i]->kernel == want && g->nodes[i]->scratch_bytes > 0,
              "%s -O%d: %s '%s' is not on the int8 kernel", dir, level, ir_op_info[op].name,
              g->nodes[i]->name);
      }
      n_heads +=
          op == IR_OP_QLINEAR_CONV || op == IR_OP_QGEMM || op == IR_OP_QLINEAR_CONV_TRANSPOSE;
      n_joins += op == IR_OP_QADD || op == IR_OP_QCONCAT || op == IR_OP_QAVERAGE_POOL ||
                 op == IR_OP_QGLOBAL_AVERAGE_POOL;
    }
    CHECK(n_heads == (level ? heads : 0), "%s -O%d: %d int8 heads, expected %d", dir, level,
          n_heads, level ? heads : 0);
    CHECK(n_joins == (level ? joins : 0), "%s -O%d: %d int8 joins, expected %d", dir, level,
          n_joins, level ? joins : 0);
    CHECK(n_integer == integer, "%s -O%d: %d MatMulInteger/ConvInteger nodes, expected %d", dir,
          level, n_integer, integer);
    CHECK(g->n_inputs <= QDQ_MAX_IO && g->n_outputs <= QDQ_MAX_IO,
          "%s: more than %d inputs or outputs", dir, QDQ_MAX_IO);
    if (g->n_inputs > QDQ_MAX_IO || g->n_outputs > QDQ_MAX_IO) {
      ir_graph_free(g);
      return;
    }
    krt_npy in[QDQ_MAX_IO] = {0}, want[QDQ_MAX_IO] = {0};
    const void *ins[QDQ_MAX_IO];
    void *interp[QDQ_MAX_IO], *comp[QDQ_MAX_IO];
    for (int k = 0; k < g->n_inputs && k < QDQ_MAX_IO; k++) {
      snprintf(path, sizeof path, "%s/inputs/%s.npy", dir, g->inputs[k]->name);
      CHECK(krt_npy_read(path, &in[k], err, sizeof err), "%s", err);
      ins[k] = in[k].data;
    }
    for (int k = 0; k < g->n_outputs && k < QDQ_MAX_IO; k++) {
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
    for (int k = 0; k < g->n_outputs && k < QDQ_MAX_IO; k++) {
      char what[256];
      snprintf(what, sizeof what, "-O%d interpreter %s", level, g->outputs[k]->name);
      check_close(what, &want[k], interp[k], step);
      snprintf(what, sizeof what, "-O%d compiled %s", level, g->outputs[k]->name);
      if (m) check_close(what, &want[k], comp[k], step);
      if (m && level)
        CHECK(memcmp(interp[k], comp[k], want[k].nbytes) == 0,
              "%s -O2: compiled code differs from the interpreter", dir);
    }
    if (level) check_int8_io(dir, in, interp);
    for (int k = 0; k < g->n_outputs && k < QDQ_MAX_IO; k++) {
      free(interp[k]);
      free(comp[k]);
      krt_npy_free(&want[k]);
    }
    for (int k = 0; k < g->n_inputs && k < QDQ_MAX_IO; k++) krt_npy_free(&in[k]);
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
