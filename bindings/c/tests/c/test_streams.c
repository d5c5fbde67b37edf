/* Change streams through the C ABI: table to topic (describe, JSON, pause, resume, snapshot,
 * remove), topic to table (sink), bad input. */
#include "check.h"

static const uint8_t *B(const char *s) { return (const uint8_t *)s; }

static void put1(kabase_table *t, const char *row, const char *value) {
    kabase_column_value col = {B("cf"), 2, B("v"), 1, B(value), strlen(value)};
    CHECK_STATUS(KABASE_OK, kabase_table_put(t, B(row), strlen(row), &col, 1, ERR));
}

static void test_table_to_topic(kabase_engine *e) {
    const char *fams[] = {"cf"};
    CHECK_STATUS(KABASE_OK, kabase_table_create(e, "orders", fams, 1, ERR));
    kabase_table *t = NULL;
    CHECK_STATUS(KABASE_OK, kabase_table_open(e, "orders", &t, ERR));
    put1(t, "before", "0");

    kabase_stream_options opts;
    memset(&opts, 0, sizeof opts);
    opts.partitions = 1;
    opts.shape = "row";
    kabase_stream *s = NULL;
    CHECK_STATUS(KABASE_OK, kabase_stream_create(e, "orders", "orders-cdc", &opts, &s, ERR));
    kabase_stream *dup = (kabase_stream *)&opts; /* set to NULL on failure */
    CHECK_STATUS(KABASE_STREAM_EXISTS, kabase_stream_create(e, "orders", "orders-cdc", &opts, &dup, ERR));
    CHECK(dup == NULL);
    kabase_stream_free(s);
    s = NULL;
    CHECK_STATUS(KABASE_OK, kabase_stream_open(e, "orders-to-orders-cdc", &s, ERR));
    char *name = NULL;
    CHECK_STATUS(KABASE_OK, kabase_stream_name(s, &name, ERR));
    CHECK(name && strcmp(name, "orders-to-orders-cdc") == 0);
    kabase_string_free(name);

    put1(t, "after", "1");
    kabase_stream_status st;
    CHECK_STATUS(KABASE_OK, kabase_stream_wait(s, 10000, &st, ERR));
    CHECK(st.kind == KABASE_STREAM_TABLE_TO_TOPIC && st.state == KABASE_STREAM_RUNNING && st.lag == 0 && st.position >= 1);
    char *json = NULL;
    CHECK_STATUS(KABASE_OK, kabase_stream_describe_json(s, &json, ERR));
    CHECK(json && strstr(json, "\"topics\":[\"orders-cdc\"]") != NULL);
    CHECK(json && strstr(json, "\"state\":\"running\"") != NULL);
    kabase_string_free(json);

    /* Snapshot, then stream: both rows, and the topic continues after the one streamed change. */
    kabase_snapshot *snap = NULL;
    CHECK_STATUS(KABASE_OK, kabase_stream_snapshot(s, &snap, ERR));
    const kabase_row_batch *rows = kabase_snapshot_rows(snap);
    CHECK(kabase_row_batch_len(rows) == 2);
    kabase_row_view rv;
    CHECK_STATUS(KABASE_OK, kabase_row_batch_row(rows, 1, &rv, ERR));
    CHECK(rv.row_len == 6 && memcmp(rv.row, "before", 6) == 0);
    CHECK(kabase_snapshot_seq(snap) >= 1);
    CHECK(kabase_snapshot_offset_count(snap) == 1);
    kabase_topic_offset off;
    CHECK_STATUS(KABASE_OK, kabase_snapshot_offset(snap, 0, &off, ERR));
    CHECK(strcmp(off.topic, "orders-cdc") == 0 && off.partition == 0 && off.offset == 1);
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_snapshot_offset(snap, 1, &off, ERR));
    kabase_snapshot_free(snap);

    /* The change record is JSON with the row and the value. */
    const char *keys[] = {"isolation.level"};
    const char *vals[] = {"read_committed"};
    kabase_consumer *c = NULL;
    CHECK_STATUS(KABASE_OK, kabase_consumer_new_with_config(e, NULL, keys, vals, 1, &c, ERR));
    const char *topics[] = {"orders-cdc"};
    CHECK_STATUS(KABASE_OK, kabase_consumer_subscribe(c, topics, 1, 1, ERR));
    kabase_record_batch *b = NULL;
    CHECK_STATUS(KABASE_OK, kabase_consumer_poll(c, 10, 2000, &b, ERR));
    CHECK(kabase_record_batch_len(b) == 1);
    kabase_record_view r;
    CHECK_STATUS(KABASE_OK, kabase_record_batch_record(b, 0, &r, ERR));
    char value[512] = {0};
    memcpy(value, r.value, r.value_len < 511 ? r.value_len : 511);
    CHECK(strstr(value, "\"after\"") != NULL);
    kabase_record_batch_free(b);
    kabase_consumer_free(c);

    /* Pause: changes wait (lag), resume: they move. */
    CHECK_STATUS(KABASE_OK, kabase_stream_pause(s, ERR));
    put1(t, "paused", "2");
    CHECK_STATUS(KABASE_OK, kabase_stream_describe(s, &st, ERR));
    CHECK(st.state == KABASE_STREAM_PAUSED && st.lag == 1);
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_stream_wait(s, 10, NULL, ERR));
    CHECK_STATUS(KABASE_OK, kabase_stream_resume(s, ERR));
    CHECK_STATUS(KABASE_OK, kabase_stream_wait(s, 10000, NULL, ERR));

    CHECK_STATUS(KABASE_OK, kabase_stream_remove(s, ERR));
    CHECK_STATUS(KABASE_STREAM_NOT_FOUND, kabase_stream_describe(s, &st, ERR));
    CHECK_STATUS(KABASE_STREAM_NOT_FOUND, kabase_stream_pause(s, ERR));
    kabase_stream_free(s);
    kabase_stream *gone = NULL;
    CHECK_STATUS(KABASE_STREAM_NOT_FOUND, kabase_stream_open(e, "orders-to-orders-cdc", &gone, ERR));
    CHECK(gone == NULL);
    kabase_table_free(t);
}

static void test_sink(kabase_engine *e) {
    const char *fams[] = {"cf"};
    CHECK_STATUS(KABASE_OK, kabase_table_create(e, "users", fams, 1, ERR));
    kabase_sink_options so = {"users-sink", "cf", NULL};
    kabase_stream *s = NULL;
    CHECK_STATUS(KABASE_OK, kabase_sink_create(e, "users-in", "users", &so, &s, ERR));
    kabase_producer *p = NULL;
    CHECK_STATUS(KABASE_OK, kabase_producer_new(e, &p, ERR));
    const char *v = "{\"name\":\"Ann\",\"cf:age\":\"30\"}";
    kabase_message m = {-1, B("u1"), 2, B(v), strlen(v)};
    CHECK_STATUS(KABASE_OK, kabase_producer_send(p, "users-in", &m, NULL, ERR));
    kabase_stream_status st;
    CHECK_STATUS(KABASE_OK, kabase_stream_wait(s, 10000, &st, ERR));
    CHECK(st.kind == KABASE_STREAM_TOPIC_TO_TABLE && st.position == 1);
    kabase_table *t = NULL;
    CHECK_STATUS(KABASE_OK, kabase_table_open(e, "users", &t, ERR));
    kabase_row_batch *rows = NULL;
    CHECK_STATUS(KABASE_OK, kabase_table_get(t, B("u1"), 2, &rows, ERR));
    kabase_row_view rv;
    CHECK_STATUS(KABASE_OK, kabase_row_batch_row(rows, 0, &rv, ERR));
    CHECK(rv.cell_count == 2);
    kabase_row_batch_free(rows);
    kabase_snapshot *snap = NULL;
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_stream_snapshot(s, &snap, ERR));
    CHECK(snap == NULL);
    kabase_table_free(t);
    kabase_producer_free(p);
    kabase_stream_free(s); /* the sink keeps running until removed */
}

static void test_bad_input(kabase_engine *e) {
    kabase_stream *s = NULL;
    kabase_stream_options bad;
    memset(&bad, 0, sizeof bad);
    bad.shape = "square";
    CHECK_STATUS(KABASE_INVALID_CONFIG, kabase_stream_create(e, "users", NULL, &bad, &s, ERR));
    bad.shape = NULL;
    bad.partitioning = "rows";
    CHECK_STATUS(KABASE_INVALID_CONFIG, kabase_stream_create(e, "users", NULL, &bad, &s, ERR));
    bad.partitioning = NULL;
    bad.name = "bad name";
    CHECK_STATUS(KABASE_INVALID_NAME, kabase_stream_create(e, "users", NULL, &bad, &s, ERR));
    CHECK_STATUS(KABASE_TABLE_NOT_FOUND, kabase_stream_create(e, "absent", NULL, NULL, &s, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_stream_create(NULL, "users", NULL, NULL, &s, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_stream_create(e, NULL, NULL, NULL, &s, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_stream_create(e, "users", NULL, NULL, NULL, ERR));
    kabase_sink_options so = {NULL, "nope", NULL};
    CHECK_STATUS(KABASE_NO_SUCH_COLUMN_FAMILY, kabase_sink_create(e, "x", "users", &so, &s, ERR));
    CHECK(s == NULL);
    kabase_stream_status st;
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_stream_describe(NULL, &st, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_stream_pause(NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_stream_describe_json(NULL, NULL, ERR));
    CHECK(kabase_snapshot_rows(NULL) == NULL);
    CHECK(kabase_snapshot_offset_count(NULL) == 0);
    kabase_stream_free(NULL);
    kabase_snapshot_free(NULL);

    /* Route rules: cf cells to two topics, secrets dropped, other families nowhere. */
    const char *fams[] = {"cf", "meta"};
    CHECK_STATUS(KABASE_OK, kabase_table_create(e, "routed", fams, 2, ERR));
    const char *targets[] = {"routed-a", "routed-b"};
    kabase_stream_route routes[] = {
        {NULL, "routed", "cf", NULL, targets, 2},
        {"drop", "routed", NULL, "secret*", NULL, 0},
    };
    kabase_stream_options ro;
    memset(&ro, 0, sizeof ro);
    ro.partitions = 1;
    ro.routes = routes;
    ro.route_count = 2;
    CHECK_STATUS(KABASE_OK, kabase_stream_create(e, "routed", NULL, &ro, &s, ERR));
    kabase_table *t = NULL;
    CHECK_STATUS(KABASE_OK, kabase_table_open(e, "routed", &t, ERR));
    kabase_column_value cols[] = {
        {B("cf"), 2, B("a"), 1, B("1"), 1},
        {B("cf"), 2, B("secret_pin"), 10, B("0000"), 4},
        {B("meta"), 4, B("m"), 1, B("2"), 1},
    };
    CHECK_STATUS(KABASE_OK, kabase_table_put(t, B("r1"), 2, cols, 3, ERR));
    CHECK_STATUS(KABASE_OK, kabase_stream_wait(s, 10000, NULL, ERR));
    for (int i = 0; i < 2; i++) {
        kabase_consumer *c = NULL;
        CHECK_STATUS(KABASE_OK, kabase_consumer_new(e, NULL, &c, ERR));
        const char *topic[] = {targets[i]};
        CHECK_STATUS(KABASE_OK, kabase_consumer_subscribe(c, topic, 1, 1, ERR));
        kabase_record_batch *b = NULL;
        CHECK_STATUS(KABASE_OK, kabase_consumer_poll(c, 10, 2000, &b, ERR));
        CHECK(kabase_record_batch_len(b) == 1);
        kabase_record_view r;
        if (kabase_record_batch_len(b) == 1) {
            CHECK_STATUS(KABASE_OK, kabase_record_batch_record(b, 0, &r, ERR));
            char value[512] = {0};
            memcpy(value, r.value, r.value_len < 511 ? r.value_len : 511);
            CHECK(strstr(value, "\"qualifier\":\"a\"") != NULL);
            CHECK(strstr(value, "secret") == NULL && strstr(value, "\"meta\"") == NULL);
        }
        kabase_record_batch_free(b);
        kabase_consumer_free(c);
    }
    kabase_table_free(t);
    kabase_stream_free(s);
    kabase_stream_route bad_route = {"bounce", "routed", NULL, NULL, NULL, 0};
    ro.routes = &bad_route;
    ro.route_count = 1;
    CHECK_STATUS(KABASE_INVALID_CONFIG, kabase_stream_create(e, "routed", "x", &ro, &s, ERR));
    ro.routes = NULL;
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_stream_create(e, "routed", "x", &ro, &s, ERR));

    /* With defaults: the name and topic derive from the table. */
    CHECK_STATUS(KABASE_OK, kabase_stream_create(e, "users", NULL, NULL, &s, ERR));
    char *json = NULL;
    CHECK_STATUS(KABASE_OK, kabase_stream_describe_json(s, &json, ERR));
    CHECK(json && strstr(json, "\"name\":\"users-to-default.users\"") != NULL);
    kabase_string_free(json);
    kabase_stream_free(s);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    kabase_engine *e = NULL;
    CHECK_STATUS(KABASE_OK, kabase_engine_open_in_memory(&e, ERR));
    test_table_to_topic(e);
    test_sink(e);
    test_bad_input(e);
    CHECK_STATUS(KABASE_OK, kabase_engine_close(e, ERR));
    kabase_engine_free(e);
    return check_summary("test_streams");
}
