/*
 * args.c -- strict number options (args.h).
 */
#include <errno.h>
#include <stdlib.h>
#include "args.h"

/* digits, then (with FRACTION) at most one '.' and more digits; at least
 * one digit in all */
static int
args_digits(const char *s, int fraction)
{
    int digits = 0, dot = 0;

    for (; *s; s++) {
        if (*s >= '0' && *s <= '9')
            digits++;
        else if (*s == '.' && fraction && !dot)
            dot = 1;
        else
            return 0;
    }
    return digits > 0;
}

int
args_long(const char *text, long min, long max, long *out)
{
    char *end;
    long v;

    if (!text || !args_digits(text, 0))
        return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno == ERANGE || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int
args_seconds(const char *text, double max, double *out)
{
    char *end;
    double v;

    if (!text || !args_digits(text, 1))
        return -1;
    errno = 0;
    v = strtod(text, &end);
    if (errno == ERANGE || *end != '\0' || !(v > 0) || v > max)
        return -1;
    *out = v;
    return 0;
}
