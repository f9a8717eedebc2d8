/* States (values kept across calls): the compiled code against the interpreter, two interleaved
 * streams (reentrancy), reset, the error codes of a bad state buffer, in-place updates versus
 * copies, and a streaming LSTM fed frame by frame against the full-sequence run. */
#include <stdint.h>
#include <unistd.h>

#include "dl_model.h"

static void *state_alloc(const krt_model *m) {
  void *s = aligned_alloc(64, (m->state_size + 128) / 64 * 64);
  memset(s, 0x5A, (m->state_size + 128) / 64 * 64); /* garbage until reset */
  return s;
}

/* acc' = acc + x, y = 2 acc' (acc' written over acc in place); with `late`, y = acc * acc' reads
 * acc after acc' is computed, so acc' must be copied into the state at the end instead. */
static const char *acc_model(bool late) {
  static char buf[2048];
  snprintf(
      buf, sizeof buf,
      "{\"format\": \"kiln-model\", \"version\": 1, \"name\": \"acc\","
      " \"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [2, 3]},"
      "              {\"name\": \"acc\", \"dtype\": \"f32\", \"shape\": [2, 3]}],"
      " \"outputs\": [{\"name\": \"y\"}, {\"name\": \"acc_next\"}],"
      " \"initializers\": [{\"name\": \"two\", \"dtype\": \"f32\", \"shape\": [], \"data\": "
      "[2]},"
      "   {\"name\": \"acc0\", \"dtype\": \"f32\", \"shape\": [2, 3], \"data\": [1, 2, 3, 4, 5, "
      "6]}],"
      " \"nodes\": [{\"op\": \"Add\", \"inputs\": [\"acc\", \"x\"], \"outputs\": "
      "[\"acc_next\"]},"
      "   {\"op\": \"Mul\", \"inputs\": [%s], \"outputs\": [\"y\"]}],"
      " \"states\": [{\"input\": \"acc\", \"next\": \"acc_next\", \"init\": \"acc0\"}]}",
      late ? "\"acc\", \"acc_next\"" : "\"acc_next\", \"two\"");
  return buf;
}

static void test_accumulator(bool late, int level) {
  IrGraph *g = dl_parse(acc_model(late), NULL, level, NULL);
  if (!g) return;
  CHECK(g->n_states == 1 && g->n_inputs == 1 && g->n_outputs == 1, "one state, x in, y out");
  CHECK(g->states[0].direct == !late, "acc' %s (late=%d)", late ? "copied" : "in place", late);
  CHECK(g->state_size == 64, "state size %lld", (long long)g->state_size);
  DlModel l;
  if (!dl_load(g, level, &l)) {
    ir_graph_free(g);
    return;
  }
  const krt_model *m = l.m;
  CHECK(m->run == NULL && m->run_state && m->reset && m->n_states == 1, "descriptor");
  CHECK(m->state_size == (uint64_t)g->state_size && m->state_align == 64, "state size/align");
  CHECK(!strcmp(m->states[0].name, "acc"), "state name");
  void *ws = m->workspace_size ? aligned_alloc(64, (m->workspace_size + 63) / 64 * 64) : NULL;
  void *sa = state_alloc(m), *sb = state_alloc(m);
  unsigned char *ref_a = calloc(1, (size_t)g->state_size),
                *ref_b = calloc(1, (size_t)g->state_size);
  CHECK(m->reset(sa, m->state_size) == 0 && m->reset(sb, m->state_size) == 0, "reset");
  ir_state_reset(g, ref_a);
  ir_state_reset(g, ref_b);
  CHECK(!memcmp(sa, ref_a, (size_t)g->state_size), "reset writes the initial value");
  /* two streams interleaved: a, b, a, a, b, ... each against its own interpreter stream */
  const char order[] = "abaabbab";
  float first_y[6];
  for (int t = 0; order[t]; t++) {
    bool a = order[t] == 'a';
    float x[6], y[6], want[6];
    for (int i = 0; i < 6; i++) x[i] = (float)((t + 1) * (a ? 1 : -3) + i) * 0.25f;
    const void *in[1] = {x};
    void *out[1] = {y}, *out_ref[1] = {want};
    CHECK(m->run_state(in, out, ws, a ? sa : sb, m->state_size) == 0, "run");
    CHECK(ir_interp_run_state(g, in, out_ref, a ? ref_a : ref_b) == 0, "interp");
    CHECK(test_close_f32(y, want, 6, 0, 0, "stream output"), "step %d (%c) equals interp", t,
          order[t]);
    CHECK(!memcmp(a ? sa : sb, a ? ref_a : ref_b, 24), "step %d state equals interp's", t);
    if (t == 0) memcpy(first_y, y, sizeof y);
  }
  /* reset restores the initial state: the first call again gives the first output */
  CHECK(m->reset(sa, m->state_size) == 0, "reset again");
  {
    float x[6], y[6];
    for (int i = 0; i < 6; i++) x[i] = (float)(1 + i) * 0.25f;
    const void *in[1] = {x};
    void *out[1] = {y};
    CHECK(m->run_state(in, out, ws, sa, m->state_size) == 0, "run after reset");
    CHECK(!memcmp(y, first_y, sizeof y), "after reset the first output repeats");
  }
  /* a bad state buffer: an error code, nothing written */
  {
    float x[6] = {0}, y[6];
    const void *in[1] = {x};
    void *out[1] = {y};
    unsigned char *bytes = sb;
    CHECK(m->run_state(in, out, ws, NULL, m->state_size) == KRT_ERR_NULL_ARG, "NULL state");
    CHECK(m->run_state(in, out, ws, bytes + 4, m->state_size) == KRT_ERR_BAD_ALIGNMENT,
          "misaligned state");
    CHECK(m->run_state(in, out, ws, sb, m->state_size - 1) == KRT_ERR_STATE_SIZE,
          "state too small");
    CHECK(m->reset(NULL, m->state_size) == KRT_ERR_NULL_ARG, "reset NULL");
    CHECK(m->reset(bytes + 8, m->state_size) == KRT_ERR_BAD_ALIGNMENT, "reset misaligned");
    CHECK(m->reset(sb, 3) == KRT_ERR_STATE_SIZE, "reset too small");
    CHECK(!memcmp(sb, ref_b, 24), "a rejected call leaves the state alone");
  }
  free(ws);
  free(sa);
  free(sb);
  free(ref_a);
  free(ref_b);
  dlclose(l.lib);
  ir_graph_free(g);
}

/* ---- streaming LSTM ------------------------------------------------------------------------ */

enum { T = 7, I = 5, H = 6 };

/* One LSTM over `steps` steps; streaming: initial_h/initial_c inputs h, c and outputs Y_h, Y_c. */
static char *lstm_model(int steps, bool streaming) {
  size_t cap = 1 << 16, left = cap;
  char *buf = malloc(cap), *p = buf;
  dl_append(&p, &left,
            "{\"format\": \"kiln-model\", \"version\": 1, \"name\": \"lstm\", \"inputs\": "
            "[{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [%d, 1, %d]}",
            steps, I);
  if (streaming)
    dl_append(&p, &left,
              ", {\"name\": \"h\", \"dtype\": \"f32\", \"shape\": [1, 1, %d]}, {\"name\": \"c\", "
              "\"dtype\": \"f32\", \"shape\": [1, 1, %d]}",
              H, H);
  dl_append(&p, &left, "], \"outputs\": [{\"name\": \"y\"}%s], \"initializers\": [",
            streaming ? ", {\"name\": \"h_out\"}, {\"name\": \"c_out\"}" : "");
  dl_append(&p, &left,
            "{\"name\": \"W\", \"dtype\": \"f32\", \"shape\": [1, %d, %d], \"data\": ", 4 * H, I);
  dl_append_data(&p, &left, 4 * H * I, 1);
  dl_append(&p, &left,
            "}, {\"name\": \"R\", \"dtype\": \"f32\", \"shape\": [1, %d, %d], \"data\": ", 4 * H,
            H);
  dl_append_data(&p, &left, 4 * H * H, 2);
  dl_append(&p, &left,
            "}, {\"name\": \"B\", \"dtype\": \"f32\", \"shape\": [1, %d], \"data\": ", 8 * H);
  dl_append_data(&p, &left, 8 * H, 3);
  dl_append(&p, &left,
            "}], \"nodes\": [{\"op\": \"LSTM\", \"inputs\": [\"x\", \"W\", \"R\", \"B\"%s], "
            "\"outputs\": [\"y\"%s], \"attrs\": {\"hidden_size\": %d}}]}",
            streaming ? ", \"\", \"h\", \"c\"" : "", streaming ? ", \"h_out\", \"c_out\"" : "", H);
  return buf;
}

static void test_streaming_lstm(int level) {
  char *full_json = lstm_model(T, false), *step_json = lstm_model(1, true);
  IrGraph *full = dl_parse(full_json, NULL, level, NULL);
  /* the CLI's --state form, on a graph that declares no states itself */
  IrGraph *step = dl_parse(step_json, "h_out=h,c_out=c", level, NULL);
  free(full_json);
  free(step_json);
  DlModel l = {0};
  if (full && step && dl_load(step, level, &l)) {
    CHECK(step->n_states == 2 && step->states[0].direct && step->states[1].direct,
          "Y_h, Y_c written over initial_h, initial_c in place (no copies)");
    const krt_model *m = l.m;
    float x[T * I], y_full[T * H], y_step[H];
    for (int i = 0; i < T * I; i++) x[i] = (float)((i * 37) % 23) / 11.0f - 1.0f;
    const void *in_full[1] = {x};
    void *out_full[1] = {y_full};
    CHECK(ir_interp_run(full, in_full, out_full) == 0, "full-sequence interpreter");
    void *ws = m->workspace_size ? aligned_alloc(64, (m->workspace_size + 63) / 64 * 64) : NULL;
    void *st = state_alloc(m);
    unsigned char *ref = calloc(1, (size_t)step->state_size);
    ir_state_reset(step, ref);
    CHECK(m->reset(st, m->state_size) == 0, "reset");
    for (int t = 0; t < T; t++) {
      float y_ref[H];
      const void *in[1] = {x + t * I};
      void *out[1] = {y_step}, *out_ref[1] = {y_ref};
      CHECK(m->run_state(in, out, ws, st, m->state_size) == 0, "step %d", t);
      CHECK(ir_interp_run_state(step, in, out_ref, ref) == 0, "interp step %d", t);
      CHECK(test_close_f32(y_step, y_full + t * H, H, 1e-5, 1e-6, "frame vs full sequence"),
            "frame %d equals the full-sequence run's step %d (-O%d)", t, t, level);
      CHECK(test_close_f32(y_ref, y_full + t * H, H, 1e-6, 1e-7, "interp frame"),
            "interpreter frame %d equals the full sequence", t);
    }
    free(ws);
    free(st);
    free(ref);
    dlclose(l.lib);
  }
  ir_graph_free(full);
  ir_graph_free(step);
}

/* ---- errors -------------------------------------------------------------------------------- */

static void expect_error(const char *json, const char *states, const char *msg) {
  IrDiag d;
  ir_diag_init(&d, "test", false);
  IrGraph *g = fe_parse_model(json, strlen(json), NULL, "m", &d);
  if (g) ir_graph_pair_states(g, states, &d);
  CHECK(d.n_errors > 0 && d.text && strstr(d.text, msg), "expected '%s', got: %s", msg,
        d.text ? d.text : "(nothing)");
  ir_diag_free(&d);
  ir_graph_free(g);
}

static void test_errors(void) {
  const char *base = acc_model(false);
  char buf[2100];
  snprintf(buf, sizeof buf, "%s", base);
  char *st = strstr(buf, ", \"states\"");
  strcpy(st, "}"); /* no states in the file */
  expect_error(buf, "acc_next=nothing", "--state: the model has no value named 'nothing'");
  expect_error(buf, "acc_next", "--state: expected OUTPUT=INPUT, got 'acc_next'");
  expect_error(buf, "y=x,acc_next=x", "--state: 'x' is already part of a state");
  expect_error(buf, "x=acc", "'x' is not a graph output");
  expect_error(buf, "acc_next=two", "'two' is not a graph input");
  expect_error(base, "acc_next=acc", "'acc' is already part of a state");
  snprintf(buf, sizeof buf, "%s", base);
  st = strstr(buf, "\"init\": \"acc0\"");
  memcpy(st, "\"init\": \"two\" ", 14);
  expect_error(buf, NULL, "states[0].init: 'two' must be an initializer of the input's dtype");
}

int main(int argc, char **argv) {
  if (!dl_init(argc, argv)) return 1;
  for (int level = 0; level <= 3; level += 3) {
    test_accumulator(false, level);
    test_accumulator(true, level);
    test_streaming_lstm(level);
  }
  test_streaming_lstm(2);
  test_errors();
  rmdir(dl_tmpdir);
  return test_report("test_state");
}
