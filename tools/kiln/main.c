/* kiln: the command-line driver. Wires frontend -> passes -> codegen, owns files and exit codes.
 * Exit codes: 0 ok, 1 a user error in the model or its inputs, 2 a bad command line. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cg.h"
#include "fe.h"
#include "inspect.h"
#include "kiln_cli.h"
#include "krt.h"
#include "krt_npy.h"
#include "pass.h"

#define KILN_VERSION "0.1.0"

typedef struct Args {
  const char *cmd;
  const char *model;
  const char *out;
  const char *header;
  const char *name;
  const char *triple, *cpu, *features;
  const char *cc;
  const char *print_after;
  long long max_workspace; /* bytes; 0: no limit */
  int conv_kernel;         /* --conv: 0 auto, else an IrKernel every Conv must use if it can */
  const char *weights_file, *weights_section;
  bool weights_external;
  const char *passes, *after, *plan_svg; /* --passes, inspect --after, --memory-plan-svg */
  int opt_level;
  CgEmit emit;
  bool list_targets, print_graph, verify_each, size_report, json, dot, memory_plan, profile;
  const char **positional; /* .npy inputs for `run` */
  int n_positional;
} Args;

static const char *const main_usage =
    "usage: kiln <command> [options]\n"
    "\n"
    "Kiln compiles neural-network models (Kiln JSON, docs/model-format.md) to native code.\n"
    "Every command also takes an ONNX model (model.onnx), imported first.\n"
    "\n"
    "commands:\n"
    "  import    model.onnx -> Kiln model JSON (+ weights beside it)\n"
    "  compile   model.json -> object file + C header (or assembly / LLVM IR)\n"
    "  build     model.json -> standalone executable that runs the model on .npy files\n"
    "  run       run a model with the reference interpreter on .npy inputs\n"
    "  inspect   print ops, parameters, MACs and workspace of a model\n"
    "\n"
    "Run 'kiln <command> --help' for the options of a command.\n";

static const char *const target_help =
    "  -O0, -O1, -O2, -O3    optimization level (default -O2)\n"
    "  --target TRIPLE       target triple (default: the host), e.g. aarch64-linux-gnu\n"
    "  --cpu CPU             target CPU (default: the host CPU for the host triple, else generic)\n"
    "  --features LIST       target features, e.g. +avx2,+fma (default: the host's for the host)\n"
    "  --name NAME           C prefix of generated symbols (default: the model's name)\n"
    "  --max-workspace BYTES fail if the model needs a larger workspace (default: no limit)\n"
    "  --conv=KIND           Conv kernel: auto (cost model, default), im2col, wide or loops\n"
    "                        (each Conv that KIND can compute; docs/kernels.md)\n";

static void print_help(const char *cmd) {
  if (!strcmp(cmd, "compile")) {
    printf(
        "usage: kiln compile model.json [-o model.o] [--header model.h] [--emit obj|asm|llvm]\n"
        "                    [-O0..3] [--target T] [--cpu C] [--features F] [--name N]\n"
        "\nWrites an object file (or assembly, or LLVM IR) and a C header declaring\n"
        "NAME_run(), NAME_run_ws() and shape/size macros. Link the object with libkiln_rt.a.\n\n"
        "  -o FILE               output (default: NAME.o, NAME.s or NAME.ll)\n"
        "  --header FILE         header path (default: the output with extension .h)\n"
        "  --emit KIND           obj (default), asm or llvm\n"
        "  --list-targets        print the targets this build of Kiln can generate code for\n"
        "  --print-after PASS    print the graph after pass PASS (e.g. fold, memplan)\n"
        "  --passes A,B,...      run these passes instead of the -O pipeline (memplan last)\n"
        "  --verify-each         run the IR verifier after every pass\n"
        "  --weights=external    write the weights to a separate file (64-byte aligned tensors)\n"
        "                        instead of the object; run functions take a weights pointer\n"
        "  --weights-file FILE   that file (default: the output with extension .weights)\n"
        "  --weights-section S   put the embedded weights in ELF section S (for a linker "
        "script)\n"
        "  --size-report         print code, constant and workspace bytes of the object\n%s",
        target_help);
  } else if (!strcmp(cmd, "build")) {
    printf("usage: kiln build model.json [-o EXE] [-O0..3] [--name N] [--profile] [--cc CC]\n"
           "\nCompiles the model and links it with Kiln's driver into an executable:\n"
           "  EXE in0.npy [in1.npy ...] [-o DIR] [--repeat N] [--quiet]\n"
           "reads the inputs in declared order, writes DIR/<output name>.npy, and with --repeat N\n"
           "prints the median latency of N runs.\n\n"
           "  -o FILE               executable (default: NAME)\n"
           "  --profile             the executable also prints the time of every node\n"
           "  --cc CC               linker driver (default: $CC or cc)\n%s",
           target_help);
  } else if (!strcmp(cmd, "run")) {
    printf("usage: kiln run model.json in0.npy [in1.npy ...] [-o DIR]\n"
           "\nRuns the model with the reference interpreter (plain C loops: slow but obviously\n"
           "right) and writes DIR/<output name>.npy for every output (DIR defaults to '.').\n");
  } else if (!strcmp(cmd, "import")) {
    printf("usage: kiln import model.onnx [-o model.json] [--name NAME]\n"
           "\nConverts an ONNX model (opsets 11-17, static shapes) to a Kiln model JSON and\n"
           "<stem>.weights.bin beside it, folding the exporter's shape computations; lists every\n"
           "unsupported op with its nodes. Needs Python with onnx (Debian: python3-onnx).\n");
  } else if (!strcmp(cmd, "inspect")) {
    printf("usage: kiln inspect model.json [-O0..3] [--passes A,B] [--print] [--after PASS]\n"
           "                    [--json | --dot] [--memory-plan] [--memory-plan-svg FILE]\n"
           "\nPrints op counts, parameters, MACs, workspace bytes and its lower bound, before\n"
           "the passes and after the pipeline of the -O level (default -O2).\n"
           "  --print               also print the optimized graph\n"
           "  --after PASS          print the graph after pass PASS\n"
           "  --json                one JSON object instead (fields: docs/passes.md)\n"
           "  --dot                 the optimized graph as Graphviz DOT instead\n"
           "  --memory-plan         each workspace value's offset, size and lifetime\n"
           "  --memory-plan-svg F   write a picture of the memory plan to F\n"
           "passes: fold, simplify, padfold, bnfold, cse, fuse, dce, memplan\n");
  } else {
    fputs(main_usage, stdout);
  }
}

static int usage_error(const char *cmd, const char *fmt, const char *arg) {
  fprintf(stderr, "kiln %s: ", cmd);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nRun 'kiln %s --help' for usage.\n", cmd);
  return 2;
}

/* Returns 0 on success, else an exit code. */
static int parse_args(int argc, char **argv, Args *a) {
  memset(a, 0, sizeof *a);
  a->cmd = argv[1];
  a->opt_level = 2;
  a->emit = CG_EMIT_OBJ;
  a->positional = calloc((size_t)argc, sizeof *a->positional);
  if (!a->positional) abort();
  for (int i = 2; i < argc; i++) {
    const char *s = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(field)                                                                                \
  do {                                                                                             \
    if (!next) return usage_error(a->cmd, "option '%s' needs a value", s);                         \
    a->field = next;                                                                               \
    i++;                                                                                           \
  } while (0)
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      print_help(a->cmd);
      return -1;
    } else if (!strcmp(s, "-o"))
      TAKE(out);
    else if (!strcmp(s, "--header"))
      TAKE(header);
    else if (!strcmp(s, "--name"))
      TAKE(name);
    else if (!strcmp(s, "--target"))
      TAKE(triple);
    else if (!strcmp(s, "--cpu"))
      TAKE(cpu);
    else if (!strcmp(s, "--features"))
      TAKE(features);
    else if (!strcmp(s, "--cc"))
      TAKE(cc);
    else if (!strcmp(s, "--print-after"))
      TAKE(print_after);
    else if (!strcmp(s, "--max-workspace")) {
      char *end = NULL;
      errno = 0;
      long long v = next ? strtoll(next, &end, 10) : 0;
      if (!next || end == next || *end || errno || v <= 0)
        return usage_error(a->cmd, "--max-workspace: expected a positive number of bytes, got '%s'",
                           next ? next : "");
      a->max_workspace = v;
      i++;
    } else if (!strcmp(s, "--weights-file"))
      TAKE(weights_file);
    else if (!strcmp(s, "--weights-section")) {
      TAKE(weights_section);
      if (!*next ||
          strspn(next, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.$") !=
              strlen(next))
        return usage_error(a->cmd, "--weights-section: '%s' is not a section name", next);
    } else if (!strcmp(s, "--weights=external") || !strcmp(s, "--weights=embedded"))
      a->weights_external = !strcmp(s, "--weights=external");
    else if (!strncmp(s, "--weights=", 10))
      return usage_error(a->cmd, "--weights: expected 'embedded' or 'external', got '%s'", s + 10);
    else if (!strncmp(s, "--print-after=", 14))
      a->print_after = s + 14;
    else if (!strncmp(s, "--conv=", 7)) {
      static const struct {
        const char *name;
        IrKernel kernel;
      } convs[] = {{"auto", IR_KERNEL_DEFAULT},
                   {"im2col", IR_KERNEL_CONV_GEMM},
                   {"wide", IR_KERNEL_CONV_WIDE},
                   {"loops", IR_KERNEL_COUNT}};
      size_t k = 0;
      while (k < sizeof convs / sizeof *convs && strcmp(s + 7, convs[k].name)) k++;
      if (k == sizeof convs / sizeof *convs)
        return usage_error(a->cmd, "--conv: expected auto, im2col, wide or loops, got '%s'", s + 7);
      a->conv_kernel = (int)convs[k].kernel;
    } else if (!strcmp(s, "--passes"))
      TAKE(passes);
    else if (!strncmp(s, "--passes=", 9))
      a->passes = s + 9;
    else if (!strcmp(s, "--after"))
      TAKE(after);
    else if (!strncmp(s, "--after=", 8))
      a->after = s + 8;
    else if (!strcmp(s, "--memory-plan-svg"))
      TAKE(plan_svg);
    else if (!strcmp(s, "--emit")) {
      if (!next) return usage_error(a->cmd, "option '%s' needs a value", s);
      if (!strcmp(next, "obj"))
        a->emit = CG_EMIT_OBJ;
      else if (!strcmp(next, "asm"))
        a->emit = CG_EMIT_ASM;
      else if (!strcmp(next, "llvm"))
        a->emit = CG_EMIT_LLVM;
      else
        return usage_error(a->cmd, "--emit: expected obj, asm or llvm, got '%s'", next);
      i++;
    } else if (s[0] == '-' && s[1] == 'O' && s[2] >= '0' && s[2] <= '3' && !s[3]) {
      a->opt_level = s[2] - '0';
    } else if (!strcmp(s, "--list-targets")) {
      a->list_targets = true;
    } else if (!strcmp(s, "--size-report")) {
      a->size_report = true;
    } else if (!strcmp(s, "--print")) {
      a->print_graph = true;
    } else if (!strcmp(s, "--verify-each")) {
      a->verify_each = true;
    } else if (!strcmp(s, "--profile") && !strcmp(a->cmd, "build")) {
      a->profile = true;
    } else if (!strcmp(s, "--json")) {
      a->json = true;
    } else if (!strcmp(s, "--dot")) {
      a->dot = true;
    } else if (!strcmp(s, "--memory-plan")) {
      a->memory_plan = true;
    } else if (s[0] == '-' && s[1]) {
      return usage_error(a->cmd, "unknown option '%s'", s);
    } else if (!a->model) {
      a->model = s;
    } else {
      a->positional[a->n_positional++] = s;
    }
#undef TAKE
  }
  if (!a->model && !a->list_targets) return usage_error(a->cmd, "no model file given%s", "");
  if ((a->weights_external || a->weights_file || a->weights_section) && strcmp(a->cmd, "compile"))
    return usage_error(a->cmd, "weights placement options are for 'kiln compile'%s", "");
  if (a->size_report && (strcmp(a->cmd, "compile") || a->emit != CG_EMIT_OBJ))
    return usage_error(a->cmd, "--size-report needs an object file (kiln compile, --emit obj)%s",
                       "");
  if (a->weights_file && !a->weights_external)
    return usage_error(a->cmd, "--weights-file needs --weights=external%s", "");
  if (a->weights_section && a->weights_external)
    return usage_error(a->cmd,
                       "--weights-section is for embedded weights, not --weights=external%s", "");
  return 0;
}

/* Bare metal (a *-none-* triple): little RAM, no L2 for a conv panel to fill, vectors of at most
 * 4 lanes; so small panels and room for tiles of at most 16 columns. 0 elsewhere: the pass's
 * defaults, sized for a host's L2 and AVX-512. */
static bool bare_metal(const Args *a) { return a->triple && strstr(a->triple, "-none"); }
static int64_t conv_panel_bytes(const Args *a) { return bare_metal(a) ? 8 * 1024 : 0; }
static int tile_cols_max(const Args *a) { return bare_metal(a) ? 16 : 0; }
/* RNN/GRU/LSTM: project 2 KiB of steps at a time there (lstm_forecaster: 4 steps of 48) */
static int64_t recurrent_proj_bytes(const Args *a) { return bare_metal(a) ? 2 * 1024 : 0; }

/* Loads the model and runs the pass pipeline; prints diagnostics; NULL on a user error. */
static IrGraph *load_and_optimize(const Args *a, bool plan) {
  IrDiag d;
  ir_diag_init(&d, a->model, true);
  IrGraph *g = fe_load_model(a->model, &d);
  if (g && plan) {
    PassOptions po = {.opt_level = a->opt_level,
                      .workspace_align = 64,
                      .verify_each = a->verify_each,
                      .print_after = a->print_after,
                      .max_workspace = a->max_workspace,
                      .conv_kernel = a->conv_kernel,
                      .passes = a->passes};
    po.conv_panel_bytes = conv_panel_bytes(a);
    po.tile_cols_max = tile_cols_max(a);
    po.recurrent_proj_bytes = recurrent_proj_bytes(a);
    if (!pass_run_pipeline(g, &po, &d)) {
      ir_graph_free(g);
      g = NULL;
    }
  }
  ir_diag_free(&d);
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
                 .pic = true};
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
  IrDiag d;
  ir_diag_init(&d, a->model, true);
  bool ok = cg_compile(g, &o, out, &d) && cg_write_header(g, &o, header, &d);
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
  }
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

static int cmd_build(const Args *a) {
  char libdir[PATH_MAX];
  if (!find_libdir(libdir, sizeof libdir)) {
    fprintf(stderr, "kiln build: cannot find libkiln_driver.a next to the kiln executable\n");
    return 1;
  }
  IrGraph *g = load_and_optimize(a, true);
  if (!g) return 1;
  char prefix[256], exe[PATH_MAX], tmpdir[] = "/tmp/kiln-build-XXXXXX";
  model_prefix(a, g, prefix, sizeof prefix);
  snprintf(exe, sizeof exe, "%s", a->out ? a->out : prefix);
  if (!mkdtemp(tmpdir)) {
    fprintf(stderr, "kiln build: cannot create a temporary directory: %s\n", strerror(errno));
    ir_graph_free(g);
    return 1;
  }
  char obj[PATH_MAX], tmp_exe[PATH_MAX + 32];
  snprintf(obj, sizeof obj, "%s/%s.o", tmpdir, prefix);
  snprintf(tmp_exe, sizeof tmp_exe, "%s.tmp.%d", exe, (int)getpid());
  CgOptions o = codegen_options(a, prefix);
  o.emit = CG_EMIT_OBJ;
  o.driver_hook = true;
  o.profile = a->profile;
  IrDiag d;
  ir_diag_init(&d, a->model, true);
  bool ok = cg_compile(g, &o, obj, &d);
  ir_diag_free(&d);
  ir_graph_free(g);
  if (ok) {
    char drv[PATH_MAX + 32], npy[PATH_MAX + 32], rt[PATH_MAX + 32];
    snprintf(drv, sizeof drv, "%s/libkiln_driver.a", libdir);
    snprintf(npy, sizeof npy, "%s/libkiln_npy.a", libdir);
    snprintf(rt, sizeof rt, "%s/libkiln_rt.a", libdir);
    const char *cc = a->cc ? a->cc : getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
    char *argv[] = {(char *)cc, obj, drv, npy, rt, "-lm", "-o", tmp_exe, NULL};
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
  rmdir(tmpdir);
  return ok ? 0 : 1;
}

static int cmd_run(const Args *a) {
  IrGraph *g = load_and_optimize(a, false);
  if (!g) return 1;
  int status = 1;
  if (a->n_positional != g->n_inputs) {
    fprintf(stderr, "kiln run: model '%s' takes %d input(s), got %d .npy file(s)\n", g->name,
            g->n_inputs, a->n_positional);
    ir_graph_free(g);
    return 2;
  }
  krt_npy *ins = calloc((size_t)g->n_inputs + 1, sizeof *ins);
  const void **in_ptrs = calloc((size_t)g->n_inputs + 1, sizeof *in_ptrs);
  void **out_ptrs = calloc((size_t)g->n_outputs + 1, sizeof *out_ptrs);
  if (!ins || !in_ptrs || !out_ptrs) abort();
  char err[512];
  for (int i = 0; i < g->n_inputs; i++) {
    const IrValue *v = g->inputs[i];
    if (!krt_npy_read(a->positional[i], &ins[i], err, sizeof err)) {
      fprintf(stderr, "kiln run: %s\n", err);
      goto done;
    }
    if (!krt_npy_check(&ins[i], (int32_t)v->dtype, v->rank, v->dims, err, sizeof err)) {
      fprintf(stderr, "kiln run: %s: input '%s': %s\n", a->positional[i], v->name, err);
      goto done;
    }
    in_ptrs[i] = ins[i].data;
  }
  for (int j = 0; j < g->n_outputs; j++) {
    out_ptrs[j] = malloc((size_t)ir_value_nbytes(g->outputs[j]) + 1);
    if (!out_ptrs[j]) abort();
  }
  int rc = ir_interp_run(g, in_ptrs, out_ptrs);
  if (rc != 0) {
    fprintf(stderr, "kiln run: the model returned %d: %s\n", rc, krt_strerror(rc));
    goto done;
  }
  const char *dir = a->out ? a->out : ".";
  for (int j = 0; j < g->n_outputs; j++) {
    const IrValue *v = g->outputs[j];
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.npy", dir, v->name);
    if (!krt_npy_write(path, (int32_t)v->dtype, v->rank, v->dims, out_ptrs[j], err, sizeof err)) {
      fprintf(stderr, "kiln run: %s\n", err);
      goto done;
    }
    krt_print_summary(stdout, v->name, (int32_t)v->dtype, v->rank, v->dims, out_ptrs[j]);
  }
  status = 0;
done:
  for (int i = 0; i < g->n_inputs; i++) krt_npy_free(&ins[i]);
  for (int j = 0; j < g->n_outputs; j++) free(out_ptrs[j]);
  free(ins);
  free(in_ptrs);
  free(out_ptrs);
  ir_graph_free(g);
  return status;
}

static int cmd_inspect(const Args *a) {
  InspectOptions o = {.model = a->model,
                      .passes = {.opt_level = a->opt_level,
                                 .workspace_align = 64,
                                 .verify_each = a->verify_each,
                                 .passes = a->passes,
                                 .conv_kernel = a->conv_kernel,
                                 .conv_panel_bytes = conv_panel_bytes(a),
                                 .tile_cols_max = tile_cols_max(a),
                                 .recurrent_proj_bytes = recurrent_proj_bytes(a)},
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
  return kiln_inspect(&o);
}

/* `kiln import model.onnx [-o model.json] [--name NAME]` */
static int cmd_import(int argc, char **argv) {
  Args a;
  int rc = parse_args(argc, argv, &a);
  free(a.positional);
  if (rc != 0) return rc < 0 ? 0 : rc;
  char out[PATH_MAX];
  if (a.out) {
    snprintf(out, sizeof out, "%s", a.out);
  } else {
    const char *base = strrchr(a.model, '/');
    replace_extension(base ? base + 1 : a.model, ".json", out, sizeof out);
  }
  return kiln_onnx_import(a.model, out, a.name);
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
      !strcmp(argv[1], "help")) {
    fputs(main_usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("kiln %s\n", KILN_VERSION);
    return 0;
  }
  static const struct {
    const char *name;
    int (*fn)(const Args *);
  } commands[] = {
      {"compile", cmd_compile}, {"build", cmd_build}, {"run", cmd_run}, {"inspect", cmd_inspect}};
  for (size_t c = 0; c < sizeof commands / sizeof *commands; c++) {
    if (strcmp(argv[1], commands[c].name)) continue;
    Args a;
    int rc = parse_args(argc, argv, &a);
    char json[PATH_MAX] = "";
    if (rc == 0 && a.model && kiln_is_onnx(a.model)) { /* import first, then as JSON */
      rc = kiln_onnx_import_temp(a.model, json, sizeof json);
      if (rc == 0) a.model = json;
    }
    if (rc == 0) rc = commands[c].fn(&a);
    if (json[0]) kiln_onnx_cleanup(json);
    free(a.positional);
    return rc < 0 ? 0 : rc;
  }
  if (!strcmp(argv[1], "import")) return cmd_import(argc, argv);
  fprintf(stderr, "kiln: unknown command '%s'\n\n%s", argv[1], main_usage);
  return 2;
}
