"""Runs cache-sqlserver's statements through pytds (PyPI `python-tds`), a TDS client we did not
write, against the TDS test server, and checks every answer. Called by `tests/pytds.rs` with a
JSON file: the server's port and credentials and the provider's rendered statements.

The statements are sent exactly as the provider sends them: `@P1`, `@P2`, ... become pytds
`%(pN)s` placeholders that pytds renames back to `@P1`, `@P2`, ... in the same order, and NULLs
travel as typed parameters (pytds would splice an untyped None into the text). One statement
goes through `callproc('sp_executesql', ...)` with positional values. Logins are made at TDS 7.1,
7.2, 7.3 and 7.4 (from 7.2 also without autocommit, which sends transaction-manager
requests); the statements with `datetimeoffset` parameters need 7.3 or later (pytds sends
no `datetimeoffset` before), the others run at every version. Exits non-zero on the first
mismatch.
"""

import datetime
import json
import re
import sys

import pytds
from pytds import tds_base, tds_types

VERSIONS = {
    "7.1": tds_base.TDS71rev1,
    "7.2": tds_base.TDS72,
    "7.3": tds_base.TDS73B,
    "7.4": tds_base.TDS74,
}


def params_of(sql, values):
    """The pytds form of `sql` and its values: `@Pn` -> `%(pn)s`, values keyed `p1`, `p2`, ..."""
    text = re.sub(r"@P(\d+)", lambda m: "%(p" + m.group(1) + ")s", sql.replace("%", "%%"))
    return text, {f"p{i + 1}": v for i, v in enumerate(values)}


def null(sql_type):
    return tds_base.Param(type=sql_type, value=None)


def binary(value):
    """Bytes as `varbinary(max)` (pytds 1.17 would send bytes as a string before TDS 7.2)."""
    return tds_base.Param(type=tds_types.VarBinaryMaxType(), value=value)


def run(cur, sql, values=()):
    if values:
        text, params = params_of(sql, values)
        cur.execute(text, params)
    else:
        cur.execute(sql)
    return cur


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def statements_at_any_version(conn, s):
    cur = conn.cursor()
    cur.execute("SELECT 1")
    check(cur.fetchall() == [(1,)], "SELECT 1")
    run(cur, s["create_tables"])
    row = run(cur, s["server_check"]).fetchone()
    check(row[0] and row[1] is not None and row[2] is not None and row[3] is not None,
          f"server_check {row!r}")
    run(cur, s["remove"], ["never-written"])
    check(cur.rowcount == 0, f"remove of a missing key: {cur.rowcount}")
    run(cur, s["unlock"], ["never-locked", binary(b"token")])
    check(cur.rowcount == 0, f"unlock of a missing lock: {cur.rowcount}")


def statements_with_times(conn, s):
    cur = conn.cursor()
    now = datetime.datetime.now(datetime.timezone.utc)
    later = now + datetime.timedelta(minutes=20)
    row = lambda key, value, sliding: [key, binary(value), later, sliding, null(tds_types.DateTimeOffsetType(7))]

    run(cur, s["set"], row("k", b"ab", 1200))
    got = run(cur, s["get"], ["k", now]).fetchall()
    check(got == [(b"ab",)], f"get after set: {got!r}")

    # Compare-and-set is exact to the byte: a trailing zero byte does not match.
    run(cur, s["set_if_value_equals"], row("k", b"new", 1200) + [now, binary(b"ab\x00")])
    check(cur.rowcount == 0, f"set_if_value_equals with a trailing zero: {cur.rowcount}")
    run(cur, s["set_if_value_equals"], row("k", b"new", 1200) + [now, binary(b"ab")])
    check(cur.rowcount == 1, f"set_if_value_equals: {cur.rowcount}")
    run(cur, s["remove_if_equals"], ["k", binary(b"new\x00"), now])
    check(cur.rowcount == 0, f"remove_if_equals with a trailing zero: {cur.rowcount}")

    # NULL sliding expiration travels typed.
    run(cur, s["set_if_absent"], [
        "absent", binary(b"v"), later, null(tds_types.BigIntType()), later, now])
    check(cur.rowcount == 1, f"set_if_absent: {cur.rowcount}")
    run(cur, s["set_if_absent"], [
        "absent", binary(b"w"), later, null(tds_types.BigIntType()), later, now])
    check(cur.rowcount == 0, f"set_if_absent over a live entry: {cur.rowcount}")

    run(cur, s["try_lock"], ["k", binary(b"token"), later, now])
    check(cur.rowcount == 1, f"try_lock: {cur.rowcount}")
    run(cur, s["set_if_lock_held"], row("k", b"locked", 1200) + [now, binary(b"token")])
    check(cur.rowcount == 1, f"set_if_lock_held: {cur.rowcount}")
    run(cur, s["unlock"], ["k", binary(b"token")])
    check(cur.rowcount == 1, f"unlock: {cur.rowcount}")

    # Positional values: sp_executesql binds them to the declared parameters in order.
    cur.callproc("sp_executesql", (s["get"], "@P1 nvarchar(449), @P2 datetimeoffset", "k", now))
    got = cur.fetchall()
    check(got == [(b"locked",)], f"positional get: {got!r}")

    run(cur, s["refresh"], ["k", now])
    check(cur.rowcount == 1, f"refresh: {cur.rowcount}")
    run(cur, s["remove_if_equals"], ["k", binary(b"locked"), now])
    check(cur.rowcount == 1, f"remove_if_equals: {cur.rowcount}")
    run(cur, s["delete_expired"], [later + datetime.timedelta(days=1)])
    check(cur.rowcount == 1, f"delete_expired: {cur.rowcount}")


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        setup = json.load(f)
    s = setup["statements"]
    for name, version in VERSIONS.items():
        # Before 7.2 pytds manages transactions with SQL batches (BEGIN TRANSACTION), not
        # transaction-manager requests: only autocommit there.
        for autocommit in (True, False) if version >= tds_base.TDS72 else (True,):
            conn = pytds.connect(
                server="127.0.0.1", port=setup["port"], user=setup["user"],
                password=setup["password"], database=setup["database"],
                tds_version=version, autocommit=autocommit, login_timeout=10, timeout=10)
            try:
                statements_at_any_version(conn, s)
                if version >= tds_base.TDS73A:
                    statements_with_times(conn, s)
                if not autocommit:
                    # Transaction-manager requests: commit (beginning the next), rollback.
                    conn.commit()
                    conn.rollback()
            finally:
                conn.close()
            print(f"pytds TDS {name} autocommit={autocommit}: ok")


if __name__ == "__main__":
    main()
