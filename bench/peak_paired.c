/* peak_paired: a model's GFLOP/s against the FMA peak available at the same moment, for a shared
 * machine whose speed changes by phases (bench/README.md). Each model call is followed by an FMA
 * probe of the same flops (registers only, as bench/fma_peak.c); the paired ratio of the two
 * rates is taken per call, so a phase where the core runs slower for everybody slows both.
 * Built by bench/peak_paired.sh: linked with the model compiled as `net` (kiln compile --name net)
 * and libkiln_npy.a, for the host (-march=native).
 *     peak_paired MACS N in0.npy [in1.npy ...]
 * Prints percentiles of the model's GFLOP/s, the probe's and the paired ratio (% of the probe). */
#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "krt.h"
#include "krt_npy.h"

extern const krt_model net_model;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

#if defined(__AVX512F__)
typedef __m512 vt;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 vt;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#else
#error "peak_paired needs x86 FMA (AVX2+FMA or AVX-512)"
#endif
static volatile float sink;

/* iters x 16 independent FMAs (16 accumulators, written out so that they stay in registers:
 * latency x ports); returns seconds */
static double probe(long iters) {
  volatile float vm = 0.9999999f, vc = 1e-7f;
  vt m = SET1(vm), c = SET1(vc);
  vt a0 = SET1(0.f), a1 = SET1(1.f), a2 = SET1(2.f), a3 = SET1(3.f), a4 = SET1(4.f);
  vt a5 = SET1(5.f), a6 = SET1(6.f), a7 = SET1(7.f), a8 = SET1(8.f), a9 = SET1(9.f);
  vt a10 = SET1(10.f), a11 = SET1(11.f), a12 = SET1(12.f), a13 = SET1(13.f);
  vt a14 = SET1(14.f), a15 = SET1(15.f);
  double t0 = now();
  for (long i = 0; i < iters; i++) {
    a0 = FMA(a0, m, c), a1 = FMA(a1, m, c), a2 = FMA(a2, m, c), a3 = FMA(a3, m, c);
    a4 = FMA(a4, m, c), a5 = FMA(a5, m, c), a6 = FMA(a6, m, c), a7 = FMA(a7, m, c);
    a8 = FMA(a8, m, c), a9 = FMA(a9, m, c), a10 = FMA(a10, m, c), a11 = FMA(a11, m, c);
    a12 = FMA(a12, m, c), a13 = FMA(a13, m, c), a14 = FMA(a14, m, c), a15 = FMA(a15, m, c);
  }
  double t = now() - t0;
  vt s = FMA(FMA(FMA(a0, a1, a2), FMA(a3, a4, a5), FMA(a6, a7, a8)),
             FMA(FMA(a9, a10, a11), FMA(a12, a13, a14), a15), c);
  sink = s[0];
  return t;
}

static void print_pcts(const char *what, double *v, long n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  printf("%-18s min %7.1f  p10 %7.1f  median %7.1f  p90 %7.1f  max %7.1f\n", what, v[0], v[n / 10],
         v[n / 2], v[n * 9 / 10], v[n - 1]);
}

int main(int argc, char **argv) {
  const krt_model *m = &net_model;
  if (argc < 3 || (uint32_t)(argc - 3) != m->n_inputs || !m->run) {
    fprintf(stderr, "usage: %s MACS N in.npy... (%u inputs; stateless models of fixed shape)\n",
            argv[0], m->n_inputs);
    return 2;
  }
  double flop = 2.0 * atof(argv[1]);
  long n = atol(argv[2]);
  if (flop <= 0 || n < 10) return 2;
  const void *in[16];
  void *out[16];
  krt_npy npy[16];
  char err[256];
  if (m->n_inputs > 16 || m->n_outputs > 16) return 2;
  for (uint32_t i = 0; i < m->n_inputs; i++) {
    if (!krt_npy_read(argv[3 + i], &npy[i], err, sizeof err)) {
      fprintf(stderr, "%s: %s\n", argv[0], err);
      return 1;
    }
    in[i] = npy[i].data;
  }
  for (uint32_t j = 0; j < m->n_outputs; j++) {
    size_t bytes = 8;
    for (int32_t d = 0; d < m->outputs[j].rank; d++) bytes *= (size_t)m->outputs[j].dims[d];
    out[j] = aligned_alloc(64, (bytes + 63) / 64 * 64);
  }
  size_t align = m->workspace_align > 64 ? m->workspace_align : 64;
  void *ws = aligned_alloc(align, (m->workspace_size + align) / align * align);
  long iters = (long)(flop / (2.0 * 16 * LANES));
  if (iters < 1) iters = 1;
  double *gm = malloc(sizeof *gm * (size_t)n), *gp = malloc(sizeof *gp * (size_t)n),
         *pct = malloc(sizeof *pct * (size_t)n);
  for (int w = 0; w < 10; w++)
    if (m->run(in, out, ws) != KRT_OK) {
      fprintf(stderr, "%s: the model returned an error\n", argv[0]);
      return 1;
    }
  for (long r = 0; r < n; r++) {
    double t0 = now();
    m->run(in, out, ws);
    gm[r] = flop / (now() - t0) * 1e-9;
    gp[r] = 2.0 * 16 * LANES * (double)iters / probe(iters) * 1e-9;
    pct[r] = 100.0 * gm[r] / gp[r];
  }
  print_pcts("model GFLOP/s", gm, n);
  print_pcts("probe GFLOP/s", gp, n);
  print_pcts("paired % of probe", pct, n);
  return 0;
}
