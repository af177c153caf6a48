"""A throwaway Redis server on a loopback port, started from the image's ``redis-server``.

Nothing is persisted (``--save "" --appendonly no``); the data directory is a temp dir removed
by ``stop()``. ``restart()`` stops the process and starts a new one on the same port, so a
test can see what its clients do when Redis goes away and comes back empty.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.postgres import free_port

START_TIMEOUT_S = 10.0
POLL_EVERY_S = 0.01
_BIND_ATTEMPTS = 3


class RedisUnavailable(RuntimeError):
    pass


def _binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if found is None:
        raise RedisUnavailable("no redis-server binary found (apt-get install redis-server)")
    return found


def ping(port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis server answers PING on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    directory: Path
    port: int
    binary: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    @property
    def log_path(self) -> Path:
        return self.directory / "redis.log"

    @classmethod
    def start(cls) -> RedisServer:
        """A new server on a free port; raises ``RedisUnavailable`` if it can't run."""
        binary = _binary()
        directory = Path(tempfile.mkdtemp(prefix="chatshop-redis-"))
        error: RedisUnavailable | None = None
        for _ in range(_BIND_ATTEMPTS):  # the free port may be taken before redis binds it
            server = cls(directory, free_port(), binary)
            try:
                server._launch()
                return server
            except RedisUnavailable as failed:
                error = failed
        shutil.rmtree(directory, ignore_errors=True)
        assert error is not None
        raise error

    def _launch(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                   "--dir", str(self.directory), "--save", "", "--appendonly", "no",
                   "--daemonize", "no", "--logfile", str(self.log_path)]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ping(self.port):
            code = self.process.poll()
            if code is not None:
                self.process = None
                raise RedisUnavailable(f"redis-server exited with {code}: {self._log_tail()}")
            if time.monotonic() > deadline:
                self._kill()
                raise RedisUnavailable(f"redis-server did not answer PING within "
                                       f"{START_TIMEOUT_S}s: {self._log_tail()}")
            time.sleep(POLL_EVERY_S)  # polling the server's readiness, bounded by the deadline

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return "(no log)"

    def _kill(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()

    def kill(self) -> None:
        """Stop the server but keep its port and directory, for restart() later."""
        self._kill()

    def restart(self) -> None:
        """Stop the server and start an empty one on the same port (clients reconnect)."""
        self._kill()
        self._launch()

    def stop(self) -> None:
        try:
            self._kill()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
