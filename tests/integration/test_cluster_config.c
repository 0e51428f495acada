/*
 * test_cluster_config.c - `config get cluster` with -o cluster_config: the
 * bytes ElastiCache sends, the version going up by one on a SIGHUP that
 * finds a different list and not on one that finds the same, a bad file;
 * and, without the option, memcached 1.6.45's answers (against it too).
 */
#include "config.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"

static char path[64];

static void
write_file(const char *text)
{
    char tmp[80];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(rename(tmp, path), 0);
}

static void
make_path(void)
{
    snprintf(path, sizeof(path), "/tmp/mcd-cluster-%d.conf", (int)getpid());
}

/* The SIGHUPs the server has handled so far (its -vv log). */
static int
hups_handled(const struct mcd_server *s)
{
    FILE *f = fopen(s->log_path, "r");
    if (f == NULL)
        return 0;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strstr(line, "SIGHUP handled") != NULL)
            n++;
    fclose(f);
    return n;
}

static void
hup(struct mcd_server *s, int *count)
{
    cr_assert_eq(kill(s->pid, SIGHUP), 0);
    (*count)++;
    long long deadline = mcd_now_ms() + 10000;
    while (hups_handled(s) < *count) {
        cr_assert_lt(mcd_now_ms(), deadline, "SIGHUP %d not handled", *count);
        mcd_poll_pause();
    }
}

Test(cluster_config, bytes_and_versions, .timeout = 30)
{
    if (mcd_target_is_memcached())
        cr_skip_test("-o cluster_config is an mcd extension");
    make_path();
    write_file("# nodes\n"
               "a.example 10.0.0.1 11211\n"
               "\n"
               "b.example\t10.0.0.2   11212 # the second\n");
    char opt[96];
    snprintf(opt, sizeof(opt), "cluster_config=%s", path);
    const char *const flags[] = {"-o", opt, "-vv", NULL};
    struct mcd_server *s = mcd_start(flags);
    cr_assert_not_null(s);
    struct mcd_conn *c = mcd_conn_open(s);
    cr_assert_not_null(c);
    /* "<version>\n<nodes>\n" is 52 bytes, counted as ElastiCache counts */
    cr_expect(mcd_roundtrip(c, "config get cluster\r\n",
                            "CONFIG cluster 0 52\r\n1\na.example|10.0.0.1|11211 b.example|10.0.0.2|11212\n"
                            "\r\nEND\r\n"));
    cr_expect(mcd_roundtrip(c, "config get clusters\r\n", "ERROR\r\n"));
    cr_expect(mcd_roundtrip(c, "config get cluster x\r\n", "ERROR\r\n"));
    cr_expect(mcd_roundtrip(c, "config set cluster 0 0 1\r\n", "ERROR\r\n"));
    char *st = mcd_stats(c, "settings");
    char v[96];
    cr_expect(mcd_stat_find(st, "cluster_config", v, sizeof(v)));
    cr_expect_str_eq(v, path);
    free(st);

    int hups = 0;
    hup(s, &hups); /* the same file: version 1 stays */
    cr_expect(mcd_roundtrip(c, "config get cluster\r\n", "CONFIG cluster 0 52\r\n1\n{str}\n\r\nEND\r\n"));
    write_file("a.example 10.0.0.1 11211\n");
    hup(s, &hups);
    cr_expect(mcd_roundtrip(c, "config get cluster\r\n",
                            "CONFIG cluster 0 27\r\n2\na.example|10.0.0.1|11211\n\r\nEND\r\n"));
    write_file("a.example 10.0.0.1 11211 extra\n");
    hup(s, &hups); /* malformed: the old list stays */
    cr_expect(mcd_roundtrip(c, "config get cluster\r\n",
                            "CONFIG cluster 0 27\r\n2\na.example|10.0.0.1|11211\n\r\nEND\r\n"));
    write_file("a.example 10.0.0.1 11211\nc.example 10.0.0.3 1\n");
    hup(s, &hups);
    cr_expect(mcd_roundtrip(c, "config get cluster\r\n", "CONFIG cluster 0 48\r\n3\n{str}\n\r\nEND\r\n"));
    mcd_conn_close(c);
    mcd_stop(s);
    unlink(path);
}

Test(cluster_config, bad_file_at_start, .timeout = 30)
{
    if (mcd_target_is_memcached())
        cr_skip_test("-o cluster_config is an mcd extension");
    make_path();
    write_file("a.example 10.0.0.1 port\n");
    char opt[96];
    snprintf(opt, sizeof(opt), "cluster_config=%s", path);
    const char *const flags[] = {"-o", opt, NULL};
    struct mcd_server *s = mcd_start(flags);
    cr_expect_null(s, "a malformed cluster config stops the start");
    mcd_stop(s);
    unlink(path);
}

/* without the option: what memcached 1.6.45 answers */
static void
no_option(const char *bin)
{
    struct mcd_server *s = mcd_start_bin(bin, NULL);
    cr_assert_not_null(s);
    struct mcd_conn *c = mcd_conn_open(s);
    cr_assert_not_null(c);
    cr_expect(mcd_roundtrip(c, "config get cluster\r\n", "ERROR\r\n"));
    cr_expect(mcd_roundtrip(c, "config\r\n", "ERROR\r\n"));
    cr_expect(mcd_roundtrip(c, "config get cluster noreply\r\nversion\r\n", "VERSION 1.6.45\r\n"));
    cr_expect(mcd_roundtrip(c, "config HTTP/1.0\r\n", ""));
    cr_expect(mcd_expect_eof(c, 5000));
    mcd_conn_close(c);
    mcd_stop(s);
}

Test(cluster_config, without_the_option_as_memcached, .timeout = 30)
{
    no_option(NULL);
    if (!mcd_target_is_memcached() && mcd_oracle_bin() != NULL)
        no_option(mcd_oracle_bin());
}
