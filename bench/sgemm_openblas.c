/* Times OpenBLAS's cblas_sgemm (one thread: run with OPENBLAS_NUM_THREADS=1) on C[M][N] =
 * A[M][K] * B[K][N], row-major, for bench/blas.sh. Usage: sgemm_openblas M N K REPEAT; prints
 * the median and the minimum time of one call in microseconds. Not part of Kiln. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s M N K REPEAT\n", argv[0]);
    return 2;
  }
  int M = atoi(argv[1]), N = atoi(argv[2]), K = atoi(argv[3]), R = atoi(argv[4]);
  if (M < 1 || N < 1 || K < 1 || R < 1) return 2;
  float *a = malloc(sizeof(float) * (size_t)M * (size_t)K);
  float *b = malloc(sizeof(float) * (size_t)K * (size_t)N);
  float *c = malloc(sizeof(float) * (size_t)M * (size_t)N);
  double *t = malloc(sizeof(double) * (size_t)R);
  if (!a || !b || !c || !t) return 1;
  for (long i = 0; i < (long)M * K; i++) a[i] = (float)((i * 7 % 13) - 6) / 8.0f;
  for (long i = 0; i < (long)K * N; i++) b[i] = (float)((i * 5 % 11) - 5) / 8.0f;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
  for (int r = 0; r < R; r++) {
    double t0 = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    t[r] = now() - t0;
  }
  qsort(t, (size_t)R, sizeof *t, cmp);
  printf("median %.3f us, min %.3f us\n", t[R / 2] * 1e6, t[0] * 1e6);
  free(a);
  free(b);
  free(c);
  free(t);
  return 0;
}
