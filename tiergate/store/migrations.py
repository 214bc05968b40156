"""The schema as ordered, named migrations, recorded in ``schema_migrations``.

Each migration is applied once, in order, inside a transaction. SQL is shared between SQLite
and PostgreSQL except where a type differs (``{id}``: an auto-increment key).
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, list[str]]] = [
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
