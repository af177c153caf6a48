"""`chatshop run --workers N`: N worker processes serving one port, kept running.

Each worker is a child process ``python -m shop.cli run --worker``: exactly a ``chatshop
run`` of its own, reading the same environment, binding HTTP_PORT with SO_REUSEPORT so the
kernel spreads connections among them. A subprocess rather than ``multiprocessing``: nothing
has to be pickled, nothing is inherited from the supervisor (forking a process that has
threads or an event loop is unsafe, and spawn re-imports everything anyway), and stopping,
crashing and exit codes are those of a plain process, the same as under systemd.

The supervisor forwards SIGTERM and SIGINT to the workers and waits for their graceful
shutdown; it restarts a worker that exits on its own, after a growing pause, and gives up
(exit status 1) when one keeps failing right after start (a bad setting, a port in use).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field

from shop.settings import Settings

log = logging.getLogger(__name__)
WORKER_ENV = "CHATSHOP_WORKER"  # the worker's number (1…N), for its log lines
RESTART_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
# A worker that ran this long before exiting crashed in service, not at start.
STARTED_AFTER_S = 30.0
MAX_START_FAILURES = 5
# A worker drains for up to 20 s, then makes a last event pass and closes.
STOP_TIMEOUT_S = 60.0
_CLEAN_STOP = (0, -signal.SIGTERM, -signal.SIGINT)  # killed by our signal before its handlers


def workers_problem(settings: Settings, workers: int) -> str | None:
    """Why `workers` processes cannot serve with these settings, or None."""
    if workers <= 1:
        return None
    if settings.webhook_base_url is None:
        return (f"--workers {workers} needs webhook mode (set WEBHOOK_BASE_URL): several "
                "long-polling processes would take each other's updates from getUpdates")
    if not settings.redis_url:
        return (f"--workers {workers} needs REDIS_URL: conversation state, duplicate "
                "checks and send limits must be shared by the workers, not kept in each")
    return None


@dataclass
class Supervisor:
    """Keeps `count` copies of `command` running until stopped."""

    command: Sequence[str]
    count: int
    restart_delays: Sequence[float] = RESTART_DELAYS_S
    started_after: float = STARTED_AFTER_S
    max_start_failures: int = MAX_START_FAILURES
    stop_timeout: float = STOP_TIMEOUT_S
    _stopping: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _signal: int = field(default=signal.SIGTERM, init=False)
    _running: dict[int, asyncio.subprocess.Process] = field(default_factory=dict, init=False)
    _gave_up: bool = field(default=False, init=False)

    async def run(self) -> int:
        """Run the workers until SIGTERM/SIGINT (or until one keeps failing at start);
        0 when every worker ended cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop, sig)
        try:
            clean = await asyncio.gather(*(self._keep(n) for n in range(1, self.count + 1)))
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        return 0 if all(clean) and not self._gave_up else 1

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Ask every worker to shut down gracefully (forwarding `sig`)."""
        if not self._stopping.is_set():
            log.info("stopping %d worker(s) on %s", len(self._running),
                     signal.Signals(sig).name)
        self._signal = sig
        self._stopping.set()
        for process in self._running.values():
            _send(process, sig)

    async def _keep(self, number: int) -> bool:
        """Run worker `number` until the stop, restarting it when it exits on its own;
        whether it ended cleanly."""
        loop = asyncio.get_running_loop()
        failures = 0
        while not self._stopping.is_set():
            started = loop.time()
            env = {**os.environ, WORKER_ENV: str(number)}
            process = await asyncio.create_subprocess_exec(*self.command, env=env)
            self._running[number] = process
            log.info("worker %d started (pid %d)", number, process.pid)
            if self._stopping.is_set():  # the stop came while it was starting
                _send(process, self._signal)
            code = await self._wait(number, process)
            del self._running[number]
            if self._stopping.is_set():
                log.info("worker %d (pid %d) stopped with exit status %s", number,
                         process.pid, code)
                return code in _CLEAN_STOP
            ran = loop.time() - started
            failures = failures + 1 if ran < self.started_after else 1
            if failures >= self.max_start_failures:
                log.error("worker %d failed %d times in a row right after start; giving up",
                          number, failures)
                self._gave_up = True
                self.stop()
                return False
            delay = self.restart_delays[min(failures, len(self.restart_delays)) - 1]
            log.warning("worker %d (pid %d) exited with status %s after %.1f s; restarting "
                        "in %.1f s", number, process.pid, code, ran, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        return True

    async def _wait(self, number: int, process: asyncio.subprocess.Process) -> int:
        """The worker's exit status; once stopping, killed after `stop_timeout`."""
        exited = asyncio.ensure_future(process.wait())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait([exited, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not exited.done():
            try:
                await asyncio.wait_for(asyncio.shield(exited), self.stop_timeout)
            except TimeoutError:
                log.error("worker %d (pid %d) still running %.0f s after the stop; killing it",
                          number, process.pid, self.stop_timeout)
                process.kill()
        return await exited


def _send(process: asyncio.subprocess.Process, sig: int) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)


async def supervise(command: Sequence[str], count: int) -> int:
    """Run `count` workers of `command` until SIGTERM/SIGINT; the exit status."""
    return await Supervisor(command, count).run()
