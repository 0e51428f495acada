"""ops_pymemcache.py - pymemcache (python3-pymemcache) against mcd:
set/get, cas, incr/decr, touch, get_many, expiry (polled).
Usage: python3 ops_pymemcache.py PORT"""
import sys
import time

from pymemcache.client.base import Client


def poll(cond, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def main():
    c = Client(("127.0.0.1", int(sys.argv[1])), connect_timeout=5, timeout=5)
    assert c.set("a", b"alpha", noreply=False)
    assert c.get("a") == b"alpha"
    assert c.get("missing") is None
    assert c.add("a", b"x", noreply=False) is False
    assert c.replace("a", b"beta", noreply=False)

    value, token = c.gets("a")
    assert value == b"beta" and token
    assert c.cas("a", b"gamma", token, noreply=False) is True
    assert c.cas("a", b"delta", token, noreply=False) is False   # stale token
    assert c.get("a") == b"gamma"

    assert c.set("n", b"10", noreply=False)
    assert c.incr("n", 5) == 15
    assert c.decr("n", 20) == 0
    assert c.incr("nothere", 1) is None

    many = {"k%d" % i: ("v%d" % i).encode() for i in range(50)}
    assert c.set_many(many, noreply=False) == []
    got = c.get_many(list(many) + ["absent"])
    assert got == many, got

    assert c.set("t", b"soon", expire=1, noreply=False)
    assert c.touch("t", expire=100, noreply=False)
    assert c.set("gone", b"soon", expire=1, noreply=False)
    assert poll(lambda: c.get("gone") is None, 5), "item with exptime 1 never expired"
    assert c.get("t") == b"soon", "touched item expired"

    assert c.delete("a", noreply=False)
    assert c.get("a") is None
    stats = c.stats()
    assert int(stats[b"curr_items"]) > 0
    c.close()
    print("ok: pymemcache set/get/cas/incr/touch/get_many/expiry")


if __name__ == "__main__":
    main()
