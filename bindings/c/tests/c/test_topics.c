/* Topics through the C ABI: batch send, group consume, commit, seek, bad input, use after close. */
#include "check.h"

static const uint8_t *B(const char *s) { return (const uint8_t *)s; }

static size_t drain(kabase_consumer *c, size_t want, int64_t *first_offset) {
    size_t got = 0;
    for (int attempt = 0; got < want && attempt < 50; attempt++) {
        kabase_record_batch *b = NULL;
        CHECK_STATUS(KABASE_OK, kabase_consumer_poll(c, 7, 100, &b, ERR));
        size_t n = kabase_record_batch_len(b);
        CHECK(n <= 7);
        if (n > 0 && got == 0 && first_offset) {
            kabase_record_view r;
            CHECK_STATUS(KABASE_OK, kabase_record_batch_record(b, 0, &r, ERR));
            *first_offset = r.offset;
        }
        got += n;
        kabase_record_batch_free(b);
    }
    return got;
}

/* Headers go out and come back in order; a NULL value is Kafka's null header value, distinct
 * from an empty one. */
static void test_headers(kabase_engine *e) {
    CHECK_STATUS(KABASE_OK, kabase_topic_create(e, "with-headers", 1, ERR));
    kabase_producer *p = NULL;
    CHECK_STATUS(KABASE_OK, kabase_producer_new(e, &p, ERR));
    kabase_message m = {-1, B("k"), 1, B("v"), 1};
    kabase_header hs[3] = {{"trace", B("abc"), 3}, {"gone", NULL, 0}, {"empty", B(""), 0}};
    kabase_record_metadata meta;
    CHECK_STATUS(KABASE_OK, kabase_producer_send_with_headers(p, "with-headers", &m, hs, 3, &meta, ERR));
    CHECK(meta.offset == 0);
    CHECK_STATUS(KABASE_OK, kabase_producer_send_with_headers(p, "with-headers", &m, NULL, 0, NULL, ERR));
    kabase_header bad_key[1] = {{NULL, B("x"), 1}};
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_send_with_headers(p, "with-headers", &m, bad_key, 1, NULL, ERR));
    kabase_header bad_value[1] = {{"h", NULL, 4}};
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_send_with_headers(p, "with-headers", &m, bad_value, 1, NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_send_with_headers(p, "with-headers", &m, NULL, 2, NULL, ERR));

    kabase_consumer *c = NULL;
    CHECK_STATUS(KABASE_OK, kabase_consumer_new(e, NULL, &c, ERR));
    const char *topics[] = {"with-headers"};
    CHECK_STATUS(KABASE_OK, kabase_consumer_subscribe(c, topics, 1, 1, ERR));
    kabase_record_batch *b = NULL;
    CHECK_STATUS(KABASE_OK, kabase_consumer_poll(c, 10, 2000, &b, ERR));
    CHECK(kabase_record_batch_len(b) == 2);
    CHECK(kabase_record_batch_header_count(b, 0) == 3);
    CHECK(kabase_record_batch_header_count(b, 1) == 0);
    CHECK(kabase_record_batch_header_count(b, 9) == 0);
    CHECK(kabase_record_batch_header_count(NULL, 0) == 0);
    kabase_header h;
    CHECK_STATUS(KABASE_OK, kabase_record_batch_header(b, 0, 0, &h, ERR));
    CHECK(strcmp(h.key, "trace") == 0 && h.value != NULL && h.value_len == 3 && memcmp(h.value, "abc", 3) == 0);
    CHECK_STATUS(KABASE_OK, kabase_record_batch_header(b, 0, 1, &h, ERR));
    CHECK(strcmp(h.key, "gone") == 0 && h.value == NULL && h.value_len == 0);
    CHECK_STATUS(KABASE_OK, kabase_record_batch_header(b, 0, 2, &h, ERR));
    CHECK(strcmp(h.key, "empty") == 0 && h.value != NULL && h.value_len == 0);
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_record_batch_header(b, 0, 3, &h, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_record_batch_header(b, 1, 0, &h, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_record_batch_header(b, 5, 0, &h, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_record_batch_header(b, 0, 0, NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_record_batch_header(NULL, 0, 0, &h, ERR));
    kabase_record_batch_free(b);
    kabase_consumer_free(c);
    kabase_producer_free(p);
}

static void test_send_consume(kabase_engine *e) {
    CHECK_STATUS(KABASE_OK, kabase_topic_create(e, "events", 2, ERR));
    CHECK_STATUS(KABASE_TOPIC_EXISTS, kabase_topic_create(e, "events", 2, ERR));
    kabase_producer *p = NULL;
    CHECK_STATUS(KABASE_OK, kabase_producer_new(e, &p, ERR));

    kabase_message msgs[20];
    kabase_record_metadata metas[20];
    char keys[20][8];
    for (int i = 0; i < 20; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        kabase_message m = {i % 2, B(keys[i]), strlen(keys[i]), B("value"), 5};
        msgs[i] = m;
    }
    msgs[19].value = NULL; /* a tombstone */
    msgs[19].value_len = 0;
    msgs[18].key = NULL; /* a null key */
    msgs[18].key_len = 0;
    CHECK_STATUS(KABASE_OK, kabase_producer_send_batch(p, "events", msgs, 20, metas, ERR));
    CHECK(metas[0].partition == 0 && metas[0].offset == 0);
    CHECK(metas[19].partition == 1 && metas[19].offset == 9);
    CHECK_STATUS(KABASE_OK, kabase_producer_send_batch(p, "events", NULL, 0, NULL, ERR));
    CHECK_STATUS(KABASE_OK, kabase_producer_flush(p, ERR));

    kabase_consumer *c = NULL;
    CHECK_STATUS(KABASE_OK, kabase_consumer_new(e, "g1", &c, ERR));
    const char *topics[] = {"events"};
    CHECK_STATUS(KABASE_OK, kabase_consumer_subscribe(c, topics, 1, 1, ERR));
    CHECK(drain(c, 20, NULL) == 20);

    /* Null key and tombstone come back as NULL pointers. */
    CHECK_STATUS(KABASE_OK, kabase_consumer_seek(c, "events", 0, 9, ERR));
    kabase_record_batch *b = NULL;
    CHECK_STATUS(KABASE_OK, kabase_consumer_poll(c, 10, 500, &b, ERR));
    kabase_record_view r;
    CHECK(kabase_record_batch_len(b) >= 1);
    CHECK_STATUS(KABASE_OK, kabase_record_batch_record(b, 0, &r, ERR));
    CHECK(r.offset == 9 && r.partition == 0 && r.key == NULL && r.value_len == 5);
    CHECK(strcmp(r.topic, "events") == 0);
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_record_batch_record(b, 99, &r, ERR));
    kabase_record_batch_free(b);

    CHECK_STATUS(KABASE_OK, kabase_consumer_commit(c, ERR));
    int64_t off = -7;
    CHECK_STATUS(KABASE_OK, kabase_consumer_committed(c, "events", 1, &off, ERR));
    CHECK(off == 10);
    CHECK_STATUS(KABASE_OK, kabase_consumer_close(c, ERR));
    CHECK_STATUS(KABASE_CLOSED, kabase_consumer_commit(c, ERR));
    kabase_consumer_free(c);

    /* A plain consumer (no group) cannot commit. */
    CHECK_STATUS(KABASE_OK, kabase_consumer_new(e, NULL, &c, ERR));
    CHECK_STATUS(KABASE_OK, kabase_consumer_subscribe(c, topics, 1, 1, ERR));
    int64_t first = -1;
    CHECK(drain(c, 20, &first) == 20);
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_commit(c, ERR));
    kabase_consumer_free(c); /* free without close is fine */

    CHECK_STATUS(KABASE_OK, kabase_producer_close(p, ERR));
    kabase_message one = {-1, NULL, 0, B("v"), 1};
    CHECK_STATUS(KABASE_CLOSED, kabase_producer_send(p, "events", &one, NULL, ERR));
    kabase_producer_free(p);
    CHECK_STATUS(KABASE_OK, kabase_topic_delete(e, "events", ERR));
    CHECK_STATUS(KABASE_TOPIC_NOT_FOUND, kabase_topic_delete(e, "events", ERR));
}

static void test_bad_input(kabase_engine *e) {
    const char bad_utf8[] = {'t', (char)0xe2, (char)0x82, 0};
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_topic_create(NULL, "t", 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_topic_create(e, NULL, 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_topic_create(e, bad_utf8, 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_topic_create(e, "t", 0, ERR));
    CHECK_STATUS(KABASE_OK, kabase_topic_create(e, "t", 1, ERR));

    kabase_producer *p = NULL;
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_new(NULL, &p, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_new(e, NULL, ERR));
    CHECK_STATUS(KABASE_OK, kabase_producer_new(e, &p, ERR));
    kabase_message m = {-1, NULL, 0, B("v"), 1};
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_send(NULL, "t", &m, NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_send(p, NULL, &m, NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_send(p, bad_utf8, &m, NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_send(p, "t", NULL, NULL, ERR));
    kabase_message bad_part = {-2, NULL, 0, B("v"), 1};
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_send(p, "t", &bad_part, NULL, ERR));
    kabase_message bad_key = {-1, NULL, 4, B("v"), 1};
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_send(p, "t", &bad_key, NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_send_batch(p, "t", NULL, 3, NULL, ERR));
    kabase_message to_p5 = {5, NULL, 0, B("v"), 1};
    CHECK_STATUS(KABASE_UNKNOWN_PARTITION, kabase_producer_send(p, "t", &to_p5, NULL, ERR));

    kabase_consumer *c = NULL;
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_new(NULL, NULL, &c, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_new(e, bad_utf8, &c, ERR));
    CHECK(c == NULL);
    CHECK_STATUS(KABASE_OK, kabase_consumer_new(e, "g", &c, ERR));
    const char *none[] = {NULL};
    const char *missing[] = {"missing"};
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_subscribe(c, NULL, 1, 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_subscribe(c, none, 1, 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_subscribe(c, missing, 0, 1, ERR));
    CHECK_STATUS(KABASE_TOPIC_NOT_FOUND, kabase_consumer_subscribe(c, missing, 1, 1, ERR));
    kabase_record_batch *b = NULL;
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_poll(NULL, 1, 0, &b, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_poll(c, 1, 0, NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_committed(c, "t", 0, NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_seek(c, NULL, 0, 0, ERR));
    CHECK(kabase_record_batch_len(NULL) == 0);
    kabase_record_batch_free(NULL);
    kabase_consumer_free(NULL);
    kabase_producer_free(NULL);

    /* Use after the engine closed. */
    CHECK_STATUS(KABASE_OK, kabase_engine_close(e, ERR));
    CHECK_STATUS(KABASE_CLOSED, kabase_producer_send(p, "t", &m, NULL, ERR));
    CHECK_STATUS(KABASE_CLOSED, kabase_topic_create(e, "t2", 1, ERR));
    kabase_producer *p2 = NULL;
    CHECK_STATUS(KABASE_CLOSED, kabase_producer_new(e, &p2, ERR));
    kabase_producer_free(p2);
    kabase_consumer_free(c);
    kabase_producer_free(p);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    kabase_engine *e = NULL;
    CHECK_STATUS(KABASE_OK, kabase_engine_open_in_memory(&e, ERR));
    test_send_consume(e);
    test_headers(e);
    test_bad_input(e);
    kabase_engine_free(e);
    return check_summary("test_topics");
}
