/* The kiln command line: options of every command, parsed into Args (no files touched, nothing
 * but stdout for --help), so that the parser can be fuzzed on its own (fuzz/fuzz_cli.c). */
#ifndef KILN_ARGS_H
#define KILN_ARGS_H

#include <stdbool.h>

#include "cg.h"

#define KILN_VERSION "0.1.0"

/* Defaults of the resource limits (README, Robustness); flags raise them. */
#define KILN_DEFAULT_MAX_WORKSPACE ((long long)1 << 30) /* 1 GiB */
#define KILN_DEFAULT_MAX_MEMORY ((long long)8 << 30)    /* 8 GiB of address space */

typedef struct Args {
  const char *cmd;
  const char *model;
  const char *out;
  const char *header;
  const char *name;
  const char *triple, *cpu, *features;
  const char *cc;
  const char *print_after;
  const char *state;          /* --state OUT=IN,...: graph outputs fed back as inputs next call */
  long long max_workspace;    /* bytes (default KILN_DEFAULT_MAX_WORKSPACE) */
  long long max_weight_bytes; /* bytes of all initializers; 0: the frontend's default */
  long long max_nodes;        /* 0: the frontend's default */
  long long max_memory;       /* compile-time address space cap (default KILN_DEFAULT_MAX_MEMORY) */
  long long max_stack;        /* bytes of stack of the generated code; 0: no limit */
  char *prune;                /* --prune specs joined by ';' (malloc'd), or NULL */
  const char *eval_dir;       /* --eval DIR */
  double max_accuracy_drop;   /* --max-accuracy-drop points; < 0: none */
  int sparse_kernel;          /* --sparse: 0 auto, IR_KERNEL_COUNT dense, else a sparse IrKernel */
  int conv_kernel;            /* --conv: 0 auto, else an IrKernel every Conv must use if it can */
  int attention;              /* --attention: PASS_ATTENTION_* */
  int layout;                 /* --layout: PASS_LAYOUT_* */
  const char **weights_dirs;  /* --weights-dir, repeatable */
  int n_weights_dirs;
  const char **input_shapes; /* --input-shape NAME=D0,D1,... (ONNX), repeatable */
  const char **max_dims;     /* --max-dim NAME=N: a symbolic dim's run-time maximum, repeatable */
  int n_max_dims;
  int n_input_shapes;
  const char **binds; /* --bind NAME=V[,V...] (ONNX), repeatable */
  int n_binds;
  const char *weights_file, *weights_section;
  bool weights_external;
  const char *passes, *after, *plan_svg; /* --passes, inspect --after, --memory-plan-svg */
  int opt_level;
  CgEmit emit;
  bool generate; /* build --generate: the token-generation driver */
  /* build --generate --encoder MODEL: run once on the source ids; its outputs feed the decoder's
   * inputs of the same names at every step */
  const char *encoder;
  bool verbose; /* -v: the time of each stage on stderr */
  bool list_targets, print_graph, verify_each, size_report, json, dot, memory_plan, profile;
  /* --quantize=int8 (passes/pass_quantize.c): calibration samples, observer, fp32 layers */
  bool quantize;
  bool quantize_weights;  /* --quantize=int8-weights: Gemm/MatMul weights int8, no calibration */
  bool quant_io_int8;     /* --quant-io=int8: the model's inputs/outputs int8 (default float) */
  const char **calibrate; /* --calibrate DIR|FILE.npy, repeatable */
  int n_calibrate;
  int observer;            /* PassObserver */
  double percentile;       /* --calibration=percentile:P */
  const char *keep_fp32;   /* --quant-keep-fp32=auto[:DB]|NODE,... */
  double keep_auto_db;     /* auto: layers below this SQNR stay fp32; 0: no auto */
  const char **positional; /* .npy inputs for `run` */
  int n_positional;
} Args;

extern const char *const kiln_main_usage;

/* Parses argv[2..] of command argv[1]. Returns 0 on success, -1 after printing --help, else the
 * exit code of a usage error (2, message on stderr). Free with kiln_args_free in every case. */
int kiln_parse_args(int argc, char **argv, Args *a);
void kiln_args_free(Args *a);

#endif
