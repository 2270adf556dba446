"""A web app that keeps notes in PostgreSQL (DATABASE_URL, through psql) and values in Redis
(REDIS_URL, a few lines of RESP), for tests/e2e/test_services.py.

  GET /                     "ok <release>"
  GET /pg/add?note=N        insert N (letters and digits) into the notes table
  GET /pg/notes             the notes, comma-separated, sorted
  GET /redis/set?key=K&value=V,  GET /redis/get?key=K

  python3 app.py probe HOST PORT    exit 0 if a TCP connection opens, else print why, exit 1
"""

import os
import re
import socket
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WORD = re.compile(r"^[A-Za-z0-9]{1,40}$")


def psql(sql: str, **variables: str) -> str:
    argv = ["psql", os.environ["DATABASE_URL"], "-v", "ON_ERROR_STOP=1", "-qAt", "-f", "-"]
    for name, value in variables.items():
        argv[2:2] = ["-v", f"{name}={value}"]
    done = subprocess.run(argv, input=sql, capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip())
    return done.stdout.strip()


def redis(*command: str) -> str:
    url = urlsplit(os.environ["REDIS_URL"])
    with socket.create_connection((url.hostname, url.port or 6379), timeout=10) as conn:
        stream = conn.makefile("rwb")
        for argv in (("AUTH", url.password or ""), command):
            stream.write(f"*{len(argv)}\r\n".encode())
            for part in argv:
                stream.write(f"${len(part.encode())}\r\n{part}\r\n".encode())
        stream.flush()
        replies = [read_reply(stream), read_reply(stream)]
    if replies[0] != "OK":
        raise RuntimeError(f"AUTH: {replies[0]}")
    return replies[1]


def read_reply(stream) -> str:
    line = stream.readline().decode().rstrip("\r\n")
    kind, rest = line[:1], line[1:]
    if kind == "$":
        if rest == "-1":
            return "(nil)"
        return stream.read(int(rest) + 2)[:-2].decode()
    if kind == "-":
        return f"error: {rest}"
    return rest


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if any(not WORD.fullmatch(value) for value in query.values()):
            return self.answer(400, "letters and digits only")
        try:
            if url.path == "/":
                body = f"ok v{os.environ.get('PAAS_RELEASE', '?')}"
            elif url.path == "/pg/add":
                psql("CREATE TABLE IF NOT EXISTS notes (note text);"
                     "INSERT INTO notes VALUES (:'note');", note=query["note"])
                body = "added"
            elif url.path == "/pg/notes":
                # psql prints nothing for CREATE TABLE with -At: the last line is the notes.
                output = psql("CREATE TABLE IF NOT EXISTS notes (note text);"
                              "SELECT coalesce(string_agg(note, ',' ORDER BY note), '')"
                              " FROM notes;")
                body = output.splitlines()[-1] if output else ""
            elif url.path == "/redis/set":
                body = redis("SET", query["key"], query["value"])
            elif url.path == "/redis/get":
                body = redis("GET", query["key"])
            else:
                return self.answer(404, "not found")
        except (KeyError, RuntimeError, OSError, subprocess.SubprocessError) as error:
            return self.answer(500, f"{type(error).__name__}: {error}")
        self.answer(200, body)

    def answer(self, status: int, body: str) -> None:
        data = (body + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def probe(host: str, port: str) -> int:
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            print(f"reachable: {host}:{port}")
            return 0
    except OSError as error:
        print(f"unreachable: {host}:{port}: {type(error).__name__}: {error}")
        return 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["probe"]:
        sys.exit(probe(sys.argv[2], sys.argv[3]))
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "5000"))), Handler) \
        .serve_forever()
