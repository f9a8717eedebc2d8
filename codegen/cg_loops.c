/* Small helpers for building LLVM IR: index arithmetic, memory access, intrinsics, constant
 * globals, counted loops and strided loop nests (in the spirit of gallivm's lp_bld_flow). */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/DebugInfo.h>

#include "cg_internal.h"

LLVMValueRef cg_idx(Cg *c, int64_t v) { return LLVMConstInt(c->t_idx, (unsigned long long)v, 1); }
LLVMValueRef cg_f32c(Cg *c, double v) { return LLVMConstReal(c->t_f32, v); }
LLVMValueRef cg_i32c(Cg *c, int64_t v) { return LLVMConstInt(c->t_i32, (unsigned long long)v, 1); }

LLVMValueRef cg_add(Cg *c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildNSWAdd(c->b, a, b, "");
}
LLVMValueRef cg_sub(Cg *c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildNSWSub(c->b, a, b, "");
}
LLVMValueRef cg_mul(Cg *c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildNSWMul(c->b, a, b, "");
}
LLVMValueRef cg_addc(Cg *c, LLVMValueRef a, int64_t k) {
  return k == 0 ? a : cg_add(c, a, cg_idx(c, k));
}
LLVMValueRef cg_mulc(Cg *c, LLVMValueRef a, int64_t k) {
  return k == 1 ? a : k == 0 ? cg_idx(c, 0) : cg_mul(c, a, cg_idx(c, k));
}
LLVMValueRef cg_smin(Cg *c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, a, b, ""), a, b, "");
}
LLVMValueRef cg_smax(Cg *c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, a, b, ""), a, b, "");
}

LLVMValueRef cg_gep(Cg *c, LLVMTypeRef elem, LLVMValueRef base, LLVMValueRef index) {
  return LLVMBuildInBoundsGEP2(c->b, elem, base, &index, 1, "");
}

LLVMValueRef cg_load(Cg *c, LLVMValueRef base, LLVMValueRef index) {
  LLVMValueRef v = LLVMBuildLoad2(c->b, c->t_f32, cg_gep(c, c->t_f32, base, index), "");
  LLVMSetAlignment(v, 4);
  return v;
}

void cg_store(Cg *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef index) {
  LLVMValueRef s = LLVMBuildStore(c->b, v, cg_gep(c, c->t_f32, base, index));
  LLVMSetAlignment(s, 4);
}

LLVMTypeRef cg_elem_type(Cg *c, IrDType t) {
  return t == IR_F32 ? c->t_f32 : LLVMIntTypeInContext(c->ctx, 8 * (unsigned)ir_dtype_size(t));
}

LLVMValueRef cg_load_elem(Cg *c, IrDType t, LLVMValueRef base, LLVMValueRef i) {
  LLVMTypeRef ty = cg_elem_type(c, t);
  LLVMValueRef v = LLVMBuildLoad2(c->b, ty, cg_gep(c, ty, base, i), "");
  LLVMSetAlignment(v, (unsigned)ir_dtype_size(t));
  return v;
}

void cg_store_elem(Cg *c, IrDType t, LLVMValueRef v, LLVMValueRef base, LLVMValueRef i) {
  LLVMSetAlignment(LLVMBuildStore(c->b, v, cg_gep(c, cg_elem_type(c, t), base, i)),
                   (unsigned)ir_dtype_size(t));
}

LLVMValueRef cg_const_elem(Cg *c, IrDType t, const void *p) {
  if (t == IR_F32) return cg_f32c(c, *(const float *)p);
  uint64_t bits = 0; /* little-endian host and target: the low bytes */
  memcpy(&bits, p, ir_dtype_size(t));
  return LLVMConstInt(cg_elem_type(c, t), bits, 0);
}

LLVMValueRef cg_byte_ptr(Cg *c, LLVMValueRef base, int64_t offset) {
  return offset ? cg_gep(c, c->t_i8, base, cg_idx(c, offset)) : base;
}

void cg_memcpy(Cg *c, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef nbytes) {
  LLVMBuildMemCpy(c->b, dst, 1, src, 1, nbytes);
}

void cg_memset(Cg *c, LLVMValueRef dst, uint8_t byte, int64_t nbytes) {
  LLVMBuildMemSet(c->b, dst, LLVMConstInt(c->t_i8, byte, 0), cg_idx(c, nbytes), 1);
}

LLVMValueRef cg_intrinsic(Cg *c, const char *name, LLVMTypeRef t, LLVMValueRef *args, int n) {
  CgIntrinsic *in = NULL;
  for (int i = 0; i < c->n_intrinsics; i++)
    if (c->intrinsics[i].type == t && strcmp(c->intrinsics[i].name, name) == 0)
      in = &c->intrinsics[i];
  if (!in) {
    assert(c->n_intrinsics < (int)(sizeof c->intrinsics / sizeof *c->intrinsics));
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    assert(id != 0 && "unknown intrinsic");
    in = &c->intrinsics[c->n_intrinsics++];
    in->name = name;
    in->type = t;
    in->fn = LLVMGetIntrinsicDeclaration(c->mod, id, &t, 1);
    in->fn_type = LLVMIntrinsicGetType(c->ctx, id, &t, 1);
  }
  return LLVMBuildCall2(c->b, in->fn_type, in->fn, args, (unsigned)n, "");
}

LLVMValueRef cg_fmuladd(Cg *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc) {
  LLVMValueRef args[3] = {a, b, acc};
  return cg_intrinsic(c, "llvm.fmuladd", LLVMTypeOf(a), args, 3);
}

/* a if (a > b or a is NaN) else b: a NaN in either operand comes out (as the interpreter's
 * MaxPool and PyTorch); two compares and a select, which vectorize. */
LLVMValueRef cg_fmax(Cg *c, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef take = LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, a, b, ""),
                                  LLVMBuildFCmp(c->b, LLVMRealUNO, a, a, ""), "");
  return LLVMBuildSelect(c->b, take, a, b, "");
}

LLVMValueRef cg_fmin(Cg *c, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef take = LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, LLVMRealOLT, a, b, ""),
                                  LLVMBuildFCmp(c->b, LLVMRealUNO, a, a, ""), "");
  return LLVMBuildSelect(c->b, take, a, b, "");
}

LLVMValueRef cg_reassoc(LLVMValueRef inst) {
  if (LLVMIsAInstruction(inst) && LLVMCanValueUseFastMathFlags(inst))
    LLVMSetFastMathFlags(inst, LLVMGetFastMathFlags(inst) | LLVMFastMathAllowReassoc);
  return inst;
}

LLVMValueRef cg_fadd_reassoc(Cg *c, LLVMValueRef a, LLVMValueRef b) {
  return cg_reassoc(LLVMBuildFAdd(c->b, a, b, ""));
}

LLVMValueRef cg_const_bytes(Cg *c, const void *data, size_t nbytes, const char *name) {
  if (c->o && c->o->weights_path) {
    assert(c->weights_base);
    return cg_byte_ptr(c, c->weights_base, cg_blob_append(c, data, nbytes));
  }
  if (c->stream && nbytes >= CG_STREAM_MIN) return cg_blob_ptr(c, cg_blob_append(c, data, nbytes));
  LLVMValueRef init = LLVMConstStringInContext2(c->ctx, data, nbytes, /*DontNullTerminate=*/1);
  LLVMValueRef gv = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name);
  LLVMSetInitializer(gv, init);
  LLVMSetGlobalConstant(gv, 1);
  LLVMSetLinkage(gv, LLVMPrivateLinkage);
  LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
  LLVMSetAlignment(gv, 64);
  if (c->o && c->o->weights_section) LLVMSetSection(gv, c->o->weights_section);
  return gv;
}

/* ---- loops -------------------------------------------------------------------------------- */

static void loop_hints(Cg *c, LLVMValueRef latch_br, bool vectorize);

LLVMValueRef cg_loop_begin(Cg *c, CgLoop *l, LLVMValueRef start, LLVMValueRef end) {
  memset(l, 0, sizeof *l);
  l->pre = LLVMGetInsertBlock(c->b);
  l->body = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "loop");
  l->exit = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "loop.exit");
  l->start = start;
  l->end = end;
  l->first_inner = ++c->n_loops;
  l->first_kept = c->n_kept;
  /* The guard folds away when both bounds are constants; the loop is then in rotated form with
   * a constant trip count, which is what SCEV and the vectorizer like best. */
  LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, start, end, ""), l->body, l->exit);
  LLVMPositionBuilderAtEnd(c->b, l->body);
  l->iv = LLVMBuildPhi(c->b, c->t_idx, "i");
  LLVMAddIncoming(l->iv, &start, &l->pre, 1);
  return l->iv;
}

LLVMValueRef cg_loop_acc(Cg *c, CgLoop *l, LLVMValueRef init) {
  assert(l->n_acc < CG_LOOP_MAX_ACC);
  assert(LLVMGetInsertBlock(c->b) == l->body && LLVMIsAPHINode(LLVMGetLastInstruction(l->body)));
  LLVMValueRef phi = LLVMBuildPhi(c->b, LLVMTypeOf(init), "acc");
  LLVMAddIncoming(phi, &init, &l->pre, 1);
  l->acc_init[l->n_acc] = init;
  l->acc[l->n_acc++] = phi;
  return phi;
}

void cg_loop_end(Cg *c, CgLoop *l, const LLVMValueRef *acc_next, LLVMValueRef *acc_out) {
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
  LLVMValueRef next = LLVMBuildAdd(c->b, l->iv, LLVMConstInt(c->t_idx, 1, 0), "i.next");
  LLVMSetNUW(next, 1);
  LLVMSetNSW(next, 1);
  LLVMValueRef br =
      LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, next, l->end, ""), l->body, l->exit);
  /* A long reduction (loop-carried accumulators, 16+ iterations or a run-time count) is never
   * unrolled: -O3's full unroller runs before the vectorizer and would turn a 64-long sum
   * (LayerNorm, an RNN's dot products) into one scalar chain that nothing vectorizes; the
   * vectorizer interleaves the vector accumulators instead. Other loops unroll as LLVM likes
   * (element-wise bodies that the SLP vectorizer packs, short constant tap loops). */
  long long trips = LLVMIsAConstantInt(l->start) && LLVMIsAConstantInt(l->end)
                        ? LLVMConstIntGetSExtValue(l->end) - LLVMConstIntGetSExtValue(l->start)
                        : -1;
  /* An outer loop of 8+ iterations (or a run-time count) is never unrolled either: once its
   * inner loops are unrolled, -O3's full unroller would copy the whole nest (a padded-image copy
   * or a conv epilogue: 4x the code, its addresses computed up front and spilled) where -O2
   * keeps the loop; -O3 must not be slower than -O2. Short tap loops (3x3) still unroll. Nor
   * is a loop around one its kernel asked to keep (CgLoop.keep or .no_unroll), however short:
   * -O3 copied a GEMM's two column strips whole (transformer_classifier: 19 KB of code against
   * -O2's 15 KB) and a Winograd transform's four tile rows. */
  bool outer =
      c->n_loops > l->first_inner && (trips < 0 || trips >= 8 || c->n_kept > l->first_kept);
  if (l->keep || l->no_unroll) c->n_kept++;
  if (l->keep)
    cg_loop_keep(c, br);
  else if (l->no_unroll || outer || (l->n_acc > 0 && (trips < 0 || trips >= 16)))
    loop_hints(c, br, true);
  LLVMAddIncoming(l->iv, &next, &latch, 1);
  LLVMMoveBasicBlockAfter(l->exit, latch);
  LLVMPositionBuilderAtEnd(c->b, l->exit);
  for (int k = 0; k < l->n_acc; k++) {
    LLVMValueRef v = acc_next[k];
    LLVMAddIncoming(l->acc[k], &v, &latch, 1);
    LLVMValueRef phi = LLVMBuildPhi(c->b, LLVMTypeOf(v), "acc.out");
    LLVMValueRef vals[2] = {l->acc_init[k], v};
    LLVMBasicBlockRef blocks[2] = {l->pre, latch};
    LLVMAddIncoming(phi, vals, blocks, 2);
    if (acc_out) acc_out[k] = phi;
  }
}

/* !llvm.loop !{self, !{"llvm.loop.unroll.disable"}[, !{"llvm.loop.vectorize.enable", false}]} */
static void loop_hints(Cg *c, LLVMValueRef latch_br, bool vectorize) {
  const char *unroll = "llvm.loop.unroll.disable", *vec = "llvm.loop.vectorize.enable";
  LLVMMetadataRef no_unroll = LLVMMDStringInContext2(c->ctx, unroll, strlen(unroll));
  LLVMMetadataRef vec_key[2] = {LLVMMDStringInContext2(c->ctx, vec, strlen(vec)),
                                LLVMValueAsMetadata(LLVMConstInt(c->t_i1, 0, 0))};
  LLVMMetadataRef props[3] = {NULL, LLVMMDNodeInContext2(c->ctx, &no_unroll, 1),
                              LLVMMDNodeInContext2(c->ctx, vec_key, 2)};
  /* a distinct node whose first operand is itself: build with a placeholder, then replace */
  LLVMMetadataRef tmp = LLVMTemporaryMDNode(c->ctx, NULL, 0);
  props[0] = tmp;
  LLVMMetadataRef loop = LLVMMDNodeInContext2(c->ctx, props, vectorize ? 2 : 3);
  LLVMMetadataReplaceAllUsesWith(tmp, loop);
  unsigned kind = LLVMGetMDKindIDInContext(c->ctx, "llvm.loop", 9);
  LLVMSetMetadata(latch_br, kind, LLVMMetadataAsValue(c->ctx, loop));
}

/* the loop stays as built, so -O3 cannot turn a register tile into a spilling unrolled chain */
void cg_loop_keep(Cg *c, LLVMValueRef latch_br) { loop_hints(c, latch_br, false); }

LLVMValueRef cg_for(Cg *c, CgLoop *l, int64_t n) {
  return cg_loop_begin(c, l, cg_idx(c, 0), cg_idx(c, n));
}

void cg_if_begin(Cg *c, CgIf *f, LLVMValueRef cond) {
  f->then_bb = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "then");
  f->else_bb = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "else");
  f->merge = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "endif");
  LLVMBuildCondBr(c->b, cond, f->then_bb, f->else_bb);
  LLVMPositionBuilderAtEnd(c->b, f->then_bb);
}

void cg_if_else(Cg *c, CgIf *f) {
  LLVMBuildBr(c->b, f->merge);
  LLVMMoveBasicBlockAfter(f->else_bb, LLVMGetInsertBlock(c->b));
  LLVMPositionBuilderAtEnd(c->b, f->else_bb);
}

void cg_if_end(Cg *c, CgIf *f) {
  LLVMBuildBr(c->b, f->merge);
  LLVMMoveBasicBlockAfter(f->merge, LLVMGetInsertBlock(c->b));
  LLVMPositionBuilderAtEnd(c->b, f->merge);
}

void cg_return_if(Cg *c, LLVMValueRef cond, LLVMValueRef code) {
  LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "fail");
  LLVMBasicBlockRef cont = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "ok");
  LLVMBuildCondBr(c->b, cond, fail, cont);
  LLVMPositionBuilderAtEnd(c->b, fail);
  LLVMBuildRet(c->b, code);
  LLVMPositionBuilderAtEnd(c->b, cont);
}

void cg_nest_begin(Cg *c, CgNest *s, int rank, const int64_t *dims, int n_ops,
                   const int64_t (*strides)[IR_MAX_RANK]) {
  assert(n_ops <= CG_NEST_MAX_OPS && rank <= IR_MAX_RANK);
  s->rank = rank;
  s->n_ops = n_ops;
  for (int k = 0; k < n_ops; k++) s->off[k] = cg_idx(c, 0);
  for (int d = 0; d < rank; d++) {
    LLVMValueRef iv = cg_for(c, &s->loops[d], dims[d]);
    for (int k = 0; k < n_ops; k++)
      if (strides[k][d]) s->off[k] = cg_add(c, s->off[k], cg_mulc(c, iv, strides[k][d]));
  }
  /* Two operands broadcast along different axes (an outer product such as [2,1,3,1] * [1,4,1,5]):
   * the outer loops stay loops. Fully unrolled, such a nest is a block of load-multiply-store
   * chains that LLVM 19's SLP vectorizer packs with wrong shuffle masks on AVX-512 (llvm-project
   * #117170, fixed in later releases): tests/ops/mul_both_broadcast_4d computed 2 of 120 wrong
   * at -O2. */
  int broadcast = 0;
  for (int k = 1; k < n_ops; k++) {
    bool zero = false;
    for (int d = 0; d < rank; d++) zero |= strides[k][d] == 0 && dims[d] > 1;
    broadcast += zero;
  }
  if (broadcast >= 2)
    for (int d = 0; d + 1 < rank; d++) s->loops[d].no_unroll = true;
}

void cg_nest_end(Cg *c, CgNest *s) {
  for (int d = s->rank - 1; d >= 0; d--) cg_loop_end(c, &s->loops[d], NULL, NULL);
}

void cg_nest_simplify(int *rank, int64_t *dims, int n_ops, int64_t (*strides)[IR_MAX_RANK]) {
  int r = 0;
  for (int d = 0; d < *rank; d++) {
    if (dims[d] == 1) continue;
    bool merge = r > 0;
    for (int k = 0; merge && k < n_ops; k++) merge = strides[k][r - 1] == strides[k][d] * dims[d];
    if (merge) {
      dims[r - 1] *= dims[d];
      for (int k = 0; k < n_ops; k++) strides[k][r - 1] = strides[k][d];
    } else {
      dims[r] = dims[d];
      for (int k = 0; k < n_ops; k++) strides[k][r] = strides[k][d];
      r++;
    }
  }
  *rank = r;
}

void cg_valid_range(Cg *c, LLVMValueRef base, int64_t step, int64_t limit, int64_t count,
                    LLVMValueRef *lo, LLVMValueRef *hi) {
  assert(step > 0);
  LLVMValueRef zero = cg_idx(c, 0);
  /* lo = base >= 0 ? 0 : ceil(-base / step) */
  LLVMValueRef neg = LLVMBuildICmp(c->b, LLVMIntSLT, base, zero, "");
  LLVMValueRef up =
      LLVMBuildSDiv(c->b, cg_addc(c, cg_sub(c, zero, base), step - 1), cg_idx(c, step), "");
  *lo = LLVMBuildSelect(c->b, neg, up, zero, "");
  /* hi = base <= limit-1 ? min(count, (limit-1-base)/step + 1) : 0 */
  LLVMValueRef room = cg_sub(c, cg_idx(c, limit - 1), base);
  LLVMValueRef fits = LLVMBuildICmp(c->b, LLVMIntSGE, room, zero, "");
  LLVMValueRef n = cg_addc(c, LLVMBuildSDiv(c->b, room, cg_idx(c, step), ""), 1);
  *hi = LLVMBuildSelect(c->b, fits, cg_smin(c, n, cg_idx(c, count)), zero, "");
}

/* ---- diagnostics -------------------------------------------------------------------------- */

bool cg_node_error(Cg *c, const IrNode *n, const char *fmt, ...) {
  char where[300];
  va_list ap;
  va_start(ap, fmt);
  ir_diag_verror(c->d, ir_node_where(n, where, sizeof where), fmt, ap);
  va_end(ap);
  return false;
}

bool cg_require_f32(Cg *c, const IrNode *n) {
  for (int i = 0; i < n->n_inputs; i++)
    if (n->inputs[i] && n->inputs[i]->dtype != IR_F32)
      return cg_node_error(c, n, "%s: input %d ('%s') has dtype %s; only f32 is supported",
                           ir_op_info[n->op].name, i, n->inputs[i]->name,
                           ir_dtype_name(n->inputs[i]->dtype));
  for (int j = 0; j < n->n_outputs; j++)
    if (n->outputs[j] && n->outputs[j]->dtype != IR_F32)
      return cg_node_error(c, n, "%s: output %d ('%s') has dtype %s; only f32 is supported",
                           ir_op_info[n->op].name, j, n->outputs[j]->name,
                           ir_dtype_name(n->outputs[j]->dtype));
  return true;
}

bool cg_all_f32(const IrNode *n) {
  for (int i = 0; i < n->n_inputs; i++)
    if (n->inputs[i] && n->inputs[i]->dtype != IR_F32) return false;
  for (int j = 0; j < n->n_outputs; j++)
    if (n->outputs[j] && n->outputs[j]->dtype != IR_F32) return false;
  return true;
}

bool cg_same_storage(const Cg *c, const IrValue *a, const IrValue *b) {
  const CgStorage *x = &c->storage[a->id], *y = &c->storage[b->id];
  return x->kind == y->kind && x->kind != CG_STORE_NONE && x->index == y->index &&
         x->offset == y->offset;
}
