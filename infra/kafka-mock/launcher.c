/*
 * kafka-mock launcher: runs librdkafka's in-process mock Kafka cluster so that the
 * platform's kafkajs code talks the real Kafka protocol on loopback without a broker.
 *
 * Usage: launcher [--brokers N] [--topic NAME:PARTITIONS]...
 *
 * Prints, one per line on stdout, then keeps running:
 *   bootstrap=<host:port,...>   the bootstrap servers for KAFKA_BROKERS
 *   control=127.0.0.1:<port>    the control channel (see below)
 *   ready
 *
 * Control channel: line commands over TCP (any process may connect) or on stdin.
 * Each command gets one reply line, "ok" or "err <reason>":
 *   ping
 *   topic <name> <partitions>        create a topic (the mock has no CreateTopics API)
 *   down <broker|-1>                 disconnect a broker (-1: all) and refuse connections
 *   up <broker|-1>                   accept connections again
 *   rtt <broker|-1> <ms>             delay every response of the broker
 *   errors <apikey> <errcode> <n>    the next n requests of apikey fail with errcode
 *                                    (-195 = transport error: the broker disconnects)
 *   clear <apikey>                   drop queued errors for apikey
 *
 * Lifetime: exits when stdin reaches EOF (the parent is gone) or on SIGTERM/SIGINT, and
 * asks the kernel for SIGTERM when its parent dies, so it never outlives the platform.
 * The mock keeps everything in memory: a restart starts from empty topics.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 32
#define LINE_MAX_LEN 512

struct client {
  int fd;
  size_t len;
  char buf[LINE_MAX_LEN];
};

static volatile sig_atomic_t stopping = 0;
static rd_kafka_mock_cluster_t *mcluster;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static int create_topic(const char *name, int partitions) {
  if (partitions < 1) return -1;
  return rd_kafka_mock_topic_create(mcluster, name, partitions, 1) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

/* Runs one command line; writes the reply (without newline) into out. */
static void run_command(char *line, char *out, size_t outlen) {
  char cmd[32] = {0}, name[256] = {0};
  int a = 0, b = 0, c = 0;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

  if (sscanf(line, "%31s", cmd) != 1) {
    snprintf(out, outlen, "err empty command");
    return;
  }
  if (!strcmp(cmd, "ping")) {
    snprintf(out, outlen, "ok");
    return;
  }
  if (!strcmp(cmd, "topic") && sscanf(line, "%*s %255s %d", name, &a) == 2) {
    snprintf(out, outlen, create_topic(name, a) == 0 ? "ok" : "err cannot create topic");
    return;
  }
  if (!strcmp(cmd, "down") && sscanf(line, "%*s %d", &a) == 1) {
    err = rd_kafka_mock_broker_set_down(mcluster, a);
  } else if (!strcmp(cmd, "up") && sscanf(line, "%*s %d", &a) == 1) {
    err = rd_kafka_mock_broker_set_up(mcluster, a);
  } else if (!strcmp(cmd, "rtt") && sscanf(line, "%*s %d %d", &a, &b) == 2) {
    err = rd_kafka_mock_broker_set_rtt(mcluster, a, b);
  } else if (!strcmp(cmd, "errors") && sscanf(line, "%*s %d %d %d", &a, &b, &c) == 3 && c > 0 && c <= 100000) {
    rd_kafka_resp_err_t *errs = calloc((size_t)c, sizeof(*errs));
    if (!errs) {
      snprintf(out, outlen, "err out of memory");
      return;
    }
    for (int i = 0; i < c; i++) errs[i] = (rd_kafka_resp_err_t)b;
    rd_kafka_mock_push_request_errors_array(mcluster, (int16_t)a, (size_t)c, errs);
    free(errs);
  } else if (!strcmp(cmd, "clear") && sscanf(line, "%*s %d", &a) == 1) {
    rd_kafka_mock_clear_request_errors(mcluster, (int16_t)a);
  } else {
    snprintf(out, outlen, "err unknown command: %s", cmd);
    return;
  }
  if (err) snprintf(out, outlen, "err %s", rd_kafka_err2str(err));
  else snprintf(out, outlen, "ok");
}

/* Consumes complete lines from a client buffer; returns -1 when the peer should be dropped. */
static int feed(struct client *cl, int outfd) {
  ssize_t n = read(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - 1 - cl->len);
  if (n <= 0) return -1;
  cl->len += (size_t)n;
  char *nl;
  while ((nl = memchr(cl->buf, '\n', cl->len))) {
    *nl = '\0';
    char reply[300];
    run_command(cl->buf, reply, sizeof(reply));
    dprintf(outfd, "%s\n", reply);
    size_t used = (size_t)(nl - cl->buf) + 1;
    memmove(cl->buf, nl + 1, cl->len - used);
    cl->len -= used;
  }
  if (cl->len == sizeof(cl->buf) - 1) return -1; /* a line too long to be a command */
  return 0;
}

int main(int argc, char **argv) {
  int brokers = 1;
  char errstr[512];

  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--brokers") && i + 1 < argc) brokers = atoi(argv[++i]);
  }
  if (brokers < 1 || brokers > 16) {
    fprintf(stderr, "launcher: --brokers must be 1..16\n");
    return 2;
  }

  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    fprintf(stderr, "launcher: rd_kafka_new failed: %s\n", errstr);
    return 1;
  }
  mcluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mcluster) {
    fprintf(stderr, "launcher: rd_kafka_mock_cluster_new failed\n");
    return 1;
  }

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--topic") && i + 1 < argc) {
      char name[256];
      int parts = 0;
      const char *spec = argv[++i];
      const char *colon = strrchr(spec, ':');
      if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(name) || (parts = atoi(colon + 1)) < 1) {
        fprintf(stderr, "launcher: bad --topic %s (want NAME:PARTITIONS)\n", spec);
        return 2;
      }
      memcpy(name, spec, (size_t)(colon - spec));
      name[colon - spec] = '\0';
      if (create_topic(name, parts) != 0) {
        fprintf(stderr, "launcher: cannot create topic %s\n", name);
        return 1;
      }
    }
  }

  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof(addr);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 16) ||
      getsockname(lfd, (struct sockaddr *)&addr, &alen)) {
    fprintf(stderr, "launcher: control socket: %s\n", strerror(errno));
    return 1;
  }

  printf("bootstrap=%s\ncontrol=127.0.0.1:%d\nready\n", rd_kafka_mock_cluster_bootstraps(mcluster),
         ntohs(addr.sin_port));
  fflush(stdout);

  struct client clients[MAX_CLIENTS];
  struct client in = {.fd = STDIN_FILENO};
  for (int i = 0; i < MAX_CLIENTS; i++) clients[i].fd = -1;

  while (!stopping) {
    struct pollfd pfds[MAX_CLIENTS + 2];
    int map[MAX_CLIENTS + 2];
    int n = 0;
    pfds[n] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
    map[n++] = -2;
    pfds[n] = (struct pollfd){.fd = lfd, .events = POLLIN};
    map[n++] = -1;
    for (int i = 0; i < MAX_CLIENTS; i++) {
      if (clients[i].fd < 0) continue;
      pfds[n] = (struct pollfd){.fd = clients[i].fd, .events = POLLIN};
      map[n++] = i;
    }
    if (poll(pfds, (nfds_t)n, 500) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int k = 0; k < n; k++) {
      if (!(pfds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (map[k] == -2) {
        if (feed(&in, STDOUT_FILENO) < 0) stopping = 1; /* parent closed our stdin */
      } else if (map[k] == -1) {
        int cfd = accept(lfd, NULL, NULL);
        if (cfd < 0) continue;
        int slot = -1;
        for (int i = 0; i < MAX_CLIENTS; i++)
          if (clients[i].fd < 0) {
            slot = i;
            break;
          }
        if (slot < 0) {
          dprintf(cfd, "err too many control clients\n");
          close(cfd);
          continue;
        }
        clients[slot].fd = cfd;
        clients[slot].len = 0;
      } else {
        struct client *cl = &clients[map[k]];
        if (feed(cl, cl->fd) < 0) {
          close(cl->fd);
          cl->fd = -1;
        }
      }
    }
  }

  rd_kafka_mock_cluster_destroy(mcluster);
  rd_kafka_destroy(rk);
  return 0;
}
