/*
 * client_limits.h - how many uploads one client address has in flight.
 *
 * An upload request holds a worker and a storage writer for as long as its
 * body streams; a single client opening hundreds would starve everyone
 * else. The count is per address, kept in a small table of the addresses
 * that have uploads running (an address leaves when its count is 0).
 */
#ifndef BERTH_CLIENT_LIMITS_H
#define BERTH_CLIENT_LIMITS_H

/* 0 and counted, or -1 when the address already has `max` (0: no limit). */
int client_uploads_enter(const char *client, unsigned max);
void client_uploads_leave(const char *client);

#endif
