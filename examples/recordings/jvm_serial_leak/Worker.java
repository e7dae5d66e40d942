// A request worker under steady short-lived garbage, for leakwatch recordings.
//   java -Xms64m -Xmx384m -XX:+UseSerialGC Worker --rate 100 --retain 0     (no leak)
//   java -Xms64m -Xmx384m -XX:+UseSerialGC Worker --rate 100 --retain 300   (keeps 300 B/request)
// Each request builds ~40 KB of garbage (strings, a map, arrays); the last
// --recent responses (each with a --trace-bytes array) are kept a while (they get promoted, then die, so the old
// generation saws too); with --retain N a byte[N] per request goes into a
// static list that is never cleared (the leak).
import java.util.*;

public class Worker {
    static final List<byte[]> LEAKED = new ArrayList<>();
    static int TRACE_BYTES = 2048;

    static long opt(String[] a, String name, long def) {
        for (int i = 0; i + 1 < a.length; i++) if (a[i].equals(name)) return Long.parseLong(a[i + 1]);
        return def;
    }

    static Map<String, Object> handle(long id, Random rng) {
        Map<String, Object> req = new HashMap<>();
        StringBuilder sb = new StringBuilder();
        List<String> items = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            String s = "item-" + id + "-" + i + "-" + rng.nextInt(100000);
            items.add(s);
            sb.append(s).append(',');
        }
        req.put("items", items);
        req.put("body", sb.toString());
        long[] scratch = new long[512];
        for (int i = 0; i < scratch.length; i++) scratch[i] = rng.nextLong();
        Map<String, Object> resp = new HashMap<>();
        resp.put("id", id);
        resp.put("len", sb.length());
        resp.put("digest", Long.toHexString(scratch[(int) (id % 512)]));
        resp.put("trace", new byte[TRACE_BYTES]); // kept with the response while it is recent
        return resp;
    }

    public static void main(String[] a) throws Exception {
        long rate = opt(a, "--rate", 100);
        int retain = (int) opt(a, "--retain", 0);
        int recentN = (int) opt(a, "--recent", 5000);
        TRACE_BYTES = (int) opt(a, "--trace-bytes", 2048);
        Object[] recent = new Object[recentN];
        Random rng = new Random(1);
        long t0 = System.nanoTime();
        long served = 0;
        while (true) {
            double now = (System.nanoTime() - t0) / 1e9;
            while (served < now * rate) {
                Map<String, Object> resp = handle(served, rng);
                recent[(int) (served % recentN)] = resp;
                if (retain > 0) {
                    byte[] b = new byte[retain];
                    rng.nextBytes(b);
                    LEAKED.add(b);
                }
                served++;
            }
            Thread.sleep(20);
        }
    }
}
