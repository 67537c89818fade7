/*
 * number.h — JSON numbers to IEEE doubles for the numeric operators (see number.c).
 *
 * Private to the core.
 */
#ifndef SK_NUMBER_H
#define SK_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sidekick.h"

/* Parses text_len bytes at text (not NULL) as a JSON number, correctly rounded. Returns false,
 * leaving *out alone, for anything outside the grammar. Allocates nothing. */
bool sk_number_parse_text(const char *text, size_t text_len, double *out);

#endif /* SK_NUMBER_H */
