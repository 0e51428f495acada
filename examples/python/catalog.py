"""catalog.py - a product catalogue in PostgreSQL with mcd in front of it.

Three patterns, as an application's data-access layer writes them with
psycopg2 and pymemcache:

  get()             cache-aside: read the cache, on a miss read the database
                    and fill the cache (with add, so a fill never overwrites
                    a newer value a writer stored meanwhile);
  update_price()    write-through: commit the database change, then store
                    the new row in the cache, so no reader sees the old one;
  invalidate_tenant()  one tenant's cached rows dropped in one call:
                    mcd's flush_prefix (an mcd extension, not in memcached).

Keys are "tenant:<tenant>:product:<id>"; the trailing ":" after the tenant
keeps tenant 4's prefix from matching tenant 42's keys.
"""
import json

from pymemcache.client.base import Client

from meta import MetaClient

TTL = 300  # seconds a cached row may live without being written


def key(tenant, product_id):
    return f"tenant:{tenant}:product:{product_id}"


def tenant_prefix(tenant):
    return f"tenant:{tenant}:"


class Catalog:
    def __init__(self, db, host="127.0.0.1", port=11211):
        """db: a psycopg2 connection (one per thread, as psycopg2 wants)."""
        self.db = db
        self.host, self.port = host, port
        self.mc = Client((host, port), connect_timeout=5, timeout=5)
        self.db_reads = 0  # queries this catalogue sent to the database

    def load(self, tenant, product_id):
        """The database read behind every cache miss."""
        self.db_reads += 1
        with self.db.cursor() as cur:
            cur.execute("SELECT name, price_cents FROM products WHERE tenant = %s AND id = %s",
                        (tenant, product_id))
            row = cur.fetchone()
        self.db.commit()  # end the read's transaction: the next read sees new commits
        if row is None:
            return None
        return {"tenant": tenant, "id": product_id, "name": row[0], "price_cents": row[1]}

    def get(self, tenant, product_id):
        """Cache-aside read."""
        k = key(tenant, product_id)
        cached = self.mc.get(k)
        if cached is not None:
            return json.loads(cached)
        row = self.load(tenant, product_id)
        if row is not None:
            # add, not set: if a writer stored a newer row since our SELECT,
            # the writer's row stays
            self.mc.add(k, json.dumps(row), expire=TTL, noreply=False)
        return row

    def update_price(self, tenant, product_id, price_cents):
        """Write-through: the database first (the source of truth), then the
        cache, so every read that starts after this returns sees the change."""
        with self.db.cursor() as cur:
            cur.execute("UPDATE products SET price_cents = %s WHERE tenant = %s AND id = %s"
                        " RETURNING name", (price_cents, tenant, product_id))
            name = cur.fetchone()[0]
        self.db.commit()
        row = {"tenant": tenant, "id": product_id, "name": name, "price_cents": price_cents}
        self.mc.set(key(tenant, product_id), json.dumps(row), expire=TTL, noreply=False)
        return row

    def invalidate_tenant(self, tenant):
        """Drops every cached row of one tenant (after a bulk change in the
        database) in one call, whatever the number of keys. Returns False
        when the server has no flush_prefix (memcached)."""
        mc = MetaClient(self.host, self.port)
        try:
            return mc.command(f"flush_prefix {tenant_prefix(tenant)}") == "OK"
        finally:
            mc.close()

    def close(self):
        self.mc.close()
        self.db.close()
