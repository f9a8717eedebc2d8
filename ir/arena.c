/* Bump allocator: one arena per graph, freed in one call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

#define ARENA_ALIGN 64u
#define ARENA_CHUNK (1u << 16)

typedef struct Chunk {
  struct Chunk *next;
  size_t size, used;
  _Alignas(64) unsigned char data[];
} Chunk;

struct IrArena {
  Chunk *head;
  size_t total;
};

IrArena *ir_arena_new(void) {
  IrArena *a = calloc(1, sizeof *a);
  if (!a) abort();
  return a;
}

void ir_arena_free(IrArena *a) {
  if (!a) return;
  for (Chunk *c = a->head, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  free(a);
}

void *ir_arena_alloc(IrArena *a, size_t size) {
  size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (need < size) abort();
  Chunk *c = a->head;
  if (!c || c->size - c->used < need) {
    size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;
    c = aligned_alloc(ARENA_ALIGN,
                      (sizeof(Chunk) + cap + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1));
    if (!c) {
      fprintf(stderr, "kiln: out of memory (%zu bytes)\n", need);
      abort();
    }
    c->size = cap;
    c->used = 0;
    /* Keep the partly used chunk at the head when a big block gets its own chunk. */
    if (a->head && need > ARENA_CHUNK) {
      c->next = a->head->next;
      a->head->next = c;
    } else {
      c->next = a->head;
      a->head = c;
    }
    a->total += cap;
  }
  void *p = c->data + c->used;
  c->used += need;
  memset(p, 0, size);
  return p;
}

char *ir_arena_strndup(IrArena *a, const char *s, size_t n) {
  char *p = ir_arena_alloc(a, n + 1);
  if (n) memcpy(p, s, n); /* s may be NULL when n is 0 (an empty protobuf string) */
  p[n] = 0;
  return p;
}

char *ir_arena_strdup(IrArena *a, const char *s) { return ir_arena_strndup(a, s, strlen(s)); }

size_t ir_arena_bytes(const IrArena *a) { return a->total; }
