/* BatchNormalization folded into the preceding Conv / ConvTranspose / Gemm / 2-D MatMul by a
 * constant (rewritten as a Gemm) (inference only):
 * y = (conv(x, W) + b - mean) * s + B with s = scale / sqrt(var + eps) per output channel, so
 * W'[oc] = W[oc] * s[oc] and b' = (b - mean) * s + B. The head must be the only reader of its
 * output, weights and BN parameters f32 initializers. Arithmetic in double, like the
 * interpreter's BatchNormalization. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pass.h"

static bool f32_const(const IrValue *v) {
  return v && v->kind == IR_VALUE_CONST && v->dtype == IR_F32 && !v->quant;
}

/* Output channel of every weight element for the head, written to oc[numel(W)]; false if the
 * head's layout is not one this pass folds. */
static bool weight_channels(const IrNode *h, int64_t channels, int64_t *oc) {
  const IrValue *w = h->inputs[1];
  int64_t numel = ir_value_numel(w);
  if (h->op == IR_OP_CONV) { /* W [M, C/group, k...] */
    if (w->dims[0] != channels) return false;
    int64_t per = numel / channels;
    for (int64_t i = 0; i < numel; i++) oc[i] = i / per;
    return true;
  }
  if (h->op == IR_OP_CONV_TRANSPOSE) { /* W [C, M/group, k...] */
    int64_t group = ir_attr_i(h, "group");
    int64_t cin = w->dims[0], mg = w->dims[1];
    if (group < 1 || cin % group || mg * group != channels) return false;
    int64_t inner = numel / (cin * mg);
    for (int64_t i = 0; i < numel; i++) {
      int64_t c = i / (mg * inner), j = i / inner % mg;
      oc[i] = c / (cin / group) * mg + j;
    }
    return true;
  }
  if (h->op == IR_OP_GEMM) { /* B [K, N] or [N, K] (transB) */
    if (w->rank != 2) return false;
    bool tb = ir_attr_i(h, "transB") != 0;
    int64_t rows = w->dims[0], cols = w->dims[1];
    if ((tb ? rows : cols) != channels) return false;
    for (int64_t i = 0; i < numel; i++) oc[i] = tb ? i / cols : i % cols;
    return true;
  }
  return false;
}

/* The head's bias per output channel into b[channels] (0 where absent); false if its shape is
 * not per-channel. */
static bool head_bias(const IrNode *h, int64_t channels, double *b) {
  const IrValue *c = h->n_inputs > 2 ? h->inputs[2] : NULL;
  for (int64_t i = 0; i < channels; i++) b[i] = 0;
  if (!c) return true;
  if (!f32_const(c)) return false;
  const float *p = c->data;
  int64_t n = ir_value_numel(c);
  double scale = h->op == IR_OP_GEMM ? ir_attr_f(h, "beta") : 1.0;
  if (h->op == IR_OP_GEMM && c->rank == 2 && c->dims[0] != 1) return false; /* [M, N] */
  if (n == 1)
    for (int64_t i = 0; i < channels; i++) b[i] = p[0] * scale;
  else if (n == channels)
    for (int64_t i = 0; i < channels; i++) b[i] = p[i] * scale;
  else
    return false;
  return true;
}

/* A 2-D MatMul by a constant matrix is a Gemm without bias: rewritten in place so the fold can
 * give it one. */
static void matmul_as_gemm(IrGraph *g, IrNode *h) {
  h->op = IR_OP_GEMM;
  int na = ir_op_attr_count(IR_OP_GEMM);
  h->attrs = ir_arena_alloc(g->arena, sizeof(IrAttr) * (size_t)na);
  for (int k = 0; k < na; k++) {
    h->attrs[k].i = ir_op_info[IR_OP_GEMM].attrs[k].def_i;
    h->attrs[k].f = ir_op_info[IR_OP_GEMM].attrs[k].def_f;
  }
}

static bool fold_one(IrGraph *g, IrNode *h, IrNode *bn) {
  IrValue *hy = h->outputs[0], *w = h->inputs[1];
  if (h->n_epilogue || hy->is_output || ir_value_use_count(g, hy) != 1 || !f32_const(w) ||
      hy->rank < 2)
    return false;
  for (int k = 1; k < 5; k++)
    if (!f32_const(bn->inputs[k])) return false;
  int64_t channels = hy->dims[1], numel = ir_value_numel(w);
  if (h->op == IR_OP_GEMM && hy->rank != 2) return false;
  int64_t *oc = malloc(sizeof *oc * (size_t)(numel + 1));
  double *s = malloc(sizeof *s * (size_t)(channels + 1)),
         *b = malloc(sizeof *b * (size_t)(channels + 1));
  float *nw = malloc(sizeof *nw * (size_t)(numel + 1)),
        *nb = malloc(sizeof *nb * (size_t)(channels + 1));
  if (!oc || !s || !b || !nw || !nb) abort();
  bool ok = weight_channels(h, channels, oc) && head_bias(h, channels, b);
  if (ok) {
    const float *scale = bn->inputs[1]->data, *bias = bn->inputs[2]->data,
                *mean = bn->inputs[3]->data, *var = bn->inputs[4]->data;
    double eps = (float)ir_attr_f(bn, "epsilon");
    for (int64_t c = 0; c < channels; c++) {
      s[c] = scale[c] / sqrt((double)var[c] + eps);
      nb[c] = (float)((b[c] - mean[c]) * s[c] + bias[c]);
    }
    const float *wp = w->data;
    for (int64_t i = 0; i < numel; i++) nw[i] = (float)(wp[i] * s[oc[i]]);
    char base[300];
    snprintf(base, sizeof base, "%s.W", h->name);
    IrValue *w2 = pass_new_const(g, base, IR_F32, w->rank, w->dims, nw);
    snprintf(base, sizeof base, "%s.bias", h->name);
    IrValue *b2 = pass_new_const(g, base, IR_F32, 1, &channels, nb);
    if (h->n_inputs < 3) { /* grow the input list to hold a bias */
      IrValue **ins = ir_arena_alloc(g->arena, sizeof *ins * 3);
      memcpy(ins, h->inputs, sizeof *ins * (size_t)h->n_inputs);
      h->inputs = ins;
      h->n_inputs = 3;
    }
    h->inputs[1] = w2;
    h->inputs[2] = b2;
    if (h->op == IR_OP_GEMM) ir_set_attr_f(g, h, "beta", 1.0);
    ir_node_set_output(h, 0, bn->outputs[0]);
  }
  free(oc);
  free(s);
  free(b);
  free(nw);
  free(nb);
  return ok;
}

bool pass_fold_batchnorm(IrGraph *g, const PassOptions *o, IrDiag *d) {
  (void)o;
  (void)d;
  bool *dead = pass_dead_flags(g);
  bool changed = false;
  for (int i = 0; i < g->n_nodes; i++) {
    IrNode *bn = g->nodes[i];
    IrValue *x = bn->inputs[0];
    if (bn->op != IR_OP_BATCH_NORM || !x || x->kind != IR_VALUE_NODE || !x->producer) continue;
    IrNode *h = x->producer;
    if (!(ir_op_info[h->op].flags & IR_OPF_FUSABLE_HEAD)) continue;
    bool consts = h->n_inputs > 1 && f32_const(h->inputs[1]);
    for (int k = 1; k < 5; k++) consts &= f32_const(bn->inputs[k]);
    if (h->op == IR_OP_MATMUL && consts && !x->is_output && ir_value_use_count(g, x) == 1 &&
        h->inputs[0]->rank == 2 && h->inputs[1]->rank == 2 && !h->n_epilogue)
      matmul_as_gemm(g, h);
    if (fold_one(g, h, bn)) dead[i] = changed = true;
  }
  return pass_drop_dead(g, dead, changed);
}
