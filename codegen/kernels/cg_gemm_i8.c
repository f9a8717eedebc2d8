/* The int8 micro-kernel: C[M][N] = S[M][K] . V[K][N] in int32, requantized in registers, one
 * store of int8 per tile row (docs/quantization.md). Same register-tile idea as the fp32
 * generator (cg_gemm.c): an MR x NV tile of int32 accumulator vectors lives for the whole
 * reduction; each step of k4 (4 reductions) loads NV vectors of V and broadcasts MR quads of S.
 *
 * The unit of work is dot4: per i32 lane, acc += the dot product of 4 bytes of activations and
 * 4 bytes of weights, which the target does in one instruction where it can:
 *   - x86 AVX-512 VNNI: vpdpbusd (u8 x s8, 16 lanes); activations are stored offset by +128
 *     (x ^ 0x80), and the bias absorbs the -128 * sum(w) this adds;
 *   - AArch64 +dotprod: sdot (s8 x s8, 4 lanes);
 *   - Arm with the DSP extension (Cortex-M4/M7/M33): two smlad (dual 16-bit multiply-add) on
 *     sxtb16-unpacked halves, one lane; Conv weights (reused by every pixel) are unpacked at
 *     compile time (8 bytes a quad: (w0, w2), (w1, w3) as i16 pairs), Gemm weights (read once
 *     per inference at batch 1) stay 4 bytes in flash; activations are unpacked once per quad;
 *   - elsewhere (AVX2, SSE, NEON without dotprod, M0+, RISC-V): sign-extend and multiply, which
 *     LLVM turns into the target's widening multiply-adds.
 * V is laid out [K4][ldv][4] bytes (the 4 reductions of one lane adjacent), S as rows of K4
 * quads. Integer sums are exact, so every order and every target gives the interpreter's bits. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_gemm_i8.h"
#include "cg_kernels.h"

static bool has_feature(const char *features, const char *feature) {
  size_t n = strlen(feature);
  for (const char *s = strstr(features, feature); s; s = strstr(s + 1, feature))
    if ((s == features || s[-1] == ',') && (s[n] == ',' || s[n] == 0)) return true;
  return false;
}

CgDot4 cg_dot4_info(Cg *c) {
  char *triple = LLVMGetTargetMachineTriple(c->tm);
  char *f = LLVMGetTargetMachineFeatureString(c->tm);
  CgDot4 d = {CG_DOT4_GENERIC, 1, 8, false, false, false, false};
  bool x86 = !strncmp(triple, "x86_64", 6) || !strncmp(triple, "i686", 4);
  if (x86 && has_feature(f, "+avx512vnni") && has_feature(f, "+avx512f"))
    d = (CgDot4){CG_DOT4_VNNI, 16, 32, true, false, false, false};
  else if (x86)
    d = (CgDot4){CG_DOT4_GENERIC, has_feature(f, "+avx2") ? 8 : 4, 16, false, false, false, false};
  else if (!strncmp(triple, "aarch64", 7) || !strncmp(triple, "arm64", 5))
    d = (CgDot4){has_feature(f, "+dotprod") ? CG_DOT4_SDOT : CG_DOT4_GENERIC,
                 4,
                 32,
                 false,
                 false,
                 false,
                 false};
  else if ((!strncmp(triple, "thumb", 5) || !strncmp(triple, "arm", 3)) && has_feature(f, "+neon"))
    d = (CgDot4){CG_DOT4_GENERIC, 4, 16, false, false, false, false};
  else if (!strncmp(triple, "thumbv7em", 9) || /* ARMv7E-M (Cortex-M4/M7) always has DSP */
           ((!strncmp(triple, "thumb", 5) || !strncmp(triple, "arm", 3)) && has_feature(f, "+dsp")))
    d = (CgDot4){CG_DOT4_SMLAD, 1, 8, false, false, false, false};
  d.vfp = d.kind == CG_DOT4_SMLAD && (strstr(triple, "eabihf") || strstr(f, "+vfp"));
  d.masked = x86 && has_feature(f, "+avx512bw") && has_feature(f, "+avx512f");
  d.vbmi = d.masked && has_feature(f, "+avx512vbmi");
  LLVMDisposeMessage(triple);
  LLVMDisposeMessage(f);
  return d;
}

/* A call of intrinsic `name` with overload types tys (n_tys may be 0). */
static LLVMValueRef call_intrinsic(Cg *c, const char *name, LLVMTypeRef *tys, int n_tys,
                                   LLVMValueRef *args, int n) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  assert(id != 0 && "unknown intrinsic");
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->mod, id, tys, (size_t)n_tys);
  LLVMTypeRef ft = LLVMIntrinsicGetType(c->ctx, id, tys, (size_t)n_tys);
  return LLVMBuildCall2(c->b, ft, fn, args, (unsigned)n, "");
}

LLVMValueRef cg_call_intrinsic(Cg *c, const char *name, LLVMValueRef *args, int n) {
  return call_intrinsic(c, name, NULL, 0, args, n);
}

LLVMValueRef cg_dsp_add16(Cg *c, LLVMValueRef a, LLVMValueRef b, bool sub) {
  return call_intrinsic(c, sub ? "llvm.arm.ssub16" : "llvm.arm.sadd16", NULL, 0,
                        (LLVMValueRef[]){a, b}, 2);
}

static LLVMTypeRef vec_i32(Cg *c, int lanes) {
  return lanes == 1 ? c->t_i32 : LLVMVectorType(c->t_i32, (unsigned)lanes);
}

LLVMValueRef cg_dot4(Cg *c, CgDot4 d, LLVMValueRef acc, LLVMValueRef acts, LLVMValueRef wts) {
  switch (d.kind) {
  case CG_DOT4_VNNI: {
    LLVMValueRef args[3] = {acc, acts, wts};
    return call_intrinsic(c, "llvm.x86.avx512.vpdpbusd.512", NULL, 0, args, 3);
  }
  case CG_DOT4_SDOT: {
    LLVMTypeRef b16 = LLVMVectorType(c->t_i8, 16);
    LLVMTypeRef tys[2] = {vec_i32(c, 4), b16};
    LLVMValueRef args[3] = {acc, LLVMBuildBitCast(c->b, acts, b16, ""),
                            LLVMBuildBitCast(c->b, wts, b16, "")};
    return call_intrinsic(c, "llvm.aarch64.neon.sdot", tys, 2, args, 3);
  }
  case CG_DOT4_SMLAD: {
    /* bytes 0 and 2 as two i16 (sxtb16), then bytes 1 and 3 (sxtb16 of the word rotated by 8) */
    LLVMValueRef eight = cg_i32c(c, 8);
    LLVMValueRef ra[2] = {acts, acts}, rw[2] = {wts, wts};
    LLVMTypeRef t = c->t_i32;
    LLVMValueRef a_ror = cg_intrinsic(c, "llvm.fshr", t, (LLVMValueRef[]){ra[0], ra[1], eight}, 3);
    LLVMValueRef w_ror = cg_intrinsic(c, "llvm.fshr", t, (LLVMValueRef[]){rw[0], rw[1], eight}, 3);
    LLVMValueRef a0 = call_intrinsic(c, "llvm.arm.sxtb16", NULL, 0, &acts, 1);
    LLVMValueRef w0 = call_intrinsic(c, "llvm.arm.sxtb16", NULL, 0, &wts, 1);
    LLVMValueRef a1 = call_intrinsic(c, "llvm.arm.sxtb16", NULL, 0, &a_ror, 1);
    LLVMValueRef w1 = call_intrinsic(c, "llvm.arm.sxtb16", NULL, 0, &w_ror, 1);
    acc = call_intrinsic(c, "llvm.arm.smlad", NULL, 0, (LLVMValueRef[]){a0, w0, acc}, 3);
    return call_intrinsic(c, "llvm.arm.smlad", NULL, 0, (LLVMValueRef[]){a1, w1, acc}, 3);
  }
  case CG_DOT4_GENERIC: break;
  }
  /* sign-extend the 4 bytes of every lane, multiply, add the four products of each lane */
  int lanes = d.lanes, nb = 4 * lanes;
  LLVMTypeRef bytes = LLVMVectorType(c->t_i8, (unsigned)nb),
              wide = LLVMVectorType(c->t_i32, (unsigned)nb);
  LLVMValueRef p =
      LLVMBuildMul(c->b, LLVMBuildSExt(c->b, LLVMBuildBitCast(c->b, acts, bytes, ""), wide, ""),
                   LLVMBuildSExt(c->b, LLVMBuildBitCast(c->b, wts, bytes, ""), wide, ""), "");
  LLVMValueRef sum = acc;
  for (int t = 0; t < 4; t++) {
    LLVMValueRef part;
    if (lanes == 1) {
      part = LLVMBuildExtractElement(c->b, p, cg_i32c(c, t), "");
    } else {
      LLVMValueRef idx[16];
      for (int l = 0; l < lanes; l++) idx[l] = cg_i32c(c, 4 * l + t);
      part = LLVMBuildShuffleVector(c->b, p, LLVMGetUndef(wide),
                                    LLVMConstVector(idx, (unsigned)lanes), "");
    }
    sum = LLVMBuildAdd(c->b, sum, part, "");
  }
  return sum;
}

LLVMValueRef cg_masked_load(Cg *c, LLVMTypeRef vt, LLVMValueRef ptr, LLVMValueRef mask) {
  LLVMTypeRef tys[2] = {vt, LLVMTypeOf(ptr)};
  LLVMValueRef args[4] = {ptr, cg_i32c(c, 1), mask, LLVMConstNull(vt)};
  return call_intrinsic(c, "llvm.masked.load", tys, 2, args, 4);
}

void cg_masked_store(Cg *c, LLVMValueRef v, LLVMValueRef ptr, LLVMValueRef mask) {
  LLVMTypeRef tys[2] = {LLVMTypeOf(v), LLVMTypeOf(ptr)};
  LLVMValueRef args[4] = {v, ptr, cg_i32c(c, 1), mask};
  call_intrinsic(c, "llvm.masked.store", tys, 2, args, 4);
}

LLVMValueRef cg_lane_mask(Cg *c, int lanes, LLVMValueRef n) {
  LLVMValueRef iota[64];
  assert(lanes <= 64);
  /* compared as i32 (one vpcmpgtd on x86), n clamped to [0, lanes] first */
  n = LLVMBuildTrunc(c->b, cg_smax(c, cg_smin(c, n, cg_idx(c, lanes)), cg_idx(c, 0)), c->t_i32, "");
  LLVMTypeRef it = c->t_i32;
  for (int l = 0; l < lanes; l++) iota[l] = LLVMConstInt(it, (unsigned long long)l, 0);
  LLVMTypeRef vt = LLVMVectorType(it, (unsigned)lanes);
  LLVMValueRef v = LLVMBuildInsertElement(c->b, LLVMGetUndef(vt), n, cg_i32c(c, 0), "");
  LLVMValueRef zeros[64];
  for (int l = 0; l < lanes; l++) zeros[l] = cg_i32c(c, 0);
  v = LLVMBuildShuffleVector(c->b, v, LLVMGetUndef(vt), LLVMConstVector(zeros, (unsigned)lanes),
                             "");
  return LLVMBuildICmp(c->b, LLVMIntSLT, LLVMConstVector(iota, (unsigned)lanes), v, "");
}

/* ---- the kernel ----------------------------------------------------------------------------- */

LLVMValueRef cg_qsplat(Cg *c, LLVMValueRef s, int lanes) {
  if (lanes == 1) return s;
  LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(s), (unsigned)lanes);
  LLVMValueRef v = LLVMBuildInsertElement(c->b, LLVMGetUndef(vt), s, cg_i32c(c, 0), "");
  LLVMValueRef zeros[64];
  assert(lanes <= 64);
  for (int l = 0; l < lanes; l++) zeros[l] = cg_i32c(c, 0);
  return LLVMBuildShuffleVector(c->b, v, LLVMGetUndef(vt), LLVMConstVector(zeros, (unsigned)lanes),
                                "");
}

static LLVMValueRef load_vec(Cg *c, LLVMTypeRef t, LLVMValueRef base, LLVMValueRef byte_off,
                             unsigned align) {
  LLVMValueRef v = LLVMBuildLoad2(c->b, t, cg_gep(c, c->t_i8, base, byte_off), "");
  LLVMSetAlignment(v, align);
  return v;
}

/* hi32(a * b) per i32 lane (signed) as the even and the odd lanes' 32 x 32 -> 64 products
 * whose high words one shuffle interleaves (x86: two vpmuldq, one shift of a's odd lanes and a
 * vpermt2d; the sign-extended <lanes x i64> product that LLVM otherwise builds takes twice the
 * registers and instructions). */
static LLVMValueRef mulhs_even_odd(Cg *c, int lanes, LLVMValueRef a, LLVMValueRef b) {
  int half = lanes / 2;
  LLVMTypeRef q = LLVMVectorType(c->t_i64, (unsigned)half),
              d = LLVMVectorType(c->t_i32, (unsigned)lanes);
  LLVMValueRef k32 = cg_qsplat(c, LLVMConstInt(c->t_i64, 32, 0), half), idx[64];
  /* the odd lanes moved down (a splat b, the per-row multiplier, stays itself: no extra
   * register), then each operand's low words sign-extended: the vpmuldq pattern */
  for (int l = 0; l < lanes; l++) idx[l] = cg_i32c(c, l | 1);
  LLVMValueRef odd_at = LLVMConstVector(idx, (unsigned)lanes), op[2][2] = {{a, b}, {NULL, NULL}};
  for (int k = 0; k < 2; k++)
    op[1][k] = LLVMBuildShuffleVector(c->b, op[0][k], LLVMGetUndef(d), odd_at, "");
  LLVMValueRef prod[2];
  for (int e = 0; e < 2; e++) {
    LLVMValueRef x[2];
    for (int k = 0; k < 2; k++) {
      LLVMValueRef v = LLVMBuildBitCast(c->b, op[e][k], q, "");
      x[k] = LLVMBuildAShr(c->b, LLVMBuildShl(c->b, v, k32, ""), k32, "");
    }
    prod[e] = LLVMBuildBitCast(c->b, LLVMBuildMul(c->b, x[0], x[1], ""), d, "");
  }
  /* lane 2j: the high word of even product j (word 2j + 1); lane 2j + 1: odd product j's */
  for (int l = 0; l < lanes; l++) idx[l] = cg_i32c(c, l % 2 ? lanes + l : l + 1);
  return LLVMBuildShuffleVector(c->b, prod[0], prod[1], LLVMConstVector(idx, (unsigned)lanes), "");
}

static bool is_x86_avx512(Cg *c) {
  char *triple = LLVMGetTargetMachineTriple(c->tm);
  char *f = LLVMGetTargetMachineFeatureString(c->tm);
  bool yes = !strncmp(triple, "x86_64", 6) && has_feature(f, "+avx512f");
  LLVMDisposeMessage(triple);
  LLVMDisposeMessage(f);
  return yes;
}

bool cg_qrequant_32bit(IrRequant r) { return r.shift >= 33 && r.shift <= 55; }

static LLVMValueRef clamp_i32(Cg *c, LLVMValueRef x, int32_t lo, int32_t hi) {
  LLVMValueRef l = cg_i32c(c, lo), h = cg_i32c(c, hi);
  x = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, x, l, ""), l, x, "");
  return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, x, h, ""), h, x, "");
}

/* Per-lane (or splat per-row) requantization of an accumulator vector to <lanes x i8>; keep_i32
 * (shift_ge33 only): the i32 result before its saturation to [-128, 127]. */
static LLVMValueRef requant(Cg *c, int lanes, LLVMValueRef acc, LLVMValueRef mult,
                            LLVMValueRef shift, int32_t zp, bool shift_ge33, bool keep_i32) {
  LLVMTypeRef i64 = lanes == 1 ? c->t_i64 : LLVMVectorType(c->t_i64, (unsigned)lanes);
  if (shift_ge33) {
    /* every shift s in [33, 55] (cg_qrequant_32bit): (p + 2^(s-1)) >> s == ((p >> (s-1)) + 1)
     * >> 1 (floor identity), and p >> (s-1) == hi32(p) >> (s-33): 32-bit operations after one
     * widening multiply (|p| < 2^62, so nothing overflows) */
    LLVMTypeRef i32 = lanes == 1 ? c->t_i32 : LLVMVectorType(c->t_i32, (unsigned)lanes);
    LLVMValueRef hi;
    if (lanes > 1 && lanes % 2 == 0) {
      hi = mulhs_even_odd(c, lanes, acc, mult);
    } else {
      LLVMValueRef p = LLVMBuildMul(c->b, LLVMBuildSExt(c->b, acc, i64, ""),
                                    LLVMBuildSExt(c->b, mult, i64, ""), "");
      hi = LLVMBuildTrunc(
          c->b, LLVMBuildAShr(c->b, p, cg_qsplat(c, LLVMConstInt(c->t_i64, 32, 0), lanes), ""), i32,
          "");
    }
    LLVMValueRef x, one = cg_qsplat(c, cg_i32c(c, 1), lanes);
    LLVMValueRef zp1 = cg_qsplat(c, cg_i32c(c, 1 + 2 * zp), lanes);
    if (lanes == 1) {
      /* the zero point joins the rounding term: ((x + 1 + 2 zp) >> 1) == ((x + 1) >> 1) + zp,
       * so the clamp to [-128, 127] follows the shift directly (Arm: one ssat with asr #1) */
      x = LLVMBuildAShr(c->b, hi, LLVMBuildSub(c->b, shift, cg_i32c(c, 33), ""), "");
      x = LLVMBuildAShr(c->b, LLVMBuildAdd(c->b, x, zp1, ""), one, "");
    } else {
      /* vectors: the rounding term joins before the shift, ((hi >> t) + k) >> 1 == (hi + (k <<
       * t)) >> (t + 1) with t = s - 33, k = 1 + 2 zp (|hi| <= 2^30, |k << t| < 2^30 for t <=
       * 22: no overflow); k << t is per row, out of the tile's loops: one add and one shift a
       * vector */
      LLVMValueRef t = LLVMBuildSub(c->b, shift, cg_qsplat(c, cg_i32c(c, 33), lanes), "");
      x = LLVMBuildAShr(c->b, LLVMBuildAdd(c->b, hi, LLVMBuildShl(c->b, zp1, t, ""), ""),
                        LLVMBuildAdd(c->b, t, one, ""), "");
    }
    if (keep_i32) return x;              /* cg_qrequant_pack4 saturates */
    if (lanes == 16 && is_x86_avx512(c)) /* vpmovsdb: the clamp and the narrowing in one */
      return call_intrinsic(
          c, "llvm.x86.avx512.mask.pmovs.db.512", NULL, 0,
          (LLVMValueRef[]){x, LLVMGetUndef(LLVMVectorType(c->t_i8, 16)),
                           LLVMConstInt(LLVMInt16TypeInContext(c->ctx), 0xffff, 0)},
          3);
    LLVMValueRef lo = cg_qsplat(c, cg_i32c(c, -128), lanes),
                 top = cg_qsplat(c, cg_i32c(c, 127), lanes);
    x = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, x, lo, ""), lo, x, "");
    x = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, x, top, ""), top, x, "");
    return LLVMBuildTrunc(c->b, x, lanes == 1 ? c->t_i8 : LLVMVectorType(c->t_i8, (unsigned)lanes),
                          "");
  }
  LLVMValueRef one = cg_qsplat(c, LLVMConstInt(c->t_i64, 1, 0), lanes);
  LLVMValueRef p =
      LLVMBuildMul(c->b, LLVMBuildSExt(c->b, acc, i64, ""), LLVMBuildSExt(c->b, mult, i64, ""), "");
  LLVMValueRef sh = LLVMBuildZExt(c->b, shift, i64, "");
  LLVMValueRef half = LLVMBuildShl(c->b, one, LLVMBuildSub(c->b, sh, one, ""), "");
  LLVMValueRef v = LLVMBuildAShr(c->b, LLVMBuildAdd(c->b, p, half, ""), sh, "");
  v = LLVMBuildAdd(
      c->b, v, cg_qsplat(c, LLVMConstInt(c->t_i64, (unsigned long long)(int64_t)zp, 1), lanes), "");
  LLVMValueRef lo = cg_qsplat(c, LLVMConstInt(c->t_i64, (unsigned long long)-128, 1), lanes),
               hi = cg_qsplat(c, LLVMConstInt(c->t_i64, 127, 1), lanes);
  v = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, v, lo, ""), lo, v, "");
  v = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, v, hi, ""), hi, v, "");
  return LLVMBuildTrunc(c->b, v, lanes == 1 ? c->t_i8 : LLVMVectorType(c->t_i8, (unsigned)lanes),
                        "");
}

/* qlut[i] for an i32 i in [0, 255] */
static LLVMValueRef lut_load(Cg *c, LLVMValueRef i) {
  LLVMValueRef v = LLVMBuildLoad2(c->b, c->t_i8, cg_gep(c, c->t_i8, c->qlut, i), "");
  LLVMSetAlignment(v, 1);
  return v;
}

LLVMValueRef cg_qlut_map(Cg *c, LLVMValueRef y) {
  if (!c->qlut) return y;
  LLVMTypeRef t = LLVMTypeOf(y);
  if (LLVMGetTypeKind(t) != LLVMVectorTypeKind)
    return lut_load(c, LLVMBuildAdd(c->b, LLVMBuildSExt(c->b, y, c->t_i32, ""), cg_i32c(c, 128),
                                    ""));               /* table[y + 128] */
  for (unsigned l = 0; l < LLVMGetVectorSize(t); l++) { /* no scalar-target kernel has these */
    LLVMValueRef k = cg_i32c(c, l);
    y = LLVMBuildInsertElement(c->b, y, cg_qlut_map(c, LLVMBuildExtractElement(c->b, y, k, "")), k,
                               "");
  }
  return y;
}

LLVMValueRef cg_qrequant(Cg *c, int lanes, LLVMValueRef acc, LLVMValueRef mult, LLVMValueRef shift,
                         int32_t zp, bool shift_ge33) {
  if (c->qlut && lanes == 1 && shift_ge33) {
    /* a fused lookup: the table index y + 128 straight from the requantization, the zero point
     * zp + 128 and the clamp [0, 255] (Arm: usat with asr #1, then ldrb [table, index]) */
    LLVMValueRef x = requant(c, 1, acc, mult, shift, zp + 128, true, true);
    return lut_load(c, clamp_i32(c, x, 0, 255));
  }
  return cg_qlut_map(c, requant(c, lanes, acc, mult, shift, zp, shift_ge33, false));
}

/* The 64 bytes saturated by vpackssdw (x2) and vpacksswb (i32 -> i16 -> i8, the same clamp as
 * one saturation to [-128, 127]), whose per-128-bit-lane interleaving one vpermd undoes: 4
 * port-5 operations for 4 vectors where vpmovsdb takes 2 each. */
LLVMValueRef cg_qrequant_pack4(Cg *c, const LLVMValueRef *acc, LLVMValueRef mult,
                               LLVMValueRef shift, int32_t zp) {
  LLVMValueRef x[4], idx[16];
  for (int v = 0; v < 4; v++) x[v] = requant(c, 16, acc[v], mult, shift, zp, true, true);
  LLVMValueRef w01 =
      call_intrinsic(c, "llvm.x86.avx512.packssdw.512", NULL, 0, (LLVMValueRef[]){x[0], x[1]}, 2);
  LLVMValueRef w23 =
      call_intrinsic(c, "llvm.x86.avx512.packssdw.512", NULL, 0, (LLVMValueRef[]){x[2], x[3]}, 2);
  LLVMValueRef b =
      call_intrinsic(c, "llvm.x86.avx512.packsswb.512", NULL, 0, (LLVMValueRef[]){w01, w23}, 2);
  /* 128-bit lane i holds the 4 vectors' elements 4i..4i+3 (dword 4i + v: vector v's) */
  for (int v = 0; v < 4; v++)
    for (int i = 0; i < 4; i++) idx[4 * v + i] = cg_i32c(c, 4 * i + v);
  LLVMTypeRef d16 = LLVMVectorType(c->t_i32, 16);
  LLVMValueRef d = LLVMBuildBitCast(c->b, b, d16, "");
  d = LLVMBuildShuffleVector(c->b, d, LLVMGetUndef(d16), LLVMConstVector(idx, 16), "");
  return cg_qlut_map(c, LLVMBuildBitCast(c->b, d, LLVMVectorType(c->t_i8, 64), ""));
}

/* Stores the lanes of y (<lanes x et>) at dst[n0 ...] that are below n_valid (run-time). */
static void store_lanes_t(Cg *c, LLVMTypeRef et, unsigned align, int lanes, LLVMValueRef y,
                          LLVMValueRef dst, LLVMValueRef n0, LLVMValueRef n_valid) {
  LLVMValueRef room = cg_sub(c, n_valid, n0);
  CgIf full;
  cg_if_begin(c, &full, LLVMBuildICmp(c->b, LLVMIntSGE, room, cg_idx(c, lanes), ""));
  LLVMValueRef s = LLVMBuildStore(c->b, y, cg_gep(c, et, dst, n0));
  LLVMSetAlignment(s, align);
  cg_if_else(c, &full);
  for (int l = 0; l < lanes; l++) {
    CgIf one;
    cg_if_begin(c, &one, LLVMBuildICmp(c->b, LLVMIntSGT, room, cg_idx(c, l), ""));
    LLVMValueRef e = lanes == 1 ? y : LLVMBuildExtractElement(c->b, y, cg_i32c(c, l), "");
    s = LLVMBuildStore(c->b, e, cg_gep(c, et, dst, cg_addc(c, n0, l)));
    LLVMSetAlignment(s, align);
    cg_if_else(c, &one);
    cg_if_end(c, &one);
  }
  cg_if_end(c, &full);
}

static void store_lanes(Cg *c, int lanes, LLVMValueRef y, LLVMValueRef dst, LLVMValueRef n0,
                        LLVMValueRef n_valid) {
  store_lanes_t(c, c->t_i8, 1, lanes, y, dst, n0, n_valid);
}

bool cg_is_thumb(Cg *c) {
  char *triple = LLVMGetTargetMachineTriple(c->tm);
  bool t = !strncmp(triple, "thumb", 5);
  LLVMDisposeMessage(triple);
  return t;
}

/* One ldrd on Thumb-2 (the backend would split or re-address the two loads), plain loads
 * elsewhere. */
void cg_qpair_acts(Cg *c, LLVMValueRef pa, int64_t s, bool thumb, LLVMValueRef a[2]) {
  if (!thumb) {
    a[0] = cg_load_elem(c, IR_I32, pa, cg_idx(c, 2 * s));
    a[1] = cg_load_elem(c, IR_I32, pa, cg_idx(c, 2 * s + 1));
    return;
  }
  char code[64];
  snprintf(code, sizeof code, "ldrd $0, $1, [$2, #%d]", (int)(8 * s));
  LLVMTypeRef fl[2] = {c->t_i32, c->t_i32};
  LLVMValueRef call =
      cg_asm_read(c, code, "=r,=r,r", LLVMStructTypeInContext(c->ctx, fl, 2, 0), pa);
  for (int k = 0; k < 2; k++) a[k] = LLVMBuildExtractValue(c->b, call, (unsigned)k, "");
}

/* One ldm on Thumb-2 (into r10..r12: ldm takes ascending registers), plain loads elsewhere. */
void cg_qpair_weights(Cg *c, LLVMValueRef *pw, int mr, bool thumb, LLVMValueRef *w) {
  assert(mr >= 1 && mr <= CG_QPAIR_ROWS);
  if (!thumb) {
    for (int r = 0; r < mr; r++) w[r] = cg_load_elem(c, IR_I32, *pw, cg_idx(c, r));
    *pw = cg_gep(c, c->t_i32, *pw, cg_idx(c, mr));
    return;
  }
  static const char *const code[] = {"ldr $0, [$1], #4", "ldmia $2!, {$0, $1}",
                                     "ldmia $3!, {$0, $1, $2}"};
  static const char *const cons[] = {"=&r,=r,1", "={r10},={r11},=r,2", "={r10},={r11},={r12},=r,3"};
  LLVMTypeRef fl[4];
  for (int r = 0; r < mr; r++) fl[r] = c->t_i32;
  fl[mr] = LLVMTypeOf(*pw);
  LLVMValueRef call = cg_asm_read(c, code[mr - 1], cons[mr - 1],
                                  LLVMStructTypeInContext(c->ctx, fl, (unsigned)mr + 1, 0), *pw);
  for (int r = 0; r < mr; r++) w[r] = LLVMBuildExtractValue(c->b, call, (unsigned)r, "");
  *pw = LLVMBuildExtractValue(c->b, call, (unsigned)mr, "");
}

/* One reduction step of an Arm DSP tile on Thumb-2 as one inline asm `code` with operands $0..
 * n_acc-1 the sums (read and written), then n_tmp scratch registers, the walking pointer (read
 * and advanced by the code: ldm with writeback) and the fixed pointer (constant offsets). One asm
 * per step, because the scheduler, given separate loads and smlad, delays an smlad past the next
 * step's ldm into the same pinned registers and spills. */
static void dsp_step(Cg *c, const char *code, int n_acc, int n_tmp, const char *clobbers,
                     LLVMValueRef fixed, LLVMValueRef *walk, LLVMValueRef *acc) {
  enum { MAX_OPS = 16 };
  assert(n_acc + n_tmp + 2 <= MAX_OPS);
  char cons[256];
  size_t cl = 0;
  for (int i = 0; i < n_acc; i++) cl += (size_t)snprintf(cons + cl, sizeof cons - cl, "=r,");
  for (int i = 0; i < n_tmp; i++) cl += (size_t)snprintf(cons + cl, sizeof cons - cl, "=&r,");
  cl += (size_t)snprintf(cons + cl, sizeof cons - cl, "=r,r");
  for (int i = 0; i < n_acc; i++) cl += (size_t)snprintf(cons + cl, sizeof cons - cl, ",%d", i);
  snprintf(cons + cl, sizeof cons - cl, ",%d,%s", n_acc + n_tmp, clobbers);
  LLVMTypeRef fl[MAX_OPS], args_t[MAX_OPS];
  LLVMValueRef args[MAX_OPS];
  int n_out = n_acc + n_tmp + 1, n_in = n_acc + 2;
  for (int i = 0; i < n_out - 1; i++) fl[i] = c->t_i32;
  fl[n_out - 1] = LLVMTypeOf(*walk);
  args[0] = fixed;
  for (int i = 0; i < n_acc; i++) args[1 + i] = acc[i];
  args[n_acc + 1] = *walk;
  for (int i = 0; i < n_in; i++) args_t[i] = LLVMTypeOf(args[i]);
  LLVMTypeRef fty = LLVMFunctionType(LLVMStructTypeInContext(c->ctx, fl, (unsigned)n_out, 0),
                                     args_t, (unsigned)n_in, 0);
  LLVMValueRef fn = LLVMGetInlineAsm(fty, (char *)code, strlen(code), cons, strlen(cons), 0, 0,
                                     LLVMInlineAsmDialectATT, 0);
  LLVMValueRef call = LLVMBuildCall2(c->b, fty, fn, args, (unsigned)n_in, "");
  unsigned memory = LLVMGetEnumAttributeKindForName("memory", 6);
  LLVMAddCallSiteAttribute(call, LLVMAttributeFunctionIndex,
                           LLVMCreateEnumAttribute(c->ctx, memory, 1 /* argmem: read */));
  unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
  LLVMAddCallSiteAttribute(call, LLVMAttributeFunctionIndex,
                           LLVMCreateEnumAttribute(c->ctx, nounwind, 0));
  for (int i = 0; i < n_acc; i++) acc[i] = LLVMBuildExtractValue(c->b, call, (unsigned)i, "");
  *walk = LLVMBuildExtractValue(c->b, call, (unsigned)n_out - 1, "");
}

/* The pairs tile's step (mr rows x 2 columns): ldrd of the two activation words at byte
 * offset off from ap (off2 >= 0: two ldr, at off and off2), the mr weight words by ldm from *wp
 * into r10..r12, 2 mr smlad. */
static void pair_step_asm(Cg *c, LLVMValueRef ap, int64_t off, int64_t off2, LLVMValueRef *wp,
                          int mr, LLVMValueRef *acc) {
  int n = 2 * mr; /* $n $n+1 activations, $n+2 wp, $n+3 ap */
  char code[512];
  size_t len = off2 < 0 ? (size_t)snprintf(code, sizeof code, "ldrd $%d, $%d, [$%d, #%d]\n\t", n,
                                           n + 1, n + 3, (int)off)
                        : (size_t)snprintf(code, sizeof code,
                                           "ldr $%d, [$%d, #%d]\n\tldr $%d, [$%d, #%d]\n\t", n,
                                           n + 3, (int)off, n + 1, n + 3, (int)off2);
  if (mr == 1)
    len += (size_t)snprintf(code + len, sizeof code - len, "ldr r10, [$%d], #4", n + 2);
  else
    len += (size_t)snprintf(code + len, sizeof code - len, "ldmia $%d!, {r10-r%d}", n + 2, 9 + mr);
  for (int r = 0; r < mr; r++)
    for (int t = 0; t < 2; t++)
      len += (size_t)snprintf(code + len, sizeof code - len, "\n\tsmlad $%d, r%d, $%d, $%d",
                              2 * r + t, 10 + r, n + t, 2 * r + t);
  static const char *const clob[] = {"~{r10}", "~{r10},~{r11}", "~{r10},~{r11},~{r12}"};
  dsp_step(c, code, n, 2, clob[mr - 1], ap, wp, acc);
}

/* The batch-1 QGemm's step (1 row x 4 columns, one quad of the reduction): the row's widened
 * activation quad, (a0, a2) and (a1, a3), by ldrd at byte offset off from sp; the 4 columns'
 * packed weight quads by one ldm from *vp into r10..r12, lr; per column sxtb16 of the even and
 * the odd bytes and 2 smlad: 18 instructions per 16 multiply-adds. */
static void gemm_step_asm(Cg *c, LLVMValueRef sp, int64_t off, LLVMValueRef *vp,
                          LLVMValueRef *acc) {
  static const char *const w[4] = {"r10", "r11", "r12", "lr"};
  char code[512];
  size_t len = (size_t)snprintf(
      code, sizeof code, "ldrd $4, $5, [$8, #%d]\n\tldmia $7!, {r10, r11, r12, lr}", (int)off);
  for (int v = 0; v < 4; v++)
    len += (size_t)snprintf(code + len, sizeof code - len,
                            "\n\tsxtb16 $6, %s\n\tsmlad $%d, $6, $4, $%d\n\tsxtb16 $6, %s, ror #8"
                            "\n\tsmlad $%d, $6, $5, $%d",
                            w[v], v, v, w[v], v, v);
  dsp_step(c, code, 4, 3, "~{r10},~{r11},~{r12},~{lr}", sp, vp, acc);
}

/* The Arm DSP tiles over operands laid out step-major (CgQGemm.v_pair_major, v_strip_major):
 * the reduction in chunks of U steps unrolled, one operand at constant offsets 8 u from `fixed`
 * (ldrd's immediate reaches 1020 bytes: U <= 127), the other by ldm from `walk`; 3 instructions
 * per chunk (no loop at all when k4 <= CG_QPAIR_UNROLL_ALL). gemm: the batch-1 QGemm's 1 x 4
 * step, else the pairs tile's mr x 2. */
static void step_major_reduce(Cg *c, const CgQGemm *q, int mr, bool gemm, LLVMValueRef fixed0,
                              LLVMValueRef walk0, const LLVMValueRef *init, LLVMValueRef *out) {
  int64_t U = q->k4 <= CG_QPAIR_UNROLL_ALL ? q->k4
              : q->wide_pw                 ? q->wide_row_steps
                                           : CG_QPAIR_UNROLL;
  int64_t iters = q->k4 / U, rest = q->k4 % U;
  int64_t advance = q->wide_pw && iters > 1 ? q->wide_row_bytes : 8 * U; /* fixed, per chunk */
  bool thumb = cg_is_thumb(c);
  assert((thumb || !gemm) && (!q->wide_pw || (thumb && rest == 0)));
  int n = gemm ? 4 : 2 * mr;
  CgLoop lk;
  cg_for(c, &lk, iters);
  LLVMValueRef acc[CG_LOOP_MAX_ACC], next[CG_LOOP_MAX_ACC], after[CG_LOOP_MAX_ACC];
  for (int i = 0; i < n; i++) acc[i] = cg_loop_acc(c, &lk, init[i]);
  LLVMValueRef fixed = cg_loop_acc(c, &lk, fixed0), walk = cg_loop_acc(c, &lk, walk0);
  lk.keep = true;
  for (int pass = 0; pass < 2; pass++) { /* the chunks' loop, then the rest steps after it */
    for (int64_t u = 0; u < (pass ? rest : U); u++) {
      if (gemm) {
        gemm_step_asm(c, fixed, 8 * u, &walk, acc);
        continue;
      }
      if (thumb) {
        if (q->wide_pw)
          pair_step_asm(c, fixed, q->wide_off[u], q->wide_off[u] + q->wide_col_bytes, &walk, mr,
                        acc);
        else
          pair_step_asm(c, fixed, 8 * u, -1, &walk, mr, acc);
        continue;
      }
      LLVMValueRef a[2], w[CG_QPAIR_ROWS];
      cg_qpair_acts(c, fixed, u, false, a);
      cg_qpair_weights(c, &walk, mr, false, w);
      for (int r = 0; r < mr; r++)
        for (int t = 0; t < 2; t++)
          acc[2 * r + t] = call_intrinsic(c, "llvm.arm.smlad", NULL, 0,
                                          (LLVMValueRef[]){w[r], a[t], acc[2 * r + t]}, 3);
    }
    if (pass) break;
    for (int i = 0; i < n; i++) next[i] = acc[i];
    next[n] = cg_gep(c, c->t_i8, fixed, cg_idx(c, advance));
    next[n + 1] = walk;
    cg_loop_end(c, &lk, next, after);
    for (int i = 0; i < n; i++) acc[i] = after[i];
    fixed = after[n];
    walk = after[n + 1];
  }
  for (int i = 0; i < n; i++) out[i] = acc[i];
}

/* Thumb-2 loads through inline asm (the LLVM C API's LLVMGetInlineAsm, as the fp32 kernel's
 * VLDM): `code` loads n_out words from the pointer operand $n_out and advances it (post-indexed);
 * the outputs are early-clobber (ldrd with writeback needs them distinct from the pointer). The
 * Arm backend splits the tile's word loads and folds the pointer update into only one of them;
 * this keeps a step's operands at one ldrd (+ one ldr) each. */
static void asm_load_post(Cg *c, const char *code, int n_out, LLVMValueRef *ptr,
                          LLVMValueRef *out) {
  assert(n_out >= 1 && n_out <= 4);
  char cons[64];
  size_t len = 0;
  for (int r = 0; r < n_out; r++) len += (size_t)snprintf(cons + len, sizeof cons - len, "=&r,");
  snprintf(cons + len, sizeof cons - len, "=r,%d", n_out);
  LLVMTypeRef fl[8];
  for (int r = 0; r < n_out; r++) fl[r] = c->t_i32;
  fl[n_out] = LLVMTypeOf(*ptr);
  LLVMValueRef call =
      cg_asm_read(c, code, cons, LLVMStructTypeInContext(c->ctx, fl, (unsigned)n_out + 1, 0), *ptr);
  for (int r = 0; r < n_out; r++) out[r] = LLVMBuildExtractValue(c->b, call, (unsigned)r, "");
  *ptr = LLVMBuildExtractValue(c->b, call, (unsigned)n_out, "");
}

/* One block of `mr` rows starting at row m0 (run-time), over every strip of nv vectors. */
static void emit_rows(Cg *c, CgDot4 d, const CgQGemm *q, LLVMValueRef m0, int mr, int nv) {
  int lanes = d.lanes;
  LLVMTypeRef vt = vec_i32(c, lanes);
  int64_t strip = (int64_t)nv * lanes;
  int64_t strips = (q->n_cols + strip - 1) / strip;
  CgLoop ls, lk, lo;
  /* n0: the strip's first column of V; wide: per output row its column pairs, y column yn0,
   * stored up to row_end (no wasted strips, no division) */
  LLVMValueRef n0 = NULL, yn0 = NULL, row_end = NULL;
  if (q->wide_pw) {
    assert(nv == 2 && lanes == 1);
    LLVMValueRef oh = cg_for(c, &lo, q->n_cols / q->wide_pw);
    LLVMValueRef j2 = cg_mulc(c, cg_for(c, &ls, (q->wide_ow + 1) / 2), 2);
    n0 = cg_add(c, cg_mulc(c, oh, q->wide_pw), j2);
    yn0 = cg_add(c, cg_mulc(c, oh, q->wide_ow), j2);
    row_end = cg_addc(c, cg_mulc(c, oh, q->wide_ow), q->wide_ow);
  }
  /* pool: per row, the max of the top pair of the window, carried to the bottom pair's strip */
  LLVMValueRef carry[CG_LOOP_MAX_ACC], carry_next[CG_LOOP_MAX_ACC];
  assert(!q->pool || (q->pairs && !q->wide_pw && !q->raw && nv == 2 && lanes == 1));
  if (!q->wide_pw) {
    LLVMValueRef si = cg_for(c, &ls, strips);
    for (int r = 0; r < mr && q->pool; r++) carry[r] = cg_loop_acc(c, &ls, cg_i32c(c, 0));
    n0 = cg_mulc(c, si, strip);
  }
  LLVMValueRef ap0 = NULL, wp0 = NULL, ap = NULL, wp = NULL;
  /* the Arm DSP tiles walk the reduction with two pointers (post-indexed loads, no index
   * arithmetic per step) */
  bool walk = q->pairs || d.kind == CG_DOT4_SMLAD;
  int64_t s_step = q->pairs ? 4 * (int64_t)mr : q->v_is_acts || q->s_unpacked ? 8 : 4;
  bool major = q->pairs && (q->v_pair_major || q->wide_pw);
  bool strip_major = q->v_strip_major;
  assert(!major || nv == 2);
  assert(!strip_major || (nv == 4 && mr == 1 && q->s_unpacked && d.kind == CG_DOT4_SMLAD));
  if (walk) {
    int64_t col_bytes = q->wide_pw ? q->wide_col_bytes : major || strip_major ? 4 * q->k4 : 4;
    ap0 = cg_gep(c, c->t_i8, q->v, cg_mulc(c, n0, col_bytes));
    wp0 = cg_gep(c, c->t_i8, q->s, cg_mulc(c, m0, q->lds));
  }
  /* the pairs tile (scalar lanes) starts its accumulators from the rows' biases */
  /* the accumulators start from the bias (per row: a splat; per column: the strip's vectors),
   * not from 0: no add in the epilogue */
  bool bias_first = (!q->raw || q->raw_bias) && (lanes > 1 || q->pairs); /* Arm DSP QGemm: +2% */
  LLVMValueRef init[CG_LOOP_MAX_ACC];
  for (int r = 0; r < mr; r++)
    for (int v = 0; v < nv; v++) {
      LLVMValueRef b0 = LLVMConstNull(vt);
      if (bias_first && q->per_row) {
        b0 = cg_qsplat(c,
                       LLVMBuildLoad2(c->b, c->t_i32,
                                      q->raw
                                          ? cg_gep(c, c->t_i32, q->raw_bias, cg_addc(c, m0, r))
                                          : cg_gep(c, c->t_i32, q->tables,
                                                   cg_addc(c, cg_addc(c, m0, r), 2 * q->channels)),
                                      ""),
                       lanes);
      } else if (bias_first) {
        LLVMValueRef col = cg_addc(c, n0, (int64_t)v * lanes);
        b0 = q->raw ? LLVMBuildLoad2(c->b, vt, cg_gep(c, c->t_i32, q->raw_bias, col), "")
                    : LLVMBuildLoad2(c->b, vt,
                                     cg_gep(c, c->t_i32, q->tables, cg_addc(c, col, 2 * q->n_pad)),
                                     "");
        LLVMSetAlignment(b0, 4);
      }
      init[r * nv + v] = b0;
    }
  LLVMValueRef out[CG_LOOP_MAX_ACC];
  if (major) {
    step_major_reduce(c, q, mr, false, ap0, wp0, init, out);
  } else if (strip_major) {
    step_major_reduce(c, q, mr, true, wp0, ap0, init, out);
  } else {
    /* direct: the strip's first vector in the padded copy, the others at constant offsets */
    LLVMValueRef vbase = NULL;
    int64_t dvec_off[8] = {0};
    if (q->direct_taps) {
      int64_t ow = q->direct_ow;
      /* ow == direct_pw (wide rows, QLinearConvTranspose's sub-pixel phases): column n is word
       * n, any strip and any n_cols (V holds what the last strip reads past them) */
      bool linear = ow == q->direct_pw;
      assert(q->k4 % q->direct_taps == 0 &&
             (linear || (q->n_cols % strip == 0 && ow % lanes == 0 &&
                         (strip % ow == 0 || ow % strip == 0) && d.kind == CG_DOT4_VNNI)) &&
             d.kind != CG_DOT4_SMLAD && q->v_is_acts);
      if (linear) {
        vbase = cg_gep(c, c->t_i8, q->v, cg_mulc(c, n0, 4));
      } else {
        LLVMValueRef oy = LLVMBuildSDiv(c->b, n0, cg_idx(c, ow), "");
        LLVMValueRef ox = cg_sub(c, n0, cg_mulc(c, oy, ow));
        vbase =
            cg_gep(c, c->t_i8, q->v, cg_mulc(c, cg_add(c, cg_mulc(c, oy, q->direct_pw), ox), 4));
      }
      for (int v = 0; v < nv; v++)
        dvec_off[v] = linear
                          ? 4 * (int64_t)v * lanes
                          : 4 * ((int64_t)v * lanes / ow * q->direct_pw + (int64_t)v * lanes % ow);
    }
    LLVMValueRef k4 = cg_for(c, &lk, q->direct_taps ? q->k4 / q->direct_taps : q->k4);
    LLVMValueRef acc[CG_LOOP_MAX_ACC];
    for (int r = 0; r < mr; r++)
      for (int v = 0; v < nv; v++) acc[r * nv + v] = cg_loop_acc(c, &lk, init[r * nv + v]);
    if (walk) {
      ap = cg_loop_acc(c, &lk, ap0);
      wp = cg_loop_acc(c, &lk, wp0);
    }
    lk.keep = true;
    LLVMValueRef next[CG_LOOP_MAX_ACC];
    bool pairs_asm = false, gemm_asm = false;
    if (q->pairs) {
      /* both operands already i16 pairs: one load per operand and one smlad per accumulator; the
       * block's weights are interleaved [k][mr] words, so two pointers walk the reduction */
      LLVMValueRef av[8];
      /* Thumb-2 (Arm DSP), the 3 x 2 tile, a row step ldrd can add: both loads by inline asm */
      bool asm_loads = nv == 2 && mr == 3 && q->ldv * 4 <= 1020 && cg_is_thumb(c);
      pairs_asm = asm_loads;
      if (asm_loads) {
        char code[64];
        snprintf(code, sizeof code, "ldrd $0, $1, [$2], #%d", (int)(q->ldv * 4));
        LLVMValueRef p = ap, w = wp, wv[3];
        asm_load_post(c, code, 2, &p, av);
        /* the 3 weight words by one ldm (ascending registers: pinned to r10-r12) */
        LLVMTypeRef fl[4] = {c->t_i32, c->t_i32, c->t_i32, LLVMTypeOf(w)};
        LLVMValueRef call = cg_asm_read(c, "ldmia $3!, {$0, $1, $2}", "={r10},={r11},={r12},=r,3",
                                        LLVMStructTypeInContext(c->ctx, fl, 4, 0), w);
        for (int r = 0; r < 3; r++) wv[r] = LLVMBuildExtractValue(c->b, call, (unsigned)r, "");
        w = LLVMBuildExtractValue(c->b, call, 3, "");
        for (int r = 0; r < mr; r++)
          for (int v = 0; v < nv; v++)
            next[r * nv + v] = call_intrinsic(c, "llvm.arm.smlad", NULL, 0,
                                              (LLVMValueRef[]){wv[r], av[v], acc[r * nv + v]}, 3);
        next[mr * nv] = p;
        next[mr * nv + 1] = w;
      } else if (nv == 2) { /* one 64-bit load: ldrd (with the pointer update folded in) */
        LLVMValueRef both = load_vec(c, c->t_i64, ap, cg_idx(c, 0), 4);
        av[0] = LLVMBuildTrunc(c->b, both, c->t_i32, "");
        av[1] = LLVMBuildTrunc(c->b, LLVMBuildLShr(c->b, both, LLVMConstInt(c->t_i64, 32, 0), ""),
                               c->t_i32, "");
      } else {
        for (int v = 0; v < nv; v++) av[v] = load_vec(c, c->t_i32, ap, cg_idx(c, 4 * v), 4);
      }
      for (int r = 0; r < mr && !asm_loads; r++) {
        LLVMValueRef wv = load_vec(c, c->t_i32, wp, cg_idx(c, 4 * r), 4);
        for (int v = 0; v < nv; v++)
          next[r * nv + v] = call_intrinsic(c, "llvm.arm.smlad", NULL, 0,
                                            (LLVMValueRef[]){wv, av[v], acc[r * nv + v]}, 3);
      }
    } else if (d.kind == CG_DOT4_SMLAD) {
      /* the weights were unpacked at compile time into (w0, w2) and (w1, w3) i16 pairs (8 bytes a
       * quad); the activations are unpacked here, once per quad, for every accumulator using it */
      LLVMValueRef eight = cg_i32c(c, 8), ve[8], vo[8], vw[8], sw[2];
      /* QGemm at batch 1 on Thumb-2 (widened activations, 4 columns of packed weights): the
       * step's words by two inline-asm pairs of ldrd with post-increment (as the pairs tile) */
      gemm_asm = q->s_unpacked && !q->v_is_acts && mr == 1 && nv == 4 && q->ldv * 4 <= 1020 &&
                 cg_is_thumb(c);
      if (gemm_asm) {
        char code[64];
        snprintf(code, sizeof code, "ldrd $2, $3, [$4, #8]\n\tldrd $0, $1, [$4], #%d",
                 (int)(q->ldv * 4));
        LLVMValueRef p = ap, w = wp;
        asm_load_post(c, code, 4, &p, vw);
        asm_load_post(c, "ldrd $0, $1, [$2], #8", 2, &w, sw);
        next[mr * nv] = p;
        next[mr * nv + 1] = w;
      }
      /* V quads stay packed: the activations, or Gemm weights (flash) */
      for (int v = 0; v < nv; v++) {
        LLVMValueRef w = gemm_asm ? vw[v] : load_vec(c, c->t_i32, ap, cg_idx(c, 4 * v), 4);
        {
          LLVMValueRef rot =
              cg_intrinsic(c, "llvm.fshr", c->t_i32, (LLVMValueRef[]){w, w, eight}, 3);
          ve[v] = call_intrinsic(c, "llvm.arm.sxtb16", NULL, 0, &w, 1);
          vo[v] = call_intrinsic(c, "llvm.arm.sxtb16", NULL, 0, &rot, 1);
        }
      }
      for (int r = 0; r < mr; r++) {
        LLVMValueRef se, so;
        if (gemm_asm) {
          se = sw[0];
          so = sw[1];
        } else if (q->v_is_acts ||
                   q->s_unpacked) { /* 8 bytes a quad: (0, 2), (1, 3) as i16 pairs */
          se = load_vec(c, c->t_i32, wp, cg_idx(c, r * q->lds), 4);
          so = load_vec(c, c->t_i32, wp, cg_idx(c, r * q->lds + 4), 4);
        } else {
          LLVMValueRef w = load_vec(c, c->t_i32, wp, cg_idx(c, r * q->lds), 1);
          LLVMValueRef rot =
              cg_intrinsic(c, "llvm.fshr", c->t_i32, (LLVMValueRef[]){w, w, eight}, 3);
          se = call_intrinsic(c, "llvm.arm.sxtb16", NULL, 0, &w, 1);
          so = call_intrinsic(c, "llvm.arm.sxtb16", NULL, 0, &rot, 1);
        }
        for (int v = 0; v < nv; v++) {
          LLVMValueRef a = call_intrinsic(c, "llvm.arm.smlad", NULL, 0,
                                          (LLVMValueRef[]){se, ve[v], acc[r * nv + v]}, 3);
          next[r * nv + v] =
              call_intrinsic(c, "llvm.arm.smlad", NULL, 0, (LLVMValueRef[]){so, vo[v], a}, 3);
        }
      }
    } else if (q->direct_taps) {
      /* the direct convolution: per quad of channels, every tap unrolled (constant offsets) */
      for (int64_t t = 0; t < q->direct_taps; t++) {
        LLVMValueRef vv[8];
        LLVMValueRef voff = cg_addc(c, cg_mulc(c, k4, q->direct_plane_bytes), q->direct_tap_off[t]);
        for (int v = 0; v < nv; v++)
          vv[v] = load_vec(c, vt, vbase, cg_addc(c, voff, dvec_off[v]), 4);
        for (int r = 0; r < mr; r++) {
          LLVMValueRef at = cg_add(c, cg_mulc(c, cg_addc(c, m0, r), q->lds),
                                   cg_addc(c, cg_mulc(c, k4, 4 * q->direct_taps), 4 * t));
          LLVMValueRef sq = cg_qsplat(c, load_vec(c, c->t_i32, q->s, at, 1), lanes);
          for (int v = 0; v < nv; v++) {
            LLVMValueRef *a = t ? &next[r * nv + v] : &acc[r * nv + v];
            next[r * nv + v] = cg_dot4(c, d, *a, vv[v], sq);
          }
        }
      }
    } else {
      LLVMValueRef vrow = cg_mulc(c, k4, q->ldv * 4);
      LLVMValueRef vv[8];
      for (int v = 0; v < nv; v++)
        vv[v] = load_vec(c, vt, q->v,
                         cg_add(c, vrow, cg_mulc(c, cg_addc(c, n0, (int64_t)v * lanes), 4)), 4);
      for (int r = 0; r < mr; r++) {
        LLVMValueRef row = cg_addc(c, m0, r);
        LLVMValueRef quad =
            load_vec(c, c->t_i32, q->s, cg_add(c, cg_mulc(c, row, q->lds), cg_mulc(c, k4, 4)), 1);
        LLVMValueRef sq = cg_qsplat(c, quad, lanes);
        for (int v = 0; v < nv; v++)
          next[r * nv + v] = q->v_is_acts ? cg_dot4(c, d, acc[r * nv + v], vv[v], sq)
                                          : cg_dot4(c, d, acc[r * nv + v], sq, vv[v]);
      }
    }
    if (walk && !pairs_asm && !gemm_asm) {
      next[mr * nv] = cg_gep(c, c->t_i8, ap, cg_idx(c, q->ldv * 4));
      next[mr * nv + 1] = cg_gep(c, c->t_i8, wp, cg_idx(c, s_step));
    }
    cg_loop_end(c, &lk, next, out);
  }
  /* epilogue: bias, requantization, one store per vector */
  for (int r = 0; r < mr && q->raw; r++)
    for (int v = 0; v < nv; v++) {
      LLVMValueRef col = cg_addc(c, n0, (int64_t)v * lanes), a = out[r * nv + v];
      LLVMValueRef row = q->per_row ? cg_addc(c, m0, r) : NULL; /* raw per row: splats */
      if (q->raw_bias && !bias_first) {
        LLVMValueRef b = LLVMBuildLoad2(c->b, row ? c->t_i32 : vt,
                                        cg_gep(c, c->t_i32, q->raw_bias, row ? row : col), "");
        LLVMSetAlignment(b, 4);
        a = LLVMBuildAdd(c->b, a, row ? cg_qsplat(c, b, lanes) : b, "");
      }
      LLVMTypeRef et = c->t_i32;
      if (q->raw_scale || q->raw_scale_one) {
        LLVMTypeRef ft = lanes == 1 ? c->t_f32 : LLVMVectorType(c->t_f32, (unsigned)lanes);
        LLVMValueRef sv;
        if (q->raw_scale && row) {
          sv = cg_qsplat(
              c, LLVMBuildLoad2(c->b, c->t_f32, cg_gep(c, c->t_f32, q->raw_scale, row), ""), lanes);
        } else if (q->raw_scale) {
          sv = LLVMBuildLoad2(c->b, ft, cg_gep(c, c->t_f32, q->raw_scale, col), "");
          LLVMSetAlignment(sv, 4);
        } else {
          sv = cg_qsplat(c, q->raw_scale_one, lanes);
        }
        a = LLVMBuildFMul(c->b, LLVMBuildSIToFP(c->b, a, ft, ""), sv, "");
        et = c->t_f32;
      }
      if (q->wide_pw) { /* ConvInteger's wide pairs tile: the row's pixels, a last half pair */
        store_lanes_t(c, et, 4, lanes, a,
                      cg_gep(c, et, q->y, cg_mulc(c, cg_addc(c, m0, r), q->ldy)),
                      cg_addc(c, yn0, v), row_end);
        continue;
      }
      if (q->raw_masked) {
        assert(!q->raw_col_step);
        LLVMValueRef dst = cg_gep(c, et, q->y, cg_mulc(c, cg_addc(c, m0, r), q->ldy));
        if (d.masked)
          cg_masked_store(c, a, cg_gep(c, et, dst, col),
                          cg_lane_mask(c, lanes, cg_sub(c, q->n_valid, col)));
        else
          store_lanes_t(c, et, 4, lanes, a, dst, col, q->n_valid);
        continue;
      }
      LLVMValueRef at = cg_add(c, cg_mulc(c, cg_addc(c, m0, r), q->ldy),
                               cg_mulc(c, col, q->raw_col_step ? q->raw_col_step : 1));
      LLVMValueRef st = LLVMBuildStore(c->b, a, cg_gep(c, et, q->y, at));
      LLVMSetAlignment(st, 4);
    }
  /* x86 AVX-512, 4 vectors a row, per-row tables: the row's 64 bytes by one pack and one
   * masked store */
  bool pack4 = !q->raw && q->per_row && q->shift_ge33 && d.masked && lanes == 16 && nv == 4 &&
               !q->wide_pw && is_x86_avx512(c);
  for (int r = 0; r < mr && pack4; r++) {
    LLVMValueRef row = cg_addc(c, m0, r), t = cg_gep(c, c->t_i32, q->tables, row);
    assert(bias_first);
    LLVMValueRef mult = cg_qsplat(c, LLVMBuildLoad2(c->b, c->t_i32, t, ""), lanes);
    LLVMValueRef shift = cg_qsplat(
        c, LLVMBuildLoad2(c->b, c->t_i32, cg_gep(c, c->t_i32, t, cg_idx(c, q->channels)), ""),
        lanes);
    LLVMValueRef y = cg_qrequant_pack4(c, &out[r * nv], mult, shift, q->y_zp);
    LLVMValueRef dst = cg_gep(c, c->t_i8, q->y, cg_add(c, cg_mulc(c, row, q->ldy), n0));
    cg_masked_store(c, y, dst, cg_lane_mask(c, 64, cg_sub(c, q->n_valid, n0)));
  }
  if (q->pool) {
    /* max before requantizing (exact: the requantization is non-decreasing, pass_qpool.c) */
    for (int r = 0; r < mr; r++) carry_next[r] = cg_smax(c, out[r * nv], out[r * nv + 1]);
    CgIf bottom;
    /* the bottom pair's strip of a window inside the valid columns (the last panel's strips
     * past n_valid compute stale words and store nothing) */
    cg_if_begin(
        c, &bottom,
        LLVMBuildAnd(c->b,
                     LLVMBuildTrunc(c->b, LLVMBuildLShr(c->b, n0, cg_idx(c, 1), ""), c->t_i1, ""),
                     LLVMBuildICmp(c->b, LLVMIntSLT, n0, q->n_valid, ""), ""));
    LLVMValueRef at = LLVMBuildLShr(c->b, n0, cg_idx(c, 2), "");
    for (int r = 0; r < mr; r++) {
      LLVMValueRef row = cg_addc(c, m0, r), t = cg_gep(c, c->t_i32, q->tables, row);
      LLVMValueRef mult = LLVMBuildLoad2(c->b, c->t_i32, t, ""),
                   shift = LLVMBuildLoad2(c->b, c->t_i32,
                                          cg_gep(c, c->t_i32, t, cg_idx(c, q->channels)), "");
      LLVMValueRef y = cg_qrequant(c, 1, cg_smax(c, carry_next[r], carry[r]), mult, shift, q->y_zp,
                                   q->shift_ge33);
      LLVMValueRef st =
          LLVMBuildStore(c->b, y, cg_gep(c, c->t_i8, q->y, cg_add(c, cg_mulc(c, row, q->ldy), at)));
      LLVMSetAlignment(st, 1);
    }
    cg_if_else(c, &bottom);
    cg_if_end(c, &bottom);
  }
  /* scalar lanes, n_valid the strips' whole width: every column stored is valid */
  bool all_valid = lanes == 1 && !q->wide_pw && LLVMIsAConstantInt(q->n_valid) &&
                   LLVMConstIntGetSExtValue(q->n_valid) == strips * strip;
  for (int r = 0; r < mr && !q->raw && !pack4 && !q->pool; r++) {
    LLVMValueRef row = cg_addc(c, m0, r);
    for (int v = 0; v < nv; v++) {
      LLVMValueRef col = cg_addc(c, n0, (int64_t)v * lanes);
      LLVMValueRef a = out[r * nv + v], mult, shift;
      if (q->per_row) { /* tables indexed by row (Conv channels) */
        LLVMValueRef t = cg_gep(c, c->t_i32, q->tables, row);
        if (!bias_first)
          a = LLVMBuildAdd(
              c->b, a,
              cg_qsplat(c,
                        LLVMBuildLoad2(c->b, c->t_i32,
                                       cg_gep(c, c->t_i32, t, cg_idx(c, 2 * q->channels)), ""),
                        lanes),
              "");
        mult = cg_qsplat(c, LLVMBuildLoad2(c->b, c->t_i32, t, ""), lanes);
        shift = cg_qsplat(
            c, LLVMBuildLoad2(c->b, c->t_i32, cg_gep(c, c->t_i32, t, cg_idx(c, q->channels)), ""),
            lanes);
      } else { /* tables indexed by column, padded to n_pad (Gemm output features) */
        LLVMValueRef t = cg_gep(c, c->t_i32, q->tables, col);
        if (!bias_first) {
          LLVMValueRef bias =
              LLVMBuildLoad2(c->b, vt, cg_gep(c, c->t_i32, t, cg_idx(c, 2 * q->n_pad)), "");
          LLVMSetAlignment(bias, 4);
          a = LLVMBuildAdd(c->b, a, bias, "");
        }
        mult = LLVMBuildLoad2(c->b, vt, t, "");
        LLVMSetAlignment(mult, 4);
        shift = LLVMBuildLoad2(c->b, vt, cg_gep(c, c->t_i32, t, cg_idx(c, q->n_pad)), "");
        LLVMSetAlignment(shift, 4);
      }
      LLVMValueRef y = cg_qrequant(c, lanes, a, mult, shift, q->y_zp, q->shift_ge33);
      LLVMValueRef dst = cg_gep(c, c->t_i8, q->y, cg_mulc(c, row, q->ldy));
      if (all_valid || (q->wide_pw && (v == 0 || q->wide_ow % 2 == 0))) {
        /* a column every strip has (or a wide row's first pixel of a pair, and its second
         * where ow is even): no bounds check */
        LLVMValueRef st =
            LLVMBuildStore(c->b, y, cg_gep(c, c->t_i8, dst, q->wide_pw ? cg_addc(c, yn0, v) : col));
        LLVMSetAlignment(st, 1);
      } else if (q->wide_pw) /* the row's pixels: its last pair may be half */
        store_lanes(c, lanes, y, dst, cg_addc(c, yn0, v), row_end);
      else if (d.masked) /* AVX-512BW: one masked store, partial or not */
        cg_masked_store(c, y, cg_gep(c, c->t_i8, dst, col),
                        cg_lane_mask(c, lanes, cg_sub(c, q->n_valid, col)));
      else
        store_lanes(c, lanes, y, dst, col, q->n_valid);
    }
  }
  cg_loop_end(c, &ls, q->pool ? carry_next : NULL, NULL);
  if (q->wide_pw) cg_loop_end(c, &lo, NULL, NULL);
}

int64_t cg_qgemm_v_cols(CgDot4 d, int64_t n_cols) {
  int64_t w = 4 * (int64_t)d.lanes;
  return (n_cols + w - 1) / w * w;
}

void cg_qgemm_emit(Cg *c, CgDot4 d, const CgQGemm *q) {
  int lanes = d.lanes;
  int64_t nvec = (q->n_cols + lanes - 1) / lanes;
  int nv = nvec >= 4 ? 4 : nvec >= 2 ? 2 : 1; /* 1, 2 or 4: strips never read past v_cols */
  int mr = (d.regs - nv - 1) / nv;
  if (mr > 8) mr = 8;
  if (mr < 1) mr = 1;
  if (d.kind == CG_DOT4_SMLAD) { /* 13 integer registers: 4 accumulators and their operands */
    nv = q->v_is_acts ? 1 : nvec >= 4 ? 4 : nvec >= 2 ? 2 : 1;
    mr = q->v_is_acts ? 4 : 1;
  }
  if (q->pairs) { /* 4 channels x 2 pixels: 8 accumulators, 2 activation words, 1 weight word */
    nv = nvec >= 2 ? 2 : 1;
    mr = CG_QPAIR_ROWS;
  }
  if (mr > q->m) mr = (int)q->m;
  while (mr * nv + 2 > CG_LOOP_MAX_ACC) mr--;
  int64_t blocks = q->m / mr, rest = q->m % mr;
  if (blocks > 0) {
    CgLoop lb;
    LLVMValueRef b = cg_for(c, &lb, blocks);
    emit_rows(c, d, q, cg_mulc(c, b, mr), mr, nv);
    cg_loop_end(c, &lb, NULL, NULL);
  }
  if (rest) emit_rows(c, d, q, cg_idx(c, blocks * mr), (int)rest, nv);
}
