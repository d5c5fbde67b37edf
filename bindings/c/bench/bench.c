/* The C side of scripts/bench-bindings.sh: the workload of bindings/sdk/examples/bench_bindings.rs
 * through the C ABI. Usage: bench <records> <rows>; prints "<metric> <count> <seconds>" lines. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kabase.h"

#define BATCH 1000

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int ok(int rc, char *msg, const char *what) {
    if (rc != KABASE_OK) {
        fprintf(stderr, "%s failed: %s (%s)\n", what, kabase_status_name(rc), msg ? msg : "");
        kabase_string_free(msg);
        exit(1);
    }
    return 1;
}

int main(int argc, char **argv) {
    size_t records = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    size_t rows = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    char *msg = NULL;
    kabase_engine *e = NULL;
    ok(kabase_engine_open_in_memory(&e, &msg), msg, "open");
    ok(kabase_topic_create(e, "bench", 1, &msg), msg, "topic");
    kabase_producer *p = NULL;
    ok(kabase_producer_new(e, &p, &msg), msg, "producer");
    uint8_t value[100];
    memset(value, 'x', sizeof value);
    kabase_message batch[BATCH];
    for (size_t i = 0; i < BATCH; i++) {
        kabase_message m = {-1, NULL, 0, value, sizeof value};
        batch[i] = m;
    }

    double t = now();
    for (size_t sent = 0; sent < records;) {
        size_t n = records - sent < BATCH ? records - sent : BATCH;
        ok(kabase_producer_send_batch(p, "bench", batch, n, NULL, &msg), msg, "send");
        sent += n;
    }
    printf("produce %zu %.6f\n", records, now() - t);

    kabase_consumer *c = NULL;
    ok(kabase_consumer_new(e, NULL, &c, &msg), msg, "consumer");
    const char *topics[] = {"bench"};
    ok(kabase_consumer_subscribe(c, topics, 1, 1, &msg), msg, "subscribe");
    t = now();
    size_t got = 0, bytes = 0;
    while (got < records) {
        kabase_record_batch *b = NULL;
        ok(kabase_consumer_poll(c, BATCH, 1000, &b, &msg), msg, "poll");
        size_t n = kabase_record_batch_len(b);
        if (n == 0) {
            fprintf(stderr, "consumed only %zu of %zu records\n", got, records);
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            kabase_record_view r;
            ok(kabase_record_batch_record(b, i, &r, &msg), msg, "record");
            bytes += r.value_len;
        }
        kabase_record_batch_free(b);
        got += n;
    }
    printf("consume %zu %.6f\n", records, now() - t);
    if (bytes != records * 100) return 1;

    const char *fams[] = {"cf"};
    ok(kabase_table_create(e, "bench", fams, 1, &msg), msg, "table");
    kabase_table *tb = NULL;
    ok(kabase_table_open(e, "bench", &tb, &msg), msg, "open table");
    char key[32];
    t = now();
    for (size_t i = 0; i < rows; i++) {
        snprintf(key, sizeof key, "r%08zu", i);
        kabase_column_value col = {(const uint8_t *)"cf", 2, (const uint8_t *)"v", 1, value, sizeof value};
        ok(kabase_table_put(tb, (const uint8_t *)key, strlen(key), &col, 1, &msg), msg, "put");
    }
    printf("put %zu %.6f\n", rows, now() - t);
    t = now();
    for (size_t i = 0; i < rows; i++) {
        snprintf(key, sizeof key, "r%08zu", i);
        kabase_row_batch *b = NULL;
        ok(kabase_table_get(tb, (const uint8_t *)key, strlen(key), &b, &msg), msg, "get");
        if (kabase_row_batch_len(b) != 1) return 1;
        kabase_row_batch_free(b);
    }
    printf("get %zu %.6f\n", rows, now() - t);
    kabase_table_free(tb);
    kabase_consumer_free(c);
    kabase_producer_free(p);
    ok(kabase_engine_close(e, &msg), msg, "close");
    kabase_engine_free(e);
    return 0;
}
