/* Kiln IR: values, nodes, graphs, the op table, diagnostics.
 * Everything of one graph lives in its arena and is freed by ir_graph_free. */
#ifndef KILN_IR_H
#define KILN_IR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IR_MAX_RANK 8
#define IR_MAX_DIM ((int64_t)INT32_MAX)
/* Limits on counts a model controls. Arrays indexed by such a count are sized from the graph
 * (arena or heap), except where a limit below bounds them:
 * - IR_MAX_VARIADIC: inputs of Concat, outputs of Split (the op table's max; the frontend and
 *   shape inference report a node over it, naming the limit);
 * - IR_MAX_STEP_INPUTS: inputs of an element-wise (IR_OPF_UNARY / IR_OPF_BINARY) op, so of a
 *   fused epilogue step (checked against the op table at compile time, ir/ops.c);
 * - IR_MAX_EPILOGUE_INPUTS: extra operands one fused epilogue collects; the fusion pass ends a
 *   chain there and starts a new node (passes/pass_fuse.c), the verifier checks it. */
#define IR_MAX_VARIADIC 65535
#define IR_MAX_STEP_INPUTS 4
#define IR_MAX_EPILOGUE_INPUTS 16

/* ---- arena ---------------------------------------------------------------------------- */
typedef struct IrArena IrArena;
IrArena *ir_arena_new(void);
void ir_arena_free(IrArena *a);
/* Zeroed memory aligned to 64 bytes; aborts on out-of-memory (an internal failure). */
void *ir_arena_alloc(IrArena *a, size_t size);
char *ir_arena_strdup(IrArena *a, const char *s);
char *ir_arena_strndup(IrArena *a, const char *s, size_t n);
size_t ir_arena_bytes(const IrArena *a);

/* ---- diagnostics ---------------------------------------------------------------------- */
/* User errors carry a location (a JSON path, a node) and are collected here; internal bugs
 * assert. Messages are "file: where: what". */
typedef struct IrDiag {
  const char *file; /* prefix of every message, e.g. the model path; may be NULL */
  int n_errors;
  int n_warnings;
  bool echo;  /* also print each message to stderr as it is reported */
  char *text; /* all messages, newline-separated (malloc'd) */
  size_t len, cap;
} IrDiag;
void ir_diag_init(IrDiag *d, const char *file, bool echo);
void ir_diag_free(IrDiag *d);
void ir_diag_error(IrDiag *d, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ir_diag_verror(IrDiag *d, const char *where, const char *fmt, va_list ap);
/* A warning: printed to stderr (with "warning: ") when d echoes, counted in n_warnings; not an
 * error and not in text (which holds the errors). */
void ir_diag_warning(IrDiag *d, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- dtypes --------------------------------------------------------------------------- */
typedef enum {
#define DT(id, name, size, ctype) IR_##id,
#include "dtypes.def"
#undef DT
  IR_DTYPE_COUNT
} IrDType;
const char *ir_dtype_name(IrDType t);
const char *ir_dtype_ctype(IrDType t);
size_t ir_dtype_size(IrDType t);
bool ir_dtype_from_name(const char *name, IrDType *out);

/* ---- op table ------------------------------------------------------------------------- */
typedef enum {
#define OP(id, name, min_in, max_in, min_out, max_out, flags, stem) IR_OP_##id,
#include "ops.def"
#undef OP
  IR_OP_COUNT
} IrOp;

enum {
  IR_OPF_UNARY = 1u << 0,        /* element-wise, one data input, output shape = input shape */
  IR_OPF_BINARY = 1u << 1,       /* element-wise with multidirectional broadcasting */
  IR_OPF_ACTIVATION = 1u << 2,   /* may be fused as the epilogue of a fusable head */
  IR_OPF_FUSABLE_HEAD = 1u << 3, /* Conv/Gemm-like: can absorb bias + activation */
  IR_OPF_HAS_WEIGHTS = 1u << 4,  /* usually takes initializers as inputs */
  IR_OPF_VIEW = 1u << 5,         /* output has the input's bytes (reshape-like, identity) */
  IR_OPF_STATIC = 1u << 6,       /* output depends only on input shapes and attributes (Shape) */
  IR_OPF_REDUCE = 1u << 7,       /* Reduce*: input 0 over `axes` (attribute, or input 1) */
  /* element-wise with broadcasting outside the UNARY/BINARY families (Where, Cast, comparisons,
   * logic, Pow, Mod, the variadic Sum/Mean/Min/Max, PRelu): out[i] depends on in[i] only */
  IR_OPF_ELEMENTWISE = 1u << 8,
};

typedef enum {
  IR_ATTR_INT,
  IR_ATTR_FLOAT,
  IR_ATTR_STRING,
  IR_ATTR_INTS,
  IR_ATTR_FLOATS
} IrAttrKind;

typedef struct IrAttrSpec {
  const char *name; /* NULL ends a schema */
  IrAttrKind kind;
  bool required;
  int64_t def_i;     /* default for IR_ATTR_INT */
  double def_f;      /* default for IR_ATTR_FLOAT */
  const char *def_s; /* default for IR_ATTR_STRING */
} IrAttrSpec;

/* A node's attribute value; node->attrs[k] corresponds to the op's schema entry k.
 * Absent attributes hold the schema default with present = false (lists: count 0). */
typedef struct IrAttr {
  bool present;
  int64_t i;
  double f;
  const char *s;
  int count;      /* for INTS / FLOATS */
  int64_t *ints;  /* arena */
  double *floats; /* arena */
} IrAttr;

struct IrGraph;
struct IrNode;
/* Infer dtype and shape of every output of n from its inputs and attributes; on a user error
 * (bad attribute for these shapes, mismatch) report via d with ir_node_where and return false. */
typedef bool (*IrShapeFn)(struct IrGraph *g, struct IrNode *n, IrDiag *d);
/* Reference kernel: in[i] is the data of n->inputs[i] (NULL for an omitted optional input),
 * out[j] the data of n->outputs[j]; shapes and dtypes are those of the values. Returns 0 or a
 * negative KRT_ERR_* code (e.g. an index out of range). */
typedef int (*IrInterpFn)(const struct IrNode *n, const void *const *in, void *const *out);

typedef struct IrOpInfo {
  const char *name;
  int min_inputs, max_inputs, min_outputs, max_outputs;
  unsigned flags;
  const IrAttrSpec *attrs; /* NULL-name terminated */
  IrShapeFn infer;
  IrInterpFn interp;
} IrOpInfo;

extern const IrOpInfo ir_op_info[IR_OP_COUNT];
/* Look an ONNX op name up; returns false if Kiln does not support it. */
bool ir_op_from_name(const char *name, IrOp *out);
int ir_op_attr_count(IrOp op);
int ir_op_attr_index(IrOp op, const char *attr_name); /* -1 if the op has no such attribute */

/* ---- values, nodes, graphs ------------------------------------------------------------ */
typedef struct IrQuant {
  int axis;      /* -1: per tensor */
  int64_t count; /* number of (scale, zero_point) pairs */
  float *scale;
  int64_t *zero_point;
} IrQuant;

typedef enum {
  IR_VALUE_INPUT, /* graph input */
  IR_VALUE_CONST, /* initializer: data points to ir_value_nbytes bytes, little-endian */
  IR_VALUE_NODE,  /* produced by a node */
} IrValueKind;

typedef struct IrValue {
  const char *name;
  int id; /* index in graph->values */
  IrValueKind kind;
  bool is_output; /* also a graph output (any kind may be) */
  IrDType dtype;
  int rank;
  int64_t dims[IR_MAX_RANK];
  const void *data;        /* IR_VALUE_CONST only; at least 16-byte aligned */
  IrQuant *quant;          /* NULL if none */
  struct IrNode *producer; /* IR_VALUE_NODE only */
  int producer_slot;
  /* Memory plan (passes/pass_memplan.c): byte offset in the workspace for IR_VALUE_NODE values
   * that are not graph outputs; -1 where the value does not live in the workspace. */
  int64_t ws_offset;
  /* 1 + index in graph->states for the value a state is read from (kind IR_VALUE_INPUT, not a
   * graph input) and for the value it takes for the next call (is_output set, not a graph
   * output); 0 for every other value. */
  int state;
  /* 1 + the axis whose length is the graph's dynamic dim (IrGraph.dyn): set on graph inputs by
   * the frontend, on every other value by ir_dyn_analyze; 0: static. */
  int dyn;
  /* 1 + a second axis of run-time length (after `dyn`), stored at the maximum's width: a [1,S,S]
   * score matrix computed in blocks of rows whose columns past the length hold garbage that only
   * reductions bounded by the length read (ir_dyn_analyze); 0: none. Never a graph input/output. */
  int dyn2;
  /* A constant folded from the shape of a value of run-time length (Shape -> Gather -> Range,
   * Concat of a Reshape's shape, a position table gathered at those positions): its data holds
   * the maximum's; ir_dyn_resize folds it again at each length (IrGraph.folds). */
  bool len_dep;
  /* Storage layout (passes/pass_layout.c, docs/kernels.md): 0 is the plain row-major order of
   * dims; c > 0 stores a rank-4 [N, C, H, W] value (C a multiple of c) as NCHW{c}c,
   * [N][C/c][H][W][c]. Shapes, the interpreter and every op's meaning are unchanged: only
   * codegen reads it (the nodes the layout pass allows, and KilnLayout's copies). */
  int layout_block;
  /* The graph's batch dim (IrGraph.outer) multiplies axis 0: a graph input with it on axis 0 (set
   * by ir_dyn_settle_inputs, held at 1 in the graph), any value that grows with it (its axis 0 is
   * a whole number of per-element blocks, ir_dyn_analyze). */
  bool outer;
  const char *src_path; /* JSON path where it was declared, for messages; may be NULL */
} IrValue;

/* How codegen computes a node: chosen by passes/pass_kernels.c (docs/kernels.md). */
typedef enum {
  IR_KERNEL_DEFAULT = 0,   /* the op's plain loop nest */
  IR_KERNEL_GEMM,          /* Gemm/MatMul through the register-tiled micro-kernel */
  IR_KERNEL_CONV_GEMM,     /* Conv as implicit GEMM: im2col panels in scratch, tiled micro-kernel */
  IR_KERNEL_CONV_1X1,      /* pointwise Conv: the tiled micro-kernel reads the input directly */
  IR_KERNEL_CONV_WIDE,     /* Conv: padded phase images read in place, wide output rows */
  IR_KERNEL_CONVT_GEMM,    /* ConvTranspose: tiled product of all taps, then a col2im add */
  IR_KERNEL_RECURRENT,     /* RNN/GRU/LSTM: projection GEMM, per-step packed GEMV, in scratch */
  IR_KERNEL_CONV_WINOGRAD, /* 3x3 stride-1 Conv: Winograd F(2x2, 3x3), 16 tiled products */
  IR_KERNEL_ATTENTION,     /* KilnAttention: one pass over the keys per query, online softmax */
  /* Constant weights with exact zeros (ir/sparsity.h, docs/kernels.md "Sparse weights"): */
  IR_KERNEL_SPARSE_BLOCK,    /* Gemm/MatMul: nonzero 1 x lanes blocks of B, vector FMAs */
  IR_KERNEL_SPARSE_CSR,      /* Gemm/MatMul: per output column its nonzeros; Conv: per output
                                channel its nonzero taps, vectors along the wide output pixels */
  IR_KERNEL_SPARSE_UNROLLED, /* Gemm/MatMul: "weights in code", the nonzeros unrolled */
  IR_KERNEL_QGEMM_DOT4,      /* QGemm: int8 tiles of dot4 (vpdpbusd / sdot / smlad), activations
                                repacked in scratch */
  IR_KERNEL_QCONV_DOT4,      /* QLinearConv: int8 im2col panels in scratch, the same int8 tiles */
  IR_KERNEL_CONVT_SUBPIXEL,  /* ConvTranspose: stride^2 sub-pixel convolutions on the micro-kernel,
                                each output written once (no col2im scatter) */
  IR_KERNEL_QCONV_WINOGRAD,  /* QLinearConv 3x3 stride 1 on Arm DSP: int8 Winograd F(2x2, 3x3),
                                 exact in integers (codegen/kernels/cg_winograd_i8.c) */
  IR_KERNEL_CONV_NCHWC,      /* Conv on NCHW{c}c values: output channels in the vector lanes,
                                output pixels the tile rows (codegen/kernels/cg_nchwc.c) */
  IR_KERNEL_QCONVT_SUBPIXEL, /* QLinearConvTranspose: stride^2 sub-pixel int8 convolutions on the
                                int8 tiles (codegen/cg_quant.c), no col2im scatter */
  IR_KERNEL_QCONV_DIRECT,    /* QLinearConv on AVX-512 VNNI, stride 1: the int8 tiles read the
                                zero-point-padded interleaved input at each tap (no im2col) */
  IR_KERNEL_COUNT
} IrKernel;
extern const char *const ir_kernel_names[IR_KERNEL_COUNT];

typedef struct IrNode {
  const char *name;
  int id;        /* index in graph->nodes (execution order after ir_graph_sort) */
  int src_index; /* index in the model file's "nodes" array, -1 if made by a pass */
  /* the array src_index counts in: NULL for "nodes" (JSON), "graph.node" (ONNX) */
  const char *src_list;
  IrOp op;
  int n_inputs, n_outputs;
  IrValue **inputs; /* NULL entries for omitted optional inputs */
  IrValue **outputs;
  IrAttr *attrs; /* ir_op_attr_count(op) entries, aligned with ir_op_info[op].attrs */
  /* Fused epilogue (passes/pass_fuse.c): element-wise nodes applied in order to each element of
   * outputs[0] before it is stored, in the head's own loop nest. A step is a node of an
   * IR_OPF_UNARY or IR_OPF_BINARY op whose NULL inputs stand for the running value; its other
   * inputs (Clip bounds, a residual, a scalar) are also the last n_epilogue_inputs inputs of the
   * head, after its own ir_op_info max_inputs slots, so liveness and order see them. A binary
   * step's other operand has the output's shape or one element. */
  struct IrNode **epilogue;
  int n_epilogue;
  int n_epilogue_inputs;
  /* Fused pool (passes/pass_qpool.c, QLinearConv only): the int8 MaxPool that read outputs[0],
   * now outputs[0] itself (the pool's output); pool->inputs[0] is the conv's own output value,
   * no longer in the graph, which gives its shape. NULL: none. */
  struct IrNode *pool;
  /* Fused lookup (passes/pass_qpool.c, QLinearConv and QGemm): the int8 QLookup (Tanh,
   * Sigmoid... tables) that read outputs[0] (after the fused pool, if any), now outputs[0]
   * itself; lookup->inputs[0] is the value it read, no longer in the graph (its shape), and
   * lookup->inputs[1] the 256-byte table. NULL: none. */
  struct IrNode *lookup;
  /* Kernel plan (passes/pass_kernels.c): the kernel codegen uses and the workspace bytes it
   * needs for the node's own use while it runs (im2col panels, recurrent state), placed by the
   * memory planner at scratch_offset (-1: none). */
  IrKernel kernel;
  int tile_cols_max; /* widest register tile (floats) the scratch layout allows; 0: no limit */
  int64_t scratch_bytes;
  int64_t scratch_offset;
} IrNode;

/* A state: a value that persists across calls (KV cache, RNN h/c, a position counter). Each call
 * reads `in` from the caller's state buffer and leaves `out` there for the next call. */
typedef struct IrState {
  IrValue *in;      /* read at the start of a call */
  IrValue *out;     /* same dtype and shape: the value for the next call */
  const void *init; /* ir_value_nbytes(in) bytes of the initial value; NULL: zeros */
  int64_t offset;   /* bytes into the state buffer (ir_graph_add_state lays the buffer out) */
  /* Memory plan: out's producer writes it straight into the state buffer (every read of `in`
   * comes before or at that write, in an order the lowering supports); false: out lives in the
   * workspace and the run function copies it into the state buffer after the last node. */
  bool direct;
} IrState;
#define IR_STATE_ALIGN 64

/* A dimension whose length is given at run time, up to a compile-time maximum (`--max-dim NAME=N`,
 * a symbolic dim of a graph input). Shapes are inferred at the maximum, so the memory plan sizes
 * the workspace for it. At most IR_MAX_DYN per graph: with two, one is the batch (IrGraph.outer,
 * axis 0 of the inputs that have it, held at 1 in the graph: the run function calls the body once
 * per batch element) and the other the length the body loops to. */
#define IR_MAX_DYN 2
typedef struct IrDynDim {
  const char *name;
  int64_t max;
} IrDynDim;

typedef struct IrGraph {
  IrArena *arena;
  const char *name; /* model name (not yet a C identifier) */
  int opset;
  IrValue **values;
  int n_values, cap_values;
  IrNode **nodes; /* execution order once sorted */
  int n_nodes, cap_nodes;
  IrValue **inputs;
  int n_inputs, cap_inputs;
  IrValue **outputs;
  int n_outputs, cap_outputs;
  int64_t workspace_size;  /* set by the memory planner; -1 before */
  int64_t workspace_align; /* bytes; default 64 */
  IrState *states;         /* the third memory region: weights, workspace, state */
  int n_states, cap_states;
  int64_t state_size;       /* bytes of the caller's state buffer (aligned to IR_STATE_ALIGN) */
  IrDynDim dyn[IR_MAX_DYN]; /* run-time dims (ir/dyn.c) */
  int n_dyn;
  /* 1 + the index in dyn[] of the batch dim when there are two (0: none); outer_len: the batch the
   * graph's shapes are inferred at (1 except while the interpreter runs a whole batch). */
  int outer;
  int64_t outer_len;
  /* The folds whose outputs are IrValue.len_dep, in folding order (ir/dyn.c). fold_open: the
   * ONNX importer's node-by-node folding, where Shape of a node's output may fold (its axis of
   * run-time length is found when the import closes, ir_dyn_close_folds). */
  struct IrDynFold *folds;
  int n_folds, cap_folds;
  bool fold_open;
  /* Release hooks for external resources (e.g. mmap'd weight files), run by ir_graph_free. */
  struct IrCleanup *cleanups;
  struct IrNameIndex *name_index; /* value name -> value, for ir_graph_find_value */
} IrGraph;

IrGraph *ir_graph_new(const char *name);
void ir_graph_free(IrGraph *g);
/* Register fn(ctx) to be called when g is freed (most recent first). */
void ir_graph_on_free(IrGraph *g, void (*fn)(void *ctx), void *ctx);

/* Creates a value; the name is copied. Returns NULL if the name is taken (caller reports). */
IrValue *ir_value_new(IrGraph *g, const char *name, IrValueKind kind, IrDType dtype, int rank,
                      const int64_t *dims);
IrValue *ir_graph_find_value(const IrGraph *g, const char *name);
void ir_graph_add_input(IrGraph *g, IrValue *v);
void ir_graph_add_output(IrGraph *g, IrValue *v);
/* A new node with n_inputs/n_outputs slots (NULL) and attributes set to their defaults. */
IrNode *ir_node_new(IrGraph *g, IrOp op, const char *name, int n_inputs, int n_outputs);
/* Marks v as produced by n at slot (sets kind, producer). */
void ir_node_set_output(IrNode *n, int slot, IrValue *v);

/* Makes in (a graph input) a state whose next value is out (a graph output): both leave the
 * graph's input and output lists, and the state buffer is laid out again. init: the initial
 * bytes (copied into the arena), NULL for zeros. Errors name `where` (a JSON path, "--state"). */
bool ir_graph_add_state(IrGraph *g, IrValue *in, IrValue *out, const void *init, const char *where,
                        IrDiag *d);
/* `--state OUT=IN[,OUT=IN...]`: pairs graph outputs with the graph inputs they feed next call. */
bool ir_graph_pair_states(IrGraph *g, const char *spec, IrDiag *d);
/* Writes every state's initial value into a buffer of g->state_size bytes. */
void ir_state_reset(const IrGraph *g, void *state);

/* ---- run-time dims (ir/dyn.c) ---- */
/* The index of the dynamic dim `name` with maximum max, added if new; -1 (reported at `where`)
 * if another name is already dynamic or the same name has another maximum. */
int ir_graph_dyn_dim(IrGraph *g, const char *name, int64_t max, const char *where, IrDiag *d);
/* Sets the dynamic axis of every graph input to len and infers every shape again (the graph as it
 * is at that length: the reference interpreter then runs at it). False on a shape error. */
bool ir_dyn_resize(IrGraph *g, int64_t len, IrDiag *d);
/* The same with every run-time dim, dims[k] for g->dyn[k] (the batch and the length). */
bool ir_dyn_resize_dims(IrGraph *g, const int64_t *dims, IrDiag *d);
/* The dim the body loops to (the length): g->dyn[ir_dyn_len_index(g)]. */
static inline int ir_dyn_len_index(const IrGraph *g) { return g->outer == 1 ? 1 : 0; }
/* After the frontend has marked the graph inputs: with two run-time dims, picks the batch (the one
 * on axis 0 of every input that has it, before the other) and holds it at 1 in the inputs' shapes.
 * False (reported at --max-dim) if no dim fits. */
bool ir_dyn_settle_inputs(IrGraph *g, IrDiag *d);
/* Called by ir_node_fold before it folds n in a graph with a run-time dim: false if n must not
 * fold (Shape of a node's output outside the ONNX importer's folding); *len_dep when n's outputs
 * depend on the length (Shape of a value that may have it, or an input that is len_dep). */
bool ir_dyn_may_fold(const IrGraph *g, const IrNode *n, bool *len_dep);
/* Records the fold of n (done; outputs len_dep) so that ir_dyn_resize repeats it at each length. */
void ir_dyn_record_fold(IrGraph *g, const IrNode *n);
/* Ends the importer's folding (g->fold_open): finds, by inferring the graph at a second length,
 * which axis of each folded Shape's input has the run-time length, so that the folds no longer
 * depend on graph values the passes may rewrite. False (reported) if the shapes do not follow. */
bool ir_dyn_close_folds(IrGraph *g, IrDiag *d);
/* Whether a constant the graph's nodes read changes with the run-time length (its folds give
 * another shape or other data at a second length). */
bool ir_dyn_folds_vary(IrGraph *g);
/* After the passes: finds which axis of every value has the dynamic length (IrValue.dyn) by
 * inferring the shapes at a second length, and checks that the compiled code can bound it at
 * run time: every such axis has only 1s before it (a tensor of len rows is the prefix of the one
 * at the maximum) and every node touching it computes its rows independently (element-wise,
 * MatMul/Gemm rows, Softmax/LayerNorm over a later axis, Gather of ids, ...); errors name the node.
 * Shapes are left at the maximum. No-op without dynamic dims. */
bool ir_dyn_analyze(IrGraph *g, IrDiag *d);
/* Input k of n is read whole by every block of rows, up to the run-time length (the keys and
 * values of a KilnAttention over keys of run-time length, and a mask along those keys; every
 * operand of run-time length of a node along the axis, ir_dyn_along), rather than a block of rows
 * of it. */
bool ir_dyn_whole(const IrNode *n, int k);
/* n reduces (Reduce*, ArgMax/ArgMin), normalizes (Softmax/LogSoftmax) or steps (RNN/GRU/LSTM over
 * time) along the run-time axis of its input: one call over the whole value whose loop along that
 * axis stops at the length; every operand of run-time length is read or written whole
 * (ir_dyn_whole). */
bool ir_dyn_along(const IrNode *n);
/* Bytes of one step of v's dynamic axis (v->dyn != 0): its bytes at the maximum / the maximum. */
int64_t ir_dyn_row_bytes(const IrValue *v);

/* Attribute access by name (the name must be in the op's schema; asserts otherwise). */
const IrAttr *ir_attr(const IrNode *n, const char *name);
int64_t ir_attr_i(const IrNode *n, const char *name);
double ir_attr_f(const IrNode *n, const char *name);
const char *ir_attr_s(const IrNode *n, const char *name);
/* Setters for building graphs in code (tests, passes); list data is copied into the arena. */
void ir_set_attr_i(IrGraph *g, IrNode *n, const char *name, int64_t v);
void ir_set_attr_f(IrGraph *g, IrNode *n, const char *name, double v);
void ir_set_attr_s(IrGraph *g, IrNode *n, const char *name, const char *v);
void ir_set_attr_ints(IrGraph *g, IrNode *n, const char *name, const int64_t *v, int count);
void ir_set_attr_floats(IrGraph *g, IrNode *n, const char *name, const double *v, int count);

/* Element count and byte size; the frontend guarantees these fit in int64_t. */
int64_t ir_value_numel(const IrValue *v);
int64_t ir_value_nbytes(const IrValue *v);
/* Shape helpers: product of dims with overflow check (false on overflow). */
bool ir_dims_numel(int rank, const int64_t *dims, int64_t *out);
bool ir_same_shape(const IrValue *a, const IrValue *b);
/* "nodes[3] (conv1)" for a node from the file, "node 'name'" for one made by a pass. */
const char *ir_node_where(const IrNode *n, char *buf, size_t size);
/* Inputs of the op itself: n_inputs without the operands of a fused epilogue. */
static inline int ir_node_op_inputs(const IrNode *n) { return n->n_inputs - n->n_epilogue_inputs; }
/* Location of a field of a node, "nodes[3] (conv1).attrs.strides": ir_node_where followed by
 * "." and the printf-formatted field; an empty or NULL fmt gives the node alone. */
const char *ir_node_field_where(const IrNode *n, char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Number of nodes that read v (linear scan). */
int ir_value_use_count(const IrGraph *g, const IrValue *v);
/* Constant folding of one node: when every input is a constant (or the op is IR_OPF_STATIC, which
 * needs only static shapes) and the outputs take at most max_bytes, runs the reference
 * interpreter once and turns the outputs into constants (IR_VALUE_CONST, no producer); the node
 * itself is left for the caller to drop. False if not folded (a kernel error, e.g. an index out
 * of range, is left for run time to report). */
bool ir_node_fold(IrGraph *g, IrNode *n, int64_t max_bytes);
/* Drops from g->values the values no node, input, output or state refers to (ids renumbered). The
 * name index keeps them: call it once names are no longer looked up. */
void ir_graph_drop_unused_values(IrGraph *g);

/* Sort nodes topologically (stable w.r.t. file order); reports a cycle or a value read before
 * any node defines it. */
bool ir_graph_sort(IrGraph *g, IrDiag *d);
/* Run every node's shape inference in order (graph must be sorted). */
bool ir_graph_infer_shapes(IrGraph *g, IrDiag *d);
/* Structural and type checks: arity, attribute kinds, defined-before-use, shapes consistent
 * with inference, outputs produced. Run after the frontend and after every pass in tests. */
bool ir_graph_verify(const IrGraph *g, IrDiag *d);
/* Readable text form of the graph, for --print-after and golden tests. */
void ir_graph_print(const IrGraph *g, void *file /* FILE* */);
/* Reference interpreter: runs g (sorted, shapes inferred) on inputs in declared order and writes
 * the outputs in declared order; intermediates are malloc'd and freed. Returns 0 or a negative
 * KRT_ERR_* code from a kernel. Plain C loops: the oracle the compiled code is checked against. */
int ir_interp_run(const IrGraph *g, const void *const *inputs, void *const *outputs);
/* The same for a graph with states: state is g->state_size bytes laid out as g->states say
 * (ir_state_reset), read at the start and updated at the end (NULL with states: an error). */
int ir_interp_run_state(const IrGraph *g, const void *const *inputs, void *const *outputs,
                        void *state);
/* The same with hooks (and state, may be NULL without states): run_node may compute a node
 * faster (returning 0 or a KRT_ERR_* code) or leave it to the reference kernel (returning
 * IR_INTERP_DEFAULT); observe sees every graph input and every node output once computed
 * (calibration, error reports). Either may be NULL. */
#define IR_INTERP_DEFAULT 1
typedef struct IrInterpHooks {
  void *ctx;
  int (*run_node)(void *ctx, const IrNode *n, const void *const *in, void *const *out);
  void (*observe)(void *ctx, const IrValue *v, const void *data);
} IrInterpHooks;
int ir_interp_run_hooked(const IrGraph *g, const void *const *inputs, void *const *outputs,
                         void *state, const IrInterpHooks *hooks);
/* Totals for `kiln inspect`. */
int64_t ir_graph_param_count(const IrGraph *g); /* elements of all initializers */
int64_t ir_graph_param_bytes(const IrGraph *g);
int64_t ir_node_macs(const IrNode *n); /* multiply-accumulates of one node (0 where none) */

#endif
