/*
 * upload_state.h - which request holds an upload, and its running sha256.
 *
 * Upload data lives in storage; this table only saves re-reading it. A
 * hash state is trusted only when its offset equals the size of the data in
 * storage, so an upload continued after a restart, on another node, or after
 * a failed write is simply hashed again from storage.
 *
 * One request at a time holds an upload, so two requests never interleave
 * bytes. A holder that has received nothing for UPLOAD_IDLE_TAKEOVER_MS (a
 * client that went away without the connection closing yet) can be taken
 * over by a new request; from then on every write of the old holder is
 * refused (upload_state_write_begin), so the two can never both append.
 */
#ifndef BERTH_UPLOAD_STATE_H
#define BERTH_UPLOAD_STATE_H

#include <stdint.h>

#include "digest.h"

#define UPLOAD_IDLE_TAKEOVER_MS 2000

typedef struct upload_claim {
	void *entry;
	uint64_t gen;
} upload_claim;

/*
 * Hold upload `uuid`. BERTH_E_AGAIN when an active request holds it;
 * BERTH_E_TOO_MANY when every slot is held. When this takes over an idle
 * holder, it returns only after that holder's last write is done, so the
 * size the caller reads from storage afterwards is final.
 */
int upload_state_acquire(const char *uuid, upload_claim *claim);
/* The held upload's hash state if it is at exactly `size` bytes, else NULL (rebuild it). */
digest_ctx *upload_state_hash(const upload_claim *claim, uint64_t size);
/* Bracket each write of upload data; begin fails with BERTH_E_AGAIN once the claim was taken over. */
int upload_state_write_begin(const upload_claim *claim);
void upload_state_write_end(const upload_claim *claim);
/*
 * The holder received bytes it has not written yet (they wait in an upload
 * pipe): it is alive. BERTH_E_AGAIN once the claim was taken over.
 */
int upload_state_touch(const upload_claim *claim);
/* Give the upload back with its hash state at `offset` (ctx NULL forgets it). Takes ctx. */
void upload_state_release(upload_claim *claim, digest_ctx *ctx, uint64_t offset);
/* Drop an upload's entry (finished or cancelled) when nobody holds it. */
void upload_state_forget(const char *uuid);

#endif
