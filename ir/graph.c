/* Graph construction and queries: values, nodes, attributes, topological order. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

struct IrCleanup {
  struct IrCleanup *next;
  void (*fn)(void *);
  void *ctx;
};

/* Open-addressing hash of value names, so lookups stay O(1) on graphs of thousands of nodes. */
struct IrNameIndex {
  IrValue **slots;
  size_t cap, used;
};

static uint64_t name_hash(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static IrValue **index_slot(struct IrNameIndex *ix, const char *name) {
  size_t mask = ix->cap - 1;
  for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask)
    if (!ix->slots[i] || strcmp(ix->slots[i]->name, name) == 0) return &ix->slots[i];
}

static void index_insert(struct IrNameIndex *ix, IrValue *v) {
  if ((ix->used + 1) * 2 > ix->cap) {
    struct IrNameIndex bigger = {calloc(ix->cap ? ix->cap * 2 : 64, sizeof(IrValue *)),
                                 ix->cap ? ix->cap * 2 : 64, 0};
    if (!bigger.slots) abort();
    for (size_t i = 0; i < ix->cap; i++)
      if (ix->slots[i]) *index_slot(&bigger, ix->slots[i]->name) = ix->slots[i];
    bigger.used = ix->used;
    free(ix->slots);
    *ix = bigger;
  }
  *index_slot(ix, v->name) = v;
  ix->used++;
}

static void grow(void *arrayp, int *cap, int need, size_t elem) {
  if (need <= *cap) return;
  int c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  void **a = arrayp;
  void *p = realloc(*a, (size_t)c * elem);
  if (!p) abort();
  *a = p;
  *cap = c;
}

IrGraph *ir_graph_new(const char *name) {
  IrGraph *g = calloc(1, sizeof *g);
  if (!g) abort();
  g->arena = ir_arena_new();
  g->name = ir_arena_strdup(g->arena, name ? name : "model");
  g->opset = 17;
  g->workspace_size = -1;
  g->workspace_align = 64;
  g->outer_len = 1;
  g->name_index = calloc(1, sizeof *g->name_index);
  if (!g->name_index) abort();
  return g;
}

void ir_graph_on_free(IrGraph *g, void (*fn)(void *ctx), void *ctx) {
  struct IrCleanup *c = ir_arena_alloc(g->arena, sizeof *c);
  c->fn = fn;
  c->ctx = ctx;
  c->next = g->cleanups;
  g->cleanups = c;
}

void ir_graph_free(IrGraph *g) {
  if (!g) return;
  for (struct IrCleanup *c = g->cleanups; c; c = c->next) c->fn(c->ctx);
  free(g->values);
  free(g->nodes);
  free(g->inputs);
  free(g->outputs);
  free(g->states);
  free(g->folds);
  if (g->name_index) free(g->name_index->slots);
  free(g->name_index);
  ir_arena_free(g->arena);
  free(g);
}

IrValue *ir_graph_find_value(const IrGraph *g, const char *name) {
  if (!g->name_index->cap) return NULL;
  return *index_slot(g->name_index, name);
}

IrValue *ir_value_new(IrGraph *g, const char *name, IrValueKind kind, IrDType dtype, int rank,
                      const int64_t *dims) {
  assert(rank >= 0 && rank <= IR_MAX_RANK);
  if (ir_graph_find_value(g, name)) return NULL;
  IrValue *v = ir_arena_alloc(g->arena, sizeof *v);
  v->name = ir_arena_strdup(g->arena, name);
  v->id = g->n_values;
  v->kind = kind;
  v->dtype = dtype;
  v->rank = rank;
  for (int i = 0; i < rank; i++) v->dims[i] = dims[i];
  v->ws_offset = -1;
  grow(&g->values, &g->cap_values, g->n_values + 1, sizeof *g->values);
  g->values[g->n_values++] = v;
  index_insert(g->name_index, v);
  return v;
}

void ir_graph_add_input(IrGraph *g, IrValue *v) {
  grow(&g->inputs, &g->cap_inputs, g->n_inputs + 1, sizeof *g->inputs);
  g->inputs[g->n_inputs++] = v;
}

void ir_graph_add_output(IrGraph *g, IrValue *v) {
  grow(&g->outputs, &g->cap_outputs, g->n_outputs + 1, sizeof *g->outputs);
  g->outputs[g->n_outputs++] = v;
  v->is_output = true;
}

IrNode *ir_node_new(IrGraph *g, IrOp op, const char *name, int n_inputs, int n_outputs) {
  IrNode *n = ir_arena_alloc(g->arena, sizeof *n);
  n->op = op;
  n->id = g->n_nodes;
  n->src_index = -1;
  n->scratch_offset = -1;
  n->n_inputs = n_inputs;
  n->n_outputs = n_outputs;
  n->inputs = ir_arena_alloc(g->arena, sizeof(IrValue *) * (size_t)(n_inputs ? n_inputs : 1));
  n->outputs = ir_arena_alloc(g->arena, sizeof(IrValue *) * (size_t)(n_outputs ? n_outputs : 1));
  if (name) {
    n->name = ir_arena_strdup(g->arena, name);
  } else {
    char buf[64];
    snprintf(buf, sizeof buf, "%s_%d", ir_op_info[op].name, g->n_nodes);
    n->name = ir_arena_strdup(g->arena, buf);
  }
  int na = ir_op_attr_count(op);
  n->attrs = ir_arena_alloc(g->arena, sizeof(IrAttr) * (size_t)(na ? na : 1));
  for (int k = 0; k < na; k++) {
    const IrAttrSpec *s = &ir_op_info[op].attrs[k];
    n->attrs[k].i = s->def_i;
    n->attrs[k].f = s->def_f;
    n->attrs[k].s = s->def_s;
  }
  grow(&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes);
  g->nodes[g->n_nodes++] = n;
  return n;
}

void ir_node_set_output(IrNode *n, int slot, IrValue *v) {
  assert(slot >= 0 && slot < n->n_outputs);
  n->outputs[slot] = v;
  v->kind = IR_VALUE_NODE;
  v->producer = n;
  v->producer_slot = slot;
}

static int attr_slot(const IrNode *n, const char *name) {
  int k = ir_op_attr_index(n->op, name);
  assert(k >= 0 && "attribute not in the op's schema");
  return k;
}

const IrAttr *ir_attr(const IrNode *n, const char *name) { return &n->attrs[attr_slot(n, name)]; }
int64_t ir_attr_i(const IrNode *n, const char *name) { return ir_attr(n, name)->i; }
double ir_attr_f(const IrNode *n, const char *name) { return ir_attr(n, name)->f; }
const char *ir_attr_s(const IrNode *n, const char *name) { return ir_attr(n, name)->s; }

static IrAttr *attr_for_set(IrNode *n, const char *name) {
  IrAttr *a = &n->attrs[attr_slot(n, name)];
  a->present = true;
  return a;
}

void ir_set_attr_i(IrGraph *g, IrNode *n, const char *name, int64_t v) {
  (void)g;
  attr_for_set(n, name)->i = v;
}

void ir_set_attr_f(IrGraph *g, IrNode *n, const char *name, double v) {
  (void)g;
  attr_for_set(n, name)->f = v;
}

void ir_set_attr_s(IrGraph *g, IrNode *n, const char *name, const char *v) {
  attr_for_set(n, name)->s = ir_arena_strdup(g->arena, v);
}

void ir_set_attr_ints(IrGraph *g, IrNode *n, const char *name, const int64_t *v, int count) {
  IrAttr *a = attr_for_set(n, name);
  a->count = count;
  a->ints = ir_arena_alloc(g->arena, sizeof(int64_t) * (size_t)(count ? count : 1));
  if (count) memcpy(a->ints, v, sizeof(int64_t) * (size_t)count);
}

void ir_set_attr_floats(IrGraph *g, IrNode *n, const char *name, const double *v, int count) {
  IrAttr *a = attr_for_set(n, name);
  a->count = count;
  a->floats = ir_arena_alloc(g->arena, sizeof(double) * (size_t)(count ? count : 1));
  if (count) memcpy(a->floats, v, sizeof(double) * (size_t)count);
}

bool ir_dims_numel(int rank, const int64_t *dims, int64_t *out) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0 || (dims[i] && n > INT64_MAX / dims[i])) return false;
    n *= dims[i];
  }
  *out = n;
  return true;
}

int64_t ir_value_numel(const IrValue *v) {
  int64_t n = 0;
  bool ok = ir_dims_numel(v->rank, v->dims, &n);
  assert(ok);
  (void)ok;
  return n;
}

int64_t ir_value_nbytes(const IrValue *v) {
  return ir_value_numel(v) * (int64_t)ir_dtype_size(v->dtype);
}

bool ir_same_shape(const IrValue *a, const IrValue *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

const char *ir_node_where(const IrNode *n, char *buf, size_t size) {
  if (n->src_index >= 0)
    snprintf(buf, size, "%s[%d] (%s)", n->src_list ? n->src_list : "nodes", n->src_index, n->name);
  else
    snprintf(buf, size, "node '%s'", n->name);
  return buf;
}

int ir_value_use_count(const IrGraph *g, const IrValue *v) {
  int uses = 0;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i]->n_inputs; k++) uses += g->nodes[i]->inputs[k] == v;
  return uses;
}

/* Kahn's algorithm, taking ready nodes in file order so the result is deterministic. */
bool ir_graph_sort(IrGraph *g, IrDiag *d) {
  int n = g->n_nodes;
  if (n == 0) return true;
  int *pending = calloc((size_t)n, sizeof *pending); /* unresolved inputs per node */
  IrNode **order = calloc((size_t)n, sizeof *order);
  int *users_start = calloc((size_t)g->n_values + 1, sizeof *users_start);
  if (!pending || !order || !users_start) abort();
  for (int i = 0; i < n; i++) g->nodes[i]->id = i;
  /* users of each value, as a CSR list */
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes[i]->n_inputs; k++) {
      IrValue *v = g->nodes[i]->inputs[k];
      if (v && v->kind == IR_VALUE_NODE) users_start[v->id + 1]++;
    }
  for (int v = 0; v < g->n_values; v++) users_start[v + 1] += users_start[v];
  int *fill = calloc((size_t)g->n_values + 1, sizeof *fill);
  int *users = calloc((size_t)users_start[g->n_values] + 1, sizeof *users);
  if (!fill || !users) abort();
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes[i]->n_inputs; k++) {
      IrValue *v = g->nodes[i]->inputs[k];
      if (v && v->kind == IR_VALUE_NODE) {
        users[users_start[v->id] + fill[v->id]++] = i;
        pending[i]++;
      }
    }
  /* A min-heap would keep file order exactly; a sorted ready list is simple and enough. */
  int head = 0, tail = 0;
  for (int i = 0; i < n; i++)
    if (!pending[i]) order[tail++] = g->nodes[i];
  while (head < tail) {
    IrNode *x = order[head++];
    for (int j = 0; j < x->n_outputs; j++) {
      IrValue *v = x->outputs[j];
      if (!v) continue;
      for (int u = users_start[v->id]; u < users_start[v->id + 1]; u++)
        if (--pending[users[u]] == 0) order[tail++] = g->nodes[users[u]];
    }
  }
  bool ok = tail == n;
  if (!ok) {
    char where[300];
    for (int i = 0; i < n; i++)
      if (pending[i]) {
        ir_diag_error(d, ir_node_where(g->nodes[i], where, sizeof where),
                      "node is part of a cycle (its inputs depend on its own outputs)");
        break;
      }
  } else {
    memcpy(g->nodes, order, sizeof *order * (size_t)n);
    for (int i = 0; i < n; i++) g->nodes[i]->id = i;
  }
  free(pending);
  free(order);
  free(users_start);
  free(fill);
  free(users);
  return ok;
}

void ir_graph_drop_unused_values(IrGraph *g) {
  bool *used = calloc((size_t)g->n_values + 1, sizeof *used);
  if (!used) abort();
  for (int i = 0; i < g->n_nodes; i++) {
    const IrNode *x = g->nodes[i];
    for (int k = 0; k < x->n_inputs; k++)
      if (x->inputs[k]) used[x->inputs[k]->id] = true;
    for (int j = 0; j < x->n_outputs; j++)
      if (x->outputs[j]) used[x->outputs[j]->id] = true;
  }
  for (int i = 0; i < g->n_inputs; i++) used[g->inputs[i]->id] = true;
  for (int i = 0; i < g->n_outputs; i++) used[g->outputs[i]->id] = true;
  for (int i = 0; i < g->n_states; i++)
    used[g->states[i].in->id] = used[g->states[i].out->id] = true;
  int m = 0;
  for (int i = 0; i < g->n_values; i++)
    if (used[i]) g->values[m++] = g->values[i];
  g->n_values = m;
  for (int i = 0; i < m; i++) g->values[i]->id = i;
  free(used);
}

bool ir_node_fold(IrGraph *g, IrNode *n, int64_t max_bytes) {
  if (n->n_epilogue) return false; /* the kernel alone would skip the epilogue */
  bool is_static = ir_op_info[n->op].flags & IR_OPF_STATIC;
  bool all_const = n->n_inputs > 0 || is_static;
  for (int k = 0; k < n->n_inputs; k++)
    if (n->inputs[k] && n->inputs[k]->kind != IR_VALUE_CONST && !is_static) all_const = false;
  int64_t bytes = 0;
  bool outs_ok = true;
  for (int j = 0; j < n->n_outputs; j++) {
    if (n->outputs[j])
      bytes += ir_value_nbytes(n->outputs[j]);
    else
      outs_ok = false;
  }
  if (!all_const || !outs_ok || bytes > max_bytes) return false;
  bool len_dep = false;
  if (g->n_dyn && !ir_dyn_may_fold(g, n, &len_dep)) return false;
  const void **in = calloc((size_t)n->n_inputs + 1, sizeof *in);
  void **out = calloc((size_t)n->n_outputs + 1, sizeof *out);
  if (!in || !out) abort();
  for (int k = 0; k < n->n_inputs; k++) in[k] = n->inputs[k] ? n->inputs[k]->data : NULL;
  for (int j = 0; j < n->n_outputs; j++)
    out[j] = ir_arena_alloc(g->arena, (size_t)ir_value_nbytes(n->outputs[j]) + 1);
  bool folded = ir_op_info[n->op].interp(n, in, out) == 0;
  if (folded)
    for (int j = 0; j < n->n_outputs; j++) {
      IrValue *v = n->outputs[j];
      v->kind = IR_VALUE_CONST;
      v->data = out[j];
      v->producer = NULL;
      v->ws_offset = -1;
      v->len_dep = len_dep;
    }
  if (folded && len_dep) ir_dyn_record_fold(g, n);
  free(in);
  free(out);
  return folded;
}

bool ir_graph_infer_shapes(IrGraph *g, IrDiag *d) {
  for (int i = 0; i < g->n_nodes; i++)
    if (!ir_op_info[g->nodes[i]->op].infer(g, g->nodes[i], d)) return false;
  return true;
}

int64_t ir_graph_param_count(const IrGraph *g) {
  int64_t total = 0;
  for (int i = 0; i < g->n_values; i++)
    if (g->values[i]->kind == IR_VALUE_CONST) total += ir_value_numel(g->values[i]);
  return total;
}

int64_t ir_graph_param_bytes(const IrGraph *g) {
  int64_t total = 0;
  for (int i = 0; i < g->n_values; i++)
    if (g->values[i]->kind == IR_VALUE_CONST) total += ir_value_nbytes(g->values[i]);
  return total;
}
