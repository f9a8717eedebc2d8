/* `--eval DIR` (eval.h). */
#include "eval.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "krt.h"
#include "pass.h"

/* "[a,b,c]"; a negative dim prints as N (the sample axis) */
static const char *dims_text(int rank, const int64_t *dims, char *buf, size_t size) {
  size_t at = (size_t)snprintf(buf, size, "[");
  for (int k = 0; k < rank && at < size; k++)
    at += (size_t)(dims[k] < 0
                       ? snprintf(buf + at, size - at, "%sN", k ? "," : "")
                       : snprintf(buf + at, size - at, "%s%lld", k ? "," : "", (long long)dims[k]));
  if (at < size) snprintf(buf + at, size - at, "]");
  return buf;
}

static int64_t argmax(const float *y, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (y[i] > y[best]) best = i;
  return best;
}

bool kiln_eval_classes(const KilnEval *e, const IrGraph *g, int64_t *classes) {
  const IrValue *y = g->outputs[0];
  const void **ins = calloc((size_t)g->n_inputs + 1, sizeof *ins);
  void **outs = calloc((size_t)g->n_outputs + 1, sizeof *outs);
  if (!ins || !outs) abort();
  for (int j = 0; j < g->n_outputs; j++)
    if (!(outs[j] = malloc((size_t)ir_value_nbytes(g->outputs[j]) + 16))) abort();
  bool ok = true;
  for (int64_t s = 0; s < e->samples && ok; s++) {
    for (int i = 0; i < g->n_inputs; i++)
      ins[i] = (const char *)e->in[i].data + (size_t)s * (size_t)ir_value_nbytes(g->inputs[i]);
    ok = pass_eval_run(g, ins, outs, NULL, NULL) == 0; /* the calibration's fast evaluator */
    classes[s] = argmax(outs[0], ir_value_numel(y));
  }
  for (int j = 0; j < g->n_outputs; j++) free(outs[j]);
  free(outs);
  free(ins);
  return ok;
}

static double percent(int64_t n, int64_t of) { return of ? 100.0 * (double)n / (double)of : 0.0; }

static double accuracy(const KilnEval *e, const int64_t *classes) {
  int64_t right = 0;
  for (int64_t s = 0; s < e->samples; s++) right += classes[s] == e->labels[s];
  return percent(right, e->samples);
}

bool kiln_eval_begin(KilnEval *e, const char *dir, const IrGraph *g, double max_drop, IrDiag *d) {
  memset(e, 0, sizeof *e);
  e->dir = dir;
  e->max_drop = max_drop;
  char path[PATH_MAX], err[512];
  if (g->n_outputs < 1 || g->outputs[0]->dtype != IR_F32) {
    ir_diag_error(d, "--eval", "the model's first output must be f32 scores to compare classes");
    return false;
  }
  e->in = calloc((size_t)g->n_inputs + 1, sizeof *e->in);
  if (!e->in) abort();
  e->n_inputs = g->n_inputs;
  for (int i = 0; i < g->n_inputs; i++) {
    const IrValue *v = g->inputs[i];
    snprintf(path, sizeof path, "%s/%s.npy", dir, v->name);
    if (!krt_npy_read(path, &e->in[i], err, sizeof err)) {
      ir_diag_error(d, "--eval", "%s", err);
      return false;
    }
    const krt_npy *a = &e->in[i];
    bool shape =
        v->rank >= 1 && v->dims[0] == 1 && a->rank == v->rank && a->dtype == (int32_t)v->dtype;
    for (int k = 1; shape && k < v->rank; k++) shape = a->dims[k] == v->dims[k];
    if (!shape) {
      char want[128], got[128];
      int64_t dims[IR_MAX_RANK];
      for (int k = 0; k < v->rank; k++) dims[k] = k ? v->dims[k] : -1;
      dims_text(v->rank, dims, want, sizeof want);
      dims_text(a->rank, a->dims, got, sizeof got);
      ir_diag_error(d, "--eval",
                    "%s: expected %s%s (samples along axis 0 of an input whose batch is 1), the "
                    "file holds %s%s",
                    path, ir_dtype_name(v->dtype), want, krt_dtype_name(a->dtype), got);
      return false;
    }
    if (i == 0) e->samples = a->dims[0];
    if (a->dims[0] != e->samples || a->dims[0] < 1) {
      ir_diag_error(d, "--eval", "%s: %lld samples, the other inputs have %lld", path,
                    (long long)a->dims[0], (long long)e->samples);
      return false;
    }
  }
  snprintf(path, sizeof path, "%s/labels.npy", dir);
  FILE *f = fopen(path, "rb");
  if (f) {
    fclose(f);
    krt_npy l;
    if (!krt_npy_read(path, &l, err, sizeof err)) {
      ir_diag_error(d, "--eval", "%s", err);
      return false;
    }
    bool ok = l.rank == 1 && l.dims[0] == e->samples && (l.dtype == KRT_I64 || l.dtype == KRT_I32);
    if (!ok) {
      ir_diag_error(d, "--eval", "%s: expected i64[%lld] (one class per sample)", path,
                    (long long)e->samples);
      krt_npy_free(&l);
      return false;
    }
    e->labels = malloc(sizeof(int64_t) * (size_t)e->samples);
    if (!e->labels) abort();
    for (int64_t s = 0; s < e->samples; s++)
      e->labels[s] = l.dtype == KRT_I64 ? ((int64_t *)l.data)[s] : ((int32_t *)l.data)[s];
    krt_npy_free(&l);
  }
  e->ref = malloc(sizeof(int64_t) * (size_t)e->samples);
  if (!e->ref) abort();
  if (!kiln_eval_classes(e, g, e->ref)) {
    ir_diag_error(d, "--eval", "the model does not run on the data of %s", dir);
    return false;
  }
  if (e->labels) {
    e->ref_accuracy = accuracy(e, e->ref);
    printf("kiln: eval on %lld samples of %s: accuracy %.2f%% before pruning\n",
           (long long)e->samples, dir, e->ref_accuracy);
  }
  return true;
}

bool kiln_eval_after_lossy(void *ctx, const IrGraph *g, const char *step, IrDiag *d) {
  KilnEval *e = ctx;
  int64_t *cls = malloc(sizeof(int64_t) * (size_t)e->samples);
  if (!cls) abort();
  if (!kiln_eval_classes(e, g, cls)) {
    free(cls);
    ir_diag_error(d, "--eval", "the model does not run on the data after %s", step);
    return false;
  }
  int64_t same = 0;
  for (int64_t s = 0; s < e->samples; s++) same += cls[s] == e->ref[s];
  double agree = percent(same, e->samples), drop = 100.0 - agree;
  printf("kiln: eval after %s: agreement %.2f%% with the unpruned model", step, agree);
  if (e->labels) {
    double acc = accuracy(e, cls);
    drop = e->ref_accuracy - acc;
    printf(", accuracy %.2f%% (%+.2f points)", acc, -drop);
  }
  printf("\n");
  fflush(stdout);
  free(cls);
  if (e->max_drop >= 0 && drop > e->max_drop) {
    ir_diag_error(d, "--max-accuracy-drop",
                  "%s lost %.2f points of %s, more than the %.2f allowed; nothing written", step,
                  drop, e->labels ? "accuracy" : "agreement", e->max_drop);
    return false;
  }
  return true;
}

void kiln_eval_end(KilnEval *e) {
  for (int i = 0; i < e->n_inputs; i++) krt_npy_free(&e->in[i]);
  free(e->in);
  free(e->labels);
  free(e->ref);
  memset(e, 0, sizeof *e);
}
