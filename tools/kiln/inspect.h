/* `kiln inspect`: the facts about a model before and after the pass pipeline, as text, JSON
 * (docs/passes.md), Graphviz DOT, or a memory-plan table / SVG. */
#ifndef KILN_INSPECT_H
#define KILN_INSPECT_H

#include "cg.h"
#include "fe.h"
#include "pass.h"

typedef struct InspectOptions {
  const char *model;
  const char *state;    /* --state OUT=IN,... (ir_graph_pair_states) */
  FeOptions fe;         /* weights folders and input limits */
  PassOptions passes;   /* the pipeline to inspect (-O level, --passes) */
  const char *after;    /* --after=PASS: print the graph after that pass */
  bool print_graph;     /* --print: the optimized graph */
  bool json;            /* --json: one JSON object instead of text */
  bool dot;             /* --dot: Graphviz DOT of the optimized graph instead of text */
  bool memory_plan;     /* --memory-plan: one line per workspace value */
  const char *plan_svg; /* --memory-plan-svg FILE */
  CgOptions target;     /* --target/--cpu/--features: whose register tiles to report */
} InspectOptions;

/* Returns the process exit code (0, or 1 on a user error in the model). */
int kiln_inspect(const InspectOptions *o);

#endif
