/* NAME_run_ws is reentrant: every example, compiled at -O3, runs from several threads at once,
 * each with its own workspace (pre-filled with different garbage), and every result must equal
 * the single-threaded one bit for bit (and that one the PyTorch golden).
 * Built with ThreadSanitizer (tools/test-tsan.sh) the generated code is instrumented too
 * (CgOptions.sanitize_thread: LLVM's tsan passes), so a race inside it is reported, not just a
 * wrong number; --racy shares one workspace between the threads (what the non-reentrant
 * NAME_run does with its static one) and must make ThreadSanitizer report a data race.
 * usage: test_threads [--racy] [--threads N] DIR... */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg.h"
#include "fe.h"
#include "krt.h"
#include "krt_npy.h"
#include "pass.h"
#include "test_util.h"

#if defined(__SANITIZE_THREAD__)
#define KILN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KILN_TSAN 1
#endif
#endif
#ifndef KILN_TSAN
#define KILN_TSAN 0
#endif

enum { MAX_THREADS = 16, ITERATIONS = 2 };

static char tmpdir[] = "/tmp/kiln-test-threads-XXXXXX";
static const char *cc = "cc";
static bool racy;
static int n_threads = 4;

typedef struct {
  const krt_model *m;
  const IrGraph *g;
  const void **ins;
  void **ref;        /* single-threaded outputs */
  unsigned char *ws; /* this thread's workspace (--racy: shared) */
  int rc, mismatches;
} Job;

static void **alloc_outputs(const IrGraph *g) {
  void **outs = calloc((size_t)g->n_outputs + 1, sizeof *outs);
  if (!outs) abort();
  for (int j = 0; j < g->n_outputs; j++) {
    outs[j] = calloc(1, (size_t)ir_value_nbytes(g->outputs[j]) + 64);
    if (!outs[j]) abort();
  }
  return outs;
}

static void free_outputs(const IrGraph *g, void **outs) {
  for (int j = 0; j < g->n_outputs; j++) free(outs[j]);
  free(outs);
}

static unsigned char *alloc_ws(const krt_model *m, unsigned char garbage) {
  size_t n = (size_t)m->workspace_size;
  unsigned char *ws = aligned_alloc(64, (n + 64) / 64 * 64);
  if (!ws) abort();
  memset(ws, garbage, n);
  return ws;
}

static void *worker(void *arg) {
  Job *j = arg;
  void **outs = alloc_outputs(j->g);
  for (int it = 0; it < ITERATIONS; it++) {
    int rc = j->m->run(j->ins, outs, j->ws);
    if (rc != KRT_OK) j->rc = rc;
    for (int k = 0; k < j->g->n_outputs; k++)
      if (memcmp(outs[k], j->ref[k], (size_t)ir_value_nbytes(j->g->outputs[k]))) j->mismatches++;
  }
  free_outputs(j->g, outs);
  return NULL;
}

static void check_model(const char *dir) {
  char path[PATH_MAX], obj[PATH_MAX], so[PATH_MAX], cmd[3 * PATH_MAX], err[512];
  static int serial;
  snprintf(path, sizeof path, "%s/model.json", dir);
  IrDiag d;
  ir_diag_init(&d, path, true);
  IrGraph *g = fe_load_model(path, &d);
  PassOptions po = {.opt_level = 3, .workspace_align = 64};
  bool ok = g && pass_run_pipeline(g, &po, &d);
  CHECK(ok, "%s: does not load: %s", path, d.text ? d.text : "");
  char prefix[64];
  snprintf(prefix, sizeof prefix, "thr%d", serial++);
  snprintf(obj, sizeof obj, "%s/%s.o", tmpdir, prefix);
  snprintf(so, sizeof so, "%s/%s.so", tmpdir, prefix);
  CgOptions o = {.prefix = prefix,
                 .opt_level = 3,
                 .emit = CG_EMIT_OBJ,
                 .pic = true,
                 .sanitize_thread = KILN_TSAN};
#if KILN_TSAN && defined(__x86_64__)
  /* LLVM's tsan pass checks accesses of up to 16 bytes: with AVX/AVX-512 the vectorized loops'
   * 32- and 64-byte loads and stores would go unchecked. Baseline x86-64 (SSE2) keeps every
   * access checked. */
  o.cpu = "x86-64";
  o.features = "";
#endif
  ok = ok && cg_compile(g, &o, obj, &d);
  CHECK(ok || !g, "%s: cg_compile failed: %s", dir, d.text ? d.text : "");
  ir_diag_free(&d);
  if (!ok) {
    ir_graph_free(g);
    return;
  }
  snprintf(cmd, sizeof cmd, "%s -shared -o '%s' '%s'", cc, so, obj);
  CHECK(system(cmd) == 0, "%s: linking a shared library failed", dir);
  void *lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  CHECK(lib != NULL, "%s: dlopen: %s", dir, dlerror());
  char sym[128];
  snprintf(sym, sizeof sym, "%s_model", prefix);
  const krt_model *m = lib ? dlsym(lib, sym) : NULL;
  CHECK(m != NULL, "%s: no %s", dir, sym);
  krt_npy *in = calloc((size_t)g->n_inputs + 1, sizeof *in);
  const void **ins = calloc((size_t)g->n_inputs + 1, sizeof *ins);
  if (!in || !ins) abort();
  bool inputs_ok = true;
  for (int i = 0; i < g->n_inputs; i++) {
    snprintf(path, sizeof path, "%s/inputs/%s.npy", dir, g->inputs[i]->name);
    inputs_ok &= krt_npy_read(path, &in[i], err, sizeof err);
    CHECK(inputs_ok, "%s: %s", path, err);
    ins[i] = in[i].data;
  }
  if (m && inputs_ok) {
    /* the single-threaded reference, checked against the golden */
    void **ref = alloc_outputs(g);
    unsigned char *ws0 = alloc_ws(m, 0xA5);
    int rc = m->run(ins, ref, ws0);
    CHECK(rc == KRT_OK, "%s: run returned %d", dir, rc);
    for (int k = 0; k < g->n_outputs; k++) {
      krt_npy gold;
      snprintf(path, sizeof path, "%s/golden/%s.npy", dir, g->outputs[k]->name);
      if (!krt_npy_read(path, &gold, err, sizeof err)) continue;
      if (g->outputs[k]->dtype == IR_F32)
        CHECK(test_close_f32(ref[k], gold.data, (long)ir_value_numel(g->outputs[k]), 1e-4, 1e-5,
                             path),
              "%s: the single-threaded result differs from the golden", path);
      krt_npy_free(&gold);
    }
    Job jobs[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    for (int t = 0; t < n_threads; t++) {
      jobs[t] = (Job){.m = m, .g = g, .ins = ins, .ref = ref};
      jobs[t].ws = racy ? ws0 : alloc_ws(m, (unsigned char)(0x11 * (t + 1)));
      CHECK(pthread_create(&th[t], NULL, worker, &jobs[t]) == 0, "pthread_create");
    }
    int mismatches = 0;
    for (int t = 0; t < n_threads; t++) {
      pthread_join(th[t], NULL);
      CHECK(jobs[t].rc == KRT_OK, "%s: thread %d: run returned %d", dir, t, jobs[t].rc);
      mismatches += jobs[t].mismatches;
      if (!racy) free(jobs[t].ws);
    }
    CHECK(mismatches == 0, "%s: %d of %d concurrent results differ from the single-threaded one",
          dir, mismatches, n_threads * ITERATIONS * g->n_outputs);
    printf("%s: %d threads x %d runs%s: %s\n", dir, n_threads, ITERATIONS,
           KILN_TSAN ? " (generated code instrumented by ThreadSanitizer)" : "",
           mismatches ? "DIFFERENT" : "every result identical to the single-threaded one");
    free(ws0);
    free_outputs(g, ref);
  }
  for (int i = 0; i < g->n_inputs; i++) krt_npy_free(&in[i]);
  free(in);
  free(ins);
  if (lib) dlclose(lib);
  remove(obj);
  remove(so);
  ir_graph_free(g);
}

int main(int argc, char **argv) {
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  if (getenv("CC") && *getenv("CC")) cc = getenv("CC");
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--racy")) {
      racy = true;
    } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      n_threads = atoi(argv[++i]);
      if (n_threads < 1 || n_threads > MAX_THREADS) n_threads = 4;
    } else {
      char probe[PATH_MAX];
      snprintf(probe, sizeof probe, "%s/model.json", argv[i]);
      if (access(probe, R_OK) == 0) check_model(argv[i]);
    }
  }
  rmdir(tmpdir);
  return test_report("test_threads");
}
