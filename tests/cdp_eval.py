#!/usr/bin/env python3
# cdp_eval.py - drive a page in headless Chromium over the DevTools protocol (a minimal WebSocket client, stdlib
# only): open about:blank, navigate to URL and wait for its load event, run each JavaScript expression (awaiting promises) in turn, print each result as one JSON line.
# Usage: cdp_eval.py CHROMIUM_FLAGS_FILE URL EXPR...   (flags file: one chromium argument per line)
import base64, json, os, re, socket, struct, subprocess, sys, time, urllib.request

def ws_connect(url):
    m = re.match(r"ws://([^:/]+):(\d+)(/.*)", url)
    host, port, path = m.group(1), int(m.group(2)), m.group(3)
    s = socket.create_connection((host, port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    if b" 101 " not in buf.split(b"\r\n")[0]:
        raise SystemExit("websocket handshake refused: %r" % buf[:200])
    return s, buf.split(b"\r\n\r\n", 1)[1]

def ws_send(s, text):
    data = text.encode()
    mask = os.urandom(4)
    n = len(data)
    hdr = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                           bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                           bytes([0x80 | 127]) + struct.pack(">Q", n))
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

class Reader:
    def __init__(self, s, rest):
        self.s, self.buf = s, rest
    def need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise SystemExit("websocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out
    def frame(self):
        b0, b1 = self.need(2)
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack(">H", self.need(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self.need(8))[0]
        return b0 & 0x0f, self.need(n)

def main():
    flags = [l for l in open(sys.argv[1]).read().splitlines() if l]
    url, exprs = sys.argv[2], sys.argv[3:]
    p = subprocess.Popen(["chromium"] + flags + ["--remote-debugging-port=0", "about:blank"],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        ws = None
        deadline = time.time() + 30
        while time.time() < deadline and not ws:
            line = p.stderr.readline()
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                ws = m.group(1)
        if not ws:
            raise SystemExit("chromium did not start its DevTools endpoint")
        port = re.match(r"ws://[^:]+:(\d+)/", ws).group(1)
        page = None
        for _ in range(100):
            targets = json.load(urllib.request.urlopen("http://127.0.0.1:%s/json/list" % port))
            page = next((t for t in targets if t.get("type") == "page"), None)
            if page:
                break
            time.sleep(0.1)
        s, rest = ws_connect(page["webSocketDebuggerUrl"])
        r = Reader(s, rest)
        mid = 0

        def call(method, params, until_event=None):
            nonlocal mid
            mid += 1
            ws_send(s, json.dumps({"id": mid, "method": method, "params": params}))
            got, seen = None, until_event is None
            while got is None or not seen:
                op, data = r.frame()
                if op != 1:
                    continue
                msg = json.loads(data)
                if msg.get("id") == mid:
                    got = msg
                elif until_event and msg.get("method") == until_event:
                    seen = True
            return got

        call("Page.enable", {})
        call("Page.navigate", {"url": url}, until_event="Page.loadEventFired")
        for e in exprs:
            res = call("Runtime.evaluate", {"expression": e, "awaitPromise": True, "returnByValue": True})
            res = res.get("result", {})
            print(json.dumps(res.get("result", {}).get("value", res.get("exceptionDetails"))))
        s.close()
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()

main()
