/* The sockets of one connection cache, and the check of a re-used one. */
#define _POSIX_C_SOURCE 200809L /* fcntl, poll, socketpair, getpeername */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockets.h"

#if LIBCURL_VERSION_NUM < 0x075000
#error "libcurl 7.80 or later is needed (CURLOPT_PREREQFUNCTION)"
#endif

int ar_sockets_init(ar_sockets *s) {
  int pair[2];
  s->items = NULL;
  s->count = s->cap = 0;
  s->dead = -1;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return -1;
  close(pair[1]);
  fcntl(pair[0], F_SETFD, FD_CLOEXEC);
  s->dead = pair[0];
  return 0;
}

void ar_sockets_free(ar_sockets *s) {
  if (s->dead >= 0) close(s->dead);
  s->dead = -1;
  free(s->items);
  s->items = NULL;
  s->count = s->cap = 0;
}

static ar_socket *ar_sockets_find(ar_sockets *s, curl_socket_t fd) {
  size_t i;
  for (i = 0; i < s->count; i++)
    if (s->items[i].fd == fd) return &s->items[i];
  return NULL;
}

/* CURLOPT_SOCKOPTFUNCTION: libcurl made a socket for a connection. */
static int ar_sockets_on_open(void *clientp, curl_socket_t fd, curlsocktype purpose) {
  ar_sockets *s = (ar_sockets *)clientp;
  ar_socket *sock = ar_sockets_find(s, fd);
  (void)purpose;
  if (!sock) {
    if (s->count == s->cap) {
      size_t cap = s->cap ? 2 * s->cap : 8;
      ar_socket *grown = (ar_socket *)realloc(s->items, cap * sizeof *grown);
      if (!grown) return CURL_SOCKOPT_ERROR; /* libcurl gives up on this connection */
      s->items = grown;
      s->cap = cap;
    }
    sock = &s->items[s->count++];
    sock->fd = fd;
  }
  sock->served = 0;
  return CURL_SOCKOPT_OK;
}

/* CURLOPT_CLOSESOCKETFUNCTION: the connection is gone. */
static int ar_sockets_on_close(void *clientp, curl_socket_t fd) {
  ar_sockets *s = (ar_sockets *)clientp;
  ar_socket *sock = ar_sockets_find(s, fd);
  if (sock) *sock = s->items[--s->count];
  return close(fd);
}

/* Whether the local (peer = 0) or remote end of fd is ip:port. */
static int ar_socket_is(curl_socket_t fd, int peer, const char *ip, int port) {
  struct sockaddr_storage ss;
  socklen_t n = sizeof ss;
  char text[INET6_ADDRSTRLEN];
  const void *addr;
  int at;
  if ((peer ? getpeername(fd, (struct sockaddr *)&ss, &n) : getsockname(fd, (struct sockaddr *)&ss, &n)) != 0) return 0;
  if (ss.ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
    addr = &in->sin_addr;
    at = ntohs(in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
    addr = &in6->sin6_addr;
    at = ntohs(in6->sin6_port);
  } else {
    return 0;
  }
  return at == port && inet_ntop(ss.ss_family, addr, text, sizeof text) && strcmp(text, ip) == 0;
}

/* Readable while no request is out on it: stray bytes, or the peer's end. */
static int ar_socket_readable(curl_socket_t fd) {
  struct pollfd p;
  p.fd = fd;
  p.events = POLLIN;
  p.revents = 0;
  return poll(&p, 1, 0) > 0;
}

/* CURLOPT_PREREQFUNCTION: a connection is about to carry a request. */
static int ar_sockets_on_prereq(void *clientp, char *primary_ip, char *local_ip, int primary_port, int local_port) {
  ar_sockets *s = (ar_sockets *)clientp;
  size_t i;
  for (i = 0; i < s->count; i++) {
    ar_socket *sock = &s->items[i];
    if (!ar_socket_is(sock->fd, 0, local_ip, local_port) || !ar_socket_is(sock->fd, 1, primary_ip, primary_port))
      continue;
    if (sock->served && ar_socket_readable(sock->fd))
      while (dup2(s->dead, sock->fd) < 0 && errno == EINTR) {}
    sock->served = 1;
    break;
  }
  return CURL_PREREQFUNC_OK;
}

void ar_sockets_attach(ar_sockets *s, CURL *easy) {
  curl_easy_setopt(easy, CURLOPT_SOCKOPTFUNCTION, ar_sockets_on_open);
  curl_easy_setopt(easy, CURLOPT_SOCKOPTDATA, s);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, ar_sockets_on_close);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, s);
  curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, ar_sockets_on_prereq);
  curl_easy_setopt(easy, CURLOPT_PREREQDATA, s);
}
