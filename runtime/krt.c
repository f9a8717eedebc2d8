/* The part of the runtime that model objects and their callers link against. Freestanding. */
#include "krt.h"

const char *krt_strerror(int code) {
  switch (code) {
  case KRT_OK: return "ok";
  case KRT_ERR_NULL_ARG: return "an input, output or workspace pointer is NULL";
  case KRT_ERR_BAD_ALIGNMENT: return "the workspace is not suitably aligned";
  case KRT_ERR_INDEX_RANGE: return "an index input is out of range";
  case KRT_ERR_DIV_ZERO: return "an integer division by zero";
  case KRT_ERR_DIM_RANGE: return "a run-time dimension is outside [1, its maximum]";
  case KRT_ERR_STATE_SIZE: return "the state buffer is too small";
  default: return "unknown error";
  }
}
