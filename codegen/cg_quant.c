/* Lowerings of the int8 ops (ir/quant.c): QuantizeLinear, DequantizeLinear, QLinearConv, QGemm.
 * Every integer the reference interpreter computes is computed the same way here (ir/quant.h):
 * int32 accumulation of (x - x_zp) * w, the requantization's 64-bit multiply, rounding add and
 * arithmetic shift, the saturation; the float conversions are the same f32 operations in the
 * same order. The per-channel multipliers and shifts are computed at compile time by the same C
 * function the interpreter calls, and stored as constant tables. No libm, no division at run
 * time but QuantizeLinear's f32 divide (IEEE, as the interpreter's). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"
#include "cg_quant.h"
#include "conv_params.h"
#include "kernels/cg_gemm_i8.h"
#include "kernels/cg_sparse.h"
#include "kernels/cg_sparse_i8.h"
#include "kernels/cg_winograd_i8.h"
#include "quant.h"
#include "sparsity.h"

static LLVMValueRef i8_load(Cg *c, LLVMValueRef base, LLVMValueRef index) {
  LLVMValueRef v = LLVMBuildLoad2(c->b, c->t_i8, cg_gep(c, c->t_i8, base, index), "");
  LLVMSetAlignment(v, 1);
  return v;
}

static void i8_store(Cg *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef index) {
  LLVMValueRef s = LLVMBuildStore(c->b, v, cg_gep(c, c->t_i8, base, index));
  LLVMSetAlignment(s, 1);
}

static LLVMValueRef i32_load(Cg *c, LLVMValueRef base, LLVMValueRef index) {
  LLVMValueRef v = LLVMBuildLoad2(c->b, c->t_i32, cg_gep(c, c->t_i32, base, index), "");
  LLVMSetAlignment(v, 4);
  return v;
}

static LLVMValueRef clamp_int(Cg *c, LLVMValueRef v, int64_t lo, int64_t hi) {
  LLVMTypeRef t = LLVMTypeOf(v);
  LLVMValueRef l = LLVMConstInt(t, (unsigned long long)lo, 1),
               h = LLVMConstInt(t, (unsigned long long)hi, 1);
  v = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, v, l, ""), l, v, "");
  return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, v, h, ""), h, v, "");
}

/* ir_requant_apply: saturate(zp + ((i64)acc * mult + 2^(shift-1)) >> shift) as i8; mult and
 * shift are i32 values (constants or loaded from the tables). */
/* ir_requant_raw: ((i64)acc * mult + 2^(shift-1)) >> shift, as i64 */
static LLVMValueRef requant_raw(Cg *c, LLVMValueRef acc, LLVMValueRef mult, LLVMValueRef shift) {
  LLVMTypeRef i64 = c->t_i64;
  LLVMValueRef p =
      LLVMBuildMul(c->b, LLVMBuildSExt(c->b, acc, i64, ""), LLVMBuildSExt(c->b, mult, i64, ""), "");
  LLVMValueRef sh = LLVMBuildZExt(c->b, shift, i64, "");
  LLVMValueRef half = LLVMBuildShl(c->b, LLVMConstInt(i64, 1, 0),
                                   LLVMBuildSub(c->b, sh, LLVMConstInt(i64, 1, 0), ""), "");
  return LLVMBuildAShr(c->b, LLVMBuildAdd(c->b, p, half, ""), sh, "");
}

/* requant_raw of an i32 v with |v| < 2^28 in 32-bit operations (what the loop vectorizer
 * turns into 16-lane vectors; the 64-bit form takes 8 lanes and more instructions), or NULL:
 * shift >= 33: ((hi32(v * mult) >> (shift - 33)) + 1) >> 1 (cg_qrequant's floor identity);
 * mult 2^30 (a multiplier of exactly 1/2^k, QAdd's larger input): v * 2^30 + 2^(shift-1) =
 * 2^30 (v + 2^(shift-31)), so (v + 2^(shift-31)) >> (shift-30). */
static LLVMValueRef requant_raw_i32(Cg *c, LLVMValueRef v, IrRequant r) {
  if (r.shift >= 33) {
    LLVMValueRef p =
        LLVMBuildMul(c->b, LLVMBuildSExt(c->b, v, c->t_i64, ""),
                     LLVMConstInt(c->t_i64, (unsigned long long)(int64_t)r.mult, 1), "");
    LLVMValueRef hi = LLVMBuildTrunc(
        c->b, LLVMBuildAShr(c->b, p, LLVMConstInt(c->t_i64, 32, 0), ""), c->t_i32, "");
    hi = LLVMBuildAShr(c->b, hi, cg_i32c(c, r.shift - 33), "");
    return LLVMBuildAShr(c->b, LLVMBuildAdd(c->b, hi, cg_i32c(c, 1), ""), cg_i32c(c, 1), "");
  }
  if (r.mult == 1 << 30 && r.shift >= 31 && r.shift <= 60)
    return LLVMBuildAShr(c->b, LLVMBuildAdd(c->b, v, cg_i32c(c, (int64_t)1 << (r.shift - 31)), ""),
                         cg_i32c(c, r.shift - 30), "");
  return NULL;
}

static LLVMValueRef requant(Cg *c, LLVMValueRef acc, LLVMValueRef mult, LLVMValueRef shift,
                            int32_t zp) {
  if (LLVMIsAConstantInt(shift) && LLVMConstIntGetSExtValue(shift) >= 33) /* 32-bit form */
    return cg_qrequant(c, 1, acc, mult, shift, zp, true);
  LLVMTypeRef i64 = c->t_i64;
  LLVMValueRef v = requant_raw(c, acc, mult, shift);
  v = LLVMBuildAdd(c->b, v, LLVMConstInt(i64, (unsigned long long)(int64_t)zp, 1), "");
  return cg_qlut_map(c, LLVMBuildTrunc(c->b, clamp_int(c, v, -128, 127), c->t_i8, ""));
}

/* Per-channel tables: multiplier, shift and the bias with a zero point folded out (bias -
 * offset * sum of the channel's weights: offset x_zp, + 128 where the activations are stored
 * as x ^ 0x80, or 0 where padded taps are skipped), as one i32 array [3][channels]; *ge33
 * (if given): every channel's shift passes cg_qrequant_32bit. */
static LLVMValueRef head_tables(Cg *c, const IrNode *n, const IrQHead *h, const int8_t *w,
                                int64_t per_channel, int32_t offset, bool *ge33) {
  int64_t M = h->channels;
  int32_t *t = malloc(sizeof *t * (size_t)(3 * M));
  if (!t) abort();
  bool all32 = true;
  for (int64_t m = 0; m < M; m++) {
    IrRequant r = ir_qhead_requant(h, m);
    all32 = all32 && cg_qrequant_32bit(r);
    t[m] = r.mult;
    t[M + m] = r.shift;
    int64_t sum = 0;
    for (int64_t k = 0; k < per_channel; k++) sum += w[m * per_channel + k];
    t[2 * M + m] = (h->bias ? h->bias[m] : 0) - (int32_t)(offset * sum);
  }
  if (ge33) *ge33 = all32;
  char name[64];
  snprintf(name, sizeof name, "q%d.tables", n->id);
  LLVMValueRef g = cg_const_bytes(c, t, sizeof *t * (size_t)(3 * M), name);
  free(t);
  return g;
}

static LLVMValueRef const_table(Cg *c, const IrNode *n, const char *what, const void *data,
                                size_t bytes) {
  char name[64];
  snprintf(name, sizeof name, "q%d.%s", n->id, what);
  return cg_const_bytes(c, data, bytes, name);
}

/* ---- QuantizeLinear / DequantizeLinear ---------------------------------------------------- */

bool cg_lower_quantize_linear(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  if (!ir_qdq_is_simple(n)) return cg_lower_qdq_general(c, n, in, out);
  float s = ir_qparam_scale(n, 1);
  int32_t zp = ir_qparam_zp(n, 2);
  CgLoop l;
  LLVMValueRef i = cg_for(c, &l, ir_value_numel(n->outputs[0]));
  LLVMValueRef v = LLVMBuildFDiv(c->b, cg_load(c, in[0], i), cg_f32c(c, s), "");
  if (cg_dot4_info(c).vfp) {
    /* Arm VFP (Cortex-M4F): vcvtr rounds in the FPSCR's mode, half to even by default (the
     * trick's additions use that mode too), as the 1.5 * 2^23 trick does for |v| <= 256,
     * saturating beyond (the interpreter's +-256 bounds then clamp to the same byte: zp
     * is in [-128, 127], and the zero point is added saturating: qadd); NaN, 0 by vcvtr, is
     * -128 as in the interpreter (0 + zp already is with zp -128: no check). ssat #8, strb. */
    LLVMValueRef q = LLVMBuildBitCast(c->b, cg_intrinsic(c, "llvm.arm.vcvtr", c->t_f32, &v, 1),
                                      c->t_i32, ""); /* the i32 in an s register */
    q = cg_intrinsic(c, "llvm.sadd.sat", c->t_i32, (LLVMValueRef[]){q, cg_i32c(c, zp)}, 2);
    if (zp != -128)
      q = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealUNO, v, v, ""), cg_i32c(c, -128), q,
                          "");
    i8_store(c, LLVMBuildTrunc(c->b, clamp_int(c, q, -128, 127), c->t_i8, ""), out[0], i);
    cg_loop_end(c, &l, NULL, NULL);
    return true;
  }
  LLVMValueRef lo = cg_f32c(c, -256.0), hi = cg_f32c(c, 256.0), big = cg_f32c(c, 12582912.0);
  v = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, lo, ""), v, lo, "");
  v = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, hi, ""), hi, v, "");
  v = LLVMBuildFSub(c->b, LLVMBuildFAdd(c->b, v, big, ""), big, "");
  LLVMValueRef q = LLVMBuildAdd(c->b, LLVMBuildFPToSI(c->b, v, c->t_i32, ""), cg_i32c(c, zp), "");
  i8_store(c, LLVMBuildTrunc(c->b, clamp_int(c, q, -128, 127), c->t_i8, ""), out[0], i);
  cg_loop_end(c, &l, NULL, NULL);
  return true;
}

bool cg_lower_dequantize_linear(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  if (!ir_qdq_is_simple(n) || n->inputs[0]->dtype != IR_I8)
    return cg_lower_qdq_general(c, n, in, out);
  float s = ir_qparam_scale(n, 1);
  int32_t zp = ir_qparam_zp(n, 2);
  CgLoop l;
  LLVMValueRef i = cg_for(c, &l, ir_value_numel(n->outputs[0]));
  LLVMValueRef q = LLVMBuildSub(c->b, LLVMBuildSExt(c->b, i8_load(c, in[0], i), c->t_i32, ""),
                                cg_i32c(c, zp), "");
  cg_store(c, LLVMBuildFMul(c->b, LLVMBuildSIToFP(c->b, q, c->t_f32, ""), cg_f32c(c, s), ""),
           out[0], i);
  cg_loop_end(c, &l, NULL, NULL);
  return true;
}

/* ---- QAdd / QMul: elementwise, ir_qbinary_apply's integers ------------------------------- */

static bool lower_qbinary(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrQBinary p;
  bool ok = ir_qbinary(n, &p);
  assert(ok);
  (void)ok;
  IrNode ab = *n; /* the data inputs 0 and 3 as a binary node, for the broadcasting nest */
  IrValue *abin[2] = {n->inputs[0], n->inputs[3]};
  ab.inputs = abin;
  ab.n_inputs = 2;
  int64_t dims[IR_MAX_RANK], st[3][IR_MAX_RANK];
  int rank = cg_broadcast_nest(&ab, 2, dims, st);
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, 3, (const int64_t(*)[IR_MAX_RANK])st);
  if (!p.mul && cg_dot4_info(c).lanes == 1) {
    /* scalar targets (Cortex-M): each input's rescaled term depends on its byte alone, so two
     * 256-entry i32 tables (2 KB of flash, computed by the interpreter's own arithmetic) hold
     * them: per element two lookups, an add and the output's requantization, where each term
     * took a shift, a widening multiply and a rounding shift (the M0+: a library call) */
    int32_t *t = malloc(sizeof *t * 512);
    if (!t) abort();
    for (int v = 0; v < 256; v++) {
      t[v] = (int32_t)ir_requant_raw((v - 128 - p.a_zp) * (1 << IR_QADD_LEFT_SHIFT), p.ra);
      t[256 + v] = (int32_t)ir_requant_raw((v - 128 - p.b_zp) * (1 << IR_QADD_LEFT_SHIFT), p.rb);
    }
    LLVMValueRef tab = const_table(c, n, "add", t, sizeof *t * 512);
    free(t);
    LLVMValueRef term[2];
    for (int k = 0; k < 2; k++) {
      LLVMValueRef v =
          LLVMBuildSExt(c->b, i8_load(c, in[k ? 3 : 0], nest.off[1 + k]), c->t_i32, "");
      term[k] = i32_load(c, tab, LLVMBuildAdd(c->b, v, cg_i32c(c, 128 + 256 * k), ""));
    }
    /* the interpreter adds the two terms in 64 bits and truncates: the same bits */
    i8_store(c,
             requant(c, LLVMBuildAdd(c->b, term[0], term[1], ""), cg_i32c(c, p.ry.mult),
                     cg_i32c(c, p.ry.shift), p.y_zp),
             out[0], nest.off[0]);
    cg_nest_end(c, &nest);
    return true;
  }
  LLVMValueRef x =
      LLVMBuildSub(c->b, LLVMBuildSExt(c->b, i8_load(c, in[0], nest.off[1]), c->t_i32, ""),
                   cg_i32c(c, p.a_zp), "");
  LLVMValueRef y =
      LLVMBuildSub(c->b, LLVMBuildSExt(c->b, i8_load(c, in[3], nest.off[2]), c->t_i32, ""),
                   cg_i32c(c, p.b_zp), "");
  LLVMValueRef acc;
  IrRequant r = p.ra;
  if (p.mul) {
    acc = LLVMBuildMul(c->b, x, y, "");
  } else {
    LLVMValueRef sh = cg_i32c(c, IR_QADD_LEFT_SHIFT);
    LLVMValueRef xs = LLVMBuildShl(c->b, x, sh, ""), ys = LLVMBuildShl(c->b, y, sh, "");
    LLVMValueRef xa = requant_raw_i32(c, xs, p.ra), yb = requant_raw_i32(c, ys, p.rb);
    if (xa && yb) {
      acc = LLVMBuildAdd(c->b, xa, yb, "");
    } else {
      xa = requant_raw(c, xs, cg_i32c(c, p.ra.mult), cg_i32c(c, p.ra.shift));
      yb = requant_raw(c, ys, cg_i32c(c, p.rb.mult), cg_i32c(c, p.rb.shift));
      acc = LLVMBuildTrunc(c->b, LLVMBuildAdd(c->b, xa, yb, ""), c->t_i32, "");
    }
    r = p.ry;
  }
  i8_store(c, requant(c, acc, cg_i32c(c, r.mult), cg_i32c(c, r.shift), p.y_zp), out[0],
           nest.off[0]);
  cg_nest_end(c, &nest);
  return true;
}

/* QLookup: the table a constant, one load per element */
bool cg_lower_qlookup(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  LLVMValueRef t = const_table(c, n, "lut", n->inputs[1]->data, 256);
  int64_t numel = ir_value_numel(n->outputs[0]);
  if (cg_dot4_info(c).vbmi) {
    /* AVX-512VBMI: 64 lookups by two vpermi2b (each a 128-byte table, 7-bit indices) and a
     * select on the index's top bit; the tail masked */
    LLVMTypeRef vb = LLVMVectorType(c->t_i8, 64);
    LLVMValueRef q[4], f8[64];
    for (int k = 0; k < 4; k++) {
      q[k] = LLVMBuildLoad2(c->b, vb, cg_gep(c, c->t_i8, t, cg_idx(c, 64 * k)), "");
      LLVMSetAlignment(q[k], 1);
    }
    for (int l = 0; l < 64; l++) f8[l] = LLVMConstInt(c->t_i8, 0x80, 0);
    LLVMValueRef top = LLVMConstVector(f8, 64);
    CgLoop l;
    LLVMValueRef v = cg_for(c, &l, (numel + 63) / 64);
    LLVMValueRef at = cg_mulc(c, v, 64);
    LLVMValueRef mask = cg_lane_mask(c, 64, cg_sub(c, cg_idx(c, numel), at));
    LLVMValueRef x = cg_masked_load(c, vb, cg_gep(c, c->t_i8, in[0], at), mask);
    LLVMValueRef idx = LLVMBuildXor(c->b, x, top, ""); /* x + 128 */
    LLVMValueRef half[2];
    for (int k = 0; k < 2; k++) {
      LLVMValueRef args[3] = {q[2 * k], idx, q[2 * k + 1]};
      half[k] = cg_call_intrinsic(c, "llvm.x86.avx512.vpermi2var.qi.512", args, 3);
    }
    LLVMValueRef hi =
        LLVMBuildICmp(c->b, LLVMIntNE, LLVMBuildAnd(c->b, idx, top, ""), LLVMConstNull(vb), "");
    cg_masked_store(c, LLVMBuildSelect(c->b, hi, half[1], half[0], ""),
                    cg_gep(c, c->t_i8, out[0], at), mask);
    cg_loop_end(c, &l, NULL, NULL);
    return true;
  }
  CgLoop l;
  LLVMValueRef i = cg_for(c, &l, ir_value_numel(n->outputs[0]));
  LLVMValueRef x = LLVMBuildSExt(c->b, i8_load(c, in[0], i), c->t_idx, "");
  i8_store(c, i8_load(c, t, cg_addc(c, x, 128)), out[0], i);
  cg_loop_end(c, &l, NULL, NULL);
  return true;
}

/* QGlobalAveragePool: an int32 sum per plane, then ir_qgap_requant's requantization */
bool cg_lower_qglobal_average_pool(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *v = n->inputs[0];
  int64_t planes = v->dims[0] * v->dims[1], size = 1;
  for (int i = 2; i < v->rank; i++) size *= v->dims[i];
  IrRequant r;
  bool ok = ir_qgap_requant(n, &r);
  assert(ok);
  (void)ok;
  CgLoop lp, lj;
  LLVMValueRef p = cg_for(c, &lp, planes);
  LLVMValueRef base = cg_mulc(c, p, size);
  LLVMValueRef j = cg_for(c, &lj, size);
  LLVMValueRef acc = cg_loop_acc(c, &lj, cg_i32c(c, 0));
  LLVMValueRef x = LLVMBuildSExt(c->b, i8_load(c, in[0], cg_add(c, base, j)), c->t_i32, "");
  LLVMValueRef next = LLVMBuildAdd(c->b, acc, x, ""), sum;
  cg_loop_end(c, &lj, &next, &sum);
  sum = LLVMBuildSub(c->b, sum, cg_i32c(c, (int64_t)ir_qparam_zp(n, 2) * size), "");
  i8_store(c, requant(c, sum, cg_i32c(c, r.mult), cg_i32c(c, r.shift), ir_qparam_zp(n, 4)), out[0],
           p);
  cg_loop_end(c, &lp, NULL, NULL);
  return true;
}

/* QConcat: per outer block, each input copied (its parameters are the output's) or requantized
 * element by element (ir_qconcat_apply) */
bool cg_lower_qconcat(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *o = n->outputs[0];
  int64_t axis = ir_attr_i(n, "axis"), outer = 1, inner = 1;
  if (axis < 0) axis += o->rank;
  for (int i = 0; i < axis; i++) outer *= o->dims[i];
  for (int i = (int)axis + 1; i < o->rank; i++) inner *= o->dims[i];
  int32_t yz = ir_qparam_zp(n, 1);
  int64_t at = 0, out_block = o->dims[axis] * inner;
  CgLoop l;
  LLVMValueRef i = outer > 1 ? cg_for(c, &l, outer) : cg_idx(c, 0);
  for (int k = 0; 2 + 3 * k < n->n_inputs; k++) {
    IrQConcatIn q;
    bool ok = ir_qconcat_input(n, k, &q);
    assert(ok);
    (void)ok;
    int64_t block = n->inputs[2 + 3 * k]->dims[axis] * inner;
    LLVMValueRef dst = cg_gep(c, c->t_i8, out[0], cg_addc(c, cg_mulc(c, i, out_block), at));
    LLVMValueRef src = cg_gep(c, c->t_i8, in[2 + 3 * k], cg_mulc(c, i, block));
    at += block;
    if (q.copy) {
      cg_memcpy(c, dst, src, cg_idx(c, block));
      continue;
    }
    CgLoop lj;
    LLVMValueRef j = cg_for(c, &lj, block);
    LLVMValueRef x = LLVMBuildSub(c->b, LLVMBuildSExt(c->b, i8_load(c, src, j), c->t_i32, ""),
                                  cg_i32c(c, q.x_zp), "");
    i8_store(c, requant(c, x, cg_i32c(c, q.r.mult), cg_i32c(c, q.r.shift), yz), dst, j);
    cg_loop_end(c, &lj, NULL, NULL);
  }
  if (outer > 1) cg_loop_end(c, &l, NULL, NULL);
  return true;
}

/* ir_qavg_divide: (sum +- count / 2) / count, rounding half away from zero, as i8. A count of
 * 2^k (k >= 1, a constant) on scalar targets: (sum + 2^(k-1) + (sum >> 31)) >> k, exact: for
 * sum >= 0 it is the floor division of sum + half; for sum < 0 the truncating division of
 * sum - half < 0 is its ceiling, (sum - half + 2^k - 1) >> k = (sum + half - 1) >> k
 * (Arm: add, add with asr #31, asr). */
static LLVMValueRef qavg_divide(Cg *c, LLVMValueRef sum, LLVMValueRef cnt) {
  int64_t k = LLVMIsAConstantInt(cnt) ? LLVMConstIntGetSExtValue(cnt) : 0;
  if (k >= 2 && !(k & (k - 1)) && cg_dot4_info(c).lanes == 1) {
    int sh = 0;
    while ((1LL << sh) < k) sh++;
    LLVMValueRef neg = LLVMBuildAShr(c->b, sum, cg_i32c(c, 31), "");
    LLVMValueRef num = LLVMBuildAdd(c->b, LLVMBuildAdd(c->b, sum, cg_i32c(c, k / 2), ""), neg, "");
    return LLVMBuildTrunc(c->b, LLVMBuildAShr(c->b, num, cg_i32c(c, sh), ""), c->t_i8, "");
  }
  LLVMValueRef half = LLVMBuildSDiv(c->b, cnt, cg_i32c(c, 2), "");
  LLVMValueRef neg = LLVMBuildICmp(c->b, LLVMIntSLT, sum, cg_i32c(c, 0), "");
  LLVMValueRef num = LLVMBuildSelect(c->b, neg, LLVMBuildSub(c->b, sum, half, ""),
                                     LLVMBuildAdd(c->b, sum, half, ""), "");
  return LLVMBuildTrunc(c->b, LLVMBuildSDiv(c->b, num, cnt, ""), c->t_i8, "");
}

/* QAveragePool 2x2/2 with every window inside the input on Arm DSP (Cortex-M4): two outputs a
 * step from one unaligned word of each of the window's rows, sxtb16 and sxtab16 (the word and
 * the word rotated by 8) adding each window's four bytes into one i16 half (|sum| <= 512: no
 * wrap), then qavg_divide per half; an odd last column alone. Reads no byte past a window. */
static void qavg2x2_dsp(Cg *c, const IrConvParams *p, LLVMValueRef x, LLVMValueRef y) {
  CgLoop lbc, loh, lj;
  LLVMValueRef bc = cg_for(c, &lbc, p->n * p->c);
  LLVMValueRef oh = cg_for(c, &loh, p->oh);
  LLVMValueRef r0 = cg_add(c, cg_mulc(c, bc, p->h * p->w), cg_mulc(c, oh, 2 * p->w));
  LLVMValueRef yrow = cg_add(c, cg_mulc(c, bc, p->oh * p->ow), cg_mulc(c, oh, p->ow));
  LLVMValueRef four = cg_i32c(c, 4);
  if (p->ow >= 2) {
    LLVMValueRef j = cg_for(c, &lj, p->ow / 2), s = NULL;
    LLVMValueRef at = cg_add(c, r0, cg_mulc(c, j, 4));
    for (int r = 0; r < 2; r++) {
      LLVMValueRef w =
          LLVMBuildLoad2(c->b, c->t_i32, cg_gep(c, c->t_i8, x, cg_addc(c, at, r * p->w)), "");
      LLVMSetAlignment(w, 1);
      LLVMValueRef ror =
          cg_intrinsic(c, "llvm.fshr", c->t_i32, (LLVMValueRef[]){w, w, cg_i32c(c, 8)}, 3);
      s = s ? cg_call_intrinsic(c, "llvm.arm.sxtab16", (LLVMValueRef[]){s, w}, 2)
            : cg_call_intrinsic(c, "llvm.arm.sxtb16", &w, 1);
      s = cg_call_intrinsic(c, "llvm.arm.sxtab16", (LLVMValueRef[]){s, ror}, 2);
    }
    LLVMValueRef lo = LLVMBuildSExt(
        c->b, LLVMBuildTrunc(c->b, s, LLVMInt16TypeInContext(c->ctx), ""), c->t_i32, "");
    LLVMValueRef hi = LLVMBuildAShr(c->b, s, cg_i32c(c, 16), "");
    LLVMValueRef yo = cg_add(c, yrow, cg_mulc(c, j, 2));
    i8_store(c, qavg_divide(c, lo, four), y, yo);
    i8_store(c, qavg_divide(c, hi, four), y, cg_addc(c, yo, 1));
    cg_loop_end(c, &lj, NULL, NULL);
  }
  if (p->ow % 2) {
    LLVMValueRef at = cg_addc(c, r0, 2 * (p->ow - 1)), sum = NULL;
    for (int64_t k = 0; k < 4; k++) {
      LLVMValueRef v =
          LLVMBuildSExt(c->b, i8_load(c, x, cg_addc(c, at, k / 2 * p->w + k % 2)), c->t_i32, "");
      sum = sum ? LLVMBuildAdd(c->b, sum, v, "") : v;
    }
    i8_store(c, qavg_divide(c, sum, four), y, cg_addc(c, yrow, p->ow - 1));
  }
  cg_loop_end(c, &loh, NULL, NULL);
  cg_loop_end(c, &lbc, NULL, NULL);
}

/* MaxPool and QAveragePool on int8, one window nest: per output, the taps inside the input
 * folded (max; or an int32 sum, the padding's zp when counted, and ir_qavg_divide's rounding
 * division, one sdiv per output). Windows all inside the input unroll their taps with no
 * bounds (a constant divisor: LLVM multiplies and shifts), so LLVM vectorizes over ow;
 * otherwise loops over each window's valid tap ranges. */
static void qpool_windows(Cg *c, const IrConvParams *p, bool avg, bool count_include_pad,
                          int32_t zp, LLVMValueRef x, LLVMValueRef y) {
  bool inside = p->pad_t == 0 && p->pad_l == 0 &&
                (p->oh - 1) * p->stride_h + (p->kh - 1) * p->dil_h < p->h &&
                (p->ow - 1) * p->stride_w + (p->kw - 1) * p->dil_w < p->w;
  if (avg && inside && p->kh == 2 && p->kw == 2 && p->stride_h == 2 && p->stride_w == 2 &&
      p->dil_h == 1 && p->dil_w == 1 && cg_dot4_info(c).kind == CG_DOT4_SMLAD) {
    qavg2x2_dsp(c, p, x, y);
    return;
  }
  CgLoop lbc, loh, low, li, lj;
  LLVMValueRef bc = cg_for(c, &lbc, p->n * p->c);
  LLVMValueRef plane = cg_mulc(c, bc, p->h * p->w);
  LLVMValueRef oh = cg_for(c, &loh, p->oh);
  LLVMValueRef ih0 = cg_addc(c, cg_mulc(c, oh, p->stride_h), -p->pad_t), ilo = NULL, ihi = NULL;
  LLVMValueRef yrow = cg_add(c, cg_mulc(c, bc, p->oh * p->ow), cg_mulc(c, oh, p->ow)), ch = NULL;
  if (!inside || p->kh * p->kw > 16) {
    cg_valid_range(c, ih0, p->dil_h, p->h, p->kh, &ilo, &ihi);
    if (avg)
      ch = cg_pool_window_count(c, ih0, p->kh, 1, p->h, p->pad_t, p->pad_b, count_include_pad);
  }
  LLVMValueRef ow = cg_for(c, &low, p->ow), r;
  LLVMValueRef iw0 = cg_addc(c, cg_mulc(c, ow, p->stride_w), -p->pad_l);
  if (!ilo) {
    LLVMValueRef at = cg_add(c, plane, cg_add(c, cg_mulc(c, ih0, p->w), iw0));
    r = NULL;
    for (int64_t i = 0; i < p->kh; i++)
      for (int64_t j = 0; j < p->kw; j++) {
        LLVMValueRef v = i8_load(c, x, cg_addc(c, at, i * p->dil_h * p->w + j * p->dil_w));
        if (avg) v = LLVMBuildSExt(c->b, v, c->t_i32, "");
        r = !r    ? v
            : avg ? LLVMBuildAdd(c->b, r, v, "")
                  : LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, v, r, ""), v, r, "");
      }
    if (avg) r = qavg_divide(c, r, cg_i32c(c, p->kh * p->kw));
  } else {
    LLVMValueRef jlo, jhi;
    cg_valid_range(c, iw0, p->dil_w, p->w, p->kw, &jlo, &jhi);
    LLVMValueRef i = cg_loop_begin(c, &li, ilo, ihi);
    LLVMValueRef acc_i = cg_loop_acc(
        c, &li, avg ? cg_i32c(c, 0) : LLVMConstInt(c->t_i8, (unsigned long long)-128, 1));
    LLVMValueRef xrow = cg_add(c, plane, cg_mulc(c, cg_add(c, ih0, cg_mulc(c, i, p->dil_h)), p->w));
    LLVMValueRef j = cg_loop_begin(c, &lj, jlo, jhi);
    LLVMValueRef acc_j = cg_loop_acc(c, &lj, acc_i);
    LLVMValueRef v = i8_load(c, x, cg_add(c, xrow, cg_add(c, iw0, cg_mulc(c, j, p->dil_w))));
    LLVMValueRef next =
        avg ? LLVMBuildAdd(c->b, acc_j, LLVMBuildSExt(c->b, v, c->t_i32, ""), "")
            : LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, v, acc_j, ""), v, acc_j, "");
    LLVMValueRef after_j;
    cg_loop_end(c, &lj, &next, &after_j);
    cg_loop_end(c, &li, &after_j, &r);
    if (avg) {
      LLVMValueRef valid = cg_mul(c, cg_sub(c, ihi, ilo), cg_sub(c, jhi, jlo)), count = valid;
      if (count_include_pad) {
        count =
            cg_mul(c, ch, cg_pool_window_count(c, iw0, p->kw, 1, p->w, p->pad_l, p->pad_r, true));
        LLVMValueRef pads = LLVMBuildTrunc(c->b, cg_sub(c, count, valid), c->t_i32, "");
        r = LLVMBuildAdd(c->b, r, LLVMBuildMul(c->b, pads, cg_i32c(c, zp), ""), "");
      }
      r = qavg_divide(c, r, LLVMBuildTrunc(c->b, count, c->t_i32, ""));
    }
  }
  i8_store(c, r, y, cg_add(c, yrow, ow));
  cg_loop_end(c, &low, NULL, NULL);
  cg_loop_end(c, &loh, NULL, NULL);
  cg_loop_end(c, &lbc, NULL, NULL);
}

/* QAveragePool: qpool_windows' sums */
bool cg_lower_qaverage_pool(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrNode tmp;
  IrValue *ins[1];
  ir_qpool_as_pool(n, &tmp, ins);
  IrConvParams p;
  bool ok = ir_conv_params(&tmp, &p, NULL);
  assert(ok);
  (void)ok;
  qpool_windows(c, &p, true, p.count_include_pad, ir_qparam_zp(n, 2), in[0], out[0]);
  return true;
}

/* QLinearConvTranspose without the GEMM: per (batch, output channel) an int32 plane in the scratch
 * starts at the bias; every input pixel of the group's channels adds (x - x_zp) * w into the
 * outputs its taps reach (the float ConvTranspose's loop nest, valid ranges instead of bounds
 * checks, contiguous over iw for stride 1); then the plane is requantized. Integer sums: bit-exact
 * with the interpreter's gather order. */
static bool lower_qconvt_loops(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out,
                               IrConvParams p, IrQHead h) {
  assert(n->scratch_bytes >= p.oh * p.ow * 4);
  int32_t *t = malloc(sizeof *t * (size_t)(3 * p.m));
  if (!t) abort();
  for (int64_t m = 0; m < p.m; m++) {
    IrRequant r = ir_qhead_requant(&h, m);
    t[m] = r.mult;
    t[p.m + m] = r.shift;
    t[2 * p.m + m] = h.bias ? h.bias[m] : 0;
  }
  LLVMValueRef tab = const_table(c, n, "tables", t, sizeof *t * (size_t)(3 * p.m));
  free(t);
  LLVMValueRef wq =
      const_table(c, n, "w", n->inputs[3]->data, (size_t)ir_value_numel(n->inputs[3]));
  int64_t OHW = p.oh * p.ow, Mpg = p.m_per_group, Cpg = p.c_per_group;
  LLVMValueRef acc = c->scratch;
  CgLoop ln, lm, lf, lic, lih, lkh, lkw, liw, lq;
  LLVMValueRef ni = cg_for(c, &ln, p.n);
  LLVMValueRef m = cg_for(c, &lm, p.m);
  LLVMValueRef gi = LLVMBuildSDiv(c->b, m, cg_idx(c, Mpg), ""),
               mo = cg_sub(c, m, cg_mulc(c, gi, Mpg));
  LLVMValueRef bias = i32_load(c, tab, cg_addc(c, m, 2 * p.m));
  LLVMValueRef f = cg_for(c, &lf, OHW);
  LLVMBuildStore(c->b, bias, cg_gep(c, c->t_i32, acc, f));
  cg_loop_end(c, &lf, NULL, NULL);
  LLVMValueRef ic = cg_for(c, &lic, Cpg);
  LLVMValueRef ch = cg_add(c, cg_mulc(c, gi, Cpg), ic);
  LLVMValueRef xplane = cg_mulc(c, cg_add(c, cg_mulc(c, ni, p.c), ch), p.h * p.w);
  LLVMValueRef wk = cg_mulc(c, cg_add(c, cg_mulc(c, ch, Mpg), mo), p.kh * p.kw);
  LLVMValueRef ih = cg_for(c, &lih, p.h);
  LLVMValueRef xrow = cg_add(c, xplane, cg_mulc(c, ih, p.w));
  LLVMValueRef hbase = cg_addc(c, cg_mulc(c, ih, p.stride_h), -p.pad_t), kh_lo, kh_hi;
  cg_valid_range(c, hbase, p.dil_h, p.oh, p.kh, &kh_lo, &kh_hi);
  LLVMValueRef kh = cg_loop_begin(c, &lkh, kh_lo, kh_hi);
  LLVMValueRef orow = cg_mulc(c, cg_add(c, hbase, cg_mulc(c, kh, p.dil_h)), p.ow);
  LLVMValueRef wrow = cg_add(c, wk, cg_mulc(c, kh, p.kw));
  LLVMValueRef kw = cg_for(c, &lkw, p.kw);
  LLVMValueRef wv = LLVMBuildSExt(c->b, i8_load(c, wq, cg_add(c, wrow, kw)), c->t_i32, "");
  LLVMValueRef wbase = cg_addc(c, cg_mulc(c, kw, p.dil_w), -p.pad_l), iw_lo, iw_hi;
  cg_valid_range(c, wbase, p.stride_w, p.ow, p.w, &iw_lo, &iw_hi);
  LLVMValueRef iw = cg_loop_begin(c, &liw, iw_lo, iw_hi);
  LLVMValueRef at = cg_add(c, orow, cg_add(c, cg_mulc(c, iw, p.stride_w), wbase));
  LLVMValueRef xv =
      LLVMBuildSub(c->b, LLVMBuildSExt(c->b, i8_load(c, in[0], cg_add(c, xrow, iw)), c->t_i32, ""),
                   cg_i32c(c, h.x_zp), "");
  LLVMValueRef sum = LLVMBuildAdd(c->b, i32_load(c, acc, at), LLVMBuildMul(c->b, xv, wv, ""), "");
  LLVMBuildStore(c->b, sum, cg_gep(c, c->t_i32, acc, at));
  cg_loop_end(c, &liw, NULL, NULL);
  cg_loop_end(c, &lkw, NULL, NULL);
  cg_loop_end(c, &lkh, NULL, NULL);
  cg_loop_end(c, &lih, NULL, NULL);
  cg_loop_end(c, &lic, NULL, NULL);
  LLVMValueRef mult = i32_load(c, tab, m), shift = i32_load(c, tab, cg_addc(c, m, p.m));
  LLVMValueRef oplane = cg_mulc(c, cg_add(c, cg_mulc(c, ni, p.m), m), OHW);
  LLVMValueRef qf = cg_for(c, &lq, OHW);
  i8_store(c, requant(c, i32_load(c, acc, qf), mult, shift, h.y_zp), out[0], cg_add(c, oplane, qf));
  cg_loop_end(c, &lq, NULL, NULL);
  cg_loop_end(c, &lm, NULL, NULL);
  cg_loop_end(c, &ln, NULL, NULL);
  return true;
}

/* QLinearConvTranspose on the int8 GEMM (ir_qconvt_gemm), as the float col2im form: per batch
 * item and group, the input's channel quads V in the scratch, the raw int32 sums of every
 * (output channel, tap) row of the weights times V (cg_qgemm_emit, raw), then per output channel
 * an int32 plane starting at the bias that each tap's sums are added into where the tap lands,
 * less (x_zp [+ 128 where V holds x ^ 0x80]) times the row's weight sum (the sums are of x, not
 * of x - x_zp); the plane is requantized. false: the planned scratch is too small for this
 * target's strip (the caller uses the loop nest). */
static bool lower_qconvt_gemm(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out,
                              const IrConvParams *p, const IrQHead *h) {
  CgDot4 d = cg_dot4_info(c);
  IrQConvtGemm q;
  ir_qconvt_gemm(p, 1, &q);
  int64_t HW = p->h * p->w, T = p->kh * p->kw, Mpg = p->m_per_group, Cpg = p->c_per_group;
  int64_t R = Mpg * T, k4 = q.k4, ldv = cg_qgemm_v_cols(d, HW);
  int64_t v_bytes = k4 * 4 * ldv, raw_bytes = R * ldv * 4;
  /* fewer than 16 input pixels on vector targets (a generator's 1x1 -> 4x4): the product
   * transposed, raw[pixel][(mo, tap)] = S (the pixels' channel quads) x V (the weights, packed at
   * compile time [k4][vcols]), so the vectors hold weight rows, not a strip of 64 columns of
   * which HW are pixels (ir_qconvt_gemm's t_bytes) */
  int64_t vcols = cg_qgemm_v_cols(d, R);
  bool tr = d.kind != CG_DOT4_SMLAD && d.lanes > 1 && HW < 16 &&
            HW * k4 * 4 + HW * vcols * 4 + q.plane_bytes <= n->scratch_bytes;
  if (tr) {
    v_bytes = HW * k4 * 4;
    raw_bytes = HW * vcols * 4;
  } else if (v_bytes + raw_bytes + q.plane_bytes > n->scratch_bytes) {
    return false;
  }
  bool unpacked = d.kind == CG_DOT4_SMLAD; /* its quad form when V holds the activations */
  int64_t qb = unpacked ? 8 : 4;
  const int8_t *w = n->inputs[3]->data;
  int8_t *s = calloc((size_t)(p->group * R * k4 * 4), 1);
  int8_t *sp_bytes = calloc((size_t)(p->group * R * k4 * qb), 1);
  int32_t *t = calloc((size_t)(3 * p->m + p->m * T), sizeof *t);
  if (!s || !sp_bytes || !t) abort();
  int32_t offset = h->x_zp + (d.u8_acts ? 128 : 0);
  for (int64_t m = 0; m < p->m; m++) {
    IrRequant r = ir_qhead_requant(h, m);
    t[m] = r.mult;
    t[p->m + m] = r.shift;
    t[2 * p->m + m] = h->bias ? h->bias[m] : 0;
    int64_t g = m / Mpg, mo = m % Mpg;
    for (int64_t tap = 0; tap < T; tap++) {
      int64_t sum = 0, row = g * R + mo * T + tap;
      for (int64_t ci = 0; ci < Cpg; ci++) {
        int8_t v = w[((g * Cpg + ci) * Mpg + mo) * T + tap];
        s[row * k4 * 4 + ci] = v;
        sum += v;
      }
      t[3 * p->m + m * T + tap] = (int32_t)(offset * sum);
    }
  }
  LLVMValueRef sp;
  if (tr) { /* per group [k4][vcols] quads, column (mo, tap) */
    int8_t *vt = calloc((size_t)(p->group * k4 * vcols * 4), 1);
    if (!vt) abort();
    for (int64_t g = 0; g < p->group; g++)
      for (int64_t r = 0; r < R; r++)
        for (int64_t kq = 0; kq < k4; kq++)
          memcpy(vt + ((g * k4 + kq) * vcols + r) * 4, s + ((g * R + r) * k4 + kq) * 4, 4);
    sp = const_table(c, n, "w", vt, (size_t)(p->group * k4 * vcols * 4));
    free(vt);
  } else {
    for (int64_t r = 0; r < p->group * R; r++)
      for (int64_t kq = 0; kq < k4; kq++)
        cg_dot4_pack_quad(sp_bytes + (r * k4 + kq) * qb, s + (r * k4 + kq) * 4, unpacked);
    sp = const_table(c, n, "w", sp_bytes, (size_t)(p->group * R * k4 * qb));
  }
  LLVMValueRef tab = const_table(c, n, "tables", t, sizeof *t * (size_t)(3 * p->m + p->m * T));
  free(s);
  free(sp_bytes);
  free(t);
  LLVMValueRef raw = cg_gep(c, c->t_i8, c->scratch, cg_idx(c, v_bytes));
  LLVMValueRef acc = cg_gep(c, c->t_i8, raw, cg_idx(c, raw_bytes));
  LLVMValueRef flip8 = LLVMConstInt(c->t_i8, d.u8_acts ? 0x80 : 0, 0);
  CgLoop lb, lg, lq, lx, lm, lf, lt, lih, liw, lo;
  LLVMValueRef b = cg_for(c, &lb, p->n);
  LLVMValueRef g = cg_for(c, &lg, p->group);
  LLVMValueRef xg = cg_mulc(c, cg_add(c, cg_mulc(c, b, p->c), cg_mulc(c, g, Cpg)), HW);
  if (tr) { /* S: row (pixel) of k4 quads, channel c at byte c (absent channels: 0) */
    CgLoop lp, lc;
    LLVMValueRef pix = cg_for(c, &lp, HW);
    LLVMValueRef ci = cg_for(c, &lc, k4 * 4);
    LLVMValueRef real = LLVMBuildICmp(c->b, LLVMIntSLT, ci, cg_idx(c, Cpg), "");
    LLVMValueRef at =
        cg_add(c, xg, cg_add(c, cg_mulc(c, cg_smin(c, ci, cg_idx(c, Cpg - 1)), HW), pix));
    LLVMValueRef b8 = LLVMBuildXor(c->b, i8_load(c, in[0], at), flip8, "");
    b8 = LLVMBuildSelect(c->b, real, b8, LLVMConstInt(c->t_i8, 0, 0), "");
    i8_store(c, b8, c->scratch, cg_add(c, cg_mulc(c, pix, k4 * 4), ci));
    cg_loop_end(c, &lc, NULL, NULL);
    cg_loop_end(c, &lp, NULL, NULL);
    CgQGemm gq = {.m = HW,
                  .k4 = k4,
                  .n_cols = R,
                  .n_valid = cg_idx(c, R),
                  .s = c->scratch,
                  .v = cg_gep(c, c->t_i8, sp, cg_mulc(c, g, k4 * vcols * 4)),
                  .y = raw,
                  .lds = k4 * 4,
                  .ldv = vcols,
                  .ldy = vcols,
                  .n_pad = vcols,
                  .channels = R,
                  .v_is_acts = false,
                  .raw = true};
    cg_qgemm_emit(c, d, &gq);
  } else {
    /* V: word (c4, pixel) = the bytes of channels 4 c4 .. 4 c4 + 3 (absent channels: 0, their
     * weights are 0); the columns past h * w: 0 */
    LLVMValueRef c4 = cg_for(c, &lq, k4);
    LLVMValueRef plane[4], real[4];
    for (int k = 0; k < 4; k++) {
      LLVMValueRef ch = cg_addc(c, cg_mulc(c, c4, 4), k);
      real[k] = LLVMBuildICmp(c->b, LLVMIntSLT, ch, cg_idx(c, Cpg), "");
      plane[k] = cg_add(c, xg, cg_mulc(c, cg_smin(c, ch, cg_idx(c, Cpg - 1)), HW));
    }
    LLVMValueRef px = cg_for(c, &lx, ldv);
    LLVMValueRef inside = LLVMBuildICmp(c->b, LLVMIntSLT, px, cg_idx(c, HW), "");
    LLVMValueRef pxc = cg_smin(c, px, cg_idx(c, HW - 1)), word = NULL;
    for (int k = 0; k < 4; k++) {
      LLVMValueRef b8 = LLVMBuildXor(c->b, i8_load(c, in[0], cg_add(c, plane[k], pxc)), flip8, "");
      b8 = LLVMBuildSelect(c->b, LLVMBuildAnd(c->b, real[k], inside, ""), b8,
                           LLVMConstInt(c->t_i8, 0, 0), "");
      b8 = LLVMBuildZExt(c->b, b8, c->t_i32, "");
      b8 = k ? LLVMBuildShl(c->b, b8, cg_i32c(c, 8 * k), "") : b8;
      word = word ? LLVMBuildOr(c->b, word, b8, "") : b8;
    }
    LLVMBuildStore(c->b, word, cg_gep(c, c->t_i32, c->scratch, cg_add(c, cg_mulc(c, c4, ldv), px)));
    cg_loop_end(c, &lx, NULL, NULL);
    cg_loop_end(c, &lq, NULL, NULL);
    CgQGemm gq = {.m = R,
                  .k4 = k4,
                  .n_cols = HW,
                  .n_valid = cg_idx(c, HW),
                  .s = cg_gep(c, c->t_i8, sp, cg_mulc(c, g, R * k4 * qb)),
                  .v = c->scratch,
                  .y = raw,
                  .lds = k4 * qb,
                  .ldv = ldv,
                  .ldy = ldv,
                  .channels = R,
                  .per_row = true,
                  .v_is_acts = true,
                  .raw = true};
    cg_qgemm_emit(c, d, &gq);
  }
  /* col2im: output (ih s_h - pad_t + kh d_h, iw s_w - pad_l + kw d_w) += sums[(mo, kh, kw)][ih, iw]
   */
  LLVMValueRef mo = cg_for(c, &lm, Mpg);
  LLVMValueRef m = cg_add(c, cg_mulc(c, g, Mpg), mo);
  LLVMValueRef bias = i32_load(c, tab, cg_addc(c, m, 2 * p->m));
  LLVMValueRef f = cg_for(c, &lf, p->oh * p->ow);
  LLVMBuildStore(c->b, bias, cg_gep(c, c->t_i32, acc, f));
  cg_loop_end(c, &lf, NULL, NULL);
  LLVMValueRef tap = cg_for(c, &lt, T);
  LLVMValueRef kh = LLVMBuildSDiv(c->b, tap, cg_idx(c, p->kw), "");
  LLVMValueRef kw = cg_sub(c, tap, cg_mulc(c, kh, p->kw));
  LLVMValueRef corr = i32_load(c, tab, cg_add(c, cg_addc(c, cg_mulc(c, m, T), 3 * p->m), tap));
  /* the sums of row (mo, tap) at input pixel (ih, iw): srow + (ih w + iw) pstep */
  LLVMValueRef rt = cg_add(c, cg_mulc(c, mo, T), tap);
  LLVMValueRef srow = tr ? rt : cg_mulc(c, rt, ldv);
  int64_t pstep = tr ? vcols : 1;
  LLVMValueRef hbase = cg_addc(c, cg_mulc(c, kh, p->dil_h), -p->pad_t), ih_lo, ih_hi;
  cg_valid_range(c, hbase, p->stride_h, p->oh, p->h, &ih_lo, &ih_hi);
  LLVMValueRef wbase = cg_addc(c, cg_mulc(c, kw, p->dil_w), -p->pad_l), iw_lo, iw_hi;
  cg_valid_range(c, wbase, p->stride_w, p->ow, p->w, &iw_lo, &iw_hi);
  LLVMValueRef ih = cg_loop_begin(c, &lih, ih_lo, ih_hi);
  LLVMValueRef orow = cg_mulc(c, cg_add(c, cg_mulc(c, ih, p->stride_h), hbase), p->ow);
  LLVMValueRef sr = cg_add(c, srow, cg_mulc(c, ih, p->w * pstep));
  LLVMValueRef iw = cg_loop_begin(c, &liw, iw_lo, iw_hi);
  LLVMValueRef at = cg_add(c, orow, cg_add(c, cg_mulc(c, iw, p->stride_w), wbase));
  LLVMValueRef v =
      LLVMBuildSub(c->b, i32_load(c, raw, cg_add(c, sr, cg_mulc(c, iw, pstep))), corr, "");
  LLVMBuildStore(c->b, LLVMBuildAdd(c->b, i32_load(c, acc, at), v, ""),
                 cg_gep(c, c->t_i32, acc, at));
  cg_loop_end(c, &liw, NULL, NULL);
  cg_loop_end(c, &lih, NULL, NULL);
  cg_loop_end(c, &lt, NULL, NULL);
  LLVMValueRef mult = i32_load(c, tab, m), shift = i32_load(c, tab, cg_addc(c, m, p->m));
  LLVMValueRef oplane = cg_mulc(c, cg_add(c, cg_mulc(c, b, p->m), m), p->oh * p->ow);
  LLVMValueRef o = cg_for(c, &lo, p->oh * p->ow);
  i8_store(c, requant(c, i32_load(c, acc, o), mult, shift, h->y_zp), out[0], cg_add(c, oplane, o));
  cg_loop_end(c, &lo, NULL, NULL);
  cg_loop_end(c, &lm, NULL, NULL);
  cg_loop_end(c, &lg, NULL, NULL);
  cg_loop_end(c, &lb, NULL, NULL);
  return true;
}

/* The 32-bit word of 4 channels' bytes at element off of the planes plane[0..3] (channel t in
 * byte t): each byte flipped by flip8 (u8 activations to i8), pad8 where the channel does not
 * exist (real[t] false: the quad's padding channels). */
static LLVMValueRef quad_word(Cg *c, LLVMValueRef x, const LLVMValueRef plane[4],
                              const LLVMValueRef real[4], LLVMValueRef off, LLVMValueRef flip8,
                              LLVMValueRef pad8) {
  LLVMValueRef word = NULL;
  for (int t = 0; t < 4; t++) {
    LLVMValueRef b8 = LLVMBuildXor(c->b, i8_load(c, x, cg_add(c, plane[t], off)), flip8, "");
    b8 = LLVMBuildZExt(c->b, LLVMBuildSelect(c->b, real[t], b8, pad8, ""), c->t_i32, "");
    b8 = t ? LLVMBuildShl(c->b, b8, cg_i32c(c, 8 * t), "") : b8;
    word = word ? LLVMBuildOr(c->b, word, b8, "") : b8;
  }
  return word;
}

/* QLinearConvTranspose as sub-pixel convolutions (IR_KERNEL_QCONVT_SUBPIXEL, ir_qconvt_subpixel;
 * the float form is codegen/kernels/cg_convt.c). Per batch item the input is interleaved once
 * into X, words of 4 channels (x ^ 0x80 for vpdpbusd) in an image covering every row and column
 * a phase reads, padded with the zero point (absent channels too: their weights are 0, and
 * x_zp - x_zp is 0, so padded taps add nothing, as the interpreter skips them). Each phase
 * (ry, rx) is one int8 GEMM of its sub-kernel (packed at compile time, quads of (channel quad,
 * tap)) over wide rows of wp columns: the tiles read X in place at each tap's offset
 * (CgQGemm.direct_taps with direct_ow = direct_pw: a strip's columns are consecutive words); the
 * Arm DSP tile has no direct form, its operand V is first copied out of X (one copy of ny * wp
 * words per quad row). The accumulators start from the bias less the offset times the
 * sub-kernel's weight sums (a table per phase) and are requantized in the epilogue into wide
 * int8 rows; the column phases of a row phase are then interleaved into the output rows. Every
 * output is written once: no int32 plane, no scatter of sums. false: the planned scratch does
 * not fit this target's strips (the caller takes the loop nest). */
static bool lower_qconvt_subpixel(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out,
                                  const IrConvParams *p, const IrQHead *h) {
  CgDot4 d = cg_dot4_info(c);
  bool v_copy = d.kind == CG_DOT4_SMLAD; /* its tile reads V [k4][ldv] with two pointers */
  IrQConvtSub g;
  if (!ir_qconvt_subpixel(p, cg_qgemm_v_cols(d, 1), v_copy, &g) ||
      g.x_bytes + g.v_bytes + g.y_bytes > n->scratch_bytes)
    return false;
  const IrConvSubpixel *s = &g.s;
  int64_t sh = p->stride_h, sw = p->stride_w, M = p->m, C = p->c, c4n = g.c4, ldv = g.ldv;
  int64_t plane = s->hp * s->wp;        /* words of one channel quad's image */
  int64_t qb = v_copy ? 8 : 4;          /* bytes of a weight quad (Arm DSP: unpacked i16 pairs) */
  const int8_t *w = n->inputs[3]->data; /* [C][M][kh][kw] */
  int32_t offset = h->x_zp + (d.u8_acts ? 128 : 0);
  uint8_t pb = (uint8_t)(h->x_zp ^ (d.u8_acts ? 0x80 : 0)); /* the zero point as stored */
  LLVMValueRef sp[IR_SUBPIXEL_MAX_STRIDE][IR_SUBPIXEL_MAX_STRIDE];
  LLVMValueRef tab[IR_SUBPIXEL_MAX_STRIDE][IR_SUBPIXEL_MAX_STRIDE];
  bool ge33[IR_SUBPIXEL_MAX_STRIDE][IR_SUBPIXEL_MAX_STRIDE];
  int64_t *toff[IR_SUBPIXEL_MAX_STRIDE][IR_SUBPIXEL_MAX_STRIDE]; /* tap offsets in X, bytes */
  for (int64_t ry = 0; ry < sh; ry++)
    for (int64_t rx = 0; rx < sw; rx++) {
      int64_t T = ir_subpixel_taps(p->kh, sh, ry), U = ir_subpixel_taps(p->kw, sw, rx);
      int64_t taps = T * U, k4 = c4n * taps;
      int8_t *sq = calloc((size_t)(M * k4 * 4), 1), *spb = calloc((size_t)(M * k4 * qb), 1);
      int32_t *t3 = malloc(sizeof *t3 * (size_t)(3 * M));
      toff[ry][rx] = malloc(sizeof(int64_t) * (size_t)taps);
      if (!sq || !spb || !t3 || !toff[ry][rx]) abort();
      bool all32 = true;
      for (int64_t m = 0; m < M; m++) {
        int64_t sum = 0;
        for (int64_t ci = 0; ci < C; ci++)
          for (int64_t ty = 0; ty < T; ty++)
            for (int64_t ux = 0; ux < U; ux++) {
              int8_t v = w[((ci * M + m) * p->kh + ry + ty * sh) * p->kw + rx + ux * sw];
              sq[m * k4 * 4 + (ci / 4 * taps + ty * U + ux) * 4 + ci % 4] = v;
              sum += v;
            }
        IrRequant r = ir_qhead_requant(h, m);
        all32 = all32 && cg_qrequant_32bit(r);
        t3[m] = r.mult;
        t3[M + m] = r.shift;
        t3[2 * M + m] = (h->bias ? h->bias[m] : 0) - (int32_t)(offset * sum);
      }
      for (int64_t k = 0; k < M * k4; k++) cg_dot4_pack_quad(spb + k * qb, sq + k * 4, v_copy);
      /* tap (ty, ux) of output (q, qx) reads image row q - ty - iy0, column qx - ux - ix0;
       * relative to the phase's first output (qy0, qx0), at wide column 0 */
      for (int64_t ty = 0; ty < T; ty++)
        for (int64_t ux = 0; ux < U; ux++)
          toff[ry][rx][ty * U + ux] =
              4 * ((s->qy0[ry] - ty - s->iy0) * s->wp + s->qx0[rx] - ux - s->ix0);
      char name[48]; /* "tables" and two 64-bit numbers fit; const_table adds 13
                        (-Wformat-truncation) */
      snprintf(name, sizeof name, "w%lld.%lld", (long long)ry, (long long)rx);
      sp[ry][rx] = const_table(c, n, name, spb, (size_t)(M * k4 * qb));
      snprintf(name, sizeof name, "tables%lld.%lld", (long long)ry, (long long)rx);
      tab[ry][rx] = const_table(c, n, name, t3, sizeof *t3 * (size_t)(3 * M));
      ge33[ry][rx] = all32;
      free(sq);
      free(spb);
      free(t3);
    }
  LLVMValueRef X = c->scratch;
  LLVMValueRef V = cg_gep(c, c->t_i8, X, cg_idx(c, g.x_bytes));
  LLVMValueRef Y = cg_gep(c, c->t_i8, V, cg_idx(c, g.v_bytes));
  LLVMValueRef flip8 = LLVMConstInt(c->t_i8, d.u8_acts ? 0x80 : 0, 0);
  LLVMValueRef pad8 = LLVMConstInt(c->t_i8, pb, 0);
  /* the input rows and columns inside the image */
  int64_t iy_lo = s->iy0 > 0 ? s->iy0 : 0, iy_hi = s->iy0 + s->hp < p->h ? s->iy0 + s->hp : p->h;
  int64_t ix_lo = s->ix0 > 0 ? s->ix0 : 0, ix_hi = s->ix0 + s->wp < p->w ? s->ix0 + s->wp : p->w;
  CgLoop lb;
  LLVMValueRef b = cg_for(c, &lb, p->n);
  LLVMValueRef xb = cg_mulc(c, b, C * p->h * p->w);
  cg_memset(c, X, pb, g.x_bytes);
  if (iy_lo < iy_hi && ix_lo < ix_hi) {
    CgLoop lq, ly, lx;
    LLVMValueRef c4 = cg_for(c, &lq, c4n);
    LLVMValueRef pl[4], real[4];
    for (int k = 0; k < 4; k++) {
      LLVMValueRef ch = cg_addc(c, cg_mulc(c, c4, 4), k);
      real[k] = LLVMBuildICmp(c->b, LLVMIntSLT, ch, cg_idx(c, C), "");
      pl[k] = cg_add(c, xb, cg_mulc(c, cg_smin(c, ch, cg_idx(c, C - 1)), p->h * p->w));
    }
    LLVMValueRef iy = cg_loop_begin(c, &ly, cg_idx(c, iy_lo), cg_idx(c, iy_hi));
    LLVMValueRef drow = cg_add(c, cg_mulc(c, c4, plane),
                               cg_addc(c, cg_mulc(c, iy, s->wp), -s->iy0 * s->wp - s->ix0));
    LLVMValueRef ix = cg_loop_begin(c, &lx, cg_idx(c, ix_lo), cg_idx(c, ix_hi));
    LLVMValueRef word =
        quad_word(c, in[0], pl, real, cg_add(c, cg_mulc(c, iy, p->w), ix), flip8, pad8);
    LLVMValueRef st = LLVMBuildStore(c->b, word, cg_gep(c, c->t_i32, X, cg_add(c, drow, ix)));
    LLVMSetAlignment(st, 4);
    cg_loop_end(c, &lx, NULL, NULL);
    cg_loop_end(c, &ly, NULL, NULL);
    cg_loop_end(c, &lq, NULL, NULL);
  }
  LLVMValueRef oimg = cg_mulc(c, b, M * p->oh * p->ow);
  for (int64_t ry = 0; ry < sh; ry++) {
    int64_t N = s->ny[ry] * s->wp;
    for (int64_t rx = 0; rx < sw; rx++) {
      int64_t taps = ir_subpixel_taps(p->kh, sh, ry) * ir_subpixel_taps(p->kw, sw, rx);
      int64_t k4 = c4n * taps;
      if (v_copy) { /* V row (channel quad, tap): N words of X at the tap's offset */
        CgLoop lq;
        LLVMValueRef c4 = cg_for(c, &lq, c4n);
        for (int64_t t = 0; t < taps; t++)
          cg_memcpy(c,
                    cg_gep(c, c->t_i8, V, cg_mulc(c, cg_addc(c, cg_mulc(c, c4, taps), t), ldv * 4)),
                    cg_gep(c, c->t_i8, X, cg_addc(c, cg_mulc(c, c4, plane * 4), toff[ry][rx][t])),
                    cg_idx(c, N * 4));
        cg_loop_end(c, &lq, NULL, NULL);
      }
      CgQGemm q = {.m = M,
                   .k4 = k4,
                   .n_cols = N,
                   .n_valid = cg_idx(c, N),
                   .s = sp[ry][rx],
                   .v = v_copy ? V : X,
                   .y = cg_gep(c, c->t_i8, Y, cg_idx(c, rx * M * ldv)),
                   .tables = tab[ry][rx],
                   .lds = k4 * qb,
                   .ldv = ldv,
                   .ldy = ldv,
                   .channels = M,
                   .per_row = true,
                   .v_is_acts = true,
                   .shift_ge33 = ge33[ry][rx],
                   .y_zp = h->y_zp};
      if (!v_copy) {
        q.direct_taps = taps;
        q.direct_plane_bytes = plane * 4;
        q.direct_ow = q.direct_pw = s->wp;
        q.direct_tap_off = toff[ry][rx];
      }
      cg_qgemm_emit(c, d, &q);
    }
    /* output row oy = (qy0 + r) sh + ry - pad_t; column phase rx's wide column t is output
     * column k_rx + t sw, k_rx = qx0 sw + rx - pad_l (in [0, sw)); the phases' counts differ by
     * at most one: all of them store up to the smallest, the longer ones one more */
    CgLoop lm, lr;
    LLVMValueRef m = cg_for(c, &lm, M);
    LLVMValueRef r = cg_for(c, &lr, s->ny[ry]);
    LLVMValueRef oy = cg_addc(c, cg_mulc(c, r, sh), s->qy0[ry] * sh + ry - p->pad_t);
    LLVMValueRef orow =
        cg_gep(c, c->t_i8, out[0],
               cg_add(c, oimg, cg_add(c, cg_mulc(c, m, p->oh * p->ow), cg_mulc(c, oy, p->ow))));
    LLVMValueRef src[IR_SUBPIXEL_MAX_STRIDE];
    int64_t nmin = s->nx[0];
    for (int64_t rx = 0; rx < sw; rx++) {
      src[rx] = cg_gep(c, c->t_i8, Y, cg_add(c, cg_mulc(c, m, ldv), cg_mulc(c, r, s->wp)));
      src[rx] = cg_gep(c, c->t_i8, src[rx], cg_idx(c, rx * M * ldv));
      nmin = s->nx[rx] < nmin ? s->nx[rx] : nmin;
    }
    if (sw == 1) {
      cg_memcpy(c, orow, src[0], cg_idx(c, p->ow));
    } else {
      /* vector targets, stride 2: 16 columns of each phase interleaved by one shuffle into 32
       * output bytes; the rest (other strides, the tail) byte by byte */
      int64_t done = 0;
      if (sw == 2 && d.lanes > 1 && nmin >= 16) {
        LLVMTypeRef v16 = LLVMVectorType(c->t_i8, 16);
        LLVMValueRef mask[32];
        for (int l = 0; l < 32; l++) mask[l] = cg_i32c(c, l / 2 + (l % 2) * 16);
        int rx0 = (int)((p->pad_l % 2 + 2) % 2); /* the phase of output column 0 */
        CgLoop lv;
        LLVMValueRef t0 = cg_mulc(c, cg_for(c, &lv, nmin / 16), 16), half[2];
        for (int k = 0; k < 2; k++) {
          half[k] = LLVMBuildLoad2(c->b, v16, cg_gep(c, c->t_i8, src[(rx0 + k) % 2], t0), "");
          LLVMSetAlignment(half[k], 1);
        }
        LLVMValueRef both =
            LLVMBuildShuffleVector(c->b, half[0], half[1], LLVMConstVector(mask, 32), "");
        LLVMValueRef st = LLVMBuildStore(c->b, both, cg_gep(c, c->t_i8, orow, cg_mulc(c, t0, 2)));
        LLVMSetAlignment(st, 1);
        cg_loop_end(c, &lv, NULL, NULL);
        done = nmin / 16 * 16;
      }
      CgLoop lt;
      LLVMValueRef t = cg_loop_begin(c, &lt, cg_idx(c, done), cg_idx(c, nmin));
      for (int64_t rx = 0; rx < sw; rx++) {
        int64_t k = s->qx0[rx] * sw + rx - p->pad_l;
        i8_store(c, i8_load(c, src[rx], t), orow, cg_addc(c, cg_mulc(c, t, sw), k));
      }
      cg_loop_end(c, &lt, NULL, NULL);
      for (int64_t rx = 0; rx < sw; rx++)
        if (s->nx[rx] > nmin) {
          int64_t k = s->qx0[rx] * sw + rx - p->pad_l;
          i8_store(c, i8_load(c, src[rx], cg_idx(c, nmin)), orow, cg_idx(c, nmin * sw + k));
        }
    }
    cg_loop_end(c, &lr, NULL, NULL);
    cg_loop_end(c, &lm, NULL, NULL);
  }
  cg_loop_end(c, &lb, NULL, NULL);
  for (int64_t ry = 0; ry < sh; ry++)
    for (int64_t rx = 0; rx < sw; rx++) free(toff[ry][rx]);
  return true;
}

bool cg_lower_qlinear_conv_transpose(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrNode tmp;
  IrValue *ins[3];
  ir_qconv_as_conv(n, &tmp, ins);
  tmp.n_inputs = 2;
  IrConvParams p;
  bool ok = ir_conv_params(&tmp, &p, NULL);
  assert(ok);
  (void)ok;
  IrQHead h;
  ir_qhead(n, &h);
  if (n->kernel == IR_KERNEL_CONVT_GEMM && c->scratch && lower_qconvt_gemm(c, n, in, out, &p, &h))
    return true;
  if (n->kernel == IR_KERNEL_QCONVT_SUBPIXEL && c->scratch &&
      lower_qconvt_subpixel(c, n, in, out, &p, &h))
    return true;
  return lower_qconvt_loops(c, n, in, out, p, h);
}

bool cg_lower_qadd(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_qbinary(c, n, in, out);
}
bool cg_lower_qmul(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_qbinary(c, n, in, out);
}

/* ---- QGemm: y[i][j] = requant(bias'[j] + sum_k a[i][k] * b[j][k]) ------------------------- */

static bool lower_qgemm_loops(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrQHead h;
  ir_qhead(n, &h);
  const IrValue *a = n->inputs[0], *bv = n->inputs[3];
  int64_t M = a->dims[0], K = a->dims[1], N = h.channels;
  /* B as [N][K] (k contiguous: each output is a dot product) */
  const int8_t *b = bv->data;
  int8_t *bt = malloc((size_t)(N * K));
  if (!bt) abort();
  bool tb = ir_attr_i(n, "transB") != 0;
  for (int64_t j = 0; j < N; j++)
    for (int64_t k = 0; k < K; k++) bt[j * K + k] = tb ? b[j * K + k] : b[k * N + j];
  char name[64];
  snprintf(name, sizeof name, "q%d.b", n->id);
  LLVMValueRef bp = cg_const_bytes(c, bt, (size_t)(N * K), name);
  LLVMValueRef tab = head_tables(c, n, &h, bt, K, h.x_zp, NULL);
  free(bt);
  CgLoop li, lj, lk;
  LLVMValueRef i = cg_for(c, &li, M);
  LLVMValueRef arow = cg_gep(c, c->t_i8, in[0], cg_mulc(c, i, K));
  LLVMValueRef j = cg_for(c, &lj, N);
  LLVMValueRef brow = cg_gep(c, c->t_i8, bp, cg_mulc(c, j, K));
  LLVMValueRef k = cg_for(c, &lk, K);
  LLVMValueRef acc = cg_loop_acc(c, &lk, cg_i32c(c, 0));
  LLVMValueRef prod = LLVMBuildMul(c->b, LLVMBuildSExt(c->b, i8_load(c, arow, k), c->t_i32, ""),
                                   LLVMBuildSExt(c->b, i8_load(c, brow, k), c->t_i32, ""), "");
  LLVMValueRef next = LLVMBuildAdd(c->b, acc, prod, ""), sum;
  cg_loop_end(c, &lk, &next, &sum);
  sum = LLVMBuildAdd(c->b, sum, i32_load(c, tab, cg_addc(c, j, 2 * N)), "");
  LLVMValueRef y = requant(c, sum, i32_load(c, tab, j), i32_load(c, tab, cg_addc(c, j, N)), h.y_zp);
  i8_store(c, y, out[0], cg_add(c, cg_mulc(c, i, N), j));
  cg_loop_end(c, &lj, NULL, NULL);
  cg_loop_end(c, &li, NULL, NULL);
  return true;
}

/* ---- QLinearConv: per output row, taps accumulate into an int32 row -----------------------
 * For each output row of a channel, an int32 row of ow accumulators (on the stack) starts at the
 * bias; every tap (c, i, j) that lands inside the input adds (x - x_zp) * w over the contiguous
 * run of output pixels it reaches (padding stripped by valid ranges), which LLVM vectorizes; then
 * the row is requantized. Integer sums do not depend on their order: bit-exact with the
 * interpreter's loop order. */

/* ---- depthwise QLinearConv on vector targets ------------------------------------------------ */

/* bias + sum_k x[k] * w[k] over V lanes (x: <V x i8> tap vectors, w: <V x i16> splats): the
 * products in i16 lanes (|x w| <= 128 * 127) and, with pair, two of them added before widening
 * to i32 (their sum fits i16 too; a weight of -128, possible in imported models, keeps them
 * single) */
static LLVMValueRef dw_taps(Cg *c, int V, LLVMValueRef bias, LLVMValueRef *x, LLVMValueRef *w,
                            int64_t taps, bool pair) {
  LLVMTypeRef vh = LLVMVectorType(LLVMInt16TypeInContext(c->ctx), (unsigned)V),
              vw = LLVMVectorType(c->t_i32, (unsigned)V);
  LLVMValueRef acc = bias, part = NULL;
  for (int64_t k = 0; k < taps; k++) {
    LLVMValueRef prod = LLVMBuildMul(c->b, LLVMBuildSExt(c->b, x[k], vh, ""), w[k], "");
    part = part ? LLVMBuildAdd(c->b, part, prod, "") : prod;
    if (!pair || k % 2 || k == taps - 1) {
      acc = LLVMBuildAdd(c->b, acc, LLVMBuildSExt(c->b, part, vw, ""), "");
      part = NULL;
    }
  }
  return acc;
}

/* whether two tap products always fit i16 together: no weight is -128 */
static bool dw_pairable(const int8_t *w, int64_t count) {
  for (int64_t k = 0; k < count; k++)
    if (w[k] == -128) return false;
  return true;
}

/* Channel m (run time) of a depthwise conv: its taps' weights as <V x i16> splats, multiplier
 * and shift as <L x i32> splats, bias (x_zp folded in) as a <V x i32> splat. */
static void dw_channel(Cg *c, LLVMValueRef w8, LLVMValueRef tab, LLVMValueRef m, int64_t M,
                       int64_t taps, int V, int L, LLVMValueRef *wv, LLVMValueRef *mult,
                       LLVMValueRef *shift, LLVMValueRef *bias) {
  LLVMTypeRef i16 = LLVMInt16TypeInContext(c->ctx);
  for (int64_t k = 0; k < taps; k++)
    wv[k] = cg_qsplat(
        c, LLVMBuildSExt(c->b, i8_load(c, w8, cg_addc(c, cg_mulc(c, m, taps), k)), i16, ""), V);
  *mult = cg_qsplat(c, i32_load(c, tab, m), L);
  *shift = cg_qsplat(c, i32_load(c, tab, cg_addc(c, m, M)), L);
  *bias = cg_qsplat(c, i32_load(c, tab, cg_addc(c, m, 2 * M)), V);
}

/* cg_qrequant of <V x i32> acc, L lanes at a time, as <V x i8> (V / L a power of two) */
static LLVMValueRef requant_chunks(Cg *c, LLVMValueRef acc, int V, int L, LLVMValueRef mult,
                                   LLVMValueRef shift, int32_t zp, bool ge33) {
  LLVMValueRef y[64], idx[64];
  int n = V / L;
  for (int k = 0; k < n; k++) {
    for (int l = 0; l < L; l++) idx[l] = cg_i32c(c, k * L + l);
    y[k] = cg_qrequant(c, L,
                       LLVMBuildShuffleVector(c->b, acc, LLVMGetUndef(LLVMTypeOf(acc)),
                                              LLVMConstVector(idx, (unsigned)L), ""),
                       mult, shift, zp, ge33);
  }
  for (int w = L; n > 1; n /= 2, w *= 2) { /* concatenate neighbours */
    for (int l = 0; l < 2 * w; l++) idx[l] = cg_i32c(c, l);
    for (int k = 0; k < n / 2; k++)
      y[k] = LLVMBuildShuffleVector(c->b, y[2 * k], y[2 * k + 1],
                                    LLVMConstVector(idx, (unsigned)(2 * w)), "");
  }
  return y[0];
}

/* ---- depthwise QLinearConv on small planes (AVX-512 VNNI + VBMI) ---------------------------
 * Per plane (at most 64 bytes in and out: one register, x ^ 0x80 for vpdpbusd): per 16
 * outputs and quad of taps one vpermt2b builds each output's 4 tap bytes (the zero point where
 * a tap falls into padding; any stride or dilation), one vpdpbusd by the channel's broadcast
 * weight quad; the bias absorbs the zero point and the +128 (as the im2col convs); 4 vectors
 * requantized by one pack. 3 shuffles and 3 vpdpbusd per 16 outputs of a 3x3, where the i16
 * form below widens and multiplies every tap. */
static bool lower_qconv_dw_vnni(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out,
                                const IrConvParams *p) {
  CgDot4 d = cg_dot4_info(c);
  int64_t HW = p->h * p->w, O = p->oh * p->ow, taps = p->kh * p->kw, q4 = (taps + 3) / 4;
  if (d.kind != CG_DOT4_VNNI || !d.vbmi || p->c_per_group != 1 || p->m_per_group != 1 || HW > 64 ||
      O > 64 || taps > 16)
    return false;
  IrQHead h;
  ir_qhead(n, &h);
  for (int64_t m = 0; m < p->m; m++)
    if (!cg_qrequant_32bit(ir_qhead_requant(&h, m))) return false;
  const int8_t *w = n->inputs[3]->data;
  int nvec = (int)((O + 15) / 16);
  LLVMValueRef tab = head_tables(c, n, &h, w, taps, h.x_zp + 128, NULL);
  int8_t *wq = calloc((size_t)(p->m * q4 * 4), 1);
  if (!wq) abort();
  for (int64_t m = 0; m < p->m; m++)
    for (int64_t k = 0; k < taps; k++) wq[m * q4 * 4 + k] = w[m * taps + k];
  LLVMValueRef wt = const_table(c, n, "w", wq, (size_t)(p->m * q4 * 4));
  free(wq);
  LLVMTypeRef v64 = LLVMVectorType(c->t_i8, 64), v16 = LLVMVectorType(c->t_i32, 16);
  LLVMValueRef flip = cg_qsplat(c, LLVMConstInt(c->t_i8, 0x80, 0), 64);
  LLVMValueRef zpv = cg_qsplat(c, LLVMConstInt(c->t_i8, (uint8_t)(h.x_zp ^ 0x80), 0), 64);
  CgLoop lbm;
  LLVMValueRef bm = cg_for(c, &lbm, p->n * p->m); /* batch * channels: planes in and out */
  LLVMValueRef m = LLVMBuildSRem(c->b, bm, cg_idx(c, p->m), "");
  LLVMValueRef x = cg_masked_load(c, v64, cg_gep(c, c->t_i8, in[0], cg_mulc(c, bm, HW)),
                                  cg_lane_mask(c, 64, cg_idx(c, HW)));
  x = LLVMBuildXor(c->b, x, flip, "");
  LLVMValueRef mult = cg_qsplat(c, i32_load(c, tab, m), 16);
  LLVMValueRef shift = cg_qsplat(c, i32_load(c, tab, cg_addc(c, m, p->m)), 16);
  LLVMValueRef acc[4], idx[64];
  for (int v = 0; v < nvec; v++)
    acc[v] = cg_qsplat(c, i32_load(c, tab, cg_addc(c, m, 2 * p->m)), 16);
  for (int64_t qk = 0; qk < q4; qk++) {
    LLVMValueRef wl = LLVMBuildLoad2(
        c->b, c->t_i32, cg_gep(c, c->t_i8, wt, cg_mulc(c, cg_addc(c, cg_mulc(c, m, q4), qk), 4)),
        "");
    LLVMSetAlignment(wl, 1);
    LLVMValueRef wv = cg_qsplat(c, wl, 16);
    for (int v = 0; v < nvec; v++) {
      for (int64_t l = 0; l < 64; l++) {
        int64_t o = v * 16 + l / 4, k = qk * 4 + l % 4;
        int64_t iy = o / p->ow * p->stride_h - p->pad_t + k / p->kw * p->dil_h,
                ix = o % p->ow * p->stride_w - p->pad_l + k % p->kw * p->dil_w;
        bool inside = o < O && k < taps && iy >= 0 && iy < p->h && ix >= 0 && ix < p->w;
        idx[l] = cg_i32c(c, inside ? iy * p->w + ix : 64);
      }
      LLVMValueRef xs = LLVMBuildShuffleVector(c->b, x, zpv, LLVMConstVector(idx, 64), "");
      acc[v] = cg_dot4(c, d, acc[v], LLVMBuildBitCast(c->b, xs, v16, ""), wv);
    }
  }
  LLVMValueRef dst = cg_gep(c, c->t_i8, out[0], cg_mulc(c, bm, O));
  if (nvec == 4) {
    cg_masked_store(c, cg_qrequant_pack4(c, acc, mult, shift, h.y_zp), dst,
                    cg_lane_mask(c, 64, cg_idx(c, O)));
  } else {
    for (int v = 0; v < nvec; v++)
      cg_masked_store(c, cg_qrequant(c, 16, acc[v], mult, shift, h.y_zp, true),
                      cg_gep(c, c->t_i8, dst, cg_idx(c, 16 * v)),
                      cg_lane_mask(c, 16, cg_idx(c, O - 16 * v)));
  }
  cg_loop_end(c, &lbm, NULL, NULL);
  return true;
}

/* ---- depthwise QLinearConv on small planes (AVX-512VBMI) -----------------------------------
 * Planes of at most 64 bytes in and out: the plane in one register (a masked load), each tap
 * one vpermt2b of it and of a zero-point vector (an index per output: its input byte, or the
 * zero point where the tap falls into padding; any stride, padding or dilation), then
 * dw_taps and one store of the plane's outputs. No padded copy, no copy-out. */
static bool lower_qconv_dw_small(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out,
                                 const IrConvParams *p) {
  CgDot4 d = cg_dot4_info(c);
  int64_t HW = p->h * p->w, O = p->oh * p->ow, taps = p->kh * p->kw;
  if (!d.vbmi || p->c_per_group != 1 || p->m_per_group != 1 || HW > 64 || O > 64 || taps > 64)
    return false;
  int L = d.lanes, V = 16;
  while (V < O) V *= 2;
  IrQHead h;
  ir_qhead(n, &h);
  bool ge33, pair = dw_pairable(n->inputs[3]->data, p->m * taps);
  LLVMValueRef tab = head_tables(c, n, &h, n->inputs[3]->data, taps, h.x_zp, &ge33);
  LLVMTypeRef v64 = LLVMVectorType(c->t_i8, 64);
  LLVMValueRef zpv = cg_qsplat(c, LLVMConstInt(c->t_i8, (uint8_t)h.x_zp, 0), 64), xs[64], idx[64];
  CgLoop lbm;
  LLVMValueRef bm = cg_for(c, &lbm, p->n * p->m); /* batch * channels: planes in and out */
  LLVMValueRef m = LLVMBuildSRem(c->b, bm, cg_idx(c, p->m), "");
  LLVMValueRef x = cg_masked_load(c, v64, cg_gep(c, c->t_i8, in[0], cg_mulc(c, bm, HW)),
                                  cg_lane_mask(c, 64, cg_idx(c, HW)));
  for (int64_t k = 0; k < taps; k++) {
    for (int64_t o = 0; o < V; o++) {
      int64_t iy = o / p->ow * p->stride_h - p->pad_t + k / p->kw * p->dil_h,
              ix = o % p->ow * p->stride_w - p->pad_l + k % p->kw * p->dil_w;
      bool inside = o < O && iy >= 0 && iy < p->h && ix >= 0 && ix < p->w;
      idx[o] = cg_i32c(c, inside ? iy * p->w + ix : 64);
    }
    xs[k] = LLVMBuildShuffleVector(c->b, x, zpv, LLVMConstVector(idx, (unsigned)V), "");
  }
  LLVMValueRef wv[64], mult, shift, bias;
  dw_channel(c, in[3], tab, m, p->m, taps, V, L, wv, &mult, &shift, &bias);
  LLVMValueRef y =
      requant_chunks(c, dw_taps(c, V, bias, xs, wv, taps, pair), V, L, mult, shift, h.y_zp, ge33);
  cg_masked_store(c, y, cg_gep(c, c->t_i8, out[0], cg_mulc(c, bm, O)),
                  cg_lane_mask(c, V, cg_idx(c, O)));
  cg_loop_end(c, &lbm, NULL, NULL);
  return true;
}

/* ---- depthwise QLinearConv on vector targets: the padded-wide form ------------------------
 * Per (batch, channel): the plane copied into a zero-point-padded buffer of width PW (stack),
 * then the output computed "wide" over PW columns per row, so that every tap is one contiguous
 * vector load at a constant offset: acc = bias' + sum_taps x[q + off] * w (x_zp folded into
 * bias', the padding is x_zp), requantized a vector at a time into a wide row buffer whose first
 * ow columns of each row are copied out. No bounds checks, no short loops per output row (the
 * loop nest below spends most of its time in them on 8x8 planes). Stride 1 only. */
static bool lower_qconv_dw_wide(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out,
                                const IrConvParams *p) {
  CgDot4 d = cg_dot4_info(c);
  int L = d.lanes, V = 2 * L; /* V outputs a step: the products in i16 lanes, twice as many */
  int64_t PH = p->h + p->pad_t + p->pad_b, PW = p->w + p->pad_l + p->pad_r;
  int64_t Q = p->oh * PW, nvec = (Q + V - 1) / V, taps = p->kh * p->kw;
  int64_t pbytes = PH * PW + (p->kw - 1) * p->dil_w + V, wbytes = nvec * V;
  if (L < 4 || p->c_per_group != 1 || p->m_per_group != 1 || p->stride_h != 1 || p->stride_w != 1 ||
      p->oh != PH - (p->kh - 1) * p->dil_h || p->ow != PW - (p->kw - 1) * p->dil_w ||
      pbytes + wbytes > 65536 || taps > 64)
    return false;
  IrQHead h;
  ir_qhead(n, &h);
  bool ge33;
  LLVMValueRef tab = head_tables(c, n, &h, n->inputs[3]->data, taps, h.x_zp, &ge33);
  LLVMBasicBlockRef here = LLVMGetInsertBlock(c->b);
  LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(c->fn);
  LLVMValueRef first = LLVMGetFirstInstruction(entry);
  if (first)
    LLVMPositionBuilderBefore(c->b, first);
  else
    LLVMPositionBuilderAtEnd(c->b, entry);
  LLVMValueRef pad = LLVMBuildAlloca(c->b, LLVMArrayType2(c->t_i8, (uint64_t)pbytes), "qdwpad");
  LLVMSetAlignment(pad, 64);
  LLVMValueRef wide = LLVMBuildAlloca(c->b, LLVMArrayType2(c->t_i8, (uint64_t)wbytes), "qdwout");
  LLVMSetAlignment(wide, 64);
  LLVMPositionBuilderAtEnd(c->b, here);
  bool pair = dw_pairable(n->inputs[3]->data, p->m * taps);
  LLVMTypeRef vb = LLVMVectorType(c->t_i8, (unsigned)V);
  CgLoop lbm, lr, lv, lo;
  LLVMValueRef bm = cg_for(c, &lbm, p->n * p->m); /* batch * channels: planes in and out */
  LLVMValueRef m = LLVMBuildSRem(c->b, bm, cg_idx(c, p->m), "");
  cg_memset(c, pad, (uint8_t)h.x_zp, pbytes);
  LLVMValueRef r = cg_for(c, &lr, p->h);
  cg_memcpy(c, cg_gep(c, c->t_i8, pad, cg_addc(c, cg_mulc(c, r, PW), p->pad_t * PW + p->pad_l)),
            cg_gep(c, c->t_i8, in[0], cg_add(c, cg_mulc(c, bm, p->h * p->w), cg_mulc(c, r, p->w))),
            cg_idx(c, p->w));
  cg_loop_end(c, &lr, NULL, NULL);
  LLVMValueRef wv[64], mult, shift, bias;
  dw_channel(c, in[3], tab, m, p->m, taps, V, L, wv, &mult, &shift, &bias);
  LLVMValueRef v = cg_for(c, &lv, nvec);
  LLVMValueRef q0 = cg_mulc(c, v, V), xs[64];
  for (int64_t k = 0; k < taps; k++) {
    int64_t off = k / p->kw * p->dil_h * PW + k % p->kw * p->dil_w;
    xs[k] = LLVMBuildLoad2(c->b, vb, cg_gep(c, c->t_i8, pad, cg_addc(c, q0, off)), "");
    LLVMSetAlignment(xs[k], 1);
  }
  LLVMValueRef acc = dw_taps(c, V, bias, xs, wv, taps, pair);
  LLVMValueRef st = LLVMBuildStore(c->b, requant_chunks(c, acc, V, L, mult, shift, h.y_zp, ge33),
                                   cg_gep(c, c->t_i8, wide, q0));
  LLVMSetAlignment(st, 1);
  cg_loop_end(c, &lv, NULL, NULL);
  LLVMValueRef oy = cg_for(c, &lo, p->oh);
  cg_memcpy(
      c,
      cg_gep(c, c->t_i8, out[0], cg_add(c, cg_mulc(c, bm, p->oh * p->ow), cg_mulc(c, oy, p->ow))),
      cg_gep(c, c->t_i8, wide, cg_mulc(c, oy, PW)), cg_idx(c, p->ow));
  cg_loop_end(c, &lo, NULL, NULL);
  cg_loop_end(c, &lbm, NULL, NULL);
  return true;
}

static bool lower_qconv_loops(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrNode tmp;
  IrValue *ins[3];
  ir_qconv_as_conv(n, &tmp, ins);
  IrConvParams p;
  bool ok = ir_conv_params(&tmp, &p, NULL);
  assert(ok);
  (void)ok;
  if (!n->pool &&
      (lower_qconv_dw_vnni(c, n, in, out, &p) || lower_qconv_dw_small(c, n, in, out, &p) ||
       lower_qconv_dw_wide(c, n, in, out, &p)))
    return true;
  IrQHead h;
  ir_qhead(n, &h);
  int64_t taps = p.c_per_group * p.kh * p.kw;
  bool ge33; /* padded taps are skipped, so x_zp is not folded into the bias */
  LLVMValueRef tab = head_tables(c, n, &h, n->inputs[3]->data, taps, 0, &ge33);
  LLVMValueRef xzp = cg_i32c(c, h.x_zp);
  /* the row of accumulators: a static alloca in the entry block */
  LLVMBasicBlockRef here = LLVMGetInsertBlock(c->b);
  LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(c->fn);
  LLVMValueRef first = LLVMGetFirstInstruction(entry);
  if (first)
    LLVMPositionBuilderBefore(c->b, first);
  else
    LLVMPositionBuilderAtEnd(c->b, entry);
  LLVMValueRef row = LLVMBuildAlloca(c->b, LLVMArrayType2(c->t_i32, (uint64_t)p.ow), "qrow");
  LLVMSetAlignment(row, 16);
  /* a fused MaxPool 2x2/2 (passes/pass_qpool.c): the rows 0 .. 2 ph - 1 only; per even row the
   * max of each column pair into prow, per odd row the window's max requantized once */
  int64_t ph = p.oh / 2, pw = p.ow / 2;
  LLVMValueRef prow =
      n->pool ? LLVMBuildAlloca(c->b, LLVMArrayType2(c->t_i32, (uint64_t)pw), "qprow") : NULL;
  LLVMPositionBuilderAtEnd(c->b, here);
  CgLoop lb, lm, loh, l0, lc, li, low, ly;
  LLVMValueRef b = cg_for(c, &lb, p.n);
  LLVMValueRef m = cg_for(c, &lm, p.m);
  LLVMValueRef g = LLVMBuildSDiv(c->b, m, cg_idx(c, p.m_per_group), "");
  LLVMValueRef mult = i32_load(c, tab, m), shift = i32_load(c, tab, cg_addc(c, m, p.m)),
               bias = i32_load(c, tab, cg_addc(c, m, 2 * p.m));
  LLVMValueRef xg =
      cg_mulc(c, cg_add(c, cg_mulc(c, b, p.c), cg_mulc(c, g, p.c_per_group)), p.h * p.w);
  LLVMValueRef wm = cg_mulc(c, m, taps);
  LLVMValueRef yplane = cg_mulc(c, cg_add(c, cg_mulc(c, b, p.m), m), prow ? ph * pw : p.oh * p.ow);
  LLVMValueRef oh = cg_for(c, &loh, prow ? 2 * ph : p.oh);
  LLVMValueRef o0 = cg_for(c, &l0, p.ow);
  LLVMBuildStore(c->b, bias, cg_gep(c, c->t_i32, row, o0));
  cg_loop_end(c, &l0, NULL, NULL);
  LLVMValueRef ilo, ihi;
  LLVMValueRef ih0 = cg_addc(c, cg_mulc(c, oh, p.stride_h), -p.pad_t);
  cg_valid_range(c, ih0, p.dil_h, p.h, p.kh, &ilo, &ihi);
  LLVMValueRef ci = cg_for(c, &lc, p.c_per_group);
  LLVMValueRef xc = cg_add(c, xg, cg_mulc(c, ci, p.h * p.w));
  LLVMValueRef wc = cg_add(c, wm, cg_mulc(c, ci, p.kh * p.kw));
  LLVMValueRef i = cg_loop_begin(c, &li, ilo, ihi);
  LLVMValueRef xrow = cg_add(c, xc, cg_mulc(c, cg_add(c, ih0, cg_mulc(c, i, p.dil_h)), p.w));
  LLVMValueRef wrow = cg_add(c, wc, cg_mulc(c, i, p.kw));
  for (int64_t j = 0; j < p.kw; j++) {
    int64_t off = j * p.dil_w - p.pad_l; /* input column of output pixel 0 */
    LLVMValueRef lo, hi;
    cg_valid_range(c, cg_idx(c, off), p.stride_w, p.w, p.ow, &lo, &hi);
    LLVMValueRef wv = LLVMBuildSExt(c->b, i8_load(c, in[3], cg_addc(c, wrow, j)), c->t_i32, "");
    LLVMValueRef ow = cg_loop_begin(c, &low, lo, hi);
    LLVMValueRef xv =
        i8_load(c, in[0], cg_add(c, xrow, cg_addc(c, cg_mulc(c, ow, p.stride_w), off)));
    LLVMValueRef prod = LLVMBuildMul(
        c->b, LLVMBuildSub(c->b, LLVMBuildSExt(c->b, xv, c->t_i32, ""), xzp, ""), wv, "");
    LLVMValueRef at = cg_gep(c, c->t_i32, row, ow);
    LLVMBuildStore(c->b, LLVMBuildAdd(c->b, LLVMBuildLoad2(c->b, c->t_i32, at, ""), prod, ""), at);
    cg_loop_end(c, &low, NULL, NULL);
  }
  cg_loop_end(c, &li, NULL, NULL);
  cg_loop_end(c, &lc, NULL, NULL);
  if (prow) {
    LLVMValueRef px = cg_for(c, &ly, pw);
    LLVMValueRef a0 =
        LLVMBuildLoad2(c->b, c->t_i32, cg_gep(c, c->t_i32, row, cg_mulc(c, px, 2)), "");
    LLVMValueRef a1 = LLVMBuildLoad2(
        c->b, c->t_i32, cg_gep(c, c->t_i32, row, cg_addc(c, cg_mulc(c, px, 2), 1)), "");
    LLVMValueRef v = cg_smax(c, a0, a1), at = cg_gep(c, c->t_i32, prow, px);
    CgIf odd;
    cg_if_begin(c, &odd, LLVMBuildTrunc(c->b, oh, c->t_i1, ""));
    LLVMValueRef pool_y =
        cg_add(c, yplane, cg_add(c, cg_mulc(c, LLVMBuildLShr(c->b, oh, cg_idx(c, 1), ""), pw), px));
    i8_store(c,
             cg_qrequant(c, 1, cg_smax(c, v, LLVMBuildLoad2(c->b, c->t_i32, at, "")), mult, shift,
                         h.y_zp, ge33),
             out[0], pool_y);
    cg_if_else(c, &odd);
    LLVMBuildStore(c->b, v, at);
    cg_if_end(c, &odd);
    cg_loop_end(c, &ly, NULL, NULL);
  } else {
    LLVMValueRef oy = cg_for(c, &ly, p.ow);
    LLVMValueRef acc = LLVMBuildLoad2(c->b, c->t_i32, cg_gep(c, c->t_i32, row, oy), "");
    i8_store(c, cg_qrequant(c, 1, acc, mult, shift, h.y_zp, ge33), out[0],
             cg_add(c, yplane, cg_add(c, cg_mulc(c, oh, p.ow), oy)));
    cg_loop_end(c, &ly, NULL, NULL);
  }
  cg_loop_end(c, &loh, NULL, NULL);
  cg_loop_end(c, &lm, NULL, NULL);
  cg_loop_end(c, &lb, NULL, NULL);
  return true;
}

/* ---- MaxPool on int8: a max over the valid taps of each window ----------------------------- */

/* max(best, the bytes of x at idx[0..n)) per lane (best NULL: those bytes) */
static LLVMValueRef pick_max(Cg *c, LLVMValueRef x, LLVMValueRef *idx, int n, LLVMValueRef best) {
  LLVMValueRef t = LLVMBuildShuffleVector(c->b, x, LLVMGetUndef(LLVMTypeOf(x)),
                                          LLVMConstVector(idx, (unsigned)n), "");
  return best ? LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, t, best, ""), t, best, "")
              : t;
}

/* One step of the 2x2/2 MaxPool on rows of w | 32 bytes: 256 input bytes (4 vectors from byte v0
 * of x) to 64 outputs (from byte o0 = v0 / 4 of y); masked: the loads and the store stop at
 * nin and nin / 4. */
static void pool2x2_step(Cg *c, int64_t w, LLVMValueRef x, LLVMValueRef y, LLVMValueRef v0,
                         LLVMValueRef o0, int64_t nin, bool masked) {
  LLVMTypeRef vt = LLVMVectorType(c->t_i8, 64);
  LLVMValueRef rows[4], half[2], idx[64];
  for (int k = 0; k < 4; k++) {
    LLVMValueRef at = cg_addc(c, v0, 64 * k), src = cg_gep(c, c->t_i8, x, at);
    if (masked) {
      rows[k] = cg_masked_load(c, vt, src, cg_lane_mask(c, 64, cg_sub(c, cg_idx(c, nin), at)));
    } else {
      rows[k] = LLVMBuildLoad2(c->b, vt, src, "");
      LLVMSetAlignment(rows[k], 1);
    }
  }
  /* per 128 bytes (64 / w row pairs): the top and the bottom rows of the pairs, their max */
  for (int hh = 0; hh < 2; hh++) {
    LLVMValueRef tb[2];
    for (int b = 0; b < 2; b++) {
      for (int64_t l = 0; l < 64; l++) idx[l] = cg_i32c(c, l / w * 2 * w + b * w + l % w);
      tb[b] = LLVMBuildShuffleVector(c->b, rows[2 * hh], rows[2 * hh + 1], LLVMConstVector(idx, 64),
                                     "");
    }
    half[hh] = cg_smax(c, tb[0], tb[1]);
  }
  /* the even and the odd columns of the 128 row maxima: 64 outputs */
  LLVMValueRef eo[2];
  for (int b = 0; b < 2; b++) {
    for (int l = 0; l < 64; l++) idx[l] = cg_i32c(c, 2 * l + b);
    eo[b] = LLVMBuildShuffleVector(c->b, half[0], half[1], LLVMConstVector(idx, 64), "");
  }
  LLVMValueRef best = cg_smax(c, eo[0], eo[1]);
  LLVMValueRef dst = cg_gep(c, c->t_i8, y, o0);
  if (masked) {
    cg_masked_store(c, best, dst, cg_lane_mask(c, 64, cg_sub(c, cg_idx(c, nin / 4), o0)));
  } else {
    LLVMValueRef st = LLVMBuildStore(c->b, best, dst);
    LLVMSetAlignment(st, 1);
  }
}

bool cg_lower_max_pool_i8(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrConvParams p;
  bool ok = ir_conv_params(n, &p, NULL);
  assert(ok);
  (void)ok;
  bool inside = p.pad_t == 0 && p.pad_l == 0 &&
                (p.oh - 1) * p.stride_h + (p.kh - 1) * p.dil_h < p.h &&
                (p.ow - 1) * p.stride_w + (p.kw - 1) * p.dil_w < p.w;
  CgDot4 d = cg_dot4_info(c);
  int64_t s = p.stride_w, vl = s >= 2 && 64 % s == 0 ? 64 / s : 0;
  if (inside && d.vbmi && s == 2 && p.kh == 2 && p.kw == 2 && p.stride_h == 2 && p.dil_h == 1 &&
      p.dil_w == 1 && p.oh * 2 == p.h && p.ow * 2 == p.w && 32 % p.w == 0) {
    /* AVX-512VBMI, 2x2/2 windows tiling planes of rows of w | 32: the input is a run of row
     * pairs whose outputs are contiguous in y; per 256 bytes the pairs' top and bottom rows by
     * two-source shuffles, vpmaxsb, the even and the odd columns by two more, vpmaxsb: 64
     * outputs (a vpermb per tap and 16 outputs before); a masked step for the tail */
    int64_t nin = p.n * p.c * p.h * p.w, full = nin / 256;
    if (full > 0) {
      CgLoop lv;
      LLVMValueRef v = cg_for(c, &lv, full);
      pool2x2_step(c, p.w, in[0], out[0], cg_mulc(c, v, 256), cg_mulc(c, v, 64), nin, false);
      cg_loop_end(c, &lv, NULL, NULL);
    }
    if (nin % 256)
      pool2x2_step(c, p.w, in[0], out[0], cg_idx(c, full * 256), cg_idx(c, full * 64), nin, true);
    return true;
  }
  if (inside && d.vbmi && s >= 2 && p.kh == s && p.kw == s && p.stride_h == s && p.dil_h == 1 &&
      p.dil_w == 1 && p.oh * s == p.h && p.ow * s == p.w && 64 % (s * p.w) == 0) {
    /* AVX-512VBMI, s x s windows tiling planes of short rows (2x2/2 on w <= 32): the input
     * is a run of s-row groups, 64 / (s w) of them per 64 bytes, whose 64 / s^2 outputs are
     * contiguous in y; per tap one vpermb picks them, vpmaxsb; tails masked */
    LLVMTypeRef vin = LLVMVectorType(c->t_i8, 64);
    int64_t per = 64 / (s * s), nin = p.n * p.c * p.h * p.w, nout = nin / (s * s);
    CgLoop lv;
    LLVMValueRef v = cg_for(c, &lv, (nin + 63) / 64), best = NULL;
    LLVMValueRef x =
        cg_masked_load(c, vin, cg_gep(c, c->t_i8, in[0], cg_mulc(c, v, 64)),
                       cg_lane_mask(c, 64, cg_sub(c, cg_idx(c, nin), cg_mulc(c, v, 64))));
    for (int64_t i = 0; i < s; i++)
      for (int64_t j = 0; j < s; j++) {
        LLVMValueRef idx[64];
        for (int64_t o = 0; o < per; o++)
          idx[o] = cg_i32c(c, o / p.ow * s * p.w + i * p.w + o % p.ow * s + j);
        best = pick_max(c, x, idx, (int)per, best);
      }
    cg_masked_store(c, best, cg_gep(c, c->t_i8, out[0], cg_mulc(c, v, per)),
                    cg_lane_mask(c, (int)per, cg_sub(c, cg_idx(c, nout), cg_mulc(c, v, per))));
    cg_loop_end(c, &lv, NULL, NULL);
    return true;
  }
  if (inside && d.masked && vl && p.kw <= s && p.dil_w == 1 && p.kh <= 16) {
    /* AVX-512BW, windows inside that do not overlap along a row (2x2/2): per output row and
     * chunk of vl outputs, one masked 64-byte load per input row, the kw taps picked by
     * shuffles, vpmaxsb, one masked store (qpool_windows runs 2-lane vectors on 14-wide rows) */
    LLVMTypeRef vin = LLVMVectorType(c->t_i8, 64);
    CgLoop lbc, loh, lch;
    LLVMValueRef bc = cg_for(c, &lbc, p.n * p.c);
    LLVMValueRef oh = cg_for(c, &loh, p.oh);
    LLVMValueRef row0 = cg_add(c, cg_mulc(c, bc, p.h * p.w), cg_mulc(c, oh, p.stride_h * p.w));
    LLVMValueRef yrow = cg_add(c, cg_mulc(c, bc, p.oh * p.ow), cg_mulc(c, oh, p.ow));
    LLVMValueRef ch = cg_for(c, &lch, (p.ow + vl - 1) / vl);
    LLVMValueRef o = cg_mulc(c, ch, vl), best = NULL;
    LLVMValueRef nout = cg_smin(c, cg_idx(c, vl), cg_sub(c, cg_idx(c, p.ow), o));
    LLVMValueRef in_mask = cg_lane_mask(c, 64, cg_addc(c, cg_mulc(c, nout, s), p.kw - s));
    for (int64_t i = 0; i < p.kh; i++) {
      LLVMValueRef at = cg_add(c, row0, cg_addc(c, cg_mulc(c, o, s), i * p.dil_h * p.w));
      LLVMValueRef x = cg_masked_load(c, vin, cg_gep(c, c->t_i8, in[0], at), in_mask);
      for (int64_t j = 0; j < p.kw; j++) {
        LLVMValueRef idx[64];
        for (int64_t l = 0; l < vl; l++) idx[l] = cg_i32c(c, l * s + j);
        best = pick_max(c, x, idx, (int)vl, best);
      }
    }
    cg_masked_store(c, best, cg_gep(c, c->t_i8, out[0], cg_add(c, yrow, o)),
                    cg_lane_mask(c, (int)vl, nout));
    cg_loop_end(c, &lch, NULL, NULL);
    cg_loop_end(c, &loh, NULL, NULL);
    cg_loop_end(c, &lbc, NULL, NULL);
    return true;
  }
  qpool_windows(c, &p, false, false, 0, in[0], out[0]);
  return true;
}

/* ---- the int8 micro-kernel (kernels/cg_gemm_i8.c) ------------------------------------------ */

/* The int8 GEMM's S operand: A's M rows of K bytes (each xor flip) as rows of k4 quads at s,
 * the K tail padded with 0 (its weights are 0); widened (Arm DSP): each quad (a0 a1 a2 a3) as
 * the i16 pairs (a0, a2), (a1, a3) that smlad multiplies with the sxtb16 halves of a weight
 * quad. */
static void pack_gemm_acts(Cg *c, LLVMValueRef a_in, int64_t M, int64_t K, bool widen, int flip,
                           LLVMValueRef s) {
  int64_t k4 = (K + 3) / 4;
  LLVMValueRef fl = LLVMConstInt(c->t_i8, (unsigned long long)flip, 0);
  if (widen) {
    static const int half[4] = {0, 2, 1, 3};
    LLVMTypeRef i16 = LLVMInt16TypeInContext(c->ctx);
    CgLoop li, lq;
    LLVMValueRef i = cg_for(c, &li, M);
    LLVMValueRef srow = cg_mulc(c, i, k4 * 4), arow = cg_mulc(c, i, K);
    LLVMValueRef kq = cg_for(c, &lq, K / 4);
    for (int t = 0; t < 4; t++) {
      LLVMValueRef a = i8_load(c, a_in, cg_add(c, arow, cg_addc(c, cg_mulc(c, kq, 4), t)));
      if (flip) a = LLVMBuildXor(c->b, a, fl, "");
      LLVMValueRef st = LLVMBuildStore(
          c->b, LLVMBuildSExt(c->b, a, i16, ""),
          cg_gep(c, i16, s, cg_add(c, srow, cg_addc(c, cg_mulc(c, kq, 4), half[t]))));
      LLVMSetAlignment(st, 2);
    }
    cg_loop_end(c, &lq, NULL, NULL);
    for (int64_t k = K / 4 * 4; k < k4 * 4; k++) { /* the tail quad; padding is 0 */
      LLVMValueRef a = LLVMConstInt(i16, 0, 0);
      if (k < K) {
        a = i8_load(c, a_in, cg_addc(c, arow, k));
        if (flip) a = LLVMBuildXor(c->b, a, fl, "");
        a = LLVMBuildSExt(c->b, a, i16, "");
      }
      LLVMValueRef st =
          LLVMBuildStore(c->b, a, cg_gep(c, i16, s, cg_addc(c, srow, k / 4 * 4 + half[k % 4])));
      LLVMSetAlignment(st, 2);
    }
    cg_loop_end(c, &li, NULL, NULL);
    return;
  }
  CgLoop li, lk;
  LLVMValueRef i = cg_for(c, &li, M);
  LLVMValueRef srow = cg_mulc(c, i, k4 * 4), arow = cg_mulc(c, i, K);
  LLVMValueRef k = cg_for(c, &lk, K);
  i8_store(c, LLVMBuildXor(c->b, i8_load(c, a_in, cg_add(c, arow, k)), fl, ""), s,
           cg_add(c, srow, k));
  cg_loop_end(c, &lk, NULL, NULL);
  for (int64_t kk = K; kk < k4 * 4; kk++)
    i8_store(c, LLVMConstInt(c->t_i8, 0, 0), s, cg_addc(c, srow, kk));
  cg_loop_end(c, &li, NULL, NULL);
}

/* QGemm: B packed at compile time as V [k4][vcols][4]; the activations repacked into the
 * scratch as S [M][k4 * 4] (x ^ 0x80 for vpdpbusd); per-column tables. */
static bool lower_qgemm_dot4(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  CgDot4 d = cg_dot4_info(c);
  IrQHead h;
  ir_qhead(n, &h);
  const IrValue *a = n->inputs[0];
  const int8_t *b = n->inputs[3]->data;
  bool tb = ir_attr_i(n, "transB") != 0;
  int64_t M = a->dims[0], K = a->dims[1], N = h.channels, k4 = (K + 3) / 4;
  int64_t vcols = cg_qgemm_v_cols(d, N);
  bool unpacked = false; /* Gemm weights stay packed (flash), also for smlad */
  int64_t qb = 4;
  /* Arm DSP with room for them: the activations widened once to i16 (below); on Thumb with 4+
   * columns the weights strip-major for the 1 x 4 tile's ldm (CgQGemm.v_strip_major) */
  bool widen = d.kind == CG_DOT4_SMLAD && n->scratch_bytes >= M * k4 * 8;
  bool strip_major = widen && N >= 4 && cg_is_thumb(c);
  int8_t *v = calloc((size_t)(k4 * qb * vcols), 1);
  int32_t *t = calloc((size_t)(3 * vcols), sizeof *t);
  if (!v || !t) abort();
  int32_t offset = h.x_zp + (d.u8_acts ? 128 : 0);
  bool ge33 = true;
  for (int64_t j = 0; j < vcols; j++) {
    t[vcols + j] = 62; /* padding columns: any valid shift (their outputs are not stored) */
    if (j >= N) continue;
    IrRequant r = ir_qhead_requant(&h, j);
    ge33 = ge33 && cg_qrequant_32bit(r);
    int64_t sum = 0;
    for (int64_t kq = 0; kq < k4; kq++) {
      int8_t quad[4] = {0};
      for (int64_t k = kq * 4; k < kq * 4 + 4 && k < K; k++) {
        quad[k % 4] = tb ? b[j * K + k] : b[k * N + j];
        sum += quad[k % 4];
      }
      int64_t at = strip_major ? (j / 4 * k4 + kq) * 4 + j % 4 : kq * vcols + j;
      cg_dot4_pack_quad(v + at * qb, quad, unpacked);
    }
    t[j] = r.mult;
    t[vcols + j] = r.shift;
    t[2 * vcols + j] = (h.bias ? h.bias[j] : 0) - (int32_t)(offset * sum);
  }
  LLVMValueRef vp = const_table(c, n, "b", v, (size_t)(k4 * qb * vcols));
  LLVMValueRef tab = const_table(c, n, "tables", t, sizeof *t * (size_t)(3 * vcols));
  free(v);
  free(t);
  pack_gemm_acts(c, in[0], M, K, widen, d.u8_acts ? 0x80 : 0, c->scratch);
  CgQGemm q = {.m = M,
               .k4 = k4,
               .n_cols = N,
               .n_valid = cg_idx(c, N),
               .s = c->scratch,
               .v = vp,
               .y = out[0],
               .tables = tab,
               .lds = k4 * (widen ? 8 : 4),
               .s_unpacked = widen,
               .v_strip_major = strip_major,
               .ldv = vcols,
               .ldy = N,
               .n_pad = vcols,
               .channels = N,
               .per_row = false,
               .v_is_acts = false,
               .shift_ge33 = ge33,
               .y_zp = h.y_zp};
  cg_qgemm_emit(c, d, &q);
  return true;
}

/* ---- QLinearConv on Arm DSP: i16 pairs ------------------------------------------------------
 * The im2col widens the activations once, into words of two i16 (ir_qconv_steps with pairs),
 * and the weights are i16 pairs in flash, so the tile's step is a load per operand and one
 * smlad per accumulator (4 channels x 2 pixels), with no unpacking in the loop. */

/* The reduction index (channel * taps + tap) of half hh of pair step s; -1: padding (weight 0). */
static int64_t pair_reduction(const IrConvParams *p, int64_t s, int hh) {
  int64_t taps = p->kh * p->kw, K = p->c_per_group * taps;
  if (ir_qconv_pairs_in_order(p)) return 2 * s + hh < K ? 2 * s + hh : -1;
  int64_t c2n = (p->c_per_group + 1) / 2, ch = 2 * (s % c2n) + hh;
  return ch < p->c_per_group ? ch * taps + s / c2n : -1;
}

/* One half of a pair step s (run time) for im2col: the input offset of output pixel 0 of the
 * row (plane + ih * w + iw0) and its valid output pixels [lo, hi) (empty outside the rows). */
typedef struct PairHalf {
  LLVMValueRef plane, di, dj;
} PairHalf;

static PairHalf pair_half(Cg *c, const IrConvParams *p, LLVMValueRef xg, LLVMValueRef s, int hh) {
  int64_t taps = p->kh * p->kw;
  LLVMValueRef ch, tap;
  if (ir_qconv_pairs_in_order(p)) { /* a padding half reads the last real one (weight 0) */
    LLVMValueRef k =
        cg_smin(c, cg_addc(c, cg_mulc(c, s, 2), hh), cg_idx(c, p->c_per_group * taps - 1));
    ch = LLVMBuildSDiv(c->b, k, cg_idx(c, taps), "");
    tap = LLVMBuildSRem(c->b, k, cg_idx(c, taps), "");
  } else {
    int64_t c2n = (p->c_per_group + 1) / 2;
    tap = LLVMBuildSDiv(c->b, s, cg_idx(c, c2n), "");
    ch = cg_addc(c, cg_mulc(c, LLVMBuildSRem(c->b, s, cg_idx(c, c2n), ""), 2), hh);
    ch = cg_smin(c, ch, cg_idx(c, p->c_per_group - 1));
  }
  PairHalf r;
  r.plane = cg_add(c, xg, cg_mulc(c, ch, p->h * p->w));
  r.di =
      cg_addc(c, cg_mulc(c, LLVMBuildSDiv(c->b, tap, cg_idx(c, p->kw), ""), p->dil_h), -p->pad_t);
  r.dj =
      cg_addc(c, cg_mulc(c, LLVMBuildSRem(c->b, tap, cg_idx(c, p->kw), ""), p->dil_w), -p->pad_l);
  return r;
}

/* ConvInteger on the pairs tile (Arm DSP): x - x_zp and w - w_zp[m] both fit i16, so the pairs
 * hold them as they are: the sums are exact with no bias or window term, the padding 0. */
typedef struct PairInt {
  LLVMValueRef scratch; /* the panel's */
  LLVMValueRef xz;      /* x_zp, i32 */
  bool x_u8;
  LLVMValueRef scale_one; /* the fused scale: one value, or (scale_ch) in[4] per channel */
  bool scale_ch;
} PairInt;

/* word = (x0 as i16) | (x1 as i16) << 16 for output pixels [from, to) of the panel row at
 * prow (words); checked: each half loads only inside [lo, hi), else the zero point. With
 * major (pair-major V, CgQGemm.v_pair_major): prow is the row's first column n and column n of
 * step s goes to word (n & ~1) * kp + 2 s + (n & 1), major = 2 s. */
static void pair_pixels(Cg *c, const IrConvParams *p, LLVMValueRef x, LLVMValueRef prow,
                        LLVMValueRef major, int64_t kp, LLVMValueRef from, LLVMValueRef to,
                        LLVMValueRef roff[2], LLVMValueRef lo[2], LLVMValueRef hi[2], bool checked,
                        int32_t zp, bool pool, const PairInt *ci) {
  CgLoop l;
  LLVMValueRef ow = cg_loop_begin(c, &l, from, to), half[2];
  for (int hh = 0; hh < 2; hh++) {
    LLVMValueRef at = cg_add(c, roff[hh], cg_mulc(c, ow, p->stride_w)), ok = NULL;
    if (checked) {
      ok = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, ow, lo[hh], ""),
                        LLVMBuildICmp(c->b, LLVMIntSLT, ow, hi[hh], ""), "");
      at = LLVMBuildSelect(c->b, ok, at, cg_idx(c, 0), "");
    }
    LLVMValueRef v = ci && ci->x_u8 ? LLVMBuildZExt(c->b, i8_load(c, x, at), c->t_i32, "")
                                    : LLVMBuildSExt(c->b, i8_load(c, x, at), c->t_i32, "");
    if (ci) v = LLVMBuildSub(c->b, v, ci->xz, ""); /* ConvInteger: x - x_zp, padding 0 */
    if (checked) v = LLVMBuildSelect(c->b, ok, v, cg_i32c(c, ci ? 0 : zp), "");
    half[hh] = v;
  }
  LLVMValueRef word = LLVMBuildOr(c->b, LLVMBuildAnd(c->b, half[0], cg_i32c(c, 0xffff), ""),
                                  LLVMBuildShl(c->b, half[1], cg_i32c(c, 16), ""), "");
  /* pool: pixel ow of the row is column prow + 4 (ow / 2) + ow % 2 (lower_qconv_pairs) */
  LLVMValueRef at = pool
                        ? cg_add(c, prow,
                                 cg_add(c, cg_mulc(c, LLVMBuildLShr(c->b, ow, cg_idx(c, 1), ""), 4),
                                        LLVMBuildAnd(c->b, ow, cg_idx(c, 1), "")))
                        : cg_add(c, prow, ow);
  if (major)
    at = cg_add(c, cg_add(c, cg_mulc(c, LLVMBuildAnd(c->b, at, cg_idx(c, -2), ""), kp), major),
                LLVMBuildAnd(c->b, at, cg_idx(c, 1), ""));
  LLVMValueRef st =
      LLVMBuildStore(c->b, word, cg_gep(c, c->t_i32, ci ? ci->scratch : c->scratch, at));
  LLVMSetAlignment(st, 4);
  cg_loop_end(c, &l, NULL, NULL);
}

static bool lower_qconv_pairs(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out,
                              const IrConvParams *p, const IrQConvPanel *pq, CgDot4 d,
                              const PairInt *ci) {
  IrQHead h = {0};
  int64_t K = p->c_per_group * p->kh * p->kw, kp = pq->k4, M = p->m;
  const IrValue *wv = n->inputs[ci ? 1 : 3];
  const int8_t *w = wv->data;
  uint32_t *sw = calloc((size_t)(M * kp), sizeof *sw);
  if (!sw) abort();
  bool ge33 = false;
  LLVMValueRef tab = NULL;
  if (!ci) {
    ir_qhead(n, &h);
    tab = head_tables(c, n, &h, w, K, h.x_zp, &ge33);
  }
  for (int64_t m = 0; m < M; m++) {
    for (int64_t s = 0; s < kp; s++)
      for (int hh = 0; hh < 2; hh++) {
        int64_t k = pair_reduction(p, s, hh);
        if (k < 0) continue;
        int64_t mg = m % p->m_per_group, at = m / p->m_per_group * p->m_per_group * kp +
                                              cg_qpair_offset(mg, s, p->m_per_group, kp) / 4;
        /* ConvInteger: w - w_zp[m], in [-255, 255] */
        int32_t wk = ci ? ir_int8_value(wv->dtype, w, m * K + k) - ir_matmul_integer_bzp(n, m)
                        : w[m * K + k];
        sw[at] |= (uint32_t)(uint16_t)(int16_t)wk << (16 * hh);
      }
  }
  LLVMValueRef sp = const_table(c, n, "w", sw, sizeof *sw * (size_t)(M * kp));
  free(sw);
  /* a fused MaxPool 2x2/2 (passes/pass_qpool.c): panels of an even number of rows, only the
   * 2 ph x 2 pw pixels the pool reads, in window order (CgQGemm.pool): pixel (r, x) of the
   * panel is column 4 ((r / 2) pw + x / 2) + 2 (r % 2) + x % 2 */
  bool pool = n->pool != NULL;
  int64_t ph = p->oh / 2, pw = p->ow / 2, prows = pool ? pq->rows / 2 * 2 : pq->rows;
  int64_t oh_used = pool ? 2 * ph : p->oh, ow_used = pool ? 2 * pw : p->ow;
  assert(prows >= 1 && (!pool || prows >= 2));
  int64_t panels = (oh_used + prows - 1) / prows;
  /* pair-major V (the tile's steps at constant offsets): whenever a strip has 2 columns */
  bool major = prows * ow_used >= 2;
  CgLoop lb, lg, lp, ls, lr;
  LLVMValueRef b = cg_for(c, &lb, p->n);
  LLVMValueRef g = cg_for(c, &lg, p->group);
  LLVMValueRef xg =
      cg_mulc(c, cg_add(c, cg_mulc(c, b, p->c), cg_mulc(c, g, p->c_per_group)), p->h * p->w);
  LLVMValueRef pi = cg_for(c, &lp, panels);
  LLVMValueRef r0 = cg_mulc(c, pi, prows);
  LLVMValueRef rows = cg_smin(c, cg_idx(c, prows), cg_sub(c, cg_idx(c, oh_used), r0));
  LLVMValueRef s = cg_for(c, &ls, kp);
  PairHalf hf[2] = {pair_half(c, p, xg, s, 0), pair_half(c, p, xg, s, 1)};
  LLVMValueRef r = cg_loop_begin(c, &lr, cg_idx(c, 0), rows);
  LLVMValueRef prow = pool ? cg_add(c, cg_mulc(c, LLVMBuildLShr(c->b, r, cg_idx(c, 1), ""), 4 * pw),
                                    cg_mulc(c, LLVMBuildAnd(c->b, r, cg_idx(c, 1), ""), 2))
                      : major ? cg_mulc(c, r, p->ow)
                              : cg_add(c, cg_mulc(c, s, pq->ldv), cg_mulc(c, r, p->ow));
  LLVMValueRef mj = major ? cg_mulc(c, s, 2) : NULL;
  LLVMValueRef roff[2], lo[2], hi[2];
  for (int hh = 0; hh < 2; hh++) {
    LLVMValueRef ih = cg_add(c, cg_mulc(c, cg_add(c, r0, r), p->stride_h), hf[hh].di);
    LLVMValueRef row_ok =
        LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, ih, cg_idx(c, 0), ""),
                     LLVMBuildICmp(c->b, LLVMIntSLT, ih, cg_idx(c, p->h), ""), "");
    cg_valid_range(c, hf[hh].dj, p->stride_w, p->w, p->ow, &lo[hh], &hi[hh]);
    hi[hh] = LLVMBuildSelect(c->b, row_ok, cg_smax(c, lo[hh], hi[hh]), lo[hh], "");
    roff[hh] = cg_add(c, hf[hh].plane, cg_add(c, cg_mulc(c, ih, p->w), hf[hh].dj));
  }
  /* [0, L) and [H, ow) checked, [L, H) valid for both halves (pool: up to 2 pw) */
  LLVMValueRef L = cg_smin(c, cg_smax(c, lo[0], lo[1]), cg_idx(c, ow_used));
  LLVMValueRef H = cg_smin(c, cg_smax(c, L, cg_smin(c, hi[0], hi[1])), cg_idx(c, ow_used));
  pair_pixels(c, p, in[0], prow, mj, kp, cg_idx(c, 0), L, roff, lo, hi, true, h.x_zp, pool, ci);
  pair_pixels(c, p, in[0], prow, mj, kp, L, H, roff, lo, hi, false, h.x_zp, pool, ci);
  pair_pixels(c, p, in[0], prow, mj, kp, H, cg_idx(c, ow_used), roff, lo, hi, true, h.x_zp, pool,
              ci);
  cg_loop_end(c, &lr, NULL, NULL);
  cg_loop_end(c, &ls, NULL, NULL);
  LLVMValueRef gm = cg_mulc(c, g, p->m_per_group);
  LLVMValueRef y =
      pool ? cg_gep(c, c->t_i8, out[0],
                    cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, b, M), gm), ph * pw),
                           cg_mulc(c, LLVMBuildLShr(c->b, r0, cg_idx(c, 1), ""), pw)))
           : cg_gep(c, ci ? c->t_i32 : c->t_i8, out[0],
                    cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, b, M), gm), p->oh * p->ow),
                           cg_mulc(c, r0, p->ow)));
  CgQGemm q = {.m = p->m_per_group,
               .k4 = kp,
               .n_cols = prows * ow_used,
               .n_valid = cg_mulc(c, rows, ow_used),
               .s = cg_gep(c, c->t_i8, sp, cg_mulc(c, gm, kp * 4)),
               .v = ci ? ci->scratch : c->scratch,
               .y = y,
               .tables = ci ? NULL : cg_gep(c, c->t_i32, tab, gm),
               .lds = kp * 4,
               .ldv = pq->ldv,
               .ldy = pool ? ph * pw : p->oh * p->ow,
               .channels = M,
               .per_row = true,
               .v_is_acts = true,
               .pairs = true,
               .v_pair_major = major,
               .pool = pool,
               .shift_ge33 = ge33,
               .y_zp = h.y_zp,
               /* ConvInteger: the exact sums of (x - x_zp)(w - w_zp), no bias or window term */
               .raw = ci != NULL,
               .raw_masked = ci != NULL,
               .raw_scale = ci && ci->scale_ch ? cg_gep(c, c->t_f32, in[4], gm) : NULL,
               .raw_scale_one = ci ? ci->scale_one : NULL};
  cg_qgemm_emit(c, d, &q);
  cg_loop_end(c, &lp, NULL, NULL);
  cg_loop_end(c, &lg, NULL, NULL);
  cg_loop_end(c, &lb, NULL, NULL);
  return true;
}

/* QLinearConv with few input channels (1 to 8, one group, stride 1) on Thumb Arm DSP: no
 * im2col. The input is copied once, widened to i16, into a zero-point-padded copy X
 * [PH][PW][C]; the GEMM's columns are the wide pixels n = oh * PW + ow (the ow valid ones
 * computed), and a step's activation word for column n is the (unaligned) word of X at a constant
 * offset from n: two i16 of adjacent memory, i.e. channels (c, c + 1) of one tap, or for one
 * channel taps (kw, kw + 1) of a kernel row; a half that is not a weight's (the last odd channel,
 * a row's last odd tap) gets weight 0. The pairs tile's step reads its two columns' words with
 * two ldr (offsets up to 4095 bytes), no ldrd; steps in kernel-row order, so past 32 steps one
 * kernel row's steps are the unrolled body of a loop over the rows (X advances PW * C i16).
 * ConvInteger (pint): X holds x - x_zp (padding 0) and the weights w - w_zp[m], both in
 * [-255, 255] (as lower_qconv_pairs): the exact sums, stored raw (i32, or f32 scaled).
 * false: not this shape, or too little scratch. */
static bool lower_qconv_pairs_wide(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out,
                                   const IrConvParams *p, CgDot4 d, const PairInt *pint) {
  enum { MAX_ROW_STEPS = 64, MAX_STEPS = 1024 };
  int64_t C = p->c, M = p->m, KH = p->kh, KW = p->kw, K = C * KH * KW;
  int64_t PH = p->h + p->pad_t + p->pad_b, PW = p->w + p->pad_l + p->pad_r;
  int64_t row_steps = C == 1 ? (KW + 1) / 2 : KW * ((C + 1) / 2);
  if (d.kind != CG_DOT4_SMLAD || !cg_is_thumb(c) || C > 8 || p->group != 1 || p->stride_h != 1 ||
      p->stride_w != 1 || p->dil_h != 1 || p->dil_w != 1 || p->oh != PH - (KH - 1) ||
      p->ow != PW - (KW - 1) || PW % 2 || row_steps > MAX_ROW_STEPS || KH * row_steps > MAX_STEPS)
    return false;
  /* the steps: byte offset of the low half from column n's pixel, reduction index of each half */
  int64_t off[MAX_STEPS], klo[MAX_STEPS], khi[MAX_STEPS];
  int64_t kp = 0;
  for (int64_t kh = 0; kh < KH; kh++)
    for (int64_t kw = 0; kw < KW; kw += C == 1 ? 2 : 1)
      for (int64_t c0 = 0; c0 < C; c0 += 2) {
        off[kp] = 2 * ((kh * PW + kw) * C + c0);
        klo[kp] = (c0 * KH + kh) * KW + kw;
        khi[kp] = C == 1 ? (kw + 1 < KW ? klo[kp] + 1 : -1)
                         : (c0 + 1 < C ? ((c0 + 1) * KH + kh) * KW + kw : -1);
        kp++;
      }
  bool unrolled = kp <= CG_QPAIR_UNROLL_ALL; /* else a loop over the kernel rows */
  int64_t last = unrolled ? kp - 1 : row_steps - 1;
  /* X with room for the reads of the wide columns past the last row (weights 0 or not stored) */
  int64_t x_elems = (PH * PW + PW + 4) * C, x_words = (x_elems + 1) / 2;
  if (off[last] + 2 * C + 4 > 4095 || x_words * 4 > n->scratch_bytes) return false;
  /* worth it where the im2col it saves (per 2 columns 2 kp_im2col words at ~12 instructions)
   * outweighs its longer steps (9 instructions, not 8; more of them: the unpaired halves) over
   * the blocks of 3 rows (measured on the M4: lenet5's conv1, 6 channels, wins 1.6x; mnist_cnn's,
   * 32 channels, would lose) */
  int64_t kp_im2col = ir_qconv_steps(p, true), blocks = (M + CG_QPAIR_ROWS - 1) / CG_QPAIR_ROWS;
  if (blocks * (9 * kp - 8 * kp_im2col) > 24 * kp_im2col) return false;
  IrQHead h = {0};
  const IrValue *wv = n->inputs[pint ? 1 : 3];
  const int8_t *w = wv->data;
  uint32_t *sw = calloc((size_t)(M * kp), sizeof *sw);
  if (!sw) abort();
  bool ge33 = false;
  LLVMValueRef tab = NULL;
  if (!pint) {
    ir_qhead(n, &h);
    tab = head_tables(c, n, &h, w, K, h.x_zp, &ge33);
  }
  for (int64_t m = 0; m < M; m++) {
    int32_t wz = pint ? ir_matmul_integer_bzp(n, m) : 0; /* ConvInteger: w - w_zp[m] */
    for (int64_t s = 0; s < kp; s++) {
      uint32_t lo = (uint16_t)(int16_t)(ir_int8_value(wv->dtype, w, m * K + klo[s]) - wz);
      uint32_t hi =
          khi[s] < 0 ? 0 : (uint16_t)(int16_t)(ir_int8_value(wv->dtype, w, m * K + khi[s]) - wz);
      sw[cg_qpair_offset(m, s, M, kp) / 4] = lo | hi << 16;
    }
  }
  LLVMValueRef sp = const_table(c, n, "w", sw, sizeof *sw * (size_t)(M * kp));
  free(sw);
  LLVMTypeRef i16 = LLVMInt16TypeInContext(c->ctx);
  uint32_t zp16 = pint ? 0 : (uint16_t)(int16_t)h.x_zp; /* ConvInteger: x - x_zp, padding 0 */
  CgLoop lb, lf, lc, lh, lw;
  LLVMValueRef b = cg_for(c, &lb, p->n);
  LLVMValueRef f = cg_for(c, &lf, x_words); /* the padding: the zero point */
  cg_store_elem(c, IR_I32, cg_i32c(c, (int32_t)(zp16 | zp16 << 16)), c->scratch, f);
  cg_loop_end(c, &lf, NULL, NULL);
  LLVMValueRef ci = cg_for(c, &lc, C);
  LLVMValueRef ih = cg_for(c, &lh, p->h);
  LLVMValueRef src =
      cg_mulc(c, cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, b, C), ci), p->h), ih), p->w);
  LLVMValueRef dst = cg_add(c, cg_mulc(c, cg_addc(c, ih, p->pad_t), PW * C), ci);
  LLVMValueRef iw = cg_for(c, &lw, p->w);
  LLVMValueRef v = i8_load(c, in[0], cg_add(c, src, iw));
  if (pint)
    v = LLVMBuildTrunc(c->b,
                       LLVMBuildSub(c->b,
                                    pint->x_u8 ? LLVMBuildZExt(c->b, v, c->t_i32, "")
                                               : LLVMBuildSExt(c->b, v, c->t_i32, ""),
                                    pint->xz, ""),
                       i16, "");
  else
    v = LLVMBuildSExt(c->b, v, i16, "");
  LLVMValueRef st = LLVMBuildStore(
      c->b, v, cg_gep(c, i16, c->scratch, cg_add(c, dst, cg_mulc(c, cg_addc(c, iw, p->pad_l), C))));
  LLVMSetAlignment(st, 2);
  cg_loop_end(c, &lw, NULL, NULL);
  cg_loop_end(c, &lh, NULL, NULL);
  cg_loop_end(c, &lc, NULL, NULL);
  _Static_assert((int)CG_QPAIR_UNROLL_ALL <= (int)MAX_ROW_STEPS, "step_off holds either");
  int32_t step_off[MAX_ROW_STEPS];
  for (int64_t s = 0; s <= last; s++) step_off[s] = (int32_t)off[s];
  CgQGemm q = {.m = M,
               .k4 = kp,
               .n_cols = p->oh * PW,
               .n_valid = cg_idx(c, p->oh * PW),
               .s = sp,
               .v = c->scratch,
               .y = cg_gep(c, pint ? c->t_i32 : c->t_i8, out[0], cg_mulc(c, b, M * p->oh * p->ow)),
               .tables = tab,
               .lds = kp * 4,
               .ldv = p->oh * PW,
               .ldy = p->oh * p->ow,
               .channels = M,
               .per_row = true,
               .v_is_acts = true,
               .pairs = true,
               .wide_pw = PW,
               .wide_ow = p->ow,
               .wide_col_bytes = 2 * C,
               .wide_off = step_off,
               .wide_row_steps = unrolled ? 0 : row_steps,
               .wide_row_bytes = 2 * PW * C,
               .shift_ge33 = ge33,
               .y_zp = h.y_zp,
               /* ConvInteger: the exact sums of (x - x_zp)(w - w_zp) */
               .raw = pint != NULL,
               .raw_scale = pint && pint->scale_ch ? in[4] : NULL,
               .raw_scale_one = pint ? pint->scale_one : NULL};
  cg_qgemm_emit(c, d, &q);
  cg_loop_end(c, &lb, NULL, NULL);
  return true;
}

/* QLinearConv of a first layer (1 to 3 input channels, one group, stride 1) on vector targets:
 * the padded-wide form. The input is copied once into a zero-point-padded copy of rows PW wide
 * (bytes x ^ 0x80 where the dot4 takes u8), so the im2col of quad kq (4 consecutive reductions
 * in Conv order, not 4 channels of one tap: a 1-channel 5x5 conv takes 7 quads, not 25) is one
 * contiguous run of PW-wide output rows per byte, each a vector load at a constant offset: no
 * bounds, no per-row work. The GEMM computes oh * PW columns (the ow valid ones of each row
 * copied out of a wide buffer). false: not this shape, or the planned scratch is too small. */
static bool lower_qconv_wide(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out,
                             const IrConvParams *p, CgDot4 d, int64_t strip) {
  int64_t C = p->c, M = p->m, taps = p->kh * p->kw, K = C * taps, k4 = (K + 3) / 4;
  int64_t PH = p->h + p->pad_t + p->pad_b, PW = p->w + p->pad_l + p->pad_r, plane = PH * PW;
  if (d.kind == CG_DOT4_SMLAD || d.lanes < 4 || C > 3 || p->group != 1 || p->stride_h != 1 ||
      p->stride_w != 1 || p->oh != PH - (p->kh - 1) * p->dil_h ||
      p->ow != PW - (p->kw - 1) * p->dil_w || k4 > 64)
    return false;
  int64_t off[64 * 4], max_off = 0;
  for (int64_t r = 0; r < 4 * k4; r++) {
    int64_t rr = r < K ? r : K - 1, ch = rr / taps, tap = rr % taps;
    off[r] = ch * plane + tap / p->kw * p->dil_h * PW + tap % p->kw * p->dil_w;
    max_off = off[r] > max_off ? off[r] : max_off;
  }
  /* panels of rp output rows: V [k4][ldv] words + the padded copy (read up to ldv past the
   * last panel's start) + the wide int8 output of the panel [M][ldv] */
  int64_t rp = p->oh, ldv = 0, v_bytes = 0, p_bytes = 0, panels = 0;
  for (; rp >= 1; rp--) {
    ldv = (rp * PW + strip - 1) / strip * strip;
    panels = (p->oh + rp - 1) / rp;
    v_bytes = k4 * 4 * ldv;
    p_bytes = (max_off + (panels - 1) * rp * PW + ldv + 63) / 64 * 64;
    if (v_bytes + p_bytes + M * ldv <= n->scratch_bytes) break;
  }
  if (rp < 1) return false;
  /* as many panels, of equal rows: every panel computes rp rows (32 rows in panels of 15
   * computed 45; in panels of 11, 33), and fewer rows need no more scratch */
  rp = (p->oh + panels - 1) / panels;
  ldv = (rp * PW + strip - 1) / strip * strip;
  v_bytes = k4 * 4 * ldv;
  p_bytes = (max_off + (panels - 1) * rp * PW + ldv + 63) / 64 * 64;
  IrQHead h;
  ir_qhead(n, &h);
  const int8_t *w = n->inputs[3]->data;
  int8_t *sb = calloc((size_t)(M * k4 * 4), 1);
  if (!sb) abort();
  bool ge33;
  LLVMValueRef tab = head_tables(c, n, &h, w, K, h.x_zp + (d.u8_acts ? 128 : 0), &ge33);
  for (int64_t m = 0; m < M; m++)
    for (int64_t k = 0; k < K; k++) sb[m * k4 * 4 + k] = w[m * K + k];
  LLVMValueRef sp = const_table(c, n, "w", sb, (size_t)(M * k4 * 4));
  free(sb);
  LLVMValueRef pp = cg_gep(c, c->t_i8, c->scratch, cg_idx(c, v_bytes));
  LLVMValueRef wide = cg_gep(c, c->t_i8, pp, cg_idx(c, p_bytes));
  uint8_t flip = d.u8_acts ? 0x80 : 0;
  int vl = d.lanes;
  LLVMTypeRef vb = LLVMVectorType(c->t_i8, (unsigned)vl),
              vw = LLVMVectorType(c->t_i32, (unsigned)vl);
  CgLoop lb, lr, lx, lp, lu, lm, lo;
  LLVMValueRef b = cg_for(c, &lb, p->n);
  /* the padded copy: padding = the zero point (as stored) */
  cg_memset(c, pp, (uint8_t)(h.x_zp ^ flip), p_bytes);
  LLVMValueRef r = cg_for(c, &lr, C * p->h); /* channel * h + input row */
  LLVMValueRef ch = LLVMBuildSDiv(c->b, r, cg_idx(c, p->h), "");
  LLVMValueRef iy = cg_sub(c, r, cg_mulc(c, ch, p->h));
  LLVMValueRef src = cg_add(c, cg_mulc(c, b, C * p->h * p->w), cg_mulc(c, r, p->w));
  LLVMValueRef dst =
      cg_add(c, cg_mulc(c, ch, plane), cg_addc(c, cg_mulc(c, iy, PW), p->pad_t * PW + p->pad_l));
  LLVMValueRef x = cg_for(c, &lx, p->w);
  i8_store(
      c,
      LLVMBuildXor(c->b, i8_load(c, in[0], cg_add(c, src, x)), LLVMConstInt(c->t_i8, flip, 0), ""),
      pp, cg_add(c, dst, x));
  cg_loop_end(c, &lx, NULL, NULL);
  cg_loop_end(c, &lr, NULL, NULL);
  LLVMValueRef pi = cg_for(c, &lp, panels);
  LLVMValueRef r0 = cg_mulc(c, pi, rp);
  LLVMValueRef rows = cg_smin(c, cg_idx(c, rp), cg_sub(c, cg_idx(c, p->oh), r0));
  LLVMValueRef pq = cg_gep(c, c->t_i8, pp, cg_mulc(c, r0, PW));
  /* V [k4][ldv] words: byte t of quad kq = the padded copy at off[4 kq + t] + q */
  for (int64_t kq = 0; kq < k4; kq++) {
    LLVMValueRef u = cg_for(c, &lu, ldv / vl);
    LLVMValueRef q0 = cg_mulc(c, u, vl), word = NULL;
    for (int tb = 0; tb < 4; tb++) {
      LLVMValueRef v =
          LLVMBuildLoad2(c->b, vb, cg_gep(c, c->t_i8, pq, cg_addc(c, q0, off[4 * kq + tb])), "");
      LLVMSetAlignment(v, 1);
      LLVMValueRef w32 = LLVMBuildZExt(c->b, v, vw, "");
      if (tb) w32 = LLVMBuildShl(c->b, w32, cg_qsplat(c, cg_i32c(c, 8 * tb), vl), "");
      word = word ? LLVMBuildOr(c->b, word, w32, "") : w32;
    }
    LLVMValueRef st =
        LLVMBuildStore(c->b, word, cg_gep(c, c->t_i32, c->scratch, cg_addc(c, q0, kq * ldv)));
    LLVMSetAlignment(st, 4);
    cg_loop_end(c, &lu, NULL, NULL);
  }
  /* the GEMM into the wide buffer, then the ow valid columns of each row */
  CgQGemm q = {.m = M,
               .k4 = k4,
               .n_cols = rp * PW,
               .n_valid = cg_mulc(c, rows, PW),
               .s = sp,
               .v = c->scratch,
               .y = wide,
               .tables = tab,
               .lds = k4 * 4,
               .ldv = ldv,
               .ldy = ldv,
               .channels = M,
               .per_row = true,
               .v_is_acts = true,
               .shift_ge33 = ge33,
               .y_zp = h.y_zp};
  cg_qgemm_emit(c, d, &q);
  LLVMValueRef m = cg_for(c, &lm, M);
  LLVMValueRef oy = cg_loop_begin(c, &lo, cg_idx(c, 0), rows);
  cg_memcpy(c,
            cg_gep(c, c->t_i8, out[0],
                   cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, b, M), m), p->oh * p->ow),
                          cg_mulc(c, cg_add(c, r0, oy), p->ow))),
            cg_gep(c, c->t_i8, wide, cg_add(c, cg_mulc(c, m, ldv), cg_mulc(c, oy, PW))),
            cg_idx(c, p->ow));
  cg_loop_end(c, &lo, NULL, NULL);
  cg_loop_end(c, &lm, NULL, NULL);
  cg_loop_end(c, &lp, NULL, NULL);
  cg_loop_end(c, &lb, NULL, NULL);
  return true;
}

/* ---- ConvInteger on the int8 conv GEMM (lower_qconv_dot4 with integer set) ---------------
 * As MatMulInteger's (cg_lower_matmul_integer, below), with the weights as the GEMM's rows: the
 * kernel multiplies s = x xor flip = x + delta by w' = w - beta, so per output channel m
 *   sum (x - x_zp)(w - w_zp[m]) = sum s w' - (x_zp + delta) Cw[m] - bz'[m] R,
 * Cw[m] = sum w' over the window, bz'[m] = w_zp[m] - beta, R = sum over the window of x - x_zp.
 * The padding is x_zp (the ONNX reference pads x - x_zp with 0), stored as x_zp xor flip: it adds
 * nothing to either sum. The channel term is a run-time bias the accumulators start from; the
 * window term (only when some bz' != 0) is one pass over each group's output (conv_integer_finish)
 * with R from the channel-summed input (conv_integer_row_sums). */
typedef struct ConvIntRt {
  LLVMValueRef flip8, pad8, pad4; /* the byte flip, the padding byte as stored, 4 of it */
  LLVMValueRef xz;                /* x_zp as i32 */
  LLVMValueRef bias;              /* i32 [M] at the scratch's start */
  LLVMValueRef plane, win;        /* rows: i32 [h * w] channel sums, [oh * ow] window sums */
  LLVMValueRef scale_one;         /* the fused scale: one f32, or (scale_ch) in[4] per channel */
  bool scale_ch, scaled, rows;
} ConvIntRt;

static ConvIntRt conv_integer_setup(Cg *c, const IrNode *n, LLVMValueRef *in, CgDot4 d,
                                    const int32_t *cw, int64_t M) {
  ConvIntRt r = {0};
  bool x_u8 = n->inputs[0]->dtype == IR_U8;
  int flip = x_u8 != d.u8_acts ? 0x80 : 0, delta = !flip ? 0 : x_u8 ? -128 : 128;
  r.flip8 = LLVMConstInt(c->t_i8, (unsigned long long)flip, 0);
  LLVMValueRef z8 = i8_load(c, in[2], cg_idx(c, 0));
  r.pad8 = LLVMBuildXor(c->b, z8, r.flip8, "");
  r.pad4 =
      LLVMBuildMul(c->b, LLVMBuildZExt(c->b, r.pad8, c->t_i32, ""), cg_i32c(c, 0x01010101), "");
  r.xz = x_u8 ? LLVMBuildZExt(c->b, z8, c->t_i32, "") : LLVMBuildSExt(c->b, z8, c->t_i32, "");
  r.rows = ir_matmul_integer_needs_row_sums(n);
  r.scaled = n->n_inputs > 4;
  r.scale_ch = r.scaled && ir_value_numel(n->inputs[4]) > 1;
  if (r.scaled && !r.scale_ch) r.scale_one = cg_load(c, in[4], cg_idx(c, 0));
  r.bias = c->scratch;
  r.plane = cg_gep(c, c->t_i32, c->scratch, cg_idx(c, M));
  LLVMValueRef cwp = const_table(c, n, "colsums", cw, sizeof *cw * (size_t)M);
  LLVMValueRef neg_a = LLVMBuildSub(c->b, cg_i32c(c, -delta), r.xz, ""); /* -(x_zp + delta) */
  CgLoop l;
  LLVMValueRef m = cg_for(c, &l, M);
  LLVMValueRef st = LLVMBuildStore(c->b, LLVMBuildMul(c->b, neg_a, i32_load(c, cwp, m), ""),
                                   cg_gep(c, c->t_i32, r.bias, m));
  LLVMSetAlignment(st, 4);
  cg_loop_end(c, &l, NULL, NULL);
  return r;
}

/* R of every output pixel of the group whose input planes start at element xg: the channels'
 * sum of x - x_zp per input pixel, then its sum over each window (padding adds 0). */
static void conv_integer_row_sums(Cg *c, const IrNode *n, const IrConvParams *p, LLVMValueRef *in,
                                  LLVMValueRef xg, ConvIntRt *r) {
  bool x_u8 = n->inputs[0]->dtype == IR_U8;
  int64_t hw = p->h * p->w;
  r->win = cg_gep(c, c->t_i32, r->plane, cg_idx(c, hw));
  LLVMValueRef z0 = LLVMBuildMul(c->b, r->xz, cg_i32c(c, -p->c_per_group), "");
  CgLoop l, lc, li, lj, lo_, lq;
  LLVMValueRef i = cg_for(c, &l, hw);
  LLVMValueRef st = LLVMBuildStore(c->b, z0, cg_gep(c, c->t_i32, r->plane, i));
  LLVMSetAlignment(st, 4);
  cg_loop_end(c, &l, NULL, NULL);
  LLVMValueRef ch = cg_for(c, &lc, p->c_per_group);
  LLVMValueRef base = cg_add(c, xg, cg_mulc(c, ch, hw));
  i = cg_for(c, &l, hw);
  LLVMValueRef x = i8_load(c, in[0], cg_add(c, base, i));
  x = x_u8 ? LLVMBuildZExt(c->b, x, c->t_i32, "") : LLVMBuildSExt(c->b, x, c->t_i32, "");
  st = LLVMBuildStore(c->b, LLVMBuildAdd(c->b, i32_load(c, r->plane, i), x, ""),
                      cg_gep(c, c->t_i32, r->plane, i));
  LLVMSetAlignment(st, 4);
  cg_loop_end(c, &l, NULL, NULL);
  cg_loop_end(c, &lc, NULL, NULL);
  /* the window sums tap by tap: per output row, the valid run of pixels adds a shifted row of
   * the channel sums (contiguous for stride 1: vectorized) */
  cg_memset(c, r->win, 0, 4 * p->oh * p->ow);
  LLVMValueRef ki = cg_for(c, &li, p->kh);
  LLVMValueRef kj = cg_for(c, &lj, p->kw);
  LLVMValueRef dj = cg_addc(c, cg_mulc(c, kj, p->dil_w), -p->pad_l), lo, hi;
  cg_valid_range(c, dj, p->stride_w, p->w, p->ow, &lo, &hi);
  LLVMValueRef oh = cg_for(c, &lo_, p->oh);
  LLVMValueRef ih =
      cg_add(c, cg_mulc(c, oh, p->stride_h), cg_addc(c, cg_mulc(c, ki, p->dil_h), -p->pad_t));
  LLVMValueRef row_ok = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, ih, cg_idx(c, 0), ""),
                                     LLVMBuildICmp(c->b, LLVMIntSLT, ih, cg_idx(c, p->h), ""), "");
  LLVMValueRef end = LLVMBuildSelect(c->b, row_ok, cg_smax(c, lo, hi), lo, "");
  LLVMValueRef ow = cg_loop_begin(c, &lq, lo, end);
  LLVMValueRef at = cg_add(c, cg_mulc(c, oh, p->ow), ow);
  LLVMValueRef v = i32_load(
      c, r->plane, cg_add(c, cg_add(c, cg_mulc(c, ih, p->w), dj), cg_mulc(c, ow, p->stride_w)));
  st = LLVMBuildStore(c->b, LLVMBuildAdd(c->b, i32_load(c, r->win, at), v, ""),
                      cg_gep(c, c->t_i32, r->win, at));
  LLVMSetAlignment(st, 4);
  cg_loop_end(c, &lq, NULL, NULL);
  cg_loop_end(c, &lo_, NULL, NULL);
  cg_loop_end(c, &lj, NULL, NULL);
  cg_loop_end(c, &li, NULL, NULL);
}

/* y[m][pixel] -= bz'[m] R[pixel] over the group's rows of batch b (gm its first channel), then
 * the conversion and the fused scale the kernel left for after it. */
static void conv_integer_finish(Cg *c, const IrNode *n, const IrConvParams *p, LLVMValueRef *in,
                                LLVMValueRef *out, LLVMValueRef b, LLVMValueRef gm,
                                LLVMValueRef bzp, const ConvIntRt *r) {
  (void)n;
  int64_t P = p->oh * p->ow;
  CgLoop lm, lx;
  LLVMValueRef mm = cg_add(c, gm, cg_for(c, &lm, p->m_per_group));
  LLVMValueRef bz = i32_load(c, bzp, mm);
  LLVMValueRef sc = r->scale_ch ? cg_load(c, in[4], mm) : r->scale_one;
  LLVMValueRef row = cg_mulc(c, cg_add(c, cg_mulc(c, b, p->m), mm), P);
  LLVMValueRef x = cg_for(c, &lx, P);
  LLVMValueRef at = cg_add(c, row, x);
  LLVMValueRef y = LLVMBuildSub(c->b, i32_load(c, out[0], at),
                                LLVMBuildMul(c->b, bz, i32_load(c, r->win, x), ""), "");
  if (r->scaled) /* the same buffer, now f32 */
    y = LLVMBuildFMul(c->b, LLVMBuildSIToFP(c->b, y, c->t_f32, ""), sc, "");
  LLVMValueRef st = LLVMBuildStore(c->b, y, cg_gep(c, r->scaled ? c->t_f32 : c->t_i32, out[0], at));
  LLVMSetAlignment(st, 4);
  cg_loop_end(c, &lx, NULL, NULL);
  cg_loop_end(c, &lm, NULL, NULL);
}

/* QLinearConv: per batch, group and panel of output rows, im2col into the scratch as V
 * [k4][ldv][4] (activations, x ^ 0x80 for vpdpbusd, padding = the zero point), then the int8
 * tiles with the packed weights as S and per-channel tables. */
static bool lower_qconv_dot4(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  CgDot4 d = cg_dot4_info(c);
  /* ConvInteger (cg_lower_conv_integer): the raw i32 sums, the padding its run-time x zero
   * point; its bias and row sums before the panel in the scratch */
  bool integer = n->op == IR_OP_CONV_INTEGER;
  IrNode tmp;
  IrValue *ins[3];
  if (integer)
    ir_conv_integer_as_conv(n, &tmp, ins);
  else
    ir_qconv_as_conv(n, &tmp, ins);
  IrConvParams p;
  bool ok = ir_conv_params(&tmp, &p, NULL);
  assert(ok);
  (void)ok;
  IrQHead h = {0};
  if (!integer) ir_qhead(n, &h);
  int64_t extra = integer ? ir_conv_integer_extra_bytes(n) : 0, sbytes = n->scratch_bytes - extra;
  LLVMValueRef scratch = integer ? cg_gep(c, c->t_i8, c->scratch, cg_idx(c, extra)) : c->scratch;
  IrQConvPanel pq;
  int64_t strip = cg_qgemm_v_cols(d, 1); /* the tile's widest strip of columns */
  bool planned_direct = n->kernel == IR_KERNEL_QCONV_DIRECT;
  if (n->pool) /* a fused MaxPool: the im2col pairs tile, panels of 2+ rows (else the loops) */
    return d.kind == CG_DOT4_SMLAD && ir_qconv_panel_of(&p, sbytes, true, strip, &pq) &&
           pq.rows >= 2 && lower_qconv_pairs(c, n, in, out, &p, &pq, d, NULL);
  /* ConvInteger on the pairs tiles: x - x_zp (its run-time zero point), w - w_zp, the scale */
  PairInt pint = {.scratch = scratch, .x_u8 = n->inputs[0]->dtype == IR_U8};
  if (integer && !planned_direct && d.kind == CG_DOT4_SMLAD) {
    LLVMValueRef z8 = i8_load(c, in[2], cg_idx(c, 0));
    pint.xz =
        pint.x_u8 ? LLVMBuildZExt(c->b, z8, c->t_i32, "") : LLVMBuildSExt(c->b, z8, c->t_i32, "");
    pint.scale_ch = n->n_inputs > 4 && ir_value_numel(n->inputs[4]) > 1;
    if (n->n_inputs > 4 && !pint.scale_ch) pint.scale_one = cg_load(c, in[4], cg_idx(c, 0));
  }
  if (!planned_direct && lower_qconv_pairs_wide(c, n, in, out, &p, d, integer ? &pint : NULL))
    return true;
  if (!planned_direct && d.kind == CG_DOT4_SMLAD && ir_qconv_panel_of(&p, sbytes, true, strip, &pq))
    return lower_qconv_pairs(c, n, in, out, &p, &pq, d, integer ? &pint : NULL);
  if (!planned_direct && !integer && lower_qconv_wide(c, n, in, out, &p, d, strip)) return true;
  /* a quad holds 4 channels of one tap (channels padded to a multiple of 4, the padding's
   * weights 0): the im2col copies whole contiguous rows of 4 planes into 32-bit words */
  int64_t c4n = (p.c_per_group + 3) / 4;
  /* stride 1 along rows on vector targets: the group's input first interleaved into words of
   * 4 channels in a zero-point-padded copy (PH x PW per quad of channels, at the scratch's
   * end), so each im2col row is one copy of ow words (not 4 plane rows loaded, widened,
   * shifted and or-ed per row and tap, with bounds); not for 1x1 kernels, whose one im2col
   * pass is the interleaving itself */
  int64_t PH = p.h + p.pad_t + p.pad_b, PW = p.w + p.pad_l + p.pad_r, xw_bytes = c4n * PH * PW * 4;
  int64_t taps = p.kh * p.kw;
  /* qconv-direct-dot4 (pass_plan_int8 chose it for a VNNI target: stride 1, output rows that
   * tile the strip or that it tiles): no im2col at all, the GEMM reads the interleaved copy at
   * each tap's offset (CgQGemm.direct_taps); the copy (a few KB) and the weights stay in L1,
   * where V would have streamed from L2 once per block of rows. Planned for another target:
   * the loop nest (its scratch holds no im2col panel). */
  bool direct = n->kernel == IR_KERNEL_QCONV_DIRECT;
  if (direct && !(d.kind == CG_DOT4_VNNI && p.stride_h == 1 && p.stride_w == 1 && taps > 1 &&
                  taps <= 64 && p.ow % d.lanes == 0 && (strip % p.ow == 0 || p.ow % strip == 0) &&
                  p.oh * p.ow % strip == 0 && sbytes >= xw_bytes)) {
    if (!integer) return lower_qconv_loops(c, n, in, out);
    ir_diag_error(c->d, NULL, "node '%s': ConvInteger planned direct for another target", n->name);
    return false;
  }
  bool interleaved =
      direct || (d.kind != CG_DOT4_SMLAD && d.lanes > 1 && p.stride_w == 1 && taps > 1 &&
                 sbytes > xw_bytes && ir_qconv_panel_of(&p, sbytes - xw_bytes, false, strip, &pq));
  if (direct) {
    pq.k4 = c4n * taps;
    pq.rows = p.oh;
    pq.ldv = 0;
  } else if (!interleaved && !ir_qconv_panel_of(&p, sbytes, false, strip, &pq)) {
    if (!integer) return lower_qconv_loops(c, n, in, out);
    ir_diag_error(c->d, NULL, "node '%s': ConvInteger's scratch holds no panel", n->name);
    return false;
  }
  int64_t K = p.c_per_group * taps, k4 = pq.k4, M = p.m;
  /* ConvInteger: u8 weights stored as w - 128 (s8), every channel's sum of them and its zero
   * point moved as they are, bz' = w_zp - beta */
  int8_t *wq = NULL;
  int32_t *cw = NULL, *bz = NULL;
  if (integer) {
    const IrValue *wv = n->inputs[1];
    int beta = wv->dtype == IR_U8 ? 128 : 0;
    wq = malloc((size_t)(M * K));
    cw = calloc((size_t)M, sizeof *cw);
    bz = calloc((size_t)M, sizeof *bz);
    if (!wq || !cw || !bz) abort();
    for (int64_t m = 0; m < M; m++) {
      bz[m] = ir_matmul_integer_bzp(n, m) - beta;
      for (int64_t k = 0; k < K; k++) {
        wq[m * K + k] = (int8_t)(ir_int8_value(wv->dtype, wv->data, m * K + k) - beta);
        cw[m] += wq[m * K + k];
      }
    }
  }
  const int8_t *w = integer ? wq : n->inputs[3]->data;
  bool unpacked = d.kind == CG_DOT4_SMLAD;
  int64_t qb = unpacked ? 8 : 4; /* bytes of a weight quad */
  int8_t *s = calloc((size_t)(M * k4 * 4), 1), *sp_bytes = calloc((size_t)(M * k4 * qb), 1);
  if (!s || !sp_bytes) abort();
  bool ge33 = false;
  LLVMValueRef tab = NULL, bzp = NULL;
  ConvIntRt ci = {0};
  if (integer) {
    ci = conv_integer_setup(c, n, in, d, cw, M);
    if (ci.rows) bzp = const_table(c, n, "wzp", bz, sizeof *bz * (size_t)M);
    free(cw);
    free(bz);
  } else {
    tab = head_tables(c, n, &h, w, K, h.x_zp + (d.u8_acts ? 128 : 0), &ge33);
  }
  for (int64_t m = 0; m < M; m++)
    for (int64_t k = 0; k < K; k++) {
      /* channel quads: reduction index (tap, channel) instead of (channel, tap) */
      int64_t ci = k / taps, tap = k % taps;
      if (direct) /* (channel quad, tap, channel): the direct GEMM's order */
        s[m * k4 * 4 + (ci / 4 * taps + tap) * 4 + ci % 4] = w[m * K + k];
      else
        s[m * k4 * 4 + tap * c4n * 4 + ci] = w[m * K + k];
    }
  for (int64_t m = 0; m < M; m++)
    for (int64_t kq = 0; kq < k4; kq++)
      cg_dot4_pack_quad(sp_bytes + (m * k4 + kq) * qb, s + (m * k4 + kq) * 4, unpacked);
  LLVMValueRef sp = const_table(c, n, "w", sp_bytes, (size_t)(M * k4 * qb));
  free(sp_bytes);
  free(s);
  free(wq);
  int64_t panels = (p.oh + pq.rows - 1) / pq.rows;
  /* panels of equal rows: every panel computes pq.rows rows' columns (16 rows in panels of 12
   * computed 24), fewer rows fit the same ldv */
  pq.rows = (p.oh + panels - 1) / panels;
  CgLoop lb, lg, lp;
  LLVMValueRef b = cg_for(c, &lb, p.n);
  LLVMValueRef g = cg_for(c, &lg, p.group);
  LLVMValueRef xg =
      cg_mulc(c, cg_add(c, cg_mulc(c, b, p.c), cg_mulc(c, g, p.c_per_group)), p.h * p.w);
  uint32_t pb = (uint8_t)(h.x_zp ^ (d.u8_acts ? 0x80 : 0)); /* the zero point as stored */
  LLVMValueRef pad4 = integer ? ci.pad4 : cg_i32c(c, (int64_t)(pb * 0x01010101u));
  LLVMValueRef flip8 = integer ? ci.flip8 : LLVMConstInt(c->t_i8, d.u8_acts ? 0x80 : 0, 0);
  LLVMValueRef pad8 = integer ? ci.pad8 : LLVMConstInt(c->t_i8, pb, 0);
  if (integer && ci.rows) conv_integer_row_sums(c, n, &p, in, xg, &ci);
  LLVMValueRef xw =
      interleaved ? cg_gep(c, c->t_i8, scratch, cg_idx(c, (sbytes - xw_bytes) / 4 * 4)) : NULL;
  if (interleaved) {
    LLVMBuildMemSet(c->b, xw, pad8, cg_idx(c, xw_bytes), 1);
    CgLoop lq, ly, lx;
    LLVMValueRef c4 = cg_for(c, &lq, c4n);
    LLVMValueRef plane[4], real[4];
    for (int t = 0; t < 4; t++) {
      LLVMValueRef ch = cg_addc(c, cg_mulc(c, c4, 4), t);
      real[t] = LLVMBuildICmp(c->b, LLVMIntSLT, ch, cg_idx(c, p.c_per_group), "");
      plane[t] = cg_add(c, xg, cg_mulc(c, cg_smin(c, ch, cg_idx(c, p.c_per_group - 1)), p.h * p.w));
    }
    LLVMValueRef y = cg_for(c, &ly, p.h);
    LLVMValueRef drow =
        cg_add(c, cg_mulc(c, c4, PH * PW), cg_addc(c, cg_mulc(c, y, PW), p.pad_t * PW + p.pad_l));
    LLVMValueRef x = cg_for(c, &lx, p.w);
    LLVMValueRef word =
        quad_word(c, in[0], plane, real, cg_add(c, cg_mulc(c, y, p.w), x), flip8, pad8);
    LLVMValueRef st = LLVMBuildStore(c->b, word, cg_gep(c, c->t_i32, xw, cg_add(c, drow, x)));
    LLVMSetAlignment(st, 4);
    cg_loop_end(c, &lx, NULL, NULL);
    cg_loop_end(c, &ly, NULL, NULL);
    cg_loop_end(c, &lq, NULL, NULL);
  }
  LLVMValueRef pi = cg_for(c, &lp, panels);
  LLVMValueRef r0 = cg_mulc(c, pi, pq.rows);
  LLVMValueRef rows = cg_smin(c, cg_idx(c, pq.rows), cg_sub(c, cg_idx(c, p.oh), r0));
  if (interleaved && !direct) { /* V row (tap, c4): per output row, ow words of the copy */
    CgLoop li, lj, lq, lr;
    LLVMValueRef i = cg_for(c, &li, p.kh);
    LLVMValueRef j = cg_for(c, &lj, p.kw);
    LLVMValueRef c4 = cg_for(c, &lq, c4n);
    LLVMValueRef kq = cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, i, p.kw), j), c4n), c4);
    LLVMValueRef src0 =
        cg_add(c, cg_mulc(c, c4, PH * PW),
               cg_add(c, cg_mulc(c, cg_mulc(c, i, p.dil_h), PW), cg_mulc(c, j, p.dil_w)));
    LLVMValueRef r = cg_loop_begin(c, &lr, cg_idx(c, 0), rows);
    LLVMValueRef src = cg_add(c, src0, cg_mulc(c, cg_mulc(c, cg_add(c, r0, r), p.stride_h), PW));
    cg_memcpy(c,
              cg_gep(c, c->t_i32, scratch, cg_add(c, cg_mulc(c, kq, pq.ldv), cg_mulc(c, r, p.ow))),
              cg_gep(c, c->t_i32, xw, src), cg_idx(c, p.ow * 4));
    cg_loop_end(c, &lr, NULL, NULL);
    cg_loop_end(c, &lq, NULL, NULL);
    cg_loop_end(c, &lj, NULL, NULL);
    cg_loop_end(c, &li, NULL, NULL);
  } else if (!interleaved) { /* V built from the input planes */
    CgLoop lq, li, lj, lr, la, lm2, lz;
    LLVMValueRef i = cg_for(c, &li, p.kh);
    LLVMValueRef j = cg_for(c, &lj, p.kw);
    LLVMValueRef c4 = cg_for(c, &lq, c4n);
    LLVMValueRef kq = cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, i, p.kw), j), c4n), c4);
    LLVMValueRef base = cg_mulc(c, kq, pq.ldv); /* in words */
    /* byte t of the quad: channel 4 * c4 + t if it exists (its plane offset, clamped into the
     * group, and whether it is real); padding channels read a real plane and are replaced */
    LLVMValueRef plane[4], real[4];
    for (int t = 0; t < 4; t++) {
      LLVMValueRef ch = cg_addc(c, cg_mulc(c, c4, 4), t);
      real[t] = LLVMBuildICmp(c->b, LLVMIntSLT, ch, cg_idx(c, p.c_per_group), "");
      plane[t] = cg_add(c, xg, cg_mulc(c, cg_smin(c, ch, cg_idx(c, p.c_per_group - 1)), p.h * p.w));
    }
    LLVMValueRef r = cg_loop_begin(c, &lr, cg_idx(c, 0), rows);
    LLVMValueRef ih = cg_add(c, cg_mulc(c, cg_add(c, r0, r), p.stride_h),
                             cg_addc(c, cg_mulc(c, i, p.dil_h), -p.pad_t));
    LLVMValueRef row_ok = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, ih, cg_idx(c, 0), ""),
                                       LLVMBuildICmp(c->b, LLVMIntSLT, ih, cg_idx(c, p.h), ""), "");
    LLVMValueRef prow = cg_add(c, base, cg_mulc(c, r, p.ow));
    LLVMValueRef iw0 = cg_addc(c, cg_mulc(c, j, p.dil_w), -p.pad_l), lo, hi;
    cg_valid_range(c, iw0, p.stride_w, p.w, p.ow, &lo, &hi);
    hi = LLVMBuildSelect(c->b, row_ok, cg_smax(c, lo, hi), lo, "");
    LLVMValueRef ow = cg_loop_begin(c, &la, cg_idx(c, 0), lo);
    LLVMBuildStore(c->b, pad4, cg_gep(c, c->t_i32, scratch, cg_add(c, prow, ow)));
    cg_loop_end(c, &la, NULL, NULL);
    LLVMValueRef roff = cg_add(c, cg_mulc(c, ih, p.w), iw0);
    if (d.lanes > 1 && (p.stride_w == 1 || (d.masked && p.stride_w * d.lanes <= 64))) {
      /* whole vectors of pixels: 4 plane rows widened, shifted and or-ed into words; a stride
       * s > 1 (AVX-512BW) loads s * vl bytes and keeps every s-th */
      int vl = d.lanes, sw = (int)p.stride_w;
      LLVMTypeRef vb = LLVMVectorType(c->t_i8, (unsigned)vl),
                  vs = LLVMVectorType(c->t_i8, (unsigned)(vl * sw)),
                  vw = LLVMVectorType(c->t_i32, (unsigned)vl);
      LLVMValueRef pick[16];
      for (int l = 0; l < vl; l++) pick[l] = cg_i32c(c, l * sw);
      /* AVX-512BW: the last, partial vector masked (rows are often a little shorter than two
       * vectors: 30 of 32 pixels with padding 1) */
      LLVMValueRef nvec =
          LLVMBuildSDiv(c->b, d.masked ? cg_addc(c, cg_sub(c, hi, lo), vl - 1) : cg_sub(c, hi, lo),
                        cg_idx(c, vl), "");
      CgLoop lv;
      LLVMValueRef u = cg_loop_begin(c, &lv, cg_idx(c, 0), nvec);
      LLVMValueRef o = cg_add(c, lo, cg_mulc(c, u, vl)), word = NULL;
      LLVMValueRef mask = d.masked ? cg_lane_mask(c, vl, cg_sub(c, hi, o)) : NULL;
      /* the input bytes up to the last pixel's: (n - 1) s + 1 */
      LLVMValueRef in_mask =
          d.masked ? cg_lane_mask(
                         c, vl * sw,
                         cg_addc(c, cg_mulc(c, cg_sub(c, cg_sub(c, hi, o), cg_idx(c, 1)), sw), 1))
                   : NULL;
      LLVMValueRef sh[16];
      for (int t = 0; t < 4; t++) {
        LLVMValueRef src = cg_gep(c, c->t_i8, in[0],
                                  cg_add(c, plane[t], cg_add(c, roff, cg_mulc(c, o, sw)))),
                     b8;
        if (mask) {
          b8 = cg_masked_load(c, vs, src, in_mask);
          if (sw > 1)
            b8 = LLVMBuildShuffleVector(c->b, b8, LLVMGetUndef(vs),
                                        LLVMConstVector(pick, (unsigned)vl), "");
        } else {
          b8 = LLVMBuildLoad2(c->b, vb, src, "");
          LLVMSetAlignment(b8, 1);
        }
        b8 = LLVMBuildXor(c->b, b8, cg_qsplat(c, flip8, vl), "");
        b8 = LLVMBuildSelect(c->b, real[t], b8, cg_qsplat(c, pad8, vl), "");
        LLVMValueRef w32 = LLVMBuildZExt(c->b, b8, vw, "");
        if (t) {
          for (int l = 0; l < vl; l++) sh[l] = cg_i32c(c, 8 * t);
          w32 = LLVMBuildShl(c->b, w32, LLVMConstVector(sh, (unsigned)vl), "");
        }
        word = word ? LLVMBuildOr(c->b, word, w32, "") : w32;
      }
      LLVMValueRef dst = cg_gep(c, c->t_i32, scratch, cg_add(c, prow, o));
      if (mask) {
        cg_masked_store(c, word, dst, mask);
      } else {
        LLVMValueRef st = LLVMBuildStore(c->b, word, dst);
        LLVMSetAlignment(st, 4);
      }
      cg_loop_end(c, &lv, NULL, NULL);
      lo = mask ? hi : cg_add(c, lo, cg_mulc(c, nvec, vl));
    }
    ow = cg_loop_begin(c, &lm2, lo, hi);
    LLVMValueRef at = cg_add(c, roff, cg_mulc(c, ow, p.stride_w));
    LLVMValueRef word = quad_word(c, in[0], plane, real, at, flip8, pad8);
    LLVMBuildStore(c->b, word, cg_gep(c, c->t_i32, scratch, cg_add(c, prow, ow)));
    cg_loop_end(c, &lm2, NULL, NULL);
    ow = cg_loop_begin(c, &lz, hi, cg_idx(c, p.ow));
    LLVMBuildStore(c->b, pad4, cg_gep(c, c->t_i32, scratch, cg_add(c, prow, ow)));
    cg_loop_end(c, &lz, NULL, NULL);
    cg_loop_end(c, &lr, NULL, NULL);
    cg_loop_end(c, &lq, NULL, NULL);
    cg_loop_end(c, &lj, NULL, NULL);
    cg_loop_end(c, &li, NULL, NULL);
  }
  LLVMValueRef gm = cg_mulc(c, g, p.m_per_group);
  LLVMValueRef y = cg_gep(
      c, integer ? c->t_i32 : c->t_i8, out[0],
      cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, b, M), gm), p.oh * p.ow), cg_mulc(c, r0, p.ow)));
  CgQGemm q = {.m = p.m_per_group,
               .k4 = k4,
               .n_cols = pq.rows * p.ow,
               .n_valid = cg_mulc(c, rows, p.ow),
               .s = cg_gep(c, c->t_i8, sp, cg_mulc(c, gm, k4 * qb)),
               .v = scratch,
               .y = y,
               .tables = integer ? NULL : cg_gep(c, c->t_i32, tab, gm),
               .lds = k4 * qb,
               .ldv = pq.ldv,
               .ldy = p.oh * p.ow,
               .n_pad = 0,
               .channels = M,
               .per_row = true,
               .v_is_acts = true,
               .shift_ge33 = ge33,
               .y_zp = h.y_zp,
               /* ConvInteger: raw sums from the channels' run-time bias, converted and scaled
                * here unless the row terms come first (conv_integer_finish) */
               .raw = integer,
               .raw_bias = integer ? cg_gep(c, c->t_i32, ci.bias, gm) : NULL,
               .raw_masked = integer,
               .raw_scale =
                   integer && !ci.rows && ci.scale_ch ? cg_gep(c, c->t_f32, in[4], gm) : NULL,
               .raw_scale_one = integer && !ci.rows ? ci.scale_one : NULL};
  int64_t tap_off[64];
  if (direct) {
    for (int64_t t = 0; t < taps; t++)
      tap_off[t] = 4 * (t / p.kw * p.dil_h * PW + t % p.kw * p.dil_w);
    q.v = xw;
    q.direct_taps = taps;
    q.direct_plane_bytes = PH * PW * 4;
    q.direct_ow = p.ow;
    q.direct_pw = PW;
    q.direct_tap_off = tap_off;
  }
  cg_qgemm_emit(c, d, &q);
  cg_loop_end(c, &lp, NULL, NULL);
  if (integer && ci.rows) /* gm is the panel loop's: the group's first channel again */
    conv_integer_finish(c, n, &p, in, out, b, cg_mulc(c, g, p.m_per_group), bzp, &ci);
  cg_loop_end(c, &lg, NULL, NULL);
  cg_loop_end(c, &lb, NULL, NULL);
  return true;
}

static bool lower_qgemm(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  if (ir_kernel_is_sparse(n->kernel)) return cg_sparse_i8_lower(c, n, in, out);
  if (n->kernel == IR_KERNEL_QGEMM_DOT4 && c->scratch) return lower_qgemm_dot4(c, n, in, out);
  return lower_qgemm_loops(c, n, in, out);
}

bool cg_lower_conv_integer(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  /* the int8 Winograd (Arm DSP) where pass_plan_int8 chose it */
  if (n->kernel == IR_KERNEL_QCONV_WINOGRAD && c->scratch && cg_qconv_winograd_lower(c, n, in, out))
    return true;
  if ((n->kernel != IR_KERNEL_QCONV_DOT4 && n->kernel != IR_KERNEL_QCONV_DIRECT) || !c->scratch) {
    ir_diag_error(c->d, NULL, "node '%s': ConvInteger needs the int8 conv kernel and its scratch",
                  n->name);
    return false;
  }
  return lower_qconv_dot4(c, n, in, out);
}

/* A fused QLookup (IrNode.lookup, passes/pass_qpool.c): the head's kernel with c->qlut set,
 * cg_qrequant mapping each output byte through the table */
static bool with_lookup(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out,
                        bool (*lower)(Cg *, const IrNode *, LLVMValueRef *, LLVMValueRef *)) {
  if (!n->lookup) return lower(c, n, in, out);
  LLVMValueRef t = const_table(c, n, "lut", n->lookup->inputs[1]->data, 256);
  c->qlut = t;
  bool ok = lower(c, n, in, out);
  c->qlut = NULL;
  return ok;
}

bool cg_lower_qgemm(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return with_lookup(c, n, in, out, lower_qgemm);
}

static bool lower_qlinear_conv(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  /* a fused MaxPool (passes/pass_qpool.c): the kernels that implement it, else the loop nest */
  if (n->pool &&
      !(n->kernel == IR_KERNEL_QCONV_WINOGRAD && c->scratch &&
        cg_qconv_winograd_lower(c, n, in, out)) &&
      !(n->kernel == IR_KERNEL_QCONV_DOT4 && c->scratch && lower_qconv_dot4(c, n, in, out)))
    return lower_qconv_loops(c, n, in, out);
  if (n->pool) return true;
  if (ir_kernel_is_sparse(n->kernel) && c->scratch) return cg_sparse_lower(c, n, in, out);
  if ((n->kernel == IR_KERNEL_QCONV_DOT4 || n->kernel == IR_KERNEL_QCONV_DIRECT) && c->scratch)
    return lower_qconv_dot4(c, n, in, out);
  if (n->kernel == IR_KERNEL_QCONV_WINOGRAD && c->scratch && cg_qconv_winograd_lower(c, n, in, out))
    return true;
  return lower_qconv_loops(c, n, in, out);
}

bool cg_lower_qlinear_conv(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return with_lookup(c, n, in, out, lower_qlinear_conv);
}

LLVMValueRef cg_quant_head_tables(Cg *c, const IrNode *n, const int8_t *w, int64_t per_channel,
                                  bool fold_x_zp) {
  IrQHead h;
  ir_qhead(n, &h);
  return head_tables(c, n, &h, w, per_channel, fold_x_zp ? h.x_zp : 0, NULL);
}

/* ---- MatMulInteger (ir/quant.c): the int8 GEMM's raw i32 sums ----------------------------
 * The kernel multiplies bytes s (A xor flip: u8 for vpdpbusd, else s8, so s = A + delta with
 * delta 0 or -+128) by weights w = B - beta (s8; beta 128 for u8 B) packed at compile time, with
 * the column sums Cw[n] = sum_k w. With bz' = b_zp - beta:
 *   sum_k (A - a_zp)(B - b_zp) = sum_k s w - (a_zp + delta) Cw[n] - bz'[n] (sum_k A - K a_zp),
 * in wrapping i32 arithmetic (equal to the exact sum mod 2^32, as the interpreter's). The
 * column term is a run-time bias the kernel starts from; the row term (bz' != 0 only) is one
 * pass over the output. */
bool cg_lower_matmul_integer(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  if (n->kernel != IR_KERNEL_QGEMM_DOT4 || !c->scratch) {
    ir_diag_error(c->d, NULL, "node '%s': MatMulInteger needs the int8 GEMM kernel and its scratch",
                  n->name);
    return false;
  }
  CgDot4 d = cg_dot4_info(c);
  IrMatMulInt p;
  ir_matmul_integer(n, &p);
  int64_t M = p.m, K = p.k, N = p.n, k4 = (K + 3) / 4, vcols = cg_qgemm_v_cols(d, N);
  bool widen =
      d.kind == CG_DOT4_SMLAD && n->scratch_bytes >= ir_matmul_integer_scratch_bytes(n, true);
  bool strip_major = widen && N >= 4 && cg_is_thumb(c);
  bool rows = ir_matmul_integer_needs_row_sums(n);
  int beta = p.b_dtype == IR_U8 ? 128 : 0;
  bool a_u8 = p.a_dtype == IR_U8;
  int flip = a_u8 != d.u8_acts ? 0x80 : 0, delta = !flip ? 0 : a_u8 ? -128 : 128;
  const void *b = n->inputs[1]->data;
  int8_t *v = calloc((size_t)(k4 * 4 * vcols), 1);
  int32_t *cw = calloc((size_t)vcols, sizeof *cw), *bz = calloc((size_t)vcols, sizeof *bz);
  if (!v || !cw || !bz) abort();
  for (int64_t j = 0; j < N; j++) {
    bz[j] = ir_matmul_integer_bzp(n, j) - beta;
    for (int64_t kq = 0; kq < k4; kq++) {
      int8_t quad[4] = {0};
      for (int64_t k = kq * 4; k < kq * 4 + 4 && k < K; k++) {
        quad[k % 4] = (int8_t)(ir_int8_value(p.b_dtype, b, k * N + j) - beta);
        cw[j] += quad[k % 4];
      }
      int64_t at = strip_major ? (j / 4 * k4 + kq) * 4 + j % 4 : kq * vcols + j;
      cg_dot4_pack_quad(v + at * 4, quad, false);
    }
  }
  LLVMValueRef vp = const_table(c, n, "b", v, (size_t)(k4 * 4 * vcols));
  LLVMValueRef cwp = const_table(c, n, "colsums", cw, sizeof *cw * (size_t)vcols);
  LLVMValueRef bzp = rows ? const_table(c, n, "bzp", bz, sizeof *bz * (size_t)N) : NULL;
  free(v);
  free(cw);
  free(bz);
  /* scratch (ir_matmul_integer_scratch_bytes): S, the bias [vcols], the row terms [M] (rows),
   * the per-column scale [vcols] (col_scale) */
  int64_t s_bytes = M * k4 * (widen ? 8 : 4);
  LLVMValueRef bias = cg_gep(c, c->t_i8, c->scratch, cg_idx(c, s_bytes));
  LLVMValueRef rowt = cg_gep(c, c->t_i8, c->scratch, cg_idx(c, s_bytes + 4 * vcols));
  LLVMValueRef az = cg_load_elem(c, p.a_dtype, in[2], cg_idx(c, 0));
  az = a_u8 ? LLVMBuildZExt(c->b, az, c->t_i32, "") : LLVMBuildSExt(c->b, az, c->t_i32, "");
  LLVMValueRef neg_a = LLVMBuildSub(c->b, cg_i32c(c, -delta), az, ""); /* -(a_zp + delta) */
  CgLoop l;
  LLVMValueRef j = cg_for(c, &l, vcols);
  LLVMValueRef st = LLVMBuildStore(c->b, LLVMBuildMul(c->b, neg_a, i32_load(c, cwp, j), ""),
                                   cg_gep(c, c->t_i32, bias, j));
  LLVMSetAlignment(st, 4);
  cg_loop_end(c, &l, NULL, NULL);
  if (rows) { /* sum_k A - K a_zp per row */
    CgLoop li, lk;
    LLVMValueRef i = cg_for(c, &li, M);
    LLVMValueRef k0 = LLVMBuildMul(c->b, az, cg_i32c(c, (int32_t)-K), "");
    LLVMValueRef k = cg_for(c, &lk, K);
    LLVMValueRef acc = cg_loop_acc(c, &lk, k0);
    LLVMValueRef a = i8_load(c, in[0], cg_add(c, cg_mulc(c, i, K), k));
    a = a_u8 ? LLVMBuildZExt(c->b, a, c->t_i32, "") : LLVMBuildSExt(c->b, a, c->t_i32, "");
    LLVMValueRef next = LLVMBuildAdd(c->b, acc, a, ""), sum;
    cg_loop_end(c, &lk, &next, &sum);
    st = LLVMBuildStore(c->b, sum, cg_gep(c, c->t_i32, rowt, i));
    LLVMSetAlignment(st, 4);
    cg_loop_end(c, &li, NULL, NULL);
  }
  /* the fused scale (5th input): one value, or per column copied into the scratch padded to
   * vcols (the kernel loads whole vectors) */
  bool scaled = n->n_inputs > 4, col_scale = scaled && ir_value_numel(n->inputs[4]) > 1;
  LLVMValueRef scale_one = NULL, scale_col = NULL;
  if (scaled && !col_scale) scale_one = cg_load(c, in[4], cg_idx(c, 0));
  if (col_scale) {
    scale_col = cg_gep(c, c->t_i8, c->scratch, cg_idx(c, s_bytes + 4 * vcols + (rows ? 4 * M : 0)));
    LLVMValueRef jc = cg_for(c, &l, vcols);
    LLVMValueRef inside = LLVMBuildICmp(c->b, LLVMIntSLT, jc, cg_idx(c, N), "");
    LLVMValueRef safe = LLVMBuildSelect(c->b, inside, jc, cg_idx(c, 0), "");
    LLVMValueRef v = LLVMBuildSelect(c->b, inside, cg_load(c, in[4], safe), cg_f32c(c, 0.0), "");
    cg_store(c, v, scale_col, jc);
    cg_loop_end(c, &l, NULL, NULL);
  }
  pack_gemm_acts(c, in[0], M, K, widen, flip, c->scratch);
  int64_t strip = 4 * (int64_t)d.lanes; /* the widest strip: narrower ones divide it */
  CgQGemm q = {.m = M,
               .k4 = k4,
               .n_cols = N,
               .n_valid = cg_idx(c, N),
               .s = c->scratch,
               .v = vp,
               .y = out[0],
               .lds = k4 * (widen ? 8 : 4),
               .s_unpacked = widen,
               .v_strip_major = strip_major,
               .ldv = vcols,
               .ldy = N,
               .n_pad = vcols,
               .channels = N,
               .raw = true,
               .raw_bias = bias,
               .raw_masked = N % strip != 0,
               /* with row terms the conversion waits for them (below) */
               .raw_scale = rows ? NULL : scale_col,
               .raw_scale_one = rows ? NULL : scale_one};
  cg_qgemm_emit(c, d, &q);
  if (rows) { /* y -= bz'[n] (sum_k A - K a_zp) */
    CgLoop li, lj;
    LLVMValueRef i = cg_for(c, &li, M);
    LLVMValueRef t = i32_load(c, rowt, i);
    LLVMValueRef jj = cg_for(c, &lj, N);
    LLVMValueRef at = cg_add(c, cg_mulc(c, i, N), jj);
    LLVMValueRef y = LLVMBuildSub(c->b, i32_load(c, out[0], at),
                                  LLVMBuildMul(c->b, i32_load(c, bzp, jj), t, ""), "");
    if (scaled) /* the same buffer, now f32 */
      y = LLVMBuildFMul(c->b, LLVMBuildSIToFP(c->b, y, c->t_f32, ""),
                        col_scale ? cg_load(c, in[4], jj) : scale_one, "");
    st = LLVMBuildStore(c->b, y, cg_gep(c, scaled ? c->t_f32 : c->t_i32, out[0], at));
    LLVMSetAlignment(st, 4);
    cg_loop_end(c, &lj, NULL, NULL);
    cg_loop_end(c, &li, NULL, NULL);
  }
  return true;
}
