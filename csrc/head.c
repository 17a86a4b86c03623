/* Sans-IO HTTP/1.x response head parser (RFC 9112 sections 4 and 5). */
#include <string.h>

#include "head.h"

int ar_head_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, SP and HTAB: what a field value or a reason phrase may hold
 * (no CTL, so neither CR, LF nor NUL; obs-text is allowed). */
int ar_head_ctl(unsigned char c) {
  return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int ar_head_text(const char *p, const char *end) {
  for (; p < end; p++)
    if (ar_head_ctl((unsigned char)*p)) return 0;
  return 1;
}

static int ar_head_digit(char c) {
  return c >= '0' && c <= '9';
}

/* status-line = HTTP-version SP 3DIGIT [SP reason-phrase]. HTTP-version is
 * "HTTP/" DIGIT "." DIGIT, or "HTTP/" DIGIT as libcurl writes HTTP/2 and 3;
 * *version is 10 * major + minor. */
static int ar_head_status_line(const char *p, const char *end, int *version) {
  int status;
  if (end - p < 5 || memcmp(p, "HTTP/", 5) != 0) return 0;
  p += 5;
  if (p == end || !ar_head_digit(*p)) return 0;
  *version = 10 * (*p - '0');
  p++;
  if (p < end && *p == '.') {
    if (end - p < 2 || !ar_head_digit(p[1])) return 0;
    *version += p[1] - '0';
    p += 2;
  }
  if (end - p < 4 || *p != ' ' || !ar_head_digit(p[1]) || !ar_head_digit(p[2]) || !ar_head_digit(p[3])) return 0;
  status = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
  if (status < 100) return 0;
  p += 4;
  if (p < end && *p != ' ') return 0;
  return ar_head_text(p, end) ? status : 0;
}

int ar_head_interim(int status) {
  return status >= 100 && status < 200 && status != 101;
}

static void ar_head_trim(const char **p, const char **end) {
  while (*p < *end && (**p == ' ' || **p == '\t')) (*p)++;
  while (*end > *p && ((*end)[-1] == ' ' || (*end)[-1] == '\t')) (*end)--;
}

static ar_head_result ar_head_fail(const char **why, ar_head_result result, const char *message) {
  *why = message;
  return result;
}

ar_head_result ar_head_parse(const char *data, size_t len, ar_head *head, const char **why) {
  const char *p = data, *end = data + len;
  int in_head = 0; /* a status line was read, its empty line not yet */
  head->status = 0;
  head->version = 0;
  head->count = 0;
  if (len > AR_HEAD_MAX_BYTES) return ar_head_fail(why, AR_HEAD_TOO_LARGE, "the response head is larger than 256 KiB");
  if (len == 0) return ar_head_fail(why, AR_HEAD_MALFORMED, "the response head is empty");
  while (p < end) {
    const char *eol = (const char *)memchr(p, '\n', (size_t)(end - p));
    const char *line_end;
    if (!eol) return ar_head_fail(why, AR_HEAD_MALFORMED, "the response head ends inside a line");
    line_end = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
    if (!in_head) {
      /* Only an interim (1xx) response may come before another one. */
      if (head->status && !ar_head_interim(head->status))
        return ar_head_fail(why, AR_HEAD_MALFORMED, "a response head after a final one");
      head->status = ar_head_status_line(p, line_end, &head->version);
      if (!head->status) return ar_head_fail(why, AR_HEAD_MALFORMED, "malformed status line");
      head->count = 0;
      in_head = 1;
    } else if (line_end == p) {
      in_head = 0; /* this head is complete; another may follow */
    } else if (*p == ' ' || *p == '\t') {
      ar_head_field *f = head->count ? &head->fields[head->count - 1] : NULL;
      const char *v = p, *v_end = line_end;
      if (!f) return ar_head_fail(why, AR_HEAD_MALFORMED, "a continuation line before any field");
      if (!ar_head_text(v, v_end)) return ar_head_fail(why, AR_HEAD_MALFORMED, "a control character in a field value");
      ar_head_trim(&v, &v_end);
      if (v < v_end) {
        if (f->value_len == 0) {
          f->value = v;
        } else {
          f->folded = 1;
        }
        f->value_len = (size_t)(v_end - f->value);
      }
    } else {
      const char *name = p, *v, *v_end = line_end;
      ar_head_field *f;
      while (p < line_end && ar_head_tchar((unsigned char)*p)) p++;
      if (p == name || p == line_end || *p != ':') return ar_head_fail(why, AR_HEAD_MALFORMED, "malformed field line");
      v = p + 1;
      if (!ar_head_text(v, v_end)) return ar_head_fail(why, AR_HEAD_MALFORMED, "a control character in a field value");
      if (head->count == AR_HEAD_MAX_FIELDS)
        return ar_head_fail(why, AR_HEAD_TOO_LARGE, "the response has more than 256 header fields");
      ar_head_trim(&v, &v_end);
      f = &head->fields[head->count++];
      f->name = name;
      f->name_len = (size_t)(p - name);
      f->value = v;
      f->value_len = (size_t)(v_end - v);
      f->folded = 0;
    }
    p = eol + 1;
  }
  return AR_HEAD_OK;
}
