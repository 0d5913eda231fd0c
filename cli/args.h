/*
 * args.h -- the numbers of the zsse command line, read strictly.
 *
 * Every option of zsse that takes a number reads it here, so that one rule
 * holds everywhere: decimal digits only (no sign, no spaces, no hex, no
 * exponent, no "inf"), within the bounds the option names.  A value that
 * breaks the rule is a usage error: the caller says so and exits
 * ARGS_EXIT_USAGE (doc/reference.md, EXIT STATUS).
 */
#ifndef ZSSE_ARGS_H
#define ZSSE_ARGS_H

#define ARGS_EXIT_USAGE 2           /* exit status of a usage error */

/* TEXT as a whole number from MIN to MAX into *OUT; 0, or -1 (and *OUT
 * untouched) when TEXT is not digits only or out of bounds */
int args_long(const char *text, long min, long max, long *out);

/* TEXT as seconds, digits with an optional fraction ("2", "0.5", "1.25"),
 * more than 0 and at most MAX, into *OUT; 0, or -1 (and *OUT untouched) */
int args_seconds(const char *text, double max, double *out);

#endif
