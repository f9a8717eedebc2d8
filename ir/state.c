/* States: values that persist across calls, in a caller-owned buffer (ir.h, IrState). Any
 * frontend declares them through ir_graph_add_state; `--state OUT=IN` pairs existing graph
 * outputs and inputs (ir_graph_pair_states), so ONNX exports need no special form. */
#include <stdlib.h>
#include <string.h>

#include "ir_util.h"

static int index_of(IrValue *const *list, int n, const IrValue *v) {
  for (int i = 0; i < n; i++)
    if (list[i] == v) return i;
  return -1;
}

static void remove_at(IrValue **list, int *n, int k) {
  memmove(list + k, list + k + 1, sizeof *list * (size_t)(*n - k - 1));
  (*n)--;
}

static int64_t align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

/* Each state at the next multiple of IR_STATE_ALIGN, in declaration order. */
static void layout(IrGraph *g) {
  int64_t at = 0;
  for (int i = 0; i < g->n_states; i++) {
    g->states[i].offset = at;
    at = align_up(at + ir_value_nbytes(g->states[i].in), IR_STATE_ALIGN);
  }
  g->state_size = at;
}

bool ir_graph_add_state(IrGraph *g, IrValue *in, IrValue *out, const void *init, const char *where,
                        IrDiag *d) {
  if (in->state || out->state) {
    ir_diag_error(d, where, "'%s' is already part of a state", in->state ? in->name : out->name);
    return false;
  }
  int ki = index_of(g->inputs, g->n_inputs, in), ko = index_of(g->outputs, g->n_outputs, out);
  if (ki < 0) {
    ir_diag_error(d, where, "'%s' is not a graph input (a state is read from an input)", in->name);
    return false;
  }
  if (ko < 0) {
    ir_diag_error(d, where, "'%s' is not a graph output (a state's next value is an output)",
                  out->name);
    return false;
  }
  if (in == out) {
    ir_diag_error(d, where, "'%s' cannot be its own next value", in->name);
    return false;
  }
  if (in->dtype != out->dtype || !ir_same_shape(in, out)) {
    char a[160], b[160];
    ir_diag_error(d, where, "state '%s' is %s%s but its next value '%s' is %s%s", in->name,
                  ir_dtype_name(in->dtype), ir_format_dims(in->rank, in->dims, a, sizeof a),
                  out->name, ir_dtype_name(out->dtype),
                  ir_format_dims(out->rank, out->dims, b, sizeof b));
    return false;
  }
  if (g->n_states == g->cap_states) {
    int cap = g->cap_states ? 2 * g->cap_states : 4;
    IrState *s = realloc(g->states, sizeof *s * (size_t)cap);
    if (!s) abort();
    g->states = s;
    g->cap_states = cap;
  }
  void *copy = NULL;
  if (init) {
    copy = ir_arena_alloc(g->arena, (size_t)ir_value_nbytes(in) + 1);
    memcpy(copy, init, (size_t)ir_value_nbytes(in));
  }
  g->states[g->n_states++] = (IrState){in, out, copy, 0, false};
  in->state = out->state = g->n_states;
  remove_at(g->inputs, &g->n_inputs, ki);
  remove_at(g->outputs, &g->n_outputs, ko);
  layout(g);
  return true;
}

bool ir_graph_pair_states(IrGraph *g, const char *spec, IrDiag *d) {
  if (!spec) return true;
  size_t len = strlen(spec);
  char *buf = malloc(len + 1);
  if (!buf) abort();
  memcpy(buf, spec, len + 1);
  bool ok = true;
  for (char *item = buf, *next; item && ok; item = next) {
    next = strchr(item, ',');
    if (next) *next++ = 0;
    char *eq = strchr(item, '=');
    if (!eq || eq == item || !eq[1]) {
      ir_diag_error(d, "--state", "expected OUTPUT=INPUT, got '%s'", item);
      ok = false;
      break;
    }
    *eq = 0;
    IrValue *out = ir_graph_find_value(g, item), *in = ir_graph_find_value(g, eq + 1);
    if (!out || !in) {
      ir_diag_error(d, "--state", "the model has no value named '%s'", !out ? item : eq + 1);
      ok = false;
      break;
    }
    ok = ir_graph_add_state(g, in, out, NULL, "--state", d);
  }
  free(buf);
  return ok;
}

void ir_state_reset(const IrGraph *g, void *state) {
  memset(state, 0, (size_t)g->state_size);
  for (int i = 0; i < g->n_states; i++)
    if (g->states[i].init)
      memcpy((char *)state + g->states[i].offset, g->states[i].init,
             (size_t)ir_value_nbytes(g->states[i].in));
}
