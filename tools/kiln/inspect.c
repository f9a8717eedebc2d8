/* `kiln inspect`: loads the model twice, once through the -O0 pipeline (only the memory plan:
 * the graph as written) and once through the requested one, and reports both. */
#include "inspect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe.h"
#include "sparsity.h"

#define MAX_GROUP_KINDS 32

typedef struct Stats {
  int nodes;
  int counts[IR_OP_COUNT];
  int n_kinds; /* fused group kinds, e.g. "Conv+Relu" */
  char kinds[MAX_GROUP_KINDS][96];
  int kind_count[MAX_GROUP_KINDS];
  int64_t params, param_bytes, macs, workspace, bound, align;
  int n_states, n_direct;
  int64_t state; /* bytes of the caller's state buffer */
} Stats;

/* "Conv+Add+Relu" for a fused head. */
static const char *group_label(const IrNode *n, char *buf, size_t size) {
  size_t len = (size_t)snprintf(buf, size, "%s", ir_op_info[n->op].name);
  for (int e = 0; e < n->n_epilogue && len < size; e++)
    len += (size_t)snprintf(buf + len, size - len, "+%s", ir_op_info[n->epilogue[e]->op].name);
  return buf;
}

static Stats graph_stats(const IrGraph *g) {
  Stats s = {.nodes = g->n_nodes};
  for (int i = 0; i < g->n_nodes; i++) {
    s.counts[g->nodes[i]->op]++;
    s.macs += ir_node_macs(g->nodes[i]);
    if (!g->nodes[i]->n_epilogue) continue;
    char label[96];
    group_label(g->nodes[i], label, sizeof label);
    int k = 0;
    while (k < s.n_kinds && strcmp(s.kinds[k], label)) k++;
    if (k == MAX_GROUP_KINDS) continue;
    if (k == s.n_kinds) snprintf(s.kinds[s.n_kinds++], sizeof s.kinds[0], "%s", label);
    s.kind_count[k]++;
  }
  s.params = ir_graph_param_count(g);
  s.param_bytes = ir_graph_param_bytes(g);
  s.workspace = g->workspace_size;
  s.align = g->workspace_align;
  s.bound = pass_memplan_lower_bound(g, g->workspace_align);
  s.n_states = g->n_states;
  s.state = g->state_size;
  for (int i = 0; i < g->n_states; i++) s.n_direct += g->states[i].direct;
  return s;
}

/* Nodes with an operand of run-time length: codegen calls them over blocks of rows up to it. */
/* Nodes touching a value with run-time dim k: the length's axis, or the batch (IrGraph.outer). */
static int dyn_nodes(const IrGraph *g, int k) {
  bool batch = g->outer == k + 1;
  int count = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const IrNode *n = g->nodes[i];
    bool any = false;
    for (int j = 0; j < n->n_inputs + n->n_outputs; j++) {
      const IrValue *v = j < n->n_inputs ? n->inputs[j] : n->outputs[j - n->n_inputs];
      any |= v && (batch ? v->outer : v->dyn != 0);
    }
    count += any;
  }
  return count;
}

static IrGraph *load(const char *model, const FeOptions *fo, const PassOptions *po,
                     const char *state) {
  IrDiag d;
  ir_diag_init(&d, model, true);
  IrGraph *g = fe_load_model_opts(model, fo, &d);
  if (g && (!ir_graph_pair_states(g, state, &d) || !pass_run_pipeline(g, po, &d))) {
    ir_graph_free(g);
    g = NULL;
  }
  ir_diag_free(&d);
  return g;
}

/* The micro-kernel's register tile, for the kernels built on it (not attention's row loop). */
static bool has_tile(const IrNode *n, const CgNodeTile *tiles, int i) {
  return tiles && tiles[i].mr && n->kernel != IR_KERNEL_ATTENTION;
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void json_stats(FILE *f, const Stats *s) {
  fprintf(f, "{\"nodes\": %d, \"ops\": {", s->nodes);
  bool first = true;
  for (int op = 0; op < IR_OP_COUNT; op++)
    if (s->counts[op]) {
      fprintf(f, "%s\"%s\": %d", first ? "" : ", ", ir_op_info[op].name, s->counts[op]);
      first = false;
    }
  fputs("}, \"fused\": {", f);
  for (int k = 0; k < s->n_kinds; k++)
    fprintf(f, "%s\"%s\": %d", k ? ", " : "", s->kinds[k], s->kind_count[k]);
  fprintf(f,
          "}, \"params\": %lld, \"param_bytes\": %lld, \"macs\": %lld, \"workspace_bytes\": %lld, "
          "\"workspace_lower_bound_bytes\": %lld}",
          (long long)s->params, (long long)s->param_bytes, (long long)s->macs,
          (long long)s->workspace, (long long)s->bound);
}

/* The value's storage layout (passes/pass_layout.c): "nchw16c" for NCHW{16}c, else "plain". */
static void json_layout(FILE *f, const IrValue *v) {
  if (v->layout_block)
    fprintf(f, ", \"layout\": \"nchw%dc\"", v->layout_block);
  else
    fputs(", \"layout\": \"plain\"", f);
}

/* A node's inputs or outputs: name and layout of each (null for an omitted optional input). */
static void json_value_refs(FILE *f, IrValue *const *v, int n) {
  fputc('[', f);
  for (int i = 0; i < n; i++) {
    fputs(i ? ", " : "", f);
    if (!v[i]) {
      fputs("null", f);
      continue;
    }
    fputs("{\"name\": ", f);
    json_string(f, v[i]->name);
    json_layout(f, v[i]);
    fputc('}', f);
  }
  fputc(']', f);
}

static void json_values(FILE *f, IrValue *const *v, int n) {
  fputc('[', f);
  for (int i = 0; i < n; i++) {
    fprintf(f, "%s{\"name\": ", i ? ", " : "");
    json_string(f, v[i]->name);
    fprintf(f, ", \"dtype\": \"%s\", \"shape\": [", ir_dtype_name(v[i]->dtype));
    for (int k = 0; k < v[i]->rank; k++)
      fprintf(f, "%s%lld", k ? ", " : "", (long long)v[i]->dims[k]);
    fputc(']', f);
    if (v[i]->quant && v[i]->quant->count == 1) /* --quant-io=int8 */
      fprintf(f, ", \"scale\": %.9g, \"zero_point\": %lld", (double)v[i]->quant->scale[0],
              (long long)v[i]->quant->zero_point[0]);
    fputc('}', f);
  }
  fputc(']', f);
}

/* A Gemm/MatMul/Conv's constant weight (ir/sparsity.h): fraction of nonzeros, the bytes its
 * kernel stores for it (indices included), the bytes of the dense weight, and the MACs the
 * kernel executes (products with a zero weight skipped by the sparse kernels). */
typedef struct {
  double density;
  int64_t bytes, dense_bytes, fp32_bytes, macs; /* dense: in the weight's dtype */
  bool i8;
} SparseInfo;

static bool sparse_info(const IrNode *n, int lanes, SparseInfo *si) {
  IrSparseView v;
  if (!ir_sparse_view(n, &v) && !ir_sparse_view_i8(n, &v)) return false;
  si->i8 = v.i8 != NULL;
  si->fp32_bytes = v.rows * v.K * 4;
  IrSparseStats s;
  ir_sparse_stats(&v, lanes > 0 ? lanes : 8, &s);
  si->density = s.numel ? (double)s.nnz / (double)s.numel : 0.0;
  si->bytes = ir_sparse_weight_bytes(&v, &s, n->kernel);
  si->dense_bytes = ir_sparse_weight_bytes(&v, &s, IR_KERNEL_DEFAULT);
  si->macs = ir_node_macs(n);
  if (ir_kernel_is_sparse(n->kernel) && s.numel)
    si->macs = (int64_t)((double)si->macs * (double)s.nnz / (double)s.numel + 0.5);
  return true;
}

/* Per node: the kernel the pass chose, its scratch, its MACs and, for tiled kernels, the
 * register tile codegen uses on the target (rows x columns of floats). */
static void json_kernels(FILE *f, const IrGraph *g, const CgNodeTile *tiles) {
  fputc('[', f);
  for (int i = 0; i < g->n_nodes; i++) {
    const IrNode *n = g->nodes[i];
    fprintf(f, "%s{\"node\": ", i ? ", " : "");
    json_string(f, n->name);
    fprintf(f, ", \"op\": \"%s\", \"kernel\": \"%s\", \"scratch_bytes\": %lld, \"macs\": %lld",
            ir_op_info[n->op].name, ir_kernel_names[n->kernel], (long long)n->scratch_bytes,
            (long long)ir_node_macs(n));
    if (n->pool) {
      fprintf(f, ", \"pool\": ");
      json_string(f, n->pool->name);
    }
    if (n->lookup) {
      fprintf(f, ", \"lookup\": ");
      json_string(f, n->lookup->name);
    }
    if (has_tile(g->nodes[i], tiles, i))
      fprintf(f, ", \"tile\": {\"rows\": %d, \"cols\": %d, \"lanes\": %d}", tiles[i].mr,
              tiles[i].nr, tiles[i].lanes);
    SparseInfo si;
    if (sparse_info(n, tiles ? tiles[i].lanes : 0, &si))
      fprintf(f,
              ", \"weights\": {\"dtype\": \"%s\", \"density\": %.6f, \"bytes\": %lld, "
              "\"dense_bytes\": %lld, \"dense_fp32_bytes\": %lld, \"macs_executed\": %lld}",
              si.i8 ? "i8" : "f32", si.density, (long long)si.bytes, (long long)si.dense_bytes,
              (long long)si.fp32_bytes, (long long)si.macs);
    fputs(", \"inputs\": ", f);
    json_value_refs(f, n->inputs, n->n_inputs);
    fputs(", \"outputs\": ", f);
    json_value_refs(f, n->outputs, n->n_outputs);
    fputc('}', f);
  }
  fputc(']', f);
}

static void print_json(const IrGraph *g, const InspectOptions *o, const Stats *before,
                       const Stats *after, const CgNodeTile *tiles) {
  FILE *f = stdout;
  fputs("{\"model\": ", f);
  json_string(f, g->name);
  fprintf(f, ", \"opset\": %d, \"opt_level\": %d, \"passes\": [", g->opset, o->passes.opt_level);
  int np;
  const PassInfo *list = pass_list(&np);
  bool first = true;
  if (o->passes.passes) {
    const char *s = o->passes.passes;
    while (*s) {
      size_t len = strcspn(s, ",");
      if (len && strncmp(s, "memplan", len) && strncmp(s, "kernels", len)) {
        fprintf(f, "%s\"%.*s\"", first ? "" : ", ", (int)len, s);
        first = false;
      }
      s += len + (s[len] == ',');
    }
    fprintf(f, "%s\"kernels\", \"memplan\"", first ? "" : ", ");
  } else {
    for (int i = 0; i < np; i++)
      if (o->passes.opt_level >= list[i].min_level) {
        fprintf(f, "%s\"%s\"", first ? "" : ", ", list[i].name);
        first = false;
      }
  }
  fputs("], \"inputs\": ", f);
  json_values(f, g->inputs, g->n_inputs);
  fputs(", \"outputs\": ", f);
  json_values(f, g->outputs, g->n_outputs);
  fprintf(f,
          ", \"params\": %lld, \"param_bytes\": %lld, \"macs\": %lld, \"workspace_bytes\": %lld, "
          "\"workspace_lower_bound_bytes\": %lld, \"workspace_align\": %lld, \"state_bytes\": "
          "%lld, \"states\": [",
          (long long)after->params, (long long)after->param_bytes, (long long)after->macs,
          (long long)after->workspace, (long long)after->bound, (long long)after->align,
          (long long)g->state_size);
  for (int i = 0; i < g->n_states; i++) {
    const IrState *st = &g->states[i];
    fprintf(f, "%s{\"name\": ", i ? ", " : "");
    json_string(f, st->in->name);
    fputs(", \"next\": ", f);
    json_string(f, st->out->name);
    fprintf(f, ", \"offset\": %lld, \"bytes\": %lld, \"in_place\": %s}", (long long)st->offset,
            (long long)ir_value_nbytes(st->in), st->direct ? "true" : "false");
  }
  fputs("], \"dims\": [", f);
  for (int k = 0; k < g->n_dyn; k++) {
    fputs(k ? ", {\"name\": " : "{\"name\": ", f);
    json_string(f, g->dyn[k].name);
    fprintf(f, ", \"max\": %lld, \"nodes\": %d, \"batch\": %s}", (long long)g->dyn[k].max,
            dyn_nodes(g, k), g->outer == k + 1 ? "true" : "false");
  }
  fputs("], \"before\": ", f);
  json_stats(f, before);
  fputs(", \"after\": ", f);
  json_stats(f, after);
  fputs(", \"kernels\": ", f);
  json_kernels(f, g, tiles);
  const PassQuantOptions *q = o->passes.quant;
  if (q && q->n_layers) {
    fputs(", \"quantization\": [", f);
    for (int i = 0; i < *q->n_layers; i++) {
      const PassQuantLayer *l = &q->layers[i];
      fputs(i ? ", {\"node\": " : "{\"node\": ", f);
      json_string(f, l->node);
      fputs(", \"op\": ", f);
      json_string(f, l->op);
      if (isfinite(l->sqnr_db))
        fprintf(f, ", \"sqnr_db\": %.2f", l->sqnr_db);
      else
        fputs(", \"sqnr_db\": null", f);
      fprintf(f, ", \"fp32\": %s}", l->kept_fp32 ? "true" : "false");
    }
    fputc(']', f);
  }
  if (q && q->n_outputs && *q->n_outputs) { /* the model outputs against fp32 */
    fputs(", \"quantized_outputs\": [", f);
    for (int i = 0; i < *q->n_outputs; i++) {
      const PassQuantOutput *u = &q->outputs[i];
      fputs(i ? ", {\"output\": " : "{\"output\": ", f);
      json_string(f, u->name);
      if (isfinite(u->sqnr_db))
        fprintf(f, ", \"sqnr_db\": %.2f}", u->sqnr_db);
      else if (isnan(u->sqnr_db))
        fprintf(f, ", \"equal\": %.4f}", u->agree);
      else
        fputs(", \"sqnr_db\": null}", f);
    }
    fputc(']', f);
  }
  fputs("}\n", f);
}

static void text_stats(const char *label, const Stats *s) {
  printf("  %s: %d nodes (", label, s->nodes);
  bool first = true;
  for (int op = 0; op < IR_OP_COUNT; op++)
    if (s->counts[op]) {
      printf("%s%s %d", first ? "" : ", ", ir_op_info[op].name, s->counts[op]);
      first = false;
    }
  printf(")\n");
  if (s->n_kinds) {
    printf("    fused:");
    for (int k = 0; k < s->n_kinds; k++)
      printf("%s %s %d", k ? "," : "", s->kinds[k], s->kind_count[k]);
    printf("\n");
  }
  printf("    parameters: %lld (%lld bytes)\n    MACs: %lld\n", (long long)s->params,
         (long long)s->param_bytes, (long long)s->macs);
  printf("    workspace: %lld bytes (lower bound %lld, alignment %lld)\n", (long long)s->workspace,
         (long long)s->bound, (long long)s->align);
  if (s->n_states)
    printf("    state: %lld bytes in %d tensors, the caller's (%d updated in place, %d copied)\n",
           (long long)s->state, s->n_states, s->n_direct, s->n_states - s->n_direct);
}

static void dot_id(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('\\', f); /* a backslash stays: labels use \n */
    fputc(*s, f);
  }
  fputc('"', f);
}

/* DOT name of a node as an edge's target (head) or source (last step of a fused group). */
static const char *dot_node(const IrNode *n, bool target, char *buf, size_t size) {
  if (!n->n_epilogue)
    snprintf(buf, size, "n%d", n->id);
  else
    snprintf(buf, size, "n%d_%d", n->id, target ? 0 : n->n_epilogue);
  return buf;
}

/* Nodes are boxes labelled with their op; values are edges (initializers are noted in the node
 * label). Graph inputs and outputs are ellipses; a fused group is a cluster of its head and its
 * epilogue steps. */
static void print_dot(const IrGraph *g) {
  FILE *f = stdout;
  fputs("digraph ", f);
  dot_id(f, g->name);
  fputs(" {\n  rankdir=TB;\n  node [shape=box, style=filled, fillcolor=\"#e8eef8\"];\n", f);
  for (int i = 0; i < g->n_inputs; i++) {
    fprintf(f, "  v%d [shape=ellipse, fillcolor=\"#dff0d8\", label=", g->inputs[i]->id);
    dot_id(f, g->inputs[i]->name);
    fputs("];\n", f);
  }
  for (int i = 0; i < g->n_outputs; i++) {
    fprintf(f, "  o%d [shape=ellipse, fillcolor=\"#f8e0d0\", label=", i);
    dot_id(f, g->outputs[i]->name);
    fputs("];\n", f);
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const IrNode *n = g->nodes[i];
    char label[600];
    int consts = 0;
    for (int k = 0; k < n->n_inputs; k++)
      consts += n->inputs[k] && n->inputs[k]->kind == IR_VALUE_CONST;
    snprintf(label, sizeof label, "%s\\n%s%s", ir_op_info[n->op].name, n->name,
             consts ? " (+weights)" : "");
    if (!n->n_epilogue) {
      fprintf(f, "  n%d [label=", i);
      dot_id(f, label);
      fputs("];\n", f);
      continue;
    }
    /* a fused group: the head and its epilogue steps in one cluster, in execution order; edges
     * leave the group from its last step */
    char group[96];
    fprintf(f, "  subgraph cluster_%d {\n    style=rounded; color=\"#c05020\"; label=", i);
    dot_id(f, group_label(n, group, sizeof group));
    fprintf(f, ";\n    n%d_0 [label=", i);
    dot_id(f, label);
    fputs("];\n", f);
    for (int e = 0; e < n->n_epilogue; e++) {
      fprintf(f, "    n%d_%d [label=", i, e + 1);
      dot_id(f, ir_op_info[n->epilogue[e]->op].name);
      fprintf(f, "];\n    n%d_%d -> n%d_%d;\n", i, e, i, e + 1);
    }
    fputs("  }\n", f);
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const IrNode *n = g->nodes[i];
    for (int k = 0; k < n->n_inputs; k++) {
      const IrValue *v = n->inputs[k];
      if (!v || v->kind == IR_VALUE_CONST) continue;
      char src[32], dst[32];
      if (v->kind == IR_VALUE_INPUT)
        snprintf(src, sizeof src, "v%d", v->id);
      else
        dot_node(v->producer, false, src, sizeof src);
      dot_node(n, true, dst, sizeof dst);
      fprintf(f, "  %s -> %s;\n", src, dst);
    }
  }
  for (int j = 0; j < g->n_outputs; j++) {
    const IrValue *v = g->outputs[j];
    char src[32];
    if (v->kind == IR_VALUE_NODE)
      fprintf(f, "  %s -> o%d;\n", dot_node(v->producer, false, src, sizeof src), j);
    if (v->kind == IR_VALUE_INPUT) fprintf(f, "  v%d -> o%d;\n", v->id, j);
  }
  fputs("}\n", f);
}

int kiln_inspect(const InspectOptions *o) {
  PassOptions base = o->passes;
  base.passes = "memplan";
  base.no_dyn_check = true; /* measured only */
  base.print_after = NULL;
  IrGraph *g0 = load(o->model, &o->fe, &base, o->state);
  if (!g0) return 1;
  Stats before = graph_stats(g0);
  ir_graph_free(g0);
  PassOptions po = o->passes;
  po.print_after = o->after;
  po.print_to = stdout;
  IrGraph *g = load(o->model, &o->fe, &po, o->state);
  if (!g) return 1;
  Stats after = graph_stats(g);
  CgNodeTile *tiles = calloc((size_t)g->n_nodes + 1, sizeof *tiles);
  if (!tiles) abort();
  IrDiag td;
  ir_diag_init(&td, NULL, true);
  if (!cg_kernel_tiles(g, &o->target, tiles, &td)) {
    free(tiles);
    tiles = NULL; /* a bad --target was reported; the rest of the report stands */
  }
  ir_diag_free(&td);
  if (o->json) {
    print_json(g, o, &before, &after, tiles);
  } else if (o->dot) {
    print_dot(g);
  } else {
    printf("model %s (opset %d)\n", g->name, g->opset);
    for (int i = 0; i < g->n_inputs + g->n_outputs; i++) {
      const IrValue *v = i < g->n_inputs ? g->inputs[i] : g->outputs[i - g->n_inputs];
      printf("  %s %s: %s[", i < g->n_inputs ? "input " : "output", v->name,
             ir_dtype_name(v->dtype));
      for (int k = 0; k < v->rank; k++) {
        const IrDynDim *dim = k == v->dyn - 1      ? &g->dyn[ir_dyn_len_index(g)]
                              : k == 0 && v->outer ? &g->dyn[g->outer - 1]
                                                   : NULL;
        int64_t shown = dim && v->outer && k == 0 ? dim->max * v->dims[0] : v->dims[k];
        printf("%s%s%s%lld", k ? "," : "", dim ? dim->name : "", dim ? "<=" : "", (long long)shown);
      }
      printf("]");
      if (v->quant && v->quant->count == 1) /* --quant-io=int8 */
        printf(" (scale %.9g, zero point %lld)", (double)v->quant->scale[0],
               (long long)v->quant->zero_point[0]);
      printf("\n");
    }
    for (int k = 0; k < g->n_dyn; k++)
      if (g->outer == k + 1)
        printf("  run-time batch %s: 1 to %lld, dims[%d] of the *_dims entry points; the code of "
               "%d nodes runs once per batch element, the memory plan is for one element\n",
               g->dyn[k].name, (long long)g->dyn[k].max, k, dyn_nodes(g, k));
      else
        printf("  run-time dim %s: 1 to %lld, passed to the *_dims entry points; %d nodes loop "
               "to it, the memory plan is for the maximum\n",
               g->dyn[k].name, (long long)g->dyn[k].max, dyn_nodes(g, k));
    text_stats("before passes", &before);
    char label[64];
    snprintf(label, sizeof label, "after -O%d passes", o->passes.opt_level);
    text_stats(o->passes.passes ? "after --passes" : label, &after);
    int64_t layer_bytes = 0, layer_dense = 0;
    for (int i = 0; i < g->n_nodes; i++) {
      const IrNode *n = g->nodes[i];
      SparseInfo si;
      bool weights = sparse_info(n, tiles ? tiles[i].lanes : 0, &si);
      if (weights) layer_bytes += si.bytes, layer_dense += si.fp32_bytes;
      if (n->kernel == IR_KERNEL_DEFAULT && !weights) continue;
      printf("    kernel %s: %s", n->name, ir_kernel_names[n->kernel]);
      if (has_tile(n, tiles, i))
        printf(", tile %d x %d floats (%d-lane vectors)", tiles[i].mr, tiles[i].nr, tiles[i].lanes);
      if (n->scratch_bytes) printf(", scratch %lld bytes", (long long)n->scratch_bytes);
      if (n->pool) printf(", fused %s %s", ir_op_info[n->pool->op].name, n->pool->name);
      if (n->lookup) printf(", fused %s %s", ir_op_info[n->lookup->op].name, n->lookup->name);
      if (weights)
        printf(", %sweights %.1f%% nonzero, %lld bytes (dense %lld), %lld MACs",
               si.i8 ? "int8 " : "", 100.0 * si.density, (long long)si.bytes,
               (long long)si.dense_bytes, (long long)si.macs);
      printf("\n");
    }
    if (layer_dense) /* the compression ladder: dense fp32, then as the kernels store them
                        (pruned: sparse formats; quantized: int8, sparse int8) */
      printf("  Gemm/MatMul/Conv weights: %lld bytes as compiled, %lld dense fp32 (%.2fx)\n",
             (long long)layer_bytes, (long long)layer_dense,
             layer_bytes ? (double)layer_dense / (double)layer_bytes : 0.0);
    const PassQuantOptions *q = o->passes.quant;
    for (int i = 0; q && q->n_layers && i < *q->n_layers; i++)
      printf("    int8 %s: %s, SQNR %.2f dB%s\n", q->layers[i].node, q->layers[i].op,
             q->layers[i].sqnr_db, q->layers[i].kept_fp32 ? " (kept fp32)" : "");
    if (o->memory_plan) pass_memplan_print(g, stdout);
    if (o->print_graph) ir_graph_print(g, stdout);
  }
  int rc = 0;
  if (o->plan_svg) {
    FILE *f = fopen(o->plan_svg, "w");
    if (!f) {
      fprintf(stderr, "kiln inspect: cannot write %s\n", o->plan_svg);
      rc = 1;
    } else {
      pass_memplan_svg(g, f);
      if (fclose(f) != 0) rc = 1;
    }
  }
  free(tiles);
  ir_graph_free(g);
  return rc;
}
