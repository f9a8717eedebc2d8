/* What a long compile is doing: with -v, the time of each stage on stderr when it ends; on a
 * terminal, a progress line (stage, node count, elapsed) once the compile has taken a second,
 * redrawn at most 5 times a second and erased at the end. */
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "kiln_cli.h"

static struct {
  bool verbose, tty, shown;
  double t0, stage_t0, last_draw;
  const char *stage;
  int nodes;
} kp;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void erase(void) {
  if (kp.shown) fputs("\r\033[K", stderr);
  kp.shown = false;
}

static void draw(int done, int total) {
  double t = now();
  if (!kp.tty || t - kp.t0 < 1.0 || t - kp.last_draw < 0.2) return;
  kp.last_draw = t;
  if (total > 0 && done > 0)
    fprintf(stderr, "\r\033[Kkiln: %s: node %d/%d, %.1f s", kp.stage, done, total, t - kp.t0);
  else if (kp.nodes > 0)
    fprintf(stderr, "\r\033[Kkiln: %s (%d nodes), %.1f s", kp.stage, kp.nodes, t - kp.t0);
  else
    fprintf(stderr, "\r\033[Kkiln: %s, %.1f s", kp.stage, t - kp.t0);
  kp.shown = true;
}

void kiln_progress_init(bool verbose) {
  kp.verbose = verbose;
  kp.tty = isatty(2);
  kp.t0 = kp.last_draw = now();
  kp.stage = NULL;
}

static void stage_end(void) {
  if (!kp.stage) return;
  if (kp.verbose) {
    erase();
    fprintf(stderr, "kiln: %-9s %8.3f s", kp.stage, now() - kp.stage_t0);
    if (kp.nodes > 0) fprintf(stderr, " (%d nodes)", kp.nodes);
    fputc('\n', stderr);
  }
  kp.stage = NULL;
}

void kiln_progress_stage(const char *stage, int nodes) {
  stage_end();
  kp.stage = stage;
  kp.nodes = nodes;
  kp.stage_t0 = now();
  draw(0, 0);
}

void kiln_progress_node(int done, int total) {
  if (kp.stage) draw(done, total);
}

void kiln_progress_end(void) {
  stage_end();
  erase();
  if (kp.verbose && kp.t0 > 0) fprintf(stderr, "kiln: total     %8.3f s\n", now() - kp.t0);
  kp.t0 = 0;
}

void kiln_progress_codegen(const char *stage, int done, int total) {
  if (done == 0)
    kiln_progress_stage(stage, total);
  else
    kiln_progress_node(done, total);
}
