"""Prometheus metrics of the process, served at `/metrics` by the web server.

Counted where things happen: messages and commands in the bot (`pegasus.bot`, `pegasus.tree`),
flush latency in the activity flusher, API requests in the web server. Gauges that describe
state (database pool use, scheduler backlog) are read when `/metrics` is scraped.

Each process has its own figures: scrape every process (the bot's shards and `python -m pegasus
web`) and sum them in Prometheus.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "API_REQUESTS",
    "API_SECONDS",
    "COMMANDS",
    "DB_POOL",
    "FLUSH_SECONDS",
    "INTERACTION_SECONDS",
    "MESSAGES",
    "REGISTRY",
    "SCHEDULER_BACKLOG",
]

# A registry of our own: no process or platform collectors from other libraries, and tests can
# read exactly what Pegasus counts.
REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES = Counter(
    "pegasus_messages_processed",
    "Messages the bot handled (every message hook ran).",
    registry=REGISTRY,
)
FLUSH_SECONDS = Histogram(
    "pegasus_activity_flush_seconds",
    "Time to write one batch of buffered activity (XP, message counts, voice).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
COMMANDS = Counter(
    "pegasus_commands",
    "Slash commands by name and outcome (ok, refused: a message explained why, error).",
    ["command", "outcome"],
    registry=REGISTRY,
)
INTERACTION_SECONDS = Histogram(
    "pegasus_interaction_seconds",
    "Time from receiving an application command to finishing its handler.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0, 10.0),
    registry=REGISTRY,
)
DB_POOL = Gauge(
    "pegasus_db_pool_connections",
    "Database connections by state (in_use, idle, max); SQLite has one connection.",
    ["state"],
    registry=REGISTRY,
)
SCHEDULER_BACKLOG = Gauge(
    "pegasus_scheduler_backlog",
    "Scheduled actions that are due and not yet done (every process's, from the database).",
    registry=REGISTRY,
)
API_REQUESTS = Counter(
    "pegasus_api_requests",
    "REST API requests by route (the declared path), method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
API_SECONDS = Histogram(
    "pegasus_api_request_seconds",
    "Time to answer a REST API request.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY,
)
