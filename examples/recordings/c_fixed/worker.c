/* A native request loop for leakwatch recordings.
 *
 *   gcc -O2 -o worker worker.c
 *   ./worker --rate 100 --leak 0     no leak: every buffer is freed
 *   ./worker --rate 100 --leak 64    each request also mallocs 64 bytes
 *                                    (written) that it never frees
 *
 * Each request mallocs and fills a few scratch buffers (sizes from a fixed set
 * of 1-32 KiB, so the heap does not fragment), frees them, and keeps a copy
 * of its 256-byte response in a ring of --recent slots (freeing the one it
 * replaces).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *volatile last_kept; /* the leaked blocks escape, so the compiler keeps them */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long opt(int argc, char **argv, const char *name, long def) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return atol(argv[i + 1]);
    return def;
}

int main(int argc, char **argv) {
    long rate = opt(argc, argv, "--rate", 100);
    long leak = opt(argc, argv, "--leak", 0);
    long recent_n = opt(argc, argv, "--recent", 4096);
    static const size_t sizes[] = {1024, 2048, 4096, 8192, 16384, 32768};
    char **recent = calloc(recent_n, sizeof *recent);
    unsigned long long served = 0, checksum = 0;
    unsigned int seed = 1;
    double t0 = now_s();
    for (;;) {
        double t = now_s() - t0;
        while (served < t * rate) {
            char *scratch[4];
            for (int k = 0; k < 4; k++) {
                size_t n = sizes[rand_r(&seed) % 6];
                scratch[k] = malloc(n);
                memset(scratch[k], (int)(served + k), n);
                checksum += (unsigned char)scratch[k][n / 2];
            }
            char *resp = malloc(256);
            snprintf(resp, 256, "{\"id\":%llu,\"sum\":%llu}", served, checksum);
            for (int k = 0; k < 4; k++) free(scratch[k]);
            free(recent[served % recent_n]);
            recent[served % recent_n] = resp;
            if (leak > 0) {
                char *kept = malloc(leak); /* never freed: the leak */
                memset(kept, (int)served, leak);
                last_kept = kept;
            }
            served++;
        }
        usleep(20000);
    }
}
