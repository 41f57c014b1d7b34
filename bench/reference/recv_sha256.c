/*
 * recv_sha256.c - what one loopback connection can carry while its bytes are
 * hashed, with nothing else in the way: the ceiling for a hash-bound push
 * on this machine, without HTTP and without storage.
 *
 * A child process sends FILE over TCP on 127.0.0.1 with sendfile(2) (a
 * client cheaper than curl); the parent receives it in 1 MiB reads and
 * updates one SHA-256, on one thread. Prints bytes per second and the
 * digest (so a caller can check that every byte arrived).
 *
 * usage: recv_sha256 FILE
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE (1024 * 1024)

static int send_file(const struct sockaddr_in *to, const char *path)
{
	struct stat st;
	off_t off = 0;
	int sock = -1, fd = -1, rc = 1;

	sock = socket(AF_INET, SOCK_STREAM, 0);
	fd = open(path, O_RDONLY);
	if (sock < 0 || fd < 0 || fstat(fd, &st) < 0 ||
	    connect(sock, (const struct sockaddr *)to, sizeof(*to)) < 0)
		goto out;
	while (off < st.st_size) {
		ssize_t n = sendfile(sock, fd, &off, (size_t)(st.st_size - off));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (sock >= 0)
		close(sock);
	return rc;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	socklen_t alen = sizeof(addr);
	struct timespec t0, t1;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx = NULL;
	char *buf = NULL;
	unsigned long long total = 0;
	int lsock = -1, conn = -1, status = 0, rc = 1;
	pid_t child;
	double secs;

	if (argc != 2) {
		fprintf(stderr, "usage: recv_sha256 FILE\n");
		return 2;
	}
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lsock = socket(AF_INET, SOCK_STREAM, 0);
	if (lsock < 0 || bind(lsock, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    getsockname(lsock, (struct sockaddr *)&addr, &alen) < 0 || listen(lsock, 1) < 0) {
		perror("recv_sha256: listen");
		goto out;
	}
	child = fork();
	if (child < 0) {
		perror("recv_sha256: fork");
		goto out;
	}
	if (child == 0)
		_exit(send_file(&addr, argv[1]));
	conn = accept(lsock, NULL, NULL);
	buf = malloc(READ_SIZE);
	ctx = EVP_MD_CTX_new();
	if (conn < 0 || !buf || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		fprintf(stderr, "recv_sha256: cannot set up\n");
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t n = recv(conn, buf, READ_SIZE, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("recv_sha256: recv");
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += (unsigned long long)n;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "recv_sha256: the sender failed\n");
		goto out;
	}
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%.0f sha256:", (double)total / secs);
	for (i = 0; i < mdlen; i++)
		printf("%02x", md[i]);
	printf("\n");
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	if (conn >= 0)
		close(conn);
	if (lsock >= 0)
		close(lsock);
	return rc;
}
