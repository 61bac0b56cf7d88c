package dbarena.opensearch;

import java.util.concurrent.CountDownLatch;

import org.codelibs.opensearch.runner.OpenSearchRunner;
import org.opensearch.cluster.health.ClusterHealthStatus;
import org.opensearch.common.settings.Settings;

/**
 * One OpenSearch node in this JVM, in the foreground, until SIGTERM.
 *
 * <p>Usage: {@code Main <home-dir> <http-port> <transport-port>}. The node binds 127.0.0.1 only,
 * runs without the security plugin (none is on the classpath) and with the disk-threshold
 * allocator off, so a nearly full benchmark disk does not turn indices read-only. The
 * process stays up until the harness sends SIGTERM; the shutdown hook closes the node so
 * Lucene files are flushed and the JVM exits cleanly.
 */
public final class Main {

    private Main() {
    }

    public static void main(final String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: Main <home-dir> <http-port> <transport-port>");
            System.exit(2);
        }
        final String home = args[0];
        final int httpPort = Integer.parseInt(args[1]);
        final int transportPort = Integer.parseInt(args[2]);

        final OpenSearchRunner runner = new OpenSearchRunner();
        final CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("dbarena-opensearch: stopping");
            try {
                runner.close();
            } catch (final Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "dbarena-opensearch-shutdown"));

        try {
            start(runner, home, httpPort, transportPort);
        } catch (final Throwable e) {
            // OpenSearch leaves non-daemon threads behind: exit explicitly so the harness sees it.
            System.err.println("dbarena-opensearch: failed to start");
            e.printStackTrace();
            System.exit(1);
        }
        closed.await();
    }

    private static void start(final OpenSearchRunner runner, final String home, final int httpPort,
            final int transportPort) {
        // The runner gives node N the HTTP port base + N and, unless told otherwise, probes
        // upwards only to 9299; pin the exact port instead (a busy port is a startup error).
        runner.setMaxHttpPort(-1);
        runner.onBuild((number, settings) -> {
            settings.put("network.host", "127.0.0.1");
            settings.put("http.port", String.valueOf(httpPort));
            settings.put("transport.port", String.valueOf(transportPort));
            settings.put("discovery.type", "single-node");
            settings.putList("node.roles", "cluster_manager", "data", "ingest");
            settings.put("cluster.routing.allocation.disk.threshold_enabled", false);
            settings.put("action.auto_create_index", true);
        }).build(OpenSearchRunner.newConfigs()
                .basePath(home)
                .numOfNode(1)
                .baseHttpPort(httpPort - 1)
                .clusterName("dbarena")
                .printOnFailure());

        final ClusterHealthStatus status = runner.ensureYellow();
        // One node can hold no replica: default new indices to none so they turn green, not
        // yellow. OpenSearch reads this default from the cluster state, not from node settings,
        // and the launcher's readiness check waits for it.
        runner.admin().cluster().prepareUpdateSettings()
                .setPersistentSettings(Settings.builder().put("cluster.default_number_of_replicas", 0))
                .get();
        System.out.println("dbarena-opensearch: ready on http://127.0.0.1:" + httpPort + " (cluster " + status + ")");
    }
}
