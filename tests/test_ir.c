/* Tests of ir/: shape inference (edge cases and error messages), conv parameter resolution, the
 * verifier, the printer, MAC counts and the reference interpreter on hand-computed cases. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_params.h"
#include "ir.h"
#include "test_util.h"

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define NDIMS(...) ((int)(sizeof(DIMS(__VA_ARGS__)) / sizeof(int64_t)))
#define INS(...) ((IrValue *const[]){__VA_ARGS__})
#define NINS(...) ((int)(sizeof(INS(__VA_ARGS__)) / sizeof(IrValue *)))

/* ---- graph building helpers ----------------------------------------------------------- */

static IrValue *add_input(IrGraph *g, const char *name, IrDType dt, int rank, const int64_t *dims) {
  IrValue *v = ir_value_new(g, name, IR_VALUE_INPUT, dt, rank, dims);
  ir_graph_add_input(g, v);
  return v;
}
#define IN(g, name, ...) add_input(g, name, IR_F32, NDIMS(__VA_ARGS__), DIMS(__VA_ARGS__))

/* A constant; data (may be NULL: zeros) is copied into the arena. */
static IrValue *add_const(IrGraph *g, const char *name, IrDType dt, int rank, const int64_t *dims,
                          const void *data) {
  IrValue *v = ir_value_new(g, name, IR_VALUE_CONST, dt, rank, dims);
  size_t bytes = (size_t)ir_value_nbytes(v);
  void *p = ir_arena_alloc(g->arena, bytes ? bytes : 1);
  if (data) memcpy(p, data, bytes);
  v->data = p;
  return v;
}
#define CONST_F32(g, name, data, ...)                                                              \
  add_const(g, name, IR_F32, NDIMS(__VA_ARGS__), DIMS(__VA_ARGS__), data)
#define CONST_I64(g, name, ...)                                                                    \
  add_const(g, name, IR_I64, 1, DIMS(NDIMS(__VA_ARGS__)), DIMS(__VA_ARGS__))

/* A node as if read from the file (src_index = its position), with one output named out. */
static IrNode *add_node(IrGraph *g, IrOp op, const char *out, int n_in, IrValue *const *ins) {
  IrNode *n = ir_node_new(g, op, NULL, n_in, 1);
  n->src_index = n->id;
  for (int k = 0; k < n_in; k++) n->inputs[k] = ins[k];
  ir_node_set_output(n, 0, ir_value_new(g, out, IR_VALUE_NODE, IR_F32, 0, NULL));
  return n;
}
#define NODE(g, op, out, ...) add_node(g, op, out, NINS(__VA_ARGS__), INS(__VA_ARGS__))

static IrValue *val(IrGraph *g, const char *name) { return ir_graph_find_value(g, name); }

/* Sorts, infers and verifies g with `out` as the graph output; prints the messages if any. */
static bool prepare(IrGraph *g, const char *out) {
  if (out) ir_graph_add_output(g, val(g, out));
  IrDiag d;
  ir_diag_init(&d, "model.json", false);
  bool ok = ir_graph_sort(g, &d) && ir_graph_infer_shapes(g, &d) && ir_graph_verify(g, &d);
  if (!ok) fprintf(stderr, "unexpected errors:\n%s", d.text ? d.text : "");
  ir_diag_free(&d);
  return ok;
}

static bool shape_is(const IrValue *v, int rank, const int64_t *dims) {
  if (v->rank != rank) return false;
  for (int i = 0; i < rank; i++)
    if (v->dims[i] != dims[i]) return false;
  return true;
}

static const char *shape_str(const IrValue *v) {
  static char buf[256];
  int len = snprintf(buf, sizeof buf, "%s[", ir_dtype_name(v->dtype));
  for (int i = 0; i < v->rank; i++)
    len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%lld", i ? "," : "",
                    (long long)v->dims[i]);
  snprintf(buf + len, sizeof buf - (size_t)len, "]");
  return buf;
}

/* Infers g and checks the shape of `out`; frees g. */
static void expect_shape_(int line, IrGraph *g, const char *out, int rank, const int64_t *dims) {
  bool ok = prepare(g, out);
  CHECK(ok, "line %d: inference failed", line);
  if (ok) CHECK(shape_is(val(g, out), rank, dims), "line %d: got %s", line, shape_str(val(g, out)));
  ir_graph_free(g);
}
#define EXPECT_SHAPE(g, out, ...)                                                                  \
  expect_shape_(__LINE__, g, out, NDIMS(__VA_ARGS__), DIMS(__VA_ARGS__))
#define EXPECT_SCALAR(g, out) expect_shape_(__LINE__, g, out, 0, NULL)

/* Inference of g must fail with a message containing `needle`; frees g. */
static void expect_error_(int line, IrGraph *g, const char *needle) {
  IrDiag d;
  ir_diag_init(&d, "model.json", false);
  bool ok = ir_graph_sort(g, &d) && ir_graph_infer_shapes(g, &d);
  CHECK(!ok, "line %d: inference succeeded, expected an error with '%s'", line, needle);
  CHECK(d.text && strstr(d.text, needle), "line %d: want '%s' in: %s", line, needle,
        d.text ? d.text : "(no message)");
  ir_diag_free(&d);
  ir_graph_free(g);
}
#define EXPECT_ERROR(g, needle) expect_error_(__LINE__, g, needle)

/* Verification of g (shapes already inferred) must fail mentioning `needle`. */
static void expect_verify_error_(int line, IrGraph *g, const char *needle) {
  IrDiag d;
  ir_diag_init(&d, NULL, false);
  CHECK(!ir_graph_verify(g, &d), "line %d: verify succeeded, expected '%s'", line, needle);
  CHECK(d.text && strstr(d.text, needle), "line %d: want '%s' in: %s", line, needle,
        d.text ? d.text : "(no message)");
  ir_diag_free(&d);
}
#define EXPECT_VERIFY_ERROR(g, needle) expect_verify_error_(__LINE__, g, needle)

static void set_ints_(IrGraph *g, IrNode *n, const char *name, int count, const int64_t *v) {
  ir_set_attr_ints(g, n, name, v, count);
}
#define SET_INTS(g, n, name, ...) set_ints_(g, n, name, NDIMS(__VA_ARGS__), DIMS(__VA_ARGS__))

/* Runs a prepared single-input graph and compares its first output with want. */
static void expect_run_(int line, IrGraph *g, const char *out, const float *const *inputs,
                        const float *want, double tol) {
  if (!prepare(g, out)) {
    CHECK(false, "line %d: graph does not verify", line);
    ir_graph_free(g);
    return;
  }
  int64_t count = ir_value_numel(val(g, out));
  float *got = calloc((size_t)count, sizeof *got);
  void *outs[1] = {got};
  int rc = ir_interp_run(g, (const void *const *)inputs, outs);
  CHECK(rc == 0, "line %d: interpreter returned %d", line, rc);
  char what[64];
  snprintf(what, sizeof what, "line %d", line);
  CHECK(test_close_f32(got, want, (long)count, tol, tol, what), "line %d: wrong values", line);
  free(got);
  ir_graph_free(g);
}
#define EXPECT_RUN(g, out, inputs, ...)                                                            \
  expect_run_(__LINE__, g, out, inputs, (const float[]){__VA_ARGS__}, 1e-6)

/* ---- shape inference ------------------------------------------------------------------ */

static void test_conv_shapes(void) {
  IrGraph *g = ir_graph_new("t");
  IrNode *n = NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 3, 28, 28),
                   CONST_F32(g, "w", NULL, 32, 3, 3, 3), CONST_F32(g, "b", NULL, 32));
  SET_INTS(g, n, "pads", 1, 1, 1, 1);
  SET_INTS(g, n, "kernel_shape", 3, 3);
  EXPECT_SHAPE(g, "y", 1, 32, 28, 28);

  /* stride, dilation, asymmetric pads: H: (10+1+0-5)/2+1 = 4, W: (10+0+2-5)/3+1 = 3 */
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONV, "y", IN(g, "x", 2, 4, 10, 10), CONST_F32(g, "w", NULL, 6, 2, 3, 3));
  ir_set_attr_i(g, n, "group", 2);
  SET_INTS(g, n, "dilations", 2, 2);
  SET_INTS(g, n, "strides", 2, 3);
  SET_INTS(g, n, "pads", 1, 0, 0, 2);
  EXPECT_SHAPE(g, "y", 2, 6, 4, 3);

  /* auto_pad SAME_UPPER / SAME_LOWER: out = ceil(in / stride), odd padding split */
  const char *modes[] = {"SAME_UPPER", "SAME_LOWER"};
  for (int m = 0; m < 2; m++) {
    g = ir_graph_new("t");
    n = NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 1, 6, 7), CONST_F32(g, "w", NULL, 1, 1, 3, 3));
    ir_set_attr_s(g, n, "auto_pad", modes[m]);
    SET_INTS(g, n, "strides", 2, 2);
    IrConvParams p;
    CHECK(prepare(g, "y"), "SAME conv");
    CHECK(ir_conv_params(n, &p, NULL), "params");
    /* H=6: total = 2*2+3-6 = 1; W=7: total = 3*2+3-7 = 2 */
    CHECK(p.oh == 3 && p.ow == 4, "%s: out %lldx%lld", modes[m], (long long)p.oh, (long long)p.ow);
    if (m == 0)
      CHECK(p.pad_t == 0 && p.pad_b == 1 && p.pad_l == 1 && p.pad_r == 1, "SAME_UPPER pads");
    else
      CHECK(p.pad_t == 1 && p.pad_b == 0 && p.pad_l == 1 && p.pad_r == 1, "SAME_LOWER pads");
    ir_graph_free(g);
  }
  /* VALID: no padding */
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 1, 5, 5), CONST_F32(g, "w", NULL, 1, 1, 3, 3));
  ir_set_attr_s(g, n, "auto_pad", "VALID");
  SET_INTS(g, n, "strides", 2, 2);
  EXPECT_SHAPE(g, "y", 1, 1, 2, 2);
}

static void test_conv_transpose_shapes(void) {
  /* out = s*(in-1) + output_padding + k - pads = 2*2 + 1 + 3 - 2 = 6; M = 2 * group */
  IrGraph *g = ir_graph_new("t");
  IrNode *n = NODE(g, IR_OP_CONV_TRANSPOSE, "y", IN(g, "x", 1, 4, 3, 3),
                   CONST_F32(g, "w", NULL, 4, 2, 3, 3), CONST_F32(g, "b", NULL, 4));
  ir_set_attr_i(g, n, "group", 2);
  SET_INTS(g, n, "strides", 2, 2);
  SET_INTS(g, n, "pads", 1, 1, 1, 1);
  SET_INTS(g, n, "output_padding", 1, 1);
  EXPECT_SHAPE(g, "y", 1, 4, 6, 6);

  /* output_shape: total padding 2*2+3-6 = 1 goes to the beginning unless SAME_UPPER */
  for (int upper = 0; upper < 2; upper++) {
    g = ir_graph_new("t");
    n = NODE(g, IR_OP_CONV_TRANSPOSE, "y", IN(g, "x", 1, 1, 3, 3),
             CONST_F32(g, "w", NULL, 1, 1, 3, 3));
    SET_INTS(g, n, "strides", 2, 2);
    SET_INTS(g, n, "output_shape", 6, 7);
    if (upper) ir_set_attr_s(g, n, "auto_pad", "SAME_UPPER");
    CHECK(prepare(g, "y"), "output_shape");
    CHECK(shape_is(val(g, "y"), 4, DIMS(1, 1, 6, 7)), "got %s", shape_str(val(g, "y")));
    IrConvParams p;
    CHECK(ir_conv_params(n, &p, NULL), "params");
    CHECK(p.pad_t == (upper ? 0 : 1) && p.pad_b == (upper ? 1 : 0) && p.pad_l == 0 && p.pad_r == 0,
          "pads %lld %lld %lld %lld", (long long)p.pad_t, (long long)p.pad_l, (long long)p.pad_b,
          (long long)p.pad_r);
    ir_graph_free(g);
  }
  /* SAME_LOWER without output_shape: out = in * stride */
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONV_TRANSPOSE, "y", IN(g, "x", 1, 1, 3, 5),
           CONST_F32(g, "w", NULL, 1, 3, 3, 3));
  SET_INTS(g, n, "strides", 2, 2);
  ir_set_attr_s(g, n, "auto_pad", "SAME_LOWER");
  EXPECT_SHAPE(g, "y", 1, 3, 6, 10);
}

static void test_pool_shapes(void) {
  /* ceil_mode: (5+0-2)/2 -> ceil 2 + 1 = 3 */
  IrGraph *g = ir_graph_new("t");
  IrNode *n = NODE(g, IR_OP_MAX_POOL, "y", IN(g, "x", 1, 2, 5, 5));
  SET_INTS(g, n, "kernel_shape", 2, 2);
  SET_INTS(g, n, "strides", 2, 2);
  ir_set_attr_i(g, n, "ceil_mode", 1);
  EXPECT_SHAPE(g, "y", 1, 2, 3, 3);

  /* ceil_mode drops a last window that would start in the end padding:
   * (3+2-2)/2 -> ceil 2 + 1 = 3, but window 2 starts at 4 - 1 = 3 >= 3: out 2 */
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_AVERAGE_POOL, "y", IN(g, "x", 1, 1, 3, 3));
  SET_INTS(g, n, "kernel_shape", 2, 2);
  SET_INTS(g, n, "strides", 2, 2);
  SET_INTS(g, n, "pads", 1, 1, 1, 1);
  ir_set_attr_i(g, n, "ceil_mode", 1);
  EXPECT_SHAPE(g, "y", 1, 1, 2, 2);

  /* SAME_UPPER pooling, dilated max pool */
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_MAX_POOL, "y", IN(g, "x", 1, 1, 7, 8));
  SET_INTS(g, n, "kernel_shape", 3, 3);
  SET_INTS(g, n, "strides", 2, 2);
  ir_set_attr_s(g, n, "auto_pad", "SAME_UPPER");
  EXPECT_SHAPE(g, "y", 1, 1, 4, 4);
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_MAX_POOL, "y", IN(g, "x", 1, 1, 7, 8));
  SET_INTS(g, n, "kernel_shape", 2, 2);
  SET_INTS(g, n, "dilations", 3, 2);
  EXPECT_SHAPE(g, "y", 1, 1, 4, 6);

  g = ir_graph_new("t");
  NODE(g, IR_OP_GLOBAL_AVERAGE_POOL, "y", IN(g, "x", 2, 3, 7, 5));
  EXPECT_SHAPE(g, "y", 2, 3, 1, 1);
}

static void test_matrix_shapes(void) {
  IrGraph *g = ir_graph_new("t");
  IrNode *n = NODE(g, IR_OP_GEMM, "y", IN(g, "a", 7, 3), CONST_F32(g, "b", NULL, 5, 7),
                   CONST_F32(g, "c", NULL, 3, 1));
  ir_set_attr_i(g, n, "transA", 1);
  ir_set_attr_i(g, n, "transB", 1);
  EXPECT_SHAPE(g, "y", 3, 5);
  g = ir_graph_new("t");
  NODE(g, IR_OP_GEMM, "y", IN(g, "a", 2, 3), CONST_F32(g, "b", NULL, 3, 4), NULL);
  EXPECT_SHAPE(g, "y", 2, 4);
  g = ir_graph_new("t");
  NODE(g, IR_OP_GEMM, "y", IN(g, "a", 2, 3), CONST_F32(g, "b", NULL, 3, 4),
       CONST_F32(g, "c", NULL, 5));
  EXPECT_ERROR(g, "nodes[0] (Gemm_0).inputs[2]: C of shape [5] is not broadcastable to [M,N]");

  g = ir_graph_new("t");
  NODE(g, IR_OP_MATMUL, "y", IN(g, "a", 3), IN(g, "b", 3));
  EXPECT_SCALAR(g, "y");
  g = ir_graph_new("t");
  NODE(g, IR_OP_MATMUL, "y", IN(g, "a", 2, 3, 4), IN(g, "b", 4));
  EXPECT_SHAPE(g, "y", 2, 3);
  g = ir_graph_new("t");
  NODE(g, IR_OP_MATMUL, "y", IN(g, "a", 4), IN(g, "b", 2, 4, 5));
  EXPECT_SHAPE(g, "y", 2, 5);
  g = ir_graph_new("t");
  NODE(g, IR_OP_MATMUL, "y", IN(g, "a", 2, 1, 3, 4), IN(g, "b", 5, 4, 6));
  EXPECT_SHAPE(g, "y", 2, 5, 3, 6);
  g = ir_graph_new("t");
  NODE(g, IR_OP_MATMUL, "y", IN(g, "a", 2, 3, 4), IN(g, "b", 3, 4, 6));
  EXPECT_ERROR(g, "batch dimensions of A [2,3,4] and B [3,4,6] are not broadcastable");
  g = ir_graph_new("t");
  NODE(g, IR_OP_MATMUL, "y", IN(g, "a", 2, 3), IN(g, "b", 4, 6));
  EXPECT_ERROR(g, "inner dimensions differ: A [2,3] has K=3, B [4,6] has K=4");
}

static void test_elementwise_shapes(void) {
  IrGraph *g = ir_graph_new("t");
  NODE(g, IR_OP_ADD, "y", IN(g, "a", 2, 1, 4), IN(g, "b", 3, 1));
  EXPECT_SHAPE(g, "y", 2, 3, 4);
  g = ir_graph_new("t");
  NODE(g, IR_OP_MUL, "y", add_input(g, "a", IR_F32, 0, NULL), IN(g, "b", 2, 3));
  EXPECT_SHAPE(g, "y", 2, 3);
  g = ir_graph_new("t");
  NODE(g, IR_OP_SUB, "y", add_input(g, "a", IR_F32, 0, NULL), add_input(g, "b", IR_F32, 0, NULL));
  EXPECT_SCALAR(g, "y");
  g = ir_graph_new("t");
  NODE(g, IR_OP_DIV, "y", IN(g, "a", 2, 3), IN(g, "b", 4));
  EXPECT_ERROR(
      g, "nodes[0] (Div_0).inputs: shapes [2,3] and [4] are not broadcastable (axis 1: 3 vs 4)");

  g = ir_graph_new("t");
  NODE(g, IR_OP_RELU, "y", add_input(g, "a", IR_F32, 0, NULL));
  EXPECT_SCALAR(g, "y");
  g = ir_graph_new("t");
  float lo = 0, hi = 6;
  NODE(g, IR_OP_CLIP, "y", IN(g, "x", 2, 2), add_const(g, "lo", IR_F32, 0, NULL, &lo),
       CONST_F32(g, "hi", &hi, 1));
  EXPECT_SHAPE(g, "y", 2, 2);
  g = ir_graph_new("t");
  NODE(g, IR_OP_CLIP, "y", IN(g, "x", 2, 2), NULL, CONST_F32(g, "hi", &hi, 1));
  EXPECT_SHAPE(g, "y", 2, 2);
  g = ir_graph_new("t");
  NODE(g, IR_OP_CLIP, "y", IN(g, "x", 2, 2), IN(g, "lo", 1));
  EXPECT_ERROR(g, "inputs[1]: min 'lo' must be an initializer");
  g = ir_graph_new("t");
  NODE(g, IR_OP_CLIP, "y", IN(g, "x", 2, 2), CONST_F32(g, "lo", NULL, 2));
  EXPECT_ERROR(g, "inputs[1]: min must be a scalar, got shape [2]");
}

static void test_shape_ops(void) {
  IrGraph *g = ir_graph_new("t");
  NODE(g, IR_OP_RESHAPE, "y", IN(g, "x", 2, 3, 4), CONST_I64(g, "s", 0, -1));
  EXPECT_SHAPE(g, "y", 2, 12);
  g = ir_graph_new("t");
  NODE(g, IR_OP_RESHAPE, "y", IN(g, "x", 2, 3, 4), CONST_I64(g, "s", 4, 0, -1));
  EXPECT_SHAPE(g, "y", 4, 3, 2);
  g = ir_graph_new("t");
  NODE(g, IR_OP_RESHAPE, "y", IN(g, "x", 1, 1), add_const(g, "s", IR_I64, 1, DIMS(0), NULL));
  EXPECT_SCALAR(g, "y");
  g = ir_graph_new("t");
  NODE(g, IR_OP_RESHAPE, "y", IN(g, "x", 2, 3, 4), CONST_I64(g, "s", 5, -1));
  EXPECT_ERROR(g, "cannot infer the -1 entry");
  g = ir_graph_new("t");
  NODE(g, IR_OP_RESHAPE, "y", IN(g, "x", 2, 3, 4), CONST_I64(g, "s", -1, -1));
  EXPECT_ERROR(g, "more than one -1");
  g = ir_graph_new("t");
  NODE(g, IR_OP_RESHAPE, "y", IN(g, "x", 2, 3, 4), CONST_I64(g, "s", 4, 5));
  EXPECT_ERROR(g, "shape [4,5] has 20 elements, the input [2,3,4] has 24");
  g = ir_graph_new("t");
  NODE(g, IR_OP_RESHAPE, "y", IN(g, "x", 2, 3, 4),
       CONST_I64(g, "s", 1 << 30, 1 << 30, 1 << 30, 1 << 30));
  EXPECT_ERROR(g, "has more elements than the input");
  g = ir_graph_new("t");
  NODE(g, IR_OP_RESHAPE, "y", IN(g, "x", 2, 3, 4), add_input(g, "s", IR_I64, 1, DIMS(2)));
  EXPECT_ERROR(g, "nodes[0] (Reshape_0).inputs[1]: the shape 's' must be a 1-D i64 initializer");

  g = ir_graph_new("t");
  IrNode *n = NODE(g, IR_OP_FLATTEN, "y", IN(g, "x", 2, 3, 4));
  ir_set_attr_i(g, n, "axis", 0);
  EXPECT_SHAPE(g, "y", 1, 24);
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_FLATTEN, "y", IN(g, "x", 2, 3, 4));
  ir_set_attr_i(g, n, "axis", -1);
  EXPECT_SHAPE(g, "y", 6, 4);
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_FLATTEN, "y", IN(g, "x", 2, 3, 4));
  ir_set_attr_i(g, n, "axis", 3);
  EXPECT_SHAPE(g, "y", 24, 1);
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_FLATTEN, "y", add_input(g, "x", IR_F32, 0, NULL));
  ir_set_attr_i(g, n, "axis", 0);
  EXPECT_SHAPE(g, "y", 1, 1);
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_FLATTEN, "y", IN(g, "x", 2, 3, 4));
  ir_set_attr_i(g, n, "axis", 4);
  EXPECT_ERROR(g, "attrs.axis: 4 is out of range [-3, 3] for rank 3");

  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONCAT, "y", IN(g, "a", 2, 3), IN(g, "b", 2, 5), IN(g, "c", 2, 1));
  ir_set_attr_i(g, n, "axis", -1);
  EXPECT_SHAPE(g, "y", 2, 9);
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONCAT, "y", IN(g, "a", 2, 3), IN(g, "b", 3, 3));
  ir_set_attr_i(g, n, "axis", 1);
  EXPECT_ERROR(g, "inputs[1]: shape [3,3] does not match inputs[0] [2,3] outside axis 1");
  g = ir_graph_new("t");
  NODE(g, IR_OP_CONCAT, "y", IN(g, "a", 2, 3), IN(g, "b", 2, 3));
  EXPECT_ERROR(g, "attrs.axis: required attribute is missing");

  g = ir_graph_new("t");
  n = NODE(g, IR_OP_SOFTMAX, "y", IN(g, "x", 2, 3));
  ir_set_attr_i(g, n, "axis", 2);
  EXPECT_ERROR(g, "nodes[0] (Softmax_0).attrs.axis: 2 is out of range [-2, 1] for rank 2");

  /* Dropout: optional mask output is bool; ratio must be constant; no training mode */
  g = ir_graph_new("t");
  float ratio = 0.5f;
  uint8_t no = 0, yes = 1;
  n = ir_node_new(g, IR_OP_DROPOUT, NULL, 3, 2);
  n->inputs[0] = IN(g, "x", 3, 2);
  n->inputs[1] = CONST_F32(g, "r", &ratio, 1);
  n->inputs[2] = add_const(g, "t", IR_BOOL, 0, NULL, &no);
  ir_node_set_output(n, 0, ir_value_new(g, "y", IR_VALUE_NODE, IR_F32, 0, NULL));
  ir_node_set_output(n, 1, ir_value_new(g, "mask", IR_VALUE_NODE, IR_F32, 0, NULL));
  CHECK(prepare(g, "y"), "dropout");
  CHECK(val(g, "mask")->dtype == IR_BOOL && shape_is(val(g, "mask"), 2, DIMS(3, 2)), "mask %s",
        shape_str(val(g, "mask")));
  ir_graph_free(g);
  g = ir_graph_new("t");
  NODE(g, IR_OP_DROPOUT, "y", IN(g, "x", 3, 2), NULL, add_const(g, "t", IR_BOOL, 0, NULL, &yes));
  EXPECT_ERROR(g, "inputs[2]: training_mode is true");
  g = ir_graph_new("t");
  NODE(g, IR_OP_DROPOUT, "y", IN(g, "x", 3, 2), add_input(g, "r", IR_F32, 0, NULL));
  EXPECT_ERROR(g, "inputs[1]: ratio 'r' must be an initializer");

  g = ir_graph_new("t");
  n = NODE(g, IR_OP_BATCH_NORM, "y", IN(g, "x", 2, 3, 4, 5), CONST_F32(g, "s", NULL, 3),
           CONST_F32(g, "b", NULL, 3), CONST_F32(g, "m", NULL, 3), CONST_F32(g, "v", NULL, 3));
  EXPECT_SHAPE(g, "y", 2, 3, 4, 5);
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_BATCH_NORM, "y", IN(g, "x", 2, 3), CONST_F32(g, "s", NULL, 3),
           CONST_F32(g, "b", NULL, 3), CONST_F32(g, "m", NULL, 4), CONST_F32(g, "v", NULL, 3));
  EXPECT_ERROR(g, "inputs[3]: input_mean has shape [4], expected [3]");
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_BATCH_NORM, "y", IN(g, "x", 2, 3), CONST_F32(g, "s", NULL, 3),
           CONST_F32(g, "b", NULL, 3), CONST_F32(g, "m", NULL, 3), CONST_F32(g, "v", NULL, 3));
  ir_set_attr_i(g, n, "training_mode", 1);
  EXPECT_ERROR(g, "attrs.training_mode: training mode is not supported");
}

static IrGraph *conv_graph(IrNode **n, IrDType dt) {
  IrGraph *g = ir_graph_new("t");
  IrValue *x = add_input(g, "x", dt, 4, DIMS(1, 3, 8, 8));
  *n = NODE(g, IR_OP_CONV, "y", x, CONST_F32(g, "w", NULL, 8, 3, 3, 3));
  return g;
}

static void test_attribute_errors(void) {
  IrNode *n;
  IrGraph *g = conv_graph(&n, IR_F32);
  SET_INTS(g, n, "strides", 1, 1, 1);
  EXPECT_ERROR(g, "model.json: nodes[0] (Conv_0).attrs.strides: expected 2 integers, got 3");
  g = conv_graph(&n, IR_F32);
  SET_INTS(g, n, "pads", 0, -1, 0, 0);
  EXPECT_ERROR(g, "nodes[0] (Conv_0).attrs.pads: negative value -1");
  g = conv_graph(&n, IR_F32);
  SET_INTS(g, n, "pads", 1, 1);
  EXPECT_ERROR(g, "attrs.pads: expected 4 integers, got 2");
  g = conv_graph(&n, IR_F32);
  SET_INTS(g, n, "strides", 1, 0);
  EXPECT_ERROR(g, "attrs.strides: value 0 must be at least 1");
  g = conv_graph(&n, IR_F32);
  SET_INTS(g, n, "dilations", 1, (int64_t)1 << 40);
  EXPECT_ERROR(g, "attrs.dilations: value 1099511627776 is too large");
  g = conv_graph(&n, IR_F32);
  SET_INTS(g, n, "kernel_shape", 5, 5);
  EXPECT_ERROR(g, "attrs.kernel_shape: [5,5] does not match the weight's kernel [3,3]");
  g = conv_graph(&n, IR_F32);
  ir_set_attr_i(g, n, "group", 2);
  EXPECT_ERROR(g, "attrs.group: 2 does not divide the input's 3 channels");
  g = conv_graph(&n, IR_F32);
  ir_set_attr_s(g, n, "auto_pad", "SAME");
  EXPECT_ERROR(g, "attrs.auto_pad: unknown value 'SAME'");
  g = conv_graph(&n, IR_F32);
  ir_set_attr_s(g, n, "auto_pad", "SAME_UPPER");
  SET_INTS(g, n, "pads", 1, 1, 1, 1);
  EXPECT_ERROR(g, "attrs.pads: explicit pads cannot be combined with auto_pad SAME_UPPER");
  g = conv_graph(&n, IR_I8);
  EXPECT_ERROR(g, "nodes[0] (Conv_0).inputs[0]: dtype i8 is not supported by Conv (only f32)");

  g = ir_graph_new("t");
  NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 3, 8, 8), CONST_F32(g, "w", NULL, 8, 8, 3, 3));
  EXPECT_ERROR(g, "nodes[0] (Conv_0).inputs[1]: weight has 8 input channels per group, input "
                  "has 3 channels and group 1");
  g = ir_graph_new("t");
  NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 3, 8, 8), CONST_F32(g, "w", NULL, 8, 3, 3, 3),
       CONST_F32(g, "b", NULL, 7));
  EXPECT_ERROR(g, "inputs[2]: bias has shape [7], expected [8]");
  g = ir_graph_new("t");
  NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 3, 2, 4, 8, 8), CONST_F32(g, "w", NULL, 8, 3, 1, 3, 3, 3));
  EXPECT_ERROR(g, "inputs[0]: Conv supports 1-D, 2-D and 3-D data");
  g = ir_graph_new("t"); /* 3-D data takes 3-D attributes */
  IrNode *c3 =
      NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 3, 4, 8, 8), CONST_F32(g, "w", NULL, 8, 3, 3, 3, 3));
  SET_INTS(g, c3, "pads", 1, 1, 1, 1);
  EXPECT_ERROR(g, "nodes[0] (Conv_0).attrs.pads: expected 6 integers, got 4");
  g = ir_graph_new("t");
  NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 3, 2, 8, 8), CONST_F32(g, "w", NULL, 8, 3, 3, 3, 3));
  EXPECT_ERROR(g, "nodes[0] (Conv_0): output would be empty: depth 2 + pads 0+0 is smaller");
  g = ir_graph_new("t"); /* 1-D data takes 1-D attributes */
  IrNode *c1 = NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 3, 8), CONST_F32(g, "w", NULL, 8, 3, 3));
  ir_set_attr_ints(g, c1, "strides", (const int64_t[]){1, 1}, 2);
  EXPECT_ERROR(g, "nodes[0] (Conv_0).attrs.strides: expected 1 integers, got 2");
  g = ir_graph_new("t");
  NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 3, 2, 8), CONST_F32(g, "w", NULL, 8, 3, 3, 3));
  EXPECT_ERROR(g, "nodes[0] (Conv_0): output would be empty: height 2 + pads 0+0 is smaller");

  g = ir_graph_new("t");
  NODE(g, IR_OP_MAX_POOL, "y", IN(g, "x", 1, 3, 8, 8));
  EXPECT_ERROR(g, "nodes[0] (MaxPool_0).attrs.kernel_shape: required attribute is missing");
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_MAX_POOL, "y", IN(g, "x", 1, 3, 8, 8));
  SET_INTS(g, n, "kernel_shape", 2, 2);
  SET_INTS(g, n, "pads", 2, 0, 0, 0);
  EXPECT_ERROR(g, "attrs.pads: height pad 2 is not smaller than the kernel extent 2");
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_AVERAGE_POOL, "y", IN(g, "x", 1, 3, 8, 8));
  SET_INTS(g, n, "kernel_shape", 2, 2);
  ir_set_attr_i(g, n, "ceil_mode", 2);
  EXPECT_ERROR(g, "attrs.ceil_mode: expected 0 or 1, got 2");

  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONV_TRANSPOSE, "y", IN(g, "x", 1, 2, 3, 3),
           CONST_F32(g, "w", NULL, 3, 1, 3, 3));
  EXPECT_ERROR(g, "inputs[1]: weight has 3 input channels, input has 2");
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONV_TRANSPOSE, "y", IN(g, "x", 1, 1, 3, 3),
           CONST_F32(g, "w", NULL, 1, 1, 3, 3));
  SET_INTS(g, n, "output_shape", 8, 5);
  EXPECT_ERROR(g, "attrs.output_shape: height 8 is larger than the unpadded output 5");
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONV_TRANSPOSE, "y", IN(g, "x", 1, 1, 3, 3),
           CONST_F32(g, "w", NULL, 1, 1, 3, 3));
  SET_INTS(g, n, "pads", 3, 0, 2, 0);
  EXPECT_ERROR(g, "output would be empty: pads 3+2 remove the whole height 5");

  /* limits: dims above 2^31-1 and element counts beyond int64 */
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONCAT, "y", IN(g, "a", 1, IR_MAX_DIM), IN(g, "b", 1, IR_MAX_DIM));
  ir_set_attr_i(g, n, "axis", 1);
  EXPECT_ERROR(g, "nodes[0] (Concat_0).outputs[0]: output shape [1,4294967294]: dimension 1 "
                  "exceeds the maximum 2147483647");
  g = ir_graph_new("t");
  NODE(g, IR_OP_ADD, "y", IN(g, "a", IR_MAX_DIM, 1, 1), IN(g, "b", 1, IR_MAX_DIM, IR_MAX_DIM));
  EXPECT_ERROR(g, "has too many elements");
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONV_TRANSPOSE, "y", IN(g, "x", 1, 1, 1 << 20, 1),
           CONST_F32(g, "w", NULL, 1, 1, 1, 1));
  SET_INTS(g, n, "strides", 1 << 20, 1);
  EXPECT_ERROR(g, "exceeds the maximum");

  /* arity as seen by inference */
  g = ir_graph_new("t");
  NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 3, 8, 8), NULL);
  EXPECT_ERROR(g, "nodes[0] (Conv_0).inputs[1]: required input is missing");
}

/* ---- verifier ------------------------------------------------------------------------- */

static IrGraph *two_node_graph(void) {
  IrGraph *g = ir_graph_new("t");
  IrValue *x = IN(g, "x", 1, 3, 4, 4);
  NODE(g, IR_OP_CONV, "c", x, CONST_F32(g, "w", NULL, 2, 3, 1, 1));
  NODE(g, IR_OP_RELU, "y", val(g, "c"));
  return g;
}

static void test_verify(void) {
  IrGraph *g = two_node_graph();
  CHECK(prepare(g, "y"), "valid graph");

  /* a missing required input */
  IrValue *w = g->nodes[0]->inputs[1];
  g->nodes[0]->inputs[1] = NULL;
  EXPECT_VERIFY_ERROR(g, "nodes[0] (Conv_0).inputs[1]: required input is missing");
  g->nodes[0]->inputs[1] = w;

  /* a value used before it is defined */
  IrNode *t = g->nodes[0];
  g->nodes[0] = g->nodes[1];
  g->nodes[1] = t;
  g->nodes[0]->id = 0;
  g->nodes[1]->id = 1;
  EXPECT_VERIFY_ERROR(g, "inputs[0]: value 'c' is used before it is defined");
  g->nodes[1] = g->nodes[0];
  g->nodes[0] = t;
  g->nodes[0]->id = 0;
  g->nodes[1]->id = 1;

  /* a shape that inference no longer agrees with */
  val(g, "c")->dims[1] = 5;
  EXPECT_VERIFY_ERROR(g, "value 'c' is recorded as f32[1,5,4,4] but inference gives f32[1,2,4,4]");
  val(g, "c")->dims[1] = 2;

  /* producer bookkeeping */
  val(g, "y")->producer_slot = 1;
  EXPECT_VERIFY_ERROR(g, "does not record this node and slot 0 as its producer");
  val(g, "y")->producer_slot = 0;
  IrNode *relu = g->nodes[1];
  relu->outputs[0] = val(g, "c");
  EXPECT_VERIFY_ERROR(g, "value 'c' is already produced by nodes[0] (Conv_0)");
  relu->outputs[0] = val(g, "y");

  /* a graph output nobody produces */
  g->n_nodes = 1;
  EXPECT_VERIFY_ERROR(g, "value 'y': graph output is never produced by any node");
  g->n_nodes = 2;

  val(g, "w")->id = 7;
  EXPECT_VERIFY_ERROR(g, "value 'w': id 7 but stored at values[1]");
  val(g, "w")->id = 1;

  IrDiag d;
  ir_diag_init(&d, NULL, false);
  CHECK(ir_graph_verify(g, &d), "restored graph: %s", d.text ? d.text : "");
  ir_diag_free(&d);
  ir_graph_free(g);

  g = ir_graph_new("t");
  IrNode *n = NODE(g, IR_OP_CONCAT, "y", IN(g, "a", 2), IN(g, "b", 2));
  ir_set_attr_i(g, n, "axis", 0);
  CHECK(prepare(g, "y"), "concat");
  n->attrs[0].present = false;
  EXPECT_VERIFY_ERROR(g, "nodes[0] (Concat_0).attrs.axis: required attribute is missing");
  ir_graph_free(g);

  /* wrong arity (not inferred: inference would reject it too) */
  g = ir_graph_new("t");
  IrValue *a = IN(g, "a", 2);
  n = ir_node_new(g, IR_OP_RELU, "r", 2, 1);
  n->inputs[0] = n->inputs[1] = a;
  ir_node_set_output(n, 0, ir_value_new(g, "y", IR_VALUE_NODE, IR_F32, 1, DIMS(2)));
  ir_graph_add_output(g, val(g, "y"));
  EXPECT_VERIFY_ERROR(g, "node 'r': Relu has 2 inputs, expected 1 to 1");
  ir_graph_free(g);
}

/* ---- printer and MACs ----------------------------------------------------------------- */

static void test_print_and_macs(void) {
  IrGraph *g = ir_graph_new("net");
  IrValue *x = IN(g, "x", 1, 3, 5, 5);
  IrValue *w = CONST_F32(g, "conv1.weight", NULL, 8, 3, 3, 3);
  IrNode *conv = NODE(g, IR_OP_CONV, "c1", x, w, CONST_F32(g, "conv1.bias", NULL, 8));
  SET_INTS(g, conv, "kernel_shape", 3, 3);
  SET_INTS(g, conv, "pads", 1, 1, 1, 1);
  IrNode *lr = NODE(g, IR_OP_LEAKY_RELU, "r", val(g, "c1"));
  ir_set_attr_f(g, lr, "alpha", 0.1);
  NODE(g, IR_OP_FLATTEN, "f", val(g, "r"));
  IrNode *gemm = NODE(g, IR_OP_GEMM, "y", val(g, "f"), CONST_F32(g, "fc.w", NULL, 4, 200), NULL);
  ir_set_attr_i(g, gemm, "transB", 1);
  CHECK(prepare(g, "y"), "print graph");
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ir_graph_print(g, f);
  fclose(f);
  const char *want = "graph net opset 17\n"
                     "input %x: f32[1,3,5,5]\n"
                     "const @conv1.weight: f32[8,3,3,3]\n"
                     "const @conv1.bias: f32[8]\n"
                     "const @fc.w: f32[4,200]\n"
                     "%c1:f32[1,8,5,5] = Conv(%x, @conv1.weight, @conv1.bias) "
                     "{kernel_shape=[3,3], pads=[1,1,1,1]}  # Conv_0\n"
                     "%r:f32[1,8,5,5] = LeakyRelu(%c1) {alpha=0.1}  # LeakyRelu_1\n"
                     "%f:f32[1,200] = Flatten(%r)  # Flatten_2\n"
                     "%y:f32[1,4] = Gemm(%f, @fc.w, _) {transB=1}  # Gemm_3\n"
                     "output %y: f32[1,4]\n";
  CHECK(text && strcmp(text, want) == 0, "printed:\n%s", text ? text : "");
  free(text);
  CHECK(ir_node_macs(conv) == 8 * 5 * 5 * 3 * 9, "conv macs %lld", (long long)ir_node_macs(conv));
  CHECK(ir_node_macs(gemm) == 4 * 200, "gemm macs %lld", (long long)ir_node_macs(gemm));
  CHECK(ir_node_macs(lr) == 0, "relu macs");
  ir_graph_free(g);

  g = ir_graph_new("t");
  IrNode *ct = NODE(g, IR_OP_CONV_TRANSPOSE, "y", IN(g, "x", 1, 4, 3, 3),
                    CONST_F32(g, "w", NULL, 4, 3, 2, 2));
  ir_set_attr_i(g, ct, "group", 2);
  CHECK(prepare(g, "y"), "convT");
  CHECK(ir_node_macs(ct) == 4 * 9 * 3 * 4, "convT macs %lld", (long long)ir_node_macs(ct));
  ir_graph_free(g);
  g = ir_graph_new("t");
  IrNode *mm = NODE(g, IR_OP_MATMUL, "y", IN(g, "a", 2, 3, 4), IN(g, "b", 4, 5));
  CHECK(prepare(g, "y"), "matmul");
  CHECK(ir_node_macs(mm) == 2 * 3 * 5 * 4, "matmul macs %lld", (long long)ir_node_macs(mm));
  ir_graph_free(g);
}

/* ---- interpreter ---------------------------------------------------------------------- */

#define INPUTS(...) ((const float *const[]){__VA_ARGS__})

static void test_interp_conv(void) {
  static const float x9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  static const float ones9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  float half = 0.5f;
  /* 3x3 box filter with pads 1: sums of the neighbourhoods, plus the bias */
  IrGraph *g = ir_graph_new("t");
  IrNode *n = NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 1, 3, 3), CONST_F32(g, "w", ones9, 1, 1, 3, 3),
                   CONST_F32(g, "b", &half, 1));
  SET_INTS(g, n, "pads", 1, 1, 1, 1);
  EXPECT_RUN(g, "y", INPUTS(x9), 12.5, 21.5, 16.5, 27.5, 45.5, 33.5, 24.5, 39.5, 28.5);

  /* asymmetric kernel, stride 2: w = [[1,2],[3,4]] on rows/cols {0,2} */
  static const float w4[4] = {1, 2, 3, 4};
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 1, 3, 3), CONST_F32(g, "w", w4, 1, 1, 2, 2));
  SET_INTS(g, n, "strides", 2, 2);
  SET_INTS(g, n, "pads", 0, 0, 1, 1);
  /* (0,0): 1+4+12+20 = 37; (0,1): 3*1 + 6*3 = 21; (1,0): 7+16 = 23; (1,1): 9 */
  EXPECT_RUN(g, "y", INPUTS(x9), 37, 21, 23, 9);

  /* dilation 2 on 5x5 = 0..24: taps (r,c), (r,c+2), (r+2,c), (r+2,c+2) */
  float x25[25];
  for (int i = 0; i < 25; i++) x25[i] = (float)i;
  static const float ones4[4] = {1, 1, 1, 1};
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 1, 5, 5), CONST_F32(g, "w", ones4, 1, 1, 2, 2));
  SET_INTS(g, n, "dilations", 2, 2);
  EXPECT_RUN(g, "y", INPUTS(x25), 24, 28, 32, 44, 48, 52, 64, 68, 72);

  /* groups: 1x1 depthwise scaling by 2 and 3 */
  static const float xg[8] = {1, 2, 3, 4, 5, 6, 7, 8}, wg[2] = {2, 3};
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONV, "y", IN(g, "x", 1, 2, 2, 2), CONST_F32(g, "w", wg, 2, 1, 1, 1));
  ir_set_attr_i(g, n, "group", 2);
  EXPECT_RUN(g, "y", INPUTS(xg), 2, 4, 6, 8, 15, 18, 21, 24);

  /* ConvTranspose, stride 1: the "full" convolution of [[1,2],[3,4]] with a 2x2 box */
  static const float x4[4] = {1, 2, 3, 4};
  g = ir_graph_new("t");
  NODE(g, IR_OP_CONV_TRANSPOSE, "y", IN(g, "x", 1, 1, 2, 2), CONST_F32(g, "w", ones4, 1, 1, 2, 2));
  EXPECT_RUN(g, "y", INPUTS(x4), 1, 3, 2, 4, 10, 6, 3, 7, 4);
  /* stride 2 scatters x*w blocks; output_padding adds a row/column of bias only */
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONV_TRANSPOSE, "y", IN(g, "x", 1, 1, 2, 2), CONST_F32(g, "w", w4, 1, 1, 2, 2),
           CONST_F32(g, "b", &half, 1));
  SET_INTS(g, n, "strides", 2, 2);
  SET_INTS(g, n, "output_padding", 1, 1);
  SET_INTS(g, n, "pads", 1, 1, 0, 0);
  /* unpadded 5x5 output, cropped by one row and column at the beginning -> 4x4 */
  EXPECT_RUN(g, "y", INPUTS(x4), 4.5, 6.5, 8.5, 0.5, 6.5, 4.5, 8.5, 0.5, 12.5, 12.5, 16.5, 0.5, 0.5,
             0.5, 0.5, 0.5);
  /* groups */
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONV_TRANSPOSE, "y", IN(g, "x", 1, 2, 2, 2), CONST_F32(g, "w", wg, 2, 1, 1, 1));
  ir_set_attr_i(g, n, "group", 2);
  EXPECT_RUN(g, "y", INPUTS(xg), 2, 4, 6, 8, 15, 18, 21, 24);
}

static void test_interp_pool(void) {
  static const float neg[9] = {-1, -2, -3, -4, -5, -6, -7, -8, -9};
  static const float x9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  /* 2x2 max pool, stride 2, pads 1: padding must never win over negative values */
  IrGraph *g = ir_graph_new("t");
  IrNode *n = NODE(g, IR_OP_MAX_POOL, "y", IN(g, "x", 1, 1, 3, 3));
  SET_INTS(g, n, "kernel_shape", 2, 2);
  SET_INTS(g, n, "strides", 2, 2);
  SET_INTS(g, n, "pads", 1, 1, 1, 1);
  EXPECT_RUN(g, "y", INPUTS(neg), -1, -2, -4, -5);

  /* average with the same windows: divisor = valid cells, or the whole window with pads */
  for (int include = 0; include < 2; include++) {
    g = ir_graph_new("t");
    n = NODE(g, IR_OP_AVERAGE_POOL, "y", IN(g, "x", 1, 1, 3, 3));
    SET_INTS(g, n, "kernel_shape", 2, 2);
    SET_INTS(g, n, "strides", 2, 2);
    SET_INTS(g, n, "pads", 1, 1, 1, 1);
    ir_set_attr_i(g, n, "count_include_pad", include);
    if (include)
      EXPECT_RUN(g, "y", INPUTS(x9), 0.25, 1.25, 2.75, 7);
    else
      EXPECT_RUN(g, "y", INPUTS(x9), 1, 2.5, 5.5, 7);
  }
  /* ceil_mode: windows running past the input count only cells inside it (PyTorch) */
  for (int include = 0; include < 2; include++) {
    g = ir_graph_new("t");
    n = NODE(g, IR_OP_AVERAGE_POOL, "y", IN(g, "x", 1, 1, 3, 3));
    SET_INTS(g, n, "kernel_shape", 2, 2);
    SET_INTS(g, n, "strides", 2, 2);
    ir_set_attr_i(g, n, "ceil_mode", 1);
    ir_set_attr_i(g, n, "count_include_pad", include);
    EXPECT_RUN(g, "y", INPUTS(x9), 3, 4.5, 7.5, 9);
  }
  /* ceil_mode with pads and count_include_pad: the end pad counts, what lies beyond it not.
   * 4x4 input 1..16, k3 s2 p1: windows [-1,2), [1,4), [3,6) clipped to [3,5) */
  float x16[16];
  for (int i = 0; i < 16; i++) x16[i] = (float)(i + 1);
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_AVERAGE_POOL, "y", IN(g, "x", 1, 1, 4, 4));
  SET_INTS(g, n, "kernel_shape", 3, 3);
  SET_INTS(g, n, "strides", 2, 2);
  SET_INTS(g, n, "pads", 1, 1, 1, 1);
  ir_set_attr_i(g, n, "ceil_mode", 1);
  ir_set_attr_i(g, n, "count_include_pad", 1);
  /* windows [-1,2), [1,4), [3,6)->[3,5): divisors 9, 9, 6 per axis product */
  EXPECT_RUN(g, "y", INPUTS(x16), (1 + 2 + 5 + 6) / 9.0, (2 + 3 + 4 + 6 + 7 + 8) / 9.0,
             (4 + 8) / 6.0, (5 + 6 + 9 + 10 + 13 + 14) / 9.0,
             (6 + 7 + 8 + 10 + 11 + 12 + 14 + 15 + 16) / 9.0, (8 + 12 + 16) / 6.0, (13 + 14) / 6.0,
             (14 + 15 + 16) / 6.0, 16 / 4.0);

  g = ir_graph_new("t");
  NODE(g, IR_OP_GLOBAL_AVERAGE_POOL, "y", IN(g, "x", 1, 2, 2, 2));
  static const float xg[8] = {1, 2, 3, 4, 5, 6, 7, 9};
  EXPECT_RUN(g, "y", INPUTS(xg), 2.5, 6.75);
}

static void test_interp_matrix(void) {
  /* A stored [K=3,M=2] (transA), B stored [N=2,K=3] (transB), C [N] broadcast per row */
  static const float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 1, 0, 1, 0}, c[2] = {10, 20};
  IrGraph *g = ir_graph_new("t");
  IrNode *n = NODE(g, IR_OP_GEMM, "y", IN(g, "a", 3, 2), CONST_F32(g, "b", b, 2, 3),
                   CONST_F32(g, "c", c, 2));
  ir_set_attr_i(g, n, "transA", 1);
  ir_set_attr_i(g, n, "transB", 1);
  ir_set_attr_f(g, n, "alpha", 2);
  ir_set_attr_f(g, n, "beta", 0.5);
  EXPECT_RUN(g, "y", INPUTS(a), 17, 16, 21, 18);
  /* no flags, C [M,1] */
  g = ir_graph_new("t");
  NODE(g, IR_OP_GEMM, "y", IN(g, "a", 2, 3), CONST_F32(g, "b", b, 3, 2),
       CONST_F32(g, "c", c, 2, 1));
  /* A=[[1,2,3],[4,5,6]], B=[[1,0],[1,0],[1,0]] */
  EXPECT_RUN(g, "y", INPUTS(a), 16, 10, 35, 20);

  /* batch broadcast: A [2,1,2] x B [2,2] */
  static const float am[4] = {1, 2, 3, 4}, bm[4] = {1, 2, 3, 4};
  g = ir_graph_new("t");
  NODE(g, IR_OP_MATMUL, "y", IN(g, "a", 2, 1, 2), CONST_F32(g, "b", bm, 2, 2));
  EXPECT_RUN(g, "y", INPUTS(am), 7, 10, 15, 22);
  /* B batched, A 1-D */
  g = ir_graph_new("t");
  NODE(g, IR_OP_MATMUL, "y", IN(g, "a", 2), CONST_F32(g, "b", bm, 2, 2, 1));
  EXPECT_RUN(g, "y", INPUTS(am), 5, 11);
  g = ir_graph_new("t");
  NODE(g, IR_OP_MATMUL, "y", IN(g, "a", 4), CONST_F32(g, "b", bm, 4));
  EXPECT_RUN(g, "y", INPUTS(am), 30);
}

static void test_interp_elementwise(void) {
  /* broadcasting [3,1] + [1,4] */
  static const float a[3] = {1, 2, 3}, b[4] = {10, 20, 30, 40};
  IrGraph *g = ir_graph_new("t");
  IrValue *va = IN(g, "a", 3, 1);
  NODE(g, IR_OP_ADD, "y", va, IN(g, "b", 1, 4));
  EXPECT_RUN(g, "y", INPUTS(a, b), 11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43);
  g = ir_graph_new("t");
  va = IN(g, "a", 3, 1);
  NODE(g, IR_OP_SUB, "y", va, IN(g, "b", 4));
  EXPECT_RUN(g, "y", INPUTS(a, b), -9, -19, -29, -39, -8, -18, -28, -38, -7, -17, -27, -37);
  g = ir_graph_new("t");
  IrValue *vb = IN(g, "b", 4);
  NODE(g, IR_OP_DIV, "y", vb, add_input(g, "a", IR_F32, 0, NULL));
  EXPECT_RUN(g, "y", INPUTS(b, a), 10, 20, 30, 40);
  g = ir_graph_new("t");
  NODE(g, IR_OP_MUL, "y", IN(g, "a", 3), CONST_F32(g, "b", b, 1));
  EXPECT_RUN(g, "y", INPUTS(a), 10, 20, 30);

  static const float x[5] = {-1000, -2, 0, 3, 1000};
  g = ir_graph_new("t");
  NODE(g, IR_OP_SIGMOID, "y", IN(g, "x", 5));
  EXPECT_RUN(g, "y", INPUTS(x), 0, 0.11920292202211755, 0.5, 0.9525741268224334, 1);
  g = ir_graph_new("t");
  NODE(g, IR_OP_TANH, "y", IN(g, "x", 5));
  EXPECT_RUN(g, "y", INPUTS(x), -1, -0.9640275800758169, 0, 0.9950547536867305, 1);
  g = ir_graph_new("t");
  NODE(g, IR_OP_RELU, "y", IN(g, "x", 5));
  EXPECT_RUN(g, "y", INPUTS(x), 0, 0, 0, 3, 1000);
  g = ir_graph_new("t");
  IrNode *n = NODE(g, IR_OP_LEAKY_RELU, "y", IN(g, "x", 5));
  ir_set_attr_f(g, n, "alpha", 0.5);
  EXPECT_RUN(g, "y", INPUTS(x), -500, -1, 0, 3, 1000);
  float lo = -1, hi = 2;
  g = ir_graph_new("t");
  NODE(g, IR_OP_CLIP, "y", IN(g, "x", 5), add_const(g, "lo", IR_F32, 0, NULL, &lo),
       CONST_F32(g, "hi", &hi, 1));
  EXPECT_RUN(g, "y", INPUTS(x), -1, -1, 0, 2, 2);
  g = ir_graph_new("t");
  NODE(g, IR_OP_CLIP, "y", IN(g, "x", 5), NULL, CONST_F32(g, "hi", &hi, 1));
  EXPECT_RUN(g, "y", INPUTS(x), -1000, -2, 0, 2, 2);

  /* BatchNormalization: (x - mean) / sqrt(var + eps) * scale + B per channel */
  static const float xb[4] = {1, 2, 3, 4}, sc[2] = {2, 3}, bb[2] = {0.5f, 0}, mu[2] = {1, 0},
                     var[2] = {3, 15};
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_BATCH_NORM, "y", IN(g, "x", 1, 2, 2, 1), CONST_F32(g, "s", sc, 2),
           CONST_F32(g, "b", bb, 2), CONST_F32(g, "m", mu, 2), CONST_F32(g, "v", var, 2));
  ir_set_attr_f(g, n, "epsilon", 1);
  EXPECT_RUN(g, "y", INPUTS(xb), 0.5, 1.5, 2.25, 3);
}

static void test_interp_softmax(void) {
  float x[10] = {1, 2, 3, 4, 5, -1000, 0, 1000, 999, 1000};
  for (int axis = -1; axis <= 0; axis++) {
    IrGraph *g = ir_graph_new("t");
    IrNode *n = NODE(g, IR_OP_SOFTMAX, "y", IN(g, "x", 2, 5));
    ir_set_attr_i(g, n, "axis", axis);
    CHECK(prepare(g, "y"), "softmax");
    float y[10];
    void *outs[1] = {y};
    CHECK(ir_interp_run(g, (const void *const *)INPUTS(x), outs) == 0, "run");
    if (axis == -1) {
      for (int r = 0; r < 2; r++) {
        double sum = 0;
        for (int j = 0; j < 5; j++) sum += y[r * 5 + j];
        CHECK(fabs(sum - 1) < 1e-6, "row %d sums to %g", r, sum);
      }
      CHECK(y[0] < y[1] && y[1] < y[2] && y[3] < y[4], "monotonic");
      CHECK(fabs(y[4] - 0.63640865f) < 1e-6, "y[4] = %g", y[4]);
      CHECK(y[5] == 0 && fabs(y[7] - y[9]) < 1e-7 && !isnan(y[8]), "large values");
    } else {
      for (int j = 0; j < 5; j++) CHECK(fabs(y[j] + y[5 + j] - 1) < 1e-6, "column %d", j);
      CHECK(fabs(y[1] - 0.88079708f) < 1e-6, "y[1] = %g", y[1]);
    }
    ir_graph_free(g);
  }
}

static void test_interp_data_movement(void) {
  static const float a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {7, 8};
  IrGraph *g = ir_graph_new("t");
  IrValue *va = IN(g, "a", 2, 3);
  IrNode *n = NODE(g, IR_OP_CONCAT, "y", va, IN(g, "b", 2, 1));
  ir_set_attr_i(g, n, "axis", 1);
  EXPECT_RUN(g, "y", INPUTS(a, b), 1, 2, 3, 7, 4, 5, 6, 8);
  g = ir_graph_new("t");
  n = NODE(g, IR_OP_CONCAT, "y", IN(g, "a", 3, 2), CONST_F32(g, "b", b, 1, 2));
  ir_set_attr_i(g, n, "axis", 0);
  EXPECT_RUN(g, "y", INPUTS(a), 1, 2, 3, 4, 5, 6, 7, 8);

  /* a chain whose intermediate is also a graph output, and an output that is an input */
  g = ir_graph_new("t");
  IrValue *x = IN(g, "x", 2, 3);
  NODE(g, IR_OP_RESHAPE, "r", x, CONST_I64(g, "s", 3, 2));
  NODE(g, IR_OP_IDENTITY, "i", val(g, "r"));
  NODE(g, IR_OP_FLATTEN, "f", val(g, "i"));
  NODE(g, IR_OP_DROPOUT, "y", val(g, "f"));
  ir_graph_add_output(g, val(g, "i"));
  ir_graph_add_output(g, x);
  ir_graph_add_output(g, val(g, "s"));
  CHECK(prepare(g, "y"), "chain");
  CHECK(shape_is(val(g, "y"), 2, DIMS(3, 2)), "chain %s", shape_str(val(g, "y")));
  float oi[6], ox[6], oy[6];
  int64_t os[2];
  void *outs[4] = {oi, ox, os, oy};
  CHECK(ir_interp_run(g, (const void *const *)INPUTS(a), outs) == 0, "run");
  CHECK(memcmp(oi, a, sizeof oi) == 0 && memcmp(ox, a, sizeof ox) == 0 &&
            memcmp(oy, a, sizeof oy) == 0 && os[0] == 3 && os[1] == 2,
        "copies");
  CHECK(ir_interp_run(g, NULL, outs) == -1, "NULL inputs");
  ir_graph_free(g);
}

/* ---- driver --------------------------------------------------------------------------- */

int main(void) {
  test_conv_shapes();
  test_conv_transpose_shapes();
  test_pool_shapes();
  test_matrix_shapes();
  test_elementwise_shapes();
  test_shape_ops();
  test_attribute_errors();
  test_verify();
  test_print_and_macs();
  test_interp_conv();
  test_interp_pool();
  test_interp_matrix();
  test_interp_elementwise();
  test_interp_softmax();
  test_interp_data_movement();
  return test_report("ir");
}
