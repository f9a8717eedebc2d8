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
#include "kernels/cg_sparse_i8.h"
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
static LLVMValueRef requant(Cg *c, LLVMValueRef acc, LLVMValueRef mult, LLVMValueRef shift,
                            int32_t zp) {
  LLVMTypeRef i64 = c->t_i64;
  LLVMValueRef p =
      LLVMBuildMul(c->b, LLVMBuildSExt(c->b, acc, i64, ""), LLVMBuildSExt(c->b, mult, i64, ""), "");
  LLVMValueRef sh = LLVMBuildZExt(c->b, shift, i64, "");
  LLVMValueRef half = LLVMBuildShl(c->b, LLVMConstInt(i64, 1, 0),
                                   LLVMBuildSub(c->b, sh, LLVMConstInt(i64, 1, 0), ""), "");
  LLVMValueRef v = LLVMBuildAShr(c->b, LLVMBuildAdd(c->b, p, half, ""), sh, "");
  v = LLVMBuildAdd(c->b, v, LLVMConstInt(i64, (unsigned long long)(int64_t)zp, 1), "");
  return LLVMBuildTrunc(c->b, clamp_int(c, v, -128, 127), c->t_i8, "");
}

/* Per-channel tables: multiplier, shift and the bias with the input zero point folded out
 * (bias - x_zp * sum of the channel's weights), as one i32 array [3][channels]. */
static LLVMValueRef head_tables(Cg *c, const IrNode *n, const IrQHead *h, const int8_t *w,
                                int64_t per_channel) {
  int64_t M = h->channels;
  int32_t *t = malloc(sizeof *t * (size_t)(3 * M));
  if (!t) abort();
  for (int64_t m = 0; m < M; m++) {
    IrRequant r = ir_qhead_requant(h, m);
    t[m] = r.mult;
    t[M + m] = r.shift;
    int64_t sum = 0;
    for (int64_t k = 0; k < per_channel; k++) sum += w[m * per_channel + k];
    t[2 * M + m] = (h->bias ? h->bias[m] : 0) - (int32_t)(h->x_zp * sum);
  }
  char name[64];
  snprintf(name, sizeof name, "q%d.tables", n->id);
  LLVMValueRef g = cg_const_bytes(c, t, sizeof *t * (size_t)(3 * M), name);
  free(t);
  return g;
}

/* ---- QuantizeLinear / DequantizeLinear ---------------------------------------------------- */

bool cg_lower_quantize_linear(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  float s = ir_qparam_scale(n, 1);
  int32_t zp = ir_qparam_zp(n, 2);
  CgLoop l;
  LLVMValueRef i = cg_for(c, &l, ir_value_numel(n->outputs[0]));
  LLVMValueRef v = LLVMBuildFDiv(c->b, cg_load(c, in[0], i), cg_f32c(c, s), "");
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
  LLVMValueRef tab = head_tables(c, n, &h, bt, K);
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

static bool lower_qconv_loops(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrNode tmp;
  IrValue *ins[3];
  ir_qconv_as_conv(n, &tmp, ins);
  IrConvParams p;
  bool ok = ir_conv_params(&tmp, &p, NULL);
  assert(ok);
  (void)ok;
  IrQHead h;
  ir_qhead(n, &h);
  int64_t taps = p.c_per_group * p.kh * p.kw;
  IrQHead hz = h; /* padded taps are skipped, so x_zp is not folded into the bias */
  hz.x_zp = 0;
  LLVMValueRef tab = head_tables(c, n, &hz, n->inputs[3]->data, taps);
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
  LLVMValueRef yplane = cg_mulc(c, cg_add(c, cg_mulc(c, b, p.m), m), p.oh * p.ow);
  LLVMValueRef oh = cg_for(c, &loh, p.oh);
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
  LLVMValueRef oy = cg_for(c, &ly, p.ow);
  LLVMValueRef acc = LLVMBuildLoad2(c->b, c->t_i32, cg_gep(c, c->t_i32, row, oy), "");
  i8_store(c, requant(c, acc, mult, shift, h.y_zp), out[0],
           cg_add(c, yplane, cg_add(c, cg_mulc(c, oh, p.ow), oy)));
  cg_loop_end(c, &ly, NULL, NULL);
  cg_loop_end(c, &loh, NULL, NULL);
  cg_loop_end(c, &lm, NULL, NULL);
  cg_loop_end(c, &lb, NULL, NULL);
  return true;
}

/* ---- MaxPool on int8: a max over the valid taps of each window ----------------------------- */

bool cg_lower_max_pool_i8(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  IrConvParams p;
  bool ok = ir_conv_params(n, &p, NULL);
  assert(ok);
  (void)ok;
  bool inside = p.pad_t == 0 && p.pad_l == 0 &&
                (p.oh - 1) * p.stride_h + (p.kh - 1) * p.dil_h < p.h &&
                (p.ow - 1) * p.stride_w + (p.kw - 1) * p.dil_w < p.w;
  if (inside && p.kh * p.kw <= 16) {
    /* every window inside the input: the taps unrolled, no bounds, so LLVM vectorizes over ow
     * (2x2/2: two deinterleaving loads per input row) */
    CgLoop lbc, loh, low;
    LLVMValueRef bc = cg_for(c, &lbc, p.n * p.c);
    LLVMValueRef oh = cg_for(c, &loh, p.oh);
    LLVMValueRef row0 = cg_add(c, cg_mulc(c, bc, p.h * p.w), cg_mulc(c, oh, p.stride_h * p.w));
    LLVMValueRef yrow = cg_add(c, cg_mulc(c, bc, p.oh * p.ow), cg_mulc(c, oh, p.ow));
    LLVMValueRef ow = cg_for(c, &low, p.ow);
    LLVMValueRef at = cg_add(c, row0, cg_mulc(c, ow, p.stride_w)), best = NULL;
    for (int64_t i = 0; i < p.kh; i++)
      for (int64_t j = 0; j < p.kw; j++) {
        LLVMValueRef v = i8_load(c, in[0], cg_addc(c, at, i * p.dil_h * p.w + j * p.dil_w));
        best =
            best ? LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, v, best, ""), v, best, "")
                 : v;
      }
    i8_store(c, best, out[0], cg_add(c, yrow, ow));
    cg_loop_end(c, &low, NULL, NULL);
    cg_loop_end(c, &loh, NULL, NULL);
    cg_loop_end(c, &lbc, NULL, NULL);
    return true;
  }
  CgLoop lbc, loh, low, li, lj;
  LLVMValueRef bc = cg_for(c, &lbc, p.n * p.c);
  LLVMValueRef plane = cg_mulc(c, bc, p.h * p.w);
  LLVMValueRef oh = cg_for(c, &loh, p.oh);
  LLVMValueRef ih0 = cg_addc(c, cg_mulc(c, oh, p.stride_h), -p.pad_t), ilo, ihi;
  cg_valid_range(c, ih0, p.dil_h, p.h, p.kh, &ilo, &ihi);
  LLVMValueRef ow = cg_for(c, &low, p.ow);
  LLVMValueRef iw0 = cg_addc(c, cg_mulc(c, ow, p.stride_w), -p.pad_l), jlo, jhi;
  cg_valid_range(c, iw0, p.dil_w, p.w, p.kw, &jlo, &jhi);
  LLVMValueRef i = cg_loop_begin(c, &li, ilo, ihi);
  LLVMValueRef best_i = cg_loop_acc(c, &li, LLVMConstInt(c->t_i8, (unsigned long long)-128, 1));
  LLVMValueRef xrow = cg_add(c, plane, cg_mulc(c, cg_add(c, ih0, cg_mulc(c, i, p.dil_h)), p.w));
  LLVMValueRef j = cg_loop_begin(c, &lj, jlo, jhi);
  LLVMValueRef best_j = cg_loop_acc(c, &lj, best_i);
  LLVMValueRef v = i8_load(c, in[0], cg_add(c, xrow, cg_add(c, iw0, cg_mulc(c, j, p.dil_w))));
  LLVMValueRef nb = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, v, best_j, ""), v, best_j,
                                    ""),
               after_j, best;
  cg_loop_end(c, &lj, &nb, &after_j);
  cg_loop_end(c, &li, &after_j, &best);
  i8_store(c, best, out[0],
           cg_add(c, cg_mulc(c, bc, p.oh * p.ow), cg_add(c, cg_mulc(c, oh, p.ow), ow)));
  cg_loop_end(c, &low, NULL, NULL);
  cg_loop_end(c, &loh, NULL, NULL);
  cg_loop_end(c, &lbc, NULL, NULL);
  return true;
}

/* ---- the int8 micro-kernel (kernels/cg_gemm_i8.c) ------------------------------------------ */

static LLVMValueRef const_table(Cg *c, const IrNode *n, const char *what, const void *data,
                                size_t bytes) {
  char name[64];
  snprintf(name, sizeof name, "q%d.%s", n->id, what);
  return cg_const_bytes(c, data, bytes, name);
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
  int8_t *v = calloc((size_t)(k4 * qb * vcols), 1);
  int32_t *t = calloc((size_t)(3 * vcols), sizeof *t);
  if (!v || !t) abort();
  int32_t offset = h.x_zp + (d.u8_acts ? 128 : 0);
  bool ge33 = true;
  for (int64_t j = 0; j < vcols; j++) {
    t[vcols + j] = 62; /* padding columns: any valid shift (their outputs are not stored) */
    if (j >= N) continue;
    IrRequant r = ir_qhead_requant(&h, j);
    ge33 = ge33 && r.shift >= 33;
    int64_t sum = 0;
    for (int64_t kq = 0; kq < k4; kq++) {
      int8_t quad[4] = {0};
      for (int64_t k = kq * 4; k < kq * 4 + 4 && k < K; k++) {
        quad[k % 4] = tb ? b[j * K + k] : b[k * N + j];
        sum += quad[k % 4];
      }
      cg_dot4_pack_quad(v + (kq * vcols + j) * qb, quad, unpacked);
    }
    t[j] = r.mult;
    t[vcols + j] = r.shift;
    t[2 * vcols + j] = (h.bias ? h.bias[j] : 0) - (int32_t)(offset * sum);
  }
  LLVMValueRef vp = const_table(c, n, "b", v, (size_t)(k4 * qb * vcols));
  LLVMValueRef tab = const_table(c, n, "tables", t, sizeof *t * (size_t)(3 * vcols));
  free(v);
  free(t);
  /* S: the activations, the K tail padded (its weights are 0) */
  LLVMValueRef flip = LLVMConstInt(c->t_i8, d.u8_acts ? 0x80 : 0, 0);
  CgLoop li, lk;
  LLVMValueRef i = cg_for(c, &li, M);
  LLVMValueRef srow = cg_mulc(c, i, k4 * 4), arow = cg_mulc(c, i, K);
  LLVMValueRef k = cg_for(c, &lk, K);
  i8_store(c, LLVMBuildXor(c->b, i8_load(c, in[0], cg_add(c, arow, k)), flip, ""), c->scratch,
           cg_add(c, srow, k));
  cg_loop_end(c, &lk, NULL, NULL);
  for (int64_t kk = K; kk < k4 * 4; kk++)
    i8_store(c, LLVMConstInt(c->t_i8, 0, 0), c->scratch, cg_addc(c, srow, kk));
  cg_loop_end(c, &li, NULL, NULL);
  CgQGemm q = {.m = M,
               .k4 = k4,
               .n_cols = N,
               .n_valid = cg_idx(c, N),
               .s = c->scratch,
               .v = vp,
               .y = out[0],
               .tables = tab,
               .lds = k4 * 4,
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

/* QLinearConv: per batch, group and panel of output rows, im2col into the scratch as V
 * [k4][ldv][4] (activations, x ^ 0x80 for vpdpbusd, padding = the zero point), then the int8
 * tiles with the packed weights as S and per-channel tables. */
static bool lower_qconv_dot4(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  CgDot4 d = cg_dot4_info(c);
  IrNode tmp;
  IrValue *ins[3];
  ir_qconv_as_conv(n, &tmp, ins);
  IrConvParams p;
  bool ok = ir_conv_params(&tmp, &p, NULL);
  assert(ok);
  (void)ok;
  IrQHead h;
  ir_qhead(n, &h);
  IrQConvPanel pq;
  ir_qconv_panel_of(&p, n->scratch_bytes, &pq);
  int64_t K = p.c_per_group * p.kh * p.kw, k4 = pq.k4, M = p.m;
  /* a quad holds 4 channels of one tap (channels padded to a multiple of 4, the padding's
   * weights 0): the im2col copies whole contiguous rows of 4 planes into 32-bit words */
  int64_t c4n = (p.c_per_group + 3) / 4;
  const int8_t *w = n->inputs[3]->data;
  bool unpacked = d.kind == CG_DOT4_SMLAD;
  int64_t qb = unpacked ? 8 : 4; /* bytes of a weight quad */
  int8_t *s = calloc((size_t)(M * k4 * 4), 1), *sp_bytes = calloc((size_t)(M * k4 * qb), 1);
  int32_t *t = calloc((size_t)(3 * M), sizeof *t);
  if (!s || !sp_bytes || !t) abort();
  int32_t offset = h.x_zp + (d.u8_acts ? 128 : 0);
  bool ge33 = true;
  for (int64_t m = 0; m < M; m++) {
    IrRequant r = ir_qhead_requant(&h, m);
    ge33 = ge33 && r.shift >= 33;
    int64_t sum = 0;
    for (int64_t k = 0; k < K; k++) {
      /* channel quads: reduction index (tap, channel) instead of (channel, tap) */
      int64_t ci = k / (p.kh * p.kw), tap = k % (p.kh * p.kw);
      s[m * k4 * 4 + tap * c4n * 4 + ci] = w[m * K + k];
      sum += w[m * K + k];
    }
    t[m] = r.mult;
    t[M + m] = r.shift;
    t[2 * M + m] = (h.bias ? h.bias[m] : 0) - (int32_t)(offset * sum);
  }
  for (int64_t m = 0; m < M; m++)
    for (int64_t kq = 0; kq < k4; kq++)
      cg_dot4_pack_quad(sp_bytes + (m * k4 + kq) * qb, s + (m * k4 + kq) * 4, unpacked);
  LLVMValueRef sp = const_table(c, n, "w", sp_bytes, (size_t)(M * k4 * qb));
  free(sp_bytes);
  LLVMValueRef tab = const_table(c, n, "tables", t, sizeof *t * (size_t)(3 * M));
  free(s);
  free(t);
  int64_t panels = (p.oh + pq.rows - 1) / pq.rows;
  CgLoop lb, lg, lp;
  LLVMValueRef b = cg_for(c, &lb, p.n);
  LLVMValueRef g = cg_for(c, &lg, p.group);
  LLVMValueRef xg =
      cg_mulc(c, cg_add(c, cg_mulc(c, b, p.c), cg_mulc(c, g, p.c_per_group)), p.h * p.w);
  LLVMValueRef pi = cg_for(c, &lp, panels);
  LLVMValueRef r0 = cg_mulc(c, pi, pq.rows);
  LLVMValueRef rows = cg_smin(c, cg_idx(c, pq.rows), cg_sub(c, cg_idx(c, p.oh), r0));
  {
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
    uint32_t pb = (uint8_t)(h.x_zp ^ (d.u8_acts ? 0x80 : 0));
    LLVMValueRef pad4 = cg_i32c(c, (int64_t)(pb * 0x01010101u));
    LLVMValueRef flip8 = LLVMConstInt(c->t_i8, d.u8_acts ? 0x80 : 0, 0);
    LLVMValueRef pad8 = LLVMConstInt(c->t_i8, pb, 0);
    LLVMValueRef ow = cg_loop_begin(c, &la, cg_idx(c, 0), lo);
    LLVMBuildStore(c->b, pad4, cg_gep(c, c->t_i32, c->scratch, cg_add(c, prow, ow)));
    cg_loop_end(c, &la, NULL, NULL);
    LLVMValueRef roff = cg_add(c, cg_mulc(c, ih, p.w), iw0);
    if (p.stride_w == 1 && d.lanes > 1) {
      /* whole vectors of pixels: 4 plane rows widened, shifted and or-ed into words */
      int vl = d.lanes;
      LLVMTypeRef vb = LLVMVectorType(c->t_i8, (unsigned)vl),
                  vw = LLVMVectorType(c->t_i32, (unsigned)vl);
      LLVMValueRef nvec = LLVMBuildSDiv(c->b, cg_sub(c, hi, lo), cg_idx(c, vl), "");
      CgLoop lv;
      LLVMValueRef u = cg_loop_begin(c, &lv, cg_idx(c, 0), nvec);
      LLVMValueRef o = cg_add(c, lo, cg_mulc(c, u, vl)), word = NULL;
      LLVMValueRef sh[16], f8[16], p8[16];
      for (int t = 0; t < 4; t++) {
        LLVMValueRef b8 = LLVMBuildLoad2(
            c->b, vb, cg_gep(c, c->t_i8, in[0], cg_add(c, plane[t], cg_add(c, roff, o))), "");
        LLVMSetAlignment(b8, 1);
        for (int l = 0; l < vl; l++) f8[l] = flip8, p8[l] = pad8;
        b8 = LLVMBuildXor(c->b, b8, LLVMConstVector(f8, (unsigned)vl), "");
        b8 = LLVMBuildSelect(c->b, real[t], b8, LLVMConstVector(p8, (unsigned)vl), "");
        LLVMValueRef w32 = LLVMBuildZExt(c->b, b8, vw, "");
        if (t) {
          for (int l = 0; l < vl; l++) sh[l] = cg_i32c(c, 8 * t);
          w32 = LLVMBuildShl(c->b, w32, LLVMConstVector(sh, (unsigned)vl), "");
        }
        word = word ? LLVMBuildOr(c->b, word, w32, "") : w32;
      }
      LLVMValueRef st =
          LLVMBuildStore(c->b, word, cg_gep(c, c->t_i32, c->scratch, cg_add(c, prow, o)));
      LLVMSetAlignment(st, 4);
      cg_loop_end(c, &lv, NULL, NULL);
      lo = cg_add(c, lo, cg_mulc(c, nvec, vl));
    }
    ow = cg_loop_begin(c, &lm2, lo, hi);
    LLVMValueRef at = cg_add(c, roff, cg_mulc(c, ow, p.stride_w)), word = NULL;
    for (int t = 0; t < 4; t++) {
      LLVMValueRef b8 = LLVMBuildXor(c->b, i8_load(c, in[0], cg_add(c, plane[t], at)), flip8, "");
      b8 = LLVMBuildZExt(c->b, LLVMBuildSelect(c->b, real[t], b8, pad8, ""), c->t_i32, "");
      b8 = t ? LLVMBuildShl(c->b, b8, cg_i32c(c, 8 * t), "") : b8;
      word = word ? LLVMBuildOr(c->b, word, b8, "") : b8;
    }
    LLVMBuildStore(c->b, word, cg_gep(c, c->t_i32, c->scratch, cg_add(c, prow, ow)));
    cg_loop_end(c, &lm2, NULL, NULL);
    ow = cg_loop_begin(c, &lz, hi, cg_idx(c, p.ow));
    LLVMBuildStore(c->b, pad4, cg_gep(c, c->t_i32, c->scratch, cg_add(c, prow, ow)));
    cg_loop_end(c, &lz, NULL, NULL);
    cg_loop_end(c, &lr, NULL, NULL);
    cg_loop_end(c, &lq, NULL, NULL);
    cg_loop_end(c, &lj, NULL, NULL);
    cg_loop_end(c, &li, NULL, NULL);
  }
  LLVMValueRef gm = cg_mulc(c, g, p.m_per_group);
  LLVMValueRef y = cg_gep(
      c, c->t_i8, out[0],
      cg_add(c, cg_mulc(c, cg_add(c, cg_mulc(c, b, M), gm), p.oh * p.ow), cg_mulc(c, r0, p.ow)));
  CgQGemm q = {.m = p.m_per_group,
               .k4 = k4,
               .n_cols = pq.rows * p.ow,
               .n_valid = cg_mulc(c, rows, p.ow),
               .s = cg_gep(c, c->t_i8, sp, cg_mulc(c, gm, k4 * qb)),
               .v = c->scratch,
               .y = y,
               .tables = cg_gep(c, c->t_i32, tab, gm),
               .lds = k4 * qb,
               .ldv = pq.ldv,
               .ldy = p.oh * p.ow,
               .n_pad = 0,
               .channels = M,
               .per_row = true,
               .v_is_acts = true,
               .shift_ge33 = ge33,
               .y_zp = h.y_zp};
  cg_qgemm_emit(c, d, &q);
  cg_loop_end(c, &lp, NULL, NULL);
  cg_loop_end(c, &lg, NULL, NULL);
  cg_loop_end(c, &lb, NULL, NULL);
  return true;
}

bool cg_lower_qgemm(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  if (ir_kernel_is_sparse(n->kernel)) return cg_sparse_i8_lower(c, n, in, out);
  if (n->kernel == IR_KERNEL_QGEMM_DOT4 && c->scratch) return lower_qgemm_dot4(c, n, in, out);
  return lower_qgemm_loops(c, n, in, out);
}

bool cg_lower_qlinear_conv(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  if (n->kernel == IR_KERNEL_QCONV_DOT4 && c->scratch) return lower_qconv_dot4(c, n, in, out);
  return lower_qconv_loops(c, n, in, out);
}

LLVMValueRef cg_quant_requant(Cg *c, LLVMValueRef acc, LLVMValueRef mult, LLVMValueRef shift,
                              int32_t zp) {
  return requant(c, acc, mult, shift, zp);
}

LLVMValueRef cg_quant_head_tables(Cg *c, const IrNode *n, const int8_t *w, int64_t per_channel) {
  IrQHead h;
  ir_qhead(n, &h);
  return head_tables(c, n, &h, w, per_channel);
}
