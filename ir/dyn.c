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
                  "dimension '%s': at most %d run-time dimensions per model (a batch and a "
                  "length) are supported ('%s' and '%s' are); fix the others with --input-shape",
                  name, IR_MAX_DYN, g->dyn[0].name, g->dyn[1].name);
    return -1;
  }
  g->dyn[g->n_dyn] = (IrDynDim){ir_arena_strdup(g->arena, name), max};
  return g->n_dyn++;
}

/* ---- folds that depend on the length ------------------------------------------------------ */

#define IR_DYN_FOLD_MAX_BYTES ((int64_t)64 << 20) /* as the fold pass and the ONNX importer */

/* One fold of IrGraph.folds: a copy of the folded node. A Shape-like node (IR_OPF_STATIC) reads
 * `shadow`, a copy of its input's shape whose run-time axis ir_dyn_resize sets; before the import
 * closes it reads the graph value itself, and runs before graph node `at` (-1: first). */
typedef struct IrDynFold {
  IrNode *node;
  IrValue *shadow;
  int at;
  int64_t *cap;       /* bytes allocated for each output's data */
  int64_t outer_unit; /* shadow->outer: its axis 0 per batch element (per step of the length
                         when that axis also has the length) */
} IrDynFold;

static bool reads_shape(const IrNode *n) {
  return (ir_op_info[n->op].flags & IR_OPF_STATIC) && n->n_inputs > 0 && n->inputs[0] &&
         n->inputs[0]->kind != IR_VALUE_CONST;
}

bool ir_dyn_may_fold(const IrGraph *g, const IrNode *n, bool *len_dep) {
  *len_dep = false;
  if (reads_shape(n)) {
    *len_dep = true;
    return n->inputs[0]->kind == IR_VALUE_INPUT || g->fold_open;
  }
  for (int k = 0; k < n->n_inputs; k++) *len_dep |= n->inputs[k] && n->inputs[k]->len_dep;
  return true;
}

static IrValue *shadow_of(IrGraph *g, const IrValue *x, int dyn) {
  IrValue *s = ir_arena_alloc(g->arena, sizeof *s);
  *s = *x;
  s->kind = IR_VALUE_NODE, s->producer = NULL, s->is_output = false, s->data = NULL;
  s->state = 0, s->dyn = dyn, s->dyn2 = 0;
  return s;
}

/* The length dim (the one the body loops to): its name and maximum. */
#define LEN_DIM(g) ((g)->dyn[ir_dyn_len_index(g)])

/* f->shadow's axis 0 per batch element, from its dims at batch 1 and the maximum length. */
static void set_outer_unit(const IrGraph *g, IrDynFold *f) {
  const IrValue *s = f->shadow;
  bool len_axis = s->dyn == 1 || s->dyn2 == 1;
  f->outer_unit = s->outer ? s->dims[0] / (len_axis ? LEN_DIM(g).max : 1) : 0;
}

void ir_dyn_record_fold(IrGraph *g, const IrNode *n) {
  if (g->n_folds == g->cap_folds) {
    g->cap_folds = g->cap_folds ? 2 * g->cap_folds : 16;
    g->folds = realloc(g->folds, sizeof *g->folds * (size_t)g->cap_folds);
    if (!g->folds) abort();
  }
  IrDynFold *f = &g->folds[g->n_folds++];
  f->node = ir_arena_alloc(g->arena, sizeof *f->node);
  *f->node = *n;
  f->node->inputs = ir_arena_alloc(g->arena, sizeof(IrValue *) * ((size_t)n->n_inputs + 1));
  memcpy(f->node->inputs, n->inputs, sizeof(IrValue *) * (size_t)n->n_inputs);
  f->cap = ir_arena_alloc(g->arena, sizeof(int64_t) * ((size_t)n->n_outputs + 1));
  for (int j = 0; j < n->n_outputs; j++) f->cap[j] = ir_value_nbytes(n->outputs[j]);
  f->shadow = NULL;
  /* the importer drops n, the last node: its place is where the next node goes */
  f->at = !g->fold_open                                     ? -1
          : g->n_nodes > 0 && g->nodes[g->n_nodes - 1] == n ? g->n_nodes - 1
                                                            : g->n_nodes;
  const IrValue *x = n->inputs[0];
  if (reads_shape(n) && x->kind == IR_VALUE_INPUT) { /* a graph input's axis is known */
    f->node->inputs[0] = f->shadow = shadow_of(g, x, x->dyn);
    set_outer_unit(g, f);
  }
}

/* The fold again with its inputs as they are now (shapes inferred, data into its outputs). */
static bool refold(IrGraph *g, IrDynFold *f, IrDiag *d) {
  IrNode *n = f->node;
  if (!ir_op_info[n->op].infer(g, n, d)) return false;
  const void **in = calloc((size_t)n->n_inputs + 1, sizeof *in);
  void **out = calloc((size_t)n->n_outputs + 1, sizeof *out);
  if (!in || !out) abort();
  for (int k = 0; k < n->n_inputs; k++) in[k] = n->inputs[k] ? n->inputs[k]->data : NULL;
  for (int j = 0; j < n->n_outputs; j++) {
    IrValue *v = n->outputs[j];
    if (ir_value_nbytes(v) > IR_DYN_FOLD_MAX_BYTES) {
      free(in);
      free(out);
      return ir_node_error(d, n, "", "folds to more than %lld bytes at another run-time length",
                           (long long)IR_DYN_FOLD_MAX_BYTES);
    }
    if (ir_value_nbytes(v) > f->cap[j]) {
      f->cap[j] = ir_value_nbytes(v);
      v->data = ir_arena_alloc(g->arena, (size_t)f->cap[j] + 1);
    }
    out[j] = (void *)v->data;
  }
  bool ok = ir_op_info[n->op].interp(n, in, out) == 0 ||
            ir_node_error(d, n, "", "cannot be folded again at another run-time length");
  free(in);
  free(out);
  return ok;
}

bool ir_dyn_resize(IrGraph *g, int64_t len, IrDiag *d) {
  for (int i = 0; i < g->n_inputs; i++) {
    IrValue *v = g->inputs[i];
    if (v->dyn) v->dims[v->dyn - 1] = len;
    if (v->outer) v->dims[0] = g->outer_len; /* settled inputs: the batch alone on axis 0 */
  }
  for (int r = 0; r < g->n_folds; r++) {
    IrValue *s = g->folds[r].shadow;
    if (s && s->dyn) s->dims[s->dyn - 1] = len;
    if (s && s->dyn2) s->dims[s->dyn2 - 1] = len;
    if (s && s->outer)
      s->dims[0] = g->folds[r].outer_unit * g->outer_len * (s->dyn == 1 || s->dyn2 == 1 ? len : 1);
  }
  int r = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    for (; r < g->n_folds && g->folds[r].at <= i; r++)
      if (!refold(g, &g->folds[r], d)) return false;
    IrNode own = *g->nodes[i]; /* the op without its fused epilogue's operands */
    own.n_inputs = ir_node_op_inputs(&own);
    if (!ir_op_info[own.op].infer(g, &own, d)) return false;
  }
  for (; r < g->n_folds; r++)
    if (!refold(g, &g->folds[r], d)) return false;
  return true;
}

bool ir_dyn_resize_dims(IrGraph *g, const int64_t *dims, IrDiag *d) {
  if (g->n_dyn == 0) return true;
  g->outer_len = g->outer ? dims[g->outer - 1] : 1;
  return ir_dyn_resize(g, dims[ir_dyn_len_index(g)], d);
}

bool ir_dyn_settle_inputs(IrGraph *g, IrDiag *d) {
  if (g->n_dyn < 2) return true;
  /* the frontend marked dim 0's axis in IrValue.dyn, dim 1's in dyn2 */
  int pick = -1;
  for (int o = 0; o < 2 && pick < 0; o++) {
    bool leads = true, both = false;
    for (int i = 0; i < g->n_inputs; i++) {
      const IrValue *v = g->inputs[i];
      int ao = o ? v->dyn2 : v->dyn, ai = o ? v->dyn : v->dyn2;
      leads &= ao == 0 || ao == 1;
      both |= ao && ai;
    }
    if (leads && both) pick = o;
  }
  if (pick < 0) {
    ir_diag_error(d, "--max-dim",
                  "two run-time dims ('%s', '%s'): one must be the batch, axis 0 of every graph "
                  "input that has it, with the other after it in at least one input",
                  g->dyn[0].name, g->dyn[1].name);
    return false;
  }
  g->outer = pick + 1, g->outer_len = 1;
  for (int i = 0; i < g->n_inputs; i++) {
    IrValue *v = g->inputs[i];
    int ao = pick ? v->dyn2 : v->dyn, ai = pick ? v->dyn : v->dyn2;
    v->outer = ao != 0;
    if (v->outer) v->dims[0] = 1; /* the graph holds one batch element */
    v->dyn = ai, v->dyn2 = 0;
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

/* 1 + the axis of n's output that input k's axis `a` broadcasts to (0: none). */
static int out_axis(const IrNode *n, int k, int a) {
  return a < 0 ? 0 : a + n->outputs[0]->rank - n->inputs[k]->rank + 1;
}

bool ir_dyn_along(const IrNode *n) {
  const IrValue *x = n->n_inputs ? n->inputs[0] : NULL;
  if (x && x->dyn && n->op == IR_OP_GATHER) { /* a row chosen at run time (indices < length) */
    int64_t a = ir_attr_i(n, "axis");
    return (a < 0 ? a + x->rank : a) == x->dyn - 1;
  }
  return x && x->dyn && (reduced_axes(n) >> (x->dyn - 1) & 1u);
}

bool ir_dyn_whole(const IrNode *n, int k) {
  const IrValue *x = k < n->n_inputs ? n->inputs[k] : NULL;
  if (x && x->dyn && ir_dyn_along(n)) return true;
  /* an element-wise operand whose run-time axis is the output's second one (padded): whole */
  const IrValue *y = n->n_outputs ? n->outputs[0] : NULL;
  if (x && x->dyn && y && y->dyn2 && out_axis(n, k, x->dyn - 1) == y->dyn2) return true;
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
                  LEN_DIM(g).name, LEN_DIM(g).name, (long long)len, (int)strcspn(msg, "\n"), msg);
  }
  ir_diag_free(&inner);
  if (ok) save_shapes(g, at);
  return ok;
}

/* The shapes at batch 2 (the length at its maximum) into at[]; false (reported) if the graph's
 * shapes do not follow the batch. Back at batch 1 after. */
static bool probe_batch(IrGraph *g, Shape *at, IrDiag *d) {
  IrDiag inner;
  ir_diag_init(&inner, NULL, false);
  g->outer_len = 2;
  bool ok = ir_dyn_resize(g, LEN_DIM(g).max, &inner);
  if (ok) save_shapes(g, at);
  g->outer_len = 1;
  if (!ok) {
    const char *msg = inner.text ? inner.text : "";
    const char *b = g->dyn[g->outer - 1].name;
    ir_diag_error(d, "--max-dim",
                  "the model's shapes do not follow the batch '%s' (at %s=2: %.*s); write shape "
                  "arithmetic with -1/0 in Reshape rather than constants",
                  b, b, (int)strcspn(msg, "\n"), msg);
  }
  ir_diag_free(&inner);
  return ok;
}

/* Whether v grows with the batch (shape at2 at batch 2): then only its axis 0 may, by a factor
 * of 2 (a whole number of per-element blocks); else *ok = false, reported at node n (NULL: at the
 * value). */
static bool batch_axis(const IrValue *v, const Shape *at2, const IrGraph *g, const IrNode *n,
                       bool *ok, IrDiag *d) {
  bool grows = at2->rank != v->rank, bad = grows;
  for (int r = 0; r < v->rank && !bad; r++) {
    if (at2->dims[r] == v->dims[r]) continue;
    grows = true;
    bad |= r != 0 || at2->dims[r] != 2 * v->dims[r];
  }
  if (bad) {
    const char *b = g->dyn[g->outer - 1].name;
    if (n)
      ir_node_error(d, n, "",
                    "the shape of '%s' depends on the batch '%s' other than by its first axis",
                    v->name, b);
    else
      ir_diag_error(d, v->src_path ? v->src_path : "--max-dim",
                    "value '%s': its shape depends on the batch '%s' other than by its first "
                    "axis (each batch element a block of it)",
                    v->name, b);
    *ok = false;
  }
  return grows && !bad;
}

static int axis_of(int64_t a, int rank) { return (int)(a < 0 ? a + rank : a); }

/* Every value whose shape changes with len: one axis of length len with only 1s before it, and
 * at most a second one (IrValue.dyn2). */
static bool mark_values(IrGraph *g, const Shape *at_max, const Shape *const *probes,
                        const int64_t *lens, int n_probes, IrDiag *d) {
  bool ok = true;
  for (int i = 0; i < g->n_values; i++) {
    IrValue *v = g->values[i];
    int axis = -1, axis2 = -1;
    bool bad = false;
    for (int r = 0; r < v->rank; r++) {
      bool varies = false, follows = at_max[i].dims[r] == LEN_DIM(g).max;
      for (int p = 0; p < n_probes; p++) {
        varies |= probes[p][i].dims[r] != at_max[i].dims[r];
        follows &= probes[p][i].dims[r] == lens[p];
      }
      if (!varies) continue;
      if (!follows || axis2 >= 0) bad = true;
      if (axis >= 0)
        axis2 = r;
      else
        axis = r;
    }
    if (v->kind == IR_VALUE_INPUT && v->dyn && (axis != v->dyn - 1 || axis2 >= 0)) bad = true;
    if (bad) {
      ir_diag_error(d, v->src_path ? v->src_path : "--max-dim",
                    "value '%s': its shape depends on '%s' other than by one or two axes of that "
                    "length, which a run-time length cannot bound",
                    v->name, LEN_DIM(g).name);
      ok = false;
      continue;
    }
    v->dyn = axis + 1, v->dyn2 = axis2 + 1;
    if (axis < 0) continue;
    for (int r = 0; r < axis && !bad; r++) bad = v->dims[r] != 1;
    if (bad) {
      char s[160];
      ir_diag_error(d, v->src_path ? v->src_path : "--max-dim",
                    "value '%s' has the run-time length '%s' at axis %d after axes that are "
                    "not 1 (%s): only a leading axis can have a run-time length",
                    v->name, LEN_DIM(g).name, axis, ir_format_dims(v->rank, v->dims, s, sizeof s));
      ok = false;
    }
    if (v->state) {
      ir_diag_error(d, "--max-dim", "state '%s' cannot have the run-time length '%s'", v->name,
                    LEN_DIM(g).name);
      ok = false;
    }
    if (axis2 >= 0 && (v->kind == IR_VALUE_INPUT || v->is_output)) {
      ir_diag_error(d, v->src_path ? v->src_path : "--max-dim",
                    "graph %s '%s' has the run-time length '%s' on two axes: only values inside "
                    "the graph may",
                    v->kind == IR_VALUE_INPUT ? "input" : "output", v->name, LEN_DIM(g).name);
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
/* rows_problem for a node touching a value with the run-time length on two axes (IrValue.dyn2):
 * element-wise in blocks of rows of the first axis (operands with the length on the second one
 * read whole, at the maximum's width), reductions over the second axis bounded by the length,
 * and a row chosen at run time along the first. */
static const char *two_axes_problem(const IrNode *n) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  if (ir_op_info[n->op].flags & (IR_OPF_UNARY | IR_OPF_BINARY)) {
    if (!y->dyn2) return "its output must have the run-time length on both axes its operands have";
    for (int k = 0; k < n->n_inputs; k++) {
      const IrValue *v = n->inputs[k];
      if (!v || !v->dyn) continue;
      int a = out_axis(n, k, v->dyn - 1), a2 = out_axis(n, k, v->dyn2 - 1);
      if (a == y->dyn && (!v->dyn2 || a2 == y->dyn2)) continue; /* rows */
      if (a != y->dyn2 || v->dyn2) return "an operand has the run-time length on other axes";
      if (v->kind == IR_VALUE_INPUT) /* a caller's buffer holds only the length */
        return "a graph input would be read at the maximum's width";
    }
    return NULL;
  }
  if (is_reduce(n->op) || n->op == IR_OP_ARG_MAX || n->op == IR_OP_ARG_MIN) {
    unsigned m = reduced_axes(n);
    return x->dyn2 && (m >> (x->dyn2 - 1) & 1u) && !(m >> (x->dyn - 1) & 1u) && !y->dyn2
               ? NULL
               : "it must reduce over the second run-time axis and keep the first";
  }
  if (n->op == IR_OP_GATHER && ir_dyn_along(n) && !is_dyn(n->inputs[1]))
    return y->is_output ? "the row it chooses (at the maximum's width) cannot be a graph output"
                        : NULL;
  return "the op cannot read a value with the run-time length on two axes";
}

static const char *rows_problem(const IrGraph *g, const IrNode *n) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  int nin = ir_node_op_inputs(n);
  unsigned flags = ir_op_info[n->op].flags;
  for (int k = 0; k < n->n_inputs + n->n_outputs; k++) {
    const IrValue *v = k < n->n_inputs ? n->inputs[k] : n->outputs[k - n->n_inputs];
    if (v && v->dyn2) return two_axes_problem(n);
  }
  /* element-wise: static operands broadcast */
  if (flags & (IR_OPF_UNARY | IR_OPF_BINARY | IR_OPF_ELEMENTWISE)) return NULL;
  if (is_reduce(n->op) || n->op == IR_OP_ARG_MAX || n->op == IR_OP_ARG_MIN) {
    if (!is_dyn(x)) return "only its data may have the run-time length";
    /* along the axis: one call looping to the length (ir_dyn_along); else rows */
    return ir_dyn_along(n) || is_dyn(y) ? NULL : "it drops the run-time axis";
  }
  switch (n->op) {
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
  case IR_OP_GATHER: { /* ids into a static table, fixed columns of each row, a row chosen at
                         run time (ir_dyn_along: an index past the length is an error) */
    if (!is_dyn(x)) return NULL;
    if (is_dyn(n->inputs[1])) return "its data and its indices both have the run-time length";
    int a = axis_of(ir_attr_i(n, "axis"), x->rank);
    return a >= x->dyn - 1 || is_dyn(y) ? NULL : "it drops the run-time axis";
  }
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

bool ir_dyn_close_folds(IrGraph *g, IrDiag *d) {
  bool open = false;
  for (int r = 0; r < g->n_folds; r++) open |= g->folds[r].at >= 0;
  g->fold_open = false;
  if (!open) return true;
  int64_t max = LEN_DIM(g).max, len = max > 1 ? 1 : 2;
  Shape *at = malloc(sizeof *at * ((size_t)g->n_values + 1));
  if (!at) abort();
  Shape *at_b = g->outer ? malloc(sizeof *at_b * ((size_t)g->n_values + 1)) : NULL;
  bool ok = probe(g, len, at, d) && (!at_b || probe_batch(g, at_b, d)),
       back = ir_dyn_resize(g, max, d);
  for (int r = 0; ok && back && r < g->n_folds; r++) {
    IrDynFold *f = &g->folds[r];
    const IrValue *x = f->node->inputs[0];
    if (f->at >= 0 && !f->shadow && reads_shape(f->node)) {
      int axes[3] = {-1, -1, -1}, n_axes = 0; /* (a [1,S,S] value's shape: two) */
      for (int k = 0; k < x->rank && n_axes < 3; k++)
        if (at[x->id].dims[k] != x->dims[k]) axes[n_axes++] = k;
      for (int a = 0; a < n_axes; a++)
        if (n_axes > 2 || at[x->id].dims[axes[a]] != len || x->dims[axes[a]] != max)
          ok = ir_node_error(d, f->node, "",
                             "the shape of '%s' depends on '%s' other than by one or two axes "
                             "of that length",
                             x->name, LEN_DIM(g).name);
      f->node->inputs[0] = f->shadow = shadow_of(g, x, axes[0] + 1);
      f->shadow->dyn2 = axes[1] + 1;
      f->shadow->outer = at_b && batch_axis(x, &at_b[x->id], g, f->node, &ok, d);
      set_outer_unit(g, f);
    }
    f->at = -1;
  }
  free(at);
  free(at_b);
  return ok && back;
}

/* A constant that changes with the length, at the maximum (len_dep_snapshot). */
typedef struct LenDepMax {
  int64_t dims[IR_MAX_RANK];
  unsigned char data[];
} LenDepMax;

/* Constants that change with the length and that a node's code reads (a Reshape's shape is
 * only its output's shape): copies of them at the maximum, NULL for the others. */
static LenDepMax **len_dep_snapshot(IrGraph *g, bool shapes) {
  LenDepMax **snap = calloc((size_t)g->n_values + 1, sizeof *snap);
  if (!snap) abort();
  for (int i = 0; i < g->n_nodes; i++) {
    const IrNode *n = g->nodes[i];
    for (int k = 0; k < n->n_inputs; k++) {
      const IrValue *v = n->inputs[k];
      if (!v || !v->len_dep || snap[v->id] || (n->op == IR_OP_RESHAPE && k == 1 && !shapes))
        continue;
      LenDepMax *m = malloc(sizeof *m + (size_t)ir_value_nbytes(v));
      if (!m) abort();
      memcpy(m->dims, v->dims, sizeof m->dims);
      memcpy(m->data, v->data, (size_t)ir_value_nbytes(v));
      snap[v->id] = m;
    }
  }
  return snap;
}

/* v (at a run-time length) is the leading block of its value at the maximum, m: each element
 * at the same indices (a position table gathered at 0..len-1; a [len,len] slice of a [max,max]
 * table, read at the maximum's width). */
static bool leading_block(const IrValue *v, const LenDepMax *m) {
  int64_t idx[IR_MAX_RANK] = {0}, size = ir_dtype_size(v->dtype);
  for (int r = 0; r < v->rank; r++)
    if (v->dims[r] > m->dims[r]) return false;
  for (int64_t e = 0, n = ir_value_numel(v); e < n; e++) {
    int64_t at = 0;
    for (int r = 0; r < v->rank; r++) at = at * m->dims[r] + idx[r];
    if (memcmp((const unsigned char *)v->data + e * size, m->data + at * size, (size_t)size))
      return false;
    for (int r = v->rank - 1; r >= 0 && ++idx[r] == v->dims[r]; r--) idx[r] = 0;
  }
  return true;
}

/* Compiled code holds such a constant at the maximum and reads its first rows (and columns) at a
 * run-time length: its value there must be that leading block, or all of it when its shape does
 * not change (a batch size read from a Shape). */
static bool len_dep_prefix(IrGraph *g, LenDepMax *const *snap, int64_t len, IrDiag *d) {
  bool ok = true;
  for (int i = 0; i < g->n_values; i++) {
    const IrValue *v = g->values[i];
    if (!snap[i] || leading_block(v, snap[i])) continue;
    ok = false;
    ir_diag_error(d, v->src_path ? v->src_path : "--max-dim",
                  "constant '%s' is computed from the run-time length '%s' and at %s=%lld it is "
                  "not the leading part of its value at the maximum, which compiled code holds",
                  v->name, LEN_DIM(g).name, LEN_DIM(g).name, (long long)len);
  }
  return ok;
}

bool ir_dyn_folds_vary(IrGraph *g) {
  if (g->n_folds == 0) return false;
  LenDepMax **snap = len_dep_snapshot(g, true);
  int64_t max = LEN_DIM(g).max;
  IrDiag inner;
  ir_diag_init(&inner, NULL, false);
  bool vary = !ir_dyn_resize(g, max > 1 ? 1 : 2, &inner);
  for (int i = 0; i < g->n_values && !vary; i++)
    vary = snap[i] && (memcmp(g->values[i]->dims, snap[i]->dims, sizeof snap[i]->dims) ||
                       !leading_block(g->values[i], snap[i]));
  if (g->outer && !vary) { /* at batch 2 */
    g->outer_len = 2;
    vary = !ir_dyn_resize(g, max, &inner);
    for (int i = 0; i < g->n_values && !vary; i++)
      vary = snap[i] && (memcmp(g->values[i]->dims, snap[i]->dims, sizeof snap[i]->dims) ||
                         !leading_block(g->values[i], snap[i]));
    g->outer_len = 1;
  }
  vary |= !ir_dyn_resize(g, max, &inner);
  ir_diag_free(&inner);
  for (int i = 0; i < g->n_values; i++) free(snap[i]);
  free(snap);
  return vary;
}

static bool elementwise(const IrNode *n) {
  return ir_op_info[n->op].flags & (IR_OPF_UNARY | IR_OPF_BINARY | IR_OPF_ELEMENTWISE);
}

/* An operand of KilnAttention with the batch: its axis 0 is the logical axis Q's axis 0 is. */
static bool attention_batch_operand(const IrNode *n, int k) {
  const IrValue *q = n->inputs[0], *x = n->inputs[k];
  if (!x || !x->outer) return true;
  if (k == 3) return x->rank == q->rank;
  const char *perm = k == 0 ? "q_perm" : k == 1 ? "k_perm" : "v_perm";
  return x->rank == q->rank && ir_attr(n, perm)->ints[0] == 0;
}

/* Why n does not compute each batch element from that element alone (values with `outer` hold
 * one block per element along axis 0), or NULL: the run function then calls the graph's code once
 * per element. */
static const char *batch_problem(const IrNode *n) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0];
  int nin = ir_node_op_inputs(n);
  for (int j = 0; j < n->n_outputs; j++)
    if (n->outputs[j] && !n->outputs[j]->outer)
      return "it drops the batch (its output does not grow with it)";
  for (int k = nin; k < n->n_inputs; k++) /* fused element-wise epilogue operands */
    if (n->inputs[k] && n->inputs[k]->outer && n->inputs[k]->rank != y->rank)
      return "an operand with the batch is broadcast to another rank";
  if (elementwise(n)) {
    for (int k = 0; k < nin; k++)
      if (n->inputs[k] && n->inputs[k]->outer && n->inputs[k]->rank != y->rank)
        return "an operand with the batch is broadcast to another rank";
    return NULL;
  }
  if (is_reduce(n->op) || n->op == IR_OP_ARG_MAX || n->op == IR_OP_ARG_MIN ||
      n->op == IR_OP_SOFTMAX || n->op == IR_OP_LOG_SOFTMAX)
    return x->outer && !(reduced_axes(n) & 1u) ? NULL : "it works along the batch axis";
  switch (n->op) {
  case IR_OP_LAYER_NORM:
    if (nin > 1 && (n->inputs[1]->outer || (nin > 2 && n->inputs[2] && n->inputs[2]->outer)))
      return "its scale or bias has the batch";
    return axis_of(ir_attr_i(n, "axis"), x->rank) > 0 ? NULL : "it normalizes over the batch axis";
  case IR_OP_IDENTITY:
  case IR_OP_DROPOUT:
  case IR_OP_RESHAPE:
  case IR_OP_FLATTEN:
  case IR_OP_SQUEEZE:
  case IR_OP_UNSQUEEZE: return x->outer ? NULL : "only its data may have the batch";
  case IR_OP_MATMUL: {
    const IrValue *b = n->inputs[1];
    if (!x->outer) return "its B operand has the batch and A does not";
    if (!b->outer) return NULL; /* rows of A */
    return x->rank >= 3 && x->rank == y->rank && b->rank == y->rank
               ? NULL
               : "both operands have the batch but not as their (equal-rank) first axis";
  }
  case IR_OP_GEMM:
    if (!x->outer || n->inputs[1]->outer || (nin > 2 && n->inputs[2] && n->inputs[2]->outer))
      return "only its A operand may have the batch";
    return ir_attr_i(n, "transA") ? "transA = 1 reads A by columns" : NULL;
  case IR_OP_GATHER: {
    int a = axis_of(ir_attr_i(n, "axis"), x->rank);
    if (x->outer) return n->inputs[1]->outer || a == 0 ? "it gathers along the batch axis" : NULL;
    return a == 0 ? NULL : "its indices have the batch but it gathers along a later axis";
  }
  case IR_OP_TRANSPOSE: {
    const IrAttr *p = ir_attr(n, "perm");
    return p->count && p->ints[0] == 0 ? NULL : "it moves the batch axis";
  }
  case IR_OP_CONCAT:
  case IR_OP_SPLIT:
    for (int i = 0; i < nin; i++)
      if (!n->inputs[i]->outer) return "every operand must have the batch";
    return axis_of(ir_attr_i(n, "axis"), x->rank) != 0 ? NULL : "it works along the batch axis";
  case IR_OP_SLICE: {
    int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], out[IR_MAX_RANK];
    if (!x->outer || !ir_slice_params(n, start, step, out, NULL)) return "it slices the batch";
    return start[0] == 0 && step[0] == 1 && out[0] == x->dims[0] ? NULL
                                                                 : "it slices the batch axis";
  }
  case IR_OP_ATTENTION:
    if (!x->outer) return "its queries must have the batch";
    for (int k = 0; k < nin; k++)
      if (!attention_batch_operand(n, k))
        return "an operand has the batch on another axis than the queries'";
    return ir_attr(n, "out_perm")->ints[0] == 0 ? NULL : "its output moves the batch axis";
  default: return "the op has no run-time batch support";
  }
}

/* With a batch dim: which values grow with it, and that every node touching them computes each
 * element alone; the graph back at batch 1 after. */
static bool analyze_batch(IrGraph *g, IrDiag *d) {
  if (g->n_states) { /* one state per stream: the elements' calls would update it in turn */
    ir_diag_error(d, "--max-dim",
                  "a model with states cannot have the run-time batch '%s' (one state buffer "
                  "per stream: run each stream on its own)",
                  g->dyn[g->outer - 1].name);
    return false;
  }
  Shape *at2 = malloc(sizeof *at2 * ((size_t)g->n_values + 1));
  if (!at2) abort();
  LenDepMax **snap = len_dep_snapshot(g, false);
  g->outer_len = 2;
  IrDiag inner;
  ir_diag_init(&inner, NULL, false);
  bool ok = ir_dyn_resize(g, LEN_DIM(g).max, &inner);
  const char *b = g->dyn[g->outer - 1].name;
  if (!ok)
    ir_diag_error(d, "--max-dim", "the model's shapes do not follow the batch '%s' (at %s=2: %.*s)",
                  b, b, (int)strcspn(inner.text ? inner.text : "", "\n"),
                  inner.text ? inner.text : "");
  ir_diag_free(&inner);
  if (ok) save_shapes(g, at2);
  for (int i = 0; ok && i < g->n_values; i++)
    if (snap[i] && (memcmp(g->values[i]->dims, snap[i]->dims, sizeof snap[i]->dims) ||
                    !leading_block(g->values[i], snap[i]))) {
      ir_diag_error(d, g->values[i]->src_path ? g->values[i]->src_path : "--max-dim",
                    "constant '%s' is computed from the batch '%s': compiled code holds it for "
                    "one batch element",
                    g->values[i]->name, b);
      ok = false;
    }
  for (int i = 0; i < g->n_values; i++) free(snap[i]);
  free(snap);
  g->outer_len = 1;
  ir_diag_init(&inner, NULL, false);
  bool back = ir_dyn_resize(g, LEN_DIM(g).max, &inner);
  ir_diag_free(&inner);
  if (!back) {
    ir_diag_error(d, "--max-dim", "internal error: the shapes at batch 1 cannot be inferred again");
    ok = false;
  }
  for (int i = 0; ok && i < g->n_values; i++) {
    IrValue *v = g->values[i];
    v->outer = batch_axis(v, &at2[i], g, NULL, &ok, d);
    if (v->outer && v->state) {
      ir_diag_error(d, "--max-dim", "state '%s' cannot grow with the batch '%s'", v->name, b);
      ok = false;
    }
  }
  for (int i = 0; ok && i < g->n_nodes; i++) {
    const IrNode *n = g->nodes[i];
    bool any = false;
    for (int k = 0; k < n->n_inputs; k++) any |= n->inputs[k] && n->inputs[k]->outer;
    const char *why = any ? batch_problem(n) : NULL;
    if (why)
      ok = ir_node_error(d, n, "", "%s cannot run at the run-time batch '%s': %s",
                         ir_op_info[n->op].name, b, why);
  }
  free(at2);
  return ok;
}

bool ir_dyn_analyze(IrGraph *g, IrDiag *d) {
  if (g->n_dyn == 0) return true;
  g->outer_len = 1;
  int64_t max = LEN_DIM(g).max;
  Shape *at_max = malloc(sizeof *at_max * ((size_t)g->n_values + 1));
  Shape *at_p[2] = {malloc(sizeof(Shape) * ((size_t)g->n_values + 1)),
                    malloc(sizeof(Shape) * ((size_t)g->n_values + 1))};
  if (!at_max || !at_p[0] || !at_p[1]) abort();
  save_shapes(g, at_max);
  int64_t lens[2] = {1, max - 1};
  int n_probes = max > 2 ? 2 : 1;
  if (max == 1) lens[0] = 2; /* any other length tells the axis apart */
  LenDepMax **snap = len_dep_snapshot(g, false);
  bool ok = true;
  for (int p = 0; p < n_probes && ok; p++)
    ok = probe(g, lens[p], at_p[p], d) && len_dep_prefix(g, snap, lens[p], d);
  for (int i = 0; i < g->n_values; i++) free(snap[i]);
  free(snap);
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
                         ir_op_info[n->op].name, LEN_DIM(g).name, why);
  }
  free(at_max);
  free(at_p[0]);
  free(at_p[1]);
  return ok && (!g->outer || analyze_batch(g, d));
}
