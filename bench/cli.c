#include "cli.h"

#include <clgrad.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KEY_HELP = 'h', KEY_VERSION = 0x100, KEY_FIRST = 0x200 };

void cli_init(cli *c, const char *prog, const char *synopsis, const char *about, const cli_option *opts, int nopts)
{
    memset(c, 0, sizeof *c);
    c->prog = prog;
    c->synopsis = synopsis;
    c->about = about;
    c->opts = opts;
    c->nopts = nopts < CLI_MAX_OPTIONS ? nopts : CLI_MAX_OPTIONS;
    int n = 0;
    for (int i = 0; i < c->nopts; i++)
        c->longopts[n++] = (struct option){opts[i].name, opts[i].arg ? required_argument : no_argument, NULL,
                                           KEY_FIRST + i};
    c->longopts[n++] = (struct option){"help", no_argument, NULL, KEY_HELP};
    c->longopts[n++] = (struct option){"version", no_argument, NULL, KEY_VERSION};
    optind = 0; /* 0, not 1: glibc then starts a fresh scan */
    opterr = 0; /* the messages are ours: one line, naming the option */
}

/* "  LEFT  help" with the help's words wrapped at 100 columns under itself. */
static void print_wrapped(const char *left, const char *text)
{
    enum { INDENT = 25, WIDTH = 100 };
    int col = printf("  %-22s", left);
    const char *p = text;
    while (*p) {
        size_t word = strcspn(p, " ");
        if (col > INDENT && col + 1 + (int)word > WIDTH) col = printf("\n%*s", INDENT - 1, "") - 1;
        col += printf(" %.*s", (int)word, p);
        p += word;
        while (*p == ' ') p++;
    }
    printf("\n");
}

static void help(const cli *c)
{
    printf("usage: %s %s\n", c->prog, c->synopsis ? c->synopsis : "[OPTION]...");
    if (c->about) printf("%s\n", c->about);
    printf("\n");
    for (int i = 0; i < c->nopts; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", c->opts[i].name, c->opts[i].arg ? " " : "",
                 c->opts[i].arg ? c->opts[i].arg : "");
        print_wrapped(left, c->opts[i].help);
    }
    print_wrapped("-h, --help", "this text, then exit");
    print_wrapped("--version", "the program's and the library's versions, then exit");
    printf("\nOptions take their value as --opt VALUE or --opt=VALUE. A refused option or value is one\n"
           "line on stderr and exit status 2.\n");
}

int cli_fail(const cli *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++) /* one line, whatever the message holds */
        if (*p == '\n') *p = ';';
    fprintf(stderr, "%s: %s\n", c->prog, msg);
    return 2;
}

/* The name of a long option argument as given, without "--" and "=value". */
static void given_name(const char *arg, char *out, size_t size)
{
    const char *s = arg;
    while (*s == '-') s++;
    size_t n = strcspn(s, "=");
    if (n >= size) n = size - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

int cli_next(cli *c, int argc, char **argv, const char **value)
{
    *value = NULL;
    int longindex = -1;
    int k = getopt_long(argc, argv, ":h", c->longopts, &longindex);
    if (k == -1) {
        if (optind < argc) {
            cli_fail(c, "unexpected argument '%s' (options start with --; --help lists them)", argv[optind]);
            return CLI_EXIT_USAGE;
        }
        return CLI_END;
    }
    if (k == KEY_HELP) {
        help(c);
        return CLI_EXIT_OK;
    }
    if (k == KEY_VERSION) {
        printf("%s (clgrad) %s\n", c->prog, clg_version());
        if (clg_version_number() != CLG_VERSION_NUMBER)
            printf("built against clgrad %d.%d.%d\n", CLG_VERSION_MAJOR, CLG_VERSION_MINOR, CLG_VERSION_PATCH);
        return CLI_EXIT_OK;
    }
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    if (k == ':') {
        char name[64];
        given_name(arg, name, sizeof name);
        for (int i = 0; i < c->nopts; i++)
            if (!strcmp(c->opts[i].name, name)) {
                cli_fail(c, "--%s needs a value (%s)", name, c->opts[i].arg);
                return CLI_EXIT_USAGE;
            }
        cli_fail(c, "'%s' needs a value", arg);
        return CLI_EXIT_USAGE;
    }
    if (k == '?') {
        if (optopt >= KEY_FIRST && optopt < KEY_FIRST + c->nopts) { /* a flag given a value */
            cli_fail(c, "--%s takes no value ('%s')", c->opts[optopt - KEY_FIRST].name, arg);
            return CLI_EXIT_USAGE;
        }
        if (optopt == KEY_HELP || optopt == KEY_VERSION) {
            cli_fail(c, "'%s' takes no value", arg);
            return CLI_EXIT_USAGE;
        }
        if (optopt > 0 && optopt < 0x80) {
            cli_fail(c, "unknown option '-%c' (--help lists them)", optopt);
            return CLI_EXIT_USAGE;
        }
        char name[64];
        given_name(arg, name, sizeof name);
        for (int i = 0; i < c->nopts; i++)
            if (!strcmp(c->opts[i].name, name) && !c->opts[i].arg) {
                cli_fail(c, "--%s takes no value ('%s')", name, arg);
                return CLI_EXIT_USAGE;
            }
        int matches = 0;
        for (int i = 0; i < c->nopts && *name; i++) matches += !strncmp(c->opts[i].name, name, strlen(name));
        cli_fail(c, "%s option '%s' (--help lists them)", matches > 1 ? "ambiguous" : "unknown", arg);
        return CLI_EXIT_USAGE;
    }
    if (k < KEY_FIRST || k >= KEY_FIRST + c->nopts) {
        cli_fail(c, "unknown option '%s' (--help lists them)", arg);
        return CLI_EXIT_USAGE;
    }
    *value = optarg;
    return k - KEY_FIRST;
}

int cli_status(int k)
{
    return k == CLI_EXIT_OK ? 0 : k == CLI_EXIT_USAGE ? 2 : 0;
}

bool cli_long(const cli *c, const char *opt, const char *value, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    /* the whole text, digits first: "abc", " 1", "1e3" and "3x" are refused,
     * not read as 0, 1, 1 or 3; an overflow is refused, not clamped */
    bool digits = (value[0] >= '0' && value[0] <= '9') || (value[0] == '-' && value[1] >= '0' && value[1] <= '9');
    if (!digits || *end || errno || v < lo || v > hi) {
        cli_fail(c, "--%s must be a whole number from %lld to %lld, not '%s'", opt, lo, hi, value);
        return false;
    }
    *out = v;
    return true;
}

bool cli_u64(const cli *c, const char *opt, const char *value, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    /* digits only: strtoull alone takes "-1" as 2^64 - 1 */
    if (value[0] < '0' || value[0] > '9' || *end || errno) {
        cli_fail(c, "--%s must be a whole number from 0 to 2^64 - 1, not '%s'", opt, value);
        return false;
    }
    *out = v;
    return true;
}

bool cli_double(const cli *c, const char *opt, const char *value, double lo, double hi, const char *range,
                double *out)
{
    char *end;
    double v = strtod(value, &end);
    if (end == value || *end || !isfinite(v) || v < lo || v > hi) {
        cli_fail(c, "--%s must be a number %s, not '%s'", opt, range, value);
        return false;
    }
    *out = v;
    return true;
}

int cli_choice(const cli *c, const char *opt, const char *value, const char *const *choices)
{
    char list[512] = "";
    size_t len = 0;
    for (int i = 0; choices[i]; i++) {
        if (!strcmp(value, choices[i])) return i;
        int n = snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", choices[i]);
        if (n > 0 && (size_t)n < sizeof list - len) len += (size_t)n;
    }
    cli_fail(c, "--%s must be one of %s, not '%s'", opt, list, value);
    return -1;
}
