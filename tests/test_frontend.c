/* Frontend: every file of the malformed corpus (tests/malformed/EXPECT) fails with its message;
 * good models load with the right values from inline data, base64 and external files (mapped
 * or, when unaligned, copied); f16 rounding; strict base64; several errors in one run; the op
 * cases under tests/ops load; mutated models never crash. Run from the source directory, or
 * pass it as the first argument. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe.h"
#include "fe_internal.h"
#include "test_util.h"

static const char *src_dir = ".";
static char tmp_dir[256];

/* ---- helpers ------------------------------------------------------------------------------ */
static void write_file(const char *name, const void *data, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(data, 1, n, f) != n)) {
    fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
    exit(1);
  }
  fclose(f);
}

static const FeOptions *parse_opts; /* NULL: the defaults */

static IrGraph *parse_str(const char *json, IrDiag *d) {
  ir_diag_init(d, "model.json", false);
  return fe_parse_model_opts(json, strlen(json), tmp_dir, "default_name", parse_opts, d);
}

static bool has(const IrDiag *d, const char *s) { return d->text && strstr(d->text, s); }

/* Expects json to fail with every one of the NULL-terminated substrings and exactly n_errors
 * errors (n_errors < 0: any number). */
static void expect_errors(const char *json, int n_errors, const char *const *subs) {
  IrDiag d;
  IrGraph *g = parse_str(json, &d);
  CHECK(!g, "expected failure for: %.200s", json);
  ir_graph_free(g);
  if (n_errors >= 0)
    CHECK(d.n_errors == n_errors, "expected %d errors, got %d:\n%s", n_errors, d.n_errors,
          d.text ? d.text : "");
  for (int i = 0; subs[i]; i++)
    CHECK(has(&d, subs[i]), "missing '%s' in:\n%s", subs[i], d.text ? d.text : "(nothing)");
  ir_diag_free(&d);
}

static const IrValue *find(const IrGraph *g, const char *name) {
  const IrValue *v = ir_graph_find_value(g, name);
  CHECK(v != NULL, "value %s not found", name);
  return v;
}

/* ---- the malformed corpus ----------------------------------------------------------------- */
static void test_corpus(void) {
  char path[4096], line[2048];
  snprintf(path, sizeof path, "%s/tests/malformed/EXPECT", src_dir);
  FILE *f = fopen(path, "r");
  CHECK(f != NULL, "cannot open %s", path);
  if (!f) return;
  int files = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    if (!line[0] || line[0] == '#') continue;
    char *tab = strchr(line, '\t');
    CHECK(tab != NULL, "EXPECT line without a tab: %s", line);
    if (!tab) continue;
    *tab = 0;
    const char *file = line, *sub = tab + 1;
    snprintf(path, sizeof path, "%s/tests/malformed/%s", src_dir, file);
    IrDiag d;
    ir_diag_init(&d, file, false);
    IrGraph *g = fe_load_model(path, &d);
    CHECK(!g && d.n_errors > 0, "%s: loaded without errors", file);
    CHECK(has(&d, sub), "%s: error output lacks '%s':\n%s", file, sub, d.text ? d.text : "");
    /* Every message is "file: ...", one per line. */
    if (d.text) {
      int lines = 0;
      for (const char *p = d.text; *p; p++) lines += *p == '\n';
      CHECK(lines == d.n_errors, "%s: %d lines for %d errors", file, lines, d.n_errors);
    }
    if (strcmp(file, "12_three_unsupported_ops.json") == 0) {
      CHECK(has(&d, "nodes[0] (a): op 'Loop' is not supported by Kiln"), "%s", d.text);
      CHECK(has(&d, "nodes[1] (b): op 'NonMaxSuppression' is not supported by Kiln"), "%s", d.text);
      CHECK(has(&d, "nodes[2] (c): op 'Attention' is not supported by Kiln"), "%s", d.text);
      CHECK(d.n_errors == 4, "%s: %d errors", file, d.n_errors);
    }
    ir_graph_free(g);
    ir_diag_free(&d);
    files++;
  }
  fclose(f);
  CHECK(files >= 40, "only %d corpus files", files);
}

/* ---- good models -------------------------------------------------------------------------- */
static const char *const good_model =
    "{\"format\": \"kiln-model\", \"version\": 1, \"opset\": 13,\n"
    " \"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [2, 4]}],\n"
    " \"outputs\": [{\"name\": \"y\", \"dtype\": \"f32\", \"shape\": [2, 4]},\n"
    "             {\"name\": \"z\", \"shape\": [2, 3]}],\n"
    " \"initializers\": [\n"
    "  {\"name\": \"w\", \"dtype\": \"f32\", \"shape\": [3, 4], \"external\": {\"path\": "
    "\"w.bin\", \"offset\": 64, \"length\": 48}},\n"
    "  {\"name\": \"b\", \"dtype\": \"f32\", \"shape\": [3], \"base64\": \"AACAPwAAAEAAAEBA\"},\n"
    "  {\"name\": \"c\", \"dtype\": \"f32\", \"shape\": [4], \"data\": [0.5, -1, 2.25, 1e-3]},\n"
    "  {\"name\": \"odd\", \"dtype\": \"f32\", \"shape\": [2], \"external\": {\"path\": "
    "\"w.bin\", \"offset\": 4, \"length\": 8}},\n"
    "  {\"name\": \"first\", \"dtype\": \"f32\", \"shape\": [1], \"external\": {\"path\": "
    "\"./w.bin\", \"length\": 4}},\n"
    "  {\"name\": \"i8\", \"dtype\": \"i8\", \"shape\": [3], \"data\": [-128, 0, 127]},\n"
    "  {\"name\": \"u8\", \"dtype\": \"u8\", \"shape\": [2], \"data\": [0, 255], \"quant\": "
    "{\"scale\": [0.5], \"zero_point\": [128]}},\n"
    "  {\"name\": \"i16\", \"dtype\": \"i16\", \"shape\": [2], \"data\": [-32768, 32767]},\n"
    "  {\"name\": \"i32\", \"dtype\": \"i32\", \"shape\": [1], \"data\": [-2147483648]},\n"
    "  {\"name\": \"i64\", \"dtype\": \"i64\", \"shape\": [2], \"data\": [-1, 9007199254740992]},\n"
    "  {\"name\": \"flags\", \"dtype\": \"bool\", \"shape\": [4], \"data\": [true, false, 0, 1]},\n"
    "  {\"name\": \"half\", \"dtype\": \"f16\", \"shape\": [3], \"data\": [1, -2.5, 65504]},\n"
    "  {\"name\": \"per_axis\", \"dtype\": \"i8\", \"shape\": [3, 2], \"data\": [1,2,3,4,5,6],\n"
    "   \"quant\": {\"scale\": [0.1, 0.2, 0.3], \"zero_point\": [0, -1, 1], \"axis\": -2}},\n"
    "  {\"name\": \"scalar\", \"dtype\": \"f32\", \"shape\": [], \"data\": [3]}\n"
    " ],\n"
    " \"nodes\": [\n"
    "  {\"name\": \"fc\", \"op\": \"Gemm\", \"inputs\": [\"h\", \"w\", \"b\"], \"outputs\": "
    "[\"z\"], \"attrs\": {\"transB\": 1, \"alpha\": 1}},\n"
    "  {\"op\": \"Add\", \"inputs\": [\"x\", \"c\"], \"outputs\": [\"h\"]},\n"
    "  {\"name\": \"clip\", \"op\": \"Clip\", \"inputs\": [\"h\", \"\", \"scalar\"], \"outputs\": "
    "[\"y\"]},\n"
    "  {\"name\": \"drop\", \"op\": \"Dropout\", \"inputs\": [\"x\", \"\", \"\"], \"outputs\": "
    "[\"unused\"]}\n"
    " ]}\n";

static void write_weights(void) {
  float w[32];
  for (int i = 0; i < 32; i++) w[i] = (float)i;
  write_file("w.bin", w, sizeof w);
}

static void test_good_model(void) {
  write_weights();
  IrDiag d;
  IrGraph *g = parse_str(good_model, &d);
  CHECK(g != NULL, "good model failed:\n%s", d.text ? d.text : "");
  if (!g) {
    ir_diag_free(&d);
    return;
  }
  CHECK(d.n_errors == 0, "errors on a good model");
  CHECK(strcmp(g->name, "default_name") == 0, "name %s", g->name);
  CHECK(g->opset == 13, "opset %d", g->opset);
  CHECK(g->n_inputs == 1 && g->n_outputs == 2, "io %d %d", g->n_inputs, g->n_outputs);
  CHECK(g->n_nodes == 4, "nodes %d", g->n_nodes);
  /* sorted: Add (file index 1) before Gemm (0) */
  CHECK(g->nodes[0]->op == IR_OP_ADD && g->nodes[0]->src_index == 1, "order");
  const IrNode *add = g->nodes[0];
  CHECK(strcmp(add->name, "Add_1") == 0, "default node name %s", add->name);
  for (int i = 0; i < g->n_nodes; i++) {
    const IrNode *n = g->nodes[i];
    if (n->op == IR_OP_GEMM) {
      CHECK(ir_attr_i(n, "transB") == 1 && ir_attr(n, "transB")->present, "transB");
      CHECK(ir_attr_f(n, "alpha") == 1.0 && ir_attr_f(n, "beta") == 1.0, "alpha/beta");
      CHECK(!ir_attr(n, "beta")->present, "beta present");
      CHECK(n->src_index == 0 && strcmp(n->name, "fc") == 0, "fc");
    }
    if (n->op == IR_OP_CLIP) {
      CHECK(n->n_inputs == 3 && n->inputs[1] == NULL && n->inputs[2] != NULL, "clip inputs");
    }
    if (n->op == IR_OP_DROPOUT) CHECK(n->n_inputs == 1, "trailing \"\" dropped: %d", n->n_inputs);
  }
  const IrValue *z = find(g, "z");
  CHECK(z && z->rank == 2 && z->dims[0] == 2 && z->dims[1] == 3, "z shape");

  const IrValue *w = find(g, "w");
  if (w) {
    const float *p = w->data;
    CHECK(w->kind == IR_VALUE_CONST && p && ((uintptr_t)p & 15) == 0, "w aligned");
    CHECK(p && p[0] == 16.0f && p[11] == 27.0f, "w values %g %g", p ? p[0] : 0, p ? p[11] : 0);
  }
  const IrValue *first = find(g, "first");
  if (w && first) {
    /* Same file mapped once: offsets 0 and 64 are 64 bytes apart in memory. */
    CHECK((const char *)w->data - (const char *)first->data == 64, "w.bin mapped once");
    CHECK(((const float *)first->data)[0] == 0.0f, "first");
  }
  const IrValue *odd = find(g, "odd");
  if (odd) {
    const float *p = odd->data;
    CHECK(((uintptr_t)p & 15) == 0, "unaligned external tensor copied to aligned memory");
    CHECK(p[0] == 1.0f && p[1] == 2.0f, "odd values %g %g", p[0], p[1]);
  }
  const IrValue *b = find(g, "b");
  if (b) {
    const float *p = b->data;
    CHECK(p[0] == 1.0f && p[1] == 2.0f && p[2] == 3.0f, "base64 values");
  }
  const IrValue *c = find(g, "c");
  if (c) {
    const float *p = c->data;
    CHECK(p[0] == 0.5f && p[1] == -1.0f && p[2] == 2.25f && p[3] == 1e-3f, "data values");
  }
  const IrValue *v;
  if ((v = find(g, "i8"))) {
    const int8_t *p = v->data;
    CHECK(p[0] == -128 && p[1] == 0 && p[2] == 127, "i8");
  }
  if ((v = find(g, "u8"))) {
    const uint8_t *p = v->data;
    CHECK(p[0] == 0 && p[1] == 255, "u8");
    CHECK(v->quant && v->quant->axis == -1 && v->quant->count == 1 && v->quant->scale[0] == 0.5f &&
              v->quant->zero_point[0] == 128,
          "u8 quant");
  }
  if ((v = find(g, "i16"))) {
    const int16_t *p = v->data;
    CHECK(p[0] == -32768 && p[1] == 32767, "i16");
  }
  if ((v = find(g, "i32"))) CHECK(((const int32_t *)v->data)[0] == INT32_MIN, "i32");
  if ((v = find(g, "i64"))) {
    const int64_t *p = v->data;
    CHECK(p[0] == -1 && p[1] == 9007199254740992LL, "i64");
  }
  if ((v = find(g, "flags"))) {
    const uint8_t *p = v->data;
    CHECK(p[0] == 1 && p[1] == 0 && p[2] == 0 && p[3] == 1, "bool");
  }
  if ((v = find(g, "half"))) {
    const uint16_t *p = v->data;
    CHECK(p[0] == 0x3c00 && p[1] == 0xc100 && p[2] == 0x7bff, "f16 %04x %04x %04x", p[0], p[1],
          p[2]);
  }
  if ((v = find(g, "per_axis"))) {
    CHECK(v->quant && v->quant->axis == 0 && v->quant->count == 3 &&
              v->quant->zero_point[1] == -1 && fabsf(v->quant->scale[2] - 0.3f) == 0,
          "per-axis quant");
  }
  if ((v = find(g, "scalar"))) CHECK(v->rank == 0 && ((const float *)v->data)[0] == 3.0f, "[]");
  for (int i = 0; i < g->n_values; i++)
    if (g->values[i]->kind == IR_VALUE_CONST)
      CHECK(((uintptr_t)g->values[i]->data & 15) == 0, "%s not 16-aligned", g->values[i]->name);
  CHECK(ir_graph_find_value(g, "x")->src_path &&
            strcmp(ir_graph_find_value(g, "x")->src_path, "inputs[0]") == 0,
        "src_path");
  ir_graph_free(g);
  ir_diag_free(&d);

  /* From a file: default name from the file name, weights relative to its directory. */
  write_file("my_net.json", good_model, strlen(good_model));
  char path[512];
  snprintf(path, sizeof path, "%s/my_net.json", tmp_dir);
  ir_diag_init(&d, path, false);
  g = fe_load_model(path, &d);
  CHECK(g && strcmp(g->name, "my_net") == 0, "load from file: %s", d.text ? d.text : "");
  ir_graph_free(g);
  ir_diag_free(&d);
  /* Relative path from another directory fails to find the weights, naming the path. */
  ir_diag_init(&d, "x", false);
  g = fe_parse_model(good_model, strlen(good_model), "/nonexistent-dir", NULL, &d);
  CHECK(!g && has(&d, "'/nonexistent-dir/w.bin': No such file or directory"), "%s",
        d.text ? d.text : "");
  ir_diag_free(&d);
}

static void test_model_name_and_outputs(void) {
  IrDiag d;
  /* An output may be a graph input or an initializer. */
  IrGraph *g =
      parse_str("{\"format\":\"kiln-model\",\"version\":1,\"name\":\"net\",\"doc\":\"hi\","
                "\"inputs\":[{\"name\":\"x\",\"dtype\":\"f32\",\"shape\":[2]}],"
                "\"initializers\":[{\"name\":\"k\",\"dtype\":\"i64\",\"shape\":[1],\"data\":[7]}],"
                "\"outputs\":[{\"name\":\"x\",\"dtype\":\"f32\",\"shape\":[2]},{\"name\":\"k\"}],"
                "\"nodes\":[]}",
                &d);
  CHECK(g && strcmp(g->name, "net") == 0 && g->opset == 17, "%s", d.text ? d.text : "");
  if (g) CHECK(g->n_outputs == 2 && g->outputs[0]->is_output && g->outputs[1]->is_output, "outs");
  ir_graph_free(g);
  ir_diag_free(&d);
}

/* ---- f16 and base64 units ----------------------------------------------------------------- */
static void test_f16(void) {
  struct {
    double x;
    uint16_t h;
  } cases[] = {
      {0.0, 0x0000},
      {-0.0, 0x8000},
      {1.0, 0x3c00},
      {-2.0, 0xc000},
      {65504.0, 0x7bff},
      {65519.99, 0x7bff},
      {0.1, 0x2e66},
      {0x1p-14, 0x0400},                 /* smallest normal */
      {0x1p-24, 0x0001},                 /* smallest subnormal */
      {0x1p-25, 0x0000},                 /* tie -> even (0) */
      {0x1.8p-25, 0x0001},               /* above the tie */
      {3 * 0x1p-25, 0x0002},             /* 1.5 units -> 2 */
      {1.0 + 0x1p-11, 0x3c00},           /* tie between 1 and 1+2^-10 -> even (1) */
      {1.0 + 3 * 0x1p-11, 0x3c02},       /* tie -> even (1+2^-9) */
      {2047.0 / 1024 * 0x1p-15, 0x0400}, /* rounds up into the normal range */
      {0x1.ffcp15, 0x7bff},              /* 65504 */
      {3.140625, 0x4248},
      {1e-9, 0x0000},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    bool ovf;
    uint16_t h = fe_f16_from_double(cases[i].x, &ovf);
    CHECK(h == cases[i].h && !ovf, "f16(%a) = %04x, want %04x", cases[i].x, h, cases[i].h);
  }
  bool ovf;
  fe_f16_from_double(65520.0, &ovf);
  CHECK(ovf, "65520 overflows");
  fe_f16_from_double(-1e10, &ovf);
  CHECK(ovf, "-1e10 overflows");
  /* Round trip of every finite half. */
  int bad = 0;
  for (uint32_t h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) == 0x7c00) continue;
    uint16_t back = fe_f16_from_double(fe_f16_to_double((uint16_t)h), &ovf);
    bad += back != h || ovf;
  }
  CHECK(bad == 0, "%d halves do not round-trip", bad);
  /* Midpoints between consecutive positive normals round to the even one. */
  bad = 0;
  for (uint32_t h = 0x0400; h < 0x7bff; h++) {
    double mid = (fe_f16_to_double((uint16_t)h) + fe_f16_to_double((uint16_t)(h + 1))) / 2;
    uint16_t r = fe_f16_from_double(mid, &ovf);
    bad += r != ((h & 1) ? h + 1 : h);
  }
  CHECK(bad == 0, "%d midpoints not rounded to even", bad);
}

static void test_base64(void) {
  struct {
    const char *s;
    bool ok;
    size_t len;
    const char *msg;
  } cases[] = {
      {"", true, 0, NULL},
      {"AA==", true, 1, NULL},
      {"AAA=", true, 2, NULL},
      {"AAAA", true, 3, NULL},
      {"AB==", false, 0, "non-zero unused bits"},
      {"AAB=", false, 0, "non-zero unused bits"},
      {"AAA", false, 0, "not a multiple of 4"},
      {"AA=A", false, 0, "padding '=' at offset 2"},
      {"====", false, 0, "padding '=' at offset 0"},
      {"A===", false, 0, "padding '=' at offset 1"},
      {"AAAA AAA", false, 0, "a space at offset 4"},
      {"AAAA\nAAA", false, 0, "whitespace (0x0a) at offset 4"},
      {"AA-_", false, 0, "'-' at offset 2"},
      {"AAAA=", false, 0, "not a multiple of 4"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t len = 99;
    char msg[256] = "";
    bool ok = fe_base64_check(cases[i].s, strlen(cases[i].s), &len, msg, sizeof msg);
    CHECK(ok == cases[i].ok, "base64 '%s': ok=%d (%s)", cases[i].s, ok, msg);
    if (ok && cases[i].ok) CHECK(len == cases[i].len, "base64 '%s': len %zu", cases[i].s, len);
    if (!ok && cases[i].msg)
      CHECK(strstr(msg, cases[i].msg), "base64 '%s': message '%s'", cases[i].s, msg);
  }
  /* All 256 byte values round trip. */
  static const char *enc = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"
                           "MzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2Rl"
                           "ZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeY"
                           "mZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrL"
                           "zM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+"
                           "/w==";
  size_t len = 0;
  char msg[256];
  CHECK(fe_base64_check(enc, strlen(enc), &len, msg, sizeof msg) && len == 256, "256 bytes");
  uint8_t out[256];
  fe_base64_decode(enc, strlen(enc), out);
  int bad = 0;
  for (int i = 0; i < 256; i++) bad += out[i] != i;
  CHECK(bad == 0, "base64 decode");
}

/* ---- errors ------------------------------------------------------------------------------- */
#define HEAD "{\"format\": \"kiln-model\", \"version\": 1, "

static void test_errors(void) {
  /* Several independent errors in one run, no cascades. */
  expect_errors(HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [0, 4]}],"
                     "\"outputs\": [{\"name\": \"y\"}],"
                     "\"initializers\": [{\"name\": \"b\", \"dtype\": \"i8\", \"shape\": [2], "
                     "\"data\": [1, 900]}],"
                     "\"nodes\": [{\"name\": \"conv\", \"op\": \"Conv\", \"inputs\": [\"x\"], "
                     "\"outputs\": [\"h\"], \"attrs\": {\"stride\": [1, 1]}},"
                     "{\"name\": \"r\", \"op\": \"Relu\", \"inputs\": [\"h\", \"b\"], "
                     "\"outputs\": [\"y\"]},"
                     "{\"name\": \"t\", \"op\": \"TopK\", \"inputs\": [\"h\"], "
                     "\"outputs\": [\"t1\", \"t2\"]}]}",
                7,
                (const char *const[]){"inputs[0] (x).shape[0]: dimension must be at least 1",
                                      "nodes[0] (conv).attrs.stride: unknown attribute",
                                      "initializers[0] (b).data[1]: value 900 is out of range",
                                      "nodes[0] (conv).inputs: Conv takes 2 to 3 inputs, got 1",
                                      "nodes[1] (r).inputs: Relu takes 1 input, got 2",
                                      "nodes[2] (t): op 'TopK' is not supported", NULL});
  /* The summary counts repeated ops. */
  expect_errors(HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [4]}],"
                     "\"outputs\": [{\"name\": \"y\"}], \"nodes\": ["
                     "{\"op\": \"Loop\", \"inputs\": [\"x\"], \"outputs\": [\"a\"]},"
                     "{\"op\": \"Hardmax\", \"inputs\": [\"a\"], \"outputs\": [\"b\"]},"
                     "{\"op\": \"Loop\", \"inputs\": [\"b\"], \"outputs\": [\"y\"]}]}",
                4,
                (const char *const[]){"nodes[0] (Loop_0): op 'Loop' is not supported",
                                      "nodes[2] (Loop_2): op 'Loop'",
                                      "Loop (2 nodes), Hardmax (1 node)", NULL});
  /* Unknown fields in nested objects; duplicate node names are fine but values are not. */
  expect_errors(HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [4], "
                     "\"shap\": 1}], \"outputs\": [{\"name\": \"y\", \"dtyp\": 1}], "
                     "\"nodes\": [{\"op\": \"Relu\", \"inputs\": [\"x\"], \"outputs\": [\"y\"], "
                     "\"atrs\": {}}]}",
                3,
                (const char *const[]){"inputs[0] (x).shap: unknown field; did you mean 'shape'?",
                                      "outputs[0] (y).dtyp: unknown field; did you mean 'dtype'?",
                                      "nodes[0] (Relu_0).atrs: unknown field; did you mean "
                                      "'attrs'?",
                                      NULL});
  /* Attribute kinds. */
  expect_errors(HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [1,1,4,4]}],"
                     "\"outputs\": [{\"name\": \"y\"}], \"nodes\": [{\"name\": \"p\", \"op\": "
                     "\"AveragePool\", \"inputs\": [\"x\"], \"outputs\": [\"y\"], \"attrs\": {"
                     "\"kernel_shape\": [2, 2.5], \"ceil_mode\": \"no\", \"pads\": 1, "
                     "\"strides\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
                     "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}}]}",
                4,
                (const char *const[]){"nodes[0] (p).attrs.kernel_shape[1]: expected an integer, "
                                      "got 2.5",
                                      "nodes[0] (p).attrs.ceil_mode: expected an integer, got a "
                                      "string",
                                      "nodes[0] (p).attrs.pads: expected an array of integers, "
                                      "got a number",
                                      "nodes[0] (p).attrs.strides: 65 entries, at most 64", NULL});
  expect_errors(HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [4]}],"
                     "\"outputs\": [{\"name\": \"y\"}], \"nodes\": [{\"name\": \"l\", \"op\": "
                     "\"LeakyRelu\", \"inputs\": [\"x\"], \"outputs\": [\"y\"], \"attrs\": {"
                     "\"alpha\": 1e999, \"beta\": 1}}]}",
                2,
                (const char *const[]){"nodes[0] (l).attrs.alpha: number out of range",
                                      "nodes[0] (l).attrs.beta: unknown attribute 'beta' for "
                                      "LeakyRelu (known: alpha)",
                                      NULL});
  /* Format-level errors stop early (nothing else is meaningful). */
  expect_errors("{\"format\": \"kiln-model\", \"version\": \"1\"}", 1,
                (const char *const[]){"version: expected an integer, got a string", NULL});
  expect_errors("{\"format\": \"kiln-model\", \"version\": 1.5}", 1,
                (const char *const[]){"version: expected an integer, got 1.5", NULL});
  expect_errors("\"kiln-model\"", 1,
                (const char *const[]){"top level: expected a JSON object", NULL});
  expect_errors("   \n\t ", 1,
                (const char *const[]){"the file is empty apart from whitespace", NULL});
  expect_errors(
      "{\"format\": \"kiln-model\",\n \"version\": 1,,}", 1,
      (const char *const[]){"model.json: line 2, column 16: invalid JSON (near '}')", NULL});
  expect_errors(
      "{\"format\": \"kiln-model\", \"version\": 01}", 1,
      (const char *const[]){"line 1, column 37: invalid JSON: malformed number '01'", NULL});
  expect_errors("{\"format\": \"kiln-model\", \"version\": [2, 1., 2]}", 1,
                (const char *const[]){"malformed number '1.'", NULL});
  expect_errors("{\"format\": \"kiln-model\", \"version\": 1, \"doc\": \"a\tb\"}", 1,
                (const char *const[]){"line 1, column 49: invalid JSON: control character 0x09 "
                                      "inside a string",
                                      NULL});
  expect_errors(
      "{\"a\": \"unterminated", 1,
      (const char *const[]){"line 1, column 7: invalid JSON: string not terminated", NULL});
  /* Empty inputs/outputs, wrong section types, names. */
  expect_errors(HEAD "\"inputs\": [], \"outputs\": [], \"nodes\": {}}", 3,
                (const char *const[]){"inputs: a model needs at least one input",
                                      "outputs: a model needs at least one output",
                                      "nodes: expected an array of objects, got an object", NULL});
  expect_errors(HEAD "\"inputs\": [{\"name\": \"\", \"dtype\": \"f32\", \"shape\": [4]}],"
                     "\"outputs\": [{\"name\": \"y\"}], \"nodes\": [{\"op\": \"Relu\", "
                     "\"inputs\": [\"x\"], \"outputs\": [\"y\\u0001\"]}]}",
                2,
                (const char *const[]){"inputs[0].name: names must not be empty",
                                      "nodes[0] (Relu_0).outputs[0]: name contains a control "
                                      "character",
                                      NULL});
  /* external: unknown field, missing length; quant problems */
  expect_errors(HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [4], "
                     "\"quant\": {\"scale\": [1], \"axis\": 1}}],"
                     "\"initializers\": [{\"name\": \"w\", \"dtype\": \"f32\", \"shape\": [4], "
                     "\"external\": {\"path\": \"w.bin\", \"size\": 16}},"
                     "{\"name\": \"q\", \"dtype\": \"u8\", \"shape\": [2], \"data\": [1, 2], "
                     "\"quant\": {\"scale\": [1e-50], \"zero_point\": [256]}},"
                     "{\"name\": \"z\", \"dtype\": \"f32\", \"shape\": [1], \"data\": [1e39]}],"
                     "\"outputs\": [{\"name\": \"x\"}], \"nodes\": []}",
                5,
                (const char *const[]){"inputs[0] (x).quant.axis: axis must be at most 0, got 1",
                                      "initializers[0] (w).external.size: unknown field",
                                      "initializers[0] (w).external: missing required field "
                                      "'length'",
                                      "initializers[1] (q).quant.scale[0]: scale must be a "
                                      "positive finite f32 number, got 1e-50",
                                      "initializers[2] (z).data[0]: 1e+39 is out of range for "
                                      "f32",
                                      NULL});
  /* Duplicate outputs; output dtype mismatch. */
  expect_errors(HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [4]}],"
                     "\"outputs\": [{\"name\": \"y\", \"dtype\": \"f16\"}, {\"name\": \"y\"}],"
                     "\"nodes\": [{\"op\": \"Relu\", \"inputs\": [\"x\"], \"outputs\": [\"y\"]}]}",
                1,
                (const char *const[]){"outputs[1] (y): 'y' is already listed at outputs[0]", NULL});
  expect_errors(HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [4]}],"
                     "\"outputs\": [{\"name\": \"y\", \"dtype\": \"f16\", \"shape\": [4]}],"
                     "\"nodes\": [{\"op\": \"Relu\", \"inputs\": [\"x\"], \"outputs\": [\"y\"]}]}",
                1, (const char *const[]){"outputs[0] (y).dtype: declared f16, inferred f32", NULL});
  /* Huge shapes: over the weight limit (reported once), and with the limit raised, a short
   * data array is rejected without allocating the tensor. */
#define HUGE_INITS                                                                                 \
  HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [4]}],"                      \
       "\"initializers\": [{\"name\": \"big\", \"dtype\": \"i8\", \"shape\": "                     \
       "[2147483647, 2147483647], \"data\": [1]},"                                                 \
       "{\"name\": \"big2\", \"dtype\": \"f32\", \"shape\": [2147483647, 64], "                    \
       "\"base64\": \"AAAA\"}],"                                                                   \
       "\"outputs\": [{\"name\": \"x\"}], \"nodes\": []}"
  expect_errors(HUGE_INITS, 1,
                (const char *const[]){"initializers[0] (big): the initializers need "
                                      "4611686014132420609 bytes with this one "
                                      "(4611686014132420609), more than the limit of 1073741824 "
                                      "bytes (--max-weight-bytes)",
                                      NULL});
  FeOptions unlimited = {.max_weight_bytes = INT64_MAX};
  parse_opts = &unlimited;
  expect_errors(HUGE_INITS, 2,
                (const char *const[]){"initializers[0] (big).data: 1 value given, shape "
                                      "[2147483647,2147483647] needs 4611686014132420609",
                                      "initializers[1] (big2).base64: decodes to 3 bytes", NULL});
  parse_opts = NULL;
#undef HUGE_INITS
  /* i64 beyond 2^53 cannot be exact in JSON. */
  expect_errors(HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [4]}],"
                     "\"initializers\": [{\"name\": \"k\", \"dtype\": \"i64\", \"shape\": [1], "
                     "\"data\": [1e17]}],"
                     "\"outputs\": [{\"name\": \"x\"}], \"nodes\": []}",
                1,
                (const char *const[]){"initializers[0] (k).data[0]: value must be at most "
                                      "9007199254740992, got 1e+17",
                                      NULL});
}

/* Error floods are capped: many undefined references, many bad entries in one array. */
static void test_error_caps(void) {
  char *json = malloc(1 << 16);
  size_t o = (size_t)sprintf(json, HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", "
                                        "\"shape\": [4]}], \"outputs\": [{\"name\": \"x\"}], "
                                        "\"nodes\": [");
  for (int i = 0; i < 40; i++)
    o += (size_t)sprintf(json + o,
                         "%s{\"op\": \"Relu\", \"inputs\": [\"nope%d\"], "
                         "\"outputs\": [\"h%d\"]}",
                         i ? "," : "", i, i);
  sprintf(json + o, "]}");
  expect_errors(
      json, 33,
      (const char *const[]){"nodes[31] (Relu_31).inputs[0]: value 'nope31' is not defined",
                            "nodes: 8 more inputs name undefined values", NULL});
  o = (size_t)sprintf(json, HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", "
                                 "\"shape\": [4]}], \"outputs\": [{\"name\": \"x\"}], "
                                 "\"nodes\": [{\"op\": \"Concat\", \"attrs\": {\"axis\": 0}, "
                                 "\"outputs\": [\"y\"], \"inputs\": [");
  for (int i = 0; i < 20; i++) o += (size_t)sprintf(json + o, "%s%d", i ? "," : "", i);
  sprintf(json + o, "]}]}");
  expect_errors(json, 9,
                (const char *const[]){"nodes[0] (Concat_0).inputs[7]: expected a name (string), "
                                      "got a number",
                                      "nodes[0] (Concat_0).inputs: 12 more bad entries", NULL});
  free(json);
}

static void test_files(void) {
  IrDiag d;
  ir_diag_init(&d, NULL, false);
  CHECK(!fe_load_model("/nonexistent/model.json", &d) &&
            has(&d, "cannot open '/nonexistent/model.json': No such file or directory"),
        "%s", d.text ? d.text : "");
  ir_diag_free(&d);
  ir_diag_init(&d, NULL, false);
  CHECK(!fe_load_model(tmp_dir, &d) && has(&d, "is not a regular file (it is a directory)"), "%s",
        d.text ? d.text : "");
  ir_diag_free(&d);
  /* A FIFO must not block the loader. */
  char fifo[512];
  snprintf(fifo, sizeof fifo, "%s/fifo.json", tmp_dir);
  if (mkfifo(fifo, 0600) == 0) {
    ir_diag_init(&d, NULL, false);
    CHECK(!fe_load_model(fifo, &d) && has(&d, "is not a regular file"), "%s", d.text ? d.text : "");
    ir_diag_free(&d);
    unlink(fifo);
  }
  /* NUL byte inside the text */
  static const char nul_text[] = "{\"format\": \"kiln\0-model\"}";
  ir_diag_init(&d, NULL, false);
  CHECK(!fe_parse_model(nul_text, sizeof nul_text - 1, NULL, NULL, &d) &&
            has(&d, "line 1, column 17: NUL byte"),
        "%s", d.text ? d.text : "");
  ir_diag_free(&d);
  /* Very deep nesting: an error, not a stack overflow. */
  size_t depth = 200000;
  char *deep = malloc(2 * depth + 1);
  memset(deep, '[', depth);
  memset(deep + depth, ']', depth);
  deep[2 * depth] = 0;
  ir_diag_init(&d, NULL, false);
  CHECK(!fe_parse_model(deep, 2 * depth, NULL, NULL, &d) &&
            has(&d, "line 1, column 65: JSON nested deeper than 64 levels"),
        "%s", d.text ? d.text : "");
  ir_diag_free(&d);
  free(deep);
  /* An external file of size 0. */
  write_file("empty.bin", "", 0);
  expect_errors(HEAD "\"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [4]}],"
                     "\"initializers\": [{\"name\": \"w\", \"dtype\": \"f32\", \"shape\": [1], "
                     "\"external\": {\"path\": \"empty.bin\", \"length\": 4}}],"
                     "\"outputs\": [{\"name\": \"x\"}], \"nodes\": []}",
                1, (const char *const[]){"range [0, 4) is outside 'empty.bin' (0 bytes)", NULL});
}

/* ---- every op case loads ------------------------------------------------------------------ */
static void test_op_cases(void) {
  char path[1024], name[256];
  snprintf(path, sizeof path, "%s/tests/ops/MANIFEST", src_dir);
  FILE *f = fopen(path, "r");
  if (!f) return; /* no op cases in this tree */
  int n = 0;
  while (fscanf(f, "%255s", name) == 1) {
    snprintf(path, sizeof path, "%s/tests/ops/%s/model.json", src_dir, name);
    IrDiag d;
    ir_diag_init(&d, path, false);
    IrGraph *g = fe_load_model(path, &d);
    CHECK(g != NULL, "%s", d.text ? d.text : path);
    ir_graph_free(g);
    ir_diag_free(&d);
    n++;
  }
  fclose(f);
  CHECK(n > 0, "empty MANIFEST");
}

/* ---- mutations never crash, leak or hang -------------------------------------------------- */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}

static void test_mutations(void) {
  static const char pieces[][12] = {"[",  "]",     "{",     "}",    "\"",   ",",     ":",    "0",
                                    "-1", "1e999", "\\",    "null", "[]",   "{}",    "2.5",  "\"\"",
                                    "1",  "true",  "\"x\"", "9e15", "\xff", "\"w\"", "\"h\""};
  size_t base_len = strlen(good_model);
  char *buf = malloc(base_len + 64);
  int loaded = 0, failed = 0;
  for (int iter = 0; iter < 3000; iter++) {
    memcpy(buf, good_model, base_len + 1);
    size_t len = base_len;
    int edits = 1 + (int)(rnd() % 3);
    for (int e = 0; e < edits; e++) {
      size_t pos = rnd() % len;
      switch (rnd() % 4) {
      case 0: /* delete a span */ {
        size_t n = 1 + rnd() % 8;
        if (pos + n > len) n = len - pos;
        memmove(buf + pos, buf + pos + n, len - pos - n + 1);
        len -= n;
        break;
      }
      case 1: /* replace a character by a piece */ {
        const char *p = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
        size_t pl = strlen(p);
        if (len + pl > base_len + 40) break;
        memmove(buf + pos + pl, buf + pos + 1, len - pos);
        memcpy(buf + pos, p, pl);
        len += pl - 1;
        break;
      }
      case 2: /* flip a digit */
        if (buf[pos] >= '0' && buf[pos] <= '9') buf[pos] = (char)('0' + rnd() % 10);
        break;
      default: /* truncate */
        if (rnd() % 8 == 0) {
          len = pos;
          buf[len] = 0;
        }
        break;
      }
      if (len == 0) break;
    }
    IrDiag d;
    ir_diag_init(&d, "m.json", false);
    IrGraph *g = fe_parse_model(buf, len, tmp_dir, NULL, &d);
    if (g) {
      loaded++;
      CHECK(d.n_errors == 0, "graph returned with errors");
    } else {
      failed++;
      CHECK(d.n_errors > 0 && d.text, "failure without a message: %s", buf);
    }
    ir_graph_free(g);
    ir_diag_free(&d);
  }
  free(buf);
  CHECK(loaded > 0 && failed > 0, "mutations: %d loaded, %d failed", loaded, failed);
}

int main(int argc, char **argv) {
  if (argc > 1) src_dir = argv[1];
  snprintf(tmp_dir, sizeof tmp_dir, "/tmp/kiln-fe-XXXXXX");
  if (!mkdtemp(tmp_dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_corpus();
  test_good_model();
  test_model_name_and_outputs();
  test_f16();
  test_base64();
  test_errors();
  test_error_caps();
  test_files();
  test_op_cases();
  test_mutations();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
  return test_report("test_frontend");
}
