/* Run-time dims (`--max-dim NAME=N`): one dimension of the graph inputs whose length is passed
 * to the run function, up to a compile-time maximum. The graph keeps its shapes at the maximum
 * (the memory plan sizes the workspace for it); ir_dyn_analyze finds the axis of every value
 * that has the run-time length and checks that the compiled code may compute only the first
 * `len` rows of it: codegen then calls each node's function over blocks of rows up to len. */
#include <stdlib.h>
#include <string.h>

#include "ir_util.h"

int ir_graph_dyn_dim(IrGraph *g, const char *name, int64_t max, const char *where, IrDiag *d) {
  for (int k = 0; k < g->n_dyn; k++) {
    if (strcmp(g->dyn[k].name, name) != 0) continue;
    if (g->dyn[k].max == max) return k;
    ir_diag_error(d, where, "dimension '%s' has the maximum %lld here and %lld elsewhere", name,
                  (long long)max, (long long)g->dyn[k].max);
    return -1;
  }
  if (g->n_dyn == IR_MAX_DYN) {
    ir_diag_error(d, where,
                  "dimension '%s': only %d run-time dimension per model is supported ('%s' is "
                  "one already); fix the others with --input-shape",
                  name, IR_MAX_DYN, g->dyn[0].name);
    return -1;
  }
  g->dyn[g->n_dyn] = (IrDynDim){ir_arena_strdup(g->arena, name), max};
  return g->n_dyn++;
}

bool ir_dyn_resize(IrGraph *g, int64_t len, IrDiag *d) {
  for (int i = 0; i < g->n_inputs; i++)
    if (g->inputs[i]->dyn) g->inputs[i]->dims[g->inputs[i]->dyn - 1] = len;
  for (int i = 0; i < g->n_nodes; i++) {
    IrNode own = *g->nodes[i]; /* the op without its fused epilogue's operands */
    own.n_inputs = ir_node_op_inputs(&own);
    if (!ir_op_info[own.op].infer(g, &own, d)) return false;
  }
  return true;
}

static bool is_reduce(IrOp op) { return ir_op_info[op].flags & IR_OPF_REDUCE; }

/* The axes n reduces or normalizes over (a bit mask of input 0's axes), 0 for other ops. */
static unsigned reduced_axes(const IrNode *n) {
  const IrValue *x = n->inputs[0];
  if (is_reduce(n->op)) {
    unsigned mask;
    int count;
    if (!ir_node_axes(n, 1, x->rank, &mask, &count, NULL)) return 0;
    if (count == 0 && !ir_attr_i(n, "noop_with_empty_axes")) mask = (1u << x->rank) - 1;
    return mask;
  }
  if (n->op == IR_OP_SOFTMAX || n->op == IR_OP_LOG_SOFTMAX || n->op == IR_OP_ARG_MAX ||
      n->op == IR_OP_ARG_MIN) {
    int64_t a = ir_attr_i(n, "axis");
    return x->rank ? 1u << (a < 0 ? a + x->rank : a) : 0;
  }
  if (n->op == IR_OP_RNN || n->op == IR_OP_GRU || n->op == IR_OP_LSTM) return 1u; /* time */
  return 0;
}

bool ir_dyn_along(const IrNode *n) {
  const IrValue *x = n->n_inputs ? n->inputs[0] : NULL;
  return x && x->dyn && (reduced_axes(n) >> (x->dyn - 1) & 1u);
}

bool ir_dyn_whole(const IrNode *n, int k) {
  const IrValue *x = k < n->n_inputs ? n->inputs[k] : NULL;
  if (x && x->dyn && ir_dyn_along(n)) return true;
  if (n->op != IR_OP_ATTENTION || !x || !x->dyn || k < 1 || k >= ir_node_op_inputs(n)) return false;
  return k < 3 || x->dyn - 1 == x->rank - 1; /* K, V; a mask along the keys (its last axis) */
}

int64_t ir_dyn_row_bytes(const IrValue *v) { return ir_value_nbytes(v) / v->dims[v->dyn - 1]; }

/* ---- analysis ------------------------------------------------------------------------------ */

typedef struct Shape {
  int rank;
  int64_t dims[IR_MAX_RANK];
} Shape;

static void save_shapes(const IrGraph *g, Shape *s) {
  for (int i = 0; i < g->n_values; i++) {
    s[i].rank = g->values[i]->rank;
    memcpy(s[i].dims, g->values[i]->dims, sizeof s[i].dims);
  }
}

/* Infers the shapes at len into at[]; false (reported) if the graph's shapes are not generic. */
static bool probe(IrGraph *g, int64_t len, Shape *at, IrDiag *d) {
  IrDiag inner;
  ir_diag_init(&inner, NULL, false);
  bool ok = ir_dyn_resize(g, len, &inner);
  if (!ok) {
    const char *msg = inner.text ? inner.text : "";
    ir_diag_error(d, "--max-dim",
                  "the model's shapes do not follow '%s' (at %s=%lld: %.*s); write shape "
                  "arithmetic with -1/0 in Reshape rather than constants of the maximum",
                  g->dyn[0].name, g->dyn[0].name, (long long)len, (int)strcspn(msg, "\n"), msg);
  }
  ir_diag_free(&inner);
  if (ok) save_shapes(g, at);
  return ok;
}

static int axis_of(int64_t a, int rank) { return (int)(a < 0 ? a + rank : a); }

/* Every value whose shape changes with len: exactly one axis of length len, only 1s before it. */
static bool mark_values(IrGraph *g, const Shape *at_max, const Shape *const *probes,
                        const int64_t *lens, int n_probes, IrDiag *d) {
  bool ok = true;
  for (int i = 0; i < g->n_values; i++) {
    IrValue *v = g->values[i];
    int axis = -1;
    bool bad = false;
    for (int r = 0; r < v->rank; r++) {
      bool varies = false, follows = at_max[i].dims[r] == g->dyn[0].max;
      for (int p = 0; p < n_probes; p++) {
        varies |= probes[p][i].dims[r] != at_max[i].dims[r];
        follows &= probes[p][i].dims[r] == lens[p];
      }
      if (!varies) continue;
      if (!follows || axis >= 0) bad = true;
      axis = r;
    }
    if (v->kind == IR_VALUE_INPUT && v->dyn && axis != v->dyn - 1) bad = true;
    if (bad) {
      ir_diag_error(d, v->src_path ? v->src_path : "--max-dim",
                    "value '%s': its shape depends on '%s' other than by one axis of that "
                    "length, which a run-time length cannot bound",
                    v->name, g->dyn[0].name);
      ok = false;
      continue;
    }
    v->dyn = axis + 1;
    if (axis < 0) continue;
    for (int r = 0; r < axis && !bad; r++) bad = v->dims[r] != 1;
    if (bad) {
      char s[160];
      ir_diag_error(d, v->src_path ? v->src_path : "--max-dim",
                    "value '%s' has the run-time length '%s' at axis %d after axes that are "
                    "not 1 (%s): only a leading axis can have a run-time length",
                    v->name, g->dyn[0].name, axis, ir_format_dims(v->rank, v->dims, s, sizeof s));
      ok = false;
    }
    if (v->state) {
      ir_diag_error(d, "--max-dim", "state '%s' cannot have the run-time length '%s'", v->name,
                    g->dyn[0].name);
      ok = false;
    }
  }
  return ok;
}

static bool is_dyn(const IrValue *v) { return v && v->dyn; }

/* y is written over x's bytes: the same state written in place, or one workspace offset. */
static bool in_place(const IrGraph *g, const IrValue *x, const IrValue *y) {
  if (x->state || y->state) return x->state == y->state && g->states[x->state - 1].direct;
  return x->kind == IR_VALUE_NODE && y->ws_offset >= 0 && x->ws_offset == y->ws_offset;
}

/* Why rows of n are not independent along the run-time axis, or NULL when computing the first
 * rows of its dynamic inputs gives the first rows of its outputs (static inputs read whole). */
static const char *rows_problem(const IrGraph *g, const IrNode *n) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  int nin = ir_node_op_inputs(n);
  unsigned flags = ir_op_info[n->op].flags;
  if (flags & (IR_OPF_UNARY | IR_OPF_BINARY)) return NULL;
  if (is_reduce(n->op) || n->op == IR_OP_ARG_MAX || n->op == IR_OP_ARG_MIN) {
    if (!is_dyn(x)) return "only its data may have the run-time length";
    /* along the axis: one call looping to the length (ir_dyn_along); else rows */
    return ir_dyn_along(n) || is_dyn(y) ? NULL : "it drops the run-time axis";
  }
  switch (n->op) {
  case IR_OP_WHERE:
  case IR_OP_CAST:
  case IR_OP_EQUAL:
  case IR_OP_LESS:
  case IR_OP_GREATER:
  case IR_OP_NOT:
  case IR_OP_AND:
  case IR_OP_OR:
  case IR_OP_XOR:
  case IR_OP_POW:
  case IR_OP_MOD:
  case IR_OP_SUM:
  case IR_OP_MEAN:
  case IR_OP_MIN:
  case IR_OP_MAX:
  case IR_OP_PRELU: return NULL; /* element-wise: static operands broadcast */
  case IR_OP_IDENTITY:
  case IR_OP_DROPOUT:
  case IR_OP_RESHAPE:
  case IR_OP_FLATTEN:
  case IR_OP_SQUEEZE:
  case IR_OP_UNSQUEEZE:
    if (!is_dyn(x) || !is_dyn(y)) return "its input and output must both have the length";
    return ir_dyn_row_bytes(x) == ir_dyn_row_bytes(y) ? NULL : "it moves elements across rows";
  case IR_OP_MATMUL:
    return is_dyn(n->inputs[1]) ? "its B operand has the run-time length (only A's rows may)"
                                : NULL;
  case IR_OP_GEMM:
    if (is_dyn(n->inputs[1]) || (nin > 2 && is_dyn(n->inputs[2])))
      return "its B or C operand has the run-time length (only A's rows may)";
    return ir_attr_i(n, "transA") ? "transA = 1 reads A by columns" : NULL;
  case IR_OP_RNN:
  case IR_OP_GRU:
  case IR_OP_LSTM: /* over a run-time number of steps: X [seq, batch, in] */
    if (!ir_dyn_along(n)) return "only its input X may have the length, on its time axis";
    for (int i = 1; i < nin; i++)
      if (is_dyn(n->inputs[i])) return "only its input X may have the length, on its time axis";
    return NULL;
  case IR_OP_SOFTMAX:
  case IR_OP_LOG_SOFTMAX:
    if (ir_dyn_along(n)) return is_dyn(y) ? NULL : "its output must have the length";
    /* fall through */
  case IR_OP_LAYER_NORM:
    if (nin > 1 && (is_dyn(n->inputs[1]) || (nin > 2 && is_dyn(n->inputs[2]))))
      return "its scale or bias has the run-time length";
    return axis_of(ir_attr_i(n, "axis"), x->rank) > x->dyn - 1
               ? NULL
               : "it normalizes over the run-time axis";
  case IR_OP_GATHER: /* ids into a static table, or fixed columns of each row */
    if (!is_dyn(x)) return NULL;
    return axis_of(ir_attr_i(n, "axis"), x->rank) > x->dyn - 1 && !is_dyn(n->inputs[1])
               ? NULL
               : "it gathers along the run-time axis of its data (only the indices, or fixed "
                 "indices along a later axis, may have it)";
  case IR_OP_TRANSPOSE: {
    const IrAttr *p = ir_attr(n, "perm");
    if (!is_dyn(y)) return "its output must have the length";
    int64_t from = p->count ? p->ints[y->dyn - 1] : x->rank - y->dyn;
    return from == x->dyn - 1 ? NULL : "it moves the run-time axis";
  }
  case IR_OP_CONCAT:
  case IR_OP_SPLIT:
    for (int i = 0; i < nin; i++)
      if (!is_dyn(n->inputs[i])) return "every operand must have the run-time length";
    return axis_of(ir_attr_i(n, "axis"), x->rank) != x->dyn - 1
               ? NULL
               : "it works along the run-time axis";
  case IR_OP_SLICE: {
    int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], out[IR_MAX_RANK];
    if (!is_dyn(y) || !ir_slice_params(n, start, step, out, NULL)) return "it slices the length";
    return start[x->dyn - 1] == 0 && step[x->dyn - 1] == 1 ? NULL : "it slices the run-time axis";
  }
  case IR_OP_SCATTER_ND: /* rows of updates at their indices: each block writes its own rows */
    if (is_dyn(x) || is_dyn(y))
      return "its data has the run-time length (only indices/updates may)";
    return in_place(g, x, y) ? NULL
                             : "its output is not written over its data (each block of rows would "
                               "copy the data again)";
  case IR_OP_ATTENTION: {
    if (ir_attr_i(n, "causal") && (is_dyn(x) || is_dyn(n->inputs[1])))
      return "its causal mask depends on the number of queries";
    if (!is_dyn(x) || !is_dyn(y)) return "its queries and output must have the run-time length";
    const IrValue *k = n->inputs[1], *v = n->inputs[2], *mask = nin > 3 ? n->inputs[3] : NULL;
    if (is_dyn(k) != is_dyn(v)) return "its keys and values must both have the length, or neither";
    /* keys of run-time length (self-attention, BERT): read whole by every block of queries */
    if (is_dyn(k) && (ir_attr(n, "k_perm")->ints[k->rank - 2] != k->dyn - 1 ||
                      ir_attr(n, "v_perm")->ints[v->rank - 2] != v->dyn - 1))
      return "its keys/values have the run-time length on another axis than the keys'";
    if (is_dyn(mask) && !ir_dyn_whole(n, 3) && mask->dyn - 1 != mask->rank - 2)
      return "its mask has the run-time length on another axis than the queries' or keys'";
    if (ir_dyn_whole(n, 3) && !is_dyn(k))
      return "its mask has the run-time length along keys of fixed length";
    return NULL;
  }
  default: return "the op has no run-time length support";
  }
}

bool ir_dyn_analyze(IrGraph *g, IrDiag *d) {
  if (g->n_dyn == 0) return true;
  int64_t max = g->dyn[0].max;
  Shape *at_max = malloc(sizeof *at_max * ((size_t)g->n_values + 1));
  Shape *at_p[2] = {malloc(sizeof(Shape) * ((size_t)g->n_values + 1)),
                    malloc(sizeof(Shape) * ((size_t)g->n_values + 1))};
  if (!at_max || !at_p[0] || !at_p[1]) abort();
  save_shapes(g, at_max);
  int64_t lens[2] = {1, max - 1};
  int n_probes = max > 2 ? 2 : 1;
  if (max == 1) lens[0] = 2; /* any other length tells the axis apart */
  bool ok = true;
  for (int p = 0; p < n_probes && ok; p++) ok = probe(g, lens[p], at_p[p], d);
  /* back at the maximum, as the memory plan laid the graph out */
  IrDiag inner;
  ir_diag_init(&inner, NULL, false);
  bool back = ir_dyn_resize(g, max, &inner);
  ir_diag_free(&inner);
  for (int i = 0; back && i < g->n_values; i++)
    back = memcmp(at_max[i].dims, g->values[i]->dims, sizeof(int64_t) * IR_MAX_RANK) == 0;
  if (!back) {
    ir_diag_error(d, "--max-dim",
                  "internal error: shapes differ after re-inference at the maximum");
    ok = false;
  }
  const Shape *const probes[2] = {at_p[0], at_p[1]};
  ok = ok && mark_values(g, at_max, probes, lens, n_probes, d);
  for (int i = 0; ok && i < g->n_nodes; i++) {
    const IrNode *n = g->nodes[i];
    bool any = false;
    for (int k = 0; k < n->n_inputs; k++) any |= is_dyn(n->inputs[k]);
    for (int k = 0; k < n->n_outputs; k++) any |= is_dyn(n->outputs[k]);
    if (!any) continue;
    const char *why = rows_problem(g, n);
    if (why)
      ok = ir_node_error(d, n, "", "%s cannot run at the run-time length '%s': %s",
                         ir_op_info[n->op].name, g->dyn[0].name, why);
  }
  free(at_max);
  free(at_p[0]);
  free(at_p[1]);
  return ok;
}
