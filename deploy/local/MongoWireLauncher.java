import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.AbstractMongoBackend;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Collection;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Starts mongo-java-server on loopback, declaring MongoDB 5.0 (wire version 13) so that
 * PyMongo 4.20 (minimum wire version 9) accepts it.
 * Its H2 backend uses an index only when a query names exactly the index's fields, so a
 * compare-and-set such as {_id: x, version: 3} scanned the whole collection. Like MongoDB's
 * planner, the backend here answers any query that pins _id (a value or $in) from the _id index
 * and matches the rest of the query on the documents found.
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
            backend = new IdFirstH2Backend(MVStore.open(file.toString()));
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

    static boolean pinsId(Document query) {
        if (query.size() < 2 || !query.containsKey("_id")) {
            return false;
        }
        Object id = query.get("_id");
        return !(id instanceof Document) || ((Document) id).keySet().equals(java.util.Set.of("$in"));
    }

    static class IdFirstH2Backend extends H2Backend {
        IdFirstH2Backend(MVStore store) {
            super(store);
        }

        @Override
        protected MongoDatabase openOrCreateDatabase(String databaseName) {
            return new IdFirstDatabase(databaseName);
        }

        class IdFirstDatabase extends H2Database {
            IdFirstDatabase(String databaseName) {
                super(databaseName, IdFirstH2Backend.this.getMvStore(), IdFirstH2Backend.this.getCursorRegistry());
            }

            @Override
            protected MongoCollection<Object> openOrCreateCollection(String collectionName, CollectionOptions options) {
                String fullName = getDatabaseName() + "." + collectionName;
                MVMap<Object, Document> dataMap = IdFirstH2Backend.this.getMvStore().openMap("databases." + fullName);
                MVMap<String, Object> metaMap = IdFirstH2Backend.this.getMvStore().openMap("meta." + fullName);
                return new IdFirstCollection(this, collectionName, options, dataMap, metaMap, cursorRegistry);
            }
        }
    }

    static class IdFirstCollection extends H2Collection {
        IdFirstCollection(MongoDatabase database, String collectionName, CollectionOptions options,
                          MVMap<Object, Document> dataMap, MVMap<String, Object> metaMap, CursorRegistry cursorRegistry) {
            super(database, collectionName, options, dataMap, metaMap, cursorRegistry);
        }

        @Override
        protected QueryResult queryDocuments(Document query, Document orderBy, int numberToSkip, int limit,
                                             int batchSize, Document fieldSelector) {
            if (pinsId(query)) {
                Document idQuery = new Document("_id", query.get("_id"));
                for (Index<Object> index : getIndexes()) {
                    if (index.canHandle(idQuery)) {
                        return matchDocuments(query, index.getPositions(idQuery), orderBy, numberToSkip, limit,
                            batchSize, fieldSelector);
                    }
                }
            }
            return super.queryDocuments(query, orderBy, numberToSkip, limit, batchSize, fieldSelector);
        }
    }
}
