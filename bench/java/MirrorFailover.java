// MirrorMaker 2's documented failover, the reference for `bench failover`: per consumer
// group, RemoteClusterUtils.translateOffsets (each call reads the target's checkpoints
// topic) then Admin.alterConsumerGroupOffsets on the target. Mode `pattern` uses the
// Pattern overload of translateOffsets instead (one read of the checkpoints topic for
// every matching group) and the same per-group alterConsumerGroupOffsets.
//
// Compiled and run by the bench itself against the Kafka distribution's jars:
//   javac -cp '.cache/services/kafka/libs/*' -d .cache/bench-java bench/java/MirrorFailover.java
//   java -cp '.cache/bench-java:.cache/services/kafka/libs/*' MirrorFailover \
//       <target bootstrap> <source alias> <group regex> per-group|pattern [--dry-run]
// Prints one line: groups, partitions translated, groups committed, failures.

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.mirror.MirrorClient;
import org.apache.kafka.connect.mirror.RemoteClusterUtils;

public class MirrorFailover {
    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: MirrorFailover <target bootstrap> <source alias> <group regex> per-group|pattern [--dry-run]");
            System.exit(2);
        }
        String bootstrap = args[0];
        String alias = args[1];
        Pattern wanted = Pattern.compile(args[2]);
        boolean perGroup = args[3].equals("per-group");
        boolean dryRun = args.length > 4 && args[4].equals("--dry-run");
        Map<String, Object> properties = new HashMap<>();
        properties.put("bootstrap.servers", bootstrap);
        Duration timeout = Duration.ofSeconds(60);

        Map<String, Map<TopicPartition, OffsetAndMetadata>> translated = new TreeMap<>();
        if (perGroup) {
            // The operator's loop: the groups the target's checkpoints name, one
            // translateOffsets each.
            Map<String, Map<TopicPartition, OffsetAndMetadata>> named;
            try (MirrorClient client = new MirrorClient(properties)) {
                named = client.remoteConsumerOffsets(wanted, alias, timeout);
            }
            for (String group : named.keySet()) {
                translated.put(group, RemoteClusterUtils.translateOffsets(properties, alias, group, timeout));
            }
        } else {
            translated.putAll(RemoteClusterUtils.translateOffsets(properties, alias, wanted, timeout));
        }
        int partitions = 0;
        int committed = 0;
        int failed = 0;
        try (Admin admin = Admin.create(properties)) {
            for (Map.Entry<String, Map<TopicPartition, OffsetAndMetadata>> group : translated.entrySet()) {
                partitions += group.getValue().size();
                if (dryRun || group.getValue().isEmpty()) {
                    continue;
                }
                try {
                    admin.alterConsumerGroupOffsets(group.getKey(), group.getValue()).all().get();
                    committed++;
                } catch (Exception error) {
                    failed++;
                    System.err.println(group.getKey() + ": " + error.getMessage());
                }
            }
        }
        int selected = translated.size();
        System.out.println("groups=" + selected + " partitions=" + partitions
                + " committed=" + committed + " failed=" + failed);
        System.exit(failed == 0 ? 0 : 3);
    }
}
