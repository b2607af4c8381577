/*
 * What the Mongoose adapters do to Mongoose's I/O buffers, beside
 * Mongoose's own functions. Internal to libconnectc-mongoose.
 */
#ifndef CONNECTC_MG_IOBUF_H
#define CONNECTC_MG_IOBUF_H

#include <string.h>

#include "mongoose.h"

/* Drops the first n bytes of io (all of them when n >= io->len), keeping
 * the rest at the front and io->size as it is. Like mg_iobuf_del(io, 0,
 * n) without its wipe: mg_iobuf_del() also zeroes the bytes it drops, one
 * volatile byte at a time, which took a quarter of the server's CPU time
 * under 1 MiB request bodies (perf). The same bytes live on in the call's
 * buffers and in the application's messages, which nobody wipes, so the
 * wipe protected nothing here. */
static inline void cc_mg_iobuf_drop(struct mg_iobuf *io, size_t n) {
  if (n >= io->len) {
    io->len = 0;
    return;
  }
  memmove(io->buf, io->buf + n, io->len - n);
  io->len -= n;
}

#endif
