/*
 * bench_codec: encode and decode throughput of the binary protobuf codec
 * and the protobuf JSON codec, on the same messages of about 1 KiB and
 * 64 KiB (binary size), side by side in one run.
 *
 *   bench_codec [seconds per row]     (default 0.5)
 *
 * MB/s counts the bytes of each codec's own encoding (1 MB = 10^6 bytes);
 * "msg/s" is messages per second. Figures compare only within one run.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectc/json_codec.h"
#include "json_test.connect.h"
#include "json_test.pb-c.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A message with strings, numbers, a map and nested nodes, `scale` times. */
static char *make_json(int scale) {
  size_t cap = (size_t)scale * 512 + 256, len = 0;
  char *j = malloc(cap);
  len += (size_t)snprintf(j + len, cap - len,
                          "{\"scalars\":{\"i64\":\"-1234567890123\",\"str\":\"hello world\",\"db\":3.25},"
                          "\"numbers\":[");
  for (int i = 0; i < scale * 8; i++) len += (size_t)snprintf(j + len, cap - len, "%s%d", i ? "," : "", i * 37);
  len += (size_t)snprintf(j + len, cap - len, "],\"words\":[");
  for (int i = 0; i < scale * 4; i++)
    len += (size_t)snprintf(j + len, cap - len, "%s\"word number %d\"", i ? "," : "", i);
  len += (size_t)snprintf(j + len, cap - len, "],\"counts\":{");
  for (int i = 0; i < scale * 2; i++)
    len += (size_t)snprintf(j + len, cap - len, "%s\"key%d\":%d", i ? "," : "", i, i);
  len += (size_t)snprintf(j + len, cap - len, "},\"tree\":{\"name\":\"root\",\"children\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}");
  return j;
}

typedef struct row {
  const char *what;
  double mbps, msgs;
} row;

static row measure_encode(const connectc_codec *c, const ProtobufCMessage *m, double secs, const char *what) {
  size_t bytes = 0, n = 0;
  double t0 = now_s(), t;
  do {
    for (int k = 0; k < 16; k++) {
      uint8_t *out;
      size_t len;
      if (c->marshal(c, m, NULL, &out, &len, NULL) != CONNECTC_OK) exit(1);
      bytes += len;
      n++;
      connectc_free(NULL, out);
    }
    t = now_s() - t0;
  } while (t < secs);
  row r = {what, (double)bytes / t / 1e6, (double)n / t};
  return r;
}

static row measure_decode(const connectc_codec *c, const ProtobufCMessageDescriptor *d, const uint8_t *data,
                          size_t len, double secs, const char *what) {
  size_t n = 0;
  double t0 = now_s(), t;
  do {
    for (int k = 0; k < 16; k++) {
      ProtobufCMessage *m;
      if (c->unmarshal(c, d, data, len, NULL, NULL, &m, NULL) != CONNECTC_OK) exit(1);
      connectc_message_free(m, NULL);
      n++;
    }
    t = now_s() - t0;
  } while (t < secs);
  row r = {what, (double)(n * len) / t / 1e6, (double)n / t};
  return r;
}

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 0.5;
  connectc_type_registry *reg = NULL;
  (void)connectc_type_registry_new(NULL, &reg);
  json_test__register_types(reg);
  connectc_codec *json = NULL;
  (void)connectc_codec_json_new(reg, NULL, &json);
  const connectc_codec *proto = connectc_codec_proto();
  const ProtobufCMessageDescriptor *d = &connectc__jsontest__v1__everything__descriptor;
  printf("| message | codec | encoded bytes | encode MB/s | encode msg/s | decode MB/s | decode msg/s |\n");
  printf("|---|---|---:|---:|---:|---:|---:|\n");
  const int scales[] = {9, 570};
  const char *names[] = {"~1 KiB", "~64 KiB"};
  for (int s = 0; s < 2; s++) {
    char *text = make_json(scales[s]);
    ProtobufCMessage *m;
    if (json->unmarshal(json, d, (const uint8_t *)text, strlen(text), NULL, NULL, &m, NULL) != CONNECTC_OK) return 1;
    const connectc_codec *codecs[] = {proto, json};
    for (int c = 0; c < 2; c++) {
      uint8_t *enc;
      size_t len;
      codecs[c]->marshal(codecs[c], m, NULL, &enc, &len, NULL);
      row e = measure_encode(codecs[c], m, secs, "encode");
      row dd = measure_decode(codecs[c], d, enc, len, secs, "decode");
      printf("| %s | %s | %zu | %.0f | %.0f | %.0f | %.0f |\n", names[s], codecs[c]->name, len, e.mbps,
             e.msgs, dd.mbps, dd.msgs);
      connectc_free(NULL, enc);
    }
    connectc_message_free(m, NULL);
    free(text);
  }
  connectc_codec_json_del(json);
  connectc_type_registry_del(reg);
  return 0;
}
