/* The byte classes that the JSON decoder and encoder share: runs of plain
 * string bytes and well-formed UTF-8 sequences. Inline, as both loops are hot. */
#ifndef AR_JSONCHARS_H
#define AR_JSONCHARS_H

#include <stdint.h>
#include <string.h>

/* Byte classes inside strings: 0 plain ASCII, 1 '"', 2 '\\', 3 control, 4 non-ASCII. */
static const unsigned char ar_json_strclass[256] = { 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4 };

/* Skips plain string bytes (class 0), eight at a time while possible: a word
 * is plain when it has no '"', no '\\', no byte < 0x20 and none >= 0x80. */
static inline const unsigned char *ar_json_skip_plain(const unsigned char *q, const unsigned char *end) {
  const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);

  while (end - q >= 8) {
    uint64_t x, xq, xb;
    memcpy(&x, q, sizeof x);
    xq = x ^ (ones * '"');
    xb = x ^ (ones * '\\');
    /* Nonzero iff some byte is < 0x20, '"', '\\' or >= 0x80 (classic
     * "has zero byte" / "has byte less than" bit tricks). */
    if ((((x - ones * 0x20) & ~x) | ((xq - ones) & ~xq) | ((xb - ones) & ~xb) | x) & high) break;
    q += 8;
  }
  while (q < end && ar_json_strclass[*q] == 0) q++;
  return q;
}

/* Length of the well-formed UTF-8 sequence at q (Unicode table 3-7: no overlong
 * forms, no surrogates, nothing above U+10FFFF); 0 if ill-formed, -1 if the
 * input ends inside an otherwise valid sequence. */
static inline int ar_json_utf8_len(const unsigned char *q, const unsigned char *end) {
  unsigned c = q[0], lo = 0x80, hi = 0xBF;
  int n, i;

  if (c < 0xC2) return 0;
  if (c < 0xE0) {
    n = 2;
  } else if (c < 0xF0) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F;
  } else if (c < 0xF5) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  for (i = 1; i < n; i++) {
    if (q + i >= end) return -1;
    c = q[i];
    if (c < lo || c > hi) return 0;
    lo = 0x80;
    hi = 0xBF;
  }
  return n;
}

#endif
