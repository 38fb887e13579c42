/* The real node's sandbox ("pause") container, and the smallest image a test pod can run.
 *
 * Built statically by localplatform/images/pause.py with the machine's gcc, so nothing is pulled.
 * With arguments it first prints them as one line (what a test reads back with `kubectl logs`).
 * It then sleeps until SIGTERM or SIGINT and exits 0: as PID 1 a process gets no default signal
 * handlers, and one that ignored SIGTERM would hold every pod deletion for its grace period.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static void stop(int signal_number) {
    (void)signal_number;
    _exit(0);
}

int main(int argc, char **argv) {
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    for (int i = 1; i < argc; i++) {
        printf(i + 1 < argc ? "%s " : "%s\n", argv[i]);
    }
    fflush(stdout);
    for (;;) {
        pause();
    }
}
