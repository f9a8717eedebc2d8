/* Codegen internals shared by the files of codegen/: the per-compile state, loop and memory
 * helpers, the inline math functions and the lowering registry. */
#ifndef KILN_CG_INTERNAL_H
#define KILN_CG_INTERNAL_H

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "cg.h"

/* Where a value lives at run time, decided once per compile. */
typedef enum {
  CG_STORE_NONE,   /* no storage: unused node output without a workspace slot */
  CG_STORE_INPUT,  /* graph input pointer `index` */
  CG_STORE_OUTPUT, /* graph output pointer `index` */
  CG_STORE_WS,     /* workspace + offset */
  CG_STORE_CONST,  /* constant global of value `index` */
  CG_STORE_STATE,  /* state buffer + offset */
} CgStoreKind;

typedef struct CgStorage {
  CgStoreKind kind;
  int index;
  int64_t offset, size; /* bytes; offset only for CG_STORE_WS and CG_STORE_STATE */
  unsigned align;       /* alignment known at compile time */
} CgStorage;

typedef struct CgIntrinsic {
  const char *name;
  LLVMTypeRef type; /* overload type */
  LLVMValueRef fn;
  LLVMTypeRef fn_type;
} CgIntrinsic;

enum {
  CG_MATH_EXP,
  CG_MATH_TANH,
  CG_MATH_SIGMOID,
  CG_MATH_LOG,
  CG_MATH_ERF,
  CG_MATH_SQRT,
  CG_MATH_COUNT
};

typedef struct Cg {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMTargetMachineRef tm;
  LLVMTargetDataRef td;
  const IrGraph *g; /* NULL for the math test module */
  const CgOptions *o;
  IrDiag *d;
  const char *prefix;
  bool bare_metal; /* a *-none-* triple: no libm to call, not even sqrtf */
  bool elf;        /* the target's objects are ELF */
  LLVMTypeRef t_void, t_i1, t_i8, t_i32, t_i64, t_f32, t_ptr;
  LLVMTypeRef t_idx;    /* pointer-sized integer: index arithmetic stays native on 32-bit targets */
  LLVMValueRef fn;      /* function being built */
  CgStorage *storage;   /* per value id */
  LLVMValueRef *consts; /* per value id: constant global, or NULL */
  LLVMValueRef math[CG_MATH_COUNT];
  CgIntrinsic intrinsics[16];
  int n_intrinsics;
  int n_derived; /* counter naming compile-time derived constants */
  /* Packed copies of constant B operands made so far (cg_pack_b): the functions of one node
   * built per block of rows (IrGraph.dyn) share one copy instead of one each. */
  struct CgPacked *packed;
  int n_packed, cap_packed;
  int64_t n_loops; /* loops begun so far: tells cg_loop_end whether a loop holds another */
  int64_t n_kept;  /* loops closed with CgLoop.keep or .no_unroll: whether a loop holds one */
  /* The blob (cg_blob.c): constants written to blob_fd at 64-byte aligned offsets. With
   * --weights=external every constant, addressed from weights_base, the weights parameter of
   * the function being built; embedded (stream), the constants of CG_STREAM_MIN bytes or more,
   * addressed from blob_global and copied into the object after emission. */
  int blob_fd;    /* -1: none */
  char *blob_tmp; /* the external weights file's temporary name, removed unless renamed */
  int64_t blob_size;
  int blob_errno; /* first write error */
  bool stream;    /* embedded constants of CG_STREAM_MIN bytes or more go to the blob */
  LLVMValueRef blob_global;
  int64_t *const_offset; /* per value id: offset in blob, or -1 */
  LLVMValueRef weights_base;
  /* The run-time length of the graph's dynamic dim (IrGraph.dyn) in the body being built (an
   * index-typed parameter); NULL without one. */
  LLVMValueRef dyn_len;
  /* In a node function whose operands include some read whole up to the run-time length
   * (ir_dyn_whole: attention's keys, the input of a reduction along the axis), that length (a
   * parameter); else NULL. */
  LLVMValueRef node_len;
  /* The node's scratch (IrNode.scratch_bytes at its scratch_offset in the workspace) while its
   * function is built; NULL when it has none. */
  LLVMValueRef scratch;
  /* While a QLinearConv or QGemm with a fused QLookup (IrNode.lookup) is lowered: its table's
   * 256-byte table (y -> table[y + 128]), through which cg_qrequant maps every output byte;
   * else NULL. */
  LLVMValueRef qlut;
  /* While a node's function is built (cg_node_derived): its pointer operands, the function, its
   * in[] array, and per operand the compile-time derived constant the call passes instead. */
  const IrValue *const *node_ops;
  const bool *node_is_out, *node_whole;
  const int *node_slot;
  int node_n_ops;
  LLVMValueRef node_fn, *node_in, *node_derived;
  unsigned *node_claims; /* per operand: bit f set when function f of the node took derived */
  int node_fn_index;
  /* stack analysis (cg_stack.c) */
  int64_t *node_alloca; /* per node id: bytes of static allocas its lowering made */
  CgStack stack;        /* frames reported by the backend */
  bool llvm_error;      /* the backend reported an error diagnostic */
} Cg;

/* A lowering: builds the body of a node's function; in[i] / out[j] are its pointer arguments
 * (NULL where the input is omitted or the output has no storage). False on a user error, which
 * it reported with cg_node_error. */
typedef bool (*CgLowerFn)(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);
extern const CgLowerFn cg_lower[IR_OP_COUNT];
#define OP(id, name, min_in, max_in, min_out, max_out, flags, stem)                                \
  bool cg_lower_##stem(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef *out);
#include "ops.def"
#undef OP

/* A kernel that reads a compile-time derived form of constant input v (its packed weights) in
 * place of v: returns the node function's parameter for v, and the call passes `derived` there,
 * so that nodes of equal shape compile to identical functions (merged by LLVM's mergefunc: one
 * kernel per shape). Returns `derived` itself where that cannot be done (not a link-time
 * constant, e.g. external weights; v read directly too; another derived form of v). */
LLVMValueRef cg_node_derived(Cg *c, const IrValue *v, LLVMValueRef derived);

#define CG_WEIGHTS_ALIGN 64 /* alignment of external weights and of every tensor in them */

/* ---- cg_module.c -------------------------------------------------------------------------- */
/* Creates the target machine, context, module (triple and data layout set) and builder. */
bool cg_session_begin(Cg *c, const CgOptions *o, IrDiag *d);
/* Verifies (abort on failure: an internal bug), optimizes and writes the module. */
bool cg_session_finish(Cg *c, const char *out_path);
void cg_session_end(Cg *c);

/* ---- cg_stack.c --------------------------------------------------------------------------- */
/* Bytes of the static allocas in fn's entry block. */
int64_t cg_entry_alloca_bytes(Cg *c, LLVMValueRef fn);
/* After the IR passes, before machine code: ask the backend for every function's frame. */
void cg_stack_prepare(Cg *c);
/* After machine code: the worst case per function and entry point into c->stack; false (an
 * error naming the node) if it exceeds c->o->max_stack. */
bool cg_stack_finish(Cg *c);

/* ---- cg_loops.c: values, memory, loops ----------------------------------------------------- */
LLVMValueRef cg_idx(Cg *c, int64_t v);
LLVMValueRef cg_f32c(Cg *c, double v);
LLVMValueRef cg_i32c(Cg *c, int64_t v);
/* Index arithmetic (nsw: all index expressions stay far from overflow). */
LLVMValueRef cg_add(Cg *c, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_sub(Cg *c, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_mul(Cg *c, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_addc(Cg *c, LLVMValueRef a, int64_t k);
LLVMValueRef cg_mulc(Cg *c, LLVMValueRef a, int64_t k);
LLVMValueRef cg_smin(Cg *c, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_smax(Cg *c, LLVMValueRef a, LLVMValueRef b);
/* Element pointer / load / store of f32 at base[index]. */
LLVMValueRef cg_gep(Cg *c, LLVMTypeRef elem, LLVMValueRef base, LLVMValueRef index);
LLVMValueRef cg_load(Cg *c, LLVMValueRef base, LLVMValueRef index);
void cg_store(Cg *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef index);
/* One element of dtype t at base[i], any dtype: f32 as float, the others (bool: a byte holding 0
 * or 1) as integers of their size. */
LLVMTypeRef cg_elem_type(Cg *c, IrDType t);
LLVMValueRef cg_load_elem(Cg *c, IrDType t, LLVMValueRef base, LLVMValueRef i);
void cg_store_elem(Cg *c, IrDType t, LLVMValueRef v, LLVMValueRef base, LLVMValueRef i);
/* The constant of dtype t stored (little-endian) at p. */
LLVMValueRef cg_const_elem(Cg *c, IrDType t, const void *p);
LLVMValueRef cg_byte_ptr(Cg *c, LLVMValueRef base, int64_t offset);
void cg_memcpy(Cg *c, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef nbytes);
void cg_memset(Cg *c, LLVMValueRef dst, uint8_t byte, int64_t nbytes);
/* Calls an overloaded intrinsic such as "llvm.fmuladd" on type t. */
LLVMValueRef cg_intrinsic(Cg *c, const char *name, LLVMTypeRef t, LLVMValueRef *args, int n);
LLVMValueRef cg_fmuladd(Cg *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc);
/* max / min that propagate a NaN from either operand. */
LLVMValueRef cg_fmax(Cg *c, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_fmin(Cg *c, LLVMValueRef a, LLVMValueRef b);
/* fadd that may be reassociated, so reductions vectorize. */
LLVMValueRef cg_fadd_reassoc(Cg *c, LLVMValueRef a, LLVMValueRef b);
/* Allows reassociation on an FP instruction or call (reductions), returns it. */
LLVMValueRef cg_reassoc(LLVMValueRef inst);
/* A private, constant, unnamed_addr global with 64-byte alignment holding the bytes (in the
 * --weights-section if one is given); with external weights, a pointer into the weights blob. */
LLVMValueRef cg_const_bytes(Cg *c, const void *data, size_t nbytes, const char *name);
/* The blob (cg_blob.c). Embedded constants this large are streamed (below it they stay LLVM
 * constants, which passes may read and fold). */
#define CG_STREAM_MIN ((size_t)64 << 10)
/* Opens the blob file: `path.tmp.PID` kept for cg_blob_finish_external (keep), or an unlinked
 * temporary `path.blob.PID`. */
bool cg_blob_open(Cg *c, const char *path, bool keep);
void cg_blob_close(Cg *c);
/* Appends bytes at a 64-byte aligned offset, which it returns (errors are reported by flush). */
int64_t cg_blob_append(Cg *c, const void *data, size_t nbytes);
/* Pointer to offset off of the embedded blob (a placeholder global until cg_blob_define). */
LLVMValueRef cg_blob_ptr(Cg *c, int64_t off);
/* Reports a write error, sets the file's final size. */
bool cg_blob_flush(Cg *c, const char *what);
/* Gives the embedded blob its global: zeros of the blob's size, externally initialized. */
void cg_blob_define(Cg *c);
/* Copies the blob over the placeholder's bytes in the emitted ELF object. */
bool cg_blob_patch(Cg *c, const char *obj_path);
/* A constant made in pieces, in order: a large one (that cg_const_bytes would put in the blob)
 * goes to the blob file piece by piece, never whole in memory; others are gathered, then given
 * to cg_const_bytes. The pieces must add up to nbytes. */
typedef struct {
  size_t nbytes, at;
  int64_t off;        /* in the blob, or -1 */
  unsigned char *mem; /* gathered bytes, or NULL */
} CgPieces;
void cg_pieces_begin(Cg *c, CgPieces *p, size_t nbytes);
void cg_pieces_put(Cg *c, CgPieces *p, const void *data, size_t n);
LLVMValueRef cg_pieces_end(Cg *c, CgPieces *p, const char *name);
/* The address of bytes written at blob offset off (cg_pieces_end's result for them), valid in
 * the function being built. */
LLVMValueRef cg_pieces_at(Cg *c, int64_t off);
/* Renames the external weights file into place. */
bool cg_blob_finish_external(Cg *c, const char *path);

/* Counted loop `for (iv = start; iv < end; iv++)` with a guard (bounds may be run-time values),
 * the counter a PHI with a nuw/nsw increment, and optional loop-carried accumulators. */
#define CG_LOOP_MAX_ACC 32
typedef struct CgLoop {
  LLVMBasicBlockRef pre, body, exit;
  LLVMValueRef iv, start, end;
  /* true: LLVM must neither unroll nor vectorize this loop (its body is a hand-built kernel;
   * set after cg_loop_begin, read by cg_loop_end) */
  bool keep;
  /* true: LLVM may vectorize this loop but must not unroll it (cg_loop_end does this by itself
   * for long reductions): the outer loops of a copy nest that -O3 would unroll fully into
   * straight-line code whose many addresses are computed up front and spilled */
  bool no_unroll;
  int64_t first_inner; /* c->n_loops after this loop began */
  int64_t first_kept;  /* c->n_kept when this loop began */
  int n_acc;
  LLVMValueRef acc[CG_LOOP_MAX_ACC], acc_init[CG_LOOP_MAX_ACC];
} CgLoop;
LLVMValueRef cg_loop_begin(Cg *c, CgLoop *l, LLVMValueRef start, LLVMValueRef end);
/* An accumulator PHI; call right after cg_loop_begin. */
LLVMValueRef cg_loop_acc(Cg *c, CgLoop *l, LLVMValueRef init);
/* Closes the loop; acc_next[k] is the accumulator's value at the end of the body; acc_out[k]
 * receives its value after the loop. Either may be NULL when there are no accumulators. */
void cg_loop_end(Cg *c, CgLoop *l, const LLVMValueRef *acc_next, LLVMValueRef *acc_out);
/* Marks a loop's latch branch so that LLVM neither unrolls nor vectorizes the loop. */
void cg_loop_keep(Cg *c, LLVMValueRef latch_br);
/* Shorthand for loops with constant bounds [0, n). */
LLVMValueRef cg_for(Cg *c, CgLoop *l, int64_t n);

/* if (cond) { ... } else { ... } */
typedef struct CgIf {
  LLVMBasicBlockRef then_bb, else_bb, merge;
} CgIf;
void cg_if_begin(Cg *c, CgIf *f, LLVMValueRef cond); /* builder in the then-branch */
void cg_if_else(Cg *c, CgIf *f);                     /* builder in the else-branch */
void cg_if_end(Cg *c, CgIf *f);                      /* builder after both */

/* if (cond) return code; from the function being built (an i32 node or body function):
 * how a node reports a run-time error such as KRT_ERR_INDEX_RANGE. */
void cg_return_if(Cg *c, LLVMValueRef cond, LLVMValueRef code);

/* A loop nest over dims[0..rank) with per-operand strided element offsets. */
#define CG_NEST_MAX_OPS 4
typedef struct CgNest {
  int rank, n_ops;
  CgLoop loops[IR_MAX_RANK];
  LLVMValueRef off[CG_NEST_MAX_OPS]; /* element offsets in the innermost body */
} CgNest;
void cg_nest_begin(Cg *c, CgNest *s, int rank, const int64_t *dims, int n_ops,
                   const int64_t (*strides)[IR_MAX_RANK]);
void cg_nest_end(Cg *c, CgNest *s);
/* The nest of an element-wise node over its output: dims and the element strides of the output
 * (operand 0) and of inputs [0, n_in) read through broadcasting (operands 1..n_in), collapsed
 * with cg_nest_simplify; returns the rank. */
int cg_broadcast_nest(const IrNode *n, int n_in, int64_t *dims, int64_t (*strides)[IR_MAX_RANK]);
/* Merges adjacent axes that every operand walks contiguously and drops size-1 axes, so the
 * innermost loop is as long as possible; updates rank, dims and strides in place. */
void cg_nest_simplify(int *rank, int64_t *dims, int n_ops, int64_t (*strides)[IR_MAX_RANK]);

/* The j in [0, count) for which 0 <= base + j*step < limit, as [*lo, *hi) (possibly empty, then
 * lo >= hi); step > 0. base may be a run-time value. Used to strip padding out of inner loops. */
void cg_valid_range(Cg *c, LLVMValueRef base, int64_t step, int64_t limit, int64_t count,
                    LLVMValueRef *lo, LLVMValueRef *hi);

/* ---- diagnostics and checks ---------------------------------------------------------------- */
bool cg_node_error(Cg *c, const IrNode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Every present input and output of n is f32, else a user error naming the node. */
bool cg_require_f32(Cg *c, const IrNode *n);
/* The same as a predicate, for asserting what shape inference has already checked. */
bool cg_all_f32(const IrNode *n);
bool cg_same_storage(const Cg *c, const IrValue *a, const IrValue *b);

/* ---- cg_math.c ----------------------------------------------------------------------------- */
LLVMValueRef cg_exp(Cg *c, LLVMValueRef x);
LLVMValueRef cg_tanh(Cg *c, LLVMValueRef x);
LLVMValueRef cg_sigmoid(Cg *c, LLVMValueRef x);
LLVMValueRef cg_log(Cg *c, LLVMValueRef x);
LLVMValueRef cg_erf(Cg *c, LLVMValueRef x);
/* llvm.sqrt on hosted targets; on bare metal an inline Newton iteration, because llvm.sqrt
 * becomes a call to sqrtf on cores without a hardware square root. */
LLVMValueRef cg_sqrt(Cg *c, LLVMValueRef x);
/* Rounding to an integer-valued float in plain instructions (llvm.floor & co. become calls to
 * libm's floorf on targets without a rounding instruction): trunc, floor, ceil, and rint (half
 * to even). NaN and infinities pass through. */
LLVMValueRef cg_trunc(Cg *c, LLVMValueRef x);
LLVMValueRef cg_floor(Cg *c, LLVMValueRef x);
LLVMValueRef cg_ceil(Cg *c, LLVMValueRef x);
LLVMValueRef cg_rint(Cg *c, LLVMValueRef x);
/* Test hook: an object exporting `void <prefix>_{exp,tanh,sigmoid,log,erf,sqrt}(const float *x,
 * float *y, intptr_t n)` built from the same inline functions, for accuracy sweeps. */
bool cg_emit_math_test(const CgOptions *o, const char *out_path, IrDiag *d);

/* ---- cg_lower.c ---------------------------------------------------------------------------- */
/* The scalar function of a unary element-wise op (Relu, LeakyRelu, Sigmoid, Tanh, Clip); in are
 * the node function's arguments (Clip's bounds). Reusable as a fused epilogue. */
LLVMValueRef cg_unary_scalar(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef x);

/* log(1 + exp(x)) as max(x, 0) + log(1 + exp(-|x|)): no overflow. */
LLVMValueRef cg_softplus(Cg *c, LLVMValueRef x);
/* max of the f32 x[base + k*inner] for k < len, NaN-propagating (vectorizes where inner is 1). */
/* dyn_len: a run-time length that replaces len (cg_dyn_extent), or NULL. */
LLVMValueRef cg_slice_max(Cg *c, LLVMValueRef x, LLVMValueRef base, int64_t len,
                          LLVMValueRef dyn_len, int64_t inner);
/* The run-time length that bounds axis `axis` of v in the node function being built (the
 * run-time axis of an operand read whole, ir_dyn_whole; a second run-time axis, IrValue.dyn2),
 * or NULL: the axis runs to its static length (or v's block of rows). */
LLVMValueRef cg_dyn_extent(const Cg *c, const IrValue *v, int axis);

/* The fused epilogue of n (IrNode.epilogue) applied in registers to v, the value of output
 * element `index` (flat, row-major); in are n's function arguments. v itself without one. */
LLVMValueRef cg_epilogue(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef v,
                         LLVMValueRef index);
/* row[i] = epilogue(row[i]) for i < len, row[0] being output element `base`: for heads whose
 * output element is final only after a reduction (Conv rows, ConvTranspose planes). */
void cg_epilogue_row(Cg *c, const IrNode *n, LLVMValueRef *in, LLVMValueRef row, LLVMValueRef base,
                     int64_t len);

/* ---- cg_nn.c ------------------------------------------------------------------------------ */
/* row[i] = v for i < len. */
void cg_fill_row(Cg *c, LLVMValueRef row, int64_t len, LLVMValueRef v);
/* AveragePool divisor along one axis for a window starting at `start` (o*stride - pad_begin):
 * clipped to the padded extent [-pad_begin, in + pad_end) with include_pad, else to [0, in). */
LLVMValueRef cg_pool_window_count(Cg *c, LLVMValueRef start, int64_t taps, int64_t dil, int64_t in,
                                  int64_t pad_begin, int64_t pad_end, bool include_pad);
/* A MatMul's batch nest: output batch dims and the element strides of output, A and B per batch
 * index (broadcast axes 0); returns the batch rank. */
int cg_matmul_batches(const IrNode *n, int64_t M, int64_t N, int64_t K, int64_t *dims,
                      int64_t (*strides)[IR_MAX_RANK]);
/* Called inside the row loop of the matmul kernel once row m of out (at orow) is complete. */
typedef void (*CgRowEpilogue)(Cg *c, void *ctx, LLVMValueRef m, LLVMValueRef orow);
/* out[m][n] = sum_k a[m*sam + k*sak] * b[k*sbk + n*sbn], out row-major with row stride ldo. */
void cg_emit_matmul_kernel(Cg *c, int64_t M, int64_t N, int64_t K, LLVMValueRef a, int64_t sam,
                           int64_t sak, LLVMValueRef b, int64_t sbk, int64_t sbn, LLVMValueRef out,
                           int64_t ldo, CgRowEpilogue epi, void *epi_ctx);

#endif
