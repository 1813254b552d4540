// peak_rss CMD [ARGS...]: runs CMD as a forked child, then prints its peak resident memory as
// "peak_rss_kib N" on stderr and exits with its status. Tests measure memory through it because
// Linux carries a process's peak across exec: a child spawned straight from the test binary
// reports the test binary's own peak; a child forked from this small program reports its own.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: peak_rss CMD [ARGS...]\n");
    return 2;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execv(argv[1], argv + 1);
    ::_exit(127);
  }
  int status = 0;
  struct rusage usage{};
  if (pid < 0 || ::wait4(pid, &status, 0, &usage) != pid) return 126;
  std::fprintf(stderr, "peak_rss_kib %ld\n", usage.ru_maxrss);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
