/* Replays files through a fuzz target without libFuzzer, so the regression corpus runs in the
 * ordinary (and the sanitized) test suite: usage: fuzz_replay_X FILE_OR_DIR...
 * A crash, sanitizer report or abort fails the test; every file that returns counts as passed.
 * KILN_FUZZ_BASE_DIR is set to each file's directory, so models find their external weights. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int passed, failed;

static void replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "FAIL: cannot open %s\n", path);
    failed++;
    return;
  }
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  size_t n;
  while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (!buf) {
    fprintf(stderr, "FAIL: out of memory reading %s\n", path);
    failed++;
    return;
  }
  /* An exact-size copy, so ASan sees any read past the input's end. */
  uint8_t *exact = malloc(len ? len : 1);
  memcpy(exact, buf, len);
  free(buf);
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  setenv("KILN_FUZZ_BASE_DIR", slash ? dir : ".", 1);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  passed++;
}

static void replay(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    struct dirent **ents;
    int n = scandir(path, &ents, NULL, alphasort);
    for (int i = 0; i < n; i++) {
      if (ents[i]->d_name[0] != '.') {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, ents[i]->d_name);
        replay(sub);
      }
      free(ents[i]);
    }
    if (n >= 0) free(ents);
    return;
  }
  replay_file(path);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) replay(argv[i]);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0 || passed == 0;
}
