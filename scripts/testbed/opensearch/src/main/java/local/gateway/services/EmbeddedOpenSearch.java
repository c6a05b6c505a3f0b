package local.gateway.services;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

/**
 * A single-node OpenSearch 2.19 server running from plain Maven jars (no distribution tarball),
 * used by {@code scripts/services} as the local Elasticsearch-API server.
 *
 * <p>Configuration comes from environment variables (all optional except the home):
 * <ul>
 *   <li>{@code OPENSEARCH_HOME} - path.home (required; config/ and logs/ live below it)</li>
 *   <li>{@code OPENSEARCH_DATA} - path.data (default: $OPENSEARCH_HOME/data)</li>
 *   <li>{@code OPENSEARCH_HOST} - network.host (default 127.0.0.1)</li>
 *   <li>{@code OPENSEARCH_HTTP_PORT} - http.port (default 9200)</li>
 *   <li>{@code OPENSEARCH_TRANSPORT_PORT} - transport.port (default 9300)</li>
 *   <li>{@code OPENSEARCH_CLUSTER_NAME} - cluster.name (default gateway-local)</li>
 *   <li>{@code OPENSEARCH_NODE_NAME} - node.name (default node-1)</li>
 *   <li>{@code OPENSEARCH_DEFAULT_REPLICAS} - cluster.default_number_of_replicas stored on first
 *       start (default 0; {@code keep} to leave it alone)</li>
 * </ul>
 * Extra settings may be passed as {@code key=value} program arguments; they win over the defaults.
 */
public final class EmbeddedOpenSearch {

    /** Node's constructor that accepts classpath plugins is protected. */
    static final class PluginNode extends Node {
        PluginNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    private EmbeddedOpenSearch() {}

    private static String env(String name, String dflt) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? dflt : v;
    }

    @SuppressWarnings("unchecked")
    private static List<Class<? extends Plugin>> plugins() {
        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        // HTTP + transport over Netty (mandatory: without it there is no REST API)
        String[] required = {"org.opensearch.transport.Netty4Plugin"};
        // nice to have: standard analyzers / tokenizers / token filters
        String[] optional = {"org.opensearch.analysis.common.CommonAnalysisPlugin"};
        for (String name : required) {
            try {
                plugins.add((Class<? extends Plugin>) Class.forName(name));
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException("required plugin class not on classpath: " + name, e);
            }
        }
        for (String name : optional) {
            try {
                plugins.add((Class<? extends Plugin>) Class.forName(name));
            } catch (ClassNotFoundException e) {
                System.err.println("optional plugin class not on classpath, skipped: " + name);
            }
        }
        return plugins;
    }

    /**
     * One node can never allocate replicas, so new indices default to 0 of them (cluster health
     * turns green instead of staying yellow); an explicit index setting still wins. This is a
     * dynamic cluster setting (read from the cluster metadata, not from node settings), so it is
     * stored as a persistent setting once, unless it was set already.
     * OPENSEARCH_DEFAULT_REPLICAS=keep leaves it alone.
     */
    private static void defaultReplicas(Node node) {
        String replicas = env("OPENSEARCH_DEFAULT_REPLICAS", "0");
        if ("keep".equals(replicas)) {
            return;
        }
        String key = "cluster.default_number_of_replicas";
        try {
            Settings persistent = node.client().admin().cluster().prepareState().clear().setMetadata(true)
                .get().getState().metadata().persistentSettings();
            if (!persistent.hasValue(key)) {
                node.client().admin().cluster().prepareUpdateSettings()
                    .setPersistentSettings(Settings.builder().put(key, Integer.parseInt(replicas)))
                    .get();
            }
        } catch (Exception e) {
            System.err.println("could not set " + key + ": " + e);
        }
    }

    public static void main(String[] args) throws Exception {
        String home = System.getenv("OPENSEARCH_HOME");
        if (home == null || home.isEmpty()) {
            System.err.println("OPENSEARCH_HOME must be set");
            System.exit(2);
        }
        Path homePath = Paths.get(home).toAbsolutePath();
        Path dataPath = Paths.get(env("OPENSEARCH_DATA", homePath.resolve("data").toString())).toAbsolutePath();
        Path logsPath = homePath.resolve("logs");
        Path configPath = homePath.resolve("config");
        Files.createDirectories(dataPath);
        Files.createDirectories(logsPath);
        Files.createDirectories(configPath);

        Settings.Builder builder = Settings.builder()
            .put("path.home", homePath.toString())
            .put("path.data", dataPath.toString())
            .put("path.logs", logsPath.toString())
            .put("cluster.name", env("OPENSEARCH_CLUSTER_NAME", "gateway-local"))
            .put("node.name", env("OPENSEARCH_NODE_NAME", "node-1"))
            .put("discovery.type", "single-node")
            .put("network.host", env("OPENSEARCH_HOST", "127.0.0.1"))
            .put("http.port", env("OPENSEARCH_HTTP_PORT", "9200"))
            .put("transport.port", env("OPENSEARCH_TRANSPORT_PORT", "9300"))
            // never flip indices to read-only because the (shared) disk is fuller than 85/90/95 %
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            // like Elasticsearch: indexing into a missing index creates it
            .put("action.auto_create_index", true);
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq <= 0) {
                System.err.println("ignoring argument (expected key=value): " + arg);
                continue;
            }
            builder.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        Settings settings = builder.build();

        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Collections.emptyMap(), configPath, () -> "node-1");

        Node node = new PluginNode(environment, plugins());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                System.err.println("error while stopping OpenSearch: " + e);
            } finally {
                stopped.countDown();
            }
        }, "opensearch-shutdown"));

        try {
            node.start();
        } catch (Throwable t) {
            System.err.println("OpenSearch failed to start: " + t);
            t.printStackTrace();
            System.exit(1);
        }
        defaultReplicas(node);
        System.out.println("EmbeddedOpenSearch started: http://" + env("OPENSEARCH_HOST", "127.0.0.1")
            + ":" + env("OPENSEARCH_HTTP_PORT", "9200") + " (pid " + ProcessHandle.current().pid() + ")");
        // the node's own threads may all be daemons: keep the JVM alive until SIGTERM/SIGINT
        stopped.await();
    }
}
