/*
 * The floor under a node scrape: only the system calls a scrape cannot do
 * without. bench/node.py records which files one sidewatch-node scrape opens
 * (strace), then runs this program on that list: per iteration it opens and
 * reads each file to its end, lists each directory, statfs()es each mount,
 * and writes a body of the scrape's size to /dev/null. No parsing, no
 * formatting, no HTTP. The CPU per iteration is the floor that sidewatch-node's
 * CPU per scrape is reported against (DESIGN.md: within 2x).
 *
 * Usage: floor LIST BODY_BYTES ITERATIONS
 *   LIST: one operation per line, "r PATH" (open, read, close), "p PATH"
 *   (a file kept open: opened once before the timing, read from offset 0
 *   with pread each iteration; under /sys/, one read when it is shorter
 *   than a page), "d PATH" (list a directory) or "s PATH"
 *   (statfs). Prints "<cpu ms per iteration>".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <unistd.h>

struct op {
    char kind;
    char *path;
    int fd;
};

static double cpu_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
           (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s LIST BODY_BYTES ITERATIONS\n", argv[0]);
        return 2;
    }
    FILE *list = fopen(argv[1], "r");
    if (!list) {
        perror(argv[1]);
        return 2;
    }
    size_t body_len = strtoul(argv[2], NULL, 10);
    long iterations = strtol(argv[3], NULL, 10);
    struct op *ops = NULL;
    size_t n = 0, cap = 0;
    char line[4096];
    while (fgets(line, sizeof line, list)) {
        size_t len = strlen(line);
        if (len < 3 || line[1] != ' ')
            continue;
        if (line[len - 1] == '\n')
            line[len - 1] = 0;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            ops = realloc(ops, cap * sizeof *ops);
            if (!ops)
                return 1;
        }
        ops[n].kind = line[0];
        ops[n].path = strdup(line + 2);
        ops[n].fd = ops[n].kind == 'p' ? open(ops[n].path, O_RDONLY | O_CLOEXEC) : -1;
        n++;
    }
    fclose(list);
    char *body = malloc(body_len + 1);
    static char buf[65536];
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (!body || devnull < 0)
        return 1;
    memset(body, 'x', body_len);
    double start = cpu_seconds();
    for (long it = 0; it < iterations; it++) {
        for (size_t i = 0; i < n; i++) {
            if (ops[i].kind == 'r') {
                int fd = open(ops[i].path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                    continue;
                while (read(fd, buf, sizeof buf) > 0) {
                }
                close(fd);
            } else if (ops[i].kind == 'p') {
                if (ops[i].fd < 0)
                    continue;
                off_t off = 0;
                ssize_t got;
                while ((got = pread(ops[i].fd, buf, sizeof buf, off)) > 0) {
                    off += got;
                    /* A sysfs file shorter than a page comes whole in one
                     * read at 0 (what sidewatch-node's kept reads rely on). */
                    if (off == got && got < 4096 && strncmp(ops[i].path, "/sys/", 5) == 0)
                        break;
                }
            } else if (ops[i].kind == 'd') {
                DIR *d = opendir(ops[i].path);
                if (!d)
                    continue;
                while (readdir(d)) {
                }
                closedir(d);
            } else if (ops[i].kind == 's') {
                struct statfs s;
                statfs(ops[i].path, &s);
            }
        }
        for (size_t off = 0; off < body_len;) {
            ssize_t w = write(devnull, body + off, body_len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    printf("%.4f\n", (cpu_seconds() - start) * 1000.0 / (double)iterations);
    return 0;
}
