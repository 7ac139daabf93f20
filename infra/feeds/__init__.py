"""Provincial feed intake, shared by the services that take feeds: one mechanism, each service's own rules.

One concern per module: `parsing` (the body unpacked and split into records, within `FeedLimits`), `ledger`
(the aggregates that remember records, refusals and batches), `work` (one chunk's unit of work over the
event store), `report` (a batch's arithmetic), `intake` (the service that takes a batch exactly once),
`read_model` (the quarantine and batch reports, queryable) and `routes` (the HTTP edge). The names other
code uses are here; the routes are imported from `infra.feeds.routes`, so a service layer that takes feed
records does not import FastAPI.
"""

from infra.feeds.intake import CHUNK_SIZE, RECORD_TYPES, BatchInterrupted, FeedIntake
from infra.feeds.ledger import (
    FeedBatch,
    FeedLedger,
    QuarantinedRecord,
    batch_aggregate_id,
    feed_aggregate_id,
    ledger_id,
)
from infra.feeds.parsing import (
    DEFAULT_LIMITS,
    MAX_BYTES,
    MAX_RECORDS,
    BatchRefused,
    FeedLimits,
    FeedLine,
    FeedRecord,
    content_batch_id,
    parse_batch,
    parse_line,
    read_batch,
    reason_of,
    reasons_of,
    split_lines,
    unpacked,
)
from infra.feeds.read_model import (
    FEED_BATCHES,
    FEED_QUARANTINE,
    FEED_ROUTES,
    create_feed_indexes,
)
from infra.feeds.report import Report
from infra.feeds.work import RecordHandler, Work, stored_among

__all__ = [
    "CHUNK_SIZE", "DEFAULT_LIMITS", "FEED_BATCHES", "FEED_QUARANTINE", "FEED_ROUTES", "MAX_BYTES", "MAX_RECORDS",
    "RECORD_TYPES", "BatchInterrupted", "BatchRefused", "FeedBatch", "FeedIntake", "FeedLedger", "FeedLimits",
    "FeedLine", "FeedRecord", "QuarantinedRecord", "RecordHandler", "Report", "Work", "batch_aggregate_id",
    "content_batch_id", "create_feed_indexes", "feed_aggregate_id", "ledger_id", "parse_batch", "parse_line",
    "read_batch", "reason_of", "reasons_of", "split_lines", "stored_among", "unpacked",
]
