import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.admin.UserScramCredentialsDescription;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.errors.ResourceNotFoundException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;

/**
 * SCRAM users, ACLs and topics of a secured Kafka cluster, in one JVM start, through the Admin client.
 *
 * Usage: java -cp 'libs/*' KafkaSecurityAdmin.java BOOTSTRAP PROTOCOL MECHANISM [CA_PEM_FILE]
 * Standard input: the admin user name, its password, then one operation per line (tab-separated):
 *   user-upsert NAME PASSWORD | user-delete NAME | users
 *   acl-add TYPE PATTERN NAME PRINCIPAL OPERATION | acl-delete-principal PRINCIPAL
 *   acl-delete TYPE PATTERN NAME PRINCIPAL | acls
 *   topic-create NAME PARTITIONS REPLICATION
 * Every operation prints one tab-separated line per result on standard output; failures exit 1.
 */
public class KafkaSecurityAdmin {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String user = in.readLine(), password = in.readLine();
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.SECURITY_PROTOCOL_CONFIG, args[1]);
        props.put("sasl.mechanism", args[2]);
        props.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                + user + "\" password=\"" + password + "\";");
        if (args.length > 3 && !args[3].isEmpty()) {  // SASL_SSL: the cluster's CA (PEM)
            props.put("ssl.truststore.type", "PEM");
            props.put("ssl.truststore.location", args[3]);
        }
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        List<String[]> operations = new ArrayList<>();
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            if (!line.isBlank()) operations.add(line.split("\t", -1));
        }
        try (Admin admin = Admin.create(props)) {
            for (String[] op : operations) {
                run(admin, op);
            }
        } catch (ExecutionException error) {
            System.err.println("error\t" + error.getCause().getClass().getSimpleName() + "\t" + error.getCause().getMessage());
            System.exit(1);
        }
    }

    static void run(Admin admin, String[] op) throws Exception {
        switch (op[0]) {
            case "user-upsert" -> {
                UserScramCredentialAlteration upsert = new UserScramCredentialUpsertion(
                        op[1], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), op[2]);
                admin.alterUserScramCredentials(List.of(upsert)).all().get(30, TimeUnit.SECONDS);
                System.out.println("user-upserted\t" + op[1]);
            }
            case "user-delete" -> {
                try {
                    admin.alterUserScramCredentials(List.of(new UserScramCredentialDeletion(op[1], ScramMechanism.SCRAM_SHA_512)))
                            .all().get(30, TimeUnit.SECONDS);
                    System.out.println("user-deleted\t" + op[1]);
                } catch (ExecutionException error) {
                    if (!(error.getCause() instanceof ResourceNotFoundException)) throw error;
                    System.out.println("user-absent\t" + op[1]);
                }
            }
            case "users" -> {
                Map<String, UserScramCredentialsDescription> users = admin.describeUserScramCredentials().all().get(30, TimeUnit.SECONDS);
                List<String> names = new ArrayList<>(users.keySet());
                Collections.sort(names);
                for (String name : names) System.out.println("user\t" + name);
            }
            case "acl-add" -> {
                AclBinding binding = new AclBinding(
                        new ResourcePattern(ResourceType.fromString(op[1]), op[3], PatternType.fromString(op[2].toUpperCase())),
                        new AccessControlEntry(op[4], "*", AclOperation.fromString(op[5]), AclPermissionType.ALLOW));
                admin.createAcls(List.of(binding)).all().get(30, TimeUnit.SECONDS);
                System.out.println("acl-added\t" + String.join("\t", List.of(op).subList(1, op.length)));
            }
            case "acl-delete" -> {
                AclBindingFilter filter = new AclBindingFilter(
                        new ResourcePatternFilter(ResourceType.fromString(op[1]), op[3], PatternType.fromString(op[2].toUpperCase())),
                        new AccessControlEntryFilter(op[4], null, AclOperation.ANY, AclPermissionType.ANY));
                int deleted = admin.deleteAcls(List.of(filter)).all().get(30, TimeUnit.SECONDS).size();
                System.out.println("acls-deleted\t" + deleted + "\t" + op[3] + "\t" + op[4]);
            }
            case "acl-delete-principal" -> {
                AclBindingFilter filter = new AclBindingFilter(ResourcePatternFilter.ANY,
                        new AccessControlEntryFilter(op[1], null, AclOperation.ANY, AclPermissionType.ANY));
                int deleted = admin.deleteAcls(List.of(filter)).all().get(30, TimeUnit.SECONDS).size();
                System.out.println("acls-deleted\t" + deleted + "\t*\t" + op[1]);
            }
            case "acls" -> {
                for (AclBinding binding : admin.describeAcls(AclBindingFilter.ANY).values().get(30, TimeUnit.SECONDS)) {
                    ResourcePattern pattern = binding.pattern();
                    AccessControlEntry entry = binding.entry();
                    System.out.println("acl\t" + pattern.resourceType() + "\t" + pattern.patternType() + "\t" + pattern.name()
                            + "\t" + entry.principal() + "\t" + entry.operation() + "\t" + entry.permissionType());
                }
            }
            case "topic-create" -> {
                try {
                    admin.createTopics(List.of(new NewTopic(op[1], Integer.parseInt(op[2]), Short.parseShort(op[3]))))
                            .all().get(30, TimeUnit.SECONDS);
                    System.out.println("topic-created\t" + op[1]);
                } catch (ExecutionException error) {
                    if (!(error.getCause() instanceof TopicExistsException)) throw error;
                    System.out.println("topic-exists\t" + op[1]);
                }
            }
            default -> throw new IllegalArgumentException("unknown operation " + op[0]);
        }
    }
}
