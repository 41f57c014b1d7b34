/*
 * upload_state.h - the running sha256 of uploads in progress.
 *
 * Upload data lives in storage; this table only saves re-reading it. An
 * entry is trusted only when its offset equals the size of the data in
 * storage, so an upload continued after a restart, or on another node, or
 * after a failed write, is simply hashed again from storage.
 *
 * An entry is held by one request at a time: a second request on the same
 * upload while the first streams its body is refused rather than allowed
 * to interleave bytes.
 */
#ifndef BERTH_UPLOAD_STATE_H
#define BERTH_UPLOAD_STATE_H

#include <stdint.h>

#include "digest.h"

/*
 * Take the hash state of upload `uuid`, whose data in storage is `size`
 * bytes long. On success *ctx is a state at exactly `size` bytes, or NULL
 * when none is known (the caller rebuilds it). Returns BERTH_E_AGAIN when
 * another request holds the upload.
 */
int upload_state_acquire(const char *uuid, uint64_t size, digest_ctx **ctx);
/* Give the state back at `offset` bytes; ctx NULL forgets it. Takes ownership of ctx. */
void upload_state_release(const char *uuid, digest_ctx *ctx, uint64_t offset);
/* Drop an upload's entry (finished or cancelled); only when not held. */
void upload_state_forget(const char *uuid);

#endif
