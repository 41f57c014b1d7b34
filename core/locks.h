/*
 * locks.h - per-repository locks for the short critical sections that
 * change a repository's manifests and tags (put, delete).
 *
 * Repositories hash onto a fixed set of mutexes, so unrelated repositories
 * rarely wait for each other and there is never one global lock. A lock is
 * only ever held within a single call into the core, never across pieces
 * of a request body.
 */
#ifndef BERTH_LOCKS_H
#define BERTH_LOCKS_H

void repo_lock(const char *name);
void repo_unlock(const char *name);

#endif
