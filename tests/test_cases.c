/*
 * Every op case (tests/cases/): each OpenCL device against the reference,
 * output and gradients, at two odd sizes (about 1001 and 70001 elements:
 * odd extents, a plane of 7x9, 37 columns), and the reference's gradients
 * against central finite differences in double at about 64 elements
 * (gc_check_fd; the float reference against the double one too). The
 * tolerances are each case's (tests/cases/cases.h, case_tol; the family
 * files say why).
 *
 * And the table against the header: every public op of clgrad.h (a
 * CLG_API function returning clg_tensor) must have a case, and every
 * function a case names must exist, so that adding an op without a case
 * fails here. The family tests (test_ops, test_act, ...) keep what a table
 * cannot say: formulas written again, extreme values, attribute sweeps,
 * bad arguments.
 *
 * Usage: test_cases CLGRAD_H [PATTERN] (PATTERN: cmocka's test filter,
 * e.g. 'conv*').
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "gradcheck.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *header_path;

static clg_tensor build_case(clg_graph *g, const clg_tensor *in, void *arg)
{
    return ((const op_case *)arg)->build(g, in);
}

static case_tol tol_of(const op_case *c, const case_input *in)
{
    case_tol t = case_default_tol;
    if (c->tol) c->tol(in, &t);
    return t;
}

static void test_devices(void **state)
{
    const op_case *c = *state;
    static const int64_t sizes[] = {1001, 70001};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        case_input in[CASE_MAX_IN];
        int nin = c->inputs(sizes[s], false, in);
        assert_true(nin >= 1 && nin <= CASE_MAX_IN);
        case_tol t = tol_of(c, in);
        char name[160];
        snprintf(name, sizeof name, "%s at n = %lld", c->name, (long long)sizes[s]);
        gc_check_devices(name, build_case, (void *)c, in, nin, &t, case_seed(c->name, (int)s));
    }
    if (!c->no_fd) {
        case_input in[CASE_MAX_IN];
        int nin = c->inputs(64, false, in);
        case_tol t = tol_of(c, in);
        gc_check_fd(c->name, build_case, (void *)c, in, nin, &t, case_seed(c->name, 10));
    }
}

/* Whether word w occurs in the space-separated list. */
static bool listed(const char *list, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = list; (p = strstr(p, w)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return true;
    return false;
}

/*
 * The 16-bit path of every case whose ops take 16-bit tensors (the
 * elementwise ones, core/ops.h): its float inputs cast to bfloat16 and to
 * float16, against the same inputs rounded but float32 (gc_check_16 states
 * the bound). An op that takes only its first input in 16 bits (batch
 * norm's x; its parameters stay float32) has that one cast. A case an op
 * of which refuses 16-bit tensors is skipped, after checking that the
 * refusal says so.
 */
typedef struct {
    const op_case *c;
    clg_elem to;
    bool f32;   /* the float32 path */
    bool first; /* only the first float input in 16 bits */
} half_arg;

static clg_tensor build_half(clg_graph *g, const clg_tensor *in, void *arg)
{
    const half_arg *h = arg;
    case_input ci[CASE_MAX_IN];
    const int nin = h->c->inputs(64, false, ci);
    clg_tensor x[CASE_MAX_IN];
    bool cast_one = false;
    for (int k = 0; k < nin; k++) {
        x[k] = in[k];
        if (ci[k].label_max > 0 || (h->first && cast_one)) continue;
        cast_one = true;
        x[k] = clg_cast(g, in[k], h->to);
        if (h->f32) x[k] = clg_cast(g, x[k], CLG_ELEM_F32);
    }
    return h->c->build(g, x);
}

static clg_tensor build_half_f32(clg_graph *g, const clg_tensor *in, void *arg)
{
    half_arg h = *(const half_arg *)arg;
    h.f32 = true;
    return build_half(g, in, &h);
}

static void test_half(void **state)
{
    const op_case *c = *state;
    if (listed(c->ops, "clg_cast")) skip(); /* the casts' own cases: their inputs are chosen bits */
    /* does it take 16-bit tensors? */
    clg_context *ctx = open_ctx("reference");
    case_input in[CASE_MAX_IN];
    int nin = c->inputs(64, false, in);
    bool refused = true, first = false;
    for (int only_first = 0; refused && only_first < 2; only_first++) {
        clg_graph *g = NULL;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        clg_tensor t[CASE_MAX_IN];
        for (int k = 0; k < nin; k++)
            t[k] = in[k].label_max > 0 ? clg_labels(g, in[k].ndim, in[k].shape) : clg_input(g, in[k].ndim, in[k].shape);
        half_arg h = {c, CLG_ELEM_BF16, false, only_first};
        build_half(g, t, &h);
        refused = clg_graph_status(g) != CLG_OK;
        if (refused) ASSERT_MSG_HAS(ctx, "clg_cast it to float32 first");
        first = only_first;
        clg_graph_destroy(g);
    }
    clg_context_destroy(ctx);
    if (refused) skip();
    /* odd shapes: vectors and a tail; the larger in one type, for time;
     * aligned ones too (batch norm's planes in vectors, BN_PLANES) */
    static const struct {
        clg_elem to;
        int64_t n;
        bool aligned;
    } runs[] = {{CLG_ELEM_BF16, 1001, false}, {CLG_ELEM_BF16, 70001, false}, {CLG_ELEM_F16, 1001, false},
                {CLG_ELEM_BF16, 1001, true},  {CLG_ELEM_F16, 1001, true}};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        nin = c->inputs(runs[r].n, runs[r].aligned, in);
        case_tol tol = tol_of(c, in);
        char name[160];
        snprintf(name, sizeof name, "%s at n = %lld%s", c->name, (long long)runs[r].n, runs[r].aligned ? ", aligned" : "");
        half_arg a = {c, runs[r].to, false, first};
        gc_check_16(name, build_half, build_half_f32, &a, runs[r].to == CLG_ELEM_BF16, in, nin, &tol,
                    case_seed(c->name, 20 + (int)r));
    }
}

/* Public functions returning a tensor that are not ops, or that compose
 * ops which have cases: why each needs none of its own. */
static const char *const not_ops[][2] = {
    {"clg_graph_tensor", "looks a tensor up by index"},
    {"clg_tensor_find", "looks a tensor up by name"},
    {"clg_input", "a leaf"},
    {"clg_input_as", "a leaf (test_cast: 16-bit inputs against float32 ones cast)"},
    {"clg_param", "a leaf"},
    {"clg_constant", "a leaf"},
    {"clg_scalar", "a leaf"},
    {"clg_labels", "a leaf (softmax cross-entropy's case feeds one)"},
    {"clg_grad", "names a gradient backward made"},
    {"clg_linear_layer", "clg_param and clg_linear (core/layers.c)"},
    {"clg_conv2d_layer", "clg_param and clg_conv2d (core/layers.c)"},
    {"clg_batch_norm_layer", "clg_param and clg_batch_norm (core/layers.c)"},
};

static char **public_ops(int *count)
{
    FILE *f = fopen(header_path, "r");
    if (!f) fail_msg("cannot open %s", header_path);
    char line[512], **names = NULL;
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        static const char lead[] = "CLG_API clg_tensor clg_";
        if (strncmp(line, lead, sizeof lead - 1) != 0) continue;
        char *name = line + sizeof lead - 1 - 4, *paren = strchr(name, '(');
        assert_non_null(paren);
        *paren = '\0';
        names = realloc(names, (size_t)(n + 1) * sizeof *names);
        assert_non_null(names);
        names[n] = strdup(name);
        assert_non_null(names[n++]);
    }
    fclose(f);
    *count = n;
    return names;
}

static void test_every_op_has_a_case(void **state)
{
    (void)state;
    int n;
    char **names = public_ops(&n);
    if (n < 30) fail_msg("%s: only %d CLG_API functions returning clg_tensor found: is it clgrad.h?", header_path, n);
    int missing = 0;
    for (int i = 0; i < n; i++) {
        bool excused = false;
        for (size_t k = 0; k < sizeof not_ops / sizeof not_ops[0]; k++) excused |= strcmp(names[i], not_ops[k][0]) == 0;
        bool covered = false;
        for (size_t c = 0; c < case_count(); c++) covered |= listed(case_at(c)->ops, names[i]);
        if (!covered && !excused) {
            print_error("%s has no case in tests/cases/\n", names[i]);
            missing++;
        }
        if (covered && excused) {
            print_error("%s has a case but is listed as needing none\n", names[i]);
            missing++;
        }
    }
    /* and every function a case names is public */
    for (size_t c = 0; c < case_count(); c++) {
        char ops[256];
        snprintf(ops, sizeof ops, "%s", case_at(c)->ops);
        for (char *w = strtok(ops, " "); w; w = strtok(NULL, " ")) {
            bool found = false;
            for (int i = 0; i < n; i++) found |= strcmp(names[i], w) == 0;
            if (!found) {
                print_error("case '%s' names %s, which clgrad.h does not declare\n", case_at(c)->name, w);
                missing++;
            }
        }
        /* the name is a JSON string and a CSV field as it stands (clgrad-bench --list-cases, --csv) */
        if (strpbrk(case_at(c)->name, "\"\\\n") || strlen(case_at(c)->name) > 48) {
            print_error("case '%s': a name must be at most 48 characters, without quotes, backslashes or newlines\n",
                        case_at(c)->name);
            missing++;
        }
        for (size_t d = 0; d < c; d++)
            if (strcmp(case_at(c)->name, case_at(d)->name) == 0) {
                print_error("two cases are named '%s'\n", case_at(c)->name);
                missing++;
            }
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    assert_int_equal(missing, 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_cases CLGRAD_H [PATTERN]\n");
        return 2;
    }
    header_path = argv[1];
    if (argc > 2) cmocka_set_test_filter(argv[2]);
    const size_t n = case_count();
    struct CMUnitTest *tests = calloc(2 * n + 1, sizeof *tests);
    char **names = calloc(n + 1, sizeof *names);
    if (!tests || !names) return 1;
    tests[0] = (struct CMUnitTest)cmocka_unit_test(test_every_op_has_a_case);
    for (size_t i = 0; i < n; i++) {
        tests[i + 1] = (struct CMUnitTest){.name = case_at(i)->name, .test_func = test_devices,
                                           .initial_state = (void *)case_at(i)};
        size_t len = strlen(case_at(i)->name) + 16;
        names[i] = malloc(len);
        if (!names[i]) return 1;
        snprintf(names[i], len, "16-bit %s", case_at(i)->name);
        tests[n + i + 1] = (struct CMUnitTest){.name = names[i], .test_func = test_half,
                                               .initial_state = (void *)case_at(i)};
    }
    int failed = _cmocka_run_group_tests("cases", tests, 2 * n + 1, NULL, NULL);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(tests);
    return failed;
}
