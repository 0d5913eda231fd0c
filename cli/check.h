/*
 * check.h -- `zsse check-config`: is this config fit to start every
 * program with?  See check.c.
 */
#ifndef ZSSE_CHECK_H
#define ZSSE_CHECK_H

#include <stdio.h>

/* Check config FILE; print each problem as "FILE: PATH: problem" on ERR,
 * or "ok" on OUT when there is none.  Returns the number of problems. */
int check_config(const char *file, FILE *out, FILE *err);

#endif
