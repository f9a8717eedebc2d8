/* Static memory planner: every intermediate value gets a workspace offset.
 * 1. Liveness: each value lives from its producer's step to its last reader's step.
 * 2. In place: a view (Reshape, Flatten, ...) shares its input's bytes; an element-wise node
 *    writes its output over an input of the same shape whose bytes nobody reads later. Values
 *    sharing bytes form one buffer whose lifetime is the union of theirs.
 * 3. Offsets by greedy placement (as in TFLM's greedy planner): buffers are placed one by one,
 *    each in a gap between the placed buffers whose lifetimes intersect its own (the lowest gap
 *    that holds it, or the smallest), in five orders (by size, in execution order, values
 *    before scratch, longest lifetime first, reverse execution order); the smallest plan is
 *    kept. A plan still above the lower bound (the most bytes live at one step) then goes
 *    through a seeded local search over the order (improve). */
#include <stdlib.h>
#include <string.h>

#include "pass.h"

typedef struct {
  int first, last; /* steps: definition and last read */
  int64_t size;    /* aligned */
  int64_t offset;
  int id;   /* smallest member value id, for deterministic order; n_values + node id for scratch */
  int node; /* scratch of this node (IrNode.scratch_bytes), live during its step only; -1 */
} Buffer;

typedef struct {
  int n;             /* buffers */
  Buffer *buf;       /* [n] */
  int *of;           /* value id -> buffer index, -1 if not in the workspace */
  int *first, *last; /* per value id */
} Plan;

static int64_t align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

/* Values that live in the workspace: produced by a node, not a graph output, and not a state's
 * next value written straight into the state buffer. */
static bool in_workspace(const IrGraph *g, const IrValue *v) {
  if (v->kind != IR_VALUE_NODE || !v->producer) return false;
  return !v->is_output || (v->state && !g->states[v->state - 1].direct);
}

/* Node n may write output 0 over input k: element-wise (or a view), same bytes. */
static bool can_share(const IrNode *n, int k) {
  unsigned f = ir_op_info[n->op].flags;
  const IrValue *x = n->inputs[k], *y = n->outputs[0];
  if (!x || !y || n->n_outputs < 1) return false;
  if (f & IR_OPF_VIEW) return k == 0 && ir_value_nbytes(x) == ir_value_nbytes(y);
  if (!(f & (IR_OPF_UNARY | IR_OPF_BINARY))) return false;
  return ir_same_shape(x, y) && x->dtype == y->dtype;
}

/* Node n may write output j into the bytes of input k while it runs, because it reads them first:
 * element-wise (each element read before it is stored; Where included), ScatterND's data, or a
 * recurrent layer's
 * initial h/c (its
 * lowering copies direction d's slice of initial_h/initial_c into scratch before the steps and
 * stores Y_h/Y_c's slice d after them; codegen/cg_seq.c, lower_recurrent). */
static bool reads_before_writing(const IrNode *n, int k, int j) {
  if (j == 0 && can_share(n, k) && !(ir_op_info[n->op].flags & IR_OPF_VIEW)) return true;
  /* Where: one nest over the output loads all three operands of an element, then stores it (a
   * KV cache updated at one position: Where(position == j, new, past)) */
  const IrValue *x = n->inputs[k], *y = n->outputs[0];
  if (n->op == IR_OP_WHERE && j == 0 && k > 0 && x && y && !n->n_epilogue && ir_same_shape(x, y) &&
      x->dtype == y->dtype)
    return true;
  /* ScatterND into its own data: the copy is skipped, only the indexed slices are written (a KV
   * cache updated at the tokens' positions; codegen/cg_ops.c) */
  if (n->op == IR_OP_SCATTER_ND && j == 0 && k == 0 && !n->n_epilogue) return true;
  bool recurrent = n->op == IR_OP_RNN || n->op == IR_OP_GRU || n->op == IR_OP_LSTM;
  return recurrent && (k == 5 || k == 6) && (j == 1 || j == 2) && !n->n_epilogue;
}

/* Sets IrState.direct: the next value may be written over the state's bytes when every read of
 * them happens before (or, reading first, in) the node that writes it. */
static void plan_states(IrGraph *g) {
  for (int i = 0; i < g->n_states; i++) {
    IrState *st = &g->states[i];
    const IrNode *p = st->out->kind == IR_VALUE_NODE ? st->out->producer : NULL;
    st->direct = p != NULL;
    for (int s = 0; p && s < g->n_nodes && st->direct; s++) {
      const IrNode *n = g->nodes[s];
      for (int k = 0; k < n->n_inputs && st->direct; k++) {
        if (n->inputs[k] != st->in || s < p->id) continue;
        st->direct = s == p->id && reads_before_writing(n, k, st->out->producer_slot);
      }
    }
  }
}

/* Builds the buffers. inplace: share where allowed; match_plan: share only values the existing
 * plan put at one offset (to recover the buffers of a finished plan). */
static Plan make_plan(const IrGraph *g, int64_t align, bool inplace, bool match_plan) {
  Plan p = {0};
  int nv = g->n_values;
  p.of = malloc(sizeof *p.of * ((size_t)nv + 1));
  p.first = malloc(sizeof *p.first * ((size_t)nv + 1));
  p.last = malloc(sizeof *p.last * ((size_t)nv + 1));
  p.buf = calloc((size_t)nv + (size_t)g->n_nodes + 1, sizeof *p.buf);
  if (!p.of || !p.first || !p.last || !p.buf) abort();
  for (int i = 0; i < nv; i++) {
    const IrValue *v = g->values[i];
    p.of[i] = -1;
    p.first[i] = p.last[i] = in_workspace(g, v) ? v->producer->id : -1;
  }
  for (int s = 0; s < g->n_nodes; s++)
    for (int k = 0; k < g->nodes[s]->n_inputs; k++) {
      const IrValue *v = g->nodes[s]->inputs[k];
      if (v && p.last[v->id] >= 0 && p.last[v->id] < s) p.last[v->id] = s;
    }
  /* in execution order: each output joins an input's buffer or starts its own */
  for (int s = 0; s < g->n_nodes; s++) {
    const IrNode *n = g->nodes[s];
    for (int j = 0; j < n->n_outputs; j++) {
      const IrValue *y = n->outputs[j];
      if (!y || !in_workspace(g, y)) continue;
      int64_t size = align_up(ir_value_nbytes(y) > 0 ? ir_value_nbytes(y) : 1, align);
      int join = -1;
      for (int k = 0; inplace && j == 0 && k < n->n_inputs && join < 0; k++) {
        const IrValue *x = n->inputs[k];
        if (!x || p.of[x->id] < 0 || !can_share(n, k)) continue;
        Buffer *b = &p.buf[p.of[x->id]];
        bool view = ir_op_info[n->op].flags & IR_OPF_VIEW;
        if (!view && b->last != s) continue; /* the input's bytes are still read later */
        if (match_plan && x->ws_offset != y->ws_offset) continue;
        /* no other input of n may read those bytes through a different shape */
        bool clash = false;
        for (int q = 0; q < n->n_inputs; q++)
          if (q != k && n->inputs[q] && p.of[n->inputs[q]->id] == p.of[x->id] &&
              !ir_same_shape(n->inputs[q], y))
            clash = true;
        if (!clash) join = p.of[x->id];
      }
      if (join < 0) {
        join = p.n++;
        p.buf[join] = (Buffer){p.first[y->id], p.last[y->id], size, 0, y->id, -1};
      }
      Buffer *b = &p.buf[join];
      if (p.last[y->id] > b->last) b->last = p.last[y->id];
      if (size > b->size) b->size = size;
      p.of[y->id] = join;
    }
  }
  /* scratch: conflicts with everything live at the node's step, its operands included */
  for (int s = 0; s < g->n_nodes; s++)
    if (g->nodes[s]->scratch_bytes > 0)
      p.buf[p.n++] = (Buffer){s, s, align_up(g->nodes[s]->scratch_bytes, align), 0, nv + s, s};
  return p;
}

/* Workspace offset the finished plan gave buffer b (recorded on its values or its node). */
static int64_t recorded_offset(const IrGraph *g, const Buffer *b) {
  return b->node >= 0 ? g->nodes[b->node]->scratch_offset : g->values[b->id]->ws_offset;
}

static void free_plan(Plan *p) {
  free(p->of);
  free(p->first);
  free(p->last);
  free(p->buf);
}

static int64_t plan_bound(const IrGraph *g, const Plan *p) {
  int64_t *delta = calloc((size_t)g->n_nodes + 2, sizeof *delta);
  if (!delta) abort();
  for (int i = 0; i < p->n; i++) {
    delta[p->buf[i].first] += p->buf[i].size;
    delta[p->buf[i].last + 1] -= p->buf[i].size;
  }
  int64_t live = 0, best = 0;
  for (int s = 0; s <= g->n_nodes; s++) {
    live += delta[s];
    if (live > best) best = live;
  }
  free(delta);
  return best;
}

int64_t pass_memplan_lower_bound(const IrGraph *g, int64_t align) {
  if (align <= 0) align = 64;
  Plan p = make_plan(g, align, true, g->workspace_size >= 0);
  int64_t best = plan_bound(g, &p);
  free_plan(&p);
  return best;
}

static int by_size_desc(const void *a, const void *b) {
  const Buffer *x = *(Buffer *const *)a, *y = *(Buffer *const *)b;
  if (x->size != y->size) return x->size < y->size ? 1 : -1;
  if (x->first != y->first) return x->first - y->first;
  return x->id - y->id; /* deterministic */
}

static int by_offset(const void *a, const void *b) {
  const Buffer *x = *(Buffer *const *)a, *y = *(Buffer *const *)b;
  return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Names the value (or node scratch) that ends highest in the plan in the over-the-limit error. */
static void report_over_limit(const IrGraph *g, int64_t limit, IrDiag *d) {
  const IrValue *top = NULL;
  int64_t top_end = -1;
  for (int i = 0; i < g->n_values; i++) {
    const IrValue *v = g->values[i];
    if (v->ws_offset >= 0 && v->ws_offset + ir_value_nbytes(v) > top_end) {
      top = v;
      top_end = v->ws_offset + ir_value_nbytes(v);
    }
  }
  const IrNode *scratch = NULL;
  for (int s = 0; s < g->n_nodes; s++) {
    const IrNode *n = g->nodes[s];
    if (n->scratch_offset >= 0 && n->scratch_offset + n->scratch_bytes > top_end) {
      scratch = n;
      top_end = n->scratch_offset + n->scratch_bytes;
    }
  }
  char where[512];
  if (scratch) {
    ir_node_field_where(scratch, where, sizeof where, "op");
    ir_diag_error(d, where,
                  "the workspace needs %lld bytes, more than the limit of %lld bytes "
                  "(--max-workspace); the %lld-byte scratch of node '%s' (%s kernel) ends at "
                  "the top of the plan",
                  (long long)g->workspace_size, (long long)limit, (long long)scratch->scratch_bytes,
                  scratch->name, ir_kernel_names[scratch->kernel]);
    return;
  }
  ir_node_field_where(top->producer, where, sizeof where, "outputs[%d]", top->producer_slot);
  ir_diag_error(d, where,
                "the workspace needs %lld bytes, more than the limit of %lld bytes "
                "(--max-workspace); '%s' (%lld bytes) ends at the top of the plan",
                (long long)g->workspace_size, (long long)limit, top->name,
                (long long)ir_value_nbytes(top));
}

/* In execution order (defined first first), larger first among those defined together. */
static int by_first(const void *a, const void *b) {
  const Buffer *x = *(Buffer *const *)a, *y = *(Buffer *const *)b;
  if (x->first != y->first) return x->first - y->first;
  return by_size_desc(a, b);
}

/* Values by size, then the kernels' scratch by size: one-step scratch fills the gaps. */
static int values_then_scratch(const void *a, const void *b) {
  const Buffer *x = *(Buffer *const *)a, *y = *(Buffer *const *)b;
  if ((x->node >= 0) != (y->node >= 0)) return x->node >= 0 ? 1 : -1;
  return by_size_desc(a, b);
}

/* Longer lifetimes first (long-lived residuals at the bottom), then by size. */
static int by_lifetime_desc(const void *a, const void *b) {
  const Buffer *x = *(Buffer *const *)a, *y = *(Buffer *const *)b;
  if (x->last - x->first != y->last - y->first) return (y->last - y->first) - (x->last - x->first);
  return by_size_desc(a, b);
}

/* Reverse execution order (the last defined first). */
static int by_first_desc(const void *a, const void *b) {
  const Buffer *x = *(Buffer *const *)a, *y = *(Buffer *const *)b;
  if (x->first != y->first) return y->first - x->first;
  return by_size_desc(a, b);
}

/* Places the buffers in `order`, each in a gap between the placements it conflicts with that
 * holds it: the lowest (first fit), or the smallest (best fit; the top when none holds it);
 * returns the workspace size. */
static int64_t place(Buffer **order, int n, Buffer **conflicts, bool best_fit) {
  int64_t total = 0;
  for (int i = 0; i < n; i++) {
    Buffer *b = order[i];
    int nc = 0;
    for (int j = 0; j < i; j++)
      if (order[j]->first <= b->last && b->first <= order[j]->last) conflicts[nc++] = order[j];
    qsort(conflicts, (size_t)nc, sizeof *conflicts, by_offset);
    int64_t offset = 0, chosen = -1, chosen_gap = 0;
    for (int c = 0; c < nc; c++) {
      int64_t gap = conflicts[c]->offset - offset;
      if (gap >= b->size && (chosen < 0 || gap < chosen_gap)) {
        chosen = offset;
        chosen_gap = gap;
        if (!best_fit) break;
      }
      int64_t end = conflicts[c]->offset + conflicts[c]->size;
      if (end > offset) offset = end;
    }
    b->offset = chosen >= 0 ? chosen : offset;
    if (b->offset + b->size > total) total = b->offset + b->size;
  }
  return total;
}

/* A plan above the lower bound: local search from the best greedy order (best_order, its total
 * and offsets): swap two buffers of the order, place again, keep the order if the plan is no
 * larger (equal moves let it drift off plateaus). Seeded, so the plan is the same every time;
 * bounded to ~2e7 conflict tests (~200 moves on a graph of ~300 buffers). bert_qa:
 * 18 688 -> 17 152 bytes (= the bound) where every greedy order left gaps. */
static int64_t improve(Plan *p, Buffer **best_order, Buffer **order, Buffer **conflicts,
                       int64_t *best_offset, int64_t total, bool fit, int64_t bound) {
  int n = p->n;
  long moves = n < 2 ? 0 : 20000000L / ((long)n * n);
  if (moves > 4000) moves = 4000;
  unsigned long long rng = 0x9E3779B97F4A7C15ull;
  for (long m = 0; m < moves && total > bound; m++) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift64 */
    int i = (int)(rng % (unsigned long long)n), j = (int)((rng >> 32) % (unsigned long long)n);
    if (i == j) continue;
    memcpy(order, best_order, sizeof *order * (size_t)n);
    Buffer *t = order[i];
    order[i] = order[j];
    order[j] = t;
    int64_t size = place(order, n, conflicts, fit);
    if (size > total) continue;
    total = size;
    memcpy(best_order, order, sizeof *order * (size_t)n);
    for (int k = 0; k < n; k++) best_offset[k] = p->buf[k].offset;
  }
  return total;
}

bool pass_memplan(IrGraph *g, const PassOptions *o, IrDiag *d) {
  int64_t align = o && o->workspace_align > 0 ? o->workspace_align : 64;
  plan_states(g);
  Plan p = make_plan(g, align, !(o && o->no_inplace), false);
  Buffer **order = malloc(sizeof *order * ((size_t)p.n + 1));
  Buffer **conflicts = malloc(sizeof *conflicts * ((size_t)p.n + 1));
  int64_t *best_offset = malloc(sizeof *best_offset * ((size_t)p.n + 1));
  Buffer **best_order = malloc(sizeof *best_order * ((size_t)p.n + 1));
  if (!order || !conflicts || !best_offset || !best_order) abort();
  /* greedy by size (TFLM's planner), in execution order, and values before the kernels'
   * scratch: large one-step scratch buffers fragment the greedy-by-size plan (ResNet-8 with
   * Winograd's 238 KiB scratch: 373 312 bytes by size, 340 544 = the lower bound with the
   * scratch last). The smallest plan wins (the first on a tie: deterministic). */
  int (*const orders[])(const void *, const void *) = {by_size_desc, by_first, values_then_scratch,
                                                       by_lifetime_desc, by_first_desc};
  int64_t total = -1;
  bool fit = false;
  for (size_t k = 0; k < 2 * sizeof orders / sizeof *orders; k++) {
    for (int i = 0; i < p.n; i++) order[i] = &p.buf[i];
    qsort(order, (size_t)p.n, sizeof *order, orders[k / 2]);
    int64_t t = place(order, p.n, conflicts, k % 2);
    if (total >= 0 && t >= total) continue;
    total = t;
    fit = k % 2;
    for (int i = 0; i < p.n; i++) best_offset[i] = p.buf[i].offset, best_order[i] = order[i];
  }
  total = improve(&p, best_order, order, conflicts, best_offset, total, fit, plan_bound(g, &p));
  for (int i = 0; i < p.n; i++) p.buf[i].offset = best_offset[i];
  free(best_offset);
  free(best_order);
  for (int i = 0; i < g->n_values; i++)
    g->values[i]->ws_offset = p.of[i] >= 0 ? p.buf[p.of[i]].offset : -1;
  for (int s = 0; s < g->n_nodes; s++) g->nodes[s]->scratch_offset = -1;
  for (int i = 0; i < p.n; i++)
    if (p.buf[i].node >= 0) g->nodes[p.buf[i].node]->scratch_offset = p.buf[i].offset;
  g->workspace_size = total;
  g->workspace_align = align;
  if (o && o->max_workspace > 0 && total > o->max_workspace)
    report_over_limit(g, o->max_workspace, d);
  free(order);
  free(conflicts);
  free_plan(&p);
  return true;
}

void pass_memplan_print(const IrGraph *g, FILE *f) {
  Plan p = make_plan(g, g->workspace_align > 0 ? g->workspace_align : 64, true, true);
  fprintf(f, "memory plan: workspace %lld bytes, lower bound %lld, alignment %lld\n",
          (long long)g->workspace_size, (long long)plan_bound(g, &p),
          (long long)g->workspace_align);
  if (g->n_states) {
    fprintf(f, "state: %lld bytes, the caller's buffer apart from the workspace, alignment %d\n",
            (long long)g->state_size, IR_STATE_ALIGN);
    for (int i = 0; i < g->n_states; i++) {
      const IrState *st = &g->states[i];
      fprintf(f, "  %-32s %12lld %12lld next '%s', %s\n", st->in->name, (long long)st->offset,
              (long long)ir_value_nbytes(st->in), st->out->name,
              st->direct ? "written in place" : "copied at the end of a call");
    }
  }
  fprintf(f, "  %-32s %12s %12s %6s %6s %s\n", "value", "offset", "bytes", "first", "last",
          "shares");
  for (int i = 0; i < g->n_values; i++) {
    const IrValue *v = g->values[i];
    if (p.of[i] < 0) continue;
    const Buffer *b = &p.buf[p.of[i]];
    fprintf(f, "  %-32s %12lld %12lld %6d %6d %s\n", v->name, (long long)v->ws_offset,
            (long long)ir_value_nbytes(v), p.first[i], p.last[i],
            b->id != v->id ? g->values[b->id]->name : "");
  }
  for (int i = 0; i < p.n; i++)
    if (p.buf[i].node >= 0)
      fprintf(f, "  %-32s %12lld %12lld %6d %6d %s\n", g->nodes[p.buf[i].node]->name,
              (long long)recorded_offset(g, &p.buf[i]), (long long)p.buf[i].size, p.buf[i].first,
              p.buf[i].last, "(scratch)");
  free_plan(&p);
}

/* Text with XML's special characters escaped. */
static void xml_text(FILE *f, const char *s) {
  for (; *s; s++) switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
}

void pass_memplan_svg(const IrGraph *g, FILE *f) {
  Plan p = make_plan(g, g->workspace_align > 0 ? g->workspace_align : 64, true, true);
  int steps = g->n_nodes > 0 ? g->n_nodes : 1;
  double ws = g->workspace_size > 0 ? (double)g->workspace_size : 1;
  const double W = 800, H = 480, L = 60, T = 30;
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
          "font-family=\"sans-serif\" font-size=\"11\">\n",
          W + L + 20, H + T + 40);
  fprintf(f, "<text x=\"%.0f\" y=\"18\">", L);
  xml_text(f, g->name);
  fprintf(f, ": workspace %lld bytes, lower bound %lld</text>\n", (long long)g->workspace_size,
          (long long)plan_bound(g, &p));
  fprintf(f,
          "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
          "stroke=\"black\"/>\n",
          L, T, W, H);
  for (int i = 0; i < p.n; i++) {
    const Buffer *b = &p.buf[i];
    int64_t offset = recorded_offset(g, b); /* the plan's, recorded on the values */
    double x = L + W * b->first / steps, w = W * (b->last - b->first + 1) / steps;
    double y = T + H * (double)offset / ws, h = H * (double)b->size / ws;
    unsigned hue = (unsigned)(b->id * 47) % 360;
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"hsl(%u,60%%,70%%)\" "
            "stroke=\"black\" stroke-width=\"0.5\"><title>",
            x, y, w, h, hue);
    xml_text(f, b->node >= 0 ? g->nodes[b->node]->name : g->values[b->id]->name);
    fprintf(f, "%s: offset %lld, %lld bytes, steps %d..%d</title></rect>\n",
            b->node >= 0 ? " (scratch)" : "", (long long)offset, (long long)b->size, b->first,
            b->last);
  }
  fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">step (node) -&gt;</text>\n", L, T + H + 18);
  fprintf(f, "<text x=\"4\" y=\"%.0f\">offset</text>\n</svg>\n", T + 12);
  free_plan(&p);
}
