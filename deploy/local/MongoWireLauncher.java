import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.AbstractMongoBackend;
import de.bwaldvogel.mongo.backend.AbstractUniqueIndex;
import de.bwaldvogel.mongo.backend.ArrayFilters;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.ValueComparator;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.Utils;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Collection;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.oplog.Oplog;
import de.bwaldvogel.mongo.wire.bson.BsonDecoder;
import de.bwaldvogel.mongo.wire.bson.BsonEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.h2.mvstore.WriteBuffer;
import org.h2.mvstore.type.BasicDataType;
import org.h2.mvstore.type.ObjectDataType;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;

/**
 * Starts mongo-java-server on loopback, declaring MongoDB 5.0 (wire version 13) so that
 * PyMongo 4.20 (minimum wire version 9) accepts it.
 * Its H2 backend uses an index only when a query names exactly the index's fields, so a
 * compare-and-set such as {_id: x, version: 3} scanned the whole collection. Like MongoDB's
 * planner, the backend here answers any query that pins _id (a value or $in) from the _id index
 * and matches the rest of the query on the documents found.
 * H2 keeps a page cache of deserialized documents (16 MB by default); every miss Java-deserializes a
 * page, so the cache is sized by -Dmednet.mongo.cacheMegabytes (256 by default) to hold a working set.
 * Its H2 unique indexes (the _id index among them) order keys of a type H2 does not know by Java-serializing
 * both sides of every comparison, which made each lookup cost tens of serializations. Unique indexes
 * here are hash maps in memory instead, rebuilt from the data when the server opens a collection.
 * H2 stores documents with Java serialization (a class description and a stream per document, read and
 * written again whenever a page changes); here they are stored as BSON, and pages written before are still
 * read as they were.
 * mongo-java-server ignores non-unique indexes ("not yet implemented"), so every query on another field
 * read the whole collection. Here a non-unique index is kept in memory (rebuilt from the data when the
 * server opens it) and answers, like MongoDB's planner, an equality or $in on its first field, with a
 * range or equality on its second, and $exists: true on a sparse index; the rest of the query is matched
 * on the documents found.
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
            int cacheMegabytes = Integer.getInteger("mednet.mongo.cacheMegabytes", 256);
            MVStore.Builder store = new MVStore.Builder().fileName(file.toString()).cacheSize(cacheMegabytes);
            Integer pageSplitSize = Integer.getInteger("mednet.mongo.pageSplitSize");
            if (pageSplitSize != null) {
                store.pageSplitSize(pageSplitSize);
            }
            backend = new IdFirstH2Backend(store.open());
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
            protected Index<Object> openOrCreateUniqueIndex(String collectionName, String indexName,
                                                            List<IndexKey> keys, boolean sparse) {
                return new HashUniqueIndex(indexName, keys, sparse);
            }

            @Override
            protected Index<Object> openOrCreateSecondaryIndex(String collectionName, String indexName,
                                                               List<IndexKey> keys, boolean sparse) {
                return new SecondaryIndex(indexName, keys, sparse);
            }

            @Override
            protected MongoCollection<Object> openOrCreateCollection(String collectionName, CollectionOptions options) {
                String fullName = getDatabaseName() + "." + collectionName;
                MVMap<Object, Document> dataMap = IdFirstH2Backend.this.getMvStore().openMap("databases." + fullName,
                    new MVMap.Builder<Object, Document>().valueType(new BsonDocumentType()));
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

        /**
         * mongo-java-server applies an update by copying the new values into the document object it found,
         * while H2's background writer may be encoding that very object: the documents an update finds are
         * copies, so a document in H2's pages never changes once it is put there.
         */
        private static final ThreadLocal<Boolean> UPDATING = ThreadLocal.withInitial(() -> false);

        @Override
        public Document findAndModify(Document query) {
            return updating(() -> super.findAndModify(query));
        }

        @Override
        public Document updateDocuments(Document selector, Document update, ArrayFilters arrayFilters, boolean isMulti,
                                        boolean isUpsert, Oplog oplog) {
            return updating(() -> super.updateDocuments(selector, update, arrayFilters, isMulti, isUpsert, oplog));
        }

        private static <T> T updating(Supplier<T> call) {
            boolean outer = UPDATING.get();
            UPDATING.set(true);
            try {
                return call.get();
            } finally {
                UPDATING.set(outer);
            }
        }

        @Override
        protected QueryResult createQueryResult(List<Document> matchedDocuments, int batchSize) {
            if (!UPDATING.get()) {
                return super.createQueryResult(matchedDocuments, batchSize);
            }
            List<Document> copies = new ArrayList<>(matchedDocuments.size());
            for (Document document : matchedDocuments) {
                copies.add(document.cloneDeeply());
            }
            return super.createQueryResult(copies, batchSize);
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

    /** A non-unique index in memory: first key value -> second key value (or one slot) -> positions. */
    static class SecondaryIndex extends Index<Object> {
        private static final Object WHOLE = "";
        private static final Set<String> RANGE = Set.of("$lt", "$lte", "$gt", "$gte");
        private final Map<Object, NavigableMap<Object, Set<Object>>> entries = new ConcurrentHashMap<>();
        private final Map<Object, List<KeyValue>> keysOfPosition = new ConcurrentHashMap<>();

        SecondaryIndex(String name, List<IndexKey> keys, boolean sparse) {
            super(name, keys, sparse);
        }

        private boolean compound() {
            return keys().size() > 1;
        }

        private List<KeyValue> indexedKeys(Document document) {
            List<KeyValue> found = new ArrayList<>();
            for (KeyValue key : getKeyValues(document)) {
                KeyValue normalized = key.normalized();
                if (isSparse() && normalized.stream().allMatch(Missing::isNullOrMissing)) {
                    continue;
                }
                found.add(normalized);
            }
            return found;
        }

        private static Object first(KeyValue key) {
            return Missing.isNullOrMissing(key.get(0)) ? Missing.getInstance() : key.get(0);
        }

        private Object second(KeyValue key) {
            if (!compound()) {
                return WHOLE;
            }
            return Missing.isNullOrMissing(key.get(1)) ? Missing.getInstance() : key.get(1);
        }

        @Override public Object getPosition(Document document) { return null; }

        @Override public void checkAdd(Document document, MongoCollection<Object> collection) { }

        @Override
        public void add(Document document, Object position, MongoCollection<Object> collection) {
            List<KeyValue> keys = indexedKeys(document);
            for (KeyValue key : keys) {
                entries.computeIfAbsent(first(key), k -> new ConcurrentSkipListMap<>(ValueComparator.asc()))
                    .computeIfAbsent(second(key), k -> ConcurrentHashMap.newKeySet()).add(position);
            }
            keysOfPosition.put(position, keys);
        }

        @Override
        public Object remove(Document document) {
            Object position = Missing.ofNullable(document.get("_id"));
            List<KeyValue> keys = keysOfPosition.remove(position);
            for (KeyValue key : keys == null ? List.<KeyValue>of() : keys) {
                NavigableMap<Object, Set<Object>> values = entries.get(first(key));
                Set<Object> positions = values == null ? null : values.get(second(key));
                if (positions != null) {
                    positions.remove(position);
                    if (positions.isEmpty()) {
                        values.remove(second(key), positions);
                    }
                }
            }
            return position;
        }

        @Override
        public boolean canHandle(Document query) {
            Object value = query.get(keys().get(0));
            if (value == null || value instanceof Collection) {
                return false;
            }
            if (!(value instanceof Document)) {
                return true;
            }
            Document condition = (Document) value;
            if (condition.size() != 1) {
                return false;
            }
            if (condition.containsKey("$in")) {
                Object in = condition.get("$in");
                return in instanceof Collection && ((Collection<?>) in).stream()
                    .allMatch(v -> v != null && !(v instanceof Document) && !(v instanceof Collection));
            }
            return isSparse() && !compound() && condition.containsKey("$exists") && Utils.isTrue(condition.get("$exists"));
        }

        @Override
        public Iterable<Object> getPositions(Document query) {
            Object value = query.get(keys().get(0));
            Collection<?> wanted;
            if (value instanceof Document && ((Document) value).containsKey("$in")) {
                wanted = (Collection<?>) ((Document) value).get("$in");
            } else if (value instanceof Document) {
                wanted = null;
            } else {
                wanted = List.of(value);
            }
            Set<Object> positions = new LinkedHashSet<>();
            Collection<NavigableMap<Object, Set<Object>>> groups = new ArrayList<>();
            if (wanted == null) {
                groups.addAll(entries.values());
            } else {
                for (Object one : wanted) {
                    NavigableMap<Object, Set<Object>> group = entries.get(new KeyValue(one).normalized().get(0));
                    if (group != null) {
                        groups.add(group);
                    }
                }
            }
            for (NavigableMap<Object, Set<Object>> group : groups) {
                for (Set<Object> found : narrowed(group, query).values()) {
                    positions.addAll(found);
                }
            }
            return positions;
        }

        private NavigableMap<Object, Set<Object>> narrowed(NavigableMap<Object, Set<Object>> group, Document query) {
            if (!compound() || !(query.get(keys().get(1)) instanceof Document)) {
                return group;
            }
            Document range = (Document) query.get(keys().get(1));
            if (!RANGE.containsAll(range.keySet())) {
                return group;
            }
            NavigableMap<Object, Set<Object>> narrowed = group;
            for (Map.Entry<String, Object> bound : range.entrySet()) {
                Object limit = new KeyValue(bound.getValue()).normalized().get(0);
                if (limit == null || limit instanceof Document || limit instanceof Collection) {
                    return group;
                }
                boolean inclusive = bound.getKey().endsWith("e");
                narrowed = bound.getKey().startsWith("$l") ? narrowed.headMap(limit, inclusive)
                    : narrowed.tailMap(limit, inclusive);
            }
            return narrowed;
        }

        @Override public long getCount() { return keysOfPosition.size(); }

        @Override public long getDataSize() { return 0; }

        @Override public void checkUpdate(Document oldDocument, Document newDocument, MongoCollection<Object> collection) { }

        @Override
        public void updateInPlace(Document oldDocument, Document newDocument, Object position,
                                  MongoCollection<Object> collection) {
            remove(oldDocument);
            add(newDocument, position, collection);
        }

        @Override
        public void drop() {
            entries.clear();
            keysOfPosition.clear();
        }
    }

    /** A unique index as a hash map in memory (filled from the collection's documents when it is opened). */
    static class HashUniqueIndex extends AbstractUniqueIndex<Object> {
        private final Map<KeyValue, Object> positions = new ConcurrentHashMap<>();

        HashUniqueIndex(String name, List<IndexKey> keys, boolean sparse) {
            super(name, keys, sparse);
        }

        @Override protected Object removeDocument(KeyValue key) { return positions.remove(key); }

        @Override protected boolean putKeyPosition(KeyValue key, Object position) {
            return positions.putIfAbsent(key, position) == null;
        }

        @Override protected Iterable<Map.Entry<KeyValue, Object>> getIterable() { return positions.entrySet(); }

        @Override protected Object getPosition(KeyValue key) { return positions.get(key); }

        @Override public long getCount() { return positions.size(); }

        @Override public boolean isEmpty() { return positions.isEmpty(); }

        @Override public long getDataSize() { return positions.size(); }

        @Override public void drop() { positions.clear(); }
    }

    /** Documents stored as BSON (tagged); a value without the tag is one H2 Java-serialized before. */
    static class BsonDocumentType extends BasicDataType<Document> {
        private static final byte BSON = (byte) 0xB5;
        private final ObjectDataType serialized = new ObjectDataType();

        private static final ThreadLocal<ByteBuf> ENCODED = ThreadLocal.withInitial(() -> Unpooled.buffer(16 * 1024));

        @Override
        public void write(WriteBuffer buffer, Document document) {
            ByteBuf encoded = ENCODED.get().clear();
            BsonEncoder.encodeDocument(document, encoded);
            buffer.put(BSON).put(encoded.nioBuffer());
        }

        @Override
        public Document read(ByteBuffer buffer) {
            if (buffer.get(buffer.position()) != BSON) {
                return (Document) serialized.read(buffer);
            }
            buffer.get();
            ByteBuf encoded = Unpooled.wrappedBuffer(buffer.slice());
            Document document = BsonDecoder.decodeBson(encoded);
            buffer.position(buffer.position() + encoded.readerIndex());
            return document;
        }

        @Override
        public int getMemory(Document document) {
            return 64 + sizeOf(document);
        }

        private static int sizeOf(Object value) {
            if (value instanceof Map) {
                int size = 48;
                for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                    size += 40 + sizeOf(entry.getKey()) + sizeOf(entry.getValue());
                }
                return size;
            }
            if (value instanceof Collection) {
                int size = 40;
                for (Object element : (Collection<?>) value) {
                    size += 8 + sizeOf(element);
                }
                return size;
            }
            if (value instanceof String) {
                return 40 + ((String) value).length();
            }
            if (value instanceof byte[]) {
                return 16 + ((byte[]) value).length;
            }
            return 24;
        }

        @Override
        public Document[] createStorage(int size) {
            return new Document[size];
        }
    }
}
