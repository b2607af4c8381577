/*
 * envelope.h: the 5-byte Connect envelope that frames each message of a
 * streaming RPC: one flags byte, then a 4-byte big-endian payload length.
 */
#ifndef CONNECTC_ENVELOPE_H
#define CONNECTC_ENVELOPE_H

#include "connectc/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CONNECTC_ENVELOPE_HEADER_LEN 5
#define CONNECTC_ENVELOPE_FLAG_COMPRESSED 0x01u
#define CONNECTC_ENVELOPE_FLAG_END_STREAM 0x02u

/* Writes the 5-byte prefix for a payload of `len` bytes. */
CONNECTC_API void connectc_envelope_write_header(uint8_t out[CONNECTC_ENVELOPE_HEADER_LEN], uint8_t flags,
                                    uint32_t len);

/* One decoded envelope. `payload` points either into the caller's input
 * (zero-copy, when the whole envelope was inside one input chunk) or into
 * the decoder's own buffer; either way it is valid until the next call on
 * the decoder or until the caller's input buffer is released, whichever
 * comes first. */
typedef struct connectc_envelope {
  uint8_t flags;
  const uint8_t *payload;
  size_t len;
} connectc_envelope;

/*
 * Incremental decoder. Feed bytes in chunks of any size (down to one byte).
 * Fields are private; use the functions.
 */
typedef struct connectc_envelope_decoder {
  connectc_allocator alloc;
  size_t max_len;    /* largest accepted payload length */
  uint8_t hdr[CONNECTC_ENVELOPE_HEADER_LEN];
  size_t hdr_have;   /* header bytes collected so far */
  uint8_t flags;
  uint32_t len;      /* declared payload length */
  uint8_t *buf;      /* payload being collected across chunks */
  size_t buf_len;
  size_t buf_cap;
  int failed;        /* sticky: after an error every call fails */
} connectc_envelope_decoder;

/* `max_len` is the receive limit for one payload (compressed size); a
 * header declaring more is rejected before any allocation. */
CONNECTC_API void connectc_envelope_decoder_init(connectc_envelope_decoder *d, size_t max_len,
                                    const connectc_allocator *alloc);
CONNECTC_API void connectc_envelope_decoder_reset(connectc_envelope_decoder *d);

/*
 * Consumes bytes from in[0..len) and sets *consumed to how many were used.
 * Returns:
 *   1  a complete envelope is in *out; *consumed may be < len: call again
 *      with the rest;
 *   0  all input consumed, no complete envelope yet;
 *  <0  CONNECTC_ERR_LIMIT (declared length over max_len; err =
 *      resource_exhausted "message size N is larger than configured max M",
 *      before any allocation), CONNECTC_ERR_NOMEM. Errors are sticky.
 * The decoder returns whatever flags the envelope carries; judging them
 * (compressed without an encoding, unknown bits) is the caller's job.
 * Growth of the internal buffer follows the bytes actually received,
 * never the declared length alone.
 */
CONNECTC_API int connectc_envelope_decode(connectc_envelope_decoder *d, const uint8_t *in, size_t len,
                             size_t *consumed, connectc_envelope *out, connectc_error *err);

/* 1 if the decoder is between envelopes (no partial header or payload). */
CONNECTC_API int connectc_envelope_decoder_idle(const connectc_envelope_decoder *d);

#ifdef __cplusplus
}
#endif

#endif
