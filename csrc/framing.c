/* Sans-IO response framing (RFC 9112 sections 6, 7 and 9.3); see framing.h. */
#include <string.h>

#include "framing.h"

static int ar_framing_lower(int c) {
  return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Whether s[0..len) is `word` (lower case) in any case. */
static int ar_framing_is(const char *s, size_t len, const char *word) {
  size_t i;
  if (strlen(word) != len) return 0;
  for (i = 0; i < len; i++)
    if (ar_framing_lower((unsigned char)s[i]) != word[i]) return 0;
  return 1;
}

/* The next element of a comma-separated list (RFC 9110 5.6.1), without the
 * whitespace around it; empty elements are skipped. Returns 0 at the end. */
static int ar_framing_element(const char **p, const char *end, const char **item, size_t *len) {
  while (*p < end) {
    const char *start = *p, *stop;
    const char *comma = (const char *)memchr(start, ',', (size_t)(end - start));
    stop = comma ? comma : end;
    *p = comma ? comma + 1 : end;
    while (start < stop && (*start == ' ' || *start == '\t')) start++;
    while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t')) stop--;
    if (stop > start) {
      *item = start;
      *len = (size_t)(stop - start);
      return 1;
    }
  }
  return 0;
}

/* Digits only, below 2^62: NULL and *n, or why not. */
static const char *ar_framing_length(const char *s, size_t len, uint64_t *n) {
  size_t i;
  *n = 0;
  for (i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return "a Content-Length that is not a number";
    *n = *n * 10 + (uint64_t)(s[i] - '0');
    if (*n >= ((uint64_t)1 << 62)) return "a Content-Length too large to be true";
  }
  return NULL;
}

const char *ar_framing_of(const ar_head *head, ar_framing *f) {
  size_t i;
  int chunked = 0, codings = 0, has_length = 0, close = 0, keep_alive = 0;
  uint64_t length = 0;
  for (i = 0; i < head->count; i++) {
    const ar_head_field *field = &head->fields[i];
    const char *p = field->value, *end = field->value + field->value_len, *item;
    size_t len;
    if (ar_framing_is(field->name, field->name_len, "transfer-encoding")) {
      while (ar_framing_element(&p, end, &item, &len)) {
        codings++;
        chunked = ar_framing_is(item, len, "chunked");
      }
      if (codings == 0) return "an empty Transfer-Encoding";
    } else if (ar_framing_is(field->name, field->name_len, "content-length")) {
      int any = 0;
      while (ar_framing_element(&p, end, &item, &len)) {
        uint64_t n;
        const char *why = ar_framing_length(item, len, &n);
        if (why) return why;
        if (has_length && n != length) return "Content-Length values that disagree";
        length = n;
        has_length = any = 1;
      }
      if (!any) return "an empty Content-Length";
    } else if (ar_framing_is(field->name, field->name_len, "connection")) {
      while (ar_framing_element(&p, end, &item, &len)) {
        if (ar_framing_is(item, len, "close")) close = 1;
        if (ar_framing_is(item, len, "keep-alive")) keep_alive = 1;
      }
    }
  }
  f->length = 0;
  f->persist = !close && (head->version >= 11 || keep_alive);
  if (ar_head_interim(head->status) || head->status == 204 || head->status == 304) {
    f->body = AR_BODY_NONE;
  } else if (codings) {
    if (codings != 1 || !chunked) return "a Transfer-Encoding other than chunked (none other was asked for)";
    f->body = AR_BODY_CHUNKED;
    /* Both framings, or chunked in HTTP/1.0, smell of smuggling (RFC 9112 6.1, 6.3). */
    if (has_length || head->version < 11) f->persist = 0;
  } else if (has_length) {
    f->body = AR_BODY_LENGTH;
    f->length = length;
  } else {
    f->body = AR_BODY_CLOSE;
    f->persist = 0;
  }
  return NULL;
}

static int ar_framing_hex(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = ar_framing_lower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static const char *ar_framing_ows(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  return p;
}

static const char *ar_framing_token(const char *p, const char *end) {
  while (p < end && ar_head_tchar((unsigned char)*p)) p++;
  return p;
}

/* quoted-string (RFC 9110 5.6.4) from its opening quote: past its closing one, or NULL. */
static const char *ar_framing_quoted(const char *p, const char *end) {
  for (p++; p < end; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '"') return p + 1;
    if (c == '\\') {
      if (++p == end) return NULL;
      c = (unsigned char)*p;
    }
    if (ar_head_ctl(c)) return NULL;
  }
  return NULL;
}

const char *ar_chunk_size(const char *line, size_t len, uint64_t *size) {
  const char *p = line, *end = line + len;
  int digits = 0;
  *size = 0;
  for (; p < end && ar_framing_hex((unsigned char)*p) >= 0; p++) {
    if (++digits > AR_CHUNK_SIZE_DIGITS) return "a chunk size of more than 16 hexadecimal digits";
    *size = (*size << 4) | (uint64_t)ar_framing_hex((unsigned char)*p);
  }
  if (digits == 0) return "a chunk size that is not hexadecimal";
  if (*size >> 63) return "a chunk size too large to be true";
  for (;;) {
    const char *name;
    p = ar_framing_ows(p, end);
    if (p == end) return NULL;
    if (*p != ';') return "a chunk size followed by something that is not a chunk extension";
    p = ar_framing_ows(p + 1, end);
    name = p;
    p = ar_framing_token(p, end);
    if (p == name) return "a chunk extension without a name";
    p = ar_framing_ows(p, end);
    if (p < end && *p == '=') {
      const char *value;
      p = ar_framing_ows(p + 1, end);
      value = p;
      p = p < end && *p == '"' ? ar_framing_quoted(p, end) : ar_framing_token(p, end);
      if (!p || p == value) return "a chunk extension with a malformed value";
    }
  }
}

void ar_chunked_init(ar_chunked *c) {
  c->state = AR_CHUNKED_SIZE;
  c->left = 0;
  c->trailers = 0;
  c->extra = 0;
  c->line_len = 0;
}

/* A complete line (its LF not included, a CR before it dropped): NULL, or why not. */
static const char *ar_chunked_line(ar_chunked *c) {
  size_t len = c->line_len;
  if (len > 0 && c->line[len - 1] == '\r') len--;
  c->line_len = 0;
  if (c->state == AR_CHUNKED_SIZE) {
    const char *why = ar_chunk_size(c->line, len, &c->left);
    if (why) return why;
    c->state = c->left ? AR_CHUNKED_DATA : AR_CHUNKED_TRAILER;
  } else if (len == 0) {
    c->state = AR_CHUNKED_DONE;
  } else if (++c->trailers > AR_CHUNK_TRAILERS) {
    return "more trailer lines than allowed";
  }
  return NULL;
}

const char *ar_chunked_feed(ar_chunked *c, const char *data, size_t len) {
  const char *p = data, *end = data + len;
  while (p < end) {
    switch (c->state) {
      case AR_CHUNKED_DATA: {
        size_t n = (uint64_t)(end - p) < c->left ? (size_t)(end - p) : (size_t)c->left;
        p += n;
        c->left -= n;
        if (c->left == 0) c->state = AR_CHUNKED_DATA_END;
        break;
      }
      case AR_CHUNKED_DATA_END:
        /* CRLF or a bare LF after the data; the CR once at most. */
        if (*p == '\r' && c->line_len == 0) {
          c->line_len = 1;
        } else if (*p == '\n') {
          c->line_len = 0;
          c->state = AR_CHUNKED_SIZE;
        } else {
          return "a chunk not followed by its line end";
        }
        p++;
        break;
      case AR_CHUNKED_DONE: c->extra = 1; return NULL;
      default: { /* a chunk-size or trailer line */
        const char *eol = (const char *)memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((eol ? eol : end) - p);
        const char *why;
        if (n > AR_CHUNK_LINE_MAX - c->line_len) return "a chunk-size or trailer line longer than 4096 bytes";
        memcpy(c->line + c->line_len, p, n);
        c->line_len += n;
        p += n;
        if (!eol) break;
        p++;
        why = ar_chunked_line(c);
        if (why) return why;
      }
    }
  }
  return NULL;
}
