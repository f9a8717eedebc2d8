/* Large constants without copies in memory: their bytes go to a file as they are made (a packed
 * weight tensor is freed right after), never into LLVM.
 * - --weights=external: the file is the weights file (renamed into place at the end).
 * - embedded (an ELF object): the file is a temporary, unlinked at once; the module holds one
 *   zero-filled placeholder global P.weights of the blob's size (externally_initialized, so no
 *   pass reads its zeros), which LLVM emits as a fill, not as bytes; after emission the blob is
 *   copied into the object file over the placeholder's bytes (cg_blob_patch).
 * The compiler then holds one packed tensor at a time instead of the source, the packed copies,
 * LLVM's constants and the assembler's section contents at once. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg_internal.h"

bool cg_blob_open(Cg *c, const char *path, bool keep) {
  size_t n = strlen(path) + 48;
  char *tmp = malloc(n);
  if (!tmp) abort();
  snprintf(tmp, n, "%s.%s.%d", path, keep ? "tmp" : "blob", (int)getpid());
  c->blob_fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (c->blob_fd < 0) {
    ir_diag_error(c->d, NULL, "cannot create %s '%s': %s",
                  keep ? "the weights file's temporary" : "a temporary file for the weights", tmp,
                  strerror(errno));
    free(tmp);
    return false;
  }
  if (keep) {
    c->blob_tmp = tmp;
  } else { /* nothing to clean up, whatever happens next */
    unlink(tmp);
    free(tmp);
  }
  c->blob_size = 0;
  return true;
}

void cg_blob_close(Cg *c) {
  if (c->blob_fd >= 0) close(c->blob_fd);
  c->blob_fd = -1;
  if (c->blob_tmp) remove(c->blob_tmp);
  free(c->blob_tmp);
  c->blob_tmp = NULL;
}

static bool write_all(int fd, const void *data, size_t n, int64_t off) {
  const unsigned char *p = data;
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, (off_t)off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w, n -= (size_t)w, off += w;
  }
  return true;
}

int64_t cg_blob_append(Cg *c, const void *data, size_t nbytes) {
  int64_t off = (c->blob_size + 63) & ~(int64_t)63;
  /* The gap before off is a hole: it reads as zeros. */
  if (!c->blob_errno && !write_all(c->blob_fd, data, nbytes, off))
    c->blob_errno = errno ? errno : EIO;
  c->blob_size = off + (int64_t)nbytes;
  return off;
}

LLVMValueRef cg_blob_ptr(Cg *c, int64_t off) {
  if (!c->blob_global) { /* a placeholder until the size is known (cg_blob_define) */
    char name[300];
    snprintf(name, sizeof name, "%s.weights", c->prefix);
    c->blob_global = LLVMAddGlobal(c->mod, c->t_i8, name);
  }
  LLVMValueRef idx = cg_idx(c, off);
  return off ? LLVMConstGEP2(c->t_i8, c->blob_global, &idx, 1) : c->blob_global;
}

static bool to_blob(const Cg *c, size_t nbytes) {
  return (c->o && c->o->weights_path) || (c->stream && nbytes >= CG_STREAM_MIN);
}

void cg_pieces_begin(Cg *c, CgPieces *p, size_t nbytes) {
  *p = (CgPieces){.nbytes = nbytes, .off = -1};
  if (to_blob(c, nbytes)) {
    p->off = (c->blob_size + 63) & ~(int64_t)63;
    c->blob_size = p->off + (int64_t)nbytes;
  } else {
    p->mem = malloc(nbytes ? nbytes : 1);
    if (!p->mem) abort();
  }
}

void cg_pieces_put(Cg *c, CgPieces *p, const void *data, size_t n) {
  assert(n <= p->nbytes - p->at);
  if (p->mem)
    memcpy(p->mem + p->at, data, n);
  else if (!c->blob_errno && !write_all(c->blob_fd, data, n, p->off + (int64_t)p->at))
    c->blob_errno = errno ? errno : EIO;
  p->at += n;
}

LLVMValueRef cg_pieces_end(Cg *c, CgPieces *p, const char *name) {
  assert(p->at == p->nbytes);
  if (p->mem) {
    LLVMValueRef g = cg_const_bytes(c, p->mem, p->nbytes, name);
    free(p->mem);
    return g;
  }
  return cg_pieces_at(c, p->off);
}

LLVMValueRef cg_pieces_at(Cg *c, int64_t off) {
  return c->o->weights_path ? cg_byte_ptr(c, c->weights_base, off) : cg_blob_ptr(c, off);
}

bool cg_blob_flush(Cg *c, const char *what) {
  if (c->blob_errno) {
    ir_diag_error(c->d, NULL, "cannot write %s: %s", what, strerror(c->blob_errno));
    return false;
  }
  /* the file's size, with the trailing padding of the last tensor's 64-byte slot */
  if (c->blob_size > 0 && ftruncate(c->blob_fd, (off_t)c->blob_size) != 0) {
    ir_diag_error(c->d, NULL, "cannot write %s: %s", what, strerror(errno));
    return false;
  }
  return true;
}

void cg_blob_define(Cg *c) {
  if (!c->blob_global) return;
  LLVMTypeRef t = LLVMArrayType2(c->t_i8, (uint64_t)c->blob_size);
  LLVMValueRef gv = LLVMAddGlobal(c->mod, t, "");
  LLVMSetInitializer(gv, LLVMConstNull(t));
  LLVMSetGlobalConstant(gv, 1);
  LLVMSetExternallyInitialized(gv, 1);     /* the zeros are a placeholder: never fold loads */
  LLVMSetLinkage(gv, LLVMInternalLinkage); /* a local symbol, found in the object by name */
  LLVMSetAlignment(gv, 64);
  if (c->o->weights_section) LLVMSetSection(gv, c->o->weights_section);
  LLVMReplaceAllUsesWith(c->blob_global, gv);
  size_t n;
  const char *name = LLVMGetValueName2(c->blob_global, &n);
  char *copy = strndup(name, n);
  if (!copy) abort();
  LLVMDeleteGlobal(c->blob_global);
  LLVMSetValueName2(gv, copy, n);
  free(copy);
  c->blob_global = gv;
}

/* ---- copying the blob into the object ------------------------------------------------------ */

typedef struct {
  int fd;
  bool is64;
  unsigned char *sh; /* section headers */
  uint64_t shnum, shentsize, size;
} Elf;

static uint64_t rd(const unsigned char *p, int n) { /* little-endian */
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static bool read_at(const Elf *e, void *buf, uint64_t n, uint64_t off) {
  if (off > e->size || n > e->size - off) return false;
  unsigned char *p = buf;
  while (n > 0) {
    ssize_t r = pread(e->fd, p, n, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r, n -= (uint64_t)r, off += (uint64_t)r;
  }
  return true;
}

/* Field of section header i: 0 type, 1 offset, 2 size, 3 link, 4 entsize. */
static uint64_t sh_field(const Elf *e, uint64_t i, int f) {
  static const int off64[] = {4, 24, 32, 40, 56}, off32[] = {4, 16, 20, 24, 36};
  static const int len64[] = {4, 8, 8, 4, 8};
  const unsigned char *h = e->sh + i * e->shentsize;
  return e->is64 ? rd(h + off64[f], len64[f]) : rd(h + off32[f], 4);
}

/* File offset of symbol `name` (st_size must be `size`), or 0 if it is not there. */
static uint64_t find_symbol(const Elf *e, const char *name, uint64_t size) {
  size_t nlen = strlen(name);
  uint64_t found = 0;
  for (uint64_t s = 0; s < e->shnum && !found; s++) {
    if (sh_field(e, s, 0) != 2 /* SHT_SYMTAB */) continue;
    uint64_t link = sh_field(e, s, 3), ent = e->is64 ? 24 : 16;
    if (link >= e->shnum || sh_field(e, s, 4) != ent) return 0;
    uint64_t ssize = sh_field(e, s, 2), strsize = sh_field(e, link, 2);
    unsigned char *syms = malloc(ssize + 1), *str = malloc(strsize + 1);
    if (!syms || !str) abort();
    if (read_at(e, syms, ssize, sh_field(e, s, 1)) &&
        read_at(e, str, strsize, sh_field(e, link, 1))) {
      str[strsize] = 0;
      for (uint64_t k = 0; k < ssize / ent && !found; k++) {
        const unsigned char *y = syms + k * ent;
        uint64_t st_name = rd(y, 4);
        uint64_t shndx = rd(y + (e->is64 ? 6 : 14), 2);
        uint64_t value = e->is64 ? rd(y + 8, 8) : rd(y + 4, 4);
        uint64_t st_size = e->is64 ? rd(y + 16, 8) : rd(y + 8, 4);
        if (st_name >= strsize || strncmp((char *)str + st_name, name, nlen + 1) != 0) continue;
        if (st_size != size || shndx == 0 || shndx >= e->shnum || shndx >= 0xff00) break;
        if (sh_field(e, shndx, 0) != 1 /* SHT_PROGBITS */) break;
        uint64_t base = sh_field(e, shndx, 1), secsize = sh_field(e, shndx, 2);
        if (value > secsize || size > secsize - value || base + value > e->size) break;
        found = base + value;
      }
    }
    free(syms);
    free(str);
  }
  return found;
}

bool cg_blob_patch(Cg *c, const char *obj_path) {
  if (!c->blob_global) return true;
  size_t n;
  const char *gname = LLVMGetValueName2(c->blob_global, &n);
  char *name = strndup(gname, n);
  if (!name) abort();
  Elf e = {.fd = open(obj_path, O_RDWR | O_CLOEXEC)};
  unsigned char h[64];
  uint64_t at = 0;
  off_t end = e.fd >= 0 ? lseek(e.fd, 0, SEEK_END) : -1;
  e.size = end > 0 ? (uint64_t)end : 0;
  if (e.fd >= 0 && read_at(&e, h, sizeof h, 0) && !memcmp(h, "\177ELF", 4) && h[5] == 1) {
    e.is64 = h[4] == 2;
    uint64_t shoff = e.is64 ? rd(h + 0x28, 8) : rd(h + 0x20, 4);
    e.shentsize = rd(h + (e.is64 ? 0x3a : 0x2e), 2);
    e.shnum = rd(h + (e.is64 ? 0x3c : 0x30), 2);
    if (e.shnum == 0 && e.shentsize >= 40) { /* more than 0xff00 sections: count in shdr 0 */
      unsigned char s0[64];
      if (read_at(&e, s0, e.shentsize < 64 ? e.shentsize : 64, shoff))
        e.shnum = e.is64 ? rd(s0 + 32, 8) : rd(s0 + 20, 4);
    }
    if (e.shentsize == (e.is64 ? 64u : 40u) && e.shnum > 0 && e.shnum < (1u << 24)) {
      e.sh = malloc(e.shnum * e.shentsize);
      if (!e.sh) abort();
      if (read_at(&e, e.sh, e.shnum * e.shentsize, shoff))
        at = find_symbol(&e, name, (uint64_t)c->blob_size);
      free(e.sh);
    }
  }
  bool ok = at != 0;
  if (!ok) {
    ir_diag_error(c->d, NULL,
                  "internal error: the weights placeholder '%s' is not in the object '%s'", name,
                  obj_path);
  }
  /* copy in 1 MiB pieces: the pages of the blob file stay in the page cache, not in our RSS */
  enum { PIECE = 1 << 20 };
  unsigned char *buf = ok ? malloc(PIECE) : NULL;
  if (ok && !buf) abort();
  for (int64_t off = 0; ok && off < c->blob_size; off += PIECE) {
    size_t len = c->blob_size - off < PIECE ? (size_t)(c->blob_size - off) : PIECE;
    Elf b = {.fd = c->blob_fd, .size = (uint64_t)c->blob_size};
    ok = read_at(&b, buf, len, (uint64_t)off) && write_all(e.fd, buf, len, (int64_t)at + off);
    if (!ok) ir_diag_error(c->d, NULL, "cannot write '%s': %s", obj_path, strerror(errno));
  }
  free(buf);
  if (e.fd >= 0 && close(e.fd) != 0 && ok) {
    ir_diag_error(c->d, NULL, "cannot write '%s': %s", obj_path, strerror(errno));
    ok = false;
  }
  free(name);
  return ok;
}

bool cg_blob_finish_external(Cg *c, const char *path) {
  if (!cg_blob_flush(c, "the weights file")) return false;
  if (rename(c->blob_tmp, path) != 0) {
    ir_diag_error(c->d, NULL, "cannot write weights file '%s': %s", path, strerror(errno));
    return false;
  }
  free(c->blob_tmp);
  c->blob_tmp = NULL;
  return true;
}
