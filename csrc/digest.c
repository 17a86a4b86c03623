/* The Digest `response` computation, shared by every transport. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "digest.h"
#include "hash.h"
#include "wipe.h"

/* The algorithms RFC 7616 defines that this module answers (not SHA-512-256). */
static const struct ar_digest_algorithm {
  const char *name;
  int sha256, sess;
} ar_digest_algorithms[] = { { "MD5", 0, 0 }, { "MD5-sess", 0, 1 }, { "SHA-256", 1, 0 }, { "SHA-256-sess", 1, 1 } };

static const struct ar_digest_algorithm *ar_digest_find(const char *name) {
  size_t i;
  if (!name) return &ar_digest_algorithms[0];
  for (i = 0; i < sizeof ar_digest_algorithms / sizeof ar_digest_algorithms[0]; i++)
    if (strcasecmp(name, ar_digest_algorithms[i].name) == 0) return &ar_digest_algorithms[i];
  return NULL;
}

int ar_digest_is_sess(const char *algorithm) {
  const struct ar_digest_algorithm *a = ar_digest_find(algorithm);
  return a && a->sess;
}

/* H(parts joined by ':') in lowercase hex, without building the joined string. */
static void ar_digest_hash(int sha256, char hex[AR_DIGEST_HEX_SIZE], const char *const *parts, int count) {
  static const char digits[] = "0123456789abcdef";
  unsigned char raw[32];
  ar_hash h;
  int i;
  if (sha256)
    ar_sha256_init(&h);
  else
    ar_md5_init(&h);
  for (i = 0; i < count; i++) {
    if (i > 0) ar_hash_update(&h, ":", 1);
    ar_hash_update(&h, parts[i], strlen(parts[i]));
  }
  ar_hash_final(&h, raw);
  for (i = 0; i < 4 * h.words; i++) {
    hex[2 * i] = digits[raw[i] >> 4];
    hex[2 * i + 1] = digits[raw[i] & 15];
  }
  hex[8 * h.words] = '\0';
  /* The context held the password (or HA1), the raw digest a hash of it. */
  ar_wipe(&h, sizeof h);
  ar_wipe(raw, sizeof raw);
}

const char *ar_digest_response(const ar_digest_input *in, char response[AR_DIGEST_HEX_SIZE]) {
  char ha1[AR_DIGEST_HEX_SIZE], ha2[AR_DIGEST_HEX_SIZE], nc[9];
  const struct ar_digest_algorithm *alg;
  if (!in->username || !in->password || !in->realm || !in->nonce || !in->method || !in->uri)
    return "username, password, realm, nonce, method and uri are required";
  alg = ar_digest_find(in->algorithm);
  if (!alg) return "unsupported algorithm (only MD5, MD5-sess, SHA-256 and SHA-256-sess)";
  if (in->qop && strcmp(in->qop, "auth") != 0) return "unsupported qop (only auth)";
  if ((in->qop || alg->sess) && !in->cnonce) return "cnonce is required with qop or a -sess algorithm";
  {
    const char *parts[3];
    parts[0] = in->username;
    parts[1] = in->realm;
    parts[2] = in->password;
    ar_digest_hash(alg->sha256, ha1, parts, 3);
  }
  if (alg->sess) {
    const char *parts[3];
    parts[0] = ha1;
    parts[1] = in->nonce;
    parts[2] = in->cnonce;
    ar_digest_hash(alg->sha256, ha1, parts, 3);
  }
  {
    const char *parts[2];
    parts[0] = in->method;
    parts[1] = in->uri;
    ar_digest_hash(alg->sha256, ha2, parts, 2);
  }
  if (in->qop) {
    const char *parts[6];
    snprintf(nc, sizeof nc, "%08lx", in->nc & 0xffffffffUL);
    parts[0] = ha1;
    parts[1] = in->nonce;
    parts[2] = nc;
    parts[3] = in->cnonce;
    parts[4] = in->qop;
    parts[5] = ha2;
    ar_digest_hash(alg->sha256, response, parts, 6);
  } else {
    const char *parts[3];
    parts[0] = ha1;
    parts[1] = in->nonce;
    parts[2] = ha2;
    ar_digest_hash(alg->sha256, response, parts, 3);
  }
  /* HA1 stands for the password: it must not outlive the answer. */
  ar_wipe(ha1, sizeof ha1);
  ar_wipe(ha2, sizeof ha2);
  return NULL;
}
