/* QuantizeLinear / DequantizeLinear in ONNX's general forms (ir/quant.c): per axis, u8, and
 * DequantizeLinear of i32 (a QDQ model's bias). cg_quant.c lowers the common per-tensor i8 form
 * and hands the others here. The arithmetic is the interpreter's (ir/quant.h): x / scale in f32,
 * the clamp to [-256, 256], round half to even by adding and subtracting 1.5 * 2^23, the zero
 * point, saturation; dequantization (float)(q - zp) * scale. The loop nest is
 * [outer][channel][inner] with the channel's scale and zero point loaded from constant tables. */
#include <stdlib.h>

#include "cg_internal.h"
#include "cg_quant.h"
#include "kernels/cg_gemm_i8.h"
#include "quant.h"

/* Constant tables of the channels' scales (f32) and zero points (i32). */
static void qdq_tables(Cg *c, const IrNode *n, const IrQdq *q, LLVMValueRef *scales,
                       LLVMValueRef *zps) {
  int32_t *z = malloc(sizeof *z * (size_t)q->channels);
  if (!z) abort();
  for (int64_t k = 0; k < q->channels; k++) z[k] = ir_qdq_zp(q, k);
  char name[64];
  snprintf(name, sizeof name, "qdq%d.scales", n->id);
  *scales = cg_const_bytes(c, q->scale, sizeof(float) * (size_t)q->channels, name);
  snprintf(name, sizeof name, "qdq%d.zps", n->id);
  *zps = cg_const_bytes(c, z, sizeof *z * (size_t)q->channels, name);
  free(z);
}

/* saturate(round_half_even(x / s) + zp) to [lo, hi] as i32, ir_quantize_f32's arithmetic: the
 * quotient clamped to [-256, 256] (NaN to -256) before the rounding. */
static LLVMValueRef quantize_elem(Cg *c, LLVMValueRef x, LLVMValueRef s, LLVMValueRef zp,
                                  int64_t lo, int64_t hi) {
  LLVMValueRef v = LLVMBuildFDiv(c->b, x, s, "");
  LLVMValueRef l = cg_f32c(c, -256.0), h = cg_f32c(c, 256.0), big = cg_f32c(c, 12582912.0);
  v = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, l, ""), v, l, "");
  v = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, h, ""), h, v, "");
  v = LLVMBuildFSub(c->b, LLVMBuildFAdd(c->b, v, big, ""), big, "");
  LLVMValueRef r = LLVMBuildAdd(c->b, LLVMBuildFPToSI(c->b, v, c->t_i32, ""), zp, "");
  LLVMValueRef cl = cg_i32c(c, lo), ch = cg_i32c(c, hi);
  r = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, r, cl, ""), cl, r, "");
  return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, r, ch, ""), ch, r, "");
}

bool cg_lower_qdq_general(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrQdq q;
  ir_qdq(n, &q);
  LLVMValueRef scales, zps;
  qdq_tables(c, n, &q, &scales, &zps);
  bool quantize = n->op == IR_OP_QUANTIZE_LINEAR;
  int64_t lo = q.q_dtype == IR_U8 ? 0 : -128, hi = q.q_dtype == IR_U8 ? 255 : 127;
  CgLoop lo_, lc, li;
  LLVMValueRef o = cg_for(c, &lo_, q.numel / (q.channels * q.inner));
  LLVMValueRef ch = cg_for(c, &lc, q.channels);
  LLVMValueRef s = cg_load(c, scales, ch);
  LLVMValueRef zp = LLVMBuildLoad2(c->b, c->t_i32, cg_gep(c, c->t_i32, zps, ch), "");
  LLVMValueRef j = cg_for(c, &li, q.inner);
  LLVMValueRef i = cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, o, q.channels), ch), q.inner), j);
  if (quantize) {
    LLVMValueRef r = quantize_elem(c, cg_load(c, in[0], i), s, zp, lo, hi);
    cg_store_elem(c, q.q_dtype, LLVMBuildTrunc(c->b, r, c->t_i8, ""), out[0], i);
  } else {
    LLVMValueRef v = cg_load_elem(c, q.q_dtype, in[0], i);
    v = q.q_dtype == IR_U8   ? LLVMBuildZExt(c->b, v, c->t_i32, "")
        : q.q_dtype == IR_I8 ? LLVMBuildSExt(c->b, v, c->t_i32, "")
                             : v;
    v = LLVMBuildSIToFP(c->b, LLVMBuildSub(c->b, v, zp, ""), c->t_f32, "");
    cg_store(c, LLVMBuildFMul(c->b, v, s, ""), out[0], i);
  }
  cg_loop_end(c, &li, NULL, NULL);
  cg_loop_end(c, &lc, NULL, NULL);
  cg_loop_end(c, &lo_, NULL, NULL);
  return true;
}

/* DynamicQuantizeLinear: one pass for the range (starting at 0; NaN never wins a comparison),
 * the scale and zero point as ir_dynamic_scale / ir_quantize_u8, one pass to quantize. */
/* x joins the range [acc[0], acc[1]] (scalars or vectors): the interpreter's comparisons, so
 * NaN never enters and -0 never replaces the starting +0. */
static void widen_range(Cg *c, LLVMValueRef x, const LLVMValueRef *acc, LLVMValueRef *next) {
  next[0] = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOLT, x, acc[0], ""), x, acc[0], "");
  next[1] = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, x, acc[1], ""), x, acc[1], "");
}

bool cg_lower_dynamic_quantize_linear(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  int64_t numel = ir_value_numel(n->inputs[0]);
  /* the range: per lane of the target's vectors, then across the lanes, then the tail. The
   * minimum and maximum of the non-NaN elements (and 0) do not depend on the order, so this is
   * the interpreter's range exactly; one scalar chain of compares would cost a compare's
   * latency per element. */
  int lanes = cg_dot4_info(c).lanes;
  int64_t body = lanes > 1 ? numel / lanes * lanes : 0;
  LLVMValueRef range[2] = {cg_f32c(c, 0.0), cg_f32c(c, 0.0)};
  CgLoop l;
  LLVMValueRef i;
  if (body) {
    LLVMTypeRef vt = LLVMVectorType(c->t_f32, (unsigned)lanes);
    LLVMValueRef zero = LLVMConstNull(vt), vr[2];
    LLVMValueRef k = cg_for(c, &l, body / lanes);
    LLVMValueRef acc[2] = {cg_loop_acc(c, &l, zero), cg_loop_acc(c, &l, zero)}, next[2];
    LLVMValueRef x = LLVMBuildLoad2(c->b, vt, cg_gep(c, c->t_f32, in[0], cg_mulc(c, k, lanes)), "");
    LLVMSetAlignment(x, 4);
    widen_range(c, x, acc, next);
    cg_loop_end(c, &l, next, vr);
    for (int t = 0; t < lanes; t++) {
      LLVMValueRef e[2] = {LLVMBuildExtractElement(c->b, vr[0], cg_i32c(c, t), ""),
                           LLVMBuildExtractElement(c->b, vr[1], cg_i32c(c, t), "")};
      LLVMValueRef lo[2], hi[2];
      widen_range(c, e[0], range, lo);
      widen_range(c, e[1], range, hi);
      range[0] = lo[0];
      range[1] = hi[1];
    }
  }
  if (numel > body) {
    i = cg_for(c, &l, numel - body);
    LLVMValueRef acc[2] = {cg_loop_acc(c, &l, range[0]), cg_loop_acc(c, &l, range[1])}, next[2];
    widen_range(c, cg_load(c, in[0], cg_addc(c, i, body)), acc, next);
    cg_loop_end(c, &l, next, range);
  }
  LLVMValueRef width = LLVMBuildFSub(c->b, range[1], range[0], "");
  LLVMValueRef scale =
      LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOEQ, range[1], range[0], ""),
                      cg_f32c(c, 1.0), LLVMBuildFDiv(c->b, width, cg_f32c(c, 255.0), ""), "");
  LLVMValueRef zp =
      quantize_elem(c, LLVMBuildFNeg(c->b, range[0], ""), scale, cg_i32c(c, 0), 0, 255);
  if (n->outputs[0] && out[0]) {
    i = cg_for(c, &l, numel);
    LLVMValueRef q = quantize_elem(c, cg_load(c, in[0], i), scale, zp, 0, 255);
    cg_store_elem(c, IR_U8, LLVMBuildTrunc(c->b, q, c->t_i8, ""), out[0], i);
    cg_loop_end(c, &l, NULL, NULL);
  }
  if (n->outputs[1] && out[1]) cg_store(c, scale, out[1], cg_idx(c, 0));
  if (n->outputs[2] && out[2])
    cg_store_elem(c, IR_U8, LLVMBuildTrunc(c->b, zp, c->t_i8, ""), out[2], cg_idx(c, 0));
  return true;
}
