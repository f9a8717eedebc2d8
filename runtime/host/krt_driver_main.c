/* main() of executables made by `kiln build`: reads the inputs from .npy files in declared
 * order, runs the model linked beside it, writes each output to DIR/<output name>.npy and
 * prints a short summary. Usage: EXE in0.npy [in1.npy ...] [-o DIR] [--repeat N] [--quiet]
 * A model with states (KV cache, RNN state) takes k sets of inputs: k calls in sequence on one
 * state buffer from the initial state, call t writing DIR/<output name>.<t>.npy when k > 1. */
#define _POSIX_C_SOURCE 200809L /* mkdir, stat, clock_gettime */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "krt.h"
#include "krt_npy.h"

extern const krt_model *const kiln_driver_model;

/* `kiln build --profile`: the model calls kiln_profile_mark(i) before node i and
 * kiln_profile_mark(count) after the last; the time between two marks is node i's. Absent
 * (weak, NULL) in ordinary builds. */
extern const int32_t kiln_profile_count __attribute__((weak));
extern const char *const kiln_profile_names[] __attribute__((weak));
enum { PROFILE_MAX_RUNS = 1000 };
static double *profile_samples; /* [run][node] seconds, for the first PROFILE_MAX_RUNS runs */
static long profile_runs, profile_cap;
static double profile_last;
static int32_t profile_node = -1;

static double now_seconds(void);

void kiln_profile_mark(int32_t node);
void kiln_profile_mark(int32_t node) {
  double t = now_seconds();
  int32_t n = kiln_profile_count;
  if (profile_samples && profile_node >= 0 && profile_node < n && profile_runs < profile_cap)
    profile_samples[profile_runs * n + profile_node] = t - profile_last;
  if (node == n && profile_runs < profile_cap) profile_runs++; /* the end of a run */
  profile_node = node;
  profile_last = now_seconds(); /* the mark's own clock read is not the next node's */
}

static int cmp_double(const void *a, const void *b);

/* Per node: the median of its time over the recorded runs (a shared machine's preemptions
 * make the mean meaningless), slowest first, with its share of their sum. */
static void profile_report(void) {
  int32_t n = kiln_profile_count;
  double *med = calloc((size_t)n + 1, sizeof *med),
         *col = malloc(sizeof *col * (size_t)profile_runs + 1);
  int32_t *order = malloc(sizeof *order * ((size_t)n + 1));
  if (!med || !col || !order || profile_runs == 0) goto out;
  double sum = 0;
  for (int32_t i = 0; i < n; i++) {
    for (long r = 0; r < profile_runs; r++) col[r] = profile_samples[r * n + i];
    qsort(col, (size_t)profile_runs, sizeof *col, cmp_double);
    med[i] = col[profile_runs / 2];
    sum += med[i];
    order[i] = i;
  }
  for (int32_t a = 1; a < n; a++) /* insertion sort by median, slowest first */
    for (int32_t b = a; b > 0 && med[order[b]] > med[order[b - 1]]; b--) {
      int32_t t = order[b];
      order[b] = order[b - 1];
      order[b - 1] = t;
    }
  printf("profile: %d nodes, medians over %ld runs, sum %.3f us\n", n, profile_runs, sum * 1e6);
  for (int32_t k = 0; k < n; k++) {
    int32_t i = order[k];
    printf("  %10.3f us %5.1f%%  #%d %s\n", med[i] * 1e6, sum > 0 ? 100.0 * med[i] / sum : 0.0, i,
           kiln_profile_names[i]);
  }
out:
  free(med);
  free(col);
  free(order);
}

/* The dim the body loops to (the length); with two, the other is the batch. */
static int len_dim(const krt_model *m) { return m->n_dims > 1 && m->batch_dim == 0 ? 1 : 0; }

/* Whether tensor i (inputs, then outputs) holds batch elements along axis 0. */
static bool batch_of(const krt_model *m, uint32_t i) {
  if (m->n_dims < 2 || m->batch_dim < 0) return false;
  return i < m->n_inputs ? m->input_batch[i] != 0 : m->output_batch[i - m->n_inputs] != 0;
}

static void usage(FILE *f, const krt_model *m, const char *argv0) {
  fprintf(f, "usage: %s", argv0);
  for (uint32_t i = 0; i < m->n_inputs; i++) fprintf(f, " %s.npy", m->inputs[i].name);
  fprintf(f, " [-o DIR] [--repeat N] [--quiet]\n\nRuns model '%s'.\n", m->name);
  for (uint32_t i = 0; i < m->n_inputs + m->n_outputs; i++) {
    const krt_tensor_info *t = i < m->n_inputs ? &m->inputs[i] : &m->outputs[i - m->n_inputs];
    fprintf(f, "  %s %-12s %s[", i < m->n_inputs ? "input " : "output", t->name,
            krt_dtype_name(t->dtype));
    int32_t dyn = !m->n_dims        ? -1
                  : i < m->n_inputs ? m->input_dyn_axis[i]
                                    : m->output_dyn_axis[i - m->n_inputs];
    bool batched = batch_of(m, i);
    for (int k = 0; k < t->rank; k++) {
      fprintf(f, "%s", k ? "," : "");
      if (k == 0 && batched) { /* one element's axis 0 per batch element */
        fprintf(f, "%s<=%lld", m->dims[m->batch_dim].name, (long long)m->dims[m->batch_dim].max);
        if (t->dims[0] > 1) fprintf(f, "x%lld", (long long)t->dims[0]);
      } else if (k == dyn)
        fprintf(f, "%s<=%lld", m->dims[len_dim(m)].name, (long long)t->dims[k]);
      else
        fprintf(f, "%lld", (long long)t->dims[k]);
    }
    fprintf(f, "]\n");
  }
  for (uint32_t i = 0; i < m->n_states; i++) {
    const krt_tensor_info *t = &m->states[i];
    fprintf(f, "  state  %-12s %s[", t->name, krt_dtype_name(t->dtype));
    for (int k = 0; k < t->rank; k++) fprintf(f, "%s%lld", k ? "," : "", (long long)t->dims[k]);
    fprintf(f, "]\n");
  }
  fprintf(f, "\nOutputs are written to DIR/<output name>.npy (DIR defaults to '.'; characters\n"
             "other than letters, digits, '.', '-' and '_' in the name become '_').\n"
             "--repeat N runs the model N times and prints the median latency (and min, p90).\n");
  if (m->n_dims)
    fprintf(f,
            "'%s' is a run-time length: each call runs at the length its input files hold\n"
            "(1 to %lld, the same in every input of the call).\n",
            m->dims[len_dim(m)].name, (long long)m->dims[len_dim(m)].max);
  if (m->n_dims > 1 && m->batch_dim >= 0)
    fprintf(f,
            "'%s' is a run-time batch: axis 0 of the files (1 to %lld, the same in every\n"
            "input of the call).\n",
            m->dims[m->batch_dim].name, (long long)m->dims[m->batch_dim].max);
  if (m->n_states)
    fprintf(f, "The model keeps a state from call to call: give k sets of inputs for k calls in\n"
               "sequence from the initial state; call t writes DIR/<output name>.<t>.npy.\n");
}

static int64_t tensor_numel(const krt_tensor_info *t) {
  int64_t n = 1;
  for (int k = 0; k < t->rank; k++) n *= t->dims[k];
  return n;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* One call; a model with states updates the state buffer (the latency runs continue the
 * sequence: their outputs are not written). */
static int call(const krt_model *m, const void *const *in, void *const *out, void *ws, void *state,
                int64_t len, int64_t batch) {
  if (m->n_dims) { /* a run-time length (and batch): the call's, from its input files */
    int64_t dims[2];
    dims[len_dim(m)] = len ? len : m->dims[len_dim(m)].max;
    if (m->n_dims > 1) dims[m->batch_dim] = batch ? batch : m->dims[m->batch_dim].max;
    return m->n_states ? m->run_state_dims(dims, in, out, ws, state, m->state_size)
                       : m->run_dims(dims, in, out, ws);
  }
  return m->n_states ? m->run_state(in, out, ws, state, m->state_size) : m->run(in, out, ws);
}

/* DIR/<stem>.npy, or DIR/<stem>.<t>.npy for call t of several (stems: krt_npy_file_stem). */
static int write_outputs(const krt_model *m, const char *argv0, const char *outdir, int t,
                         int steps, void *const *out_ptrs, int quiet, int64_t len, int64_t batch) {
  char err[512];
  for (uint32_t j = 0; j < m->n_outputs; j++) {
    krt_tensor_info shown = m->outputs[j], *o = &shown;
    int64_t dims[KRT_NPY_MAX_RANK];
    if (m->n_dims && o->rank <= KRT_NPY_MAX_RANK) {
      memcpy(dims, o->dims, sizeof *dims * (size_t)o->rank); /* the call's leading rows */
      if (len && m->output_dyn_axis[j] >= 0) dims[m->output_dyn_axis[j]] = len;
      if (batch && batch_of(m, m->n_inputs + j)) dims[0] *= batch;
      o->dims = dims;
    }
    char path[4096], stem[512];
    const char **names = malloc(sizeof *names * (m->n_outputs + 1));
    if (!names) abort();
    for (uint32_t q = 0; q < m->n_outputs; q++) names[q] = m->outputs[q].name;
    krt_npy_file_stem(names, (int)m->n_outputs, (int)j, stem, sizeof stem);
    free(names);
    int n = steps > 1 ? snprintf(path, sizeof path, "%s/%s.%d.npy", outdir, stem, t)
                      : snprintf(path, sizeof path, "%s/%s.npy", outdir, stem);
    if (n >= (int)sizeof path) {
      fprintf(stderr, "%s: output path too long\n", argv0);
      return 0;
    }
    if (!krt_npy_write(path, o->dtype, o->rank, o->dims, out_ptrs[j], err, sizeof err)) {
      fprintf(stderr, "%s: %s\n", argv0, err);
      return 0;
    }
    if (!quiet) krt_print_summary(stdout, o->name, o->dtype, o->rank, o->dims, out_ptrs[j]);
  }
  return 1;
}

/* Creates the output folder (and its missing parents) before the model runs, so that a bad -o
 * fails at once instead of after a long --repeat. */
static int make_outdir(const char *prog, const char *dir) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
    fprintf(stderr, "%s: -o: path too long\n", prog);
    return 0;
  }
  for (char *p = path + 1;; p++) {
    if (*p != '/' && *p) continue;
    char c = *p;
    *p = 0;
    struct stat st;
    if (stat(path, &st) != 0 && (errno != ENOENT || mkdir(path, 0777) != 0)) {
      fprintf(stderr, "%s: -o %s: cannot create '%s': %s\n", prog, dir, path, strerror(errno));
      return 0;
    }
    if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
      fprintf(stderr, "%s: -o %s: '%s' is not a folder\n", prog, dir, path);
      return 0;
    }
    *p = c;
    if (!c) return 1;
  }
}

int main(int argc, char **argv) {
  const krt_model *m = kiln_driver_model;
  const char *outdir = ".";
  long repeat = 0;
  int quiet = 0;
  const char **paths = calloc((size_t)argc + 1, sizeof *paths);
  int n_paths = 0;
  if (!paths) return 2;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout, m, argv[0]);
      free(paths);
      return 0;
    } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
      outdir = argv[++i];
    } else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
      char *end;
      repeat = strtol(argv[++i], &end, 10);
      if (*end || repeat < 1 || repeat > 100000000) {
        fprintf(stderr, "%s: --repeat: expected a positive integer, got '%s'\n", argv[0], argv[i]);
        free(paths);
        return 2;
      }
    } else if (!strcmp(argv[i], "--quiet")) {
      quiet = 1;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "%s: unknown option '%s'\n", argv[0], argv[i]);
      usage(stderr, m, argv[0]);
      free(paths);
      return 2;
    } else {
      paths[n_paths++] = argv[i];
    }
  }
  /* with states, k sets of inputs are k calls in sequence */
  int steps = m->n_inputs ? n_paths / (int)m->n_inputs : 1;
  if (m->n_states ? (m->n_inputs ? n_paths % (int)m->n_inputs || steps < 1 : n_paths != 0)
                  : (uint32_t)n_paths != m->n_inputs) {
    fprintf(stderr, "%s: model '%s' takes %u input(s)%s, got %d\n", argv[0], m->name, m->n_inputs,
            m->n_states ? " per call" : "", n_paths);
    usage(stderr, m, argv[0]);
    free(paths);
    return 2;
  }
  if (!make_outdir(argv[0], outdir)) {
    free(paths);
    return 1;
  }
  int status = 1;
  krt_npy *ins = calloc((size_t)n_paths + 1, sizeof *ins);
  void **in_ptrs = calloc((size_t)n_paths + 1, sizeof *in_ptrs);
  void **out_ptrs = calloc(m->n_outputs + 1, sizeof *out_ptrs);
  int64_t *lens = calloc((size_t)steps + 1, sizeof *lens);       /* run-time length per call */
  int64_t *batches = calloc((size_t)steps + 1, sizeof *batches); /* and batch */
  void *ws = NULL, *state = NULL;
  double *times = NULL;
  char err[512];
  if (!ins || !in_ptrs || !out_ptrs || !lens || !batches) goto done;
  for (int i = 0; i < n_paths; i++) {
    const krt_tensor_info *t = &m->inputs[i % (int)m->n_inputs];
    if (!krt_npy_read(paths[i], &ins[i], err, sizeof err)) {
      fprintf(stderr, "%s: %s\n", argv[0], err);
      goto done;
    }
    int32_t dyn = m->n_dims ? m->input_dyn_axis[i % (int)m->n_inputs] : -1;
    bool batched = batch_of(m, (uint32_t)(i % (int)m->n_inputs));
    if (!krt_npy_check_dims(&ins[i], t->dtype, t->rank, t->dims, dyn,
                            m->n_dims ? m->dims[len_dim(m)].name : "", &lens[i / (int)m->n_inputs],
                            batched, batched ? m->dims[m->batch_dim].name : "",
                            batched ? m->dims[m->batch_dim].max : 1, &batches[i / (int)m->n_inputs],
                            err, sizeof err)) {
      fprintf(stderr, "%s: %s: input '%s': %s\n", argv[0], paths[i], t->name, err);
      goto done;
    }
    in_ptrs[i] = ins[i].data;
  }
  for (uint32_t j = 0; j < m->n_outputs; j++) {
    size_t bytes = (size_t)tensor_numel(&m->outputs[j]) * krt_dtype_size(m->outputs[j].dtype) *
                   (size_t)(batch_of(m, m->n_inputs + j) ? m->dims[m->batch_dim].max : 1);
    out_ptrs[j] = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    if (!out_ptrs[j]) goto done;
  }
  if (m->workspace_size) {
    size_t align = m->workspace_align > 64 ? m->workspace_align : 64;
    ws = aligned_alloc(align, (m->workspace_size + align - 1) / align * align);
    if (!ws) {
      fprintf(stderr, "%s: cannot allocate %llu bytes of workspace\n", argv[0],
              (unsigned long long)m->workspace_size);
      goto done;
    }
  }
  if (m->n_states) {
    size_t align = m->state_align > 64 ? m->state_align : 64;
    state = aligned_alloc(align, (m->state_size + align - 1) / align * align);
    int rc = state ? m->reset(state, m->state_size) : KRT_ERR_NULL_ARG;
    if (rc != KRT_OK) {
      fprintf(stderr, "%s: cannot initialize the state (%llu bytes): %s\n", argv[0],
              (unsigned long long)m->state_size, krt_strerror(rc));
      goto done;
    }
  }
  for (int t = 0; t < steps; t++) {
    int rc = call(m, (const void *const *)in_ptrs + (size_t)t * m->n_inputs, out_ptrs, ws, state,
                  lens[t], batches[t]);
    if (rc != KRT_OK) {
      fprintf(stderr, "%s: model '%s' returned %d: %s\n", argv[0], m->name, rc, krt_strerror(rc));
      goto done;
    }
    if (!write_outputs(m, argv[0], outdir, t, steps, out_ptrs, quiet, lens[t], batches[t]))
      goto done;
  }
  if (&kiln_profile_count && kiln_profile_count > 0) {
    profile_cap = repeat < 1 ? 1 : repeat < PROFILE_MAX_RUNS ? repeat : PROFILE_MAX_RUNS;
    profile_samples = calloc((size_t)(profile_cap * kiln_profile_count), sizeof *profile_samples);
    if (!profile_samples) goto done;
  }
  if (repeat > 0) {
    times = malloc(sizeof *times * (size_t)repeat);
    if (!times) goto done;
    for (long r = 0; r < repeat; r++) {
      double t0 = now_seconds();
      call(m, (const void *const *)in_ptrs, out_ptrs, ws, state, lens[0], batches[0]);
      times[r] = now_seconds() - t0;
    }
    qsort(times, (size_t)repeat, sizeof *times, cmp_double);
    printf("latency: median %.3f us, min %.3f us over %ld runs, p90 %.3f us\n",
           times[repeat / 2] * 1e6, times[0] * 1e6, repeat, times[repeat * 9 / 10] * 1e6);
  }
  if (profile_samples) {
    if (repeat == 0)
      call(m, (const void *const *)in_ptrs, out_ptrs, ws, state, lens[0], batches[0]);
    profile_report();
  }
  status = 0;
done:
  for (int i = 0; ins && i < n_paths; i++) krt_npy_free(&ins[i]);
  for (uint32_t j = 0; out_ptrs && j < m->n_outputs; j++) free(out_ptrs[j]);
  free(ins);
  free(in_ptrs);
  free(out_ptrs);
  free(lens);
  free(batches);
  free(ws);
  free(state);
  free(times);
  free(paths);
  free(profile_samples);
  return status;
}
