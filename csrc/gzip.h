/* Sans-IO gzip decoding of a whole body (RFC 1952), for both transports. */
#ifndef AR_GZIP_H
#define AR_GZIP_H

#include <stddef.h>

typedef enum { AR_GZIP_OK, AR_GZIP_BAD, AR_GZIP_TOO_LARGE, AR_GZIP_NO_MEMORY } ar_gzip_status;

/* The size the body's trailer promises (ISIZE), or (size_t)-1 when `len` is too short to be gzip. */
size_t ar_gzip_promised_size(const unsigned char *in, size_t len);

/* Inflates one gzip member into out[0..out_len), which must be exactly the promised size:
 * the CRC-32 and ISIZE are checked, and bytes after the member are refused. */
ar_gzip_status ar_gzip_inflate(const unsigned char *in, size_t len, unsigned char *out, size_t out_len);

#endif
