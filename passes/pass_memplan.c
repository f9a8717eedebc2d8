/* Static memory planner: every intermediate value gets a workspace offset. Liveness intervals
 * over the execution order; offsets by "greedy by size, lowest fitting offset" (as in TFLM's
 * greedy planner): big tensors are placed first, each at the lowest offset that does not
 * overlap a placed tensor whose lifetime intersects its own. */
#include <stdlib.h>
#include <string.h>

#include "ir_util.h"
#include "pass.h"

typedef struct {
  IrValue *v;
  int64_t size;    /* aligned */
  int first, last; /* node indices: definition and last read */
  int64_t offset;
} Interval;

static int64_t align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

/* Values that live in the workspace: produced by a node, not a graph output. */
static bool in_workspace(const IrValue *v) { return v->kind == IR_VALUE_NODE && !v->is_output; }

static Interval *collect_intervals(const IrGraph *g, int64_t align, int *count) {
  Interval *iv = calloc((size_t)g->n_values + 1, sizeof *iv);
  int *index = malloc(sizeof *index * ((size_t)g->n_values + 1));
  if (!iv || !index) abort();
  int n = 0;
  for (int i = 0; i < g->n_values; i++) {
    IrValue *v = g->values[i];
    index[i] = -1;
    if (!in_workspace(v)) continue;
    index[i] = n;
    iv[n].v = v;
    iv[n].size = align_up(ir_value_nbytes(v) > 0 ? ir_value_nbytes(v) : 1, align);
    iv[n].first = iv[n].last = v->producer->id;
    n++;
  }
  for (int s = 0; s < g->n_nodes; s++) {
    const IrNode *node = g->nodes[s];
    for (int k = 0; k < node->n_inputs; k++) {
      const IrValue *v = node->inputs[k];
      if (v && index[v->id] >= 0 && iv[index[v->id]].last < s) iv[index[v->id]].last = s;
    }
  }
  free(index);
  *count = n;
  return iv;
}

int64_t pass_memplan_lower_bound(const IrGraph *g, int64_t align) {
  if (align <= 0) align = 64;
  int n;
  Interval *iv = collect_intervals(g, align, &n);
  /* Sweep: +size at first, -size after last. */
  int64_t *delta = calloc((size_t)g->n_nodes + 2, sizeof *delta);
  if (!delta) abort();
  for (int i = 0; i < n; i++) {
    delta[iv[i].first] += iv[i].size;
    delta[iv[i].last + 1] -= iv[i].size;
  }
  int64_t live = 0, best = 0;
  for (int s = 0; s <= g->n_nodes; s++) {
    live += delta[s];
    if (live > best) best = live;
  }
  free(delta);
  free(iv);
  return best;
}

static int by_size_desc(const void *a, const void *b) {
  const Interval *x = a, *y = b;
  if (x->size != y->size) return x->size < y->size ? 1 : -1;
  if (x->first != y->first) return x->first - y->first;
  return x->v->id - y->v->id; /* deterministic */
}

static int by_offset(const void *a, const void *b) {
  const Interval *x = *(Interval *const *)a, *y = *(Interval *const *)b;
  return (x->offset > y->offset) - (x->offset < y->offset);
}

/* The value that ends highest in the plan, named in the over-the-limit error. */
static void report_over_limit(const IrGraph *g, const Interval *iv, int n, int64_t limit,
                              IrDiag *d) {
  const Interval *top = &iv[0];
  for (int i = 1; i < n; i++)
    if (iv[i].offset + iv[i].size > top->offset + top->size) top = &iv[i];
  const IrNode *p = top->v->producer;
  int slot = 0;
  while (slot < p->n_outputs && p->outputs[slot] != top->v) slot++;
  char where[512];
  ir_node_field_where(p, where, sizeof where, "outputs[%d]", slot);
  ir_diag_error(d, where,
                "the workspace needs %lld bytes, more than the limit of %lld bytes "
                "(--max-workspace); '%s' (%lld bytes) ends at the top of the plan",
                (long long)g->workspace_size, (long long)limit, top->v->name,
                (long long)ir_value_nbytes(top->v));
}

bool pass_memplan(IrGraph *g, const PassOptions *o, IrDiag *d) {
  int64_t align = o && o->workspace_align > 0 ? o->workspace_align : 64;
  int n;
  Interval *iv = collect_intervals(g, align, &n);
  qsort(iv, (size_t)n, sizeof *iv, by_size_desc);
  Interval **conflicts = malloc(sizeof *conflicts * ((size_t)n + 1));
  if (!conflicts) abort();
  int64_t total = 0;
  for (int i = 0; i < n; i++) {
    int nc = 0;
    for (int j = 0; j < i; j++)
      if (iv[j].first <= iv[i].last && iv[i].first <= iv[j].last) conflicts[nc++] = &iv[j];
    qsort(conflicts, (size_t)nc, sizeof *conflicts, by_offset);
    /* Lowest gap between conflicting placements that holds this tensor. */
    int64_t offset = 0;
    for (int c = 0; c < nc; c++) {
      if (conflicts[c]->offset - offset >= iv[i].size) break;
      int64_t end = conflicts[c]->offset + conflicts[c]->size;
      if (end > offset) offset = end;
    }
    iv[i].offset = offset;
    if (offset + iv[i].size > total) total = offset + iv[i].size;
  }
  for (int i = 0; i < g->n_values; i++) g->values[i]->ws_offset = -1;
  for (int i = 0; i < n; i++) iv[i].v->ws_offset = iv[i].offset;
  g->workspace_size = total;
  g->workspace_align = align;
  if (o && o->max_workspace > 0 && total > o->max_workspace)
    report_over_limit(g, iv, n, o->max_workspace, d);
  free(conflicts);
  free(iv);
  return true;
}
