#!/usr/bin/python3
"""Holds HTTP/2 request bodies open on one connection, for test_edge_limits (Debian's python3-h2).

Usage: h2_hold.py PORT SOURCE STREAMS KIB HOLD_MS
Connects from SOURCE (a loopback address) to 127.0.0.1:PORT with cleartext HTTP/2 (prior knowledge), opens STREAMS
unauthenticated POSTs to /api/v1/conversations declaring KIB KiB of body each, sends all of it but the last byte on every
stream (respecting flow control), then waits HOLD_MS answering nothing but PINGs. If the connection is still open it
sends each stream's last byte and reads the answers for up to 5 s. Prints one JSON line:
  {"sent": bytes sent, "closed": whether the server ended the connection, "closed_after_ms": ms after the last byte
   sent while holding (or null), "statuses": the :status of each answered stream}
Exits 2 when python3-h2 is missing, 1 on a connection failure before anything was sent.
"""
import json
import socket
import sys
import time

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
except ImportError:
    print("h2_hold.py: python3-h2 is missing", file=sys.stderr)
    sys.exit(2)


class Closed(Exception):
    pass


def pump(sock, conn, timeout):
    """Reads what the server sent for up to `timeout` s and answers what h2 must (window updates, PING acks)."""
    sock.settimeout(timeout)
    events = []
    try:
        data = sock.recv(1 << 20)
        if not data:
            raise Closed()
        events = conn.receive_data(data)
    except socket.timeout:
        pass
    except (ConnectionError, OSError) as e:
        raise Closed() from e
    out = conn.data_to_send()
    if out:
        try:
            sock.sendall(out)
        except OSError as e:
            raise Closed() from e
    for ev in events:
        if isinstance(ev, h2.events.ConnectionTerminated):
            raise Closed()
    return events


def main():
    port, source, streams, kib, hold_ms = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    total = kib * 1024
    ids = []
    for _ in range(streams):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "POST"), (":path", "/api/v1/conversations"), (":scheme", "http"),
                                (":authority", "127.0.0.1"), ("content-type", "application/json"),
                                ("content-length", str(total))])
        ids.append(sid)
    sock.sendall(conn.data_to_send())
    sent = {sid: 0 for sid in ids}
    statuses = {}
    chunk = b" " * 16384
    closed, closed_after = False, None
    last_byte_at = time.monotonic()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(sent[s] < total - 1 for s in ids):
            progressed = False
            for sid in ids:
                n = min(len(chunk), total - 1 - sent[sid], conn.local_flow_control_window(sid),
                        conn.max_outbound_frame_size)
                if n > 0:
                    conn.send_data(sid, chunk[:n])
                    sent[sid] += n
                    progressed = True
            out = conn.data_to_send()
            if out:
                try:
                    sock.sendall(out)
                except OSError as e:
                    raise Closed() from e
            pump(sock, conn, 0.001 if progressed else 0.2)
        last_byte_at = time.monotonic()
        end = last_byte_at + hold_ms / 1000
        while time.monotonic() < end:
            pump(sock, conn, 0.1)
        # still open: end every body and read the answers
        for sid in ids:
            conn.send_data(sid, b"}" if total > 0 else b"", end_stream=True)
            sent[sid] += 1
        sock.sendall(conn.data_to_send())
        end = time.monotonic() + 5
        while time.monotonic() < end and len(statuses) < len(ids):
            for ev in pump(sock, conn, 0.2):
                if isinstance(ev, h2.events.ResponseReceived):
                    statuses[ev.stream_id] = int(dict(ev.headers).get(":status", "0"))
    except (Closed, h2.exceptions.ProtocolError):
        closed = True
        closed_after = round((time.monotonic() - last_byte_at) * 1000)
    sock.close()
    print(json.dumps({"sent": sum(sent.values()), "closed": closed, "closed_after_ms": closed_after,
                      "statuses": [statuses[s] for s in ids if s in statuses]}))


if __name__ == "__main__":
    main()
