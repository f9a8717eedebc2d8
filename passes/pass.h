/* Passes: plain functions over the IR, run in a visible order. Know only the IR. */
#ifndef KILN_PASS_H
#define KILN_PASS_H

#include <stdio.h>

#include "ir.h"

/* Static int8 quantization (passes/pass_quantize.c, docs/quantization.md). */
typedef enum { PASS_OBS_MINMAX, PASS_OBS_PERCENTILE, PASS_OBS_MSE } PassObserver;
typedef struct PassQuantLayer {
  const char *node; /* name of the quantized node (the graph's arena) */
  const char *op;   /* its op after quantization */
  double sqnr_db;   /* of its dequantized output against fp32 over the checked samples */
  bool kept_fp32;   /* --quant-keep-fp32 left it in float */
} PassQuantLayer;
/* A model output of the quantized graph against fp32 on the checked samples. */
typedef struct PassQuantOutput {
  const char *name; /* the graph's arena */
  double sqnr_db;   /* f32 outputs; NAN otherwise */
  double agree;     /* other dtypes: the fraction of elements equal to fp32's; NAN for f32 */
} PassQuantOutput;
typedef struct PassQuantOptions {
  /* per graph input, in its dtype (f32, or integer ids): n_samples samples one after another */
  const void *const *samples;
  int n_samples;
  PassObserver observer;
  double percentile;     /* PASS_OBS_PERCENTILE: e.g. 99.99 */
  const char *keep_fp32; /* NULL or comma-separated node names that stay float */
  FILE *report;          /* the per-layer error table (NULL: none) */
  /* filled by the pass (caller storage, may be NULL): one entry per quantizable node */
  PassQuantLayer *layers;
  int max_layers, *n_layers;
  PassQuantOutput *outputs; /* per graph output, filled with the layers (NULL: not wanted) */
  int max_outputs, *n_outputs;
  /* --quantize=int8-weights: Gemm/MatMul weights int8, activations f32, no samples needed */
  bool weights_only;
  /* --quant-io=int8: the model's inputs and outputs are the int8 tensors of its first
   * QuantizeLinear / last DequantizeLinear (those nodes go; IrValue.quant holds their scale and
   * zero point); an error when a first or last layer stays float */
  bool int8_io;
} PassQuantOptions;

/* The compile-time float evaluator (pass_eval.c): ir_interp_run with Conv, Gemm and 2-D MatMul
 * through a single-precision GEMM (im2col for Conv); observe (may be NULL) sees every input and
 * node output. Used by calibration (--quantize) and by --eval. */
int pass_eval_run(const IrGraph *g, const void *const *inputs, void *const *outputs,
                  void (*observe)(void *ctx, const IrValue *v, const void *data), void *ctx);

typedef struct PassOptions {
  int opt_level;           /* 0..3 */
  int64_t workspace_align; /* bytes, power of two; 0 means 64 */
  bool verify_each;        /* run ir_graph_verify after every pass */
  const char *print_after; /* pass name, or NULL */
  const char *passes;      /* explicit comma-separated pass list replacing the -O pipeline, or NULL;
                              memplan always runs last */
  bool no_inplace;         /* memplan: never let an output share its input's bytes */
  /* skip ir_dyn_analyze at the end (a graph only measured, never compiled: inspect's "before") */
  bool no_dyn_check;
  FILE *print_to;        /* where --print-after writes (NULL: stdout) */
  int64_t max_workspace; /* bytes; a larger plan is a user error (kiln --max-workspace). 0: none */
  /* bytes of one im2col panel of a Conv (kernels pass); 0: IR_CONV_PANEL_BYTES, sized for a
   * host's L2. Microcontrollers have no cache to fill and little RAM: kiln uses less there. */
  int64_t conv_panel_bytes;
  /* the widest register tile (floats) a conv scratch must leave room for; 0: IR_TILE_COLS_MAX
   * (AVX-512). Bare-metal cores have at most 4-lane vectors: kiln asks for 16 there. */
  int tile_cols_max;
  /* bytes of the input projection of one chunk of RNN/GRU/LSTM steps (kernels pass); 0:
   * IR_RECURRENT_PROJ_BYTES. Bare metal: a few steps, near the old stack footprint. */
  int64_t recurrent_proj_bytes;
  /* 0: the cost model chooses each Conv's kernel; IR_KERNEL_CONV_GEMM / IR_KERNEL_CONV_WIDE:
   * that kernel wherever it applies; IR_KERNEL_COUNT: the plain loops (kiln --conv=KIND, for
   * measuring the cost model) */
  int conv_kernel;
  /* the attention pass: PASS_ATTENTION_DECODE (0, default) fuses attention over at most
   * PASS_ATTENTION_DECODE_ROWS query rows, where the fused kernel wins (a decode step over a KV
   * cache); PASS_ATTENTION_ALL every match; PASS_ATTENTION_OFF none (kiln --attention=KIND) */
  int attention;
  /* 0: the cost model chooses, per Gemm/MatMul/Conv with constant weights holding exact zeros,
   * dense or a sparse kernel (ir/sparsity.h); IR_KERNEL_SPARSE_*: that kernel wherever it
   * applies; IR_KERNEL_COUNT: never sparse (kiln --sparse=KIND) */
  int sparse_kernel;
  /* f32 lanes of the target's vectors for the sparse cost model (cg_target_info); 0: 8 */
  int vec_lanes;
  /* activations' storage layout (kiln --layout, passes/pass_layout.c): PASS_LAYOUT_AUTO (0, the
   * cost model), PASS_LAYOUT_NCHW, PASS_LAYOUT_NCHWC (blocked by vec_lanes where it applies) */
  int layout;
  /* the target has the Arm DSP extension (smlad: Cortex-M4/M7, cg_target_info): int8
   * Winograd for 3x3 QLinearConv (pass_plan_int8) */
  bool arm_dsp;
  /* the target has AVX-512 VNNI (vpdpbusd, cg_target_info): the direct int8 convolution for
   * stride-1 QLinearConv (pass_plan_int8: qconv-direct-dot4, scratch = the padded copy only) */
  bool x86_vnni;
  /* lossy pruning steps for the prune pass (passes/pass_prune.c), ';'-separated; NULL: none */
  const char *prune;
  /* called after every lossy step with the graph as it is (kiln --eval); false: stop, the
   * error is reported to d */
  bool (*after_lossy)(void *ctx, const struct IrGraph *g, const char *step, IrDiag *d);
  void *after_lossy_ctx;
  /* --quantize=int8: the quantize pass's calibration data and choices; NULL: no quantization */
  const PassQuantOptions *quant;
} PassOptions;
enum { PASS_ATTENTION_DECODE, PASS_ATTENTION_ALL, PASS_ATTENTION_OFF };
enum { PASS_LAYOUT_AUTO, PASS_LAYOUT_NCHW, PASS_LAYOUT_NCHWC };
#define PASS_ATTENTION_DECODE_ROWS 1

/* A pass returns whether it changed the graph; user errors go to d (d->n_errors grows). */
typedef bool (*PassFn)(IrGraph *g, const PassOptions *o, IrDiag *d);

typedef struct PassInfo {
  const char *name;
  PassFn run;
  int min_level; /* part of the -O<min_level> pipeline and above; 99: only on request */
  const char *help;
} PassInfo;

/* The registry, in pipeline order; *count receives its length. */
const PassInfo *pass_list(int *count);
const PassInfo *pass_find(const char *name);

/* ---- graph passes ------------------------------------------------------------------------ */
/* Evaluates nodes whose inputs are all constants (shape subgraphs included) with the reference
 * interpreter; their outputs become initializers. */
bool pass_fold_constants(IrGraph *g, const PassOptions *o, IrDiag *d);
/* Removes nodes none of whose outputs reaches a graph output, and unused initializers. */
bool pass_dce(IrGraph *g, const PassOptions *o, IrDiag *d);
/* Merges identical initializers and nodes with the same op, attributes and inputs. */
bool pass_cse(IrGraph *g, const PassOptions *o, IrDiag *d);
/* Identity/Dropout removal, Reshape chains, Reshape to the same shape, x*1, x/1, x+0, x-0. */
bool pass_simplify(IrGraph *g, const PassOptions *o, IrDiag *d);
/* BatchNormalization folded into the weights and bias of a preceding Conv, ConvTranspose or
 * Gemm whose output only it reads. */
bool pass_fold_batchnorm(IrGraph *g, const PassOptions *o, IrDiag *d);

/* A constant Pad of the spatial axes folded into the Conv / AveragePool / MaxPool reading it. */
bool pass_fold_pad(IrGraph *g, const PassOptions *o, IrDiag *d);
/* Scaled dot-product attention (MatMul, scale Mul/Div, mask Add, Softmax, MatMul, with the head
 * Transposes around them) becomes one KilnAttention node: an online softmax, no score matrix. */
bool pass_attention(IrGraph *g, const PassOptions *o, IrDiag *d);
/* Element-wise nodes that alone read a Conv/Gemm-like or element-wise node's output become
 * that node's epilogue (IrNode.epilogue): Conv + bias + Relu + residual Add is one loop nest. */
bool pass_fuse(IrGraph *g, const PassOptions *o, IrDiag *d);
/* Blocked (NCHW{c}c) storage for runs of Conv and element-wise nodes, KilnLayout copies at the
 * runs' boundaries, back-to-back copies cancelled (passes/pass_layout.c). */
bool pass_layout(IrGraph *g, const PassOptions *o, IrDiag *d);
/* Removes output channels whose weights and bias are all zero, with the consumers' matching
 * inputs (lossless); with o->prune, magnitude and channel pruning first (lossy). */
bool pass_prune(IrGraph *g, const PassOptions *o, IrDiag *d);

/* Pre-quantized models: DequantizeLinear -> Conv/Gemm/MatMul [-> Relu] -> QuantizeLinear becomes
 * QLinearConv/QGemm; u8 activations become i8 (passes/pass_qdq.c). */
bool pass_qdq(IrGraph *g, const PassOptions *o, IrDiag *d);
/* --quantize=int8-weights: Gemm/MatMul with constant 2-D weights -> KilnGemmW8
 * (passes/pass_weight8.c); the quantize pass calls it when o->quant->weights_only. */
bool pass_quantize_weights(IrGraph *g, const PassOptions *o, IrDiag *d);
/* RNN/GRU/LSTM n with constant f32 W and R: both become int8, one scale per gate row (also under
 * --quantize=int8, where the recurrence stays f32). Returns whether n changed; a shape error goes
 * to d. */
bool pass_weight8_recurrent(IrGraph *g, IrNode *n, IrDiag *d);
bool pass_weight8_recurrent_applies(const IrNode *n); /* whether the call above would change n */

/* Static int8 quantization when o->quant is set: calibrates on its samples, then rewrites Conv,
 * Gemm and MatMul with constant weights (and a Relu / Clip(0, hi) reading them alone, folded
 * into the saturation) to QLinearConv / QGemm, Flatten/Reshape of int8 values to int8 views,
 * with QuantizeLinear / DequantizeLinear where float and int8 meet. */
bool pass_quantize(IrGraph *g, const PassOptions *o, IrDiag *d);
/* The kernel and scratch of a QGemm / QLinearConv node (called by the kernels pass). */
void pass_plan_int8(IrNode *n, const PassOptions *o);

/* ---- kernel choice (pass_kernels.c) ----------------------------------------------------- */
/* Sets IrNode.kernel and IrNode.scratch_bytes of every node (docs/kernels.md); always runs
 * right before the memory plan, which places the scratch. */
bool pass_choose_kernels(IrGraph *g, const PassOptions *o, IrDiag *d);
/* passes/pass_qpool.c: int8 MaxPool 2x2/2 fused into the QLinearConv it reads (IrNode.pool), where
 * the conv's kernel implements it; on scalar targets an int8 QLookup fused into the QLinearConv
 * or QGemm it reads (IrNode.lookup) */
bool pass_qpool(IrGraph *g, const PassOptions *o, IrDiag *d);
/* Part of it (passes/pass_sparse.c): a sparse kernel for n where its constant weight's exact
 * zeros make one cheaper than the dense kernel already chosen (or where o forces one). */
void pass_plan_sparse(IrNode *n, const PassOptions *o);
/* Whether n's sparse kernel (if it has one) costs less than the dense kernel `dense` would
 * (the bare-metal Winograd, considered after the sparse choice). */
bool pass_sparse_beats(const IrNode *n, const PassOptions *o, IrKernel dense);

/* ---- memory plan ------------------------------------------------------------------------- */
/* Assigns g->values[*]->ws_offset for every node-produced value that is not a graph output,
 * and g->workspace_size, reusing memory of values whose last reader has run. An element-wise
 * or view node whose input dies there writes its output over that input (in place). Reports an
 * error naming the value at the top of the plan if the workspace exceeds o->max_workspace. */
bool pass_memplan(IrGraph *g, const PassOptions *o, IrDiag *d);
/* Largest total of bytes live at any step (values sharing bytes in place counted once): the
 * bound no placement of these buffers can beat. */
int64_t pass_memplan_lower_bound(const IrGraph *g, int64_t align);
/* One line per workspace value: name, offset, size, first and last step. */
void pass_memplan_print(const IrGraph *g, FILE *f);
/* The plan as an SVG picture: x = step, y = offset. */
void pass_memplan_svg(const IrGraph *g, FILE *f);

/* Runs the pipeline for o->opt_level (or o->passes), ending with the memory plan. False on a
 * user error (including an unknown pass name). */
bool pass_run_pipeline(IrGraph *g, const PassOptions *o, IrDiag *d);

/* ---- graph editing helpers (pass_edit.c) ---------------------------------------------------- */
/* Every read of old becomes a read of new (graph outputs untouched). */
void pass_replace_uses(IrGraph *g, const IrValue *old, IrValue *new_value);
/* Makes readers of out read in instead, so the node producing out from in can go. When out is a
 * graph output, in's producer writes out directly instead (same shape required). Returns false
 * where neither is possible (the node must stay). */
bool pass_forward(IrGraph *g, IrValue *out, IrValue *in);
/* Drops nodes with dead[id] set and values no node, input or output refers to; renumbers ids. */
void pass_compact(IrGraph *g, const bool *dead);
/* Per-node "remove me" flags for a pass (calloc'd, aborts on out-of-memory), and the end of
 * such a pass: compacts the graph when changed, frees the flags, returns changed. */
bool *pass_dead_flags(const IrGraph *g);
bool pass_drop_dead(IrGraph *g, bool *dead, bool changed);
/* A new initializer with a unique name derived from base; data is copied into the arena. */
IrValue *pass_new_const(IrGraph *g, const char *base, IrDType t, int rank, const int64_t *dims,
                        const void *data);
/* Same op, attributes (presence and values) and input count. */
bool pass_same_attrs(const IrNode *a, const IrNode *b);
/* Number of node inputs reading v, plus one if v is a graph output. */
int pass_use_count(const IrGraph *g, const IrValue *v);

#endif
