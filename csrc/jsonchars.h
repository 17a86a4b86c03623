/* The byte classes that the JSON decoder and encoder share: runs of plain
 * string bytes and well-formed UTF-8 sequences. Inline, as both loops are hot. */
#ifndef AR_JSONCHARS_H
#define AR_JSONCHARS_H

#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

/* Byte classes inside strings: 0 plain ASCII, 1 '"', 2 '\\', 3 control, 4 non-ASCII. */
static const unsigned char ar_json_strclass[256] = { 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4 };

/* Skips plain string bytes (class 0): sixteen at a time with SSE2 (every
 * x86-64 has it), else eight at a time. A block is plain when it has no '"',
 * no '\\', no byte < 0x20 and none >= 0x80. */
static inline const unsigned char *ar_json_skip_plain(const unsigned char *q, const unsigned char *end) {
#if defined(__SSE2__) && defined(__GNUC__)
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);

  while (end - q >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
    /* Signed: bytes >= 0x80 are negative, so "less than 0x20" catches them too. */
    __m128i stop =
      _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)), _mm_cmplt_epi8(x, space));
    int mask = _mm_movemask_epi8(stop);
    if (mask) return q + __builtin_ctz((unsigned)mask);
    q += 16;
  }
#else
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
#endif
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
