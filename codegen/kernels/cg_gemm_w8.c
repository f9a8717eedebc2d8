/* KilnGemmW8 (ir/weight8.c): Y[M][N] = A[M][K] * (B[K][N] * scale[N]) + bias[N] with int8
 * weights, activations f32 (--quantize=int8-weights). The fp32 micro-kernel's register tile
 * (docs/kernels.md, cg_gemm_tile picks MR x NR from the target's registers): MR rows of A
 * broadcast, NR/lanes vectors of B per step of k, one FMA per accumulator; here each B vector is
 * lanes bytes converted in registers (sign extension, int-to-float), a quarter of the fp32
 * kernel's weight traffic. The per-column scale multiplies the finished accumulators, then the
 * bias is added, before one store. B is packed at compile time as strips of NR columns
 * [strip][K][NR] bytes, zero-padded, so the last strip reads no further than its own bytes. */
#include <stdlib.h>

#include "cg_kernels.h"

typedef struct W8 {
  Cg *c;
  CgVecInfo vec;
  LLVMTypeRef vty;  /* <lanes x float> (float when lanes is 1) */
  LLVMTypeRef bvty; /* <lanes x i8> (i8) */
  int64_t K, N, nr;
  LLVMValueRef a, b, scale, bias, y; /* scale and bias: padded to whole strips */
} W8;

static LLVMValueRef splat(W8 *w, LLVMValueRef s) {
  Cg *c = w->c;
  if (w->vec.lanes == 1) return s;
  LLVMValueRef v = LLVMBuildInsertElement(c->b, LLVMGetPoison(w->vty), s, cg_i32c(c, 0), "");
  LLVMValueRef mask = LLVMConstNull(LLVMVectorType(c->t_i32, (unsigned)w->vec.lanes));
  return LLVMBuildShuffleVector(c->b, v, LLVMGetPoison(w->vty), mask, "");
}

static LLVMValueRef load_f32v(W8 *w, LLVMValueRef p, LLVMValueRef idx) {
  LLVMValueRef v = LLVMBuildLoad2(w->c->b, w->vty, cg_gep(w->c, w->c->t_f32, p, idx), "");
  LLVMSetAlignment(v, 4);
  return v;
}

/* lanes bytes of B at byte index idx, as floats */
static LLVMValueRef load_b(W8 *w, LLVMValueRef idx) {
  Cg *c = w->c;
  LLVMValueRef v = LLVMBuildLoad2(c->b, w->bvty, cg_gep(c, c->t_i8, w->b, idx), "");
  LLVMSetAlignment(v, 1);
  LLVMTypeRef ity = w->vec.lanes == 1 ? c->t_i32 : LLVMVectorType(c->t_i32, (unsigned)w->vec.lanes);
  return LLVMBuildSIToFP(c->b, LLVMBuildSExt(c->b, v, ity, ""), w->vty, "");
}

/* Rows [i0, i0 + mr) by columns of strip s (nv vectors, `cols` of them valid). */
static void tile(W8 *w, LLVMValueRef i0, int mr, LLVMValueRef s, int nv, int64_t cols) {
  Cg *c = w->c;
  int L = w->vec.lanes;
  CgLoop lk;
  LLVMValueRef kk = cg_loop_begin(c, &lk, cg_idx(c, 0), cg_idx(c, w->K));
  LLVMValueRef acc[CG_LOOP_MAX_ACC];
  for (int r = 0; r < mr * nv; r++) acc[r] = cg_loop_acc(c, &lk, LLVMConstNull(w->vty));
  LLVMValueRef bbase = cg_mulc(c, cg_add(c, cg_mulc(c, s, w->K), kk), w->nr);
  LLVMValueRef bv[CG_LOOP_MAX_ACC], next[CG_LOOP_MAX_ACC];
  for (int v = 0; v < nv; v++) bv[v] = load_b(w, cg_addc(c, bbase, v * L));
  for (int r = 0; r < mr; r++) {
    LLVMValueRef av =
        splat(w, cg_load(c, w->a, cg_add(c, cg_mulc(c, cg_addc(c, i0, r), w->K), kk)));
    for (int v = 0; v < nv; v++) {
      LLVMValueRef args[3] = {av, bv[v], acc[r * nv + v]};
      next[r * nv + v] = cg_intrinsic(c, w->vec.fma ? "llvm.fma" : "llvm.fmuladd", w->vty, args, 3);
    }
  }
  LLVMValueRef done[CG_LOOP_MAX_ACC];
  cg_loop_end(c, &lk, next, done);
  LLVMValueRef j0 = cg_mulc(c, s, w->nr);
  for (int v = 0; v < nv; v++) {
    LLVMValueRef jv = cg_addc(c, j0, v * L);
    LLVMValueRef sc = L == 1 ? cg_load(c, w->scale, jv) : load_f32v(w, w->scale, jv);
    LLVMValueRef bi = !w->bias ? NULL
                      : L == 1 ? cg_load(c, w->bias, jv)
                               : load_f32v(w, w->bias, jv);
    int64_t valid = cols - (int64_t)v * L;
    if (valid <= 0) break;
    for (int r = 0; r < mr; r++) {
      LLVMValueRef y = LLVMBuildFMul(c->b, done[r * nv + v], sc, "");
      if (bi) y = LLVMBuildFAdd(c->b, y, bi, "");
      LLVMValueRef idx = cg_add(c, cg_mulc(c, cg_addc(c, i0, r), w->N), jv);
      if (L == 1) {
        cg_store(c, y, w->y, idx);
      } else if (valid >= L) {
        LLVMValueRef st = LLVMBuildStore(c->b, y, cg_gep(c, c->t_f32, w->y, idx));
        LLVMSetAlignment(st, 4);
      } else {
        for (int l = 0; l < valid; l++)
          cg_store(c, LLVMBuildExtractElement(c->b, y, cg_i32c(c, l), ""), w->y,
                   cg_addc(c, idx, l));
      }
    }
  }
}

/* Every strip for rows [i0, i0 + mr). */
static void row_block(W8 *w, LLVMValueRef i0, int mr, int nrv) {
  Cg *c = w->c;
  int64_t full = w->N / w->nr, rest = w->N % w->nr;
  if (full > 0) {
    CgLoop ls;
    LLVMValueRef s = cg_for(c, &ls, full);
    tile(w, i0, mr, s, nrv, w->nr);
    cg_loop_end(c, &ls, NULL, NULL);
  }
  if (rest) tile(w, i0, mr, cg_idx(c, full), (int)((rest + w->vec.lanes - 1) / w->vec.lanes), rest);
}

bool cg_lower_gemm_w8(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *a = n->inputs[0], *b = n->inputs[1];
  bool tb = ir_attr_i(n, "transB") != 0;
  W8 w = {.c = c, .vec = cg_vec_info(c)};
  w.K = a->dims[a->rank - 1];
  w.N = tb ? b->dims[0] : b->dims[1];
  int64_t M = ir_value_numel(a) / w.K;
  int L = w.vec.lanes;
  w.vty = L == 1 ? c->t_f32 : LLVMVectorType(c->t_f32, (unsigned)L);
  w.bvty = L == 1 ? c->t_i8 : LLVMVectorType(c->t_i8, (unsigned)L);
  /* the fp32 tile, at most CG_LOOP_MAX_ACC accumulators */
  CgTile t = cg_gemm_tile(w.vec, M, w.N, w.K, IR_TILE_COLS_MAX);
  while (t.mr * t.nrv > CG_LOOP_MAX_ACC) t.mr > 1 ? t.mr-- : t.nrv--;
  w.nr = (int64_t)t.nrv * L;
  /* compile-time packing: [strip][K][NR] bytes, scale and bias padded to whole strips */
  int64_t strips = (w.N + w.nr - 1) / w.nr, padded = strips * w.nr;
  int8_t *pb = calloc((size_t)(padded * w.K), 1);
  float *ps = calloc((size_t)padded, sizeof(float)), *pbias = calloc((size_t)padded, sizeof(float));
  if (!pb || !ps || !pbias) abort();
  const int8_t *q = b->data;
  for (int64_t s = 0; s < strips; s++)
    for (int64_t k = 0; k < w.K; k++)
      for (int64_t j = 0; j < w.nr && s * w.nr + j < w.N; j++) {
        int64_t col = s * w.nr + j;
        pb[(s * w.K + k) * w.nr + j] = q[tb ? col * w.K + k : k * w.N + col];
      }
  const IrValue *bias = n->n_inputs > 3 ? n->inputs[3] : NULL;
  for (int64_t j = 0; j < w.N; j++) {
    ps[j] = ((const float *)n->inputs[2]->data)[j];
    if (bias) pbias[j] = ((const float *)bias->data)[j];
  }
  char name[300];
  snprintf(name, sizeof name, "%s.w8.%d", c->prefix, c->n_derived++);
  w.b = cg_const_bytes(c, pb, (size_t)(padded * w.K), name);
  snprintf(name, sizeof name, "%s.w8scale.%d", c->prefix, c->n_derived++);
  w.scale = cg_const_bytes(c, ps, sizeof(float) * (size_t)padded, name);
  if (bias) {
    snprintf(name, sizeof name, "%s.w8bias.%d", c->prefix, c->n_derived++);
    w.bias = cg_const_bytes(c, pbias, sizeof(float) * (size_t)padded, name);
  }
  free(pb);
  free(ps);
  free(pbias);
  w.a = in[0];
  w.y = out[0];
  if (M / t.mr > 0) {
    CgLoop li;
    LLVMValueRef ib = cg_for(c, &li, M / t.mr);
    row_block(&w, cg_mulc(c, ib, t.mr), t.mr, t.nrv);
    cg_loop_end(c, &li, NULL, NULL);
  }
  if (M % t.mr) row_block(&w, cg_idx(c, M - M % t.mr), (int)(M % t.mr), t.nrv);
  return true;
}
