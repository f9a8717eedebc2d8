/* Pieces of the kiln CLI shared by its files. */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Runs argv without a shell; returns the exit status (or -1). (main.c) */
int kiln_run_process(char *const argv[]);
/* The directory holding the running kiln executable (from /proc/self/exe). (main.c) */
bool kiln_exe_dir(char *buf, size_t size);

/* Stage times (-v) and a progress line on a terminal (progress.c): init once, a stage at each
 * step of the pipeline (nodes: the graph's node count, 0 if unknown), end after the last. */
void kiln_progress_init(bool verbose);
void kiln_progress_stage(const char *stage, int nodes);
void kiln_progress_node(int done, int total);
void kiln_progress_end(void);
/* CgOptions.progress: done 0 begins a stage of `total` nodes, else a node is done. */
void kiln_progress_codegen(const char *stage, int done, int total);

#endif
