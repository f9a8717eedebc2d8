/* main() of executables made by `kiln build --generate`: token generation with a decoder whose
 * KV cache (and position) are model states. The model takes one token id per call (its only
 * input: i32/i64 with one element) and returns logits (its first f32 output, the last axis is
 * the vocabulary); its states carry everything else from call to call. A model with a run-time
 * length (`--max-dim seq=N`) takes seq tokens per call ([1, seq]), optionally their positions as
 * a second input of the same shape, and returns one logits row per token: the prompt is then
 * fed in one call (prefill; in calls of N tokens when longer), each new token in a call of
 * length 1 (--no-prefill: the prompt too, one token per call).
 *   EXE PROMPT [-n N] [--top-k K] [--top-p P] [--temperature T] [--seed S] [--stop ID] [-o F]
 * PROMPT is a .npy file of token ids (any integer dtype, any shape, read flat) or a list such as
 * 1,5,7. The prompt is fed (see above), then N tokens are
 * sampled: greedy by default (argmax, the lowest id on ties), or from the top-k / top-p
 * (nucleus) set at a temperature, with a seeded generator. Generation stops after N tokens, at
 * the stop token (printed) or when the model reports an error (e.g. the context is full: an
 * index out of range). Prints the generated ids on one line, then tokens/s on stderr; -o writes
 * them as an i64 .npy. Tokenization is the caller's: ids in, ids out.
 * Encoder-decoder (`kiln build --generate --encoder E`): PROMPT is the source, run once through
 * the encoder E (one integer input of exactly that many ids); each encoder output is then passed,
 * by pointer and unchanged, to the decoder step's input of the same name at every call (e.g. the
 * cross-attention keys and values of every layer). The decoder starts from --start ID. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "krt.h"
#include "krt_npy.h"

extern const krt_model *const kiln_driver_model;
/* defined by the encoder's object in an encoder-decoder generator (the strong definition wins) */
__attribute__((weak)) const krt_model *kiln_driver_encoder = NULL; /* not const: never folded */

typedef struct {
  long n;
  long top_k;
  double top_p, temperature;
  unsigned long long seed;
  long long stop, start;
  bool has_stop, has_start;
  const char *out;
  bool no_prefill;
} Options;

static int usage(FILE *f, const char *argv0) {
  fprintf(f,
          "usage: %s PROMPT [-n N] [--top-k K] [--top-p P] [--temperature T] [--seed S]\n"
          "       [--stop ID] [-o ids.npy] [--no-prefill] [--start ID]\n\n"
          "PROMPT: token ids as a .npy file or a list (1,5,7). Greedy unless --top-k/--top-p;\n"
          "-n tokens to generate (default 32); --seed for sampling (default 0).\n"
          "--no-prefill: feed the prompt one token per call (a model with a run-time length\n"
          "otherwise takes it in one call).\n"
          "Encoder-decoder generator: PROMPT is the source (run once through the encoder),\n"
          "--start ID the decoder's first token (e.g. BOS).\n",
          argv0);
  return 2;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool parse_long(const char *s, long long *v) {
  char *end;
  errno = 0;
  *v = strtoll(s, &end, 10);
  return *s && !*end && !errno;
}

static bool parse_double(const char *s, double *v) {
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return *s && !*end && !errno && isfinite(*v);
}

/* splitmix64: small, seeded, the same on every platform */
static double next_uniform(unsigned long long *s) {
  unsigned long long z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

/* how the generator fills a decoder input that no encoder output feeds */
enum { FEED_TOKEN = -1, FEED_POSITION = -2 };

/* A stateless model's input 0, outputs and workspace (the encoder's). */
typedef struct {
  void *in, **outs, *ws;
} Buffers;

static size_t tensor_bytes(const krt_tensor_info *t) {
  size_t n = krt_dtype_size(t->dtype);
  for (int r = 0; r < t->rank; r++) n *= (size_t)t->dims[r];
  return n;
}

static bool alloc_buffers(const krt_model *m, Buffers *b) {
  size_t align = m->workspace_align > 64 ? m->workspace_align : 64;
  b->in = malloc(tensor_bytes(&m->inputs[0]) + 8);
  b->outs = calloc(m->n_outputs + 1, sizeof *b->outs);
  b->ws = m->workspace_size ? aligned_alloc(align, (m->workspace_size + align - 1) / align * align)
                            : NULL;
  if (!b->in || !b->outs || (m->workspace_size && !b->ws)) return false;
  for (uint32_t j = 0; j < m->n_outputs; j++)
    if (!(b->outs[j] = malloc(tensor_bytes(&m->outputs[j]) + 8))) return false;
  return true;
}

static void free_buffers(const krt_model *m, Buffers *b) {
  for (uint32_t j = 0; b->outs && j < m->n_outputs; j++) free(b->outs[j]);
  free(b->outs);
  free(b->in);
  free(b->ws);
}

static const float *sort_logits;
static int by_logit_desc(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  if (sort_logits[x] != sort_logits[y]) return sort_logits[x] < sort_logits[y] ? 1 : -1;
  return (x > y) - (x < y);
}

/* Greedy: the first maximum. Else: softmax at the temperature over the top-k ids, cut to the
 * smallest prefix whose probability reaches top_p, and a draw from it. */
static long pick(const float *logits, long vocab, const Options *o, unsigned long long *rng,
                 long *order, double *prob) {
  if (o->top_k == 0 && o->top_p >= 1.0) {
    long best = 0;
    for (long i = 1; i < vocab; i++)
      if (logits[i] > logits[best]) best = i;
    return best;
  }
  for (long i = 0; i < vocab; i++) order[i] = i;
  sort_logits = logits;
  qsort(order, (size_t)vocab, sizeof *order, by_logit_desc);
  long k = o->top_k > 0 && o->top_k < vocab ? o->top_k : vocab;
  double sum = 0;
  for (long i = 0; i < k; i++)
    sum += prob[i] = exp(((double)logits[order[i]] - logits[order[0]]) / o->temperature);
  double acc = 0;
  long keep = k;
  for (long i = 0; i < k; i++) {
    acc += prob[i] / sum;
    if (acc >= o->top_p) {
      keep = i + 1;
      break;
    }
  }
  double total = 0;
  for (long i = 0; i < keep; i++) total += prob[i];
  double u = next_uniform(rng) * total;
  for (long i = 0; i < keep; i++) {
    if (u < prob[i]) return order[i];
    u -= prob[i];
  }
  return order[keep - 1];
}

/* The prompt's ids from a .npy file or a comma-separated list. */
static long long *read_prompt(const char *arg, long *count, char *err, size_t size) {
  size_t len = strlen(arg);
  if (len > 4 && !strcmp(arg + len - 4, ".npy")) {
    krt_npy a;
    if (!krt_npy_read(arg, &a, err, size)) return NULL;
    long n = 1;
    for (int r = 0; r < a.rank; r++) n *= (long)a.dims[r];
    long long *ids = malloc(sizeof *ids * (size_t)(n + 1));
    bool ok = ids != NULL;
    for (long i = 0; ok && i < n; i++) switch (a.dtype) {
      case KRT_I64: ids[i] = ((const int64_t *)a.data)[i]; break;
      case KRT_I32: ids[i] = ((const int32_t *)a.data)[i]; break;
      case KRT_I16: ids[i] = ((const int16_t *)a.data)[i]; break;
      case KRT_U8: ids[i] = ((const uint8_t *)a.data)[i]; break;
      case KRT_I8: ids[i] = ((const int8_t *)a.data)[i]; break;
      default:
        snprintf(err, size, "%s: token ids must be integers, the file holds %s", arg,
                 krt_dtype_name(a.dtype));
        ok = false;
      }
    krt_npy_free(&a);
    if (!ok) {
      free(ids);
      return NULL;
    }
    *count = n;
    return ids;
  }
  long long *ids = malloc(sizeof *ids * (len + 1));
  long n = 0;
  char *copy = malloc(len + 1);
  if (!ids || !copy) abort();
  memcpy(copy, arg, len + 1);
  for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
    if (!parse_long(tok, &ids[n])) {
      snprintf(err, size, "prompt: '%s' is not a token id (give a .npy file or ids like 1,5,7)",
               tok);
      free(ids);
      free(copy);
      return NULL;
    }
    n++;
  }
  free(copy);
  *count = n;
  return ids;
}

int main(int argc, char **argv) {
  const krt_model *m = kiln_driver_model;
  Options o = {.n = 32, .top_p = 1.0, .temperature = 1.0};
  const char *prompt_arg = NULL;
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    long long x;
    double f;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      usage(stdout, argv[0]);
      return 0;
    } else if (!strcmp(s, "-n") || !strcmp(s, "--top-k") || !strcmp(s, "--seed") ||
               !strcmp(s, "--stop") || !strcmp(s, "--start")) {
      if (!v || !parse_long(v, &x)) {
        fprintf(stderr, "%s: %s: expected an integer, got '%s'\n", argv[0], s, v ? v : "");
        return 2;
      }
      i++;
      if (!strcmp(s, "-n")) {
        if (x <= 0 || x > 100000000) {
          fprintf(stderr, "%s: -n: the number of tokens must be positive, got %lld\n", argv[0], x);
          return 2;
        }
        o.n = (long)x;
      } else if (!strcmp(s, "--top-k")) {
        if (x < 1) {
          fprintf(stderr, "%s: --top-k: expected at least 1, got %lld\n", argv[0], x);
          return 2;
        }
        o.top_k = (long)x;
      } else if (!strcmp(s, "--seed")) {
        o.seed = (unsigned long long)x;
      } else if (!strcmp(s, "--start")) {
        o.start = x;
        o.has_start = true;
      } else {
        o.stop = x;
        o.has_stop = true;
      }
    } else if (!strcmp(s, "--top-p") || !strcmp(s, "--temperature")) {
      if (!v || !parse_double(v, &f)) {
        fprintf(stderr, "%s: %s: expected a number, got '%s'\n", argv[0], s, v ? v : "");
        return 2;
      }
      i++;
      if (!strcmp(s, "--top-p") && !(f > 0 && f <= 1)) {
        fprintf(stderr, "%s: --top-p: expected a probability in (0, 1], got %g\n", argv[0], f);
        return 2;
      }
      if (!strcmp(s, "--temperature") && !(f > 0)) {
        fprintf(stderr, "%s: --temperature: expected a positive number, got %g\n", argv[0], f);
        return 2;
      }
      if (!strcmp(s, "--top-p"))
        o.top_p = f;
      else
        o.temperature = f;
    } else if (!strcmp(s, "--no-prefill")) {
      o.no_prefill = true;
    } else if (!strcmp(s, "-o") && v) {
      o.out = v;
      i++;
    } else if (s[0] == '-' && s[1] && !(s[1] >= '0' && s[1] <= '9')) {
      fprintf(stderr, "%s: unknown option '%s'\n", argv[0], s);
      return usage(stderr, argv[0]);
    } else if (!prompt_arg) {
      prompt_arg = s;
    } else {
      fprintf(stderr, "%s: one prompt only, got '%s' too\n", argv[0], s);
      return 2;
    }
  }
  if (!prompt_arg) return usage(stderr, argv[0]);
  /* the model's contract: integer tokens in (one per call, or [1, seq] with a run-time length,
   * then optionally their positions), logits out (a row per token), states; with an encoder,
   * also the encoder's outputs in (feed[i] >= 0: input i is encoder output feed[i]) */
  const krt_model *enc = kiln_driver_encoder;
  bool seq = m->n_dims > 0;
  long max_len = seq ? (long)m->dims[0].max : 1;
  int *feed = calloc(m->n_inputs + 1, sizeof *feed);
  if (!feed) abort();
  uint32_t n_fed = 0; /* inputs the encoder feeds */
  bool tin_ok = !enc || (!seq && enc->n_inputs == 1 && !enc->n_states && enc->run);
  for (uint32_t i = 0; i < m->n_inputs; i++) {
    const krt_tensor_info *t = &m->inputs[i];
    feed[i] = seq && i == 1 ? FEED_POSITION : FEED_TOKEN;
    for (uint32_t j = 0; enc && j < enc->n_outputs; j++)
      if (!strcmp(enc->outputs[j].name, t->name)) {
        const krt_tensor_info *e = &enc->outputs[j];
        bool same = e->dtype == t->dtype && e->rank == t->rank;
        for (int r = 0; same && r < t->rank; r++) same = e->dims[r] == t->dims[r];
        tin_ok &= same;
        feed[i] = (int)j;
        n_fed++;
      }
    if (feed[i] >= 0) continue;
    long numel = 1;
    for (int r = 0; r < t->rank; r++) numel *= (long)t->dims[r];
    tin_ok &= (t->dtype == KRT_I64 || t->dtype == KRT_I32) && numel == max_len &&
              (!seq || m->input_dyn_axis[i] >= 0);
  }
  uint32_t n_tok = m->n_inputs - n_fed;
  tin_ok &= n_tok == 1 || (seq && n_tok == 2);
  if (enc) tin_ok &= n_fed == enc->n_outputs; /* every encoder output feeds one input */
  const krt_tensor_info *tout = NULL;
  int logits_at = -1;
  for (uint32_t j = 0; j < m->n_outputs && !tout; j++)
    if (m->outputs[j].dtype == KRT_F32) tout = &m->outputs[j], logits_at = (int)j;
  if (!tin_ok || !tout || !m->n_states || (seq && m->output_dyn_axis[logits_at] < 0)) {
    if (enc)
      fprintf(stderr,
              "%s: encoder '%s' and decoder '%s' do not fit: the encoder takes one integer input "
              "(no states) and each of its outputs feeds the decoder input of the same name, "
              "dtype and shape; the decoder's one other input is a token\n",
              argv[0], enc->name, m->name);
    else
      fprintf(stderr,
              "%s: model '%s' is not a decoder step: --generate needs one integer input of one "
              "token (or [1, seq] and their positions), an f32 logits output and states (the KV "
              "cache)\n",
              argv[0], m->name);
    free(feed);
    return 1;
  }
  long vocab = tout->rank ? (long)tout->dims[tout->rank - 1] : 1;
  long out_numel = 1;
  for (int r = 0; r < tout->rank; r++) out_numel *= (long)tout->dims[r];
  long row = out_numel / max_len; /* logits elements per token; the last vocab of a row */
  char err[600];
  long n_prompt = 0;
  long long *prompt = read_prompt(prompt_arg, &n_prompt, err, sizeof err);
  if (!prompt) {
    fprintf(stderr, "%s: %s\n", argv[0], err);
    free(feed);
    return 2;
  }
  if (n_prompt < 1) {
    fprintf(stderr, "%s: the prompt is empty\n", argv[0]);
    free(prompt);
    free(feed);
    return 2;
  }
  long n_source = 0; /* with an encoder: the prompt is its source; the decoder starts at --start */
  long long *source = NULL;
  if (enc || o.has_start) {
    long src_numel = 1;
    for (int r = 0; enc && r < enc->inputs[0].rank; r++) src_numel *= (long)enc->inputs[0].dims[r];
    const char *bad = !enc ? "--start is for an encoder-decoder generator (kiln build --encoder)"
                      : !o.has_start ? "an encoder-decoder generator needs --start ID (the "
                                       "decoder's first token, e.g. BOS)"
                                     : NULL;
    if (!bad && n_prompt != src_numel) {
      fprintf(stderr, "%s: the source has %ld token(s), the encoder '%s' takes exactly %ld\n",
              argv[0], n_prompt, enc->name, src_numel);
      bad = "";
    }
    if (!bad && (o.start < 0 || o.start >= vocab)) {
      fprintf(stderr, "%s: --start %lld is not a token id of this model (0 to %ld)\n", argv[0],
              o.start, vocab - 1);
      bad = "";
    }
    if (bad) {
      if (*bad) fprintf(stderr, "%s: %s\n", argv[0], bad);
      free(prompt);
      free(feed);
      return 2;
    }
    source = prompt;
    n_source = n_prompt;
    prompt = malloc(sizeof *prompt);
    if (!prompt) abort();
    prompt[0] = o.start;
    n_prompt = 1;
  }
  for (long i = 0; i < n_prompt; i++)
    if (prompt[i] < 0 || prompt[i] >= vocab) {
      fprintf(stderr, "%s: prompt[%ld] = %lld is not a token id of this model (0 to %ld)\n",
              argv[0], i, prompt[i], vocab - 1);
      free(prompt);
      free(source);
      free(feed);
      return 2;
    }
  if (o.has_stop && (o.stop < 0 || o.stop >= vocab)) {
    fprintf(stderr, "%s: --stop %lld is not a token id of this model (0 to %ld)\n", argv[0], o.stop,
            vocab - 1);
    free(prompt);
    free(source);
    free(feed);
    return 2;
  }
  int status = 1;
  size_t ws_align = m->workspace_align > 64 ? m->workspace_align : 64;
  size_t st_align = m->state_align > 64 ? m->state_align : 64;
  void *ws = m->workspace_size
                 ? aligned_alloc(ws_align, (m->workspace_size + ws_align - 1) / ws_align * ws_align)
                 : NULL;
  void *state = aligned_alloc(st_align, (m->state_size + st_align - 1) / st_align * st_align);
  void **outs = calloc(m->n_outputs + 1, sizeof *outs);
  long *order = malloc(sizeof *order * (size_t)vocab);
  double *prob = malloc(sizeof *prob * (size_t)vocab);
  long long *gen = malloc(sizeof *gen * (size_t)o.n);
  void *ids_in[2] = {malloc(sizeof(int64_t) * (size_t)max_len),
                     malloc(sizeof(int64_t) * (size_t)max_len)}; /* tokens, positions */
  const void **in = calloc(m->n_inputs + 1, sizeof *in);
  Buffers eb = {0}; /* the encoder's */
  if (!state || (m->workspace_size && !ws) || !outs || !order || !prob || !gen || !ids_in[0] ||
      !ids_in[1] || !in)
    goto done;
  double t_enc = now_seconds();
  if (enc) {
    if (!alloc_buffers(enc, &eb)) goto done;
    for (long i = 0; i < n_source; i++)
      if (enc->inputs[0].dtype == KRT_I64)
        ((int64_t *)eb.in)[i] = source[i];
      else
        ((int32_t *)eb.in)[i] = (int32_t)source[i];
    const void *src_in[1] = {eb.in};
    int erc = enc->run(src_in, eb.outs, eb.ws);
    if (erc != KRT_OK) {
      fprintf(stderr, "%s: the encoder returned %d: %s%s\n", argv[0], erc, krt_strerror(erc),
              erc == KRT_ERR_INDEX_RANGE ? " (a source id outside its vocabulary?)" : "");
      goto done;
    }
  }
  t_enc = now_seconds() - t_enc;
  for (uint32_t k = 0; k < m->n_inputs; k++)
    in[k] = feed[k] >= 0 ? eb.outs[feed[k]] : ids_in[feed[k] == FEED_POSITION];
  for (uint32_t j = 0; j < m->n_outputs; j++) {
    long n = 1;
    for (int r = 0; r < m->outputs[j].rank; r++) n *= (long)m->outputs[j].dims[r];
    outs[j] = malloc((size_t)n * krt_dtype_size(m->outputs[j].dtype) + 8);
    if (!outs[j]) goto done;
  }
  int rc = m->reset(state, m->state_size);
  const float *logits = NULL; /* the last token's row after each call */
  unsigned long long rng = o.seed;
  long made = 0, fed = 0; /* fed: tokens the state holds, the position of the next */
  double t0 = now_seconds(), t_prefill = t0;
  /* the prompt in calls of up to max_len tokens (one with --no-prefill or a one-token step),
   * then every generated token in a call of its own */
  long chunk = seq && !o.no_prefill ? max_len : 1;
  for (long at = 0; rc == KRT_OK && made < o.n;) {
    bool prompt_part = at < n_prompt;
    long count = prompt_part ? (n_prompt - at < chunk ? n_prompt - at : chunk) : 1;
    for (long i = 0; i < count; i++)
      for (uint32_t k = 0; k < m->n_inputs; k++) {
        if (feed[k] >= 0) continue;
        bool tok = feed[k] == FEED_TOKEN;
        long long v = tok ? (prompt_part ? prompt[at + i] : gen[made - 1]) : fed + i;
        if (m->inputs[k].dtype == KRT_I64)
          ((int64_t *)ids_in[!tok])[i] = v;
        else
          ((int32_t *)ids_in[!tok])[i] = (int32_t)v;
      }
    if (seq) {
      int64_t dims[1] = {count};
      rc = m->run_state_dims(dims, in, outs, ws, state, m->state_size);
    } else {
      rc = m->run_state(in, outs, ws, state, m->state_size);
    }
    if (rc != KRT_OK) break;
    fed += count;
    logits = (const float *)outs[logits_at] +
             (seq ? (count - 1) * row + row - vocab : out_numel - vocab);
    if (prompt_part) {
      at += count;
      if (at < n_prompt) continue;
      t_prefill = now_seconds();
    }
    gen[made++] = pick(logits, vocab, &o, &rng, order, prob);
    if (o.has_stop && gen[made - 1] == o.stop) break;
  }
  double t1 = now_seconds();
  if (rc != KRT_OK)
    fprintf(stderr, "%s: the model returned %d after %ld generated tokens: %s%s\n", argv[0], rc,
            made, krt_strerror(rc),
            rc == KRT_ERR_INDEX_RANGE ? " (the context is probably full)" : "");
  for (long i = 0; i < made; i++) printf("%s%lld", i ? " " : "", gen[i]);
  printf("\n");
  if (enc) fprintf(stderr, "%ld source tokens encoded in %.3f ms, ", n_source, t_enc * 1e3);
  fprintf(stderr, "%ld prompt tokens in %.3f ms, %ld generated in %.3f ms: %.1f tokens/s\n",
          n_prompt, (t_prefill - t0) * 1e3, made, (t1 - t_prefill) * 1e3,
          made > 0 && t1 > t_prefill ? (double)made / (t1 - t_prefill) : 0.0);
  if (o.out) {
    int64_t *ids = malloc(sizeof *ids * (size_t)(made + 1));
    int64_t dims[1] = {made};
    if (!ids) goto done;
    for (long i = 0; i < made; i++) ids[i] = gen[i];
    bool ok = krt_npy_write(o.out, KRT_I64, 1, dims, ids, err, sizeof err);
    free(ids);
    if (!ok) {
      fprintf(stderr, "%s: %s\n", argv[0], err);
      goto done;
    }
  }
  status = rc == KRT_OK ? 0 : 1;
done:
  for (uint32_t j = 0; outs && j < m->n_outputs; j++) free(outs[j]);
  free(outs);
  free(ws);
  free(state);
  free(order);
  free(prob);
  free(gen);
  free(prompt);
  free(ids_in[0]);
  free(ids_in[1]);
  free(in);
  free(feed);
  free(source);
  free_buffers(enc, &eb);
  return status;
}
