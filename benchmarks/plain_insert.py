"""The write path's baseline: a plain FastAPI app that stores a registration form with one INSERT, nothing else.

Run by the write-path benchmark as its own uvicorn process, against a database of its own in the same
PostgreSQL (`QCP_PLAIN_DSN`): the same JSON body at the same route, one pooled connection per request."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

TABLE = "registrations"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    pool = AsyncConnectionPool(os.environ["QCP_PLAIN_DSN"], min_size=4, max_size=10, open=False)
    await pool.open()
    async with pool.connection() as connection:
        await connection.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, season_id text NOT NULL, "
            "credit_code text NOT NULL, form jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())")
    app.state.pool = pool
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/seasons/{season_id}/registrations", status_code=201)
async def register(season_id: str, form: dict[str, Any]) -> dict[str, Any]:
    async with app.state.pool.connection() as connection:
        cursor = await connection.execute(
            f"INSERT INTO {TABLE} (season_id, credit_code, form) VALUES (%s, %s, %s) RETURNING id",
            (season_id, form.get("credit_code"), Jsonb(form)))
        (row_id,) = await cursor.fetchone()
    return {"id": row_id, "credit_code": form.get("credit_code")}


@app.get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}
