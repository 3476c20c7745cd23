"""How ``fleet dashboard`` starts Streamlit: the command line and its environment."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

APP = Path(__file__).with_name("app.py")
DEFAULT_PORT = 8501
DEFAULT_ADDRESS = "127.0.0.1"


def streamlit_command(port: int, address: str, python: str = sys.executable) -> list[str]:
    """``streamlit run`` on the entry script, through :mod:`fleet.dashboard.serve` (which
    starts the metrics endpoint first, in the same process): headless, no usage statistics, no
    file watcher (an installed app does not change under it), nothing fetched from outside, no error
    details in the browser: an uncaught exception shows a generic message there, its type,
    message and traceback (file paths) go to the log only (``none``; ``false`` would still show
    the traceback)."""
    return [
        python,
        "-m",
        "fleet.dashboard.serve",
        "run",
        str(APP),
        f"--server.port={port}",
        f"--server.address={address}",
        "--server.headless=true",
        "--server.fileWatcherType=none",
        "--browser.gatherUsageStats=false",
        "--client.toolbarMode=viewer",
        "--client.showErrorDetails=none",
        # Behind the proxy too: Streamlit's own XSRF check on uploads and its messages capped
        # (MB; the largest page, a day of one device, is under 5).
        "--server.enableXsrfProtection=true",
        "--server.maxMessageSize=20",
        "--server.maxUploadSize=1",
        "--theme.base=light",
    ]


def streamlit_environment(base: Mapping[str, str], env_file: Path | None) -> dict[str, str]:
    """The environment of the Streamlit process: ours, plus ``--env-file`` as FLEET_ENV_FILE so
    that the app reads the same settings."""
    env = dict(base)
    if env_file is not None:
        env["FLEET_ENV_FILE"] = str(env_file.resolve())
    return env
