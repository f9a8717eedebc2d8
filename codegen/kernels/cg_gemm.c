/* The register-tiled micro-kernel generator: target vector shape, tile choice, packing of
 * constant operands, and the tiled product itself (cg_kernels.h, docs/kernels.md). */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_kernels.h"
#include "conv_params.h"
#include "ir_util.h"

/* ---- target ------------------------------------------------------------------------------ */

/* Whether the comma-separated LLVM feature list enables `feature` ("+avx512f"). */
static bool has_feature(const char *features, const char *feature) {
  size_t n = strlen(feature);
  for (const char *s = features; (s = strstr(s, feature)) != NULL; s += n)
    if ((s == features || s[-1] == ',') && (s[n] == ',' || s[n] == '\0')) return true;
  return false;
}

CgVecInfo cg_vec_info(Cg *c) {
  char *triple = LLVMGetTargetMachineTriple(c->tm);
  char *f = LLVMGetTargetMachineFeatureString(c->tm);
  CgVecInfo v = {1, 8, false, false}; /* unknown: scalar, a few registers */
  if (!strncmp(triple, "x86_64", 6) || !strncmp(triple, "i686", 4) || !strncmp(triple, "i386", 4)) {
    /* LLVM's implications: AVX2, FMA and F16C enable AVX (a list "+avx2,+fma" without "+avx",
     * e.g. for x86-64-v3 code under callgrind, had 4-lane SSE tiles) */
    bool fma = has_feature(f, "+fma");
    bool avx = has_feature(f, "+avx") || has_feature(f, "+avx2") || fma || has_feature(f, "+f16c");
    v = has_feature(f, "+avx512f") ? (CgVecInfo){16, 32, true, false}
        : avx                      ? (CgVecInfo){8, 16, fma, false}
              : (CgVecInfo){4, 16, false, false}; /* SSE2: the x86-64 baseline */
  } else if (!strncmp(triple, "aarch64", 7) || !strncmp(triple, "arm64", 5))
    v = has_feature(f, "-neon") ? (CgVecInfo){1, 32, true, false} : (CgVecInfo){4, 32, true, false};
  else if (!strncmp(triple, "arm", 3) || !strncmp(triple, "thumb", 5)) {
    bool vfp4 = strstr(f, "+vfp4") || strstr(f, "+fp-armv8");
    if (has_feature(f, "+neon"))
      v = (CgVecInfo){4, 16, vfp4, false}; /* q0-q15 */
    else if (has_feature(f, "+mve.fp"))
      v = (CgVecInfo){4, 8, true, false}; /* Helium: q0-q7 */
    else if (strstr(f, "+vfp") || strstr(f, "+fp-armv8") || strstr(f, "+fp16"))
      v = (CgVecInfo){1, 32, vfp4, true}; /* single-precision VFP: s0-s31 */
    else
      v = (CgVecInfo){1, 6, false,
                      false}; /* soft float: floats live in the few free integer registers */
  } else if (!strncmp(triple, "riscv", 5)) {
    bool fp = has_feature(f, "+f") || has_feature(f, "+d");
    v = fp ? (CgVecInfo){1, 32, true, false} : (CgVecInfo){1, 6, false, false};
  }
  LLVMDisposeMessage(triple);
  LLVMDisposeMessage(f);
  return v;
}

/* ---- tile choice ---------------------------------------------------------------------------- */

/* Arm VFP (CgVecInfo.vldm): the tile's row of packed A loads by one VLDM into pinned registers
 * when the accumulators, that row and B's columns fit the s registers together. */
static bool vldm_pins_a(CgVecInfo vec, int mr, int nrv) {
  return vec.vldm && mr >= 2 && mr + nrv <= 16 && mr * nrv + mr + nrv <= vec.regs;
}

/* Cost model: a step of k on an mr x nrv tile issues mr*nrv FMAs and mr + nrv loads; with two
 * FMA and two load ports on vector targets (one of each on scalar cores) it takes the larger
 * of the two, and at least the FMA latency (~4 cycles), since each accumulator is a chain.
 * Vector targets also count the instructions the step issues (the FMAs, the loads and half of
 * the loop's, at two steps per iteration) at 3 a cycle: half of a 6-wide core, what is left
 * when a hyperthread sibling shares it. A tile that needs fewer instructions per FMA (6 x 4
 * vectors: 1.46 against 8 x 2's 1.69) keeps the FMA ports busy in those phases: measured on
 * a shared AVX-512 Xeon, calls interleaved in one process, 256^3 GEMM +19% in the slow phases
 * and +2% in the others (docs/kernels.md).
 * Arm VFP cores issue one instruction at a time: the multiply-adds plus the loads, one VLDM for
 * B and one for A where it can be pinned (else one VLDR per row).
 * Tiles past the edge of C count whole: that is the work wasted on padding. */
static CgTile tile_search(CgVecInfo vec, int64_t M, int64_t N, int64_t K, int max_nr,
                          int only_nrv) {
  const double ports = vec.lanes > 1 ? 2.0 : 1.0, latency = 4.0;
  CgTile best = {1, 1};
  double best_cost = INFINITY;
  int64_t nvec = (N + vec.lanes - 1) / vec.lanes;
  for (int nrv = 1; nrv <= 8 && nrv <= nvec && nrv * vec.lanes <= max_nr; nrv++) {
    if (only_nrv && nrv != only_nrv) continue;
    for (int mr = 1; mr <= 16 && mr <= M; mr++) {
      if (mr * nrv + nrv + 1 > vec.regs || mr * nrv > CG_LOOP_MAX_ACC) continue;
      int64_t nr = (int64_t)nrv * vec.lanes;
      double tiles = (double)((M + mr - 1) / mr) * (double)((N + nr - 1) / nr);
      double step = fmax(fmax(mr * nrv / ports, (mr + nrv) / ports), latency);
      if (vec.lanes > 1) step = fmax(step, (mr * nrv + mr + nrv + 1) / 3.0);
      if (vec.vldm) step = fmax(mr * nrv + (vldm_pins_a(vec, mr, nrv) ? 1 : mr) + 1, latency);
      double cost =
          tiles * ((double)K * step + (vec.vldm ? 3 : 1) * mr * nrv + (vec.vldm ? 20 : 8));
      if (cost < best_cost * 0.999 || (cost <= best_cost && mr * nrv > best.mr * best.nrv)) {
        best = (CgTile){mr, nrv};
        best_cost = cost;
      }
    }
  }
  return best;
}

CgTile cg_gemm_tile(CgVecInfo vec, int64_t M, int64_t N, int64_t K, int max_nr) {
  return tile_search(vec, M, N, K, max_nr, 0);
}

/* A constant B packed once (cg_pack_b's arguments and result). */
struct CgPacked {
  const float *w;
  int64_t K, N, s_k, s_n;
  int nr;
  LLVMValueRef global; /* an LLVM constant, or NULL: at offset off of the blob */
  int64_t off;
};

static const struct CgPacked *find_packed(const Cg *c, const float *w, int64_t K, int64_t N,
                                          int64_t s_k, int64_t s_n, int nr) {
  for (int i = 0; i < c->n_packed; i++) {
    const struct CgPacked *e = &c->packed[i];
    if (e->w == w && e->K == K && e->N == N && e->s_k == s_k && e->s_n == s_n &&
        (!nr || e->nr == nr))
      return e;
  }
  return NULL;
}

CgTile cg_gemm_tile_b(Cg *c, CgVecInfo vec, int64_t M, int64_t N, int64_t K, int max_nr,
                      const float *w, int64_t s_k, int64_t s_n) {
  const struct CgPacked *e = find_packed(c, w, K, N, s_k, s_n, 0);
  if (e && e->nr % vec.lanes == 0 && e->nr <= max_nr) {
    CgTile t = tile_search(vec, M, N, K, max_nr, e->nr / vec.lanes);
    if (t.nrv * vec.lanes == e->nr) return t;
  }
  return cg_gemm_tile(vec, M, N, K, max_nr);
}

/* ---- packing -------------------------------------------------------------------------------- */

LLVMValueRef cg_pack_a(Cg *c, const float *w, int64_t groups, int64_t M, int64_t K, int64_t s_row,
                       int64_t s_k, int mr, const char *what) {
  size_t n = (size_t)(groups * M * K);
  /* block by block, in order (cg_pieces: a large result goes to the blob file a block at a time) */
  CgPieces pc;
  cg_pieces_begin(c, &pc, sizeof(float) * n);
  float *blk = malloc(sizeof(float) * (size_t)(mr * K + 1));
  if (!blk) abort();
  for (int64_t gi = 0; gi < groups; gi++)
    for (int64_t i0 = 0; i0 < M; i0 += mr) {
      int64_t rows = M - i0 < mr ? M - i0 : mr;
      const float *src = w + gi * M * s_row;
      for (int64_t k = 0; k < K; k++)
        for (int64_t r = 0; r < rows; r++) blk[k * rows + r] = src[(i0 + r) * s_row + k * s_k];
      cg_pieces_put(c, &pc, blk, sizeof(float) * (size_t)(rows * K));
    }
  free(blk);
  char name[300];
  snprintf(name, sizeof name, "%s.%s.%d", c->prefix, what, c->n_derived++);
  return cg_pieces_end(c, &pc, name);
}

/* remember: record the copy under w for the next cg_pack_b of the same constant */
static LLVMValueRef pack_b(Cg *c, const float *w, int64_t K, int64_t N, int64_t s_k, int64_t s_n,
                           int nr, const char *what, bool remember) {
  int64_t strips = (N + nr - 1) / nr;
  size_t n = (size_t)(strips * K * nr);
  CgPieces pc; /* strip by strip, as cg_pack_a */
  cg_pieces_begin(c, &pc, sizeof(float) * n);
  float *strip = calloc((size_t)(K * nr + 1), sizeof(float));
  if (!strip) abort();
  for (int64_t s = 0; s < strips; s++) {
    if ((s + 1) * nr > N) memset(strip, 0, sizeof(float) * (size_t)(K * nr)); /* zero padding */
    for (int64_t k = 0; k < K; k++)
      for (int64_t j = 0; j < nr && s * nr + j < N; j++)
        strip[k * nr + j] = w[k * s_k + (s * nr + j) * s_n];
    cg_pieces_put(c, &pc, strip, sizeof(float) * (size_t)(K * nr));
  }
  free(strip);
  char name[300];
  snprintf(name, sizeof name, "%s.%s.%d", c->prefix, what, c->n_derived++);
  bool in_blob = !pc.mem;
  int64_t off = pc.off;
  LLVMValueRef p = cg_pieces_end(c, &pc, name);
  if (!remember) return p;
  if (c->n_packed == c->cap_packed) {
    c->cap_packed = c->cap_packed ? 2 * c->cap_packed : 16;
    c->packed = realloc(c->packed, sizeof *c->packed * (size_t)c->cap_packed);
    if (!c->packed) abort();
  }
  c->packed[c->n_packed++] = (struct CgPacked){w, K, N, s_k, s_n, nr, in_blob ? NULL : p, off};
  return p;
}

LLVMValueRef cg_pack_b(Cg *c, const float *w, int64_t K, int64_t N, int64_t s_k, int64_t s_n,
                       int nr, const char *what) {
  const struct CgPacked *e = find_packed(c, w, K, N, s_k, s_n, nr);
  if (e) return e->global ? e->global : cg_pieces_at(c, e->off);
  return pack_b(c, w, K, N, s_k, s_n, nr, what, true);
}

LLVMValueRef cg_pack_b_once(Cg *c, const float *w, int64_t K, int64_t N, int64_t s_k, int64_t s_n,
                            int nr, const char *what) {
  return pack_b(c, w, K, N, s_k, s_n, nr, what, false);
}

/* ---- the tiled product ---------------------------------------------------------------------- */

typedef struct {
  Cg *c;
  CgVecInfo vec;
  LLVMTypeRef vty; /* <lanes x float>, or float on scalar targets */
  int64_t M, N, K;
  CgTile t;
  const CgGemmA *a;
  const CgGemmB *b;
  const CgGemmC *cc;
} Gemm;

static LLVMValueRef splat(Gemm *g, LLVMValueRef s) {
  Cg *c = g->c;
  if (g->vec.lanes == 1) return s;
  LLVMValueRef v = LLVMBuildInsertElement(c->b, LLVMGetPoison(g->vty), s, cg_i32c(c, 0), "");
  LLVMValueRef mask = LLVMConstNull(LLVMVectorType(c->t_i32, (unsigned)g->vec.lanes));
  return LLVMBuildShuffleVector(c->b, v, LLVMGetPoison(g->vty), mask, "");
}

static LLVMValueRef tile_fma(Gemm *g, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc) {
  LLVMValueRef args[3] = {a, b, acc};
  return cg_intrinsic(g->c, g->vec.fma ? "llvm.fma" : "llvm.fmuladd", LLVMTypeOf(a), args, 3);
}

/* `count` floats from p[idx...] as a vector (lanes past count are zero and never read). */
static LLVMValueRef load_vec(Gemm *g, LLVMValueRef p, LLVMValueRef idx, int count) {
  Cg *c = g->c;
  if (g->vec.lanes == 1) return cg_load(c, p, idx);
  if (count >= g->vec.lanes) {
    LLVMValueRef v = LLVMBuildLoad2(c->b, g->vty, cg_gep(c, c->t_f32, p, idx), "");
    LLVMSetAlignment(v, 4);
    return v;
  }
  LLVMValueRef v = LLVMConstNull(g->vty);
  for (int l = 0; l < count; l++)
    v = LLVMBuildInsertElement(c->b, v, cg_load(c, p, cg_addc(c, idx, l)), cg_i32c(c, l), "");
  return v;
}

static void store_vec(Gemm *g, LLVMValueRef v, LLVMValueRef p, LLVMValueRef idx, int count) {
  Cg *c = g->c;
  if (g->vec.lanes == 1) {
    cg_store(c, v, p, idx);
    return;
  }
  if (count >= g->vec.lanes) {
    LLVMValueRef s = LLVMBuildStore(c->b, v, cg_gep(c, c->t_f32, p, idx));
    LLVMSetAlignment(s, 4);
    return;
  }
  for (int l = 0; l < count; l++)
    cg_store(c, LLVMBuildExtractElement(c->b, v, cg_i32c(c, l), ""), p, cg_addc(c, idx, l));
}

/* ---- the fused epilogue in registers ------------------------------------------------------ */

bool cg_gemm_epilogue_in_registers(const IrNode *n) {
  int64_t numel = ir_value_numel(n->outputs[0]);
  for (int s = 0; s < n->n_epilogue; s++) {
    const IrNode *e = n->epilogue[s];
    switch (e->op) {
    case IR_OP_RELU:
    case IR_OP_LEAKY_RELU: break;
    case IR_OP_CLIP:
      for (int k = 1; k < e->n_inputs; k++)
        if (e->inputs[k] && e->inputs[k]->kind != IR_VALUE_CONST) return false;
      break;
    case IR_OP_ADD:
    case IR_OP_SUB:
    case IR_OP_MUL:
    case IR_OP_DIV:
      for (int k = 0; k < 2; k++) {
        const IrValue *w = e->inputs[k];
        if (w && !(w->kind == IR_VALUE_CONST && ir_value_numel(w) == 1) &&
            !(ir_value_numel(w) == numel && w->dtype == IR_F32))
          return false;
      }
      break;
    default: return false;
    }
  }
  return true;
}

static LLVMValueRef vsplat_const(Gemm *g, double x) { return splat(g, cg_f32c(g->c, x)); }

/* The argument of the head n holding v, one of its epilogue operands (as cg_epilogue finds it). */
static LLVMValueRef epi_operand(const IrNode *n, LLVMValueRef *in, const IrValue *v) {
  for (int j = ir_node_op_inputs(n); j < n->n_inputs; j++)
    if (n->inputs[j] == v) return in[j];
  return NULL;
}

/* Accumulator vector x of C(i, j..j+count) through the epilogue accepted above: the same
 * operations, in the same order, as cg_epilogue does per element. */
static LLVMValueRef epi_vector(Gemm *g, LLVMValueRef x, LLVMValueRef flat, int count) {
  Cg *c = g->c;
  const IrNode *n = g->cc->epi_node;
  for (int s = 0; s < n->n_epilogue; s++) {
    const IrNode *e = n->epilogue[s];
    LLVMValueRef zero = vsplat_const(g, 0.0);
    switch (e->op) {
    case IR_OP_RELU: /* x < 0 ? 0 : x keeps a NaN */
      x = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOLT, x, zero, ""), zero, x, "");
      continue;
    case IR_OP_LEAKY_RELU: {
      LLVMValueRef ax = LLVMBuildFMul(c->b, x, vsplat_const(g, (float)ir_attr_f(e, "alpha")), "");
      x = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOLT, x, zero, ""), ax, x, "");
      continue;
    }
    case IR_OP_CLIP:
      if (e->n_inputs > 1 && e->inputs[1])
        x = cg_fmax(c, x, vsplat_const(g, *(const float *)e->inputs[1]->data));
      if (e->n_inputs > 2 && e->inputs[2]) {
        LLVMValueRef hi = vsplat_const(g, *(const float *)e->inputs[2]->data);
        x = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, x, hi, ""), hi, x, "");
      }
      continue;
    default: break;
    }
    LLVMValueRef xy[2];
    for (int k = 0; k < 2; k++) {
      const IrValue *w = e->inputs[k];
      if (!w)
        xy[k] = x;
      else if (w->kind == IR_VALUE_CONST && ir_value_numel(w) == 1)
        xy[k] = vsplat_const(g, *(const float *)w->data);
      else
        xy[k] = load_vec(g, epi_operand(n, g->cc->epi_in, w), flat, count);
    }
    LLVMOpcode op = e->op == IR_OP_ADD   ? LLVMFAdd
                    : e->op == IR_OP_SUB ? LLVMFSub
                    : e->op == IR_OP_MUL ? LLVMFMul
                                         : LLVMFDiv;
    x = LLVMBuildBinOp(c->b, op, xy[0], xy[1], "");
  }
  return x;
}

LLVMValueRef cg_asm_read(Cg *c, const char *code, const char *constraints, LLVMTypeRef ret,
                         LLVMValueRef ptr) {
  LLVMTypeRef pty = LLVMTypeOf(ptr);
  LLVMTypeRef fty = LLVMFunctionType(ret, &pty, 1, 0);
  LLVMValueRef fn = LLVMGetInlineAsm(fty, (char *)code, strlen(code), (char *)constraints,
                                     strlen(constraints), 0, 0, LLVMInlineAsmDialectATT, 0);
  LLVMValueRef call = LLVMBuildCall2(c->b, fty, fn, &ptr, 1, "");
  /* it only reads memory through its pointer: loads and stores elsewhere move freely */
  unsigned memory = LLVMGetEnumAttributeKindForName("memory", 6);
  LLVMAddCallSiteAttribute(call, LLVMAttributeFunctionIndex,
                           LLVMCreateEnumAttribute(c->ctx, memory, 1 /* argmem: read */));
  unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
  LLVMAddCallSiteAttribute(call, LLVMAttributeFunctionIndex,
                           LLVMCreateEnumAttribute(c->ctx, nounwind, 0));
  return call;
}

/* n (2..16) consecutive floats at p into s{first}..s{first+n-1} by one VLDM (cg_kernels.h; the Arm
 * backend makes a VLDM only of loads whose registers happen to be consecutive, and the scheduler
 * interleaves the tile's loads with its multiply-adds). On a Cortex-M4 it takes 1+n cycles
 * against 2 per VLDR, and one instruction instead of n. */
void cg_vldm_floats(Cg *c, LLVMValueRef p, int first, int n, LLVMValueRef *out) {
  assert(n >= 2 && n <= 16 && first + n <= 32);
  char code[64], cons[16 * 8 + 8];
  snprintf(code, sizeof code, "vldmia $%d, {s%d-s%d}", n, first, first + n - 1);
  size_t len = 0;
  for (int r = 0; r < n; r++)
    len += (size_t)snprintf(cons + len, sizeof cons - len, "={s%d},", first + r);
  snprintf(cons + len, sizeof cons - len, "r");
  LLVMTypeRef fl[16];
  for (int r = 0; r < n; r++) fl[r] = c->t_f32;
  LLVMValueRef call =
      cg_asm_read(c, code, cons, LLVMStructTypeInContext(c->ctx, fl, (unsigned)n, 0), p);
  for (int r = 0; r < n; r++) out[r] = LLVMBuildExtractValue(c->b, call, (unsigned)r, "");
}

/* The operands of one tile's reduction steps. */
typedef struct {
  LLVMValueRef abase, bbase;
  int64_t a_sk, a_sr, b_sk;
  int rows, nrv;
  int64_t cols;
} TileStep;

/* Reduction step k: acc[r*nrv + v] += A(r, k) * B(k, v-th vector), in place. */
static void tile_step(Gemm *g, const TileStep *s, LLVMValueRef k, LLVMValueRef *acc) {
  Cg *c = g->c;
  const int L = g->vec.lanes;
  bool full_loads = g->b->packed || g->b->padded;
  LLVMValueRef bv[8];
  LLVMValueRef boff = g->b->koff
                          ? LLVMBuildLoad2(c->b, c->t_idx, cg_gep(c, c->t_idx, g->b->koff, k), "")
                          : cg_mulc(c, k, s->b_sk);
  LLVMValueRef brow = cg_gep(c, c->t_f32, s->bbase, boff);
  /* Arm VFP: B's nrv floats (consecutive: L == 1) by one VLDM into s16..; A's rows too when
   * they are consecutive (packed) and the tile still fits the 32 s registers with them pinned */
  bool vldm_b = g->vec.vldm && s->nrv >= 2 && s->rows + s->nrv <= 16;
  bool vldm_a = s->a_sr == 1 && vldm_pins_a(g->vec, s->rows, s->nrv);
  LLVMValueRef av_all[16];
  if (vldm_b)
    cg_vldm_floats(c, brow, 16, s->nrv, bv);
  else
    for (int v = 0; v < s->nrv; v++)
      bv[v] = load_vec(g, brow, cg_idx(c, (int64_t)v * L), full_loads ? L : (int)(s->cols - v * L));
  LLVMValueRef aoff = g->a->koff && !g->a->packed
                          ? LLVMBuildLoad2(c->b, c->t_idx, cg_gep(c, c->t_idx, g->a->koff, k), "")
                          : cg_mulc(c, k, s->a_sk);
  LLVMValueRef ak = cg_gep(c, c->t_f32, s->abase, aoff);
  if (vldm_a) cg_vldm_floats(c, ak, 16 + s->nrv, s->rows, av_all);
  for (int r = 0; r < s->rows; r++) {
    LLVMValueRef av = vldm_a ? av_all[r] : splat(g, cg_load(c, ak, cg_idx(c, r * s->a_sr)));
    for (int v = 0; v < s->nrv; v++)
      acc[r * s->nrv + v] = tile_fma(g, av, bv[v], acc[r * s->nrv + v]);
  }
}

/* One tile: rows [i0, i0+rows) of block `blk`, columns [j0, j0+cols) of strip `strip`. */
static void emit_tile(Gemm *g, LLVMValueRef i0, LLVMValueRef blk, int rows, LLVMValueRef j0,
                      LLVMValueRef strip, int64_t cols) {
  Cg *c = g->c;
  const int L = g->vec.lanes, nrv = (int)((cols + L - 1) / L);
  const int64_t nr = (int64_t)g->t.nrv * L, K = g->K;
  LLVMValueRef init[CG_LOOP_MAX_ACC];
  for (int r = 0; r < rows; r++) {
    LLVMValueRef rb =
        g->cc->row_bias ? splat(g, cg_load(c, g->cc->row_bias, cg_addc(c, i0, r))) : NULL;
    LLVMValueRef cbrow = g->cc->col_bias;
    if (cbrow && g->cc->col_bias_ld)
      cbrow = cg_gep(c, c->t_f32, cbrow, cg_mulc(c, cg_addc(c, i0, r), g->cc->col_bias_ld));
    for (int v = 0; v < nrv; v++) {
      int count = (int)(cols - (int64_t)v * L);
      LLVMValueRef x = rb ? rb : LLVMConstNull(g->vty);
      if (cbrow) {
        LLVMValueRef cb = load_vec(g, cbrow, cg_addc(c, j0, (int64_t)v * L), count);
        x = rb ? LLVMBuildFAdd(c->b, x, cb, "") : cb;
      }
      init[r * nrv + v] = x;
    }
  }
  /* operand bases of this tile */
  LLVMValueRef abase, bbase;
  int64_t a_sk, a_sr, b_sk;
  if (g->a->packed) {
    abase = cg_gep(c, c->t_f32, g->a->base, cg_mulc(c, blk, K * g->t.mr));
    a_sk = rows, a_sr = 1;
  } else {
    abase = cg_gep(c, c->t_f32, g->a->base, cg_mulc(c, i0, g->a->s_row));
    a_sk = g->a->s_k, a_sr = g->a->s_row;
  }
  if (g->b->packed) {
    bbase = cg_gep(c, c->t_f32, g->b->base, cg_mulc(c, strip, K * nr));
    b_sk = nr;
  } else {
    bbase = cg_gep(c, c->t_f32, g->b->base, j0);
    b_sk = g->b->s_k;
  }
  TileStep st = {abase, bbase, a_sk, a_sr, b_sk, rows, nrv, cols};
  /* Two reduction steps per iteration, four on Arm VFP cores (K >= 8): the loop's own
   * instructions (index adds, compare, branch: 4-5 per step on a scalar core against
   * 2*rows*nrv loads and multiply-adds; 2 on x86) are paid half / a quarter as often (Cortex-M4:
   * 1-7 % fewer instructions per model at four, for up to 4 KB of code); the last K % unroll
   * steps follow. On vector hosts they compete for issue slots with the FMAs when a hyperthread
   * sibling shares the core (cost model above). */
  int unroll = g->vec.vldm && K >= 8 ? 4 : K >= 2 ? 2 : 1;
  /* A tile of fewer accumulators than the FMA latency times the ports (a GEMV's 1 x 4 vectors:
   * 4 chains, 8 would keep both ports busy) gives each unrolled step its own set, summed after
   * the loop: half as long chains. Only where B stays in L1 (32 KiB): a larger B streams from
   * L2 at less than the FMA rate anyway (measured: rnn_classifier's 16 KiB recurrent GEMV 8.2 ->
   * 6.5 us; lstm_classifier's 256 KiB and an MLP's 1.6 MB unchanged or slower by noise). */
  int64_t b_bytes = g->b->bytes ? g->b->bytes : K * g->N * (int64_t)sizeof(float);
  /* Decided by the product's tile, so that its tiles of fewer rows or columns sum in the same
   * order; never in a graph with run-time dims, whose nodes are emitted for blocks of 16, 8, 4, 2
   * and 1 rows, each with its own tile: a row must not depend on how many rows are computed
   * with it (cli_dyn checks it bit for bit). */
  int sets = g->vec.lanes > 1 && unroll == 2 && g->t.mr * g->t.nrv < 8 && b_bytes <= 32 * 1024 &&
                     !c->g->n_dyn
                 ? 2
                 : 1;
  CgLoop lk;
  LLVMValueRef k = cg_for(c, &lk, K / unroll);
  lk.keep = true;
  LLVMValueRef acc[2 * CG_LOOP_MAX_ACC], out[2 * CG_LOOP_MAX_ACC];
  for (int q = 0; q < rows * nrv; q++) acc[q] = cg_loop_acc(c, &lk, init[q]);
  for (int q = 0; q < rows * nrv && sets == 2; q++)
    acc[rows * nrv + q] = cg_loop_acc(c, &lk, LLVMConstNull(g->vty));
  for (int u = 0; u < unroll; u++)
    tile_step(g, &st, cg_addc(c, cg_mulc(c, k, unroll), u), acc + (sets == 2 ? u * rows * nrv : 0));
  cg_loop_end(c, &lk, acc, out);
  for (int q = 0; q < rows * nrv && sets == 2; q++)
    out[q] = LLVMBuildFAdd(c->b, out[q], out[rows * nrv + q], "");
  for (int64_t r = K - K % unroll; r < K; r++) tile_step(g, &st, cg_idx(c, r), out);

  for (int r = 0; r < rows; r++) {
    LLVMValueRef i = cg_addc(c, i0, r);
    LLVMValueRef crow = cg_gep(c, c->t_f32, g->cc->base, cg_add(c, cg_mulc(c, i, g->cc->ldc), j0));
    LLVMValueRef flat =
        g->cc->epi_node ? cg_add(c, cg_add(c, g->cc->epi_base, cg_mulc(c, i, g->cc->epi_ld)), j0)
                        : NULL;
    for (int v = 0; v < nrv; v++) {
      int count = (int)(cols - v * L);
      LLVMValueRef x = out[r * nrv + v];
      int64_t at = (int64_t)v * (g->cc->vec_stride ? g->cc->vec_stride : L);
      if (flat) x = epi_vector(g, x, cg_addc(c, flat, at), count);
      store_vec(g, x, crow, cg_idx(c, at), count);
    }
    if (g->cc->epi) g->cc->epi(c, g->cc->epi_ctx, i, j0, cols, crow);
  }
}

/* Every strip of N for the rows of one block. */
static void emit_strips(Gemm *g, LLVMValueRef i0, LLVMValueRef blk, int rows) {
  Cg *c = g->c;
  int64_t nr = (int64_t)g->t.nrv * g->vec.lanes, full = g->N / nr, tail = g->N - full * nr;
  if (full > 0) {
    CgLoop ls;
    LLVMValueRef s = cg_for(c, &ls, full);
    ls.keep = true;
    emit_tile(g, i0, blk, rows, cg_mulc(c, s, nr), s, nr);
    cg_loop_end(c, &ls, NULL, NULL);
  }
  if (tail > 0) emit_tile(g, i0, blk, rows, cg_idx(c, full * nr), cg_idx(c, full), tail);
}

/* Every row block for the columns of one strip. */
static void emit_blocks(Gemm *g, LLVMValueRef j0, LLVMValueRef strip, int64_t cols) {
  Cg *c = g->c;
  int64_t full = g->M / g->t.mr, tail = g->M - full * g->t.mr;
  if (full > 0) {
    CgLoop lb;
    LLVMValueRef blk = cg_for(c, &lb, full);
    lb.keep = true;
    emit_tile(g, cg_mulc(c, blk, g->t.mr), blk, g->t.mr, j0, strip, cols);
    cg_loop_end(c, &lb, NULL, NULL);
  }
  if (tail > 0)
    emit_tile(g, cg_idx(c, full * g->t.mr), cg_idx(c, full), (int)tail, j0, strip, cols);
}

void cg_gemm_emit(Cg *c, CgVecInfo vec, CgTile t, int64_t M, int64_t N, int64_t K, const CgGemmA *a,
                  const CgGemmB *b, const CgGemmC *cc) {
  Gemm g = {c, vec, vec.lanes > 1 ? LLVMVectorType(c->t_f32, (unsigned)vec.lanes) : c->t_f32,
            M, N,   K,
            t, a,   b,
            cc};
  /* Loop order: the outer loop's operand is read once, the inner one's once per outer step.
   * Row blocks outer keep A's block in L1 and sweep all of B per block; where B outgrows L1
   * (a conv's padded image: 74 KiB for 16 channels at 32x32) and A is the smaller one, the
   * strips go outside instead, so a strip's columns of B stay in L1 across the row blocks.
   * Targets without a cache (vector length 1: microcontrollers) keep the first order. */
  int64_t b_bytes = b->bytes ? b->bytes : K * N * (int64_t)sizeof(float);
  int64_t a_bytes = M * K * (int64_t)sizeof(float);
  if (vec.lanes > 1 && M > t.mr && b_bytes > 32 * 1024 && a_bytes < b_bytes) {
    int64_t nr = (int64_t)t.nrv * vec.lanes, strips = N / nr, rest = N - strips * nr;
    if (strips > 0) {
      CgLoop ls;
      LLVMValueRef s = cg_for(c, &ls, strips);
      ls.keep = true;
      emit_blocks(&g, cg_mulc(c, s, nr), s, nr);
      cg_loop_end(c, &ls, NULL, NULL);
    }
    if (rest > 0) emit_blocks(&g, cg_idx(c, strips * nr), cg_idx(c, strips), rest);
    return;
  }
  int64_t full = M / t.mr, tail = M - full * t.mr;
  if (full > 0) {
    CgLoop lb;
    LLVMValueRef blk = cg_for(c, &lb, full);
    lb.keep = true;
    emit_strips(&g, cg_mulc(c, blk, t.mr), blk, t.mr);
    cg_loop_end(c, &lb, NULL, NULL);
  }
  if (tail > 0) emit_strips(&g, cg_idx(c, full * t.mr), cg_idx(c, full), (int)tail);
}

/* ---- deinterleaving copies ------------------------------------------------------------------ */

void cg_copy_deinterleave(Cg *c, LLVMValueRef src, LLVMValueRef even, LLVMValueRef odd,
                          int64_t n_even, int64_t n_odd) {
  CgVecInfo vec = cg_vec_info(c);
  int L = vec.lanes;
  int64_t pairs = n_even < n_odd ? n_even : n_odd;
  /* narrow rows (Winograd's image at 8x8: 4 pairs) in narrower vectors, not one float at a
   * time: 64->64 at 8x8 spent ~3 us of 21 in scalar moves */
  while (L > 4 && pairs < L) L /= 2;
  int64_t blocks = L > 1 ? pairs / L : 0;
  if (blocks > 0) {
    vec.lanes = L;
    Gemm g = {.c = c, .vec = vec, .vty = LLVMVectorType(c->t_f32, (unsigned)L)};
    LLVMValueRef me[16], mo[16];
    for (int l = 0; l < L; l++) {
      me[l] = cg_i32c(c, 2 * l);
      mo[l] = cg_i32c(c, 2 * l + 1);
    }
    LLVMValueRef m_even = LLVMConstVector(me, (unsigned)L),
                 m_odd = LLVMConstVector(mo, (unsigned)L);
    CgLoop lb;
    LLVMValueRef b = cg_for(c, &lb, blocks);
    lb.keep = true;
    LLVMValueRef t = cg_mulc(c, b, L);
    LLVMValueRef v0 = load_vec(&g, src, cg_mulc(c, t, 2), L);
    LLVMValueRef v1 = load_vec(&g, src, cg_addc(c, cg_mulc(c, t, 2), L), L);
    store_vec(&g, LLVMBuildShuffleVector(c->b, v0, v1, m_even, ""), even, t, L);
    store_vec(&g, LLVMBuildShuffleVector(c->b, v0, v1, m_odd, ""), odd, t, L);
    cg_loop_end(c, &lb, NULL, NULL);
  }
  /* the rest one float at a time: scalar moves, not gathers */
  for (int parity = 0; parity < 2; parity++) {
    int64_t n = parity ? n_odd : n_even, done = blocks * L;
    if (n <= done) continue;
    CgLoop lt;
    LLVMValueRef t = cg_loop_begin(c, &lt, cg_idx(c, done), cg_idx(c, n));
    lt.keep = true;
    cg_store(c, cg_load(c, src, cg_addc(c, cg_mulc(c, t, 2), parity)), parity ? odd : even, t);
    cg_loop_end(c, &lt, NULL, NULL);
  }
}

void cg_copy_interleave(Cg *c, LLVMValueRef dst, LLVMValueRef even, LLVMValueRef odd,
                        int64_t n_even, int64_t n_odd) {
  CgVecInfo vec = cg_vec_info(c);
  int L = vec.lanes;
  int64_t blocks = L > 1 ? n_odd / L : 0;
  if (blocks > 0) {
    Gemm g = {.c = c, .vec = vec, .vty = LLVMVectorType(c->t_f32, (unsigned)L)};
    LLVMValueRef lo[16], hi[16];
    for (int l = 0; l < L; l++) { /* pairs (even[i], odd[i]): i < L/2 in lo, the rest in hi */
      lo[l] = cg_i32c(c, l / 2 + (l % 2) * L);
      hi[l] = cg_i32c(c, L / 2 + l / 2 + (l % 2) * L);
    }
    LLVMValueRef m_lo = LLVMConstVector(lo, (unsigned)L), m_hi = LLVMConstVector(hi, (unsigned)L);
    CgLoop lb;
    LLVMValueRef b = cg_for(c, &lb, blocks);
    lb.keep = true;
    LLVMValueRef t = cg_mulc(c, b, L);
    LLVMValueRef ve = load_vec(&g, even, t, L), vo = load_vec(&g, odd, t, L);
    store_vec(&g, LLVMBuildShuffleVector(c->b, ve, vo, m_lo, ""), dst, cg_mulc(c, t, 2), L);
    store_vec(&g, LLVMBuildShuffleVector(c->b, ve, vo, m_hi, ""), dst,
              cg_addc(c, cg_mulc(c, t, 2), L), L);
    cg_loop_end(c, &lb, NULL, NULL);
  }
  for (int parity = 0; parity < 2; parity++) {
    int64_t n = parity ? n_odd : n_even, done = blocks * L;
    if (n <= done) continue;
    CgLoop lt;
    LLVMValueRef t = cg_loop_begin(c, &lt, cg_idx(c, done), cg_idx(c, n));
    lt.keep = true;
    cg_store(c, cg_load(c, parity ? odd : even, t), dst, cg_addc(c, cg_mulc(c, t, 2), parity));
    cg_loop_end(c, &lt, NULL, NULL);
  }
}

/* ---- pools ---------------------------------------------------------------------------------- */

bool cg_pool_pairs(Cg *c, const IrConvParams *p, LLVMValueRef xplane, LLVMValueRef orow,
                   LLVMValueRef hbase, LLVMValueRef kh_lo, LLVMValueRef kh_hi, bool avg) {
  CgVecInfo vec = cg_vec_info(c);
  int64_t OW = p->ow, W = p->w;
  int L = vec.lanes;
  while (L > 2 && L > OW) L /= 2; /* narrow rows (8x8 maps): half vectors, not gathers */
  vec.lanes = L;
  /* whole vectors only: the last block overlaps the one before it when L does not divide OW
   * (its outputs are computed twice, to the same values) instead of a scalar tail */
  int64_t blocks = L > 1 && OW >= L ? (OW + L - 1) / L : 0;
  if (p->kw != 2 || p->stride_w != 2 || p->dil_w != 1 || p->pad_l != 0 || 2 * OW > W || blocks == 0)
    return false;
  Gemm g = {.c = c, .vec = vec, .vty = LLVMVectorType(c->t_f32, (unsigned)L)};
  LLVMValueRef even[16], odd[16];
  for (int l = 0; l < L; l++) {
    even[l] = cg_i32c(c, 2 * l);
    odd[l] = cg_i32c(c, 2 * l + 1);
  }
  LLVMValueRef m_even = LLVMConstVector(even, (unsigned)L),
               m_odd = LLVMConstVector(odd, (unsigned)L);
  LLVMValueRef init = cg_f32c(c, avg ? 0.0 : -INFINITY);
  /* the window's accumulator stays in a register across its rows and is stored once (filling
   * the row first and reloading it made every output vector wait on a store forward) */
  CgLoop lb, lkh;
  LLVMValueRef b = cg_for(c, &lb, blocks);
  LLVMValueRef ow = cg_smin(c, cg_mulc(c, b, L), cg_idx(c, OW - L));
  LLVMValueRef kh = cg_loop_begin(c, &lkh, kh_lo, kh_hi);
  LLVMValueRef acc = cg_loop_acc(c, &lkh, splat(&g, init));
  LLVMValueRef xrow =
      cg_gep(c, c->t_f32, xplane, cg_mulc(c, cg_add(c, hbase, cg_mulc(c, kh, p->dil_h)), W));
  LLVMValueRef v0 = load_vec(&g, xrow, cg_mulc(c, ow, 2), L);
  LLVMValueRef v1 = load_vec(&g, xrow, cg_addc(c, cg_mulc(c, ow, 2), L), L);
  LLVMValueRef xe = LLVMBuildShuffleVector(c->b, v0, v1, m_even, "");
  LLVMValueRef xo = LLVMBuildShuffleVector(c->b, v0, v1, m_odd, "");
  /* the order of the scalar loops: tap kw = 0, then kw = 1 (NaN and rounding alike) */
  acc = avg ? LLVMBuildFAdd(c->b, acc, xe, "") : cg_fmax(c, xe, acc);
  acc = avg ? LLVMBuildFAdd(c->b, acc, xo, "") : cg_fmax(c, xo, acc);
  LLVMValueRef out;
  cg_loop_end(c, &lkh, &acc, &out);
  store_vec(&g, out, orow, ow, L);
  cg_loop_end(c, &lb, NULL, NULL);
  return true;
}
