/* Frontend internals shared by fe_json.c (document walk), fe_weights.c (initializer payloads,
 * f16, weight files) and fe_base64.c. Not part of the frontend's public interface (fe.h). */
#ifndef KILN_FE_INTERNAL_H
#define KILN_FE_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fe.h"
#include "ir.h"

/* Limits of the format (docs/model-format.md). */
#define FE_MAX_NAME 256                      /* bytes of a value or node name */
#define FE_MAX_LIST_ATTR 64                  /* entries of an ints/floats attribute */
#define FE_MAX_JSON_DEPTH 64                 /* nesting of arrays/objects in the file */
#define FE_MAX_FILE_BYTES ((int64_t)2 << 30) /* model JSON or ONNX file size: 2 GiB */
#define FE_MAX_EXACT_INT 9007199254740992.0  /* 2^53: JSON integers beyond are inexact */
#define FE_WHERE 768                         /* buffer size of a JSON path */

/* A model file (JSON or ONNX, fe_file.c) read whole into a NUL-terminated malloc'd buffer: a
 * regular file of at most FE_MAX_FILE_BYTES, read to its end even if it grows, never past the
 * limit; `what` and `hint` complete the over-the-limit message. NULL, reported to d, on error. */
char *fe_read_model_file(const char *path, const char *what, const char *hint, size_t *len,
                         IrDiag *d);
/* The folder of a model file (relative external data resolve against it) and its name without
 * the extension ext; both malloc'd. */
/* The same checks, but the file is mapped (private, read-only; *mapped) when it is not empty;
 * an empty file gives a malloc'd buffer (*mapped false). NULL after reporting. */
void *fe_map_model_file(const char *path, const char *what, const char *hint, size_t *len,
                        bool *mapped, IrDiag *d);
/* fe_parse_onnx of a buffer that is a private file mapping when `mapped`: initializer payloads
 * are then used in place (aligned) or copied once with the file's pages dropped; the caller
 * keeps the mapping while the graph lives. */
IrGraph *fe_parse_onnx_mapped(const void *data, size_t len, bool mapped, const char *base_dir,
                              const char *default_name, const FeOptions *o, IrDiag *d);
void fe_split_model_path(const char *path, const char *ext, char **dir, char **name);

typedef struct FeMap FeMap; /* one mapped weight file (fe_weights.c) */

/* State of one load. */
typedef struct Fe {
  IrDiag *d;
  IrGraph *g;
  const char *base_dir; /* directory external weight paths are relative to */
  FeMap *maps;          /* weight files mapped during this load (arena-allocated) */
  FeOptions opt;        /* limits and weights folders, defaults filled in */
  int64_t weight_bytes; /* initializer bytes so far */
  /* Some declaration could not claim its value name (a missing section, an entry without a
   * valid name): "value 'x' is not defined" errors are then suppressed as likely cascades. */
  bool incomplete;
  int n_undefined; /* node inputs naming undefined values */
} Fe;

/* ---- helpers shared by the frontend files (fe_json.c) ---------------------------------- */
/* Symbolic dimension `name` of a graph input: its maximum from --max-dim (FeOptions.max_dims)
 * into *max; false (reported at where)
 * if no --max-dim names it or the maximum is not an integer in [1, IR_MAX_DIM]. */
bool fe_max_dim(Fe *fe, const char *name, const char *where, int64_t *max);
/* Whether --max-dim names `name`. */
bool fe_has_max_dim(const Fe *fe, const char *name);
/* After the graph inputs: every --max-dim item is NAME=N with 1 <= N, names a run-time dim of the
 * inputs, once; else reported at --max-dim. */
bool fe_check_max_dims(Fe *fe);
/* Records axis of v as the graph's run-time dim `name` (reported at where if it cannot be). */
void fe_mark_dyn(Fe *fe, IrValue *v, int axis, const char *name, int64_t max, const char *where);
/* snprintf for JSON paths: silently truncated if longer than the buffer (messages are cut at
 * 1 KiB by the diagnostics anyway). */
void fe_path(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "string", "number", "array", ... for "expected X, got Y" messages. */
const char *fe_json_type_name(const cJSON *item);
/* Copies s for display in a message: at most 64 bytes (cut at a UTF-8 boundary, "..."
 * appended), control characters replaced by '?'. Returns buf. */
const char *fe_disp(char *buf, size_t size, const char *s);
/* Shortest "%g" text that reads back as x. */
const char *fe_fmt_num(char *buf, size_t size, double x);
/* "[1,3,224,224]" */
const char *fe_fmt_shape(char *buf, size_t size, int rank, const int64_t *dims);
/* An integral JSON number within [lo, hi] and within +-2^53 (the integers a JSON number
 * represents exactly). Reports at `where` and returns false otherwise; `what` names the
 * quantity in range messages ("dimension must be at least 1, got 0"). */
bool fe_get_int(Fe *fe, const cJSON *item, const char *where, const char *what, int64_t lo,
                int64_t hi, int64_t *out);

/* ---- fe_weights.c --------------------------------------------------------------------- */
/* Reads the payload of an initializer (exactly one of data/base64/external, given as the
 * items found in its object, NULL where absent) into v->data. `where` is the initializer's
 * path, e.g. "initializers[2] (fc1.bias)". v's dtype and shape are set and their byte size
 * fits in int64. */
bool fe_initializer_payload(Fe *fe, IrValue *v, const char *where, const cJSON *data,
                            const cJSON *b64, const cJSON *external);
/* IEEE binary16 bits of x, rounded to nearest-even; *overflow set if |x| rounds to infinity
 * (|x| >= 65520). NaN is not expected (JSON has none) and maps to a quiet NaN. */
/* `len` bytes at `off` of the external weight file `rel` (relative to fe->base_dir), resolved
 * with symlinks followed and confined to the model's folder or a --weights-dir folder, mapped
 * once per load; *out is 16-byte aligned (copied when the offset is not). len < 0: only check
 * and map the file (its other errors were reported). Errors about the file go to `where`, about
 * the range to `range_where`. */
/* Drops the whole pages of [p, p + n) from memory: they are read again from the file if touched.
 * Only for private read-only file mappings (an anonymous page would read back as zeros). */
void fe_release_pages(const void *p, size_t n);
bool fe_external_bytes(Fe *fe, const char *where, const char *range_where, const char *rel,
                       int64_t off, int64_t len, const uint8_t **out);
uint16_t fe_f16_from_double(double x, bool *overflow);
double fe_f16_to_double(uint16_t h);

/* ---- fe_base64.c ---------------------------------------------------------------------- */
/* Strict RFC 4648 base64 (standard alphabet, '=' padding, length a multiple of 4, zero unused
 * bits, no whitespace). On success sets *decoded_len; on failure writes a message naming the
 * character offset into msg and returns false. */
bool fe_base64_check(const char *s, size_t n, size_t *decoded_len, char *msg, size_t msg_size);
/* Decodes a string that fe_base64_check accepted into out (decoded_len bytes). */
void fe_base64_decode(const char *s, size_t n, uint8_t *out);

#endif
