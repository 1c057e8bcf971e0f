#define _POSIX_C_SOURCE 199309L
#include "progress.h"

#include <time.h>
#include <unistd.h>

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(progress *p, FILE *out)
{
    p->out = out;
    p->tty = out && isatty(fileno(out)) != 0; /* NULL: draws nothing (an MPI rank other than 0) */
    p->last_draw = 0;
}

void progress_update(progress *p, const char *label, long done, long total, double rate, double loss)
{
    if (!p->tty) return;
    double t = now_seconds();
    if (done < total && t - p->last_draw < 0.1) return;
    p->last_draw = t;
    enum { WIDTH = 30 };
    int fill = total > 0 ? (int)((double)WIDTH * (double)done / (double)total) : 0;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[WIDTH] = '\0';
    fprintf(p->out, "\r%s [%s] %3d%% %8.0f samples/s  loss %.4f ", label, bar,
            total > 0 ? (int)(100.0 * (double)done / (double)total) : 0, rate, loss);
    fflush(p->out);
}

void progress_clear(progress *p)
{
    if (!p->tty) return;
    fprintf(p->out, "\r%*s\r", 79, "");
    fflush(p->out);
}
