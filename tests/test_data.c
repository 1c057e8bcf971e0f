/* Data files and the loader: IDX (plain, gzip), .npy, safetensors, the JSON
 * parser under it, metadata maps, atomic writes, array conversion, and
 * mini-batches (shuffle determinism, partial batches, normalisation).
 * Every reader's validation errors are checked by status and message. */
#define _XOPEN_SOURCE 700
#include "data_util.h"

#include "data.h"
#include "json.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

static char err[1024];

#define EXPECT_FAIL(call, status, part)                                                            \
    do {                                                                                           \
        err[0] = '\0';                                                                             \
        clg_status st_ = (call);                                                                   \
        if (st_ != (status))                                                                       \
            fail_msg("%s gave %s, expected %s (%s)", #call, clg_status_string(st_),                \
                     clg_status_string(status), err);                                              \
        ASSERT_HAS(err, part);                                                                     \
    } while (0)

#define EXPECT_OK(call)                                                                            \
    do {                                                                                           \
        clg_status st_ = (call);                                                                   \
        if (st_ != CLG_OK) fail_msg("%s gave %s: %s", #call, clg_status_string(st_), err);         \
    } while (0)

/* ---- IDX ---- */

/* An IDX file: header with big-endian dims, then payload as given. */
static unsigned char *idx_bytes(unsigned type, int ndim, const uint32_t *dims, const void *payload, size_t plen,
                                size_t *len)
{
    *len = 4 + 4 * (size_t)ndim + plen;
    unsigned char *b = malloc(*len);
    b[0] = b[1] = 0;
    b[2] = (unsigned char)type;
    b[3] = (unsigned char)ndim;
    for (int d = 0; d < ndim; d++)
        for (int k = 0; k < 4; k++) b[4 + 4 * d + k] = (unsigned char)(dims[d] >> (24 - 8 * k));
    if (plen) memcpy(b + 4 + 4 * ndim, payload, plen);
    return b;
}

static void test_idx_u8(void **state)
{
    (void)state;
    unsigned char px[24];
    for (int i = 0; i < 24; i++) px[i] = (unsigned char)(i * 11);
    const uint32_t dims[3] = {2, 3, 4};
    size_t len;
    unsigned char *b = idx_bytes(0x08, 3, dims, px, 24, &len);
    char dir[256], path[300];
    scratch_make(dir, sizeof dir);
    path_in(path, sizeof path, dir, "x.idx");
    write_bytes(path, b, len);
    for (int from_file = 0; from_file < 2; from_file++) {
        clg_array *a;
        EXPECT_OK(from_file ? clg_idx_read(path, &a, err, sizeof err) : clg_idx_read_mem(b, len, &a, err, sizeof err));
        assert_int_equal(a->type, CLG_ELEM_U8);
        assert_int_equal(a->ndim, 3);
        assert_int_equal(a->shape[0], 2);
        assert_int_equal(a->shape[1], 3);
        assert_int_equal(a->shape[2], 4);
        assert_int_equal(a->numel, 24);
        assert_memory_equal(a->data, px, 24);
        clg_array_destroy(a);
    }
    free(b);
    scratch_remove(dir);
}

/* Every IDX type, big-endian in the file, native in memory. */
static void test_idx_types(void **state)
{
    (void)state;
    const uint32_t dims[1] = {2};
    size_t len;
    clg_array *a;
    struct {
        unsigned code;
        clg_elem type;
        unsigned char payload[16];
        size_t plen;
        double v0, v1;
    } cases[] = {
        {0x09, CLG_ELEM_I8, {0xff, 0x05}, 2, -1, 5},
        {0x0B, CLG_ELEM_I16, {0xff, 0xfe, 0x01, 0x00}, 4, -2, 256},
        {0x0C, CLG_ELEM_I32, {0xff, 0xff, 0xff, 0xfd, 0x00, 0x01, 0x00, 0x00}, 8, -3, 65536},
        {0x0D, CLG_ELEM_F32, {0x3f, 0xc0, 0, 0, 0xc1, 0x20, 0, 0}, 8, 1.5, -10},
        {0x0E, CLG_ELEM_F64, {0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18, 0xbf, 0xf0, 0, 0, 0, 0, 0, 0}, 16,
         3.141592653589793, -1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char *b = idx_bytes(cases[c].code, 1, dims, cases[c].payload, cases[c].plen, &len);
        EXPECT_OK(clg_idx_read_mem(b, len, &a, err, sizeof err));
        assert_int_equal(a->type, cases[c].type);
        clg_array *f;
        EXPECT_OK(clg_array_convert(a, CLG_ELEM_F64, &f, err, sizeof err));
        const double *v = f->data;
        assert_true(v[0] == cases[c].v0 && v[1] == cases[c].v1);
        clg_array_destroy(f);
        clg_array_destroy(a);
        free(b);
    }
}

static void test_idx_gzip(void **state)
{
    (void)state;
    enum { N = 5, H = 7, W = 9 };
    unsigned char px[N * H * W];
    for (int i = 0; i < N * H * W; i++) px[i] = (unsigned char)(i * 37 + 3);
    const uint32_t dims[3] = {N, H, W};
    size_t len, zlen;
    unsigned char *b = idx_bytes(0x08, 3, dims, px, sizeof px, &len);
    unsigned char *z = gzip_mem(b, len, &zlen);
    char dir[256], path[300];
    scratch_make(dir, sizeof dir);
    path_in(path, sizeof path, dir, "x.idx.gz");
    write_bytes(path, z, zlen);
    for (int from_file = 0; from_file < 2; from_file++) {
        clg_array *a;
        EXPECT_OK(from_file ? clg_idx_read(path, &a, err, sizeof err) : clg_idx_read_mem(z, zlen, &a, err, sizeof err));
        assert_int_equal(a->ndim, 3);
        assert_int_equal(a->shape[2], W);
        assert_memory_equal(a->data, px, sizeof px);
        clg_array_destroy(a);
    }
    /* Two gzip members, as `cat a.gz b.gz` makes: one stream. */
    size_t z1, z2;
    unsigned char *m1 = gzip_mem(b, 40, &z1), *m2 = gzip_mem(b + 40, len - 40, &z2);
    unsigned char *cat = malloc(z1 + z2);
    memcpy(cat, m1, z1);
    memcpy(cat + z1, m2, z2);
    write_bytes(path, cat, z1 + z2);
    for (int from_file = 0; from_file < 2; from_file++) {
        clg_array *a;
        EXPECT_OK(from_file ? clg_idx_read(path, &a, err, sizeof err)
                            : clg_idx_read_mem(cat, z1 + z2, &a, err, sizeof err));
        assert_memory_equal(a->data, px, sizeof px);
        clg_array_destroy(a);
    }
    /* Truncated compressed data: an error, in memory and from a file. */
    write_bytes(path, z, zlen - 9);
    clg_array *a;
    EXPECT_FAIL(clg_idx_read_mem(z, zlen - 9, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "truncated");
    EXPECT_FAIL(clg_idx_read(path, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "truncated");
    assert_null(a);
    /* Corrupt deflate data (a flipped byte in the middle, or in the CRC). */
    unsigned char *bad = malloc(zlen);
    memcpy(bad, z, zlen);
    bad[zlen - 6] ^= 0x55; /* CRC-32 of the trailer */
    write_bytes(path, bad, zlen);
    EXPECT_FAIL(clg_idx_read_mem(bad, zlen, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "corrupt gzip");
    EXPECT_FAIL(clg_idx_read(path, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "gzip data unreadable");
    /* The header lies about the decompressed size, both ways. */
    const uint32_t more[3] = {N + 1, H, W}, fewer[3] = {N - 1, H, W};
    size_t llen, lz;
    unsigned char *lie = idx_bytes(0x08, 3, more, px, sizeof px, &llen);
    unsigned char *lzb = gzip_mem(lie, llen, &lz);
    write_bytes(path, lzb, lz);
    EXPECT_FAIL(clg_idx_read(path, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "decompressed input has 315 bytes");
    ASSERT_HAS(err, "truncated");
    EXPECT_FAIL(clg_idx_read_mem(lzb, lz, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "truncated");
    free(lie);
    free(lzb);
    lie = idx_bytes(0x08, 3, fewer, px, sizeof px, &llen);
    lzb = gzip_mem(lie, llen, &lz);
    write_bytes(path, lzb, lz);
    EXPECT_FAIL(clg_idx_read(path, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "trailing data");
    EXPECT_FAIL(clg_idx_read_mem(lzb, lz, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "trailing data");
    free(lie);
    free(lzb);
    free(bad);
    free(cat);
    free(m1);
    free(m2);
    free(z);
    free(b);
    scratch_remove(dir);
}

static void test_idx_errors(void **state)
{
    (void)state;
    clg_array *a = (clg_array *)1;
    unsigned char px[6] = {1, 2, 3, 4, 5, 6};
    const uint32_t d23[2] = {2, 3};
    size_t len;
    unsigned char *b = idx_bytes(0x08, 2, d23, px, 6, &len);
    EXPECT_FAIL(clg_idx_read_mem(b, 3, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "too short");
    assert_null(a);
    EXPECT_FAIL(clg_idx_read_mem(b, 9, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "truncated header");
    EXPECT_FAIL(clg_idx_read_mem(b, len - 1, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "truncated");
    ASSERT_HAS(err, "u8 [2,3]");
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, b, len);
    longer[len] = 7;
    EXPECT_FAIL(clg_idx_read_mem(longer, len + 1, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "trailing data");
    free(longer);
    b[0] = 1;
    EXPECT_FAIL(clg_idx_read_mem(b, len, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "not an IDX file");
    b[0] = 0;
    b[2] = 0x0A;
    EXPECT_FAIL(clg_idx_read_mem(b, len, &a, err, sizeof err), CLG_ERR_UNSUPPORTED, "unknown IDX element type 0x0a");
    b[2] = 0x08;
    b[3] = 0;
    EXPECT_FAIL(clg_idx_read_mem(b, len, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "0 dimensions");
    b[3] = 9;
    EXPECT_FAIL(clg_idx_read_mem(b, len, &a, err, sizeof err), CLG_ERR_UNSUPPORTED, "9 dimensions");
    free(b);
    /* Absurd dimensions: refused from the sizes alone. Allocating what the
     * header claims (2^46 bytes here, then more than 2^63) would fail with
     * CLG_ERR_OUT_OF_MEMORY instead. */
    const uint32_t huge[3] = {1u << 16, 1u << 15, 1u << 15}, overflow[4] = {~0u, ~0u, ~0u, ~0u};
    b = idx_bytes(0x0E, 3, huge, px, 6, &len);
    EXPECT_FAIL(clg_idx_read_mem(b, len, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "562949953421312 bytes of data");
    ASSERT_HAS(err, "truncated");
    size_t zlen;
    unsigned char *z = gzip_mem(b, len, &zlen);
    EXPECT_FAIL(clg_idx_read_mem(z, zlen, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "truncated");
    free(z);
    free(b);
    b = idx_bytes(0x08, 4, overflow, px, 6, &len);
    EXPECT_FAIL(clg_idx_read_mem(b, len, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "more than 2^63");
    free(b);
    /* Files: missing, a folder. */
    EXPECT_FAIL(clg_idx_read("/nonexistent/clgrad.idx", &a, err, sizeof err), CLG_ERR_NOT_FOUND, "/nonexistent/clgrad.idx");
    EXPECT_FAIL(clg_idx_read("/tmp", &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "not a regular file");
    EXPECT_FAIL(clg_idx_read(NULL, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "path is NULL");
    /* Zero-sized dimensions are a valid empty array. */
    const uint32_t d0[2] = {0, 5};
    b = idx_bytes(0x08, 2, d0, NULL, 0, &len);
    EXPECT_OK(clg_idx_read_mem(b, len, &a, err, sizeof err));
    assert_int_equal(a->numel, 0);
    clg_array_destroy(a);
    free(b);
}

#define FASHION "/usr/share/datasets/fashion-mnist"

static void test_idx_fashion_mnist(void **state)
{
    (void)state;
    if (access(FASHION "/train-labels-idx1-ubyte.gz", R_OK) != 0) skip();
    clg_array *x, *y, *tx, *ty;
    EXPECT_OK(clg_idx_read(FASHION "/train-images-idx3-ubyte.gz", &x, err, sizeof err));
    EXPECT_OK(clg_idx_read(FASHION "/train-labels-idx1-ubyte.gz", &y, err, sizeof err));
    EXPECT_OK(clg_idx_read(FASHION "/t10k-images-idx3-ubyte.gz", &tx, err, sizeof err));
    EXPECT_OK(clg_idx_read(FASHION "/t10k-labels-idx1-ubyte.gz", &ty, err, sizeof err));
    assert_int_equal(x->ndim, 3);
    assert_int_equal(x->shape[0], 60000);
    assert_int_equal(x->shape[1], 28);
    assert_int_equal(x->shape[2], 28);
    assert_int_equal(y->shape[0], 60000);
    assert_int_equal(tx->shape[0], 10000);
    assert_int_equal(ty->shape[0], 10000);
    /* The first labels of each split, and the first image's pixel sum, as
     * Python's gzip module reads them. */
    const unsigned char train_first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5}, test_first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    assert_memory_equal(y->data, train_first, 10);
    assert_memory_equal(ty->data, test_first, 10);
    long sum = 0;
    for (int i = 0; i < 784; i++) sum += ((unsigned char *)x->data)[i];
    assert_int_equal(sum, 76247);
    int counts[10] = {0};
    for (int i = 0; i < 60000; i++) {
        unsigned l = ((unsigned char *)y->data)[i];
        assert_true(l < 10);
        counts[l]++;
    }
    for (int c = 0; c < 10; c++) assert_int_equal(counts[c], 6000);
    clg_array_destroy(x);
    clg_array_destroy(y);
    clg_array_destroy(tx);
    clg_array_destroy(ty);
}

/* ---- .npy ---- */

static void test_npy_roundtrip(void **state)
{
    (void)state;
    char dir[256], path[300];
    scratch_make(dir, sizeof dir);
    path_in(path, sizeof path, dir, "a.npy");
    const clg_elem types[] = {CLG_ELEM_F32, CLG_ELEM_U8, CLG_ELEM_I32, CLG_ELEM_I64, CLG_ELEM_F64, CLG_ELEM_I16,
                              CLG_ELEM_U16, CLG_ELEM_F16, CLG_ELEM_I8,  CLG_ELEM_U32, CLG_ELEM_U64, CLG_ELEM_BOOL};
    const int64_t shapes[][3] = {{0}, {7}, {3, 5}, {2, 0, 4}, {17, 3, 1}};
    const int ndims[] = {0, 1, 2, 3, 3};
    rng_t r = {77};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        for (size_t s = 0; s < sizeof ndims / sizeof ndims[0]; s++) {
            clg_array *a, *back;
            EXPECT_OK(clg_array_create(types[t], ndims[s], shapes[s], &a, err, sizeof err));
            unsigned char *p = a->data;
            for (size_t k = 0; k < clg_array_bytes(a); k++)
                p[k] = types[t] == CLG_ELEM_BOOL ? (unsigned char)(rng_next(&r) & 1) : (unsigned char)rng_next(&r);
            EXPECT_OK(clg_npy_write(path, a, err, sizeof err));
            EXPECT_OK(clg_npy_read(path, &back, err, sizeof err));
            assert_int_equal(back->type, a->type);
            assert_int_equal(back->ndim, a->ndim);
            assert_memory_equal(back->shape, a->shape, sizeof a->shape);
            assert_int_equal(back->numel, a->numel);
            if (a->numel) assert_memory_equal(back->data, a->data, clg_array_bytes(a));
            size_t len;
            unsigned char *file = read_bytes(path, &len);
            assert_int_equal((len - clg_array_bytes(a)) % 64, 0); /* data 64-aligned, as numpy does */
            free(file);
            clg_array_destroy(back);
            clg_array_destroy(a);
        }
    assert_int_equal(other_entries(dir, "a.npy"), 0);
    clg_array bf = {.type = CLG_ELEM_BF16, .ndim = 1, .shape = {1}, .numel = 1, .data = &(uint16_t){0}};
    EXPECT_FAIL(clg_npy_write(path, &bf, err, sizeof err), CLG_ERR_UNSUPPORTED, "numpy has no bf16");
    clg_array lie = {.type = CLG_ELEM_F32, .ndim = 1, .shape = {4}, .numel = 3, .data = &(float[4]){0}};
    EXPECT_FAIL(clg_npy_write(path, &lie, err, sizeof err), CLG_ERR_SHAPE, "numel is 3 but shape [4] has 4");
    scratch_remove(dir);
}

/* What numpy 2.x writes for np.save(f, np.array([[1,2,3],[4,5,6]], np.float32)),
 * byte for byte. */
static const char numpy_dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

static void numpy_file(unsigned char *b, size_t *len)
{
    memcpy(b, "\x93NUMPY\x01\x00\x76\x00", 10);
    memset(b + 10, ' ', 118);
    memcpy(b + 10, numpy_dict, sizeof numpy_dict - 1);
    b[127] = '\n';
    const float v[6] = {1, 2, 3, 4, 5, 6};
    memcpy(b + 128, v, sizeof v); /* little-endian host, as the suite's machines */
    *len = 128 + sizeof v;
}

static void test_npy_numpy_bytes(void **state)
{
    (void)state;
    if (!clg_host_is_little_endian()) skip();
    unsigned char b[256];
    size_t len;
    numpy_file(b, &len);
    clg_array *a;
    EXPECT_OK(clg_npy_read_mem(b, len, &a, err, sizeof err));
    assert_int_equal(a->type, CLG_ELEM_F32);
    assert_int_equal(a->ndim, 2);
    assert_int_equal(a->shape[1], 3);
    assert_true(((float *)a->data)[5] == 6.0f);
    unsigned char *mine;
    size_t mlen;
    EXPECT_OK(clg_npy_write_mem(a, &mine, &mlen, err, sizeof err));
    assert_int_equal(mlen, len);
    assert_memory_equal(mine, b, len);
    free(mine);
    clg_array_destroy(a);

    /* Format 2.0 with a big-endian int32 (numpy.lib.format.write_array(...,
     * version=(2, 0)) of np.array([1, -2, 3], '>i4')). */
    unsigned char v2[140];
    memcpy(v2, "\x93NUMPY\x02\x00\x74\x00\x00\x00", 12);
    memset(v2 + 12, ' ', 116);
    const char d2[] = "{'descr': '>i4', 'fortran_order': False, 'shape': (3,), }";
    memcpy(v2 + 12, d2, sizeof d2 - 1);
    v2[127] = '\n';
    memcpy(v2 + 128, "\x00\x00\x00\x01\xff\xff\xff\xfe\x00\x00\x00\x03", 12);
    EXPECT_OK(clg_npy_read_mem(v2, sizeof v2, &a, err, sizeof err));
    assert_int_equal(a->type, CLG_ELEM_I32);
    const int32_t *iv = a->data;
    assert_true(a->ndim == 1 && iv[0] == 1 && iv[1] == -2 && iv[2] == 3);
    clg_array_destroy(a);
}

/* A .npy with the given header text (a newline is appended) and data. */
static size_t npy_with(unsigned char *b, const char *dict, const void *data, size_t dlen)
{
    size_t h = strlen(dict) + 1;
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)h;
    b[9] = (unsigned char)(h >> 8);
    memcpy(b + 10, dict, h - 1);
    b[10 + h - 1] = '\n';
    memcpy(b + 10 + h, data, dlen);
    return 10 + h + dlen;
}

static void test_npy_errors(void **state)
{
    (void)state;
    unsigned char b[512];
    const float v[6] = {1, 2, 3, 4, 5, 6};
    clg_array *a = (clg_array *)1;
    size_t len;
#define NPY_FAIL(dict, dlen, status, part)                                                         \
    do {                                                                                           \
        len = npy_with(b, dict, v, dlen);                                                          \
        EXPECT_FAIL(clg_npy_read_mem(b, len, &a, err, sizeof err), status, part);                  \
        assert_null(a);                                                                            \
    } while (0)
    NPY_FAIL("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, CLG_ERR_UNSUPPORTED, "fortran_order is True");
    NPY_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, CLG_ERR_INVALID_ARGUMENT, "truncated");
    NPY_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24 - 4, CLG_ERR_INVALID_ARGUMENT, "(24 bytes)");
    NPY_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 24, CLG_ERR_INVALID_ARGUMENT, "trailing data");
    NPY_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", 24, CLG_ERR_INVALID_ARGUMENT, "not a tuple");
    NPY_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }", 24, CLG_ERR_INVALID_ARGUMENT, "ints >= 0");
    NPY_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (06,), }", 24, CLG_ERR_INVALID_ARGUMENT, "ints >= 0");
    NPY_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 24, CLG_ERR_INVALID_ARGUMENT, "ints >= 0");
    NPY_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 24, CLG_ERR_INVALID_ARGUMENT, "more than 2^63 bytes");
    NPY_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,6), }", 24, CLG_ERR_UNSUPPORTED, "dimensions");
    NPY_FAIL("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", 24, CLG_ERR_UNSUPPORTED, "unsupported descr '<c8'");
    NPY_FAIL("{'descr': '|f4', 'fortran_order': False, 'shape': (6,), }", 24, CLG_ERR_UNSUPPORTED, "'|f4'");
    NPY_FAIL("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", 24, CLG_ERR_UNSUPPORTED, "structured");
    NPY_FAIL("{'descr': '<f4', 'shape': (6,), }", 24, CLG_ERR_INVALID_ARGUMENT, "missing key fortran_order");
    NPY_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", 24, CLG_ERR_INVALID_ARGUMENT, "unexpected key x");
    NPY_FAIL("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", 24, CLG_ERR_INVALID_ARGUMENT, "repeated key descr");
    NPY_FAIL("{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", 24, CLG_ERR_INVALID_ARGUMENT, "not True or False");
    NPY_FAIL("{'descr': '<f4', 'fortran_order': Falsey, 'shape': (6,)}", 24, CLG_ERR_INVALID_ARGUMENT, "not True or False");
    NPY_FAIL("{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}", 24, CLG_ERR_INVALID_ARGUMENT, "',' or '}' missing");
    NPY_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} 7", 24, CLG_ERR_INVALID_ARGUMENT, "text after the dict");
    NPY_FAIL("['descr', '<f4']", 24, CLG_ERR_INVALID_ARGUMENT, "not a Python dict");
    NPY_FAIL("{'d\\x65scr': '<f4', 'fortran_order': False, 'shape': (6,)}", 24, CLG_ERR_INVALID_ARGUMENT, "quoted string");
    NPY_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }\xc3\xa9", 24, CLG_ERR_INVALID_ARGUMENT, "not ASCII");
    unsigned char two[2] = {1, 2};
    len = npy_with(b, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", two, 2);
    EXPECT_FAIL(clg_npy_read_mem(b, len, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "bool element 1 is 2");

    const char *good = "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }";
    len = npy_with(b, good, v, 24);
    EXPECT_OK(clg_npy_read_mem(b, len, &a, err, sizeof err));
    clg_array_destroy(a);
    b[10 + strlen(good)] = 'x'; /* the newline ending the header */
    EXPECT_FAIL(clg_npy_read_mem(b, len, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "newline");
    b[6] = 3;
    EXPECT_FAIL(clg_npy_read_mem(b, len, &a, err, sizeof err), CLG_ERR_UNSUPPORTED, "version 3.0");
    b[6] = 1;
    b[8] = 0xff; /* header length past the end */
    EXPECT_FAIL(clg_npy_read_mem(b, len, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "truncated header");
    b[0] = 'N';
    EXPECT_FAIL(clg_npy_read_mem(b, len, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "not a .npy file");
    EXPECT_FAIL(clg_npy_read_mem(b, 7, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "not a .npy file");
    /* 2.0 with an absurd header length. */
    memcpy(b, "\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12);
    EXPECT_FAIL(clg_npy_read_mem(b, 64, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "header length 2147483647");
    EXPECT_FAIL(clg_npy_read("/nonexistent/a.npy", &a, err, sizeof err), CLG_ERR_NOT_FOUND, "No such file");
#undef NPY_FAIL
}

/* numpy itself reads what we write and writes what we read. */
static void test_npy_python(void **state)
{
    (void)state;
    const char *py = python_with("numpy");
    if (!py) skip();
    char dir[256], mine[300], theirs[300], cmd[2048];
    scratch_make(dir, sizeof dir);
    path_in(mine, sizeof mine, dir, "mine.npy");
    path_in(theirs, sizeof theirs, dir, "theirs.npy");
    const int64_t shape[2] = {3, 4};
    clg_array *a;
    EXPECT_OK(clg_array_create(CLG_ELEM_I64, 2, shape, &a, err, sizeof err));
    for (int i = 0; i < 12; i++) ((int64_t *)a->data)[i] = (int64_t)i * -1000000007LL;
    EXPECT_OK(clg_npy_write(mine, a, err, sizeof err));
    snprintf(cmd, sizeof cmd,
             "%s -c 'import numpy as np, sys\n"
             "a = np.load(sys.argv[1])\n"
             "assert a.dtype == np.int64 and a.shape == (3, 4), a\n"
             "assert (a.ravel() == np.arange(12) * -1000000007).all(), a\n"
             "np.save(sys.argv[2], np.linspace(0, 1, 10, dtype=np.float32).reshape(2, 5))\n"
             "' %s %s",
             py, mine, theirs);
    assert_int_equal(system(cmd), 0);
    clg_array *b;
    EXPECT_OK(clg_npy_read(theirs, &b, err, sizeof err));
    assert_int_equal(b->type, CLG_ELEM_F32);
    assert_true(b->ndim == 2 && b->shape[0] == 2 && b->shape[1] == 5);
    assert_true(((float *)b->data)[9] == 1.0f);
    clg_array_destroy(a);
    clg_array_destroy(b);
    scratch_remove(dir);
}

/* ---- JSON ---- */

static void test_json(void **state)
{
    (void)state;
    const clg_json_limits lim = {8, 1000};
    clg_json j;
    const char *doc = " {\"a\\u00e9\\ud83d\\ude00\\n\": [1, -2.5e3, 18446744073709551615, 18446744073709551616, 0],"
                      " \"\": {}, \"t\": [true, false, null, \"\\\"\\\\\\/\\b\\f\\r\\t\"]} ";
    EXPECT_OK(clg_json_parse(doc, strlen(doc), &lim, &j, err, sizeof err));
    const clg_json_value *root = &j.v[0];
    assert_int_equal(root->type, CLG_JSON_OBJECT);
    assert_int_equal(root->count, 3);
    const clg_json_value *arr = &j.v[root->first];
    assert_string_equal(clg_json_key(&j, arr), "a\xc3\xa9\xf0\x9f\x98\x80\n");
    assert_int_equal(arr->count, 5);
    const clg_json_value *n0 = &j.v[arr->first], *n1 = &j.v[n0->next], *n2 = &j.v[n1->next], *n3 = &j.v[n2->next];
    assert_true(n0->is_uint && n0->u == 1);
    assert_false(n1->is_uint);
    assert_string_equal(clg_json_str(&j, n1), "-2.5e3");
    assert_true(n2->is_uint && n2->u == UINT64_MAX);
    assert_false(n3->is_uint); /* 2^64 does not fit */
    const clg_json_value *t = &j.v[j.v[arr->next].next];
    const clg_json_value *s = &j.v[j.v[j.v[j.v[t->first].next].next].next];
    assert_string_equal(clg_json_str(&j, s), "\"\\/\b\f\r\t");
    clg_json_free(&j);

    static const struct {
        const char *text, *part;
    } bad[] = {
        {"", "value expected"},
        {"[1,]", "value expected"},
        {"{\"a\":1,}", "object key expected"},
        {"{\"a\" 1}", "':' expected"},
        {"[1 2]", "',' or ']' expected"},
        {"01", "leading zero"},
        {"1.", "fraction"},
        {"1e", "exponent"},
        {"-", "bad number"},
        {"+1", "value expected"},
        {"\"abc", "unterminated"},
        {"\"a\tb\"", "control character"},
        {"\"\\x\"", "bad escape"},
        {"\"\\u12g4\"", "bad escape"},
        {"\"\\ud800\"", "lone high surrogate"},
        {"\"\\udc00\"", "lone low surrogate"},
        {"\"\\ud800\\u0041\"", "bad surrogate pair"},
        {"\"\\u0000\"", "\\u0000"},
        {"\"\xff\"", "not valid UTF-8"},
        {"\"\xed\xa0\x80\"", "not valid UTF-8"}, /* a surrogate in UTF-8 */
        {"\"\xc0\xaf\"", "not valid UTF-8"},     /* overlong */
        {"tru", "value expected"},
        {"nul", "value expected"},
        {"[[[[[[[[[1]]]]]]]]]", "nested too deeply"},
        {"{} {}", "text after the value"},
        {"1 x", "text after the value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        clg_status st = clg_json_parse(bad[i].text, strlen(bad[i].text), &lim, &j, err, sizeof err);
        if (st != CLG_ERR_INVALID_ARGUMENT) fail_msg("'%s' parsed (%s)", bad[i].text, clg_status_string(st));
        ASSERT_HAS(err, bad[i].part);
    }
    /* The count limit. */
    const clg_json_limits small = {8, 4};
    EXPECT_FAIL(clg_json_parse("[1,2,3,4]", 9, &small, &j, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "too many values");
    EXPECT_OK(clg_json_parse("[1,2,3]", 7, &small, &j, err, sizeof err));
    clg_json_free(&j);
}

/* ---- metadata ---- */

static void test_meta(void **state)
{
    (void)state;
    clg_meta *m;
    assert_int_equal(clg_meta_create(&m), CLG_OK);
    assert_int_equal(clg_meta_set(m, "step", "12"), CLG_OK);
    assert_int_equal(clg_meta_set(m, "b", "x"), CLG_OK);
    assert_int_equal(clg_meta_set(m, "a", "y"), CLG_OK);
    assert_int_equal(clg_meta_set(m, "b", "z"), CLG_OK); /* replaces */
    assert_int_equal(clg_meta_count(m), 3);
    assert_string_equal(clg_meta_key(m, 0), "a");
    assert_string_equal(clg_meta_key(m, 1), "b");
    assert_string_equal(clg_meta_value(m, 1), "z");
    assert_null(clg_meta_key(m, 3));
    assert_null(clg_meta_get(m, "nope"));
    assert_int_equal(clg_meta_set(m, "", "v"), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_meta_set(m, "\xff", "v"), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_meta_set(m, "k", "\xc3"), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_meta_set(m, NULL, "v"), CLG_ERR_INVALID_ARGUMENT);

    int64_t i;
    uint64_t u;
    double f;
    const int64_t ivals[] = {0, -1, INT64_MIN, INT64_MAX, 1234567890123};
    for (size_t k = 0; k < 5; k++) {
        assert_int_equal(clg_meta_set_i64(m, "i", ivals[k]), CLG_OK);
        assert_int_equal(clg_meta_get_i64(m, "i", &i), CLG_OK);
        assert_true(i == ivals[k]);
    }
    assert_int_equal(clg_meta_set_u64(m, "rng", UINT64_MAX), CLG_OK);
    assert_string_equal(clg_meta_get(m, "rng"), "18446744073709551615");
    assert_int_equal(clg_meta_get_u64(m, "rng", &u), CLG_OK);
    assert_true(u == UINT64_MAX);
    assert_int_equal(clg_meta_get_i64(m, "rng", &i), CLG_ERR_INVALID_ARGUMENT); /* out of range */
    const double fvals[] = {0.1, -1e-300, 3.141592653589793, 1e308, 5e-324, -0.0, INFINITY};
    for (size_t k = 0; k < sizeof fvals / sizeof fvals[0]; k++) {
        assert_int_equal(clg_meta_set_f64(m, "lr", fvals[k]), CLG_OK);
        assert_int_equal(clg_meta_get_f64(m, "lr", &f), CLG_OK);
        assert_memory_equal(&f, &fvals[k], sizeof f); /* bit for bit */
    }
    assert_int_equal(clg_meta_set_f64(m, "lr", NAN), CLG_OK);
    assert_int_equal(clg_meta_get_f64(m, "lr", &f), CLG_OK);
    assert_true(isnan(f));
    assert_int_equal(clg_meta_get_i64(m, "missing", &i), CLG_ERR_NOT_FOUND);
    assert_int_equal(clg_meta_set(m, "s", "12a"), CLG_OK);
    assert_int_equal(clg_meta_get_i64(m, "s", &i), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_meta_get_u64(m, "s", &u), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_meta_get_f64(m, "s", &f), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_meta_set(m, "s", "-5"), CLG_OK);
    assert_int_equal(clg_meta_get_u64(m, "s", &u), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_meta_set(m, "s", ""), CLG_OK);
    assert_int_equal(clg_meta_get_f64(m, "s", &f), CLG_ERR_INVALID_ARGUMENT);
    clg_meta_destroy(m);
}

/* ---- safetensors ---- */

/* A safetensors file from a header text (padded to 8) and data bytes. */
static unsigned char *st_file(const char *header, const void *data, size_t dlen, size_t *len)
{
    size_t h = strlen(header), padded = (h + 7) / 8 * 8;
    *len = 8 + padded + dlen;
    unsigned char *b = malloc(*len);
    clg_store_le64(b, padded);
    memcpy(b + 8, header, h);
    memset(b + 8 + h, ' ', padded - h);
    if (dlen) memcpy(b + 8 + padded, data, dlen);
    return b;
}

static void test_safetensors_roundtrip(void **state)
{
    (void)state;
    char dir[256], path[300];
    scratch_make(dir, sizeof dir);
    path_in(path, sizeof path, dir, "t.safetensors");
    const clg_elem types[] = {CLG_ELEM_U8, CLG_ELEM_F64, CLG_ELEM_F32, CLG_ELEM_I32, CLG_ELEM_I64, CLG_ELEM_BF16,
                              CLG_ELEM_F16, CLG_ELEM_BOOL, CLG_ELEM_I8, CLG_ELEM_U16, CLG_ELEM_I16, CLG_ELEM_U32,
                              CLG_ELEM_U64};
    enum { NT = sizeof types / sizeof types[0] };
    const char *names[NT + 1] = {"u8 odd", "w\"eird\\name", "caf\xc3\xa9", "i32", "i64", "bf", "half", "flags",
                                 "i8", "u16", "i16", "u32", "u64", "empty"};
    clg_array *arrays[NT + 1];
    const int64_t shapes[NT][2] = {{3, 1}, {2, 2}, {5, 1}, {1, 3}, {2, 1}, {3, 1}, {1, 1}, {1, 5}, {7, 1},
                                   {3, 1}, {1, 1}, {2, 1}, {1, 1}};
    rng_t r = {5};
    for (int i = 0; i < NT; i++) {
        EXPECT_OK(clg_array_create(types[i], 2, shapes[i], &arrays[i], err, sizeof err));
        unsigned char *p = arrays[i]->data;
        for (size_t k = 0; k < clg_array_bytes(arrays[i]); k++)
            p[k] = types[i] == CLG_ELEM_BOOL ? (unsigned char)(rng_next(&r) & 1) : (unsigned char)rng_next(&r);
    }
    const int64_t zero[1] = {0};
    EXPECT_OK(clg_array_create(CLG_ELEM_F32, 1, zero, &arrays[NT], err, sizeof err));
    clg_meta *meta;
    clg_meta_create(&meta);
    clg_meta_set(meta, "format", "pt");
    clg_meta_set(meta, "note", "quote \" and \\ and \n newline");
    EXPECT_OK(clg_safetensors_write(path, NT + 1, names, (const clg_array *const *)arrays, meta, err, sizeof err));
    clg_safetensors *st;
    EXPECT_OK(clg_safetensors_read(path, &st, err, sizeof err));
    assert_int_equal(clg_safetensors_count(st), NT + 1);
    for (int i = 1; i < NT + 1; i++) assert_true(strcmp(clg_safetensors_name(st, i - 1), clg_safetensors_name(st, i)) < 0);
    for (int i = 0; i < NT + 1; i++) {
        const clg_array *a = clg_safetensors_find(st, names[i]);
        assert_non_null(a);
        assert_int_equal(a->type, arrays[i]->type);
        assert_int_equal(a->ndim, arrays[i]->ndim);
        assert_memory_equal(a->shape, arrays[i]->shape, sizeof a->shape);
        if (a->numel) assert_memory_equal(a->data, arrays[i]->data, clg_array_bytes(a));
        assert_int_equal((uintptr_t)a->data % clg_elem_size(a->type), 0);
    }
    assert_null(clg_safetensors_find(st, "nope"));
    const clg_meta *m = clg_safetensors_meta(st);
    assert_int_equal(clg_meta_count(m), 2);
    assert_string_equal(clg_meta_get(m, "note"), "quote \" and \\ and \n newline");
    clg_safetensors_destroy(st);
    /* The header length is a multiple of 8 and the data is in the dtype order. */
    size_t len;
    unsigned char *file = read_bytes(path, &len);
    uint64_t hlen = clg_load_le64(file);
    assert_int_equal(hlen % 8, 0);
    const char *h = (const char *)file + 8;
    assert_true(strstr(h, "\"u64\"") < strstr(h, "\"i64\"") && strstr(h, "\"i64\"") < strstr(h, "\"w\\\"eird"));
    assert_true(strstr(h, "\"flags\"") > strstr(h, "\"u8 odd\""));
    free(file);

    clg_meta_destroy(meta);
    /* Bad arguments. */
    const char *dup[2] = {"a", "a"};
    const clg_array *two[2] = {arrays[0], arrays[1]};
    EXPECT_FAIL(clg_safetensors_write(path, 2, dup, two, NULL, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "given twice");
    const char *reserved[1] = {"__metadata__"};
    EXPECT_FAIL(clg_safetensors_write(path, 1, reserved, two, NULL, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "__metadata__");
    const char *empty[1] = {""};
    EXPECT_FAIL(clg_safetensors_write(path, 1, empty, two, NULL, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "non-empty");
    EXPECT_FAIL(clg_safetensors_write(path, 1, NULL, two, NULL, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "names NULL");
    /* None of the failures touched the file. */
    EXPECT_OK(clg_safetensors_read(path, &st, err, sizeof err));
    assert_int_equal(clg_safetensors_count(st), NT + 1);
    clg_safetensors_destroy(st);
    /* No tensors, no metadata: "{}" padded. */
    EXPECT_OK(clg_safetensors_write(path, 0, NULL, NULL, NULL, err, sizeof err));
    file = read_bytes(path, &len);
    assert_int_equal(len, 16);
    assert_memory_equal(file + 8, "{}      ", 8);
    free(file);
    EXPECT_OK(clg_safetensors_read(path, &st, err, sizeof err));
    assert_int_equal(clg_safetensors_count(st), 0);
    clg_safetensors_destroy(st);
    assert_int_equal(other_entries(dir, "t.safetensors"), 0);
    for (int i = 0; i < NT + 1; i++) clg_array_destroy(arrays[i]);
    scratch_remove(dir);
}

/* Python's safetensors writes these bytes for
 * save({"weight": [[1, 2], [3, 4]], "bias": [0.5, -1]} as float32, metadata={"format": "pt"}). */
static const unsigned char python_st[184] =
    "\x98\x00\x00\x00\x00\x00\x00\x00"
    "{\"__metadata__\":{\"format\":\"pt\"},\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}   "
    "\x00\x00\x00?\x00\x00\x80\xbf\x00\x00\x80?\x00\x00\x00@\x00\x00@@\x00\x00\x80@";

static void test_safetensors_python_bytes(void **state)
{
    (void)state;
    clg_safetensors *st;
    EXPECT_OK(clg_safetensors_read_mem(python_st, sizeof python_st, &st, err, sizeof err));
    const clg_array *w = clg_safetensors_find(st, "weight"), *b = clg_safetensors_find(st, "bias");
    assert_true(w && b && w->ndim == 2 && w->shape[1] == 2 && b->ndim == 1);
    const float *wv = w->data, *bv = b->data;
    assert_true(wv[0] == 1 && wv[3] == 4 && bv[0] == 0.5f && bv[1] == -1);
    /* Written back: the same bytes. */
    const char *names[2] = {"weight", "bias"};
    const clg_array *arrays[2] = {w, b};
    unsigned char *out;
    size_t len;
    EXPECT_OK(clg_safetensors_write_mem(2, names, arrays, clg_safetensors_meta(st), &out, &len, err, sizeof err));
    assert_int_equal(len, sizeof python_st);
    assert_memory_equal(out, python_st, len);
    free(out);
    clg_safetensors_destroy(st);
}

static void test_safetensors_errors(void **state)
{
    (void)state;
    unsigned char data[64];
    for (int i = 0; i < 64; i++) data[i] = (unsigned char)i;
    clg_safetensors *st = (clg_safetensors *)1;
    size_t len;
    unsigned char *b;
#define ST_FAIL(header, dlen, status, part)                                                        \
    do {                                                                                           \
        b = st_file(header, data, dlen, &len);                                                     \
        EXPECT_FAIL(clg_safetensors_read_mem(b, len, &st, err, sizeof err), status, part);         \
        assert_null(st);                                                                           \
        free(b);                                                                                   \
    } while (0)
#define T(name, dtype, shape, a, b) "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #a "," #b "]}"
    /* Valid to start with. */
    b = st_file("{" T("a", "F32", "[2]", 0, 8) "," T("b", "U8", "[3]", 8, 11) "}", data, 11, &len);
    EXPECT_OK(clg_safetensors_read_mem(b, len, &st, err, sizeof err));
    clg_safetensors_destroy(st);
    EXPECT_FAIL(clg_safetensors_read_mem(b, len - 1, &st, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "[8, 11] outside the 10 bytes");
    EXPECT_FAIL(clg_safetensors_read_mem(b, 7, &st, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "too short");
    EXPECT_FAIL(clg_safetensors_read_mem(b, 30, &st, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "past the end");
    b[7] = 0x10;
    EXPECT_FAIL(clg_safetensors_read_mem(b, len, &st, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "header length");
    clg_store_le64(b, 100000008);
    EXPECT_FAIL(clg_safetensors_read_mem(b, len, &st, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "over the format's limit");
    free(b);

    ST_FAIL("{" T("a", "F32", "[2]", 0, 8) "," T("b", "U8", "[3]", 8, 11) "}", 12, CLG_ERR_INVALID_ARGUMENT, "cover 11 of the 12 bytes");
    ST_FAIL("{" T("a", "F32", "[2]", 0, 8) "," T("b", "U8", "[3]", 7, 10) "}", 10, CLG_ERR_INVALID_ARGUMENT, "overlap tensor 'a'");
    ST_FAIL("{" T("a", "F32", "[2]", 0, 8) "," T("b", "U8", "[3]", 9, 12) "}", 12, CLG_ERR_INVALID_ARGUMENT, "bytes [8, 9) of the data belong to no tensor");
    ST_FAIL("{" T("a", "F32", "[2]", 4, 12) "}", 12, CLG_ERR_INVALID_ARGUMENT, "bytes [0, 4)");
    ST_FAIL("{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[2]", 0, 8) "}", 8, CLG_ERR_INVALID_ARGUMENT, "overlap");
    ST_FAIL("{" T("a", "F32", "[2]", 0, 80) "}", 8, CLG_ERR_INVALID_ARGUMENT, "outside the 8 bytes");
    ST_FAIL("{" T("a", "F32", "[2]", 8, 0) "}", 8, CLG_ERR_INVALID_ARGUMENT, "data_offsets [8, 0]");
    ST_FAIL("{" T("a", "F32", "[3]", 0, 8) "}", 8, CLG_ERR_INVALID_ARGUMENT, "F32 [3] needs 12 bytes, data_offsets give 8");
    ST_FAIL("{" T("a", "F32", "[4294967296,4294967296]", 0, 8) "}", 8, CLG_ERR_INVALID_ARGUMENT, "needs more than 2^63 bytes");
    ST_FAIL("{" T("a", "F32", "[-2]", 0, 8) "}", 8, CLG_ERR_INVALID_ARGUMENT, "integers >= 0");
    ST_FAIL("{" T("a", "F32", "[2.0]", 0, 8) "}", 8, CLG_ERR_INVALID_ARGUMENT, "integers >= 0");
    ST_FAIL("{" T("a", "F32", "[1e0,2]", 0, 8) "}", 8, CLG_ERR_INVALID_ARGUMENT, "integers >= 0");
    ST_FAIL("{" T("a", "F32", "2", 0, 8) "}", 8, CLG_ERR_INVALID_ARGUMENT, "not an array");
    ST_FAIL("{" T("a", "F32", "[1,1,1,1,1,1,1,1,2]", 0, 8) "}", 8, CLG_ERR_UNSUPPORTED, "more dimensions");
    ST_FAIL("{" T("a", "C64", "[1]", 0, 8) "}", 8, CLG_ERR_UNSUPPORTED, "unsupported dtype 'C64'");
    ST_FAIL("{" T("a", "f32", "[2]", 0, 8) "}", 8, CLG_ERR_UNSUPPORTED, "unsupported dtype 'f32'");
    ST_FAIL("{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, CLG_ERR_INVALID_ARGUMENT, "dtype is a number");
    ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", 8, CLG_ERR_INVALID_ARGUMENT, "[begin, end]");
    ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,\"8\"]}}", 8, CLG_ERR_INVALID_ARGUMENT, "[begin, end]");
    ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, CLG_ERR_INVALID_ARGUMENT, "lacks field 'data_offsets'");
    ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8, CLG_ERR_INVALID_ARGUMENT, "unknown field 'x'");
    ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, CLG_ERR_INVALID_ARGUMENT, "field 'dtype' twice");
    ST_FAIL("{\"a\":[1]}", 0, CLG_ERR_INVALID_ARGUMENT, "tensor 'a' is an array");
    ST_FAIL("{" T("a", "F32", "[1]", 0, 4) "," T("a", "F32", "[1]", 4, 8) "}", 8, CLG_ERR_INVALID_ARGUMENT, "tensor 'a' appears twice");
    ST_FAIL("{" T("", "F32", "[2]", 0, 8) "}", 8, CLG_ERR_INVALID_ARGUMENT, "empty name");
    ST_FAIL("{\"__metadata__\":{\"k\":1}," T("a", "F32", "[2]", 0, 8) "}", 8, CLG_ERR_INVALID_ARGUMENT, "value of 'k' is a number");
    ST_FAIL("{\"__metadata__\":[]," T("a", "F32", "[2]", 0, 8) "}", 8, CLG_ERR_INVALID_ARGUMENT, "not an object of strings");
    ST_FAIL("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, CLG_ERR_INVALID_ARGUMENT, "key 'k' appears twice");
    ST_FAIL("{\"__metadata__\":{},\"__metadata__\":{}}", 0, CLG_ERR_INVALID_ARGUMENT, "__metadata__ appears twice");
    ST_FAIL("{\"__metadata__\":{\"\":\"v\"}}", 0, CLG_ERR_INVALID_ARGUMENT, "empty key");
    ST_FAIL("[]", 0, CLG_ERR_INVALID_ARGUMENT, "not an object");
    ST_FAIL("{" T("a", "F32", "[2]", 0, 8) ",}", 8, CLG_ERR_INVALID_ARGUMENT, "JSON: object key expected");
    ST_FAIL("{\"a\":{\"dtype\":\"F32\" \"shape\":[2]}}", 8, CLG_ERR_INVALID_ARGUMENT, "JSON: ',' or '}' expected");
    ST_FAIL("{\"a\xff\":1}", 0, CLG_ERR_INVALID_ARGUMENT, "UTF-8");
    unsigned char two = 2;
    b = st_file("{" T("f", "BOOL", "[1]", 0, 1) "}", &two, 1, &len);
    EXPECT_FAIL(clg_safetensors_read_mem(b, len, &st, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "BOOL byte");
    free(b);
    /* Zero-size tensors fit anywhere, even at the end; padding with NULs is not JSON. */
    b = st_file("{" T("e", "F64", "[0,3]", 8, 8) "," T("a", "F32", "[2]", 0, 8) "}", data, 8, &len);
    EXPECT_OK(clg_safetensors_read_mem(b, len, &st, err, sizeof err));
    assert_int_equal(clg_safetensors_find(st, "e")->numel, 0);
    clg_safetensors_destroy(st);
    b[8 + 70] = '\0';
    EXPECT_FAIL(clg_safetensors_read_mem(b, len, &st, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "JSON");
    free(b);
    /* A misaligned F32 (a header whose length is not a multiple of 4) still
     * reads, from an aligned copy. */
    const char *hdr = "{" T("a", "F32", "[2]", 0, 8) "}";
    size_t h = strlen(hdr);
    len = 8 + h + 8;
    b = malloc(len);
    clg_store_le64(b, h);
    memcpy(b + 8, hdr, h);
    const float two_f[2] = {2.5f, -7};
    memcpy(b + 8 + h, two_f, 8);
    EXPECT_OK(clg_safetensors_read_mem(b, len, &st, err, sizeof err));
    const clg_array *a = clg_safetensors_find(st, "a");
    assert_int_equal((uintptr_t)a->data % 4, 0);
    assert_memory_equal(a->data, two_f, 8);
    clg_safetensors_destroy(st);
    free(b);
    EXPECT_FAIL(clg_safetensors_read("/nonexistent/x.safetensors", &st, err, sizeof err), CLG_ERR_NOT_FOUND, "No such file");
#undef T
#undef ST_FAIL
}

/* ---- atomic writes ---- */

static void test_atomic_write(void **state)
{
    (void)state;
    char dir[256], path[300], sub[300];
    scratch_make(dir, sizeof dir);
    path_in(path, sizeof path, dir, "w.npy");
    float v[4] = {1, 2, 3, 4};
    clg_array a = {.type = CLG_ELEM_F32, .ndim = 1, .shape = {4}, .numel = 4, .data = v};
    EXPECT_OK(clg_npy_write(path, &a, err, sizeof err));
    size_t old_len;
    unsigned char *old = read_bytes(path, &old_len);
    struct stat st_;
    assert_int_equal(stat(path, &st_), 0);
    mode_t um = umask(022);
    umask(um);
    assert_int_equal(st_.st_mode & 0777, 0666 & ~um); /* not mkstemp's 0600 */

    /* 1. The destination is a folder: refused before any temporary file,
     * the folder stays (tests/test_fileio.c has the other kinds). */
    path_in(sub, sizeof sub, dir, "adir");
    assert_int_equal(mkdir(sub, 0755), 0);
    EXPECT_FAIL(clg_npy_write(sub, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "is a folder");
    ASSERT_HAS(err, "nothing was written");
    assert_int_equal(stat(sub, &st_), 0);
    assert_true(S_ISDIR(st_.st_mode));
    assert_int_equal(other_entries(dir, NULL), 2); /* w.npy, adir: no temporary file */

    /* 2. A write fails half way (file size limit in a child process): the
     * old file is intact and the temporary file is gone. */
    float big[4096];
    for (int i = 0; i < 4096; i++) big[i] = (float)i;
    clg_array b = {.type = CLG_ELEM_F32, .ndim = 1, .shape = {4096}, .numel = 4096, .data = big};
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {1000, 1000};
        setrlimit(RLIMIT_FSIZE, &lim);
        char e[512];
        clg_status s = clg_npy_write(path, &b, e, sizeof e);
        _exit(s == CLG_OK ? 1 : strstr(e, "failed") && strstr(e, "unchanged") ? 0 : 2);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    size_t now_len;
    unsigned char *now = read_bytes(path, &now_len);
    assert_int_equal(now_len, old_len);
    assert_memory_equal(now, old, old_len);
    free(now);
    assert_int_equal(other_entries(dir, NULL), 2);

    /* 3. A read-only folder: nothing can be created (root ignores modes). */
    if (geteuid() != 0) {
        assert_int_equal(chmod(dir, 0555), 0);
        EXPECT_FAIL(clg_npy_write(path, &b, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "cannot create a temporary file");
        chmod(dir, 0755);
        now = read_bytes(path, &now_len);
        assert_memory_equal(now, old, old_len);
        free(now);
    }
    /* 4. A missing folder; a path naming a folder. */
    path_in(sub, sizeof sub, dir, "missing/x.npy");
    EXPECT_FAIL(clg_npy_write(sub, &a, err, sizeof err), CLG_ERR_NOT_FOUND, "missing");
    path_in(sub, sizeof sub, dir, "adir/");
    EXPECT_FAIL(clg_npy_write(sub, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "names a folder");

    /* 5. Success replaces the old file whole. */
    EXPECT_OK(clg_npy_write(path, &b, err, sizeof err));
    clg_array *back;
    EXPECT_OK(clg_npy_read(path, &back, err, sizeof err));
    assert_int_equal(back->numel, 4096);
    clg_array_destroy(back);
    assert_int_equal(other_entries(dir, NULL), 2);
    /* A bare file name writes into the working folder. */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    EXPECT_OK(clg_npy_write("bare.npy", &a, err, sizeof err));
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(other_entries(dir, NULL), 3);
    free(old);
    scratch_remove(dir);
}

/* ---- arrays ---- */

static void test_array_convert(void **state)
{
    (void)state;
    clg_array *out;
    const uint16_t halves[6] = {0x3c00, 0xc000, 0x0001, 0x7c00, 0x3555, 0x8000};
    const float half_f[6] = {1, -2, 5.9604644775390625e-8f, INFINITY, 0.333251953125f, -0.0f};
    clg_array h = {.type = CLG_ELEM_F16, .ndim = 1, .shape = {6}, .numel = 6, .data = (void *)halves};
    EXPECT_OK(clg_array_convert(&h, CLG_ELEM_F32, &out, err, sizeof err));
    assert_memory_equal(out->data, half_f, sizeof half_f);
    clg_array_destroy(out);
    const uint16_t bf[2] = {0x3f80, 0xc0a0};
    clg_array b = {.type = CLG_ELEM_BF16, .ndim = 1, .shape = {2}, .numel = 2, .data = (void *)bf};
    EXPECT_OK(clg_array_convert(&b, CLG_ELEM_F64, &out, err, sizeof err));
    assert_true(((double *)out->data)[0] == 1 && ((double *)out->data)[1] == -5);
    clg_array_destroy(out);
    const unsigned char px[3] = {0, 128, 255};
    clg_array u = {.type = CLG_ELEM_U8, .ndim = 1, .shape = {3}, .numel = 3, .data = (void *)px};
    EXPECT_OK(clg_array_convert(&u, CLG_ELEM_F32, &out, err, sizeof err));
    assert_true(((float *)out->data)[2] == 255.0f);
    clg_array_destroy(out);
    EXPECT_OK(clg_array_convert(&u, CLG_ELEM_I32, &out, err, sizeof err));
    assert_true(((int32_t *)out->data)[1] == 128);
    clg_array_destroy(out);
    const int64_t big[2] = {5, (int64_t)1 << 40};
    clg_array i = {.type = CLG_ELEM_I64, .ndim = 1, .shape = {2}, .numel = 2, .data = (void *)big};
    EXPECT_FAIL(clg_array_convert(&i, CLG_ELEM_I32, &out, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "element 1 (1099511627776)");
    assert_null(out);
    const float frac[2] = {3, 2.5f};
    clg_array f = {.type = CLG_ELEM_F32, .ndim = 1, .shape = {2}, .numel = 2, .data = (void *)frac};
    EXPECT_FAIL(clg_array_convert(&f, CLG_ELEM_I64, &out, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "element 1 (2.5)");
    const float nan_[1] = {NAN};
    clg_array n = {.type = CLG_ELEM_F32, .ndim = 1, .shape = {1}, .numel = 1, .data = (void *)nan_};
    EXPECT_FAIL(clg_array_convert(&n, CLG_ELEM_U8, &out, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "not a u8 value");
    const uint64_t huge[1] = {UINT64_MAX};
    clg_array hu = {.type = CLG_ELEM_U64, .ndim = 1, .shape = {1}, .numel = 1, .data = (void *)huge};
    EXPECT_FAIL(clg_array_convert(&hu, CLG_ELEM_I64, &out, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "not a i64 value");
    EXPECT_OK(clg_array_convert(&hu, CLG_ELEM_F64, &out, err, sizeof err));
    assert_true(((double *)out->data)[0] == 18446744073709551616.0);
    clg_array_destroy(out);
    EXPECT_FAIL(clg_array_convert(&u, CLG_ELEM_F16, &out, err, sizeof err), CLG_ERR_UNSUPPORTED, "cannot convert to f16");
    const int64_t neg[1] = {-3};
    EXPECT_FAIL(clg_array_create(CLG_ELEM_F32, 1, neg, &out, err, sizeof err), CLG_ERR_SHAPE, "dimension 0 is -3");
    const int64_t too[3] = {1 << 30, 1 << 30, 1 << 30};
    EXPECT_FAIL(clg_array_create(CLG_ELEM_F32, 3, too, &out, err, sizeof err), CLG_ERR_SHAPE, "too large");
    EXPECT_FAIL(clg_array_create(CLG_ELEM_F32, 9, too, &out, err, sizeof err), CLG_ERR_SHAPE, "ndim 9");
    EXPECT_FAIL(clg_array_create((clg_elem)99, 1, too, &out, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "not a clg_elem");
    assert_string_equal(clg_elem_name((clg_elem)99), "?");
    assert_int_equal(clg_elem_size((clg_elem)99), 0);
}

/* ---- loader ---- */

/* Sample i holds values i*100 + p (p: element), label i. */
static void dataset(int64_t n, int64_t sample, clg_array **x, clg_array **y)
{
    const int64_t xs[2] = {n, sample}, ys[1] = {n};
    clg_array_create(CLG_ELEM_F32, 2, xs, x, err, sizeof err);
    clg_array_create(CLG_ELEM_I32, 1, ys, y, err, sizeof err);
    for (int64_t i = 0; i < n; i++) {
        ((int32_t *)(*y)->data)[i] = (int32_t)i;
        for (int64_t p = 0; p < sample; p++) ((float *)(*x)->data)[i * sample + p] = (float)(i * 100 + p);
    }
}

/* One epoch's sample order through the labels; checks the images follow. */
static int64_t epoch_order(clg_loader *l, int64_t *order, int64_t *sizes)
{
    int64_t s = clg_loader_sample_numel(l), seen = 0, nb = 0, count;
    float x[64 * 8];
    int32_t y[64];
    for (;;) {
        assert_int_equal(clg_loader_next(l, x, y, &count), CLG_OK);
        if (!count) return nb;
        for (int64_t k = 0; k < count; k++) {
            order[seen++] = y[k];
            assert_true(x[k * s] == (float)(y[k] * 100));
        }
        if (sizes) sizes[nb] = count;
        nb++;
    }
}

static void test_loader_shuffle(void **state)
{
    (void)state;
    clg_array *x, *y;
    dataset(10, 3, &x, &y);
    clg_loader_options opt = {.batch_size = 4, .seed = 42, .shuffle = 1};
    clg_loader *l, *l2;
    EXPECT_OK(clg_loader_create(x, y, &opt, &l, err, sizeof err));
    EXPECT_OK(clg_loader_create(x, y, &opt, &l2, err, sizeof err));
    /* The documented generator, computed independently in Python. */
    const int64_t want[3][10] = {{4, 7, 2, 9, 0, 6, 8, 5, 3, 1}, {9, 7, 6, 2, 1, 8, 4, 3, 5, 0}, {5, 0, 2, 9, 1, 7, 8, 6, 4, 3}};
    int64_t order[10], again[10], sizes[4];
    for (int e = 0; e < 3; e++) {
        assert_int_equal(epoch_order(l, order, sizes), 3);
        assert_memory_equal(order, want[e], sizeof order);
        assert_true(sizes[0] == 4 && sizes[1] == 4 && sizes[2] == 2); /* last partial batch kept */
        assert_int_equal(epoch_order(l2, again, NULL), 3);
        assert_memory_equal(again, order, sizeof order);
    }
    /* Resume: a new loader sought to (epoch 1, batch 1) gives what the
     * first gave from there. */
    clg_loader *l3;
    EXPECT_OK(clg_loader_create(x, y, &opt, &l3, err, sizeof err));
    assert_int_equal(clg_loader_seek(l3, 1, 1), CLG_OK);
    float xb[32];
    int32_t yb[4];
    int64_t count, epoch, batch;
    assert_int_equal(clg_loader_next(l3, xb, yb, &count), CLG_OK);
    assert_true(count == 4 && yb[0] == want[1][4] && yb[3] == want[1][7]);
    assert_int_equal(clg_loader_position(l3, &epoch, &batch), CLG_OK);
    assert_true(epoch == 1 && batch == 2);
    assert_int_equal(clg_loader_seek(l3, 0, 4), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_loader_seek(l3, -1, 0), CLG_ERR_INVALID_ARGUMENT);
    clg_loader_destroy(l3);
    clg_loader_destroy(l2);
    clg_loader_destroy(l);

    /* Another seed, another order; without shuffle, 0..N-1; drop_last. */
    opt.seed = 0xDEADBEEFCAFEF00DULL;
    clg_array_destroy(x);
    clg_array_destroy(y);
    dataset(13, 2, &x, &y);
    EXPECT_OK(clg_loader_create(x, y, &opt, &l, err, sizeof err));
    assert_int_equal(clg_loader_seek(l, 7, 0), CLG_OK);
    const int64_t want7[13] = {8, 5, 10, 6, 11, 4, 3, 9, 2, 7, 1, 12, 0};
    int64_t o13[13];
    epoch_order(l, o13, NULL);
    assert_memory_equal(o13, want7, sizeof o13);
    clg_loader_destroy(l);
    opt.shuffle = 0;
    opt.drop_last = 1;
    EXPECT_OK(clg_loader_create(x, y, &opt, &l, err, sizeof err));
    assert_int_equal(clg_loader_batches(l), 3);
    assert_int_equal(epoch_order(l, o13, sizes), 3);
    for (int i = 0; i < 12; i++) assert_int_equal(o13[i], i);
    assert_true(sizes[0] == 4 && sizes[2] == 4);
    clg_loader_destroy(l);

    /* A sample is a permutation at any size (each index once). */
    clg_array_destroy(x);
    clg_array_destroy(y);
    dataset(1000, 1, &x, &y);
    opt = (clg_loader_options){.batch_size = 64, .seed = 1, .shuffle = 1};
    EXPECT_OK(clg_loader_create(x, y, &opt, &l, err, sizeof err));
    int64_t *big = malloc(1000 * sizeof *big);
    unsigned char seen[1000] = {0};
    epoch_order(l, big, NULL);
    for (int i = 0; i < 1000; i++) seen[big[i]]++;
    for (int i = 0; i < 1000; i++) assert_int_equal(seen[i], 1);
    free(big);
    clg_loader_destroy(l);
    clg_array_destroy(x);
    clg_array_destroy(y);
}

static void test_loader_normalize(void **state)
{
    (void)state;
    enum { N = 50, S = 7 };
    const int64_t xs[2] = {N, S};
    clg_array *x;
    EXPECT_OK(clg_array_create(CLG_ELEM_F32, 2, xs, &x, err, sizeof err));
    rng_t r = {2024};
    float *xv = x->data;
    for (int i = 0; i < N * S; i++) xv[i] = (float)rng_uniform(&r, 0, 255);
    for (int i = 0; i < N; i++) xv[i * S + 3] = 17; /* a constant pixel: std 0, only centred */
    clg_loader_options opt = {.batch_size = N, .normalize = CLG_NORMALIZE_COMPUTE};
    clg_loader *l;
    EXPECT_OK(clg_loader_create(x, NULL, &opt, &l, err, sizeof err));
    float mean[S], std[S], out[N * S];
    int32_t y[N];
    assert_int_equal(clg_loader_stats(l, mean, std), CLG_OK);
    for (int p = 0; p < S; p++) {
        double m = 0, v = 0;
        for (int i = 0; i < N; i++) m += xv[i * S + p];
        m /= N;
        for (int i = 0; i < N; i++) v += (xv[i * S + p] - m) * (xv[i * S + p] - m);
        double sd = sqrt(v / N);
        /* The float of a double result: within half an ulp, 2^-24 relative. */
        assert_true(fabs(mean[p] - m) <= fabs(m) * 0x1p-24);
        assert_true(fabs(std[p] - sd) <= sd * 0x1p-24);
    }
    assert_true(std[3] == 0 && mean[3] == 17);
    int64_t count;
    assert_int_equal(clg_loader_next(l, out, y, &count), CLG_OK);
    assert_int_equal(count, N);
    for (int i = 0; i < N; i++) assert_int_equal(y[i], 0); /* no labels: zeros */
    for (int p = 0; p < S; p++) {
        double m = 0, v = 0;
        for (int i = 0; i < N; i++) {
            float want = (float)(std[p] > 0 ? ((double)xv[i * S + p] - mean[p]) / std[p] : (double)xv[i * S + p] - mean[p]);
            assert_true(out[i * S + p] == want);
            m += out[i * S + p];
        }
        m /= N;
        for (int i = 0; i < N; i++) v += (out[i * S + p] - m) * (out[i * S + p] - m);
        /* Normalised: mean 0, std 1 up to float rounding of each value. */
        assert_true(fabs(m) < 1e-5);
        assert_true(p == 3 ? v == 0 : fabs(sqrt(v / N) - 1) < 1e-5);
    }
    clg_loader_destroy(l);
    /* Given statistics (a test set with the training set's). */
    float gm[S], gs[S];
    for (int p = 0; p < S; p++) {
        gm[p] = (float)p;
        gs[p] = p == 0 ? 0 : 2;
    }
    opt = (clg_loader_options){.batch_size = 3, .normalize = CLG_NORMALIZE_GIVEN, .mean = gm, .std = gs};
    EXPECT_OK(clg_loader_create(x, NULL, &opt, &l, err, sizeof err));
    assert_int_equal(clg_loader_next(l, out, NULL, &count), CLG_OK);
    assert_true(out[0] == xv[0] && out[1] == (float)(((double)xv[1] - 1) / 2));
    assert_int_equal(clg_loader_stats(l, mean, std), CLG_OK);
    assert_memory_equal(mean, gm, sizeof gm);
    clg_loader_destroy(l);
    clg_array_destroy(x);
}

static void test_loader_errors(void **state)
{
    (void)state;
    clg_array *x, *y, *u8;
    dataset(10, 3, &x, &y);
    const int64_t s[3] = {10, 2, 2};
    EXPECT_OK(clg_array_create(CLG_ELEM_U8, 3, s, &u8, err, sizeof err));
    clg_loader_options opt = {.batch_size = 4};
    clg_loader *l = (clg_loader *)1;
    EXPECT_FAIL(clg_loader_create(u8, y, &opt, &l, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "clg_array_convert");
    ASSERT_HAS(err, "u8 [10,2,2]");
    assert_null(l);
    EXPECT_FAIL(clg_loader_create(x, x, &opt, &l, err, sizeof err), CLG_ERR_SHAPE, "labels are f32 [10,3]");
    y->shape[0] = 9;
    y->numel = 9;
    EXPECT_FAIL(clg_loader_create(x, y, &opt, &l, err, sizeof err), CLG_ERR_SHAPE, "i32 [10]");
    y->shape[0] = 10;
    y->numel = 10;
    EXPECT_FAIL(clg_loader_create(x, y, NULL, &l, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "options are NULL");
    opt.batch_size = 0;
    EXPECT_FAIL(clg_loader_create(x, y, &opt, &l, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "batch size 0");
    /* size: 0 or a struct at least this version's (ABI policy) */
    opt = (clg_loader_options){.size = 8, .batch_size = 2};
    EXPECT_FAIL(clg_loader_create(x, y, &opt, &l, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "opt->size is 8");
    opt.size = sizeof opt;
    EXPECT_OK(clg_loader_create(x, y, &opt, &l, err, sizeof err));
    clg_loader_destroy(l);
    l = (clg_loader *)1;
    opt = (clg_loader_options){.batch_size = 11, .drop_last = 1};
    EXPECT_FAIL(clg_loader_create(x, y, &opt, &l, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "leaves no batch");
    opt = (clg_loader_options){.batch_size = 2, .normalize = CLG_NORMALIZE_GIVEN};
    EXPECT_FAIL(clg_loader_create(x, y, &opt, &l, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "needs mean and std");
    const float m[3] = {0, 0, 0}, sd[3] = {1, -1, 1};
    opt.mean = m;
    opt.std = sd;
    EXPECT_FAIL(clg_loader_create(x, y, &opt, &l, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "element 1");
    opt.normalize = 7;
    EXPECT_FAIL(clg_loader_create(x, y, &opt, &l, err, sizeof err), CLG_ERR_INVALID_ARGUMENT, "normalize 7");
    assert_int_equal(clg_loader_next(NULL, NULL, NULL, NULL), CLG_ERR_INVALID_ARGUMENT);
    clg_array_destroy(u8);
    clg_array_destroy(x);
    clg_array_destroy(y);
}

/* The loader on Fashion-MNIST: u8 images converted, normalised with the
 * training statistics, the test set with the same. */
static void test_loader_fashion_mnist(void **state)
{
    (void)state;
    if (access(FASHION "/t10k-images-idx3-ubyte.gz", R_OK) != 0) skip();
    clg_array *img, *lab, *x, *y;
    EXPECT_OK(clg_idx_read(FASHION "/t10k-images-idx3-ubyte.gz", &img, err, sizeof err));
    EXPECT_OK(clg_idx_read(FASHION "/t10k-labels-idx1-ubyte.gz", &lab, err, sizeof err));
    EXPECT_OK(clg_array_convert(img, CLG_ELEM_F32, &x, err, sizeof err));
    EXPECT_OK(clg_array_convert(lab, CLG_ELEM_I32, &y, err, sizeof err));
    clg_loader_options opt = {.batch_size = 128, .seed = 3, .shuffle = 1, .normalize = CLG_NORMALIZE_COMPUTE};
    clg_loader *l;
    EXPECT_OK(clg_loader_create(x, y, &opt, &l, err, sizeof err));
    assert_int_equal(clg_loader_sample_numel(l), 784);
    assert_int_equal(clg_loader_batches(l), 79);
    static float batch[128 * 784];
    int32_t labels[128];
    int64_t count, total = 0, nb = 0;
    while (clg_loader_next(l, batch, labels, &count) == CLG_OK && count) {
        total += count;
        nb++;
        for (int64_t k = 0; k < count; k++) assert_true(labels[k] >= 0 && labels[k] < 10);
    }
    assert_int_equal(total, 10000);
    assert_int_equal(nb, 79);
    clg_loader_destroy(l);
    clg_array_destroy(img);
    clg_array_destroy(lab);
    clg_array_destroy(x);
    clg_array_destroy(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_u8),
        cmocka_unit_test(test_idx_types),
        cmocka_unit_test(test_idx_gzip),
        cmocka_unit_test(test_idx_errors),
        cmocka_unit_test(test_idx_fashion_mnist),
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_npy_numpy_bytes),
        cmocka_unit_test(test_npy_errors),
        cmocka_unit_test(test_npy_python),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_meta),
        cmocka_unit_test(test_safetensors_roundtrip),
        cmocka_unit_test(test_safetensors_python_bytes),
        cmocka_unit_test(test_safetensors_errors),
        cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_array_convert),
        cmocka_unit_test(test_loader_shuffle),
        cmocka_unit_test(test_loader_normalize),
        cmocka_unit_test(test_loader_errors),
        cmocka_unit_test(test_loader_fashion_mnist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
