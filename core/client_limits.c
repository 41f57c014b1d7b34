/*
 * client_limits.c - per-address counts of uploads in flight.
 */
#include "client_limits.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 256

typedef struct entry {
	struct entry *next;
	unsigned count;
	char client[];
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *buckets[BUCKETS];

static entry **slot(const char *client)
{
	unsigned h = 5381;
	entry **pp;

	for (const unsigned char *p = (const unsigned char *)client; *p; p++)
		h = h * 33 + *p;
	for (pp = &buckets[h % BUCKETS]; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->client, client) == 0)
			break;
	return pp;
}

int client_uploads_enter(const char *client, unsigned max)
{
	entry **pp, *e;
	int rc = 0;

	if (!client)
		client = "";
	pthread_mutex_lock(&lock);
	pp = slot(client);
	e = *pp;
	if (e && max && e->count >= max) {
		rc = -1;
	} else if (e) {
		e->count++;
	} else if ((e = malloc(sizeof(*e) + strlen(client) + 1))) {
		e->next = NULL;
		e->count = 1;
		strcpy(e->client, client);
		*pp = e;
	}
	/* Out of memory: let the upload through rather than refuse everyone. */
	pthread_mutex_unlock(&lock);
	return rc;
}

void client_uploads_leave(const char *client)
{
	entry **pp, *e;

	if (!client)
		client = "";
	pthread_mutex_lock(&lock);
	pp = slot(client);
	e = *pp;
	if (e && --e->count == 0) {
		*pp = e->next;
		free(e);
	}
	pthread_mutex_unlock(&lock);
}
