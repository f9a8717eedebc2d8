/* The generated C header: sizes, shapes and the entry points of one model object. It is the
 * contract of the generated code, so it is deterministic (no dates, no paths). */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* getpid, strncasecmp */
#endif
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cg.h"

#ifndef KILN_VERSION
#define KILN_VERSION "0.1.0"
#endif

void cg_sanitize_identifier(const char *name, char *buf, size_t size) {
  if (size == 0) return;
  if (!name || !*name) name = "model";
  size_t n = 0;
  if (isdigit((unsigned char)name[0]) && size > 3) {
    buf[n++] = 'm';
    buf[n++] = '_';
  }
  for (const char *p = name; *p && n + 1 < size; p++)
    buf[n++] = (isalnum((unsigned char)*p) && !((unsigned char)*p & 0x80)) || *p == '_' ? *p : '_';
  buf[n] = 0;
}

/* Names a parameter must not take: C and C++ keywords, names <stdint.h> may define, and the
 * workspace parameter. */
static bool reserved_name(const char *s, const char *prefix) {
  static const char *const words[] = {"auto",
                                      "break",
                                      "case",
                                      "char",
                                      "const",
                                      "continue",
                                      "default",
                                      "do",
                                      "double",
                                      "else",
                                      "enum",
                                      "extern",
                                      "float",
                                      "for",
                                      "goto",
                                      "if",
                                      "inline",
                                      "int",
                                      "long",
                                      "register",
                                      "restrict",
                                      "return",
                                      "short",
                                      "signed",
                                      "sizeof",
                                      "static",
                                      "struct",
                                      "switch",
                                      "typedef",
                                      "union",
                                      "unsigned",
                                      "void",
                                      "volatile",
                                      "while",
                                      "_Alignas",
                                      "_Alignof",
                                      "_Atomic",
                                      "_Bool",
                                      "_Complex",
                                      "_Generic",
                                      "_Imaginary",
                                      "_Noreturn",
                                      "_Static_assert",
                                      "_Thread_local",
                                      "bool",
                                      "true",
                                      "false",
                                      "alignas",
                                      "alignof",
                                      "and",
                                      "and_eq",
                                      "asm",
                                      "bitand",
                                      "bitor",
                                      "catch",
                                      "char8_t",
                                      "char16_t",
                                      "char32_t",
                                      "class",
                                      "compl",
                                      "concept",
                                      "consteval",
                                      "constexpr",
                                      "constinit",
                                      "const_cast",
                                      "co_await",
                                      "co_return",
                                      "co_yield",
                                      "decltype",
                                      "delete",
                                      "dynamic_cast",
                                      "explicit",
                                      "export",
                                      "friend",
                                      "mutable",
                                      "namespace",
                                      "new",
                                      "noexcept",
                                      "not",
                                      "not_eq",
                                      "nullptr",
                                      "operator",
                                      "or",
                                      "or_eq",
                                      "private",
                                      "protected",
                                      "public",
                                      "reinterpret_cast",
                                      "requires",
                                      "static_assert",
                                      "static_cast",
                                      "template",
                                      "this",
                                      "thread_local",
                                      "throw",
                                      "try",
                                      "typeid",
                                      "typename",
                                      "using",
                                      "virtual",
                                      "wchar_t",
                                      "xor",
                                      "xor_eq",
                                      "NULL",
                                      "workspace",
                                      "weights",
                                      "state",
                                      "state_bytes",
                                      "dims",
                                      "inputs",
                                      "outputs"};
  for (size_t k = 0; k < sizeof words / sizeof *words; k++)
    if (strcmp(s, words[k]) == 0) return true;
  size_t n = strlen(s);
  /* reserved identifiers, <stdint.h> types and macros (int8_t, INT8_MAX, ...) */
  if (s[0] == '_' && (s[1] == '_' || isupper((unsigned char)s[1]))) return true;
  if (n > 2 && strcmp(s + n - 2, "_t") == 0) return true;
  if (strncmp(s, "INT", 3) == 0 || strncmp(s, "UINT", 4) == 0) return true;
  /* the header's own macros: <PREFIX>_... */
  size_t pl = strlen(prefix);
  if (strncasecmp(s, prefix, pl) == 0 && s[pl] == '_') return true;
  return false;
}

/* Parameter names for inputs then outputs: sanitized value names, suffixed with _<index> where
 * they collide with each other or with a reserved name. */
static char **param_names(const IrGraph *g, const char *prefix) {
  int np = g->n_inputs + g->n_outputs;
  char **names = calloc((size_t)np + 1, sizeof *names);
  char **base = calloc((size_t)np + 1, sizeof *base);
  if (!names || !base) abort();
  for (int k = 0; k < np; k++) {
    const IrValue *v = k < g->n_inputs ? g->inputs[k] : g->outputs[k - g->n_inputs];
    size_t len = strlen(v->name) + 8;
    base[k] = malloc(len);
    if (!base[k]) abort();
    cg_sanitize_identifier(v->name, base[k], len);
  }
  for (int k = 0; k < np; k++) {
    bool clash = reserved_name(base[k], prefix);
    for (int j = 0; j < np && !clash; j++) clash = j != k && strcmp(base[j], base[k]) == 0;
    size_t len = strlen(base[k]) + 64;
    names[k] = malloc(len);
    if (!names[k]) abort();
    snprintf(names[k], len, "%s", base[k]);
    if (clash) snprintf(names[k], len, "%s_%d", base[k], k);
    /* a suffixed name can still meet another parameter's name: suffix again until unique */
    for (bool again = true; again;) {
      again = false;
      for (int j = 0; j < np && !again; j++)
        if (j != k && strcmp(names[k], base[j]) == 0) again = true;
      for (int j = 0; j < k && !again; j++)
        if (strcmp(names[k], names[j]) == 0) again = true;
      if (again) {
        size_t cur = strlen(names[k]);
        snprintf(names[k] + cur, len - cur, "_%d", k);
        if (strlen(names[k]) + 12 >= len) break;
      }
    }
  }
  for (int k = 0; k < np; k++) free(base[k]);
  free(base);
  return names;
}

static void write_tensor_macros(FILE *f, const char *up, const char *kind, int k,
                                const IrValue *v) {
  fprintf(f, "#define %s_%s%d_NAME \"", up, kind, k);
  for (const char *p = v->name; *p; p++) {
    unsigned char ch = (unsigned char)*p;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f)
      fprintf(f, "\\%03o", ch);
    else
      fputc(ch, f);
  }
  fprintf(f, "\"\n");
  fprintf(f, "#define %s_%s%d_DTYPE %d /* %s */\n", up, kind, k, (int)v->dtype,
          ir_dtype_name(v->dtype));
  fprintf(f, "#define %s_%s%d_RANK %d\n", up, kind, k, v->rank);
  fprintf(f, "#define %s_%s%d_SHAPE {", up, kind, k);
  for (int r = 0; r < v->rank; r++) fprintf(f, "%s%lld", r ? ", " : "", (long long)v->dims[r]);
  fprintf(f, v->rank ? "}\n" : "1} /* scalar: rank 0 */\n");
  fprintf(f, "#define %s_%s%d_SIZE %lldu /* elements%s */\n", up, kind, k,
          (long long)ir_value_numel(v), v->dyn ? " at the maximum length" : "");
  if (v->dyn)
    fprintf(f, "#define %s_%s%d_DYN_AXIS %d /* has the run-time length */\n", up, kind, k,
            v->dyn - 1);
  if (v->outer)
    fprintf(f,
            "#define %s_%s%d_BATCH_AXIS 0 /* SHAPE/SIZE are one batch element's: a call reads or "
            "writes dims[%s_BATCH_DIM] of them one after another */\n",
            up, kind, k, up);
  if (v->quant && v->quant->count == 1 && v->dtype == IR_I8) /* --quant-io=int8 */
    fprintf(f,
            "#define %s_%s%d_SCALE %.9gf /* real = SCALE * (q - ZERO_POINT) */\n"
            "#define %s_%s%d_ZERO_POINT %lld\n",
            up, kind, k, (double)v->quant->scale[0], up, kind, k,
            (long long)v->quant->zero_point[0]);
}

static void write_params(FILE *f, const IrGraph *g, char **names) {
  for (int k = 0; k < g->n_inputs + g->n_outputs; k++) {
    bool in = k < g->n_inputs;
    const IrValue *v = in ? g->inputs[k] : g->outputs[k - g->n_inputs];
    fprintf(f, "%s%s%s *%s", k ? ", " : "", in ? "const " : "", ir_dtype_ctype(v->dtype), names[k]);
  }
}

bool cg_write_header(const IrGraph *g, const CgOptions *o, const char *out_path, IrDiag *d) {
  const char *p = o->prefix ? o->prefix : "";
  size_t pl = strlen(p);
  char check[256];
  cg_sanitize_identifier(p, check, sizeof check);
  if (!*p || strcmp(check, p) != 0) {
    ir_diag_error(d, "--name", "'%s' is not a C identifier", p);
    return false;
  }
  char *up = malloc(pl + 1);
  if (!up) abort();
  for (size_t i = 0; i <= pl; i++) up[i] = (char)toupper((unsigned char)p[i]);
  size_t tmp_size = strlen(out_path) + 32;
  char *tmp = malloc(tmp_size);
  if (!tmp) abort();
  snprintf(tmp, tmp_size, "%s.tmp.%d", out_path, (int)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) {
    ir_diag_error(d, NULL, "cannot write '%s'", out_path);
    free(up);
    free(tmp);
    return false;
  }
  char **names = param_names(g, p);
  int64_t ws = g->workspace_size > 0 ? g->workspace_size : 0;
  fprintf(f, "/* Generated by Kiln %s from model '", KILN_VERSION);
  for (const char *s = g->name; *s; s++) /* keep the comment closed and on one line */
    fputc(s[0] == '*' && s[1] == '/' ? '_' : (unsigned char)*s < 0x20 ? ' ' : *s, f);
  fprintf(f, "'. Do not edit. */\n");
  fprintf(f, "#ifndef %s_H\n#define %s_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n", up, up);
  fprintf(f, "#define %s_WORKSPACE_SIZE %lldu /* bytes, exact */\n", up, (long long)ws);
  fprintf(f, "#define %s_WORKSPACE_ALIGN %lldu\n", up, (long long)g->workspace_align);
  fprintf(f, "#define %s_NUM_INPUTS %d\n#define %s_NUM_OUTPUTS %d\n", up, g->n_inputs, up,
          g->n_outputs);
  if (o->stack && o->stack->known)
    fprintf(f,
            "/* Worst-case stack of a call to any entry point (the backend's frame sizes over\n"
            " * the call graph%s). */\n#define %s_STACK_SIZE %lldu /* bytes */\n",
            o->stack->library_calls ? ", plus what memcpy/memset use" : "", up,
            (long long)o->stack->worst);
  bool ext = o->weights_path != NULL;
  char wparam[96];
  snprintf(wparam, sizeof wparam, "%s%s", ext ? ", const void *weights" : "",
           g->n_states ? ", void *state, size_t state_bytes" : "");
  if (g->n_states)
    fprintf(f,
            "/* State: values kept from one call to the next (%d), in a buffer the caller owns:\n"
            " * one per stream, initialized by %s_reset, read and updated in place by every run\n"
            " * function. Apart from the workspace. */\n"
            "#define %s_STATE_SIZE %lldu /* bytes */\n#define %s_STATE_ALIGN %du\n"
            "#define %s_NUM_STATES %d\n",
            g->n_states, p, up, (long long)g->state_size, up, IR_STATE_ALIGN, up, g->n_states);
  if (ext)
    fprintf(f,
            "/* Weights are not in the object: load the file Kiln wrote (%lld bytes) to memory\n"
            " * aligned to %s_WEIGHTS_ALIGN and pass it as `weights` to every run function. */\n"
            "#define %s_WEIGHTS_SIZE %lldu /* bytes */\n#define %s_WEIGHTS_ALIGN 64u\n",
            (long long)(o->weights_size_out ? *o->weights_size_out : 0), up, up,
            (long long)(o->weights_size_out ? *o->weights_size_out : 0), up);
  for (int k = 0; k < g->n_dyn; k++)
    fprintf(f,
            "/* Run-time dim %d: '%s', passed as dims[%d] to the *_dims entry points, 1 to the\n"
            " * maximum; a tensor's *_DYN_AXIS has that length: pass its leading rows only. */\n"
            "#define %s_NUM_DIMS %d\n#define %s_DIM%d_NAME \"%s\"\n#define %s_DIM%d_MAX %lld\n",
            k, g->dyn[k].name, k, up, g->n_dyn, up, k, g->dyn[k].name, up, k,
            (long long)g->dyn[k].max);
  if (g->outer)
    fprintf(f,
            "/* dims[%d] is the batch: the run functions compute each batch element in turn (the\n"
            " * workspace is one element's at the maximum length). */\n#define %s_BATCH_DIM %d\n",
            g->outer - 1, up, g->outer - 1);
  fputc('\n', f);
  for (int i = 0; i < g->n_inputs; i++) write_tensor_macros(f, up, "IN", i, g->inputs[i]);
  for (int j = 0; j < g->n_outputs; j++) write_tensor_macros(f, up, "OUT", j, g->outputs[j]);
  for (int i = 0; i < g->n_states; i++) {
    write_tensor_macros(f, up, "STATE", i, g->states[i].in);
    fprintf(f, "#define %s_STATE%d_OFFSET %lldu /* bytes into the state buffer */\n", up, i,
            (long long)g->states[i].offset);
  }
  fprintf(f, "\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
  fprintf(f,
          "/* Entry points return 0 (KRT_OK) or a negative KRT_ERR_* code (krt.h): -1 if a "
          "pointer is NULL,\n * -2 if the workspace is not aligned to %s_WORKSPACE_ALIGN, -3 if "
          "an index input\n * (a token id) is outside the table it indexes. "
          "Tensors are dense, row-major\n * arrays of the sizes above; buffers must not "
          "overlap each other or the workspace. */\n\n",
          up);
  if (ext) fprintf(f, "/* -2 also if weights is not aligned to %s_WEIGHTS_ALIGN. */\n\n", up);
  if (g->n_states)
    fprintf(f,
            "/* state: %s_STATE_SIZE bytes aligned to %s_STATE_ALIGN; -1 if NULL, -2 if\n"
            " * misaligned, -4 (KRT_ERR_STATE_SIZE) if state_bytes < %s_STATE_SIZE. Concurrent\n"
            " * streams each need their own state. Writes every state's initial value: */\n"
            "int %s_reset(void *state, size_t state_bytes);\n\n",
            up, up, up, p);
  fprintf(f, "/* Uses a static workspace: NOT reentrant (one call at a time per process; not\n"
             " * from two threads, nor from an interrupt while a call runs). */\n");
  fprintf(f, "int %s_run(", p);
  write_params(f, g, names);
  fprintf(f,
          "%s);\n\n/* Reentrant: workspace is %s_WORKSPACE_SIZE bytes aligned to "
          "%s_WORKSPACE_ALIGN\n * (may be NULL if the size is 0); concurrent calls each need "
          "their own workspace. */\n",
          wparam, up, up);
  fprintf(f, "int %s_run_ws(", p);
  write_params(f, g, names);
  fprintf(f, ", void *workspace%s);\n\n", wparam);
  fprintf(f,
          "/* The same with pointer arrays in declared order (the krt_model run function%s). */\n",
          ext ? ", which is NULL with external weights" : "");
  fprintf(f,
          "int %s_run_generic(const void *const *inputs, void *const *outputs, void "
          "*workspace%s);\n\n",
          p, wparam);
  if (g->n_dyn) {
    fprintf(f,
            "/* Run-time length: the same functions taking `dims` first (%s_NUM_DIMS lengths,\n"
            " * dims[k] in [1, %s_DIM<k>_MAX]; -1 if dims is NULL, -6 (KRT_ERR_DIM_RANGE)\n"
            " * outside). Loops over that axis stop at dims[k]; the ones above run at the\n"
            " * maximum. Workspace and state are sized for the maximum. */\n",
            up, up);
    fprintf(f, "int %s_run_dims(const int64_t *dims, ", p);
    write_params(f, g, names);
    fprintf(f, "%s);\n", wparam);
    fprintf(f, "int %s_run_ws_dims(const int64_t *dims, ", p);
    write_params(f, g, names);
    fprintf(f, ", void *workspace%s);\n", wparam);
    fprintf(f,
            "int %s_run_generic_dims(const int64_t *dims, const void *const *inputs, void "
            "*const *outputs,\n                         void *workspace%s);\n\n",
            p, wparam);
  }
  fprintf(f, "struct krt_model; /* krt.h */\nextern const struct krt_model %s_model;\n\n", p);
  fprintf(f, "#ifdef __cplusplus\n}\n#endif\n\n#endif /* %s_H */\n", up);
  for (int k = 0; k < g->n_inputs + g->n_outputs; k++) free(names[k]);
  free(names);
  free(up);
  bool ok = !ferror(f);
  ok = fclose(f) == 0 && ok;
  if (ok && rename(tmp, out_path) != 0) ok = false;
  if (!ok) {
    remove(tmp);
    ir_diag_error(d, NULL, "cannot write '%s'", out_path);
  }
  free(tmp);
  return ok;
}
