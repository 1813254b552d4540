#include "ssl/train/run_directory.h"
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include "engine/error.h"
#include "ssl/train/checkpoint.h"

namespace slimssl::train {
namespace fs = std::filesystem;

namespace {

std::string errno_text() { return std::strerror(errno); }

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "?";
  return buf;
}

std::string local_time(const char* format) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), format, &tm);
  return buf;
}

// Entries of `dir` other than the lock file, sorted.
std::vector<std::string> contents(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name != RunDirectory::kLockName) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// "a, b, c and 4 more": a directory listing short enough for one line.
std::string some_names(const std::vector<std::string>& names) {
  std::vector<std::string> shown(names.begin(), names.begin() + std::min<size_t>(names.size(), 4));
  std::string s = join_names(shown);
  if (names.size() > shown.size()) s += " and " + std::to_string(names.size() - shown.size()) + " more";
  return s;
}

// What the lock file says about its owner ("pid 123 on host h since ..."), for messages.
std::string recorded_owner(int fd) {
  char buf[512] = {};
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string s = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "an owner that recorded nothing yet" : s;
}

// Locks dir/kLockName. The lock file is removed on release, so a file taken between another
// run's open and its unlink is a dead inode: the path is checked to still name the locked file.
int take_lock(const std::string& dir) {
  const std::string path = (fs::path(dir) / RunDirectory::kLockName).string();
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      fail("run directory '", dir, "': cannot create its lock file (", errno_text(), "); the directory must be writable");
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      std::string owner = err == EWOULDBLOCK ? recorded_owner(fd) : "";
      ::close(fd);
      if (err == EWOULDBLOCK)
        fail("run directory '", dir, "' is in use by another slimssl train (", owner,
             "); wait for it to finish, stop it, or choose another --out");
      fail("run directory '", dir, "': cannot lock ", path, " (", std::strerror(err), ")");
    }
    struct stat held{}, named{};
    if (::fstat(fd, &held) == 0 && ::stat(path.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev) {
      std::string owner = "pid " + std::to_string(::getpid()) + " on host " + host_name() + " since " +
                          local_time("%Y-%m-%d %H:%M:%S") + "\n";
      if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, owner.data(), owner.size(), 0) != static_cast<ssize_t>(owner.size()))
        fail("run directory '", dir, "': cannot write its lock file ", path, " (", errno_text(), ")");
      return fd;
    }
    ::close(fd);  // the previous owner removed the file meanwhile: lock the new one
  }
  fail("run directory '", dir, "': could not take its lock file ", path, " (it keeps being replaced)");
}

// RUN_DIR.old-<time>, made unique with a counter.
std::string aside_name(const std::string& dir) {
  std::string base = fs::path(dir).lexically_normal().string();
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  base += ".old-" + local_time("%Y%m%d-%H%M%S");
  std::string name = base;
  for (int k = 2; fs::exists(name); ++k) name = base + "-" + std::to_string(k);
  return name;
}

// Creates, writes and removes a small file in `dir`: the only sure test that files can be made
// there (permissions say nothing for root, a full or read-only file system shows only on write).
void probe_write(const std::string& dir) {
  const std::string probe = (fs::path(dir) / (".write-probe." + std::to_string(::getpid()))).string();
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0;
  if (ok) {
    const char byte = 0;
    ok = ::write(fd, &byte, 1) == 1;
    const int err = errno;
    ::close(fd);
    ::unlink(probe.c_str());
    errno = err;
  }
  if (!ok) fail("'", dir, "' does not accept new files (", errno_text(), "); the run would fail at its first checkpoint");
}

bool process_alive(long pid) {
  if (pid <= 0 || pid > INT32_MAX) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// The writer's pid of a safetensors temporary "NAME.tmp.<pid>.<n>", or -1 for any other name.
long temporary_writer(const std::string& name) {
  size_t at = name.rfind(".tmp.");
  if (at == std::string::npos || at == 0) return -1;
  std::string rest = name.substr(at + 5);
  size_t dot = rest.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size() || dot > 9) return -1;
  for (size_t i = 0; i < rest.size(); ++i)
    if (i != dot && !std::isdigit(static_cast<unsigned char>(rest[i]))) return -1;
  return std::stol(rest.substr(0, dot));
}

}  // namespace

std::vector<std::string> remove_dead_temporaries(const std::string& dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return removed;
  for (auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    long pid = temporary_writer(name);
    if (pid < 0 || pid == ::getpid() || process_alive(pid) || !e.is_regular_file()) continue;
    if (fs::remove(e.path(), ec)) removed.push_back(name);
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

void check_room(const std::string& dir, int64_t bytes) {
  struct statvfs st{};
  if (::statvfs(dir.c_str(), &st) != 0) fail("'", dir, "': cannot read the free space (", errno_text(), ")");
  const long double free_bytes = static_cast<long double>(st.f_bavail) * st.f_frsize;
  if (free_bytes < static_cast<long double>(bytes))
    fail("'", dir, "' has ", static_cast<int64_t>(free_bytes / (1 << 20)), " MiB free but a checkpoint needs about ",
         bytes / (1 << 20), " MiB; free some space or choose another --out");
}

RunDirectory::RunDirectory(const std::string& dir, RunStart start, bool quiet) : dir_(dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    fail("run directory '", dir, "' cannot be created (", ec ? ec.message() : "a file of that name exists", ")");
  lock_fd_ = take_lock(dir);
  try {
    auto say = [&](const std::string& line) {
      if (!quiet) std::printf("%s\n", line.c_str());
    };
    if (start != RunStart::Fresh) {
      std::vector<std::string> removed = remove_dead_temporaries(dir);
      for (auto& name : remove_dead_temporaries(checkpoint_dir(dir))) removed.push_back("checkpoints/" + name);
      if (!removed.empty())
        say("removed " + std::to_string(removed.size()) + " checkpoint temporar" + (removed.size() > 1 ? "ies" : "y") +
            " left by a killed run: " + some_names(removed));
    }
    std::vector<std::string> old = contents(dir);
    if (start == RunStart::Fresh && !old.empty())
      fail("run directory '", dir, "' already holds a run (", some_names(old),
           "): continue it with --resume, or start over with --force (the old contents move to ", dir, ".old-<time>)");
    if (start == RunStart::Force && !old.empty()) {
      moved_to_ = aside_name(dir);
      fs::create_directories(moved_to_);
      for (auto& name : old) fs::rename(fs::path(dir) / name, fs::path(moved_to_) / name);
      say("--force: moved the previous contents of " + dir + " (" + some_names(old) + ") to " + moved_to_);
    }
  } catch (const fs::filesystem_error& e) {
    release();
    fail("run directory '", dir, "': ", e.what());
  } catch (...) {
    release();
    throw;
  }
}

RunDirectory::~RunDirectory() { release(); }

void RunDirectory::release() {
  if (lock_fd_ < 0) return;
  // Unlinked while still held, so a run that opened it meanwhile sees a dead inode and retries.
  ::unlink((fs::path(dir_) / kLockName).c_str());
  ::close(lock_fd_);
  lock_fd_ = -1;
}

void RunDirectory::check_writable(int64_t checkpoint_bytes) const {
  const std::string ckpt = checkpoint_dir(dir_);
  std::error_code ec;
  if (fs::exists(ckpt, ec) && !fs::is_directory(ckpt, ec))
    fail("'", ckpt, "' exists but is not a directory; the run could not save checkpoints");
  fs::create_directories(ckpt, ec);
  if (ec) fail("'", ckpt, "' cannot be created (", ec.message(), "); the run could not save checkpoints");
  probe_write(dir_);
  probe_write(ckpt);
  check_room(ckpt, checkpoint_bytes + (int64_t(1) << 20));  // + room for metrics and logs
}

}  // namespace slimssl::train
