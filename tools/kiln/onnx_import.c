/* ONNX models in the CLI: `kiln import model.onnx -o model.json`, and `.onnx` files accepted by
 * compile / build / run / inspect, which import them into a temporary directory first. The
 * conversion is tools/onnx2kiln.py (Python with Debian's python3-onnx): the importer folds the
 * exporters' shape arithmetic with numpy, which C would have to reimplement. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln_cli.h"

bool kiln_is_onnx(const char *path) {
  size_t n = strlen(path);
  return n > 5 && strcmp(path + n - 5, ".onnx") == 0;
}

/* tools/onnx2kiln.py: $KILN_ONNX2KILN, else <dir of the executable>/../../tools (build tree),
 * else <dir of the executable>/../share/kiln (an install), else the source tree it was built
 * from. */
static bool find_importer(char *buf, size_t size) {
  const char *env = getenv("KILN_ONNX2KILN");
  if (env && *env) return snprintf(buf, size, "%s", env) < (int)size && access(buf, R_OK) == 0;
  char exe[PATH_MAX];
  if (!kiln_exe_dir(exe, sizeof exe)) return false;
  static const char *const rel[] = {"../../tools/onnx2kiln.py", "../share/kiln/onnx2kiln.py"};
  for (size_t k = 0; k < sizeof rel / sizeof *rel; k++)
    if (snprintf(buf, size, "%s/%s", exe, rel[k]) < (int)size && access(buf, R_OK) == 0)
      return true;
#ifdef KILN_SOURCE_DIR
  if (snprintf(buf, size, "%s/tools/onnx2kiln.py", KILN_SOURCE_DIR) < (int)size &&
      access(buf, R_OK) == 0)
    return true;
#endif
  return false;
}

/* $KILN_PYTHON, else Debian's /usr/bin/python3 (the one python3-onnx installs into). */
static const char *python(void) {
  const char *env = getenv("KILN_PYTHON");
  if (env && *env) return env;
  return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

int kiln_onnx_import(const char *onnx_path, const char *out_json, const char *name,
                     const char *const *dirs, int n) {
  char script[PATH_MAX];
  if (!find_importer(script, sizeof script)) {
    fprintf(stderr, "kiln: cannot find tools/onnx2kiln.py (set KILN_ONNX2KILN)\n");
    return 1;
  }
  char **argv = calloc((size_t)(2 * n + 8), sizeof *argv);
  if (!argv) abort();
  int k = 0;
  argv[k++] = (char *)python();
  argv[k++] = script;
  argv[k++] = (char *)onnx_path;
  argv[k++] = "-o";
  argv[k++] = (char *)out_json;
  for (int i = 0; i < n; i++) {
    argv[k++] = "--weights-dir";
    argv[k++] = (char *)dirs[i];
  }
  if (name) {
    argv[k++] = "--name";
    argv[k++] = (char *)name;
  }
  int rc = kiln_run_process(argv);
  if (rc < 0 || rc == 127) fprintf(stderr, "kiln: the ONNX importer (%s) did not run\n", argv[0]);
  free(argv);
  return rc == 0 ? 0 : 1;
}

int kiln_onnx_import_temp(const char *onnx_path, char *json, size_t size, const char *const *dirs,
                          int n) {
  char dir[] = "/tmp/kiln-onnx-XXXXXX";
  if (!mkdtemp(dir)) {
    fprintf(stderr, "kiln: cannot create a temporary directory: %s\n", strerror(errno));
    return 1;
  }
  /* the model's name (the C prefix) comes from the file name, as for JSON models */
  const char *base = strrchr(onnx_path, '/');
  base = base ? base + 1 : onnx_path;
  char stem[256];
  snprintf(stem, sizeof stem, "%.*s", (int)(strlen(base) - 5), base);
  snprintf(json, size, "%s/model.json", dir);
  int rc = kiln_onnx_import(onnx_path, json, stem, dirs, n);
  if (rc != 0) kiln_onnx_cleanup(json);
  return rc;
}

void kiln_onnx_cleanup(const char *json) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", json);
  char *slash = strrchr(dir, '/');
  if (!slash) return;
  *slash = 0;
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[PATH_MAX + 256];
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      remove(path);
    }
  closedir(d);
  rmdir(dir);
}
