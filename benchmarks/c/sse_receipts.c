/* The propagation benchmark's measuring client: many SSE streams read from one epoll.
 *
 * It holds every stream open and notes when each benchmark write reached each of them, so that
 * the Python driver (benchmarks/propagation.py) can time writes against receipts. It is in C
 * because the client shares the machine with the servers it measures: read from Python, 1,000
 * streams cost about 30 ms of CPU per write, taken from the servers' two cores; read from here,
 * a few. Every stream that one epoll_wait reports readable is stamped with the moment that
 * call returned: the moment the client could first know the event had arrived.
 *
 *   sse_receipts KEY STREAMS CONCURRENCY HOST:PORT [HOST:PORT ...]
 *
 * Streams go round-robin to the servers; at most CONCURRENCY bootstrap at once. Once every
 * stream has read its `ready` event, it prints `ready SECONDS` (the time to bootstrap them all).
 * Commands on stdin, one per line: `count` prints `count N` (receipts so far); `stop` prints
 * `receipts N`, then N lines `STREAM WRITE SECONDS` (CLOCK_MONOTONIC, the clock of Python's
 * time.perf_counter on Linux), then `closed N`, and exits.
 *
 * A receipt is the first `"description":"bench-WRITE"` a stream reads after its `ready`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char MARKER[] = "\"description\":\"bench-";
static const char READY[] = "event: ready";
/* Long enough to hold a marker and its number cut in two by a read. */
#define TAIL_BYTES 64
#define READ_BYTES (256 * 1024)
#define MAX_EVENTS 1024

typedef struct {
  int fd;
  int ready;
  size_t tail_len;
  char tail[TAIL_BYTES];
  /* Writes already seen, for the first-receipt rule; the benchmark writes a few dozen times. */
  long long *seen;
  size_t seen_len, seen_cap;
} Stream;

typedef struct {
  uint32_t stream;
  long long write;
  double at;
} Receipt;

static Receipt *receipts;
static size_t receipts_len, receipts_cap;
static char work[TAIL_BYTES + READ_BYTES];

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void *grow(void *array, size_t *cap, size_t item) {
  *cap = *cap ? *cap * 2 : 64;
  void *bigger = realloc(array, *cap * item);
  if (bigger == NULL)
    die("realloc");
  return bigger;
}

static int seen_before(Stream *s, long long write) {
  for (size_t i = 0; i < s->seen_len; i++)
    if (s->seen[i] == write)
      return 1;
  if (s->seen_len == s->seen_cap)
    s->seen = grow(s->seen, &s->seen_cap, sizeof *s->seen);
  s->seen[s->seen_len++] = write;
  return 0;
}

static void record(Stream *s, uint32_t index, long long write, double at) {
  if (seen_before(s, write))
    return;
  if (receipts_len == receipts_cap)
    receipts = grow(receipts, &receipts_cap, sizeof *receipts);
  receipts[receipts_len++] = (Receipt){index, write, at};
}

/* Scans the tail of the previous read plus this read. A marker counts once: when its closing
 * quote is in the new bytes (one that closed in the tail was counted by the previous scan). */
static void scan(Stream *s, uint32_t index, size_t len, double at) {
  const char *data = work;
  size_t start = 0;
  if (!s->ready) {
    const char *ready = memmem(data, len, READY, sizeof READY - 1);
    if (ready == NULL)
      goto keep_tail;
    s->ready = 1;
    start = (size_t)(ready - data);
  }
  for (;;) {
    const char *found = memmem(data + start, len - start, MARKER, sizeof MARKER - 1);
    if (found == NULL)
      break;
    const char *number = found + sizeof MARKER - 1;
    const char *end = memchr(number, '"', (size_t)(data + len - number));
    if (end == NULL)
      break;
    if ((size_t)(end - data) >= s->tail_len)
      record(s, index, strtoll(number, NULL, 10), at);
    start = (size_t)(end - data);
  }
keep_tail:
  s->tail_len = len < TAIL_BYTES ? len : TAIL_BYTES;
  memcpy(s->tail, data + len - s->tail_len, s->tail_len);
}

/* Reads what the stream has; returns 0 at its end. */
static int read_stream(Stream *s, uint32_t index, double at) {
  memcpy(work, s->tail, s->tail_len);
  ssize_t got = read(s->fd, work + s->tail_len, READ_BYTES);
  if (got < 0)
    return errno == EAGAIN || errno == EINTR;
  if (got == 0)
    return 0;
  scan(s, index, s->tail_len + (size_t)got, at);
  return 1;
}

static void open_stream(Stream *s, const struct addrinfo *server, const char *host_port,
                        const char *key, int epoll_fd, uint32_t index) {
  s->fd = socket(server->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->fd < 0)
    die("socket");
  /* Blocking until connected and asked, then non-blocking for the reads: at most CONCURRENCY
   * handshakes are ever pending, well inside the server's listen backlog. */
  if (connect(s->fd, server->ai_addr, server->ai_addrlen) < 0)
    die("connect");
  char request[1024];
  int len = snprintf(request, sizeof request,
                     "GET /stream HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                     "Accept: text/event-stream\r\n\r\n",
                     host_port, key);
  if (len < 0 || (size_t)len >= sizeof request || write(s->fd, request, (size_t)len) != len)
    die("write request");
  if (fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK) < 0)
    die("fcntl");
  struct epoll_event event = {.events = EPOLLIN, .data.u64 = index};
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, s->fd, &event) < 0)
    die("epoll_ctl");
}

static void resolve(const char *host_port, struct addrinfo **out) {
  char host[256];
  const char *colon = strrchr(host_port, ':');
  if (colon == NULL || (size_t)(colon - host_port) >= sizeof host) {
    fprintf(stderr, "not HOST:PORT: %s\n", host_port);
    exit(2);
  }
  memcpy(host, host_port, (size_t)(colon - host_port));
  host[colon - host_port] = '\0';
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int failed = getaddrinfo(host, colon + 1, &hints, out);
  if (failed) {
    fprintf(stderr, "%s: %s\n", host_port, gai_strerror(failed));
    exit(2);
  }
}

static void print_receipts(size_t closed) {
  printf("receipts %zu\n", receipts_len);
  for (size_t i = 0; i < receipts_len; i++)
    printf("%u %lld %.9f\n", receipts[i].stream, receipts[i].write, receipts[i].at);
  printf("closed %zu\n", closed);
  fflush(stdout);
}

/* Handles the command lines that arrived on stdin; returns 0 once told to stop. */
static int read_commands(size_t closed) {
  static char line[64];
  static size_t used;
  ssize_t got = read(STDIN_FILENO, line + used, sizeof line - 1 - used);
  if (got <= 0)
    return 0; /* the driver went away */
  used += (size_t)got;
  char *newline;
  while ((newline = memchr(line, '\n', used)) != NULL) {
    *newline = '\0';
    if (strcmp(line, "count") == 0) {
      printf("count %zu\n", receipts_len);
      fflush(stdout);
    } else if (strcmp(line, "stop") == 0) {
      print_receipts(closed);
      return 0;
    }
    used -= (size_t)(newline + 1 - line);
    memmove(line, newline + 1, used);
  }
  if (used == sizeof line - 1)
    used = 0; /* no command is this long */
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s KEY STREAMS CONCURRENCY HOST:PORT [HOST:PORT ...]\n", argv[0]);
    return 2;
  }
  const char *key = argv[1];
  uint32_t total = (uint32_t)strtoul(argv[2], NULL, 10);
  uint32_t concurrency = (uint32_t)strtoul(argv[3], NULL, 10);
  int servers = argc - 4;
  if (total == 0 || concurrency == 0) {
    fprintf(stderr, "STREAMS and CONCURRENCY must be positive\n");
    return 2;
  }
  struct addrinfo **addresses = calloc((size_t)servers, sizeof *addresses);
  Stream *streams = calloc(total, sizeof *streams);
  struct epoll_event *events = calloc(MAX_EVENTS, sizeof *events);
  if (addresses == NULL || streams == NULL || events == NULL)
    die("calloc");
  for (int i = 0; i < servers; i++)
    resolve(argv[4 + i], &addresses[i]);
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0)
    die("epoll_create1");
  /* Commands are told apart from streams by an index no stream has. */
  struct epoll_event command = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, STDIN_FILENO, &command) < 0)
    die("epoll_ctl stdin");

  double started = now_seconds();
  uint32_t opened = 0, ready = 0;
  size_t closed = 0;
  int all_ready = 0;
  for (;;) {
    while (opened < total && opened - ready < concurrency) {
      int server = (int)(opened % (uint32_t)servers);
      open_stream(&streams[opened], addresses[server], argv[4 + server], key, epoll_fd, opened);
      opened++;
    }
    int count = epoll_wait(epoll_fd, events, MAX_EVENTS, -1);
    double at = now_seconds();
    if (count < 0) {
      if (errno == EINTR)
        continue;
      die("epoll_wait");
    }
    for (int i = 0; i < count; i++) {
      uint64_t index = events[i].data.u64;
      if (index == UINT64_MAX) {
        if (!read_commands(closed))
          return 0;
        continue;
      }
      Stream *s = &streams[index];
      int was_ready = s->ready;
      if (!read_stream(s, (uint32_t)index, at)) {
        if (!s->ready) {
          fprintf(stderr, "stream %llu closed before its ready event\n", (unsigned long long)index);
          return 1;
        }
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
        closed++;
        continue;
      }
      ready += !was_ready && s->ready;
    }
    if (!all_ready && ready == total) {
      all_ready = 1;
      printf("ready %.6f\n", now_seconds() - started);
      fflush(stdout);
    }
  }
}
