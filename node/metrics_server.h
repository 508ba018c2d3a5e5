/*
 * metrics_server.h - zincd's metrics endpoint: `GET /metrics` in the Prometheus text format
 * (libmicrohttpd, its own thread) on [metrics] listen_host : [mgmt] metrics_port, and the DPDK
 * telemetry commands /zinc/status and /zinc/counters (docs/operations.md "Metrics").
 *
 * The management thread calls zn_metrics_server_tick from its loop; every ZN_METRICS_PUBLISH_NS
 * it asks the lcore for a copy of the counters (zn_node_ctrl_metrics) and publishes it. Scrapes
 * and telemetry requests render from the latest published copy: they never reach the lcore and
 * take no lock the data plane takes. A scrape therefore shows values at most ~100 ms old
 * (zinc_metrics_snapshot_timestamp_seconds says when they were taken).
 *
 * Other modules add families with zn_metrics_register(zn_metrics_server_registry(s), ...)
 * (one call, see node/metrics.h), before or after start.
 *
 * Context: the management thread, except where said.
 */
#ifndef ZN_NODE_METRICS_SERVER_H
#define ZN_NODE_METRICS_SERVER_H

#include <stdint.h>

#include "dataplane/zn_dp_loop.h"
#include "mgmt/config.h"
#include "node/metrics.h"

struct zn_metrics_server;
struct zn_node;

/*
 * Create the registry with the node's families; start the HTTP listener when [mgmt]
 * metrics_port is not 0; register the telemetry commands when the transport is DPDK (the
 * telemetry socket itself exists only when the EAL runs with telemetry, see the docs).
 * 0, ZN_ENOMEM, ZN_EIO (the port could not be bound: the message says why).
 */
int zn_metrics_server_start(const struct zn_config *cfg, struct zn_metrics_server **out, char *err,
                            size_t err_len);

/* Any thread: the registry, for other modules' families. */
struct zn_metrics_reg *zn_metrics_server_registry(struct zn_metrics_server *s);

/* Management loop: publish a fresh copy when one is due (bounded wait for the lcore). */
void zn_metrics_server_tick(struct zn_metrics_server *s, struct zn_node *n, struct zn_dp_lcore *lc,
                            uint64_t now_ns);

/* Publish a snapshot directly (what tick does with the lcore's copy; tests). */
struct zn_node_metrics;
void zn_metrics_server_publish(struct zn_metrics_server *s, const struct zn_node_metrics *m);

/* Stop the listener (waits for scrapes in progress), detach telemetry, free. NULL is fine. */
void zn_metrics_server_stop(struct zn_metrics_server *s);

/* Render the current text (what GET /metrics returns): tests and tools. Caller frees. */
int zn_metrics_server_render(struct zn_metrics_server *s, char **text, size_t *len);

#endif /* ZN_NODE_METRICS_SERVER_H */
