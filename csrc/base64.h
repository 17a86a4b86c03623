/* Standard base64 (RFC 4648, with padding). Plain C, linear. */
#ifndef AR_BASE64_H
#define AR_BASE64_H

#include <stddef.h>

/* The encoded length of `len` bytes, without a terminator. */
size_t ar_base64_size(size_t len);
/* Writes ar_base64_size(len) bytes to `out`. */
void ar_base64_encode(const unsigned char *in, size_t len, char *out);

#endif
