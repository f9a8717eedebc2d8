/* Read bandwidth of one core from a buffer of a given size (default 256 KiB: an LSTM's packed
 * recurrent weights at hidden 128, read once per time step), for the lower bound of a
 * memory-bound kernel. Sums the buffer with 8 independent vector accumulators, best of many
 * repeats. Build: gcc -O2 -march=native bench/l2_stream.c; usage: l2_stream [KiB]. Not part of
 * Kiln. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef float v16 __attribute__((vector_size(64)));

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  long kib = argc > 1 ? atol(argv[1]) : 256;
  if (kib < 1 || kib > 1 << 20) return 2;
  size_t n = (size_t)kib * 1024 / sizeof(v16);
  v16 *buf = aligned_alloc(64, n * sizeof(v16));
  if (!buf) return 1;
  for (size_t i = 0; i < n; i++)
    for (int l = 0; l < 16; l++) buf[i][l] = (float)(i % 7) * 0.25f;
  double best = 1e30;
  v16 total = {0};
  int passes = (int)(64L * 1024 * 1024 / ((long)n * 64)) + 1;
  for (int r = 0; r < 200; r++) {
    double t0 = now();
    for (int p = 0; p < passes; p++) {
      v16 a[8] = {{0}};
      for (size_t i = 0; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) a[k] += buf[i + k];
      for (int k = 0; k < 8; k++) total += a[k];
    }
    double t = (now() - t0) / passes;
    if (t < best) best = t;
  }
  printf("%ld KiB: best %.1f GB/s (%.2f us a pass)  [checksum %g]\n", kib,
         (double)n * 64 / best / 1e9, best * 1e6, (double)total[0]);
  free(buf);
  return 0;
}
