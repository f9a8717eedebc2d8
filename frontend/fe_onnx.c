/* ONNX -> IR (docs/onnx.md). The protobuf is read by libprotobuf-c through the subset schema
 * frontend/onnx_subset.proto; everything in it is then checked here before any arithmetic:
 * element types, dims (1 to 2^31-1, rank <= 8, byte sizes in int64), payload lengths against
 * dims, external data confined to the model's folder, attribute types against the op table's
 * schema, names. Each ONNX node maps to the IR op of the same name (ir/ops.def), one to one; the
 * ops whose ONNX form changed across opsets 7-21 go through ONE table of version adapters
 * (adapters[] below) that rewrite them to the IR's form (opset 13-18 semantics). Nodes are built
 * in file order (ONNX requires topological order), each one's shapes inferred by the IR and, when
 * all its inputs are constants, folded at once by the reference interpreter (ir_node_fold, the
 * fold pass's own step) -- so Shape->Gather->Concat->Reshape chains and If nodes with a constant
 * condition disappear without a second implementation of the shape arithmetic. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe.h"
#include "fe_internal.h"
#include "onnx_subset.pb-c.h"

#define OX_MIN_OPSET 7
#define OX_MAX_OPSET 21
#define OX_FOLD_MAX_BYTES ((int64_t)64 << 20) /* as the fold pass */
#define OX_MAX_DEPTH 16                       /* If branches inlined inside If branches */

typedef Onnx__NodeProto ONode;
typedef Onnx__AttributeProto OAttr;
typedef Onnx__TensorProto OTensor;
typedef Onnx__GraphProto OGraph;

typedef struct Ox {
  Fe fe; /* d, g, base_dir, weight files, limits */
  const Onnx__ModelProto *m;
  int opset;
  int depth;
  int n_built; /* ONNX nodes seen, against --max-nodes */
  /* Names of empty constants (a dimension 0, no data): Kiln has no empty tensors, and ONNX uses
   * them for "not given" (Resize's roi and scales), so a node input naming one is omitted. */
  char **empty;
  int n_empty, cap_empty;
  /* Large raw_data payloads of graph.initializer, left out of the bytes libprotobuf-c unpacks
   * (strip_payloads: it would copy each one) and read in place: payload i is at
   * raw_base + raws[i].off, marked in its TensorProto by field OX_RAW_FIELD = i. */
  const uint8_t *raw_base;
  struct OxRaw {
    uint64_t off, len;
  } * raws;
  size_t n_raws;
  bool mapped; /* raw_base is a private file mapping: read pages may be dropped (fe_release) */
  bool in_initializers; /* reading graph.initializer: the only tensors OX_RAW_FIELD may mark */
} Ox;

#define OX_RAW_FIELD 536870911u /* the largest field number: not one ONNX uses */

/* The raw_data of t, in the message or left out of it (Ox.raws); NULL, 0 if none. */
static const uint8_t *tensor_raw(const Ox *ox, const OTensor *t, size_t *len) {
  for (unsigned i = 0; ox->in_initializers && i < t->base.n_unknown_fields; i++) {
    const ProtobufCMessageUnknownField *u = &t->base.unknown_fields[i];
    if (u->tag != OX_RAW_FIELD || u->wire_type != PROTOBUF_C_WIRE_TYPE_VARINT) continue;
    uint64_t k = 0;
    for (size_t b = 0; b < u->len && b < 10; b++) k |= (uint64_t)(u->data[b] & 0x7f) << (7 * b);
    if (k < ox->n_raws) {
      *len = (size_t)ox->raws[k].len;
      return ox->raw_base + ox->raws[k].off;
    }
  }
  *len = t->has_raw_data ? t->raw_data.len : 0;
  return *len ? t->raw_data.data : NULL;
}

/* One ONNX node being mapped. */
typedef struct ONodeCtx {
  const ONode *p;
  const char *where; /* "graph.node[12] (Conv_3)" */
  const char *name;  /* node name (ONNX's, else "<op>_<index>") */
  int index;
  const char *list; /* the node list src_index counts in: "graph.node", or a branch's */
  IrValue **in;     /* resolved inputs, NULL where omitted */
  int n_in;         /* up to the last given input */
} ONodeCtx;

/* ---- names, dtypes, attributes ---------------------------------------------------------- */
/* ONNX element type -> IR dtype. f64 is not an IR dtype: Kiln computes f64 models in f32
 * (docs/onnx.md "f64"): initializers and constants are read as f32, f64 graph inputs and outputs
 * become f32 ones and Cast to double a Cast to float, each with a warning. */
enum { ONNX_FLOAT = 1, ONNX_DOUBLE = 11 };
static bool onnx_dtype(int32_t t, IrDType *out) {
  switch (t) {
  case 1: *out = IR_F32; return true;
  case 2: *out = IR_U8; return true;
  case 3: *out = IR_I8; return true;
  case 5: *out = IR_I16; return true;
  case 6: *out = IR_I32; return true;
  case 7: *out = IR_I64; return true;
  case 9: *out = IR_BOOL; return true;
  case 10: *out = IR_F16; return true;
  default: return false;
  }
}

static const char *onnx_dtype_name(int32_t t) {
  static const char *const names[] = {"undefined",  "float",   "uint8",  "int8",   "uint16",
                                      "int16",      "int32",   "int64",  "string", "bool",
                                      "float16",    "double",  "uint32", "uint64", "complex64",
                                      "complex128", "bfloat16"};
  return t >= 0 && t < (int32_t)(sizeof names / sizeof *names) ? names[t] : "unknown";
}

/* A value or node name as Kiln JSON allows it (so that `kiln import` writes a model the JSON
 * frontend reads back): non-empty, at most FE_MAX_NAME bytes, no control characters. */
static bool check_name(Ox *ox, const char *s, const char *where, const char *what) {
  size_t n = strlen(s);
  char shown[96];
  if (n == 0) {
    ir_diag_error(ox->fe.d, where, "%s must not be empty", what);
    return false;
  }
  if (n > FE_MAX_NAME) {
    ir_diag_error(ox->fe.d, where, "%s '%s' is %zu bytes, at most %d allowed", what,
                  fe_disp(shown, sizeof shown, s), n, FE_MAX_NAME);
    return false;
  }
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
      ir_diag_error(ox->fe.d, where, "%s contains a control character (byte 0x%02x)", what,
                    (unsigned char)s[i]);
      return false;
    }
  return true;
}

static const char *attr_type_name(int t) {
  static const char *const names[] = {"UNDEFINED",      "FLOAT",      "INT",        "STRING",
                                      "TENSOR",         "GRAPH",      "FLOATS",     "INTS",
                                      "STRINGS",        "TENSORS",    "GRAPHS",     "SPARSE_TENSOR",
                                      "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS"};
  return t >= 0 && t < (int)(sizeof names / sizeof *names) ? names[t] : "unknown";
}

/* The attribute's type: its `type` field, else (old writers) the field that is set. */
static int attr_type(const OAttr *a) {
  if (a->has_type && a->type != 0) return (int)a->type;
  if (a->n_ints) return 7;
  if (a->n_floats) return 6;
  if (a->n_strings) return 8;
  if (a->t) return 4;
  if (a->g) return 5;
  if (a->has_s) return 3;
  if (a->has_f) return 1;
  if (a->has_i) return 2;
  return 0;
}

static const OAttr *find_attr(const ONode *p, const char *name) {
  for (size_t k = 0; k < p->n_attribute; k++)
    if (p->attribute[k]->name && strcmp(p->attribute[k]->name, name) == 0) return p->attribute[k];
  return NULL;
}

static void attr_where(char *buf, size_t size, const ONodeCtx *c, const char *name) {
  char shown[96];
  fe_path(buf, size, "%s.attribute '%s'", c->where, fe_disp(shown, sizeof shown, name));
}

/* Attribute `name` of type `want` (ONNX's AttributeType), or NULL if absent; false after an
 * error (wrong type). */
static bool get_attr(Ox *ox, const ONodeCtx *c, const char *name, int want, const OAttr **out) {
  *out = find_attr(c->p, name);
  if (!*out) return true;
  int t = attr_type(*out);
  if (t != want) {
    char w[FE_WHERE + 128];
    attr_where(w, sizeof w, c, name);
    ir_diag_error(ox->fe.d, w, "expected an attribute of type %s, got %s", attr_type_name(want),
                  attr_type_name(t));
    return false;
  }
  return true;
}

/* ---- values ----------------------------------------------------------------------------- */
/* A new value with a unique name derived from base (for the values an adapter adds). */
static IrValue *fresh_value(Ox *ox, const char *base, IrValueKind kind, IrDType t, int rank,
                            const int64_t *dims) {
  char name[FE_MAX_NAME + 32];
  for (int k = 0;; k++) {
    fe_path(name, sizeof name, "%.200s/kiln%d", base, k);
    if (!ir_graph_find_value(ox->fe.g, name)) break;
  }
  return ir_value_new(ox->fe.g, name, kind, t, rank, dims);
}

static IrValue *const_i64(Ox *ox, const char *base, const int64_t *v, int n) {
  int64_t dims[1] = {n};
  IrValue *c = fresh_value(ox, base, IR_VALUE_CONST, IR_I64, 1, dims);
  int64_t *data = ir_arena_alloc(ox->fe.g->arena, sizeof(int64_t) * (size_t)(n ? n : 1));
  if (n) memcpy(data, v, sizeof(int64_t) * (size_t)n);
  c->data = data;
  c->src_path = c->name;
  return c;
}

/* x as an integer in [lo, hi]: saturated, NaN as 0 (a C conversion of an out-of-range double is
 * undefined: Clip's default bounds are +-inf, a --bind value may be 1e30). */
static int64_t sat_int(double x, int64_t lo, int64_t hi) {
  if (x != x) return 0;
  if (x <= (double)lo) return lo;
  if (x >= (double)hi) return hi; /* (double)INT64_MAX is 2^63: below it the cast is defined */
  return (int64_t)x;
}

/* x stored as one element of dtype t (f32, f16, or an integer type) at p; integers saturate. */
static void store_scalar(uint8_t *p, IrDType t, double x) {
  switch (t) {
  case IR_F32: *(float *)p = (float)x; break;
  case IR_F16: {
    bool ovf;
    *(uint16_t *)p = fe_f16_from_double(x, &ovf);
    break;
  }
  case IR_I8: *(int8_t *)p = (int8_t)sat_int(x, INT8_MIN, INT8_MAX); break;
  case IR_U8: *(uint8_t *)p = (uint8_t)sat_int(x, 0, UINT8_MAX); break;
  case IR_BOOL: *(uint8_t *)p = x != 0; break;
  case IR_I16: *(int16_t *)p = (int16_t)sat_int(x, INT16_MIN, INT16_MAX); break;
  case IR_I32: *(int32_t *)p = (int32_t)sat_int(x, INT32_MIN, INT32_MAX); break;
  case IR_I64: *(int64_t *)p = sat_int(x, INT64_MIN, INT64_MAX); break;
  default: break;
  }
}

/* A scalar constant of dtype t holding x. */
static IrValue *const_scalar(Ox *ox, const char *base, IrDType t, double x) {
  IrValue *c = fresh_value(ox, base, IR_VALUE_CONST, t, 0, NULL);
  uint8_t *data = ir_arena_alloc(ox->fe.g->arena, 16);
  store_scalar(data, t, x);
  c->data = data;
  c->src_path = c->name;
  return c;
}

/* Dims of a tensor: 1 <= d <= 2^31-1 (Kiln has no empty tensors), rank <= 8, sizes in int64. */
static bool check_dims(Ox *ox, const char *where, size_t n, const int64_t *dims, IrDType t,
                       int64_t *out) {
  if (n > IR_MAX_RANK) {
    ir_diag_error(ox->fe.d, where, "rank %zu is more than the maximum %d", n, IR_MAX_RANK);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    if (dims[i] < 1 || dims[i] > IR_MAX_DIM) {
      ir_diag_error(ox->fe.d, where, "dims[%zu] is %lld: dimensions must be 1 to %lld%s", i,
                    (long long)dims[i], (long long)IR_MAX_DIM,
                    dims[i] == 0 ? " (empty tensors are not supported)" : "");
      return false;
    }
    out[i] = dims[i];
  }
  int64_t numel;
  if (!ir_dims_numel((int)n, out, &numel) || numel > INT64_MAX / 8 / (int64_t)ir_dtype_size(t)) {
    ir_diag_error(ox->fe.d, where, "the tensor's element count overflows");
    return false;
  }
  return true;
}

/* The payload of a TensorProto into v (dtype and dims set): raw_data, a typed field or external
 * data, its length checked against the dims first. src_type is ONNX's element type (f64 is
 * converted to v's f32). */
static bool tensor_payload(Ox *ox, const OTensor *t, IrValue *v, int32_t src_type,
                           const char *where) {
  int64_t numel = ir_value_numel(v);
  size_t esz = src_type == 11 ? 8 : ir_dtype_size(v->dtype);
  int64_t need = numel * (int64_t)esz; /* fits: check_dims kept numel * 8 * size in range */
  int64_t nb = ir_value_nbytes(v);
  if (nb > ox->fe.opt.max_weight_bytes - ox->fe.weight_bytes) {
    ir_diag_error(ox->fe.d, where,
                  "the initializers need %lld bytes with this one (%lld), more than the limit of "
                  "%lld bytes (--max-weight-bytes)",
                  (long long)(ox->fe.weight_bytes + nb), (long long)nb,
                  (long long)ox->fe.opt.max_weight_bytes);
    return false;
  }
  ox->fe.weight_bytes += nb;
  const uint8_t *raw = NULL;
  bool external = t->has_data_location && t->data_location == 1;
  size_t raw_len;
  const uint8_t *raw_data = tensor_raw(ox, t, &raw_len);
  int sources = (raw_len > 0) + external + (t->n_float_data > 0) + (t->n_int32_data > 0) +
                (t->n_int64_data > 0) + (t->n_double_data > 0) + (t->n_uint64_data > 0);
  if (sources > 1) {
    ir_diag_error(ox->fe.d, where, "more than one payload (raw_data, typed data, external data)");
    return false;
  }
  char w[FE_WHERE + 64];
  if (external) {
    const char *loc = NULL;
    int64_t off = 0, len = -1;
    for (size_t k = 0; k < t->n_external_data; k++) {
      const char *key = t->external_data[k]->key ? t->external_data[k]->key : "";
      const char *val = t->external_data[k]->value ? t->external_data[k]->value : "";
      fe_path(w, sizeof w, "%s.external_data '%s'", where, key);
      if (!strcmp(key, "location")) {
        loc = val;
      } else if (!strcmp(key, "offset") || !strcmp(key, "length")) {
        char *end;
        errno = 0;
        long long x = strtoll(val, &end, 10);
        if (!val[0] || *end || errno || x < 0) {
          ir_diag_error(ox->fe.d, w, "expected a non-negative integer, got '%s'", val);
          return false;
        }
        *(key[0] == 'o' ? &off : &len) = x;
      }
    }
    if (!loc || !loc[0]) {
      ir_diag_error(ox->fe.d, where, "external data without a location");
      return false;
    }
    if (len < 0) len = need;
    fe_path(w, sizeof w, "%s.external_data 'location'", where);
    if (len != need) {
      ir_diag_error(ox->fe.d, w, "'length' is %lld bytes, the dims need %lld", (long long)len,
                    (long long)need);
      return false;
    }
    if (!fe_external_bytes(&ox->fe, w, w, loc, off, len, &raw)) return false;
  } else if (raw_len > 0) {
    if ((int64_t)raw_len != need) {
      ir_diag_error(ox->fe.d, where, "raw_data is %zu bytes, the dims %s need %lld", raw_len,
                    "of this element type", (long long)need);
      return false;
    }
    raw = raw_data;
  }
  /* A payload in a mapping that lives as long as the graph (external data; raw_data left out of
   * the message of a mapped file) is used in place when aligned, else copied and its pages
   * dropped: the file's pages and a copy are never both held. */
  bool in_place = external || (raw && raw != t->raw_data.data && ox->mapped);
  if (raw && src_type != 11 && in_place && ((uintptr_t)raw & 15) == 0) {
    v->data = raw;
    return true;
  }
  uint8_t *data = ir_arena_alloc(ox->fe.g->arena, (size_t)nb + 1);
  v->data = data;
  if (raw) {
    if (src_type == 11)
      for (int64_t i = 0; i < numel; i++) {
        double x;
        memcpy(&x, raw + 8 * i, 8);
        ((float *)data)[i] = (float)x;
      }
    else
      memcpy(data, raw, (size_t)nb);
    if (in_place) fe_release_pages(raw, (size_t)need);
    return true;
  }
  /* typed fields: float_data (f32), int32_data (i32, i16, i8, u8, bool, f16 bits), int64_data,
   * double_data (f64) */
  size_t count = 0;
  const char *field = "int32_data";
  switch (src_type) {
  case 1: count = t->n_float_data, field = "float_data"; break;
  case 7: count = t->n_int64_data, field = "int64_data"; break;
  case 11: count = t->n_double_data, field = "double_data"; break;
  default: count = t->n_int32_data; break;
  }
  if ((int64_t)count != numel) {
    ir_diag_error(ox->fe.d, where, "%s has %zu elements, the dims need %lld%s", field, count,
                  (long long)numel, sources == 0 ? " (no data given)" : "");
    return false;
  }
  for (int64_t i = 0; i < numel; i++) {
    switch (src_type) {
    case 1: ((float *)data)[i] = t->float_data[i]; break;
    case 7: ((int64_t *)data)[i] = t->int64_data[i]; break;
    case 11: ((float *)data)[i] = (float)t->double_data[i]; break;
    case 6: ((int32_t *)data)[i] = t->int32_data[i]; break;
    case 5: ((int16_t *)data)[i] = (int16_t)t->int32_data[i]; break;
    case 3: ((int8_t *)data)[i] = (int8_t)t->int32_data[i]; break;
    case 2: ((uint8_t *)data)[i] = (uint8_t)t->int32_data[i]; break;
    case 9: ((uint8_t *)data)[i] = t->int32_data[i] != 0; break;
    case 10: ((uint16_t *)data)[i] = (uint16_t)t->int32_data[i]; break;
    default: break;
    }
  }
  return true;
}

/* A TensorProto as a new constant value named `name`; NULL after an error. */
static IrValue *tensor_value(Ox *ox, const OTensor *t, const char *name, const char *where) {
  int32_t src = t->has_data_type ? t->data_type : 0;
  IrDType dt;
  if (src == 11)
    dt = IR_F32;
  else if (!onnx_dtype(src, &dt)) {
    ir_diag_error(ox->fe.d, where, "element type %d (%s) is not supported", (int)src,
                  onnx_dtype_name(src));
    return NULL;
  }
  int64_t dims[IR_MAX_RANK];
  if (!check_dims(ox, where, t->n_dims, t->dims, dt, dims)) return NULL;
  if (!check_name(ox, name, where, "value name")) return NULL;
  IrValue *v = ir_value_new(ox->fe.g, name, IR_VALUE_CONST, dt, (int)t->n_dims, dims);
  if (!v) {
    const IrValue *first = ir_graph_find_value(ox->fe.g, name);
    ir_diag_error(ox->fe.d, where, "duplicate value name '%s' (first defined at %s)", name,
                  first && first->src_path ? first->src_path : "?");
    return NULL;
  }
  v->src_path = ir_arena_strdup(ox->fe.g->arena, where);
  return tensor_payload(ox, t, v, src, where) ? v : NULL;
}

/* An empty constant (see Ox.empty) is remembered instead of becoming a value. */
static bool is_empty_tensor(const Ox *ox, const OTensor *t) {
  bool zero = false;
  for (size_t i = 0; i < t->n_dims; i++) {
    if (t->dims[i] < 0) return false;
    zero |= t->dims[i] == 0;
  }
  size_t raw_len;
  return zero && t->n_dims <= IR_MAX_RANK && !tensor_raw(ox, t, &raw_len) && !t->n_float_data &&
         !t->n_int32_data && !t->n_int64_data && !t->n_double_data &&
         !(t->has_data_location && t->data_location == 1);
}

static void remember_empty(Ox *ox, const char *name) {
  if (ox->n_empty == ox->cap_empty) {
    ox->cap_empty = ox->cap_empty ? 2 * ox->cap_empty : 8;
    char **grown = realloc(ox->empty, sizeof *grown * (size_t)ox->cap_empty);
    if (!grown) abort();
    ox->empty = grown;
  }
  ox->empty[ox->n_empty] = strdup(name);
  if (!ox->empty[ox->n_empty]) abort();
  ox->n_empty++;
}

static bool is_empty_name(const Ox *ox, const char *name) {
  for (int i = 0; i < ox->n_empty; i++)
    if (!strcmp(ox->empty[i], name)) return true;
  return false;
}

/* A constant from an initializer or a Constant node: a value, or remembered as empty. */
static bool constant_tensor(Ox *ox, const OTensor *t, const char *name, const char *where) {
  if (is_empty_tensor(ox, t) && !ir_graph_find_value(ox->fe.g, name)) {
    remember_empty(ox, name);
    return true;
  }
  return tensor_value(ox, t, name, where) != NULL;
}

/* ---- node building ---------------------------------------------------------------------- */
/* A node of op with the given inputs; outputs named by out_names (NULL entries: fresh names). */
static IrNode *new_node(Ox *ox, const ONodeCtx *c, IrOp op, const char *name, IrValue *const *in,
                        int n_in, const char *const *out_names, int n_out) {
  IrNode *n = ir_node_new(ox->fe.g, op, name, n_in, n_out);
  n->src_index = c->index;
  n->src_list = c->list;
  for (int k = 0; k < n_in; k++) n->inputs[k] = in[k];
  for (int j = 0; j < n_out; j++) {
    char w[FE_WHERE + 32];
    IrValue *v;
    if (out_names && out_names[j] && out_names[j][0]) {
      fe_path(w, sizeof w, "%s.output[%d]", c->where, j);
      if (!check_name(ox, out_names[j], w, "value name")) return NULL;
      v = ir_value_new(ox->fe.g, out_names[j], IR_VALUE_NODE, IR_F32, 0, NULL);
      if (!v) {
        const IrValue *first = ir_graph_find_value(ox->fe.g, out_names[j]);
        ir_diag_error(ox->fe.d, w, "duplicate value name '%s' (first defined at %s)", out_names[j],
                      first && first->src_path ? first->src_path : "?");
        return NULL;
      }
      v->src_path = ir_arena_strdup(ox->fe.g->arena, w);
    } else {
      v = fresh_value(ox, name, IR_VALUE_NODE, IR_F32, 0, NULL);
      v->src_path = c->where;
    }
    ir_node_set_output(n, j, v);
  }
  return n;
}

/* Shapes of n's outputs, then folding when its inputs are constants (the node is dropped). */
static bool finish_node(Ox *ox, IrNode *n) {
  if (!ir_op_info[n->op].infer(ox->fe.g, n, ox->fe.d)) return false;
  IrGraph *g = ox->fe.g;
  /* folded constants count as weights (--max-weight-bytes), at most 64 MiB per node */
  int64_t budget = ox->fe.opt.max_weight_bytes - ox->fe.weight_bytes, bytes = 0;
  for (int j = 0; j < n->n_outputs; j++)
    if (n->outputs[j]) bytes += ir_value_nbytes(n->outputs[j]);
  /* a DequantizeLinear of constant int8 weights stays: the qdq pass maps it onto the int8
   * kernels (and the fold pass folds what it leaves) */
  if (n->op != IR_OP_DEQUANTIZE_LINEAR &&
      ir_node_fold(g, n, budget < OX_FOLD_MAX_BYTES ? budget : OX_FOLD_MAX_BYTES) &&
      g->n_nodes > 0 && g->nodes[g->n_nodes - 1] == n) {
    g->n_nodes--;
    ox->fe.weight_bytes += bytes;
  }
  return true;
}

/* Copies the ONNX attributes of c into n, checked against the IR op's schema; `skip` lists
 * attributes an adapter consumed (NULL-terminated, may be NULL). */
static bool copy_attrs(Ox *ox, const ONodeCtx *c, IrNode *n, const char *const *skip) {
  const IrOpInfo *info = &ir_op_info[n->op];
  bool ok = true;
  char w[FE_WHERE + 128], shown[96];
  for (size_t a = 0; a < c->p->n_attribute; a++) {
    const OAttr *at = c->p->attribute[a];
    const char *nm = at->name ? at->name : "";
    bool skipped = false;
    for (int s = 0; skip && skip[s]; s++) skipped |= strcmp(skip[s], nm) == 0;
    if (skipped) continue;
    attr_where(w, sizeof w, c, nm);
    int k = ir_op_attr_index(n->op, nm);
    int t = attr_type(at);
    if (at->ref_attr_name && at->ref_attr_name[0]) {
      ir_diag_error(ox->fe.d, w, "attribute references (functions) are not supported");
      ok = false;
      continue;
    }
    if (k < 0) {
      ir_diag_error(ox->fe.d, w, "attribute '%s' of %s is not supported by Kiln",
                    fe_disp(shown, sizeof shown, nm), info->name);
      ok = false;
      continue;
    }
    if (n->attrs[k].present) {
      ir_diag_error(ox->fe.d, w, "duplicate attribute");
      ok = false;
      continue;
    }
    const IrAttrSpec *spec = &info->attrs[k];
    static const int want[] = {[IR_ATTR_INT] = 2,
                               [IR_ATTR_FLOAT] = 1,
                               [IR_ATTR_STRING] = 3,
                               [IR_ATTR_INTS] = 7,
                               [IR_ATTR_FLOATS] = 6};
    if (t != want[spec->kind]) {
      ir_diag_error(ox->fe.d, w, "expected an attribute of type %s, got %s",
                    attr_type_name(want[spec->kind]), attr_type_name(t));
      ok = false;
      continue;
    }
    switch (spec->kind) {
    case IR_ATTR_INT: ir_set_attr_i(ox->fe.g, n, nm, at->i); break;
    case IR_ATTR_FLOAT:
      if (!isfinite(at->f)) {
        ir_diag_error(ox->fe.d, w, "value is not finite");
        ok = false;
        continue;
      }
      ir_set_attr_f(ox->fe.g, n, nm, at->f);
      break;
    case IR_ATTR_STRING: {
      /* (an empty string's data is NULL: no memchr on it) */
      if (at->s.len > FE_MAX_NAME || (at->s.len && memchr(at->s.data, 0, at->s.len))) {
        ir_diag_error(ox->fe.d, w, "string of %zu bytes%s is not a valid value", at->s.len,
                      at->s.len > FE_MAX_NAME ? "" : " with a NUL byte");
        ok = false;
        continue;
      }
      char *s = ir_arena_strndup(ox->fe.g->arena, (const char *)at->s.data, at->s.len);
      ir_set_attr_s(ox->fe.g, n, nm, s);
      break;
    }
    case IR_ATTR_INTS:
    case IR_ATTR_FLOATS: {
      size_t cnt = spec->kind == IR_ATTR_INTS ? at->n_ints : at->n_floats;
      if (cnt > FE_MAX_LIST_ATTR) {
        ir_diag_error(ox->fe.d, w, "%zu entries, at most %d allowed", cnt, FE_MAX_LIST_ATTR);
        ok = false;
        continue;
      }
      if (spec->kind == IR_ATTR_INTS) {
        ir_set_attr_ints(ox->fe.g, n, nm, at->ints, (int)cnt);
      } else {
        double fv[FE_MAX_LIST_ATTR];
        bool finite = true;
        for (size_t i = 0; i < cnt; i++) finite &= isfinite(fv[i] = at->floats[i]) != 0;
        if (!finite) {
          ir_diag_error(ox->fe.d, w, "a value is not finite");
          ok = false;
          continue;
        }
        ir_set_attr_floats(ox->fe.g, n, nm, fv, (int)cnt);
      }
      break;
    }
    }
    n->attrs[k].present = true;
  }
  for (int k = 0; info->attrs[k].name; k++)
    if (info->attrs[k].required && !n->attrs[k].present) {
      fe_path(w, sizeof w, "%s", c->where);
      ir_diag_error(ox->fe.d, w, "missing required attribute '%s' (%s requires it)",
                    info->attrs[k].name, info->name);
      ok = false;
    }
  return ok;
}

/* The outputs of c's ONNX node up to the last named one. */
static int named_outputs(const ONodeCtx *c) {
  int n = (int)c->p->n_output;
  while (n > 0 && !c->p->output[n - 1][0]) n--;
  return n;
}

static bool arity(Ox *ox, const ONodeCtx *c, IrOp op, IrValue *const *in, int n_in, int n_out) {
  const IrOpInfo *info = &ir_op_info[op];
  if (n_in < info->min_inputs || n_in > info->max_inputs) {
    ir_diag_error(ox->fe.d, c->where, "%s takes %d to %d inputs, got %d", info->name,
                  info->min_inputs, info->max_inputs, n_in);
    return false;
  }
  if (n_out < info->min_outputs || n_out > info->max_outputs) {
    ir_diag_error(ox->fe.d, c->where, "%s produces %d to %d outputs, got %d", info->name,
                  info->min_outputs, info->max_outputs, n_out);
    return false;
  }
  for (int k = 0; k < info->min_inputs && k < n_in; k++)
    if (!in[k]) {
      if (in == c->in && k < (int)c->p->n_input && c->p->input[k][0])
        ir_diag_error(ox->fe.d, c->where,
                      "input %d '%s' is an empty tensor (a dimension 0): Kiln has no empty "
                      "tensors",
                      k, c->p->input[k]);
      else
        ir_diag_error(ox->fe.d, c->where, "input %d of %s cannot be omitted", k, info->name);
      return false;
    }
  return true;
}

/* The one-to-one mapping: IR op `op` with the node's inputs (or `in` when an adapter rewrote
 * them), its outputs and attributes (minus `skip`). */
static IrNode *emit(Ox *ox, const ONodeCtx *c, IrOp op, IrValue *const *in, int n_in,
                    const char *const *skip) {
  int n_out = named_outputs(c);
  if (!arity(ox, c, op, in, n_in, n_out)) return NULL;
  while (n_in > 0 && !in[n_in - 1]) n_in--; /* trailing omitted inputs, as the JSON frontend */
  IrNode *n = new_node(ox, c, op, c->name, in, n_in, (const char *const *)c->p->output, n_out);
  if (!n || !copy_attrs(ox, c, n, skip)) return NULL;
  return n;
}

static bool map_direct(Ox *ox, const ONodeCtx *c, IrOp op) {
  IrNode *n = emit(ox, c, op, c->in, c->n_in, NULL);
  return n && finish_node(ox, n);
}

/* ---- version adapters ------------------------------------------------------------------- */
/* An attribute of an old opset that became an input: a 1-D i64 constant from `ints`. */
static bool ints_attr_input(Ox *ox, const ONodeCtx *c, const char *attr, IrValue **out,
                            bool required) {
  const OAttr *a;
  *out = NULL;
  if (!get_attr(ox, c, attr, 7, &a)) return false;
  if (!a) {
    if (required) ir_diag_error(ox->fe.d, c->where, "missing required attribute '%s'", attr);
    return !required;
  }
  if (a->n_ints > FE_MAX_LIST_ATTR || (required && a->n_ints == 0)) {
    char w[FE_WHERE + 128];
    attr_where(w, sizeof w, c, attr);
    ir_diag_error(ox->fe.d, w, "%zu entries, %s", a->n_ints,
                  a->n_ints ? "at most 64 allowed" : "at least 1 needed");
    return false;
  }
  if (a->n_ints == 0) return true; /* an empty list: as if absent (Kiln has no empty tensors) */
  *out = const_i64(ox, c->name, a->ints, (int)a->n_ints);
  return true;
}

/* Slice 1-9: starts, ends, axes attributes -> inputs. */
static bool adapt_slice_attrs(Ox *ox, const ONodeCtx *c, IrOp op) {
  IrValue *in[4] = {c->n_in ? c->in[0] : NULL};
  if (!ints_attr_input(ox, c, "starts", &in[1], true) ||
      !ints_attr_input(ox, c, "ends", &in[2], true) ||
      !ints_attr_input(ox, c, "axes", &in[3], false))
    return false;
  static const char *const skip[] = {"starts", "ends", "axes", NULL};
  IrNode *n = emit(ox, c, op, in, in[3] ? 4 : 3, skip);
  return n && finish_node(ox, n);
}

/* Squeeze / Unsqueeze 1-12, ReduceSum 1-12 is the IR's attribute form already: axes -> input. */
static bool adapt_axes_attr(Ox *ox, const ONodeCtx *c, IrOp op) {
  IrValue *in[2] = {c->n_in ? c->in[0] : NULL, NULL};
  if (!ints_attr_input(ox, c, "axes", &in[1], op == IR_OP_UNSQUEEZE)) return false;
  static const char *const skip[] = {"axes", NULL};
  IrNode *n = emit(ox, c, op, in, in[1] ? 2 : 1, skip);
  return n && finish_node(ox, n);
}

/* Pad 2-10: pads, value, mode attributes -> inputs pads (i64) and constant_value. */
static bool adapt_pad_attrs(Ox *ox, const ONodeCtx *c, IrOp op) {
  IrValue *in[3] = {c->n_in ? c->in[0] : NULL, NULL, NULL};
  if (!ints_attr_input(ox, c, "pads", &in[1], true)) return false;
  const OAttr *val;
  if (!get_attr(ox, c, "value", 1, &val)) return false;
  if (val && val->f != 0 && in[0]) in[2] = const_scalar(ox, c->name, in[0]->dtype, val->f);
  static const char *const skip[] = {"pads", "value", NULL};
  IrNode *n = emit(ox, c, op, in, in[2] ? 3 : 2, skip);
  return n && finish_node(ox, n);
}

/* Pad 18+: the `axes` input (constant i32/i64, negative counts from the end) names the axes
 * `pads` (2 * len(axes): begins, then ends) applies to -> pads for every axis, 0 elsewhere. */
static bool adapt_pad_axes(Ox *ox, const ONodeCtx *c, IrOp op) {
  if (c->n_in < 4 || !c->in[3] || !c->in[0] || !c->in[1]) return map_direct(ox, c, op);
  const IrValue *x = c->in[0], *p = c->in[1], *ax = c->in[3];
  char w[FE_WHERE + 64];
  fe_path(w, sizeof w, "%s.input[3]", c->where);
  int64_t na = ir_value_numel(ax);
  if (ax->kind != IR_VALUE_CONST || (ax->dtype != IR_I64 && ax->dtype != IR_I32) || ax->rank != 1 ||
      na < 1 || na > x->rank) {
    ir_diag_error(ox->fe.d, w, "axes must be a constant i32/i64 list of 1 to %d axes", x->rank);
    return false;
  }
  if (p->kind != IR_VALUE_CONST || p->dtype != IR_I64 || ir_value_numel(p) != 2 * na) {
    fe_path(w, sizeof w, "%s.input[1]", c->where);
    ir_diag_error(ox->fe.d, w, "pads must be a constant i64 list of %lld values (2 per axis)",
                  (long long)(2 * na));
    return false;
  }
  int64_t pads[2 * IR_MAX_RANK] = {0};
  bool seen[IR_MAX_RANK] = {false};
  for (int64_t k = 0; k < na; k++) {
    int64_t a =
        ax->dtype == IR_I64 ? ((const int64_t *)ax->data)[k] : ((const int32_t *)ax->data)[k];
    if (a < 0) a += x->rank;
    if (a < 0 || a >= x->rank || seen[a]) {
      ir_diag_error(ox->fe.d, w, "axis entry %lld is out of range or repeated", (long long)k);
      return false;
    }
    seen[a] = true;
    pads[a] = ((const int64_t *)p->data)[k];
    pads[x->rank + a] = ((const int64_t *)p->data)[na + k];
  }
  IrValue *in[3] = {c->in[0], const_i64(ox, c->name, pads, 2 * x->rank), c->in[2]};
  IrNode *n = emit(ox, c, op, in, in[2] ? 3 : 2, NULL);
  return n && finish_node(ox, n);
}

/* Clip 6-10: min, max attributes -> inputs. */
static bool adapt_clip_attrs(Ox *ox, const ONodeCtx *c, IrOp op) {
  IrValue *in[3] = {c->n_in ? c->in[0] : NULL, NULL, NULL};
  const OAttr *lo, *hi;
  if (!get_attr(ox, c, "min", 1, &lo) || !get_attr(ox, c, "max", 1, &hi)) return false;
  IrDType t = in[0] ? in[0]->dtype : IR_F32;
  in[1] = const_scalar(ox, c->name, t, lo ? lo->f : -INFINITY);
  in[2] = const_scalar(ox, c->name, t, hi ? hi->f : INFINITY);
  static const char *const skip[] = {"min", "max", NULL};
  IrNode *n = emit(ox, c, op, in, 3, skip);
  return n && finish_node(ox, n);
}

/* Dropout: in inference (training_mode false or absent) or with ratio 0 it is the identity, its
 * mask all true; the ratio is an attribute up to opset 11, input 1 since 12. */
static bool adapt_dropout(Ox *ox, const ONodeCtx *c, IrOp op) {
  (void)op;
  const OAttr *ra;
  if (!get_attr(ox, c, "ratio", 1, &ra)) return false;
  IrValue *x = c->n_in ? c->in[0] : NULL;
  IrValue *rv = c->n_in > 1 ? c->in[1] : NULL, *tv = c->n_in > 2 ? c->in[2] : NULL;
  if (!x || c->p->n_output < 1 || !c->p->output[0][0] || c->p->n_output > 2) {
    ir_diag_error(ox->fe.d, c->where, "Dropout takes a data input and 1 or 2 outputs");
    return false;
  }
  if ((rv && (rv->kind != IR_VALUE_CONST || rv->dtype != IR_F32 || ir_value_numel(rv) != 1)) ||
      (tv && (tv->kind != IR_VALUE_CONST || tv->dtype != IR_BOOL || ir_value_numel(tv) != 1))) {
    ir_diag_error(ox->fe.d, c->where,
                  "Dropout's ratio and training_mode must be constant scalars (f32, bool)");
    return false;
  }
  double ratio = rv ? *(const float *)rv->data : ra ? ra->f : 0.5;
  bool training = tv && *(const uint8_t *)tv->data;
  if (training && ratio != 0) {
    ir_diag_error(ox->fe.d, c->where,
                  "training_mode is true with ratio %g; only inference is supported (export the "
                  "model in eval mode)",
                  ratio);
    return false;
  }
  const char *outs[1] = {c->p->output[0]};
  IrNode *n = new_node(ox, c, IR_OP_IDENTITY, c->name, &x, 1, outs, 1);
  if (!n || !finish_node(ox, n)) return false;
  if (c->p->n_output == 2 && c->p->output[1][0]) { /* the mask: all true */
    char w[FE_WHERE + 32];
    fe_path(w, sizeof w, "%s.output[1]", c->where);
    if (!check_name(ox, c->p->output[1], w, "value name")) return false;
    IrValue *m = ir_value_new(ox->fe.g, c->p->output[1], IR_VALUE_CONST, IR_BOOL, x->rank, x->dims);
    if (!m) {
      ir_diag_error(ox->fe.d, w, "duplicate value name '%s'", c->p->output[1]);
      return false;
    }
    uint8_t *ones = ir_arena_alloc(ox->fe.g->arena, (size_t)ir_value_nbytes(m) + 1);
    memset(ones, 1, (size_t)ir_value_nbytes(m));
    m->data = ones;
    m->src_path = ir_arena_strdup(ox->fe.g->arena, w);
  }
  return true;
}

/* RNN / GRU / LSTM: ONNX's `activations` list of strings is the IR's one comma-separated string
 * (the IR checks the names and counts). */
static bool adapt_recurrent(Ox *ox, const ONodeCtx *c, IrOp op) {
  const OAttr *acts;
  if (!get_attr(ox, c, "activations", 8, &acts)) return false;
  static const char *const skip[] = {"activations", NULL};
  IrNode *n = emit(ox, c, op, c->in, c->n_in, skip);
  if (!n) return false;
  if (acts) {
    char w[FE_WHERE + 128], joined[FE_MAX_NAME + 1];
    attr_where(w, sizeof w, c, "activations");
    size_t o = 0;
    for (size_t k = 0; k < acts->n_strings; k++) {
      const ProtobufCBinaryData *b = &acts->strings[k];
      if (o + b->len + 2 > sizeof joined || memchr(b->data, ',', b->len) ||
          memchr(b->data, 0, b->len)) {
        ir_diag_error(ox->fe.d, w, "entry %zu is not an activation name", k);
        return false;
      }
      if (k) joined[o++] = ',';
      memcpy(joined + o, b->data, b->len);
      o += b->len;
    }
    joined[o] = 0;
    ir_set_attr_s(ox->fe.g, n, "activations", ir_arena_strdup(ox->fe.g->arena, joined));
  }
  return finish_node(ox, n);
}

/* Resize 10: inputs (X, scales) and Upsample's coordinates (asymmetric, floor) -> the IR's
 * opset-11 form (X, roi, scales, sizes). */
static bool adapt_resize10(Ox *ox, const ONodeCtx *c, IrOp op) {
  IrValue *in[3] = {c->n_in ? c->in[0] : NULL, NULL, c->n_in > 1 ? c->in[1] : NULL};
  IrNode *n = emit(ox, c, op, in, 3, NULL);
  if (!n) return false;
  ir_set_attr_s(ox->fe.g, n, "coordinate_transformation_mode", "asymmetric");
  ir_set_attr_s(ox->fe.g, n, "nearest_mode", "floor");
  return finish_node(ox, n);
}

/* BatchNormalization 7-8: `spatial` (1, the default, is the only form since 9). */
static bool adapt_batch_norm_spatial(Ox *ox, const ONodeCtx *c, IrOp op) {
  const OAttr *sp;
  if (!get_attr(ox, c, "spatial", 2, &sp)) return false;
  if (sp && sp->i != 1) {
    char w[FE_WHERE + 128];
    attr_where(w, sizeof w, c, "spatial");
    ir_diag_error(ox->fe.d, w, "spatial=%lld (per-element statistics) is not supported",
                  (long long)sp->i);
    return false;
  }
  static const char *const skip[] = {"spatial", NULL};
  IrNode *n = emit(ox, c, op, c->in, c->n_in, skip);
  return n && finish_node(ox, n);
}

/* Split 18+: `num_outputs` -> the sizes (ceil(d / n) each, the last one smaller). */
static bool adapt_split_num_outputs(Ox *ox, const ONodeCtx *c, IrOp op) {
  const OAttr *no, *ax;
  if (!get_attr(ox, c, "num_outputs", 2, &no) || !get_attr(ox, c, "axis", 2, &ax)) return false;
  static const char *const skip[] = {"num_outputs", NULL};
  if (!no || c->n_in != 1 || !c->in[0]) return map_direct(ox, c, op);
  IrValue *x = c->in[0];
  int64_t axis = ax ? ax->i : 0;
  char w[FE_WHERE + 128];
  attr_where(w, sizeof w, c, "num_outputs");
  if (axis < -x->rank || axis >= x->rank || no->i < 1 || no->i > IR_MAX_VARIADIC ||
      no->i != (int64_t)c->p->n_output) {
    ir_diag_error(ox->fe.d, w, "num_outputs %lld with %zu outputs and axis %lld of rank %d",
                  (long long)no->i, c->p->n_output, (long long)axis, x->rank);
    return false;
  }
  int64_t d = x->dims[axis < 0 ? axis + x->rank : axis], k = no->i, part = (d + k - 1) / k;
  if (part * (k - 1) >= d) {
    ir_diag_error(ox->fe.d, w, "dimension %lld cannot be split into %lld non-empty parts",
                  (long long)d, (long long)k);
    return false;
  }
  int64_t *sizes = malloc(sizeof(int64_t) * (size_t)k);
  if (!sizes) abort();
  for (int64_t i = 0; i < k; i++) sizes[i] = i + 1 < k ? part : d - part * (k - 1);
  IrValue *in[2] = {x, const_i64(ox, c->name, sizes, (int)k)};
  free(sizes);
  IrNode *n = emit(ox, c, op, in, 2, skip);
  return n && finish_node(ox, n);
}

/* Softmax / LogSoftmax 1-12: the input is flattened to 2-D at `axis` (default 1), normalized
 * over the second dimension and reshaped back. Where `axis` is the last axis this is the same
 * as the IR's (opset 13) form. */
static bool adapt_softmax_2d(Ox *ox, const ONodeCtx *c, IrOp op) {
  const OAttr *ax;
  if (!get_attr(ox, c, "axis", 2, &ax)) return false;
  if (c->n_in != 1 || !c->in[0] || c->p->n_output != 1) return map_direct(ox, c, op);
  IrValue *x = c->in[0];
  int64_t axis = ax ? ax->i : 1;
  if (axis < -x->rank || axis > x->rank || (x->rank == 0 && axis != 0)) {
    char w[FE_WHERE + 128];
    attr_where(w, sizeof w, c, "axis");
    ir_diag_error(ox->fe.d, w, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
    return false;
  }
  if (axis < 0) axis += x->rank;
  static const char *const skip[] = {"axis", NULL};
  if (x->rank == 0 || axis == x->rank - 1) { /* the IR's form: normalize over the last axis */
    IrNode *n = emit(ox, c, op, c->in, 1, skip);
    if (!n) return false;
    ir_set_attr_i(ox->fe.g, n, "axis", -1);
    return finish_node(ox, n);
  }
  int64_t rows = 1, cols = 1;
  for (int i = 0; i < x->rank; i++) *(i < axis ? &rows : &cols) *= x->dims[i];
  int64_t flat[2] = {rows, cols};
  char nm[FE_MAX_NAME + 32];
  fe_path(nm, sizeof nm, "%.200s/flatten", c->name);
  IrValue *in[2] = {x, const_i64(ox, c->name, flat, 2)};
  IrNode *r1 = new_node(ox, c, IR_OP_RESHAPE, nm, in, 2, NULL, 1);
  if (!r1 || !finish_node(ox, r1)) return false;
  IrValue *flat_v = r1->outputs[0];
  IrNode *s = new_node(ox, c, op, c->name, &flat_v, 1, NULL, 1);
  if (!s) return false;
  ir_set_attr_i(ox->fe.g, s, "axis", -1);
  if (!finish_node(ox, s)) return false;
  IrValue *back[2] = {s->outputs[0], const_i64(ox, c->name, x->dims, x->rank)};
  fe_path(nm, sizeof nm, "%.200s/unflatten", c->name);
  const char *outs[1] = {c->p->output[0]};
  IrNode *r2 = new_node(ox, c, IR_OP_RESHAPE, nm, back, 2, outs, 1);
  return r2 && finish_node(ox, r2);
}

/* Constant: the tensor (or number, list) becomes an initializer. */
static bool adapt_constant(Ox *ox, const ONodeCtx *c, IrOp op) {
  (void)op;
  char w[FE_WHERE + 128];
  if (c->p->n_attribute != 1 || c->p->n_output != 1 || !c->p->output[0][0]) {
    ir_diag_error(ox->fe.d, c->where, "Constant needs exactly one attribute and one output");
    return false;
  }
  const OAttr *a = c->p->attribute[0];
  const char *an = a->name ? a->name : "";
  attr_where(w, sizeof w, c, an);
  int t = attr_type(a);
  const char *out = c->p->output[0];
  if (!strcmp(an, "value") && t == 4 && a->t) return constant_tensor(ox, a->t, out, w);
  OTensor tp = ONNX__TENSOR_PROTO__INIT;
  int64_t dim;
  if (!strcmp(an, "value_float") && t == 1) {
    tp.has_data_type = 1, tp.data_type = 1, tp.n_float_data = 1, tp.float_data = (float *)&a->f;
  } else if (!strcmp(an, "value_int") && t == 2) {
    tp.has_data_type = 1, tp.data_type = 7, tp.n_int64_data = 1, tp.int64_data = (int64_t *)&a->i;
  } else if (!strcmp(an, "value_floats") && t == 6 && a->n_floats) {
    dim = (int64_t)a->n_floats;
    tp.has_data_type = 1, tp.data_type = 1, tp.n_dims = 1, tp.dims = &dim;
    tp.n_float_data = a->n_floats, tp.float_data = a->floats;
  } else if (!strcmp(an, "value_ints") && t == 7 && a->n_ints) {
    dim = (int64_t)a->n_ints;
    tp.has_data_type = 1, tp.data_type = 7, tp.n_dims = 1, tp.dims = &dim;
    tp.n_int64_data = a->n_ints, tp.int64_data = a->ints;
  } else {
    ir_diag_error(ox->fe.d, w, "a Constant of attribute '%s' (%s) is not supported", an,
                  attr_type_name(t));
    return false;
  }
  return tensor_value(ox, &tp, out, w) != NULL;
}

/* ConstantOfShape: the shape must be constant; the output is an initializer of the `value`
 * tensor's type (default f32 0). */
static bool adapt_constant_of_shape(Ox *ox, const ONodeCtx *c, IrOp op) {
  (void)op;
  const OAttr *val;
  if (!get_attr(ox, c, "value", 4, &val)) return false;
  IrValue *s = c->n_in ? c->in[0] : NULL;
  if (!s || s->kind != IR_VALUE_CONST || s->dtype != IR_I64 || s->rank != 1 ||
      c->p->n_output != 1 || !c->p->output[0][0]) {
    ir_diag_error(ox->fe.d, c->where,
                  "ConstantOfShape needs a constant 1-D int64 shape (it is computed at run time "
                  "here; fix the input shapes with --input-shape)");
    return false;
  }
  OTensor tp = ONNX__TENSOR_PROTO__INIT;
  float zero = 0;
  if (val && val->t) {
    tp = *val->t;
  } else {
    tp.has_data_type = 1, tp.data_type = 1, tp.n_float_data = 1, tp.float_data = &zero;
  }
  char w[FE_WHERE + 128];
  attr_where(w, sizeof w, c, "value");
  int64_t one = 1;
  if (tp.n_dims > 1 || (tp.n_dims == 1 && tp.dims[0] != 1)) {
    ir_diag_error(ox->fe.d, w, "the value must be a one-element tensor");
    return false;
  }
  tp.n_dims = 1, tp.dims = &one;
  IrValue *elem = tensor_value(ox, &tp, c->p->output[0], w);
  if (!elem) return false;
  /* the output: elem broadcast to the shape */
  int64_t dims[IR_MAX_RANK];
  const int64_t *sd = s->data;
  if (!check_dims(ox, c->where, (size_t)s->dims[0], sd, elem->dtype, dims)) return false;
  IrValue *v = elem;
  v->rank = (int)s->dims[0];
  memcpy(v->dims, dims, sizeof(int64_t) * (size_t)v->rank);
  int64_t numel = ir_value_numel(v), nb = ir_value_nbytes(v);
  if (nb > OX_FOLD_MAX_BYTES) {
    ir_diag_error(ox->fe.d, c->where, "the constant would take %lld bytes (more than 64 MiB)",
                  (long long)nb);
    return false;
  }
  size_t es = ir_dtype_size(v->dtype);
  uint8_t *data = ir_arena_alloc(ox->fe.g->arena, (size_t)nb + 1);
  for (int64_t i = 0; i < numel; i++) memcpy(data + (size_t)i * es, v->data, es);
  v->data = data;
  return true;
}

/* Einsum of two f32 operands in a batched-matmul form ("bij,bjk->bik", "bhid,bhjd->bhij",
 * "ij,jk", "bi,bj->bij" ...) becomes Transpose / Reshape / MatMul / Reshape / Transpose, so that it
 * runs on the tiled GEMM kernel; any other equation (ellipsis, repeated labels, a label summed
 * within one operand, broadcast sizes, one or three operands) keeps the generic Einsum loop nest.
 * Labels: batch (both operands and the output), m (A and the output), n (B and the output), k
 * (A and B, summed). A is permuted to [batch, m, k] and viewed as [batch, M, K], B to
 * [batch, k, n] as [batch, K, N]; the product [batch, M, N] is viewed as [batch, m, n] and
 * permuted to the output's order. Each step is omitted where it is the identity. */
enum { EIN_NONE = 0, EIN_BATCH, EIN_M, EIN_N, EIN_K };

static int ein_parse(const char *s, size_t len, int *labels) {
  int k = 0;
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    if (ch == ' ') continue;
    int l = ch >= 'a' && ch <= 'z' ? ch - 'a' : ch >= 'A' && ch <= 'Z' ? 26 + ch - 'A' : -1;
    if (l < 0 || k >= IR_MAX_RANK) return -1;
    for (int j = 0; j < k; j++)
      if (labels[j] == l) return -1; /* a diagonal */
    labels[k++] = l;
  }
  return k;
}

/* Appends a node of op reading `in` (its outputs named by out, or fresh) and finishes it. */
static IrValue *ein_step(Ox *ox, const ONodeCtx *c, IrOp op, const char *suffix, IrValue **in,
                         int n_in, const char *out, const int64_t *perm, int rank) {
  char nm[FE_MAX_NAME + 32];
  fe_path(nm, sizeof nm, "%.200s%s", c->name, suffix);
  const char *outs[1] = {out};
  IrNode *n = new_node(ox, c, op, out ? c->name : nm, in, n_in, outs, 1);
  if (!n) return NULL;
  if (perm) ir_set_attr_ints(ox->fe.g, n, "perm", perm, rank);
  return finish_node(ox, n) ? n->outputs[0] : NULL;
}

static IrValue *ein_reshape(Ox *ox, const ONodeCtx *c, const char *suffix, IrValue *x,
                            const int64_t *dims, int rank, const char *out) {
  IrValue *in[2] = {x, const_i64(ox, c->name, dims, rank)};
  return ein_step(ox, c, IR_OP_RESHAPE, suffix, in, 2, out, NULL, 0);
}

static bool adapt_einsum(Ox *ox, const ONodeCtx *c, IrOp op) {
  const OAttr *eq_attr;
  if (!get_attr(ox, c, "equation", 3, &eq_attr)) return false;
  IrValue *a = c->n_in == 2 ? c->in[0] : NULL, *b = c->n_in == 2 ? c->in[1] : NULL;
  if (!eq_attr || !a || !b || a->dtype != IR_F32 || b->dtype != IR_F32 || c->p->n_output != 1 ||
      !c->p->output[0][0] || eq_attr->s.len >= 256)
    return map_direct(ox, c, op);
  char eq[256];
  if (eq_attr->s.len) memcpy(eq, eq_attr->s.data, eq_attr->s.len); /* empty: data is NULL */
  eq[eq_attr->s.len] = 0;
  const char *comma = strchr(eq, ','), *arrow = strstr(eq, "->");
  if (!comma || (arrow && arrow < comma) || strchr(comma + 1, ',') || strchr(eq, '.'))
    return map_direct(ox, c, op);
  int la[IR_MAX_RANK], lb[IR_MAX_RANK], lo[IR_MAX_RANK];
  int ra = ein_parse(eq, (size_t)(comma - eq), la);
  int rb = ein_parse(comma + 1, arrow ? (size_t)(arrow - comma - 1) : strlen(comma + 1), lb);
  if (ra != a->rank || rb != b->rank) return map_direct(ox, c, op);
  int where[52] = {0}; /* bit 0: in A, bit 1: in B, bit 2: in the output */
  int64_t size[52];
  for (int i = 0; i < ra; i++) where[la[i]] |= 1, size[la[i]] = a->dims[i];
  for (int i = 0; i < rb; i++) {
    if ((where[lb[i]] & 1) && size[lb[i]] != b->dims[i]) return map_direct(ox, c, op);
    where[lb[i]] |= 2, size[lb[i]] = b->dims[i];
  }
  int ro;
  if (arrow) {
    ro = ein_parse(arrow + 2, strlen(arrow + 2), lo);
  } else { /* implicit output: the labels that occur once, alphabetically */
    ro = 0;
    for (int l = 0; l < 52; l++)
      if (where[l] == 1 || where[l] == 2) lo[ro++] = l;
  }
  if (ro <= 0) return map_direct(ox, c, op); /* a scalar result: no [1, 1] view (no empty shape) */
  for (int i = 0; i < ro; i++) {
    if (!where[lo[i]]) return map_direct(ox, c, op);
    where[lo[i]] |= 4;
  }
  /* the labels of each kind: batch, m, n in the output's order, k in A's */
  int kind[52] = {0}, lists[5][IR_MAX_RANK], cnt[5] = {0};
  for (int l = 0; l < 52; l++) {
    static const int kinds[8] = {EIN_NONE, EIN_NONE, EIN_NONE, EIN_K,
                                 EIN_NONE, EIN_M,    EIN_N,    EIN_BATCH};
    if (where[l] && (where[l] == 1 || where[l] == 2)) return map_direct(ox, c, op);
    kind[l] = kinds[where[l]];
  }
  for (int i = 0; i < ro; i++) lists[kind[lo[i]]][cnt[kind[lo[i]]]++] = lo[i];
  for (int i = 0; i < ra; i++)
    if (kind[la[i]] == EIN_K) lists[EIN_K][cnt[EIN_K]++] = la[i];
  int nb = cnt[EIN_BATCH];
  if (nb + 2 > IR_MAX_RANK) return map_direct(ox, c, op);
  int64_t M = 1, N = 1, K = 1;
  for (int i = 0; i < cnt[EIN_M]; i++) M *= size[lists[EIN_M][i]];
  for (int i = 0; i < cnt[EIN_N]; i++) N *= size[lists[EIN_N][i]];
  for (int i = 0; i < cnt[EIN_K]; i++) K *= size[lists[EIN_K][i]];

  /* operand x (labels lx, rank rx) permuted to the label order `order` and viewed as
   * [batch, rows, cols] */
  IrValue *ops[2] = {a, b};
  const int *lx[2] = {la, lb};
  int rx[2] = {ra, rb};
  for (int t = 0; t < 2; t++) {
    int order[IR_MAX_RANK], no = 0;
    const int parts[2][3] = {{EIN_BATCH, EIN_M, EIN_K}, {EIN_BATCH, EIN_K, EIN_N}};
    for (int p = 0; p < 3; p++)
      for (int i = 0; i < cnt[parts[t][p]]; i++) order[no++] = lists[parts[t][p]][i];
    int64_t perm[IR_MAX_RANK];
    bool identity = true;
    for (int i = 0; i < no; i++) {
      for (int j = 0; j < rx[t]; j++)
        if (lx[t][j] == order[i]) perm[i] = j;
      identity &= perm[i] == i;
    }
    if (!identity) {
      ops[t] = ein_step(ox, c, IR_OP_TRANSPOSE, t ? "/transpose_b" : "/transpose_a", &ops[t], 1,
                        NULL, perm, no);
      if (!ops[t]) return false;
    }
    int64_t view[IR_MAX_RANK];
    for (int i = 0; i < nb; i++) view[i] = size[lists[EIN_BATCH][i]];
    view[nb] = t ? K : M;
    view[nb + 1] = t ? N : K;
    bool same = ops[t]->rank == nb + 2;
    for (int i = 0; same && i < nb + 2; i++) same = ops[t]->dims[i] == view[i];
    if (!same &&
        !(ops[t] = ein_reshape(ox, c, t ? "/view_b" : "/view_a", ops[t], view, nb + 2, NULL)))
      return false;
  }
  /* the product, its view as [batch, m, n], the output permutation; the last step is named as
   * the ONNX output */
  int64_t out_dims[IR_MAX_RANK], perm[IR_MAX_RANK];
  int order[IR_MAX_RANK], no = 0;
  const int parts[3] = {EIN_BATCH, EIN_M, EIN_N};
  for (int p = 0; p < 3; p++)
    for (int i = 0; i < cnt[parts[p]]; i++) order[no++] = lists[parts[p]][i];
  bool identity = true;
  for (int i = 0; i < no; i++) out_dims[i] = size[order[i]];
  for (int i = 0; i < ro; i++) {
    for (int j = 0; j < no; j++)
      if (order[j] == lo[i]) perm[i] = j;
    identity &= perm[i] == i;
  }
  bool view = no != nb + 2 || cnt[EIN_M] != 1 || cnt[EIN_N] != 1;
  const char *out = c->p->output[0];
  IrValue *y =
      ein_step(ox, c, IR_OP_MATMUL, "/matmul", ops, 2, view || !identity ? NULL : out, NULL, 0);
  if (y && view) y = ein_reshape(ox, c, "/unview", y, out_dims, no, identity ? out : NULL);
  if (y && !identity) y = ein_step(ox, c, IR_OP_TRANSPOSE, "/transpose_y", &y, 1, out, perm, ro);
  return y != NULL;
}

/* GroupNormalization 18+: X [N, C, D...] viewed as [N, G, C/G * D...], normalized over the last
 * axis (InstanceNormalization with unit scale, zero bias), reshaped back, then times scale and
 * plus bias per channel ([C, 1, ...] constants: opset 18's per-group values repeated over each
 * group's C/G channels, opset 21's per-channel ones as given). stash_type (21) is ignored: Kiln
 * computes in f32. */
static bool adapt_group_norm(Ox *ox, const ONodeCtx *c, IrOp op) {
  const OAttr *ng, *eps, *stash;
  if (!get_attr(ox, c, "num_groups", 2, &ng) || !get_attr(ox, c, "epsilon", 1, &eps) ||
      !get_attr(ox, c, "stash_type", 2, &stash))
    return false;
  char w[FE_WHERE + 64];
  if (!ng) {
    attr_where(w, sizeof w, c, "num_groups");
    ir_diag_error(ox->fe.d, w, "required attribute is missing");
    return false;
  }
  if (c->n_in != 3 || !c->in[0] || !c->in[1] || !c->in[2] || c->p->n_output != 1) {
    ir_diag_error(ox->fe.d, c->where, "GroupNormalization takes X, scale and bias, and one output");
    return false;
  }
  const IrValue *x = c->in[0];
  if (x->dtype != IR_F32 || x->rank < 2) {
    fe_path(w, sizeof w, "%s.input[0]", c->where);
    ir_diag_error(ox->fe.d, w, "X must be f32 [N, C, ...], got %s of rank %d",
                  ir_dtype_name(x->dtype), x->rank);
    return false;
  }
  int64_t C = x->dims[1], G = ng->i, len = 1;
  for (int i = 1; i < x->rank; i++) len *= x->dims[i];
  if (G < 1 || C % G) {
    attr_where(w, sizeof w, c, "num_groups");
    ir_diag_error(ox->fe.d, w, "%lld groups do not divide %lld channels", (long long)G,
                  (long long)C);
    return false;
  }
  int64_t per = ox->opset >= 21 ? C : G;
  for (int k = 1; k < 3; k++) {
    const IrValue *v = c->in[k];
    if (v->kind != IR_VALUE_CONST || v->dtype != IR_F32 || ir_value_numel(v) != per) {
      fe_path(w, sizeof w, "%s.input[%d]", c->where, k);
      ir_diag_error(ox->fe.d, w, "%s must be an f32 initializer of %lld values (one per %s)",
                    k == 1 ? "scale" : "bias", (long long)per, per == C ? "channel" : "group");
      return false;
    }
  }
  int64_t grouped[3] = {x->dims[0], G, len / G}, cdims[IR_MAX_RANK];
  IrValue *flat = ein_reshape(ox, c, "/groups", c->in[0], grouped, 3, NULL);
  if (!flat) return false;
  IrValue *unit[2];
  for (int k = 0; k < 2; k++) {
    unit[k] = fresh_value(ox, c->name, IR_VALUE_CONST, IR_F32, 1, &G);
    float *d = ir_arena_alloc(ox->fe.g->arena, sizeof(float) * (size_t)G);
    for (int64_t i = 0; i < G; i++) d[i] = k == 0 ? 1.0f : 0.0f;
    unit[k]->data = d, unit[k]->src_path = unit[k]->name;
  }
  IrValue *in3[3] = {flat, unit[0], unit[1]};
  char nm[FE_MAX_NAME + 32];
  fe_path(nm, sizeof nm, "%.200s/normalize", c->name);
  IrNode *norm = new_node(ox, c, op, nm, in3, 3, NULL, 1);
  if (!norm) return false;
  ir_set_attr_f(ox->fe.g, norm, "epsilon", eps ? eps->f : 1e-5);
  if (!finish_node(ox, norm)) return false;
  IrValue *back = ein_reshape(ox, c, "/ungroup", norm->outputs[0], x->dims, x->rank, NULL);
  if (!back) return false;
  cdims[0] = C;
  for (int i = 1; i < x->rank - 1; i++) cdims[i] = 1;
  IrValue *chan[2];
  for (int k = 0; k < 2; k++) { /* per channel, [C, 1, ...] */
    chan[k] = fresh_value(ox, c->name, IR_VALUE_CONST, IR_F32, x->rank - 1, cdims);
    float *d = ir_arena_alloc(ox->fe.g->arena, sizeof(float) * (size_t)C);
    const float *v = c->in[1 + k]->data;
    for (int64_t i = 0; i < C; i++) d[i] = v[per == C ? i : i / (C / G)];
    chan[k]->data = d, chan[k]->src_path = chan[k]->name;
  }
  IrValue *mul_in[2] = {back, chan[0]};
  IrValue *scaled = ein_step(ox, c, IR_OP_MUL, "/scale", mul_in, 2, NULL, NULL, 0);
  if (!scaled) return false;
  IrValue *add_in[2] = {scaled, chan[1]};
  return ein_step(ox, c, IR_OP_ADD, "/bias", add_in, 2, c->p->output[0], NULL, 0) != NULL;
}

/* Cast to double: a Cast to float (f64 is computed in f32). */
static bool adapt_cast_f64(Ox *ox, const ONodeCtx *c, IrOp op) {
  const OAttr *to;
  if (!get_attr(ox, c, "to", 2, &to)) return false;
  if (!to || to->i != ONNX_DOUBLE) return map_direct(ox, c, op);
  IrNode *n = emit(ox, c, op, c->in, c->n_in, NULL);
  if (!n) return false;
  ir_set_attr_i(ox->fe.g, n, "to", ONNX_FLOAT);
  ir_diag_warning(ox->fe.d, c->where, "Cast to double is computed as a Cast to float32");
  return finish_node(ox, n);
}

/* ---- quantized ONNX ops as QDQ ------------------------------------------------------------
 * QLinearConv, QLinearMatMul, ConvInteger and MatMulInteger become the float op between
 * DequantizeLinear nodes (and a QuantizeLinear for the QLinear ops): the form ONNX Runtime's QDQ
 * quantizer writes, which the qdq pass (passes/pass_qdq.c) maps onto the int8 kernels. The
 * quant parameters are checked here, naming the ONNX node's input. */

/* Input ks (a scale) and zs (its zero point, may be omitted) of c: constants; scales f32,
 * positive, finite, `count` values or 1; the zero point of the data input's dtype (i8 or u8),
 * as many as the scales. ks < 0: no scale (ConvInteger / MatMulInteger: 1). */
static bool check_qparams(Ox *ox, const ONodeCtx *c, int ks, int zs, int data, int64_t count) {
  char w[FE_WHERE + 64], shown[96];
  const IrValue *x = data >= 0 && data < c->n_in ? c->in[data] : NULL;
  const IrValue *s = ks >= 0 && ks < c->n_in ? c->in[ks] : NULL;
  const IrValue *z = zs < c->n_in ? c->in[zs] : NULL;
  int64_t ns = 1;
  if (ks >= 0) {
    fe_path(w, sizeof w, "%s.input[%d]", c->where, ks);
    if (!s) {
      ir_diag_error(ox->fe.d, w, "the scale is missing");
      return false;
    }
    if (s->kind != IR_VALUE_CONST || s->dtype != IR_F32 || s->rank > 1 ||
        (ir_value_numel(s) != 1 && ir_value_numel(s) != count)) {
      ir_diag_error(ox->fe.d, w,
                    "scale '%s' must be an f32 initializer of 1 value or %lld, got %s%s of %lld",
                    fe_disp(shown, sizeof shown, s->name), (long long)count,
                    s->kind == IR_VALUE_CONST ? "" : "a computed ", ir_dtype_name(s->dtype),
                    (long long)ir_value_numel(s));
      return false;
    }
    ns = ir_value_numel(s);
    for (int64_t i = 0; i < ns; i++) {
      float f = ((const float *)s->data)[i];
      if (!(f > 0) || !isfinite(f)) {
        ir_diag_error(ox->fe.d, w, "scale[%lld] must be a positive finite number, got %g",
                      (long long)i, (double)f);
        return false;
      }
    }
  }
  if (!z || (data >= 0 && !x)) return true;
  fe_path(w, sizeof w, "%s.input[%d]", c->where, zs);
  /* data < 0 (an output's zero point): i8 or u8 */
  IrDType want = x ? x->dtype : z->dtype;
  if (z->kind != IR_VALUE_CONST || z->dtype != want || (want != IR_I8 && want != IR_U8)) {
    ir_diag_error(ox->fe.d, w, "zero point '%s' must be an i8 or u8 initializer%s%s, got %s%s",
                  fe_disp(shown, sizeof shown, z->name), x ? " of the data's dtype " : "",
                  x ? ir_dtype_name(x->dtype) : "", z->kind == IR_VALUE_CONST ? "" : "a computed ",
                  ir_dtype_name(z->dtype));
    return false;
  }
  int64_t nz = ir_value_numel(z);
  if (z->rank > 1 || (ks >= 0 ? nz != ns : nz != 1 && nz != count)) {
    ir_diag_error(ox->fe.d, w, "%lld zero points for %lld scale%s", (long long)nz,
                  (long long)(ks >= 0 ? ns : count), (ks >= 0 ? ns : count) == 1 ? "" : "s");
    return false;
  }
  return true;
}

/* A DequantizeLinear (or QuantizeLinear) node of c named NAME/suffix: x with the scale (NULL:
 * 1.0, as many as the zero point's) and zero point (may be NULL) along axis. */
static IrValue *qdq_node(Ox *ox, const ONodeCtx *c, IrOp op, const char *suffix, IrValue *x,
                         IrValue *scale, IrValue *zp, int64_t axis, const char *out_name) {
  char nm[FE_MAX_NAME + 32];
  fe_path(nm, sizeof nm, "%.200s/%s", c->name, suffix);
  if (!scale) {
    int64_t count = zp ? ir_value_numel(zp) : 1;
    scale =
        fresh_value(ox, c->name, IR_VALUE_CONST, IR_F32, zp ? zp->rank : 0, zp ? zp->dims : NULL);
    float *f = ir_arena_alloc(ox->fe.g->arena, sizeof(float) * (size_t)count);
    for (int64_t i = 0; i < count; i++) f[i] = 1.0f;
    scale->data = f;
    scale->src_path = scale->name;
  }
  IrValue *in[3] = {x, scale, zp};
  const char *outs[1] = {out_name};
  IrNode *n = new_node(ox, c, op, nm, in, zp ? 3 : 2, out_name ? outs : NULL, 1);
  if (!n) return NULL;
  if (ir_value_numel(scale) > 1 || (zp && ir_value_numel(zp) > 1))
    ir_set_attr_i(ox->fe.g, n, "axis", axis);
  return finish_node(ox, n) ? n->outputs[0] : NULL;
}

/* The float op of c on its dequantized inputs: Conv/MatMul with c's attributes. */
static IrValue *float_op(Ox *ox, const ONodeCtx *c, IrOp op, IrValue **in, int n_in,
                         const char *out_name) {
  char nm[FE_MAX_NAME + 32];
  fe_path(nm, sizeof nm, "%.200s/float", c->name);
  const char *outs[1] = {out_name};
  IrNode *n = new_node(ox, c, op, nm, in, n_in, out_name ? outs : NULL, 1);
  if (!n || !copy_attrs(ox, c, n, NULL) || !finish_node(ox, n)) return NULL;
  return n->outputs[0];
}

/* QuantizeLinear / DequantizeLinear 21+: block_size 0 (and output_dtype 0 or the zero point's
 * dtype) map directly. A blocked DequantizeLinear (scale and zero point with ceil(d / block_size)
 * entries along `axis`, x's size elsewhere) of constant data, the form of blocked weights, folds
 * into an f32 initializer; a blocked QuantizeLinear, or one of run-time data, is refused. */
static bool adapt_qdq21(Ox *ox, const ONodeCtx *c, IrOp op) {
  const OAttr *bs, *ax, *od = NULL;
  if (!get_attr(ox, c, "block_size", 2, &bs) || !get_attr(ox, c, "axis", 2, &ax) ||
      (op == IR_OP_QUANTIZE_LINEAR && !get_attr(ox, c, "output_dtype", 2, &od)))
    return false;
  const IrValue *x = c->n_in > 0 ? c->in[0] : NULL, *s = c->n_in > 1 ? c->in[1] : NULL;
  const IrValue *z = c->n_in > 2 ? c->in[2] : NULL;
  char w[FE_WHERE + 64];
  if (od && od->i != 0) {
    IrDType want;
    attr_where(w, sizeof w, c, "output_dtype");
    if (!onnx_dtype((int32_t)od->i, &want) || want != (z ? z->dtype : IR_U8)) {
      ir_diag_error(ox->fe.d, w, "output_dtype %lld must be the zero point's dtype (%s)",
                    (long long)od->i,
                    z ? ir_dtype_name(z->dtype) : "u8, as no zero point is given");
      return false;
    }
  }
  static const char *const skip[] = {"block_size", "output_dtype", NULL};
  if (!bs || bs->i == 0) {
    IrNode *n = emit(ox, c, op, c->in, c->n_in, skip);
    return n && finish_node(ox, n);
  }
  attr_where(w, sizeof w, c, "block_size");
  if (op == IR_OP_QUANTIZE_LINEAR || bs->i < 0 || !x || !s || x->kind != IR_VALUE_CONST ||
      s->kind != IR_VALUE_CONST || (z && z->kind != IR_VALUE_CONST) ||
      (x->dtype != IR_I8 && x->dtype != IR_U8) || s->dtype != IR_F32 ||
      (z && z->dtype != x->dtype) || c->p->n_output != 1) {
    ir_diag_error(ox->fe.d, w,
                  "block_size %lld: only a DequantizeLinear of constant i8/u8 data with f32 "
                  "scales (blocked weights) is supported",
                  (long long)bs->i);
    return false;
  }
  int64_t axis = ax ? ax->i : 1;
  if (axis < -x->rank || axis >= x->rank) {
    attr_where(w, sizeof w, c, "axis");
    ir_diag_error(ox->fe.d, w, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
    return false;
  }
  if (axis < 0) axis += x->rank;
  int64_t want[IR_MAX_RANK];
  for (int i = 0; i < x->rank; i++)
    want[i] = i == axis ? (x->dims[i] + bs->i - 1) / bs->i : x->dims[i];
  for (int k = 1; k < 3; k++) {
    const IrValue *v = k == 1 ? s : z;
    if (!v) continue;
    bool ok = v->rank == x->rank;
    for (int i = 0; ok && i < x->rank; i++) ok = v->dims[i] == want[i];
    if (!ok) {
      fe_path(w, sizeof w, "%s.input[%d]", c->where, k);
      ir_diag_error(ox->fe.d, w,
                    "%s must have the data's shape with %lld entries along axis %lld "
                    "(block_size %lld)",
                    k == 1 ? "the scale" : "the zero point", (long long)want[axis], (long long)axis,
                    (long long)bs->i);
      return false;
    }
  }
  int64_t n = ir_value_numel(x);
  float *y = malloc(sizeof(float) * (size_t)n);
  if (!y) abort();
  for (int64_t e = 0; e < n; e++) {
    int64_t rest = e, off = 0, stride = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
      int64_t coord = rest % x->dims[i];
      rest /= x->dims[i];
      off += (i == axis ? coord / bs->i : coord) * stride;
      stride *= want[i];
    }
    double q = x->dtype == IR_I8 ? ((const int8_t *)x->data)[e] : ((const uint8_t *)x->data)[e];
    double zp = !z                  ? 0
                : x->dtype == IR_I8 ? ((const int8_t *)z->data)[off]
                                    : ((const uint8_t *)z->data)[off];
    y[e] = (float)((q - zp) * ((const float *)s->data)[off]);
  }
  OTensor tp = ONNX__TENSOR_PROTO__INIT;
  tp.has_data_type = 1, tp.data_type = ONNX_FLOAT, tp.n_dims = (size_t)x->rank;
  tp.dims = (int64_t *)x->dims, tp.n_float_data = (size_t)n, tp.float_data = y;
  attr_where(w, sizeof w, c, "block_size");
  bool ok = tensor_value(ox, &tp, c->p->output[0], w) != NULL;
  free(y);
  return ok;
}

/* QLinearConv (x, xs, xz, w, ws, wz, ys, yz[, B]) and QLinearMatMul (a, as, az, b, bs, bz, ys,
 * yz): y = Q(op(DQ(x), DQ(w)[, DQ(B, xs * ws)]), ys, yz). */
static bool adapt_qlinear(Ox *ox, const ONodeCtx *c, IrOp op) {
  (void)op;
  bool conv = !strcmp(c->p->op_type, "QLinearConv");
  if (c->n_in < 8 || !c->in[0] || !c->in[3] || c->p->n_output != 1) {
    ir_diag_error(ox->fe.d, c->where, "%s takes 8%s inputs and one output", c->p->op_type,
                  conv ? " or 9" : "");
    return false;
  }
  IrValue *x = c->in[0], *w = c->in[3];
  /* weights: per output channel along axis 0 (Conv's M) or 1 (MatMul's N) */
  int64_t axis = conv ? 0 : w->rank - 1, count = w->rank ? w->dims[axis] : 1;
  if (!check_qparams(ox, c, 1, 2, 0, 1) || !check_qparams(ox, c, 4, 5, 3, count) ||
      !check_qparams(ox, c, 6, 7, -1, 1))
    return false;
  IrValue *xf = qdq_node(ox, c, IR_OP_DEQUANTIZE_LINEAR, "dq_x", x, c->in[1], c->in[2], 1, NULL);
  IrValue *wf =
      xf ? qdq_node(ox, c, IR_OP_DEQUANTIZE_LINEAR, "dq_w", w, c->in[4], c->in[5], axis, NULL)
         : NULL;
  if (!wf) return false;
  IrValue *in[3] = {xf, wf, NULL};
  if (conv && c->n_in > 8 && c->in[8]) { /* the bias: i32 with scale xs * ws, zero point 0 */
    IrValue *b = c->in[8], *ws = c->in[4];
    char where[FE_WHERE + 32];
    fe_path(where, sizeof where, "%s.input[8]", c->where);
    if (b->kind != IR_VALUE_CONST || b->dtype != IR_I32 || b->rank != 1 || b->dims[0] != count) {
      ir_diag_error(ox->fe.d, where, "the bias must be an i32 initializer of shape [%lld]",
                    (long long)count);
      return false;
    }
    int64_t ns = ir_value_numel(ws);
    IrValue *bs = fresh_value(ox, c->name, IR_VALUE_CONST, IR_F32, 1, (int64_t[]){ns});
    float *f = ir_arena_alloc(ox->fe.g->arena, sizeof(float) * (size_t)ns);
    for (int64_t i = 0; i < ns; i++)
      f[i] = *(const float *)c->in[1]->data * ((const float *)ws->data)[i];
    bs->data = f;
    bs->src_path = bs->name;
    in[2] = qdq_node(ox, c, IR_OP_DEQUANTIZE_LINEAR, "dq_b", b, bs, NULL, 0, NULL);
    if (!in[2]) return false;
  }
  IrValue *yf = float_op(ox, c, conv ? IR_OP_CONV : IR_OP_MATMUL, in, in[2] ? 3 : 2, NULL);
  if (!yf) return false;
  IrValue *ys = c->in[6], *yz = c->in[7];
  if (!yz) yz = const_scalar(ox, c->name, IR_U8, 0); /* ONNX's default output is u8 */
  return qdq_node(ox, c, IR_OP_QUANTIZE_LINEAR, "q_y", yf, ys, yz, 1, c->p->output[0]) != NULL;
}

/* Cast(c.in[data], f32) - Cast(c.in[zs], f32) for a zero point computed at run time (the one
 * DynamicQuantizeLinear writes, ONNX Runtime's dynamic quantization): a scalar of the data's
 * dtype (i8 or u8). The differences are integers, exact in f32. */
static bool check_computed_zp(Ox *ox, const ONodeCtx *c, int data, int zs) {
  IrValue *x = c->in[data], *z = c->in[zs];
  char w[FE_WHERE + 64], shown[96];
  if (ir_value_numel(z) != 1 || z->rank > 1 || z->dtype != x->dtype ||
      (x->dtype != IR_I8 && x->dtype != IR_U8)) {
    fe_path(w, sizeof w, "%s.input[%d]", c->where, zs);
    ir_diag_error(ox->fe.d, w,
                  "a computed zero point ('%s') must be one i8 or u8 value of the data's dtype "
                  "(%s), got %s of %lld",
                  fe_disp(shown, sizeof shown, z->name), ir_dtype_name(x->dtype),
                  ir_dtype_name(z->dtype), (long long)ir_value_numel(z));
    return false;
  }
  return true;
}

static IrValue *shifted_by_computed_zp(Ox *ox, const ONodeCtx *c, int data, int zs) {
  IrValue *x = c->in[data], *z = c->in[zs];
  char nm[FE_MAX_NAME + 32];
  if (!check_computed_zp(ox, c, data, zs)) return NULL;
  IrValue *f[2];
  for (int k = 0; k < 2; k++) {
    fe_path(nm, sizeof nm, "%.200s/%s%d", c->name, k ? "cast_zp" : "cast_x", data);
    IrNode *n = new_node(ox, c, IR_OP_CAST, nm, k ? &z : &x, 1, NULL, 1);
    if (!n) return NULL;
    ir_set_attr_i(ox->fe.g, n, "to", ONNX_FLOAT);
    if (!finish_node(ox, n)) return NULL;
    f[k] = n->outputs[0];
  }
  fe_path(nm, sizeof nm, "%.200s/sub_zp%d", c->name, data);
  IrNode *n = new_node(ox, c, IR_OP_SUB, nm, f, 2, NULL, 1);
  return n && finish_node(ox, n) ? n->outputs[0] : NULL;
}

/* ConvInteger (x, w[, xz, wz]) and MatMulInteger (a, b[, az, bz]): the i32 products of the
 * zero-point-shifted integers, as Cast(op(DQ(x, 1, xz), DQ(w, 1, wz)), i32). The float sums are
 * exact while they stay below 2^24 in magnitude (docs/onnx.md). */
static bool adapt_integer_op(Ox *ox, const ONodeCtx *c, IrOp op) {
  (void)op;
  bool conv = !strcmp(c->p->op_type, "ConvInteger");
  if (c->n_in < 2 || !c->in[0] || !c->in[1] || c->p->n_output != 1) {
    ir_diag_error(ox->fe.d, c->where, "%s takes 2 to 4 inputs and one output", c->p->op_type);
    return false;
  }
  IrValue *x = c->in[0], *w = c->in[1];
  int64_t axis = conv ? 0 : w->rank - 1, count = w->rank ? w->dims[axis] : 1;
  IrValue *xz = c->n_in > 2 ? c->in[2] : NULL, *wz = c->n_in > 3 ? c->in[3] : NULL;
  IrValue *xf = NULL, *wf = NULL;
  /* MatMulInteger of constant 2-D weights: the IR op of the int8 GEMM kernel, whose A zero
   * point may be computed (DynamicQuantizeLinear's) or constant (a Gather of an int8 table);
   * ConvInteger of constant 1-D or 2-D weights: the int8 conv kernel, the same zero points */
  bool i8x = x->dtype == IR_I8 || x->dtype == IR_U8, i8w = w->dtype == IR_I8 || w->dtype == IR_U8;
  bool int_op =
      conv ? (w->rank == 3 || w->rank == 4) && x->rank == w->rank : x->rank >= 1 && w->rank == 2;
  if (int_op && i8x && i8w && w->kind == IR_VALUE_CONST && (!wz || wz->kind == IR_VALUE_CONST)) {
    if (xz && xz->kind != IR_VALUE_CONST ? !check_computed_zp(ox, c, 0, 2)
                                         : !check_qparams(ox, c, -1, 2, 0, 1))
      return false;
    if (!check_qparams(ox, c, -1, 3, 1, count)) return false;
    IrValue *in[4] = {x, w, xz ? xz : const_scalar(ox, c->name, x->dtype, 0),
                      wz ? wz : const_scalar(ox, c->name, w->dtype, 0)};
    const char *outs[1] = {c->p->output[0]};
    IrNode *n =
        new_node(ox, c, conv ? IR_OP_CONV_INTEGER : IR_OP_MATMUL_INTEGER, c->name, in, 4, outs, 1);
    return n && (!conv || copy_attrs(ox, c, n, NULL)) && finish_node(ox, n);
  }
  if (xz && xz->kind != IR_VALUE_CONST) /* DynamicQuantizeLinear's: x - xz in f32 */
    xf = shifted_by_computed_zp(ox, c, 0, 2);
  else if (check_qparams(ox, c, -1, 2, 0, 1))
    xf = qdq_node(ox, c, IR_OP_DEQUANTIZE_LINEAR, "dq_x", x, NULL, xz, 1, NULL);
  if (xf && wz && wz->kind != IR_VALUE_CONST) /* both operands quantized at run time */
    wf = shifted_by_computed_zp(ox, c, 1, 3);
  else if (xf && check_qparams(ox, c, -1, 3, 1, count))
    wf = qdq_node(ox, c, IR_OP_DEQUANTIZE_LINEAR, "dq_w", w, NULL, wz, axis, NULL);
  if (!wf) return false;
  IrValue *in[2] = {xf, wf};
  IrValue *yf = float_op(ox, c, conv ? IR_OP_CONV : IR_OP_MATMUL, in, 2, NULL);
  if (!yf) return false;
  char nm[FE_MAX_NAME + 32];
  fe_path(nm, sizeof nm, "%.200s/cast", c->name);
  const char *outs[1] = {c->p->output[0]};
  IrNode *n = new_node(ox, c, IR_OP_CAST, nm, &yf, 1, outs, 1);
  if (!n) return false;
  ir_set_attr_i(ox->fe.g, n, "to", 6); /* ONNX INT32 */
  return finish_node(ox, n);
}

static bool inline_if(Ox *ox, const ONodeCtx *c, IrOp op);

typedef bool (*AdaptFn)(Ox *ox, const ONodeCtx *c, IrOp op);

/* The version adapters: ONNX op, the opsets the row covers, the IR op it maps to (NULL: the
 * op of the same name) and the rewrite. An op without a row maps one to one; a row with a NULL
 * rewrite and a reason refuses the op at those opsets. */
static const struct Adapter {
  const char *onnx;
  int min_opset, max_opset;
  const char *ir; /* IR op name; NULL: onnx */
  AdaptFn fn;
  const char *refuse; /* fn == NULL: why the op is refused */
} adapters[] = {
    {"Softmax", 1, 12, NULL, adapt_softmax_2d, NULL},
    {"LogSoftmax", 1, 12, NULL, adapt_softmax_2d, NULL},
    {"Hardmax", 1, 12, NULL, adapt_softmax_2d, NULL},
    {"Slice", 1, 9, NULL, adapt_slice_attrs, NULL},
    {"Squeeze", 1, 12, NULL, adapt_axes_attr, NULL},
    {"Unsqueeze", 1, 12, NULL, adapt_axes_attr, NULL},
    {"Pad", 1, 10, NULL, adapt_pad_attrs, NULL},
    {"Pad", 18, 99, NULL, adapt_pad_axes, NULL},
    {"GroupNormalization", 18, 99, "InstanceNormalization", adapt_group_norm, NULL},
    {"QuantizeLinear", 21, 99, NULL, adapt_qdq21, NULL},
    {"DequantizeLinear", 21, 99, NULL, adapt_qdq21, NULL},
    {"Clip", 1, 10, NULL, adapt_clip_attrs, NULL},
    {"Dropout", 1, 99, "Identity", adapt_dropout, NULL},
    {"RNN", 1, 99, NULL, adapt_recurrent, NULL},
    {"GRU", 1, 99, NULL, adapt_recurrent, NULL},
    {"LSTM", 1, 99, NULL, adapt_recurrent, NULL},
    {"BatchNormalization", 1, 8, NULL, adapt_batch_norm_spatial, NULL},
    {"Split", 18, 99, NULL, adapt_split_num_outputs, NULL},
    {"Constant", 1, 99, "Identity", adapt_constant, NULL},
    {"ConstantOfShape", 1, 99, "Identity", adapt_constant_of_shape, NULL},
    {"If", 1, 99, "Identity", inline_if, NULL},
    {"Resize", 10, 10, NULL, adapt_resize10, NULL},
    {"Cast", 1, 99, NULL, adapt_cast_f64, NULL},
    {"Einsum", 1, 99, NULL, adapt_einsum, NULL},
    {"QLinearConv", 10, 99, "QLinearConv", adapt_qlinear, NULL},
    {"QLinearMatMul", 10, 99, "QLinearConv", adapt_qlinear, NULL},
    {"ConvInteger", 10, 99, "QLinearConv", adapt_integer_op, NULL},
    {"MatMulInteger", 10, 99, "QLinearConv", adapt_integer_op, NULL},
    {"Loop", 1, 99, "Identity", NULL,
     "a Loop is control flow Kiln cannot compile (only an If with a constant condition folds)"},
    {"Scan", 1, 99, "Identity", NULL,
     "a Scan is control flow Kiln cannot compile (only an If with a constant condition folds)"},
};

static const struct Adapter *find_adapter(const char *op, int opset) {
  for (size_t i = 0; i < sizeof adapters / sizeof *adapters; i++)
    if (!strcmp(adapters[i].onnx, op) && opset >= adapters[i].min_opset &&
        opset <= adapters[i].max_opset)
      return &adapters[i];
  return NULL;
}

/* Whether an op is in the standard domain, and known to Kiln at this opset. */
static bool op_supported(Ox *ox, const ONode *p, IrOp *op, const struct Adapter **ad) {
  const char *type = p->op_type ? p->op_type : "";
  *ad = find_adapter(type, ox->opset);
  if (*ad) return ir_op_from_name((*ad)->ir ? (*ad)->ir : type, op);
  return ir_op_from_name(type, op);
}

static bool is_std_domain(const char *d) { return !d || !d[0] || !strcmp(d, "ai.onnx"); }

/* ---- graphs ------------------------------------------------------------------------------ */
static bool build_node(Ox *ox, const ONode *p, int index, const char *list, const char *prefix);

/* Initializers and nodes of g (the main graph or an inlined branch); `list` names its node
 * list in messages ("graph.node"), `prefix` its initializer list's parent ("graph"). */
static bool build_graph_body(Ox *ox, const OGraph *g, const char *prefix) {
  char where[FE_WHERE], shown[96];
  bool ok = true;
  for (size_t i = 0; i < g->n_initializer; i++) {
    const OTensor *t = g->initializer[i];
    const char *nm = t->name ? t->name : "";
    fe_path(where, sizeof where, "%s.initializer[%zu] (%s)", prefix, i,
            fe_disp(shown, sizeof shown, nm));
    if (!constant_tensor(ox, t, nm, where)) ok = false;
  }
  if (!ok) return false;
  char list[FE_WHERE];
  fe_path(list, sizeof list, "%s.node", prefix);
  const char *alist = ir_arena_strdup(ox->fe.g->arena, list);
  for (size_t i = 0; i < g->n_node; i++)
    if (!build_node(ox, g->node[i], (int)i, alist, prefix)) return false;
  return true;
}

static bool inline_if(Ox *ox, const ONodeCtx *c, IrOp op) {
  (void)op;
  IrValue *cond = c->n_in ? c->in[0] : NULL;
  if (!cond || cond->kind != IR_VALUE_CONST || ir_value_numel(cond) != 1 ||
      cond->dtype != IR_BOOL) {
    ir_diag_error(ox->fe.d, c->where,
                  "an If whose condition is computed at run time is control flow Kiln cannot "
                  "compile (a constant condition folds: fix inputs with --bind NAME=VALUE)");
    return false;
  }
  bool taken = *(const uint8_t *)cond->data != 0;
  const char *branch = taken ? "then_branch" : "else_branch";
  const OAttr *a;
  if (!get_attr(ox, c, branch, 5, &a)) return false;
  char w[FE_WHERE + 128];
  attr_where(w, sizeof w, c, branch);
  if (!a || !a->g) {
    ir_diag_error(ox->fe.d, c->where, "missing attribute '%s'", branch);
    return false;
  }
  if (++ox->depth > OX_MAX_DEPTH) {
    ir_diag_error(ox->fe.d, w, "If nested more than %d deep", OX_MAX_DEPTH);
    return false;
  }
  const OGraph *g = a->g;
  if (!build_graph_body(ox, g, w)) return false;
  ox->depth--;
  if (g->n_output != c->p->n_output) {
    ir_diag_error(ox->fe.d, w, "the branch has %zu outputs, the If %zu", g->n_output,
                  c->p->n_output);
    return false;
  }
  /* each If output is an Identity of the branch's output */
  for (size_t k = 0; k < g->n_output; k++) {
    const char *bn = g->output[k]->name ? g->output[k]->name : "";
    IrValue *v = ir_graph_find_value(ox->fe.g, bn);
    if (!v) {
      ir_diag_error(ox->fe.d, w, "branch output '%s' is not defined", bn);
      return false;
    }
    if (!c->p->output[k][0]) continue;
    char nm[FE_MAX_NAME + 32];
    fe_path(nm, sizeof nm, "%.200s/out%zu", c->name, k);
    const char *outs[1] = {c->p->output[k]};
    IrNode *n = new_node(ox, c, IR_OP_IDENTITY, nm, &v, 1, outs, 1);
    if (!n || !finish_node(ox, n)) return false;
  }
  return true;
}

static bool build_node(Ox *ox, const ONode *p, int index, const char *list, const char *prefix) {
  char where[FE_WHERE], shown[96], shown2[96];
  const char *type = p->op_type ? p->op_type : "";
  if (++ox->n_built > ox->fe.opt.max_nodes) {
    ir_diag_error(ox->fe.d, "graph.node", "more than the limit of %lld nodes (--max-nodes)",
                  (long long)ox->fe.opt.max_nodes);
    return false;
  }
  char defname[128];
  const char *name = p->name && p->name[0] ? p->name : NULL;
  if (!name) {
    fe_path(defname, sizeof defname, "%s_%d", fe_disp(shown, sizeof shown, type), index);
    name = defname;
  }
  fe_path(where, sizeof where, "%s.node[%d] (%s)", prefix, index,
          fe_disp(shown, sizeof shown, name));
  if (!check_name(ox, name, where, "node name")) return false;
  ONodeCtx c = {.p = p, .index = index, .list = list};
  c.where = ir_arena_strdup(ox->fe.g->arena, where);
  c.name = ir_arena_strdup(ox->fe.g->arena, name);
  if (!is_std_domain(p->domain)) {
    ir_diag_error(ox->fe.d, where,
                  "op '%s' of domain '%s' is not supported (Kiln reads the "
                  "standard ONNX domain only)",
                  fe_disp(shown, sizeof shown, type), fe_disp(shown2, sizeof shown2, p->domain));
    return false;
  }
  IrOp op;
  const struct Adapter *ad;
  if (!op_supported(ox, p, &op, &ad) || (ad && !ad->fn)) {
    ir_diag_error(ox->fe.d, where, "op '%s' %s", fe_disp(shown, sizeof shown, type),
                  ad && ad->refuse ? ad->refuse : "is not supported by Kiln");
    return false;
  }
  /* inputs: defined earlier (ONNX requires topological order) */
  c.in = ir_arena_alloc(ox->fe.g->arena, sizeof(IrValue *) * (p->n_input + 1));
  for (size_t k = 0; k < p->n_input; k++) {
    const char *s = p->input[k];
    if (!s[0]) continue;
    IrValue *v = ir_graph_find_value(ox->fe.g, s);
    if (!v && is_empty_name(ox, s)) { /* an empty constant: "not given" */
      c.n_in = (int)k + 1;
      continue;
    }
    if (!v) {
      ir_diag_error(ox->fe.d, where,
                    "input %zu '%s' is not defined by a graph input, an initializer or an "
                    "earlier node",
                    k, fe_disp(shown, sizeof shown, s));
      return false;
    }
    c.in[k] = v;
    c.n_in = (int)k + 1;
  }
  if (p->n_input > IR_MAX_VARIADIC || p->n_output > IR_MAX_VARIADIC) {
    ir_diag_error(ox->fe.d, where, "too many inputs or outputs");
    return false;
  }
  for (size_t k = 0; k < p->n_attribute; k++) {
    int t = attr_type(p->attribute[k]);
    const char *an = p->attribute[k]->name ? p->attribute[k]->name : "";
    if ((t == 5 || t == 10) && strcmp(type, "If") != 0) {
      char w[FE_WHERE + 128];
      attr_where(w, sizeof w, &c, an);
      ir_diag_error(ox->fe.d, w,
                    "a graph-valued attribute (%s) is control flow Kiln cannot "
                    "compile",
                    type);
      return false;
    }
  }
  return ad ? ad->fn(ox, &c, op) : map_direct(ox, &c, op);
}

/* "NAME=a,b,c" of a --input-shape / --bind list: the spec for `name`, or NULL. */
static const char *find_spec(const char *const *specs, int n, const char *name) {
  for (int i = 0; i < n; i++) {
    const char *eq = strrchr(specs[i], '=');
    if (eq && (size_t)(eq - specs[i]) == strlen(name) && !strncmp(specs[i], name, strlen(name)))
      return eq + 1;
  }
  return NULL;
}

/* Comma-separated numbers into out[] (at most max); count into *n. */
static bool parse_numbers(const char *s, double *out, int max, int *n) {
  *n = 0;
  while (*s) {
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || errno || !isfinite(x) || *n >= max) return false;
    out[(*n)++] = x;
    s = end;
    if (*s == ',') {
      s++;
      if (!*s) return false;
    } else if (*s) {
      return false;
    }
  }
  return *n > 0;
}

static bool build_inputs(Ox *ox, const OGraph *g) {
  char where[FE_WHERE], shown[96];
  const FeOptions *o = &ox->fe.opt;
  bool ok = true;
  /* every --input-shape / --bind must name an input */
  for (int pass = 0; pass < 2; pass++) {
    const char *const *specs = pass ? o->binds : o->input_shapes;
    int ns = pass ? o->n_binds : o->n_input_shapes;
    for (int i = 0; i < ns; i++) {
      const char *eq = strrchr(specs[i], '=');
      bool found = false;
      for (size_t k = 0; eq && k < g->n_input; k++) {
        const char *nm = g->input[k]->name ? g->input[k]->name : "";
        found |= strlen(nm) == (size_t)(eq - specs[i]) && !strncmp(nm, specs[i], strlen(nm));
      }
      if (!found) {
        ir_diag_error(ox->fe.d, pass ? "--bind" : "--input-shape", "'%s': %s",
                      fe_disp(shown, sizeof shown, specs[i]),
                      eq ? "the model has no graph input of that name" : "expected NAME=VALUES");
        ok = false;
      }
    }
  }
  if (!ok) return false;
  for (size_t i = 0; i < g->n_input; i++) {
    const Onnx__ValueInfoProto *vi = g->input[i];
    const char *nm = vi->name ? vi->name : "";
    fe_path(where, sizeof where, "graph.input[%zu] (%s)", i, fe_disp(shown, sizeof shown, nm));
    const IrValue *known = ir_graph_find_value(ox->fe.g, nm);
    if (known && known->kind == IR_VALUE_CONST) continue; /* also an initializer (IR < 4) */
    if (known) {
      ir_diag_error(ox->fe.d, where, "duplicate graph input '%s'",
                    fe_disp(shown, sizeof shown, nm));
      ok = false;
      continue;
    }
    if (!check_name(ox, nm, where, "value name")) {
      ok = false;
      continue;
    }
    const Onnx__TypeProto__Tensor *tt = vi->type ? vi->type->tensor_type : NULL;
    if (!tt) {
      ir_diag_error(ox->fe.d, where,
                    "not a tensor (sequences, maps and optionals are not "
                    "supported)");
      ok = false;
      continue;
    }
    IrDType dt;
    int32_t et = tt->has_elem_type ? tt->elem_type : 0;
    if (et == ONNX_DOUBLE) { /* computed in f32 (docs/onnx.md "f64") */
      dt = IR_F32;
      ir_diag_warning(ox->fe.d, where,
                      "input is double (f64): Kiln computes the model in float32; this input "
                      "takes float32 data");
    } else if (!onnx_dtype(et, &dt)) {
      ir_diag_error(ox->fe.d, where, "element type %d (%s) is not supported", (int)et,
                    onnx_dtype_name(et));
      ok = false;
      continue;
    }
    int rank = tt->shape ? (int)tt->shape->n_dim : 0;
    int64_t dims[IR_MAX_RANK];
    if (!tt->shape) {
      ir_diag_error(ox->fe.d, where, "no shape given (give it with --input-shape %s=D0,D1,...)",
                    fe_disp(shown, sizeof shown, nm));
      ok = false;
      continue;
    }
    if (rank > IR_MAX_RANK) {
      ir_diag_error(ox->fe.d, where, "rank %d is more than the maximum %d", rank, IR_MAX_RANK);
      ok = false;
      continue;
    }
    const char *spec = find_spec(o->input_shapes, o->n_input_shapes, nm);
    double given[IR_MAX_RANK + 1];
    int n_given = 0;
    if (spec && (!parse_numbers(spec, given, IR_MAX_RANK + 1, &n_given) || n_given != rank)) {
      ir_diag_error(ox->fe.d, "--input-shape",
                    "'%s=%s': expected %d dimensions (the input's rank), as D0,D1,...",
                    fe_disp(shown, sizeof shown, nm), spec, rank);
      ok = false;
      continue;
    }
    bool dims_ok = true;
    int sym_axis[IR_MAX_DYN], n_sym = 0;
    const char *sym[IR_MAX_DYN];
    for (int k = 0; k < rank && dims_ok; k++) {
      const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[k];
      bool fixed = dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      bool param = dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                   dm->dim_param && *dm->dim_param;
      if (!spec && param && n_sym < IR_MAX_DYN &&
          fe_has_max_dim(&ox->fe, dm->dim_param)) { /* a run-time length */
        dims_ok = fe_max_dim(&ox->fe, dm->dim_param, where, &dims[k]);
        sym_axis[n_sym] = k;
        sym[n_sym++] = dm->dim_param;
      } else if (spec) {
        dims[k] = (int64_t)given[k];
        if (given[k] != floor(given[k]) || given[k] < 1 || given[k] > (double)IR_MAX_DIM ||
            (fixed && dm->dim_value != dims[k])) {
          ir_diag_error(ox->fe.d, "--input-shape",
                        "'%s=%s': dimension %d must be a positive integer%s", nm, spec, k,
                        fixed ? " equal to the model's" : "");
          dims_ok = false;
        }
      } else if (fixed && dm->dim_value >= 1 && dm->dim_value <= IR_MAX_DIM) {
        dims[k] = dm->dim_value;
      } else {
        const char *param =
            dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && dm->dim_param
                ? dm->dim_param
                : "?";
        if (fixed)
          ir_diag_error(ox->fe.d, where, "dimension %d is %lld (must be 1 to %lld)", k,
                        (long long)dm->dim_value, (long long)IR_MAX_DIM);
        else
          ir_diag_error(ox->fe.d, where,
                        "dimension %d ('%s') is not static: fix it with --input-shape %s=D0,D1,...",
                        k, fe_disp(shown, sizeof shown, param), nm);
        dims_ok = false;
      }
    }
    if (!dims_ok || !check_dims(ox, where, (size_t)rank, dims, dt, dims)) {
      ok = false;
      continue;
    }
    const char *bind = find_spec(o->binds, o->n_binds, nm);
    if (bind) { /* a constant now: every element, or one value per element */
      IrValue *v = ir_value_new(ox->fe.g, nm, IR_VALUE_CONST, dt, rank, dims);
      v->src_path = ir_arena_strdup(ox->fe.g->arena, where);
      int64_t numel = ir_value_numel(v);
      int nv = 0;
      double *vals = malloc(sizeof(double) * 4097);
      if (!vals) abort();
      if (!parse_numbers(bind, vals, 4097, &nv) || (nv != 1 && nv != numel)) {
        ir_diag_error(ox->fe.d, "--bind", "'%s=%s': expected 1 or %lld numbers",
                      fe_disp(shown, sizeof shown, nm), bind, (long long)numel);
        free(vals);
        ok = false;
        continue;
      }
      uint8_t *data = ir_arena_alloc(ox->fe.g->arena, (size_t)ir_value_nbytes(v) + 1);
      size_t es = ir_dtype_size(dt);
      for (int64_t e = 0; e < numel; e++)
        store_scalar(data + (size_t)e * es, dt, vals[nv == 1 ? 0 : e]);
      free(vals);
      v->data = data;
      continue;
    }
    IrValue *v = ir_value_new(ox->fe.g, nm, IR_VALUE_INPUT, dt, rank, dims);
    v->src_path = ir_arena_strdup(ox->fe.g->arena, where);
    ir_graph_add_input(ox->fe.g, v);
    for (int k = 0; k < n_sym; k++)
      fe_mark_dyn(&ox->fe, v, sym_axis[k], sym[k], dims[sym_axis[k]], where);
  }
  if (ok && !(fe_check_max_dims(&ox->fe) && ir_dyn_settle_inputs(ox->fe.g, ox->fe.d))) ok = false;
  if (ok && ox->fe.g->n_inputs == 0 && o->n_binds == 0) {
    ir_diag_error(ox->fe.d, "graph.input", "a model needs at least one input");
    ok = false;
  }
  return ok;
}

static bool build_outputs(Ox *ox, const OGraph *g) {
  char where[FE_WHERE], shown[96];
  if (g->n_output == 0) {
    ir_diag_error(ox->fe.d, "graph.output", "a model needs at least one output");
    return false;
  }
  for (size_t i = 0; i < g->n_output; i++) {
    const char *nm = g->output[i]->name ? g->output[i]->name : "";
    fe_path(where, sizeof where, "graph.output[%zu] (%s)", i, fe_disp(shown, sizeof shown, nm));
    IrValue *v = ir_graph_find_value(ox->fe.g, nm);
    if (!v) {
      ir_diag_error(ox->fe.d, where,
                    "value '%s' is not defined by any input, initializer or "
                    "node",
                    fe_disp(shown, sizeof shown, nm));
      return false;
    }
    if (v->is_output) {
      ir_diag_error(ox->fe.d, where, "'%s' is listed twice", fe_disp(shown, sizeof shown, nm));
      return false;
    }
    const Onnx__TypeProto__Tensor *tt = g->output[i]->type ? g->output[i]->type->tensor_type : NULL;
    IrDType dt;
    if (tt && tt->has_elem_type && tt->elem_type == ONNX_DOUBLE && v->dtype == IR_F32)
      ir_diag_warning(ox->fe.d, where,
                      "output is double (f64): Kiln computes the model in float32; this output "
                      "is float32");
    else if (tt && tt->has_elem_type && onnx_dtype(tt->elem_type, &dt) && dt != v->dtype) {
      ir_diag_error(ox->fe.d, where, "declared %s, inferred %s", onnx_dtype_name(tt->elem_type),
                    ir_dtype_name(v->dtype));
      return false;
    }
    ir_graph_add_output(ox->fe.g, v);
  }
  return true;
}

static void build_model(Ox *ox, const Onnx__ModelProto *m, const char *name) {
  IrDiag *d = ox->fe.d;
  if (!m->graph || m->n_opset_import == 0) {
    ir_diag_error(d, NULL, "not an ONNX model (no graph or no opset; empty file?)");
    return;
  }
  int64_t opset = -1;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *os = m->opset_import[i];
    if (is_std_domain(os->domain)) opset = os->has_version ? os->version : 0;
    /* other domains: accepted while no node uses them (build_node refuses those nodes) */
  }
  if (opset < OX_MIN_OPSET || opset > OX_MAX_OPSET) {
    if (opset < 0)
      ir_diag_error(d, "opset_import", "no opset of the standard ONNX domain");
    else
      ir_diag_error(d, "opset_import", "opset %lld is not supported (Kiln imports opsets %d to %d)",
                    (long long)opset, OX_MIN_OPSET, OX_MAX_OPSET);
    return;
  }
  ox->opset = (int)opset;
  if ((int64_t)m->graph->n_node > ox->fe.opt.max_nodes) {
    ir_diag_error(d, "graph.node", "%zu nodes, more than the limit of %lld (--max-nodes)",
                  m->graph->n_node, (long long)ox->fe.opt.max_nodes);
    return;
  }
  /* every unsupported op at once: a summary, then one line per op with its nodes */
  int total = 0, kinds = 0;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1 && total)
      ir_diag_error(d, "graph.node", "%d node%s use%s %d op%s Kiln does not support (at opset %d)",
                    total, total == 1 ? "" : "s", total == 1 ? "s" : "", kinds,
                    kinds == 1 ? "" : "s", ox->opset);
    for (size_t i = 0; i < m->graph->n_node; i++) {
      const ONode *p = m->graph->node[i];
      IrOp op;
      const struct Adapter *ad;
      if (!is_std_domain(p->domain) || (op_supported(ox, p, &op, &ad) && !(ad && !ad->fn)))
        continue;
      const char *type = p->op_type ? p->op_type : "";
      total += pass == 0;
      bool seen = false;
      for (size_t j = 0; j < i && !seen; j++) {
        const ONode *q = m->graph->node[j];
        seen = is_std_domain(q->domain) && q->op_type && !strcmp(q->op_type, type);
      }
      if (seen) continue;
      kinds += pass == 0;
      if (pass == 0) continue;
      char list[1024], shown[96];
      size_t o = 0;
      int listed = 0;
      list[0] = 0;
      for (size_t j = i; j < m->graph->n_node && o < sizeof list; j++) {
        const ONode *q = m->graph->node[j];
        if (!is_std_domain(q->domain) || !q->op_type || strcmp(q->op_type, type)) continue;
        char dn[128];
        if (q->name && q->name[0])
          fe_disp(dn, sizeof dn, q->name);
        else
          fe_path(dn, sizeof dn, "%s_%zu", fe_disp(shown, sizeof shown, type), j);
        o += (size_t)snprintf(list + o, sizeof list - o, "%s'%s'", listed++ ? ", " : "", dn);
      }
      ir_diag_error(d, "graph.node", "%s: %s%s%s%s", fe_disp(shown, sizeof shown, type), list,
                    ad && ad->refuse ? " (" : "", ad && ad->refuse ? ad->refuse : "",
                    ad && ad->refuse ? ")" : "");
    }
  }
  if (total) return;
  ox->fe.g = ir_graph_new(name);
  ox->fe.g->opset = 17; /* the IR's own semantics after the adapters */
  const OGraph *g = m->graph;
  /* initializers first (inputs may repeat them), then inputs, nodes, outputs */
  char where[FE_WHERE], shown[96];
  for (size_t i = 0; i < g->n_initializer; i++) {
    const OTensor *t = g->initializer[i];
    const char *nm = t->name ? t->name : "";
    fe_path(where, sizeof where, "graph.initializer[%zu] (%s)", i,
            fe_disp(shown, sizeof shown, nm));
    ox->in_initializers = true;
    bool ok = constant_tensor(ox, t, nm, where);
    ox->in_initializers = false;
    if (!ok) return;
  }
  if (!build_inputs(ox, g)) return;
  /* with a run-time length, Shape of a node's output folds too (exporters compute positions
   * and Reshape shapes from it): at the maximum here, again at each length (ir/dyn.c) */
  ox->fe.g->fold_open = ox->fe.g->n_dyn > 0;
  for (size_t i = 0; i < g->n_node; i++)
    if (!build_node(ox, g->node[i], (int)i, "graph.node", "graph")) return;
  if (!ir_dyn_close_folds(ox->fe.g, d)) return;
  if (!build_outputs(ox, g)) return;
  /* constants that folding or the adapters left unused (the JSON written by `kiln import`
   * holds only the used ones, so both frontends build the same graph) */
  ir_graph_drop_unused_values(ox->fe.g);
  if (ir_graph_sort(ox->fe.g, d) && ir_graph_verify(ox->fe.g, d)) return;
  if (d->n_errors == 0) ir_diag_error(d, NULL, "internal error: the verifier rejected the graph");
}

/* ---- nesting depth before libprotobuf-c ---------------------------------------------------- */
#define OX_MAX_NESTING 100 /* messages inside messages (an If inside an If adds 3) */

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

/* The nesting depth of the messages the schema knows, walked on the wire format (libprotobuf-c
 * recurses once per level, so a hostile file nested a million deep would overflow the stack).
 * Malformed bytes just end the walk: libprotobuf-c reports them. */
static int nesting(const uint8_t *p, const uint8_t *end, const ProtobufCMessageDescriptor *desc,
                   int depth) {
  int deepest = depth;
  while (p < end && deepest <= OX_MAX_NESTING) {
    uint64_t tag, n;
    if (!read_varint(&p, end, &tag)) break;
    switch (tag & 7) {
    case 0:
      if (!read_varint(&p, end, &n)) return deepest;
      break;
    case 1: p += (size_t)(end - p) < 8 ? (size_t)(end - p) : 8; break;
    case 5: p += (size_t)(end - p) < 4 ? (size_t)(end - p) : 4; break;
    case 2: {
      if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p)) return deepest;
      const ProtobufCMessageDescriptor *sub = NULL;
      for (unsigned f = 0; f < desc->n_fields; f++)
        if (desc->fields[f].id == (tag >> 3) && desc->fields[f].type == PROTOBUF_C_TYPE_MESSAGE)
          sub = desc->fields[f].descriptor;
      if (sub) {
        int d = nesting(p, p + n, sub, depth + 1);
        if (d > deepest) deepest = d;
      }
      p += n;
      break;
    }
    default: return deepest; /* groups or invalid: left to libprotobuf-c */
    }
  }
  return deepest;
}

/* ---- large payloads left out of what libprotobuf-c unpacks ---------------------------------- */
#define OX_STRIP_MIN 4096 /* raw_data of this many bytes or more is read in place */

typedef struct {
  uint8_t *p;
  size_t n, cap;
} OxBuf;

static void buf_put(OxBuf *b, const void *data, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) abort();
    b->cap = cap;
  }
  memcpy(b->p + b->n, data, n);
  b->n += n;
}

static void buf_varint(OxBuf *b, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  buf_put(b, tmp, n);
}

/* Copies the message [p, end) at `level` (0 ModelProto, 1 GraphProto, 2 TensorProto of
 * graph.initializer) into out, recursing into field 7 (graph) and then 5 (initializer), and
 * replacing each raw_data (TensorProto field 9) of OX_STRIP_MIN bytes or more by field
 * OX_RAW_FIELD = its index in ox->raws (an OX_RAW_FIELD already in the file is dropped). False
 * on anything malformed: the caller then unpacks the original bytes, which libprotobuf-c
 * rejects with its own message. */
static bool strip_message(Ox *ox, const uint8_t *base, const uint8_t *p, const uint8_t *end,
                          int level, OxBuf *out, size_t *cap_raws) {
  while (p < end) {
    const uint8_t *start = p;
    uint64_t tag, n;
    if (!read_varint(&p, end, &tag)) return false;
    uint64_t field = tag >> 3;
    switch (tag & 7) {
    case 0:
      if (!read_varint(&p, end, &n)) return false;
      break;
    case 1:
    case 5: {
      size_t k = (tag & 7) == 1 ? 8 : 4;
      if ((size_t)(end - p) < k) return false;
      p += k;
      break;
    }
    case 2: {
      if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p)) return false;
      const uint8_t *body = p;
      p += n;
      if ((level == 0 && field == 7) || (level == 1 && field == 5)) {
        OxBuf sub = {0};
        bool ok = strip_message(ox, base, body, body + n, level + 1, &sub, cap_raws);
        if (ok) {
          buf_varint(out, tag);
          buf_varint(out, sub.n);
          if (sub.n) buf_put(out, sub.p, sub.n);
        }
        free(sub.p);
        if (!ok) return false;
        continue;
      }
      if (level == 2 && field == 9 && n >= OX_STRIP_MIN) {
        if (ox->n_raws == *cap_raws) {
          *cap_raws = *cap_raws ? 2 * *cap_raws : 64;
          ox->raws = realloc(ox->raws, sizeof *ox->raws * *cap_raws);
          if (!ox->raws) abort();
        }
        ox->raws[ox->n_raws] = (struct OxRaw){(uint64_t)(body - base), n};
        buf_varint(out, (uint64_t)OX_RAW_FIELD << 3);
        buf_varint(out, ox->n_raws++);
        continue;
      }
      break;
    }
    default: return false; /* groups, invalid wire types */
    }
    if (level == 2 && field == OX_RAW_FIELD) continue;
    buf_put(out, start, (size_t)(p - start));
  }
  return true;
}

IrGraph *fe_parse_onnx(const void *data, size_t len, const char *base_dir, const char *default_name,
                       const FeOptions *o, IrDiag *d) {
  return fe_parse_onnx_mapped(data, len, false, base_dir, default_name, o, d);
}

IrGraph *fe_parse_onnx_mapped(const void *data, size_t len, bool mapped, const char *base_dir,
                              const char *default_name, const FeOptions *o, IrDiag *d) {
  int errs0 = d->n_errors;
  if (len == 0) {
    ir_diag_error(d, NULL, "not an ONNX model (no graph or no opset; empty file?)");
    return NULL;
  }
  if ((int64_t)len > FE_MAX_FILE_BYTES) {
    ir_diag_error(d, NULL, "the model is %zu bytes, more than the limit of 2 GiB", len);
    return NULL;
  }
  if (nesting(data, (const uint8_t *)data + len, &onnx__model_proto__descriptor, 0) >
      OX_MAX_NESTING) {
    ir_diag_error(d, NULL, "messages nested more than %d deep (not a model Kiln reads)",
                  OX_MAX_NESTING);
    return NULL;
  }
  Ox ox = {.fe = {.d = d, .base_dir = base_dir}, .raw_base = data, .mapped = mapped};
  OxBuf stripped = {0};
  size_t cap_raws = 0;
  if (!strip_message(&ox, data, data, (const uint8_t *)data + len, 0, &stripped, &cap_raws)) {
    free(stripped.p); /* malformed: libprotobuf-c gets the original bytes and says so */
    stripped = (OxBuf){0};
    ox.n_raws = 0;
  }
  Onnx__ModelProto *m = stripped.p ? onnx__model_proto__unpack(NULL, stripped.n, stripped.p)
                                   : onnx__model_proto__unpack(NULL, len, data);
  free(stripped.p);
  if (!m) {
    free(ox.raws);
    ir_diag_error(d, NULL,
                  "not an ONNX model (cannot parse it as an ONNX protobuf: truncated, or a field "
                  "of the wrong wire type)");
    return NULL;
  }
  ox.m = m;
  if (o) ox.fe.opt = *o;
  if (ox.fe.opt.max_weight_bytes <= 0) ox.fe.opt.max_weight_bytes = FE_DEFAULT_MAX_WEIGHT_BYTES;
  if (ox.fe.opt.max_nodes <= 0) ox.fe.opt.max_nodes = FE_DEFAULT_MAX_NODES;
  build_model(&ox, m, default_name && default_name[0] ? default_name : "model");
  onnx__model_proto__free_unpacked(m, NULL);
  free(ox.raws);
  for (int i = 0; i < ox.n_empty; i++) free(ox.empty[i]);
  free(ox.empty);
  if (d->n_errors != errs0) {
    if (ox.fe.g) ir_graph_free(ox.fe.g);
    return NULL;
  }
  return ox.fe.g;
}

bool fe_is_onnx_path(const char *path) {
  size_t n = strlen(path);
  return n > 5 && strcmp(path + n - 5, ".onnx") == 0;
}

typedef struct {
  void *addr;
  size_t len;
} OxMapping;

static void unmap_model(void *ctx) {
  OxMapping *mp = ctx;
  munmap(mp->addr, mp->len);
}

IrGraph *fe_load_onnx(const char *path, const FeOptions *o, IrDiag *d) {
  size_t len;
  bool mapped;
  /* mapped, not read: the weights in it are read in place or copied once (fe_parse_onnx_mapped) */
  void *buf = fe_map_model_file(path, "an ONNX model", "put the weights in external data", &len,
                                &mapped, d);
  if (!buf) return NULL;
  /* external data is relative to the model's folder; the model is named after the file */
  char *dir, *name;
  fe_split_model_path(path, ".onnx", &dir, &name);
  IrGraph *g = fe_parse_onnx_mapped(buf, len, mapped, dir, name, o, d);
  free(name);
  free(dir);
  if (!mapped) {
    free(buf);
  } else if (!g) {
    munmap(buf, len);
  } else { /* values may point into it */
    OxMapping *mp = ir_arena_alloc(g->arena, sizeof *mp);
    *mp = (OxMapping){buf, len};
    ir_graph_on_free(g, unmap_model, mp);
  }
  return g;
}
