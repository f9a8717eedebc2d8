/* Reading a model file (JSON or ONNX) whole, and naming it: shared by fe_json.c and fe_onnx.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe_internal.h"

/* The model file opened for reading after the checks (a regular file within the limit), or -1
 * after reporting. */
static int open_model(const char *path, const char *what, const char *hint, struct stat *st,
                      IrDiag *d) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    ir_diag_error(d, NULL, "cannot open '%s': %s", path, strerror(errno));
    return -1;
  }
  if (fstat(fd, st) != 0) {
    ir_diag_error(d, NULL, "cannot stat '%s': %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  if (!S_ISREG(st->st_mode)) {
    ir_diag_error(d, NULL, "'%s' is not a regular file%s", path,
                  S_ISDIR(st->st_mode) ? " (it is a directory)" : "");
    close(fd);
    return -1;
  }
  if (st->st_size > FE_MAX_FILE_BYTES) {
    ir_diag_error(d, NULL, "'%s' is %lld bytes, more than the limit of 2 GiB for %s (%s)", path,
                  (long long)st->st_size, what, hint);
    close(fd);
    return -1;
  }
  return fd;
}

void *fe_map_model_file(const char *path, const char *what, const char *hint, size_t *len,
                        bool *mapped, IrDiag *d) {
  struct stat st;
  int fd = open_model(path, what, hint, &st, d);
  if (fd < 0) return NULL;
  *len = (size_t)st.st_size;
  *mapped = st.st_size > 0;
  void *p = *mapped ? mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0) : calloc(1, 1);
  close(fd);
  if (p == MAP_FAILED || !p) {
    ir_diag_error(d, NULL, "cannot map '%s': %s%s", path, strerror(errno),
                  errno == ENOMEM ? " (kiln --max-memory raises the compile-time memory cap)" : "");
    return NULL;
  }
  return p;
}

char *fe_read_model_file(const char *path, const char *what, const char *hint, size_t *len_out,
                         IrDiag *d) {
  struct stat st;
  int fd = open_model(path, what, hint, &st, d);
  if (fd < 0) return NULL;
  /* Read to EOF (the file may change size under us; never past the limit). */
  size_t cap = (size_t)st.st_size + 1, len = 0;
  char *buf = malloc(cap + 1);
  if (!buf) abort();
  for (;;) {
    if (len == cap) {
      if (cap > (size_t)FE_MAX_FILE_BYTES) {
        ir_diag_error(d, NULL, "'%s' grew past the 2 GiB limit while being read", path);
        free(buf);
        close(fd);
        return NULL;
      }
      cap *= 2;
      char *grown = realloc(buf, cap + 1);
      if (!grown) abort();
      buf = grown;
    }
    ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      ir_diag_error(d, NULL, "cannot read '%s': %s", path, strerror(errno));
      free(buf);
      close(fd);
      return NULL;
    }
    if (r == 0) break;
    len += (size_t)r;
  }
  close(fd);
  buf[len] = 0;
  *len_out = len;
  return buf;
}

void fe_split_model_path(const char *path, const char *ext, char **dir, char **name) {
  size_t plen = strlen(path);
  *dir = malloc(plen + 2);
  if (!*dir) abort();
  const char *slash = strrchr(path, '/');
  if (!slash) {
    strcpy(*dir, ".");
  } else if (slash == path) {
    strcpy(*dir, "/");
  } else {
    memcpy(*dir, path, (size_t)(slash - path));
    (*dir)[slash - path] = 0;
  }
  *name = strdup(slash ? slash + 1 : path);
  if (!*name) abort();
  size_t nl = strlen(*name), el = strlen(ext);
  if (nl > el && strcmp(*name + nl - el, ext) == 0) (*name)[nl - el] = 0;
}
