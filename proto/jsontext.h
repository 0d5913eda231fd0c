/*
 * jsontext.h -- work on the raw text of an already-validated JSON document.
 *
 * The broker forwards a publish message's "data" exactly as the publisher
 * wrote it, only with insignificant whitespace removed: numbers keep their
 * spelling (0.57 stays 0.57, where a parse/print round trip through
 * doubles would give 0.56999999999999995), key order is kept, and the
 * ingest path does not re-serialise anything.
 *
 * These functions assume TEXT is valid JSON (json_loadb accepted it);
 * on text that is not, they fail safely (-1) but never read out of bounds.
 */
#ifndef ZSSE_JSONTEXT_H
#define ZSSE_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Walk the top-level array in TEXT (LEN bytes): *POS is 0 before the
 * first call; each call sets *val / *vlen to the next element's raw text
 * and returns 0, returns 1 after the last one, -1 when TEXT is not an
 * array or is malformed. */
#define JSONTEXT_ARRAY_DONE ((size_t)-1)
int jsontext_array_next(const char *text, size_t len, size_t *pos,
    const char **val, size_t *vlen);

/* Where the first value of TEXT (LEN bytes, after any whitespace) ends:
 * the index just past it, or 0 when TEXT holds no complete value.  The
 * scan reads only the value's own bytes, so a value found whole here is
 * found the same inside an array (jsontext_array_next). */
size_t jsontext_value_end(const char *text, size_t len);

/* whether C is JSON whitespace (RFC 8259 section 2: space, tab, LF, CR) */
bool jsontext_is_ws(char c);

/* the value of hex digit C, or -1 */
int jsontext_hex_digit(char c);

/* Copy IN (valid JSON, LEN bytes) to OUT without whitespace outside
 * strings.  OUT must hold LEN bytes.  Returns the bytes written. */
size_t jsontext_compact(const char *in, size_t len, char *out);

#endif
