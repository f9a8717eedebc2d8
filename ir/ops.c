/* The op table: one row per op from ops.def, with its ONNX opset-17 attribute schema (names,
 * kinds, defaults) and the shape-inference and interpreter functions the row names. */
#include <assert.h>
#include <string.h>

#include "kernels.h"

#define A_INT(n, d)                                                                                \
  { .name = (n), .kind = IR_ATTR_INT, .def_i = (d) }
#define A_FLOAT(n, d)                                                                              \
  { .name = (n), .kind = IR_ATTR_FLOAT, .def_f = (d) }
#define A_STR(n, d)                                                                                \
  { .name = (n), .kind = IR_ATTR_STRING, .def_s = (d) }
#define A_INTS(n)                                                                                  \
  { .name = (n), .kind = IR_ATTR_INTS }
#define A_FLOATS(n)                                                                                \
  { .name = (n), .kind = IR_ATTR_FLOATS }
#define A_REQ_INT(n)                                                                               \
  { .name = (n), .kind = IR_ATTR_INT, .required = true }
#define A_REQ_INTS(n)                                                                              \
  { .name = (n), .kind = IR_ATTR_INTS, .required = true }
#define END                                                                                        \
  { 0 }

#define CONV_ATTRS                                                                                 \
  A_STR("auto_pad", "NOTSET"), A_INTS("dilations"), A_INT("group", 1), A_INTS("kernel_shape"),     \
      A_INTS("pads"), A_INTS("strides")

static const IrAttrSpec ir_attrs_gemm[] = {A_FLOAT("alpha", 1.0), A_FLOAT("beta", 1.0),
                                           A_INT("transA", 0), A_INT("transB", 0), END};
static const IrAttrSpec ir_attrs_matmul[] = {END};
static const IrAttrSpec ir_attrs_conv[] = {CONV_ATTRS, END};
static const IrAttrSpec ir_attrs_conv_transpose[] = {CONV_ATTRS, A_INTS("output_padding"),
                                                     A_INTS("output_shape"), END};
static const IrAttrSpec ir_attrs_max_pool[] = {A_STR("auto_pad", "NOTSET"),
                                               A_INT("ceil_mode", 0),
                                               A_INTS("dilations"),
                                               A_REQ_INTS("kernel_shape"),
                                               A_INTS("pads"),
                                               A_INT("storage_order", 0),
                                               A_INTS("strides"),
                                               END};
static const IrAttrSpec ir_attrs_average_pool[] = {A_STR("auto_pad", "NOTSET"),
                                                   A_INT("ceil_mode", 0),
                                                   A_INT("count_include_pad", 0),
                                                   A_INTS("dilations"), /* opset 19 */
                                                   A_REQ_INTS("kernel_shape"),
                                                   A_INTS("pads"),
                                                   A_INTS("strides"),
                                                   END};
static const IrAttrSpec ir_attrs_global_average_pool[] = {END};
static const IrAttrSpec ir_attrs_relu[] = {END};
static const IrAttrSpec ir_attrs_leaky_relu[] = {A_FLOAT("alpha", 0.01), END};
static const IrAttrSpec ir_attrs_sigmoid[] = {END};
static const IrAttrSpec ir_attrs_tanh[] = {END};
static const IrAttrSpec ir_attrs_clip[] = {END};
static const IrAttrSpec ir_attrs_softmax[] = {A_INT("axis", -1), END};
static const IrAttrSpec ir_attrs_flatten[] = {A_INT("axis", 1), END};
static const IrAttrSpec ir_attrs_reshape[] = {A_INT("allowzero", 0), END};
static const IrAttrSpec ir_attrs_concat[] = {A_REQ_INT("axis"), END};
static const IrAttrSpec ir_attrs_add[] = {END};
static const IrAttrSpec ir_attrs_sub[] = {END};
static const IrAttrSpec ir_attrs_mul[] = {END};
static const IrAttrSpec ir_attrs_div[] = {END};
static const IrAttrSpec ir_attrs_batch_norm[] = {A_FLOAT("epsilon", 1e-5), A_FLOAT("momentum", 0.9),
                                                 A_INT("training_mode", 0), END};
static const IrAttrSpec ir_attrs_identity[] = {END};
static const IrAttrSpec ir_attrs_dropout[] = {A_INT("seed", 0), END};
static const IrAttrSpec ir_attrs_pad[] = {A_STR("mode", "constant"), END};
static const IrAttrSpec ir_attrs_gather[] = {A_INT("axis", 0), END};
/* Reduce*: `axes` is an attribute up to opset 17 (ReduceSum: an input since 13); either works */
#define REDUCE_ATTRS A_INTS("axes"), A_INT("keepdims", 1), A_INT("noop_with_empty_axes", 0), END
static const IrAttrSpec ir_attrs_reduce_mean[] = {REDUCE_ATTRS};
static const IrAttrSpec ir_attrs_reduce_sum[] = {REDUCE_ATTRS};
static const IrAttrSpec ir_attrs_reduce_max[] = {REDUCE_ATTRS};
static const IrAttrSpec ir_attrs_transpose[] = {A_INTS("perm"), END};
static const IrAttrSpec ir_attrs_squeeze[] = {END};
static const IrAttrSpec ir_attrs_unsqueeze[] = {END};
/* Recurrent ops: `activations` is ONNX's list of strings written as one comma-separated string
 * ("Relu" or "HardSigmoid,Tanh,Tanh"; empty: the defaults), see ir_recurrent_activations */
#define RNN_ATTRS                                                                                  \
  A_STR("activations", ""), A_FLOATS("activation_alpha"), A_FLOATS("activation_beta"),             \
      A_FLOAT("clip", 0.0), A_STR("direction", "forward"), A_REQ_INT("hidden_size"),               \
      A_INT("layout", 0)
static const IrAttrSpec ir_attrs_rnn[] = {RNN_ATTRS, END};
static const IrAttrSpec ir_attrs_gru[] = {RNN_ATTRS, A_INT("linear_before_reset", 0), END};
static const IrAttrSpec ir_attrs_lstm[] = {RNN_ATTRS, A_INT("input_forget", 0), END};
static const IrAttrSpec ir_attrs_slice[] = {END};
static const IrAttrSpec ir_attrs_exp[] = {END};
static const IrAttrSpec ir_attrs_log[] = {END};
static const IrAttrSpec ir_attrs_sqrt[] = {END};
static const IrAttrSpec ir_attrs_neg[] = {END};
static const IrAttrSpec ir_attrs_abs[] = {END};
static const IrAttrSpec ir_attrs_erf[] = {END};
static const IrAttrSpec ir_attrs_pow[] = {END};
/* `split` is an attribute up to opset 12, an input since 13 */
static const IrAttrSpec ir_attrs_split[] = {A_INT("axis", 0), A_INTS("split"), END};
static const IrAttrSpec ir_attrs_equal[] = {END};
static const IrAttrSpec ir_attrs_less[] = {END};
static const IrAttrSpec ir_attrs_greater[] = {END};
static const IrAttrSpec ir_attrs_where[] = {END};
static const IrAttrSpec ir_attrs_cast[] = {A_REQ_INT("to"), A_INT("saturate", 1), END};
static const IrAttrSpec ir_attrs_shape[] = {A_INT("start", 0), A_INT("end", 0), END};
/* Constant: the ONNX tensor `value` (and the string forms) cannot be written in Kiln JSON */
static const IrAttrSpec ir_attrs_constant[] = {A_FLOAT("value_float", 0.0),
                                               A_FLOATS("value_floats"), A_INT("value_int", 0),
                                               A_INTS("value_ints"), END};
/* ConstantOfShape: `value` is a one-element list of numbers; the output is f32 */
static const IrAttrSpec ir_attrs_constant_of_shape[] = {A_FLOATS("value"), END};
static const IrAttrSpec ir_attrs_expand[] = {END};
static const IrAttrSpec ir_attrs_range[] = {END};
/* Gelu (opset 20): "none" is x/2 (1 + erf(x/sqrt 2)), "tanh" the tanh approximation */
static const IrAttrSpec ir_attrs_gelu[] = {A_STR("approximate", "none"), END};
static const IrAttrSpec ir_attrs_attention[] = {A_INTS("q_perm"),
                                                A_INTS("k_perm"),
                                                A_INTS("v_perm"),
                                                A_INTS("out_perm"),
                                                A_FLOAT("scale", 1),
                                                A_INT("causal", 0),
                                                END};
static const IrAttrSpec ir_attrs_log_softmax[] = {A_INT("axis", -1), END};
static const IrAttrSpec ir_attrs_layer_norm[] = {A_INT("axis", -1), A_FLOAT("epsilon", 1e-5),
                                                 A_INT("stash_type", 1), END};
#define ARG_ATTRS A_INT("axis", 0), A_INT("keepdims", 1), A_INT("select_last_index", 0), END
static const IrAttrSpec ir_attrs_arg_max[] = {ARG_ATTRS};
static const IrAttrSpec ir_attrs_arg_min[] = {ARG_ATTRS};
static const IrAttrSpec ir_attrs_logical_not[] = {END};
static const IrAttrSpec ir_attrs_logical_and[] = {END};
static const IrAttrSpec ir_attrs_logical_or[] = {END};
static const IrAttrSpec ir_attrs_logical_xor[] = {END};
static const IrAttrSpec ir_attrs_scatter_nd[] = {A_STR("reduction", "none"), END};
static const IrAttrSpec ir_attrs_elu[] = {A_FLOAT("alpha", 1.0), END};
static const IrAttrSpec ir_attrs_selu[] = {A_FLOAT("alpha", 1.67326319217681884765625),
                                           A_FLOAT("gamma", 1.05070102214813232421875), END};
static const IrAttrSpec ir_attrs_softplus[] = {END};
static const IrAttrSpec ir_attrs_softsign[] = {END};
static const IrAttrSpec ir_attrs_hard_sigmoid[] = {A_FLOAT("alpha", 0.2), A_FLOAT("beta", 0.5),
                                                   END};
static const IrAttrSpec ir_attrs_hard_swish[] = {END};
static const IrAttrSpec ir_attrs_mish[] = {END};
static const IrAttrSpec ir_attrs_reciprocal[] = {END};
static const IrAttrSpec ir_attrs_floor[] = {END};
static const IrAttrSpec ir_attrs_ceil[] = {END};
static const IrAttrSpec ir_attrs_round[] = {END};
static const IrAttrSpec ir_attrs_sign[] = {END};
static const IrAttrSpec ir_attrs_prelu[] = {END};
static const IrAttrSpec ir_attrs_mod[] = {A_INT("fmod", 0), END};
static const IrAttrSpec ir_attrs_sum[] = {END};
static const IrAttrSpec ir_attrs_mean[] = {END};
static const IrAttrSpec ir_attrs_min[] = {END};
static const IrAttrSpec ir_attrs_max[] = {END};
static const IrAttrSpec ir_attrs_reduce_min[] = {REDUCE_ATTRS};
static const IrAttrSpec ir_attrs_reduce_prod[] = {REDUCE_ATTRS};
static const IrAttrSpec ir_attrs_reduce_l1[] = {REDUCE_ATTRS};
static const IrAttrSpec ir_attrs_reduce_l2[] = {REDUCE_ATTRS};
static const IrAttrSpec ir_attrs_reduce_sum_square[] = {REDUCE_ATTRS};
static const IrAttrSpec ir_attrs_reduce_log_sum_exp[] = {REDUCE_ATTRS};
static const IrAttrSpec ir_attrs_global_max_pool[] = {END};
static const IrAttrSpec ir_attrs_lrn[] = {A_FLOAT("alpha", 1e-4), A_FLOAT("beta", 0.75),
                                          A_FLOAT("bias", 1.0), A_REQ_INT("size"), END};
static const IrAttrSpec ir_attrs_instance_norm[] = {A_FLOAT("epsilon", 1e-5), END};
static const IrAttrSpec ir_attrs_tile[] = {END};
static const IrAttrSpec ir_attrs_depth_to_space[] = {A_REQ_INT("blocksize"), A_STR("mode", "DCR"),
                                                     END};
static const IrAttrSpec ir_attrs_space_to_depth[] = {A_REQ_INT("blocksize"), END};
static const IrAttrSpec ir_attrs_cumsum[] = {A_INT("exclusive", 0), A_INT("reverse", 0), END};
static const IrAttrSpec ir_attrs_resize[] = {A_INT("antialias", 0),
                                             A_INTS("axes"),
                                             A_STR("coordinate_transformation_mode", "half_pixel"),
                                             A_FLOAT("cubic_coeff_a", -0.75),
                                             A_INT("exclude_outside", 0),
                                             A_FLOAT("extrapolation_value", 0.0),
                                             A_STR("keep_aspect_ratio_policy", "stretch"),
                                             A_STR("mode", "nearest"),
                                             A_STR("nearest_mode", "round_prefer_floor"),
                                             END};
static const IrAttrSpec ir_attrs_upsample[] = {A_STR("mode", "nearest"), A_FLOATS("scales"), END};
static const IrAttrSpec ir_attrs_einsum[] = {
    {.name = "equation", .kind = IR_ATTR_STRING, .required = true, .def_s = ""}, END};

/* int8 (ir/quant.c): per-tensor QuantizeLinear/DequantizeLinear (axis is accepted, unused) */
/* saturate (19+) concerns float8 outputs only: no effect on i8/u8 */
static const IrAttrSpec ir_attrs_quantize_linear[] = {A_INT("axis", 1), A_INT("saturate", 1), END};
static const IrAttrSpec ir_attrs_dequantize_linear[] = {A_INT("axis", 1), END};
static const IrAttrSpec ir_attrs_gemm_w8[] = {A_INT("transB", 0), END};
static const IrAttrSpec ir_attrs_layout[] = {END};
static const IrAttrSpec ir_attrs_dynamic_quantize_linear[] = {END};
static const IrAttrSpec ir_attrs_matmul_integer[] = {END};
static const IrAttrSpec ir_attrs_qlinear_conv[] = {CONV_ATTRS, END};
static const IrAttrSpec ir_attrs_conv_integer[] = {CONV_ATTRS, END};
static const IrAttrSpec ir_attrs_qadd[] = {END};
static const IrAttrSpec ir_attrs_qmul[] = {END};
static const IrAttrSpec ir_attrs_qlookup[] = {END};
static const IrAttrSpec ir_attrs_qglobal_average_pool[] = {END};
static const IrAttrSpec ir_attrs_qconcat[] = {A_REQ_INT("axis"), END};
/* the same schemas as the float ops */
#define ir_attrs_qaverage_pool ir_attrs_average_pool
#define ir_attrs_qlinear_conv_transpose ir_attrs_conv_transpose

static const IrAttrSpec ir_attrs_qgemm[] = {A_FLOAT("alpha", 1.0), A_INT("transA", 0),
                                            A_INT("transB", 0), END};

const IrOpInfo ir_op_info[IR_OP_COUNT] = {
#define OP(id, nm, mi, ma, mo, mao, fl, stem)                                                      \
  [IR_OP_##id] = {.name = nm,                                                                      \
                  .min_inputs = mi,                                                                \
                  .max_inputs = ma,                                                                \
                  .min_outputs = mo,                                                               \
                  .max_outputs = mao,                                                              \
                  .flags = fl,                                                                     \
                  .attrs = ir_attrs_##stem,                                                        \
                  .infer = ir_infer_##stem,                                                        \
                  .interp = ir_interp_##stem},
#include "ops.def"
#undef OP
};

/* Fused epilogue steps keep their operands in arrays of IR_MAX_STEP_INPUTS (codegen, the
 * interpreter): every element-wise op must fit. */
#define OP(id, nm, mi, ma, mo, mao, fl, stem)                                                      \
  static_assert(!((fl) & (IR_OPF_UNARY | IR_OPF_BINARY)) || (ma) <= IR_MAX_STEP_INPUTS,            \
                nm ": an element-wise op has at most IR_MAX_STEP_INPUTS inputs");
#include "ops.def"
#undef OP

bool ir_op_from_name(const char *name, IrOp *out) {
  for (int op = 0; op < IR_OP_COUNT; op++)
    if (strcmp(ir_op_info[op].name, name) == 0) {
      *out = (IrOp)op;
      return true;
    }
  return false;
}

int ir_op_attr_count(IrOp op) {
  int k = 0;
  while (ir_op_info[op].attrs[k].name) k++;
  return k;
}

int ir_op_attr_index(IrOp op, const char *attr_name) {
  for (int k = 0; ir_op_info[op].attrs[k].name; k++)
    if (strcmp(ir_op_info[op].attrs[k].name, attr_name) == 0) return k;
  return -1;
}

const char *const ir_kernel_names[IR_KERNEL_COUNT] = {
    [IR_KERNEL_DEFAULT] = "loops",
    [IR_KERNEL_GEMM] = "gemm-tiled",
    [IR_KERNEL_CONV_GEMM] = "conv-im2col-gemm",
    [IR_KERNEL_CONV_1X1] = "conv-1x1-gemm",
    [IR_KERNEL_CONV_WIDE] = "conv-padded-wide-gemm",
    [IR_KERNEL_CONVT_GEMM] = "convtranspose-gemm-col2im",
    [IR_KERNEL_RECURRENT] = "recurrent-gemm",
    [IR_KERNEL_CONV_WINOGRAD] = "conv-winograd-f2x3",
    [IR_KERNEL_ATTENTION] = "attention-online-softmax",
    [IR_KERNEL_SPARSE_BLOCK] = "sparse-block",
    [IR_KERNEL_SPARSE_CSR] = "sparse-csr",
    [IR_KERNEL_SPARSE_UNROLLED] = "sparse-unrolled",
    [IR_KERNEL_QGEMM_DOT4] = "qgemm-dot4",
    [IR_KERNEL_QCONV_DOT4] = "qconv-im2col-dot4",
    [IR_KERNEL_CONVT_SUBPIXEL] = "convtranspose-subpixel",
    [IR_KERNEL_QCONV_WINOGRAD] = "qconv-winograd-f2x3",
    [IR_KERNEL_CONV_NCHWC] = "conv-nchwc-direct",
    [IR_KERNEL_QCONVT_SUBPIXEL] = "qconvtranspose-subpixel",
    [IR_KERNEL_QCONV_DIRECT] = "qconv-direct-dot4",
};
