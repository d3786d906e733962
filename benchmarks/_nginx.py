"""A real nginx in front of a fake upstream, with the limits users meet behind one.

:func:`nginx` writes a configuration to a temporary directory (its own pid, log
and temp paths), starts ``nginx -p DIR -c DIR/nginx.conf`` in the foreground
and stops it afterwards. It listens on 127.0.0.1 only, one free port per
:class:`Block`, each proxying to the same upstream with one limit of its own:

- ``limit_conn``: at most ``conns`` connections handled at once
  (``limit_conn``; beyond it nginx answers at once with its 503 HTML page);
- ``limit_req``: ``rate`` requests a second with nginx's default burst of 0
  or a burst let in at once (``limit_req ... burst=5 nodelay``), refused with
  503 or with 429 (``limit_req_status``), never with ``Retry-After``;
- no limit: for an upstream that goes down, which nginx answers with 502.

Every block keys its limit on one constant, so the limit holds for the whole
client, and logs each request's status to ``access.log``, which
:meth:`Nginx.statuses` reads.

nginx is not installed by this module: where :func:`find` finds none, a
benchmark says so and runs without it (``apt-get install nginx``).
"""

from __future__ import annotations

import collections
import contextlib
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs


def find() -> str | None:
    """The nginx binary, or ``None`` where it is not installed."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


@attrs.frozen
class Block:
    """One ``server`` block: a name, and the limit directives it adds."""

    name: str
    zone: str = ""  # the http-level zone it needs
    limit: str = ""  # the server-level directives


def limit_conn(conns: int) -> Block:
    return Block(
        f"limit_conn {conns}",
        "limit_conn_zone $limit_key zone=conn:1m;",
        f"limit_conn conn {conns};",
    )


def limit_req(rate: int, status: int, burst: int = 0) -> Block:
    """``rate`` requests a second refused with ``status``; a ``burst`` is let in at once
    (``nodelay``), as nginx's docs suggest, where 0 (nginx's default) refuses any
    request sooner than ``1/rate`` after the last."""
    zone = f"req{status}b{burst}"
    extra = f" burst={burst} nodelay" if burst else ""
    return Block(
        f"limit_req {rate}r/s {status}" + (f" burst={burst} nodelay" if burst else ""),
        f"limit_req_zone $limit_key zone={zone}:1m rate={rate}r/s;",
        f"limit_req zone={zone}{extra}; limit_req_status {status};",
    )


PLAIN = Block("no limit")


def free_port() -> int:
    """A port nothing listens on now (bound, read, released: another could take it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def config(directory: Path, upstream: int, ports: dict[str, int], blocks: Sequence[Block]) -> str:
    """The whole nginx.conf: one worker, files under ``directory``, one server per block."""
    d = directory
    servers = "\n".join(
        f"""    server {{
        listen 127.0.0.1:{ports[b.name]};
        access_log {d}/access.log status;
        {b.limit}
        location / {{ proxy_pass http://127.0.0.1:{upstream}; }}
    }}"""
        for b in blocks
    )
    zones = "\n".join(f"    {b.zone}" for b in blocks if b.zone)
    return f"""daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    log_format status '$server_port $status';
    # One key for every request: the limit holds for the whole client, not per address.
    map $server_port $limit_key {{ default all; }}
{zones}
{servers}
}}
"""


class Nginx:
    """A running nginx: the base URL of each block, and the statuses it logged."""

    def __init__(self, directory: Path, ports: dict[str, int]) -> None:
        self.directory = directory
        self.ports = ports
        self._read = 0  # how much of access.log the last statuses() call read

    def base_url(self, block: Block) -> str:
        return f"http://127.0.0.1:{self.ports[block.name]}/api/v1"

    def statuses(self, block: Block) -> collections.Counter[int]:
        """The statuses ``block`` answered since the last call (nginx writes each at once)."""
        text = (self.directory / "access.log").read_text()
        new, self._read = text[self._read :], len(text)
        port = str(self.ports[block.name])
        return collections.Counter(
            int(status) for p, status in (line.split() for line in new.splitlines()) if p == port
        )


@contextlib.contextmanager
def nginx(binary: str, upstream: int, blocks: Sequence[Block]) -> Iterator[Nginx]:
    """nginx in front of ``127.0.0.1:upstream`` with ``blocks``; stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="bangwo8-nginx-") as tmp:
        d = Path(tmp)
        ports = {b.name: free_port() for b in blocks}
        (d / "nginx.conf").write_text(config(d, upstream, ports, blocks))
        (d / "access.log").touch()
        argv = [binary, "-p", str(d), "-c", str(d / "nginx.conf")]
        if _version(binary) >= (1, 19, 5):  # -e: no log outside DIR, even before the config
            argv += ["-e", str(d / "error.log")]
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_listening(proc, list(ports.values()), d)
            yield Nginx(d, ports)
        finally:
            proc.terminate()  # SIGTERM: nginx's fast shutdown, workers included
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _version(binary: str) -> tuple[int, ...]:
    """nginx's version (``nginx -v`` says ``nginx version: nginx/1.22.1`` on stderr)."""
    said = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False).stderr
    match = re.search(r"/(\d+)\.(\d+)\.(\d+)", said)
    return tuple(int(n) for n in match.groups()) if match else (0,)


def _wait_listening(proc: subprocess.Popen[str], ports: list[int], d: Path) -> None:
    deadline = time.monotonic() + 10
    for port in ports:
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                log = (d / "error.log").read_text() if (d / "error.log").exists() else ""
                raise RuntimeError(f"nginx exited with {proc.returncode}: {err}{log}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx is not listening on 127.0.0.1:{port} after 10 s")
            time.sleep(0.05)
