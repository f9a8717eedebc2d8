/* `--eval DIR`: the cost of lossy passes measured on data (issue 11). DIR holds one .npy per
 * graph input, named after it, with the samples stacked along axis 0 (the input's own batch
 * axis must be 1), and optionally labels.npy (i64 or i32, one class per sample). Before the
 * passes, the model as loaded gives the reference classes (argmax of the first output); after
 * every lossy pass (PassOptions.after_lossy) kiln prints the agreement with them and, with
 * labels, the accuracy, and refuses when the accuracy (without labels: the agreement) dropped
 * by more than --max-accuracy-drop points. */
#ifndef KILN_EVAL_H
#define KILN_EVAL_H

#include "ir.h"
#include "krt_npy.h"

typedef struct KilnEval {
  const char *dir;
  int n_inputs;
  krt_npy *in;     /* per graph input: [samples, input dims 1...] */
  int64_t samples; /* sample count */
  int64_t *labels; /* NULL without labels.npy */
  int64_t *ref;    /* the reference classes */
  double ref_accuracy;
  double max_drop; /* points; < 0: no limit */
} KilnEval;

/* Loads DIR for graph g (as loaded, before any pass) and computes the reference; false with a
 * message in d on bad data. */
bool kiln_eval_begin(KilnEval *e, const char *dir, const IrGraph *g, double max_drop, IrDiag *d);
/* The one evaluation: g on every sample, the class (argmax of the first output) of each into
 * classes. The reference interpreter today; a faster evaluator can take its place here. */
bool kiln_eval_classes(const KilnEval *e, const IrGraph *g, int64_t *classes);
/* PassOptions.after_lossy: prints the measurement after `step`; false (error in d) past the
 * limit. */
bool kiln_eval_after_lossy(void *ctx, const IrGraph *g, const char *step, IrDiag *d);
void kiln_eval_end(KilnEval *e);

#endif
