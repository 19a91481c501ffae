"""The evaluator process of `cascade serve`: one evaluation loop beside the API processes.

In the API process the loop would share one interpreter lock with the request path
(measured with bench/ingest.py on 2 cores: the single endpoint's rate 0.19 of raw
INSERTs with the loop on a thread, 0.27 with it in its own process; p99 85 ms -> ~55 ms).
Here it also runs at a lower CPU priority (NICE): a burst of requests is answered first,
and the loop catches up in larger, cheaper batches right after.

Parent side, `EvaluatorProcess`: starts `python -m backend.runtime.evaluator` with the
serve spec in its environment (its own session: a terminal's Ctrl-C reaches the parent,
which stops it), restarts it after an abnormal exit (with back-off), and stops it with
SIGTERM on shutdown (it finishes its batch first). Child side, `main()`: the loop, its
listening connection (wake-ups, cache drops), and a watch on the parent (an orphan stops).
Its metrics go to prometheus_client's multiprocess files, which the API processes show.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from backend.core import pg_events
from backend.core.config import Settings
from backend.core.heap import freeze_startup_objects
from backend.evaluation.metrics import process_dir
from backend.evaluation.worker import EvaluationLoop
from backend.runtime.spec import ServeSpec

log = logging.getLogger(__name__)

NICE = 5  # below the request path, still far above anything idle
PARENT_CHECK_S = 1.0
RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)
STOP_TIMEOUT_S = 20.0
HEALTHY_S = 60.0


class EvaluatorProcess:
    """The child evaluator of one `cascade serve`: `start()`, then `stop()`."""

    def __init__(self, spec: ServeSpec):
        self.spec = spec
        self.metrics_dir = Path(spec.evaluator_metrics)
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._spawning = threading.Lock()  # a restart and `stop()` never cross
        self._watcher: threading.Thread | None = None

    @staticmethod
    def spec_for(
        settings: Settings, database_url: str, rpc_url: str, *, run_jobs: bool = True
    ) -> ServeSpec:
        """The spec of this serve process, with its evaluator's metrics directory."""
        directory = process_dir(settings.data_dir, os.getpid())
        return ServeSpec(settings, database_url, rpc_url, str(directory), run_jobs)

    def start(self) -> None:
        _forget_dead_serves(self.metrics_dir.parent)
        shutil.rmtree(self.metrics_dir, ignore_errors=True)  # this serve counts anew
        self.metrics_dir.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        self.process = self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="evaluator-watch", daemon=True)
        self._watcher.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            **self.spec.environ(),
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.runtime.evaluator"], env=env, start_new_session=True
        )
        log.info("evaluator process started", extra={"pid": process.pid})
        return process

    def _watch(self) -> None:
        """Restart the child when it dies on its own (a crash, an OOM kill); the back-off
        starts again after a child that lived HEALTHY_S."""
        failures = 0
        while not self._stopping.is_set():
            process = self.process
            if process is None:
                return
            began = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - began >= HEALTHY_S:
                failures = 0
            delay = RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S) - 1)]
            log.error(
                "evaluator process exited; restarting",
                extra={"pid": process.pid, "exit_code": code, "restart_in_s": delay},
            )
            failures += 1
            if self._stopping.wait(delay):
                return
            with self._spawning:
                if self._stopping.is_set():
                    return
                self.process = self._spawn()

    def stop(self) -> None:
        with self._spawning:  # after this, no restart can start a child nobody stops
            self._stopping.set()
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.error("evaluator process did not stop; killing it")
                process.kill()
                process.wait()
        if self._watcher is not None:
            self._watcher.join(5)
        shutil.rmtree(self.metrics_dir, ignore_errors=True)


def _forget_dead_serves(parent: Path) -> None:
    """Drop the metrics directories of serve processes that are gone (a SIGKILL leaves its)."""
    if not parent.is_dir():
        return
    for directory in parent.iterdir():
        if directory.name.isdigit() and not _alive(int(directory.name)):
            shutil.rmtree(directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def main() -> None:
    from backend.core.logs import configure_logging

    spec = ServeSpec.from_environ()
    configure_logging(spec.settings.log_format, spec.settings.log_level)
    os.nice(NICE)
    asyncio.run(_serve(spec, os.getppid()))


async def _serve(spec: ServeSpec, parent: int) -> None:
    loop = EvaluationLoop(spec.database_url, spec.settings.effective_secret_key)
    pg_events.on(pg_events.INTERACTIONS, lambda _payload: loop.wake())
    pg_events.on_gap(loop.wake)
    listener = pg_events.Listener(spec.database_url, name="cascade-evaluator")
    listener.start()
    here = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        here.add_signal_handler(sig, loop.stop)
    watch = asyncio.create_task(_orphaned(parent, loop))
    try:
        await loop.run(ready=_ready)
    finally:
        watch.cancel()
        await listener.stop()
    log.info("evaluator stopped", extra={"pid": os.getpid()})


def _ready() -> None:
    freeze_startup_objects()  # its full collections would pause batches as they pause requests
    log.info("evaluator ready", extra={"pid": os.getpid()})


async def _orphaned(parent: int, loop: EvaluationLoop) -> None:
    """Stop the loop once the parent is gone (it was SIGKILLed: nobody would stop us)."""
    while os.getppid() == parent:  # noqa: ASYNC110 - no event to wait on: a pid to poll
        await asyncio.sleep(PARENT_CHECK_S)
    log.warning("serve process gone; evaluator stopping")
    loop.stop()


if __name__ == "__main__":
    main()
