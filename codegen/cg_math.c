/* exp, tanh and sigmoid in LLVM IR: generated code calls no libm. Each is a small internal
 * alwaysinline function of straight-line code (selects, no branches), so that after inlining the
 * loops around them vectorize. Coefficients are Cephes' expf/tanhf minimax polynomials. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cg_internal.h"
#include "kernels/cg_kernels.h"

/* Builds `internal float name(float)` with the builder state saved and restored. */
static LLVMValueRef math_fn_begin(Cg *c, const char *name, LLVMValueRef *x,
                                  LLVMBasicBlockRef *saved_block, LLVMValueRef *saved_fn) {
  char full[256];
  snprintf(full, sizeof full, "%s.%s", c->prefix, name);
  LLVMTypeRef ty = LLVMFunctionType(c->t_f32, &c->t_f32, 1, 0);
  LLVMValueRef fn = LLVMAddFunction(c->mod, full, ty);
  LLVMSetLinkage(fn, LLVMPrivateLinkage);
  const char *attrs[] = {"alwaysinline", "nounwind", "willreturn", "nofree", "norecurse"};
  for (size_t k = 0; k < sizeof attrs / sizeof *attrs; k++)
    LLVMAddAttributeAtIndex(
        fn, LLVMAttributeFunctionIndex,
        LLVMCreateEnumAttribute(c->ctx, LLVMGetEnumAttributeKindForName(attrs[k], strlen(attrs[k])),
                                0));
  *saved_block = LLVMGetInsertBlock(c->b);
  *saved_fn = c->fn;
  c->fn = fn;
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
  *x = LLVMGetParam(fn, 0);
  return fn;
}

static void math_fn_end(Cg *c, LLVMValueRef result, LLVMBasicBlockRef saved_block,
                        LLVMValueRef saved_fn) {
  LLVMBuildRet(c->b, result);
  c->fn = saved_fn;
  if (saved_block) LLVMPositionBuilderAtEnd(c->b, saved_block);
}

static LLVMValueRef emul(Cg *c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFMul(c->b, a, b, "");
}
static LLVMValueRef eadd(Cg *c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFAdd(c->b, a, b, "");
}
static LLVMValueRef esub(Cg *c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFSub(c->b, a, b, "");
}
static LLVMValueRef poly(Cg *c, LLVMValueRef x, const double *coef, int n) {
  LLVMValueRef y = cg_f32c(c, coef[0]);
  for (int k = 1; k < n; k++) y = cg_fmuladd(c, y, x, cg_f32c(c, coef[k]));
  return y;
}

/* 2^n as a float for an i32 n in [-126, 127]: n + 127 placed in the exponent field. */
static LLVMValueRef pow2i(Cg *c, LLVMValueRef n) {
  LLVMValueRef e =
      LLVMBuildShl(c->b, LLVMBuildAdd(c->b, n, cg_i32c(c, 127), ""), cg_i32c(c, 23), "");
  return LLVMBuildBitCast(c->b, e, c->t_f32, "");
}

/* exp(x): clamp, n = round(x*log2(e)) by the 1.5*2^23 trick (no float->int conversion, so NaN
 * stays well defined), r = x - n*ln2 in two Cody-Waite steps, Cephes' degree-6 polynomial,
 * then scaling by 2^n in two halves so that results in the subnormal range round once and
 * exp(88.8) overflows to inf. */
static LLVMValueRef build_exp(Cg *c, LLVMValueRef x) {
  /* clamp (a NaN passes through): below -104 the result rounds to 0, above 88.8 it is inf */
  LLVMValueRef lo = cg_f32c(c, -104.0), hi = cg_f32c(c, 88.8);
  x = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOLT, x, lo, ""), lo, x, "");
  x = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, x, hi, ""), hi, x, "");
  const double magic = 12582912.0; /* 1.5 * 2^23 */
  LLVMValueRef t = cg_fmuladd(c, x, cg_f32c(c, 1.44269504088896341), cg_f32c(c, magic));
  LLVMValueRef n = esub(c, t, cg_f32c(c, magic));
  LLVMValueRef r = cg_fmuladd(c, n, cg_f32c(c, -0.693359375), x);
  r = cg_fmuladd(c, n, cg_f32c(c, 2.12194440e-4), r);
  static const double p[] = {1.9875691500E-4, 1.3981999507E-3, 8.3334519073E-3,
                             4.1665795894E-2, 1.6666665459E-1, 5.0000001201E-1};
  LLVMValueRef y = poly(c, r, p, 6);
  y = cg_fmuladd(c, y, emul(c, r, r), r);
  y = eadd(c, y, cg_f32c(c, 1.0));
  LLVMValueRef ni =
      LLVMBuildSub(c->b, LLVMBuildBitCast(c->b, t, c->t_i32, ""), cg_i32c(c, 0x4B400000), "");
  LLVMValueRef half = LLVMBuildAShr(c->b, ni, cg_i32c(c, 1), "");
  y = emul(c, y, pow2i(c, half));
  return emul(c, y, pow2i(c, LLVMBuildSub(c->b, ni, half, "")));
}

/* Whether the math functions may branch: on targets without a vector unit nothing vectorizes
 * the loops around them, so a piecewise function computes only the piece it returns (the same
 * operations, the same result); elsewhere both pieces and a select (vectorizable). */
static bool math_may_branch(Cg *c) { return cg_vec_info(c).lanes == 1; }

/* cond(x) ? then(x) : other(x), by a branch and a phi where math_may_branch, else a select
 * after both pieces. */
typedef LLVMValueRef (*MathPiece)(Cg *c, LLVMValueRef x, LLVMValueRef ax);
static LLVMValueRef piecewise(Cg *c, MathPiece cond, MathPiece then, MathPiece other,
                              LLVMValueRef x) {
  LLVMValueRef ax = cg_intrinsic(c, "llvm.fabs", c->t_f32, &x, 1);
  if (!math_may_branch(c)) {
    LLVMValueRef a = then(c, x, ax), b = other(c, x, ax);
    return LLVMBuildSelect(c->b, cond(c, x, ax), a, b, "");
  }
  CgIf f;
  cg_if_begin(c, &f, cond(c, x, ax));
  LLVMValueRef a = then(c, x, ax);
  LLVMBasicBlockRef a_bb = LLVMGetInsertBlock(c->b);
  cg_if_else(c, &f);
  LLVMValueRef b = other(c, x, ax);
  LLVMBasicBlockRef b_bb = LLVMGetInsertBlock(c->b);
  cg_if_end(c, &f);
  LLVMValueRef phi = LLVMBuildPhi(c->b, c->t_f32, "");
  LLVMAddIncoming(phi, (LLVMValueRef[]){a, b}, (LLVMBasicBlockRef[]){a_bb, b_bb}, 2);
  return phi;
}

/* tanh(x): Cephes tanhf. |x| < 0.625: odd polynomial x + x^3 P(x^2) (no cancellation near 0);
 * otherwise 1 - 2/(exp(2|x|) + 1) with the sign of x (exp overflowing to inf gives exactly 1). */
static LLVMValueRef tanh_small(Cg *c, LLVMValueRef x, LLVMValueRef ax) {
  (void)ax;
  LLVMValueRef z = emul(c, x, x);
  static const double p[] = {-5.70498872745E-3, 2.06390887954E-2, -5.37397155531E-2,
                             1.33314422036E-1, -3.33332819422E-1};
  return cg_fmuladd(c, emul(c, poly(c, z, p, 5), z), x, x);
}
static LLVMValueRef tanh_big(Cg *c, LLVMValueRef x, LLVMValueRef ax) {
  LLVMValueRef e = cg_exp(c, eadd(c, ax, ax));
  LLVMValueRef big = esub(c, cg_f32c(c, 1.0),
                          LLVMBuildFDiv(c->b, cg_f32c(c, 2.0), eadd(c, e, cg_f32c(c, 1.0)), ""));
  LLVMValueRef sargs[2] = {big, x};
  return cg_intrinsic(c, "llvm.copysign", c->t_f32, sargs, 2);
}
static LLVMValueRef tanh_is_small(Cg *c, LLVMValueRef x, LLVMValueRef ax) {
  (void)x;
  return LLVMBuildFCmp(c->b, LLVMRealOLT, ax, cg_f32c(c, 0.625), "");
}
static LLVMValueRef build_tanh(Cg *c, LLVMValueRef x) {
  return piecewise(c, tanh_is_small, tanh_small, tanh_big, x);
}

/* sigmoid(x) with e = exp(-|x|) <= 1: 1/(1+e) for x >= 0 and e/(1+e) for x < 0, one division,
 * no overflow and full relative accuracy in the far negative tail. */
static LLVMValueRef build_sigmoid(Cg *c, LLVMValueRef x) {
  LLVMValueRef ax = cg_intrinsic(c, "llvm.fabs", c->t_f32, &x, 1);
  LLVMValueRef e = cg_exp(c, LLVMBuildFNeg(c->b, ax, ""));
  LLVMValueRef pos = LLVMBuildFCmp(c->b, LLVMRealOGE, x, cg_f32c(c, 0.0), "");
  LLVMValueRef num = LLVMBuildSelect(c->b, pos, cg_f32c(c, 1.0), e, "");
  return LLVMBuildFDiv(c->b, num, eadd(c, e, cg_f32c(c, 1.0)), "");
}

/* log(x): Cephes logf. Subnormals are scaled by 2^23 first; x = m * 2^e with m in
 * [sqrt(1/2), sqrt(2)) from the exponent bits, log(1 + f) by a degree-9 polynomial, e*ln2 added
 * in two parts. log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN stays NaN. */
static LLVMValueRef build_log(Cg *c, LLVMValueRef x) {
  LLVMValueRef sub = LLVMBuildFCmp(c->b, LLVMRealOLT, x, cg_f32c(c, 1.17549435e-38), "");
  LLVMValueRef xs = LLVMBuildSelect(c->b, sub, emul(c, x, cg_f32c(c, 8388608.0)), x, "");
  LLVMValueRef bias = LLVMBuildSelect(c->b, sub, cg_i32c(c, 127 + 23), cg_i32c(c, 127), "");
  LLVMValueRef bits = LLVMBuildBitCast(c->b, xs, c->t_i32, "");
  /* m in [sqrt(1/2), sqrt(2)): take the exponent of x / sqrt(1/2) */
  LLVMValueRef adj = LLVMBuildSub(c->b, bits, cg_i32c(c, 0x3f3504f3), "");
  LLVMValueRef e = LLVMBuildSub(c->b, LLVMBuildAShr(c->b, adj, cg_i32c(c, 23), ""),
                                LLVMBuildSub(c->b, bias, cg_i32c(c, 127), ""), "");
  LLVMValueRef mbits = LLVMBuildSub(
      c->b, bits,
      LLVMBuildShl(c->b, LLVMBuildAShr(c->b, adj, cg_i32c(c, 23), ""), cg_i32c(c, 23), ""), "");
  LLVMValueRef f = esub(c, LLVMBuildBitCast(c->b, mbits, c->t_f32, ""), cg_f32c(c, 1.0));
  LLVMValueRef fe = LLVMBuildSIToFP(c->b, e, c->t_f32, "");
  static const double p[] = {7.0376836292E-2,  -1.1514610310E-1, 1.1676998740E-1,
                             -1.2420140846E-1, 1.4249322787E-1,  -1.6668057665E-1,
                             2.0000714765E-1,  -2.4999993993E-1, 3.3333331174E-1};
  LLVMValueRef z = emul(c, f, f);
  LLVMValueRef y = emul(c, emul(c, poly(c, f, p, 9), f), z);
  y = cg_fmuladd(c, fe, cg_f32c(c, -2.12194440e-4), y);
  y = cg_fmuladd(c, z, cg_f32c(c, -0.5), y);
  LLVMValueRef r = cg_fmuladd(c, fe, cg_f32c(c, 0.693359375), eadd(c, f, y));
  /* special values: x == 0 -> -inf; x < 0 -> NaN; inf -> inf; NaN -> NaN */
  r = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOEQ, x, cg_f32c(c, 0.0), ""),
                      cg_f32c(c, -INFINITY), r, "");
  r = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealULT, x, cg_f32c(c, 0.0), ""),
                      cg_f32c(c, NAN), r, "");
  return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOEQ, x, cg_f32c(c, INFINITY), ""), x, r,
                         "");
}

/* erf(x): |x| < 0.921875: x * P(x^2) (degree 5); up to 4: 1 - exp(-x^2) * Q(1/|x|) (degree
 * 10) with the sign of x; beyond: +-1. P and Q are least-squares fits (relative weight) of
 * erf(x)/x and erfc(x)*exp(x^2) on Chebyshev nodes, made with numpy for Kiln (max relative
 * error 1.7e-8 and 6.6e-9 in double; test_codegen sweeps the float result). */
static LLVMValueRef erf_small(Cg *c, LLVMValueRef x, LLVMValueRef ax) {
  (void)ax;
  static const double ps[] = {-0.00060245919052124403, 0.0050008938683191858, -0.026772956715495573,
                              0.1128203920598421,      -0.37612524100272726,  1.1283791592851793};
  return emul(c, x, poly(c, emul(c, x, x), ps, 6));
}
static LLVMValueRef erf_big(Cg *c, LLVMValueRef x, LLVMValueRef ax) {
  static const double qs[] = {-0.027557714988309272, 0.19986945519939314,   -0.63728525126817159,
                              1.1556425369660592,    -1.2580014325451481,   0.72320759130136658,
                              0.0097118910316573923, -0.30879832921953476,  0.0075213266711042139,
                              0.56322368439604298,   4.9816025287920526e-05};
  LLVMValueRef axc = LLVMBuildSelect(
      c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, ax, cg_f32c(c, 4.0), ""), cg_f32c(c, 4.0), ax, "");
  LLVMValueRef t = LLVMBuildFDiv(c->b, cg_f32c(c, 1.0), axc, "");
  LLVMValueRef e = cg_exp(c, LLVMBuildFNeg(c->b, emul(c, axc, axc), ""));
  LLVMValueRef big = esub(c, cg_f32c(c, 1.0), emul(c, e, poly(c, t, qs, 11)));
  big = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGE, ax, cg_f32c(c, 4.0), ""),
                        cg_f32c(c, 1.0), big, "");
  LLVMValueRef sargs[2] = {big, x};
  return cg_intrinsic(c, "llvm.copysign", c->t_f32, sargs, 2);
}
static LLVMValueRef erf_is_small(Cg *c, LLVMValueRef x, LLVMValueRef ax) {
  (void)x;
  return LLVMBuildFCmp(c->b, LLVMRealOLT, ax, cg_f32c(c, 0.921875), "");
}
static LLVMValueRef build_erf(Cg *c, LLVMValueRef x) {
  LLVMValueRef r = piecewise(c, erf_is_small, erf_small, erf_big, x);
  /* NaN in, NaN out */
  return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealUNO, x, x, ""), x, r, "");
}

/* sqrt without a library: tiny inputs are scaled by 2^64 (result by 2^-32) so the estimate is a
 * normal number; r ~ 1/sqrt(x) from the exponent trick (3.4% off), three Newton steps for r
 * (error squares each time), then y = x*r refined by one Newton step for sqrt itself. Zeros, +inf,
 * negatives and NaN are passed through the IEEE rules by selects. */
static LLVMValueRef build_sqrt(Cg *c, LLVMValueRef x) {
  LLVMValueRef tiny = LLVMBuildFCmp(c->b, LLVMRealOLT, x, cg_f32c(c, 0x1p-100), "");
  LLVMValueRef xs = LLVMBuildSelect(c->b, tiny, emul(c, x, cg_f32c(c, 0x1p64)), x, "");
  LLVMValueRef bits = LLVMBuildBitCast(c->b, xs, c->t_i32, "");
  bits =
      LLVMBuildSub(c->b, cg_i32c(c, 0x5f3759df), LLVMBuildLShr(c->b, bits, cg_i32c(c, 1), ""), "");
  LLVMValueRef r = LLVMBuildBitCast(c->b, bits, c->t_f32, "");
  LLVMValueRef half_x = emul(c, xs, cg_f32c(c, 0.5));
  for (int i = 0; i < 3; i++) /* r = r * (1.5 - 0.5*x*r*r) */
    r = emul(c, r, esub(c, cg_f32c(c, 1.5), emul(c, half_x, emul(c, r, r))));
  LLVMValueRef y = emul(c, xs, r);
  y = cg_fmuladd(c, emul(c, r, cg_f32c(c, 0.5)), esub(c, xs, emul(c, y, y)), y);
  y = LLVMBuildSelect(c->b, tiny, emul(c, y, cg_f32c(c, 0x1p-32)), y, "");
  LLVMValueRef is_zero = LLVMBuildFCmp(c->b, LLVMRealOEQ, x, cg_f32c(c, 0.0), "");
  y = LLVMBuildSelect(c->b, is_zero, x, y, ""); /* keeps the sign of -0 */
  LLVMValueRef is_inf = LLVMBuildFCmp(c->b, LLVMRealOEQ, x, cg_f32c(c, INFINITY), "");
  y = LLVMBuildSelect(c->b, is_inf, x, y, "");
  LLVMValueRef bad = LLVMBuildFCmp(c->b, LLVMRealULT, x, cg_f32c(c, 0.0), ""); /* x < 0 or NaN */
  return LLVMBuildSelect(c->b, bad, cg_f32c(c, NAN), y, "");
}

typedef LLVMValueRef (*MathBuilder)(Cg *c, LLVMValueRef x);
static const struct {
  const char *name;
  MathBuilder build;
} math_fns[CG_MATH_COUNT] = {
    [CG_MATH_EXP] = {"exp", build_exp},
    [CG_MATH_TANH] = {"tanh", build_tanh},
    [CG_MATH_SIGMOID] = {"sigmoid", build_sigmoid},
    [CG_MATH_LOG] = {"log", build_log},
    [CG_MATH_ERF] = {"erf", build_erf},
    [CG_MATH_SQRT] = {"sqrt", build_sqrt},
};

static LLVMValueRef call_math(Cg *c, int which, LLVMValueRef x) {
  if (!c->math[which]) {
    LLVMBasicBlockRef saved_block;
    LLVMValueRef saved_fn, arg;
    c->math[which] = math_fn_begin(c, math_fns[which].name, &arg, &saved_block, &saved_fn);
    math_fn_end(c, math_fns[which].build(c, arg), saved_block, saved_fn);
  }
  LLVMTypeRef ty = LLVMFunctionType(c->t_f32, &c->t_f32, 1, 0);
  return LLVMBuildCall2(c->b, ty, c->math[which], &x, 1, "");
}

LLVMValueRef cg_exp(Cg *c, LLVMValueRef x) { return call_math(c, CG_MATH_EXP, x); }
LLVMValueRef cg_tanh(Cg *c, LLVMValueRef x) { return call_math(c, CG_MATH_TANH, x); }
LLVMValueRef cg_sigmoid(Cg *c, LLVMValueRef x) { return call_math(c, CG_MATH_SIGMOID, x); }
LLVMValueRef cg_log(Cg *c, LLVMValueRef x) { return call_math(c, CG_MATH_LOG, x); }
LLVMValueRef cg_erf(Cg *c, LLVMValueRef x) { return call_math(c, CG_MATH_ERF, x); }
LLVMValueRef cg_sqrt(Cg *c, LLVMValueRef x) {
  if (c->bare_metal) return call_math(c, CG_MATH_SQRT, x);
  return cg_intrinsic(c, "llvm.sqrt", c->t_f32, &x, 1);
}

bool cg_emit_math_test(const CgOptions *o, const char *out_path, IrDiag *d) {
  Cg c;
  if (!cg_session_begin(&c, o, d)) return false;
  LLVMTypeRef params[3] = {c.t_ptr, c.t_ptr, c.t_idx};
  LLVMTypeRef ty = LLVMFunctionType(c.t_void, params, 3, 0);
  for (int which = 0; which < CG_MATH_COUNT; which++) {
    char name[256];
    snprintf(name, sizeof name, "%s_%s", c.prefix, math_fns[which].name);
    c.fn = LLVMAddFunction(c.mod, name, ty);
    LLVMPositionBuilderAtEnd(c.b, LLVMAppendBasicBlockInContext(c.ctx, c.fn, "entry"));
    CgLoop l;
    LLVMValueRef i = cg_loop_begin(&c, &l, cg_idx(&c, 0), LLVMGetParam(c.fn, 2));
    LLVMValueRef x = cg_load(&c, LLVMGetParam(c.fn, 0), i);
    cg_store(&c, call_math(&c, which, x), LLVMGetParam(c.fn, 1), i);
    cg_loop_end(&c, &l, NULL, NULL);
    LLVMBuildRetVoid(c.b);
  }
  bool ok = cg_session_finish(&c, out_path);
  cg_session_end(&c);
  return ok;
}

/* ---- rounding without libm ----------------------------------------------------------------- */

/* |x| < 2^23 has a fraction; larger floats, infinities and NaN are their own rounding. The
 * conversions see 0 in place of such x, so none is out of range. */
static LLVMValueRef has_fraction(Cg *c, LLVMValueRef x) {
  LLVMValueRef ax = cg_intrinsic(c, "llvm.fabs", c->t_f32, &x, 1);
  return LLVMBuildFCmp(c->b, LLVMRealOLT, ax, cg_f32c(c, 8388608.0), "");
}

LLVMValueRef cg_trunc(Cg *c, LLVMValueRef x) {
  LLVMValueRef small = has_fraction(c, x);
  LLVMValueRef xs = LLVMBuildSelect(c->b, small, x, cg_f32c(c, 0.0), "");
  LLVMValueRef t = LLVMBuildSIToFP(c->b, LLVMBuildFPToSI(c->b, xs, c->t_i32, ""), c->t_f32, "");
  return LLVMBuildSelect(c->b, small, t, x, "");
}

LLVMValueRef cg_floor(Cg *c, LLVMValueRef x) {
  LLVMValueRef t = cg_trunc(c, x); /* t > x: x was negative with a fraction */
  LLVMValueRef down = LLVMBuildFSub(c->b, t, cg_f32c(c, 1.0), "");
  return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, t, x, ""), down, t, "");
}

LLVMValueRef cg_ceil(Cg *c, LLVMValueRef x) {
  LLVMValueRef t = cg_trunc(c, x);
  LLVMValueRef up = LLVMBuildFAdd(c->b, t, cg_f32c(c, 1.0), "");
  return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOLT, t, x, ""), up, t, "");
}

/* Half to even: |x| + 2^23 rounds in the default mode to an integer, ties to even; subtracting
 * 2^23 again is exact. The sign comes back with copysign (-0.4 -> -0). */
LLVMValueRef cg_rint(Cg *c, LLVMValueRef x) {
  LLVMValueRef ax = cg_intrinsic(c, "llvm.fabs", c->t_f32, &x, 1);
  LLVMValueRef big = cg_f32c(c, 8388608.0);
  LLVMValueRef r = LLVMBuildFSub(c->b, LLVMBuildFAdd(c->b, ax, big, ""), big, "");
  LLVMValueRef args[2] = {r, x};
  LLVMValueRef s = cg_intrinsic(c, "llvm.copysign", c->t_f32, args, 2);
  return LLVMBuildSelect(c->b, has_fraction(c, x), s, x, "");
}
