/* Run-time sequence length (`--max-dim seq=16`): one compiled object called at several lengths
 * equals the interpreter at that length and PyTorch (tests/dyn/xattn, tools/gen_dyn_tests.py);
 * lengths outside [1, max] and a NULL dims return error codes; the entry points without dims run
 * at the maximum; models whose ops cannot bound the length are refused naming the node. */
#include <stdint.h>
#include <unistd.h>

#include "dl_model.h"
#include "krt_npy.h"

#define DIR "tests/dyn/xattn"
static const char *const max_dim[] = {"seq=16"};
static const int lengths[] = {1, 3, 8, 13, 16};

static IrGraph *load(const char *path, const char *const *dims, int n_dims, int level,
                     const char *passes, IrDiag *d) {
  FeOptions fo = {.max_dims = dims, .n_max_dims = n_dims};
  IrGraph *g = fe_load_model_opts(path, &fo, d);
  PassOptions po = {
      .opt_level = level, .workspace_align = 64, .verify_each = true, .passes = passes};
  if (g && level >= 0 && !pass_run_pipeline(g, &po, d)) {
    ir_graph_free(g);
    g = NULL;
  }
  return g;
}

static bool read_npy_in(const char *dir, int len, const char *name, krt_npy *a) {
  char path[256], err[256];
  snprintf(path, sizeof path, "%s/L%d/%s.npy", dir, len, name);
  bool ok = krt_npy_read(path, a, err, sizeof err);
  CHECK(ok, "%s: %s", path, err);
  return ok;
}

static bool read_npy(int len, const char *name, krt_npy *a) {
  return read_npy_in(DIR, len, name, a);
}

static void test_lengths(int level) {
  IrDiag d;
  ir_diag_init(&d, DIR, false);
  /* -O0 has no attention pass: unfused, the scores [1, H, seq, M] cannot be bounded */
  IrGraph *g = load(DIR "/model.json", max_dim, 1, level, level ? NULL : "attention", &d);
  IrGraph *ref = load(DIR "/model.json", max_dim, 1, -1, NULL, &d); /* as written */
  CHECK(g && ref, "-O%d: loads and plans: %s", level, d.text ? d.text : "");
  ir_diag_free(&d);
  if (!g || !ref) {
    ir_graph_free(g);
    ir_graph_free(ref);
    return;
  }
  CHECK(g->n_dyn == 1 && !strcmp(g->dyn[0].name, "seq") && g->dyn[0].max == 16, "dim seq<=16");
  CHECK(g->inputs[0]->dyn == 2 && g->inputs[2]->dyn == 3 && g->inputs[3]->dyn == 0,
        "dynamic axes of tok, mask; mem static");
  DlModel l;
  if (!dl_load(g, level, &l)) {
    ir_graph_free(g);
    ir_graph_free(ref);
    return;
  }
  const krt_model *m = l.m;
  CHECK(m->n_dims == 1 && !strcmp(m->dims[0].name, "seq") && m->dims[0].max == 16 && m->run_dims &&
            !m->run_state_dims,
        "descriptor: one run-time dim");
  CHECK(m->input_dyn_axis[0] == 1 && m->input_dyn_axis[2] == 2 && m->input_dyn_axis[3] == -1 &&
            m->output_dyn_axis[0] == 1 && m->output_dyn_axis[1] == 1,
        "descriptor: dynamic axes");
  void *ws = aligned_alloc(64, (m->workspace_size + 63) / 64 * 64);
  const size_t V = 24, cap = 16 * V;
  float *logits = malloc((cap + 64) * sizeof(float)), *probs = malloc((cap + 64) * sizeof(float));
  float *want = malloc(cap * sizeof(float)), *want_p = malloc(cap * sizeof(float));
  for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
    int n = lengths[i];
    krt_npy in[4], t_logits, t_probs;
    static const char *const names[4] = {"tok", "pos", "mask", "mem"};
    bool ok = true;
    for (int k = 0; k < 4; k++) ok &= read_npy(n, names[k], &in[k]);
    ok &= read_npy(n, "logits", &t_logits) && read_npy(n, "probs", &t_probs);
    if (!ok) continue;
    const void *ins[4] = {in[0].data, in[1].data, in[2].data, in[3].data};
    /* the interpreter at length n: the graph as written, re-inferred at n */
    IrDiag rd;
    ir_diag_init(&rd, NULL, false);
    CHECK(ir_dyn_resize(ref, n, &rd), "interpreter graph at %d", n);
    ir_diag_free(&rd);
    void *ref_out[2] = {want, want_p};
    CHECK(ir_interp_run(ref, ins, ref_out) == 0, "interpreter at %d", n);
    CHECK(test_close_f32(want, t_logits.data, n * (long)V, 1e-4, 1e-5, "interp logits"),
          "interpreter = torch at %d", n);
    /* the compiled code: rows past n must stay untouched */
    for (size_t e = 0; e < cap + 64; e++) logits[e] = probs[e] = 1234.5f;
    void *outs[2] = {logits, probs};
    int64_t dims[1] = {n};
    CHECK(m->run_dims(dims, ins, outs, ws) == 0, "run_dims at %d", n);
    CHECK(test_close_f32(logits, want, n * (long)V, 1e-4, 1e-5, "logits"),
          "-O%d: compiled = interpreter at length %d (logits)", level, n);
    CHECK(test_close_f32(probs, want_p, n * (long)V, 1e-4, 1e-6, "probs"),
          "-O%d: compiled = interpreter at length %d (probs)", level, n);
    CHECK(test_close_f32(logits, t_logits.data, n * (long)V, 1e-4, 1e-5, "torch logits"),
          "-O%d: compiled = torch at length %d", level, n);
    bool untouched = true;
    for (size_t e = (size_t)n * V; e < cap + 64; e++)
      untouched &= logits[e] == 1234.5f && probs[e] == 1234.5f;
    CHECK(untouched, "-O%d: nothing written past %d rows", level, n);
    if (n == 16) { /* the entry point without dims runs at the maximum */
      CHECK(m->run(ins, outs, ws) == 0, "run at the maximum");
      CHECK(test_close_f32(logits, want, n * (long)V, 1e-4, 1e-5, "logits"), "run = max");
    }
    for (int k = 0; k < 4; k++) krt_npy_free(&in[k]);
    krt_npy_free(&t_logits);
    krt_npy_free(&t_probs);
  }
  /* out of range */
  {
    krt_npy in[4];
    static const char *const names[4] = {"tok", "pos", "mask", "mem"};
    bool ok = true;
    for (int k = 0; k < 4; k++) ok &= read_npy(16, names[k], &in[k]);
    const void *ins[4] = {in[0].data, in[1].data, in[2].data, in[3].data};
    void *outs[2] = {logits, probs};
    static const int64_t bad[] = {0, -1, 17, INT64_MIN, INT64_MAX, (int64_t)1 << 32};
    for (size_t b = 0; ok && b < sizeof bad / sizeof *bad; b++) {
      int64_t dims[1] = {bad[b]};
      logits[0] = 1234.5f;
      CHECK(m->run_dims(dims, ins, outs, ws) == KRT_ERR_DIM_RANGE && logits[0] == 1234.5f,
            "length %lld: KRT_ERR_DIM_RANGE, nothing written", (long long)bad[b]);
    }
    CHECK(!ok || m->run_dims(NULL, ins, outs, ws) == KRT_ERR_NULL_ARG, "dims NULL: -1");
    CHECK(!strcmp(krt_strerror(KRT_ERR_DIM_RANGE),
                  "a run-time dimension is outside [1, its maximum]"),
          "krt_strerror");
    for (int k = 0; ok && k < 4; k++) krt_npy_free(&in[k]);
  }
  free(ws);
  free(logits);
  free(probs);
  free(want);
  free(want_p);
  dlclose(l.lib);
  ir_graph_free(g);
  ir_graph_free(ref);
}

/* A BERT-style QA encoder layer (tests/dyn/enc): self-attention whose keys and padding mask have
 * the run-time length, read whole by every block of query rows up to the length passed in. */
static void test_enc(int level) {
  IrDiag d;
  ir_diag_init(&d, "enc", false);
  IrGraph *g = load("tests/dyn/enc/model.json", max_dim, 1, level, level ? NULL : "attention", &d);
  IrGraph *ref = load("tests/dyn/enc/model.json", max_dim, 1, -1, NULL, &d);
  CHECK(g && ref, "enc -O%d: loads and plans: %s", level, d.text ? d.text : "");
  ir_diag_free(&d);
  DlModel l;
  if (!g || !ref || !dl_load(g, level, &l)) {
    ir_graph_free(g);
    ir_graph_free(ref);
    return;
  }
  const krt_model *m = l.m;
  void *ws = aligned_alloc(64, (m->workspace_size + 63) / 64 * 64);
  float got[16 * 2 + 16], want[16 * 2];
  for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
    int n = lengths[i];
    krt_npy in[3], span;
    static const char *const names[3] = {"tok", "pos", "mask"};
    bool ok = true;
    for (int k = 0; k < 3; k++) ok &= read_npy_in("tests/dyn/enc", n, names[k], &in[k]);
    if (!ok || !read_npy_in("tests/dyn/enc", n, "span", &span)) continue;
    const void *ins[3] = {in[0].data, in[1].data, in[2].data};
    IrDiag rd;
    ir_diag_init(&rd, NULL, false);
    CHECK(ir_dyn_resize(ref, n, &rd), "enc interpreter graph at %d", n);
    ir_diag_free(&rd);
    void *ro[1] = {want}, *co[1] = {got};
    CHECK(ir_interp_run(ref, ins, ro) == 0, "enc interpreter at %d", n);
    CHECK(test_close_f32(want, span.data, n * 2L, 1e-4, 1e-5, "enc interp"),
          "enc: interpreter = torch at %d", n);
    for (size_t e = 0; e < sizeof got / sizeof *got; e++) got[e] = 1234.5f;
    int64_t dims[1] = {n};
    CHECK(m->run_dims(dims, ins, co, ws) == 0, "enc run_dims at %d", n);
    CHECK(test_close_f32(got, want, n * 2L, 1e-4, 1e-5, "enc"),
          "enc -O%d: compiled = interpreter at length %d (keys of run-time length)", level, n);
    CHECK(test_close_f32(got, span.data, n * 2L, 1e-4, 1e-5, "enc torch"),
          "enc -O%d: compiled = torch at length %d", level, n);
    bool untouched = true;
    for (size_t e = (size_t)n * 2; e < sizeof got / sizeof *got; e++)
      untouched &= got[e] == 1234.5f;
    CHECK(untouched, "enc -O%d: nothing written past %d rows", level, n);
    for (int k = 0; k < 3; k++) krt_npy_free(&in[k]);
    krt_npy_free(&span);
  }
  free(ws);
  dlclose(l.lib);
  ir_graph_free(g);
  ir_graph_free(ref);
}

/* The GPT-2-style decoder over a run-time number of tokens (tests/gen/gpt_tiny_seq): the
 * 37-token sequence fed in calls of several lengths from one state (a prefill, then steps)
 * gives torch's full-sequence logits at every position; the state (KV cache rows written with
 * ScatterND in place) carries over between calls of different lengths. */
static void test_gpt_calls(int level) {
  IrDiag d;
  ir_diag_init(&d, "gpt_tiny_seq", false);
  static const char *const ctx[] = {"seq=48"};
  IrGraph *g =
      load("tests/gen/gpt_tiny_seq/model.json", ctx, 1, level, level ? NULL : "attention", &d);
  CHECK(g != NULL, "gpt_tiny_seq loads: %s", d.text ? d.text : "");
  ir_diag_free(&d);
  if (!g) return;
  for (int i = 0; i < g->n_states; i++) CHECK(g->states[i].direct, "cache %d updated in place", i);
  DlModel l;
  krt_npy tok, golden;
  char err[256];
  bool ok = dl_load(g, level, &l) &&
            krt_npy_read("tests/gen/gpt_tiny_seq/inputs/tok.npy", &tok, err, sizeof err) &&
            krt_npy_read("tests/gen/gpt_tiny_seq/golden/logits.npy", &golden, err, sizeof err);
  CHECK(ok, "gpt_tiny_seq: load");
  if (!ok) {
    ir_graph_free(g);
    return;
  }
  const krt_model *m = l.m;
  CHECK(m->run_state_dims && !m->run_dims, "descriptor: run_state_dims");
  void *ws = aligned_alloc(64, (m->workspace_size + 63) / 64 * 64);
  void *state = aligned_alloc(64, (m->state_size + 63) / 64 * 64);
  float *logits = malloc(48 * 64 * sizeof(float));
  static const int calls[][7] = {{37}, {6, 1, 1, 16, 13}, {1, 5, 8, 3, 16, 4}};
  for (size_t p = 0; p < sizeof calls / sizeof *calls; p++) {
    CHECK(m->reset(state, m->state_size) == 0, "reset");
    int at = 0;
    for (int c = 0; c < 7 && calls[p][c]; c++) {
      int n = calls[p][c];
      int64_t pos[48], dims[1] = {n};
      for (int i = 0; i < n; i++) pos[i] = at + i;
      const void *in[2] = {(const int64_t *)tok.data + at, pos};
      void *out[1] = {logits};
      CHECK(m->run_state_dims(dims, in, out, ws, state, m->state_size) == 0, "call of %d", n);
      /* logits reach |114| (weights x2): atol 1e-5 of the largest, as emu_state's tolerance */
      CHECK(test_close_f32(logits, (const float *)golden.data + at * 64, n * 64L, 1e-4, 1.2e-3,
                           "gpt logits"),
            "-O%d: calls pattern %zu: positions %d..%d equal torch", level, p, at, at + n - 1);
      at += n;
    }
    CHECK(at == 37, "pattern %zu covers the sequence", p);
  }
  /* one more token than the context: the cache's ScatterND index error */
  {
    int64_t dims[1] = {1}, t = 0, pos = 48;
    const void *in[2] = {&t, &pos};
    void *out[1] = {logits};
    CHECK(m->run_state_dims(dims, in, out, ws, state, m->state_size) == KRT_ERR_INDEX_RANGE,
          "position 48: KRT_ERR_INDEX_RANGE");
  }
  free(ws);
  free(state);
  free(logits);
  krt_npy_free(&tok);
  krt_npy_free(&golden);
  dlclose(l.lib);
  ir_graph_free(g);
}

/* A model compiled with `--max-dim dim`, at every length in lens (inputs and torch's outputs in
 * DIR/L<n>/): every output = the interpreter at that length = torch (integers exactly), nothing
 * written past its length; lengths 0 and the maximum + 1 return KRT_ERR_DIM_RANGE. */
static void test_outputs_at(const char *dir, const char *model, const char *dim, const char *passes,
                            const int *lens, int n_lens, const char *const *in_names, int n_in,
                            const char *const *out_names, int n_out, int level) {
  enum { MAX_IO = 16, CANARY = 64 };
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, model);
  IrDiag d;
  ir_diag_init(&d, model, false);
  IrGraph *g = load(path, &dim, 1, level, passes, &d);
  IrGraph *ref = load(path, &dim, 1, -1, NULL, &d);
  CHECK(g && ref, "%s -O%d: loads and plans: %s", path, level, d.text ? d.text : "");
  ir_diag_free(&d);
  DlModel l;
  if (!g || !ref || n_in > MAX_IO || n_out > MAX_IO || !dl_load(g, level, &l)) {
    ir_graph_free(g);
    ir_graph_free(ref);
    return;
  }
  const krt_model *m = l.m;
  CHECK((int)m->n_inputs == n_in && (int)m->n_outputs == n_out, "%s: %d inputs, %d outputs", path,
        n_in, n_out);
  void *ws = aligned_alloc(64, (m->workspace_size + 63) / 64 * 64);
  unsigned char *got[MAX_IO], *want[MAX_IO];
  for (int k = 0; k < n_out; k++) { /* at the maximum: the largest of each */
    size_t bytes = (size_t)ir_value_nbytes(g->outputs[k]);
    got[k] = malloc(bytes + CANARY), want[k] = malloc(bytes);
  }
  for (int i = 0; i < n_lens; i++) {
    int n = lens[i];
    krt_npy in[MAX_IO];
    const void *ins[MAX_IO];
    bool ok = true;
    for (int k = 0; k < n_in; k++) ok &= read_npy_in(dir, n, in_names[k], &in[k]);
    if (!ok) continue;
    for (int k = 0; k < n_in; k++) ins[k] = in[k].data;
    IrDiag rd;
    ir_diag_init(&rd, NULL, false);
    CHECK(ir_dyn_resize(ref, n, &rd), "%s: interpreter graph at %d", path, n);
    ir_diag_free(&rd);
    CHECK(ir_interp_run(ref, ins, (void **)want) == 0, "%s: interpreter at %d", path, n);
    for (int k = 0; k < n_out; k++)
      memset(got[k], 0xA5, (size_t)ir_value_nbytes(g->outputs[k]) + CANARY);
    int64_t dims[1] = {n};
    CHECK(m->run_dims(dims, ins, (void **)got, ws) == 0, "%s: run_dims at %d", path, n);
    for (int k = 0; k < n_out; k++) {
      const IrValue *o = ref->outputs[k]; /* at length n */
      const char *name = out_names[k];
      krt_npy t;
      if (!read_npy_in(dir, n, name, &t)) continue;
      long count = (long)ir_value_numel(o);
      CHECK(!strcmp(o->name, name) && (long)t.numel == count, "%s: %ld values", name, count);
      if (o->dtype == IR_F32) {
        CHECK(test_close_f32((float *)want[k], t.data, count, 1e-4, 1e-5, name),
              "%s: interpreter = torch at %d (%s)", path, n, name);
        CHECK(test_close_f32((float *)got[k], (float *)want[k], count, 1e-4, 1e-5, name),
              "%s -O%d: compiled = interpreter at %d (%s)", path, level, n, name);
      } else {
        CHECK(!memcmp(want[k], t.data, (size_t)count * 8), "%s: interpreter = torch at %d (%s)",
              path, n, name);
        CHECK(!memcmp(got[k], want[k], (size_t)count * 8),
              "%s -O%d: compiled = interpreter at %d (%s)", path, level, n, name);
      }
      bool untouched = true;
      size_t at = (size_t)ir_value_nbytes(o), end = (size_t)ir_value_nbytes(g->outputs[k]) + CANARY;
      for (size_t e = at; e < end; e++) untouched &= got[k][e] == 0xA5;
      CHECK(untouched, "%s -O%d: nothing written past %s at %d", path, level, name, n);
      krt_npy_free(&t);
    }
    if (i == n_lens - 1)
      for (int64_t bad = 0; bad <= g->dyn[0].max + 1; bad += g->dyn[0].max + 1) {
        dims[0] = bad;
        CHECK(m->run_dims(dims, ins, (void **)got, ws) == KRT_ERR_DIM_RANGE,
              "%s: length %lld returns KRT_ERR_DIM_RANGE", path, (long long)bad);
      }
    for (int k = 0; k < n_in; k++) krt_npy_free(&in[k]);
  }
  for (int k = 0; k < n_out; k++) free(got[k]), free(want[k]);
  free(ws);
  dlclose(l.lib);
  ir_graph_free(g);
  ir_graph_free(ref);
}

static void test_outputs(const char *dir, const char *model, const char *const *in_names, int n_in,
                         const char *const *out_names, int n_out, int level) {
  test_outputs_at(dir, model, max_dim[0], NULL, lengths, (int)(sizeof lengths / sizeof *lengths),
                  in_names, n_in, out_names, n_out, level);
}

/* The BERT QA model of tools/bert_qa.py exported by torch.onnx with the dynamic axis 'seq'
 * (tests/dyn/bert_qa): positions Range(0, Shape(ids)[1]), the position table gathered at them and
 * every Reshape's shape are folded from the length at import and again at each length. */
static void test_bert_qa(int level) {
  static const int lens[] = {1, 5, 8, 17, 24};
  static const char *const ins[] = {"input_ids", "attention_mask", "token_type_ids"};
  static const char *const outs[] = {"start_logits", "end_logits", "span_start", "span_end"};
  /* (-O0: the attention pass only, as test_enc: unfused attention's scores cannot be bounded) */
  test_outputs_at("tests/dyn/bert_qa", "model.onnx", "seq=24", level ? NULL : "attention", lens, 5,
                  ins, 3, outs, 4, level);
}

/* Two run-time dims, batch and sequence (tests/dyn/enc2, tools/gen_dyn2_tests.py: a torch export
 * with dynamic_axes {0: batch, 1: seq}, self-attention [B,H,S,S], a [B*S, D] Reshape): at each
 * (batch, seq) pair every output = the interpreter running the whole batch = torch; nothing is
 * written past the pair's outputs; a batch or length outside [1, max] is KRT_ERR_DIM_RANGE. */
static void test_enc2(int level) {
  enum { CANARY = 64 };
  static const char *const dims2[] = {"batch=4,seq=12"};
  static const int pairs[][2] = {{1, 1}, {2, 5}, {1, 12}, {3, 8}, {4, 3}, {4, 12}};
  static const char *const ins[] = {"ids", "mask"}, *const outs[] = {"logits", "tags", "pooled"};
  const char *dir = "tests/dyn/enc2";
  IrDiag d;
  ir_diag_init(&d, dir, false);
  IrGraph *g = load("tests/dyn/enc2/model.onnx", dims2, 1, level, level ? NULL : "attention", &d);
  IrGraph *ref = load("tests/dyn/enc2/model.onnx", dims2, 1, -1, NULL, &d);
  CHECK(g && ref, "enc2 -O%d: loads and plans: %s", level, d.text ? d.text : "");
  ir_diag_free(&d);
  DlModel l;
  if (!g || !ref || !dl_load(g, level, &l)) {
    ir_graph_free(g);
    ir_graph_free(ref);
    return;
  }
  const krt_model *m = l.m;
  CHECK(m->n_dims == 2 && !strcmp(m->dims[0].name, "batch") && m->dims[0].max == 4 &&
            !strcmp(m->dims[1].name, "seq") && m->dims[1].max == 12 && m->batch_dim == 0 &&
            m->input_batch[0] && m->input_batch[1] && m->output_batch[2] &&
            m->input_dyn_axis[0] == 1 && m->output_dyn_axis[2] == -1,
        "enc2: dims batch<=4 (the batch), seq<=12");
  void *ws = aligned_alloc(64, (m->workspace_size + 63) / 64 * 64 + 64);
  unsigned char *got[3], *want[3];
  size_t cap[3];
  for (int k = 0; k < 3; k++) { /* at both maxima */
    cap[k] = (size_t)ir_value_nbytes(g->outputs[k]) * 4;
    got[k] = malloc(cap[k] + CANARY), want[k] = malloc(cap[k]);
  }
  for (size_t p = 0; p < sizeof pairs / sizeof *pairs; p++) {
    char sub[64];
    snprintf(sub, sizeof sub, "%s/B%dS%d", dir, pairs[p][0], pairs[p][1]);
    krt_npy in[2], t[3];
    const void *inp[2];
    bool ok = true;
    for (int k = 0; k < 2; k++) {
      char path[256], err[256];
      snprintf(path, sizeof path, "%s/%s.npy", sub, ins[k]);
      ok &= krt_npy_read(path, &in[k], err, sizeof err);
      inp[k] = in[k].data;
    }
    for (int k = 0; k < 3; k++) {
      char path[256], err[256];
      snprintf(path, sizeof path, "%s/%s.npy", sub, outs[k]);
      ok &= krt_npy_read(path, &t[k], err, sizeof err);
    }
    CHECK(ok, "%s: goldens read", sub);
    if (!ok) continue;
    int64_t dims[2] = {pairs[p][0], pairs[p][1]};
    IrDiag rd;
    ir_diag_init(&rd, NULL, false);
    CHECK(ir_dyn_resize_dims(ref, dims, &rd), "%s: interpreter graph", sub);
    ir_diag_free(&rd);
    CHECK(ir_interp_run(ref, inp, (void **)want) == 0, "%s: interpreter", sub);
    for (int k = 0; k < 3; k++) memset(got[k], 0xA5, cap[k] + CANARY);
    CHECK(m->run_dims(dims, inp, (void **)got, ws) == 0, "enc2 -O%d: run_dims at %s", level, sub);
    for (int k = 0; k < 3; k++) {
      const IrValue *o = ref->outputs[k]; /* at the pair */
      long count = (long)ir_value_numel(o);
      CHECK((long)t[k].numel == count, "%s: %s has %ld values", sub, outs[k], count);
      if (o->dtype == IR_F32) {
        CHECK(test_close_f32((float *)want[k], t[k].data, count, 1e-4, 1e-5, outs[k]),
              "%s: interpreter = torch (%s)", sub, outs[k]);
        CHECK(test_close_f32((float *)got[k], (float *)want[k], count, 1e-4, 1e-5, outs[k]),
              "enc2 -O%d: compiled = interpreter at %s (%s)", level, sub, outs[k]);
      } else {
        CHECK(!memcmp(want[k], t[k].data, (size_t)count * 8), "%s: interpreter = torch (%s)", sub,
              outs[k]);
        CHECK(!memcmp(got[k], want[k], (size_t)count * 8),
              "enc2 -O%d: compiled = interpreter at %s (%s)", level, sub, outs[k]);
      }
      bool untouched = true;
      for (size_t e = (size_t)ir_value_nbytes(o); e < cap[k] + CANARY; e++)
        untouched &= got[k][e] == 0xA5;
      CHECK(untouched, "enc2 -O%d: nothing written past %s at %s", level, outs[k], sub);
    }
    if (p == 0) { /* out of range: either dim, before anything is written */
      static const int64_t bad[][2] = {{0, 1}, {5, 1}, {1, 0}, {1, 13}, {-1, 1}, {4, 13}};
      for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
        for (int k = 0; k < 3; k++) memset(got[k], 0xA5, cap[k]);
        CHECK(m->run_dims(bad[b], inp, (void **)got, ws) == KRT_ERR_DIM_RANGE &&
                  got[0][0] == 0xA5 && got[2][0] == 0xA5,
              "enc2: batch %lld, seq %lld returns KRT_ERR_DIM_RANGE, nothing written",
              (long long)bad[b][0], (long long)bad[b][1]);
      }
    }
    for (int k = 0; k < 2; k++) krt_npy_free(&in[k]);
    for (int k = 0; k < 3; k++) krt_npy_free(&t[k]);
  }
  for (int k = 0; k < 3; k++) free(got[k]), free(want[k]);
  free(ws);
  dlclose(l.lib);
  ir_graph_free(g);
  ir_graph_free(ref);
}

/* A [1,seq,seq] value (tests/dyn/outer: an outer sum reduced over its second axis) and positions
 * from that value's Shape (folded when the ONNX import closes, again at every length). */
static void test_outer(int level) {
  static const char *const ins[] = {"x"}, *const outs[] = {"y"};
  test_outputs("tests/dyn/outer", "model.onnx", ins, 1, outs, 1, level);
}

/* Reductions, ArgMax/ArgMin and Softmax/LogSoftmax along the run-time axis (tests/dyn/pool): one
 * call each whose loop stops at the length; fixed columns of each row (Gather) and reductions
 * over a later axis in blocks of rows. */
static void test_pool(int level) {
  static const char *const ins[] = {"tok", "pos"};
  static const char *const outs[] = {"p_start",  "lp_end", "span_start", "span_end", "mean",
                                     "centered", "pooled", "lse",        "row_max",  "row_arg"};
  test_outputs("tests/dyn/pool", "model.json", ins, 2, outs, 10, level);
}

/* Recurrent nodes over a run-time number of steps (tests/dyn/bidir): a bidirectional
 * GRU, a reverse RNN (both directions start from the last step at the length), an LSTM's Y_c. */
static void test_bidir(int level) {
  static const char *const ins[] = {"x"};
  static const char *const outs[] = {"gy", "gy_h", "ry", "ry_h", "ly_c"};
  test_outputs("tests/dyn/bidir", "model.json", ins, 1, outs, 5, level);
}

/* A streaming LSTM over a run-time number of frames (tests/dyn/stream, h and c as
 * states): the 40 frames fed in calls of several lengths from one state = torch's run of the
 * whole sequence at every frame. */
static void test_stream(int level) {
  IrDiag d;
  ir_diag_init(&d, "stream", false);
  IrGraph *g = load("tests/dyn/stream/model.json", max_dim, 1, level, NULL, &d);
  CHECK(g != NULL, "stream -O%d loads: %s", level, d.text ? d.text : "");
  ir_diag_free(&d);
  DlModel l;
  krt_npy x, y;
  char err[256];
  bool ok = g && dl_load(g, level, &l) &&
            krt_npy_read("tests/dyn/stream/x.npy", &x, err, sizeof err) &&
            krt_npy_read("tests/dyn/stream/y.npy", &y, err, sizeof err);
  CHECK(ok, "stream: load");
  if (!ok) {
    ir_graph_free(g);
    return;
  }
  const krt_model *m = l.m;
  enum { I = 5, H = 8, T = 40 };
  CHECK(m->run_state_dims && x.numel == T * I && y.numel == T * H, "stream: descriptor, data");
  void *ws = aligned_alloc(64, (m->workspace_size + 63) / 64 * 64);
  void *state = aligned_alloc(64, (m->state_size + 63) / 64 * 64);
  float out[16 * H + 16];
  static const int calls[][8] = {{16, 16, 8}, {1, 5, 3, 16, 13, 2}, {7, 1, 15, 9, 4, 4}};
  for (size_t p = 0; p < sizeof calls / sizeof *calls; p++) {
    CHECK(m->reset(state, m->state_size) == 0, "reset");
    int at = 0;
    for (int c = 0; c < 8 && calls[p][c]; c++) {
      int n = calls[p][c];
      int64_t dims[1] = {n};
      for (size_t e = 0; e < sizeof out / sizeof *out; e++) out[e] = 1234.5f;
      const void *in[1] = {(const float *)x.data + at * I};
      void *o[1] = {out};
      CHECK(m->run_state_dims(dims, in, o, ws, state, m->state_size) == 0, "call of %d", n);
      CHECK(test_close_f32(out, (const float *)y.data + at * H, n * (long)H, 1e-4, 1e-5, "y"),
            "stream -O%d: pattern %zu: frames %d..%d = torch", level, p, at, at + n - 1);
      bool untouched = true;
      for (size_t e = (size_t)n * H; e < sizeof out / sizeof *out; e++)
        untouched &= out[e] == 1234.5f;
      CHECK(untouched, "stream -O%d: nothing written past %d frames", level, n);
      at += n;
    }
    CHECK(at == T, "pattern %zu covers the sequence", p);
  }
  int64_t bad[1] = {17};
  const void *in[1] = {x.data};
  void *o[1] = {out};
  CHECK(m->run_state_dims(bad, in, o, ws, state, m->state_size) == KRT_ERR_DIM_RANGE,
        "stream: 17 frames: KRT_ERR_DIM_RANGE");
  free(ws);
  free(state);
  krt_npy_free(&x);
  krt_npy_free(&y);
  dlclose(l.lib);
  ir_graph_free(g);
}

/* A model the run-time length cannot bound: an error naming the node (and no graph). */
static void expect_error(const char *json, const char *const *dims, int n_dims, const char *want) {
  IrDiag d;
  ir_diag_init(&d, "m", false);
  FeOptions fo = {.max_dims = dims, .n_max_dims = n_dims};
  IrGraph *g = fe_parse_model_opts(json, strlen(json), NULL, "m", &fo, &d);
  PassOptions po = {.opt_level = 2, .workspace_align = 64, .verify_each = true};
  bool ok = g && pass_run_pipeline(g, &po, &d);
  CHECK(!ok && d.text && strstr(d.text, want), "error '%s', got: %s", want, d.text ? d.text : "");
  ir_graph_free(g);
  ir_diag_free(&d);
}

#define HEAD                                                                                       \
  "{\"format\": \"kiln-model\", \"version\": 1, \"name\": \"m\", \"inputs\": [{\"name\": "         \
  "\"x\", \"dtype\": \"f32\", \"shape\": [1, \"seq\", 4]}], \"outputs\": [{\"name\": \"y\"}], "

/* A row chosen at run time along the run-time axis (Gather of x [1,seq,4] at index i): x's row
 * i, a negative index counts from the length, an index at or past the length (though below the
 * maximum) is KRT_ERR_INDEX_RANGE. */
static void test_row_at(int level) {
  static const char json[] =
      "{\"format\": \"kiln-model\", \"version\": 1, \"name\": \"m\", \"inputs\": [{\"name\": "
      "\"x\", \"dtype\": \"f32\", \"shape\": [1, \"seq\", 4]}, {\"name\": \"i\", \"dtype\": "
      "\"i64\", \"shape\": [1]}], \"outputs\": [{\"name\": \"y\"}], \"nodes\": [{\"op\": "
      "\"Gather\", \"inputs\": [\"x\", \"i\"], \"outputs\": [\"y\"], \"attrs\": {\"axis\": 1}}]}";
  static const char *const dims8[] = {"seq=8"};
  FeOptions fo = {.max_dims = dims8, .n_max_dims = 1};
  IrDiag d;
  ir_diag_init(&d, "m", false);
  IrGraph *g = fe_parse_model_opts(json, strlen(json), NULL, "m", &fo, &d);
  PassOptions po = {.opt_level = level, .workspace_align = 64, .verify_each = true};
  DlModel l;
  bool ok = g && pass_run_pipeline(g, &po, &d) && dl_load(g, level, &l);
  CHECK(ok, "row_at -O%d: compiles: %s", level, d.text ? d.text : "");
  ir_diag_free(&d);
  if (ok) {
    void *ws = aligned_alloc(64, (l.m->workspace_size + 63) / 64 * 64 + 64);
    float x[32], y[4];
    for (int e = 0; e < 32; e++) x[e] = (float)e;
    static const int64_t cases[][3] = {{3, 2, 2},  {3, -1, 2}, {5, 0, 0},  {3, 3, -1},
                                       {3, 5, -1}, {8, 7, 7},  {3, -4, -1}};
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
      int64_t dims[1] = {cases[t][0]}, i = cases[t][1], row = cases[t][2];
      const void *in[2] = {x, &i};
      void *out[1] = {y};
      int rc = l.m->run_dims(dims, in, out, ws);
      if (row < 0)
        CHECK(rc == KRT_ERR_INDEX_RANGE, "row_at -O%d: length %lld, index %lld: out of range (%d)",
              level, (long long)dims[0], (long long)i, rc);
      else
        CHECK(rc == 0 && !memcmp(y, x + 4 * row, sizeof y),
              "row_at -O%d: length %lld, index %lld: row %lld", level, (long long)dims[0],
              (long long)i, (long long)row);
    }
    free(ws);
    dlclose(l.lib);
  }
  ir_graph_free(g);
}

static void test_errors(void) {
  static const char *const dims8[] = {"seq=8"};
  /* a LayerNormalization over the run-time axis (its scale has the maximum's shape: it cannot
   * follow the length), a cumulative sum along it */
  expect_error(HEAD "\"initializers\": [{\"name\": \"w\", \"dtype\": \"f32\", \"shape\": [8, 4], "
                    "\"data\": [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, "
                    "1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}], \"nodes\": [{\"name\": \"ln\", \"op\": "
                    "\"LayerNormalization\", \"inputs\": [\"x\", \"w\"], \"outputs\": [\"y\"], "
                    "\"attrs\": {\"axis\": 1}}]}",
               dims8, 1,
               "--max-dim: the model's shapes do not follow 'seq' (at seq=1: nodes[0] "
               "(ln).inputs[1]: Scale [8,4] must have 4 elements");
  expect_error(HEAD "\"initializers\": [{\"name\": \"a\", \"dtype\": \"i64\", \"shape\": [], "
                    "\"data\": [1]}], \"nodes\": [{\"name\": \"cs\", \"op\": \"CumSum\", "
                    "\"inputs\": [\"x\", \"a\"], \"outputs\": [\"y\"]}]}",
               dims8, 1,
               "nodes[0] (cs): CumSum cannot run at the run-time length 'seq': the op has no "
               "run-time length support");
  /* a recurrent node with the run-time length on its batch axis */
  expect_error("{\"format\": \"kiln-model\", \"version\": 1, \"name\": \"m\", \"inputs\": "
               "[{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [1, \"seq\", 1]}], "
               "\"outputs\": [{\"name\": \"y\"}], \"initializers\": [{\"name\": \"w\", "
               "\"dtype\": \"f32\", \"shape\": [1, 1, 1], \"data\": [1]}], \"nodes\": "
               "[{\"name\": \"rnn\", \"op\": \"RNN\", \"inputs\": [\"x\", \"w\", \"w\"], "
               "\"outputs\": [\"y\"], \"attrs\": {\"hidden_size\": 1}}]}",
               dims8, 1,
               "nodes[0] (rnn): RNN cannot run at the run-time length 'seq': only its input X may "
               "have the length, on its time axis");
  /* values with the length on two axes ([1,seq,seq]): not as a graph output, not read from a
   * graph input at the maximum's width, only element-wise / reduced over the second axis */
#define OUTER                                                                                      \
  "{\"format\": \"kiln-model\", \"version\": 1, \"name\": \"m\", \"inputs\": [{\"name\": "         \
  "\"x\", \"dtype\": \"f32\", \"shape\": [1, \"seq\"]}], \"outputs\": [{\"name\": \"y\"}], "       \
  "\"initializers\": [{\"name\": \"a1\", \"dtype\": \"i64\", \"shape\": [1], \"data\": "           \
  "[1]}, {\"name\": \"a2\", \"dtype\": \"i64\", \"shape\": [1], \"data\": [2]}], \"nodes\": "      \
  "[{\"op\": \"Unsqueeze\", \"inputs\": [\"x\", \"a2\"], \"outputs\": [\"col\"]}, {\"op\": "       \
  "\"Unsqueeze\", \"inputs\": [\"x\", \"a1\"], \"outputs\": [\"row\"]}, "
  expect_error(OUTER "{\"op\": \"Add\", \"inputs\": [\"col\", \"row\"], \"outputs\": [\"y\"]}]}",
               dims8, 1,
               "graph output 'y' has the run-time length 'seq' on two axes: only values inside the "
               "graph may");
  expect_error(
      OUTER "{\"name\": \"add\", \"op\": \"Add\", \"inputs\": [\"col\", \"x\"], "
            "\"outputs\": [\"s\"]}, {\"op\": \"ReduceMax\", \"inputs\": [\"s\", \"a2\"], "
            "\"outputs\": [\"y\"], \"attrs\": {\"keepdims\": 0}}]}",
      dims8, 1,
      "nodes[2] (add): Add cannot run at the run-time length 'seq': a graph input would be "
      "read at the maximum's width");
  expect_error(
      OUTER "{\"op\": \"Add\", \"inputs\": [\"col\", \"row\"], \"outputs\": [\"s\"]}, "
            "{\"name\": \"sm\", \"op\": \"Softmax\", \"inputs\": [\"s\"], \"outputs\": "
            "[\"p\"]}, {\"op\": \"ReduceMax\", \"inputs\": [\"p\", \"a2\"], \"outputs\": "
            "[\"y\"], \"attrs\": {\"keepdims\": 0}}]}",
      dims8, 1,
      "nodes[3] (sm): Softmax cannot run at the run-time length 'seq': the op cannot read a "
      "value with the run-time length on two axes");
#undef OUTER
  /* a Reshape to a constant shape that holds the maximum */
  expect_error(HEAD "\"initializers\": [{\"name\": \"s\", \"dtype\": \"i64\", \"shape\": [2], "
                    "\"data\": [8, 4]}], \"nodes\": [{\"name\": \"r\", \"op\": \"Reshape\", "
                    "\"inputs\": [\"x\", \"s\"], \"outputs\": [\"y\"]}]}",
               dims8, 1, "--max-dim: the model's shapes do not follow 'seq' (at seq=1:");
  /* a Transpose that moves the axis behind another */
  expect_error(HEAD "\"nodes\": [{\"name\": \"t\", \"op\": \"Transpose\", \"inputs\": [\"x\"], "
                    "\"outputs\": [\"y\"], \"attrs\": {\"perm\": [0, 2, 1]}}]}",
               dims8, 1,
               "value 'y' has the run-time length 'seq' at axis 2 after axes that are not 1 "
               "([1,4,8])");
  /* a constant computed from the length that compiled code cannot hold at the maximum (x divided
   * by its length), and Shape of a node's output in a JSON graph (folded only by the ONNX
   * importer, which finds its axis of run-time length) */
  expect_error(HEAD "\"initializers\": [{\"name\": \"one\", \"dtype\": \"i64\", \"shape\": [1], "
                    "\"data\": [1]}], \"nodes\": [{\"op\": \"Shape\", \"inputs\": [\"x\"], "
                    "\"outputs\": [\"s\"]}, {\"op\": \"Gather\", \"inputs\": [\"s\", \"one\"], "
                    "\"outputs\": [\"n\"]}, {\"op\": \"Cast\", \"inputs\": [\"n\"], \"outputs\": "
                    "[\"nf\"], \"attrs\": {\"to\": 1}}, {\"op\": \"Div\", \"inputs\": [\"x\", "
                    "\"nf\"], \"outputs\": [\"y\"]}]}",
               dims8, 1,
               "constant 'nf' is computed from the run-time length 'seq' and at seq=1 it is not "
               "the leading part of its value at the maximum");
  expect_error(HEAD "\"nodes\": [{\"op\": \"Relu\", \"inputs\": [\"x\"], \"outputs\": [\"r\"]}, "
                    "{\"name\": \"sh\", \"op\": \"Shape\", \"inputs\": [\"r\"], \"outputs\": "
                    "[\"y\"]}]}",
               dims8, 1,
               "nodes[1] (sh): Shape cannot run at the run-time length 'seq': the op has no "
               "run-time length support");
  /* no --max-dim for a symbolic dim, and a bad maximum */
  expect_error(HEAD "\"nodes\": [{\"op\": \"Relu\", \"inputs\": [\"x\"], \"outputs\": [\"y\"]}]}",
               NULL, 0,
               "inputs[0] (x).shape[1]: dimension 'seq' is symbolic: give its largest length "
               "with --max-dim seq=N");
  static const char *const bad[] = {"seq=0"};
  expect_error(HEAD "\"nodes\": [{\"op\": \"Relu\", \"inputs\": [\"x\"], \"outputs\": [\"y\"]}]}",
               bad, 1, "--max-dim: 'seq=0': the maximum must be an integer from 1 to");
  static const char *const two[] = {"seq=8", "other=4"};
  expect_error("{\"format\": \"kiln-model\", \"version\": 1, \"name\": \"m\", \"inputs\": "
               "[{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [1, \"seq\"]}, {\"name\": "
               "\"z\", \"dtype\": \"f32\", \"shape\": [\"other\", 1]}], \"outputs\": [{\"name\": "
               "\"y\"}], \"nodes\": [{\"op\": \"Add\", \"inputs\": [\"x\", \"z\"], \"outputs\": "
               "[\"y\"]}]}",
               two, 2,
               "--max-dim: two run-time dims ('seq', 'other'): one must be the batch, axis 0 of "
               "every graph input that has it, with the other after it in at least one input");
  /* bad --max-dim values name the flag and the item */
  static const char *const dup[] = {"seq=8", "seq=8"}, *const unknown[] = {"seq=8,sq=4"},
                           *const neg[] = {"seq=-3"}, *const noval[] = {"seq=8,b"};
  const char *relu = HEAD "\"nodes\": [{\"op\": \"Relu\", \"inputs\": [\"x\"], \"outputs\": "
                          "[\"y\"]}]}";
  expect_error(relu, dup, 2, "--max-dim: 'seq=8': dimension 'seq' is given twice");
  expect_error(relu, unknown, 1,
               "--max-dim: 'sq=4': no graph input has a symbolic dimension 'sq' (run-time dims: "
               "'seq')");
  expect_error(relu, neg, 1, "--max-dim: 'seq=-3': the maximum must be an integer from 1 to");
  expect_error(relu, noval, 1, "--max-dim: 'b': the maximum must be an integer from 1 to");
  /* three symbolic dims; a batch that is not axis 0; ops across the batch */
  static const char *const bs[] = {"b=4,seq=8"}, *const bsc[] = {"b=4,seq=8,c=2"};
  const char *bhead = "{\"format\": \"kiln-model\", \"version\": 1, \"name\": \"m\", \"inputs\": "
                      "[{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [\"b\", \"seq\", 4]}], "
                      "\"outputs\": [{\"name\": \"y\"}], ";
  char json[1024];
  snprintf(json, sizeof json,
           "{\"format\": \"kiln-model\", \"version\": 1, \"name\": \"m\", \"inputs\": "
           "[{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [\"b\", \"seq\", \"c\"]}], "
           "\"outputs\": [{\"name\": \"y\"}], \"nodes\": [{\"op\": \"Relu\", \"inputs\": "
           "[\"x\"], \"outputs\": [\"y\"]}]}");
  expect_error(json, bsc, 1,
               "inputs[0] (x).shape[2]: at most 2 dimensions of an input may be symbolic");
  snprintf(json, sizeof json,
           "%s\"initializers\": [{\"name\": \"a\", \"dtype\": \"i64\", \"shape\": [1], "
           "\"data\": [0]}], \"nodes\": [{\"name\": \"r\", \"op\": \"ReduceSum\", \"inputs\": "
           "[\"x\", \"a\"], \"outputs\": [\"y\"]}]}",
           bhead);
  expect_error(json, bs, 1,
               "nodes[0] (r): ReduceSum cannot run at the run-time batch 'b': it drops the batch");
  snprintf(json, sizeof json,
           "%s\"nodes\": [{\"name\": \"t\", \"op\": \"Transpose\", \"inputs\": [\"x\"], "
           "\"outputs\": [\"y\"], \"attrs\": {\"perm\": [1, 0, 2]}}]}",
           bhead);
  expect_error(json, bs, 1,
               "value 'y': its shape depends on the batch 'b' other than by its first axis");
  /* a state (one per stream) with a run-time batch */
  expect_error("{\"format\": \"kiln-model\", \"version\": 1, \"name\": \"m\", \"inputs\": "
               "[{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [\"b\", \"seq\", 4]}, "
               "{\"name\": \"h\", \"dtype\": \"f32\", \"shape\": [4]}], \"outputs\": [{\"name\": "
               "\"y\"}, {\"name\": \"h2\"}], \"states\": [{\"input\": \"h\", \"next\": \"h2\"}], "
               "\"nodes\": [{\"op\": \"Add\", \"inputs\": [\"x\", \"h\"], \"outputs\": [\"y\"]}, "
               "{\"op\": \"Neg\", \"inputs\": [\"h\"], \"outputs\": [\"h2\"]}]}",
               bs, 1, "--max-dim: a model with states cannot have the run-time batch 'b'");
}

int main(int argc, char **argv) {
  if (!dl_init(argc, argv)) return 1;
  test_lengths(0);
  test_lengths(2);
  test_lengths(3);
  test_enc(0);
  test_enc(3);
  test_pool(0);
  test_pool(3);
  test_bidir(0);
  test_bidir(3);
  test_stream(0);
  test_stream(3);
  test_gpt_calls(0);
  test_gpt_calls(3);
  test_bert_qa(0);
  test_bert_qa(3);
  test_outer(0);
  test_outer(3);
  test_enc2(0);
  test_enc2(3);
  test_row_at(0);
  test_row_at(2);
  test_errors();
  rmdir(dl_tmpdir);
  return test_report("test_dyn");
}
