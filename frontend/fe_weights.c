/* Initializer payloads: inline JSON numbers ("data"), base64 text and external weight files
 * (mmap'd once per file and load, unmapped when the graph is freed), and f16 rounding. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe_internal.h"

struct FeMap {
  FeMap *next;
  dev_t dev;
  ino_t ino;
  const uint8_t *addr; /* NULL for an empty file */
  size_t size;
};

/* ---- f16 -------------------------------------------------------------------------------- */
uint16_t fe_f16_from_double(double x, bool *overflow) {
  *overflow = false;
  uint16_t sign = signbit(x) ? 0x8000 : 0;
  double a = fabs(x);
  if (isnan(x)) return 0x7e00;
  /* 65520 is halfway between the largest finite half (65504) and 2^16: ties go to the even
   * neighbour, which is the infinity. */
  if (a >= 65520.0) {
    *overflow = true;
    return (uint16_t)(sign | 0x7c00);
  }
  if (a < 0x1p-14) {
    /* Subnormal (or zero): units of 2^-24, exact scaling, then round half to even. A result of
     * 1024 is the smallest normal number, which is also its correct encoding. */
    return (uint16_t)(sign | (uint16_t)nearbyint(a * 0x1p24));
  }
  int e;
  double f = frexp(a, &e); /* a = f * 2^e, f in [0.5, 1) */
  int exp = e - 1;         /* a = m * 2^exp, m in [1, 2) */
  double m = f * 2.0;
  /* (m - 1) * 1024 is exact in double; nearbyint rounds half to even. */
  uint32_t mant = (uint32_t)nearbyint((m - 1.0) * 1024.0);
  if (mant == 1024) {
    mant = 0;
    exp++;
  }
  /* exp <= 15 here since a < 65520. */
  return (uint16_t)(sign | (uint16_t)((exp + 15) << 10) | (uint16_t)mant);
}

double fe_f16_to_double(uint16_t h) {
  double s = (h & 0x8000) ? -1.0 : 1.0;
  int e = (h >> 10) & 0x1f;
  int m = h & 0x3ff;
  if (e == 0) return s * ldexp(m, -24);
  if (e == 31) return m ? NAN : s * INFINITY;
  return s * ldexp(1024 + m, e - 25);
}

/* ---- helpers ---------------------------------------------------------------------------- */
static void store_le(uint8_t *p, uint64_t v, size_t size) {
  for (size_t i = 0; i < size; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void describe_need(char *buf, size_t size, const IrValue *v) {
  char shape[256];
  snprintf(buf, size, "shape %s of %s needs %lld",
           fe_fmt_shape(shape, sizeof shape, v->rank, v->dims), ir_dtype_name(v->dtype),
           (long long)ir_value_nbytes(v));
}

/* ---- data: JSON numbers ----------------------------------------------------------------- */
static bool int_range(IrDType t, int64_t *lo, int64_t *hi) {
  switch (t) {
  case IR_I8: *lo = INT8_MIN, *hi = INT8_MAX; return true;
  case IR_U8: *lo = 0, *hi = UINT8_MAX; return true;
  case IR_I16: *lo = INT16_MIN, *hi = INT16_MAX; return true;
  case IR_I32: *lo = INT32_MIN, *hi = INT32_MAX; return true;
  case IR_I64: *lo = -(int64_t)FE_MAX_EXACT_INT, *hi = (int64_t)FE_MAX_EXACT_INT; return true;
  case IR_BOOL: *lo = 0, *hi = 1; return true;
  default: return false;
  }
}

static bool payload_data(Fe *fe, IrValue *v, const char *where, const cJSON *data) {
  char path[FE_WHERE], num[64];
  fe_path(path, sizeof path, "%s.data", where);
  if (!cJSON_IsArray(data)) {
    ir_diag_error(fe->d, path, "expected an array of numbers, got %s", fe_json_type_name(data));
    return false;
  }
  int64_t numel = ir_value_numel(v);
  int64_t count = 0;
  for (const cJSON *e = data->child; e; e = e->next) count++;
  if (count != numel) {
    char shape[256];
    ir_diag_error(fe->d, path, "%lld value%s given, shape %s needs %lld", (long long)count,
                  count == 1 ? "" : "s", fe_fmt_shape(shape, sizeof shape, v->rank, v->dims),
                  (long long)numel);
    return false;
  }
  size_t esize = ir_dtype_size(v->dtype);
  uint8_t *buf = ir_arena_alloc(fe->g->arena, (size_t)numel * esize);
  int64_t lo = 0, hi = 0;
  bool is_int = int_range(v->dtype, &lo, &hi);
  int64_t i = 0;
  for (const cJSON *e = data->child; e; e = e->next, i++) {
    char epath[FE_WHERE + 32];
    fe_path(epath, sizeof epath, "%s[%lld]", path, (long long)i);
    if (v->dtype == IR_BOOL && cJSON_IsBool(e)) {
      buf[i] = cJSON_IsTrue(e) ? 1 : 0;
      continue;
    }
    if (!cJSON_IsNumber(e)) {
      ir_diag_error(fe->d, epath, "expected %s, got %s%s",
                    v->dtype == IR_BOOL ? "true, false, 0 or 1" : "a number", fe_json_type_name(e),
                    cJSON_IsArray(e) ? " (data is one flat array in row-major order)" : "");
      return false;
    }
    double x = e->valuedouble;
    if (is_int) {
      int64_t k;
      if (!fe_get_int(fe, e, epath, "value", -(int64_t)FE_MAX_EXACT_INT, (int64_t)FE_MAX_EXACT_INT,
                      &k))
        return false;
      if (k < lo || k > hi) {
        ir_diag_error(fe->d, epath, "value %lld is out of range for %s (%lld to %lld)",
                      (long long)k, ir_dtype_name(v->dtype), (long long)lo, (long long)hi);
        return false;
      }
      store_le(buf + (size_t)i * esize, (uint64_t)k, esize);
    } else if (!isfinite(x)) {
      ir_diag_error(fe->d, epath, "number out of range (overflows a double)");
      return false;
    } else if (v->dtype == IR_F32) {
      float f = (float)x;
      if (isinf(f)) {
        ir_diag_error(fe->d, epath, "%s is out of range for f32 (largest 3.40282347e+38)",
                      fe_fmt_num(num, sizeof num, x));
        return false;
      }
      uint32_t bits;
      memcpy(&bits, &f, 4);
      store_le(buf + (size_t)i * 4, bits, 4);
    } else {
      bool overflow;
      uint16_t h = fe_f16_from_double(x, &overflow);
      if (overflow) {
        ir_diag_error(fe->d, epath, "%s is out of range for f16 (largest 65504)",
                      fe_fmt_num(num, sizeof num, x));
        return false;
      }
      store_le(buf + (size_t)i * 2, h, 2);
    }
  }
  v->data = buf;
  return true;
}

/* ---- base64 ----------------------------------------------------------------------------- */
static bool payload_base64(Fe *fe, IrValue *v, const char *where, const cJSON *b64) {
  char path[FE_WHERE], msg[256], need[320];
  fe_path(path, sizeof path, "%s.base64", where);
  if (!cJSON_IsString(b64)) {
    ir_diag_error(fe->d, path, "expected a base64 string, got %s", fe_json_type_name(b64));
    return false;
  }
  size_t n = strlen(b64->valuestring), got;
  if (!fe_base64_check(b64->valuestring, n, &got, msg, sizeof msg)) {
    ir_diag_error(fe->d, path, "%s", msg);
    return false;
  }
  if ((uint64_t)got != (uint64_t)ir_value_nbytes(v)) {
    describe_need(need, sizeof need, v);
    ir_diag_error(fe->d, path, "decodes to %zu bytes, %s", got, need);
    return false;
  }
  uint8_t *buf = ir_arena_alloc(fe->g->arena, got);
  fe_base64_decode(b64->valuestring, n, buf);
  v->data = buf;
  return true;
}

/* ---- external files --------------------------------------------------------------------- */
static void unmap_file(void *ctx) {
  FeMap *m = ctx;
  if (m->addr) munmap((void *)m->addr, m->size);
}

/* The mapping of the file at `resolved` (opened at most once per load), or NULL after
 * reporting at `where`. */
static FeMap *map_file(Fe *fe, const char *where, const char *resolved) {
  int fd = open(resolved, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    ir_diag_error(fe->d, where, "cannot open weight file '%s': %s", resolved, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ir_diag_error(fe->d, where, "cannot stat weight file '%s': %s", resolved, strerror(errno));
    close(fd);
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    ir_diag_error(fe->d, where, "weight file is not a regular file%s: '%s'",
                  S_ISDIR(st.st_mode) ? " (it is a directory)" : "", resolved);
    close(fd);
    return NULL;
  }
  for (FeMap *m = fe->maps; m; m = m->next)
    if (m->dev == st.st_dev && m->ino == st.st_ino) {
      close(fd);
      return m;
    }
  FeMap *m = ir_arena_alloc(fe->g->arena, sizeof *m);
  m->dev = st.st_dev;
  m->ino = st.st_ino;
  m->size = (size_t)st.st_size;
  if (st.st_size > 0) {
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
      ir_diag_error(fe->d, where, "weight file '%s' is too large to map", resolved);
      close(fd);
      return NULL;
    }
    void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ir_diag_error(fe->d, where, "cannot map weight file '%s': %s%s", resolved, strerror(errno),
                    errno == ENOMEM ? " (kiln --max-memory raises the compile-time memory cap)"
                                    : "");
      close(fd);
      return NULL;
    }
    m->addr = p;
    ir_graph_on_free(fe->g, unmap_file, m);
  }
  close(fd);
  m->next = fe->maps;
  fe->maps = m;
  return m;
}

void fe_release_pages(const void *p, size_t n) {
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), b = ((uintptr_t)p + n) & ~(page - 1);
  if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

/* Whether the resolved path `real` lies inside folder `dir` (resolved too). */
static bool inside(const char *real, const char *dir) {
  char rd[PATH_MAX];
  if (!dir || !realpath(dir, rd)) return false;
  size_t n = strlen(rd);
  if (n == 1 && rd[0] == '/') return true; /* "--weights-dir /" allows everything */
  return strncmp(real, rd, n) == 0 && (real[n] == '/' || real[n] == 0);
}

/* Whether a relative path, read lexically, leaves its folder (absolute, or more ".." than
 * names before them): refused as such even when the file does not exist. */
static bool leaves_folder(const char *rel) {
  if (rel[0] == '/') return true;
  int depth = 0;
  for (const char *p = rel; *p;) {
    size_t n = strcspn(p, "/");
    if (n == 2 && p[0] == '.' && p[1] == '.') {
      if (--depth < 0) return true;
    } else if (n > 0 && !(n == 1 && p[0] == '.')) {
      depth++;
    }
    p += n;
    while (*p == '/') p++;
  }
  return false;
}

/* External weights come only from the model's folder or a folder the user named: a model that
 * names '/etc/shadow' or '../../.ssh/id_rsa' must not carry that file into the artifact. */
static bool confined(const Fe *fe, const char *real) {
  if (inside(real, fe->base_dir && fe->base_dir[0] ? fe->base_dir : ".")) return true;
  for (int i = 0; i < fe->opt.n_weights_dirs; i++)
    if (inside(real, fe->opt.weights_dirs[i])) return true;
  return false;
}

static bool payload_external(Fe *fe, IrValue *v, const char *where, const cJSON *ext) {
  char path[FE_WHERE], fpath[FE_WHERE + 16], need[320], shown[96];
  fe_path(path, sizeof path, "%s.external", where);
  if (!cJSON_IsObject(ext)) {
    ir_diag_error(fe->d, path, "expected an object {\"path\", \"offset\", \"length\"}, got %s",
                  fe_json_type_name(ext));
    return false;
  }
  const cJSON *jpath = NULL, *joff = NULL, *jlen = NULL;
  bool ok = true;
  for (const cJSON *f = ext->child; f; f = f->next) {
    const cJSON **slot = NULL;
    if (strcmp(f->string, "path") == 0)
      slot = &jpath;
    else if (strcmp(f->string, "offset") == 0)
      slot = &joff;
    else if (strcmp(f->string, "length") == 0)
      slot = &jlen;
    fe_path(fpath, sizeof fpath, "%s.%s", path, fe_disp(shown, sizeof shown, f->string));
    if (!slot) {
      ir_diag_error(fe->d, fpath, "unknown field (known: length, offset, path)");
      ok = false;
    } else if (*slot) {
      ir_diag_error(fe->d, fpath, "duplicate key");
      ok = false;
    } else {
      *slot = f;
    }
  }
  /* path */
  fe_path(fpath, sizeof fpath, "%s.path", path);
  const char *rel = NULL;
  if (!jpath) {
    ir_diag_error(fe->d, path, "missing required field 'path'");
    ok = false;
  } else if (!cJSON_IsString(jpath) || !jpath->valuestring[0]) {
    ir_diag_error(fe->d, fpath, "expected a non-empty file path, got %s",
                  cJSON_IsString(jpath) ? "an empty string" : fe_json_type_name(jpath));
    ok = false;
  } else {
    rel = jpath->valuestring;
  }
  /* offset, length */
  int64_t off = 0, len = 0;
  fe_path(fpath, sizeof fpath, "%s.offset", path);
  if (joff && !fe_get_int(fe, joff, fpath, "offset", 0, INT64_MAX, &off)) ok = false;
  fe_path(fpath, sizeof fpath, "%s.length", path);
  if (!jlen) {
    ir_diag_error(fe->d, path, "missing required field 'length' (byte count of the tensor)");
    ok = false;
  } else if (!fe_get_int(fe, jlen, fpath, "length", 0, INT64_MAX, &len)) {
    ok = false;
    jlen = NULL;
  } else if (len != ir_value_nbytes(v)) {
    describe_need(need, sizeof need, v);
    ir_diag_error(fe->d, fpath, "weights are %lld bytes, %s", (long long)len, need);
    ok = false;
  }
  if (!rel) return false;
  fe_path(fpath, sizeof fpath, "%s.path", path);
  const uint8_t *p;
  if (!fe_external_bytes(fe, fpath, path, rel, off, (ok && jlen) ? len : -1, &p)) return false;
  v->data = p;
  return true;
}

bool fe_external_bytes(Fe *fe, const char *where, const char *range_where, const char *rel,
                       int64_t off, int64_t len, const uint8_t **out) {
  char shown[96];
  /* Resolve relative to the model file's directory, follow symlinks, and confine. */
  char resolved[PATH_MAX], real[PATH_MAX];
  int rn;
  if (rel[0] == '/' || !fe->base_dir || !fe->base_dir[0])
    rn = snprintf(resolved, sizeof resolved, "%s", rel);
  else
    rn = snprintf(resolved, sizeof resolved, "%s/%s", fe->base_dir, rel);
  if (rn < 0 || (size_t)rn >= sizeof resolved) {
    ir_diag_error(fe->d, where, "path is too long");
    return false;
  }
  if (!realpath(resolved, real)) {
    if (leaves_folder(rel))
      ir_diag_error(fe->d, where,
                    "'%s' is outside the model's folder (external weights must stay in the "
                    "model's folder; --weights-dir DIR allows another)",
                    fe_disp(shown, sizeof shown, rel));
    else
      ir_diag_error(fe->d, where, "cannot open weight file '%s': %s", resolved, strerror(errno));
    return false;
  }
  if (!confined(fe, real)) {
    char home[PATH_MAX];
    const char *dir = fe->base_dir && fe->base_dir[0] ? fe->base_dir : ".";
    ir_diag_error(fe->d, where,
                  "'%s' is outside the model's folder: it resolves to '%s', not inside '%s'%s "
                  "(external weights must stay in the model's folder; --weights-dir DIR allows "
                  "another)",
                  fe_disp(shown, sizeof shown, rel), real, realpath(dir, home) ? home : dir,
                  fe->opt.n_weights_dirs ? " or a --weights-dir folder" : "");
    return false;
  }
  FeMap *m = map_file(fe, where, real);
  if (!m) return false;
  if (len < 0) return false;
  if (off > INT64_MAX - len) {
    ir_diag_error(fe->d, range_where, "offset + length overflows");
    return false;
  }
  if ((uint64_t)(off + len) > (uint64_t)m->size) {
    ir_diag_error(fe->d, range_where, "range [%lld, %lld) is outside '%s' (%zu bytes)",
                  (long long)off, (long long)(off + len), fe_disp(shown, sizeof shown, rel),
                  m->size);
    return false;
  }
  const uint8_t *p = m->addr + off;
  if (((uintptr_t)p & 15u) != 0) {
    /* IrValue.data must be 16-byte aligned: copy this tensor into the arena (64-aligned), and
     * drop the file's pages (one copy in memory, not two). */
    uint8_t *copy = ir_arena_alloc(fe->g->arena, (size_t)len + 1);
    memcpy(copy, p, (size_t)len);
    fe_release_pages(p, (size_t)len);
    p = copy;
  }
  *out = p;
  return true;
}

bool fe_initializer_payload(Fe *fe, IrValue *v, const char *where, const cJSON *data,
                            const cJSON *b64, const cJSON *external) {
  int given = (data != NULL) + (b64 != NULL) + (external != NULL);
  if (given != 1) {
    ir_diag_error(fe->d, where,
                  "%s: an initializer needs exactly one of 'data', 'base64', "
                  "'external'",
                  given ? "more than one payload given" : "no payload given");
    return false;
  }
  if (data) return payload_data(fe, v, where, data);
  if (b64) return payload_base64(fe, v, where, b64);
  return payload_external(fe, v, where, external);
}
