/* Stack use of the generated code. The backend's PrologEpilogInserter knows each function's
 * frame (locals, spill slots, callee-saved registers: MachineFrameInfo's stack size, the number
 * `-stack-size-section` would emit); a "warn-stack-size"="0" attribute makes it report every
 * nonzero frame as a diagnostic, which a context handler collects: no process-global LLVM
 * option. The worst case of a function is its frame plus the deepest chain of calls to other
 * functions of the module (the call graph is static and acyclic: node functions are called by
 * the body, the body by P_run_ws, P_run_ws by P_run and P_run_generic), plus the return address
 * each call pushes on x86, plus what realigning sp for over-aligned locals may cost. Calls to
 * the C library (memcpy, memset) are flagged, not counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

void cg_stack_free(CgStack *s) {
  for (int i = 0; i < s->n_frames; i++) free(s->frames[i].name);
  free(s->frames);
  memset(s, 0, sizeof *s);
}

int64_t cg_entry_alloca_bytes(Cg *c, LLVMValueRef fn) {
  int64_t total = 0;
  LLVMBasicBlockRef entry = LLVMGetFirstBasicBlock(fn);
  if (!entry) return 0;
  for (LLVMValueRef i = LLVMGetFirstInstruction(entry); i; i = LLVMGetNextInstruction(i))
    if (LLVMIsAAllocaInst(i)) total += (int64_t)LLVMABISizeOfType(c->td, LLVMGetAllocatedType(i));
  return total;
}

static CgStackFrame *frame_of(Cg *c, const char *name, bool add) {
  for (int i = 0; i < c->stack.n_frames; i++)
    if (!strcmp(c->stack.frames[i].name, name)) return &c->stack.frames[i];
  if (!add) return NULL;
  CgStackFrame *grown = realloc(c->stack.frames, sizeof *grown * (size_t)(c->stack.n_frames + 1));
  if (!grown) abort();
  c->stack.frames = grown;
  CgStackFrame *f = &grown[c->stack.n_frames++];
  f->name = strdup(name);
  if (!f->name) abort();
  f->frame = 0;
  f->worst = -1;
  f->deepest = -1;
  return f;
}

/* "stack frame size (N) exceeds limit (0) in function 'F'" (DiagnosticInfoStackSize). */
static void on_diagnostic(LLVMDiagnosticInfoRef di, void *ctx) {
  Cg *c = ctx;
  char *text = LLVMGetDiagInfoDescription(di);
  LLVMDiagnosticSeverity sev = LLVMGetDiagInfoSeverity(di);
  const char *p = strstr(text, "stack frame size (");
  const char *fn = strstr(text, "in function '");
  long long size;
  if (p && fn && sscanf(p, "stack frame size (%lld)", &size) == 1) {
    fn += strlen("in function '");
    const char *end = strrchr(fn, '\'');
    char name[512];
    snprintf(name, sizeof name, "%.*s", end ? (int)(end - fn) : (int)strlen(fn), fn);
    frame_of(c, name, true)->frame = size;
  } else if (sev == LLVMDSError) {
    fprintf(stderr, "kiln: LLVM error: %s\n", text);
    c->llvm_error = true;
  } else if (sev == LLVMDSWarning) {
    fprintf(stderr, "kiln: LLVM warning: %s\n", text);
  }
  LLVMDisposeMessage(text);
}

void cg_stack_prepare(Cg *c) {
  LLVMAttributeRef warn = LLVMCreateStringAttribute(c->ctx, "warn-stack-size", 15, "0", 1);
  for (LLVMValueRef f = LLVMGetFirstFunction(c->mod); f; f = LLVMGetNextFunction(f))
    if (LLVMCountBasicBlocks(f) > 0) LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, warn);
  LLVMContextSetDiagnosticHandler(c->ctx, on_diagnostic, c);
}

/* A function whose stack objects need more alignment than the ABI keeps sp at realigns sp in its
 * prologue (`bfc sp` on Arm) and may lose up to align - stack_align bytes to it, which the
 * frame size does not include: the recurrent state arrays are 64-byte aligned. */
static int64_t realign_slack(Cg *c, LLVMValueRef f, int64_t stack_align) {
  int64_t max_align = 0;
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(f); bb; bb = LLVMGetNextBasicBlock(bb))
    for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i; i = LLVMGetNextInstruction(i))
      if (LLVMIsAAllocaInst(i) && (int64_t)LLVMGetAlignment(i) > max_align)
        max_align = LLVMGetAlignment(i);
  (void)c;
  return max_align > stack_align ? max_align - stack_align : 0;
}

/* The ABI stack alignment in bytes, from the data layout's "S<bits>" (default 8). */
static int64_t stack_alignment(Cg *c) {
  char *dl = LLVMCopyStringRepOfTargetData(c->td);
  int64_t a = 8;
  for (const char *p = dl; p && *p; p++)
    if ((p == dl || p[-1] == '-') && p[0] == 'S' && p[1] >= '0' && p[1] <= '9')
      a = strtoll(p + 1, NULL, 10) / 8;
  LLVMDisposeMessage(dl);
  return a > 0 ? a : 8;
}

/* Worst case of f (memoized in its frame record; -2 marks "being computed": a cycle). */
static int64_t worst_of(Cg *c, LLVMValueRef f, int64_t ret_addr, int64_t stack_align) {
  size_t len;
  const char *name = LLVMGetValueName2(f, &len);
  CgStackFrame *rec = frame_of(c, name, true);
  if (rec->worst >= 0) return rec->worst;
  if (rec->worst == -2) return -1;
  rec->worst = -2;
  int64_t deepest = 0;
  int deepest_index = -1;
  bool unknown = false;
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(f); bb; bb = LLVMGetNextBasicBlock(bb))
    for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i; i = LLVMGetNextInstruction(i)) {
      if (!LLVMIsACallInst(i)) continue;
      LLVMValueRef callee = LLVMGetCalledValue(i);
      if (LLVMIsAInlineAsm(callee)) continue; /* a VLDM (cg_gemm.c): no call, no stack */
      if (!LLVMIsAFunction(callee)) {
        unknown = true; /* never generated: an indirect call */
        continue;
      }
      if (LLVMCountBasicBlocks(callee) == 0) {
        if (!LLVMGetIntrinsicID(callee) || strstr(LLVMGetValueName2(callee, &len), "llvm.mem"))
          c->stack.library_calls = true;
        continue;
      }
      int64_t w = worst_of(c, callee, ret_addr, stack_align);
      if (w < 0) unknown = true;
      /* frame_of may have moved the array: look the record up again below */
      if (w + ret_addr > deepest) {
        deepest = w + ret_addr;
        deepest_index =
            (int)(frame_of(c, LLVMGetValueName2(callee, &len), false) - c->stack.frames);
      }
    }
  rec = frame_of(c, name, false);
  if (rec->frame > 0) rec->frame += realign_slack(c, f, stack_align);
  rec->worst = unknown ? -1 : rec->frame + deepest;
  rec->deepest = deepest_index;
  return rec->worst;
}

/* The node whose lowering put the most bytes on the stack, or NULL. */
static const IrNode *largest_stack_node(Cg *c, int64_t *bytes) {
  const IrNode *best = NULL;
  *bytes = 0;
  for (int i = 0; c->g && c->node_alloca && i < c->g->n_nodes; i++) {
    const IrNode *n = c->g->nodes[i];
    if (c->node_alloca[n->id] > *bytes) *bytes = c->node_alloca[n->id], best = n;
  }
  return best;
}

/* The node whose own function has the largest frame on the deepest chain from `entry` (node
 * functions are named P.<node id>.<op>), or NULL. */
static const IrNode *deepest_node_function(Cg *c, const char *entry, int64_t *bytes) {
  const IrNode *best = NULL;
  *bytes = 0;
  CgStackFrame *f = frame_of(c, entry, false);
  size_t plen = strlen(c->prefix);
  for (int guard = 0; f && c->g && guard < c->stack.n_frames; guard++) {
    int id;
    if (!strncmp(f->name, c->prefix, plen) && f->name[plen] == '.' &&
        sscanf(f->name + plen + 1, "%d.", &id) == 1 && f->frame > *bytes)
      for (int i = 0; i < c->g->n_nodes; i++)
        if (c->g->nodes[i]->id == id) best = c->g->nodes[i], *bytes = f->frame;
    f = f->deepest >= 0 ? &c->stack.frames[f->deepest] : NULL;
  }
  return best;
}

bool cg_stack_finish(Cg *c) {
  char *triple = LLVMGetTargetMachineTriple(c->tm);
  bool x86 = !strncmp(triple, "x86_64", 6) || (triple[0] == 'i' && strstr(triple, "86-"));
  LLVMDisposeMessage(triple);
  int64_t ret_addr = x86 ? (int64_t)LLVMPointerSize(c->td) : 0;
  c->stack.known = true;
  c->stack.worst = 0;
  const char *entries[] = {"_run", "_run_ws", "_run_generic"};
  const char *worst_entry = "";
  for (LLVMValueRef f = LLVMGetFirstFunction(c->mod); f; f = LLVMGetNextFunction(f))
    if (LLVMCountBasicBlocks(f) > 0) worst_of(c, f, ret_addr, stack_alignment(c));
  for (int e = 0; e < 3; e++) {
    char name[300];
    snprintf(name, sizeof name, "%s%s", c->prefix, entries[e]);
    CgStackFrame *rec = frame_of(c, name, false);
    if (!rec) continue;
    if (rec->worst < 0) {
      c->stack.known = false;
      continue;
    }
    if (rec->worst + ret_addr > c->stack.worst) {
      c->stack.worst = rec->worst + ret_addr; /* the caller's call into it, too */
      worst_entry = rec->name;
    }
  }
  if (!c->stack.known || c->o->max_stack <= 0 || c->stack.worst <= c->o->max_stack) return true;
  int64_t bytes;
  const IrNode *n = largest_stack_node(c, &bytes);
  if (n)
    return cg_node_error(c, n,
                         "the generated code needs %lld bytes of stack (worst case, %s), more "
                         "than the limit of %lld bytes (--max-stack); this node's buffers take "
                         "%lld bytes of it",
                         (long long)c->stack.worst, worst_entry, (long long)c->o->max_stack,
                         (long long)bytes);
  n = deepest_node_function(c, worst_entry, &bytes);
  if (n)
    return cg_node_error(c, n,
                         "the generated code needs %lld bytes of stack (worst case, %s), more "
                         "than the limit of %lld bytes (--max-stack); this node's function "
                         "takes %lld bytes of it (its frame: spills and saved registers)",
                         (long long)c->stack.worst, worst_entry, (long long)c->o->max_stack,
                         (long long)bytes);
  ir_diag_error(c->d, "--max-stack",
                "the generated code needs %lld bytes of stack (worst case, %s), more than the "
                "limit of %lld bytes; no node keeps buffers on the stack (this is the functions' "
                "own frames: spills and saved registers)",
                (long long)c->stack.worst, worst_entry, (long long)c->o->max_stack);
  return false;
}
