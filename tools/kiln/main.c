/* kiln: the command-line driver. Wires frontend -> passes -> codegen, owns files and exit codes.
 * Exit codes: 0 ok, 1 a user error in the model or its inputs, 2 a bad command line. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "cg.h"
#include "eval.h"
#include "fe.h"
#include "inspect.h"
#include "ir_util.h"
#include "kiln_cli.h"
#include "krt.h"
#include "krt_npy.h"
#include "pass.h"

static FeOptions fe_options(const Args *a) {
  FeOptions o = {.weights_dirs = a->weights_dirs,
                 .n_weights_dirs = a->n_weights_dirs,
                 .max_weight_bytes = a->max_weight_bytes,
                 .max_nodes = a->max_nodes,
                 .input_shapes = a->input_shapes,
                 .n_input_shapes = a->n_input_shapes,
                 .max_dims = a->max_dims,
                 .n_max_dims = a->n_max_dims,
                 .binds = a->binds,
                 .n_binds = a->n_binds};
  return o;
}

/* Bare metal (a *-none-* triple): little RAM, no L2 for a conv panel to fill, vectors of at most
 * 4 lanes; so small panels and room for tiles of at most 16 columns. 0 elsewhere: the pass's
 * defaults, sized for a host's L2 and AVX-512. */
static bool bare_metal(const Args *a) { return a->triple && strstr(a->triple, "-none"); }
static int64_t conv_panel_bytes(const Args *a) { return bare_metal(a) ? 8 * 1024 : 0; }
static int tile_cols_max(const Args *a) { return bare_metal(a) ? 16 : 0; }
/* RNN/GRU/LSTM: project 2 KiB of steps at a time there (lstm_forecaster: 4 steps of 48) */
static int64_t recurrent_proj_bytes(const Args *a) { return bare_metal(a) ? 2 * 1024 : 0; }

/* The target's vector lanes, Arm DSP and VNNI for the passes' cost models; all zero (the
 * passes' defaults) on a bad target, which codegen reports. */
static CgTargetInfo target_info(const Args *a) {
  CgOptions o = {.prefix = "target", .triple = a->triple, .cpu = a->cpu, .features = a->features};
  IrDiag d;
  ir_diag_init(&d, NULL, false);
  CgTargetInfo t;
  cg_target_info(&o, &t, &d);
  ir_diag_free(&d);
  return t;
}

/* The pass options that compile/build and inspect share, so that inspect shows the kernels and
 * plan that codegen gets. */
static PassOptions pass_options(const Args *a) {
  CgTargetInfo target = target_info(a);
  return (PassOptions){.opt_level = a->opt_level,
                       .workspace_align = 64,
                       .verify_each = a->verify_each,
                       .passes = a->passes,
                       .conv_kernel = a->conv_kernel,
                       .attention = a->attention,
                       .layout = a->layout,
                       .sparse_kernel = a->sparse_kernel,
                       .vec_lanes = target.lanes,
                       .arm_dsp = target.arm_dsp,
                       .x86_vnni = target.x86_vnni,
                       .prune = a->prune,
                       .conv_panel_bytes = conv_panel_bytes(a),
                       .tile_cols_max = tile_cols_max(a),
                       .recurrent_proj_bytes = recurrent_proj_bytes(a)};
}

/* --calibrate: samples of every model input from .npy files (docs/quantization.md). One input:
 * each PATH is a .npy file or a folder of them (sorted by name). Several inputs: each PATH is a
 * folder holding, per input NAME, NAME.npy or a folder NAME/ of .npy files; every input must get
 * as many samples as the others. A file holds one sample or several one after another, in the
 * input's dtype (i32 and i64 id inputs take either; the values must fit). */
typedef struct CalibInput {
  const IrValue *in;
  char *data; /* samples one after another, in the input's dtype */
  int64_t n;  /* samples so far */
} CalibInput;

static bool append_samples(const char *path, CalibInput *ci) {
  krt_npy arr;
  char err[512];
  if (!krt_npy_read(path, &arr, err, sizeof err)) {
    fprintf(stderr, "kiln: --calibrate: %s\n", err);
    return false;
  }
  const IrValue *in = ci->in;
  int64_t per = ir_value_numel(in), numel = arr.numel;
  bool ids = in->dtype == IR_I32 || in->dtype == IR_I64;
  bool dtype_ok = arr.dtype == (int32_t)in->dtype ||
                  (ids && (arr.dtype == (int32_t)IR_I32 || arr.dtype == (int32_t)IR_I64));
  bool ok = dtype_ok && numel > 0 && numel % per == 0;
  if (!ok)
    fprintf(stderr,
            "kiln: --calibrate: %s: expected %s samples of input '%s' (a multiple of %lld "
            "elements), got %s with %lld elements\n",
            path, ids ? "i32 or i64" : ir_dtype_name(in->dtype), in->name, (long long)per,
            krt_dtype_name(arr.dtype), (long long)numel);
  else if (ci->n + numel / per > 1000000) {
    fprintf(stderr, "kiln: --calibrate: %s: more than 1000000 samples\n", path);
    ok = false;
  }
  size_t esz = ir_dtype_size(in->dtype);
  if (ok) {
    ci->data = realloc(ci->data, esz * (size_t)((ci->n + numel / per) * per));
    if (!ci->data) abort();
    char *dst = ci->data + esz * (size_t)(ci->n * per);
    if (arr.dtype == (int32_t)in->dtype)
      memcpy(dst, arr.data, esz * (size_t)numel);
    else
      for (int64_t i = 0; i < numel && ok; i++) { /* ids: i32 <-> i64 */
        int64_t v = arr.dtype == (int32_t)IR_I64 ? ((const int64_t *)arr.data)[i]
                                                 : ((const int32_t *)arr.data)[i];
        if (in->dtype == IR_I64) {
          ((int64_t *)dst)[i] = v;
        } else if (v < INT32_MIN || v > INT32_MAX) {
          fprintf(stderr,
                  "kiln: --calibrate: %s: element %lld (%lld) does not fit input '%s' (i32)\n",
                  path, (long long)i, (long long)v, in->name);
          ok = false;
        } else {
          ((int32_t *)dst)[i] = (int32_t)v;
        }
      }
    if (ok) ci->n += numel / per;
  }
  krt_npy_free(&arr);
  return ok;
}

static int cmp_str(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The .npy files of folder p, sorted by name, as samples of one input. */
static bool append_folder(const char *p, CalibInput *ci) {
  DIR *dir = opendir(p);
  if (!dir) {
    fprintf(stderr, "kiln: --calibrate: %s: %s\n", p, strerror(errno));
    return false;
  }
  char **names = NULL;
  int count = 0;
  for (struct dirent *e; (e = readdir(dir));) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".npy")) continue;
    names = realloc(names, sizeof *names * (size_t)(count + 1));
    if (!names || !(names[count++] = strdup(e->d_name))) abort();
  }
  closedir(dir);
  if (count) qsort(names, (size_t)count, sizeof *names, cmp_str);
  bool ok = count > 0;
  if (!ok) fprintf(stderr, "kiln: --calibrate: %s: no .npy files in the folder\n", p);
  for (int i = 0; i < count && ok; i++) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", p, names[i]);
    ok = append_samples(path, ci);
  }
  for (int i = 0; i < count; i++) free(names[i]);
  free(names);
  return ok;
}

/* One PATH of a model with several inputs: per input NAME.npy or NAME/, equal sample counts. */
static bool append_input_folders(const char *p, CalibInput *ci, int n_in) {
  int64_t before = ci[0].n;
  for (int i = 0; i < n_in; i++) {
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s.npy", p, ci[i].in->name);
    if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
      if (!append_samples(path, &ci[i])) return false;
      continue;
    }
    snprintf(path, sizeof path, "%s/%s", p, ci[i].in->name);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
      fprintf(stderr,
              "kiln: --calibrate: %s: no %s.npy (or folder %s/) for input '%s'; a model with "
              "%d inputs takes folders holding NAME.npy or NAME/ per input\n",
              p, ci[i].in->name, ci[i].in->name, ci[i].in->name, n_in);
      return false;
    }
    if (!append_folder(path, &ci[i])) return false;
  }
  for (int i = 1; i < n_in; i++)
    if (ci[i].n - before != ci[0].n - before) {
      fprintf(stderr, "kiln: --calibrate: %s: %lld samples of input '%s' but %lld of input '%s'\n",
              p, (long long)(ci[0].n - before), ci[0].in->name, (long long)(ci[i].n - before),
              ci[i].in->name);
      return false;
    }
  return true;
}

/* Fills ci[0..g->n_inputs) (ci[i].data malloc'd) and *n, the number of samples. */
static bool load_calibration(const Args *a, const IrGraph *g, CalibInput *ci, int *n) {
  *n = 0;
  if (g->n_inputs == 0) {
    fprintf(stderr, "kiln: --calibrate: model '%s' has no inputs to calibrate with\n", g->name);
    return false;
  }
  for (int i = 0; i < g->n_inputs; i++) ci[i] = (CalibInput){.in = g->inputs[i]};
  for (int c = 0; c < a->n_calibrate; c++) {
    struct stat st;
    const char *p = a->calibrate[c];
    if (stat(p, &st) != 0) {
      fprintf(stderr, "kiln: --calibrate: %s: %s\n", p, strerror(errno));
      return false;
    }
    bool ok = g->n_inputs > 1 ? S_ISDIR(st.st_mode) && append_input_folders(p, ci, g->n_inputs)
              : S_ISDIR(st.st_mode) ? append_folder(p, &ci[0])
                                    : append_samples(p, &ci[0]);
    if (!ok && g->n_inputs > 1 && !S_ISDIR(st.st_mode))
      fprintf(stderr,
              "kiln: --calibrate: %s: model '%s' has %d inputs: give folders holding NAME.npy or "
              "NAME/ per input\n",
              p, g->name, g->n_inputs);
    if (!ok) return false;
  }
  *n = (int)ci[0].n;
  return true;
}

/* --quantize=int8: the calibration samples and the pass's options, shared by every command. With
 * --quant-keep-fp32=auto the model is quantized once to measure each layer, and the layers below
 * the threshold become the keep list. */
typedef struct QuantSetup {
  CalibInput *inputs; /* per model input */
  int n_inputs;
  const void **ptr; /* inputs[i].data */
  char *keep;       /* resolved keep list (malloc'd) or NULL */
  PassQuantLayer layers[4096];
  int n_layers;
  PassQuantOutput outputs[256];
  int n_outputs;
  PassQuantOptions qo;
} QuantSetup;

static IrGraph *load_with(const Args *a, bool plan, const PassQuantOptions *q);

static void quant_free(QuantSetup *qs) {
  if (!qs) return;
  for (int i = 0; i < qs->n_inputs; i++) free(qs->inputs[i].data);
  free(qs->inputs);
  free(qs->ptr);
  free(qs->keep);
  free(qs);
}

/* Whether the probe's model outputs are near enough to fp32: float ones at least db of SQNR,
 * integer ones (argmax indices, ...) equal on every checked sample. NULL: all are. */
static const char *auto_bad_output(const QuantSetup *qs, double db) {
  for (int j = 0; j < qs->n_outputs; j++) {
    const PassQuantOutput *o = &qs->outputs[j];
    if (isnan(o->sqnr_db) ? o->agree < 1 : o->sqnr_db < db) return o->name;
  }
  return NULL;
}

/* Quantizes the model with keep (NULL: none) fp32 to measure its layers and outputs into qs;
 * *bad: the first output off by auto_bad_output's measure (NULL: none; malloc'd). */
static bool auto_probe(const Args *a, QuantSetup *qs, const char *keep, FILE *report, char **names,
                       int *n_names, char **bad) {
  qs->qo.keep_fp32 = keep;
  qs->qo.report = report;
  qs->n_layers = qs->n_outputs = 0;
  IrGraph *probe = load_with(a, true, &qs->qo);
  if (!probe) return false;
  const char *b = auto_bad_output(qs, a->keep_auto_db);
  *bad = b ? strdup(b) : NULL;
  if (names) { /* the layers' names live in probe's arena */
    *n_names = qs->n_layers;
    for (int i = 0; i < qs->n_layers; i++)
      if (!(names[i] = strdup(qs->layers[i].node))) abort();
  }
  ir_graph_free(probe);
  return true;
}

/* The comma-separated names of the layers marked in kept (malloc'd). */
static char *auto_list(char **names, const bool *kept, int n) {
  size_t len = 0;
  for (int i = 0; i < n; i++) len += kept[i] ? strlen(names[i]) + 1 : 0;
  char *l = calloc(1, len + 1);
  if (!l) abort();
  for (int i = 0, at = 0; i < n; i++)
    if (kept[i]) at += sprintf(l + at, "%s%s", at ? "," : "", names[i]);
  return l;
}

/* --quant-keep-fp32=auto[:DB]: quantize once and keep the layers whose own output is below DB of
 * SQNR. If a model output is then still off (auto_bad_output), a layer's own error did not show
 * what it does downstream (bert_qa's span head: -10000 masks added to +-6 logits, 60 dB on the
 * whole tensor but the logits gone), so the keep list is found by measurement at the outputs:
 * from every layer fp32, re-quantize them one by one in graph order, each staying int8 only if
 * the outputs stay good (one probe per layer). */
static bool auto_keep(const Args *a, QuantSetup *qs) {
  char **names = calloc(4096, sizeof *names);
  bool *kept = calloc(4096, 1);
  if (!names || !kept) abort();
  int n = 0;
  char *bad = NULL;
  bool ok = auto_probe(a, qs, NULL, stderr, names, &n, &bad);
  for (int i = 0; ok && i < n; i++) kept[i] = qs->layers[i].sqnr_db < a->keep_auto_db;
  if (ok && bad) {
    int probes = 0;
    for (int i = 0; i < n; i++) probes += !kept[i];
    fprintf(stderr,
            "kiln: --quant-keep-fp32=auto: output '%s' is off (below %g dB, or an integer output "
            "not equal to fp32's); measuring at the outputs (%d probes)\n",
            bad, a->keep_auto_db, probes);
    bool *tried = calloc((size_t)n + 1, 1);
    if (!tried) abort();
    for (int i = 0; i < n; i++) tried[i] = !kept[i], kept[i] = true;
    for (int i = 0; ok && i < n; i++) {
      if (!tried[i]) continue;
      kept[i] = false;
      char *l = auto_list(names, kept, n), *b = NULL;
      ok = auto_probe(a, qs, l, NULL, NULL, NULL, &b);
      if (b) kept[i] = true;
      free(b);
      free(l);
    }
    free(tried);
  }
  free(bad);
  if (ok) {
    qs->keep = auto_list(names, kept, n);
    if (*qs->keep) fprintf(stderr, "kiln: --quant-keep-fp32=auto: keeping %s in fp32\n", qs->keep);
    qs->qo.keep_fp32 = qs->keep;
    qs->qo.report = stderr;
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  free(kept);
  return ok;
}

/* NULL on a user error (reported); *out NULL without --quantize. */
static bool quant_setup(const Args *a, QuantSetup **out) {
  *out = NULL;
  if (a->quantize_weights) {
    QuantSetup *qs = calloc(1, sizeof *qs);
    if (!qs) abort();
    qs->qo = (PassQuantOptions){.weights_only = true};
    *out = qs;
    return true;
  }
  if (!a->quantize && a->quant_io_int8) { /* a pre-quantized model: no calibration */
    QuantSetup *qs = calloc(1, sizeof *qs);
    if (!qs) abort();
    qs->qo = (PassQuantOptions){.int8_io = true};
    *out = qs;
    return true;
  }
  if (!a->quantize) return true;
  IrDiag d;
  ir_diag_init(&d, a->model, true);
  FeOptions fo = fe_options(a);
  IrGraph *g = fe_load_model_opts(a->model, &fo, &d);
  ir_diag_free(&d);
  if (!g) return false;
  QuantSetup *qs = calloc(1, sizeof *qs);
  if (!qs) abort();
  int n = 0;
  qs->n_inputs = g->n_inputs;
  qs->inputs = calloc((size_t)g->n_inputs + 1, sizeof *qs->inputs);
  qs->ptr = calloc((size_t)g->n_inputs + 1, sizeof *qs->ptr);
  if (!qs->inputs || !qs->ptr) abort();
  bool ok = load_calibration(a, g, qs->inputs, &n);
  ir_graph_free(g);
  if (!ok) {
    quant_free(qs);
    return false;
  }
  for (int i = 0; i < qs->n_inputs; i++) {
    qs->ptr[i] = qs->inputs[i].data;
    qs->inputs[i].in = NULL; /* g is freed */
  }
  qs->qo = (PassQuantOptions){.samples = qs->ptr,
                              .n_samples = n,
                              .observer = (PassObserver)a->observer,
                              .percentile = a->percentile,
                              .keep_fp32 = a->keep_fp32,
                              .report = stderr,
                              .layers = qs->layers,
                              .max_layers = 4096,
                              .n_layers = &qs->n_layers,
                              .outputs = qs->outputs,
                              .max_outputs = 256,
                              .n_outputs = &qs->n_outputs};
  if (a->keep_auto_db && !auto_keep(a, qs)) {
    quant_free(qs);
    return false;
  }
  qs->qo.int8_io = a->quant_io_int8; /* after auto's probe: it measures the layers only */
  *out = qs;
  return true;
}

/* Loads the model and runs the pass pipeline (with quantization options q, may be NULL); prints
 * diagnostics; NULL on a user error. */
static IrGraph *load_with(const Args *a, bool plan, const PassQuantOptions *q) {
  IrDiag d;
  ir_diag_init(&d, a->model, true);
  FeOptions fo = fe_options(a);
  kiln_progress_stage("load", 0);
  IrGraph *g = fe_load_model_opts(a->model, &fo, &d);
  if (g && !ir_graph_pair_states(g, a->state, &d)) {
    ir_graph_free(g);
    g = NULL;
  }
  KilnEval eval = {0};
  bool evaluating = false;
  if (g && !plan && (a->prune || a->eval_dir)) { /* `kiln run`: the model as written */
    ir_diag_error(&d, a->prune ? "--prune" : "--eval",
                  "applies to compile and build (run interprets the model as written)");
    ir_graph_free(g);
    g = NULL;
  }
  if (g && (a->prune || a->eval_dir) && a->opt_level < 1) {
    ir_diag_error(&d, a->prune ? "--prune" : "--eval", "pruning needs -O1 or above");
    ir_graph_free(g);
    g = NULL;
  }
  if (g && plan && a->eval_dir) {
    evaluating = kiln_eval_begin(&eval, a->eval_dir, g, a->max_accuracy_drop, &d);
    if (!evaluating) {
      ir_graph_free(g);
      g = NULL;
    }
  }
  if (g && plan) {
    PassOptions po = pass_options(a);
    po.print_after = a->print_after;
    po.max_workspace = a->max_workspace;
    po.after_lossy = evaluating ? kiln_eval_after_lossy : NULL;
    po.after_lossy_ctx = &eval;
    po.quant = q;
    kiln_progress_stage("passes", g->n_nodes);
    if (!pass_run_pipeline(g, &po, &d)) {
      ir_graph_free(g);
      g = NULL;
    }
  }
  if (evaluating) kiln_eval_end(&eval);
  ir_diag_free(&d);
  return g;
}

static IrGraph *load_and_optimize(const Args *a, bool plan) {
  QuantSetup *qs;
  if (!quant_setup(a, &qs)) return NULL;
  IrGraph *g = load_with(a, plan, qs ? &qs->qo : NULL);
  quant_free(qs);
  return g;
}

static void model_prefix(const Args *a, const IrGraph *g, char *buf, size_t size) {
  cg_sanitize_identifier(a->name ? a->name : g->name, buf, size);
}

static CgOptions codegen_options(const Args *a, const char *prefix) {
  CgOptions o = {.prefix = prefix,
                 .triple = a->triple,
                 .cpu = a->cpu,
                 .features = a->features,
                 .opt_level = a->opt_level,
                 .emit = a->emit,
                 .max_stack = a->max_stack,
                 .pic = true,
                 .progress = kiln_progress_codegen};
  return o;
}

/* "dir/model.o" -> "dir/model.h" */
static void replace_extension(const char *path, const char *ext, char *buf, size_t size) {
  snprintf(buf, size, "%s", path);
  char *slash = strrchr(buf, '/');
  char *dot = strrchr(buf, '.');
  if (dot && (!slash || dot > slash)) *dot = 0;
  size_t n = strlen(buf);
  snprintf(buf + n, size - n, "%s", ext);
}

static int cmd_compile(const Args *a) {
  if (a->list_targets) {
    cg_list_targets(stdout);
    return 0;
  }
  IrGraph *g = load_and_optimize(a, true);
  if (!g) return 1;
  char prefix[256], out[PATH_MAX], header[PATH_MAX];
  model_prefix(a, g, prefix, sizeof prefix);
  const char *ext = a->emit == CG_EMIT_ASM ? ".s" : a->emit == CG_EMIT_LLVM ? ".ll" : ".o";
  if (a->out)
    snprintf(out, sizeof out, "%s", a->out);
  else
    snprintf(out, sizeof out, "%s%s", prefix, ext);
  if (a->header)
    snprintf(header, sizeof header, "%s", a->header);
  else
    replace_extension(out, ".h", header, sizeof header);
  CgOptions o = codegen_options(a, prefix);
  char weights[PATH_MAX];
  int64_t weights_size = 0;
  if (a->weights_external) {
    if (a->weights_file)
      snprintf(weights, sizeof weights, "%s", a->weights_file);
    else
      replace_extension(out, ".weights", weights, sizeof weights);
    o.weights_path = weights;
  }
  o.weights_section = a->weights_section;
  o.weights_size_out = &weights_size;
  CgStack stack = {0};
  o.stack = &stack;
  IrDiag d;
  ir_diag_init(&d, a->model, true);
  bool ok = cg_compile(g, &o, out, &d);
  kiln_progress_stage("header", 0);
  ok = ok && cg_write_header(g, &o, header, &d);
  CgSizes sz;
  if (ok && a->size_report && cg_object_sizes(out, a->weights_section, &sz, &d)) {
    int64_t ws = g->workspace_size > 0 ? g->workspace_size : 0;
    printf("%s: %s\n", out, a->triple ? a->triple : "host");
    printf("  code:       %10lld bytes (flash)\n", (long long)sz.code);
    printf("  constants:  %10lld bytes (flash", (long long)sz.constants);
    if (a->weights_section) printf("; %lld in %s", (long long)sz.weights, a->weights_section);
    printf(")\n");
    if (sz.data) printf("  data:       %10lld bytes (flash and RAM)\n", (long long)sz.data);
    if (o.weights_path)
      printf("  weights:    %10lld bytes (%s, loaded by the caller)\n", (long long)weights_size,
             o.weights_path);
    printf("  workspace:  %10lld bytes (RAM: the caller's, or %lld bytes of .bss for %s_run)\n",
           (long long)ws, (long long)sz.bss, prefix);
    printf("  flash:      %10lld bytes, RAM: %lld bytes + inputs and outputs\n",
           (long long)(sz.code + sz.constants + sz.data), (long long)(ws + sz.data));
    if (stack.known) {
      printf("  stack:      %10lld bytes (worst case of a call%s)\n", (long long)stack.worst,
             stack.library_calls ? ", plus memcpy/memset" : "");
      for (int i = 0; i < stack.n_frames; i++)
        if (stack.frames[i].frame || !strncmp(stack.frames[i].name, prefix, strlen(prefix)))
          printf("    %-40s frame %6lld, with callees %6lld\n", stack.frames[i].name,
                 (long long)stack.frames[i].frame, (long long)stack.frames[i].worst);
    }
  }
  cg_stack_free(&stack);
  if (!ok) {
    remove(out); /* all or nothing */
    remove(header);
    if (o.weights_path) remove(o.weights_path);
  }
  ir_diag_free(&d);
  ir_graph_free(g);
  return ok ? 0 : 1;
}

bool kiln_exe_dir(char *buf, size_t size) {
  ssize_t n = readlink("/proc/self/exe", buf, size - 1);
  if (n <= 0 || (size_t)n >= size - 1) return false;
  buf[n] = 0;
  char *slash = strrchr(buf, '/');
  if (!slash) return false;
  *slash = 0;
  return true;
}

/* Directory of libkiln_*.a: <dir of this executable>/../lib (build tree and install tree). */
static bool find_libdir(char *buf, size_t size) {
  char exe[PATH_MAX];
  if (!kiln_exe_dir(exe, sizeof exe)) return false;
  if (snprintf(buf, size, "%s/../lib", exe) >= (int)size) return false;
  char probe[PATH_MAX + 32];
  snprintf(probe, sizeof probe, "%s/libkiln_driver.a", buf);
  return access(probe, R_OK) == 0;
}

/* Runs argv without a shell; returns the exit status (or -1). */
int kiln_run_process(char *const argv[]) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    execvp(argv[0], argv);
    fprintf(stderr, "kiln: cannot run '%s': %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int status;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The decoder's input fed by the encoder output of the same name (build --generate --encoder),
 * or NULL. */
static const IrValue *encoder_output_for(const IrGraph *enc, const IrValue *in) {
  for (int j = 0; enc && j < enc->n_outputs; j++)
    if (!strcmp(enc->outputs[j]->name, in->name)) return enc->outputs[j];
  return NULL;
}

/* `build --generate` needs a decoder step: one integer token input of one element, an f32
 * logits output and states (krt_generate_main.c); or, with a run-time length (--max-dim), one
 * integer token per position and optionally a second integer input of the same shape (the
 * tokens' positions): a prefill of the prompt in one call, then steps of length 1. With an
 * encoder (--encoder, enc != NULL) the decoder step may take more inputs: the encoder's outputs,
 * matched by name. Else an error before compiling. */
static bool generation_model(const IrGraph *g, const IrGraph *enc) {
  bool logits = false;
  for (int j = 0; j < g->n_outputs; j++) logits |= g->outputs[j]->dtype == IR_F32;
  if (g->n_dyn) {
    bool ok = logits && g->n_states && (g->n_inputs == 1 || g->n_inputs == 2) && !enc && !g->outer;
    for (int i = 0; ok && i < g->n_inputs; i++) {
      const IrValue *t = g->inputs[i];
      ok = (t->dtype == IR_I64 || t->dtype == IR_I32) && t->dyn &&
           ir_value_numel(t) == g->dyn[ir_dyn_len_index(g)].max;
    }
    if (ok) return true;
    fprintf(stderr,
            "kiln build --generate: model '%s' is not a decoder%s: with a run-time length it "
            "needs an i32/i64 token input of one token per position ([1, %s]), optionally their "
            "positions as a second such input, an f32 logits output and states for its KV cache "
            "(has %d input(s), %d state(s))\n",
            g->name, enc ? " for --encoder (which takes a one-token decoder step)" : "",
            g->dyn[ir_dyn_len_index(g)].name, g->n_inputs, g->n_states);
    return false;
  }
  const IrValue *t = NULL;
  int n_tokens = 0; /* inputs the generator feeds: all but the encoder's */
  for (int i = 0; i < g->n_inputs; i++)
    if (!encoder_output_for(enc, g->inputs[i])) t = g->inputs[i], n_tokens++;
  if (n_tokens == 1 && (t->dtype == IR_I64 || t->dtype == IR_I32) && ir_value_numel(t) == 1 &&
      logits && g->n_states)
    return true;
  fprintf(stderr,
          "kiln build --generate: model '%s' is not a decoder step: it needs exactly one input%s, "
          "an i32/i64 token of one element (has %d input(s)%s), an f32 logits output%s and "
          "states for its KV cache (has %d; --state OUT=IN pairs them)%s\n",
          g->name, enc ? " besides the encoder's outputs" : "", n_tokens,
          n_tokens == 1 && ir_value_numel(t) != 1 ? " of more than one element" : "",
          logits ? "" : " (none)", g->n_states,
          !enc && n_tokens > 1 ? "; the decoder step of an encoder-decoder takes the encoder's "
                                 "outputs too: give the encoder with --encoder MODEL"
                               : "");
  return false;
}

/* `build --generate --encoder E`: E takes the source ids (one integer input, no states, no
 * run-time length) and each of its outputs feeds the decoder step's input of the same name,
 * dtype and shape at every step (the cross-attention keys/values: computed once). */
static bool encoder_model(const IrGraph *enc, const IrGraph *dec) {
  const IrValue *src = enc->n_inputs == 1 ? enc->inputs[0] : NULL;
  if (!src || (src->dtype != IR_I64 && src->dtype != IR_I32) || enc->n_states || enc->n_dyn) {
    fprintf(stderr,
            "kiln build --encoder: model '%s' is not an encoder: it needs exactly one input, the "
            "source token ids (i32/i64; has %d input(s)%s), no states (has %d) and no run-time "
            "length\n",
            enc->name, enc->n_inputs,
            src && src->dtype != IR_I64 && src->dtype != IR_I32 ? " of another dtype" : "",
            enc->n_states);
    return false;
  }
  for (int j = 0; j < enc->n_outputs; j++) {
    const IrValue *o = enc->outputs[j], *in = NULL;
    for (int i = 0; i < dec->n_inputs && !in; i++)
      if (!strcmp(dec->inputs[i]->name, o->name)) in = dec->inputs[i];
    bool state = false;
    for (int i = 0; i < dec->n_states; i++) state |= !strcmp(dec->states[i].in->name, o->name);
    if (!in) {
      fprintf(stderr,
              "kiln build --encoder: encoder output '%s' is not an input of the decoder '%s'%s "
              "(each encoder output feeds the decoder input of the same name)\n",
              o->name, dec->name,
              state ? " but one of its states (states start from their initial values; make it an "
                      "input, which the generator passes at every step)"
                    : "");
      return false;
    }
    bool same = o->dtype == in->dtype && o->rank == in->rank;
    for (int r = 0; same && r < o->rank; r++) same = o->dims[r] == in->dims[r];
    if (!same) {
      char a[128], b[128];
      fprintf(stderr,
              "kiln build --encoder: encoder output '%s' is %s%s, the decoder's input of that "
              "name is %s%s\n",
              o->name, ir_dtype_name(o->dtype), ir_format_dims(o->rank, o->dims, a, sizeof a),
              ir_dtype_name(in->dtype), ir_format_dims(in->rank, in->dims, b, sizeof b));
      return false;
    }
  }
  return true;
}

/* Compiles g into obj with the driver hook `symbol`; true when done. */
static bool compile_for_driver(const Args *a, const IrGraph *g, const char *prefix,
                               const char *symbol, bool profile, const char *obj) {
  CgOptions o = codegen_options(a, prefix);
  o.emit = CG_EMIT_OBJ;
  o.driver_hook = true;
  o.driver_symbol = symbol;
  o.profile = profile;
  IrDiag d;
  ir_diag_init(&d, a->model, true);
  bool ok = cg_compile(g, &o, obj, &d);
  ir_diag_free(&d);
  return ok;
}

static int cmd_build(const Args *a) {
  char libdir[PATH_MAX];
  if (!find_libdir(libdir, sizeof libdir)) {
    fprintf(stderr, "kiln build: cannot find libkiln_driver.a next to the kiln executable\n");
    return 1;
  }
  IrGraph *g = load_and_optimize(a, true), *enc = NULL;
  if (!g) return 1;
  if (a->encoder) { /* the decoder's options but its --state pairs and run-time dims */
    Args ea = *a;
    ea.model = a->encoder;
    ea.state = NULL;
    ea.n_max_dims = 0;
    enc = load_and_optimize(&ea, true);
    if (!enc) fprintf(stderr, "kiln build --encoder: cannot load the encoder '%s'\n", a->encoder);
    if (!enc || !encoder_model(enc, g)) {
      ir_graph_free(enc);
      ir_graph_free(g);
      return 1;
    }
  }
  if (a->generate && !generation_model(g, enc)) {
    ir_graph_free(enc);
    ir_graph_free(g);
    return 1;
  }
  char prefix[256], enc_prefix[300], exe[PATH_MAX], tmpdir[] = "/tmp/kiln-build-XXXXXX";
  model_prefix(a, g, prefix, sizeof prefix);
  if (enc) { /* distinct symbol prefixes in one executable */
    cg_sanitize_identifier(enc->name, enc_prefix, sizeof enc_prefix);
    if (!strcmp(enc_prefix, prefix)) snprintf(enc_prefix, sizeof enc_prefix, "%s_encoder", prefix);
  }
  snprintf(exe, sizeof exe, "%s", a->out ? a->out : prefix);
  if (!mkdtemp(tmpdir)) {
    fprintf(stderr, "kiln build: cannot create a temporary directory: %s\n", strerror(errno));
    ir_graph_free(enc);
    ir_graph_free(g);
    return 1;
  }
  char obj[PATH_MAX], enc_obj[PATH_MAX + 16], tmp_exe[PATH_MAX + 32];
  snprintf(obj, sizeof obj, "%s/%s.o", tmpdir, prefix);
  snprintf(enc_obj, sizeof enc_obj, "%s/encoder.o", tmpdir);
  snprintf(tmp_exe, sizeof tmp_exe, "%s.tmp.%d", exe, (int)getpid());
  bool ok = compile_for_driver(a, g, prefix, NULL, a->profile, obj);
  if (ok && enc) {
    Args ea = *a;
    ea.model = a->encoder;
    ok = compile_for_driver(&ea, enc, enc_prefix, "kiln_driver_encoder", false, enc_obj);
  }
  ir_graph_free(enc);
  ir_graph_free(g);
  if (ok) {
    char drv[PATH_MAX + 32], npy[PATH_MAX + 32], rt[PATH_MAX + 32];
    snprintf(drv, sizeof drv, "%s/libkiln_%s.a", libdir, a->generate ? "generate" : "driver");
    snprintf(npy, sizeof npy, "%s/libkiln_npy.a", libdir);
    snprintf(rt, sizeof rt, "%s/libkiln_rt.a", libdir);
    const char *cc = a->cc ? a->cc : getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
    kiln_progress_stage("link", 0);
    char *argv[] = {(char *)cc, obj, drv, npy, rt, "-lm", "-o", tmp_exe, NULL, NULL};
    if (a->encoder) { /* the encoder's object right after the decoder's */
      memmove(&argv[2], &argv[1], sizeof *argv * 8);
      argv[2] = enc_obj;
    }
    int rc = kiln_run_process(argv);
    if (rc != 0) {
      fprintf(stderr, "kiln build: linking with '%s' failed (status %d)\n", cc, rc);
      ok = false;
    } else if (rename(tmp_exe, exe) != 0) {
      fprintf(stderr, "kiln build: cannot write %s: %s\n", exe, strerror(errno));
      ok = false;
    }
  }
  remove(tmp_exe);
  remove(obj);
  remove(enc_obj);
  rmdir(tmpdir);
  return ok ? 0 : 1;
}

/* DIR/<name>.npy, or DIR/<name>.<step>.npy for one of several calls of a model with states. */
/* DIR/<stem>.npy of output j (krt_npy_file_stem), DIR/<stem>.<step>.npy for calls in sequence */
static void output_path(char *buf, size_t size, const char *dir, const IrGraph *g, int j, int step,
                        int steps) {
  char stem[512];
  const char **names = malloc(sizeof *names * ((size_t)g->n_outputs + 1));
  if (!names) abort();
  for (int o = 0; o < g->n_outputs; o++) names[o] = g->outputs[o]->name;
  krt_npy_file_stem(names, g->n_outputs, j, stem, sizeof stem);
  free(names);
  if (steps > 1)
    snprintf(buf, size, "%s/%s.%d.npy", dir, stem, step);
  else
    snprintf(buf, size, "%s/%s.npy", dir, stem);
}

static int cmd_run(const Args *a) {
  IrGraph *g = load_and_optimize(a, a->quantize || a->quantize_weights); /* a pass */
  if (!g) return 1;
  int status = 1;
  /* with states, k sets of inputs are k calls in sequence from the initial state */
  int steps = g->n_inputs ? a->n_positional / g->n_inputs : 1;
  if (g->n_states ? (a->n_positional % (g->n_inputs ? g->n_inputs : 1) || steps < 1 ||
                     (!g->n_inputs && a->n_positional))
                  : a->n_positional != g->n_inputs) {
    fprintf(stderr, "kiln run: model '%s' takes %d input(s)%s, got %d .npy file(s)\n", g->name,
            g->n_inputs, g->n_states ? " per call" : "", a->n_positional);
    ir_graph_free(g);
    return 2;
  }
  int n_in = a->n_positional;
  krt_npy *ins = calloc((size_t)n_in + 1, sizeof *ins);
  const void **in_ptrs = calloc((size_t)n_in + 1, sizeof *in_ptrs);
  void **out_ptrs = calloc((size_t)g->n_outputs + 1, sizeof *out_ptrs);
  void *state = g->n_states ? calloc(1, (size_t)g->state_size) : NULL;
  int64_t *lens = calloc((size_t)steps + 1, sizeof *lens);       /* run-time length per call */
  int64_t *batches = calloc((size_t)steps + 1, sizeof *batches); /* and batch */
  if (!ins || !in_ptrs || !out_ptrs || (g->n_states && !state) || !lens || !batches) abort();
  const IrDynDim *len_dim = g->n_dyn ? &g->dyn[ir_dyn_len_index(g)] : NULL,
                 *batch_dim = g->outer ? &g->dyn[g->outer - 1] : NULL;
  if (state) ir_state_reset(g, state);
  char err[512];
  for (int i = 0; i < n_in; i++) {
    const IrValue *v = g->inputs[i % g->n_inputs];
    if (!krt_npy_read(a->positional[i], &ins[i], err, sizeof err)) {
      fprintf(stderr, "kiln run: %s\n", err);
      goto done;
    }
    if (!krt_npy_check_dims(&ins[i], (int32_t)v->dtype, v->rank, v->dims, v->dyn - 1,
                            len_dim ? len_dim->name : "", &lens[i / g->n_inputs], v->outer,
                            batch_dim ? batch_dim->name : "", batch_dim ? batch_dim->max : 1,
                            &batches[i / g->n_inputs], err, sizeof err)) {
      fprintf(stderr, "kiln run: %s: input '%s': %s\n", a->positional[i], v->name, err);
      goto done;
    }
    in_ptrs[i] = ins[i].data;
  }
  for (int j = 0; j < g->n_outputs; j++) {
    out_ptrs[j] = malloc(
        (size_t)ir_value_nbytes(g->outputs[j]) * (size_t)(batch_dim ? batch_dim->max : 1) + 1);
    if (!out_ptrs[j]) abort();
  }
  const char *dir = a->out ? a->out : ".";
  if (!krt_make_dirs(dir, err, sizeof err)) {
    fprintf(stderr, "kiln run: -o: %s\n", err);
    goto done;
  }
  for (int t = 0; t < steps; t++) {
    if (g->n_dyn) { /* the interpreter runs the graph re-inferred at the call's length */
      IrDiag d;
      ir_diag_init(&d, a->model, true);
      int64_t dims[IR_MAX_DYN];
      dims[ir_dyn_len_index(g)] = lens[t] ? lens[t] : len_dim->max;
      if (batch_dim) dims[g->outer - 1] = batches[t] ? batches[t] : batch_dim->max;
      bool ok = ir_dyn_resize_dims(g, dims, &d);
      ir_diag_free(&d);
      if (!ok) goto done;
    }
    int rc = ir_interp_run_state(g, in_ptrs + (size_t)t * (size_t)g->n_inputs, out_ptrs, state);
    if (rc != 0) {
      fprintf(stderr, "kiln run: the model returned %d: %s\n", rc, krt_strerror(rc));
      goto done;
    }
    for (int j = 0; j < g->n_outputs; j++) {
      const IrValue *v = g->outputs[j];
      char path[PATH_MAX];
      output_path(path, sizeof path, dir, g, j, t, steps);
      if (!krt_npy_write(path, (int32_t)v->dtype, v->rank, v->dims, out_ptrs[j], err, sizeof err)) {
        fprintf(stderr, "kiln run: %s\n", err);
        goto done;
      }
      krt_print_summary(stdout, v->name, (int32_t)v->dtype, v->rank, v->dims, out_ptrs[j]);
    }
  }
  status = 0;
done:
  for (int i = 0; i < n_in; i++) krt_npy_free(&ins[i]);
  for (int j = 0; j < g->n_outputs; j++) free(out_ptrs[j]);
  free(ins);
  free(in_ptrs);
  free(out_ptrs);
  free(state);
  free(lens);
  free(batches);
  ir_graph_free(g);
  return status;
}

static int cmd_inspect(const Args *a) {
  if (a->eval_dir) {
    fprintf(stderr, "kiln inspect: --eval applies to compile and build\n");
    return 2;
  }
  QuantSetup *qs;
  if (!quant_setup(a, &qs)) return 1;
  InspectOptions o = {.model = a->model,
                      .state = a->state,
                      .fe = fe_options(a),
                      .passes = pass_options(a), /* no --max-workspace: inspect shows the plan */
                      .after = a->after ? a->after : a->print_after,
                      .print_graph = a->print_graph,
                      .json = a->json,
                      .dot = a->dot,
                      .memory_plan = a->memory_plan,
                      .plan_svg = a->plan_svg,
                      .target = {.prefix = "inspect",
                                 .triple = a->triple,
                                 .cpu = a->cpu,
                                 .features = a->features,
                                 .opt_level = a->opt_level}};
  o.passes.quant = qs ? &qs->qo : NULL;
  int rc = kiln_inspect(&o);
  quant_free(qs);
  return rc;
}

/* `kiln import model.onnx [-o model.json] [--name NAME]`: the ONNX importer (frontend/fe_onnx.c)
 * builds the IR, which is written back as Kiln JSON + weights (frontend/fe_write.c). */
static int cmd_import(const Args *a) {
  char out[PATH_MAX];
  if (a->out) {
    snprintf(out, sizeof out, "%s", a->out);
  } else {
    const char *base = strrchr(a->model, '/');
    replace_extension(base ? base + 1 : a->model, ".json", out, sizeof out);
  }
  if (!fe_is_onnx_path(a->model)) {
    fprintf(stderr, "kiln import: '%s' is not an ONNX model (expected a .onnx file)\n", a->model);
    return 1;
  }
  IrDiag d;
  ir_diag_init(&d, a->model, true);
  FeOptions fo = fe_options(a);
  kiln_progress_stage("load", 0);
  IrGraph *g = fe_load_model_opts(a->model, &fo, &d);
  int rc = 1;
  char parent[PATH_MAX], err[512];
  snprintf(parent, sizeof parent, "%s", out);
  char *slash = strrchr(parent, '/');
  if (g && slash && slash != parent) {
    *slash = 0;
    if (!krt_make_dirs(parent, err, sizeof err)) {
      fprintf(stderr, "kiln import: %s\n", err);
      ir_graph_free(g);
      g = NULL;
    }
  }
  if (g) {
    const char *base = strrchr(a->model, '/');
    char doc[PATH_MAX + 64];
    snprintf(doc, sizeof doc, "Imported from %s by kiln import", base ? base + 1 : a->model);
    IrDiag wd;
    ir_diag_init(&wd, out, true);
    kiln_progress_stage("write", g->n_nodes);
    /* JSON holds constants as data: one folded from the run-time length stays at the maximum */
    if (ir_dyn_folds_vary(g))
      ir_diag_error(&wd, "--max-dim",
                    "the model computes constants from the run-time length '%s'%s%s%s (Shape, "
                    "then positions or shapes): the JSON form holds them only at the maximum; "
                    "compile the ONNX file itself",
                    g->dyn[ir_dyn_len_index(g)].name, g->outer ? " or batch '" : "",
                    g->outer ? g->dyn[g->outer - 1].name : "", g->outer ? "'" : "");
    if (g->outer) { /* shapes at both maxima, as a single run-time dim is written at its max */
      int64_t maxima[IR_MAX_DYN] = {g->dyn[0].max, g->dyn[1].max};
      if (!ir_dyn_resize_dims(g, maxima, &wd))
        ir_diag_error(&wd, "--max-dim", "cannot write the batch");
    }
    rc = wd.n_errors == 0 && fe_write_model(g, out, a->name, doc, &wd) ? 0 : 1;
    ir_diag_free(&wd);
  }
  ir_graph_free(g);
  ir_diag_free(&d);
  return rc;
}

/* ---- the compile-time memory cap ----------------------------------------------------------- */
#if defined(__SANITIZE_ADDRESS__)
#define KILN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KILN_ASAN 1
#endif
#endif

#ifndef KILN_ASAN
static char oom_msg[256];

/* Kiln aborts when an allocation fails (its own `if (!p) abort()`, LLVM's bad_alloc handler);
 * errno is then still ENOMEM from malloc/mmap. Turn that into a user error, not a crash. */
static void on_abort(int sig) {
  if (errno == ENOMEM && oom_msg[0]) {
    ssize_t w = write(2, oom_msg, strlen(oom_msg));
    (void)w;
    _exit(1);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}
#endif

/* Caps the address space at `bytes` (RLIMIT_AS) so that a model asking for too much fails with
 * a message rather than being OOM-killed with the build machine. Not under AddressSanitizer,
 * whose shadow memory is terabytes of reserved address space. */
static void set_memory_cap(long long bytes) {
#ifndef KILN_ASAN
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) != 0) return;
  if (rl.rlim_max != RLIM_INFINITY && (rlim_t)bytes > rl.rlim_max) return;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)bytes) return; /* already lower */
  rl.rlim_cur = (rlim_t)bytes;
  if (setrlimit(RLIMIT_AS, &rl) != 0) return;
  snprintf(oom_msg, sizeof oom_msg,
           "kiln: out of memory: the model needs more than Kiln's compile-time memory cap of "
           "%lld bytes (--max-memory BYTES raises it)\n",
           bytes);
  signal(SIGABRT, on_abort);
#else
  (void)bytes;
#endif
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
      !strcmp(argv[1], "help")) {
    fputs(kiln_main_usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("kiln %s\n", KILN_VERSION);
    return 0;
  }
  static const struct {
    const char *name;
    int (*fn)(const Args *);
  } commands[] = {{"compile", cmd_compile},
                  {"build", cmd_build},
                  {"run", cmd_run},
                  {"inspect", cmd_inspect},
                  {"import", cmd_import}};
  for (size_t c = 0; c < sizeof commands / sizeof *commands; c++) {
    if (strcmp(argv[1], commands[c].name)) continue;
    Args a;
    int rc = kiln_parse_args(argc, argv, &a);
    if (rc == 0) set_memory_cap(a.max_memory);
    if (rc == 0) kiln_progress_init(a.verbose);
    if (rc == 0) rc = commands[c].fn(&a);
    kiln_progress_end();
    kiln_args_free(&a);
    return rc < 0 ? 0 : rc;
  }
  fprintf(stderr, "kiln: unknown command '%s'\n\n%s", argv[1], kiln_main_usage);
  return 2;
}
