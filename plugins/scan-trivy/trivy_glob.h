/*
 * trivy_glob.h - repository name patterns of scan policies.
 *
 *   *    any characters within one path segment (not '/')
 *   **   any characters across segments
 *   ?    one character other than '/'
 *
 * So "team/" followed by "**" matches team/a and team/a/b (not team
 * itself). A "**" that starts a segment and is followed by '/' stands for
 * zero or more whole segments: "**" then "/app" matches app, team/app and
 * a/b/app. (Written apart here only because a C comment cannot hold them.)
 *
 * Everything else matches itself. Matching is a dynamic program over the
 * name (at most 255 bytes), linear in pattern times name whatever the
 * number of stars.
 */
#ifndef TRIVY_GLOB_H
#define TRIVY_GLOB_H

#include <stddef.h>

/* Longest repository name (Distribution's limit). */
#define TRIVY_NAME_MAX 255

/* 1 when name matches pattern. */
int trivy_glob_match(const char *pattern, const char *name);
/* 0 when pattern is usable; -1 with the reason in why. */
int trivy_glob_check(const char *pattern, char *why, size_t cap);

#endif /* TRIVY_GLOB_H */
