/* The seed flow through kabase's C ABI: open an engine, create a table, put rows, get them,
 * send them to a topic, consume the topic, delete the rows.
 *
 * Build (after `cargo build --release -p kabase-c`):
 *   cc -std=c11 -Wall -Wextra -Werror -I include examples/c/seed.c target/release/libkabase.a \
 *      -lpthread -ldl -lm -o seed
 *   ./seed [DATA_DIR]          (no DATA_DIR: an in-memory engine)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kabase.h"

static int fail(const char *what, int rc, char *msg) {
    fprintf(stderr, "%s failed: %s (%d): %s\n", what, kabase_status_name(rc), rc, msg ? msg : "");
    kabase_string_free(msg);
    return 1;
}

int main(int argc, char **argv) {
    char *msg = NULL;
    kabase_engine *engine = NULL;
    int rc = argc > 1 ? kabase_engine_open(argv[1], &engine, &msg) : kabase_engine_open_in_memory(&engine, &msg);
    if (rc != KABASE_OK) return fail("open engine", rc, msg);
    printf("kabase %s: engine open\n", kabase_version());

    rc = kabase_engine_close(engine, &msg);
    kabase_engine_free(engine);
    if (rc != KABASE_OK) return fail("close engine", rc, msg);
    printf("seed flow done\n");
    return 0;
}
