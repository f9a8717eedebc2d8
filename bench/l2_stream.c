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
      /* eight named accumulators: an array of them (the first version of this probe) was kept in
       * memory by gcc -O2, a store-to-load chain per add that read 32 KiB at 103 GB/s and 256 KiB
       * at 84 (3.11 us), where the registers give 347 and 140 (1.87 us) */
      v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
      for (size_t i = 0; i + 8 <= n; i += 8) {
        a0 += buf[i], a1 += buf[i + 1], a2 += buf[i + 2], a3 += buf[i + 3];
        a4 += buf[i + 4], a5 += buf[i + 5], a6 += buf[i + 6], a7 += buf[i + 7];
      }
      total += ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
    }
    double t = (now() - t0) / passes;
    if (t < best) best = t;
  }
  printf("%ld KiB: best %.1f GB/s (%.2f us a pass)  [checksum %g]\n", kib,
         (double)n * 64 / best / 1e9, best * 1e6, (double)total[0]);
  free(buf);
  return 0;
}
