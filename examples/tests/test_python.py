"""test_python.py - checks the Python examples against a live mcd and
PostgreSQL (started by python-*.sh).

    test_python.py PART DSN MCD_PORT       PART: cache_aside | write_through | prefix

Queries are counted twice: by the examples themselves (Catalog.db_reads,
the load callbacks) and by the database (pg_stat_statements, loaded by
pg-lib.sh), so a read that bypassed the counting would still show.
Exit 0 pass, 1 fail, 77 skip.
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import psycopg2  # noqa: E402

from catalog import Catalog, key  # noqa: E402
from lease import get_with_lease, mark_stale  # noqa: E402
from meta import MetaClient  # noqa: E402

PART, DSN, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
SELECT_ROW = "SELECT name, price_cents FROM products WHERE tenant = $1 AND id = $2"


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)
    print("ok:", what)


class Counter:
    """Database-side count of one statement, from pg_stat_statements."""

    def __init__(self):
        self.db = psycopg2.connect(DSN)
        self.db.autocommit = True

    def reset(self):
        with self.db.cursor() as cur:
            cur.execute("SELECT pg_stat_statements_reset()")

    def calls(self, query=SELECT_ROW):
        with self.db.cursor() as cur:
            cur.execute("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query = %s", (query,))
            return int(cur.fetchone()[0])


def catalog():
    return Catalog(psycopg2.connect(DSN), port=PORT)


def run_threads(n, fn, prepare=lambda i: i):
    """Runs fn(prepare(i)) in n threads, released together once every
    prepare (connecting, say) is done; returns their results."""
    results, errors = [None] * n, []
    start = threading.Barrier(n)

    def body(i):
        try:
            arg = prepare(i)
            start.wait()
            results[i] = fn(arg)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, f"{n} threads ran without errors {errors[:3]}")
    return results


def part_cache_aside():
    db, cat = Counter(), catalog()
    db.reset()
    for rnd in range(5):
        for pid in range(1, 21):
            row = cat.get(4, pid)
            assert row["price_cents"] == 100 * pid, row
    check(cat.db_reads == 20, f"the app sent 20 queries for 5 rounds of 20 rows (sent {cat.db_reads})")
    check(db.calls() == 20, f"the database ran 20 queries for them (ran {db.calls()})")

    # a hot miss: 16 readers at once, each with its own connections, and a
    # slow query (the sleep): the window in which a stampede happens
    readers, hot = 16, key(42, 7)
    loads = []

    def slow_load(cat, tenant, pid):
        loads.append(1)
        time.sleep(0.2)
        return json.dumps(cat.load(tenant, pid)).encode()

    def connect(i):
        return catalog(), MetaClient(port=PORT)

    def naive(conns):  # plain cache-aside, to show the stampede the test is about
        cat, mc = conns
        code, _, value = mc.mg(key(42, 8), "v")
        if code != "VA":
            value = slow_load(cat, 42, 8)
            mc.ms(key(42, 8), value, "T300")
        mc.close(), cat.close()
        return value

    db.reset()
    naive_vals = run_threads(readers, naive, connect)
    check(db.calls() > 1, f"without leases {readers} readers of a missing key ran {db.calls()} queries")
    check(len(set(naive_vals)) == 1, "and all read the same row")

    def leased(conns):
        cat, mc = conns
        try:
            return get_with_lease(mc, hot, lambda: slow_load(cat, 42, 7))
        finally:
            mc.close(), cat.close()

    db.reset()
    loads.clear()
    vals = run_threads(readers, leased, connect)
    check(db.calls() == 1 and len(loads) == 1,
          f"with leases {readers} readers of a missing key ran 1 query (ran {db.calls()}, loads {len(loads)})")
    check(all(json.loads(v)["price_cents"] == 700 for v in vals), "every reader got the row")

    # stale-while-revalidate: the row changes, the writer marks it stale
    w = catalog()
    with w.db.cursor() as cur:
        cur.execute("UPDATE products SET price_cents = 777 WHERE tenant = 42 AND id = 7")
    w.db.commit()
    mc = MetaClient(port=PORT)
    check(mark_stale(mc, hot) == "HD", "md I marks the cached row stale")
    db.reset()
    loads.clear()
    t0 = time.monotonic()
    vals = run_threads(readers, leased, connect)
    served = [json.loads(v)["price_cents"] for v in vals]
    check(db.calls() == 1 and len(loads) == 1,
          f"{readers} readers of a stale row ran 1 query (ran {db.calls()}, loads {len(loads)})")
    check(served.count(777) >= 1 and all(p in (700, 777) for p in served),
          f"the winner got the new row, the others the old one at once ({served.count(700)} stale)")
    code, flags, value = mc.mg(hot, "v")
    check(code == "VA" and json.loads(value)["price_cents"] == 777 and "X" not in flags,
          "afterwards the cache holds the new row, not stale")
    elapsed = time.monotonic() - t0
    print(f"stale-while-revalidate round: {elapsed:.3f} s")
    mc.close()


def part_write_through():
    db = Counter()
    writer = catalog()
    products = list(range(1, 11))
    updates = 60
    committed = {pid: 100 * pid for pid in products}  # price every read must reach
    done = threading.Event()
    stale = []

    def read(i):
        cat = catalog()
        n = 0
        while not done.is_set() or n == 0:
            for pid in products:
                floor = committed[pid]  # before the read starts
                row = cat.get(4, pid)
                if row["price_cents"] < floor:
                    stale.append((pid, row["price_cents"], floor))
                n += 1
        cat.close()
        return n

    def write():
        for v in range(1, updates + 1):
            for pid in products:
                price = 100 * pid + v
                writer.update_price(4, pid, price)
                committed[pid] = price  # published once the cache holds it
        done.set()

    w = threading.Thread(target=write)
    w.start()
    reads = run_threads(6, read)
    w.join()
    check(not stale, f"{sum(reads)} reads by 6 readers during {updates * len(products)} updates: "
          f"none saw an older price than the last committed one {stale[:3]}")
    cat = catalog()
    for pid in products:
        check(cat.get(4, pid)["price_cents"] == 100 * pid + updates, f"product {pid} reads its last price")
    db.reset()
    for pid in products:
        cat.get(4, pid)
    check(db.calls() == 0, "and those reads were served by the cache")


def part_prefix():
    db, cat = Counter(), catalog()
    for tenant in (4, 42):
        for pid in range(1, 11):
            cat.get(tenant, pid)
    # a bulk change the application cannot track key by key
    with cat.db.cursor() as cur:
        cur.execute("UPDATE products SET price_cents = price_cents * 2 WHERE tenant = 4")
    cat.db.commit()
    if not cat.invalidate_tenant(4):
        print("SKIP: the server has no flush_prefix")
        sys.exit(77)
    db.reset()
    for pid in range(1, 11):
        check(cat.get(4, pid)["price_cents"] == 200 * pid, f"tenant 4 product {pid} reads the new price")
    check(db.calls() == 10, f"tenant 4's 10 rows were read again from the database (ran {db.calls()})")
    db.reset()
    for pid in range(1, 11):
        check(cat.get(42, pid)["price_cents"] == 100 * pid, f"tenant 42 product {pid} is unchanged")
    check(db.calls() == 0, f"tenant 42's rows stayed in the cache (ran {db.calls()})")
    # what is written after the flush is cached as usual
    cat.update_price(4, 1, 4242)
    db.reset()
    check(cat.get(4, 1)["price_cents"] == 4242 and db.calls() == 0,
          "a row of tenant 4 written after the flush is read from the cache")


{"cache_aside": part_cache_aside, "write_through": part_write_through, "prefix": part_prefix}[PART]()
