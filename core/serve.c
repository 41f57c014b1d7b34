/*
 * serve.c - `berth serve`: load the configuration and plugins, listen, and
 * shut down cleanly on SIGTERM/SIGINT.
 *
 * Signals are blocked before any thread starts, so every thread inherits
 * the mask and only the main thread, in sigwait(), ever sees them: no
 * async-signal-safety puzzles in the request path.
 */
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "errors.h"
#include "events.h"
#include "jobs.h"
#include "http.h"
#include "log.h"
#include "plugin_loader.h"
#include "pull_times.h"
#include "runtime.h"

static const char serve_usage[] =
	"usage: berth serve [-c FILE]\n"
	"\n"
	"Serve the registry as FILE (default berth.yaml) and its conf.d/ fragments\n"
	"describe. SIGTERM or SIGINT stops accepting connections, lets requests in\n"
	"flight finish (up to limits.shutdown_timeout) and exits 0. SIGHUP or\n"
	"SIGUSR1 makes plugins reopen the files they write (after logrotate).\n"
	"\n"
	"options:\n"
	"  -c, --config FILE   the configuration file (default berth.yaml)\n"
	"  -h, --help          show this help\n";

/* A private key others can read is one leak away from a stolen identity. */
static void warn_if_exposed(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && (st.st_mode & 077))
		log_warn("tls: the private key '%s' can be read by other users (mode %04o); "
			 "chmod 600 it",
			 path, (unsigned)(st.st_mode & 07777));
}

static int read_file(const char *path, char **out, berth_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;
	int rc = 0;

	if (!f)
		return error_set(err, BERTH_E_CONFIG, "cannot open '%s': %s", path,
				 strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || size > 1024 * 1024 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		rc = error_set(err, BERTH_E_CONFIG, "cannot read '%s': not a small regular file",
			       path);
		goto out;
	}
	buf = malloc((size_t)size + 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		rc = error_set(err, BERTH_E_CONFIG, "cannot read '%s'", path);
		goto out;
	}
	buf[size] = '\0';
	*out = buf;
	buf = NULL;
out:
	free(buf);
	fclose(f);
	return rc;
}

/*
 * Worker threads: each serves many connections through epoll, but a
 * storage call (an fsync, a rename) blocks its thread, so keep a few more
 * threads than cores when the operator does not choose.
 */
static unsigned worker_threads(unsigned configured)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (configured)
		return configured;
	if (cpus < 2)
		cpus = 2;
	return (unsigned)(cpus * 2 > 64 ? 64 : cpus * 2);
}

int cmd_serve(int argc, char **argv)
{
	const char *file = "berth.yaml";
	runtime rt = {0};
	server_config *cfg = NULL;
	http_server *srv = NULL;
	berth_error err = {0};
	char *cert = NULL, *key = NULL;
	sigset_t sigs;
	int rc, sig = 0, status = 1;

	rc = command_options(argc, argv, &file, serve_usage);
	if (rc != 0)
		return rc > 0 ? 0 : 2;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	/* A client that disconnects mid-response must not kill the server. */
	signal(SIGPIPE, SIG_IGN);

	host_set_serving(1);
	rc = runtime_open(file, &rt, &err);
	cfg = rt.cfg;
	if (rc != 0) {
		if (cfg)
			log_error("%s", err.message);
		else
			fprintf(stderr, "berth: %s\n", err.message);
		goto out;
	}
	log_info("berth %s serving %s", BERTH_VERSION, file);
	rc = jobs_init(&rt.plugins, cfg, &err);
	if (rc == 0)
		rc = events_start(&rt.plugins, cfg->events_queue_size, &err);
	if (rc == 0)
		rc = jobs_start(&err);
	if (rc == 0)
		rc = pull_times_start(&err);
	if (rc != 0) {
		log_error("%s", err.message);
		goto out;
	}

	if (cfg->tls_cert) {
		rc = read_file(cfg->tls_cert, &cert, &err);
		if (rc == 0)
			rc = read_file(cfg->tls_key, &key, &err);
		if (rc == 0)
			warn_if_exposed(cfg->tls_key);
		if (rc != 0) {
			log_error("tls: %s", err.message);
			goto out;
		}
	}
	rc = http_server_start(&(http_server_options){
				       .host = cfg->listen_host,
				       .port = cfg->listen_port,
				       .threads = worker_threads(cfg->threads),
				       .max_connections = cfg->max_connections,
				       .connection_timeout_s =
					       (unsigned)((cfg->connection_timeout_ms + 999) / 1000),
				       .tls_cert_pem = cert,
				       .tls_key_pem = key,
				       .tls_min_version = cfg->tls_min_version,
				       .access_log = cfg->access_log,
				       .max_requests = cfg->max_requests,
				       .max_connections_per_client =
					       cfg->max_connections_per_client,
				       .max_header_size = (size_t)cfg->max_header_size,
			       },
			       &srv, &err);
	if (rc != 0) {
		log_error("%s", err.message);
		goto out;
	}
	log_info("listening on %s://%s%s%s:%d", cert ? "https" : "http",
		 strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
		 strchr(cfg->listen_host, ':') ? "]" : "", http_server_port(srv));

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP || sig == SIGUSR1) {
			log_info("%s: reopening plugins' files (configuration changes need a "
				 "restart)",
				 sig == SIGHUP ? "SIGHUP" : "SIGUSR1");
			plugins_reopen(&rt.plugins);
			continue;
		}
		break;
	}
	log_info("%s: shutting down; new connections are closed, requests in flight get up "
		 "to %llu ms",
		 sig == SIGTERM ? "SIGTERM" : "SIGINT",
		 (unsigned long long)cfg->shutdown_timeout_ms);
	http_server_stop(srv, cfg->shutdown_timeout_ms);
	srv = NULL;
	pull_times_stop();
	/* Requests are done: no new events. Let notifiers hear the last ones. */
	jobs_stop();
	events_stop(cfg->shutdown_timeout_ms);
	log_info("stopped");
	status = 0;
out:
	if (srv)
		http_server_stop(srv, 0);
	jobs_stop();
	events_stop(0);
	pull_times_stop();
	jobs_free();
	runtime_close(&rt);
	if (key) {
		/* The private key should not linger in freed memory. */
		memset(key, 0, strlen(key));
		free(key);
	}
	free(cert);
	return status;
}
