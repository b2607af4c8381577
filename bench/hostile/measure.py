#!/usr/bin/env python3
"""Hostile-peer measurements against the connectc eliza example server.

    measure.py SERVER_BIN [--label BEFORE] [--out-dir DIR] [--only 1,3a,4]

Every measurement starts a fresh server process (port 0), runs one attack
against it, records figures, and stops the server. Results go to
DIR/LABEL.md (Markdown tables, one per class) and DIR/LABEL.json.

Python 3 standard library only. See README.md.
"""
import argparse
import atexit
import base64
import gzip
import json
import os
import re
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

RSS_GUARD_KB = 2 * 1024 * 1024  # kill the server past 2 GiB RSS
SAY = "/connectrpc.eliza.v1.ElizaService/Say"
INTRODUCE = "/connectrpc.eliza.v1.ElizaService/Introduce"
CONVERSE = "/connectrpc.eliza.v1.ElizaService/Converse"

_servers = []  # every server started, for cleanup


# --------------------------------------------------------------------------
# server process
# --------------------------------------------------------------------------

def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
    except (OSError, ValueError):
        pass
    return out


class Server:
    def __init__(self, binary, env=None):
        e = dict(os.environ)
        if env:
            e.update(env)
        self.proc = subprocess.Popen([binary, "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=e,
                                     start_new_session=True)
        _servers.append(self)
        self.killed_by_guard = None
        self.max_rss_seen = 0
        line = b""
        deadline = time.time() + 10
        while time.time() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if r:
                line = self.proc.stdout.readline()
                break
        m = re.search(rb":(\d+)\s*$", line)
        if not m:
            self.stop()
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(m.group(1))
        self._stop = threading.Event()
        self._mon = threading.Thread(target=self._monitor, daemon=True)
        self._mon.start()
        time.sleep(0.3)
        self.idle_rss = self.status().get("VmRSS", 0)

    def _monitor(self):
        while not self._stop.is_set():
            st = proc_status(self.proc.pid)
            rss = st.get("VmRSS", 0)
            self.max_rss_seen = max(self.max_rss_seen, rss)
            if rss > RSS_GUARD_KB and self.killed_by_guard is None:
                self.killed_by_guard = rss
                try:
                    self.proc.kill()
                except OSError:
                    pass
            if self.proc.poll() is not None:
                return
            self._stop.wait(0.02)

    def status(self):
        return proc_status(self.proc.pid)

    def alive(self):
        return self.proc.poll() is None

    def hwm(self):
        return self.status().get("VmHWM", self.max_rss_seen)

    def stop(self):
        if getattr(self, "_stop", None):
            self._stop.set()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self in _servers:
            _servers.remove(self)

    def exit_note(self):
        rc = self.proc.poll()
        if self.killed_by_guard:
            return f"KILLED by RSS guard at {self.killed_by_guard/1024:.0f} MiB"
        if rc is None:
            return "alive"
        if rc < 0:
            return f"died (signal {-rc})"
        return f"exited rc={rc}"


def _cleanup():
    for s in list(_servers):
        try:
            s.stop()
        except Exception:
            pass


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


# --------------------------------------------------------------------------
# protocol helpers
# --------------------------------------------------------------------------

def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_string(field, s):
    b = s.encode() if isinstance(s, str) else s
    return varint(field << 3 | 2) + varint(len(b)) + b


def unknown_fields_msg(total_len, sentence="hello"):
    """A message of `total_len` bytes: field 1 then (field 15, varint 0)*."""
    head = pb_string(1, sentence)
    n = (total_len - len(head)) // 2
    return head + b"\x78\x00" * n, n


def envelope(payload, flags=0):
    return struct.pack(">BI", flags, len(payload)) + payload


def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


def request(method, path, headers, body=b"", host=True, length=True):
    lines = [f"{method} {path} HTTP/1.1"]
    if host:
        lines.append("Host: 127.0.0.1")
    for k, v in headers:
        lines.append(f"{k}: {v}")
    if length and body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def connect(port, rcvbuf=None, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def readable(sock, timeout):
    """poll(), not select(): descriptors past 1024 are common in class 5."""
    p = select.poll()
    p.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(p.poll(max(0, timeout) * 1000))


class Reader:
    """Reads from a socket until EOF or a deadline, timing the first byte."""

    def __init__(self, sock, t0=None):
        self.sock = sock
        self.t0 = t0 if t0 is not None else time.monotonic()
        self.data = bytearray()
        self.t_first = None
        self.t_eof = None
        self.error = None

    def pump(self, until, stop=None):
        """Reads until EOF, `until` (monotonic), or stop(data) is true."""
        # select() before recv(): the socket's blocking mode is left alone,
        # since a sender thread may share it.
        while self.t_eof is None:
            if stop and stop(bytes(self.data)):
                break
            left = until - time.monotonic()
            if left <= 0:
                break
            if not readable(self.sock, min(left, 0.2)):
                continue
            try:
                b = self.sock.recv(65536)
            except (BlockingIOError, socket.timeout):
                continue
            except OSError as e:
                self.error = e.__class__.__name__
                self.t_eof = time.monotonic() - self.t0
                break
            if not b:
                self.t_eof = time.monotonic() - self.t0
                break
            if self.t_first is None:
                self.t_first = time.monotonic() - self.t0
            self.data += b
        return self


STATUS_RE = re.compile(rb"(?:^|\r\n)HTTP/1\.[01] (\d{3})")


def statuses(data):
    return [int(m.group(1)) for m in STATUS_RE.finditer(data)]


def split_responses(data):
    """The responses in `data`, one after the other, framed by their
    Content-Length or chunked encoding: [(status, body)]."""
    out = []
    data = bytes(data)
    while data.startswith(b"HTTP/1."):
        h, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        try:
            st = int(h[9:12])
        except ValueError:
            break
        m = re.search(rb"(?im)^content-length:\s*(\d+)", h)
        if b"transfer-encoding: chunked" in h.lower():
            body, i = bytearray(), 0
            while True:
                line, sep2, more = rest[i:].partition(b"\r\n")
                try:
                    n = int(line.split(b";")[0], 16)
                except ValueError:
                    n = 0
                i += len(line) + 2
                if n == 0:
                    i += 2
                    break
                body += rest[i:i + n]
                i += n + 2
            out.append((st, bytes(body)))
            data = rest[i:]
        elif m:
            n = int(m.group(1))
            out.append((st, rest[:n]))
            data = rest[n:]
        else:
            out.append((st, rest))
            break
    return out


def head_body(data):
    h, sep, b = bytes(data).partition(b"\r\n\r\n")
    return h, b


def dechunk(body):
    out = bytearray()
    while body:
        line, sep, rest = body.partition(b"\r\n")
        if not sep:
            break
        try:
            n = int(line.split(b";")[0], 16)
        except ValueError:
            break
        if n == 0:
            break
        out += rest[:n]
        body = rest[n + 2:]
    return bytes(out)


def short(b, n=300):
    b = bytes(b)
    r = repr(b[:n])
    if len(b) > n:
        r += f" …(+{len(b) - n} bytes)"
    return r


def response_summary(data, n=200):
    st = statuses(data)
    if not data:
        return "no bytes"
    h, b = head_body(data)
    if b"transfer-encoding: chunked" in h.lower():
        b = dechunk(b)
    if b"content-encoding: gzip" in h.lower():
        try:
            b = b"(gunzipped) " + gzip.decompress(b)
        except Exception:
            pass
    return f"status {st[0] if st else '?'}; body {short(b, n)}"


def fmt_t(t, bound=None):
    if t is None:
        return f"none within {bound:.0f} s" if bound else "none"
    return f"{t*1000:.0f} ms" if t < 10 else f"{t:.1f} s"


def mib(kb):
    return f"{kb/1024:.1f} MiB"


def say_once(port, timeout=1.0):
    """One legitimate unary Say (proto) with a total deadline."""
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return False
    try:
        body = pb_string(1, "hello")
        s.settimeout(max(0.01, timeout - (time.monotonic() - t0)))
        s.sendall(request("POST", SAY, [("Content-Type", "application/proto"),
                                        ("Connection", "close")], body))
        r = Reader(s, t0).pump(t0 + timeout)
        return r.t_eof is not None and statuses(r.data)[:1] == [200] and b"Hello" in r.data
    except OSError:
        return False
    finally:
        s.close()


def post_and_read(port, req, until_s=20.0, sender_pieces=None):
    """Sends `req` (bytes) from a thread while reading; returns a dict."""
    s = connect(port)
    t0 = time.monotonic()
    rd = Reader(s, t0)
    sent = [0, None, None]  # bytes, error, time done

    def send():
        try:
            mv = memoryview(req)
            step = 65536
            for i in range(0, len(mv), step):
                s.sendall(mv[i:i + step])
                sent[0] += len(mv[i:i + step])
            sent[2] = time.monotonic() - t0
        except OSError as e:
            sent[1] = e.__class__.__name__

    th = threading.Thread(target=send, daemon=True)
    s.setblocking(True)
    th.start()
    time.sleep(0.01)
    rd.pump(t0 + until_s)
    th.join(2)
    s.close()
    return {"data": bytes(rd.data), "t_first": rd.t_first, "t_eof": rd.t_eof,
            "rd_error": rd.error, "sent": sent[0], "send_error": sent[1], "t_sent": sent[2]}


# --------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------

class Results:
    def __init__(self):
        self.classes = {}  # class title -> list of (attack, figure, value)

    def add(self, cls, attack, figure, value):
        self.classes.setdefault(cls, []).append((attack, figure, str(value)))
        print(f"  [{attack}] {figure}: {value}", flush=True)


def md_cell(s):
    return s.replace("|", "\\|").replace("\n", " ")


# --------------------------------------------------------------------------
# class 1: unknown-field amplification
# --------------------------------------------------------------------------

C1 = "1. Unknown-field amplification"


def c1_unary(binary, R):
    A = "unary Say, 4 MiB of (field 15, varint 0)"
    msg, n = unknown_fields_msg(4 * 1024 * 1024 - 16)
    srv = Server(binary)
    try:
        req = request("POST", SAY, [("Content-Type", "application/proto"),
                                    ("Connection", "close")], msg)
        r = post_and_read(srv.port, req, 30)
        time.sleep(0.2)
        R.add(C1, A, "request body / unknown fields", f"{len(msg)} B / {n}")
        R.add(C1, A, "idle RSS", mib(srv.idle_rss))
        peak = srv.hwm() if srv.alive() else srv.max_rss_seen
        R.add(C1, A, "peak RSS (VmHWM)", mib(peak))
        R.add(C1, A, "amplification (peak − idle) / body", f"{(peak - srv.idle_rss) * 1024 / len(msg):.0f}×")
        R.add(C1, A, "RSS after the call", mib(srv.status().get("VmRSS", 0)))
        R.add(C1, A, "time to answer", fmt_t(r["t_first"], 30))
        R.add(C1, A, "answer", response_summary(r["data"]))
        R.add(C1, A, "server", srv.exit_note())
    finally:
        srv.stop()


def c1_gzip(binary, R):
    A = "unary Say, gzip → 4 MiB of unknown fields"
    msg, n = unknown_fields_msg(4 * 1024 * 1024 - 16)
    gz = gzip.compress(msg, 9)
    srv = Server(binary)
    try:
        req = request("POST", SAY, [("Content-Type", "application/proto"),
                                    ("Content-Encoding", "gzip"),
                                    ("Connection", "close")], gz)
        r = post_and_read(srv.port, req, 30)
        time.sleep(0.2)
        R.add(C1, A, "compressed / decompressed size", f"{len(gz)} B / {len(msg)} B")
        R.add(C1, A, "idle RSS", mib(srv.idle_rss))
        R.add(C1, A, "peak RSS (VmHWM)", mib(srv.hwm() if srv.alive() else srv.max_rss_seen))
        R.add(C1, A, "time to answer", fmt_t(r["t_first"], 30))
        R.add(C1, A, "answer", response_summary(r["data"]))
        R.add(C1, A, "server", srv.exit_note())
    finally:
        srv.stop()


def c1_stream(binary, R):
    A = "Converse, 32 × 1 MiB unknown-field messages on one open stream"
    msg, n = unknown_fields_msg(1024 * 1024 - 16)
    env = envelope(msg)
    count = 32
    srv = Server(binary)
    try:
        s = connect(srv.port, timeout=20)
        s.sendall(request("POST", CONVERSE, [("Content-Type", "application/connect+proto"),
                                             ("Transfer-Encoding", "chunked"),
                                             ("Connection", "close")], None, length=False))
        t0 = time.monotonic()
        err = None
        sent = 0
        for i in range(count):
            try:
                s.sendall(chunk(env))
                sent += 1
            except OSError as e:
                err = e.__class__.__name__
                break
            if not srv.alive():
                break
        t_sent = time.monotonic() - t0
        time.sleep(1.0)
        st = srv.status()
        R.add(C1, A, "messages sent / wire bytes", f"{sent} / {sent*len(env)/2**20:.1f} MiB"
              + (f" (send error {err})" if err else ""))
        R.add(C1, A, "send time", fmt_t(t_sent))
        R.add(C1, A, "idle RSS", mib(srv.idle_rss))
        R.add(C1, A, "RSS while the stream is open (1 s after last send)",
              mib(st.get("VmRSS", 0)) if st else "n/a (server gone)")
        peak = st.get("VmHWM", 0) if st else srv.max_rss_seen
        R.add(C1, A, "peak RSS while open (VmHWM)", mib(peak))
        R.add(C1, A, "amplification (peak − idle) / wire bytes",
              f"{(peak - srv.idle_rss) * 1024 / max(1, sent * len(env)):.0f}×")
        # end the stream and read the answer
        try:
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        t1 = time.monotonic()
        rd = Reader(s, t1).pump(t1 + 20)
        s.close()
        time.sleep(0.3)
        data = bytes(rd.data)
        h, b = head_body(data)
        if b"chunked" in h.lower():
            b = dechunk(b)
        nmsg = 0
        end = b""
        i = 0
        while i + 5 <= len(b):
            fl, ln = struct.unpack(">BI", b[i:i + 5])
            if fl & 2:
                end = b[i + 5:i + 5 + ln]
            else:
                nmsg += 1
            i += 5 + ln
        R.add(C1, A, "after end of stream: answer",
              f"status {statuses(data)[:1]}, {nmsg} messages, end {short(end, 150)}, "
              f"first byte {fmt_t(rd.t_first, 20)}")
        R.add(C1, A, "peak RSS overall (VmHWM)", mib(srv.hwm() if srv.alive() else srv.max_rss_seen))
        R.add(C1, A, "server", srv.exit_note())
    finally:
        srv.stop()


# --------------------------------------------------------------------------
# class 2: slow readers
# --------------------------------------------------------------------------

C2 = "2. Slow readers"


def c2_slow_readers(binary, R, name_len):
    A = f"50 Introduce streams never read (COUNT=100000, name {name_len} B, SO_RCVBUF 4 KiB)"
    srv = Server(binary, {"ELIZA_INTRODUCE_COUNT": "100000"})
    socks = []
    try:
        body = envelope(pb_string(1, "x" * name_len))
        req = request("POST", INTRODUCE, [("Content-Type", "application/connect+proto")], body)
        t0 = time.monotonic()
        for _ in range(50):
            s = connect(srv.port, rcvbuf=4096)
            s.sendall(req)
            socks.append(s)
        samples = {}
        for mark in (1, 5, 10):
            while time.monotonic() - t0 < mark:
                time.sleep(0.05)
            samples[mark] = srv.status().get("VmRSS", 0)
        t_say = time.monotonic()
        ok = say_once(srv.port, 2.0)
        t_say = time.monotonic() - t_say
        R.add(C2, A, "idle RSS", mib(srv.idle_rss))
        R.add(C2, A, "RSS at 1 s / 5 s / 10 s",
              " / ".join(mib(samples[k]) for k in (1, 5, 10)))
        R.add(C2, A, "peak RSS (VmHWM)", mib(srv.hwm() if srv.alive() else srv.max_rss_seen))
        R.add(C2, A, "legit Say during the attack", f"{'ok' if ok else 'FAILED'} in {fmt_t(t_say)}")
        for s in socks:
            s.close()
        socks = []
        time.sleep(2)
        R.add(C2, A, "RSS 2 s after the readers close", mib(srv.status().get("VmRSS", 0)))
        R.add(C2, A, "server", srv.exit_note())
    finally:
        for s in socks:
            s.close()
        srv.stop()


# --------------------------------------------------------------------------
# class 3: limits that answer nothing
# --------------------------------------------------------------------------

C3 = "3. Limits that answer nothing"


def c3a_envelope(binary, R):
    A = "(a) Converse: envelope declaring 0xFFFFFF00 bytes"
    srv = Server(binary)
    try:
        s = connect(srv.port)
        s.sendall(request("POST", CONVERSE, [("Content-Type", "application/connect+proto"),
                                             ("Transfer-Encoding", "chunked")], None, length=False))
        t0 = time.monotonic()
        s.sendall(chunk(struct.pack(">BI", 0, 0xFFFFFF00)))
        rd = Reader(s, t0).pump(t0 + 15)
        R.add(C3, A, "time to first response byte", fmt_t(rd.t_first, 15))
        R.add(C3, A, "connection closed by server", fmt_t(rd.t_eof, 15))
        R.add(C3, A, "answer", response_summary(rd.data) if rd.data else "nothing")
        # keep going: does the server keep reading the declared body?
        if rd.t_eof is None:
            sent = 0
            err = None
            s.setblocking(True)
            s.settimeout(2)
            t1 = time.monotonic()
            try:
                blob = chunk(b"\0" * 65536)
                while time.monotonic() - t1 < 8 and sent < 64 * 2**20:
                    s.sendall(blob)
                    sent += 65536
            except OSError as e:
                err = e.__class__.__name__
            rd2 = Reader(s, t1).pump(time.monotonic() + 2)
            R.add(C3, A, "then 8 s of body: bytes accepted",
                  f"{sent/2**20:.1f} MiB" + (f" then {err}" if err else "")
                  + f"; answer: {response_summary(rd2.data) if rd2.data else 'nothing'}")
            R.add(C3, A, "RSS after that", mib(srv.status().get("VmRSS", 0)))
        s.close()
        R.add(C3, A, "server", srv.exit_note())
    finally:
        srv.stop()


def c3b_json(binary, R, size_mib):
    A = f"(b) unary JSON body of {size_mib} MiB (limit 4 MiB)"
    srv = Server(binary)
    try:
        n = size_mib * 2**20
        pre, post = b'{"sentence":"', b'"}'
        body = pre + b"a" * (n - len(pre) - len(post)) + post
        req = request("POST", SAY, [("Content-Type", "application/json")], body)
        r = post_and_read(srv.port, req, 20)
        R.add(C3, A, "bytes sent before the server stopped reading",
              f"{r['sent']/2**20:.2f} of {len(req)/2**20:.2f} MiB"
              + (f" ({r['send_error']})" if r["send_error"] else ""))
        R.add(C3, A, "time to first response byte", fmt_t(r["t_first"], 20))
        R.add(C3, A, "close", fmt_t(r["t_eof"], 20) + (f" ({r['rd_error']})" if r["rd_error"] else ""))
        R.add(C3, A, "answer", response_summary(r["data"]) if r["data"] else "nothing (closed)")
        R.add(C3, A, "server", srv.exit_note())
    finally:
        srv.stop()


def c3c_get(binary, R, nparams=None, long_value=None):
    msg = urllib.parse.quote('{"sentence":"hi"}', safe="")
    if nparams is not None:
        A = f"(c) Connect GET with {nparams} × '&a=b'"
        extra = "&a=b" * nparams
    else:
        A = f"(c) Connect GET with one {long_value}-byte parameter"
        extra = "&a=" + "b" * long_value
    path = f"{SAY}?connect=v1&encoding=json&message={msg}{extra}"
    srv = Server(binary)
    try:
        req = request("GET", path, [("Connection", "close")], None, length=False)
        r = post_and_read(srv.port, req, 15)
        R.add(C3, A, "request-target length", f"{len(path)} B")
        R.add(C3, A, "time to answer / close", f"{fmt_t(r['t_first'], 15)} / {fmt_t(r['t_eof'], 15)}")
        R.add(C3, A, "answer", response_summary(r["data"], 120) if r["data"] else
              "nothing (closed)" + (f" {r['rd_error']}" if r["rd_error"] else ""))
        R.add(C3, A, "server", srv.exit_note())
    finally:
        srv.stop()


def c3d_expect(binary, R):
    A = "(d) Expect: 100-continue, Content-Length 1 GiB"
    srv = Server(binary)
    try:
        s = connect(srv.port)
        hdr = request("POST", SAY, [("Content-Type", "application/proto"),
                                    ("Expect", "100-continue"),
                                    ("Content-Length", str(2**30))], b"", length=False)
        t0 = time.monotonic()
        s.sendall(hdr)
        rd = Reader(s, t0).pump(t0 + 3, stop=lambda d: b"\r\n\r\n" in d)
        first = bytes(rd.data)
        R.add(C3, A, "first answer (3 s wait, no body sent)",
              (short(first, 200) + f" after {fmt_t(rd.t_first)}") if first else "nothing")
        R.add(C3, A, "sends 100 Continue", "yes" if b" 100 " in first[:20] else "no")
        if rd.t_eof is None:
            sent, err = 0, None
            s.setblocking(True)
            s.settimeout(2)
            t1 = time.monotonic()
            blob = b"\x78\x00" * 32768
            got = bytearray()
            try:
                while time.monotonic() - t1 < 15 and sent < 256 * 2**20:
                    s.sendall(blob)
                    sent += len(blob)
                    if readable(s, 0):
                        b = s.recv(65536)
                        if not b:
                            break
                        got += b
            except OSError as e:
                err = e.__class__.__name__
            t_stop = time.monotonic() - t1
            rd2 = Reader(s, t1).pump(time.monotonic() + 2)
            got += rd2.data
            R.add(C3, A, "body bytes accepted before the server stopped reading",
                  f"{sent/2**20:.1f} MiB in {fmt_t(t_stop)}" + (f" then {err}" if err else ""))
            R.add(C3, A, "answer after the body", response_summary(got) if got else "nothing")
        s.close()
        R.add(C3, A, "server", srv.exit_note())
    finally:
        srv.stop()


# --------------------------------------------------------------------------
# class 4: framing
# --------------------------------------------------------------------------

C4 = "4. Framing"
SAY_PB = pb_string(1, "hi")


def raw_case(binary, R, attack, raw, wait=10.0, exact=False, then=None):
    srv = Server(binary)
    try:
        s = connect(srv.port)
        t0 = time.monotonic()
        try:
            s.sendall(raw)
            if then:
                s.sendall(then)
        except OSError as e:
            R.add(C4, attack, "send", e.__class__.__name__)
        rd = Reader(s, t0).pump(t0 + wait)
        s.close()
        st = statuses(rd.data)
        R.add(C4, attack, "status line(s)", ", ".join(map(str, st)) if st else "none")
        resps = split_responses(rd.data)
        if len(resps) > 1:
            R.add(C4, attack, "responses, as framed", "; ".join(
                f"{code} {short(body, 100)}" for code, body in resps))
        if exact:
            R.add(C4, attack, "exact bytes sent back", short(rd.data, 600))
        else:
            R.add(C4, attack, "answer", response_summary(rd.data, 160))
        R.add(C4, attack, "time to first byte / close",
              f"{fmt_t(rd.t_first, wait)} / {fmt_t(rd.t_eof, wait)}"
              + (f" ({rd.error})" if rd.error else ""))
        if not srv.alive():
            R.add(C4, attack, "server", srv.exit_note())
    finally:
        srv.stop()


def c4_all(binary, R):
    body = b'{"sentence":"hi"}'
    for v in ["-1", "0x7", "7, 7", "18446744073709551617", "99999999999999999999999"]:
        raw = (f"POST {SAY} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               f"Content-Length: {v}\r\n\r\n").encode() + body
        raw_case(binary, R, f"Content-Length: {v}", raw, exact=True)
    raw = (f"POST {SAY} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           f"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\n").encode() + body
    raw_case(binary, R, "chunk size fffffffffffffffff1", raw, exact=True)
    pb = [("Content-Type", "application/proto")]
    raw_case(binary, R, "header value with NUL (X-Foo: a\\0b)",
             request("POST", SAY, pb + [("X-Foo", "a\0b"), ("Connection", "close")], SAY_PB))
    raw_case(binary, R, "path …/Say%00junk",
             request("POST", SAY + "%00junk", pb + [("Connection", "close")], SAY_PB))
    raw_case(binary, R, "raw NUL byte in the path, then junk",
             request("POST", SAY + "\0junk", pb + [("Connection", "close")], SAY_PB))
    raw_case(binary, R, "Content-Type: application/proto\\0junk",
             request("POST", SAY, [("Content-Type", "application/proto\0junk"),
                                   ("Connection", "close")], SAY_PB))
    raw_case(binary, R, "HTTP/1.1 without Host",
             request("POST", SAY, pb + [("Connection", "close")], SAY_PB, host=False))
    # absolute form: the port is only known once the server runs
    srv_port_marker = "PORT"
    srv = Server(binary)
    try:
        s = connect(srv.port)
        raw = request("POST", f"http://127.0.0.1:{srv.port}{SAY}",
                      pb + [("Connection", "close")], SAY_PB)
        t0 = time.monotonic()
        s.sendall(raw)
        rd = Reader(s, t0).pump(t0 + 10)
        s.close()
        A = f"absolute-form POST http://127.0.0.1:{srv_port_marker}{SAY}"
        st = statuses(rd.data)
        R.add(C4, A, "status line(s)", ", ".join(map(str, st)) if st else "none")
        R.add(C4, A, "answer", response_summary(rd.data, 160))
    finally:
        srv.stop()
    # variations of the above
    for v in ["+7", "7 7", ""]:
        raw = (f"POST {SAY} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               f"Content-Length: {v}\r\n\r\n").encode() + body
        raw_case(binary, R, f"Content-Length: {v!r} (variation)", raw, exact=True)
    raw = (f"POST {SAY} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           f"Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n").encode() + body
    raw_case(binary, R, "chunk size ffffffffffffffff (fits 64 bits; variation)", raw, exact=True, wait=5.0)
    raw_case(binary, R, "field name with NUL (X-F\\0oo: a; variation)",
             request("POST", SAY, pb + [("X-F\0oo", "a"), ("Connection", "close")], SAY_PB))
    raw_case(binary, R, "two Host fields (variation)",
             request("POST", SAY, pb + [("Host", "a"), ("Connection", "close")], SAY_PB))
    keep = request("POST", SAY, pb, SAY_PB)
    raw_case(binary, R, "kept-alive 2nd request: path …/Say%00junk (variation)",
             keep + request("POST", SAY + "%00junk", pb + [("Connection", "close")], SAY_PB))
    raw_case(binary, R, "kept-alive 2nd request: raw NUL in the path (variation)",
             keep + request("POST", SAY + "\0junk", pb + [("Connection", "close")], SAY_PB))
    raw_case(binary, R, "kept-alive 2nd request: HTTP/1.1 without Host (variation)",
             keep + request("POST", SAY, pb + [("Connection", "close")], SAY_PB, host=False))
    raw_case(binary, R, "kept-alive 2nd request: Content-Length: 0x7 (variation)",
             keep + (f"POST {SAY} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     f"Content-Length: 0x7\r\n\r\n").encode() + body, exact=True, wait=3.0)
    raw_case(binary, R, "duplicate JSON keys {\"sentence\":\"a\",\"sentence\":\"b\"}",
             request("POST", SAY, [("Content-Type", "application/json"), ("Connection", "close")],
                     b'{"sentence":"a","sentence":"b"}'))
    raw_case(binary, R, "duplicate JSON keys {\"sentence\":\"a\",\"sentence\":\"hello\"} (which wins?)",
             request("POST", SAY, [("Content-Type", "application/json"), ("Connection", "close")],
                     b'{"sentence":"a","sentence":"hello"}'))


# --------------------------------------------------------------------------
# class 5: slow and idle peers
# --------------------------------------------------------------------------

C5 = "5. Slow and idle peers"
TRICKLE = (f"POST {SAY} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "X-Slow: a\r\n" * 2000).encode()


def legit_loop(port, window, first_max, t0, threads=4):
    """Runs `threads` loops of 1 s Say calls; counts over `window` s and
    keeps probing for the first success up to `first_max` s."""
    lock = threading.Lock()
    stats = {"ok": 0, "fail": 0, "first": None}

    def run():
        while True:
            now = time.monotonic() - t0
            if now > first_max or (now > window and stats["first"] is not None):
                return
            ok = say_once(port, 1.0)
            end = time.monotonic() - t0
            with lock:
                if end <= window:
                    stats["ok" if ok else "fail"] += 1
                if ok and stats["first"] is None:
                    stats["first"] = end
                elif not ok and end - (now) < 0.05:
                    pass
            if not ok:
                time.sleep(0.05)

    ths = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(first_max + 5)
    return stats


def c5_baseline(binary, R, window):
    A = "no attack (baseline)"
    srv = Server(binary)
    try:
        st = legit_loop(srv.port, window, window, time.monotonic())
        R.add(C5, A, f"legit Say ok / failed in {window:.0f} s (4 loops, 1 s timeout)",
              f"{st['ok']} / {st['fail']}")
        R.add(C5, A, "time to first legit success", fmt_t(st["first"], window))
    finally:
        srv.stop()


def c5_attack(binary, R, n, trickle, window, first_max):
    A = (f"{n} connections trickling 1 header byte/s" if trickle
         else f"{n} idle connections (connected, silent)")
    srv = Server(binary)
    socks = []
    stop = threading.Event()
    closed = [0]
    try:
        t_open = time.monotonic()
        refused = 0
        for _ in range(n):
            try:
                s = socket.socket()
                s.settimeout(3)
                s.connect(("127.0.0.1", srv.port))
                s.setblocking(False)
                socks.append(s)
            except OSError:
                refused += 1
        t_open = time.monotonic() - t_open
        if trickle:
            for s in socks:
                try:
                    s.send(TRICKLE[:1])
                except OSError:
                    pass
        alive = [True] * len(socks)

        def attacker():
            i = 1
            while not stop.wait(1.0):
                for k, s in enumerate(socks):
                    if not alive[k]:
                        continue
                    try:
                        if trickle:
                            s.send(TRICKLE[i:i + 1])
                        else:  # detect closes without sending
                            b = s.recv(1, socket.MSG_PEEK)
                            if b == b"":
                                raise ConnectionResetError
                    except BlockingIOError:
                        pass
                    except OSError:
                        alive[k] = False
                        closed[0] += 1
                i += 1

        th = threading.Thread(target=attacker, daemon=True)
        th.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        st = legit_loop(srv.port, window, first_max, t0)
        rss = srv.status().get("VmRSS", 0)
        stop.set()
        th.join(3)
        R.add(C5, A, "connections opened (connect ok / failed), time",
              f"{len(socks)} / {refused}, {fmt_t(t_open)}")
        R.add(C5, A, f"legit Say ok / failed in {window:.0f} s (4 loops, 1 s timeout)",
              f"{st['ok']} / {st['fail']}")
        R.add(C5, A, "time to first legit success",
              fmt_t(st["first"], first_max))
        R.add(C5, A, "attacker connections closed by the server during the run",
              f"{closed[0]} of {len(socks)}")
        R.add(C5, A, "server RSS / threads",
              f"{mib(rss)} / {srv.status().get('Threads', '?')}")
        R.add(C5, A, "server", srv.exit_note())
    finally:
        stop.set()
        for s in socks:
            s.close()
        srv.stop()


def open_trickle(port, n):
    socks = []
    for _ in range(n):
        try:
            s = socket.socket()
            s.settimeout(3)
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
            s.send(TRICKLE[:1])
            socks.append(s)
        except OSError:
            pass
    return socks


def c5_ramp(binary, R, counts=(256, 512, 1024, 2048, 4096), window=3.0):
    """How many trickling connections it takes to deny service: for each
    count, a fresh server, that many connections trickling a header byte a
    second, and legitimate calls for `window` s."""
    A = "ramp: N connections trickling 1 header byte/s"
    denied = None
    for n in counts:
        srv = Server(binary)
        stop = threading.Event()
        socks = []
        try:
            socks = open_trickle(srv.port, n)

            def trickle():
                i = 1
                while not stop.wait(1.0):
                    for s in socks:
                        try:
                            s.send(TRICKLE[i:i + 1])
                        except OSError:
                            pass
                    i += 1

            th = threading.Thread(target=trickle, daemon=True)
            th.start()
            time.sleep(0.5)
            st = legit_loop(srv.port, window, window, time.monotonic())
            stop.set()
            th.join(3)
            R.add(C5, A, f"N = {n} ({len(socks)} connected): legit Say ok / failed in {window:.0f} s",
                  f"{st['ok']} / {st['fail']}")
            if st["ok"] == 0 and denied is None:
                denied = n
        finally:
            stop.set()
            for s in socks:
                s.close()
            srv.stop()
    R.add(C5, A, "slow connections it takes to deny service",
          f"{denied}" if denied else f"not reached up to {counts[-1]}")


def c5_keepalive_idle(binary, R, n, window, first_max):
    """n connections that each make one call with keep-alive, then idle."""
    A = f"{n} kept-alive connections idle after one call"
    srv = Server(binary)
    socks = []
    try:
        body = pb_string(1, "hello")
        req = request("POST", SAY, [("Content-Type", "application/proto")], body)
        served = 0
        for _ in range(n):
            try:
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=3)
                s.sendall(req)
                r = Reader(s).pump(time.monotonic() + 2, stop=lambda d: b"Hello" in d)
                if b"Hello" in r.data:
                    served += 1
                socks.append(s)
            except OSError:
                pass
        R.add(C5, A, "connections that got their one call served / opened", f"{served} / {len(socks)}")
        time.sleep(0.5)
        t0 = time.monotonic()
        st = legit_loop(srv.port, window, first_max, t0)
        R.add(C5, A, f"legit Say ok / failed in {window:.0f} s (4 loops, 1 s timeout)",
              f"{st['ok']} / {st['fail']}")
        R.add(C5, A, "time to first legit success", fmt_t(st["first"], first_max))
        closed = 0
        for s in socks:
            try:
                s.setblocking(False)
                if s.recv(1, socket.MSG_PEEK) == b"":
                    closed += 1
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        R.add(C5, A, "idle connections closed by the server to make room", f"{closed} of {len(socks)}")
        R.add(C5, A, "server", srv.exit_note())
    finally:
        for s in socks:
            s.close()
        srv.stop()


# --------------------------------------------------------------------------

C6 = "6. Messages"


def c6_note(binary, R):
    R.add(C6, "response error body over the client's cap", "measured",
          "skipped: the eliza server cannot be made to send a large error body "
          "(it needs a custom handler); covered by tests/hostile/test_hostile_client")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("server", help="path to eliza_server")
    ap.add_argument("--label", default="BEFORE")
    ap.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--only", default="", help="comma list of: 1,2,3a,3b,3c,3d,4,5,5k,5r,6")
    ap.add_argument("--window", type=float, default=10.0, help="class 5 counting window (s)")
    ap.add_argument("--first-max", type=float, default=30.0,
                    help="class 5: how long to wait for the first legit success (s)")
    a = ap.parse_args()
    binary = os.path.abspath(a.server)
    if not os.access(binary, os.X_OK):
        sys.exit(f"not executable: {binary}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    only = set(x for x in a.only.split(",") if x)

    def on(k):
        return not only or k in only or k[0] in only

    R = Results()
    plan = [
        ("1", lambda: c1_unary(binary, R)),
        ("1", lambda: c1_gzip(binary, R)),
        ("1", lambda: c1_stream(binary, R)),
        ("2", lambda: c2_slow_readers(binary, R, 1)),
        ("2", lambda: c2_slow_readers(binary, R, 100)),
        ("3a", lambda: c3a_envelope(binary, R)),
        ("3b", lambda: c3b_json(binary, R, 5)),
        ("3b", lambda: c3b_json(binary, R, 16)),
        ("3c", lambda: c3c_get(binary, R, nparams=100)),
        ("3c", lambda: c3c_get(binary, R, nparams=200)),
        ("3c", lambda: c3c_get(binary, R, nparams=300)),
        ("3c", lambda: c3c_get(binary, R, nparams=500)),
        ("3c", lambda: c3c_get(binary, R, nparams=1000)),
        ("3c", lambda: c3c_get(binary, R, nparams=3000)),
        ("3c", lambda: c3c_get(binary, R, nparams=10000)),
        ("3c", lambda: c3c_get(binary, R, long_value=8000)),
        ("3c", lambda: c3c_get(binary, R, long_value=16000)),
        ("3d", lambda: c3d_expect(binary, R)),
        ("4", lambda: c4_all(binary, R)),
        ("5", lambda: c5_baseline(binary, R, a.window)),
        ("5", lambda: c5_attack(binary, R, 1030, True, a.window, a.first_max)),
        ("5", lambda: c5_attack(binary, R, 1100, False, a.window, a.first_max)),
        ("5k", lambda: c5_keepalive_idle(binary, R, 1100, a.window, a.first_max)),
        ("5r", lambda: c5_ramp(binary, R)),
        ("6", lambda: c6_note(binary, R)),
    ]
    t_start = time.time()
    for key, fn in plan:
        if not on(key):
            continue
        print(f"== class {key}", flush=True)
        try:
            fn()
        except Exception as e:  # record and continue
            R.add("errors", key, "exception", f"{e.__class__.__name__}: {e}")
    elapsed = time.time() - t_start

    rev = ""
    try:
        src = os.path.dirname(os.path.dirname(os.path.dirname(binary)))
        rev = subprocess.run(["git", "-C", src, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
    except Exception:
        pass
    os.makedirs(a.out_dir, exist_ok=True)
    md = [f"# Hostile-peer measurements: {a.label}", "",
          f"- server: `{binary}`" + (f" (source rev {rev})" if rev else ""),
          f"- date: {time.strftime('%Y-%m-%d %H:%M:%S')}, run took {elapsed:.0f} s",
          f"- machine: {os.cpu_count()} CPUs shared with other work: timings are approximate",
          f"- RLIMIT_NOFILE (script and server): {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}",
          "- every attack runs against a fresh server process started with port 0; "
          "RSS from /proc/PID/status (VmRSS, VmHWM); the server is killed if RSS passes 2 GiB",
          ""]
    for cls, rows in R.classes.items():
        md += [f"## {cls}", "", "| attack | figure | value |", "|---|---|---|"]
        for attack, fig, val in rows:
            md.append(f"| {md_cell(attack)} | {md_cell(fig)} | {md_cell(val)} |")
        md.append("")
    path = os.path.join(a.out_dir, f"{a.label}.md")
    with open(path, "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(a.out_dir, f"{a.label}.json"), "w") as f:
        json.dump(R.classes, f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
