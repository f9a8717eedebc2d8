/* Sparse kernels (cg_sparse.h). The weights are rearranged at compile time into exactly what
 * each kernel reads; every product with a zero weight is skipped, nothing else changes (the
 * reference interpreter, which ignores IrNode.kernel, stays the oracle):
 *
 *   Gemm/MatMul  Y[i][j] = bias[j] + sum_k A[i][k] B[k][j], B constant; rows i of A are every
 *                row of the flattened leading dims (MatMul's B is one matrix).
 *     sparse-csr       per output column j its nonzeros (value, k), one scalar chain;
 *     sparse-block     per strip of `lanes` columns the k whose 1 x lanes block is not all
 *                      zero, the block a vector: one broadcast of A[i][k] and one vector FMA;
 *     sparse-unrolled  per column the nonzeros as constants in code at constant offsets of A.
 *   Conv  sparse-csr: the group's input copied into the wide form's padded image, then per
 *         output channel its nonzero taps (value, offset of the tap in the image), each one
 *         broadcast and multiplied into vectors of contiguous wide output pixels. */
#include "cg_sparse.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_gemm_i8.h"
#include "cg_kernels.h"
#include "cg_quant.h"
#include "conv_params.h"
#include "ir_util.h"
#include "quant.h"
#include "sparsity.h"

/* ---- constant arrays ---------------------------------------------------------------------- */

static LLVMValueRef const_array(Cg *c, const void *data, size_t nbytes, const char *what) {
  char name[300];
  snprintf(name, sizeof name, "%s.%s.%d", c->prefix, what, c->n_derived++);
  return cg_const_bytes(c, data, nbytes ? nbytes : 1, name);
}

/* An index array of `bytes`-wide unsigned (2) or signed (4) integers. */
static LLVMValueRef index_array(Cg *c, const int64_t *v, int64_t n, int bytes, const char *what) {
  unsigned char *buf = malloc((size_t)(n * bytes) + 1);
  if (!buf) abort();
  for (int64_t i = 0; i < n; i++) {
    if (bytes == 2) {
      uint16_t x = (uint16_t)v[i];
      memcpy(buf + i * 2, &x, 2);
    } else {
      int32_t x = (int32_t)v[i];
      memcpy(buf + i * 4, &x, 4);
    }
  }
  LLVMValueRef g = const_array(c, buf, (size_t)(n * bytes), what);
  free(buf);
  return g;
}

LLVMValueRef cg_sparse_load_index(Cg *c, LLVMValueRef arr, int bytes, LLVMValueRef i) {
  LLVMTypeRef t = bytes == 2 ? LLVMInt16TypeInContext(c->ctx) : c->t_i32;
  LLVMValueRef v = LLVMBuildLoad2(c->b, t, cg_gep(c, t, arr, i), "");
  return bytes == 2 ? LLVMBuildZExt(c->b, v, c->t_idx, "")
                    : LLVMBuildSExtOrBitCast(c->b, v, c->t_idx, "");
}

static LLVMValueRef fma3(Cg *c, bool fma, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc) {
  LLVMValueRef args[3] = {a, b, acc};
  return cg_intrinsic(c, fma ? "llvm.fma" : "llvm.fmuladd", LLVMTypeOf(a), args, 3);
}

static LLVMValueRef splat(Cg *c, LLVMTypeRef vty, int lanes, LLVMValueRef s) {
  if (lanes == 1) return s;
  LLVMValueRef v = LLVMBuildInsertElement(c->b, LLVMGetPoison(vty), s, cg_i32c(c, 0), "");
  LLVMValueRef mask = LLVMConstNull(LLVMVectorType(c->t_i32, (unsigned)lanes));
  return LLVMBuildShuffleVector(c->b, v, LLVMGetPoison(vty), mask, "");
}

/* An f32 or i32 (et) element p[idx]. */
static LLVMValueRef eload(Cg *c, LLVMTypeRef et, LLVMValueRef p, LLVMValueRef idx) {
  LLVMValueRef v = LLVMBuildLoad2(c->b, et, cg_gep(c, et, p, idx), "");
  LLVMSetAlignment(v, 4);
  return v;
}

static void estore(Cg *c, LLVMValueRef v, LLVMValueRef p, LLVMValueRef idx) {
  LLVMSetAlignment(LLVMBuildStore(c->b, v, cg_gep(c, LLVMTypeOf(v), p, idx)), 4);
}

/* `count` elements (f32, or i32 for the int8 conv) at p[idx...] as a vector of type vty; lanes
 * past count read as zero (never loaded). */
static LLVMValueRef vload(Cg *c, LLVMTypeRef vty, int lanes, LLVMValueRef p, LLVMValueRef idx,
                          int count) {
  LLVMTypeRef et = lanes == 1 ? vty : LLVMGetElementType(vty);
  if (lanes == 1) return eload(c, et, p, idx);
  if (count >= lanes) {
    LLVMValueRef v = LLVMBuildLoad2(c->b, vty, cg_gep(c, et, p, idx), "");
    LLVMSetAlignment(v, 4);
    return v;
  }
  LLVMValueRef v = LLVMConstNull(vty);
  for (int l = 0; l < count; l++)
    v = LLVMBuildInsertElement(c->b, v, eload(c, et, p, cg_addc(c, idx, l)), cg_i32c(c, l), "");
  return v;
}

static void vstore(Cg *c, int lanes, LLVMValueRef v, LLVMValueRef p, LLVMValueRef idx, int count) {
  if (lanes == 1) {
    estore(c, v, p, idx);
  } else if (count >= lanes) {
    LLVMTypeRef et = LLVMGetElementType(LLVMTypeOf(v));
    LLVMSetAlignment(LLVMBuildStore(c->b, v, cg_gep(c, et, p, idx)), 4);
  } else {
    for (int l = 0; l < count; l++)
      estore(c, LLVMBuildExtractElement(c->b, v, cg_i32c(c, l), ""), p, cg_addc(c, idx, l));
  }
}

/* ---- Gemm / MatMul ------------------------------------------------------------------------ */

typedef struct {
  const IrNode *n;
  LLVMValueRef *in, *out;
  IrSparseView v;
  int64_t rows;      /* rows of A (and of Y) */
  LLVMValueRef bias; /* f32[N] or NULL */
} SparseGemm;

static void gemm_setup(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out, SparseGemm *g) {
  bool ok = ir_sparse_view(n, &g->v);
  assert(ok); /* the kernels pass checked */
  (void)ok;
  g->n = n, g->in = in, g->out = out;
  g->rows = ir_value_numel(n->inputs[0]) / (g->v.K ? g->v.K : 1);
  g->bias = NULL;
  if (n->op == IR_OP_GEMM && n->n_inputs > 2 && n->inputs[2] && ir_attr_f(n, "beta") != 0.0)
    g->bias = in[2]; /* pass_plan_sparse: C is a bias of N along the columns */
  (void)c;
}

/* y = epilogue(acc) stored as output element (i, j). */
static void store_out(Cg *c, const SparseGemm *g, LLVMValueRef acc, LLVMValueRef flat) {
  cg_store(c, cg_epilogue(c, g->n, g->in, acc, flat), g->out[0], flat);
}

/* Per output column its nonzeros in groups of IR_SPARSE_CSR_CHAINS (the last padded with zero
 * weights): that many accumulator chains summed at the end, so that the multiply-adds of a
 * column overlap instead of waiting on one another. */
static void gemm_csr(Cg *c, const SparseGemm *g, bool fma) {
  const int ch = IR_SPARSE_CSR_CHAINS;
  const IrSparseView *v = &g->v;
  int64_t N = v->rows, K = v->K, n = 0;
  int ib = ir_sparse_index_bytes(v);
  int64_t *ptr = malloc(sizeof(int64_t) * (size_t)(N + 1));
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)(N * (K + ch) + 1));
  float *val = malloc(sizeof(float) * (size_t)(N * (K + ch) + 1));
  if (!ptr || !idx || !val) abort();
  for (int64_t j = 0; j < N; j++) {
    ptr[j] = n / ch;
    for (int64_t k = 0; k < K; k++) {
      float w = ir_sparse_at(v, j, k);
      if (w != 0.0f) idx[n] = k, val[n++] = w;
    }
    while (n % ch) idx[n] = 0, val[n++] = 0.0f;
  }
  ptr[N] = n / ch;
  LLVMValueRef gptr = index_array(c, ptr, N + 1, 4, "csrptr");
  LLVMValueRef gidx = index_array(c, idx, n, ib, "csridx");
  LLVMValueRef gval = const_array(c, val, sizeof(float) * (size_t)n, "csrval");
  free(ptr), free(idx), free(val);
  CgLoop li, lj, lp;
  LLVMValueRef i = cg_for(c, &li, g->rows);
  LLVMValueRef arow = cg_gep(c, c->t_f32, g->in[0], cg_mulc(c, i, K));
  LLVMValueRef j = cg_for(c, &lj, N);
  lj.keep = true;
  LLVMValueRef q0 = cg_sparse_load_index(c, gptr, 4, j),
               q1 = cg_sparse_load_index(c, gptr, 4, cg_addc(c, j, 1));
  LLVMValueRef init = g->bias ? cg_load(c, g->bias, j) : cg_f32c(c, 0.0);
  LLVMValueRef q = cg_loop_begin(c, &lp, q0, q1);
  lp.keep = true; /* scalar chains: vectorized, they would be gathers */
  LLVMValueRef acc[IR_SPARSE_CSR_CHAINS], next[IR_SPARSE_CSR_CHAINS], sum[IR_SPARSE_CSR_CHAINS];
  for (int e = 0; e < ch; e++) acc[e] = cg_loop_acc(c, &lp, e ? cg_f32c(c, 0.0) : init);
  for (int e = 0; e < ch; e++) {
    LLVMValueRef p = cg_addc(c, cg_mulc(c, q, ch), e);
    LLVMValueRef x = cg_load(c, arow, cg_sparse_load_index(c, gidx, ib, p));
    next[e] = fma3(c, fma, cg_load(c, gval, p), x, acc[e]);
  }
  cg_loop_end(c, &lp, next, sum);
  LLVMValueRef total = sum[0];
  for (int e = 1; e < ch; e++) total = LLVMBuildFAdd(c->b, total, sum[e], "");
  store_out(c, g, total, cg_add(c, cg_mulc(c, i, N), j));
  cg_loop_end(c, &lj, NULL, NULL);
  cg_loop_end(c, &li, NULL, NULL);
}

/* Vector targets ("weights in code" on vectors): per strip of L output columns, the strip's
 * nonzeros packed into slots (ir_sparse_strip_slots): in a slot each lane (column) takes one of
 * its nonzeros from the same two vectors of A (blocks of L reductions), a shuffle of them by
 * constant indices (one vpermi2ps on AVX-512) times a constant vector of weights: one vector
 * FMA for up to L nonzeros, no index loads, no branches. Slots rotate over UNROLL_CHAINS
 * accumulators; lanes without a nonzero in a slot multiply by 0. The strips go into private
 * functions of at most UNROLL_FN_SLOTS slots each, called per row of A: the backend searches a
 * function's constant pool linearly for every constant, quadratic in one big function (a
 * 600-slot MLP took 11 s to compile in one function). On AVX-512 the shuffle is the vpermi2ps
 * intrinsic with its indices loaded from a table the optimizer cannot fold: X86's lowering of
 * a constant shuffle costs ~2.5 ms each (digits MLP at 80%: 10 s at -O3), the instruction is
 * the same and the index was a 64-byte constant-pool load anyway. */
enum { UNROLL_CHAINS = 4, UNROLL_FN_SLOTS = 64 };

static bool has_vpermi2ps(Cg *c, int lanes) {
  char *triple = LLVMGetTargetMachineTriple(c->tm);
  bool x86 = !strncmp(triple, "x86_64", 6) || !strncmp(triple, "i686", 4);
  LLVMDisposeMessage(triple);
  return x86 && lanes == 16; /* 16 f32 lanes on x86: AVX-512F */
}

static LLVMValueRef vpermi2ps(Cg *c, LLVMValueRef a, LLVMValueRef idx, LLVMValueRef b) {
  const char *name = "llvm.x86.avx512.vpermi2var.ps.512";
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMValueRef args[3] = {a, idx, b};
  return LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, NULL, 0),
                        LLVMGetIntrinsicDeclaration(c->mod, id, NULL, 0), args, 3, "");
}

/* void fn(const float *arow, float *yrow): yrow[s*L ...] = the products of strips [s0, s1). */
static LLVMValueRef unrolled_strips_fn(Cg *c, const SparseGemm *g, CgVecInfo vec, int64_t s0,
                                       int64_t s1, IrSparseSlot *slots) {
  const IrSparseView *v = &g->v;
  int L = vec.lanes;
  int64_t N = v->rows, K = v->K;
  LLVMTypeRef vty = LLVMVectorType(c->t_f32, (unsigned)L);
  LLVMTypeRef params[2] = {c->t_ptr, c->t_ptr};
  char name[300];
  snprintf(name, sizeof name, "%s.%d.sparse.%lld", c->prefix, g->n->id, (long long)s0);
  LLVMValueRef fn =
      LLVMAddFunction(c->mod, name, LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), params, 2, 0));
  LLVMSetLinkage(fn, LLVMPrivateLinkage);
  static const char *const attrs[] = {"nounwind", "noinline"};
  for (int a = 0; a < 2; a++)
    LLVMAddAttributeAtIndex(
        fn, LLVMAttributeFunctionIndex,
        LLVMCreateEnumAttribute(c->ctx, LLVMGetEnumAttributeKindForName(attrs[a], strlen(attrs[a])),
                                0));
  LLVMBasicBlockRef saved_bb = LLVMGetInsertBlock(c->b);
  LLVMValueRef saved_fn = c->fn;
  c->fn = fn;
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
  LLVMValueRef arow = LLVMGetParam(fn, 0), yrow = LLVMGetParam(fn, 1);
  LLVMValueRef *xb = calloc((size_t)((K + L - 1) / L), sizeof *xb); /* blocks of A, loaded once */
  LLVMValueRef mask[IR_SPARSE_MAX_LANES], wv[IR_SPARSE_MAX_LANES];
  if (!xb) abort();
  /* AVX-512: every slot's indices in one table (external, hidden: not folded into constants) */
  bool perm = has_vpermi2ps(c, L);
  int64_t n_all = 0, at = 0;
  for (int64_t s = s0; s < s1 && perm; s++)
    n_all += ir_sparse_strip_slots(v, L, s, NULL, K * L + 1);
  LLVMTypeRef ity = LLVMVectorType(c->t_i32, (unsigned)L);
  LLVMValueRef *itab = perm ? malloc(sizeof *itab * (size_t)(n_all * L + 1)) : NULL;
  LLVMValueRef table = NULL;
  if (perm) {
    if (!itab) abort();
    snprintf(name, sizeof name, "%s.%d.sparseidx.%lld", c->prefix, g->n->id, (long long)s0);
    table = LLVMAddGlobal(c->mod, LLVMArrayType2(c->t_i32, (uint64_t)(n_all * L)), name);
    LLVMSetVisibility(table, LLVMHiddenVisibility);
    LLVMSetAlignment(table, 64);
  }
  for (int64_t s = s0; s < s1; s++) {
    int cols = (int)(N - s * L < L ? N - s * L : L);
    int64_t n = ir_sparse_strip_slots(v, L, s, slots, K * L + 1);
    assert(n >= 0);
    LLVMValueRef acc[UNROLL_CHAINS];
    for (int q = 0; q < UNROLL_CHAINS; q++) acc[q] = LLVMConstNull(vty);
    for (int64_t t = 0; t < n; t++) {
      const IrSparseSlot *sl = &slots[t];
      LLVMValueRef x[2];
      for (int h = 0; h < 2; h++) { /* a tail block reads only its valid reductions */
        int64_t blk = h ? sl->b : sl->a, k0 = blk * L;
        if (!xb[blk])
          xb[blk] = vload(c, vty, L, arow, cg_idx(c, k0), (int)(K - k0 < L ? K - k0 : L));
        x[h] = xb[blk];
      }
      for (int l = 0; l < L; l++) {
        int32_t k = l < cols ? sl->k[l] : -1;
        bool second = k >= 0 && k / L != sl->a;
        mask[l] = cg_i32c(c, k < 0 ? 0 : k % L + (second ? L : 0));
        wv[l] = cg_f32c(c, k < 0 ? 0.0 : ir_sparse_at(v, s * L + l, k));
      }
      LLVMValueRef xs;
      if (perm) {
        memcpy(itab + at * L, mask, sizeof *mask * (size_t)L);
        LLVMValueRef idx =
            LLVMBuildLoad2(c->b, ity, cg_gep(c, c->t_i32, table, cg_idx(c, at * L)), "");
        LLVMSetAlignment(idx, 64);
        at++;
        xs = vpermi2ps(c, x[0], idx, x[1]);
      } else {
        xs = LLVMBuildShuffleVector(c->b, x[0], x[1], LLVMConstVector(mask, (unsigned)L), "");
      }
      acc[t % UNROLL_CHAINS] =
          fma3(c, vec.fma, xs, LLVMConstVector(wv, (unsigned)L), acc[t % UNROLL_CHAINS]);
    }
    LLVMValueRef sum = acc[0];
    for (int q = 1; q < UNROLL_CHAINS; q++) sum = LLVMBuildFAdd(c->b, sum, acc[q], "");
    vstore(c, L, sum, yrow, cg_idx(c, s * L), cols);
  }
  LLVMBuildRetVoid(c->b);
  if (perm) {
    LLVMSetInitializer(table, LLVMConstArray2(c->t_i32, itab, (uint64_t)(n_all * L)));
    free(itab);
  }
  free(xb);
  c->fn = saved_fn;
  LLVMPositionBuilderAtEnd(c->b, saved_bb);
  return fn;
}

static void gemm_unrolled_vec(Cg *c, const SparseGemm *g, CgVecInfo vec) {
  const IrSparseView *v = &g->v;
  int L = vec.lanes;
  int64_t N = v->rows, K = v->K, S = (N + L - 1) / L, n_fns = 0;
  IrSparseSlot *slots = malloc(sizeof *slots * (size_t)(K * L + 1));
  LLVMValueRef *fns = malloc(sizeof *fns * (size_t)(S + 1));
  if (!slots || !fns || L > IR_SPARSE_MAX_LANES) abort();
  for (int64_t s0 = 0, s = 0; s0 < S; s0 = s) { /* strips grouped up to UNROLL_FN_SLOTS slots */
    int64_t total = 0;
    for (s = s0; s < S; s++) {
      int64_t n = ir_sparse_strip_slots(v, L, s, NULL, K * L + 1);
      if (s > s0 && total + n > UNROLL_FN_SLOTS) break;
      total += n;
    }
    fns[n_fns++] = unrolled_strips_fn(c, g, vec, s0, s, slots);
  }
  LLVMTypeRef params[2] = {c->t_ptr, c->t_ptr};
  LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), params, 2, 0);
  LLVMTypeRef vty = LLVMVectorType(c->t_f32, (unsigned)L);
  CgLoop li;
  LLVMValueRef i = cg_for(c, &li, g->rows);
  li.keep = true;
  LLVMValueRef args[2] = {cg_gep(c, c->t_f32, g->in[0], cg_mulc(c, i, K)),
                          cg_gep(c, c->t_f32, g->out[0], cg_mulc(c, i, N))};
  for (int64_t f = 0; f < n_fns; f++) LLVMBuildCall2(c->b, fty, fns[f], args, 2, "");
  for (int64_t s = 0; s < S && (g->bias || g->n->n_epilogue); s++) { /* bias, epilogue */
    int cols = (int)(N - s * L < L ? N - s * L : L);
    LLVMValueRef flat = cg_add(c, cg_mulc(c, i, N), cg_idx(c, s * L));
    if (g->bias)
      vstore(c, L,
             LLVMBuildFAdd(c->b, vload(c, vty, L, g->out[0], flat, cols),
                           vload(c, vty, L, g->bias, cg_idx(c, s * L), cols), ""),
             g->out[0], flat, cols);
    if (g->n->n_epilogue)
      cg_epilogue_row(c, g->n, g->in, cg_gep(c, c->t_f32, g->out[0], flat), flat, cols);
  }
  cg_loop_end(c, &li, NULL, NULL);
  free(slots);
  free(fns);
}

static void gemm_unrolled(Cg *c, const SparseGemm *g, bool fma) {
  const IrSparseView *v = &g->v;
  int64_t N = v->rows, K = v->K;
  CgLoop li;
  LLVMValueRef i = cg_for(c, &li, g->rows);
  li.keep = true;
  LLVMValueRef arow = cg_gep(c, c->t_f32, g->in[0], cg_mulc(c, i, K));
  for (int64_t j = 0; j < N; j++) {
    LLVMValueRef acc = g->bias ? cg_load(c, g->bias, cg_idx(c, j)) : cg_f32c(c, 0.0);
    for (int64_t k = 0; k < K; k++) {
      float w = ir_sparse_at(v, j, k);
      if (w != 0.0f) acc = fma3(c, fma, cg_f32c(c, w), cg_load(c, arow, cg_idx(c, k)), acc);
    }
    store_out(c, g, acc, cg_addc(c, cg_mulc(c, i, N), j));
  }
  cg_loop_end(c, &li, NULL, NULL);
}

/* One strip of `cols` columns starting at j0 for row i: blocks [kptr[s], kptr[s+1]). */
static void block_strip(Cg *c, const SparseGemm *g, CgVecInfo vec, LLVMTypeRef vty,
                        LLVMValueRef gptr, LLVMValueRef gidx, int ib, LLVMValueRef gval,
                        LLVMValueRef i, LLVMValueRef arow, LLVMValueRef s, int cols) {
  int L = vec.lanes;
  int64_t N = g->v.rows;
  LLVMValueRef j0 = cg_mulc(c, s, L);
  LLVMValueRef init = g->bias ? vload(c, vty, L, g->bias, j0, cols) : LLVMConstNull(vty);
  LLVMValueRef p0 = cg_sparse_load_index(c, gptr, 4, s),
               p1 = cg_sparse_load_index(c, gptr, 4, cg_addc(c, s, 1));
  CgLoop lp;
  LLVMValueRef p = cg_loop_begin(c, &lp, p0, p1);
  lp.keep = true;
  LLVMValueRef acc = cg_loop_acc(c, &lp, init);
  LLVMValueRef a = splat(c, vty, L, cg_load(c, arow, cg_sparse_load_index(c, gidx, ib, p)));
  LLVMValueRef b = vload(c, vty, L, gval, cg_mulc(c, p, L), L); /* blocks are zero-padded */
  LLVMValueRef next = fma3(c, vec.fma, a, b, acc), sum;
  cg_loop_end(c, &lp, &next, &sum);
  LLVMValueRef flat = cg_add(c, cg_mulc(c, i, N), j0);
  vstore(c, L, sum, g->out[0], flat, cols);
  if (g->n->n_epilogue)
    cg_epilogue_row(c, g->n, g->in, cg_gep(c, c->t_f32, g->out[0], flat), flat, cols);
}

static void gemm_block(Cg *c, const SparseGemm *g, CgVecInfo vec) {
  const IrSparseView *v = &g->v;
  int L = vec.lanes;
  int64_t N = v->rows, K = v->K, S = (N + L - 1) / L, nb = 0;
  int ib = ir_sparse_index_bytes(v);
  int64_t *ptr = malloc(sizeof(int64_t) * (size_t)(S + 1));
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)(S * K + 1));
  float *val = calloc((size_t)(S * K * L + 1), sizeof(float));
  if (!ptr || !idx || !val) abort();
  for (int64_t s = 0; s < S; s++) {
    ptr[s] = nb;
    for (int64_t k = 0; k < K; k++) {
      bool any = false;
      for (int64_t j = s * L; j < N && j < (s + 1) * L; j++) any |= ir_sparse_at(v, j, k) != 0.0f;
      if (!any) continue;
      for (int64_t j = s * L; j < N && j < (s + 1) * L; j++)
        val[nb * L + (j - s * L)] = ir_sparse_at(v, j, k);
      idx[nb++] = k;
    }
  }
  ptr[S] = nb;
  LLVMValueRef gptr = index_array(c, ptr, S + 1, 4, "bsrptr");
  LLVMValueRef gidx = index_array(c, idx, nb, ib, "bsridx");
  LLVMValueRef gval = const_array(c, val, sizeof(float) * (size_t)(nb * L), "bsrval");
  free(ptr), free(idx), free(val);
  LLVMTypeRef vty = LLVMVectorType(c->t_f32, (unsigned)L);
  CgLoop li, ls;
  LLVMValueRef i = cg_for(c, &li, g->rows);
  LLVMValueRef arow = cg_gep(c, c->t_f32, g->in[0], cg_mulc(c, i, K));
  int64_t full = N / L;
  if (full > 0) {
    LLVMValueRef s = cg_for(c, &ls, full);
    ls.keep = true;
    block_strip(c, g, vec, vty, gptr, gidx, ib, gval, i, arow, s, L);
    cg_loop_end(c, &ls, NULL, NULL);
  }
  if (N % L)
    block_strip(c, g, vec, vty, gptr, gidx, ib, gval, i, arow, cg_idx(c, full), (int)(N % L));
  cg_loop_end(c, &li, NULL, NULL);
}

/* ---- Conv --------------------------------------------------------------------------------- */

/* How a strip accumulates: f32 weights, FMAs; int8 weights into i32 (exact, as the
 * interpreter); or int8 weights and x - x_zp as f32 into FMAs, exact where every partial sum is
 * an integer below 2^24 (conv_csr checks the bound at compile time): the vector FMA instead of
 * the slower vector i32 multiply (AVX-512 --profile, digits CNN 90%: conv2 2.1 vs 3.0 us). */
typedef enum { ACC_F32, ACC_I32, ACC_I8_F32 } ConvAcc;

/* Output channels' rows of the wide output for one (batch, group) image: per channel m its
 * nonzeros [ptr[r], ptr[r+1]) (r = g*Mpg + m), strips of nrv vectors along the wide pixels,
 * starting at init. */
static void conv_rows_strip(Cg *c, CgVecInfo vec, LLVMTypeRef vty, ConvAcc how, LLVMValueRef gptr,
                            LLVMValueRef goff, LLVMValueRef gval, LLVMValueRef r,
                            LLVMValueRef init1, LLVMValueRef image, LLVMValueRef wrow,
                            LLVMValueRef j0, int64_t cols) {
  int L = vec.lanes, nrv = (int)((cols + L - 1) / L);
  LLVMValueRef init = splat(c, vty, L, init1);
  LLVMValueRef p0 = cg_sparse_load_index(c, gptr, 4, r),
               p1 = cg_sparse_load_index(c, gptr, 4, cg_addc(c, r, 1));
  CgLoop lp;
  LLVMValueRef p = cg_loop_begin(c, &lp, p0, p1);
  lp.keep = true;
  LLVMValueRef acc[8], next[8], sum[8];
  for (int k = 0; k < nrv; k++) acc[k] = cg_loop_acc(c, &lp, init);
  LLVMValueRef w1;
  if (how != ACC_F32) {
    LLVMValueRef b = LLVMBuildLoad2(c->b, c->t_i8, cg_gep(c, c->t_i8, gval, p), "");
    LLVMSetAlignment(b, 1);
    w1 = how == ACC_I32 ? LLVMBuildSExt(c->b, b, c->t_i32, "")
                        : LLVMBuildSIToFP(c->b, b, c->t_f32, "");
  } else {
    w1 = cg_load(c, gval, p);
  }
  LLVMValueRef w = splat(c, vty, L, w1);
  LLVMTypeRef et = how == ACC_I32 ? c->t_i32 : c->t_f32;
  LLVMValueRef src = cg_gep(c, et, image, cg_add(c, cg_sparse_load_index(c, goff, 4, p), j0));
  /* Arm VFP: the strip's nrv pixels by one VLDM (cg_gemm.c's micro-kernel does the same) */
  LLVMValueRef xs[16];
  bool vldm = vec.vldm && how == ACC_F32 && nrv >= 2 && nrv <= 16;
  if (vldm) cg_vldm_floats(c, src, 16, nrv, xs);
  for (int k = 0; k < nrv; k++) { /* the image is readable a tile past the wide columns */
    LLVMValueRef x = vldm ? xs[k] : vload(c, vty, L, src, cg_idx(c, (int64_t)k * L), L);
    next[k] = how == ACC_I32 ? LLVMBuildAdd(c->b, acc[k], LLVMBuildMul(c->b, w, x, ""), "")
                             : fma3(c, vec.fma, w, x, acc[k]);
  }
  cg_loop_end(c, &lp, next, sum);
  for (int k = 0; k < nrv; k++)
    vstore(c, L, sum[k], wrow, cg_addc(c, j0, (int64_t)k * L), (int)(cols - (int64_t)k * L));
}

/* int8: the wide rows' ow valid columns requantized (ir_requant_apply, per channel r's mult
 * and shift from the tables) into the i8 output at obase; per channel the 32-bit form of
 * cg_qrequant where its shift allows (ge33: every channel's does), else the 64-bit one. fsum:
 * the sums are f32 integers, converted and the bias added here. */
static void conv_wide_store_i8(Cg *c, const IrConvParams *p, const IrConvWide *w, LLVMValueRef tab,
                               LLVMValueRef gi, int32_t y_zp, bool ge33, bool fsum,
                               LLVMValueRef wide, LLVMValueRef obase, LLVMValueRef out) {
  int64_t P = p->oh * p->ow;
  CgLoop lm;
  LLVMValueRef m = cg_for(c, &lm, p->m_per_group);
  LLVMValueRef r = cg_add(c, cg_mulc(c, gi, p->m_per_group), m);
  LLVMValueRef mult = eload(c, c->t_i32, tab, r),
               shift = eload(c, c->t_i32, tab, cg_addc(c, r, p->m)),
               bias = eload(c, c->t_i32, tab, cg_addc(c, r, 2 * p->m));
  CgIf f;
  if (!ge33) cg_if_begin(c, &f, LLVMBuildICmp(c->b, LLVMIntSGE, shift, cg_i32c(c, 33), ""));
  for (int form = 0; form < (ge33 ? 1 : 2); form++) {
    if (form) cg_if_else(c, &f);
    CgLoop loh, low;
    LLVMValueRef oh = cg_for(c, &loh, p->oh);
    LLVMValueRef wrow =
        cg_gep(c, c->t_i32, wide, cg_add(c, cg_mulc(c, m, w->wide_cols), cg_mulc(c, oh, w->wq)));
    LLVMValueRef o0 = cg_add(c, cg_add(c, obase, cg_mulc(c, m, P)), cg_mulc(c, oh, p->ow));
    LLVMValueRef ow = cg_for(c, &low, p->ow);
    low.no_unroll = true;
    LLVMValueRef acc =
        fsum ? LLVMBuildAdd(c->b, LLVMBuildFPToSI(c->b, eload(c, c->t_f32, wrow, ow), c->t_i32, ""),
                            bias, "")
             : eload(c, c->t_i32, wrow, ow);
    LLVMValueRef y = cg_qrequant(c, 1, acc, mult, shift, y_zp, !form);
    LLVMSetAlignment(LLVMBuildStore(c->b, y, cg_gep(c, c->t_i8, out, cg_add(c, o0, ow))), 1);
    cg_loop_end(c, &low, NULL, NULL);
    cg_loop_end(c, &loh, NULL, NULL);
  }
  if (!ge33) cg_if_end(c, &f);
  cg_loop_end(c, &lm, NULL, NULL);
}

/* Conv and QLinearConv (int8: i32 image and wide output, same sizes as the f32 ones). */
static bool conv_csr(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  bool q = n->op == IR_OP_QLINEAR_CONV;
  IrConvParams p;
  IrSparseView v;
  bool ok = ir_q_conv_params(n, &p, NULL) && (q ? ir_sparse_view_i8(n, &v) : ir_sparse_view(n, &v));
  assert(ok); /* the kernels pass checked */
  (void)ok;
  IrConvWide w;
  ir_conv_wide(&p, n->tile_cols_max > 0 ? n->tile_cols_max : IR_TILE_COLS_MAX, &w);
  CgVecInfo vec = cg_vec_info(c);
  int L = vec.lanes;
  /* a strip: as many vectors as the registers hold beside the broadcast, within the tile
   * width the image is padded for */
  int tile_cols = n->tile_cols_max > 0 ? n->tile_cols_max : IR_TILE_COLS_MAX;
  /* scalar int8: 6 accumulators, which fit the 14 core registers beside the pointers and the
   * weight (8 spilled) */
  int nrv = L == 1 ? (q ? 6 : 8) : 4;
  while (nrv > 1 && (nrv + 2 > vec.regs || nrv * L > tile_cols)) nrv--;
  int64_t nr = (int64_t)nrv * L, M = p.m, Mpg = p.m_per_group, K = v.K, nnz = 0;
  int64_t *ptr = malloc(sizeof(int64_t) * (size_t)(M + 1));
  int64_t *off = malloc(sizeof(int64_t) * (size_t)(M * K + 1));
  float *val = malloc(sizeof(float) * (size_t)(M * K + 1));
  int8_t *val8 = malloc((size_t)(M * K + 1));
  if (!ptr || !off || !val || !val8) abort();
  for (int64_t r = 0; r < M; r++) {
    ptr[r] = nnz;
    for (int64_t k = 0; k < K; k++) {
      float x = ir_sparse_at(&v, r, k);
      if (x != 0.0f) off[nnz] = ir_conv_wide_tap(&p, &w, k), val8[nnz] = (int8_t)x, val[nnz++] = x;
    }
  }
  ptr[M] = nnz;
  LLVMValueRef gptr = index_array(c, ptr, M + 1, 4, "csrptr");
  LLVMValueRef goff = index_array(c, off, nnz, 4, "csrtap");
  LLVMValueRef gval = q ? const_array(c, val8, (size_t)nnz, "csrval")
                        : const_array(c, val, sizeof(float) * (size_t)nnz, "csrval");
  free(ptr), free(off), free(val), free(val8);
  /* int8: [mult | shift | bias] per channel; the image holds x - x_zp (padding 0), so x_zp is
   * not folded into the bias */
  IrQHead h = {0};
  LLVMValueRef tab = NULL;
  bool ge33 = true; /* every shift >= 33: cg_qrequant's 32-bit form */
  if (q) {
    ir_qhead(n, &h);
    tab = cg_quant_head_tables(c, n, v.i8, K, false);
    for (int64_t r = 0; r < M; r++) ge33 = ge33 && ir_qhead_requant(&h, r).shift >= 33;
  }
  /* vector targets: int8 sums in f32 where exact (every channel's sum of |w| * max |x - x_zp|
   * below 2^24) */
  ConvAcc how = q ? ACC_I32 : ACC_F32;
  if (q && L > 1) {
    int64_t xmax = 127 - h.x_zp > h.x_zp + 128 ? 127 - h.x_zp : h.x_zp + 128, worst = 0;
    for (int64_t r = 0; r < M; r++) {
      int64_t s = 0;
      for (int64_t k = 0; k < K; k++) s += llabs((long long)ir_sparse_at(&v, r, k));
      worst = s > worst ? s : worst;
    }
    if (worst * xmax < (1 << 24)) how = ACC_I8_F32;
  }
  LLVMTypeRef et = how == ACC_I32 ? c->t_i32 : c->t_f32;
  LLVMTypeRef vty = L > 1 ? LLVMVectorType(et, (unsigned)L) : et;
  LLVMValueRef image = c->scratch;
  LLVMValueRef wide = cg_gep(c, et, c->scratch, cg_idx(c, w.image_floats));
  LLVMValueRef bias = !q && p.has_bias ? in[2] : NULL;
  int64_t P = p.oh * p.ow, full = w.wide_cols / nr, tail = w.wide_cols % nr;
  CgLoop ln, lg, lm, ls;
  LLVMValueRef ni = cg_for(c, &ln, p.n);
  LLVMValueRef gi = cg_for(c, &lg, p.group);
  LLVMValueRef xoff =
      cg_mulc(c, cg_add(c, cg_mulc(c, ni, p.c), cg_mulc(c, gi, p.c_per_group)), p.h * p.w);
  LLVMValueRef obase = cg_mulc(c, cg_add(c, cg_mulc(c, ni, p.m), cg_mulc(c, gi, Mpg)), P);
  if (q)
    cg_conv_phase_images_i8(c, &p, &w, cg_gep(c, c->t_i8, in[0], xoff), h.x_zp, how == ACC_I8_F32,
                            image);
  else
    cg_conv_phase_images(c, &p, &w, cg_gep(c, c->t_f32, in[0], xoff), image);
  LLVMValueRef m = cg_for(c, &lm, Mpg);
  lm.keep = true;
  LLVMValueRef r = cg_add(c, cg_mulc(c, gi, Mpg), m);
  LLVMValueRef wrow = cg_gep(c, et, wide, cg_mulc(c, m, w.wide_cols));
  LLVMValueRef init = how == ACC_I32 ? eload(c, c->t_i32, tab, cg_addc(c, r, 2 * M))
                      : bias         ? cg_load(c, bias, r)
                                     : cg_f32c(c, 0.0);
  if (full > 0) {
    LLVMValueRef s = cg_for(c, &ls, full);
    ls.keep = true;
    conv_rows_strip(c, vec, vty, how, gptr, goff, gval, r, init, image, wrow, cg_mulc(c, s, nr),
                    nr);
    cg_loop_end(c, &ls, NULL, NULL);
  }
  if (tail > 0)
    conv_rows_strip(c, vec, vty, how, gptr, goff, gval, r, init, image, wrow, cg_idx(c, full * nr),
                    tail);
  cg_loop_end(c, &lm, NULL, NULL);
  if (q)
    conv_wide_store_i8(c, &p, &w, tab, gi, h.y_zp, ge33, how == ACC_I8_F32, wide, obase, out[0]);
  else
    cg_conv_wide_store(c, n, &p, &w, in, wide, obase, out[0]);
  cg_loop_end(c, &lg, NULL, NULL);
  cg_loop_end(c, &ln, NULL, NULL);
  return true;
}

bool cg_sparse_lower(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  if (n->op == IR_OP_CONV || n->op == IR_OP_QLINEAR_CONV) return conv_csr(c, n, in, out);
  SparseGemm g;
  gemm_setup(c, n, in, out, &g);
  CgVecInfo vec = cg_vec_info(c);
  switch (n->kernel) {
  case IR_KERNEL_SPARSE_BLOCK:
    if (vec.lanes > 1) {
      gemm_block(c, &g, vec);
      break;
    }
    gemm_csr(c, &g, vec.fma); /* 1-lane blocks are CSR */
    break;
  case IR_KERNEL_SPARSE_UNROLLED:
    if (vec.lanes > 1)
      gemm_unrolled_vec(c, &g, vec);
    else
      gemm_unrolled(c, &g, vec.fma);
    break;
  default: gemm_csr(c, &g, vec.fma); break;
  }
  return true;
}
