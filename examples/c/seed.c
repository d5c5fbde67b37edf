/* The seed flow (docs/scenario.md) through kabase's C ABI: create a table, put rows, get them,
 * send them to a topic, consume the topic as a group, delete the rows. Prints the shared
 * transcript (docs/scenario/seed.txt).
 *
 * Build (after `cargo build --release -p kabase-c`), from the repository root:
 *   cc -std=c11 -Wall -Wextra -Werror -I include examples/c/seed.c target/release/libkabase.a \
 *      -lpthread -ldl -lm -o seed
 *   ./seed [DATA_DIR]          (no DATA_DIR: an in-memory engine)
 * or against the shared library:
 *   cc -std=c11 -I include examples/c/seed.c -L target/release -lkabase -o seed
 *   LD_LIBRARY_PATH=target/release ./seed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kabase.h"

/* Print the failure, free its message, and leave main with status 1. */
#define TRY(what, call_expr)                                                                 \
    do {                                                                                     \
        char *msg_ = NULL;                                                                   \
        int rc_ = (call_expr);                                                               \
        if (rc_ != KABASE_OK) {                                                              \
            fprintf(stderr, "%s failed: %s (%d): %s\n", what, kabase_status_name(rc_), rc_, \
                    msg_ ? msg_ : "");                                                       \
            kabase_string_free(msg_);                                                        \
            status = 1;                                                                      \
            goto done;                                                                       \
        }                                                                                    \
    } while (0)
#define ERR (&msg_)

static kabase_column_value column(const char *family, const char *qualifier, const char *value) {
    kabase_column_value c = {(const uint8_t *)family, strlen(family), (const uint8_t *)qualifier,
                             strlen(qualifier), (const uint8_t *)value, strlen(value)};
    return c;
}

/* Render a row's cells as "family:qualifier=value ..." into buf. */
static void render_cells(const kabase_row_view *row, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < row->cell_count && used < cap; i++) {
        const kabase_cell_view *c = &row->cells[i];
        int n = snprintf(buf + used, cap - used, "%s%.*s:%.*s=%.*s", i ? " " : "", (int)c->family_len,
                         (const char *)c->family, (int)c->qualifier_len, (const char *)c->qualifier,
                         (int)c->value_len, (const char *)c->value);
        if (n < 0) break;
        used += (size_t)n;
    }
}

int main(int argc, char **argv) {
    int status = 0;
    kabase_engine *engine = NULL;
    kabase_table *table = NULL;
    kabase_producer *producer = NULL;
    kabase_consumer *consumer = NULL;
    kabase_row_batch *rows = NULL;
    kabase_record_batch *records = NULL;
    const char *keys[2] = {"1", "2"};
    char values[2][256];

    if (argc > 1) {
        TRY("open engine", kabase_engine_open(argv[1], &engine, ERR));
    } else {
        TRY("open engine", kabase_engine_open_in_memory(&engine, ERR));
    }

    const char *families[] = {"cf"};
    TRY("create table", kabase_table_create(engine, "test", families, 1, ERR));
    printf("table test created (families: cf)\n");
    TRY("open table", kabase_table_open(engine, "test", &table, ERR));

    const char *names[2] = {"Alice", "Bob"};
    const char *ages[2] = {"30", "28"};
    for (int i = 0; i < 2; i++) {
        kabase_column_value cols[2] = {column("cf", "name", names[i]), column("cf", "age", ages[i])};
        TRY("put", kabase_table_put(table, (const uint8_t *)keys[i], strlen(keys[i]), cols, 2, ERR));
        printf("put %s: cf:name=%s cf:age=%s\n", keys[i], names[i], ages[i]);
    }

    for (int i = 0; i < 2; i++) {
        TRY("get", kabase_table_get(table, (const uint8_t *)keys[i], strlen(keys[i]), &rows, ERR));
        kabase_row_view row;
        TRY("read row", kabase_row_batch_row(rows, 0, &row, ERR));
        render_cells(&row, values[i], sizeof values[i]);
        printf("get %s: %s\n", keys[i], values[i]);
        kabase_row_batch_free(rows);
        rows = NULL;
    }

    TRY("create topic", kabase_topic_create(engine, "test_topic", 1, ERR));
    printf("topic test_topic created (partitions: 1)\n");
    TRY("new producer", kabase_producer_new(engine, &producer, ERR));
    for (int i = 0; i < 2; i++) {
        kabase_message m = {-1, (const uint8_t *)keys[i], strlen(keys[i]), (const uint8_t *)values[i],
                            strlen(values[i])};
        kabase_record_metadata meta;
        TRY("send", kabase_producer_send(producer, "test_topic", &m, &meta, ERR));
        printf("sent %s -> test_topic/%u@%lld\n", keys[i], meta.partition, (long long)meta.offset);
    }

    TRY("new consumer", kabase_consumer_new(engine, "seed-group", &consumer, ERR));
    const char *topics[] = {"test_topic"};
    TRY("subscribe", kabase_consumer_subscribe(consumer, topics, 1, 1, ERR));
    size_t got = 0;
    for (int attempt = 0; got < 2 && attempt < 50; attempt++) {
        TRY("poll", kabase_consumer_poll(consumer, 100, 200, &records, ERR));
        size_t n = kabase_record_batch_len(records);
        for (size_t i = 0; i < n; i++) {
            kabase_record_view r;
            TRY("read record", kabase_record_batch_record(records, i, &r, ERR));
            printf("consumed %s/%u@%lld key=%.*s value=%.*s\n", r.topic, r.partition, (long long)r.offset,
                   (int)r.key_len, r.key ? (const char *)r.key : "", (int)r.value_len,
                   r.value ? (const char *)r.value : "");
        }
        got += n;
        kabase_record_batch_free(records);
        records = NULL;
    }
    TRY("commit", kabase_consumer_commit(consumer, ERR));
    int64_t committed = -1;
    TRY("committed", kabase_consumer_committed(consumer, "test_topic", 0, &committed, ERR));
    printf("committed test_topic/0 -> %lld\n", (long long)committed);

    for (int i = 0; i < 2; i++) {
        TRY("delete", kabase_table_delete_row(table, (const uint8_t *)keys[i], strlen(keys[i]), ERR));
        printf("deleted %s\n", keys[i]);
    }
    for (int i = 0; i < 2; i++) {
        TRY("get", kabase_table_get(table, (const uint8_t *)keys[i], strlen(keys[i]), &rows, ERR));
        if (kabase_row_batch_len(rows) == 0) printf("get %s: (none)\n", keys[i]);
        kabase_row_batch_free(rows);
        rows = NULL;
    }
    TRY("scan", kabase_table_scan(table, NULL, 0, NULL, 0, 0, &rows, ERR));
    printf("scan: %zu rows\n", kabase_row_batch_len(rows));

    TRY("close consumer", kabase_consumer_close(consumer, ERR));
    TRY("close producer", kabase_producer_close(producer, ERR));
    TRY("close engine", kabase_engine_close(engine, ERR));
    printf("closed\n");

done:
    kabase_row_batch_free(rows);
    kabase_record_batch_free(records);
    kabase_consumer_free(consumer);
    kabase_producer_free(producer);
    kabase_table_free(table);
    kabase_engine_free(engine);
    return status;
}
