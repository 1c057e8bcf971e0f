/*
 * A large JSON header parses with a logarithmic number of reallocations.
 * Growing the value array by a fixed step copied it quadratically (29 s
 * for a 2 MB safetensors header under AddressSanitizer); glibc's realloc
 * hides that in plain builds by moving large blocks with mremap, so the
 * test counts calls rather than time. Linked with -Wl,--wrap=realloc: every
 * realloc of the library and this program goes through the counter.
 */
#include "util.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_realloc(void *p, size_t n);
static long reallocs;
void *__wrap_realloc(void *p, size_t n)
{
    reallocs++;
    return __real_realloc(p, n);
}

/* A safetensors-like header: __metadata__ with `count` string members and
 * an array of `count` numbers, about 2 MB for count 100000. */
static char *big_header(int count, size_t *len)
{
    size_t cap = (size_t)count * 40 + 64, n = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    n += (size_t)snprintf(s + n, cap - n, "{\"__metadata__\":{");
    for (int i = 0; i < count; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s\"key%d\":\"value %d\"", i ? "," : "", i, i);
    n += (size_t)snprintf(s + n, cap - n, "},\"shape\":[");
    for (int i = 0; i < count; i++) n += (size_t)snprintf(s + n, cap - n, "%s%d", i ? "," : "", i);
    n += (size_t)snprintf(s + n, cap - n, "]}");
    assert_true(n < cap);
    *len = n;
    return s;
}

static void test_large_header(void **state)
{
    const int count = 100000;
    size_t len;
    char *doc = big_header(count, &len);
    assert_true(len > 2000000);
    const clg_json_limits lim = {16, 1 << 22};
    clg_json j;
    char err[256] = "";
    long before = reallocs;
    clg_status s = clg_json_parse(doc, len, &lim, &j, err, sizeof err);
    long used = reallocs - before;
    if (s != CLG_OK) fail_msg("%s", err);
    /* root, object, array, and their members */
    assert_int_equal(j.n, 3 + 2 * count);
    const clg_json_value *meta = &j.v[j.v[0].first], *shape = &j.v[meta->next];
    assert_int_equal(meta->count, count);
    assert_int_equal(shape->count, count);
    int32_t last = shape->first;
    while (j.v[last].next >= 0) last = j.v[last].next;
    assert_true(j.v[last].is_uint && j.v[last].u == (uint64_t)count - 1);
    /* doubling needs about 30 for the values and the string arena together;
     * a fixed step of 256 values needed about 800 */
    if (used > 64) fail_msg("%ld reallocations for %d values", used, j.n);
    clg_json_free(&j);
    free(doc);
}

/* The same header inside a safetensors file, through the public reader. */
static void test_large_safetensors_header(void **state)
{
    const int count = 100000;
    size_t hlen;
    char *head = big_header(count, &hlen);
    /* a safetensors header maps names to tensors: wrap the numbers in one */
    char *tail = strstr(head, ",\"shape\":[");
    assert_non_null(tail);
    const char *t = ",\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    strcpy(tail, t);
    hlen = strlen(head);
    unsigned char *file = malloc(8 + hlen + 4);
    assert_non_null(file);
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(file + 8, head, hlen);
    const float one = 1.0f;
    memcpy(file + 8 + hlen, &one, 4);
    clg_safetensors *st = NULL;
    char err[256] = "";
    long before = reallocs;
    if (clg_safetensors_read_mem(file, 8 + hlen + 4, &st, err, sizeof err) != CLG_OK) fail_msg("%s", err);
    long used = reallocs - before;
    assert_int_equal(clg_safetensors_count(st), 1);
    assert_int_equal(clg_meta_count(clg_safetensors_meta(st)), count);
    assert_string_equal(clg_meta_get(clg_safetensors_meta(st), "key99999"), "value 99999");
    /* the parse and the metadata map together, still logarithmic */
    if (used > 128) fail_msg("%ld reallocations for a %zu-byte header", used, hlen);
    clg_safetensors_destroy(st);
    free(file);
    free(head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_header),
        cmocka_unit_test(test_large_safetensors_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
