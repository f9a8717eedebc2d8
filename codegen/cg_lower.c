/* The lowering registry (one function per op, from ops.def) and the lowerings of the
 * element-wise ops, Softmax, BatchNormalization and the data-movement ops. The windowed and
 * matrix ops are in cg_nn.c. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"
#include "ir_util.h"
#include "krt.h"

/* ---- unary element-wise: one loop, one scalar emitter per op ------------------------------ */

typedef LLVMValueRef (*UnaryFn)(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x);

static LLVMValueRef relu_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  LLVMValueRef zero = cg_f32c(c, 0.0); /* x < 0 ? 0 : x keeps a NaN */
  return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOLT, x, zero, ""), zero, x, "");
}

static LLVMValueRef leaky_relu_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)in;
  LLVMValueRef ax = LLVMBuildFMul(c->b, x, cg_f32c(c, (float)ir_attr_f(n, "alpha")), "");
  LLVMValueRef neg = LLVMBuildFCmp(c->b, LLVMRealOLT, x, cg_f32c(c, 0.0), "");
  return LLVMBuildSelect(c->b, neg, ax, x, "");
}

static LLVMValueRef sigmoid_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  return cg_sigmoid(c, x);
}

static LLVMValueRef tanh_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  return cg_tanh(c, x);
}

/* A Clip bound: folded when it is an initializer, else loaded (LICM hoists the load). */
static LLVMValueRef clip_bound(Cg *c, const IrNode *n, LLVMValueRef *in, int k) {
  const IrValue *v = n->inputs[k];
  if (v->kind == IR_VALUE_CONST) return cg_f32c(c, *(const float *)v->data);
  return cg_load(c, in[k], cg_idx(c, 0));
}

static LLVMValueRef clip_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  /* ONNX: min(max(x, lo), hi), so hi wins when lo > hi */
  if (n->n_inputs > 1 && n->inputs[1]) x = cg_fmax(c, x, clip_bound(c, n, in, 1));
  if (n->n_inputs > 2 && n->inputs[2]) {
    LLVMValueRef hi = clip_bound(c, n, in, 2);
    x = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, x, hi, ""), hi, x, "");
  }
  return x;
}

static LLVMValueRef exp_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  return cg_exp(c, x);
}
static LLVMValueRef log_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  return cg_log(c, x);
}
static LLVMValueRef sqrt_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  return cg_sqrt(c, x);
}
static LLVMValueRef neg_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  return LLVMBuildFNeg(c->b, x, "");
}
static LLVMValueRef abs_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  return cg_intrinsic(c, "llvm.fabs", c->t_f32, &x, 1);
}
static LLVMValueRef erf_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  return cg_erf(c, x);
}

/* Gelu: x/2 (1 + erf(x / sqrt 2)), or with "tanh" x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
static LLVMValueRef gelu_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)in;
  LLVMValueRef t;
  if (strcmp(ir_attr_s(n, "approximate"), "tanh") == 0) {
    LLVMValueRef x3 = LLVMBuildFMul(c->b, LLVMBuildFMul(c->b, x, x, ""), x, "");
    LLVMValueRef u = LLVMBuildFAdd(c->b, x, LLVMBuildFMul(c->b, x3, cg_f32c(c, 0.044715), ""), "");
    t = cg_tanh(c, LLVMBuildFMul(c->b, u, cg_f32c(c, 0.7978845608028654 /* sqrt(2 / pi) */), ""));
  } else {
    t = cg_erf(c, LLVMBuildFMul(c->b, x, cg_f32c(c, 1 / sqrt(2.0)), ""));
  }
  LLVMValueRef hx = LLVMBuildFMul(c->b, x, cg_f32c(c, 0.5), "");
  return LLVMBuildFMul(c->b, hx, LLVMBuildFAdd(c->b, t, cg_f32c(c, 1.0), ""), "");
}

/* ---- activations and rounding of issue 13 (the interpreter's formulas, ir/interp.c) ---- */

static LLVMValueRef fmul_c(Cg *c, LLVMValueRef x, double k) {
  return LLVMBuildFMul(c->b, x, cg_f32c(c, k), "");
}
static LLVMValueRef is_neg(Cg *c, LLVMValueRef x) {
  return LLVMBuildFCmp(c->b, LLVMRealOLT, x, cg_f32c(c, 0.0), "");
}
/* min(max(v, 0), 1), NaN-propagating */
static LLVMValueRef clamp01(Cg *c, LLVMValueRef v) {
  return cg_fmin(c, cg_fmax(c, v, cg_f32c(c, 0.0)), cg_f32c(c, 1.0));
}
static LLVMValueRef elu_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)in;
  LLVMValueRef em1 = LLVMBuildFSub(c->b, cg_exp(c, x), cg_f32c(c, 1.0), "");
  return LLVMBuildSelect(c->b, is_neg(c, x), fmul_c(c, em1, (float)ir_attr_f(n, "alpha")), x, "");
}
static LLVMValueRef selu_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)in;
  double a = (float)ir_attr_f(n, "alpha"), g = (float)ir_attr_f(n, "gamma");
  LLVMValueRef neg = fmul_c(c, LLVMBuildFSub(c->b, cg_exp(c, x), cg_f32c(c, 1.0), ""), a * g);
  LLVMValueRef le0 = LLVMBuildFCmp(c->b, LLVMRealOLE, x, cg_f32c(c, 0.0), "");
  return LLVMBuildSelect(c->b, le0, neg, fmul_c(c, x, g), "");
}
/* log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)): no overflow for large x */
LLVMValueRef cg_softplus(Cg *c, LLVMValueRef x) {
  LLVMValueRef ax = cg_intrinsic(c, "llvm.fabs", c->t_f32, &x, 1);
  LLVMValueRef e = cg_exp(c, LLVMBuildFNeg(c->b, ax, ""));
  LLVMValueRef l = cg_log(c, LLVMBuildFAdd(c->b, e, cg_f32c(c, 1.0), ""));
  LLVMValueRef pos = LLVMBuildSelect(c->b, is_neg(c, x), cg_f32c(c, 0.0), x, "");
  return LLVMBuildFAdd(c->b, pos, l, "");
}
static LLVMValueRef softplus_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  return cg_softplus(c, x);
}
static LLVMValueRef softsign_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  LLVMValueRef ax = cg_intrinsic(c, "llvm.fabs", c->t_f32, &x, 1);
  return LLVMBuildFDiv(c->b, x, LLVMBuildFAdd(c->b, ax, cg_f32c(c, 1.0), ""), "");
}
static LLVMValueRef hard_sigmoid_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)in;
  LLVMValueRef v = cg_fmuladd(c, x, cg_f32c(c, (float)ir_attr_f(n, "alpha")),
                              cg_f32c(c, (float)ir_attr_f(n, "beta")));
  return clamp01(c, v);
}
static LLVMValueRef hard_swish_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  LLVMValueRef v = cg_fmuladd(c, x, cg_f32c(c, 1.0 / 6.0), cg_f32c(c, 0.5));
  return LLVMBuildFMul(c->b, x, clamp01(c, v), "");
}
static LLVMValueRef mish_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  return LLVMBuildFMul(c->b, x, cg_tanh(c, cg_softplus(c, x)), "");
}
static LLVMValueRef reciprocal_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  return LLVMBuildFDiv(c->b, cg_f32c(c, 1.0), x, "");
}
static LLVMValueRef floor_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  return cg_floor(c, x);
}
static LLVMValueRef ceil_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  return cg_ceil(c, x);
}
static LLVMValueRef round_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in;
  return cg_rint(c, x);
}
static LLVMValueRef sign_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  (void)n, (void)in; /* 0 and NaN unchanged */
  LLVMValueRef pos = LLVMBuildFCmp(c->b, LLVMRealOGT, x, cg_f32c(c, 0.0), "");
  LLVMValueRef r = LLVMBuildSelect(c->b, is_neg(c, x), cg_f32c(c, -1.0), x, "");
  return LLVMBuildSelect(c->b, pos, cg_f32c(c, 1.0), r, "");
}

static const UnaryFn unary_fns[IR_OP_COUNT] = {[IR_OP_ELU] = elu_scalar,
                                               [IR_OP_SELU] = selu_scalar,
                                               [IR_OP_SOFTPLUS] = softplus_scalar,
                                               [IR_OP_SOFTSIGN] = softsign_scalar,
                                               [IR_OP_HARD_SIGMOID] = hard_sigmoid_scalar,
                                               [IR_OP_HARD_SWISH] = hard_swish_scalar,
                                               [IR_OP_MISH] = mish_scalar,
                                               [IR_OP_RECIPROCAL] = reciprocal_scalar,
                                               [IR_OP_FLOOR] = floor_scalar,
                                               [IR_OP_CEIL] = ceil_scalar,
                                               [IR_OP_ROUND] = round_scalar,
                                               [IR_OP_SIGN] = sign_scalar,
                                               [IR_OP_EXP] = exp_scalar,
                                               [IR_OP_LOG] = log_scalar,
                                               [IR_OP_SQRT] = sqrt_scalar,
                                               [IR_OP_NEG] = neg_scalar,
                                               [IR_OP_ABS] = abs_scalar,
                                               [IR_OP_ERF] = erf_scalar,
                                               [IR_OP_RELU] = relu_scalar,
                                               [IR_OP_LEAKY_RELU] = leaky_relu_scalar,
                                               [IR_OP_SIGMOID] = sigmoid_scalar,
                                               [IR_OP_TANH] = tanh_scalar,
                                               [IR_OP_CLIP] = clip_scalar,
                                               [IR_OP_GELU] = gelu_scalar};

LLVMValueRef cg_unary_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x) {
  assert(unary_fns[n->op]);
  return unary_fns[n->op](c, n, in, x);
}

/* ---- fused epilogues ------------------------------------------------------------------- */

/* The argument of n holding v, one of its epilogue operands. */
static LLVMValueRef epilogue_operand(const IrNode *n, LLVMValueRef *in, const IrValue *v) {
  for (int j = ir_node_op_inputs(n); j < n->n_inputs; j++)
    if (n->inputs[j] == v) return in[j];
  assert(!"epilogue operand is not an input of the head");
  return NULL;
}

static LLVMOpcode binary_opcode(IrOp op) {
  switch (op) {
  case IR_OP_ADD: return LLVMFAdd;
  case IR_OP_SUB: return LLVMFSub;
  case IR_OP_MUL: return LLVMFMul;
  default: assert(op == IR_OP_DIV); return LLVMFDiv;
  }
}

LLVMValueRef cg_epilogue(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef v,
                         LLVMValueRef index) {
  for (int s = 0; s < n->n_epilogue; s++) {
    const IrNode *e = n->epilogue[s];
    LLVMValueRef args[IR_MAX_STEP_INPUTS] = {0};
    assert(e->n_inputs <= IR_MAX_STEP_INPUTS); /* the verifier checked the step's arity */
    for (int k = 0; k < e->n_inputs; k++)
      if (e->inputs[k]) args[k] = epilogue_operand(n, in, e->inputs[k]);
    if (ir_op_info[e->op].flags & IR_OPF_UNARY) {
      v = cg_unary_scalar(c, e, args, v);
      continue;
    }
    LLVMValueRef xy[2];
    for (int k = 0; k < 2; k++) {
      const IrValue *w = e->inputs[k];
      if (!w)
        xy[k] = v;
      else if (w->kind == IR_VALUE_CONST && ir_value_numel(w) == 1)
        xy[k] = cg_f32c(c, *(const float *)w->data);
      else
        xy[k] = cg_load(c, args[k], ir_value_numel(w) == 1 ? cg_idx(c, 0) : index);
    }
    v = LLVMBuildBinOp(c->b, binary_opcode(e->op), xy[0], xy[1], "");
  }
  return v;
}

void cg_epilogue_row(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef row, LLVMValueRef base,
                     int64_t len) {
  if (!n->n_epilogue) return;
  CgLoop l;
  LLVMValueRef i = cg_for(c, &l, len);
  cg_store(c, cg_epilogue(c, n, in, cg_load(c, row, i), cg_add(c, base, i)), row, i);
  cg_loop_end(c, &l, NULL, NULL);
}

static bool lower_unary(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  /* shape inference: f32 data, scalar f32 bounds (Clip) */
  assert(cg_all_f32(n));
  for (int k = 1; k < ir_node_op_inputs(n); k++)
    assert(!n->inputs[k] || ir_value_numel(n->inputs[k]) == 1);
  CgLoop l;
  LLVMValueRef i = cg_for(c, &l, ir_value_numel(n->outputs[0]));
  cg_store(c, cg_epilogue(c, n, in, cg_unary_scalar(c, n, in, cg_load(c, in[0], i)), i), out[0], i);
  cg_loop_end(c, &l, NULL, NULL);
  return true;
}

bool cg_lower_relu(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_leaky_relu(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_sigmoid(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_tanh(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_clip(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_exp(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_log(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_sqrt(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_neg(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_abs(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_erf(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_gelu(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_elu(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_selu(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_softplus(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_softsign(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_hard_sigmoid(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_hard_swish(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_mish(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_reciprocal(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_floor(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_ceil(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_round(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}
bool cg_lower_sign(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_unary(c, n, in, out);
}

/* ---- binary element-wise with multidirectional broadcasting ------------------------------- */

/* i32 / i64 as the interpreter: wrapping Add, Sub, Mul; Div truncating, x / -1 as 0 - x (no
 * overflow trap for INT_MIN / -1), a zero divisor returning KRT_ERR_DIV_ZERO. */
static bool lower_binary_int(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrDType t = n->outputs[0]->dtype;
  int64_t dims[IR_MAX_RANK], st[3][IR_MAX_RANK];
  int rank = cg_broadcast_nest(n, 2, dims, st);
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, 3, (const int64_t(*)[IR_MAX_RANK])st);
  LLVMValueRef x = cg_load_elem(c, t, in[0], nest.off[1]);
  LLVMValueRef y = cg_load_elem(c, t, in[1], nest.off[2]), r;
  LLVMTypeRef et = cg_elem_type(c, t);
  if (n->op == IR_OP_DIV) {
    cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntEQ, y, LLVMConstInt(et, 0, 0), ""),
                 cg_i32c(c, KRT_ERR_DIV_ZERO));
    LLVMValueRef minus1 = LLVMBuildICmp(c->b, LLVMIntEQ, y, LLVMConstAllOnes(et), "");
    LLVMValueRef q =
        LLVMBuildSDiv(c->b, x, LLVMBuildSelect(c->b, minus1, LLVMConstInt(et, 1, 0), y, ""), "");
    r = LLVMBuildSelect(c->b, minus1, LLVMBuildSub(c->b, LLVMConstInt(et, 0, 0), x, ""), q, "");
  } else {
    r = LLVMBuildBinOp(c->b,
                       n->op == IR_OP_ADD   ? LLVMAdd
                       : n->op == IR_OP_SUB ? LLVMSub
                                            : LLVMMul,
                       x, y, "");
  }
  cg_store_elem(c, t, r, out[0], nest.off[0]);
  cg_nest_end(c, &nest);
  return true;
}

static bool lower_binary(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out,
                         LLVMOpcode opcode) {
  if (n->outputs[0]->dtype != IR_F32) return lower_binary_int(c, n, in, out);
  assert(cg_all_f32(n)); /* shape inference */
  const IrValue *o = n->outputs[0];
  int rank = o->rank;
  int64_t dims[IR_MAX_RANK], strides[3][IR_MAX_RANK];
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; d--) {
    dims[d] = o->dims[d];
    strides[0][d] = s;
    s *= o->dims[d];
  }
  for (int k = 0; k < 2; k++)
    ir_broadcast_strides(n->inputs[k]->rank, n->inputs[k]->dims, rank, o->dims, strides[k + 1]);
  /* Shapes are static: the nest collapses to the fewest loops, e.g. one contiguous loop for
   * equal shapes and two loops (rows x contiguous) for a bias row. */
  cg_nest_simplify(&rank, dims, 3, strides);
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, 3, (const int64_t(*)[IR_MAX_RANK])strides);
  LLVMValueRef x = cg_load(c, in[0], nest.off[1]), y = cg_load(c, in[1], nest.off[2]);
  cg_store(c, cg_epilogue(c, n, in, LLVMBuildBinOp(c->b, opcode, x, y, ""), nest.off[0]), out[0],
           nest.off[0]);
  cg_nest_end(c, &nest);
  return true;
}

bool cg_lower_add(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_binary(c, n, in, out, LLVMFAdd);
}
bool cg_lower_sub(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_binary(c, n, in, out, LLVMFSub);
}
bool cg_lower_mul(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_binary(c, n, in, out, LLVMFMul);
}
bool cg_lower_div(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_binary(c, n, in, out, LLVMFDiv);
}

/* ---- Softmax ------------------------------------------------------------------------------ */

/* An axis attribute shape inference has checked to lie in [-rank, rank). */
static int normalize_axis(int64_t axis, int rank) {
  assert(axis >= -rank && axis < rank);
  return (int)(axis < 0 ? axis + rank : axis);
}

/* max of x[base + k*inner] for k < len, NaN-propagating. Eight independent running maxima over
 * consecutive elements: plain scalar IR that the SLP vectorizer turns into one vector max where
 * the target has vectors (a max reduction with a NaN test is not something the loop vectorizer
 * accepts, and llvm.maximum cannot be lowered for soft-float cores). */
LLVMValueRef cg_slice_max(Cg *c, LLVMValueRef x, LLVMValueRef base, int64_t len,
                          LLVMValueRef dyn_len, int64_t inner) {
  enum { LANES = 8 };
  LLVMValueRef m = cg_load(c, x, base);
  LLVMValueRef end = dyn_len ? dyn_len : cg_idx(c, len);
  LLVMValueRef blocks = cg_idx(c, 0);
  if (inner == 1 && (dyn_len || len >= LANES)) {
    blocks = dyn_len ? LLVMBuildUDiv(c->b, dyn_len, cg_idx(c, LANES), "") : cg_idx(c, len / LANES);
    CgLoop l;
    LLVMValueRef kb = cg_loop_begin(c, &l, cg_idx(c, 0), blocks), acc[LANES], next[LANES],
                 out[LANES];
    /* a short row (32: 4 blocks) unrolled by -O3 became strided gathers once SLP-packed */
    l.no_unroll = true;
    for (int u = 0; u < LANES; u++) acc[u] = cg_loop_acc(c, &l, m);
    LLVMValueRef at = cg_add(c, base, cg_mulc(c, kb, LANES));
    for (int u = 0; u < LANES; u++) next[u] = cg_fmax(c, cg_load(c, x, cg_addc(c, at, u)), acc[u]);
    cg_loop_end(c, &l, next, out);
    for (int w = LANES / 2; w > 0; w /= 2)
      for (int u = 0; u < w; u++) out[u] = cg_fmax(c, out[u], out[u + w]);
    m = out[0];
  }
  CgLoop l;
  LLVMValueRef k = cg_loop_begin(c, &l, cg_mulc(c, blocks, LANES), end);
  LLVMValueRef acc = cg_loop_acc(c, &l, m);
  LLVMValueRef next = cg_fmax(c, cg_load(c, x, cg_add(c, base, cg_mulc(c, k, inner))), acc), mx;
  cg_loop_end(c, &l, &next, &mx);
  return mx;
}

/* Per (outer, inner) slice of length L with stride `inner`: max, exp(x - max) with the sum,
 * then a division. inner == 1 (the usual last axis) makes every loop contiguous. */
static bool lower_softmax(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out,
                          bool log_out) {
  assert(cg_all_f32(n) && n->inputs[0]->rank >= 1); /* shape inference */
  const IrValue *x = n->inputs[0];
  int axis = normalize_axis(ir_attr_i(n, "axis"), x->rank);
  int64_t outer = 1, len = x->rank ? x->dims[axis] : 1, inner = 1;
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];

  /* along the run-time axis: the slice stops at the length (only 1s before it: outer is 1) */
  LLVMValueRef dyn_len = cg_dyn_extent(c, x, axis);
  LLVMValueRef end = dyn_len ? dyn_len : cg_idx(c, len);
  CgLoop lo, li, l2, l3;
  LLVMValueRef o = cg_for(c, &lo, outer);
  LLVMValueRef i = cg_for(c, &li, inner);
  LLVMValueRef base = cg_add(c, cg_mulc(c, o, len * inner), i);
  LLVMValueRef mx = cg_slice_max(c, in[0], base, len, dyn_len, inner);
  LLVMValueRef k = cg_loop_begin(c, &l2, cg_idx(c, 0), end);
  LLVMValueRef s = cg_loop_acc(c, &l2, cg_f32c(c, 0.0));
  LLVMValueRef at = cg_add(c, base, cg_mulc(c, k, inner));
  LLVMValueRef e = cg_exp(c, LLVMBuildFSub(c->b, cg_load(c, in[0], at), mx, ""));
  if (!log_out) cg_store(c, e, out[0], at);
  LLVMValueRef s_next = cg_fadd_reassoc(c, s, e), sum;
  cg_loop_end(c, &l2, &s_next, &sum);

  LLVMValueRef lsum = log_out ? LLVMBuildFAdd(c->b, mx, cg_log(c, sum), "") : NULL;
  k = cg_loop_begin(c, &l3, cg_idx(c, 0), end);
  at = cg_add(c, base, cg_mulc(c, k, inner));
  if (log_out) /* x - (max + log(sum)) */
    cg_store(c, LLVMBuildFSub(c->b, cg_load(c, in[0], at), lsum, ""), out[0], at);
  else
    cg_store(c, LLVMBuildFDiv(c->b, cg_load(c, out[0], at), sum, ""), out[0], at);
  cg_loop_end(c, &l3, NULL, NULL);
  cg_loop_end(c, &li, NULL, NULL);
  cg_loop_end(c, &lo, NULL, NULL);
  return true;
}

bool cg_lower_softmax(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_softmax(c, n, in, out, false);
}
bool cg_lower_log_softmax(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_softmax(c, n, in, out, true);
}

/* ---- data movement ------------------------------------------------------------------------ */

/* The output has the input's bytes: a copy unless the memory plan put both in one place. */
static void copy_through(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  if (out[0] && !cg_same_storage(c, n->inputs[0], n->outputs[0]))
    cg_memcpy(c, out[0], in[0], cg_idx(c, ir_value_nbytes(n->outputs[0])));
}

bool cg_lower_flatten(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  copy_through(c, n, in, out);
  return true;
}
bool cg_lower_reshape(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  copy_through(c, n, in, out);
  return true;
}
bool cg_lower_identity(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  copy_through(c, n, in, out);
  return true;
}
bool cg_lower_squeeze(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  copy_through(c, n, in, out);
  return true;
}
bool cg_lower_unsqueeze(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  copy_through(c, n, in, out);
  return true;
}

/* Inference Dropout: the identity, and a mask of all true. */
bool cg_lower_dropout(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  /* shape inference: training_mode, if given, is a constant false scalar */
  const IrValue *tm = n->n_inputs > 2 ? n->inputs[2] : NULL;
  assert(!tm || (tm->kind == IR_VALUE_CONST && *(const uint8_t *)tm->data == 0));
  (void)tm;
  copy_through(c, n, in, out);
  if (n->n_outputs > 1 && out[1]) cg_memset(c, out[1], 1, ir_value_nbytes(n->outputs[1]));
  return true;
}

/* Each input is a run of `outer` blocks; block o of input k goes to block o of the output at
 * the input's running offset along the axis. One loop over the blocks holds every input's copy
 * (a loop per input: with a thousand inputs, LLVM's loop passes are quadratic in the chain). */
bool cg_lower_concat(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *o = n->outputs[0];
  assert(o->rank >= 1); /* shape inference: no scalars, every input f32 like the output */
  int axis = normalize_axis(ir_attr_i(n, "axis"), o->rank);
  int64_t outer = 1, inner = (int64_t)ir_dtype_size(o->dtype);
  for (int d = 0; d < axis; d++) outer *= o->dims[d];
  for (int d = axis + 1; d < o->rank; d++) inner *= o->dims[d];
  int64_t at = 0, out_block = o->dims[axis] * inner;
  CgLoop l;
  LLVMValueRef i = outer > 1 ? cg_for(c, &l, outer) : cg_idx(c, 0);
  for (int k = 0; k < n->n_inputs; k++) {
    const IrValue *x = n->inputs[k];
    if (!x) continue;
    assert(x->dtype == o->dtype);
    int64_t block = x->dims[axis] * inner;
    LLVMValueRef dst = cg_gep(c, c->t_i8, out[0], cg_addc(c, cg_mulc(c, i, out_block), at));
    cg_memcpy(c, dst, cg_gep(c, c->t_i8, in[k], cg_mulc(c, i, block)), cg_idx(c, block));
    at += block;
  }
  if (outer > 1) cg_loop_end(c, &l, NULL, NULL);
  return true;
}

/* ---- BatchNormalization (inference) --------------------------------------------------------- */

/* y = x * a[c] + b[c] with a = scale / sqrt(var + eps), b = B - mean * a: folded at compile time
 * (in double) when the four parameters are initializers, computed per channel otherwise. */
bool cg_lower_batch_norm(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  /* shape inference: f32, inference mode, rank >= 2, four parameters of [C] */
  assert(cg_all_f32(n) && ir_attr_i(n, "training_mode") == 0);
  const IrValue *x = n->inputs[0];
  assert(x->rank >= 2);
  int64_t batch = x->dims[0], ch = x->dims[1], spatial = 1;
  for (int d = 2; d < x->rank; d++) spatial *= x->dims[d];
  for (int k = 1; k < 5; k++) assert(ir_value_numel(n->inputs[k]) == ch);
  double eps = (float)ir_attr_f(n, "epsilon"); /* an ONNX float attribute */
  bool folded = true;
  for (int k = 1; k < 5; k++) folded &= n->inputs[k]->kind == IR_VALUE_CONST;
  LLVMValueRef ga = NULL, gb = NULL;
  if (folded) {
    const float *scale = n->inputs[1]->data, *bias = n->inputs[2]->data, *mean = n->inputs[3]->data,
                *var = n->inputs[4]->data;
    float *ab = malloc(sizeof(float) * 2 * (size_t)ch);
    if (!ab) abort();
    for (int64_t i = 0; i < ch; i++) {
      double a = scale[i] / sqrt((double)var[i] + eps);
      ab[i] = (float)a;
      ab[ch + i] = (float)(bias[i] - mean[i] * a);
    }
    char name[300];
    snprintf(name, sizeof name, "%s.bn.%d", c->prefix, c->n_derived++);
    ga = cg_const_bytes(c, ab, sizeof(float) * 2 * (size_t)ch, name);
    gb = cg_gep(c, c->t_f32, ga, cg_idx(c, ch));
    free(ab);
  }
  CgLoop ln, lc, ls;
  LLVMValueRef ni = cg_for(c, &ln, batch);
  LLVMValueRef ci = cg_for(c, &lc, ch);
  LLVMValueRef a, b;
  if (folded) {
    a = cg_load(c, ga, ci);
    b = cg_load(c, gb, ci);
  } else {
    LLVMValueRef var = LLVMBuildFAdd(c->b, cg_load(c, in[4], ci), cg_f32c(c, eps), "");
    LLVMValueRef sd = cg_sqrt(c, var);
    a = LLVMBuildFDiv(c->b, cg_load(c, in[1], ci), sd, "");
    b = LLVMBuildFSub(c->b, cg_load(c, in[2], ci),
                      LLVMBuildFMul(c->b, cg_load(c, in[3], ci), a, ""), "");
  }
  LLVMValueRef base = cg_mulc(c, cg_add(c, cg_mulc(c, ni, ch), ci), spatial);
  LLVMValueRef si = cg_for(c, &ls, spatial);
  LLVMValueRef at = cg_add(c, base, si);
  cg_store(c, cg_fmuladd(c, cg_load(c, in[0], at), a, b), out[0], at);
  cg_loop_end(c, &ls, NULL, NULL);
  cg_loop_end(c, &lc, NULL, NULL);
  cg_loop_end(c, &ln, NULL, NULL);
  return true;
}

/* ---- the registry ------------------------------------------------------------------------- */

const CgLowerFn cg_lower[] = {
#define OP(id, name, min_in, max_in, min_out, max_out, flags, stem) [IR_OP_##id] = cg_lower_##stem,
#include "ops.def"
#undef OP
};
static_assert(sizeof cg_lower / sizeof *cg_lower == IR_OP_COUNT, "one lowering per op");

/* ---- Pad ---------------------------------------------------------------------------------- */

/* One loop per output axis; each axis maps its output coordinate to an input one (constant:
 * out-of-range cells take the value, the load address is clamped; edge: clamp; reflect: mirror
 * without repeating the edge; wrap: modulo the size, made non-negative by adding a multiple of
 * it at least as large as the front pad). */
bool cg_lower_pad(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *x = n->inputs[0], *y = n->outputs[0], *cv = n->n_inputs > 2 ? n->inputs[2] : NULL;
  IrDType t = y->dtype; /* the data's (shape inference); pads are i64 */
  const int64_t *pads = n->inputs[1]->data;
  const char *mode = ir_attr_s(n, "mode");
  bool reflect = !strcmp(mode, "reflect"), edge = !strcmp(mode, "edge"),
       wrap = !strcmp(mode, "wrap");
  int rank = y->rank;
  static const char zero[8];
  LLVMValueRef value = cg_const_elem(c, t, cv ? cv->data : zero);
  CgLoop loops[IR_MAX_RANK];
  LLVMValueRef o[IR_MAX_RANK];
  for (int a = 0; a < rank; a++) o[a] = cg_for(c, &loops[a], y->dims[a]);
  LLVMValueRef src = cg_idx(c, 0), dst = cg_idx(c, 0), inside = NULL;
  int64_t xs = 1, ys = 1;
  for (int a = rank - 1; a >= 0; a--) {
    int64_t len = x->dims[a];
    LLVMValueRef i = cg_addc(c, o[a], -pads[a]);
    if (wrap) {
      i = LLVMBuildURem(c->b, cg_addc(c, i, (pads[a] + len - 1) / len * len), cg_idx(c, len), "");
    } else if (reflect) {
      LLVMValueRef neg = LLVMBuildICmp(c->b, LLVMIntSLT, i, cg_idx(c, 0), "");
      i = LLVMBuildSelect(c->b, neg, cg_sub(c, cg_idx(c, 0), i), i, "");
      LLVMValueRef over = LLVMBuildICmp(c->b, LLVMIntSGE, i, cg_idx(c, len), "");
      i = LLVMBuildSelect(c->b, over, cg_sub(c, cg_idx(c, 2 * (len - 1)), i), i, "");
    } else {
      if (!edge) {
        LLVMValueRef ok = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, i, cg_idx(c, 0), ""),
                                       LLVMBuildICmp(c->b, LLVMIntSLT, i, cg_idx(c, len), ""), "");
        inside = inside ? LLVMBuildAnd(c->b, inside, ok, "") : ok;
      }
      i = cg_smax(c, cg_idx(c, 0), cg_smin(c, i, cg_idx(c, len - 1)));
    }
    src = cg_add(c, src, cg_mulc(c, i, xs));
    dst = cg_add(c, dst, cg_mulc(c, o[a], ys));
    xs *= len;
    ys *= y->dims[a];
  }
  LLVMValueRef v = cg_load_elem(c, t, in[0], src);
  if (inside) v = LLVMBuildSelect(c->b, inside, v, value, "");
  cg_store_elem(c, t, v, out[0], dst);
  for (int a = rank - 1; a >= 0; a--) cg_loop_end(c, &loops[a], NULL, NULL);
  return true;
}
