/*
 * replay.c - runs every file of the fuzz corpus through the fuzz targets'
 * entry points, with no libFuzzer and no clang: `make check` runs it, so
 * every seed and every crash kept as a regression is re-checked on each
 * build (under ASan/UBSan too with ./configure --enable-sanitizers).
 *
 *   replay                    every file under FUZZ_CORPUS_DIR/<target>/
 *                             through every target ($MCD_FUZZ_CORPUS
 *                             overrides the directory)
 *   replay DIR                the same for another corpus root
 *   replay TARGET FILE...     given files through one target (to reproduce
 *                             a crash: replay text crash-1234)
 *
 * Each input is copied into a buffer of exactly its size, so reading past
 * the end is caught by ASan as it would be under libFuzzer. Prints
 * "replayed N inputs" and exits 0, or dies in the failing target.
 */
#include "config.h"

#include "fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef FUZZ_CORPUS_DIR
#define FUZZ_CORPUS_DIR "fuzz/corpus"
#endif

struct target {
    const char *name;
    int (*fn)(const uint8_t *data, size_t size);
};

static const struct target targets[] = {
    {"text", fuzz_text_input},
    {"binary", fuzz_binary_input},
    {"request_path", fuzz_request_path_input},
    {"meta", fuzz_meta_input},
    {"expo", fuzz_expo_input},
    {"http", fuzz_http_input},
    {"udp", fuzz_udp_input},
    {"udp_path", fuzz_udp_path_input},
    {"auth", fuzz_auth_input},
    {"tls", fuzz_tls_input},
};
#define NTARGETS (sizeof(targets) / sizeof(targets[0]))

static unsigned long replayed;

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    if (fseek(fp, 0, SEEK_END) != 0) {
        fprintf(stderr, "replay: %s: cannot seek\n", path);
        exit(1);
    }
    long n = ftell(fp);
    rewind(fp);
    /* exactly n bytes (malloc(0) may return NULL: ask for 1 then) */
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf == NULL || n < 0 || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        fprintf(stderr, "replay: %s: read failed\n", path);
        exit(1);
    }
    fclose(fp);
    *size = (size_t)n;
    return buf;
}

static void run_file(const struct target *t, const char *path)
{
    size_t size;
    uint8_t *data = read_file(path, &size);
    if (getenv("FUZZ_REPLAY_VERBOSE") != NULL)
        fprintf(stderr, "replay: %s < %s\n", t->name, path);
    t->fn(data, size);
    free(data);
    replayed++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file in dir, sorted, through every target. */
static void run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return; /* a target without a corpus yet */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof(*names));
            if (names == NULL)
                abort();
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (names[n] == NULL)
            abort();
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            for (size_t k = 0; k < NTARGETS; k++)
                run_file(&targets[k], names[i]);
        }
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    if (argc >= 3) {
        for (size_t k = 0; k < NTARGETS; k++) {
            if (strcmp(argv[1], targets[k].name) == 0 ||
                (strncmp(argv[1], "fuzz_", 5) == 0 && strcmp(argv[1] + 5, targets[k].name) == 0)) {
                for (int i = 2; i < argc; i++)
                    run_file(&targets[k], argv[i]);
                printf("replayed %lu inputs\n", replayed);
                return 0;
            }
        }
        fprintf(stderr, "usage: replay [CORPUS_DIR] | replay TARGET FILE...\n");
        return 2;
    }
    const char *root = argc == 2 ? argv[1] : getenv("MCD_FUZZ_CORPUS");
    if (root == NULL)
        root = FUZZ_CORPUS_DIR;
    unsigned dirs = 0;
    for (size_t k = 0; k < NTARGETS; k++) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", root, targets[k].name);
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            dirs++;
        run_dir(dir);
    }
    if (dirs == 0 || replayed == 0) {
        fprintf(stderr, "replay: no corpus under %s\n", root);
        return 1;
    }
    printf("replayed %lu inputs (%zu targets, corpus %s)\n", replayed, NTARGETS, root);
    return 0;
}
