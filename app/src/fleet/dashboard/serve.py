"""The dashboard's process: ``python -m fleet.dashboard.serve <streamlit run arguments>``.

It starts the dashboard's metrics endpoint (FLEET_DASHBOARD_METRICS_LISTEN, see
:mod:`fleet.dashboard.instruments`) and then runs Streamlit in the same process, exactly as
``python -m streamlit`` does: the pages' fetch timings land in the registry the endpoint
serves, and the endpoint answers from the start, before any browser opens a page (Streamlit
runs the app's script only for a browser session).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from fleet.config import ConfigError
from fleet.dashboard import instruments
from fleet.dashboard.settings import load_dashboard_settings
from fleet.exporter import ExporterError

log = logging.getLogger("fleet.dashboard")


def main(argv: Sequence[str]) -> int:
    try:
        listen = load_dashboard_settings().metrics_listen
        if listen is not None:
            instruments.serve(listen)
    except (ConfigError, ExporterError) as exc:
        print(f"fleet dashboard: {exc}", file=sys.stderr)
        return 2
    from streamlit.web.cli import main as streamlit

    sys.argv = ["streamlit", *argv]
    streamlit(prog_name="streamlit")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
