/* Unit tests for common/base/cli.c and common/base/util.c helpers that need no subprocess. */
#include "base/cli.h"
#include "base/util.h"
#include "tap.h"

#include <string.h>
#include <unistd.h>

int main(void) {
    util_init("test-cli");
    is_int(cli_size("100", "-s"), 100, "plain size");
    is_int(cli_size("100k", "-s"), 100000, "k is 1e3");
    is_int(cli_size("100M", "-s"), 100000000, "M is 1e6");
    is_int(cli_size("2G", "-s"), 2000000000, "G is 1e9");
    is_int(cli_size("64Ki", "-s"), 65536, "Ki is 2^10");
    is_int(cli_size("1Gi", "-s"), 1 << 30, "Gi is 2^30");
    is_int(cli_int("-5", "-n", -10, 10), -5, "negative int in range");
    near(cli_double("6e-4", "--lr", 0, 1), 6e-4, 0, 1e-12, "double parses");

    char dir[] = "/tmp/gpt2-cli-XXXXXX";
    ok(mkdtemp(dir) != NULL, "temp dir");
    char *path = xasprintf("%s/a/b/out.bin", dir);
    char *sub = xasprintf("%s/a/b", dir);
    mkdir_p(sub);
    AtomicFile af;
    atomic_open(&af, path, 0);
    ok(!file_exists(path), "atomic file invisible before commit");
    xfwrite("hello", 5, af.f, af.tmp);
    atomic_commit(&af);
    size_t n;
    char *s = xread_file(path, &n);
    ok(n == 5 && !memcmp(s, "hello", 5), "atomic file has its bytes after commit");
    free(s);
    atomic_open(&af, path, 1);
    char *tmp = xstrdup(af.tmp);
    atomic_abort(&af);
    ok(!file_exists(tmp), "aborted temp file removed");
    free(tmp);
    s = xread_file(path, &n);
    ok(n == 5, "abort leaves the old file alone");
    free(s);
    unlink(path);
    rmdir(sub);
    *strrchr(sub, '/') = 0;
    rmdir(sub);
    rmdir(dir);
    free(path);
    free(sub);
    return done_testing();
}
