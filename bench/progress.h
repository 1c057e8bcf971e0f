/* Progress display for the bench programs: a bar with rate and loss on a
 * terminal, nothing otherwise (callers print one line per epoch). */
#ifndef CLG_PROGRESS_H
#define CLG_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

typedef struct progress {
    bool tty;
    double last_draw;
    FILE *out;
} progress;

double now_seconds(void);
void progress_init(progress *p, FILE *out);
/* Redraws at most ten times a second: "label [=====>    ] 45% 1234/s loss 0.4321". */
void progress_update(progress *p, const char *label, long done, long total, double rate, double loss);
void progress_clear(progress *p);

#endif
