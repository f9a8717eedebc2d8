/* Lowerings of the matrix and windowed ops: Gemm, MatMul, Conv, ConvTranspose, MaxPool,
 * AveragePool, GlobalAveragePool. Shapes are static, so every bound is a constant or a cheap
 * select computed outside the innermost loop; innermost loops run over contiguous output rows
 * (unit stride where the op's stride is 1) and carry no padding branches, so LLVM vectorizes
 * them. Geometry comes from ir_conv_params, shared with shape inference and the interpreter. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"
#include "cg_quant.h"
#include "cg_window3d.h"
#include "conv_params.h"
#include "ir_util.h"
#include "kernels/cg_kernels.h"
#include "kernels/cg_sparse.h"
#include "sparsity.h"

/* ---- matrix kernel ------------------------------------------------------------------------ */

/* orow[n] = fmuladd(av[u], brow[u][n*sbn], ...) for u < count, over n in [0, N): one pass over
 * the output row per `count` steps of k, the k order preserved inside the chain. */
static void row_update(Cg *c, int64_t N, LLVMValueRef orow, const LLVMValueRef *av,
                       const LLVMValueRef *brow, int count, int64_t sbn, bool first) {
  CgLoop ln;
  LLVMValueRef n = cg_for(c, &ln, N);
  LLVMValueRef bi = cg_mulc(c, n, sbn);
  LLVMValueRef acc = first ? NULL : cg_load(c, orow, n);
  for (int u = 0; u < count; u++) {
    LLVMValueRef prod = cg_load(c, brow[u], bi);
    acc = acc ? cg_fmuladd(c, av[u], prod, acc) : LLVMBuildFMul(c->b, av[u], prod, "");
  }
  cg_store(c, acc, orow, n);
  cg_loop_end(c, &ln, NULL, NULL);
}

void cg_emit_matmul_kernel(Cg *c, int64_t M, int64_t N, int64_t K, LLVMValueRef a, int64_t sam,
                           int64_t sak, LLVMValueRef b, int64_t sbk, int64_t sbn, LLVMValueRef out,
                           int64_t ldo, CgRowEpilogue epi, void *epi_ctx) {
  CgLoop lm;
  LLVMValueRef m = cg_for(c, &lm, M);
  LLVMValueRef orow = cg_gep(c, c->t_f32, out, cg_mulc(c, m, ldo));
  LLVMValueRef arow = cg_gep(c, c->t_f32, a, cg_mulc(c, m, sam));
  if (sbk == 1 && (sbn != 1 || N == 1) && sak == 1) {
    /* Both operands contiguous along k (e.g. B transposed at run time, or a matrix-vector
     * product): dot products, reassociable so the k loop vectorizes. */
    CgLoop ln, lk;
    LLVMValueRef n = cg_for(c, &ln, N);
    LLVMValueRef bcol = cg_gep(c, c->t_f32, b, cg_mulc(c, n, sbn));
    LLVMValueRef k = cg_for(c, &lk, K);
    LLVMValueRef acc = cg_loop_acc(c, &lk, cg_f32c(c, 0.0));
    LLVMValueRef next = cg_reassoc(cg_fmuladd(c, cg_load(c, arow, k), cg_load(c, bcol, k), acc)),
                 sum;
    cg_loop_end(c, &lk, &next, &sum);
    cg_store(c, sum, orow, n);
    cg_loop_end(c, &ln, NULL, NULL);
  } else {
    /* out row += a[m][k] * B row k, innermost over n (contiguous when sbn == 1). Four steps of
     * k per pass over the row cut the row's loads and stores by four. */
    enum { U = 4 };
    int64_t blocks = K / U;
    LLVMValueRef av[U], brow[U];
    if (blocks > 0) {
      /* the first block writes the row, so it needs no zeroing */
      for (int u = 0; u < U; u++) {
        av[u] = cg_load(c, arow, cg_idx(c, u * sak));
        brow[u] = cg_gep(c, c->t_f32, b, cg_idx(c, u * sbk));
      }
      row_update(c, N, orow, av, brow, U, sbn, true);
      CgLoop lk;
      LLVMValueRef kb = cg_loop_begin(c, &lk, cg_idx(c, 1), cg_idx(c, blocks));
      LLVMValueRef k0 = cg_mulc(c, kb, U);
      for (int u = 0; u < U; u++) {
        LLVMValueRef k = cg_addc(c, k0, u);
        av[u] = cg_load(c, arow, cg_mulc(c, k, sak));
        brow[u] = cg_gep(c, c->t_f32, b, cg_mulc(c, k, sbk));
      }
      row_update(c, N, orow, av, brow, U, sbn, false);
      cg_loop_end(c, &lk, NULL, NULL);
    }
    for (int64_t k = blocks * U; k < K; k++) {
      av[0] = cg_load(c, arow, cg_idx(c, k * sak));
      brow[0] = cg_gep(c, c->t_f32, b, cg_idx(c, k * sbk));
      row_update(c, N, orow, av, brow, 1, sbn, k == 0);
    }
  }
  if (epi) epi(c, epi_ctx, m, orow);
  cg_loop_end(c, &lm, NULL, NULL);
}

/* ---- Gemm --------------------------------------------------------------------------------- */

/* Y = alpha * AB + beta * C and the fused epilogue, on each finished row while it is in cache. */
static void gemm_row_epilogue(Cg *c, void *ctx, LLVMValueRef m, LLVMValueRef orow) {
  cg_gemm_epilogue(c, ctx, m, cg_idx(c, 0), ((CgGemmEpi *)ctx)->N, orow);
}

bool cg_lower_gemm(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  assert(cg_all_f32(n)); /* shape inference */
  if (n->kernel == IR_KERNEL_GEMM) return cg_tiled_gemm(c, n, in, out);
  if (ir_kernel_is_sparse(n->kernel)) return cg_sparse_lower(c, n, in, out);
  const IrValue *A = n->inputs[0], *B = n->inputs[1];
  const IrValue *C = n->n_inputs > 2 ? n->inputs[2] : NULL;
  assert(A->rank == 2 && B->rank == 2); /* shape inference */
  bool ta = ir_attr_i(n, "transA") != 0, tb = ir_attr_i(n, "transB") != 0;
  int64_t M = A->dims[ta ? 1 : 0], K = A->dims[ta ? 0 : 1], N = B->dims[tb ? 0 : 1];
  assert(B->dims[tb ? 1 : 0] == K);
  LLVMValueRef bptr = in[1];
  int64_t sbk = tb ? 1 : N, sbn = tb ? K : 1;
  if (tb && B->kind == IR_VALUE_CONST && N > 1) {
    /* PyTorch Linear: transpose the constant weight once, at compile time, so the inner loop
     * streams contiguous rows of it. */
    const float *w = B->data;
    float *t = malloc(sizeof(float) * (size_t)(K * N));
    if (!t) abort();
    for (int64_t i = 0; i < N; i++)
      for (int64_t k = 0; k < K; k++) t[k * N + i] = w[i * K + k];
    char name[300];
    snprintf(name, sizeof name, "%s.wt.%d", c->prefix, c->n_derived++);
    bptr = cg_const_bytes(c, t, sizeof(float) * (size_t)(K * N), name);
    free(t);
    sbk = N;
    sbn = 1;
  }
  CgGemmEpi e = {.n = n,
                 .in = in,
                 .N = N,
                 .alpha = (float)ir_attr_f(n, "alpha"),
                 .beta = (float)ir_attr_f(n, "beta")};
  if (C && e.beta != 0.0f) {
    int64_t od[2] = {M, N}, cs[2];
    assert(C->rank <= 2);
    ir_broadcast_strides(C->rank, C->dims, 2, od, cs);
    e.cptr = in[2];
    e.csm = cs[0];
    e.csn = cs[1];
  }
  bool epi = e.alpha != 1.0f || e.cptr || n->n_epilogue;
  cg_emit_matmul_kernel(c, M, N, K, in[0], ta ? 1 : K, ta ? M : 1, bptr, sbk, sbn, out[0], N,
                        epi ? gemm_row_epilogue : NULL, &e);
  return true;
}

/* ---- MatMul (NumPy semantics: 1-D operands, broadcast batch dimensions) -------------------- */

typedef struct {
  const IrNode *n;
  LLVMValueRef *in, base; /* base: output element of this matrix's [0][0] */
  int64_t N;
} MatMulEpi;

static void matmul_epilogue(Cg *c, void *ctx, LLVMValueRef m, LLVMValueRef orow) {
  MatMulEpi *e = ctx;
  cg_epilogue_row(c, e->n, e->in, orow, cg_add(c, e->base, cg_mulc(c, m, e->N)), e->N);
}

/* The batch nest of a MatMul (NumPy semantics): the broadcast batch dimensions of the output
 * in dims, and per batch index the element strides of the output (strides[0], M*N per
 * matrix) and of A and B (strides[1], strides[2]; 0 along broadcast axes); returns their count. */
int cg_matmul_batches(const IrNode *n, int64_t M, int64_t N, int64_t K, int64_t *dims,
                      int64_t (*strides)[IR_MAX_RANK]) {
  const IrValue *A = n->inputs[0], *B = n->inputs[1], *O = n->outputs[0];
  bool a1 = A->rank == 1, b1 = B->rank == 1;
  int rank = O->rank - (a1 ? 0 : 1) - (b1 ? 0 : 1);
  assert(rank >= 0);
  int64_t s = M * N;
  for (int d = rank - 1; d >= 0; d--) {
    dims[d] = O->dims[d];
    strides[0][d] = s;
    s *= O->dims[d];
  }
  ir_broadcast_strides(a1 ? 0 : A->rank - 2, A->dims, rank, O->dims, strides[1]);
  ir_broadcast_strides(b1 ? 0 : B->rank - 2, B->dims, rank, O->dims, strides[2]);
  for (int d = 0; d < rank; d++) {
    strides[1][d] *= M * K;
    strides[2][d] *= K * N;
  }
  return rank;
}

bool cg_lower_matmul(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  assert(cg_all_f32(n)); /* shape inference */
  if (n->kernel == IR_KERNEL_GEMM) return cg_tiled_matmul(c, n, in, out);
  if (ir_kernel_is_sparse(n->kernel)) return cg_sparse_lower(c, n, in, out);
  const IrValue *A = n->inputs[0], *B = n->inputs[1];
  assert(A->rank >= 1 && B->rank >= 1); /* shape inference */
  bool a1 = A->rank == 1, b1 = B->rank == 1;
  int64_t M = a1 ? 1 : A->dims[A->rank - 2], K = A->dims[A->rank - 1];
  int64_t N = b1 ? 1 : B->dims[B->rank - 1];
  assert((b1 ? B->dims[0] : B->dims[B->rank - 2]) == K);
  int64_t dims[IR_MAX_RANK], strides[3][IR_MAX_RANK];
  int rank = cg_matmul_batches(n, M, N, K, dims, strides);
  cg_nest_simplify(&rank, dims, 3, strides);
  CgNest nest;
  cg_nest_begin(c, &nest, rank, dims, 3, (const int64_t(*)[IR_MAX_RANK])strides);
  MatMulEpi e = {n, in, nest.off[0], N};
  cg_emit_matmul_kernel(c, M, N, K, cg_gep(c, c->t_f32, in[0], nest.off[1]), K, 1,
                        cg_gep(c, c->t_f32, in[1], nest.off[2]), N, 1,
                        cg_gep(c, c->t_f32, out[0], nest.off[0]), N,
                        n->n_epilogue ? matmul_epilogue : NULL, &e);
  cg_nest_end(c, &nest);
  return true;
}

/* ---- Conv ----------------------------------------------------------------------------------- */

void cg_fill_row(Cg *c, LLVMValueRef row, int64_t len, LLVMValueRef v) {
  CgLoop l;
  LLVMValueRef i = cg_for(c, &l, len);
  cg_store(c, v, row, i);
  cg_loop_end(c, &l, NULL, NULL);
}

/* The j in [0, count) with 0 <= base + j*step < limit, at compile time (empty: lo == hi). */
static void static_range(int64_t base, int64_t step, int64_t limit, int64_t count, int64_t *lo,
                         int64_t *hi) {
  *lo = base >= 0 ? 0 : (-base + step - 1) / step;
  *hi = limit - 1 - base >= 0 ? (limit - 1 - base) / step + 1 : 0;
  if (*hi > count) *hi = count;
  if (*hi < *lo) *hi = *lo;
}

/* One output row of a convolution and the operands of one input channel. */
typedef struct {
  const IrConvParams *p;
  int64_t H, W, OW;
  LLVMValueRef orow, hbase; /* output row; first input row of the window (oh*sh - pt) */
  LLVMValueRef xplane, wk;  /* input plane and [kH][kW] weights of the channel */
} ConvRow;

/* Taps kh in [kh_lo, kh_hi) x every kw, one pass over the output row each, over the ow of
 * [clip_lo, clip_hi) whose input column is inside the image: no padding test per element. */
static void conv_taps(Cg *c, const ConvRow *r, LLVMValueRef kh_lo, LLVMValueRef kh_hi,
                      int64_t clip_lo, int64_t clip_hi) {
  const IrConvParams *p = r->p;
  CgLoop lkh, lkw, low;
  LLVMValueRef kh = cg_loop_begin(c, &lkh, kh_lo, kh_hi);
  LLVMValueRef ih = cg_add(c, r->hbase, cg_mulc(c, kh, p->dil_h));
  LLVMValueRef xrow = cg_gep(c, c->t_f32, r->xplane, cg_mulc(c, ih, r->W));
  LLVMValueRef wrow = cg_gep(c, c->t_f32, r->wk, cg_mulc(c, kh, p->kw));
  LLVMValueRef kw = cg_for(c, &lkw, p->kw);
  LLVMValueRef wv = cg_load(c, wrow, kw);
  LLVMValueRef wbase = cg_addc(c, cg_mulc(c, kw, p->dil_w), -p->pad_l), ow_lo, ow_hi;
  cg_valid_range(c, wbase, p->stride_w, r->W, r->OW, &ow_lo, &ow_hi);
  if (clip_lo > 0) ow_lo = cg_smax(c, ow_lo, cg_idx(c, clip_lo));
  if (clip_hi < r->OW) ow_hi = cg_smin(c, ow_hi, cg_idx(c, clip_hi));
  LLVMValueRef ow = cg_loop_begin(c, &low, ow_lo, ow_hi);
  LLVMValueRef xv = cg_load(c, xrow, cg_add(c, cg_mulc(c, ow, p->stride_w), wbase));
  cg_store(c, cg_fmuladd(c, wv, xv, cg_load(c, r->orow, ow)), r->orow, ow);
  cg_loop_end(c, &low, NULL, NULL);
  cg_loop_end(c, &lkw, NULL, NULL);
  cg_loop_end(c, &lkh, NULL, NULL);
}

/* Every tap of a row whose window rows all lie inside the image, over the interior columns
 * [in_lo, in_hi) where every tap's column does too: the taps accumulate in a register, so the
 * output row is loaded and stored once per input channel instead of once per tap. */
static void conv_fused(Cg *c, const ConvRow *r, int64_t in_lo, int64_t in_hi) {
  const IrConvParams *p = r->p;
  int64_t KH = p->kh, KW = p->kw;
  LLVMValueRef xrow[64], wv[64];
  for (int64_t kh = 0; kh < KH; kh++) {
    LLVMValueRef ih = cg_addc(c, r->hbase, kh * p->dil_h);
    xrow[kh] = cg_gep(c, c->t_f32, r->xplane, cg_mulc(c, ih, r->W));
    for (int64_t kw = 0; kw < KW; kw++)
      wv[kh * KW + kw] = cg_load(c, r->wk, cg_idx(c, kh * KW + kw));
  }
  CgLoop low;
  LLVMValueRef ow = cg_loop_begin(c, &low, cg_idx(c, in_lo), cg_idx(c, in_hi));
  LLVMValueRef base = cg_mulc(c, ow, p->stride_w);
  LLVMValueRef acc = cg_load(c, r->orow, ow);
  for (int64_t kh = 0; kh < KH; kh++)
    for (int64_t kw = 0; kw < KW; kw++)
      acc = cg_fmuladd(c, wv[kh * KW + kw],
                       cg_load(c, xrow[kh], cg_addc(c, base, kw * p->dil_w - p->pad_l)), acc);
  cg_store(c, acc, r->orow, ow);
  cg_loop_end(c, &low, NULL, NULL);
}

/* Direct convolution. For each output row (n, m, oh): start from the bias, then add each input
 * channel's taps. Rows whose window is inside the image vertically take the fused path for the
 * interior columns and per-tap passes for the few border columns; the other rows (top and
 * bottom padding) use per-tap passes with kh restricted to the rows inside the image. Innermost
 * loops run over contiguous output columns (unit stride input where the stride is 1). */
bool cg_lower_conv(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  if (n->inputs[0]->rank == 5) return cg_lower_conv3d(c, n, in, out);
  assert(cg_all_f32(n)); /* shape inference */
  if (n->kernel == IR_KERNEL_CONV_GEMM || n->kernel == IR_KERNEL_CONV_1X1 ||
      n->kernel == IR_KERNEL_CONV_WIDE || n->kernel == IR_KERNEL_CONV_WINOGRAD)
    return cg_tiled_conv(c, n, in, out);
  if (n->kernel == IR_KERNEL_CONV_NCHWC) return cg_nchwc_conv(c, n, in, out);
  if (ir_kernel_is_sparse(n->kernel)) return cg_sparse_lower(c, n, in, out);
  IrConvParams p;
  bool ok = ir_conv_params(n, &p, NULL);
  assert(ok); /* shape inference resolved the same geometry */
  (void)ok;
  int64_t H = p.h, W = p.w, OH = p.oh, OW = p.ow;
  if (p.kh == 1 && p.kw == 1 && p.stride_h == 1 && p.stride_w == 1 &&
      !(p.pad_t | p.pad_l | p.pad_b | p.pad_r)) {
    /* pointwise: a whole plane is one long row */
    W *= H;
    OW *= OH;
    H = OH = 1;
  }
  int64_t C = p.c, M = p.m, Cpg = p.c_per_group, Mpg = p.m_per_group, KH = p.kh, KW = p.kw;
  /* interior columns: where every kw reads inside the image (compile time) */
  int64_t in_lo = 0, in_hi = OW;
  for (int64_t kw = 0; kw < KW; kw++) {
    int64_t lo, hi;
    static_range(kw * p.dil_w - p.pad_l, p.stride_w, W, OW, &lo, &hi);
    if (lo > in_lo) in_lo = lo;
    if (hi < in_hi) in_hi = hi;
  }
  bool fuse = KH * KW > 1 && KH <= 64 && KH * KW <= 64 && in_lo < in_hi;

  CgLoop ln, lg, lmg, loh, lic;
  LLVMValueRef ni = cg_for(c, &ln, p.n);
  LLVMValueRef gi = cg_for(c, &lg, p.group);
  LLVMValueRef mgi = cg_for(c, &lmg, Mpg);
  LLVMValueRef m = cg_add(c, cg_mulc(c, gi, Mpg), mgi);
  LLVMValueRef bias = p.has_bias ? cg_load(c, in[2], m) : cg_f32c(c, 0.0);
  LLVMValueRef wm = cg_gep(c, c->t_f32, in[1], cg_mulc(c, m, Cpg * KH * KW));
  LLVMValueRef xg = cg_gep(c, c->t_f32, in[0],
                           cg_mulc(c, cg_add(c, cg_mulc(c, ni, C), cg_mulc(c, gi, Cpg)), H * W));
  LLVMValueRef oplane =
      cg_gep(c, c->t_f32, out[0], cg_mulc(c, cg_add(c, cg_mulc(c, ni, M), m), OH * OW));

  ConvRow r = {.p = &p, .H = H, .W = W, .OW = OW};
  LLVMValueRef oh = cg_for(c, &loh, OH);
  r.orow = cg_gep(c, c->t_f32, oplane, cg_mulc(c, oh, OW));
  cg_fill_row(c, r.orow, OW, bias);
  r.hbase = cg_addc(c, cg_mulc(c, oh, p.stride_h), -p.pad_t);
  LLVMValueRef kh_lo, kh_hi;
  cg_valid_range(c, r.hbase, p.dil_h, H, KH, &kh_lo, &kh_hi);
  CgIf full;
  if (fuse) {
    LLVMValueRef all = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntEQ, kh_lo, cg_idx(c, 0), ""),
                                    LLVMBuildICmp(c->b, LLVMIntEQ, kh_hi, cg_idx(c, KH), ""), "");
    cg_if_begin(c, &full, all);
    LLVMValueRef ic = cg_for(c, &lic, Cpg);
    r.xplane = cg_gep(c, c->t_f32, xg, cg_mulc(c, ic, H * W));
    r.wk = cg_gep(c, c->t_f32, wm, cg_mulc(c, ic, KH * KW));
    conv_fused(c, &r, in_lo, in_hi);
    if (in_lo > 0) conv_taps(c, &r, cg_idx(c, 0), cg_idx(c, KH), 0, in_lo);
    if (in_hi < OW) conv_taps(c, &r, cg_idx(c, 0), cg_idx(c, KH), in_hi, OW);
    cg_loop_end(c, &lic, NULL, NULL);
    cg_if_else(c, &full);
  }
  LLVMValueRef ic = cg_for(c, &lic, Cpg);
  r.xplane = cg_gep(c, c->t_f32, xg, cg_mulc(c, ic, H * W));
  r.wk = cg_gep(c, c->t_f32, wm, cg_mulc(c, ic, KH * KW));
  conv_taps(c, &r, kh_lo, kh_hi, 0, OW);
  cg_loop_end(c, &lic, NULL, NULL);
  if (fuse) cg_if_end(c, &full);
  cg_loop_end(c, &loh, NULL, NULL);
  /* fused epilogue: over the finished output plane (n, m) while it is in cache, inside the same
   * nest (an element is final only after the reduction over input channels) */
  cg_epilogue_row(c, n, in, oplane, cg_mulc(c, cg_add(c, cg_mulc(c, ni, M), m), OH * OW), OH * OW);
  cg_loop_end(c, &lmg, NULL, NULL);
  cg_loop_end(c, &lg, NULL, NULL);
  cg_loop_end(c, &ln, NULL, NULL);
  return true;
}

/* ---- ConvTranspose -------------------------------------------------------------------------- */

/* Scatter form: the output plane (n, m) starts as the bias; every input row ih adds, for each
 * tap (kh, kw), w * x[ih][iw] to output row ih*sh - pt + kh*dh at columns iw*sw - pl + kw*dw,
 * over the iw whose column lands inside the output (output_padding cells keep the bias). */
bool cg_lower_conv_transpose(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  if (n->inputs[0]->rank == 5) return cg_lower_conv_transpose3d(c, n, in, out);
  assert(cg_all_f32(n)); /* shape inference */
  if (n->kernel == IR_KERNEL_CONVT_GEMM) return cg_tiled_conv_transpose(c, n, in, out);
  if (n->kernel == IR_KERNEL_CONVT_SUBPIXEL) return cg_subpixel_conv_transpose(c, n, in, out);
  IrConvParams p;
  bool ok = ir_conv_params(n, &p, NULL);
  assert(ok); /* shape inference resolved the same geometry */
  (void)ok;
  int64_t H = p.h, W = p.w, OH = p.oh, OW = p.ow;
  int64_t C = p.c, M = p.m, Cpg = p.c_per_group, Mpg = p.m_per_group, KH = p.kh, KW = p.kw;
  CgLoop ln, lg, lmg, lic, lih, lkh, lkw, liw;
  LLVMValueRef ni = cg_for(c, &ln, p.n);
  LLVMValueRef gi = cg_for(c, &lg, p.group);
  LLVMValueRef mgi = cg_for(c, &lmg, Mpg);
  LLVMValueRef m = cg_add(c, cg_mulc(c, gi, Mpg), mgi);
  LLVMValueRef oplane =
      cg_gep(c, c->t_f32, out[0], cg_mulc(c, cg_add(c, cg_mulc(c, ni, M), m), OH * OW));
  cg_fill_row(c, oplane, OH * OW, p.has_bias ? cg_load(c, in[2], m) : cg_f32c(c, 0.0));

  LLVMValueRef ic = cg_for(c, &lic, Cpg);
  LLVMValueRef ch = cg_add(c, cg_mulc(c, gi, Cpg), ic);
  LLVMValueRef xplane =
      cg_gep(c, c->t_f32, in[0], cg_mulc(c, cg_add(c, cg_mulc(c, ni, C), ch), H * W));
  /* weight [C, M/group, kH, kW] */
  LLVMValueRef wk =
      cg_gep(c, c->t_f32, in[1], cg_mulc(c, cg_add(c, cg_mulc(c, ch, Mpg), mgi), KH * KW));
  LLVMValueRef ih = cg_for(c, &lih, H);
  LLVMValueRef xrow = cg_gep(c, c->t_f32, xplane, cg_mulc(c, ih, W));
  LLVMValueRef hbase = cg_addc(c, cg_mulc(c, ih, p.stride_h), -p.pad_t), kh_lo, kh_hi;
  cg_valid_range(c, hbase, p.dil_h, OH, KH, &kh_lo, &kh_hi);
  LLVMValueRef kh = cg_loop_begin(c, &lkh, kh_lo, kh_hi);
  LLVMValueRef oh = cg_add(c, hbase, cg_mulc(c, kh, p.dil_h));
  LLVMValueRef orow = cg_gep(c, c->t_f32, oplane, cg_mulc(c, oh, OW));
  LLVMValueRef wrow = cg_gep(c, c->t_f32, wk, cg_mulc(c, kh, KW));
  LLVMValueRef kw = cg_for(c, &lkw, KW);
  LLVMValueRef wv = cg_load(c, wrow, kw);
  LLVMValueRef wbase = cg_addc(c, cg_mulc(c, kw, p.dil_w), -p.pad_l), iw_lo, iw_hi;
  cg_valid_range(c, wbase, p.stride_w, OW, W, &iw_lo, &iw_hi);
  LLVMValueRef iw = cg_loop_begin(c, &liw, iw_lo, iw_hi);
  LLVMValueRef at = cg_add(c, cg_mulc(c, iw, p.stride_w), wbase);
  cg_store(c, cg_fmuladd(c, wv, cg_load(c, xrow, iw), cg_load(c, orow, at)), orow, at);
  cg_loop_end(c, &liw, NULL, NULL);
  cg_loop_end(c, &lkw, NULL, NULL);
  cg_loop_end(c, &lkh, NULL, NULL);
  cg_loop_end(c, &lih, NULL, NULL);
  cg_loop_end(c, &lic, NULL, NULL);
  /* fused epilogue: over the finished output plane, inside the same nest */
  cg_epilogue_row(c, n, in, oplane, cg_mulc(c, cg_add(c, cg_mulc(c, ni, M), m), OH * OW), OH * OW);
  cg_loop_end(c, &lmg, NULL, NULL);
  cg_loop_end(c, &lg, NULL, NULL);
  cg_loop_end(c, &ln, NULL, NULL);
  return true;
}

/* ---- pools ---------------------------------------------------------------------------------- */

/* Window count along one axis for the AveragePool divisor: taps start + k*dil (k < taps),
 * start = o*s - pad_begin. With count_include_pad those inside the padded extent
 * [-pad_begin, in + pad_end) (a ceil_mode overhang past the end pad is not counted, as PyTorch
 * and onnxruntime); without it, those inside the input [0, in). */
LLVMValueRef cg_pool_window_count(Cg *c, LLVMValueRef start, int64_t taps, int64_t dil, int64_t in,
                                  int64_t pad_begin, int64_t pad_end, bool include_pad) {
  LLVMValueRef lo, hi;
  if (include_pad)
    cg_valid_range(c, cg_addc(c, start, pad_begin), dil, pad_begin + in + pad_end, taps, &lo, &hi);
  else
    cg_valid_range(c, start, dil, in, taps, &lo, &hi);
  return cg_smax(c, cg_sub(c, hi, lo), cg_idx(c, 0));
}

static bool lower_pool(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out, bool avg) {
  assert(cg_all_f32(n)); /* shape inference */
  if (n->inputs[0]->rank == 5) return cg_lower_pool3d(c, n, in, out);
  IrConvParams p;
  bool ok = ir_conv_params(n, &p, NULL);
  assert(ok); /* shape inference resolved the same geometry */
  (void)ok;
  int64_t H = p.h, W = p.w, OH = p.oh, OW = p.ow, KH = p.kh, KW = p.kw;
  CgLoop lnc, loh, lkh, lkw, low, ld;
  LLVMValueRef nc = cg_for(c, &lnc, p.n * p.c);
  LLVMValueRef xplane = cg_gep(c, c->t_f32, in[0], cg_mulc(c, nc, H * W));
  LLVMValueRef oh = cg_for(c, &loh, OH);
  LLVMValueRef orow =
      cg_gep(c, c->t_f32, out[0], cg_add(c, cg_mulc(c, nc, OH * OW), cg_mulc(c, oh, OW)));
  LLVMValueRef hbase = cg_addc(c, cg_mulc(c, oh, p.stride_h), -p.pad_t), kh_lo, kh_hi;
  cg_valid_range(c, hbase, p.dil_h, H, KH, &kh_lo, &kh_hi);
  /* 2-wide stride-2 windows: deinterleaved rows */
  if (cg_pool_pairs(c, &p, xplane, orow, hbase, kh_lo, kh_hi, avg)) goto divide;
  cg_fill_row(c, orow, OW, cg_f32c(c, avg ? 0.0 : -INFINITY));
  LLVMValueRef kh = cg_loop_begin(c, &lkh, kh_lo, kh_hi);
  LLVMValueRef xrow =
      cg_gep(c, c->t_f32, xplane, cg_mulc(c, cg_add(c, hbase, cg_mulc(c, kh, p.dil_h)), W));
  LLVMValueRef kw = cg_for(c, &lkw, KW);
  LLVMValueRef wbase = cg_addc(c, cg_mulc(c, kw, p.dil_w), -p.pad_l), ow_lo, ow_hi;
  cg_valid_range(c, wbase, p.stride_w, W, OW, &ow_lo, &ow_hi);
  LLVMValueRef ow = cg_loop_begin(c, &low, ow_lo, ow_hi);
  LLVMValueRef xv = cg_load(c, xrow, cg_add(c, cg_mulc(c, ow, p.stride_w), wbase));
  LLVMValueRef acc = cg_load(c, orow, ow);
  cg_store(c, avg ? LLVMBuildFAdd(c->b, acc, xv, "") : cg_fmax(c, xv, acc), orow, ow);
  cg_loop_end(c, &low, NULL, NULL);
  cg_loop_end(c, &lkw, NULL, NULL);
  cg_loop_end(c, &lkh, NULL, NULL);
divide:
  if (avg) {
    LLVMValueRef chn =
        cg_pool_window_count(c, hbase, KH, p.dil_h, H, p.pad_t, p.pad_b, p.count_include_pad);
    LLVMValueRef o = cg_for(c, &ld, OW);
    LLVMValueRef ws = cg_addc(c, cg_mulc(c, o, p.stride_w), -p.pad_l);
    LLVMValueRef cnt = cg_mul(
        c, chn, cg_pool_window_count(c, ws, KW, p.dil_w, W, p.pad_l, p.pad_r, p.count_include_pad));
    LLVMValueRef div = LLVMBuildSIToFP(c->b, cnt, c->t_f32, "");
    cg_store(c, LLVMBuildFDiv(c->b, cg_load(c, orow, o), div, ""), orow, o);
    cg_loop_end(c, &ld, NULL, NULL);
  }
  cg_loop_end(c, &loh, NULL, NULL);
  cg_loop_end(c, &lnc, NULL, NULL);
  return true;
}

bool cg_lower_max_pool(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  assert(n->n_outputs == 1); /* shape inference: the Indices output is not supported */
  if (n->inputs[0]->dtype == IR_I8) return cg_lower_max_pool_i8(c, n, in, out);
  if (n->inputs[0]->layout_block) return cg_nchwc_max_pool(c, n, in, out); /* pass_layout.c */
  return lower_pool(c, n, in, out, false);
}

bool cg_lower_average_pool(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  return lower_pool(c, n, in, out, true);
}

/* Mean over the spatial axes of each (n, c): a reassociable sum, so it vectorizes. */
bool cg_lower_global_average_pool(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out) {
  assert(cg_all_f32(n)); /* shape inference */
  const IrValue *x = n->inputs[0];
  assert(x->rank >= 2); /* shape inference */
  int64_t spatial = 1;
  for (int d = 2; d < x->rank; d++) spatial *= x->dims[d];
  CgLoop lnc, ls;
  LLVMValueRef nc = cg_for(c, &lnc, x->dims[0] * x->dims[1]);
  LLVMValueRef plane = cg_gep(c, c->t_f32, in[0], cg_mulc(c, nc, spatial));
  LLVMValueRef s = cg_for(c, &ls, spatial);
  LLVMValueRef acc = cg_loop_acc(c, &ls, cg_f32c(c, 0.0));
  LLVMValueRef next = cg_fadd_reassoc(c, acc, cg_load(c, plane, s)), sum;
  cg_loop_end(c, &ls, &next, &sum);
  cg_store(c, LLVMBuildFDiv(c->b, sum, cg_f32c(c, (double)spatial), ""), out[0], nc);
  cg_loop_end(c, &lnc, NULL, NULL);
  return true;
}
