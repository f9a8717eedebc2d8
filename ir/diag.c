/* Diagnostics: user errors with a location, collected in a buffer and optionally echoed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

void ir_diag_init(IrDiag *d, const char *file, bool echo) {
  memset(d, 0, sizeof *d);
  d->file = file;
  d->echo = echo;
}

void ir_diag_free(IrDiag *d) {
  free(d->text);
  d->text = NULL;
  d->len = d->cap = 0;
}

static void diag_append(IrDiag *d, const char *s, size_t n) {
  if (d->len + n + 1 > d->cap) {
    size_t cap = d->cap ? d->cap : 256;
    while (cap < d->len + n + 1) cap *= 2;
    char *t = realloc(d->text, cap);
    if (!t) abort();
    d->text = t;
    d->cap = cap;
  }
  memcpy(d->text + d->len, s, n);
  d->len += n;
  d->text[d->len] = 0;
}

void ir_diag_verror(IrDiag *d, const char *where, const char *fmt, va_list ap) {
  char msg[1024];
  int n = 0;
  if (d->file) n += snprintf(msg + n, sizeof msg - (size_t)n, "%s: ", d->file);
  if (where && *where && n < (int)sizeof msg)
    n += snprintf(msg + n, sizeof msg - (size_t)n, "%s: ", where);
  if (n < (int)sizeof msg) vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
  size_t len = strlen(msg);
  if (d->echo) fprintf(stderr, "%s\n", msg);
  diag_append(d, msg, len);
  diag_append(d, "\n", 1);
  d->n_errors++;
}

void ir_diag_error(IrDiag *d, const char *where, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ir_diag_verror(d, where, fmt, ap);
  va_end(ap);
}

void ir_diag_warning(IrDiag *d, const char *where, const char *fmt, ...) {
  d->n_warnings++;
  if (!d->echo) return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s%s%s%swarning: ", d->file ? d->file : "", d->file ? ": " : "",
          where && *where ? where : "", where && *where ? ": " : "");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}
