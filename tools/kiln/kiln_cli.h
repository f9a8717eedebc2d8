/* Pieces of the kiln CLI shared by its files. */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Runs argv without a shell; returns the exit status (or -1). (main.c) */
int kiln_run_process(char *const argv[]);
/* The directory holding the running kiln executable (from /proc/self/exe). (main.c) */
bool kiln_exe_dir(char *buf, size_t size);

#endif
