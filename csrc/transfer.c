/* One HTTP exchange on a libcurl easy handle. The libcurl callbacks only
 * append to C buffers: nothing here can raise a Lua error. */
#include <stdlib.h>
#include <string.h>

#include "head.h"
#include "transfer.h"
#include "wipe.h"

void ar_request_free(ar_request *r) {
  struct curl_slist *h;
  for (h = r->headers; h; h = h->next) ar_wipe(h->data, strlen(h->data));
  curl_slist_free_all(r->headers);
  ar_wipe(r->strings, r->strings_size);
  free(r->strings);
  memset(r, 0, sizeof *r);
}

static size_t ar_transfer_on_body(char *data, size_t size, size_t nmemb, void *userdata) {
  ar_transfer *t = (ar_transfer *)userdata;
  size_t len = size * nmemb;
  if (t->refused) return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
  if (ar_buf_append(&t->body, data, len) != 0) {
    t->body_overflow = 1;
    return 0;
  }
  return len;
}

static void ar_transfer_refuse(ar_transfer *t, const char *why, int too_large) {
  if (t->refused) return;
  t->refused = why;
  t->refused_too_large = too_large;
  curl_easy_setopt(t->easy, CURLOPT_FORBID_REUSE, 1L);
}

/* The heads so far end with an empty line: parses them, and for a final head
 * applies the framing rules. Returns 0 when the response is refused. */
static int ar_transfer_on_head(ar_transfer *t) {
  const char *why = NULL;
  ar_head_result result = ar_head_parse(t->headers.data, t->headers.len, &t->head, &why);
  if (result != AR_HEAD_OK) {
    ar_transfer_refuse(t, why, result == AR_HEAD_TOO_LARGE);
    return 0;
  }
  if (ar_head_interim(t->head.status)) return 1;
  t->final_head = 1;
  why = ar_framing_of(&t->head, &t->framing);
  if (why) {
    ar_transfer_refuse(t, why, 0);
    return 0;
  }
  if (!t->framing.persist) curl_easy_setopt(t->easy, CURLOPT_FORBID_REUSE, 1L);
  if (t->framing.body == AR_BODY_CHUNKED) ar_chunked_init(&t->chunked);
  return 1;
}

static size_t ar_transfer_on_header(char *data, size_t size, size_t nmemb, void *userdata) {
  ar_transfer *t = (ar_transfer *)userdata;
  size_t len = size * nmemb;
  if (t->final_head) return len; /* a trailer after a chunked body: not part of the head */
  if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) t->head_done = 0; /* the next head after an interim one */
  if (ar_buf_append(&t->headers, data, len) != 0) {
    t->headers_overflow = 1;
    return 0;
  }
  if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
    t->head_done = 1;
    if (!ar_transfer_on_head(t)) return 0;
  }
  return len;
}

/* CURLOPT_DEBUGFUNCTION: a chunked body's raw bytes, before libcurl decodes them. */
static int ar_transfer_on_debug(CURL *easy, curl_infotype type, char *data, size_t size, void *userdata) {
  ar_transfer *t = (ar_transfer *)userdata;
  const char *why;
  (void)easy;
  if (type != CURLINFO_DATA_IN || !t->final_head || t->framing.body != AR_BODY_CHUNKED || t->refused) return 0;
  why = ar_chunked_feed(&t->chunked, data, size);
  if (why) {
    ar_transfer_refuse(t, why, 0);
  } else if (t->chunked.extra) {
    /* Bytes after the response: they must not be read as the next one's. */
    curl_easy_setopt(t->easy, CURLOPT_FORBID_REUSE, 1L);
  }
  return 0;
}

int ar_transfer_init(ar_transfer *t) {
  memset(t, 0, sizeof *t);
  ar_buf_init(&t->body, AR_DEFAULT_BODY_LIMIT);
  ar_buf_init(&t->headers, AR_HEAD_MAX_BYTES);
  t->easy = curl_easy_init();
  return t->easy ? 0 : -1;
}

void ar_transfer_release(ar_transfer *t) {
  if (t->easy) curl_easy_cleanup(t->easy);
  t->easy = NULL;
  ar_request_free(&t->request);
  ar_buf_free(&t->body);
  ar_buf_free(&t->headers);
}

long ar_millis(double seconds) {
  double ms = seconds * 1000.0;
  if (!(ms >= 1.0)) return 1;
  if (ms >= 2147483647.0) return 2147483647L;
  return (long)(ms + 0.999);
}

void ar_transfer_start(ar_transfer *t, ar_request *r, ar_sockets *sockets) {
  CURL *e = t->easy;
  const ar_request *q = &t->request;
  ar_request_free(&t->request);
  t->request = *r;
  memset(r, 0, sizeof *r);

  curl_easy_reset(e); /* keeps the connection cache, forgets the last request */
  ar_buf_clear(&t->body);
  ar_buf_clear(&t->headers);
  /* Only the token endpoint is POSTed to, and its answer is a secret. */
  t->body.wipe = q->post;
  t->body.limit = q->max_body;
  t->body_overflow = t->headers_overflow = t->head_done = t->final_head = 0;
  t->refused = NULL;
  t->refused_too_large = 0;
  t->errbuf[0] = '\0';
  t->rc = CURLE_OK;
  t->status = 0;
  t->micros = 0;

  curl_easy_setopt(e, CURLOPT_URL, q->url);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  /* HTTP/1.1 only: the idle-connection check in sockets.c does not hold for
   * a connection that HTTP/2 shares between transfers. */
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ar_transfer_on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, ar_transfer_on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
  /* A proxy's answer to CONNECT is not the response: only interim heads may
   * come before that (head.h). */
  curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  /* The raw bytes of a chunked body, for its check; nothing else is kept. */
  curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, ar_transfer_on_debug);
  curl_easy_setopt(e, CURLOPT_DEBUGDATA, t);
  curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->headers);
  /* No decoding here: the pipeline asks for gzip and inflates the whole body
   * (core.gunzip), the same way for both transports. */
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ar_millis(q->timeout));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ar_millis(q->connect_timeout));
  /* A server that stalls or trickles is cut off by the low-speed rule. */
  if (q->low_speed_time > 0) {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (ar_millis(q->low_speed_time) + 999) / 1000);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)q->low_speed_limit);
  }
  /* Refuses a declared Content-Length over the cap before any byte arrives. */
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)q->max_body);
  if (q->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, q->ca_file);
  /* An explicit proxy beats the environment, no_proxy included. */
  if (q->proxy) {
    curl_easy_setopt(e, CURLOPT_PROXY, q->proxy);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
  }
  if (q->post) {
    /* Not copied: the request owns the bytes and wipes them when it is freed,
     * so no copy of a token stays in libcurl's memory. */
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body);
  }
  ar_sockets_attach(sockets, e);
}

void ar_transfer_finish(ar_transfer *t, CURLcode rc) {
  t->rc = rc;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
  curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &t->micros);
  /* The request headers hold the Authorization value: drop them now. */
  curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
  curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, (char *)NULL);
  ar_request_free(&t->request);
  /* A response that libcurl took whole but whose head was never seen complete. */
  if (rc == CURLE_OK && !t->final_head && !t->refused)
    ar_transfer_refuse(t, t->head_done ? "no final response head" : "the response head ends inside a line", 0);
  if (ar_transfer_failed(t)) ar_buf_clear(&t->body);
}

int ar_transfer_failed(const ar_transfer *t) {
  return t->rc != CURLE_OK || t->refused != NULL;
}

const ar_head *ar_transfer_head(const ar_transfer *t) {
  return &t->head;
}

/* libcurl's own cap on one header line (100 KiB up to 8.x) fails a transfer
 * as out of memory (CURLE_TOO_LARGE since 8.6), before the head is complete. */
static int ar_transfer_head_too_large(const ar_transfer *t) {
#if LIBCURL_VERSION_NUM >= 0x080600
  if (t->rc == CURLE_TOO_LARGE) return 1;
#endif
  return t->rc == CURLE_OUT_OF_MEMORY && !t->head_done;
}

/* Every code a failed transfer can give; the head parser's two are among them. */
const char *const ar_transfer_codes[] = { "RESPONSE_TOO_LARGE", "TIMEOUT", "CONNECT_FAILED", "TLS_FAILED",
  "NETWORK_ERROR", "BAD_RESPONSE", NULL };
enum { AR_TOO_LARGE, AR_TIMEOUT, AR_CONNECT_FAILED, AR_TLS_FAILED, AR_NETWORK_ERROR, AR_BAD_RESPONSE };

const char *ar_transfer_error_code(const ar_transfer *t) {
  if (t->body_overflow || t->headers_overflow || t->rc == CURLE_FILESIZE_EXCEEDED || ar_transfer_head_too_large(t))
    return ar_transfer_codes[AR_TOO_LARGE];
  if (t->refused) return ar_transfer_codes[t->refused_too_large ? AR_TOO_LARGE : AR_BAD_RESPONSE];
  switch (t->rc) {
    case CURLE_OPERATION_TIMEDOUT: return ar_transfer_codes[AR_TIMEOUT];
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return ar_transfer_codes[AR_CONNECT_FAILED];
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED: return ar_transfer_codes[AR_TLS_FAILED];
    /* Bytes that are not an HTTP/1.x response (libcurl refuses HTTP/0.9). */
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_WEIRD_SERVER_REPLY: return ar_transfer_codes[AR_BAD_RESPONSE];
    default: return ar_transfer_codes[AR_NETWORK_ERROR];
  }
}

const char *ar_transfer_error_message(const ar_transfer *t) {
  if (t->headers_overflow) return "the response head is larger than 256 KiB";
  if (t->refused && !t->body_overflow) return t->refused;
  if (ar_transfer_head_too_large(t)) return "a response header line is larger than libcurl accepts";
  return t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->rc);
}

void ar_transfer_recycle(ar_transfer *t) {
  ar_buf_clear(&t->body);
  ar_buf_clear(&t->headers);
  /* Large bodies should not stay pinned between requests. */
  if (t->body.cap > 4 * 1024 * 1024) ar_buf_free(&t->body);
}
