/*
 * Entries of the on-disk program cache (host/cache_file.c), one file each:
 *
 *   offset  0  8 bytes  magic "clgPCach"
 *           8  u32      format version (2)
 *          12  u32      key length K
 *          16  u64      payload length P
 *          24  u64      checksum: FNV-1a 64 of bytes 0..23 and the key, then
 *                       clg_sum64 of the payload from there (version 1 had
 *                       FNV-1a throughout: 3.5 ms of every context's start
 *                       for a 3.4 MB binary)
 *          32  K bytes  the key: everything the payload depends on, verbatim
 *        32+K  P bytes  the payload (a program binary)
 *
 * integers little-endian. An entry is used only when the file is exactly
 * 32 + K + P bytes long, every field matches and the key equals the
 * caller's byte for byte: a driver never sees a cut or damaged binary, nor
 * one built for another device whose file landed under this name.
 */
#ifndef CLG_CACHE_FILE_H
#define CLG_CACHE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLG_CACHE_HEADER 32
#define CLG_CACHE_VERSION 2u
/* The cap on the cache's total size without CLGRAD_CACHE_MAX_MB. */
#define CLG_CACHE_DEFAULT_MAX_MB 256

uint64_t clg_fnv1a64(uint64_t h, const void *data, size_t n);
/* A checksum of n bytes continuing from h: four FNV-style lanes over
 * little-endian 64-bit words (so four independent multiplies per 32
 * bytes), the tail and the lanes folded in with FNV-1a. */
uint64_t clg_sum64(uint64_t h, const void *data, size_t n);
#define CLG_FNV_OFFSET 1469598103934665603ull

typedef enum { CLG_ENTRY_ABSENT, CLG_ENTRY_VALID, CLG_ENTRY_DAMAGED } clg_entry_state;

/* Reads the entry at path; VALID gives its payload (free()). */
clg_entry_state clg_cache_entry_read(const char *path, const unsigned char *key, size_t key_len,
                                     unsigned char **payload, size_t *payload_len);
/* Writes an entry through a unique temporary file in the same folder
 * (mkstemp), flushed and synced before the rename; false when it could not. */
bool clg_cache_entry_write(const char *path, const unsigned char *key, size_t key_len, const unsigned char *payload,
                           size_t payload_len);
/* Marks an entry as just used, for the eviction order. */
void clg_cache_entry_touch(const char *path);
/* Removes the least recently used entries of folder dir until their total
 * is within CLGRAD_CACHE_MAX_MB (else the default), and temporary files
 * that a killed process left behind. */
void clg_cache_evict(const char *dir, uint64_t cap);
/* The cap in bytes from the setting cache_max_mb's text (NULL or malformed:
 * the default; a malformed value cannot be reported from where it is
 * used, so the default holds). */
uint64_t clg_cache_cap_bytes(const char *cache_max_mb);

#endif
