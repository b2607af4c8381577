/*
 * Internal: base64 (RFC 4648) in the standard and URL-safe alphabets.
 */
#ifndef CONNECTC_CORE_BASE64_H
#define CONNECTC_CORE_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum cc_b64_alphabet { CC_B64_STD = 0, CC_B64_URL = 1 } cc_b64_alphabet;

/* Length of the encoding of n bytes. */
size_t cc_b64_encoded_len(size_t n, int pad);
/* Appends the encoding of in[0..len) to out. */
int cc_b64_encode(cc_buf *out, const connectc_allocator *alloc, const uint8_t *in, size_t len,
                  cc_b64_alphabet alphabet, int pad);

/* Decoding flags. */
#define CC_B64_ACCEPT_STD 0x1u  /* accept '+' and '/' */
#define CC_B64_ACCEPT_URL 0x2u  /* accept '-' and '_' */
/* Padding is accepted when present and correct, and may be omitted. */

/* Appends the decoding of in[0..len) to out. Returns CONNECTC_OK or
 * CONNECTC_ERR_PROTOCOL for characters outside the accepted alphabets,
 * wrong padding, or a final quantum of one character. Non-zero trailing
 * bits in the last quantum are ignored, as Go's decoder does. */
int cc_b64_decode(cc_buf *out, const connectc_allocator *alloc, const char *in, size_t len,
                  unsigned flags);
/* Decodes data[0..len) over itself, with the same rules, and sets
 * *out_len to the decoded length (at most len). On an error the bytes of
 * data are unspecified. */
int cc_b64_decode_in_place(uint8_t *data, size_t len, unsigned flags, size_t *out_len);

#endif
