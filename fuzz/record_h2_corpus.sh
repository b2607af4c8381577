#!/usr/bin/env bash
# Records real HTTP/2 client byte streams for fuzz_h2_conn's seed corpus:
# starts the conformance server on the nghttp2 adapter, puts a recording
# proxy in front of it, and runs nghttp, h2load and curl through the proxy
# against the harness's routes (/f.S/...). Each client connection's bytes
# (client to server only: what connectc_h2_conn_recv sees) become one file.
#   fuzz/record_h2_corpus.sh <build dir>
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: fuzz/record_h2_corpus.sh <build dir>}
out=fuzz/corpus/fuzz_h2_conn
mkdir -p "$out"
python3 - "$build/conformance/server" "$out" <<'PY'
import os, socket, subprocess, sys, threading, struct, time
server, out = sys.argv[1], sys.argv[2]
p = subprocess.Popen([server, "--adapter", "nghttp2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
p.stdin.write(b"\0\0\0\0"); p.stdin.close()
n = struct.unpack(">I", p.stdout.read(4))[0]; msg = p.stdout.read(n)
# ServerCompatResponse: host (1, string), port (2, varint)
i, port = 0, 0
while i < len(msg):
    key = msg[i]; i += 1
    if key == 0x0a: l = msg[i]; i += 1 + l
    elif key == 0x10:
        shift = 0
        while True:
            b = msg[i]; i += 1; port |= (b & 0x7f) << shift; shift += 7
            if not b & 0x80: break
    else: break
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(16)
pport = ls.getsockname()[1]
count = [0]
def pipe(a, b, rec):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            if rec is not None: rec.append(d)
            b.sendall(d)
    except OSError: pass
    try: b.shutdown(socket.SHUT_WR)
    except OSError: pass
def serve():
    while True:
        c, _ = ls.accept()
        s = socket.create_connection(("127.0.0.1", port))
        rec = []
        t1 = threading.Thread(target=pipe, args=(c, s, rec)); t2 = threading.Thread(target=pipe, args=(s, c, None))
        t1.start(); t2.start()
        def fin(t1=t1, t2=t2, rec=rec):
            t1.join(); t2.join()
            data = b"".join(rec)
            if data:
                count[0] += 1
                open(os.path.join(out, "recorded-%02d" % count[0]), "wb").write(data[:65536])
        threading.Thread(target=fin).start()
threading.Thread(target=serve, daemon=True).start()
base = "http://127.0.0.1:%d" % pport
env = dict(os.environ)
def run(*a):
    subprocess.run(list(a), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
open("/tmp/h2rec.body", "wb").write(b"\0\0\0\0\x03\x0a\x01a")
# gRPC unary, server stream and client stream shapes (one envelope each)
for path in ("/f.S/Unary", "/f.S/Server", "/f.S/Bidi", "/f.S/Client", "/nope"):
    run("nghttp", "-d", "/tmp/h2rec.body", "-H", "content-type: application/grpc", "-H", "te: trailers",
        "-H", "grpc-timeout: 100m", base + path)
run("nghttp", "-d", "/tmp/h2rec.body", "-H", "content-type: application/grpc-web+proto", base + "/f.S/Unary")
open("/tmp/h2rec.json", "wb").write(b'{"a":1}')
run("nghttp", "-d", "/tmp/h2rec.json", "-H", "content-type: application/json", base + "/f.S/Unary")
run("nghttp", "-m", "3", base + "/f.S/Unary?encoding=json&message=%7B%7D")
run("h2load", "-n", "20", "-c", "1", "-m", "10", "-d", "/tmp/h2rec.body", "-H", "content-type: application/grpc",
    "-H", "te: trailers", base + "/f.S/Unary")
run("h2load", "-n", "4", "-c", "1", "-m", "4", "-d", "/tmp/h2rec.json", "-H", "content-type: application/json",
    base + "/f.S/Unary")
run("curl", "-s", "--http2-prior-knowledge", "-H", "content-type: application/connect+json",
    "--data-binary", "@/tmp/h2rec.body", base + "/f.S/Bidi")
run("curl", "-s", "--http2-prior-knowledge", "-H", "content-type: application/grpc", "-H", "te: trailers",
    "-H", "grpc-encoding: gzip", "--data-binary", "@/tmp/h2rec.body", base + "/f.S/Client")
time.sleep(1)
p.terminate(); p.wait()
print("recorded", count[0], "connections into", out)
PY
