"""The schema as ordered, named migrations, recorded in ``schema_migrations``.

Every store applies the migrations it has not yet recorded, in order, when it is opened, each
inside the same transaction as its ``schema_migrations`` row, so a half-applied migration never
stays behind (PostgreSQL also takes an advisory lock, so replicas starting together migrate
once). Applied migrations are never edited: a change is a new migration at the end.

SQL is written once for both dialects (``BIGINT``, ``DOUBLE PRECISION`` and ``BOOLEAN`` mean
the same to SQLite's type affinity); a migration carries per-dialect statements only where the
two must differ.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    common: tuple[str, ...] = ()
    sqlite: tuple[str, ...] = ()
    postgresql: tuple[str, ...] = ()

    def statements(self, dialect: str) -> tuple[str, ...]:
        """The shared statements, then this dialect's own."""
        return self.common + (self.sqlite if dialect == "sqlite" else self.postgresql)


_ORIGINAL: list[tuple[str, list[str]]] = [
    (
        "0001_request_log",
        [
            """CREATE TABLE requests (
                id TEXT PRIMARY KEY,
                ts_ms BIGINT NOT NULL,
                tenant TEXT NOT NULL,
                key_id TEXT,
                client_format TEXT NOT NULL,
                requested_model TEXT NOT NULL,
                model TEXT,
                deployment TEXT,
                route TEXT,
                reason TEXT,
                attempts INTEGER NOT NULL,
                tier INTEGER,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                cache_creation_tokens BIGINT NOT NULL,
                cache_read_tokens BIGINT NOT NULL,
                cost_nusd BIGINT,
                credits_n BIGINT,
                baseline_nusd BIGINT,
                cache_savings_nusd BIGINT,
                latency_ms DOUBLE PRECISION NOT NULL,
                ttft_ms DOUBLE PRECISION,
                status INTEGER NOT NULL,
                stop_reason TEXT,
                refusal BOOLEAN NOT NULL,
                tool_calls INTEGER NOT NULL,
                tool_args_valid BOOLEAN,
                error_class TEXT,
                stream BOOLEAN NOT NULL,
                byok BOOLEAN NOT NULL,
                prompt TEXT,
                response TEXT
            )""",
            "CREATE INDEX requests_ts ON requests (ts_ms)",
            "CREATE INDEX requests_tenant_ts ON requests (tenant, ts_ms)",
            "CREATE INDEX requests_route_ts ON requests (route, ts_ms)",
            """CREATE TABLE attempts (
                request_id TEXT NOT NULL,
                n INTEGER NOT NULL,
                tier INTEGER NOT NULL,
                model TEXT NOT NULL,
                deployment TEXT NOT NULL,
                outcome TEXT NOT NULL,
                status INTEGER,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                cache_creation_tokens BIGINT NOT NULL,
                cache_read_tokens BIGINT NOT NULL,
                cost_nusd BIGINT,
                latency_ms DOUBLE PRECISION NOT NULL,
                error TEXT,
                PRIMARY KEY (request_id, n)
            )""",
        ],
    ),
    (
        "0002_keys_budgets",
        [
            """CREATE TABLE virtual_keys (
                id TEXT PRIMARY KEY,
                hash TEXT NOT NULL UNIQUE,
                prefix TEXT NOT NULL,
                tenant TEXT NOT NULL,
                name TEXT,
                allowed_models TEXT,
                budget_nusd BIGINT,
                budget_period TEXT,
                rpm INTEGER,
                tpm INTEGER,
                created_ms BIGINT NOT NULL,
                expires_ms BIGINT,
                revoked_ms BIGINT
            )""",
            """CREATE TABLE spend (
                key_id TEXT NOT NULL,
                period TEXT NOT NULL,
                spent_nusd BIGINT NOT NULL,
                reserved_nusd BIGINT NOT NULL,
                PRIMARY KEY (key_id, period)
            )""",
            """CREATE TABLE rate_windows (
                key_id TEXT NOT NULL,
                minute BIGINT NOT NULL,
                requests INTEGER NOT NULL,
                tokens BIGINT NOT NULL,
                PRIMARY KEY (key_id, minute)
            )""",
        ],
    ),
]


def _pico_money(table: str, columns: dict[str, str]) -> tuple[str, ...]:
    """Re-store nano-unit columns as pico-units (x1000, exact) under their new names."""
    add = [f"ALTER TABLE {table} ADD COLUMN {new} BIGINT" for new in columns.values()]
    copy = ", ".join(f"{new} = {old} * 1000" for old, new in columns.items())
    drop = [f"ALTER TABLE {table} DROP COLUMN {old}" for old in columns]
    return (*add, f"UPDATE {table} SET {copy}", *drop)


def _files_table(bytes_type: str) -> str:
    return f"""CREATE TABLE files (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        key_id TEXT,
        purpose TEXT NOT NULL,
        filename TEXT NOT NULL,
        bytes BIGINT NOT NULL,
        created_ms BIGINT NOT NULL,
        content {bytes_type} NOT NULL
    )"""


MIGRATIONS: tuple[Migration, ...] = (
    *(Migration(name, tuple(statements)) for name, statements in _ORIGINAL),
    Migration(
        # Nano-dollars could not hold every batch or cache price exactly (a $0.25/M model's
        # batched cache read is 12.5 nano-dollars a token); pico-dollars can.
        "0003_request_money_pico",
        (
            *_pico_money(
                "requests",
                {
                    "cost_nusd": "cost_pusd",
                    "credits_n": "credits_p",
                    "baseline_nusd": "baseline_pusd",
                    "cache_savings_nusd": "cache_savings_pusd",
                },
            ),
            *_pico_money("attempts", {"cost_nusd": "cost_pusd"}),
            # Per-model reports (latency percentiles, A/B) over a time window.
            "CREATE INDEX requests_model_ts ON requests (model, ts_ms)",
        ),
    ),
    Migration(
        # Covering indexes for exact percentiles: SQLite walks one model's latencies in order
        # (filtered on time, tenant and route from the index itself) to the rank it needs,
        # instead of sorting a million rows. They also serve per-model and A/B reports.
        "0004_percentile_indexes",
        (
            "DROP INDEX requests_model_ts",
            "CREATE INDEX requests_model_latency ON requests "
            "(model, latency_ms, ts_ms, tenant, route)",
            "CREATE INDEX requests_model_ttft ON requests (model, ttft_ms, ts_ms, tenant, route)",
        ),
    ),
    Migration(
        # Those indexes put every new row on a random leaf page: on a big request log every
        # row cost much more to write (docs/benchmarks.md). SQLite percentiles now
        # come from a per-millisecond histogram and the few buckets holding a wanted rank
        # (store/latency.py).
        "0005_drop_percentile_indexes",
        ("DROP INDEX requests_model_latency", "DROP INDEX requests_model_ttft"),
    ),
    Migration(
        # Shadow traffic: a candidate model's answers to requests another model served, apart
        # from ``requests`` so that spend, mix and savings stay those of the served traffic.
        "0006_shadows",
        (
            """CREATE TABLE shadows (
                id TEXT PRIMARY KEY,
                shadow_of TEXT NOT NULL,
                ts_ms BIGINT NOT NULL,
                tenant TEXT NOT NULL,
                key_id TEXT,
                route TEXT,
                served_model TEXT,
                model TEXT NOT NULL,
                deployment TEXT,
                status INTEGER NOT NULL,
                error_class TEXT,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                cache_creation_tokens BIGINT NOT NULL,
                cache_read_tokens BIGINT NOT NULL,
                cost_pusd BIGINT,
                latency_ms DOUBLE PRECISION NOT NULL,
                agrees BOOLEAN,
                response TEXT
            )""",
            "CREATE INDEX shadows_ts ON shadows (ts_ms)",
            "CREATE INDEX shadows_of ON shadows (shadow_of)",
        ),
    ),
    Migration(
        # Batch jobs (``tiergate/batch``): one row per job and one per request in it. Items are
        # claimed with a lease (owner, until), so replicas sharing PostgreSQL split a job's
        # work and a replica that dies mid-item leaves it to another once the lease runs out.
        "0007_batches",
        (
            """CREATE TABLE batches (
                id TEXT PRIMARY KEY,
                tenant TEXT NOT NULL,
                key_id TEXT,
                client_format TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                expires_ms BIGINT NOT NULL,
                cancel_ms BIGINT,
                ended_ms BIGINT,
                total INTEGER NOT NULL,
                endpoint TEXT,
                input_file_id TEXT,
                metadata TEXT
            )""",
            "CREATE INDEX batches_tenant ON batches (tenant, id)",
            """CREATE TABLE batch_items (
                batch_id TEXT NOT NULL,
                n INTEGER NOT NULL,
                custom_id TEXT NOT NULL,
                params TEXT NOT NULL,
                state TEXT NOT NULL,
                status INTEGER,
                tries INTEGER NOT NULL DEFAULT 0,
                lease_owner TEXT,
                lease_until_ms BIGINT,
                result TEXT,
                request_id TEXT,
                done_ms BIGINT,
                PRIMARY KEY (batch_id, n)
            )""",
            "CREATE INDEX batch_items_state ON batch_items (state, batch_id, n)",
        ),
        # Uploaded files (OpenAI's Files API, purpose "batch"): the bytes live in the store, so
        # every replica can read what another accepted. Only the bytes' type differs.
        sqlite=(_files_table("BLOB"), "CREATE INDEX files_tenant ON files (tenant, id)"),
        postgresql=(_files_table("BYTEA"), "CREATE INDEX files_tenant ON files (tenant, id)"),
    ),
    Migration(
        # Batch items sent through a provider's own batch API (``batch/upstream_relay.py``):
        # the deployment chosen ('' once an item must run live instead), the upstream request
        # as sent, and the provider's batch it went in; one row per provider batch, polled
        # under a lease like the items.
        "0008_upstream_batches",
        (
            "ALTER TABLE batch_items ADD COLUMN upstream TEXT",
            "ALTER TABLE batch_items ADD COLUMN upstream_params TEXT",
            "ALTER TABLE batch_items ADD COLUMN upstream_batch TEXT",
            # The relay's two lookups: a provider batch's items (upstream_batch = ?), and the
            # parked items not yet sent (upstream_batch IS NULL AND upstream > ''), without
            # scanning the queued items of jobs that run live.
            "CREATE INDEX batch_items_upstream ON batch_items (upstream_batch, upstream)",
            """CREATE TABLE upstream_batches (
                id TEXT PRIMARY KEY,
                job_id TEXT NOT NULL,
                deployment TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                next_poll_ms BIGINT NOT NULL,
                lease_owner TEXT,
                lease_until_ms BIGINT,
                cancel_ms BIGINT,
                ended_ms BIGINT
            )""",
            "CREATE INDEX upstream_batches_due ON upstream_batches (ended_ms, next_poll_ms)",
        ),
    ),
    Migration(
        # The batch job a request-log row answered (NULL for interactive traffic): spend and
        # mix count batch work, latency figures leave it out (an answer collected from a
        # provider batch has no latency of its own, and no one waited on a live-run item).
        "0009_request_batch",
        ("ALTER TABLE requests ADD COLUMN batch_id TEXT",),
    ),
    Migration(
        # The runner's claim reads the items a job still has to run. Parked items (waiting in
        # or for a provider batch, up to 24 hours) are queued too, and without this index
        # every claim walked past all of them (bench/store/claim_cost.py; figures in
        # docs/benchmarks.md).
        "0010_claimable_items",
        (
            "CREATE INDEX batch_items_claimable ON batch_items (state, batch_id, n) "
            "WHERE upstream_params IS NULL",
        ),
    ),
    Migration(
        # Responses API answers kept for ``previous_response_id`` (``store/responses.py``):
        # the whole conversation up to and including each answer, as Responses items, so a
        # follow-up is one primary-key read; looked up only within the caller's tenant.
        "0011_responses",
        (
            """CREATE TABLE responses (
                id TEXT PRIMARY KEY,
                tenant TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                model TEXT NOT NULL,
                conversation TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        # Budget reservations as leases (tiergate/tenancy/ledger.py): one row per request in
        # flight, owned by a live gateway process (``holders``, renewed every few seconds), so
        # what a killed process held, or a settlement that failed, is freed instead of holding
        # the key's budget for good. The old running total of reservations goes: it is the sum
        # of the rows now, and what it held before this migration belonged to no live request.
        "0012_budget_leases",
        (
            """CREATE TABLE reservations (
                id TEXT PRIMARY KEY,
                key_id TEXT NOT NULL,
                period TEXT NOT NULL,
                nano BIGINT NOT NULL,
                owner TEXT NOT NULL,
                until_ms BIGINT NOT NULL,
                settled_ms BIGINT
            )""",
            # The reservations a key holds now (summed by every reservation of the key):
            # settled rows kept for batch items are not in it.
            "CREATE INDEX reservations_held ON reservations (key_id, period) "
            "WHERE settled_ms IS NULL",
            "CREATE INDEX reservations_until ON reservations (until_ms)",
            """CREATE TABLE holders (
                owner TEXT PRIMARY KEY,
                until_ms BIGINT NOT NULL
            )""",
            "ALTER TABLE spend DROP COLUMN reserved_nusd",
        ),
    ),
    Migration(
        # Judged shadow and guarded rollout (``gateway/judging.py``, ``rollout_control.py``).
        # ``judgments``: one row per judged pair (a shadow pair, or a rolled-out answer with
        # the incumbent's), the verdict for the candidate and what the judge's calls cost,
        # apart from ``requests`` like shadow rows. ``rollouts``: a route's rollout state,
        # shared by replicas and changed only by compare-and-set on ``version``;
        # ``rollout_events``: every change, with its reason.
        "0013_judged_rollouts",
        (
            """CREATE TABLE judgments (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                ts_ms BIGINT NOT NULL,
                tenant TEXT NOT NULL,
                route TEXT,
                request_id TEXT NOT NULL,
                shadow_id TEXT,
                served_model TEXT NOT NULL,
                candidate_model TEXT NOT NULL,
                judge_model TEXT NOT NULL,
                mode TEXT NOT NULL,
                verdict TEXT,
                served_pass BOOLEAN,
                candidate_pass BOOLEAN,
                orders_agree BOOLEAN,
                calls INTEGER NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                cost_pusd BIGINT,
                error TEXT
            )""",
            "CREATE INDEX judgments_route_ts ON judgments (route, ts_ms)",
            """CREATE TABLE rollouts (
                route TEXT PRIMARY KEY,
                model TEXT NOT NULL,
                percent DOUBLE PRECISION NOT NULL,
                step INTEGER NOT NULL,
                state TEXT NOT NULL,
                since_ms BIGINT NOT NULL,
                epoch_ms BIGINT NOT NULL,
                version BIGINT NOT NULL,
                changed_by TEXT NOT NULL,
                updated_ms BIGINT NOT NULL
            )""",
            """CREATE TABLE rollout_events (
                id TEXT PRIMARY KEY,
                route TEXT NOT NULL,
                ts_ms BIGINT NOT NULL,
                version BIGINT NOT NULL,
                kind TEXT NOT NULL,
                model TEXT NOT NULL,
                from_percent DOUBLE PRECISION NOT NULL,
                to_percent DOUBLE PRECISION NOT NULL,
                reason TEXT NOT NULL,
                replica TEXT NOT NULL
            )""",
            "CREATE UNIQUE INDEX rollout_events_version ON rollout_events (route, version)",
        ),
    ),
    Migration(
        # The rows that belong together (``trace_id``): the inner calls of a multi-call route
        # (fan-out, draft-then-review), or the turns of one agent conversation on an
        # agent-loop route. NULL for a request that stands alone.
        "0014_request_trace",
        (
            "ALTER TABLE requests ADD COLUMN trace_id TEXT",
            "CREATE INDEX requests_trace ON requests (trace_id) WHERE trace_id IS NOT NULL",
        ),
    ),
    Migration(
        # Per-prompt outcomes (``store/outcomes.py``): how well each model answered each prompt
        # of an evaluation run (a score in [0, 1]), the rows ``tiergate router train
        # --from-log`` learns from. One row per run, item and model; a rerun replaces it.
        "0015_outcomes",
        (
            """CREATE TABLE outcomes (
                run_id TEXT NOT NULL,
                item_id TEXT NOT NULL,
                model TEXT NOT NULL,
                ts_ms BIGINT NOT NULL,
                source TEXT NOT NULL,
                route TEXT,
                tenant TEXT NOT NULL,
                prompt TEXT NOT NULL,
                score DOUBLE PRECISION NOT NULL,
                request_id TEXT,
                PRIMARY KEY (run_id, item_id, model)
            )""",
            "CREATE INDEX outcomes_route_ts ON outcomes (route, ts_ms)",
        ),
    ),
    Migration(
        # Whether a row's usage (and so its cost) was partly estimated because the upstream
        # did not report it (no usage in the stream, a stream cut short): reports show such
        # spend apart, never as exact (tiergate/cost/estimate.py).
        "0016_cost_estimated",
        (
            "ALTER TABLE requests ADD COLUMN cost_estimated BOOLEAN NOT NULL DEFAULT FALSE",
            "ALTER TABLE attempts ADD COLUMN estimated BOOLEAN NOT NULL DEFAULT FALSE",
        ),
    ),
    Migration(
        # An uploaded file's bytes in pieces of at most 1 MiB, written as the upload streams in
        # from disk and read back the same way: no large file is ever held whole in memory
        # (``files.content`` stays empty for such files; older files keep their bytes there).
        "0017_file_chunks",
        sqlite=(
            "CREATE TABLE file_chunks (file_id TEXT NOT NULL, n INTEGER NOT NULL, "
            "data BLOB NOT NULL, PRIMARY KEY (file_id, n))",
        ),
        postgresql=(
            "CREATE TABLE file_chunks (file_id TEXT NOT NULL, n INTEGER NOT NULL, "
            "data BYTEA NOT NULL, PRIMARY KEY (file_id, n))",
        ),
    ),
    Migration(
        # A batch item the provider's batch API refused runs live (``batch/upstream_store.py``):
        # said by its own column instead of ``upstream = ''``, so ``upstream`` is only ever a
        # deployment's name or NULL.
        "0018_batch_live_only",
        (
            "ALTER TABLE batch_items ADD COLUMN live_only BOOLEAN NOT NULL DEFAULT FALSE",
            "UPDATE batch_items SET live_only = TRUE, upstream = NULL WHERE upstream = ''",
        ),
    ),
    Migration(
        # Responses API answers are kept ``responses.keep_days`` (``store/responses.py``): the
        # pruning pass deletes the oldest expired rows, found by creation time.
        "0019_responses_created",
        ("CREATE INDEX responses_created ON responses (created_ms)",),
    ),
    Migration(
        # A batch job whose requests are being written as its body is read (``batch/jobs.py:
        # JobStore.create``): its items are in, its job row not yet. A replica that dies
        # mid-upload leaves its row here, so the items it wrote are found and purged.
        "0020_batch_uploads",
        ("CREATE TABLE batch_uploads (job_id TEXT PRIMARY KEY, started_ms BIGINT NOT NULL)",),
    ),
)
