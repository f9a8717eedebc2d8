/* IR -> Kiln model JSON + weights file (docs/model-format.md): what `kiln import` writes after
 * the ONNX importer built the graph, so that loading the JSON gives the same IR. Initializers
 * go to <stem>.weights.bin beside the JSON, each at a 64-byte aligned offset. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fe.h"
#include "fe_internal.h"

#define WRITE_ALIGN 64

/* A number written exactly (shortest text that reads back as x; cJSON's own printing rounds
 * to 15 digits when 17 are needed). */
static cJSON *num(double x) {
  char buf[64];
  return cJSON_CreateRaw(fe_fmt_num(buf, sizeof buf, x));
}

static cJSON *shape_json(const IrValue *v) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; i < v->rank; i++) cJSON_AddItemToArray(a, num((double)v->dims[i]));
  return a;
}

static cJSON *decl_json(const IrValue *v) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", v->name);
  cJSON_AddStringToObject(o, "dtype", ir_dtype_name(v->dtype));
  cJSON_AddItemToObject(o, "shape", shape_json(v));
  if (v->quant) {
    cJSON *q = cJSON_CreateObject(), *s = cJSON_CreateArray(), *z = cJSON_CreateArray();
    for (int64_t i = 0; i < v->quant->count; i++) {
      cJSON_AddItemToArray(s, num(v->quant->scale[i]));
      cJSON_AddItemToArray(z, num((double)v->quant->zero_point[i]));
    }
    cJSON_AddItemToObject(q, "scale", s);
    cJSON_AddItemToObject(q, "zero_point", z);
    if (v->quant->axis >= 0) cJSON_AddItemToObject(q, "axis", num(v->quant->axis));
    cJSON_AddItemToObject(o, "quant", q);
  }
  return o;
}

static bool exact_int(int64_t x) {
  return x >= -(int64_t)FE_MAX_EXACT_INT && x <= (int64_t)FE_MAX_EXACT_INT;
}

/* The node's present attributes; false (reported) if one cannot be written exactly. */
static bool attrs_json(const IrNode *n, cJSON *o, IrDiag *d) {
  const IrOpInfo *info = &ir_op_info[n->op];
  char where[FE_WHERE];
  ir_node_where(n, where, sizeof where);
  for (int k = 0; info->attrs[k].name; k++) {
    const IrAttr *a = &n->attrs[k];
    if (!a->present) continue;
    const char *nm = info->attrs[k].name;
    switch (info->attrs[k].kind) {
    case IR_ATTR_INT:
      if (!exact_int(a->i)) goto inexact;
      cJSON_AddItemToObject(o, nm, num((double)a->i));
      break;
    case IR_ATTR_FLOAT: cJSON_AddItemToObject(o, nm, num(a->f)); break;
    case IR_ATTR_STRING: cJSON_AddStringToObject(o, nm, a->s ? a->s : ""); break;
    case IR_ATTR_INTS: {
      cJSON *arr = cJSON_AddArrayToObject(o, nm);
      for (int i = 0; i < a->count; i++) {
        if (!exact_int(a->ints[i])) goto inexact;
        cJSON_AddItemToArray(arr, num((double)a->ints[i]));
      }
      break;
    }
    case IR_ATTR_FLOATS: {
      cJSON *arr = cJSON_AddArrayToObject(o, nm);
      for (int i = 0; i < a->count; i++) cJSON_AddItemToArray(arr, num(a->floats[i]));
      break;
    }
    }
    continue;
  inexact:
    ir_diag_error(d, where, "attribute '%s': an integer beyond 2^53 cannot be written in Kiln JSON",
                  nm);
    return false;
  }
  return true;
}

static bool write_file(const char *path, const void *data, size_t len, IrDiag *d) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    ir_diag_error(d, NULL, "cannot write '%s': %s", path, strerror(errno));
    return false;
  }
  bool ok = fwrite(data, 1, len, f) == len;
  ok &= fclose(f) == 0;
  if (!ok) {
    ir_diag_error(d, NULL, "cannot write '%s': %s", path, strerror(errno));
    unlink(path);
  }
  return ok;
}

bool fe_write_model(const IrGraph *g, const char *json_path, const char *name, const char *doc,
                    IrDiag *d) {
  /* <dir>/<stem>.weights.bin beside <dir>/<stem>.json */
  const char *slash = strrchr(json_path, '/');
  const char *base = slash ? slash + 1 : json_path;
  size_t stem_len = strlen(base);
  if (stem_len > 5 && !strcmp(base + stem_len - 5, ".json")) stem_len -= 5;
  size_t plen = strlen(json_path);
  char *wname = malloc(stem_len + 16), *wpath = malloc(plen + 32), *wtmp = malloc(plen + 40),
       *jtmp = malloc(plen + 8);
  if (!wname || !wpath || !wtmp || !jtmp) abort();
  snprintf(wname, stem_len + 16, "%.*s.weights.bin", (int)stem_len, base);
  snprintf(wpath, plen + 32, "%.*s%s", (int)(base - json_path), json_path, wname);
  snprintf(wtmp, plen + 40, "%s.tmp", wpath);
  snprintf(jtmp, plen + 8, "%s.tmp", json_path);

  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "format", "kiln-model");
  cJSON_AddItemToObject(root, "version", num(1));
  cJSON_AddItemToObject(root, "opset", num(g->opset));
  if (name) cJSON_AddStringToObject(root, "name", name);
  if (doc) cJSON_AddStringToObject(root, "doc", doc);
  cJSON *ins = cJSON_AddArrayToObject(root, "inputs");
  for (int i = 0; i < g->n_inputs; i++) cJSON_AddItemToArray(ins, decl_json(g->inputs[i]));
  cJSON *outs = cJSON_AddArrayToObject(root, "outputs");
  for (int i = 0; i < g->n_outputs; i++) {
    cJSON *o = decl_json(g->outputs[i]);
    cJSON_DeleteItemFromObject(o, "quant"); /* given where the value is declared */
    cJSON_AddItemToArray(outs, o);
  }
  /* initializers: the constants nodes or outputs use, in value order */
  cJSON *inits = cJSON_AddArrayToObject(root, "initializers");
  bool *used = calloc((size_t)g->n_values + 1, 1);
  if (!used) abort();
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i]->n_inputs; k++)
      if (g->nodes[i]->inputs[k]) used[g->nodes[i]->inputs[k]->id] = true;
  for (int i = 0; i < g->n_outputs; i++) used[g->outputs[i]->id] = true;
  /* the weights go to the file one tensor at a time (a model's weights are never copied whole) */
  size_t total = 0;
  for (int i = 0; i < g->n_values; i++) {
    const IrValue *v = g->values[i];
    if (v->kind != IR_VALUE_CONST || !used[i]) continue;
    total = (total + WRITE_ALIGN - 1) / WRITE_ALIGN * WRITE_ALIGN + (size_t)ir_value_nbytes(v);
  }
  FILE *wf = total ? fopen(wtmp, "wb") : NULL;
  bool wok = !total || wf;
  static const uint8_t zeros[WRITE_ALIGN];
  size_t off = 0;
  for (int i = 0; i < g->n_values; i++) {
    const IrValue *v = g->values[i];
    if (v->kind != IR_VALUE_CONST || !used[i]) continue;
    size_t pad = (WRITE_ALIGN - off % WRITE_ALIGN) % WRITE_ALIGN;
    size_t nb = (size_t)ir_value_nbytes(v);
    wok = wok && fwrite(zeros, 1, pad, wf) == pad && fwrite(v->data, 1, nb, wf) == nb;
    off += pad;
    cJSON *o = decl_json(v);
    cJSON *ext = cJSON_AddObjectToObject(o, "external");
    cJSON_AddStringToObject(ext, "path", wname);
    cJSON_AddItemToObject(ext, "offset", num((double)off));
    cJSON_AddItemToObject(ext, "length", num((double)nb));
    cJSON_AddItemToArray(inits, o);
    off += nb;
  }
  if (wf) wok = fclose(wf) == 0 && wok;
  if (!wok) {
    ir_diag_error(d, NULL, "cannot write '%s': %s", wtmp, strerror(errno));
    if (total) unlink(wtmp);
  }
  bool ok = wok;
  cJSON *nodes = cJSON_AddArrayToObject(root, "nodes");
  for (int i = 0; i < g->n_nodes && ok; i++) {
    const IrNode *n = g->nodes[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", n->name);
    cJSON_AddStringToObject(o, "op", ir_op_info[n->op].name);
    cJSON *a = cJSON_AddArrayToObject(o, "inputs");
    for (int k = 0; k < ir_node_op_inputs(n); k++)
      cJSON_AddItemToArray(a, cJSON_CreateString(n->inputs[k] ? n->inputs[k]->name : ""));
    a = cJSON_AddArrayToObject(o, "outputs");
    for (int k = 0; k < n->n_outputs; k++)
      cJSON_AddItemToArray(a, cJSON_CreateString(n->outputs[k]->name));
    cJSON *at = cJSON_CreateObject();
    ok = attrs_json(n, at, d);
    if (at->child)
      cJSON_AddItemToObject(o, "attrs", at);
    else
      cJSON_Delete(at);
    cJSON_AddItemToArray(nodes, o);
  }
  char *text = ok ? cJSON_Print(root) : NULL;
  cJSON_Delete(root);
  if (ok && !text) abort();
  if (!ok && wok && total) unlink(wtmp);
  if (ok) {
    size_t tl = strlen(text);
    text[tl] = '\n'; /* cJSON_Print's NUL becomes the final newline */
    ok = write_file(jtmp, text, tl + 1, d);
    if (!ok && total) unlink(wtmp);
  }
  if (ok && total && rename(wtmp, wpath) != 0) {
    ir_diag_error(d, NULL, "cannot write '%s': %s", wpath, strerror(errno));
    unlink(wtmp);
    unlink(jtmp);
    ok = false;
  }
  if (ok && rename(jtmp, json_path) != 0) {
    ir_diag_error(d, NULL, "cannot write '%s': %s", json_path, strerror(errno));
    unlink(jtmp);
    if (total) unlink(wpath);
    ok = false;
  }
  free(text);
  free(used);
  free(wname);
  free(wpath);
  free(wtmp);
  free(jtmp);
  return ok;
}
