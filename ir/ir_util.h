/* Helpers shared by the files of ir/ (shape inference, conv parameters, verifier, interpreter):
 * message locations, shape formatting and the one broadcasting rule. Implemented in shape.c. */
#ifndef KILN_IR_UTIL_H
#define KILN_IR_UTIL_H

#include "ir.h"

/* Report a user error at field of n (a plain string such as "attrs.pads"; "" for the node) unless
 * d is NULL. Always returns false, so callers can `return ir_node_error(...)`. */
bool ir_node_error(IrDiag *d, const IrNode *n, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Integer attribute `name` of n that must be 0 or 1, as a bool; reports attrs.<name> if not. */
bool ir_attr_flag(const IrNode *n, const char *name, bool *out, IrDiag *d);

/* "[1,3,224,224]" ("[]" for a scalar) into buf; returns buf. */
const char *ir_format_dims(int rank, const int64_t *dims, char *buf, size_t size);

/* Multidirectional (NumPy) broadcasting of shapes a and b into (rank, dims). On a mismatch
 * returns false and sets *bad_axis to the offending output axis (*rank is set either way). */
bool ir_broadcast_dims(int ra, const int64_t *a, int rb, const int64_t *b, int *rank, int64_t *dims,
                       int *bad_axis);

/* Offset of output element i (row-major over (rank, dims)) in an input read with strides. */
int64_t ir_broadcast_offset(int64_t i, int rank, const int64_t *dims, const int64_t *strides);

/* Element strides of an input of shape (rank_in, dims_in) read through broadcasting at each axis
 * of an output of shape (rank_out, dims_out): 0 where the input is broadcast (missing or 1). */
void ir_broadcast_strides(int rank_in, const int64_t *dims_in, int rank_out,
                          const int64_t *dims_out, int64_t *strides);

/* The axes of a Reduce*, Squeeze or Unsqueeze node over rank `rank`, as a bit mask: from the
 * `axes` attribute if the op has one and it is present, else from input k (a constant 1-D i64
 * tensor) if present; negative axes count from the end. *count is the number of axes (0: none
 * given). Reports a bad, repeated or non-constant axis list unless d is NULL. */
bool ir_node_axes(const IrNode *n, int k, int rank, unsigned *mask, int *count, IrDiag *d);

/* A Slice node's first element and step along every axis of its input (rank r), from its
 * constant starts/ends/axes/steps clamped as ONNX says; out dims are the output's. False (and a
 * report unless d is NULL) if the inputs are not constant i32/i64 lists or a step is 0. */
bool ir_slice_params(const IrNode *n, int64_t *start, int64_t *step, int64_t *out_dims, IrDiag *d);

/* The Kiln dtype of an ONNX TensorProto element type code (Cast's `to`); false if none. */
bool ir_dtype_from_onnx(int64_t code, IrDType *out);

/* Split's normalized axis and the size of every output along it (from the `split` attribute or
 * constant i64 input 1, else equal parts); false (reported unless d is NULL) if they do not add
 * up to the input's dimension. */
bool ir_split_sizes(const IrNode *n, int *axis, int64_t *sizes, IrDiag *d);

/* The dims a Shape node reports: [*start, *end) of its input's, from `start`/`end` clamped as
 * ONNX (opset 15) says. */
void ir_shape_bounds(const IrNode *n, int *start, int *end);

/* Geometry of an RNN/GRU/LSTM node (ONNX layout 0): X [T, B, I], W [D, G*H, I], R [D, G*H, H],
 * bias [D, 2*G*H] (W then R biases), initial_h/c [D, B, H]; G gates (1, 3, 4). */
typedef struct IrRecurrent {
  int64_t T, B, I, H;
  int D, G;
  bool reverse; /* direction "reverse" (with D == 1) */
} IrRecurrent;
/* Fills r from n's shapes and attributes (shape inference has checked them). */
void ir_recurrent_geometry(const IrNode *n, IrRecurrent *r);
/* Weight-only int8 (--quantize=int8-weights / int8, passes/pass_weight8.c): W and R may be i8
 * constants, each then with an f32 constant scale [D, G*H] (one per gate row, symmetric) in
 * these input slots (not ONNX's; RNN and GRU leave slots 6 and 7 empty). W[d][j][k] stands for
 * W_i8[d][j][k] * scale[d][j]. */
enum { IR_RECURRENT_W_SCALE = 8, IR_RECURRENT_R_SCALE = 9 };
/* W (k = 1) or R (k = 2) of n dequantized into a new malloc'd f32 array, or NULL when it is f32
 * (the interpreter then reads the input itself). */
float *ir_recurrent_dequantize(const IrNode *n, int k, const void *w, const void *scale);

/* The activation functions of a recurrent node (ONNX's list): per direction, slots f, g, h (RNN:
 * f; GRU: f, g; LSTM: f, g, h), each with its alpha / beta (from activation_alpha/beta, consumed
 * in order by the functions that take them, else the ONNX op's default). */
typedef enum {
  IR_ACT_SIGMOID,
  IR_ACT_TANH,
  IR_ACT_RELU,
  IR_ACT_AFFINE,           /* alpha x + beta */
  IR_ACT_LEAKY_RELU,       /* x < 0 ? alpha x : x */
  IR_ACT_THRESHOLDED_RELU, /* x > alpha ? x : 0 */
  IR_ACT_SCALED_TANH,      /* alpha tanh(beta x) */
  IR_ACT_HARD_SIGMOID,     /* clamp(alpha x + beta, 0, 1) */
  IR_ACT_ELU,              /* x < 0 ? alpha (e^x - 1) : x */
  IR_ACT_SOFTSIGN,
  IR_ACT_SOFTPLUS,
} IrActKind;
typedef struct IrAct {
  IrActKind kind;
  float alpha, beta;
} IrAct;
bool ir_recurrent_activations(const IrNode *n, IrAct acts[2][3], IrDiag *d);
/* The activation applied to x, in double (the interpreter's). */
double ir_act_apply(const IrAct *a, double x);

/* The node scratch of an RNN/GRU/LSTM (codegen/cg_seq.c; pass_kernels.c reserves it), as float
 * offsets, each a multiple of 16 floats: rec [B][G*H], GRU only: R h + Rb kept apart
 * (linear_before_reset scales it by the reset gate); bias [G*H], Wb + Rb; h [B][H]; c [B][H],
 * LSTM only; last, proj [chunk][B][G*H], the input projection of a chunk of steps (with the
 * biases) to which each step adds R h, so that it ends as the gate pre-activations. The steps are
 * projected `chunk` at a time: all T when their projection fits proj_bytes, else as many as fit
 * (at least one), so the scratch stays small for long sequences and on small devices. */
#define IR_RECURRENT_PROJ_BYTES (32 * 1024) /* hosts; kiln asks for less on bare metal */
typedef struct IrRecurrentScratch {
  int64_t chunk; /* steps per projection GEMM */
  int64_t rec, bias, h, c, proj;
  int64_t floats; /* total */
} IrRecurrentScratch;
void ir_recurrent_scratch(const IrNode *n, int64_t proj_bytes, IrRecurrentScratch *s);
/* The layout of a node's scratch of scratch_bytes (the kernel pass's choice): the chunk is as
 * many steps as proj holds. */
void ir_recurrent_scratch_of(const IrNode *n, int64_t scratch_bytes, IrRecurrentScratch *s);

/* Gather viewed as [outer, len, inner]: outer = product of data dims before axis, len = the
 * indexed dim, inner = bytes of one row after it. Shared by interpreter and codegen so both
 * index the table the same way. */
void ir_gather_geometry(const IrNode *n, int64_t *outer, int64_t *len, int64_t *inner_bytes);

/* ScatterND viewed as `count` index tuples of k entries, each selecting a slice of slice_bytes
 * (data.shape[k:] elements); shared by interpreter and codegen. */
void ir_scatter_nd_geometry(const IrNode *n, int64_t *count, int *k, int64_t *slice_bytes);
/* ScatterND's `reduction` (opset 16: add, mul; 18: max, min). */
typedef enum {
  SCATTER_NONE,
  SCATTER_ADD,
  SCATTER_MUL,
  SCATTER_MAX,
  SCATTER_MIN
} IrScatterReduction;
IrScatterReduction ir_scatter_nd_reduction(const IrNode *n);

/* DepthToSpace / SpaceToDepth as a transpose: the output viewed as 6-D (dims) and the element
 * stride in the input of each view axis. */
void ir_space_depth_view(const IrNode *n, int64_t *dims, int64_t *strides);

/* CumSum's axis (constant input 1), normalized. */
int ir_cumsum_axis(const IrNode *n);

/* Resize / Upsample: every axis's scale and output size (from scales, sizes or Upsample's
 * attribute); false, reported unless d is NULL, when they are missing or invalid. */
bool ir_resize_scales(const IrNode *n, double *scales, int64_t *out, IrDiag *d);
#define IR_RESIZE_MAX_DIM (1 << 20) /* longest resized axis, most taps of an axis (tables) */
#define IR_RESIZE_MAX_TAPS 256      /* taps per output coordinate (antialias downscaling) */
/* The input coordinate of output coordinate o along an axis (coordinate_transformation_mode). */
double ir_resize_coord(const IrNode *n, int64_t o, double scale, int64_t in, int64_t out);
/* The input index nearest to coordinate x (nearest_mode), clamped to [0, in). */
int64_t ir_resize_nearest(const IrNode *n, double x, int64_t in);
/* Taps per output coordinate along an axis of this scale (1 nearest, 2 linear, 4 cubic, more for
 * antialias downscaling), and those taps of output coordinate o: input indices (clamped) and
 * weights, as onnx's reference implementation. Shared by interpreter and codegen. */
int64_t ir_resize_tap_count(const IrNode *n, double scale);
void ir_resize_taps(const IrNode *n, int64_t o, double scale, int64_t in, int64_t out, int64_t *idx,
                    double *w);

/* Einsum of one or two f32 operands as a loop over labels: labels [0, n_out) index the output
 * in order, the others are summed over; per operand the element stride of each label (the sum
 * of its axes' strides: a repeated label walks a diagonal; 0 where the operand lacks it or
 * broadcasts it). */
#define IR_EINSUM_MAX_LABELS 16
typedef struct IrEinsum {
  int n_ops, n_labels, n_out;
  int64_t size[IR_EINSUM_MAX_LABELS];
  int64_t stride[2][IR_EINSUM_MAX_LABELS];
} IrEinsum;
/* Parses n's equation against its inputs' shapes; false (reported unless d is NULL) if it is
 * malformed or does not fit them. */
bool ir_einsum_geometry(const IrNode *n, IrEinsum *e, IrDiag *d);

/* KilnAttention (passes/pass_attention.c): out = softmax(scale * Q K^T + mask) V per (batch,
 * head), each operand read through its permutation as a logical [N1, N2, S, D] tensor (rank-3
 * operands as [1, N, S, D]): logical axis j of Q is input axis q_perm[j] (offset by one for rank
 * 3), likewise K [N1, N2, Skv, D], V [N1, N2, Skv, Dv]; output axis j holds logical axis
 * out_perm[j] of [N1, N2, Sq, Dv]. The mask (optional input 3) broadcasts against [N1, N2, Sq, Skv]
 * (right aligned); causal: query i sees keys j <= i + Skv - Sq. Element strides 0 where broadcast.
 * Shared by shape inference, the interpreter and codegen (codegen/kernels/cg_attention.c). */
typedef struct IrAttention {
  int64_t n1, n2, sq, skv, d, dv;
  int64_t q[4], k[4], v[4], mask[4], out[4]; /* logical element strides */
  int out_rank;
  int64_t out_dims[4];
  double scale;
  bool causal, has_mask;
} IrAttention;
/* False (reported unless d is NULL) if the shapes or permutations do not fit. */
bool ir_attention_geometry(const IrNode *n, IrAttention *a, IrDiag *d);
/* The kernel's node scratch: the output row's accumulator (Dv floats), then the scores of one
 * block of IR_ATTENTION_BLOCK keys. */
#define IR_ATTENTION_BLOCK 32
static inline int64_t ir_attention_scratch_floats(const IrAttention *a) {
  return a->dv + IR_ATTENTION_BLOCK;
}

#endif
