/* Engine handles, version, status codes, error messages and bad input through the C ABI. */
#include "check.h"

static void test_version(void) {
    CHECK(strcmp(kabase_version(), KABASE_VERSION) == 0);
    char buf[64];
    snprintf(buf, sizeof buf, "%d.%d.%d", KABASE_VERSION_MAJOR, KABASE_VERSION_MINOR, KABASE_VERSION_PATCH);
    CHECK(strncmp(kabase_version(), buf, strlen(buf)) == 0);
}

static void test_status_names(void) {
    CHECK(strcmp(kabase_status_name(KABASE_OK), "OK") == 0);
    CHECK(strcmp(kabase_status_name(KABASE_TABLE_NOT_FOUND), "TABLE_NOT_FOUND") == 0);
    CHECK(strcmp(kabase_status_name(KABASE_INVALID_ARGUMENT), "INVALID_ARGUMENT") == 0);
    CHECK(strcmp(kabase_status_name(-1), "UNKNOWN") == 0);
    CHECK(KABASE_TABLE_NOT_FOUND == 203);
    CHECK(KABASE_INTERNAL == 100);
}

static void test_open_close(const char *dir) {
    kabase_engine *e = NULL;
    CHECK_STATUS(KABASE_OK, kabase_engine_open(dir, &e, ERR));
    CHECK(e != NULL);
    CHECK(kabase_engine_is_closed(e) == 0);
    CHECK_STATUS(KABASE_OK, kabase_engine_sync(e, ERR));

    /* The same directory twice in one process: two handles to one engine. */
    kabase_engine *e2 = NULL;
    CHECK_STATUS(KABASE_OK, kabase_engine_open(dir, &e2, ERR));
    CHECK_STATUS(KABASE_OK, kabase_engine_close(e2, ERR));
    CHECK(kabase_engine_is_closed(e) == 1);
    kabase_engine_free(e2);

    /* Use after close: a status, never a crash. */
    char *msg = NULL;
    CHECK(kabase_engine_sync(e, &msg) == KABASE_CLOSED);
    CHECK(msg != NULL && strstr(msg, "closed") != NULL);
    kabase_string_free(msg);
    CHECK_STATUS(KABASE_OK, kabase_engine_close(e, ERR)); /* twice is fine */
    kabase_engine_free(e);

    /* After close and free, the directory opens again. */
    e = NULL;
    CHECK_STATUS(KABASE_OK, kabase_engine_open(dir, &e, ERR));
    CHECK_STATUS(KABASE_OK, kabase_engine_close(e, ERR));
    kabase_engine_free(e);
}

static void test_in_memory(void) {
    kabase_engine *e = NULL;
    CHECK_STATUS(KABASE_OK, kabase_engine_open_in_memory(&e, ERR));
    CHECK(e != NULL);
    CHECK_STATUS(KABASE_OK, kabase_engine_close(e, NULL)); /* err_msg may be NULL */
    kabase_engine_free(e);
}

static void test_bad_input(void) {
    kabase_engine *e = (kabase_engine *)0x1; /* must be reset to NULL on failure */
    char *msg = (char *)0x1;                 /* must be reset to NULL or a message */
    CHECK(kabase_engine_open(NULL, &e, &msg) == KABASE_INVALID_ARGUMENT);
    CHECK(e == NULL);
    CHECK(msg != NULL && strstr(msg, "path") != NULL);
    kabase_string_free(msg);

    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_engine_open("", &e, ERR));
    CHECK(e == NULL);
    const char bad_utf8[] = {'d', (char)0xff, (char)0xfe, 0};
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_engine_open(bad_utf8, &e, ERR));
    CHECK(e == NULL);
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_engine_open("/tmp/x", NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_engine_open_in_memory(NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_engine_sync(NULL, ERR));
    CHECK_STATUS(KABASE_INVALID_ARGUMENT, kabase_engine_close(NULL, ERR));
    CHECK(kabase_engine_is_closed(NULL) == -1);
    kabase_engine_free(NULL);
    kabase_string_free(NULL);

    /* A successful call clears a stale err_msg pointer. */
    kabase_engine *m = NULL;
    msg = (char *)0x1;
    CHECK(kabase_engine_open_in_memory(&m, &msg) == KABASE_OK);
    CHECK(msg == NULL);
    kabase_engine_close(m, NULL);
    kabase_engine_free(m);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/engine", argv[1]);
    test_version();
    test_status_names();
    test_open_close(dir);
    test_in_memory();
    test_bad_input();
    return check_summary("test_engine");
}
