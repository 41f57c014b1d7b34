/*
 * prom_process.c - the process_* families every Prometheus client library
 * exposes, read from /proc/self (proc(5)): CPU time and start time from
 * stat, memory from status, descriptors from fd/ and limits.
 *
 * The parsers take the files' text so they can be tested on any text; a
 * file that is missing or does not parse leaves its families out of the
 * page rather than showing a wrong number.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prom.h"

/* /proc files are small; /proc/stat grows with CPUs, and only its btime line is wanted. */
#define PROC_FILE_MAX (1024 * 1024)

/* The next whitespace-separated field of *p as a non-negative number. */
static int next_number(const char **p, double *out)
{
	const char *s = *p;
	char *end;
	double v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -1;
	*out = v;
	*p = end;
	return 0;
}

static void skip_field(const char **p)
{
	const char *s = *p;

	while (*s == ' ' || *s == '\t')
		s++;
	while (*s && *s != ' ' && *s != '\t' && *s != '\n')
		s++;
	*p = s;
}

int prom_process_parse_stat(const char *text, double ticks_per_second, double boot_time,
			    struct prom_process *p)
{
	/*
	 * "pid (comm) state ppid ...": comm may hold spaces and ')', so the
	 * fields start after the last ')'. Counted from there (state is 0),
	 * utime is 11, stime 12, starttime 19, all in clock ticks.
	 */
	const char *s = strrchr(text, ')');
	double utime = 0, stime = 0, start = 0, v;
	int field;

	if (!s || ticks_per_second <= 0)
		return BERTH_E_INVALID;
	s++;
	for (field = 0; field <= 19; field++) {
		if (field != 11 && field != 12 && field != 19) {
			skip_field(&s);
			continue;
		}
		if (next_number(&s, &v) < 0)
			return BERTH_E_INVALID;
		if (field == 11)
			utime = v;
		else if (field == 12)
			stime = v;
		else
			start = v;
	}
	p->cpu_seconds = (utime + stime) / ticks_per_second;
	p->have |= PROM_PROC_CPU;
	if (boot_time > 0) {
		p->start_time = boot_time + start / ticks_per_second;
		p->have |= PROM_PROC_START;
	}
	return 0;
}

/* The number after "key" at the start of a line of text, or -1. */
static int line_number(const char *text, const char *key, double *out)
{
	size_t klen = strlen(key);
	const char *line = text;

	while (line && *line) {
		if (strncmp(line, key, klen) == 0) {
			const char *s = line + klen;

			return next_number(&s, out);
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

int prom_process_parse_status(const char *text, struct prom_process *p)
{
	double kib;
	int found = 0;

	/* "VmRSS:	    2060 kB": the kernel's kB are KiB. */
	if (line_number(text, "VmRSS:", &kib) == 0) {
		p->resident_bytes = kib * 1024;
		p->have |= PROM_PROC_RESIDENT;
		found = 1;
	}
	if (line_number(text, "VmSize:", &kib) == 0) {
		p->virtual_bytes = kib * 1024;
		p->have |= PROM_PROC_VIRTUAL;
		found = 1;
	}
	return found ? 0 : BERTH_E_INVALID;
}

int prom_process_parse_limits(const char *text, struct prom_process *p)
{
	double soft;

	/* "Max open files            20000                20000                files" */
	if (line_number(text, "Max open files", &soft) < 0)
		return BERTH_E_INVALID;
	p->max_fds = soft;
	p->have |= PROM_PROC_MAX_FDS;
	return 0;
}

double prom_process_parse_boot_time(const char *text)
{
	double v;

	return line_number(text, "btime", &v) == 0 ? v : 0;
}

/* A whole /proc file as a NUL-terminated string (malloc'd), or NULL. */
static char *read_proc(const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int fd = -1;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *p;

			if (cap >= PROC_FILE_MAX)
				break;
			p = realloc(buf, cap * 2);
			if (!p)
				goto fail;
			buf = p;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

static double ticks_per_second(void)
{
	long t = sysconf(_SC_CLK_TCK);

	return t > 0 ? (double)t : 100;
}

double prom_process_start_time(void)
{
	struct prom_process p = {0};
	char *stat = read_proc("/proc/stat");
	char *self = read_proc("/proc/self/stat");
	double boot = stat ? prom_process_parse_boot_time(stat) : 0;

	if (self && boot > 0)
		prom_process_parse_stat(self, ticks_per_second(), boot, &p);
	free(stat);
	free(self);
	return (p.have & PROM_PROC_START) ? p.start_time : 0;
}

/* Open descriptors, not counting the one that reads the directory. */
static int count_fds(double *out)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;
	int own;

	if (!d)
		return -1;
	own = dirfd(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (atoi(e->d_name) == own)
			continue;
		n++;
	}
	closedir(d);
	*out = (double)n;
	return 0;
}

void prom_process_read(struct prom_process *p, double start_time)
{
	char *text;

	memset(p, 0, sizeof(*p));
	text = read_proc("/proc/self/stat");
	if (text)
		prom_process_parse_stat(text, ticks_per_second(), 0, p);
	free(text);
	if (start_time > 0) {
		p->start_time = start_time;
		p->have |= PROM_PROC_START;
	}
	text = read_proc("/proc/self/status");
	if (text)
		prom_process_parse_status(text, p);
	free(text);
	text = read_proc("/proc/self/limits");
	if (text)
		prom_process_parse_limits(text, p);
	free(text);
	if (count_fds(&p->open_fds) == 0)
		p->have |= PROM_PROC_FDS;
}

void prom_process_format(struct prom_buf *b, const struct prom_process *p)
{
	if (p->have & PROM_PROC_CPU)
		prom_put_single(b, "process_cpu_seconds_total",
				"Total user and system CPU time spent in seconds.", "counter",
				p->cpu_seconds);
	if (p->have & PROM_PROC_RESIDENT)
		prom_put_single(b, "process_resident_memory_bytes",
				"Resident memory size in bytes.", "gauge", p->resident_bytes);
	if (p->have & PROM_PROC_VIRTUAL)
		prom_put_single(b, "process_virtual_memory_bytes",
				"Virtual memory size in bytes.", "gauge", p->virtual_bytes);
	if (p->have & PROM_PROC_FDS)
		prom_put_single(b, "process_open_fds", "Number of open file descriptors.", "gauge",
				p->open_fds);
	if (p->have & PROM_PROC_MAX_FDS)
		prom_put_single(b, "process_max_fds", "Maximum number of open file descriptors.",
				"gauge", p->max_fds);
	if (p->have & PROM_PROC_START)
		prom_put_single(b, "process_start_time_seconds",
				"Start time of the process since unix epoch in seconds.", "gauge",
				p->start_time);
}
