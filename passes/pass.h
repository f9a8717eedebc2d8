/* Passes: plain functions over the IR, run in a visible order. Know only the IR. */
#ifndef KILN_PASS_H
#define KILN_PASS_H

#include "ir.h"

typedef struct PassOptions {
  int opt_level;           /* 0..3 */
  int64_t workspace_align; /* bytes, power of two; 0 means 64 */
  bool verify_each;        /* run ir_graph_verify after every pass */
  const char *print_after; /* pass name, or NULL */
  int64_t max_workspace; /* bytes; a larger plan is a user error (kiln --max-workspace). 0: none */
} PassOptions;

/* A pass returns whether it changed the graph; user errors go to d (d->n_errors grows). */
typedef bool (*PassFn)(IrGraph *g, const PassOptions *o, IrDiag *d);

/* Assigns g->values[*]->ws_offset for every node-produced value that is not a graph output,
 * and g->workspace_size, reusing memory of values whose last reader has run. Reports an error
 * naming the value at the top of the plan if the workspace exceeds o->max_workspace. */
bool pass_memplan(IrGraph *g, const PassOptions *o, IrDiag *d);
/* Largest total of bytes live at any step: the bound no plan can beat. */
int64_t pass_memplan_lower_bound(const IrGraph *g, int64_t align);

/* Runs the pipeline for o->opt_level, ending with the memory plan. False on a user error. */
bool pass_run_pipeline(IrGraph *g, const PassOptions *o, IrDiag *d);

#endif
