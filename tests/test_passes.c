/* Graph passes on small graphs: each test checks the graph after the pass (nodes, wiring,
 * folded constants) and that the reference interpreter computes the same outputs before and
 * after it. The verifier runs after every pass. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg.h"
#include "fe.h"
#include "ir_util.h"
#include "pass.h"
#include "test_util.h"

/* A model with one f32 input x of shape XS and one output y; INITS and NODES are JSON lists. */
#define MODEL(XS, YS, INITS, NODES)                                                                \
  "{\"format\": \"kiln-model\", \"version\": 1, \"opset\": 17,"                                    \
  " \"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": " XS "}],"                       \
  " \"outputs\": [{\"name\": \"y\", \"dtype\": \"f32\", \"shape\": " YS "}],"                      \
  " \"initializers\": [" INITS "], \"nodes\": [" NODES "]}"

#define F32(name, shape, data)                                                                     \
  "{\"name\": \"" name "\", \"dtype\": \"f32\", \"shape\": " shape ", \"data\": " data "}"
#define I64(name, shape, data)                                                                     \
  "{\"name\": \"" name "\", \"dtype\": \"i64\", \"shape\": " shape ", \"data\": " data "}"
#define NODE(op, ins, outs) "{\"op\": \"" op "\", \"inputs\": " ins ", \"outputs\": " outs "}"
#define NODE_A(op, ins, outs, attrs)                                                               \
  "{\"op\": \"" op "\", \"inputs\": " ins ", \"outputs\": " outs ", \"attrs\": " attrs "}"

static IrGraph *parse(const char *json) {
  IrDiag d;
  ir_diag_init(&d, "test", true);
  IrGraph *g = fe_parse_model(json, strlen(json), NULL, "t", &d);
  ir_diag_free(&d);
  CHECK(g != NULL, "model does not load");
  return g;
}

/* Runs the named pass with the verifier after it; returns whether it changed the graph. */
static bool run(IrGraph *g, const char *name) {
  const PassInfo *p = pass_find(name);
  CHECK(p != NULL, "no pass %s", name);
  IrDiag d;
  ir_diag_init(&d, "test", true);
  PassOptions o = {.opt_level = 3, .workspace_align = 64, .verify_each = true};
  bool changed = p->run(g, &o, &d);
  CHECK(d.n_errors == 0, "%s reported errors", name);
  CHECK(ir_graph_verify(g, &d), "graph does not verify after %s: %s", name, d.text ? d.text : "");
  ir_diag_free(&d);
  return changed;
}

static int count_op(const IrGraph *g, IrOp op) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i]->op == op;
  return n;
}

static const IrValue *find(const IrGraph *g, const char *name) {
  for (int i = 0; i < g->n_values; i++)
    if (!strcmp(g->values[i]->name, name)) return g->values[i];
  return NULL;
}

/* Interpreter output of g on a fixed input pattern, malloc'd. */
static float *interp(const IrGraph *g) {
  int64_t n = ir_value_numel(g->inputs[0]);
  float *x = malloc(sizeof *x * (size_t)n + 1);
  float *y = malloc((size_t)ir_value_nbytes(g->outputs[0]) + 1);
  for (int64_t i = 0; i < n; i++) x[i] = (float)((i * 37 % 23) - 11) / 7.0f;
  const void *ins[1] = {x};
  void *outs[1] = {y};
  CHECK(ir_interp_run(g, ins, outs) == 0, "interpreter failed");
  free(x);
  return y;
}

/* Loads json twice, runs `passes` (comma list) on one copy, checks both compute the same y
 * (within rtol: folding BatchNorm reorders float arithmetic) and returns the optimized copy. */
static IrGraph *same_after(const char *json, const char *passes, double rtol) {
  IrGraph *ref = parse(json), *g = parse(json);
  if (!ref || !g) exit(1);
  char list[256];
  snprintf(list, sizeof list, "%s", passes);
  for (char *s = strtok(list, ","); s; s = strtok(NULL, ",")) run(g, s);
  float *want = interp(ref), *got = interp(g);
  CHECK(test_close_f32(got, want, (long)ir_value_numel(g->outputs[0]), rtol, 1e-6, passes),
        "outputs differ after %s", passes);
  free(want);
  free(got);
  ir_graph_free(ref);
  return g;
}

static void test_fold(void) {
  /* (a + b) is constant; then x * (a + b) */
  IrGraph *g = same_after(
      MODEL("[2,3]", "[2,3]", F32("a", "[3]", "[1, 2, 3]") "," F32("b", "[3]", "[0.5, 0.25, -1]"),
            NODE("Add", "[\"a\", \"b\"]", "[\"s\"]") "," NODE("Mul", "[\"x\", \"s\"]", "[\"y\"]")),
      "fold", 0);
  CHECK(g->n_nodes == 1 && g->nodes[0]->op == IR_OP_MUL, "fold: %d nodes left", g->n_nodes);
  const IrValue *s = find(g, "s");
  CHECK(s && s->kind == IR_VALUE_CONST, "fold: s is not a constant");
  if (s && s->kind == IR_VALUE_CONST) {
    const float *p = s->data;
    CHECK(p[0] == 1.5f && p[1] == 2.25f && p[2] == 2.0f, "fold: s = %g %g %g", p[0], p[1], p[2]);
  }
  CHECK(!find(g, "a") && !find(g, "b"), "fold: the folded inputs are still in the graph");
  ir_graph_free(g);

  /* a shape subgraph: Reshape of a constant, then Sub of constants, feeding a computed node */
  g = same_after(
      MODEL("[2,2]", "[2,2]",
            F32("c", "[4]", "[1, 2, 3, 4]") "," I64("shape", "[2]", "[2, 2]") "," F32("one", "[]",
                                                                                      "[1]"),
            NODE("Reshape", "[\"c\", \"shape\"]", "[\"r\"]") "," NODE(
                "Sub", "[\"r\", \"one\"]", "[\"q\"]") "," NODE("Add", "[\"x\", \"q\"]", "[\"y\"]")),
      "fold", 0);
  CHECK(g->n_nodes == 1 && count_op(g, IR_OP_ADD) == 1, "fold chain: %d nodes left", g->n_nodes);
  ir_graph_free(g);

  /* Shape of the graph input folds (IR_OPF_STATIC), and so does the Cast of it after it */
  g = same_after(MODEL("[2,3]", "[2,3]", "",
                       NODE_A("Shape", "[\"x\"]", "[\"s\"]", "{\"start\": -1}") "," NODE_A(
                           "Cast", "[\"s\"]", "[\"f\"]",
                           "{\"to\": 1}") "," NODE("Add", "[\"x\", \"f\"]", "[\"y\"]")),
                 "fold", 0);
  CHECK(g->n_nodes == 1 && count_op(g, IR_OP_ADD) == 1, "fold Shape: %d nodes left", g->n_nodes);
  s = find(g, "f");
  CHECK(s && s->kind == IR_VALUE_CONST && ir_value_numel(s) == 1 &&
            ((const float *)s->data)[0] == 3.0f,
        "fold Shape: f is not the constant [3]");
  ir_graph_free(g);

  /* nothing constant: unchanged */
  g = parse(MODEL("[4]", "[4]", "", NODE("Relu", "[\"x\"]", "[\"y\"]")));
  CHECK(!run(g, "fold") && g->n_nodes == 1, "fold changed a graph without constants");
  ir_graph_free(g);
}

static void test_dce(void) {
  IrGraph *g = same_after(
      MODEL("[4]", "[4]", F32("unused", "[4]", "[1,2,3,4]") "," F32("w", "[4]", "[1,1,1,2]"),
            NODE("Relu", "[\"x\"]",
                 "[\"y\"]") "," NODE("Mul", "[\"x\", \"w\"]",
                                     "[\"dead1\"]") "," NODE("Tanh", "[\"dead1\"]", "[\"dead2\"]")),
      "dce", 0);
  CHECK(g->n_nodes == 1 && g->nodes[0]->op == IR_OP_RELU, "dce: %d nodes left", g->n_nodes);
  CHECK(!find(g, "unused") && !find(g, "w") && !find(g, "dead1"), "dce: dead values remain");
  CHECK(g->n_values == 2, "dce: %d values left (want x, y)", g->n_values);
  for (int i = 0; i < g->n_values; i++) CHECK(g->values[i]->id == i, "dce: ids not renumbered");
  ir_graph_free(g);
}

static void test_cse(void) {
  IrGraph *g = same_after(
      MODEL("[4]", "[4]", F32("a", "[4]", "[1,2,3,4]") "," F32("b", "[4]", "[1,2,3,4]"),
            NODE("Mul", "[\"x\", \"a\"]", "[\"p\"]") "," NODE(
                "Mul", "[\"x\", \"b\"]", "[\"q\"]") "," NODE("Add", "[\"p\", \"q\"]", "[\"y\"]")),
      "cse,dce", 0);
  CHECK(count_op(g, IR_OP_MUL) == 1, "cse: %d Mul left", count_op(g, IR_OP_MUL));
  const IrNode *add = g->nodes[g->n_nodes - 1];
  CHECK(add->op == IR_OP_ADD && add->inputs[0] == add->inputs[1], "cse: Add reads two values");
  CHECK(!(find(g, "a") && find(g, "b")), "cse: the identical initializers were not merged");
  ir_graph_free(g);

  /* same op, different attributes: both stay */
  g = same_after(MODEL("[4]", "[4]", "",
                       NODE_A("LeakyRelu", "[\"x\"]", "[\"p\"]", "{\"alpha\": 0.1}") "," NODE_A(
                           "LeakyRelu", "[\"x\"]", "[\"q\"]",
                           "{\"alpha\": 0.2}") "," NODE("Add", "[\"p\", \"q\"]", "[\"y\"]")),
                 "cse", 0);
  CHECK(count_op(g, IR_OP_LEAKY_RELU) == 2, "cse merged nodes with different attributes");
  ir_graph_free(g);
}

static void test_simplify(void) {
  /* Identity, Dropout, x*1, x+0 vanish; the Relu then writes the graph output itself */
  IrGraph *g = same_after(
      MODEL(
          "[2,3]", "[2,3]", F32("ones", "[3]", "[1,1,1]") "," F32("zero", "[]", "[0]"),
          NODE("Identity", "[\"x\"]", "[\"a\"]") "," NODE("Dropout", "[\"a\"]", "[\"b\"]") "," NODE(
              "Mul", "[\"b\", \"ones\"]",
              "[\"c\"]") "," NODE("Add", "[\"zero\", \"c\"]",
                                  "[\"d\"]") "," NODE("Relu", "[\"d\"]",
                                                      "[\"e\"]") "," NODE("Identity", "[\"e\"]",
                                                                          "[\"y\"]")),
      "simplify,dce", 0);
  CHECK(g->n_nodes == 1 && g->nodes[0]->op == IR_OP_RELU, "simplify: %d nodes left", g->n_nodes);
  if (g->n_nodes == 1)
    CHECK(g->nodes[0]->inputs[0] == g->inputs[0] && g->nodes[0]->outputs[0] == g->outputs[0],
          "simplify: the Relu does not read x and write y");
  ir_graph_free(g);

  /* x + 0 that broadcasts to a bigger shape is not a no-op */
  g = same_after(MODEL("[3]", "[2,3]", F32("z", "[2,3]", "[0,0,0,0,0,0]"),
                       NODE("Add", "[\"x\", \"z\"]", "[\"y\"]")),
                 "simplify", 0);
  CHECK(g->n_nodes == 1, "simplify removed a broadcasting Add");
  ir_graph_free(g);

  /* x * 2 stays */
  g = same_after(
      MODEL("[3]", "[3]", F32("two", "[3]", "[2,2,2]"), NODE("Mul", "[\"x\", \"two\"]", "[\"y\"]")),
      "simplify", 0);
  CHECK(g->n_nodes == 1, "simplify removed x*2");
  ir_graph_free(g);

  /* Reshape chains: Flatten then Reshape then Reshape -> one Reshape of x */
  g = same_after(MODEL("[2,3,4]", "[4,6]", I64("s1", "[1]", "[24]") "," I64("s2", "[2]", "[4, -1]"),
                       NODE("Flatten", "[\"x\"]", "[\"f\"]") "," NODE(
                           "Reshape", "[\"f\", \"s1\"]",
                           "[\"r\"]") "," NODE("Reshape", "[\"r\", \"s2\"]",
                                               "[\"t\"]") "," NODE("Relu", "[\"t\"]", "[\"y\"]")),
                 "simplify,simplify,dce", 0);
  CHECK(count_op(g, IR_OP_RESHAPE) == 1 && count_op(g, IR_OP_FLATTEN) == 0,
        "reshape chain: %d Reshape, %d Flatten", count_op(g, IR_OP_RESHAPE),
        count_op(g, IR_OP_FLATTEN));
  CHECK(g->nodes[0]->op == IR_OP_RESHAPE && g->nodes[0]->inputs[0] == g->inputs[0],
        "reshape chain: the Reshape does not read x");
  ir_graph_free(g);

  /* a Reshape to the input's own shape goes */
  g = same_after(
      MODEL("[2,3]", "[2,3]", I64("s", "[2]", "[2, 3]"),
            NODE("Reshape", "[\"x\", \"s\"]", "[\"r\"]") "," NODE("Tanh", "[\"r\"]", "[\"y\"]")),
      "simplify", 0);
  CHECK(g->n_nodes == 1 && g->nodes[0]->op == IR_OP_TANH, "same-shape Reshape stayed");
  ir_graph_free(g);

  /* Transposes that cancel (the default reversed perm twice) vanish */
  g = same_after(
      MODEL("[2,3,4]", "[2,3,4]", "",
            NODE("Transpose", "[\"x\"]", "[\"t1\"]") "," NODE(
                "Transpose", "[\"t1\"]", "[\"t2\"]") "," NODE("Relu", "[\"t2\"]", "[\"y\"]")),
      "simplify,dce", 0);
  CHECK(g->n_nodes == 1 && g->nodes[0]->op == IR_OP_RELU && g->nodes[0]->inputs[0] == g->inputs[0],
        "cancelling Transposes: %d nodes, %d Transpose", g->n_nodes, count_op(g, IR_OP_TRANSPOSE));
  ir_graph_free(g);

  /* Transposes that do not cancel become one with the composed permutation */
  g = same_after(
      MODEL("[2,3,4]", "[4,2,3]", "",
            NODE_A("Transpose", "[\"x\"]", "[\"t1\"]", "{\"perm\": [1, 0, 2]}") "," NODE_A(
                "Transpose", "[\"t1\"]", "[\"t2\"]",
                "{\"perm\": [2, 1, 0]}") "," NODE("Relu", "[\"t2\"]", "[\"y\"]")),
      "simplify,dce", 0);
  CHECK(count_op(g, IR_OP_TRANSPOSE) == 1, "composed Transposes: %d left",
        count_op(g, IR_OP_TRANSPOSE));
  if (g->n_nodes == 2) {
    const IrAttr *perm = ir_attr(g->nodes[0], "perm");
    CHECK(g->nodes[0]->inputs[0] == g->inputs[0] && perm->count == 3 && perm->ints[0] == 2 &&
              perm->ints[1] == 0 && perm->ints[2] == 1,
          "composed Transposes: expected perm [2,0,1] on x");
  }
  ir_graph_free(g);
}

/* Conv [1,2,4,4] -> BN with non-trivial statistics */
#define BN_INITS                                                                                   \
  F32("scale", "[2]", "[1.5, 0.5]")                                                                \
  "," F32("B", "[2]", "[0.1, -0.2]") "," F32("mean", "[2]", "[0.3, -0.4]") "," F32("var", "[2]",   \
                                                                                   "[2.0, 0.25]")
#define BN_NODE                                                                                    \
  NODE_A("BatchNormalization", "[\"h\", \"scale\", \"B\", \"mean\", \"var\"]", "[\"y\"]",          \
         "{\"epsilon\": 0.001}")

static void test_bnfold(void) {
  IrGraph *g =
      same_after(MODEL("[1,1,4,4]", "[1,2,4,4]",
                       F32("w", "[2,1,3,3]", "[1,2,3,4,5,6,7,8,9,-1,0,1,-2,0,2,-1,0,1]") "," F32(
                           "b", "[2]", "[0.5, -0.5]") "," BN_INITS,
                       NODE_A("Conv", "[\"x\", \"w\", \"b\"]", "[\"h\"]",
                              "{\"pads\": [1,1,1,1]}") "," BN_NODE),
                 "bnfold,dce", 1e-5);
  CHECK(g->n_nodes == 1 && g->nodes[0]->op == IR_OP_CONV, "bnfold conv: %d nodes", g->n_nodes);
  CHECK(g->nodes[0]->outputs[0] == g->outputs[0], "bnfold conv: Conv does not write y");
  CHECK(!find(g, "mean") && !find(g, "var"), "bnfold: BN parameters remain");
  ir_graph_free(g);

  /* Conv without bias gains one */
  g = same_after(MODEL("[1,1,3,3]", "[1,2,3,3]", F32("w", "[2,1,1,1]", "[2, -3]") "," BN_INITS,
                       NODE("Conv", "[\"x\", \"w\"]", "[\"h\"]") "," BN_NODE),
                 "bnfold", 1e-5);
  CHECK(g->n_nodes == 1 && g->nodes[0]->n_inputs == 3 && g->nodes[0]->inputs[2],
        "bnfold: no bias added");
  ir_graph_free(g);

  /* ConvTranspose: weights [C_in, C_out, k, k] */
  g = same_after(MODEL("[1,1,2,2]", "[1,2,3,3]",
                       F32("w", "[1,2,2,2]", "[1,2,3,4,-1,-2,0.5,3]") "," BN_INITS,
                       NODE("ConvTranspose", "[\"x\", \"w\"]", "[\"h\"]") "," BN_NODE),
                 "bnfold", 1e-5);
  CHECK(count_op(g, IR_OP_BATCH_NORM) == 0, "bnfold: ConvTranspose+BN not folded");
  ir_graph_free(g);

  /* Gemm with transB, alpha and beta */
  g = same_after(
      MODEL("[1,3]", "[1,2]",
            F32("w", "[2,3]", "[1,2,3,-1,0,4]") "," F32("b", "[2]", "[0.5, 1]") "," BN_INITS,
            NODE_A("Gemm", "[\"x\", \"w\", \"b\"]", "[\"h\"]",
                   "{\"transB\": 1, \"alpha\": 0.5, \"beta\": 2}") "," BN_NODE),
      "bnfold", 1e-5);
  CHECK(count_op(g, IR_OP_BATCH_NORM) == 0, "bnfold: Gemm+BN not folded");
  ir_graph_free(g);

  /* 2-D MatMul by a constant becomes a Gemm with a bias */
  g = same_after(MODEL("[2,3]", "[2,2]", F32("w", "[3,2]", "[1,2,3,-1,0,4]") "," BN_INITS,
                       NODE("MatMul", "[\"x\", \"w\"]", "[\"h\"]") "," BN_NODE),
                 "bnfold", 1e-5);
  CHECK(g->n_nodes == 1 && g->nodes[0]->op == IR_OP_GEMM && g->nodes[0]->inputs[2],
        "bnfold: MatMul+BN not folded into a Gemm");
  ir_graph_free(g);

  /* the Conv's output has a second reader: no fold */
  g = parse(MODEL("[1,1,3,3]", "[1,2,3,3]", F32("w", "[2,1,1,1]", "[2, -3]") "," BN_INITS,
                  NODE("Conv", "[\"x\", \"w\"]", "[\"h\"]") "," NODE_A(
                      "BatchNormalization", "[\"h\", \"scale\", \"B\", \"mean\", \"var\"]",
                      "[\"n\"]", "{}") "," NODE("Add", "[\"n\", \"h\"]", "[\"y\"]")));
  CHECK(!run(g, "bnfold") && count_op(g, IR_OP_BATCH_NORM) == 1, "bnfold folded a shared Conv");
  ir_graph_free(g);
}

/* Conv + bias -> Relu -> Add(residual x) -> Sigmoid */
#define FUSE_MODEL                                                                                 \
  MODEL("[1,2,3,3]", "[1,2,3,3]",                                                                  \
        F32("w", "[2,2,1,1]", "[1, -2, 0.5, 3]") "," F32("b", "[2]", "[0.25, -0.5]"),              \
        NODE("Conv", "[\"x\", \"w\", \"b\"]", "[\"h\"]") "," NODE(                                 \
            "Relu", "[\"h\"]", "[\"r\"]") "," NODE("Add", "[\"r\", \"x\"]",                        \
                                                   "[\"s\"]") "," NODE("Sigmoid", "[\"s\"]",       \
                                                                       "[\"y\"]"))

static void test_fuse(void) {
  IrGraph *g = same_after(FUSE_MODEL, "fuse", 1e-6);
  CHECK(g->n_nodes == 1 && g->nodes[0]->op == IR_OP_CONV, "fuse: %d nodes", g->n_nodes);
  const IrNode *h = g->nodes[0];
  CHECK(h->n_epilogue == 3 && h->epilogue[0]->op == IR_OP_RELU && h->epilogue[1]->op == IR_OP_ADD &&
            h->epilogue[2]->op == IR_OP_SIGMOID,
        "fuse: epilogue of %d steps", h->n_epilogue);
  CHECK(h->outputs[0] == g->outputs[0], "fuse: the Conv does not write y");
  CHECK(h->n_epilogue_inputs == 1 && h->inputs[h->n_inputs - 1] == g->inputs[0],
        "fuse: the residual is not the Conv's trailing input");
  /* the text form shows the group */
  char buf[4096] = {0};
  FILE *f = fmemopen(buf, sizeof buf - 1, "w");
  ir_graph_print(g, f);
  fclose(f);
  CHECK(strstr(buf, "|> Relu |> Add(_, %x) |> Sigmoid"), "fuse: printed as %s", buf);
  ir_graph_free(g);

  /* a value read twice is not fused (the Relu output is needed as a tensor) */
  g = same_after(
      MODEL("[4]", "[4]", "",
            NODE("Tanh", "[\"x\"]", "[\"t\"]") "," NODE("Relu", "[\"t\"]", "[\"r\"]") "," NODE(
                "Add", "[\"r\", \"r\"]", "[\"a\"]") "," NODE("Mul", "[\"a\", \"r\"]", "[\"y\"]")),
      "fuse", 1e-6);
  /* Tanh |> Relu; r stays a tensor; Add(r, r) |> Mul(_, r) */
  CHECK(g->n_nodes == 2 && g->nodes[0]->n_epilogue == 1 && g->nodes[1]->op == IR_OP_ADD &&
            g->nodes[1]->n_epilogue == 1 && find(g, "r") && find(g, "r")->kind == IR_VALUE_NODE,
        "fuse: shared value: %d nodes, first with %d steps", g->n_nodes, g->nodes[0]->n_epilogue);
  ir_graph_free(g);

  /* Gelu (tanh form) joins a MatMul as its epilogue */
  g = same_after(MODEL("[2,3]", "[2,2]", F32("w", "[3,2]", "[1, -2, 0.5, 3, -1, 0.25]"),
                       NODE("MatMul", "[\"x\", \"w\"]", "[\"m\"]") "," NODE_A(
                           "Gelu", "[\"m\"]", "[\"y\"]", "{\"approximate\": \"tanh\"}")),
                 "fuse", 1e-6);
  CHECK(g->n_nodes == 1 && g->nodes[0]->op == IR_OP_MATMUL && g->nodes[0]->n_epilogue == 1 &&
            g->nodes[0]->epilogue[0]->op == IR_OP_GELU,
        "fuse Gelu: %d nodes", g->n_nodes);
  ir_graph_free(g);

  /* an operand computed after the head cannot join its epilogue; a broadcasting one neither */
  g = same_after(
      MODEL("[2,3]", "[2,3]", F32("row", "[3]", "[1, 2, 3]"),
            NODE("Relu", "[\"x\"]", "[\"r\"]") "," NODE("Tanh", "[\"x\"]", "[\"t\"]") "," NODE(
                "Add", "[\"r\", \"t\"]", "[\"a\"]") "," NODE("Mul", "[\"a\", \"row\"]", "[\"y\"]")),
      "fuse", 1e-6);
  /* Relu cannot take Add(r, t) (t comes later) but Tanh can; the Mul by a row broadcasts */
  CHECK(g->n_nodes == 3 && g->nodes[0]->op == IR_OP_RELU && !g->nodes[0]->n_epilogue &&
            g->nodes[1]->op == IR_OP_TANH && g->nodes[1]->n_epilogue == 1 &&
            g->nodes[2]->op == IR_OP_MUL && !g->nodes[2]->n_epilogue,
        "fuse: ordering: %d nodes", g->n_nodes);
  ir_graph_free(g);
}

/* The emitted LLVM IR of a fused Conv + bias + Relu: one node function, the Conv's, with the
 * Relu's compare-and-select inside it; without fusion there are two. */
static int count_substr(const char *s, const char *sub) {
  int n = 0;
  for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub)) n++;
  return n;
}

/* The LLVM IR (-O0) of json after the pass list `passes` (NULL: the -O2 pipeline); malloc'd.
 * *gp, if given, receives the graph after the passes (the caller frees it). */
static char *emit_ll_of(const char *json, const char *passes, IrGraph **gp) {
  IrGraph *g = parse(json);
  IrDiag d;
  ir_diag_init(&d, "test", true);
  PassOptions po = {.opt_level = passes ? 0 : 2, .passes = passes, .verify_each = true};
  CHECK(pass_run_pipeline(g, &po, &d), "pipeline %s failed", passes ? passes : "-O2");
  char path[] = "/tmp/kiln-test-passes-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0, "mkstemp");
  close(fd);
  CgOptions o = {.prefix = "fz", .opt_level = 0, .emit = CG_EMIT_LLVM, .pic = true};
  CHECK(cg_compile(g, &o, path, &d), "cg_compile failed");
  FILE *f = fopen(path, "rb");
  char *text = calloc(1, 1 << 20);
  if (f) {
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    text[n] = 0;
    fclose(f);
  }
  remove(path);
  ir_diag_free(&d);
  if (gp)
    *gp = g;
  else
    ir_graph_free(g);
  return text;
}

static char *emit_ll(const char *passes) {
  const char *json = MODEL(
      "[1,2,4,4]", "[1,2,4,4]",
      F32("w", "[2,2,1,1]", "[1, -2, 0.5, 3]") "," F32("b", "[2]", "[0.25, -0.5]"),
      NODE("Conv", "[\"x\", \"w\", \"b\"]", "[\"h\"]") "," NODE("Relu", "[\"h\"]", "[\"y\"]"));
  return emit_ll_of(json, passes, NULL);
}

static void test_fused_llvm(void) {
  char *fused = emit_ll("fuse"), *plain = emit_ll("dce");
  /* node functions (they return a status): every private function but the body */
  int n_fused = count_substr(fused, "define private i32 @fz.") +
                count_substr(fused, "define private void @fz.") - 1;
  int n_plain = count_substr(plain, "define private i32 @fz.") +
                count_substr(plain, "define private void @fz.") - 1;
  CHECK(n_fused == 1, "fused: %d node functions", n_fused);
  CHECK(n_plain == 2, "unfused: %d node functions", n_plain);
  CHECK(strstr(fused, "@fz.0.Conv(") && !strstr(fused, ".Relu("),
        "fused: expected only a Conv node function");
  CHECK(strstr(plain, "@fz.0.Conv(") && strstr(plain, "@fz.1.Relu("),
        "unfused: expected a Conv and a Relu node function");
  /* the Relu is the compare + select inside the Conv's function */
  const char *conv = strstr(fused, "define private i32 @fz.0.Conv(");
  const char *end = conv ? strstr(conv, "\n}\n") : NULL;
  bool relu_inside = false;
  if (conv && end) {
    const char *cmp = strstr(conv, "fcmp olt");
    relu_inside = cmp && cmp < end;
  }
  CHECK(relu_inside, "fused: no Relu compare inside the Conv function");
  free(fused);
  free(plain);
}

/* RNN/GRU/LSTM state and gates live in the node's scratch (kernel pass + memory plan), not on
 * the stack: no alloca in the emitted IR (issue 14). LSTM T=3, B=2, I=2, H=3: proj 3*2*12 = 72
 * floats (80 rounded to 16), bias 12 (16), h 6 (16), c 6 (16): 128 floats. */
#define RNN_W                                                                                      \
  "[-0.73, 0.69, 0.53, -0.49, -0.01, -0.10, 0.30, 0.58, -0.81, -0.94, 0.67, -0.13, 0.52, -1.00, "  \
  "-0.11, 0.44, -0.54, 0.89, 0.80, -0.94, -0.95, 0.08, 0.88, -0.24]"
#define RNN_R                                                                                      \
  "[-0.57, -0.16, -0.94, -0.56, -0.12, -0.01, -0.53, -0.54, -0.56, -0.08, -0.42, -0.96, 0.68, "    \
  "0.11, 0.28, -0.63, 0.99, 0.72, -0.76, -0.33, 0.44, 0.42, 0.87, -0.16, 0.66, 0.34, -0.39, "      \
  "0.18, 0.76, 0.69, 0.01, 0.18, -0.93, -0.51, 0.59, -0.17]"
#define RNN_B                                                                                      \
  "[-0.65, 0.10, 0.41, 0.35, -0.25, -0.12, 0.02, 0.56, 0.04, -0.21, -0.02, -0.94, -0.91, 0.41, "   \
  "0.97, 0.19, -0.21, -0.66, 0.00, 0.96, 0.54, 0.08, 0.72, -0.54]"

static void test_recurrent_scratch(void) {
  const char *json = MODEL(
      "[3,2,2]", "[3,1,2,3]",
      F32("W", "[1,12,2]", RNN_W) "," F32("R", "[1,12,3]", RNN_R) "," F32("B", "[1,24]", RNN_B),
      NODE_A("LSTM", "[\"x\", \"W\", \"R\", \"B\"]", "[\"y\"]", "{\"hidden_size\": 3}"));
  IrGraph *g = NULL;
  char *ll = emit_ll_of(json, NULL, &g);
  const IrNode *n = NULL;
  for (int i = 0; g && i < g->n_nodes; i++)
    if (g->nodes[i]->op == IR_OP_LSTM) n = g->nodes[i];
  CHECK(n != NULL, "recurrent: no LSTM node");
  if (n) {
    CHECK(n->kernel == IR_KERNEL_RECURRENT, "recurrent: kernel %s", ir_kernel_names[n->kernel]);
    CHECK(n->scratch_bytes == 128 * 4, "recurrent: %lld scratch bytes",
          (long long)n->scratch_bytes);
    CHECK(n->scratch_offset >= 0 && n->scratch_offset + n->scratch_bytes <= g->workspace_size,
          "recurrent: scratch at %lld, workspace %lld", (long long)n->scratch_offset,
          (long long)g->workspace_size);
  }
  CHECK(strstr(ll, "LSTM(") && !strstr(ll, "alloca"), "recurrent: an alloca in the LLVM IR");
  free(ll);
  ir_graph_free(g);
  /* a projection budget under one step (kiln's is 2 KiB on bare metal): chunks of one step,
   * proj 24 floats (32): 80 floats; codegen finds the chunk again from the scratch size */
  g = parse(json);
  IrDiag d;
  ir_diag_init(&d, "test", true);
  PassOptions po = {.opt_level = 2, .recurrent_proj_bytes = 1};
  CHECK(pass_run_pipeline(g, &po, &d), "recurrent: pipeline failed");
  ir_diag_free(&d);
  n = NULL;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i]->op == IR_OP_LSTM) n = g->nodes[i];
  if (n) {
    IrRecurrentScratch sc;
    ir_recurrent_scratch_of(n, n->scratch_bytes, &sc);
    CHECK(n->scratch_bytes == 80 * 4 && sc.chunk == 1 && sc.proj == 48,
          "recurrent: %lld scratch bytes, chunk %lld at %lld", (long long)n->scratch_bytes,
          (long long)sc.chunk, (long long)sc.proj);
    ir_recurrent_scratch_of(n, 128 * 4, &sc);
    CHECK(sc.chunk == 3, "recurrent: chunk %lld of 128 floats", (long long)sc.chunk);
  }
  ir_graph_free(g);
}

static void test_padfold(void) {
  /* zero Pad of H and W + Conv with its own pads: one Conv, pads summed */
  IrGraph *g = same_after(
      MODEL("[1,1,3,4]", "[1,1,6,5]",
            I64("p", "[8]", "[0,0,1,0,0,0,1,2]") "," F32("w", "[1,1,2,2]", "[1,-2,0.5,3]"),
            NODE("Pad", "[\"x\", \"p\"]", "[\"q\"]") "," NODE_A("Conv", "[\"q\", \"w\"]", "[\"y\"]",
                                                                "{\"pads\": [1,0,1,0]}")),
      "padfold", 1e-6);
  CHECK(g->n_nodes == 1 && g->nodes[0]->op == IR_OP_CONV, "padfold conv: %d nodes", g->n_nodes);
  const IrAttr *pads = ir_attr(g->nodes[0], "pads");
  CHECK(pads->count == 4 && pads->ints[0] == 2 && pads->ints[1] == 0 && pads->ints[2] == 2 &&
            pads->ints[3] == 2,
        "padfold conv: pads not summed");
  ir_graph_free(g);

  /* AveragePool: the padded zeros count */
  g = same_after(MODEL("[1,1,3,3]", "[1,1,2,2]", I64("p", "[8]", "[0,0,1,1,0,0,0,0]"),
                       NODE("Pad", "[\"x\", \"p\"]",
                            "[\"q\"]") "," NODE_A("AveragePool", "[\"q\"]", "[\"y\"]",
                                                  "{\"kernel_shape\": [2,2], \"strides\": [2,2]}")),
                 "padfold", 1e-6);
  CHECK(g->n_nodes == 1 && ir_attr_i(g->nodes[0], "count_include_pad") == 1,
        "padfold avgpool: %d nodes", g->n_nodes);
  ir_graph_free(g);

  /* not folded: MaxPool after zero padding, padding of the channel axis, reflect padding */
  g = same_after(
      MODEL("[1,1,3,3]", "[1,1,2,2]", I64("p", "[8]", "[0,0,1,1,0,0,0,0]"),
            NODE("Pad", "[\"x\", \"p\"]", "[\"q\"]") "," NODE_A(
                "MaxPool", "[\"q\"]", "[\"y\"]", "{\"kernel_shape\": [2,2], \"strides\": [2,2]}")),
      "padfold", 0);
  CHECK(g->n_nodes == 2, "padfold: zero Pad folded into MaxPool");
  ir_graph_free(g);
  g = same_after(
      MODEL("[1,1,3,3]", "[1,2,2,2]",
            I64("p", "[8]", "[0,1,0,0,0,0,0,0]") "," F32("w", "[2,2,2,2]",
                                                         "[1,2,3,4,5,6,7,8,1,2,3,4,5,6,7,8]"),
            NODE("Pad", "[\"x\", \"p\"]", "[\"q\"]") "," NODE("Conv", "[\"q\", \"w\"]", "[\"y\"]")),
      "padfold", 0);
  CHECK(g->n_nodes == 2, "padfold: channel padding folded");
  ir_graph_free(g);
  g = same_after(
      MODEL("[1,1,3,3]", "[1,1,4,4]",
            I64("p", "[8]", "[0,0,1,1,0,0,1,1]") "," F32("w", "[1,1,2,2]", "[1,2,3,4]"),
            NODE_A("Pad", "[\"x\", \"p\"]", "[\"q\"]",
                   "{\"mode\": \"reflect\"}") "," NODE("Conv", "[\"q\", \"w\"]", "[\"y\"]")),
      "padfold", 0);
  CHECK(g->n_nodes == 2, "padfold: reflect padding folded");
  ir_graph_free(g);
  /* a 4-D Pad read by an op without pads (found by test_random_graphs: padfold read the
   * reader's "auto_pad" before checking its op, a NULL string for Relu, Slice...: a crash) */
  g = same_after(
      MODEL("[1,1,3,3]", "[1,1,5,5]", I64("p", "[8]", "[0,0,1,1,0,0,1,1]"),
            NODE("Pad", "[\"x\", \"p\"]", "[\"q\"]") "," NODE("Relu", "[\"q\"]", "[\"y\"]")),
      "padfold", 0);
  CHECK(g->n_nodes == 2, "padfold: Pad folded into Relu");
  ir_graph_free(g);
}

static void test_manager(void) {
  const char *json =
      MODEL("[4]", "[4]", "",
            NODE("Identity", "[\"x\"]", "[\"a\"]") "," NODE("Relu", "[\"a\"]", "[\"y\"]"));
  IrDiag d;
  /* -O0: the graph as written, planned */
  IrGraph *g = parse(json);
  ir_diag_init(&d, "test", false);
  PassOptions o = {.opt_level = 0, .verify_each = true};
  CHECK(pass_run_pipeline(g, &o, &d) && g->n_nodes == 2 && g->workspace_size >= 0,
        "-O0 pipeline: %d nodes", g->n_nodes);
  ir_graph_free(g);
  ir_diag_free(&d);
  /* -O2 removes the Identity; --print-after writes the graph after that pass */
  g = parse(json);
  ir_diag_init(&d, "test", false);
  char buf[4096] = {0};
  FILE *f = fmemopen(buf, sizeof buf - 1, "w");
  o = (PassOptions){.opt_level = 2, .verify_each = true, .print_after = "simplify", .print_to = f};
  CHECK(pass_run_pipeline(g, &o, &d) && g->n_nodes == 1, "-O2 pipeline: %d nodes", g->n_nodes);
  fclose(f);
  CHECK(strstr(buf, "; graph after simplify") && !strstr(buf, "Identity"),
        "--print-after output: %s", buf);
  ir_graph_free(g);
  ir_diag_free(&d);
  /* an explicit list; an unknown name is a user error naming --passes */
  g = parse(json);
  ir_diag_init(&d, "test", false);
  o = (PassOptions){.passes = "dce", .verify_each = true};
  CHECK(pass_run_pipeline(g, &o, &d) && g->n_nodes == 2 && g->workspace_size >= 0,
        "--passes=dce: %d nodes", g->n_nodes);
  o.passes = "simplify,nosuchpass";
  CHECK(!pass_run_pipeline(g, &o, &d) && d.text && strstr(d.text, "--passes") &&
            strstr(d.text, "nosuchpass"),
        "unknown pass not reported: %s", d.text ? d.text : "");
  ir_graph_free(g);
  ir_diag_free(&d);
  int n;
  const PassInfo *list = pass_list(&n);
  CHECK(n >= 6 && !strcmp(list[n - 1].name, "memplan"), "memplan is not the last pass");
}

int main(void) {
  test_fold();
  test_dce();
  test_cse();
  test_simplify();
  test_bnfold();
  test_padfold();
  test_fuse();
  test_fused_llvm();
  test_recurrent_scratch();
  test_manager();
  return test_report("passes");
}
