/* Strict base64 (RFC 4648 section 4: standard alphabet, '=' padding) for initializer payloads.
 * Anything a canonical encoder would not produce is rejected with the offending offset. */
#include <stdio.h>

#include "fe_internal.h"

/* 0..63 for alphabet characters, -1 otherwise. */
static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

static void describe_char(char *buf, size_t size, unsigned char c) {
  if (c >= 0x21 && c < 0x7f)
    snprintf(buf, size, "'%c'", c);
  else if (c == ' ')
    snprintf(buf, size, "a space");
  else if (c == '\n' || c == '\r' || c == '\t')
    snprintf(buf, size, "whitespace (0x%02x)", c);
  else
    snprintf(buf, size, "byte 0x%02x", c);
}

bool fe_base64_check(const char *s, size_t n, size_t *decoded_len, char *msg, size_t msg_size) {
  const unsigned char *u = (const unsigned char *)s;
  char what[32];
  /* Padding: only as the last one or two characters of the text. */
  size_t pad = 0;
  if (n >= 1 && u[n - 1] == '=') pad = (n >= 2 && u[n - 2] == '=') ? 2 : 1;
  for (size_t i = 0; i < n - pad; i++) {
    if (b64_value(u[i]) >= 0) continue;
    if (u[i] == '=') {
      snprintf(msg, msg_size,
               "invalid base64: padding '=' at offset %zu is not at the end of the text", i);
    } else {
      describe_char(what, sizeof what, u[i]);
      snprintf(msg, msg_size,
               "invalid base64: %s at offset %zu is not in the base64 alphabet "
               "(A-Z, a-z, 0-9, '+', '/'; no whitespace)",
               what, i);
    }
    return false;
  }
  if (n % 4 != 0) {
    snprintf(msg, msg_size,
             "invalid base64: length %zu is not a multiple of 4 (missing '=' padding?)", n);
    return false;
  }
  if (n > 0 && pad > 0) {
    /* The unused low bits of the last data character must be zero (canonical encoding). */
    size_t last = n - pad - 1;
    int v = b64_value(u[last]);
    int mask = pad == 2 ? 0x0f : 0x03;
    if (v & mask) {
      snprintf(msg, msg_size,
               "invalid base64: character '%c' at offset %zu has non-zero unused bits "
               "(not a canonical encoding)",
               u[last], last);
      return false;
    }
  }
  *decoded_len = n / 4 * 3 - pad;
  return true;
}

void fe_base64_decode(const char *s, size_t n, uint8_t *out) {
  const unsigned char *u = (const unsigned char *)s;
  size_t o = 0;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    uint32_t v = 0;
    int chars = 0;
    for (int k = 0; k < 4; k++) {
      if (u[i + k] == '=') break;
      v |= (uint32_t)b64_value(u[i + k]) << (18 - 6 * k);
      chars++;
    }
    out[o++] = (uint8_t)(v >> 16);
    if (chars > 2) out[o++] = (uint8_t)(v >> 8);
    if (chars > 3) out[o++] = (uint8_t)v;
  }
}
