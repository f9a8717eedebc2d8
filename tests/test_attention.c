/* Fused attention (passes/pass_attention.c, codegen/kernels/cg_attention.c): graphs written the
 * way exporters write scaled dot-product attention (heads transposed in and out, Mul or Div
 * scale, padding or causal masks, one query row or whole sequences, rank 3 or 4) must become one
 * KilnAttention node whose compiled code (-O0, -O2, -O3) and reference kernel equal the unfused
 * graph run by the interpreter; the fused plan's workspace must be smaller than the unfused. */
#include <stdint.h>
#include <unistd.h>

#include "dl_model.h"

typedef enum { MASK_NONE, MASK_PAD, MASK_CAUSAL_INF, MASK_CAUSAL_BIG } MaskKind;

typedef struct {
  const char *name;
  int rank; /* 4: [B, S, H, D] inputs with head Transposes; 3: [N, S, D], K transposed only */
  int b, h, sq, skv, d;
  bool div;
  MaskKind mask;
} Case;

static char *attention_model(const Case *t) {
  size_t cap = 1 << 16, left = cap;
  char *buf = malloc(cap), *p = buf;
  char q[64], kv[64];
  if (t->rank == 4) {
    snprintf(q, sizeof q, "[%d, %d, %d, %d]", t->b, t->sq, t->h, t->d);
    snprintf(kv, sizeof kv, "[%d, %d, %d, %d]", t->b, t->skv, t->h, t->d);
  } else {
    snprintf(q, sizeof q, "[%d, %d, %d]", t->b * t->h, t->sq, t->d);
    snprintf(kv, sizeof kv, "[%d, %d, %d]", t->b * t->h, t->skv, t->d);
  }
  dl_append(&p, &left,
            "{\"format\": \"kiln-model\", \"version\": 1, \"name\": \"%s\", \"inputs\": ["
            "{\"name\": \"q\", \"dtype\": \"f32\", \"shape\": %s}, {\"name\": \"k\", \"dtype\": "
            "\"f32\", \"shape\": %s}, {\"name\": \"v\", \"dtype\": \"f32\", \"shape\": %s}",
            t->name, q, kv, kv);
  if (t->mask == MASK_PAD)
    dl_append(&p, &left, ", {\"name\": \"pad\", \"dtype\": \"f32\", \"shape\": [%d, 1, 1, %d]}",
              t->b, t->skv);
  dl_append(&p, &left,
            "], \"outputs\": [{\"name\": \"out\"}], \"initializers\": [{\"name\": \"c\", "
            "\"dtype\": \"f32\", \"shape\": [], \"data\": [%g]}",
            t->div ? 2.8284271247 : 0.3535533906);
  if (t->mask == MASK_CAUSAL_INF || t->mask == MASK_CAUSAL_BIG) {
    /* as exporters write it: 0 where key j <= i + skv - sq, else -inf (or a large negative) */
    size_t bytes = (size_t)t->sq * (size_t)t->skv * 4;
    float *m = malloc(bytes);
    for (int i = 0; i < t->sq; i++)
      for (int j = 0; j < t->skv; j++)
        m[i * t->skv + j] = j <= i + t->skv - t->sq      ? 0.0f
                            : t->mask == MASK_CAUSAL_INF ? -INFINITY
                                                         : -1e9f;
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    dl_append(&p, &left,
              ", {\"name\": \"causal\", \"dtype\": \"f32\", \"shape\": [%d, %d], \"base64\": \"",
              t->sq, t->skv);
    const unsigned char *s = (const unsigned char *)m;
    for (size_t i = 0; i < bytes; i += 3) { /* bytes is a multiple of 4: pad at the end */
      unsigned v =
          s[i] << 16 | (i + 1 < bytes ? s[i + 1] << 8 : 0) | (i + 2 < bytes ? s[i + 2] : 0);
      char w[5] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < bytes ? b64[v >> 6 & 63] : '=',
                   i + 2 < bytes ? b64[v & 63] : '=', 0};
      dl_append(&p, &left, "%s", w);
    }
    dl_append(&p, &left, "\"}");
    free(m);
  }
  const char *qt = t->rank == 4 ? "qt" : "q", *vt = t->rank == 4 ? "vt" : "v";
  dl_append(&p, &left, "], \"nodes\": [");
  if (t->rank == 4)
    dl_append(&p, &left,
              "{\"op\": \"Transpose\", \"inputs\": [\"q\"], \"outputs\": [\"qt\"], \"attrs\": "
              "{\"perm\": [0, 2, 1, 3]}}, {\"op\": \"Transpose\", \"inputs\": [\"k\"], "
              "\"outputs\": [\"kt\"], \"attrs\": {\"perm\": [0, 2, 3, 1]}}, {\"op\": "
              "\"Transpose\", \"inputs\": [\"v\"], \"outputs\": [\"vt\"], \"attrs\": {\"perm\": "
              "[0, 2, 1, 3]}}, ");
  else
    dl_append(&p, &left,
              "{\"op\": \"Transpose\", \"inputs\": [\"k\"], \"outputs\": [\"kt\"], \"attrs\": "
              "{\"perm\": [0, 2, 1]}}, ");
  dl_append(&p, &left,
            "{\"op\": \"MatMul\", \"inputs\": [\"%s\", \"kt\"], \"outputs\": [\"s\"]}, "
            "{\"op\": \"%s\", \"inputs\": [\"s\", \"c\"], \"outputs\": [\"sc\"]}, ",
            qt, t->div ? "Div" : "Mul");
  const char *sm_in = "sc";
  if (t->mask != MASK_NONE) {
    dl_append(&p, &left,
              "{\"op\": \"Add\", \"inputs\": [\"%s\", \"sc\"], \"outputs\": [\"masked\"]}, ",
              t->mask == MASK_PAD ? "pad" : "causal");
    sm_in = "masked";
  }
  dl_append(&p, &left,
            "{\"op\": \"Softmax\", \"inputs\": [\"%s\"], \"outputs\": [\"p\"], \"attrs\": "
            "{\"axis\": -1}}, {\"op\": \"MatMul\", \"inputs\": [\"p\", \"%s\"], \"outputs\": "
            "[\"%s\"]}",
            sm_in, vt, t->rank == 4 ? "ctx" : "out");
  if (t->rank == 4)
    dl_append(&p, &left,
              ", {\"op\": \"Transpose\", \"inputs\": [\"ctx\"], \"outputs\": [\"out\"], "
              "\"attrs\": {\"perm\": [0, 2, 1, 3]}}");
  dl_append(&p, &left, "]}");
  return buf;
}

static int count_op(const IrGraph *g, IrOp op) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i]->op == op;
  return n;
}

static float **random_inputs(const IrGraph *g, const Case *t) {
  float **in = calloc((size_t)g->n_inputs + 1, sizeof *in);
  for (int i = 0; i < g->n_inputs; i++) {
    int64_t n = ir_value_numel(g->inputs[i]);
    in[i] = malloc(sizeof(float) * (size_t)n);
    unsigned seed = 77u + (unsigned)i;
    for (int64_t e = 0; e < n; e++) {
      seed = seed * 1103515245u + 12345u;
      in[i][e] = ((seed >> 8) % 2001) / 500.0f - 2.0f;
    }
    if (!strcmp(g->inputs[i]->name, "pad")) /* batch b masks its last b + 1 keys */
      for (int64_t e = 0; e < n; e++)
        in[i][e] = e % t->skv >= t->skv - 1 - e / t->skv ? -10000.0f : 0.0f;
  }
  return in;
}

static void test_case(const Case *t) {
  char *json = attention_model(t);
  /* the oracle: the graph as written (no passes), by the interpreter */
  IrGraph *ref = dl_parse(json, NULL, 0, NULL);
  if (!ref) {
    free(json);
    return;
  }
  CHECK(count_op(ref, IR_OP_ATTENTION) == 0, "%s: unfused at -O0", t->name);
  float **in = random_inputs(ref, t);
  int64_t n_out = ir_value_numel(ref->outputs[0]);
  float *want = malloc(sizeof(float) * (size_t)n_out), *got = malloc(sizeof(float) * (size_t)n_out);
  void *outs[1] = {want};
  CHECK(ir_interp_run(ref, (const void *const *)in, outs) == 0, "%s: interpreter", t->name);
  /* the unfused plan at -O2 for the workspace comparison */
  IrGraph *plain = dl_parse(json, NULL, 2, "fold,simplify,cse,fuse,dce");
  static const struct {
    int level;
    const char *passes;
  } runs[] = {{0, "attention"}, {2, NULL}, {3, NULL}};
  for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
    IrGraph *g = dl_parse(json, NULL, runs[r].level, runs[r].passes);
    if (!g) continue;
    CHECK(count_op(g, IR_OP_ATTENTION) == 1 && count_op(g, IR_OP_SOFTMAX) == 0 &&
              count_op(g, IR_OP_TRANSPOSE) == 0,
          "%s -O%d: one KilnAttention, no Softmax or Transpose left", t->name, runs[r].level);
    if (r == 1 && plain) {
      CHECK(g->workspace_size < plain->workspace_size, "%s: workspace fused %lld < unfused %lld",
            t->name, (long long)g->workspace_size, (long long)plain->workspace_size);
      printf("%s: workspace %lld bytes fused, %lld unfused (-O2)\n", t->name,
             (long long)g->workspace_size, (long long)plain->workspace_size);
    }
    /* the reference kernel of the fused node */
    void *o2[1] = {got};
    CHECK(ir_interp_run(g, (const void *const *)in, o2) == 0, "%s: fused interpreter", t->name);
    CHECK(test_close_f32(got, want, n_out, 1e-5, 1e-6, t->name), "%s: fused interp = unfused",
          t->name);
    DlModel l;
    if (dl_load(g, runs[r].level, &l)) {
      const krt_model *m = l.m;
      void *ws = m->workspace_size ? aligned_alloc(64, (m->workspace_size + 63) / 64 * 64) : NULL;
      memset(got, 0xff, sizeof(float) * (size_t)n_out);
      CHECK(m->run((const void *const *)in, o2, ws) == 0, "%s: run", t->name);
      CHECK(test_close_f32(got, want, n_out, 1e-4, 1e-5, t->name),
            "%s -O%d: compiled fused = unfused interpreter", t->name, runs[r].level);
      free(ws);
      dlclose(l.lib);
    }
    ir_graph_free(g);
  }
  for (int i = 0; i < ref->n_inputs; i++) free(in[i]);
  free(in);
  free(want);
  free(got);
  free(json);
  ir_graph_free(plain);
  ir_graph_free(ref);
}

int main(int argc, char **argv) {
  if (!dl_init(argc, argv)) return 1;
  static const Case cases[] = {
      {"bert_like", 4, 2, 2, 12, 12, 8, false, MASK_PAD},
      {"encoder_div", 4, 1, 4, 16, 16, 16, true, MASK_NONE},
      {"causal_inf", 4, 1, 2, 9, 9, 8, false, MASK_CAUSAL_INF},
      {"causal_big", 4, 1, 2, 8, 8, 4, false, MASK_CAUSAL_BIG},
      {"decode_row", 4, 1, 3, 1, 20, 8, false, MASK_CAUSAL_INF},
      {"prefill_cache", 4, 1, 2, 5, 12, 8, false, MASK_CAUSAL_BIG},
      {"rank3_heads", 3, 2, 3, 7, 10, 5, true, MASK_NONE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_case(&cases[i]);
  rmdir(dl_tmpdir);
  return test_report("test_attention");
}
