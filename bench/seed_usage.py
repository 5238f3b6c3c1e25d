#!/usr/bin/env python3
"""Bulk usage data for the set_usage case of bench/run.sh, inserted DIRECTLY with SQL into the
database the server uses: 1,000,000 API calls would take far too long (hours at the rates the
benchmark measures), and what is measured is set_usage against a table of that size, not how the
rows got there.

After seed.py (one provider offering with the cpu_hours component and a plan, 1,000 customers
"Bench customer NNNNN"), this adds:
- one project per customer except the first ("Bench customer 00000", whose scope the create case
  piles thousands of policies with a limit of 5 onto, which would turn every report there into a
  mass fire);
- RESOURCES resources in state OK on the offering and plan, spread over those projects; resource n
  (1-based) has uuid printf('%08x%024x', 0xbe0b, n), which the wrk script rebuilds;
- a component_usages row for every resource and each of the MONTHS months ending with the current
  one (RESOURCES x MONTHS rows, 1 to 5 units each, dated the first of their month), written month
  by month as a deployment's reports write them, so that a month's rows share pages;
- the customers' usage_totals, summed from those rows, as set_usage keeps them.
Usage stays far under the seeded policies' limits (1,000+ units a month), so the measured reports
make no transitions: the steady state.

SQLite: executes through Python's sqlite3 (recursive CTEs). PostgreSQL: prints the SQL
(generate_series) for psql."""

import argparse
import datetime
import sqlite3
import sys


def month_table(months):
    """(months back, billing month index, first day of that month in epoch microseconds)."""
    today = datetime.date.today()
    rows = []
    for back in range(months):
        index = today.year * 12 + today.month - 1 - back
        year, month = divmod(index, 12)
        first = datetime.datetime(year, month + 1, 1, tzinfo=datetime.timezone.utc)
        rows.append((back, index, int(first.timestamp()) * 1_000_000))
    return rows


def statements(backend, resources, months):
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1_000_000)
    values = ", ".join(f"({b}, {i}, {d})" for b, i, d in month_table(months))
    if backend == "sqlite":
        uuid = lambda kind, expr: f"printf('%08x%024x', {kind}, {expr})"  # noqa: E731
        series = lambda n: (  # noqa: E731
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})",
            "n",
        )
    else:
        uuid = lambda kind, expr: f"'{kind:08x}' || lpad(to_hex({expr}), 24, '0')"  # noqa: E731
        series = lambda n: ("WITH n AS (SELECT i FROM generate_series(1, {}) AS g(i))".format(n), "n")  # noqa: E731
    offering = "(SELECT id FROM offerings WHERE name = 'Bench cluster')"
    with_n, n = series(resources)
    return [
        f"INSERT INTO projects (uuid, customer_id, name, created) "
        f"SELECT {uuid(0xBE0A, 'c.id')}, c.id, 'Bench project', {now} FROM customers c "
        f"WHERE c.name LIKE 'Bench customer %' AND c.name <> 'Bench customer 00000' ORDER BY c.id",
        f"{with_n}, p AS (SELECT id, row_number() OVER (ORDER BY id) AS k FROM projects WHERE name = 'Bench project'), "
        f"np AS (SELECT count(*) AS c FROM p) "
        f"INSERT INTO resources (uuid, project_id, offering_id, plan_id, name, state, created, modified) "
        f"SELECT {uuid(0xBE0B, 'n.i')}, p.id, {offering}, (SELECT min(id) FROM plans WHERE offering_id = {offering}), "
        f"'Bench resource ' || n.i, 'OK', {now}, {now} FROM {n} JOIN np ON 1 = 1 JOIN p ON p.k = (n.i - 1) % np.c + 1",
        f"WITH m(back, month, day) AS (VALUES {values}) "
        f"INSERT INTO component_usages (uuid, resource_id, component_id, billing_month, usage, date, created, modified) "
        f"SELECT {uuid(0xBE0C, f'r.id * {months} + m.back')}, r.id, "
        f"(SELECT id FROM offering_components WHERE offering_id = {offering} AND type = 'cpu_hours'), "
        f"m.month, 100 + (r.id * 7 + m.back * 13) % 401, m.day, {now}, {now} "
        # Month by month, as the reports of a real deployment create them: each month's rows
        # sit together, not each resource's 25 months.
        f"FROM m CROSS JOIN resources r WHERE r.name LIKE 'Bench resource %' ORDER BY m.month, r.id",
        "INSERT INTO usage_totals (customer_id, component_id, billing_month, usage) "
        "SELECT p.customer_id, u.component_id, u.billing_month, sum(u.usage) FROM component_usages u "
        "JOIN resources r ON r.id = u.resource_id JOIN projects p ON p.id = r.project_id "
        # WHERE: SQLite's parser needs one between a join and ON CONFLICT.
        "WHERE 1 = 1 GROUP BY p.customer_id, u.component_id, u.billing_month "
        "ORDER BY u.billing_month, p.customer_id "
        "ON CONFLICT (customer_id, component_id, billing_month) DO UPDATE SET usage = usage_totals.usage + excluded.usage",
    ]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    p.add_argument("--db", help="SQLite database file")
    p.add_argument("--resources", type=int, default=40_000)
    p.add_argument("--months", type=int, default=25)
    a = p.parse_args()
    sql = statements(a.backend, a.resources, a.months)
    if a.backend == "postgres":
        print("BEGIN;")
        for s in sql:
            print(s + ";")
        print("COMMIT;")
        # What autovacuum would do soon after a bulk load on a real database.
        print("VACUUM ANALYZE;")
        return
    conn = sqlite3.connect(a.db, timeout=60)
    conn.execute("PRAGMA busy_timeout=60000")
    with conn:
        for s in sql:
            conn.execute(s)
    n = conn.execute("SELECT count(*) FROM component_usages").fetchone()[0]
    conn.close()
    print(f"component_usages rows: {n}", file=sys.stderr)


if __name__ == "__main__":
    main()
