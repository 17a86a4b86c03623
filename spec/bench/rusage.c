/* Runs a command and writes what it cost to a file, for spec/bench.lua:
 *
 *   rusage OUTFILE COMMAND [ARG ...]
 *
 * OUTFILE gets one line, "wall user sys maxrss status": seconds of wall time
 * (a monotonic clock read around fork and wait4), user and system CPU seconds
 * of the command and of every descendant it waited for (microseconds, where
 * GNU time prints hundredths), the largest resident set among them in kB, and
 * the exit status (128 + the signal for a signalled command, 127 when it could
 * not be started).  The command's own streams are left alone.  Exit status:
 * 0 when the command ran and was reaped, 2 on a usage or system error. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s OUTFILE COMMAND [ARG ...]\n", argv[0]);
        return 2;
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        fprintf(stderr, "rusage: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "rusage: fork: %s\n", strerror(errno));
        fclose(out);
        return 2;
    }
    if (pid == 0) {
        fclose(out);
        execvp(argv[2], argv + 2);
        fprintf(stderr, "rusage: %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    pid_t got;
    do {
        got = wait4(pid, &status, 0, &ru);
    } while (got < 0 && errno == EINTR);
    double wall = now() - t0;
    if (got < 0) {
        fprintf(stderr, "rusage: wait4: %s\n", strerror(errno));
        fclose(out);
        return 2;
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
    fprintf(out, "%.6f %.6f %.6f %ld %d\n", wall, seconds(ru.ru_utime), seconds(ru.ru_stime), ru.ru_maxrss, code);
    return fclose(out) == 0 ? 0 : 2;
}
