/* .npy reader/writer. The header is a Python dict literal; we accept exactly what numpy.save
 * writes: {'descr': '<f4', 'fortran_order': False, 'shape': (1, 784), } padded with spaces. */
#include "krt_npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "krt.h"

static const struct {
  const char *descr, *alt, *name;
  size_t size;
} npy_types[] = {
    [KRT_F32] = {"<f4", NULL, "f32", 4}, [KRT_F16] = {"<f2", NULL, "f16", 2},
    [KRT_I8] = {"|i1", "<i1", "i8", 1},  [KRT_U8] = {"|u1", "<u1", "u8", 1},
    [KRT_I16] = {"<i2", NULL, "i16", 2}, [KRT_I32] = {"<i4", NULL, "i32", 4},
    [KRT_I64] = {"<i8", NULL, "i64", 8}, [KRT_BOOL] = {"|b1", "<b1", "bool", 1},
};
#define N_TYPES ((int)(sizeof npy_types / sizeof *npy_types))

size_t krt_dtype_size(int32_t dtype) {
  return dtype >= 0 && dtype < N_TYPES ? npy_types[dtype].size : 0;
}

const char *krt_dtype_name(int32_t dtype) {
  return dtype >= 0 && dtype < N_TYPES ? npy_types[dtype].name : "?";
}

static bool fail(char *err, size_t errsize, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errsize, fmt, ap);
  va_end(ap);
  return false;
}

/* Finds 'key': in the header dict and returns a pointer just after the colon. */
static const char *dict_value(const char *hdr, const char *key) {
  char pat[32];
  snprintf(pat, sizeof pat, "'%s':", key);
  const char *p = strstr(hdr, pat);
  if (!p) return NULL;
  p += strlen(pat);
  while (*p == ' ') p++;
  return p;
}

bool krt_npy_parse(const void *buf, size_t len, krt_npy *out, char *err, size_t errsize) {
  const unsigned char *b = buf;
  memset(out, 0, sizeof *out);
  if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
    return fail(err, errsize, "not a .npy file (bad magic)");
  int major = b[6];
  size_t hlen, hstart;
  if (major == 1) {
    hlen = (size_t)b[8] | (size_t)b[9] << 8;
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12) return fail(err, errsize, "truncated .npy header");
    hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    hstart = 12;
  } else {
    return fail(err, errsize, "unsupported .npy format version %d", major);
  }
  if (hlen > len - hstart || hlen > (1u << 20)) return fail(err, errsize, "truncated .npy header");
  char *hdr = malloc(hlen + 1);
  if (!hdr) return fail(err, errsize, "out of memory");
  memcpy(hdr, b + hstart, hlen);
  hdr[hlen] = 0;
  bool ok = false;
  const char *p = dict_value(hdr, "descr");
  int dtype = -1;
  if (!p || *p != '\'') {
    fail(err, errsize, "header has no 'descr'");
    goto done;
  }
  for (int t = 0; t < N_TYPES; t++) {
    size_t n = strlen(npy_types[t].descr);
    if ((strncmp(p + 1, npy_types[t].descr, n) == 0 ||
         (npy_types[t].alt && strncmp(p + 1, npy_types[t].alt, n) == 0)) &&
        p[1 + n] == '\'')
      dtype = t;
  }
  if (dtype < 0) {
    const char *q = strchr(p + 1, '\'');
    fail(err, errsize,
         "unsupported dtype %.*s (supported: f32 f16 i8 u8 i16 i32 i64 bool, little-endian)",
         q ? (int)(q - p + 1) : 8, p);
    goto done;
  }
  p = dict_value(hdr, "fortran_order");
  if (!p || strncmp(p, "False", 5) != 0) {
    fail(err, errsize, "only C-order arrays are supported (fortran_order must be False)");
    goto done;
  }
  p = dict_value(hdr, "shape");
  if (!p || *p != '(') {
    fail(err, errsize, "header has no 'shape'");
    goto done;
  }
  p++;
  int64_t numel = 1;
  int rank = 0;
  for (;;) {
    while (*p == ' ' || *p == ',') p++;
    if (*p == ')') break;
    if (*p < '0' || *p > '9') {
      fail(err, errsize, "malformed shape in header");
      goto done;
    }
    if (rank == KRT_NPY_MAX_RANK) {
      fail(err, errsize, "rank above %d", KRT_NPY_MAX_RANK);
      goto done;
    }
    errno = 0;
    char *end;
    long long d = strtoll(p, &end, 10);
    if (errno || d < 0 || (d && numel > INT64_MAX / 8 / d)) {
      fail(err, errsize, "shape too large");
      goto done;
    }
    out->dims[rank++] = d;
    numel *= d;
    p = end;
  }
  size_t nbytes = (size_t)numel * npy_types[dtype].size;
  size_t have = len - hstart - hlen;
  if (have != nbytes) {
    fail(err, errsize, "data is %zu bytes, shape and dtype need %zu", have, nbytes);
    goto done;
  }
  out->data = aligned_alloc(64, (nbytes + 63) / 64 * 64 + 64);
  if (!out->data) {
    fail(err, errsize, "out of memory");
    goto done;
  }
  memcpy(out->data, b + hstart + hlen, nbytes);
  out->dtype = dtype;
  out->rank = rank;
  out->numel = numel;
  out->nbytes = nbytes;
  ok = true;
done:
  free(hdr);
  return ok;
}

bool krt_npy_read(const char *path, krt_npy *out, char *err, size_t errsize) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) return fail(err, errsize, "%s: %s", path, strerror(errno));
  bool ok = false;
  unsigned char *buf = NULL;
  long size;
  if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fail(err, errsize, "%s: cannot determine size", path);
    goto done;
  }
  buf = malloc((size_t)size + 1);
  if (!buf) {
    fail(err, errsize, "%s: out of memory", path);
    goto done;
  }
  if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
    fail(err, errsize, "%s: read error", path);
    goto done;
  }
  char msg[256];
  if (!krt_npy_parse(buf, (size_t)size, out, msg, sizeof msg)) {
    fail(err, errsize, "%s: %s", path, msg);
    goto done;
  }
  ok = true;
done:
  free(buf);
  fclose(f);
  return ok;
}

bool krt_npy_write(const char *path, int32_t dtype, int32_t rank, const int64_t *dims,
                   const void *data, char *err, size_t errsize) {
  if (dtype < 0 || dtype >= N_TYPES || rank < 0 || rank > KRT_NPY_MAX_RANK)
    return fail(err, errsize, "%s: cannot write dtype %d rank %d", path, dtype, rank);
  char hdr[512];
  int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                   npy_types[dtype].descr);
  int64_t numel = 1;
  for (int i = 0; i < rank; i++) {
    n += snprintf(hdr + n, sizeof hdr - (size_t)n, "%lld,%s", (long long)dims[i],
                  i + 1 < rank ? " " : "");
    numel *= dims[i];
  }
  if (rank > 1) n--; /* numpy writes (1,) for rank 1 but (2, 3) for rank 2 */
  n += snprintf(hdr + n, sizeof hdr - (size_t)n, "), }");
  /* Pad with spaces so that magic + length + header + '\n' is a multiple of 64. */
  int total = ((10 + n + 1 + 63) / 64) * 64;
  while (10 + n + 1 < total) hdr[n++] = ' ';
  hdr[n++] = '\n';
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) return fail(err, errsize, "%s: %s", path, strerror(errno));
  unsigned char pre[10] = {
      0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 0xff), (unsigned char)(n >> 8)};
  size_t nbytes = (size_t)numel * npy_types[dtype].size;
  bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, (size_t)n, f) == (size_t)n &&
            fwrite(data, 1, nbytes, f) == nbytes;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    return fail(err, errsize, "%s: write failed: %s", path, strerror(errno));
  }
  return true;
}

void krt_npy_free(krt_npy *a) {
  free(a->data);
  a->data = NULL;
}

static int format_shape(char *buf, size_t size, int32_t dtype, int32_t rank, const int64_t *dims) {
  int n = snprintf(buf, size, "%s[", krt_dtype_name(dtype));
  for (int k = 0; k < rank && n < (int)size; k++)
    n += snprintf(buf + n, size - (size_t)n, "%s%lld", k ? "," : "", (long long)dims[k]);
  if (n < (int)size) n += snprintf(buf + n, size - (size_t)n, "]");
  return n;
}

bool krt_npy_check(const krt_npy *a, int32_t dtype, int32_t rank, const int64_t *dims, char *err,
                   size_t errsize) {
  bool same = a->dtype == dtype && a->rank == rank;
  for (int k = 0; same && k < rank; k++) same = a->dims[k] == dims[k];
  if (same) return true;
  char want[200], have[200];
  format_shape(want, sizeof want, dtype, rank, dims);
  format_shape(have, sizeof have, a->dtype, a->rank, a->dims);
  return fail(err, errsize, "expected %s, the file holds %s", want, have);
}

bool krt_npy_check_dyn(const krt_npy *a, int32_t dtype, int32_t rank, const int64_t *dims,
                       int32_t dyn_axis, const char *dim_name, int64_t *len, char *err,
                       size_t errsize) {
  if (dyn_axis < 0 || dyn_axis >= rank || a->rank != rank || rank > KRT_NPY_MAX_RANK)
    return krt_npy_check(a, dtype, rank, dims, err, errsize);
  int64_t at[KRT_NPY_MAX_RANK], n = a->dims[dyn_axis];
  memcpy(at, dims, sizeof *at * (size_t)rank);
  if (n < 1 || n > dims[dyn_axis])
    return fail(err, errsize, "the run-time length '%s' (axis %d) is %lld, outside [1, %lld]",
                dim_name, (int)dyn_axis, (long long)n, (long long)dims[dyn_axis]);
  if (*len && n != *len)
    return fail(err, errsize,
                "the run-time length '%s' (axis %d) is %lld, but %lld in an earlier input of "
                "the call",
                dim_name, (int)dyn_axis, (long long)n, (long long)*len);
  at[dyn_axis] = n;
  if (!krt_npy_check(a, dtype, rank, at, err, errsize)) return false;
  *len = n;
  return true;
}

bool krt_npy_check_dims(const krt_npy *a, int32_t dtype, int32_t rank, const int64_t *dims,
                        int32_t dyn_axis, const char *dim_name, int64_t *len, bool batched,
                        const char *batch_name, int64_t batch_max, int64_t *batch, char *err,
                        size_t errsize) {
  if (!batched || rank < 1 || a->rank != rank || rank > KRT_NPY_MAX_RANK || dims[0] < 1)
    return krt_npy_check_dyn(a, dtype, rank, dims, dyn_axis, dim_name, len, err, errsize);
  int64_t at[KRT_NPY_MAX_RANK], n = a->dims[0] / dims[0];
  memcpy(at, dims, sizeof *at * (size_t)rank);
  if (n < 1 || n > batch_max || a->dims[0] % dims[0])
    return fail(err, errsize, "the batch '%s' (axis 0) is %lld, outside [1, %lld]", batch_name,
                (long long)n, (long long)batch_max);
  if (*batch && n != *batch)
    return fail(err, errsize,
                "the batch '%s' (axis 0) is %lld, but %lld in an earlier input of the call",
                batch_name, (long long)n, (long long)*batch);
  at[0] = a->dims[0];
  if (!krt_npy_check_dyn(a, dtype, rank, at, dyn_axis, dim_name, len, err, errsize)) return false;
  *batch = n;
  return true;
}

/* element i of an integer tensor (ids, indices, int8 outputs), exactly */
static long long summary_int(int32_t dtype, const void *data, int64_t i) {
  switch (dtype) {
  case KRT_I8: return ((const int8_t *)data)[i];
  case KRT_I32: return ((const int32_t *)data)[i];
  default: return (long long)((const int64_t *)data)[i];
  }
}

void krt_print_summary(void *file, const char *name, int32_t dtype, int32_t rank,
                       const int64_t *dims, const void *data) {
  FILE *f = file;
  char shape[200];
  format_shape(shape, sizeof shape, dtype, rank, dims);
  fprintf(f, "%s: %s", name, shape);
  int64_t n = 1;
  for (int k = 0; k < rank; k++) n *= dims[k];
  /* f32 scores, int8 scores (--quant-io=int8), i64/i32 token ids, indices or a span */
  if (dtype == KRT_F32 || dtype == KRT_I8 || dtype == KRT_I64 || dtype == KRT_I32) {
    const float *fv = dtype == KRT_F32 ? data : NULL;
    fprintf(f, " =");
    for (int64_t i = 0; i < n && i < 10; i++) {
      if (fv)
        fprintf(f, " %.6g", fv[i]);
      else
        fprintf(f, " %lld", summary_int(dtype, data, i));
    }
    if (n > 10) fprintf(f, " ... (%lld values)", (long long)n);
    if (n > 1 && (fv || dtype == KRT_I8)) { /* scores: the best class; ids have none */
      int64_t best = 0;
      for (int64_t i = 1; i < n; i++)
        if (fv ? fv[i] > fv[best] : summary_int(dtype, data, i) > summary_int(dtype, data, best))
          best = i;
      fprintf(f, "  argmax %lld", (long long)best);
    }
  }
  fprintf(f, "\n");
}

static void sanitize_stem(const char *name, char *buf, size_t size) {
  size_t o = 0;
  if (name[0] == '.' || !name[0]) buf[o++] = '_';
  for (const char *p = name; *p && o + 12 < size; p++) {
    char c = *p;
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-' || c == '_';
    buf[o++] = keep ? c : '_';
  }
  buf[o] = 0;
}

void krt_npy_file_stem(const char *const *names, int n, int k, char *buf, size_t size) {
  sanitize_stem(names[k], buf, size);
  char *other = malloc(size);
  if (!other) abort();
  for (int j = 0; j < k && j < n; j++) {
    sanitize_stem(names[j], other, size);
    if (!strcmp(other, buf)) {
      size_t len = strlen(buf);
      snprintf(buf + len, size - len, "_%d", k);
      break;
    }
  }
  free(other);
}

bool krt_make_dirs(const char *dir, char *err, size_t errsize) {
  size_t n = strlen(dir);
  char *p = malloc(n + 1);
  if (!p) abort();
  memcpy(p, dir, n + 1);
  bool ok = true;
  for (size_t i = 1; i <= n && ok; i++) {
    if (p[i] != '/' && p[i] != 0) continue;
    char c = p[i];
    p[i] = 0;
    struct stat st;
    if (mkdir(p, 0777) != 0 && errno != EEXIST) ok = false;
    if (ok && (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))) ok = false, errno = ENOTDIR;
    if (!ok) snprintf(err, errsize, "cannot create folder '%s': %s", p, strerror(errno));
    p[i] = c;
  }
  free(p);
  return ok;
}
