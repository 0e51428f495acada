// OpsSpyBinary.java - spymemcached (libspymemcached-java) against mcd over
// the binary protocol: set/get, add, cas, incr, bulk get, delete.
// Usage: java -cp spymemcached.jar:. OpsSpyBinary PORT
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.Map;
import net.spy.memcached.BinaryConnectionFactory;
import net.spy.memcached.CASResponse;
import net.spy.memcached.CASValue;
import net.spy.memcached.MemcachedClient;

public class OpsSpyBinary {
    static void check(boolean ok, String what) {
        if (!ok)
            throw new AssertionError(what);
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        MemcachedClient c = new MemcachedClient(new BinaryConnectionFactory(),
                Arrays.asList(new InetSocketAddress("127.0.0.1", port)));
        try {
            check(c.set("spy", 0, "one").get(), "set");
            check("one".equals(c.get("spy")), "get");
            check(!c.add("spy", 0, "two").get(), "add over an existing key");
            CASValue<Object> cv = c.gets("spy");
            check(c.cas("spy", cv.getCas(), "three") == CASResponse.OK, "cas");
            check(c.cas("spy", cv.getCas(), "four") == CASResponse.EXISTS, "stale cas");
            check(c.incr("counter", 5, 10) == 10, "incr creating");
            check(c.incr("counter", 5) == 15, "incr");
            check(c.set("b1", 0, "x").get() && c.set("b2", 0, "y").get(), "set for bulk");
            Map<String, Object> m = c.getBulk("b1", "b2", "nothere");
            check(m.size() == 2 && "x".equals(m.get("b1")) && "y".equals(m.get("b2")), "getBulk " + m);
            check(c.delete("spy").get(), "delete");
            check(c.get("spy") == null, "get after delete");
            System.out.println("ok: spymemcached binary protocol");
        } finally {
            c.shutdown();
        }
    }
}
