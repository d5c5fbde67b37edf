/* Tables through the C ABI: put/get/scan/delete, batch ownership, bad input, use after close. */
#include "check.h"

static const uint8_t *B(const char *s) { return (const uint8_t *)s; }

static kabase_column_value col(const char *f, const char *q, const char *v) {
    kabase_column_value c = {B(f), strlen(f), B(q), strlen(q), B(v), strlen(v)};
    return c;
}

static void test_round_trip(kabase_engine *e) {
    const char *fams[] = {"cf", "meta"};
    CHECK_STATUS(KABASE_OK, kabase_table_create(e, "users", fams, 2, ERR));
    CHECK_STATUS(KABASE_TABLE_EXISTS, kabase_table_create(e, "users", fams, 2, ERR));
    kabase_table *t = NULL;
    CHECK_STATUS(KABASE_OK, kabase_table_open(e, "users", &t, ERR));

    char row[16];
    for (int i = 0; i < 30; i++) {
        snprintf(row, sizeof row, "u%02d", i);
        kabase_column_value cols[2] = {col("cf", "name", row), col("meta", "", "x")};
        CHECK_STATUS(KABASE_OK, kabase_table_put(t, B(row), strlen(row), cols, 2, ERR));
    }

    kabase_row_batch *b = NULL;
    CHECK_STATUS(KABASE_OK, kabase_table_get(t, B("u07"), 3, &b, ERR));
    CHECK(kabase_row_batch_len(b) == 1);
    kabase_row_view r;
    CHECK_STATUS(KABASE_OK, kabase_row_batch_row(b, 0, &r, ERR));
    CHECK(r.row_len == 3 && memcmp(r.row, "u07", 3) == 0);
    CHECK(r.cell_count == 2);
    CHECK(r.cells[0].family_len == 2 && memcmp(r.cells[0].family, "cf", 2) == 0);
    CHECK(r.cells[0].value_len == 3 && memcmp(r.cells[0].value, "u07", 3) == 0);
    CHECK(r.cells[1].qualifier_len == 0);
    CHECK(r.cells[0].timestamp > 0);
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_row_batch_row(b, 1, &r, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_row_batch_row(b, 0, NULL, ERR));
    kabase_row_batch_free(b);

    b = NULL;
    CHECK_STATUS(KABASE_OK, kabase_table_get(t, B("absent"), 6, &b, ERR));
    CHECK(b != NULL && kabase_row_batch_len(b) == 0);
    kabase_row_batch_free(b);

    b = NULL;
    CHECK_STATUS(KABASE_OK, kabase_table_scan(t, B("u10"), 3, B("u20"), 3, 0, &b, ERR));
    CHECK(kabase_row_batch_len(b) == 10);
    kabase_row_batch_free(b);
    b = NULL;
    CHECK_STATUS(KABASE_OK, kabase_table_scan(t, NULL, 0, NULL, 0, 4, &b, ERR));
    CHECK(kabase_row_batch_len(b) == 4);
    kabase_row_batch_free(b);

    /* Multi-get: one row per key, in key order; a missing row keeps its key and has no cell. */
    const uint8_t *keys[4] = {B("u12"), B("absent"), B("u03"), B("u12")};
    size_t key_lens[4] = {3, 6, 3, 3};
    b = NULL;
    CHECK_STATUS(KABASE_OK, kabase_table_get_many(t, keys, key_lens, 4, &b, ERR));
    CHECK(kabase_row_batch_len(b) == 4);
    CHECK_STATUS(KABASE_OK, kabase_row_batch_row(b, 0, &r, ERR));
    CHECK(r.row_len == 3 && memcmp(r.row, "u12", 3) == 0 && r.cell_count == 2);
    CHECK(r.cells[0].value_len == 3 && memcmp(r.cells[0].value, "u12", 3) == 0);
    CHECK_STATUS(KABASE_OK, kabase_row_batch_row(b, 1, &r, ERR));
    CHECK(r.row_len == 6 && memcmp(r.row, "absent", 6) == 0 && r.cell_count == 0);
    CHECK_STATUS(KABASE_OK, kabase_row_batch_row(b, 2, &r, ERR));
    CHECK(r.row_len == 3 && memcmp(r.row, "u03", 3) == 0 && r.cell_count == 2);
    CHECK_STATUS(KABASE_OK, kabase_row_batch_row(b, 3, &r, ERR));
    CHECK(r.cell_count == 2 && memcmp(r.cells[0].value, "u12", 3) == 0);
    kabase_row_batch_free(b);
    b = NULL;
    CHECK_STATUS(KABASE_OK, kabase_table_get_many(t, NULL, NULL, 0, &b, ERR));
    CHECK(b != NULL && kabase_row_batch_len(b) == 0);
    kabase_row_batch_free(b);

    CHECK_STATUS(KABASE_OK, kabase_table_delete_row(t, B("u07"), 3, ERR));
    b = NULL;
    CHECK_STATUS(KABASE_OK, kabase_table_get(t, B("u07"), 3, &b, ERR));
    CHECK(kabase_row_batch_len(b) == 0);
    kabase_row_batch_free(b);

    /* Errors from the core come through with their code. */
    kabase_column_value bad_family[1] = {col("nope", "q", "v")};
    CHECK_STATUS(KABASE_NO_SUCH_COLUMN_FAMILY, kabase_table_put(t, B("r"), 1, bad_family, 1, ERR));
    kabase_table *missing = (kabase_table *)0x1;
    CHECK_STATUS(KABASE_TABLE_NOT_FOUND, kabase_table_open(e, "missing", &missing, ERR));
    CHECK(missing == NULL);

    CHECK_STATUS(KABASE_OK, kabase_table_drop(e, "users", ERR));
    CHECK_STATUS(KABASE_TABLE_NOT_FOUND, kabase_table_drop(e, "users", ERR));
    kabase_table_free(t);
}

static void test_bad_input(kabase_engine *e) {
    const char *fams[] = {"cf"};
    const char bad_utf8[] = {'t', (char)0xc3, (char)0x28, 0};
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_create(NULL, "t", fams, 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_create(e, NULL, fams, 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_create(e, bad_utf8, fams, 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_create(e, "t", NULL, 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_create(e, "t", fams, 0, ERR));
    const char *null_fam[] = {NULL};
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_create(e, "t", null_fam, 1, ERR));
    const char *bad_fam[] = {bad_utf8};
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_create(e, "t", bad_fam, 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_open(e, "t", NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_open(NULL, "t", NULL, ERR));

    CHECK_STATUS(KABASE_OK, kabase_table_create(e, "t", fams, 1, ERR));
    kabase_table *t = NULL;
    CHECK_STATUS(KABASE_OK, kabase_table_open(e, "t", &t, ERR));
    kabase_column_value cols[1] = {col("cf", "q", "v")};
    kabase_row_batch *b = NULL;
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_put(NULL, B("r"), 1, cols, 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_put(t, NULL, 1, cols, 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_put(t, B("r"), 0, cols, 1, ERR)); /* empty row */
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_put(t, B("r"), 1, NULL, 1, ERR));
    kabase_column_value null_value[1] = {{B("cf"), 2, B("q"), 1, NULL, 5}};
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_put(t, B("r"), 1, null_value, 1, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_get(NULL, B("r"), 1, &b, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_get(t, B("r"), 1, NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_scan(t, NULL, 3, NULL, 0, 0, &b, ERR));
    const uint8_t *keys[2] = {B("r"), NULL};
    size_t lens[2] = {1, 1};
    size_t empty_lens[2] = {1, 0};
    b = (kabase_row_batch *)0x1;
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_get_many(t, keys, lens, 2, &b, ERR)); /* NULL key */
    CHECK(b == NULL);
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_get_many(t, keys, empty_lens, 2, &b, ERR)); /* empty key */
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_get_many(t, keys, NULL, 1, &b, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_get_many(t, NULL, lens, 1, &b, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_get_many(NULL, keys, lens, 1, &b, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_get_many(t, keys, lens, 1, NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_table_delete_row(t, NULL, 0, ERR));
    CHECK(kabase_row_batch_len(NULL) == 0);
    kabase_row_view r;
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_row_batch_row(NULL, 0, &r, ERR));
    kabase_row_batch_free(NULL);
    kabase_table_free(NULL);

    /* Use after close: the table handle outlives the engine and reports CLOSED. */
    CHECK_STATUS(KABASE_OK, kabase_engine_close(e, ERR));
    CHECK_STATUS(KABASE_CLOSED, kabase_table_put(t, B("r"), 1, cols, 1, ERR));
    CHECK_STATUS(KABASE_CLOSED, kabase_table_get(t, B("r"), 1, &b, ERR));
    CHECK(b == NULL);
    CHECK_STATUS(KABASE_CLOSED, kabase_table_create(e, "t2", fams, 1, ERR));
    kabase_table_free(t);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    kabase_engine *e = NULL;
    CHECK_STATUS(KABASE_OK, kabase_engine_open_in_memory(&e, ERR));
    test_round_trip(e);
    test_bad_input(e);
    kabase_engine_free(e);
    return check_summary("test_tables");
}
