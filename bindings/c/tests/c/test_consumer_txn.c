/* Through the C ABI: consumer pattern subscription, pause and resume, producer transactions
 * (init, begin, send, send offsets, commit, abort) seen by a read_committed consumer. */
#include "check.h"

static const uint8_t *B(const char *s) { return (const uint8_t *)s; }

/* Poll until `want` records arrived or 50 polls passed; the values go into `out` (NUL-separated
 * is enough for these tests: each is copied into its own slot). */
static size_t collect(kabase_consumer *c, size_t want, char out[][32], uint32_t *partitions) {
    size_t got = 0;
    for (int attempt = 0; got < want && attempt < 50; attempt++) {
        kabase_record_batch *b = NULL;
        CHECK_STATUS(KABASE_OK, kabase_consumer_poll(c, 10, 100, &b, ERR));
        for (size_t i = 0; i < kabase_record_batch_len(b) && got < 16; i++) {
            kabase_record_view r;
            CHECK_STATUS(KABASE_OK, kabase_record_batch_record(b, i, &r, ERR));
            size_t n = r.value_len < 31 ? r.value_len : 31;
            memcpy(out[got], r.value, n);
            out[got][n] = 0;
            if (partitions) partitions[got] = r.partition;
            got++;
        }
        kabase_record_batch_free(b);
    }
    return got;
}

static void send(kabase_producer *p, const char *topic, int32_t partition, const char *value) {
    kabase_message m = {partition, NULL, 0, B(value), strlen(value)};
    CHECK_STATUS(KABASE_OK, kabase_producer_send(p, topic, &m, NULL, ERR));
}

static void test_pattern(kabase_engine *e, kabase_producer *p) {
    CHECK_STATUS(KABASE_OK, kabase_topic_create(e, "orders.eu", 1, ERR));
    CHECK_STATUS(KABASE_OK, kabase_topic_create(e, "users", 1, ERR));
    send(p, "orders.eu", -1, "eu");
    send(p, "users", -1, "user");
    kabase_consumer *c = NULL;
    CHECK_STATUS(KABASE_OK, kabase_consumer_new(e, "pattern-group", &c, ERR));
    CHECK_STATUS(KABASE_OK, kabase_consumer_subscribe_pattern(c, "orders\\..*", 1, ERR));
    char vals[16][32];
    CHECK(collect(c, 1, vals, NULL) == 1);
    CHECK(strcmp(vals[0], "eu") == 0);
    CHECK_STATUS(KABASE_OK, kabase_consumer_commit(c, ERR));
    /* A topic created later joins the subscription. */
    CHECK_STATUS(KABASE_OK, kabase_topic_create(e, "orders.us", 1, ERR));
    send(p, "orders.us", -1, "us");
    CHECK(collect(c, 1, vals, NULL) == 1);
    CHECK(strcmp(vals[0], "us") == 0);
    CHECK(kabase_consumer_assignment_count(c) == 2);
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_subscribe_pattern(c, "(", 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_subscribe_pattern(c, NULL, 1, ERR));
    kabase_consumer_free(c);

    kabase_consumer *plain = NULL;
    CHECK_STATUS(KABASE_OK, kabase_consumer_new(e, NULL, &plain, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_subscribe_pattern(plain, "orders.*", 1, ERR));
    kabase_consumer_free(plain);
}

static void test_pause_resume(kabase_engine *e, kabase_producer *p) {
    CHECK_STATUS(KABASE_OK, kabase_topic_create(e, "two", 2, ERR));
    send(p, "two", 0, "a0");
    send(p, "two", 1, "b0");
    send(p, "two", 0, "a1");
    send(p, "two", 1, "b1");
    kabase_consumer *c = NULL;
    CHECK_STATUS(KABASE_OK, kabase_consumer_new(e, NULL, &c, ERR));
    const char *topics[] = {"two"};
    CHECK_STATUS(KABASE_OK, kabase_consumer_subscribe(c, topics, 1, 1, ERR));
    CHECK_STATUS(KABASE_OK, kabase_consumer_pause(c, "two", 1, ERR));
    CHECK(kabase_consumer_paused_count(c) == 1);
    char vals[16][32];
    uint32_t parts[16];
    size_t n = collect(c, 4, vals, parts);
    CHECK(n == 2);
    for (size_t i = 0; i < n; i++) CHECK(parts[i] == 0);
    CHECK_STATUS(KABASE_OK, kabase_consumer_resume(c, "two", -1, ERR));
    CHECK(kabase_consumer_paused_count(c) == 0);
    n = collect(c, 2, vals, parts);
    CHECK(n == 2 && parts[0] == 1 && strcmp(vals[0], "b0") == 0 && strcmp(vals[1], "b1") == 0);
    CHECK_STATUS(KABASE_OK, kabase_consumer_pause(c, "two", -1, ERR));
    CHECK(kabase_consumer_paused_count(c) == 2);
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_pause(c, "two", 7, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_pause(c, "two", -2, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_pause(c, NULL, 0, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_consumer_resume(NULL, "two", 0, ERR));
    CHECK(kabase_consumer_paused_count(NULL) == 0);
    kabase_consumer_free(c);
}

static void test_transactions(kabase_engine *e) {
    CHECK_STATUS(KABASE_OK, kabase_topic_create(e, "tx-in", 1, ERR));
    CHECK_STATUS(KABASE_OK, kabase_topic_create(e, "tx-out", 1, ERR));
    const char *keys[] = {"transactional.id", "linger.ms"};
    const char *vals[] = {"c-tx", "0"};
    kabase_producer *p = NULL;
    CHECK_STATUS(KABASE_OK, kabase_producer_new_with_config(e, keys, vals, 2, &p, ERR));
    CHECK_STATUS(KABASE_INVALID_TXN_STATE, kabase_producer_begin_transaction(p, ERR));
    CHECK_STATUS(KABASE_OK, kabase_producer_init_transactions(p, ERR));

    CHECK_STATUS(KABASE_OK, kabase_producer_begin_transaction(p, ERR));
    send(p, "tx-out", -1, "aborted");
    CHECK_STATUS(KABASE_OK, kabase_producer_abort_transaction(p, ERR));

    CHECK_STATUS(KABASE_OK, kabase_producer_begin_transaction(p, ERR));
    CHECK_STATUS(KABASE_INVALID_TXN_STATE, kabase_producer_begin_transaction(p, ERR));
    send(p, "tx-out", -1, "committed");
    kabase_topic_offset offs[] = {{"tx-in", 0, 7}};
    CHECK_STATUS(KABASE_OK, kabase_producer_send_offsets_to_transaction(p, "tx-group", offs, 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_send_offsets_to_transaction(p, "tx-group", NULL, 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_send_offsets_to_transaction(p, NULL, offs, 1, ERR));
    CHECK_STATUS(KABASE_OK, kabase_producer_commit_transaction(p, ERR));
    CHECK_STATUS(KABASE_INVALID_TXN_STATE, kabase_producer_commit_transaction(p, ERR));
    CHECK_STATUS(KABASE_INVALID_TXN_STATE, kabase_producer_abort_transaction(p, ERR));

    const char *ckeys[] = {"isolation.level"};
    const char *cvals[] = {"read_committed"};
    kabase_consumer *c = NULL;
    CHECK_STATUS(KABASE_OK, kabase_consumer_new_with_config(e, "tx-group", ckeys, cvals, 1, &c, ERR));
    int64_t committed = -1;
    CHECK_STATUS(KABASE_OK, kabase_consumer_committed(c, "tx-in", 0, &committed, ERR));
    CHECK(committed == 7);
    const char *topics[] = {"tx-out"};
    CHECK_STATUS(KABASE_OK, kabase_consumer_subscribe(c, topics, 1, 1, ERR));
    char got[16][32];
    CHECK(collect(c, 2, got, NULL) == 1);
    CHECK(strcmp(got[0], "committed") == 0);
    kabase_consumer_free(c);

    /* Bad configs. */
    const char *bad_keys[] = {"no.such.config"};
    kabase_producer *p2 = NULL;
    CHECK_STATUS(KABASE_INVALID_CONFIG, kabase_producer_new_with_config(e, bad_keys, vals, 1, &p2, ERR));
    CHECK(p2 == NULL);
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_new_with_config(e, NULL, vals, 1, &p2, ERR));
    kabase_consumer *c2 = NULL;
    CHECK_STATUS(KABASE_INVALID_CONFIG, kabase_consumer_new_with_config(e, NULL, bad_keys, vals, 1, &c2, ERR));
    CHECK(c2 == NULL);
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_producer_init_transactions(NULL, ERR));
    kabase_producer_free(p);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    kabase_engine *e = NULL;
    CHECK_STATUS(KABASE_OK, kabase_engine_open_in_memory(&e, ERR));
    kabase_producer *p = NULL;
    CHECK_STATUS(KABASE_OK, kabase_producer_new(e, &p, ERR));
    test_pattern(e, p);
    test_pause_resume(e, p);
    test_transactions(e);
    kabase_producer_free(p);
    CHECK_STATUS(KABASE_OK, kabase_engine_close(e, ERR));
    kabase_engine_free(e);
    return check_summary("test_consumer_txn");
}
