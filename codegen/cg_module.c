/* Codegen driver: target machine, the module skeleton (storage of every value, one internal
 * function per node, the body that calls them in order, the exported entry points and the
 * krt_model descriptor), LLVM's pass pipeline, and emission through a temporary file. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* dup, dup2, fileno, getpid */
#endif
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Error.h>
#include <llvm-c/Support.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "cg_internal.h"
#include "kernels/cg_gemm_i8.h"
#include "kernels/cg_kernels.h"
#include "krt.h"

/* ---- targets ------------------------------------------------------------------------------ */

static void init_targets(void) {
  static bool done; /* the CLI is single-threaded; initialization is idempotent anyway */
  if (done) return;
  done = true;
  LLVMInitializeAllTargetInfos();
  LLVMInitializeAllTargets();
  LLVMInitializeAllTargetMCs();
  LLVMInitializeAllAsmPrinters();
  LLVMInitializeAllAsmParsers();
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void cg_list_targets(FILE *f) {
  init_targets();
  int count = 0;
  for (LLVMTargetRef t = LLVMGetFirstTarget(); t; t = LLVMGetNextTarget(t)) count++;
  const char **names = malloc(sizeof *names * (size_t)(count + 1));
  if (!names) abort();
  int i = 0;
  for (LLVMTargetRef t = LLVMGetFirstTarget(); t; t = LLVMGetNextTarget(t))
    names[i++] = LLVMGetTargetName(t);
  qsort(names, (size_t)count, sizeof *names, cmp_str);
  char *triple = LLVMGetDefaultTargetTriple(), *norm = LLVMNormalizeTargetTriple(triple);
  char *cpu = LLVMGetHostCPUName();
  fprintf(f,
          "Host: %s (cpu %s)\nRegistered targets (architecture names; use a full triple with "
          "--target, e.g. aarch64-linux-gnu, thumbv7em-none-eabihf):\n",
          norm, cpu);
  for (i = 0; i < count; i++) {
    LLVMTargetRef t = LLVMGetTargetFromName(names[i]);
    fprintf(f, "  %-14s - %s\n", names[i], t ? LLVMGetTargetDescription(t) : "");
  }
  fprintf(f, "Run under emulation by Kiln's tests (--target / --cpu / --features):\n"
             "  aarch64-linux-gnu      generic        +neon           qemu-aarch64\n"
             "  armv7a-linux-gnueabihf cortex-a7                      qemu-arm\n"
             "  riscv64-linux-gnu      generic-rv64   +m,+a,+f,+d,+c  qemu-riscv64\n"
             "  thumbv7em-none-eabihf  cortex-m4      +vfp4d16sp      qemu-system-arm mps2-an386\n"
             "  thumbv7m-none-eabi     cortex-m3      (soft float)    qemu-system-arm mps2-an385\n"
             "  thumbv6m-none-eabi     cortex-m0plus  (soft float)    run on mps2-an385\n"
             "  riscv32-unknown-none-elf generic-rv32 +m,+f           compiled only\n");
  LLVMDisposeMessage(triple);
  LLVMDisposeMessage(norm);
  LLVMDisposeMessage(cpu);
  free(names);
}

/* LLVM-C cannot validate a CPU or feature name: LLVM only prints a warning on stderr while
 * creating the target machine. Capture stderr around that call and turn the warnings into
 * errors naming the flag. Redirecting fd 2 is process-wide; the CLI is single-threaded. */
typedef struct {
  int saved;
  FILE *tmp;
} StderrCapture;

static void capture_begin(StderrCapture *cap) {
  fflush(stderr);
  cap->tmp = tmpfile();
  cap->saved = cap->tmp ? dup(2) : -1;
  if (cap->saved >= 0 && dup2(fileno(cap->tmp), 2) < 0) {
    close(cap->saved);
    cap->saved = -1;
  }
}

/* Returns what was written (malloc'd, possibly empty). */
static char *capture_end(StderrCapture *cap) {
  char *text = NULL;
  size_t len = 0;
  if (cap->saved >= 0) {
    fflush(stderr);
    dup2(cap->saved, 2);
    close(cap->saved);
    long size = ftell(cap->tmp);
    if (size > 0 && fseek(cap->tmp, 0, SEEK_SET) == 0) {
      text = malloc((size_t)size + 1);
      if (!text) abort();
      len = fread(text, 1, (size_t)size, cap->tmp);
    }
  }
  if (cap->tmp) fclose(cap->tmp);
  if (!text) text = malloc(1);
  if (!text) abort();
  text[len] = 0;
  return text;
}

/* Checks LLVM's warnings from target-machine creation; false if any named a bad CPU/feature. */
static bool check_tm_warnings(const char *text, const char *triple, const char *cpu, IrDiag *d) {
  bool ok = true;
  for (const char *line = text; *line;) {
    const char *eol = strchr(line, '\n');
    size_t n = eol ? (size_t)(eol - line) : strlen(line);
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s", (int)n, line);
    if (strstr(buf, "is not a recognized processor")) {
      if (ok) /* LLVM may say it more than once */
        ir_diag_error(d, "--cpu", "unknown CPU '%s' for target '%s'", cpu, triple);
      ok = false;
    } else if (strstr(buf, "is not a recognized feature")) {
      const char *q1 = strchr(buf, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
      ir_diag_error(d, "--features", "unknown feature '%.*s' for target '%s'",
                    q1 && q2 ? (int)(q2 - q1 - 1) : (int)strlen(buf), q1 && q2 ? q1 + 1 : buf,
                    triple);
      ok = false;
    } else if (n) {
      fprintf(stderr, "%s\n", buf); /* anything else (e.g. --cpu help) passes through */
    }
    line += n + (eol ? 1 : 0);
  }
  return ok;
}

/* LLVM accepts any vendor, OS and environment words in a triple (it only needs the architecture
 * to pick a target), so "aarch64-linux-gnux" would silently produce an object for an unknown
 * OS. Check the normalized triple's words against the names LLVM 19's Triple knows; a trailing
 * version (macos14, android21) is allowed. */
static bool known_word(const char *w, size_t n, const char *const *names) {
  while (n > 0 && ((w[n - 1] >= '0' && w[n - 1] <= '9') || w[n - 1] == '.')) n--;
  for (; *names; names++)
    if (strlen(*names) == n && !strncmp(*names, w, n)) return true;
  return false;
}

static bool check_triple_words(const char *triple, const char *given, IrDiag *d) {
  static const char *const vendors[] = {"unknown", "pc",   "apple", "scei",   "sie", "fsl",
                                        "ibm",     "img",  "mti",   "nvidia", "csr", "amd",
                                        "mesa",    "suse", "oe",    "intel",  NULL};
  static const char *const oses[] = {
      "unknown",   "none",       "linux",    "darwin",    "macos",    "macosx", "ios",
      "tvos",      "watchos",    "xros",     "driverkit", "freebsd",  "netbsd", "openbsd",
      "dragonfly", "fuchsia",    "kfreebsd", "solaris",   "windows",  "win32",  "uefi",
      "haiku",     "rtems",      "nacl",     "aix",       "cuda",     "nvcl",   "amdhsa",
      "ps4",       "ps5",        "elfiamcu", "mesa3d",    "amdpal",   "hermit", "hurd",
      "wasi",      "emscripten", "zos",      "lv2",       "serenity", "vulkan", "shadermodel",
      "liteos",    "ohos",       "bridgeos", "cygwin",    "mingw32",  "minix",  NULL};
  static const char *const envs[] = {"unknown",       "gnu",          "gnuabin32",
                                     "gnuabi64",      "gnueabi",      "gnueabihf",
                                     "gnuf32",        "gnuf64",       "gnusf",
                                     "gnux32",        "gnu_ilp32",    "gnut64",
                                     "gnueabit64",    "gnueabihft64", "code16",
                                     "eabi",          "eabihf",       "elf",
                                     "android",       "musl",         "muslabin32",
                                     "muslabi64",     "musleabi",     "musleabihf",
                                     "muslx32",       "msvc",         "itanium",
                                     "cygnus",        "coreclr",      "simulator",
                                     "macabi",        "pixel",        "vertex",
                                     "geometry",      "hull",         "domain",
                                     "compute",       "library",      "raygeneration",
                                     "intersection",  "anyhit",       "closesthit",
                                     "miss",          "callable",     "mesh",
                                     "amplification", "opencl",       "ohos",
                                     "pauthtest",     "llvm",         NULL};
  const char *const *lists[3] = {vendors, oses, envs};
  static const char *const what[3] = {"vendor", "operating system", "environment"};
  const char *p = strchr(triple, '-'); /* skip the architecture: LLVM checks it */
  for (int k = 0; p && k < 3; k++) {
    const char *w = p + 1, *end = strchr(w, '-');
    size_t n = end ? (size_t)(end - w) : strlen(w);
    if (!known_word(w, n, lists[k])) {
      ir_diag_error(d, "--target", "unknown %s '%.*s' in target triple '%s'", what[k], (int)n, w,
                    given);
      return false;
    }
    p = end;
  }
  return true;
}

bool cg_session_begin(Cg *c, const CgOptions *o, IrDiag *d) {
  memset(c, 0, sizeof *c);
  c->blob_fd = -1;
  c->o = o;
  c->d = d;
  c->prefix = o->prefix;
  init_targets();
  char *host_raw = LLVMGetDefaultTargetTriple();
  char *host = LLVMNormalizeTargetTriple(host_raw);
  LLVMDisposeMessage(host_raw);
  char *triple = LLVMNormalizeTargetTriple(o->triple ? o->triple : host);
  bool is_host = strcmp(triple, host) == 0;
  LLVMDisposeMessage(host);
  LLVMTargetRef target;
  char *err = NULL;
  if (!check_triple_words(triple, o->triple ? o->triple : triple, d)) {
    LLVMDisposeMessage(triple);
    return false;
  }
  if (LLVMGetTargetFromTriple(triple, &target, &err)) {
    ir_diag_error(d, "--target", "unknown target triple '%s' (%s)", o->triple ? o->triple : triple,
                  err ? err : "no target");
    LLVMDisposeMessage(err);
    LLVMDisposeMessage(triple);
    return false;
  }
  char *host_cpu = is_host && !o->cpu ? LLVMGetHostCPUName() : NULL;
  /* The host's features only for the host's CPU: `--cpu x86-64-v3` alone used to keep this
   * machine's AVX-512 (code the named CPU cannot run). A named CPU without --features gets the
   * triple's baseline in Kiln's tiles (cg_vec_info reads the feature list); LLVM still schedules
   * for that CPU. */
  bool host_cpu_named = false;
  if (is_host && o->cpu) {
    char *name = LLVMGetHostCPUName();
    host_cpu_named = !strcmp(name, o->cpu);
    LLVMDisposeMessage(name);
  }
  char *host_features =
      is_host && !o->features && (!o->cpu || host_cpu_named) ? LLVMGetHostCPUFeatures() : NULL;
  const char *cpu = o->cpu ? o->cpu : host_cpu ? host_cpu : "generic";
  const char *features = o->features ? o->features : host_features ? host_features : "";
  int level = o->opt_level < 0 ? 0 : o->opt_level > 3 ? 3 : o->opt_level;
  static const LLVMCodeGenOptLevel levels[] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess,
                                               LLVMCodeGenLevelDefault, LLVMCodeGenLevelAggressive};
  /* Bare metal ("-none" OS) has no dynamic loader: absolute addresses, no GOT. */
  bool bare_metal = strstr(triple, "-none") != NULL;
  c->bare_metal = bare_metal;
  /* On hosted targets -O3 keeps LLVM's O2 loop budgets: unrolling up to 150 (not 300) and no
   * non-trivial unswitching (cost threshold 0, not 50). Kiln tiles and unrolls its kernels
   * itself; the larger unroll budget only copied whole outer loops of pools and copies (lenet5 on
   * x86: 1.6x the code of -O2, measured slower) and unswitching duplicated loops on invariant
   * conditions (cifar_cnn, dcgan_generator: -O3 2.7 % slower than -O2, paired runs). Bare-metal
   * cores (in order, no cache) keep LLVM's O3 values: there they save instructions (Cortex-M4
   * cifar_cnn 6.45 M against 6.58 M). These are LLVM's process-wide options (the last setting
   * wins), set for each session. */
  const char *const loop_args[] = {
      "kiln", bare_metal ? "-unroll-threshold-aggressive=300" : "-unroll-threshold-aggressive=150",
      bare_metal ? "-unswitch-threshold=50" : "-unswitch-threshold=0"};
  LLVMParseCommandLineOptions(3, loop_args, NULL);
  /* LLVM's default object format of the triple: Mach-O, COFF and wasm for these, ELF otherwise */
  static const char *const not_elf[] = {"apple", "darwin", "macos", "ios",    "windows",
                                        "win32", "wasm",   "uefi",  "-macho", "-coff"};
  c->elf = true;
  for (size_t i = 0; i < sizeof not_elf / sizeof *not_elf; i++)
    if (strstr(triple, not_elf[i])) c->elf = false;
  StderrCapture cap;
  capture_begin(&cap);
  c->tm = LLVMCreateTargetMachine(target, triple, cpu, features, levels[level],
                                  o->pic && !bare_metal ? LLVMRelocPIC : LLVMRelocStatic,
                                  LLVMCodeModelDefault);
  char *warnings = capture_end(&cap);
  bool ok = c->tm && check_tm_warnings(warnings, triple, cpu, d);
  free(warnings);
  LLVMDisposeMessage(host_cpu);
  LLVMDisposeMessage(host_features);
  if (!ok) {
    if (!c->tm) ir_diag_error(d, "--target", "cannot create a target machine for '%s'", triple);
    LLVMDisposeMessage(triple);
    cg_session_end(c);
    return false;
  }
  c->ctx = LLVMContextCreate();
  c->mod = LLVMModuleCreateWithNameInContext(c->prefix, c->ctx);
  /* Triple and data layout before anything is optimized: the passes read both. */
  LLVMSetTarget(c->mod, triple);
  LLVMDisposeMessage(triple);
  c->td = LLVMCreateTargetDataLayout(c->tm);
  LLVMSetModuleDataLayout(c->mod, c->td);
  c->b = LLVMCreateBuilderInContext(c->ctx);
  c->t_void = LLVMVoidTypeInContext(c->ctx);
  c->t_i1 = LLVMInt1TypeInContext(c->ctx);
  c->t_i8 = LLVMInt8TypeInContext(c->ctx);
  c->t_i32 = LLVMInt32TypeInContext(c->ctx);
  c->t_i64 = LLVMInt64TypeInContext(c->ctx);
  c->t_f32 = LLVMFloatTypeInContext(c->ctx);
  c->t_ptr = LLVMPointerTypeInContext(c->ctx, 0);
  c->t_idx = LLVMIntPtrTypeInContext(c->ctx, c->td);
  return true;
}

bool cg_target_info(const CgOptions *o, CgTargetInfo *t, IrDiag *d) {
  *t = (CgTargetInfo){0};
  Cg c;
  if (!cg_session_begin(&c, o, d)) return false;
  CgDot4Kind dot = cg_dot4_info(&c).kind;
  *t = (CgTargetInfo){.lanes = cg_vec_info(&c).lanes,
                      .arm_dsp = dot == CG_DOT4_SMLAD,
                      .x86_vnni = dot == CG_DOT4_VNNI};
  cg_session_end(&c);
  return true;
}

void cg_session_end(Cg *c) {
  if (c->b) LLVMDisposeBuilder(c->b);
  if (c->mod) LLVMDisposeModule(c->mod);
  if (c->td) LLVMDisposeTargetData(c->td);
  if (c->ctx) LLVMContextDispose(c->ctx);
  if (c->tm) LLVMDisposeTargetMachine(c->tm);
  free(c->storage);
  free(c->consts);
  free(c->const_offset);
  free(c->packed);
  cg_blob_close(c);
  free(c->node_alloca);
  cg_stack_free(&c->stack);
  memset(c, 0, sizeof *c);
}

static bool write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) return false;
  size_t n = strlen(text);
  bool ok = fwrite(text, 1, n, f) == n;
  return fclose(f) == 0 && ok;
}
/* LLVM's own vectorization (element-wise nests, the gate math of recurrent layers, softmax,
 * pools) at the width of Kiln's kernels: x86's tuning for AVX-512 cores prefers 256-bit vectors
 * for the loops it vectorizes, though the kernels use 512 bits anyway (so any frequency cost of
 * wide vectors is already paid). Measured with all of a model's functions at 512 (minimum of
 * three --repeat 1000 runs each, one session): lenet5 20.3 -> 17.6 us, ppo_policy 0.61 -> 0.44,
 * bert_qa 21.8 -> 20.6, transformer_classifier 37.4 -> 36.1, resnet_small 164.7 -> 158.2,
 * translator 17.2 -> 16.6, lstm_classifier 294 -> 277; gan_generator and cifar_cnn within noise
 * (alternated), embedding_bag_classifier 1.10 -> 1.15. */
static void prefer_kernel_vector_width(Cg *c) {
  int bits = cg_vec_info(c).lanes * 32;
  if (bits <= 256) return;
  char width[16];
  int len = snprintf(width, sizeof width, "%d", bits);
  LLVMAttributeRef a =
      LLVMCreateStringAttribute(c->ctx, "prefer-vector-width", 19, width, (unsigned)len);
  for (LLVMValueRef f = LLVMGetFirstFunction(c->mod); f; f = LLVMGetNextFunction(f))
    if (LLVMCountBasicBlocks(f) > 0) LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, a);
}

bool cg_session_finish(Cg *c, const char *out_path) {
  char *msg = NULL;
  if (LLVMVerifyModule(c->mod, LLVMReturnStatusAction, &msg)) {
    fprintf(stderr, "kiln: internal error: codegen produced invalid LLVM IR:\n%s\n", msg);
    LLVMDisposeMessage(msg);
    abort();
  }
  LLVMDisposeMessage(msg);
  if (c->o->emit == CG_EMIT_NONE) return true;
  cg_blob_define(c);

  int level = c->o->opt_level < 0 ? 0 : c->o->opt_level > 3 ? 3 : c->o->opt_level;
  char pipeline[48];
  /* mergefunc first: node kernels of equal shapes (a transformer's layers, an unrolled decode's
   * steps) are identical functions that differ only in the buffers passed to them; optimizing and
   * emitting each once cuts compile time and code size (translator: 380 -> 169 functions) */
  snprintf(pipeline, sizeof pipeline, level > 0 ? "mergefunc,default<O%d>" : "default<O%d>", level);
  if (c->o->progress) c->o->progress("optimize", 0, 0);
  LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
  /* as clang: the vectorizers from -O2 (PassBuilderOptions leave the SLP vectorizer off) */
  LLVMPassBuilderOptionsSetLoopVectorization(opts, level >= 2);
  LLVMPassBuilderOptionsSetSLPVectorization(opts, level >= 2);
  LLVMPassBuilderOptionsSetLoopInterleaving(opts, level >= 2);
  LLVMPassBuilderOptionsSetLoopUnrolling(opts, level >= 2);
  prefer_kernel_vector_width(c);
  LLVMErrorRef perr = LLVMRunPasses(c->mod, pipeline, c->tm, opts);
  if (!perr && c->o->sanitize_thread) {
    /* as clang -fsanitize=thread: the attribute on every function, then the tsan passes after
     * the optimization pipeline, so that every load and store of the final code is checked */
    LLVMAttributeRef st =
        LLVMCreateEnumAttribute(c->ctx, LLVMGetEnumAttributeKindForName("sanitize_thread", 15), 0);
    for (LLVMValueRef f = LLVMGetFirstFunction(c->mod); f; f = LLVMGetNextFunction(f))
      if (LLVMCountBasicBlocks(f) > 0) LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, st);
    snprintf(pipeline, sizeof pipeline, "tsan-module,function(tsan)");
    perr = LLVMRunPasses(c->mod, pipeline, c->tm, opts);
  }
  LLVMDisposePassBuilderOptions(opts);
  if (perr) {
    char *m = LLVMGetErrorMessage(perr); /* consumes the error */
    ir_diag_error(c->d, NULL, "internal error: LLVM pass pipeline '%s' failed: %s", pipeline, m);
    LLVMDisposeErrorMessage(m);
    return false;
  }

  size_t tmp_size = strlen(out_path) + 32;
  char *tmp = malloc(tmp_size);
  if (!tmp) abort();
  snprintf(tmp, tmp_size, "%s.tmp.%d", out_path, (int)getpid());
  bool ok;
  char *err = NULL;
  if (c->o->emit == CG_EMIT_LLVM) {
    char *text = LLVMPrintModuleToString(c->mod);
    ok = write_text(tmp, text);
    LLVMDisposeMessage(text);
    if (!ok) ir_diag_error(c->d, NULL, "cannot write '%s'", out_path);
  } else {
    LLVMCodeGenFileType type = c->o->emit == CG_EMIT_ASM ? LLVMAssemblyFile : LLVMObjectFile;
    cg_stack_prepare(c);
    if (c->o->progress) c->o->progress("emit", 0, 0);
    ok = !LLVMTargetMachineEmitToFile(c->tm, c->mod, tmp, type, &err);
    if (!ok) ir_diag_error(c->d, NULL, "cannot write '%s': %s", out_path, err ? err : "error");
    LLVMDisposeMessage(err);
    if (ok && c->llvm_error) {
      ir_diag_error(c->d, NULL, "internal error: LLVM reported an error generating code");
      ok = false;
    }
    ok = ok && cg_stack_finish(c);
    if (ok && c->blob_global && c->o->progress) c->o->progress("weights", 0, 0);
    ok = ok && (!c->blob_global || (cg_blob_flush(c, "the weights") && cg_blob_patch(c, tmp)));
  }
  if (ok && rename(tmp, out_path) != 0) {
    ir_diag_error(c->d, NULL, "cannot write '%s' (rename failed)", out_path);
    ok = false;
  }
  if (!ok) remove(tmp);
  free(tmp);
  return ok;
}

/* ---- storage plan ------------------------------------------------------------------------- */

static unsigned ws_alignment(int64_t ws_align, int64_t offset) {
  int64_t a = ws_align;
  while (a > 1 && offset % a) a /= 2;
  return (unsigned)a;
}

/* Decides where every value lives; reports a graph without a memory plan. */
static bool plan_storage(Cg *c, const int *uses) {
  const IrGraph *g = c->g;
  c->storage = calloc((size_t)g->n_values + 1, sizeof *c->storage);
  c->consts = calloc((size_t)g->n_values + 1, sizeof *c->consts);
  c->const_offset = malloc(sizeof *c->const_offset * ((size_t)g->n_values + 1));
  if (!c->storage || !c->consts || !c->const_offset) abort();
  for (int i = 0; i <= g->n_values; i++) c->const_offset[i] = -1;
  uint64_t max_bytes = LLVMPointerSize(c->td) >= 8 ? (uint64_t)INT64_MAX
                                                   : (1ull << (8 * LLVMPointerSize(c->td) - 1));
  for (int i = 0; i < g->n_values; i++) {
    const IrValue *v = g->values[i];
    CgStorage *s = &c->storage[i];
    s->size = ir_value_nbytes(v);
    s->align = (unsigned)ir_dtype_size(v->dtype);
    if ((uint64_t)s->size >= max_bytes) {
      ir_diag_error(c->d, NULL, "value '%s' (%lld bytes) is too large for a %u-bit target", v->name,
                    (long long)s->size, 8 * LLVMPointerSize(c->td));
      return false;
    }
    const IrState *st = v->state ? &g->states[v->state - 1] : NULL;
    if (st && (v == st->in || (v == st->out && st->direct))) {
      *s = (CgStorage){CG_STORE_STATE, 0, st->offset, s->size,
                       ws_alignment(IR_STATE_ALIGN, st->offset)};
    } else if (v->kind == IR_VALUE_INPUT) {
      for (int k = 0; k < g->n_inputs && s->kind == CG_STORE_NONE; k++)
        if (g->inputs[k] == v) *s = (CgStorage){CG_STORE_INPUT, k, 0, s->size, s->align};
    } else if (v->kind == IR_VALUE_CONST) {
      *s = (CgStorage){CG_STORE_CONST, i, 0, s->size, 64};
    } else if (v->is_output && !st) {
      for (int k = 0; k < g->n_outputs && s->kind == CG_STORE_NONE; k++)
        if (g->outputs[k] == v) *s = (CgStorage){CG_STORE_OUTPUT, k, 0, s->size, s->align};
    } else if (v->ws_offset >= 0) {
      if (g->workspace_size < 0 || v->ws_offset + s->size > g->workspace_size) {
        ir_diag_error(c->d, NULL,
                      "internal error: value '%s' at workspace offset %lld (%lld bytes) lies "
                      "outside the workspace of %lld bytes",
                      v->name, (long long)v->ws_offset, (long long)s->size,
                      (long long)g->workspace_size);
        return false;
      }
      *s = (CgStorage){CG_STORE_WS, 0, v->ws_offset, s->size,
                       ws_alignment(g->workspace_align, v->ws_offset)};
    } else if (uses[i]) {
      ir_diag_error(c->d, NULL,
                    "internal error: value '%s' has no workspace offset (run the memory planner "
                    "before codegen)",
                    v->name);
      return false;
    }
  }
  return true;
}

static bool storage_overlap(const CgStorage *a, const CgStorage *b) {
  if (a->kind != b->kind || a->kind == CG_STORE_NONE || a->index != b->index) return false;
  return a->offset < b->offset + b->size && b->offset < a->offset + a->size;
}

/* An element-wise node (with its fused element-wise epilogue) whose output the memory plan put
 * exactly over an operand of the output's shape: each element is read before it is written at
 * the same index, and no other element depends on it, so the pair needs no alias barrier.
 * (Without noalias LLVM's vectorizer checked the overlap at run time and, the pointers being
 * equal, ran the scalar loop: BERT's fused exact GELU was scalar.) */
static bool in_place_elementwise(const Cg *c, const IrNode *n, const IrValue *a, const IrValue *b) {
  if (!(ir_op_info[n->op].flags & (IR_OPF_UNARY | IR_OPF_BINARY))) return false;
  const CgStorage *sa = &c->storage[a->id], *sb = &c->storage[b->id];
  if (sa->offset != sb->offset || sa->size != sb->size || a->rank != b->rank) return false;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d]) return false;
  return true;
}

/* ---- building the module ------------------------------------------------------------------ */

static LLVMAttributeRef enum_attr(Cg *c, const char *name, uint64_t value) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  assert(kind != 0);
  return LLVMCreateEnumAttribute(c->ctx, kind, value);
}

static bool external_weights(const Cg *c) { return c->o->weights_path != NULL; }

/* The body's parameters: inputs, outputs, workspace, [weights], [state]. */
static LLVMValueRef state_param(const Cg *c, LLVMValueRef body) {
  return LLVMGetParam(
      body, (unsigned)(c->g->n_inputs + c->g->n_outputs + 1 + (external_weights(c) ? 1 : 0)));
}

static LLVMValueRef const_global(Cg *c, const IrValue *v) {
  if (!c->consts[v->id]) {
    char name[300];
    snprintf(name, sizeof name, "%s.const.%d", c->prefix, v->id);
    c->consts[v->id] = cg_const_bytes(c, v->data, (size_t)ir_value_nbytes(v), name);
  }
  return c->consts[v->id];
}

/* Pointer to v's storage inside the body function (params: inputs, outputs, workspace). */
static LLVMValueRef storage_ptr(Cg *c, LLVMValueRef body, const IrValue *v) {
  const CgStorage *s = &c->storage[v->id];
  switch (s->kind) {
  case CG_STORE_INPUT: return LLVMGetParam(body, (unsigned)s->index);
  case CG_STORE_OUTPUT: return LLVMGetParam(body, (unsigned)(c->g->n_inputs + s->index));
  case CG_STORE_WS:
    return cg_byte_ptr(c, LLVMGetParam(body, (unsigned)(c->g->n_inputs + c->g->n_outputs)),
                       s->offset);
  case CG_STORE_STATE: return cg_byte_ptr(c, state_param(c, body), s->offset);
  case CG_STORE_CONST:
    if (external_weights(c)) {
      if (c->const_offset[v->id] < 0)
        c->const_offset[v->id] = cg_blob_append(c, v->data, (size_t)ir_value_nbytes(v));
      return cg_byte_ptr(c, LLVMGetParam(body, (unsigned)(c->g->n_inputs + c->g->n_outputs + 1)),
                         c->const_offset[v->id]);
    }
    return const_global(c, v);
  case CG_STORE_NONE: break;
  }
  return NULL;
}

/* Inlining every node function into one body makes LLVM's function passes superlinear in the
 * body's size (-O2, a chain of Gemm+Relu: 100 layers 4.6 s, 200 layers 14.5 s, 1000 layers over
 * 10 min). Past this many nodes each node stays a function of its own, optimized on its own
 * (its parameters keep their noalias/align/dereferenceable attributes), and compile time grows
 * linearly (bench/bench_scale.sh).
 * On bare metal ("-none" triples) node functions are never inlined: inlined into one body, the
 * register spills of every node add up in one frame; called one after another, the stack is the
 * deepest node's frame. Cortex-M4 -O3, inlined -> not: transformer_classifier 1192 -> 144 bytes,
 * cifar_cnn 528 -> 344, mnist_cnn 488 -> 336, resnet_small 448 -> 344 (lenet5 144 either way). */
#define CG_INLINE_MAX_NODES 64
/* Nor is a node with more pointer operands than this inlined (a wide Concat or Split): inlining
 * turns its noalias parameters into one alias scope each on every access, quadratic in them. */
#define CG_INLINE_MAX_OPERANDS 64

/* The operands of a node's function: present inputs, then outputs with storage. */
typedef struct NodeOps {
  int count;
  const IrValue **ops;
  int *slot;
  bool *is_out;
  bool *whole; /* read whole up to the run-time length by every block (ir_dyn_whole) */
  bool alias;  /* an output overlaps another operand: no noalias */
  bool any_whole;
  bool along; /* one call along the run-time axis (ir_dyn_along), not blocks of rows */
} NodeOps;

/* Sets the run-time axis of n's operands to `rows` (their maximum when rows is 0): the lowering
 * then builds the node for that many rows. Shapes are restored before codegen returns. */
static void set_rows(Cg *c, const NodeOps *no, int64_t rows) {
  for (int k = 0; k < no->count; k++) {
    IrValue *v = (IrValue *)no->ops[k];
    if (v->dyn && !no->whole[k])
      v->dims[v->dyn - 1] = rows ? rows : c->g->dyn[ir_dyn_len_index(c->g)].max;
  }
}

/* Bytes of operand k in a function built for `rows` rows (0: the whole value) that it may
 * dereference: an operand read whole up to the run-time length is known to hold one row. */
static int64_t operand_bytes(const Cg *c, const NodeOps *no, int k, int64_t rows) {
  const IrValue *v = no->ops[k];
  if (v->dyn && no->whole[k]) return ir_dyn_row_bytes(v);
  return rows && v->dyn ? rows * ir_dyn_row_bytes(v) : c->storage[v->id].size;
}

/* One private function per node (per block of rows for a node of run-time length), its pointer
 * parameters annotated with what the memory plan guarantees (noalias unless an output overlaps
 * another operand, alignment, size). LLVM inlines it; the annotations become alias scopes the
 * vectorizer relies on. NULL after a user error. */
static LLVMValueRef node_function(Cg *c, const IrNode *n, const NodeOps *no, int64_t rows) {
  bool scratch = n->scratch_bytes > 0;
  int count = no->count;
  int np = count + (external_weights(c) ? 1 : 0) + (scratch ? 1 : 0); /* + weights, scratch */
  bool len = (rows || no->along) && no->any_whole; /* + the run-time length, last */
  LLVMTypeRef *params = malloc(sizeof *params * (size_t)(np + 2));
  LLVMValueRef *in = calloc((size_t)n->n_inputs + 1, sizeof *in);
  LLVMValueRef *out = calloc((size_t)n->n_outputs + 1, sizeof *out);
  if (!params || !in || !out) abort();
  for (int k = 0; k < np; k++) params[k] = c->t_ptr;
  if (len) params[np] = c->t_idx;
  char name[300];
  if (rows)
    snprintf(name, sizeof name, "%s.%d.%s.rows%lld", c->prefix, n->id, ir_op_info[n->op].name,
             (long long)rows);
  else
    snprintf(name, sizeof name, "%s.%d.%s", c->prefix, n->id, ir_op_info[n->op].name);
  LLVMValueRef fn =
      LLVMAddFunction(c->mod, name, LLVMFunctionType(c->t_i32, params, (unsigned)np + len, 0));
  free(params);
  LLVMSetLinkage(fn, LLVMPrivateLinkage);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, enum_attr(c, "nounwind", 0));
  if (c->g->n_nodes > CG_INLINE_MAX_NODES || count > CG_INLINE_MAX_OPERANDS || c->bare_metal)
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, enum_attr(c, "noinline", 0));
  c->weights_base = NULL;
  c->scratch = NULL;
  c->node_len = len ? LLVMGetParam(fn, (unsigned)np) : NULL;
  if (scratch) { /* the node's own workspace bytes, last parameter */
    unsigned k = (unsigned)np - 1;
    LLVMAddAttributeAtIndex(fn, k + 1, enum_attr(c, "nocapture", 0));
    LLVMAddAttributeAtIndex(fn, k + 1, enum_attr(c, "noalias", 0));
    LLVMAddAttributeAtIndex(
        fn, k + 1, enum_attr(c, "align", ws_alignment(c->g->workspace_align, n->scratch_offset)));
    LLVMAddAttributeAtIndex(fn, k + 1, enum_attr(c, "dereferenceable", (uint64_t)n->scratch_bytes));
    c->scratch = LLVMGetParam(fn, k);
  }
  if (external_weights(c)) {
    unsigned idx = (unsigned)count + 1;
    LLVMAddAttributeAtIndex(fn, idx, enum_attr(c, "nocapture", 0));
    LLVMAddAttributeAtIndex(fn, idx, enum_attr(c, "readonly", 0));
    LLVMAddAttributeAtIndex(fn, idx, enum_attr(c, "align", 64));
    c->weights_base = LLVMGetParam(fn, (unsigned)count);
  }
  for (int k = 0; k < count; k++) {
    const IrValue *v = no->ops[k];
    const CgStorage *s = &c->storage[v->id];
    unsigned idx = (unsigned)k + 1;
    /* a block of rows starts at a multiple of the row bytes: the alignment that keeps */
    unsigned align = s->align ? s->align : 1;
    if (rows && v->dyn && !no->whole[k]) {
      int64_t rb = ir_dyn_row_bytes(v);
      while (align > 1 && rb % align) align /= 2;
    }
    int64_t bytes = operand_bytes(c, no, k, rows);
    LLVMAddAttributeAtIndex(fn, idx, enum_attr(c, "nocapture", 0));
    LLVMAddAttributeAtIndex(fn, idx, enum_attr(c, "align", align));
    if (bytes > 0)
      LLVMAddAttributeAtIndex(fn, idx, enum_attr(c, "dereferenceable", (uint64_t)bytes));
    if (!no->alias) LLVMAddAttributeAtIndex(fn, idx, enum_attr(c, "noalias", 0));
    if (!no->is_out[k]) LLVMAddAttributeAtIndex(fn, idx, enum_attr(c, "readonly", 0));
    LLVMValueRef p = LLVMGetParam(fn, (unsigned)k);
    LLVMSetValueName2(p, v->name, strlen(v->name));
    if (no->is_out[k])
      out[no->slot[k]] = p;
    else
      in[no->slot[k]] = p;
  }
  LLVMBasicBlockRef body_block = LLVMGetInsertBlock(c->b);
  LLVMValueRef saved_fn = c->fn;
  c->fn = fn;
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
  if (rows) set_rows(c, no, rows);
  c->node_ops = no->ops, c->node_is_out = no->is_out, c->node_slot = no->slot;
  c->node_whole = no->whole;
  c->node_n_ops = count, c->node_fn = fn, c->node_in = in;
  bool ok = cg_lower[n->op](c, n, in, out);
  c->node_in = NULL, c->node_fn = NULL, c->node_n_ops = 0;
  if (rows) set_rows(c, no, 0);
  LLVMBuildRet(c->b, cg_i32c(c, KRT_OK));
  if (c->node_alloca) {
    int64_t a = cg_entry_alloca_bytes(c, fn);
    if (a > c->node_alloca[n->id]) c->node_alloca[n->id] = a;
  }
  c->fn = saved_fn;
  LLVMPositionBuilderAtEnd(c->b, body_block);
  c->weights_base = NULL;
  c->scratch = NULL;
  c->node_len = NULL;
  free(in);
  free(out);
  return ok ? fn : NULL;
}

LLVMValueRef cg_dyn_extent(const Cg *c, const IrValue *v, int axis) {
  if (!c->node_len || c->fn != c->node_fn) return NULL;
  if (v->dyn2 == axis + 1) return c->node_len;
  for (int k = 0; k < c->node_n_ops && v->dyn == axis + 1; k++)
    if (c->node_ops[k] == v && c->node_whole[k]) return c->node_len;
  return NULL;
}

LLVMValueRef cg_node_derived(Cg *c, const IrValue *v, LLVMValueRef derived) {
  /* (c->fn: a lowering may build helper functions, which cannot see the node's parameters) */
  if (!c->node_derived || c->fn != c->node_fn || !LLVMIsConstant(derived)) return derived;
  for (int k = 0; k < c->node_n_ops; k++) {
    if (c->node_ops[k] != v || c->node_is_out[k]) continue;
    LLVMValueRef p = LLVMGetParam(c->node_fn, (unsigned)k);
    bool claimed = c->node_claims[k] >> c->node_fn_index & 1;
    if (c->node_derived[k] && c->node_derived[k] != derived) return derived;
    if (!claimed && LLVMGetFirstUse(p) != NULL) return derived; /* it reads the original */
    c->node_derived[k] = derived;
    c->node_claims[k] |= 1u << c->node_fn_index;
    /* the original is no longer this function's: a later read of in[] would crash the compiler
     * (a bug caught by every test), not silently read packed data */
    c->node_in[c->node_slot[k]] = NULL;
    /* what the caller passes has its own size and alignment (global constants are 64-aligned) */
    const char *deref = "dereferenceable";
    LLVMRemoveEnumAttributeAtIndex(c->node_fn, (unsigned)k + 1,
                                   LLVMGetEnumAttributeKindForName(deref, strlen(deref)));
    return p;
  }
  return derived;
}

/* Calls fn and returns its code from the body if it is not KRT_OK; the operands of run-time
 * length start `row` rows into their storage (row NULL: at the start). */
static void call_node(Cg *c, LLVMValueRef fn, const NodeOps *no, LLVMValueRef *args, int np,
                      LLVMValueRef row) {
  LLVMValueRef *a = malloc(sizeof *a * (size_t)(np + 2));
  if (!a) abort();
  for (int k = 0; k < np; k++) {
    a[k] = args[k];
    if (row && k < no->count && no->ops[k]->dyn && !no->whole[k] && !LLVMIsNull(args[k]))
      a[k] = cg_gep(c, c->t_i8, args[k], cg_mulc(c, row, ir_dyn_row_bytes(no->ops[k])));
  }
  if ((row || no->along) && no->any_whole) a[np++] = c->dyn_len; /* whole: up to the length */
  /* a node that can fail (Gather with an index out of range) returns its code; others fold */
  LLVMValueRef rc = LLVMBuildCall2(c->b, LLVMGlobalGetValueType(fn), fn, a, (unsigned)np, "rc");
  cg_return_if(c, LLVMBuildICmp(c->b, LLVMIntNE, rc, cg_i32c(c, KRT_OK), ""), rc);
  free(a);
}

/* Rows per call of a node of run-time length: blocks of CG_DYN_BLOCK rows, then the remainder
 * in halving blocks (one function each). Measured on gpt_tiny_seq's 37-token prefill (callgrind,
 * x86-64-v3 -O3, whole executable): blocks of 4 rows 1.28 M instructions, 8: 1.62 M, 16: 1.90 M,
 * 32: 1.88 M (token by token: 1.65 M) -- the fused Add+Gelu of the MLP got slower with longer
 * blocks there (not in a model of that node alone: an open question for the kernels). */
#define CG_DYN_BLOCK 4

static bool emit_node(Cg *c, LLVMValueRef body, const IrNode *n) {
  bool any_out = false;
  for (int j = 0; j < n->n_outputs; j++)
    any_out |= n->outputs[j] && c->storage[n->outputs[j]->id].kind != CG_STORE_NONE;
  if (!any_out) return true; /* nothing reads it: dead */
  for (int i = 0; i < n->n_inputs; i++)
    if (n->inputs[i] && c->storage[n->inputs[i]->id].kind == CG_STORE_NONE)
      return cg_node_error(c, n, "internal error: input '%s' has no storage", n->inputs[i]->name);
  if (n->scratch_bytes > 0 &&
      (n->scratch_offset < 0 || n->scratch_offset + n->scratch_bytes > c->g->workspace_size))
    return cg_node_error(c, n, "internal error: scratch outside the workspace (memory plan)");
  /* Sized from the node, never fixed: the model sets the input count (Concat) and the output
   * count (Split), the fusion pass the epilogue operands (at most IR_MAX_EPILOGUE_INPUTS). */
  int cap = n->n_inputs + n->n_outputs;
  NodeOps no = {.ops = malloc(sizeof(IrValue *) * (size_t)(cap + 1)),
                .slot = malloc(sizeof(int) * (size_t)(cap + 1)),
                .is_out = malloc(sizeof(bool) * (size_t)(cap + 1)),
                .whole = calloc((size_t)cap + 1, sizeof(bool))};
  LLVMValueRef *args = malloc(sizeof *args * (size_t)(cap + 2));
  if (!no.ops || !no.slot || !no.is_out || !no.whole || !args) abort();
  bool dyn = false;
  no.along = c->dyn_len && ir_dyn_along(n);
  for (int i = 0; i < n->n_inputs; i++)
    if (n->inputs[i]) {
      no.whole[no.count] = ir_dyn_whole(n, i);
      /* (a second run-time axis is bounded by the length too: the function takes it) */
      no.any_whole |= no.whole[no.count] || n->inputs[i]->dyn2;
      no.ops[no.count] = n->inputs[i], no.slot[no.count] = i, no.is_out[no.count++] = false;
    }
  for (int j = 0; j < n->n_outputs; j++)
    if (n->outputs[j] && c->storage[n->outputs[j]->id].kind != CG_STORE_NONE) {
      no.whole[no.count] = no.along && n->outputs[j]->dyn; /* Softmax along the axis */
      no.ops[no.count] = n->outputs[j], no.slot[no.count] = j, no.is_out[no.count++] = true;
    }
  for (int a = 0; a < no.count; a++) {
    dyn |= no.ops[a]->dyn != 0;
    for (int b = 0; b < no.count; b++)
      if (a != b && (no.is_out[a] || no.is_out[b]) &&
          storage_overlap(&c->storage[no.ops[a]->id], &c->storage[no.ops[b]->id]) &&
          !in_place_elementwise(c, n, no.ops[a], no.ops[b]))
        no.alias = true;
  }
  /* the functions: rows block, block/2, ..., 1 for a node of run-time length; else one */
  LLVMValueRef fns[8];
  int64_t rows[8];
  int n_fns = 0;
  if (dyn && c->dyn_len && !no.along) {
    int64_t b = 1;
    while (b * 2 <= CG_DYN_BLOCK && b * 2 <= c->g->dyn[ir_dyn_len_index(c->g)].max) b *= 2;
    for (; b >= 1; b /= 2) rows[n_fns++] = b;
  } else {
    rows[n_fns++] = 0;
  }
  bool ok = true;
  LLVMValueRef *derived = calloc((size_t)no.count + 1, sizeof *derived);
  unsigned *claims = calloc((size_t)no.count + 1, sizeof *claims);
  if (!derived || !claims) abort();
  c->node_derived = derived, c->node_claims = claims;
  for (int f = 0; f < n_fns && ok; f++) {
    c->node_fn_index = f;
    ok = (fns[f] = node_function(c, n, &no, rows[f])) != NULL;
  }
  c->node_derived = NULL, c->node_claims = NULL;
  /* every function of the node must read the derived form where one does: they share the call's
   * arguments (the lowering is the same for every block of rows, so this holds by construction) */
  for (int k = 0; k < no.count && ok; k++)
    if (derived[k] && claims[k] != (1u << n_fns) - 1) {
      fprintf(stderr, "kiln: internal error: node %d: derived operand %d not in every function\n",
              n->id, k);
      abort();
    }

  int count = no.count;
  int np = count + (external_weights(c) ? 1 : 0) + (n->scratch_bytes > 0 ? 1 : 0);
  if (n->scratch_bytes > 0)
    args[np - 1] = cg_byte_ptr(c, LLVMGetParam(body, (unsigned)(c->g->n_inputs + c->g->n_outputs)),
                               n->scratch_offset);
  if (external_weights(c))
    args[count] = LLVMGetParam(body, (unsigned)(c->g->n_inputs + c->g->n_outputs + 1));
  for (int k = 0; k < count && ok; k++) {
    if (derived[k]) { /* cg_node_derived: the packed form in place of the constant */
      args[k] = derived[k];
      continue;
    }
    /* External or streamed weights: a constant goes into the blob only if the lowering reads
     * it, not when it reads a compile-time derived form instead (e.g. packed weights). */
    bool used =
        !((external_weights(c) || c->stream) && c->storage[no.ops[k]->id].kind == CG_STORE_CONST);
    for (int f = 0; f < n_fns && !used; f++)
      used = LLVMGetFirstUse(LLVMGetParam(fns[f], (unsigned)k)) != NULL;
    if (used) {
      args[k] = storage_ptr(c, body, no.ops[k]);
    } else { /* unused: pass NULL, which it no longer claims to dereference */
      const char *deref = "dereferenceable";
      for (int f = 0; f < n_fns; f++)
        LLVMRemoveEnumAttributeAtIndex(fns[f], (unsigned)k + 1,
                                       LLVMGetEnumAttributeKindForName(deref, strlen(deref)));
      args[k] = LLVMConstPointerNull(c->t_ptr);
    }
  }
  if (ok && !rows[0]) {
    call_node(c, fns[0], &no, args, np, NULL);
  } else if (ok) { /* full blocks, then one call per set bit of the remainder */
    LLVMValueRef len = c->dyn_len;
    LLVMValueRef full = LLVMBuildUDiv(c->b, len, cg_idx(c, rows[0]), "");
    CgLoop l;
    LLVMValueRef blk = cg_loop_begin(c, &l, cg_idx(c, 0), full);
    call_node(c, fns[0], &no, args, np, cg_mulc(c, blk, rows[0]));
    cg_loop_end(c, &l, NULL, NULL);
    LLVMValueRef at = cg_mulc(c, full, rows[0]);
    for (int f = 1; f < n_fns; f++) {
      LLVMValueRef bit = LLVMBuildAnd(c->b, len, cg_idx(c, rows[f]), "");
      CgIf cond;
      cg_if_begin(c, &cond, LLVMBuildICmp(c->b, LLVMIntNE, bit, cg_idx(c, 0), ""));
      call_node(c, fns[f], &no, args, np, at);
      cg_if_else(c, &cond);
      cg_if_end(c, &cond);
      at = cg_add(c, at, bit);
    }
  }
  free(no.ops);
  free(no.slot);
  free(no.is_out);
  free(no.whole);
  free(args);
  free(derived);
  free(claims);
  return ok;
}

/* `void P.body(in..., out..., ws[, weights][, state])`: the nodes in order, then copies for graph
 * outputs that no node writes in place (an input, a constant, or a value listed twice) and for
 * states whose next value is not written into the state buffer directly (IrState.direct). */
static LLVMValueRef build_body(Cg *c) {
  const IrGraph *g = c->g;
  int np = g->n_inputs + g->n_outputs + 1 + (external_weights(c) ? 1 : 0) + (g->n_states ? 1 : 0);
  LLVMTypeRef *params = malloc(sizeof *params * (size_t)(np + 1));
  if (!params) abort();
  for (int k = 0; k < np; k++) params[k] = c->t_ptr;
  if (g->n_dyn) params[np++] = c->t_idx; /* the run-time length, last */
  char name[300];
  snprintf(name, sizeof name, "%s.body", c->prefix);
  LLVMValueRef body =
      LLVMAddFunction(c->mod, name, LLVMFunctionType(c->t_i32, params, (unsigned)np, 0));
  free(params);
  LLVMSetLinkage(body, LLVMPrivateLinkage);
  LLVMAddAttributeAtIndex(body, LLVMAttributeFunctionIndex, enum_attr(c, "nounwind", 0));
  c->fn = body;
  c->dyn_len = g->n_dyn ? LLVMGetParam(body, (unsigned)np - 1) : NULL;
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, body, "entry"));
  LLVMTypeRef mark_ty = LLVMFunctionType(c->t_void, &c->t_i32, 1, 0);
  LLVMValueRef mark = c->o->profile ? LLVMAddFunction(c->mod, "kiln_profile_mark", mark_ty) : NULL;
  if (c->o->progress) c->o->progress("lower", 0, g->n_nodes);
  for (int i = 0; i < g->n_nodes; i++) {
    if (mark) {
      LLVMValueRef id = cg_i32c(c, i);
      LLVMBuildCall2(c->b, mark_ty, mark, &id, 1, "");
    }
    if (!emit_node(c, body, g->nodes[i])) return NULL;
    if (c->o->progress) c->o->progress("lower", i + 1, g->n_nodes);
  }
  if (mark) {
    LLVMValueRef id = cg_i32c(c, g->n_nodes);
    LLVMBuildCall2(c->b, mark_ty, mark, &id, 1, "");
  }
  for (int j = 0; j < g->n_outputs; j++) {
    const IrValue *v = g->outputs[j];
    const CgStorage *s = &c->storage[v->id];
    if (s->kind == CG_STORE_OUTPUT && s->index == j) continue;
    if (s->kind == CG_STORE_NONE) {
      ir_diag_error(c->d, NULL, "internal error: output '%s' has no storage", v->name);
      return NULL;
    }
    cg_memcpy(c, LLVMGetParam(body, (unsigned)(g->n_inputs + j)), storage_ptr(c, body, v),
              v->dyn ? cg_mulc(c, c->dyn_len, ir_dyn_row_bytes(v)) : cg_idx(c, s->size));
  }
  for (int i = 0; i < g->n_states; i++) {
    const IrState *st = &g->states[i];
    const CgStorage *s = &c->storage[st->out->id];
    if (s->kind == CG_STORE_STATE) continue; /* written in place */
    if (s->kind == CG_STORE_NONE) {
      ir_diag_error(c->d, NULL, "internal error: state '%s' has no storage", st->out->name);
      return NULL;
    }
    cg_memcpy(c, cg_byte_ptr(c, state_param(c, body), st->offset), storage_ptr(c, body, st->out),
              cg_idx(c, s->size));
  }
  LLVMBuildRet(c->b, cg_i32c(c, KRT_OK));
  c->dyn_len = NULL;
  return body;
}

/* Public functions take pointers, and with states a state pointer and its size (size_t) last. */
static LLVMValueRef add_function(Cg *c, const char *suffix, LLVMTypeRef ret, int np, bool sized) {
  LLVMTypeRef *params = malloc(sizeof *params * (size_t)(np + 1));
  if (!params) abort();
  for (int k = 0; k < np; k++) params[k] = c->t_ptr;
  if (sized) params[np - 1] = c->t_idx;
  char name[300];
  snprintf(name, sizeof name, "%s%s", c->prefix, suffix);
  LLVMValueRef fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(ret, params, (unsigned)np, 0));
  free(params);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, enum_attr(c, "nounwind", 0));
  c->fn = fn;
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
  return fn;
}

static LLVMValueRef ret_code_block(Cg *c, LLVMValueRef fn, int code) {
  LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(c->ctx, fn, "fail");
  LLVMBasicBlockRef cur = LLVMGetInsertBlock(c->b);
  LLVMPositionBuilderAtEnd(c->b, bb);
  LLVMBuildRet(c->b, cg_i32c(c, code));
  LLVMPositionBuilderAtEnd(c->b, cur);
  return LLVMBasicBlockAsValue(bb);
}

/* Branches to a block returning `code` when cond holds; continues in a new block. */
static void fail_if(Cg *c, LLVMValueRef fn, LLVMValueRef cond, int code) {
  LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->ctx, fn, "ok");
  LLVMBuildCondBr(c->b, cond, LLVMValueAsBasicBlock(ret_code_block(c, fn, code)), next);
  LLVMPositionBuilderAtEnd(c->b, next);
}

/* ptr & (align - 1) != 0 */
static LLVMValueRef misaligned(Cg *c, LLVMValueRef ptr, int64_t align) {
  LLVMValueRef low =
      LLVMBuildAnd(c->b, LLVMBuildPtrToInt(c->b, ptr, c->t_idx, ""), cg_idx(c, align - 1), "");
  return LLVMBuildICmp(c->b, LLVMIntNE, low, cg_idx(c, 0), "");
}

/* The state buffer's checks: -2 if misaligned, -4 if smaller than the state (NULL is checked
 * with the other pointers). */
static void check_state(Cg *c, LLVMValueRef fn, LLVMValueRef state, LLVMValueRef bytes) {
  fail_if(c, fn, misaligned(c, state, IR_STATE_ALIGN), KRT_ERR_BAD_ALIGNMENT);
  fail_if(c, fn, LLVMBuildICmp(c->b, LLVMIntULT, bytes, cg_idx(c, c->g->state_size), ""),
          KRT_ERR_STATE_SIZE);
}

/* Run-time dim k from `const int64_t *dims` (dims[k]; -1 if NULL, KRT_ERR_DIM_RANGE outside
 * [1, max]) as an index, or the maximum when dims is NULL (the entry points without dims). */
static LLVMValueRef dyn_value(Cg *c, LLVMValueRef fn, LLVMValueRef dims, int k) {
  int64_t max = c->g->dyn[k].max;
  if (!dims) return cg_idx(c, max);
  fail_if(c, fn, LLVMBuildICmp(c->b, LLVMIntEQ, dims, LLVMConstPointerNull(c->t_ptr), ""),
          KRT_ERR_NULL_ARG);
  LLVMValueRef at = LLVMBuildGEP2(c->b, c->t_i64, dims, (LLVMValueRef[]){cg_i32c(c, k)}, 1, "");
  LLVMValueRef len = LLVMBuildLoad2(c->b, c->t_i64, at, "len");
  LLVMSetAlignment(len, 8);
  /* len - 1 >= max as unsigned: len < 1 or len > max */
  LLVMValueRef off = LLVMBuildSub(c->b, len, LLVMConstInt(c->t_i64, 1, 0), "");
  fail_if(
      c, fn,
      LLVMBuildICmp(c->b, LLVMIntUGE, off, LLVMConstInt(c->t_i64, (unsigned long long)max, 0), ""),
      KRT_ERR_DIM_RANGE);
  return LLVMBuildTrunc(c->b, len, c->t_idx, "");
}

/* Bytes of one batch element of graph input/output v at the run-time length len (0: v does not
 * grow with the batch, every element reads/writes the same bytes). */
static LLVMValueRef batch_stride(Cg *c, const IrValue *v, LLVMValueRef len) {
  if (!v->outer) return cg_idx(c, 0);
  if (!v->dyn) return cg_idx(c, ir_value_nbytes(v));
  return LLVMBuildMul(c->b, cg_idx(c, ir_dyn_row_bytes(v)), len, "");
}

/* return body(args) once per batch element: inputs and outputs that grow with the batch advance
 * by one element's bytes; the first non-zero code stops the loop. */
static void call_per_element(Cg *c, LLVMValueRef fn, LLVMValueRef body, LLVMValueRef *args, int na,
                             LLVMValueRef len, LLVMValueRef batch) {
  const IrGraph *g = c->g;
  int nio = g->n_inputs + g->n_outputs;
  LLVMValueRef *stride = malloc(sizeof *stride * (size_t)(nio + 1)),
               *moved = malloc(sizeof *moved * (size_t)(na + 1));
  if (!stride || !moved) abort();
  for (int k = 0; k < nio; k++)
    stride[k] = batch_stride(c, k < g->n_inputs ? g->inputs[k] : g->outputs[k - g->n_inputs], len);
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(c->b),
                    loop = LLVMAppendBasicBlockInContext(c->ctx, fn, "batch"),
                    next = LLVMAppendBasicBlockInContext(c->ctx, fn, "batch.next"),
                    done = LLVMAppendBasicBlockInContext(c->ctx, fn, "batch.done");
  LLVMBuildBr(c->b, loop);
  LLVMPositionBuilderAtEnd(c->b, loop);
  LLVMValueRef b = LLVMBuildPhi(c->b, c->t_idx, "b");
  for (int k = 0; k < na; k++) {
    moved[k] = args[k];
    if (k < nio) {
      LLVMValueRef off = LLVMBuildMul(c->b, b, stride[k], "");
      moved[k] = LLVMBuildGEP2(c->b, c->t_i8, args[k], &off, 1, "");
    }
  }
  LLVMValueRef rc =
      LLVMBuildCall2(c->b, LLVMGlobalGetValueType(body), body, moved, (unsigned)na, "");
  LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntNE, rc, cg_i32c(c, 0), ""), done, next);
  LLVMPositionBuilderAtEnd(c->b, next);
  LLVMValueRef b1 = LLVMBuildAdd(c->b, b, cg_idx(c, 1), "");
  LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntULT, b1, batch, ""), loop, done);
  LLVMValueRef in_v[2] = {cg_idx(c, 0), b1};
  LLVMBasicBlockRef in_b[2] = {pre, next};
  LLVMAddIncoming(b, in_v, in_b, 2);
  LLVMPositionBuilderAtEnd(c->b, done);
  LLVMValueRef ret = LLVMBuildPhi(c->b, c->t_i32, "rc");
  LLVMValueRef r_v[2] = {rc, cg_i32c(c, 0)};
  LLVMBasicBlockRef r_b[2] = {loop, next};
  LLVMAddIncoming(ret, r_v, r_b, 2);
  LLVMBuildRet(c->b, ret);
  free(stride);
  free(moved);
}

/* `int P_run_ws([const int64_t *dims,] in..., out..., ws[, weights][, state, state_bytes])`:
 * argument checks, then the body; with_dims: the `_run_ws_dims` form of a model with a run-time
 * dim (the others run at its maximum). */
static LLVMValueRef build_run_ws(Cg *c, LLVMValueRef body, bool with_dims) {
  const IrGraph *g = c->g;
  int d0 = with_dims ? 1 : 0; /* parameters before the inputs */
  int ws_index = g->n_inputs + g->n_outputs;
  bool stateful = g->n_states > 0;
  int nb = ws_index + 1 + (external_weights(c) ? 1 : 0) + (stateful ? 1 : 0); /* body's */
  int np = nb + (stateful ? 1 : 0);
  LLVMValueRef fn =
      add_function(c, with_dims ? "_run_ws_dims" : "_run_ws", c->t_i32, np + d0, stateful);
  LLVMValueRef dims = with_dims ? LLVMGetParam(fn, 0) : NULL;
  LLVMValueRef len = g->n_dyn ? dyn_value(c, fn, dims, ir_dyn_len_index(g)) : NULL;
  LLVMValueRef batch = g->outer ? dyn_value(c, fn, dims, g->outer - 1) : NULL;
  bool ws_used = g->workspace_size > 0;
  /* Some pointer is NULL when the unsigned minimum of the addresses is 0, one branch per group
   * of pointers: one or-chain of compares over a model with a thousand inputs or outputs costs
   * LLVM tens of seconds (SLP vectorizer and constraint elimination, quadratic in the chain). */
  enum { GROUP = 16 };
  LLVMBasicBlockRef fail = LLVMValueAsBasicBlock(ret_code_block(c, fn, KRT_ERR_NULL_ARG));
  for (int k0 = 0; k0 < nb; k0 += GROUP) {
    LLVMValueRef low = NULL;
    for (int k = k0; k < nb && k < k0 + GROUP; k++) {
      if (k == ws_index && !ws_used) continue;
      LLVMValueRef a = LLVMBuildPtrToInt(c->b, LLVMGetParam(fn, (unsigned)(k + d0)), c->t_idx, "");
      LLVMValueRef ab[2] = {low, a};
      low = low ? cg_intrinsic(c, "llvm.umin", c->t_idx, ab, 2) : a;
    }
    if (!low) continue;
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->ctx, fn, "args.ok");
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntEQ, low, cg_idx(c, 0), ""), fail, next);
    LLVMPositionBuilderAtEnd(c->b, next);
  }
  /* misaligned workspace or (external) weights */
  LLVMValueRef mis = LLVMConstInt(c->t_i1, 0, 0);
  if (ws_used && g->workspace_align > 1)
    mis = misaligned(c, LLVMGetParam(fn, (unsigned)(ws_index + d0)), g->workspace_align);
  if (external_weights(c))
    mis = LLVMBuildOr(
        c->b, mis, misaligned(c, LLVMGetParam(fn, (unsigned)(ws_index + d0) + 1), CG_WEIGHTS_ALIGN),
        "");
  fail_if(c, fn, mis, KRT_ERR_BAD_ALIGNMENT);
  if (stateful)
    check_state(c, fn, LLVMGetParam(fn, (unsigned)(nb - 1 + d0)),
                LLVMGetParam(fn, (unsigned)(nb + d0)));
  LLVMValueRef *args = malloc(sizeof *args * (size_t)(np + 1));
  if (!args) abort();
  for (int k = 0; k < nb; k++) args[k] = LLVMGetParam(fn, (unsigned)(k + d0));
  int na = nb;
  if (len) args[na++] = len;
  if (batch)
    call_per_element(c, fn, body, args, na, len, batch);
  else
    LLVMBuildRet(c->b,
                 LLVMBuildCall2(c->b, LLVMGlobalGetValueType(body), body, args, (unsigned)na, ""));
  free(args);
  return fn;
}

/* Arguments of P_run_ws after the workspace: [weights][, state, state_bytes], taken from fn's
 * parameters from index `from`; returns how many. */
static int pass_rest(Cg *c, LLVMValueRef fn, int from, LLVMValueRef *args) {
  int n = (external_weights(c) ? 1 : 0) + (c->g->n_states ? 2 : 0);
  for (int k = 0; k < n; k++) args[k] = LLVMGetParam(fn, (unsigned)(from + k));
  return n;
}

/* `int P_run([dims,] in..., out...[, weights][, state, state_bytes])` on a static,
 * zero-initialized workspace (.bss); run_ws is P_run_ws or (with_dims) P_run_ws_dims. */
static void build_run(Cg *c, LLVMValueRef run_ws, bool with_dims, LLVMValueRef *ws_global) {
  const IrGraph *g = c->g;
  int d0 = with_dims ? 1 : 0;
  int np = g->n_inputs + g->n_outputs;
  int rest = (external_weights(c) ? 1 : 0) + (g->n_states ? 2 : 0);
  LLVMValueRef fn =
      add_function(c, with_dims ? "_run_dims" : "_run", c->t_i32, d0 + np + rest, g->n_states > 0);
  LLVMValueRef ws = LLVMConstPointerNull(c->t_ptr);
  if (g->workspace_size > 0 && !*ws_global) {
    char name[300];
    snprintf(name, sizeof name, "%s.workspace", c->prefix);
    LLVMTypeRef ty = LLVMArrayType2(c->t_i8, (uint64_t)g->workspace_size);
    *ws_global = LLVMAddGlobal(c->mod, ty, name);
    LLVMSetInitializer(*ws_global, LLVMConstNull(ty));
    LLVMSetLinkage(*ws_global, LLVMInternalLinkage);
    LLVMSetAlignment(*ws_global, (unsigned)g->workspace_align);
  }
  if (*ws_global) ws = *ws_global;
  LLVMValueRef *args = malloc(sizeof *args * (size_t)(np + 5));
  if (!args) abort();
  for (int k = 0; k < d0 + np; k++) args[k] = LLVMGetParam(fn, (unsigned)k);
  args[d0 + np] = ws;
  int n = d0 + np + 1 + pass_rest(c, fn, d0 + np, args + d0 + np + 1);
  LLVMBuildRet(c->b,
               LLVMBuildCall2(c->b, LLVMGlobalGetValueType(run_ws), run_ws, args, (unsigned)n, ""));
  free(args);
}

/* `int P_run_generic([dims,] const void *const *inputs, void *const *outputs, void *ws
 * [, weights][, state, state_bytes])`. */
static LLVMValueRef build_run_generic(Cg *c, LLVMValueRef run_ws, bool with_dims) {
  const IrGraph *g = c->g;
  int d0 = with_dims ? 1 : 0;
  int np = g->n_inputs + g->n_outputs;
  int rest = (external_weights(c) ? 1 : 0) + (g->n_states ? 2 : 0);
  LLVMValueRef fn = add_function(c, with_dims ? "_run_generic_dims" : "_run_generic", c->t_i32,
                                 d0 + 3 + rest, g->n_states > 0);
  LLVMValueRef null = LLVMConstPointerNull(c->t_ptr);
  LLVMValueRef bad = LLVMBuildICmp(c->b, LLVMIntEQ, LLVMGetParam(fn, (unsigned)d0 + 1), null, "");
  if (g->n_inputs > 0)
    bad = LLVMBuildOr(c->b, bad,
                      LLVMBuildICmp(c->b, LLVMIntEQ, LLVMGetParam(fn, (unsigned)d0), null, ""), "");
  fail_if(c, fn, bad, KRT_ERR_NULL_ARG);
  LLVMValueRef *args = malloc(sizeof *args * (size_t)(np + 5));
  if (!args) abort();
  if (with_dims) args[0] = LLVMGetParam(fn, 0);
  for (int k = 0; k < np; k++) {
    bool is_in = k < g->n_inputs;
    LLVMValueRef arr = LLVMGetParam(fn, (unsigned)d0 + (is_in ? 0 : 1));
    LLVMValueRef at = cg_gep(c, c->t_ptr, arr, cg_idx(c, is_in ? k : k - g->n_inputs));
    args[d0 + k] = LLVMBuildLoad2(c->b, c->t_ptr, at, "");
  }
  args[d0 + np] = LLVMGetParam(fn, (unsigned)d0 + 2);
  int n = d0 + np + 1 + pass_rest(c, fn, d0 + 3, args + d0 + np + 1);
  LLVMBuildRet(c->b,
               LLVMBuildCall2(c->b, LLVMGlobalGetValueType(run_ws), run_ws, args, (unsigned)n, ""));
  free(args);
  return fn;
}

/* `int P_reset(void *state, size_t state_bytes)`: the initial value of every state (zeros where
 * the model gives none, padding zeroed too). */
static LLVMValueRef build_reset(Cg *c) {
  const IrGraph *g = c->g;
  LLVMValueRef fn = add_function(c, "_reset", c->t_i32, 2, true);
  LLVMValueRef state = LLVMGetParam(fn, 0);
  fail_if(c, fn, LLVMBuildICmp(c->b, LLVMIntEQ, state, LLVMConstPointerNull(c->t_ptr), ""),
          KRT_ERR_NULL_ARG);
  check_state(c, fn, state, LLVMGetParam(fn, 1));
  cg_memset(c, state, 0, g->state_size);
  for (int i = 0; i < g->n_states; i++) {
    const IrState *st = &g->states[i];
    if (!st->init) continue;
    char name[300];
    snprintf(name, sizeof name, "%s.state_init.%d", c->prefix, i);
    size_t bytes = (size_t)ir_value_nbytes(st->in);
    cg_memcpy(c, cg_byte_ptr(c, state, st->offset), cg_const_bytes(c, st->init, bytes, name),
              cg_idx(c, (int64_t)bytes));
  }
  LLVMBuildRet(c->b, cg_i32c(c, KRT_OK));
  return fn;
}

static LLVMValueRef private_const(Cg *c, LLVMValueRef init, const char *what, int k) {
  char name[300];
  snprintf(name, sizeof name, "%s.%s.%d", c->prefix, what, k);
  LLVMValueRef gv = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name);
  LLVMSetInitializer(gv, init);
  LLVMSetGlobalConstant(gv, 1);
  LLVMSetLinkage(gv, LLVMPrivateLinkage);
  LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
  return gv;
}

static LLVMValueRef cstring(Cg *c, const char *s, int k) {
  return private_const(c, LLVMConstStringInContext2(c->ctx, s, strlen(s), 0), "str", k);
}

/* krt_tensor_info[count] for the values, or a null pointer when count is 0. */
static LLVMValueRef tensor_infos(Cg *c, LLVMTypeRef info_ty, IrValue *const *vals, int count,
                                 int *serial) {
  if (count == 0) return LLVMConstPointerNull(c->t_ptr);
  LLVMValueRef *elems = malloc(sizeof *elems * (size_t)count);
  if (!elems) abort();
  for (int k = 0; k < count; k++) {
    const IrValue *v = vals[k];
    LLVMValueRef dims = LLVMConstPointerNull(c->t_ptr);
    if (v->rank > 0) {
      LLVMValueRef d[IR_MAX_RANK];
      for (int r = 0; r < v->rank; r++)
        d[r] = LLVMConstInt(c->t_i64, (unsigned long long)v->dims[r], 1);
      dims = private_const(c, LLVMConstArray2(c->t_i64, d, (uint64_t)v->rank), "dims", *serial);
    }
    LLVMValueRef f[4] = {cstring(c, v->name, (*serial)++), cg_i32c(c, v->dtype),
                         cg_i32c(c, v->rank), dims};
    elems[k] = LLVMConstNamedStruct(info_ty, f, 4);
  }
  LLVMValueRef arr = LLVMConstArray2(info_ty, elems, (uint64_t)count);
  free(elems);
  return private_const(c, arr, "tensors", (*serial)++);
}

/* `const krt_model P_model`, laid out as krt.h's struct with the target's data layout:
 * {u32 abi, u32 n_in, u32 n_out, u32 ws_align, u64 ws_size, ptr name, ptr in, ptr out, ptr run,
 *  u32 n_states, u32 state_align, u64 state_size, ptr states, ptr run_state, ptr reset,
 *  u32 n_dims, ptr dims, ptr input_dyn_axis, ptr output_dyn_axis, ptr run_dims,
 *  ptr run_state_dims, i32 batch_dim, ptr input_batch, ptr output_batch}
 * and krt_tensor_info {ptr name, i32 dtype, i32 rank, ptr dims}. Natural alignment gives the C
 * layout on every target (offsets 0,4,8,12,16,24,... with 4- or 8-byte pointers). */
static void build_descriptor(Cg *c, LLVMValueRef run_generic, LLVMValueRef reset,
                             LLVMValueRef run_dims) {
  const IrGraph *g = c->g;
  bool stateful = g->n_states > 0;
  IrValue **state_in = malloc(sizeof *state_in * ((size_t)g->n_states + 1));
  if (!state_in) abort();
  for (int i = 0; i < g->n_states; i++) state_in[i] = g->states[i].in;
  LLVMTypeRef info_f[4] = {c->t_ptr, c->t_i32, c->t_i32, c->t_ptr};
  LLVMTypeRef info_ty = LLVMStructCreateNamed(c->ctx, "krt_tensor_info");
  LLVMStructSetBody(info_ty, info_f, 4, 0);
  LLVMTypeRef model_f[24] = {c->t_i32, c->t_i32, c->t_i32, c->t_i32, c->t_i64, c->t_ptr,
                             c->t_ptr, c->t_ptr, c->t_ptr, c->t_i32, c->t_i32, c->t_i64,
                             c->t_ptr, c->t_ptr, c->t_ptr, c->t_i32, c->t_ptr, c->t_ptr,
                             c->t_ptr, c->t_ptr, c->t_ptr, c->t_i32, c->t_ptr, c->t_ptr};
  LLVMTypeRef model_ty = LLVMStructCreateNamed(c->ctx, "krt_model");
  LLVMStructSetBody(model_ty, model_f, 24, 0);
  /* external weights: the descriptor's run cannot pass them; NULL, use P_run_generic */
  LLVMValueRef generic = external_weights(c) ? LLVMConstPointerNull(c->t_ptr) : run_generic;
  LLVMValueRef null = LLVMConstPointerNull(c->t_ptr);
  LLVMValueRef dims_generic = run_dims && !external_weights(c) ? run_dims : null;
  int serial = 0;
  LLVMValueRef dim_infos = null, dyn_axes[2] = {null, null}, batch[2] = {null, null};
  if (g->n_dyn) {
    LLVMTypeRef dim_f[2] = {c->t_ptr, c->t_i64};
    LLVMTypeRef dim_ty = LLVMStructCreateNamed(c->ctx, "krt_dim_info");
    LLVMStructSetBody(dim_ty, dim_f, 2, 0);
    LLVMValueRef e[IR_MAX_DYN];
    for (int k = 0; k < g->n_dyn; k++) {
      LLVMValueRef f2[2] = {cstring(c, g->dyn[k].name, serial++),
                            LLVMConstInt(c->t_i64, (unsigned long long)g->dyn[k].max, 0)};
      e[k] = LLVMConstNamedStruct(dim_ty, f2, 2);
    }
    dim_infos = private_const(c, LLVMConstArray2(dim_ty, e, (uint64_t)g->n_dyn), "dyn", 0);
    for (int side = 0; side < 2; side++) {
      int cnt = side ? g->n_outputs : g->n_inputs;
      IrValue *const *vals = side ? g->outputs : g->inputs;
      if (cnt == 0) continue;
      LLVMValueRef *ax = malloc(sizeof *ax * (size_t)cnt);
      if (!ax) abort();
      for (int k = 0; k < cnt; k++) ax[k] = cg_i32c(c, vals[k]->dyn - 1);
      dyn_axes[side] =
          private_const(c, LLVMConstArray2(c->t_i32, ax, (uint64_t)cnt), "dyn_axis", side);
      for (int k = 0; g->outer && k < cnt; k++) ax[k] = cg_i32c(c, vals[k]->outer);
      if (g->outer)
        batch[side] = private_const(c, LLVMConstArray2(c->t_i32, ax, (uint64_t)cnt), "batch", side);
      free(ax);
    }
  }
  LLVMValueRef f[24] = {
      cg_i32c(c, KRT_ABI_VERSION),
      cg_i32c(c, g->n_inputs),
      cg_i32c(c, g->n_outputs),
      cg_i32c(c, g->workspace_align),
      LLVMConstInt(c->t_i64, (unsigned long long)(g->workspace_size > 0 ? g->workspace_size : 0),
                   0),
      cstring(c, g->name, serial++),
      tensor_infos(c, info_ty, g->inputs, g->n_inputs, &serial),
      tensor_infos(c, info_ty, g->outputs, g->n_outputs, &serial),
      stateful ? null : generic,
      cg_i32c(c, g->n_states),
      cg_i32c(c, IR_STATE_ALIGN),
      LLVMConstInt(c->t_i64, (unsigned long long)g->state_size, 0),
      tensor_infos(c, info_ty, state_in, g->n_states, &serial),
      stateful ? generic : null,
      reset ? reset : null,
      cg_i32c(c, g->n_dyn),
      dim_infos,
      dyn_axes[0],
      dyn_axes[1],
      stateful ? null : dims_generic,
      stateful ? dims_generic : null,
      cg_i32c(c, g->outer - 1),
      batch[0],
      batch[1]};
  free(state_in);
  char name[300];
  snprintf(name, sizeof name, "%s_model", c->prefix);
  LLVMValueRef model = LLVMAddGlobal(c->mod, model_ty, name);
  LLVMSetInitializer(model, LLVMConstNamedStruct(model_ty, f, 24));
  LLVMSetGlobalConstant(model, 1);
  if (c->o->driver_hook) {
    LLVMValueRef hook = LLVMAddGlobal(
        c->mod, c->t_ptr, c->o->driver_symbol ? c->o->driver_symbol : "kiln_driver_model");
    LLVMSetInitializer(hook, model);
    LLVMSetGlobalConstant(hook, 1);
  }
  if (c->o->driver_hook && c->o->profile) { /* "name (Op, kernel)" per node */
    const IrGraph *pg = c->g;
    LLVMValueRef *names = malloc(sizeof *names * ((size_t)pg->n_nodes + 1));
    if (!names) abort();
    for (int i = 0; i < pg->n_nodes; i++) {
      const IrNode *n = pg->nodes[i];
      char label[400];
      snprintf(label, sizeof label, "%s (%s%s, %s)", n->name, ir_op_info[n->op].name,
               n->n_epilogue ? "+..." : "", ir_kernel_names[n->kernel]);
      names[i] = cstring(c, label, serial++);
    }
    LLVMValueRef arr = LLVMConstArray2(c->t_ptr, names, (uint64_t)pg->n_nodes);
    LLVMValueRef gv = LLVMAddGlobal(c->mod, LLVMTypeOf(arr), "kiln_profile_names");
    LLVMSetInitializer(gv, arr);
    LLVMSetGlobalConstant(gv, 1);
    free(names);
    LLVMValueRef count = LLVMAddGlobal(c->mod, c->t_i32, "kiln_profile_count");
    LLVMSetInitializer(count, cg_i32c(c, pg->n_nodes));
    LLVMSetGlobalConstant(count, 1);
  }
}

static bool valid_prefix(const char *p) {
  if (!p || !*p || (*p >= '0' && *p <= '9')) return false;
  for (; *p; p++)
    if (!(*p == '_' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
          (*p >= 'A' && *p <= 'Z')))
      return false;
  return true;
}

bool cg_compile(const IrGraph *g, const CgOptions *o, const char *out_path, IrDiag *d) {
  if (!valid_prefix(o->prefix)) {
    ir_diag_error(d, "--name", "'%s' is not a C identifier", o->prefix ? o->prefix : "");
    return false;
  }
  int64_t a = g->workspace_align;
  if (a < 1 || (a & (a - 1)) || a > (1 << 30)) {
    ir_diag_error(d, NULL, "internal error: workspace alignment %lld is not a power of two",
                  (long long)a);
    return false;
  }
  Cg c;
  if (!cg_session_begin(&c, o, d)) return false;
  c.g = g;
  /* Large constants are streamed to a file, then into the object (cg_blob.c): ELF objects
   * only (the copy finds the placeholder through the ELF symbol table). */
  c.stream = !o->weights_path && o->emit == CG_EMIT_OBJ && c.elf;
  if ((o->weights_path || c.stream) &&
      !cg_blob_open(&c, o->weights_path ? o->weights_path : out_path, o->weights_path != NULL)) {
    cg_session_end(&c);
    return false;
  }
  int *uses = calloc((size_t)g->n_values + 1, sizeof *uses);
  if (!uses) abort();
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i]->n_inputs; k++)
      if (g->nodes[i]->inputs[k]) uses[g->nodes[i]->inputs[k]->id]++;
  for (int j = 0; j < g->n_outputs; j++) uses[g->outputs[j]->id]++;
  for (int j = 0; j < g->n_states; j++) uses[g->states[j].out->id]++;
  bool ok = plan_storage(&c, uses);
  free(uses);
  int max_id = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i]->id > max_id) max_id = g->nodes[i]->id;
  c.node_alloca = calloc((size_t)max_id + 1, sizeof *c.node_alloca);
  if (!c.node_alloca) abort();
  LLVMValueRef body = ok ? build_body(&c) : NULL;
  ok = body != NULL;
  if (ok) {
    LLVMValueRef run_ws = build_run_ws(&c, body, false), ws_global = NULL;
    build_run(&c, run_ws, false, &ws_global);
    LLVMValueRef reset = g->n_states ? build_reset(&c) : NULL;
    LLVMValueRef run_dims = NULL;
    if (g->n_dyn) { /* the same entry points taking the run-time dims first */
      LLVMValueRef run_ws_dims = build_run_ws(&c, body, true);
      build_run(&c, run_ws_dims, true, &ws_global);
      run_dims = build_run_generic(&c, run_ws_dims, true);
    }
    build_descriptor(&c, build_run_generic(&c, run_ws, false), reset, run_dims);
    ok = cg_session_finish(&c, out_path);
  }
  if (ok && o->weights_path && !cg_blob_finish_external(&c, o->weights_path)) {
    remove(out_path);
    ok = false;
  }
  if (o->weights_size_out) *o->weights_size_out = ok && o->weights_path ? (int64_t)c.blob_size : 0;
  if (o->stack) { /* hand the report over */
    cg_stack_free(o->stack);
    if (ok) {
      *o->stack = c.stack;
      memset(&c.stack, 0, sizeof c.stack);
    }
  }
  cg_session_end(&c);
  return ok;
}
