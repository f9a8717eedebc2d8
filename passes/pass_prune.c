/* Pruning (issue 11, docs/sparsity.md).
 *
 * Lossless, always (-O1 and above): an output channel (Conv) or neuron (Gemm) whose weights and
 * bias are all zero computes exactly 0, and stays 0 through the channel-wise ops after it (Relu,
 * LeakyRelu, Tanh, Clip around 0, MaxPool, AveragePool, Mul or Div by a constant, whose channels
 * shrink too); it is removed with the matching input
 * channels of every consumer (Conv, Gemm, Gemm after Flatten). Layers whose outputs meet in a
 * residual Add (same shape, no broadcast) share their channels: the group is every layer
 * (head) feeding the Add's channel space, and a channel goes only when it is zero in all of
 * them (0 + 0 = 0), from all of them and from every consumer of the space. A Concat along the
 * channels makes the group's channels a slice of its output: the consumers after it (through
 * channel-wise nodes) lose the matching input channels at the slice's offset. A group whose
 * channels reach a graph output, a graph input, or any other node (BatchNormalization left
 * unfolded, an Add after a Concat...) is left alone: it is tied to something this pass does
 * not shrink consistently.
 *
 * Lossy, on request (PassOptions.prune, kiln --prune=SPEC; several specs joined by ';'):
 *   magnitude:F | magnitude:NODE=F,...  the fraction F of the constant weights of every
 *       Gemm/MatMul/Conv (ranked together: one global threshold) or of the named nodes (each its
 *       own) with the smallest magnitude set to zero (then the sparse kernels apply)
 *   channels | channels:F | channels:NODE=F,...  the fraction F of the output channels of every
 *       prunable layer (or of the named ones) with the smallest L2 norm zeroed, bias included,
 *       then removed as above; instead of F, l1<T or l2<T: the channels whose L1 / L2 norm is
 *       below T; `channels` alone: only the lossless removal.
 * F in [0, 1). After every lossy step PassOptions.after_lossy (kiln --eval) measures it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_params.h"
#include "ir_util.h"
#include "pass.h"
#include "sparsity.h"

static bool f32_const(const IrValue *v) {
  return v && v->kind == IR_VALUE_CONST && v->dtype == IR_F32;
}

/* ---- channel groups ------------------------------------------------------------------------ */

#define MAX_CONSUMERS 16
#define MAX_SPACE 64

/* A layer whose output channels can be removed: the producer (with the other producers of the
 * same channel space, through residual Adds), and the consumers whose input channels shrink
 * with it (through channel-wise nodes). */
typedef struct {
  IrNode *head;
  IrNode *heads[MAX_CONSUMERS]; /* heads[0] == head */
  int n_heads;
  int64_t channels;
  IrNode *consumer[MAX_CONSUMERS];
  /* consumer i reads channel c as its input channel offset[i] + c of total[i] (after a Concat
   * along the channels: the inputs before; else 0 of `channels`), i.e. as the inputs
   * [(offset + c) * spatial, (offset + c + 1) * spatial) */
  int64_t spatial[MAX_CONSUMERS], offset[MAX_CONSUMERS], total[MAX_CONSUMERS];
  int n_consumers;
  /* element-wise partners on the way: Mul/Div by a constant whose channel axis is shrunk too */
  IrNode *partner[MAX_CONSUMERS];
  int partner_slot[MAX_CONSUMERS];
  int n_partners;
  char tied[200]; /* why not (empty: prunable): the graph output or node the channels reach */
} ChanGroup;

static int consumers_of(const IrGraph *g, const IrValue *v, IrNode **out, int max) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i]->n_inputs; k++)
      if (g->nodes[i]->inputs[k] == v) {
        if (n < max) out[n] = g->nodes[i];
        n++;
        break;
      }
  return n;
}

/* A head: Conv with one group, or Gemm (B constant, C a column bias or none). */
static bool head_ok(const IrNode *n, int64_t *channels) {
  if (n->n_epilogue || n->n_outputs != 1 || n->n_inputs < 2 || !f32_const(n->inputs[1]))
    return false;
  if (n->n_inputs > 2 && n->inputs[2] && !f32_const(n->inputs[2])) return false;
  if (n->op == IR_OP_CONV) {
    IrConvParams p;
    if (!ir_conv_params(n, &p, NULL) || p.group != 1) return false;
    *channels = p.m;
    return true;
  }
  if (n->op == IR_OP_GEMM) {
    const IrValue *B = n->inputs[1], *C = n->n_inputs > 2 ? n->inputs[2] : NULL;
    if (ir_attr_i(n, "transA") || B->rank != 2 || n->inputs[0]->rank != 2) return false;
    *channels = B->dims[ir_attr_i(n, "transB") ? 0 : 1];
    if (C && !(ir_value_numel(C) == *channels && C->dims[C->rank - 1] == *channels)) return false;
    return true;
  }
  return false;
}

/* Channel-wise ops that map a channel of zeros to zeros (and keep channels on axis 1). */
static bool zero_preserving(const IrNode *n) {
  switch (n->op) {
  case IR_OP_RELU:
  case IR_OP_LEAKY_RELU:
  case IR_OP_TANH:
  case IR_OP_MAX_POOL:
  case IR_OP_AVERAGE_POOL:
  case IR_OP_IDENTITY: return n->n_outputs >= 1 && n->outputs[0];
  case IR_OP_CLIP:
    for (int k = 1; k < n->n_inputs; k++) {
      const IrValue *b = n->inputs[k];
      if (!b) continue;
      if (!f32_const(b) || ir_value_numel(b) != 1) return false;
      float x = *(const float *)b->data;
      if (k == 1 ? x > 0.0f : x < 0.0f) return false;
    }
    return true;
  default: return false;
  }
}

/* Mul or Div of v by a finite constant (Div: nonzero) broadcast to v's shape: 0 stays 0; the
 * constant's slot, or -1. */
static int zero_preserving_partner(const IrNode *n, const IrValue *v) {
  if ((n->op != IR_OP_MUL && n->op != IR_OP_DIV) || n->n_inputs != 2 || !n->outputs[0] ||
      !ir_same_shape(n->outputs[0], v))
    return -1;
  int slot = n->inputs[0] == v ? 1 : n->op == IR_OP_MUL && n->inputs[1] == v ? 0 : -1;
  if (slot < 0 || !f32_const(n->inputs[slot]) || n->inputs[slot]->rank > v->rank) return -1;
  const float *k = n->inputs[slot]->data;
  for (int64_t i = 0; i < ir_value_numel(n->inputs[slot]); i++)
    if (!isfinite(k[i]) || (n->op == IR_OP_DIV && k[i] == 0.0f)) return -1;
  return slot;
}

static bool consumer_ok(const IrNode *c, const IrValue *v) {
  if (c->n_epilogue || c->n_inputs < 2 || c->inputs[0] != v || !f32_const(c->inputs[1]))
    return false;
  for (int k = 1; k < c->n_inputs; k++)
    if (c->inputs[k] == v) return false;
  if (c->op == IR_OP_CONV) {
    IrConvParams p;
    return ir_conv_params(c, &p, NULL) && p.group == 1;
  }
  return c->op == IR_OP_GEMM && !ir_attr_i(c, "transA") && c->inputs[1]->rank == 2 &&
         c->inputs[0]->rank == 2;
}

static IrNode *producer_of(const IrGraph *g, const IrValue *v) {
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i]->n_outputs; k++)
      if (g->nodes[i]->outputs[k] == v) return g->nodes[i];
  return NULL;
}

/* An Add of two values of its output's shape (no broadcast): a residual join. */
static bool residual_add(const IrNode *n) {
  return n->op == IR_OP_ADD && n->n_inputs == 2 && n->n_outputs == 1 && n->outputs[0] &&
         n->inputs[0] && n->inputs[1] && ir_same_shape(n->inputs[0], n->outputs[0]) &&
         ir_same_shape(n->inputs[1], n->outputs[0]) && !n->n_epilogue;
}

typedef struct {
  const IrValue *v[MAX_SPACE];
  int n;
} Space;

/* Adds v to the channel space; false when it is full. */
static bool space_add(Space *s, const IrValue *v) {
  for (int i = 0; i < s->n; i++)
    if (s->v[i] == v) return true;
  if (s->n == MAX_SPACE) return false;
  s->v[s->n++] = v;
  return true;
}

static bool add_node(IrNode **list, int *n, IrNode *x) {
  for (int i = 0; i < *n; i++)
    if (list[i] == x) return true;
  if (*n == MAX_CONSUMERS) return false;
  list[(*n)++] = x;
  return true;
}

static bool add_consumer(ChanGroup *cg, IrNode *c, int64_t spatial, int64_t offset, int64_t total) {
  for (int i = 0; i < cg->n_consumers; i++)
    if (cg->consumer[i] == c) return true;
  if (cg->n_consumers == MAX_CONSUMERS) return false;
  cg->spatial[cg->n_consumers] = spatial, cg->offset[cg->n_consumers] = offset;
  cg->total[cg->n_consumers] = total;
  cg->consumer[cg->n_consumers++] = c;
  return true;
}

/* v's position in a Concat c along the channels (axis 1, v once, every input of v's rank):
 * *offset = the channels of the inputs before it; false otherwise. */
static bool concat_channels(const IrNode *c, const IrValue *v, int64_t *offset) {
  int64_t axis = ir_attr_i(c, "axis"), at = 0, seen = 0;
  if (c->op != IR_OP_CONCAT || !c->outputs[0] || (axis < 0 ? axis + v->rank : axis) != 1)
    return false;
  for (int k = 0; k < c->n_inputs; k++) {
    if (!c->inputs[k] || c->inputs[k]->rank != v->rank) return false;
    if (c->inputs[k] == v) *offset = at, seen++;
    at += c->inputs[k]->dims[1];
  }
  return seen == 1;
}

/* The consumers of a Concat's output w (channels [offset, offset + C) of `total` are the
 * group's), through channel-wise nodes: Conv/Gemm, or Gemm after Flatten. */
static void concat_consumers(const IrGraph *g, ChanGroup *cg, const IrValue *w, int64_t offset,
                             int64_t total) {
  IrNode *cons[MAX_CONSUMERS];
  for (int guard = 0; guard < MAX_SPACE; guard++) {
    if (w->is_output) {
      snprintf(cg->tied, sizeof cg->tied, "graph output '%s' (after a Concat)", w->name);
      return;
    }
    int n = consumers_of(g, w, cons, MAX_CONSUMERS);
    if (n == 1 && zero_preserving(cons[0]) && cons[0]->inputs[0] == w) {
      w = cons[0]->outputs[0];
      continue;
    }
    if (n == 0 || n > MAX_CONSUMERS) {
      snprintf(cg->tied, sizeof cg->tied, "what reads Concat output '%s'", w->name);
      return;
    }
    int64_t per_image = ir_value_numel(w) / (w->dims[0] ? w->dims[0] : 1);
    for (int i = 0; i < n; i++) {
      IrNode *c = cons[i];
      int64_t spatial = 1;
      if (c->op == IR_OP_FLATTEN && ir_attr_i(c, "axis") == 1 && c->outputs[0] &&
          !c->outputs[0]->is_output) {
        IrNode *after[2];
        if (consumers_of(g, c->outputs[0], after, 2) != 1 ||
            !consumer_ok(after[0], c->outputs[0])) {
          snprintf(cg->tied, sizeof cg->tied, "what reads Flatten node '%s'", c->name);
          return;
        }
        spatial = per_image / total;
        c = after[0];
      } else if (!consumer_ok(c, w) || (c->op == IR_OP_GEMM && w->rank != 2)) {
        snprintf(cg->tied, sizeof cg->tied, "%s node '%s' (after a Concat)", ir_op_info[c->op].name,
                 c->name);
        return;
      }
      if (!add_consumer(cg, c, spatial, offset, total)) {
        snprintf(cg->tied, sizeof cg->tied, "too many nodes");
        return;
      }
    }
    return;
  }
  snprintf(cg->tied, sizeof cg->tied, "a chain too long after a Concat");
}

static bool add_partner(ChanGroup *cg, IrNode *e, int slot) {
  for (int i = 0; i < cg->n_partners; i++)
    if (cg->partner[i] == e) return true;
  if (cg->n_partners == MAX_CONSUMERS) return false;
  cg->partner_slot[cg->n_partners] = slot;
  cg->partner[cg->n_partners++] = e;
  return true;
}

/* The values sharing the head's output channels: from the head's output, through channel-wise
 * nodes and residual Adds both ways (an Add's other input and the producers up to their heads),
 * with the consumers at the edges. */
static void find_group(const IrGraph *g, IrNode *head, ChanGroup *cg) {
  memset(cg, 0, sizeof *cg);
  cg->head = head;
  if (!head_ok(head, &cg->channels)) {
    snprintf(cg->tied, sizeof cg->tied,
             "its kind (a Conv with one group or a Gemm with constant weights is needed)");
    return;
  }
  cg->heads[cg->n_heads++] = head;
  Space sp = {.n = 0};
  space_add(&sp, head->outputs[0]);
  IrNode *cons[MAX_CONSUMERS];
  for (int q = 0; q < sp.n; q++) {
    const IrValue *v = sp.v[q];
    if (v->is_output) {
      snprintf(cg->tied, sizeof cg->tied, "graph output '%s'", v->name);
      return;
    }
    if (v->rank < 2 || v->dims[1] != cg->channels) {
      snprintf(cg->tied, sizeof cg->tied, "value '%s' (channels on another axis)", v->name);
      return;
    }
    bool ok = true;
    IrNode *p = producer_of(g, v);
    int64_t pc = 0;
    if (!p) {
      snprintf(cg->tied, sizeof cg->tied, "graph input '%s'", v->name);
      return;
    } else if (p->op == IR_OP_CONV || p->op == IR_OP_GEMM) {
      if (!head_ok(p, &pc) || pc != cg->channels) {
        snprintf(cg->tied, sizeof cg->tied, "%s node '%s', which this pass does not shrink",
                 ir_op_info[p->op].name, p->name);
        return;
      }
      ok = add_node(cg->heads, &cg->n_heads, p);
    } else if (zero_preserving(p)) {
      ok = space_add(&sp, p->inputs[0]);
    } else if (residual_add(p)) {
      ok = space_add(&sp, p->inputs[0]) && space_add(&sp, p->inputs[1]);
    } else {
      int slot = -1;
      for (int k = 0; k < p->n_inputs && slot < 0; k++)
        if (p->inputs[k] && zero_preserving_partner(p, p->inputs[k]) == 1 - k) slot = 1 - k;
      if (slot < 0) {
        snprintf(cg->tied, sizeof cg->tied, "%s node '%s', which this pass does not shrink",
                 ir_op_info[p->op].name, p->name);
        return;
      }
      ok = add_partner(cg, p, slot) && space_add(&sp, p->inputs[1 - slot]);
    }
    int n = consumers_of(g, v, cons, MAX_CONSUMERS);
    if (!ok || n > MAX_CONSUMERS) {
      snprintf(cg->tied, sizeof cg->tied, "too many nodes");
      return;
    }
    int64_t per_image = ir_value_numel(v) / (v->dims[0] ? v->dims[0] : 1), off = 0;
    for (int i = 0; i < n && ok; i++) {
      IrNode *c = cons[i];
      int slot = zero_preserving_partner(c, v);
      if (zero_preserving(c) && c->inputs[0] == v) {
        ok = space_add(&sp, c->outputs[0]);
      } else if (residual_add(c)) {
        ok = space_add(&sp, c->outputs[0]) && space_add(&sp, c->inputs[0]) &&
             space_add(&sp, c->inputs[1]);
      } else if (slot >= 0) {
        ok = add_partner(cg, c, slot) && space_add(&sp, c->outputs[0]);
      } else if (c->op == IR_OP_FLATTEN && ir_attr_i(c, "axis") == 1 && c->outputs[0] &&
                 !c->outputs[0]->is_output) {
        IrNode *after[2];
        if (consumers_of(g, c->outputs[0], after, 2) != 1 ||
            !consumer_ok(after[0], c->outputs[0])) {
          snprintf(cg->tied, sizeof cg->tied, "what reads Flatten node '%s'", c->name);
          return;
        }
        ok = add_consumer(cg, after[0], per_image / cg->channels, 0, cg->channels);
      } else if (concat_channels(c, v, &off)) { /* the group's channels are a slice of its output */
        if (c->outputs[0]->dims[1] <= cg->channels) {
          snprintf(cg->tied, sizeof cg->tied, "Concat node '%s'", c->name);
          return;
        }
        concat_consumers(g, cg, c->outputs[0], off, c->outputs[0]->dims[1]);
        if (cg->tied[0]) return;
      } else if (!consumer_ok(c, v) || (c->op == IR_OP_GEMM && v->rank != 2)) {
        snprintf(cg->tied, sizeof cg->tied, "%s node '%s', which this pass does not shrink",
                 ir_op_info[c->op].name, c->name);
        return;
      } else {
        ok = add_consumer(cg, c, 1, 0, cg->channels);
      }
    }
    if (!ok) {
      snprintf(cg->tied, sizeof cg->tied, "too many nodes");
      return;
    }
  }
}

/* Copy of w keeping, along axis, the indices j whose channel keep[j / block] is set. */
static IrValue *shrink_const(IrGraph *g, const IrValue *w, int axis, int64_t block,
                             const bool *keep) {
  int64_t dims[IR_MAX_RANK], outer = 1, inner = 1, kept = 0;
  for (int k = 0; k < w->rank; k++) dims[k] = w->dims[k];
  for (int k = 0; k < axis; k++) outer *= w->dims[k];
  for (int k = axis + 1; k < w->rank; k++) inner *= w->dims[k];
  for (int64_t j = 0; j < w->dims[axis]; j++) kept += keep[j / block];
  dims[axis] = kept;
  float *out = malloc(sizeof(float) * (size_t)(outer * kept * inner + 1));
  if (!out) abort();
  const float *src = w->data;
  float *dst = out;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < w->dims[axis]; j++) {
      if (!keep[j / block]) continue;
      memcpy(dst, src + (o * w->dims[axis] + j) * inner, sizeof(float) * (size_t)inner);
      dst += inner;
    }
  IrValue *v = pass_new_const(g, w->name, IR_F32, w->rank, dims, out);
  free(out);
  return v;
}

/* Weight element (channel c, reduction k) of a head, and its index. */
static int64_t head_index(const IrNode *h, int64_t c, int64_t k, int64_t C, int64_t per) {
  bool kn = h->op == IR_OP_GEMM && !ir_attr_i(h, "transB"); /* B [K][N] */
  return kn ? k * C + c : c * per + k;
}

static const IrValue *head_bias(const IrNode *h) {
  const IrValue *b = h->n_inputs > 2 ? h->inputs[2] : NULL;
  return b && h->op == IR_OP_GEMM && ir_attr_f(h, "beta") == 0.0 ? NULL : b;
}

/* Output channel c of the head is all zero, bias included. */
static bool channel_zero(const IrNode *h, int64_t c, int64_t C) {
  const float *w = h->inputs[1]->data;
  int64_t per = ir_value_numel(h->inputs[1]) / C;
  for (int64_t k = 0; k < per; k++)
    if (w[head_index(h, c, k, C, per)] != 0.0f) return false;
  const IrValue *b = head_bias(h);
  return !b || ((const float *)b->data)[c] == 0.0f;
}

/* Removes the channels of cg that are all zero in every head (keeping at least one); adds their
 * count to *removed. */
static bool remove_zero_channels(IrGraph *g, ChanGroup *cg, int64_t *removed) {
  int64_t C = cg->channels, n_keep = 0;
  bool *keep = malloc((size_t)C + 1);
  if (!keep) abort();
  for (int64_t c = 0; c < C; c++) {
    keep[c] = false;
    for (int h = 0; h < cg->n_heads; h++) keep[c] |= !channel_zero(cg->heads[h], c, C);
    n_keep += keep[c];
  }
  if (n_keep == C) {
    free(keep);
    return false;
  }
  if (n_keep == 0) keep[0] = true, n_keep = 1;
  for (int i = 0; i < cg->n_heads; i++) {
    IrNode *h = cg->heads[i];
    bool kn = h->op == IR_OP_GEMM && !ir_attr_i(h, "transB");
    h->inputs[1] = shrink_const(g, h->inputs[1], kn ? 1 : 0, 1, keep);
    if (h->n_inputs > 2 && h->inputs[2])
      h->inputs[2] = shrink_const(g, h->inputs[2], h->inputs[2]->rank - 1, 1, keep);
  }
  for (int i = 0; i < cg->n_consumers; i++) {
    IrNode *c = cg->consumer[i];
    int axis = c->op == IR_OP_CONV ? 1 : ir_attr_i(c, "transB") ? 1 : 0;
    bool *wide = malloc((size_t)cg->total[i] + 1); /* the group's slice of the input channels */
    if (!wide) abort();
    for (int64_t j = 0; j < cg->total[i]; j++)
      wide[j] = j < cg->offset[i] || j >= cg->offset[i] + C || keep[j - cg->offset[i]];
    c->inputs[1] = shrink_const(g, c->inputs[1], axis, cg->spatial[i], wide);
    free(wide);
  }
  for (int i = 0; i < cg->n_partners; i++) { /* the channel axis (1) of the output, if spanned */
    IrNode *e = cg->partner[i];
    const IrValue *k = e->inputs[cg->partner_slot[i]];
    int axis = 1 - (e->outputs[0]->rank - k->rank);
    if (axis >= 0 && k->dims[axis] == C)
      e->inputs[cg->partner_slot[i]] = shrink_const(g, k, axis, 1, keep);
  }
  *removed += C - n_keep;
  free(keep);
  return true;
}

/* ---- lossy steps ---------------------------------------------------------------------------- */

/* One pruning rule: a fraction in [0, 1), or (channels) a norm threshold: channels whose L1
 * (norm 1) or L2 (norm 2) norm is below `value` go. value < 0: no rule. */
typedef struct {
  double value;
  int norm;
} Rule;

/* A "F" or "NODE=F,..." list (channels also "l1<T", "l2<T", "NODE=l2<T"): *global, or
 * per[node index]; false on an error. */
static bool parse_rules(const IrGraph *g, const char *kind, const char *args, Rule *global,
                        Rule *per, IrDiag *d) {
  *global = (Rule){-1, 0};
  for (int i = 0; i < g->n_nodes; i++) per[i] = (Rule){-1, 0};
  char *copy = strdup(args), *save = NULL;
  if (!copy) abort();
  bool ok = true, any = false, norms = !strcmp(kind, "channels");
  for (char *tok = strtok_r(copy, ",", &save); tok && ok; tok = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(tok, '=');
    const char *num = eq ? eq + 1 : tok;
    Rule r = {-1, 0};
    if (norms && (!strncmp(num, "l1<", 3) || !strncmp(num, "l2<", 3))) {
      r.norm = num[1] - '0';
      num += 3;
    }
    char *end;
    r.value = strtod(num, &end);
    bool good = *num && !*end &&
                (r.norm ? r.value >= 0.0 && isfinite(r.value) : r.value >= 0.0 && r.value < 1.0);
    if (!good) {
      ir_diag_error(d, "--prune",
                    r.norm ? "%s: norm threshold '%s' is not a number >= 0"
                           : "%s: fraction '%s' is not a number in [0, 1)",
                    kind, num);
      ok = false;
      break;
    }
    any = true;
    if (!eq) {
      *global = r;
      continue;
    }
    *eq = 0;
    int found = -1;
    for (int i = 0; i < g->n_nodes; i++)
      if (!strcmp(g->nodes[i]->name, tok)) found = i;
    if (found < 0) {
      ir_diag_error(d, "--prune", "%s: no node named '%s' in the model", kind, tok);
      ok = false;
    } else {
      per[found] = r;
    }
  }
  free(copy);
  if (ok && !any) {
    ir_diag_error(d, "--prune", "%s: expected a fraction or a NODE=FRACTION list", kind);
    ok = false;
  }
  return ok;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static bool has_weight(const IrNode *n) {
  IrSparseView v;
  return ir_sparse_view(n, &v);
}

/* Zeroes the `count` smallest-magnitude weights of the nodes in `nodes` (ranked together). */
static void zero_smallest(IrGraph *g, IrNode **nodes, int n_nodes, double fraction) {
  int64_t total = 0;
  for (int i = 0; i < n_nodes; i++) total += ir_value_numel(nodes[i]->inputs[1]);
  int64_t count = (int64_t)floor(fraction * (double)total + 0.5);
  if (count <= 0) return;
  float *mag = malloc(sizeof(float) * (size_t)total + 1);
  if (!mag) abort();
  int64_t at = 0;
  for (int i = 0; i < n_nodes; i++) {
    const IrValue *W = nodes[i]->inputs[1];
    for (int64_t k = 0; k < ir_value_numel(W); k++) mag[at++] = fabsf(((const float *)W->data)[k]);
  }
  qsort(mag, (size_t)total, sizeof *mag, cmp_float);
  float thr = mag[count - 1]; /* zero |w| < thr, and |w| == thr while count lasts */
  int64_t below = 0;
  for (int64_t k = 0; k < total; k++) below += mag[k] < thr;
  int64_t ties = count - below;
  free(mag);
  for (int i = 0; i < n_nodes; i++) {
    IrValue *W = nodes[i]->inputs[1];
    int64_t numel = ir_value_numel(W);
    float *w = malloc(sizeof(float) * (size_t)numel + 1);
    if (!w) abort();
    memcpy(w, W->data, sizeof(float) * (size_t)numel);
    for (int64_t k = 0; k < numel; k++) {
      float a = fabsf(w[k]);
      if (a < thr) {
        w[k] = 0.0f;
      } else if (a == thr && ties > 0) {
        w[k] = 0.0f;
        ties--;
      }
    }
    nodes[i]->inputs[1] = pass_new_const(g, W->name, IR_F32, W->rank, W->dims, w);
    free(w);
  }
}

static bool prune_magnitude(IrGraph *g, const char *args, IrDiag *d) {
  Rule global, *per = malloc(sizeof(Rule) * (size_t)(g->n_nodes + 1));
  IrNode **nodes = malloc(sizeof(IrNode *) * (size_t)(g->n_nodes + 1));
  if (!per || !nodes) abort();
  bool ok = parse_rules(g, "magnitude", args, &global, per, d);
  for (int i = 0; ok && i < g->n_nodes; i++)
    if (per[i].value >= 0 && !has_weight(g->nodes[i])) {
      ir_diag_error(d, "--prune",
                    "magnitude: node '%s' (%s) has no constant f32 weight of a Gemm, MatMul or "
                    "Conv",
                    g->nodes[i]->name, ir_op_info[g->nodes[i]->op].name);
      ok = false;
    }
  if (ok) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
      if (per[i].value >= 0)
        zero_smallest(g, &g->nodes[i], 1, per[i].value);
      else if (global.value >= 0 && has_weight(g->nodes[i]))
        nodes[n++] = g->nodes[i];
    if (n) zero_smallest(g, nodes, n, global.value); /* one threshold over the rest */
  }
  free(per);
  free(nodes);
  return ok;
}

/* Zeroes the output channels of cg the rule drops (weights and bias): the fraction with the
 * smallest L2 norm, or those whose norm is below the threshold; at least one channel stays. */
static void zero_weak_channels(IrGraph *g, ChanGroup *cg, Rule rule) {
  IrNode *h = cg->head;
  int64_t C = cg->channels, numel = ir_value_numel(h->inputs[1]), per = numel / C;
  const float *w = h->inputs[1]->data;
  float *norm = malloc(sizeof(float) * (size_t)C), *sorted = malloc(sizeof(float) * (size_t)C);
  float *nw = malloc(sizeof(float) * (size_t)numel);
  if (!norm || !sorted || !nw) abort();
  for (int64_t c = 0; c < C; c++) {
    double s = 0;
    for (int64_t k = 0; k < per; k++) {
      double x = w[head_index(h, c, k, C, per)];
      s += rule.norm == 1 ? fabs(x) : x * x;
    }
    sorted[c] = norm[c] = (float)(rule.norm == 1 ? s : sqrt(s));
  }
  qsort(sorted, (size_t)C, sizeof *sorted, cmp_float);
  int64_t drop = 0;
  float thr = 0.0f;
  if (rule.norm) {
    while (drop < C && sorted[drop] < rule.value) drop++;
    if (drop > 0) thr = sorted[drop - 1];
  } else {
    drop = (int64_t)floor(rule.value * (double)C + 0.5);
    if (drop > 0 && drop <= C) thr = sorted[drop - 1];
  }
  if (drop >= C) drop = C - 1, thr = sorted[C - 2 >= 0 ? C - 2 : 0];
  if (drop <= 0) {
    free(norm), free(sorted), free(nw);
    return;
  }
  memcpy(nw, w, sizeof(float) * (size_t)numel);
  const IrValue *b = h->n_inputs > 2 ? h->inputs[2] : NULL;
  float *nb = b ? malloc(sizeof(float) * (size_t)C) : NULL;
  if (b && !nb) abort();
  if (nb) memcpy(nb, b->data, sizeof(float) * (size_t)C);
  int64_t dropped = 0;
  for (int64_t c = 0; c < C && dropped < drop; c++) {
    if (norm[c] > thr) continue;
    dropped++;
    for (int64_t k = 0; k < per; k++) nw[head_index(h, c, k, C, per)] = 0.0f;
    if (nb) nb[c] = 0.0f;
  }
  const IrValue *W = h->inputs[1];
  h->inputs[1] = pass_new_const(g, W->name, IR_F32, W->rank, W->dims, nw);
  if (nb) h->inputs[2] = pass_new_const(g, b->name, IR_F32, b->rank, b->dims, nb);
  free(norm), free(sorted), free(nw), free(nb);
}

static bool prune_channels(IrGraph *g, const char *args, IrDiag *d) {
  Rule global, *per = malloc(sizeof(Rule) * (size_t)(g->n_nodes + 1));
  if (!per) abort();
  bool ok = parse_rules(g, "channels", args, &global, per, d);
  for (int i = 0; ok && i < g->n_nodes; i++) {
    IrNode *n = g->nodes[i];
    ChanGroup cg;
    if (per[i].value < 0 && (global.value < 0 || (n->op != IR_OP_CONV && n->op != IR_OP_GEMM)))
      continue;
    find_group(g, n, &cg);
    if (!cg.tied[0] && cg.n_heads > 1) /* lossy: one layer's weak channels are not the others' */
      snprintf(cg.tied, sizeof cg.tied,
               "node '%s' by a residual Add (only channels zero in every layer of the group are "
               "removed)",
               cg.heads[1]->name);
    if (cg.tied[0]) {
      if (per[i].value < 0) continue; /* a global rule: only the layers that can shrink */
      ir_diag_error(d, "--prune",
                    "channels: cannot prune the output channels of node '%s': they are tied to %s",
                    n->name, cg.tied);
      ok = false;
      break;
    }
    zero_weak_channels(g, &cg, per[i].value >= 0 ? per[i] : global);
  }
  free(per);
  return ok;
}

/* ---- the pass ------------------------------------------------------------------------------- */

static bool remove_all_zero_channels(IrGraph *g, IrDiag *d) {
  bool changed = false;
  int64_t removed = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    ChanGroup cg;
    IrNode *n = g->nodes[i];
    if (n->op != IR_OP_CONV && n->op != IR_OP_GEMM) continue;
    find_group(g, n, &cg);
    if (cg.tied[0] || !remove_zero_channels(g, &cg, &removed)) continue;
    changed = true;
    if (!ir_graph_infer_shapes(g, d)) { /* the next heads read the new shapes */
      ir_diag_error(d, NULL, "internal error: shapes after removing pruned channels");
      return changed;
    }
  }
  return changed;
}

bool pass_prune(IrGraph *g, const PassOptions *o, IrDiag *d) {
  bool changed = false;
  const char *spec = o ? o->prune : NULL;
  while (spec && *spec) {
    size_t len = strcspn(spec, ";");
    char one[1024];
    snprintf(one, sizeof one, "%.*s", (int)(len < sizeof one ? len : sizeof one - 1), spec);
    spec += len + (spec[len] == ';');
    char *colon = strchr(one, ':');
    const char *args = colon ? colon + 1 : "";
    if (colon) *colon = 0;
    int errors = d->n_errors;
    if (!strcmp(one, "magnitude")) {
      if (!prune_magnitude(g, args, d)) return changed;
    } else if (!strcmp(one, "channels")) {
      if (colon && !prune_channels(g, args, d)) return changed;
      changed |= remove_all_zero_channels(g, d);
      if (!colon) continue; /* lossless only */
    } else {
      ir_diag_error(d, "--prune", "unknown kind '%s' (expected magnitude or channels)", one);
      return changed;
    }
    changed = true;
    if (d->n_errors > errors) return changed;
    if (o->after_lossy) {
      char step[1100];
      snprintf(step, sizeof step, "--prune=%s%s%s", one, colon ? ":" : "", args);
      if (!o->after_lossy(o->after_lossy_ctx, g, step, d)) return changed;
    }
  }
  changed |= remove_all_zero_channels(g, d);
  return changed;
}
