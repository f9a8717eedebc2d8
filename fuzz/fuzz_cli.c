/* libFuzzer target over the kiln command line's flag parser (tools/kiln/args.c): the input is
 * split at NUL bytes into argv[1..] (argv[1] is the command). Every outcome must be 0 (parsed),
 * -1 (--help printed) or 2 (a usage error), with the parsed fields consistent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

enum { MAX_ARGS = 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int quiet;
  if (!quiet) { /* --help and usage errors print; keep the fuzzer's own output readable */
    quiet = 1;
    if (!freopen("/dev/null", "w", stdout)) abort();
    FILE *null_err = fopen("/dev/null", "w");
    if (null_err) stderr = null_err; /* the FILE only: sanitizer reports still reach fd 2 */
  }
  char *buf = malloc(size + 1);
  if (!buf) abort();
  memcpy(buf, data, size);
  buf[size] = 0;
  char *argv[MAX_ARGS + 2];
  int argc = 0;
  argv[argc++] = "kiln";
  for (size_t i = 0; i <= size && argc < MAX_ARGS + 1;) {
    argv[argc++] = buf + i;
    i += strlen(buf + i) + 1;
  }
  argv[argc] = NULL;
  if (argc >= 2) {
    Args a;
    int rc = kiln_parse_args(argc, argv, &a);
    if (rc != 0 && rc != -1 && rc != 2) abort();
    if (rc == 0) {
      if (!a.model && !a.list_targets) abort();
      if (a.n_positional < 0 || a.n_positional > argc || a.n_weights_dirs < 0 ||
          a.n_weights_dirs > argc)
        abort();
      if (a.opt_level < 0 || a.opt_level > 3 || a.max_workspace <= 0 || a.max_memory <= 0 ||
          a.max_stack < 0 || a.max_nodes < 0 || a.max_weight_bytes < 0)
        abort();
      for (int i = 0; i < a.n_positional; i++)
        if (!a.positional[i]) abort();
      for (int i = 0; i < a.n_weights_dirs; i++)
        if (!a.weights_dirs[i] || !a.weights_dirs[i][0]) abort();
    }
    kiln_args_free(&a);
  }
  free(buf);
  return 0;
}
