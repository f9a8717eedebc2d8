/* Kiln model JSON (docs/model-format.md) -> IR. Reads the file, checks the text (size, NUL
 * bytes, UTF-8, nesting) before cJSON parses it, walks the document reporting every user error
 * with its JSON path, builds the graph, then sorts it, infers shapes, compares declared outputs
 * and runs the verifier. Nothing is printed here: messages go to the IrDiag. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe.h"
#include "fe_internal.h"

#define MAX_UNDEFINED 32     /* "not defined" errors reported for node inputs */
#define MAX_UNKNOWN_FIELDS 8 /* unknown-key (or bad-entry) errors reported per object (array) */

/* ---- small helpers ---------------------------------------------------------------------- */
void fe_path(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, size, fmt, ap);
  va_end(ap);
}

const char *fe_json_type_name(const cJSON *item) {
  if (!item) return "nothing";
  if (cJSON_IsFalse(item)) return "false";
  if (cJSON_IsTrue(item)) return "true";
  if (cJSON_IsNull(item)) return "null";
  if (cJSON_IsNumber(item)) return "a number";
  if (cJSON_IsString(item)) return "a string";
  if (cJSON_IsArray(item)) return "an array";
  if (cJSON_IsObject(item)) return "an object";
  return "an invalid value";
}

const char *fe_disp(char *buf, size_t size, const char *s) {
  size_t max = size > 68 ? 64 : (size > 4 ? size - 4 : 0);
  size_t n = strlen(s), take = n;
  if (n > max) {
    take = max;
    while (take > 0 && ((unsigned char)s[take] & 0xc0) == 0x80) take--; /* UTF-8 boundary */
  }
  size_t o = 0;
  for (size_t i = 0; i < take; i++) {
    unsigned char c = (unsigned char)s[i];
    buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
  }
  if (take < n)
    for (int k = 0; k < 3; k++) buf[o++] = '.';
  buf[o] = 0;
  return buf;
}

const char *fe_fmt_num(char *buf, size_t size, double x) {
  snprintf(buf, size, "%.15g", x);
  if (strtod(buf, NULL) != x) snprintf(buf, size, "%.17g", x);
  return buf;
}

const char *fe_fmt_shape(char *buf, size_t size, int rank, const int64_t *dims) {
  size_t o = 0;
  o += (size_t)snprintf(buf, size, "[");
  for (int i = 0; i < rank && o < size; i++)
    o += (size_t)snprintf(buf + o, size - o, "%s%lld", i ? "," : "", (long long)dims[i]);
  if (o < size) snprintf(buf + o, size - o, "]");
  return buf;
}

bool fe_get_int(Fe *fe, const cJSON *item, const char *where, const char *what, int64_t lo,
                int64_t hi, int64_t *out) {
  char num[64];
  if (!cJSON_IsNumber(item)) {
    ir_diag_error(fe->d, where, "expected an integer, got %s%s", fe_json_type_name(item),
                  cJSON_IsBool(item) ? " (write 1 or 0)" : "");
    return false;
  }
  double x = item->valuedouble;
  if (!isfinite(x)) {
    ir_diag_error(fe->d, where, "number out of range (overflows a double)");
    return false;
  }
  if (x != floor(x)) {
    ir_diag_error(fe->d, where, "expected an integer, got %s", fe_fmt_num(num, sizeof num, x));
    return false;
  }
  if (x < (double)lo) {
    ir_diag_error(fe->d, where, "%s must be at least %lld, got %s", what, (long long)lo,
                  fe_fmt_num(num, sizeof num, x));
    return false;
  }
  if (x > (double)hi) {
    ir_diag_error(fe->d, where, "%s must be at most %lld, got %s", what, (long long)hi,
                  fe_fmt_num(num, sizeof num, x));
    return false;
  }
  if (fabs(x) > FE_MAX_EXACT_INT) {
    ir_diag_error(fe->d, where,
                  "%s %s is too large: JSON numbers are exact integers only up to 2^53", what,
                  fe_fmt_num(num, sizeof num, x));
    return false;
  }
  *out = (int64_t)x;
  return true;
}

static int edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return 1000;
  int prev[65], cur[65];
  for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    cur[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int best = prev[j - 1] + (a[i - 1] != b[j - 1]);
      if (prev[j] + 1 < best) best = prev[j] + 1;
      if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
      cur[j] = best;
    }
    memcpy(prev, cur, sizeof(int) * (lb + 1));
  }
  return prev[lb];
}

/* The known name closest to s (case-insensitive match or at most 2 edits), or NULL. */
static const char *suggest(const char *s, const char *const *known, int n) {
  const char *best = NULL;
  int best_d = 3;
  for (int i = 0; i < n; i++) {
    int dist = strcasecmp(s, known[i]) == 0 ? 0 : edit_distance(s, known[i]);
    if (dist < best_d && (size_t)dist * 2 < strlen(known[i]) + 1) {
      best = known[i];
      best_d = dist;
    }
  }
  return best;
}

static void join_names(char *buf, size_t size, const char *const *names, int n) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; i < n && o < size; i++)
    o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", names[i]);
}

/* "where.key" ("key" alone at the top level, where is NULL there). */
static void child_path(char *buf, size_t size, const char *where, const char *key) {
  char shown[96];
  if (where)
    fe_path(buf, size, "%s.%s", where, fe_disp(shown, sizeof shown, key));
  else
    fe_path(buf, size, "%s", fe_disp(shown, sizeof shown, key));
}

/* Looks up the n known fields of obj into out[] (NULL where absent); reports unknown keys and
 * duplicate keys. Returns false (after reporting at `where`) if obj is not an object. */
static bool get_fields(Fe *fe, const cJSON *obj, const char *where, const char *const *known, int n,
                       const cJSON **out) {
  for (int k = 0; k < n; k++) out[k] = NULL;
  if (!cJSON_IsObject(obj)) {
    ir_diag_error(fe->d, where ? where : "top level", "expected an object, got %s",
                  fe_json_type_name(obj));
    return false;
  }
  int unknown = 0;
  char path[FE_WHERE], list[512];
  for (const cJSON *f = obj->child; f; f = f->next) {
    int k = 0;
    while (k < n && strcmp(known[k], f->string) != 0) k++;
    child_path(path, sizeof path, where, f->string);
    if (k < n && !out[k]) {
      out[k] = f;
    } else if (k < n) {
      ir_diag_error(fe->d, path, "duplicate key");
    } else if (++unknown <= MAX_UNKNOWN_FIELDS) {
      const char *s = suggest(f->string, known, n);
      join_names(list, sizeof list, known, n);
      if (s)
        ir_diag_error(fe->d, path, "unknown field; did you mean '%s'? (known: %s)", s, list);
      else
        ir_diag_error(fe->d, path, "unknown field (known: %s)", list);
    }
  }
  if (unknown > MAX_UNKNOWN_FIELDS)
    ir_diag_error(fe->d, where ? where : "top level", "%d more unknown fields",
                  unknown - MAX_UNKNOWN_FIELDS);
  return true;
}

static void missing(Fe *fe, const char *where, const char *field, const char *what) {
  ir_diag_error(fe->d, where ? where : "top level", "missing required field '%s' (%s)", field,
                what);
}

/* What is wrong with a value, node or model name (a non-empty string of at most 256 bytes
 * without control characters), or NULL if nothing. */
static const char *name_problem(const cJSON *item, char *buf, size_t size) {
  if (!cJSON_IsString(item)) {
    fe_path(buf, size, "expected a name (string), got %s", fe_json_type_name(item));
    return buf;
  }
  const char *s = item->valuestring;
  size_t n = strlen(s);
  if (n == 0) return "names must not be empty";
  if (n > FE_MAX_NAME) {
    char shown[96];
    fe_path(buf, size, "name '%s' is %zu bytes, at most %d allowed",
            fe_disp(shown, sizeof shown, s), n, FE_MAX_NAME);
    return buf;
  }
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
      fe_path(buf, size, "name contains a control character (byte 0x%02x)", (unsigned char)s[i]);
      return buf;
    }
  return NULL;
}

/* The name at `item`, or NULL after reporting at `where` (the path of the name field). */
static const char *get_name(Fe *fe, const cJSON *item, const char *where) {
  char buf[256];
  const char *problem = name_problem(item, buf, sizeof buf);
  if (problem) {
    ir_diag_error(fe->d, where, "%s", problem);
    return NULL;
  }
  return item->valuestring;
}

/* "kind[i] (name)" when obj has a valid name, else "kind[i]" (the name's problems are reported
 * where it is read). */
static void entry_where(char *buf, size_t size, const char *kind, int i, const cJSON *obj) {
  char tmp[256];
  const cJSON *n = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, "name") : NULL;
  if (n && !name_problem(n, tmp, sizeof tmp))
    fe_path(buf, size, "%s[%d] (%s)", kind, i, n->valuestring);
  else
    fe_path(buf, size, "%s[%d]", kind, i);
}

static size_t array_len(const cJSON *a) {
  size_t n = 0;
  for (const cJSON *e = a->child; e; e = e->next) n++;
  return n;
}

/* ---- dtypes, shapes, quantization ------------------------------------------------------- */
static bool parse_dtype(Fe *fe, const cJSON *item, const char *where, IrDType *out) {
  static const struct {
    const char *alias, *name;
  } aliases[] = {{"float32", "f32"}, {"float", "f32"},  {"float16", "f16"}, {"half", "f16"},
                 {"int8", "i8"},     {"uint8", "u8"},   {"int16", "i16"},   {"int32", "i32"},
                 {"int64", "i64"},   {"bool_", "bool"}, {"boolean", "bool"}};
  if (!cJSON_IsString(item)) {
    ir_diag_error(fe->d, where, "expected a dtype string, got %s", fe_json_type_name(item));
    return false;
  }
  if (ir_dtype_from_name(item->valuestring, out)) return true;
  const char *hint = NULL;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcasecmp(item->valuestring, aliases[i].alias) == 0) hint = aliases[i].name;
  char shown[96], list[128];
  const char *names[IR_DTYPE_COUNT];
  for (int t = 0; t < IR_DTYPE_COUNT; t++) names[t] = ir_dtype_name((IrDType)t);
  join_names(list, sizeof list, names, IR_DTYPE_COUNT);
  if (hint)
    ir_diag_error(fe->d, where, "unknown dtype '%s'; did you mean '%s'? (known: %s)",
                  fe_disp(shown, sizeof shown, item->valuestring), hint, list);
  else
    ir_diag_error(fe->d, where, "unknown dtype '%s' (known: %s)",
                  fe_disp(shown, sizeof shown, item->valuestring), list);
  return false;
}

/* One NAME=N of the --max-dim values (each a comma-separated list of them). */
typedef struct MaxDimItem {
  const char *text; /* the item, len bytes */
  size_t len, name_len;
} MaxDimItem;

/* The k-th item of the --max-dim values; false past the last. */
static bool max_dim_item(const FeOptions *o, int k, MaxDimItem *it) {
  for (int i = 0; i < o->n_max_dims; i++)
    for (const char *p = o->max_dims[i];; p++) {
      size_t len = strcspn(p, ",");
      if (k-- == 0) {
        const char *eq = memchr(p, '=', len);
        *it = (MaxDimItem){p, len, eq ? (size_t)(eq - p) : len};
        return true;
      }
      p += len;
      if (!*p) break;
    }
  return false;
}

static bool item_named(const MaxDimItem *it, const char *name) {
  return it->name_len == strlen(name) && !strncmp(it->text, name, it->name_len);
}

/* The item (or its name) printable, for messages. */
static const char *item_disp(const MaxDimItem *it, bool name_only, char *buf, size_t size) {
  char raw[80];
  size_t n = name_only ? it->name_len : it->len;
  snprintf(raw, sizeof raw, "%.*s", (int)(n < 70 ? n : 70), it->text);
  return fe_disp(buf, size, raw);
}

/* The maximum N of an item, or reports it at --max-dim. */
static bool item_max(Fe *fe, const MaxDimItem *it, int64_t *max) {
  char num[32], shown[80];
  size_t n = it->len - it->name_len;
  long long v = 0;
  bool ok = it->name_len > 0 && n > 1 && n < sizeof num;
  if (ok) {
    memcpy(num, it->text + it->name_len + 1, n - 1);
    num[n - 1] = 0;
    char *end;
    errno = 0;
    v = strtoll(num, &end, 10);
    ok = !errno && end != num && !*end && v >= 1 && v <= IR_MAX_DIM;
  }
  if (!ok) {
    ir_diag_error(fe->d, "--max-dim",
                  "'%s': the maximum must be an integer from 1 to %lld (NAME=N, or a list of "
                  "them separated by commas)",
                  item_disp(it, false, shown, sizeof shown), (long long)IR_MAX_DIM);
    return false;
  }
  *max = v;
  return true;
}

bool fe_has_max_dim(const Fe *fe, const char *name) {
  MaxDimItem it;
  for (int k = 0; max_dim_item(&fe->opt, k, &it); k++)
    if (item_named(&it, name)) return true;
  return false;
}

bool fe_max_dim(Fe *fe, const char *name, const char *where, int64_t *max) {
  char shown[80], shown2[80];
  MaxDimItem it;
  for (int k = 0; max_dim_item(&fe->opt, k, &it); k++)
    if (item_named(&it, name)) return item_max(fe, &it, max);
  ir_diag_error(fe->d, where,
                "dimension '%s' is symbolic: give its largest length with --max-dim %s=N (the "
                "*_dims entry points then take the length)",
                fe_disp(shown, sizeof shown, name), fe_disp(shown2, sizeof shown2, name));
  return false;
}

bool fe_check_max_dims(Fe *fe) {
  MaxDimItem it, other;
  bool ok = true;
  for (int k = 0; max_dim_item(&fe->opt, k, &it); k++) {
    char shown[80], name[80], names[160] = "";
    int64_t max;
    item_disp(&it, false, shown, sizeof shown);
    item_disp(&it, true, name, sizeof name);
    if (!item_max(fe, &it, &max)) {
      ok = false;
      continue;
    }
    bool dup = false;
    for (int j = 0; j < k && max_dim_item(&fe->opt, j, &other); j++)
      dup |= other.name_len == it.name_len && !strncmp(other.text, it.text, it.name_len);
    if (dup) {
      ir_diag_error(fe->d, "--max-dim", "'%s': dimension '%s' is given twice", shown, name);
      ok = false;
      continue;
    }
    bool known = false;
    for (int d = 0; d < fe->g->n_dyn; d++) {
      known |= item_named(&it, fe->g->dyn[d].name);
      size_t at = strlen(names);
      snprintf(names + at, sizeof names - at, "%s'%s'", d ? ", " : "", fe->g->dyn[d].name);
    }
    if (!known) {
      ir_diag_error(fe->d, "--max-dim", "'%s': no graph input has a symbolic dimension '%s' (%s%s)",
                    shown, name, fe->g->n_dyn ? "run-time dims: " : "none has any", names);
      ok = false;
    }
  }
  return ok;
}

void fe_mark_dyn(Fe *fe, IrValue *v, int axis, const char *name, int64_t max, const char *where) {
  int k = ir_graph_dyn_dim(fe->g, name, max, where, fe->d);
  if (k == 0) v->dyn = axis + 1;
  if (k == 1) v->dyn2 = axis + 1; /* until ir_dyn_settle_inputs tells the batch apart */
}

/* Dims into dims[]; rank <= 8, each dim in [1, 2^31-1]. Reports every bad dim. With sym (graph
 * inputs), up to IR_MAX_DYN dims may be strings naming symbolic dims: their --max-dim maxima,
 * axes into sym_axis[], names into sym[], how many into *n_sym. */
static bool parse_shape(Fe *fe, const cJSON *item, const char *where, int *rank, int64_t *dims,
                        int *sym_axis, const char **sym, int *n_sym) {
  if (!cJSON_IsArray(item)) {
    ir_diag_error(fe->d, where, "expected an array of dimensions, got %s", fe_json_type_name(item));
    return false;
  }
  size_t n = array_len(item);
  if (n > IR_MAX_RANK) {
    ir_diag_error(fe->d, where, "rank %zu is more than the maximum %d", n, IR_MAX_RANK);
    return false;
  }
  bool ok = true;
  int i = 0;
  for (const cJSON *e = item->child; e; e = e->next, i++) {
    char path[FE_WHERE + 16];
    fe_path(path, sizeof path, "%s[%d]", where, i);
    if (sym_axis && cJSON_IsString(e)) {
      if (*n_sym == IR_MAX_DYN) {
        ir_diag_error(fe->d, path, "at most %d dimensions of an input may be symbolic", IR_MAX_DYN);
        ok = false;
      } else if (fe_max_dim(fe, e->valuestring, path, &dims[i])) {
        sym_axis[*n_sym] = i;
        sym[(*n_sym)++] = e->valuestring;
      } else {
        ok = false;
      }
    } else if (!fe_get_int(fe, e, path, "dimension", 1, IR_MAX_DIM, &dims[i])) {
      ok = false;
    }
  }
  *rank = (int)n;
  return ok;
}

/* Element count and byte size must fit in int64. `where` is the shape's path. */
static bool check_size(Fe *fe, const char *where, IrDType t, int rank, const int64_t *dims) {
  char shape[256];
  int64_t numel;
  if (!ir_dims_numel(rank, dims, &numel)) {
    ir_diag_error(fe->d, where, "element count of shape %s overflows int64",
                  fe_fmt_shape(shape, sizeof shape, rank, dims));
    return false;
  }
  if (numel > INT64_MAX / (int64_t)ir_dtype_size(t)) {
    ir_diag_error(fe->d, where, "byte size of shape %s of %s overflows int64",
                  fe_fmt_shape(shape, sizeof shape, rank, dims), ir_dtype_name(t));
    return false;
  }
  return true;
}

/* zero_point range of a dtype (float dtypes: int32 range). */
static void zero_point_range(IrDType t, int64_t *lo, int64_t *hi) {
  switch (t) {
  case IR_I8: *lo = INT8_MIN, *hi = INT8_MAX; break;
  case IR_U8: *lo = 0, *hi = UINT8_MAX; break;
  case IR_I16: *lo = INT16_MIN, *hi = INT16_MAX; break;
  case IR_I64: *lo = -(int64_t)FE_MAX_EXACT_INT, *hi = (int64_t)FE_MAX_EXACT_INT; break;
  case IR_BOOL: *lo = 0, *hi = 1; break;
  default: *lo = INT32_MIN, *hi = INT32_MAX; break;
  }
}

/* "quant" of a tensor of dtype t and the given shape; `where` is the quant path. */
static IrQuant *parse_quant(Fe *fe, const cJSON *item, const char *where, IrDType t, int rank,
                            const int64_t *dims) {
  static const char *const known[] = {"scale", "zero_point", "axis"};
  const cJSON *f[3];
  char path[FE_WHERE + 32], num[64];
  if (!get_fields(fe, item, where, known, 3, f)) return NULL;
  bool ok = true;
  int axis = -1;
  if (f[2]) {
    int64_t a;
    fe_path(path, sizeof path, "%s.axis", where);
    if (rank == 0) {
      ir_diag_error(fe->d, path, "a scalar has no axis; use per-tensor parameters");
      ok = false;
    } else if (fe_get_int(fe, f[2], path, "axis", -rank, rank - 1, &a)) {
      axis = (int)(a < 0 ? a + rank : a);
    } else {
      ok = false;
    }
  }
  int64_t want = axis >= 0 ? dims[axis] : 1;
  if (!f[0]) {
    missing(fe, where, "scale", "array of positive numbers");
    return NULL;
  }
  fe_path(path, sizeof path, "%s.scale", where);
  if (!cJSON_IsArray(f[0])) {
    ir_diag_error(fe->d, path, "expected an array of positive numbers, got %s",
                  fe_json_type_name(f[0]));
    return NULL;
  }
  int64_t count = (int64_t)array_len(f[0]);
  if (ok && count != want) {
    if (axis >= 0)
      ir_diag_error(fe->d, path, "%lld scales given, dimension %d (axis) has %lld",
                    (long long)count, axis, (long long)want);
    else
      ir_diag_error(fe->d, path,
                    "%lld scales given, per-tensor quantization takes 1 (give "
                    "\"axis\" for per-axis)",
                    (long long)count);
    return NULL;
  }
  if (!ok) return NULL;
  IrQuant *q = ir_arena_alloc(fe->g->arena, sizeof *q);
  q->axis = axis;
  q->count = count;
  q->scale = ir_arena_alloc(fe->g->arena, sizeof(float) * (size_t)count);
  q->zero_point = ir_arena_alloc(fe->g->arena, sizeof(int64_t) * (size_t)count);
  int64_t i = 0;
  for (const cJSON *e = f[0]->child; e; e = e->next, i++) {
    fe_path(path, sizeof path, "%s.scale[%lld]", where, (long long)i);
    if (!cJSON_IsNumber(e)) {
      ir_diag_error(fe->d, path, "expected a positive number, got %s", fe_json_type_name(e));
      return NULL;
    }
    float s = (float)e->valuedouble;
    if (!(e->valuedouble > 0) || !isfinite(s) || !(s > 0)) {
      ir_diag_error(fe->d, path, "scale must be a positive finite f32 number, got %s",
                    fe_fmt_num(num, sizeof num, e->valuedouble));
      return NULL;
    }
    q->scale[i] = s;
  }
  if (f[1]) {
    fe_path(path, sizeof path, "%s.zero_point", where);
    if (!cJSON_IsArray(f[1])) {
      ir_diag_error(fe->d, path, "expected an array of integers, got %s", fe_json_type_name(f[1]));
      return NULL;
    }
    int64_t zn = (int64_t)array_len(f[1]);
    if (zn != count) {
      ir_diag_error(fe->d, path, "%lld zero points given for %lld scales", (long long)zn,
                    (long long)count);
      return NULL;
    }
    int64_t lo, hi;
    zero_point_range(t, &lo, &hi);
    i = 0;
    for (const cJSON *e = f[1]->child; e; e = e->next, i++) {
      fe_path(path, sizeof path, "%s.zero_point[%lld]", where, (long long)i);
      if (!fe_get_int(fe, e, path, "zero point", lo, hi, &q->zero_point[i])) return NULL;
    }
  }
  return q;
}

/* ---- the document walk ------------------------------------------------------------------ */
/* A declared tensor (inputs[i], outputs[i], initializers[i]) after its fields were checked. */
typedef struct Decl {
  const char *name; /* NULL if missing or invalid */
  char where[FE_WHERE];
  bool has_dtype, has_shape, shape_ok;
  IrDType dtype;
  int rank;
  int64_t dims[IR_MAX_RANK];
  int sym_axis[IR_MAX_DYN];    /* graph inputs: the axes of symbolic dims */
  const char *sym[IR_MAX_DYN]; /* their names */
  int n_sym;
  const cJSON *quant;
} Decl;

/* Name, dtype and shape of one tensor description; `kind` is "inputs"/"outputs"/...
 * f[] are the already looked-up fields name, dtype, shape. */
static void parse_decl(Fe *fe, const char *kind, int index, Decl *dc, bool dtype_shape_required,
                       const cJSON *const *f) {
  char path[FE_WHERE + 32];
  memset(dc, 0, sizeof *dc);
  fe_path(dc->where, sizeof dc->where, "%s[%d]", kind, index);
  if (!f[0]) {
    missing(fe, dc->where, "name", "the value's name");
  } else {
    fe_path(path, sizeof path, "%s.name", dc->where);
    dc->name = get_name(fe, f[0], path);
    if (dc->name) fe_path(dc->where, sizeof dc->where, "%s[%d] (%s)", kind, index, dc->name);
  }
  if (f[1]) {
    fe_path(path, sizeof path, "%s.dtype", dc->where);
    dc->has_dtype = parse_dtype(fe, f[1], path, &dc->dtype);
  } else if (dtype_shape_required) {
    missing(fe, dc->where, "dtype", "one of f32, f16, i8, u8, i16, i32, i64, bool");
  }
  if (f[2]) {
    fe_path(path, sizeof path, "%s.shape", dc->where);
    bool sym = !strcmp(kind, "inputs");
    dc->has_shape = parse_shape(fe, f[2], path, &dc->rank, dc->dims, sym ? dc->sym_axis : NULL,
                                dc->sym, &dc->n_sym);
    dc->shape_ok =
        dc->has_shape && (!dc->has_dtype || check_size(fe, path, dc->dtype, dc->rank, dc->dims));
  } else if (dtype_shape_required) {
    missing(fe, dc->where, "shape", "array of dimensions, [] for a scalar");
  }
}

/* Creates the value of a declaration (name claimed even when dtype/shape were bad, so that
 * uses of it do not cascade into "not defined" errors). */
static IrValue *claim_value(Fe *fe, const char *name, const char *where, const char *src_path,
                            IrValueKind kind, IrDType t, int rank, const int64_t *dims) {
  IrValue *v = ir_value_new(fe->g, name, kind, t, rank, dims);
  if (!v) {
    const IrValue *first = ir_graph_find_value(fe->g, name);
    ir_diag_error(fe->d, where, "duplicate value name '%s' (first defined at %s)", name,
                  first && first->src_path ? first->src_path : "?");
    return NULL;
  }
  v->src_path = ir_arena_strdup(fe->g->arena, src_path);
  return v;
}

static void parse_inputs(Fe *fe, const cJSON *arr) {
  static const char *const known[] = {"name", "dtype", "shape", "quant"};
  int i = 0;
  for (const cJSON *e = arr->child; e; e = e->next, i++) {
    char where[FE_WHERE], src[64];
    entry_where(where, sizeof where, "inputs", i, e);
    const cJSON *f[4];
    Decl dc;
    if (!get_fields(fe, e, where, known, 4, f) ||
        (parse_decl(fe, "inputs", i, &dc, true, f), !dc.name)) {
      fe->incomplete = true;
      continue;
    }
    bool good = dc.has_dtype && dc.shape_ok;
    fe_path(src, sizeof src, "inputs[%d]", i);
    IrValue *v = claim_value(fe, dc.name, dc.where, src, IR_VALUE_INPUT, good ? dc.dtype : IR_F32,
                             good ? dc.rank : 0, dc.dims);
    if (!v) continue;
    ir_graph_add_input(fe->g, v);
    for (int k = 0; good && k < dc.n_sym; k++)
      fe_mark_dyn(fe, v, dc.sym_axis[k], dc.sym[k], dc.dims[dc.sym_axis[k]], dc.where);
    if (good && f[3]) {
      char qpath[FE_WHERE + 8];
      fe_path(qpath, sizeof qpath, "%s.quant", dc.where);
      v->quant = parse_quant(fe, f[3], qpath, v->dtype, v->rank, v->dims);
    }
  }
}

static void parse_initializers(Fe *fe, const cJSON *arr) {
  static const char *const known[] = {"name", "dtype",  "shape",   "quant",
                                      "data", "base64", "external"};
  int i = 0;
  for (const cJSON *e = arr->child; e; e = e->next, i++) {
    char where[FE_WHERE], src[64];
    entry_where(where, sizeof where, "initializers", i, e);
    const cJSON *f[7];
    Decl dc;
    if (!get_fields(fe, e, where, known, 7, f) ||
        (parse_decl(fe, "initializers", i, &dc, true, f), !dc.name)) {
      fe->incomplete = true;
      continue;
    }
    bool good = dc.has_dtype && dc.shape_ok;
    fe_path(src, sizeof src, "initializers[%d]", i);
    IrValue *v = claim_value(fe, dc.name, dc.where, src, IR_VALUE_CONST, good ? dc.dtype : IR_F32,
                             good ? dc.rank : 0, dc.dims);
    if (!v || !good) continue;
    int64_t nb = ir_value_nbytes(v);
    if (fe->weight_bytes == INT64_MAX) continue; /* over the limit, reported */
    if (nb > fe->opt.max_weight_bytes - fe->weight_bytes) {
      ir_diag_error(fe->d, dc.where,
                    "the initializers need %lld bytes with this one (%lld), more than the limit "
                    "of %lld bytes (--max-weight-bytes)",
                    (long long)(fe->weight_bytes + nb), (long long)nb,
                    (long long)fe->opt.max_weight_bytes);
      fe->weight_bytes = INT64_MAX; /* report once */
      fe->incomplete = true;
      continue;
    }
    fe->weight_bytes += nb;
    if (f[3]) {
      char qpath[FE_WHERE + 8];
      fe_path(qpath, sizeof qpath, "%s.quant", dc.where);
      v->quant = parse_quant(fe, f[3], qpath, v->dtype, v->rank, v->dims);
    }
    fe_initializer_payload(fe, v, dc.where, f[4], f[5], f[6]);
  }
}

/* One node's attributes; `where` is the node's path. */
static void parse_attrs(Fe *fe, IrNode *n, const cJSON *attrs, const char *where) {
  char path[FE_WHERE + 16], apath[FE_WHERE + 128], epath[FE_WHERE + 160], list[512], num[64];
  char shown[96];
  const IrOpInfo *info = &ir_op_info[n->op];
  int na = ir_op_attr_count(n->op);
  const char *names[64];
  for (int k = 0; k < na && k < 64; k++) names[k] = info->attrs[k].name;
  join_names(list, sizeof list, names, na);
  fe_path(path, sizeof path, "%s.attrs", where);
  if (attrs && !cJSON_IsObject(attrs)) {
    ir_diag_error(fe->d, path, "expected an object of attributes, got %s",
                  fe_json_type_name(attrs));
    return;
  }
  int unknown = 0;
  for (const cJSON *a = attrs ? attrs->child : NULL; a; a = a->next) {
    fe_path(apath, sizeof apath, "%s.%s", path, fe_disp(shown, sizeof shown, a->string));
    int k = ir_op_attr_index(n->op, a->string);
    if (k < 0) {
      if (++unknown > MAX_UNKNOWN_FIELDS) continue;
      const char *s = suggest(a->string, names, na);
      if (na == 0)
        ir_diag_error(fe->d, apath, "unknown attribute '%s' (%s has no attributes)",
                      fe_disp(shown, sizeof shown, a->string), info->name);
      else if (s)
        ir_diag_error(fe->d, apath, "unknown attribute '%s' for %s; did you mean '%s'? (known: %s)",
                      fe_disp(shown, sizeof shown, a->string), info->name, s, list);
      else
        ir_diag_error(fe->d, apath, "unknown attribute '%s' for %s (known: %s)",
                      fe_disp(shown, sizeof shown, a->string), info->name, list);
      continue;
    }
    if (n->attrs[k].present) {
      ir_diag_error(fe->d, apath, "duplicate key");
      continue;
    }
    const IrAttrSpec *spec = &info->attrs[k];
    switch (spec->kind) {
    case IR_ATTR_INT: {
      int64_t v;
      if (fe_get_int(fe, a, apath, "value", INT64_MIN, INT64_MAX, &v))
        ir_set_attr_i(fe->g, n, spec->name, v);
      break;
    }
    case IR_ATTR_FLOAT:
      if (!cJSON_IsNumber(a))
        ir_diag_error(fe->d, apath, "expected a number, got %s", fe_json_type_name(a));
      else if (!isfinite(a->valuedouble))
        ir_diag_error(fe->d, apath, "number out of range (overflows a double)");
      else
        ir_set_attr_f(fe->g, n, spec->name, a->valuedouble);
      break;
    case IR_ATTR_STRING:
      if (!cJSON_IsString(a))
        ir_diag_error(fe->d, apath, "expected a string, got %s", fe_json_type_name(a));
      else
        ir_set_attr_s(fe->g, n, spec->name, a->valuestring);
      break;
    case IR_ATTR_INTS:
    case IR_ATTR_FLOATS: {
      bool ints = spec->kind == IR_ATTR_INTS;
      if (!cJSON_IsArray(a)) {
        ir_diag_error(fe->d, apath, "expected an array of %s, got %s",
                      ints ? "integers" : "numbers", fe_json_type_name(a));
        break;
      }
      size_t count = array_len(a);
      if (count > FE_MAX_LIST_ATTR) {
        ir_diag_error(fe->d, apath, "%zu entries, at most %d allowed", count, FE_MAX_LIST_ATTR);
        break;
      }
      int64_t iv[FE_MAX_LIST_ATTR];
      double fv[FE_MAX_LIST_ATTR];
      bool ok = true;
      int j = 0;
      for (const cJSON *e = a->child; e && ok; e = e->next, j++) {
        fe_path(epath, sizeof epath, "%s[%d]", apath, j);
        if (ints) {
          ok = fe_get_int(fe, e, epath, "value", INT64_MIN, INT64_MAX, &iv[j]);
        } else if (!cJSON_IsNumber(e)) {
          ir_diag_error(fe->d, epath, "expected a number, got %s", fe_json_type_name(e));
          ok = false;
        } else if (!isfinite(e->valuedouble)) {
          ir_diag_error(fe->d, epath, "number out of range (%s)",
                        fe_fmt_num(num, sizeof num, e->valuedouble));
          ok = false;
        } else {
          fv[j] = e->valuedouble;
        }
      }
      if (!ok) break;
      if (ints)
        ir_set_attr_ints(fe->g, n, spec->name, iv, (int)count);
      else
        ir_set_attr_floats(fe->g, n, spec->name, fv, (int)count);
      break;
    }
    }
    /* Mark as seen even when the value was bad, so a duplicate is still detected. */
    n->attrs[k].present = true;
  }
  if (unknown > MAX_UNKNOWN_FIELDS)
    ir_diag_error(fe->d, path, "%d more unknown attributes", unknown - MAX_UNKNOWN_FIELDS);
  for (int k = 0; k < na; k++)
    if (info->attrs[k].required && !n->attrs[k].present)
      ir_diag_error(fe->d, path, "missing required attribute '%s' (%s requires it)",
                    info->attrs[k].name, info->name);
}

typedef struct NodeRec {
  IrNode *n;           /* NULL if the node was not built (unsupported op, bad fields) */
  const cJSON *inputs; /* its "inputs" array if well-formed (array of strings) */
  const char *where;   /* "nodes[3] (conv1)", arena */
  IrOp op;
} NodeRec;

typedef struct OpTally {
  const char *name;
  int count;
} OpTally;

static void arity_message(char *buf, size_t size, int lo, int hi, const char *what) {
  if (lo == hi)
    snprintf(buf, size, "%d %s%s", lo, what, lo == 1 ? "" : "s");
  else
    snprintf(buf, size, "%d to %d %ss", lo, hi, what);
}

/* Checks that arr is an array of strings; count into *count. Empty strings allowed only where
 * allow_empty_from <= index (pass INT32_MAX to forbid them). */
static bool string_array(Fe *fe, const cJSON *arr, const char *path, int allow_empty_from,
                         const char *empty_msg, int *count) {
  if (!cJSON_IsArray(arr)) {
    ir_diag_error(fe->d, path, "expected an array of value names, got %s", fe_json_type_name(arr));
    return false;
  }
  int i = 0, bad = 0;
  char epath[FE_WHERE + 32], buf[256];
  for (const cJSON *e = arr->child; e; e = e->next, i++) {
    const char *problem = NULL;
    if (cJSON_IsString(e) && e->valuestring[0] == 0)
      problem = i < allow_empty_from ? empty_msg : NULL;
    else
      problem = name_problem(e, buf, sizeof buf);
    if (problem && ++bad <= MAX_UNKNOWN_FIELDS) {
      fe_path(epath, sizeof epath, "%s[%d]", path, i);
      ir_diag_error(fe->d, epath, "%s", problem);
    }
  }
  if (bad > MAX_UNKNOWN_FIELDS)
    ir_diag_error(fe->d, path, "%d more bad entries", bad - MAX_UNKNOWN_FIELDS);
  *count = i;
  return bad == 0;
}

static const char *const node_fields[] = {"name", "op", "inputs", "outputs", "attrs"};

/* Pass 1 over the nodes: fields, op, arity, attributes, node creation and output values. */
static void parse_node(Fe *fe, const cJSON *e, int index, NodeRec *rec, OpTally **tally,
                       int *n_tally, int *cap_tally) {
  char where[FE_WHERE], path[FE_WHERE + 32], msg[64], shown[96];
  fe_path(where, sizeof where, "nodes[%d]", index);
  rec->where = ir_arena_strdup(fe->g->arena, where);
  if (!cJSON_IsObject(e)) {
    ir_diag_error(fe->d, where, "expected an object, got %s", fe_json_type_name(e));
    fe->incomplete = true;
    return;
  }
  const cJSON *jname = cJSON_GetObjectItemCaseSensitive(e, "name");
  const cJSON *jop = cJSON_GetObjectItemCaseSensitive(e, "op");
  const char *opname = cJSON_IsString(jop) && jop->valuestring[0] ? jop->valuestring : NULL;
  const char *name = NULL;
  char defname[128];
  if (jname) {
    fe_path(path, sizeof path, "%s.name", where);
    name = get_name(fe, jname, path);
  } else if (opname) {
    fe_path(defname, sizeof defname, "%s_%d", fe_disp(shown, sizeof shown, opname), index);
    name = defname;
  }
  if (name) fe_path(where, sizeof where, "nodes[%d] (%s)", index, name);
  rec->where = ir_arena_strdup(fe->g->arena, where);
  const cJSON *f[5];
  get_fields(fe, e, where, node_fields, 5, f);

  /* op */
  const IrOpInfo *info = NULL;
  if (!jop) {
    missing(fe, where, "op", "an ONNX op name such as \"Conv\"");
  } else if (!opname) {
    fe_path(path, sizeof path, "%s.op", where);
    ir_diag_error(fe->d, path, "expected an op name (non-empty string), got %s",
                  cJSON_IsString(jop) ? "an empty string" : fe_json_type_name(jop));
  } else if (ir_op_from_name(opname, &rec->op)) {
    info = &ir_op_info[rec->op];
  } else {
    const char *hint = NULL;
    for (int op = 0; op < IR_OP_COUNT; op++)
      if (strcasecmp(opname, ir_op_info[op].name) == 0) hint = ir_op_info[op].name;
    if (hint)
      ir_diag_error(fe->d, where,
                    "op '%s' is not supported by Kiln; did you mean '%s'? (op names are "
                    "case-sensitive)",
                    fe_disp(shown, sizeof shown, opname), hint);
    else
      ir_diag_error(fe->d, where, "op '%s' is not supported by Kiln",
                    fe_disp(shown, sizeof shown, opname));
    int t = 0;
    while (t < *n_tally && strcmp((*tally)[t].name, opname) != 0) t++;
    if (t == *n_tally) {
      if (*n_tally == *cap_tally) {
        *cap_tally = *cap_tally ? *cap_tally * 2 : 8;
        OpTally *grown = realloc(*tally, sizeof **tally * (size_t)*cap_tally);
        if (!grown) abort();
        *tally = grown;
      }
      (*tally)[(*n_tally)++] = (OpTally){opname, 0};
    }
    (*tally)[t].count++;
  }

  /* outputs */
  int n_out = 0;
  fe_path(path, sizeof path, "%s.outputs", where);
  if (!f[3]) {
    missing(fe, where, "outputs", "array of names of the values the node defines");
  } else if (string_array(fe, f[3], path, INT32_MAX,
                          "output names must not be empty (omit trailing optional outputs "
                          "instead)",
                          &n_out)) {
    if (n_out == 0) {
      ir_diag_error(fe->d, path, "a node must define at least one output");
    } else if (info && (n_out < info->min_outputs || n_out > info->max_outputs)) {
      arity_message(msg, sizeof msg, info->min_outputs, info->max_outputs, "output");
      ir_diag_error(fe->d, path, "%s produces %s, got %d", info->name, msg, n_out);
    }
  }

  /* inputs */
  int n_in = 0;
  fe_path(path, sizeof path, "%s.inputs", where);
  if (!f[2]) {
    missing(fe, where, "inputs", "array of value names, \"\" for an omitted optional input");
  } else if (string_array(fe, f[2], path, info ? info->min_inputs : 0,
                          info ? "a required input cannot be omitted (\"\")" : "", &n_in)) {
    rec->inputs = f[2];
    if (info && (n_in < info->min_inputs || n_in > info->max_inputs)) {
      arity_message(msg, sizeof msg, info->min_inputs, info->max_inputs, "input");
      ir_diag_error(fe->d, path, "%s takes %s, got %d", info->name, msg, n_in);
    }
  }

  /* The node is built for every supported op, even with bad inputs or outputs, so that its
   * attributes are checked too; a graph with errors is never used. */
  IrNode *n = NULL;
  if (info) {
    /* Trailing omitted inputs are dropped: n_inputs ends at the last given input. */
    int used = 0, k = 0;
    if (cJSON_IsArray(f[2]))
      for (const cJSON *x = f[2]->child; x; x = x->next, k++)
        if (cJSON_IsString(x) && x->valuestring[0]) used = k + 1;
    char nm[128];
    fe_path(nm, sizeof nm, "%s_%d", info->name, index);
    n = ir_node_new(fe->g, rec->op, name ? name : nm, used, cJSON_IsArray(f[3]) ? n_out : 0);
    n->src_index = index;
    rec->n = n;
  }
  if (n) parse_attrs(fe, n, f[4], where);

  /* Output values are claimed even when the node has errors, so that readers of them do not
   * get "not defined" errors too. */
  if (!cJSON_IsArray(f[3])) {
    fe->incomplete = true;
  } else {
    int k = 0;
    for (const cJSON *x = f[3]->child; x; x = x->next, k++) {
      if (!cJSON_IsString(x) || !x->valuestring[0] || strlen(x->valuestring) > FE_MAX_NAME) {
        fe->incomplete = true;
        continue;
      }
      fe_path(path, sizeof path, "%s.outputs[%d]", where, k);
      IrValue *v = claim_value(fe, x->valuestring, path, path, IR_VALUE_NODE, IR_F32, 0, NULL);
      if (v && n) ir_node_set_output(n, k, v);
    }
  }
}

/* ONNX inputs that Kiln needs as constants (docs/model-format.md, "Nodes"). */
static const char *const_input_name(IrOp op, int slot) {
  if (op == IR_OP_RESHAPE && slot == 1) return "shape";
  if (op == IR_OP_CLIP && slot == 1) return "min";
  if (op == IR_OP_CLIP && slot == 2) return "max";
  return NULL;
}

/* Pass 2: resolve input names now that every value exists. */
static void resolve_inputs(Fe *fe, NodeRec *rec) {
  if (!rec->inputs) return;
  char path[FE_WHERE + 32], shown[96];
  int k = 0;
  for (const cJSON *x = rec->inputs->child; x; x = x->next, k++) {
    const char *s = x->valuestring;
    if (!s[0]) continue;
    fe_path(path, sizeof path, "%s.inputs[%d]", rec->where, k);
    IrValue *v = ir_graph_find_value(fe->g, s);
    if (!v) {
      if (!fe->incomplete && ++fe->n_undefined <= MAX_UNDEFINED)
        ir_diag_error(fe->d, path, "value '%s' is not defined by any input, initializer or node",
                      fe_disp(shown, sizeof shown, s));
      continue;
    }
    if (!rec->n || k >= rec->n->n_inputs) continue;
    rec->n->inputs[k] = v;
    const char *cname = const_input_name(rec->op, k);
    if (cname && v->kind != IR_VALUE_CONST)
      ir_diag_error(fe->d, path,
                    "%s's '%s' input must be an initializer in format version 1, but '%s' is "
                    "defined at %s",
                    ir_op_info[rec->op].name, cname, fe_disp(shown, sizeof shown, s),
                    v->src_path ? v->src_path : "?");
  }
}

static void parse_nodes(Fe *fe, const cJSON *arr) {
  size_t count = array_len(arr);
  if (count > INT32_MAX / 2) {
    ir_diag_error(fe->d, "nodes", "too many nodes (%zu)", count);
    return;
  }
  if ((int64_t)count > fe->opt.max_nodes) {
    ir_diag_error(fe->d, "nodes", "%zu nodes, more than the limit of %lld (--max-nodes)", count,
                  (long long)fe->opt.max_nodes);
    return;
  }
  NodeRec *recs = calloc(count ? count : 1, sizeof *recs);
  if (!recs) abort();
  OpTally *tally = NULL;
  int n_tally = 0, cap_tally = 0;
  int i = 0;
  for (const cJSON *e = arr->child; e; e = e->next, i++)
    parse_node(fe, e, i, &recs[i], &tally, &n_tally, &cap_tally);
  for (size_t k = 0; k < count; k++) resolve_inputs(fe, &recs[k]);
  if (fe->n_undefined > MAX_UNDEFINED)
    ir_diag_error(fe->d, "nodes", "%d more inputs name undefined values",
                  fe->n_undefined - MAX_UNDEFINED);
  if (n_tally) {
    char list[1024], supported[1024], shown[96];
    size_t o = 0;
    int total = 0;
    list[0] = 0;
    for (int t = 0; t < n_tally; t++) {
      total += tally[t].count;
      if (o < sizeof list)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s (%d node%s)", t ? ", " : "",
                              fe_disp(shown, sizeof shown, tally[t].name), tally[t].count,
                              tally[t].count == 1 ? "" : "s");
    }
    const char *names[IR_OP_COUNT];
    for (int op = 0; op < IR_OP_COUNT; op++) names[op] = ir_op_info[op].name;
    join_names(supported, sizeof supported, names, IR_OP_COUNT);
    ir_diag_error(fe->d, "nodes",
                  "%d node%s use%s %d op%s Kiln does not support: %s. Supported ops: %s", total,
                  total == 1 ? "" : "s", total == 1 ? "s" : "", n_tally, n_tally == 1 ? "" : "s",
                  list, supported);
  }
  free(tally);
  free(recs);
}

typedef struct OutDecl {
  Decl dc;
  IrValue *v;
} OutDecl;

static OutDecl *parse_outputs(Fe *fe, const cJSON *arr, int *n_decls) {
  static const char *const known[] = {"name", "dtype", "shape", "quant"};
  size_t count = array_len(arr);
  OutDecl *outs = calloc(count ? count : 1, sizeof *outs);
  if (!outs) abort();
  int i = 0;
  char shown[96];
  for (const cJSON *e = arr->child; e; e = e->next, i++) {
    OutDecl *o = &outs[i];
    entry_where(o->dc.where, sizeof o->dc.where, "outputs", i, e);
    const cJSON *f[4];
    if (!get_fields(fe, e, o->dc.where, known, 4, f)) continue;
    parse_decl(fe, "outputs", i, &o->dc, false, f);
    o->dc.quant = f[3];
    if (!o->dc.name) continue;
    IrValue *v = ir_graph_find_value(fe->g, o->dc.name);
    if (!v) {
      if (!fe->incomplete)
        ir_diag_error(fe->d, o->dc.where,
                      "value '%s' is not defined by any input, initializer or node",
                      fe_disp(shown, sizeof shown, o->dc.name));
      continue;
    }
    if (v->is_output) {
      for (int j = 0; j < i; j++)
        if (outs[j].v == v)
          ir_diag_error(fe->d, o->dc.where, "'%s' is already listed at outputs[%d]",
                        fe_disp(shown, sizeof shown, o->dc.name), j);
      continue;
    }
    o->v = v;
    ir_graph_add_output(fe->g, v);
  }
  *n_decls = i;
  return outs;
}

/* After shape inference: declared dtype/shape must match; quantization of outputs. */
static void check_outputs(Fe *fe, OutDecl *outs, int n) {
  char path[FE_WHERE + 16], a[256], b[256];
  for (int i = 0; i < n; i++) {
    IrValue *v = outs[i].v;
    Decl *dc = &outs[i].dc;
    if (!v) continue;
    if (dc->has_dtype && dc->dtype != v->dtype) {
      fe_path(path, sizeof path, "%s.dtype", dc->where);
      ir_diag_error(fe->d, path, "declared %s, inferred %s", ir_dtype_name(dc->dtype),
                    ir_dtype_name(v->dtype));
    }
    if (dc->has_shape) {
      bool same = dc->rank == v->rank;
      for (int k = 0; same && k < v->rank; k++) same = dc->dims[k] == v->dims[k];
      if (!same) {
        fe_path(path, sizeof path, "%s.shape", dc->where);
        ir_diag_error(fe->d, path, "declared %s, inferred %s",
                      fe_fmt_shape(a, sizeof a, dc->rank, dc->dims),
                      fe_fmt_shape(b, sizeof b, v->rank, v->dims));
      }
    }
    if (dc->quant) {
      fe_path(path, sizeof path, "%s.quant", dc->where);
      if (v->quant)
        ir_diag_error(fe->d, path, "quantization of '%s' is already given at %s", v->name,
                      v->src_path ? v->src_path : "?");
      else
        v->quant = parse_quant(fe, dc->quant, path, v->dtype, v->rank, v->dims);
    }
  }
}

/* The value a string field of a states entry names, reported at where.field when absent. */
static IrValue *state_field(Fe *fe, const cJSON *j, const char *where, const char *field) {
  char path[FE_WHERE + 16], shown[96];
  fe_path(path, sizeof path, "%s.%s", where, field);
  if (!cJSON_IsString(j)) {
    ir_diag_error(fe->d, path, "expected a value name (a string), got %s", fe_json_type_name(j));
    return NULL;
  }
  IrValue *v = ir_graph_find_value(fe->g, j->valuestring);
  if (!v)
    ir_diag_error(fe->d, path, "no value is named '%s'",
                  fe_disp(shown, sizeof shown, j->valuestring));
  return v;
}

/* "states": [{"input": IN, "next": OUT, "init": INITIALIZER}]: graph input IN is kept across
 * calls, graph output OUT is its value for the next call, the initializer (optional; zeros) its
 * value before the first (docs/model-format.md, States). */
static void parse_states(Fe *fe, const cJSON *arr) {
  static const char *const known[] = {"input", "next", "init"};
  if (!cJSON_IsArray(arr)) {
    ir_diag_error(fe->d, "states", "expected an array of {\"input\", \"next\"}, got %s",
                  fe_json_type_name(arr));
    return;
  }
  int i = 0;
  for (const cJSON *e = arr->child; e; e = e->next, i++) {
    char where[FE_WHERE], path[FE_WHERE + 16];
    fe_path(where, sizeof where, "states[%d]", i);
    const cJSON *f[3];
    if (!get_fields(fe, e, where, known, 3, f)) continue;
    if (!f[0] || !f[1]) {
      missing(fe, where, !f[0] ? "input" : "next", "a value name");
      continue;
    }
    IrValue *in = state_field(fe, f[0], where, "input"),
            *out = state_field(fe, f[1], where, "next");
    IrValue *init = f[2] ? state_field(fe, f[2], where, "init") : NULL;
    if (!in || !out || (f[2] && !init)) continue;
    if (init &&
        (init->kind != IR_VALUE_CONST || init->dtype != in->dtype || !ir_same_shape(init, in))) {
      fe_path(path, sizeof path, "%s.init", where);
      ir_diag_error(fe->d, path, "'%s' must be an initializer of the input's dtype and shape",
                    init->name);
      continue;
    }
    ir_graph_add_state(fe->g, in, out, init ? init->data : NULL, where, fe->d);
  }
}

static void build(Fe *fe, const cJSON *root, const char *default_name, int errs0) {
  static const char *const known[] = {"format", "version", "opset",        "name",  "doc",
                                      "inputs", "outputs", "initializers", "nodes", "states"};
  enum {
    F_FORMAT,
    F_VERSION,
    F_OPSET,
    F_NAME,
    F_DOC,
    F_INPUTS,
    F_OUTPUTS,
    F_INITS,
    F_NODES,
    F_STATES
  };
  const cJSON *f[10];
  IrDiag *d = fe->d;
  if (!cJSON_IsObject(root)) {
    ir_diag_error(d, "top level",
                  "expected a JSON object (a Kiln model: {\"format\": \"kiln-model\", ...}), "
                  "got %s",
                  fe_json_type_name(root));
    return;
  }
  get_fields(fe, root, NULL, known, 10, f);
  /* format and version decide whether the rest can be read at all */
  if (!f[F_FORMAT]) {
    missing(fe, NULL, "format", "the string \"kiln-model\"");
    return;
  }
  if (!cJSON_IsString(f[F_FORMAT]) || strcmp(f[F_FORMAT]->valuestring, "kiln-model") != 0) {
    char shown[96];
    if (cJSON_IsString(f[F_FORMAT]))
      ir_diag_error(d, "format", "expected \"kiln-model\", got \"%s\" (not a Kiln model?)",
                    fe_disp(shown, sizeof shown, f[F_FORMAT]->valuestring));
    else
      ir_diag_error(d, "format", "expected \"kiln-model\", got %s", fe_json_type_name(f[F_FORMAT]));
    return;
  }
  int64_t version;
  if (!f[F_VERSION]) {
    missing(fe, NULL, "version", "the format version, 1");
    return;
  }
  if (!fe_get_int(fe, f[F_VERSION], "version", "version", INT64_MIN, INT64_MAX, &version)) return;
  if (version != 1) {
    ir_diag_error(d, "version", "unsupported format version %lld (this Kiln reads version 1)",
                  (long long)version);
    return;
  }
  int64_t opset = 17;
  if (f[F_OPSET]) {
    if (!fe_get_int(fe, f[F_OPSET], "opset", "opset", INT64_MIN, INT64_MAX, &opset)) {
      opset = 17;
    } else if (opset < 11 || opset > 17) {
      ir_diag_error(d, "opset", "opset %lld is not supported (Kiln accepts 11 to 17)",
                    (long long)opset);
      opset = 17;
    }
  }
  const char *name = default_name && default_name[0] ? default_name : "model";
  if (f[F_NAME]) {
    const char *s = get_name(fe, f[F_NAME], "name");
    if (s) name = s;
  }
  if (f[F_DOC] && !cJSON_IsString(f[F_DOC]))
    ir_diag_error(d, "doc", "expected a string, got %s", fe_json_type_name(f[F_DOC]));

  fe->g = ir_graph_new(name);
  fe->g->opset = (int)opset;

  /* inputs, initializers, nodes, outputs */
  const cJSON *arrays[4] = {f[F_INPUTS], f[F_INITS], f[F_NODES], f[F_OUTPUTS]};
  static const char *const anames[4] = {"inputs", "initializers", "nodes", "outputs"};
  static const char *const what[4] = {"array of {\"name\", \"dtype\", \"shape\"}", "",
                                      "array of {\"op\", \"inputs\", \"outputs\"}",
                                      "array of {\"name\"}"};
  bool arr_ok[4];
  for (int k = 0; k < 4; k++) {
    arr_ok[k] = false;
    if (!arrays[k]) {
      if (k != 1) missing(fe, NULL, anames[k], what[k]);
      if (k != 1 && k != 3) fe->incomplete = true;
    } else if (!cJSON_IsArray(arrays[k])) {
      ir_diag_error(d, anames[k], "expected an array of objects, got %s",
                    fe_json_type_name(arrays[k]));
      if (k != 3) fe->incomplete = true;
    } else if ((k == 0 || k == 3) && !arrays[k]->child) {
      ir_diag_error(d, anames[k], "a model needs at least one %s", k == 0 ? "input" : "output");
    } else {
      arr_ok[k] = true;
    }
  }
  if (arr_ok[0]) parse_inputs(fe, arrays[0]);
  if (arr_ok[0] && d->n_errors == 0 && !(fe_check_max_dims(fe) && ir_dyn_settle_inputs(fe->g, d)))
    fe->incomplete = true;
  if (arr_ok[1]) parse_initializers(fe, arrays[1]);
  if (arr_ok[2]) parse_nodes(fe, arrays[2]);
  OutDecl *outs = NULL;
  int n_outs = 0;
  if (arr_ok[3]) outs = parse_outputs(fe, arrays[3], &n_outs);
  if (d->n_errors != errs0) {
    free(outs);
    return;
  }
  /* The document is consistent: order, shapes, declared outputs, invariants. */
  IrGraph *g = fe->g;
  if (ir_graph_sort(g, d) && ir_graph_infer_shapes(g, d)) {
    check_outputs(fe, outs, n_outs);
    if (f[F_STATES] && d->n_errors == errs0) parse_states(fe, f[F_STATES]);
    if (d->n_errors == errs0 && !ir_graph_verify(g, d) && d->n_errors == errs0)
      ir_diag_error(d, NULL, "internal error: the verifier rejected the graph without a message");
  } else if (d->n_errors == errs0) {
    ir_diag_error(d, NULL, "internal error: sorting or shape inference failed without a message");
  }
  free(outs);
}

/* ---- the text: checks before cJSON, syntax errors ---------------------------------------- */
static void line_col(const char *buf, size_t off, int *line, int *col) {
  int l = 1, c = 1;
  for (size_t i = 0; i < off; i++) {
    unsigned char ch = (unsigned char)buf[i];
    if (ch == '\n') {
      l++;
      c = 1;
    } else if ((ch & 0xc0) != 0x80) {
      c++; /* count characters, not UTF-8 continuation bytes */
    }
  }
  *line = l;
  *col = c;
}

/* Reports at "line L, column C" of byte offset off. */
static void error_at(IrDiag *d, const char *buf, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void error_at(IrDiag *d, const char *buf, size_t off, const char *fmt, ...) {
  char where[64];
  int line, col;
  line_col(buf, off, &line, &col);
  fe_path(where, sizeof where, "line %d, column %d", line, col);
  va_list ap;
  va_start(ap, fmt);
  ir_diag_verror(d, where, fmt, ap);
  va_end(ap);
}

/* Length of the UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned char c = p[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2;
  else if (c >= 0xe0 && c <= 0xef)
    len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
  else if (c >= 0xf0 && c <= 0xf4)
    len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
  else
    return 0;
  if (n < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if ((p[i] & 0xc0) != 0x80) return 0;
  return len;
}

/* NUL bytes, invalid UTF-8 and nesting deeper than FE_MAX_JSON_DEPTH, before cJSON sees the
 * text (cJSON's own nesting limit is 1000 and its recursion is what deep nesting stresses). */
static bool prescan(const char *buf, size_t len, IrDiag *d, size_t *open_string) {
  const unsigned char *u = (const unsigned char *)buf;
  int depth = 0;
  bool in_str = false;
  size_t str_start = 0;
  for (size_t i = 0; i < len;) {
    unsigned char c = u[i];
    if (c == 0) {
      error_at(d, buf, i, "NUL byte in the text%s (a JSON model is UTF-8 text)",
               i == 0 ? " (binary file?)" : "");
      return false;
    }
    if (c >= 0x80) {
      size_t n = utf8_len(u + i, len - i);
      if (!n) {
        error_at(d, buf, i, "invalid UTF-8 (byte 0x%02x); the model must be UTF-8 text", c);
        return false;
      }
      i += n;
      continue;
    }
    if (in_str) {
      if (c == '\\' && i + 1 < len && u[i + 1] != 0 && u[i + 1] < 0x80) {
        i += 2;
        continue;
      }
      if (c == '"') in_str = false;
    } else if (c == '"') {
      in_str = true;
      str_start = i;
    } else if (c == '[' || c == '{') {
      if (++depth > FE_MAX_JSON_DEPTH) {
        error_at(d, buf, i, "JSON nested deeper than %d levels", FE_MAX_JSON_DEPTH);
        return false;
      }
    } else if (c == ']' || c == '}') {
      depth--;
    }
    i++;
  }
  /* A string still open at the end explains a syntax error there better than cJSON can. */
  *open_string = in_str ? str_start : SIZE_MAX;
  return true;
}

static bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Length of the RFC 8259 number at p, or 0 if the text there is not one (cJSON also accepts
 * "01", "1." and "1.e5"). */
static size_t json_number_len(const char *p) {
  size_t i = 0;
  if (p[i] == '-') i++;
  if (p[i] == '0') {
    i++;
  } else if (is_digit(p[i])) {
    while (is_digit(p[i])) i++;
  } else {
    return 0;
  }
  if (p[i] == '.') {
    i++;
    if (!is_digit(p[i])) return 0;
    while (is_digit(p[i])) i++;
  }
  if (p[i] == 'e' || p[i] == 'E') {
    i++;
    if (p[i] == '+' || p[i] == '-') i++;
    if (!is_digit(p[i])) return 0;
    while (is_digit(p[i])) i++;
  }
  if (is_digit(p[i]) || p[i] == '.' || p[i] == 'e' || p[i] == 'E' || p[i] == '+' || p[i] == '-')
    return 0;
  return i;
}

/* After cJSON accepted the text (so strings are where the scan thinks): what cJSON tolerates
 * but JSON forbids, raw control characters in strings and malformed numbers. buf[len] == 0. */
static bool strict_check(const char *buf, size_t len, IrDiag *d) {
  bool in_str = false;
  char what[48];
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)buf[i];
    if (in_str) {
      if (c == '\\') {
        i++;
      } else if (c == '"') {
        in_str = false;
      } else if (c < 0x20) {
        error_at(d, buf, i,
                 "invalid JSON: control character 0x%02x inside a string (write it escaped, "
                 "e.g. \\n)",
                 c);
        return false;
      }
    } else if (c == '"') {
      in_str = true;
    } else if (c == '-' || is_digit((char)c)) {
      size_t n = json_number_len(buf + i);
      if (!n) {
        size_t k = 0;
        while (k < 24 && i + k < len &&
               (is_digit(buf[i + k]) || strchr("+-.eE", buf[i + k]) != NULL))
          k++;
        fe_path(what, sizeof what, "%.*s", (int)k, buf + i);
        error_at(d, buf, i,
                 "invalid JSON: malformed number '%s' (no leading zeros; digits required "
                 "after '.' and in exponents)",
                 what);
        return false;
      }
      i += n - 1;
    }
  }
  return true;
}

static void report_syntax(IrDiag *d, const char *buf, size_t len, const char *end,
                          size_t open_string) {
  size_t off = end && end >= buf ? (size_t)(end - buf) : len;
  if (off > len) off = len;
  if (open_string != SIZE_MAX && off >= open_string) {
    error_at(d, buf, open_string,
             "invalid JSON: string not terminated (it starts here and runs to the end of the "
             "file)");
    return;
  }
  /* A value followed by more text parses when the end need not be reached. */
  const char *end2 = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(buf, len + 1, &end2, 0);
  bool trailing = j != NULL;
  cJSON_Delete(j);
  if (trailing && end2 >= buf && (size_t)(end2 - buf) <= len) {
    off = (size_t)(end2 - buf);
    while (off < len && is_json_space(buf[off])) off++;
  }
  size_t rest = off;
  while (rest < len && is_json_space(buf[rest])) rest++;
  if (rest >= len) {
    error_at(d, buf, len, "invalid JSON: unexpected end of file (the text is incomplete)");
    return;
  }
  /* A short excerpt from the error position, on one line, cut at a UTF-8 boundary. */
  char near[40];
  size_t n = 0;
  while (off + n < len && n < 24 && buf[off + n] != '\n' && buf[off + n] != '\r') n++;
  while (n > 0 && off + n < len && ((unsigned char)buf[off + n] & 0xc0) == 0x80) n--;
  memcpy(near, buf + off, n);
  near[n] = 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)near[i] < 0x20) near[i] = ' ';
  if (trailing)
    error_at(d, buf, off, "invalid JSON: unexpected text after the top-level value (near '%s')",
             near);
  else
    error_at(d, buf, off, "invalid JSON (near '%s')", near);
}

/* buf[len] must be 0. */
static IrGraph *load_text(const char *buf, size_t len, const char *base_dir,
                          const char *default_name, const FeOptions *o, IrDiag *d) {
  int errs0 = d->n_errors;
  size_t first = 0;
  while (first < len && is_json_space(buf[first])) first++;
  if (first == len) {
    ir_diag_error(d, NULL,
                  "the file is empty%s (expected a Kiln model: a JSON object with "
                  "\"format\": \"kiln-model\")",
                  len ? " apart from whitespace" : "");
    return NULL;
  }
  size_t open_string;
  if (!prescan(buf, len, d, &open_string)) return NULL;
  const char *end = NULL;
  /* len + 1: cJSON then requires the terminating NUL right after the value and whitespace. */
  cJSON *root = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
  if (!root) {
    report_syntax(d, buf, len, end, open_string);
    return NULL;
  }
  if (!strict_check(buf, len, d)) {
    cJSON_Delete(root);
    return NULL;
  }
  Fe fe = {.d = d, .base_dir = base_dir};
  if (o) fe.opt = *o;
  if (fe.opt.max_weight_bytes <= 0) fe.opt.max_weight_bytes = FE_DEFAULT_MAX_WEIGHT_BYTES;
  if (fe.opt.max_nodes <= 0) fe.opt.max_nodes = FE_DEFAULT_MAX_NODES;
  build(&fe, root, default_name, errs0);
  cJSON_Delete(root);
  if (d->n_errors != errs0) {
    ir_graph_free(fe.g);
    return NULL;
  }
  return fe.g;
}

IrGraph *fe_parse_model(const char *json, size_t len, const char *base_dir,
                        const char *default_name, IrDiag *d) {
  return fe_parse_model_opts(json, len, base_dir, default_name, NULL, d);
}

IrGraph *fe_parse_model_opts(const char *json, size_t len, const char *base_dir,
                             const char *default_name, const FeOptions *o, IrDiag *d) {
  if (len > (size_t)FE_MAX_FILE_BYTES) {
    ir_diag_error(d, NULL, "model text is %zu bytes, more than the limit of 2 GiB", len);
    return NULL;
  }
  char *buf = malloc(len + 1);
  if (!buf) abort();
  if (len) memcpy(buf, json, len);
  buf[len] = 0;
  IrGraph *g = load_text(buf, len, base_dir, default_name, o, d);
  free(buf);
  return g;
}

IrGraph *fe_load_model(const char *path, IrDiag *d) { return fe_load_model_opts(path, NULL, d); }

IrGraph *fe_load_model_opts(const char *path, const FeOptions *o, IrDiag *d) {
  if (fe_is_onnx_path(path)) return fe_load_onnx(path, o, d);
  if (o && (o->n_input_shapes || o->n_binds)) {
    ir_diag_error(d, o->n_binds ? "--bind" : "--input-shape",
                  "applies to ONNX models only (a Kiln JSON model declares its shapes)");
    return NULL;
  }
  size_t len;
  char *buf = fe_read_model_file(path, "model JSON", "put the weights in external files", &len, d);
  if (!buf) return NULL;
  char *dir, *name;
  fe_split_model_path(path, ".json", &dir, &name);
  IrGraph *g = load_text(buf, len, dir, name, o, d);
  free(name);
  free(dir);
  free(buf);
  return g;
}
