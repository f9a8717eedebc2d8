/* The kiln command line (args.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "pass.h"

const char *const kiln_main_usage =
    "usage: kiln <command> [options]\n"
    "\n"
    "Kiln compiles neural-network models (Kiln JSON, docs/model-format.md) to native code.\n"
    "Every command also takes an ONNX model (model.onnx, opsets 7-21), read directly.\n"
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
    "  --features LIST       target features, e.g. +avx2,+fma (default: the host's for the host\n"
    "                        CPU; with another --cpu, none: give them, Kiln sizes tiles by them)\n"
    "  --name NAME           C prefix of generated symbols (default: the model's name)\n"
    "  --max-workspace BYTES fail if the model needs a larger workspace (default: 1 GiB)\n"
    "  --weights-dir DIR     external weights may also come from DIR (repeatable; default:\n"
    "                        only the model's folder)\n"
    "  --max-weight-bytes N  fail if the initializers total more (default: 1 GiB)\n"
    "  --max-nodes N         fail if the model has more nodes (default: 100000)\n"
    "  --input-shape NAME=D0,D1,...  ONNX: fix the shape of input NAME (repeatable)\n"
    "  --bind NAME=V[,V...]  ONNX: make input NAME a constant (repeatable)\n"
    "  --max-dim NAME=N[,NAME=N]  the symbolic dim NAME (JSON shape string, ONNX dim_param)\n"
    "                        has a run-time length up to N: NAME_run_dims takes it; two dims:\n"
    "                        a batch (axis 0) and a length (docs/model-format.md)\n"
    "  --max-memory BYTES    cap Kiln's own address space (default: 8 GiB)\n"
    "  -v, --verbose         print the time of each stage (load, passes, lower, optimize,\n"
    "                        emit, ...); on a terminal a progress line shows after 1 s\n"
    "  --prune=SPEC          prune (lossy, repeatable): magnitude:F or magnitude:NODE=F,...\n"
    "                        (weights), channels:F or channels:NODE=F,... (output channels);\n"
    "                        F in [0, 1). Zero channels are always removed (-O1 and above)\n"
    "  --eval DIR            after every lossy pass print agreement with the unpruned model and\n"
    "                        accuracy (DIR: <input>.npy, samples on axis 0; labels.npy)\n"
    "  --max-accuracy-drop P fail, writing nothing, if a lossy pass costs more than P points\n"
    "  --sparse=KIND         kernels for weights with exact zeros: auto (cost model, default),\n"
    "                        dense, block, csr or unrolled\n"
    "  --conv=KIND           Conv kernel: auto (cost model, default), im2col, wide, winograd\n"
    "                        (3x3 stride 1) or loops\n"
    "                        (each Conv that KIND can compute; docs/kernels.md)\n"
    "  --layout=KIND         activations' storage: auto (cost model, default), nchw, or nchwc\n"
    "                        (channel blocks of the vector width for runs of Conv layers)\n"
    "  --attention=KIND      fuse scaled dot-product attention: decode (default: one query\n"
    "                        row, a decode step), all, or off (docs/passes.md)\n"
    "  --state OUT=IN,...    output OUT is kept in the caller's state buffer and read as\n"
    "                        input IN by the next call (KV cache, RNN state; zeros at first)\n"
    "  --quantize=int8       static int8 quantization (docs/quantization.md); needs\n"
    "  --calibrate PATH      a folder of .npy samples, or a .npy file (repeatable); a file\n"
    "                        may hold several samples one after another; a model with\n"
    "                        several inputs: folders of NAME.npy or NAME/ per input\n"
    "  --quantize=int8-weights  Gemm/MatMul weights int8 per output column, RNN/GRU/LSTM\n"
    "                        gate matrices per gate row, activations and state f32, no\n"
    "                        calibration (docs/quantization.md)\n"
    "  --quant-io=KIND       with --quantize=int8 or a pre-quantized (QDQ) model: float\n"
    "                        (default: float inputs/outputs,\n"
    "                        the conversions inside) or int8 (the model takes and returns\n"
    "                        the int8 tensors; the header gives their scale and zero point)\n"
    "  --calibration=KIND    range observer: minmax (default), percentile:P (e.g. 99.99), mse\n"
    "  --quant-keep-fp32=L   keep these layers fp32: node names (comma-separated), or auto[:DB]\n"
    "                        (the layers whose int8 output is below DB of SQNR, default 20)\n";

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
        "  --size-report         print code, constant, workspace and stack bytes of the object\n"
        "  --max-stack BYTES     fail if the generated code needs more stack (default: no "
        "limit)\n%s",
        target_help);
  } else if (!strcmp(cmd, "build")) {
    printf("usage: kiln build model.json [-o EXE] [-O0..3] [--name N] [--profile] [--cc CC]\n"
           "\nCompiles the model and links it with Kiln's driver into an executable:\n"
           "  EXE in0.npy [in1.npy ...] [-o DIR] [--repeat N] [--quiet]\n"
           "reads the inputs in declared order, writes DIR/<output name>.npy, and with --repeat N\n"
           "prints the median latency of N runs.\n\n"
           "  -o FILE               executable (default: NAME)\n"
           "  --profile             the executable also prints the time of every node\n"
           "  --generate            a token generator for a decoder step with states (KV cache):\n"
           "                        EXE PROMPT [-n N] [--top-k K] [--top-p P] [--temperature T]\n"
           "                        [--seed S] [--stop ID] [-o ids.npy]; PROMPT: ids.npy or 1,5,7\n"
           "  --encoder MODEL       with --generate: an encoder-decoder generator; MODEL maps the\n"
           "                        source ids to values the decoder step takes as inputs of the\n"
           "                        same names (run once); EXE SOURCE --start ID [...]\n"
           "  --cc CC               linker driver (default: $CC or cc)\n"
           "  --max-stack BYTES     fail if the generated code needs more stack (default: no "
           "limit)\n%s",
           target_help);
  } else if (!strcmp(cmd, "run")) {
    printf("usage: kiln run model.json in0.npy [in1.npy ...] [-o DIR] [--state OUT=IN,...]\n"
           "\nRuns the model with the reference interpreter (plain C loops: slow but obviously\n"
           "right) and writes DIR/<output name>.npy for every output (DIR defaults to '.').\n"
           "A model with states takes k times its inputs: k calls in sequence from the initial\n"
           "state; call t writes DIR/<output name>.<t>.npy when k > 1.\n");
  } else if (!strcmp(cmd, "import")) {
    printf("usage: kiln import model.onnx [-o model.json] [--name NAME] [--input-shape NAME=DIMS]\n"
           "                   [--bind NAME=VALUES] [--weights-dir DIR]\n"
           "\nConverts an ONNX model (opsets 7-21) to a Kiln model JSON and <stem>.weights.bin\n"
           "beside it, folding the exporter's shape computations; lists every unsupported op\n"
           "with its nodes (docs/onnx.md).\n"
           "  --input-shape NAME=D0,D1,...  fix the shape of input NAME (symbolic dims)\n"
           "  --bind NAME=V[,V...]  make input NAME a constant (one value, or one per element)\n");
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
           "  --state OUT=IN,...    output OUT is the state input IN of the next call\n"
           "passes: fold, simplify, padfold, bnfold, cse, fuse, dce, memplan\n");
  } else {
    fputs(kiln_main_usage, stdout);
  }
}

static int usage_error(const char *cmd, const char *fmt, const char *arg) {
  fprintf(stderr, "kiln %s: ", cmd);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nRun 'kiln %s --help' for usage.\n", cmd);
  return 2;
}

/* A positive byte count or number, else false. */
static bool parse_count(const char *s, long long *v) {
  char *end = NULL;
  errno = 0;
  *v = s ? strtoll(s, &end, 10) : 0;
  return s && end != s && !*end && !errno && *v > 0;
}

void kiln_args_free(Args *a) {
  free(a->prune);
  a->prune = NULL;
  free(a->positional);
  free(a->weights_dirs);
  free(a->calibrate);
  a->calibrate = NULL;
  free(a->input_shapes);
  free(a->binds);
  free(a->max_dims);
  a->max_dims = NULL;
  a->positional = NULL;
  a->weights_dirs = NULL;
  a->input_shapes = a->binds = NULL;
}

int kiln_parse_args(int argc, char **argv, Args *a) {
  memset(a, 0, sizeof *a);
  a->max_accuracy_drop = -1.0;
  a->cmd = argv[1];
  a->opt_level = 2;
  a->emit = CG_EMIT_OBJ;
  a->max_workspace = KILN_DEFAULT_MAX_WORKSPACE;
  a->max_memory = KILN_DEFAULT_MAX_MEMORY;
  a->positional = calloc((size_t)argc, sizeof *a->positional);
  a->weights_dirs = calloc((size_t)argc, sizeof *a->weights_dirs);
  a->calibrate = calloc((size_t)argc, sizeof *a->calibrate);
  a->input_shapes = calloc((size_t)argc, sizeof *a->input_shapes);
  a->binds = calloc((size_t)argc, sizeof *a->binds);
  a->max_dims = calloc((size_t)argc, sizeof *a->max_dims);
  if (!a->positional || !a->weights_dirs || !a->calibrate || !a->input_shapes || !a->binds ||
      !a->max_dims)
    abort();
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
    else if (!strcmp(s, "--state"))
      TAKE(state);
    else if (!strcmp(s, "--encoder") && !strcmp(a->cmd, "build"))
      TAKE(encoder);
    else if (!strcmp(s, "--print-after"))
      TAKE(print_after);
    else if (!strcmp(s, "--weights-dir")) {
      if (!next || !*next) return usage_error(a->cmd, "option '%s' needs a folder", s);
      a->weights_dirs[a->n_weights_dirs++] = next;
      i++;
    } else if (!strcmp(s, "--max-dim")) {
      if (!next || !strchr(next, '=') || next[0] == '=')
        return usage_error(a->cmd, "option '%s' needs NAME=N", s);
      a->max_dims[a->n_max_dims++] = next;
      i++;
    } else if (!strcmp(s, "--input-shape") || !strcmp(s, "--bind")) {
      if (!next || !strchr(next, '=') || next[0] == '=')
        return usage_error(a->cmd, "option '%s' needs NAME=VALUES", s);
      if (s[2] == 'i')
        a->input_shapes[a->n_input_shapes++] = next;
      else
        a->binds[a->n_binds++] = next;
      i++;
    } else if (!strcmp(s, "--max-workspace") || !strcmp(s, "--max-weight-bytes") ||
               !strcmp(s, "--max-nodes") || !strcmp(s, "--max-memory") ||
               !strcmp(s, "--max-stack")) {
      long long v;
      if (!parse_count(next, &v)) {
        fprintf(stderr, "kiln %s: %s: expected a positive number%s, got '%s'\n", a->cmd, s,
                strcmp(s, "--max-nodes") ? " of bytes" : "", next ? next : "");
        fprintf(stderr, "Run 'kiln %s --help' for usage.\n", a->cmd);
        return 2;
      }
      long long *field = !strcmp(s, "--max-workspace")      ? &a->max_workspace
                         : !strcmp(s, "--max-weight-bytes") ? &a->max_weight_bytes
                         : !strcmp(s, "--max-nodes")        ? &a->max_nodes
                         : !strcmp(s, "--max-memory")       ? &a->max_memory
                                                            : &a->max_stack;
      *field = v;
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
                   {"winograd", IR_KERNEL_CONV_WINOGRAD},
                   {"subpixel", IR_KERNEL_CONVT_SUBPIXEL},
                   {"col2im", IR_KERNEL_CONVT_GEMM},
                   {"loops", IR_KERNEL_COUNT}};
      size_t k = 0;
      while (k < sizeof convs / sizeof *convs && strcmp(s + 7, convs[k].name)) k++;
      if (k == sizeof convs / sizeof *convs)
        return usage_error(
            a->cmd,
            "--conv: expected auto, im2col, wide, winograd, subpixel, col2im or loops, got '%s'",
            s + 7);
      a->conv_kernel = (int)convs[k].kernel;
    } else if (!strcmp(s, "--prune") || !strncmp(s, "--prune=", 8)) {
      const char *spec = s[7] == '=' ? s + 8 : next;
      if (!spec || !*spec) return usage_error(a->cmd, "option '%s' needs a value", "--prune");
      if (s[7] != '=') i++;
      size_t old = a->prune ? strlen(a->prune) : 0;
      char *p = realloc(a->prune, old + strlen(spec) + 2);
      if (!p) abort();
      if (old) p[old++] = ';';
      strcpy(p + old, spec);
      a->prune = p;
    } else if (!strcmp(s, "--eval") || !strncmp(s, "--eval=", 7)) {
      a->eval_dir = s[6] == '=' ? s + 7 : next;
      if (!a->eval_dir || !*a->eval_dir)
        return usage_error(a->cmd, "option '%s' needs a folder", "--eval");
      if (s[6] != '=') i++;
    } else if (!strcmp(s, "--max-accuracy-drop")) {
      char *end = NULL;
      double v = next ? strtod(next, &end) : -1.0;
      if (!next || !*next || *end || !(v >= 0.0 && v <= 100.0))
        return usage_error(a->cmd, "--max-accuracy-drop: expected points in [0, 100], got '%s'",
                           next ? next : "");
      a->max_accuracy_drop = v;
      i++;
    } else if (!strncmp(s, "--sparse=", 9)) {
      static const struct {
        const char *name;
        IrKernel kernel;
      } kinds[] = {{"auto", IR_KERNEL_DEFAULT},
                   {"dense", IR_KERNEL_COUNT},
                   {"block", IR_KERNEL_SPARSE_BLOCK},
                   {"csr", IR_KERNEL_SPARSE_CSR},
                   {"unrolled", IR_KERNEL_SPARSE_UNROLLED}};
      size_t k = 0;
      while (k < sizeof kinds / sizeof *kinds && strcmp(s + 9, kinds[k].name)) k++;
      if (k == sizeof kinds / sizeof *kinds)
        return usage_error(
            a->cmd, "--sparse: expected auto, dense, block, csr or unrolled, got '%s'", s + 9);
      a->sparse_kernel = (int)kinds[k].kernel;
    } else if (!strncmp(s, "--layout=", 9)) {
      static const char *const kinds[] = {
          [PASS_LAYOUT_AUTO] = "auto", [PASS_LAYOUT_NCHW] = "nchw", [PASS_LAYOUT_NCHWC] = "nchwc"};
      int k = 0;
      while (k < 3 && strcmp(s + 9, kinds[k])) k++;
      if (k == 3)
        return usage_error(a->cmd, "--layout: expected auto, nchw or nchwc, got '%s'", s + 9);
      a->layout = k;
    } else if (!strncmp(s, "--attention=", 12)) {
      static const char *const kinds[] = {[PASS_ATTENTION_DECODE] = "decode",
                                          [PASS_ATTENTION_ALL] = "all",
                                          [PASS_ATTENTION_OFF] = "off"};
      int k = 0;
      while (k < 3 && strcmp(s + 12, kinds[k])) k++;
      if (k == 3)
        return usage_error(a->cmd, "--attention: expected decode, all or off, got '%s'", s + 12);
      a->attention = k;
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
    } else if (!strcmp(s, "-v") || !strcmp(s, "--verbose")) {
      a->verbose = true;
    } else if (!strcmp(s, "--size-report")) {
      a->size_report = true;
    } else if (!strcmp(s, "--print")) {
      a->print_graph = true;
    } else if (!strcmp(s, "--verify-each")) {
      a->verify_each = true;
    } else if (!strcmp(s, "--generate") && !strcmp(a->cmd, "build")) {
      a->generate = true;
    } else if (!strcmp(s, "--profile") && !strcmp(a->cmd, "build")) {
      a->profile = true;
    } else if (!strcmp(s, "--quantize=int8")) {
      a->quantize = true;
    } else if (!strcmp(s, "--quantize=int8-weights")) {
      a->quantize_weights = true;
    } else if (!strcmp(s, "--quant-io=float") || !strcmp(s, "--quant-io=int8")) {
      a->quant_io_int8 = !strcmp(s, "--quant-io=int8");
    } else if (!strncmp(s, "--quant-io", 10)) {
      return usage_error(a->cmd,
                         "--quant-io: expected --quant-io=float or --quant-io=int8, got '%s'", s);
    } else if (!strncmp(s, "--quantize", 10)) {
      return usage_error(a->cmd, "--quantize: expected --quantize=int8 or int8-weights, got '%s'",
                         s);
    } else if (!strcmp(s, "--calibrate")) {
      if (!next || !*next) return usage_error(a->cmd, "option '%s' needs a folder or file", s);
      a->calibrate[a->n_calibrate++] = next;
      i++;
    } else if (!strncmp(s, "--calibration=", 14)) {
      const char *k = s + 14;
      char *end = NULL;
      if (!strcmp(k, "minmax"))
        a->observer = PASS_OBS_MINMAX;
      else if (!strcmp(k, "mse"))
        a->observer = PASS_OBS_MSE;
      else if (!strncmp(k, "percentile:", 11) && (a->percentile = strtod(k + 11, &end), 1) &&
               end != k + 11 && !*end && a->percentile > 50 && a->percentile <= 100)
        a->observer = PASS_OBS_PERCENTILE;
      else
        return usage_error(a->cmd,
                           "--calibration: expected minmax, mse or percentile:P with P "
                           "in (50, 100], got '%s'",
                           k);
    } else if (!strncmp(s, "--quant-keep-fp32=", 18)) {
      const char *k = s + 18;
      char *end = NULL;
      if (!*k)
        return usage_error(a->cmd, "--quant-keep-fp32: expected auto[:DB] or node names%s", "");
      if (!strcmp(k, "auto"))
        a->keep_auto_db = 20;
      else if (!strncmp(k, "auto:", 5) && (a->keep_auto_db = strtod(k + 5, &end), 1) &&
               end != k + 5 && !*end && a->keep_auto_db > 0 && a->keep_auto_db < 200)
        ;
      else if (!strncmp(k, "auto", 4))
        return usage_error(a->cmd,
                           "--quant-keep-fp32: expected auto or auto:DB with DB in "
                           "(0, 200), got '%s'",
                           k);
      else
        a->keep_fp32 = k;
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
  if (a->max_stack && (strcmp(a->cmd, "compile") && strcmp(a->cmd, "build")))
    return usage_error(a->cmd, "--max-stack is for 'kiln compile' and 'kiln build'%s", "");
  if (a->max_stack && a->emit == CG_EMIT_LLVM)
    return usage_error(a->cmd, "--max-stack needs machine code (--emit obj or asm)%s", "");
  if (a->size_report && (strcmp(a->cmd, "compile") || a->emit != CG_EMIT_OBJ))
    return usage_error(a->cmd, "--size-report needs an object file (kiln compile, --emit obj)%s",
                       "");
  if (a->quantize != (a->n_calibrate > 0))
    return usage_error(a->cmd, "%s",
                       a->quantize ? "--quantize=int8 needs --calibrate PATH"
                                   : "--calibrate needs --quantize=int8");
  if (a->quant_io_int8 && a->quantize_weights) /* without --quantize: a pre-quantized model */
    return usage_error(a->cmd,
                       "--quant-io=int8 needs --quantize=int8 or a pre-quantized model "
                       "(%s)",
                       "int8-weights keeps float activations");
  if ((a->observer || a->keep_fp32 || a->keep_auto_db) && !a->quantize)
    return usage_error(a->cmd, "--calibration and --quant-keep-fp32 need --quantize=int8%s", "");
  if (a->quantize_weights && (a->quantize || a->n_calibrate))
    return usage_error(a->cmd,
                       "--quantize=int8-weights takes no calibration (and not with "
                       "--quantize=int8)%s",
                       "");
  if ((a->quantize || a->quantize_weights) && strcmp(a->cmd, "compile") &&
      strcmp(a->cmd, "build") && strcmp(a->cmd, "run") && strcmp(a->cmd, "inspect"))
    return usage_error(a->cmd, "--quantize is for compile, build, run and inspect%s", "");
  if (a->encoder && !a->generate)
    return usage_error(a->cmd, "--encoder needs --generate (an encoder-decoder generator)%s", "");
  if (a->weights_file && !a->weights_external)
    return usage_error(a->cmd, "--weights-file needs --weights=external%s", "");
  if (a->weights_section && a->weights_external)
    return usage_error(a->cmd,
                       "--weights-section is for embedded weights, not --weights=external%s", "");
  return 0;
}
