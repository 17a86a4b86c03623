/* One HTTP exchange on a libcurl easy handle, in plain C: the request as C
 * data, the options applied from it, the callbacks that collect the answer
 * into C buffers, and the outcome. No Lua here: the multi handle (lmulti.c,
 * with lcurl.c) reads requests from Lua before a transfer starts and sets its
 * results after libcurl returns.
 *
 * The module's framing rules (framing.h) hold where libcurl 7.88 is lenient:
 * the head is parsed as its empty line comes, and a head or framing that the
 * rules refuse stops the transfer; a chunked body is checked as its raw bytes
 * arrive (libcurl's debug callback sees them before it decodes them); a
 * connection that must not persist is not re-used (CURLOPT_FORBID_REUSE, set
 * before the transfer ends). */
#ifndef AR_TRANSFER_H
#define AR_TRANSFER_H

#include <stddef.h>

#include <curl/curl.h>

#include "buf.h"
#include "framing.h"
#include "head.h"
#include "sockets.h"

#define AR_DEFAULT_BODY_LIMIT (64 * 1024 * 1024)

typedef struct ar_request {
  char *strings; /* one block for url, body, ca_file and proxy; wiped when freed */
  size_t strings_size;
  const char *url, *body, *ca_file, *proxy; /* into strings; NULL when absent */
  size_t body_len;
  int post;                   /* else GET */
  struct curl_slist *headers; /* "Name: value" lines; wiped when freed (one is Authorization) */
  double timeout, connect_timeout, low_speed_time, low_speed_limit; /* seconds; bytes per second */
  size_t max_body;                                                  /* body bytes as they came (never decoded here) */
} ar_request;

void ar_request_free(ar_request *r);

typedef struct ar_transfer {
  CURL *easy;
  ar_request request; /* owned while the transfer runs */
  ar_buf body, headers;
  int body_overflow, headers_overflow;
  int head_done;  /* the empty line after the last head came */
  int final_head; /* head holds the final head (headers no longer grows) */
  ar_head head;   /* pointers into headers */
  ar_framing framing;
  ar_chunked chunked;  /* when framing.body is AR_BODY_CHUNKED */
  const char *refused; /* why the module refused the response, or NULL */
  int refused_too_large;
  char errbuf[CURL_ERROR_SIZE];
  CURLcode rc; /* the outcome, once finished */
  long status;
  curl_off_t micros;
  long id;                  /* in a multi handle: the id add() returned */
  struct ar_transfer *next; /* in a multi handle: the list it is on */
} ar_transfer;

/* Returns 0, or -1 when libcurl gives no easy handle. */
int ar_transfer_init(ar_transfer *t);
void ar_transfer_release(ar_transfer *t);
/* Takes *r over (it is left empty) and sets the easy handle up for it, its
 * connections reporting to `sockets`. */
void ar_transfer_start(ar_transfer *t, ar_request *r, ar_sockets *sockets);
/* Records the outcome and forgets the request and its secrets. */
void ar_transfer_finish(ar_transfer *t, CURLcode rc);
/* Once finished: whether it failed (libcurl's error, or the module refused the response). */
int ar_transfer_failed(const ar_transfer *t);
/* Once finished without failure: the final head. */
const ar_head *ar_transfer_head(const ar_transfer *t);
/* After a failed transfer: a stable code ("TIMEOUT", "RESPONSE_TOO_LARGE"...) and a message. */
/* NULL-terminated: every code ar_transfer_error_code (or the head parser) gives. */
extern const char *const ar_transfer_codes[];
const char *ar_transfer_error_code(const ar_transfer *t);
const char *ar_transfer_error_message(const ar_transfer *t);
/* Once the results are out: empties the buffers, and frees large ones. */
void ar_transfer_recycle(ar_transfer *t);
/* Seconds to whole milliseconds for libcurl: rounded up, at least 1, at most 2^31 - 1. */
long ar_millis(double seconds);

#endif
