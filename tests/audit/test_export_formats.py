"""Exports and verification read rows as plain DBAPI tuples and encode them column by column;
these tests pin that the files are byte for byte what the Event-based encoders (kept below as
the reference, as they were before the fast path) write, on both databases, for events with
awkward values: cells that start like a formula, quotes, commas, line breaks, unicode, empty
strings, NULLs, whole-second times; over several chunks and with filters."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection

from scim_server.audit import chain, service
from scim_server.audit.events import Event, audit_events, time_text, time_texts
from scim_server.audit.export import CSV_COLUMNS, Exporter, _csv_rows, csv_cell, ocsf_class
from scim_server.settings import Settings
from scim_server.store import fastsql
from scim_server.store.db import Database
from tests.audit.conftest import new_workspace

# ---------------------------------------------------------------------------- the reference


def reference_csv(events: list[Event]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(
        (e.seq, e.time, csv_cell(e.actor), csv_cell(e.action), csv_cell(e.target_type), csv_cell(e.target_id),
         csv_cell(e.target_display), csv_cell(e.app_id), e.outcome, e.changes, e.detail, e.prev_hash, e.hash)
        for e in events
    )  # fmt: skip
    return out.getvalue().encode()


def _fragment(raw: str | None) -> Any:
    return orjson.Fragment(raw) if raw else None


def reference_jsonl(events: list[Event]) -> bytes:
    return b"".join(orjson.dumps({
        "seq": e.seq, "time": e.time, "actor": e.actor, "action": e.action,
        "target": {"type": e.target_type, "id": e.target_id, "display": e.target_display},
        "app_id": e.app_id, "outcome": e.outcome, "changes": _fragment(e.changes), "detail": _fragment(e.detail),
        "prev_hash": e.prev_hash, "hash": e.hash,
    }) + b"\n" for e in events)  # fmt: skip


def _reference_ocsf_event(e: Event) -> dict[str, Any]:
    class_uid, activity, name = ocsf_class(e.action, e.target_type)
    target = {"uid": e.target_id, "name": e.target_display, "type": e.target_type}
    body: dict[str, Any] = {
        "category_uid": 3, "category_name": "Identity & Access Management", "class_uid": class_uid,
        "class_name": name, "activity_id": activity, "type_uid": class_uid * 100 + activity,
        "time": int(e.at.timestamp() * 1000), "severity_id": 1,
        "status_id": 1 if e.outcome == "success" else 2, "status": e.outcome.capitalize(),
        "actor": {"user": {"uid": e.actor}}, "message": e.action,
        "metadata": {"version": "1.1.0", "product": {"name": "scim-bridge", "vendor_name": "scim-bridge"},
                     "uid": e.hash, "sequence": e.seq, "log_name": "audit"},
        "unmapped": {"seq": e.seq, "prev_hash": e.prev_hash, "hash": e.hash, "app_id": e.app_id,
                     "changes": _fragment(e.changes), "detail": _fragment(e.detail)},
    }  # fmt: skip
    body["entity" if class_uid == 3004 else "user"] = target
    if class_uid == 3005:
        body["privileges"] = [e.action]
    return body


def reference_ocsf(events: list[Event]) -> bytes:
    return b"".join(orjson.dumps(_reference_ocsf_event(e)) + b"\n" for e in events)


REFERENCE = {"csv": reference_csv, "jsonl": reference_jsonl, "ocsf": reference_ocsf}

# ---------------------------------------------------------------------------- awkward events

AWKWARD = ["=SUM(A1:A2)", "+1", "-1", "@cmd", "\tindent", "\rcr", 'say "hi"', "a,b", "two\nlines", "crlf\r\nend",
           "lone\rcr", "Zoë 👩‍💻 日本語", "", " leading space", "'quoted'", "trailing,", '"', ",", "\n",
           # formula characters inside a cell only (looked for as the pair _SEP + character); an odd
           # number of values, so that each is an actor once
           "a=b", "x-y", "mail@example.com", "1+1", "tab\tin", "-"]  # fmt: skip
JSONS = [None, "{}", '{"a":"x,y"}', '{"k":"line\\nbreak","q":"\\"quoted\\""}', '{"u":"Zoë 👩‍💻"}', "[]",
         '{"f":"=1+1"}', '{"m":"-5"}', "-1", '{"cr":"a\\rb"}', '{"raw":"a\rb"}', '"=x"', "",
         '{"日本":"語 👩‍💻"}']  # fmt: skip
BASE = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _rows(dialect: str, ws: int, n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        pick = AWKWARD[i % len(AWKWARD)]
        # every third event on a whole second (its time shows no fraction), the rest with microseconds
        at = BASE + timedelta(seconds=i) + (timedelta() if i % 3 == 0 else timedelta(microseconds=i * 7919 % 999_999 + 1))
        stored = fastsql.ts_in(dialect, at)
        if dialect == "sqlite" and i % 13 == 5:  # text another writer might have left: not the storage format
            stored = (at.isoformat(" ", "seconds"), at.isoformat())[i % 2]
        rows.append({"workspace_id": ws, "at": stored, "actor": pick if i % 2 else f"tok_{i}",
                     "action": ("app.member.exempt", "scim.user.create", "report.apply", pick)[i % 4],
                     "target_type": ("User", "AppMember", pick)[i % 3], "target_id": (None, f"u{i}", pick)[i % 3],
                     "target_display": (pick, None, f"user {i}", "")[i % 4], "app_id": (None, pick)[i % 2],
                     "outcome": ("success", "failure", "denied", "a,b")[i % 4],
                     "changes": JSONS[i % len(JSONS)], "detail": JSONS[(i + 3) % len(JSONS)]})  # fmt: skip
    return rows


@pytest.fixture
def awkward(db: Database) -> int:
    ws = new_workspace(db, "awkward")
    other = new_workspace(db, "other")  # a second chain, interleaved: exports read one workspace only

    def unit(conn: Connection) -> None:
        fastsql.executemany(conn, fastsql.INSERT_AUDIT, _rows(conn.dialect.name, ws, 60)[:30])
        fastsql.executemany(conn, fastsql.INSERT_AUDIT, _rows(conn.dialect.name, other, 10))
        fastsql.executemany(conn, fastsql.INSERT_AUDIT, _rows(conn.dialect.name, ws, 60)[30:])
        chain.seal_all(conn)

    db.write_sync(unit)
    return ws


def _reference_events(db: Database, ws: int, filters: service.Filters) -> list[Event]:
    query = service.sealed_query(ws, filters).order_by(audit_events.c.seq)
    return db.read_sync(lambda conn: [Event.from_row(r) for r in conn.execute(query)])


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "ocsf"])
@pytest.mark.parametrize("limit", [7, 1000])
def test_exports_equal_the_reference_encoding(db: Database, awkward: int, fmt: str, limit: int) -> None:
    events = _reference_events(db, awkward, service.Filters())
    assert len(events) == 60
    exporter = Exporter(fmt, service.sealed_query(awkward, service.Filters()))
    data = b"".join(exporter.chunks(db.read_sync, limit=limit))
    assert data == REFERENCE[fmt](events)
    assert (exporter.count, exporter.first_seq, exporter.last_seq) == (60, 1, 60)
    if fmt == "csv":  # and the file reads back as the values, with the formula cells escaped
        actors = [row[CSV_COLUMNS.index("actor")] for row in csv.reader(io.StringIO(data.decode(), newline=""))]
        assert "lone\rcr" in actors and "'+1" in actors and "+1" not in actors


def test_filtered_export_equals_the_reference(db: Database, awkward: int) -> None:
    filters = service.Filters(since=BASE + timedelta(seconds=10), until=BASE + timedelta(seconds=50),
                              outcome="failure", since_seq=3)  # fmt: skip
    events = _reference_events(db, awkward, filters)
    assert 0 < len(events) < 60
    for fmt in ("csv", "jsonl", "ocsf"):
        exporter = Exporter(fmt, service.sealed_query(awkward, filters))
        assert b"".join(exporter.chunks(db.read_sync, limit=3)) == REFERENCE[fmt](events)
        assert exporter.count == len(events)


def test_awkward_events_verify(db: Database, settings: Settings, awkward: int) -> None:
    result = chain.verify(db.read_sync, awkward, service.signer_for(settings).jwks())
    assert result.ok and result.events == 60, result
    events = _reference_events(db, awkward, service.Filters())
    assert result.head_hash == events[-1].hash == events[-1].compute_hash(60, events[-2].hash or "")


_stored = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@given(st.lists(st.one_of(
    _stored.map(lambda d: fastsql.ts_in("sqlite", d)),
    _stored.map(lambda d: fastsql.ts_in("sqlite", d.replace(microsecond=0))),
    _stored,
)))  # fmt: skip
def test_time_texts_is_time_text_of_each(values: list[Any]) -> None:
    assert time_texts(values) == [time_text(v) for v in values]


# cells made of the characters the encoder looks at (formula starts, quote characters, its
# separator), a letter and non-ASCII text; the JSON columns also with objects' braces
_cell = st.one_of(st.none(), st.text(alphabet="=+-@\t\r\n,\"\x00aZé👩", max_size=6))
_json = st.one_of(st.none(), st.text(alphabet='{}"\r\n,:-=\x00aé', max_size=8),
                  st.dictionaries(st.text(max_size=3), st.text(max_size=3)).map(lambda d: orjson.dumps(d).decode()))
_row = st.tuples(st.integers(1, 10**12), st.one_of(_stored.map(lambda d: fastsql.ts_in("sqlite", d)), _stored),
                 *[_cell] * 7, _json, _json, _cell, _cell)  # fmt: skip


@given(st.lists(_row, min_size=1, max_size=12))
def test_csv_rows_is_what_csv_writer_writes(rows: list[tuple[Any, ...]]) -> None:
    """Whatever the cells hold, the column-by-column encoder writes csv.writer's bytes (with
    ``csv_cell`` on the free-text cells), including chunks where only some cells need work."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(
        (seq, time_text(at), *map(csv_cell, free), outcome, changes, detail, prev, digest)
        for seq, at, *free, outcome, changes, detail, prev, digest in rows
    )
    assert _csv_rows(rows) == out.getvalue().encode()


@pytest.mark.parametrize("odd", ["2026-03-01 12:00:00", "2026-03-01T12:00:00.000000", "2026-03-01 12:00:00.5+00:00",
                                 "2026-03-01 12:00:00.\u0661\u0662\u0663\u0664\u0665\u0666"])  # fmt: skip
def test_time_texts_of_a_column_with_another_format(odd: str) -> None:
    values = ["2026-03-01 12:00:00.000000", odd, "2026-03-01 12:00:01.250000"]
    assert time_texts(values) == [time_text(v) for v in values]
