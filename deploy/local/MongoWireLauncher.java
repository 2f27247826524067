import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.AbstractMongoBackend;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Starts mongo-java-server on loopback, declaring MongoDB 5.0 (wire version 13) so that
 * PyMongo 4.20 (minimum wire version 9) accepts it.
 * Usage: java -cp 'libs/*' MongoWireLauncher.java HOST PORT (DATA_FILE | :memory:)
 */
public class MongoWireLauncher {
    enum DeclaredVersion implements MongoVersion {
        MONGO_5_0(List.of(5, 0, 0), 13);

        private final List<Integer> versionArray;
        private final int wireVersion;

        DeclaredVersion(List<Integer> versionArray, int wireVersion) {
            this.versionArray = versionArray;
            this.wireVersion = wireVersion;
        }

        @Override public List<Integer> getVersionArray() { return versionArray; }
        @Override public int getWireVersion() { return wireVersion; }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: MongoWireLauncher HOST PORT (DATA_FILE | :memory:)");
            System.exit(2);
        }
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String data = args[2];
        AbstractMongoBackend backend;
        if (data.equals(":memory:")) {
            backend = new MemoryBackend();
        } else {
            Path file = Path.of(data).toAbsolutePath();
            Files.createDirectories(file.getParent());
            backend = new H2Backend(file.toString());
        }
        backend.version(DeclaredVersion.MONGO_5_0);
        MongoServer server = new MongoServer(backend);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdown();
            stopped.countDown();
        }));
        server.bind(host, port);
        System.out.println("mongo-wire listening on " + host + ":" + port + " data=" + data);
        stopped.await();
    }
}
