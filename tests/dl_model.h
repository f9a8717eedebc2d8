/* Helpers of tests that build models from JSON text, compile them into shared libraries and call
 * them through their krt_model descriptor (test_state.c, test_attention.c). */
#ifndef KILN_TEST_DL_MODEL_H
#define KILN_TEST_DL_MODEL_H

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg.h"
#include "fe.h"
#include "ir.h"
#include "krt.h"
#include "pass.h"
#include "test_util.h"

static char dl_tmpdir[] = "/tmp/kiln-test-dl-XXXXXX";
static const char *dl_cc = "cc";
static int dl_serial;

typedef struct {
  void *lib;
  const krt_model *m;
} DlModel;

/* Parses JSON, pairs --state style states, runs the pipeline of `level` (or `passes`). */
static inline IrGraph *dl_parse(const char *json, const char *states, int level,
                                const char *passes) {
  IrDiag d;
  ir_diag_init(&d, "test", false);
  IrGraph *g = fe_parse_model(json, strlen(json), NULL, "m", &d);
  bool ok = g && ir_graph_pair_states(g, states, &d);
  PassOptions po = {.opt_level = level,
                    .workspace_align = 64,
                    .verify_each = true,
                    .passes = passes,
                    .attention = PASS_ATTENTION_ALL};
  ok = ok && pass_run_pipeline(g, &po, &d);
  if (!ok) fprintf(stderr, "unexpected errors:\n%s", d.text ? d.text : "");
  CHECK(ok, "model loads and plans");
  ir_diag_free(&d);
  if (!ok) ir_graph_free(g);
  return ok ? g : NULL;
}

/* Compiles g at LLVM level `level` into a shared library in dl_tmpdir and loads it. */
static inline bool dl_load(const IrGraph *g, int level, DlModel *l) {
  char prefix[32], obj[512], so[512], cmd[1200];
  snprintf(prefix, sizeof prefix, "dl%d", dl_serial++);
  snprintf(obj, sizeof obj, "%s/%s.o", dl_tmpdir, prefix);
  snprintf(so, sizeof so, "%s/%s.so", dl_tmpdir, prefix);
  CgOptions o = {.prefix = prefix, .opt_level = level, .emit = CG_EMIT_OBJ, .pic = true};
  IrDiag d;
  ir_diag_init(&d, "test", false);
  bool ok = cg_compile(g, &o, obj, &d);
  if (!ok) fprintf(stderr, "cg_compile: %s", d.text ? d.text : "");
  ir_diag_free(&d);
  CHECK(ok, "cg_compile");
  if (!ok) return false;
  snprintf(cmd, sizeof cmd, "%s -shared -o '%s' '%s'", dl_cc, so, obj);
  ok = system(cmd) == 0;
  remove(obj);
  CHECK(ok, "link");
  l->lib = ok ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
  remove(so);
  CHECK(l->lib != NULL, "dlopen");
  char sym[64];
  snprintf(sym, sizeof sym, "%s_model", prefix);
  l->m = l->lib ? dlsym(l->lib, sym) : NULL;
  return l->m != NULL;
}

static inline bool dl_init(int argc, char **argv) {
  if (argc > 2 && strcmp(argv[1], "--cc") == 0) dl_cc = argv[2];
  if (getenv("CC") && *getenv("CC")) dl_cc = getenv("CC");
  if (!mkdtemp(dl_tmpdir)) {
    perror("mkdtemp");
    return false;
  }
  return true;
}

/* printf into a growing text at *p with *left bytes free (truncates silently: tests size it). */
static inline void dl_append(char **p, size_t *left, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void dl_append(char **p, size_t *left, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(*p, *left, fmt, ap);
  va_end(ap);
  if (n > 0 && (size_t)n < *left) *p += n, *left -= (size_t)n;
}

/* A JSON array of count pseudo-random numbers in [-1, 1] from seed. */
static inline void dl_append_data(char **p, size_t *left, long count, unsigned seed) {
  dl_append(p, left, "[");
  for (long i = 0; i < count; i++) {
    seed = seed * 1103515245u + 12345u;
    dl_append(p, left, "%s%.4f", i ? ", " : "", ((seed >> 8) % 2001) / 1000.0 - 1.0);
  }
  dl_append(p, left, "]");
}

#endif
