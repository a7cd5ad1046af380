"""The shipper as a Windows service (pywin32), installed by deploy/windows/install.ps1.

The Service Control Manager starts ``pythonservice.exe``, which loads ``ShipperService`` from this
module. ``SvcDoRun`` loads the config file (``%ProgramData%\\mpwatch\\shipper.toml`` unless the
``MPWATCH_SHIPPER_CONFIG`` environment variable of the service names another), writes a line to the
Application event log, and runs the same ``Shipper`` as ``mpwatch ship`` on its own asyncio loop until
``SvcStop`` asks it to stop: reading stops, what was read is sent and checkpointed (at most
``retry.shutdown_timeout_s``), and the stop is logged. A failure (a config error, a state folder that
cannot be written) is logged as an error event and re-raised, so the service ends as failed and the
recovery actions set by install.ps1 (``sc.exe failure``) restart it.

Everything that needs pywin32 sits behind ``sys.platform == "win32"``; the rest (``ServiceRunner``,
the default paths) is plain Python that imports and is tested on any platform. Type-check the Windows
part on Linux with ``mypy --platform win32`` (types-pywin32).

Command line on Windows (pywin32's own handling): ``python -m shipper.windows_service install|start|
stop|remove|debug``; without arguments the module hosts the service for the SCM.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import ntpath
import os
import sys
import threading
from collections.abc import Mapping

from prometheus_client import CollectorRegistry

from shipper.config import WINDOWS_DATA_DIR, WINDOWS_LOG_FOLDERS, ShipperConfig, load_config
from shipper.metrics import ShipperMetrics, serve
from shipper.paths import DEFAULT_GLOBS
from shipper.pipeline import RunSummary, Shipper

SERVICE_NAME = "mpwatch-shipper"
DISPLAY_NAME = "mpwatch shipper"
DESCRIPTION = (
    "Tails the SMS / Configuration Manager and IIS logs of this site system and delivers every record "
    "at least once to Kafka (mpwatch)."
)
CONFIG_VARIABLE = "MPWATCH_SHIPPER_CONFIG"
CONFIG_NAME = "shipper.toml"
LOG_NAME = "shipper.log"

log = logging.getLogger("mpwatch.shipper.service")


def data_dir(environ: Mapping[str, str]) -> str:
    """``%ProgramData%\\mpwatch`` (``WINDOWS_DATA_DIR`` when ProgramData is not set)."""
    base = environ.get("ProgramData") or environ.get("PROGRAMDATA")
    return ntpath.join(base, "mpwatch") if base else WINDOWS_DATA_DIR


def config_path(environ: Mapping[str, str]) -> str:
    """The config file the service reads: ``MPWATCH_SHIPPER_CONFIG``, else ``shipper.toml`` in
    ``data_dir``."""
    return environ.get(CONFIG_VARIABLE) or ntpath.join(data_dir(environ), CONFIG_NAME)


def windows_log_patterns(folders: tuple[str, ...] = WINDOWS_LOG_FOLDERS) -> list[str]:
    """The globs install.ps1 writes for ``folders``: each folder's default patterns (``*.log``,
    ``*.lo_``, ``W3SVC*\\u_ex*.log``, ``W3SVC*\\ex*.log``) spelled out, not the folder itself, because a
    folder is only expanded when it exists at start, and an MP's log folder appears with its install."""
    return [ntpath.join(folder, glob.replace("/", "\\")) for folder in folders for glob in DEFAULT_GLOBS]


def configure_logging(path: str, level: int = logging.INFO) -> logging.Handler:
    """Send the shipper's log to ``path`` (rotated at 10 MB, 5 kept): a service has no console."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=10 << 20, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the shipper reports outages itself
    return handler


class ServiceRunner:
    """Runs one ``Shipper`` on a private event loop in the calling thread; ``stop`` may be called from
    any other thread (the SCM's control handler) and makes ``run`` return after a clean shutdown."""

    def __init__(self, config: ShipperConfig) -> None:
        self.config = config
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = threading.Event()
        self.started = threading.Event()

    def run(self) -> RunSummary:
        """Ship until ``stop``; serves /metrics when the config has a ``metrics_port``."""
        registry = CollectorRegistry()
        server = None
        if self.config.metrics_port is not None:
            server, _thread = serve(registry, self.config.metrics_port, self.config.metrics_host)
        try:
            return asyncio.run(self._main(ShipperMetrics(registry)))
        finally:
            if server is not None:
                server.shutdown()  # type: ignore[attr-defined]

    async def _main(self, metrics: ShipperMetrics) -> RunSummary:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested.is_set():
            self._stop.set()
        shipper = Shipper(self.config, metrics)
        log.info(
            "shipping %s to %s as host %s",
            ", ".join(self.config.paths),
            shipper.output.describe(),
            self.config.host,
        )
        self.started.set()
        return await shipper.run(self._stop)

    def stop(self) -> None:
        """Ask the shipper to stop (thread-safe; before ``run`` started, ``run`` stops at once)."""
        self._stop_requested.set()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)


def summary_text(summary: RunSummary) -> str:
    """One line for the event log about a finished run."""
    text = f"shipped {summary.records} records in {summary.batches} batches"
    if not summary.delivered_all:
        text += "; stopped before every record read was confirmed (they are sent again on the next start)"
    if not summary.checkpoint_saved:
        text += "; the last checkpoint could not be written"
    return text


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import traceback

    import servicemanager
    import win32event
    import win32service
    import win32serviceutil

    class ShipperService(win32serviceutil.ServiceFramework):
        """The Windows service: SCM start -> ``SvcDoRun`` (ships until stopped), SCM stop -> ``SvcStop``."""

        _svc_name_ = SERVICE_NAME
        _svc_display_name_ = DISPLAY_NAME
        _svc_description_ = DESCRIPTION

        def __init__(self, args: list[str]) -> None:
            super().__init__(args)
            self.runner: ServiceRunner | None = None
            self.stopped = win32event.CreateEvent(None, True, False, None)
            self.wait_hint_ms = 30_000

        def SvcStop(self) -> None:
            self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING, waitHint=self.wait_hint_ms)
            servicemanager.LogInfoMsg(f"{SERVICE_NAME}: stop requested; sending what was read")
            if self.runner is not None:
                self.runner.stop()
            win32event.SetEvent(self.stopped)

        def SvcDoRun(self) -> None:
            path = config_path(os.environ)
            try:
                configure_logging(ntpath.join(data_dir(os.environ), LOG_NAME))
                config = load_config(path)
                self.wait_hint_ms = int((config.retry.shutdown_timeout_s + 20) * 1000)
                self.runner = ServiceRunner(config)
                if win32event.WaitForSingleObject(self.stopped, 0) == win32event.WAIT_OBJECT_0:
                    self.runner.stop()  # stopped while starting
                servicemanager.LogInfoMsg(
                    f"{SERVICE_NAME}: started with {path}: {len(config.paths)} path(s) to {config.output} "
                    f"as host {config.host}"
                )
                summary = self.runner.run()
            except Exception as exc:
                log.exception("the shipper service failed")
                servicemanager.LogErrorMsg(f"{SERVICE_NAME} failed ({path}): {exc}\n{traceback.format_exc()}")
                raise  # the SCM sees a failed service and applies the recovery actions
            servicemanager.LogInfoMsg(f"{SERVICE_NAME}: stopped; {summary_text(summary)}")

    def main(argv: list[str]) -> None:
        """Host the service for the SCM (no arguments) or hand a command to pywin32."""
        if len(argv) == 1:
            servicemanager.Initialize()
            servicemanager.PrepareToHostSingle(ShipperService)
            servicemanager.StartServiceCtrlDispatcher()
        else:
            win32serviceutil.HandleCommandLine(ShipperService, argv=argv)

    if __name__ == "__main__":
        main(sys.argv)
