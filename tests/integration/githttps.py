#!/usr/bin/env python3
"""githttps.py ROOT PORT CERT KEY USER TOKEN LOG: a git server over https as hosting
services run one, for tests: Debian's git-http-backend (smart HTTP) behind TLS with
Basic authentication (USER and TOKEN as the password; anything else is answered 401).
Every request is logged to LOG (method, path, the user it authenticated, status)."""
import base64
import http.server
import os
import ssl
import subprocess
import sys

ROOT, PORT, CERT, KEY, USER, TOKEN, LOG = sys.argv[1:8]
BACKEND = "/usr/lib/git-core/git-http-backend"


def log(line):
    with open(LOG, "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # stderr stays quiet; LOG has what tests read
        pass

    def authorized(self):
        want = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
        return self.headers.get("Authorization") == want

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status, headers, data):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def cgi(self):
        data = self.body() if self.command == "POST" else b""
        if not self.authorized():
            log(f"{self.command} {self.path} - 401")
            self.reply(401, [("WWW-Authenticate", 'Basic realm="git"')], b"")
            return
        path, _, query = self.path.partition("?")
        env = {"GIT_PROJECT_ROOT": ROOT, "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path, "QUERY_STRING": query,
               "REQUEST_METHOD": self.command, "REMOTE_USER": USER, "REMOTE_ADDR": "127.0.0.1",
               "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(data)),
               "PATH": os.environ["PATH"]}
        for k, v in self.headers.items():
            env["HTTP_" + k.upper().replace("-", "_")] = v
        out = subprocess.run([BACKEND], input=data, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().split("\r\n"):
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.split()[0])
            elif k:
                headers.append((k, v.strip()))
        log(f"{self.command} {path} {USER} {status}")
        self.reply(status, headers, payload)

    do_GET = do_POST = cgi


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
log("listening")
srv.serve_forever()
