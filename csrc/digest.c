/* The Digest `response` computation, shared by every transport. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "digest.h"
#include "md5.h"

/* MD5 of the given strings joined by ':' without building the joined string. */
static void ar_digest_hash(char hex[33], const char *const *parts, int count) {
  static const char digits[] = "0123456789abcdef";
  unsigned char raw[16];
  ar_md5 ctx;
  int i;
  ar_md5_init(&ctx);
  for (i = 0; i < count; i++) {
    if (i > 0) ar_md5_update(&ctx, ":", 1);
    ar_md5_update(&ctx, parts[i], strlen(parts[i]));
  }
  ar_md5_final(&ctx, raw);
  for (i = 0; i < 16; i++) {
    hex[2 * i] = digits[raw[i] >> 4];
    hex[2 * i + 1] = digits[raw[i] & 15];
  }
  hex[32] = '\0';
}

const char *ar_digest_response(const ar_digest_input *in, char response[33]) {
  char ha1[33], ha2[33], nc[9];
  int sess;
  if (!in->username || !in->password || !in->realm || !in->nonce || !in->method || !in->uri)
    return "username, password, realm, nonce, method and uri are required";
  if (in->algorithm && strcasecmp(in->algorithm, "MD5") != 0 && strcasecmp(in->algorithm, "MD5-sess") != 0)
    return "unsupported algorithm (only MD5 and MD5-sess)";
  if (in->qop && strcmp(in->qop, "auth") != 0)
    return "unsupported qop (only auth)";
  sess = in->algorithm && strcasecmp(in->algorithm, "MD5-sess") == 0;
  if ((in->qop || sess) && !in->cnonce)
    return "cnonce is required with qop or MD5-sess";
  {
    const char *parts[3];
    parts[0] = in->username; parts[1] = in->realm; parts[2] = in->password;
    ar_digest_hash(ha1, parts, 3);
  }
  if (sess) {
    const char *parts[3];
    parts[0] = ha1; parts[1] = in->nonce; parts[2] = in->cnonce;
    ar_digest_hash(ha1, parts, 3);
  }
  {
    const char *parts[2];
    parts[0] = in->method; parts[1] = in->uri;
    ar_digest_hash(ha2, parts, 2);
  }
  if (in->qop) {
    const char *parts[6];
    snprintf(nc, sizeof nc, "%08lx", in->nc & 0xffffffffUL);
    parts[0] = ha1; parts[1] = in->nonce; parts[2] = nc;
    parts[3] = in->cnonce; parts[4] = in->qop; parts[5] = ha2;
    ar_digest_hash(response, parts, 6);
  } else {
    const char *parts[3];
    parts[0] = ha1; parts[1] = in->nonce; parts[2] = ha2;
    ar_digest_hash(response, parts, 3);
  }
  return NULL;
}
