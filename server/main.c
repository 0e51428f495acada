/*
 * main.c - mcd's entry point: settings, then each module set up in
 * dependency order (store, workers, listener), the main thread's event loop
 * (accept, the once-a-second clock, signals), then teardown in reverse.
 *
 * Signals, as memcached 1.6.45: SIGINT and SIGTERM stop at once (exit 0);
 * SIGUSR1, like the `shutdown graceful` command, prints "Gracefully
 * stopping" and stops the same way. Either way the listening sockets close
 * first, then the workers stop and every connection is closed at once,
 * after one non-blocking attempt to write the replies it has pending; a
 * request in flight is not waited for (memcached does not wait either).
 * SIGHUP rereads the -Y auth file (as 1.6.45), reloads the TLS certificate
 * and key under -Z (as 1.6.45's refresh_certs) and, with -o cluster_config,
 * re-reads the cluster config file (server/cluster.h); with none of them it
 * is ignored (logged at -v).
 */
#include "config.h"

#include "server/auth_file.h"
#include "server/cluster.h"
#include "server/daemon.h"
#include "server/hotkeys.h"
#include "server/latency.h"
#include "server/listener.h"
#include "server/log.h"
#include "server/metrics_http.h"
#include "server/process.h"
#include "server/sasl.h"
#include "server/settings.h"
#include "server/stats.h"
#include "server/stats_detail.h"
#include "server/tls.h"
#include "server/watch.h"
#include "server/worker.h"
#include "store/store.h"

#include <event2/event.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

/* Rel time starts here, so that "already expired" (1) lies in the past. */
#define CLOCK_START 2

static struct event_base *main_base;
static atomic_bool graceful;           /* stop gracefully (SIGUSR1, shutdown graceful) */
static struct timespec mono_start;

static void clock_tick(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    store_clock_set((rel_time_t)(now.tv_sec - mono_start.tv_sec) + CLOCK_START);
}

static void clock_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    clock_tick();
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    log_msg(LOG_INFO, "Signal handled: %s.", strsignal((int)sig));
    event_base_loopbreak(main_base);
}

/* SIGHUP's TLS part: reload the certificate and key (a bad file is
 * logged and the current ones stay). */
static bool sighup_tls(void)
{
    char msg[512];
    if (!settings.ssl_enabled)
        return false;
    if (tls_refresh(msg, sizeof(msg)) == 0)
        log_msg(LOG_INFO, "SIGHUP handled: TLS certificates reloaded.");
    return true;
}

/* The one SIGHUP handler: each module that reloads something on SIGHUP
 * adds its call here (e.g. the cluster config, branch prefix). */
static void sighup_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    bool any = sighup_tls();
    if (settings.auth_file != NULL) {
        auth_file_reload(); /* -Y: reread the auth file, as memcached 1.6.45 */
        any = true;
    }
    if (cluster_enabled()) {
        /* logged once the new list is in place: a test (or an operator's
         * script) that waits for the line then sees it */
        (void)cluster_reload(); /* a bad file is logged and keeps the old list */
        log_msg(LOG_INFO, "SIGHUP handled: the cluster config re-read.");
        any = true;
    }
    if (!any)
        log_msg(LOG_INFO, "SIGHUP handled: ignored.");
}

static void graceful_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    log_msg(LOG_INFO, "Graceful shutdown signal handled: %s.", strsignal((int)sig));
    mcd_request_graceful();
}

static void shutdown_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    event_base_loopbreak(main_base);
}

void mcd_request_shutdown(void)
{
    /* from a worker thread: hand the stop to the main loop */
    event_base_once(main_base, -1, EV_TIMEOUT, shutdown_cb, NULL, NULL);
}

void mcd_request_graceful(void)
{
    atomic_store(&graceful, true);
    mcd_request_shutdown();
}

/* -L: transparent huge pages, unless the kernel has none or they are off
 * ([never]); says why when not. */
static bool huge_pages_available(void)
{
    static const char path[] = "/sys/kernel/mm/transparent_hugepage/enabled";
    char buf[128] = "";
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        if (fgets(buf, sizeof(buf), f) == NULL)
            buf[0] = '\0';
        fclose(f);
    }
    if (f == NULL || buf[0] == '\0') {
        fprintf(stderr, "-L: this kernel has no transparent huge pages (%s)\n", path);
        return false;
    }
    if (strstr(buf, "[never]") != NULL) {
        fprintf(stderr, "-L: transparent huge pages are off (%s says [never])\n", path);
        return false;
    }
    return true;
}

static struct store_options store_options_from_settings(void)
{
    return (struct store_options){
        .mem_limit = settings.maxbytes,
        .item_size_max = settings.item_size_max,
        .factor = settings.factor,
        .chunk_size = settings.chunk_size,
        .use_cas = settings.use_cas,
        .evict_to_free = settings.evict_to_free,
        .hashpower = settings.hashpower_init, /* 0: the store's default */
        .automove = settings.slab_automove,
        .automove_ratio = settings.slab_automove_ratio,
        .automove_window = settings.slab_automove_window,
        .background_threads = true, /* hash table growth, with or without the crawler */
        .no_sweep = !settings.lru_crawler,
        .segments = settings.item_store != NULL && strcmp(settings.item_store, "segments") == 0,
        .large_pages = settings.large_pages, /* -L */
    };
}

int main(int argc, char **argv)
{
    int status = settings_parse(argc, argv);
    if (status != SETTINGS_RUN)
        return status;
    log_verbosity = settings.verbose;
    if (settings.item_store != NULL && strcmp(settings.item_store, "slabs") != 0 &&
        strcmp(settings.item_store, "segments") != 0) {
        fprintf(stderr, "item_store must be slabs or segments, got %s\n", settings.item_store);
        return EX_USAGE;
    }
    if (!settings.lru_crawler) /* -o no_lru_crawler: lru_crawler crawl and dumps are refused */
        store_crawl_enable(false);
    store_crawl_set_sleep((uint32_t)settings.lru_crawler_sleep);
    store_crawl_set_tocrawl((uint32_t)settings.lru_crawler_tocrawl);
    if (settings.large_pages && !huge_pages_available())
        return EXIT_FAILURE;
    if (settings.prefix_delimiter != NULL) /* -D: as memcached, per-prefix stats on */
        stats_detail_enable(true);
    latency_set_enabled(settings.latency);
    hotkeys_set_enabled(settings.hotkeys);
    signal(SIGPIPE, SIG_IGN);
    if (settings.enable_sasl && mcd_sasl_setup() != 0)
        return EXIT_FAILURE;
    if (settings.auth_file != NULL && auth_file_setup(settings.auth_file) != 0)
        return EXIT_FAILURE;

    if (settings.ssl_enabled) {
        if ((status = tls_setup()) != 0)
            return status; /* before -u drops the rights to read the key */
        process_refresh_certs = tls_refresh;
    }
    if (daemon_set_limits() != 0)
        return EX_OSERR;
    if (daemon_drop_privileges() != 0)
        return EX_OSERR;
    if (settings.daemonize && daemon_detach() != 0) {
        fprintf(stderr, "failed to daemon() in order to daemonize\n");
        return EXIT_FAILURE;
    }
    if (settings.lock_memory)
        daemon_lock_memory();

    server_stats.started = time(NULL) - CLOCK_START;
    clock_gettime(CLOCK_MONOTONIC, &mono_start);
    store_clock_set_epoch((int64_t)server_stats.started);
    clock_tick();

    struct store_options so = store_options_from_settings();
    if (store_setup(&so) != 0) {
        log_warn_errno("failed to set up the item store");
        return EXIT_FAILURE;
    }
    if (cluster_setup(settings.cluster_config) != 0)
        return EX_CONFIG;
    int wrc = worker_setup(settings.num_threads);
    if (wrc != 0)
        return wrc == WORKER_SETUP_LISTEN ? EX_OSERR : EXIT_FAILURE;
    main_base = event_base_new();
    if (main_base == NULL || listener_setup(main_base) != 0)
        return EX_OSERR;
    if (settings.metrics_listen != NULL && metrics_http_setup(settings.metrics_listen) != 0)
        return EX_OSERR;

    struct timeval one = {1, 0};
    struct event *clock_ev = event_new(main_base, -1, EV_PERSIST, clock_cb, NULL);
    struct event *sigint = evsignal_new(main_base, SIGINT, signal_cb, NULL);
    struct event *sigterm = evsignal_new(main_base, SIGTERM, signal_cb, NULL);
    struct event *sigusr1 = evsignal_new(main_base, SIGUSR1, graceful_cb, NULL);
    struct event *sighup = evsignal_new(main_base, SIGHUP, sighup_cb, NULL);
    if (clock_ev == NULL || sigint == NULL || sigterm == NULL || sigusr1 == NULL || sighup == NULL ||
        event_add(clock_ev, &one) != 0 || event_add(sigint, NULL) != 0 || event_add(sigterm, NULL) != 0 ||
        event_add(sigusr1, NULL) != 0 || event_add(sighup, NULL) != 0) {
        log_msg(LOG_ERROR, "failed to set up the main event loop");
        return EX_OSERR;
    }
    if (settings.daemonize) {
        daemon_write_pidfile();
        daemon_ready();
    }

    event_base_dispatch(main_base);

    if (atomic_load(&graceful))
        fprintf(stderr, "Gracefully stopping\n");
    listener_teardown();
    metrics_http_teardown();
    atomic_store(&server_stats.accepting, false);
    worker_teardown();
    watch_teardown();
    event_free(clock_ev);
    event_free(sigint);
    event_free(sigterm);
    event_free(sigusr1);
    event_free(sighup);
    event_base_free(main_base);
    store_teardown();
    cluster_teardown();
    auth_file_teardown();
    if (settings.enable_sasl)
        mcd_sasl_teardown();
    tls_teardown();
    if (settings.daemonize)
        daemon_remove_pidfile();
    return EXIT_SUCCESS;
}
