#!/usr/bin/env python3
"""bench/store_client.py: the HTTP/1.1 clients of bench/store.sh (issue 7), standard library only, loopback only.

  store_client.py seed    --port N --token T --count 200 --messages K
        creates COUNT conversations (POST /api/v1/conversations) on one keep-alive connection and sends one message
        to K of them (POST .../messages: starts a run, which fails at once without a Hermes upstream); prints
        conversations=, messages=, seconds=
  store_client.py refresh --port N --refresh-token hlrt_... --count 300 [--interval-ms M] [--deadline S]
        a sequential chain of POST /api/v1/auth/refresh (each call uses the refresh token the previous one returned)
        on one keep-alive connection, with a pause of M ms after each answer (so that the chain spans several
        uploads instead of a fraction of one); prints n=, p50_ms=, p90_ms=, p99_ms=, max_ms=, mean_ms=, seconds=, and
        refresh_token= (the last one, so that a further chain can continue); stops early at the deadline (seconds)
  store_client.py upload  --port N --token T --conv conv_... --size BYTES --clients 4 --stop-file F [--deadline S]
        CLIENTS threads, each on its own keep-alive connection, upload a blob of SIZE bytes in a loop
        (POST /api/v1/conversations/:id/blobs, raw body, Content-Type application/octet-stream) and delete it again
        (DELETE .../blobs/:blobId) so that the disk use stays bounded; the first 16 bytes differ per upload so that
        every upload is new content for the content-addressed store (--same-content: every upload the same bytes, not
        deleted, so that the store finds the file present and skips writing it). Stops when F exists or at the deadline; prints
        started= on stderr once every client has sent its first request, then uploads=, busy_503=, errors=,
        bytes=, seconds=, upload_p50_ms=, upload_max_ms=
Exit status 1 when a request got an unexpected status (503 server_busy of an upload is counted and retried).
"""
import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time


def conn(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=120)


def call(c, method, path, body=None, headers=None):
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    return r.status, data


def pct(sorted_ms, p):
    # nearest rank: the smallest value with at least p % of the samples at or below it
    if not sorted_ms:
        return float("nan")
    k = max(1, -(-len(sorted_ms) * p // 100))
    return sorted_ms[int(k) - 1]


def die(msg):
    print("store_client.py: " + msg, file=sys.stderr)
    sys.exit(1)


def seed(a):
    c = conn(a.port)
    h = {"Authorization": "Bearer " + a.token, "Content-Type": "application/json"}
    t0 = time.monotonic()
    ids = []
    for i in range(a.count):
        st, data = call(c, "POST", "/api/v1/conversations", json.dumps({"title": "bench conversation %d" % i}), h)
        if st != 201:
            die("POST /api/v1/conversations answered %d: %s" % (st, data[:200]))
        ids.append(json.loads(data)["conversation"]["id"])
    sent = 0
    for cid in ids[: a.messages]:
        body = json.dumps({"content": "hello from the benchmark", "client_message_id": "bench-%s" % cid})
        st, data = call(c, "POST", "/api/v1/conversations/%s/messages" % cid, body, h)
        if st != 202:
            die("POST .../messages answered %d: %s" % (st, data[:200]))
        sent += 1
    print("conversations=%d\nmessages=%d\nseconds=%.2f" % (len(ids), sent, time.monotonic() - t0))


def refresh(a):
    c = conn(a.port)
    h = {"Content-Type": "application/json"}
    token = a.refresh_token
    lat = []
    t0 = time.monotonic()
    for _ in range(a.count):
        if a.deadline and time.monotonic() - t0 > a.deadline:
            break
        body = json.dumps({"refresh_token": token})
        s = time.perf_counter()
        st, data = call(c, "POST", "/api/v1/auth/refresh", body, h)
        lat.append((time.perf_counter() - s) * 1000)
        if st != 200:
            die("POST /api/v1/auth/refresh answered %d: %s" % (st, data[:200]))
        token = json.loads(data)["refresh_token"]["token"]
        if a.interval_ms:
            time.sleep(a.interval_ms / 1000)
    secs = time.monotonic() - t0
    s = sorted(lat)
    print("n=%d\np50_ms=%.2f\np90_ms=%.2f\np99_ms=%.2f\nmax_ms=%.2f\nmean_ms=%.2f\nseconds=%.2f\nrefresh_token=%s"
          % (len(s), pct(s, 50), pct(s, 90), pct(s, 99), s[-1], statistics.fmean(s), secs, token))


def upload(a):
    h_auth = {"Authorization": "Bearer " + a.token}
    lock = threading.Lock()
    stats = {"uploads": 0, "busy": 0, "errors": 0, "bytes": 0, "first": 0}
    times = []
    stop = threading.Event()
    t0 = time.monotonic()

    def stopping():
        return stop.is_set() or os.path.exists(a.stop_file) or (a.deadline and time.monotonic() - t0 > a.deadline)

    def client(n):
        c = conn(a.port)
        buf = bytearray(os.urandom(1 << 20)) * (a.size >> 20) + bytearray(a.size & ((1 << 20) - 1))
        if a.same_content:
            buf[:16] = b"same-content-000"
        i = 0
        first = True
        while not stopping():
            i += 1
            if not a.same_content:
                buf[:16] = b"%08d%08d" % (n, i)
            h = dict(h_auth)
            h["Content-Type"] = "application/octet-stream"
            h["Content-Disposition"] = 'attachment; filename="bench-%d-%d.bin"' % (n, i)
            if first:
                with lock:
                    stats["first"] += 1
                    if stats["first"] == a.clients:
                        print("started=%.2f" % (time.monotonic() - t0), file=sys.stderr, flush=True)
                first = False
            s = time.perf_counter()
            try:
                st, data = call(c, "POST", "/api/v1/conversations/%s/blobs" % a.conv, buf, h)
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    stats["errors"] += 1
                print("store_client.py: upload %d-%d: %s" % (n, i, e), file=sys.stderr)
                c.close()
                c = conn(a.port)
                time.sleep(0.2)
                continue
            ms = (time.perf_counter() - s) * 1000
            if st == 503:
                with lock:
                    stats["busy"] += 1
                time.sleep(0.05)
                continue
            if st != 201:
                with lock:
                    stats["errors"] += 1
                print("store_client.py: upload answered %d: %s" % (st, data[:200]), file=sys.stderr)
                time.sleep(0.2)
                continue
            blob = json.loads(data)["blob"]["id"]
            with lock:
                stats["uploads"] += 1
                stats["bytes"] += a.size
                times.append(ms)
            if a.same_content:
                continue
            st, data = call(c, "DELETE", "/api/v1/conversations/%s/blobs/%s" % (a.conv, blob), None, h_auth)
            if st != 200:
                with lock:
                    stats["errors"] += 1
                print("store_client.py: DELETE blob answered %d: %s" % (st, data[:200]), file=sys.stderr)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(a.clients)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    except KeyboardInterrupt:
        stop.set()
    s = sorted(times)
    print("uploads=%d\nbusy_503=%d\nerrors=%d\nbytes=%d\nseconds=%.2f\nupload_p50_ms=%.0f\nupload_max_ms=%.0f"
          % (stats["uploads"], stats["busy"], stats["errors"], stats["bytes"], time.monotonic() - t0,
             pct(s, 50), s[-1] if s else float("nan")))
    if stats["errors"]:
        sys.exit(1)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--token", required=True)
    s.add_argument("--count", type=int, default=200)
    s.add_argument("--messages", type=int, default=0)
    s = sub.add_parser("refresh")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--refresh-token", required=True)
    s.add_argument("--count", type=int, default=300)
    s.add_argument("--interval-ms", type=float, default=0)
    s.add_argument("--deadline", type=float, default=0)
    s = sub.add_parser("upload")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--token", required=True)
    s.add_argument("--conv", required=True)
    s.add_argument("--size", type=int, default=50 << 20)
    s.add_argument("--clients", type=int, default=4)
    s.add_argument("--same-content", action="store_true")
    s.add_argument("--stop-file", required=True)
    s.add_argument("--deadline", type=float, default=0)
    a = p.parse_args()
    {"seed": seed, "refresh": refresh, "upload": upload}[a.cmd](a)


if __name__ == "__main__":
    main()
