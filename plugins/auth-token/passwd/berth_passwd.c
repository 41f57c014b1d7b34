/*
 * berth_passwd.c - `berth passwd`: add, update or remove a user of the
 * auth-token plugin's users file (lines name:hash:groups).
 *
 * `berth passwd ...` runs this program (berth-passwd, installed beside the
 * berth binary). The file is replaced atomically: the new content goes to
 * a temporary file in the same folder, is synced, and is renamed over the
 * old one, under a lock on the folder so two runs do not lose each
 * other's change. A running server picks the change up within a second.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "../auth_token.h"

#define PASSWORD_MAX 1024

static const char usage[] =
	"usage: berth passwd [options] USER\n"
	"\n"
	"Add USER to the users file of the auth-token plugin, or change its password\n"
	"or groups; with --delete, remove USER. The password is read from standard\n"
	"input when it is not a terminal (or with --stdin), else asked for twice\n"
	"without echo. A running server sees the change within a second.\n"
	"\n"
	"options:\n"
	"  -f, --file FILE     the users file (default: $BERTH_USERS_FILE, else ./users)\n"
	"      --bcrypt        hash with bcrypt, $2b$ (the default)\n"
	"      --sha512        hash with sha512-crypt, $6$\n"
	"      --cost N        bcrypt cost, 4 to 31 (default 10); sha512 rounds,\n"
	"                      1000 to 999999999 (default 5000)\n"
	"  -g, --groups LIST   comma-separated groups (default: keep the user's groups)\n"
	"  -d, --delete        remove USER\n"
	"      --stdin         read the password from standard input, one line\n"
	"      --print         print the hash instead of changing a file (for robots)\n"
	"  -h, --help          show this help\n";

struct options {
	const char *file;
	const char *user;
	const char *groups;
	const char *prefix;        /* "$2b$" or "$6$" */
	unsigned long cost;
	int delete_user;
	int from_stdin;
	int print_only;
};

BERTH_PRINTF(1, 2)
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "berth passwd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n\n%s", usage);
	return 2;
}

static int groups_ok(const char *groups)
{
	const char *p = groups;

	if (strlen(groups) >= BERTH_IDENTITY_GROUPS_MAX)
		return 0;
	while (*p) {
		char name[BERTH_IDENTITY_NAME_MAX];
		size_t len = strcspn(p, ",");
		if (len == 0 || len >= sizeof(name))
			return 0;
		memcpy(name, p, len);
		name[len] = '\0';
		if (!atok_account_name_valid(name))
			return 0;
		p += len + (p[len] == ',');
	}
	return 1;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	const char *env = getenv("BERTH_USERS_FILE");

	memset(o, 0, sizeof(*o));
	o->file = env && *env ? env : "users";
	o->prefix = "$2b$";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 1;
		} else if (strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0 ||
			   strcmp(a, "-g") == 0 || strcmp(a, "--groups") == 0 ||
			   strcmp(a, "--cost") == 0) {
			if (i + 1 >= argc)
				return usage_error("%s needs a value", a);
			if (a[1] == 'f' || strcmp(a, "--file") == 0) {
				o->file = argv[++i];
			} else if (a[1] == 'g' || strcmp(a, "--groups") == 0) {
				o->groups = argv[++i];
			} else {
				char *end;
				errno = 0;
				o->cost = strtoul(argv[++i], &end, 10);
				if (errno || *end || end == argv[i])
					return usage_error("--cost '%s' is not a number", argv[i]);
			}
		} else if (strcmp(a, "--bcrypt") == 0) {
			o->prefix = "$2b$";
		} else if (strcmp(a, "--sha512") == 0) {
			o->prefix = "$6$";
		} else if (strcmp(a, "-d") == 0 || strcmp(a, "--delete") == 0) {
			o->delete_user = 1;
		} else if (strcmp(a, "--stdin") == 0) {
			o->from_stdin = 1;
		} else if (strcmp(a, "--print") == 0) {
			o->print_only = 1;
		} else if (a[0] == '-' && a[1]) {
			return usage_error("unknown option '%s'", a);
		} else if (o->user) {
			return usage_error("one USER only ('%s' is one too many)", a);
		} else {
			o->user = a;
		}
	}
	if (!o->user)
		return usage_error("%s", "USER is missing");
	if (!atok_account_name_valid(o->user))
		return usage_error("invalid user name '%s' (letters, digits and ._@+$- only, at "
				   "most 127)", o->user);
	if (o->groups && !groups_ok(o->groups))
		return usage_error("invalid group list '%s'", o->groups);
	if (o->cost && strcmp(o->prefix, "$2b$") == 0 && (o->cost < 4 || o->cost > 31))
		return usage_error("%s", "--cost for bcrypt is 4 to 31");
	if (o->cost && strcmp(o->prefix, "$6$") == 0 && (o->cost < 1000 || o->cost > 999999999))
		return usage_error("%s", "--cost for sha512 is 1000 to 999999999");
	if (o->delete_user && o->print_only)
		return usage_error("%s", "--delete and --print do not go together");
	return 0;
}

/* One line from f without its line end; -1 at EOF or when too long. */
static int read_line(FILE *f, char *out, size_t cap)
{
	size_t n;

	if (!fgets(out, (int)cap, f))
		return -1;
	n = strlen(out);
	if (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	else if (!feof(f))
		return -1;
	if (n > 0 && out[n - 1] == '\r')
		out[--n] = '\0';
	return 0;
}

static int prompt(FILE *tty, const char *text, char *out, size_t cap)
{
	struct termios old, quiet;
	int rc, restore;

	/* Echo goes off before the prompt shows, so nothing typed after it is
	 * ever echoed; TCSANOW keeps what was typed ahead. */
	restore = tcgetattr(fileno(tty), &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSANOW, &quiet);
	}
	fputs(text, stderr);
	fflush(stderr);
	rc = read_line(tty, out, cap);
	if (restore)
		tcsetattr(fileno(tty), TCSANOW, &old);
	fputc('\n', stderr);
	return rc;
}

static int read_password(const struct options *o, char *out, size_t cap)
{
	char again[PASSWORD_MAX];
	FILE *tty;
	int rc;

	if (o->from_stdin || !isatty(STDIN_FILENO)) {
		if (read_line(stdin, out, cap) < 0) {
			fprintf(stderr, "berth passwd: no password on standard input (or longer "
					"than %d bytes)\n", PASSWORD_MAX - 1);
			return -1;
		}
	} else {
		tty = fopen("/dev/tty", "r+");
		if (!tty)
			tty = stdin;
		rc = prompt(tty, "Password: ", out, cap);
		if (rc == 0)
			rc = prompt(tty, "Password again: ", again, sizeof(again));
		if (tty != stdin)
			fclose(tty);
		if (rc == 0 && strcmp(out, again) != 0) {
			fprintf(stderr, "berth passwd: the passwords differ\n");
			rc = -1;
		}
		explicit_bzero(again, sizeof(again));
		if (rc < 0)
			return -1;
	}
	if (!out[0]) {
		fprintf(stderr, "berth passwd: the password is empty\n");
		return -1;
	}
	return 0;
}

static int make_hash(const struct options *o, const char *password, char *out, size_t cap)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data = calloc(1, sizeof(*data));
	const char *hash;
	unsigned long count = o->cost ? o->cost : strcmp(o->prefix, "$2b$") == 0 ? 10 : 5000;
	int rc = -1;

	if (!data)
		return -1;
	/* No random bytes given: libcrypt takes them from the kernel. */
	if (crypt_gensalt_rn(o->prefix, count, NULL, 0, salt, sizeof(salt))) {
		hash = crypt_rn(password, salt, data, (int)sizeof(*data));
		if (hash && hash[0] != '*' && strlen(hash) < cap) {
			memcpy(out, hash, strlen(hash) + 1);
			rc = 0;
		}
	}
	explicit_bzero(data, sizeof(*data));
	free(data);
	if (rc < 0)
		fprintf(stderr, "berth passwd: libcrypt cannot make a %s hash\n",
			strcmp(o->prefix, "$6$") == 0 ? "sha512-crypt" : "bcrypt");
	return rc;
}

/* The user's entry in line (after leading blanks): its groups, or NULL when not it. */
static const char *entry_groups(const char *line, const char *user)
{
	size_t n = strlen(user);

	while (*line == ' ' || *line == '\t')
		line++;
	if (strncmp(line, user, n) != 0 || line[n] != ':')
		return NULL;
	line = strchr(line + n + 1, ':');
	return line ? line + 1 : "";
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Copy the file into fd with USER's line replaced by one with the new hash
 * (or removed when hash is NULL); appended when absent. Other lines are
 * kept as they are. 1 when USER was there, 0 when not, -1 on failure.
 */
static int rewrite(FILE *in, int fd, const char *user, const char *hash, const char *groups)
{
	char *line = NULL, entry[2048];
	size_t cap = 0;
	ssize_t len;
	int found = 0, rc = 0;

	while (in && rc == 0 && (len = getline(&line, &cap, in)) >= 0) {
		char copy[4096];
		const char *old_groups;

		snprintf(copy, sizeof(copy), "%.*s", (int)(len > 0 && line[len - 1] == '\n' ? len - 1 : len), line);
		old_groups = found ? NULL : entry_groups(copy, user);
		if (!old_groups) {
			rc = write_all(fd, line, (size_t)len);
			if (rc == 0 && len > 0 && line[len - 1] != '\n')
				rc = write_all(fd, "\n", 1);
			continue;
		}
		found = 1;
		if (!hash)
			continue;
		snprintf(entry, sizeof(entry), "%s:%s:%s\n", user, hash, groups ? groups : old_groups);
		rc = write_all(fd, entry, strlen(entry));
	}
	free(line);
	if (rc == 0 && !found && hash) {
		snprintf(entry, sizeof(entry), "%s:%s:%s\n", user, hash, groups ? groups : "");
		rc = write_all(fd, entry, strlen(entry));
	}
	return rc < 0 ? -1 : found;
}

static int update_file(const struct options *o, const char *hash)
{
	char dir_buf[4096], tmp[4096] = "";
	const char *dir;
	struct stat st;
	FILE *in = NULL;
	int dfd = -1, fd = -1, found, rc = 1;
	mode_t mode = 0600;

	snprintf(dir_buf, sizeof(dir_buf), "%s", o->file);
	dir = dirname(dir_buf);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || flock(dfd, LOCK_EX) < 0) {
		fprintf(stderr, "berth passwd: cannot use folder '%s': %s\n", dir, strerror(errno));
		goto out;
	}
	in = fopen(o->file, "r");
	if (!in && errno != ENOENT) {
		fprintf(stderr, "berth passwd: cannot read '%s': %s\n", o->file, strerror(errno));
		goto out;
	}
	if (in && fstat(fileno(in), &st) == 0)
		mode = st.st_mode & 07777;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", o->file) >= sizeof(tmp) ||
	    (fd = mkstemp(tmp)) < 0) {
		fprintf(stderr, "berth passwd: cannot create a file beside '%s': %s\n", o->file,
			strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	found = rewrite(in, fd, o->user, hash, o->groups);
	if (found < 0 || fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		fprintf(stderr, "berth passwd: cannot write '%s': %s\n", tmp, strerror(errno));
		goto out;
	}
	if (!hash && !found) {
		fprintf(stderr, "berth passwd: no user '%s' in '%s'\n", o->user, o->file);
		goto out;
	}
	if (close(fd) < 0 || rename(tmp, o->file) < 0) {
		fd = -1;
		fprintf(stderr, "berth passwd: cannot replace '%s': %s\n", o->file, strerror(errno));
		goto out;
	}
	fd = -1;
	tmp[0] = '\0';
	fsync(dfd);
	printf("%s user '%s' in %s\n", !hash ? "removed" : found ? "updated" : "added", o->user,
	       o->file);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	if (in)
		fclose(in);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

int main(int argc, char **argv)
{
	char password[PASSWORD_MAX], hash[CRYPT_OUTPUT_SIZE];
	struct options o;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	if (o.delete_user)
		return update_file(&o, NULL);
	if (read_password(&o, password, sizeof(password)) < 0)
		return 1;
	rc = make_hash(&o, password, hash, sizeof(hash));
	explicit_bzero(password, sizeof(password));
	if (rc < 0)
		return 1;
	if (o.print_only) {
		printf("%s\n", hash);
		return 0;
	}
	return update_file(&o, hash);
}
