/* Memory planner: no two values whose lifetimes overlap share bytes, the plan is never below
 * the lower bound, and on a chain it reuses memory (ping-pong between two buffers). */
#include <stdlib.h>

#include "pass.h"
#include "test_util.h"

/* A chain x -> relu -> relu -> ... of n nodes over [1, size] floats, plus a skip connection from
 * the first intermediate to an Add at the end when skip is set. */
static IrGraph *chain(int n, int64_t size, bool skip) {
  IrGraph *g = ir_graph_new("chain");
  int64_t dims[2] = {1, size};
  IrValue *x = ir_value_new(g, "x", IR_VALUE_INPUT, IR_F32, 2, dims);
  ir_graph_add_input(g, x);
  IrValue *cur = x, *first = NULL;
  char name[32];
  for (int i = 0; i < n; i++) {
    IrNode *node = ir_node_new(g, IR_OP_RELU, NULL, 1, 1);
    snprintf(name, sizeof name, "h%d", i);
    IrValue *h = ir_value_new(g, name, IR_VALUE_NODE, IR_F32, 2, dims);
    node->inputs[0] = cur;
    ir_node_set_output(node, 0, h);
    if (!first) first = h;
    cur = h;
  }
  if (skip) {
    IrNode *add = ir_node_new(g, IR_OP_ADD, NULL, 2, 1);
    IrValue *y = ir_value_new(g, "y", IR_VALUE_NODE, IR_F32, 2, dims);
    add->inputs[0] = cur;
    add->inputs[1] = first;
    ir_node_set_output(add, 0, y);
    cur = y;
  }
  ir_graph_add_output(g, cur);
  return g;
}

static void check_no_overlap(const IrGraph *g) {
  /* lifetimes: [producer id, last reader id] */
  for (int a = 0; a < g->n_values; a++)
    for (int b = a + 1; b < g->n_values; b++) {
      const IrValue *u = g->values[a], *v = g->values[b];
      if (u->ws_offset < 0 || v->ws_offset < 0) continue;
      int ua = u->producer->id, va = v->producer->id, ub = ua, vb = va;
      for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_inputs; k++) {
          if (g->nodes[i]->inputs[k] == u && i > ub) ub = i;
          if (g->nodes[i]->inputs[k] == v && i > vb) vb = i;
        }
      bool live_together = ua <= vb && va <= ub;
      /* in place: an element-wise node writes v over u at u's last read (or the reverse) */
      if (u->ws_offset == v->ws_offset &&
          ((ub == va && (ir_op_info[v->producer->op].flags & IR_OPF_UNARY)) ||
           (vb == ua && (ir_op_info[u->producer->op].flags & IR_OPF_UNARY))))
        live_together = false;
      bool bytes_overlap = u->ws_offset < v->ws_offset + ir_value_nbytes(v) &&
                           v->ws_offset < u->ws_offset + ir_value_nbytes(u);
      CHECK(!(live_together && bytes_overlap), "%s and %s overlap while both live", u->name,
            v->name);
    }
}

int main(void) {
  PassOptions o = {.workspace_align = 64, .no_inplace = true};
  IrDiag d;
  ir_diag_init(&d, NULL, true);

  IrGraph *g = chain(6, 100, false);
  pass_memplan(g, &o, &d);
  check_no_overlap(g);
  /* without in-place: 5 intermediates of 400 bytes (448 aligned) in a chain need exactly two
   * buffers */
  CHECK(g->workspace_size == 2 * 448, "chain workspace %lld", (long long)g->workspace_size);
  for (int i = 0; i < g->n_values; i++)
    CHECK(g->values[i]->ws_offset < 0 || g->values[i]->ws_offset % 64 == 0, "offset not aligned");
  CHECK(g->outputs[0]->ws_offset == -1, "graph output placed in the workspace");
  ir_graph_free(g);

  /* in place: every Relu writes over its input, which dies there: one buffer */
  o.no_inplace = false;
  g = chain(6, 100, false);
  pass_memplan(g, &o, &d);
  check_no_overlap(g);
  CHECK(g->workspace_size == 448, "in-place chain workspace %lld", (long long)g->workspace_size);
  CHECK(pass_memplan_lower_bound(g, 64) == 448, "in-place chain bound %lld",
        (long long)pass_memplan_lower_bound(g, 64));
  for (int i = 1; i < g->n_values; i++)
    if (g->values[i]->ws_offset >= 0)
      CHECK(g->values[i]->ws_offset == 0, "%s not in place", g->values[i]->name);
  ir_graph_free(g);

  o.no_inplace = true;
  g = chain(6, 100, true);
  pass_memplan(g, &o, &d);
  check_no_overlap(g);
  /* the skip value stays live across the chain: three buffers */
  CHECK(g->workspace_size == 3 * 448, "skip workspace %lld", (long long)g->workspace_size);
  CHECK(g->workspace_size >= pass_memplan_lower_bound(g, 64), "below bound");
  ir_graph_free(g);

  /* in place with a skip: h0 stays live (the Add reads it), so h1 cannot overwrite it; h1..h4
   * share one buffer: two in all */
  o.no_inplace = false;
  g = chain(6, 100, true);
  pass_memplan(g, &o, &d);
  check_no_overlap(g);
  CHECK(g->workspace_size == 2 * 448, "in-place skip workspace %lld", (long long)g->workspace_size);
  CHECK(g->values[1]->ws_offset != g->values[2]->ws_offset, "h1 overwrote the live h0");
  CHECK(g->workspace_size >= pass_memplan_lower_bound(g, 64), "below bound");
  ir_graph_free(g);

  o.workspace_align = 16;
  o.no_inplace = true;
  g = chain(3, 3, false);
  pass_memplan(g, &o, &d);
  CHECK(g->workspace_size == 2 * 16, "align 16 workspace %lld", (long long)g->workspace_size);
  ir_graph_free(g);

  ir_diag_free(&d);
  return test_report("memplan");
}
