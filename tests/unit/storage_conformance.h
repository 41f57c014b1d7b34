/*
 * storage_conformance.h - the contract every storage plugin must meet.
 *
 * storage_conformance_run() drives an instance through every operation of
 * berth_storage_ops and checks what the ABI promises: writes visible only at
 * commit and atomically, cancel leaving no object, append, bounded reads,
 * fd and stream reads from an offset, move, recursive remove, list, bad keys
 * refused with BERTH_E_INVALID, and concurrent writers of one key. It knows
 * nothing about how a driver stores bytes, so the filesystem driver and an
 * object-store driver run the same suite; checks only one driver can make
 * (files on disk, symlinks) belong in that driver's own test.
 *
 * The suite uses test.h's CHECK macros and is #included by a driver's
 * test_*.c, so its failures count in that program's totals.
 */
#ifndef BERTH_STORAGE_CONFORMANCE_H
#define BERTH_STORAGE_CONFORMANCE_H

#include "berth/plugin.h"

/*
 * Every key the suite writes starts with this prefix, which it removes
 * before and after running, so it can share a bucket or a root with other
 * data.
 */
#define STORAGE_CONFORMANCE_PREFIX "berth-conformance"

/*
 * Run the suite against a created instance of p (state from p->create).
 * Returns the number of failed checks.
 */
int storage_conformance_run(const berth_plugin *p, void *state);

#endif
