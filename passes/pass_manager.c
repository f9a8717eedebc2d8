/* The pass pipeline: one visible list, filtered by -O level; the verifier runs between passes
 * when asked (always in tests). The memory plan comes last: it depends on the final graph. */
#include <stdio.h>
#include <string.h>

#include "pass.h"

static const struct {
  const char *name;
  PassFn run;
  int min_level; /* runs at -O<min_level> and above */
} pipeline[] = {
    {"memplan", pass_memplan, 0},
};

bool pass_run_pipeline(IrGraph *g, const PassOptions *o, IrDiag *d) {
  for (size_t i = 0; i < sizeof pipeline / sizeof *pipeline; i++) {
    if (o->opt_level < pipeline[i].min_level) continue;
    int errors = d->n_errors;
    pipeline[i].run(g, o, d);
    if (d->n_errors > errors) return false;
    if (o->verify_each && !ir_graph_verify(g, d)) return false;
    if (o->print_after && strcmp(o->print_after, pipeline[i].name) == 0) {
      printf("; graph after %s\n", pipeline[i].name);
      ir_graph_print(g, stdout);
    }
  }
  return true;
}
