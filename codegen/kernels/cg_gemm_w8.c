/* KilnGemmW8 (ir/weight8.c): Y[M][N] = A[M][K] * (B[K][N] * scale[N]) + bias[N] with int8
 * weights, activations f32 (--quantize=int8-weights). The fp32 micro-kernel's register tile
 * (docs/kernels.md, cg_gemm_tile picks MR x NR from the target's registers): MR rows of A
 * broadcast, NR/lanes vectors of B per step of k, one FMA per accumulator; here each B vector is
 * lanes bytes converted in registers (sign extension, int-to-float), a quarter of the fp32
 * kernel's weight traffic. The per-column scale multiplies the finished accumulators, then the
 * bias is added, before one store. B is packed at compile time as strips of NR columns
 * [strip][K][NR] bytes, zero-padded, so the last strip reads no further than its own bytes. */
#include <stdio.h>
#include <stdlib.h>

#include "cg_kernels.h"

/* One product while it is built. */
typedef struct W8 {
  Cg *c;
  const CgW8 *p;
  LLVMTypeRef vty;  /* <lanes x float> (float when lanes is 1) */
  LLVMTypeRef bvty; /* <lanes x i8> (i8) */
  LLVMValueRef a, y, bias;
  int64_t bias_ld;
} W8;

static LLVMValueRef splat(W8 *w, LLVMValueRef s) {
  Cg *c = w->c;
  if (w->p->vec.lanes == 1) return s;
  LLVMValueRef v = LLVMBuildInsertElement(c->b, LLVMGetPoison(w->vty), s, cg_i32c(c, 0), "");
  LLVMValueRef mask = LLVMConstNull(LLVMVectorType(c->t_i32, (unsigned)w->p->vec.lanes));
  return LLVMBuildShuffleVector(c->b, v, LLVMGetPoison(w->vty), mask, "");
}

static LLVMValueRef load_f32v(W8 *w, LLVMValueRef p, LLVMValueRef idx) {
  if (w->p->vec.lanes == 1) return cg_load(w->c, p, idx);
  LLVMValueRef v = LLVMBuildLoad2(w->c->b, w->vty, cg_gep(w->c, w->c->t_f32, p, idx), "");
  LLVMSetAlignment(v, 4);
  return v;
}

/* lanes bytes of B at byte index idx, as floats */
static LLVMValueRef load_b(W8 *w, LLVMValueRef idx) {
  Cg *c = w->c;
  int L = w->p->vec.lanes;
  LLVMValueRef v = LLVMBuildLoad2(c->b, w->bvty, cg_gep(c, c->t_i8, w->p->b, idx), "");
  LLVMSetAlignment(v, 1);
  LLVMTypeRef ity = L == 1 ? c->t_i32 : LLVMVectorType(c->t_i32, (unsigned)L);
  return LLVMBuildSIToFP(c->b, LLVMBuildSExt(c->b, v, ity, ""), w->vty, "");
}

/* Rows [i0, i0 + mr) by columns of strip s (nv vectors, `cols` of them valid). */
static void tile(W8 *w, LLVMValueRef i0, int mr, LLVMValueRef s, int nv, int64_t cols) {
  Cg *c = w->c;
  const CgW8 *p = w->p;
  int L = p->vec.lanes;
  CgLoop lk;
  LLVMValueRef kk = cg_loop_begin(c, &lk, cg_idx(c, 0), cg_idx(c, p->K));
  LLVMValueRef acc[CG_LOOP_MAX_ACC];
  for (int r = 0; r < mr * nv; r++) acc[r] = cg_loop_acc(c, &lk, LLVMConstNull(w->vty));
  LLVMValueRef bbase = cg_mulc(c, cg_add(c, cg_mulc(c, s, p->K), kk), p->nr);
  LLVMValueRef bv[CG_LOOP_MAX_ACC], next[CG_LOOP_MAX_ACC];
  for (int v = 0; v < nv; v++) bv[v] = load_b(w, cg_addc(c, bbase, v * L));
  for (int r = 0; r < mr; r++) {
    LLVMValueRef av =
        splat(w, cg_load(c, w->a, cg_add(c, cg_mulc(c, cg_addc(c, i0, r), p->K), kk)));
    for (int v = 0; v < nv; v++) {
      LLVMValueRef args[3] = {av, bv[v], acc[r * nv + v]};
      next[r * nv + v] = cg_intrinsic(c, p->vec.fma ? "llvm.fma" : "llvm.fmuladd", w->vty, args, 3);
    }
  }
  LLVMValueRef done[CG_LOOP_MAX_ACC];
  cg_loop_end(c, &lk, next, done);
  LLVMValueRef j0 = cg_mulc(c, s, p->nr);
  for (int v = 0; v < nv; v++) {
    int64_t valid = cols - (int64_t)v * L;
    if (valid <= 0) break;
    LLVMValueRef jv = cg_addc(c, j0, v * L);
    LLVMValueRef sc = load_f32v(w, p->scale, jv); /* padded to whole strips */
    for (int r = 0; r < mr; r++) {
      LLVMValueRef i = cg_addc(c, i0, r);
      LLVMValueRef y = LLVMBuildFMul(c->b, done[r * nv + v], sc, "");
      LLVMValueRef idx = cg_add(c, cg_mulc(c, i, p->N), jv);
      LLVMValueRef bidx = w->bias ? cg_add(c, cg_mulc(c, i, w->bias_ld), jv) : NULL;
      if (valid >= L) { /* a whole vector: bias (it may be y itself) read before the store */
        if (w->bias) y = LLVMBuildFAdd(c->b, y, load_f32v(w, w->bias, bidx), "");
        if (L == 1) {
          cg_store(c, y, w->y, idx);
        } else {
          LLVMValueRef st = LLVMBuildStore(c->b, y, cg_gep(c, c->t_f32, w->y, idx));
          LLVMSetAlignment(st, 4);
        }
        continue;
      }
      for (int l = 0; l < valid; l++) { /* the last strip's valid lanes: nothing read past N */
        LLVMValueRef e = LLVMBuildExtractElement(c->b, y, cg_i32c(c, l), "");
        if (w->bias) e = LLVMBuildFAdd(c->b, e, cg_load(c, w->bias, cg_addc(c, bidx, l)), "");
        cg_store(c, e, w->y, cg_addc(c, idx, l));
      }
    }
  }
}

/* Every strip for rows [i0, i0 + mr). */
static void row_block(W8 *w, LLVMValueRef i0, int mr) {
  Cg *c = w->c;
  const CgW8 *p = w->p;
  int64_t full = p->N / p->nr, rest = p->N % p->nr;
  if (full > 0) {
    CgLoop ls;
    LLVMValueRef s = cg_for(c, &ls, full);
    tile(w, i0, mr, s, p->t.nrv, p->nr);
    cg_loop_end(c, &ls, NULL, NULL);
  }
  if (rest) tile(w, i0, mr, cg_idx(c, full), (int)((rest + p->vec.lanes - 1) / p->vec.lanes), rest);
}

CgW8 cg_w8_pack(Cg *c, const int8_t *q, const float *scale, int64_t M, int64_t K, int64_t N,
                int64_t s_k, int64_t s_n) {
  CgW8 p = {.vec = cg_vec_info(c), .K = K, .N = N};
  /* the fp32 tile, at most CG_LOOP_MAX_ACC accumulators */
  p.t = cg_gemm_tile(p.vec, M, N, K, IR_TILE_COLS_MAX);
  while (p.t.mr * p.t.nrv > CG_LOOP_MAX_ACC) p.t.mr > 1 ? p.t.mr-- : p.t.nrv--;
  p.nr = (int64_t)p.t.nrv * p.vec.lanes;
  /* [strip][K][NR] bytes, the scale padded to whole strips */
  int64_t strips = (N + p.nr - 1) / p.nr, padded = strips * p.nr;
  int8_t *pb = calloc((size_t)(padded * K), 1);
  float *ps = calloc((size_t)padded, sizeof(float));
  if (!pb || !ps) abort();
  for (int64_t st = 0; st < strips; st++)
    for (int64_t k = 0; k < K; k++)
      for (int64_t j = 0; j < p.nr && st * p.nr + j < N; j++)
        pb[(st * K + k) * p.nr + j] = q[k * s_k + (st * p.nr + j) * s_n];
  for (int64_t j = 0; j < N; j++) ps[j] = scale[j];
  char name[300];
  snprintf(name, sizeof name, "%s.w8.%d", c->prefix, c->n_derived++);
  p.b = cg_const_bytes(c, pb, (size_t)(padded * K), name);
  snprintf(name, sizeof name, "%s.w8scale.%d", c->prefix, c->n_derived++);
  p.scale = cg_const_bytes(c, ps, sizeof(float) * (size_t)padded, name);
  free(pb);
  free(ps);
  return p;
}

void cg_w8_emit(Cg *c, const CgW8 *p, int64_t M, LLVMValueRef a, LLVMValueRef y, LLVMValueRef bias,
                int64_t bias_ld) {
  int L = p->vec.lanes;
  W8 w = {.c = c, .p = p, .a = a, .y = y, .bias = bias, .bias_ld = bias_ld};
  w.vty = L == 1 ? c->t_f32 : LLVMVectorType(c->t_f32, (unsigned)L);
  w.bvty = L == 1 ? c->t_i8 : LLVMVectorType(c->t_i8, (unsigned)L);
  int mr = p->t.mr;
  if (M / mr > 0) {
    CgLoop li;
    LLVMValueRef ib = cg_for(c, &li, M / mr);
    row_block(&w, cg_mulc(c, ib, mr), mr);
    cg_loop_end(c, &li, NULL, NULL);
  }
  if (M % mr) row_block(&w, cg_idx(c, M - M % mr), (int)(M % mr));
}

bool cg_lower_gemm_w8(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  const IrValue *a = n->inputs[0], *b = n->inputs[1];
  bool tb = ir_attr_i(n, "transB") != 0;
  int64_t K = a->dims[a->rank - 1], N = tb ? b->dims[0] : b->dims[1];
  CgW8 p = cg_w8_pack(c, b->data, n->inputs[2]->data, ir_value_numel(a) / K, K, N, tb ? 1 : N,
                      tb ? K : 1);
  bool bias = n->n_inputs > 3 && n->inputs[3];
  cg_w8_emit(c, &p, ir_value_numel(a) / K, in[0], out[0], bias ? in[3] : NULL, 0);
  return true;
}
