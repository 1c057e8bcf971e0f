/* Checkpoints: named tensors to safetensors and back, on the reference
 * backend and every OpenCL device; files as PyTorch's safetensors writes
 * them; every mismatch refused before anything changes; metadata for
 * optimizer state; the atomic-write guarantee; derived tensors beside the
 * graph's (clg_checkpoint_save_derived). */
#define _XOPEN_SOURCE 700
#include "data_util.h"

#include <math.h>

#define ASSERT_CTX_HAS(ctx, part) ASSERT_HAS(clg_context_errmsg(ctx), part)

typedef struct model {
    clg_graph *g;
    clg_tensor w, b, y, x;
} model;

/* w [3,4] and b [4] parameters, y [5] labels, all named; x unnamed. */
static model make_model(clg_context *ctx, uint64_t seed)
{
    model m;
    CHECK_OK(ctx, clg_graph_create(ctx, &m.g));
    const int64_t s34[2] = {3, 4}, s4[1] = {4}, s5[1] = {5}, s23[2] = {2, 3};
    m.w = clg_param(m.g, 2, s34);
    m.b = clg_param(m.g, 1, s4);
    m.y = clg_labels(m.g, 1, s5);
    m.x = clg_input(m.g, 2, s23);
    CHECK_OK(ctx, clg_tensor_set_name(m.g, m.w, "fc.weight"));
    CHECK_OK(ctx, clg_tensor_set_name(m.g, m.b, "fc.bias"));
    CHECK_OK(ctx, clg_tensor_set_name(m.g, m.y, "labels"));
    rng_t r = {seed};
    float w[12], b[4], x[6];
    int32_t y[5];
    rng_fill(&r, w, 12, 0.1, 2, false);
    rng_fill(&r, b, 4, 0.1, 2, false);
    rng_fill(&r, x, 6, 0.1, 2, false);
    for (int i = 0; i < 5; i++) y[i] = (int32_t)(rng_next(&r) % 10);
    CHECK_OK(ctx, clg_tensor_set(m.g, m.w, w, 12));
    CHECK_OK(ctx, clg_tensor_set(m.g, m.b, b, 4));
    CHECK_OK(ctx, clg_tensor_set(m.g, m.x, x, 6));
    CHECK_OK(ctx, clg_tensor_set_i32(m.g, m.y, y, 5));
    return m;
}

typedef struct values {
    float w[12], b[4], x[6];
    int32_t y[5];
} values;

static values get_values(clg_context *ctx, const model *m)
{
    values v;
    CHECK_OK(ctx, clg_tensor_get(m->g, m->w, v.w, 12));
    CHECK_OK(ctx, clg_tensor_get(m->g, m->b, v.b, 4));
    CHECK_OK(ctx, clg_tensor_get(m->g, m->x, v.x, 6));
    CHECK_OK(ctx, clg_tensor_get_i32(m->g, m->y, v.y, 5));
    return v;
}

static void roundtrip_on(const char *spec, const char *spec2)
{
    char dir[256], path[300];
    scratch_make(dir, sizeof dir);
    path_in(path, sizeof path, dir, "ck.safetensors");
    clg_context *ctx = open_ctx(spec), *ctx2 = open_ctx(spec2);
    model a = make_model(ctx, 1), b = make_model(ctx2, 2);
    const char *keys[2] = {"step", "schedule"}, *vals[2] = {"1234", "cosine:0.25"};
    CHECK_OK(ctx, clg_checkpoint_save(a.g, path, keys, vals, 2));
    values va = get_values(ctx, &a), vb_before = get_values(ctx2, &b);
    clg_meta *meta;
    CHECK_OK(ctx2, clg_checkpoint_load(b.g, path, &meta));
    values vb = get_values(ctx2, &b);
    assert_memory_equal(vb.w, va.w, sizeof va.w);
    assert_memory_equal(vb.b, va.b, sizeof va.b);
    assert_memory_equal(vb.y, va.y, sizeof va.y);
    assert_memory_equal(vb.x, vb_before.x, sizeof vb.x); /* unnamed: untouched */
    assert_int_equal(clg_meta_count(meta), 2);
    assert_string_equal(clg_meta_get(meta, "step"), "1234");
    assert_string_equal(clg_meta_get(meta, "schedule"), "cosine:0.25");
    clg_meta_destroy(meta);
    /* The file itself: F32 and I32 with the graph's shapes, nothing else. */
    char err[512];
    clg_safetensors *st;
    assert_int_equal(clg_safetensors_read(path, &st, err, sizeof err), CLG_OK);
    assert_int_equal(clg_safetensors_count(st), 3);
    const clg_array *w = clg_safetensors_find(st, "fc.weight"), *y = clg_safetensors_find(st, "labels");
    assert_true(w && w->type == CLG_ELEM_F32 && w->ndim == 2 && w->shape[0] == 3 && w->shape[1] == 4);
    assert_true(y && y->type == CLG_ELEM_I32 && y->ndim == 1 && y->shape[0] == 5);
    assert_memory_equal(w->data, va.w, sizeof va.w);
    clg_safetensors_destroy(st);
    /* Loading without asking for the metadata. */
    CHECK_OK(ctx2, clg_checkpoint_load(b.g, path, NULL));
    assert_int_equal(other_entries(dir, "ck.safetensors"), 0);
    clg_context_destroy(ctx);
    clg_context_destroy(ctx2);
    scratch_remove(dir);
}

static void test_roundtrip(void **state)
{
    (void)state;
    char specs[16][32];
    int n = test_opencl_devices(specs, 16);
    roundtrip_on("reference", "reference");
    for (int i = 0; i < n; i++) {
        roundtrip_on(specs[i], specs[i]);
        roundtrip_on("reference", specs[i]); /* a file is a file, whichever device wrote it */
    }
}

/* Python's safetensors (and so safetensors.torch.save_file) writes these
 * bytes for {"weight": [[1, 2], [3, 4]], "bias": [0.5, -1]} float32 with
 * metadata {"format": "pt"}. */
static const unsigned char python_st[184] =
    "\x98\x00\x00\x00\x00\x00\x00\x00"
    "{\"__metadata__\":{\"format\":\"pt\"},\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}   "
    "\x00\x00\x00?\x00\x00\x80\xbf\x00\x00\x80?\x00\x00\x00@\x00\x00@@\x00\x00\x80@";

static void test_pytorch_file(void **state)
{
    (void)state;
    char dir[256], path[300], mine[300];
    scratch_make(dir, sizeof dir);
    path_in(path, sizeof path, dir, "torch.safetensors");
    path_in(mine, sizeof mine, dir, "mine.safetensors");
    write_bytes(path, python_st, sizeof python_st);
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s22[2] = {2, 2}, s2[1] = {2};
    clg_tensor w = clg_param(g, 2, s22), b = clg_param(g, 1, s2);
    CHECK_OK(ctx, clg_tensor_set_name(g, w, "weight"));
    CHECK_OK(ctx, clg_tensor_set_name(g, b, "bias"));
    clg_meta *meta;
    CHECK_OK(ctx, clg_checkpoint_load(g, path, &meta));
    float wv[4], bv[2];
    CHECK_OK(ctx, clg_tensor_get(g, w, wv, 4));
    CHECK_OK(ctx, clg_tensor_get(g, b, bv, 2));
    const float want_w[4] = {1, 2, 3, 4}, want_b[2] = {0.5f, -1};
    assert_memory_equal(wv, want_w, sizeof wv);
    assert_memory_equal(bv, want_b, sizeof bv);
    assert_string_equal(clg_meta_get(meta, "format"), "pt");
    /* Saved again: byte for byte what Python writes. */
    CHECK_OK(ctx, clg_checkpoint_save_meta(g, mine, meta));
    size_t len;
    unsigned char *bytes = read_bytes(mine, &len);
    assert_int_equal(len, sizeof python_st);
    assert_memory_equal(bytes, python_st, len);
    free(bytes);
    clg_meta_destroy(meta);
    clg_context_destroy(ctx);
    scratch_remove(dir);
}

/* A file from a header (padded to 8) and data. */
static void write_st(const char *path, const char *header, const void *data, size_t dlen)
{
    size_t h = strlen(header), padded = (h + 7) / 8 * 8;
    unsigned char *b = malloc(8 + padded + dlen);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(b + 8, header, h);
    memset(b + 8 + h, ' ', padded - h);
    memcpy(b + 8 + padded, data, dlen);
    write_bytes(path, b, 8 + padded + dlen);
    free(b);
}

#define TENSOR(name, dtype, shape, a, b) \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #a "," #b "]}"

static void test_load_errors(void **state)
{
    (void)state;
    char dir[256], path[300];
    scratch_make(dir, sizeof dir);
    path_in(path, sizeof path, dir, "bad.safetensors");
    clg_context *ctx = open_ctx("reference");
    model m = make_model(ctx, 3);
    values before = get_values(ctx, &m);
    unsigned char data[256];
    for (int i = 0; i < 256; i++) data[i] = (unsigned char)(i + 1);
    static const struct {
        const char *header;
        size_t dlen;
        clg_status status;
        const char *part;
    } cases[] = {
        /* The last tensor in graph order is wrong: the first two, correct,
         * must not have been written. */
        {"{" TENSOR("fc.weight", "F32", "[3,4]", 0, 48) "," TENSOR("fc.bias", "F32", "[4]", 48, 64) ","
         TENSOR("labels", "I32", "[6]", 64, 88) "}", 88, CLG_ERR_SHAPE,
         "tensor 'labels' has shape [6] in the file, [5] in the graph"},
        {"{" TENSOR("fc.weight", "F32", "[4,3]", 0, 48) "," TENSOR("fc.bias", "F32", "[4]", 48, 64) ","
         TENSOR("labels", "I32", "[5]", 64, 84) "}", 84, CLG_ERR_SHAPE, "[4,3] in the file, [3,4] in the graph"},
        {"{" TENSOR("fc.weight", "F32", "[3,4]", 0, 48) "," TENSOR("fc.bias", "F32", "[4]", 48, 64) ","
         TENSOR("labels", "F32", "[5]", 64, 84) "}", 84, CLG_ERR_INVALID_ARGUMENT,
         "tensor 'labels' is F32 in the file, the graph holds I32"},
        {"{" TENSOR("fc.weight", "F64", "[3,4]", 0, 96) "," TENSOR("fc.bias", "F32", "[4]", 96, 112) ","
         TENSOR("labels", "I32", "[5]", 112, 132) "}", 132, CLG_ERR_INVALID_ARGUMENT, "is F64 in the file"},
        {"{" TENSOR("fc.weight", "F32", "[3,4]", 0, 48) "," TENSOR("labels", "I32", "[5]", 48, 68) "}", 68,
         CLG_ERR_NOT_FOUND, "graph tensor 'fc.bias' [4] is not in the file"},
        {"{" TENSOR("fc.weight", "F32", "[3,4]", 0, 48) "," TENSOR("fc.bias", "F32", "[4]", 48, 64) ","
         TENSOR("labels", "I32", "[5]", 64, 84) "," TENSOR("extra", "U8", "[1]", 84, 85) "}", 85,
         CLG_ERR_INVALID_ARGUMENT, "the file has tensor 'extra'"},
        {"{" TENSOR("fc.weight", "F32", "[3,4]", 0, 48) "," TENSOR("fc.bias", "F32", "[4]", 40, 56) ","
         TENSOR("labels", "I32", "[5]", 56, 76) "}", 76, CLG_ERR_INVALID_ARGUMENT, "overlap"},
        {"{" TENSOR("fc.weight", "F32", "[3,4]", 0, 48) "," TENSOR("fc.bias", "F32", "[4]", 48, 64) ","
         TENSOR("labels", "I32", "[5]", 64, 84) "}", 83, CLG_ERR_INVALID_ARGUMENT, "outside the 83 bytes"},
        {"{" TENSOR("fc.weight", "F32", "[3,4]", 0, 48) "," TENSOR("fc.bias", "F32", "[4]", 48, 64) ","
         TENSOR("labels", "I32", "[5]", 64, 84) "", 84, CLG_ERR_INVALID_ARGUMENT, "JSON"},
        {"{\"__metadata__\":{\"step\":3}," TENSOR("fc.weight", "F32", "[3,4]", 0, 48) "}", 48,
         CLG_ERR_INVALID_ARGUMENT, "not a string"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        write_st(path, cases[c].header, data, cases[c].dlen);
        clg_meta *meta = (clg_meta *)1;
        clg_status s = clg_checkpoint_load(m.g, path, &meta);
        if (s != cases[c].status)
            fail_msg("case %zu: %s, expected %s: %s", c, clg_status_string(s), clg_status_string(cases[c].status),
                     clg_context_errmsg(ctx));
        ASSERT_CTX_HAS(ctx, cases[c].part);
        ASSERT_CTX_HAS(ctx, "clg_checkpoint_load");
        ASSERT_CTX_HAS(ctx, path);
        assert_null(meta);
        values now = get_values(ctx, &m);
        assert_memory_equal(&now, &before, sizeof now);
    }
    /* Truncated in the length, or no file at all. */
    write_bytes(path, "\x10\x00\x00", 3);
    assert_int_equal(clg_checkpoint_load(m.g, path, NULL), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, "too short");
    path_in(path, sizeof path, dir, "missing.safetensors");
    assert_int_equal(clg_checkpoint_load(m.g, path, NULL), CLG_ERR_NOT_FOUND);
    ASSERT_CTX_HAS(ctx, "missing.safetensors");
    assert_int_equal(clg_checkpoint_load(m.g, NULL, NULL), CLG_ERR_INVALID_ARGUMENT);
    values now = get_values(ctx, &m);
    assert_memory_equal(&now, &before, sizeof now);
    clg_context_destroy(ctx);
    scratch_remove(dir);
}

static void test_save_errors(void **state)
{
    (void)state;
    char dir[256], path[300], sub[300];
    scratch_make(dir, sizeof dir);
    path_in(path, sizeof path, dir, "ck.safetensors");
    path_in(sub, sizeof sub, dir, "folder");
    clg_context *ctx = open_ctx("reference");
    model m = make_model(ctx, 4);
    CHECK_OK(ctx, clg_checkpoint_save(m.g, path, NULL, NULL, 0));
    size_t old_len;
    unsigned char *old = read_bytes(path, &old_len);

    const char *k2[2] = {"a", "a"}, *v2[2] = {"1", "2"}, *kempty[1] = {""}, *vbad[1] = {"\xff"};
    assert_int_equal(clg_checkpoint_save(m.g, path, k2, v2, 2), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, "metadata key 'a' is given twice");
    assert_int_equal(clg_checkpoint_save(m.g, path, kempty, v2, 1), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, "the key non-empty");
    assert_int_equal(clg_checkpoint_save(m.g, path, k2, vbad, 1), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, "UTF-8");
    assert_int_equal(clg_checkpoint_save(m.g, path, NULL, v2, 1), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, "keys NULL");
    assert_int_equal(clg_checkpoint_save(m.g, NULL, NULL, NULL, 0), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, "path is empty");
    /* The destination is a folder: refused, the folder stays, no
     * temporary file is left. */
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(clg_checkpoint_save(m.g, sub, NULL, NULL, 0), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, "clg_checkpoint_save");
    ASSERT_CTX_HAS(ctx, "is a folder");
    struct stat st;
    assert_true(stat(sub, &st) == 0 && S_ISDIR(st.st_mode));
    assert_int_equal(other_entries(dir, NULL), 2);
    /* None of this touched the good file. */
    size_t len;
    unsigned char *now = read_bytes(path, &len);
    assert_int_equal(len, old_len);
    assert_memory_equal(now, old, len);
    free(now);
    free(old);
    /* A destroyed graph. */
    clg_graph_destroy(m.g);
    assert_int_equal(clg_checkpoint_save(m.g, path, NULL, NULL, 0), CLG_ERR_STATE);
    assert_int_equal(clg_checkpoint_load(m.g, path, NULL), CLG_ERR_STATE);
    ASSERT_CTX_HAS(ctx, "clg_checkpoint_load: graph used after clg_graph_destroy");
    assert_int_equal(clg_checkpoint_save(NULL, path, NULL, NULL, 0), CLG_ERR_INVALID_ARGUMENT);
    clg_context_destroy(ctx);
    scratch_remove(dir);
}

/* Derived tensors (clg_checkpoint_save_derived): any dtype, saved beside
 * the graph's, listed in the metadata, skipped by both loaders; a file
 * with an unlisted extra tensor is still refused; bad names refused with
 * the file untouched. */
static void test_derived(void **state)
{
    (void)state;
    char dir[256], path[300];
    scratch_make(dir, sizeof dir);
    path_in(path, sizeof path, dir, "ck.safetensors");
    clg_context *ctx = open_ctx("reference");
    model m = make_model(ctx, 6);
    values before = get_values(ctx, &m);
    char err[256];
    const int64_t s34[2] = {3, 4}, s3[1] = {3};
    clg_array *q, *sc;
    assert_int_equal(clg_array_create(CLG_ELEM_I8, 2, s34, &q, err, sizeof err), CLG_OK);
    assert_int_equal(clg_array_create(CLG_ELEM_F32, 1, s3, &sc, err, sizeof err), CLG_OK);
    for (int i = 0; i < 12; i++) ((int8_t *)q->data)[i] = (int8_t)(i * 23 - 128);
    for (int i = 0; i < 3; i++) ((float *)sc->data)[i] = 0.5f + (float)i;
    const char *names[2] = {"fc.weight_int8", "fc.weight_scale"};
    const clg_array *arrays[2] = {q, sc};
    clg_meta *meta;
    assert_int_equal(clg_meta_create(&meta), CLG_OK);
    assert_int_equal(clg_meta_set(meta, "format", "test"), CLG_OK);
    CHECK_OK(ctx, clg_checkpoint_save_derived(m.g, path, meta, 2, names, arrays));
    clg_safetensors *st;
    assert_int_equal(clg_safetensors_read(path, &st, err, sizeof err), CLG_OK);
    assert_int_equal(clg_safetensors_count(st), 5);
    const clg_array *rq = clg_safetensors_find(st, "fc.weight_int8");
    assert_non_null(rq);
    assert_int_equal(rq->type, CLG_ELEM_I8);
    assert_memory_equal(rq->data, q->data, 12);
    assert_string_equal(clg_meta_get(clg_safetensors_meta(st), "clgrad.derived"), "fc.weight_int8,fc.weight_scale");
    assert_string_equal(clg_meta_get(clg_safetensors_meta(st), "format"), "test");
    clg_safetensors_destroy(st);
    /* both loaders skip them; the graph's tensors come back */
    CHECK_OK(ctx, clg_tensor_fill(m.g, m.w, 0.0f));
    CHECK_OK(ctx, clg_checkpoint_load(m.g, path, NULL));
    values after = get_values(ctx, &m);
    assert_memory_equal(after.w, before.w, sizeof before.w);
    int skipped = -1;
    CHECK_OK(ctx, clg_checkpoint_load_model(m.g, path, NULL, &skipped));
    assert_int_equal(skipped, 0);
    /* refusals, the file untouched */
    size_t old_len, len;
    unsigned char *old = read_bytes(path, &old_len);
    const char *clash[1] = {"fc.weight"}, *comma[1] = {"a,b"}, *twice[2] = {"x", "x"};
    const clg_array *one[1] = {sc}, *two[2] = {sc, sc};
    assert_int_equal(clg_checkpoint_save_derived(m.g, path, NULL, 1, clash, one), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, "derived tensor 'fc.weight' is a graph tensor's name");
    assert_int_equal(clg_checkpoint_save_derived(m.g, path, NULL, 1, comma, one), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, "without commas");
    assert_int_equal(clg_checkpoint_save_derived(m.g, path, NULL, 2, twice, two), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, "derived tensor 'x' is given twice");
    assert_int_equal(clg_meta_set(meta, "clgrad.derived", "y"), CLG_OK);
    assert_int_equal(clg_checkpoint_save_derived(m.g, path, meta, 1, twice, one), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, "the metadata already holds 'clgrad.derived'");
    assert_int_equal(clg_checkpoint_save_derived(m.g, path, NULL, -1, NULL, NULL), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, "-1 derived tensors");
    unsigned char *now = read_bytes(path, &len);
    assert_int_equal(len, old_len);
    assert_memory_equal(now, old, len);
    free(now);
    free(old);
    /* an extra tensor the metadata does not list is still refused */
    CHECK_OK(ctx, clg_checkpoint_save_derived(m.g, path, NULL, 2, names, arrays));
    clg_graph *g2;
    CHECK_OK(ctx, clg_graph_create(ctx, &g2));
    const int64_t s4[1] = {4};
    clg_tensor b2 = clg_param(g2, 1, s4);
    CHECK_OK(ctx, clg_tensor_set_name(g2, b2, "fc.bias"));
    assert_int_equal(clg_checkpoint_load(g2, path, NULL), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, "the file has tensor 'fc.weight'");
    clg_graph_destroy(g2);
    clg_meta_destroy(meta);
    clg_array_destroy(q);
    clg_array_destroy(sc);
    clg_graph_destroy(m.g);
    clg_context_destroy(ctx);
    scratch_remove(dir);
}

/* What an optimizer stores: step count, schedule position, generator
 * state, through the typed metadata calls. */
static void test_optimizer_metadata(void **state)
{
    (void)state;
    char dir[256], path[300];
    scratch_make(dir, sizeof dir);
    path_in(path, sizeof path, dir, "ck.safetensors");
    clg_context *ctx = open_ctx("reference");
    model m = make_model(ctx, 5);
    clg_meta *meta;
    assert_int_equal(clg_meta_create(&meta), CLG_OK);
    assert_int_equal(clg_meta_set_i64(meta, "optim.step", 987654321012LL), CLG_OK);
    assert_int_equal(clg_meta_set_f64(meta, "optim.lr", 0.1 * 3), CLG_OK);
    assert_int_equal(clg_meta_set_u64(meta, "rng.state", 0xFEDCBA9876543210ULL), CLG_OK);
    assert_int_equal(clg_meta_set(meta, "format", "pt"), CLG_OK);
    CHECK_OK(ctx, clg_checkpoint_save_meta(m.g, path, meta));
    clg_meta_destroy(meta);
    CHECK_OK(ctx, clg_checkpoint_load(m.g, path, &meta));
    int64_t step;
    double lr;
    uint64_t rng;
    assert_int_equal(clg_meta_get_i64(meta, "optim.step", &step), CLG_OK);
    assert_int_equal(clg_meta_get_f64(meta, "optim.lr", &lr), CLG_OK);
    assert_int_equal(clg_meta_get_u64(meta, "rng.state", &rng), CLG_OK);
    assert_true(step == 987654321012LL && lr == 0.1 * 3 && rng == 0xFEDCBA9876543210ULL);
    assert_int_equal(clg_meta_get_u64(meta, "optim.missing", &rng), CLG_ERR_NOT_FOUND);
    clg_meta_destroy(meta);
    clg_context_destroy(ctx);
    scratch_remove(dir);
}

/* A training checkpoint (Adam's state beside the parameters) into a graph
 * of the model alone at another batch size: clg_checkpoint_load refuses
 * the optimizer's tensors, clg_checkpoint_load_model skips them (and says
 * how many) and stays strict about the rest. */
static void model_only_on(const char *spec)
{
    char dir[256], path[300];
    scratch_make(dir, sizeof dir);
    path_in(path, sizeof path, dir, "train.safetensors");
    clg_context *ctx = open_ctx(spec);
    clg_graph *g[2];
    clg_tensor w[2], b[2];
    const int64_t ws[2] = {4, 3}, bs = 4, xs[2][2] = {{2, 3}, {5, 3}};
    for (int k = 0; k < 2; k++) {
        CHECK_OK(ctx, clg_graph_create(ctx, &g[k]));
        clg_tensor x = clg_input(g[k], 2, xs[k]);
        w[k] = clg_param(g[k], 2, ws);
        b[k] = clg_param(g[k], 1, &bs);
        CHECK_OK(ctx, clg_tensor_set_name(g[k], w[k], "fc.weight"));
        CHECK_OK(ctx, clg_tensor_set_name(g[k], b[k], "fc.bias"));
        clg_tensor y = clg_linear(g[k], x, w[k], b[k]);
        if (k == 0) { /* the training graph */
            clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_ADAM);
            CHECK_OK(ctx, clg_backward(g[k], clg_mean(g[k], clg_square(g[k], y))));
            CHECK_OK(ctx, clg_optimizer(g[k], &cfg));
            float xv[6];
            rng_t r = {11};
            rng_fill(&r, xv, 6, 0.1, 2, false);
            CHECK_OK(ctx, clg_tensor_set(g[k], x, xv, 6));
            CHECK_OK(ctx, clg_init_kaiming_uniform(g[k], w[k], 3));
            for (int s = 0; s < 2; s++) CHECK_OK(ctx, clg_graph_run(g[k], CLG_RUN_ALL));
        }
        CHECK_OK(ctx, clg_graph_status(g[k]));
    }
    CHECK_OK(ctx, clg_checkpoint_save(g[0], path, NULL, NULL, 0));
    float before[12], got[12], want[12];
    CHECK_OK(ctx, clg_tensor_get(g[1], w[1], before, 12));
    assert_int_equal(clg_checkpoint_load(g[1], path, NULL), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, ".exp_avg");
    int skipped = -1;
    CHECK_OK(ctx, clg_checkpoint_load_model(g[1], path, NULL, &skipped));
    assert_int_equal(skipped, 4); /* exp_avg and exp_avg_sq of two parameters */
    CHECK_OK(ctx, clg_tensor_get(g[0], w[0], want, 12));
    CHECK_OK(ctx, clg_tensor_get(g[1], w[1], got, 12));
    assert_memory_equal(got, want, sizeof got);
    /* anything else unknown is still refused, and changes nothing */
    clg_tensor extra = clg_input(g[0], 1, &bs);
    CHECK_OK(ctx, clg_tensor_set_name(g[0], extra, "fc.weight.unknown"));
    CHECK_OK(ctx, clg_checkpoint_save(g[0], path, NULL, NULL, 0));
    CHECK_OK(ctx, clg_tensor_set(g[1], w[1], before, 12));
    assert_int_equal(clg_checkpoint_load_model(g[1], path, NULL, &skipped), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_CTX_HAS(ctx, "fc.weight.unknown");
    CHECK_OK(ctx, clg_tensor_get(g[1], w[1], got, 12));
    assert_memory_equal(got, before, sizeof got);
    clg_context_destroy(ctx);
    scratch_remove(dir);
}

static void test_model_only(void **state)
{
    (void)state;
    for_each_device(model_only_on);
}

/* Python's safetensors (and PyTorch through it, when installed) reads our
 * checkpoint, and we read what it writes. Skipped without the module. */
static void test_python_roundtrip(void **state)
{
    (void)state;
    const char *py = python_with("safetensors.numpy, numpy");
    if (!py) skip();
    char dir[256], path[300], back[300], cmd[4096];
    scratch_make(dir, sizeof dir);
    path_in(path, sizeof path, dir, "ours.safetensors");
    path_in(back, sizeof back, dir, "theirs.safetensors");
    clg_context *ctx = open_ctx("reference");
    model m = make_model(ctx, 6);
    values v = get_values(ctx, &m);
    const char *keys[1] = {"step"}, *vals[1] = {"41"};
    CHECK_OK(ctx, clg_checkpoint_save(m.g, path, keys, vals, 1));
    char wlist[512] = "", ylist[128] = "";
    for (int i = 0; i < 12; i++)
        snprintf(wlist + strlen(wlist), sizeof wlist - strlen(wlist), "%s%.9g", i ? "," : "", (double)v.w[i]);
    for (int i = 0; i < 5; i++) snprintf(ylist + strlen(ylist), sizeof ylist - strlen(ylist), "%s%d", i ? "," : "", v.y[i]);
    snprintf(cmd, sizeof cmd,
             "%s -c 'import sys, numpy as np\n"
             "from safetensors import safe_open\n"
             "from safetensors.numpy import load_file, save_file\n"
             "t = load_file(sys.argv[1])\n"
             "assert sorted(t) == [\"fc.bias\", \"fc.weight\", \"labels\"], t\n"
             "assert t[\"fc.weight\"].dtype == np.float32 and t[\"fc.weight\"].shape == (3, 4)\n"
             "assert (t[\"fc.weight\"].ravel() == np.array([%s], np.float32)).all()\n"
             "assert t[\"labels\"].dtype == np.int32 and (t[\"labels\"] == [%s]).all()\n"
             "with safe_open(sys.argv[1], \"np\") as f: assert f.metadata() == {\"step\": \"41\"}, f.metadata()\n"
             "try:\n"
             "    import torch, safetensors.torch\n"
             "    tt = safetensors.torch.load_file(sys.argv[1])\n"
             "    assert tt[\"fc.weight\"].dtype == torch.float32 and tt[\"labels\"].dtype == torch.int32\n"
             "except ImportError:\n"
             "    pass\n"
             "t = {k: (a * 2).astype(a.dtype) for k, a in t.items()}\n"
             "save_file(t, sys.argv[2], metadata={\"step\": \"42\"})\n"
             "' %s %s",
             py, wlist, ylist, path, back);
    assert_int_equal(system(cmd), 0);
    clg_meta *meta;
    CHECK_OK(ctx, clg_checkpoint_load(m.g, back, &meta));
    values v2 = get_values(ctx, &m);
    for (int i = 0; i < 12; i++) assert_true(v2.w[i] == v.w[i] * 2);
    for (int i = 0; i < 4; i++) assert_true(v2.b[i] == v.b[i] * 2);
    for (int i = 0; i < 5; i++) assert_int_equal(v2.y[i], v.y[i] * 2);
    assert_string_equal(clg_meta_get(meta, "step"), "42");
    clg_meta_destroy(meta);
    clg_context_destroy(ctx);
    scratch_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),        cmocka_unit_test(test_pytorch_file),
        cmocka_unit_test(test_load_errors),      cmocka_unit_test(test_save_errors),
        cmocka_unit_test(test_optimizer_metadata), cmocka_unit_test(test_python_roundtrip),
        cmocka_unit_test(test_model_only),       cmocka_unit_test(test_derived),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
