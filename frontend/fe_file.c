/* Reading a model file (JSON or ONNX) whole, and naming it: shared by fe_json.c and fe_onnx.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe_internal.h"

char *fe_read_model_file(const char *path, const char *what, const char *hint, size_t *len_out,
                         IrDiag *d) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    ir_diag_error(d, NULL, "cannot open '%s': %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ir_diag_error(d, NULL, "cannot stat '%s': %s", path, strerror(errno));
    close(fd);
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    ir_diag_error(d, NULL, "'%s' is not a regular file%s", path,
                  S_ISDIR(st.st_mode) ? " (it is a directory)" : "");
    close(fd);
    return NULL;
  }
  if (st.st_size > FE_MAX_FILE_BYTES) {
    ir_diag_error(d, NULL, "'%s' is %lld bytes, more than the limit of 2 GiB for %s (%s)", path,
                  (long long)st.st_size, what, hint);
    close(fd);
    return NULL;
  }
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
