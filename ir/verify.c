/* The IR verifier: structural invariants that the frontend establishes and every pass must keep.
 * Failures are reported as errors at the node or value concerned; after a pass they mean a bug
 * in that pass, so the messages say what is inconsistent rather than how to fix a model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir_util.h"

static const char *value_where(const IrValue *v, char *buf, size_t size) {
  snprintf(buf, size, "value '%s'", v->name ? v->name : "?");
  return buf;
}

static bool in_table(const IrGraph *g, const IrValue *v) {
  return v->id >= 0 && v->id < g->n_values && g->values[v->id] == v;
}

static bool check_value(const IrGraph *g, int i, IrDiag *d) {
  const IrValue *v = g->values[i];
  char w[320], s[256];
  if (!v) {
    ir_diag_error(d, "", "graph values[%d] is NULL", i);
    return false;
  }
  bool ok = true;
  if (v->id != i) {
    ir_diag_error(d, value_where(v, w, sizeof w), "id %d but stored at values[%d]", v->id, i);
    ok = false;
  }
  if (!v->name || !*v->name) {
    ir_diag_error(d, value_where(v, w, sizeof w), "value %d has no name", i);
    ok = false;
  }
  if ((unsigned)v->dtype >= IR_DTYPE_COUNT || v->rank < 0 || v->rank > IR_MAX_RANK) {
    ir_diag_error(d, value_where(v, w, sizeof w), "invalid dtype %d or rank %d", (int)v->dtype,
                  v->rank);
    return false;
  }
  int64_t numel;
  /* an initializer may be empty (the [0]-shaped shape of a Reshape to a scalar) */
  int64_t min_dim = v->kind == IR_VALUE_CONST ? 0 : 1;
  for (int k = 0; k < v->rank; k++)
    if (v->dims[k] < min_dim || v->dims[k] > IR_MAX_DIM) {
      ir_diag_error(d, value_where(v, w, sizeof w), "invalid shape %s",
                    ir_format_dims(v->rank, v->dims, s, sizeof s));
      return false;
    }
  if (!ir_dims_numel(v->rank, v->dims, &numel) ||
      numel > INT64_MAX / (int64_t)ir_dtype_size(v->dtype)) {
    ir_diag_error(d, value_where(v, w, sizeof w), "shape %s has too many elements",
                  ir_format_dims(v->rank, v->dims, s, sizeof s));
    ok = false;
  }
  if (v->kind == IR_VALUE_CONST && !v->data) {
    ir_diag_error(d, value_where(v, w, sizeof w), "initializer has no data");
    ok = false;
  }
  return ok;
}

/* Arity, attributes and outputs of one node; marks the values it produces. */
/* A fused epilogue: element-wise steps over the head's output shape, their operands among the
 * head's trailing inputs. */
static bool check_epilogue(const IrNode *n, IrDiag *d) {
  const IrValue *y = n->outputs[0];
  if (ir_node_op_inputs(n) != ir_op_info[n->op].max_inputs)
    return ir_node_error(d, n, "epilogue", "a fused head keeps all %d input slots of its op",
                         ir_op_info[n->op].max_inputs);
  if (n->n_epilogue_inputs > IR_MAX_EPILOGUE_INPUTS)
    return ir_node_error(d, n, "epilogue", "%d epilogue operands, at most %d allowed",
                         n->n_epilogue_inputs, IR_MAX_EPILOGUE_INPUTS);
  int used = 0;
  for (int s = 0; s < n->n_epilogue; s++) {
    const IrNode *e = n->epilogue[s];
    unsigned f = ir_op_info[e->op].flags;
    if (!(f & (IR_OPF_UNARY | IR_OPF_BINARY)) || e->n_epilogue)
      return ir_node_error(d, n, "epilogue", "step %d (%s) is not element-wise", s,
                           ir_op_info[e->op].name);
    if (e->n_inputs < ir_op_info[e->op].min_inputs || e->n_inputs > ir_op_info[e->op].max_inputs)
      return ir_node_error(d, n, "epilogue", "step %d (%s) has %d inputs", s,
                           ir_op_info[e->op].name, e->n_inputs);
    int chain = 0;
    for (int k = 0; k < e->n_inputs; k++) {
      const IrValue *v = e->inputs[k];
      if (!v && (k == 0 || (f & IR_OPF_BINARY))) {
        chain++;
        continue;
      }
      if (!v) continue;
      bool found = false;
      for (int j = ir_node_op_inputs(n); j < n->n_inputs; j++) found |= n->inputs[j] == v;
      if (!found)
        return ir_node_error(d, n, "epilogue", "step %d (%s): operand '%s' is not an input", s,
                             ir_op_info[e->op].name, v->name);
      if ((f & IR_OPF_BINARY) && ir_value_numel(v) != 1 && !ir_same_shape(v, y))
        return ir_node_error(d, n, "epilogue", "step %d (%s): operand '%s' broadcasts", s,
                             ir_op_info[e->op].name, v->name);
      used++;
    }
    if (!chain)
      return ir_node_error(d, n, "epilogue", "step %d (%s) does not read the running value", s,
                           ir_op_info[e->op].name);
  }
  if (n->n_epilogue_inputs > used) /* shared operands appear once among the inputs */
    return ir_node_error(d, n, "epilogue", "%d trailing inputs but only %d epilogue operands",
                         n->n_epilogue_inputs, used);
  return true;
}

static bool check_node_structure(const IrGraph *g, int i, int *producer_of, IrDiag *d) {
  const IrNode *n = g->nodes[i];
  char w[384];
  if (!n) {
    ir_diag_error(d, "", "graph nodes[%d] is NULL", i);
    return false;
  }
  ir_node_where(n, w, sizeof w);
  if ((unsigned)n->op >= IR_OP_COUNT) {
    ir_diag_error(d, w, "invalid op %d", (int)n->op);
    return false;
  }
  const IrOpInfo *info = &ir_op_info[n->op];
  bool ok = true;
  if (n->id != i) {
    ir_diag_error(d, w, "id %d but at position %d of the node list", n->id, i);
    ok = false;
  }
  if (ir_node_op_inputs(n) < info->min_inputs || ir_node_op_inputs(n) > info->max_inputs) {
    ir_diag_error(d, w, "%s has %d inputs, expected %d to %d", info->name, ir_node_op_inputs(n),
                  info->min_inputs, info->max_inputs);
    return false;
  }
  if (n->n_epilogue && !check_epilogue(n, d)) return false;
  if (n->n_outputs < info->min_outputs || n->n_outputs > info->max_outputs) {
    ir_diag_error(d, w, "%s has %d outputs, expected %d to %d", info->name, n->n_outputs,
                  info->min_outputs, info->max_outputs);
    return false;
  }
  for (int k = 0; info->attrs[k].name; k++) {
    const IrAttrSpec *s = &info->attrs[k];
    const IrAttr *a = &n->attrs[k];
    char field[64];
    snprintf(field, sizeof field, "attrs.%s", s->name);
    if (s->required && !a->present) {
      ir_node_error(d, n, field, "required attribute is missing");
      ok = false;
    }
    bool bad = (s->kind == IR_ATTR_STRING && !a->s) || a->count < 0 ||
               (s->kind == IR_ATTR_INTS && a->count > 0 && !a->ints) ||
               (s->kind == IR_ATTR_FLOATS && a->count > 0 && !a->floats);
    if (bad) {
      ir_node_error(d, n, field, "malformed attribute value");
      ok = false;
    }
  }
  for (int j = 0; j < n->n_outputs; j++) {
    const IrValue *v = n->outputs[j];
    char field[32];
    snprintf(field, sizeof field, "outputs[%d]", j);
    if (!v) {
      if (j < info->min_outputs) {
        ir_node_error(d, n, field, "required output is missing");
        ok = false;
      }
      continue;
    }
    if (!in_table(g, v)) {
      ir_node_error(d, n, field, "value '%s' is not in the graph's value table", v->name);
      ok = false;
      continue;
    }
    if (v->kind != IR_VALUE_NODE || v->producer != n || v->producer_slot != j) {
      ir_node_error(d, n, field, "value '%s' does not record this node and slot %d as its producer",
                    v->name, j);
      ok = false;
    }
    if (producer_of[v->id] >= 0) {
      ir_node_error(d, n, field, "value '%s' is already produced by %s", v->name,
                    ir_node_where(g->nodes[producer_of[v->id]], w, sizeof w));
      ok = false;
    } else {
      producer_of[v->id] = i;
    }
  }
  return ok;
}

/* Inputs of one node, in execution order: present where required, defined before use. */
static bool check_node_inputs(const IrGraph *g, const IrNode *n, const bool *is_graph_input,
                              const int *producer_of, const bool *defined, IrDiag *d) {
  const IrOpInfo *info = &ir_op_info[n->op];
  bool ok = true;
  char w[384];
  for (int k = 0; k < n->n_inputs; k++) {
    const IrValue *v = n->inputs[k];
    char field[32];
    snprintf(field, sizeof field, "inputs[%d]", k);
    if (!v) {
      if (k < info->min_inputs) {
        ir_node_error(d, n, field, "required input is missing");
        ok = false;
      }
      continue;
    }
    if (!in_table(g, v)) {
      ir_node_error(d, n, field, "value '%s' is not in the graph's value table", v->name);
      ok = false;
      continue;
    }
    if (v->kind == IR_VALUE_INPUT && !is_graph_input[v->id]) {
      ir_node_error(d, n, field, "value '%s' is an input but not listed among the graph inputs",
                    v->name);
      ok = false;
    } else if (v->kind == IR_VALUE_NODE && producer_of[v->id] < 0) {
      ir_node_error(d, n, field, "value '%s' is never produced by any node", v->name);
      ok = false;
    } else if (v->kind == IR_VALUE_NODE && !defined[v->id]) {
      ir_node_error(d, n, field, "value '%s' is used before it is defined (by %s)", v->name,
                    ir_node_where(g->nodes[producer_of[v->id]], w, sizeof w));
      ok = false;
    }
  }
  return ok;
}

/* Re-runs the op's shape inference and compares with the recorded output types; the recorded
 * types are restored either way, so the graph is unchanged. */
static bool check_node_shapes(const IrGraph *g, const IrNode *n, IrDiag *d) {
  struct {
    IrDType dtype;
    int rank;
    int64_t dims[IR_MAX_RANK];
  } saved[8];
  int count = n->n_outputs < 8 ? n->n_outputs : 8;
  for (int j = 0; j < count; j++)
    if (n->outputs[j]) {
      saved[j].dtype = n->outputs[j]->dtype;
      saved[j].rank = n->outputs[j]->rank;
      memcpy(saved[j].dims, n->outputs[j]->dims, sizeof saved[j].dims);
    }
  IrDiag scratch;
  ir_diag_init(&scratch, NULL, false);
  /* inference writes only the outputs' dtype and shape, which are restored below */
  IrNode own = *n; /* the op without its epilogue's operands */
  own.n_inputs = ir_node_op_inputs(n);
  bool inferred = ir_op_info[n->op].infer((IrGraph *)g, &own, &scratch);
  bool ok = true;
  char s1[256], s2[256], field[32];
  if (!inferred) {
    const char *msg = scratch.text ? scratch.text : "";
    size_t len = strcspn(msg, "\n");
    ir_node_error(d, n, "", "shape inference now fails: %.*s", (int)len, msg);
    ok = false;
  }
  for (int j = 0; j < count; j++) {
    IrValue *v = n->outputs[j];
    if (!v) continue;
    bool same = v->dtype == saved[j].dtype && v->rank == saved[j].rank &&
                memcmp(v->dims, saved[j].dims, sizeof(int64_t) * (size_t)v->rank) == 0;
    if (inferred && !same) {
      snprintf(field, sizeof field, "outputs[%d]", j);
      ir_node_error(d, n, field, "value '%s' is recorded as %s%s but inference gives %s%s", v->name,
                    ir_dtype_name(saved[j].dtype),
                    ir_format_dims(saved[j].rank, saved[j].dims, s1, sizeof s1),
                    ir_dtype_name(v->dtype), ir_format_dims(v->rank, v->dims, s2, sizeof s2));
      ok = false;
    }
    v->dtype = saved[j].dtype;
    v->rank = saved[j].rank;
    memcpy(v->dims, saved[j].dims, sizeof v->dims);
  }
  ir_diag_free(&scratch);
  return ok;
}

bool ir_graph_verify(const IrGraph *g, IrDiag *d) {
  int errors_before = d->n_errors;
  bool values_ok = true;
  for (int i = 0; i < g->n_values; i++) values_ok &= check_value(g, i, d);
  if (!values_ok) return false; /* ids index the tables below */

  size_t nv = (size_t)g->n_values + 1;
  bool *is_graph_input = calloc(nv, sizeof *is_graph_input);
  bool *defined = calloc(nv, sizeof *defined);
  bool *node_ok = calloc((size_t)g->n_nodes + 1, sizeof *node_ok);
  int *producer_of = malloc(nv * sizeof *producer_of);
  if (!is_graph_input || !defined || !node_ok || !producer_of) abort();
  for (size_t i = 0; i < nv; i++) producer_of[i] = -1;
  char w[320];

  for (int i = 0; i < g->n_inputs; i++) {
    const IrValue *v = g->inputs[i];
    if (!v || !in_table(g, v) || v->kind != IR_VALUE_INPUT) {
      ir_diag_error(d, "", "graph inputs[%d] is not an input value in the value table", i);
      continue;
    }
    if (is_graph_input[v->id])
      ir_diag_error(d, value_where(v, w, sizeof w), "listed twice among the graph inputs");
    is_graph_input[v->id] = defined[v->id] = true;
  }
  for (int i = 0; i < g->n_states; i++) { /* a state's value at the start: an input */
    const IrValue *v = g->states[i].in;
    if (!v || !in_table(g, v) || v->kind != IR_VALUE_INPUT || v->state != i + 1) {
      ir_diag_error(d, "", "states[%d] is not read from an input value marked as the state", i);
      continue;
    }
    is_graph_input[v->id] = defined[v->id] = true;
  }
  for (int i = 0; i < g->n_values; i++)
    if (g->values[i]->kind == IR_VALUE_CONST) defined[i] = true;

  for (int i = 0; i < g->n_nodes; i++) node_ok[i] = check_node_structure(g, i, producer_of, d);
  for (int i = 0; i < g->n_nodes; i++) {
    const IrNode *n = g->nodes[i];
    if (!n || (unsigned)n->op >= IR_OP_COUNT) continue;
    node_ok[i] &= check_node_inputs(g, n, is_graph_input, producer_of, defined, d);
    if (node_ok[i]) check_node_shapes(g, n, d);
    for (int j = 0; j < n->n_outputs; j++)
      if (n->outputs[j] && in_table(g, n->outputs[j])) defined[n->outputs[j]->id] = true;
  }

  for (int i = 0; i < g->n_outputs; i++) {
    const IrValue *v = g->outputs[i];
    if (!v || !in_table(g, v)) {
      ir_diag_error(d, "", "graph outputs[%d] is not in the value table", i);
      continue;
    }
    if (!v->is_output)
      ir_diag_error(d, value_where(v, w, sizeof w), "graph output without the is_output flag");
    if (v->kind == IR_VALUE_NODE && producer_of[v->id] < 0)
      ir_diag_error(d, value_where(v, w, sizeof w), "graph output is never produced by any node");
    if (v->kind == IR_VALUE_INPUT && !is_graph_input[v->id])
      ir_diag_error(d, value_where(v, w, sizeof w),
                    "graph output is an input value not listed among the graph inputs");
  }
  for (int i = 0; i < g->n_states; i++) {
    const IrValue *v = g->states[i].out, *in = g->states[i].in;
    if (!v || !in_table(g, v) || !v->is_output || v->state != i + 1 || !in ||
        v->dtype != in->dtype || !ir_same_shape(v, in)) {
      ir_diag_error(d, "", "states[%d]: next value missing, unmarked or of another type", i);
      continue;
    }
    if (v->kind == IR_VALUE_NODE && producer_of[v->id] < 0)
      ir_diag_error(d, value_where(v, w, sizeof w), "state's next value is never produced");
    if (v->kind == IR_VALUE_INPUT && !is_graph_input[v->id])
      ir_diag_error(d, value_where(v, w, sizeof w), "state's next value is an unlisted input");
  }
  if (g->n_outputs + g->n_states == 0) ir_diag_error(d, "", "the graph has no outputs");

  free(is_graph_input);
  free(defined);
  free(node_ok);
  free(producer_of);
  return d->n_errors == errors_before;
}
