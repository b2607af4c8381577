/**
 * @file connectc/envelope.h
 * @brief The 5-byte envelope that frames each message of a streaming RPC:
 * one flags byte, then a 4-byte big-endian payload length.
 *
 * Part of libconnectc-core. The call state machines frame and unframe
 * messages with these functions; an application needs them only to
 * handle envelopes itself.
 */
#ifndef CONNECTC_ENVELOPE_H
#define CONNECTC_ENVELOPE_H

#include "connectc/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Size of the envelope prefix in bytes: flags, then a 32-bit length. */
#define CONNECTC_ENVELOPE_HEADER_LEN 5
/** Flag: the payload is compressed with the stream's message encoding. */
#define CONNECTC_ENVELOPE_FLAG_COMPRESSED 0x01u
/** Flag: the envelope is Connect's end-of-stream message (a JSON object
 * with the status and trailers), not an application message. */
#define CONNECTC_ENVELOPE_FLAG_END_STREAM 0x02u

/**
 * Writes the 5-byte prefix for a payload of `len` bytes.
 * @param out the 5 bytes to write.
 * @param flags the flags byte (CONNECTC_ENVELOPE_FLAG_* values or'ed).
 * @param len the payload length, written big-endian.
 */
CONNECTC_API void connectc_envelope_write_header(uint8_t out[CONNECTC_ENVELOPE_HEADER_LEN], uint8_t flags,
                                    uint32_t len);

/** One decoded envelope. `payload` points either into the caller's input
 * (zero-copy, when the whole envelope was inside one input chunk) or into
 * the decoder's own buffer; either way it is valid until the next call on
 * the decoder or until the caller's input buffer is released, whichever
 * comes first. */
typedef struct connectc_envelope {
  uint8_t flags;          /**< the flags byte, as received */
  const uint8_t *payload; /**< the payload bytes; never NULL, also when empty */
  size_t len;             /**< payload length in bytes */
} connectc_envelope;

/**
 * Incremental decoder. Feed bytes in chunks of any size (down to one byte).
 * It lives in the caller's storage; the members are private: use the
 * functions.
 */
typedef struct connectc_envelope_decoder {
  connectc_allocator alloc; /**< private: allocator of `buf` */
  size_t max_len;    /**< private: largest accepted payload length */
  uint8_t hdr[CONNECTC_ENVELOPE_HEADER_LEN]; /**< private: header bytes collected */
  size_t hdr_have;   /**< private: header bytes collected so far */
  uint8_t flags;     /**< private: flags of the envelope being collected */
  uint32_t len;      /**< private: declared payload length */
  uint8_t *buf;      /**< private: payload being collected across chunks */
  size_t buf_len;    /**< private: payload bytes collected */
  size_t buf_cap;    /**< private: bytes allocated in `buf` */
  int failed;        /**< private: sticky error; after an error every call fails */
} connectc_envelope_decoder;

/**
 * Initialises a decoder. It allocates nothing until a payload split
 * across input chunks has to be collected.
 * @param d the decoder (its old contents are not freed).
 * @param max_len the receive limit for one payload (compressed size); a
 *        header declaring more is rejected before any allocation.
 * @param alloc allocator of the decoder's buffer; may be NULL (default);
 *        copied.
 */
CONNECTC_API void connectc_envelope_decoder_init(connectc_envelope_decoder *d, size_t max_len,
                                    const connectc_allocator *alloc);
/**
 * Frees the decoder's buffer and returns it to its initial state (between
 * envelopes, no error), keeping its limit and allocator: it may be used
 * again without another init. Payloads it returned are invalid afterwards.
 * @param d an initialised decoder.
 */
CONNECTC_API void connectc_envelope_decoder_reset(connectc_envelope_decoder *d);

/**
 * Consumes bytes from in[0..len) and reports at most one envelope.
 *
 * The decoder returns whatever flags the envelope carries; judging them
 * (compressed without an encoding, unknown bits) is the caller's job.
 * Growth of the internal buffer follows the bytes actually received,
 * never the declared length alone.
 *
 * @param d an initialised decoder.
 * @param in the input bytes, borrowed: `out->payload` may point into them.
 * @param len length of `in`.
 * @param consumed receives how many bytes of `in` were used (also on
 *        error).
 * @param out receives the envelope when 1 is returned; untouched
 *        otherwise.
 * @param err set when the declared length is over the limit; may be NULL.
 * @return 1 when a complete envelope is in `*out`; `*consumed` may be less
 *         than `len`: call again with the rest;
 *         0 when all input was consumed and no envelope is complete yet;
 *         CONNECTC_ERR_LIMIT when the declared length is over `max_len`,
 *         before any allocation (`err`: resource_exhausted, "message size N
 *         is larger than configured max M");
 *         CONNECTC_ERR_NOMEM (`err` untouched).
 *         Errors are sticky: every later call returns the same error
 *         (without setting `err` again) until connectc_envelope_decoder_reset().
 */
CONNECTC_API int connectc_envelope_decode(connectc_envelope_decoder *d, const uint8_t *in, size_t len,
                             size_t *consumed, connectc_envelope *out, connectc_error *err);

/**
 * Whether the decoder is between envelopes (no partial header or payload),
 * e.g. to tell a clean end of input from a truncated one.
 * @param d an initialised decoder.
 * @return 1 if it is between envelopes, 0 otherwise.
 */
CONNECTC_API int connectc_envelope_decoder_idle(const connectc_envelope_decoder *d);

#ifdef __cplusplus
}
#endif

#endif
