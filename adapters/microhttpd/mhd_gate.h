/*
 * Internal to the libmicrohttpd adapter: the gate in front of a ready
 * server's daemon (connectc_mhd_start).
 *
 * The gate owns the listening socket. A new connection stays with it until
 * its first request head is complete: the gate peeks at the bytes (never
 * consuming them), checks the head with connectc_http1_check_head, and
 * either hands the socket to libmicrohttpd (MHD_add_connection, which reads
 * the same bytes again) or answers the refusal itself, once, and closes.
 * A connection that does not complete its head within the head deadline is
 * answered 408 and closed; when more connections wait for a head than the
 * budget allows, the one that waited longest is answered 503 and closed.
 * Waiting connections hold a socket and nothing else, and never occupy a
 * libmicrohttpd connection slot.
 *
 * The gate also tracks the connections libmicrohttpd holds (through
 * MHD_OPTION_NOTIFY_CONNECTION and the adapter's request callbacks): when a
 * complete head finds every slot taken, the connection idle the longest
 * (between two requests) is shut down to make room; when every slot is busy
 * with a call, the new request is answered 503.
 *
 * TLS connections cannot be read before libmicrohttpd decrypts them: the
 * gate hands them over as soon as their first bytes arrive, within the head
 * deadline, and the slot rules above apply to them as well.
 */
#ifndef CONNECTC_MHD_GATE_H
#define CONNECTC_MHD_GATE_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "connectc/compress.h"
#include "connectc/http.h"

typedef struct mhd_gate mhd_gate;

typedef struct mhd_gate_config {
  int listen_fd;            /* bound and listening; owned by the gate from then on */
  int tls;                  /* heads are encrypted */
  unsigned max_connections; /* connections libmicrohttpd may hold */
  unsigned max_pending;     /* connections waiting for a complete head */
  int64_t head_timeout_ms;  /* from accept to a complete head */
  connectc_http1_limits limits;
  /* libmicrohttpd's memory per connection: a head passes only if its
   * bytes plus 64 per field, parameter and cookie leave 4 KiB of it. */
  size_t pool_bytes;
} mhd_gate_config;

/* Creates the gate (not yet running). */
int mhd_gate_new(const mhd_gate_config *cfg, mhd_gate **out);
/* Starts accepting and handing connections to `daemon`. */
int mhd_gate_run(mhd_gate *g, struct MHD_Daemon *daemon);
/* Stops accepting, closes the connections it still holds, joins its
 * thread. The daemon's connections are left to the daemon. */
void mhd_gate_stop(mhd_gate *g);
/* Frees a stopped (or never run) gate. */
void mhd_gate_del(mhd_gate *g);

/* MHD_OPTION_NOTIFY_CONNECTION callback (cls: the gate). */
void mhd_gate_notify_connection(void *cls, struct MHD_Connection *connection,
                                void **socket_context, enum MHD_ConnectionNotificationCode code);
/* A request started on / finished with this connection (the adapter's
 * first access-handler call and its completed callback). */
void mhd_gate_request_started(mhd_gate *g, struct MHD_Connection *connection);
void mhd_gate_request_done(mhd_gate *g, struct MHD_Connection *connection);
/* The compression context of a connection libmicrohttpd holds, created
 * with `alloc` on first use, freed when the connection closes; NULL when
 * the connection is not tracked or out of memory. Its requests follow one
 * another (the next starts after the previous one completed, which
 * finishes or cancels its call), so each call may borrow it in turn. */
connectc_compress_ctx *mhd_gate_compress_ctx(struct MHD_Connection *connection,
                                             const connectc_allocator *alloc);

/* Counters, for tests and measurements. */
typedef struct mhd_gate_stats {
  uint64_t accepted;
  uint64_t handed_over;
  uint64_t refused;      /* answered with a refusal of the head rules */
  uint64_t timed_out;    /* head deadline passed */
  uint64_t shed_pending; /* waited longest when the head budget was full */
  uint64_t shed_idle;    /* idle libmicrohttpd connections shut down for room */
  uint64_t busy;         /* answered 503: every slot busy with a call */
} mhd_gate_stats;
void mhd_gate_get_stats(mhd_gate *g, mhd_gate_stats *out);

#endif
