"""A throwaway PostgreSQL server on a loopback port, started from the image's binaries."""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if not candidates:
        raise PostgresUnavailable("no PostgreSQL server binaries (pg_ctl) found")
    return Path(candidates[0]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    directory: Path
    port: int
    bin_dir: Path
    run_as: str | None

    @property
    def dsn_base(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}"

    def url(self, database: str) -> str:
        return f"{self.dsn_base}/{database}"

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        return ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    @classmethod
    def start(cls) -> PostgresServer:
        bin_dir = _bin_dir()
        directory = Path(tempfile.mkdtemp(prefix="chatshop-pg-"))
        run_as = None
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root.
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root and no 'postgres' user") from None
            os.chown(directory, user.pw_uid, user.pw_gid)
            run_as = "postgres"
        server = cls(directory, free_port(), bin_dir, run_as)
        data = str(directory / "data")
        server._run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                    "--no-sync")
        server._run(
            "pg_ctl", "-D", data, "-l", str(directory / "log"), "-w", "-t", "30",
            "-o", f"-p {server.port} -k {directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300",
            "start",
        )
        return server

    async def admin(self, statement: str) -> None:
        """Run one statement as the superuser, on the `postgres` database."""
        import asyncpg

        conn = await asyncpg.connect(host="127.0.0.1", port=self.port, user="postgres",
                                     database="postgres")
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    def create_database(self, name: str) -> str:
        """Create an empty database (call it outside an event loop); returns its URL."""
        asyncio.run(self.admin(f'CREATE DATABASE "{name}"'))
        return self.url(name)

    def _run(self, *args: str) -> None:
        result = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{args[0]} failed: {result.stderr.strip() or result.stdout.strip()}"
            )

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "-w",
                      "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
