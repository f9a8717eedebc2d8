/* fma_peak: one core's fp32 fused multiply-add peak in GFLOP/s, the yardstick of bench/bench_ort.sh
 * (percent of peak reached by a layer). Compile for the host and run pinned to nothing:
 *     gcc -std=c11 -O2 -march=native bench/fma_peak.c -o fma_peak && ./fma_peak [REPEATS]
 * Each vector width the host has (512-bit with AVX-512F, 256-bit with AVX2+FMA, else the compiler's
 * generic 128-bit vectors) runs a loop of independent FMAs on ACC register accumulators (enough to
 * cover FMA latency x FMA ports on current x86 cores: 4-5 cycles x 2 ports), touching no memory.
 * One FMA = 2 flops per lane. REPEATS timed repeats (default 100) of ITERS iterations each; reports
 * the best (the peak: interference from other processes only slows a repeat down), the median and
 * the worst, so the spread shows how noisy the machine was. The last line is the machine-readable
 * peak of the widest vector width:  peak_gflops <best>  */
#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ACC 16           /* independent accumulators (chains) per width: a0..a15 below */
#define ITERS 2000000L   /* loop iterations per timed repeat (ACC FMAs each): ~10 ms, short so
                            that some repeats run without interference on a shared machine */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static volatile float sink; /* keeps the accumulators alive */

/* One kernel per width: ACC chains acc = acc * m + c, m just below 1 so nothing overflows or
 * goes subnormal. The multiplier and addend come from volatiles so nothing folds. */
#define KERNEL(NAME, VT, SET1, FMA, ADD, STORE, LANES)                                             \
  static double NAME(long iters) {                                                                \
    volatile float vm = 0.9999999f, vc = 1e-7f;                                                   \
    VT m = SET1(vm), c = SET1(vc);                                                                \
    VT a0 = SET1(0.f), a1 = SET1(1.f), a2 = SET1(2.f), a3 = SET1(3.f), a4 = SET1(4.f);            \
    VT a5 = SET1(5.f), a6 = SET1(6.f), a7 = SET1(7.f), a8 = SET1(8.f), a9 = SET1(9.f);            \
    VT a10 = SET1(10.f), a11 = SET1(11.f), a12 = SET1(12.f), a13 = SET1(13.f);                    \
    VT a14 = SET1(14.f), a15 = SET1(15.f);                                                        \
    double t0 = now();                                                                            \
    for (long i = 0; i < iters; i++) { /* 16 independent chains, written out: registers */       \
      a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c);             \
      a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c);             \
      a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c);         \
      a12 = FMA(a12, m, c); a13 = FMA(a13, m, c); a14 = FMA(a14, m, c); a15 = FMA(a15, m, c);     \
    }                                                                                             \
    double t = now() - t0;                                                                        \
    VT acc[ACC] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15};         \
    for (int k = 1; k < ACC; k++) acc[0] = ADD(acc[0], acc[k]);                                   \
    float out[LANES];                                                                             \
    STORE(out, acc[0]);                                                                           \
    sink = out[0];                                                                                \
    return 2.0 * LANES * ACC * (double)iters / t * 1e-9;                                          \
  }

#if defined(__AVX512F__)
KERNEL(peak512, __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps, 16)
#endif
#if defined(__AVX2__) && defined(__FMA__)
KERNEL(peak256, __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps, 8)
#endif
#if !defined(__FMA__)
/* no x86 FMA: GCC vector extensions (contracted to the target's FMA when it has one) */
typedef float v4f __attribute__((vector_size(16)));
static v4f set1_v4(float x) { return (v4f){x, x, x, x}; }
static v4f fma_v4(v4f a, v4f b, v4f c) { return a * b + c; }
static v4f add_v4(v4f a, v4f b) { return a + b; }
static void store_v4(float *p, v4f v) { for (int i = 0; i < 4; i++) p[i] = v[i]; }
KERNEL(peak128, v4f, set1_v4, fma_v4, add_v4, store_v4, 4)
#endif

static double report(const char *name, double (*kernel)(long), int repeats) {
  double *g = malloc(sizeof *g * (size_t)repeats);
  if (!g) exit(1);
  kernel(ITERS / 10); /* warm-up: wakes the vector units and the clock up */
  for (int r = 0; r < repeats; r++) g[r] = kernel(ITERS);
  qsort(g, (size_t)repeats, sizeof *g, cmp_double);
  double best = g[repeats - 1];
  printf("%-8s best %8.2f GFLOP/s   median %8.2f   worst %8.2f   (spread best/worst %.2fx, %d "
         "repeats, %d accumulators)\n",
         name, best, g[repeats / 2], g[0], best / g[0], repeats, ACC);
  free(g);
  return best;
}

int main(int argc, char **argv) {
  int repeats = argc > 1 ? atoi(argv[1]) : 100;
  if (repeats < 1) repeats = 1;
  double peak = 0;
#if defined(__AVX2__) && defined(__FMA__)
  peak = report("avx2", peak256, repeats);
#endif
#if defined(__AVX512F__)
  peak = report("avx512", peak512, repeats);
#endif
#if !defined(__FMA__)
  peak = report("vec128", peak128, repeats);
#endif
  printf("peak_gflops %.2f\n", peak);
  return 0;
}
