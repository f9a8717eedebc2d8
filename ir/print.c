/* Text form of a graph (for --print-after and golden tests) and per-node MAC counts.
 *
 *   graph mnist opset 17
 *   input %x: f32[1,1,28,28]
 *   const @conv1.weight: f32[32,1,3,3]
 *   %c1:f32[1,32,28,28] = Conv(%x, @conv1.weight, @conv1.bias) {kernel_shape=[3,3]}  # conv1
 *   output %logits: f32[1,10]
 *
 * %name is an input or a node result, @name an initializer, _ an omitted optional input or
 * output. Only attributes present on the node are printed, in schema order. Deterministic. */
#include <stdio.h>
#include <stdlib.h>

#include "conv_params.h"
#include "ir_util.h"
#include "quant.h"

/* Shortest %g form that reads back as the same double. */
static void print_double(FILE *f, double x) {
  char buf[40];
  for (int prec = 6; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (strtod(buf, NULL) == x) break;
  }
  fputs(buf, f);
}

static void print_ref(FILE *f, const IrValue *v) {
  if (!v)
    fputs("_", f);
  else
    fprintf(f, "%c%s", v->kind == IR_VALUE_CONST ? '@' : '%', v->name);
}

static void print_type(FILE *f, const IrValue *v) {
  char s[512];
  fprintf(f, "%s%s", ir_dtype_name(v->dtype), ir_format_dims(v->rank, v->dims, s, sizeof s));
  if (v->quant) {
    if (v->quant->axis < 0)
      fputs(" quant", f);
    else
      fprintf(f, " quant(axis=%d)", v->quant->axis);
  }
}

static void print_attrs(FILE *f, const IrNode *n) {
  const IrAttrSpec *spec = ir_op_info[n->op].attrs;
  bool first = true;
  for (int k = 0; spec[k].name; k++) {
    const IrAttr *a = &n->attrs[k];
    if (!a->present) continue;
    fprintf(f, "%s%s=", first ? " {" : ", ", spec[k].name);
    first = false;
    switch (spec[k].kind) {
    case IR_ATTR_INT: fprintf(f, "%lld", (long long)a->i); break;
    case IR_ATTR_FLOAT: print_double(f, a->f); break;
    case IR_ATTR_STRING: fprintf(f, "\"%s\"", a->s ? a->s : ""); break;
    case IR_ATTR_INTS:
    case IR_ATTR_FLOATS:
      fputc('[', f);
      for (int i = 0; i < a->count; i++) {
        if (i) fputc(',', f);
        if (spec[k].kind == IR_ATTR_INTS)
          fprintf(f, "%lld", (long long)a->ints[i]);
        else
          print_double(f, a->floats[i]);
      }
      fputc(']', f);
      break;
    }
  }
  if (!first) fputc('}', f);
}

void ir_graph_print(const IrGraph *g, void *file) {
  FILE *f = file;
  fprintf(f, "graph %s opset %d\n", g->name ? g->name : "?", g->opset);
  for (int i = 0; i < g->n_inputs; i++) {
    fputs("input ", f);
    print_ref(f, g->inputs[i]);
    fputs(": ", f);
    print_type(f, g->inputs[i]);
    fputc('\n', f);
  }
  for (int i = 0; i < g->n_values; i++) {
    const IrValue *v = g->values[i];
    if (v->kind != IR_VALUE_CONST) continue;
    fputs("const ", f);
    print_ref(f, v);
    fputs(": ", f);
    print_type(f, v);
    fputc('\n', f);
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const IrNode *n = g->nodes[i];
    for (int j = 0; j < n->n_outputs; j++) {
      if (j) fputs(", ", f);
      print_ref(f, n->outputs[j]);
      if (n->outputs[j]) {
        fputc(':', f);
        print_type(f, n->outputs[j]);
      }
    }
    fprintf(f, " = %s(", ir_op_info[n->op].name);
    for (int k = 0; k < n->n_inputs; k++) {
      if (k) fputs(", ", f);
      print_ref(f, n->inputs[k]);
    }
    fputc(')', f);
    print_attrs(f, n);
    for (int e = 0; e < n->n_epilogue; e++) { /* fused: |> Relu |> Add(_, %skip) */
      const IrNode *x = n->epilogue[e];
      fprintf(f, " |> %s", ir_op_info[x->op].name);
      bool args = x->n_inputs > 1;
      if (args) {
        fputc('(', f);
        for (int k = 0; k < x->n_inputs; k++) {
          if (k) fputs(", ", f);
          print_ref(f, x->inputs[k]);
        }
        fputc(')', f);
      }
      print_attrs(f, x);
    }
    if (n->pool) { /* a fused MaxPool (passes/pass_qpool.c) */
      fprintf(f, " |> %s", ir_op_info[n->pool->op].name);
      print_attrs(f, n->pool);
    }
    if (n->lookup) /* a fused QLookup (passes/pass_qpool.c) */
      fprintf(f, " |> %s(%%%s)", ir_op_info[n->lookup->op].name, n->lookup->inputs[1]->name);
    fprintf(f, "  # %s", n->name);
    /* memory plan, once assigned */
    for (int j = 0; j < n->n_outputs; j++)
      if (n->outputs[j] && n->outputs[j]->ws_offset >= 0)
        fprintf(f, "  ws[%s]=%lld", n->outputs[j]->name, (long long)n->outputs[j]->ws_offset);
    fputc('\n', f);
  }
  for (int i = 0; i < g->n_outputs; i++) {
    fputs("output ", f);
    print_ref(f, g->outputs[i]);
    fputs(": ", f);
    print_type(f, g->outputs[i]);
    fputc('\n', f);
  }
  if (g->workspace_size >= 0)
    fprintf(f, "workspace %lld bytes, align %lld\n", (long long)g->workspace_size,
            (long long)g->workspace_align);
}

static int64_t mul_sat(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

/* MACs of the matrix and convolution ops: one per multiply of an input by a weight element.
 * Bias additions, element-wise ops, BatchNormalization and pooling count 0. */
int64_t ir_node_macs(const IrNode *n) {
  const IrValue *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
  if (!y) return 0;
  switch (n->op) {
  case IR_OP_GEMM:
  case IR_OP_GEMM_W8:
  case IR_OP_MATMUL: {
    /* every output element is a dot product of length K */
    const IrValue *a = n->inputs[0];
    if (!a || a->rank < 1) return 0;
    int64_t k = n->op == IR_OP_GEMM && ir_attr_i(n, "transA") ? a->dims[0] : a->dims[a->rank - 1];
    return mul_sat(ir_value_numel(y), k);
  }
  case IR_OP_CONV:
  case IR_OP_CONV_TRANSPOSE: {
    IrConvNd p; /* 1-D, 2-D and 3-D */
    if (!ir_conv_nd_params(n, &p, NULL)) return 0;
    int64_t kernel = 1, image = 1;
    for (int i = 0; i < p.spatial; i++)
      kernel = mul_sat(kernel, p.k[i]), image = mul_sat(image, p.in[i]);
    if (n->op == IR_OP_CONV) /* each output element reads c/group * kernel inputs */
      return mul_sat(mul_sat(ir_value_numel(y), p.c_per_group), kernel);
    /* each input element is scattered into m/group * kernel outputs */
    return mul_sat(mul_sat(mul_sat(mul_sat(p.n, p.c), image), p.m_per_group), kernel);
  }
  case IR_OP_QGEMM: /* int8: a dot product of length K per output element */
    return n->inputs[0] && n->inputs[0]->rank == 2
               ? mul_sat(ir_value_numel(y), n->inputs[0]->dims[1])
               : 0;
  case IR_OP_MATMUL_INTEGER: /* a dot product of length K (B's rows) per output element */
    return n->inputs[1] && n->inputs[1]->rank == 2
               ? mul_sat(ir_value_numel(y), n->inputs[1]->dims[0])
               : 0;
  case IR_OP_QLINEAR_CONV:
  case IR_OP_CONV_INTEGER:
  case IR_OP_QLINEAR_CONV_TRANSPOSE: {
    IrConvParams p;
    if (!n->inputs[0] || !n->inputs[1] || !ir_q_conv_params(n, &p, NULL)) return 0;
    if (n->op == IR_OP_QLINEAR_CONV_TRANSPOSE) /* as ConvTranspose: scattered inputs */
      return mul_sat(mul_sat(mul_sat(p.n, p.c), mul_sat(p.h, p.w)),
                     mul_sat(p.m_per_group, mul_sat(p.kh, p.kw)));
    return mul_sat(mul_sat(mul_sat(mul_sat(p.n, p.m), mul_sat(p.oh, p.ow)), p.c_per_group),
                   mul_sat(p.kh, p.kw)); /* p's output: the conv's own, also under a fused pool */
  }
  case IR_OP_RNN:
  case IR_OP_GRU:
  case IR_OP_LSTM: {
    /* per step, direction and batch row: G*H dot products of length I + H */
    IrRecurrent r;
    ir_recurrent_geometry(n, &r);
    return mul_sat(mul_sat(mul_sat(r.T, r.D), mul_sat(r.B, r.G * r.H)), r.I + r.H);
  }
  case IR_OP_ATTENTION: {
    /* per visible (query, key) pair: a dot product of length D and Dv multiply-adds into V */
    IrAttention a;
    if (!ir_attention_geometry(n, &a, NULL)) return 0;
    int64_t pairs = mul_sat(a.sq, a.skv);
    if (a.causal) { /* query i sees min(skv, max(0, i + 1 + skv - sq)) keys */
      pairs = 0;
      for (int64_t i = 0; i < a.sq; i++) {
        int64_t seen = i + 1 + a.skv - a.sq;
        pairs += seen < 0 ? 0 : seen > a.skv ? a.skv : seen;
      }
    }
    return mul_sat(mul_sat(mul_sat(a.n1, a.n2), pairs), a.d + a.dv);
  }
  default: return 0;
  }
}
