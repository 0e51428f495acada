"""lease.py - a hot key's miss reaches the database once, not once per reader.

Cache-aside has a stampede problem: when a popular key is missing (expired,
evicted, invalidated), every reader misses at once and every one of them
queries the database. The meta protocol's leases fix that in the server:

    mg <key> v c t N30        on a miss the server creates an empty
                              placeholder (for 30 s) and answers W ("you won")
                              to exactly one reader; the others see Z
                              ("someone else is on it") and wait for the value.

and stale-while-revalidate: a writer marks the row stale instead of deleting
it (md <key> I T30); the next reader gets the old value with X and W and
reloads it, every other reader gets the old value with X and Z and uses it
at once. Either way one database query per change, however many readers.

The winner stores with C<cas>, the CAS the server gave it with the lease:
if a writer changed the key meanwhile, the store fails (EX/NF) and the
newer value stays.
"""
import time

TTL = 300        # seconds a row lives in the cache
LEASE_TTL = 30   # seconds a placeholder lives if its winner dies


def get_with_lease(mc, key, load, ttl=TTL, wait=0.005, timeout=5.0):
    """mc: a meta.MetaClient; load(): reads the database, returns bytes.
    Returns the value (possibly stale while one reader refreshes it)."""
    deadline = time.monotonic() + timeout
    while True:
        code, flags, value = mc.mg(key, "v", "c", "t", f"N{LEASE_TTL}")
        if "W" in flags:
            fresh = load()
            mc.ms(key, fresh, f"T{ttl}", f"C{flags['c']}")
            return fresh
        if value:  # a real value: fresh, or stale (X) while the winner reloads
            return value
        # an empty placeholder: the winner has not stored yet
        if time.monotonic() > deadline:
            return load()  # the winner is gone; don't wait forever
        time.sleep(wait)


def mark_stale(mc, key, lease_ttl=LEASE_TTL):
    """After a database write: readers keep the old row until one of them
    has reloaded it (instead of a delete, after which all would miss)."""
    return mc.md(key, "I", f"T{lease_ttl}")
