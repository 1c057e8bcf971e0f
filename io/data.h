/*
 * Shared by the data-file code (array, idx, npy, json, safetensors, meta,
 * loader): byte order, error text into the caller's buffer, bounded
 * reading, atomic writing. Nothing here needs a context or a device, so the
 * fuzzers build these files alone.
 */
#ifndef CLG_DATA_H
#define CLG_DATA_H

#include "clgrad.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes the message into err (if any) and returns s. */
clg_status clg_data_fail(char *err, size_t errlen, clg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static inline uint32_t clg_load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint32_t clg_load_le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static inline uint64_t clg_load_le64(const unsigned char *p)
{
    return (uint64_t)clg_load_le32(p + 4) << 32 | clg_load_le32(p);
}
static inline void clg_store_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

bool clg_host_is_little_endian(void);
/* Reverses the bytes of each of count elements of size elsize, in place. */
void clg_swap_elements(void *data, size_t count, size_t elsize);

/* a * b into *out, false on overflow past limit. */
bool clg_mul_limit(uint64_t a, uint64_t b, uint64_t limit, uint64_t *out);
/* The bytes of an array of that shape, false when over limit; any zero
 * dimension makes it 0, whatever the others. Dimensions are >= 0. */
bool clg_shape_bytes(int ndim, const int64_t *shape, size_t elsize, uint64_t limit, uint64_t *bytes);

/* Checks ndim, shape and numel of a caller's array (func names the caller). */
clg_status clg_array_check(const clg_array *a, const char *func, char *err, size_t errlen);
/* A new array with data for numel elements, not zeroed; shape is copied.
 * The caller has checked that the size is what its input holds. */
clg_status clg_array_new(clg_elem type, int ndim, const int64_t *shape, clg_array **out, char *err, size_t errlen);
size_t clg_array_bytes(const clg_array *a);
/* "[60000,28,28]" */
void clg_array_shape_string(int ndim, const int64_t *shape, char *buf, size_t size);

/* The whole file into a new buffer (free()). Files larger than max are
 * refused before anything is allocated. */
clg_status clg_file_read_all(const char *path, size_t max, unsigned char **out, size_t *len, const char *func,
                             char *err, size_t errlen);

/* What a writer emits: pieces of bytes written one after another. A piece
 * with elsize > 1 holds native-order elements written little-endian. */
typedef struct clg_piece {
    const void *data;
    size_t len;
    size_t elsize;
} clg_piece;
/* Writes the pieces to path atomically: a temporary file in the same folder,
 * fflush, fsync, rename over path, fsync of the folder. On failure the
 * temporary file is removed and whatever was at path stays. A symlink at
 * path (or a chain) is followed: the file it names is replaced and the link
 * stays. A path naming anything but a regular file (folder, FIFO, device,
 * socket), directly or through links, is refused with nothing touched. */
clg_status clg_write_atomic(const char *path, const clg_piece *pieces, int npieces, const char *func, char *err,
                            size_t errlen);
/* The same bytes into one new buffer (free()), for tests and fuzzers. */
clg_status clg_pieces_to_mem(const clg_piece *pieces, int npieces, unsigned char **out, size_t *len, char *err,
                             size_t errlen);

/* Serialisers behind the public writers, into memory. */
clg_status clg_npy_write_mem(const clg_array *a, unsigned char **out, size_t *len, char *err, size_t errlen);
clg_status clg_safetensors_write_mem(int n, const char *const *names, const clg_array *const *arrays,
                                     const clg_meta *meta, unsigned char **out, size_t *len, char *err,
                                     size_t errlen);

/* Whether s[0..len) is well-formed UTF-8 (no surrogates, no overlongs). */
bool clg_utf8_valid(const char *s, size_t len);
/* Building a map from a file: append without checks, then sort once;
 * false (and *dup the repeated key) when a key repeats. */
clg_status clg_meta_append(clg_meta *m, const char *key, const char *value);
bool clg_meta_sort_unique(clg_meta *m, const char **dup);

/* safetensors dtype names ("F32") and element types. */
const char *clg_safetensors_dtype_name(clg_elem e);

#endif
