"""Fleet Tracing: realistic fleet telemetry, an ETL into Cassandra 5.0, and its schema."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fleet-tracing")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
