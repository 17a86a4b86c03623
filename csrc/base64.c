/* Base64 for Basic credentials and for the scrubber's encoded forms of secrets:
 * linear, so that a large value costs milliseconds, not seconds. */
#include "base64.h"

static const char ar_base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t ar_base64_size(size_t len) {
  return (len + 2) / 3 * 4;
}

void ar_base64_encode(const unsigned char *in, size_t len, char *out) {
  size_t i;
  for (i = 0; i + 2 < len; i += 3) {
    unsigned long n = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8) | in[i + 2];
    *out++ = ar_base64_alphabet[(n >> 18) & 63];
    *out++ = ar_base64_alphabet[(n >> 12) & 63];
    *out++ = ar_base64_alphabet[(n >> 6) & 63];
    *out++ = ar_base64_alphabet[n & 63];
  }
  if (i < len) {
    unsigned long n = (unsigned long)in[i] << 16;
    if (i + 1 < len) n |= (unsigned long)in[i + 1] << 8;
    *out++ = ar_base64_alphabet[(n >> 18) & 63];
    *out++ = ar_base64_alphabet[(n >> 12) & 63];
    *out++ = i + 1 < len ? ar_base64_alphabet[(n >> 6) & 63] : '=';
    *out++ = '=';
  }
}
