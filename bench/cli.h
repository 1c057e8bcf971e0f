/*
 * The command line of every clgrad program, one way: GNU getopt_long
 * ("--opt value" and "--opt=value", unambiguous prefixes), "--help" on
 * stdout with each option's default and exit 0, "--version", and every
 * refusal (an unknown option, a missing or bad value, a stray argument)
 * one line on stderr naming the option, exit status 2. A program declares
 * its options once in a table; the getopt list and the help text are both
 * made from it.
 */
#ifndef CLGRAD_CLI_H
#define CLGRAD_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cli_option {
    const char *name; /* the long name without "--" */
    const char *arg;  /* the value's placeholder ("N", "SPEC"), NULL for a flag */
    const char *help; /* one line, ending with the default where there is one */
} cli_option;

#define CLI_MAX_OPTIONS 40

typedef struct cli {
    const char *prog;     /* "clgrad-train" */
    const char *synopsis; /* usage lines after "usage: PROG", NULL: "[OPTION]..." */
    const char *about;    /* what the program does, printed under the usage */
    const cli_option *opts;
    int nopts;
    struct option longopts[CLI_MAX_OPTIONS + 3];
} cli;

enum {
    CLI_END = -1,   /* every option read */
    CLI_EXIT_OK = -2, /* --help or --version answered: exit 0 */
    CLI_EXIT_USAGE = -3 /* refused, one line printed: exit 2 */
};

void cli_init(cli *c, const char *prog, const char *synopsis, const char *about, const cli_option *opts, int nopts);
/* The next option given: its index in opts, with *value its text (NULL for
 * a flag); or one of CLI_END, CLI_EXIT_OK, CLI_EXIT_USAGE. */
int cli_next(cli *c, int argc, char **argv, const char **value);
/* The exit status for what cli_next returned last: 0 or 2. */
int cli_status(int k);

/* Each checks the whole of value against the option's range and, if it is
 * refused, prints one line ("PROG: --steps must be a whole number from 1 to
 * 1000000, not 'abc'") and returns false. */
bool cli_long(const cli *c, const char *opt, const char *value, long long lo, long long hi, long long *out);
bool cli_u64(const cli *c, const char *opt, const char *value, uint64_t *out);
/* range says the bounds in words for the message ("from 1/128 to 1024") */
bool cli_double(const cli *c, const char *opt, const char *value, double lo, double hi, const char *range,
                double *out);
/* value is one of choices (NULL-terminated): its index, else -1 after the
 * message listing them. */
int cli_choice(const cli *c, const char *opt, const char *value, const char *const *choices);
/* "PROG: message" on stderr; returns 2, the usage exit status. */
int cli_fail(const cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
