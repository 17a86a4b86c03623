/* Sans-IO WWW-Authenticate tokenizer (RFC 9110 11). */
#include <string.h>

#include "challenge.h"
#include "head.h"

static const char *ar_auth_ows(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  return p;
}

static size_t ar_auth_token(const char *p, const char *end) {
  const char *q = p;
  while (q < end && ar_head_tchar((unsigned char)*q)) q++;
  return (size_t)(q - p);
}

/* token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int ar_auth_token68_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && strchr("-._~+/", c) != NULL);
}

static ar_auth_kind ar_auth_fail(ar_auth_parser *ps, const char *at, const char *message) {
  ps->p = at;
  ps->error = message;
  return AR_AUTH_ERROR;
}

/* auth-param at ps->p. */
static ar_auth_kind ar_auth_param(ar_auth_parser *ps, ar_auth_item *item) {
  const char *p = ps->p, *end = ps->end;
  size_t n = ar_auth_token(p, end);
  item->name = p;
  item->name_len = n;
  p = ar_auth_ows(p + n, end);
  if (n == 0 || p == end || *p != '=') return ar_auth_fail(ps, p, "expected a parameter (name=value)");
  p = ar_auth_ows(p + 1, end);
  if (p < end && *p == '"') {
    const char *start = ++p;
    for (;;) {
      unsigned char c;
      if (p == end) return ar_auth_fail(ps, p, "a quoted-string without its closing quote");
      c = (unsigned char)*p;
      if (c == '"') break;
      if (c == '\\') {
        if (++p == end) return ar_auth_fail(ps, p, "a quoted-string without its closing quote");
        c = (unsigned char)*p;
      }
      if (ar_head_ctl(c)) return ar_auth_fail(ps, p, "a control character (such as CR, LF or NUL) in a quoted-string");
      p++;
    }
    item->value = start;
    item->value_len = (size_t)(p - start);
    item->quoted = 1;
    p++;
  } else {
    n = ar_auth_token(p, end);
    if (n == 0) return ar_auth_fail(ps, p, "expected a token or a quoted-string");
    item->value = p;
    item->value_len = n;
    item->quoted = 0;
    p += n;
  }
  ps->p = p;
  return AR_AUTH_PARAM;
}

/* Right after "scheme SP": a token68 when it is all the challenge holds, else a parameter. */
static ar_auth_kind ar_auth_token68_or_param(ar_auth_parser *ps, ar_auth_item *item) {
  const char *q = ps->p, *end = ps->end, *after;
  while (q < end && ar_auth_token68_char((unsigned char)*q)) q++;
  if (q > ps->p) {
    while (q < end && *q == '=') q++;
    after = ar_auth_ows(q, end);
    if (after == end || *after == ',') {
      item->name = ps->p;
      item->name_len = (size_t)(q - ps->p);
      ps->p = after;
      return AR_AUTH_TOKEN68;
    }
  }
  return ar_auth_param(ps, item);
}

void ar_auth_init(ar_auth_parser *ps, const char *s, size_t len) {
  ps->start = ps->p = s;
  ps->end = s + len;
  ps->in_challenge = ps->after_scheme = 0;
  ps->error = NULL;
}

ar_auth_kind ar_auth_next(ar_auth_parser *ps, ar_auth_item *item) {
  const char *p = ps->p, *end = ps->end, *after;
  int comma = 0;
  size_t n;
  memset(item, 0, sizeof *item);
  if (ps->after_scheme) {
    ps->after_scheme = 0;
    return ar_auth_token68_or_param(ps, item);
  }
  for (;; p++) { /* list separators: empty elements are allowed (RFC 9110 5.6.1) */
    p = ar_auth_ows(p, end);
    if (p == end || *p != ',') break;
    comma = 1;
  }
  ps->p = p;
  if (p == end) return AR_AUTH_END;
  if (ps->in_challenge && !comma) return ar_auth_fail(ps, p, "expected a comma");
  n = ar_auth_token(p, end);
  if (n == 0) return ar_auth_fail(ps, p, "expected an auth-scheme");
  after = ar_auth_ows(p + n, end);
  if (ps->in_challenge && after < end && *after == '=') return ar_auth_param(ps, item);
  if (after < end && *after != ',' && after == p + n)
    return ar_auth_fail(ps, after, "expected a space after the auth-scheme");
  item->name = p;
  item->name_len = n;
  ps->in_challenge = 1;
  ps->after_scheme = after < end && *after != ',';
  ps->p = after;
  return AR_AUTH_SCHEME;
}

size_t ar_auth_offset(const ar_auth_parser *ps) {
  return (size_t)(ps->p - ps->start);
}

size_t ar_auth_unquote(const char *raw, size_t len, char *out) {
  size_t i, n = 0;
  for (i = 0; i < len; i++) {
    if (raw[i] == '\\' && i + 1 < len) i++;
    out[n++] = raw[i];
  }
  return n;
}
